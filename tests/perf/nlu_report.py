"""Held-out NLU figures from tests/perf/nlu_predict.py's predictions.

Per set and pooled: per-intent precision, recall and F1, barrier macro-F1, and
the most common confusions. Two held-out sets, both never trained on:
`heldout` (tests/nlu/heldout.yml, written first and used once for error
analysis) and `blind` (tests/nlu/heldout_blind.yml, written later by someone who
saw neither the training data nor the first set, and never looked at since).

Fresh sets (issue 14), each written once by someone who saw neither the
training data nor any earlier set: `before` (tests/nlu/fresh_before.yml, scored
once on the model before the NLU work; its figures are kept in
tests/nlu/fresh_before_scores.json and printed from there), `after`
(tests/nlu/fresh_after.yml, by another writer, first scored at the end of the
first round of NLU work) and `after2` (tests/nlu/fresh_after2.yml, by a third
writer, first scored at the end of the second round). `after` and `after2` are
scored on the current model each run, and their first scoring, kept in
tests/nlu/fresh_<name>_scores.json, is printed beside it. Once a set's misses
have been read it is no longer blind, and the next figure needs a fresh set:
`after`, read after its first scoring, helped choose the second round's
classifier, weighting and threshold, with the held-out sets and `before`;
`after2` chose nothing. They are printed per intent beside the targets, and
kept out of the pooled figure, which stays comparable with earlier reports.

Crisis: every crisis message in the held-out sets and in the crisis holdout set
(tests/perf/data/crisis_holdout.yml) is checked against the bot's two nets, the
safety net (before Rasa) and the NLU `crisis` intent. Writes
tests/perf/results/nlu_report.json.

Exit status 1 when the pooled barrier macro-F1 is below the 0.85 target (the
issue's floor) or a held-out NLU crisis message slips past both nets. Misses in
the crisis holdout set and the fresh sets are reported, not enforced: it measures how the nets
generalise (see tests/perf/bench_crisis.py).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from actions.fallback import offered_meanings
from bot.crisis import detect

ROOT = Path(__file__).resolve().parents[2]
BARRIER_F1_FLOOR = 0.85  # the target set in issue 3
# The NLU's own held-out sets among the predictions (the rest are crisis sets: bench_crisis.py).
NLU_SETS = ("heldout", "blind")
FRESH_SETS = ("before", "after", "after2")
# The first scoring of each fresh set, as it was: `before` is only ever printed from here.
FIRST_SCORED = {name: ROOT / "tests" / "nlu" / f"fresh_{name}_scores.json" for name in FRESH_SETS}
# Issue 14's targets, read on the fresh sets: barrier macro-F1, and recall per intent.
FRESH_TARGETS = {"barrier_macro_f1": 0.90}
RECALL_TARGETS = {
    "resistance": 0.80,
    "barrier_not_useful": 0.80,
    "barrier_unclear": 0.80,
    "out_of_scope": 0.75,
}


def scores(rows: list[dict]) -> dict:
    truth = Counter(r["intent"] for r in rows)
    predicted = Counter(r["predicted"] for r in rows)
    right = Counter(r["intent"] for r in rows if r["intent"] == r["predicted"])
    per_intent = {}
    for intent, support in sorted(truth.items()):
        p = right[intent] / predicted[intent] if predicted[intent] else 0.0
        r = right[intent] / support
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_intent[intent] = {
            "precision": round(p, 3),
            "recall": round(r, 3),
            "f1": round(f1, 3),
            "n": support,
        }
    barriers = [v["f1"] for k, v in per_intent.items() if k.startswith("barrier_")]
    confusions = Counter((r["intent"], r["predicted"]) for r in rows if r["intent"] != r["predicted"])
    return {
        "examples": len(rows),
        "accuracy": round(sum(right.values()) / len(rows), 3),
        "barrier_macro_f1": round(sum(barriers) / len(barriers), 3) if barriers else None,
        "per_intent": per_intent,
        "confusions": [{"true": t, "predicted": p, "count": n} for (t, p), n in confusions.most_common()],
    }


def understood_within_one_turn(rows: list[dict]) -> float:
    """Understood at once, or, where the NLU was unsure, the meaning was among the buttons
    the fallback offers (actions/fallback.py, with the domain's words for them)."""
    domain = yaml.safe_load((ROOT / "rasa_project" / "domain" / "fallback.yml").read_text(encoding="utf-8"))
    understood = 0
    for r in rows:
        if r["predicted"] == r["intent"]:
            understood += 1
        elif r["predicted"] == "nlu_fallback":
            ranking = [{"name": n, "confidence": c} for n, c in r.get("ranking", [])]
            understood += r["intent"] in offered_meanings(ranking, domain["responses"])
    return round(understood / len(rows), 3) if rows else 0.0


def crisis_check(rows: list[dict]) -> dict:
    crisis = [r for r in rows if r["intent"] == "crisis"]
    ordinary = [r for r in rows if r["intent"] != "crisis"]
    net = {r["text"] for r in rows if detect(r["text"]) is not None}
    missed = [r["text"] for r in crisis if r["predicted"] != "crisis" and r["text"] not in net]
    false_alarms = [r["text"] for r in ordinary if r["predicted"] == "crisis" or r["text"] in net]
    return {
        "crisis_messages": len(crisis),
        "caught_by_safety_net": sum(r["text"] in net for r in crisis),
        "caught_by_nlu": sum(r["predicted"] == "crisis" for r in crisis),
        "missed_by_both": missed,
        "ordinary_messages": len(ordinary),
        "false_alarms_either_net": len(false_alarms),
    }


def fresh_summary(name: str, r: dict) -> str:
    """One fresh set's figures against issue 14's targets."""
    parts = [f"barrier macro-F1 {r['barrier_macro_f1']:.3f} (target {FRESH_TARGETS['barrier_macro_f1']:.2f})"]
    for intent, target in RECALL_TARGETS.items():
        found = r["per_intent"].get(intent)
        if found:
            parts.append(f"{intent} recall {found['recall']:.2f} (target {target:.2f})")
    if "understood_within_one_turn" in r:
        parts.append(f"understood within one turn {r['understood_within_one_turn']:.2f} (target 0.95)")
    return f"fresh set [{name}]: {r['examples']} messages, accuracy {r['accuracy']:.3f}; " + "; ".join(parts)


def main(predictions_file: Path) -> int:
    sets = json.loads(predictions_file.read_text(encoding="utf-8"))
    nlu_sets = {name: sets[name]["predictions"] for name in NLU_SETS if name in sets}
    fresh_sets = {name: sets[name]["predictions"] for name in FRESH_SETS if name in sets}
    report: dict = {name: scores(rows) for name, rows in {**nlu_sets, **fresh_sets}.items()}
    for name, rows in fresh_sets.items():
        report[name]["understood_within_one_turn"] = understood_within_one_turn(rows)
    scored_now = set(fresh_sets)
    first = {
        name: json.loads(path.read_text(encoding="utf-8"))
        for name, path in FIRST_SCORED.items()
        if path.exists()
    }
    for name, kept in first.items():
        if name not in scored_now:
            report[name] = kept
            fresh_sets[name] = []
    pooled = [row for rows in nlu_sets.values() for row in rows]
    report["pooled"] = scores(pooled)
    report["crisis"] = {name: crisis_check(rows) for name, rows in {**nlu_sets, **fresh_sets}.items() if rows}
    if "holdout" in sets:
        report["crisis"]["crisis_holdout"] = crisis_check(sets["holdout"]["predictions"])
    report["barrier_macro_f1_target"] = BARRIER_F1_FLOOR

    out = ROOT / "tests" / "perf" / "results" / "nlu_report.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    names = [*nlu_sets, "pooled", *fresh_sets]
    table: dict[str, dict] = defaultdict(dict)
    for name in names:
        for intent, s in report[name]["per_intent"].items():
            table[intent][name] = s
    print(f"{'intent':<20}" + "".join(f"{name + ' P/R/F1 (n)':>26}" for name in names))
    for intent in sorted(table):
        cells = []
        for name in names:
            s = table[intent].get(name)
            cells.append(f"{s['precision']:.2f}/{s['recall']:.2f}/{s['f1']:.2f} ({s['n']:>3})" if s else "-")
        print(f"{intent:<20}" + "".join(f"{c:>26}" for c in cells))
    for name in names:
        r = report[name]
        print(
            f"{name}: {r['examples']} examples, accuracy {r['accuracy']:.3f}, barrier macro-F1 {r['barrier_macro_f1']:.3f}"
        )
    for c in report["pooled"]["confusions"][:12]:
        print(f"  confused {c['true']} -> {c['predicted']}: {c['count']}")
    for name in fresh_sets:
        print(fresh_summary(name, report[name]))
        if name in first and name in scored_now:
            print(f"  first scored on {first[name]['model'].split()[0]}: " + fresh_summary(name, first[name]))
        for c in report[name]["confusions"][:6]:
            print(f"  [{name}] confused {c['true']} -> {c['predicted']}: {c['count']}")
    failed = False
    if report["pooled"]["barrier_macro_f1"] < BARRIER_F1_FLOOR:
        print(f"pooled barrier macro-F1 below the {BARRIER_F1_FLOOR} target")
        failed = True
    for name, c in report["crisis"].items():
        print(
            f"crisis [{name}]: {c['crisis_messages']} messages; safety net {c['caught_by_safety_net']}, "
            f"NLU {c['caught_by_nlu']}, missed by both {len(c['missed_by_both'])}; "
            f"false alarms on {c['ordinary_messages']} ordinary: {c['false_alarms_either_net']}"
        )
        for text in c["missed_by_both"]:
            print(f"  MISSED CRISIS MESSAGE [{name}]: {text!r}")
        if name in NLU_SETS and c["missed_by_both"]:
            failed = True
    print(f"written to {out.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
