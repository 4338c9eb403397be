"""The learned second crisis net: what it adds to the lexicon, and that it can fail safely.

Every example here is invented for these tests: none is taken from the crisis
benchmark sets in tests/perf/data or from tests/nlu, and none is in the
classifier's training data (a test below checks that).
"""

import logging
import sys

import pytest
import yaml

from bot import crisis_classifier, safety_net
from bot.safety_net import Detection, detect, detect_lexicon, normalise

# Crisis phrasings no lexicon pattern catches; the classifier must. (The
# lexicon's category names come back: the clinic reviews those.)
LEXICON_MISSES = [
    ("bloke from upstairs is face down in the stairwell and hes gone a funny colour", "medical_emergency"),
    ("my stepdad keeps coming in the bathroom when im in the bath and wont leave", "unsafe_at_home"),
    ("been sicking up every meal on purpose and now my heart keeps fluttering", "eating_risk"),
    ("he said if i leave hell find me and make sure nobody recognises me", "unsafe_at_home"),
    ("ive started giving my records away to mates, wont be needing them", "suicidal"),
]

# Ordinary messages with a risky word in them that neither net may flag.
ORDINARY = [
    "my calves are killing me after the hike",
    "dying to see the new exhibition",
    "i was too busy to do the worksheet",
    "i could murder a bacon sandwich",
    "cut the grass and washed the car, productive sunday",
    "took my tablets and went to bed early",
]


def _training_texts() -> set[str]:
    raw = yaml.safe_load(crisis_classifier.TRAINING.read_text(encoding="utf-8"))
    return {normalise(m) for part in ("crisis", "ordinary") for ms in raw[part].values() for m in ms}


@pytest.fixture
def fresh_classifier(monkeypatch):
    """A classifier that must load again, and a safety net that has not yet given up on it."""
    crisis_classifier._model.cache_clear()
    monkeypatch.setattr(safety_net, "_classifier_broken", False)
    yield
    crisis_classifier._model.cache_clear()


def test_the_examples_here_are_not_training_data():
    texts = _training_texts()
    assert not [t for t, _ in LEXICON_MISSES if normalise(t) in texts]
    assert not [t for t in ORDINARY if normalise(t) in texts]


@pytest.mark.parametrize(("text", "category"), LEXICON_MISSES)
def test_a_phrasing_the_lexicon_misses_is_caught(text, category):
    assert detect_lexicon(text) is None
    assert detect(text) == Detection(category)


@pytest.mark.parametrize("text", ORDINARY)
def test_idioms_and_everyday_talk_are_not_flagged(text):
    assert detect(text) is None


def test_the_lexicon_answers_first_and_the_classifier_never_excuses(monkeypatch):
    # A classifier that thinks nothing is a crisis changes nothing the lexicon finds.
    monkeypatch.setattr(crisis_classifier, "score_clean", lambda clean: ("self_harm", 0.0))
    assert detect("i want to kill myself") == Detection("suicidal")
    assert detect(LEXICON_MISSES[0][0]) is None


def test_the_threshold_applies(monkeypatch):
    monkeypatch.setattr(
        crisis_classifier, "score_clean", lambda clean: ("suicidal_plans", crisis_classifier.THRESHOLD)
    )
    assert detect("anything at all") == Detection("suicidal")
    monkeypatch.setattr(
        crisis_classifier, "score_clean", lambda clean: ("suicidal_plans", crisis_classifier.THRESHOLD - 0.01)
    )
    assert detect("anything at all") is None


def test_training_is_deterministic():
    texts, labels = crisis_classifier.training_examples()
    probe = [normalise(t) for t, _ in LEXICON_MISSES] + [normalise(t) for t in ORDINARY]
    first = crisis_classifier._fit(texts, labels)
    second = crisis_classifier._fit(texts, labels)
    assert list(crisis_classifier._probabilities(first, probe)) == list(
        crisis_classifier._probabilities(second, probe)
    )
    assert list(first.kind.predict(first.features(probe))) == list(
        second.kind.predict(second.features(probe))
    )


def test_every_kind_of_crisis_has_enough_varied_examples():
    raw = yaml.safe_load(crisis_classifier.TRAINING.read_text(encoding="utf-8"))
    assert set(raw["crisis"]) == {
        "suicidal_thoughts",
        "suicidal_plans",
        "self_harm",
        "harm_to_others",
        "abuse_or_unsafe_at_home",
        "disordered_eating_risk",
        "medical_emergency",
        "intoxication_risk",
    }
    assert all(len(set(messages)) >= 60 for messages in raw["crisis"].values())
    assert sum(len(set(messages)) for messages in raw["ordinary"].values()) >= 800


def test_every_category_it_answers_is_one_the_clinic_reviews():
    lexicon = yaml.safe_load(safety_net.LEXICON.read_text(encoding="utf-8"))
    kinds = set(crisis_classifier._model().kind.classes_)
    assert {safety_net._LEXICON_CATEGORY.get(kind, kind) for kind in kinds} <= set(lexicon["patterns"])


def _fails(*args, **kwargs):
    raise RuntimeError("i want to kill myself")  # as if an error quoted a message


@pytest.mark.usefixtures("fresh_classifier")
def test_a_classifier_that_cannot_train_leaves_the_lexicon_alone_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(crisis_classifier, "_fit", _fails)
    with caplog.at_level(logging.ERROR, logger="bot.safety_net"):
        assert detect("i want to kill myself") == Detection("suicidal")
        for text, _ in LEXICON_MISSES:
            assert detect(text) is None
    records = [r for r in caplog.records if r.name == "bot.safety_net"]
    assert len(records) == 1
    assert "RuntimeError" in records[0].getMessage()
    # No message text in the log, not even one that an exception quoted.
    assert "kill" not in caplog.text and "stepdad" not in caplog.text


@pytest.mark.usefixtures("fresh_classifier")
def test_without_scikit_learn_the_lexicon_carries_on(monkeypatch, caplog):
    # As if scikit-learn were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "sklearn.feature_extraction.text", None)
    with caplog.at_level(logging.ERROR, logger="bot.safety_net"):
        assert detect(LEXICON_MISSES[0][0]) is None
        assert detect("took 40 paracetamol an hour ago") is not None
    assert "ImportError" in caplog.text or "ModuleNotFoundError" in caplog.text


def test_the_threshold_is_what_cross_validation_picks():
    # Edit the training data and this fails until the cross-validation is re-run
    # (`python -m bot.crisis_classifier`) and THRESHOLD updated.
    assert crisis_classifier.cross_validate()["threshold"] == pytest.approx(
        crisis_classifier.THRESHOLD, abs=0.005
    )
