"""Which nudges the rows ask for: one job per weekly slot of each task."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Assignment, Patient, ScheduleChange, utcnow
from data.schedule_changes import clock_override
from scheduler import planner

# A one-off check-in this late is no longer "later today"; it is dropped.
ONCE_GRACE = dt.timedelta(hours=2)


@dataclass(frozen=True)
class WantedJob:
    id: str
    func: str
    args: tuple[int, ...]
    trigger: BaseTrigger


def wanted_jobs(*, session: Session) -> list[WantedJob]:
    """Nudges only for linked, consenting patients' active tasks."""
    rows = session.execute(
        select(Assignment, Patient)
        .join(Patient, Assignment.patient_id == Patient.id)
        .where(
            Assignment.active.is_(True),
            Patient.telegram_chat_id.is_not(None),
            Patient.consented_at.is_not(None),
            Patient.erased_at.is_(None),
        )
        .order_by(Assignment.id)
    )
    jobs = []
    for assignment, patient in rows:
        for i, trig in enumerate(_triggers(session, assignment, patient)):
            jobs.append(WantedJob(f"nudge:{assignment.id}:{i}", SEND_NUDGE, (assignment.id,), trig))
    # One-off check-ins the patient asked for ("later today, at 6").
    for change in session.scalars(
        select(ScheduleChange).where(
            ScheduleChange.kind == "once",
            ScheduleChange.applied_at.is_(None),
            ScheduleChange.at > utcnow() - ONCE_GRACE,
        )
    ):
        jobs.append(
            WantedJob(f"nudge-once:{change.id}", SEND_ONCE, (change.id,), DateTrigger(run_date=change.at))
        )
    return jobs


SEND_NUDGE = "scheduler.jobs:send_nudge"
SEND_ONCE = "scheduler.jobs:send_once"


def _triggers(session: Session, assignment: Assignment, patient: Patient) -> list[CronTrigger]:
    clock = clock_override(session=session, assignment_id=assignment.id, patient_id=patient.id)
    found = planner.with_clock(planner.slots(assignment.schedule, patient.routine), clock)
    return [planner.trigger(slot, patient.timezone, assignment.start, assignment.end) for slot in found]


def upcoming_for(
    *, session: Session, patient_id: str | None, after: dt.datetime, limit: int
) -> list[tuple[dt.datetime, Assignment, Patient]]:
    """Upcoming nudges as the plan stands (linked or not), for `coach nudges`."""
    query = (
        select(Assignment, Patient)
        .join(Patient, Assignment.patient_id == Patient.id)
        .where(Assignment.active.is_(True), Patient.erased_at.is_(None))
    )
    if patient_id:
        query = query.where(Patient.id == patient_id)
    out = []
    for assignment, patient in session.execute(query):
        triggers = _triggers(session, assignment, patient)
        out += [(t, assignment, patient) for t in planner.upcoming(triggers, after, limit)]
    out.sort(key=lambda item: item[0])
    return out[:limit]
