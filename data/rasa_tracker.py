"""Erasing a conversation from Rasa's SQL tracker store.

Rasa's HTTP API can replace a tracker's events but its SQL store only ever
appends, so erasure deletes the rows itself. The table is Rasa's; this module
only knows the columns it needs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Float, MetaData, String, Table, delete, inspect

from data.db import make_engine

_events = Table("events", MetaData(), Column("sender_id", String(255)), Column("timestamp", Float))


def erase_conversation(tracker_url: str, sender_id: str) -> int:
    engine = make_engine(tracker_url)
    try:
        if not inspect(engine).has_table("events"):
            return 0
        with engine.begin() as connection:
            return connection.execute(delete(_events).where(_events.c.sender_id == sender_id)).rowcount
    finally:
        engine.dispose()


def prune_conversations(tracker_url: str, before: dt.datetime) -> int:
    """Delete Rasa's events older than `before` (every conversation): the clinic's retention."""
    engine = make_engine(tracker_url)
    try:
        if not inspect(engine).has_table("events"):
            return 0
        with engine.begin() as connection:
            return connection.execute(
                delete(_events).where(_events.c.timestamp < before.timestamp())
            ).rowcount
    finally:
        engine.dispose()
