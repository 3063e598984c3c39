"""The versioned JSON report: build it from a scan, write it atomically, read and validate it.

File names that are not valid UTF-8 are kept exactly: a path is a `str` from `os.fsdecode`
whose undecodable bytes are lone surrogates, written in the JSON as `\\udcXX` escapes. Python's
`json.load` turns them back into the same `str`, and `os.fsencode` into the original bytes.
(Other JSON readers show such characters as U+FFFD.)

Layout: one line per top-level field, group and image, written as a stream (the text of a
100k-image report never exists whole in memory). Whitespace is not part of schema 1: the
indented reports of earlier versions read the same. Reading checks every field (type, range,
the form of every path; see "from JSON" below and the JSON Schema in dedupe/schema/) before
anything acts on the report: the images a column at a time, and anything this writer would not
have produced through a field-by-field reader that names the bad field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from dedupe import __version__, policy, verify
from dedupe import index as index_mod
from dedupe.cluster import Checked
from dedupe.durable import write_chunks_atomic
from dedupe.errors import DedupeError
from dedupe.gcpause import collector_paused, settle
from dedupe.hashing import ImageHash
from dedupe.imagecols import ImageColumns
from dedupe.index import IndexProblem, IndexRef
from dedupe.models import (
    BURSTS,
    COMPANION_ROLES,
    ENCODINGS,
    GROUP_KINDS,
    NO_FACTS,
    TWINS,
    Companion,
    FileFacts,
    Fingerprint,
    Group,
    ImageRecord,
    KeepRules,
    Member,
    Metadata,
    Problem,
    ScanResult,
    ScanStats,
    Settings,
    build_many,
)

# 2: each file of a group lists its companions (sidecars, a Live Photo's motion part), its
# capture twins and its capture metadata; settings hold the reference folders, what twins are
# and whether sidecars may be lost. Reports of schema 1 are still read (they list no companions:
# apply then skips any file it finds with sidecars, see apply.py).
# 3: the report holds the groups and their files (each with its `image` number, device and
# inode), not every scanned image nor the checked pairs: those are in the index beside it
# (index.py), which the header names. Reports of schema 1 and 2 are read as they are (their
# `images` inline); the first write of one migrates it (an index and a schema-3 JSON).
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
DEFAULT_PATH = "dedupe-report.json"


class ReportError(DedupeError):
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
    # Every hashed image (grouped or not), so later commands can regroup without decoding;
    # for a report of schema 3 read without its index (`complete` False), the grouped files
    # alone, without their orientation hashes and check signatures.
    images: Sequence[ImageRecord]
    # Path pairs (sorted) a person marked "not duplicates".
    not_duplicates: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    created_at: str = ""
    tool_version: str = __version__
    # The pairs the check accepted when the images were last searched, so that regrouping at
    # that threshold or a tighter one neither searches nor checks again (cluster.Checked).
    checked: Checked | None = None
    # What the files of groups carry besides their pixels (metadata.gather), by path.
    facts: Mapping[str, FileFacts] = field(default_factory=dict)
    # The schema version the report was read as (SCHEMA_VERSION for one made here).
    read_version: int = SCHEMA_VERSION
    # The index the report was read with or names (None: a new one is written with it), and
    # where that index is (the report's folder when it was read).
    index: IndexRef | None = None
    index_path: Path | None = None
    # The image number in that index of each grouped file, by path.
    numbers: Mapping[str, int] = field(default_factory=dict)
    # Whether `images` and `checked` are every scanned image and the scan's checked pairs
    # (False: a schema-3 report read without its index; it cannot be regrouped).
    complete: bool = True

    def facts_of(self, path: str) -> FileFacts:
        return self.facts.get(path, NO_FACTS)

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
    facts: Mapping[str, FileFacts] | None = None,
) -> Report:
    """The report of a finished scan: its images, problems and the proposed groups (and the
    checked pairs they were drawn from, and what the grouped files carry)."""
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
        facts=dict(facts or {}),
    )


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- to JSON


def _facts_json(facts: FileFacts) -> dict[str, Any]:
    """A group file's companions, twins and metadata (only what it has)."""
    out: dict[str, Any] = {}
    if facts.companions:
        out["companions"] = [
            {"path": c.path, "role": c.role, "size": c.size, "mtime_ns": c.mtime_ns,
             "digest": c.digest}
            for c in facts.companions
        ]  # fmt: skip
    if facts.twins:
        out["twins"] = list(facts.twins)
    m = facts.metadata
    if m != Metadata():
        out["metadata"] = {k: v for k, v in asdict(m).items() if v is not None and v is not False}
    return out


def _file_json(
    member: Member, facts: FileFacts = NO_FACTS, number: int | None = None
) -> dict[str, Any]:
    r = member.record
    f = r.fingerprint
    out: dict[str, Any] = {"image": number} if number is not None else {}
    out |= {
        "path": r.path,
        "size": r.size,
        "mtime_ns": r.mtime_ns,
        "device": r.dev,
        "inode": r.ino,
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
    if facts is not NO_FACTS:
        out.update(_facts_json(facts))
    return out


def _header(report: Report, ref: IndexRef | None) -> dict[str, Any]:
    """The report's top-level fields other than its lists, in the order they are written."""
    s = report.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dedupe", "version": report.tool_version},
        "created_at": report.created_at or now(),
        "index": None if ref is None else ref.to_json(),
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
            "reference": list(report.keep.reference),
            "twins": report.keep.twins,
            "lose_sidecars": report.keep.lose_sidecars,
        },
        "stats": {
            "files": report.stats.files,
            "images": report.stats.images,
            "hashed": report.stats.hashed,
            "from_cache": report.stats.from_cache,
            "errors": len(report.errors),
            "skipped": len(report.skipped),
            "hardlinks": report.stats.hardlinks,
            "sidecars": report.stats.sidecars,
            "groups": len(report.groups),
            "duplicates": report.duplicates,
            "reclaimable_bytes": report.reclaimable_bytes,
        },
    }


def _group_json(
    g: Group, facts: Mapping[str, FileFacts], numbers: Mapping[str, int] | None
) -> dict[str, Any]:
    return {
        "id": g.id,
        "kind": g.kind,
        "max_distance": g.max_distance,
        "reviewed": g.reviewed,
        "reclaimable_bytes": g.reclaimable_bytes,
        "files": [
            _file_json(
                m,
                facts.get(m.record.path, NO_FACTS),
                None if numbers is None else numbers[m.record.path],
            )
            for m in g.members
        ],
    }


def to_json(report: Report, ref: IndexRef | None = None) -> dict[str, Any]:
    """The report as one JSON value (write() and dumps() produce the same value, streamed):
    with `ref`, the index it names and its group files' image numbers there (see write);
    without, neither (the report on stdout: it names no index and cannot be regrouped)."""
    numbers = None if ref is None else _numbers(report)
    return _header(report, ref) | {
        "groups": [_group_json(g, report.facts, numbers) for g in report.groups],
        "errors": [{"path": p.path, "error": p.reason} for p in report.errors],
        "skipped": [{"path": p.path, "reason": p.reason} for p in report.skipped],
        "not_duplicates": [list(pair) for pair in sorted(report.not_duplicates)],
    }


def _numbers(report: Report) -> Mapping[str, int]:
    """The image number of each grouped file: its place in `images` (the index's rows), or
    for a report read without its index the numbers it was read with."""
    if not report.complete:
        return report.numbers
    grouped = {m.record.path for g in report.groups for m in g.members}
    if isinstance(report.images, ImageColumns):  # (without building every record)
        return report.images.numbers(grouped)
    return {r.path: k for k, r in enumerate(report.images) if r.path in grouped}


def _chunks(report: Report, ref: IndexRef | None = None) -> Iterator[str]:
    """The report's JSON text in pieces, the same value as to_json(report, ref) in a compact
    layout: one line per top-level field, and one line per group, problem and pair."""
    encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    numbers = None if ref is None else _numbers(report)
    header = _header(report, ref)
    yield "{" + ",\n".join(f"{encode(key)}: {encode(value)}" for key, value in header.items())

    def array(key: str, items: Iterator[Any]) -> Iterator[str]:
        yield f",\n{encode(key)}: ["
        separator = "\n"
        for item in items:
            yield separator + encode(item)
            separator = ",\n"
        yield "]" if separator == "\n" else "\n]"

    yield from array("groups", (_group_json(g, report.facts, numbers) for g in report.groups))
    yield from array("errors", ({"path": p.path, "error": p.reason} for p in report.errors))
    yield from array("skipped", ({"path": p.path, "reason": p.reason} for p in report.skipped))
    yield from array("not_duplicates", (list(pair) for pair in sorted(report.not_duplicates)))
    yield "}\n"


def dumps(report: Report) -> str:
    """The report as JSON text (undecodable path bytes as \\udcXX escapes, see module doc),
    naming the index it was read with or written with (`report.index`; else none): the text
    of its file, for a report as it was read or written."""
    text = "".join(_chunks(report, report.index)).removesuffix("\n")
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def write(report: Report, path: str | Path) -> IndexRef | None:
    """Write the report and its index atomically: a crash leaves the old pair or the new one.

    The index first (index.write: its own name, synced), then the JSON that names it
    (streamed, see _chunks: never built whole in memory), then the index the old JSON named
    and other old indexes of this report are removed. A report whose images and checked
    pairs are those of the index it was read with (a review that only changed decisions)
    keeps that index and its id; one read without its index (`complete` False) too, copied
    when written to another folder or name. Raises OSError (nothing changed) when either
    cannot be written."""
    # the report a symbolic link names is written (the link stays), as an editor writes a
    # file: else the link would become a report of its own and the one it named keep its old
    # decisions, which an apply of it would carry out
    target = _file_of(path)
    folder = target.parent if str(target.parent) else Path(".")
    before = named_index(target)
    ref = _kept_index(report, folder, target)
    new = ref is None and report.complete
    if new:
        ref = index_mod.write(
            folder,
            target,
            report.images,
            report.checked,
            report.settings,
            made_here=report.read_version == SCHEMA_VERSION,
        )
    elif ref is None:
        # Read without its index, which is gone or changed: named as it was, so that a
        # regroup refuses it (the decisions are saved all the same).
        ref = report.index
    try:
        write_chunks_atomic(target, _chunks(report, ref), errors="backslashreplace")
    except BaseException:
        if new and ref is not None:  # the old JSON stays, naming the old index
            (folder / ref.file).unlink(missing_ok=True)
        raise
    if ref is not None:
        index_mod.remove_others(folder, target, ref.file, before)
    return ref


def _kept_index(report: Report, folder: Path, target: Path) -> IndexRef | None:
    """The index the report keeps when written to `target`: the one it was read with when
    that is still there under its id (copied beside `target` when it lives elsewhere); None
    when a new one must be written."""
    ref, source = report.index, report.index_path
    if ref is None or source is None or not _same_index(source, ref):
        return None
    if source.parent.resolve() == folder.resolve():
        return ref
    return index_mod.copy(source, folder, target, ref)


def _same_index(path: Path, ref: IndexRef) -> bool:
    try:
        return index_mod.id_of(path) == ref.id
    except index_mod.IndexProblem:
        return False


def named_index(path: Path) -> str | None:
    """The file name of the index a report names in its header (see header_index)."""
    ref = header_index(path)
    return None if ref is None else ref.file


def header_index(path: str | Path) -> IndexRef | None:
    """The index a report names in its header, read from the file's first lines as this
    writer lays them out, not the whole report (None if none, or not such a report)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
    except OSError:
        return None
    for line in head.split(b"\n")[:8]:
        if line.startswith(b'"index": {'):
            try:
                value = json.loads(line.removeprefix(b'"index": ').rstrip(b","))
                return _index_ref_from({"index": value})
            except (ValueError, ReportError):
                return None
    return None


# ---------------------------------------------------------------- from JSON
#
# Everything in the report is checked before anything is built from it, so that a command
# acting on it never meets a value of the wrong type, size or form halfway (apply validates the
# whole report before its first action): every field has its type (an integer is a JSON
# integer, never true/false or 1.0), its range, and every path its form (absolute, normalised,
# no NUL, encodable as a file name); what does not pass is a ReportError naming the field and
# its place. The rules are those of the shipped JSON Schema (SCHEMA_FILE, see README "The
# report"), plus what a schema cannot say: group files are among the images, image paths and
# group ids are unique, hashes have the digits of the report's hash size. The tests check that
# whatever the schema refuses, this reader refuses too. Validating with a JSON Schema library
# instead would cost about 4 s (fastjsonschema) to a minute (jsonschema) on a 100k-image report.

SCHEMA_FILE = Path(__file__).parent / "schema" / f"report-{SCHEMA_VERSION}.schema.json"

_I64 = 2**63 - 1
_U64 = 2**64 - 1
_PIXELS = 2**32 - 1  # width or height


def _show(value: Any) -> str:
    """A value for a message: its repr, cut short (a bad value can be a huge nested list)."""
    text = repr(value)
    return text if len(text) <= 160 else f"{text[:100]}...{text[-57:]}"


_EXPECTED = {
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
    bool: "true or false",
    type(None): "null",
}


def _require(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    # The usual case first, in few steps (a large report checks some millions of fields): a
    # field of exactly that type (so True is no int). Anything else is looked at below.
    if type(mapping) is dict:
        value = mapping.get(key, _ABSENT)
        if type(value) is kind or (type(kind) is tuple and type(value) in kind):
            return value
    if not isinstance(mapping, dict):
        raise ReportError(f"{where}: expected an object, found {_show(mapping)}")
    if key not in mapping:
        raise ReportError(f"{where}: missing {key!r}")
    value = mapping[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_EXPECTED.get(k, k.__name__) for k in kinds)
        raise ReportError(
            f"{where}: {key!r} has the wrong type (expected {expected}, found {_show(value)})"
        )
    return value


_ABSENT = object()  # (no field's value)


def _optional(mapping: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """The field if it is there (checked like _require: null is not a value of `kind`), else
    None."""
    return _require(mapping, key, kind, where) if key in mapping else None


def _integer(
    mapping: Any, key: str, where: str, low: int, high: int, default: int | None = None
) -> int:
    if type(mapping) is dict:  # the usual case first (see _require)
        found = mapping.get(key, _ABSENT)
        if type(found) is int and low <= found <= high:
            return found
    if default is not None and isinstance(mapping, dict) and key not in mapping:
        return default
    value: int = _require(mapping, key, int, where)
    if not low <= value <= high:
        raise ReportError(f"{where}: {key!r} is {_show(value)}, outside {low}..{high}")
    return value


def _encodable(text: str) -> bool:
    """Whether `text` is text this dedupe could have written: valid Unicode, where only the
    lone surrogates standing for undecodable file-name bytes (U+DC80..U+DCFF) may appear."""
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _text(mapping: Any, key: str, where: str, default: str | None = None) -> str:
    if type(mapping) is dict:  # the usual case first (see _require): ASCII is encodable
        found = mapping.get(key, _ABSENT)
        if type(found) is str and found.isascii():
            return found
    if default is not None and isinstance(mapping, dict) and key not in mapping:
        return default
    value: str = _require(mapping, key, str, where)
    if not _encodable(value):
        raise ReportError(f"{where}: {key!r} is not valid text: {_show(value)}")
    return value


def _name(value: Any, where: str) -> str:
    """A file name shown to people: text without a NUL byte."""
    if not isinstance(value, str) or "\0" in value or not _encodable(value):
        raise ReportError(f"{where}: expected a file name, found {_show(value)}")
    return value


def path_problem(path: str) -> str | None:
    """Why `path` is not the absolute, normalised name of a file or folder on this system, in
    words that follow the path; None when it is one."""
    if "\0" in path:
        return "contains a NUL byte"
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return "holds characters no file name can have"
    if not os.path.isabs(path):
        return "is not an absolute path"
    if os.path.normpath(path) != path or (os.sep == "/" and path.startswith("//")):
        return "is not in normal form (it has a '.', '..' or empty component, or a trailing '/')"
    return None


def _path(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ReportError(f"{where}: expected a path, found {_show(value)}")
    why = path_problem(value)
    if why is not None:
        raise ReportError(f"{where}: {_show(value)} {why}")
    return value


def _plain_paths(paths: list[str]) -> bool:
    """Whether path_problem passes every one of `paths` (strings), tested over their joined
    text on POSIX (a few string scans instead of a normpath per path)."""
    if not paths:
        return True
    if os.sep != "/" or os.altsep:  # pragma: no cover - not POSIX
        return all(path_problem(p) is None for p in paths)
    text = "\0".join(paths)
    if text.count("\0") != len(paths) - 1:  # a NUL inside a path
        return False
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return False
    framed = f"\0{text}\0"
    return (
        framed.count("\0/") == len(paths)  # all absolute
        and "//" not in framed  # no empty component
        and "/./" not in framed
        and "/../" not in framed
        and "/.\0" not in framed
        and "/..\0" not in framed
        and "/\0" not in framed  # no trailing '/' (and no bare '/': never a file's path)
    )


def _list_of(mapping: Any, key: str, where: str) -> list[Any]:
    """An optional list field (absent: empty)."""
    if isinstance(mapping, dict) and key not in mapping:
        return []
    value: list[Any] = _require(mapping, key, list, where)
    return value


_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")


def _hash(text: Any, settings: Settings, where: str) -> ImageHash:
    digits = settings.hash_size * settings.hash_size // 4
    if not isinstance(text, str) or not _HEX_DIGITS.fullmatch(text):
        raise ReportError(f"{where}: expected a hash in hex digits, found {_show(text)}")
    if len(text) != digits:
        try:
            ImageHash.from_hex(text)
        except ValueError as error:
            raise ReportError(f"{where}: {error}") from None
        raise ReportError(f"{where}: hash size does not match the report's settings")
    return ImageHash(int(text, 16), settings.hash_size)


def _image_from_json(item: Any, settings: Settings, where: str) -> ImageRecord:
    if not isinstance(item, dict):
        raise ReportError(f"{where}: expected an object, found {_show(item)}")
    path = _path(_require(item, "path", str, where), f"{where}.path")
    variants = _require(item, "variants", list, where)
    if len(variants) not in (0, 7):
        raise ReportError(f"{where}: 'variants' holds {len(variants)} hashes, not 7 (or none)")
    if settings.rotations and not variants:
        raise ReportError(f"{where}: no orientation hashes, but the report was made with rotations")
    check = _require(item, "check", str, where)
    if not _BASE64.fullmatch(check):
        raise ReportError(f"{where}: 'check' is not base64: {_show(check)}")
    try:
        raw_check = base64.b64decode(check, validate=True)
    except ValueError as error:
        raise ReportError(f"{where}: 'check': {error}") from None
    if len(raw_check) != verify.SIGNATURE_BYTES:
        raise ReportError(
            f"{where}: 'check' has {len(raw_check)} bytes, not {verify.SIGNATURE_BYTES} "
            "(a report of another dedupe version? scan again)"
        )
    variant_bits = Fingerprint.pack_variants(
        _hash(v, settings, f"{where}.variants[{k}]") for k, v in enumerate(variants)
    )
    return _record_from(item, settings, where, path, variant_bits, raw_check)


def _record_from(
    item: dict[str, Any],
    settings: Settings,
    where: str,
    path: str,
    variant_bits: bytes,
    check: bytes,
) -> ImageRecord:
    """The record of an image's fields (an image of schema 2, a group file of schema 3),
    every one checked, with its orientation hashes and check signature as given."""
    taken_at = _optional(item, "taken_at", (str, _NONE), where)
    if taken_at is not None:
        taken_at = _text(item, "taken_at", where)
    fingerprint = Fingerprint(
        width=_integer(item, "width", where, 0, _PIXELS),
        height=_integer(item, "height", where, 0, _PIXELS),
        format=_text(item, "format", where),
        digest=_text(item, "digest", where),
        hash=_hash(_require(item, "hash", str, where), settings, where),
        variant_bits=variant_bits,
        check=check,
        taken_at=taken_at,
    )
    links = tuple(
        _path(link, f"{where}.hardlinks[{k}]")
        for k, link in enumerate(_list_of(item, "hardlinks", where))
    )
    return ImageRecord(
        path=path,
        size=_integer(item, "size", where, 0, _I64),
        mtime_ns=_integer(item, "mtime_ns", where, -_I64 - 1, _I64),
        dev=_integer(item, "device", where, 0, _U64, default=0),
        ino=_integer(item, "inode", where, 0, _U64, default=0),
        fingerprint=fingerprint,
        links=links,
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


def _within(values: list[int], low: int, high: int) -> None:
    """Raise _NotPlain unless every one of `values` (ints) is in low..high."""
    if values and not (low <= min(values) and max(values) <= high):
        raise _NotPlain


def _plain_text(values: list[str]) -> None:
    if values and not _encodable("".join(values)):
        raise _NotPlain


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
    expected type, range and form, hashes of the report's size); raises _NotPlain on anything
    else."""
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
    _within(sizes, 0, _I64)
    _within(mtimes, -_I64 - 1, _I64)
    _within(widths, 0, _PIXELS)
    _within(heights, 0, _PIXELS)
    if not _plain_paths(paths):
        raise _NotPlain
    _plain_text(formats)
    _plain_text(digests)
    counts = set(map(len, variants))
    if not counts <= {0, 7} or (settings.rotations and 0 in counts):
        raise _NotPlain
    _check_hex(list(chain.from_iterable(variants)), settings.hash_size)
    packed = [bytes.fromhex("".join(texts)) for texts in variants]
    if not all(map(_BASE64.fullmatch, checks)):
        raise _NotPlain
    try:
        raw_checks = list(map(binascii.a2b_base64, checks))
    except (ValueError, binascii.Error):
        raise _NotPlain from None
    if set(map(len, raw_checks)) != {verify.SIGNATURE_BYTES}:
        raise _NotPlain
    taken = _only([item.get("taken_at") for item in items], str, _NONE)
    _plain_text([t for t in taken if t is not None])
    devices = _only([item.get("device", 0) for item in items], int)
    inodes = _only([item.get("inode", 0) for item in items], int)
    _within(devices, 0, _U64)
    _within(inodes, 0, _U64)
    links = [item.get("hardlinks", ()) for item in items]
    if any(links):
        for names in links:
            if not isinstance(names, (list, tuple)):
                raise _NotPlain
            if not _plain_paths(_only(list(names), str)):
                raise _NotPlain
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


_many = build_many  # (quickread.py and index.py build records with it too)


_IMAGE_KEYS = (
    "path", "size", "mtime_ns", "width", "height", "format", "digest", "hash", "variants", "check"
)  # fmt: skip
_IMAGE_KINDS = (str, int, int, int, int, str, str, str, list, str)


def _images_from_json(items: list[Any], settings: Settings, *, consume: bool) -> list[ImageRecord]:
    """The report's images, a batch at a time through the fast reader; a batch it refuses goes
    through the careful one, which names the first bad field (ReportError) or accepts the
    batch. `consume` frees each batch of `items` once decoded."""
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


def _settings_from(data: dict[str, Any]) -> tuple[Settings, KeepRules]:
    raw = _require(data, "settings", dict, "report")
    threshold = _require(raw, "threshold", (int, float), "settings")
    try:
        settings = Settings(
            algorithm=_require(raw, "algorithm", str, "settings"),
            hash_size=_require(raw, "hash_size", int, "settings"),
            threshold=float(threshold),
            rotations=_optional(raw, "rotations", bool, "settings") or False,
        )
    except (ValueError, OverflowError) as error:
        raise ReportError(f"settings: {error}") from None
    _integer(raw, "max_distance", "settings", 0, _I64, default=0)  # written for people only
    order = _list_of(raw, "keep", "settings") if "keep" in raw else list(KeepRules().order)
    for k, rule in enumerate(order):
        if rule not in policy.RULES:
            raise ReportError(
                f"settings.keep[{k}]: {_show(rule)} is not a keep rule "
                f"(choose from {', '.join(policy.RULES)})"
            )
    if len(set(order)) != len(order):
        raise ReportError("settings.keep: each keep rule may be named once")
    keep = KeepRules(
        order=tuple(order),
        protect=tuple(
            _path(d, f"settings.protect[{k}]")
            for k, d in enumerate(_list_of(raw, "protect", "settings"))
        ),
        prefer=tuple(
            _path(d, f"settings.prefer[{k}]")
            for k, d in enumerate(_list_of(raw, "prefer", "settings"))
        ),
        reference=tuple(
            _path(d, f"settings.reference[{k}]")
            for k, d in enumerate(_list_of(raw, "reference", "settings"))
        ),
        twins=_text(raw, "twins", "settings", default="together"),
        lose_sidecars=_optional(raw, "lose_sidecars", bool, "settings") or False,
        bursts=_text(raw, "bursts", "settings", default="keep-all"),
    )
    if keep.bursts not in BURSTS:
        raise ReportError(
            f"settings.bursts: {_show(keep.bursts)} is not one of {', '.join(BURSTS)}"
        )
    if keep.twins not in TWINS:
        raise ReportError(
            f"settings: 'twins' is {_show(keep.twins)}, not one of {', '.join(TWINS)}"
        )
    return settings, keep


_METADATA_TEXT = ("taken_at", "make", "model", "software", "content_id", "encoding")


def _metadata_from(item: dict[str, Any], where: str) -> Metadata:
    raw = _optional(item, "metadata", dict, where)
    if raw is None:
        return Metadata()
    where = f"{where}.metadata"
    text = {
        key: _text(raw, key, where) if raw.get(key) is not None else None for key in _METADATA_TEXT
    }
    if text["encoding"] is not None and text["encoding"] not in ENCODINGS:
        raise ReportError(
            f"{where}.encoding: {_show(text['encoding'])} is not one of {', '.join(ENCODINGS)}"
        )
    orientation = raw.get("orientation")
    return Metadata(
        gps=_optional(raw, "gps", bool, where) or False,
        orientation=None if orientation is None else _integer(raw, "orientation", where, 0, 65535),
        **text,
    )


def _facts_from(
    item: dict[str, Any], path: str, by_path: dict[str, ImageRecord], where: str, version: int
) -> FileFacts:
    """A group file's companions, twins and metadata (schema 2), every one checked: a companion
    is a file of the image's own folder that is not an image of the report, a twin an image of
    the report in the same folder."""
    folder = os.path.dirname(path)
    found = []
    for k, raw in enumerate(_list_of(item, "companions", where)):
        here = f"{where}.companions[{k}]"
        cpath = _path(_require(raw, "path", str, here), f"{here}.path")
        if os.path.dirname(cpath) != folder:
            raise ReportError(f"{here}: {_show(cpath)} is not in the folder of {_show(path)}")
        if cpath in by_path:
            raise ReportError(f"{here}: {_show(cpath)} is an image of the report, not a sidecar")
        role = _require(raw, "role", str, here)
        if role not in COMPANION_ROLES:
            raise ReportError(
                f"{here}: role {_show(role)} is not one of {', '.join(COMPANION_ROLES)}"
            )
        found.append(
            Companion(
                cpath,
                role,
                _integer(raw, "size", here, 0, _I64),
                _integer(raw, "mtime_ns", here, -_I64 - 1, _I64),
                _text(raw, "digest", here),
            )
        )
    if len({c.path for c in found}) != len(found):
        raise ReportError(f"{where}: a companion is listed twice")
    twins = []
    for k, twin in enumerate(_list_of(item, "twins", where)):
        here = f"{where}.twins[{k}]"
        twin = _path(twin, here)
        # (schema 3 lists the grouped images alone: a twin in no group is any image there)
        known = version >= 3 or twin in by_path
        if not known or os.path.dirname(twin) != folder or twin == path:
            raise ReportError(f"{here}: {_show(twin)} is not another image of the same folder")
        twins.append(twin)
    return FileFacts(tuple(found), tuple(twins), _metadata_from(item, where))


def _groups_from(
    data: dict[str, Any], by_path: dict[str, ImageRecord], bits: int, version: int
) -> tuple[list[Group], dict[str, FileFacts]]:
    groups = []
    facts: dict[str, FileFacts] = {}
    ids: dict[int, int] = {}
    for k, raw_group in enumerate(_require(data, "groups", list, "report")):
        where = f"groups[{k}]"
        gid = _integer(raw_group, "id", where, 0, _I64)
        if gid in ids:
            raise ReportError(f"{where}: group id {gid} is also the id of groups[{ids[gid]}]")
        ids[gid] = k
        where = f"{where} (group {gid})"
        _integer(raw_group, "reclaimable_bytes", where, 0, _I64, default=0)  # for people only
        kind = _require(raw_group, "kind", str, where)
        if kind not in GROUP_KINDS:
            raise ReportError(
                f"{where}: kind must be one of {', '.join(GROUP_KINDS)}, not {_show(kind)}"
            )
        members = []
        for f, item in enumerate(_require(raw_group, "files", list, where)):
            fwhere = f"{where}.files[{f}]"
            path = _require(item, "path", str, fwhere)
            record = by_path.get(path)
            if record is None:
                raise ReportError(f"{fwhere}: {_show(path)} is not among the report's images")
            if version >= 2:
                found = _facts_from(item, path, by_path, fwhere, version)
                if found != NO_FACTS:
                    facts[path] = found
            action = _require(item, "action", str, fwhere)
            if action not in ("keep", "trash"):
                raise ReportError(
                    f"{fwhere}: action must be 'keep' or 'trash', not {_show(action)}"
                )
            members.append(
                Member(
                    record,
                    _integer(item, "distance", fwhere, 0, bits),
                    action,
                    _text(item, "reason", fwhere, default=""),
                )
            )
        groups.append(
            Group(
                id=gid,
                kind=kind,
                max_distance=_integer(raw_group, "max_distance", where, 0, bits),
                members=tuple(members),
                reviewed=_optional(raw_group, "reviewed", bool, where) or False,
            )
        )
    return groups, facts


_STATS = ("files", "images", "hashed", "from_cache", "errors", "skipped", "hardlinks", "sidecars")


def _stats_from(data: dict[str, Any]) -> ScanStats:
    raw = _optional(data, "stats", dict, "report") or {}
    for key in raw:  # the counts written for people (groups, duplicates, ...) too
        _integer(raw, key, "stats", 0, _I64)
    return ScanStats(**{key: raw.get(key, 0) for key in _STATS})


def _problems_from(data: dict[str, Any], key: str, reason: str) -> tuple[Problem, ...]:
    found = []
    for k, item in enumerate(_list_of(data, key, "report")):
        where = f"{key}[{k}]"
        path = _name(_require(item, "path", str, where), f"{where}.path")
        found.append(Problem(path, _text(item, reason, where)))
    return tuple(found)


def _pairs_from(data: dict[str, Any]) -> frozenset[tuple[str, str]]:
    pairs = set()
    for k, pair in enumerate(_list_of(data, "not_duplicates", "report")):
        where = f"not_duplicates[{k}]"
        if not isinstance(pair, list) or len(pair) != 2:
            raise ReportError(f"{where}: expected a pair of paths, found {_show(pair)}")
        a, b = (_name(p, where) for p in pair)
        pairs.add((min(a, b), max(a, b)))
    return frozenset(pairs)


def _checked_digest(checked: Checked) -> str:
    """A digest of checked pairs' content, written with them: pairs whose numbers were damaged
    (by hand or by a disk) no longer match it and are never used to group."""
    h = hashlib.sha256(f"{checked.key} {checked.radius} {list(checked.found)}\n".encode())
    for array, dtype in (
        (checked.low, "<i8"),
        (checked.high, "<i8"),
        (checked.distance, "<i8"),
        (checked.score, "<f4"),
        (checked.low_information, "<i8"),
        (checked.kind, "<i1"),
    ):
        h.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return h.hexdigest()


_CHECKED_LISTS = ("found", "low", "high", "distance", "low_information")


def _checked_from(data: dict[str, Any], images: int) -> Checked | None:
    """The checked pairs, or None when there are none or they are unusable in any way (they
    only save time: the pairs are then searched and checked again)."""
    value = data.get("checked_pairs")
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("key"), str)
        or type(value.get("radius")) is not int
        or not isinstance(value.get("digest"), str)
        or not all(isinstance(value.get(k), list) for k in (*_CHECKED_LISTS, "score"))
        or not all(set(map(type, value[k])) <= {int} for k in _CHECKED_LISTS)
        or not set(map(type, value["score"])) <= {int, float}
    ):
        return None
    checked = Checked.from_json_value(value, images)
    if checked is None or value["digest"] != _checked_digest(checked):
        return None
    return checked


def from_json(data: Any) -> Report:
    """Build a Report from parsed JSON, checking every field. Raises ReportError."""
    return _from_json(data, consume=False)


def _from_json(data: Any, *, consume: bool) -> Report:
    """from_json; with `consume`, the parsed images are freed while the records are built."""
    if not isinstance(data, dict):
        raise ReportError("not a dedupe report (expected a JSON object)")
    version = data.get("schema_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        newer = type(version) is int and version > SCHEMA_VERSION
        raise ReportError(
            f"unsupported report schema version {_show(version)} (this dedupe reads "
            f"{', '.join(map(str, READABLE_VERSIONS[:-1]))} and {READABLE_VERSIONS[-1]}"
            + (
                "; the report was written by a newer dedupe: upgrade, or scan again)"
                if newer
                else ")"
            )
        )
    tool = _optional(data, "tool", dict, "report") or {}
    tool_version = _text(tool, "version", "tool", default="")
    _text(tool, "name", "tool", default="")
    created_at = _text(data, "created_at", "report", default="")
    raw_roots = _require(data, "roots", list, "report")
    if not raw_roots:
        raise ReportError("report: 'roots' names no scanned folder")
    roots = tuple(_path(root, f"roots[{k}]") for k, root in enumerate(raw_roots))
    settings, keep = _settings_from(data)
    stats = _stats_from(data)
    errors = _problems_from(data, "errors", "error")
    skipped = _problems_from(data, "skipped", "reason")
    not_duplicates = _pairs_from(data)
    ref: IndexRef | None = None
    numbers: dict[str, int] = {}
    if version >= 3:
        ref = _index_ref_from(data)
        by_path, numbers = _grouped_from(data, settings, ref)
        images = tuple(by_path.values())
        checked = None
    else:
        raw_images = _require(data, "images", list, "report")
        images = tuple(_images_from_json(raw_images, settings, consume=consume))
        by_path = {r.path: r for r in images}
        if len(by_path) != len(images):
            seen: set[str] = set()
            for k, r in enumerate(images):
                if r.path in seen:
                    raise ReportError(f"images[{k}]: {_show(r.path)} is listed twice")
                seen.add(r.path)
        checked = _checked_from(data, len(images))
    groups, facts = _groups_from(data, by_path, settings.bits, version)
    return Report(
        roots=roots,
        settings=settings,
        keep=keep,
        stats=stats,
        groups=tuple(groups),
        errors=errors,
        skipped=skipped,
        images=images,
        not_duplicates=not_duplicates,
        created_at=created_at,
        tool_version=tool_version,
        checked=checked,
        facts=facts,
        read_version=version,
        index=ref,
        numbers=numbers,
        complete=version < 3,
    )


def _index_ref_from(data: dict[str, Any]) -> IndexRef | None:
    """The header's `index` block (schema 3; null in a report printed on stdout)."""
    raw = _require(data, "index", (dict, _NONE), "report")
    if raw is None:
        return None
    where = "index"
    name = _require(raw, "file", str, where)
    if not IndexRef.valid_file(name):
        raise ReportError(
            f"index: 'file' must be the name of a file beside the report "
            f"(<name>.<12 hex digits>.index), not {_show(name)}"
        )
    index_id = _require(raw, "id", str, where)
    if not IndexRef.valid_id(index_id) or not name.endswith(f".{index_id[:12]}.index"):
        raise ReportError(f"index: 'id' {_show(index_id)} is not the id of {_show(name)}")
    digest = _require(raw, "digest", str, where)
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ReportError(f"index: 'digest' {_show(digest)} is not a SHA-256 in hex")
    return IndexRef(
        file=name,
        id=index_id,
        images=_integer(raw, "images", where, 0, _I64),
        digest=digest,
        version=_integer(raw, "version", where, 1, _I64),
    )


def _grouped_from(
    data: dict[str, Any], settings: Settings, ref: IndexRef | None
) -> tuple[dict[str, ImageRecord], dict[str, int]]:
    """The records of a schema-3 report's group files (what apply re-checks and people read;
    no orientation hashes nor check signature, which are in the index), by path, and each
    file's image number in the index (checked: one number per path, one path per number)."""
    by_path: dict[str, ImageRecord] = {}
    numbers: dict[str, int] = {}
    owner: dict[int, str] = {}
    for k, raw_group in enumerate(_require(data, "groups", list, "report")):
        for f, item in enumerate(_require(raw_group, "files", list, f"groups[{k}]")):
            where = f"groups[{k}].files[{f}]"
            record = _group_file_from(item, settings, where)
            path = record.path
            if ref is not None:
                number = _integer(item, "image", where, 0, ref.images - 1)
                if numbers.setdefault(path, number) != number:
                    raise ReportError(
                        f"{where}: {_show(path)} is image {number} here, {numbers[path]} before"
                    )
                if owner.setdefault(number, path) != path:
                    raise ReportError(f"{where}: image {number} is also {_show(owner[number])}")
            by_path.setdefault(path, record)
    return by_path, numbers


def _group_file_from(item: Any, settings: Settings, where: str) -> ImageRecord:
    if not isinstance(item, dict):
        raise ReportError(f"{where}: expected an object, found {_show(item)}")
    path = _path(_require(item, "path", str, where), f"{where}.path")
    return _record_from(item, settings, where, path, b"", b"")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read(path: str | Path, *, with_index: bool = False) -> Report:
    """Read and check a report file. Raises ReportError with a clear message.

    A report of schema 3 is read from its JSON alone (the grouped files; `complete` False)
    unless `with_index`: then every image and the checked pairs come from the index it names
    (see with_index), or IndexProblem says why they cannot. Older reports hold their images.

    The cyclic garbage collector is paused while the report's objects are built (see
    gcpause.py), and afterwards they are taken out of its view for good: a report is read to
    be reviewed or acted on for the rest of the process.
    """
    with collector_paused():
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle, parse_constant=_no_constant)
        except FileNotFoundError:
            raise ReportError(f"no report at {path} (run `dedupe scan DIR` first)") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ReportError(f"cannot read report {path}: {error}") from None
        except RecursionError:
            raise ReportError(f"report {path} is not a dedupe report: nested too deeply") from None
        except ValueError as error:  # JSONDecodeError, NaN, an integer of thousands of digits
            raise ReportError(f"report {path} is not valid JSON: {error}") from None
        report = _from_json(data, consume=True)
        del data
        report = beside(report, path)
        if with_index and not report.complete:
            report = _with_index(report, _folder_of(path))
    settle()
    return report


def beside(report: Report, path: str | Path) -> Report:
    """`report`, read from the file at `path`, knowing where the index it names is (beside
    the report a symbolic link `path` leads to, where write() writes it)."""
    if report.index is None:
        return report
    return replace(report, index_path=_folder_of(path) / report.index.file)


def _file_of(path: str | Path) -> Path:
    """The report file at `path`: the file a symbolic link `path` leads to, else `path`."""
    where = Path(path)
    return Path(os.path.realpath(where)) if where.is_symlink() else where


def _folder_of(path: str | Path) -> Path:
    """The folder of the report file at `path` (of the file a symbolic link leads to)."""
    return _file_of(path).parent


def with_signatures(report: Report) -> Report:
    """`report` (schema 3, read without its index) with the orientation hashes and check
    signatures of its grouped files taken from its index (index.signatures: its meta and each
    of those rows checked against the report), for a review that proposes keepers again
    (the resolution rule sees borders, distances see orientations). Raises IndexProblem."""
    if report.complete or not report.numbers:
        return report
    ref, where = report.index, report.index_path
    if ref is None or where is None:
        raise IndexProblem("the report names no index: run `dedupe scan` again")
    grouped = {r.path: r for r in report.images}
    wanted = {
        number: (path, grouped[path].size, grouped[path].mtime_ns, grouped[path].fingerprint.digest)
        for path, number in report.numbers.items()
    }
    found = index_mod.signatures(where.parent, ref, report.settings, wanted)

    def signed(record: ImageRecord) -> ImageRecord:
        variants, check = found[report.numbers[record.path]]
        return replace(
            record, fingerprint=replace(record.fingerprint, variant_bits=variants, check=check)
        )

    records = {path: signed(r) for path, r in grouped.items()}
    groups = tuple(
        replace(g, members=tuple(replace(m, record=records[m.record.path]) for m in g.members))
        for g in report.groups
    )
    return replace(report, images=tuple(records.values()), groups=groups)


def completed(report: Report) -> Report:
    """`report`, read without its index, with every image and the checked pairs from the
    index it names (see _with_index; raises IndexProblem); a complete report as it is."""
    if report.complete:
        return report
    if report.index_path is None:
        raise IndexProblem(
            "the report names no index (it was printed, not written by `dedupe scan`): run "
            "`dedupe scan` again to regroup"
        )
    return _with_index(report, report.index_path.parent)


def _with_index(report: Report, folder: Path) -> Report:
    """`report` (schema 3, read without its index) completed from the index it names: every
    image's record and the checked pairs, after index.load's checks and one more: every
    grouped file is the index's image at the number the report gives it, with the same path,
    size, mtime_ns and digest (a hand-edited report, or an index of another scan, fails
    here). Raises IndexProblem."""
    ref = report.index
    if ref is None:
        raise IndexProblem(
            "the report names no index (it was printed, not written by `dedupe scan`): run "
            "`dedupe scan` again to regroup"
        )
    loaded = index_mod.load(folder, ref, report.settings)
    records = loaded.records
    grouped = {r.path: r for r in report.images}
    records.records(report.numbers.values())  # (the grouped files' records, built at once)
    for path, number in report.numbers.items():
        mine, theirs = grouped[path], records[number]
        if (mine.path, mine.size, mine.mtime_ns, mine.fingerprint.digest) != (
            theirs.path,
            theirs.size,
            theirs.mtime_ns,
            theirs.fingerprint.digest,
        ):
            raise IndexProblem(
                f"the report's index {folder / ref.file} does not match the report: image "
                f"{number} is {theirs.path!r} there, but the report's group file is "
                f"{path!r} (size, time or digest differ, or the report was edited): run "
                "`dedupe scan` again to regroup"
            )
    numbers = report.numbers
    groups = tuple(
        replace(
            g,
            members=tuple(
                Member(records[numbers[m.record.path]], m.distance, m.action, m.reason)
                for m in g.members
            ),
        )
        for g in report.groups
    )
    return replace(report, images=records, checked=loaded.checked, groups=groups, complete=True)


def _under(path: str, root: str) -> bool:
    return path.startswith(os.path.join(root, ""))


def problems(report: Report, *, allow_root: bool = False) -> list[str]:
    """Reasons the report's plan must not be acted on (empty when it is consistent).

    Every scanned folder and every file of a group must be an absolute, normalised path (see
    path_problem), every file strictly under a scanned folder; the top of the file system
    ('/') as a scanned folder is refused unless `allow_root` (apply --allow-root)."""
    found: list[str] = []
    roots: list[str] = []
    if not report.roots:
        found.append("the report names no scanned folder")
    for root in report.roots:
        why = path_problem(root)
        if why is not None:
            found.append(f"the scanned folder {root!r} {why}")
            continue
        if os.path.dirname(root) == root and not allow_root:
            found.append(
                f"the scanned folder {root} is the top of the file system: apply acts under it "
                "only with --allow-root"
            )
        roots.append(root)
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
            why = path_problem(path)
            if why is not None:
                found.append(f"group {group.id}: {path!r} {why}")
            elif not any(_under(path, root) for root in roots):
                found.append(f"{path} is outside the scanned folders")
    return found


def with_groups(report: Report, groups: Sequence[Group]) -> Report:
    return replace(report, groups=tuple(groups))


def sorted_problems(items: Iterable[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(items, key=lambda p: os.fsencode(p.path)))
