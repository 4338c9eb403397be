"""Log files with a size cap: a child process's output, cut into at most `backups` old files.

The children (Rasa, the action server) write to a pipe; a thread here copies it into
`<name>.log`, and when that passes `max_bytes` it becomes `<name>.log.1` (the older ones
move up one, the oldest goes). So a long-running install never fills its disk with logs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO

DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_BACKUPS = 3


class RotatingLog:
    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS):
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._file = path.open("ab")

    def write(self, data: bytes) -> None:
        if self._file.tell() and self._file.tell() + len(data) > self._max_bytes:
            self._rotate()
        self._file.write(data)
        self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        for n in range(self._backups, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            newer = self.path.with_name(f"{self.path.name}.{n - 1}") if n > 1 else self.path
            if n == self._backups:
                older.unlink(missing_ok=True)
            if newer.exists():
                newer.rename(older)
        if not self._backups:
            self.path.unlink(missing_ok=True)
        self._file = self.path.open("ab")

    def close(self) -> None:
        self._file.close()


def copy_to_log(stream: IO[bytes], log: RotatingLog) -> threading.Thread:
    """Copy `stream` (a child's output) line by line into `log` until it ends."""

    def copy() -> None:
        try:
            for line in iter(stream.readline, b""):
                log.write(line)
        finally:
            log.close()
            stream.close()

    thread = threading.Thread(target=copy, name=f"log:{log.path.name}", daemon=True)
    thread.start()
    return thread
