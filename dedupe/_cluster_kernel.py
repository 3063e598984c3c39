"""The compiled part of cluster.py: joining verified pairs into groups, anchors checked inline.

Pairs are joined one at a time, strongest first, and joining two groups of several files needs
their anchors to pass the check in verify.py: each decision depends on the ones before it, so
the loop is sequential. In Python it cost a call into the scorer per anchor check (about 0.1 ms:
half a second for a 100k-image library); here the check is a direct call of the same scoring
pass (_verify_kernel.score_pass) on the same thumbnails, and the verdict is Scores.accepted's
rule in the same float32 arithmetic.

Kept apart so that importing cluster.py does not import numba.
"""

from __future__ import annotations

import numpy as np

from dedupe._verify_kernel import _njit, score_pass


@_njit
def _find(parent: np.ndarray, x: int) -> int:
    """Root of x, with path halving (as cluster.UnionFind.find)."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@_njit
def _better(a: int, b: int, pixels: np.ndarray, sizes: np.ndarray) -> int:
    """Of two files, the one with more pixels, then the larger file, then the smaller index."""
    if pixels[a] != pixels[b]:
        return a if pixels[a] > pixels[b] else b
    if sizes[a] != sizes[b]:
        return a if sizes[a] > sizes[b] else b
    return min(a, b)


@_njit
def accepted(same: float, best: float, same_geometry: float, edited: float, gain: float) -> bool:
    """verify.Scores.accepted for one pair whose scores are float32, compared in float32."""
    s = np.float32(same)
    b = np.float32(best)
    if s >= np.float32(same_geometry):
        return True
    return bool(b >= np.float32(edited) and np.float32(b - s) >= np.float32(gain))


# What matches() reads, as one tuple (numba takes tuples of arrays): thumbnails, their
# per-row sums (verify.Thumbs), the orientation permutations (perms[k] is orientation k,
# perms[1] the identity), the orientations allowed, every hypothesis and the zooms, the warp
# tables (verify.tables) and the thresholds: same geometry, edited geometry, gain.
Check = tuple[np.ndarray, ...]


@_njit
def matches(check: Check, x: int, y: int) -> bool:
    """Whether thumbnails x and y pass the check, y under any of the allowed orientations:
    exactly verify.score_pairs on the pair (x, y), then Scores.accepted."""
    thumbs, stats, perms, orientations, every, zooms, index, weight, mask, counts, limits = check
    key = np.empty(1, np.int64)
    other = np.empty(1, np.int64)
    order = np.zeros(1, np.int64)
    same = np.zeros(1, np.float32)
    best = np.zeros(1, np.float32)
    no_proj = np.empty((0, 1, 1), np.int16)  # no bounds: every hypothesis is computed
    no_resid = np.empty((0, 1), np.int16)
    identity = perms[1]
    for t in range(orientations.shape[0]):
        k = orientations[t]
        same[0] = 0.0
        best[0] = 0.0
        key[0] = x
        other[0] = y
        score_pass(
            thumbs, stats, key, other, order, 0, 1, identity, perms[k], k == 1, every,
            index, weight, mask, counts, True, limits[0], same, best, no_proj, no_resid, 0.0,
        )  # fmt: skip
        key[0] = y
        other[0] = x
        score_pass(
            thumbs, stats, key, other, order, 0, 1, perms[k], identity, True, zooms,
            index, weight, mask, counts, False, limits[0], same, best, no_proj, no_resid, 0.0,
        )  # fmt: skip
        if accepted(same[0], best[0], limits[0], limits[1], limits[2]):
            return True
    return False


@_njit
def join(
    low: np.ndarray,
    high: np.ndarray,
    forced: bool,
    parent: np.ndarray,
    size: np.ndarray,
    anchor: np.ndarray,
    pixels: np.ndarray,
    sizes: np.ndarray,
    check: Check,
) -> int:
    """Join pairs (low[e], high[e]) in order into the union-find (parent, size) and keep each
    group's anchor (``anchor[root]``); returns how many pairs were blocked.

    Forced pairs (byte copies) always join, and its group's anchor becomes the better of the
    two (see _better). A single file joins a group on its verified pair; a pair joins two
    groups of several files only when their anchors are the pair itself or pass the screen
    (see matches). The joined group keeps the anchor of the larger group, or the better one
    when they are the same size. (The groups are split around their keepers afterwards,
    groups.py: a file proposed for trash is always checked against the kept one.)
    """
    blocked = 0
    for e in range(low.shape[0]):
        a = low[e]
        b = high[e]
        root_a = _find(parent, a)
        root_b = _find(parent, b)
        if root_a == root_b:
            continue
        anchor_a = anchor[root_a]
        anchor_b = anchor[root_b]
        size_a = size[root_a]
        size_b = size[root_b]
        if forced:
            kept = _better(anchor_a, anchor_b, pixels, sizes)
        else:
            several = size_a > 1 and size_b > 1  # a single file joins on its verified pair
            if (
                several
                and not (anchor_a == a and anchor_b == b)
                and not matches(check, anchor_a, anchor_b)
            ):
                blocked += 1
                continue
            if size_a != size_b:
                kept = anchor_a if size_a > size_b else anchor_b
            else:
                kept = _better(anchor_a, anchor_b, pixels, sizes)
        # union by size; on a tie the root of a stays the root
        if size_a < size_b:
            root_a, root_b = root_b, root_a
        parent[root_b] = root_a
        size[root_a] += size[root_b]
        anchor[root_a] = kept
    return blocked
