"""Working through the durable inbox: crisis first, then each chat in order, chats side by side.

Updates reach the inbox a batch at a time (bot/telegram_polling.py stores them
before Telegram is told we have them). Two things then happen:

- Triage, at once: the crisis net reads the words of every new update as soon as
  it is stored. One it flags is handled there and then, ahead of everything
  queued, so a crisis response never waits behind other patients' Rasa calls.
- The queue: every other due update is handled in order within its chat, while
  different chats are handled side by side (up to `concurrency` at once), so one
  slow conversation doesn't hold up everyone else's.

The handler answers and says what became of the update (Outcome); the worker
writes it down. An update is marked done only once it has been answered; one that
must wait (Rasa down) comes back when its retry is due, and one that could not be
handled for the whole retry window is answered plainly (the handler's `gave_up`).
A database that fails along the way loses nothing: the update stays in the inbox and
is held back in memory with a growing pause, and what could not be written down
(done, or a retry) is written when the database answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.conversation import assess_many
from data import inbox
from data.db import is_transient, run_in_thread

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DONE = "done"  # answered (or nothing to answer): the words may go
    RETRY = "retry"  # could not be acted on yet (Rasa down): again after the stored back-off
    HOLD = "hold"  # the database failed while handling: again soon, nothing written


# handle(update id, payload, attempts so far, crisis assessment or UNASSESSED) -> Outcome
Handler = Callable[[int, dict[str, Any], int, Any], Awaitable[Outcome]]
# gave_up(payload): the retries ran out; tell the patient plainly.
GaveUp = Callable[[dict[str, Any]], Awaitable[None]]
UNASSESSED: Any = object()
# How often the queue is looked at when nothing wakes it: retries fall due on their own.
IDLE_SECONDS = 2.0
BATCH = 200
# An update held back after a database failure waits 1, 2, 4 ... seconds, at most this.
HOLD_CAP_SECONDS = 60.0


def chat_of(payload: dict[str, Any]) -> int | None:
    for kind in ("message", "edited_message", "channel_post"):
        if isinstance(payload.get(kind), dict):
            return (payload[kind].get("chat") or {}).get("id")
    query = payload.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message") or {}
        return (message.get("chat") or {}).get("id") or (query.get("from") or {}).get("id")
    member = payload.get("my_chat_member")
    if isinstance(member, dict):
        return (member.get("chat") or {}).get("id")
    return None


def words_of(payload: dict[str, Any]) -> str | None:
    """The words an update carries for the crisis net: a message's text or caption,
    edited or not. Commands and button presses carry none."""
    for kind in ("message", "edited_message"):
        message = payload.get(kind)
        if isinstance(message, dict):
            text = message.get("text")
            if isinstance(text, str):
                entities = message.get("entities") or []
                if text.startswith("/") and entities and entities[0].get("type") == "bot_command":
                    return None
                return text
            caption = message.get("caption")
            return caption if isinstance(caption, str) and caption else None
    return None


class InboxWorker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        handle: Handler,
        *,
        gave_up: GaveUp | None = None,
        concurrency: int = 8,
    ):
        self._sessions = sessions
        self._handle = handle
        self._gave_up = gave_up
        self._concurrency = concurrency
        self._in_hand: set[int] = set()
        self._busy: Counter[int] = Counter()  # chat id -> updates of it in hand
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # What triage found for updates still queued (None: no risk), so they aren't read twice.
        self._assessed: dict[int, Any] = {}
        self._reading: set[int] = set()  # being read by triage just now
        # Finished while the queue was being read: that read may still show them as due.
        self._finished: set[int] = set()
        # Held back after a database failure: update id -> (failures, not before (monotonic)).
        self._held: dict[int, tuple[int, float]] = {}
        # Outcomes the database could not take yet (written before anything else is read).
        self._unwritten: dict[int, Outcome] = {}
        self._database_down = False

    def wake(self) -> None:
        self._wake.set()

    async def triage(self, payloads: list[dict[str, Any]]) -> None:
        """Read new updates for crisis language now; handle what it flags ahead of the queue."""
        found = [
            (p, words) for p in payloads if (words := words_of(p)) and p["update_id"] not in self._in_hand
        ]
        if not found:
            return
        # Held back from the queue while the net reads them, so none is handled twice.
        reading = {p["update_id"] for p, _ in found}
        self._reading |= reading
        try:
            assessments = await assess_many([words for _, words in found])
        finally:
            self._reading -= reading
        for (payload, _), assessment in zip(found, assessments, strict=True):
            if assessment is None:
                self._assessed[payload["update_id"]] = None
                continue
            log.info("update %s flagged by the crisis net: handled ahead of the queue", payload["update_id"])
            self._start(payload, 0, assessment)

    async def run(self, stop: asyncio.Event) -> None:
        """Hand due updates to handlers until `stop`; then wait for those in hand."""
        try:
            while not stop.is_set():
                try:
                    await self._dispatch()
                except Exception:  # a bug must not stop every chat: logged, tried again
                    log.exception("inbox: reading the queue failed")
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
        finally:
            await self.settle()

    async def drain(self) -> None:
        """Handle everything due now and wait for it (at start-up, and in tests)."""
        while True:
            started = await self._dispatch()
            if not started and not self._tasks:
                return
            await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _dispatch(self) -> int:
        if len(self._tasks) >= self._concurrency:
            return 0
        self._finished.clear()
        try:
            for update_id, outcome in list(self._unwritten.items()):
                await self._write(update_id, outcome)
                del self._unwritten[update_id]
            batch = await run_in_thread(self._sessions, lambda s: inbox.due(session=s, limit=BATCH))
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._database_failed(exc)
            return 0
        if self._database_down:
            self._database_down = False
            log.warning("the database answers again; the inbox carries on")
        started = 0
        now = time.monotonic()
        waiting: set[int] = set()  # chats with an earlier update held back: order within a chat
        for update_id, payload, attempts in batch:
            if len(self._tasks) >= self._concurrency:
                break
            if update_id in self._in_hand or update_id in self._reading or update_id in self._finished:
                continue
            chat = chat_of(payload)
            failures, not_before = self._held.get(update_id, (0, 0.0))
            if not_before > now:
                if chat is not None:
                    waiting.add(chat)
                continue
            if chat is not None and (self._busy[chat] or chat in waiting):
                continue  # an earlier update of this chat is still in hand: order within a chat
            # Failures held in memory count as attempts: the patient is told of a delay once.
            self._start(payload, attempts + failures, self._assessed.pop(update_id, UNASSESSED))
            started += 1
        return started

    def _database_failed(self, exc: BaseException) -> None:
        if not self._database_down:
            self._database_down = True
            log.warning("the database failed (%s); the inbox waits and tries again", type(exc).__name__)

    async def _write(self, update_id: int, outcome: Outcome) -> bool | None:
        """Write an outcome down; for a retry, False when the retries have run out."""
        if outcome is Outcome.DONE:
            await run_in_thread(self._sessions, lambda s: inbox.mark_done(session=s, update_id=update_id))
            return None
        return await run_in_thread(self._sessions, lambda s: inbox.mark_retry(session=s, update_id=update_id))

    async def _settle(self, update_id: int, payload: dict[str, Any], outcome: Outcome) -> None:
        """Write down what became of an update; hold it back if the database can't take it."""
        if outcome is not Outcome.HOLD:
            try:
                retried = await self._write(update_id, outcome)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._database_failed(exc)
                if outcome is Outcome.DONE:
                    # Answered: never handled again, whatever the inbox still says.
                    self._unwritten[update_id] = outcome
                    self._held.pop(update_id, None)
                    return
            else:
                self._held.pop(update_id, None)
                if retried is False:
                    log.warning("update %s: retries ran out; the patient is told", update_id)
                    if self._gave_up is not None:
                        await self._gave_up(payload)
                return
        self._hold(update_id)

    def _hold(self, update_id: int) -> None:
        failures = self._held.get(update_id, (0, 0.0))[0] + 1
        pause = min(2.0 ** (failures - 1), HOLD_CAP_SECONDS)
        self._held[update_id] = (failures, time.monotonic() + pause)

    def _start(self, payload: dict[str, Any], attempts: int, assessment: Any) -> None:
        """Handle one update in its own task (one the crisis net flagged goes even if an
        earlier update of its chat is still in hand)."""
        update_id = payload["update_id"]
        chat = chat_of(payload)
        self._in_hand.add(update_id)
        if chat is not None:
            self._busy[chat] += 1

        async def work() -> None:
            try:
                outcome = await self._handle(update_id, payload, attempts, assessment)
            except Exception:  # the handler answers its own failures; kept, never lost
                log.exception("update %s: handler failed", update_id)
                outcome = Outcome.HOLD
            try:
                await self._settle(update_id, payload, outcome)
            except Exception:  # nothing may stop the worker
                log.exception("update %s: outcome not written", update_id)
                self._hold(update_id)
            finally:
                self._in_hand.discard(update_id)
                self._finished.add(update_id)
                if chat is not None:
                    self._busy[chat] -= 1
                    if not self._busy[chat]:
                        del self._busy[chat]
                self._wake.set()

        task = asyncio.create_task(work())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
