"""The Rasa model, trained only when its inputs changed (cached by their hash)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

from coach.paths import MODEL_CACHE, RASA_PROJECT, ROOT, rasa_bin

INPUTS = ("config.yml", "domain", "data", "components")


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONWARNINGS", "ignore")
    # The NLU's sentence embeddings (rasa_project/components) read messages with the crisis
    # net's encoder, bot/crisis/encoder.py, from the repository.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def input_hash() -> str:
    digest = hashlib.sha256()
    files: list[Path] = []
    for name in INPUTS:
        path = RASA_PROJECT / name
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    # A different Rasa build, or other encoder weights, is a different model with the same data.
    files += [ROOT / "requirements" / "rasa.lock", ROOT / "requirements" / "rasa-encoder.lock"]
    files.append(ROOT / "bot" / "crisis" / "encoder.py")
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def model_path() -> Path:
    return MODEL_CACHE / f"bridgework-{input_hash()}.tar.gz"


def ensure_model(quiet: bool = False) -> Path:
    path = model_path()
    if path.exists():
        if not quiet:
            print(f"Rasa model up to date: {path.name}", flush=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print("Training the Rasa model (its inputs changed; takes 1-3 minutes)...", flush=True)
    started = time.monotonic()
    work = path.parent / f".training-{os.getpid()}"
    cmd = [
        str(rasa_bin()),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain",
        "--data",
        "data",
        "--out",
        str(work),
        "--fixed-model-name",
        path.name.removesuffix(".tar.gz"),
    ]
    result = subprocess.run(cmd, cwd=RASA_PROJECT, env=rasa_env(), check=False)
    trained = work / path.name
    if result.returncode != 0 or not trained.exists():
        raise SystemExit(f"Rasa training failed (exit {result.returncode}).")
    # Atomic: a half-written model is never picked up by another run.
    trained.replace(path)
    work.rmdir()
    print(f"Trained in {time.monotonic() - started:.0f}s: {path.name}", flush=True)
    return path


if __name__ == "__main__":
    print(ensure_model(quiet="--quiet" in sys.argv))
