"""Crisis safety-net benchmark: every crisis message caught? how many false alarms?

The message set (tests/perf/data/crisis_benchmark.yml) was written apart from
the lexicon, by someone who had not seen it; the lexicon was then tuned on it.
tests/perf/data/crisis_holdout.yml was written later, apart from both, and is
never tuned on: its figures are the honest ones. Run:

    .venv/bin/python -m tests.perf.bench_crisis

Prints recall per crisis category and the false-positive rate per ordinary
category for both sets, writes tests/perf/results/crisis_benchmark.json, and
exits non-zero if any benchmark-set crisis message is missed (the requirement)
so `make test` catches a regression. False positives are reported against the 3% aim, not enforced.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from bot import safety_net

HERE = Path(__file__).resolve().parent
# The development set (the lexicon was tuned on it) and a second set written
# apart from both, never used for tuning: the honest figure.
SETS = {"benchmark": HERE / "data" / "crisis_benchmark.yml", "holdout": HERE / "data" / "crisis_holdout.yml"}
RESULTS = HERE / "results" / "crisis_benchmark.json"
FALSE_POSITIVE_AIM = 0.03


def run(path: Path) -> dict:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    started = time.perf_counter()
    report: dict = {"crisis": {}, "ordinary": {}, "missed": [], "false_alarms": []}
    for category, messages in raw["crisis"].items():
        missed = [m for m in messages if safety_net.detect(m) is None]
        report["crisis"][category] = {"messages": len(messages), "caught": len(messages) - len(missed)}
        report["missed"] += [{"category": category, "text": m} for m in missed]
    for category, messages in raw["ordinary"].items():
        flagged = [m for m in messages if safety_net.detect(m) is not None]
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


def main() -> int:
    reports = {name: run(path) for name, path in SETS.items()}
    for name, report in reports.items():
        s = report["summary"]
        print(f"crisis safety net, {name} set ({SETS[name].name})")
        for category, c in report["crisis"].items():
            print(f"  crisis   {category:32} {c['caught']:3}/{c['messages']:3} caught")
        for category, c in report["ordinary"].items():
            print(f"  ordinary {category:32} {c['flagged']:3}/{c['messages']:3} flagged")
        print(
            f"  recall {s['crisis_caught']}/{s['crisis_messages']} ({s['recall']:.1%}); "
            f"false positives {s['false_positives']}/{s['ordinary_messages']} ({s['false_positive_rate']:.1%}, "
            f"aim <= {FALSE_POSITIVE_AIM:.0%}); {s['ms_per_message']} ms a message"
        )
        for miss in report["missed"]:
            print(f"  MISSED [{miss['category']}] {miss['text']}")
        for alarm in report["false_alarms"]:
            print(f"  false alarm [{alarm['category']}] {alarm['text']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The requirement holds on the benchmark set; the holdout's misses are reported as found.
    return 1 if reports["benchmark"]["missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
