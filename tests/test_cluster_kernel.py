"""The compiled join (dedupe/_cluster_kernel.py) against plain Python: the anchor check gives
verify.score_pairs' verdict, and joining gives what the straightforward loop gives."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from dedupe import _cluster_kernel as kernel
from dedupe import verify
from dedupe.cluster import UnionFind


def thumbnails(seed: int, n: int) -> npt.NDArray[np.uint8]:
    """Smooth random pictures and noisy, shifted and dimmed copies of them: pairs land on both
    sides of the check's thresholds, some near them."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (n, 4, 4))
    big = np.kron(base, np.ones((4, 4)))  # 16x16 blocks
    smooth = (big + np.roll(big, 1, axis=1) + np.roll(big, 1, axis=2)) / 3
    pictures = 128 + 40 * smooth.reshape(n, verify.PIXELS)
    # every other picture: a copy of the one before, with noise of varying strength
    for k in range(1, n, 2):
        noise = rng.uniform(0, 12)
        pictures[k] = pictures[k - 1] * rng.uniform(0.8, 1.1) + rng.normal(0, noise, verify.PIXELS)
    return np.clip(pictures, 0, 255).astype(np.uint8)


def prepared(gray: npt.NDArray[np.uint8]) -> tuple[verify.Thumbs, tuple[npt.NDArray, ...]]:
    """Thumbs as cluster() makes them (views of signature rows) and the kernel's tables."""
    signatures = np.zeros((len(gray), verify.SIGNATURE_BYTES), np.uint8)
    signatures[:, : verify.PIXELS] = gray
    thumbs = verify.Thumbs.from_signatures(signatures)
    perms = np.stack([verify.orientation_permutations()[k] for k in range(1, 9)])
    perms = np.concatenate([perms[:1], perms]).astype(np.int64)
    index, weight, mask, counts, zooms = verify.tables()
    every = np.arange(len(counts), dtype=np.int64)
    thresholds = np.array(
        [verify.SAME_GEOMETRY, verify.EDITED_GEOMETRY, verify.GEOMETRY_GAIN], dtype=np.float64
    )
    return thumbs, (perms, every, zooms, index, weight, mask, counts, thresholds)


def kernel_matches(
    thumbs: verify.Thumbs, tables: tuple[npt.NDArray, ...], x: int, y: int, orientations: list[int]
) -> bool:
    perms, every, zooms, index, weight, mask, counts, thresholds = tables
    return bool(
        kernel.matches(
            thumbs.gray,
            thumbs.sums,
            x,
            y,
            perms,
            np.array(orientations, dtype=np.int64),
            every,
            zooms,
            index,
            weight,
            mask,
            counts,
            thresholds,
        )
    )


def python_matches(thumbs: verify.Thumbs, x: int, y: int, orientations: list[int]) -> bool:
    i, j = np.array([x]), np.array([y])
    return any(bool(verify.score_pairs(thumbs, i, j, k).accepted()[0]) for k in orientations)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_anchor_check_gives_score_pairs_verdict(seed: int) -> None:
    gray = thumbnails(seed, 120)
    thumbs, tables = prepared(gray)
    rng = np.random.default_rng(seed)
    pairs = [(k - 1, k) for k in range(1, 120, 2)]  # copies, some too noisy
    pairs += [tuple(int(v) for v in rng.choice(120, 2, replace=False)) for _ in range(80)]
    verdicts = []
    for x, y in pairs:
        for orientations in ([1], [3], [6], list(range(1, 9))):
            expected = python_matches(thumbs, x, y, orientations)
            assert kernel_matches(thumbs, tables, x, y, orientations) == expected, (x, y)
            verdicts.append(expected)
    assert 0 < sum(verdicts) < len(verdicts)  # both verdicts occur


def python_join(
    thumbs: verify.Thumbs,
    edges: list[tuple[int, int]],
    forced: bool,
    uf: UnionFind,
    anchor: list[int],
    pixels: list[int],
    sizes: list[int],
) -> int:
    """The joining rule, written plainly (as cluster.py had it before it was compiled)."""

    def better(a: int, b: int) -> int:
        ka, kb = (pixels[a], sizes[a]), (pixels[b], sizes[b])
        return (a if ka > kb else b) if ka != kb else min(a, b)

    blocked = 0
    for a, b in edges:
        root_a, root_b = uf.find(a), uf.find(b)
        if root_a == root_b:
            continue
        anchor_a, anchor_b = anchor[root_a], anchor[root_b]
        size_a, size_b = int(uf.size[root_a]), int(uf.size[root_b])
        if forced:
            kept = better(anchor_a, anchor_b)
        else:
            if {anchor_a, anchor_b} != {a, b} and not python_matches(
                thumbs, anchor_a, anchor_b, [1]
            ):
                blocked += 1
                continue
            kept = (anchor_a if size_a > size_b else anchor_b) if size_a != size_b else None
            kept = better(anchor_a, anchor_b) if kept is None else kept
        uf.union(a, b)
        anchor[uf.find(a)] = kept
    return blocked


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_joining_matches_the_plain_loop(seed: int) -> None:
    n = 60
    gray = thumbnails(seed, n)
    thumbs, tables = prepared(gray)
    perms, every, zooms, index, weight, mask, counts, thresholds = tables
    rng = np.random.default_rng(seed)
    pixels = rng.choice([100, 200, 300], n).tolist()
    sizes = rng.integers(1, 4, n).tolist()
    forced_edges = [
        tuple(sorted(int(v) for v in rng.choice(n, 2, replace=False))) for _ in range(8)
    ]
    edges = [tuple(sorted(int(v) for v in rng.choice(n, 2, replace=False))) for _ in range(150)]

    reference, reference_anchor = UnionFind(n), list(range(n))
    expected = [
        python_join(thumbs, forced_edges, True, reference, reference_anchor, pixels, sizes),
        python_join(thumbs, edges, False, reference, reference_anchor, pixels, sizes),
    ]

    uf, anchor = UnionFind(n), np.arange(n, dtype=np.int64)
    got = []
    for chosen, forced in ((forced_edges, True), (edges, False)):
        low = np.array([a for a, _ in chosen], dtype=np.int64)
        high = np.array([b for _, b in chosen], dtype=np.int64)
        got.append(
            kernel.join(
                low,
                high,
                np.full(len(low), forced),
                uf.parent,
                uf.size,
                anchor,
                np.array(pixels, dtype=np.int64),
                np.array(sizes, dtype=np.int64),
                thumbs.gray,
                thumbs.sums,
                perms,
                np.array([1], dtype=np.int64),
                every,
                zooms,
                index,
                weight,
                mask,
                counts,
                thresholds,
            )
        )
    assert got == expected
    assert expected[1] > 0  # some joins were blocked by their anchors: the rule was exercised
    assert uf.components() == reference.components()
    roots = {reference.find(k) for k in range(n)}
    assert {r: int(anchor[uf.find(r)]) for r in roots} == {r: reference_anchor[r] for r in roots}
