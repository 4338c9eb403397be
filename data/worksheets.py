"""Guided worksheets: one question at a time, every answer saved as it comes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data import checkins
from data.library import worksheet as worksheet_content
from data.library import worksheet_kind
from data.library.schema import Step
from data.models import Assignment, Worksheet, utcnow

OPEN = ("in_progress", "resting")


def steps(kind: str) -> list[Step]:
    content = worksheet_content(kind)
    return list(content.steps) if content else []


def has_worksheet(template: str) -> bool:
    """Whether a kind of task (a template id) is done with an in-chat worksheet."""
    return worksheet_kind(template) is not None


def open_worksheet(*, session: Session, patient_id: str) -> Worksheet | None:
    return session.scalar(
        select(Worksheet)
        .where(Worksheet.patient_id == patient_id, Worksheet.status.in_(OPEN))
        .order_by(Worksheet.updated_at.desc())
        .limit(1)
    )


def start(*, session: Session, patient_id: str, assignment: Assignment) -> Worksheet:
    """Carry on with an open worksheet for this task, or begin a new one."""
    existing = session.scalar(
        select(Worksheet).where(
            Worksheet.patient_id == patient_id,
            Worksheet.assignment_id == assignment.id,
            Worksheet.status.in_(OPEN),
        )
    )
    if existing is not None:
        existing.status = "in_progress"
        return existing
    kind = worksheet_kind(assignment.template)
    if kind is None:
        raise ValueError(f"template {assignment.template!r} has no worksheet")
    row = Worksheet(
        patient_id=patient_id,
        assignment_id=assignment.id,
        template=kind,
        answers={},
        step=0,
        status="in_progress",
        started_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def current_step(row: Worksheet) -> Step | None:
    all_steps = steps(row.template)
    return all_steps[row.step] if row.step < len(all_steps) else None


@dataclass(frozen=True)
class Outcome:
    result: str  # invalid | next | resting | complete
    step: Step | None = None


def answer(*, session: Session, worksheet_id: int, text: str, dedupe_key: str) -> Outcome:
    """Save one answer and move on; a scale answer must be a number in range."""
    row = session.get(Worksheet, worksheet_id)
    step = current_step(row) if row is not None else None
    if row is None or step is None:
        return Outcome("complete")
    if row.last_message_key == dedupe_key:
        return Outcome("next", step)  # this message was already taken as an answer
    value: Any = text.strip()
    if step.scale is not None:
        low, high = step.scale
        numbers = [int(n) for n in re.findall(r"\d+", value) if low <= int(n) <= high]
        if not numbers:
            return Outcome("invalid", step)
        value = numbers[0]
    row.answers = {**row.answers, step.key: value}
    row.last_message_key = dedupe_key
    row.step += 1
    row.updated_at = utcnow()
    if current_step(row) is None:
        row.status = "complete"
        done, _ = checkins.record_checkin(
            session=session, assignment_id=row.assignment_id, status="done", dedupe_key=f"worksheet:{row.id}"
        )
        row.checkin_id = done.id
        return Outcome("complete", step)
    if step.pause_after:
        row.status = "resting"
        return Outcome("resting", step)
    return Outcome("next", current_step(row))


def done_message(row: Worksheet) -> str:
    content = worksheet_content(row.template)
    template = content.done if content else "Saved."
    try:
        return template.format(**row.answers)
    except (KeyError, IndexError, ValueError):
        return template


def latest_complete(*, session: Session, patient_id: str) -> Worksheet | None:
    return session.scalar(
        select(Worksheet)
        .where(Worksheet.patient_id == patient_id, Worksheet.status == "complete")
        .order_by(Worksheet.updated_at.desc(), Worksheet.id.desc())
        .limit(1)
    )


def resting_message(row: Worksheet) -> str | None:
    """What to say when a worksheet rests after the step just answered."""
    answered = steps(row.template)[: row.step]
    return answered[-1].pause_message if answered else None
