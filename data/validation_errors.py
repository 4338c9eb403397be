"""Pydantic's errors as short lines a clinic can act on: where, then what is wrong.

Shared by the care-plan file and the task library, so both name a problem the same way
(`patients[0].tasks[1].template: ...`, `templates.sleep_diary.minutes: ...`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import ValidationError


def error_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def error_message(error: Mapping[str, Any]) -> str:
    if error["type"] == "missing":
        return "field required"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    msg: str = error["msg"].removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def problems(exc: ValidationError) -> list[str]:
    """One line per problem, each with its path."""
    return [f"{error_path(e['loc'])}: {error_message(e)}" for e in exc.errors(include_url=False)]


def not_valid_yaml(exc: yaml.YAMLError) -> str:
    """Where a file stopped being YAML, when the parser says."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML{where}"
