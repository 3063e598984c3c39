"""The report's index: every scanned image's columns and the checked pairs, in one SQLite file
beside the JSON report, versioned and checked against it before anything regroups from it.

Since schema 3 the JSON report holds what people, scripts and `apply` read (the groups and
their files); what only regrouping reads (every image with its hashes and check signature,
and the pairs the scan's check accepted) is here, a column at a time: table `columns` holds
each column as blobs of CHUNK rows (`name`, `chunk`, `data`), table `meta` its version, id,
image count and the settings that make a fingerprint. Row k of every image column is image
number k (the `image` of a group file in the JSON). The JSON's header names the index
(IndexRef: file, random id, image count, SHA-256 of the columns, version): `load` refuses an
index that is missing, of a version it cannot read, of another scan, or whose columns do not
hash to that digest (IndexProblem, which says what to do), so a regroup never works from a
stale or damaged index.

A column's blob is either fixed-width little-endian numbers (`<i8`, `<u8`, `<u4`, `<f4`,
`<i1`, `|u1`) or, for bytes of varying length, n + 1 `<u8` offsets followed by the bytes.
Text columns are UTF-8 (paths as `os.fsencode` gives them: an undecodable file-name byte is
itself); a file's hard links are its other names joined by NUL bytes.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dedupe import decode, verify
from dedupe.cluster import Checked
from dedupe.durable import replacing
from dedupe.errors import DedupeError
from dedupe.imagecols import ImageColumns, Varying
from dedupe.models import ImageRecord, Settings

# 2: the digest covers the meta's `checked` too (the search radius, which decides which pairs a
# regroup may take as checked); a version 1 index is refused (scan again).
VERSION = 2
READABLE_VERSIONS = (2,)
# Rows per blob: the check column (its signature bytes x rows) stays far below SQLite's 1 GB.
CHUNK = 65_536
SUFFIX = ".index"
_ID = re.compile(r"[0-9a-f]{32}")
_SQLITE_FULL = 13  # SQLite's result code for "database or disk is full"
_NAME = re.compile(r"[^/\0]+\.[0-9a-f]{12}\.index")
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE columns (name TEXT NOT NULL, chunk INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY (name, chunk));"
)
# The image columns: name and dtype (None: bytes of varying length).
_IMAGE_COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("path", None),
    ("size", "<i8"),
    ("mtime_ns", "<i8"),
    ("device", "<u8"),
    ("inode", "<u8"),
    ("width", "<u4"),
    ("height", "<u4"),
    ("format", None),
    ("digest", None),
    ("taken_at", None),
    ("has_taken_at", "|u1"),
    ("hash", None),
    ("variants", None),
    ("check", None),
    ("links", None),
)
_PAIR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("pairs.low", "<i8"),
    ("pairs.high", "<i8"),
    ("pairs.distance", "<i8"),
    ("pairs.score", "<f4"),
    ("pairs.kind", "<i1"),
    ("low_information", "<i8"),
)
_ADVICE = (
    "run `dedupe scan` again to regroup (review without --threshold, apply and report --html "
    "work from the report alone)"
)


class IndexProblem(DedupeError):
    """The index beside a report cannot be used to regroup (missing, damaged, of another scan,
    of a newer dedupe); the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class IndexRef:
    """The index a report names in its header (`"index": {...}`)."""

    file: str  # a file name in the report's own folder
    id: str  # 128 random bits in hex, the same in the index's meta
    images: int
    digest: str  # SHA-256 of the index's columns, in hex
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "id": self.id,
            "images": self.images,
            "digest": self.digest,
            "version": self.version,
        }

    @staticmethod
    def valid_file(name: object) -> bool:
        """Whether `name` is a name the writer gives an index (a plain name in the report's
        folder: no folder part, so that a hand-edited report cannot point anywhere else)."""
        return isinstance(name, str) and _NAME.fullmatch(name) is not None

    @staticmethod
    def valid_id(value: object) -> bool:
        return isinstance(value, str) and _ID.fullmatch(value) is not None


def name_for(report: Path, index_id: str) -> str:
    """The index's file name for the report at `report`: `dedupe-report.json` ->
    `dedupe-report.<first 12 digits of the id>.index`."""
    return f"{stem(report)}.{index_id[:12]}{SUFFIX}"


def stem(report: Path) -> str:
    return report.name.removesuffix(".json")


def _fingerprint_settings(settings: Settings) -> str:
    return json.dumps(
        {
            "algorithm": settings.algorithm,
            "hash_size": settings.hash_size,
            "rotations": settings.rotations,
        },
        sort_keys=True,
    )


# ---------------------------------------------------------------- write


def _var_blob(items: Sequence[bytes]) -> bytes:
    lengths = np.fromiter(map(len, items), dtype=np.uint64, count=len(items))
    offsets = np.zeros(len(items) + 1, dtype="<u8")
    np.cumsum(lengths, out=offsets[1:])
    return offsets.tobytes() + b"".join(items)


def _chunks_of(values: Any, n: int) -> Iterator[tuple[int, Any]]:
    for chunk, start in enumerate(range(0, max(n, 1), CHUNK)):
        yield chunk, values[start : start + CHUNK]


def _image_blobs(
    records: Sequence[ImageRecord],
) -> Iterator[tuple[str, int, bytes | bytearray]]:
    """(name, chunk, blob) of every image column, a chunk of rows at a time (from the columns
    themselves when the records are an ImageColumns: the same bytes, no record built)."""
    if isinstance(records, ImageColumns):
        yield from _column_blobs(records)
        return
    n = len(records)
    for chunk, part in _chunks_of(records, n):
        fps = [r.fingerprint for r in part]
        taken = [f.taken_at for f in fps]
        values: dict[str, Any] = {
            "path": [os.fsencode(r.path) for r in part],
            "size": [r.size for r in part],
            "mtime_ns": [r.mtime_ns for r in part],
            "device": [r.dev for r in part],
            "inode": [r.ino for r in part],
            "width": [f.width for f in fps],
            "height": [f.height for f in fps],
            "format": [f.format.encode("utf-8", "surrogateescape") for f in fps],
            "digest": [f.digest.encode("utf-8", "surrogateescape") for f in fps],
            "taken_at": [b"" if t is None else t.encode("utf-8", "surrogateescape") for t in taken],
            "has_taken_at": [t is not None for t in taken],
            "hash": [f.hash.bits.to_bytes(f.hash.nbits // 8, "big") for f in fps],
            "variants": [f.variant_bits for f in fps],
            "check": [f.check for f in fps],
            "links": [b"\0".join(map(os.fsencode, r.links)) for r in part],
        }
        for name, dtype in _IMAGE_COLUMNS:
            column = values[name]
            blob = _var_blob(column) if dtype is None else np.array(column, dtype=dtype).tobytes()
            yield name, chunk, blob


def _column_blobs(images: ImageColumns) -> Iterator[tuple[str, int, bytes | bytearray]]:
    """_image_blobs of the images of an ImageColumns, from its columns."""
    numbers: dict[str, npt.NDArray[Any]] = {
        "size": images.sizes,
        "mtime_ns": images.mtimes,
        "device": images.devices,
        "inode": images.inodes,
        "width": images.widths,
        "height": images.heights,
        "has_taken_at": images.has_taken_at,
    }
    varying: dict[str, Varying] = {
        "path": images.paths,
        "format": images.formats,
        "digest": images.digests,
        "taken_at": images.taken_at,
        "variants": images.variants,
        "links": images.links,
    }
    fixed: dict[str, npt.NDArray[np.uint8]] = {"hash": images.hashes, "check": images.signatures}
    n = len(images)
    for chunk, start in enumerate(range(0, max(n, 1), CHUNK)):
        stop = min(start + CHUNK, n)
        for name, dtype in _IMAGE_COLUMNS:
            blob: bytes | bytearray
            if name in fixed:  # as _var_blob lays them out: offsets, then the rows' bytes
                blob = _fixed_blob(fixed[name][start:stop])
            elif dtype is None:
                blob = _var_blob(varying[name].items(range(start, stop)))
            else:
                blob = np.ascontiguousarray(numbers[name][start:stop], dtype=dtype).tobytes()
            yield name, chunk, blob


def _fixed_blob(rows: npt.NDArray[np.uint8]) -> bytearray:
    """_var_blob of rows of one width, made in one buffer (a chunk of check signatures is
    89 MB: not made twice to be joined to its offsets)."""
    offsets = np.arange(len(rows) + 1, dtype="<u8") * rows.shape[1]
    blob = bytearray(offsets.nbytes + rows.nbytes)
    np.frombuffer(blob, dtype="<u8", count=len(offsets))[:] = offsets
    np.frombuffer(blob, dtype=np.uint8, offset=offsets.nbytes).reshape(rows.shape)[:] = rows
    return blob  # (SQLite and hashlib read a bytearray as they read bytes)


def _pair_blobs(checked: Checked) -> Iterator[tuple[str, int, bytes]]:
    arrays = (
        checked.low,
        checked.high,
        checked.distance,
        checked.score,
        checked.kind,
        checked.low_information,
    )
    for (name, dtype), array in zip(_PAIR_COLUMNS, arrays, strict=True):
        values = np.ascontiguousarray(array, dtype=dtype)
        for chunk, part in _chunks_of(values, len(values)):
            yield name, chunk, part.tobytes()


def _digest_update(h: Any, name: str, chunk: int, blob: bytes | bytearray) -> None:
    h.update(f"{name} {chunk} {len(blob)}\n".encode())
    h.update(blob)


def _digest_meta(h: Any, checked: str) -> None:
    """The meta's `checked` (its JSON text) into the digest, after the columns: the search's
    radius (and key and counts) say which pairs the scan checked, so a regroup may never
    take pairs as checked that were not (a radius changed by hand, say)."""
    _digest_update(h, "meta.checked", 0, checked.encode("utf-8"))


def write(
    folder: Path,
    report: Path,
    records: Sequence[ImageRecord],
    checked: Checked | None,
    settings: Settings,
    made_here: bool = True,
) -> IndexRef:
    """Write a new index for `records` (every image, in the report's order) and `checked`
    beside the report at `report` (in `folder`), under a new id; return its IndexRef.
    `made_here`: the records' check signatures are this dedupe's (False: a report of an older
    schema migrated, whose signatures' check version is not known; its meta says so, and
    regrouping from the index is refused).

    Atomic: the file is written under a temporary name, synced, then renamed to its own name,
    and the folder synced; a failure (a full disk, a read-only folder) leaves nothing behind
    and raises OSError (also for what SQLite reports: a full disk is "database or disk is
    full")."""
    index_id = secrets.token_hex(16)
    name = name_for(report, index_id)
    h = hashlib.sha256()
    with replacing(folder / name) as tmp:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:  # (sqlite3 says "database or disk is full" and the like as its own errors)
            # A fresh file no one else sees until it is renamed: no journal; synced after.
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.executescript(_SCHEMA)
            db.execute("BEGIN")
            blobs = _image_blobs(records)
            if checked is not None:
                blobs = itertools.chain(blobs, _pair_blobs(checked))
            for blob_name, chunk, blob in blobs:
                _digest_update(h, blob_name, chunk, blob)
                _insert(db, blob_name, chunk, blob)
            searched = json.dumps(
                None
                if checked is None
                else {"key": checked.key, "radius": checked.radius, "found": checked.found}
            )
            _digest_meta(h, searched)
            meta = {
                "version": str(VERSION),
                "id": index_id,
                "images": str(len(records)),
                "settings": _fingerprint_settings(settings),
                "verify": str(verify.VERSION) if made_here else "",
                "decoder": str(decode.DECODER_VERSION) if made_here else "",
                "report": report.name,
                "checked": searched,
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.execute("COMMIT")
        except sqlite3.Error as error:
            if getattr(error, "sqlite_errorcode", None) == _SQLITE_FULL:
                # the words of every other full-disk error of dedupe's, not only SQLite's own
                raise OSError(
                    errno.ENOSPC, f"No space left on device ({error})", str(folder / name)
                ) from error
            raise OSError(f"cannot write the report's index {folder / name}: {error}") from error
        finally:
            db.close()
    return IndexRef(name, index_id, len(records), h.hexdigest(), VERSION)


# Blobs from this size on are written through an incremental blob handle (Python 3.11+), this
# many bytes at a time.
_STREAMED = 1 << 20
_PIECE = 1 << 20


def _insert(db: sqlite3.Connection, name: str, chunk: int, blob: bytes | bytearray) -> None:
    """Insert one blob of a column. A big one (a chunk of check signatures is 89 MB) is
    written into a zeroblob through a blob handle, a piece at a time: bound as a value, SQLite
    would copy it and then assemble the row in one more copy (178 MB more at the scan's peak)."""
    if len(blob) < _STREAMED or not hasattr(db, "blobopen"):
        db.execute("INSERT INTO columns VALUES (?, ?, ?)", (name, chunk, blob))
        return
    row = db.execute(
        "INSERT INTO columns VALUES (?, ?, zeroblob(?))", (name, chunk, len(blob))
    ).lastrowid
    assert row is not None  # (an INSERT's)
    view = memoryview(blob)
    with db.blobopen("columns", "data", row) as handle:
        for lo in range(0, len(blob), _PIECE):
            handle.write(view[lo : lo + _PIECE])


def remove_others(folder: Path, report: Path, keep: str, also: str | None) -> None:
    """Remove the indexes of the report at `report` other than `keep`: `also` (the one the
    report named before this write) and those named for this report (`<stem>.<id>.index`)
    whose meta says they were written for it. Best effort: a file that cannot be removed
    stays (it is never read: the report names `keep`)."""
    doomed = set()
    if also is not None and also != keep and IndexRef.valid_file(also):
        doomed.add(also)
    prefix = stem(report) + "."
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    for name in names:
        ours = name != keep and name.startswith(prefix) and IndexRef.valid_file(name)
        if (
            ours
            and len(name) == len(prefix) + 12 + len(SUFFIX)
            and _written_for(folder / name) in (report.name, None)
        ):
            doomed.add(name)
    for name in doomed:
        try:
            (folder / name).unlink()
        except OSError:
            continue


def _written_for(path: Path) -> str | None:
    """The report name an index's meta gives (None when it has none or cannot be read)."""
    try:
        return _meta_value(path, "report")
    except IndexProblem:
        return None


def id_of(path: Path) -> str | None:
    """The id in the meta of the index at `path`; raises IndexProblem when it cannot be
    opened (missing, not SQLite)."""
    return _meta_value(path, "id")


def _meta_value(path: Path, key: str) -> str | None:
    """One value of an index's meta (None if it has none or its meta cannot be read); raises
    IndexProblem when the file cannot be opened."""
    return _meta_values(path, key)[0]


def _meta_values(path: Path, *keys: str) -> list[str | None]:
    """Values of an index's meta, from one opening of the file (each None if it has none,
    all None if its meta cannot be read); raises IndexProblem when it cannot be opened."""
    db = _open(path)
    try:
        rows = [db.execute("SELECT value FROM meta WHERE key = ?", (k,)).fetchone() for k in keys]
    except sqlite3.Error:
        return [None] * len(keys)
    finally:
        db.close()
    return [None if row is None else str(row[0]) for row in rows]


def search_radius(path: Path) -> tuple[int, int] | None:
    """The hash size of the index at `path` and the radius its checked pairs cover, from its
    meta alone (None: it holds no checked pairs, or cannot be read: load says why)."""
    try:
        settings, checked = _meta_values(path, "settings", "checked")
        hash_size = json.loads(settings or "null")["hash_size"]
        radius = json.loads(checked or "null")["radius"]
    except (IndexProblem, ValueError, TypeError, KeyError):
        return None
    if type(hash_size) is not int or type(radius) is not int:
        return None
    return hash_size, radius


def copy(source: Path, folder: Path, report: Path, ref: IndexRef) -> IndexRef:
    """The index `source` copied beside the report at `report` (a report written to another
    place keeps its index: the same id and columns), atomically; raises OSError."""
    name = name_for(report, ref.id)
    with replacing(folder / name) as tmp, open(source, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return IndexRef(name, ref.id, ref.images, ref.digest, ref.version)


# ---------------------------------------------------------------- read


def _open(path: Path) -> sqlite3.Connection:
    """The index at `path` opened read-only (works in a read-only folder)."""
    if not path.is_file():
        raise IndexProblem(f"the report's index {path} is missing: {_ADVICE}")
    uri = "file:" + _quote(os.fsencode(path.resolve())) + "?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise IndexProblem(
            f"the report's index {path} cannot be opened ({error}): {_ADVICE}"
        ) from None


def _quote(raw: bytes) -> str:
    from urllib.parse import quote_from_bytes

    return quote_from_bytes(raw, safe="/")


@dataclass(frozen=True, slots=True)
class Loaded:
    """What an index gives a regroup: every image (as columns, a record built for each one
    read: imagecols.py), and the checked pairs."""

    records: ImageColumns
    checked: Checked | None


def load(folder: Path, ref: IndexRef, settings: Settings) -> Loaded:
    """The records and checked pairs of the index `ref` names, in `folder`, after checking in
    this order: the file is there and is an SQLite file; its version is one this dedupe reads;
    its id, image count and fingerprint settings are the report's; the SHA-256 of its columns
    is the report's digest. Raises IndexProblem saying which failed (the caller then checks
    that the report's group files are the index's images: see report.read)."""
    path = folder / ref.file
    db = _open(path)
    try:
        return _load(db, path, ref, settings)
    except sqlite3.Error as error:
        raise IndexProblem(f"the report's index {path} is damaged ({error}): {_ADVICE}") from None
    finally:
        db.close()


def _check_meta(
    db: sqlite3.Connection, path: Path, ref: IndexRef, settings: Settings
) -> dict[str, str]:
    """The index's meta, after checking its version, and its id, count and settings against
    the report's; raises IndexProblem."""
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as error:
        raise IndexProblem(
            f"the report's index {path} is damaged or not an index ({error}): {_ADVICE}"
        ) from None
    version = meta.get("version", "")
    if version.isdigit() and int(version) < min(READABLE_VERSIONS):
        raise IndexProblem(
            f"the report's index {path} was written by an earlier dedupe (index version "
            f"{version}, whose digest does not cover the search radius): {_ADVICE}"
        )
    if not version.isdigit() or int(version) not in READABLE_VERSIONS:
        raise IndexProblem(
            f"the report's index {path} is of version {version or '(none)'}, which this dedupe "
            f"cannot read (it reads {', '.join(map(str, READABLE_VERSIONS))}): upgrade dedupe, "
            "or scan again"
        )
    if (
        meta.get("id") != ref.id
        or meta.get("images") != str(ref.images)
        or meta.get("settings") != _fingerprint_settings(settings)
    ):
        raise IndexProblem(
            f"the report's index {path} belongs to another scan (its id, image count or "
            f"settings are not the report's): {_ADVICE}"
        )
    made = (meta.get("verify"), meta.get("decoder"))
    if made != (str(verify.VERSION), str(decode.DECODER_VERSION)):
        # (its signatures would be judged by rules they were not made for, e.g. no
        # animation flag before check version 6)
        raise IndexProblem(
            f"the report's index {path} was made by another version of dedupe's check (check "
            f"{made[0] or '(unknown)'}, decoder {made[1] or '(unknown)'}; this dedupe's: check "
            f"{verify.VERSION}, decoder {decode.DECODER_VERSION}): {_ADVICE}"
        )
    return meta


def _load(db: sqlite3.Connection, path: Path, ref: IndexRef, settings: Settings) -> Loaded:
    meta = _check_meta(db, path, ref, settings)
    rows: list[tuple[str, int, bytes] | None] = list(
        db.execute("SELECT name, chunk, data FROM columns ORDER BY rowid")
    )
    blobs: dict[str, list[bytes]] = {}
    for row in rows:
        assert row is not None
        name, chunk, data = row
        if not isinstance(data, bytes) or not isinstance(name, str):
            raise IndexProblem(f"the report's index {path} is damaged: {_ADVICE}")
        parts = blobs.setdefault(name, [])
        if chunk != len(parts):
            raise IndexProblem(f"the report's index {path} is damaged: {_ADVICE}")
        parts.append(data)
    row, data = None, b""  # (the last blob: let go of as the others)
    # The SHA-256 of the columns on a thread (hashlib lets go of the interpreter for long
    # data) while they are turned into arrays; nothing is used before it has matched. Each
    # blob is let go of once hashed and turned into its array: the check signatures (1.36 GB
    # at a million images) are copied into one array a blob at a time, never held twice.
    digest: list[str] = []
    searched = meta.get("checked", "null")
    hashing = threading.Thread(
        target=_digest_of, args=(rows, searched, digest), name="dedupe-digest"
    )
    hashing.start()
    problem: Exception | None = None
    try:
        records = _columns(blobs, ref.images, settings)
        checked = _checked(blobs, json.loads(searched))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        problem = error
    finally:
        hashing.join()
    if digest != [ref.digest]:
        raise IndexProblem(
            f"the report's index {path} is damaged or was changed (its columns or its search "
            f"radius do not match the digest the report gives): {_ADVICE}"
        )
    if problem is not None:
        # (the digest matched: only an index written wrongly gets here)
        raise IndexProblem(f"the report's index {path} is damaged ({problem}): {_ADVICE}") from None
    return Loaded(records, checked)


def _digest_of(rows: list[tuple[str, int, bytes] | None], checked: str, out: list[str]) -> None:
    """The SHA-256 of the index's columns and its meta's `checked` (as index.write computes
    it), appended to `out`; each row of `rows` is let go of (None) once hashed."""
    h = hashlib.sha256()
    for k, row in enumerate(rows):
        assert row is not None
        _digest_update(h, *row)
        rows[k] = row = None
    _digest_meta(h, checked)
    out.append(h.hexdigest())


def signatures(
    folder: Path, ref: IndexRef, settings: Settings, wanted: Mapping[int, tuple[str, int, int, str]]
) -> dict[int, tuple[bytes, bytes]]:
    """The orientation hashes and check signature of the images numbered in `wanted` (the
    grouped files of a report read without its index: number -> its path, size, mtime_ns and
    digest), for a review that re-proposes a keeper (borders, orientations). Cheaper than
    load: the meta is checked (version, id, count, settings) and each wanted row against the
    report, not the digest of every column, and only the chunks holding wanted rows are
    decoded. Raises IndexProblem."""
    path = folder / ref.file
    db = _open(path)
    try:
        _check_meta(db, path, ref, settings)
        found: dict[int, tuple[bytes, bytes]] = {}
        by_chunk: dict[int, list[int]] = {}
        for k in sorted(wanted):
            by_chunk.setdefault(k // CHUNK, []).append(k)
        for chunk, here in by_chunk.items():
            rows = min(CHUNK, ref.images - chunk * CHUNK)
            columns = {}
            for name in ("path", "size", "mtime_ns", "digest", "variants", "check"):
                row = db.execute(
                    "SELECT data FROM columns WHERE name = ? AND chunk = ?", (name, chunk)
                ).fetchone()
                if row is None or not isinstance(row[0], bytes):
                    raise IndexProblem(f"the report's index {path} is damaged: {_ADVICE}")
                columns[name] = row[0]
            sizes = np.frombuffer(columns["size"], dtype="<i8")
            mtimes = np.frombuffer(columns["mtime_ns"], dtype="<i8")
            if len(sizes) != rows or len(mtimes) != rows:
                raise IndexProblem(f"the report's index {path} is damaged: {_ADVICE}")
            for k in here:
                at = k - chunk * CHUNK
                mine = wanted[k]
                theirs = (
                    os.fsdecode(_item(columns["path"], rows, at)),
                    int(sizes[at]),
                    int(mtimes[at]),
                    _item(columns["digest"], rows, at).decode("utf-8", "surrogateescape"),
                )
                if theirs != mine:
                    raise IndexProblem(
                        f"the report's index {path} does not match the report: image {k} is "
                        f"{theirs[0]!r} there, {mine[0]!r} in the report: {_ADVICE}"
                    )
                found[k] = (_item(columns["variants"], rows, at), _item(columns["check"], rows, at))
        return found
    except (sqlite3.Error, ValueError) as error:
        raise IndexProblem(f"the report's index {path} is damaged ({error}): {_ADVICE}") from None
    finally:
        db.close()


def _item(blob: bytes, rows: int, at: int) -> bytes:
    """Row `at` of a variable-length blob of `rows` rows."""
    head = (rows + 1) * 8
    start, stop = np.frombuffer(blob, dtype="<u8", count=2, offset=at * 8).tolist()
    if not start <= stop <= len(blob) - head:
        raise ValueError("a column's offsets do not fit its bytes")
    return blob[head + start : head + stop]


def _numbers(parts: list[bytes], dtype: str, n: int) -> npt.NDArray[Any]:
    values = np.frombuffer(b"".join(parts), dtype=dtype)
    if len(values) != n:
        raise ValueError(f"a column holds {len(values)} values, not {n}")
    return values


def _varying(parts: list[bytes], n: int) -> Varying:
    """A column of bytes of varying length from its chunks' blobs (each its rows' offsets
    from 0, then their bytes), kept in them: checked that every chunk's offsets fit its
    bytes."""
    part, start, stop = [], [], []
    for k, blob in enumerate(parts):
        rows = min(CHUNK, n - k * CHUNK)
        head = (rows + 1) * 8
        if rows < 0 or len(blob) < head:
            raise ValueError("a column's offsets do not fit its bytes")
        here = np.frombuffer(blob, dtype="<u8", count=rows + 1).astype(np.int64)
        if here[0] != 0 or here[-1] != len(blob) - head or bool((np.diff(here) < 0).any()):
            raise ValueError("a column's offsets do not fit its bytes")
        here += head
        part.append(np.full(rows, k, dtype=np.int64))
        start.append(here[:-1])
        stop.append(here[1:])
    if sum(map(len, part)) != n:
        raise ValueError(f"a column holds {sum(map(len, part))} values, not {n}")
    empty = [np.zeros(0, dtype=np.int64)]
    return Varying(tuple(parts), *(np.concatenate(a or empty) for a in (part, start, stop)))


def _fixed_rows(parts: list[bytes], n: int, width: int) -> npt.NDArray[np.uint8] | None:
    """A column whose every row has `width` bytes, from its chunks' blobs, as one (n, width)
    array (None when a row has another width), each blob let go of (b"" in `parts`) once
    copied: the column is never held twice. Checked as _varying checks a column."""
    rows = np.empty((n, width), dtype=np.uint8)
    at = 0
    for k, blob in enumerate(parts):
        here = min(CHUNK, n - k * CHUNK)
        head = (here + 1) * 8
        if here < 0 or len(blob) < head:
            raise ValueError("a column's offsets do not fit its bytes")
        offsets = np.frombuffer(blob, dtype="<u8", count=here + 1).astype(np.int64)
        if offsets[0] != 0 or offsets[-1] != len(blob) - head or bool((np.diff(offsets) < 0).any()):
            raise ValueError("a column's offsets do not fit its bytes")
        if bool((np.diff(offsets) != width).any()):
            return None
        rows[at : at + here] = np.frombuffer(blob, np.uint8, here * width, head).reshape(
            here, width
        )
        at += here
        parts[k] = blob = b""
    if at != n:
        raise ValueError(f"a column holds {at} values, not {n}")
    return rows


def _columns(blobs: dict[str, list[bytes]], n: int, settings: Settings) -> ImageColumns:
    """Every image of the index as columns (records are built from them on demand, see
    imagecols.py), checked as every record was before: a hash of the report's size, a check
    signature of this dedupe's, the orientation hashes of every image with rotations."""

    def var(name: str) -> Varying:
        return _varying(blobs[name], n)

    def num(name: str, dtype: str) -> npt.NDArray[Any]:
        return _numbers(blobs[name], dtype, n)

    nbytes = settings.bits // 8
    hashes = var("hash").fixed(nbytes)
    if hashes is None:
        raise ValueError("a hash of another size than the report's")
    checks = _fixed_rows(blobs["check"], n, verify.SIGNATURE_BYTES)
    if checks is None:
        raise ValueError("a check signature of another size than this dedupe's")
    variants = var("variants")
    if settings.rotations and not bool((variants.lengths() == 7 * nbytes).all()):
        raise ValueError("an image without its orientation hashes")
    dtypes = dict(_IMAGE_COLUMNS)
    return ImageColumns(
        settings.hash_size,
        {name: num(name, str(dtypes[name])) for name in ImageColumns.NUMBERS},
        {name: variants if name == "variants" else var(name) for name in ImageColumns.VARYING},
        hashes,
        checks,
    )


def _checked(blobs: dict[str, list[bytes]], meta: Any) -> Checked | None:
    if meta is None:
        return None
    columns = {
        name: np.frombuffer(b"".join(blobs.get(name, [])), dtype=dtype)
        for name, dtype in _PAIR_COLUMNS
    }
    pairs = {len(columns[name]) for name, _ in _PAIR_COLUMNS[:5]}
    if len(pairs) != 1:
        raise ValueError("the checked pairs' columns differ in length")
    return Checked(
        key=str(meta["key"]),
        radius=int(meta["radius"]),
        low=columns["pairs.low"].astype(np.int64),
        high=columns["pairs.high"].astype(np.int64),
        distance=columns["pairs.distance"].astype(np.int64),
        score=columns["pairs.score"].astype(np.float32),
        found=tuple(int(c) for c in meta["found"]),
        low_information=columns["low_information"].astype(np.int64),
        kind=columns["pairs.kind"].astype(np.int8),
    )
