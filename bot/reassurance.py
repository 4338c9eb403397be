"""Recognising a quick "I'm fine" after a crisis response (patterns in data/safety/reassurance.yml)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from bot.crisis.text import normalise

PATTERNS = Path(__file__).resolve().parent.parent / "data" / "safety" / "reassurance.yml"


@lru_cache(maxsize=1)
def _compiled() -> re.Pattern[str]:
    """One or more of the phrases in a row ("nvm forget it", "im ok dont worry")."""
    raw = yaml.safe_load(PATTERNS.read_text(encoding="utf-8"))
    phrase = "|".join(f"(?:{p})" for p in raw["patterns"])
    return re.compile(rf"(?:{phrase})(?:\s+(?:{phrase}))*")


def is_reassurance(text: str) -> bool:
    """The whole message is a brush-off such as "im fine honestly" or "im ok, forget it lol":
    every clause of it, so "im fine but i still want to..." is not."""
    clean = normalise(text).replace("'", "")
    clean = re.sub(r"\b(lol|haha+|x+|honestly|really|seriously|tbh|i promise|promise)\b", " ", clean)
    clauses = [
        re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", c)).strip() for c in re.split(r"[,.!?;]+|\band\b", clean)
    ]
    clauses = [c for c in clauses if c]
    return bool(clauses) and all(_compiled().fullmatch(c) for c in clauses)
