"""Looking at pictures again: the keypoints of the images whose candidate pairs need the
geometric check (dedupe/geometry.py), read and decoded once more during a run, at the
check's working size.

A file is looked at only while it is still the file that was fingerprinted: the same size and
modification time, and the bytes read have its SHA-256. A file that changed, vanished or cannot
be read gives nothing, and the pairs that needed it are decided without the geometric check
(see cluster.py: never a copy on the thumbnails' word alone when they could not settle it).
The keypoints are kept for the run (the most recently used LOOKS_KEPT images), and the
decoded pictures of the most recent PICTURES_KEPT (with --rotations a picture is looked at
under several orientations: it is read and decoded once for all of them).

Where the pixels come from: a picture is decoded at reduced size, to about the check's working
size (look_side: JPEG DCT scaling may stop up to 5% short of it, which a 12 MP photo's 1/8
scale does). That is often exactly the decode the scan made to fingerprint the file (same
bytes, same call, same pixels: first_decode_serves), so a scan keeps those pictures for the
images whose decoding was reduced (Pictures, within KEPT_BYTES; the first kept is the first
dropped) and the check uses them instead of decoding again, once the file has been read and
found to have the same size, modification time and SHA-256 as when it was fingerprinted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image

from dedupe import content, decode, geometry, verify
from dedupe.imagecols import ImageColumns
from dedupe.models import ImageRecord
from dedupe.parallel import thread_map, usable_cores


class Look(Protocol):
    """What the geometric and content checks ask for: the keypoints of record `index` seen
    under an EXIF orientation (calling it), its gray picture so seen (gray), or None when its
    picture cannot be looked at again."""

    def __call__(self, index: int, orientation: int = 1, /) -> geometry.Features | None: ...

    def gray(self, index: int, orientation: int = 1, /) -> npt.NDArray[np.uint8] | None: ...


class Remembered(Protocol):
    """Where what the checks found of pairs is kept between runs (cache.HashCache)."""

    def get_looks(self, keys: Sequence[bytes], /) -> dict[bytes, str]: ...

    def put_looks(self, items: Sequence[tuple[bytes, str]], /) -> None: ...


# What a remembered check depends on besides the two files' bytes: the checks' versions and
# the decode they look at (the key of a pair is a digest of these, both files' SHA-256 and
# format, and the orientation the second is seen under).
GEOMETRY_KEY = f"geometry-{geometry.VERSION}-d{decode.DECODER_VERSION}"
CONTENT_KEY = f"content-{content.VERSION}-d{decode.DECODER_VERSION}"

_Check = TypeVar("_Check", geometry.Geometry, content.Content)


def frozen(check: geometry.Geometry | content.Content) -> str:
    """A check as remembered: its fields, in order, as JSON."""
    return json.dumps(dataclasses.astuple(check), separators=(",", ":"))


def thawed(kind: type[_Check], text: str) -> _Check | None:
    """The check `frozen` made of `text`; None for anything else (a damaged or hand-edited
    cache is asked again, not believed): each field of its type, the verdict one of the
    checks' verdicts."""
    try:
        values = json.loads(text)
    except ValueError:
        return None
    likes = _FIELD_EXAMPLES[kind]
    if not isinstance(values, list) or len(values) != len(likes):
        return None
    taken: list[Any] = []  # (each value checked against its field below)
    for like, value in zip(likes, values, strict=True):
        if isinstance(like, tuple):
            if not isinstance(value, list) or len(value) != len(like):
                return None
            if not all(_number(v) for v in value):
                return None
            taken.append(tuple(float(v) for v in value))
        elif isinstance(like, bool):
            if not isinstance(value, bool):
                return None
            taken.append(value)
        elif isinstance(like, float):
            if not _number(value):
                return None
            taken.append(float(value))
        else:
            if not isinstance(value, int) or isinstance(value, bool):
                return None
            taken.append(value)
    verdicts = (geometry.UNKNOWN, geometry.SAME, geometry.DIFFERENT, geometry.SHIFTED)
    if taken[0] not in verdicts:
        return None
    return kind(*taken)


# Each field's value in a check of each kind with its defaults, in order: what thawed checks
# each value's type against (worked out once, not per value read).
_FIELD_EXAMPLES: dict[type, tuple[object, ...]] = {
    kind: tuple(getattr(kind(geometry.UNKNOWN), f.name) for f in dataclasses.fields(kind))
    for kind in (geometry.Geometry, content.Content)
}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# Images whose keypoints are kept at a time (about 20 KB each).
LOOKS_KEPT = 2048
# Decoded pictures kept at a time (about 200 KB each, at the check's working size).
PICTURES_KEPT = 64
# Pictures kept at a time for the content check, reduced to its size (at most 64 KB each:
# 256 x 192, 48 KB, for a 4:3 photo), so that a file is not read again for each of its pairs.
GRAYS_KEPT = 512
# A picture is decoded to at least this share of the check's working size on its short side
# (features() resizes it to the working size): a 4000 x 3000 JPEG at 1/8 scale (500 x 375, the
# scan's own decode) instead of 1/4 (1000 x 750), whose progressive form costs 5 times more.
LOOK_SLACK = 0.95
# Bytes of the scan's first decodes kept for the geometric check (Pictures): about 350
# pictures of 12 MP photos (500 x 375, 188 KB each).
KEPT_BYTES = 64 * 1024**2


def look_side(width: int, height: int) -> int:
    """The short side a width x height picture (oriented) is decoded to at least for the
    geometric check (decode.decode's min_side)."""
    return max(8, math.ceil(LOOK_SLACK * min(geometry.working_size(width, height))))


def first_decode_serves(decoded: tuple[int, int], full: tuple[int, int]) -> bool:
    """Whether the scan's decode of a picture (decode.decode at its default min_side, giving
    `decoded` pixels of a `full`-size oriented picture) is the one the geometric check would
    make (at look_side), and is worth keeping: it was reduced (decoding again would read far
    more than it keeps) and no further than look_side. The same reduction is then chosen at
    either min_side: JPEG's DCT scaling and the integer shrink both take the largest
    reduction that keeps the short side at or above min_side, and this one keeps it at or
    above both."""
    side = look_side(*full)
    return side >= decode.MIN_SIDE and decoded != full and min(decoded) >= side


@dataclass(frozen=True, slots=True, eq=False)
class Kept:
    """A picture of the scan's first decode of a file (gray, the size it was decoded at), for
    the geometric check; `digest`: the SHA-256 of the bytes it was decoded from."""

    digest: str
    pixels: npt.NDArray[np.uint8]


class Pictures:
    """The scan's first decodes that the geometric check may use (Kept), by path, within
    `budget` bytes of pixels: beyond it the first kept are dropped (a picture not here is
    decoded again). Kept for as long as the caller keeps this (a scan: until its groups are
    made). Safe to use from several threads."""

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self._budget = budget
        self._bytes = 0
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped = 0  # pictures dropped for the budget

    def put(self, path: str, kept: Kept) -> None:
        with self._lock:
            old = self._kept.pop(path, None)
            if old is not None:
                self._bytes -= old.pixels.nbytes
            self._kept[path] = kept
            self._bytes += kept.pixels.nbytes
            while self._bytes > self._budget and self._kept:
                _, first = self._kept.popitem(last=False)
                self._bytes -= first.pixels.nbytes
                self.dropped += 1

    def get(self, path: str) -> Kept | None:
        """The picture kept for `path` (None if there is none)."""
        with self._lock:
            return self._kept.get(path)

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def nbytes(self) -> int:
        return self._bytes


class Looks:
    """The keypoints of records by index (and EXIF orientation seen under), read on demand;
    None for a file that cannot be looked at again. `pictures`: the scan's first decodes, used
    instead of decoding again (once the file is found unchanged). Safe to call from several
    threads."""

    def __init__(self, records: Sequence[ImageRecord], pictures: Pictures | None = None) -> None:
        self._records = records
        self._first = pictures
        self._kept: OrderedDict[tuple[int, int], geometry.Features | None] = OrderedDict()
        self._pictures: OrderedDict[int, Image.Image | None] = OrderedDict()
        self._grays: OrderedDict[int, npt.NDArray[np.uint8] | None] = OrderedDict()
        self._lock = threading.Lock()
        self.read = 0  # files read again and found unchanged
        self.reused = 0  # of which the scan's first decode was used (not decoded again)
        self.missed = 0  # files that could not be looked at (changed, gone, unreadable)
        self.pairs = 0  # pairs given to the geometric check
        self.seconds = 0.0  # time spent on them (reading, decoding, keypoints, fits)
        self.content_pairs = 0  # pairs given to the content check
        self.content_seconds = 0.0  # time spent on them (reading and decoding included)
        # Seconds by step, summed over the threads: reading the file and its SHA-256
        # ("check"), decoding, keypoints, matching and fitting ("compare").
        self.steps = {"check": 0.0, "decode": 0.0, "keypoints": 0.0, "compare": 0.0}
        # ... and of the content check, its comparison of the pictures
        self.steps["content"] = 0.0
        self._remembered: Remembered | None = None
        self._remembered_on = 0  # the thread that may use it (an SQLite connection's own)
        self.recalled = 0  # pairs whose check was remembered from an earlier run
        self.content_recalled = 0  # ... of the content check

    def remember_in(self, remembered: Remembered | None) -> None:
        """Keep what the checks find in `remembered` (None: no longer), and take what it has
        instead of checking again; only on this thread (the others check as without it)."""
        self._remembered = remembered
        self._remembered_on = threading.get_ident()

    def _keys(
        self, what: str, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64], orientation: int
    ) -> list[bytes] | None:
        """The keys of pairs (i[k], j[k]) in the remembered checks; None when there is no
        store to ask on this thread."""
        if self._remembered is None or threading.get_ident() != self._remembered_on:
            return None
        records = self._records
        wanted = sorted({*i.tolist(), *j.tolist()})
        named: dict[int, str] = {}
        if isinstance(records, ImageColumns):  # (its columns: no record built per image)
            formats, digests = records.formats.items(wanted), records.digests.items(wanted)
            for k, format_, digest in zip(wanted, formats, digests, strict=True):
                named[k] = f"{format_.decode('utf-8', 'surrogateescape')}:{digest.decode()}"
        else:
            for k in wanted:
                named[k] = f"{records[k].fingerprint.format}:{records[k].fingerprint.digest}"
        return [
            hashlib.blake2b(
                f"{what}|{named[a]}|{named[b]}|{orientation}".encode(), digest_size=16
            ).digest()
            for a, b in zip(i.tolist(), j.tolist(), strict=True)
        ]

    def recall(
        self,
        kind: type[_Check],
        i: npt.NDArray[np.int64],
        j: npt.NDArray[np.int64],
        orientation: int,
    ) -> tuple[dict[int, _Check], list[bytes] | None]:
        """The remembered checks of pairs (i[k], j[k]), by k, and the pairs' keys (None: no
        store here)."""
        what = GEOMETRY_KEY if kind is geometry.Geometry else CONTENT_KEY
        keys = self._keys(what, i, j, orientation)
        if keys is None or self._remembered is None:
            return {}, None
        stored = self._remembered.get_looks(keys)
        found: dict[int, _Check] = {}
        for k, key in enumerate(keys):
            text = stored.get(key)
            check = None if text is None else thawed(kind, text)
            if check is not None:
                found[k] = check
        with self._lock:
            if kind is geometry.Geometry:
                self.recalled += len(found)
            else:
                self.content_recalled += len(found)
        return found, keys

    def keep(
        self,
        keys: list[bytes] | None,
        checks: Sequence[geometry.Geometry | content.Content | None],
        at: Sequence[int],
    ) -> None:
        """Remember checks[k] under keys[k] for each k of `at` checked (not None)."""
        if keys is None or self._remembered is None:
            return
        items = [(keys[k], frozen(c)) for k in at if (c := checks[k]) is not None]
        if items:
            self._remembered.put_looks(items)

    def __call__(self, index: int, orientation: int = 1) -> geometry.Features | None:
        key = (index, orientation)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = self._look(index, orientation)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > LOOKS_KEPT:
                self._kept.popitem(last=False)
        return found

    def gray(self, index: int, orientation: int = 1) -> npt.NDArray[np.uint8] | None:
        """The record's picture in gray (as the geometric check reads it, reduced to at most
        content.SIDE on its long side) under the EXIF orientation, for the content check;
        None if it cannot be looked at again. The most recent GRAYS_KEPT are kept."""
        with self._lock:
            known = index in self._grays
            found = self._grays.get(index)
            if known:
                self._grays.move_to_end(index)
        if not known:
            image = self._picture(index)
            found = None if image is None else content.reduced(np.asarray(image, np.uint8))
            with self._lock:
                self._grays[index] = found
                while len(self._grays) > GRAYS_KEPT:
                    self._grays.popitem(last=False)
        if found is None:
            return None
        return np.ascontiguousarray(verify.ORIENT[orientation](found))

    def tally(self, pairs: int, seconds: float, *, content: bool = False) -> None:
        """Count pairs the geometric check (`content`: the content check) looked at, and the
        time it took."""
        with self._lock:
            if content:
                self.content_pairs += pairs
                self.content_seconds += seconds
            else:
                self.pairs += pairs
                self.seconds += seconds

    def timed(self, step: str, seconds: float) -> None:
        """Add seconds to one step of self.steps."""
        with self._lock:
            self.steps[step] += seconds

    def _picture(self, index: int) -> Image.Image | None:
        with self._lock:
            if index in self._pictures:
                self._pictures.move_to_end(index)
                return self._pictures[index]
        # (of a scan's ImageColumns: a record for this read only, not one kept per file read)
        records = self._records
        record = records.transient(index) if isinstance(records, ImageColumns) else records[index]
        started = time.perf_counter()
        data = unchanged_bytes(record)
        checked = time.perf_counter()
        image = None
        first = None if self._first is None else self._first.get(record.path)
        if data is not None:
            if first is not None and first.digest == record.fingerprint.digest:
                image = Image.fromarray(first.pixels)
            else:
                first = None
                image = decoded(record, data)
        self.timed("check", checked - started)
        self.timed("decode", time.perf_counter() - checked)
        with self._lock:
            if index not in self._pictures:  # (another thread may have read it meanwhile)
                if image is None:
                    self.missed += 1
                else:
                    self.read += 1
                    self.reused += first is not None
            self._pictures[index] = image
            while len(self._pictures) > PICTURES_KEPT:
                self._pictures.popitem(last=False)
        return image

    def _look(self, index: int, orientation: int) -> geometry.Features | None:
        if orientation in _TURNS:  # a quarter or half turn of the picture or of its mirror
            base, turn = _TURNS[orientation]
            found = self(index, base)
            return None if found is None else turned(found, turn)
        image = self._picture(index)
        if image is None:
            return None
        started = time.perf_counter()
        if orientation != 1:
            flipped = verify.ORIENT[orientation](np.asarray(image))
            image = Image.fromarray(np.ascontiguousarray(flipped))
        found = geometry.features(image)
        self.timed("keypoints", time.perf_counter() - started)
        return found


# ORB's keypoints turn with the picture (FAST corners and their orientations do, and each
# descriptor is taken along its keypoint's orientation), so the keypoints of a picture under
# EXIF orientation k (a turn, or the mirror's turn) are those of orientation 1 or 2 (the
# mirror) with their positions turned: (the orientation computed, the turn: 3 half, 6
# clockwise, 8 counter-clockwise, as in verify.ORIENT). Two keypoint searches per picture
# instead of eight under --rotations.
_TURNS = {3: (1, 3), 6: (1, 6), 8: (1, 8), 4: (2, 3), 5: (2, 8), 7: (2, 6)}


def turned(found: geometry.Features, turn: int) -> geometry.Features:
    """The keypoints of a picture turned half (3), clockwise (6) or counter-clockwise (8)."""
    x, y = found.points[:, 0], found.points[:, 1]
    w, h = float(found.width - 1), float(found.height - 1)
    if turn == 3:
        points, size = np.stack([w - x, h - y], axis=1), (found.width, found.height)
    elif turn == 6:
        points, size = np.stack([h - y, x], axis=1), (found.height, found.width)
    else:
        points, size = np.stack([y, w - x], axis=1), (found.height, found.width)
    return geometry.Features(
        points.astype(np.float32), found.descriptors, *size, found.source_side, found.dark
    )


def picture(record: ImageRecord) -> Image.Image | None:
    """The record's image in gray at about the geometric check's working size (EXIF
    orientation applied), if its file is still the one fingerprinted; else None."""
    data = unchanged_bytes(record)
    return None if data is None else decoded(record, data)


def decoded(record: ImageRecord, data: bytes) -> Image.Image | None:
    """The record's file's bytes decoded in gray at about the geometric check's working size
    (EXIF orientation applied, at least look_side on the short side), None if they cannot be."""
    fp = record.fingerprint
    try:
        return decode.decode(data, min_side=look_side(fp.width, fp.height), gray=True).image
    except decode.DecodeError:
        return None


def unchanged_bytes(record: ImageRecord) -> bytes | None:
    """The bytes of the record's file if it is still the one fingerprinted (a regular file of
    the same size and modification time, whose bytes have its SHA-256); else None."""
    try:
        fd = os.open(record.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (
                record.size,
                record.mtime_ns,
            ):
                return None
            # at most one byte more than it had: a file growing since its stat is not read
            # to its end (and is no longer the one fingerprinted)
            data = handle.read(record.size + 1)
    except OSError:
        return None
    if len(data) != record.size or hashlib.sha256(data).hexdigest() != record.fingerprint.digest:
        return None
    return data


# Pairs compared per task of the thread pool.
_TASK = 64


def compare_pairs(
    look: Look | None,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    orientation: int = 1,
) -> tuple[npt.NDArray[np.int8], list[geometry.Geometry | None]]:
    """The geometric check of records i[k] and j[k] (j seen under the EXIF orientation), on
    every usable core (OpenCV releases the GIL): per pair the verdict (geometry.SAME,
    DIFFERENT or UNKNOWN; verify.NOT_LOOKED when either picture cannot be looked at again;
    UNKNOWN for all when `look` is None: the match decides alone) and the check itself (None
    when not looked at)."""
    n = len(i)
    found: list[geometry.Geometry | None] = [None] * n
    if look is None or not n:
        return np.full(n, geometry.UNKNOWN, np.int8), found
    verdicts = np.full(n, verify.NOT_LOOKED, np.int8)
    started = time.perf_counter()
    known, keys = (
        look.recall(geometry.Geometry, i, j, orientation) if isinstance(look, Looks) else ({}, None)
    )
    for k, checked in known.items():
        found[k], verdicts[k] = checked, checked.verdict
    todo = np.array([k for k in range(n) if k not in known], dtype=np.int64)
    # the pairs of one image together: its keypoints stay kept
    order = todo[np.lexsort((j[todo], i[todo]))]

    def run(span: tuple[int, int]) -> None:
        for k in order[span[0] : span[1]].tolist():
            a, b = look(int(i[k]), 1), look(int(j[k]), orientation)
            if a is None or b is None:
                continue
            began = time.perf_counter()
            found[k] = checked = geometry.compare(a, b)
            verdicts[k] = checked.verdict
            if isinstance(look, Looks):
                look.timed("compare", time.perf_counter() - began)

    # Tasks of _TASK pairs, or fewer so that a few dozen pairs still use every core (a task
    # for each core several times over); the pairs of one image stay together within a task.
    task = max(1, min(_TASK, -(-len(todo) // (4 * usable_cores()))))
    thread_map(run, [(lo, min(lo + task, len(todo))) for lo in range(0, len(todo), task)])
    if isinstance(look, Looks):
        look.keep(keys, found, todo.tolist())
        look.tally(n, time.perf_counter() - started)
    return verdicts, found


def content_pairs(
    look: Look | None,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    orientation: int = 1,
) -> list[content.Content | None]:
    """The content check (dedupe/content.py) of records i[k] and j[k] (j seen under the EXIF
    orientation), on every usable core: per pair the check, None where either picture cannot
    be looked at again (or `look` is None). `boxes`: per pair None (the whole pictures) or
    the parts of a and of b (under the orientation) to compare, as shares of each side cut
    away (left, top, right, bottom)."""
    n = len(i)
    found: list[content.Content | None] = [None] * n
    if look is None or not n:
        return found
    started = time.perf_counter()
    known, keys = (
        look.recall(content.Content, i, j, orientation) if isinstance(look, Looks) else ({}, None)
    )
    for k, compared in known.items():
        found[k] = compared
    todo = np.array([k for k in range(n) if k not in known], dtype=np.int64)
    # the pairs of one image together: its picture stays kept
    order = todo[np.lexsort((j[todo], i[todo]))]

    def run(span: tuple[int, int]) -> None:
        for k in order[span[0] : span[1]].tolist():
            a, b = look.gray(int(i[k]), 1), look.gray(int(j[k]), orientation)
            if a is None or b is None:
                continue
            began = time.perf_counter()
            found[k] = content.compare(a, b)
            if isinstance(look, Looks):
                look.timed("content", time.perf_counter() - began)

    task = max(1, min(_TASK, -(-len(todo) // (4 * usable_cores()))))
    thread_map(run, [(lo, min(lo + task, len(todo))) for lo in range(0, len(todo), task)])
    if isinstance(look, Looks):
        look.keep(keys, found, todo.tolist())
        look.tally(n, time.perf_counter() - started, content=True)
    return found
