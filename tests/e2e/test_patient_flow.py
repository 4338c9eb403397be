"""A patient's first conversation, through Telegram's API, end to end."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from data.wording import say
from tests.support.wording import has_response, is_response

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
    assert reply["text"] == say("unlinked")
    stack.api.send_text(STRANGER, "/start NOT-A-CODE")
    replies = stack.api.wait_for_sent(STRANGER, 2)
    assert replies[1]["text"] == say("invite_refused")
    report = json.loads(stack.coach("report", "--format", "json").stdout)
    assert all(r["checkins"] == [] for r in report if r["patient_id"] in ("p-100", "p-200"))


def button(message: dict, title: str) -> str:
    """The callback data of the button with this title; fails if it isn't shown."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            if b["text"] == title:
                return b["callback_data"]
    raise AssertionError(f"no button {title!r} on {message['text'][:60]!r}")


def find(messages: list[dict], fragment: str) -> dict:
    return next(m for m in messages if fragment in (m["text"] or ""))


def press(api, message: dict, title: str) -> None:
    api.press_button(PATIENT, message["message_id"], button(message, title))


def test_patient_links_consents_and_checks_in(stack):
    api = stack.api
    api.send_text(PATIENT, "/start TEST-CODE-100")
    [consent] = api.wait_for_sent(PATIENT, 1)
    assert consent["text"] == say("consent", name="Alex")
    buttons = consent["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in buttons] == ["bw:consent:yes", "bw:consent:no"]

    press(api, consent, "Yes, let's start")
    greeting = find(wait_for_text(api, PATIENT, 1, "homework coach"), "homework coach")
    assert "/report_done" in [row[0]["callback_data"] for row in greeting["reply_markup"]["inline_keyboard"]]

    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "I did my thought record")
    replies = wait_for_text(api, PATIENT, before, "How helpful was it")
    joined = "\n".join(texts(replies))
    assert "thought record" in joined and has_response(joined, "utter_checkin_done")  # the task's title
    # The first check-in on a task brings the therapist's rationale and asks what the patient expects.
    assert "Writing the thought down slows it" in joined  # the test plan's rationale
    assert has_response(joined, "utter_rationale") and has_response(joined, "utter_ask_expectation")
    # Every message about tasks is protected from forwarding and saving.
    assert all(m["protect_content"] for m in replies)

    # Rating the expectation mid-form is taken as that, and the ratings carry on.
    press(api, find(replies, "How much do you expect"), "4")
    wait_for_text(api, PATIENT, before, "It's fine to be unsure")
    press(api, find(replies, "How helpful was it"), "4")
    ask = find(wait_for_text(api, PATIENT, before, "how hard was it"), "how hard was it")
    press(api, ask, "2")
    wait_for_text(api, PATIENT, before, "Anything you noticed")
    api.send_text(PATIENT, "I noticed the worry got quieter once it was on paper")
    share = find(wait_for_text(api, PATIENT, before, "therapist to see"), "therapist to see")
    press(api, share, "Yes, share it")
    celebration = find(wait_for_text(api, PATIENT, before, "this week"), "this week")
    assert "1 of 3 this week" in celebration["text"]

    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    [checkin] = alex["checkins"]
    assert (checkin["task_id"], checkin["status"]) == ("thought-record", "done")
    assert (checkin["helpfulness"], checkin["difficulty"]) == (4, 2)
    assert checkin["reflection"] == "I noticed the worry got quieter once it was on paper"
    # Done before any planned time was due (Alex joined minutes ago): shown, and counted
    # against no planned occurrence, so there is no rate yet.
    assert checkin["answers_due_at"] is None and alex["tasks"][0]["extra"] == 1
    assert alex["completion_rate"] is None


def test_rationale_expectation_and_an_obstacle_plan(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "why do I have to do this?")
    replies = wait_for_text(api, PATIENT, before, "Catching a thought on paper")
    # The therapist's words come first, then the library's line on this kind of task.
    assert has_response("\n".join(texts(replies)), "utter_rationale")

    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "hi")
    greeting = find(wait_for_text(api, PATIENT, before, "homework coach"), "homework coach")
    press(api, greeting, "Partly")
    replies = wait_for_text(api, PATIENT, before, "What got in the way")
    assert has_response("\n".join(texts(replies)), "utter_checkin_partial")
    # The pressed keyboard is removed, so it can't be pressed twice.
    [pressed] = [m for m in api.sent(PATIENT) if m["message_id"] == greeting["message_id"]]
    assert pressed["reply_markup"] is None

    api.send_text(PATIENT, "been so busy with work i didnt have a second")
    options = find(wait_for_text(api, PATIENT, before, "Which of these might work"), "Which of these")
    assert has_response("\n".join(texts(api.sent(PATIENT)[before:])), "utter_barrier_ack_time")
    press(api, options, "A 2-minute version")
    wait_for_text(api, PATIENT, before, "When could you do that")
    api.send_text(PATIENT, "when I get home from work")
    plan = find(wait_for_text(api, PATIENT, before, "Here's your plan"), "Here's your plan")
    assert plan["text"] == "Here's your plan: When I get home from work, I will do a 2-minute version."

    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert alex["tasks"][0]["expected_helpfulness"] == 4
    assert [c["status"] for c in alex["checkins"]] == ["done", "partial"]
    [barrier] = alex["barriers"]
    assert barrier["category"] == "time"
    assert barrier["words"] == "been so busy with work i didnt have a second"
    assert barrier["plan"] == "When I get home from work, I will do a 2-minute version."


BARRIER_MESSAGES = {
    "forgot": ("completely slipped my mind", "happens to everyone"),
    "privacy": ("my partner reads my phone so i didnt want to write anything down", "want privacy"),
    "timing": ("too tired by the evening", "timing isn't working"),
    "too_hard": ("it's overwhelming", "the task should change, not you"),
    "unclear": ("not sure how to fill it in", "that's on the instructions"),
    "not_useful": ("doesnt fit my problem", "worth knowing why a task might help"),
    "low_mood": ("everything feels heavy", "When mood is low"),
    "anxiety": ("my heart was racing when i tried", "brave to say so"),
}


@pytest.mark.parametrize("category", list(BARRIER_MESSAGES))
def test_each_obstacle_gets_its_own_script_and_a_plan(stack, category):
    api = stack.api
    words, acknowledgement = BARRIER_MESSAGES[category]
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, words)
    options = find(wait_for_text(api, PATIENT, before, "Which of these might work"), "Which of these")
    assert acknowledgement in "\n".join(texts(api.sent(PATIENT)[before:]))
    titles = [row[0]["text"] for row in options["reply_markup"]["inline_keyboard"]]
    assert 3 <= len(titles) <= 4 and titles[-1] == "My own idea"
    press(api, options, titles[0])
    api.wait_until(
        lambda: any(
            "When could you do that" in (m["text"] or "") or "What time would be better" in (m["text"] or "")
            for m in api.sent(PATIENT)[before:]
        ),
        60,
        "the question of when",
    )
    asks_time = any("What time would be better" in (m["text"] or "") for m in api.sent(PATIENT)[before:])
    api.send_text(PATIENT, "8am" if asks_time else "after breakfast")
    wait_for_text(api, PATIENT, before, "Here's your plan")
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    latest = alex["barriers"][-1]
    assert latest["category"] == category and latest["words"] == words
    assert latest["plan"].startswith(("When ", "After breakfast, I will", "At 8am, I will"))
    assert latest["needs_adjusting"] is (category in ("too_hard", "unclear", "not_useful"))


def test_pushback_is_met_with_reflection_not_the_task(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "there's no point")
    replies = wait_for_text(api, PATIENT, before, "how important is working on this")
    joined = "\n".join(texts(replies))
    assert (
        has_response(joined, "utter_resistance_autonomy") and "Done" not in joined
    )  # no task pushed in the same turn
    press(api, replies[-1], "7-8")
    wait_for_text(api, PATIENT, before, "You picked 8, not 0")
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert alex["resistance"][-1]["words"] == "there's no point"
    assert alex["tasks"][0]["backed_off_at"] is not None


def test_a_number_typed_at_the_ruler_is_the_answer_not_a_misunderstanding(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "there's no point")
    wait_for_text(api, PATIENT, before, "how important is working on this")
    api.send_text(PATIENT, "7")  # the buttons read "5-6", "7-8": a 7 typed is heard as 7
    replies = wait_for_text(api, PATIENT, before, "You picked 7, not 0")
    misunderstood = ("utter_did_you_mean", "utter_default", "utter_fallback_handover")
    assert not any(has_response(t, key) for t in texts(replies) for key in misunderstood)


def test_a_thought_record_in_the_chat_survives_a_break(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "not yet")
    options = find(wait_for_text(api, PATIENT, before, "What would help most"), "What would help most")
    press(api, options, "Do it now, with me")
    wait_for_text(api, PATIENT, before, "What was the situation")
    api.send_text(PATIENT, "at work when my manager emailed me")
    wait_for_text(api, PATIENT, before, "What went through your mind")
    api.send_text(PATIENT, "that i am going to get sacked")
    wait_for_text(api, PATIENT, before, "What did you feel")
    api.send_text(PATIENT, "can we stop here")
    wait_for_text(api, PATIENT, before, "Everything you wrote is saved")

    api.send_text(PATIENT, "carry on with my thought record")
    asked = len(api.sent(PATIENT))
    wait_for_text(api, PATIENT, asked, "What did you feel")  # where it stopped, nothing lost
    for answer, next_question in (
        ("anxious", "How strong was that feeling"),
        ("80", "What makes the thought seem true"),
        ("the email was really short", "What doesn't fit the thought"),
        ("she praised my report last week", "more balanced way"),
        ("she is probably just busy", "how strong is the feeling now"),
    ):
        api.send_text(PATIENT, answer)
        wait_for_text(api, PATIENT, asked, next_question)
    api.send_text(PATIENT, "45")
    wait_for_text(api, PATIENT, asked, "went from 80 to 45")
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    [worksheet] = [c["worksheet"] for c in alex["checkins"] if c["worksheet"]]
    assert worksheet["situation"] == "at work when my manager emailed me"
    assert worksheet["balanced"] == "she is probably just busy" and worksheet["rerating"] == 45


def test_a_scheduled_nudge_arrives_and_is_answered_into_a_checkin(stack, tmp_path):
    api = stack.api
    # Add a task due in the next minute or two, in the patient's own timezone.
    london = dt.datetime.now(ZoneInfo("Europe/London"))
    due = (london + dt.timedelta(minutes=2 if london.second > 40 else 1)).replace(second=0)
    raw = yaml.safe_load((Path(__file__).parents[1] / "fixtures" / "plan.yml").read_text())
    # No quiet time at all (an empty window: without one, the night from sleep to wake is
    # quiet), so the test means the same at any hour CI runs it.
    raw["patients"][0]["routine"] = {"preferred_times": ["08:00", "19:00"], "quiet_hours": ["00:00", "00:00"]}
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
    nudge = find(
        wait_for_text(api, PATIENT, before, "how did your worry time go", timeout=200),
        "how did your worry time go",
    )
    # The first check-in on a task brings its rationale (Alex's plan is not discreet).
    assert "Parking worries until a set time" in "\n".join(texts(api.sent(PATIENT)[before:]))
    assert "Alex" in nudge["text"] and is_response(nudge["text"], "utter_checkin_prompt")
    api.press_button(PATIENT, nudge["message_id"], "/report_done")
    after = wait_for_text(api, PATIENT, before, " as done")
    assert any("worry time" in m["text"] and is_response(m["text"], "utter_checkin_done") for m in after)
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert ("worry-time", "done") in [(c["task_id"], c["status"]) for c in alex["checkins"]]


def test_crisis_language_gets_resources_at_once(stack):
    api = stack.api
    before = len(api.sent(PATIENT))
    api.send_text(PATIENT, "honestly i just want to kill myself")
    wait_for_text(api, PATIENT, before, "isn't watched around the clock")
    replies = wait_for_text(api, PATIENT, before, "Test Friend")  # the safety plan follows
    joined = "\n".join(texts(replies))
    assert "Test crisis line: 0000 000 000" in joined  # the clinic's numbers, in any wording
    assert has_response(joined, "crisis_response")
    assert "Someone I can call: Test Friend" in joined  # Alex's safety plan, from the care plan
    [alex] = json.loads(stack.coach("report", "--patient", "p-100", "--format", "json").stdout)
    assert [c["detected_by"] for c in alex["crisis"]] == ["lexicon"]


DB_ERROR_MARKER = "my neighbour's blue bicycle"


def test_a_database_error_while_handling_quotes_no_words_in_any_log(stack):
    """The database refuses a pushback's words (a trigger forces the error); the action
    server logs the failure and still answers, and the words appear nowhere (checked in
    the next test)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.settings.database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_pushback BEFORE INSERT ON safety_event "
                "WHEN NEW.kind = 'resistance' BEGIN SELECT RAISE(ABORT, 'forced by the test'); END"
            )
        )
    try:
        api = stack.api
        before = len(api.sent(PATIENT))
        # Read as pushback by the NLU (0.92), which always records a resistance event.
        api.send_text(PATIENT, f"i'm not doing any more homework, i'd rather fix {DB_ERROR_MARKER}")
        # The pushback is recorded (a resistance event) whatever the reply: the trigger fires.
        deadline = time.monotonic() + 60
        while "forced by the test" not in stack.logs() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "forced by the test" in stack.logs()  # the error was logged, SQL and all
        api.wait_until(lambda: len(api.sent(PATIENT)) > before, 60, "a reply all the same")
    finally:
        with engine.begin() as connection:
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_pushback"))
        engine.dispose()


def test_no_private_words_ids_or_tokens_in_any_log(stack):
    logs = stack.logs()
    assert "bot started" in logs  # the logs are really there
    for secret in (
        "I did my thought record",
        "worry got quieter",
        "manager emailed me",
        "been so busy with work",
        "just want to kill myself",
        DB_ERROR_MARKER,
        "blue bicycle",
        "why do I have to do this",
        "Test Friend",
        str(PATIENT),
        "Alex",
        stack.settings.rasa_token.get_secret_value(),
        stack.settings.action_server_token.get_secret_value(),
        "AAtest-token-for-the-loopback-server0",
    ):
        assert secret not in logs, f"{secret!r} leaked into a log"
