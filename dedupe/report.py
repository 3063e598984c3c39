"""The versioned JSON report: build it from a scan, write it atomically, read and validate it.

File names that are not valid UTF-8 are kept exactly: a path is a `str` from `os.fsdecode`
whose undecodable bytes are lone surrogates, written in the JSON as `\\udcXX` escapes. Python's
`json.load` turns them back into the same `str`, and `os.fsencode` into the original bytes.
(Other JSON readers show such characters as U+FFFD.)
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dedupe import __version__
from dedupe.durable import write_text_atomic
from dedupe.hashing import ImageHash
from dedupe.models import (
    Fingerprint,
    Group,
    ImageRecord,
    KeepRules,
    Member,
    Problem,
    ScanResult,
    ScanStats,
    Settings,
)

SCHEMA_VERSION = 1
DEFAULT_PATH = "dedupe-report.json"


class ReportError(Exception):
    """The report cannot be used; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a scan found and everything a review decided."""

    roots: tuple[str, ...]
    settings: Settings
    keep: KeepRules
    stats: ScanStats
    groups: tuple[Group, ...]
    errors: tuple[Problem, ...]
    skipped: tuple[Problem, ...]
    # Every hashed image (grouped or not), so later commands can regroup without decoding.
    images: tuple[ImageRecord, ...]
    # Path pairs (sorted) a person marked "not duplicates".
    not_duplicates: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    created_at: str = ""
    tool_version: str = __version__

    @property
    def duplicates(self) -> int:
        return sum(1 for g in self.groups for m in g.members if m.action == "trash")

    @property
    def reclaimable_bytes(self) -> int:
        return sum(g.reclaimable_bytes for g in self.groups)


def from_scan(
    result: ScanResult,
    rules: KeepRules,
    groups: Sequence[Group],
    not_duplicates: frozenset[tuple[str, str]] = frozenset(),
) -> Report:
    """The report of a finished scan: its images, problems and the proposed groups."""
    return Report(
        roots=result.roots,
        settings=result.settings,
        keep=rules,
        stats=result.stats,
        groups=tuple(groups),
        errors=result.errors,
        skipped=result.skipped,
        images=result.records,
        not_duplicates=not_duplicates,
        created_at=now(),
    )


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- to JSON


def _file_json(member: Member) -> dict[str, Any]:
    r = member.record
    f = r.fingerprint
    out: dict[str, Any] = {
        "path": r.path,
        "size": r.size,
        "mtime_ns": r.mtime_ns,
        "width": f.width,
        "height": f.height,
        "format": f.format,
        "hash": str(f.hash),
        "digest": f.digest,
        "taken_at": f.taken_at,
        "distance": member.distance,
        "action": member.action,
        "reason": member.reason,
    }
    if r.links:
        out["hardlinks"] = list(r.links)
    return out


def _image_json(r: ImageRecord) -> dict[str, Any]:
    f = r.fingerprint
    out: dict[str, Any] = {
        "path": r.path,
        "size": r.size,
        "mtime_ns": r.mtime_ns,
        "device": r.dev,
        "inode": r.ino,
        "width": f.width,
        "height": f.height,
        "format": f.format,
        "digest": f.digest,
        "taken_at": f.taken_at,
        "hash": str(f.hash),
        "variants": [str(v) for v in f.variants],
        "check": base64.b64encode(f.check).decode("ascii"),
    }
    if r.links:
        out["hardlinks"] = list(r.links)
    return out


def to_json(report: Report) -> dict[str, Any]:
    s = report.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dedupe", "version": report.tool_version},
        "created_at": report.created_at or now(),
        "roots": list(report.roots),
        "settings": {
            "algorithm": s.algorithm,
            "hash_size": s.hash_size,
            "threshold": s.threshold,
            "max_distance": s.max_distance,
            "rotations": s.rotations,
            "keep": list(report.keep.order),
            "protect": list(report.keep.protect),
            "prefer": list(report.keep.prefer),
        },
        "stats": {
            "files": report.stats.files,
            "images": report.stats.images,
            "hashed": report.stats.hashed,
            "from_cache": report.stats.from_cache,
            "errors": len(report.errors),
            "skipped": len(report.skipped),
            "hardlinks": report.stats.hardlinks,
            "groups": len(report.groups),
            "duplicates": report.duplicates,
            "reclaimable_bytes": report.reclaimable_bytes,
        },
        "groups": [
            {
                "id": g.id,
                "kind": g.kind,
                "max_distance": g.max_distance,
                "reviewed": g.reviewed,
                "reclaimable_bytes": g.reclaimable_bytes,
                "files": [_file_json(m) for m in g.members],
            }
            for g in report.groups
        ],
        "errors": [{"path": p.path, "error": p.reason} for p in report.errors],
        "skipped": [{"path": p.path, "reason": p.reason} for p in report.skipped],
        "not_duplicates": [list(pair) for pair in sorted(report.not_duplicates)],
        "images": [_image_json(r) for r in report.images],
    }


def dumps(report: Report) -> str:
    """The report as JSON text (undecodable path bytes as \\udcXX escapes, see module doc)."""
    text = json.dumps(to_json(report), ensure_ascii=False, indent=1)
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def write(report: Report, path: str | Path) -> None:
    """Write the report atomically: a crash leaves the old file or the new one, never half."""
    write_text_atomic(Path(path), dumps(report) + "\n")


# ---------------------------------------------------------------- from JSON


def _require(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ReportError(f"{where}: missing {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ReportError(f"{where}: {key!r} has the wrong type")
    return value


def _image_from_json(item: Any, settings: Settings, where: str) -> ImageRecord:
    try:
        fingerprint = Fingerprint(
            width=_require(item, "width", int, where),
            height=_require(item, "height", int, where),
            format=_require(item, "format", str, where),
            digest=_require(item, "digest", str, where),
            hash=ImageHash.from_hex(_require(item, "hash", str, where)),
            variants=tuple(ImageHash.from_hex(v) for v in _require(item, "variants", list, where)),
            check=base64.b64decode(_require(item, "check", str, where), validate=True),
            taken_at=item.get("taken_at"),
        )
    except ValueError as error:
        raise ReportError(f"{where}: {error}") from None
    if fingerprint.hash.size != settings.hash_size:
        raise ReportError(f"{where}: hash size does not match the report's settings")
    return ImageRecord(
        path=_require(item, "path", str, where),
        size=_require(item, "size", int, where),
        mtime_ns=_require(item, "mtime_ns", int, where),
        dev=int(item.get("device", 0)),
        ino=int(item.get("inode", 0)),
        fingerprint=fingerprint,
        links=tuple(item.get("hardlinks", ())),
    )


def from_json(data: Any) -> Report:
    """Build a Report from parsed JSON, checking its shape. Raises ReportError."""
    if not isinstance(data, dict):
        raise ReportError("not a dedupe report (expected a JSON object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ReportError(
            f"unsupported report schema version {version!r} (this dedupe reads {SCHEMA_VERSION})"
        )
    raw_settings = _require(data, "settings", dict, "report")
    try:
        settings = Settings(
            algorithm=_require(raw_settings, "algorithm", str, "settings"),
            hash_size=_require(raw_settings, "hash_size", int, "settings"),
            threshold=float(_require(raw_settings, "threshold", (int, float), "settings")),
            rotations=bool(raw_settings.get("rotations", False)),
        )
    except ValueError as error:
        raise ReportError(f"settings: {error}") from None
    keep = KeepRules(
        order=tuple(raw_settings.get("keep", KeepRules().order)),
        protect=tuple(raw_settings.get("protect", ())),
        prefer=tuple(raw_settings.get("prefer", ())),
    )
    images = tuple(
        _image_from_json(item, settings, f"images[{k}]")
        for k, item in enumerate(_require(data, "images", list, "report"))
    )
    by_path = {r.path: r for r in images}
    groups = []
    for k, raw_group in enumerate(_require(data, "groups", list, "report")):
        where = f"groups[{k}]"
        members = []
        for f, item in enumerate(_require(raw_group, "files", list, where)):
            fwhere = f"{where}.files[{f}]"
            path = _require(item, "path", str, fwhere)
            record = by_path.get(path)
            if record is None:
                raise ReportError(f"{fwhere}: {path!r} is not among the report's images")
            action = _require(item, "action", str, fwhere)
            if action not in ("keep", "trash"):
                raise ReportError(f"{fwhere}: action must be 'keep' or 'trash', not {action!r}")
            members.append(
                Member(
                    record,
                    _require(item, "distance", int, fwhere),
                    action,
                    str(item.get("reason", "")),
                )
            )
        kind = _require(raw_group, "kind", str, where)
        if kind not in ("exact", "similar"):
            raise ReportError(f"{where}: kind must be 'exact' or 'similar'")
        groups.append(
            Group(
                id=_require(raw_group, "id", int, where),
                kind=kind,
                max_distance=_require(raw_group, "max_distance", int, where),
                members=tuple(members),
                reviewed=bool(raw_group.get("reviewed", False)),
            )
        )
    raw_stats = data.get("stats", {})
    stats = ScanStats(
        **{
            key: int(raw_stats.get(key, 0))
            for key in ("files", "images", "hashed", "from_cache", "errors", "skipped", "hardlinks")
        }
    )
    return Report(
        roots=tuple(_require(data, "roots", list, "report")),
        settings=settings,
        keep=keep,
        stats=stats,
        groups=tuple(groups),
        errors=tuple(Problem(e["path"], e["error"]) for e in data.get("errors", [])),
        skipped=tuple(Problem(e["path"], e["reason"]) for e in data.get("skipped", [])),
        images=images,
        not_duplicates=frozenset((min(a, b), max(a, b)) for a, b in data.get("not_duplicates", [])),
        created_at=str(data.get("created_at", "")),
        tool_version=str(data.get("tool", {}).get("version", "")),
    )


def read(path: str | Path) -> Report:
    """Read and check a report file. Raises ReportError with a clear message."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ReportError(f"no report at {path} (run `dedupe scan DIR` first)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"cannot read report {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"report {path} is not valid JSON: {error}") from None
    return from_json(data)


def problems(report: Report) -> list[str]:
    """Reasons the report's plan must not be acted on (empty when it is consistent)."""
    found: list[str] = []
    roots = [os.path.join(os.path.abspath(r), "") for r in report.roots]
    seen: set[str] = set()
    for group in report.groups:
        if len(group.members) < 2:
            found.append(f"group {group.id} has fewer than two files")
        if group.members and all(m.action == "trash" for m in group.members):
            found.append(f"group {group.id} marks every file for trash")
        for member in group.members:
            path = member.record.path
            if path in seen:
                found.append(f"{path} appears more than once")
            seen.add(path)
            if not any(path.startswith(root) or path == root.rstrip(os.sep) for root in roots):
                found.append(f"{path} is outside the scanned folders")
    return found


def with_groups(report: Report, groups: Sequence[Group]) -> Report:
    return replace(report, groups=tuple(groups))


def sorted_problems(items: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(items, key=lambda p: os.fsencode(p.path)))
