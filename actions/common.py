"""What every action needs: who is talking, which message this is, which task it's about."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from sqlalchemy.orm import Session

from data import checkins, patients
from data.library import task_templates
from data.models import Assignment, Patient

log = logging.getLogger(__name__)

# Slots a flow fills and must not leak into the next one.
FORM_SLOTS = (
    "helpfulness", "difficulty", "reflection", "reflection_shared", "later_time",
    "barrier_option", "barrier_own_idea", "barrier_when", "worksheet_answer", "requested_slot",
    "planning_time", "time_missed",
)  # fmt: skip


def message_key(tracker: Tracker) -> str:
    """A key for the latest user message that survives retries.

    The bot sends its own id for every message (its inbox id) as metadata; a
    message Rasa receives twice then writes once.
    """
    latest = tracker.latest_message or {}
    metadata: dict[str, Any] = latest.get("metadata") or {}
    key = metadata.get("bw_message_id") or latest.get("message_id") or "none"
    return f"{tracker.sender_id}:{key}"


def entity(tracker: Tracker, name: str) -> str | None:
    for item in (tracker.latest_message or {}).get("entities") or []:
        if item.get("entity") == name and item.get("value") not in (None, ""):
            return str(item["value"])
    return None


def payload_value(text: str | None, name: str) -> str | None:
    """The value of `name` in a button payload such as /inform{"rating":"4"}."""
    if not text or not text.startswith("/") or "{" not in text:
        return None
    try:
        data = json.loads(text[text.index("{") :])
    except ValueError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return None if value is None else str(value)


def number_in(text: str | None, low: int, high: int) -> int | None:
    """The first whole number in [low, high] in a typed answer or a button payload."""
    if not text:
        return None
    for match in re.finditer(r"\d+", text):
        value = int(match.group())
        if low <= value <= high:
            return value
    return None


def whole(text: Any, metadata: dict[str, Any] | None) -> str:
    """The patient's whole message where the bot cut it short for the NLU (over 4,000
    characters, bot/conversation.py): what they wrote is kept as they wrote it."""
    text = str(text or "").strip()
    full = (metadata or {}).get("bw_full_text")
    if isinstance(full, str) and text and full.strip().startswith(text):
        return full.strip()
    return text


def latest_whole(tracker: Tracker, value: Any) -> str:
    """`value` (a slot filled from the latest message), whole."""
    return whole(value, (tracker.latest_message or {}).get("metadata"))


def patient_words(tracker: Tracker) -> str | None:
    """The patient's own latest words: typed text, not a pressed button's payload."""
    seen = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        text = whole(
            event.get("text"), event.get("metadata") or (event.get("parse_data") or {}).get("metadata")
        )
        if text and not text.startswith("/"):
            return text
        seen += 1
        if seen >= 3:
            break
    return None


@dataclass(frozen=True)
class Asked:
    """What an action reads from the tracker, captured before any thread hop."""

    sender_id: str
    text: str | None
    intent: str | None
    slot_task_id: str | None
    assignment: str | None
    task_id_entity: str | None
    key: str

    @classmethod
    def of(cls, tracker: Tracker) -> Asked:
        latest = tracker.latest_message or {}
        return cls(
            sender_id=tracker.sender_id,
            text=whole(latest.get("text"), latest.get("metadata")) if latest.get("text") else None,
            intent=(latest.get("intent") or {}).get("name"),
            slot_task_id=tracker.get_slot("task_id"),
            assignment=entity(tracker, "assignment"),
            task_id_entity=entity(tracker, "task_id"),
            key=message_key(tracker),
        )


@dataclass
class Found:
    patient: Patient | None
    tasks: list[Assignment]
    task: Assignment | None


def find_task(session: Session, asked: Asked, *, use_slot: bool = True) -> Found:
    """The patient and the task a message is about, only ever among their own tasks.

    An explicit choice (button, scheduler) wins, then words of a title in the
    message, then the task already under discussion, then the only task.
    """
    patient = patients.by_sender(session=session, sender_id=asked.sender_id)
    if patient is None:
        return Found(None, [], None)
    tasks = patients.active_tasks(session=session, patient_id=patient.id)
    if asked.assignment:
        # A task named explicitly and not one of theirs is no task, never a fallback.
        chosen = (
            next((t for t in tasks if t.id == int(asked.assignment)), None)
            if asked.assignment.isdecimal()
            else None
        )
        return Found(patient, tasks, chosen)
    if asked.task_id_entity:
        return Found(patient, tasks, checkins.pick_task(tasks, None, asked.task_id_entity))
    text = None if (asked.text or "").startswith("/") else asked.text
    by_words = checkins.pick_task(tasks, text, None) if text else None
    if by_words is not None and len(tasks) > 1:
        return Found(patient, tasks, by_words)
    if use_slot and asked.slot_task_id:
        in_focus = checkins.pick_task(tasks, None, asked.slot_task_id)
        if in_focus is not None:
            return Found(patient, tasks, in_focus)
    return Found(patient, tasks, tasks[0] if len(tasks) == 1 else None)


def which_task_buttons(intent: str, tasks: list[Assignment]) -> list[dict[str, str]]:
    # The database id keeps the payload inside Telegram's 64 bytes whatever the task id.
    return [{"title": t.title, "payload": f'/{intent}{{"assignment":"{t.id}"}}'} for t in tasks]


def task_steps(task: Assignment) -> str:
    """The therapist's steps for a task; without them, the library's for its kind."""
    template = task_templates().get(task.template)
    return task.instructions.strip() or (template.instructions if template else "")
