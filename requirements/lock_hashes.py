"""Writes the sha256 of every file PyPI holds for each pinned version into the lock files.

    python requirements/lock_hashes.py requirements/*.lock

Each `name==version` line (with or without hashes already) becomes

    name==version \\
        --hash=sha256:... \\
        --hash=sha256:...

listing every wheel and sdist of that exact version, so the locks install with
`pip install --require-hashes` on any platform. Comments are kept where they are.
Versions are never changed: to move a pin, edit its version and run this again.
The digests come from PyPI's JSON simple API (PEP 691); nothing is downloaded.
Standard library only (packaging is taken from pip's vendored copy when absent).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version
except ImportError:  # a bare interpreter: pip vendors packaging
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import InvalidVersion, Version

INDEX = "https://pypi.org/simple"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
ARCHIVES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".tar")


def file_version(filename: str) -> Version | None:
    """The version a wheel or sdist file name carries, None for other files (eggs, exes)."""
    if filename.endswith(".whl"):
        text = filename[: -len(".whl")].split("-")[1]
    else:
        ext = next((e for e in ARCHIVES if filename.endswith(e)), None)
        if ext is None or "-" not in filename:
            return None
        text = filename[: -len(ext)].rsplit("-", 1)[1]
    try:
        return Version(text)
    except InvalidVersion:
        return None


def digests(name: str, version: str) -> list[str]:
    request = urllib.request.Request(  # noqa: S310 (a fixed https URL)
        f"{INDEX}/{canonicalize_name(name)}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        files = json.load(response)["files"]
    wanted = Version(version)
    found = sorted({f["hashes"]["sha256"] for f in files if file_version(f["filename"]) == wanted})
    if not found:
        raise SystemExit(f"PyPI lists no file for {name}=={version}")
    return found


def logical_lines(text: str) -> list[str]:
    """The file's lines with backslash continuations joined."""
    out, pending = [], ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append(pending + raw)
        pending = ""
    if pending:
        out.append(pending)
    return out


def rewrite(path: Path, pool: ThreadPoolExecutor) -> int:
    lines = logical_lines(path.read_text())
    pins = {i: PIN.match(line.strip()) for i, line in enumerate(lines)}
    pins = {i: m for i, m in pins.items() if m}
    jobs = {i: pool.submit(digests, m.group(1), m.group(2)) for i, m in pins.items()}
    out = []
    for i, line in enumerate(lines):
        if i not in pins:
            out.append(line.rstrip())
            continue
        requirement = line.split("--hash")[0].strip()  # markers, if any, stay
        hashes = [f"    --hash=sha256:{h}" for h in jobs[i].result()]
        out.append(" \\\n".join([requirement, *hashes]))
    path.write_text("\n".join(out).rstrip("\n") + "\n")
    return len(pins)


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    with ThreadPoolExecutor(max_workers=8) as pool:
        for name in argv:
            count = rewrite(Path(name), pool)
            print(f"{name}: {count} pins hashed")


if __name__ == "__main__":
    main(sys.argv[1:])
