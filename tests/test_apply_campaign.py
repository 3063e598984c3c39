"""The SIGKILL campaign: random libraries, `dedupe apply` in a real subprocess killed with SIGKILL
at a random moment, run again until it finishes, then `dedupe undo` (killed too, now and then):
0 files lost, 0 removed wrongly, every file back byte-identical.

Each trial is seeded: its library (groups, copies, folders), its action (trash to the home
trash, trash to a top-dir `.Trash-UID` on a tmpfs, move on the same file system, move across
file systems onto a tmpfs; or --link hard, symlink, reflink) and its kills (right before or
after the N-th call of os.link, unlink, rename, fsync, write, open or mkdir in the apply: every
step of an action, of the journal and of a copy across devices; for links also os.symlink, the
exchange of two names, the trash's second name and the FIDEDUPERANGE ioctl) are drawn from
`random.Random(seed)`, so a failing trial runs again the same way. Between kills every file
marked trash must be in exactly one place: where it was, or (with its bytes) in the trash or
under the --move folder. With --link its name is never missing nor holds other bytes, and its
own inode is in exactly one place (at its name, or in the trash); once finished its name is
the link; after undo it is its own inode again.

CI runs DEDUPE_CAMPAIGN_TRIALS trials (default 16, seeds from DEDUPE_CAMPAIGN_SEED, default 0)
and DEDUPE_CAMPAIGN_LINK_TRIALS link trials (default 3, one a kind; test_apply_link.py kills
every step of a link deterministically); set them for a longer campaign
(`DEDUPE_CAMPAIGN_TRIALS=200 DEDUPE_CAMPAIGN_SEED=1000 pytest tests/test_apply_campaign.py`).
The tmpfs trials need `mount` (root); elsewhere the move across file systems uses /dev/shm when
it is another device, and the top-dir trash trials skip. The reflink trials need a btrfs or
XFS loop image (root, btrfs-progs or xfsprogs) and skip without one.
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
from apply_helpers import (
    MTIME,
    png,
    put,
    reflink_fs,
    removed_files,
    scan_library,
    sha,
    takeout_json,
    tree,
    xmp,
)

from dedupe import journal, linking, trash
from dedupe.cli import ExitCode, main

HELPER = Path(__file__).with_name("apply_helpers.py")
TRIALS = int(os.environ.get("DEDUPE_CAMPAIGN_TRIALS", "16"))
FIRST_SEED = int(os.environ.get("DEDUPE_CAMPAIGN_SEED", "0"))
LINK_TRIALS = int(os.environ.get("DEDUPE_CAMPAIGN_LINK_TRIALS", "3"))
MODES = ("trash", "trash-topdir", "move", "move-across")
LINK_MODES = ("link-hard", "link-symlink", "link-reflink")
TRIALS_RUN = [(MODES[s % len(MODES)], s) for s in range(FIRST_SEED, FIRST_SEED + TRIALS)] + [
    (LINK_MODES[s % len(LINK_MODES)], s) for s in range(FIRST_SEED, FIRST_SEED + LINK_TRIALS)
]
# os call -> about how many a file to remove costs (where a kill may land, drawn uniformly)
CALLS = {"link": 1, "unlink": 1, "rename": 1, "fsync": 4, "write": 3, "open": 12, "mkdir": 1}
# The same for --link, and the calls of its own steps (MODULE:CALL, see apply_helpers).
LINK_CALLS = {
    **CALLS,
    "link": 2,
    "symlink": 1,
    "linking:exchange": 1,
    "trash:keep": 1,
    "fcntl:ioctl": 2,
}

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
def cow_fs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """A file system with reflinks (btrfs or XFS on a loop image), None where none can be made."""
    try:
        with reflink_fs(tmp_path_factory.mktemp("cow")) as where:
            yield where
    except pytest.skip.Exception:
        yield None


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
    """A random library under root, scanned: its report. In about a third of the groups every
    copy has sidecars (an XMP written by exiftool, now and then Google Takeout's JSON), which go
    with their image as one unit."""
    pictures = rng.sample(range(300, 400), 8)
    for g in range(rng.randint(2, 5)):
        sidecars = rng.random() < 0.35
        for c in range(rng.randint(2, 4)):
            folder = rng.choice(("", "a", "b/c", "d e"))
            name = f"g{g}-{c}.png"
            put(root / folder / name, png(pictures[g]), MTIME + rng.choice((0, g)))
            if sidecars:
                put(root / folder / f"{name}.xmp", xmp(f"group {g} copy {c}"))
                if rng.random() < 0.3:
                    put(root / folder / f"{name}.supplemental-metadata.json", takeout_json(name))
    put(root / "lonely.png", png(pictures[7]))
    report = root.parent / f"{root.name}.json"
    scan_library(root, report)
    return report


def removals(report: Path) -> list[dict[str, str]]:
    """The files an apply removes: those marked trash and their companions."""
    return removed_files(report)


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


def point_for(call: str, when: str) -> str:
    return f"{call}:{when}" if ":" in call else f"os:{call}:{when}"


def check_links(
    report: Path, own: dict[str, tuple[int, int]], trashes: list[tuple[str, str]], kind: str
) -> None:
    """--link: each duplicate's name exists with its bytes (through the link once linked), and
    its own inode is in exactly one place: at its name, at its temporary name beside it, or in
    the trash (several names of that one inode count once)."""
    for f in removals(report):
        path = f["path"]
        assert os.path.exists(path), f"{path} is missing"
        assert sha(path) == f["digest"], f"{path} holds other bytes"
        if kind == "reflink":
            assert (os.lstat(path).st_dev, os.lstat(path).st_ino) == own[path]
            continue
        spare = os.path.join(os.path.dirname(path), linking.temporary_name(os.path.basename(path)))
        names = [n for n in (path, spare) if os.path.lexists(n) and not os.path.islink(n)]
        names += [t.files_path for t in trash.find_by_original(path, trashes=trashes)]
        inodes = {(os.lstat(n).st_dev, os.lstat(n).st_ino) for n in names}
        assert own[path] in inodes, f"{path}: its own file is lost"
        assert sum(1 for i in inodes if i == own[path]) == 1


def linked_to_keepers(report: Path, kind: str) -> None:
    """Once finished: every duplicate's name is the link to its group's kept copy."""
    for group in json.loads(report.read_text())["groups"]:
        keep = next(f["path"] for f in group["files"] if f["action"] == "keep")
        for f in group["files"]:
            if f["action"] != "trash":
                continue
            if kind == "symlink":
                assert os.path.islink(f["path"]) and os.path.samefile(f["path"], keep)
            elif kind == "hard":
                assert os.path.samefile(f["path"], keep) and not os.path.islink(f["path"])


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
    found += [str(p) for p in root.rglob(f"{linking.TEMPORARY_PREFIX}*")]
    if dest is not None:
        found += [str(p) for p in dest.rglob("*") if p.is_file()]
    return found


@pytest.mark.parametrize(("mode", "seed"), TRIALS_RUN, ids=[f"{m}-{s}" for m, s in TRIALS_RUN])
def test_sigkill_at_random_moments_loses_nothing(
    tmp_path: Path,
    other_fs: Path | None,
    private_tmpfs: Path | None,
    cow_fs: Path | None,
    mode: str,
    seed: int,
) -> None:
    rng = random.Random(seed)
    if mode == "move-across" and other_fs is None:
        pytest.skip("no second file system to move to")
    base = tmp_path
    if mode == "trash-topdir":  # its .Trash-UID is made at the top of that file system
        if private_tmpfs is None:
            pytest.skip("cannot mount a tmpfs for a top-dir trash")
        base = private_tmpfs / f"trial-{seed}-{os.getpid()}"
    if mode == "link-reflink":
        if cow_fs is None:
            pytest.skip("no file system with reflinks (btrfs or XFS on a loop image)")
        base = cow_fs / f"trial-{seed}-{os.getpid()}"
    root = base / "photos"
    report = build(rng, root)
    before = tree(root)
    own = {f["path"]: (os.lstat(f["path"]).st_dev, os.lstat(f["path"]).st_ino)
           for f in removals(report)}  # fmt: skip
    dest: Path | None = None
    action = ["--trash"]
    calls = CALLS
    kind = mode.removeprefix("link-") if mode.startswith("link") else ""
    if mode.startswith("move"):
        dest = (other_fs if mode == "move-across" else tmp_path) / f"dupes-{seed}-{os.getpid()}"
        action = ["--move", str(dest)]
    elif kind:
        action, calls = ["--link", kind], LINK_CALLS
    argv = ["apply", "--report", str(report), *action, "--yes"]
    files = len(removals(report))

    def accounted(settled: bool) -> None:
        if kind:
            check_links(report, own, trashes_of(root), kind)
            check_accounted(report, root, None, before, settled=False)
        else:
            check_accounted(report, root, dest, before, settled=settled)

    for _ in range(rng.randint(1, 3)):
        call = rng.choice(sorted(calls))
        point = point_for(call, rng.choice(("before", "after")))
        code, err = run(point, rng.randint(1, calls[call] * files + 2), *argv)
        assert code in (-signal.SIGKILL, ExitCode.OK), f"{point}: exit {code}\n{err}"
        accounted(settled=code == ExitCode.OK)
        if finished(report):  # killed after its last record, or not killed at all
            break
    else:
        assert main(argv) == ExitCode.OK  # run again: it finishes what the kills left
    accounted(settled=True)
    if kind:
        linked_to_keepers(report, kind)
    else:
        assert all(not os.path.lexists(f["path"]) for f in removals(report))
    (path,) = journal.journals_dir().glob("*.jsonl")
    journal_lines(path)  # kills tear at most the last line, never one in the middle
    if rng.random() < 0.5:
        undo_calls = ("link", "unlink", "fsync", "write") + (("linking:exchange",) if kind else ())
        call = rng.choice(undo_calls)
        point = point_for(call, rng.choice(("before", "after")))
        code, err = run(point, rng.randint(1, 2 * files), "undo")
        assert code in (-signal.SIGKILL, ExitCode.OK), f"undo {point}: exit {code}\n{err}"
        if kind:
            check_links(report, own, trashes_of(root), kind)
    code = main(["undo"])
    assert code == ExitCode.OK
    assert tree(root) == before  # every byte and modification time back
    if kind:  # and each duplicate's own file, not a copy
        assert all((os.lstat(p).st_dev, os.lstat(p).st_ino) == own[p] for p in own)
    assert leftovers(root, dest) == []


@pytest.mark.parametrize("action", ["trash", "move"])
def test_sigkill_between_an_image_and_its_sidecar_then_resume_then_undo(
    tmp_path: Path, action: str
) -> None:
    """The image is trashed (or moved), its sidecars not yet: killed there, the library holds
    half a unit. The next run finishes the unit; undo puts every file back byte-identical."""
    root = tmp_path / "photos"
    for c, folder in enumerate(("a", "b/c")):
        put(root / folder / "IMG_0001.png", png(7), MTIME + c)  # a/ is older: kept
        put(root / folder / "IMG_0001.png.xmp", xmp(f"copy {c}"))
        put(root / folder / "IMG_0001.png.supplemental-metadata.json", takeout_json(folder))
    report = tmp_path / "photos.json"
    scan_library(root, report)
    (image,) = (f["path"] for f in removals(report) if f["path"].endswith(".png"))
    sidecars = sorted(f["path"] for f in removals(report) if f["path"] != image)
    assert sidecars == [f"{image}.supplemental-metadata.json", f"{image}.xmp"]
    before = tree(root)
    dest = tmp_path / "dupes"
    argv = ["apply", "--report", str(report), "--yes"]
    argv += ["--trash"] if action == "trash" else ["--move", str(dest)]
    # the image's action is the first link of a file; its first sidecar's the second
    code, err = run("after-link" if action == "move" else "before-trash", 2, *argv)
    assert code == -signal.SIGKILL, err
    assert not os.path.lexists(image) and all(os.path.isfile(p) for p in sidecars)
    check_accounted(report, root, dest if action == "move" else None, before, settled=False)
    code, err = run("pace", 0, *argv)  # resumed: the unit is finished
    assert code == ExitCode.OK, err
    assert not any(os.path.lexists(p) for p in [image, *sidecars])
    check_accounted(report, root, dest if action == "move" else None, before, settled=True)
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before
    assert leftovers(root, dest if action == "move" else None) == []
