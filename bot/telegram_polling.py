"""Telegram's updates into the durable inbox: a long-polling loop that confirms a batch
only once it is stored.

python-telegram-bot's Updater confirms updates to Telegram as soon as it has
fetched them (the offset lives in memory), so a crash between fetching and
handling loses the patient's message. Here each batch is written to the inbox
first, and only then confirmed by asking for the next offset; the crisis net
reads it at once (the worker's triage), and the inbox worker (bot/inbox_worker.py)
works through the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError
from telegram.ext import ExtBot

from bot.inbox_worker import InboxWorker
from data import inbox
from data.db import is_transient, run_in_thread

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "channel_post", "my_chat_member"]


class TelegramPolling:
    def __init__(self, bot: ExtBot, sessions: sessionmaker[Session], worker: InboxWorker):
        self.bot = bot
        self._sessions = sessions
        self._worker = worker

    async def run(self, stop: asyncio.Event) -> None:
        offset = await self._first_offset(stop)
        worker = self._worker
        await worker.drain()  # what a previous run stored but never finished
        working = asyncio.create_task(worker.run(stop))
        backoff = 1.0
        try:
            while not stop.is_set():
                try:
                    updates = await self._poll(offset, stop)
                except Conflict:
                    log.error("another bot instance is polling with this token; waiting")
                    await _sleep_or_stop(stop, 30)
                    continue
                except (NetworkError, TelegramError) as exc:
                    log.warning("polling failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
                    await _sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 60)
                    continue
                if updates:
                    payloads = [u.to_dict() for u in updates]
                    started = time.monotonic()
                    try:
                        new = await run_in_thread(self._sessions, partial(_store, payloads=payloads))
                    except Exception as exc:
                        if not is_transient(exc):
                            raise
                        # Not stored, so not confirmed: Telegram sends the batch again.
                        backoff = await _wait_for_database(stop, exc, backoff)
                        continue
                    stored = time.monotonic()
                    # Stored durably: only now may the next request confirm them. One past the
                    # batch's highest id, not its last (an old update sent again may come last),
                    # and from this batch alone: after a week without updates Telegram may start
                    # its ids again lower, and an offset kept higher would refuse them all.
                    offset = max(u.update_id for u in updates) + 1
                    # Crisis language is answered now, not in its turn behind other patients.
                    await worker.triage([p for p in payloads if p["update_id"] in new])
                    worker.wake()
                    log.debug(
                        "%d updates: stored in %.0f ms, read by the crisis net in %.0f ms",
                        len(updates),
                        1000 * (stored - started),
                        1000 * (time.monotonic() - stored),
                    )
                backoff = 1.0
        finally:
            stop.set()
            await working

    async def _first_offset(self, stop: asyncio.Event) -> int | None:
        """Where polling starts: from the inbox, waiting for the database if it is down."""
        backoff = 1.0
        while True:
            try:
                return await run_in_thread(self._sessions, lambda s: inbox.next_offset(session=s))
            except Exception as exc:
                if not is_transient(exc) or stop.is_set():
                    raise
                backoff = await _wait_for_database(stop, exc, backoff)

    async def _poll(self, offset: int | None, stop: asyncio.Event) -> Sequence[Update]:
        """One long poll, abandoned as soon as `stop` is set.

        Abandoning is safe: nothing is confirmed to Telegram until the next
        request carries a higher offset.
        """
        poll = asyncio.ensure_future(
            self.bot.get_updates(offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES)
        )
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not poll.done():
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
            return []
        return poll.result()


def _store(session: Session, *, payloads: list[dict[str, Any]]) -> set[int]:
    return inbox.store(session=session, updates=payloads)


async def _wait_for_database(stop: asyncio.Event, exc: Exception, backoff: float) -> float:
    """Wait before trying the inbox again; returns the next, longer wait."""
    log.warning("inbox not reachable (%s); retrying in %.0fs", type(exc).__name__, backoff)
    await _sleep_or_stop(stop, backoff)
    return min(backoff * 2, 60)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
