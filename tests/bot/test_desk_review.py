"""/review, /export and /patients on a real database: the brief holds what happened since
the last session, the chart is a PNG, the files carry the report, and another therapist's
patient is never reached."""

import asyncio
import datetime as dt
import json
import struct

from sqlalchemy import select

from bot.conversation import Sender
from data import audit, barriers, checkins, desk, safety_events
from data.db import transaction
from data.models import Assignment, CheckIn, Worksheet, utcnow
from data.report import build_report
from tests.bot.test_therapist_desk import OLA, TESS, conversation  # noqa: F401 - the fixture
from tests.support.wording import is_response

ALEX = "p-100"


def run(coro):
    return asyncio.run(coro)


def _history(sessions) -> None:
    """A week of Alex's homework, all invented: two check-ins (one with a shared reflection
    and a worksheet), an obstacle with its plan, pushback, and a crisis response."""
    now = utcnow()
    with transaction(sessions) as session:
        task = session.scalar(select(Assignment).where(Assignment.patient_id == ALEX))
        task.expected_helpfulness = 4
        done, _ = checkins.record_checkin(
            session=session, assignment_id=task.id, status="done", dedupe_key="c1"
        )
        done.reported_at, done.helpfulness, done.difficulty = now - dt.timedelta(days=3), 3, 2
        done.reflection, done.reflection_shared = "writing it down took the heat out of it", True
        partly, _ = checkins.record_checkin(
            session=session, assignment_id=task.id, status="partial", dedupe_key="c2"
        )
        partly.reported_at, partly.helpfulness = now - dt.timedelta(days=1), 4
        partly.reflection, partly.reflection_shared = "kept to myself", False
        session.flush()
        session.add(
            Worksheet(
                patient_id=ALEX,
                assignment_id=task.id,
                template="thought_record",
                answers={"situation": "test meeting", "intensity": 70, "rerating": 40},
                status="complete",
                checkin_id=done.id,
            )
        )
        barriers.record_barrier(
            session=session,
            patient_id=ALEX,
            assignment_id=task.id,
            category="time",
            words="work ran late every night",
            option="smaller",
            plan="do a 2-minute version",
            flag_for_therapist=False,
            dedupe_key="b1",
        )
        safety_events.record_event(
            session=session,
            patient_id=ALEX,
            kind="resistance",
            detected_by="nlu",
            dedupe_key="r1",
            words="meh",
        )
        safety_events.record_event(
            session=session,
            patient_id=ALEX,
            kind="crisis",
            detected_by="lexicon",
            dedupe_key="x1",
            words="SECRET",
        )


def test_review_is_a_brief_and_a_png_chart_since_the_last_session(conversation, sessions):  # noqa: F811
    _history(sessions)
    with transaction(sessions) as session:
        desk.mark_session(
            session=session, therapist_id="t-test", patient_id=ALEX, held_at=utcnow() - dt.timedelta(days=10)
        )
    brief, chart = run(conversation.on_command(TESS, "review", "Alex", "k1"))
    text = brief.text
    assert text.startswith("Review: Alex (p-100)")
    assert "Thought record" in text  # the task, with its counts
    assert "work ran late every night" in text and "do a 2-minute version" in text  # their words, their plan
    assert "writing it down took the heat out of it" in text  # shared
    assert "kept to myself" not in text  # not shared
    assert "SECRET" not in text and "meh" in text  # crisis words never; pushback words, yes
    assert "test meeting" in text  # the worksheet
    assert len(text) <= 4096
    name, png = chart.document
    assert name.endswith(".png") and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 600 and height >= 400 and len(png) > 10_000
    with sessions() as session:
        assert audit.events(session=session, patient_id=ALEX)[-1].action == "review"


def test_review_from_a_date_and_by_button(conversation, sessions):  # noqa: F811
    _history(sessions)
    later = (utcnow() + dt.timedelta(days=1)).date().isoformat()
    brief, _ = run(conversation.on_command(TESS, "review", f"alex {later}", "k1"))
    assert "work ran late" not in brief.text  # nothing after that date yet
    [pick] = run(conversation.on_command(TESS, "review", "", "k2"))
    brief, chart = run(conversation.on_button(TESS, pick.buttons[0].payload, "k3"))
    assert "Alex" in brief.text and chart.document is not None


def test_export_sends_the_report_as_csv_and_json(conversation, sessions):  # noqa: F811
    _history(sessions)
    as_csv, as_json = run(conversation.on_command(TESS, "export", "p-100", "k1"))
    assert as_csv.document[0].endswith(".csv") and as_json.document[0].endswith(".json")
    exported = json.loads(as_json.document[1])
    with sessions() as session:
        assert exported == json.loads(json.dumps(build_report(session=session, patient_id=ALEX), default=str))
    csv_text = as_csv.document[1].decode()
    assert "work ran late every night" in csv_text and "p-100" in csv_text
    assert "p-200" not in csv_text  # Jo's data is not in Alex's file


def test_patients_lists_only_their_own_with_this_weeks_homework_and_flags(conversation, sessions):  # noqa: F811
    _history(sessions)
    [listing] = run(conversation.on_command(TESS, "patients", "", "k1"))
    assert is_response(listing.text.splitlines()[0], "patients_head")
    assert "Alex (p-100)" in listing.text and "Jo (p-200)" in listing.text and "Kim" not in listing.text
    alex_line = next(line for line in listing.text.splitlines() if "p-100" in line)
    assert "crisis" in alex_line and "pushback" in alex_line
    assert [b.title for b in listing.buttons] == ["Alex (p-100)", "Jo (p-200)"]
    brief, _ = run(conversation.on_button(TESS, listing.buttons[0].payload, "k2"))
    assert brief.text.startswith("Review: Alex")


def test_no_command_or_button_reaches_another_therapists_patient(conversation, sessions):  # noqa: F811
    _history(sessions)
    for command in ("review", "export"):
        for words in ("p-300", "Kim", "kim 2026-01-01"):
            replies = run(conversation.on_command(TESS, command, words, "k1"))
            assert len(replies) == 1 and is_response(replies[0].text, "desk_no_such_patient")
            assert all(r.document is None for r in replies)
        kims_button = f"bw:d:{command}:{desk.token('t-other', 'p-300')}"
        [forged] = run(conversation.on_button(TESS, kims_button, "k2"))
        assert is_response(forged.text, "desk_expired")
    # A patient can't use the desk's buttons either: they are not theirs.
    alex = Sender(telegram_user_id=620001, chat_id=620001)
    with transaction(sessions) as session:
        from data.models import Patient

        row = session.get(Patient, ALEX)
        row.telegram_user_id = row.telegram_chat_id = 620001
        row.linked_at = row.consented_at = utcnow()
    [refused] = run(conversation.on_button(alex, f"bw:d:review:{desk.token('t-test', ALEX)}", "k3"))
    assert refused.document is None and "work ran late" not in refused.text
    with sessions() as session:
        refusals = [e for e in audit.events(session=session, actor="therapist:t-test") if not e.allowed]
        assert len(refusals) == 8  # 3 words and a button, for each of the two commands
        assert {e.action for e in refusals} == {"review", "export"}
        assert session.scalars(select(CheckIn)).all()  # nothing was changed by any of it
    # Ola still reviews her own patient.
    brief, _ = run(conversation.on_command(OLA, "review", "Kim", "k4"))
    assert brief.text.startswith("Review: Kim (p-300)")
