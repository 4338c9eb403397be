"""What a /forget still has to clear outside our database, written down until it is done.

Erasing our rows is one transaction; Rasa's transcript (another database) and the
messages in the Telegram chat can only be cleared after it. The erasure's transaction
therefore records what is left (data/erasure.py), and the bot works the rows off
(bot/erasures.py): a crash or a failing tracker store in between leaves a row to
finish at the next start, never a transcript nobody can find again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from data.models import PendingErasure, utcnow

# Waits between attempts: 30 s, doubling, at most an hour (a tracker store may be down for long).
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Pending:
    id: int
    sender_id: str | None  # None: the transcript is erased
    chat_id: int | None  # None: nothing left to delete in the chat
    # (message id, Unix second after which Telegram no longer lets a bot delete it)
    messages: list[tuple[int, int]]

    def deletable(self, now: dt.datetime) -> list[int]:
        """The messages Telegram still lets the bot delete."""
        return [m for m, until in self.messages if until > now.timestamp()]


def record(
    *, session: Session, sender_id: str, chat_id: int | None, messages: list[tuple[int, dt.datetime]]
) -> Pending:
    """Note what is left to clear; `messages` are (id, until when it may be deleted).

    Not due at once: the bot that took the /forget works it off itself, and the retry loop
    steps in only if that is cut short or fails (or, after a crash, at the next start)."""
    row = PendingErasure(
        sender_id=sender_id,
        chat_id=chat_id if messages else None,
        messages=[[m, int(until.timestamp())] for m, until in messages],
        attempts=0,
        next_attempt_at=utcnow() + FIRST_RETRY,
    )
    session.add(row)
    session.flush()
    return _view(row)


def due(*, session: Session, every: bool = False) -> list[Pending]:
    """Rows whose next attempt is due (or `every` row, due or not), oldest first."""
    query = select(PendingErasure).order_by(PendingErasure.id)
    if not every:
        query = query.where(
            or_(PendingErasure.next_attempt_at.is_(None), PendingErasure.next_attempt_at <= utcnow())
        )
    return [_view(row) for row in session.scalars(query)]


def settle(*, session: Session, pending_id: int, transcript_erased: bool, finished: Iterable[int]) -> bool:
    """Write down one attempt: the transcript erased or not, and the messages now finished
    with (deleted, or refused for good). Messages past Telegram's 48 hours are dropped, as
    nothing can delete them any more. Returns True when nothing is left and the row is gone;
    otherwise the next attempt waits a little longer."""
    row = session.get(PendingErasure, pending_id)
    if row is None:
        return True
    if transcript_erased:
        row.sender_id = None
    done, now = set(finished), utcnow()
    row.messages = [[m, until] for m, until in row.messages if m not in done and until > now.timestamp()]
    if not row.messages:
        row.chat_id = None
    if row.sender_id is None and row.chat_id is None:
        session.delete(row)
        return True
    row.attempts += 1
    row.next_attempt_at = now + min(FIRST_RETRY * 2 ** min(row.attempts - 1, 8), LONGEST_RETRY)
    return False


def _view(row: PendingErasure) -> Pending:
    return Pending(
        id=row.id,
        sender_id=row.sender_id,
        chat_id=row.chat_id,
        messages=[(int(m), int(until)) for m, until in row.messages],
    )
