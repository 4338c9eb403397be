"""When the coach doesn't understand, and when the patient wants to stop a flow."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import FORM_SLOTS

log = logging.getLogger(__name__)

# A miss: the NLU unsure, or "something else" pressed among the offered meanings.
MISSES = ("nlu_fallback", "something_else")
# At most this many meanings are offered, each at least this likely (the NLU's confidence).
MOST_OFFERED = 3
LEAST_LIKELY = 0.05
# What a meaning's button carries besides its intent: marks it as chosen (bot/dialogue.py logs it).
PICKED = "picked"


def misunderstandings_in_a_row(tracker: Tracker) -> int:
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in MISSES:
            break
        count += 1
    return count


def offered_meanings(ranking: list[dict[str, Any]], responses: dict[str, Any]) -> list[str]:
    """Of the NLU's ranking, the intents offered as buttons: most likely first, likely enough,
    with plain words to offer them with (utter_meaning_* in the domain), never a miss.
    Also how tests/perf/nlu_report.py counts a meaning as understood within one turn."""
    found = [
        str(item.get("name"))
        for item in ranking
        if item.get("name") not in MISSES
        and f"utter_meaning_{item.get('name')}" in responses
        and float(item.get("confidence") or 0.0) >= LEAST_LIKELY
    ]
    return found[:MOST_OFFERED]


def likely_meanings(tracker: Tracker, domain: DomainDict) -> list[str]:
    """The meanings the NLU hesitated between on the latest message (offered_meanings)."""
    ranking = (tracker.latest_message or {}).get("intent_ranking") or []
    return offered_meanings(ranking, domain.get("responses") or {})


def meaning_buttons(meanings: list[str], domain: DomainDict) -> list[dict[str, str]]:
    responses = domain.get("responses") or {}
    buttons = [
        {
            "title": responses[f"utter_meaning_{name}"][0]["text"],
            "payload": f"/{name}{json.dumps({PICKED: str(rank)}, separators=(',', ':'))}",
        }
        for rank, name in enumerate(meanings, start=1)
    ]
    other = responses["utter_meaning_something_else"][0]["text"]
    return [*buttons, {"title": other, "payload": "/something_else"}]


class ActionFallback(Action):
    """Unsure once: the likely meanings as buttons in plain words, and "something else"
    (or, with nothing likely, a request to say it another way). A second miss in a row:
    an honest handover with what the patient can do; later misses alternate two wordings,
    so the same sentence never comes twice running."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        misses = misunderstandings_in_a_row(tracker)
        if misses >= 2:
            handover = "utter_fallback_buttons" if misses % 2 == 0 else "utter_fallback_handover"
            dispatcher.utter_message(response=handover)
            return []
        meanings = likely_meanings(tracker, domain)
        if not meanings:
            dispatcher.utter_message(response="utter_default")
            return []
        # Intent names only, never the words: how often each confusion happens can be counted.
        log.info("fallback offered meanings: %s", ",".join(meanings))
        dispatcher.utter_message(response="utter_did_you_mean", buttons=meaning_buttons(meanings, domain))
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
