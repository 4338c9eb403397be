"""A button's words typed rather than tapped are the button: "2" answers the 1-to-5
question even after a misunderstanding in between, and whether a turn or the scheduler
asked it; only buttons Rasa offered this patient count (read from its tracker store, on
SQLite and PostgreSQL), so typing can't forge an intent; a question left behind a new
session or a scheduler's message is no longer answered; and a chosen meaning is logged by
its intent name, never the words."""

import asyncio
import logging
import sqlite3

import pytest

from bot.dialogue import Dialogue, open_button_sets
from bot.people import PatientView
from messaging.rasa_client import RasaClient
from tests.support import rasa_store
from tests.support.rasa_stub import RasaStub

ALEX = PatientView(id="p-100", sender_id="pz-alex", display_name="Alex", consented=True)
JO = PatientView(id="p-200", sender_id="pz-jo", display_name="Jo", consented=True)
EXPECT = {
    "text": "How much do you expect the walk to help you, from 1 (not at all) to 5 (a lot)?",
    "buttons": [{"title": str(n), "payload": f'/expect{{"rating":"{n}"}}'} for n in range(1, 6)],
}
RULER = {
    "text": "How important is working on this to you, from 0 (not at all) to 10 (very)?",
    "buttons": [
        {"title": "0", "payload": '/importance{"rating":"0"}'},
        *({"title": f"{n - 1}-{n}", "payload": f'/importance{{"rating":"{n}"}}'} for n in range(2, 11, 2)),
    ],
}
DID_YOU_MEAN = {
    "text": "Sorry, I'm not sure I followed. Did you mean:",
    "buttons": [
        {"title": "It doesn't feel useful", "payload": '/barrier_not_useful{"picked":"1"}'},
        {"title": "Something else", "payload": "/something_else"},
    ],
}


@pytest.fixture
def tracker_url(db_url) -> str:
    return db_url  # Rasa's events table, beside the application's (SQLite and PostgreSQL)


def _turns(rasa: RasaStub, steps):
    """Each step: a turn in words that Rasa answers with `replies` (or, with "scheduler",
    a message the scheduler had Rasa send), then what `typed` would be taken for."""

    async def scenario():
        client = RasaClient(rasa.url, rasa.token, timeout=5)
        dialogue = Dialogue(client, rasa.tracker_url or "sqlite:///nowhere/tracker.db")
        found = []
        try:
            for patient, replies, typed in steps:
                if patient == "scheduler":
                    rasa.trigger_replies = replies
                    await client.trigger_intent(ALEX.sender_id, "EXTERNAL_new_task", {"task_id": "t1"})
                else:
                    rasa.replies = replies
                    await dialogue.turn(patient, "…", "k")
                found.append(await dialogue.typed_choice(ALEX if patient == "scheduler" else patient, typed))
        finally:
            await client.aclose()
        return found

    return asyncio.run(scenario())


def test_a_typed_answer_is_the_button_even_after_a_misunderstanding(tracker_url):
    with RasaStub(tracker_url=tracker_url) as rasa:
        found = _turns(
            rasa,
            [
                (ALEX, [EXPECT], " 4! "),  # the question, answered in words
                (ALEX, [DID_YOU_MEAN], "2"),  # a miss between: the question still stands
                (ALEX, [DID_YOU_MEAN], "it doesn't feel useful"),  # and the meanings offered
                (ALEX, [{"text": "Take care."}], "Something else."),  # no buttons: still open
            ],
        )
    assert found == [
        '/expect{"rating":"4"}',
        '/expect{"rating":"2"}',
        '/barrier_not_useful{"picked":"1"}',
        "/something_else",
    ]


def test_a_number_typed_inside_a_buttons_span_is_that_button_carrying_the_number(tracker_url):
    with RasaStub(tracker_url=tracker_url) as rasa:
        found = _turns(
            rasa,
            [
                (ALEX, [RULER], "7"),  # inside "7-8": the 7 typed, not the button's 8
                (ALEX, [RULER], " 1. "),
                (ALEX, [RULER], "10"),
                (ALEX, [RULER], "0"),  # a button's own words
                (ALEX, [RULER], "11"),  # outside every span: the NLU reads it
                (ALEX, [RULER], "7 or 8"),
                (ALEX, [RULER], "²"),  # a digit, but not a number: the NLU reads it
                (ALEX, [EXPECT, DID_YOU_MEAN], "2"),  # the 1-to-5 question is newer
                (ALEX, [RULER, DID_YOU_MEAN], "2"),  # and now the ruler, after a miss
            ],
        )
    assert found == [
        '/importance{"rating":"7"}',
        '/importance{"rating":"1"}',
        '/importance{"rating":"10"}',
        '/importance{"rating":"0"}',
        None,
        None,
        None,
        '/expect{"rating":"2"}',
        '/importance{"rating":"2"}',
    ]


def test_only_this_patients_recent_buttons_count(tracker_url):
    with RasaStub(tracker_url=tracker_url) as rasa:
        found = _turns(
            rasa,
            [
                (ALEX, [EXPECT], "2 or 3 maybe"),  # not a button's words: the NLU reads it
                (JO, [{"text": "Hi"}], "3"),  # Alex's buttons are not Jo's
                (ALEX, [DID_YOU_MEAN], "/expect"),
                (ALEX, [DID_YOU_MEAN], "1"),  # two sets later, the question has gone
            ],
        )
    assert found == [None, None, None, None]


def test_a_question_the_scheduler_asked_is_answered_by_typing_and_ends_the_ones_before(tracker_url):
    checkin = {"text": "Did you do the walk?", "buttons": [{"title": "Done", "payload": "/report_done"}]}
    with RasaStub(tracker_url=tracker_url) as rasa:
        found = _turns(
            rasa,
            [
                (ALEX, [RULER], "7"),
                ("scheduler", [checkin], "7"),  # a new thread: the ruler before it is not open
                (ALEX, [DID_YOU_MEAN], "done!"),  # the check-in's own answer, after a miss
                ("scheduler", [EXPECT], "3"),  # a new task's question, sent by the scheduler
            ],
        )
    assert found == ['/importance{"rating":"7"}', None, "/report_done", '/expect{"rating":"3"}']


def test_nothing_from_before_a_new_session_is_open():
    session_start = {"event": "session_started", "timestamp": 0}
    older = rasa_store.bot("How much do you expect it to help?", buttons=EXPECT["buttons"])
    newest_first = [rasa_store.bot("Welcome back."), session_start, older]
    assert open_button_sets(newest_first) == []
    assert len(open_button_sets([rasa_store.user("hmm", "nlu_fallback"), older])) == 1


def test_an_unreadable_tracker_store_leaves_the_words_to_the_nlu(tmp_path, caplog):
    async def scenario(url: str):
        client = RasaClient("http://127.0.0.1:9", "t", timeout=1)
        try:
            return await Dialogue(client, url).typed_choice(ALEX, "2")
        finally:
            await client.aclose()

    nowhere = "postgresql+psycopg://postgres@127.0.0.1:9/none"  # nothing listens on port 9
    assert asyncio.run(scenario(nowhere)) is None
    assert asyncio.run(scenario(f"sqlite:///{tmp_path / 'not-yet.db'}")) is None  # Rasa wrote none yet
    assert not (tmp_path / "not-yet.db").exists()  # and none is made
    warned = "Rasa's tracker store could not be read for typed answers"
    assert warned in caplog.text  # the store that can't be reached is said in the log
    caplog.clear()
    with sqlite3.connect(tmp_path / "empty.db") as connection:
        connection.execute("create table other (id integer)")  # a file, but not Rasa's table yet
    assert asyncio.run(scenario(f"sqlite:///{tmp_path / 'empty.db'}")) is None
    assert warned not in caplog.text  # nothing wrong: Rasa has not started yet


def test_through_the_conversation_typed_words_go_to_rasa_as_the_button_and_a_choice_is_logged(
    sessions, tmp_path, caplog
):
    from pathlib import Path

    from bot.conversation import Conversation, Sender
    from data.care_plans import apply_plan
    from data.db import transaction
    from data.plan_schema import load_plan

    fixtures = Path(__file__).parent.parent / "fixtures"
    with transaction(sessions) as session:
        apply_plan(load_plan(fixtures / "plan.yml"), session=session, invite_ttl_days=14)
    alex = Sender(telegram_user_id=100, chat_id=100)
    words = "whatever, this is pointless, i dont think it will ever help me"

    async def scenario(rasa):
        client = RasaClient(rasa.url, rasa.token, timeout=5)
        conversation = Conversation(
            sessions=sessions,
            rasa=client,
            invite_ttl_days=14,
            rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
        )
        try:
            await conversation.on_command(alex, "start", "TEST-CODE-100", "k1")
            rasa.replies = [EXPECT]
            await conversation.on_button(alex, "bw:consent:yes", "k2")
            rasa.replies = [DID_YOU_MEAN]
            await conversation.on_text(alex, words, "k3")
            await conversation.on_text(alex, "2", "k4")
            await conversation.on_button(alex, '/barrier_not_useful{"picked":"1"}', "k5")
        finally:
            await client.aclose()

    with caplog.at_level(logging.INFO), RasaStub(tracker_url=f"sqlite:///{tmp_path / 't.db'}") as rasa:
        asyncio.run(scenario(rasa))
        sent = [(m["message"], m.get("metadata", {}).get("bw_typed_choice")) for m in rasa.messages]
    assert sent[-3:] == [
        (words, None),
        ('/expect{"rating":"2"}', "1"),
        ('/barrier_not_useful{"picked":"1"}', None),
    ]
    logged = [r.getMessage() for r in caplog.records]
    assert "fallback meaning chosen: barrier_not_useful" in logged
    assert not any("pointless" in line for line in logged)  # never the words
