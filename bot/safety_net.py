"""Crisis language caught before the NLU, from a lexicon a clinic can extend.

How a message is read (data/safety/crisis_lexicon.yml holds every word list):

1. It is normalised: lower case, apostrophes dropped ("don't" → "dont", the
   way many people type anyway), spacing squeezed, letters stretched three or
   more times cut to two ("sooooo" → "soo"). If the message had stretched
   letters it is also read with them cut to one ("diiie" → "die").
2. Each pattern of each category is searched for. Patterns may use shared
   word lists written as {name} (see `fragments:` in the lexicon).
3. A match is excused only when it lies wholly inside
   - an *idiom* span ("this homework is killing me"), or
   - a *not-current-risk* span: risk that is negated ("im not suicidal"),
     over and done ("i used to self harm"), or a topic of study or fiction
     ("a documentary about suicide prevention"). Such a span stops excusing
     anything when the message goes on, after it, with a contrast or a return
     ("im not going to kill myself, but…", "…the urges are back"), unless the
     words right after the contrast are plainly reassuring ("…but its been
     years"): `contrast: reopen / reassuring` in the lexicon.
   Any other match raises the alarm, so a risk phrase elsewhere in the same
   message is never hidden by an idiom or a negation next to it.

4. If the lexicon finds nothing, a learned second net (bot/crisis_classifier.py)
   reads the message for phrasings no pattern was written for. It can only add
   alarms, never excuse one, and if it cannot load the lexicon carries on alone.

Err towards safety: a false alarm costs a kind message; a miss can cost a life.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

log = logging.getLogger(__name__)

LEXICON = Path(__file__).resolve().parent.parent / "data" / "safety" / "crisis_lexicon.yml"

_APOSTROPHES = re.compile("['’‘`´ʼ]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
_STRETCHED = re.compile(r"(.)\1{2,}")
_FRAGMENT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# An apostrophe in a pattern, with any quantifier on it: messages have none.
_PATTERN_APOSTROPHE = re.compile(r"'[?*+]?")


@dataclass(frozen=True)
class Detection:
    category: str


@dataclass(frozen=True)
class _Lexicon:
    patterns: list[tuple[str, re.Pattern[str]]]
    idioms: list[re.Pattern[str]]
    not_current: list[re.Pattern[str]]
    reopen: re.Pattern[str] | None
    reassuring: list[re.Pattern[str]]


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _INVISIBLE.sub("", text)
    text = _APOSTROPHES.sub("", text)
    # "sooooo" → "soo": stretched letters shouldn't hide words.
    text = _STRETCHED.sub(r"\1\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _lower(pattern: str) -> str:
    """Lower-case a regex's letters but not its escapes (\\S, \\W, \\B stay)."""
    out, escaped = [], False
    for char in pattern:
        out.append(char if escaped else char.lower())
        escaped = char == "\\" and not escaped
    return "".join(out)


def _expand(pattern: str, fragments: dict[str, str]) -> str:
    """Replace each {name} by its fragment; fragments may use other fragments."""

    def body(match: re.Match[str]) -> str:
        if match.group(1) not in fragments:
            raise ValueError(f"crisis lexicon: no fragment called {{{match.group(1)}}}")
        return f"(?:{fragments[match.group(1)]})"

    for _ in range(10):
        expanded = _FRAGMENT.sub(body, pattern)
        if expanded == pattern:
            break
        pattern = expanded
    else:
        raise ValueError("crisis lexicon: fragments nested too deep (or in a loop)")
    # Messages are lower case without apostrophes, so patterns are made so too
    # (matching without IGNORECASE is about three times faster).
    return _lower(_PATTERN_APOSTROPHE.sub("", pattern))


@lru_cache(maxsize=1)
def _compiled() -> _Lexicon:
    raw = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    fragments = {name: str(body) for name, body in (raw.get("fragments") or {}).items()}

    def compile_(pattern: str) -> re.Pattern[str]:
        return re.compile(_expand(pattern, fragments))

    contrast = raw.get("contrast") or {}
    return _Lexicon(
        patterns=[(category, compile_(p)) for category, items in raw["patterns"].items() for p in items],
        idioms=[compile_(p) for p in raw.get("idioms") or []],
        not_current=[compile_(p) for p in raw.get("not_current_risk") or []],
        reopen=compile_(contrast["reopen"]) if contrast.get("reopen") else None,
        reassuring=[compile_(p) for p in contrast.get("reassuring") or []],
    )


def _reopened(clean: str, lexicon: _Lexicon, after: int) -> bool:
    """Does the message turn back towards risk after position `after`?"""
    if lexicon.reopen is None:
        return False
    return any(
        not any(r.match(clean, word.end()) for r in lexicon.reassuring)
        for word in lexicon.reopen.finditer(clean, after)
    )


def _excusing_spans(clean: str, lexicon: _Lexicon) -> list[tuple[int, int]]:
    spans = [m.span() for idiom in lexicon.idioms for m in idiom.finditer(clean)]
    for pattern in lexicon.not_current:
        spans += [m.span() for m in pattern.finditer(clean) if not _reopened(clean, lexicon, m.end())]
    return spans


def _scan(clean: str, lexicon: _Lexicon) -> Detection | None:
    spans: list[tuple[int, int]] | None = None  # worked out only once something matches
    for category, pattern in lexicon.patterns:
        for match in pattern.finditer(clean):
            if spans is None:
                spans = _excusing_spans(clean, lexicon)
            start, end = match.span()
            if not any(s <= start and end <= e for s, e in spans):
                return Detection(category)
    return None


def detect_lexicon(text: str) -> Detection | None:
    """The lexicon alone (the benchmark and the classifier's cross-validation compare against it)."""
    lexicon = _compiled()
    clean = normalise(text)
    found = _scan(clean, lexicon)
    if found is None and _STRETCHED.search(text.lower()):
        squeezed = normalise(_STRETCHED.sub(r"\1", text.lower()))
        found = _scan(squeezed, lexicon)
    return found


# The classifier learned the eight kinds of the crisis benchmark; the clinic
# reviews the lexicon's seven, so its answers are given in the lexicon's words.
_LEXICON_CATEGORY = {
    "suicidal_thoughts": "suicidal",
    "suicidal_plans": "suicidal",
    "abuse_or_unsafe_at_home": "unsafe_at_home",
    "disordered_eating_risk": "eating_risk",
}
_classifier_broken = False


def _without_excused(clean: str) -> str:
    """The message less the spans the lexicon matched and then excused as an idiom,
    negated, past or a topic: the classifier reads the rest, and cannot overrule
    the lexicon on "hes gonna kill me for being late" while still hearing
    "…but ive got the tablets ready"."""
    lexicon = _compiled()
    if not any(pattern.search(clean) for _, pattern in lexicon.patterns):
        return clean
    chars = list(clean)
    for start, end in _excusing_spans(clean, lexicon):
        chars[start:end] = " " * (end - start)
    return " ".join("".join(chars).split())


def detect_classifier(text: str) -> Detection | None:
    """The learned net alone; None if it is unsure, or unavailable (then logged once)."""
    global _classifier_broken
    if _classifier_broken:
        return None
    try:
        from bot import crisis_classifier

        category, probability = crisis_classifier.score_clean(_without_excused(normalise(text)))
        threshold = crisis_classifier.THRESHOLD
    except Exception as error:  # whatever breaks it, crisis answers must go on
        # Only the kind of error: an exception's message could quote the patient.
        _classifier_broken = True
        log.error("crisis classifier unavailable (%s); the lexicon carries on alone", type(error).__name__)
        return None
    if probability < threshold:
        return None
    return Detection(_LEXICON_CATEGORY.get(category, category))


def detect(text: str) -> Detection | None:
    return detect_lexicon(text) or detect_classifier(text)


# Compiled at import, once: the first patient message shouldn't wait for it,
# and a lexicon that doesn't compile stops the bot starting instead of failing
# on a patient's message.
_compiled()
