"""What the Rasa model costs at start-up: training from scratch (no training cache) and
loading it, for the working tree or an earlier git revision. Issue 14 allows neither to
grow by more than 20%; start-up speed is being worked on too.

    .venv/bin/python -m tests.perf.bench_model [--rev REV] [--loads 3]

Each run adds its figures to tests/perf/results/model_cost.json, keyed by what was
measured, and prints them. Minutes per run: not part of `make test` (`make bench-model`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from coach.model import INPUTS, rasa_env
from coach.paths import RASA_PROJECT, ROOT, rasa_bin

RESULTS = ROOT / "tests" / "perf" / "results" / "model_cost.json"
_LOAD = (
    "import sys, time, logging; logging.disable(logging.WARNING)\n"
    "from rasa.core.agent import Agent\n"
    "started = time.monotonic(); Agent.load(sys.argv[1]); print(time.monotonic() - started)\n"
)


def _project(rev: str | None, into: Path) -> Path:
    """The Rasa project's inputs as they are (or were at `rev`), copied apart."""
    if rev is None:
        subprocess.run(["cp", "-r", *(str(RASA_PROJECT / name) for name in INPUTS), str(into)], check=True)
        return into
    archive = subprocess.run(
        ["git", "archive", rev, "rasa_project"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "rasa_project"


def measure(rev: str | None, loads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bw-model-") as tmp:
        project = _project(rev, Path(tmp))
        env = {**rasa_env(), "RASA_CACHE_DIRECTORY": str(Path(tmp) / "rasa-cache")}
        cmd = [str(rasa_bin()), "train", "--config", "config.yml", "--domain", "domain", "--data", "data"]
        cmd += ["--out", str(Path(tmp) / "models"), "--fixed-model-name", "bench"]
        started = time.monotonic()
        subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True)
        trained = time.monotonic() - started
        model = Path(tmp) / "models" / "bench.tar.gz"
        python = rasa_bin().parent / "python"
        times = [
            float(
                subprocess.run(
                    [str(python), "-c", _LOAD, str(model)],
                    cwd=project,  # the project's own components load from it
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()[-1]
            )
            for _ in range(loads)
        ]
        examples = sum(
            line.lstrip().startswith("- ")
            for path in (project / "data" / "nlu").glob("*.yml")
            for line in path.read_text(encoding="utf-8").splitlines()
        )
        return {
            "training_seconds": round(trained, 1),
            "load_seconds_median": round(statistics.median(times), 1),
            "load_seconds": [round(t, 1) for t in times],
            "model_bytes": model.stat().st_size,
            "nlu_examples": examples,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", help="a git revision to measure instead of the working tree")
    parser.add_argument("--loads", type=int, default=3)
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", args.rev or "HEAD"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    key = commit if args.rev else f"{commit} (working tree)"
    figures = measure(args.rev, args.loads)
    found = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    found[key] = {**figures, "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")
    print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
