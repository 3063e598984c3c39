"""From hashes to groups: threshold -> candidate pairs (BK-tree) -> verification -> union-find.

Exact byte copies (same content digest) are always joined. Perceptual candidates come from the
BK-tree at the rate threshold and are joined only when the independent check in verify.py
accepts them, so A~B and B~C cannot drag an unrelated C into A's group through the hash alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe import verify
from dedupe.bktree import BKTree, pairs_within
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
        members: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            members.setdefault(self.find(x), []).append(x)
        return [m for m in members.values() if len(m) > 1]


@dataclass(frozen=True, slots=True)
class Clusters:
    """Groups as lists of record indices, plus per-group largest pairwise hash distance."""

    groups: tuple[tuple[int, ...], ...]
    max_distances: tuple[int, ...]
    candidates: int
    rejected: int


# Orientation k (2..8) as a permutation of the flattened check thumbnail.
def _orientation_permutations() -> dict[int, npt.NDArray[np.intp]]:
    index = np.arange(verify.SIZE * verify.SIZE).reshape(verify.SIZE, verify.SIZE)
    return {k: np.ascontiguousarray(f(index)).reshape(-1) for k, f in verify.ORIENT.items()}


def _normalised_checks(
    records: Sequence[ImageRecord],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    n = len(records)
    size = verify.SIZE * verify.SIZE
    raw = np.frombuffer(b"".join(r.fingerprint.check for r in records), dtype=np.uint8)
    x = raw.reshape(n, size).astype(np.float32) if n else np.zeros((0, size), np.float32)
    std = x.std(axis=1)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return x, std < verify.MIN_DETAIL


def _verified(
    checks: npt.NDArray[np.float32],
    low_info: npt.NDArray[np.bool_],
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    orientation: int,
) -> npt.NDArray[np.bool_]:
    """Vectorised verify.accept for pairs (i, j), with j seen under `orientation`."""
    if len(i) == 0:
        return np.zeros(0, dtype=bool)
    perm = _orientation_permutations()[orientation]
    keep = np.empty(len(i), dtype=bool)
    for start in range(0, len(i), 65536):
        a = checks[i[start : start + 65536]]
        b = checks[j[start : start + 65536]][:, perm]
        corr = (a * b).sum(axis=1)
        keep[start : start + 65536] = corr >= verify.MIN_CORRELATION - 1e-6
    return keep & ~low_info[i] & ~low_info[j]


def cluster(
    records: Sequence[ImageRecord],
    settings: Settings,
    *,
    distinct: frozenset[tuple[str, str]] = frozenset(),
) -> Clusters:
    """Group records: exact copies, plus verified perceptual matches within the threshold.

    `distinct` holds path pairs (sorted) a person marked "not duplicates": never joined directly.
    """
    n = len(records)
    uf = UnionFind(n)
    by_digest: dict[str, int] = {}
    for index, record in enumerate(records):
        first = by_digest.setdefault(record.fingerprint.digest, index)
        if first != index and not _is_distinct(records, first, index, distinct):
            uf.union(first, index)

    radius = settings.max_distance
    codes = codes_array([r.hash for r in records], settings.hash_size)
    checks, low_info = _normalised_checks(records)
    candidates = rejected = 0
    batches: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]] = []
    i, j, _ = pairs_within(codes, radius)
    batches.append((i, j, 1))
    if settings.rotations and n:
        tree = BKTree.build(codes)
        for k in range(2, 9):
            variants = codes_array(
                [r.fingerprint.variants[k - 2] for r in records], settings.hash_size
            )
            q, s, _ = tree.query_many(variants, radius)
            mask = q != s
            # stored record s matches record q seen under orientation k
            batches.append((s[mask], q[mask], k))
    for i, j, orientation in batches:
        candidates += len(i)
        ok = _verified(checks, low_info, i, j, orientation)
        rejected += int(len(i) - ok.sum())
        for a, b in zip(i[ok].tolist(), j[ok].tolist(), strict=True):
            if distinct and _is_distinct(records, a, b, distinct):
                continue
            uf.union(a, b)

    groups = tuple(tuple(members) for members in uf.components())
    max_distances = tuple(group_max_distance([records[m] for m in g], settings) for g in groups)
    return Clusters(groups, max_distances, candidates, rejected)


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
