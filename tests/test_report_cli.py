"""`coach report`: every field in the CSV, the chart as a file, one therapist's patients."""

import csv
import io
import json

from data.db import make_engine, make_sessionmaker
from tests.support import report_scenario as scenario
from tests.test_cli import coach
from tests.test_report_chart import png_size


def _seeded(db_url: str) -> None:
    engine = make_engine(db_url)
    scenario.seed(make_sessionmaker(engine))
    engine.dispose()


def _json_leaves(value, path=()):
    """(path, value) of every leaf of the JSON, written independently of data/report_csv.py."""
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield from _json_leaves(inner, (*path, str(key)))
    elif isinstance(value, list) and value:
        for i, inner in enumerate(value):
            yield from _json_leaves(inner, (*path, str(i)))
    else:
        yield path, value


def _as_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if value in ([], {}):
        return json.dumps(value)
    return str(value)


def test_the_csv_carries_every_field_of_the_json(db_url):
    _seeded(db_url)
    as_json = coach(db_url, "report", "--until", "2026-11-22")
    as_csv = coach(db_url, "report", "--until", "2026-11-22", "--format", "csv")
    assert as_json.returncode == 0 and as_csv.returncode == 0, as_csv.stderr
    expected = {
        (patient["patient_id"], path, _as_cell(value))
        for patient in json.loads(as_json.stdout)
        for path, value in _json_leaves(patient)
    }
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == ["patient_id", "table", "row", "field", "value"]
    found = set()
    for row in rows:
        field = tuple(row["field"].split("."))
        if row["table"] == "patient":
            path = field
        elif row["table"] == "occurrences":  # an object, not a list: row 0
            path = ("occurrences", *field)
        else:
            path = (row["table"], row["row"], *field)
        found.add((row["patient_id"], path, row["value"]))
    assert found == expected
    assert len(expected) > 150 and {p for p, _, _ in expected} == {"p-100", "p-200"}
    assert ("p-100", ("tasks", "0", "no_response"), "2") in found  # Nov 11 and 20


def test_therapist_picks_their_patients(db_url):
    _seeded(db_url)
    theirs = json.loads(coach(db_url, "report", "--therapist", "t-other").stdout)
    assert [p["patient_id"] for p in theirs] == ["p-200"]
    rows = list(
        csv.DictReader(
            io.StringIO(coach(db_url, "report", "--therapist", "t-test", "--format", "csv").stdout)
        )
    )
    assert {r["patient_id"] for r in rows} == {"p-100"}
    assert json.loads(coach(db_url, "report", "--therapist", "t-nobody").stdout) == []


def test_png_writes_one_patients_chart_and_prints_its_path(db_url, tmp_path):
    _seeded(db_url)
    out = tmp_path / "alex.png"
    result = coach(
        db_url, "report", "--patient", "p-100", "--until", "2026-11-22", "--format", "png", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    data = out.read_bytes()
    width, height = png_size(data)
    assert width > 700 and height > 700 and len(data) > 10_000
    # Jo has nothing planned (never linked): still a chart. Picked by therapist here.
    empty = tmp_path / "jo.png"
    result = coach(db_url, "report", "--therapist", "t-other", "--format", "png", "--out", str(empty))
    assert result.returncode == 0, result.stderr
    assert png_size(empty.read_bytes())[0] > 0


def test_png_refuses_several_patients(db_url, tmp_path):
    _seeded(db_url)
    result = coach(db_url, "report", "--format", "png", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2 and "Add --patient" in result.stderr
    assert not (tmp_path / "x.png").exists()
