"""Why a task matters: the therapist's words first, then the library's line."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import requested_task_id
from data import checkins, patients
from data.library import task_templates

log = logging.getLogger(__name__)


class ActionExplainRationale(Action):
    def name(self) -> str:
        return "action_explain_rationale"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        wanted = requested_task_id(tracker)
        text = tracker.latest_message.get("text")

        def work(session):
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return None
            tasks = patients.active_tasks(session=session, patient_id=patient.id)
            task = checkins.pick_task(tasks, text, wanted) or (tasks[0] if tasks else None)
            return task and (task.task_id, task.title, task.rationale, task.template)

        try:
            task = await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
            dispatcher.utter_message(response="utter_not_available")
            return []
        if task is None:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        task_id, title, rationale, template = task
        why = task_templates().get(template, {}).get("why", "")
        dispatcher.utter_message(
            response="utter_rationale", task_title=title.lower(), rationale=rationale, why=why
        )
        return [SlotSet("task_id", task_id)]
