"""Looking patients and their tasks up, by the ids each process knows them by."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Assignment, Clinic, Patient, utcnow


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
