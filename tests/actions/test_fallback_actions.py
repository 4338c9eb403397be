"""A fallback that keeps the thread: the likely meanings offered as buttons in plain words
(the domain's), "something else", an honest handover after a second miss, and never the
same sentence twice running."""

from pathlib import Path

import yaml

from actions.fallback import ActionFallback, likely_meanings
from tests.actions.conftest import responses, run, tracker

DOMAIN = Path(__file__).resolve().parents[2] / "rasa_project" / "domain"


def _domain() -> dict:
    found: dict = {"responses": {}}
    for path in sorted(DOMAIN.glob("*.yml")):
        found["responses"].update(yaml.safe_load(path.read_text(encoding="utf-8")).get("responses") or {})
    return found


def _unsure(text: str, ranking: list[tuple[str, float]], history=None):
    t = tracker("pz-x", text, "nlu_fallback", history=history)
    t.latest_message["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
    t.events[-1]["parse_data"]["intent_ranking"] = t.latest_message["intent_ranking"]
    return t


MISS = {"event": "user", "text": "blorp", "parse_data": {"intent": {"name": "nlu_fallback"}}}


def test_unsure_between_meanings_offers_them_in_plain_words_and_something_else():
    ranking = [
        ("nlu_fallback", 0.45),
        ("barrier_not_useful", 0.31),
        ("resistance", 0.27),
        ("ask_rationale", 0.2),
        ("greet", 0.12),  # no plain words for it: never offered
        ("barrier_time", 0.01),  # too unlikely
    ]
    _, [message] = run(ActionFallback(), _unsure("whatever, this is pointless", ranking), _domain())
    assert message["response"] == "utter_did_you_mean"
    assert [b["title"] for b in message["buttons"]] == [
        "It doesn't feel useful",
        "I'd rather not do it at all",
        "Why this task?",
        "Something else",
    ]
    assert [b["payload"] for b in message["buttons"]] == [
        '/barrier_not_useful{"picked":"1"}',
        '/resistance{"picked":"2"}',
        '/ask_rationale{"picked":"3"}',
        "/something_else",
    ]
    # Telegram carries at most 64 bytes of callback data.
    assert all(len(b["payload"].encode()) <= 64 for b in message["buttons"])


def test_every_offerable_meaning_fits_in_a_telegram_button():
    domain = _domain()
    meanings = [
        k.removeprefix("utter_meaning_") for k in domain["responses"] if k.startswith("utter_meaning_")
    ]
    assert len(meanings) >= 15
    for name in meanings:
        assert len(f'/{name}{{"picked":"3"}}'.encode()) <= 64


def test_nothing_likely_asks_to_say_it_another_way():
    _, messages = run(ActionFallback(), _unsure("flarp", [("nlu_fallback", 0.45), ("greet", 0.3)]), _domain())
    assert responses(messages) == ["utter_default"]
    assert likely_meanings(_unsure("flarp", []), _domain()) == []


def test_a_second_miss_hands_over_honestly_and_the_wording_alternates():
    domain = _domain()
    ranking = [("nlu_fallback", 0.45), ("barrier_time", 0.3)]
    said = []
    for misses in range(4):
        t = _unsure("flarp", ranking, history=[MISS] * misses)
        said += responses(run(ActionFallback(), t, domain)[1])
    assert said == [
        "utter_did_you_mean",
        "utter_fallback_buttons",
        "utter_fallback_handover",
        "utter_fallback_buttons",
    ]
    assert all(a != b for a, b in zip(said, said[1:], strict=False))  # never the same sentence twice running
    # "Something else" pressed is a miss too: straight to the handover.
    other = tracker("pz-x", "/something_else", "something_else", history=[MISS])
    assert responses(run(ActionFallback(), other, domain)[1]) == ["utter_fallback_buttons"]
