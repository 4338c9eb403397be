import asyncio

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.checkin import ActionDoNow
from actions.worksheets import (
    ActionAskWorksheetAnswer,
    ActionFinishWorksheet,
    ActionResumeWorksheet,
    ValidateWorksheetForm,
)
from data.library import worksheet
from data.models import Worksheet
from data.report import build_report
from tests.actions.conftest import answer_worksheet as answer
from tests.actions.conftest import responses, run, slots_set, tracker

THOUGHT_RECORD = [
    "at work when my manager emailed me",
    "i'm going to get sacked",
    "anxious",
    "80",
    "the email was short and had no greeting",
    "she said last week my work was good",
    "she might just be busy, it doesn't mean i'm in trouble",
    "45",
]


def test_a_thought_record_in_the_chat_saved_answer_by_answer(linked, sessions):
    sender = linked["p-100"]
    events, messages = run(
        ActionDoNow(), tracker(sender, "/do_now", "do_now", slots={"task_id": "thought-record"})
    )
    assert slots_set(events)["worksheet_active"] is True and messages == []
    _, messages = run(ActionAskWorksheetAnswer(), tracker(sender, "/do_now", "do_now"))
    thought_record = worksheet("thought_record")  # data/library/worksheets.yml, clinic-editable
    assert responses(messages) == ["utter_worksheet_question"] * 2
    assert [m["question"] for m in messages] == [
        thought_record.intro,
        thought_record.steps[0].question,
    ]

    for text in THOUGHT_RECORD[:3]:
        result, _ = answer(sender, text)
        assert result == {"worksheet_answer": None}  # next question
    result, dispatcher = answer(sender, "very")  # not a number: asked again, nothing lost
    assert result == {"worksheet_answer": None}
    assert responses(dispatcher.messages) == ["utter_worksheet_scale_invalid"]
    with sessions() as session:
        row = session.scalar(select(Worksheet))
        assert row.step == 3 and row.answers["emotion"] == "anxious"
    for text in THOUGHT_RECORD[3:-1]:
        assert answer(sender, text)[0] == {"worksheet_answer": None}
    assert answer(sender, THOUGHT_RECORD[-1])[0] == {"worksheet_answer": "complete"}

    events, messages = run(
        ActionFinishWorksheet(), tracker(sender, "45", "inform", slots={"worksheet_answer": "complete"})
    )
    assert responses(messages) == ["utter_worksheet_done"]
    assert messages[0]["message"] == thought_record.done.format(intensity=80, rerating=45)
    with sessions() as session:
        [report] = build_report(session=session, patient_id="p-100")
    [checkin] = report["checkins"]
    assert checkin["status"] == "done"
    assert checkin["worksheet"]["balanced"] == "she might just be busy, it doesn't mean i'm in trouble"
    assert checkin["worksheet"]["intensity"] == 80 and checkin["worksheet"]["rerating"] == 45


def test_stopped_worksheets_resume_where_they_left_off(linked, sessions):
    sender = linked["p-100"]
    run(ActionDoNow(), tracker(sender, "/do_now", "do_now", slots={"task_id": "thought-record"}))
    answer(sender, THOUGHT_RECORD[0])
    answer(sender, THOUGHT_RECORD[1])
    events, _ = run(ActionResumeWorksheet(), tracker(sender, "carry on", "resume"))
    assert slots_set(events)["worksheet_active"] is True
    _, messages = run(ActionAskWorksheetAnswer(), tracker(sender, "carry on", "resume"))
    assert [m["question"] for m in messages] == [worksheet("thought_record").steps[2].question]
    # Starting the same task again continues the open worksheet, it doesn't start over.
    run(ActionDoNow(), tracker(sender, "/do_now", "do_now", slots={"task_id": "thought-record"}))
    with sessions() as session:
        [row] = session.scalars(select(Worksheet)).all()
        assert row.answers == {"situation": THOUGHT_RECORD[0], "thought": THOUGHT_RECORD[1]}


def test_a_retried_message_answers_once(linked, sessions):
    sender = linked["p-100"]
    run(ActionDoNow(), tracker(sender, "/do_now", "do_now", slots={"task_id": "thought-record"}))
    form = ValidateWorksheetForm()
    t = tracker(sender, "on the bus", "inform")
    asyncio.run(form.validate_worksheet_answer("on the bus", CollectingDispatcher(), t, {}))
    asyncio.run(form.validate_worksheet_answer("on the bus", CollectingDispatcher(), t, {}))
    with sessions() as session:
        assert session.scalar(select(Worksheet.step)) == 1


def test_nothing_to_resume(linked):
    events, messages = run(ActionResumeWorksheet(), tracker(linked["p-100"], "carry on", "resume"))
    assert slots_set(events)["worksheet_active"] is False
    assert responses(messages) == ["utter_nothing_to_resume"]


def test_a_task_without_a_worksheet_gets_its_steps(linked):
    events, messages = run(ActionDoNow(), tracker(linked["p-200"], "/do_now", "do_now"))
    assert slots_set(events)["worksheet_active"] is False
    assert responses(messages) == ["utter_do_now"]
