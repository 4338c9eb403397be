"""How sending a patient their replies ended, as the sender reports it."""

from __future__ import annotations

from typing import Literal

# "unreachable": the patient blocked the bot (stop nudging); "failed": retries ran out.
Delivery = Literal["delivered", "unreachable", "failed"]
