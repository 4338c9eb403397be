"""A task the therapist set in Telegram, brought to the patient (the scheduler triggers
EXTERNAL_new_task): the therapist's rationale and the steps, how much they expect it to
help, when they'll do it (which sets its reminder), and what might get in the way. An
obstacle named then runs its script ahead of time (rules/barriers.yml), ending in a plan."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import store
from actions.common import Asked, entity, find_task, message_key, task_steps
from data import introductions, schedule_changes, tasks
from data.library import task_templates
from data.timeparse import clock_string

log = logging.getLogger(__name__)

# What the time buttons carry (utter_ask_task_time): "HHMM", or "keep" for the therapist's times.
KEEP = "keep"


class ActionIntroduceTask(Action):
    def name(self) -> str:
        return "action_introduce_task"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)

        def work(session):
            found = find_task(session, asked, use_slot=False)
            if found.task is None:
                return None
            task = found.task
            # Seen before: this is a change the therapist made (data/tasks.py retell).
            changed = not tasks.mark_rationale_shown(session=session, assignment_id=task.id)
            template = task_templates().get(task.template)
            return {
                "task_id": task.task_id,
                "title": task.title,
                "rationale": task.rationale,
                "why": template.why if template else "",
                "steps": task_steps(task),
                "minutes": str(task.minutes or (template.minutes if template else "")),
                "expected": task.expected_helpfulness,
                "changed": changed,
            }

        found = await store.run_or_apologise(dispatcher, self.name(), work)
        if found is store.UNAVAILABLE or found is None:
            return []
        title = found["title"].lower()
        dispatcher.utter_message(
            response="utter_changed_task" if found["changed"] else "utter_new_task",
            task_title=found["title"],
            rationale=found["rationale"],
            why=found["why"],
            minutes=found["minutes"],
        )
        if found["steps"]:
            dispatcher.utter_message(response="utter_new_task_steps", steps=found["steps"])
        if found["expected"] is None:
            dispatcher.utter_message(response="utter_ask_expectation", task_title=title)
            return [SlotSet("task_id", found["task_id"]), SlotSet("introducing", True)]
        dispatcher.utter_message(response="utter_ask_task_time")
        return [
            SlotSet("task_id", found["task_id"]),
            SlotSet("introducing", False),
            SlotSet("planning_time", True),
        ]


class ActionSaveTaskTime(Action):
    """The time of day they chose, pressed or typed ("7pm", "after work"): the task's reminder
    moves there (inside their waking hours, as every reminder), then: what might get in the
    way? A typed answer with no time in it is asked once more; after that the therapist's
    times are kept, said so, and the conversation goes on. An obstacle with no time in it
    ("evenings are hopeless") goes to its script (rules/barriers.yml) instead."""

    def name(self) -> str:
        return "action_save_task_time"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        asked = Asked.of(tracker)
        chosen = entity(tracker, "clock")
        typed = asked.text or ""
        # Read as an obstacle, only a time of the clock is an answer: "evenings are hopeless"
        # names a part of the day, but as the trouble, not the plan.
        obstacle = (asked.intent or "").startswith("barrier_")
        if chosen is not None:
            clock = _clock(chosen)
        else:
            clock = None if typed.startswith("/") else clock_string(typed, phrases=not obstacle)
        gave_up = False
        if clock is None and chosen != KEEP:
            if obstacle:
                return [
                    SlotSet("planning_time", False),
                    SlotSet("time_missed", False),
                    FollowupAction("action_barrier_script"),
                ]
            if not tracker.get_slot("time_missed"):
                dispatcher.utter_message(response="utter_ask_task_time_again")
                return [SlotSet("planning_time", True), SlotSet("time_missed", True)]
            gave_up = True
        key = message_key(tracker)

        def work(session):
            found = find_task(session, asked)
            if found.task is None or found.patient is None:
                return None
            if clock is not None:
                schedule_changes.request(
                    session=session,
                    patient_id=found.patient.id,
                    kind="move",
                    assignment_id=found.task.id,
                    clock=clock,
                    dedupe_key=f"plan-time:{key}",
                )
            introductions.plan_when(session=session, assignment_id=found.task.id, when=clock or KEEP)
            return found.task.title

        title = await store.run_or_apologise(dispatcher, self.name(), work)
        if title is store.UNAVAILABLE:
            return []
        if title is None:
            dispatcher.utter_message(response="utter_no_tasks")
            return [SlotSet("planning_time", False), SlotSet("time_missed", False)]
        if clock is not None:
            dispatcher.utter_message(response="utter_task_time_saved", time=clock)
        else:
            dispatcher.utter_message(response="utter_task_time_left" if gave_up else "utter_task_time_kept")
        dispatcher.utter_message(response="utter_ask_obstacle_ahead", task_title=title.lower())
        return [SlotSet("planning_time", False), SlotSet("time_missed", False)]


def _clock(chosen: str) -> str | None:
    """ "0830" -> "08:30"; anything else (a forged or stale payload) -> None."""
    if len(chosen) != 4 or not chosen.isdecimal() or int(chosen[:2]) > 23 or int(chosen[2:]) > 59:
        return None
    return f"{chosen[:2]}:{chosen[2:]}"
