"""Which messages are in a linked patient's chat: their ids (never their text), for /forget
and for settling a nudge cut short by a crash (data/chat_messages.py)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from data import chat_messages
from data.db import run_in_thread

log = logging.getLogger(__name__)


class ChatLog:
    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    async def note(
        self, chat_id: int, message_ids: list[int], *, from_bot: bool, digests: list[str] | None = None
    ) -> None:
        """Keep the ids (never the text) of messages in a linked patient's chat, for /forget
        and for settling a nudge cut short by a crash. A failure here loses no message."""
        if not message_ids:
            return
        try:
            await run_in_thread(
                self._sessions,
                partial(
                    _record, chat_id=chat_id, message_ids=message_ids, from_bot=from_bot, digests=digests
                ),
            )
        except Exception as exc:  # the message itself went; only its id is not kept
            log.warning("could not note chat message ids: %s", type(exc).__name__)


def _record(session: Session, **kwargs: Any) -> int:
    return chat_messages.record(session=session, **kwargs)
