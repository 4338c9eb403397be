"""Pushback met in a motivational-interviewing style, and reminders the patient moves."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import FORM_SLOTS, Asked, entity, find_task, number_in, patient_words
from data import safety_events, schedule_changes, tasks
from data.models import utcnow
from data.timeparse import clock_string, parse_duration_days

log = logging.getLogger(__name__)


class ActionResistance(Action):
    """Reflect, respect autonomy, ask permission; never the task in the same turn."""

    def name(self) -> str:
        return "action_resistance"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        words = patient_words(tracker)

        def work(session):
            found = find_task(session, asked)
            if found.patient is None:
                return
            safety_events.record_event(
                session=session,
                patient_id=found.patient.id,
                kind="resistance",
                detected_by="nlu",
                dedupe_key=f"resistance:{asked.key}",
                words=words,
            )
            # The task under discussion, or all of them when pushback is general.
            targets = [found.task] if found.task and asked.slot_task_id else found.tasks
            tasks.back_off(session=session, assignment_ids=[t.id for t in targets])

        try:
            await store.run(work)
        except SQLAlchemyError:
            log.exception("database unavailable in %s", self.name())
        dispatcher.utter_message(response="utter_resistance_reflect")
        dispatcher.utter_message(response="utter_resistance_autonomy")
        dispatcher.utter_message(response="utter_resistance_ruler")
        return [ActiveLoop(None)] + [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionResistanceFollowup(Action):
    def name(self) -> str:
        return "action_resistance_followup"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        rating = number_in(entity(tracker, "rating"), 0, 10)
        if rating is None or rating <= 2:
            dispatcher.utter_message(response="utter_resistance_low")
        else:
            dispatcher.utter_message(response="utter_resistance_high", rating=rating)
        return []


class ActionChangeReminder(Action):
    """ "Remind me at 7pm", "pause reminders for a week": written as rows for the scheduler."""

    def name(self) -> str:
        return "action_change_reminder"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        text = " ".join(filter(None, [entity(tracker, "time"), asked.text or ""]))
        lowered = text.lower()
        days = parse_duration_days(lowered)
        pausing = ("pause", "stop", "no reminder", "break", "off")
        pause = days is not None and any(word in lowered for word in pausing)
        clock = None if pause else clock_string(text)
        if not pause and clock is None:
            dispatcher.utter_message(response="utter_ask_reminder_time")
            return []

        def work(session):
            found = find_task(session, asked, use_slot=False)
            if found.patient is None:
                return None
            if pause:
                until = utcnow() + dt.timedelta(days=days)
                schedule_changes.request(
                    session=session,
                    patient_id=found.patient.id,
                    kind="pause",
                    at=until,
                    dedupe_key=f"pause:{asked.key}",
                )
                return until.astimezone(ZoneInfo(found.patient.timezone)).strftime("%A %d %B")
            schedule_changes.request(
                session=session,
                patient_id=found.patient.id,
                kind="move",
                clock=clock,
                dedupe_key=f"move:{asked.key}",
            )
            return clock

        result = await store.run_or_apologise(dispatcher, self.name(), work)
        if result is store.UNAVAILABLE:
            return []
        if result is None:
            dispatcher.utter_message(response="utter_no_tasks")
        elif pause:
            dispatcher.utter_message(response="utter_reminder_paused", until=result)
        else:
            dispatcher.utter_message(response="utter_reminder_changed", time=result)
        return []
