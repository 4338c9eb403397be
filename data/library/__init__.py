"""Content a clinic can adapt without code: task templates, worksheets and barrier scripts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from data.library.schema import TaskFile, Template, WorksheetContent, WorksheetFile
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


def _checked(model: type[M], raw: Any, path: Path, found: list[str], **context: Any) -> M | None:
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        found += [f"{path.name}: {line}" for line in problems(exc)]
        return None


def load_library(directory: Path) -> Library:
    """Both files checked in full; every problem is listed, and none is half-loaded."""
    found: list[str] = []
    sheets_path, tasks_path = directory / "worksheets.yml", directory / "tasks.yml"
    raw_sheets = _read(sheets_path)
    sheets = _checked(WorksheetFile, raw_sheets, sheets_path, found)
    kinds = raw_sheets.get("worksheets") if isinstance(raw_sheets, dict) else None
    known = set(kinds) if isinstance(kinds, dict) else set()
    tasks = _checked(TaskFile, _read(tasks_path), tasks_path, found, worksheets=known)
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
