import asyncio

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.checkin import (
    ActionLogCheckin,
    ActionSaveCheckinDetails,
    ActionSaveLater,
    ActionStartCheckin,
    ValidateCheckinDetailsForm,
    ValidateLaterForm,
)
from actions.rationale import ActionExplainRationale, ActionSaveExpectation
from data.library import task_templates
from data.models import Assignment, CheckIn, ScheduleChange
from data.report import build_report
from tests.actions.conftest import responses, run, slots_set, task, tracker


def test_done_is_logged_at_once_with_the_rationale_the_first_time(linked, sessions):
    events, messages = run(
        ActionLogCheckin(), tracker(linked["p-100"], "I did my thought record", "report_done")
    )
    assert responses(messages) == ["utter_checkin_done", "utter_rationale", "utter_ask_expectation"]
    assert "Writing the thought down slows it" in messages[1]["rationale"]  # the test plan's own rationale
    slots = slots_set(events)
    assert slots["checkin_logged"] is True and slots["task_id"] == "thought-record"
    with sessions() as session:
        [row] = session.scalars(select(CheckIn)).all()
        assert row.status == "done" and row.id == int(slots["checkin_id"])
    _, messages = run(ActionLogCheckin(), tracker(linked["p-100"], "done it again", "report_done"))
    assert responses(messages) == ["utter_checkin_done"]  # the rationale only comes first time


def test_a_bare_no_answering_the_check_in_is_logged_as_not_done(linked, sessions):
    # rules/checkin.yml sends a deny here only right after the check-in's question.
    events, messages = run(ActionLogCheckin(), tracker(linked["p-100"], "no", "deny"))
    assert responses(messages)[0] == "utter_checkin_not_done"
    assert slots_set(events)["checkin_logged"] is True
    with sessions() as session:
        [row] = session.scalars(select(CheckIn)).all()
        assert row.status == "not_done"


def test_the_same_message_twice_writes_one_checkin(linked, sessions):
    t = tracker(linked["p-100"], "did it", "report_done")
    run(ActionLogCheckin(), t)
    run(ActionLogCheckin(), t)
    with sessions() as session:
        assert len(session.scalars(select(CheckIn)).all()) == 1


def test_ratings_note_and_celebration(linked, sessions):
    events, _ = run(ActionLogCheckin(), tracker(linked["p-100"], "done", "report_done"))
    checkin_id = slots_set(events)["checkin_id"]
    slots = {
        "checkin_id": checkin_id,
        "task_id": "thought-record",
        "helpfulness": "4",
        "difficulty": "2",
        "reflection": "noticed the thought was less loud after writing it",
        "reflection_shared": True,
    }
    events, messages = run(
        ActionSaveCheckinDetails(), tracker(linked["p-100"], "/affirm", "affirm", slots=slots)
    )
    assert responses(messages) == ["utter_celebrate"]
    assert messages[0]["done"] == 1 and messages[0]["planned"] == 3  # mon, wed, fri
    # The form's answers are cleared (an empty list of events passed the old `all(...)` too).
    cleared = slots_set(events)
    assert {"helpfulness", "difficulty", "reflection"} <= cleared.keys() and set(cleared.values()) == {None}
    with sessions() as session:
        [report] = build_report(session=session, patient_id="p-100")
    [checkin] = report["checkins"]
    assert (checkin["helpfulness"], checkin["difficulty"]) == (4, 2)
    assert checkin["reflection"] == "noticed the thought was less loud after writing it"


def test_a_private_note_stays_private(linked, sessions):
    events, _ = run(ActionLogCheckin(), tracker(linked["p-100"], "done", "report_done"))
    slots = {
        **slots_set(events),
        "helpfulness": "3",
        "difficulty": "3",
        "reflection": "just for me",
        "reflection_shared": False,
    }
    run(ActionSaveCheckinDetails(), tracker(linked["p-100"], "/deny", "deny", slots=slots))
    with sessions() as session:
        [report] = build_report(session=session, patient_id="p-100")
        assert report["checkins"][0]["reflection"] is None
        assert session.scalar(select(CheckIn.reflection)) == "just for me"  # kept, not shown


def test_rating_and_note_validation():
    form = ValidateCheckinDetailsForm()
    dispatcher = CollectingDispatcher()
    t = tracker("pz-x", "x", "inform")
    assert asyncio.run(form.validate_helpfulness("about a 4 i think", dispatcher, t, {})) == {
        "helpfulness": "4"
    }
    assert asyncio.run(form.validate_helpfulness('/inform{"rating":"5"}', dispatcher, t, {})) == {
        "helpfulness": "5"
    }
    assert asyncio.run(form.validate_difficulty("9", dispatcher, t, {})) == {"difficulty": None}
    assert responses(dispatcher.messages) == ["utter_rating_invalid"]
    skip = tracker("pz-x", "/deny", "deny")
    assert asyncio.run(form.validate_reflection("/deny", dispatcher, skip, {})) == {
        "reflection": "-",
        "reflection_shared": False,
    }
    note = tracker("pz-x", "it felt silly at first", "inform")
    assert asyncio.run(form.validate_reflection("it felt silly at first", dispatcher, note, {})) == {
        "reflection": "it felt silly at first"
    }
    assert asyncio.run(
        form.required_slots(
            ["helpfulness", "reflection", "reflection_shared"],
            dispatcher,
            tracker("pz-x", "x", "deny", slots={"reflection": "-"}),
            {},
        )
    ) == ["helpfulness", "reflection"]


def test_which_task_when_unclear_and_no_reaching_another_patients_task(linked, sessions):
    # Give Alex a second task, so "did it" is ambiguous.
    jo_walk = task(sessions, "walk")
    with sessions.begin() as session:
        session.add(
            Assignment(
                patient_id="p-100",
                task_id="breathing",
                template="relaxation",
                title="Breathing practice",
                rationale="Practice when calm.",
                schedule={},
            )
        )
    events, messages = run(ActionLogCheckin(), tracker(linked["p-100"], "did it", "report_done"))
    assert slots_set(events)["checkin_logged"] is False
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert responses(messages) == ["utter_which_task"] and len(payloads) == 2
    assert all(len(p.encode()) <= 64 and p.startswith('/report_done{"assignment":') for p in payloads)
    # A forged payload naming Jo's task does not touch Jo's task.
    forged = tracker(
        linked["p-100"],
        f'/report_done{{"assignment":"{jo_walk.id}"}}',
        "report_done",
        entities={"assignment": str(jo_walk.id)},
    )
    events, messages = run(ActionLogCheckin(), forged)
    assert responses(messages) == ["utter_which_task"]
    with sessions() as session:
        assert session.scalars(select(CheckIn)).all() == []


def test_scheduler_checkin_is_discreet_and_names_no_task(linked, sessions):
    t = tracker(linked["p-200"], "", "EXTERNAL_checkin", entities={"task_id": "walk"})
    events, messages = run(ActionStartCheckin(), t)
    # Jo is discreet (the plan's default): no task named, no rationale in the nudge.
    assert responses(messages) == ["utter_checkin_prompt_discreet"]
    assert slots_set(events)["task_id"] == "walk"
    t = tracker(linked["p-100"], "", "EXTERNAL_checkin", entities={"task_id": "thought-record"})
    _, messages = run(ActionStartCheckin(), t)
    # Alex is not discreet: the first check-in brings the rationale.
    assert responses(messages) == ["utter_rationale", "utter_ask_expectation", "utter_checkin_prompt"]


def test_rationale_on_request_and_the_expectation_once(linked, sessions):
    _, messages = run(
        ActionExplainRationale(), tracker(linked["p-100"], "why am i doing this", "ask_rationale")
    )
    assert responses(messages) == ["utter_rationale", "utter_ask_expectation"]
    assert messages[0]["why"] == task_templates()["thought_record"].why
    t = tracker(
        linked["p-100"],
        '/expect{"rating":"2"}',
        "expect",
        entities={"rating": "2"},
        slots={"task_id": "thought-record"},
    )
    _, messages = run(ActionSaveExpectation(), t)
    assert responses(messages) == ["utter_expectation_thanks"]
    assert task(sessions, "thought-record").expected_helpfulness == 2
    _, messages = run(ActionExplainRationale(), tracker(linked["p-100"], "why again", "ask_rationale"))
    assert responses(messages) == ["utter_rationale"]


def test_the_expectation_is_asked_once_even_if_unanswered(linked):
    run(ActionExplainRationale(), tracker(linked["p-100"], "why am i doing this", "ask_rationale"))
    _, messages = run(ActionExplainRationale(), tracker(linked["p-100"], "why though", "ask_rationale"))
    assert responses(messages) == ["utter_rationale"]


def test_later_today_becomes_a_one_off_checkin(linked, sessions):
    form = ValidateLaterForm()
    dispatcher = CollectingDispatcher()
    t = tracker(linked["p-100"], "after dinner", "inform")
    value = asyncio.run(form.validate_later_time("after dinner", dispatcher, t, {}))["later_time"]
    assert value is not None
    assert asyncio.run(form.validate_later_time("whenever", dispatcher, t, {})) == {"later_time": None}
    assert responses(dispatcher.messages) == ["utter_time_not_understood"]
    _, messages = run(
        ActionSaveLater(),
        tracker(
            linked["p-100"],
            "after dinner",
            "inform",
            slots={"later_time": value, "task_id": "thought-record"},
        ),
    )
    assert responses(messages) == ["utter_later_confirmed"] and messages[0]["time"] == "19:30"
    with sessions() as session:
        change = session.scalar(select(ScheduleChange))
        assert change.kind == "once" and change.assignment_id == task(sessions, "thought-record").id


def test_a_cleared_slot_is_not_an_answer():
    # Flows clear their slots; the SDK hands cleared values to validation at the
    # next form start. Nothing must be said about answers the patient never gave.
    dispatcher = CollectingDispatcher()
    t = tracker("pz-x", "I did my thought record", "report_done")
    for form, slot in (
        (ValidateCheckinDetailsForm(), "helpfulness"),
        (ValidateCheckinDetailsForm(), "reflection"),
        (ValidateLaterForm(), "later_time"),
    ):
        assert asyncio.run(getattr(form, f"validate_{slot}")(None, dispatcher, t, {})) == {slot: None}
    assert dispatcher.messages == []


def test_a_database_outage_gets_a_kind_word_not_an_error(monkeypatch):
    # A real connection failure: the database URL points at a closed port.
    import actions.store
    from data.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    get_settings.cache_clear()
    actions.store._factory.cache_clear()
    try:
        events, messages = run(ActionLogCheckin(), tracker("pz-x", "I did it", "report_done"))
    finally:
        get_settings.cache_clear()
        actions.store._factory.cache_clear()
    assert responses(messages) == ["utter_not_available"]
    assert slots_set(events) == {"checkin_logged": False}


def test_a_task_named_but_not_a_number_is_no_task_not_the_only_one(linked, sessions):
    # Jo has one task; a payload naming "23pq" must not fall back to it (found by the fuzz test).
    forged = tracker(
        linked["p-200"], '/report_done{"assignment":"23pq"}', "report_done", entities={"assignment": "23pq"}
    )
    run(ActionLogCheckin(), forged)
    with sessions() as session:
        assert session.scalars(select(CheckIn)).all() == []


def test_another_patients_checkin_id_changes_nothing_and_is_refused(linked, sessions, caplog):
    events, _ = run(ActionLogCheckin(), tracker(linked["p-100"], "done", "report_done"))
    alexs = slots_set(events)["checkin_id"]
    forged = {
        "checkin_id": alexs,
        "helpfulness": "1",
        "difficulty": "5",
        "reflection": "overwritten by someone else",
        "reflection_shared": True,
    }
    # Jo (or anyone posting as another sender) names Alex's check-in.
    run(ActionSaveCheckinDetails(), tracker(linked["p-200"], "/affirm", "affirm", slots=forged))
    with sessions() as session:
        row = session.get(CheckIn, int(alexs))
        assert (row.helpfulness, row.difficulty, row.reflection, row.reflection_shared) == (
            None,
            None,
            None,
            False,
        )
    assert "refused" in caplog.text and "overwritten" not in caplog.text


def test_done_after_a_nudge_records_the_nudges_planned_time(linked, sessions):
    """The report matches a check-in to the planned occurrence it answers by its due_at."""
    import datetime as dt

    from data.db import transaction
    from data.models import NudgeLog, utcnow

    planned = (utcnow() - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    thought = task(sessions, "thought-record")
    with transaction(sessions) as session:
        session.add(NudgeLog(assignment_id=thought.id, scheduled_for=planned, status="sent", sent_at=planned))
    run(ActionLogCheckin(), tracker(linked["p-100"], "did it", "report_done"))
    run(ActionLogCheckin(), tracker(linked["p-100"], "did it again", "report_done"))
    with sessions() as session:
        rows = session.scalars(select(CheckIn).order_by(CheckIn.id)).all()
        assert [row.due_at for row in rows] == [planned, None]  # the second answers no nudge
