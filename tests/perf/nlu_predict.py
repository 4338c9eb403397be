"""Classify held-out messages with the trained Rasa model (run with the Rasa venv's Python).

Loads the model once and parses every example of the given NLU YAML files (and
the crisis message sets), writing one JSON file of predictions for
tests/perf/nlu_report.py, which runs in the app venv and does the scoring.

    .venv-rasa/bin/python tests/perf/nlu_predict.py MODEL OUT.json SET=FILE ...
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from pathlib import Path

import yaml


def examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU file, or from a crisis message set."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "nlu" in raw:
        return [
            (re.sub(r"^\s*-\s?", "", line), block["intent"])
            for block in raw["nlu"]
            if "intent" in block
            for line in block["examples"].splitlines()
            if line.strip()
        ]
    # crisis sets: crisis messages must be `crisis`; ordinary ones anything else
    return [(text, "crisis") for items in raw["crisis"].values() for text in items] + [
        (text, "(ordinary)") for items in raw["ordinary"].values() for text in items
    ]


async def predict(model: str, sets: dict[str, Path]) -> dict:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out = {}
    for name, path in sets.items():
        rows = []
        for text, intent in examples(path):
            parsed = await agent.parse_message(text)
            # The runners-up too: what a fallback would offer as buttons.
            ranking = [
                [r.get("name"), round(float(r.get("confidence") or 0.0), 4)]
                for r in (parsed.get("intent_ranking") or [])[:4]
            ]
            rows.append(
                {
                    "text": text,
                    "intent": intent,
                    "predicted": (parsed.get("intent") or {}).get("name"),
                    "confidence": round(float((parsed.get("intent") or {}).get("confidence") or 0.0), 4),
                    "ranking": ranking,
                }
            )
        out[name] = {"file": path.name, "predictions": rows}
    return out


def main(argv: list[str]) -> int:
    logging.disable(logging.WARNING)
    model, out_file, *pairs = argv
    sets = {name: Path(file) for name, file in (pair.split("=", 1) for pair in pairs)}
    result = asyncio.run(predict(model, sets))
    Path(out_file).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
