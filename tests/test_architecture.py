"""The dependency rules the README draws, checked on the source: packages depend one way,
and no module imports itself back through others."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each package and the product packages it may import (the README's "How the code is laid out").
ALLOWED = {
    "coach": {"bot", "scheduler", "messaging", "data"},  # the composition root
    "bot": {"messaging", "data"},
    "scheduler": {"messaging", "data"},
    "actions": {"data"},
    "messaging": set(),
    "data": set(),
}


def modules() -> dict[str, Path]:
    found = {}
    for package in ALLOWED:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic loads them by path
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(found: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the product modules it imports (anywhere in it, functions included). `from a
    import b` is an import of `a.b` when that is a module, otherwise of `a`."""
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in found.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in found else node.module
                    for alias in node.names
                ]
            else:
                continue
            graph[name] |= {t for t in targets if t in found and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_packages_depend_one_way():
    graph = imports(modules())
    wrong = sorted(
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if (a := source.split(".")[0]) != (b := target.split(".")[0]) and b not in ALLOWED[a]
    )
    assert wrong == []


def test_no_module_imports_itself_back():
    assert cycles(imports(modules())) == []


def test_the_checks_see_what_they_should():
    """Guards against a check that cannot fail: a made-up cycle and a wrong import are found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = imports(modules())
    assert "messaging.rasa_client" in graph["scheduler.jobs"]
    assert len(graph) > 50


# data/ in layers, each importing only its own layer and those below it (the README's
# "How the code depends on itself"). A new module must be given its layer here.
DATA_LAYERS = {
    # settings and logging: read by everything, import nothing of ours
    "base": {"data", "data.settings", "data.logging_setup"},
    # what the clinic reads and edits, and the parsers of what people write: no database
    # (and the planner: pure rules for when a task's nudges fall, shared by scheduler/ and the report)
    "content": {
        "data.wording",
        "data.library",
        "data.library.schema",
        "data.plan_schema",
        "data.timeparse",
        "data.validation_errors",
        "data.zones",
        "data.schedule_words",
        "data.planner",
    },
    # the engine, the tables, migrations, and one module of queries per table or rule
    "persistence": {
        "data.db",
        "data.models",
        "data.audit",
        "data.desk",
        "data.task_changes",
        "data.migrate",
        "data.barriers",
        "data.chat_messages",
        "data.checkins",
        "data.inbox",
        "data.invites",
        "data.nudge_log",
        "data.nudge_targets",
        "data.patients",
        "data.pending_erasures",
        "data.rasa_tracker",
        "data.safety_events",
        "data.schedule_changes",
        "data.scheduler_lease",
        "data.tasks",
        "data.unreachable",
        "data.worksheets",
    },
    # what the product does with them: care plans, erasure, export, the report, retention
    "services": {
        "data.assigning",
        "data.care_plans",
        "data.digest",
        "data.enrolment",
        "data.introductions",
        "data.erasure",
        "data.export",
        "data.occurrences",
        "data.plan_reference",
        "data.report",
        "data.report_csv",
        "data.retention",
    },
}
LAYER_ORDER = ["base", "content", "persistence", "services"]


def test_data_is_in_layers():
    layer_of = {module: layer for layer, members in DATA_LAYERS.items() for module in members}
    found = [name for name in modules() if name.split(".")[0] == "data"]
    assert sorted(m for m in found if m not in layer_of) == [], "give each new data module its layer"
    graph = imports(modules())
    upward = sorted(
        f"{source} ({layer_of[source]}) imports {target} ({layer_of[target]})"
        for source in found
        for target in graph.get(source, ())
        if LAYER_ORDER.index(layer_of[target]) > LAYER_ORDER.index(layer_of[source])
    )
    assert upward == []


# What builds or runs SQL: outside data/ none of it may appear (the README's "All SQL lives
# in data/"). Sessions are passed around and handed to data/'s functions, never queried.
SQL_NAMES = {"select", "update", "delete", "insert", "text", "func", "and_", "or_", "exists"}
SESSION_QUERIES = {"execute", "scalar", "scalars", "get", "get_one", "query", "add", "delete", "merge"}


def sql_outside_data(found: dict[str, Path]) -> list[str]:
    wrong = []
    for name, path in found.items():
        if name.split(".")[0] == "data":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                wrong += [f"{name} imports sqlalchemy's {a.name}" for a in node.names if a.name in SQL_NAMES]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SESSION_QUERIES
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in {"session", "s"}
            ):
                wrong.append(f"{name}:{node.lineno} calls session.{node.func.attr}")
    return sorted(wrong)


def test_all_sql_lives_in_data():
    assert sql_outside_data(modules()) == []


def test_the_sql_check_sees_sql(tmp_path):
    """Guards against a check that cannot fail."""
    module = tmp_path / "m.py"
    module.write_text("from sqlalchemy import select\n\ndef f(session):\n    return session.get(1)\n")
    assert sql_outside_data({"bot.m": module}) == [
        "bot.m imports sqlalchemy's select",
        "bot.m:4 calls session.get",
    ]
