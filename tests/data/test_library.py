"""The task library: every template complete, every worksheet it names there, and a broken
entry named by its id and field, so nothing starts half-working. Wording is the clinic's:
these tests check structure and keys, never sentences."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import data.library
from data.library import LIBRARY_DIR, LibraryError, library, load_library, require_valid, task_templates
from data.library.schema import Template
from data.plan_schema import PlanError, parse_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"
# Referenced by care plans already written: they must keep working.
ORIGINAL_IDS = {
    "thought_record",
    "behavioural_activation",
    "worry_time",
    "exposure_step",
    "walk",
    "relaxation",
}
# The kinds of CBT homework the library must offer, by id.
REQUIRED_KINDS = {
    "behavioural_experiment",
    "exposure_step",
    "activity_mood_diary",
    "sleep_diary",
    "problem_solving",
    "graded_task",
    "reading",
    "self_compassion",
    "mindfulness",
}


@pytest.fixture
def broken_library(tmp_path, monkeypatch):
    """A copy of the library to break; the processes' cached library reads it."""
    for name in ("tasks.yml", "worksheets.yml"):
        shutil.copy(LIBRARY_DIR / name, tmp_path / name)
    monkeypatch.setattr(data.library, "LIBRARY_DIR", tmp_path)
    library.cache_clear()
    yield tmp_path
    library.cache_clear()


def edit(directory: Path, name: str, change) -> None:
    path = directory / name
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def problems_in(directory: Path) -> list[str]:
    with pytest.raises(LibraryError) as caught:
        load_library(directory)
    return caught.value.problems


def test_the_library_has_every_kind_of_homework_with_every_field():
    templates = task_templates()
    assert len(templates) >= 14
    assert ORIGINAL_IDS <= set(templates) and REQUIRED_KINDS <= set(templates)
    # Every field is required by the model, so a loaded template has them all, filled in.
    required = {name for name, field in Template.model_fields.items() if field.is_required()}
    assert required == {"name", "why", "instructions", "example", "minutes", "worksheet"}
    raw = yaml.safe_load((LIBRARY_DIR / "tasks.yml").read_text(encoding="utf-8"))["templates"]
    for key, template in templates.items():
        assert set(raw[key]) == required, key  # each written out in the file, `none` included
        assert all([template.name, template.why, template.instructions, template.example]), key
        assert 1 <= template.minutes <= 240, key


def test_each_worksheet_a_template_names_exists():
    lib = library()
    named = {t.worksheet for t in lib.templates.values() if t.worksheet}
    assert named <= set(lib.worksheets)
    assert {"exposure_suds", "behavioural_experiment", "sleep_diary"} <= named


def scales(kind: str) -> dict[str, tuple[int, int] | None]:
    sheet = library().worksheets[kind]
    return {step.key: step.scale for step in sheet.steps}


def pauses(kind: str) -> list[str]:
    return [step.key for step in library().worksheets[kind].steps if step.pause_after]


def test_the_new_worksheets_ask_what_the_therapist_needs():
    kinds = {key: t.worksheet for key, t in task_templates().items()}
    assert kinds["exposure_step"] == "exposure_suds"
    assert kinds["behavioural_experiment"] == "behavioural_experiment"
    assert kinds["sleep_diary"] == "sleep_diary"
    exposure = scales("exposure_suds")
    assert {exposure[k] for k in ("suds_before", "suds_peak", "suds_after")} == {(0, 100)}
    assert pauses("exposure_suds") == ["suds_before"]  # the patient goes off to do the step
    experiment = scales("behavioural_experiment")
    assert list(experiment) == [
        "prediction",
        "experiment",
        "belief_before",
        "outcome",
        "belief_after",
        "learned",
    ]
    assert experiment["belief_before"] == experiment["belief_after"] == (0, 100)
    assert pauses("behavioural_experiment") == ["belief_before"]
    sleep = scales("sleep_diary")
    assert list(sleep) == ["bed_time", "minutes_to_sleep", "wakings", "wake_time", "quality", "notes"]
    assert sleep["quality"] == (1, 5) and sleep["bed_time"] is None


def test_a_broken_entry_is_named_by_its_id_and_field(broken_library):
    def break_tasks(raw):
        raw["templates"]["sleep_diary"]["minutes"] = "a while"
        del raw["templates"]["reading"]["example"]
        raw["templates"]["walk"]["worksheet"] = "no_such_sheet"
        raw["templates"]["mindfulness"]["colour"] = "blue"

    edit(broken_library, "tasks.yml", break_tasks)
    problems = problems_in(broken_library)
    paths = {p.rsplit(":", 1)[0] for p in problems}
    assert {
        "tasks.yml: templates.sleep_diary.minutes",
        "tasks.yml: templates.reading.example",
        "tasks.yml: templates.mindfulness.colour",
    } <= paths
    assert "tasks.yml: templates.reading.example: field required" in problems
    assert any(
        p.startswith("tasks.yml: templates.walk.worksheet:") and "no_such_sheet" in p for p in problems
    )


def test_a_broken_worksheet_is_named_by_its_kind_and_step(broken_library):
    def break_sheets(raw):
        raw["worksheets"]["exposure_suds"]["steps"][1]["scale"] = [100, 0]
        raw["worksheets"]["sleep_diary"]["done"] = "You slept {hours} hours."
        raw["worksheets"]["behavioural_experiment"]["steps"][2].pop("pause_message")

    edit(broken_library, "worksheets.yml", break_sheets)
    paths = [p.split(": ")[1] for p in problems_in(broken_library)]
    assert "worksheets.exposure_suds.steps[1]" in paths
    assert "worksheets.sleep_diary" in paths
    assert "worksheets.behavioural_experiment.steps[2]" in paths


def test_a_file_that_is_not_yaml_is_refused_whole(broken_library):
    (broken_library / "tasks.yml").write_text("templates:\n  walk: [unclosed\n", encoding="utf-8")
    [problem] = problems_in(broken_library)
    assert problem.startswith("tasks.yml: not valid YAML at line")


def test_a_process_with_a_broken_library_stops_at_once(broken_library):
    edit(broken_library, "tasks.yml", lambda raw: raw["templates"]["sleep_diary"].pop("minutes"))
    with pytest.raises(SystemExit) as stopped:
        require_valid()
    assert "templates.sleep_diary.minutes" in str(stopped.value.code)


def test_every_template_can_be_used_in_a_plan_and_an_unknown_one_is_refused():
    raw = yaml.safe_load((FIXTURES / "plan.yml").read_text(encoding="utf-8"))
    task = raw["patients"][0]["tasks"][0]
    raw["patients"][0]["tasks"] = [
        {**task, "id": f"t-{i}", "template": key} for i, key in enumerate(task_templates())
    ]
    plan = parse_plan(raw)
    assert {t.template for t in plan.patients[0].tasks} == set(task_templates())
    raw["patients"][0]["tasks"][3]["template"] = "exposure_practice_typo"
    with pytest.raises(PlanError) as refused:
        parse_plan(raw)
    assert [p.split(":")[0] for p in refused.value.problems] == ["patients[0].tasks[3].template"]


def _started(*args, **kwargs):
    pytest.fail("the process went on to start before checking the library")


def _start_action_server(monkeypatch):
    import actions.server

    monkeypatch.setattr(actions.server, "configure", lambda *a, **k: None)  # keeps pytest's logging
    monkeypatch.setattr(actions.server, "create_app", _started)
    actions.server.main()


def _start_bot_and_scheduler(monkeypatch):
    import asyncio

    from coach import wiring
    from data.settings import get_settings

    monkeypatch.setattr(wiring.crisis, "warm_up", _started)
    asyncio.run(wiring.run(get_settings()))


def _start_everything(monkeypatch):
    from coach import supervisor

    monkeypatch.setattr(supervisor, "ensure_model", _started)
    supervisor.up(demo=False)


def _validate_a_plan(monkeypatch):
    import argparse

    from coach.cli import cmd_plan

    cmd_plan(argparse.Namespace(action="validate", file=str(FIXTURES / "plan.yml")))


@pytest.mark.parametrize(
    "start", [_start_action_server, _start_bot_and_scheduler, _start_everything, _validate_a_plan]
)
def test_each_process_checks_the_library_before_anything_else(broken_library, monkeypatch, start):
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "test-token-not-secret")
    edit(broken_library, "tasks.yml", lambda raw: raw["templates"]["graded_task"].pop("why"))
    with pytest.raises(SystemExit) as stopped:
        start(monkeypatch)
    assert "templates.graded_task.why: field required" in str(stopped.value.code)
