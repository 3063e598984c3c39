"""Apply and undo never act on the wrong file: concurrent runs, files swapped between check and
action, symlinked folders, actions that fail, re-runs (issue 15).

Races are forced at one exact moment through the test seam `dedupe.apply.act.before_action`
(called right before each trash or move, after every check); `test_apply_races.py` forces the
same ones with real processes and strace delays. Read-only folders and trashes are made with
`chattr +i` (root ignores permissions) or read-only mounts, full disks with a small tmpfs; those
tests skip where that is not possible.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from apply_helpers import (
    apply,
    copies_left,
    execute,
    fill,
    immutable,
    journals,
    keepers,
    library,
    mounted,
    png,
    put,
    records,
    scanned,
    sha,
    swapped,
    tmpfs,
    trash_dir,
    trash_infos,
    trash_members,
    trashed_files,
    tree,
)
from conftest import Cli, photo

from dedupe import apply as core
from dedupe import trash
from dedupe.apply import act
from dedupe.cli import ExitCode, main
from dedupe.filters import MOVE_MARKER

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")


def once(action: Callable[[str], object]) -> Callable[[str], None]:
    """A before_action hook that runs `action(path)` at the first action only."""
    calls: list[str] = []

    def hook(path: str) -> None:
        calls.append(path)
        if len(calls) == 1:
            action(path)

    return hook


def in_trash_from(path: str) -> list[Path]:
    return trash_infos(path) if (trash_dir() / "info").is_dir() else []


# ---------------------------------------------------------------- 1. concurrent runs


def test_two_applies_of_different_reports_of_one_folder_never_take_the_last_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _root, report = library(tmp_path, groups=3, copies=2)
    other = swapped(report)  # a second scan of the folder, reviewed the other way round
    second: list[tuple[int, str]] = []

    def run_the_other_apply(path: str) -> None:
        capsys.readouterr()
        code = main(["apply", "--report", str(other), "--trash", "--yes"])
        second.append((code, capsys.readouterr().err))

    # The second apply starts while the first is about to trash its first file: both have
    # checked that the group keeps a copy.
    monkeypatch.setattr(act, "before_action", once(run_the_other_apply))
    first = apply(report, "--trash")
    assert all(n == 1 for n in copies_left(report).values()), "a group lost its last copy"
    assert first == ExitCode.OK
    ((code, err),) = second
    assert code == ExitCode.REFUSED, err
    assert "another dedupe is already working on files on the same drive as" in err
    assert f"apply of {report}" in err  # who holds the lock
    # Run after the first one, the second finds its kept copies gone: every group left alone.
    monkeypatch.setattr(act, "before_action", act._no_hook)
    assert apply(other, "--trash") == ExitCode.PARTIAL
    assert all(n == 1 for n in copies_left(report).values())


def test_an_undo_cannot_run_on_a_drive_an_apply_is_working_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    first = tmp_path / "first.jsonl"
    assert apply(report, "--trash", "--journal", str(first)) == ExitCode.OK
    put(root / "later" / "a.png", png(41))
    put(root / "later" / "b.png", png(41))
    later = scanned(root)
    undone: list[tuple[int, str]] = []

    def undo_the_first(path: str) -> None:
        capsys.readouterr()
        undone.append((main(["undo", "--journal", str(first)]), capsys.readouterr().err))

    monkeypatch.setattr(act, "before_action", once(undo_the_first))
    assert apply(later, "--trash") == ExitCode.OK
    ((code, err),) = undone
    assert code == ExitCode.REFUSED and "on the same drive as" in err
    assert main(["undo", "--journal", str(first)]) == ExitCode.OK  # once the apply is done


# ---------------------------------------------------------------- 2. act on what was checked


@pytest.mark.parametrize("how", ["trash", "move", "move-by-copy"])
def test_a_file_moved_into_a_checked_path_before_the_action_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = trash_members(report)
    stranger = put(tmp_path / "elsewhere" / "stranger.png", png(77))
    digest = sha(stranger)
    monkeypatch.setattr(act, "before_action", once(lambda path: os.rename(stranger, path)))
    dest = tmp_path / "dupes"
    if how == "trash":
        result = execute(report)
    else:
        result = execute(report, None, "move", str(dest), force_copy=how == "move-by-copy")
    assert result.done == ()
    ((skip,),) = [result.skipped]
    assert "another file took its place between its check and the action" in skip.reason
    assert sha(victim["path"]) == digest  # the file moved in is where it was put, untouched
    assert in_trash_from(victim["path"]) == [] and tree(dest) == {}
    (path,) = journals()
    lines = records(path)
    assert not any(r["type"] == "done" for r in lines)
    assert [r["type"] for r in lines if r.get("seq") == 1] == ["intent", "failed"]


def test_a_file_written_to_between_check_and_trash_stays_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = trash_members(report)

    def append(path: str) -> None:
        with open(path, "ab") as handle:
            handle.write(b"more")

    monkeypatch.setattr(act, "before_action", once(append))
    result = execute(report)
    assert result.done == () and "it was written to" in result.skipped[0].reason
    assert Path(victim["path"]).read_bytes().endswith(b"more")
    assert in_trash_from(victim["path"]) == []


def test_every_done_record_says_exactly_where_the_file_went(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=3, copies=3)  # d1/imgN.png and d2/imgN.png
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK, err
    (path,) = journals()
    lines = records(path)
    intents = {r["seq"]: r for r in lines if r["type"] == "intent"}
    names = set()
    for done in (r for r in lines if r["type"] == "done"):
        intent = intents[done["seq"]]
        assert sha(done["destination"]) == intent["digest"]
        info = Path(done["trashinfo"])
        assert info.name == Path(done["destination"]).name + ".trashinfo"
        assert trash.read_info(str(info), os.environ["XDG_DATA_HOME"])[0] == intent["path"]
        assert re.fullmatch(
            r"\[Trash Info\]\nPath=[^\n]+\nDeletionDate=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\n",
            info.read_text(),
        )
        names.add(Path(done["destination"]).name)
    assert names == {f"img{k}{n}.png" for k in range(3) for n in ("", " 1")}  # send2trash's
    assert len(trashed_files()) == len(intents) == 6


def _trash_entries(base: Path) -> set[Path]:
    folders = [trash_dir(), base / ".Trash-0", base / ".Trash" / "0"]
    return {p for f in folders if (f / "files").is_dir() for p in (f / "files").iterdir()}


def _info_of(entry: Path) -> str:
    """The entry's .trashinfo, its DeletionDate (the clock's) left out."""
    info = entry.parent.parent / "info" / (entry.name + ".trashinfo")
    return re.sub(r"DeletionDate=.*", "DeletionDate=", info.read_text())


def _trash_by_send2trash(path: Path, base: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from send2trash import plat_other

    home = os.fsencode(os.environ["XDG_DATA_HOME"])  # send2trash reads it at import time
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", home)
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.path.join(home, b"Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", os.fsdecode(os.path.join(home, b"Trash")))
    before = _trash_entries(base)
    plat_other.send2trash(str(path))
    (entry,) = _trash_entries(base) - before
    return entry


def _trash_by_dedupe(path: Path, base: Path) -> Path:
    from dedupe import fsops

    before = _trash_entries(base)
    folder, name = fsops.open_parent(str(path), str(base))
    with folder:
        identity = fsops.Identity.of(os.lstat(path))
        placed = trash.send(folder, name, str(path), identity, sha(path))
    (entry,) = _trash_entries(base) - before
    assert placed is not None and placed.files_path == str(entry)
    return entry


@pytest.mark.parametrize("drive", ["home", "other drive", "other drive, shared .Trash"])
def test_the_trash_move_picks_the_folder_name_and_trashinfo_send2trash_picks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drive: str
) -> None:
    with contextlib.ExitStack() as stack:
        base = tmp_path / "drive"
        if drive != "home":  # HOME is on the test's file system: a tmpfs is another drive
            base = stack.enter_context(tmpfs(base))
        if drive.endswith("shared .Trash"):
            (base / ".Trash").mkdir(mode=0o1777)
            os.chmod(base / ".Trash", 0o1777)
        for folder in ("a", "b"):
            put(base / folder / "café 1.png", png(3))
        for folder in ("a", "b"):  # the second one finds the name taken in the trash
            path = base / folder / "café 1.png"
            theirs = _trash_by_send2trash(path, base, monkeypatch)
            expected = (theirs, _info_of(theirs))
            os.rename(theirs, path)  # put back, and forget the entry
            (theirs.parent.parent / "info" / (theirs.name + ".trashinfo")).unlink()
            ours = _trash_by_dedupe(path, base)
            assert (ours, _info_of(ours)) == expected
        names = sorted(p.name for p in _trash_entries(base))
        assert names == ["café 1 1.png", "café 1.png"]
        folder = {"home": trash_dir(), "other drive": base / ".Trash-0"}.get(
            drive, base / ".Trash" / "0"
        )
        where = "a/" if drive != "home" else f"{quote(str(base))}/a/"  # relative to the drive
        assert _info_of(folder / "files" / "café 1.png") == (
            f"[Trash Info]\nPath={where}caf%C3%A9%201.png\nDeletionDate=\n"
        )


# ---------------------------------------------------------------- 4. symlinked folders


def test_a_scanned_folder_replaced_by_a_symlink_is_never_acted_through(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=2, copies=3)  # d0 kept, d1 and d2 trashed
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(root / "d1", outside / "d1")  # the same files, times kept: they pass every check
    os.symlink(outside / "d1", root / "d1")
    before = tree(outside)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    assert tree(outside) == before  # nothing outside the scanned folder was touched
    assert f"{root / 'd1'} is a symbolic link" in err
    assert not any((root / "d2").iterdir())  # the files in real folders were trashed
    assert len(trashed_files()) == 2


def test_a_scanned_folder_that_became_a_symlink_is_left_alone(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=2, copies=2)
    real = tmp_path / "real"
    root.rename(real)
    os.symlink(real, root)
    before = tree(real)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL and f"{root} is a symbolic link" in err
    assert tree(real) == before and not trash_dir().exists()


def test_a_kept_copy_reached_through_a_symlink_leaves_its_group_alone(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=1, copies=3)
    (keeper,) = keepers(report)
    outside = tmp_path / "outside"
    shutil.move(root / "d0", outside)
    os.symlink(outside, root / "d0")
    assert os.path.isfile(keeper)  # still readable at its path, through the link
    before = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL and "the whole group is left alone" in err
    assert tree(root) == before


def test_a_move_never_follows_a_symlink_planted_in_the_target_folder(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=1, copies=3)
    dest, elsewhere = tmp_path / "dupes", tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir()
    os.symlink(elsewhere, dest / "d1")
    code, _, err = cli("apply", "--report", str(report), "--move", str(dest), "--yes")
    assert code == ExitCode.PARTIAL and f"{dest / 'd1'} is a symbolic link" in err
    assert list(elsewhere.iterdir()) == []
    assert os.path.isfile(root / "d1" / "img0.png") and (dest / "d2" / "img0.png").is_file()


def _dedupe(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`dedupe ARGV` in a process of its own (this test's XDG folders and HOME), in `cwd`."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run(
        [sys.executable, "-m", "dedupe", *argv],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False,
    )  # fmt: skip


def test_a_move_folder_with_dotdot_after_a_symlink_is_the_one_the_system_names(
    tmp_path: Path,
) -> None:
    """`--move a/link/../b`, link a symbolic link to far/sub: the system (ls, mv, cp) names
    far/b; dedupe moved into a/b, a folder the words merely read as. The files go to far/b,
    the journal names far/b, and undo brings them back from there."""
    root, report = library(tmp_path, groups=1, copies=3)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "far" / "sub").mkdir(parents=True)
    os.symlink(tmp_path / "far" / "sub", tmp_path / "a" / "link")
    before = tree(root)
    done = _dedupe("apply", "--report", str(report), "--move", "a/link/../b", "--yes", cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    far = tmp_path / "far" / "b"
    assert sorted(p.relative_to(far).as_posix() for p in far.rglob("*.png")) == [
        "d1/img0.png",
        "d2/img0.png",
    ]
    assert list((tmp_path / "a" / "b").iterdir()) == []
    (journal_path,) = journals()
    header = json.loads(journal_path.read_text().splitlines()[0])
    assert header["move_to"] == str(far)
    done = _dedupe("undo", cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert tree(root) == before and not (far / "d1").exists()


def test_a_move_folder_with_dotdot_after_a_missing_folder_is_refused(tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    before = tree(root)
    done = _dedupe("apply", "--report", str(report), "--move", "gone/../b", "--yes", cwd=tmp_path)
    assert done.returncode == ExitCode.REFUSED, done.stderr
    assert f"{tmp_path / 'gone'} is not a folder, so the '..' after it" in done.stderr
    assert tree(root) == before and not (tmp_path / "b").exists() and journals() == []


def test_undo_never_restores_into_a_folder_replaced_by_a_symlink(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=2, copies=3)
    assert apply(report, "--trash") == ExitCode.OK
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "d1").rmdir()  # emptied by the apply
    os.symlink(outside, root / "d1")
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL
    assert f"{root / 'd1'} is a symbolic link now (undo never restores through" in err
    assert list(outside.iterdir()) == []
    assert len(list((root / "d2").iterdir())) == 2  # the others are back
    assert len(trashed_files()) == 2


# ---------------------------------------------------------------- 5. actions that fail


def test_an_immutable_duplicate_is_skipped_and_the_rest_of_the_plan_goes_on(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=2, copies=3)
    victim = trash_members(report)[0]["path"]
    before = tree(root)
    with immutable(victim):
        for _ in range(2):  # and a re-run goes the same way, never crashes
            code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
            assert code == ExitCode.PARTIAL, err
            assert f"{victim}: it could not be trashed (Operation not permitted)" in err
            assert tree(root)[victim] == before[victim]
            assert in_trash_from(victim) == []
        assert len(trashed_files()) == 3
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL  # the other three are gone already
    assert "Trashed 1 files" in err and len(trashed_files()) == 4
    # Two applies acted: undo puts back the newest, then (past the one that did nothing) the first.
    assert main(["undo"]) == ExitCode.OK and len(trashed_files()) == 3
    assert main(["undo"]) == ExitCode.OK and tree(root) == before


@pytest.mark.parametrize("what", ["its folder", "Trash/files", "Trash/info"])
def test_a_read_only_folder_or_trash_is_a_skip_with_its_reason(
    cli: Cli, tmp_path: Path, what: str
) -> None:
    root, report = library(tmp_path, groups=1, copies=3)
    first, second = (f["path"] for f in trash_members(report))
    for sub in ("files", "info"):
        (trash_dir() / sub).mkdir(parents=True, exist_ok=True)
    frozen = {
        "its folder": Path(first).parent,
        "Trash/files": trash_dir() / "files",
        "Trash/info": trash_dir() / "info",
    }[what]
    before = tree(root)
    with immutable(frozen):
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
        assert code == ExitCode.PARTIAL, err
        assert "could not be trashed (Operation not permitted)" in err
        if what == "its folder":
            assert tree(root)[first] == before[first]
            assert not os.path.lexists(second)  # the other one, in a writable folder, went
        else:
            assert tree(root) == before
        assert len(trashed_files()) == (1 if what == "its folder" else 0)
        assert len(trash_infos()) == len(trashed_files())  # no stray .trashinfo
    assert apply(report, "--trash") == (ExitCode.PARTIAL if what == "its folder" else 0)
    assert not os.path.lexists(first) and not os.path.lexists(second)
    for _ in range(2 if what == "its folder" else 1):  # each apply that trashed something
        assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before and trashed_files() == []


def test_a_read_only_mount_is_a_skip_for_every_file_and_leaves_the_trash_clean(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=2, copies=2)
    before = tree(root)
    with mounted(root, "--bind", str(root)):
        remount(root, "bind,ro")
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
        assert code == ExitCode.PARTIAL, err
        assert err.count("Read-only file system") == 2
        assert tree(root) == before
    if trash_dir().exists():
        assert trashed_files() == [] and trash_infos() == []
        assert not any(p.name.endswith(core.PARTIAL_SUFFIX) for p in trash_dir().rglob("*"))


def test_a_full_move_target_removes_the_partial_copy_and_goes_on(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for k in range(4):  # four pictures of about 27 KB, two copies each
        data = _big_png(k)
        put(root / "a" / f"{k}.png", data)
        put(root / "b" / f"{k}.png", data)
    report = scanned(root)
    before = tree(root)
    sizes = sorted(f["size"] for f in trash_members(report))
    with tmpfs(tmp_path / "small", size="64k") as small:
        dest = small / "dupes"
        code, _, err = cli("apply", "--report", str(report), "--move", str(dest), "--yes")
        assert code == ExitCode.PARTIAL, err
        assert "could not be moved (No space left on device)" in err
        moved = [p for p in dest.rglob("*") if p.is_file() and p.name != MOVE_MARKER]
        assert 0 < len(moved) < 4 and sum(sizes) > 64 * 1024
        assert not any(p.name.endswith(core.PARTIAL_SUFFIX) for p in small.rglob("*"))
        for f in trash_members(report):  # each one in exactly one place
            target = dest / os.path.relpath(f["path"], root)
            assert os.path.isfile(f["path"]) != target.is_file()
        code, _, err = cli("apply", "--report", str(report), "--move", str(dest), "--yes")
        assert code == ExitCode.PARTIAL and "No space left on device" in err  # no crash
        remount(small, "size=4m")
        code, _, err = cli("apply", "--report", str(report), "--move", str(dest), "--yes")
        assert code == ExitCode.PARTIAL and f"Moved {4 - len(moved)} files" in err
        assert all(not os.path.lexists(f["path"]) for f in trash_members(report))
        for _ in range(2):  # the last apply, then the first (past the one that moved nothing)
            assert main(["undo"]) == ExitCode.OK
        assert tree(root) == before and not any(p.is_file() for p in dest.rglob("*"))


def _big_png(seed: int) -> bytes:
    import io

    buffer = io.BytesIO()
    photo(seed + 500, (160, 120)).save(buffer, "PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------- 7. re-running a finished apply


def test_a_second_apply_of_an_applied_report_does_not_hide_the_first_ones_undo(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path)
    before = tree(root)
    assert apply(report, "--trash") == ExitCode.OK
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL and "Trashed 0 files" in err
    code, out, err = cli("undo", "--list")
    assert code == ExitCode.OK
    header, newest, oldest = out.splitlines()
    assert header == "started\tstate\taction\tdone\tundone\treport\tjournal"
    assert newest.split("\t")[1:6] == ["finished", "trash", "0", "0", str(report)]
    assert oldest.split("\t")[1:6] == ["finished", "trash", "4", "0", str(report)]
    code, _, err = cli("undo")
    assert code == ExitCode.OK, err
    assert "Put back 4 files" in err and "newer journals have nothing left to undo" in err
    assert tree(root) == before
    code, out, _ = cli("undo", "--list")
    assert [line.split("\t")[1:5] for line in out.splitlines()[1:]] == [
        ["finished", "trash", "0", "0"],
        ["undone", "trash", "4", "4"],
    ]


# ---------------------------------------------------------------- 9. damaged journals


def _two_applies(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """Two applies of two folders: (older report, its journal, newer report, its journal)."""
    _old_root, old_report = library(tmp_path / "old", groups=1, copies=2)
    assert apply(old_report, "--trash") == ExitCode.OK
    (old_journal,) = journals()
    _new_root, new_report = library(tmp_path / "new", groups=2, copies=3)
    assert apply(new_report, "--trash") == ExitCode.OK
    (new_journal,) = set(journals()) - {old_journal}
    return old_report, old_journal, new_report, new_journal


def test_a_damaged_newest_journal_is_named_and_undone_as_far_as_it_can_be(
    cli: Cli, tmp_path: Path
) -> None:
    old_report, _old_journal, new_report, new_journal = _two_applies(tmp_path)
    lines = new_journal.read_text().splitlines(keepends=True)
    damaged = next(n for n, line in enumerate(lines, 1) if '"type":"intent"' in line)
    lines[damaged - 1] = '{"type":"intent","seq":1,"pa\n'  # one bad line in the middle
    new_journal.write_text("".join(lines))
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL, err
    assert f"the journal {new_journal} is damaged at line {damaged} (not a JSON record)" in err
    assert "Put back 3 files" in err  # the newer apply's other three: never the older one's
    assert copies_left(new_report) == {1: 2, 2: 3}  # all but the file of the damaged line
    assert copies_left(old_report) == {1: 1}


def test_a_hand_made_journal_without_a_path_is_refused_line_by_line(
    cli: Cli, tmp_path: Path
) -> None:
    _root, report = library(tmp_path, groups=1, copies=3)
    assert apply(report, "--trash") == ExitCode.OK
    (path,) = journals()
    lines = records(path)
    first = next(r for r in lines if r["type"] == "intent")
    del first["path"]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    number = lines.index(first) + 1
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL, err
    assert f"line {number} (a 'intent' record without 'path')" in err
    assert "Put back 1 files" in err
    assert copies_left(report) == {1: 2}


def test_an_unreadable_newest_journal_stops_undo_instead_of_picking_an_older_one(
    cli: Cli, tmp_path: Path
) -> None:
    old_report, _old_journal, _new_report, new_journal = _two_applies(tmp_path)
    new_journal.write_bytes(b"\0\0\0 garbage\n" + new_journal.read_bytes())
    code, _, err = cli("undo")
    assert code == ExitCode.REFUSED
    assert f"the journal {new_journal} cannot be read" in err and "--journal" in err
    assert copies_left(old_report) == {1: 1}  # the older apply was not undone instead
    code, out, _ = cli("undo", "--list")
    assert f"\tdamaged\t\t\t\t\t{new_journal}" in out


# ---------------------------------------------------------------- 10. a full disk under the journal


def remount(target: Path, options: str) -> None:
    run = subprocess.run(["mount", "-o", f"remount,{options}", str(target)], capture_output=True)
    if run.returncode:
        pytest.skip(f"cannot remount {target} {options}: {run.stderr.decode().strip()}")


def fill_up(state: Path) -> Path:
    """Fill the journal's file system: pad the journal to the end of its last block with blank
    lines (readers skip them), then take every free block, so its next record cannot be
    written. Returns the filler."""
    (journal_path,) = journals()
    block = os.statvfs(state).f_bsize
    with open(journal_path, "ab") as handle:
        handle.write(b"\n" * (-journal_path.stat().st_size % block))
    return fill(state)


def test_a_full_disk_under_the_journal_stops_apply_and_undo_with_a_clear_message(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, report = library(tmp_path, groups=10, copies=3)
    before = tree(root)
    with tmpfs(tmp_path / "state", size="256k") as state:
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        fillers: list[Path] = []
        calls: list[str] = []

        def fill_at_the_third(path: str) -> None:
            calls.append(path)
            if len(calls) == 3:  # its intent is written: the disk fills before its "done"
                fillers.append(fill_up(state))

        monkeypatch.setattr(act, "before_action", fill_at_the_third)
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
        assert code == ExitCode.ERROR
        assert "stopped: the journal" in err and "No space left on device" in err
        assert "run the same command again to resume" in err
        assert len(trashed_files()) == 3 and all(n >= 1 for n in copies_left(report).values()), err
        fillers.pop().unlink()
        monkeypatch.setattr(act, "before_action", act._no_hook)
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
        assert code == ExitCode.OK, err
        assert "Resuming the interrupted apply" in err
        assert "was trashed just before the interruption; recorded" in err  # the third
        assert "Trashed 17 files (+3 by the interrupted run)" in err
        assert len(trashed_files()) == 20
        # Undo on a full disk: the same.
        filler = fill_up(state)
        code, _, err = cli("undo")
        assert code == ExitCode.ERROR
        assert "stopped: the journal" in err and "again once this is fixed" in err
        filler.unlink()
        code, _, err = cli("undo")
        assert code == ExitCode.OK, err
        assert tree(root) == before
