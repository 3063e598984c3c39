"""An apply killed with SIGKILL halfway through 200 files, then run again: nothing lost or doubled.

The apply runs in a subprocess (tests/apply_helpers.py) that kills itself with SIGKILL at an
exact point (between journaling and acting, between acting and journaling), or is killed from
outside while it runs. Then the same command is run again, and undo afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apply_helpers import (
    apply,
    done_paths,
    journals,
    library,
    load,
    members,
    png,
    put,
    records,
    scan,
    sha,
    trash_dir,
    trash_infos,
    trash_members,
    trashed_file,
    tree,
)

from dedupe import journal, trash
from dedupe.cli import ExitCode, main

HELPER = Path(__file__).with_name("apply_helpers.py")
PICTURES = 100  # x 3 copies: 300 files, 200 of them to remove

pytestmark = pytest.mark.usefixtures("home_on_tmp")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One scanned library for the whole module (scanning 300 files is the slow part)."""
    base = tmp_path_factory.mktemp("template")
    root = base / "photos"
    for k in range(PICTURES):
        for copy in ("a", "b", "c"):
            put(root / copy / f"{k:03d}.png", png(1000 + k))
    report = base / "report.json"
    scan(root, report, "-j", "2")
    return root, report.read_text()


def big_library(tmp_path: Path, template: tuple[Path, str]) -> tuple[Path, Path]:
    """A private copy of the template library (mtimes kept to the nanosecond by copy2) and
    its report, the same scan with the folder's new name in every path."""
    source, text = template
    root = tmp_path / "photos"
    shutil.copytree(source, root, copy_function=shutil.copy2)
    report = tmp_path / "report.json"
    report.write_text(text.replace(json.dumps(str(source))[1:-1], json.dumps(str(root))[1:-1]))
    assert len(trash_members(report)) == 200
    assert all(os.stat(f["path"]).st_mtime_ns == f["mtime_ns"] for f in trash_members(report))
    return root, report


def helper(point: str, nth: int, *apply_args: str) -> list[str]:
    return [sys.executable, str(HELPER), point, str(nth), "--", *apply_args, "--yes"]


def in_place(path: str, digest: str) -> bool:
    return os.path.isfile(path) and not os.path.islink(path) and sha(path) == digest


def in_trash(
    orphans: list[str] | None = None, names: dict[str, list[Path]] | None = None
) -> dict[str, list[str]]:
    """original path -> sha256 of every file in the test's trash that came from there.

    A .trashinfo whose file is missing is a stray: the trash writes the .trashinfo first (the
    freedesktop order), so a kill between the two leaves one. It is only allowed when the
    caller passes `orphans`, which collects the original paths those strays name. `names`
    collects, per original path, where its trashed files are."""
    out: dict[str, list[str]] = {}
    for info in trash_infos() if (trash_dir() / "info").exists() else []:
        meta = trash.read_info(str(info), os.environ["XDG_DATA_HOME"])
        assert meta is not None
        files = trashed_file(info)
        if not files.exists() and orphans is not None:
            orphans.append(meta[0])
            continue
        assert files.exists(), f"stray {info}"
        out.setdefault(meta[0], []).append(sha(files))
        if names is not None:
            names.setdefault(meta[0], []).append(files)
    return out


def check_nothing_lost_nothing_doubled(
    report: Path, move_to: Path | None = None, *, killed: bool = False
) -> int:
    """Every file to remove is in exactly one place: where it was, or in the trash/move folder.
    Everything that left is in the journal. Returns how many have left.

    `killed`: right after a SIGKILL, one stray .trashinfo may name a file the kill stopped
    before its move; that file must still be in place and journaled as intended (the re-run
    removes the stray; without `killed` none may be left)."""
    (journal_path,) = journals()
    intended = {r["path"] for r in records(journal_path) if r["type"] == "intent"}
    root = Path(load(report)["roots"][0])
    orphans: list[str] = []
    names: dict[str, list[Path]] = {}
    trashed = in_trash(orphans if killed else None, names)
    assert len(orphans) <= 1, orphans
    for orphan in orphans:
        assert orphan in intended, f"a stray .trashinfo for {orphan}, never intended"
        (member,) = (f for f in trash_members(report) if f["path"] == orphan)
        assert in_place(orphan, member["digest"]), f"{orphan}: stray .trashinfo, file gone"
    gone = 0
    for f in trash_members(report):
        path, digest = f["path"], f["digest"]
        if move_to is None:
            assert all(d == digest for d in trashed.get(path, [])), f"{path}: wrong bytes"
            elsewhere: list[str | Path] = list(trashed.get(path, []))
            if killed and in_place(path, digest):
                # two names of one inode: a trashing cut between its link and its unlink
                elsewhere = [n for n in names.get(path, []) if not os.path.samefile(path, n)]
        else:
            target = move_to / os.path.relpath(path, root)
            elsewhere = [target] if target.exists() and sha(target) == digest else []
            here = in_place(path, digest)
            if here and elsewhere and os.path.samefile(path, target):
                elsewhere = []  # two names of one inode (a move cut between link and unlink)
        copies = int(in_place(path, digest)) + len(elsewhere)
        assert copies == 1, f"{path}: {copies} copies"
        if elsewhere:
            gone += 1
            assert path in intended, f"{path} left but the journal does not say so"
    assert set(trashed) <= {f["path"] for f in trash_members(report)}
    for keeper in members(report, "keep"):
        assert in_place(keeper["path"], keeper["digest"])
    return gone


def finish(report: Path, *args: str) -> None:
    """Run the same apply again: it completes, and each file was acted on exactly once."""
    assert apply(report, *args) == ExitCode.OK
    (journal_path,) = journals()
    removals = sorted(f["path"] for f in trash_members(report))
    assert done_paths(journal_path) == removals  # each exactly once


def test_sigkill_twice_mid_trash_then_rerun_and_undo(
    tmp_path: Path, template: tuple[Path, str]
) -> None:
    root, report = big_library(tmp_path, template)
    before = tree(root)
    apply_args = ("--report", str(report), "--trash")
    # Killed after journaling the 57th intent, before handing that file to send2trash.
    first = subprocess.run(helper("before-trash", 57, *apply_args), capture_output=True)
    assert first.returncode == -signal.SIGKILL, first.stderr.decode()
    assert check_nothing_lost_nothing_doubled(report) == 56
    # The same command resumes; killed again right after send2trash moved its 40th file,
    # before the "done" record was written.
    second = subprocess.run(helper("after-trash", 40, *apply_args), capture_output=True)
    assert second.returncode == -signal.SIGKILL, second.stderr.decode()
    assert b"Resuming the interrupted apply" in second.stderr
    assert check_nothing_lost_nothing_doubled(report) == 56 + 40
    finish(report, "--trash")
    assert check_nothing_lost_nothing_doubled(report) == 200
    # Undo finds all 200, including the one whose "done" record the kill cut off.
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before
    assert in_trash() == {}


def test_sigkill_mid_move_then_rerun(tmp_path: Path, template: tuple[Path, str]) -> None:
    root, report = big_library(tmp_path, template)
    before = tree(root)
    dest = tmp_path / "dupes"
    process = subprocess.run(
        helper("after-link", 88, "--report", str(report), "--move", str(dest)),
        capture_output=True,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()
    # The 88th file was cut between its two names: source and target are one inode.
    (cut,) = (
        f["path"]
        for f in trash_members(report)
        if os.path.exists(f["path"]) and (dest / os.path.relpath(f["path"], root)).exists()
    )
    assert os.path.samefile(cut, dest / os.path.relpath(cut, root))
    assert check_nothing_lost_nothing_doubled(report, dest) == 87
    finish(report, "--move", str(dest))
    assert check_nothing_lost_nothing_doubled(report, dest) == 200
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before and tree(dest) == {}


def test_sigkill_from_outside_while_trashing_then_rerun(
    tmp_path: Path, template: tuple[Path, str]
) -> None:
    _root, report = big_library(tmp_path, template)
    process = subprocess.Popen(
        helper("pace", 0, "--report", str(report), "--trash"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not a timing assertion
        while time.monotonic() < deadline and process.poll() is None:
            found = journals()
            if found and found[0].read_bytes().count(b'"type":"intent"') >= 60:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    gone = check_nothing_lost_nothing_doubled(report, killed=True)
    assert 59 <= gone < 200  # the 60th intent may not have been acted on yet
    finish(report, "--trash")
    assert check_nothing_lost_nothing_doubled(report) == 200


# ---------------------------------------------------------------- journals of older dedupes


def _as_an_older_dedupe_wrote_it(journal_path: Path, given: Path) -> Path:
    """The journal as dedupe before 2026-12-03 wrote it for `--report GIVEN`: the report named
    by os.path.abspath of the path given (a symbolic link on the way kept, a `..` dropped with
    the name before it), the journal's file name keyed by that, no `report_resolved` (the rest
    is as it is now)."""
    lines = journal_path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "apply" and header["report"] == os.path.realpath(given)
    header["report"] = os.path.abspath(given)
    header.pop("report_resolved", None)  # (which an older dedupe did not write)
    stamp = journal_path.name.partition("-")[2]
    old = journal_path.with_name(f"{journal.report_key(os.path.abspath(given))}-{stamp}")
    old.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    journal_path.unlink()
    return old


def _killed_through(report: Path) -> Path:
    """An apply --trash of `report` (a path through a symbolic link) SIGKILLed right after its
    first file reached the trash, its journal rewritten as an older dedupe wrote it."""
    code = subprocess.run(helper("after-trash", 1, "apply", "--report", str(report), "--trash"))
    assert code.returncode == -signal.SIGKILL
    (journal_path,) = journals()
    return _as_an_older_dedupe_wrote_it(journal_path, report)


def test_an_older_dedupes_journal_through_a_symlinked_folder_is_resumed_and_undone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Such a journal (its report named through the link) was never found again: the run
    after it started a new journal, so the file the kill cut was never settled by it."""
    real = tmp_path / "real"
    root, _ = library(real, groups=2, copies=3)
    (tmp_path / "link").symlink_to(real)
    before = tree(root)
    report = tmp_path / "link" / "photos.json"
    old = _killed_through(report)
    assert apply(report, "--trash") == ExitCode.OK
    assert f"Resuming the interrupted apply recorded in {old}" in capsys.readouterr().err
    assert journals() == [old]
    assert done_paths(old) == sorted(f["path"] for f in trash_members(report))  # each once
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before


def test_an_older_dedupes_journal_that_named_another_file_is_not_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--report b/lnk/../photos.json`, lnk a link to real/sub: the apply read real/photos.json
    but an older dedupe wrote b/photos.json in its journal. Another report at b/photos.json
    (another scan) is not that apply's: it gets a journal of its own, and that apply's
    journal is still there to undo."""
    real = tmp_path / "real"
    library(real, groups=1, copies=2)
    (real / "sub").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "lnk").symlink_to(real / "sub")
    old = _killed_through(tmp_path / "b" / "lnk" / ".." / "photos.json")
    _, other = library(tmp_path / "b", groups=1, copies=2)
    assert other == tmp_path / "b" / "photos.json"
    assert apply(other, "--trash") == ExitCode.OK
    assert "Resuming" not in capsys.readouterr().err
    assert old in journals() and len(journals()) == 2
    # (what it recorded names b/photos.json: never taken for real/photos.json either; its
    # undo puts its file back)
    assert main(["undo", "--journal", str(old)]) == ExitCode.OK
    assert (real / "photos" / "d1" / "img0.png").is_file()
