"""The project's intent classifier (rasa_project/components/weighted_intent_classifier.py),
in Rasa's own environment: its weighting is scikit-learn's sublinear tf-idf, it reads only
the featurizers named in its config, and what it learned survives being saved and loaded.

A weighting silently wrong would only lower the NLU's figures, which `make nlu-report`
enforces just at a floor; these checks say which part is wrong. Run by `make
rasa-components` with Rasa's interpreter and the standard library's unittest (the
application's pytest never collects this folder: tests/conftest.py leaves it out).
"""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
from components.weighted_intent_classifier import (
    WEIGHTS_FILE,
    WeightedLogisticRegression,
    rarity,
    weighted,
)
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import TfidfTransformer

RNG = np.random.default_rng(7)
# Each intent's sparse pieces (as word counts) and its place in the dense "meaning".
INTENTS = {"report_done": (0, 1), "report_not_done": (2, 3), "barrier_time": (4, 5)}
WORDS = 6


def _counts(rows: int, columns: int) -> csr_matrix:
    dense = RNG.integers(0, 4, size=(rows, columns)) * (RNG.random((rows, columns)) < 0.4)
    return csr_matrix(dense.astype(np.float64))


def _message(intent: str) -> Message:
    words = np.zeros((1, WORDS))
    meaning = RNG.normal(0, 0.1, size=(1, 3))
    first, second = INTENTS[intent]
    words[0, first] = 1 + RNG.integers(0, 3)
    words[0, second] = RNG.integers(0, 2)
    meaning[0, list(INTENTS).index(intent)] += 1.0
    message = Message(data={TEXT: "pseudo text", INTENT: intent})
    message.add_features(Features(csr_matrix(words), FEATURE_TYPE_SENTENCE, TEXT, "words"))
    message.add_features(Features(meaning, FEATURE_TYPE_SENTENCE, TEXT, "meaning"))
    # Read by no one here: a classifier that took it would have 50 more columns.
    shapes = csr_matrix(RNG.integers(0, 2, size=(1, 50)).astype(np.float64))
    message.add_features(Features(shapes, FEATURE_TYPE_SENTENCE, TEXT, "word_shapes"))
    return message


def _training_data() -> TrainingData:
    return TrainingData([_message(intent) for intent in INTENTS for _ in range(12)])


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def _config(**extra) -> dict:
    return {**WeightedLogisticRegression.get_default_config(), "featurizers": ["words", "meaning"], **extra}


class Weighting(unittest.TestCase):
    def test_it_is_scikit_learns_sublinear_tf_idf_with_l2_rows(self):
        counts = _counts(40, 25)
        reference = TfidfTransformer(sublinear_tf=True, smooth_idf=True, norm="l2").fit(counts)
        idf = rarity(counts)
        np.testing.assert_allclose(idf, reference.idf_)
        np.testing.assert_allclose(weighted(counts, idf).toarray(), reference.transform(counts).toarray())

    def test_a_stored_zero_counts_as_no_occurrence(self):
        counts = csr_matrix((np.array([2.0, 0.0, 1.0]), np.array([0, 1, 2]), np.array([0, 3])), shape=(1, 3))
        self.assertEqual(counts.nnz, 3)  # the zero is stored
        idf = np.ones(3)
        row = weighted(counts, idf).toarray()[0]
        self.assertEqual(row[1], 0.0)
        expected = np.array([1 + np.log(2), 0.0, 1.0])
        np.testing.assert_allclose(row, expected / np.linalg.norm(expected))
        frequency_of_stored_zero = rarity(counts)[1]
        self.assertAlmostEqual(frequency_of_stored_zero, np.log(2 / 1) + 1)  # seen in no document

    def test_the_commonest_piece_weighs_least(self):
        counts = csr_matrix(np.array([[1, 1], [1, 0], [1, 0], [1, 0]], dtype=np.float64))
        self.assertLess(rarity(counts)[0], rarity(counts)[1])


class Classifier(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.storage = LocalModelStorage(Path(self._tmp.name))
        self.resource = Resource("weighted_intent_classifier")

    def tearDown(self):
        self._tmp.cleanup()

    def _trained(self, **config) -> WeightedLogisticRegression:
        component = WeightedLogisticRegression.create(
            _config(**config), self.storage, self.resource, _context()
        )
        component.train(_training_data())
        return component

    def test_it_reads_only_the_featurizers_named_and_weighs_the_words(self):
        component = self._trained()
        messages = [_message("report_done")]
        features = component._create_X(messages)
        self.assertEqual(features.shape, (1, WORDS + 3))  # words and meaning: no word shapes
        words = features[:, :WORDS].toarray()[0]
        self.assertAlmostEqual(float(np.linalg.norm(words)), 1.0)
        self.assertEqual(component.idf.shape, (WORDS,))

    def test_it_learns_the_intents(self):
        component = self._trained()
        unseen = [_message(intent) for intent in INTENTS for _ in range(5)]
        component.process(unseen)
        found = [m.get(INTENT)["name"] for m in unseen]
        self.assertEqual(found, [intent for intent in INTENTS for _ in range(5)])

    def test_c_from_the_config_reaches_the_classifier(self):
        self.assertEqual(self._trained(C=30).clf.get_params()["C"], 30.0)

    def test_what_it_learned_survives_saving_and_loading(self):
        component = self._trained(C=30)
        component.persist()
        with self.storage.read_from(self.resource) as directory:
            self.assertTrue((directory / WEIGHTS_FILE).exists())
        loaded = WeightedLogisticRegression.load(_config(C=30), self.storage, self.resource, _context())
        np.testing.assert_array_equal(loaded.idf, component.idf)
        before = [_message(intent) for intent in INTENTS for _ in range(3)]
        after = [Message(data={TEXT: m.get(TEXT)}, features=list(m.features)) for m in before]
        component.process(before)
        loaded.process(after)
        for old, new in zip(before, after, strict=True):
            self.assertEqual(old.get(INTENT)["name"], new.get(INTENT)["name"])
            self.assertAlmostEqual(old.get(INTENT)["confidence"], new.get(INTENT)["confidence"])

    def test_untrained_it_refuses_rather_than_classifying_unweighted(self):
        component = WeightedLogisticRegression.create(_config(), self.storage, self.resource, _context())
        with self.assertRaises(ValueError):
            component._create_X([_message("report_done")])


if __name__ == "__main__":
    unittest.main()
