"""Crisis and resistance events, kept for the therapist's review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.db import insert_once
from data.models import SafetyEvent, utcnow


def record_event(
    *,
    session: Session,
    patient_id: str,
    kind: str,
    detected_by: str,
    dedupe_key: str,
    words: str | None = None,
) -> SafetyEvent:
    values = {
        "patient_id": patient_id,
        "kind": kind,
        "detected_by": detected_by,
        "dedupe_key": dedupe_key,
        "words": words,
        "at": utcnow(),
    }
    row, _ = insert_once(session, SafetyEvent, values, "dedupe_key")
    return row  # type: ignore[return-value]


def crisis_since(*, session: Session, patient_id: str, since: dt.datetime) -> bool:
    """Whether the patient had a crisis response after `since` (nudges stay quiet a while)."""
    return (
        session.scalar(
            select(SafetyEvent.id)
            .where(SafetyEvent.patient_id == patient_id, SafetyEvent.kind == "crisis", SafetyEvent.at > since)
            .limit(1)
        )
        is not None
    )
