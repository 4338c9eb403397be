"""Guided worksheets in the chat: ask, save each answer at once, finish or rest."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import Asked, find_task, latest_whole
from actions.forms import BridgeworkFormValidation
from data import patients, worksheets
from data.library import worksheet as worksheet_content

log = logging.getLogger(__name__)


def _open(session, sender_id: str):
    patient = patients.by_sender(session=session, sender_id=sender_id)
    return None if patient is None else worksheets.open_worksheet(session=session, patient_id=patient.id)


class ActionAskWorksheetAnswer(Action):
    """The current question of the open worksheet (the intro before the first)."""

    def name(self) -> str:
        return "action_ask_worksheet_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        def work(session):
            row = _open(session, tracker.sender_id)
            if row is None:
                return None, None
            step = worksheets.current_step(row)
            content = worksheet_content(row.template)
            intro = content.intro if content and row.step == 0 else None
            return intro, step.question if step else None

        result = await store.run_or_apologise(dispatcher, self.name(), work)
        if result is store.UNAVAILABLE:
            return []
        intro, question = result
        if intro:
            dispatcher.utter_message(response="utter_worksheet_question", question=intro)
        if question:
            dispatcher.utter_message(response="utter_worksheet_question", question=question)
        return []


class ValidateWorksheetForm(BridgeworkFormValidation):
    def name(self) -> str:
        return "validate_worksheet_form"

    async def validate_worksheet_answer(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        asked = Asked.of(tracker)
        text = latest_whole(tracker, value)

        def work(session):
            row = _open(session, tracker.sender_id)
            if row is None:
                return worksheets.Outcome("complete")
            return worksheets.answer(session=session, worksheet_id=row.id, text=text, dedupe_key=asked.key)

        outcome = await store.run_or_apologise(dispatcher, self.name(), work)
        if outcome is store.UNAVAILABLE:
            return {"worksheet_answer": None}
        if outcome.result == "invalid":
            low, high = outcome.step.scale
            dispatcher.utter_message(response="utter_worksheet_scale_invalid", low=low, high=high)
            return {"worksheet_answer": None}
        if outcome.result == "next":
            return {"worksheet_answer": None}  # the form asks the next question
        return {"worksheet_answer": outcome.result}


class ActionFinishWorksheet(Action):
    def name(self) -> str:
        return "action_finish_worksheet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        state = tracker.get_slot("worksheet_answer")

        def work(session):
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return None
            if state == "resting":
                row = worksheets.open_worksheet(session=session, patient_id=patient.id)
                return worksheets.resting_message(row) if row else None
            row = worksheets.latest_complete(session=session, patient_id=patient.id)
            return worksheets.done_message(row) if row else None

        try:
            message = await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
            message = None
        if message:
            response = "utter_worksheet_resting" if state == "resting" else "utter_worksheet_done"
            dispatcher.utter_message(response=response, message=message)
        return [SlotSet("worksheet_answer", None), SlotSet("worksheet_active", False)]


class ActionResumeWorksheet(Action):
    def name(self) -> str:
        return "action_resume_worksheet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        def work(session):
            row = _open(session, tracker.sender_id)
            if row is None:
                return False
            row.status = "in_progress"
            return True

        found = await store.run_or_apologise(dispatcher, self.name(), work)
        if found is store.UNAVAILABLE:
            return [SlotSet("worksheet_active", False)]
        if not found:
            dispatcher.utter_message(response="utter_nothing_to_resume")
        return [SlotSet("worksheet_active", found), SlotSet("worksheet_answer", None)]


def start_worksheet(session, asked: Asked):
    """For "do it now": (worksheet started?, task) for the task in focus."""
    found = find_task(session, asked)
    if found.task is None or not worksheets.has_worksheet(found.task.template):
        return False, found
    worksheets.start(session=session, patient_id=found.task.patient_id, assignment=found.task)
    return True, found
