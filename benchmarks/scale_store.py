"""Prototypes of where a small report's regrouping data could live (issue 20), measured.

    python benchmarks/scale_store.py --report REPORT.json --cache CACHE.sqlite

Not dedupe code: a measurement for the design in benchmarks/README.md ("The small report").
Takes the images of a report `dedupe scan` wrote (their fingerprints read from the hash cache
the scan used, their checked pairs from the report) and writes them in each candidate form:

- sqlite-rows: a SQLite file beside the report, one row per image (the hash cache's layout);
- sqlite-columns: a SQLite file holding each column as blobs of 65,536 rows (a columnar file
  with SQLite's atomic writes, page checksums-free but transactional, one file);
- npz: numpy's uncompressed .npz (a zip of .npy arrays);
- arrow: an Arrow IPC (Feather v2) file, uncompressed and lz4 (only when pyarrow is
  installed; it is not a dedupe dependency);

and times, in this process, writing it, reading what `review --threshold` needs (hashes,
orientation hashes, check signatures, checked pairs) into numpy arrays, reading everything
(with the paths as Python strings), and fetching 1,000 images by number (the members of new
groups). Also: the JSON a person or a script reads with groups alone (today's group entries,
no `images`, no `checked_pairs`), its size and `json.load` time, and the same with each image
not in a group as a short `[path, size, mtime_ns]` row; and SHA-256 over the regrouping
columns (the cost of checking the sidecar's content against the report).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

import common
from common import Row

if str(common.ROOT) not in sys.path:
    sys.path.insert(1, str(common.ROOT))

CHUNK = 65_536
FORMATS = {"JPEG": 1, "PNG": 2, "GIF": 3, "BMP": 4, "TIFF": 5, "WEBP": 6, "HEIF": 7, "AVIF": 8}


def load_columns(report: Path, cache: Path) -> dict[str, Any]:
    """The report's images as columns (numpy arrays, and a list of paths), and its checked
    pairs, from the hash cache the scan filled and the report's own lines."""
    from dedupe import cache as cache_mod
    from dedupe.models import Settings

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import scale

    checked: dict[str, Any] = {}
    groups_lines: list[bytes] = []
    header: list[bytes] = []
    for section, raw in scale._sections(report):
        if section == "checked_pairs":
            checked = json.loads(raw.split(b":", 1)[1].rstrip(b",\n"))
        elif section == "groups" and raw.startswith(b"{"):
            groups_lines.append(raw.rstrip(b",\n"))
        elif section not in ("images", "groups", "errors", "skipped", "not_duplicates"):
            header.append(raw)
    settings = Settings(threshold=0.1)
    with contextlib.closing(sqlite3.connect(cache)) as db:
        rows = db.execute(
            "SELECT path, size, mtime_ns, width, height, format, digest, taken_at, hash, "
            'variants, "check" FROM entries WHERE namespace=? AND kind=1 ORDER BY path',
            (cache_mod.namespace(settings),),
        ).fetchall()
    n = len(rows)
    paths = [os.fsdecode(r[0]) for r in rows]
    taken = np.array(
        [
            -1 if r[7] is None else int(time.mktime(time.strptime(r[7], "%Y-%m-%dT%H:%M:%S")))
            for r in rows
        ],
        dtype=np.int64,
    )
    columns = {
        "paths": paths,
        "size": np.array([r[1] for r in rows], dtype=np.int64),
        "mtime_ns": np.array([r[2] for r in rows], dtype=np.int64),
        "device": np.full(n, 2049, dtype=np.uint64),
        "inode": np.arange(1_000_000, 1_000_000 + n, dtype=np.uint64),
        "width": np.array([r[3] for r in rows], dtype=np.uint32),
        "height": np.array([r[4] for r in rows], dtype=np.uint32),
        "format": np.array([FORMATS.get(r[5], 0) for r in rows], dtype=np.uint8),
        "digest": np.frombuffer(b"".join(bytes.fromhex(r[6]) for r in rows), np.uint8).reshape(
            n, 32
        ),
        "taken_at": taken,
        "hash": np.frombuffer(b"".join(r[8] for r in rows), dtype=">u8").astype(np.uint64),
        "variants": np.frombuffer(b"".join(r[9] for r in rows), dtype=">u8")
        .astype(np.uint64)
        .reshape(n, 7),
        "check": np.frombuffer(b"".join(r[10] for r in rows), dtype=np.uint8).reshape(n, -1),
        "checked_low": np.array(checked.get("low", []), dtype=np.int64),
        "checked_high": np.array(checked.get("high", []), dtype=np.int64),
        "checked_distance": np.array(checked.get("distance", []), dtype=np.uint8),
        "checked_score": np.array(checked.get("score", []), dtype=np.float32),
    }
    return {"columns": columns, "groups": groups_lines, "header": header}


REGROUP = ("hash", "variants", "check", "checked_low", "checked_high", "checked_distance",
           "checked_score")  # fmt: skip
ARRAYS = (
    "size", "mtime_ns", "device", "inode", "width", "height", "format", "digest", "taken_at",
    *REGROUP,
)  # fmt: skip


def _paths_blob(paths: list[str]) -> tuple[bytes, Any]:
    encoded = [os.fsencode(p) for p in paths]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return b"".join(encoded), offsets


def _paths_from(blob: bytes, offsets: Any) -> list[str]:
    text = blob.decode("utf-8", "surrogateescape")
    if len(text) == len(blob):  # all ASCII: characters are bytes
        bounds = offsets.tolist()
        return [text[a:b] for a, b in itertools.pairwise(bounds)]
    bounds = offsets.tolist()
    return [os.fsdecode(blob[a:b]) for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------- the candidates


class SqliteRows:
    name = "sqlite-rows"

    def write(self, cols: dict[str, Any], path: Path) -> None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(
                "CREATE TABLE images (id INTEGER PRIMARY KEY, path BLOB, size INTEGER, "
                "mtime_ns INTEGER, device INTEGER, inode INTEGER, width INTEGER, "
                "height INTEGER, format INTEGER, digest BLOB, taken_at INTEGER, hash INTEGER, "
                'variants BLOB, "check" BLOB)'
            )
            db.execute(
                "CREATE TABLE checked (low INTEGER, high INTEGER, distance INTEGER, score REAL)"
            )
            n = len(cols["paths"])
            hashes = cols["hash"].view(np.int64).tolist()
            variants = cols["variants"]
            rows = (
                (
                    k, os.fsencode(cols["paths"][k]), int(cols["size"][k]),
                    int(cols["mtime_ns"][k]), int(cols["device"][k]), int(cols["inode"][k]),
                    int(cols["width"][k]), int(cols["height"][k]), int(cols["format"][k]),
                    cols["digest"][k].tobytes(), int(cols["taken_at"][k]), hashes[k],
                    variants[k].tobytes(), cols["check"][k].tobytes(),
                )
                for k in range(n)
            )  # fmt: skip
            db.executemany("INSERT INTO images VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            db.executemany(
                "INSERT INTO checked VALUES (?,?,?,?)",
                zip(
                    cols["checked_low"].tolist(),
                    cols["checked_high"].tolist(),
                    cols["checked_distance"].tolist(),
                    cols["checked_score"].tolist(),
                    strict=True,
                ),
            )
            db.commit()

    def read_regroup(self, path: Path) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute('SELECT hash, variants, "check" FROM images ORDER BY id').fetchall()
            pairs = db.execute("SELECT low, high, distance, score FROM checked").fetchall()
        n = len(rows)
        return {
            "hash": np.array([r[0] for r in rows], dtype=np.int64).view(np.uint64),
            "variants": np.frombuffer(b"".join(r[1] for r in rows), np.uint64).reshape(n, 7),
            "check": np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape(n, -1),
            "checked": np.array(pairs, dtype=np.float64).reshape(-1, 4),
        }

    def read_all(self, path: Path) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute("SELECT * FROM images ORDER BY id").fetchall()
        out = self.read_regroup(path)
        out["paths"] = [os.fsdecode(r[1]) for r in rows]
        out["size"] = np.array([r[2] for r in rows], dtype=np.int64)
        return out

    def fetch(self, path: Path, ids: list[int]) -> list[Any]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return [
                db.execute(
                    "SELECT path, size, mtime_ns, digest FROM images WHERE id=?", (k,)
                ).fetchone()
                for k in ids
            ]


class SqliteColumns:
    name = "sqlite-columns"

    def write(self, cols: dict[str, Any], path: Path) -> None:
        blob, offsets = _paths_blob(cols["paths"])
        arrays = {name: np.ascontiguousarray(cols[name]) for name in ARRAYS}
        arrays["path_offsets"] = offsets
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE columns (name TEXT, chunk INTEGER, dtype TEXT, shape TEXT, "
                "data BLOB, PRIMARY KEY (name, chunk)) WITHOUT ROWID"
            )
            for name, array in arrays.items():
                for k, start in enumerate(range(0, max(1, len(array)), CHUNK)):
                    part = array[start : start + CHUNK]
                    db.execute(
                        "INSERT INTO columns VALUES (?,?,?,?,?)",
                        (name, k, part.dtype.str, json.dumps(part.shape[1:]), part.tobytes()),
                    )
            step = 16 * 1024 * 1024  # the paths' text in 16 MB blobs
            for k, start in enumerate(range(0, max(1, len(blob)), step)):
                db.execute(
                    "INSERT INTO columns VALUES (?,?,?,?,?)",
                    ("paths", k, "|u1", "[]", blob[start : start + step]),
                )
            db.commit()

    @staticmethod
    def _column(db: sqlite3.Connection, name: str) -> Any:
        rows = db.execute(
            "SELECT dtype, shape, data FROM columns WHERE name=? ORDER BY chunk", (name,)
        ).fetchall()
        shape = tuple(json.loads(rows[0][1]))
        data = b"".join(r[2] for r in rows)
        return np.frombuffer(data, dtype=np.dtype(rows[0][0])).reshape(-1, *shape)

    def read_regroup(self, path: Path) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return {name: self._column(db, name) for name in REGROUP}

    def read_all(self, path: Path) -> dict[str, Any]:
        with contextlib.closing(sqlite3.connect(path)) as db:
            out = {name: self._column(db, name) for name in ARRAYS}
            blob = b"".join(
                r[0]
                for r in db.execute(
                    "SELECT data FROM columns WHERE name='paths' ORDER BY chunk"
                ).fetchall()
            )
            out["paths"] = _paths_from(blob, self._column(db, "path_offsets"))
        return out

    def fetch(self, path: Path, ids: list[int]) -> list[Any]:
        # by number: the chunks holding them (a real index would keep the offsets column)
        with contextlib.closing(sqlite3.connect(path)) as db:
            offsets = self._column(db, "path_offsets")
            sizes = self._column(db, "size")
            return [(int(offsets[k]), int(sizes[k])) for k in ids]


class Npz:
    name = "npz"

    def write(self, cols: dict[str, Any], path: Path) -> None:
        blob, offsets = _paths_blob(cols["paths"])
        arrays = {name: cols[name] for name in ARRAYS}
        with open(path, "wb") as handle:
            np.savez(
                handle,
                paths=np.frombuffer(blob, dtype=np.uint8),
                path_offsets=offsets,
                **arrays,
            )

    def read_regroup(self, path: Path) -> dict[str, Any]:
        with np.load(path) as data:
            return {name: data[name] for name in REGROUP}

    def read_all(self, path: Path) -> dict[str, Any]:
        with np.load(path) as data:
            out = {name: data[name] for name in ARRAYS}
            out["paths"] = _paths_from(data["paths"].tobytes(), data["path_offsets"])
        return out

    def fetch(self, path: Path, ids: list[int]) -> list[Any]:
        with np.load(path) as data:
            offsets = data["path_offsets"]
            return [int(offsets[k]) for k in ids]


class Arrow:
    def __init__(self, compression: str | None) -> None:
        self.compression = compression
        self.name = f"arrow ({compression or 'uncompressed'})"

    def write(self, cols: dict[str, Any], path: Path) -> None:
        import pyarrow as pa
        import pyarrow.feather as feather

        n = len(cols["paths"])
        table = pa.table(
            {
                "path": pa.array(cols["paths"], type=pa.large_string()),
                **{name: cols[name] for name in ("size", "mtime_ns", "device", "inode", "width",
                                                  "height", "format", "taken_at", "hash")},
                "digest": pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(32), n, [None, pa.py_buffer(cols["digest"].tobytes())]
                ),
                "variants": pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(56), n, [None, pa.py_buffer(cols["variants"].tobytes())]
                ),
                "check": pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(cols["check"].shape[1]), n,
                    [None, pa.py_buffer(cols["check"].tobytes())],
                ),
            }
        )  # fmt: skip
        feather.write_feather(table, path, compression=self.compression or "uncompressed")
        pairs = pa.table({k: cols[k] for k in REGROUP[3:]})
        feather.write_feather(
            pairs, path.with_suffix(".pairs"), compression=self.compression or "uncompressed"
        )

    @staticmethod
    def _fixed(column: Any, width: int) -> Any:
        chunk = column.combine_chunks()
        return np.frombuffer(chunk.buffers()[1], np.uint8)[: len(chunk) * width].reshape(
            len(chunk), width
        )

    def read_regroup(self, path: Path) -> dict[str, Any]:
        import pyarrow.feather as feather

        table = feather.read_table(path, columns=["hash", "variants", "check"], memory_map=True)
        pairs = feather.read_table(path.with_suffix(".pairs"))
        check_width = table.schema.field("check").type.byte_width
        return {
            "hash": table.column("hash").to_numpy(),
            "variants": self._fixed(table.column("variants"), 56).view(np.uint64),
            "check": self._fixed(table.column("check"), check_width),
            **{k: pairs.column(k).to_numpy() for k in REGROUP[3:]},
        }

    def read_all(self, path: Path) -> dict[str, Any]:
        import pyarrow.feather as feather

        table = feather.read_table(path, memory_map=True)
        out = self.read_regroup(path)
        out["paths"] = table.column("path").to_pylist()
        return out

    def fetch(self, path: Path, ids: list[int]) -> list[Any]:
        import pyarrow.feather as feather

        table = feather.read_table(path, columns=["path", "size"], memory_map=True)
        return table.take(ids).to_pylist()


def candidates() -> list[Any]:
    found: list[Any] = [SqliteRows(), SqliteColumns(), Npz()]
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print("  (pyarrow not installed: the Arrow rows are left out)")
    else:
        found += [Arrow(None), Arrow("lz4")]
    return found


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _drop_page_cache(path: Path) -> None:
    """Make the next read come from disk where the system lets us (needs root; else the
    reads are from the page cache, which is what a second review sees anyway)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def small_json(data: dict[str, Any], folder: Path, n: int) -> list[Row]:
    """The report a person reads: header and groups only; and with the images not in a group
    as short rows."""
    rows = []
    grouped: set[str] = set()
    for line in data["groups"]:
        for item in json.loads(line)["files"]:
            grouped.add(item["path"])
    head = b"".join(data["header"]).rstrip(b",\n") + b",\n"
    body = b'"groups": [\n' + b",\n".join(data["groups"]) + b"\n]}\n"
    groups_only = folder / "groups-only.json"
    groups_only.write_bytes(head + body)
    seconds, _ = _timed(lambda: json.loads(groups_only.read_bytes()))
    alone = len(data["columns"]["paths"]) - len(grouped)
    rows.append(
        Row(
            "[store] report JSON with groups alone (today's group entries; no images, no "
            "checked pairs): size, json.load",
            str(n),
            seconds,
            f"{groups_only.stat().st_size / common.MB:.0f} MB; "
            f"{groups_only.stat().st_size / max(1, len(grouped)):.0f} B per grouped file; "
            "0 B per image not in a group",
            None,
            "<= 150 B per ungrouped image",
            "yes",
        )
    )
    cols = data["columns"]
    root = os.path.commonpath(cols["paths"][:1000]) if cols["paths"] else ""
    lines = [
        json.dumps([os.path.relpath(p, root), int(s), int(m)], ensure_ascii=False)
        for p, s, m in zip(cols["paths"], cols["size"], cols["mtime_ns"], strict=True)
        if p not in grouped
    ]
    listed = folder / "groups-and-rows.json"
    extra = b',\n"root": ' + json.dumps(root).encode() + b',\n"ungrouped": [\n'
    listed.write_bytes(head + body[:-2] + extra + ",\n".join(lines).encode() + b"\n]}\n")
    seconds, _ = _timed(lambda: json.loads(listed.read_bytes()))
    per = (listed.stat().st_size - groups_only.stat().st_size) / max(1, alone)
    rows.append(
        Row(
            "[store] the same plus each image not in a group as [relative path, size, "
            "mtime_ns]: size, json.load",
            str(n),
            seconds,
            f"{listed.stat().st_size / common.MB:.0f} MB; {per:.0f} B per image not in a group",
            None,
            "<= 150 B per ungrouped image",
            common.verdict(per <= 150),
        )
    )
    return rows


def measure(report: Path, cache: Path, keep: Path | None = None) -> list[Row]:
    started = time.perf_counter()
    data = load_columns(report, cache)
    cols = data["columns"]
    n = len(cols["paths"])
    print(f"  [store] {n:,} images loaded in {time.perf_counter() - started:.1f} s", flush=True)
    rows: list[Row] = []
    rng = np.random.default_rng(5)
    ids = sorted(rng.choice(n, size=min(1000, n), replace=False).tolist())
    with tempfile.TemporaryDirectory(prefix="dedupe-store-", dir=keep) as tmp_text:
        tmp = Path(tmp_text)
        rows += small_json(data, tmp, n)
        for form in candidates():
            path = tmp / f"index-{form.name.split()[0]}"
            write_s, _ = _timed(lambda form=form, path=path: form.write(cols, path))
            size = sum(p.stat().st_size for p in tmp.glob(path.name + "*"))
            _drop_page_cache(path)
            regroup_s, got = _timed(lambda form=form, path=path: form.read_regroup(path))
            if not np.array_equal(np.asarray(got["hash"]).view(np.uint64), cols["hash"]):
                raise SystemExit(f"{form.name}: the hashes read back differ")
            del got
            all_s, got = _timed(lambda form=form, path=path: form.read_all(path))
            if got["paths"][:5] != cols["paths"][:5] or len(got["paths"]) != n:
                raise SystemExit(f"{form.name}: the paths read back differ")
            del got
            fetch_s, _ = _timed(lambda form=form, path=path: form.fetch(path, ids))
            rows.append(
                Row(
                    f"[store] {form.name}: write / read what regrouping needs (hashes, "
                    "variants, checks, checked pairs) / read all (+ paths as str) / 1,000 by "
                    "number",
                    str(n),
                    write_s,
                    f"{size / common.MB:.0f} MB; regroup columns {regroup_s:.2f} s, all "
                    f"{all_s:.2f} s, 1,000 rows {fetch_s * 1000:.0f} ms",
                    None,
                    "-",
                    "-",
                )
            )
            print(f"  {rows[-1].what.split(':')[0]}: {rows[-1].ratio} (write {write_s:.1f} s)",
                  flush=True)  # fmt: skip
            path.unlink()
            for extra in tmp.glob(path.name + "*"):
                extra.unlink()
        blob = b"".join(np.ascontiguousarray(cols[k]).tobytes() for k in REGROUP)
        digest_s, _ = _timed(lambda: hashlib.sha256(blob).hexdigest())
        rows.append(
            Row(
                "[store] SHA-256 over the regrouping columns (checking a sidecar's content "
                "against the digest the report holds)",
                str(n),
                digest_s,
                f"{len(blob) / common.MB:.0f} MB hashed",
                None,
                "-",
                "-",
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Storage prototypes for the small report.")
    parser.add_argument("--report", required=True, type=Path)
    parser.add_argument("--cache", required=True, type=Path)
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args(argv)
    rows = measure(args.report, args.cache)
    print(common.table(rows), flush=True)
    if args.json:  # for scale.py, which adds the rows to its own
        args.json.write_text(json.dumps([r.__dict__ for r in rows]))
    else:
        common.emit(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
