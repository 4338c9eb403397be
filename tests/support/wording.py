"""Which response a text is, told by its template rather than by its English.

A clinic may reword `data/content/bot.yml`, `data/library/*.yml` and the Rasa domain
(`rasa_project/domain/`). A test that asserts an English phrase breaks on such an edit
though nothing is wrong, and doesn't say which response it expected. These helpers read
the same YAML the bot does, so an edit changes both sides of the assertion:

    assert is_response(reply.text, "paused")             # the whole text is that response
    assert has_response(joined, "utter_checkin_done")    # that response is part of the text

A key is a dotted path into `data/wording.content()` ("forget_done.erased"), or the name
of a Rasa response ("utter_rationale"), any of whose variations may match. Placeholders
(`{until}`) match any non-empty text.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from data import wording

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "rasa_project" / "domain"
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")


@cache
def domain_responses() -> dict[str, list[str]]:
    """Each Rasa response's texts, one a variation, from every file of the domain."""
    found: dict[str, list[str]] = {}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, variations in (loaded.get("responses") or {}).items():
            found.setdefault(name, []).extend(v["text"] for v in variations if "text" in v)
    return found


def templates(key: str) -> list[str]:
    """The texts a response may take, as written in the YAML."""
    if key.startswith("utter_"):
        return domain_responses()[key]
    found: Any = wording.content()
    for part in key.split("."):
        found = found[part]
    if not isinstance(found, str):
        raise TypeError(f"{key} is not one text but {type(found).__name__}")
    return [found]


def pattern(template: str) -> re.Pattern[str]:
    """The template as a regular expression: its words literally, each placeholder any text,
    any run of spaces and line breaks any other (Rasa sends a reply split at blank lines)."""
    literals = _PLACEHOLDER.split(template)
    return re.compile("(?:.+?)".join(_words(part) for part in literals), re.DOTALL)


def _words(literal: str) -> str:
    return r"\s+".join(re.escape(word) for word in re.split(r"\s+", literal))


def is_response(text: str, key: str) -> bool:
    """The whole text is the response `key`, whatever its placeholders were filled with."""
    return any(pattern(t).fullmatch(text) for t in templates(key))


def has_response(text: str, key: str) -> bool:
    """The response `key` is somewhere in the text (a message made of several parts, or
    several messages joined)."""
    return any(pattern(t).search(text) for t in templates(key))
