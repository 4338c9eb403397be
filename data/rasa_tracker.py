"""Reading and erasing a conversation in Rasa's SQL tracker store.

Rasa's HTTP API can replace a tracker's events but its SQL store only ever
appends, so erasure deletes the rows itself. The table is Rasa's (SQLTrackerStore
in Rasa 3.6: id, sender_id, type_name, timestamp, intent_name, action_name, data);
this module only knows the columns it needs. Each event's `data` is the JSON of
the whole event as Rasa serialised it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from data.db import make_engine, normalise_url

_events = Table(
    "events",
    MetaData(),
    Column("id", Integer),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("data", Text),
    Column("timestamp", Float),
)


def erase_conversation(tracker_url: str, sender_id: str) -> int:
    engine = make_engine(tracker_url)
    try:
        if not inspect(engine).has_table("events"):
            return 0
        with engine.begin() as connection:
            return connection.execute(delete(_events).where(_events.c.sender_id == sender_id)).rowcount
    finally:
        engine.dispose()


def read_conversation(tracker_url: str, sender_id: str) -> list[dict[str, Any]]:
    """Every event Rasa holds for this sender, oldest first, as Rasa serialised it."""
    engine = reader(tracker_url)
    if engine is None:
        return []
    try:
        if not inspect(engine).has_table("events"):
            return []
        with engine.connect() as connection:
            rows = connection.execute(
                select(_events.c.data).where(_events.c.sender_id == sender_id).order_by(_events.c.id)
            )
            return [json.loads(data) for (data,) in rows if data]
    finally:
        engine.dispose()


# The events a reader of the conversation's latest turns needs: what was said, and where a
# new session began.
_TURN_EVENTS = ("user", "bot", "session_started")


def latest_turn_events(reader: Engine, sender_id: str, limit: int) -> list[dict[str, Any]]:
    """This sender's newest `limit` user, bot and session-start events, newest first (none
    while Rasa has not made its table yet). One query: it runs on every typed message."""
    try:
        with reader.connect() as connection:
            rows = connection.execute(
                select(_events.c.data)
                .where(_events.c.sender_id == sender_id, _events.c.type_name.in_(_TURN_EVENTS))
                .order_by(_events.c.id.desc())
                .limit(limit)
            ).all()
    except SQLAlchemyError:
        if not inspect(reader).has_table("events"):
            return []
        raise
    return [json.loads(data) for (data,) in rows if data]


def reader(tracker_url: str) -> Engine | None:
    """An engine that only reads Rasa's store: a SQLite file is opened read-only (not created
    if missing, its journal mode left as it is), a PostgreSQL session is read-only."""
    url = make_url(normalise_url(tracker_url))
    if url.get_backend_name() != "sqlite":
        return make_engine(tracker_url).execution_options(postgresql_readonly=True)
    if not url.database or not Path(url.database).exists():
        return None  # Rasa has stored nothing yet
    path = Path(url.database).resolve()
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"uri": True, "timeout": 30})


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
