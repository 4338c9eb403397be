"""A therapist's side, end to end through the Bot API test server and the real stack: link,
invite a patient who then joins from the deep link, read a review with its chart, export,
and a forged button that reaches no one (and is audited)."""

from __future__ import annotations

import json
import re
import struct

import pytest

from data import invites
from data.db import make_engine, make_sessionmaker, transaction
from data.wording import say
from tests.e2e.test_patient_flow import button, find, wait_for_text
from tests.support.wording import is_response

pytestmark = pytest.mark.e2e

THERAPIST = 731501  # invented Telegram ids
NEW_PATIENT = 731502


def _press(api, chat: int, message: dict, title: str) -> None:
    api.press_button(chat, message["message_id"], button(message, title))


def _therapist_code(stack) -> str:
    engine = make_engine(stack.settings.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        code = invites.issue_invite(session=session, therapist_id="t-test", ttl_days=1)
    engine.dispose()
    return code


def test_a_therapist_invites_a_patient_who_joins_and_reviews_another(stack):
    api = stack.api
    api.send_text(THERAPIST, f"/start {_therapist_code(stack)}")
    [linked] = api.wait_for_sent(THERAPIST, 1, timeout=60)
    assert linked["text"] == say("therapist_linked")

    # /menu → "Invite a patient" → name → the clinic's zone → create.
    api.send_text(THERAPIST, "/menu")
    menu = api.wait_for_sent(THERAPIST, 2)[-1]
    assert is_response(menu["text"], "desk_menu")
    _press(api, THERAPIST, menu, "Invite a patient")
    api.wait_for_sent(THERAPIST, 3)
    api.send_text(THERAPIST, "Robin")
    zone_question = api.wait_for_sent(THERAPIST, 4)[-1]
    _press(api, THERAPIST, zone_question, "The clinic's (Europe/London)")
    confirm = api.wait_for_sent(THERAPIST, 5)[-1]
    _press(api, THERAPIST, confirm, "Yes, create the invite")
    done = api.wait_for_sent(THERAPIST, 6)[-1]
    link = re.search(r"https://t\.me/(\w+)\?start=([A-Z0-9-]+)", done["text"])
    assert link is not None and link.group(1) == api.bot_user["username"], done["text"]

    # The patient opens the link: Telegram sends "/start CODE" from their account.
    api.send_text(NEW_PATIENT, f"/start {link.group(2)}")
    [consent] = api.wait_for_sent(NEW_PATIENT, 1, timeout=60)
    assert consent["text"] == say("consent", name="Robin")

    # /patients lists Robin and Alex; a tap on Alex gives the brief and the chart.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, "/patients")
    listing = api.wait_for_sent(THERAPIST, before + 1)[-1]
    assert "Robin (p-" in listing["text"] and "Alex (p-100)" in listing["text"]
    _press(api, THERAPIST, listing, "Alex (p-100)")
    brief, chart = api.wait_for_sent(THERAPIST, before + 3, timeout=60)[-2:]
    assert brief["text"].startswith("Review: Alex (p-100)")
    png = chart["document_bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] >= 600

    # /export Alex: CSV and JSON files, the JSON the same report `coach report` gives.
    before = len(api.sent(THERAPIST))
    api.send_text(THERAPIST, "/export Alex")
    as_csv, as_json = api.wait_for_sent(THERAPIST, before + 2, timeout=60)[-2:]
    assert as_csv["document"]["file_name"].endswith(".csv")
    [exported] = json.loads(as_json["document_bytes"])
    assert exported["patient_id"] == "p-100" and "completion_rate" in exported

    # A forged button (someone else's token) reaches no one, and is kept in the audit.
    before = len(api.sent(THERAPIST))
    api.press_forged(THERAPIST, "bw:d:review:0123456789ab")
    wait_for_text(api, THERAPIST, before, say("desk_expired"))
    audit = stack.coach("audit", "--therapist", "t-test").stdout
    assert "\treview\t-\tREFUSED" in audit and "\treview\tp-100\tallowed" in audit
    assert "\texport\tp-100\tallowed" in audit and "\tinvite\tp-" in audit
    assert find(api.sent(THERAPIST), "Review: Alex")  # the brief is still there to read
