"""A patient's right to be forgotten: everything they told us, gone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, MetaData, String, Table, delete, inspect, select, update
from sqlalchemy.orm import Session

from data import chat_messages, pending_erasures
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
    UnreachablePeriod,
    Worksheet,
    utcnow,
)

# APScheduler's table: jobs are named after our rows (scheduler/nudges.py, service.py).
_jobs = Table("apscheduler_jobs", MetaData(), Column("id", String(191)))


def _erase_jobs(
    session: Session, assignment_ids: list[int], change_ids: list[int], log_ids: list[int]
) -> None:
    """The patient's scheduled jobs go now, not at the scheduler's next reconcile."""
    if not inspect(session.connection()).has_table("apscheduler_jobs"):
        return
    ids = [f"nudge:{a}:{i}" for a in assignment_ids for i in range(2)]
    ids += [f"nudge-once:{c}" for c in change_ids] + [f"follow:{n}" for n in log_ids]
    if ids:
        session.execute(delete(_jobs).where(_jobs.c.id.in_(ids)))


@dataclass(frozen=True)
class Erased:
    old_sender: str
    # The chat and the messages in it Telegram still lets the bot delete (48 hours).
    chat_id: int | None
    message_ids: list[int]
    # What is left to clear outside our database, written down in this same transaction.
    pending: pending_erasures.Pending


def erase_patient(*, session: Session, patient_id: str, therapist_told: bool = False) -> Erased | None:
    """Erase the patient's data and unlink them; says what is left to clear elsewhere, and
    writes it down in the same transaction (data/pending_erasures.py) so it gets done.

    `therapist_told`: the therapist knows already (a discharge the clinic made), so no
    "your patient left" message follows.

    The patient row itself stays (the therapist's plan refers to it) with no
    Telegram link, a fresh sender id and `erased_at` set, so the report can say
    the patient left. Assignments stay: they are the therapist's, not the patient's.
    """
    patient = session.get(Patient, patient_id)
    if patient is None:
        return None
    assignment_ids = select(Assignment.id).where(Assignment.patient_id == patient_id)
    _erase_jobs(
        session,
        list(session.scalars(assignment_ids)),
        list(session.scalars(select(ScheduleChange.id).where(ScheduleChange.patient_id == patient_id))),
        list(session.scalars(select(NudgeLog.id).where(NudgeLog.assignment_id.in_(assignment_ids)))),
    )
    # What the patient said about their tasks goes too; the tasks themselves are the therapist's.
    session.execute(
        update(Assignment)
        .where(Assignment.patient_id == patient_id)
        .values(expected_helpfulness=None, rationale_shown_at=None, backed_off_at=None, reduced_at=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Worksheet).where(Worksheet.patient_id == patient_id))
    session.execute(delete(ScheduleChange).where(ScheduleChange.patient_id == patient_id))
    session.execute(delete(CheckIn).where(CheckIn.assignment_id.in_(assignment_ids)))
    session.execute(delete(NudgeLog).where(NudgeLog.assignment_id.in_(assignment_ids)))
    session.execute(delete(Barrier).where(Barrier.patient_id == patient_id))
    session.execute(delete(SafetyEvent).where(SafetyEvent.patient_id == patient_id))
    session.execute(delete(Invite).where(Invite.patient_id == patient_id))
    session.execute(delete(UnreachablePeriod).where(UnreachablePeriod.patient_id == patient_id))
    messages = chat_messages.deletable(session=session, patient_id=patient_id)
    erased = Erased(
        old_sender=patient.sender_id,
        chat_id=patient.telegram_chat_id,
        message_ids=[m for m, _ in messages],
        pending=pending_erasures.record(
            session=session, sender_id=patient.sender_id, chat_id=patient.telegram_chat_id, messages=messages
        ),
    )
    chat_messages.forget(session=session, patient_id=patient_id)
    patient.sender_id = new_sender_id()
    patient.telegram_user_id = None
    patient.telegram_chat_id = None
    patient.linked_at = None
    patient.consented_at = None
    patient.unreachable_at = None
    patient.silent_nudges = False
    patient.erased_at = utcnow()
    # The therapist hears of a /forget (scheduler/service.py), not of their own discharge.
    patient.left_notified_at = utcnow() if therapist_told else None
    return erased
