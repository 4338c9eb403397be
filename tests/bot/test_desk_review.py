"""/review, /export and /patients on a real database: the brief holds what happened since
the last session, the chart is a PNG, the files carry the report, and another therapist's
patient is never reached."""

import asyncio
import datetime as dt
import json
import struct
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.conversation import Sender
from data import audit, barriers, checkins, desk, safety_events
from data.db import transaction
from data.models import Assignment, CheckIn, Worksheet, utcnow
from data.report import build_report
from data.wording import content
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
    # Nothing planned was due yet (the plan started today), but what they did is still shown.
    assert "done 0 of 0 planned" in text and "outside the planned times: 1 done, 1 partly" in text
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


# --- the brief: flags first, done of planned, unreachable periods, one message ------------------


def test_the_brief_lists_past_and_current_unreachable_periods_first_in_the_patients_dates(
    conversation,  # noqa: F811
    sessions,
):
    from data import unreachable
    from data.models import Patient

    _history(sessions)
    # Late evening in UTC (the clinic's London) is already the next day in Auckland.
    day = (utcnow() - dt.timedelta(days=8)).replace(hour=22, minute=30, second=0, microsecond=0)
    blocked, wrote = day, day + dt.timedelta(days=2, hours=-13)
    again = day + dt.timedelta(days=6)
    with transaction(sessions) as session:
        session.get(Patient, ALEX).timezone = "Pacific/Auckland"
        unreachable.mark_unreachable(session=session, patient_id=ALEX, at=blocked)
        unreachable.mark_reachable(session=session, patient_id=ALEX, at=wrote)
        unreachable.mark_unreachable(session=session, patient_id=ALEX, at=again)
    brief, _ = run(conversation.on_command(TESS, "review", "Alex", "k1"))
    text = brief.text
    words = content()["review"]
    auckland = ZoneInfo("Pacific/Auckland")

    def local(moment):
        return moment.astimezone(auckland).strftime("%a %d %b")

    assert words["unreachable_period"].format(start=local(blocked), end=local(wrote)) in text
    assert words["unreachable_open"].format(start=local(again)) in text
    assert local(blocked) != blocked.strftime("%a %d %b")  # their date, not the clinic's
    # What needs attention comes before the homework and the patient's words.
    lines = text.splitlines()
    assert lines[0].startswith("Review: Alex (p-100)")
    flags, homework = lines.index(words["flags_head"].strip()), lines.index(words["tasks_head"].strip())
    assert 0 < flags < homework
    for flag in ("Crisis responses given", "Pushback", "Couldn't be reached"):
        assert any(line.startswith(f"• {flag}") for line in lines[flags:homework]), flag
    assert text.index("Pushback") < homework_at(text, words) < text.index("work ran late every night")


def homework_at(text, words):
    return text.index(words["tasks_head"].strip())


def _report(**overrides):
    """One patient's report as data/report.py shapes it, with only what the brief reads."""
    task = {
        "id": "thought-record",
        "title": "Thought record",
        "active": True,
        "planned": 4,
        "done": 1,
        "partial": 1,
        "not_done": 1,
        "no_response": 0,
        "skipped": 0,
        "open": 1,
        "completion_rate": 0.5,
        "expected_helpfulness": None,
    }
    ended = {
        **task,
        "id": "walk",
        "title": "Evening walk",
        "active": False,
        "planned": 2,
        "done": 2,
        "partial": 0,
        "not_done": 0,
        "open": 0,
        "completion_rate": 1.0,
    }
    report = {
        "patient_id": ALEX,
        "tasks": [task, ended],
        "checkins": [],
        "barriers": [],
        "resistance": [],
        "crisis": [],
        "risk_checks": [],
        "unreachable_since": None,
        "unreachable_periods": [],
        "completion_rate": 0.7,
        "occurrences": {"planned": 6, "done": 3, "partial": 1, "not_done": 1, "open": 1},
    }
    return report | overrides


def _brief(report):
    from bot.desk_parts import PatientRef
    from bot.desk_review import brief

    now = utcnow()
    return brief(
        report,
        PatientRef(ALEX, "Alex", "Europe/London"),
        since=now - dt.timedelta(days=14),
        until=now,
        basis="default",
        zone=ZoneInfo("Europe/London"),
    )


def test_the_brief_states_done_of_planned_with_partly_done_as_a_half():
    text = _brief(_report())
    words = content()["review"]
    # 1 done and 1 partly done of 3 settled (the open one isn't counted yet): 1½ of 3, 50%.
    assert "• Thought record: done 1½ of 3 planned (50%)" in text
    assert words["task_partial"].format(count=1) in text
    # A task stopped in the period still shows what it had, and the total adds both up.
    assert "• Evening walk: done 2 of 2 planned (100%)" + words["task_stopped"] in text
    assert words["overall"].format(done="3½", planned=5, rate="70%") in text
    # Nothing to flag: it says so, before the homework.
    assert text.index(words["no_flags"].strip()) < text.index(words["tasks_head"].strip())


def test_a_long_brief_is_shortened_to_one_message_keeping_flags_and_homework():
    from messaging.rendering import TELEGRAM_TEXT_LIMIT, telegram_length

    long_words = "I kept putting it off because " + "everything felt like too much " * 10
    at = utcnow().isoformat()
    report = _report(
        barriers=[
            {"category": c, "words": long_words, "plan": long_words, "needs_adjusting": False, "at": at}
            for c in ("time", "forgot", "privacy", "timing", "too_hard", "unclear", "low_mood", "anxiety")
            for _ in range(3)
        ],
        checkins=[
            {
                "task_id": "thought-record",
                "reported_at": at,
                "reflection": f"{i} {long_words}",
                "worksheet": {"situation": long_words, "thought": long_words},
            }
            for i in range(8)
        ],
        resistance=[{"at": at, "words": "meh"}] * 12,
        crisis=[{"at": at}] * 9,
    )
    text = _brief(report)
    words = content()["review"]
    assert telegram_length(text) <= TELEGRAM_TEXT_LIMIT
    assert text.endswith(words["shortened"])
    assert "(+7)" in text and "(+4)" in text  # long lists of moments: the latest few, and how many more
    assert "• Thought record: done 1½ of 3 planned (50%)" in text and "Pushback: 12" in text
    # The oldest shared reflection goes before the newest.
    assert "7 I kept putting it off" in text or words["reflections_head"].strip() not in text
    assert "0 I kept putting it off" not in text
