"""The BK-tree over Hamming distance: building it, radius queries, and all pairs within a radius.

Codes are the rows of a C-contiguous ``(n, words)`` uint64 array; the distance between two rows
is the popcount of their XOR summed over the words (64 bits per word).

How the tree is laid out, and why (measured numbers are in shared/NOTES-performance.md):

- Identical codes are collapsed first (byte copies are common in photo libraries). The tree holds
  each distinct code once; a CSR table maps a distinct code back to all of its original rows.
- Nodes are few and big. A node owns a contiguous range of the tree-ordered code array, takes a
  pivot from it (the candidate whose distances to a sample spread most) and stable-sorts the
  range by distance to the pivot, the BK-tree rule. Only buckets bigger than ``_LEAF_SIZE`` become
  child nodes; smaller ones stay flat ranges that are scanned with a popcount loop.
- Queries walk the tree in blocks. At each node a block's queries are counting-sorted by their
  distance to the pivot, so the queries that must enter a bucket form one slice, and a flat bucket
  is scanned for all of them while it sits in cache.
- For all pairs, the queries are the stored codes themselves in tree order and each looks only at
  positions after its own: every pair is found once and whole subtrees behind it are skipped.
- On codes whose bits are nearly independent (pHash) distances to any pivot bunch near half
  the code, and at radius 6-9 of 64 a query still enters most of every node. For the all-pairs
  self-join a second search, the substring index of mih.py (multi-index hashing), does the same
  work in a fraction of the time there. Before each self-join a cost model picks one: the
  index's probes and candidate checks counted exactly from its bucket sizes, against the tree's
  walk counted on a sample of 512 queries (see _self_join_index); the pairs are the same.
- The kernels are compiled by numba (cached on disk) with the GIL released and run on a thread
  pool. Hits are expanded back to original rows (copies included), scattered into blocks of
  rows and radix-sorted block by block, so the output order never depends on the threads.
- Results are narrow: rows as int32 and distances as uint16, 10 bytes a pair. The output is
  allocated once after a counting pass; each task's hits (kept in a memory mapping of their own,
  so that freeing them really returns the memory) are freed as soon as they have been scattered
  into it, and the output's pages are touched only as it fills: the peak is about one copy.
"""

from __future__ import annotations

import itertools
import mmap
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from dedupe import mih
from dedupe._bits import _grow_out, _njit, _popcount
from dedupe.parallel import thread_map, usable_cores

__all__ = ["BKTree", "Distance", "Index", "Strategy", "pairs_within", "warm_up"]

# Row indices in results: int32 (at most 2**31 - 2 codes are accepted, see _check_codes), the
# type kept general so that a larger limit would only change _index_dtype.
Index = npt.NDArray[np.signedinteger[Any]]
# Distances in results: a code has at most 64 * 1023 bits, which fits 16 bits.
Distance = npt.NDArray[np.uint16]

# One search task's output: query side, stored side, distance, and how many entries are valid.
_Hits = tuple[np.ndarray, np.ndarray, np.ndarray, int]

# Buckets holding more distinct codes than this become child nodes; smaller ones are scanned.
_LEAF_SIZE = 32
# Queries that walk the tree together.
_BLOCK = 8192
# Work items per thread, so that the uneven all-pairs work still balances.
_TASKS_PER_THREAD = 24
# The self-join's cost model (see _self_join_index): estimated CPU nanoseconds per code the
# tree's walk compares (a flat bucket's codes, a pivot), against mih.PROBE_NS and
# mih.CANDIDATE_NS; queries sampled to count the walk's work; below this many distinct codes
# the tree is always used (it takes milliseconds there).
_TREE_NS_PER_CODE = 1.9
_COST_SAMPLE = 512
_SUBSTRINGS_MIN_CODES = 20_000
# How the self-join finds its pairs: "auto" asks the cost model; the others force one.
Strategy = Literal["auto", "tree", "substrings"]


@_njit
def _dist(a: np.ndarray, i: int, b: np.ndarray, j: int) -> int:
    """Hamming distance between row ``i`` of ``a`` and row ``j`` of ``b``."""
    s = 0
    for k in range(a.shape[1]):
        s += _popcount(a[i, k] ^ b[j, k])
    return s


@_njit
def _build_kernel(
    codes: np.ndarray, leaf_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Arrange distinct ``codes`` into a BK-tree.

    Returns the codes in tree order, ``perm`` (tree position -> row of ``codes``), for each node
    its range ``[lo, hi)``, its bucket offsets ``off[node, d]`` (absolute, ``bits + 2`` of them,
    bucket ``d`` holds the codes at distance ``d`` from the pivot, which sits at ``lo``), its
    children ``child[node, d]`` (-1 for a flat bucket), and the depth of the deepest node.
    """
    m, w = codes.shape
    bits = 64 * w
    nb = bits + 2
    cur = codes.copy()
    perm = np.arange(m)
    tmp = np.empty_like(cur)
    tmp_perm = np.empty(m, np.int64)
    dist = np.empty(m, np.int64)
    cap = 2 * (m // (leaf_size + 1)) + 16
    lo_a = np.empty(cap, np.int64)
    hi_a = np.empty(cap, np.int64)
    depth_a = np.empty(cap, np.int64)
    off = np.empty((cap, nb), np.int32)
    child = np.full((cap, nb), -1, np.int32)
    stack = np.empty(cap, np.int64)
    n_nodes = 0
    sp = 0
    max_depth = 0
    if m > leaf_size:
        lo_a[0] = 0
        hi_a[0] = m
        depth_a[0] = 0
        n_nodes = 1
        stack[0] = 0
        sp = 1
    starts = np.empty(nb, np.int64)
    while sp > 0:
        sp -= 1
        node = stack[sp]
        lo = lo_a[node]
        hi = hi_a[node]
        size = hi - lo
        # Pivot: among a few candidates, the one whose distances to a sample vary most, so that
        # the buckets spread and a query's window of 2r + 1 buckets holds fewer codes.
        pivot = lo
        best = -1.0
        n_cand = min(64, size)
        n_samp = min(96, size)
        for c in range(n_cand):
            cand = lo + (c * 40503 + node * 7919) % size
            s1 = 0.0
            s2 = 0.0
            for t in range(n_samp):
                other = lo + (t * 2654435761 + 12345) % size
                d = _dist(cur, cand, cur, other)
                s1 += d
                s2 += d * d
            spread = s2 - s1 * s1 / n_samp
            if spread > best:
                best = spread
                pivot = cand
        for k in range(w):
            v = cur[lo, k]
            cur[lo, k] = cur[pivot, k]
            cur[pivot, k] = v
        p = perm[lo]
        perm[lo] = perm[pivot]
        perm[pivot] = p
        starts[:] = 0
        for i in range(lo, hi):
            d = _dist(cur, i, cur, lo)
            dist[i] = d
            starts[d + 1] += 1
        starts[0] = lo
        for b in range(1, nb):
            starts[b] += starts[b - 1]
        for b in range(nb):
            off[node, b] = starts[b]
        for i in range(lo, hi):
            d = dist[i]
            dst = starts[d]
            starts[d] += 1
            for k in range(w):
                tmp[dst, k] = cur[i, k]
            tmp_perm[dst] = perm[i]
        for i in range(lo, hi):
            for k in range(w):
                cur[i, k] = tmp[i, k]
            perm[i] = tmp_perm[i]
        for b in range(bits + 1):
            a = off[node, b]
            e = off[node, b + 1]
            if e - a <= leaf_size:
                continue
            if n_nodes == cap:
                cap *= 2
                lo_a = _grow_int64(lo_a, cap)
                hi_a = _grow_int64(hi_a, cap)
                depth_a = _grow_int64(depth_a, cap)
                stack = _grow_int64(stack, cap)
                off2 = np.empty((cap, nb), np.int32)
                off2[:n_nodes] = off[:n_nodes]
                off = off2
                child2 = np.full((cap, nb), -1, np.int32)
                child2[:n_nodes] = child[:n_nodes]
                child = child2
            lo_a[n_nodes] = a
            hi_a[n_nodes] = e
            depth_a[n_nodes] = depth_a[node] + 1
            max_depth = max(max_depth, depth_a[n_nodes])
            child[node, b] = n_nodes
            stack[sp] = n_nodes
            sp += 1
            n_nodes += 1
    return (
        cur,
        perm,
        lo_a[:n_nodes].copy(),
        hi_a[:n_nodes].copy(),
        off[:n_nodes].copy(),
        child[:n_nodes].copy(),
        max_depth,
    )


# Call-site casts: numba compiles a callee once per distinct argument type, and an int32 or an
# integer literal where int64 is usual would compile it again.
_i64 = np.int64


@_njit
def _grow_int64(a: np.ndarray, size: int) -> np.ndarray:
    out = np.empty(size, np.int64)
    out[: a.shape[0]] = a
    return out


@_njit
def _search_kernel(
    codes: np.ndarray,
    lo_a: np.ndarray,
    hi_a: np.ndarray,
    off: np.ndarray,
    child: np.ndarray,
    max_depth: int,
    ids: np.ndarray,
    queries: np.ndarray,
    q0: int,
    q1: int,
    radius: int,
    self_join: bool,
    block: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """All hits within ``radius`` of queries ``q0 <= q < q1``: arrays (query, stored, distance).

    A stored code at tree position ``i`` is reported as ``ids[i]``: its original row when it has
    no copies, else ``-1 - i``. With ``self_join`` the queries are the tree's own codes
    (``queries is codes``), reported through ``ids`` too, and a query at position ``q`` reports
    only positions ``> q``. The output is in no particular order; its length is returned last.
    """
    m, w = codes.shape
    bits = 64 * w
    flat = codes.reshape(m * w)
    n_nodes = lo_a.shape[0]
    cap = 4096
    out_q = np.empty(cap, np.int32)
    out_p = np.empty(cap, np.int32)
    out_d = np.empty(cap, np.uint16)
    n_out = 0
    # Each frame of the walk owns a region of the arena: its queries' ids and codes, sorted by
    # distance to the frame's pivot. A child frame points into its parent's region.
    arena_q = np.empty(block * (max_depth + 2), np.int64)
    arena_c = np.empty(block * (max_depth + 2) * w, np.uint64)
    cand_t = np.empty(block, np.int64)
    cand_d = np.empty(block, np.int64)
    first = np.empty(bits + 2, np.int64)
    fr_node = np.empty(n_nodes + 1, np.int64)
    fr_src = np.empty(n_nodes + 1, np.int64)
    fr_len = np.empty(n_nodes + 1, np.int64)
    fr_mark = np.empty(n_nodes + 1, np.int64)
    for b0 in range(q0, q1, block):
        b1 = min(b0 + block, q1)
        nq = b1 - b0
        for t in range(nq):
            arena_q[t] = b0 + t
            for k in range(w):
                arena_c[t * w + k] = queries[b0 + t, k]
        if n_nodes == 0:
            # The whole tree is one flat bucket.
            need = n_out + nq * m
            if need > cap:
                cap = max(2 * cap, need)
                out_q, out_p, out_d = _grow_out(out_q, out_p, out_d, _i64(n_out), _i64(cap))
            n_out = _scan(
                flat,
                w,
                _i64(0),
                _i64(m),
                arena_q,
                arena_c,
                _i64(0),
                _i64(nq),
                radius,
                self_join,
                ids,
                out_q,
                out_p,
                out_d,
                _i64(n_out),
            )
            continue
        fr_node[0] = 0
        fr_src[0] = 0
        fr_len[0] = nq
        fr_mark[0] = nq
        sp = 1
        while sp > 0:
            sp -= 1
            node = fr_node[sp]
            src = fr_src[sp]
            top = fr_mark[sp]
            lo = lo_a[node]
            hi = hi_a[node]
            # Distances of this frame's queries to the pivot, dropping queries that (in a
            # self-join) have nothing after them in this subtree.
            n_cand = 0
            dmin = bits
            dmax = 0
            for t in range(src, src + fr_len[sp]):
                if self_join and arena_q[t] + 1 >= hi:
                    continue
                d = 0
                for k in range(w):
                    d += _popcount(arena_c[t * w + k] ^ flat[lo * w + k])
                cand_t[n_cand] = t
                cand_d[n_cand] = d
                dmin = min(dmin, d)
                dmax = max(dmax, d)
                n_cand += 1
            if n_cand == 0:
                continue
            # Counting sort by distance into a fresh region at the top of the arena; first[d]
            # is how many of the frame's queries lie below distance d.
            if top + n_cand > arena_q.shape[0]:
                size = 2 * arena_q.shape[0] + n_cand
                arena_q = _grow_int64(arena_q, size)
                arena_c2 = np.empty(size * w, np.uint64)
                arena_c2[: top * w] = arena_c[: top * w]
                arena_c = arena_c2
            first[dmin : dmax + 2] = 0
            for t in range(n_cand):
                first[cand_d[t] + 1] += 1
            for d in range(dmin + 1, dmax + 2):
                first[d] += first[d - 1]
            for t in range(n_cand):
                d = cand_d[t]
                dst = top + first[d]
                first[d] += 1
                src_t = cand_t[t]
                arena_q[dst] = arena_q[src_t]
                for k in range(w):
                    arena_c[dst * w + k] = arena_c[src_t * w + k]
            # The scatter advanced first[d] by one bucket; shift it back.
            for d in range(dmax + 1, dmin, -1):
                first[d] = first[d - 1]
            first[dmin] = 0
            new_top = top + n_cand
            for key in range(max(0, dmin - radius), min(bits, dmax + radius) + 1):
                a = off[node, key]
                e = off[node, key + 1]
                if e == a:
                    continue
                s0 = top + first[max(dmin, key - radius)]
                s1 = top + first[min(dmax, key + radius) + 1]
                if s1 == s0:
                    continue
                c = child[node, key]
                if c >= 0:
                    fr_node[sp] = c
                    fr_src[sp] = s0
                    fr_len[sp] = s1 - s0
                    fr_mark[sp] = new_top
                    sp += 1
                    continue
                need = n_out + (s1 - s0) * (e - a)
                if need > cap:
                    cap = max(2 * cap, need)
                    out_q, out_p, out_d = _grow_out(out_q, out_p, out_d, _i64(n_out), _i64(cap))
                n_out = _scan(
                    flat,
                    w,
                    _i64(a),
                    _i64(e),
                    arena_q,
                    arena_c,
                    _i64(s0),
                    _i64(s1),
                    radius,
                    self_join,
                    ids,
                    out_q,
                    out_p,
                    out_d,
                    _i64(n_out),
                )
    if cap > n_out + n_out // 8 + 4096:
        # Give back the slack of the last doubling: all tasks' hits are held at once.
        return out_q[:n_out].copy(), out_p[:n_out].copy(), out_d[:n_out].copy(), n_out
    return out_q, out_p, out_d, n_out


@_njit
def _scan(
    flat: np.ndarray,
    w: int,
    a: int,
    e: int,
    arena_q: np.ndarray,
    arena_c: np.ndarray,
    s0: int,
    s1: int,
    radius: int,
    self_join: bool,
    ids: np.ndarray,
    out_q: np.ndarray,
    out_p: np.ndarray,
    out_d: np.ndarray,
    n_out: int,
) -> int:
    """Compare stored codes ``a <= i < e`` with the arena's queries ``s0 <= t < s1``.

    The queries are the inner loop: a flat bucket is small and a block's slice is long. For
    one-word codes the loop first tests eight queries at once for any hit, which compiles to
    branch-free code; hits are rare.
    """
    if w == 1:
        for i in range(a, e):
            y = flat[i]
            t = s0
            while t + 8 <= s1:
                hit = False
                for k in range(8):
                    hit |= _popcount(arena_c[t + k] ^ y) <= radius
                if hit:
                    for u in range(t, t + 8):
                        d = _popcount(arena_c[u] ^ y)
                        if d <= radius and (not self_join or arena_q[u] < i):
                            out_q[n_out] = ids[arena_q[u]] if self_join else arena_q[u]
                            out_p[n_out] = ids[i]
                            out_d[n_out] = d
                            n_out += 1
                t += 8
            for u in range(t, s1):
                d = _popcount(arena_c[u] ^ y)
                if d <= radius and (not self_join or arena_q[u] < i):
                    out_q[n_out] = ids[arena_q[u]] if self_join else arena_q[u]
                    out_p[n_out] = ids[i]
                    out_d[n_out] = d
                    n_out += 1
    else:
        for i in range(a, e):
            for u in range(s0, s1):
                # Most candidates are already out of range after the first word or two.
                d = _popcount(arena_c[u * w] ^ flat[i * w])
                k = 1
                while d <= radius and k < w:
                    d += _popcount(arena_c[u * w + k] ^ flat[i * w + k])
                    k += 1
                if d <= radius and (not self_join or arena_q[u] < i):
                    out_q[n_out] = ids[arena_q[u]] if self_join else arena_q[u]
                    out_p[n_out] = ids[i]
                    out_d[n_out] = d
                    n_out += 1
    return n_out


@_njit
def _tree_work(
    codes: np.ndarray,
    lo_a: np.ndarray,
    hi_a: np.ndarray,
    off: np.ndarray,
    child: np.ndarray,
    sample: np.ndarray,
    radius: int,
) -> int:
    """How many codes the self-join's walk compares for the queries at tree positions
    ``sample``: pivots, and whole flat buckets entered that hold a position after the query
    (the kernel scans a bucket for a block's queries at once, and drops a query only where
    nothing after it remains)."""
    m, w = codes.shape
    bits = 64 * w
    n_nodes = lo_a.shape[0]
    stack = np.empty(n_nodes + 1, np.int64)
    total = 0
    for s in range(sample.shape[0]):
        q = sample[s]
        if n_nodes == 0:
            total += m
            continue
        stack[0] = 0
        sp = 1
        while sp > 0:
            sp -= 1
            node = stack[sp]
            if q + 1 >= hi_a[node]:
                continue
            lo = lo_a[node]
            d = _dist(codes, q, codes, lo)
            total += 1
            for b in range(max(0, d - radius), min(bits, d + radius) + 1):
                a = off[node, b]
                e = off[node, b + 1]
                if e <= q + 1:
                    continue
                c = child[node, b]
                if c >= 0:
                    stack[sp] = c
                    sp += 1
                else:
                    total += e - a
    return total


# Expanding hits into rows of the output, sorted by (row, column). Writing each pair straight
# into its row would touch memory at random, so pairs are first appended to the region of their
# block of 2**_ROW_SHIFT rows (a few thousand sequential streams), and then each block is
# radix-sorted on its own, in cache, by a thread of its own.
_ROW_SHIFT = 9
_RADIX_BITS = 10


@_njit
def _expand_hits(
    qa: np.ndarray,
    pb: np.ndarray,
    pd: np.ndarray,
    n: int,
    gstart: np.ndarray,
    members: np.ndarray,
    self_join: bool,
    count_only: bool,
    cursor: np.ndarray,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_d: np.ndarray,
) -> None:
    """Count (per row block) or scatter the pairs that hits expand to.

    A hit side that is ``>= 0`` is one original row; ``-1 - p`` stands for every copy of the
    code at tree position ``p``. In a self-join a pair is filed under its smaller row; for
    queries, ``qa`` is the query index and always the row.
    """
    for t in range(n):
        a = qa[t]
        b = pb[t]
        d = pd[t]
        if a >= 0 and b >= 0:
            i = min(a, b) if self_join else a
            j = max(a, b) if self_join else b
            blk = i >> _ROW_SHIFT
            c = cursor[blk]
            if not count_only:
                out_i[c] = i
                out_j[c] = j
                out_d[c] = d
            cursor[blk] = c + 1
            continue
        a0, a1 = (0, 1) if a >= 0 else (gstart[-1 - a], gstart[-a])
        b0, b1 = (0, 1) if b >= 0 else (gstart[-1 - b], gstart[-b])
        for x in range(a0, a1):
            for y in range(b0, b1):
                i = a if a >= 0 else members[x]
                j = b if b >= 0 else members[y]
                if self_join and j < i:
                    i, j = j, i
                blk = i >> _ROW_SHIFT
                c = cursor[blk]
                if not count_only:
                    out_i[c] = i
                    out_j[c] = j
                    out_d[c] = d
                cursor[blk] = c + 1


@_njit
def _expand_copies(
    gstart: np.ndarray,
    members: np.ndarray,
    count_only: bool,
    cursor: np.ndarray,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_d: np.ndarray,
) -> None:
    """Count or scatter the pairs (distance 0) among copies of one code."""
    for g in range(gstart.shape[0] - 1):
        e = gstart[g + 1]
        for x in range(gstart[g], e - 1):
            i = members[x]
            blk = i >> _ROW_SHIFT
            c = cursor[blk]
            if not count_only:
                for y in range(x + 1, e):
                    out_i[c + y - x - 1] = i
                    out_j[c + y - x - 1] = members[y]
                    out_d[c + y - x - 1] = 0
            cursor[blk] = c + e - x - 1


@_njit
def _order_blocks(
    blk_off: np.ndarray,
    blk0: int,
    blk1: int,
    col_bits: int,
    dist_bits: int,
    out_i: np.ndarray,
    out_j: np.ndarray,
    out_d: np.ndarray,
) -> None:
    """Sort the scattered pairs of row blocks ``blk0 <= b < blk1`` by (row, column), in place."""
    size = 0
    for b in range(blk0, blk1):
        size = max(size, blk_off[b + 1] - blk_off[b])
    keys = np.empty(size, np.int64)
    spare = np.empty(size, np.int64)
    hist = np.empty(1 << _RADIX_BITS, np.int64)
    dmask = (1 << dist_bits) - 1
    cmask = (1 << col_bits) - 1
    sort_bits = col_bits + _ROW_SHIFT
    for b in range(blk0, blk1):
        base = blk_off[b]
        n = blk_off[b + 1] - base
        if n == 0:
            continue
        r0 = b << _ROW_SHIFT
        for t in range(n):
            row = np.int64(out_i[base + t]) - r0
            keys[t] = (((row << col_bits) | np.int64(out_j[base + t])) << dist_bits) | np.int64(
                out_d[base + t]
            )
        # LSD radix sort on (row in block, column); the distance bits ride along.
        src = keys
        dst = spare
        shift = dist_bits
        while shift < dist_bits + sort_bits:
            hist[:] = 0
            for t in range(n):
                hist[(src[t] >> shift) & ((1 << _RADIX_BITS) - 1)] += 1
            if hist.max() < n:
                acc = 0
                for v in range(1 << _RADIX_BITS):
                    cnt = hist[v]
                    hist[v] = acc
                    acc += cnt
                for t in range(n):
                    key = src[t]
                    v = (key >> shift) & ((1 << _RADIX_BITS) - 1)
                    dst[hist[v]] = key
                    hist[v] += 1
                src, dst = dst, src
            shift += _RADIX_BITS
        for t in range(n):
            key = src[t]
            out_i[base + t] = r0 + (key >> (dist_bits + col_bits))
            out_j[base + t] = (key >> dist_bits) & cmask
            out_d[base + t] = key & dmask


def _own_mapping(a: np.ndarray, n: int) -> np.ndarray:
    """A copy of ``a[:n]`` in an anonymous memory mapping of its own.

    Freeing it gives the memory back to the system at once. A task's hits are a few MB, and
    malloc keeps freed blocks of that size for reuse, so without this the hits freed while the
    output fills would still count in the peak, on top of the output.
    """
    out = _mapped_empty(n, a.dtype)
    out[:] = a[:n]
    return out


def _mapped_empty(n: int, dtype: npt.DTypeLike) -> np.ndarray:
    """An uninitialised array of ``n`` items in an anonymous mapping of its own, in small pages.

    numpy asks for huge pages (2 MB) for big arrays; the output is filled in a few thousand
    streams a few hundred KB apart, so with huge pages its first writes would already commit
    all of it, and the hits being freed meanwhile would not lower the peak.
    """
    dt = np.dtype(dtype)
    if n == 0:
        return np.empty(0, dt)
    buf = mmap.mmap(-1, n * dt.itemsize)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux only
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buf, dt, n)


def _index_dtype(n: int) -> type[np.signedinteger[Any]]:
    """The narrowest index type for rows ``0 <= row < n``."""
    return np.int32 if n < 2**31 else np.int64


def _check_codes(codes: np.ndarray, name: str = "codes") -> np.ndarray:
    arr = np.asarray(codes)
    if arr.dtype != np.uint64:
        raise TypeError(f"{name} must be uint64, got {arr.dtype}")
    if arr.ndim != 2 or not 1 <= arr.shape[1] <= 1023:
        raise ValueError(f"{name} must have shape (n, words), 1 <= words <= 1023; got {arr.shape}")
    if arr.shape[0] >= 2**31 - 1:
        raise ValueError(f"{name}: at most 2**31 - 2 codes are supported, got {arr.shape[0]}")
    return np.ascontiguousarray(arr)


def _check_radius(radius: int) -> int:
    r = int(radius)
    if r != radius or isinstance(radius, bool):
        raise TypeError(f"radius must be an integer, got {radius!r}")
    if r < 0:
        raise ValueError(f"radius must be >= 0, got {r}")
    return r


class BKTree:
    """A BK-tree over Hamming distance, array-backed."""

    def __init__(
        self,
        n: int,
        codes: np.ndarray,
        gstart: np.ndarray,
        members: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
        off: np.ndarray,
        child: np.ndarray,
        max_depth: int,
    ) -> None:
        """Hold an already built tree; use :meth:`BKTree.build` to make one."""
        sizes = np.diff(gstart)
        # What the search reports for a tree position: the row, or -1 - position for copies.
        self._ids = np.where(sizes == 1, members[gstart[:-1]], -1 - np.arange(sizes.shape[0]))
        self._n = n
        self._codes = codes
        self._gstart = gstart
        self._members = members
        self._lo = lo
        self._hi = hi
        self._off = off
        self._child = child
        self._max_depth = max_depth

    @classmethod
    def build(cls, codes: np.ndarray) -> BKTree:
        """Build a tree over ``codes`` of shape ``(n, words)``, uint64; rows may repeat."""
        arr = _check_codes(codes)
        n, words = arr.shape
        if words == 1:
            uniq_flat, inverse = np.unique(arr[:, 0], return_inverse=True)
            uniq = uniq_flat.reshape(-1, 1)
        else:
            uniq, inverse = np.unique(arr, axis=0, return_inverse=True)
        uniq = np.ascontiguousarray(uniq, dtype=np.uint64)
        tree_codes, perm, lo, hi, off, child, max_depth = _build_kernel(uniq, _LEAF_SIZE)
        m = uniq.shape[0]
        position = np.empty(m, np.int64)
        position[perm] = np.arange(m, dtype=np.int64)
        row_position = position[inverse.reshape(-1)]
        # Members of each distinct code, ascending original row within a group.
        members = np.argsort(row_position, kind="stable").astype(np.int64)
        gstart = np.zeros(m + 1, np.int64)
        np.cumsum(np.bincount(row_position, minlength=m), out=gstart[1:])
        return cls(n, tree_codes, gstart, members, lo, hi, off, child, int(max_depth))

    def __len__(self) -> int:
        """Number of codes stored, copies included."""
        return self._n

    @property
    def words(self) -> int:
        """64-bit words per code."""
        return int(self._codes.shape[1])

    def query(self, code: np.ndarray, radius: int) -> tuple[Index, Distance]:
        """Indices (int32, ascending) of stored codes within `radius` (inclusive) of `code`
        (shape (words,)), and their distances (uint16)."""
        arr = np.asarray(code)
        if arr.ndim != 1:
            raise ValueError(f"code must have shape (words,), got {arr.shape}")
        _, stored, dist = self.query_many(arr.reshape(1, -1), radius)
        return stored, dist

    def query_many(self, queries: np.ndarray, radius: int) -> tuple[Index, Index, Distance]:
        """For queries of shape (k, words): arrays (query_index, stored_index, distance), the
        indices int32 and the distances uint16, sorted by (query_index, stored_index)."""
        qs = _check_codes(queries, "queries")
        if qs.shape[1] != self.words:
            raise ValueError(f"queries have {qs.shape[1]} words, the tree holds {self.words}")
        r = min(_check_radius(radius), 64 * self.words)
        hits = self._search(qs, qs.shape[0], r, self_join=False)
        return self._collect(qs.shape[0], hits, self_join=False)

    def _pairs_within(
        self, radius: int, strategy: Strategy = "auto"
    ) -> tuple[Index, Index, Distance]:
        """All pairs of stored rows within ``radius``; see :func:`pairs_within`."""
        r = min(_check_radius(radius), 64 * self.words)
        index = self._self_join_index(r, strategy)
        if index is None:
            hits = self._search(self._codes, self._codes.shape[0], r, self_join=True)
        else:
            hits = self._search_substrings(index, r, (0, index.units))
        return self._collect(self._n, hits, self_join=True)

    def iter_pairs_within(
        self, radius: int, budget: int = 1 << 20, task: int = 1024, strategy: Strategy = "auto"
    ) -> Iterator[tuple[Index, Index, Distance]]:
        """All pairs of stored rows within ``radius``, as :func:`pairs_within` finds them, in
        parts of about ``budget`` pairs (each part sorted by (i, j), i < j; every pair in
        exactly one part). The search runs in tasks of ``task`` distinct codes, a few at a time,
        and hands out what it found whenever that reaches the budget: a caller that keeps only
        a few of the pairs (after verifying them, say) needs memory for one part, not for all
        pairs, however many the radius lets through. ``strategy`` as in :func:`pairs_within`."""
        r = min(_check_radius(radius), 64 * self.words)
        if budget < 1 or task < 1:
            raise ValueError(f"budget and task must be >= 1, got {budget} and {task}")
        m = self._codes.shape[0]
        workers = usable_cores()
        index = self._self_join_index(r, strategy)
        pending: list[_Hits] = []
        found = 0
        copies = True  # the pairs among copies of one code go with the first part
        if index is not None:
            # The substring index divides its work by bucket, codes counted once per substring.
            units = index.units
            task *= index.plan.substrings
            for lo in range(0, units, task * workers):
                new = self._search_substrings(index, r, (lo, min(lo + task * workers, units)), task)
                found += sum(h[3] for h in new)
                pending += new
                if found >= budget:
                    yield self._collect(self._n, pending, self_join=True, copies=copies)
                    pending, found, copies = [], 0, False
            m = 0  # the tree's loop below has nothing to do
        for lo in range(0, m, task * workers):
            hi = min(lo + task * workers, m)
            bounds = [(a, min(a + task, hi)) for a in range(lo, hi, task)]
            pending += thread_map(
                lambda b: self._run_search(self._codes, b, r, True, task), bounds, workers
            )
            found += sum(h[3] for h in pending[-len(bounds) :])
            if found >= budget:
                yield self._collect(self._n, pending, self_join=True, copies=copies)
                pending, found, copies = [], 0, False
        if pending or copies:
            yield self._collect(self._n, pending, self_join=True, copies=copies)

    def _self_join_index(self, radius: int, strategy: Strategy) -> mih.Index | None:
        """The substring index (mih.py) when the self-join at ``radius`` should go through it:
        forced, or (``auto``) when its exact count of probes and candidate checks costs less
        than the tree's walk, counted on a sample of queries. None: walk the tree."""
        if strategy not in ("auto", "tree", "substrings"):
            raise ValueError(f"unknown strategy {strategy!r}")
        m = self._codes.shape[0]
        if strategy == "tree" or (strategy == "auto" and m < _SUBSTRINGS_MIN_CODES):
            return None
        plan = mih.plan(self._codes, radius)
        if plan is None:
            return None
        if strategy == "auto" and plan.cost_ns >= self.estimate_self_join_ns(radius):
            return None
        return mih.Index.build(self._codes, plan)

    def estimate_self_join_ns(self, radius: int) -> float:
        """Estimated CPU nanoseconds of the tree's self-join at ``radius``: its walk run for an
        evenly spaced sample of queries, counting the codes it would compare."""
        m = self._codes.shape[0]
        if m < 2:
            return 0.0
        r = min(_check_radius(radius), 64 * self.words)
        k = min(m, _COST_SAMPLE)
        sample = (np.arange(k, dtype=np.int64) * m) // k
        work = _tree_work(self._codes, self._lo, self._hi, self._off, self._child, sample, r)
        return float(int(work) * m / k * _TREE_NS_PER_CODE)

    def _search_substrings(
        self, index: mih.Index, radius: int, span: tuple[int, int], task: int | None = None
    ) -> list[_Hits]:
        """The substring index's self-join over ``span`` of its units, on a thread pool."""
        workers = usable_cores()
        a, b = span
        if b <= a:
            return []
        if task is None:
            task = max(1, -(-(b - a) // (workers * _TASKS_PER_THREAD)))
        bounds = [(x, min(x + task, b)) for x in range(a, b, task)]

        def run(bound: tuple[int, int]) -> _Hits:
            q, p, d, n = index.search(self._codes, self._ids, bound, radius)
            return (_own_mapping(q, n), _own_mapping(p, n), _own_mapping(d, n), n)

        return thread_map(run, bounds, workers)

    def _search(self, queries: np.ndarray, k: int, radius: int, *, self_join: bool) -> list[_Hits]:
        """Run the search kernel over ``k`` queries on a thread pool, in ordered chunks."""
        if k == 0 or self._codes.shape[0] == 0:
            return []
        workers = usable_cores()
        n_tasks = max(1, min(workers * _TASKS_PER_THREAD, -(-k // _BLOCK)))
        per_task = -(-k // n_tasks)
        per_task = -(-per_task // _BLOCK) * _BLOCK
        bounds = [(a, min(a + per_task, k)) for a in range(0, k, per_task)]
        block = min(_BLOCK, k)
        return thread_map(
            lambda b: self._run_search(queries, b, radius, self_join, block), bounds, workers
        )

    def _run_search(
        self, queries: np.ndarray, bound: tuple[int, int], radius: int, self_join: bool, block: int
    ) -> _Hits:
        """One task of the search kernel: queries ``bound[0] <= q < bound[1]``."""
        q_idx, p_idx, dist, n_hits = _search_kernel(
            self._codes,
            self._lo,
            self._hi,
            self._off,
            self._child,
            self._max_depth,
            self._ids,
            queries,
            bound[0],
            bound[1],
            radius,
            self_join,
            block,
        )
        n_hits = int(n_hits)
        return (
            _own_mapping(q_idx, n_hits),
            _own_mapping(p_idx, n_hits),
            _own_mapping(dist, n_hits),
            n_hits,
        )

    def _collect(
        self, rows: int, hits: list[_Hits], *, self_join: bool, copies: bool = True
    ) -> tuple[Index, Index, Distance]:
        """Expand ``hits`` (emptied on the way) into (row, column, distance) sorted arrays.

        The output is allocated once; each task's hits are dropped as soon as they are
        scattered, and the output's pages are only touched as they fill, so the hits and the
        output are never both held in full.
        """
        n_blocks = -(-rows // (1 << _ROW_SHIFT))
        cursor = np.zeros(n_blocks, np.int64)
        idx_type = _index_dtype(self._n)
        no_idx = np.empty(0, idx_type)
        no_dist = np.empty(0, np.uint16)
        copies = self_join and copies  # pairs among copies of one code (distance 0)

        def expand(hit: _Hits, count_only: bool, out: tuple[np.ndarray, ...]) -> None:
            qa, pb, pd, n_hits = hit
            _expand_hits(
                qa, pb, pd, n_hits, self._gstart, self._members, self_join, count_only, cursor,
                *out,
            )  # fmt: skip

        # Pass 1 counts the pairs of each row block, pass 2 scatters them into their block.
        nothing = (no_idx, no_idx, no_dist)
        if copies:
            _expand_copies(self._gstart, self._members, True, cursor, *nothing)
        for k in range(len(hits)):  # (no loop variable left holding the last task's hits)
            expand(hits[k], True, nothing)
        blk_off = np.zeros(n_blocks + 1, np.int64)
        np.cumsum(cursor, out=blk_off[1:])
        total = int(blk_off[-1])
        out_i = _mapped_empty(total, idx_type)
        out_j = _mapped_empty(total, idx_type)
        out_d = _mapped_empty(total, np.uint16)
        out = (out_i, out_j, out_d)
        cursor[:] = blk_off[:-1]
        if copies:
            _expand_copies(self._gstart, self._members, False, cursor, *out)
        hits.reverse()
        while hits:
            expand(hits.pop(), False, out)  # its hits' last references: freed as it returns
        col_bits = max(1, (self._n - 1).bit_length())
        dist_bits = (64 * self.words).bit_length()
        workers = usable_cores()
        cuts = np.searchsorted(blk_off, np.linspace(0, total, 4 * workers + 1)).tolist()
        cuts[0], cuts[-1] = 0, n_blocks
        spans = [(a, b) for a, b in itertools.pairwise(cuts) if b > a]

        def run(span: tuple[int, int]) -> None:
            _order_blocks(blk_off, span[0], span[1], col_bits, dist_bits, out_i, out_j, out_d)

        thread_map(run, spans, workers)
        return out_i, out_j, out_d


def pairs_within(
    codes: np.ndarray, radius: int, strategy: Strategy = "auto"
) -> tuple[Index, Index, Distance]:
    """All pairs i < j with hamming(codes[i], codes[j]) <= radius, found through the BK-tree:
    arrays (i, j, distance), i and j int32 and the distances uint16, sorted by (i, j).

    ``codes`` has shape (n, words), uint64; rows may repeat (copies pair at distance 0). Memory:
    the tree is about 12 bytes per distinct code plus small tables, and the result holds 10 bytes
    per pair; the search's raw hits (10 bytes each) are freed while the result fills, so the peak
    stays near the result's size. Nothing of size n x n is ever formed.

    ``strategy``: ``"tree"`` walks the tree; ``"substrings"`` goes through the substring index
    of mih.py where one applies; ``"auto"`` (the default) takes whichever the cost model
    expects to be cheaper (see ``BKTree._self_join_index``). The pairs are the same.
    """
    return BKTree.build(codes)._pairs_within(radius, strategy)


def warm_up() -> None:
    """Load the compiled kernels of both self-join searches (the tree's walk and the substring
    index of mih.py, from numba's on-disk cache) and of radius queries, at the types that
    cluster passes, ahead of the first search."""
    codes = np.arange(64, dtype=np.uint64).reshape(64, 1) * np.uint64(0x9E3779B97F4A7C15)
    tree = BKTree.build(codes)
    for strategy in ("tree", "substrings"):
        for _ in tree.iter_pairs_within(1, strategy=strategy):
            pass
    tree.estimate_self_join_ns(1)
    tree.query_many(codes[:1], 1)
