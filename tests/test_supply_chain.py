"""Supply chain: what gets installed is exactly what was reviewed.

Every lock pins each package to one version with the sha256 of its files and is installed
with --require-hashes; the test tools have a lock of their own that the production image
never installs; the image's base is pinned by digest; pyproject.toml names every
third-party package the product imports.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import re
import shlex
import sys
from importlib.metadata import distributions, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
LOCKS = sorted(REQUIREMENTS.glob("*.lock"))
PRODUCT_PACKAGES = ("bot", "messaging", "data", "actions", "scheduler", "coach")
TEST_TOOLS = {"pytest", "pytest-timeout", "pytest-xdist", "hypothesis", "ruff", "mypy", "types-pyyaml"}
PIN_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)(?P<hashes>(?: --hash=\S+)+)$"
)
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


# --- the checks, as functions, so that each is also shown failing on a bad example ----------


def lock_problems(text: str) -> list[str]:
    """Each line of a lock that is not `name==version` with sha256 hashes, or a repeated name."""
    problems, seen = [], set()
    for line in re.sub(r"\\\n", " ", text).splitlines():  # continuation lines joined
        line = " ".join(line.split())
        if not line or line.startswith("#"):
            continue
        match = PIN_LINE.match(line)
        if not match:
            problems.append(f"not `name==version --hash=sha256:...`: {line[:80]}")
            continue
        bad = [h for h in match["hashes"].split() if not HASH.match(h)]
        if bad:
            problems.append(f"{match['name']}: not a sha256 of 64 hex digits: {bad[0]}")
        name = canonicalize_name(match["name"])
        if name in seen:
            problems.append(f"{match['name']} is pinned twice")
        seen.add(name)
    if not seen:
        problems.append("pins nothing")
    return problems


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in re.sub(r"\\\n", " ", path.read_text()).splitlines():
        match = PIN_LINE.match(" ".join(line.split()))
        if match:
            out[canonicalize_name(match["name"])] = match["version"]
    return out


def recipe_commands(makefile: str) -> list[str]:
    """The Makefile's recipe lines, its `NAME :=` variables expanded."""
    variables = dict(re.findall(r"^([A-Z_]+) :?= ?(.*)$", makefile, re.M))
    lines = []
    for line in makefile.splitlines():
        if line.startswith("\t"):
            for _ in range(3):
                line = re.sub(r"\$\(([A-Z_]+)\)", lambda m: variables.get(m[1], m[0]), line)
            lines.append(line.strip())
    return lines


def pip_install_problems(command: str) -> list[str]:
    """A `pip install` that could take a file nobody checked: from a lock without
    --require-hashes, or anything else that may reach an index."""
    words = shlex.split(command.split("&&")[0].split("2>&1")[0])
    if "install" not in words:
        return []
    if "-r" in words:
        return [] if "--require-hashes" in words else [f"a lock without --require-hashes: {command}"]
    needed = {"--no-deps", "--no-index", "--no-build-isolation"}
    missing = needed - set(words)
    return [f"{command}: without {sorted(missing)}"] if missing else []


def dockerfile_instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, comments dropped and continuation lines joined."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [" ".join(i.split()) for i in re.sub(r"\\\n", " ", "\n".join(lines)).splitlines() if i.strip()]


def third_party_imports(directories: list[Path]) -> dict[str, set[str]]:
    """Top-level names of absolute imports (including those inside functions), per file."""
    found: dict[str, set[str]] = {}
    for directory in directories:
        for path in directory.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PRODUCT_PACKAGES:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    found.pop("__future__", None)
    return found


@functools.cache
def module_providers() -> dict[str, set[str]]:
    """Top-level module name -> the installed distributions that provide it.

    packages_distributions() reads top_level.txt, which Python 3.10's version only knows;
    many wheels (maturin, meson, hatchling) have none, so their modules are also inferred
    from the files they installed, as Python 3.11's packages_distributions() does."""
    providers = {module: set(names) for module, names in packages_distributions().items()}
    for dist in distributions():
        tops = set()
        for row in (dist.read_text("RECORD") or "").splitlines():
            path = row.rsplit(",", 2)[0]
            top, slash, _ = path.partition("/")
            if not slash and not top.endswith((".py", ".so", ".pyd")):
                continue
            tops.add(top if slash else top.split(".")[0])
        for top in filter(str.isidentifier, tops):
            providers.setdefault(top, set()).add(dist.metadata["Name"])
    return providers


def undeclared_imports(imports: dict[str, set[str]], dependencies: list[str]) -> dict[str, str]:
    """Each imported module whose distribution is not among `dependencies`, and why."""
    declared = {canonicalize_name(Requirement(d).name) for d in dependencies}
    providers = module_providers()
    problems = {}
    for module, files in sorted(imports.items()):
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions:
            problems[module] = f"imported by {sorted(files)} but no installed distribution provides it"
        elif not distributions & declared:
            problems[module] = f"imported by {sorted(files)}; {sorted(distributions)} not in pyproject"
    return problems


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# --- the locks -------------------------------------------------------------------------------


def test_the_locks_are_all_there() -> None:
    assert {p.name for p in LOCKS} >= {"app.lock", "test.lock", "encoder.lock", "rasa.lock", "pip.lock"}


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_pin_is_one_version_with_its_hashes(lock: Path) -> None:
    assert lock_problems(lock.read_text()) == []


def test_a_pin_without_hashes_or_with_a_bad_one_is_caught() -> None:
    good = "aiofiles==25.1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"
    assert lock_problems("# a comment\n" + good) == []
    assert lock_problems("aiofiles==25.1.0\n")
    assert lock_problems("aiofiles>=25 --hash=sha256:" + "a" * 64 + "\n")
    assert lock_problems("aiofiles==25.1.0 --hash=sha256:" + "a" * 63 + "\n")
    assert lock_problems("aiofiles==25.1.0 --hash=md5:" + "a" * 32 + "\n")
    assert lock_problems(good + good)
    assert lock_problems("# only a comment\n")


def test_no_test_tool_is_in_the_product_lock() -> None:
    app = pins(REQUIREMENTS / "app.lock")
    assert not TEST_TOOLS & set(app), "test tools belong in requirements/test.lock"
    test = pins(REQUIREMENTS / "test.lock")
    assert set(test) >= TEST_TOOLS
    assert not set(app) & set(test), "a package pinned in both locks could be pinned twice"


def test_the_test_extra_names_the_test_tools() -> None:
    extra = {
        canonicalize_name(Requirement(r).name)
        for r in pyproject()["project"]["optional-dependencies"]["test"]
    }
    assert extra == TEST_TOOLS


# --- installing them -------------------------------------------------------------------------


def test_the_makefile_installs_every_lock_with_require_hashes() -> None:
    commands = [c for c in recipe_commands((ROOT / "Makefile").read_text()) if "pip install" in c]
    problems = [p for c in commands for p in pip_install_problems(c)]
    assert problems == []
    installed = " ".join(commands)
    for lock in ("pip", "app", "test", "encoder", "rasa"):
        assert f"-r requirements/{lock}.lock" in installed


def test_an_unhashed_install_line_is_caught() -> None:
    assert pip_install_problems(".venv/bin/pip install --quiet -r requirements/app.lock 2>&1 | cat")
    assert pip_install_problems('.venv/bin/pip install "pip<24.1"')
    assert pip_install_problems(".venv/bin/pip install --no-deps -e .")
    assert not pip_install_problems(".venv/bin/pip install --require-hashes -r requirements/app.lock")
    assert not pip_install_problems(".venv/bin/pip install --no-deps --no-build-isolation --no-index -e .")


def test_the_image_base_is_pinned_by_digest() -> None:
    froms = [
        i for i in dockerfile_instructions((ROOT / "Dockerfile").read_text()) if i.upper().startswith("FROM ")
    ]
    assert froms
    for instruction in froms:
        assert re.search(r"@sha256:[0-9a-f]{64}(\s|$)", instruction), instruction


def test_the_image_installs_only_the_product_locks_with_hashes() -> None:
    instructions = dockerfile_instructions((ROOT / "Dockerfile").read_text())
    assert not [i for i in instructions if "test.lock" in i], "the test tools must stay out of the image"
    installs = [c.strip() for i in instructions if i.startswith("RUN ") for c in i[4:].split("&&")]
    installs = [c for c in installs if c.startswith("pip install")]
    assert [p for c in installs for p in pip_install_problems(c)] == []
    text = " ".join(installs)
    assert "-r requirements/app.lock" in text and "-r requirements/encoder.lock" in text


def test_dockerignore_keeps_the_locks_in_the_build_context() -> None:
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    for lock in ("requirements/app.lock", "requirements/encoder.lock"):
        prefixes = [lock, "requirements"]
        hidden = [p for p in patterns for path in prefixes if fnmatch.fnmatch(path, p)]
        assert hidden == [], f"{lock} is hidden from `docker build` by {hidden}"


# --- pyproject names every direct dependency -------------------------------------------------


def test_every_third_party_import_is_a_declared_dependency() -> None:
    imports = third_party_imports([ROOT / p for p in PRODUCT_PACKAGES])
    assert {"sklearn", "telegram", "sqlalchemy"} <= set(imports)  # the walk sees the code
    assert undeclared_imports(imports, pyproject()["project"]["dependencies"]) == {}


def test_a_missing_dependency_is_caught() -> None:
    imports = third_party_imports([ROOT / p for p in PRODUCT_PACKAGES])
    dependencies = pyproject()["project"]["dependencies"]
    without = [d for d in dependencies if canonicalize_name(Requirement(d).name) != "scikit-learn"]
    assert len(without) == len(dependencies) - 1
    assert set(undeclared_imports(imports, without)) == {"sklearn"}
