"""Helpers for the apply/undo tests, and a runner that SIGKILLs an apply at a chosen point.

As a script: `python apply_helpers.py POINT N -- apply ARGS...` runs `dedupe apply ARGS` in
this process and kills it with SIGKILL (no cleanup, no atexit, no flush) at the N-th time it
reaches POINT:
  before-trash  the intent is journaled, the file not yet handed to send2trash
  after-trash   send2trash has moved the file, the "done" record is not written
  after-link    --move: the target name exists (hard link), the source is not yet unlinked
  pace          never kill; sleep a little before each trash so another process can kill it
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from conftest import photo

from dedupe import journal, trash
from dedupe.cli import main
from dedupe.filters import MOVE_MARKER


@cache
def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo(seed, (48, 36)).save(buffer, "PNG")
    return buffer.getvalue()


MTIME = 1_600_000_000_000_000_000


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


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install(point: str, nth: int) -> None:
    calls = 0

    def counted() -> bool:
        nonlocal calls
        calls += 1
        return calls == nth

    if point in ("before-trash", "after-trash", "pace"):
        real_send: Callable[[str], None] = trash.send

        def send(path: str) -> None:
            hit = counted()
            if point == "pace":
                time.sleep(0.005)
            if hit and point == "before-trash":
                _kill()
            real_send(path)
            if hit and point == "after-trash":
                _kill()

        trash.send = send
    elif point == "after-link":
        real_link = os.link

        def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            real_link(src, dst, *args, **kwargs)
            if counted():
                _kill()

        os.link = link  # the os module dedupe.apply uses: this process only
    else:
        raise SystemExit(f"unknown point {point}")


def scan_library(root: Path, report: Path) -> None:
    """What `dedupe scan ROOT --report REPORT --no-cache` writes, through the library (the
    randomized trials build a report per trial; this skips parsing and printing)."""
    from dedupe import report as report_mod
    from dedupe.cache import HashCache
    from dedupe.groups import build_groups
    from dedupe.models import KeepRules, Settings
    from dedupe.scan import scan as scan_files

    settings, rules = Settings(), KeepRules()
    result = scan_files([str(root)], settings, HashCache.memory(settings))
    groups = build_groups(result.records, settings, rules)
    report_mod.write(report_mod.from_scan(result, rules, groups), report)


if __name__ == "__main__":
    import dedupe.cli

    point, nth = sys.argv[1], int(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    _install(point, nth)
    # Only the apply command: importing the scan stack (numba) would only slow each run down.
    dedupe.cli.COMMANDS = ("cmd_apply",)  # type: ignore[assignment]
    raise SystemExit(main(["apply", *args]))
