"""Finishing a /forget outside our database: Rasa's transcript and the messages in the chat.

The erasure's transaction writes down what is left (data/pending_erasures.py). This
works it off: right after /forget, while the patient waits for the answer (the chat
with a few quick retries, so the answer can say what was really deleted), and then in
the bot's own loop, at start-up and every minute, for whatever failed or was cut
short by a crash. Each part is written down as done; the row goes when all is done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from data import pending_erasures, rasa_tracker
from data.db import run_in_thread
from data.models import utcnow
from data.pending_erasures import Pending

log = logging.getLogger(__name__)

# How often the loop looks for rows whose retry is due.
CHECK_SECONDS = 60.0
# While the patient waits: waits between the tries of deleteMessages, and the longest
# retry_after worth waiting for there (longer, and it is left to the loop).
QUICK_RETRIES = (1.0, 2.0)
QUICK_WAIT_CAP = 5.0


@dataclass(frozen=True)
class Deletion:
    """What became of asking Telegram to delete some messages.

    `deleted`: Telegram accepted the request (it skips, without a word, any it can no
    longer delete). `retry`: the request failed in a way worth trying again (network,
    5xx, 429). `refused`: Telegram refused for good (400, 403): asking again is no use.
    """

    deleted: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    retry_after: float | None = None


# (chat id, message ids) -> what became of them; given by a channel that can delete (Telegram).
ClearChat = Callable[[int, list[int]], Awaitable[Deletion]]


@dataclass(frozen=True)
class Outcome:
    """What one attempt did, for /forget to tell the patient truthfully."""

    transcript_erased: bool
    in_chat: bool  # the patient had a chat (Telegram) whose messages could be deleted
    asked: int  # messages still deletable when the attempt began
    deleted: int
    waiting: int  # not deleted yet, tried again later
    refused: int
    finished: bool  # nothing left to do: the pending row is gone


# Nothing was left to clear outside our database.
NOTHING_LEFT = Outcome(
    transcript_erased=True, in_chat=False, asked=0, deleted=0, waiting=0, refused=0, finished=True
)


class Erasures:
    def __init__(
        self, *, sessions: sessionmaker[Session], tracker_url: str, clear_chat: ClearChat | None = None
    ):
        """`clear_chat`: deletes messages in a chat (Telegram); without it (the terminal chat)
        that part waits for a run that has it."""
        self._sessions = sessions
        self._tracker_url = tracker_url
        self._clear_chat = clear_chat
        # One attempt at a time: the loop and a /forget never work the same row at once.
        self._lock = asyncio.Lock()

    async def finish(self, pending: Pending) -> Outcome:
        """Right after /forget: everything now, the chat with a few quick retries."""
        return await self._attempt(pending, QUICK_RETRIES)

    async def retry(self, *, every: bool = False) -> int:
        """One try at every row whose retry is due (`every` row: at start-up, when no /forget
        of this process can be under way); returns how many are now finished."""
        rows = await run_in_thread(self._sessions, partial(_due, every=every))
        return sum([(await self._attempt(pending, ())).finished for pending in rows])

    async def run(self, stop: asyncio.Event) -> None:
        """At start-up (what a crash cut short) and then every CHECK_SECONDS until `stop`."""
        every = True
        while not stop.is_set():
            try:
                await self.retry(every=every)
                every = False
            except Exception as exc:  # the database, most likely: the rows wait for the next round
                log.warning("pending erasures not worked off (%s); trying again later", type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), timeout=CHECK_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def _attempt(self, pending: Pending, waits: tuple[float, ...]) -> Outcome:
        async with self._lock:
            erased = pending.sender_id is None or await self._erase_transcript(pending.sender_id)
            deletable = pending.deletable(utcnow()) if pending.chat_id is not None else []
            deletion = await self._clear(pending.chat_id, deletable, waits)
            finished = await self._settle(pending.id, erased, deletion.deleted + deletion.refused)
        if len(pending.messages) > len(deletable):
            log.info(
                "pending erasure %d: %d chat messages passed Telegram's 48 hours undeleted",
                pending.id,
                len(pending.messages) - len(deletable),
            )
        return Outcome(
            transcript_erased=erased,
            in_chat=pending.chat_id is not None,
            asked=len(deletable),
            deleted=len(deletion.deleted),
            waiting=len(deletion.retry),
            refused=len(deletion.refused),
            finished=finished,
        )

    async def _settle(self, pending_id: int, erased: bool, finished: list[int]) -> bool:
        try:
            return await run_in_thread(
                self._sessions,
                partial(_settle, pending_id=pending_id, transcript_erased=erased, finished=finished),
            )
        except Exception as exc:  # what was done repeats harmlessly next time; the row stays
            log.warning("pending erasure %d: progress not written (%s)", pending_id, type(exc).__name__)
            return False

    async def _erase_transcript(self, sender_id: str) -> bool:
        try:
            await asyncio.to_thread(rasa_tracker.erase_conversation, self._tracker_url, sender_id)
        except Exception as exc:  # the type only: the message may quote the store's address
            log.warning("Rasa transcript not erased yet (%s); will retry", type(exc).__name__)
            return False
        return True

    async def _clear(self, chat_id: int | None, message_ids: list[int], waits: tuple[float, ...]) -> Deletion:
        """Delete the messages, trying again after each of `waits` while some failed."""
        if chat_id is None or not message_ids:
            return Deletion()
        if self._clear_chat is None:  # no Telegram here (the terminal chat): a later run does it
            return Deletion(retry=message_ids)
        deleted: list[int] = []
        refused: list[int] = []
        todo = message_ids
        for wait in (*waits, None):
            result = await self._clear_chat(chat_id, todo)
            deleted += result.deleted
            refused += result.refused
            todo = result.retry
            if not todo or wait is None:
                break
            pause = max(wait, result.retry_after or 0.0)
            if pause > QUICK_WAIT_CAP:
                break
            await asyncio.sleep(pause)
        if todo:
            log.warning("%d chat messages not deleted yet; will retry", len(todo))
        return Deletion(deleted, todo, refused)


def _due(session: Session, every: bool = False) -> list[Pending]:
    return pending_erasures.due(session=session, every=every)


def _settle(session: Session, **progress) -> bool:
    return pending_erasures.settle(session=session, **progress)
