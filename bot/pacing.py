"""Pacing what the bot posts into chats: Telegram's flood limits, per chat and overall.

Telegram's guidance for bots (core.telegram.org/bots/faq, "My bot is hitting limits"):
avoid more than one message a second in a single chat ("we may allow short bursts that
go over this limit"), and no more than about 30 messages a second in bulk. Going over
earns HTTP 429 with ``retry_after``.

The defaults here:

* per chat: 1 message/s with a burst of 3, so a typical reply (up to three parts, or a
  nudge and its buttons) goes out at once, while a backlog to one chat drains at 1/s;
* overall: 30 messages/s with a burst of 2. A burst of 1 would lose a little throughput
  every time a timer fires late (the bucket is full, the overshoot is thrown away); 2 keeps
  the rate at 30/s and lets through at most 31 messages in any one second.

Fairness: every chat sends in order through its own FIFO lock, so a chat has at most one
message waiting for the overall limit at a time. That wait is one FIFO queue per lane, so a
chat with a backlog of twenty gets one turn per round like everyone else, never twenty turns
in a row. Three lanes: a crisis response goes ahead of everything; replies to a patient who
just wrote go ahead of bulk nudges, so a burst of thousands of nudges doesn't keep a patient
in a conversation waiting for minutes, and fifty conversations don't keep a crisis waiting.

A 429 names no chat and doesn't say which limit was hit. So it delays *that* chat for its
``retry_after`` (plus a small margin), and it halves the overall rate for a while (at most
once a second, down to a floor, back to full rate when the while is over): if it was the
overall limit, everyone would get 429s until the bot slows down; if it was just that chat,
the others pay a brief slowdown rather than a stall. Then the message is tried again, a
bounded number of times.

Network errors and timeouts are retried with exponential back-off, a bounded number of
times; ``Forbidden`` (the patient blocked the bot) and ``BadRequest`` never are, and nor is
a read or write timeout or a connection dropped mid-answer: Telegram may have delivered
that message, and a message twice is worse than a nudge missed.

Memory: a chat's state is forgotten as soon as it is idle with a full bucket, which is
exactly the state a new chat starts in, so forgetting changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

from messaging import delivery

log = logging.getLogger(__name__)

T = TypeVar("T")

# What became of a send: messaging/delivery.py (the scheduler reads it too).
Delivery = delivery.Delivery

# rate_limit_args for ExtBot methods: "bulk" queues behind replies (see PacedRateLimiter).
BULK = "bulk"
# The overall limit's lanes, first served first.
CRISIS_LANE, REPLY_LANE, BULK_LANE = 0, 1, 2


@dataclass(frozen=True)
class Paced:
    """rate_limit_args with more to say: the lane, and a hook run once the send has its turn,
    just before the request leaves (the scheduler marks a nudge "sending" there, so a crash
    while it waits its turn is known not to have sent it)."""

    bulk: bool = False
    before_send: Callable[[], Awaitable[None]] | None = None
    crisis: bool = False  # a crisis response: ahead of every other message


_NOT_POSTING = frozenset({"sendChatAction"})
_POSTING_PREFIXES = ("send", "copy", "forward", "edit")


class PacerClosed(TelegramError):
    """The bot is shutting down: what was still waiting to be sent is not sent."""


def posts_to_chat(endpoint: str) -> bool:
    """Whether a Bot API method posts into a chat (and so counts against the flood limits)."""
    return endpoint.startswith(_POSTING_PREFIXES) and endpoint not in _NOT_POSTING


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta in PTB 22 (PTB_TIMEDELTA), and reading
    it as an int warns; accept either without the warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


def _maybe_delivered(exc: NetworkError) -> bool:
    """A read or write timeout: the request may have reached Telegram. Connection and pool
    failures, and error statuses, mean it did not (PTB keeps httpx's error as the cause)."""
    cause = exc.__cause__
    return isinstance(cause, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError))


class _Bucket:
    """A token bucket: `rate` tokens a second, at most `burst`, starting full."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def refill(self, now: float, rate: float | None = None) -> None:
        rate = self.rate if rate is None else rate
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * rate)
        self.stamp = now

    def wait(self, now: float, rate: float | None = None) -> float:
        """Seconds until a token is available, 0 if one is."""
        self.refill(now, rate)
        rate = self.rate if rate is None else rate
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate

    def full(self, now: float) -> bool:
        self.refill(now)
        return self.tokens >= self.burst


class _Chat:
    __slots__ = ("bucket", "lock", "retry_until", "users")

    def __init__(self, rate: float, burst: int, now: float):
        self.bucket = _Bucket(rate, burst, now)
        self.lock = asyncio.Lock()  # FIFO: a chat's messages go out in the order they came
        self.retry_until = 0.0
        self.users = 0  # tasks holding or waiting for the lock

    def idle(self, now: float) -> bool:
        return self.users == 0 and now >= self.retry_until and self.bucket.full(now)


class _OverallLimit:
    """The overall rate, granted first come first served within a lane: crisis responses,
    then replies, then bulk.

    One timer task (the pump) hands out tokens while anyone waits, sleeping exactly until
    the next token: no polling.
    """

    def __init__(self, rate: float, burst: int, *, floor: float, clock: Callable[[], float]):
        self.rate, self.floor = rate, floor
        self._clock = clock
        self._bucket = _Bucket(rate, burst, clock())
        self._lanes: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque(), deque())
        self._pump: asyncio.Task[None] | None = None
        self._factor = 1.0
        self._slow_until = 0.0
        self._last_slowdown = float("-inf")
        self._closed = False

    def current_rate(self, now: float) -> float:
        if now >= self._slow_until:
            self._factor = 1.0
        return max(self.floor, self.rate * self._factor)

    def slow_down(self, seconds: float) -> None:
        """After a 429: half the rate (at most once a second) for `seconds`."""
        now = self._clock()
        self.current_rate(now)  # a slowdown that is over is forgotten first
        self._slow_until = max(self._slow_until, now + seconds)
        if now - self._last_slowdown >= 1.0:
            self._factor /= 2
            self._last_slowdown = now
            log.warning("flood limit hit: overall rate now %.1f/s", self.current_rate(now))

    async def acquire(self, *, lane: int) -> None:
        if self._closed:
            raise PacerClosed("the bot is shutting down")
        now = self._clock()
        if not any(self._lanes) and self._bucket.wait(now, self.current_rate(now)) == 0:
            self._bucket.tokens -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lanes[lane].append(waiter)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run_pump())
        # Cancelled while waiting: the pump skips the cancelled future and no token is spent.
        await waiter

    async def _run_pump(self) -> None:
        while True:
            for lane in self._lanes:
                while lane and lane[0].done():
                    lane.popleft()
            if not any(self._lanes):
                return
            now = self._clock()
            rate = self.current_rate(now)
            wait = self._bucket.wait(now, rate)
            if wait > 0:
                if now < self._slow_until:  # wake when the slowdown ends, if that's sooner
                    wait = min(wait, max(self._slow_until - now, 0.001))
                await asyncio.sleep(wait)
                continue
            lane = next(waiting for waiting in self._lanes if waiting)
            self._bucket.tokens -= 1
            lane.popleft().set_result(None)

    def open(self) -> None:
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._pump = None
        for lane in self._lanes:  # nobody is left waiting for a pump that is gone
            while lane:
                waiter = lane.popleft()
                if not waiter.done():
                    waiter.set_exception(PacerClosed("the bot is shutting down"))


class Pacer:
    """Runs calls that post into a chat within the flood limits, retrying what can be retried.

    ``await pacer.run(chat_id, make_call)`` returns what the call returns, or raises the
    Telegram error once retrying is over (or at once for Forbidden and BadRequest).
    """

    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        global_burst: int = 2,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        flood_retries: int = 4,
        max_retry_after: float = 60.0,
        retry_margin: float = 0.1,
        slowdown_floor: float = 1.0,
        min_slowdown: float = 5.0,
        network_retries: int = 3,
        network_backoff: float = 0.5,
        max_backoff: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if global_rate <= 0 or chat_rate <= 0 or global_burst < 1 or chat_burst < 1:
            raise ValueError("rates must be positive and bursts at least 1")
        self.chat_rate, self.chat_burst = chat_rate, chat_burst
        self.flood_retries, self.max_retry_after = flood_retries, max_retry_after
        self.retry_margin, self.min_slowdown = retry_margin, min_slowdown
        self.network_retries, self.network_backoff, self.max_backoff = (
            network_retries,
            network_backoff,
            max_backoff,
        )
        self._clock = clock
        self._overall = _OverallLimit(
            global_rate, global_burst, floor=min(slowdown_floor, global_rate), clock=clock
        )
        self._chats: OrderedDict[int | str, _Chat] = OrderedDict()  # least recently used first

    # --- observation, for tests and metrics ------------------------------------------------

    def tracked_chats(self) -> int:
        return len(self._chats)

    def overall_rate(self) -> float:
        return self._overall.current_rate(self._clock())

    # --- running ----------------------------------------------------------------------------

    async def run(
        self,
        chat_id: int | str,
        call: Callable[[], Awaitable[T]],
        *,
        urgent: bool = True,
        before_send: Callable[[], Awaitable[None]] | None = None,
        crisis: bool = False,
    ) -> T:
        """`urgent`: a reply (ahead of bulk); `crisis`: a crisis response (ahead of all)."""
        lane = CRISIS_LANE if crisis else REPLY_LANE if urgent else BULK_LANE
        chat = self._enter(chat_id)
        try:
            async with chat.lock:
                return await self._run_locked(chat, call, lane, before_send)
        finally:
            chat.users -= 1
            if chat_id in self._chats:
                self._chats.move_to_end(chat_id)
            self._forget_idle()

    async def _run_locked(
        self,
        chat: _Chat,
        call: Callable[[], Awaitable[T]],
        lane: int,
        before_send: Callable[[], Awaitable[None]] | None,
    ) -> T:
        floods = failures = 0
        while True:
            await self._chat_turn(chat)
            await self._overall.acquire(lane=lane)
            # Taken now, not before the overall wait, so sends to one chat are spaced as sent.
            chat.bucket.refill(self._clock())
            chat.bucket.tokens -= 1
            if before_send is not None:
                await before_send()
                before_send = None
            try:
                return await call()
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                now = self._clock()
                chat.retry_until = max(chat.retry_until, now + seconds + self.retry_margin)
                chat.bucket.tokens = min(chat.bucket.tokens, 0.0)
                self._overall.slow_down(max(seconds, self.min_slowdown))
                floods += 1
                if floods > self.flood_retries or seconds > self.max_retry_after:
                    log.warning("flood limit: giving up after %d tries (retry_after %.0fs)", floods, seconds)
                    raise
                log.info("flood limit: chat retries in %.1fs", seconds + self.retry_margin)
            except (Forbidden, BadRequest):
                raise  # BadRequest is a NetworkError: this clause must come first
            except NetworkError as exc:  # TimedOut included
                failures += 1
                if _maybe_delivered(exc):
                    # Telegram may have the message already: at most once beats twice.
                    log.warning("send timed out after the request left; not retried")
                    raise
                if failures > self.network_retries:
                    log.warning("network error, giving up after %d tries: %s", failures, exc)
                    raise
                backoff = min(self.max_backoff, self.network_backoff * 2 ** (failures - 1))
                backoff *= random.uniform(0.8, 1.2)
                log.info("network error (%s); retrying in %.2fs", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)

    async def _chat_turn(self, chat: _Chat) -> None:
        """Wait (holding the chat's lock) until the chat may send again."""
        while True:
            now = self._clock()
            blocked = chat.retry_until - now
            if blocked > self.max_retry_after:
                raise RetryAfter(dt.timedelta(seconds=blocked))
            wait = max(blocked, chat.bucket.wait(now))
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _enter(self, chat_id: int | str) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(self.chat_rate, self.chat_burst, self._clock())
        else:
            self._chats.move_to_end(chat_id)
        chat.users += 1
        return chat

    def _forget_idle(self, steps: int = 4) -> None:
        """Drop a few least recently used chats that are idle: amortised O(1) per send."""
        now = self._clock()
        for _ in range(steps):
            if not self._chats:
                return
            chat_id, chat = next(iter(self._chats.items()))
            if chat.idle(now):
                del self._chats[chat_id]
            elif chat.users:
                self._chats.move_to_end(chat_id)  # busy; looked at again once it's done
            else:
                return  # the oldest idle chat is still refilling; so are the newer ones

    def open(self) -> None:
        self._overall.open()

    async def aclose(self) -> None:
        """Stop granting: whatever still waits, or comes later, fails with PacerClosed."""
        await self._overall.aclose()


class PacedRateLimiter(BaseRateLimiter["str | Paced"]):
    """Puts every ExtBot call that posts into a chat through a Pacer.

    Calls that post nowhere (getMe, answerCallbackQuery...) go straight through;
    getUpdates never reaches a rate limiter. ``rate_limit_args=BULK`` on a call queues it
    behind replies. Unlike PTB's own limiter this one also retries network errors
    (``Pacer``): that is a deliberate choice for this bot, whose sends are all retry-safe
    apart from the read-timeout caveat above.
    """

    def __init__(self, pacer: Pacer | None = None):
        self.pacer = pacer or Pacer()

    async def initialize(self) -> None:
        self.pacer.open()

    async def shutdown(self) -> None:
        await self.pacer.aclose()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | Paced | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        paced = rate_limit_args if isinstance(rate_limit_args, Paced) else Paced(bulk=rate_limit_args == BULK)
        if chat_id is None or not posts_to_chat(endpoint):
            if paced.before_send is not None:
                await paced.before_send()
            return await callback(*args, **kwargs)
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        return await self.pacer.run(
            chat_id,
            partial(callback, *args, **kwargs),
            urgent=not paced.bulk,
            crisis=paced.crisis,
            before_send=paced.before_send,
        )
