"""No token and no patient's words in a log line, not even in an exception's text or traceback."""

import logging
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from data.care_plans import apply_plan
from data.db import transaction
from data.logging_setup import configure, redact
from data.models import SafetyEvent
from data.plan_schema import load_plan

FIXTURES = Path(__file__).parent.parent / "fixtures"

MARKER = "marker phrase: my neighbour's blue bicycle"
BOT_TOKEN = "987654321:AAfake-token-for-a-logging-test-0000000"


@pytest.fixture
def logged(capsys):
    def run(write) -> str:
        configure("INFO", secrets=("a-run-secret-0001",))
        try:
            write(logging.getLogger("bridgework.test"))
        finally:
            logging.getLogger().handlers[:] = []
        return capsys.readouterr().err

    return run


def test_a_rejected_bot_token_in_an_exception_is_redacted(logged):
    def write(log):
        try:
            # As python-telegram-bot's InvalidToken words it.
            raise RuntimeError(f"The token `{BOT_TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("bot could not start")

    out = logged(write)
    assert "bot could not start" in out and "RuntimeError" in out
    assert "987654321" not in out and "AAfake" not in out


def test_secrets_given_and_in_urls_are_redacted_wherever_they_appear(logged):
    def write(log):
        log.warning("calling %s", "http://rasa/conversations/x?token=abc123def456&output_channel=latest")
        log.warning("Authorization: Bearer s3cr3t-value-here")
        try:
            raise ValueError("a-run-secret-0001 leaked into an error")
        except ValueError:
            log.exception("failed")

    out = logged(write)
    assert "abc123def456" not in out and "s3cr3t-value-here" not in out
    assert "a-run-secret-0001" not in out and out.count("[redacted]") >= 3


def test_a_database_error_never_quotes_the_patients_words(sessions, logged):
    with transaction(sessions) as session:
        apply_plan(load_plan(FIXTURES / "plan.yml"), session=session, invite_ttl_days=14)
        session.add(SafetyEvent(patient_id="p-100", kind="resistance", detected_by="nlu", dedupe_key="k"))
    caught: list[SQLAlchemyError] = []

    def write(log):
        try:
            with transaction(sessions) as session:
                # A duplicate key: the database refuses the row, words and all.
                session.add(
                    SafetyEvent(
                        patient_id="p-100", kind="resistance", detected_by="nlu", dedupe_key="k", words=MARKER
                    )
                )
        except SQLAlchemyError as error:
            caught.append(error)
            log.exception("database refused a row")

    out = logged(write)
    assert caught and "database refused a row" in out
    assert "bicycle" not in out and "bicycle" not in str(caught[0])


def test_redact_leaves_ordinary_text_alone():
    assert redact("update 100000051 flagged; 3 updates stored in 40 ms") == (
        "update 100000051 flagged; 3 updates stored in 40 ms"
    )
