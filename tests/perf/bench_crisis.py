"""Crisis safety-net benchmark: every crisis message caught? how many false alarms?

The message set (tests/perf/data/crisis_benchmark.yml) was written apart from
the lexicon, by someone who had not seen it; the lexicon was then tuned on it,
and the classifier's training data was extended for the concepts it revealed.
tests/perf/data/crisis_holdout.yml was written later, apart from both, and is
never tuned on: its figures are the honest ones. tests/perf/data/crisis_holdout2.yml,
if present, is a blind set that no one working on the nets has read. Run:

    .venv/bin/python -m tests.perf.bench_crisis

For each set and each net (the lexicon alone, the classifier alone, both as the
bot uses them) prints recall per crisis category and the false-positive rate per
ordinary category, writes tests/perf/results/crisis_benchmark.json, and exits
non-zero if any benchmark-set crisis message is missed by both nets together
(the requirement) so `make test` catches a regression. False positives are
reported against the 3% aim, not enforced.

Only the development set's misses and false alarms are printed; the holdout
sets' are in the JSON, so that reading this output never shows them.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from bot import crisis_classifier, safety_net

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
# The development set, the holdout (never tuned on) and, once it exists, the blind holdout.
SETS = {
    "benchmark": DATA / "crisis_benchmark.yml",
    "holdout": DATA / "crisis_holdout.yml",
    "holdout2": DATA / "crisis_holdout2.yml",
}
SHOWN = {"benchmark"}  # sets whose individual misses and false alarms are printed
NETS = {
    "lexicon": safety_net.detect_lexicon,
    "classifier": safety_net.detect_classifier,
    "both": safety_net.detect,
}
RESULTS = HERE / "results" / "crisis_benchmark.json"
FALSE_POSITIVE_AIM = 0.03


def run(raw: dict, detect) -> dict:
    report: dict = {"crisis": {}, "ordinary": {}, "missed": [], "false_alarms": []}
    started = time.perf_counter()
    for category, messages in raw["crisis"].items():
        missed = [m for m in messages if detect(m) is None]
        report["crisis"][category] = {"messages": len(messages), "caught": len(messages) - len(missed)}
        report["missed"] += [{"category": category, "text": m} for m in missed]
    for category, messages in raw["ordinary"].items():
        flagged = [m for m in messages if detect(m) is not None]
        report["ordinary"][category] = {"messages": len(messages), "flagged": len(flagged)}
        report["false_alarms"] += [{"category": category, "text": m} for m in flagged]
    seconds = time.perf_counter() - started
    crisis_total = sum(c["messages"] for c in report["crisis"].values())
    ordinary_total = sum(c["messages"] for c in report["ordinary"].values())
    report["summary"] = {
        "crisis_messages": crisis_total,
        "crisis_caught": crisis_total - len(report["missed"]),
        "recall": round((crisis_total - len(report["missed"])) / crisis_total, 4),
        "ordinary_messages": ordinary_total,
        "false_positives": len(report["false_alarms"]),
        "false_positive_rate": round(len(report["false_alarms"]) / ordinary_total, 4),
        "false_positive_aim": FALSE_POSITIVE_AIM,
        "ms_per_message": round(1000 * seconds / (crisis_total + ordinary_total), 3),
    }
    return report


def _print(name: str, path: Path, nets: dict[str, dict]) -> None:
    print(f"crisis safety net, {name} set ({path.name}): caught or flagged by lexicon / classifier / both")
    first = nets["both"]
    for kind, key in (("crisis", "caught"), ("ordinary", "flagged")):
        for category, c in first[kind].items():
            counts = "  ".join(f"{nets[net][kind][category][key]:3}/{c['messages']:3}" for net in NETS)
            print(f"  {kind:8} {category:32} {counts}")
    for net, report in nets.items():
        s = report["summary"]
        print(
            f"  {net:10} recall {s['crisis_caught']}/{s['crisis_messages']} ({s['recall']:.1%}); "
            f"false positives {s['false_positives']}/{s['ordinary_messages']} ({s['false_positive_rate']:.1%}, "
            f"aim <= {FALSE_POSITIVE_AIM:.0%}); {s['ms_per_message']} ms a message"
        )
    if name in SHOWN:
        for miss in first["missed"]:
            print(f"  MISSED [{miss['category']}] {miss['text']}")
        for alarm in first["false_alarms"]:
            print(f"  false alarm [{alarm['category']}] {alarm['text']}")


def main() -> int:
    # Trained before the clock starts, so that ms a message is the steady cost.
    started = time.perf_counter()
    safety_net.detect_classifier("warm up")
    training_seconds = round(time.perf_counter() - started, 2)
    results: dict = {
        "classifier": {"threshold": crisis_classifier.THRESHOLD, "training_seconds": training_seconds},
    }
    print(f"classifier: threshold {crisis_classifier.THRESHOLD}, trained in {training_seconds} s")
    for name, path in SETS.items():
        if not path.exists():
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        nets = {net: run(raw, detect) for net, detect in NETS.items()}
        results[name] = {"path": str(path.relative_to(HERE.parent.parent)), "nets": nets}
        _print(name, path, nets)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The requirement holds on the benchmark set; the holdouts' misses are reported as found.
    return 1 if results["benchmark"]["nets"]["both"]["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
