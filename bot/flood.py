"""Per-user flood control: past a limit of messages a minute, one "slow down" and then quiet.

In memory, per bot process (the bot is a single process). A retried update counts
once: hits are keyed by the update's own key.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Literal

Verdict = Literal["ok", "warn", "drop"]


class FloodGuard:
    def __init__(
        self,
        *,
        limit: int = 20,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ):
        self._limit, self._window, self._clock, self._max_users = limit, window, clock, max_users
        self._hits: OrderedDict[object, deque[tuple[float, str]]] = OrderedDict()
        self._warned: set[object] = set()

    def hit(self, user: object, key: str) -> Verdict:
        """Record a message; "warn" the first time a user goes over, "drop" after that."""
        now = self._clock()
        hits = self._hits.pop(user, None) or deque()
        while hits and now - hits[0][0] > self._window:
            hits.popleft()
        if not any(k == key for _, k in hits):
            hits.append((now, key))
        self._hits[user] = hits  # most recent last, so the oldest users are forgotten first
        while len(self._hits) > self._max_users:
            forgotten, _ = self._hits.popitem(last=False)
            self._warned.discard(forgotten)
        if len(hits) <= self._limit:
            self._warned.discard(user)  # calmed down: the next flood gets a word again
            return "ok"
        if user in self._warned:
            return "drop"
        self._warned.add(user)
        return "warn"
