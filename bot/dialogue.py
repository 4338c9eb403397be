"""Rasa's part of a turn: the patient's words (or a button's intent) in, its replies out.

A patient who types a button's words rather than tapping it ("2", "yes", "It doesn't feel
useful") is answering the question as surely as a tap: the button's intent goes to Rasa,
even after a misunderstanding in between. A whole number typed inside a button's span
("7" where the buttons read "5-6", "7-8") is that button, carrying the number typed. Only
buttons this process just offered to this patient count (the last few sets), so nothing can
be forged by typing."""

from __future__ import annotations

import json
import re
from collections import OrderedDict

from bot.people import PatientView
from data.wording import say
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import Button, Reply, from_rasa

# The question before a misunderstanding and the buttons offered after it.
BUTTON_SETS_KEPT = 2
# Patients whose offered buttons are kept; the longest idle are forgotten first.
PATIENTS_KEPT = 10_000
# What a typed answer and a button's title are compared on: not case, spaces or end stops.
_NOISE = re.compile(r"[\s.!?,'\"’“”]+")
# A button's title that names a span of numbers: "1-2", "9–10".
_SPAN = re.compile(r"(\d+) ?[-–] ?(\d+)")


def _plain(text: str) -> str:
    return _NOISE.sub(" ", text.casefold()).strip()


def _within_span(typed: str, button: Button) -> str | None:
    """The button's payload with `typed` as its one value, if `typed` is a whole number
    inside the span its title names; else None."""
    span = _SPAN.fullmatch(_plain(button.title))
    if span is None or not typed.isdigit() or not int(span[1]) <= int(typed) <= int(span[2]):
        return None
    intent, brace, rest = button.payload.partition("{")
    try:
        values = json.loads(brace + rest) if brace else {}
    except ValueError:
        return None
    if not isinstance(values, dict) or len(values) != 1:
        return None  # which value the number stands for would be a guess
    (name,) = values
    return f"{intent}{json.dumps({name: str(int(typed))}, separators=(',', ':'))}"


class RetryLater(Exception):
    """The message could not be acted on yet; `replies` tell the patient so."""

    def __init__(self, replies: list[Reply]):
        super().__init__("retry later")
        self.replies = replies


class Dialogue:
    def __init__(self, rasa: RasaClient):
        self._rasa = rasa
        self._offered: OrderedDict[str, list[tuple[Button, ...]]] = OrderedDict()

    async def turn(self, patient: PatientView, text: str, key: str, **extra: str) -> list[Reply]:
        """Rasa's replies; RetryLater when Rasa is down (the channel keeps the message)."""
        metadata = {"bw_message_id": key, **extra}
        try:
            messages = await self._rasa.send(patient.sender_id, text, metadata)
        except RasaUnavailable:
            raise RetryLater([Reply(say("unavailable"))]) from None
        replies = from_rasa(messages)
        self._remember(patient.sender_id, replies)
        return replies

    def typed_choice(self, patient: PatientView, text: str) -> str | None:
        """The intent of a button just offered to this patient whose words they typed."""
        typed = _plain(text)
        if not typed:
            return None
        for buttons in reversed(self._offered.get(patient.sender_id, [])):
            for button in buttons:
                if _plain(button.title) == typed:
                    return button.payload
            for button in buttons:
                if (payload := _within_span(typed, button)) is not None:
                    return payload
        return None

    def _remember(self, sender_id: str, replies: list[Reply]) -> None:
        offered = [
            rasa
            for reply in replies
            if (rasa := tuple(b for b in reply.buttons if b.payload.startswith("/")))
        ]
        if not offered:
            return
        kept = (self._offered.pop(sender_id, []) + offered)[-BUTTON_SETS_KEPT:]
        self._offered[sender_id] = kept
        while len(self._offered) > PATIENTS_KEPT:
            self._offered.popitem(last=False)
