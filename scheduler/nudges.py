"""Which nudges the rows ask for: one job per weekly slot of each task."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.orm import Session

from data import nudge_log, nudge_targets, planner
from data.models import Assignment, Patient, utcnow
from data.schedule_changes import clock_override, once_pending, pause_windows
from scheduler.triggers import NudgeTrigger

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
    jobs = []
    for assignment, patient in nudge_targets.reachable_tasks(session=session):
        for i, trig in enumerate(_triggers(session, assignment, patient)):
            jobs.append(WantedJob(f"nudge:{assignment.id}:{i}", SEND_NUDGE, (assignment.id,), trig))
    # One-off check-ins the patient asked for ("later today, at 6").
    for change in once_pending(session=session, since=utcnow() - ONCE_GRACE):
        jobs.append(
            WantedJob(f"nudge-once:{change.id}", SEND_ONCE, (change.id,), DateTrigger(run_date=change.at))
        )
    return jobs


SEND_NUDGE = "scheduler.jobs:send_nudge"


SEND_ONCE = "scheduler.jobs:send_once"


def plan_for(session: Session, assignment: Assignment, patient: Patient) -> planner.Plan:
    """The task's nudge plan as the rows stand: routine, pauses, the patient's own time, back-off."""
    return planner.make_plan(
        routine=patient.routine or {},
        timezone=patient.timezone,
        schedule=assignment.schedule or {},
        pauses=pause_windows(session=session, patient_id=patient.id),
        start=assignment.start,
        end=assignment.end,
        clock=clock_override(session=session, assignment_id=assignment.id, patient_id=patient.id),
        frequency=_frequency(session, assignment),
    )


def _triggers(session: Session, assignment: Assignment, patient: Patient) -> list[BaseTrigger]:
    """One trigger per task, holding all its weekly slots (so job ids are `nudge:<id>:0`)."""
    plan = plan_for(session, assignment, patient)
    return [NudgeTrigger.from_plan(plan)] if plan.slots else []


def due_since(*, session: Session, since: dt.datetime, now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """Planned nudges in [since, now] for patients nudges can reach: (assignment id, instant).

    A scheduler taking over sends these (the nudge log drops any already sent):
    APScheduler moves a job to its next run when it fires, so a nudge that fired
    just before a crash and was never claimed would otherwise be lost.
    """
    out = []
    for assignment, patient in nudge_targets.reachable_tasks(session=session):
        plan = plan_for(session, assignment, patient)
        out += [(assignment.id, at) for at in planner.instants(plan, since, now + dt.timedelta(seconds=1))]
    return sorted(out, key=lambda item: item[1])


def planned_instant(
    session: Session, assignment: Assignment, patient: Patient, now: dt.datetime
) -> dt.datetime:
    """The planned time a firing belongs to: the latest planned instant within the last hour
    (a job may start late under load), else the current minute."""
    found = planner.instants(plan_for(session, assignment, patient), now - dt.timedelta(hours=1), now)
    return found[-1] if found else now.replace(second=0, microsecond=0)


def _frequency(session: Session, assignment: Assignment) -> float:
    """Half as many nudges after three went unanswered (jobs._claim sets reduced_at), or
    after pushback on the task until the patient checks in on it again."""
    if assignment.reduced_at is not None:
        return 0.5
    if assignment.backed_off_at is not None and not nudge_log.checked_in_since(
        session=session, assignment_id=assignment.id, since=assignment.backed_off_at
    ):
        return 0.5
    return 1.0


def upcoming_for(
    *, session: Session, patient_id: str | None, after: dt.datetime, limit: int
) -> list[tuple[dt.datetime, Assignment, Patient]]:
    """Upcoming nudges as the plan stands (linked or not), for `coach nudges`."""
    out = []
    for assignment, patient in nudge_targets.planned_tasks(session=session, patient_id=patient_id):
        triggers = _triggers(session, assignment, patient)
        out += [(t, assignment, patient) for t in planner.upcoming(triggers, after, limit)]
    out.sort(key=lambda item: item[0])
    return out[:limit]
