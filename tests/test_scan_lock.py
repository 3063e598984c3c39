"""A scan writes its report under the report's lock, the lock a review or apply of that report
holds: a scan run while the report is under review would have had its new report overwritten
by the review's save (found by the red team, 2026-12-03)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from apply_helpers import library
from conftest import Cli

from dedupe import journal


def test_a_scan_refuses_a_report_under_review_and_leaves_it_as_it_is(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path)
    before = report.read_bytes()
    with journal.report_lock(str(report), "review of it"):  # what a review in a terminal holds
        code, out, err = cli("scan", str(root), "--report", str(report))
        assert code == 1 and out == ""
        assert "another dedupe is already working on the report" in err
        assert "review of it" in err and "--report" in err and "Traceback" not in err
        assert report.read_bytes() == before
        # the same report by another name is the same lock
        other = tmp_path / "elsewhere"
        other.symlink_to(tmp_path)
        code, _, err = cli("scan", str(root), "--report", str(other / report.name))
        assert code == 1 and "already working on the report" in err
        assert report.read_bytes() == before
        # another report is free
        code, _, err = cli("scan", str(root), "--report", str(tmp_path / "new.json"))
        assert code == 0, err
    code, _, err = cli("scan", str(root), "--report", str(report))
    assert code == 0, err
    assert report.read_bytes() != before  # written again, once the review is over


def test_a_scan_holds_the_lock_while_it_runs(tmp_path: Path) -> None:
    """A real `dedupe scan` process, held by a hook just before its walk: the report is
    locked from outside, the holder named; once it goes on, it writes the report."""
    root, report = library(tmp_path)
    before = report.read_bytes()
    code = (
        "import sys\n"
        "import dedupe.cli.cmd_scan as s\n"
        "from dedupe.cli import main\n"
        "real = s._scan\n"
        "def held(*a, **k):\n"
        "    sys.stdout.write('scanning\\n'); sys.stdout.flush(); sys.stdin.readline()\n"
        "    return real(*a, **k)\n"
        "s._scan = held\n"
        "sys.exit(main(['scan', sys.argv[2], '--report', sys.argv[1]]))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(report), str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert child.stdout is not None and child.stdin is not None
    try:
        assert child.stdout.readline() == "scanning\n"
        lock = journal.report_lock(str(report))
        try:
            lock.acquire()
        except journal.Locked as error:
            assert "scan writing" in str(error)
        else:
            lock.release()
            raise AssertionError("the report was not locked while its scan ran")
    finally:
        child.stdin.write("\n")
        child.stdin.close()
        child.wait(timeout=300)
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    assert report.read_bytes() != before
    lock = journal.report_lock(str(report))
    lock.acquire()  # free again once the scan is over
    lock.release()
