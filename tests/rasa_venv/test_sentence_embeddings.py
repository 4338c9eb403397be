"""The sentence-embedding featurizer (rasa_project/components/sentence_embeddings.py), in
Rasa's environment: each worded message gets one unit-length sentence vector under the
featurizer's alias, a pressed button's intent-only message gets none, and messages that
mean the same land nearer each other than ones that don't."""

from __future__ import annotations

import unittest

import numpy as np
from components.sentence_embeddings import SentenceEmbeddings
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


def _featurizer(**config) -> SentenceEmbeddings:
    full = {**SentenceEmbeddings.get_default_config(), FEATURIZER_CLASS_ALIAS: "meaning", **config}
    return SentenceEmbeddings.create(full, None, None, ExecutionContext(GraphSchema({}), "test", "meaning"))


def _vector(message: Message, alias: str = "meaning") -> np.ndarray:
    sequence, sentence = message.get_dense_features(TEXT, [alias])
    assert sequence is None  # sentence level only: the tokens keep the count vectors
    return sentence.features[0]


class SentenceEmbeddingsTest(unittest.TestCase):
    def test_a_worded_message_gets_one_unit_length_vector_under_the_alias(self):
        message = Message(data={TEXT: "i ran out of time this week"})
        _featurizer().process([message])
        vector = _vector(message)
        self.assertEqual(vector.shape, (384,))
        self.assertAlmostEqual(float(np.linalg.norm(vector)), 1.0, places=5)
        self.assertEqual(message.get_dense_features(TEXT, ["words"]), (None, None))

    def test_scale_weighs_the_vector(self):
        plain, scaled = Message(data={TEXT: "too busy"}), Message(data={TEXT: "too busy"})
        _featurizer().process([plain])
        _featurizer(scale=2.0).process([scaled])
        np.testing.assert_allclose(_vector(scaled), 2.0 * _vector(plain), rtol=1e-6)

    def test_a_pressed_button_has_no_words_to_embed(self):
        pressed = Message(data={INTENT: {"name": "expect"}})
        blank = Message(data={TEXT: "   "})
        _featurizer().process([pressed, blank])
        self.assertEqual(pressed.features, [])
        self.assertEqual(blank.features, [])

    def test_training_examples_are_embedded_too(self):
        data = TrainingData([Message(data={TEXT: text, INTENT: "x"}) for text in ("a walk", "no time")])
        _featurizer().process_training_data(data)
        self.assertTrue(all(len(m.features) == 1 for m in data.training_examples))

    def test_the_same_meaning_in_other_words_lands_nearer(self):
        texts = [
            "i completely forgot about it",
            "it went clean out of my head",
            "i could not find anywhere private to do it",
        ]
        messages = [Message(data={TEXT: text}) for text in texts]
        _featurizer().process(messages)
        forgot, slipped, privacy = (_vector(m) for m in messages)
        self.assertGreater(float(forgot @ slipped), float(forgot @ privacy))


if __name__ == "__main__":
    unittest.main()
