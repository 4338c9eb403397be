"""Rasa's part of a turn: the patient's words (or a button's intent) in, its replies out."""

from __future__ import annotations

from bot.people import PatientView
from data.wording import say
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import Reply, from_rasa


class RetryLater(Exception):
    """The message could not be acted on yet; `replies` tell the patient so."""

    def __init__(self, replies: list[Reply]):
        super().__init__("retry later")
        self.replies = replies


class Dialogue:
    def __init__(self, rasa: RasaClient):
        self._rasa = rasa

    async def turn(self, patient: PatientView, text: str, key: str, **extra: str) -> list[Reply]:
        """Rasa's replies; RetryLater when Rasa is down (the channel keeps the message)."""
        metadata = {"bw_message_id": key, **extra}
        try:
            messages = await self._rasa.send(patient.sender_id, text, metadata)
        except RasaUnavailable:
            raise RetryLater([Reply(say("unavailable"))]) from None
        return from_rasa(messages)
