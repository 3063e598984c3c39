"""The groups of a report, read ahead of its images, so that the review shows the first group
at once; `dedupe.report.read` then reads and checks the whole report, which takes over.

Every image of the library is in the report (so that a review can regroup without decoding),
and they are most of it: 76 of the 92 MB of a 100k-image report, 2-3 s of JSON parsing. The
groups come before them. `read` parses the report's top-level values one at a time (any
layout of valid JSON: no line is assumed) and stops when it reaches the images. The records
it builds from the groups' own file entries carry what the review shows (path, size, dates,
resolution, format, digest, hash); the rest (device, inode, orientation hashes, check
signature) is left empty, so this preview must never be saved or acted on: the review waits
for the full report before any decision (see ReviewApp) and checks that its groups are the
preview's.

Anything unexpected gives None: the caller then reads the whole report first, as before.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dedupe.hashing import ImageHash
from dedupe.models import (
    Fingerprint,
    Group,
    ImageRecord,
    KeepRules,
    Member,
    Problem,
    ScanStats,
    Settings,
)
from dedupe.report import SCHEMA_VERSION, Report

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
# Top-level fields the preview needs; every one a scan writes comes before "images".
_NEEDED = frozenset({"schema_version", "settings", "roots", "groups"})
_STOP = "images"
_STATS = ("files", "images", "hashed", "from_cache", "errors", "skipped", "hardlinks")


def _skip(text: str, end: int) -> int:
    """Where the JSON whitespace from `end` on ends."""
    match = _SPACE.match(text, end)
    return end if match is None else match.end()


def _top_level(text: str) -> dict[str, Any] | None:
    """The top-level values of the JSON object `text` up to its "images" field (parsed one at
    a time with the standard decoder), or None if `text` does not start like an object."""
    space = _skip
    end = space(text, 0)
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
        if not isinstance(key, str) or not text.startswith(":", end):
            return None
        if key == _STOP and found.keys() >= _NEEDED:
            return found
        found[key], end = _DECODER.raw_decode(text, space(text, end + 1))
        end = space(text, end)
        if text.startswith(",", end):
            end += 1


def _record(item: dict[str, Any], hash_size: int) -> ImageRecord:
    digits = item["hash"]
    fingerprint = Fingerprint(
        width=int(item["width"]),
        height=int(item["height"]),
        format=str(item["format"]),
        digest=str(item["digest"]),
        hash=ImageHash(int(digits, 16), hash_size),
        variant_bits=b"",
        check=b"",
        taken_at=item.get("taken_at"),
    )
    return ImageRecord(
        path=item["path"],
        size=int(item["size"]),
        mtime_ns=int(item["mtime_ns"]),
        dev=0,
        ino=0,
        fingerprint=fingerprint,
        links=tuple(item.get("hardlinks", ())),
    )


def _group(item: dict[str, Any], hash_size: int) -> Group:
    members = tuple(
        Member(_record(f, hash_size), int(f["distance"]), f["action"], str(f.get("reason", "")))
        for f in item["files"]
    )
    if any(m.action not in ("keep", "trash") for m in members):
        raise ValueError("unknown action")
    return Group(
        id=int(item["id"]),
        kind=str(item["kind"]),  # type: ignore[arg-type]  # any kind is shown by its name
        max_distance=int(item["max_distance"]),
        members=members,
        reviewed=bool(item.get("reviewed", False)),
    )


def read(path: str | Path) -> Report | None:
    """A preview of the report at `path`: its groups, problems and settings, no images (see
    the module docstring). None when it cannot be read this way."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = _top_level(text)
        del text
        if data is None or data.get("schema_version") != SCHEMA_VERSION:
            return None
        raw = data["settings"]
        settings = Settings(
            algorithm=raw["algorithm"],
            hash_size=int(raw["hash_size"]),
            threshold=float(raw["threshold"]),
            rotations=bool(raw.get("rotations", False)),
        )
        keep = KeepRules(
            order=tuple(raw.get("keep", KeepRules().order)),
            protect=tuple(raw.get("protect", ())),
            prefer=tuple(raw.get("prefer", ())),
        )
        groups = tuple(_group(g, settings.hash_size) for g in data["groups"])
        stats = data.get("stats", {})
        return Report(
            roots=tuple(str(r) for r in data["roots"]),
            settings=settings,
            keep=keep,
            stats=ScanStats(**{k: int(stats.get(k, 0)) for k in _STATS}),
            groups=groups,
            errors=tuple(Problem(e["path"], e["error"]) for e in data.get("errors", ())),
            skipped=tuple(Problem(e["path"], e["reason"]) for e in data.get("skipped", ())),
            images=(),
            not_duplicates=frozenset(
                (min(a, b), max(a, b)) for a, b in data.get("not_duplicates", ())
            ),
            created_at=str(data.get("created_at", "")),
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def same_groups(preview: Report, full: Report) -> bool:
    """True when the full report holds the preview's groups: same ids, kinds, files, actions
    (what the review showed before the full report was read)."""

    def shape(report: Report) -> list[tuple[object, ...]]:
        return [
            (g.id, g.kind, g.reviewed, tuple((m.record.path, m.action) for m in g.members))
            for g in report.groups
        ]

    return shape(preview) == shape(full)
