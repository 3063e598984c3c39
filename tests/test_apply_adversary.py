"""What an adversarial round against apply and undo found after issue 15's fixes, one test each:
a file renamed onto a checked name as its old name is dropped, a scanned folder inside another
one replaced by a symlink, hand-edited journals that point undo at other files, a top-dir trash
another user controls, files deeper than PATH_MAX, and what a SIGKILL left in the trash or the
journals folder.

Races are forced at one exact moment in this process, by wrapping the look at a name that comes
right before it is dropped (test_apply_races.py forces the same race from outside with strace).
Kills are real SIGKILLs of a subprocess (tests/apply_helpers.py) at a chosen call.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from apply_helpers import (
    library,
    png,
    put,
    scan,
    tmpfs,
    trash_dir,
    trash_infos,
    trashed_files,
    tree,
)
from conftest import Cli

from dedupe.cli import ExitCode, main

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")

HELPER = Path(__file__).with_name("apply_helpers.py")


def killed_at(point: str, *argv: str) -> int:
    """`dedupe ARGV` in the helper, SIGKILLed at POINT (see apply_helpers): its exit code."""
    command = [sys.executable, str(HELPER), point, "1", "--", *argv]
    return subprocess.run(command, capture_output=True, timeout=120).returncode


# ---------------------------------------------------------------- nested scanned folders


def test_a_scanned_folder_holding_another_one_replaced_by_a_symlink_is_never_acted_through(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    for c in range(2):
        put(root / "album" / f"{c}.png", png(5))
    report = tmp_path / "report.json"
    code = main(["scan", str(root), str(root / "album"), "--report", str(report), "--no-cache"])
    assert code == 0 and json.loads(report.read_text())["roots"] == [str(root), str(root / "album")]
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)  # the same files, times kept: they pass every check
    root.rename(tmp_path / "real")
    os.symlink(copy, root)
    before = tree(copy)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert tree(copy) == before, "acted in a folder outside the scanned ones"
    assert code == ExitCode.PARTIAL and f"{root} is a symbolic link" in err


# ---------------------------------------------------------------- top-dir trashes


def _nobody() -> int:
    try:
        return pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user 'nobody'")


@pytest.mark.parametrize("trash_name", [".Trash-{uid}", ".Trash/{uid}"])
@pytest.mark.parametrize(
    "wrong", ["owned by another user", "writable by everyone", "files and info: another user's"]
)
def test_a_top_dir_trash_another_user_controls_is_not_used(
    cli: Cli, tmp_path: Path, trash_name: str, wrong: str
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (chown, mount)")
    with tmpfs(tmp_path / "drive") as drive:
        root = drive / "photos"
        for c in range(2):
            put(root / f"{c}.png", png(7))
        report = tmp_path / "report.json"
        scan(root, report)
        if trash_name.startswith(".Trash/"):
            (drive / ".Trash").mkdir()
            os.chmod(drive / ".Trash", 0o1777)
        theirs = drive / trash_name.format(uid=os.getuid())
        (theirs / "files").mkdir(parents=True)
        (theirs / "info").mkdir()
        for folder in (theirs, theirs / "files", theirs / "info"):
            if wrong == "owned by another user" or folder != theirs:
                os.chown(folder, _nobody() if wrong != "writable by everyone" else 0, -1)
            os.chmod(folder, 0o777 if wrong != "files and info: another user's" else 0o700)
        passed_over = trash_name.startswith(".Trash/") and not wrong.startswith("files")
        wrong = wrong.replace("files and info: another user's", "owned by another user")
        before = tree(root)
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
        assert list((theirs / "files").iterdir()) == [], "trashed into another user's folder"
        if passed_over:  # .Trash/UID is passed over for the private .Trash-UID, as glib does
            assert code == ExitCode.OK, err
            assert len(list((drive / f".Trash-{os.getuid()}" / "files").iterdir())) == 1
            assert main(["undo"]) == ExitCode.OK
        else:
            assert code == ExitCode.PARTIAL and f"the trash {theirs} is {wrong}" in err
        assert tree(root) == before


# ---------------------------------------------------------------- what a SIGKILL leaves


def test_a_kill_before_the_trashinfo_is_written_leaves_no_empty_trashinfo(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    before = tree(root)
    argv = ["apply", "--report", str(report), "--trash", "--yes"]
    assert killed_at("write-to:.trashinfo", *argv) < 0  # reserved (created), still empty
    assert [p.stat().st_size for p in trash_infos()] == [0]
    code, _, err = cli(*argv)
    assert code == ExitCode.OK, err
    assert len(trash_infos()) == len(trashed_files()) == 1
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before
    assert trash_infos() == [] and trashed_files() == []


def test_a_kill_while_the_journal_is_created_leaves_no_temporary_file(
    cli: Cli, tmp_path: Path
) -> None:
    from dedupe import journal

    _root, report = library(tmp_path, groups=1, copies=2)
    argv = ["apply", "--report", str(report), "--trash", "--yes"]
    assert killed_at("write-to:.jsonl.tmp", *argv) < 0
    folder = journal.journals_dir()
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] != []
    code, _, err = cli(*argv)
    assert code == ExitCode.OK, err
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
    assert trash_dir().is_dir() and len(trashed_files()) == 1
