"""Retention and discharge on real databases: each promise /privacy makes is checked
against the tables, and a discharged patient is said goodbye to once and erased later."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.conversation import Conversation, Sender
from bot.erasures import Erasures
from data import chat_messages, checkins, rasa_tracker
from data.care_plans import apply_plan
from data.db import transaction
from data.inbox import DEDUPE_WINDOW
from data.models import Assignment, ChatMessage, CheckIn, InboxUpdate, NudgeLog, Patient, utcnow
from data.plan_schema import load_plan
from data.wording import say
from messaging.rasa_client import RasaClient
from scheduler.jobs import Runtime
from scheduler.nudges import wanted_jobs
from scheduler.service import NudgeScheduler
from tests.support.ports import closed_port

FIXTURES = Path(__file__).parent.parent / "fixtures"
DAYS = 30  # a clinic's own RETENTION_DAYS, not the default, so the wording must follow it
NOW = utcnow()
ALEX, JO = 100, 200


@pytest.fixture
def linked(sessions):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        for patient_id, chat in (("p-100", ALEX), ("p-200", JO)):
            row = session.get(Patient, patient_id)
            row.telegram_user_id = row.telegram_chat_id = chat
            row.linked_at = row.consented_at = NOW
    return sessions


def _ago(**kwargs) -> dt.datetime:
    return NOW - dt.timedelta(**kwargs)


def _privacy() -> str:
    return say("privacy", retention_days=str(DAYS))


def _promise(words: str) -> str:
    """The line of /privacy that makes a promise about `words`."""
    [line] = [line for line in _privacy().splitlines() if words in line]
    return line


def test_privacy_states_the_periods_the_pruning_uses():
    # Kept as wording on purpose: what /privacy promises must be what the pruning does, so a
    # rewording of bot.yml's `privacy` that drops or changes a period should fail here.
    assert "only until I've answered it" in _promise("The words of each message")
    assert f"{DEDUPE_WINDOW.days} days" in _promise("A note that it arrived")
    assert f"{int(chat_messages.DELETABLE_FOR.total_seconds() // 3600)} hours" in _promise("Which messages")
    assert f"{DAYS} days" in _promise("When I sent you reminders")
    assert f"closes your plan, then {DAYS} days more" in _promise("Everything else")


def _scheduler(sessions, tracker_url: str | None = None, deliver=None) -> NudgeScheduler:
    runtime = Runtime(sessions=sessions, rasa=None, deliver=deliver)  # type: ignore[arg-type]
    engine = sessions.kw["bind"]
    return NudgeScheduler(
        engine=engine, sessions=sessions, runtime=runtime, retention_days=DAYS, rasa_tracker_url=tracker_url
    )


def test_each_promise_holds_in_the_tables(linked, tmp_path):
    sessions = linked
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    _tracker_events(tracker, [("s-old", _ago(days=DAYS + 1)), ("s-new", _ago(days=DAYS - 1))])
    with transaction(sessions) as session:
        alex = session.get(Patient, "p-100")
        task = session.scalar(select(Assignment).where(Assignment.patient_id == "p-100"))
        jos_task = session.scalar(select(Assignment).where(Assignment.patient_id == "p-200"))
        session.add_all(
            [
                # The inbox: a handled message past the window goes; one within it, and one
                # never answered (however old), stay.
                InboxUpdate(update_id=1, received_at=_ago(days=3), processed_at=_ago(days=3), attempts=1),
                InboxUpdate(update_id=2, received_at=_ago(hours=30), processed_at=_ago(hours=30), attempts=1),
                InboxUpdate(update_id=3, received_at=_ago(days=9), payload={"update_id": 3}, attempts=2),
                # Chat message ids: past 48 hours they go, whichever chat (not only one that writes).
                ChatMessage(patient_id="p-100", chat_id=ALEX, message_id=1, from_bot=True, at=_ago(hours=49)),
                ChatMessage(patient_id="p-200", chat_id=JO, message_id=1, from_bot=False, at=_ago(hours=49)),
                ChatMessage(patient_id="p-200", chat_id=JO, message_id=2, from_bot=True, at=_ago(hours=47)),
                # The nudge log: past the clinic's retention it goes.
                NudgeLog(assignment_id=jos_task.id, scheduled_for=_ago(days=DAYS + 1), status="sent"),
                NudgeLog(assignment_id=jos_task.id, scheduled_for=_ago(days=DAYS - 1), status="sent"),
            ]
        )
        checkins.record_checkin(session=session, assignment_id=task.id, status="done", dedupe_key="k1")
        alex.discharged_at = _ago(days=DAYS + 1)  # closed longer ago than the retention: erased
        session.get(Patient, "p-200").discharged_at = _ago(days=DAYS - 1)  # not yet

    pruned = asyncio.run(_scheduler(sessions, tracker).prune())

    with sessions() as session:
        assert sorted(session.scalars(select(InboxUpdate.update_id))) == [2, 3]
        assert sorted(session.execute(select(ChatMessage.chat_id, ChatMessage.message_id))) == [(JO, 2)]
        assert [n.scheduled_for > _ago(days=DAYS) for n in session.scalars(select(NudgeLog))] == [True]
        alex, jo = session.get(Patient, "p-100"), session.get(Patient, "p-200")
        assert alex.erased_at is not None and alex.telegram_chat_id is None
        assert alex.left_notified_at is not None  # the clinic discharged them: no "your patient left"
        assert session.scalar(select(func.count()).select_from(CheckIn)) == 0
        assert jo.erased_at is None and jo.telegram_chat_id == JO
    assert pruned.discharged_erased == 1
    assert _senders(tracker) == ["s-new"]  # the transcript past the retention went


def test_a_discharged_patients_transcript_goes_with_them(linked, tmp_path):
    sessions = linked
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    with sessions() as session:
        sender = session.get(Patient, "p-100").sender_id
    _tracker_events(tracker, [(sender, _ago(days=1)), ("someone-else", _ago(days=1))])
    with transaction(sessions) as session:
        session.get(Patient, "p-100").discharged_at = _ago(days=DAYS + 1)
    asyncio.run(_scheduler(sessions, tracker).prune())
    # Written down with the erasure, and finished by the bot's erasure loop, as after /forget.
    assert asyncio.run(Erasures(sessions=sessions, tracker_url=tracker).retry(every=True)) == 1
    assert _senders(tracker) == ["someone-else"]


def _tracker_events(url: str, events: list[tuple[str, dt.datetime]]) -> None:
    """Rasa's SQL tracker store table, as Rasa 3.6 creates it."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL,"
                " type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255),"
                " action_name VARCHAR(255), data TEXT)"
            )
        )
        for sender, at in events:
            connection.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, 'user', :t, '{}')"
                ),
                {"s": sender, "t": at.timestamp()},
            )
    engine.dispose()


def _senders(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as connection:
        senders = sorted(r[0] for r in connection.execute(text("SELECT sender_id FROM events")))
    engine.dispose()
    return senders


def test_pruning_a_tracker_store_rasa_has_not_created_yet_does_nothing(tmp_path):
    assert rasa_tracker.prune_conversations(f"sqlite:///{tmp_path / 'none.db'}", NOW) == 0


class Delivered:
    def __init__(self, outcome: str = "delivered"):
        self.outcome = outcome
        self.sent: list[tuple[str, int, str]] = []

    async def __call__(self, outgoing):
        self.sent.append((outgoing.patient_id, outgoing.chat_id, outgoing.replies[0].text))
        return self.outcome


def test_a_discharged_patient_is_said_goodbye_once_and_gets_no_more_nudges(linked):
    sessions = linked
    assert _nudged(sessions) == {"p-100", "p-200"}
    with transaction(sessions) as session:
        session.get(Patient, "p-100").discharged_at = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)

    failing = Delivered("failed")
    assert asyncio.run(_scheduler(sessions, deliver=failing).announcements.say_goodbyes()) == 0
    delivered = Delivered()
    scheduler = _scheduler(sessions, deliver=delivered)
    assert asyncio.run(scheduler.announcements.say_goodbyes()) == 1  # a failed send is tried again
    assert asyncio.run(scheduler.announcements.say_goodbyes()) == 0  # and said once
    [(patient_id, chat_id, goodbye)] = delivered.sent
    assert (patient_id, chat_id) == ("p-100", ALEX)
    assert "31 December 2026" in goodbye  # 1 December + the clinic's 30 days
    assert "/mydata" in goodbye and "/forget" in goodbye
    assert _nudged(sessions) == {"p-200"}


def _nudged(sessions) -> set[str]:
    """Patients the scheduler would nudge, as the rows stand."""
    with sessions() as session:
        assignments = {job.args[0] for job in wanted_jobs(session=session)}
        return set(session.scalars(select(Assignment.patient_id).where(Assignment.id.in_(assignments))))


def test_the_plan_file_closes_and_reopens_a_plan(sessions):
    import yaml

    raw = yaml.safe_load((FIXTURES / "plan.yml").read_text())
    raw["patients"][0]["status"] = "discharged"
    with transaction(sessions) as session:
        changes = apply_plan(_plan(raw), session=session, invite_ttl_days=14)
    assert "patient p-100: discharged" in changes
    with transaction(sessions) as session:
        assert apply_plan(_plan(raw), session=session, invite_ttl_days=14) == []  # unchanged
        assert session.get(Patient, "p-100").discharged_at is not None
    raw["patients"][0]["status"] = "active"
    with transaction(sessions) as session:
        assert "patient p-100: active" in apply_plan(_plan(raw), session=session, invite_ttl_days=14)
        assert session.get(Patient, "p-100").discharged_at is None


def _plan(raw):
    from data.plan_schema import parse_plan

    return parse_plan(raw)


def test_after_discharge_the_bot_answers_kindly_and_crisis_words_still_get_help(linked, tmp_path):
    sessions = linked
    with transaction(sessions) as session:
        session.get(Patient, "p-100").discharged_at = NOW
    conversation = Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2),  # never reached
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
        retention_days=DAYS,
    )
    alex = Sender(telegram_user_id=ALEX, chat_id=ALEX)
    [reply] = asyncio.run(conversation.on_text(alex, "i did my thought record", "k1"))
    assert reply.text == say("discharged")
    [reply] = asyncio.run(conversation.on_command(alex, "start", "", "k2"))
    assert reply.text == say("discharged")
    [privacy] = asyncio.run(conversation.on_command(alex, "privacy", "", "k3"))
    assert privacy.text == _privacy() and not re.search(r"\{\w+\}", privacy.text)
    crisis = asyncio.run(conversation.on_text(alex, "i want to kill myself", "k4"))
    assert "Test crisis line" in crisis[0].text


def test_the_cli_closes_a_plan(db_url):
    from tests.test_cli import coach

    with_plan = coach(db_url, "plan", "apply", str(FIXTURES / "plan.yml"))
    assert with_plan.returncode == 0, with_plan.stderr
    closed = coach(db_url, "discharge", "p-100")
    assert closed.returncode == 0 and "plan closed" in closed.stdout
    assert "already discharged" in coach(db_url, "discharge", "p-100").stdout
    assert coach(db_url, "discharge", "nobody").returncode == 1
    engine = create_engine(db_url)
    with engine.connect() as connection:
        status = connection.execute(text("SELECT id, discharged_at IS NOT NULL FROM patient ORDER BY id"))
        assert dict(status.all()) == {"p-100": True, "p-200": False}
    engine.dispose()
    assert "reopened" in coach(db_url, "discharge", "p-100", "--reopen").stdout
