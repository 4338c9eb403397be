"""Reading the times patients type: "7pm", "19:30", "half 7", "after work", "in an hour"."""

from __future__ import annotations

import datetime as dt
import re

# Everyday phrases for a part of the day, and the clock time Bridgework takes them to mean.
PHRASES = {
    "first thing": "08:00",
    "morning": "09:00",
    "mornings": "09:00",
    "lunch": "12:30",
    "lunchtime": "12:30",
    "after lunch": "13:30",
    "afternoon": "15:00",
    "afternoons": "15:00",
    "after school": "16:00",
    "after work": "18:00",
    "before dinner": "17:30",
    "dinner": "18:30",
    "after dinner": "19:30",
    "after tea": "19:30",
    "evening": "19:00",
    "evenings": "19:00",
    "tonight": "20:00",
}
_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_NUMBER = r"(\d{1,2}|" + "|".join(_WORDS) + ")"


def _hour(token: str) -> int:
    return _WORDS[token] if token in _WORDS else int(token)


def parse_clock(text: str, *, phrases: bool = True) -> tuple[int, int, bool] | None:
    """(hour, minute, explicit) from text; explicit is False when am/pm is a guess. Without
    `phrases`, only a time of the clock counts ("8pm", "half 7"), not "evenings"."""
    t = text.lower().strip()
    m = re.search(r"\b(\d{1,2})[:.h](\d{2})\s*(am|pm|a\.m\.|p\.m\.)?", t)
    if m:
        hour, minute, suffix = int(m.group(1)), int(m.group(2)), m.group(3)
        return _with_suffix(hour, minute, suffix)
    m = re.search(r"\bhalf (past )?" + _NUMBER + r"\b", t)
    if m:
        return _with_suffix(_hour(m.group(2)), 30, _suffix_after(t, m.end()))
    m = re.search(r"\bquarter (past|to) " + _NUMBER + r"\b", t)
    if m:
        hour = _hour(m.group(2))
        minute = 15 if m.group(1) == "past" else 45
        return _with_suffix(hour if m.group(1) == "past" else hour - 1, minute, _suffix_after(t, m.end()))
    m = re.search(r"\b" + _NUMBER + r"\s*(o'?clock)?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])", t)
    if m and (m.group(3) or m.group(2) or re.search(r"\b(at|around|about|by)\s+" + _NUMBER, t)):
        return _with_suffix(_hour(m.group(1)), 0, m.group(3))
    for phrase in sorted(PHRASES, key=len, reverse=True) if phrases else ():
        if re.search(r"\b" + re.escape(phrase) + r"\b", t):
            hour, minute = (int(x) for x in PHRASES[phrase].split(":"))
            return hour, minute, True
    return None


def _suffix_after(text: str, index: int) -> str | None:
    m = re.match(r"\s*(am|pm|a\.m\.|p\.m\.)", text[index:])
    return m.group(1) if m else None


def _with_suffix(hour: int, minute: int, suffix: str | None) -> tuple[int, int, bool] | None:
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix.startswith("p") else 0)
        return hour, minute, True
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return hour, minute, hour >= 13 or hour == 0


def parse_relative(text: str) -> dt.timedelta | None:
    t = text.lower()
    if re.search(r"\bin (an|one) hour\b", t):
        return dt.timedelta(hours=1)
    if re.search(r"\bin half an hour\b", t):
        return dt.timedelta(minutes=30)
    m = re.search(r"\bin (\d{1,3}) ?(min|mins|minutes|hour|hours|hrs?)\b", t)
    if m:
        amount = int(m.group(1))
        return dt.timedelta(hours=amount) if m.group(2).startswith("h") else dt.timedelta(minutes=amount)
    return None


def next_occurrence(text: str, now_local: dt.datetime) -> dt.datetime | None:
    """The next local moment the text names: "in an hour", "7pm", "half 6" (the next one)."""
    delta = parse_relative(text)
    if delta is not None:
        return now_local + delta
    clock = parse_clock(text)
    if clock is None:
        return None
    hour, minute, explicit = clock
    candidates = [hour] if explicit else [hour, (hour + 12) % 24]
    times = []
    for h in candidates:
        when = now_local.replace(hour=h, minute=minute, second=0, microsecond=0)
        if when <= now_local:
            when += dt.timedelta(days=1)
        times.append(when)
    return min(times)


def clock_string(text: str, *, phrases: bool = True) -> str | None:
    """A daily clock time "HH:MM" from text; a bare "7" reads as 7pm only after noon-ish words."""
    clock = parse_clock(text, phrases=phrases)
    if clock is None:
        return None
    hour, minute, explicit = clock
    if not explicit and 1 <= hour <= 6:
        hour += 12  # nobody wants a nudge at 3am
    return f"{hour:02d}:{minute:02d}"


def parse_duration_days(text: str) -> int | None:
    t = text.lower()
    if re.search(r"\b(a|one) week\b", t):
        return 7
    if re.search(r"\bweekend\b", t):
        return 3
    m = re.search(r"\b(\d{1,2}|" + "|".join(_WORDS) + r") (day|days|week|weeks)\b", t)
    if m:
        n = _hour(m.group(1))
        return n * 7 if m.group(2).startswith("week") else n
    if re.search(r"\b(a|one) day\b|\btomorrow\b|\btoday\b", t):
        return 1
    return None
