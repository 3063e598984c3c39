"""`dedupe apply --link hard|symlink|reflink` and its undo (issue 18): exact output and exit codes
of real processes, the refusals, races forced at one moment, SIGKILL at each step, then resume
and undo.

Everything is real: generated images, a real scan, a real trash in the test's XDG_DATA_HOME,
a second file system (a tmpfs) and, for reflinks, a btrfs (or XFS) image on a loop device;
those tests skip where mounting is not possible (not root, no mkfs.btrfs/mkfs.xfs).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import (
    MTIME,
    apply,
    journals,
    library,
    load,
    put,
    records,
    reflink_fs,
    scanned,
    sha,
    tmpfs,
    trash_dir,
    trashed_from,
    tree,
)
from clirun import Dedupe
from conftest import Cli, photo

from dedupe import journal, linking
from dedupe.apply import act as acting
from dedupe.cli import ExitCode, main
from dedupe.cli.ui import human_bytes

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")

HELPER = Path(__file__).with_name("apply_helpers.py")


# ---------------------------------------------------------------- helpers


def pairs(report: Path) -> list[tuple[str, str, int]]:
    """(duplicate, its kept copy, size) for every file marked trash, in report order."""
    out = []
    for group in load(report)["groups"]:
        keep = next(f["path"] for f in group["files"] if f["action"] == "keep")
        out += [(f["path"], keep, f["size"]) for f in group["files"] if f["action"] == "trash"]
    return out


def digests(report: Path) -> dict[str, str]:
    return {f["path"]: f["digest"] for g in load(report)["groups"] for f in g["files"]}


def journals_of(dedupe: Dedupe) -> list[Path]:
    """The journals of the applies run by `dedupe` (its own XDG_STATE_HOME)."""
    return sorted((dedupe.home / "xdg_state_home" / "dedupe" / "journals").glob("*.jsonl"))


def inodes(root: Path) -> dict[str, int]:
    return {str(p): p.lstat().st_ino for p in root.rglob("*") if p.is_file()}


def is_link(path: str, keeper: str, kind: str) -> bool:
    """Whether `path` is now a `kind` link to `keeper`."""
    here, kept = os.lstat(path), os.lstat(keeper)
    if kind == "symlink":
        return os.path.islink(path) and os.stat(path).st_ino == kept.st_ino
    return (here.st_dev, here.st_ino) == (kept.st_dev, kept.st_ino)


def temporaries(root: Path) -> list[Path]:
    return sorted(root.rglob(f"{linking.TEMPORARY_PREFIX}*"))


def trash_entries(where: Path) -> list[str]:
    """Names in a trash's files/ and info/ folders (both empty or missing: [])."""
    return sorted(
        f"{sub}/{p.name}" for sub in ("files", "info") if (where / sub).is_dir()
        for p in (where / sub).iterdir()
    )  # fmt: skip


def shares_blocks(path: str | Path) -> bool:
    """Whether every extent of the file is shared with another file (FIEMAP, SHARED flag)."""
    count = 64
    request = bytearray(struct.pack("=QQIIII", 0, 2**64 - 1, 1, 0, count, 0) + bytes(56 * count))
    with open(path, "rb") as handle:
        fcntl.ioctl(handle.fileno(), 0xC020660B, request)  # FS_IOC_FIEMAP, FIEMAP_FLAG_SYNC
    (mapped,) = struct.unpack_from("=I", request, 20)
    flags = [struct.unpack_from("=I", request, 32 + 56 * i + 40)[0] for i in range(mapped)]
    return mapped > 0 and all(flag & 0x2000 for flag in flags)  # FIEMAP_EXTENT_SHARED


def big_library(root: Path, groups: int = 2, copies: int = 2) -> Path:
    """Like apply_helpers.library with pictures of a few hundred KB (several blocks each, so a
    reflink shares real extents): its report."""
    for g in range(groups):
        image = photo(500 + g, (400, 300))
        first = root / "d0" / f"big{g}.png"
        first.parent.mkdir(parents=True, exist_ok=True)
        image.save(first)
        for c in range(1, copies):
            put(root / f"d{c}" / f"big{g}.png", first.read_bytes())
        os.utime(first, ns=(MTIME, MTIME))
    return scanned(root)


def killed(point: str, nth: int, *argv: str) -> tuple[int, str]:
    """`dedupe ARGV` in a subprocess killed with SIGKILL at the N-th POINT (apply_helpers)."""
    command = [sys.executable, str(HELPER), point, str(nth), "--", *argv]
    done = subprocess.run(command, capture_output=True, timeout=120)
    return done.returncode, done.stderr.decode(errors="replace")


@pytest.fixture
def dedupe(tmp_path: Path) -> Dedupe:
    home = tmp_path / "user"
    home.mkdir()
    return Dedupe(home)


@pytest.fixture(scope="module")
def cow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A mounted file system with reflinks (btrfs or XFS on a loop image) for this module."""
    with reflink_fs(tmp_path_factory.mktemp("cow")) as where:
        yield where


@pytest.fixture
def on_cow(cow: Path, tmp_path: Path) -> Path:
    """A folder of this test's own on the reflink file system."""
    folder = cow / tmp_path.name
    folder.mkdir()
    return folder


# ---------------------------------------------------------------- what a user sees


def test_a_dry_run_lists_each_duplicate_with_the_kept_copy_it_would_link_to(
    dedupe: Dedupe,
) -> None:
    root, report = library(dedupe.home, groups=2, copies=2)
    before = tree(root)
    expected = pairs(report)
    done = dedupe("apply", "--report", str(report), "--link", "hard", "--dry-run")
    assert done.code == ExitCode.OK
    assert done.text == "".join(f"hardlink\t{d}\t-> {k}\t{n}\n" for d, k, n in expected)
    freed = human_bytes(sum(n for _, _, n in expected))
    assert done.err == (
        f"Dry run: would hard-link 2 files, freeing {freed}; 0 would be skipped. "
        "Nothing was changed.\n"
    )
    args = ("apply", "--report", str(report), "--link", "symlink", "--dry-run")
    as_json = dedupe(*args, "--format", "json")
    assert [json.loads(line) for line in as_json.text.splitlines()] == [
        {"action": "symlink", "path": d, "size": n, "destination": k, "reason": None}
        for d, k, n in expected
    ]
    assert tree(root) == before and journals_of(dedupe) == []


def test_hard_links_replace_the_duplicates_and_undo_brings_their_own_files_back(
    dedupe: Dedupe,
) -> None:
    root, report = library(dedupe.home, groups=2, copies=3)
    before, numbers = tree(root), inodes(root)
    expected = pairs(report)
    done = dedupe("apply", "--report", str(report), "--link", "hard", "--yes")
    (path,) = journals_of(dedupe)
    freed = human_bytes(sum(n for _, _, n in expected))
    assert (done.code, done.out) == (ExitCode.OK, b"")
    assert done.err == (
        f"Linked 4 files (hard links to their kept copies), {freed} freed once the trash is "
        f"emptied; 0 skipped.\nJournal: {path}\nUndo with: dedupe undo\n"
    )
    for dup, keep, _ in expected:
        assert is_link(dup, keep, "hard")
        assert os.lstat(keep).st_nlink == 3
    # Each duplicate's own inode waits in the trash, with a .trashinfo naming where it was.
    trash = dedupe.home / "xdg_data_home" / "Trash"
    held = {p.stat().st_ino: p for p in (trash / "files").iterdir()}
    assert sorted(held) == sorted(numbers[d] for d, _, _ in expected)
    for info in (trash / "info").iterdir():
        original = info.read_text().split("\n")[1].removeprefix("Path=")
        assert held[numbers[original]].name == info.name.removesuffix(".trashinfo")
    assert temporaries(root) == []
    assert tree(root) == before  # same bytes and times at every path

    undone = dedupe("undo")
    assert (undone.code, undone.err) == (
        ExitCode.OK,
        f"Put back 4 files; 0 could not be. Journal: {path}\n",
    )
    assert tree(root) == before and inodes(root) == numbers  # their own inodes, not copies
    assert trash_entries(trash) == []
    listed = dedupe("undo", "--list").text.splitlines()[1].split("\t")
    assert listed[1:5] == ["undone", "link hard", "4", "4"]


def test_symbolic_links_are_relative_in_one_scanned_folder_and_absolute_across_two(
    dedupe: Dedupe,
) -> None:
    a, b = dedupe.home / "a", dedupe.home / "b"
    put(a / "x.png", photo_bytes(1))
    put(a / "sub" / "deeper" / "x.png", photo_bytes(1))
    put(b / "y.png", photo_bytes(2))
    put(a / "a-much-longer-folder-name" / "y.png", photo_bytes(2))
    report = dedupe.home / "report.json"
    assert main(["scan", str(a), str(b), "--report", str(report), "--no-cache", "-q"]) == 0
    before = tree(a) | tree(b)
    done = dedupe("apply", "--report", str(report), "--link", "symlink", "--yes")
    assert done.code == ExitCode.OK, done.err
    assert os.readlink(a / "sub" / "deeper" / "x.png") == "../../x.png"
    assert os.readlink(a / "a-much-longer-folder-name" / "y.png") == str(b / "y.png")
    assert sha(a / "sub" / "deeper" / "x.png") == sha(a / "x.png")
    assert dedupe("undo").code == ExitCode.OK
    assert tree(a) | tree(b) == before


def photo_bytes(seed: int) -> bytes:
    from apply_helpers import png

    return png(seed)


def test_reflinks_share_blocks_in_place_and_undo_has_nothing_to_put_back(
    dedupe: Dedupe, on_cow: Path
) -> None:
    report = big_library(on_cow / "photos")
    before, numbers = tree(on_cow / "photos"), inodes(on_cow / "photos")
    expected = pairs(report)
    assert not any(shares_blocks(d) for d, _, _ in expected)
    done = dedupe("apply", "--report", str(report), "--link", "reflink", "--yes")
    (path,) = journals_of(dedupe)
    freed = human_bytes(sum(n for _, _, n in expected))
    assert (done.code, done.err) == (
        ExitCode.OK,
        f"Reflinked 2 files (sharing the data of their kept copies), up to {freed} freed; "
        f"0 skipped.\nJournal: {path}\nUndo with: dedupe undo\n",
    )
    assert all(shares_blocks(d) and shares_blocks(k) for d, k, _ in expected)
    # Each file is still itself: same inode, bytes, modification time; nothing in any trash.
    assert tree(on_cow / "photos") == before and inodes(on_cow / "photos") == numbers
    assert not (dedupe.home / "xdg_data_home" / "Trash").exists()
    assert not list(on_cow.glob(".Trash-*"))
    undone = dedupe("undo")
    assert (undone.code, undone.err) == (
        ExitCode.OK,
        "A reflinked file kept its own inode, bytes and times all along: there is nothing to "
        "put back (its shared blocks are copied apart when either file is written).\n"
        f"Put back 0 files, 2 were already back; 0 could not be. Journal: {path}\n",
    )
    assert tree(on_cow / "photos") == before
    (dup, keep, _) = expected[0]
    with open(dup, "r+b") as handle:  # copy on write: the kept copy never sees a write
        handle.write(b"\x89PNG edited")
    assert sha(keep) == before[keep][1] != sha(dup)


# ---------------------------------------------------------------- refusals


def test_reflinks_are_refused_where_the_file_system_cannot_share_blocks(
    dedupe: Dedupe, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "plain") as plain:
        root, report = library(plain, groups=1, copies=3)
        before = tree(root)
        done = dedupe("apply", "--report", str(report), "--link", "reflink", "--yes")
        why = (
            "its file system cannot share data between files: reflinks work on btrfs, XFS made "
            "with reflink=1 (the default since xfsprogs 5.1) and bcachefs, not on ext4, tmpfs, "
            "FAT or NTFS; use --link hard or --trash for it"
        )
        (dup1, _, _), (dup2, _, _) = pairs(report)
        (path,) = journals_of(dedupe)
        assert (done.code, done.err) == (
            ExitCode.PARTIAL,
            f"skipped: {dup1}: {why}\nskipped: {dup2}: {why}\n"
            "Reflinked 0 files (sharing the data of their kept copies), up to 0 bytes freed; "
            f"2 skipped.\nJournal: {path}\n",
        )
        assert tree(root) == before


def test_hard_links_are_refused_across_file_systems_and_symlinks_are_not(
    cli: Cli, tmp_path: Path
) -> None:
    keep = put(tmp_path / "main" / "a.png", photo_bytes(3))
    with tmpfs(tmp_path / "other") as other:
        dup = put(other / "copies" / "of" / "a.png", photo_bytes(3))
        report = tmp_path / "report.json"
        assert main(["scan", str(tmp_path / "main"), str(other), "--report", str(report)]) == 0
        assert pairs(report) == [(str(dup), str(keep), dup.stat().st_size)]
        before = tree(tmp_path / "main") | tree(other)
        code, _, err = cli("apply", "--report", str(report), "--link", "hard", "--yes")
        assert code == ExitCode.PARTIAL
        assert err.splitlines()[0] == (
            f"skipped: {dup}: a hard link cannot cross file systems, and the kept copy is on "
            "another one (--link symlink can)"
        )
        code, _, err = cli("apply", "--report", str(report), "--link", "symlink", "--yes")
        assert code == ExitCode.OK, err
        assert os.readlink(dup) == str(keep)  # two scanned folders: absolute
        assert trash_entries(other / ".Trash-0") == ["files/a.png", "info/a.png.trashinfo"]
        assert main(["undo"]) == ExitCode.OK
        assert tree(tmp_path / "main") | tree(other) == before
        assert trash_entries(other / ".Trash-0") == []


def test_only_byte_identical_copies_become_links(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    image = photo(7, (320, 240))
    for folder in ("", "copy", "small"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    image.save(root / "a.png")
    put(root / "copy" / "a.png", (root / "a.png").read_bytes())
    image.resize((160, 120)).save(root / "small" / "a.png")
    report = scanned(root)
    (group,) = load(report)["groups"]
    assert group["kind"] == "similar"
    (same, keep, size), (small, _, _) = sorted(pairs(report), key=lambda p: "small" in p[0])
    assert small == str(root / "small" / "a.png")
    _, out, _ = cli("apply", "--report", str(report), "--link", "hard", "--dry-run")
    assert out == (
        f"hardlink\t{same}\t-> {keep}\t{size}\n"
        f"skip\t{small}\tit is similar to its kept copy, not identical (its SHA-256 differs): "
        "only byte-identical copies are replaced by links; use --trash or --move for it\n"
    )
    code, _, _ = cli("apply", "--report", str(report), "--link", "hard", "--yes")
    assert code == ExitCode.PARTIAL
    assert is_link(same, keep, "hard") and not os.path.samefile(small, keep)


def test_a_duplicate_or_kept_copy_changed_since_the_scan_is_left_alone(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=2, copies=2)
    (dup0, _, size0), (dup1, keep1, size1) = pairs(report)
    with open(dup0, "ab") as handle:
        handle.write(b"edited")
    with open(keep1, "ab") as handle:
        handle.write(b"edited")
    before = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--link", "symlink", "--yes")
    assert code == ExitCode.PARTIAL
    assert err.splitlines()[:2] == [
        f"skipped: {dup0}: it has changed since the scan (size {size0} -> {size0 + 6} bytes)",
        f"skipped: {dup1}: the kept copy {keep1} has changed since the scan (size {size1} -> "
        f"{size1 + 6} bytes); the whole group is left alone",
    ]
    assert tree(root) == before


def test_a_hard_link_of_the_kept_copy_is_left_as_it_is(cli: Cli, tmp_path: Path) -> None:
    keep = put(tmp_path / "photos" / "a.png", photo_bytes(4))
    put(tmp_path / "photos" / "b.png", photo_bytes(4))
    report = scanned(tmp_path / "photos")
    (dup, _, _), = pairs(report)  # fmt: skip
    os.unlink(dup)
    os.link(keep, dup)  # made a hard link of the kept copy since the scan, same bytes and time
    code, _, err = cli("apply", "--report", str(report), "--link", "hard", "--yes")
    assert code == ExitCode.PARTIAL
    assert err.splitlines()[0] == (
        f"skipped: {dup}: it is a hard link of the kept copy {keep} (the same file on disk); "
        "linking it would free nothing"
    )


# ---------------------------------------------------------------- races at one moment


def once(action: object) -> object:
    done: list[str] = []

    def hook(path: str) -> None:
        if not done:
            done.append(path)
            action(path)  # type: ignore[operator]

    return hook


@pytest.mark.parametrize(
    ("kind", "race", "reason"),
    [
        ("hard", "keeper-written", "the kept copy {keep} changed (it was written to)"),
        ("hard", "keeper-content", "the kept copy {keep} changed (its content changed)"),
        ("hard", "dup-swapped", "another file took its place"),
        ("symlink", "dup-swapped", "another file took its place"),
        ("symlink", "dup-written", "it was written to"),
    ],
)
def test_a_file_changed_between_check_and_link_is_left_alone(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, race: str, reason: str
) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    ((dup, keep, _),) = pairs(report)
    stranger = put(tmp_path / "elsewhere" / "stranger.png", photo_bytes(77))

    def act(path: str) -> None:
        if race == "keeper-written":
            Path(keep).write_bytes(Path(keep).read_bytes())  # same bytes, a new mtime
        elif race == "keeper-content":  # other bytes, same size and time: only the digest sees it
            data = bytearray(Path(keep).read_bytes())
            data[-1] ^= 1
            Path(keep).write_bytes(bytes(data))
            os.utime(keep, ns=(MTIME, MTIME))
        elif race == "dup-swapped":
            os.rename(stranger, dup)
        else:
            with open(dup, "ab") as handle:
                handle.write(b"!")

    stranger_digest = sha(stranger)
    monkeypatch.setattr(acting, "before_action", once(act))
    code, _, err = cli("apply", "--report", str(report), "--link", kind, "--yes")
    assert code == ExitCode.PARTIAL
    assert err.splitlines()[0] == (
        f"skipped: {dup}: {reason.format(keep=keep)} between its check and the action; "
        "nothing was linked"
    )
    assert not os.path.islink(dup) and not os.path.samefile(dup, keep)
    assert temporaries(root) == [] and trash_entries(trash_dir()) == []
    if race == "dup-swapped":
        assert sha(dup) == stranger_digest  # the file moved in stays where it was put


def test_a_file_renamed_onto_the_duplicate_during_the_swap_is_never_replaced(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The moment between the duplicate's last check and the exchange: a file renamed onto the
    duplicate's name then is what the exchange takes out; it is put back, and the duplicate,
    whose only name left is the one in the trash, stays there."""
    root, report = library(tmp_path, groups=1, copies=2)
    ((dup, _keep, _),) = pairs(report)
    own = sha(dup)
    stranger = put(tmp_path / "elsewhere" / "stranger.png", photo_bytes(77))
    stranger_digest = sha(stranger)
    real = linking.exchange

    def exchange(folder: object, a: str, b: str) -> None:
        if stranger.exists():
            os.rename(stranger, dup)
        real(folder, a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(linking, "exchange", exchange)
    code, _, err = cli("apply", "--report", str(report), "--link", "hard", "--yes")
    assert code == ExitCode.PARTIAL
    (held,) = (trash_dir() / "files").iterdir()
    assert err.splitlines()[0] == (
        f"skipped: {dup}: another file took its place between its check and the action; "
        f"nothing was linked; the checked file, no longer at its path, is kept at {held}"
    )
    assert sha(dup) == stranger_digest  # the stranger stays
    assert sha(held) == own and temporaries(root) == []


@pytest.mark.parametrize("kind", ["hard", "symlink"])
def test_without_an_atomic_exchange_it_renames_over_the_checked_name(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    def unsupported(folder: object, a: str, b: str) -> None:
        raise OSError(errno.EINVAL, "RENAME_EXCHANGE is not supported here")

    monkeypatch.setattr(linking, "exchange", unsupported)
    root, report = library(tmp_path, groups=2, copies=2)
    before, numbers = tree(root), inodes(root)
    assert cli("apply", "--report", str(report), "--link", kind, "--yes")[0] == ExitCode.OK
    assert all(is_link(d, k, kind) for d, k, _ in pairs(report))
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before and inodes(root) == numbers


# ---------------------------------------------------------------- crashes, resume, undo


BEFORE_SWAP = "interrupted before it was linked; it is still in place"
AFTER_SWAP = "was linked just before the interruption; recorded"


@pytest.mark.parametrize(
    ("kind", "point", "nth", "note"),
    [
        ("symlink", "linking:_make_link:after", 1, BEFORE_SWAP),
        ("hard", "trash:keep:after", 2, BEFORE_SWAP),  # the second file: the first is done
        ("hard", "linking:exchange:after", 1, AFTER_SWAP),
        ("symlink", "linking:exchange:after", 1, AFTER_SWAP),
        # its old name in the folder dropped, the "done" not written (the first unlink is of
        # the journal's temporary name)
        ("hard", "os:unlink:after", 2, AFTER_SWAP),
    ],
)
def test_an_apply_killed_at_each_step_resumes_and_undoes_to_the_last_byte(
    cli: Cli, tmp_path: Path, kind: str, point: str, nth: int, note: str
) -> None:
    root, report = library(tmp_path, groups=2, copies=2)
    before, numbers = tree(root), inodes(root)
    argv = ("apply", "--report", str(report), "--link", kind, "--yes")
    code, err = killed(point, nth, *argv)
    assert code == -signal.SIGKILL, err
    digest = digests(report)
    for dup, _, _ in pairs(report):  # a name is never missing, nor its bytes other than its own
        assert os.path.exists(dup) and sha(dup) == digest[dup]
    code, _, err = cli(*argv)
    assert code == ExitCode.OK, err
    interrupted = pairs(report)[1 if point == "trash:keep:after" else 0][0]
    assert f"resumed: {interrupted}: {note}" in err.splitlines()
    assert all(is_link(d, k, kind) for d, k, _ in pairs(report))
    assert temporaries(root) == []
    held = {p.lstat().st_ino for p in (trash_dir() / "files").iterdir()}
    assert held == {numbers[d] for d, _, _ in pairs(report)}  # each duplicate's own inode, once
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before and inodes(root) == numbers
    assert trash_entries(trash_dir()) == []


@pytest.mark.parametrize(
    ("point", "nth"),
    # the duplicate taken out of the trash to its temporary name (its new name made, its trash
    # name not yet dropped); swapped in; its link dropped
    [("os:link:after", 1), ("linking:exchange:after", 1), ("os:unlink:after", 2)],
)
def test_an_undo_killed_at_each_step_finishes_when_run_again(
    cli: Cli, tmp_path: Path, point: str, nth: int
) -> None:
    root, report = library(tmp_path, groups=2, copies=2)
    before, numbers = tree(root), inodes(root)
    assert apply(report, "--link", "hard") == ExitCode.OK
    code, err = killed(point, nth, "undo")
    assert code == -signal.SIGKILL, err
    assert all(os.path.exists(d) for d, _, _ in pairs(report))
    code, _, err = cli("undo")
    assert code == ExitCode.OK, err
    assert tree(root) == before and inodes(root) == numbers
    assert temporaries(root) == [] and trash_entries(trash_dir()) == []


def test_a_reflink_killed_at_its_ioctl_is_tried_again(cli: Cli, on_cow: Path) -> None:
    report = big_library(on_cow / "photos")
    before = tree(on_cow / "photos")
    argv = ("apply", "--report", str(report), "--link", "reflink", "--yes")
    code, err = killed("fcntl:ioctl:after", 2, *argv)  # the first one only asks (precheck)
    assert code == -signal.SIGKILL, err
    code, _, err = cli(*argv)
    assert code == ExitCode.OK, err
    (first, _, _) = pairs(report)[0]
    assert (
        f"resumed: {first}: interrupted while it was being reflinked; its bytes, inode and time "
        "are the same either way, and it is tried again"
    ) in err.splitlines()
    assert all(shares_blocks(d) for d, _, _ in pairs(report))
    assert tree(on_cow / "photos") == before
    assert main(["undo"]) == ExitCode.OK and tree(on_cow / "photos") == before


def test_resuming_with_another_kind_of_link_is_refused(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=2, copies=2)
    code, err = killed(
        "trash:keep:after", 1, "apply", "--report", str(report), "--link", "hard", "--yes"
    )
    assert code == -signal.SIGKILL, err
    (path,) = journals()
    code, _, err = cli("apply", "--report", str(report), "--link", "symlink", "--yes")
    assert (code, err) == (
        ExitCode.REFUSED,
        f"error: refusing to apply: an interrupted apply of this report (--link hard) is not "
        f"finished (journal {path}); run it again with the same action to finish it, or "
        f"`dedupe undo --journal {path}` to put its files back\n",
    )


# ---------------------------------------------------------------- undo after the fact


def test_undo_after_the_trash_was_emptied_leaves_the_link_and_says_why(
    cli: Cli, tmp_path: Path
) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    ((dup, keep, _),) = pairs(report)
    assert apply(report, "--link", "symlink") == ExitCode.OK
    (held,) = (trash_dir() / "files").iterdir()
    held.unlink()  # the trash emptied
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL
    assert err.splitlines()[0] == (
        f"not restored: {dup}: its own copy is no longer at {held} (the trash was emptied?)"
    )
    assert is_link(dup, keep, "symlink")


def test_undo_never_overwrites_what_replaced_the_link_and_restores_where_it_was_deleted(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=2, copies=2)
    (dup0, _, _), (dup1, _, _) = pairs(report)
    own1 = sha(dup1)
    assert apply(report, "--link", "hard") == ExitCode.OK
    (entry,) = trashed_from(dup0)
    os.unlink(dup0)
    put(Path(dup0), b"a new picture saved over the link")
    os.unlink(dup1)  # the link deleted by hand: the duplicate goes straight back
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL
    assert err.splitlines()[0] == (
        f"not restored: {dup0}: a file other than its link is at {dup0} now; it is not "
        f"overwritten (the duplicate is still at {entry.files_path})"
    )
    assert Path(dup0).read_bytes() == b"a new picture saved over the link"
    assert sha(dup1) == own1 and not os.path.samefile(dup1, pairs(report)[1][1])
    assert temporaries(root) == []


def test_undo_of_hard_links_keeps_what_was_edited_through_them(tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=2, copies=2)
    (dup0, keep0, _), (dup1, keep1, _) = pairs(report)
    own0, own1, old1 = sha(dup0), sha(dup1), Path(keep1).read_bytes()
    assert apply(report, "--link", "hard") == ExitCode.OK
    with open(dup0, "ab") as handle:  # an edit through the link edits the kept copy too
        handle.write(b"edited")
    edited0 = sha(keep0)
    # The other kept copy saved as a new file (an editor's write-and-rename): the link is now
    # the last name of the old file, which undo moves to the trash instead of deleting it.
    replacement = Path(keep1).with_name("new.tmp")
    replacement.write_bytes(old1 + b"v2")
    os.rename(replacement, keep1)
    assert main(["undo"]) == ExitCode.OK
    assert (sha(dup0), sha(keep0), sha(dup1)) == (own0, edited0, own1)
    assert [p.read_bytes() for p in (trash_dir() / "files").iterdir()] == [old1]


def test_a_damaged_link_intent_is_named_by_its_line(tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    assert apply(report, "--link", "hard") == ExitCode.OK
    (path,) = journals()
    lines = records(path)
    intent = next(r for r in lines if r["type"] == "intent")
    assert (intent["action"], intent["link"], intent["link_target"]) == ("link", "hard", None)
    intent["link"] = "wormhole"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    number = 1 + next(i for i, r in enumerate(lines) if r["type"] == "intent")
    assert journal.read(path).damage[0] == (number, "a link of unknown kind 'wormhole'")
