"""What the task library must hold, checked when a process starts.

tasks.yml and worksheets.yml are edited by clinics, so every entry is checked as a
whole: a template missing its example, a scale upside down, or a worksheet that names
an answer it never asks for is reported by its id and field, and nothing starts."""

from __future__ import annotations

from string import Formatter
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

# Ids are referenced from care plans and stored in the database: keep them plain.
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
NO_WORKSHEET = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Template(_Strict):
    """A kind of homework; the therapist's plan gives its own title and rationale."""

    name: Text
    why: Text
    instructions: Text
    example: Text
    minutes: int = Field(ge=1, le=240)
    # Required, so each template says whether it has an in-chat worksheet: a kind from
    # worksheets.yml, or `none` (the "do it now" button then shows the instructions).
    worksheet: Key | None

    @field_validator("worksheet", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return None if value == NO_WORKSHEET else value

    @field_validator("worksheet")
    @classmethod
    def _known(cls, value: str | None, info: ValidationInfo) -> str | None:
        # The kinds worksheets.yml has, given as context: the two files are checked together.
        kinds = (info.context or {}).get("worksheets")
        if value is not None and kinds is not None and value not in kinds:
            raise ValueError(
                f"no worksheet {value!r} in worksheets.yml; there are: {', '.join(sorted(kinds))}"
            )
        return value


class Step(_Strict):
    """One question of a worksheet."""

    key: Key
    question: Text
    scale: tuple[int, int] | None = None
    pause_after: bool = False
    pause_message: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.scale is not None and self.scale[0] >= self.scale[1]:
            raise ValueError("scale is [low, high] with low below high")
        if self.pause_after != (self.pause_message is not None):
            raise ValueError("pause_after and pause_message go together")
        return self


class WorksheetContent(_Strict):
    intro: Text
    steps: list[Step] = Field(min_length=1)
    done: Text

    @model_validator(mode="after")
    def _keys(self) -> WorksheetContent:
        keys = [step.key for step in self.steps]
        if len(keys) != len(set(keys)):
            raise ValueError("two steps share a key")
        # The closing message quotes answers by key: each must be one the worksheet asks.
        quoted = {field for _, field, _, _ in Formatter().parse(self.done) if field}
        unknown = sorted(quoted - set(keys))
        if unknown:
            raise ValueError(f"done quotes {', '.join(unknown)}, which no step asks")
        return self


class TaskFile(_Strict):
    templates: dict[Key, Template] = Field(min_length=1)


class WorksheetFile(_Strict):
    worksheets: dict[Key, WorksheetContent] = Field(min_length=1)
