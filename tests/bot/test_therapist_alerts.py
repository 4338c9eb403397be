"""Therapists link Telegram with an invite code and hear of a crisis response: id and time only."""

import asyncio
from pathlib import Path

from bot.conversation import Conversation, Sender
from data import safety_events
from data.care_plans import apply_plan
from data.db import make_engine, transaction
from data.models import SafetyEvent, Therapist
from data.plan_schema import load_plan, parse_plan
from data.wording import content, say
from messaging.rasa_client import RasaClient
from scheduler import jobs
from scheduler.service import NudgeScheduler
from tests.support.wording import is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"
THERAPIST_CHAT = 5550001


def _plan_with_therapist_code(sessions):
    raw = load_plan(FIXTURES / "plan.yml").model_dump(mode="json")
    raw["therapists"][0]["invite_code"] = "THERA-PIST-01"
    with transaction(sessions) as session:
        changes = apply_plan(parse_plan(raw), session=session, invite_ttl_days=14)
    assert "invite for therapist t-test set from the plan" in changes


def _conversation(sessions, tmp_path):
    return Conversation(
        sessions=sessions,
        rasa=RasaClient("http://127.0.0.1:9", "t", timeout=1),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )


def test_a_therapist_links_and_is_never_taken_for_a_patient(sessions, tmp_path):
    _plan_with_therapist_code(sessions)
    conversation = _conversation(sessions, tmp_path)
    therapist = Sender(telegram_user_id=THERAPIST_CHAT, chat_id=THERAPIST_CHAT)
    [linked] = asyncio.run(conversation.on_command(therapist, "start", "THERA-PIST-01", "k1"))
    assert linked.text == say("therapist_linked")
    with sessions() as session:
        assert session.get(Therapist, "t-test").telegram_chat_id == THERAPIST_CHAT
    [help_] = asyncio.run(conversation.on_text(therapist, "hello", "k2"))
    assert help_.text == say("therapist_help")
    # The same account can't also become a patient.
    [refused] = asyncio.run(conversation.on_command(therapist, "start", "TEST-CODE-100", "k3"))
    assert refused.text == say("invite_already_linked")


def test_a_crisis_response_alerts_the_linked_therapist_once_with_no_words(db_url, sessions, tmp_path):
    _plan_with_therapist_code(sessions)
    with transaction(sessions) as session:
        therapist = session.get(Therapist, "t-test")
        therapist.telegram_chat_id = THERAPIST_CHAT
        safety_events.record_event(
            session=session,
            patient_id="p-100",
            kind="crisis",
            detected_by="question",
            dedupe_key="c1",
            words=None,
        )
    sent, answer = [], ["failed"]

    async def deliver(outgoing):
        if answer[0] == "delivered":
            sent.extend((outgoing.chat_id, r.text) for r in outgoing.replies)
        return answer[0]

    async def scenario():
        engine = make_engine(db_url)
        service = NudgeScheduler(
            engine=engine, sessions=sessions, runtime=jobs.Runtime(sessions, None, deliver)
        )
        await service.start()
        first = await service.announcements.alert_therapists()  # Telegram failing: not lost, tried again
        answer[0] = "delivered"
        second = await service.announcements.alert_therapists()
        third = await service.announcements.alert_therapists()
        await service.stop()
        engine.dispose()
        return first, second, third

    assert asyncio.run(scenario()) == (0, 1, 0)
    [(chat_id, text)] = sent
    assert chat_id == THERAPIST_CHAT and "p-100" in text and is_response(text, "therapist_crisis_alert")
    assert content()["crisis_raised_by"]["question"] in text  # what raised it, never the words
    with sessions() as session:
        assert session.query(SafetyEvent).one().therapist_notified_at is not None


def test_the_therapist_is_told_once_when_a_patient_erases_their_data(db_url, sessions, tmp_path):
    from data.erasure import erase_patient

    _plan_with_therapist_code(sessions)
    with transaction(sessions) as session:
        session.get(Therapist, "t-test").telegram_chat_id = THERAPIST_CHAT
        erase_patient(session=session, patient_id="p-100")
    sent = []

    async def deliver(outgoing):
        sent.extend((outgoing.chat_id, r.text) for r in outgoing.replies)
        return "delivered"

    async def scenario():
        engine = make_engine(db_url)
        service = NudgeScheduler(
            engine=engine, sessions=sessions, runtime=jobs.Runtime(sessions, None, deliver)
        )
        await service.start()
        counts = (
            await service.announcements.alert_therapists(),
            await service.announcements.alert_therapists(),
        )
        await service.stop()
        engine.dispose()
        return counts

    assert asyncio.run(scenario()) == (1, 0)
    [(chat_id, text)] = sent
    assert chat_id == THERAPIST_CHAT and "p-100" in text and is_response(text, "therapist_patient_left")
