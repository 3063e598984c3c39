"""The BK-tree against brute force: radius queries and all pairs, 64- and 256-bit codes."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.bktree import BKTree, pairs_within

Codes = npt.NDArray[np.uint64]
Triple = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


def distances(codes: Codes, code: Codes) -> npt.NDArray[np.int64]:
    """Hamming distance from every row of `codes` to `code`."""
    return np.asarray(np.bitwise_count(codes ^ code).sum(axis=1), dtype=np.int64)


def brute_pairs(codes: Codes, radius: int) -> Triple:
    rows: list[tuple[int, int, int]] = []
    for i in range(len(codes)):
        d = distances(codes[i + 1 :], codes[i])
        rows += [(i, i + 1 + int(k), int(d[k])) for k in np.flatnonzero(d <= radius)]
    out = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy()


def brute_query_many(stored: Codes, queries: Codes, radius: int) -> Triple:
    rows: list[tuple[int, int, int]] = []
    for q in range(len(queries)):
        d = distances(stored, queries[q])
        rows += [(q, int(k), int(d[k])) for k in np.flatnonzero(d <= radius)]
    out = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy()


def assert_same(got: tuple[npt.NDArray[Any], ...], want: tuple[npt.NDArray[Any], ...]) -> None:
    """Equal arrays; the results are narrow: indices int32, distances (the last) uint16."""
    assert len(got) == len(want)
    *indices, dist = got
    assert all(g.dtype == np.int32 for g in indices)
    assert dist.dtype == np.uint16
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def clustered(rng: np.random.Generator, n: int, words: int, max_flips: int) -> Codes:
    """Codes in clusters around a few centres (a few bits flipped), with exact copies."""
    centres = rng.integers(0, 2**64, size=(max(1, n // 8), words), dtype=np.uint64)
    codes = centres[rng.integers(0, len(centres), size=n)]
    for _ in range(max_flips):
        bit = rng.integers(0, 64, size=(n, words)).astype(np.uint64)
        keep = rng.random((n, words)) < 0.5
        codes = codes ^ np.where(keep, np.uint64(0), np.uint64(1) << bit)
    return np.ascontiguousarray(codes, dtype=np.uint64)


@st.composite
def code_sets(draw: st.DrawFn, max_n: int = 80) -> tuple[Codes, int]:
    """A clustered code set (so that small radii find something) and a radius."""
    words = draw(st.sampled_from([1, 4]))
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    flips = draw(st.integers(0, 12))
    bits = 64 * words
    radius = draw(st.one_of(st.integers(0, 16), st.integers(0, bits + 2)))
    return clustered(np.random.default_rng(seed), n, words, flips), radius


@settings(max_examples=40, deadline=None)
@given(code_sets(), st.integers(0, 2**32 - 1))
def test_query_matches_brute_force(case: tuple[Codes, int], seed: int) -> None:
    codes, radius = case
    tree = BKTree.build(codes)
    rng = np.random.default_rng(seed)
    probes = [*codes[:3], *clustered(rng, 3, codes.shape[1], 6)]
    for probe in probes:
        d = distances(codes, probe)
        want = np.flatnonzero(d <= radius).astype(np.int64)
        assert_same(tree.query(probe, radius), (want, d[want]))


@settings(max_examples=30, deadline=None)
@given(code_sets(), st.integers(0, 60))
def test_query_many_matches_brute_force(case: tuple[Codes, int], k: int) -> None:
    codes, radius = case
    queries = clustered(np.random.default_rng(k), k, codes.shape[1], 4)
    got = BKTree.build(codes).query_many(queries, radius)
    assert_same(got, brute_query_many(codes, queries, radius))


@settings(max_examples=50, deadline=None)
@given(code_sets())
def test_pairs_within_matches_brute_force(case: tuple[Codes, int]) -> None:
    codes, radius = case
    assert_same(pairs_within(codes, radius), brute_pairs(codes, radius))


@pytest.mark.parametrize(("words", "radius"), [(1, 6), (1, 12), (4, 25), (4, 60)])
def test_pairs_within_deep_tree(words: int, radius: int) -> None:
    """Enough codes for several levels of nodes, copies included."""
    rng = np.random.default_rng(words * 100 + radius)
    codes = clustered(rng, 1500, words, 4)
    codes = np.concatenate([codes, codes[:40], rng.integers(0, 2**64, (200, words), np.uint64)])
    got = pairs_within(codes, radius)
    assert len(got[0]) > len(codes)  # the test means something only if it finds pairs
    assert_same(got, brute_pairs(codes, radius))


def _joined(parts: list[tuple[Any, Any, Any]]) -> tuple[Any, Any, Any]:
    """Parts of iter_pairs_within as one result sorted by (i, j), as pairs_within gives it."""
    i, j, d = (np.concatenate([p[k] for p in parts]) for k in range(3))
    order = np.lexsort((j, i))
    return i[order], j[order], d[order]


@settings(max_examples=30, deadline=None)
@given(code_sets(), st.integers(1, 40))
def test_iter_pairs_within_gives_every_pair_once(case: tuple[Codes, int], batch: int) -> None:
    codes, radius = case
    parts = list(BKTree.build(codes).iter_pairs_within(radius, budget=batch, task=batch))
    for i, j, _ in parts:  # each part is sorted on its own, i < j
        assert (i < j).all()
        assert (np.diff(i.astype(np.int64) * len(codes) + j) > 0).all()
    assert_same(_joined(parts), brute_pairs(codes, radius))


def test_iter_pairs_within_deep_tree_with_copies() -> None:
    rng = np.random.default_rng(5)
    codes = clustered(rng, 3000, 1, 4)
    codes = np.concatenate([codes, codes[:60], codes[:10]])
    parts = list(BKTree.build(codes).iter_pairs_within(8, budget=2000, task=300))
    assert len(parts) > 2
    assert_same(_joined(parts), pairs_within(codes, 8))
    with pytest.raises(ValueError, match="budget"):
        list(BKTree.build(codes).iter_pairs_within(8, budget=0))


@pytest.mark.parametrize("words", [1, 4])
def test_query_many_deep_tree(words: int) -> None:
    rng = np.random.default_rng(7 + words)
    codes = clustered(rng, 2000, words, 4)
    queries = np.concatenate([codes[::50], clustered(rng, 40, words, 4)])
    radius = 6 * words
    got = BKTree.build(codes).query_many(queries, radius)
    assert len(got[0]) > len(queries)
    assert_same(got, brute_query_many(codes, queries, radius))


@pytest.mark.parametrize("words", [1, 4])
def test_empty(words: int) -> None:
    codes = np.zeros((0, words), np.uint64)
    tree = BKTree.build(codes)
    assert len(tree) == 0
    assert_same(tree.query(np.zeros(words, np.uint64), 64 * words), (np.zeros(0, np.int64),) * 2)
    assert_same(tree.query_many(np.zeros((3, words), np.uint64), 5), (np.zeros(0, np.int64),) * 3)
    assert_same(pairs_within(codes, 3), (np.zeros(0, np.int64),) * 3)


@pytest.mark.parametrize("words", [1, 4])
def test_single_code(words: int) -> None:
    code = np.full((1, words), 0xF0F0, np.uint64)
    tree = BKTree.build(code)
    assert len(tree) == 1
    assert_same(tree.query(code[0], 0), (np.array([0]), np.array([0])))
    assert_same(tree.query(np.zeros(words, np.uint64), 8 * words - 1), (np.zeros(0, np.int64),) * 2)
    assert_same(pairs_within(code, 64 * words), (np.zeros(0, np.int64),) * 3)


def test_radius_zero_finds_exact_copies_only() -> None:
    codes = np.array([[5], [7], [5], [4], [5], [7]], np.uint64)
    assert_same(
        pairs_within(codes, 0), (np.array([0, 0, 1, 2]), np.array([2, 4, 5, 4]), np.zeros(4))
    )
    assert_same(
        BKTree.build(codes).query(np.array([7], np.uint64), 0), (np.array([1, 5]), np.zeros(2))
    )


@pytest.mark.parametrize("words", [1, 4])
def test_radius_at_or_beyond_bits_returns_every_pair(words: int) -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 2**64, size=(70, words), dtype=np.uint64)
    codes[5] = ~codes[4]  # at the full distance 64 * words
    for radius in (64 * words, 64 * words + 1, 10**9):
        i, j, d = pairs_within(codes, radius)
        assert len(i) == 70 * 69 // 2
        assert_same((i, j, d), brute_pairs(codes, 64 * words))
    assert int(d[(i == 4) & (j == 5)][0]) == 64 * words


def test_all_identical_codes() -> None:
    """Many copies of one code (blank images): every pair, at distance 0, once."""
    codes = np.full((300, 4), 0x1234, np.uint64)
    i, j, d = pairs_within(codes, 2)
    want_i, want_j = np.triu_indices(300, 1)
    assert_same((i, j, d), (want_i.astype(np.int64), want_j.astype(np.int64), np.zeros(len(i))))
    tree = BKTree.build(codes)
    assert len(tree) == 300
    assert_same(tree.query(codes[0], 0), (np.arange(300), np.zeros(300)))


def test_output_is_deterministic_and_independent_of_row_order() -> None:
    rng = np.random.default_rng(11)
    codes = clustered(rng, 1200, 1, 5)
    first = pairs_within(codes, 6)
    assert_same(pairs_within(codes, 6), first)
    # The same codes in another order give the same pairs, renamed.
    perm = rng.permutation(len(codes))
    i, j, d = pairs_within(codes[perm], 6)
    a, b = perm[i], perm[j]
    order = np.lexsort((np.maximum(a, b), np.minimum(a, b)))
    assert_same(first, (np.minimum(a, b)[order], np.maximum(a, b)[order], d[order]))


def test_inputs_are_checked() -> None:
    with pytest.raises(TypeError):
        BKTree.build(np.zeros((3, 1), np.int64))
    with pytest.raises(ValueError):
        BKTree.build(np.zeros(3, np.uint64))
    with pytest.raises(ValueError):
        pairs_within(np.zeros((3, 1), np.uint64), -1)
    tree = BKTree.build(np.zeros((3, 1), np.uint64))
    with pytest.raises(ValueError):
        tree.query(np.zeros(4, np.uint64), 1)
    with pytest.raises(ValueError):
        tree.query_many(np.zeros((2, 4), np.uint64), 1)


def test_non_contiguous_input_is_accepted() -> None:
    rng = np.random.default_rng(5)
    wide = clustered(rng, 300, 4, 3)
    codes = wide[:, ::2]  # a strided view, two words per code
    assert_same(pairs_within(codes, 20), brute_pairs(np.ascontiguousarray(codes), 20))


def test_distances_beyond_int16() -> None:
    """Long codes can lie more than 32767 bits apart; the uint16 distances hold that."""
    words = 600
    codes = np.zeros((3, words), np.uint64)
    codes[1] = np.uint64(2**64 - 1)
    codes[2, :300] = np.uint64(2**64 - 1)
    want = (np.array([0, 0, 1]), np.array([1, 2, 2]), np.array([38400, 19200, 19200]))
    assert_same(pairs_within(codes, 64 * words), want)
    tree = BKTree.build(codes)
    assert_same(tree.query(codes[1], 64 * words), (np.arange(3), np.array([38400, 0, 19200])))
