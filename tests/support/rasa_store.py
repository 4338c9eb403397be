"""Rasa's SQL tracker store as Rasa 3.6 writes it, for tests that don't run Rasa.

The `events` table has SQLTrackerStore's columns (rasa/core/tracker_store.py: id,
sender_id, type_name, timestamp, intent_name, action_name, data), and each row's
`data` is the event's JSON the way Rasa's `Event.as_dict()` makes it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, insert

events = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def user(text: str | None, intent: str, *, entities: list[dict] | None = None, **metadata: Any) -> dict:
    return {
        "event": "user",
        "timestamp": time.time(),
        "metadata": metadata,
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.97},
            "entities": entities or [],
            "text": text,
            "message_id": "m1",
            "metadata": metadata,
            "intent_ranking": [{"name": intent, "confidence": 0.97}],
        },
        "input_channel": "bridgework",
        "message_id": "m1",
    }


def bot(text: str, *titles: str, buttons: list[dict] | None = None) -> dict:
    """Words with buttons: each title's payload its intent, or the `buttons` given whole."""
    data = {"elements": None, "quick_replies": None, "attachment": None, "image": None, "custom": None}
    data["buttons"] = buttons or [{"title": b, "payload": f"/{b.lower()}"} for b in titles] or None
    return {"event": "bot", "timestamp": time.time(), "metadata": {}, "text": text, "data": data}


def slot(name: str, value: Any) -> dict:
    return {"event": "slot", "timestamp": time.time(), "name": name, "value": value}


def action(name: str) -> dict:
    return {
        "event": "action",
        "timestamp": time.time(),
        "name": name,
        "policy": "RulePolicy",
        "confidence": 1.0,
        "action_text": None,
        "hide_rule_turn": False,
    }


def store(url: str, sender_id: str, *conversation: dict) -> None:
    """Write the events the way SQLTrackerStore.save does, creating the table if needed."""
    engine = create_engine(url)
    events.metadata.create_all(engine)
    rows = [
        {
            "sender_id": sender_id,
            "type_name": e["event"],
            "timestamp": e["timestamp"],
            "intent_name": (e.get("parse_data") or {}).get("intent", {}).get("name"),
            "action_name": e.get("name"),
            "data": json.dumps(e),
        }
        for e in conversation
    ]
    with engine.begin() as connection:
        connection.execute(insert(events), rows)
    engine.dispose()


def senders(url: str) -> list[str]:
    """The sender id of every event in the store, in order."""
    engine = create_engine(url)
    with engine.connect() as connection:
        found = [r.sender_id for r in connection.execute(events.select().order_by(events.c.id))]
    engine.dispose()
    return found
