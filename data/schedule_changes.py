"""Asking for a different nudge time. Rows only: the scheduler applies them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.db import insert_once
from data.models import ScheduleChange, utcnow


def request(
    *,
    session: Session,
    patient_id: str,
    kind: str,
    dedupe_key: str,
    assignment_id: int | None = None,
    at: dt.datetime | None = None,
    clock: str | None = None,
) -> ScheduleChange:
    """kind: once (a one-off check-in `at`), move (nudge at `clock` from now on),
    pause (no nudges until `at`)."""
    if kind not in ("once", "move", "pause"):
        raise ValueError(f"unknown schedule change {kind!r}")
    values = {
        "patient_id": patient_id,
        "assignment_id": assignment_id,
        "kind": kind,
        "at": at,
        "clock": clock,
        "dedupe_key": dedupe_key,
        "created_at": utcnow(),
    }
    row, _ = insert_once(session, ScheduleChange, values, "dedupe_key")
    return row


def clock_override(*, session: Session, assignment_id: int, patient_id: str) -> str | None:
    """The newest "move" the patient asked for, for this task or all their tasks."""
    return session.scalar(
        select(ScheduleChange.clock)
        .where(
            ScheduleChange.kind == "move",
            ScheduleChange.patient_id == patient_id,
            (ScheduleChange.assignment_id == assignment_id) | ScheduleChange.assignment_id.is_(None),
        )
        .order_by(ScheduleChange.id.desc())
        .limit(1)
    )


def paused_until(*, session: Session, patient_id: str) -> dt.datetime | None:
    now = utcnow()
    return session.scalar(
        select(ScheduleChange.at)
        .where(
            ScheduleChange.kind == "pause",
            ScheduleChange.patient_id == patient_id,
            ScheduleChange.at > now,
        )
        .order_by(ScheduleChange.at.desc())
        .limit(1)
    )


def end_pauses(*, session: Session, patient_id: str) -> int:
    """Pauses under way end now (their rows stay, as a record of what was asked)."""
    now = utcnow()
    ended = 0
    for row in session.scalars(
        select(ScheduleChange).where(
            ScheduleChange.kind == "pause", ScheduleChange.patient_id == patient_id, ScheduleChange.at > now
        )
    ):
        row.at = now
        ended += 1
    return ended


def pause_windows(*, session: Session, patient_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every pause still to come or under way, as (from, until) in UTC, for the planner."""
    rows = session.execute(
        select(ScheduleChange.created_at, ScheduleChange.at)
        .where(
            ScheduleChange.kind == "pause",
            ScheduleChange.patient_id == patient_id,
            ScheduleChange.at > utcnow(),
        )
        .order_by(ScheduleChange.created_at)
    )
    return [(start, until) for start, until in rows]


def pause_history(*, session: Session, patient_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Every pause the patient asked for, past ones too, as (from, until) in UTC: for the report.
    A pause ended early keeps its row with `at` set to when it ended (end_pauses)."""
    rows = session.execute(
        select(ScheduleChange.created_at, ScheduleChange.at)
        .where(
            ScheduleChange.kind == "pause",
            ScheduleChange.patient_id == patient_id,
            ScheduleChange.at.is_not(None),
        )
        .order_by(ScheduleChange.created_at)
    )
    return [(start, until) for start, until in rows if until is not None and until > start]


def once_pending(*, session: Session, since: dt.datetime) -> list[ScheduleChange]:
    """One-off check-ins asked for, not yet run, due after `since`."""
    return list(
        session.scalars(
            select(ScheduleChange).where(
                ScheduleChange.kind == "once",
                ScheduleChange.applied_at.is_(None),
                ScheduleChange.at > since,
            )
        )
    )


def once_to_run(*, session: Session, change_id: int) -> tuple[int, dt.datetime] | None:
    """(assignment id, time) of a one-off check-in still to run, else None."""
    change = session.get(ScheduleChange, change_id)
    if change is None or change.applied_at is not None or change.assignment_id is None or change.at is None:
        return None
    return change.assignment_id, change.at


def mark_applied(*, session: Session, change_id: int) -> None:
    change = session.get(ScheduleChange, change_id)
    if change is not None:
        change.applied_at = utcnow()
