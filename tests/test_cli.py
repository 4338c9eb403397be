"""The `coach` command, run as an operator would, against a real database."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

FIXTURES = Path(__file__).parent / "fixtures"


def coach(db_url: str, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "coach.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_lists_every_problem_and_writes_nothing(db_url, tmp_path):
    raw = yaml.safe_load((FIXTURES / "plan.yml").read_text())
    del raw["patients"][0]["tasks"][0]["rationale"]
    raw["patients"][1]["timezone"] = "Nowhere/Town"
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(raw))
    for action in ("validate", "apply"):
        result = coach(db_url, "plan", action, str(bad))
        assert result.returncode == 1
        assert "patients[0].tasks[0].rationale: field required" in result.stderr
        assert "patients[1].timezone: unknown timezone 'Nowhere/Town'" in result.stderr
        assert "nothing was written" in result.stderr
    report = json.loads(coach(db_url, "report", "--format", "json").stdout)
    assert report == []


def test_apply_is_idempotent_and_report_lists_patients(db_url):
    plan = str(FIXTURES / "plan.yml")
    assert coach(db_url, "plan", "validate", plan).returncode == 0
    first = coach(db_url, "plan", "apply", plan)
    assert first.returncode == 0 and "created patient p-100" in first.stdout
    second = coach(db_url, "plan", "apply", plan)
    assert second.stdout.strip() == "No changes: the database already matches the plan."
    report = json.loads(coach(db_url, "report", "--format", "json").stdout)
    assert [r["patient_id"] for r in report] == ["p-100", "p-200"]
    assert report[0]["checkins"] == [] and report[0]["completion_rate"] is None
    missing = coach(db_url, "report", "--patient", "p-999")
    assert missing.returncode == 1 and "No patient" in missing.stderr


def test_invite_issues_a_fresh_code(db_url):
    coach(db_url, "plan", "apply", str(FIXTURES / "plan.yml"))
    result = coach(db_url, "invite", "p-100")
    assert result.returncode == 0 and "Invite code for p-100:" in result.stdout
    assert coach(db_url, "invite", "p-nobody").returncode == 1


def test_the_csv_report_has_a_row_for_a_planned_checkin_never_answered(db_url):
    import csv
    import datetime as dt
    import io
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from data.db import make_engine, make_sessionmaker, transaction
    from data.models import Assignment, Patient

    assert coach(db_url, "plan", "apply", str(FIXTURES / "plan.yml")).returncode == 0
    sessions = make_sessionmaker(make_engine(db_url))
    # Linked three days ago; the task's one weekly time was two days ago, and no word since.
    now = dt.datetime.now(dt.timezone.utc)
    due = (now - dt.timedelta(days=2)).replace(second=0, microsecond=0)
    london = due.astimezone(ZoneInfo("Europe/London"))
    with transaction(sessions) as session:
        alex = session.get(Patient, "p-100")
        alex.routine = {}
        alex.linked_at = alex.consented_at = now - dt.timedelta(days=3)
        task = session.scalar(select(Assignment).where(Assignment.patient_id == "p-100"))
        task.schedule = {"days": [london.strftime("%a").lower()], "at": london.strftime("%H:%M")}
    result = coach(db_url, "report", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    [status] = [r for r in rows if r["value"] == "no_response"]
    assert (status["patient_id"], status["table"], status["field"]) == ("p-100", "checkins", "status")
    [due_row] = [
        r for r in rows if r["table"] == "checkins" and r["row"] == status["row"] and r["field"] == "due_at"
    ]
    assert due_row["value"] == due.isoformat()


def test_a_plan_without_time_zones_takes_the_installations_default(db_url, tmp_path):
    from sqlalchemy import create_engine, text

    raw = yaml.safe_load((FIXTURES / "plan.yml").read_text())
    del raw["clinic"]["timezone"]
    for patient in raw["patients"]:
        patient.pop("timezone", None)
    raw["patients"][1]["timezone"] = "Asia/Tokyo"  # a patient's own still wins
    plan = tmp_path / "plan.yml"
    plan.write_text(yaml.safe_dump(raw))
    applied = coach(db_url, "plan", "apply", str(plan), DEFAULT_TIMEZONE="America/New_York")
    assert applied.returncode == 0, applied.stderr
    engine = create_engine(db_url)
    with engine.connect() as connection:
        zones = dict(connection.execute(text("SELECT id, timezone FROM patient")).all())
        [clinic_zone] = connection.execute(text("SELECT timezone FROM clinic")).scalars()
    engine.dispose()
    assert clinic_zone == "America/New_York"
    assert zones == {"p-100": "America/New_York", "p-200": "Asia/Tokyo"}


def test_validate_refuses_a_task_with_an_unknown_template(db_url, tmp_path):
    raw = yaml.safe_load((FIXTURES / "plan.yml").read_text())
    raw["patients"][1]["tasks"][0]["template"] = "no_such_template"
    bad = tmp_path / "unknown-template.yml"
    bad.write_text(yaml.safe_dump(raw))
    result = coach(db_url, "plan", "validate", str(bad))
    assert result.returncode == 1
    assert "patients[1].tasks[0].template: unknown template 'no_such_template'" in result.stderr
