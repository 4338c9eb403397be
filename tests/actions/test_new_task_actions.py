"""A new task brought to the patient: the therapist's rationale and steps, the expectation,
the time of day they choose (which moves its reminder), then what might get in the way."""

from sqlalchemy import select

from actions.new_task import ActionIntroduceTask, ActionSaveTaskTime
from actions.rationale import ActionSaveExpectation
from data.db import transaction
from data.models import Assignment, ScheduleChange
from data.report import build_report
from tests.actions.conftest import responses, run, slots_set, task, tracker


def test_a_new_task_is_introduced_with_its_rationale_then_the_expectation(linked, sessions):
    events, messages = run(
        ActionIntroduceTask(),
        tracker(
            linked["p-100"], "EXTERNAL_new_task", "EXTERNAL_new_task", entities={"task_id": "thought-record"}
        ),
    )
    assert responses(messages) == ["utter_new_task", "utter_new_task_steps", "utter_ask_expectation"]
    assert "Writing the thought down slows it" in messages[0]["rationale"]  # the therapist's words
    assert messages[1]["steps"]  # the library's steps, as the task gives none of its own
    assert slots_set(events) == {"task_id": "thought-record", "introducing": True}
    # Not shown again at the first check-in.
    assert task(sessions, "thought-record").rationale_shown_at is not None
    # The expectation, then (still introducing) when they'll do it.
    events, messages = run(
        ActionSaveExpectation(),
        tracker(
            linked["p-100"],
            '/expect{"rating":"3"}',
            "expect",
            entities={"rating": "3"},
            slots={"task_id": "thought-record", "introducing": True},
        ),
    )
    assert responses(messages) == ["utter_expectation_thanks", "utter_ask_task_time"]
    # A typed answer is now read as the time (rules/new_task.yml).
    assert slots_set(events) == {"introducing": False, "planning_time": True}
    # Outside an introduction, the expectation is only thanked.
    _, messages = run(
        ActionSaveExpectation(),
        tracker(linked["p-100"], '/expect{"rating":"4"}', "expect", entities={"rating": "4"}),
    )
    assert responses(messages) == ["utter_expectation_thanks"]


def test_the_time_they_choose_moves_the_reminder_and_asks_what_might_get_in_the_way(linked, sessions):
    slots = {"task_id": "thought-record"}
    _, messages = run(
        ActionSaveTaskTime(),
        tracker(
            linked["p-100"],
            '/plan_time{"clock":"1930"}',
            "plan_time",
            entities={"clock": "1930"},
            slots=slots,
        ),
    )
    assert responses(messages) == ["utter_task_time_saved", "utter_ask_obstacle_ahead"]
    assert messages[0]["time"] == "19:30"
    with sessions() as session:
        [move] = session.scalars(select(ScheduleChange)).all()
        assert (move.kind, move.clock, move.assignment_id) == (
            "move",
            "19:30",
            task(sessions, "thought-record").id,
        )
        [alex] = build_report(session=session, patient_id="p-100")
    assert alex["tasks"][0]["planned_when"] == "19:30"  # in the therapist's review


def test_keeping_the_therapists_times_or_a_forged_time(linked, sessions):
    slots = {"task_id": "thought-record"}
    _, messages = run(
        ActionSaveTaskTime(),
        tracker(
            linked["p-100"],
            '/plan_time{"clock":"keep"}',
            "plan_time",
            entities={"clock": "keep"},
            slots=slots,
        ),
    )
    assert responses(messages) == ["utter_task_time_kept", "utter_ask_obstacle_ahead"]
    for forged in ("2561", "99", "x"):
        _, messages = run(
            ActionSaveTaskTime(),
            tracker(linked["p-100"], "/plan_time", "plan_time", entities={"clock": forged}, slots=slots),
        )
        # asked again, in other words, nothing changed
        assert responses(messages) == ["utter_ask_task_time_again"]
    with sessions() as session:
        assert session.scalars(select(ScheduleChange)).all() == []
        assert (
            session.scalar(select(Assignment.planned_when).where(Assignment.task_id == "thought-record"))
            == "keep"
        )


def test_a_task_that_is_not_theirs_is_not_introduced(linked, sessions):
    with transaction(sessions) as session:
        session.scalar(select(Assignment).where(Assignment.task_id == "walk")).active = True
    _, messages = run(
        ActionIntroduceTask(),
        tracker(linked["p-100"], "EXTERNAL_new_task", "EXTERNAL_new_task", entities={"task_id": "walk"}),
    )
    assert messages == []  # Jo's walk, asked for in Alex's name: nothing said


def test_a_changed_task_is_told_as_changed_and_its_time_asked_again(linked, sessions):
    run(
        ActionIntroduceTask(),
        tracker(
            linked["p-100"], "EXTERNAL_new_task", "EXTERNAL_new_task", entities={"task_id": "thought-record"}
        ),
    )
    with transaction(sessions) as session:
        session.scalar(
            select(Assignment).where(Assignment.task_id == "thought-record")
        ).expected_helpfulness = 3
    events, messages = run(
        ActionIntroduceTask(),
        tracker(
            linked["p-100"], "EXTERNAL_new_task", "EXTERNAL_new_task", entities={"task_id": "thought-record"}
        ),
    )
    # Seen before, expectation known: told it changed, then straight to when.
    assert responses(messages) == ["utter_changed_task", "utter_new_task_steps", "utter_ask_task_time"]
    assert slots_set(events) == {"task_id": "thought-record", "introducing": False, "planning_time": True}


def test_a_typed_time_moves_the_reminder(linked, sessions):
    slots = {"task_id": "thought-record", "planning_time": True}
    events, messages = run(
        ActionSaveTaskTime(), tracker(linked["p-100"], "after work, usually", "inform", slots=slots)
    )
    assert responses(messages) == ["utter_task_time_saved", "utter_ask_obstacle_ahead"]
    assert messages[0]["time"] == "18:00"
    assert slots_set(events) == {"planning_time": False, "time_missed": False}
    _, messages = run(
        ActionSaveTaskTime(), tracker(linked["p-100"], "probably 7.30pm", "change_reminder", slots=slots)
    )
    assert messages[0]["time"] == "19:30"
    with sessions() as session:
        assert [c.clock for c in session.scalars(select(ScheduleChange).order_by(ScheduleChange.id))] == [
            "18:00",
            "19:30",
        ]


def test_no_time_in_it_is_asked_once_more_then_the_therapists_times_are_kept(linked, sessions):
    slots = {"task_id": "thought-record", "planning_time": True}
    events, messages = run(
        ActionSaveTaskTime(), tracker(linked["p-100"], "whenever really", "nlu_fallback", slots=slots)
    )
    assert responses(messages) == ["utter_ask_task_time_again"]
    assert slots_set(events) == {"planning_time": True, "time_missed": True}
    events, messages = run(
        ActionSaveTaskTime(),
        tracker(linked["p-100"], "no idea", "nlu_fallback", slots={**slots, "time_missed": True}),
    )
    # Not a third question: said plainly, and on to what might get in the way.
    assert responses(messages) == ["utter_task_time_left", "utter_ask_obstacle_ahead"]
    assert slots_set(events) == {"planning_time": False, "time_missed": False}
    with sessions() as session:
        assert session.scalars(select(ScheduleChange)).all() == []
        assert task(sessions, "thought-record").planned_when == "keep"


def test_a_time_read_as_an_obstacle_is_a_time_and_an_obstacle_without_one_gets_its_script(linked, sessions):
    slots = {"task_id": "thought-record", "planning_time": True}
    _, messages = run(
        ActionSaveTaskTime(),
        tracker(linked["p-100"], "probably 8pm after dinner", "barrier_timing", slots=slots),
    )
    assert responses(messages) == ["utter_task_time_saved", "utter_ask_obstacle_ahead"]
    assert messages[0]["time"] == "20:00"
    events, messages = run(
        ActionSaveTaskTime(),
        tracker(linked["p-100"], "evenings are hopeless, im shattered", "barrier_timing", slots=slots),
    )
    assert messages == []
    assert [e["name"] for e in events if e["event"] == "followup"] == ["action_barrier_script"]
    assert slots_set(events) == {"planning_time": False, "time_missed": False}
