"""The care-plan reference, docs/care-plan.md, generated from the schema so it cannot drift.

    .venv/bin/python -m data.plan_reference > docs/care-plan.md

What the models say is read from them: each field's type, whether it is required, its
default, and the checks pydantic makes from the annotations (lengths, ranges, patterns).
What a field is for, and the checks that live in validators or in `parse_plan`'s
cross-checks, are written here in FIELDS, keyed by the field's path in the file. The
rendering refuses to guess: a field with no entry, a pattern with no words, or a
constraint it cannot put into words stops it with a message saying what to add.

tests/test_docs.py fails when docs/care-plan.md differs from this output, when a field
of the schema is missing from it, or when an example in it does not validate.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from data.library import task_templates
from data.plan_schema import CarePlan, PlanError, parse_plan
from data.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
MINIMAL_EXAMPLE = EXAMPLES / "minimal-plan.yml"
FULL_EXAMPLE = EXAMPLES / "full-plan.yml"
REGENERATE = ".venv/bin/python -m data.plan_reference > docs/care-plan.md"


class Unwritten(Exception):
    """Something in the schema this script has no words for yet; the message says what to add."""


class Doc(NamedTuple):
    """What a field is for, the checks the annotations don't show, words after its default."""

    what: str
    check: str = ""
    default: str = ""


# How long an invite code works, by default (INVITE_TTL_DAYS).
_TTL = Settings.model_fields["invite_ttl_days"].default
_TZ_CHECK = "a time zone name from the tz database, such as `Europe/London`; an unknown name is refused"
_CODE_CHECK = (
    "no one else in the file (patient or therapist) has the same code; upper and lower case, "
    "and anything but letters and digits, count as the same"
)

# Every field, by its path in the file ("[]" marks a list). The test checks the keys
# against the schema both ways.
FIELDS: dict[str, Doc] = {
    "clinic": Doc("The clinic: its name, time zone and crisis resources."),
    "therapists": Doc("The clinic's therapists: at least one."),
    "patients": Doc("The patients, each with their therapist, routine, safety plan and tasks."),
    "clinic.id": Doc(
        "The clinic's id in the database. Keep the default unless one database serves more than "
        "one clinic: two plan files with the same id describe the same clinic."
    ),
    "clinic.name": Doc("The clinic's name. Kept for the clinic's records; the bot doesn't show it."),
    "clinic.timezone": Doc(
        "The clinic's time zone: the time zone of every patient who has none of their own, and "
        "the one the times in therapists' crisis alerts are given in. Without one, the "
        "installation's `DEFAULT_TIMEZONE` setting.",
        _TZ_CHECK,
    ),
    "clinic.crisis_resources": Doc(
        "Who to contact in a crisis, one line each, with the number. Shown with every crisis "
        "response and behind the bot's *Crisis numbers* button."
    ),
    "therapists[].id": Doc(
        "The therapist's id; a patient's `therapist` names it.", "no other therapist has the same id"
    ),
    "therapists[].name": Doc("The therapist's name, for the clinic's records; the bot doesn't show it."),
    "therapists[].invite_code": Doc(
        "A code that links the therapist's own Telegram account for crisis alerts: they send "
        "`/start CODE` to the bot. Leave it out and the therapist gets no alerts in Telegram (the "
        f"review still shows every crisis response). It works once, for {_TTL} days from the first "
        "`coach plan apply` that carries it (`INVITE_TTL_DAYS`); to issue a new one, change the code "
        "and apply the plan again.",
        _CODE_CHECK,
    ),
    "patients[].id": Doc(
        "The patient's id: what reports, crisis alerts and `coach` commands call them. Use a code, "
        "not a name: it travels in the therapist's alerts.",
        "no other patient has the same id",
    ),
    "patients[].therapist": Doc(
        "The `id` of the patient's therapist: the one whose alerts and review they are in.",
        "a therapist with this `id` is in the file",
    ),
    "patients[].display_name": Doc(
        'What the bot calls the patient ("Hi Alex"). A first name or a nickname is enough.'
    ),
    "patients[].invite_code": Doc(
        "The code the patient joins with: they open `https://t.me/<bot's username>?start=CODE` or "
        "send `/start CODE` to the bot. Leave it out and a new patient gets a random code, printed "
        f"once by `coach plan apply`. A code works once, for {_TTL} days (`INVITE_TTL_DAYS`); applying "
        "the plan again does not renew it: `coach invite PATIENT_ID` makes a fresh one. Ignored "
        "once the patient has joined.",
        _CODE_CHECK,
    ),
    "patients[].timezone": Doc(
        'The patient\'s time zone: nudges, quiet hours and "later today" follow it.',
        _TZ_CHECK,
        "the clinic's `timezone`",
    ),
    "patients[].language": Doc(
        "Stored, not used yet: the bot speaks English, in the wording of `data/content/bot.yml` "
        "and the Rasa domain."
    ),
    "patients[].discreet": Doc(
        'With `true`, a nudge doesn\'t name the task ("Hi Alex, got a minute?"), so a glance at the '
        "phone's lock screen shows nothing of the homework; with `false` it does (\"Hi Alex, how "
        'did your thought record go?").'
    ),
    "patients[].routine": Doc("The patient's day: when nudges may come."),
    "patients[].safety_plan": Doc(
        "The safety plan made with the therapist, a line per step (warning signs, what helps, who "
        "to call). Shown after the crisis resources whenever the bot gives its crisis response."
    ),
    "patients[].tasks": Doc(
        "The homework. A task taken out of the file is retired when the plan is applied: no more "
        "nudges, its history kept."
    ),
    "patients[].status": Doc(
        "`discharged` closes the plan, as `coach discharge` does: nudges stop, the patient gets a "
        "goodbye, and their data is erased `RETENTION_DAYS` later. Back to `active` reopens it if "
        "nothing has been erased yet. After `coach discharge`, set `discharged` here too: a file "
        "that still says `active` reopens the plan when applied."
    ),
    "patients[].routine.wake": Doc("When the patient usually gets up."),
    "patients[].routine.sleep": Doc(
        "When the patient usually goes to sleep. Without `quiet_hours`, no nudge comes between "
        "`sleep` and `wake`."
    ),
    "patients[].routine.preferred_times": Doc(
        "Times of day that suit the patient. A task with `times_per_week` is nudged at these in "
        "turn, earliest first; with none given, at 19:00."
    ),
    "patients[].routine.quiet_hours": Doc(
        '`[start, end]`: no nudges in between; it may run past midnight (`["22:00", "07:00"]`). '
        "A nudge that falls inside moves to the nearest allowed minute of the same day.",
        default="from `sleep` to `wake`",
    ),
    "patients[].tasks[].id": Doc(
        "The task's id within this patient's plan. Keep it when you edit a task: the same id keeps "
        "the task's history.",
        "no other task of this patient has the same id",
    ),
    "patients[].tasks[].template": Doc(
        "The kind of task, from the task library (see [Task templates](#task-templates)). It "
        "decides the line on why this kind of task helps and whether the chat offers a guided "
        "worksheet.",
        "one of the templates in `data/library/tasks.yml`",
    ),
    "patients[].tasks[].title": Doc(
        'What the bot calls the task ("how did your thought record go?"). It is written in lower '
        "case inside check-in messages."
    ),
    "patients[].tasks[].rationale": Doc(
        "Why this task, in the therapist's own words. The bot gives it the first time the task "
        "comes up and whenever the patient asks why, followed by the template's line on why this "
        "kind of task helps."
    ),
    "patients[].tasks[].instructions": Doc(
        'The steps, shown when the patient chooses "Do it now, with me" on a task without a guided '
        "worksheet, and by some of the obstacle scripts. Empty: the template's instructions are shown."
    ),
    "patients[].tasks[].minutes": Doc(
        'About how long the task takes; shown in the patient\'s task list ("Thought record (10 min)").'
    ),
    "patients[].tasks[].schedule": Doc("When the task is nudged."),
    "patients[].tasks[].start": Doc(
        "The first day of nudges, in the patient's time zone.", default="nudges start at once"
    ),
    "patients[].tasks[].end": Doc(
        "The last day of nudges, included.", "not before `start`", "nudges go on until the task is retired"
    ),
    "patients[].tasks[].schedule.days": Doc(
        "Fixed days of the week, nudged at `at`.", "goes with `at`, not with `times_per_week`"
    ),
    "patients[].tasks[].schedule.at": Doc(
        "The time of day for `days`, in the patient's time zone.", "goes with `days`"
    ),
    "patients[].tasks[].schedule.times_per_week": Doc(
        "How often, with the days left to Bridgework: spread over the week (3 is Monday, Wednesday, "
        "Friday) at the routine's `preferred_times`; above 7 some days get a second time.",
        "not with `days` and `at`",
    ),
}

# Checks that span fields, by model: the model validators, and parse_plan's cross-checks.
MODEL_CHECKS: dict[str, list[str]] = {
    "CarePlan": [
        "Once every field is valid, the file as a whole is checked: therapist ids are unique, "
        "patient ids are unique, no two people share an invite code (upper and lower case, and "
        "anything but letters and digits, count as the same), each patient's `therapist` is in "
        "the file, and each patient's task ids are unique. These problems show only when the "
        "others are fixed.",
    ],
    "Task": ["`end` is not before `start`."],
    "Schedule": [
        "Either `days` with `at`, or `times_per_week`: one of the two, never both.",
        "`days` is not empty and `at` is given with it.",
    ],
}

# What each model is, by class name; the heading's first line.
MODELS: dict[str, str] = {
    "CarePlan": "The whole file.",
    "Clinic": "The clinic.",
    "Therapist": "One therapist.",
    "Patient": "One patient.",
    "Routine": "The patient's day.",
    "Task": "One piece of homework.",
    "Schedule": "When a task is nudged.",
}

# Patterns in the schema, in words. A new pattern needs its words here. Keyed the way
# pydantic types StringConstraints.pattern, though ours are all strings.
PATTERNS: dict[str | re.Pattern[str], tuple[str, str]] = {
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": (
        "identifier",
        "1 to 64 characters: letters, digits, `_`, `.` and `-`, starting with a letter or a digit",
    ),
    r"^([01]\d|2[0-3]):[0-5]\d$": (
        "time",
        'a 24-hour time `HH:MM`, `"00:00"` to `"23:59"`; put it in quotes (YAML reads an unquoted '
        "19:30 as a number)",
    ),
}

_PLURAL = {"time": "times", "identifier": "identifiers", "whole number": "whole numbers", "date": "dates"}

INTRO = """\
# The care-plan file

<!-- Generated by data/plan_reference.py from data/plan_schema.py: do not edit by hand.
     Regenerate with: {regenerate} -->

A care plan is a YAML file that says who the clinic's therapists and patients are, and
what homework each patient has. The therapist writes it (or asks for it to be written);
the clinic's IT person checks it and loads it:

```sh
.venv/bin/coach plan validate plan.yml   # every problem, by its place in the file; nothing written
.venv/bin/coach plan apply plan.yml      # load it; prints what changed
```

Applying is safe to repeat: it changes only what differs from the database and says
what it changed. A task taken out of the file is retired (no more nudges; its history
stays). A patient or therapist taken out of the file is left as they were: close a
patient's plan with `status: discharged` or `coach discharge`. New patients without an
`invite_code` get a random one, printed by `coach plan apply` once and never again.

A care plan holds invite codes and safety plans: keep the file as private as the
patient's notes.

This page is generated from the schema (`data/plan_schema.py`), so it says what the
code checks today. A field not listed here is refused ("unknown field"), so a typo never
passes silently. Text with a check is trimmed of spaces at either end first. Leave a
field out to get its default.

## A minimal plan

One therapist, one patient, one task (`docs/examples/minimal-plan.yml`):

"""

PROBLEMS_INTRO = """\
## What a problem looks like

`coach plan validate` names each problem by its place in the file: `patients[0]` is the
first patient, `tasks[1]` their second task. This file has {count}:

"""

# A plan with mistakes on purpose: the doc shows what `coach plan validate` says of it.
BROKEN_EXAMPLE = """\
clinic:
  name: Test Clinic
  timezone: Europe/Londn
  crisis_resources: []
therapists:
  - id: t-test
    name: Dr Test Therapist
patients:
  - id: p-100
    therapist: t-test
    display_name: Alex
    tasks:
      - id: walk
        template: walking
        title: Evening walk
        rationale: Moving a little most days lifts mood.
        schedule: {days: [mon, wed], at: 19:30}
"""

# Marks a YAML block that is not meant to validate (tests/test_docs.py skips it).
INVALID_MARK = "<!-- invalid on purpose -->"


# --- reading the schema ------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, list[Any], bool]:
    """The annotation without Annotated and `| None`: (type, its metadata, optional)."""
    metadata: list[Any] = []
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *meta = get_args(annotation)
            metadata = [*meta, *metadata]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            if len(args) != 1:
                raise Unwritten(f"plan_reference: cannot describe the union {annotation!r}")
            annotation = args[0]
        else:
            return annotation, metadata, optional


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """The models a field holds: (model, in a list)."""
    tp, _, _ = _unwrap(annotation)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [(tp, False)]
    if get_origin(tp) is list:
        return [(m, True) for m, _ in _models_in(get_args(tp)[0])]
    return []


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def walk(model: type[BaseModel] = CarePlan, path: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Every model in the file with its path, the whole file first, depth first."""
    found = [(path, model)]
    for name, info in model.model_fields.items():
        for sub, in_list in _models_in(info.annotation):
            found += walk(sub, _join(path, name) + ("[]" if in_list else ""))
    return found


def field_paths() -> list[str]:
    return [_join(path, name) for path, model in walk() for name in model.model_fields]


# --- putting it into words -----------------------------------------------------------------


def _constraints(metadata: list[Any], unit: str) -> list[str]:
    words = []
    low = high = None
    for meta in metadata:
        if isinstance(meta, StringConstraints):
            if not meta.strip_whitespace:
                # The intro says text with a check is trimmed first.
                raise Unwritten("plan_reference: a text check that doesn't trim; the intro says all do")
            if meta.min_length == 1:
                words.append("not empty")
            elif meta.min_length:
                words.append(f"at least {meta.min_length} characters")
            if meta.max_length is not None:
                words.append(f"at most {meta.max_length} characters")
            if meta.pattern is not None:
                if meta.pattern not in PATTERNS:
                    raise Unwritten(
                        f"plan_reference: no words for the pattern {meta.pattern!r}; add them to PATTERNS"
                    )
                words.append(PATTERNS[meta.pattern][1])
            for name in ("to_upper", "to_lower", "strict", "ascii_only"):
                if getattr(meta, name):
                    raise Unwritten(f"plan_reference: no words for StringConstraints({name}=...)")
        elif isinstance(meta, annotated_types.MinLen):
            words.append(f"at least {meta.min_length} {unit}{'' if meta.min_length == 1 else 's'}")
        elif isinstance(meta, annotated_types.MaxLen):
            words.append(f"at most {meta.max_length} {unit}s")
        elif isinstance(meta, annotated_types.Ge):
            low = meta.ge
        elif isinstance(meta, annotated_types.Le):
            high = meta.le
        else:
            raise Unwritten(f"plan_reference: no words for the constraint {meta!r}")
    if low is not None and high is not None:
        words.append(f"{low} to {high}")
    elif low is not None:
        words.append(f"at least {low}")
    elif high is not None:
        words.append(f"at most {high}")
    return words


def _anchor(model: type[BaseModel]) -> str:
    return f"[{model.__name__}](#{model.__name__.lower()})"


def describe(annotation: Any, outer: tuple[Any, ...] = ()) -> tuple[str, list[str]]:
    """A type in words, and the checks its annotations make (`outer`: a field's own metadata)."""
    tp, inner, _ = _unwrap(annotation)
    metadata = [*inner, *outer]
    origin = get_origin(tp)
    if origin is list:
        item, item_checks = describe(get_args(tp)[0])
        checks = _constraints(metadata, "item")
        if item_checks:
            checks.append("each: " + ", ".join(item_checks))
        if item.startswith("one of "):
            return "list, each " + item, checks
        return f"list of {_PLURAL.get(item, item)}", checks
    if origin is tuple:
        args = get_args(tp)
        item, item_checks = describe(args[0])
        if len(args) != 2 or any(describe(a) != (item, item_checks) for a in args):
            raise Unwritten(f"plan_reference: no words for the tuple {tp!r}")
        checks = _constraints(metadata, "item")
        if item_checks:
            checks.append("each: " + ", ".join(item_checks))
        return f"pair of {_PLURAL.get(item, item)}", checks
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in get_args(tp)), _constraints(metadata, "item")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _anchor(tp), _constraints(metadata, "item")
    checks = _constraints(metadata, "character")
    names = {str: "text", int: "whole number", bool: "`true` or `false`", dt.date: "date (`YYYY-MM-DD`)"}
    if tp not in names:
        raise Unwritten(f"plan_reference: no words for the type {tp!r}")
    name = names[tp]
    for meta in metadata:
        if isinstance(meta, StringConstraints) and meta.pattern in PATTERNS:
            name = PATTERNS[meta.pattern][0]
    return name, checks


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        if value == "":
            return '`""` (empty)'
        # Quoted as the file should have it: times always, and anything YAML would misread.
        quote = ":" in value or yaml.safe_load(value) != value
        return f'`"{value}"`' if quote else f"`{value}`"
    return f"`{value}`"


def default_words(info: FieldInfo, doc: Doc) -> str:
    if info.is_required():
        return "—"
    factory = info.default_factory
    if factory is list:
        words = "none (`[]`)"
    elif isinstance(factory, type) and issubclass(factory, BaseModel):
        words = "see " + _anchor(factory)
    elif factory is not None:
        raise Unwritten(f"plan_reference: no words for the default factory {factory!r}")
    elif info.default is None:
        words = "none"
    else:
        words = _yaml_value(info.default)
    return f"{words} ({doc.default})" if doc.default else words


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def field_row(path: str, name: str, info: FieldInfo) -> str:
    key = _join(path, name)
    if key not in FIELDS:
        raise Unwritten(f"plan_reference: no entry for {key!r}; add it to FIELDS in data/plan_reference.py")
    doc = FIELDS[key]
    type_words, checks = describe(info.annotation, tuple(info.metadata))
    if doc.check:
        checks.append(doc.check)
    cells = [
        f"`{name}`",
        type_words,
        "**yes**" if info.is_required() else "no",
        default_words(info, doc),
        "; ".join(checks) or "—",
        doc.what,
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def model_section(path: str, model: type[BaseModel]) -> str:
    name = model.__name__
    if name not in MODELS:
        raise Unwritten(f"plan_reference: no words for the model {name}; add them to MODELS")
    if model.model_config.get("extra") != "forbid":
        raise Unwritten(f"plan_reference: {name} accepts unknown fields; the intro says no model does")
    where = "the top of the file" if not path else f"`{path}`"
    lines = [
        f"### {name}",
        "",
        f"{MODELS[name]} Where: {where}.",
        "",
        "| Field | Type | Required | Default | Checks | What it is for |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [field_row(path, field, info) for field, info in model.model_fields.items()]
    if name in MODEL_CHECKS:
        lines += ["", "Checks across fields:", ""]
        lines += [f"- {check}" for check in MODEL_CHECKS[name]]
    return "\n".join(lines) + "\n"


def templates_section() -> str:
    lines = [
        "## Task templates",
        "",
        "A task's `template` is one of these, from `data/library/tasks.yml` (a clinic may edit",
        "the wording or add templates there). The line on why this kind of task helps is shown",
        "after the therapist's own rationale. A template with a guided worksheet",
        "(`data/library/worksheets.yml`) is done in the chat one question at a time when the",
        'patient chooses "Do it now, with me"; for the others the bot shows the task\'s',
        "`instructions`, or the template's own when the task has none. Each template also has",
        "a worked example and a typical length, for the therapist setting the task.",
        "",
        "| `template` | Name | Guided worksheet | Typical minutes | Why this kind of task helps |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, template in task_templates().items():
        why = " ".join(template.why.split())
        sheet = f"`{template.worksheet}`" if template.worksheet else "no"
        lines.append(f"| `{key}` | {_cell(template.name)} | {sheet} | {template.minutes} | {_cell(why)} |")
    return "\n".join(lines) + "\n"


def _yaml_block(text: str) -> str:
    return "```yaml\n" + text.rstrip("\n") + "\n```\n"


def _checked_example(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    try:
        parse_plan(yaml.safe_load(text))
    except PlanError as error:
        raise Unwritten(f"plan_reference: {path.relative_to(ROOT)} does not validate: {error}") from None
    return text


def problems_section() -> str:
    try:
        parse_plan(yaml.safe_load(BROKEN_EXAMPLE))
    except PlanError as error:
        problems = error.problems
    else:
        raise Unwritten("plan_reference: BROKEN_EXAMPLE validates; it should show problems")
    said = [f"plan.yml: {len(problems)} problem(s); nothing was written."]
    said += [f"  {problem}" for problem in problems]
    return (
        PROBLEMS_INTRO.format(count=f"{len(problems)} problems")
        + INVALID_MARK
        + "\n"
        + _yaml_block(BROKEN_EXAMPLE)
        + "\n`coach plan validate plan.yml` says:\n\n```text\n"
        + "\n".join(said)
        + "\n```\n"
    )


def render() -> str:
    for key in FIELDS:
        if key not in field_paths():
            raise Unwritten(f"plan_reference: FIELDS has {key!r}, which the schema doesn't")
    parts = [
        INTRO.format(regenerate=REGENERATE),
        _yaml_block(_checked_example(MINIMAL_EXAMPLE)),
        "\n## Every field\n\n",
        "Each part of the file, from the top. *Required* fields have no default; every other\n"
        "field may be left out.\n\n",
        "\n".join(model_section(path, model) for path, model in walk()),
        "\n",
        templates_section(),
        "\n## A plan with every field\n\n",
        "Every field set, with invented people (`docs/examples/full-plan.yml`). `data/demo/plan.yml`\n"
        "is the plan `make run` loads for the terminal chat.\n\n",
        _yaml_block(_checked_example(FULL_EXAMPLE)),
        "\n",
        problems_section(),
    ]
    return "".join(parts)


def main() -> int:
    try:
        text = render()
    except Unwritten as gap:
        print(gap, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
