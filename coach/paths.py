"""Where things live on disk."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
RASA_PROJECT = ROOT / "rasa_project"
RASA_VENV = Path(os.environ.get("RASA_VENV", ROOT / ".venv-rasa"))
# Trained models are cached outside the work tree, keyed by the hash of their
# inputs, so a fresh clone on the same machine reuses them.
MODEL_CACHE = Path(os.environ.get("BRIDGEWORK_MODEL_CACHE", Path.home() / ".cache" / "bridgework" / "models"))
DEMO_PLAN = ROOT / "data" / "demo" / "plan.yml"


def rasa_bin() -> Path:
    return RASA_VENV / "bin" / "rasa"
