"""The safety response: care, the clinic's crisis resources, and a record of it."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import FORM_SLOTS, message_key
from data import patients, safety_events
from data.wording import bullets, say

log = logging.getLogger(__name__)


class ActionCrisisResponse(Action):
    def name(self) -> str:
        return "action_crisis_response"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        # Care comes first and never waits on the database.
        dispatcher.utter_message(response="utter_crisis_care")
        key = message_key(tracker)
        metadata = (tracker.latest_message or {}).get("metadata") or {}
        # The bot's safety net sends "/crisis" in place of the words it caught.
        detected_by = "safety_net" if metadata.get("bw_detected_by") == "safety_net" else "nlu"

        def work(session) -> patients.CrisisHelp:
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return patients.CrisisHelp([], [])
            safety_events.record_event(
                session=session,
                patient_id=patient.id,
                kind="crisis",
                detected_by=detected_by,
                dedupe_key=f"crisis:{key}",
            )
            return patients.crisis_help(session=session, patient_id=patient.id)

        try:
            help_ = await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
            help_ = patients.CrisisHelp([], [])
        if help_.resources:
            dispatcher.utter_message(response="utter_crisis_resources", resources=bullets(help_.resources))
        else:
            dispatcher.utter_message(response="utter_crisis_resources_fallback")
        if help_.safety_plan:
            # The therapist's and patient's own words, worded around in data/content/bot.yml.
            dispatcher.utter_message(text=say("crisis_safety_plan", plan=bullets(help_.safety_plan)))
        dispatcher.utter_message(response="utter_crisis_not_monitored")
        # Whatever was under way is suspended.
        return [ActiveLoop(None)] + [SlotSet(slot, None) for slot in FORM_SLOTS]
