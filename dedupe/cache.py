"""The SQLite hash cache. Disposable: a corrupt or outdated cache is rebuilt, never fatal.

An entry is valid while the file's (path, size, mtime_ns) are unchanged. Entries are namespaced
by everything that changes a fingerprint (algorithm, hash size, decoder and signature versions),
so changing a setting can never reuse stale hashes. Files that are not images, and files that
failed to decode, are remembered too, so a warm rescan of an unchanged tree opens no file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dedupe import decode, locations, verify
from dedupe.hashing import ImageHash
from dedupe.models import FileEntry, Fingerprint, Settings

SCHEMA_VERSION = 1

KIND_IMAGE = 1
KIND_NOT_IMAGE = 2
KIND_ERROR = 3

# Files looked up per query on a rescan (see HashCache.lookup).
LOOKUP_BATCH = 4096
# Keys asked for in one query of get_looks (within SQLite's 32,766 parameters).
LOOKS_BATCH = 4096
# The page size of a new cache file. An entry is about 1.6 KB (its check signature 1,357
# bytes), more than SQLite keeps on a 4 KB page of a WITHOUT ROWID table (about 1 KB): with
# 4 KB pages every entry spilled into overflow pages, 4.7 KB on disk each; on 16 KB pages it
# stays whole, 1.8 KB each. A cache made before keeps its pages (converting it rewrites the
# whole file: README "The hash cache" says how).
PAGE_SIZE = 16384

_FIELDS = (
    "kind", "width", "height", "format", "digest", "taken_at", "hash", "variants", '"check"',
    "reason",
)  # fmt: skip
_COLUMNS = "size, mtime_ns, " + ", ".join(_FIELDS)
_COLUMNS_E = "e.size, e.mtime_ns, " + ", ".join(f"e.{name}" for name in _FIELDS)
# One shared string per format name, not one per cached row.
_FORMATS = {name: name for name in ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "HEIF", "AVIF")}


def default_path() -> Path:
    return locations.cache_file()


def namespace(settings: Settings) -> str:
    """Where the fingerprints of `settings` are kept: by hash, decoder and signature version
    (not by the check's verdict: verify.SIGNATURE_VERSION)."""
    return (
        f"{settings.algorithm}-{settings.hash_size}-d{decode.DECODER_VERSION}"
        f"-c{verify.SIGNATURE_VERSION}"
    )


@dataclass(frozen=True, slots=True)
class Cached:
    """A cache hit: a fingerprint, or the remembered verdict for a non-image or broken file."""

    kind: int
    fingerprint: Fingerprint | None = None
    reason: str = ""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL,
    path BLOB NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    width INTEGER, height INTEGER, format TEXT, digest TEXT, taken_at TEXT,
    hash BLOB, variants BLOB, "check" BLOB, reason TEXT,
    PRIMARY KEY (namespace, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS memo (key TEXT PRIMARY KEY, value TEXT NOT NULL, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS looks (key BLOB PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS facts (
    path BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""

# Results kept in the memo table (the most recently used ones).
MEMO_KEEP = 8


class HashCache:
    """Look up and store fingerprints. Open with `HashCache.open(path, settings)`."""

    def __init__(self, connection: sqlite3.Connection, settings: Settings, path: Path | None):
        self._db = connection
        self._settings = settings
        self._namespace = namespace(settings)
        self._nbytes = settings.bits // 8
        self.path = path
        self.warning: str | None = None
        self._pending = 0
        self._wanted_ready = False

    @classmethod
    def open(cls, path: Path, settings: Settings) -> HashCache:
        """Open (creating if needed) the cache at `path`; rebuild it if corrupt or outdated."""
        path.parent.mkdir(parents=True, exist_ok=True)
        warning = None
        try:
            connection = cls._connect(path)
        except sqlite3.DatabaseError as error:
            warning = f"hash cache {path} was unreadable ({error}); rebuilt it"
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            connection = cls._connect(path)
        cache = cls(connection, settings, path)
        cache.warning = warning
        return cache

    @classmethod
    def memory(cls, settings: Settings) -> HashCache:
        """A throwaway cache (for --no-cache)."""
        return cls(cls._setup(sqlite3.connect(":memory:")), settings, None)

    @classmethod
    def _connect(cls, path: Path) -> sqlite3.Connection:
        connection = sqlite3.connect(path, timeout=30.0)
        try:
            return cls._setup(connection)
        except sqlite3.DatabaseError:
            connection.close()
            raise

    @staticmethod
    def _setup(connection: sqlite3.Connection) -> sqlite3.Connection:
        # Before anything is written: the page size of a new file (an existing file keeps its
        # own, see PAGE_SIZE).
        connection.execute(f"PRAGMA page_size={PAGE_SIZE}")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(_SCHEMA)
        row = connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            connection.execute("DELETE FROM entries")
            connection.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
            )
            connection.commit()
        # Raises DatabaseError on a corrupt file, so open() can rebuild it.
        connection.execute("SELECT count(*) FROM entries LIMIT 1").fetchone()
        return connection

    def get(self, entry: FileEntry) -> Cached | None:
        """The cached result for this file if its size and mtime are unchanged, else None."""
        try:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE namespace=? AND path=?",
                (self._namespace, os.fsencode(entry.path)),
            ).fetchone()
        except sqlite3.DatabaseError:
            return None
        if row is None or row[0] != entry.size or row[1] != entry.mtime_ns:
            return None
        return self._cached(row[2:])

    def lookup(
        self, entries: Iterable[FileEntry], batch: int = LOOKUP_BATCH
    ) -> Iterator[tuple[FileEntry, Cached | None]]:
        """`(entry, get(entry))` for every entry, in order, with one query per `batch` files.

        A warm rescan asks about every file: one SELECT each costs more than the walk, so the
        batch's (path, size, mtime) go into a temporary table and one join answers them all.
        An unreadable cache answers "not cached", as `get` does.
        """
        chunk: list[FileEntry] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= batch:
                yield from self._lookup_batch(chunk)
                chunk = []
        if chunk:
            yield from self._lookup_batch(chunk)

    def _lookup_batch(self, chunk: list[FileEntry]) -> Iterator[tuple[FileEntry, Cached | None]]:
        found: dict[int, tuple[object, ...]] = {}
        try:
            if not self._wanted_ready:
                self._db.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS wanted (k INTEGER PRIMARY KEY, path BLOB,"
                    " size INTEGER, mtime_ns INTEGER)"
                )
                self._wanted_ready = True
            self._db.execute("DELETE FROM temp.wanted")
            self._db.executemany(
                "INSERT INTO temp.wanted VALUES (?,?,?,?)",
                [(k, os.fsencode(e.path), e.size, e.mtime_ns) for k, e in enumerate(chunk)],
            )
            rows = self._db.execute(
                f"SELECT w.k, {_COLUMNS_E} FROM temp.wanted AS w JOIN entries AS e"
                " ON e.namespace=? AND e.path=w.path AND e.size=w.size AND e.mtime_ns=w.mtime_ns",
                (self._namespace,),
            )
            for row in rows:
                found[row[0]] = row[3:]
            # Filling the temporary table opened a transaction: end it, so this connection
            # holds no read snapshot of the cache while other scans write to it.
            self._db.commit()
        except sqlite3.DatabaseError:
            found = {}
        for k, entry in enumerate(chunk):
            row = found.get(k)
            yield entry, None if row is None else self._cached(row)

    def _cached(self, row: tuple[Any, ...]) -> Cached | None:
        """A row's (kind, width, height, format, digest, taken_at, hash, variants, check,
        reason) as a Cached value; None when the stored hash does not fit the settings or the check
        signature is not of this dedupe's size."""
        kind = row[0]
        if kind != KIND_IMAGE:
            return Cached(kind, reason=row[9] or "")
        hash_bytes, variant_bytes = row[6], row[7]
        n = self._nbytes
        if len(hash_bytes) != n or len(variant_bytes) % n:
            return None
        if len(row[8]) != verify.SIGNATURE_BYTES:  # (not this dedupe's: hashed again)
            return None
        size = self._settings.hash_size
        fingerprint = Fingerprint(
            width=row[1],
            height=row[2],
            format=_FORMATS.get(row[3], row[3]),
            digest=row[4],
            hash=ImageHash(int.from_bytes(hash_bytes, "big"), size),
            variant_bits=variant_bytes,
            check=row[8],
            taken_at=row[5],
        )
        return Cached(KIND_IMAGE, fingerprint)

    def put(self, entry: FileEntry, result: Fingerprint | str | None) -> None:
        """Remember a fingerprint, a decode failure (its reason), or None for "not an image"."""
        key = (self._namespace, os.fsencode(entry.path), entry.size, entry.mtime_ns)
        if isinstance(result, Fingerprint):
            n = self._nbytes
            values: tuple[object, ...] = key + (
                KIND_IMAGE,
                result.width,
                result.height,
                result.format,
                result.digest,
                result.taken_at,
                result.hash.bits.to_bytes(n, "big"),
                result.variant_bits,
                result.check,
                None,
            )
        elif isinstance(result, str):
            values = key + (KIND_ERROR, None, None, None, None, None, None, None, None, result)
        else:
            values = key + (KIND_NOT_IMAGE,) + (None,) * 9
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", values
            )
        except sqlite3.DatabaseError as error:
            self.warning = f"could not write to the hash cache: {error}"
            return
        self._pending += 1
        if self._pending >= 500:
            self.commit()

    def put_many(self, items: Iterable[tuple[FileEntry, Fingerprint | str | None]]) -> None:
        for entry, result in items:
            self.put(entry, result)

    # What metadata.py read of a file (an image's capture metadata, a companion's digest): a
    # table of its own, keyed like the fingerprints by (path, size, mtime_ns) but independent of
    # the hash settings; the value is metadata.py's JSON, which carries its own version.

    def get_facts(self, entries: Iterable[FileEntry]) -> dict[str, str]:
        """path -> the stored value, for each of `entries` whose size and mtime are unchanged."""
        found: dict[str, str] = {}
        chunk: list[FileEntry] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= LOOKUP_BATCH:
                found.update(self._facts_batch(chunk))
                chunk = []
        if chunk:
            found.update(self._facts_batch(chunk))
        return found

    def _facts_batch(self, chunk: list[FileEntry]) -> dict[str, str]:
        try:
            self._db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS wanted_facts (k INTEGER PRIMARY KEY, path BLOB,"
                " size INTEGER, mtime_ns INTEGER)"
            )
            self._db.execute("DELETE FROM temp.wanted_facts")
            self._db.executemany(
                "INSERT INTO temp.wanted_facts VALUES (?,?,?,?)",
                [(k, os.fsencode(e.path), e.size, e.mtime_ns) for k, e in enumerate(chunk)],
            )
            rows = self._db.execute(
                "SELECT w.k, f.value FROM temp.wanted_facts AS w JOIN facts AS f"
                " ON f.path=w.path AND f.size=w.size AND f.mtime_ns=w.mtime_ns"
            ).fetchall()
            self._db.commit()
        except sqlite3.DatabaseError:
            return {}
        return {chunk[k].path: str(value) for k, value in rows}

    def put_facts(self, items: Iterable[tuple[FileEntry, str]]) -> None:
        """Remember what was read of each file (replacing what an older version stored)."""
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO facts VALUES (?,?,?,?)",
                [(os.fsencode(e.path), e.size, e.mtime_ns, value) for e, value in items],
            )
            self._db.commit()
        except sqlite3.DatabaseError as error:
            self.warning = f"could not write to the hash cache: {error}"

    # What the geometric and content checks found of a pair of pictures (looks.py: its key is
    # a digest of both files' SHA-256, the orientation and the checks' versions; its value the
    # check's JSON), so that a scan whose memo no longer serves (a file added, a setting
    # changed) does not decode and check again the pairs an earlier scan checked.

    def get_looks(self, keys: Sequence[bytes]) -> dict[bytes, str]:
        """key -> the stored value, for each of `keys` stored (nothing on a read error)."""
        found: dict[bytes, str] = {}
        try:
            for lo in range(0, len(keys), LOOKS_BATCH):
                chunk = keys[lo : lo + LOOKS_BATCH]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM looks WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update((bytes(key), str(value)) for key, value in rows)
        except sqlite3.DatabaseError as error:
            self.warning = f"could not read the hash cache: {error}"
            return {}
        return found

    def put_looks(self, items: Iterable[tuple[bytes, str]]) -> None:
        """Remember what the checks found (replacing a value stored under the same key)."""
        try:
            self._db.executemany("INSERT OR REPLACE INTO looks VALUES (?,?)", list(items))
            self._db.commit()
        except sqlite3.DatabaseError as error:
            self.warning = f"could not write to the hash cache: {error}"

    def get_memo(self, key: str) -> str | None:
        """A result stored under `key` by put_memo (a digest of everything it depends on)."""
        try:
            row = self._db.execute("SELECT value FROM memo WHERE key=?", (key,)).fetchone()
            if row is not None:
                self._db.execute("UPDATE memo SET used=? WHERE key=?", (time.time(), key))
                self._db.commit()
        except sqlite3.DatabaseError as error:
            self.warning = f"could not read the hash cache: {error}"
            return None
        return None if row is None else str(row[0])

    def put_memo(self, key: str, value: str) -> None:
        """Store `value` under `key`, keeping the MEMO_KEEP most recently used results."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO memo VALUES (?,?,?)", (key, value, time.time())
            )
            self._db.execute(
                "DELETE FROM memo WHERE key NOT IN"
                " (SELECT key FROM memo ORDER BY used DESC LIMIT ?)",
                (MEMO_KEEP,),
            )
            self._db.commit()
        except sqlite3.DatabaseError as error:
            self.warning = f"could not write to the hash cache: {error}"

    def commit(self) -> None:
        try:
            self._db.commit()
        except sqlite3.DatabaseError as error:
            self.warning = f"could not write to the hash cache: {error}"
        self._pending = 0

    def close(self) -> None:
        self.commit()
        self._db.close()
