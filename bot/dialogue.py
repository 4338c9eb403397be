"""Rasa's part of a turn: the patient's words (or a button's intent) in, its replies out.

A patient who types a button's words rather than tapping it ("2", "yes", "It doesn't feel
useful") is answering the question as surely as a tap: the button's intent goes to Rasa,
even after a misunderstanding or a digression in between. A whole number typed inside a
button's span ("7" where the buttons read "5-6", "7-8") is that button, carrying the number
typed. Which buttons are open is read from Rasa's own record of the conversation (its
tracker store), so a question the scheduler sent counts as much as one asked in a turn,
whichever bot process asked it and across restarts; only buttons Rasa offered this patient
count, so nothing can be forged by typing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.people import PatientView
from data import rasa_tracker
from data.wording import say
from messaging.rasa_client import RasaClient, RasaUnavailable
from messaging.rendering import Button, Reply, from_rasa

log = logging.getLogger(__name__)

# The question before a misunderstanding and the buttons offered after it.
BUTTON_SETS_KEPT = 2
# How far back the conversation is read for them: a few turns.
EVENTS_READ = 40
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
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if span is None or not typed.isdecimal() or not int(span[1]) <= int(typed) <= int(span[2]):
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


def open_button_sets(events: Iterable[dict[str, Any]]) -> list[tuple[Button, ...]]:
    """Of a conversation's events, newest first: the button sets a typed answer may answer,
    newest first. The last few (BUTTON_SETS_KEPT), but nothing from before a new session
    (the patient was away) or before the scheduler opened a new thread (EXTERNAL_ intents):
    a question left behind there is no longer the one being answered."""
    sets: list[tuple[Button, ...]] = []
    for event in events:
        kind = event.get("event")
        if kind == "session_started":
            break
        if kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if str(intent).startswith("EXTERNAL_"):
                break
            continue
        if kind != "bot":
            continue
        offered = tuple(
            Button(str(b.get("title") or ""), str(b.get("payload") or ""))
            for b in (event.get("data") or {}).get("buttons") or []
            if str(b.get("payload") or "").startswith("/")
        )
        if offered:
            sets.append(offered)
            if len(sets) == BUTTON_SETS_KEPT:
                break
    return sets


class Dialogue:
    def __init__(self, rasa: RasaClient, tracker_url: str):
        self._rasa = rasa
        self._tracker_url = tracker_url
        self._reader: Engine | None = None  # kept for the life of the process

    async def turn(self, patient: PatientView, text: str, key: str, **extra: str) -> list[Reply]:
        """Rasa's replies; RetryLater when Rasa is down (the channel keeps the message)."""
        metadata = {"bw_message_id": key, **extra}
        try:
            messages = await self._rasa.send(patient.sender_id, text, metadata)
        except RasaUnavailable:
            raise RetryLater([Reply(say("unavailable"))]) from None
        return from_rasa(messages)

    async def typed_choice(self, patient: PatientView, text: str) -> str | None:
        """The intent of a button still open to this patient whose words they typed."""
        typed = _plain(text)
        if not typed:
            return None
        events = await asyncio.to_thread(self._latest_events, patient.sender_id)
        for buttons in open_button_sets(events):
            for button in buttons:
                if _plain(button.title) == typed:
                    return button.payload
            for button in buttons:
                if (payload := _within_span(typed, button)) is not None:
                    return payload
        return None

    def _latest_events(self, sender_id: str) -> list[dict[str, Any]]:
        try:
            if self._reader is None:
                # None until Rasa has written its SQLite file; tried again next time.
                self._reader = rasa_tracker.reader(self._tracker_url)
            if self._reader is None:
                return []
            return rasa_tracker.latest_turn_events(self._reader, sender_id, EVENTS_READ)
        except SQLAlchemyError:
            # The words go to the NLU instead: a typed answer is read, not lost.
            log.warning("Rasa's tracker store could not be read for typed answers")
            return []
