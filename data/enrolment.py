"""A patient enrolled by their therapist from Telegram: a row and an invite, no plan file."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from data import audit, invites
from data.care_plans import new_sender_id
from data.models import Patient, Therapist

# No 0/O or 1/I, as in invite codes: ids get read aloud and typed.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_patient_id(session: Session) -> str:
    while True:
        candidate = "p-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))
        if session.get(Patient, candidate) is None:
            return candidate


def enrol(
    *, session: Session, therapist_id: str, display_name: str, timezone: str | None, invite_ttl_days: int
) -> tuple[Patient, str]:
    """The new patient and their plain invite code (shown once; only its hash is kept).

    The routine is left empty: the patient gives it in the chat when they join, and until
    then nudges fall back to the task's own times.
    """
    therapist = session.get(Therapist, therapist_id)
    if therapist is None:
        raise LookupError(f"no therapist {therapist_id}")
    patient = Patient(
        id=new_patient_id(session),
        therapist_id=therapist.id,
        display_name=display_name,
        timezone=timezone or therapist.clinic.timezone,
        sender_id=new_sender_id(),
        routine={},
    )
    session.add(patient)
    session.flush()
    code = invites.issue_invite(session=session, patient_id=patient.id, ttl_days=invite_ttl_days)
    audit.record(
        session=session, actor=audit.therapist_actor(therapist.id), action="invite", patient_id=patient.id
    )
    return patient, code
