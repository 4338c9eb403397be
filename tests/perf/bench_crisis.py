"""Crisis nets benchmark: what each net, and the whole stack, does with each message.

Every message of each set is given one of three answers, as the running product
would give it: the full crisis response ("clear"), the one kind question
("possible"), or nothing. For each set, per category, and for each net:

- recall: crisis messages that got the crisis response or the question;
- full crisis responses to ordinary messages;
- questions to ordinary messages.

The nets: the lexicon, the learned classifier, the NLU's `crisis` intent (from
predictions made by tests/perf/nlu_predict.py with the trained Rasa model), and
the combination the product runs: the bot's crisis net first; when it finds
nothing, the NLU, whose crisis intent alone only ever leads to the question, and
not even that when the lexicon read the same risk words as negated, figurative
or a topic (actions/safety.py).

The sets (tests/perf/data/):

- `crisis_benchmark.yml`: the development set; the lexicon was tuned on it.
  A crisis message in it that the combination misses fails the run.
- `crisis_holdout.yml`, `crisis_holdout2.yml`: written apart from the nets,
  used in earlier rounds; their figures are no longer fully blind.
- `crisis_fresh_before.yml`, `crisis_fresh_after.yml`: each written by someone
  who had seen nothing of the project, neither lexicon nor training data, and
  run once each. Nobody working on the nets reads them line by line.

Only the development set's misses and false alarms are printed; the others'
are in tests/perf/results/crisis_benchmark.json.

    .venv/bin/python -m tests.perf.bench_crisis [NLU_PREDICTIONS.json]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from bot import crisis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATA = HERE / "data"
SETS = {
    "benchmark": DATA / "crisis_benchmark.yml",
    "holdout": DATA / "crisis_holdout.yml",
    "holdout2": DATA / "crisis_holdout2.yml",
    "fresh_before": DATA / "crisis_fresh_before.yml",
    "fresh_after": DATA / "crisis_fresh_after.yml",
}
SHOWN = {"benchmark"}  # sets whose individual misses and false alarms are printed
RESULTS = HERE / "results" / "crisis_benchmark.json"
# The targets, on the fresh sets.
RECALL_TARGET = 0.97
FULL_ON_ORDINARY_TARGET = 0.02
QUESTIONS_ON_ORDINARY_TARGET = 0.05

Level = str | None  # "clear", "possible" or None
# A net reads a batch of messages (the learned net encodes a batch at once) and gives each its level.
Net = Callable[[list[str]], list[Level]]


def _level(assessment) -> Level:
    return None if assessment is None else assessment.level


def nets(nlu: dict[str, str] | None) -> dict[str, Net]:
    """Each net as a function of the messages; the NLU's only if its predictions are at hand."""

    def by_nlu(texts: list[str]) -> list[Level]:
        assert nlu is not None
        return ["possible" if nlu.get(text) == "crisis" else None for text in texts]

    def combination(texts: list[str]) -> list[Level]:
        found = [_level(a) for a in crisis.detect_many(texts)]
        if nlu is None:
            return found
        heard = by_nlu(texts)
        return [
            level if level is not None or crisis.lexicon.excused(text) else by_the_nlu
            for text, level, by_the_nlu in zip(texts, found, heard, strict=True)
        ]

    found: dict[str, Net] = {
        "lexicon": lambda texts: [_level(crisis.detect_lexicon(t)) for t in texts],
        "classifier": lambda texts: [_level(a) for a in crisis.detect_classifier_many(texts)],
    }
    if nlu is not None:
        found["nlu"] = by_nlu
    found["combination"] = combination
    return found


def run(raw: dict, net: Net) -> dict:
    report: dict = {
        "crisis": {},
        "ordinary": {},
        "missed": [],
        "full_on_ordinary": [],
        "questions_on_ordinary": [],
    }
    started = time.perf_counter()
    for category, messages in raw["crisis"].items():
        levels = net(messages)
        report["crisis"][category] = {
            "messages": len(messages),
            "clear": levels.count("clear"),
            "question": levels.count("possible"),
            "caught": len(messages) - levels.count(None),
        }
        report["missed"] += [
            {"category": category, "text": m} for m, lv in zip(messages, levels, strict=True) if lv is None
        ]
    for category, messages in raw["ordinary"].items():
        levels = net(messages)
        report["ordinary"][category] = {
            "messages": len(messages),
            "full": levels.count("clear"),
            "question": levels.count("possible"),
        }
        for m, lv in zip(messages, levels, strict=True):
            if lv is not None:
                key = "full_on_ordinary" if lv == "clear" else "questions_on_ordinary"
                report[key].append({"category": category, "text": m})
    seconds = time.perf_counter() - started
    crisis = sum(c["messages"] for c in report["crisis"].values())
    ordinary = sum(c["messages"] for c in report["ordinary"].values())
    caught = crisis - len(report["missed"])
    report["summary"] = {
        "crisis_messages": crisis,
        "caught": caught,
        "caught_with_full_response": sum(c["clear"] for c in report["crisis"].values()),
        "recall": round(caught / crisis, 4) if crisis else None,
        "ordinary_messages": ordinary,
        "full_on_ordinary": len(report["full_on_ordinary"]),
        "full_on_ordinary_rate": round(len(report["full_on_ordinary"]) / ordinary, 4) if ordinary else None,
        "questions_on_ordinary": len(report["questions_on_ordinary"]),
        "questions_on_ordinary_rate": (
            round(len(report["questions_on_ordinary"]) / ordinary, 4) if ordinary else None
        ),
        "ms_per_message": round(1000 * seconds / max(1, crisis + ordinary), 3),
    }
    return report


def _print(name: str, path: Path, results: dict[str, dict]) -> None:
    names = list(results)
    print(f"crisis nets, {name} set ({path.name})")
    print(f"  {'':8} {'category':34}" + "".join(f"{n:>16}" for n in names))
    first = results[names[0]]
    for category, c in first["crisis"].items():
        cells = [f"{results[n]['crisis'][category]['caught']}/{c['messages']}" for n in names]
        print(f"  {'crisis':8} {category:34}" + "".join(f"{cell:>16}" for cell in cells))
    for category, c in first["ordinary"].items():
        cells = []
        for n in names:
            o = results[n]["ordinary"][category]
            cells.append(f"{o['full']}+{o['question']}q/{c['messages']}")
        print(f"  {'ordinary':8} {category:34}" + "".join(f"{cell:>16}" for cell in cells))
    for n, report in results.items():
        s = report["summary"]
        print(
            f"  {n:12} recall {s['caught']}/{s['crisis_messages']} ({s['recall']:.1%}; "
            f"{s['caught_with_full_response']} with the full response); "
            f"full responses to ordinary {s['full_on_ordinary']}/{s['ordinary_messages']} "
            f"({s['full_on_ordinary_rate']:.1%}); questions to ordinary "
            f"{s['questions_on_ordinary']}/{s['ordinary_messages']} ({s['questions_on_ordinary_rate']:.1%})"
        )
    if name in SHOWN:
        combined = results["combination"]
        for miss in combined["missed"]:
            print(f"  MISSED [{miss['category']}] {miss['text']}")
        for alarm in combined["full_on_ordinary"]:
            print(f"  full response to ordinary [{alarm['category']}] {alarm['text']}")
        for alarm in combined["questions_on_ordinary"]:
            print(f"  question to ordinary [{alarm['category']}] {alarm['text']}")


def load_nlu(path: Path | None) -> dict[str, str] | None:
    """text -> the NLU's predicted intent, over every set nlu_predict.py was given."""
    if path is None or not path.exists():
        return None
    predicted: dict[str, str] = {}
    for predictions in json.loads(path.read_text(encoding="utf-8")).values():
        for row in predictions["predictions"]:
            predicted[row["text"]] = row["predicted"]
    return predicted


def main(argv: list[str]) -> int:
    nlu = load_nlu(Path(argv[0]) if argv else None)
    # Trained before the clock starts, so that ms a message is the steady cost.
    started = time.perf_counter()
    crisis.warm_up()
    training_seconds = round(time.perf_counter() - started, 2)
    results: dict = {
        "classifier_training_seconds": training_seconds,
        "targets": {
            "recall": RECALL_TARGET,
            "full_on_ordinary": FULL_ON_ORDINARY_TARGET,
            "questions_on_ordinary": QUESTIONS_ON_ORDINARY_TARGET,
        },
    }
    print(f"classifier trained in {training_seconds} s; NLU predictions: {'yes' if nlu else 'none given'}")
    print(
        f"targets on the fresh sets: recall >= {RECALL_TARGET:.0%}, full responses to ordinary <= "
        f"{FULL_ON_ORDINARY_TARGET:.0%}, questions to ordinary <= {QUESTIONS_ON_ORDINARY_TARGET:.0%}"
    )
    all_nets = nets(nlu)
    for name, path in SETS.items():
        if not path.exists():
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if nlu is not None:
            missing = [m for items in (*raw["crisis"].values(), *raw["ordinary"].values()) for m in items]
            if any(m not in nlu for m in missing):
                print(f"  ({name}: no NLU predictions for some messages; run `make crisis-bench`)")
        per_net = {n: run(raw, net) for n, net in all_nets.items()}
        results[name] = {"path": str(path.relative_to(ROOT)), "nets": per_net}
        _print(name, path, per_net)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    # The requirement holds on the set the nets were tuned on; the others are reported as found.
    return 1 if results["benchmark"]["nets"]["combination"]["missed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
