"""Small helpers every action uses: who is talking, and which message this is."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

log = logging.getLogger(__name__)


def message_key(tracker: Tracker) -> str:
    """A key for the latest user message that survives retries.

    The bot sends its own id for every message (its inbox id) as metadata; a
    message Rasa receives twice then writes its check-in once.
    """
    latest = tracker.latest_message or {}
    metadata: dict[str, Any] = latest.get("metadata") or {}
    key = metadata.get("bw_message_id") or latest.get("message_id") or "none"
    return f"{tracker.sender_id}:{key}"


def requested_task_id(tracker: Tracker) -> str | None:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "task_id" and entity.get("value"):
            return str(entity["value"])
    value = tracker.get_slot("task_id")
    return str(value) if value else None
