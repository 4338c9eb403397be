from pathlib import Path

import pytest
import yaml

from data.plan_schema import PlanError, load_plan, parse_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"
DEMO = Path(__file__).parents[2] / "data" / "demo" / "plan.yml"


def _plan() -> dict:
    return yaml.safe_load((FIXTURES / "plan.yml").read_text())


def _problems(raw) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(raw)
    return caught.value.problems


def test_demo_and_fixture_plans_are_valid():
    assert load_plan(DEMO).patients[0].tasks[0].rationale
    plan = load_plan(FIXTURES / "plan.yml")
    assert [p.id for p in plan.patients] == ["p-100", "p-200"]
    assert plan.patients[1].tasks[0].schedule.times_per_week == 3


def test_missing_rationale_is_named_by_its_path():
    raw = _plan()
    del raw["patients"][1]["tasks"][0]["rationale"]
    assert _problems(raw) == ["patients[1].tasks[0].rationale: field required"]


def test_every_problem_is_listed_at_once():
    raw = _plan()
    raw["clinic"]["timezone"] = "Mars/Olympus"
    raw["patients"][0]["routine"]["preferred_times"] = ["25:00"]
    raw["patients"][0]["tasks"][0]["template"] = "no_such_template"
    raw["patients"][0]["tasks"][0]["schedule"] = {"days": ["monday"], "at": "19:00"}
    problems = _problems(raw)
    paths = [p.split(":")[0] for p in problems]
    assert "clinic.timezone" in paths
    assert "patients[0].routine.preferred_times[0]" in paths
    assert "patients[0].tasks[0].template" in paths
    assert "patients[0].tasks[0].schedule.days[0]" in paths
    assert any("unknown timezone 'Mars/Olympus'" in p for p in problems)


def test_blank_rationale_is_refused():
    raw = _plan()
    raw["patients"][0]["tasks"][0]["rationale"] = "   "
    assert _problems(raw)[0].startswith("patients[0].tasks[0].rationale:")


def test_cross_references_and_duplicates():
    raw = _plan()
    raw["patients"][1]["therapist"] = "t-nobody"
    raw["patients"][0]["tasks"].append(dict(raw["patients"][0]["tasks"][0]))
    problems = _problems(raw)
    assert "patients[1].therapist: no therapist with id 't-nobody'" in problems
    assert "patients[0].tasks[1].id: duplicate 'thought-record'" in problems


def test_schedule_needs_one_kind():
    raw = _plan()
    raw["patients"][0]["tasks"][0]["schedule"] = {
        "days": ["mon"],
        "at": "19:00",
        "times_per_week": 2,
    }
    assert "not both" in _problems(raw)[0]
    raw["patients"][0]["tasks"][0]["schedule"] = {}
    assert _problems(raw)[0].startswith("patients[0].tasks[0].schedule:")


def test_unknown_fields_and_bad_yaml(tmp_path):
    raw = _plan()
    raw["patients"][0]["nickname"] = "x"
    assert _problems(raw) == ["patients[0].nickname: unknown field"]
    bad = tmp_path / "bad.yml"
    bad.write_text("clinic: [unclosed\n")
    with pytest.raises(PlanError) as caught:
        load_plan(bad)
    assert caught.value.problems[0].startswith("(file): not valid YAML")
    with pytest.raises(PlanError):
        parse_plan(["not", "a", "mapping"])


def test_a_safety_plan_is_optional_short_lines_at_most_twenty():
    assert load_plan(FIXTURES / "plan.yml").patients[0].safety_plan[2] == "Someone I can call: Test Friend"
    assert load_plan(FIXTURES / "plan.yml").patients[1].safety_plan == []
    raw = _plan()
    raw["patients"][0]["safety_plan"] = ["  "] + ["x" * 301]
    problems = _problems(raw)
    assert [p.split(":")[0] for p in problems] == ["patients[0].safety_plan[0]", "patients[0].safety_plan[1]"]
    raw["patients"][0]["safety_plan"] = ["a step"] * 21
    assert [p.split(":")[0] for p in _problems(raw)] == ["patients[0].safety_plan"]


def test_invite_codes_that_differ_only_in_case_or_punctuation_are_one_code():
    raw = _plan()
    raw["patients"][0]["invite_code"] = "TEST-CODE-200"
    raw["patients"][1]["invite_code"] = "test code 200"  # redeemed as the same code
    assert "invite_code: two people share an invite_code" in _problems(raw)
