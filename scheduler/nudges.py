"""Which nudges the rows ask for: one job per weekly slot of each task."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Assignment, Patient
from scheduler import planner


@dataclass(frozen=True)
class WantedJob:
    id: str
    assignment_id: int
    patient_id: str
    trigger: CronTrigger


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
        for i, trig in enumerate(_triggers(assignment, patient)):
            jobs.append(WantedJob(f"nudge:{assignment.id}:{i}", assignment.id, patient.id, trig))
    return jobs


def _triggers(assignment: Assignment, patient: Patient) -> list[CronTrigger]:
    return [
        planner.trigger(slot, patient.timezone, assignment.start, assignment.end)
        for slot in planner.slots(assignment.schedule, patient.routine)
    ]


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
        triggers = _triggers(assignment, patient)
        out += [(t, assignment, patient) for t in planner.upcoming(triggers, after, limit)]
    out.sort(key=lambda item: item[0])
    return out[:limit]
