"""The groups of a report, read ahead of its images, so that the review shows the first group
at once; `dedupe.report.read` then reads and checks the whole report, which takes over.

In a report of schema 2 every image of the library is in the JSON (so that a review can
regroup without decoding), and they are most of it: 76 of the 92 MB of a 100k-image report,
2-3 s of JSON parsing; since schema 3 they are in the index beside it, and the JSON is the
groups. The groups come before them. `read` reads the file in pieces of growing size and parses its
top-level values one at a time (any layout of valid JSON: no line is assumed), and stops at
the images: for a 100k-image report it reads 32 of the 92 MB and parses 16. The records
it builds from the groups' own file entries carry what the review shows (path, size, dates,
resolution, format, digest, hash); the rest (device, inode, orientation hashes, check
signature) is left empty, so this preview must never be saved or acted on: the review waits
for the full report before any decision (see ReviewApp) and checks that its groups are the
preview's. `read_whole` reads that full report on a thread without holding the interpreter
for seconds, and leaves its checks to `dedupe.report.from_json`.

Anything unexpected gives None: the caller then reads the whole report first, as before.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

from dedupe import models
from dedupe.gcpause import collector_paused, settle
from dedupe.hashing import ImageHash
from dedupe.report import SCHEMA_VERSION, Report, ReportError, _many, beside, from_json

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
# Top-level fields the preview needs; every one a scan writes comes before "images".
_NEEDED = frozenset({"schema_version", "settings", "roots", "groups"})
_STOP = "images"
# The first piece of the file read (then twice as much each time): a 100k-image report's
# groups end at about 15 of its 92 MB.
_FIRST_READ = 32 * 1024 * 1024
_STATS = ("files", "images", "hashed", "from_cache", "errors", "skipped", "hardlinks")


def _skip(text: str, end: int) -> int:
    """Where the JSON whitespace from `end` on ends."""
    match = _SPACE.match(text, end)
    return end if match is None else match.end()


class _Incomplete(Exception):
    """The text read so far ends before the values needed."""


def _top_level(text: str, *, whole: bool = False) -> dict[str, Any] | None:
    """The top-level values of the JSON object that `text` starts, parsed one at a time with
    the standard decoder: up to its "images" field, or with `whole` all of them (arrays an
    element at a time). None if `text` is not an object; raises _Incomplete (or
    JSONDecodeError) when `text` stops before they are all there."""
    space = _skip
    end = space(text, 0)
    if end == len(text):
        raise _Incomplete
    if not text.startswith("{", end):
        return None
    end += 1
    found: dict[str, Any] = {}
    while True:
        end = space(text, end)
        if text.startswith("}", end):
            return found
        key, end = _DECODER.raw_decode(text, end)
        end = space(text, end)
        if end == len(text):
            raise _Incomplete
        if not isinstance(key, str) or not text.startswith(":", end):
            return None
        if key == _STOP and found.keys() >= _NEEDED and not whole:
            return found
        end = space(text, end + 1)
        if whole and text.startswith("[", end):
            found[key], end = _array(text, end)
        else:
            found[key], end = _DECODER.raw_decode(text, end)
        end = space(text, end)
        if end == len(text):
            raise _Incomplete
        if text.startswith(",", end):
            end += 1


def _array(text: str, end: int) -> tuple[list[Any], int]:
    """The JSON array at `end`, decoded an element at a time (see read_whole)."""
    space, decode = _skip, _DECODER.raw_decode
    items: list[Any] = []
    end = space(text, end + 1)
    if text.startswith("]", end):
        return items, end + 1
    while True:
        item, end = decode(text, end)
        items.append(item)
        end = space(text, end)
        if text.startswith(",", end):
            end = space(text, end + 1)
        elif text.startswith("]", end):
            return items, end + 1
        else:
            raise json.JSONDecodeError("expected , or ] in an array", text, end)


def _groups(items: list[Any], hash_size: int) -> tuple[models.Group, ...]:
    """The groups' values, their files' values built a column at a time (report.py's
    `_many`: about three times faster than a constructor call per value, for 30,000 files)."""
    files = [f for item in items for f in item["files"]]
    n = len(files)

    def column(key: str, kind: type = int) -> list[Any]:
        return [kind(f[key]) for f in files]

    hashes = _many(ImageHash, n, [[int(f["hash"], 16) for f in files], repeat(hash_size, n)])
    fingerprints = _many(
        models.Fingerprint,
        n,
        [
            column("width"),
            column("height"),
            column("format", str),
            column("digest", str),
            hashes,
            repeat(b"", n),
            repeat(b"", n),
            [f.get("taken_at") for f in files],
        ],
    )
    records = _many(
        models.ImageRecord,
        n,
        [
            column("path", str),
            column("size"),
            column("mtime_ns"),
            repeat(0, n),
            repeat(0, n),
            fingerprints,
            [tuple(f.get("hardlinks", ())) for f in files],
        ],
    )
    actions = column("action", str)
    if any(a not in ("keep", "trash") for a in actions):
        raise ValueError("unknown action")
    members = _many(
        models.Member,
        n,
        [records, column("distance"), actions, [str(f.get("reason", "")) for f in files]],
    )
    groups = []
    start = 0
    for item in items:
        stop = start + len(item["files"])
        groups.append(
            models.Group(
                id=int(item["id"]),
                kind=str(item["kind"]),  # type: ignore[arg-type]  # shown by its name
                max_distance=int(item["max_distance"]),
                members=tuple(members[start:stop]),
                reviewed=bool(item.get("reviewed", False)),
            )
        )
        start = stop
    return tuple(groups)


def _text(path: str | Path) -> Iterator[str]:
    """The file's text, in pieces of growing size (most of a report is its images, last)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = _FIRST_READ
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield decoder.decode(chunk)
            size *= 2
    yield decoder.decode(b"", final=True)


def _head(path: str | Path) -> dict[str, Any] | None:
    """The top-level values before "images", reading no more of the file than it takes (each
    try starts again from the top: a few tries at most, as the pieces double)."""
    text = ""
    pieces = _text(path)
    for piece in pieces:
        text += piece
        try:
            return _top_level(text)
        except (_Incomplete, json.JSONDecodeError):
            continue  # read more (the whole file read, the last try below says what is wrong)
    try:
        return _top_level(text)
    except _Incomplete:
        return None


def read(path: str | Path) -> Report | None:
    """A preview of the report at `path`: its groups, problems and settings, no images (see
    the module docstring). None when it cannot be read this way."""
    try:
        with collector_paused():
            data = _head(path)
            if data is None or data.get("schema_version") != SCHEMA_VERSION:
                return None
            report = _report(data)
        settle()
        return report
    except (
        OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError,
        RecursionError,  # (JSON nested too deeply: report.read says so)
    ):  # fmt: skip
        return None


def _report(data: dict[str, Any]) -> Report:
    raw = data["settings"]
    settings = models.Settings(
        algorithm=raw["algorithm"],
        hash_size=int(raw["hash_size"]),
        threshold=float(raw["threshold"]),
        rotations=bool(raw.get("rotations", False)),
    )
    keep = models.KeepRules(
        order=tuple(raw.get("keep", models.KeepRules().order)),
        protect=tuple(raw.get("protect", ())),
        prefer=tuple(raw.get("prefer", ())),
    )
    stats = data.get("stats", {})
    return Report(
        roots=tuple(str(r) for r in data["roots"]),
        settings=settings,
        keep=keep,
        stats=models.ScanStats(**{k: int(stats.get(k, 0)) for k in _STATS}),
        groups=_groups(data["groups"], settings.hash_size),
        errors=tuple(models.Problem(e["path"], e["error"]) for e in data.get("errors", ())),
        skipped=tuple(models.Problem(e["path"], e["reason"]) for e in data.get("skipped", ())),
        images=(),
        not_duplicates=frozenset((min(a, b), max(a, b)) for a, b in data.get("not_duplicates", ())),
        created_at=str(data.get("created_at", "")),
    )


def read_whole(path: str | Path) -> Report:
    """The whole report, read and checked by `dedupe.report.from_json`, as `report.read` does;
    raises ReportError. For a review that shows the preview meanwhile: its JSON is decoded a
    top-level value, and an array element, at a time, so that the interpreter is never held
    for long (json.load holds it for the whole 92 MB of a 100k-image report, about 1-2 s in
    which the review cannot take a key, nor quit). About a third more CPU than report.read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"no report at {path} (run `dedupe scan DIR` first)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read report {path}: {error}") from None
    with collector_paused():
        try:
            data = _top_level(text, whole=True)
        except (_Incomplete, json.JSONDecodeError) as error:
            raise ReportError(
                f"report {path} is not valid JSON: {error or 'it ends early'}"
            ) from None
        except RecursionError:
            raise ReportError(f"report {path} is not a dedupe report: nested too deeply") from None
        del text
        report = beside(from_json(data), path)
        del data
    settle()
    return report


def same_groups(preview: Report, full: Report) -> bool:
    """True when the full report holds the preview's groups: same ids, kinds, files, actions
    (what the review showed before the full report was read)."""

    def shape(report: Report) -> list[tuple[object, ...]]:
        return [
            (g.id, g.kind, g.reviewed, tuple((m.record.path, m.action) for m in g.members))
            for g in report.groups
        ]

    return shape(preview) == shape(full)
