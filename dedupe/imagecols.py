"""Every image of a report as its index holds them, a column at a time: the arrays the
grouping reads, and an ImageRecord built only for a row that is asked for.

A million records take seconds to build and about 1.3 KB each; a regroup within the scan's
checked pairs reads the hashes, signatures, sizes and digests of every image as arrays
(cluster.py) and needs records only for the files of its groups. ImageColumns is a
Sequence[ImageRecord] all the same: `images[k]` is image k's record (built once, then the
same object), so code that reads records works on it unchanged, building what it reads.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from dedupe import verify
from dedupe.hashing import ImageHash
from dedupe.models import FileEntry, Fingerprint, ImageRecord, build_many

# Records built at a time when every one is asked for (iteration).
_BATCH = 65_536
# Check signatures gathered per block (Gathering): 11 MB, the most held twice as they are
# put in order.
_BLOCK = 8192


@dataclass(frozen=True, slots=True)
class Varying:
    """A column of bytes of varying length, kept in the blobs it was read from (no copy):
    row k is blobs[part[k]][start[k]:stop[k]], the rows of each blob contiguous, in order."""

    blobs: tuple[bytes, ...]
    part: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    stop: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.part)

    def lengths(self) -> npt.NDArray[np.int64]:
        result: npt.NDArray[np.int64] = self.stop - self.start
        return result

    def item(self, k: int) -> bytes:
        return self.blobs[int(self.part[k])][int(self.start[k]) : int(self.stop[k])]

    def items(self, rows: Iterable[int]) -> list[bytes]:
        where = np.fromiter(rows, dtype=np.int64)
        blobs = self.blobs
        parts, starts, stops = (a[where].tolist() for a in (self.part, self.start, self.stop))
        return [blobs[p][a:b] for p, a, b in zip(parts, starts, stops, strict=True)]

    def fixed(self, width: int) -> npt.NDArray[np.uint8] | None:
        """The rows as an (n, width) array when every row has `width` bytes (a view of the
        blob when there is one), else None."""
        if not bool((self.lengths() == width).all()):
            return None
        pieces = []
        for p, blob in enumerate(self.blobs):
            rows = np.flatnonzero(self.part == p)
            if len(rows):
                first = int(self.start[rows[0]])
                data = np.frombuffer(blob, dtype=np.uint8, count=len(rows) * width, offset=first)
                pieces.append(data.reshape(len(rows), width))
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate(pieces) if pieces else np.zeros((0, width), dtype=np.uint8)


def _one_blob(items: Sequence[bytes]) -> Varying:
    """A Varying column of `items`, in order, in one blob: 8 bytes a row besides the bytes
    (the rows' offsets; their part is one zero seen n times, their starts and stops views of
    the offsets)."""
    n = len(items)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=n), out=offsets[1:])
    part = np.broadcast_to(np.zeros(1, dtype=np.int64), (n,))
    return Varying((b"".join(items),), part, offsets[:-1], offsets[1:])


class ImageColumns(Sequence[ImageRecord]):
    """The images of a report's index (see index.py for the columns), records on demand."""

    # the index's columns by name (index.py): of numbers, and of bytes of varying length
    NUMBERS = ("size", "mtime_ns", "device", "inode", "width", "height", "has_taken_at")
    VARYING = ("path", "format", "digest", "taken_at", "variants", "links")

    def __init__(
        self,
        hash_size: int,
        numbers: Mapping[str, npt.NDArray[Any]],
        varying: Mapping[str, Varying],
        hashes: npt.NDArray[np.uint8],
        signatures: npt.NDArray[np.uint8],
    ) -> None:
        """`hashes`: (n, bytes of a hash) big-endian; `signatures`: (n, SIGNATURE_BYTES)."""
        n = len(numbers["size"])
        if signatures.shape != (n, verify.SIGNATURE_BYTES):
            raise ValueError("a check signature of another size than this dedupe's")
        if hashes.shape != (n, hash_size * hash_size // 8):
            raise ValueError("a hash of another size than the report's")
        if any(len(numbers[k]) != n for k in self.NUMBERS) or any(
            len(varying[k]) != n for k in self.VARYING
        ):
            raise ValueError(f"a column does not hold {n} values")
        self.hash_size, self.hashes, self.signatures = hash_size, hashes, signatures
        self.sizes = numbers["size"].astype(np.int64)
        self.mtimes = numbers["mtime_ns"].astype(np.int64)
        self.devices = numbers["device"].astype(np.uint64)
        self.inodes = numbers["inode"].astype(np.uint64)
        self.widths = numbers["width"].astype(np.uint32)
        self.heights = numbers["height"].astype(np.uint32)
        self.has_taken_at = numbers["has_taken_at"].astype(np.uint8)
        self.paths, self.formats, self.digests = (varying[k] for k in self.VARYING[:3])
        self.taken_at, self.variants, self.links = (varying[k] for k in self.VARYING[3:])
        self._built: dict[int, ImageRecord] = {}
        self._all_paths: list[str] | None = None

    # ------------------------------------------------------------ the Sequence

    def __len__(self) -> int:
        return len(self.sizes)

    @overload
    def __getitem__(self, k: int) -> ImageRecord: ...

    @overload
    def __getitem__(self, k: slice) -> tuple[ImageRecord, ...]: ...

    def __getitem__(self, k: int | slice) -> ImageRecord | tuple[ImageRecord, ...]:
        try:  # (most reads are of records already built: a regroup reads each many times)
            return self._built[k]  # type: ignore[index]
        except (KeyError, TypeError):  # (TypeError: a slice)
            pass
        if isinstance(k, slice):
            return tuple(self.records(range(len(self))[k]))
        n = len(self)
        at = k + n if k < 0 else k
        if not 0 <= at < n:
            raise IndexError("image number out of range")
        found = self._built.get(at)
        return found if found is not None else self.records([at])[0]

    def __iter__(self) -> Iterator[ImageRecord]:
        for start in range(0, len(self), _BATCH):
            yield from self.records(range(start, min(start + _BATCH, len(self))))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ImageColumns({len(self)} images, {len(self._built)} records built)"

    # ------------------------------------------------------------ records

    def records(self, rows: Iterable[int]) -> list[ImageRecord]:
        """The records of `rows` (image numbers), each built once: the same object on every
        call (a group's member is found again by identity, see groups.build_groups)."""
        wanted = list(rows)
        built = self._built
        todo = sorted({k for k in wanted if k not in built})
        if todo:
            for k, record in zip(todo, self._build(todo), strict=True):
                built[k] = record
        return [built[k] for k in wanted]

    def _build(self, rows: list[int]) -> list[ImageRecord]:
        """As index.py built every record before: the same values, the same types."""
        n, where = len(rows), np.asarray(rows, dtype=np.int64)

        def text(column: Varying) -> list[str]:
            return [b.decode("utf-8", "surrogateescape") for b in column.items(rows)]

        taken = [
            t if has else None
            for t, has in zip(text(self.taken_at), self.has_taken_at[where].tolist(), strict=True)
        ]
        size = self.hash_size
        hashes = [ImageHash(int.from_bytes(h, "big"), size) for h in map(bytes, self.hashes[where])]
        checks = list(map(bytes, self.signatures[where]))
        fingerprints = build_many(
            Fingerprint,
            n,
            [
                self.widths[where].tolist(),
                self.heights[where].tolist(),
                text(self.formats),
                text(self.digests),
                hashes,
                self.variants.items(rows),
                checks,
                taken,
            ],
        )
        links = [
            tuple(map(os.fsdecode, b.split(b"\0"))) if b else () for b in self.links.items(rows)
        ]
        return build_many(
            ImageRecord,
            n,
            [
                list(map(os.fsdecode, self.paths.items(rows))),
                self.sizes[where].tolist(),
                self.mtimes[where].tolist(),
                self.devices[where].tolist(),
                self.inodes[where].tolist(),
                fingerprints,
                links,
            ],
        )

    def transient(self, k: int) -> ImageRecord:
        """Image k's record, for one use: the one built if there is one, else a new one that is
        not kept (the same values as self[k], another object; e.g. for reading its file)."""
        found = self._built.get(k)
        return found if found is not None else self._build([k])[0]

    def built(self) -> frozenset[int]:
        """The image numbers whose records have been built so far."""
        return frozenset(self._built)

    def path(self, k: int) -> str:
        """Image k's path, without building its record."""
        found = self._built.get(k)
        return found.path if found is not None else os.fsdecode(self.paths.item(k))

    def all_paths(self) -> Sequence[str]:
        """Every image's path, in order, without building records (decoded once: a regroup
        asks for them with each batch of new groups' files, see metadata.gather)."""
        if self._all_paths is None:
            self._all_paths = list(map(os.fsdecode, self.paths.items(range(len(self)))))
        return self._all_paths

    def numbers(self, paths: set[str]) -> dict[str, int]:
        """The image number of each of `paths` (each an image's path): from the records built
        when those are all of them (a report's grouped files), else from the path column."""
        found = {r.path: k for k, r in self._built.items() if r.path in paths}
        if len(found) < len(paths):
            found = {p: k for k, p in enumerate(self.all_paths()) if p in paths}
        return found

    # ------------------------------------------------------------ the grouping's columns

    def codes(self) -> npt.NDArray[np.uint64]:
        """The hashes as hashing.codes_array packs them: (n, words)."""
        words = self.hash_size * self.hash_size // 64
        big_endian = np.ascontiguousarray(self.hashes).view(">u8").reshape(len(self), words)
        result: npt.NDArray[np.uint64] = big_endian.astype(np.uint64)
        return result

    def variant_codes(self) -> npt.NDArray[np.uint64]:
        """The 7 orientation hashes of every image, (n, 7, words); ValueError when an image
        has none (a scan without --rotations)."""
        words = self.hash_size * self.hash_size // 64
        packed = self.variants.fixed(7 * words * 8)
        if packed is None:
            raise ValueError("--rotations needs the 7 orientation hashes of every image")
        result: npt.NDArray[np.uint64] = (
            np.ascontiguousarray(packed).view(">u8").reshape(len(self), 7, words).astype(np.uint64)
        )
        return result

    def pixels(self) -> npt.NDArray[np.int64]:
        result: npt.NDArray[np.int64] = self.widths.astype(np.int64) * self.heights.astype(np.int64)
        return result

    def first_copies(self) -> npt.NDArray[np.int64]:
        """Per image, the first image with the same content digest (itself if none)."""
        n = len(self)
        width = int(self.digests.lengths()[0]) if n else 0
        rows = self.digests.fixed(width) if width else None
        if rows is not None:  # (every digest of one length: SHA-256 in hex)
            keys = np.ascontiguousarray(rows).view(np.dtype((np.void, width))).reshape(n)
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            result: npt.NDArray[np.int64] = first[inverse.reshape(n)].astype(np.int64)
            return result
        by_digest: dict[bytes, int] = {}
        items = self.digests.items(range(n))
        return np.array([by_digest.setdefault(d, k) for k, d in enumerate(items)], dtype=np.int64)


def paths_of(records: Sequence[ImageRecord]) -> Sequence[str]:
    """Every record's path, in order (of an ImageColumns: without building its records)."""
    return records.all_paths() if isinstance(records, ImageColumns) else [r.path for r in records]


def one_by_one(records: Sequence[ImageRecord]) -> Iterator[ImageRecord]:
    """Every record, in order; of an ImageColumns, those not built yet are built a batch at a
    time and not kept (for a pass over every image, e.g. `dedupe similar`'s ranking)."""
    if not isinstance(records, ImageColumns):
        yield from records
        return
    built = records._built
    for start in range(0, len(records), _BATCH):
        rows = range(start, min(start + _BATCH, len(records)))
        fresh = iter(records._build([k for k in rows if k not in built]))
        for k in rows:
            found = built.get(k)
            yield found if found is not None else next(fresh)


class _Bytes:
    """A column of bytes of varying length as it is gathered: the rows' bytes one after
    another in one buffer, and where each row ends (no object per row: a million paths as
    bytes objects took 120 MB, and their memory stayed with the interpreter once freed)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("q")

    def append(self, value: bytes) -> None:
        self.data += value
        self.ends.append(len(self.data))

    def key(self, k: int) -> bytearray:
        """Row k's bytes (compared as bytes are)."""
        return self.data[self.ends[k - 1] if k else 0 : self.ends[k]]

    def ordered(self, order: npt.NDArray[np.int64]) -> Varying:
        """The rows in `order`, in one blob; the buffer is let go of."""
        n = len(order)
        ends = np.frombuffer(self.ends, dtype=np.int64) if n else np.zeros(0, np.int64)
        starts = np.concatenate([np.zeros(1, np.int64), ends[:-1]]) if n else ends
        lengths = (ends - starts)[order]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if bool((order == np.arange(n)).all()):
            blob = bytes(self.data)
        else:
            source = np.frombuffer(self.data, dtype=np.uint8)
            out = np.empty(int(offsets[-1]), dtype=np.uint8)
            shift = starts[order] - offsets[:-1]  # where each row's bytes move from
            for lo in range(0, n, _BLOCK):
                hi = min(lo + _BLOCK, n)
                a, b = int(offsets[lo]), int(offsets[hi])
                out[a:b] = source[np.arange(a, b) + np.repeat(shift[lo:hi], lengths[lo:hi])]
            del source
            blob = out.tobytes()
            del out
        del ends
        self.data, self.ends = bytearray(), array("q")
        part = np.broadcast_to(np.zeros(1, dtype=np.int64), (n,))
        return Varying((blob,), part, offsets[:-1], offsets[1:])


def _path_order(paths: _Bytes, n: int) -> npt.NDArray[np.int64]:
    """The rows in the order of their paths' bytes: as gathered when they are in it already
    (a scan served from the cache meets them about so), else sorted."""
    previous = bytearray()
    for k in range(n):
        current = paths.key(k)
        if current < previous:
            return np.array(sorted(range(n), key=paths.key), dtype=np.int64)
        previous = current
    return np.arange(n, dtype=np.int64)


class Gathering:
    """ImageColumns made image by image, as a scan finds them, without a record per image
    (about 2.3 KB each, with its check signature: 2.3 GB at a million images): the numbers
    in arrays, the check signatures in blocks of rows, the bytes of varying length in one
    buffer each, until `finish` puts the rows in the order of their paths."""

    def __init__(self, hash_size: int) -> None:
        self.hash_size = hash_size
        self._hash_bytes = hash_size * hash_size // 8
        self._numbers = {name: array("q") for name in ("size", "mtime_ns", "width", "height")}
        self._ids = {name: array("Q") for name in ("device", "inode")}
        self._has_taken_at = array("B")
        self._varying = {
            name: _Bytes() for name in ("path", "format", "digest", "taken_at", "variants")
        }
        self._hashes = bytearray()
        self._blocks: list[bytearray] = []  # check signatures, _BLOCK rows each
        self._shared: dict[str, bytes] = {}  # one bytes object per format name

    def __len__(self) -> int:
        return len(self._has_taken_at)

    def add(self, entry: FileEntry, fingerprint: Fingerprint) -> None:
        """One image: the file the walk found and its fingerprint (ValueError for a hash of
        another size, or a check signature of another size than this dedupe's)."""
        fp = fingerprint
        if fp.hash.nbits // 8 != self._hash_bytes or len(fp.check) != verify.SIGNATURE_BYTES:
            raise ValueError("a hash or check signature of another size than the scan's")
        numbers, ids, varying = self._numbers, self._ids, self._varying
        numbers["size"].append(entry.size)
        numbers["mtime_ns"].append(entry.mtime_ns)
        numbers["width"].append(fp.width)
        numbers["height"].append(fp.height)
        ids["device"].append(entry.dev)
        ids["inode"].append(entry.ino)
        self._has_taken_at.append(fp.taken_at is not None)
        fmt = self._shared.get(fp.format)
        if fmt is None:
            fmt = self._shared.setdefault(fp.format, fp.format.encode("utf-8", "surrogateescape"))
        varying["path"].append(os.fsencode(entry.path))
        varying["format"].append(fmt)
        varying["digest"].append(fp.digest.encode("utf-8", "surrogateescape"))
        taken = b"" if fp.taken_at is None else fp.taken_at.encode("utf-8", "surrogateescape")
        varying["taken_at"].append(taken)
        varying["variants"].append(fp.variant_bits)
        self._hashes += fp.hash.bits.to_bytes(self._hash_bytes, "big")
        if not self._blocks or len(self._blocks[-1]) >= _BLOCK * verify.SIGNATURE_BYTES:
            self._blocks.append(bytearray())
        self._blocks[-1] += fp.check

    def finish(self, links: Mapping[str, tuple[str, ...]]) -> ImageColumns:
        """The images in the order of their paths' bytes (as a scan returns its records), with
        the other names of the files that have hard links (`links`, by path); the gathered
        values are let go of as the columns are made."""
        n = len(self)
        order = _path_order(self._varying["path"], n)
        signatures = np.empty((n, verify.SIGNATURE_BYTES), dtype=np.uint8)
        at = 0
        where = np.empty(n, dtype=np.int64)  # each gathered row's place once sorted
        where[order] = np.arange(n, dtype=np.int64)
        while self._blocks:  # a block at a time: the signatures are never held twice
            block = np.frombuffer(self._blocks.pop(0), dtype=np.uint8)
            rows = block.reshape(-1, verify.SIGNATURE_BYTES)
            signatures[where[at : at + len(rows)]] = rows
            at += len(rows)
            del block, rows
        hashes = np.frombuffer(bytes(self._hashes), dtype=np.uint8).reshape(n, self._hash_bytes)
        self._hashes = bytearray()
        numbers: dict[str, npt.NDArray[Any]] = {}
        for name, values in (*self._numbers.items(), *self._ids.items()):
            numbers[name] = np.frombuffer(values, dtype=np.dtype(values.typecode))[order].copy()
        numbers["has_taken_at"] = np.frombuffer(self._has_taken_at, dtype=np.uint8)[order]
        varying = {name: column.ordered(order) for name, column in self._varying.items()}
        self._varying.clear()
        linked = {os.fsencode(p): b"\0".join(map(os.fsencode, o)) for p, o in links.items()}
        if linked:
            joined = [linked.get(p, b"") for p in varying["path"].items(range(n))]
        else:
            joined = [b""] * n
        varying["links"] = _one_blob(joined)
        return ImageColumns(self.hash_size, numbers, varying, hashes[order], signatures)
