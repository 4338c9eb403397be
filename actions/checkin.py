"""Check-ins: opening one, logging how it went, the details after "done", "later"."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import store
from actions.common import (
    FORM_SLOTS,
    Asked,
    entity,
    find_task,
    latest_whole,
    number_in,
    task_steps,
    which_task_buttons,
)
from actions.forms import BridgeworkFormValidation
from actions.rationale import rationale_messages
from actions.worksheets import start_worksheet
from data import checkins, schedule_changes, tasks
from data.models import utcnow
from data.timeparse import next_occurrence

log = logging.getLogger(__name__)

_STATUS_BY_INTENT = {
    "report_done": "done",
    "report_partial": "partial",
    "report_not_done": "not_done",
    # Only ever heard here as the answer to the check-in's question (rules/checkin.yml).
    "deny": "not_done",
}
_SKIP_WORDS = {"skip", "no", "nope", "nothing", "nah", "not really", "no thanks"}


class ActionStartCheckin(Action):
    """Opens a check-in on one task: asked for by the patient, or a scheduled nudge."""

    def name(self) -> str:
        return "action_start_checkin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        nudge = asked.intent == "EXTERNAL_checkin"

        def work(session):
            found = find_task(session, asked, use_slot=False)
            if found.task is None:
                return found, None
            # A discreet nudge names no task; the rationale waits for the patient's answer.
            first = False if nudge and found.patient.discreet else found.task.rationale_shown_at is None
            if first:
                tasks.mark_rationale_shown(session=session, assignment_id=found.task.id)
            return found, rationale_messages(found.task) if first else None

        result = await store.run_or_apologise(dispatcher, self.name(), work)
        if result is store.UNAVAILABLE:
            return []
        found, rationale = result
        if found.patient is None or not found.tasks:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        if found.task is None:
            dispatcher.utter_message(
                response="utter_which_task", buttons=which_task_buttons("ask_checkin", found.tasks)
            )
            return []
        for message in rationale or []:
            dispatcher.utter_message(**message)
        discreet = nudge and found.patient.discreet
        prompt = (
            "utter_checkin_followup"
            if nudge and entity(tracker, "nudge") == "follow_up"
            else "utter_checkin_prompt"
        )
        dispatcher.utter_message(
            response=f"{prompt}_discreet" if discreet else prompt,
            name=found.patient.display_name,
            task_title=found.task.title.lower(),
        )
        return [SlotSet("task_id", found.task.task_id)]


class ActionLogCheckin(Action):
    """Writes what the patient reported at once, so it's never lost, then the flow goes on."""

    def name(self) -> str:
        return "action_log_checkin"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        intent = asked.intent or ""
        status = _STATUS_BY_INTENT.get(intent)
        if status is None:
            dispatcher.utter_message(response="utter_default")
            return [SlotSet("checkin_logged", False)]

        def work(session):
            found = find_task(session, asked)
            if found.task is None:
                return found, None, None
            row, _ = checkins.record_checkin(
                session=session, assignment_id=found.task.id, status=status, dedupe_key=asked.key
            )
            first = tasks.mark_rationale_shown(session=session, assignment_id=found.task.id)
            return found, row.id, rationale_messages(found.task) if first else None

        result = await store.run_or_apologise(dispatcher, self.name(), work)
        if result is store.UNAVAILABLE:
            return [SlotSet("checkin_logged", False)]
        found, checkin_id, rationale = result
        if found.patient is None or not found.tasks:
            dispatcher.utter_message(response="utter_no_tasks")
            return [SlotSet("checkin_logged", False)]
        if found.task is None:
            dispatcher.utter_message(
                response="utter_which_task", buttons=which_task_buttons(intent, found.tasks)
            )
            return [SlotSet("checkin_logged", False)]
        dispatcher.utter_message(response=f"utter_checkin_{status}", task_title=found.task.title.lower())
        for message in rationale or []:
            dispatcher.utter_message(**message)
        return [
            SlotSet("task_id", found.task.task_id),
            SlotSet("checkin_id", float(checkin_id)),
            SlotSet("checkin_logged", True),
        ] + [SlotSet(slot, None) for slot in FORM_SLOTS if slot != "requested_slot"]


class ValidateCheckinDetailsForm(BridgeworkFormValidation):
    def name(self) -> str:
        return "validate_checkin_details_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        # Nothing to share when the patient skipped the note.
        if tracker.get_slot("reflection") == "-":
            return [s for s in domain_slots if s != "reflection_shared"]
        return domain_slots

    def _rating(self, slot: str, value: Any, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        rating = number_in(str(value or ""), 1, 5)
        if rating is None:
            dispatcher.utter_message(response="utter_rating_invalid")
            return {slot: None}
        return {slot: str(rating)}

    def validate_helpfulness(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._rating("helpfulness", value, dispatcher)

    def validate_difficulty(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return self._rating("difficulty", value, dispatcher)

    def validate_reflection(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = latest_whole(tracker, value)
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if not text or text == "/deny" or intent == "deny" or text.lower().strip(".!") in _SKIP_WORDS:
            return {"reflection": "-", "reflection_shared": False}
        return {"reflection": text}


class ActionSaveCheckinDetails(Action):
    """Stores the ratings and note, then a short, specific celebration."""

    def name(self) -> str:
        return "action_save_checkin_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        checkin_id = tracker.get_slot("checkin_id")
        helpfulness = number_in(tracker.get_slot("helpfulness"), 1, 5)
        difficulty = number_in(tracker.get_slot("difficulty"), 1, 5)
        reflection = tracker.get_slot("reflection")
        reflection = None if reflection in (None, "-") else reflection
        shared = bool(tracker.get_slot("reflection_shared"))
        asked = Asked.of(tracker)

        def work(session):
            found = find_task(session, asked)
            if checkin_id is not None and found.patient is not None:
                saved = checkins.update_details(
                    session=session,
                    checkin_id=int(checkin_id),
                    patient_id=found.patient.id,
                    helpfulness=helpfulness,
                    difficulty=difficulty,
                    reflection=reflection,
                    reflection_shared=shared,
                )
                if not saved:
                    log.warning("check-in %s refused: not one of the sender's own", checkin_id)
            if found.task is None:
                return None
            return checkins.week_progress(session=session, assignment=found.task, now=utcnow())

        progress = await store.run_or_apologise(dispatcher, self.name(), work)
        if progress is store.UNAVAILABLE:
            return []
        if progress is not None:
            done, planned = progress
            if planned:
                dispatcher.utter_message(response="utter_celebrate", done=done, planned=planned)
            else:
                dispatcher.utter_message(response="utter_celebrate_no_plan", done=done)
        return [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionListTasks(Action):
    def name(self) -> str:
        return "action_list_tasks"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)

        def work(session):
            return [(t.title, t.minutes) for t in find_task(session, asked).tasks]

        found = await store.run_or_apologise(dispatcher, self.name(), work)
        if found is store.UNAVAILABLE:
            return []
        if not found:
            dispatcher.utter_message(response="utter_no_tasks")
            return []
        lines = "\n".join(f"• {title}" + (f" ({minutes} min)" if minutes else "") for title, minutes in found)
        dispatcher.utter_message(response="utter_task_list", task_lines=lines)
        return []


class ActionDoNow(Action):
    """Not done yet, and the patient wants to do it now: a guided worksheet when
    the task has one, otherwise the therapist's steps, and we wait."""

    def name(self) -> str:
        return "action_do_now"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)

        def work(session):
            started, found = start_worksheet(session, asked)
            if started or found.task is None:
                return started, None
            return False, task_steps(found.task) or found.task.title

        result = await store.run_or_apologise(dispatcher, self.name(), work)
        if result is store.UNAVAILABLE:
            return [SlotSet("worksheet_active", False)]
        started, instructions = result
        if started:
            return [SlotSet("worksheet_active", True), SlotSet("worksheet_answer", None)]
        if instructions is None:
            dispatcher.utter_message(response="utter_no_tasks")
        else:
            dispatcher.utter_message(response="utter_do_now", instructions=instructions)
        return [SlotSet("worksheet_active", False)]


class ValidateLaterForm(BridgeworkFormValidation):
    def name(self) -> str:
        return "validate_later_form"

    async def validate_later_time(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        asked = Asked.of(tracker)

        def timezone(session):
            found = find_task(session, asked)
            return found.patient.timezone if found.patient else "UTC"

        try:
            tz = ZoneInfo(await store.run(timezone))
        except SQLAlchemyError:
            tz = ZoneInfo("UTC")
        when = next_occurrence(str(value or ""), dt.datetime.now(tz))
        if when is None:
            dispatcher.utter_message(response="utter_time_not_understood")
            return {"later_time": None}
        return {"later_time": when.astimezone(dt.timezone.utc).isoformat()}


class ActionSaveLater(Action):
    """Asks the scheduler, through a row, for a one-off check-in at the chosen time."""

    def name(self) -> str:
        return "action_save_later"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        at = dt.datetime.fromisoformat(tracker.get_slot("later_time"))

        def work(session):
            found = find_task(session, asked)
            if found.task is None:
                return None
            schedule_changes.request(
                session=session,
                patient_id=found.patient.id,
                assignment_id=found.task.id,
                kind="once",
                at=at,
                dedupe_key=f"later:{asked.key}",
            )
            return found.patient.timezone

        tz = await store.run_or_apologise(dispatcher, self.name(), work)
        if tz is store.UNAVAILABLE:
            return []
        if tz is None:
            dispatcher.utter_message(response="utter_no_tasks")
        else:
            local = at.astimezone(ZoneInfo(tz)).strftime("%H:%M")
            dispatcher.utter_message(response="utter_later_confirmed", time=local)
        return [SlotSet("later_time", None)]
