"""The nudge log: one row per (task, scheduled time), the record that makes a nudge go out once.

States: pending (claimed, nothing sent yet) → sending (handed to Telegram) →
sent | failed (will be retried within the grace) | unreachable (patient blocked
the bot); missed (too late to send); unknown (a crash while sending: it may
have arrived, so it is resent only if a look in the chat shows it did not).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from data import chat_messages, unreachable
from data.db import insert_once, rowcount
from data.models import Assignment, CheckIn, NudgeLog, Patient, utcnow

# A reply this long after a nudge still counts as answering it.
ANSWER_WINDOW = dt.timedelta(hours=24)
UNANSWERED_BEFORE_REDUCING = 3


def recover_after_crash(*, session: Session) -> dict[str, int]:
    """Run by a scheduler that has just taken the lease: the previous owner is gone.

    A claimed nudge that never reached Telegram is safe to send again; one that
    was on its way may have arrived, and a nudge twice is worse than once late.
    """
    retry = rowcount(
        session.execute(
            update(NudgeLog)
            .where(NudgeLog.status == "pending")
            .values(status="failed")
            .execution_options(synchronize_session=False)
        )
    )
    unknown = rowcount(
        session.execute(
            update(NudgeLog)
            .where(NudgeLog.status == "sending")
            .values(status="unknown")
            .execution_options(synchronize_session=False)
        )
    )
    return {"to_retry": retry, "unknown": unknown}


def mark_sending(*, session: Session, log_id: int, chat_id: int, markup: dict[str, Any] | None) -> None:
    """Handed to Telegram now. What would tell, after a crash, whether it arrived: the
    newest message id in the chat before it, and the buttons on its first message."""
    row = session.get(NudgeLog, log_id)
    if row is None:
        return
    row.status = "sending"
    row.probe_after_message_id = chat_messages.latest_id(session=session, chat_id=chat_id)
    row.probe_markup = markup


@dataclass(frozen=True)
class InDoubt:
    log_id: int
    chat_id: int
    after_message_id: int
    markup: dict[str, Any] | None
    # Messages recorded in the chat since: id → the bot's buttons' digest, None for the patient's.
    known: dict[int, str | None]


def in_doubt(*, session: Session, since: dt.datetime) -> list[InDoubt]:
    """Nudges a crash left "unknown" that can still be looked for in the chat."""
    rows = session.execute(
        select(NudgeLog.id, Patient.telegram_chat_id, NudgeLog.probe_after_message_id, NudgeLog.probe_markup)
        .join(Assignment, Assignment.id == NudgeLog.assignment_id)
        .join(Patient, Patient.id == Assignment.patient_id)
        .where(
            NudgeLog.status == "unknown",
            NudgeLog.scheduled_for > since,
            NudgeLog.probe_after_message_id.is_not(None),
            Patient.telegram_chat_id.is_not(None),
        )
    ).all()
    return [
        InDoubt(
            log_id,
            chat_id,
            after,
            markup,
            chat_messages.known_after(session=session, chat_id=chat_id, after=after),
        )
        for log_id, chat_id, after, markup in rows
    ]


def settle(*, session: Session, log_id: int, arrived: bool) -> None:
    """An in-doubt nudge found in the chat is sent; one proven absent is retried."""
    update_ = (
        update(NudgeLog)
        .where(NudgeLog.id == log_id, NudgeLog.status == "unknown")
        .execution_options(synchronize_session=False)
    )
    if arrived:
        session.execute(update_.values(status="sent", sent_at=NudgeLog.created_at))
    else:
        session.execute(update_.values(status="failed"))


def set_status(*, session: Session, log_id: int, status: str) -> None:
    row = session.get(NudgeLog, log_id)
    if row is None:
        return
    row.status = status
    if status == "sent":
        row.sent_at = utcnow()


def record_missed(*, session: Session, assignment_id: int, scheduled_for: dt.datetime) -> None:
    insert_once(
        session,
        NudgeLog,
        {"assignment_id": assignment_id, "scheduled_for": scheduled_for, "status": "missed"},
        ("assignment_id", "scheduled_for"),
    )


def retryable(*, session: Session, grace: dt.timedelta, max_attempts: int) -> list[int]:
    """Failed nudges still timely enough to send."""
    return list(
        session.scalars(
            select(NudgeLog.id)
            .where(
                NudgeLog.status == "failed",
                NudgeLog.attempts < max_attempts,
                NudgeLog.scheduled_for > utcnow() - grace,
            )
            .order_by(NudgeLog.scheduled_for)
        )
    )


def expire_unsendable(*, session: Session, grace: dt.timedelta, max_attempts: int) -> int:
    """Failed nudges past their grace or out of attempts are recorded as missed."""
    return rowcount(
        session.execute(
            update(NudgeLog)
            .where(
                NudgeLog.status == "failed",
                (NudgeLog.scheduled_for <= utcnow() - grace) | (NudgeLog.attempts >= max_attempts),
            )
            .values(status="missed")
            .execution_options(synchronize_session=False)
        )
    )


def mark_answered(*, session: Session, patient_id: str) -> int:
    """The patient wrote: recent nudges count as answered and a reduced schedule is lifted."""
    now = utcnow()
    assignment_ids = select(Assignment.id).where(Assignment.patient_id == patient_id)
    answered = rowcount(
        session.execute(
            update(NudgeLog)
            .where(
                NudgeLog.assignment_id.in_(assignment_ids),
                NudgeLog.status == "sent",
                NudgeLog.answered_at.is_(None),
                NudgeLog.sent_at > now - ANSWER_WINDOW,
            )
            .values(answered_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    session.execute(
        update(Assignment)
        .where(Assignment.patient_id == patient_id, Assignment.reduced_at.is_not(None))
        .values(reduced_at=None)
        .execution_options(synchronize_session=False)
    )
    return answered


def nudge_being_answered(*, session: Session, assignment_id: int, now: dt.datetime) -> dt.datetime | None:
    """The planned time of the nudge a check-in on this task answers: the latest one sent
    within the answer window that no check-in has answered yet, else None (spontaneous).

    Not `answered_at`: any word from the patient sets that (bot/people.py), before the
    check-in itself is recorded.
    """
    answered = select(CheckIn.due_at).where(
        CheckIn.assignment_id == assignment_id, CheckIn.due_at.is_not(None)
    )
    return session.scalar(
        select(NudgeLog.scheduled_for)
        .where(
            NudgeLog.assignment_id == assignment_id,
            NudgeLog.status == "sent",
            NudgeLog.sent_at > now - ANSWER_WINDOW,
            NudgeLog.scheduled_for.not_in(answered),
        )
        .order_by(NudgeLog.scheduled_for.desc())
        .limit(1)
    )


def unanswered_streak(*, session: Session, assignment_id: int) -> int:
    """How many of the task's latest sent nudges in a row went unanswered."""
    latest = session.execute(
        select(NudgeLog.answered_at)
        .where(NudgeLog.assignment_id == assignment_id, NudgeLog.status == "sent")
        .order_by(NudgeLog.scheduled_for.desc())
        .limit(UNANSWERED_BEFORE_REDUCING)
    ).all()
    streak = 0
    for (answered_at,) in latest:
        if answered_at is not None:
            break
        streak += 1
    return streak


def awaiting_follow_up(*, session: Session, since: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """Nudges sent after `since`, unanswered and not yet followed up: (log id, sent at)."""
    return [
        (log_id, sent_at)
        for log_id, sent_at in session.execute(
            select(NudgeLog.id, NudgeLog.sent_at).where(
                NudgeLog.status == "sent",
                NudgeLog.answered_at.is_(None),
                NudgeLog.followed_up_at.is_(None),
                NudgeLog.sent_at > since,
            )
        )
    ]


def claim_follow_up(*, session: Session, log_id: int) -> NudgeLog | None:
    """The nudge row, if its follow-up is still wanted and now claimed by this caller."""
    claimed = rowcount(
        session.execute(
            update(NudgeLog)
            .where(
                NudgeLog.id == log_id,
                NudgeLog.followed_up_at.is_(None),
                NudgeLog.answered_at.is_(None),
                NudgeLog.status == "sent",
            )
            .values(followed_up_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    return session.get(NudgeLog, log_id) if claimed == 1 else None


def checked_in_since(*, session: Session, assignment_id: int, since: dt.datetime) -> bool:
    return (
        session.scalar(
            select(func.count(CheckIn.id)).where(
                CheckIn.assignment_id == assignment_id, CheckIn.reported_at >= since
            )
        )
        or 0
    ) > 0


def mark_unreachable(*, session: Session, patient_id: str) -> None:
    """Telegram says the patient blocked the bot: no more nudges, and a period of it kept."""
    unreachable.mark_unreachable(session=session, patient_id=patient_id)


def retake_failed(*, session: Session, log_id: int, give_up: bool) -> bool:
    """A failed nudge taken again for a retry (or, giving up, recorded as missed).

    One conditional UPDATE decides who retries: two retries racing cannot both win.
    True only for the caller that took it to retry.
    """
    taken = rowcount(
        session.execute(
            update(NudgeLog)
            .where(NudgeLog.id == log_id, NudgeLog.status == "failed")
            .values(
                status="missed" if give_up else "pending", attempts=NudgeLog.attempts + (0 if give_up else 1)
            )
            .execution_options(synchronize_session=False)
        )
    )
    return not give_up and taken == 1
