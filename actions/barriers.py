"""Obstacle problem-solving: acknowledge, offer options that fit, agree an if-then plan."""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import (
    FORM_SLOTS,
    Asked,
    find_task,
    latest_whole,
    patient_words,
    payload_value,
    task_steps,
)
from actions.forms import BridgeworkFormValidation
from actions.rationale import rationale_messages
from data import barriers, schedule_changes
from data.library import barrier_options, barrier_scripts
from data.timeparse import clock_string

log = logging.getLogger(__name__)
OWN = "own"
# Words too common to tell one option from another when the patient types one.
_STOPWORDS = set(
    "a an and at be do does for from i i'll ill in it its me my of on or so something that the this to "
    "want will with you your".split()
)


# "Why?" in answer to "did you do it?" (rules/checkin.yml) is doubt about the task itself;
# idle, the same words are a question about the rationale.
_READ_AS_BARRIER = {"ask_rationale": "not_useful"}


def _content_words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - _STOPWORDS


def _category(tracker: Tracker) -> str | None:
    slot = tracker.get_slot("barrier_category")
    return slot if slot in barriers.CATEGORIES else None


def _option(category: str | None, option_id: str | None) -> dict[str, Any] | None:
    return next((o for o in barrier_options(category or "") if o["id"] == option_id), None)


def _tells_therapist(category: str) -> bool:
    return bool(barrier_scripts()["categories"].get(category, {}).get("tell_therapist"))


class ActionBarrierScript(Action):
    """Opens the script for the barrier the patient named."""

    def name(self) -> str:
        return "action_barrier_script"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        intent = asked.intent or ""
        category = _READ_AS_BARRIER.get(intent, intent.removeprefix("barrier_"))
        if category not in barriers.CATEGORIES:
            dispatcher.utter_message(response="utter_which_obstacle")
            return []
        dispatcher.utter_message(response=f"utter_barrier_ack_{category}")
        events: list[dict[str, Any]] = [
            ActiveLoop(None),
            SlotSet("barrier_category", category),
            SlotSet("barrier_words", patient_words(tracker) or f"({category.replace('_', ' ')})"),
        ] + [SlotSet(slot, None) for slot in FORM_SLOTS]
        if category == "not_useful":
            # Doubt about a task is met with its reason, offered rather than pushed.
            try:
                found = await store.run(lambda s: find_task(s, asked))
            except SQLAlchemyError:
                found = None
            if found is not None and found.task is not None:
                for message in rationale_messages(found.task)[:1]:
                    dispatcher.utter_message(**message)
                events.append(SlotSet("task_id", found.task.task_id))
        return events


class ActionAskBarrierOption(Action):
    """The options that fit this barrier, from data/library/barriers.yml, as buttons."""

    def name(self) -> str:
        return "action_ask_barrier_option"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        choices = [(o["label"], o["id"]) for o in barrier_options(_category(tracker) or "")]
        choices.append((barrier_scripts()["own_idea_label"], OWN))
        buttons = [{"title": label, "payload": f'/choose{{"option":"{oid}"}}'} for label, oid in choices]
        dispatcher.utter_message(response="utter_barrier_options", buttons=buttons)
        return []


class ActionAskBarrierWhen(Action):
    def name(self) -> str:
        return "action_ask_barrier_when"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        option = _option(_category(tracker), tracker.get_slot("barrier_option")) or {}
        ask = "utter_ask_barrier_when_time" if option.get("reschedule") else "utter_ask_barrier_when"
        dispatcher.utter_message(response=ask)
        return []


class ValidateBarrierForm(BridgeworkFormValidation):
    def name(self) -> str:
        return "validate_barrier_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> list[str]:
        if tracker.get_slot("barrier_option") == OWN:
            return domain_slots
        return [s for s in domain_slots if s != "barrier_own_idea"]

    def validate_barrier_option(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = latest_whole(tracker, value)
        category = _category(tracker)
        chosen = payload_value(text, "option")
        if chosen is not None:
            if chosen == OWN or _option(category, chosen):
                return {"barrier_option": chosen}
            dispatcher.utter_message(response="utter_barrier_option_invalid")
            return {"barrier_option": None}
        # Typed: an option named in words, or the patient's own idea.
        words = _content_words(text)
        for option in barrier_options(category or ""):
            label_words = _content_words(option["label"])
            if label_words and len(words & label_words) >= min(2, len(label_words)):
                return {"barrier_option": option["id"]}
        if len(text) >= 3 and not text.startswith("/"):
            return {"barrier_option": OWN, "barrier_own_idea": text}
        dispatcher.utter_message(response="utter_barrier_option_invalid")
        return {"barrier_option": None}

    def validate_barrier_own_idea(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = latest_whole(tracker, value)
        return {"barrier_own_idea": text if len(text) >= 2 and not text.startswith("/") else None}

    def validate_barrier_when(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = latest_whole(tracker, value)
        option = _option(_category(tracker), tracker.get_slot("barrier_option")) or {}
        if option.get("reschedule") and clock_string(text) is None:
            dispatcher.utter_message(response="utter_time_not_understood")
            return {"barrier_when": None}
        if len(text) < 2 or text.startswith("/"):
            return {"barrier_when": None}
        return {"barrier_when": text}


# Answers that already say when or where ("after breakfast", "by the kettle")
# lead the plan themselves; a clause ("I get home from work") follows "When".
_LEADS = re.compile(
    r"^(after|before|at|by|on|in|during|once|as soon as|first thing|tonight|tomorrow|this|every|each|next|"
    r"straight after|right after|while|near|next to)\b",
    re.IGNORECASE,
)


def plan_sentence(when: str, action: str) -> str:
    """The if-then plan: "When I get home from work, I will do a 2-minute version." """
    phrase = re.sub(r"^(when|whenever)\s+", "", when.strip().rstrip(".!"), flags=re.IGNORECASE)
    if re.fullmatch(r"\d{1,2}([:.]\d{2})?\s*(am|pm)?", phrase, flags=re.IGNORECASE):
        phrase = f"at {phrase}"
    if _LEADS.match(phrase):
        return f"{phrase[:1].upper()}{phrase[1:]}, I will {action}."
    if not phrase.startswith("I "):
        phrase = phrase[:1].lower() + phrase[1:]
    return f"When {phrase}, I will {action}."


class ActionSaveBarrier(Action):
    """Stores the barrier in the patient's words with the plan, and any new time."""

    def name(self) -> str:
        return "action_save_barrier"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        category = _category(tracker)
        option_id = tracker.get_slot("barrier_option")
        option = _option(category, option_id) or {}
        plan = option.get("plan") or tracker.get_slot("barrier_own_idea") or ""
        when = tracker.get_slot("barrier_when") or ""
        clock = clock_string(when) if option.get("reschedule") else None
        words = tracker.get_slot("barrier_words") or ""
        if category is None:
            return [SlotSet(slot, None) for slot in FORM_SLOTS]
        flag = _tells_therapist(category) or option_id == "ask_therapist"
        sentence = plan_sentence(when, plan)

        def work(session):
            found = find_task(session, asked)
            if found.patient is None:
                return None
            task = found.task
            barriers.record_barrier(
                session=session,
                patient_id=found.patient.id,
                assignment_id=task.id if task else None,
                category=category,
                words=words,
                option=option_id,
                plan=sentence,
                flag_for_therapist=flag,
                dedupe_key=f"barrier:{asked.key}",
            )
            if clock:
                schedule_changes.request(
                    session=session,
                    patient_id=found.patient.id,
                    assignment_id=task.id if task else None,
                    kind="move",
                    clock=clock,
                    dedupe_key=f"move:{asked.key}",
                )
            return task_steps(task) if task else ""

        instructions = await store.run_or_apologise(dispatcher, self.name(), work)
        if instructions is store.UNAVAILABLE:
            return []
        dispatcher.utter_message(response="utter_barrier_plan", plan=sentence)
        if clock:
            dispatcher.utter_message(response="utter_barrier_rescheduled", time=clock)
        if option.get("show_instructions") and instructions:
            dispatcher.utter_message(response="utter_instructions", instructions=instructions)
        if flag:
            dispatcher.utter_message(response="utter_barrier_therapist_told")
        return [SlotSet(slot, None) for slot in FORM_SLOTS] + [
            SlotSet("barrier_category", None),
            SlotSet("barrier_words", None),
        ]
