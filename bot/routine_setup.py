"""A patient who joined from a therapist's /invite gives their routine in the chat, once,
right after consent: when they get up, when they go to sleep, and when they'd like their
reminders. Each answer is written as it is given (the planner uses it at once), and the
routine itself says what is still to ask, so a restart loses nothing.

Patients from a care-plan file have a routine already and are never asked.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.people import PatientView
from data import patients
from data.db import run_in_thread
from data.plan_schema import Routine
from data.timeparse import parse_clock
from data.wording import content
from messaging.rendering import Button, Reply

PREFIX = "bw:routine:"
# What a skipped question leaves: the care-plan file's own defaults (no preferred time).
DEFAULTS: dict[str, Any] = Routine().model_dump(mode="json", include=set(patients.ROUTINE_STEPS))


def _words() -> dict[str, Any]:
    found: dict[str, Any] = content()["routine_setup"]
    return found


class RoutineSetup:
    def __init__(self, *, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def question(self, step: str, name: str = "") -> Reply:
        words = _words()
        choices = words["choices"][step]
        buttons = [Button(label, f"{PREFIX}{step}:{value}") for value, label in choices.items()]
        buttons.append(Button(words["skip"], f"{PREFIX}{step}:skip"))
        return Reply(words["ask"][step].format(name=name), tuple(buttons))

    async def answer(self, patient: PatientView, step: str, text: str) -> list[Reply] | None:
        """Typed words for the step; None when they are done and the dialogue may greet."""
        clock = _clock(text, evening=step == "sleep", reminder=step == "preferred_times")
        if clock is None:
            return [Reply(_words()["again"]), self.question(step)]
        return await self._store(patient, step, clock)

    async def press(self, patient: PatientView, data: str) -> list[Reply] | None:
        step, _, value = data.removeprefix(PREFIX).partition(":")
        if step != patients.routine_missing(await self._routine(patient)):
            return [Reply(content()["button_expired"])]
        if value == "skip":
            return await self._store(patient, step, None)
        if value not in _words()["choices"][step]:
            return [Reply(content()["button_expired"])]
        return await self._store(patient, step, value)

    async def _store(self, patient: PatientView, step: str, clock: str | None) -> list[Reply] | None:
        value: Any = DEFAULTS[step] if clock is None else ([clock] if step == "preferred_times" else clock)

        def work(session: Session) -> dict[str, Any]:
            return patients.update_routine(session=session, patient_id=patient.id, values={step: value})

        routine = await run_in_thread(self._sessions, work)
        following = patients.routine_missing(routine)
        if following is not None:
            return [self.question(following)]
        return None

    async def _routine(self, patient: PatientView) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return dict(patients.one(session=session, patient_id=patient.id).routine or {})

        return await run_in_thread(self._sessions, work)


def _clock(text: str, *, evening: bool, reminder: bool) -> str | None:
    """'7', '7am', '23:00', 'half ten' -> 'HH:MM'. A bare hour is a morning one for getting
    up, an evening one (7 to 11) for sleep and for reminders after lunch (1 to 6)."""
    words = text.strip().lower()
    if re.fullmatch(r"\d{1,2}", words):
        words += ":00"
    found = parse_clock(words)
    if found is None:
        return None
    hour, minute, explicit = found
    if not explicit and evening and 7 <= hour <= 11:
        hour += 12
    if not explicit and reminder and 1 <= hour <= 6:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour:02d}:{minute:02d}"
