"""The crisis net's three answers through Telegram's API, end to end: the full response, the
one question and each of its answers (mid-worksheet too), with Rasa up and with Rasa
stopped, and a crisis answered at once while fifty other patients wait their turn."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from data.db import make_engine, make_sessionmaker, transaction
from data.models import Patient, utcnow
from data.wording import RISK_ANSWERS, content, say
from tests.e2e.conftest import BOT_TOKEN, ROOT, Running
from tests.support.botapi_server import FakeBotApi
from tests.support.ports import port_for_a_server

pytestmark = pytest.mark.e2e

QUESTION = content()["risk_question"]["suicidal"]  # what POSSIBLE is asked, as the YAML words it
RESOURCES = "Test crisis line: 0000 000 000"  # the test plan's crisis numbers: must always be sent
POSSIBLE = "honestly everyone would be better off without me"  # passive: the question
CLEAR = "i want to kill myself tonight"
RESULTS = ROOT / "tests" / "perf" / "results" / "crisis_latency.json"


def enrol(stack, first_user: int, count: int) -> list[int]:
    """`count` linked, consented patients with a thought record task; their Telegram ids."""
    users = list(range(first_user, first_user + count))
    plan = {
        "clinic": {"name": "Test Clinic", "timezone": "Europe/London", "crisis_resources": [RESOURCES]},
        "therapists": [{"id": "t-test", "name": "Dr Test Therapist"}],
        "patients": [
            {
                "id": f"p-e{user}",
                "therapist": "t-test",
                "display_name": "Robin",
                "tasks": [
                    {
                        "id": "thought-record",
                        "template": "thought_record",
                        "title": "Thought record",
                        "rationale": "Writing the thought down slows it.",
                        "schedule": {"days": ["mon"], "at": "19:00"},
                    }
                ],
            }
            for user in users
        ],
    }
    path = Path(stack.log_dir).parent / f"plan-{first_user}.yml"
    path.write_text(yaml.safe_dump(plan))
    applied = stack.coach("plan", "apply", str(path))
    assert applied.returncode == 0, applied.stderr
    engine = make_engine(stack.settings.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        for user in users:
            row = session.get(Patient, f"p-e{user}")
            row.telegram_user_id = row.telegram_chat_id = user
            row.linked_at = row.consented_at = utcnow()
    engine.dispose()
    return users


def texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] or "" for m in messages)


def wait_for(api, chat: int, since: int, fragment: str, timeout: float = 60) -> dict:
    api.wait_until(
        lambda: any(fragment in (m["text"] or "") for m in api.sent(chat)[since:]),
        timeout,
        what=f"a message containing {fragment!r}",
    )
    return next(m for m in api.sent(chat)[since:] if fragment in (m["text"] or ""))


def press(api, chat: int, message: dict, title: str) -> None:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for b in row:
            if b["text"] == title:
                api.press_button(chat, message["message_id"], b["callback_data"])
                return
    raise AssertionError(f"no button {title!r}")


def title(answer: str) -> str:
    """The button that gives this answer ("yes", "no", "unsure") to the crisis question."""
    label: str = content()["risk_buttons"][answer]
    return label


def report(stack, user: int) -> dict:
    out = stack.coach("report", "--patient", f"p-e{user}", "--format", "json")
    return json.loads(out.stdout)[0]


def ask(api, user: int, words: str = POSSIBLE) -> dict:
    before = len(api.sent(user))
    api.send_text(user, words)
    question = wait_for(api, user, before, QUESTION)
    titles = [row[0]["text"] for row in question["reply_markup"]["inline_keyboard"]]
    assert titles == [title(a) for a in RISK_ANSWERS] + [say("crisis_numbers_button")]
    assert RESOURCES not in texts(api.sent(user)[before:])  # a question, not the full response
    return question


def test_no_mid_worksheet_carries_the_worksheet_on(stack):
    api = stack.api
    [user] = enrol(stack, 781000, 1)
    before = len(api.sent(user))
    api.send_text(user, "not yet")
    options = wait_for(api, user, before, "What would help most")
    press(api, user, options, "Do it now, with me")
    wait_for(api, user, before, "What was the situation")

    question = ask(api, user)
    before = len(api.sent(user))
    press(api, user, question, title("no"))
    wait_for(api, user, before, say("risk_no"))
    wait_for(api, user, before, "What was the situation")  # the worksheet asks again
    api.send_text(user, "at home after dinner")
    wait_for(api, user, before, "What went through your mind")  # and goes on
    robin = report(stack, user)
    assert [(r["raised_by"], r["answer"]) for r in robin["risk_checks"]] == [("lexicon", "no")]
    assert robin["crisis"] == []


@pytest.mark.parametrize(("first_user", "answer"), [(781100, "yes"), (781200, "unsure")])
def test_yes_or_not_sure_gets_the_crisis_response(stack, first_user, answer):
    api = stack.api
    [user] = enrol(stack, first_user, 1)
    question = ask(api, user)
    before = len(api.sent(user))
    press(api, user, question, title(answer))
    wait_for(api, user, before, RESOURCES)
    robin = report(stack, user)
    assert [r["answer"] for r in robin["risk_checks"]] == [answer]
    assert [c["detected_by"] for c in robin["crisis"]] == ["question"]
    # Rasa was told: a message after it is an ordinary one again.
    before = len(api.sent(user))
    api.send_text(user, "hi")
    wait_for(api, user, before, "homework coach")


def test_clear_risk_gets_the_full_response_without_a_question(stack):
    api = stack.api
    [user] = enrol(stack, 781300, 1)
    before = len(api.sent(user))
    api.send_text(user, CLEAR)
    wait_for(api, user, before, RESOURCES)
    assert QUESTION not in texts(api.sent(user)[before:])
    robin = report(stack, user)
    assert [c["detected_by"] for c in robin["crisis"]] == ["lexicon"] and robin["risk_checks"] == []


def test_a_crisis_is_answered_at_once_while_fifty_patients_wait(stack):
    api = stack.api
    waiting = enrol(stack, 782000, 50)
    [user] = enrol(stack, 781400, 1)
    sent_before = {u: len(api.sent(u)) for u in waiting}
    for u in waiting:
        api.send_text(u, "hi, what homework have i got this week?")
    started = time.monotonic()
    before = len(api.sent(user))
    api.send_text(user, CLEAR)
    api.wait_until(lambda: RESOURCES in texts(api.sent(user)[before:]), 30, what="the crisis response")
    took = time.monotonic() - started
    answered = sum(len(api.sent(u)) > sent_before[u] for u in waiting)
    # Then everyone else is answered too, in their turn.
    api.wait_until(
        lambda: all(len(api.sent(u)) > sent_before[u] for u in waiting), 240, what="the fifty replies"
    )
    everyone = time.monotonic() - started
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "crisis_response_seconds": round(took, 3),
                "others_answered_before_it": answered,
                "others": len(waiting),
                "all_fifty_answered_seconds": round(everyone, 1),
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"crisis response after {took:.2f} s; {answered}/50 others answered by then; all in {everyone:.1f} s"
    )
    # About 0.4 s on a quiet machine (the figure above); `make test` runs the rest of the
    # suite on the same two cores meanwhile, so the bound leaves room for that.
    assert took < 5.0
    assert answered < len(waiting)  # it did not wait for the queue


# --- Rasa stopped -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def without_rasa(stack, tmp_path_factory):
    """A second bot, alone against its own Bot API server and database, Rasa's address a
    closed port. Its own database: two bots on one inbox would each take updates meant for
    the other (in production one bot owns a database's inbox)."""
    from coach.processes import Stack
    from data.migrate import upgrade

    tmp = tmp_path_factory.mktemp("no-rasa")
    log_dir = tmp / "logs"
    settings = stack.settings.model_copy(update={"database_url": f"sqlite:///{tmp / 'app.db'}"})
    upgrade(settings.database_url)
    # Its own update ids too, so nothing in its inbox could be mistaken for the stack's.
    api = FakeBotApi(BOT_TOKEN, first_update_id=900_000_001).start()
    children = Stack()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DATABASE_URL": settings.database_url,
        "RASA_TRACKER_URL": stack.settings.rasa_tracker_url,
        "RASA_URL": f"http://127.0.0.1:{port_for_a_server()}",
        "RASA_TOKEN": "unused",
        "ACTION_SERVER_URL": stack.settings.action_server_url,
        "LOG_LEVEL": "DEBUG",
        "FLOOD_MESSAGES_PER_MINUTE": "1000",
        "RASA_TIMEOUT_SECONDS": "2",
    }
    try:
        bot = children.start("bot-no-rasa", [sys.executable, "-m", "coach.cli", "run"], env, ROOT, log_dir)
        api.wait_for_polling(timeout=240)
        yield Running(api, settings, log_dir, bot.log_path)
    finally:
        children.stop()
        api.stop()


@pytest.mark.parametrize(
    ("first_user", "answer", "heard"),
    [(781500, "no", say("risk_no")), (781600, "yes", RESOURCES), (781700, "unsure", RESOURCES)],
)
def test_with_rasa_stopped_the_question_and_its_answers_still_work(
    stack, without_rasa, first_user, answer, heard
):
    api = without_rasa.api
    [user] = enrol(without_rasa, first_user, 1)
    question = ask(api, user)
    before = len(api.sent(user))
    press(api, user, question, title(answer))
    wait_for(api, user, before, heard)
    robin = report(without_rasa, user)
    assert robin["risk_checks"][0]["answer"] == answer
