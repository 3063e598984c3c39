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

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from apply_helpers import (
    apply,
    journals,
    keepers,
    library,
    png,
    put,
    records,
    scan,
    sha,
    tmpfs,
    trash_dir,
    trash_infos,
    trash_members,
    trashed_files,
    tree,
)
from conftest import Cli

from dedupe import fsops
from dedupe.cli import ExitCode, main

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")

HELPER = Path(__file__).with_name("apply_helpers.py")


def killed_at(point: str, *argv: str) -> int:
    """`dedupe ARGV` in the helper, SIGKILLed at POINT (see apply_helpers): its exit code."""
    command = [sys.executable, str(HELPER), point, "1", "--", *argv]
    return subprocess.run(command, capture_output=True, timeout=120).returncode


# ---------------------------------------------------------------- dropping the old name


def _swap_after_the_last_look(
    monkeypatch: pytest.MonkeyPatch, path: str, swap: Callable[[], None]
) -> list[str]:
    """Run `swap` right after apply's last look at `path` (its name in its open folder), before
    the name goes: the moment another program's rename onto that name would do the most harm."""
    real = fsops.Folder.lstat_or_none
    looks: list[str] = []

    def look(self: fsops.Folder, entry: str) -> os.stat_result | None:
        info = real(self, entry)
        if self.join(entry) == path and not looks:
            looks.append(entry)
            swap()
        return info

    monkeypatch.setattr(fsops.Folder, "lstat_or_none", look)
    return looks


@pytest.mark.parametrize("how", ["trash", "move", "move-by-copy"])
def test_a_file_renamed_onto_the_name_as_it_is_dropped_is_never_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from apply_helpers import execute

    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = (f["path"] for f in trash_members(report))
    stranger = put(tmp_path / "elsewhere" / "stranger.png", png(77))  # its only copy
    digest = sha(stranger)
    looks = _swap_after_the_last_look(monkeypatch, victim, lambda: os.rename(stranger, victim))
    if how == "trash":
        result = execute(report)
    else:
        dest = str(tmp_path / "dupes")
        result = execute(report, None, "move", dest, force_copy=how == "move-by-copy")
    assert looks, "the race was not forced"
    assert os.path.isfile(victim) and sha(victim) == digest, "the file renamed in was deleted"
    # The checked file itself went where the journal says.
    ((done,),) = [[r for r in records(journals()[0]) if r["type"] == "done"]]
    assert sha(done["destination"]) == sha(keepers(report)[0])
    assert len(result.done) == 1


def _asides(*folders: Path) -> list[Path]:
    return [p for f in folders if f.exists() for p in f.rglob(f"{fsops.ASIDE_PREFIX}*")]


@pytest.mark.parametrize("action", ["--trash", "--move"])
def test_a_kill_while_the_old_name_is_dropped_is_settled_by_the_next_run(
    cli: Cli, tmp_path: Path, action: str
) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    before = tree(root)
    dest = tmp_path / "dupes"
    argv = ["apply", "--report", str(report), action, *([str(dest)] if action == "--move" else [])]
    # The first rename of the apply is the old name's, to its private name: killed right after.
    assert killed_at("os:rename:after", *argv, "--yes") < 0
    assert len(_asides(root)) == 1
    code, _, err = cli(*argv, "--yes")
    assert code == ExitCode.OK, err
    assert _asides(root, dest, trash_dir()) == []
    assert killed_at("os:rename:after", "undo") < 0  # undo drops the trash's or target's name
    code, _, err = cli("undo")
    assert code == ExitCode.OK, err
    assert tree(root) == before
    assert _asides(root, dest, trash_dir()) == []
    assert not (trash_dir() / "files").exists() or trashed_files() == []


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


# ---------------------------------------------------------------- hand-edited journals


def _edit(journal_path: Path, kind: str, seq: int, **fields: object) -> None:
    """Hand-edit the journal's `kind` record ("intent", "done") of action `seq`."""
    lines = records(journal_path)
    for line in lines:
        if line["type"] == kind and line["seq"] == seq:
            line.update(fields)
    journal_path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize(
    "edit", ["trashinfo: a photo", "destination: the kept copy", "destination: any, unverified"]
)
def test_undo_never_touches_a_file_a_hand_edited_journal_names(
    cli: Cli, tmp_path: Path, edit: str
) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    (keeper,) = keepers(report)
    precious = put(tmp_path / "documents" / "precious.png", png(60))
    before = {**tree(root), **tree(precious.parent)}
    assert apply(report, "--trash") == ExitCode.OK
    (path,) = journals()
    fields: dict[str, object] = {
        "trashinfo: a photo": {"trashinfo": str(precious)},
        "destination: the kept copy": {"destination": keeper},  # the same bytes
        "destination: any, unverified": {"destination": str(precious), "unverified": True},
    }[edit]
    _edit(path, "done", 1, **fields)
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL and "is not where apply puts it" in err
    assert tree(precious.parent) == {str(precious): before[str(precious)]}, "deleted or moved"
    assert tree(root)[keeper] == before[keeper], "the kept copy was moved away"
    assert len(trashed_files()) == 1  # the trashed file stays in the trash


def test_undo_of_a_move_takes_back_only_the_move_target(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = (f["path"] for f in trash_members(report))
    elsewhere = tmp_path / "elsewhere" / "copy.png"
    elsewhere.parent.mkdir()
    shutil.copy2(keepers(report)[0], elsewhere)  # same bytes, somewhere else
    assert apply(report, "--move", str(tmp_path / "dupes")) == ExitCode.OK
    (path,) = journals()
    _edit(path, "done", 1, destination=str(elsewhere))
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL, err
    assert elsewhere.is_file(), "undo took a file from outside the --move folder"
    assert not os.path.lexists(victim)


@pytest.mark.parametrize("where", ["outside", "through .."])
def test_undo_never_restores_outside_the_scanned_folders(
    cli: Cli, tmp_path: Path, where: str
) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    assert apply(report, "--trash") == ExitCode.OK
    (path,) = journals()
    outside = tmp_path / "outside" / "new.png"
    edited = str(outside) if where == "outside" else f"{root}/../outside/new.png"
    _edit(path, "intent", 1, path=edited)
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL, err
    assert not outside.exists()
    assert "is not a plain path inside the scanned folders of that apply" in err
    assert len(trashed_files()) == 1  # it stays in the trash


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


# ---------------------------------------------------------------- deeper than PATH_MAX


def _deep_library(tmp_path: Path) -> tuple[Path, Path, int]:
    """Two identical pictures in a folder whose path is longer than PATH_MAX (4096), under
    tmp_path/photos, and a report of them (a scan cannot read them: the report is a scan of a
    shallow twin with its paths changed). Returns (the folder's parent root, report, the deep
    folder's descriptor)."""
    root = tmp_path / "photos"
    put(root / "s" / "a.png", png(9))
    put(root / "s" / "b.png", png(9))
    report = tmp_path / "report.json"
    scan(root, report)
    fd = os.open(root, os.O_RDONLY)
    parts = []
    for level in range(24):
        name = f"{level:02d}" * 90
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
        parts.append(name)
    for name in ("a.png", "b.png"):
        data, info = (root / "s" / name).read_bytes(), (root / "s" / name).stat()
        out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, data)
        os.close(out)
        os.utime(name, dir_fd=fd, ns=(info.st_mtime_ns, info.st_mtime_ns))
    shutil.rmtree(root / "s")
    deep = f"{root}/{'/'.join(parts)}/"
    assert len(deep) > 4096
    report.write_text(report.read_text().replace(f"{root}/s/", deep))
    return root, report, fd


@pytest.mark.parametrize("where", ["same drive", "other drive", "killed after its link"])
def test_a_file_deeper_than_path_max_is_moved_and_put_back(
    cli: Cli, tmp_path: Path, where: str
) -> None:
    _root, report, fd = _deep_library(tmp_path)
    other = where == "other drive"
    dest = str(tmp_path / ("other" if other else "") / "dupes")
    argv = ["apply", "--report", str(report), "--move", dest, "--yes"]
    try:
        with tmpfs(tmp_path / "other") if other else contextlib.nullcontext():
            if where.startswith("killed"):  # two names of one file: the next run settles it
                assert killed_at("after-link", *argv) < 0
            code, _, err = cli(*argv)
            assert code == ExitCode.OK, err[-300:]
            if where.startswith("killed"):
                assert "was moved just before the interruption; recorded" in err
            assert sorted(os.listdir(fd)) == ["a.png"]
            code, _, err = cli("undo")
            assert code == ExitCode.OK, err[-300:]
            assert sorted(os.listdir(fd)) == ["a.png", "b.png"]
            assert [p for p in Path(dest).rglob("*") if p.is_dir()] == []  # its folders too
    finally:
        os.close(fd)


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
