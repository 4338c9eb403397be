"""A task set by the therapist in Telegram: the row, its history and the audit, together."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from data import audit, task_changes
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
