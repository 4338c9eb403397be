"""How the crisis nets read a message: one normalisation, shared by all of them."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile("['’‘`´ʼ]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
STRETCHED = re.compile(r"(.)\1{2,}")
# Where a long message turns to something else: a sentence end, a line break, or
# the words people use to change subject mid-message.
_TURNS = re.compile(r"(?<=[.!?;])\s+|\n+|\s+(?:but|anyway|anyways|also|tbh|btw|and\s+then|and\s+honestly)\s+")
# A part this short says too little to be read alone.
_MIN_WORDS = 3


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped ("don't" → "dont", as many people type anyway),
    invisible characters removed, letters stretched three or more times cut to two
    ("sooooo" → "soo"), spacing squeezed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _INVISIBLE.sub("", text)
    text = _APOSTROPHES.sub("", text)
    text = STRETCHED.sub(r"\1\1", text)
    return re.sub(r"\s+", " ", text).strip()


def squeezed(text: str) -> str | None:
    """The message with stretched letters cut to one ("diiie" → "die"), if it had any."""
    lowered = text.lower()
    if not STRETCHED.search(lowered):
        return None
    return normalise(STRETCHED.sub(r"\1", lowered))


def parts(text: str) -> list[str]:
    """The sentences of a message that has several, so that one line buried in a long
    homework update is read on its own as well as in the whole; [] for a short one."""
    found = [p.strip() for p in _TURNS.split(text) if p and len(p.split()) >= _MIN_WORDS]
    return found if len(found) > 1 else []
