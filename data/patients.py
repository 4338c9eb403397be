"""Looking patients and their tasks up, by the ids each process knows them by."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data import unreachable
from data.db import rowcount
from data.models import Assignment, Clinic, Patient, utcnow


def by_id(*, session: Session, patient_id: str) -> Patient | None:
    """The patient with this id, erased or not (the caller decides what an erased one means)."""
    return session.get(Patient, patient_id)


def one(*, session: Session, patient_id: str) -> Patient:
    """The patient with this id, who must exist (a linked patient the caller already found)."""
    return session.get_one(Patient, patient_id)


def set_silent_nudges(*, session: Session, patient_id: str, silent: bool) -> None:
    one(session=session, patient_id=patient_id).silent_nudges = silent


def mark_reachable(*, session: Session, patient_id: str) -> None:
    """They wrote, so they have not blocked the bot (any more): nudges may reach them, and
    the period they were unreachable ends."""
    unreachable.mark_reachable(session=session, patient_id=patient_id)


def by_telegram_user(*, session: Session, telegram_user_id: int) -> Patient | None:
    return session.scalar(
        select(Patient).where(Patient.telegram_user_id == telegram_user_id, Patient.erased_at.is_(None))
    )


def by_sender(*, session: Session, sender_id: str) -> Patient | None:
    return session.scalar(select(Patient).where(Patient.sender_id == sender_id, Patient.erased_at.is_(None)))


def active_tasks(*, session: Session, patient_id: str) -> list[Assignment]:
    return list(
        session.scalars(
            select(Assignment)
            .where(Assignment.patient_id == patient_id, Assignment.active.is_(True))
            .order_by(Assignment.id)
        )
    )


def clinic_of(*, session: Session, patient: Patient) -> Clinic:
    return patient.therapist.clinic


@dataclass(frozen=True)
class CrisisHelp:
    resources: list[str]
    safety_plan: list[str]


def crisis_help(*, session: Session, patient_id: str) -> CrisisHelp:
    """What a patient in crisis is shown: their clinic's crisis resources and their safety plan."""
    row = session.get(Patient, patient_id)
    if row is None:
        return CrisisHelp([], [])
    return CrisisHelp(
        list(clinic_of(session=session, patient=row).crisis_resources), list(row.safety_plan or [])
    )


def all_crisis_resources(*, session: Session) -> list[str]:
    """Every clinic's crisis resources, once each: for someone we can't place in a clinic."""
    seen: dict[str, None] = {}
    for clinic in session.scalars(select(Clinic).order_by(Clinic.id)):
        seen.update(dict.fromkeys(clinic.crisis_resources or []))
    return list(seen)


def record_consent(*, session: Session, patient_id: str) -> None:
    patient = session.get(Patient, patient_id)
    if patient is not None and patient.consented_at is None:
        patient.consented_at = utcnow()


def goodbyes_due(*, session: Session) -> list[tuple[str, int, dt.datetime, str]]:
    """Discharged patients still linked who haven't had their goodbye:
    (patient id, chat id, discharged at, timezone)."""
    rows = session.execute(
        select(Patient.id, Patient.telegram_chat_id, Patient.discharged_at, Patient.timezone).where(
            Patient.discharged_at.is_not(None),
            Patient.goodbye_sent_at.is_(None),
            Patient.erased_at.is_(None),
            Patient.telegram_chat_id.is_not(None),
            Patient.consented_at.is_not(None),
        )
    )
    return [tuple(row) for row in rows]


def claim_goodbye(*, session: Session, patient_id: str, claim: bool = True) -> bool:
    """Mark the goodbye said (before sending, so two schedulers never both say it), or
    unmark it after a failed send."""
    return claim_stamp(session=session, patient_id=patient_id, column="goodbye_sent_at", claim=claim)


def claim_stamp(*, session: Session, patient_id: str, column: str, claim: bool = True) -> bool:
    """Set a patient's one-off timestamp if unset (True when this call set it), or clear it
    again after a failed send: the claim that lets a message go once."""
    stamp = getattr(Patient, column)
    condition = stamp.is_(None) if claim else stamp.is_not(None)
    return (
        rowcount(
            session.execute(
                update(Patient)
                .where(Patient.id == patient_id, condition)
                .values({column: utcnow() if claim else None})
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def update_routine(*, session: Session, patient_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Set some of the patient's routine (as the patient gave it in the chat); the new routine."""
    patient = one(session=session, patient_id=patient_id)
    patient.routine = {**(patient.routine or {}), **values}  # a new dict: JSON columns track assignment
    return dict(patient.routine)


# What a routine holds once the patient has given it; a patient who joined from a
# therapist's /invite is asked for these in this order (bot/routine_setup.py).
ROUTINE_STEPS = ("wake", "sleep", "preferred_times")


def routine_missing(routine: dict[str, Any] | None) -> str | None:
    """The first of the routine's parts still to ask; None once it is complete."""
    return next((step for step in ROUTINE_STEPS if step not in (routine or {})), None)
