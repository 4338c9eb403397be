"""The crisis response Rasa gives: care, the clinic's resources, the patient's safety plan,
a plain word that nobody watches the chat around the clock; the flow is suspended."""

from sqlalchemy import select

from actions.safety import ActionCrisisResponse
from data.models import SafetyEvent
from tests.actions.conftest import responses, run, tracker


def test_crisis_response_with_resources_and_the_safety_plan(linked, sessions):
    events, messages = run(ActionCrisisResponse(), tracker(linked["p-100"], "/crisis", "crisis"))
    assert responses(messages) == [
        "utter_crisis_care",
        "utter_crisis_resources",
        None,
        "utter_crisis_not_monitored",
    ]
    assert "Test crisis line" in messages[1]["resources"]
    assert "safety plan" in messages[2]["text"] and "Someone I can call: Test Friend" in messages[2]["text"]
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)  # flow suspended
    with sessions() as session:
        assert session.scalar(select(SafetyEvent.kind)) == "crisis"


def test_a_patient_without_a_safety_plan_gets_the_resources_only(linked, sessions):
    events, messages = run(ActionCrisisResponse(), tracker(linked["p-200"], "/crisis", "crisis"))
    assert responses(messages) == [
        "utter_crisis_care",
        "utter_crisis_resources",
        "utter_crisis_not_monitored",
    ]
