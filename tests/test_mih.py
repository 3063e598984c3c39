"""The substring index (multi-index hashing) of the self-join against brute force, its plan's
counts against a direct count, and the cost model's choice between it and the tree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bktree import Codes, _joined, assert_same, brute_pairs, clustered

from dedupe import bktree, mih
from dedupe.bktree import BKTree, pairs_within


def uniform(rng: np.random.Generator, n: int, words: int) -> Codes:
    return rng.integers(0, 2**64, size=(n, words), dtype=np.uint64)


@st.composite
def code_sets(draw: st.DrawFn, max_n: int = 120) -> tuple[Codes, int]:
    """Clustered or uniform codes (copies included), 64 or 256 bits, and a radius."""
    words = draw(st.sampled_from([1, 4]))
    n = draw(st.integers(0, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        codes = clustered(rng, n, words, draw(st.integers(0, 12)))
    else:
        codes = uniform(rng, n, words)
        if n > 4:  # a few copies and near copies
            codes[-2:] = codes[:2]
            codes[1] ^= np.uint64(1)
    bits = 64 * words
    radius = draw(st.one_of(st.integers(0, 12), st.integers(0, bits + 2)))
    return codes, radius


@settings(max_examples=60, deadline=None)
@given(code_sets())
def test_substrings_match_brute_force(case: tuple[Codes, int]) -> None:
    codes, radius = case
    want = brute_pairs(codes, radius)
    assert_same(pairs_within(codes, radius, "substrings"), want)
    assert_same(pairs_within(codes, radius, "tree"), want)
    assert_same(pairs_within(codes, radius), want)


@settings(max_examples=30, deadline=None)
@given(code_sets(), st.integers(1, 40))
def test_substrings_in_parts_give_every_pair_once(case: tuple[Codes, int], batch: int) -> None:
    codes, radius = case
    tree = BKTree.build(codes)
    parts = list(tree.iter_pairs_within(radius, budget=batch, task=batch, strategy="substrings"))
    for i, j, _ in parts:  # each part sorted on its own, i < j
        assert (i < j).all()
        assert (np.diff(i.astype(np.int64) * len(codes) + j) > 0).all()
    assert_same(_joined(parts), brute_pairs(codes, radius))


@pytest.mark.parametrize(
    ("words", "radius", "kind"),
    [(1, 0, "clustered"), (1, 6, "uniform"), (1, 9, "clustered"), (1, 9, "uniform"),
     (1, 12, "clustered"), (4, 25, "clustered"), (4, 40, "uniform"), (1, 64, "uniform")],
)  # fmt: skip
def test_substrings_on_larger_sets(words: int, radius: int, kind: str) -> None:
    """Enough codes for wide substrings and full buckets, copies included, in parts."""
    rng = np.random.default_rng(words * 1000 + radius)
    n = 2500
    codes = clustered(rng, n, words, 4) if kind == "clustered" else uniform(rng, n, words)
    if kind == "uniform":  # near copies, so that small radii find something
        near = codes[:300].copy()
        flips = rng.integers(0, 64, size=(300, words)).astype(np.uint64)
        near ^= np.uint64(1) << flips
        codes = np.concatenate([codes, near])
    codes = np.concatenate([codes, codes[:50]])
    want = brute_pairs(codes, radius)
    assert len(want[0]) > 50  # more than the copies: the test means something only then
    assert_same(pairs_within(codes, radius, "substrings"), want)
    budget = len(want[0]) // 4
    parts = list(BKTree.build(codes).iter_pairs_within(radius, budget, 100, "substrings"))
    assert len(parts) > 1 or radius == 0  # at 0 every pair is a copy: those go first, at once
    assert_same(_joined(parts), want)


@pytest.mark.parametrize("words", [1, 4])
def test_edge_cases(words: int) -> None:
    bits = 64 * words
    empty = np.zeros((0, words), np.uint64)
    none = (np.zeros(0, np.int64),) * 3
    for strategy in ("substrings", "tree", "auto"):
        assert_same(pairs_within(empty, 3, strategy), none)
        assert_same(pairs_within(np.ones((1, words), np.uint64), bits, strategy), none)
        two = np.array([[0] * words, [2**64 - 1] * words], np.uint64)
        assert_same(pairs_within(two, bits - 1, strategy), none)
        assert_same(pairs_within(two, bits, strategy), (np.array([0]), np.array([1]), [bits]))
        same = np.full((5, words), 77, np.uint64)
        i, j = np.triu_indices(5, 1)
        assert_same(pairs_within(same, 0, strategy), (i, j, np.zeros(len(i))))
    with pytest.raises(ValueError, match="strategy"):
        pairs_within(empty, 3, "fastest")  # type: ignore[arg-type]


def _direct_candidates(codes: Codes, plan: mih.Plan) -> tuple[int, int]:
    """What the self-join checks under `plan`, counted pair by pair: every pair of codes
    within each probed substring's threshold; and the occupied keys times their masks."""
    n = len(codes)
    keys = np.zeros((plan.substrings, n), np.int64)
    for k in range(plan.substrings):
        for t, b in enumerate(plan.positions[k][plan.positions[k] >= 0].tolist()):
            bit = (codes[:, b // 64] >> np.uint64(b % 64)) & np.uint64(1)
            keys[k] |= bit.astype(np.int64) << t
    candidates = probes = 0
    for k in range(plan.substrings):
        t = int(plan.thresholds[k])
        if t < 0:
            continue
        apart = np.bitwise_count(keys[k][:, None] ^ keys[k][None, :])
        candidates += int(np.triu(apart <= t, 1).sum())
        masks = sum(1 for mask in range(1 << int(plan.widths[k])) if mask.bit_count() <= t)
        probes += len(np.unique(keys[k])) * masks
    return candidates, probes


@pytest.mark.parametrize(("words", "radius", "seed"), [(1, 6, 1), (1, 9, 2), (1, 2, 3), (4, 20, 4)])
def test_plan_counts_are_exact(words: int, radius: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    codes = np.unique(
        np.concatenate([clustered(rng, 900, words, 5), uniform(rng, 600, words)]), axis=0
    )
    plan = mih.plan(codes, radius)
    assert plan is not None
    # Every bit in exactly one substring; thresholds that make the pigeonhole argument hold.
    used = np.sort(plan.positions[plan.positions >= 0])
    np.testing.assert_array_equal(used, np.arange(64 * words))
    assert int((plan.thresholds + 1).sum()) >= radius + 1
    assert plan.thresholds.min() >= -1
    assert (plan.candidates, plan.probes) == _direct_candidates(codes, plan)


def test_plan_does_not_apply() -> None:
    codes = uniform(np.random.default_rng(0), 100, 1)
    assert mih.plan(codes[:1], 3) is None
    assert mih.plan(codes, 64) is None
    assert mih.plan(codes, 63) is None  # thresholds of at most 2 bits cannot cover it
    assert mih.plan(codes, 9) is not None


def _choice(tree: BKTree, radius: int) -> str:
    index = tree._self_join_index(radius, "auto")
    return "tree" if index is None else "substrings"


def test_cost_model_picks_the_cheaper_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nearly independent bits at a radius the tree cannot prune: the substrings. The tree
    always below the size where the choice matters, and whenever its estimate is lower."""
    rng = np.random.default_rng(9)
    codes = uniform(rng, 30_000, 1)
    tree = BKTree.build(codes)
    plan = mih.plan(tree._codes, 9)
    assert plan is not None
    assert plan.cost_ns < tree.estimate_self_join_ns(9) / 4
    assert _choice(tree, 9) == "substrings"
    assert _choice(BKTree.build(codes[:5000]), 9) == "tree"
    monkeypatch.setattr(bktree, "_TREE_NS_PER_CODE", 1e-6)
    assert _choice(tree, 9) == "tree"


def test_tree_estimate_counts_the_walk() -> None:
    """With one flat bucket (no nodes) the walk compares every code once per query."""
    codes = uniform(np.random.default_rng(4), 20, 1)
    tree = BKTree.build(codes)
    assert tree.estimate_self_join_ns(5) == pytest.approx(20 * 20 * bktree._TREE_NS_PER_CODE)
    big = BKTree.build(uniform(np.random.default_rng(5), 5000, 1))
    # Radius at the word size: every bucket is entered, nothing pruned.
    full = big.estimate_self_join_ns(64)
    assert big.estimate_self_join_ns(3) < full / 5


@pytest.mark.parametrize("radius", [3, 6, 9])
def test_long_runs_of_one_key(radius: int) -> None:
    """Few centres, many codes each (a few bits flipped): every substring's buckets hold long
    runs of one key, which are joined eight candidates at a time; pairs at exactly the radius
    must survive that."""
    rng = np.random.default_rng(radius)
    centres = uniform(rng, 12, 1)
    codes = centres[rng.integers(0, 12, size=2400)]
    for _ in range(5):
        bit = rng.integers(0, 64, size=(2400, 1)).astype(np.uint64)
        codes = codes ^ np.where(rng.random((2400, 1)) < 0.6, np.uint64(1) << bit, np.uint64(0))
    codes = np.ascontiguousarray(codes)
    want = brute_pairs(codes, radius)
    assert (want[2] == radius).sum() > 100
    assert_same(pairs_within(codes, radius, "substrings"), want)
