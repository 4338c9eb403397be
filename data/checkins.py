"""Check-ins: how a task went, written once however often a message is retried."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data import nudge_log
from data.db import insert_once
from data.models import Assignment, CheckIn, Patient, utcnow

STATUSES = ("done", "partial", "not_done", "skipped", "no_response")


def pick_task(tasks: list[Assignment], text: str | None, task_id: str | None) -> Assignment | None:
    """The task a message is about: named by id, by words of its title, or the only one."""
    if task_id:
        for task in tasks:
            if task.task_id == task_id:
                return task
        return None
    if text:
        words = set(re.findall(r"[a-z]+", text.lower()))
        scored = [(len(words & set(re.findall(r"[a-z]+", t.title.lower()))), t) for t in tasks]
        scored = [s for s in scored if s[0] > 0]
        if scored:
            scored.sort(key=lambda s: -s[0])
            if len(scored) == 1 or scored[0][0] > scored[1][0]:
                return scored[0][1]
    return tasks[0] if len(tasks) == 1 else None


def record_checkin(
    *,
    session: Session,
    assignment_id: int,
    status: str,
    dedupe_key: str,
    due_at: dt.datetime | None = None,
) -> tuple[CheckIn, bool]:
    """Insert the check-in unless this key was seen; returns (row, created).

    `due_at`, when not given, is the planned time of the nudge this answers (one sent
    within the answer window and not yet answered by a check-in), else None: the report
    matches each check-in to the planned occurrence it answers by it.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    now = utcnow()
    if due_at is None:
        due_at = nudge_log.nudge_being_answered(session=session, assignment_id=assignment_id, now=now)
    values = {
        "assignment_id": assignment_id,
        "status": status,
        "dedupe_key": dedupe_key,
        "due_at": due_at,
        "reported_at": now,
        "reflection_shared": False,
    }
    row, created = insert_once(session, CheckIn, values, "dedupe_key")
    return row, created


def update_details(
    *,
    session: Session,
    checkin_id: int,
    patient_id: str,
    helpfulness: int | None,
    difficulty: int | None,
    reflection: str | None,
    reflection_shared: bool,
) -> bool:
    """Rate and annotate one of this patient's own check-ins; False (nothing changed) for
    an id that isn't theirs: the id comes from the conversation, which anyone can post to."""
    row = session.get(CheckIn, checkin_id)
    if row is None:
        return False
    owner = session.get(Assignment, row.assignment_id)
    if owner is None or owner.patient_id != patient_id:
        return False
    row.helpfulness = helpfulness
    row.difficulty = difficulty
    row.reflection = reflection or None
    row.reflection_shared = bool(reflection) and reflection_shared
    return True


def week_progress(*, session: Session, assignment: Assignment, now: dt.datetime) -> tuple[int, int | None]:
    """(done this week, planned this week) in the patient's own week, Monday first."""
    patient = session.get(Patient, assignment.patient_id)
    tz = ZoneInfo(patient.timezone if patient else "UTC")
    local = now.astimezone(tz)
    monday = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time(), tzinfo=tz)
    done = session.scalar(
        select(func.count(CheckIn.id)).where(
            CheckIn.assignment_id == assignment.id,
            CheckIn.status == "done",
            CheckIn.reported_at >= monday,
        )
    )
    schedule = assignment.schedule or {}
    planned = len(schedule["days"]) if schedule.get("days") else schedule.get("times_per_week")
    return int(done or 0), planned


def done_since(*, session: Session, assignment_id: int, since: dt.datetime) -> bool:
    """Whether the task was reported done at or after `since`."""
    found = session.scalar(
        select(CheckIn.id)
        .where(CheckIn.assignment_id == assignment_id, CheckIn.status == "done", CheckIn.reported_at >= since)
        .limit(1)
    )
    return found is not None
