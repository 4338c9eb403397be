"""Crisis language the bot's own nets let through, heard by the NLU.

The bot answers clear risk itself, before Rasa (bot/crisis_care.py), and only
tells Rasa afterwards (`crisis_handled`) so that whatever flow was under way is
suspended. What reaches the NLU's `crisis` intent alone is possible risk: it gets
the one question, with the same buttons the bot uses; the bot hears the answer.
"No" comes back as `carry_on`, and the conversation picks up where it was.

The NLU is not alone when the bot's lexicon read the same risk words and judged
them negated, figurative or a topic ("im not suicidal, just tired", "could have
killed him for spoiling the ending"): the bot says so in the message's metadata,
and the lexicon, which reads the "not", is believed. The patient gets a kind word
with the crisis numbers a tap away, not a question.
"""

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
from data.wording import risk_question

log = logging.getLogger(__name__)

# The question asked without a record (the database is down): its buttons carry no id.
NO_RECORD = 0


class ActionCrisisCheck(Action):
    def name(self) -> str:
        return "action_crisis_check"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        key = message_key(tracker)
        metadata = (tracker.latest_message or {}).get("metadata") or {}
        if metadata.get("bw_crisis_excused"):
            log.info("crisis intent overruled: the lexicon read those words as not a current risk")
            dispatcher.utter_message(response="utter_crisis_excused")
            return []

        def work(session) -> int:
            patient = patients.by_sender(session=session, sender_id=tracker.sender_id)
            if patient is None:
                return NO_RECORD
            return safety_events.record_risk_check(
                session=session, patient_id=patient.id, raised_by="nlu", message_key=key
            )

        try:
            event_id = await store.run(work)
        except SQLAlchemyError:
            # Asked all the same: the question must never wait on the database.
            log.exception("database unavailable in %s", self.name())
            event_id = NO_RECORD
        log.warning("crisis question asked (raised by nlu)")
        text, buttons = risk_question(event_id)
        dispatcher.utter_message(text=text, buttons=[{"title": t, "payload": p} for t, p in buttons])
        # Whatever was under way stays where it was: "No" carries on from there.
        return []


class ActionCrisisSuspend(Action):
    """The bot gave the crisis response: whatever was under way is suspended, silently."""

    def name(self) -> str:
        return "action_crisis_suspend"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [ActiveLoop(None)] + [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionCarryOn(Action):
    """ "No" to the crisis question: nothing to say here (the bot said it); a form that
    was under way asks its question again (the rules run it next)."""

    def name(self) -> str:
        return "action_carry_on"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return []
