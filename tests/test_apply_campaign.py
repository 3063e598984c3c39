"""The SIGKILL campaign: random libraries, `dedupe apply` in a real subprocess killed with SIGKILL
at a random moment, run again until it finishes, then `dedupe undo` (killed too, now and then):
0 files lost, 0 removed wrongly, every file back byte-identical.

Each trial is seeded: its library (groups, copies, folders), its action (trash to the home
trash, trash to a top-dir `.Trash-UID` on a tmpfs, move on the same file system, move across
file systems onto a tmpfs) and its kills (right before or after the N-th call of os.link,
unlink, rename, fsync, write, open or mkdir in the apply: every step of an action, of the
journal and of a copy across devices) are drawn from `random.Random(seed)`, so a failing trial
runs again the same way. Between kills every file marked trash must be in exactly one place:
where it was, or (with its bytes) in the trash or under the --move folder.

CI runs DEDUPE_CAMPAIGN_TRIALS trials (default 16, seeds from DEDUPE_CAMPAIGN_SEED, default 0);
set them for a longer campaign (`DEDUPE_CAMPAIGN_TRIALS=200 DEDUPE_CAMPAIGN_SEED=1000 pytest
tests/test_apply_campaign.py`). The tmpfs trials need `mount` (root); elsewhere the move across
file systems uses /dev/shm when it is another device, and the top-dir trash trials skip.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from apply_helpers import MTIME, png, put, scan_library, sha, tree

from dedupe import journal, trash
from dedupe.cli import ExitCode, main

HELPER = Path(__file__).with_name("apply_helpers.py")
TRIALS = int(os.environ.get("DEDUPE_CAMPAIGN_TRIALS", "16"))
FIRST_SEED = int(os.environ.get("DEDUPE_CAMPAIGN_SEED", "0"))
MODES = ("trash", "trash-topdir", "move", "move-across")
# os call -> about how many a file to remove costs (where a kill may land, drawn uniformly)
CALLS = {"link": 1, "unlink": 1, "rename": 1, "fsync": 4, "write": 3, "open": 12, "mkdir": 1}

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("home_on_tmp")]


@pytest.fixture(scope="module")
def private_tmpfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """A tmpfs mounted for these trials (None where mounting is not permitted)."""
    base = tmp_path_factory.mktemp("other-fs")
    if os.geteuid() != 0:
        yield None
        return
    run = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(base)], capture_output=True
    )
    if run.returncode:
        yield None
        return
    try:
        yield base
    finally:
        subprocess.run(["umount", "-l", str(base)], capture_output=True)


@pytest.fixture(scope="module")
def other_fs(private_tmpfs: Path | None) -> Iterator[Path | None]:
    """A folder on another file system than the test's: the private tmpfs, else /dev/shm."""
    if private_tmpfs is not None:
        yield private_tmpfs
        return
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != Path.cwd().stat().st_dev:
        with tempfile.TemporaryDirectory(dir=shm, prefix="dedupe-campaign-") as folder:
            yield Path(folder)
        return
    yield None


def build(rng: random.Random, root: Path) -> Path:
    """A random library under root, scanned: its report."""
    pictures = rng.sample(range(300, 400), 8)
    for g in range(rng.randint(2, 5)):
        for c in range(rng.randint(2, 4)):
            folder = rng.choice(("", "a", "b/c", "d e"))
            put(root / folder / f"g{g}-{c}.png", png(pictures[g]), MTIME + rng.choice((0, g)))
    put(root / "lonely.png", png(pictures[7]))
    report = root.parent / f"{root.name}.json"
    scan_library(root, report)
    return report


def removals(report: Path) -> list[dict[str, str]]:
    from apply_helpers import trash_members

    return trash_members(report)


def run(point: str, nth: int, *argv: str) -> tuple[int, str]:
    """The helper's run of `dedupe ARGV`, killed at POINT's N-th time: (exit code, stderr)."""
    command = [sys.executable, str(HELPER), point, str(nth), "--", *argv]
    done = subprocess.run(command, capture_output=True, timeout=120)
    return done.returncode, done.stderr.decode(errors="replace")


def journal_lines(path: Path) -> list[dict[str, object]]:
    """The records of a journal; every line but a torn last one must be whole JSON."""
    *whole, _torn = path.read_bytes().split(b"\n")
    return [json.loads(line) for line in whole if line.strip()]


def finished(report: Path) -> bool:
    """Whether the report's apply has run to its end (its journal says so)."""
    return any(
        lines[0].get("report") == str(report) and any(r["type"] == "end" for r in lines)
        for lines in map(journal_lines, journal.journals_dir().glob("*.jsonl"))
    )


def place_of(
    f: dict[str, str], root: Path, dest: Path | None, trashes: list[tuple[str, str]]
) -> int:
    """How many places hold the file `f` of the report, with its bytes (two names of one file,
    which a kill between link and unlink leaves, count as one)."""
    path, digest = f["path"], f["digest"]
    names = []
    if os.path.isfile(path) and not os.path.islink(path) and sha(path) == digest:
        names.append(path)
    for item in trash.find_by_original(path, trashes=trashes):
        assert sha(item.files_path) == digest, f"{item.files_path}: wrong bytes in the trash"
        names.append(item.files_path)
    if dest is not None:
        target = dest / os.path.relpath(path, root)
        if target.is_file():
            assert sha(target) == digest, f"{target}: wrong bytes"
            names.append(str(target))
    return len({(os.stat(n).st_dev, os.stat(n).st_ino) for n in names})


def trashes_of(root: Path) -> list[tuple[str, str]]:
    """The trashes a file under root can go to: the home trash and its drive's top-dir trash."""
    return trash.trash_dirs(str(root / "x"))


def check_accounted(
    report: Path, root: Path, dest: Path | None, before: dict, *, settled: bool
) -> None:
    """No file lost, none changed, none removed that was not marked trash. Once `settled` (a
    run went to its end), each file marked trash is in exactly one place; right after a kill
    a copy across devices may exist twice (copied, its source not yet deleted: the next run
    settles that)."""
    trashes = trashes_of(root)
    leaving = {f["path"] for f in removals(report)}
    for f in removals(report):
        places = place_of(f, root, dest, trashes)
        assert places >= 1, f"{f['path']} is lost"
        assert places == 1 or not settled, f"{f['path']} is in {places} places"
    now = tree(root)
    for path, value in before.items():  # nothing else changed: keepers, the lonely file
        if path not in leaving:
            assert now.get(path) == value, f"{path} was changed or removed"


def leftovers(root: Path, dest: Path | None) -> list[str]:
    """Trash entries or .trashinfo files of files from root, partial copies, moved files."""
    found = []
    for folder, top in trashes_of(root):
        for sub in ("files", "info"):
            entries = Path(folder, sub)
            if entries.is_dir():
                found += [
                    str(p)
                    for p in entries.iterdir()
                    if sub == "files"
                    or (trash.read_info(str(p), top) or (str(root),))[0].startswith(str(root))
                ]  # an unreadable .trashinfo (empty: reserved, never written) is one too
    places = [root] + ([dest] if dest is not None else [])
    found += [str(p) for place in places for p in place.rglob("*.dedupe-partial")]
    if dest is not None:
        found += [str(p) for p in dest.rglob("*") if p.is_file()]
    return found


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + TRIALS))
def test_sigkill_at_random_moments_loses_nothing(
    tmp_path: Path, other_fs: Path | None, private_tmpfs: Path | None, seed: int
) -> None:
    rng = random.Random(seed)
    mode = MODES[seed % len(MODES)]
    if mode == "move-across" and other_fs is None:
        pytest.skip("no second file system to move to")
    base = tmp_path
    if mode == "trash-topdir":  # its .Trash-UID is made at the top of that file system
        if private_tmpfs is None:
            pytest.skip("cannot mount a tmpfs for a top-dir trash")
        base = private_tmpfs / f"trial-{seed}-{os.getpid()}"
    root = base / "photos"
    report = build(rng, root)
    before = tree(root)
    dest: Path | None = None
    action = ["--trash"]
    if mode.startswith("move"):
        dest = (other_fs if mode == "move-across" else tmp_path) / f"dupes-{seed}-{os.getpid()}"
        action = ["--move", str(dest)]
    argv = ["apply", "--report", str(report), *action, "--yes"]
    files = len(removals(report))
    for _ in range(rng.randint(1, 3)):
        call = rng.choice(sorted(CALLS))
        point = f"os:{call}:{rng.choice(('before', 'after'))}"
        code, err = run(point, rng.randint(1, CALLS[call] * files + 2), *argv)
        assert code in (-signal.SIGKILL, ExitCode.OK), f"{point}: exit {code}\n{err}"
        check_accounted(report, root, dest, before, settled=code == ExitCode.OK)
        if finished(report):  # killed after its last record, or not killed at all
            break
    else:
        assert main(argv) == ExitCode.OK  # run again: it finishes what the kills left
    check_accounted(report, root, dest, before, settled=True)
    assert all(not os.path.lexists(f["path"]) for f in removals(report))
    (path,) = journal.journals_dir().glob("*.jsonl")
    journal_lines(path)  # kills tear at most the last line, never one in the middle
    if rng.random() < 0.5:
        call = rng.choice(("link", "unlink", "fsync", "write"))
        point = f"os:{call}:{rng.choice(('before', 'after'))}"
        code, err = run(point, rng.randint(1, 2 * files), "undo")
        assert code in (-signal.SIGKILL, ExitCode.OK), f"undo {point}: exit {code}\n{err}"
    code = main(["undo"])
    assert code == ExitCode.OK
    assert tree(root) == before  # every byte and modification time back
    assert leftovers(root, dest) == []
