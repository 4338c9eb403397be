"""What the therapist's desk and its flows share: who, which patient, and its buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from data import audit, desk
from data.models import Patient
from messaging.rendering import Button, Reply

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
