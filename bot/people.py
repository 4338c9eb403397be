"""Who the bot is talking to: the sender of an update, and the patient behind it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sender:
    """Who sent an update: a Telegram user, or the local terminal's patient."""

    telegram_user_id: int | None = None
    chat_id: int | None = None
    patient_id: str | None = None


@dataclass(frozen=True)
class PatientView:
    id: str
    sender_id: str  # the pseudonymous id Rasa knows them by
    display_name: str
    consented: bool
    # The clinic closed the plan: only crisis care, /mydata, /forget and /privacy still work.
    discharged: bool = False
