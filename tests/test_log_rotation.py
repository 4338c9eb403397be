"""Log files stay within their cap: a child that writes a lot fills at most backups + 1 files."""

import sys

from coach.logfiles import RotatingLog
from coach.processes import Stack


def test_a_childs_output_is_cut_into_capped_files(tmp_path):
    stack = Stack(log_max_bytes=20_000, log_backups=2)
    line = "x" * 99
    script = f"for i in range(3000): print(i, {line!r})\nprint('the last line')"
    child = stack.start("chatty", [sys.executable, "-c", script], {}, tmp_path, tmp_path / "logs")
    child.process.wait(30)
    stack.stop()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["chatty.log", "chatty.log.1", "chatty.log.2"]  # about 300 kB written, 3 kept
    assert all((tmp_path / "logs" / f).stat().st_size <= 20_000 for f in files)
    assert (tmp_path / "logs" / "chatty.log").read_text().endswith("the last line\n")
    assert "2999 " in (tmp_path / "logs" / "chatty.log").read_text()  # nothing lost at the end


def test_no_backups_keeps_one_file(tmp_path):
    log = RotatingLog(tmp_path / "one.log", max_bytes=10, backups=0)
    for _ in range(5):
        log.write(b"12345678\n")
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["one.log"]
    assert (tmp_path / "one.log").read_bytes() == b"12345678\n"
