"""A task's schedule from what a therapist types: "mon wed fri 19:00", "daily 8am",
"weekdays at 7pm", "3 a week". Validated as a care plan's schedule is."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from data.plan_schema import Schedule
from data.timeparse import clock_string

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUPS = {
    "daily": _DAYS,
    "every day": _DAYS,
    "everyday": _DAYS,
    "weekdays": _DAYS[:5],
    "weekends": _DAYS[5:],
    "weekend": _DAYS[5:],
}
_PER_WEEK = re.compile(r"^(\d{1,2})\s*(?:x|times?)?\s*(?:a|per|each|/)\s*week$")
_DAY = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b")


def parse_schedule(text: str) -> dict[str, Any] | None:
    """The schedule as the care-plan file writes it, or None if the words aren't one."""
    words = " ".join(text.casefold().replace(",", " ").split())
    if (per_week := _PER_WEEK.match(words)) is not None:
        return _valid({"times_per_week": int(per_week.group(1))})
    days: set[str] = set()
    rest = words
    for group, members in _GROUPS.items():
        if group in rest:
            days.update(members)
            rest = rest.replace(group, " ")
    for match in _DAY.finditer(rest):
        days.add(match.group(1))
    rest = _DAY.sub(" ", rest).replace(" at ", " ").replace(" and ", " ")
    clock = clock_string(rest.strip()) if rest.strip() else None
    if not days or clock is None:
        return None
    return _valid({"days": [d for d in _DAYS if d in days], "at": clock})


def _valid(raw: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return Schedule.model_validate(raw).model_dump(mode="json", exclude_none=True)
    except ValidationError:
        return None
