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
        return yaml.safe_load(handle)


def say(key: str, **values: str) -> str:
    text = content()[key]
    return text.format(**values) if values else text


def bullets(lines: list[str]) -> str:
    """Lines as a bulleted list, the way crisis resources and safety plans are shown."""
    return "\n".join(f"• {line}" for line in lines)
