"""Starting, watching and stopping the child processes: Rasa and the action server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

from coach.logfiles import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, RotatingLog, copy_to_log
from coach.model import rasa_env
from coach.paths import RASA_PROJECT, ROOT, VAR, rasa_bin
from data.db import normalise_url
from data.settings import Settings


def tracker_store_config(url: str) -> dict:
    """Rasa's SQL tracker store settings from a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        return {"type": "SQL", "dialect": "sqlite", "db": parsed.database}
    return {
        "type": "SQL",
        "dialect": "postgresql",
        "url": parsed.host,
        "port": parsed.port or 5432,
        "db": parsed.database,
        "username": parsed.username,
        "password": parsed.password or "",
    }


def write_endpoints(settings: Settings, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "endpoints.yml"
    config = {
        # Rasa fills ${ACTION_SERVER_TOKEN} from its environment: the file holds no secret of it.
        "action_endpoint": {
            "url": settings.action_server_url,
            "headers": {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"},
        },
        "tracker_store": tracker_store_config(normalise_url(settings.rasa_tracker_url)),
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    os.chmod(path, 0o600)  # may hold a database password
    return path


def child_env(settings: Settings) -> dict[str, str]:
    env = rasa_env()
    env["DATABASE_URL"] = settings.database_url
    env["ACTION_SERVER_URL"] = settings.action_server_url
    env["RASA_TRACKER_URL"] = settings.rasa_tracker_url
    if settings.rasa_token is not None:
        # Rasa's launcher and its channel read it here: never on a command line.
        env["RASA_TOKEN"] = settings.rasa_token.get_secret_value()
    if settings.action_server_token is None:
        raise SystemExit("ACTION_SERVER_TOKEN is not set: Rasa and the action server share it.")
    env["ACTION_SERVER_TOKEN"] = settings.action_server_token.get_secret_value()
    # Rasa reads LOG_LEVEL too, and at DEBUG it logs every message the patient
    # sends: it never gets more than INFO.
    level = settings.log_level.upper()
    env["LOG_LEVEL"] = level if level in ("WARNING", "ERROR", "CRITICAL") else "INFO"
    return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    def exited(self) -> int | None:
        return self.process.poll()


@dataclass
class Stack:
    children: list[Child] = field(default_factory=list)
    # Each child's log file is cut at this size, keeping this many old ones (coach/logfiles.py).
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_backups: int = DEFAULT_BACKUPS
    _copiers: list[threading.Thread] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path, log_dir: Path) -> Child:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        log = RotatingLog(log_path, max_bytes=self.log_max_bytes, backups=self.log_backups)
        process = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stdout is not None
        self._copiers.append(copy_to_log(process.stdout, log))
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if c.exited() is not None]

    def stop(self, timeout: float = 15) -> None:
        for child in self.children:
            if child.exited() is None:
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for copier in self._copiers:  # the last lines reach the files
            copier.join(timeout=5)


def start_actions(stack: Stack, settings: Settings, log_dir: Path) -> Child:
    return stack.start(
        "actions", [sys.executable, "-m", "actions.server"], child_env(settings), ROOT, log_dir
    )


def start_rasa(stack: Stack, settings: Settings, model: Path, log_dir: Path) -> Child:
    if settings.rasa_token is None:
        raise SystemExit("RASA_TOKEN is not set: Rasa's HTTP API must not run without a token.")
    endpoints = write_endpoints(settings, log_dir / "rasa")
    rasa_url = urlparse(settings.rasa_url)
    # rasa_project/launch.py hands Rasa its token from the environment: `ps` never shows it.
    cmd = [
        str(rasa_bin().with_name("python")),
        "launch.py",
        "run",
        "--model",
        str(model),
        "--enable-api",
        "--interface",
        rasa_url.hostname or "127.0.0.1",
        "--port",
        str(rasa_url.port or 5005),
        "--endpoints",
        str(endpoints),
        "--credentials",
        str(RASA_PROJECT / "credentials.yml"),
    ]
    return stack.start("rasa", cmd, child_env(settings), RASA_PROJECT, log_dir)


def wait_until_up(url: str, child: Child, timeout: float) -> float:
    """Poll `url` until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if child.exited() is not None:
            raise RuntimeError(f"{child.name} exited with {child.exited()}; see {child.log_path}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{child.name} did not come up within {timeout:.0f}s; see {child.log_path}")


def actions_health_url(settings: Settings) -> str:
    parsed = urlparse(settings.action_server_url)
    return f"{parsed.scheme}://{parsed.netloc}/health"


def default_log_dir() -> Path:
    return VAR / "logs"
