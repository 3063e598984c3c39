"""The compiled grouping against plain Python and numpy: the compiled join
(dedupe/_cluster_kernel.py) and cluster.join_plain do what the straightforward loop does, the
anchor check gives verify.score_pairs' verdict, the numpy scoring equals the kernel's, the
brute-force search finds what the BK-tree finds, and cluster() groups alike either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from cluster_helpers import check_of, same_clusters

from dedupe import _cluster_kernel as kernel
from dedupe import cluster, verify
from dedupe.bktree import BKTree, pairs_within
from dedupe.cluster import UnionFind, join_plain, kernel_check, matches_plain
from dedupe.hashing import ImageHash
from dedupe.models import Fingerprint, ImageRecord, Settings


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
    return any(
        bool(verify.score_pairs(thumbs, i, j, k, compiled=True).accepted()[0]) for k in orientations
    )


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
            plain = matches_plain(thumbs, x, y, np.array(orientations, dtype=np.int64))
            assert plain == expected, (x, y)
            verdicts.append(expected)
    assert 0 < sum(verdicts) < len(verdicts)  # both verdicts occur


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_joining_matches_the_plain_loop(seed: int) -> None:
    """kernel.join against cluster.join_plain, the rule written plainly in Python (as
    cluster.py had it before it was compiled), with the kernel's anchor check (score_pairs'
    verdict) and with the numpy one that small libraries use."""
    n = 60
    gray = thumbnails(seed, n)
    thumbs = prepared(gray)
    check = kernel_check(thumbs, np.array([1], dtype=np.int64))
    rng = np.random.default_rng(seed)
    pixels = rng.choice([100, 200, 300], n)
    sizes = rng.integers(1, 4, n)
    runs = [(random_pairs(rng, n, 8), True), (random_pairs(rng, n, 150), False)]

    def joined(
        join: Callable[..., int], *extra: Any
    ) -> tuple[list[int], list[list[int]], dict[int, int]]:
        uf, anchor = UnionFind(n), np.arange(n, dtype=np.int64)
        blocked = [
            int(
                join(
                    np.array([a for a, _ in edges], dtype=np.int64),
                    np.array([b for _, b in edges], dtype=np.int64),
                    forced,
                    *(uf.parent, uf.size) if join is kernel.join else (uf,),
                    anchor,
                    pixels,
                    sizes,
                    *extra,
                )
            )
            for edges, forced in runs
        ]
        anchors = {uf.find(k): int(anchor[uf.find(k)]) for k in range(n)}
        return blocked, uf.components(), anchors

    one = np.array([1], dtype=np.int64)
    expected = joined(join_plain, lambda x, y: python_matches(thumbs, x, y, [1]))
    assert expected[0][1] > 0  # some joins were blocked by their anchors: the rule was exercised
    assert joined(kernel.join, check) == expected
    assert joined(join_plain, lambda x, y: matches_plain(thumbs, x, y, one)) == expected


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_numpy_scores_equal_the_kernels(orientation: int) -> None:
    gray = thumbnails(8, 300)
    rng = np.random.default_rng(orientation)
    i = np.concatenate([np.arange(0, 300, 2), rng.integers(0, 300, 700), [5, 5]])
    j = np.concatenate([np.arange(1, 300, 2), rng.integers(0, 300, 700), [5, 6]])
    compiled, plain = verify.Thumbs.of(gray, compiled=True), verify.Thumbs.of(gray, compiled=False)
    np.testing.assert_allclose(plain.sums, compiled.sums, rtol=1e-12)
    expected = verify.score_pairs(compiled, i, j, orientation, compiled=True)
    got = verify.score_pairs(plain, i, j, orientation, compiled=False)
    np.testing.assert_allclose(got.same, expected.same, atol=1e-6)
    np.testing.assert_allclose(got.best, expected.best, atol=1e-6)
    assert np.array_equal(got.accepted(), expected.accepted())
    if orientation == 1:  # the copies: both verdicts occur, through both branches of the rule
        assert 0 < expected.accepted().sum() < len(i)
        assert (expected.best > expected.same).any()


@pytest.mark.parametrize(("words", "radius"), [(1, 0), (1, 5), (1, 12), (4, 40), (1, 64)])
def test_brute_force_search_finds_what_the_tree_finds(words: int, radius: int) -> None:
    rng = np.random.default_rng(words * 100 + radius)
    centres = rng.integers(0, 2**63, (30, words), dtype=np.uint64)
    codes = centres[rng.integers(0, 30, 700)]
    flips = rng.integers(0, 64, (700, words, 6))
    for k in range(6):  # up to 6 bits flipped per word: clusters with near and far pairs
        bit = np.left_shift(np.uint64(1), flips[:, :, k].astype(np.uint64))
        codes = np.where(rng.random((700, words)) < 0.5, codes ^ bit, codes)
    codes = np.ascontiguousarray(codes)
    i, j, d = pairs_within(codes, radius)
    expected = set(
        zip(np.minimum(i, j).tolist(), np.maximum(i, j).tolist(), d.tolist(), strict=True)
    )
    q, s, bd = cluster._within(codes, codes, radius, upper=True)
    assert sorted(zip(q.tolist(), s.tolist(), bd.tolist(), strict=True)) == sorted(expected)
    queries = np.ascontiguousarray(codes[::7] ^ np.uint64(0b1011))
    tq, ts, td = BKTree.build(codes).query_many(queries, radius)
    q, s, bd = cluster._within(queries, codes, radius, upper=False)
    assert sorted(zip(q.tolist(), s.tolist(), bd.tolist(), strict=True)) == sorted(
        zip(tq.tolist(), ts.tolist(), td.tolist(), strict=True)
    )
    assert 0 < len(expected) < 700 * 699 // 2 or radius in (0, 64)


def library_records(seed: int, n: int) -> list[ImageRecord]:
    """n records shaped like a photo library's: runs of four pictures, each a noisy, dimmed
    or brightened copy of the one before (so the last of a run may no longer match its first:
    anchors block joins), their hashes a few bits apart; some byte copies; orientation hashes
    near each picture's own hash (candidates the check must turn down)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (n, 4, 4))
    big = np.kron(base, np.ones((4, 4)))  # 16x16 blocks
    smooth = (big + np.roll(big, 1, axis=1) + np.roll(big, 1, axis=2)) / 3
    pictures = 128 + 40 * smooth.reshape(n, verify.PIXELS)
    records: list[ImageRecord] = []
    for k in range(n):
        if k % 4:
            noise = rng.normal(0, rng.uniform(0, 9), verify.PIXELS)
            pictures[k] = pictures[k - 1] * rng.uniform(0.9, 1.1) + noise
            flips = int(rng.integers(0, 2**4)) << int(rng.integers(0, 60))
            bits = records[-1].hash.bits ^ flips
        else:
            bits = int(rng.integers(0, 2**62))
        copy = k % 13 == 12  # the same bytes as the file before
        gray = np.clip(pictures[k], 0, 255).astype(np.uint8)
        fingerprint = Fingerprint(
            width=int(rng.choice([100, 200])),
            height=100,
            format="JPEG",
            digest=records[-1].fingerprint.digest if copy else f"{k:064x}",
            hash=records[-1].hash if copy else ImageHash(bits, 8),
            variant_bits=Fingerprint.pack_variants(
                ImageHash(bits ^ (int(rng.integers(0, 2**8)) << (7 * t)), 8) for t in range(7)
            ),
            check=records[-1].fingerprint.check if copy else check_of(gray),
        )
        records.append(ImageRecord(f"f{k:04d}.jpg", int(rng.integers(1, 9)), 0, 0, k, fingerprint))
    return records


@pytest.mark.parametrize(
    ("seed", "threshold", "rotations"), [(1, 0.1, False), (2, 0.2, True), (3, 0.3, False)]
)
def test_plain_and_compiled_grouping_agree(seed: int, threshold: float, rotations: bool) -> None:
    records = library_records(seed, 400)
    settings = Settings("dhash", 8, threshold, rotations=rotations)
    distinct = frozenset({(records[0].path, records[1].path), (records[2].path, records[3].path)})
    compiled = cluster.cluster(records, settings, distinct=distinct, compiled=True)
    plain = cluster.cluster(records, settings, distinct=distinct, compiled=False)
    assert same_clusters(plain, compiled)
    assert compiled.groups and compiled.rejected and compiled.candidates > compiled.rejected
    assert any(len(g) > 2 for g in compiled.groups)


def test_a_small_library_with_many_candidates_is_checked_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Below COMPILED_FROM images, plain Python joins, unless the candidates are so many
    (COMPILED_CANDIDATES) that loading the compiled kernels pays; the groups are the same."""
    records = library_records(4, 200)
    settings = Settings("dhash", 8, 0.15)
    plain_joins: list[bool] = []
    real = cluster.join_plain

    def spy(*args: Any) -> int:
        plain_joins.append(True)
        return real(*args)

    monkeypatch.setattr(cluster, "join_plain", spy)
    expected = cluster.cluster(records, settings, compiled=True)
    assert not plain_joins
    assert same_clusters(cluster.cluster(records, settings), expected)
    assert plain_joins and expected.candidates < cluster.COMPILED_CANDIDATES
    plain_joins.clear()
    monkeypatch.setattr(cluster, "COMPILED_CANDIDATES", expected.candidates)
    assert same_clusters(cluster.cluster(records, settings), expected)
    assert not plain_joins


def test_the_bounds_are_upper_bounds_of_every_correlation() -> None:
    """The pruning bound (_verify_kernel._bound over Thumbs.bounds) is never below the exact
    correlation of a warped view with the other thumbnail as it is, for every hypothesis,
    on copies (correlations near 1) and different pictures alike; and it is tight enough to
    rule most hypotheses of different pictures out."""
    from dedupe import _verify_kernel

    gray = thumbnails(9, 200)
    thumbs = verify.Thumbs.of(gray, compiled=True)
    proj, resid = thumbs.bounds()
    counts = verify.tables()[3]
    hypotheses = len(counts)
    rng = np.random.default_rng(9)
    pairs = [(k - 1, k) for k in range(1, 200, 2)] + random_pairs(rng, 200, 300)
    i = np.array([a for a, _ in pairs])
    j = np.array([b for _, b in pairs])
    views, sx, sxx = verify._views(gray[i].astype(np.float32), np.arange(hypotheses))
    y = gray[j].astype(np.float64)
    exact = verify._pearson(
        sx,
        thumbs.sums[j, :hypotheses, 0],
        sxx,
        thumbs.sums[j, :hypotheses, 1],
        np.einsum("mhp,mp->mh", views, y),
        counts,
    )
    bound = np.array(
        [
            [_verify_kernel._bound(proj, resid, a, h, b, hypotheses) for h in range(hypotheses)]
            for a, b in pairs
        ]
    )
    assert (bound >= exact - verify._BOUND_MARGIN).all()
    assert exact.max() > 0.99  # copies: the bound holds near 1 too
    different = np.array([a // 2 != b // 2 for a, b in pairs])
    assert (bound[different] < verify.EDITED_GEOMETRY).mean() > 0.5
    # the whole thumbnails as they are (the plain correlation)
    plain = verify.score_pairs(thumbs, i, j, compiled=True).same
    whole = hypotheses + 1
    bound = np.array([_verify_kernel._bound(proj, resid, a, whole, b, whole) for a, b in pairs])
    assert (bound >= plain - verify._BOUND_MARGIN).all() and plain.max() > 0.99
    assert (bound[different] < verify.EDITED_GEOMETRY).mean() > 0.5


@pytest.mark.parametrize("seed", [10, 11])
def test_pruned_scores_keep_every_verdict(seed: int) -> None:
    """score_pairs(prune=True): the same verdicts; exact scores wherever `best` reaches
    EDITED_GEOMETRY, elsewhere never higher ones, or -1 for pairs ruled out; and it prunes."""
    gray = thumbnails(seed, 400)
    rng = np.random.default_rng(seed)
    # and 200 crops (zoomed views) and turns of the first 200, with noise: scores between
    # EDITED_GEOMETRY and 1, accepted through the edited-geometry branch or just missing it
    index, weight, _, counts, _ = verify.tables()
    h = rng.integers(0, len(counts), 200)
    warped = (gray[np.arange(200)[:, None, None], index[h]] * weight[h]).sum(axis=1)
    noisy = warped + rng.normal(0, 1, (200, 1)) * rng.uniform(0, 25, (200, verify.PIXELS))
    gray = np.concatenate([gray, np.clip(noisy, 0, 255).astype(np.uint8)])
    i = np.concatenate([np.arange(0, 400, 2), np.arange(200), rng.integers(0, 600, 4000)])
    j = np.concatenate([np.arange(1, 400, 2), np.arange(400, 600), rng.integers(0, 600, 4000)])
    thumbs = verify.Thumbs.of(gray, compiled=True)
    exact = verify.score_pairs(thumbs, i, j, compiled=True)
    pruned = verify.score_pairs(thumbs, i, j, compiled=True, prune=True)
    assert np.array_equal(pruned.accepted(), exact.accepted())
    assert 0 < exact.accepted().sum() < len(i)
    high = exact.best >= verify.EDITED_GEOMETRY
    assert high.any() and np.array_equal(pruned.best[high], exact.best[high])
    assert np.array_equal(pruned.same[high], exact.same[high])
    ruled_out = pruned.same == -1
    assert np.array_equal(pruned.same[~ruled_out], exact.same[~ruled_out])
    assert (pruned.best[ruled_out] == -1).all() and (pruned.best <= exact.best).all()
    assert ruled_out.mean() > 0.5  # most pairs of different pictures were not even read


def test_grouping_with_pruned_checks_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    records = library_records(12, 600)
    settings = Settings("dhash", 8, 0.3)
    expected = cluster.cluster(records, settings, compiled=True)
    monkeypatch.setattr(cluster, "_PRUNE_FROM", 0)  # every candidate checked with bounds
    assert cluster.cluster(records, settings, compiled=True) == expected
    assert expected.rejected
