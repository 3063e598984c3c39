"""From hashes to groups: threshold -> candidate pairs (BK-tree) -> verification -> union-find.

Exact byte copies (same content digest) are always joined. Perceptual candidates come from the
BK-tree at the rate threshold (with --rotations, also for the 7 other orientations of each
image) and are joined only when the independent check in verify.py accepts them. A small
library is grouped the same way without the compiled kernels (see COMPILED_FROM). Accepted pairs
are joined strongest first, and two groups of several files are joined only when their anchors
(best member of each) pass the check too: A~B and B~C cannot drag a different C into A's group.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt

from dedupe import content, geometry, looks, verify
from dedupe.hashing import ImageHash, codes_array
from dedupe.imagecols import ImageColumns
from dedupe.looks import Look
from dedupe.models import Fingerprint, ImageRecord, Settings


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        # arrays, so that the compiled join (_cluster_kernel.join) works on them in place
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return True

    def components(self) -> list[list[int]]:
        """Sets with at least two members, each sorted, in order of their smallest member."""
        root = self.parent.copy()
        while True:  # pointer jumping: every element points at its root after log(depth) steps
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up
        # the elements of sets of two or more only (most of a library is in no group)
        shared = np.flatnonzero(np.bincount(root, minlength=len(root))[root] > 1)
        order = shared[np.argsort(root[shared], kind="stable")]  # by root, ascending within
        roots = root[order]
        if not len(roots):
            return []
        starts = np.flatnonzero(np.r_[True, roots[1:] != roots[:-1]])
        sizes = np.diff(np.r_[starts, len(roots)])
        sets = [order[s : s + k].tolist() for s, k in zip(starts, sizes, strict=True)]
        sets.sort(key=lambda members: members[0])
        return sets


def component_labels(
    n: int, low: npt.NDArray[np.int64], high: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Per element of 0..n-1, the smallest element connected to it by the edges (low[e],
    high[e]): the sets UnionFind would make of them, in numpy (each round hooks every edge's
    larger root under the smaller, then every element jumps to its root)."""
    label = np.arange(n, dtype=np.int64)
    while len(low):
        a, b = label[low], label[high]  # roots: every element points at its root
        if np.array_equal(a, b):
            break
        smaller = np.minimum(a, b)
        hooked = label.copy()
        np.minimum.at(hooked, a, smaller)
        np.minimum.at(hooked, b, smaller)
        while True:  # pointer jumping (a label is never larger than its element)
            up = hooked[hooked]
            if np.array_equal(up, hooked):
                break
            hooked = up
        label = hooked
    return label


# Bump whenever cluster() could give another result for the same inputs (a memo of its results,
# kept in the hash cache, is keyed by this and by inputs_digest()). 4: the framing searches,
# the geometric check.
VERSION = 4


@dataclass(frozen=True, slots=True, eq=False)
class Checked:
    """What one search of the library found and the check decided, kept (in the report, and
    in the memo of a scan) so that regrouping at the same or a tighter threshold needs neither
    the search nor the check again: every candidate pair within `radius` bits that the check
    accepted (one entry per orientation it was found under: record `high` seen under it is
    `distance` bits from record `low`), with its score, and how many candidate pairs the
    search found at each distance 0..radius (the rejected ones are the rest). Valid for the
    records and settings whose verdicts_key() is `key`."""

    key: str
    radius: int
    low: npt.NDArray[np.int64]
    high: npt.NDArray[np.int64]
    distance: npt.NDArray[np.int64]
    score: npt.NDArray[np.float32]
    found: tuple[int, ...]  # candidate pairs at each distance 0..radius
    # the records with too little detail to be checked (verify.low_information_rows)
    low_information: npt.NDArray[np.int64]
    # per pair: verify.COPY (one picture) or verify.SHOTS (two captures of one scene)
    kind: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))

    def __post_init__(self) -> None:
        if len(self.kind) != len(self.low):
            object.__setattr__(self, "kind", np.full(len(self.low), verify.COPY, np.int8))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checked):
            return NotImplemented
        mine: tuple[npt.NDArray[Any], ...] = (
            self.low, self.high, self.distance, self.score, self.low_information, self.kind
        )  # fmt: skip
        theirs: tuple[npt.NDArray[Any], ...] = (
            other.low, other.high, other.distance, other.score, other.low_information, other.kind
        )  # fmt: skip
        return (self.key, self.radius, self.found) == (other.key, other.radius, other.found) and (
            all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]  # mutable arrays inside

    def among(self, rows: npt.NDArray[np.int64], key: str) -> Checked:
        """The verdicts on the pairs of records `rows` (ascending record numbers) alone,
        renumbered for the records [records[k] for k in rows], whose verdicts_key is `key`
        (the same order, the same radius; `found` still counts the whole search's
        candidates)."""

        def renumbered(
            values: npt.NDArray[np.int64],
        ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
            at = np.searchsorted(rows, values)
            inside = at < len(rows)
            inside[inside] = rows[at[inside]] == values[inside]
            return at, inside

        low, low_in = renumbered(self.low)
        high, high_in = renumbered(self.high)
        kept = np.flatnonzero(low_in & high_in)
        flat, flat_in = renumbered(self.low_information)
        return Checked(
            key=key,
            radius=self.radius,
            low=low[kept],
            high=high[kept],
            distance=self.distance[kept],
            score=self.score[kept],
            found=self.found,
            low_information=flat[flat_in],
            kind=self.kind[kept],
        )

    def to_json_value(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "radius": self.radius,
            "found": list(self.found),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "distance": self.distance.tolist(),
            "score": self.score.tolist(),  # float32 values: exact as JSON doubles
            "low_information": self.low_information.tolist(),
            "kind": self.kind.tolist(),
        }

    @classmethod
    def from_json_value(cls, value: Any, n: int) -> Checked | None:
        """Checked pairs as to_json_value wrote them for n records, or None if the value does
        not have that shape (they are then found again: nothing depends on them but speed)."""
        try:
            key, radius = str(value["key"]), int(value["radius"])
            found = tuple(int(c) for c in value["found"])
            low = np.array(value["low"], dtype=np.int64)
            high = np.array(value["high"], dtype=np.int64)
            distance = np.array(value["distance"], dtype=np.int64)
            score = np.array(value["score"], dtype=np.float32)
            low_information = np.array(value["low_information"], dtype=np.int64)
            kind = np.array(value["kind"], dtype=np.int8)
        except (ValueError, TypeError, KeyError, OverflowError):
            return None
        entries = len(low)
        if (
            len(found) != radius + 1
            or min(found, default=-1) < 0
            or any(a.ndim != 1 or len(a) != entries for a in (high, distance, score, kind))
            or not np.isin(kind, (verify.COPY, verify.SHOTS)).all()
            or (entries and not (low.min() >= 0 and high.max() < n and (low < high).all()))
            or (entries and not (distance.min() >= 0 and distance.max() <= radius))
            or not np.isfinite(score).all()
            or low_information.ndim != 1
            or (
                len(low_information) and not 0 <= low_information.min() <= low_information.max() < n
            )
        ):
            return None
        return cls(key, radius, low, high, distance, score, found, low_information, kind)


@dataclass(frozen=True, slots=True)
class Clusters:
    """Groups as lists of record indices, plus per-group largest pairwise hash distance."""

    groups: tuple[tuple[int, ...], ...]
    max_distances: tuple[int, ...]
    candidates: int  # pairs the hash search proposed (each orientation counted)
    rejected: int  # of those, pairs the check in verify.py turned down
    blocked: int = 0  # verified pairs not joined: their groups' anchors did not match
    # the verdicts this grouping drew on (at its threshold or a looser one), for regrouping
    checked: Checked | None = None
    # similar shots: records that match as pictures but were captured at different times
    # (bursts), each set sorted, none of them in `groups`
    shots: tuple[tuple[int, ...], ...] = ()

    def to_json(self) -> str:
        return json.dumps(
            {
                "groups": self.groups,
                "shots": self.shots,
                "max_distances": self.max_distances,
                "counts": [self.candidates, self.rejected, self.blocked],
                "checked": None if self.checked is None else self.checked.to_json_value(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, n: int) -> Clusters | None:
        """A memo written by to_json for n records, or None if it does not fit them."""
        try:
            data = json.loads(text)
            groups = tuple(tuple(int(k) for k in g) for g in data["groups"])
            shots = tuple(tuple(int(k) for k in g) for g in data["shots"])
            max_distances = tuple(int(d) for d in data["max_distances"])
            candidates, rejected, blocked = (int(v) for v in data["counts"])
            raw_checked = data["checked"]
        except (ValueError, TypeError, KeyError):
            return None
        if len(max_distances) != len(groups) or any(
            not 0 <= k < n for g in groups + shots for k in g
        ):
            return None
        checked = None if raw_checked is None else Checked.from_json_value(raw_checked, n)
        if raw_checked is not None and checked is None:
            return None
        return cls(groups, max_distances, candidates, rejected, blocked, checked, shots)


def inputs_digest(
    records: Sequence[ImageRecord],
    settings: Settings,
    distinct: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """A digest of everything cluster() reads: equal digests, equal results."""
    h = hashlib.sha256()
    h.update(
        f"cluster {VERSION} verify {verify.VERSION} geometry {geometry.VERSION}"
        f" {settings.algorithm} {settings.hash_size} {settings.max_distance}"
        f" {settings.rotations} {len(records)}\n".encode()
    )
    for a, b in sorted(distinct):
        h.update(os.fsencode(a) + b"\0" + os.fsencode(b) + b"\0")
    h.update(b"records\n")
    # (a part of the records at a time: the same digest as of all at once, without holding
    # every record's bytes twice)
    if isinstance(records, ImageColumns):
        for start in range(0, len(records), _DIGESTED):
            h.update(_column_parts(records, start, start + _DIGESTED, settings.rotations))
        return h.hexdigest()
    for start in range(0, len(records), _DIGESTED):
        parts: list[bytes] = []
        for r in records[start : start + _DIGESTED]:
            fp = r.fingerprint
            variants = fp.variant_bits if settings.rotations else b""
            facts = f"\0{r.size} {fp.width} {fp.height} {fp.digest} {fp.hash.bits:x} ".encode()
            parts += (os.fsencode(r.path), facts, variants, fp.check, b"\n")
        h.update(b"".join(parts))
    return h.hexdigest()


# Records digested at a time by inputs_digest.
_DIGESTED = 8192


def _column_parts(images: ImageColumns, start: int, stop: int, rotations: bool) -> bytes:
    """What inputs_digest reads of images start..stop of an ImageColumns (the bytes it reads
    of their records), from the columns."""
    rows = range(start, min(stop, len(images)))
    if not len(rows):
        return b""
    at = slice(rows.start, rows.stop)
    paths = images.paths.items(rows)
    digests = images.digests.items(rows)
    variants = images.variants.items(rows) if rotations else [b""] * len(rows)
    numbers = zip(
        images.sizes[at].tolist(), images.widths[at].tolist(), images.heights[at].tolist(),
        strict=True,
    )  # fmt: skip
    codes = [int.from_bytes(h, "big") for h in map(bytes, images.hashes[at])]
    checks = images.signatures[at]
    parts: list[bytes] = []
    for k, (size, width, height) in enumerate(numbers):
        digest = digests[k].decode("utf-8", "surrogateescape")
        facts = f"\0{size} {width} {height} {digest} {codes[k]:x} ".encode()
        parts += (paths[k], facts, variants[k], checks[k].tobytes(), b"\n")
    return b"".join(parts)


# Orientation variants looked up in the tree at a time (bounds the candidates held at once).
_QUERIES = 16384
# Candidate pairs searched at a time (bounds the search's and the distances' arrays).
_PAIRS = 1 << 18
# Candidate pairs verified at a time: the check holds about 5 KB of temporaries a pair (the
# match's rows and sums, the screen's scores), so a part of _PAIRS pairs added 1.3 GB to the
# peak of a 100k scan; 8,192 add about 40 MB, for the same work a pair. The verdicts do not
# depend on how the pairs are cut (tests/test_cluster_chunks.py).
_VERIFIED = 8192
# Grouping this many images or more runs on the compiled kernels (numba: the BK-tree search,
# the pair check, the join). Loading them costs about a second of CPU once per process; below
# this, numpy and plain Python group the images in less than that (every pair's distance by
# brute force, the check with numpy), so a small folder never waits for the compiler's cache.
COMPILED_FROM = 3000
# ... and so does a smaller library with this many candidate pairs (a loose threshold): numpy
# checks a pair in ~60 us, and an anchor check from Python costs ~0.3 ms.
COMPILED_CANDIDATES = 4000
# Pair distances computed at a time by the brute-force search (bounds its arrays to ~16 MB).
_BRUTE = 1 << 20
# Once the candidates outnumber the images this many times (a loose threshold), they are
# checked with bounds that skip what cannot pass (verify.score_pairs(prune=True)): the
# bounds cost about 17 us of CPU an image, once, and save about 1 us a pair.
_PRUNE_FROM = 16


def compiles(n: int) -> bool:
    """Whether cluster() of n records runs on the compiled kernels (see COMPILED_FROM)."""
    return n >= COMPILED_FROM


def _verify(
    thumbs: verify.Thumbs,
    signatures: npt.NDArray[np.uint8],
    low_info: npt.NDArray[np.bool_],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    orientation: int,
    compiled: bool,
    prune: bool = False,
    distance: npt.NDArray[np.integer[Any]] | None = None,
    radius: int | None = None,
    look: Look | None = None,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """The check of pairs (i, j), j seen under `orientation`: the screen on every pair, the
    match on those it lets through and on those whose hashes are close (`distance` within
    a quarter of the `radius`, verify.close_hashes), the geometric check on those the match
    cannot settle (`look`: the records' keypoints; None: the match decides alone): (verdict,
    score; exact where the verdict is COPY or SHOTS)."""
    kind = np.zeros(len(i), dtype=np.int8)
    score = np.zeros(len(i), dtype=np.float32)
    live = np.flatnonzero(~low_info[i] & ~low_info[j])
    scores = verify.score_pairs(
        thumbs, i[live], j[live], orientation, compiled=compiled, prune=prune
    )
    fine = verify.past_screen(signatures, i[live], j[live])
    close = np.zeros(len(live), dtype=bool)
    if distance is not None and radius is not None:
        close = verify.close_hashes(distance[live], radius)
    through = scores.accepted() | fine | close
    passed = live[through]
    if len(passed):
        decided = decide(
            signatures, i[passed], j[passed], orientation, fine[through], close[through], look
        )
        kind[passed] = decided.kind
        score[passed] = decided.found.score()
    return kind, score


def decide(
    signatures: npt.NDArray[np.uint8],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    orientation: int,
    fine: npt.NDArray[np.bool_],
    close: npt.NDArray[np.bool_],
    look: Look | None,
    compiled: bool | None = None,
    screened: npt.NDArray[np.bool_] | None = None,
    index: npt.NDArray[np.int64] | None = None,
) -> Decided:
    """The match of pairs (i, j) past the screen (rows of `signatures`, j under the
    orientation), then the geometric check of those it cannot settle, then the content check
    of the copies aligned in one frame (verify.in_one_frame; only with `look`: a picture
    that cannot be looked at again leaves the verdict as it was). `screened`: which pairs
    passed the screen (None: all); the others go to the geometric check whatever the match
    says, their verdict DIFFERENT without it. `index`: the records' indices of the rows
    (None: the rows are the records), for `look`."""
    found = verify.match_rows(signatures[i], signatures[j], orientation, compiled=compiled)
    asked = verify.to_look(found, fine, close)
    if screened is not None:
        found.kind[~screened & (found.kind != verify.FLAT)] = verify.DIFFERENT
        asked |= ~screened & (found.kind != verify.FLAT)
    at = np.flatnonzero(asked)
    a, b = (i[at], j[at]) if index is None else (index[i[at]], index[j[at]])
    looked, checks = looks.compare_pairs(look, a, b, orientation)
    per_pair: list[geometry.Geometry | None] = [None] * len(i)
    for k, checked in zip(at.tolist(), checks, strict=True):
        per_pair[k] = checked
    kind = verify.settle(found, asked, looked)
    contents: list[content.Content | None] = [None] * len(i)
    if look is not None:
        boxes = verify.content_boxes(signatures[i], signatures[j], orientation)
        at = np.flatnonzero(verify.in_one_frame(found, kind, per_pair, boxes))
        if len(at):
            a, b = (i[at], j[at]) if index is None else (index[i[at]], index[j[at]])
            seen = looks.content_pairs(look, a, b, orientation)
            for k, compared in zip(at.tolist(), seen, strict=True):
                contents[k] = compared
                if compared is not None and compared.verdict == content.DIFFERENT:
                    kind[k] = verify.DIFFERENT
    return Decided(found, kind, per_pair, asked, contents)


@dataclass(frozen=True, slots=True)
class Decided:
    """What decide() found of its pairs: the match, the verdicts, per pair the geometric check
    (None where it did not look) and the content check (None where it did not compare), and
    which pairs the match left to the geometric check."""

    found: verify.Match
    kind: npt.NDArray[np.int8]
    geometries: list[geometry.Geometry | None]
    asked: npt.NDArray[np.bool_]
    contents: list[content.Content | None]


@dataclass(frozen=True, slots=True)
class _Columns:
    """What cluster() reads of each record, as arrays, gathered in one pass over the records."""

    signatures: npt.NDArray[np.uint8]  # verify.signature_array rows
    codes: npt.NDArray[np.uint64]  # (n, words): the hashes
    variants: npt.NDArray[np.uint64] | None  # (n, 7, words): orientations 2..8, with rotations
    pixels: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]
    first: npt.NDArray[np.int64]  # the first record with the same content (itself if none)

    @classmethod
    def of(cls, records: Sequence[ImageRecord], settings: Settings) -> _Columns:
        if isinstance(records, ImageColumns):  # a report's index: its columns as they are
            return cls(
                signatures=records.signatures,
                codes=records.codes(),
                variants=records.variant_codes() if settings.rotations else None,
                pixels=records.pixels(),
                sizes=records.sizes,
                first=records.first_copies(),
            )
        n, size = len(records), settings.hash_size
        prints = [record.fingerprint for record in records]
        checks = [fp.check for fp in prints]
        hashes = [fp.hash for fp in prints]
        variant_bits = [fp.variant_bits for fp in prints] if settings.rotations else []
        pixels = [fp.width * fp.height for fp in prints]
        sizes = [record.size for record in records]
        by_digest: dict[str, int] = {}
        first = [by_digest.setdefault(fp.digest, k) for k, fp in enumerate(prints)]
        variants = None
        if settings.rotations:
            words = size * size // 64
            packed = b"".join(variant_bits)
            if len(packed) != n * 7 * words * 8:
                raise ValueError("--rotations needs the 7 orientation hashes of every image")
            variants = np.frombuffer(packed, dtype=">u8").reshape(n, 7, words).astype(np.uint64)
        return cls(
            signatures=verify.signature_array(checks),
            codes=codes_array(hashes, size),
            variants=variants,
            pixels=np.array(pixels, dtype=np.int64),
            sizes=np.array(sizes, dtype=np.int64),
            first=np.array(first, dtype=np.int64),
        )


# (i, j, orientation, distance): candidate pairs as _candidates finds them
_Found = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, npt.NDArray[np.integer[Any]]]


def _candidates(
    columns: _Columns, settings: Settings, usable: npt.NDArray[np.int64], compiled: bool
) -> Iterator[_Found]:
    """Pairs (i, j, orientation, distance) among the `usable` records within the radius: record
    j seen under the orientation is `distance` <= settings.max_distance bits from record i. In
    parts of a few million pairs at most (see BKTree.iter_pairs_within): at a loose threshold the
    candidates can outnumber the images a thousand times, and only the verified ones are kept.
    Without `compiled`, by brute force (_within) instead of the BK-tree."""
    radius = settings.max_distance
    codes = columns.codes[usable]
    every = None if columns.variants is None else columns.variants[usable]
    framing = verify.framing_codes(columns.signatures)
    if not compiled:
        i, j, d = _within(codes, codes, radius, upper=True)
        yield usable[i], usable[j], 1, _nearest(framing, settings, usable[i], usable[j], d)
        yield from _framed(columns, framing, settings, usable, compiled)
        if every is not None:
            for k in range(2, 9):
                turned = np.ascontiguousarray(every[:, k - 2, :])
                q, s, d = _within(turned, codes, radius, upper=False)
                mask = q != s
                # stored record s is near record q seen under orientation k
                yield usable[s[mask]], usable[q[mask]], k, d[mask]
        return
    from dedupe.bktree import BKTree  # numba: imported when there is something to search

    tree = BKTree.build(codes)
    for i, j, dist in tree.iter_pairs_within(radius):
        for lo in range(0, len(i), _PAIRS):  # bounds the verification's temporary arrays
            part = slice(lo, lo + _PAIRS)
            a, b = usable[i[part]], usable[j[part]]
            yield a, b, 1, _nearest(framing, settings, a, b, dist[part])
    yield from _framed(columns, framing, settings, usable, compiled)
    if every is not None and len(usable):
        for k in range(2, 9):
            variants = np.ascontiguousarray(every[:, k - 2, :])
            for lo in range(0, len(variants), _QUERIES):
                q, s, dist = tree.query_many(variants[lo : lo + _QUERIES], radius)
                q = q.astype(np.int64) + lo
                mask = q != s
                # stored record s is near record q seen under orientation k
                yield usable[s[mask]], usable[q[mask]], k, dist[mask]


# The framing searches (see verify.framing_codes): (query code, searched code) ; a pair found
# by any of them whose hashes are not within the radius is a candidate too (orientation 1).
_WHOLE, _TRIMMED, _CENTRE = range(3)
FRAMING_SEARCHES = (
    (_TRIMMED, _WHOLE),  # a framed copy's content is the original
    (_CENTRE, _TRIMMED),  # a cropped copy is about the original's centre
    (_CENTRE, _CENTRE),  # a turned copy has about the same centre
)


def framing_radius(settings: Settings) -> int:
    """The radius of the framing searches: the threshold's rate of the 64-bit framing codes."""
    return math.floor(settings.threshold * 64 + 1e-9)


def framing_distance(a: bytes, b: bytes) -> int:
    """The smallest distance of two signatures' framing codes under the framing searches
    (either way round), in bits of 64."""
    codes = verify.framing_codes(verify.signature_array([a, b]))
    return int(_framing_distances(codes, np.array([0]), np.array([1]))[0])


def _framing_distances(
    framing: npt.NDArray[np.uint64], i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """The smallest distance of the framing codes (rows of `framing`) of pairs (i, j) under
    the framing searches, either way round, in bits of 64 (64 where either has none)."""
    best = np.full(len(i), 64, dtype=np.int64)
    for q, s in FRAMING_SEARCHES:
        for x, y in ((i, j), (j, i)):
            bits = np.bitwise_count(framing[x, q] ^ framing[y, s]).astype(np.int64)
            np.minimum(best, bits, out=best)
    best[~has_framing(framing[i]) | ~has_framing(framing[j])] = 64
    return best


def has_framing(framing: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    """Which rows of framing codes are codes: all three 0 is a signature packed without them
    (or a picture with no left-right change at all), never a framing candidate."""
    result: npt.NDArray[np.bool_] = np.any(framing, axis=1)
    return result


def _nearest(
    framing: npt.NDArray[np.uint64],
    settings: Settings,
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    distance: npt.NDArray[np.integer[Any]],
) -> npt.NDArray[np.int64]:
    """The distance of pairs (i, j) the hash search found (orientation 1): the smaller of
    their hashes' and their framing codes' (in bits of the settings' hash), so that a pair's
    distance is the same whichever search finds it (a Checked of a looser search then serves
    a tighter one exactly, see cluster())."""
    framed = _framing_distances(framing, i, j) * max(1, settings.bits // 64)
    result: npt.NDArray[np.int64] = np.minimum(np.asarray(distance, dtype=np.int64), framed)
    return result


def _framed(
    columns: _Columns,
    every_framing: npt.NDArray[np.uint64],
    settings: Settings,
    usable: npt.NDArray[np.int64],
    compiled: bool,
) -> Iterator[_Found]:
    """The candidate pairs of the framing searches among the `usable` records that the hash
    search does not find (their hashes more than the radius apart): (i, j, 1, distance), the
    distance being the smallest framing distance in bits of the settings' hash (the framing
    codes have 64; `every_framing`: the framing codes of every record)."""
    radius = framing_radius(settings)
    usable = usable[has_framing(every_framing[usable])]
    if len(usable) < 2:
        return
    framing = every_framing[usable]
    n = len(usable)
    keys: list[npt.NDArray[np.int64]] = []
    dists: list[npt.NDArray[np.int64]] = []
    for query, searched in FRAMING_SEARCHES:
        queries = np.ascontiguousarray(framing[:, query : query + 1])
        codes = np.ascontiguousarray(framing[:, searched : searched + 1])
        if not compiled:
            q, s, d = _within(queries, codes, radius, upper=query == searched)
        elif query == searched:
            from dedupe.bktree import BKTree  # numba

            found = [(a, b, c) for a, b, c in BKTree.build(codes).iter_pairs_within(radius)]
            q = np.concatenate([f[0] for f in found] or [np.zeros(0, np.int64)])
            s = np.concatenate([f[1] for f in found] or [np.zeros(0, np.int64)])
            d = np.concatenate([f[2] for f in found] or [np.zeros(0, np.int64)])
        else:
            from dedupe.bktree import BKTree  # numba

            hits = BKTree.build(codes).query_many(queries, radius)
            q, s, d = (np.asarray(x, dtype=np.int64) for x in hits)
        q, s, d = q.astype(np.int64), s.astype(np.int64), d.astype(np.int64)
        apart = q != s
        low, high = np.minimum(q, s)[apart], np.maximum(q, s)[apart]
        keys.append(low * n + high)
        dists.append(d[apart])
    key = np.concatenate(keys)
    distance = np.concatenate(dists)
    order = np.lexsort((distance, key))  # the smallest distance of each pair first
    key, distance = key[order], distance[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
    key, distance = key[first], distance[first]
    i, j = key // n, key % n
    hashed = np.bitwise_count(columns.codes[usable[i]] ^ columns.codes[usable[j]]).sum(
        axis=1, dtype=np.int64
    )
    beyond = hashed > settings.max_distance  # the hash search found the others
    scale = max(1, settings.bits // 64)
    i, j, distance = i[beyond], j[beyond], distance[beyond] * scale
    distance = np.minimum(distance, settings.max_distance)
    for lo in range(0, len(i), _PAIRS):
        part = slice(lo, lo + _PAIRS)
        yield usable[i[part]], usable[j[part]], 1, distance[part]


def _within(
    queries: npt.NDArray[np.uint64], codes: npt.NDArray[np.uint64], radius: int, *, upper: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every (q, s, distance) with codes[s] within `radius` bits of queries[q], by computing
    all the distances (_BRUTE at a time); with `upper` (queries are the codes), only q < s."""
    n = len(codes)
    rows = max(1, _BRUTE // max(1, n * codes.shape[1]))
    found_q, found_s = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    found_d = [np.zeros(0, np.int64)]
    for lo in range(0, len(queries), rows):
        start = lo + 1 if upper else 0  # the columns right of the diagonal, when upper
        block = queries[lo : lo + rows, None, :] ^ codes[None, start:, :]
        distance = np.bitwise_count(block).sum(axis=2, dtype=np.int64)
        q, s = np.nonzero(distance <= radius)
        q, s = q + lo, s + start
        keep = q < s if upper else slice(None)
        found_q.append(q[keep])
        found_s.append(s[keep])
        found_d.append(distance[q - lo, s - start][keep])
    return np.concatenate(found_q), np.concatenate(found_s), np.concatenate(found_d)


def _distances(
    columns: _Columns, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """pair_distance of records i[k] and j[k], on the columns."""
    codes = columns.codes
    distance: npt.NDArray[np.int64] = np.bitwise_count(codes[i] ^ codes[j]).sum(
        axis=1, dtype=np.int64
    )
    if columns.variants is not None:
        turned = np.bitwise_count(codes[i][:, None, :] ^ columns.variants[j]).sum(axis=2)
        distance = np.minimum(distance, turned.min(axis=1))
    return distance


def _max_distances(groups: Sequence[Sequence[int]], columns: _Columns) -> tuple[int, ...]:
    """group_max_distance of each group, on the columns: the groups of one size together (the
    pairs of many groups in one array), a large group a block of rows at a time (a group of k
    distinct files has k(k-1)/2 pairs)."""
    worst = np.zeros(len(groups), dtype=np.int64)
    if not groups:
        return ()
    first = columns.first.tolist()
    is_copy = columns.first != np.arange(len(columns.first))
    sizes = np.array([len(members) for members in groups], dtype=np.int64)
    flat = np.fromiter(chain.from_iterable(groups), dtype=np.int64, count=int(sizes.sum()))
    starts = np.cumsum(sizes) - sizes
    with_copies = np.add.reduceat(is_copy[flat], starts).tolist()
    by_size: dict[int, list[tuple[int, Sequence[int]]]] = {}
    for g, members in enumerate(groups):
        if with_copies[g]:  # byte copies are 0 apart: compare one of each
            unique: dict[int, int] = {}
            for m in members:
                unique.setdefault(first[m], m)
            members = tuple(unique.values())
        by_size.setdefault(len(members), []).append((g, members))
    for k, found in sorted(by_size.items()):
        if k < 2:
            continue
        which = np.array([g for g, _ in found], dtype=np.int64)
        chosen = np.array([members for _, members in found], dtype=np.int64)  # (groups, k)
        x, y = np.triu_indices(k, 1)
        if len(x) > _PAIRS:
            for g, row in zip(which.tolist(), chosen, strict=True):
                worst[g] = _large_max_distance(row, columns)
            continue
        step = max(1, _PAIRS // len(x))
        for lo in range(0, len(which), step):
            block = chosen[lo : lo + step]
            distance = _distances(columns, block[:, x].reshape(-1), block[:, y].reshape(-1))
            worst[which[lo : lo + step]] = distance.reshape(len(block), len(x)).max(axis=1)
    return tuple(worst.tolist())


def _large_max_distance(chosen: npt.NDArray[np.int64], columns: _Columns) -> int:
    """The largest distance of chosen[a] to chosen[b], a < b: a block of rows against the
    members after its first row at a time (about _PAIRS distances)."""
    k = len(chosen)
    rows = max(1, _PAIRS // k)
    codes = columns.codes[chosen]
    variants = None if columns.variants is None else columns.variants[chosen]
    worst = 0
    for lo in range(0, k - 1, rows):
        hi = min(lo + rows, k - 1)
        a, b = codes[lo:hi, None, :], codes[None, lo + 1 :, :]
        distance = np.bitwise_count(a ^ b).sum(axis=2, dtype=np.int64)
        if variants is not None:
            turned = np.bitwise_count(a[:, :, None, :] ^ variants[None, lo + 1 :]).sum(axis=3)
            distance = np.minimum(distance, turned.min(axis=2))
        # row lo + r against member lo + 1 + c: only c >= r are pairs a < b
        after = np.arange(k - lo - 1)[None, :] >= np.arange(hi - lo)[:, None]
        worst = max(worst, int(distance[after].max()))
    return worst


def records_key(records: Sequence[ImageRecord], settings: Settings) -> str:
    """The verdicts_key of these records: that of the Checked a search of them makes."""
    return verdicts_key(_Columns.of(records, settings), settings)


def key_and_copies(
    records: Sequence[ImageRecord], settings: Settings
) -> tuple[str, npt.NDArray[np.int64]]:
    """records_key(records, settings), and per record the first record with the same content
    (itself if none): the byte copies cluster() joins."""
    columns = _Columns.of(records, settings)
    return verdicts_key(columns, settings), columns.first


def verdicts_key(columns: _Columns, settings: Settings) -> str:
    """A digest of everything the search and the check read (the hashes, orientation hashes
    and signatures of the records, in order, and the settings and code versions they depend
    on): the key of a Checked."""
    h = hashlib.sha256(
        f"cluster {VERSION} verify {verify.VERSION} geometry {geometry.VERSION}"
        f" {settings.algorithm} {settings.hash_size} {settings.rotations}"
        f" {len(columns.codes)}\n".encode()
    )
    h.update(np.ascontiguousarray(columns.codes).data)
    if columns.variants is not None:
        h.update(np.ascontiguousarray(columns.variants).data)
    h.update(np.ascontiguousarray(columns.signatures).data)
    return h.hexdigest()


def cluster(
    records: Sequence[ImageRecord],
    settings: Settings,
    *,
    distinct: frozenset[tuple[str, str]] = frozenset(),
    compiled: bool | None = None,
    checked: Checked | None = None,
    look: Look | None = None,
) -> Clusters:
    """Group records: exact copies, plus verified perceptual matches within the threshold.

    Verified pairs are joined strongest first. Joining two groups of several files also needs
    their anchors (the best member of each, see _cluster_kernel.join) to pass verification.
    `distinct` holds path pairs (sorted) a person marked "not duplicates": never joined
    directly. `compiled`: run on the numba kernels, or on numpy and plain Python (None: by
    the size of the work, see compiles() and COMPILED_CANDIDATES); both give the same groups.
    `checked`: the verdicts of an earlier search of these records (Clusters.checked); when
    they cover the threshold, the pairs are taken from them instead of searched and checked
    again, with the same result. `look`: the records' keypoints for the geometric check
    (looks.Looks); without it the match decides alone (records without their files: tests,
    a caller that has only a report), and a file it cannot look at again makes a pair the
    thumbnails cannot settle no copy.
    """
    n = len(records)
    # The search (and the thumbnails' sums) on the compiled kernels, else by brute force.
    searched = compiles(n) if compiled is None else compiled
    uf = UnionFind(n)
    columns = _Columns.of(records, settings)
    key = verdicts_key(columns, settings)
    radius = settings.max_distance
    if checked is not None and checked.key != key:
        checked = None  # for other records or settings
    known = checked  # verdicts on the candidates within its radius
    if checked is not None and checked.radius < radius:
        checked = None  # for a tighter threshold: search, and check the pairs beyond it
    # Within checked pairs nothing is searched or checked: only the join's anchor checks
    # remain, a few per group, which numpy does without loading the kernels (a second of
    # CPU, far more on a busy machine) on the thumbnails of the files they can be about.
    rows: npt.NDArray[np.int64] | None = None  # each record's row of `thumbs` (None: itself)
    if checked is not None and compiled is None:
        searched = compiled = False
        thumbs, rows = _thumbs_of_pairs(columns, checked, radius)
    else:
        # a view: no copy of the pixels
        thumbs = verify.Thumbs.from_signatures(columns.signatures, compiled=searched)
    total = 0  # candidate pairs, when they decide on the compiled kernels (see below)
    if checked is not None:
        search: Iterator[_Found] = iter(())
        total = sum(checked.found[: radius + 1])
    else:
        if known is not None:  # the same signatures: the same verdicts
            low_info = np.zeros(n, dtype=bool)
            low_info[known.low_information] = True
        else:
            low_info = verify.low_information_rows(columns.signatures)
        # Blank and near-blank images only ever match as byte copies: they are not searched.
        usable = np.flatnonzero(~low_info).astype(np.int64)
        search = _candidates(columns, settings, usable, compiled=searched)
        if compiled is None and not searched:
            every = list(search)  # a small library: its candidates decide on the kernels
            total = sum(len(found[0]) for found in every)
            search = iter(every)
    if compiled is None:
        compiled = searched or total >= COMPILED_CANDIDATES
    # Each group's anchor (the member that represents it), kept at its root: a pair joins two
    # groups of several files only when their anchors pass verification too, so a chain of
    # individually plausible pairs cannot join two different pictures.
    anchor = np.arange(n, dtype=np.int64)
    orientations = np.arange(1, 9 if settings.rotations else 2, dtype=np.int64)
    if compiled:
        from dedupe import _cluster_kernel as kernel  # numba

        check = kernel_check(thumbs, orientations)

    def join(low: npt.NDArray[np.int64], high: npt.NDArray[np.int64], forced: bool) -> int:
        if distinct:
            pairs = zip(low.tolist(), high.tolist(), strict=True)
            keep = np.array([not marked(records, a, b, distinct) for a, b in pairs], bool)
            low, high = low[keep], high[keep]
        if not compiled:

            def matches(x: int, y: int) -> bool:
                if rows is not None:  # (thumbnails of some records only)
                    x, y = int(rows[x]), int(rows[y])
                return matches_plain(thumbs, x, y, orientations)

            return join_plain(
                low, high, forced, uf, anchor, columns.pixels, columns.sizes, matches
            )  # fmt: skip
        blocked = kernel.join(
            low, high, forced, uf.parent, uf.size, anchor, columns.pixels,
            columns.sizes, check,
        )  # fmt: skip
        return int(blocked)

    # Byte copies first, each to the first file with its content; the better of two files
    # (more pixels, then the larger file, then the first path) becomes the anchor.
    copies = np.flatnonzero(columns.first != np.arange(n))
    join(columns.first[copies], copies, True)

    if checked is None:
        checked = _check(
            thumbs, columns.signatures, low_info, search, radius, key, n, compiled, known, look
        )
    near = checked.distance <= radius
    shot_pairs = np.flatnonzero(near & (checked.kind == verify.SHOTS))
    within = np.flatnonzero(near & (checked.kind == verify.COPY))
    low, high, score = checked.low[within], checked.high[within], checked.score[within]
    candidates = sum(checked.found[: radius + 1])
    order = np.lexsort((high, low, -score))  # strongest first, then by index: deterministic
    # Verified pairs, strongest first: a group grows around its closest pair (typically copies
    # that did not change the geometry), and keeps the larger group's anchor when two join.
    blocked = join(low[order], high[order], False)

    groups = tuple(tuple(members) for members in uf.components())
    max_distances = _max_distances(groups, columns)
    shots = _shot_sets(
        n, groups, checked.low[shot_pairs], checked.high[shot_pairs], records, distinct
    )
    rejected = candidates - len(within) - len(shot_pairs)
    return Clusters(groups, max_distances, candidates, rejected, blocked, checked, shots)


def _thumbs_of_pairs(
    columns: _Columns, checked: Checked, radius: int
) -> tuple[verify.Thumbs, npt.NDArray[np.int64]]:
    """The thumbnails of the records a join of the checked pairs within `radius` (and of the
    byte copies) can check, and per record its row there (-1: none)."""
    n = len(columns.first)
    near = checked.distance <= radius
    copies = np.flatnonzero(columns.first != np.arange(n))
    wanted = np.zeros(n, dtype=bool)
    for part in (checked.low[near], checked.high[near], copies, columns.first[copies]):
        wanted[part] = True
    chosen = np.flatnonzero(wanted)
    rows = np.full(n, -1, dtype=np.int64)
    rows[chosen] = np.arange(len(chosen))
    thumbs = verify.Thumbs.from_signatures(columns.signatures[chosen], compiled=False)
    return thumbs, rows


def _shot_sets(
    n: int,
    groups: Sequence[Sequence[int]],
    low: npt.NDArray[np.int64],
    high: npt.NDArray[np.int64],
    records: Sequence[ImageRecord],
    distinct: frozenset[tuple[str, str]],
) -> tuple[tuple[int, ...], ...]:
    """Sets of similar shots: connected by SHOTS pairs, among the records in no group of
    copies (a shot that has copies is in its copies' group)."""
    grouped = np.zeros(n, dtype=bool)
    for members in groups:
        grouped[list(members)] = True
    free = ~grouped[low] & ~grouped[high]
    uf = UnionFind(n)
    for a, b in zip(low[free].tolist(), high[free].tolist(), strict=True):
        if not marked(records, a, b, distinct):
            uf.union(a, b)
    return tuple(tuple(members) for members in uf.components())


def _check(
    thumbs: verify.Thumbs,
    signatures: npt.NDArray[np.uint8],
    low_info: npt.NDArray[np.bool_],
    search: Iterator[_Found],
    radius: int,
    key: str,
    n: int,
    compiled: bool,
    known: Checked | None,
    look: Look | None = None,
) -> Checked:
    """Check every candidate pair the search finds: the accepted ones, and how many there were
    at each distance. Candidates within the radius of `known` (an earlier search of the same
    records at a tighter threshold) are not checked again: its accepted pairs are taken."""
    found = np.zeros(radius + 1, dtype=np.int64)
    found_i, found_j, found_score, found_kind = [], [], [], []
    found_d: list[npt.NDArray[np.int64]] = []
    if known is not None:
        found_i.append(known.low)  # (which of the two is i does not matter: see below)
        found_j.append(known.high)
        found_d.append(known.distance)
        found_score.append(known.score)
        found_kind.append(known.kind)
    candidates = 0
    for i, j, orientation, distance in search:
        candidates += len(i)
        found += np.bincount(distance, minlength=radius + 1)[: radius + 1]
        if known is not None:
            beyond = np.flatnonzero(distance > known.radius)
            i, j, distance = i[beyond], j[beyond], distance[beyond]
        prune = compiled and candidates >= _PRUNE_FROM * n
        for lo in range(0, len(i), _VERIFIED):  # bounds the check's temporaries
            part = slice(lo, lo + _VERIFIED)
            a, b, d = i[part], j[part], distance[part]
            kind, best = _verify(
                thumbs, signatures, low_info, a, b, orientation, compiled, prune, d, radius,
                look,
            )  # fmt: skip
            ok = (kind == verify.COPY) | (kind == verify.SHOTS)
            found_i.append(a[ok])
            found_j.append(b[ok])
            found_d.append(d[ok].astype(np.int64))
            found_score.append(best[ok])
            found_kind.append(kind[ok])
    edge_i = np.concatenate(found_i) if found_i else np.zeros(0, np.int64)
    edge_j = np.concatenate(found_j) if found_j else np.zeros(0, np.int64)
    distances = np.concatenate(found_d) if found_d else np.zeros(0, np.int64)
    score = np.concatenate(found_score) if found_score else np.zeros(0, np.float32)
    kinds = np.concatenate(found_kind) if found_kind else np.zeros(0, np.int8)
    low, high = np.minimum(edge_i, edge_j), np.maximum(edge_i, edge_j)
    order = np.lexsort((-score, kinds, distances, high, low))  # the same order however searched
    return Checked(
        key=key,
        radius=radius,
        low=low[order],
        high=high[order],
        distance=distances[order],
        score=score[order].astype(np.float32),
        found=tuple(int(c) for c in found),
        low_information=np.flatnonzero(low_info).astype(np.int64),
        kind=kinds[order].astype(np.int8),
    )


def copies_of(
    records: Sequence[ImageRecord],
    pairs: Sequence[tuple[int, int]],
    settings: Settings,
    look: Look | None = None,
) -> list[bool]:
    """For pairs of records (a, b): whether the check finds one picture (b under any
    orientation --rotations allows), whatever their hash distance. groups.py asks this of a
    group's keeper and a file that joined the group through others. `look`: as cluster()."""
    if not pairs:
        return []
    needed = sorted({k for pair in pairs for k in pair})
    at = {k: n for n, k in enumerate(needed)}
    rows = verify.signature_array([records[k].fingerprint.check for k in needed])
    thumbs = verify.Thumbs.from_signatures(rows, compiled=False)
    flat = verify.low_information_rows(rows)
    i = np.array([at[a] for a, _ in pairs], dtype=np.int64)
    j = np.array([at[b] for _, b in pairs], dtype=np.int64)
    found = np.zeros(len(pairs), dtype=bool)
    live = np.flatnonzero(~flat[i] & ~flat[j])
    compiled = len(pairs) >= verify.COMPILED_PAIRS
    index = np.array(needed, dtype=np.int64)
    for k in range(1, 9 if settings.rotations else 2):
        todo = live[~found[live]]  # a pair found under one orientation needs no other
        scores = verify.score_pairs(thumbs, i[todo], j[todo], k, compiled=compiled)
        fine = verify.past_screen(rows, i[todo], j[todo])
        through = scores.accepted() | fine
        # As they are, a pair the screen stops goes to the geometric check too: a file joined
        # to the keeper through others may be framed or cropped unlike the keeper (a few
        # such pairs per group: the group's members, not the library's pairs).
        ask = through if k > 1 or look is None else np.ones(len(todo), dtype=bool)
        passed = todo[ask]
        if len(passed):
            close = np.zeros(len(passed), dtype=bool)
            kind = decide(
                rows,
                i[passed],
                j[passed],
                k,
                fine[ask],
                close,
                look,
                screened=through[ask],
                index=index,
            ).kind
            found[passed[kind == verify.COPY]] = True
    return [bool(f) for f in found]


def matches_plain(
    thumbs: verify.Thumbs, x: int, y: int, orientations: npt.NDArray[np.int64]
) -> bool:
    """Whether thumbnails x and y pass the check, y under any of the orientations (numpy; as
    _cluster_kernel.matches)."""
    i, j = np.array([x]), np.array([y])
    return any(
        bool(verify.score_pairs(thumbs, i, j, int(k), compiled=False).accepted()[0])
        for k in orientations
    )


def join_plain(
    low: npt.NDArray[np.int64],
    high: npt.NDArray[np.int64],
    forced: bool,
    uf: UnionFind,
    anchor: npt.NDArray[np.int64],
    pixels: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
    matches: Callable[[int, int], bool],
) -> int:
    """_cluster_kernel.join in plain Python (the same rule, for grouping without the compiled
    kernels): join pairs (low[e], high[e]) in order, each group's anchor at its root; returns
    how many pairs were blocked."""

    def better(a: int, b: int) -> int:
        ka, kb = (int(pixels[a]), int(sizes[a])), (int(pixels[b]), int(sizes[b]))
        return (a if ka > kb else b) if ka != kb else min(a, b)

    blocked = 0
    for a, b in zip(low.tolist(), high.tolist(), strict=True):
        root_a, root_b = uf.find(a), uf.find(b)
        if root_a == root_b:
            continue
        anchor_a, anchor_b = int(anchor[root_a]), int(anchor[root_b])
        size_a, size_b = int(uf.size[root_a]), int(uf.size[root_b])
        if forced:
            kept = better(anchor_a, anchor_b)
        else:
            several = size_a > 1 and size_b > 1  # a single file joins on its verified pair
            if several and (anchor_a, anchor_b) != (a, b) and not matches(anchor_a, anchor_b):
                blocked += 1
                continue
            if size_a != size_b:
                kept = anchor_a if size_a > size_b else anchor_b
            else:
                kept = better(anchor_a, anchor_b)
        uf.union(a, b)  # union by size; on a tie the root of a stays the root
        anchor[uf.find(a)] = kept
    return blocked


def kernel_check(
    thumbs: verify.Thumbs, orientations: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[Any], ...]:
    """What _cluster_kernel.matches reads to check a pair (see _cluster_kernel.Check)."""
    perms = np.stack([verify.orientation_permutations()[k] for k in range(1, 9)])
    perms = np.concatenate([perms[:1], perms]).astype(np.int64)  # perms[k] is orientation k
    index, weight, mask, counts, zooms = verify.tables()
    every = np.arange(len(counts), dtype=np.int64)
    limits = np.array(
        [verify.SAME_GEOMETRY, verify.EDITED_GEOMETRY, verify.GEOMETRY_GAIN], dtype=np.float64
    )
    return (thumbs.gray, thumbs.sums, perms, orientations, every, zooms, index, weight, mask,
            counts, limits)  # fmt: skip


def warm_up() -> None:
    """Load the compiled kernels (numba and its on-disk cache, about a second) ahead of the
    first grouping that uses them (see compiles()): a scan runs this while its workers decode.
    The arrays have the types and layouts cluster() passes (a kernel is loaded once per
    combination)."""
    from dedupe import bktree  # numba

    bktree.warm_up()  # tree walk, substring index, radius queries
    blank = bytes(verify.SIGNATURE_BYTES)
    record = ImageRecord(
        path="",
        size=0,
        mtime_ns=0,
        dev=0,
        ino=0,
        fingerprint=Fingerprint(
            width=1,
            height=1,
            format="",
            digest="",
            hash=ImageHash(0, 8),
            variant_bits=bytes(7 * 8),
            check=blank,
        ),
    )
    settings = Settings(algorithm="dhash", hash_size=8, threshold=0.25)
    cluster([record, record], settings, compiled=True)
    thumbs = verify.Thumbs.from_signatures(verify.signature_array([blank, blank]), compiled=True)
    verify.score_pairs(thumbs, np.array([0]), np.array([1]), compiled=True)


def marked(
    records: Sequence[ImageRecord], a: int, b: int, distinct: frozenset[tuple[str, str]]
) -> bool:
    """Whether records a and b are a pair marked "not duplicates" (in `distinct`)."""
    if not distinct:
        return False
    pa, pb = path_of(records, a), path_of(records, b)
    return (min(pa, pb), max(pa, pb)) in distinct


def path_of(records: Sequence[ImageRecord], k: int) -> str:
    """records[k].path (of a report's index: without building the record)."""
    return records.path(k) if isinstance(records, ImageColumns) else records[k].path


def pair_distance(a: ImageRecord, b: ImageRecord, settings: Settings) -> int:
    """Hash distance between two records; with rotations, the smallest over orientations of b."""
    best = a.hash - b.hash
    if settings.rotations:
        for variant in b.fingerprint.variants:
            best = min(best, a.hash - variant)
    return best


def group_max_distance(members: Sequence[ImageRecord], settings: Settings) -> int:
    """Largest pairwise hash distance within a group."""
    unique: dict[str, ImageRecord] = {}
    for record in members:  # byte copies are 0 apart: compare one of each
        unique.setdefault(record.fingerprint.digest, record)
    members = list(unique.values())
    worst = 0
    for x in range(len(members)):
        for y in range(x + 1, len(members)):
            worst = max(worst, pair_distance(members[x], members[y], settings))
    return worst


@dataclass(frozen=True, slots=True)
class PairCheck:
    """Why two records would or would not be grouped, for `dedupe compare`."""

    exact: bool  # same bytes
    distance: int  # hash distance as they are
    orientation: int  # EXIF orientation of b (1 = as it is) that the verdict is about
    oriented_distance: int  # hash distance of a to b under that orientation
    same: float  # the screen's thumbnail correlation as they are (b under `orientation`)
    best: float  # the screen's best correlation over the zoom and turn hypotheses
    low_information: tuple[bool, bool]  # flat: one colour
    verified: bool  # the check in verify.py finds one picture (under `orientation`)
    grouped: bool  # settings would put the two in one group of copies
    # the match: verify.COPY, SHOTS, DIFFERENT or FLAT, and its measures (see verify.Match)
    kind: int = 0
    screened: bool = False  # the screen let the pair through to the match
    covered: float = 1.0
    correlation: float = 0.0
    hypothesis: int = 0
    gain: float = 0.0
    apart_ms: int = -1
    same_camera: bool = False
    shots: bool = False  # settings would put the two in one group of similar shots
    # the match's fine detail (correlation, the smaller spread), colour likeness and the
    # two pictures' textures (verify.texture_rows; 0 where the match had ruled them out)
    detail: float = 0.0
    detail_std: float = 0.0
    colour: float = 1.0
    texture: tuple[float, float] = (0.0, 0.0)
    # the geometric check, when the match could not settle the pair (None: not looked at)
    geometry: geometry.Geometry | None = None
    looked: bool = False  # the match left it to the geometric check
    # the content check, when the pair was a copy aligned in one frame (None: not compared)
    content: content.Content | None = None
    moving: bool = False  # one is an animation, the other a still picture (never copies)


def check_pair(
    a: ImageRecord, b: ImageRecord, settings: Settings, look: Look | None = None
) -> PairCheck:
    """Judge one pair exactly as cluster() judges a candidate: distance, then the check.
    `look`: the keypoints of a (index 0) and b (index 1), as cluster() takes them."""
    checks = [a.fingerprint.check, b.fingerprint.check]
    thumbs = verify.thumbnails(checks)
    rows = verify.signature_array(checks)
    low = verify.low_information(checks)
    orientations = list(range(1, 9) if settings.rotations else range(1, 2))
    perms = verify.orientation_permutations()
    scores = verify.score(
        np.repeat(thumbs[:1], len(orientations), axis=0),
        np.stack([thumbs[1][perms[k]] for k in orientations]),
    )
    live = ~low[0] & ~low[1]
    distances = [
        a.hash - (b.hash if k == 1 else b.fingerprint.variants[k - 2]) for k in orientations
    ]
    close = verify.close_hashes(np.array(distances), settings.max_distance)
    fine = bool(verify.past_screen(rows, np.array([0]), np.array([1]))[0])
    screened = (scores.accepted() | close | fine) & live
    one, two = np.array([0]), np.array([1])
    decided = [
        decide(
            rows, one, two, k, np.array([fine]), close[n : n + 1],
            look if screened[n] else None, compiled=False,
        )
        for n, k in enumerate(orientations)
    ]  # fmt: skip
    matches = [d.found for d in decided]
    kinds = [
        int(d.kind[0]) if screened[n] or d.kind[0] == verify.FLAT else verify.DIFFERENT
        for n, d in enumerate(decided)
    ]
    radius = settings.max_distance
    near = [d <= radius for d in distances]
    framed = framing_distance(a.fingerprint.check, b.fingerprint.check)
    near[0] |= framed <= framing_radius(settings)  # a candidate of the framing searches
    copies = [n for n in range(len(orientations)) if near[n] and kinds[n] == verify.COPY]
    shots = [n for n in range(len(orientations)) if near[n] and kinds[n] == verify.SHOTS]
    # the verdict is about the first orientation that groups them, else the closest one
    matched = [n for n, k in enumerate(kinds) if k in (verify.COPY, verify.SHOTS)]
    n = (copies or shots or matched or [int(np.argmin(distances))])[0]
    exact = a.fingerprint.digest == b.fingerprint.digest
    found = matches[n]
    return PairCheck(
        exact=exact,
        distance=distances[0],
        orientation=orientations[n],
        oriented_distance=distances[n],
        same=float(scores.same[n]),
        best=float(scores.best[n]),
        low_information=(bool(low[0]), bool(low[1])),
        verified=kinds[n] == verify.COPY,
        grouped=exact or bool(copies),
        kind=kinds[n],
        screened=bool(screened[n]),
        covered=float(found.covered[0]),
        correlation=float(found.correlation[0]),
        hypothesis=int(found.hypothesis[0]),
        gain=float(found.gain[0]),
        apart_ms=int(found.apart_ms[0]),
        same_camera=bool(found.same_camera[0]),
        shots=not exact and not copies and bool(shots),
        detail=float(found.detail[0]),
        detail_std=float(found.detail_std[0]),
        colour=float(found.colour[0]),
        texture=(float(found.texture[0, 0]), float(found.texture[1, 0])),
        geometry=decided[n].geometries[0],
        looked=bool(screened[n] and decided[n].asked[0]),
        content=decided[n].contents[0],
        moving=bool(found.moving[0]),
    )
