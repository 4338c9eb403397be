"""The report as CSV in long form: one row per fact, so every field of the JSON has a place.

Columns: patient_id, table, row, field, value. `table` is `patient` for the patient's
own fields (row 0) and otherwise the report's list or object it comes from (tasks,
checkins, barriers, resistance, crisis, risk_checks, unreachable_periods, weeks,
occurrences), with `row` its index there. Nested fields are dotted (`schedule.days.0`, `worksheet.situation`).
Values: empty for null, true/false, numbers and text as in the JSON; an empty list or
object is `[]` or `{}` so the field still shows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

COLUMNS = ("patient_id", "table", "row", "field", "value")


def write_long_csv(report: list[dict[str, Any]], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for patient in report:
        for table, row, field, value in facts(patient):
            writer.writerow([patient["patient_id"], table, row, field, cell(value)])


def facts(patient: dict[str, Any]) -> Iterator[tuple[str, int, str, Any]]:
    """(table, row, field, leaf value) for every leaf of one patient's report."""
    for key, value in patient.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for row, item in enumerate(value):
                for field, leaf in _leaves(item, ""):
                    yield key, row, field, leaf
        elif isinstance(value, dict) and value:
            for field, leaf in _leaves(value, ""):
                yield key, 0, field, leaf
        else:
            for field, leaf in _leaves(value, key):
                yield "patient", 0, field, leaf


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value:
        for i, inner in enumerate(value):
            yield from _leaves(inner, f"{path}.{i}" if path else str(i))
    else:
        yield path, value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == [] or value == {}:
        return "[]" if isinstance(value, list) else "{}"
    return str(value)
