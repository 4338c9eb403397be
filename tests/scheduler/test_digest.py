"""The therapist's daily digest: flags gathered once a day at their time, sent once, never
lost to a Telegram failure, and holding no patient's words; /digest sets the time."""

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from bot.conversation import Conversation, Sender
from data import barriers, digest, safety_events
from data.care_plans import apply_plan
from data.db import transaction
from data.models import Assignment, Patient, Therapist, utcnow
from data.plan_schema import load_plan
from messaging.rasa_client import RasaClient
from scheduler.announcements import Announcements
from tests.support.ports import closed_port
from tests.support.wording import is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"
CHAT = 5550001


def _setup(sessions, digest_time="00:00"):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        therapist = session.get(Therapist, "t-test")
        therapist.telegram_chat_id, therapist.digest_time = CHAT, digest_time


def _flags(sessions):
    """Alex: too hard (flagged), the same obstacle twice; Jo: pushback, unanswered, unreachable."""
    now = utcnow()
    with transaction(sessions) as session:
        alex_task = session.scalar(select(Assignment).where(Assignment.patient_id == "p-100"))
        for n, (category, flag) in enumerate([("time", False), ("time", False), ("too_hard", True)]):
            barriers.record_barrier(
                session=session,
                patient_id="p-100",
                assignment_id=alex_task.id,
                category=category,
                words=f"private words {n}",
                option=None,
                plan=None,
                flag_for_therapist=flag,
                dedupe_key=f"b{n}",
            )
        safety_events.record_event(
            session=session,
            patient_id="p-200",
            kind="resistance",
            detected_by="nlu",
            dedupe_key="r1",
            words="no",
        )
        jo_task = session.scalar(select(Assignment).where(Assignment.patient_id == "p-200"))
        jo_task.reduced_at = now
        session.get(Patient, "p-200").unreachable_at = now


def _announcements(sessions, outcome):
    sent = []

    async def deliver(outgoing):
        if outcome[0] == "delivered":
            sent.extend((outgoing.chat_id, r.text) for r in outgoing.replies)
        return outcome[0]

    return Announcements(sessions, deliver, retention_days=30), sent


def test_the_digest_goes_once_a_day_with_flags_and_no_words(sessions):
    _setup(sessions)
    _flags(sessions)
    outcome = ["failed"]
    announcements, sent = _announcements(sessions, outcome)
    assert asyncio.run(announcements.send_digests()) == 0  # Telegram failing: due again
    outcome[0] = "delivered"
    assert asyncio.run(announcements.send_digests()) == 1
    assert asyncio.run(announcements.send_digests()) == 0  # once a day
    [(chat_id, text)] = sent
    assert chat_id == CHAT and is_response(text.splitlines()[0], "digest.head")
    alex = text[text.index("Alex (p-100)") : text.index("Jo (p-200)")]
    assert "Thought record" in alex and alex.count("\n  • ") == 2  # too hard; time twice
    jo = text[text.index("Jo (p-200)") :]
    assert jo.count("\n  • ") == 3  # pushback, unanswered, unreachable
    assert "private words" not in text


def test_nothing_flagged_sends_nothing_and_the_time_is_respected(sessions):
    _setup(sessions, digest_time="23:59")
    _flags(sessions)
    announcements, sent = _announcements(sessions, ["delivered"])
    with sessions() as session:
        [due] = digest.due(session=session, now=utcnow().replace(hour=23, minute=59))
        assert due.therapist_id == "t-test"
        assert digest.due(session=session, now=utcnow().replace(hour=0, minute=1)) == []
    with transaction(sessions) as session:
        session.get(Therapist, "t-test").digest_time = "00:00"
    with transaction(sessions) as session:
        # A quiet day: the flags are older than the look-back.
        for row in session.scalars(select(Patient)):
            row.unreachable_at = None
        for row in session.scalars(select(Assignment)):
            row.reduced_at = None
    with transaction(sessions) as session:
        from data.models import Barrier, SafetyEvent

        for row in [*session.scalars(select(Barrier)), *session.scalars(select(SafetyEvent))]:
            row.at = utcnow() - dt.timedelta(days=9)
    assert asyncio.run(announcements.send_digests()) == 0 and sent == []


def test_the_therapist_sets_or_stops_the_digest_from_the_chat(sessions, tmp_path):
    _setup(sessions)
    conversation = Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )
    tess = Sender(telegram_user_id=CHAT, chat_id=CHAT)
    [done] = asyncio.run(conversation.on_command(tess, "digest", "5:30pm", "k1"))
    assert is_response(done.text, "digest_set") and "17:30" in done.text
    [how] = asyncio.run(conversation.on_command(tess, "digest", "whenever", "k2"))
    assert is_response(how.text, "digest_how") and "17:30" in how.text
    [off] = asyncio.run(conversation.on_command(tess, "digest", "off", "k3"))
    assert is_response(off.text, "digest_off")
    with sessions() as session:
        assert session.get(Therapist, "t-test").digest_time is None
        assert digest.due(session=session, now=utcnow()) == []
