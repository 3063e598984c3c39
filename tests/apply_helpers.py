"""Helpers for the apply/undo tests, and a runner that SIGKILLs an apply or undo at a chosen point.

As a script: `python apply_helpers.py POINT N -- [apply|undo] ARGS...` runs `dedupe apply ARGS`
(or `dedupe undo ARGS`) in this process and kills it with SIGKILL (no cleanup, no atexit, no
flush) at the N-th time it reaches POINT:
  before-trash  the intent is journaled, the file not yet handed to the trash
  after-trash   the file is in the trash, the "done" record is not written
  after-link    the target name of a file exists (hard link), its source not yet unlinked
  os:CALL:WHEN  right before or after (WHEN) the N-th call of os.CALL (link, unlink, rename,
                fsync, write, open, mkdir, symlink): a kill at any moment of the run,
                reproducibly; likewise fcntl:ioctl:WHEN (a reflink's FIDEDUPERANGE) and
                linking:exchange:WHEN, trash:keep:WHEN, ... (a function of that dedupe module)
  write-to:END  right before the N-th os.write to a file whose name ends with END (a
                `.trashinfo` just reserved, a journal's temporary name `.jsonl.tmp`)
  pace          never kill; sleep a little before each trash so another process can kill it
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from dedupe import apply as core
from dedupe import journal, trash
from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.filters import MOVE_MARKER
from dedupe.scan import NoProgress, Progress


@cache
def png(seed: int) -> bytes:
    from conftest import photo  # not at the top: the SIGKILL runner stays lean

    buffer = io.BytesIO()
    photo(seed, (48, 36)).save(buffer, "PNG")
    return buffer.getvalue()


MTIME = 1_600_000_000_000_000_000


@cache
def xmp(title: str) -> bytes:
    """An XMP sidecar as exiftool writes one from scratch (a title and a rating), or a skip of
    the test where exiftool is missing."""
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        skip("needs exiftool (apt-get install libimage-exiftool-perl)")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, "sidecar.xmp")
        subprocess.run(
            [exiftool, "-q", f"-XMP-dc:Title={title}", "-XMP-xmp:Rating=4", "-o", str(out)],
            check=True,
        )
        return out.read_bytes()


def takeout_json(name: str, taken: int = 1_600_000_000) -> bytes:
    """Google Takeout's metadata for the file `name` (the fields its JSON files hold)."""
    value = {
        "title": name,
        "description": "",
        "photoTakenTime": {"timestamp": str(taken), "formatted": "Sep 13, 2020"},
        "geoData": {"latitude": 48.85, "longitude": 2.35, "altitude": 0.0},
        "url": "https://photos.google.com/photo/AF1Qip",
    }
    return json.dumps(value, indent=2).encode()


def companions_of(report: Path) -> list[dict[str, Any]]:
    """The companions the report lists for the files marked trash (they go with them)."""
    return [c for f in members(report, "trash") for c in f.get("companions", [])]


def put(path: Path, data: bytes, mtime_ns: int = MTIME) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def library(tmp_path: Path, groups: int = 2, copies: int = 3) -> tuple[Path, Path]:
    """`groups` pictures with `copies` byte-identical files each (same mtime), plus one single,
    in tmp_path/photos, scanned: (the folder, its report)."""
    root = tmp_path / "photos"
    for g in range(groups):
        for c in range(copies):
            put(root / f"d{c}" / f"img{g}.png", png(g))
    put(root / "single.png", png(99))
    return root, scanned(root)


def scanned(root: Path) -> Path:
    """`dedupe scan ROOT` into ROOT.json beside the folder; returns the report's path."""
    report = root.with_name(root.name + ".json")
    scan(root, report)
    return report


def apply(report: Path, *args: str) -> int:
    """`dedupe apply --report REPORT ARGS --yes` in this process: its exit code."""
    return main(["apply", "--report", str(report), *args, "--yes"])


def trash_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "Trash"


def trashed_files() -> list[Path]:
    """Every file in the test's trash (not the .trashinfo files)."""
    return sorted((trash_dir() / "files").iterdir())


def trash_infos(original: str | None = None) -> list[Path]:
    """The test trash's .trashinfo files; with `original`, those whose Path= names it."""
    infos = sorted((trash_dir() / "info").iterdir())
    if original is None:
        return infos
    return [info for info in infos if f"Path={original}\n" in info.read_text()]


def trashed_file(info: Path) -> Path:
    """The trashed file a .trashinfo file describes."""
    return trash_dir() / "files" / info.name.removesuffix(".trashinfo")


def sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def scan(root: Path, report: Path, *extra: str) -> None:
    code = main(["scan", str(root), "--report", str(report), "--no-cache", "-j", "1", *extra])
    assert code == 0


def load(report: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def members(report: Path, action: str) -> list[dict[str, Any]]:
    """The report's group members marked `action` ("keep" or "trash"), in report order."""
    return [f for g in load(report)["groups"] for f in g["files"] if f["action"] == action]


def trash_members(report: Path) -> list[dict[str, Any]]:
    return members(report, "trash")


def removed_files(report: Path) -> list[dict[str, Any]]:
    """Every file an apply of the report removes: the files marked trash and their companions
    (path and digest each)."""
    return trash_members(report) + companions_of(report)


def keepers(report: Path) -> list[str]:
    return [f["path"] for f in members(report, "keep")]


def journals() -> list[Path]:
    directory = journal.journals_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jsonl"))


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def done_paths(path: Path) -> list[str]:
    """The path of every intent in the journal that has its "done" record, sorted; a path acted
    on twice is listed twice."""
    lines = records(path)
    done = {r["seq"] for r in lines if r["type"] == "done"}
    return sorted(r["path"] for r in lines if r["type"] == "intent" and r["seq"] in done)


def trashed_from(original: str) -> list[trash.TrashedFile]:
    """Every entry of the test's trash whose .trashinfo names `original`."""
    return trash.find_by_original(
        original, trashes=[(str(trash_dir()), os.environ["XDG_DATA_HOME"])]
    )


def tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every file under root (symlinks as their target) -> (mtime_ns, sha256 or link target)."""
    out: dict[str, tuple[int, str]] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name == MOVE_MARKER:  # apply --move marks its target for scans; not a moved file
                continue
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if os.path.islink(path):
                out[path] = (0, "-> " + os.readlink(path))
            else:
                out[path] = (info.st_mtime_ns, sha(path))
    return out


def execute(
    report: Path,
    progress: Progress | None = None,
    kind: core.Kind = "trash",
    move_to: str | None = None,
    *,
    force_copy: bool = False,
) -> core.ApplyResult:
    """Apply the report through the library, in a journaled session (`force_copy`: --move by
    copy+verify+delete even on one device)."""
    plan = core.build_plan(report_mod.read(report), str(report), kind, move_to)
    session = core.open_session(plan)
    try:
        return core.execute(plan, session, progress or NoProgress(), force_copy=force_copy)
    finally:
        session.close()


def swapped(report: Path, name: str = "swapped.json") -> Path:
    """The report with keep and trash swapped in every group: what a second scan of the same
    folder, reviewed the other way round, would say. Written beside the report."""
    data = load(report)
    for group in data["groups"]:
        for f in group["files"]:
            f["action"] = "trash" if f["action"] == "keep" else "keep"
    other = report.with_name(name)
    other.write_text(json.dumps(data))
    return other


def copies_left(report: Path) -> dict[int, int]:
    """group id -> how many of its files are still in place with the bytes the scan saw."""
    left: dict[int, int] = {}
    for group in load(report)["groups"]:
        left[group["id"]] = sum(
            os.path.isfile(f["path"])
            and not os.path.islink(f["path"])
            and sha(f["path"]) == f["digest"]
            for f in group["files"]
        )
    return left


def skip(reason: str) -> None:
    import pytest  # not at the top: the SIGKILL runner imports this module too, and stays lean

    pytest.skip(reason)


def _root() -> None:
    if os.geteuid() != 0:
        skip("needs root (chattr, mount)")


@contextmanager
def immutable(*paths: Path | str) -> Iterator[None]:
    """chattr +i on each path (a file or folder nobody, not even root, may change) for the
    block; skips the test where the file system or the user cannot."""
    _root()
    if shutil.which("chattr") is None:
        skip("no chattr")
    done: list[Path | str] = []
    try:
        for path in paths:
            run = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if run.returncode:
                skip(f"chattr +i is not possible here: {run.stderr.strip()}")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)


@contextmanager
def mounted(target: Path, *mount_args: str) -> Iterator[Path]:
    """`mount MOUNT_ARGS TARGET` for the block (made if missing); skips the test where mounting
    is not permitted."""
    _root()
    target.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(["mount", *mount_args, str(target)], capture_output=True, text=True)
    if run.returncode:
        skip(f"cannot mount here: {run.stderr.strip()}")
    try:
        yield target
    finally:
        if subprocess.run(["umount", str(target)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextmanager
def tmpfs(target: Path, size: str = "16m") -> Iterator[Path]:
    """A private tmpfs of `size` at target (another device than the test's folders)."""
    with mounted(target, "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs") as where:
        yield where


@contextmanager
def reflink_fs(base: Path) -> Iterator[Path]:
    """A file system whose files can share blocks (btrfs, else XFS) on a sparse loop image under
    `base`, mounted for the block at base/mnt. Skips the test where none can be made or mounted
    (apt-get install btrfs-progs xfsprogs; mounting needs root)."""
    _root()
    for tool, megabytes, options in (
        ("mkfs.btrfs", 128, ["-q"]),
        ("mkfs.xfs", 300, ["-q", "-m", "reflink=1"]),
    ):
        if shutil.which(tool) is None:
            continue
        image = base / f"{tool}.img"
        with open(image, "wb") as handle:
            handle.truncate(megabytes << 20)  # sparse: a few MB on disk
        if subprocess.run([tool, *options, str(image)], capture_output=True).returncode == 0:
            with mounted(base / "mnt", "-o", "loop", str(image)) as where:
                yield where
            image.unlink()
            return
        image.unlink()
    skip("no mkfs.btrfs or mkfs.xfs to make a file system with reflinks")


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` to the last block; returns the filler (delete it to
    free the space again)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for block in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * block
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install(point: str, nth: int) -> None:
    calls = 0

    def counted() -> bool:
        nonlocal calls
        calls += 1
        return calls == nth

    if point in ("before-trash", "after-trash", "pace"):
        real_send: Callable[..., Any] = trash.send

        def send(*args: Any) -> Any:
            hit = counted()
            if point == "pace":
                time.sleep(0.005)
            if hit and point == "before-trash":
                _kill()
            placed = real_send(*args)
            if hit and point == "after-trash":
                _kill()
            return placed

        trash.send = send
    elif point == "after-link":
        real_link = os.link

        def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            real_link(src, dst, *args, **kwargs)
            if not str(dst).endswith(journal.SUFFIX) and counted():  # files, not the journal
                _kill()

        os.link = link  # the os module dedupe.apply uses: this process only
    elif point.startswith("write-to:"):
        real_write = os.write
        suffix = point.removeprefix("write-to:")

        def write(fd: int, data: Any) -> int:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/fd/{fd}").endswith(suffix) and counted():
                    _kill()
            return real_write(fd, data)

        os.write = write
    elif point.count(":") == 2:
        import fcntl

        from dedupe import fsops, linking

        where, name, when = point.split(":")
        module = {"os": os, "fcntl": fcntl, "linking": linking, "trash": trash, "fsops": fsops}
        real: Callable[..., Any] = getattr(module[where], name)

        def call(*args: Any, **kwargs: Any) -> Any:
            hit = counted()
            if hit and when == "before":
                _kill()
            result = real(*args, **kwargs)
            if hit:
                _kill()
            return result

        setattr(module[where], name, call)
    else:
        raise SystemExit(f"unknown point {point}")


def scan_library(root: Path, report: Path) -> None:
    """What `dedupe scan ROOT --report REPORT --no-cache` writes, through the library (the
    randomized trials build a report per trial; this skips parsing and printing)."""
    from dedupe import cluster, metadata
    from dedupe import report as report_mod
    from dedupe.cache import HashCache
    from dedupe.groups import build_groups
    from dedupe.models import KeepRules, Settings
    from dedupe.scan import scan as scan_files

    settings, rules = Settings(), KeepRules()
    cache = HashCache.memory(settings)
    result = scan_files([str(root)], settings, cache)
    found = cluster.cluster(result.records, settings)
    grouped = [result.records[k] for indices in found.groups for k in indices]
    facts = metadata.gather(grouped, result.records, cache)
    groups = build_groups(result.records, settings, rules, clusters=found, facts=facts)
    report_mod.write(report_mod.from_scan(result, rules, groups, facts=facts), report)


if __name__ == "__main__":
    import dedupe.cli

    point, nth = sys.argv[1], int(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    if not args or args[0] not in ("apply", "undo"):
        args = ["apply", *args]
    _install(point, nth)
    # Only that command: importing the scan stack (numba) would only slow each run down.
    dedupe.cli.COMMANDS = (f"cmd_{args[0]}",)  # type: ignore[assignment]
    raise SystemExit(main(args))
