"""The new in-chat worksheets, walked through as the action server runs them: exposure
with SUDS, a behavioural experiment and a sleep diary. Each is chosen by the kind its
template names, each answer is saved, scales refuse what is out of range, pauses rest
until the patient comes back, and the answers reach the therapist's report."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from actions.checkin import ActionDoNow
from actions.worksheets import ActionAskWorksheetAnswer, ActionFinishWorksheet, ActionResumeWorksheet
from data.care_plans import apply_plan
from data.db import transaction
from data.library import task_templates, worksheet
from data.models import Worksheet
from data.plan_schema import parse_plan
from data.report import build_report
from tests.actions.conftest import FIXTURES, responses, run, slots_set, tracker
from tests.actions.conftest import answer_worksheet as answer

# task id -> template; the patient's own words for each answer, by step key
TASKS = {"exposure": "exposure_step", "experiment": "behavioural_experiment", "sleep": "sleep_diary"}
ANSWERS = {
    "exposure": {
        "step": "sit in the cafe for twenty minutes",
        "suds_before": "about 60",
        "suds_peak": "75, right at the start",
        "suds_after": "30",
        "noticed": "it came down on its own after ten minutes",
    },
    "experiment": {
        "prediction": "if i ask a question in the meeting people will think i'm stupid",
        "experiment": "ask one question on tuesday",
        "belief_before": "80%",
        "outcome": "my manager said it was a good point",
        "belief_after": "40",
        "learned": "people were more interested than critical",
    },
    "sleep": {
        "bed_time": "11:30pm",
        "minutes_to_sleep": "about 45 minutes",
        "wakings": "2",
        "wake_time": "7am",
        "quality": "2",
        "notes": "coffee at 5pm",
    },
}
# The scale answers above as they are saved: the number in what was written.
NUMBERS = {
    "exposure": {"suds_before": 60, "suds_peak": 75, "suds_after": 30},
    "experiment": {"belief_before": 80, "belief_after": 40},
    "sleep": {"minutes_to_sleep": 45, "wakings": 2, "quality": 2},
}
# An answer out of the step's range, tried first: asked again kindly, nothing saved.
OUT_OF_RANGE = {
    "exposure": ("suds_before", "150"),
    "experiment": ("belief_after", "120%"),
    "sleep": ("quality", "9"),
}


@pytest.fixture
def with_tasks(linked, sessions):
    """Alex (p-100) with a task of each new kind besides the thought record."""
    raw = yaml.safe_load((FIXTURES / "plan.yml").read_text(encoding="utf-8"))
    alex = raw["patients"][0]
    base = alex["tasks"][0]
    alex["tasks"] += [{**base, "id": task_id, "template": template} for task_id, template in TASKS.items()]
    with transaction(sessions) as session:
        apply_plan(parse_plan(raw), session=session, invite_ttl_days=14)
    return linked["p-100"]


def expected_answers(task_id: str) -> dict:
    """What is saved: scale answers as whole numbers, the rest as written."""
    return {**ANSWERS[task_id], **NUMBERS[task_id]}


@pytest.mark.parametrize("task_id", list(TASKS))
def test_each_new_worksheet_is_done_in_the_chat_and_reaches_the_report(with_tasks, sessions, task_id):
    sender = with_tasks
    kind = task_templates()[TASKS[task_id]].worksheet
    sheet = worksheet(kind or "")
    assert sheet is not None and set(ANSWERS[task_id]) == {s.key for s in sheet.steps}
    assert set(NUMBERS[task_id]) == {s.key for s in sheet.steps if s.scale}
    events, messages = run(ActionDoNow(), tracker(sender, "/do_now", "do_now", slots={"task_id": task_id}))
    assert slots_set(events)["worksheet_active"] is True and messages == []

    bad_key, bad_text = OUT_OF_RANGE[task_id]
    for i, step in enumerate(sheet.steps):
        _, messages = run(ActionAskWorksheetAnswer(), tracker(sender, "carry on", "resume"))
        assert [m["question"] for m in messages] == ([sheet.intro] if i == 0 else []) + [step.question]
        if step.key == bad_key:
            result, dispatcher = answer(sender, bad_text)
            assert result == {"worksheet_answer": None}
            assert responses(dispatcher.messages) == ["utter_worksheet_scale_invalid"]
            assert (dispatcher.messages[0]["low"], dispatcher.messages[0]["high"]) == step.scale
            with sessions() as session:
                assert step.key not in session.scalar(select(Worksheet.answers))
        result, _ = answer(sender, ANSWERS[task_id][step.key])
        last = i == len(sheet.steps) - 1
        state = "complete" if last else "resting" if step.pause_after else None
        assert result == {"worksheet_answer": state}, step.key
        if state == "resting":  # the patient goes off to do it, then comes back
            _, messages = run(
                ActionFinishWorksheet(),
                tracker(sender, "ok", "inform", slots={"worksheet_answer": "resting"}),
            )
            assert responses(messages) == ["utter_worksheet_resting"]
            assert messages[0]["message"] == step.pause_message
            events, _ = run(ActionResumeWorksheet(), tracker(sender, "carry on", "resume"))
            assert slots_set(events)["worksheet_active"] is True

    saved = expected_answers(task_id)
    _, messages = run(
        ActionFinishWorksheet(), tracker(sender, "x", "inform", slots={"worksheet_answer": "complete"})
    )
    assert responses(messages) == ["utter_worksheet_done"]
    assert messages[0]["message"] == sheet.done.format(**saved)
    with sessions() as session:
        row = session.scalar(select(Worksheet))
        assert (row.template, row.status, row.answers) == (kind, "complete", saved)
        [report] = build_report(session=session, patient_id="p-100")
    [checkin] = [c for c in report["checkins"] if c["task_id"] == task_id]
    assert checkin["status"] == "done" and checkin["worksheet"] == saved
