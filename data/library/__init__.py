"""Content a clinic can adapt without code: task templates and barrier scripts."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LIBRARY_DIR = Path(__file__).resolve().parent


@cache
def load(name: str) -> dict[str, Any]:
    with (LIBRARY_DIR / f"{name}.yml").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle) or {}
    return loaded


def task_templates() -> dict[str, dict[str, Any]]:
    templates: dict[str, dict[str, Any]] = load("tasks")["templates"]
    return templates


def barrier_scripts() -> dict[str, Any]:
    return load("barriers")


def barrier_options(category: str) -> list[dict[str, Any]]:
    return list(barrier_scripts()["categories"].get(category, {}).get("options", []))


def worksheet(template: str) -> dict[str, Any] | None:
    """The guided worksheet for a kind of task, if it has one."""
    found: dict[str, Any] | None = load("worksheets")["worksheets"].get(template)
    return found
