"""The three answers to crisis language, and the three answers to the question, on a real
database with Rasa a closed port (down): the bot needs neither Rasa nor consent for any
of it, and records when and which net raised it, never the words."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.conversation import Conversation, Sender
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Patient, SafetyEvent, utcnow
from data.plan_schema import load_plan
from data.wording import RISK_ANSWERS, content, parse_risk_answer, say
from messaging.rasa_client import RasaClient
from tests.support.ports import closed_port
from tests.support.wording import is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"
ALEX = Sender(telegram_user_id=100, chat_id=100)
SAM = Sender(telegram_user_id=200, chat_id=200)
POSSIBLE = "everyone would be better off without me"  # passive: the question, not the full response
CLEAR = "i want to kill myself"


@pytest.fixture
def conversation(sessions, tmp_path):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        for patient_id, sender in (("p-100", ALEX), ("p-200", SAM)):
            row = session.get(Patient, patient_id)
            row.telegram_user_id = row.telegram_chat_id = sender.telegram_user_id
            row.linked_at = utcnow()
    return Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )


def run(coro):
    return asyncio.run(coro)


def _events(sessions) -> list[SafetyEvent]:
    with sessions() as session:
        return list(session.scalars(select(SafetyEvent).order_by(SafetyEvent.id)))


def _answers(reply) -> dict[str, int]:
    """The question's answer buttons: answer -> question id."""
    parsed = [parse_risk_answer(b.payload) for b in reply.buttons]
    return {answer: event for answer, event in filter(None, parsed)}


def test_possible_risk_gets_one_question_with_three_answers_and_the_numbers(conversation, sessions):
    [question] = run(conversation.on_text(ALEX, POSSIBLE, "k1"))  # before consent, Rasa down
    [event] = _events(sessions)
    assert (event.kind, event.detected_by, event.words, event.answer) == ("risk_check", "lexicon", None, None)
    assert _answers(question) == {"yes": event.id, "no": event.id, "unsure": event.id}
    assert question.buttons[-1].payload == "bw:crisis:resources"
    assert [b.title for b in question.buttons[:3]] == [content()["risk_buttons"][a] for a in RISK_ANSWERS]
    assert question.text in content()["risk_question"].values()


@pytest.mark.parametrize("answer", ["yes", "unsure"])
def test_yes_or_not_sure_gets_the_crisis_response(conversation, sessions, answer):
    [question] = run(conversation.on_text(ALEX, POSSIBLE, "k1"))
    event_id = _answers(question)[answer]
    response, plan = run(conversation.on_button(ALEX, f"bw:risk:{answer}:{event_id}", "k2"))
    assert "Test crisis line: 0000 000 000" in response.text  # the clinic's own numbers, in any wording
    assert is_response(response.text, "crisis_response")
    assert "Test Friend" in plan.text and [b.payload for b in plan.buttons] == ["bw:crisis:resources"]
    asked, crisis = _events(sessions)
    assert (asked.answer, asked.answered_at is not None) == (answer, True)
    assert (crisis.kind, crisis.detected_by, crisis.words) == ("crisis", "question", None)


def test_no_gets_a_warm_word_and_nothing_more_is_recorded(conversation, sessions):
    [question] = run(conversation.on_text(ALEX, POSSIBLE, "k1"))
    # Rasa is down: the warm word comes from the bot; Rasa would pick up the flow.
    [warm] = run(conversation.on_button(ALEX, f"bw:risk:no:{_answers(question)['no']}", "k2"))
    assert warm.text == say("risk_no") and warm.buttons == ()
    [asked] = _events(sessions)
    assert asked.answer == "no"
    # The same question answered again (an old button): nothing changes.
    [again] = run(conversation.on_button(ALEX, f"bw:risk:no:{asked.id}", "k3"))
    assert again.text == say("button_expired")
    assert [e.answer for e in _events(sessions)] == ["no"]


def test_clear_risk_gets_the_full_response_at_once(conversation, sessions):
    response, plan = run(conversation.on_text(ALEX, CLEAR, "k1"))
    assert "Test crisis line" in response.text and is_response(response.text, "crisis_response")
    [crisis] = _events(sessions)
    assert (crisis.kind, crisis.detected_by) == ("crisis", "lexicon")
    # Retried (the same update again): recorded once.
    run(conversation.on_text(ALEX, CLEAR, "k1"))
    assert len(_events(sessions)) == 1


def test_another_patients_question_cannot_be_answered(conversation, sessions):
    [question] = run(conversation.on_text(SAM, POSSIBLE, "k1"))
    sams = _answers(question)["no"]
    [refused] = run(conversation.on_button(ALEX, f"bw:risk:no:{sams}", "k2"))
    assert refused.text == say("button_expired")
    assert [e.answer for e in _events(sessions)] == [None]
    # "Yes" on a forged button is still a patient saying yes: heard, and Sam's row untouched.
    response, _plan = run(conversation.on_button(ALEX, f"bw:risk:yes:{sams}", "k3"))
    assert "Test crisis line" in response.text
    sam_asked, alex_crisis = _events(sessions)
    assert sam_asked.answer is None and alex_crisis.patient_id == "p-100"


@pytest.mark.parametrize("forged", ["bw:risk:maybe:1", "bw:risk:yes:", "bw:risk:yes:1x", "bw:risk:no:-1"])
def test_malformed_answers_are_not_answers(conversation, sessions, forged):
    [reply] = run(conversation.on_button(ALEX, forged, "k1"))
    assert reply.text == say("button_expired")
    assert _events(sessions) == []


def test_a_stranger_is_asked_too_and_nothing_is_stored(conversation, sessions):
    stranger = Sender(telegram_user_id=424242, chat_id=424242)
    [question] = run(conversation.on_text(stranger, POSSIBLE, "k1"))
    assert set(_answers(question)) == {"yes", "no", "unsure"} and set(_answers(question).values()) == {0}
    [lines] = run(conversation.on_button(stranger, "bw:risk:yes:0", "k2"))
    assert "Test crisis line" in lines.text and is_response(lines.text, "crisis_unlinked")
    warm, join = run(conversation.on_button(stranger, "bw:risk:no:0", "k3"))
    assert (warm.text, join.text) == (say("risk_no"), say("unlinked"))
    [numbers] = run(conversation.on_button(stranger, "bw:crisis:resources", "k4"))
    assert "Test crisis line" in numbers.text
    with sessions() as session:
        assert session.scalar(select(func.count(SafetyEvent.id))) == 0


def test_rasa_is_told_when_the_lexicon_read_risk_words_as_not_current(sessions, tmp_path, conversation):
    from tests.support.rasa_stub import RasaStub

    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()

    async def send(url):
        talk = Conversation(
            sessions=sessions,
            rasa=RasaClient(url, "stub-token", timeout=5),
            invite_ttl_days=14,
            rasa_tracker_url=f"sqlite:///{tmp_path / 't2.db'}",
        )
        await talk.on_text(ALEX, "im not suicidal, just fed up with my job", "k1")
        await talk.on_text(ALEX, "i did my thought record", "k2")

    with RasaStub() as rasa:
        run(send(rasa.url))
    negated, ordinary = rasa.messages
    assert negated["metadata"]["bw_crisis_excused"] == "1"
    assert "bw_crisis_excused" not in ordinary["metadata"]
