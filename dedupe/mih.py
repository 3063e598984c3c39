"""Multi-index hashing for the BK-tree's self-join: all pairs within a radius, found through
exact matches and near matches of substrings, with an exact count of the work it would do.

The BK-tree (bktree.py) prunes by the triangle inequality, which does little on codes whose bits
are nearly independent (pHash): their distances to any pivot bunch within a few bits of half the
code, so at radius 6 to 9 of 64 a query still enters most of every node. Substrings do not care:
cut the ``bits`` of a code into ``m`` disjoint substrings; two codes within ``radius`` differ in
substring ``k`` by ``d_k`` bits with ``sum d_k <= radius``. For any thresholds ``t_k >= -1`` with
``sum (t_k + 1) >= radius + 1`` some substring has ``d_k <= t_k`` (else the sum of the ``d_k``
would be at least ``sum (t_k + 1) > radius``): the generalised pigeonhole principle (Qin et al.,
"GPH: similarity search in Hamming space", ICDE 2018; multi-index hashing is Norouzi, Punjani
and Fleet, CVPR 2012, with every ``t_k = radius // m``). So every pair is found by probing, for
each code and each substring ``k``, the buckets of the keys within ``t_k`` bits of its own key
(``t_k = -1``: substring not probed), and checking the codes in them. A pair is reported only
from the first substring that finds it, so each pair comes out exactly once.

Which bits form a substring matters for correlated codes (dHash and aHash bits follow the
picture's rows), and how wide the substrings are and which thresholds they get decides the
work. :func:`plan` counts, from the bucket sizes alone, exactly how many probes and how many
candidate checks each layout would make (no search runs), picks the cheapest, and says what it
would cost, so the caller can compare with the tree (see ``BKTree._self_join_index``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe._bits import _grow_out, _njit, _popcount
from dedupe.parallel import thread_map

# Estimated CPU nanoseconds (measured on this machine class: 2 vCPU AMD EPYC, numba 0.68) of
# one probe (an occupied bucket and one of its masks: the neighbouring bucket looked up, the two
# runs joined), one candidate check (a distance in that join, short runs included), one key bit
# extracted and one code filed per substring while building. The ratio to the tree's cost per
# code its walk compares (bktree._TREE_NS_PER_CODE) is what decides; see benchmarks/README.md.
PROBE_NS = 15.0
CANDIDATE_NS = 3.7
KEY_BIT_NS = 0.3
TABLE_NS = 10.0
# Widest substring: a table of 2**20 + 1 int32 offsets is 4 MB per substring.
_MAX_WIDTH = 20
# Largest threshold per substring (a key has 1 + w + w(w-1)/2 neighbours within 2 bits).
_MAX_THRESHOLD = 2


@dataclass(frozen=True, slots=True)
class Plan:
    """A substring layout for one code set and radius, and the work it does there."""

    positions: npt.NDArray[np.int64]  # (m, width) bit positions of each substring, -1 padded
    widths: npt.NDArray[np.int64]  # (m,) bits per substring
    thresholds: npt.NDArray[np.int64]  # (m,) bits a probe may differ by; -1: not probed
    probes: int  # bucket lookups of the whole self-join
    candidates: int  # candidate checks (a pair once per substring that finds it)
    cost_ns: float  # estimated CPU time, nanoseconds

    @property
    def substrings(self) -> int:
        return int(self.widths.shape[0])


def _neighbour_masks(width: int, threshold: int) -> npt.NDArray[np.int64]:
    """Every mask of ``width`` bits with at most ``threshold`` bits set, fewest bits first."""
    out = [0]
    if threshold >= 1:
        out += [1 << a for a in range(width)]
    if threshold >= 2:
        out += [(1 << a) | (1 << b) for a in range(width) for b in range(a + 1, width)]
    return np.array(out, dtype=np.int64)


def _layouts(bits: int, m: int) -> list[npt.NDArray[np.int64]]:
    """Two ways to cut ``bits`` positions into ``m`` substrings of near-equal widths: runs of
    neighbouring bits, and every ``m``-th bit (neighbouring bits of a hash come from
    neighbouring pixels and agree more often than far ones: interleaving spreads them)."""
    widths = [bits // m + (1 if k < bits % m else 0) for k in range(m)]
    top = max(widths)
    runs = np.full((m, top), -1, np.int64)
    start = 0
    for k, w in enumerate(widths):
        runs[k, :w] = np.arange(start, start + w)
        start += w
    spread = np.full((m, top), -1, np.int64)
    order = np.arange(bits).reshape(-1, 1)  # bit b goes to substring b % m
    filled = [0] * m
    for b in order[:, 0].tolist():
        k = b % m
        spread[k, filled[k]] = b
        filled[k] += 1
    return [runs, spread]


@_njit
def _keys(codes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``keys[k, i]``: the bits of code ``i`` at ``positions[k]`` (bit ``t`` of the key is code
    bit ``positions[k, t]``; bit ``b`` of a code is bit ``b % 64`` of word ``b // 64``)."""
    n = codes.shape[0]
    m, top = positions.shape
    keys = np.zeros((m, n), np.int32)
    for k in range(m):
        for t in range(top):
            b = positions[k, t]
            if b < 0:
                break
            word = b >> 6
            shift = np.uint64(b & 63)
            for i in range(n):
                keys[k, i] |= np.int32((codes[i, word] >> shift) & np.uint64(1)) << t
    return keys


@_njit
def _pair_counts(keys: np.ndarray, width: int, top_t: int) -> np.ndarray:
    """For one substring's keys: how many ordered pairs of codes (a code with itself included)
    have keys within ``t`` bits, for ``t = 0..top_t``; last, how many distinct keys occur.

    That is ``sum over keys u with popcount(u) <= t of A[u]``, where ``A[u] = sum_v c[v] c[v ^ u]``
    is the XOR autocorrelation of the key counts ``c``: the Walsh-Hadamard transform turns it
    into a square, ``A = H (H c)^2 / 2**width``, in 2**width * width steps whatever ``t``.
    In floating point: exact while ``n**2 * 2**width`` stays below 2**53 (100k codes at 16
    bits), beyond that to a relative 1e-15, ample for a cost estimate."""
    size = 1 << width
    a = np.zeros(size, np.float64)
    for i in range(keys.shape[0]):
        a[keys[i]] += 1.0
    occupied = 0
    for v in range(size):
        occupied += a[v] > 0
    for _ in range(2):
        h = 1
        while h < size:
            for base in range(0, size, 2 * h):
                for x in range(base, base + h):
                    u = a[x]
                    v = a[x + h]
                    a[x] = u + v
                    a[x + h] = u - v
            h *= 2
        if _ == 0:
            for x in range(size):
                a[x] *= a[x]
    out = np.zeros(top_t + 2, np.int64)
    out[top_t + 1] = occupied
    sums = np.zeros(top_t + 1, np.float64)
    for u in range(size):
        bits = _popcount(np.uint64(u))
        if bits <= top_t:
            sums[bits] += a[u]
    total = 0.0
    for t in range(top_t + 1):
        total += sums[t]
        out[t] = np.int64(np.round(total / size))
    return out


def _choose(costs: list[list[float]], need: int) -> tuple[float, list[int]] | None:
    """Thresholds ``t_k`` in -1..len(costs[k]) - 2 with ``sum(t_k + 1) >= need`` at the least
    total cost (``costs[k][t + 1]``), by dynamic programming over the substrings."""
    best: dict[int, tuple[float, list[int]]] = {0: (0.0, [])}
    for row in costs:
        nxt: dict[int, tuple[float, list[int]]] = {}
        for have, (cost, chosen) in best.items():
            for t1, c in enumerate(row):
                key = min(need, have + t1)
                total = cost + c
                if key not in nxt or total < nxt[key][0]:
                    nxt[key] = (total, [*chosen, t1 - 1])
        best = nxt
    return best.get(need)


def plan(codes: npt.NDArray[np.uint64], radius: int) -> Plan | None:
    """The cheapest substring layout for the self-join of distinct ``codes`` (n, words) at
    ``radius``, with its exact probe and candidate counts; None when no layout applies (fewer
    than two codes, or a radius too large for thresholds of at most 2 bits per substring)."""
    n, words = codes.shape
    bits = 64 * words
    if n < 2 or radius >= bits:
        return None
    centre = max(4, min(_MAX_WIDTH, round(float(np.log2(n)))))
    need = radius + 1  # sum over substrings of (t_k + 1)
    splits = sorted({-(-bits // width) for width in range(centre - 3, centre + 2)})
    layouts = [
        positions
        for m in splits
        if m >= 2 and bits // m <= _MAX_WIDTH and need <= m * (_MAX_THRESHOLD + 1)
        for positions in _layouts(bits, m)
    ]
    plans = thread_map(lambda positions: _plan_layout(codes, positions, need), layouts)
    found = [p for p in plans if p is not None]
    return min(found, key=lambda p: p.cost_ns) if found else None


def _plan_layout(
    codes: npt.NDArray[np.uint64], positions: npt.NDArray[np.int64], need: int
) -> Plan | None:
    """The cheapest thresholds for one layout (``sum(t_k + 1) >= need``), and their work."""
    n, words = codes.shape
    m = positions.shape[0]
    widths = (positions >= 0).sum(axis=1).astype(np.int64)
    keys = _keys(codes, positions)
    rows: list[list[float]] = []
    counts: list[list[tuple[int, int]]] = []
    for k in range(m):
        w = int(widths[k])
        *ordered, occupied = _pair_counts(keys[k], w, _MAX_THRESHOLD).tolist()
        # Every occupied key runs through its masks; candidates are pairs of codes in joined
        # buckets (a bucket with itself once, two buckets once).
        per = [
            (occupied * len(_neighbour_masks(w, t)), (ordered[t] - n) // 2)
            for t in range(_MAX_THRESHOLD + 1)
        ]
        counts.append([(0, 0), *per])
        rows.append([0.0] + [p * PROBE_NS + c * CANDIDATE_NS for p, c in per])
    chosen = _choose(rows, need)
    if chosen is None:
        return None
    total, thresholds = chosen
    return Plan(
        positions=positions,
        widths=widths,
        thresholds=np.array(thresholds, np.int64),
        probes=sum(counts[k][t + 1][0] for k, t in enumerate(thresholds)),
        candidates=sum(counts[k][t + 1][1] for k, t in enumerate(thresholds)),
        cost_ns=total + n * (words * 64 * KEY_BIT_NS + m * TABLE_NS),
    )


@dataclass(frozen=True, slots=True)
class Index:
    """The substring tables of one code set: per substring, the codes sorted by key.

    Bucket ``v`` of substring ``k`` is ``order[k, starts[k, v]:starts[k, v + 1]]`` (rows,
    ascending) and ``sorted_codes[k]`` holds those rows' codes in the same order, so that a
    probe reads its candidates' codes in one run instead of one at random each."""

    plan: Plan
    keys: npt.NDArray[np.int32]  # (m, n)
    starts: npt.NDArray[np.int32]  # (m, 2**max_width + 1)
    order: npt.NDArray[np.int32]  # (m, n)
    sorted_codes: npt.NDArray[np.uint64]  # (m, n, words)
    bit_masks: npt.NDArray[np.uint64]  # (m, words): the code bits of substring k
    masks: npt.NDArray[np.int64]  # (m, most): row k, the key masks substring k probes
    limits: npt.NDArray[np.int64]  # (m,) how many of row k of `masks` it probes (0: none)

    @classmethod
    def build(cls, codes: npt.NDArray[np.uint64], plan: Plan) -> Index:
        keys = _keys(codes, plan.positions)
        starts, order, sorted_codes = _tables(codes, keys, int(plan.widths.max()))
        words = codes.shape[1]
        bit_masks = np.zeros((plan.substrings, words), np.uint64)
        for k, row in enumerate(plan.positions.tolist()):
            for b in row:
                if b >= 0:
                    bit_masks[k, b >> 6] |= np.uint64(1 << (b & 63))
        rows = [
            _neighbour_masks(int(w), int(t)) if t >= 0 else np.zeros(0, np.int64)
            for w, t in zip(plan.widths.tolist(), plan.thresholds.tolist(), strict=True)
        ]
        limits = np.array([len(row) for row in rows], np.int64)
        masks = np.zeros((len(rows), max(1, int(limits.max()))), np.int64)
        for k, row in enumerate(rows):
            masks[k, : len(row)] = row
        return cls(plan, keys, starts, order, sorted_codes, bit_masks, masks, limits)

    @property
    def units(self) -> int:
        """The range :meth:`search` divides: every code once per substring."""
        return int(self.order.shape[0] * self.order.shape[1])

    def search(
        self,
        codes: npt.NDArray[np.uint64],
        ids: npt.NDArray[np.int64],
        bound: tuple[int, int],
        radius: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """The pairs within ``radius`` found from the buckets starting in ``bound`` (a range of
        ``substring * n + position``, ``0 <= ... < units``), as the tree's search kernel
        reports them: (ids[i], ids[j], distance), and their number."""
        q, p, d, n = _search_kernel(
            codes, ids, self.starts, self.order, self.sorted_codes, self.bit_masks,
            self.masks, self.limits, self.plan.thresholds, radius, bound[0], bound[1],
        )  # fmt: skip
        return q, p, d, int(n)


@_njit
def _tables(
    codes: np.ndarray, keys: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counting sort of the codes by each substring's key (stable: ascending rows per key)."""
    m, n = keys.shape
    w = codes.shape[1]
    nb = 1 << width
    starts = np.zeros((m, nb + 1), np.int32)
    order = np.empty((m, n), np.int32)
    sorted_codes = np.empty((m, n, w), np.uint64)
    for k in range(m):
        for i in range(n):
            starts[k, keys[k, i] + 1] += 1
        for v in range(nb):
            starts[k, v + 1] += starts[k, v]
        fill = starts[k, :nb].copy()
        for i in range(n):
            v = keys[k, i]
            order[k, fill[v]] = i
            for t in range(w):
                sorted_codes[k, fill[v], t] = codes[i, t]
            fill[v] += 1
    return starts, order, sorted_codes


@_njit
def _search_kernel(
    codes: np.ndarray,
    ids: np.ndarray,
    starts: np.ndarray,
    order: np.ndarray,
    sorted_codes: np.ndarray,
    bit_masks: np.ndarray,
    masks: np.ndarray,
    limits: np.ndarray,
    thresholds: np.ndarray,
    radius: int,
    g0: int,
    g1: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Self-join hits found from the buckets that start at ``g0 <= k * n + start < g1``:
    (ids[i], ids[j], distance), each pair from the first substring whose probes find it.

    Bucket ``v`` of substring ``k`` is joined with itself (its pairs once) and with every
    bucket ``v ^ mask > v`` for the substring's nonzero masks: two runs of sorted codes, so
    the candidates are read in sequence, and each pair of buckets is visited once."""
    n, w = codes.shape
    nb = starts.shape[1] - 1
    cap = 4096
    out_q = np.empty(cap, np.int32)
    out_p = np.empty(cap, np.int32)
    out_d = np.empty(cap, np.uint16)
    n_out = 0
    if n == 0:
        return out_q, out_p, out_d, n_out
    for k in range(g0 // n, min(starts.shape[0], (g1 - 1) // n + 1)):
        lo_pos = max(g0 - k * n, 0)
        hi_pos = min(g1 - k * n, n)
        # The first bucket starting at or after lo_pos (buckets of a key past the substring's
        # width are empty, and so never start anywhere).
        lo = 0
        hi = nb
        while lo < hi:
            mid = (lo + hi) >> 1
            if starts[k, mid] >= lo_pos:
                hi = mid
            else:
                lo = mid + 1
        for v in range(lo, nb):
            a = np.int64(starts[k, v])
            if a >= hi_pos:
                break
            e = np.int64(starts[k, v + 1])
            if e == a:
                continue
            for x in range(limits[k]):
                v2 = v ^ masks[k, x]
                if v2 < v:
                    continue
                a2 = np.int64(starts[k, v2])
                e2 = np.int64(starts[k, v2 + 1])
                if w == 1 and e2 - a2 >= _LONG_RUN:
                    out_q, out_p, out_d, n_out = _join_run(
                        sorted_codes, order, ids, bit_masks, thresholds, radius, k, a, e,
                        a2, e2, v2 == v, out_q, out_p, out_d, n_out,
                    )  # fmt: skip
                    cap = out_q.shape[0]
                    continue
                for u in range(a, e):
                    first_u2 = u + 1 if v2 == v else a2
                    for u2 in range(first_u2, e2):
                        d = _popcount(sorted_codes[k, u, 0] ^ sorted_codes[k, u2, 0])
                        t = 1
                        while d <= radius and t < w:
                            d += _popcount(sorted_codes[k, u, t] ^ sorted_codes[k, u2, t])
                            t += 1
                        if d > radius:
                            continue
                        # Reported by the first substring whose probes find the pair.
                        first = True
                        for k2 in range(k):
                            if thresholds[k2] < 0:
                                continue
                            apart = 0
                            for t in range(w):
                                apart += _popcount(
                                    (sorted_codes[k, u, t] ^ sorted_codes[k, u2, t])
                                    & bit_masks[k2, t]
                                )
                            if apart <= thresholds[k2]:
                                first = False
                                break
                        if not first:
                            continue
                        if n_out == cap:
                            cap *= 2
                            out_q, out_p, out_d = _grow_out(
                                out_q, out_p, out_d, np.int64(n_out), np.int64(cap)
                            )
                        out_q[n_out] = ids[order[k, u]]
                        out_p[n_out] = ids[order[k, u2]]
                        out_d[n_out] = d
                        n_out += 1
    return out_q, out_p, out_d, n_out


# Runs of one-word candidates at least this long go through _join_run.
_LONG_RUN = 32


@_njit
def _join_run(
    sorted_codes: np.ndarray,
    order: np.ndarray,
    ids: np.ndarray,
    bit_masks: np.ndarray,
    thresholds: np.ndarray,
    radius: int,
    k: int,
    a: int,
    e: int,
    a2: int,
    e2: int,
    same: bool,
    out_q: np.ndarray,
    out_p: np.ndarray,
    out_d: np.ndarray,
    n_out: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The join of one-word buckets ``a <= u < e`` and ``a2 <= q < e2`` of substring ``k``
    (``same``: one bucket, its pairs once) when the second is long (a key shared by many
    codes): eight candidates at a time tested for any hit with branch-free code, since hits
    are rare."""
    for u in range(a, e):
        u0 = u + 1 if same else a2
        room = n_out + e2 - u0
        if out_q.shape[0] < room:  # room for every candidate: no check per hit
            size = max(2 * out_q.shape[0], room)
            out_q, out_p, out_d = _grow_out(out_q, out_p, out_d, np.int64(n_out), np.int64(size))
        y = sorted_codes[k, u, 0]
        q0 = u0
        while q0 < e2:
            if q0 + 8 <= e2:
                hit = False
                for x in range(8):
                    hit |= _popcount(sorted_codes[k, q0 + x, 0] ^ y) <= radius
                if not hit:
                    q0 += 8
                    continue
            for q in range(q0, min(q0 + 8, e2)):
                d = _popcount(sorted_codes[k, q, 0] ^ y)
                if d <= radius and _first_to_find(sorted_codes, bit_masks, thresholds, k, u, q):
                    out_q[n_out] = ids[order[k, u]]
                    out_p[n_out] = ids[order[k, q]]
                    out_d[n_out] = d
                    n_out += 1
            q0 += 8
    return out_q, out_p, out_d, n_out


@_njit
def _first_to_find(
    sorted_codes: np.ndarray,
    bit_masks: np.ndarray,
    thresholds: np.ndarray,
    k: int,
    u: int,
    u2: int,
) -> bool:
    """Whether substring ``k`` is the first whose probes find the pair at sorted positions
    ``u``, ``u2`` of substring ``k``: no earlier probed substring lies within its threshold."""
    w = sorted_codes.shape[2]
    for k2 in range(k):
        if thresholds[k2] < 0:
            continue
        apart = 0
        for t in range(w):
            apart += _popcount((sorted_codes[k, u, t] ^ sorted_codes[k, u2, t]) & bit_masks[k2, t])
        if apart <= thresholds[k2]:
            return False
    return True
