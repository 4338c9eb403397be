"""Check-ins: starting one for a task, logging how it went, listing the tasks."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import message_key, requested_task_id
from data import checkins, patients

log = logging.getLogger(__name__)

_STATUS_BY_INTENT = {
    "report_done": "done",
    "report_partial": "partial",
    "report_not_done": "not_done",
}


class ActionStartCheckin(Action):
    """Opens a check-in on one task (the scheduler names it in EXTERNAL_checkin)."""

    def name(self) -> str:
        return "action_start_checkin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        wanted = requested_task_id(tracker)

        def work(session):
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return None
            tasks = patients.active_tasks(session=session, patient_id=patient.id)
            task = checkins.pick_task(tasks, None, wanted) or (tasks[0] if tasks else None)
            return patient.display_name, patient.discreet, task and (task.task_id, task.title)

        try:
            found = await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
            dispatcher.utter_message(response="utter_not_available")
            return []
        if found is None or found[2] is None:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        name, discreet, (task_id, title) = found
        response = "utter_checkin_prompt_discreet" if discreet else "utter_checkin_prompt"
        dispatcher.utter_message(response=response, name=name, task_title=title.lower())
        return [SlotSet("task_id", task_id)]


class ActionLogCheckin(Action):
    """Writes the check-in the patient reported, once per message."""

    def name(self) -> str:
        return "action_log_checkin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        status = _STATUS_BY_INTENT.get(intent or "")
        if status is None:
            dispatcher.utter_message(response="utter_default")
            return []
        wanted = requested_task_id(tracker)
        text = tracker.latest_message.get("text")
        key = message_key(tracker)

        def work(session):
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return "no_patient", None
            tasks = patients.active_tasks(session=session, patient_id=patient.id)
            if not tasks:
                return "no_tasks", None
            task = checkins.pick_task(tasks, text, wanted) or tasks[0]
            checkins.record_checkin(session=session, assignment_id=task.id, status=status, dedupe_key=key)
            return "logged", (task.task_id, task.title)

        try:
            outcome, task = await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
            dispatcher.utter_message(response="utter_not_available")
            return []
        if outcome != "logged" or task is None:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        task_id, title = task
        dispatcher.utter_message(response=f"utter_checkin_{status}", task_title=title.lower())
        return [SlotSet("task_id", task_id)]


class ActionListTasks(Action):
    def name(self) -> str:
        return "action_list_tasks"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        def work(session):
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return []
            return [
                (t.title, t.minutes) for t in patients.active_tasks(session=session, patient_id=patient.id)
            ]

        try:
            tasks = await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
            dispatcher.utter_message(response="utter_not_available")
            return []
        if not tasks:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        lines = "\n".join(f"• {title}" + (f" ({minutes} min)" if minutes else "") for title, minutes in tasks)
        dispatcher.utter_message(response="utter_task_list", task_lines=lines)
        return []
