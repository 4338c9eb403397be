"""A patient's first conversation, through Telegram's API, end to end."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

pytestmark = pytest.mark.e2e

PATIENT = 731904  # an invented Telegram user id
STRANGER = 731977


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def wait_for_text(api, chat: int, since: int, fragment: str, timeout: float = 60) -> list[dict]:
    """Wait until a bot message after the first `since` contains `fragment`; return those.

    Rasa splits a reply at blank lines, so counting messages would be brittle.
    """
    api.wait_until(
        lambda: any(fragment in (m["text"] or "") for m in api.sent(chat)[since:]),
        timeout,
        what=f"a message containing {fragment!r}",
    )
    return api.sent(chat)[since:]


def test_a_stranger_is_turned_away_kindly(stack):
    stack.api.send_text(STRANGER, "hello is anyone there")
    [reply] = stack.api.wait_for_sent(STRANGER, 1)
    assert "ask your therapist for your invite link" in reply["text"]
    stack.api.send_text(STRANGER, "/start NOT-A-CODE")
    replies = stack.api.wait_for_sent(STRANGER, 2)
    assert "doesn't work" in replies[1]["text"]
    report = json.loads(stack.coach("report", "--format", "json").stdout)
    assert all(r["checkins"] == [] for r in report)


def test_patient_links_consents_and_checks_in(stack):
    api = stack.api
    api.send_text(PATIENT, "/start TEST-CODE-100")
    [consent] = api.wait_for_sent(PATIENT, 1)
    assert "Hi Alex" in consent["text"] and "not a therapist" in consent["text"]
    buttons = consent["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in buttons] == ["bw:consent:yes", "bw:consent:no"]

    api.press_button(PATIENT, consent["message_id"], "bw:consent:yes")
    after_consent = api.wait_for_sent(PATIENT, 3)
    assert "Thank you" in after_consent[1]["text"]
    greeting = after_consent[2]
    assert "homework coach" in greeting["text"]
    payloads = [row[0]["callback_data"] for row in greeting["reply_markup"]["inline_keyboard"]]
    assert "/report_done" in payloads

    api.send_text(PATIENT, "I did my thought record")
    replies = api.wait_for_sent(PATIENT, 5)
    assert "thought record" in replies[3]["text"] and "done" in replies[3]["text"]
    assert "anything else" in replies[4]["text"].lower()
    # Every message about tasks is protected from forwarding and saving.
    assert all(m["protect_content"] for m in replies)

    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert [(c["task_id"], c["status"]) for c in alex["checkins"]] == [("thought-record", "done")]
    assert alex["completion_rate"] == 1.0


def test_buttons_work_and_rationale_is_the_therapists(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "why do I have to do this?")
    replies = wait_for_text(api, PATIENT, before, "Catching a thought on paper")
    # The therapist's words come first, then the library's line on this kind of task.
    assert replies[0]["text"].startswith("Your therapist's reason for the thought record")
    assert "Writing the thought down slows it" in replies[0]["text"]

    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "hi")
    [greeting] = [
        m for m in wait_for_text(api, PATIENT, before, "homework coach") if "homework coach" in m["text"]
    ]
    assert greeting["reply_markup"]
    api.press_button(PATIENT, greeting["message_id"], "/report_partial")
    wait_for_text(api, PATIENT, before, "partly done")
    # The pressed keyboard is removed, so it can't be pressed twice.
    assert api.sent(PATIENT)[before]["reply_markup"] is None
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert [c["status"] for c in alex["checkins"]] == ["done", "partial"]


def test_a_scheduled_nudge_arrives_and_is_answered_into_a_checkin(stack, tmp_path):
    api = stack.api
    # Add a task due in the next minute or two, in the patient's own timezone.
    london = dt.datetime.now(ZoneInfo("Europe/London"))
    due = (london + dt.timedelta(minutes=2 if london.second > 40 else 1)).replace(second=0)
    raw = yaml.safe_load((Path(__file__).parents[1] / "fixtures" / "plan.yml").read_text())
    raw["patients"][0]["tasks"].append(
        {
            "id": "worry-time",
            "template": "worry_time",
            "title": "Worry time",
            "rationale": "Parking worries until a set time shows they can wait.",
            "schedule": {"days": [due.strftime("%a").lower()], "at": due.strftime("%H:%M")},
        }
    )
    plan = tmp_path / "plan.yml"
    plan.write_text(yaml.safe_dump(raw))
    applied = stack.coach("plan", "apply", str(plan))
    assert "created task p-100/worry-time" in applied.stdout, applied.stderr
    upcoming = stack.coach("nudges", "--patient", "p-100").stdout
    assert f"worry-time           {due.strftime('%a %Y-%m-%d %H:%M')}" in upcoming

    before = len(api.sent(PATIENT))
    [nudge] = [
        m
        for m in wait_for_text(api, PATIENT, before, "how did your worry time go", timeout=200)
        if "worry time" in m["text"]
    ]
    assert nudge["text"].startswith("Hi Alex")
    api.press_button(PATIENT, nudge["message_id"], "/report_done")
    after = wait_for_text(api, PATIENT, before, " as done")
    assert any("worry time" in m["text"] and " as done" in m["text"] for m in after)
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert ("worry-time", "done") in [(c["task_id"], c["status"]) for c in alex["checkins"]]


def test_crisis_language_gets_resources_at_once(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "honestly everyone would be better off without me")
    replies = wait_for_text(api, PATIENT, before, "isn't watched around the clock")
    joined = "\n".join(texts(replies))
    assert "Test crisis line: 0000 000 000" in joined
    assert "isn't watched around the clock" in joined
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert [c["detected_by"] for c in alex["crisis"]] == ["safety_net"]


def test_no_private_words_ids_or_tokens_in_any_log(stack):
    logs = stack.logs()
    assert "bot started" in logs  # the logs are really there
    for secret in (
        "I did my thought record",
        "better off without me",
        "why do I have to do this",
        str(PATIENT),
        "Alex",
        stack.settings.rasa_token.get_secret_value(),
        "AAtest-token-for-the-loopback-server0",
    ):
        assert secret not in logs, f"{secret!r} leaked into a log"
