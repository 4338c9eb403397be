"""The bot's own steps (linking, consent, safety net, failures) on a real database.

Rasa is pointed at a closed port: a real connection failure, not a mock.
"""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.conversation import Conversation, RetryLater, Sender
from data.care_plans import apply_plan
from data.db import transaction
from data.models import InboxUpdate, Patient, SafetyEvent, utcnow
from data.plan_schema import load_plan
from data.wording import say
from messaging.rasa_client import RasaClient
from tests.support.ports import closed_port
from tests.support.wording import has_response, is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def conversation(sessions, tmp_path):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2)
    return Conversation(
        sessions=sessions,
        rasa=rasa,
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )


def run(coro):
    return asyncio.run(coro)


def test_unknown_user_gets_one_kind_message_and_nothing_is_stored(conversation, sessions):
    stranger = Sender(telegram_user_id=999, chat_id=999)
    [reply] = run(conversation.on_text(stranger, "hello?", "k1"))
    assert reply.text == say("unlinked")
    [reply] = run(conversation.on_command(stranger, "start", "WRONG-CODE", "k2"))
    assert reply.text == say("invite_refused")
    with sessions() as session:
        assert session.scalar(select(func.count(Patient.id)).where(Patient.telegram_user_id == 999)) == 0
        assert session.scalar(select(func.count(InboxUpdate.update_id))) == 0


def test_link_then_consent_gates_rasa(conversation, sessions):
    alex = Sender(telegram_user_id=100, chat_id=100)
    [consent] = run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    assert consent.text == say("consent", name="Alex") and [b.payload for b in consent.buttons] == [
        "bw:consent:yes",
        "bw:consent:no",
    ]
    # Before consent nothing reaches Rasa (which is down here, so that would fail).
    [again] = run(conversation.on_text(alex, "i did it", "k2"))
    assert again.buttons == consent.buttons
    [declined] = run(conversation.on_button(alex, "bw:consent:no", "k3"))
    assert declined.text == say("consent_declined")
    with sessions() as session:
        assert session.get(Patient, "p-100").consented_at is None
    # Consent is recorded even though Rasa then fails; the patient is told kindly.
    with pytest.raises(RetryLater) as deferred:
        run(conversation.on_button(alex, "bw:consent:yes", "k4"))
    assert deferred.value.replies[0].text == say("unavailable")
    with sessions() as session:
        assert session.get(Patient, "p-100").consented_at is not None


def test_forged_buttons_and_typed_payloads_are_refused(conversation, sessions):
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    with pytest.raises(RetryLater):
        run(conversation.on_button(alex, "bw:consent:yes", "k2"))
    for forged in ('/report_done{"task_id":"walk","x":"y"}', "/report_done; drop", "/" + "a" * 60, ""):
        [reply] = run(conversation.on_button(alex, forged, "k3"))
        assert reply.text == say("button_expired")
    [reply] = run(conversation.on_button(alex, "bw:forget:maybe", "k4"))
    assert reply.text == say("button_expired")


def test_crisis_resources_reach_the_patient_even_with_rasa_down(conversation, sessions):
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    # Even before consent: safety comes first.
    reply, plan = run(conversation.on_text(alex, "i want to kill myself", "k2"))
    # The clinic's crisis numbers (the test plan's) must reach the patient, in whatever wording.
    assert "Test crisis line: 0000 000 000" in reply.text
    assert is_response(reply.text, "crisis_response")
    # The safety plan Alex made with their therapist, and the numbers a tap away.
    assert is_response(plan.text, "crisis_safety_plan") and "Someone I can call: Test Friend" in plan.text
    assert [b.payload for b in plan.buttons] == ["bw:crisis:resources"]
    with sessions() as session:
        event = session.scalar(select(SafetyEvent))
        assert event.kind == "crisis" and event.detected_by == "lexicon" and event.words is None


def test_forget_erases_and_unlinks(conversation, sessions):
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    [confirm] = run(conversation.on_command(alex, "forget", "", "k2"))
    assert [b.payload for b in confirm.buttons] == ["bw:forget:yes", "bw:forget:no"]
    [kept] = run(conversation.on_button(alex, "bw:forget:no", "k3"))
    assert kept.text == say("forget_cancelled")
    [done] = run(conversation.on_button(alex, "bw:forget:yes", "k4"))
    assert has_response(done.text, "forget_done.erased")
    with sessions() as session:
        assert session.get(Patient, "p-100").telegram_user_id is None
    [after] = run(conversation.on_text(alex, "hello", "k5"))
    assert after.text == say("unlinked")


def test_any_word_from_a_patient_answers_their_nudges_and_makes_them_reachable_but_a_lookup_writes_nothing(
    conversation, sessions
):
    from bot.people import find_patient
    from data.models import Assignment, NudgeLog

    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))

    def blocked_after_a_nudge() -> None:
        with transaction(sessions) as session:
            session.query(NudgeLog).delete()
            task = session.scalars(select(Assignment).where(Assignment.patient_id == "p-100")).first()
            session.add(
                NudgeLog(assignment_id=task.id, scheduled_for=utcnow(), status="sent", sent_at=utcnow())
            )
            session.get(Patient, "p-100").unreachable_at = utcnow()

    def answered_and_reachable() -> tuple[bool, bool]:
        with sessions() as session:
            nudge = session.scalars(select(NudgeLog)).one()
            return nudge.answered_at is not None, session.get(Patient, "p-100").unreachable_at is None

    blocked_after_a_nudge()
    with transaction(sessions) as session:
        assert find_patient(session, alex).id == "p-100"
    assert answered_and_reachable() == (False, False)
    for said in (
        lambda: conversation.on_text(alex, "hi", "k2"),
        lambda: conversation.on_command(alex, "help", "", "k3"),
        lambda: conversation.on_button(alex, "bw:consent:no", "k4"),
        lambda: conversation.on_other(alex),
    ):
        blocked_after_a_nudge()
        run(said())
        assert answered_and_reachable() == (True, True)


def test_pause_resume_and_silent_commands_change_the_rows_the_scheduler_reads(conversation, sessions):
    from data.schedule_changes import paused_until

    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    [ask] = run(conversation.on_command(alex, "pause", "365", "k3"))
    assert ask.text == say("pause_how_long", most="60")
    with sessions() as session:
        assert paused_until(session=session, patient_id="p-100") is None  # nothing changed
    [paused] = run(conversation.on_command(alex, "pause", "3", "k4"))
    assert is_response(paused.text, "paused")
    with sessions() as session:
        until = paused_until(session=session, patient_id="p-100")
    assert until is not None and 2.9 < (until - utcnow()).total_seconds() / 86400 <= 3
    [resumed] = run(conversation.on_command(alex, "resume", "", "k5"))
    assert resumed.text == say("resumed")
    with sessions() as session:
        assert paused_until(session=session, patient_id="p-100") is None
    [silent] = run(conversation.on_command(alex, "silent", "", "k6"))
    assert silent.text == say("silent_on")
    with sessions() as session:
        assert session.get(Patient, "p-100").silent_nudges is True
    run(conversation.on_command(alex, "sound", "", "k7"))
    with sessions() as session:
        assert session.get(Patient, "p-100").silent_nudges is False


def test_a_flood_gets_one_slow_down_then_quiet_but_crisis_words_still_get_answered(conversation, sessions):
    stranger = Sender(telegram_user_id=999, chat_id=999)
    replies = [run(conversation.on_text(stranger, f"msg {i}", f"f{i}")) for i in range(22)]
    assert all(r[0].text == say("unlinked") for r in replies[:20])
    assert replies[20][0].text == say("slow_down") and replies[21] == []
    # The same update retried is not a new message.
    assert run(conversation.on_text(stranger, "msg 0", "f0")) == []
    with sessions() as session:
        assert session.scalar(select(func.count(InboxUpdate.update_id))) == 0


def test_flood_guard_counts_a_minute_and_forgets():
    from bot.flood import FloodGuard

    now = [0.0]
    guard = FloodGuard(limit=3, window=60, clock=lambda: now[0], max_users=2)
    assert [guard.hit("a", str(i)) for i in range(5)] == ["ok", "ok", "ok", "warn", "drop"]
    now[0] = 61
    assert guard.hit("a", "later") == "ok"  # calmed down
    guard.hit("b", "1")
    guard.hit("c", "1")  # "a" is the oldest of three: forgotten
    assert guard.hit("a", "again") == "ok"


def test_one_im_fine_after_a_crisis_gets_a_kind_second_check_with_the_numbers_one_tap_away(
    conversation, sessions
):
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    # Rasa is down here: the bot answers the crisis itself, with the clinic's resources.
    crisis, _plan = run(conversation.on_text(alex, "i want to end it all", "k2"))
    assert "Test crisis line" in crisis.text  # the clinic's numbers, never lost to a rewording
    [check] = run(conversation.on_text(alex, "im fine honestly, forget it", "k3"))
    assert check.text == say("crisis_check_again")
    assert [b.payload for b in check.buttons] == ["bw:crisis:resources"]
    numbers, plan = run(conversation.on_button(alex, "bw:crisis:resources", "k4"))
    assert "Test crisis line" in numbers.text and is_response(numbers.text, "crisis_response")
    assert "Test Friend" in plan.text
    # Only once: the next "I'm fine" is an ordinary message for the conversation (Rasa, down here).
    with pytest.raises(RetryLater):
        run(conversation.on_text(alex, "im fine", "k5"))


@pytest.mark.parametrize(
    ("text", "brush_off"),
    [
        ("im fine", True),
        ("I'm OK now, honestly", True),
        ("nvm forget i said anything lol", True),
        ("just kidding x", True),
        ("im fine but i still want to die", False),
        ("fine, i did my thought record", False),
        ("not fine", False),
        ("", False),
    ],
)
def test_what_counts_as_a_quick_im_fine(text, brush_off):
    from bot.reassurance import is_reassurance

    assert is_reassurance(text) is brush_off


@pytest.mark.parametrize("argument", ["²", "⁷", "①", "٣", "𝟕"])
def test_pause_with_a_number_in_another_script_is_no_crash(conversation, sessions, argument):
    """Found by tests/e2e/test_fuzz.py: "²".isdigit() is True but int("²") raises."""
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    [reply] = run(conversation.on_command(alex, "pause", argument, "k2"))
    assert is_response(reply.text, "paused")  # a decimal digit of any script counts; "²" means the default


def test_a_button_naming_an_assignment_that_is_not_a_number_is_refused(conversation, sessions):
    """Found by tests/e2e/test_fuzz.py: the actions took '"assignment":"23pq"' as no choice
    and logged the patient's only task, so a forged press changed their check-ins."""
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    for forged in ('/report_done{"assignment":"23pq"}', '/report_done{"assignment":"-1"}'):
        [reply] = run(conversation.on_button(alex, forged, "k2"))
        assert reply.text == say("button_expired")
    # Our own buttons' payloads still go to Rasa (down here, hence RetryLater).
    for ours in ('/report_done{"assignment":"23"}', '/choose{"option":"smaller"}', '/inform{"rating":"4"}'):
        with pytest.raises(RetryLater):
            run(conversation.on_button(alex, ours, "k3"))


def test_not_now_after_agreeing_does_not_claim_nothing_is_stored(conversation, sessions):
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    [declined] = run(conversation.on_button(alex, "bw:consent:no", "k2"))
    assert declined.text == say("consent_declined")
    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    [late] = run(conversation.on_button(alex, "bw:consent:no", "k3"))
    assert late.text == say("button_expired")


def test_who_may_use_each_command_and_unknown_ones_read_as_text(conversation, sessions):
    def said(sender: Sender, command: str, argument: str = "") -> str:
        try:
            [reply] = run(conversation.on_command(sender, command, argument, f"k-{command}"))
        except RetryLater:
            return "to rasa"  # Rasa is down here: reaching it is the sign
        return reply.text

    stranger = Sender(telegram_user_id=999, chat_id=999)
    for command in ("start", "help", "pause", "stop"):
        assert said(stranger, command) == say("unlinked")

    alex = Sender(telegram_user_id=100, chat_id=100)
    [consent] = run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    assert said(alex, "help") == say("help")
    assert said(alex, "pause") == said(alex, "stop") == consent.text  # consent first

    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    assert is_response(said(alex, "pause", "3"), "paused")
    assert said(alex, "stop", "it") == "to rasa"

    with transaction(sessions) as session:
        session.get(Patient, "p-100").discharged_at = utcnow()
    assert said(alex, "help") == say("help")
    assert said(alex, "forget") == say("forget_confirm")
    assert said(alex, "start") == said(alex, "pause") == said(alex, "stop") == say("discharged")


def test_a_clinics_rewording_changes_both_sides_of_the_assertion(conversation, sessions, monkeypatch):
    """Why the tests above compare with the YAML, not with English phrases: a clinic that
    rewords a response breaks a phrase test though the bot is right; this one still passes."""
    import data.wording

    edited = {**data.wording.content(), "paused": "Alright: quiet until {until}. /resume brings them back."}
    monkeypatch.setattr(data.wording, "content", lambda: edited)
    alex = Sender(telegram_user_id=100, chat_id=100)
    run(conversation.on_command(alex, "start", "TEST-CODE-100", "k1"))
    with transaction(sessions) as session:
        session.get(Patient, "p-100").consented_at = utcnow()
    [paused] = run(conversation.on_command(alex, "pause", "3", "k2"))
    assert "no reminders until" not in paused.text  # the old assertion would fail here
    assert paused.text.startswith("Alright: quiet until ")
    assert is_response(paused.text, "paused") and not is_response(paused.text, "resumed")
