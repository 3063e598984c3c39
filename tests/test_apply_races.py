"""Races against real processes, forced with `strace -e inject=...:delay_enter=...`: the apply's
(or undo's) link and rename system calls (for --link reflink its FIDEDUPERANGE ioctl) are held
back before they run, and the test acts in that window, from outside, the way another program
could.

Marked slow (each test waits for the delays: a few seconds); skipped where strace is missing
or may not trace (no ptrace in the container). test_apply_safety.py forces the same races
in-process through the `before_action` seam.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apply_helpers import (
    copies_left,
    journals,
    keepers,
    library,
    png,
    put,
    reflink_fs,
    sha,
    swapped,
    trash_dir,
    trash_members,
    tree,
)

from dedupe.cli import ExitCode

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("home_on_tmp")]

MOVES = "link,linkat,rename,renameat,renameat2"
SOURCE = str(Path(__file__).resolve().parent.parent)  # the dedupe these tests belong to


def _strace() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    probe = subprocess.run([found, "-qq", "-e", "trace=none", "true"], capture_output=True)
    if probe.returncode:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    return found


def delayed(
    trace: Path, delay_s: float, *argv: str, calls: str = MOVES, only: str | None = None
) -> subprocess.Popen[bytes]:
    """`dedupe ARGV` in a subprocess whose link and rename calls (or `calls`; with `only`, just
    those on that path, strace -P) each wait `delay_s` first; strace writes each call to
    `trace` as it starts (the line ends when the call returns)."""
    command = [
        _strace(),
        "-f",
        "-qq",
        "-o",
        str(trace),
        "-e",
        f"trace={calls}",
        "-e",
        f"inject={calls}:delay_enter={int(delay_s * 1e6)}",
        *(["-P", only] if only else []),
        sys.executable,
        "-m",
        "dedupe",
        *argv,
    ]
    env = {**os.environ, "PYTHONPATH": SOURCE}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def started(trace: Path, *words: str) -> Callable[[], bool]:
    """Whether a call whose strace line holds every one of `words` has started and not
    returned (strace ends the line when the call returns)."""

    def check() -> bool:
        text = trace.read_text() if trace.exists() else ""
        last = text.rsplit("\n", 1)[-1]
        return all(word in last for word in words)

    return check


def held_back(trace: Path, name: str) -> Callable[[], bool]:
    """Whether a link or rename of `name` has started and not returned (it is being held)."""

    def check() -> bool:
        text = trace.read_text() if trace.exists() else ""
        last = text.rsplit("\n", 1)[-1]
        return name in last and ("link" in last or "rename" in last)

    return check


def dedupe(*argv: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": SOURCE}
    return subprocess.run(
        [sys.executable, "-m", "dedupe", *argv], capture_output=True, env=env, timeout=120
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60  # a guard against hanging, not a timing assertion
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            _, err = process.communicate()
            raise AssertionError(f"never happened; the apply said: {err.decode()}")
        time.sleep(0.005)


def finish(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, err = process.communicate(timeout=120)
    return process.returncode, err.decode()


def test_a_file_swapped_in_while_the_trash_move_is_held_back_stays_in_place(
    tmp_path: Path,
) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = (f["path"] for f in trash_members(report))
    stranger = put(tmp_path / "elsewhere" / "stranger.png", png(77))
    digest = sha(stranger)
    trace = tmp_path / "trace"
    process = delayed(trace, 0.8, "apply", "--report", str(report), "--trash", "--yes")
    wait_for(held_back(trace, os.path.basename(victim)), process)  # checked, moving: held
    os.rename(stranger, victim)  # another program puts its file at the checked path
    code, err = finish(process)
    assert code == ExitCode.PARTIAL, err
    assert "another file took its place between its check and the action" in err
    assert sha(victim) == digest  # the file moved in stays where it was put
    assert not any((trash_dir() / "files").iterdir())


def test_two_applies_of_one_folder_at_once_never_take_the_last_copy(tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=4, copies=2)
    other = swapped(report)
    first = delayed(tmp_path / "trace", 0.6, "apply", "--report", str(report), "--trash", "--yes")
    wait_for(lambda: bool(journals()) and b'"intent"' in journals()[0].read_bytes(), first)
    second = dedupe("apply", "--report", str(other), "--trash", "--yes")  # meanwhile
    code, err = finish(first)
    assert all(n == 1 for n in copies_left(report).values()), "a group lost its last copy"
    assert code == ExitCode.OK, err
    assert second.returncode == ExitCode.REFUSED, second.stderr.decode()
    assert b"another dedupe is already working on files on the same drive" in second.stderr


def test_undo_held_back_while_a_folder_becomes_a_symlink_restores_into_the_real_folder(
    tmp_path: Path,
) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = (f["path"] for f in trash_members(report))
    digest = sha(victim)
    assert dedupe("apply", "--report", str(report), "--trash", "--yes").returncode == 0
    outside, moved = tmp_path / "outside", tmp_path / "moved-away"
    outside.mkdir()
    trace = tmp_path / "trace"
    process = delayed(trace, 0.8, "undo")
    wait_for(held_back(trace, os.path.basename(victim)), process)  # checked, restoring: held
    parent = Path(victim).parent
    parent.rename(moved)  # the folder goes elsewhere and a symlink takes its place
    os.symlink(outside, parent)
    code, err = finish(process)
    assert tree(outside) == {}, "restored through the symlink"
    assert code == ExitCode.OK, err
    assert sha(moved / os.path.basename(victim)) == digest  # into the folder it checked


# ---------------------------------------------------------------- apply --link


def test_a_file_renamed_onto_a_duplicate_while_its_link_is_swapped_in_stays(
    tmp_path: Path,
) -> None:
    """The exchange of the link's temporary name and the duplicate's name is held back; another
    program renames its file onto the duplicate's name meanwhile. The exchange takes that file
    out, sees it is not the checked duplicate, and puts it back; the duplicate, whose only name
    is now its second one in the trash, stays there."""
    root, report = library(tmp_path, groups=1, copies=2)
    ((victim, digest),) = ((f["path"], sha(f["path"])) for f in trash_members(report))
    stranger = put(tmp_path / "elsewhere" / "stranger.png", png(77))
    theirs = sha(stranger)
    trace = tmp_path / "trace"
    argv = ("apply", "--report", str(report), "--link", "hard", "--yes")
    process = delayed(trace, 0.4, *argv)
    wait_for(started(trace, "renameat2", "RENAME_EXCHANGE"), process)  # linked, kept: swapping
    os.rename(stranger, victim)
    code, err = finish(process)
    (held,) = (trash_dir() / "files").iterdir()
    assert code == ExitCode.PARTIAL, err
    assert (
        f"skipped: {victim}: another file took its place between its check and the action; "
        f"nothing was linked; the checked file, no longer at its path, is kept at {held}"
    ) in err.splitlines()
    assert sha(victim) == theirs and sha(held) == digest  # neither file lost, none replaced
    assert not list(root.rglob(".dedupe-link-*"))


@pytest.fixture(scope="module")
def cow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with reflink_fs(tmp_path_factory.mktemp("cow")) as where:
        yield where


def test_a_write_while_a_reflink_is_held_back_is_never_overwritten(
    tmp_path: Path, cow: Path
) -> None:
    """FIDEDUPERANGE, held back after every check: a program writes into the duplicate (same
    size, new bytes) meanwhile. The kernel compares the ranges and shares nothing: the write
    stays. (FICLONE onto the duplicate would have replaced it with the kept copy's bytes.)"""
    root = cow / tmp_path.name / "photos"
    _, report = library(root.parent, groups=1, copies=2)
    ((victim, size),) = ((f["path"], f["size"]) for f in trash_members(report))
    (keeper,) = keepers(report)
    trace = tmp_path / "trace"
    argv = ("apply", "--report", str(report), "--link", "reflink", "--yes")
    # Only the ioctls on the kept copy (the source of FIDEDUPERANGE), not Python's own.
    process = delayed(trace, 0.4, *argv, calls="ioctl", only=keeper)
    wait_for(started(trace, "FIDEDUPERANGE", f"src_length={size},"), process)  # not the probe
    written = bytearray(Path(victim).read_bytes())
    written[-5] ^= 0xFF
    with open(victim, "r+b") as handle:  # in place: the inode the apply holds open
        handle.write(written)
    code, err = finish(process)
    assert code == ExitCode.PARTIAL, err
    assert (
        f"skipped: {victim}: it was written to (its bytes are no longer the kept copy's) "
        "between its check and the action; nothing was linked"
    ) in err.splitlines()
    assert Path(victim).read_bytes() == bytes(written)


def test_a_file_renamed_onto_the_checked_name_while_its_removal_is_held_back_keeps_it(
    tmp_path: Path,
) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    (victim,) = (f["path"] for f in trash_members(report))
    stranger = put(tmp_path / "elsewhere" / "stranger.png", png(78))  # its only copy
    digest = sha(stranger)
    trace = tmp_path / "trace"
    argv = ("apply", "--report", str(report), "--trash", "--yes")
    takers = "unlink,unlinkat,rename,renameat,renameat2"  # what takes a name away; not link
    process = delayed(trace, 0.8, *argv, calls=takers)
    wait_for(held_back(trace, os.path.basename(victim)), process)  # linked; the old name: held
    os.rename(stranger, victim)  # another program puts its file at the name right then
    code, err = finish(process)
    assert code == ExitCode.OK, err  # the checked file is in the trash
    assert os.path.isfile(victim) and sha(victim) == digest, "the file renamed in was deleted"
