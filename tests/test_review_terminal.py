"""The review and apply as a person runs them: the real command in a real pseudo-terminal
(80 x 24). Two reviews of one report at once are kept apart by the report's lock; apply's
question says how many groups were never reviewed."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time
from dataclasses import replace
from pathlib import Path

from review_helpers import synthetic_report

from dedupe import journal
from dedupe import report as report_mod

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07")


class Terminal:
    """`python -m dedupe ARGS` on a pseudo-terminal of 80 x 24."""

    def __init__(self, *args: str, cols: int = 80, rows: int = 24) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the command, on the terminal
            os.execvpe(sys.executable, [sys.executable, "-m", "dedupe", *args], env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.output = ""
        self.status: int | None = None

    def read_until(self, pattern: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while pattern not in self.text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never came; the screen said:\n{self.text()}")
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:  # the child is gone
                    break
        return self.text()

    def text(self) -> str:
        return " ".join(ANSI.sub("", self.output).split())

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    self.output += os.read(self.fd, 65536).decode("utf-8", "replace")
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"still running after {timeout} s:\n{self.text()}")


def locked(path: Path) -> bool:
    lock = journal.report_lock(str(path))
    try:
        lock.acquire()
    except journal.Locked:
        return True
    lock.release()
    return False


def test_a_second_review_of_one_report_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    report_mod.write(synthetic_report(tmp_path / "photos", 30), path)
    # Another dedupe (here: this test) holds the report: the review says so and stops.
    with journal.report_lock(str(path)):
        second = Terminal("review", "--report", str(path), "--thumbnails", "none")
        second.read_until("another dedupe is already working on the report")
        assert second.wait() == 1
    # A review holds the lock from start to end; an apply meanwhile is refused too.
    first = Terminal("review", "--report", str(path), "--thumbnails", "none")
    first.read_until("Group 1 (1 of 30)")
    assert locked(path)
    other = Terminal("review", "--report", str(path), "--thumbnails", "none")
    other.read_until("another dedupe is already working on the report")
    assert other.wait() == 1
    first.send("a")
    first.read_until("Group 2 (2 of 30)")
    first.send("s")
    assert first.wait() == 0
    assert not locked(path)
    saved = report_mod.read(path)
    assert [g.reviewed for g in saved.groups[:3]] == [True, False, False]


def test_one_report_by_another_path_is_the_same_report_to_its_lock(tmp_path: Path) -> None:
    """A folder reached through a symbolic link (~/Pictures -> /data/Pictures), a `..` after
    one, a symbolic link to the report: each is the report the review has open, so a second
    review or an apply through it is refused, not a second writer of its decisions."""
    real = tmp_path / "data"
    real.mkdir()
    path = real / "report.json"
    report_mod.write(synthetic_report(tmp_path / "photos", 6), path)
    (tmp_path / "pictures").symlink_to(real, target_is_directory=True)
    (real / "sub").mkdir()
    (tmp_path / "deep").symlink_to(real / "sub", target_is_directory=True)
    (real / "link.json").symlink_to(path)
    others = [
        tmp_path / "pictures" / "report.json",
        Path(f"{tmp_path}/deep/../report.json"),  # the folder above `sub`: `real`
        real / "link.json",
    ]
    for other in others:
        assert os.path.samefile(other, path)
        with journal.report_lock(str(path)):
            assert locked(other), other
    first = Terminal("review", "--report", str(path), "--thumbnails", "none")
    first.read_until("Group 1 (1 of 6)")
    second = Terminal("review", "--report", str(others[0]), "--thumbnails", "none")
    second.read_until("another dedupe is already working on the report")
    assert second.wait() == 1
    apply = Terminal("apply", "--report", str(others[1]), "--trash", "--yes")
    assert apply.wait() == 4, apply.text()
    assert "another dedupe is already working on the report" in apply.text()
    first.send("a")
    first.read_until("Group 2 (2 of 6)")
    first.send("s")
    assert first.wait() == 0
    assert [g.reviewed for g in report_mod.read(path).groups[:2]] == [True, False]


def test_a_review_saved_through_a_symbolic_link_saves_the_report_it_names(
    tmp_path: Path,
) -> None:
    """`--report link.json` (a symbolic link to the report): the save writes the report the
    link names, as any editor does, and the link stays; an apply of the report then acts on
    the decisions (before, the link became a file of its own and the report kept the scan's
    proposals, which an apply of it would have carried out)."""
    path = tmp_path / "report.json"
    report_mod.write(synthetic_report(tmp_path / "photos", 6), path)
    link = tmp_path / "link.json"
    link.symlink_to(path.name)
    review = Terminal("review", "--report", str(link), "--thumbnails", "none")
    review.read_until("Group 1 (1 of 6)")
    review.send("K")  # keep every file of group 1
    review.read_until("1/6 reviewed")
    review.send("s")
    assert review.wait() == 0
    assert link.is_symlink() and os.readlink(link) == path.name
    saved = report_mod.read(path)
    assert saved.groups[0].reviewed and all(m.action == "keep" for m in saved.groups[0].members)
    assert not any(g.reviewed for g in saved.groups[1:])


def test_apply_asks_with_the_number_of_groups_never_reviewed(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    report = synthetic_report(tmp_path / "photos", 12)
    groups = [replace(g, reviewed=g.id <= 3) for g in report.groups]
    report_mod.write(report_mod.with_groups(report, groups), path)
    before = path.read_bytes()
    apply = Terminal("apply", "--report", str(path), "--trash")
    screen = apply.read_until("Go ahead?")
    assert "9 of these 12 groups were never reviewed" in screen
    apply.send("n\r")
    assert apply.wait() == 4  # refused: nothing was done
    assert "Nothing was changed." in apply.text()
    assert path.read_bytes() == before


def test_a_report_nested_too_deeply_is_refused_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    report_mod.write(synthetic_report(tmp_path / "photos", 6), path)
    text = path.read_text(encoding="utf-8")
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(text.replace('"roots":', f'"zz": {deep}, "roots":', 1), encoding="utf-8")
    review = Terminal("review", "--report", str(path), "--thumbnails", "none")
    assert review.wait() == 1
    assert "nested too deeply" in review.text() and "Traceback" not in review.text()
