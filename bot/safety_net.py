"""Crisis language caught before the NLU, from a lexicon a clinic can extend."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

LEXICON = Path(__file__).resolve().parent.parent / "data" / "safety" / "crisis_lexicon.yml"


@dataclass(frozen=True)
class Detection:
    category: str


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'")
    # "sooooo" → "soo": stretched letters shouldn't hide words.
    text = re.sub(r"(.)\1{2,}", r"\1\1", text)
    return re.sub(r"\s+", " ", text)


@lru_cache(maxsize=1)
def _compiled() -> tuple[list[tuple[str, re.Pattern[str]]], list[re.Pattern[str]]]:
    raw = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    patterns = [
        (category, re.compile(p, re.IGNORECASE)) for category, items in raw["patterns"].items() for p in items
    ]
    idioms = [re.compile(p, re.IGNORECASE) for p in raw.get("idioms", [])]
    return patterns, idioms


def detect(text: str) -> Detection | None:
    clean = normalise(text)
    patterns, idioms = _compiled()
    idiom_spans = [m.span() for idiom in idioms for m in idiom.finditer(clean)]
    for category, pattern in patterns:
        for match in pattern.finditer(clean):
            start, end = match.span()
            if not any(s <= start and end <= e for s, e in idiom_spans):
                return Detection(category)
    return None
