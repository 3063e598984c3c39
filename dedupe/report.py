"""The versioned JSON report: build it from a scan, write it atomically, read and validate it.

File names that are not valid UTF-8 are kept exactly: a path is a `str` from `os.fsdecode`
whose undecodable bytes are lone surrogates, written in the JSON as `\\udcXX` escapes. Python's
`json.load` turns them back into the same `str`, and `os.fsencode` into the original bytes.
(Other JSON readers show such characters as U+FFFD.)

Layout: one line per top-level field, group and image, written as a stream (the text of a
100k-image report never exists whole in memory). Whitespace is not part of schema 1: the
indented reports of earlier versions read the same. Reading decodes the images a column at a
time, and hands anything this writer would not have produced to a field-by-field reader that
names the bad field.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from dedupe import __version__
from dedupe.cluster import Checked
from dedupe.durable import write_chunks_atomic
from dedupe.gcpause import collector_paused, settle
from dedupe.hashing import HASH_SIZES, ImageHash
from dedupe.models import (
    BURSTS,
    GROUP_KINDS,
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
    # The pairs the check accepted when the images were last searched, so that regrouping at
    # that threshold or a tighter one neither searches nor checks again (cluster.Checked).
    checked: Checked | None = None

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
    checked: Checked | None = None,
) -> Report:
    """The report of a finished scan: its images, problems and the proposed groups (and the
    checked pairs they were drawn from)."""
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
        checked=checked,
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


# str(ImageHash) by hash size, without a Python-level call per hash (eight per image).
_HEX = {size: f"0{size * size // 4}x" for size in HASH_SIZES}


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
        "hash": format(f.hash.bits, _HEX[f.hash.size]),
        "variants": _variants_hex(f),
        "check": binascii.b2a_base64(f.check, newline=False).decode("ascii"),
    }
    if r.links:
        out["hardlinks"] = list(r.links)
    return out


_string = json.JSONEncoder(ensure_ascii=False).encode


def _variants_hex(f: Fingerprint) -> list[str]:
    """The orientation hashes as hex, straight from their packed bytes."""
    text, digits = f.variant_bits.hex(), f.hash.nbits // 4
    return [text[k : k + digits] for k in range(0, len(text), digits)]


def _image_line(r: ImageRecord) -> str:
    """encode(_image_json(r)) without the dict, about three times faster (a 100k-image report
    has 100k of these lines). Every string that could need escaping goes through the JSON
    encoder; the hashes are hex and the check base64, which never do; `:d` refuses any number
    that is not an int (and writes True as 1) instead of writing something that is not JSON.
    tests/test_report.py checks that this line parses to _image_json(r)."""
    f = r.fingerprint
    variants = '"' + '", "'.join(_variants_hex(f)) + '"' if f.variant_bits else ""
    check = binascii.b2a_base64(f.check, newline=False).decode("ascii")
    taken_at = "null" if f.taken_at is None else _string(f.taken_at)
    links = f', "hardlinks": {_string(list(r.links))}' if r.links else ""
    return (
        f'{{"path": {_string(r.path)}, "size": {r.size:d}, "mtime_ns": {r.mtime_ns:d}, '
        f'"device": {r.dev:d}, "inode": {r.ino:d}, "width": {f.width:d}, '
        f'"height": {f.height:d}, "format": {_string(f.format)}, "digest": {_string(f.digest)}, '
        f'"taken_at": {taken_at}, "hash": "{format(f.hash.bits, _HEX[f.hash.size])}", '
        f'"variants": [{variants}], "check": "{check}"{links}}}'
    )


def _header(report: Report) -> dict[str, Any]:
    """The report's top-level fields other than its lists, in the order they are written."""
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
            "bursts": report.keep.bursts,
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
    }


def _group_json(g: Group) -> dict[str, Any]:
    return {
        "id": g.id,
        "kind": g.kind,
        "max_distance": g.max_distance,
        "reviewed": g.reviewed,
        "reclaimable_bytes": g.reclaimable_bytes,
        "files": [_file_json(m) for m in g.members],
    }


def to_json(report: Report) -> dict[str, Any]:
    """The report as one JSON value (write() and dumps() produce the same value, streamed)."""
    return _header(report) | {
        "groups": [_group_json(g) for g in report.groups],
        "errors": [{"path": p.path, "error": p.reason} for p in report.errors],
        "skipped": [{"path": p.path, "reason": p.reason} for p in report.skipped],
        "not_duplicates": [list(pair) for pair in sorted(report.not_duplicates)],
        "checked_pairs": _checked_json(report),
        "images": [_image_json(r) for r in report.images],
    }


def _checked_json(report: Report) -> dict[str, Any] | None:
    return None if report.checked is None else report.checked.to_json_value()


# Images are encoded this many at a time: a streamed write holds one batch of their text.
_WRITE_BATCH = 2048


def _chunks(report: Report) -> Iterator[str]:
    """The report's JSON text in pieces, the same value as to_json(report) in a compact layout:
    one line per top-level field, and one line per group, problem, pair and image. The C
    encoder writes every piece but the images (see _image_line); only one batch of images is
    ever held as text."""
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    header = _header(report)
    yield "{" + ",\n".join(f"{encode(key)}: {encode(value)}" for key, value in header.items())

    def array(key: str, items: Iterator[Any]) -> Iterator[str]:
        yield f",\n{encode(key)}: ["
        separator = "\n"
        for item in items:
            yield separator + encode(item)
            separator = ",\n"
        yield "]" if separator == "\n" else "\n]"

    yield from array("groups", map(_group_json, report.groups))
    yield from array("errors", ({"path": p.path, "error": p.reason} for p in report.errors))
    yield from array("skipped", ({"path": p.path, "reason": p.reason} for p in report.skipped))
    yield from array("not_duplicates", (list(pair) for pair in sorted(report.not_duplicates)))
    yield f',\n"checked_pairs": {encode(_checked_json(report))}'
    images = report.images
    yield ',\n"images": ['
    for start in range(0, len(images), _WRITE_BATCH):
        lines = map(_image_line, images[start : start + _WRITE_BATCH])
        yield ("\n" if start == 0 else ",\n") + ",\n".join(lines)
    yield "\n]}\n" if images else "]}\n"


def dumps(report: Report) -> str:
    """The report as JSON text (undecodable path bytes as \\udcXX escapes, see module doc)."""
    text = "".join(_chunks(report)).removesuffix("\n")
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def write(report: Report, path: str | Path) -> None:
    """Write the report atomically: a crash leaves the old file or the new one, never half.

    The text is streamed to the file (see _chunks), never built whole in memory."""
    write_chunks_atomic(Path(path), _chunks(report), errors="backslashreplace")


# ---------------------------------------------------------------- from JSON


def _require(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ReportError(f"{where}: missing {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ReportError(f"{where}: {key!r} has the wrong type")
    return value


def _variant_bits(texts: list[Any], where: str) -> bytes:
    hashes = [ImageHash.from_hex(_require({"variant": v}, "variant", str, where)) for v in texts]
    if len({h.size for h in hashes}) > 1:
        raise ReportError(f"{where}: the orientation hashes differ in size")
    return Fingerprint.pack_variants(hashes)


def _image_from_json(item: Any, settings: Settings, where: str) -> ImageRecord:
    try:
        fingerprint = Fingerprint(
            width=_require(item, "width", int, where),
            height=_require(item, "height", int, where),
            format=_require(item, "format", str, where),
            digest=_require(item, "digest", str, where),
            hash=ImageHash.from_hex(_require(item, "hash", str, where)),
            variant_bits=_variant_bits(_require(item, "variants", list, where), where),
            check=base64.b64decode(_require(item, "check", str, where), validate=True),
            taken_at=item.get("taken_at"),
        )
    except ValueError as error:
        raise ReportError(f"{where}: {error}") from None
    if fingerprint.hash.size != settings.hash_size:
        raise ReportError(f"{where}: hash size does not match the report's settings")
    if len(fingerprint.variant_bits) % (fingerprint.hash.nbits // 8):
        raise ReportError(f"{where}: the orientation hashes do not match the hash size")
    return ImageRecord(
        path=_require(item, "path", str, where),
        size=_require(item, "size", int, where),
        mtime_ns=_require(item, "mtime_ns", int, where),
        dev=int(item.get("device", 0)),
        ino=int(item.get("inode", 0)),
        fingerprint=fingerprint,
        links=tuple(item.get("hardlinks", ())),
    )


class _NotPlain(Exception):
    """The fast reader met something unusual; the careful reader says what (or accepts it)."""


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_NONE = type(None)
# Images are decoded this many at a time (read() frees each batch's parsed JSON as it goes).
_READ_BATCH = 8192


def _only(values: list[Any], *kinds: type) -> list[Any]:
    """`values` if every one is exactly of one of `kinds` (so True is not an int), else raise."""
    if not set(map(type, values)) <= set(kinds):
        raise _NotPlain
    return values


def _check_hex(texts: list[Any], size: int) -> None:
    """Hex texts of `size` x `size` hashes, all checked in one go: each has exactly the right
    number of digits, and bytes.fromhex of them all joined (which refuses signs, 0x prefixes
    and underscores, unlike int()) yields exactly the bytes those digits make."""
    digits = size * size // 4
    if texts and set(map(len, _only(texts, str))) != {digits}:
        raise _NotPlain
    try:
        if len(bytes.fromhex("".join(texts))) * 2 != digits * len(texts):
            raise _NotPlain
    except ValueError:
        raise _NotPlain from None


def _hashes(texts: list[Any], size: int) -> list[ImageHash]:
    """The hashes of hex texts checked by _check_hex."""
    _check_hex(texts, size)
    return _many(ImageHash, len(texts), [map(int, texts, repeat(16)), repeat(size)])


def _images_plain(items: list[Any], settings: Settings) -> list[ImageRecord]:
    """Column by column, the images of a report as this dedupe writes them (every field of the
    expected type, hashes of the report's size); raises _NotPlain on anything else."""
    if not items:
        return []
    if set(map(type, items)) != {dict}:
        raise _NotPlain
    try:
        column = [list(map(itemgetter(key), items)) for key in _IMAGE_KEYS]
    except KeyError:
        raise _NotPlain from None
    paths, sizes, mtimes, widths, heights, formats, digests, hashes, variants, checks = column
    for values, kind in zip(column, _IMAGE_KINDS, strict=True):
        _only(values, kind)
    _check_hex(list(chain.from_iterable(variants)), settings.hash_size)
    packed = [bytes.fromhex("".join(texts)) for texts in variants]
    if not all(map(_BASE64.fullmatch, checks)):
        raise _NotPlain
    try:
        raw_checks = list(map(binascii.a2b_base64, checks))
    except (ValueError, binascii.Error):
        raise _NotPlain from None
    taken = _only([item.get("taken_at") for item in items], str, _NONE)
    devices = _only([item.get("device", 0) for item in items], int)
    inodes = _only([item.get("inode", 0) for item in items], int)
    links = [item.get("hardlinks", ()) for item in items]
    if any(links):
        for names in links:
            if not isinstance(names, (list, tuple)):
                raise _NotPlain
            _only(list(names), str)
        links = [tuple(names) for names in links]
    fingerprints = _many(
        Fingerprint,
        len(items),
        [
            widths,
            heights,
            formats,
            digests,
            _hashes(hashes, settings.hash_size),
            packed,
            raw_checks,
            taken,
        ],
    )
    return _many(
        ImageRecord, len(items), [paths, sizes, mtimes, devices, inodes, fingerprints, links]
    )


_T = TypeVar("_T")


def _many(cls: type[_T], n: int, columns: Sequence[Iterable[Any]]) -> list[_T]:
    """[cls(*row) for row in zip(*columns)] for n rows of checked values, two to three times
    faster: the generated __init__ of a frozen dataclass sets each field through
    object.__setattr__, a Python-level call per field; here each field's slot is filled a
    column at a time. Only for slotted dataclasses whose __init__ does nothing else (no
    __post_init__, every field given): checked, so a validating __post_init__ added later
    cannot be skipped silently."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    plain = "__slots__" in vars(cls) and not hasattr(cls, "__post_init__")
    if not plain or len(names) != len(columns):
        raise TypeError(f"{cls.__name__} cannot be built column-wise")
    made = [object.__new__(cls) for _ in range(n)]
    for name, column in zip(names, columns, strict=True):
        deque(map(getattr(cls, name).__set__, made, column), maxlen=0)
    return made


_IMAGE_KEYS = (
    "path", "size", "mtime_ns", "width", "height", "format", "digest", "hash", "variants", "check"
)  # fmt: skip
_IMAGE_KINDS = (str, int, int, int, int, str, str, str, list, str)


def _images_from_json(items: list[Any], settings: Settings, *, consume: bool) -> list[ImageRecord]:
    """The report's images, a batch at a time through the fast reader; a batch it refuses goes
    through the careful one, which names the first bad field (ReportError) or accepts the
    batch as the original reader did. `consume` frees each batch of `items` once decoded."""
    images: list[ImageRecord] = []
    for start in range(0, len(items), _READ_BATCH):
        batch = items[start : start + _READ_BATCH]
        try:
            images.extend(_images_plain(batch, settings))
        except _NotPlain:
            images.extend(
                _image_from_json(item, settings, f"images[{start + k}]")
                for k, item in enumerate(batch)
            )
        if consume:
            items[start : start + len(batch)] = repeat(None, len(batch))
    return images


def from_json(data: Any) -> Report:
    """Build a Report from parsed JSON, checking its shape. Raises ReportError."""
    return _from_json(data, consume=False)


def _from_json(data: Any, *, consume: bool) -> Report:
    """from_json; with `consume`, the parsed images are freed while the records are built."""
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
        bursts=str(raw_settings.get("bursts", "keep-all")),
    )
    if keep.bursts not in BURSTS:
        raise ReportError(f"settings: bursts must be one of {', '.join(BURSTS)}")
    images = tuple(
        _images_from_json(_require(data, "images", list, "report"), settings, consume=consume)
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
        if kind not in GROUP_KINDS:
            raise ReportError(f"{where}: kind must be one of {', '.join(GROUP_KINDS)}")
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
        # an acceleration only: absent (older reports) or unusable, the pairs are found again
        checked=(
            None
            if data.get("checked_pairs") is None
            else Checked.from_json_value(data["checked_pairs"], len(images))
        ),
    )


def read(path: str | Path) -> Report:
    """Read and check a report file. Raises ReportError with a clear message.

    The cyclic garbage collector is paused while the report's objects are built (see
    gcpause.py), and afterwards they are taken out of its view for good: a report is read to
    be reviewed or acted on for the rest of the process.
    """
    with collector_paused():
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise ReportError(f"no report at {path} (run `dedupe scan DIR` first)") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ReportError(f"cannot read report {path}: {error}") from None
        except json.JSONDecodeError as error:
            raise ReportError(f"report {path} is not valid JSON: {error}") from None
        report = _from_json(data, consume=True)
        del data
    settle()
    return report


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
