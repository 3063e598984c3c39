"""The compiled join (dedupe/_cluster_kernel.py) against plain Python: the anchor check gives
verify.score_pairs' verdict, and joining gives what the straightforward loop gives."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from dedupe import _cluster_kernel as kernel
from dedupe import verify
from dedupe.cluster import UnionFind, kernel_check


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


def prepared(gray: npt.NDArray[np.uint8]) -> verify.Thumbs:
    """Thumbs as cluster() makes them: views of signature rows."""
    signatures = np.zeros((len(gray), verify.SIGNATURE_BYTES), np.uint8)
    signatures[:, : verify.PIXELS] = gray
    return verify.Thumbs.from_signatures(signatures)


def kernel_matches(thumbs: verify.Thumbs, x: int, y: int, orientations: list[int]) -> bool:
    check = kernel_check(thumbs, np.array(orientations, dtype=np.int64))
    return bool(kernel.matches(check, x, y))


def random_pairs(rng: np.random.Generator, n: int, count: int) -> list[tuple[int, int]]:
    """`count` pairs (a, b) of distinct indices below n, a < b."""
    pairs = np.sort(np.array([rng.choice(n, 2, replace=False) for _ in range(count)]), axis=1)
    return [(int(a), int(b)) for a, b in pairs]


def python_matches(thumbs: verify.Thumbs, x: int, y: int, orientations: list[int]) -> bool:
    i, j = np.array([x]), np.array([y])
    return any(bool(verify.score_pairs(thumbs, i, j, k).accepted()[0]) for k in orientations)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_anchor_check_gives_score_pairs_verdict(seed: int) -> None:
    gray = thumbnails(seed, 120)
    thumbs = prepared(gray)
    rng = np.random.default_rng(seed)
    pairs = [(k - 1, k) for k in range(1, 120, 2)]  # copies, some too noisy
    pairs += random_pairs(rng, 120, 80)
    verdicts = []
    for x, y in pairs:
        for orientations in ([1], [3], [6], list(range(1, 9))):
            expected = python_matches(thumbs, x, y, orientations)
            assert kernel_matches(thumbs, x, y, orientations) == expected, (x, y)
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
            if size_a != size_b:
                kept = anchor_a if size_a > size_b else anchor_b
            else:
                kept = better(anchor_a, anchor_b)
        uf.union(a, b)
        anchor[uf.find(a)] = kept
    return blocked


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_joining_matches_the_plain_loop(seed: int) -> None:
    n = 60
    gray = thumbnails(seed, n)
    thumbs = prepared(gray)
    check = kernel_check(thumbs, np.array([1], dtype=np.int64))
    rng = np.random.default_rng(seed)
    pixels = rng.choice([100, 200, 300], n).tolist()
    sizes = rng.integers(1, 4, n).tolist()
    forced_edges = random_pairs(rng, n, 8)
    edges = random_pairs(rng, n, 150)

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
                forced,
                uf.parent,
                uf.size,
                anchor,
                np.array(pixels, dtype=np.int64),
                np.array(sizes, dtype=np.int64),
                check,
            )
        )
    assert got == expected
    assert expected[1] > 0  # some joins were blocked by their anchors: the rule was exercised
    assert uf.components() == reference.components()
    roots = {reference.find(k) for k in range(n)}
    assert {r: int(anchor[uf.find(r)]) for r in roots} == {r: reference_anchor[r] for r in roots}
