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


def _with_tasks(count):
    """THREE_WEEKS split over `count` tasks, each with its own weeks, one with nothing planned."""
    tasks = [
        {
            "id": f"task-{i}",
            "title": f"Task number {i} with a title long enough to need shortening on a phone",
            "completion_rate": 0.5,
            "weeks": [week("2026-11-02", done=1, partial=i % 2), week("2026-11-16", no_response=1, open=1)],
        }
        for i in range(count)
    ]
    idle = {"id": "idle", "title": "Nothing planned", "weeks": [week("2026-11-09")]}
    return {**THREE_WEEKS, "tasks": [*tasks, idle]}


def test_up_to_four_tasks_get_a_panel_each():
    from messaging.charts import MAX_TASK_PANELS, task_panels

    labels = wording.content()["report_chart"]
    pooled_width, pooled_height = png_size(weekly_chart(THREE_WEEKS, labels))
    heights = []
    for count in range(1, MAX_TASK_PANELS + 1):
        report = _with_tasks(count)
        assert [t["id"] for t in task_panels(report)] == [
            f"task-{i}" for i in range(count)
        ]  # not the idle one
        data = weekly_chart(report, labels)
        width, height = png_size(data)
        assert width == pooled_width and height > width and len(data) > 10_000
        heights.append(height)
    # A panel more for each task: the chart grows with them.
    assert heights == sorted(heights) and heights[-1] > pooled_height and len(set(heights)) == len(heights)


def test_more_than_four_tasks_are_pooled_in_one_panel():
    from messaging.charts import task_panels

    labels = wording.content()["report_chart"]
    report = _with_tasks(5)
    assert task_panels(report) == []
    assert png_size(weekly_chart(report, labels)) == png_size(weekly_chart(THREE_WEEKS, labels))
