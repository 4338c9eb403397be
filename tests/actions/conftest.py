"""Actions run for real against a real database, with trackers built as Rasa sends them."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

import actions.store
from actions.worksheets import ValidateWorksheetForm
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Assignment, Patient, utcnow
from data.plan_schema import load_plan
from data.settings import get_settings

FIXTURES = Path(__file__).parent.parent / "fixtures"
_ids = itertools.count(1)


@pytest.fixture
def linked(sessions, db_url, monkeypatch):
    """The fixture plan applied, Alex (p-100) linked and consenting; returns sender ids."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    actions.store._factory.cache_clear()
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        senders = {}
        for patient in session.scalars(select(Patient)):
            patient.consented_at = patient.linked_at = utcnow()
            patient.telegram_user_id = patient.telegram_chat_id = 1000 + len(senders)
            senders[patient.id] = patient.sender_id
    yield senders
    actions.store._factory.cache_clear()
    get_settings.cache_clear()


def task(sessions, task_id: str) -> Assignment:
    with sessions() as session:
        return session.scalar(select(Assignment).where(Assignment.task_id == task_id))


def tracker(
    sender: str,
    text: str,
    intent: str,
    *,
    entities: dict[str, str] | None = None,
    slots: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    metadata: dict[str, str] | None = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [{"entity": k, "value": v} for k, v in (entities or {}).items()],
        "message_id": f"m{next(_ids)}",
        "metadata": {"bw_message_id": f"tg{next(_ids)}", **(metadata or {})},
    }
    events = list(history or []) + [{"event": "user", "text": text, "parse_data": latest}]
    return Tracker(sender, dict(slots or {}), latest, events, False, None, {}, "action_listen")


def run(action, tracker: Tracker, domain: dict | None = None) -> tuple[list[dict], list[dict]]:
    """(events, messages) from one real run of the action."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return events, dispatcher.messages


def responses(messages: list[dict]) -> list[str]:
    return [m.get("response") for m in messages]


def slots_set(events: list[dict]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def answer_worksheet(sender: str, text: str, slots: dict[str, Any] | None = None):
    """(slots the form sets, dispatcher) after one answer to the open worksheet."""
    form = ValidateWorksheetForm()
    dispatcher = CollectingDispatcher()
    t = tracker(sender, text, "inform", slots=slots)
    return asyncio.run(form.validate_worksheet_answer(text, dispatcher, t, {})), dispatcher
