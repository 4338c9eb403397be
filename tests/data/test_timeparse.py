import datetime as dt

import pytest

from data.timeparse import clock_string, next_occurrence, parse_duration_days

AFTERNOON = dt.datetime(2026, 11, 26, 14, 10)


@pytest.mark.parametrize(
    ("text", "clock"),
    [
        ("7pm", "19:00"),
        ("remind me at 7.30pm", "19:30"),
        ("19:45", "19:45"),
        ("half 7", "07:30"),
        ("around 6", "18:00"),  # nobody wants a 6am nudge by accident
        ("8am please", "08:00"),
        ("after work", "18:00"),
        ("mornings are better", "09:00"),
        ("quarter to 9 am", "08:45"),
        ("whenever", None),
        ("25:00", None),
    ],
)
def test_daily_clock_times(text, clock):
    assert clock_string(text) == clock


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("at 7", dt.datetime(2026, 11, 26, 19, 0)),  # the next 7 o'clock, not this morning's
        ("in an hour", dt.datetime(2026, 11, 26, 15, 10)),
        ("in 20 mins", dt.datetime(2026, 11, 26, 14, 30)),
        ("9am", dt.datetime(2026, 11, 27, 9, 0)),  # already past today
        ("after dinner", dt.datetime(2026, 11, 26, 19, 30)),
        ("no idea", None),
    ],
)
def test_later_today(text, when):
    assert next_occurrence(text, AFTERNOON) == when


def test_pause_lengths():
    assert parse_duration_days("pause reminders for a week") == 7
    assert parse_duration_days("no reminders for 2 weeks") == 14
    assert parse_duration_days("stop for three days") == 3
    assert parse_duration_days("at 7pm") is None
