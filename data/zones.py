"""A time zone from what a person types: a zone name, a city, or an offset from UTC."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?::?00)?$")


@lru_cache(maxsize=1)
def _by_city() -> dict[str, str]:
    """'new york' -> 'America/New_York', from the zone database's own names."""
    found: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "posix/", "right/")):
            found.setdefault(name.rsplit("/", 1)[1].replace("_", " ").casefold(), name)
    return found


def zone_from_words(text: str) -> str | None:
    """'Europe/Paris', 'paris', 'UTC+2' or '-5' -> a zone name; None when it is none of those."""
    words = " ".join(text.strip().split())
    if not words or len(words) > 64:
        return None
    if words.casefold() in ("utc", "gmt"):
        return "UTC"
    if (offset := _OFFSET.match(words.casefold())) is not None:
        sign, hours = offset.groups()
        if int(hours) > 14:
            return None
        if int(hours) == 0:
            return "UTC"
        # The Etc/GMT zones count the other way round: UTC+2 is Etc/GMT-2.
        return f"Etc/GMT{'-' if sign == '+' else '+'}{int(hours)}"
    if "/" in words:
        try:
            ZoneInfo(words.replace(" ", "_"))
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return words.replace(" ", "_")
    return _by_city().get(words.casefold())
