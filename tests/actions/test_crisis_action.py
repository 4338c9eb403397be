"""Crisis language the NLU heard and the bot's nets did not: Rasa asks the one question with
the bot's own buttons and keeps the flow where it was; the bot's crisis response suspends it."""

from sqlalchemy import select

from actions.safety import ActionCarryOn, ActionCrisisCheck, ActionCrisisSuspend
from data.models import SafetyEvent
from data.wording import parse_risk_answer
from tests.actions.conftest import run, tracker


def test_the_nlu_alone_asks_the_question_and_records_it(linked, sessions):
    events, [message] = run(ActionCrisisCheck(), tracker(linked["p-100"], "i feel hopeless", "crisis"))
    assert events == []  # a form under way stays where it was
    with sessions() as session:
        [asked] = session.scalars(select(SafetyEvent)).all()
    assert (asked.kind, asked.detected_by, asked.words, asked.answer) == ("risk_check", "nlu", None, None)
    answers = [parse_risk_answer(b["payload"]) for b in message["buttons"]]
    assert answers[:3] == [("yes", asked.id), ("no", asked.id), ("unsure", asked.id)]
    assert message["buttons"][3]["payload"] == "bw:crisis:resources"


def test_the_crisis_response_suspends_the_flow_and_carrying_on_says_nothing(linked):
    events, messages = run(
        ActionCrisisSuspend(), tracker(linked["p-100"], "/crisis_handled", "crisis_handled")
    )
    assert messages == [] and any(e["event"] == "active_loop" and e["name"] is None for e in events)
    events, messages = run(ActionCarryOn(), tracker(linked["p-100"], "/carry_on", "carry_on"))
    assert (events, messages) == ([], [])


def test_words_the_lexicon_read_as_not_current_risk_get_no_question(linked, sessions):
    said = tracker(
        linked["p-100"], "im not suicidal, just fed up", "crisis", metadata={"bw_crisis_excused": "1"}
    )
    events, [message] = run(ActionCrisisCheck(), said)
    assert events == [] and message["response"] == "utter_crisis_excused"
    with sessions() as session:
        assert session.scalars(select(SafetyEvent)).all() == []
