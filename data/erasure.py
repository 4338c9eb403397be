"""A patient's right to be forgotten: everything they told us, gone."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data.care_plans import new_sender_id
from data.models import (
    Assignment,
    Barrier,
    CheckIn,
    Invite,
    NudgeLog,
    Patient,
    SafetyEvent,
    ScheduleChange,
    Worksheet,
    utcnow,
)


def erase_patient(*, session: Session, patient_id: str) -> str | None:
    """Erase the patient's data and unlink them; returns the old sender id.

    The patient row itself stays (the therapist's plan refers to it) with no
    Telegram link, a fresh sender id and `erased_at` set, so the report can say
    the patient left. Assignments stay: they are the therapist's, not the patient's.
    """
    patient = session.get(Patient, patient_id)
    if patient is None:
        return None
    assignment_ids = select(Assignment.id).where(Assignment.patient_id == patient_id)
    session.execute(delete(Worksheet).where(Worksheet.patient_id == patient_id))
    session.execute(delete(ScheduleChange).where(ScheduleChange.patient_id == patient_id))
    session.execute(delete(CheckIn).where(CheckIn.assignment_id.in_(assignment_ids)))
    session.execute(delete(NudgeLog).where(NudgeLog.assignment_id.in_(assignment_ids)))
    session.execute(delete(Barrier).where(Barrier.patient_id == patient_id))
    session.execute(delete(SafetyEvent).where(SafetyEvent.patient_id == patient_id))
    session.execute(delete(Invite).where(Invite.patient_id == patient_id))
    old_sender = patient.sender_id
    patient.sender_id = new_sender_id()
    patient.telegram_user_id = None
    patient.telegram_chat_id = None
    patient.linked_at = None
    patient.consented_at = None
    patient.erased_at = utcnow()
    return old_sender
