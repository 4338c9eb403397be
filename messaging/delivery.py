"""Handing replies to whatever sends them (Telegram, or the terminal), and how it ended.

The scheduler sends nudges and therapist alerts through a `Deliver` it is given; it
never knows which channel is behind it (coach/wiring.py decides).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from messaging.rendering import Reply

# "unreachable": the patient blocked the bot (stop nudging); "failed": retries ran out,
# or Telegram refused every part (the caller may try again later).
Delivery = Literal["delivered", "unreachable", "failed"]


@dataclass(frozen=True)
class Outgoing:
    """Replies for one chat: a patient's nudge, or an alert to a therapist."""

    chat_id: int
    replies: list[Reply]
    # Whose nudge it is ("" for a therapist's alert): the terminal shows only its patient's.
    patient_id: str = ""
    silent: bool = False  # no sound or vibration (the patient asked for quiet nudges)
    # Awaited once, just before the first message leaves, with that message's buttons as
    # the channel will show them (or nothing): a nudge is marked "sending" there.
    before_send: Callable[..., Awaitable[None]] | None = None


class Deliver(Protocol):
    async def __call__(self, outgoing: Outgoing, /) -> Delivery: ...
