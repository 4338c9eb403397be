"""Message ids in each linked patient's chat, for as long as Telegram lets a bot delete them.

Ids only, never text. Only chats of linked patients are recorded: a stranger's
chat leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.models import ChatMessage, Patient, utcnow

# Telegram lets a bot delete messages in a private chat for 48 hours.
DELETABLE_FOR = dt.timedelta(hours=48)


def digest(markup: dict[str, Any] | None) -> str:
    """A short fingerprint of a message's buttons (none is a fingerprint too)."""
    return hashlib.sha256(json.dumps(markup, sort_keys=True).encode()).hexdigest()[:16]


def record(
    *,
    session: Session,
    chat_id: int,
    message_ids: list[int],
    from_bot: bool,
    digests: list[str] | None = None,
) -> int:
    """Note messages in a linked patient's chat (the bot's with their buttons' digests);
    returns how many were new."""
    patient_id = session.scalar(
        select(Patient.id).where(Patient.telegram_chat_id == chat_id, Patient.erased_at.is_(None)).limit(1)
    )
    if patient_id is None or not message_ids:
        return 0
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [
        {
            "patient_id": patient_id,
            "chat_id": chat_id,
            "message_id": m,
            "from_bot": from_bot,
            "markup_digest": digests[i] if digests else None,
            "at": now,
        }
        for i, m in enumerate(message_ids)
    ]
    created = len(
        session.execute(
            insert(ChatMessage)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["chat_id", "message_id"])
            .returning(ChatMessage.id)
        ).all()
    )
    # Past the 48 hours an id is no use to anyone: it goes.
    stale = ChatMessage.at < now - DELETABLE_FOR
    session.execute(delete(ChatMessage).where(ChatMessage.chat_id == chat_id, stale))
    return created


def latest_id(*, session: Session, chat_id: int) -> int | None:
    """The newest message id known in the chat, from either side."""
    return session.scalar(select(func.max(ChatMessage.message_id)).where(ChatMessage.chat_id == chat_id))


def known_after(*, session: Session, chat_id: int, after: int) -> dict[int, str | None]:
    """Messages recorded in the chat after `after`: id → the bot's buttons' digest, or None
    for the patient's own."""
    rows = session.execute(
        select(ChatMessage.message_id, ChatMessage.from_bot, ChatMessage.markup_digest).where(
            ChatMessage.chat_id == chat_id, ChatMessage.message_id > after
        )
    )
    return {
        message_id: (markup_digest or "") if from_bot else None
        for message_id, from_bot, markup_digest in rows
    }


def deletable(*, session: Session, patient_id: str) -> list[tuple[int, dt.datetime]]:
    """The patient's chat messages Telegram still lets the bot delete, oldest first, each with
    the moment it stops allowing it."""
    since = utcnow() - DELETABLE_FOR
    rows = session.execute(
        select(ChatMessage.message_id, ChatMessage.at)
        .where(ChatMessage.patient_id == patient_id, ChatMessage.at > since)
        .order_by(ChatMessage.message_id)
    )
    return [(message_id, at + DELETABLE_FOR) for message_id, at in rows]


def forget(*, session: Session, patient_id: str) -> None:
    session.execute(delete(ChatMessage).where(ChatMessage.patient_id == patient_id))
