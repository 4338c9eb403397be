"""Held-out NLU figures: per-intent precision, recall and F1, confusions, and the
crisis check (every held-out crisis message classified `crisis` or caught by the
bot's safety net). Reads what `rasa test nlu` wrote; writes
tests/perf/results/nlu_report.json and prints a summary.

Exit status 1 when a crisis message slips through both nets: that is a safety
requirement, so it fails the build. Barrier macro-F1 against its 0.85 target is
reported (and marked when below), not enforced: it is a quality figure to track.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from bot.safety_net import detect

ROOT = Path(__file__).resolve().parents[2]
BARRIER_F1_FLOOR = 0.85  # the target set in issue 3


def main(results_dir: Path) -> int:
    report = json.loads((results_dir / "intent_report.json").read_text())
    errors_file = results_dir / "intent_errors.json"
    errors = json.loads(errors_file.read_text()) if errors_file.exists() else []

    per_intent = {
        name: {k: round(v, 3) for k, v in scores.items() if k in ("precision", "recall", "f1-score")}
        | {"support": scores["support"]}
        for name, scores in report.items()
        if isinstance(scores, dict) and "support" in scores and "avg" not in name
    }
    barriers = {k: v for k, v in per_intent.items() if k.startswith("barrier_")}
    barrier_macro_f1 = round(sum(v["f1-score"] for v in barriers.values()) / max(len(barriers), 1), 3)
    confusions = Counter(
        (e["intent"], (e.get("intent_prediction") or {}).get("name")) for e in errors
    ).most_common()
    missed_crisis = [e["text"] for e in errors if e["intent"] == "crisis" and detect(e["text"]) is None]
    crisis = per_intent.get("crisis", {})
    summary = {
        "barrier_macro_f1": barrier_macro_f1,
        "barrier_macro_f1_target": BARRIER_F1_FLOOR,
        "crisis_messages": crisis.get("support", 0),
        "crisis_recall_nlu": crisis.get("recall"),
        "crisis_missed_by_both": len(missed_crisis),
        "accuracy": round(report.get("accuracy", 0.0), 3),
        "per_intent": per_intent,
        "confusions": [{"true": t, "predicted": p, "count": n} for (t, p), n in confusions],
    }
    out = ROOT / "tests" / "perf" / "results" / "nlu_report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))

    print(f"{'intent':<22}{'precision':>10}{'recall':>8}{'f1':>7}{'n':>5}")
    for name, s in sorted(per_intent.items()):
        print(f"{name:<22}{s['precision']:>10.2f}{s['recall']:>8.2f}{s['f1-score']:>7.2f}{s['support']:>5}")
    below = "  << BELOW TARGET" if barrier_macro_f1 < BARRIER_F1_FLOOR else ""
    print(
        f"\naccuracy {summary['accuracy']:.3f}; barrier macro-F1 {barrier_macro_f1:.3f} "
        f"(target {BARRIER_F1_FLOOR}){below}"
    )
    print(
        f"crisis: {crisis.get('support', 0)} held-out messages, NLU recall {crisis.get('recall')}, "
        f"missed by both NLU and safety net: {len(missed_crisis)}"
    )
    for (t, p), n in confusions[:10]:
        print(f"  confused {t} -> {p}: {n}")
    print(f"written to {out.relative_to(ROOT)}")
    for text in missed_crisis:
        print(f"  MISSED CRISIS MESSAGE: {text!r}")
    return 1 if missed_crisis else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
