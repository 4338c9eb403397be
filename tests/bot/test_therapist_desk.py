"""The therapist's desk in Telegram, through the conversation on a real database: the menu,
/invite step by step (and cancelled), /session, and scoping: one therapist never reaches
another's patient, by name, id or forged button, and every attempt is audited."""

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.conversation import Conversation, Sender
from bot.therapist_desk import TherapistDesk
from data import audit, desk, invites
from data.care_plans import apply_plan
from data.db import transaction
from data.models import AuditEvent, DeskStep, Patient, SessionMark, Therapist
from data.plan_schema import load_plan, parse_plan
from data.wording import say
from messaging.rasa_client import RasaClient
from tests.support.ports import closed_port
from tests.support.wording import is_response

FIXTURES = Path(__file__).parent.parent / "fixtures"
TESS = Sender(telegram_user_id=5550001, chat_id=5550001)  # t-test: Alex (p-100) and Jo (p-200)
OLA = Sender(telegram_user_id=5550002, chat_id=5550002)  # t-other: Kim (p-300)


@pytest.fixture
def conversation(sessions, tmp_path):
    raw = load_plan(FIXTURES / "plan.yml").model_dump(mode="json")
    raw["therapists"].append({"id": "t-other", "name": "Dr Other"})
    raw["patients"].append(
        {
            "id": "p-300",
            "therapist": "t-other",
            "display_name": "Kim",
            "tasks": [
                {
                    "id": "walk",
                    "template": "walk",
                    "title": "Walk",
                    "rationale": "Moving lifts mood.",
                    "schedule": {"times_per_week": 2},
                }
            ],
        }
    )
    with transaction(sessions) as session:
        apply_plan(parse_plan(raw), session=session, invite_ttl_days=14)
        for therapist_id, sender in (("t-test", TESS), ("t-other", OLA)):
            session.get(Therapist, therapist_id).telegram_chat_id = sender.chat_id
    desk_ = TherapistDesk(sessions=sessions, invite_ttl_days=14, bot_username=lambda: "BridgeworkTestBot")
    return Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
        desk=desk_,
    )


def run(coro):
    return asyncio.run(coro)


def _audit(sessions, **where) -> list[tuple]:
    with sessions() as session:
        return [(e.actor, e.action, e.patient_id, e.allowed) for e in audit.events(session=session, **where)]


def test_the_menu_offers_each_command_as_a_button(conversation):
    [menu] = run(conversation.on_command(TESS, "menu", "", "k1"))
    assert is_response(menu.text, "desk_menu")
    payloads = [b.payload for b in menu.buttons]
    assert "bw:d:go:invite" in payloads and "bw:d:go:session" in payloads
    assert all(len(p.encode()) <= 64 for p in payloads)
    # A menu button does what the command does.
    [asked] = run(conversation.on_button(TESS, "bw:d:go:invite", "k2"))
    assert is_response(asked.text, "desk_invite_name")


def test_invite_step_by_step_makes_a_patient_and_a_working_link(conversation, sessions):
    [asked] = run(conversation.on_command(TESS, "invite", "", "k1"))
    assert [b.payload for b in asked.buttons] == ["bw:d:cancel"]
    [bad] = run(conversation.on_text(TESS, "x" * 41, "k2"))
    assert is_response(bad.text, "desk_invite_name_bad")
    [zone_q] = run(conversation.on_text(TESS, "  Robin  ", "k3"))
    assert is_response(zone_q.text, "desk_invite_zone")
    [unknown] = run(conversation.on_text(TESS, "Atlantis", "k4"))
    assert is_response(unknown.text, "desk_invite_zone_bad")
    [confirm] = run(conversation.on_text(TESS, "paris", "k5"))
    assert "Europe/Paris" in confirm.text and confirm.buttons[0].payload == "bw:d:invyes"
    [done] = run(conversation.on_button(TESS, "bw:d:invyes", "k6"))
    link = re.search(r"https://t\.me/BridgeworkTestBot\?start=([A-Z0-9-]+)", done.text)
    assert link, done.text
    with sessions() as session:
        robin = session.scalar(select(Patient).where(Patient.display_name == "Robin"))
        assert (robin.therapist_id, robin.timezone, robin.linked_at) == ("t-test", "Europe/Paris", None)
        assert invites.open_invite_matches(session=session, code=link.group(1), patient_id=robin.id)
        assert session.get(DeskStep, "t-test") is None
    # Pressing "create" again makes nothing more.
    [again] = run(conversation.on_button(TESS, "bw:d:invyes", "k7"))
    assert is_response(again.text, "desk_expired")
    with sessions() as session:
        assert len(session.scalars(select(Patient).where(Patient.display_name == "Robin")).all()) == 1
    assert ("therapist:t-test", "invite", robin.id, True) in _audit(sessions)
    # The patient joins with the link's code, as a patient.
    [consent] = run(conversation.on_command(Sender(777, 777), "start", link.group(1), "k8"))
    assert is_response(consent.text, "consent")


def test_the_clinic_zone_button_and_cancel_at_any_step(conversation, sessions):
    run(conversation.on_command(TESS, "invite", "", "k1"))
    [zone_q] = run(conversation.on_text(TESS, "Sky", "k2"))
    assert zone_q.buttons[0].payload == "bw:d:invzone" and "Europe/London" in zone_q.buttons[0].title
    [confirm] = run(conversation.on_button(TESS, "bw:d:invzone", "k3"))
    assert "Europe/London" in confirm.text
    [cancelled] = run(conversation.on_button(TESS, "bw:d:cancel", "k4"))
    assert is_response(cancelled.text, "desk_cancelled")
    [stale] = run(conversation.on_button(TESS, "bw:d:invyes", "k5"))
    assert is_response(stale.text, "desk_expired")
    # Typed "cancel" works too, and a new command leaves a step behind.
    run(conversation.on_command(TESS, "invite", "", "k6"))
    [cancelled] = run(conversation.on_text(TESS, "cancel", "k7"))
    assert is_response(cancelled.text, "desk_cancelled")
    [nothing] = run(conversation.on_command(TESS, "cancel", "", "k8"))
    assert is_response(nothing.text, "desk_nothing_to_cancel")
    with sessions() as session:
        assert session.scalars(select(Patient).where(Patient.display_name == "Sky")).all() == []


def test_a_step_survives_a_restart_of_the_bot(conversation, sessions, tmp_path):
    run(conversation.on_command(TESS, "invite", "", "k1"))
    run(conversation.on_text(TESS, "Lee", "k2"))
    restarted = Conversation(
        sessions=sessions,
        rasa=RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2),
        invite_ttl_days=14,
        rasa_tracker_url=f"sqlite:///{tmp_path / 't.db'}",
    )
    [confirm] = run(restarted.on_text(TESS, "UTC+2", "k3"))
    assert "Etc/GMT-2" in confirm.text


def test_session_marks_a_session_for_their_patient_by_name_or_button(conversation, sessions):
    [marked] = run(conversation.on_command(TESS, "session", "alex 2026-12-01", "k1"))
    assert is_response(marked.text, "desk_session_marked") and "2026-12-01" in marked.text
    [pick] = run(conversation.on_command(TESS, "session", "", "k2"))
    assert is_response(pick.text, "desk_pick_patient")
    assert [b.title for b in pick.buttons] == ["Alex (p-100)", "Jo (p-200)"]
    [marked] = run(conversation.on_button(TESS, pick.buttons[1].payload, "k3"))
    assert is_response(marked.text, "desk_session_marked")
    with sessions() as session:
        marks = sorted(m.patient_id for m in session.scalars(select(SessionMark)))
        assert marks == ["p-100", "p-200"]
        assert desk.last_session(session=session, patient_id="p-100").date().isoformat() == "2026-12-01"


def test_another_therapists_patient_is_out_of_reach_and_each_attempt_is_audited(conversation, sessions):
    # Ola's patient, by id and by name, from Tess's account: refused, and kept in the audit.
    [by_id] = run(conversation.on_command(TESS, "session", "p-300", "k1"))
    assert is_response(by_id.text, "desk_no_such_patient")
    assert {b.title for b in by_id.buttons} == {"Alex (p-100)", "Jo (p-200)"}  # only her own
    [by_name] = run(conversation.on_command(TESS, "session", "Kim", "k2"))
    assert is_response(by_name.text, "desk_no_such_patient")
    # Ola's own button for Kim, replayed from Tess's account, finds no one.
    with sessions() as session:
        olas_button = f"bw:d:session:{desk.token('t-other', 'p-300')}"
    [forged] = run(conversation.on_button(TESS, olas_button, "k3"))
    assert is_response(forged.text, "desk_expired")
    for junk in ("bw:d:session:", "bw:d:session:zzzz", "bw:d:nope:1", "bw:d:go:../../etc"):
        [reply] = run(conversation.on_button(TESS, junk, "k4"))
        assert is_response(reply.text, "desk_expired")
    with sessions() as session:
        assert session.scalars(select(SessionMark)).all() == []
    refused = [e for e in _audit(sessions, actor="therapist:t-test") if not e[3]]
    assert ("therapist:t-test", "session", "p-300", False) in refused  # by id: the target is named
    assert len(refused) >= 4
    # Ola reaches Kim with her own button.
    [marked] = run(conversation.on_button(OLA, olas_button, "k5"))
    assert is_response(marked.text, "desk_session_marked")
    assert _audit(sessions, patient_id="p-300")[-1] == ("therapist:t-other", "session", "p-300", True)


def test_a_therapists_words_go_to_the_desk_never_to_rasa_or_the_crisis_reply(conversation):
    [help_] = run(conversation.on_text(TESS, "my patient said she wants to die", "k1"))
    assert help_.text == say("therapist_help")
    [refused] = run(conversation.on_command(TESS, "start", "TEST-CODE-100", "k2"))
    assert refused.text == say("invite_already_linked")
    assert run(conversation.on_edit(TESS, "i want to kill myself", "k3")) == []


def test_audit_rows_outlive_the_patient_and_hold_no_words(sessions, conversation):
    run(conversation.on_command(TESS, "session", "Jo", "k1"))
    with transaction(sessions) as session:
        session.execute(delete(Patient).where(Patient.id == "p-200"))
    with sessions() as session:
        [row] = session.scalars(select(AuditEvent).where(AuditEvent.patient_id == "p-200")).all()
        assert row.detail is None
