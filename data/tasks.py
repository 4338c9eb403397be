"""What the patient says and does about one task: rationale seen, expectation, back-off."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from data.models import Assignment, utcnow


def mark_rationale_shown(*, session: Session, assignment_id: int) -> bool:
    """True the first time: the rationale is surfaced with the first check-in."""
    task = session.get(Assignment, assignment_id)
    if task is None or task.rationale_shown_at is not None:
        return False
    task.rationale_shown_at = utcnow()
    return True


def set_expectation(*, session: Session, assignment_id: int, rating: int) -> None:
    if not 1 <= rating <= 5:
        raise ValueError("expected helpfulness is 1-5")
    task = session.get(Assignment, assignment_id)
    if task is not None:
        task.expected_helpfulness = rating


def back_off(*, session: Session, assignment_ids: list[int]) -> None:
    """After resistance the scheduler eases off these tasks (see scheduler/)."""
    now = utcnow()
    for assignment_id in assignment_ids:
        task = session.get(Assignment, assignment_id)
        if task is not None:
            task.backed_off_at = now


# What the patient is told of a task: a change to any of these is told to them again.
TOLD = frozenset({"title", "rationale", "instructions", "minutes", "schedule"})


def retell(task: Assignment, *, changed: Iterable[str], linked: bool) -> None:
    """A change to what the patient was told (`changed`: field names) is brought to them
    again in the chat, as changed (data/introductions.py), once they can be reached. A
    plan's task for someone not yet linked is met at linking instead."""
    if TOLD.intersection(changed) and (task.set_by == "desk" or linked):
        task.introduced_at = None
