"""Whose tasks a nudge may reach, written once as a query.

A nudge goes only to a linked, consenting patient who is still in care (not
erased, not discharged) and has not blocked the bot, about an active task. The
scheduler asks this both when it plans jobs and when one fires, so a patient who
changed in between is caught at the last moment.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from data.models import Assignment, NudgeLog, Patient


def _reachable() -> Select[tuple[Assignment, Patient]]:
    return (
        select(Assignment, Patient)
        .join(Patient, Assignment.patient_id == Patient.id)
        .where(
            Assignment.active.is_(True),
            Patient.telegram_chat_id.is_not(None),
            Patient.consented_at.is_not(None),
            Patient.erased_at.is_(None),
            Patient.discharged_at.is_(None),  # the clinic closed the plan
            # Blocked the bot: nothing reaches them until they write again.
            Patient.unreachable_at.is_(None),
        )
    )


def reachable_tasks(*, session: Session, to_introduce: bool = False) -> list[tuple[Assignment, Patient]]:
    """Every active task a nudge may reach, with its patient, in task order; with
    `to_introduce`, only those not yet brought to them (new or changed: data/assigning.py)."""
    query = _reachable()
    if to_introduce:
        query = query.where(Assignment.introduced_at.is_(None))
    return [(a, p) for a, p in session.execute(query.order_by(Assignment.id))]


def reachable_task(*, session: Session, assignment_id: int) -> tuple[Assignment, Patient] | None:
    """The task and its patient if a nudge may reach them now, else None."""
    row = session.execute(_reachable().where(Assignment.id == assignment_id)).first()
    return (row[0], row[1]) if row is not None else None


def task_of_nudge(*, session: Session, log_id: int) -> tuple[NudgeLog, Assignment, Patient] | None:
    """A nudge log row with its task and patient, whether or not a nudge may reach them now."""
    row = session.execute(
        select(NudgeLog, Assignment, Patient)
        .join(Assignment, NudgeLog.assignment_id == Assignment.id)
        .join(Patient, Assignment.patient_id == Patient.id)
        .where(NudgeLog.id == log_id)
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


def planned_tasks(*, session: Session, patient_id: str | None = None) -> list[tuple[Assignment, Patient]]:
    """Active tasks of patients still in care, linked or not (what `coach nudges` shows)."""
    query = (
        select(Assignment, Patient)
        .join(Patient, Assignment.patient_id == Patient.id)
        .where(Assignment.active.is_(True), Patient.erased_at.is_(None), Patient.discharged_at.is_(None))
    )
    if patient_id:
        query = query.where(Patient.id == patient_id)
    return [(a, p) for a, p in session.execute(query)]
