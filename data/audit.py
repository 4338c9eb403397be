"""The audit: every therapist read or write of a patient's data, and every refused attempt."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import AuditEvent, utcnow

CLI = "cli"


def therapist_actor(therapist_id: str) -> str:
    return f"therapist:{therapist_id}"


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    patient_id: str | None = None,
    allowed: bool = True,
    detail: str | None = None,
) -> None:
    """One row, in the caller's transaction: what was read or changed is logged with it or not at all."""
    session.add(
        AuditEvent(
            at=utcnow(),
            actor=actor,
            action=action,
            patient_id=patient_id,
            allowed=allowed,
            detail=(detail or None) and detail[:200],
        )
    )


def events(
    *,
    session: Session,
    actor: str | None = None,
    patient_id: str | None = None,
    since: dt.datetime | None = None,
    limit: int | None = None,
) -> list[AuditEvent]:
    """Newest last."""
    query = select(AuditEvent).order_by(AuditEvent.at, AuditEvent.id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    rows = list(session.scalars(query))
    return rows[-limit:] if limit else rows
