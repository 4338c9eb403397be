"""/tasks NAME: a patient's tasks, each with buttons to pause, resume, make smaller, give a
new rationale or end. Every change is a history row (the old values kept) and an audit row
(data/assigning.py); the scheduler follows the rows at its next look."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session, sessionmaker

from bot.desk_parts import (
    RATIONALE_MIN,
    TEXT_LIMIT,
    TITLE_LIMIT,
    PatientRef,
    TherapistView,
    button,
    cancel_button,
)
from data import assigning, audit, desk
from data.db import run_in_thread
from data.models import Assignment
from data.schedule_words import parse_schedule
from data.wording import content
from messaging.rendering import Button, Reply

# How long each typed change may be, in characters.
_LENGTHS = {
    "rationale": (RATIONALE_MIN, TEXT_LIMIT),
    "title": (1, TITLE_LIMIT),
    "instructions": (1, TEXT_LIMIT),
}


def _words() -> dict[str, Any]:
    found: dict[str, Any] = content()["tasks"]
    return found


# The changes typed after their button: the new words, or when the task comes.
TYPED = ("rationale", "schedule", "title", "instructions")


class TasksDesk:
    FLOW: ClassVar[str] = "taskedit"
    BUTTONS: ClassVar[tuple[str, ...]] = tuple(f"tk{change}" for change in assigning.CHANGES)

    def __init__(self, *, sessions: sessionmaker[Session]):
        self._sessions = sessions

    async def show(self, therapist: TherapistView, patient: PatientRef, rest: str) -> list[Reply]:
        def work(session: Session) -> list[Reply]:
            tasks = assigning.own_tasks(session=session, therapist_id=therapist.id, patient_id=patient.id)
            audit.record(session=session, actor=therapist.actor, action="tasks", patient_id=patient.id)
            return [_task_reply(therapist, task) for task in tasks]

        replies = await run_in_thread(self._sessions, work)
        head = Reply(_words()["head" if replies else "none"].format(name=patient.display_name))
        return [head, *replies]

    async def press(self, therapist: TherapistView, verb: str, token: str) -> list[Reply]:
        change = verb.removeprefix("tk")

        def work(session: Session) -> Reply:
            task = assigning.task_by_token(session=session, therapist_id=therapist.id, token=token)
            if task is None:
                audit.record(
                    session=session,
                    actor=therapist.actor,
                    action=f"task_{change}",
                    allowed=False,
                    detail="unknown button",
                )
                return Reply(content()["desk_expired"])
            if change in TYPED:
                # The new words are typed next; the step remembers which task and what.
                desk.set_step(
                    session=session,
                    therapist_id=therapist.id,
                    flow=self.FLOW,
                    answers={"task": task.id, "change": change},
                )
                return Reply(
                    _words()[f"{change}_ask"].format(
                        title=task.title,
                        rationale=task.rationale,
                        instructions=task.instructions or _words()["no_instructions"],
                        when=_when(task.schedule or {}),
                    ),
                    (cancel_button(),),
                )
            if not assigning.change_task(
                session=session, therapist_id=therapist.id, task=task, change=change
            ):
                return Reply(_words()["not_now"].format(title=task.title))
            return _task_reply(therapist, task, _words()["done"][change])

        return [await run_in_thread(self._sessions, work)]

    async def answer(self, therapist: TherapistView, answers: dict[str, Any], text: str) -> list[Reply]:
        """The new words (rationale, name, instructions) or the new schedule, typed."""
        words = " ".join(text.split())
        change = answers.get("change", "rationale")
        schedule = parse_schedule(words) if change == "schedule" else None
        shortest, longest = _LENGTHS.get(change, (0, TEXT_LIMIT))
        if (change == "schedule" and schedule is None) or not shortest <= len(words) <= longest:
            return [Reply(_words()[f"{change}_bad"], (cancel_button(),))]
        # A name is one line; the rationale and instructions keep the therapist's line breaks.
        typed = words if change == "title" else text.strip()

        def work(session: Session) -> Reply:
            desk.clear_step(session=session, therapist_id=therapist.id)
            # Found again through the therapist's own patients: the step's id is not trusted alone.
            task = assigning.own_task(
                session=session, therapist_id=therapist.id, assignment_id=int(answers["task"])
            )
            if task is None or not assigning.change_task(
                session=session,
                therapist_id=therapist.id,
                task=task,
                change=change,
                rationale=typed if change == "rationale" else "",
                text=typed,
                schedule=schedule,
            ):
                return Reply(content()["desk_expired"])
            return _task_reply(therapist, task, _words()["done"][change])

        return [await run_in_thread(self._sessions, work)]


def _task_reply(therapist: TherapistView, task: Assignment, note: str = "") -> Reply:
    words = _words()
    if assigning.is_ended(task):
        state = words["state"]["ended"]
    else:
        state = words["state"]["active" if task.active else "paused"]
    text = words["task"].format(
        title=task.title,
        state=state,
        when=_when(task.schedule or {}),
        minutes=task.minutes or "?",
        rationale=task.rationale,
    )
    if note:
        text = f"{note}\n{text}"
    if assigning.is_ended(task):
        return Reply(text)
    token = assigning.task_token(therapist.id, task.id)
    offered = [
        "tkpause" if task.active else "tkresume",
        "tksmaller",
        "tkschedule",
        "tkrationale",
        "tktitle",
        "tkinstructions",
        "tkend",
    ]
    return Reply(text, tuple(Button(words["buttons"][verb], button(verb, token)) for verb in offered))


def _when(schedule: dict[str, Any]) -> str:
    words = _words()
    if "times_per_week" in schedule:
        return str(words["per_week"].format(count=schedule["times_per_week"]))
    return str(words["on_days"].format(days=" ".join(schedule.get("days", [])), at=schedule.get("at", "")))
