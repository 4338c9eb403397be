"""The learned crisis net, for the phrasings no lexicon pattern was written for.

Two readings of each message, averaged:

- what is said: TF-IDF over word 1-2-grams and character 2-5-grams inside words
  (typos, slang, "suicidel", "kms"), into a logistic regression;
- what is meant: the message's sentence embedding (bot/crisis/encoder.py, a
  pretrained encoder installed from the package index), into a support vector
  machine with an RBF kernel (probabilities by Platt scaling). It hears "i want
  to put it all down for good" as near "i want to end my life" although they
  share no word. Tried: a logistic regression and a small MLP on the same
  embeddings; in cross-validation at the same false-alarm budget the SVM
  catches 81% of crisis messages to their 70% and 71%.

A long message is also read sentence by sentence (bot/crisis/text.py), and its
highest score counts, so one line buried in a homework update is not averaged
away. A third regression, on the crisis examples only, names the kind of risk.

Two thresholds turn the probability into the product's answers: at or above
CLEAR_THRESHOLD the full crisis response, at or above POSSIBLE_THRESHOLD the one
kind question. Both are chosen by cross-validation on the training data
(`python -m bot.crisis.classifier`) so that, in every kind of ordinary example
the lexicon lets through (idioms, the past, everyday homework talk...), the
classifier adds at most CLEAR_BUDGET full responses and POSSIBLE_BUDGET
questions. The question's budget is the larger: a question costs a moment, a
missed disclosure can cost a life.

It learns from data/safety/crisis_training.yml alone, deterministically: the
same data gives the same model on every machine. The embeddings of the training
messages take about half a minute on two cores, so they are cached on disk by
the hash of what went into them (BRIDGEWORK_CACHE, default ~/.cache/bridgework);
the regressions train in two or three seconds. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from bot.crisis import encoder as sentence_encoder
from bot.crisis.encoder import Floats
from bot.crisis.text import normalise, parts

TRAINING = Path(__file__).resolve().parents[2] / "data" / "safety" / "crisis_training.yml"
CACHE = Path(os.environ.get("BRIDGEWORK_CACHE", Path.home() / ".cache" / "bridgework")) / "crisis"
ORDINARY = "ordinary"
# Chosen by `python -m bot.crisis.classifier` (5-fold cross-validation); a test keeps them honest.
CLEAR_THRESHOLD = 0.926
POSSIBLE_THRESHOLD = 0.589
CLEAR_BUDGET = 0.005
POSSIBLE_BUDGET = 0.06
FOLDS = 5
# Single-letter words count too ("i", "u"): "i" is who is at risk.
_WORDS = r"(?u)\b\w+\b"
# Inverse regularisation; cross-validation finds 3 to 30 alike for words, 4 to 8 for meaning.
C_WORDS = 10.0
C_MEANING = 4.0


def training_examples() -> tuple[list[str], list[str]]:
    """(texts, labels), normalised the way the nets read a message: a crisis message's
    label is its kind of risk, an ordinary one's is ORDINARY."""
    texts, labels, _ = _training_examples()
    return texts, labels


def _training_examples() -> tuple[list[str], list[str], list[str]]:
    """(texts, labels, categories as the file groups them)."""
    # libyaml's loader where PyYAML has it: ten times faster on this file.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(TRAINING.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    texts: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    for category, messages in raw["crisis"].items():
        texts += [normalise(m) for m in messages]
        labels += [category] * len(messages)
        groups += [category] * len(messages)
    for category, messages in raw["ordinary"].items():
        texts += [normalise(m) for m in messages]
        labels += [ORDINARY] * len(messages)
        groups += [category] * len(messages)
    return texts, labels, groups


def embed(texts: list[str]) -> Floats:
    return sentence_encoder.encoder().encode(texts)


def training_embeddings(texts: list[str]) -> Floats:
    """The training messages' embeddings, from the disk cache when it has them."""
    digest = hashlib.sha256(sentence_encoder.fingerprint().encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    path = CACHE / f"embeddings-{digest.hexdigest()[:20]}.npy"
    if path.exists():
        cached: Floats = np.load(path)
        if cached.shape[0] == len(texts):
            return cached
    vectors = embed(texts)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(partial, vectors)
        partial.replace(path)  # atomic: another process never reads half a file
    except OSError:
        pass  # a read-only disk costs the half minute again next start, nothing more
    return vectors


def _vectorisers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return (
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=_WORDS),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
    )


@dataclass(frozen=True)
class Model:
    words: Any
    chars: Any
    said: Any  # crisis or not, from the words
    meant: Any  # crisis or not, from the embedding (an RBF support vector machine)
    kind: Any  # which kind of crisis, from the words; trained on crisis examples only

    def _said(self, texts: list[str]) -> Any:
        from scipy.sparse import hstack

        # Stacked by hand: sklearn's FeatureUnion costs a millisecond a message more.
        return hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()

    def probabilities(self, texts: list[str], vectors: Floats | None = None) -> npt.NDArray[np.float64]:
        """The probability that each text is a crisis message, read whole only."""
        if vectors is None:
            vectors = embed(texts)
        both: npt.NDArray[np.float64] = (
            self.said.predict_proba(self._said(texts))[:, 1] + self.meant.predict_proba(vectors)[:, 1]
        ) / 2
        return both

    def score(self, texts: list[str], vectors: Floats | None = None) -> npt.NDArray[np.float64]:
        """Each text's probability, read whole and sentence by sentence (the highest counts)."""
        best = self.probabilities(texts, vectors)
        pieces = [(i, piece) for i, text in enumerate(texts) for piece in parts(text)]
        if pieces:
            for (i, _), p in zip(pieces, self.probabilities([piece for _, piece in pieces]), strict=True):
                best[i] = max(best[i], p)
        return best

    def kinds(self, texts: list[str]) -> list[str]:
        return [str(k) for k in self.kind.predict(self._said(texts))]


def fit(texts: list[str], labels: list[str], vectors: Floats) -> Model:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    words, chars = (vectoriser.fit(texts) for vectoriser in _vectorisers())
    from scipy.sparse import hstack

    x = hstack([words.transform(texts), chars.transform(texts)]).tocsr()
    is_crisis = np.array([label != ORDINARY for label in labels])
    rows = np.flatnonzero(is_crisis)
    return Model(
        words=words,
        chars=chars,
        # liblinear: six times faster than lbfgs here; random_state only fixes its shuffling.
        said=LogisticRegression(C=C_WORDS, solver="liblinear", random_state=0).fit(x, is_crisis),
        # random_state fixes the folds of its Platt scaling: the same probabilities everywhere.
        meant=SVC(C=C_MEANING, kernel="rbf", probability=True, random_state=0).fit(vectors, is_crisis),
        # newton-cg: lbfgs takes ten times longer on this many-way problem, for the same answer.
        kind=LogisticRegression(C=C_WORDS, solver="newton-cg", max_iter=1000).fit(
            x[rows], [labels[i] for i in rows]
        ),
    )


@lru_cache(maxsize=1)
def model() -> Model:
    texts, labels = training_examples()
    return fit(texts, labels, training_embeddings(texts))


def score_clean(clean: str) -> tuple[str, float]:
    """(most likely kind of crisis, probability that it is one at all) for normalised text."""
    return score_many([clean])[0]


def score_many(cleans: list[str]) -> list[tuple[str, float]]:
    """score_clean for several normalised texts, in one batch."""
    trained = model()
    return list(zip(trained.kinds(cleans), (float(p) for p in trained.score(cleans)), strict=True))


def cross_validate(folds: int = FOLDS) -> dict[str, Any]:
    """Out-of-fold figures on the training data, and the thresholds they support.

    What counts is what the classifier adds to the lexicon: crisis messages the
    lexicon misses that it catches ("gain"), and ordinary messages the lexicon
    lets through that it flags. A budget holds in every kind of ordinary message
    on its own (idioms, the past, everyday talk...), so that adding easy examples
    of one kind cannot buy false alarms on a hard one.
    """
    from sklearn.model_selection import StratifiedKFold

    from bot.crisis import lexicon

    texts, labels, groups = _training_examples()
    vectors = training_embeddings(texts)
    is_crisis = np.array([label != ORDINARY for label in labels])
    by_lexicon = np.array([lexicon.scan(text) is not None for text in texts])
    probability = np.zeros(len(texts))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    read = [lexicon.without_excused(text) for text in texts]
    for train, test in splitter.split(texts, labels):
        trained = fit([texts[i] for i in train], [labels[i] for i in train], vectors[train])
        # Read as the net reads them: less what the lexicon excused, whole and by sentence.
        unchanged = [i for i in test if read[i] == texts[i]]
        changed = [i for i in test if read[i] != texts[i]]
        if unchanged:
            probability[unchanged] = trained.score([texts[i] for i in unchanged], vectors[unchanged])
        if changed:
            probability[changed] = trained.score([read[i] for i in changed])
    missed = is_crisis & ~by_lexicon
    let_through = ~is_crisis & ~by_lexicon
    ordinary = int((~is_crisis).sum())

    def threshold(budget: float) -> float:
        highest = 0.0
        for group in sorted(set(np.array(groups)[~is_crisis])):
            members = ~is_crisis & (np.array(groups) == group)
            flagged = np.sort(probability[members & let_through])
            allowed = int(budget * members.sum())
            if len(flagged) > allowed:
                highest = max(highest, float(flagged[-(allowed + 1)]))
        return highest + 1e-3

    def row(t: float) -> dict[str, float]:
        return {
            "threshold": round(t, 3),
            "classifier_recall": round(float(np.mean(probability[is_crisis] >= t)), 4),
            "gain_on_lexicon_misses": round(float(np.mean(probability[missed] >= t)), 4),
            "added_to_ordinary": round(float(np.sum(probability[let_through] >= t) / ordinary), 4),
        }

    clear, possible = threshold(CLEAR_BUDGET), threshold(POSSIBLE_BUDGET)
    return {
        "lexicon_recall": round(float(by_lexicon[is_crisis].mean()), 4),
        "lexicon_on_ordinary": round(float(by_lexicon[~is_crisis].mean()), 4),
        "clear_threshold": round(clear, 3),
        "possible_threshold": round(possible, 3),
        "table": [row(t) for t in (0.5, 0.6, 0.7, 0.8, 0.9, possible, clear)],
    }


def main() -> int:
    result = cross_validate()
    print(
        f"lexicon on the training data: recall {result['lexicon_recall']:.1%}, "
        f"ordinary flagged {result['lexicon_on_ordinary']:.1%}"
    )
    for r in result["table"]:
        print(
            f"threshold {r['threshold']:.3f}: classifier recall {r['classifier_recall']:.1%}, "
            f"catches {r['gain_on_lexicon_misses']:.1%} of the lexicon's misses, "
            f"adds {r['added_to_ordinary']:.1%} of ordinary messages"
        )
    print(
        f"cross-validated thresholds: clear {result['clear_threshold']} (module {CLEAR_THRESHOLD}), "
        f"possible {result['possible_threshold']} (module {POSSIBLE_THRESHOLD})"
    )
    return 0


if __name__ == "__main__":
    if "--prepare" in sys.argv:
        # Build and cache the training embeddings now (images, CI), not at the first message.
        model()
        sys.exit(0)
    sys.exit(main())
