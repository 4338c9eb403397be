"""A therapist's side, end to end through the Bot API test server and the real stack: link,
invite a patient who then joins from the deep link, assign a task the patient plans, change
its rationale (the patient is told and plans again), cancel a change part-way, read a
review with its chart, export, and a forged button that reaches no one (and is audited)."""

from __future__ import annotations

import json
import re
import struct

import pytest

from data import invites
from data.db import make_engine, make_sessionmaker, transaction
from data.wording import content, say
from tests.e2e.test_patient_flow import button, find, wait_for_text

pytestmark = pytest.mark.e2e

THERAPIST = 731501  # invented Telegram ids
NEW_PATIENT = 731502


def _press(api, chat: int, message: dict, title: str) -> None:
    api.press_button(chat, message["message_id"], button(message, title))


def _latest(api, chat: int, fragment: str) -> dict:
    """The newest bot message in the chat containing `fragment`, once there is one."""
    wait_for_text(api, chat, 0, fragment, timeout=60)
    return [m for m in api.sent(chat) if fragment in (m["text"] or "")][-1]


def _set_routine(stack, patient_id: str, routine: dict) -> None:
    from data.models import Patient

    engine = make_engine(stack.settings.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        session.get(Patient, patient_id).routine = routine
    engine.dispose()


def _routine(step: str) -> str:
    return content()["routine_setup"]["ask"][step]


def _documents(api, chat: int, since: int, suffix: str) -> list[dict]:
    return [
        m for m in api.sent(chat)[since:] if (m.get("document") or {}).get("file_name", "").endswith(suffix)
    ]


def _therapist_code(stack) -> str:
    engine = make_engine(stack.settings.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        code = invites.issue_invite(session=session, therapist_id="t-test", ttl_days=1)
    engine.dispose()
    return code


def test_a_therapist_invites_a_patient_who_joins_and_reviews_another(stack):
    api = stack.api
    api.send_text(THERAPIST, f"/start {_therapist_code(stack)}")
    # Other tests' crisis alerts reach this therapist too: wait for what each step says.
    wait_for_text(api, THERAPIST, 0, say("therapist_linked"), timeout=60)

    # /menu → "Invite a patient" → name → the clinic's zone → create.
    api.send_text(THERAPIST, "/menu")
    menu = _latest(api, THERAPIST, say("desk_menu"))
    _press(api, THERAPIST, menu, "Invite a patient")
    _latest(api, THERAPIST, say("desk_invite_name"))
    api.send_text(THERAPIST, "Robin")
    zone_question = _latest(api, THERAPIST, say("desk_invite_zone", name="Robin"))
    _press(api, THERAPIST, zone_question, "The clinic's (Europe/London)")
    confirm = _latest(api, THERAPIST, say("desk_invite_confirm", name="Robin", zone="Europe/London"))
    _press(api, THERAPIST, confirm, "Yes, create the invite")
    done = _latest(api, THERAPIST, "https://t.me/")
    link = re.search(r"https://t\.me/(\w+)\?start=([A-Z0-9-]+)", done["text"])
    assert link is not None and link.group(1) == api.bot_user["username"], done["text"]

    # The patient opens the link: Telegram sends "/start CODE" from their account.
    api.send_text(NEW_PATIENT, f"/start {link.group(2)}")
    [consent] = api.wait_for_sent(NEW_PATIENT, 1, timeout=60)
    assert consent["text"] == say("consent", name="Robin")
    # Consent, then their day in three taps, then the dialogue greets them.
    _press(api, NEW_PATIENT, consent, "Yes, let's start")
    wake = wait_for_text(api, NEW_PATIENT, 1, _routine("wake"))[-1]
    _press(api, NEW_PATIENT, wake, "7:30")
    sleep = wait_for_text(api, NEW_PATIENT, 1, _routine("sleep"))[-1]
    _press(api, NEW_PATIENT, sleep, "11 pm")
    when = wait_for_text(api, NEW_PATIENT, 1, _routine("preferred_times"))[-1]
    _press(api, NEW_PATIENT, when, "Evening")
    wait_for_text(api, NEW_PATIENT, 1, say("routine_thanks"))
    robin = re.search(r"\b(p-[a-z0-9]{6})\b", done["text"]).group(1)
    # Any hour of the day will do for the rest (CI runs at night too): no quiet hours.
    _set_routine(stack, robin, {"wake": "00:00", "sleep": "00:00", "preferred_times": []})

    # /assign Robin a walk: the library's kind and name, the therapist's own rationale.
    before = len(api.sent(THERAPIST))
    # Other tests' patients are called Robin too: the id picks this one.
    api.send_text(THERAPIST, f"/assign {robin}")
    kinds = find(wait_for_text(api, THERAPIST, before, "Which kind of task for Robin"), "Which kind")
    _press(api, THERAPIST, kinds, "Walk")
    title = _latest(api, THERAPIST, "What should the task be called")
    _press(api, THERAPIST, title, 'Call it "Walk"')
    _latest(api, THERAPIST, "Why this task, for Robin, in your words")
    api.send_text(THERAPIST, "Robin, a short walk most days lifts mood before the motivation comes.")
    how = _latest(api, THERAPIST, "What exactly should Robin do")
    _press(api, THERAPIST, how, "Use the library's instructions")
    minutes = _latest(api, THERAPIST, "About how many minutes")
    _press(api, THERAPIST, minutes, "15")
    when = _latest(api, THERAPIST, "When should I remind Robin")
    _press(api, THERAPIST, when, "3 times a week")
    confirm = _latest(api, THERAPIST, "Assign this to Robin?")
    # Counted before the task exists: the scheduler may tell Robin before the therapist's "Done".
    seen = len(api.sent(NEW_PATIENT))
    _press(api, THERAPIST, confirm, "Assign it")
    _latest(api, THERAPIST, 'Done: "Walk" is assigned to Robin')

    # Robin hears of it (the scheduler looks every few seconds): the therapist's reason,
    # how much it might help, when in the day, and what might get in the way, planned now.
    expect = find(
        wait_for_text(api, NEW_PATIENT, seen, "How much do you expect the walk to help", timeout=90),
        "How much do you expect",
    )
    assert any("lifts mood before the motivation comes" in m["text"] for m in api.sent(NEW_PATIENT)[seen:])
    assert [b["text"] for row in expect["reply_markup"]["inline_keyboard"] for b in row][3] == "4"
    # Typed, not pressed: the scheduler asked, and a typed button's words answer it all the same.
    api.send_text(NEW_PATIENT, "4")
    when = find(wait_for_text(api, NEW_PATIENT, seen, "When in your day will you do it"), "When in your day")
    _press(api, NEW_PATIENT, when, "Evening, 19:30")
    find(wait_for_text(api, NEW_PATIENT, seen, "what might get in the way"), "what might get in the way")
    api.send_text(NEW_PATIENT, "been so busy with work i didnt have a second")
    options = find(wait_for_text(api, NEW_PATIENT, seen, "Which of these might work"), "Which of these")
    _press(api, NEW_PATIENT, options, "A 2-minute version")
    wait_for_text(api, NEW_PATIENT, seen, "When could you do that")
    api.send_text(NEW_PATIENT, "when I get home from work")
    wait_for_text(api, NEW_PATIENT, seen, "Here's your plan")

    # The therapist's brief shows all of it: expected help, the time chosen, the plan made.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, f"/review {robin}")
    brief = find(wait_for_text(api, THERAPIST, before, f"Robin ({robin})", timeout=60), f"Robin ({robin})")
    assert "help expected 4/5" in brief["text"] and "19:30" in brief["text"]
    assert "been so busy with work i didnt have a second" in brief["text"]
    assert "When I get home from work, I will do a 2-minute version." in brief["text"]

    # /tasks: a new rationale. Robin is told of the change in the chat, asked when again (the
    # expectation is known), and types the time rather than pressing it.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, f"/tasks {robin}")
    walk = find(wait_for_text(api, THERAPIST, before, "Walk (running)"), "Walk (running)")
    _press(api, THERAPIST, walk, "New rationale")
    _latest(api, THERAPIST, "Send the new one, in your words")
    seen = len(api.sent(NEW_PATIENT))
    api.send_text(THERAPIST, "Robin, walking first and feeling like it second is how the low days shift.")
    _latest(api, THERAPIST, "Your patient will be told in the chat, with your new words")
    wait_for_text(api, NEW_PATIENT, seen, "Your therapist has changed your task: Walk", timeout=90)
    # The new words follow in a message of their own (the reply is split at its blank line).
    wait_for_text(api, NEW_PATIENT, seen, "Why, in their words: Robin, walking first", timeout=30)
    find(wait_for_text(api, NEW_PATIENT, seen, "When in your day will you do it"), "When in your day")
    api.send_text(NEW_PATIENT, "probably 8pm after dinner")
    wait_for_text(api, NEW_PATIENT, seen, "I'll remind you about it at 20:00")
    nothing = find(
        wait_for_text(api, NEW_PATIENT, seen, "what might get in the way"), "what might get in the way"
    )
    _press(api, NEW_PATIENT, nothing, "Nothing comes to mind")
    wait_for_text(api, NEW_PATIENT, seen, "If something does come up")

    # Cancel part-way: a rename started, then Cancel; the task is as it was, and Robin hears nothing.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, f"/tasks {robin}")
    walk = find(wait_for_text(api, THERAPIST, before, "Walk (running)"), "Walk (running)")
    _press(api, THERAPIST, walk, "Rename")
    rename = _latest(api, THERAPIST, "Send the new name")
    seen = len(api.sent(NEW_PATIENT))
    _press(api, THERAPIST, rename, "Cancel")
    wait_for_text(api, THERAPIST, before, say("desk_cancelled"))
    api.send_text(THERAPIST, "Not a name after all")  # read as nothing under way, not as a name
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, f"/tasks {robin}")
    find(wait_for_text(api, THERAPIST, before, "Walk (running)"), "Walk (running)")
    assert not any("Not a name after all" in (m["text"] or "") for m in api.sent(THERAPIST))
    assert len(api.sent(NEW_PATIENT)) == seen

    # /patients lists Robin and Alex; a tap on Alex gives the brief and the chart.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, "/patients")
    listing = find(wait_for_text(api, THERAPIST, before, say("patients_head")), say("patients_head"))
    assert "Robin (p-" in listing["text"] and "Alex (p-100)" in listing["text"]
    before = len(api.sent(THERAPIST))
    _press(api, THERAPIST, listing, "Alex (p-100)")
    brief = find(wait_for_text(api, THERAPIST, before, "Alex (p-100)", timeout=60), "Alex (p-100)")
    api.wait_until(lambda: _documents(api, THERAPIST, before, ".png"), 60, what="the chart")
    [chart] = _documents(api, THERAPIST, before, ".png")
    png = chart["document_bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] >= 600
    assert brief["text"].startswith(content()["review"]["head"].split("{")[0])

    # /export Alex: CSV and JSON files, the JSON the same report `coach report` gives.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, "/export Alex")
    api.wait_until(lambda: _documents(api, THERAPIST, before, ".json"), 60, what="the export")
    [as_csv] = _documents(api, THERAPIST, before, ".csv")
    [as_json] = _documents(api, THERAPIST, before, ".json")
    assert b"p-100" in as_csv["document_bytes"]
    [exported] = json.loads(as_json["document_bytes"])
    assert exported["patient_id"] == "p-100" and "completion_rate" in exported

    # A forged button (someone else's token) reaches no one, and is kept in the audit.
    before = len(api.sent(THERAPIST))
    api.press_forged(THERAPIST, "bw:d:review:0123456789ab")
    wait_for_text(api, THERAPIST, before, say("desk_expired"))
    audit = stack.coach("audit", "--therapist", "t-test").stdout
    assert "\treview\t-\tREFUSED" in audit and "\treview\tp-100\tallowed" in audit
    assert "\texport\tp-100\tallowed" in audit and "\tinvite\tp-" in audit
