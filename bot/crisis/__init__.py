"""The crisis net: does a message signal a risk to someone's life or safety?

One entry point, `detect(text)`, with three answers, as a clinician would triage:

- clear risk (`Assessment.level == "clear"`): the crisis response at once;
- possible risk (`"possible"`): indirect, passive or ambiguous words, or a net
  that is unsure: one short, direct question, with the crisis numbers a tap away;
- no risk (`None`).

Two nets answer, each on its own terms:

1. the lexicon (bot/crisis/lexicon.py, data/safety/crisis_lexicon.yml): patterns
   a clinic can read, with idioms and negations excused and the past, someone
   else or a rejected intrusive thought softening clear to possible (never to
   nothing);
2. a learned classifier (bot/crisis/classifier.py) for the phrasings no pattern
   was written for; it can raise a level, never lower the lexicon's, and a
   message that the lexicon softens is softened for it too.

The higher answer wins, but for one case: when the lexicon is sure and the
classifier all but rules the message out, the nets are unsure, and it gets the
question. If the classifier cannot load, the lexicon carries on alone (logged
once). The NLU's `crisis` intent is a third net, in Rasa: alone,
it only ever leads to the question.

Err towards safety: a question costs a moment; a miss can cost a life.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.crisis import lexicon
from bot.crisis.lexicon import CLEAR, POSSIBLE
from bot.crisis.text import normalise

log = logging.getLogger(__name__)

__all__ = [
    "CLEAR",
    "POSSIBLE",
    "Assessment",
    "detect",
    "detect_classifier",
    "detect_classifier_many",
    "detect_lexicon",
    "detect_many",
    "normalise",
]


@dataclass(frozen=True)
class Assessment:
    level: str  # CLEAR or POSSIBLE
    net: str  # which net raised it: "lexicon" or "classifier" (recorded, never the words)
    category: str  # the kind of risk, in the lexicon's words


# The classifier learned finer kinds than the clinic reviews; its answers are given
# in the lexicon's words.
_LEXICON_CATEGORY = {
    "suicidal_thoughts": "suicidal",
    "suicidal_plans": "suicidal",
    "abuse_or_unsafe_at_home": "unsafe_at_home",
    "disordered_eating_risk": "eating_risk",
    "overdose": "medical_emergency",
}
_classifier_broken = False
# Below this, the learned net all but rules a message out: a clear finding of the lexicon's
# then gets the question instead of the full response (on the sets the nets were built
# with, 1 in 200 of the lexicon's clear crisis messages, and a quarter of its clear
# false alarms).
DISAGREE_BELOW = 0.2


def detect_lexicon(text: str) -> Assessment | None:
    found = lexicon.scan(text)
    return None if found is None else Assessment(found.level, "lexicon", found.category)


def detect_classifier(text: str) -> Assessment | None:
    """The learned net alone; None if it sees no risk, or is unavailable (then logged once)."""
    return _classify([text])[0][0]


def detect_classifier_many(texts: list[str]) -> list[Assessment | None]:
    """`detect_classifier` for several messages, read in one batch."""
    return [found for found, _ in _classify(texts)]


def _classify(texts: list[str]) -> list[tuple[Assessment | None, float | None]]:
    """The learned net on several messages at once (one batch through the encoder):
    its answer and its probability for each (None when it is unavailable)."""
    global _classifier_broken
    if _classifier_broken or not texts:
        return [(None, None)] * len(texts)
    try:
        from bot.crisis import classifier

        clean = [normalise(text) for text in texts]
        scored = classifier.score_many([lexicon.without_excused(c) for c in clean])
    except Exception as error:  # whatever breaks it, crisis answers must go on
        # Only the kind of error: an exception's message could quote the patient.
        _classifier_broken = True
        log.error("crisis classifier unavailable (%s); the lexicon carries on alone", type(error).__name__)
        return [(None, None)] * len(texts)
    found: list[tuple[Assessment | None, float | None]] = []
    for text, (kind, probability) in zip(clean, scored, strict=True):
        if probability >= classifier.CLEAR_THRESHOLD and not lexicon.is_softened(text):
            level: str | None = CLEAR
        elif probability >= classifier.POSSIBLE_THRESHOLD:
            level = POSSIBLE
        else:
            level = None
        category = _LEXICON_CATEGORY.get(kind, kind)
        found.append((None if level is None else Assessment(level, "classifier", category), probability))
    return found


def detect(text: str) -> Assessment | None:
    return detect_many([text])[0]


def detect_many(texts: list[str]) -> list[Assessment | None]:
    """`detect` for several messages, the learned net reading them in one batch."""
    found: list[Assessment | None] = [detect_lexicon(text) for text in texts]
    for i, (by_classifier, probability) in enumerate(_classify(texts)):
        by_lexicon = found[i]
        if by_lexicon is None:
            found[i] = by_classifier
        elif by_lexicon.level == CLEAR:
            # The nets unsure: the lexicon sure and the learned net all but sure it is not.
            # Asked, then, rather than answered in full; never silenced.
            if probability is not None and probability < DISAGREE_BELOW:
                found[i] = Assessment(POSSIBLE, "lexicon", by_lexicon.category)
        elif by_classifier is not None and by_classifier.level == CLEAR:
            found[i] = by_classifier
    return found


def warm_up() -> None:
    """Compile the lexicon and train the classifier now, not on a patient's first message."""
    detect("ready")


# Compiled at import: a lexicon that doesn't compile stops the bot starting
# instead of failing on a patient's message.
lexicon.compiled()
