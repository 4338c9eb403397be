"""When the coach doesn't understand, and when the patient wants to stop a flow."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import FORM_SLOTS


def misunderstandings_in_a_row(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        count += 1
    return count


class ActionFallback(Action):
    """Ask to rephrase once; after two misunderstandings in a row, offer buttons."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if misunderstandings_in_a_row(tracker) >= 2:
            dispatcher.utter_message(response="utter_fallback_buttons")
        else:
            dispatcher.utter_message(response="utter_default")
        return []


class ActionStopForm(Action):
    def name(self) -> str:
        return "action_stop_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        in_worksheet = (tracker.active_loop or {}).get("name") == "worksheet_form"
        dispatcher.utter_message(response="utter_worksheet_stopped" if in_worksheet else "utter_stopped")
        return [ActiveLoop(None)] + [SlotSet(slot, None) for slot in FORM_SLOTS]
