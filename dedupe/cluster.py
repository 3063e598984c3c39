"""From hashes to groups: threshold -> candidate pairs (BK-tree) -> verification -> union-find.

Exact byte copies (same content digest) are always joined. Perceptual candidates come from the
BK-tree at the rate threshold (with --rotations, also for the 7 other orientations of each
image) and are joined only when the independent check in verify.py accepts them. Accepted pairs
are joined strongest first, and two groups of several files are joined only when their anchors
(best member of each) pass the check too: A~B and B~C cannot drag a different C into A's group.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe import verify
from dedupe.hashing import codes_array
from dedupe.models import ImageRecord, Settings


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
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
        root = np.asarray(self.parent, dtype=np.int64)
        while True:  # pointer jumping: every element points at its root after log(depth) steps
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up
        order = np.argsort(root, kind="stable")  # by root, members ascending within each
        roots = root[order]
        starts = np.flatnonzero(np.r_[True, roots[1:] != roots[:-1]])
        sizes = np.diff(np.r_[starts, len(roots)])
        sets = [order[s : s + k].tolist() for s, k in zip(starts, sizes, strict=True) if k > 1]
        sets.sort(key=lambda members: members[0])
        return sets


# Bump whenever cluster() could give another result for the same inputs (a memo of its results,
# kept in the hash cache, is keyed by this and by inputs_digest()).
VERSION = 1


@dataclass(frozen=True, slots=True)
class Clusters:
    """Groups as lists of record indices, plus per-group largest pairwise hash distance."""

    groups: tuple[tuple[int, ...], ...]
    max_distances: tuple[int, ...]
    candidates: int  # pairs the hash search proposed (each orientation counted)
    rejected: int  # of those, pairs the check in verify.py turned down
    blocked: int = 0  # verified pairs not joined: their groups' anchors did not match

    def to_json(self) -> str:
        return json.dumps(
            {
                "groups": self.groups,
                "max_distances": self.max_distances,
                "counts": [self.candidates, self.rejected, self.blocked],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str, n: int) -> Clusters | None:
        """A memo written by to_json for n records, or None if it does not fit them."""
        try:
            data = json.loads(text)
            groups = tuple(tuple(int(k) for k in g) for g in data["groups"])
            max_distances = tuple(int(d) for d in data["max_distances"])
            candidates, rejected, blocked = (int(v) for v in data["counts"])
        except (ValueError, TypeError, KeyError):
            return None
        if len(max_distances) != len(groups) or any(not 0 <= k < n for g in groups for k in g):
            return None
        return cls(groups, max_distances, candidates, rejected, blocked)


def inputs_digest(
    records: Sequence[ImageRecord],
    settings: Settings,
    distinct: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """A digest of everything cluster() reads: equal digests, equal results."""
    h = hashlib.sha256()
    h.update(
        f"cluster {VERSION} verify {verify.VERSION} {settings.algorithm} {settings.hash_size}"
        f" {settings.max_distance} {settings.rotations} {len(records)}\n".encode()
    )
    for a, b in sorted(distinct):
        h.update(os.fsencode(a) + b"\0" + os.fsencode(b) + b"\0")
    h.update(b"records\n")
    parts: list[bytes] = []
    for r in records:
        fp = r.fingerprint
        variants = fp.variant_bits if settings.rotations else b""
        facts = f"\0{r.size} {fp.width} {fp.height} {fp.digest} {fp.hash.bits:x} ".encode()
        parts += (os.fsencode(r.path), facts, variants, fp.check, b"\n")
    h.update(b"".join(parts))
    return h.hexdigest()


# Orientation variants looked up in the tree at a time (bounds the candidates held at once).
_QUERIES = 16384
# Candidate pairs verified at a time (bounds the verification's arrays to about 16 MB).
_PAIRS = 1 << 18


def _verify(
    thumbs: verify.Thumbs,
    low_info: npt.NDArray[np.bool_],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    orientation: int,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """verify.accept for pairs (i, j), j seen under `orientation`: (ok, best score)."""
    ok = np.zeros(len(i), dtype=bool)
    best = np.zeros(len(i), dtype=np.float32)
    live = np.flatnonzero(~low_info[i] & ~low_info[j])
    scores = verify.score_pairs(thumbs, i[live], j[live], orientation)
    ok[live] = scores.accepted()
    best[live] = scores.best
    return ok, best


def _candidates(
    records: Sequence[ImageRecord], settings: Settings, usable: npt.NDArray[np.int64]
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]]:
    """Pairs (i, j, orientation) among the `usable` records within the radius: record j seen
    under the orientation is within settings.max_distance bits of record i. In parts of a
    few million pairs at most (see BKTree.iter_pairs_within): at a loose threshold the
    candidates can outnumber the images a thousand times, and only the verified ones are kept."""
    from dedupe.bktree import BKTree  # numba: imported when there is something to search

    radius = settings.max_distance
    chosen = [records[k] for k in usable.tolist()]
    codes = codes_array([r.hash for r in chosen], settings.hash_size)
    tree = BKTree.build(codes)
    for i, j, _ in tree.iter_pairs_within(radius):
        for lo in range(0, len(i), _PAIRS):  # bounds the verification's temporary arrays
            yield usable[i[lo : lo + _PAIRS]], usable[j[lo : lo + _PAIRS]], 1
    if settings.rotations and len(chosen):
        words = settings.hash_size * settings.hash_size // 64
        packed = b"".join(r.fingerprint.variant_bits for r in chosen)
        if len(packed) != len(chosen) * 7 * words * 8:
            raise ValueError("--rotations needs the 7 orientation hashes of every image")
        every = np.frombuffer(packed, dtype=">u8").reshape(len(chosen), 7, words)
        del packed
        for k in range(2, 9):
            variants = np.ascontiguousarray(every[:, k - 2, :], dtype=np.uint64)
            for lo in range(0, len(variants), _QUERIES):
                q, s, _ = tree.query_many(variants[lo : lo + _QUERIES], radius)
                q = q.astype(np.int64) + lo
                mask = q != s
                # stored record s is near record q seen under orientation k
                yield usable[s[mask]], usable[q[mask]], k


class _Anchors:
    """Per group the member that represents it: a pair joins two groups only when their anchors
    also pass verification, so a chain of individually plausible pairs cannot join two different
    pictures. Between two single files the one with more pixels (then the larger file, then the
    first path) becomes the anchor; a joined group keeps the larger group's anchor."""

    def __init__(
        self,
        records: Sequence[ImageRecord],
        thumbs: verify.Thumbs,
        rotations: bool,
    ) -> None:
        self.records = records
        self.thumbs = thumbs
        self.anchor = list(range(len(records)))
        self.orientations = range(1, 9) if rotations else range(1, 2)

    def better(self, a: int, b: int) -> int:
        ra, rb = self.records[a], self.records[b]
        ka, kb = (ra.pixels, ra.size), (rb.pixels, rb.size)
        if ka != kb:
            return a if ka > kb else b
        return min(a, b)  # records are sorted by path

    def merged(self, a: int, size_a: int, b: int, size_b: int) -> int:
        """The anchor of two joined groups: the larger group's. Pairs are joined strongest
        first, so a group grows around its closest pair (typically copies that did not change
        the geometry), and its anchor stays one of them."""
        if size_a != size_b:
            return a if size_a > size_b else b
        return self.better(a, b)

    def match(self, a: int, b: int) -> bool:
        """Whether anchors a and b pass verification (under any allowed orientation of b)."""
        i, j = np.array([a]), np.array([b])
        return any(
            bool(verify.score_pairs(self.thumbs, i, j, k).accepted()[0]) for k in self.orientations
        )


def cluster(
    records: Sequence[ImageRecord],
    settings: Settings,
    *,
    distinct: frozenset[tuple[str, str]] = frozenset(),
) -> Clusters:
    """Group records: exact copies, plus verified perceptual matches within the threshold.

    Verified pairs are joined strongest first. Joining two groups of several files also needs
    their anchors (see _Anchors) to pass verification. `distinct` holds path pairs (sorted) a
    person marked "not duplicates": never joined directly.
    """
    n = len(records)
    uf = UnionFind(n)
    signatures = verify.signature_array([r.fingerprint.check for r in records])
    thumbs = verify.Thumbs.from_signatures(signatures)  # a view: no copy of the pixels
    low_info = verify.low_information_rows(signatures)
    anchors = _Anchors(records, thumbs, settings.rotations)
    by_digest: dict[str, int] = {}
    for index, record in enumerate(records):
        first = by_digest.setdefault(record.fingerprint.digest, index)
        if first != index and not _is_distinct(records, first, index, distinct):
            root_a, root_b = uf.find(first), uf.find(index)
            if uf.union(first, index):
                kept = anchors.better(anchors.anchor[root_a], anchors.anchor[root_b])
                anchors.anchor[uf.find(first)] = kept

    candidates = rejected = 0
    found_i, found_j, found_score = [], [], []
    # Blank and near-blank images only ever match as byte copies: they are not even searched.
    usable = np.flatnonzero(~low_info).astype(np.int64)
    for i, j, orientation in _candidates(records, settings, usable):
        candidates += len(i)
        ok, best = _verify(thumbs, low_info, i, j, orientation)
        rejected += int(len(i) - ok.sum())
        found_i.append(i[ok])
        found_j.append(j[ok])
        found_score.append(best[ok])
    edge_i = np.concatenate(found_i) if found_i else np.zeros(0, np.int64)
    edge_j = np.concatenate(found_j) if found_j else np.zeros(0, np.int64)
    edge_score = np.concatenate(found_score) if found_score else np.zeros(0, np.float32)
    low, high = np.minimum(edge_i, edge_j), np.maximum(edge_i, edge_j)
    order = np.lexsort((high, low, -edge_score))  # strongest first, then by index: deterministic

    blocked = 0
    for a, b in zip(low[order].tolist(), high[order].tolist(), strict=True):
        root_a, root_b = uf.find(a), uf.find(b)
        if root_a == root_b or (distinct and _is_distinct(records, a, b, distinct)):
            continue
        anchor_a, anchor_b = anchors.anchor[root_a], anchors.anchor[root_b]
        if {anchor_a, anchor_b} != {a, b} and not anchors.match(anchor_a, anchor_b):
            blocked += 1
            continue
        size_a, size_b = uf.size[root_a], uf.size[root_b]
        uf.union(a, b)
        anchors.anchor[uf.find(a)] = anchors.merged(anchor_a, size_a, anchor_b, size_b)

    groups = tuple(tuple(members) for members in uf.components())
    max_distances = tuple(group_max_distance([records[m] for m in g], settings) for g in groups)
    return Clusters(groups, max_distances, candidates, rejected, blocked)


def warm_up() -> None:
    """Load the compiled kernels (numba and its on-disk cache, about a second) ahead of the
    first grouping: a scan runs this while its workers decode."""
    from dedupe.bktree import BKTree  # numba

    tree = BKTree.build(np.zeros((2, 1), dtype=np.uint64))
    for _ in tree.iter_pairs_within(1):
        pass
    tree.query_many(np.zeros((1, 1), dtype=np.uint64), 1)
    thumbs = verify.Thumbs.of(np.zeros((2, verify.PIXELS), dtype=np.uint8))
    verify.score_pairs(thumbs, np.array([0]), np.array([1]))


def _is_distinct(
    records: Sequence[ImageRecord], a: int, b: int, distinct: frozenset[tuple[str, str]]
) -> bool:
    if not distinct:
        return False
    pa, pb = records[a].path, records[b].path
    return (min(pa, pb), max(pa, pb)) in distinct


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
    same: float  # thumbnail correlation as they are (b under `orientation`)
    best: float  # best correlation over the zoom and turn hypotheses
    low_information: tuple[bool, bool]
    verified: bool  # the check in verify.py accepts the pair (under `orientation`)
    grouped: bool  # settings would put the two in one group


def check_pair(a: ImageRecord, b: ImageRecord, settings: Settings) -> PairCheck:
    """Judge one pair exactly as cluster() judges a candidate: distance, then verification."""
    thumbs = verify.thumbnails([a.fingerprint.check, b.fingerprint.check])
    low = verify.low_information([a.fingerprint.check, b.fingerprint.check])
    orientations = range(1, 9) if settings.rotations else range(1, 2)
    perms = verify.orientation_permutations()
    scores = verify.score(
        np.repeat(thumbs[:1], len(orientations), axis=0),
        np.stack([thumbs[1][perms[k]] for k in orientations]),
    )
    accepted = scores.accepted() & ~low[0] & ~low[1]
    distances = [
        a.hash - (b.hash if k == 1 else b.fingerprint.variants[k - 2]) for k in orientations
    ]
    radius = settings.max_distance
    # the verdict is about the first orientation that groups them, else the closest one
    grouping = [n for n, d in enumerate(distances) if d <= radius and accepted[n]]
    n = grouping[0] if grouping else int(np.argmin(distances))
    exact = a.fingerprint.digest == b.fingerprint.digest
    return PairCheck(
        exact=exact,
        distance=distances[0],
        orientation=orientations[n],
        oriented_distance=distances[n],
        same=float(scores.same[n]),
        best=float(scores.best[n]),
        low_information=(bool(low[0]), bool(low[1])),
        verified=bool(accepted[n]),
        grouped=exact or bool(grouping),
    )
