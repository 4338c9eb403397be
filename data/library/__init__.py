"""Content a clinic can adapt without code: task templates, worksheets and barrier scripts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from data.library.schema import TaskFile, Template, WorksheetContent, WorksheetFile, unknown_worksheets
from data.validation_errors import not_valid_yaml, problems

LIBRARY_DIR = Path(__file__).resolve().parent
M = TypeVar("M", bound=BaseModel)


class LibraryError(Exception):
    """A library file that cannot be used; `problems` names each entry and field."""

    def __init__(self, problems: list[str]):
        super().__init__("The task library has problems:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Library:
    templates: dict[str, Template]
    worksheets: dict[str, WorksheetContent]


def _read(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except OSError as exc:
        raise LibraryError([f"{path.name}: cannot read it: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise LibraryError([f"{path.name}: {not_valid_yaml(exc)}"]) from None


def _checked(model: type[M], path: Path, found: list[str]) -> M | None:
    try:
        return model.model_validate(_read(path))
    except ValidationError as exc:
        found += [f"{path.name}: {line}" for line in problems(exc)]
        return None


def load_library(directory: Path) -> Library:
    """Both files checked in full; every problem is listed, and none is half-loaded."""
    found: list[str] = []
    tasks = _checked(TaskFile, directory / "tasks.yml", found)
    sheets = _checked(WorksheetFile, directory / "worksheets.yml", found)
    if tasks is not None and sheets is not None:
        found += [f"tasks.yml: {line}" for line in unknown_worksheets(tasks, sheets)]
    if found or tasks is None or sheets is None:
        raise LibraryError(found)
    return Library(tasks.templates, sheets.worksheets)


@cache
def library() -> Library:
    return load_library(LIBRARY_DIR)


def require_valid() -> Library:
    """For process start-up: a broken library stops the process with its problems listed."""
    try:
        return library()
    except LibraryError as error:
        raise SystemExit(str(error)) from None


def task_templates() -> dict[str, Template]:
    return library().templates


def worksheet_kind(template: str) -> str | None:
    """The in-chat worksheet a kind of task is done with, if it has one."""
    found = task_templates().get(template)
    return found.worksheet if found else None


def worksheet(kind: str) -> WorksheetContent | None:
    """A worksheet by its kind (the `worksheet` a template names)."""
    return library().worksheets.get(kind)


@cache
def load(name: str) -> dict[str, Any]:
    with (LIBRARY_DIR / f"{name}.yml").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle) or {}
    return loaded


def barrier_scripts() -> dict[str, Any]:
    return load("barriers")


def barrier_options(category: str) -> list[dict[str, Any]]:
    return list(barrier_scripts()["categories"].get(category, {}).get("options", []))
