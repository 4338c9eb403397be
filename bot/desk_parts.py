"""What the therapist's desk and its flows share: who, which patient, and its buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy.orm import Session, sessionmaker

from data import audit, desk
from data.db import run_in_thread
from data.models import Patient
from data.wording import content
from messaging.rendering import Button, Reply

# What a therapist types for a task, /assign or /tasks: a name, a rationale, instructions.
TITLE_LIMIT = 60
RATIONALE_MIN = 10
TEXT_LIMIT = 1500

PREFIX = "bw:d:"
CANCEL = f"{PREFIX}cancel"
# The longest name read from a command or echoed back: patients' names are short.
MAX_ARGUMENT = 40


@dataclass(frozen=True)
class TherapistView:
    id: str
    name: str
    clinic_timezone: str

    @property
    def actor(self) -> str:
        return audit.therapist_actor(self.id)


@dataclass(frozen=True)
class PatientRef:
    id: str
    display_name: str
    timezone: str


# A command about one patient: the therapist, the patient (already checked to be theirs),
# and what followed the name ("/session Sam 2026-12-01": "2026-12-01").
About = Callable[[TherapistView, PatientRef, str], Awaitable[list[Reply]]]


def button(verb: str, argument: str = "") -> str:
    return f"{PREFIX}{verb}:{argument}" if argument else f"{PREFIX}{verb}"


def patient_buttons(therapist: TherapistView, verb: str, choices: list[PatientRef]) -> tuple[Button, ...]:
    return tuple(
        Button(f"{p.display_name} ({p.id})", button(verb, desk.token(therapist.id, p.id))) for p in choices
    )


def ref(row: Patient) -> PatientRef:
    return PatientRef(row.id, row.display_name, row.timezone)


def cancel_button() -> Button:
    """On every step of every flow: stops it, nothing changed."""
    return Button(content()["desk_buttons"]["cancel"], CANCEL)


class StepStore:
    """Where one multi-step flow (`flow`) keeps its answers so far: a row (data/desk.py)."""

    def __init__(self, sessions: sessionmaker[Session], flow: str):
        self._sessions = sessions
        self._flow = flow

    async def save(self, therapist: TherapistView, answers: dict[str, Any]) -> None:
        def work(session: Session) -> None:
            desk.set_step(session=session, therapist_id=therapist.id, flow=self._flow, answers=answers)

        await run_in_thread(self._sessions, work)

    async def answers(self, therapist: TherapistView) -> dict[str, Any] | None:
        """This flow's answers, if it is the one under way."""

        def work(session: Session) -> dict[str, Any] | None:
            row = desk.step(session=session, therapist_id=therapist.id)
            return dict(row.answers) if row is not None and row.flow == self._flow else None

        return await run_in_thread(self._sessions, work)


class Flow(Protocol):
    """A multi-step command: the row's `flow` name, its own buttons' verbs, and what it
    does with a typed answer or a pressed button."""

    FLOW: ClassVar[str]
    BUTTONS: ClassVar[tuple[str, ...]]

    async def answer(self, therapist: TherapistView, answers: dict[str, Any], text: str) -> list[Reply]: ...

    async def press(self, therapist: TherapistView, verb: str, argument: str) -> list[Reply]: ...
