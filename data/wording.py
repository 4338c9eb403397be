"""Bridgework's own wording outside the Rasa domain, from data/content/bot.yml."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CONTENT_FILE = Path(__file__).resolve().parent / "content" / "bot.yml"


@lru_cache(maxsize=1)
def content() -> dict[str, Any]:
    with CONTENT_FILE.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def say(key: str, **values: str) -> str:
    text: str = content()[key]
    return text.format(**values) if values else text


def bullets(lines: list[str]) -> str:
    """Lines as a bulleted list, the way crisis resources and safety plans are shown."""
    return "\n".join(f"• {line}" for line in lines)


# The answers to the crisis question, in the order their buttons are shown.
RISK_ANSWERS = ("yes", "no", "unsure")
RISK_PREFIX = "bw:risk:"
CRISIS_NUMBERS = "bw:crisis:resources"


def risk_question(event_id: int, category: str | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The one question asked on possible risk, and its buttons as (title, payload): Yes, No,
    Not sure, each carrying the question's id, then the crisis numbers. The bot (its own
    nets) and the action server (the NLU's) both ask it with this."""
    questions = content()["risk_question"]
    labels = content()["risk_buttons"]
    buttons = [(labels[answer], f"{RISK_PREFIX}{answer}:{event_id}") for answer in RISK_ANSWERS]
    buttons.append((say("crisis_numbers_button"), CRISIS_NUMBERS))
    return questions.get(category or "default", questions["default"]), buttons


def parse_risk_answer(payload: str) -> tuple[str, int] | None:
    """(answer, question id) from a crisis question's button, or None if it isn't one."""
    if not payload.startswith(RISK_PREFIX):
        return None
    answer, _, event = payload[len(RISK_PREFIX) :].partition(":")
    if answer not in RISK_ANSWERS or not event.isdecimal() or len(event) > 18:
        return None
    return answer, int(event)
