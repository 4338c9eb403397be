"""The care-plan file: its pydantic schema and its validation, problem by problem."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from data.library import task_templates
from data.validation_errors import not_valid_yaml
from data.validation_errors import problems as listed_problems

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
]
Clock = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_TIME.pattern)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
SafetyPlanLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {value!r}") from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clinic(_Strict):
    id: Identifier = "clinic"
    name: NonEmpty
    # Without one, the installation's DEFAULT_TIMEZONE setting (applied by `coach plan apply`).
    timezone: str | None = None
    crisis_resources: list[NonEmpty] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class Therapist(_Strict):
    id: Identifier
    name: NonEmpty
    # Optional: with it the therapist links Telegram (/start CODE) and gets crisis alerts there.
    invite_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6)] | None = None


class Routine(_Strict):
    wake: Clock = "07:30"
    sleep: Clock = "23:00"
    preferred_times: list[Clock] = Field(default_factory=list)
    quiet_hours: tuple[Clock, Clock] | None = None


class Schedule(_Strict):
    days: list[Weekday] | None = None
    at: Clock | None = None
    times_per_week: int | None = Field(default=None, ge=1, le=14)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        weekly = self.days is not None or self.at is not None
        if weekly and self.times_per_week is not None:
            raise ValueError("give either days and at, or times_per_week, not both")
        if not weekly and self.times_per_week is None:
            raise ValueError("give days and at, or times_per_week")
        if weekly and (not self.days or self.at is None):
            raise ValueError("days and at go together")
        return self


class Task(_Strict):
    id: Identifier
    template: NonEmpty
    title: NonEmpty
    rationale: NonEmpty
    instructions: str = ""
    minutes: int | None = Field(default=None, ge=1, le=240)
    schedule: Schedule
    start: dt.date | None = None
    end: dt.date | None = None

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        known = task_templates()
        if value not in known:
            raise ValueError(f"unknown template {value!r}; known: {', '.join(sorted(known))}")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> Task:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        return self


class Patient(_Strict):
    id: Identifier
    therapist: Identifier
    display_name: NonEmpty
    invite_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=6)] | None = None
    timezone: str | None = None
    language: str = "en"
    discreet: bool = True
    routine: Routine = Field(default_factory=Routine)
    # The safety plan made with the therapist, a line per step ("People I can call: Jo"),
    # shown with the crisis resources whenever crisis language is detected.
    safety_plan: list[SafetyPlanLine] = Field(default_factory=list, max_length=20)
    tasks: list[Task] = Field(default_factory=list)
    # "discharged": the clinic has closed the plan (nudges stop, a goodbye, erasure after
    # the retention period); back to "active" reopens it if nothing was erased yet.
    status: Literal["active", "discharged"] = "active"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class CarePlan(_Strict):
    clinic: Clinic
    therapists: list[Therapist] = Field(min_length=1)
    patients: list[Patient] = Field(default_factory=list)


class PlanError(Exception):
    """A care plan that cannot be used; `problems` names each with its path."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _cross_checks(plan: CarePlan) -> list[str]:
    problems: list[str] = []
    therapist_ids = [t.id for t in plan.therapists]
    problems += _duplicates(therapist_ids, "therapists", "id")
    problems += _duplicates([p.id for p in plan.patients], "patients", "id")
    people: list[Patient | Therapist] = [*plan.patients, *plan.therapists]
    # Compared as redeemed: case and punctuation aside ("SAM-7F3K" is "sam7f3k").
    codes = ["".join(ch for ch in p.invite_code.upper() if ch.isalnum()) for p in people if p.invite_code]
    if len(codes) != len(set(codes)):
        problems.append("invite_code: two people share an invite_code")
    for i, patient in enumerate(plan.patients):
        if patient.therapist not in therapist_ids:
            problems.append(f"patients[{i}].therapist: no therapist with id {patient.therapist!r}")
        problems += _duplicates([t.id for t in patient.tasks], f"patients[{i}].tasks", "id")
    return problems


def _duplicates(ids: list[str], where: str, field: str) -> list[str]:
    seen: set[str] = set()
    problems = []
    for i, value in enumerate(ids):
        if value in seen:
            problems.append(f"{where}[{i}].{field}: duplicate {value!r}")
        seen.add(value)
    return problems


def parse_plan(raw: Any) -> CarePlan:
    """Validate a loaded YAML document; raise PlanError listing every problem."""
    if not isinstance(raw, dict):
        raise PlanError(["(file): expected a mapping with clinic, therapists and patients"])
    try:
        plan = CarePlan.model_validate(raw)
    except ValidationError as exc:
        raise PlanError(listed_problems(exc)) from None
    problems = _cross_checks(plan)
    if problems:
        raise PlanError(problems)
    return plan


def load_plan(path: str | Path) -> CarePlan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([f"(file): cannot read {path}: {exc.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanError([f"(file): {not_valid_yaml(exc)}"]) from None
    return parse_plan(raw)
