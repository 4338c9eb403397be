"""When a patient could not be reached: Telegram said they blocked the bot.

`Patient.unreachable_at` says whether they can be reached now (the scheduler reads it and
stops nudging); each time it is set, a period opens here, and it closes when they write
again, so the therapist's brief can show past periods too, not only a current one.
Both are changed by one conditional UPDATE of the patient, so two deliveries failing at
once open one period, not two.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from data.db import rowcount
from data.models import Patient, UnreachablePeriod, utcnow


def mark_unreachable(*, session: Session, patient_id: str, at: dt.datetime | None = None) -> bool:
    """They blocked the bot: unreachable from now, a period opened. False if they already were."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.unreachable_at is not None:
        return False
    at = at or utcnow()
    marked = rowcount(
        session.execute(
            update(Patient)
            .where(Patient.id == patient_id, Patient.unreachable_at.is_(None))
            .values(unreachable_at=at)
        )
    )
    if marked != 1:
        return False
    session.add(UnreachablePeriod(patient_id=patient_id, started_at=at))
    return True


def mark_reachable(*, session: Session, patient_id: str, at: dt.datetime | None = None) -> bool:
    """They wrote again: reachable, and the period that was open ends. False if they were."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.unreachable_at is None:
        return False
    at = at or utcnow()
    cleared = rowcount(
        session.execute(
            update(Patient)
            .where(Patient.id == patient_id, Patient.unreachable_at.is_not(None))
            .values(unreachable_at=None)
        )
    )
    if cleared != 1:
        return False
    session.execute(
        update(UnreachablePeriod)
        .where(UnreachablePeriod.patient_id == patient_id, UnreachablePeriod.ended_at.is_(None))
        .values(ended_at=at)
    )
    return True


def periods(
    *,
    session: Session,
    patient_id: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[UnreachablePeriod]:
    """The patient's periods overlapping [since, until), oldest first."""
    query = (
        select(UnreachablePeriod)
        .where(UnreachablePeriod.patient_id == patient_id)
        .order_by(UnreachablePeriod.started_at, UnreachablePeriod.id)
    )
    if until is not None:
        query = query.where(UnreachablePeriod.started_at < until)
    if since is not None:
        query = query.where(or_(UnreachablePeriod.ended_at.is_(None), UnreachablePeriod.ended_at > since))
    return list(session.scalars(query))
