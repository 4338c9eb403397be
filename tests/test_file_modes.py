"""What coach creates on disk is private from the start: directories 0700, files 0600."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# As `make run` does: coach migrates, writes Rasa's endpoints and starts children with logs.
SCRIPT = """
import sys
from pathlib import Path
from coach.cli import main
from coach.processes import Stack, write_endpoints
from data.settings import Settings

var = Path(sys.argv[1])
main(["db", "upgrade"])
settings = Settings(_env_file=None, database_url=f"sqlite:///{var / 'app.db'}",
                    rasa_tracker_url=f"sqlite:///{var / 'tracker.db'}")
write_endpoints(settings, var / "logs" / "rasa")
child = Stack().start("child", ["true"], {}, var, var / "logs")
child.process.wait()
"""


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_var_databases_logs_and_endpoints_are_private(tmp_path):
    var = tmp_path / "var"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{var / 'app.db'}"}
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(var)], env=env, cwd=ROOT, check=True, capture_output=True
    )
    created = [var, *var.rglob("*")]
    assert {p.name for p in created} >= {"var", "app.db", "logs", "rasa", "endpoints.yml", "child.log"}
    for path in created:
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(_mode(path)))
