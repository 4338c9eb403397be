"""What a therapist's desk in Telegram reads and writes: their own patients only.

Every lookup here takes the therapist's id and finds nothing outside their caseload, so
a forged button or another therapist's patient id comes back as None, never as a row.
Buttons carry an opaque token per (therapist, patient), not the clinic's patient id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data.models import DeskStep, Patient, SessionMark, utcnow

# A half-finished /invite or /assign is forgotten after a day: the therapist starts again.
STEP_LIFETIME = dt.timedelta(hours=24)


def own_patients(*, session: Session, therapist_id: str) -> list[Patient]:
    """Their patients still in Bridgework (erased ones are gone), by name."""
    return list(
        session.scalars(
            select(Patient)
            .where(Patient.therapist_id == therapist_id, Patient.erased_at.is_(None))
            .order_by(Patient.display_name, Patient.id)
        )
    )


def token(therapist_id: str, patient_id: str) -> str:
    """What a button carries for a patient: meaningless outside this therapist's desk."""
    return hashlib.sha256(f"{therapist_id}\x00{patient_id}".encode()).hexdigest()[:12]


def by_token(*, session: Session, therapist_id: str, value: str) -> Patient | None:
    return next(
        (
            p
            for p in own_patients(session=session, therapist_id=therapist_id)
            if token(therapist_id, p.id) == value
        ),
        None,
    )


def matching(*, session: Session, therapist_id: str, words: str) -> list[Patient]:
    """Their patients whose id or display name is `words` (any case); several when names repeat."""
    wanted = " ".join(words.split()).casefold()
    if not wanted:
        return []
    found = own_patients(session=session, therapist_id=therapist_id)
    exact = [p for p in found if p.id.casefold() == wanted]
    return exact or [p for p in found if p.display_name.casefold() == wanted]


def mark_session(*, session: Session, therapist_id: str, patient_id: str, held_at: dt.datetime) -> None:
    session.add(SessionMark(patient_id=patient_id, therapist_id=therapist_id, held_at=held_at))


def last_session(
    *, session: Session, patient_id: str, before: dt.datetime | None = None
) -> dt.datetime | None:
    query = select(SessionMark.held_at).where(SessionMark.patient_id == patient_id)
    if before is not None:
        query = query.where(SessionMark.held_at <= before)
    return session.scalar(query.order_by(SessionMark.held_at.desc()).limit(1))


def step(*, session: Session, therapist_id: str) -> DeskStep | None:
    """The multi-step command the therapist is in, if one is under way and not stale."""
    row = session.get(DeskStep, therapist_id)
    if row is not None and row.updated_at < utcnow() - STEP_LIFETIME:
        session.delete(row)
        return None
    return row


def set_step(*, session: Session, therapist_id: str, flow: str, answers: dict[str, Any]) -> None:
    row = session.get(DeskStep, therapist_id)
    if row is None:
        session.add(
            DeskStep(therapist_id=therapist_id, flow=flow, answers=dict(answers), updated_at=utcnow())
        )
    else:
        row.flow, row.answers, row.updated_at = flow, dict(answers), utcnow()


def clear_step(*, session: Session, therapist_id: str) -> None:
    session.execute(delete(DeskStep).where(DeskStep.therapist_id == therapist_id))
