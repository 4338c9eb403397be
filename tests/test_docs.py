"""The documentation travels with the code and says what the code does.

- docs/care-plan.md is exactly what data/plan_reference.py makes of the schema;
- every model and field of data/plan_schema.py is in it, with words for every check;
- the example plans in the docs validate, and the full one sets every field;
- no file in the repository points outside it;
- the README links every guide in docs/, and every link in the docs leads somewhere.
"""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from data import plan_reference, plan_schema
from data.plan_schema import PlanError, parse_plan

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "care-plan.md"
README = ROOT / "README.md"
GUIDES = ["care-plan.md", "patient-first-week.md", "therapist-first-day.md", "operations.md"]


def schema_models() -> list[type[BaseModel]]:
    """Every public model defined in data/plan_schema.py, reachable from CarePlan or not."""
    return [
        obj
        for name, obj in vars(plan_schema).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseModel)
        and obj.__module__ == plan_schema.__name__
        and not name.startswith("_")
    ]


def sections(text: str) -> dict[str, str]:
    """The reference's "### Name" sections, by name."""
    found: dict[str, str] = {}
    for chunk in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = chunk.partition("\n")
        found[heading.strip()] = body.split("\n## ", 1)[0]
    return found


def yaml_blocks(text: str) -> list[tuple[str, bool]]:
    """Each ```yaml block with whether it is marked invalid on purpose."""
    blocks = []
    for match in re.finditer(r"^```yaml\n(.*?)^```$", text, flags=re.M | re.S):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        blocks.append((match.group(1), before.strip() == plan_reference.INVALID_MARK))
    return blocks


# --- (a) the reference cannot drift ----------------------------------------------------------


def test_the_reference_is_what_the_schema_generates():
    committed = REFERENCE.read_text(encoding="utf-8") if REFERENCE.exists() else ""
    assert committed == plan_reference.render(), (
        "docs/care-plan.md is out of date with data/plan_schema.py (or data/plan_reference.py, "
        f"or an example in docs/examples/). Regenerate it: {plan_reference.REGENERATE}"
    )


# --- (b) every field, every check -------------------------------------------------------------


def test_every_model_and_field_of_the_schema_is_in_the_reference():
    found = sections(REFERENCE.read_text(encoding="utf-8"))
    models = schema_models()
    assert {m.__name__ for m in models} >= {"CarePlan", "Clinic", "Patient", "Task", "Schedule"}
    for model in models:
        assert model.__name__ in found, f"no section for the model {model.__name__}"
        rows = found[model.__name__]
        for field in model.model_fields:
            assert f"\n| `{field}` |" in rows, f"{model.__name__}.{field} is not in docs/care-plan.md"


def test_every_model_is_part_of_the_file():
    walked = {model for _, model in plan_reference.walk()}
    assert set(schema_models()) <= walked, "a model in plan_schema.py is not reachable from CarePlan"


def test_every_field_has_words_and_no_words_are_left_over():
    paths = plan_reference.field_paths()
    assert len(paths) == len(set(paths))
    missing = sorted(set(paths) - set(plan_reference.FIELDS))
    stale = sorted(set(plan_reference.FIELDS) - set(paths))
    assert not missing, f"add these to FIELDS in data/plan_reference.py: {missing}"
    assert not stale, f"these FIELDS entries name no field of the schema: {stale}"
    assert all(doc.what.strip() for doc in plan_reference.FIELDS.values())


def test_every_validator_has_its_check_in_words():
    for path, model in plan_reference.walk():
        decorators = model.__pydantic_decorators__
        for validator in decorators.field_validators.values():
            for field in validator.info.fields:
                key = f"{path}.{field}" if path else field
                assert plan_reference.FIELDS[key].check, f"{key} has a validator: say what it checks"
        if decorators.model_validators:
            assert plan_reference.MODEL_CHECKS.get(model.__name__), (
                f"{model.__name__} has a model validator: add its checks to MODEL_CHECKS"
            )


def test_cross_checks_are_in_words():
    # parse_plan's cross-checks are not in the models: the words are kept next to the fields.
    checks = {key: doc.check for key, doc in plan_reference.FIELDS.items()}
    assert "no other therapist" in checks["therapists[].id"]
    assert "no other patient" in checks["patients[].id"]
    assert "therapist with this" in checks["patients[].therapist"]
    assert "no other task" in checks["patients[].tasks[].id"]
    assert "same code" in checks["patients[].invite_code"]
    assert "same code" in checks["therapists[].invite_code"]


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (plan_schema.Identifier, "identifier"),
        (plan_schema.Clock, "time"),
        (list[plan_schema.Clock], "list of times"),
        (plan_schema.Patient, "[Patient](#patient)"),
    ],
)
def test_types_are_put_into_words(annotation, words):
    assert plan_reference.describe(annotation)[0] == words


# --- (c) the examples validate ----------------------------------------------------------------


def whole_plans(path: Path) -> list[tuple[str, bool]]:
    return [
        (block, invalid)
        for block, invalid in yaml_blocks(path.read_text(encoding="utf-8"))
        if isinstance(yaml.safe_load(block), dict) and "clinic" in yaml.safe_load(block)
    ]


def test_the_example_plans_in_the_reference_validate():
    plans = whole_plans(REFERENCE)
    assert sum(not invalid for _, invalid in plans) >= 2, "the minimal and the full example"
    for block, invalid in plans:
        if invalid:
            with pytest.raises(PlanError):
                parse_plan(yaml.safe_load(block))
        else:
            parse_plan(yaml.safe_load(block))


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_yaml_block_in_the_docs_reads_and_every_plan_validates(path):
    for block, invalid in yaml_blocks(path.read_text(encoding="utf-8")):
        raw = yaml.safe_load(block)
        if isinstance(raw, dict) and "clinic" in raw and not invalid:
            parse_plan(raw)


@pytest.mark.parametrize("path", sorted((DOCS / "examples").glob("*.yml")), ids=lambda p: p.name)
def test_the_example_files_validate(path):
    plan_schema.load_plan(path)


def paths_set(raw: Any, path: str = "") -> set[str]:
    """The field paths a loaded plan sets, in FIELDS' spelling."""
    found: set[str] = set()
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = f"{path}.{key}" if path else str(key)
            found.add(here)
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                for item in value:
                    found |= paths_set(item, here + "[]")
            else:
                found |= paths_set(value, here)
    return found


def test_the_full_example_sets_every_field():
    raw = yaml.safe_load(plan_reference.FULL_EXAMPLE.read_text(encoding="utf-8"))
    unset = sorted(set(plan_reference.field_paths()) - paths_set(raw))
    assert not unset, f"docs/examples/full-plan.yml leaves out: {unset}"


def test_the_examples_use_only_invented_people():
    fixture = yaml.safe_load((ROOT / "tests" / "fixtures" / "plan.yml").read_text(encoding="utf-8"))
    invented = {p["display_name"] for p in fixture["patients"]} | {t["name"] for t in fixture["therapists"]}
    for path in (plan_reference.MINIMAL_EXAMPLE, plan_reference.FULL_EXAMPLE):
        plan = plan_schema.load_plan(path)
        for person in [*plan.patients, *plan.therapists]:
            name = getattr(person, "display_name", None) or person.name
            assert name in invented, f"{path.name}: {name!r} is not one of the fixtures' invented names"
        for line in plan.clinic.crisis_resources:
            assert re.fullmatch(r"[^0-9]*[0 ]*[^0-9]*", line), f"{path.name}: a real-looking number: {line!r}"


# --- (d) nothing points outside the repository --------------------------------------------------

# The shared folder beside a checkout, and absolute paths into one machine's directories.
# (Spelled so that this file does not match itself.)
_OUTSIDE = re.compile(
    r"\.\.[/\\]shared|(?<![\w.-])shared[/]|(?<![\w.~:/-])/(?:work|root|home|Users|mnt|media)[/]"
)
# A relative path that climbs: checked against the folder it is read from.
_CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+)")
_CD = re.compile(r"\bcd\s+([\w./-]+)\s*&&")
# Known and reported: the Makefile looks for the build machine's pyenv Python 3.10.13
# before python3.10 on PATH. ("@" for "/" here and below, so this file does not match itself.)
_ALLOWED = {("Makefile", "@root@.pyenv@versions@3.10.13@bin@python".replace("@", "/"))}


def repository_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".venv-rasa", "var", "__pycache__"}
        names = [
            str(p.relative_to(ROOT))
            for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in names if (ROOT / name).is_file() and not (ROOT / name).is_symlink()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines numbered from 1, a line ending in a backslash joined to the next (a shell
    command carried on, whose `cd` still holds)."""
    lines: list[tuple[int, str]] = []
    carried = False
    for number, line in enumerate(text.splitlines(), 1):
        if carried:
            lines[-1] = (lines[-1][0], lines[-1][1][:-1] + " " + line)
        else:
            lines.append((number, line))
        carried = line.endswith("\\")
    return lines


def outside_references(path: Path, text: str) -> list[str]:
    rel = path.relative_to(ROOT).as_posix()
    found = []
    for number, line in logical_lines(text):
        for match in _OUTSIDE.finditer(line):
            rest = line[match.start() :].split()[0] if line[match.start() :].split() else ""
            if not any(rel == f and rest.startswith(s) for f, s in _ALLOWED):
                found.append(f"{rel}:{number}: {line.strip()}")
        for match in _CLIMB.finditer(line):
            cd = [m for m in _CD.finditer(line) if m.end() <= match.start()]
            base = path.parent / cd[-1].group(1) if cd else path.parent
            depth = len(base.resolve().relative_to(ROOT).parts) if base.resolve().is_relative_to(ROOT) else -1
            if match.group(1).count("../") > depth:
                found.append(f"{rel}:{number}: {line.strip()}")
    return found


def test_no_file_points_outside_the_repository():
    files = repository_files()
    assert README in files and REFERENCE in files
    found = []
    for path in files:
        text = text_of(path)
        if text is not None:
            found += outside_references(path, text)
    assert not found, "paths outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "see ..@shared@notes.md",
        "read shared@DEVELOPERS.md first",
        "copied from @work@main@README.md",
        "ls @home@someone@bridgework",
        "[notes](..@..@elsewhere.md)",
        "[notes](..@elsewhere.md)",
    ],
)
def test_the_outside_check_catches(line):
    assert outside_references(README, line.replace("@", "/"))


@pytest.mark.parametrize(
    "line",
    [
        "cd rasa_project && ../.venv-rasa/bin/rasa test",
        "cached under ~/.cache/bridgework",
        "https://example.org/home/page",
        "the reflection_shared slot",
    ],
)
def test_the_outside_check_lets_pass(line):
    assert not outside_references(README, line)


# --- (e) links -------------------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    links = []
    for target in _LINK.findall(text):
        target = target.split("#", 1)[0]
        if target and not re.match(r"[a-z]+:", target):
            links.append(target)
    return links


def test_the_readme_links_every_guide_and_each_exists():
    linked = {t for t in relative_links(README.read_text(encoding="utf-8")) if t.startswith("docs/")}
    for target in linked:
        assert (ROOT / target).is_file(), f"README.md links {target}, which does not exist"
    for name in GUIDES:
        assert f"docs/{name}" in linked, f"README.md does not link docs/{name}"
    for path in DOCS.glob("*.md"):
        assert f"docs/{path.name}" in linked, f"README.md does not link docs/{path.name}"


@pytest.mark.parametrize("path", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_every_link_leads_to_a_file_in_the_repository(path):
    for target in relative_links(path.read_text(encoding="utf-8")):
        resolved = (path.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name} links outside the repository: {target}"
        assert resolved.exists(), f"{path.name} links {target}, which does not exist"
