"""The learned crisis net: what it adds to the lexicon, its two thresholds, and that it
can fail safely.

Every example here is invented for these tests: none is taken from the crisis
benchmark sets in tests/perf/data or from tests/nlu, and none is in the
classifier's training data (a test below checks that).
"""

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import yaml

import bot.crisis as crisis_net
from bot.crisis import CLEAR, POSSIBLE, classifier, detect, detect_lexicon, lexicon
from bot.crisis.text import normalise

# Crisis phrasings no lexicon pattern catches; the classifier must (at least with the
# question). The lexicon's category names come back: the clinic reviews those.
LEXICON_MISSES = [
    "bloke from upstairs is face down in the stairwell and hes gone a funny colour",
    "my stepdad keeps coming in the bathroom when im in the bath and wont leave",
    "been sicking up every meal on purpose and now my heart keeps fluttering",
    "he said if i leave hell find me and make sure nobody recognises me",
    "ive started giving my records away to mates, wont be needing them",
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
    raw = yaml.safe_load(classifier.TRAINING.read_text(encoding="utf-8"))
    return {normalise(m) for part in ("crisis", "ordinary") for ms in raw[part].values() for m in ms}


@pytest.fixture
def fresh_classifier(monkeypatch):
    """A classifier that must load again, and a crisis net that has not yet given up on it."""
    classifier.model.cache_clear()
    monkeypatch.setattr(crisis_net, "_classifier_broken", False)
    yield
    classifier.model.cache_clear()


def test_the_examples_here_are_not_training_data():
    texts = _training_texts()
    assert not [t for t in LEXICON_MISSES if normalise(t) in texts]
    assert not [t for t in ORDINARY if normalise(t) in texts]


@pytest.mark.parametrize("text", LEXICON_MISSES)
def test_a_phrasing_the_lexicon_misses_is_caught(text):
    assert detect_lexicon(text) is None
    found = detect(text)
    assert found is not None and found.net == "classifier"


@pytest.mark.parametrize("text", ORDINARY)
def test_idioms_and_everyday_talk_are_not_flagged(text):
    assert detect(text) is None


def test_the_classifier_never_silences_the_lexicon(monkeypatch):
    # A classifier that is sure nothing is a crisis: the nets disagree, so the lexicon's
    # clear finding gets the question, and its possible one stays possible.
    monkeypatch.setattr(classifier, "score_many", lambda cleans: [("self_harm", 0.0)] * len(cleans))
    assert detect("i want to kill myself").level == POSSIBLE
    assert detect("everyone would be better off without me").level == POSSIBLE
    assert detect(LEXICON_MISSES[0]) is None
    # Unsure is not sure: just above the line, the lexicon's clear finding stands.
    monkeypatch.setattr(
        classifier, "score_many", lambda cleans: [("self_harm", crisis_net.DISAGREE_BELOW)] * len(cleans)
    )
    assert detect("i want to kill myself").level == CLEAR


def test_the_classifier_can_raise_a_possible_to_clear_but_not_lower_it(monkeypatch):
    monkeypatch.setattr(classifier, "score_many", lambda cleans: [("suicidal_plans", 0.99)] * len(cleans))
    found = detect("everyone would be better off without me")
    assert (found.level, found.net) == (CLEAR, "classifier")


def test_the_two_thresholds_apply(monkeypatch):
    def scoring(p):
        monkeypatch.setattr(classifier, "score_many", lambda cleans: [("suicidal_plans", p)] * len(cleans))

    scoring(classifier.CLEAR_THRESHOLD)
    assert detect("anything at all") == crisis_net.Assessment(CLEAR, "classifier", "suicidal")
    scoring(classifier.CLEAR_THRESHOLD - 0.01)
    assert detect("anything at all").level == POSSIBLE
    scoring(classifier.POSSIBLE_THRESHOLD)
    assert detect("anything at all").level == POSSIBLE
    scoring(classifier.POSSIBLE_THRESHOLD - 0.01)
    assert detect("anything at all") is None


def test_the_past_softens_the_classifier_too(monkeypatch):
    monkeypatch.setattr(classifier, "score_many", lambda cleans: [("self_harm", 0.99)] * len(cleans))
    assert detect("my friend took an overdose last year").level == POSSIBLE
    assert detect("i took an overdose").level == CLEAR


_TRAIN_AND_SCORE = """
import json, sys
from bot.crisis import classifier
from bot.crisis.text import normalise
probe = json.loads(sys.argv[1])
model = classifier.model()
print(json.dumps({"p": [float(x) for x in model.score(probe)], "kinds": model.kinds(probe)}))
"""


def test_training_is_deterministic_across_processes():
    # Two processes, each training from nothing (hash seeds differ): the same model.
    probe = json.dumps([normalise(t) for t in LEXICON_MISSES + ORDINARY])
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _TRAIN_AND_SCORE, probe], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(2)
    ]
    assert runs[0]["kinds"] == runs[1]["kinds"]
    assert np.allclose(runs[0]["p"], runs[1]["p"], atol=1e-6)


def test_every_kind_of_crisis_has_enough_varied_examples():
    raw = yaml.safe_load(classifier.TRAINING.read_text(encoding="utf-8"))
    assert set(raw["crisis"]) >= {
        "suicidal_thoughts",
        "suicidal_plans",
        "self_harm",
        "harm_to_others",
        "abuse_or_unsafe_at_home",
        "disordered_eating_risk",
        "medical_emergency",
        "intoxication_risk",
        "overdose",
        "psychosis",
    }
    assert all(len(set(messages)) >= 60 for messages in raw["crisis"].values())
    assert sum(len(set(messages)) for messages in raw["ordinary"].values()) >= 2000


def test_every_category_it_answers_is_one_the_clinic_reviews():
    raw = yaml.safe_load(lexicon.LEXICON.read_text(encoding="utf-8"))
    kinds = set(classifier.model().kind.classes_)
    assert {crisis_net._LEXICON_CATEGORY.get(kind, kind) for kind in kinds} <= set(raw["patterns"])


def _fails(*args, **kwargs):
    raise RuntimeError("i want to kill myself")  # as if an error quoted a message


@pytest.mark.usefixtures("fresh_classifier")
def test_a_classifier_that_cannot_train_leaves_the_lexicon_alone_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(classifier, "fit", _fails)
    with caplog.at_level(logging.ERROR, logger="bot.crisis"):
        assert detect("i want to kill myself").level == CLEAR
        for text in LEXICON_MISSES:
            assert detect(text) is None
    records = [r for r in caplog.records if r.name == "bot.crisis"]
    assert len(records) == 1
    assert "RuntimeError" in records[0].getMessage()
    # No message text in the log, not even one that an exception quoted.
    assert "kill" not in caplog.text and "stepdad" not in caplog.text


@pytest.fixture
def no_encoder(monkeypatch, tmp_path):
    """As if the sentence encoder's package were not installed, and nothing cached."""
    classifier.sentence_encoder.encoder.cache_clear()
    monkeypatch.setattr(classifier.sentence_encoder, "_PACKAGE", "not_installed_here")
    monkeypatch.setattr(classifier, "CACHE", tmp_path)
    yield
    classifier.sentence_encoder.encoder.cache_clear()


@pytest.mark.usefixtures("fresh_classifier", "no_encoder")
def test_without_the_sentence_encoder_the_lexicon_carries_on(caplog):
    with caplog.at_level(logging.ERROR, logger="bot.crisis"):
        assert detect(LEXICON_MISSES[0]) is None
        assert detect("took 40 paracetamol an hour ago").level == CLEAR
    assert [r.name for r in caplog.records] == ["bot.crisis"]


def test_the_thresholds_are_what_cross_validation_picks():
    # Edit the training data and this fails until the cross-validation is re-run
    # (`python -m bot.crisis.classifier`) and the thresholds updated.
    result = classifier.cross_validate()
    assert result["clear_threshold"] == pytest.approx(classifier.CLEAR_THRESHOLD, abs=0.005)
    assert result["possible_threshold"] == pytest.approx(classifier.POSSIBLE_THRESHOLD, abs=0.005)
