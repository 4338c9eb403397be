"""Why a task matters: the therapist's words first, then the library's line, then
how much the patient expects it to help (asked once per task)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.common import Asked, entity, find_task, number_in, which_task_buttons
from data import tasks
from data.library import task_templates
from data.models import Assignment

log = logging.getLogger(__name__)


def rationale_messages(task: Assignment, *, first: bool = True) -> list[dict[str, Any]]:
    """The rationale, and, the first time it is shown, the expectation question."""
    template = task_templates().get(task.template)
    why = template.why if template else ""
    title = task.title.lower()
    messages = [{"response": "utter_rationale", "task_title": title, "rationale": task.rationale, "why": why}]
    if first and task.expected_helpfulness is None:
        messages.append({"response": "utter_ask_expectation", "task_title": title})
    return messages


class ActionExplainRationale(Action):
    def name(self) -> str:
        return "action_explain_rationale"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)

        def work(session):
            found = find_task(session, asked)
            if found.task is None:
                return found, None
            first = tasks.mark_rationale_shown(session=session, assignment_id=found.task.id)
            return found, rationale_messages(found.task, first=first)

        result = await store.run_or_apologise(dispatcher, self.name(), work)
        if result is store.UNAVAILABLE:
            return []
        found, messages = result
        if not found.tasks:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        if found.task is None:
            buttons = which_task_buttons("ask_rationale", found.tasks)
            dispatcher.utter_message(response="utter_which_task", buttons=buttons)
            return []
        for message in messages:
            dispatcher.utter_message(**message)
        return [SlotSet("task_id", found.task.task_id)]


class ActionSaveExpectation(Action):
    def name(self) -> str:
        return "action_save_expectation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        rating = number_in(entity(tracker, "rating"), 1, 5)
        if rating is None:
            dispatcher.utter_message(response="utter_rating_invalid")
            return []
        asked = Asked.of(tracker)

        def work(session):
            found = find_task(session, asked)
            if found.task is not None:
                tasks.set_expectation(session=session, assignment_id=found.task.id, rating=rating)

        if await store.run_or_apologise(dispatcher, self.name(), work) is store.UNAVAILABLE:
            return []
        dispatcher.utter_message(response="utter_expectation_thanks")
        if tracker.get_slot("introducing"):
            # A new task being brought to them: next, when they'll do it (actions/new_task.py).
            dispatcher.utter_message(response="utter_ask_task_time")
            return [SlotSet("introducing", False), SlotSet("planning_time", True)]
        return []
