"""Check-ins: how a task went, written once however often a message is retried."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from data.db import insert_once
from data.models import Assignment, CheckIn, utcnow

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
    *, session: Session, assignment_id: int, status: str, dedupe_key: str
) -> tuple[CheckIn, bool]:
    """Insert the check-in unless this key was seen; returns (row, created)."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    values = {
        "assignment_id": assignment_id,
        "status": status,
        "dedupe_key": dedupe_key,
        "reported_at": utcnow(),
        "reflection_shared": False,
    }
    row, created = insert_once(session, CheckIn, values, "dedupe_key")
    return row, created  # type: ignore[return-value]
