"""The therapist's weekly chart: real PNG bytes from plain report data."""

import struct

from data import wording
from messaging.charts import weekly_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which a PNG must open with."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def week(start, **counts):
    base = {s: 0 for s in ("done", "partial", "not_done", "no_response", "skipped", "open", "extra")}
    ratings = {"expected_helpfulness": None, "helpfulness": None, "difficulty": None}
    return {"week_start": start, **base, **ratings, **counts}


# Week, counts, then expected / experienced helpfulness and difficulty.
THREE_WEEKS = {
    "patient_id": "p-test",
    "weeks": [
        week(start, **counts, expected_helpfulness=4, helpfulness=helpful, difficulty=difficult)
        for start, counts, helpful, difficult in [
            ("2026-11-02", {"done": 1, "partial": 1, "not_done": 1}, 2.5, 3.5),
            ("2026-11-09", {"no_response": 1, "skipped": 2}, None, None),
            ("2026-11-16", {"done": 2, "no_response": 1, "extra": 1}, 4.5, 2),
        ]
    ],
}


def test_three_weeks_draw_a_phone_sized_png():
    data = weekly_chart(THREE_WEEKS, wording.content()["report_chart"])
    width, height = png_size(data)
    assert 700 <= width <= 1400 and height > width  # one tall column: a phone held upright
    assert len(data) > 10_000


def test_a_patient_with_no_data_still_gets_a_chart():
    data = weekly_chart({"patient_id": "p-test", "weeks": []}, wording.content()["report_chart"])
    assert png_size(data)[0] > 0 and len(data) > 5_000


def test_a_different_week_draws_a_different_chart():
    labels = wording.content()["report_chart"]
    changed = {**THREE_WEEKS, "weeks": [*THREE_WEEKS["weeks"][:2], week("2026-11-16", not_done=3)]}
    assert weekly_chart(changed, labels) != weekly_chart(THREE_WEEKS, labels)
