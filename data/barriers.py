"""Obstacles the patient named, in their own words, with the plan agreed."""

from __future__ import annotations

from sqlalchemy.orm import Session

from data.db import insert_once
from data.models import Barrier, utcnow

CATEGORIES = (
    "time", "forgot", "privacy", "timing", "too_hard", "unclear", "not_useful", "low_mood", "anxiety",
)  # fmt: skip


def record_barrier(
    *,
    session: Session,
    patient_id: str,
    assignment_id: int | None,
    category: str,
    words: str,
    option: str | None,
    plan: str | None,
    flag_for_therapist: bool,
    dedupe_key: str,
) -> Barrier:
    if category not in CATEGORIES:
        raise ValueError(f"unknown barrier category {category!r}")
    values = {
        "patient_id": patient_id,
        "assignment_id": assignment_id,
        "category": category,
        "words": words,
        "option": option,
        "plan": plan,
        "flag_for_therapist": flag_for_therapist,
        "dedupe_key": dedupe_key,
        "at": utcnow(),
    }
    row, _ = insert_once(session, Barrier, values, "dedupe_key")
    return row
