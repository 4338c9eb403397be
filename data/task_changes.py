"""The history of each task: who set or changed what, and when; nothing is overwritten unseen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import AssignmentChange, utcnow


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def record(
    *,
    session: Session,
    assignment_id: int,
    actor: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    session.add(
        AssignmentChange(
            assignment_id=assignment_id,
            at=utcnow(),
            actor=actor,
            action=action,
            before={k: _plain(v) for k, v in before.items()},
            after={k: _plain(v) for k, v in after.items()},
        )
    )


def history(*, session: Session, assignment_id: int) -> list[AssignmentChange]:
    return list(
        session.scalars(
            select(AssignmentChange)
            .where(AssignmentChange.assignment_id == assignment_id)
            .order_by(AssignmentChange.at, AssignmentChange.id)
        )
    )


def inactive_windows(*, session: Session, assignment_id: int) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """When the task was paused, taken off a plan or ended, from its history: [from, to),
    `to` None while it still is. A task without history (older rows) has none to show."""
    windows: list[tuple[dt.datetime, dt.datetime | None]] = []
    stopped: dt.datetime | None = None
    for change in history(session=session, assignment_id=assignment_id):
        active = change.after.get("active")
        if active is False and stopped is None:
            stopped = change.at
        elif active is True and stopped is not None:
            windows.append((stopped, change.at))
            stopped = None
    if stopped is not None:
        windows.append((stopped, None))
    return windows
