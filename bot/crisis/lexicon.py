"""The lexicon net: crisis language a clinic can read and extend
(data/safety/crisis_lexicon.yml holds every word list).

How a message is read:

1. Normalised (bot/crisis/text.py); if it had stretched letters it is also read
   with them cut to one ("diiie" → "die").
2. Each pattern is searched for: `patterns` are clear risk, `possible` are the
   indirect, passive or ambiguous ways of saying it. Patterns may use shared word
   lists written as {name} (`fragments:`).
3. A match wholly inside an *idiom* ("this homework is killing me") or a
   *not-current-risk* span (negated, "im not suicidal"; a screening question
   answered no; a topic of study or fiction) is excused.
4. A clear match wholly inside a *softening* span (the past, "i used to self
   harm"; someone else, "my friend overdosed"; an intrusive thought the writer
   rejects) counts as possible: softened, never silenced.
5. A not-current or softening span stops counting when the message goes on,
   after it, with a contrast or a return ("…but", "…the urges are back"), unless
   the words right after the contrast are plainly reassuring ("…but its been
   years"): `contrast: reopen / reassuring`.

Any other match raises its level, so a risk phrase elsewhere in the same
message is never hidden by an idiom or a negation next to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.crisis.text import normalise, squeezed

LEXICON = Path(__file__).resolve().parents[2] / "data" / "safety" / "crisis_lexicon.yml"
CLEAR, POSSIBLE = "clear", "possible"

_FRAGMENT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# An apostrophe in a pattern, with any quantifier on it: messages have none.
_PATTERN_APOSTROPHE = re.compile(r"'[?*+]?")


@dataclass(frozen=True)
class Finding:
    level: str  # CLEAR or POSSIBLE
    category: str


@dataclass(frozen=True)
class Lexicon:
    patterns: list[tuple[str, str, re.Pattern[str]]]  # (level, category, pattern), clear ones first
    idioms: list[re.Pattern[str]]
    not_current: list[re.Pattern[str]]
    softening: list[re.Pattern[str]]
    reopen: re.Pattern[str] | None
    reassuring: list[re.Pattern[str]]


def _lower(pattern: str) -> str:
    """Lower-case a regex's letters but not its escapes (\\S, \\W, \\B stay)."""
    out, escaped = [], False
    for char in pattern:
        out.append(char if escaped else char.lower())
        escaped = char == "\\" and not escaped
    return "".join(out)


def expand(pattern: str, fragments: dict[str, str]) -> str:
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
def compiled() -> Lexicon:
    raw = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    fragments = {name: str(body) for name, body in (raw.get("fragments") or {}).items()}

    def compile_(pattern: str) -> re.Pattern[str]:
        return re.compile(expand(pattern, fragments))

    contrast = raw.get("contrast") or {}
    patterns = [
        (level, category, compile_(p))
        for level, section in ((CLEAR, "patterns"), (POSSIBLE, "possible"))
        for category, items in (raw.get(section) or {}).items()
        for p in items
    ]
    return Lexicon(
        patterns=patterns,
        idioms=[compile_(p) for p in raw.get("idioms") or []],
        not_current=[compile_(p) for p in raw.get("not_current_risk") or []],
        softening=[compile_(p) for p in raw.get("softening") or []],
        reopen=compile_(contrast["reopen"]) if contrast.get("reopen") else None,
        reassuring=[compile_(p) for p in contrast.get("reassuring") or []],
    )


def _reopened(clean: str, lexicon: Lexicon, after: int) -> bool:
    """Does the message turn back towards risk after position `after`?"""
    if lexicon.reopen is None:
        return False
    return any(
        not any(r.match(clean, word.end()) for r in lexicon.reassuring)
        for word in lexicon.reopen.finditer(clean, after)
    )


def _spans(clean: str, lexicon: Lexicon, patterns: list[re.Pattern[str]]) -> list[tuple[int, int]]:
    return [m.span() for p in patterns for m in p.finditer(clean) if not _reopened(clean, lexicon, m.end())]


def excused_spans(clean: str, lexicon: Lexicon | None = None) -> list[tuple[int, int]]:
    lexicon = lexicon or compiled()
    return [m.span() for idiom in lexicon.idioms for m in idiom.finditer(clean)] + _spans(
        clean, lexicon, lexicon.not_current
    )


def softening_spans(clean: str, lexicon: Lexicon | None = None) -> list[tuple[int, int]]:
    lexicon = lexicon or compiled()
    return _spans(clean, lexicon, lexicon.softening)


def _inside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _scan(clean: str, lexicon: Lexicon) -> Finding | None:
    excused: list[tuple[int, int]] | None = None  # worked out only once something matches
    softened: list[tuple[int, int]] = []
    found: Finding | None = None
    for level, category, pattern in lexicon.patterns:
        if level == POSSIBLE and found is not None:
            break  # a possible finding is already in hand; clear patterns came first
        for match in pattern.finditer(clean):
            if excused is None:
                excused = excused_spans(clean, lexicon)
                softened = softening_spans(clean, lexicon)
            start, end = match.span()
            if _inside(start, end, excused):
                continue
            if level == CLEAR and not _inside(start, end, softened):
                return Finding(CLEAR, category)
            found = found or Finding(POSSIBLE, category)
            if level == POSSIBLE:
                break  # later matches of a possible pattern change nothing
    return found


def scan(text: str) -> Finding | None:
    lexicon = compiled()
    found = _scan(normalise(text), lexicon)
    if found is None or found.level != CLEAR:
        squeeze = squeezed(text)
        if squeeze is not None:
            again = _scan(squeeze, lexicon)
            if again is not None and (found is None or again.level == CLEAR):
                found = again
    return found


def excused(text: str) -> bool:
    """Did the lexicon see risk words here and judge them negated, figurative or a topic?
    ("im not suicidal, just tired", "this homework is killing me"). The NLU, which hears
    the words but not the negation, is overruled on such a message (actions/safety.py)."""
    clean = normalise(text)
    lexicon = compiled()
    spans: list[tuple[int, int]] | None = None
    for _, _, pattern in lexicon.patterns:
        for match in pattern.finditer(clean):
            if spans is None:
                spans = excused_spans(clean, lexicon)
            if _inside(*match.span(), spans):
                return True
    return False


def without_excused(clean: str) -> str:
    """The message less the spans the lexicon matched and then excused as an idiom,
    negated or a topic: the classifier reads the rest, and cannot overrule the
    lexicon on "hes gonna kill me for being late" while still hearing "…but ive
    got the tablets ready"."""
    lexicon = compiled()
    if not any(pattern.search(clean) for _, _, pattern in lexicon.patterns):
        return clean
    chars = list(clean)
    for start, end in excused_spans(clean, lexicon):
        chars[start:end] = " " * (end - start)
    return " ".join("".join(chars).split())


def is_softened(clean: str) -> bool:
    """Does the message speak of the past, of someone else, or of a rejected intrusive thought?"""
    return bool(softening_spans(clean))
