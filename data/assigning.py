"""A task set by the therapist in Telegram: the row, its history and the audit, together."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from data import audit, task_changes, tasks
from data.models import Assignment, Patient, utcnow

FIELDS = ("template", "title", "rationale", "instructions", "minutes", "schedule")


def _task_id(session: Session, patient_id: str, title: str) -> str:
    """A readable id from the title, unique among the patient's tasks: "thought-record-2"."""
    base = re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")[:40] or "task"
    taken = set(session.scalars(select(Assignment.task_id).where(Assignment.patient_id == patient_id)))
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def assign_task(
    *, session: Session, therapist_id: str, patient_id: str, fields: dict[str, Any]
) -> Assignment:
    """The task starts today in the patient's zone; the scheduler picks it up at its next look."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.therapist_id != therapist_id or patient.erased_at is not None:
        raise LookupError("not this therapist's patient")
    values = {name: fields.get(name) for name in FIELDS}
    values["instructions"] = values["instructions"] or ""
    row = Assignment(
        patient_id=patient_id,
        task_id=_task_id(session, patient_id, str(values["title"])),
        start=utcnow().astimezone(ZoneInfo(patient.timezone)).date(),
        active=True,
        set_by="desk",
        **values,
    )
    session.add(row)
    session.flush()
    actor = audit.therapist_actor(therapist_id)
    task_changes.record(
        session=session,
        assignment_id=row.id,
        actor=actor,
        action="assigned",
        before={},
        after={**values, "start": row.start},
    )
    audit.record(session=session, actor=actor, action="assign", patient_id=patient_id, detail=row.task_id)
    return row


# --- changes to a task from the desk: /tasks -------------------------------------------------

CHANGES = ("pause", "resume", "smaller", "end", "rationale", "schedule", "title", "instructions")


def task_token(therapist_id: str, assignment_id: int) -> str:
    """What a /tasks button carries for a task: meaningless outside this therapist's desk."""
    return hashlib.sha256(f"{therapist_id}\x00task\x00{assignment_id}".encode()).hexdigest()[:12]


def own_tasks(*, session: Session, therapist_id: str, patient_id: str) -> list[Assignment]:
    """The patient's tasks, if the patient is theirs; ended ones last."""
    query = (
        select(Assignment)
        .join(Patient, Patient.id == Assignment.patient_id)
        .where(Patient.id == patient_id, Patient.therapist_id == therapist_id, Patient.erased_at.is_(None))
        .order_by(Assignment.id)
    )
    return sorted(session.scalars(query), key=lambda a: is_ended(a))


def task_by_token(*, session: Session, therapist_id: str, token: str) -> Assignment | None:
    query = (
        select(Assignment)
        .join(Patient, Patient.id == Assignment.patient_id)
        .where(Patient.therapist_id == therapist_id, Patient.erased_at.is_(None))
    )
    return next((a for a in session.scalars(query) if task_token(therapist_id, a.id) == token), None)


def is_ended(task: Assignment) -> bool:
    return not task.active and task.end is not None and task.end <= utcnow().date()


def change_task(
    *,
    session: Session,
    therapist_id: str,
    task: Assignment,
    change: str,
    rationale: str = "",
    schedule: dict[str, Any] | None = None,
    text: str = "",
) -> bool:
    """One change, with its history row (the old values kept) and an audit row; False when it
    doesn't apply (resuming a running task, making a 1-minute task smaller...). `text`: the
    new title or instructions."""
    today = utcnow().astimezone(ZoneInfo(task.patient.timezone)).date()
    wanted: dict[str, Any]
    if change == "pause" and task.active:
        wanted = {"active": False}
    elif change == "resume" and not task.active and not is_ended(task):
        wanted = {"active": True}
    elif change == "smaller" and not is_ended(task) and (task.minutes or 10) > 2:
        wanted = {"minutes": max(2, (task.minutes or 10) // 2)}
    elif change == "end" and not is_ended(task):
        wanted = {"active": False, "end": today - dt.timedelta(days=1)}
    elif change == "rationale" and rationale.strip() and not is_ended(task):
        wanted = {"rationale": rationale.strip()}
    elif change == "schedule" and schedule and not is_ended(task):
        wanted = {"schedule": dict(schedule)}
    elif change in ("title", "instructions") and text.strip() and not is_ended(task):
        wanted = {change: text.strip()}
    else:
        return False
    before = {name: getattr(task, name) for name in wanted}
    for name, value in wanted.items():
        setattr(task, name, value)
    tasks.retell(task, changed=wanted, linked=task.patient.telegram_chat_id is not None)
    actor = audit.therapist_actor(therapist_id)
    task_changes.record(
        session=session, assignment_id=task.id, actor=actor, action=change, before=before, after=wanted
    )
    audit.record(
        session=session, actor=actor, action=f"task_{change}", patient_id=task.patient_id, detail=task.task_id
    )
    return True


def own_task(*, session: Session, therapist_id: str, assignment_id: int) -> Assignment | None:
    """The task, if it belongs to one of the therapist's patients."""
    return session.scalar(
        select(Assignment)
        .join(Patient, Patient.id == Assignment.patient_id)
        .where(
            Assignment.id == assignment_id, Patient.therapist_id == therapist_id, Patient.erased_at.is_(None)
        )
    )
