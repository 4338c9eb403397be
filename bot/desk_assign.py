"""/assign: a task for one of the therapist's patients, one question at a time.

kind (a library template, or their own) → title → rationale (always typed, in the
therapist's words: the library's line is shown to copy and edit, never used silently) →
instructions → minutes → schedule → confirm. The answers are a row (data/desk.py), so a
restart loses nothing; the task, its history and the audit are written together at the end.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session, sessionmaker

from bot.desk_parts import (
    RATIONALE_MIN,
    TEXT_LIMIT,
    TITLE_LIMIT,
    PatientRef,
    StepStore,
    TherapistView,
    button,
    cancel_button,
)
from data import assigning, audit, desk
from data.db import run_in_thread
from data.library import task_templates
from data.library.schema import Template
from data.schedule_words import parse_schedule
from data.wording import content
from messaging.rendering import Button, Reply

CUSTOM = "custom"
_MINUTE_CHOICES = ("5", "10", "15", "20", "30")
# The schedule buttons, for the two commonest answers; anything else is typed.
_SCHEDULE_CHOICES = {
    "daily": {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "at": "19:00"},
    "3pw": {"times_per_week": 3},
}


def _words() -> dict[str, Any]:
    found: dict[str, Any] = content()["assign"]
    return found


class AssignFlow:
    FLOW: ClassVar[str] = "assign"
    BUTTONS: ClassVar[tuple[str, ...]] = (
        "asgtpl",
        "asgtitle",
        "asginstr",
        "asgnoinstr",
        "asgmin",
        "asgsched",
        "asgyes",
    )

    def __init__(self, *, sessions: sessionmaker[Session]):
        self._sessions = sessions
        self._steps = StepStore(sessions, self.FLOW)

    async def begin(self, therapist: TherapistView, patient: PatientRef, rest: str) -> list[Reply]:
        answers = {"step": "kind", "patient": patient.id, "name": patient.display_name}
        await self._steps.save(therapist, answers)
        return [self._ask(answers, "kind")]

    async def answer(self, therapist: TherapistView, answers: dict[str, Any], text: str) -> list[Reply]:
        """Typed words for the step under way."""
        words = " ".join(text.split())
        step = answers.get("step")
        if step == "title":
            if not 1 <= len(words) <= TITLE_LIMIT:
                return [self._ask(answers, "title_bad")]
            return await self._next(therapist, answers, "rationale", title=words)
        if step == "rationale":
            if not RATIONALE_MIN <= len(words) <= TEXT_LIMIT:
                return [self._ask(answers, "rationale_bad")]
            return await self._next(therapist, answers, "instructions", rationale=text.strip())
        if step == "instructions":
            if len(words) > TEXT_LIMIT:
                return [self._ask(answers, "instructions_bad")]
            return await self._next(therapist, answers, "minutes", instructions=text.strip())
        if step == "minutes":
            if not words.isdecimal() or not 1 <= int(words) <= 240:
                return [self._ask(answers, "minutes_bad")]
            return await self._next(therapist, answers, "schedule", minutes=int(words))
        if step == "schedule":
            schedule = parse_schedule(words)
            if schedule is None:
                return [self._ask(answers, "schedule_bad")]
            return await self._next(therapist, answers, "confirm", schedule=schedule)
        return [self._ask(answers, step or "kind")]  # a button is awaited: ask again

    async def press(self, therapist: TherapistView, verb: str, argument: str) -> list[Reply]:
        answers = await self._steps.answers(therapist)
        if answers is None:
            return [Reply(content()["desk_expired"])]
        step = answers.get("step")
        templates = task_templates()
        template = templates.get(answers.get("template", ""))
        if verb == "asgtpl" and step == "kind" and (argument in templates or argument == CUSTOM):
            return await self._next(therapist, answers, "title", template=argument)
        if verb == "asgtitle" and step == "title" and template is not None:
            return await self._next(therapist, answers, "rationale", title=template.name)
        if verb == "asginstr" and step == "instructions" and template is not None:
            return await self._next(therapist, answers, "minutes", instructions=template.instructions)
        if verb == "asgnoinstr" and step == "instructions":
            return await self._next(therapist, answers, "minutes", instructions="")
        if verb == "asgmin" and step == "minutes" and argument in _minute_choices(template):
            return await self._next(therapist, answers, "schedule", minutes=int(argument))
        if verb == "asgsched" and step == "schedule" and argument in _SCHEDULE_CHOICES:
            return await self._next(therapist, answers, "confirm", schedule=_SCHEDULE_CHOICES[argument])
        if verb == "asgyes" and step == "confirm":
            return await self._create(therapist)
        return [Reply(content()["desk_expired"])]

    # --- steps --------------------------------------------------------------------

    async def _next(
        self, therapist: TherapistView, answers: dict[str, Any], step: str, **new: Any
    ) -> list[Reply]:
        answers = {**answers, **new, "step": step}
        await self._steps.save(therapist, answers)
        return [self._ask(answers, step)]

    def _ask(self, answers: dict[str, Any], key: str) -> Reply:
        """The question for a step (or its "try again"), with the step's buttons."""
        words = _words()
        template = task_templates().get(answers.get("template", ""))
        step = answers.get("step")
        text = words[key].format(
            name=answers.get("name", ""), summary=_summary(answers) if step == "confirm" else ""
        )
        buttons: list[Button] = []
        if step == "kind":
            buttons += [Button(t.name, button("asgtpl", key)) for key, t in task_templates().items()]
            buttons.append(Button(words["custom_button"], button("asgtpl", CUSTOM)))
        if step == "title" and template is not None:
            buttons.append(Button(words["use_title"].format(title=template.name), button("asgtitle")))
        if step == "rationale" and template is not None:
            text += "\n\n" + words["library_line"].format(why=template.why.strip())
        if step == "instructions":
            if template is not None:
                text += "\n\n" + words["library_instructions"].format(
                    instructions=template.instructions.strip(), example=template.example.strip()
                )
                buttons.append(Button(words["use_instructions"], button("asginstr")))
            buttons.append(Button(words["no_instructions"], button("asgnoinstr")))
        if step == "minutes":
            buttons += [Button(m, button("asgmin", m)) for m in _minute_choices(template)]
        if step == "schedule":
            buttons += [
                Button(words["schedule_buttons"][k], button("asgsched", k)) for k in _SCHEDULE_CHOICES
            ]
        if step == "confirm":
            buttons.append(Button(words["confirm_button"], button("asgyes")))
        return Reply(text, (*buttons, cancel_button()))

    async def _create(self, therapist: TherapistView) -> list[Reply]:
        def work(session: Session) -> tuple[str, str] | None:
            row = desk.step(session=session, therapist_id=therapist.id)
            if row is None or row.flow != self.FLOW or row.answers.get("step") != "confirm":
                return None  # pressed twice, or after a cancel: nothing more is created
            answers = dict(row.answers)
            desk.clear_step(session=session, therapist_id=therapist.id)
            try:
                task = assigning.assign_task(
                    session=session, therapist_id=therapist.id, patient_id=answers["patient"], fields=answers
                )
            except LookupError:
                # No longer theirs (reassigned or erased while the steps went on).
                audit.record(
                    session=session,
                    actor=therapist.actor,
                    action="assign",
                    patient_id=answers["patient"],
                    allowed=False,
                    detail="not among their patients",
                )
                return None
            return task.title, answers["name"]

        made = await run_in_thread(self._sessions, work)
        if made is None:
            return [Reply(content()["desk_expired"])]
        title, name = made
        return [Reply(_words()["done"].format(title=title, name=name))]


def _minute_choices(template: Template | None) -> tuple[str, ...]:
    """The usual lengths, with the template's typical one first when it is another."""
    typical = str(template.minutes) if template is not None else None
    return _MINUTE_CHOICES if typical in (None, *_MINUTE_CHOICES) else (typical, *_MINUTE_CHOICES)


def _summary(answers: dict[str, Any]) -> str:
    words = _words()["summary"]
    schedule = answers["schedule"]
    if "times_per_week" in schedule:
        when = words["per_week"].format(count=schedule["times_per_week"])
    else:
        when = words["on_days"].format(days=" ".join(schedule["days"]), at=schedule["at"])
    return words["text"].format(
        title=answers["title"],
        rationale=answers["rationale"],
        instructions=answers.get("instructions") or words["none"],
        minutes=answers["minutes"],
        when=when,
    )
