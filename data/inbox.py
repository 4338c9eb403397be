"""The durable inbox: Telegram updates are stored before Telegram is told we have them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from data.db import insert_once
from data.models import InboxUpdate, utcnow

MAX_ATTEMPTS = 8
# An update id seen within this window is the same update sent again. Telegram keeps an
# unconfirmed update for 24 hours; after a week without updates it may start its ids again,
# randomly and lower, so an old id can name a new update.
DEDUPE_WINDOW = dt.timedelta(days=2)


def store(*, session: Session, updates: list[dict[str, Any]]) -> set[int]:
    """Keep each update once (Telegram may send it again); returns the ids that were new."""
    new: set[int] = set()
    for update in updates:
        row, created = insert_once(
            session,
            InboxUpdate,
            {
                "update_id": update["update_id"],
                "payload": update,
                "received_at": utcnow(),
                "attempts": 0,
            },
            "update_id",
        )
        if not created and _reused(row):
            # An old id given to a new update: the old one was handled long ago.
            row.payload, row.received_at, row.attempts = update, utcnow(), 0
            row.processed_at = row.next_attempt_at = None
            created = True
        if created:
            new.add(update["update_id"])
    return new


def _reused(row: Any) -> bool:
    return row is not None and row.processed_at is not None and row.received_at < utcnow() - DEDUPE_WINDOW


def next_offset(*, session: Session) -> int | None:
    """One past the newest update received (by time: the ids may have started again lower)."""
    latest = session.scalar(
        select(InboxUpdate.update_id)
        .order_by(InboxUpdate.received_at.desc(), InboxUpdate.update_id.desc())
        .limit(1)
    )
    return None if latest is None else latest + 1


def due(*, session: Session, limit: int = 100) -> list[tuple[int, dict[str, Any], int]]:
    now = utcnow()
    rows = session.scalars(
        select(InboxUpdate)
        .where(
            InboxUpdate.processed_at.is_(None),
            or_(InboxUpdate.next_attempt_at.is_(None), InboxUpdate.next_attempt_at <= now),
        )
        .order_by(InboxUpdate.update_id)
        .limit(limit)
    )
    return [(r.update_id, r.payload or {}, r.attempts) for r in rows]


def mark_done(*, session: Session, update_id: int) -> None:
    row = session.get(InboxUpdate, update_id)
    if row is not None:
        row.processed_at = utcnow()
        row.payload = None  # the message text is not kept once acted on


def mark_retry(*, session: Session, update_id: int) -> bool:
    """Schedule another attempt with back-off; False when giving up."""
    row = session.get(InboxUpdate, update_id)
    if row is None:
        return False
    row.attempts += 1
    if row.attempts >= MAX_ATTEMPTS:
        row.processed_at = utcnow()
        row.payload = None
        return False
    row.next_attempt_at = utcnow() + dt.timedelta(seconds=min(15 * 2 ** (row.attempts - 1), 600))
    return True
