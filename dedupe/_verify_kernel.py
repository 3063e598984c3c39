"""The compiled part of verify.py: scoring many candidate pairs of thumbnails.

Kept apart from verify.py so that importing verify (the scan's worker processes do, for the
signature) does not import numba; this module is imported on the first call that scores pairs.

The work is arranged so that each image is warped once, not once per pair. A pair (i, j) is
scored in two passes, each over the pairs ordered by one side:

- pass "a" walks the pairs ordered by i: the zoomed and turned views of thumbnail i are made once
  for its run of pairs, then every j of the run is compared with them as it is (and with i as it
  is, the "same geometry" correlation);
- pass "b" walks the pairs ordered by j: the zoomed views of j (under the pair's orientation) are
  made once, then compared with every i of the run. Pairs that already passed as they are skip it.

A comparison is then three running sums over the 256 pixels, masked by the hypothesis' compared
pixels, which the compiler turns into vector code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

_F = TypeVar("_F", bound=Callable[..., Any])


def _njit(fn: _F) -> _F:
    """Compile with numba: no Python objects, GIL released, cached on disk. fastmath lets the
    sums be reassociated (vectorised); it changes a correlation by about 1e-12."""
    return cast(_F, numba.njit(cache=True, nogil=True, fastmath=True)(fn))


# A score no correlation can have (they lie in -1..1), for pairs score_pass did not compare.
# Not NaN: fastmath lets the compiler assume there are none.
RULED_OUT = -2.0


@_njit
def _pearson(sx: float, sy: float, sxx: float, syy: float, sxy: float, n: int) -> float:
    vx = sxx - sx * sx / n
    vy = syy - sy * sy / n
    if vx <= 0.0 or vy <= 0.0:
        return 0.0
    return float((sxy - sx * sy / n) / np.sqrt(vx * vy))


@_njit
def order_by(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Indices that sort ``keys`` (0 <= key < n_keys) stably: a counting sort."""
    start = np.zeros(n_keys + 1, np.int64)
    for t in range(keys.shape[0]):
        start[keys[t] + 1] += 1
    for k in range(n_keys):
        start[k + 1] += start[k]
    order = np.empty(keys.shape[0], np.int64)
    for t in range(keys.shape[0]):
        k = keys[t]
        order[start[k]] = t
        start[k] += 1
    return order


@_njit
def _load(thumbs: np.ndarray, row: int, perm: np.ndarray, out: np.ndarray) -> None:
    """Row ``row`` of ``thumbs`` seen through ``perm`` (an orientation), as float32."""
    for k in range(out.shape[0]):
        out[k] = np.float32(thumbs[row, perm[k]])


@_njit
def _warp_views(
    src: np.ndarray,
    hyps: np.ndarray,
    index: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    views: np.ndarray,
    sx: np.ndarray,
    sxx: np.ndarray,
) -> None:
    """The warped views of ``src`` for hypotheses ``hyps``: zero outside each one's compared
    pixels, plus their sums and sums of squares over those pixels."""
    for t in range(hyps.shape[0]):
        h = hyps[t]
        s = 0.0
        ss = 0.0
        for k in range(src.shape[0]):
            if mask[h, k] != 0.0:
                x = np.float64(
                    src[index[h, 0, k]] * weight[h, 0, k]
                    + src[index[h, 1, k]] * weight[h, 1, k]
                    + src[index[h, 2, k]] * weight[h, 2, k]
                    + src[index[h, 3, k]] * weight[h, 3, k]
                )
                views[t, k] = x
                s += x
                ss += x * x
            else:
                views[t, k] = 0.0
        sx[t] = s
        sxx[t] = ss


@_njit
def plain_stats(thumbs: np.ndarray, mask: np.ndarray, lo: int, hi: int, out: np.ndarray) -> None:
    """For rows lo..hi-1 as they are: sum and sum of squares over each hypothesis' compared
    pixels (``out[row, h]``) and over all pixels (``out[row, H]``)."""
    n_h, pixels = mask.shape
    y = np.empty(pixels, np.float64)
    for row in range(lo, hi):
        s = ss = 0.0
        for k in range(pixels):
            v = np.float64(thumbs[row, k])
            y[k] = v
            s += v
            ss += v * v
        out[row, n_h, 0] = s
        out[row, n_h, 1] = ss
        for h in range(n_h):
            s = ss = 0.0
            for k in range(pixels):
                m = mask[h, k]
                s += m * y[k]
                ss += m * y[k] * y[k]
            out[row, h, 0] = s
            out[row, h, 1] = ss


@_njit
def _project(
    x: np.ndarray, basis: np.ndarray, n: int, sx: float, sxx: float, proj: np.ndarray
) -> float:
    """The centred, normalised x (over the n compared pixels, whose sums are sx and sxx) in
    the basis: its coordinates into ``proj``; returns the norm of what the basis misses."""
    var = sxx - sx * sx / n
    if var <= 0.0:  # no contrast: its correlation with anything is 0 (see _pearson)
        for c in range(basis.shape[0]):
            proj[c] = 0.0
        return 1.0
    scale = 1.0 / np.sqrt(var)
    kept = 0.0
    for c in range(basis.shape[0]):
        t = 0.0
        for k in range(x.shape[0]):
            t += basis[c, k] * x[k]
        t *= scale
        proj[c] = t
        kept += t * t
    return float(np.sqrt(max(0.0, 1.0 - kept)))


@_njit
def bound_rows(
    thumbs: np.ndarray,
    stats: np.ndarray,
    index: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    counts: np.ndarray,
    basis: np.ndarray,
    whole_basis: np.ndarray,
    lo: int,
    hi: int,
    proj: np.ndarray,
    resid: np.ndarray,
) -> None:
    """For rows lo..hi-1: each warped view (``proj[row, h]``, ``resid[row, h]``) and the
    thumbnail as it is over the compared pixels (``[row, H]``), as coordinates in ``basis``
    and the norm left outside it, and the whole thumbnail in ``whole_basis`` (``[row, H+1]``)
    (see score_pass: upper bounds on their correlations)."""
    n_h, pixels = mask.shape
    every = np.arange(n_h)
    a = np.empty(pixels, np.float32)
    y = np.empty(pixels, np.float64)
    views = np.empty((n_h, pixels), np.float64)
    sx = np.empty(n_h, np.float64)
    sxx = np.empty(n_h, np.float64)
    out = np.empty(basis.shape[0], np.float64)
    for row in range(lo, hi):
        for k in range(pixels):
            a[k] = np.float32(thumbs[row, k])
            y[k] = np.float64(thumbs[row, k]) * mask[0, k]
        _warp_views(a, every, index, weight, mask, views, sx, sxx)
        for h in range(n_h):
            rest = _project(views[h], basis, counts[h], sx[h], sxx[h], out)
            _store(out, rest, proj[row, h], resid[row], h)
        rest = _project(y, basis, counts[0], stats[row, 0, 0], stats[row, 0, 1], out)
        _store(out, rest, proj[row, n_h], resid[row], n_h)
        for k in range(pixels):
            y[k] = np.float64(thumbs[row, k])
        s, ss = stats[row, n_h, 0], stats[row, n_h, 1]
        rest = _project(y, whole_basis, pixels, s, ss, out)
        _store(out, rest, proj[row, n_h + 1], resid[row], n_h + 1)


# Bounds are stored as int16 fixed point (half the memory of float32 at a library's scale):
# a value in -1..1 is round(value * BOUND_SCALE), off by at most 0.5 / BOUND_SCALE, so a
# bound (a dot product of 15 such numbers, each side of norm at most 1) is off by at most
# about 2e-4, which the caller's margin covers (verify._BOUND_MARGIN).
BOUND_SCALE = 32767


@_njit
def _store(values: np.ndarray, rest: float, proj: np.ndarray, resid: np.ndarray, h: int) -> None:
    for c in range(values.shape[0]):
        proj[c] = np.int16(np.floor(values[c] * BOUND_SCALE + 0.5))
    resid[h] = np.int16(np.floor(rest * BOUND_SCALE + 0.5))


@_njit
def _bound(proj: np.ndarray, resid: np.ndarray, a: int, h: int, b: int, g: int) -> float:
    """Upper bound on the correlation of view h of row a with view g of row b (to within
    the fixed point's error): with u and v the two centred, normalised vectors and P the
    projection on the basis (orthonormal, orthogonal to constants),
    u.v = Pu.Pv + (u-Pu).(v-Pv) <= Pu.Pv + |u-Pu| |v-Pv|."""
    t = np.int64(resid[a, h]) * np.int64(resid[b, g])
    for c in range(proj.shape[2]):
        t += np.int64(proj[a, h, c]) * np.int64(proj[b, g, c])
    return float(t) / (BOUND_SCALE * BOUND_SCALE)


@_njit
def score_pass(
    thumbs: np.ndarray,
    stats: np.ndarray,
    key: np.ndarray,
    other: np.ndarray,
    order: np.ndarray,
    lo: int,
    hi: int,
    key_perm: np.ndarray,
    other_perm: np.ndarray,
    other_as_is: bool,
    hyps: np.ndarray,
    index: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    counts: np.ndarray,
    with_same: bool,
    skip_above: float,
    same: np.ndarray,
    best: np.ndarray,
    proj: np.ndarray,
    resid: np.ndarray,
    below: float,
) -> None:
    """Score pairs ``order[lo:hi]`` (ordered by ``key``): the warped views of thumbnail
    ``key[p]`` (seen through ``key_perm``) against thumbnail ``other[p]`` (through
    ``other_perm``), for hypotheses ``hyps``; ``best[p]`` is raised to the best of them.

    ``stats`` holds plain_stats of every row; they describe the other side only when it is seen
    as it is (``other_as_is``), else its sums are taken on the way. With ``with_same`` the pass
    first sets ``same[p]`` (and ``best[p]``) to the correlation as they are. Pairs whose
    ``same[p]`` is at least ``skip_above`` need no warps and are skipped.

    With bounds (``proj`` and ``resid`` from bound_rows for every row, not empty; both sides
    as they are), a hypothesis whose bound (see _bound) is below ``below`` is not computed:
    ``best[p]`` is then exact when it reaches ``below``, and otherwise may stay lower than
    the exact best (never higher). The key's views are made only when a pair needs them.
    When the pass that sets ``same`` rules out every hypothesis and the plain correlation
    too, the pair is not read at all: ``same[p]`` and ``best[p]`` are RULED_OUT, and the
    other pass computes ``same[p]`` exactly if one of its hypotheses is still possible.
    """
    pixels = thumbs.shape[1]
    n_all = mask.shape[0]
    n_h = hyps.shape[0]
    bounded = proj.shape[0] > 0
    a = np.empty(pixels, np.float32)
    y = np.empty(pixels, np.float64)
    views = np.empty((n_h, pixels), np.float64)
    sx = np.empty(n_h, np.float64)
    sxx = np.empty(n_h, np.float64)
    wanted = np.ones(n_h, np.bool_)
    current = -1
    warped = -1
    ax = axx = 0.0
    for t in range(lo, hi):
        p = order[t]
        row = key[p]
        if row != current:
            current = row
            _load(thumbs, row, key_perm, a)
            if with_same:
                ax = 0.0
                axx = 0.0
                for k in range(pixels):
                    v = np.float64(a[k])
                    ax += v
                    axx += v * v
        col = other[p]
        if not with_same and same[p] >= skip_above:
            continue
        any_wanted = True
        if bounded:
            any_wanted = False
            for u in range(n_h):
                wanted[u] = _bound(proj, resid, row, hyps[u], col, n_all) >= below
                any_wanted = any_wanted or wanted[u]
            if not any_wanted:
                if not with_same:
                    continue  # nothing to compute: not even the other side's pixels are read
                if _bound(proj, resid, row, n_all + 1, col, n_all + 1) < below:
                    same[p] = RULED_OUT  # not even compared as they are
                    best[p] = RULED_OUT
                    continue
        if other_as_is:
            for k in range(pixels):
                y[k] = np.float64(thumbs[col, k])
        else:
            for k in range(pixels):
                y[k] = np.float64(thumbs[col, other_perm[k]])
        # The plain correlation: this pass sets it, or the other pass ruled the pair out
        # without it but one of these hypotheses may pass (the key's sums are then its row's).
        if with_same or same[p] == RULED_OUT:
            kx, kxx = (ax, axx) if with_same else (stats[row, n_all, 0], stats[row, n_all, 1])
            aby = 0.0
            for k in range(pixels):
                aby += np.float64(a[k]) * y[k]
            s = _pearson(kx, stats[col, n_all, 0], kxx, stats[col, n_all, 1], aby, pixels)
            same[p] = s
            best[p] = s
            if s >= skip_above or not any_wanted:
                continue
        if warped != row:
            warped = row
            _warp_views(a, hyps, index, weight, mask, views, sx, sxx)
        top = best[p]
        for u in range(n_h):
            if bounded and not wanted[u]:
                continue
            h = hyps[u]
            sxy = 0.0
            for k in range(pixels):
                sxy += views[u, k] * y[k]
            if other_as_is:
                sy = stats[col, h, 0]
                syy = stats[col, h, 1]
            else:
                sy = syy = 0.0
                for k in range(pixels):
                    m = mask[h, k]
                    sy += m * y[k]
                    syy += m * y[k] * y[k]
            found = _pearson(sx[u], sy, sxx[u], syy, sxy, counts[h])
            if found > top:
                top = found
        best[p] = top


# ---------------------------------------------------------------- the match (verify.match_rows)


@_njit
def _content(
    src: np.ndarray, box: np.ndarray, side: int, out: np.ndarray, inside: np.ndarray
) -> None:
    """``src`` (a side x side thumbnail, flattened) resampled from its content box (left, top,
    right, bottom shares trimmed) to the whole grid, bilinear; ``inside`` |= the cells of the
    grid within the box (as verify._content_plain)."""
    left, top, right, bottom = box[0], box[1], box[2], box[3]
    for r in range(side):
        t = (r + 0.5) / side
        ys = (top + t * (1.0 - top - bottom)) * side - 0.5
        ys = min(max(ys, 0.0), side - 1.0)
        y0 = min(int(np.floor(ys)), side - 2)
        fy = ys - y0
        row_in = t > top and t < 1.0 - bottom
        for c in range(side):
            u = (c + 0.5) / side
            xs = (left + u * (1.0 - left - right)) * side - 0.5
            xs = min(max(xs, 0.0), side - 1.0)
            x0 = min(int(np.floor(xs)), side - 2)
            fx = xs - x0
            a = src[y0 * side + x0] * (1.0 - fx) + src[y0 * side + x0 + 1] * fx
            b = src[(y0 + 1) * side + x0] * (1.0 - fx) + src[(y0 + 1) * side + x0 + 1] * fx
            out[r * side + c] = a * (1.0 - fy) + b * fy
            if row_in and u > left and u < 1.0 - right:
                inside[r * side + c] = True


@_njit
def _fit(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, sigmas: float, levels: float
) -> tuple[float, float, float, float, float]:
    """Fit v ~ gain * u + offset over the cells where w: (cells, mean of u, mean of v, gain,
    the error beyond which a cell is covered)."""
    n = su = sv = 0.0
    for p in range(u.shape[0]):
        if w[p]:
            n += 1.0
            su += u[p]
            sv += v[p]
    mu, mv = su / max(n, 1.0), sv / max(n, 1.0)
    suu = svv = suv = 0.0
    for p in range(u.shape[0]):
        if w[p]:
            du, dv = u[p] - mu, v[p] - mv
            suu += du * du
            svv += dv * dv
            suv += du * dv
    g = suv / suu if suu > 0.0 else 0.0
    return n, mu, mv, g, max(sigmas * np.sqrt(svv / max(n, 1.0)), levels)


@_njit
def _robust(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, sigmas: float, levels: float, out: np.ndarray
) -> None:
    """Fit v ~ gain * u + offset over the cells where w (_fit); out = (covered share, the
    correlation of the cells not covered, their gain) (as verify._robust_plain)."""
    n, mu, mv, g, tolerance = _fit(u, v, w, sigmas, levels)
    if n < 1.0:
        out[0], out[1], out[2] = 1.0, 0.0, 0.0
        return
    covered = 0.0
    k = su2 = sv2 = 0.0
    for p in range(u.shape[0]):
        if w[p]:
            if abs((v[p] - mv) - g * (u[p] - mu)) > tolerance:
                covered += 1.0
            else:
                k += 1.0
                su2 += u[p]
                sv2 += v[p]
    mu2, mv2 = su2 / max(k, 1.0), sv2 / max(k, 1.0)
    cuu = cvv = cuv = 0.0
    for p in range(u.shape[0]):
        if w[p] and abs((v[p] - mv) - g * (u[p] - mu)) <= tolerance:
            eu, ev = u[p] - mu2, v[p] - mv2
            cuu += eu * eu
            cvv += ev * ev
            cuv += eu * ev
    out[0] = covered / n
    out[1] = cuv / np.sqrt(cuu * cvv) if cuu > 0.0 and cvv > 0.0 else 0.0
    out[2] = cuv / cuu if cuu > 0.0 else 0.0


@_njit
def _detail(
    u: np.ndarray,
    v: np.ndarray,
    w: np.ndarray,
    side: int,
    sigmas: float,
    levels: float,
    out: np.ndarray,
) -> None:
    """The fine detail of an alignment: each cell less the mean of its 3x3 neighbours (all
    compared), correlated between u and v over the cells not covered (as _robust decides);
    out = (that correlation, the smaller standard deviation of the two details)."""
    n, mu, mv, g, tolerance = _fit(u, v, w, sigmas, levels)
    if n < 1.0:
        out[0], out[1] = 0.0, 0.0
        return
    k = sa = sb = saa = sbb = sab = 0.0
    for r in range(1, side - 1):
        for c in range(1, side - 1):
            p = r * side + c
            if not w[p] or abs((v[p] - mv) - g * (u[p] - mu)) > tolerance:
                continue
            whole = True
            mean_u = mean_v = 0.0
            for dr in range(-1, 2):
                for dc in range(-1, 2):
                    q = (r + dr) * side + c + dc
                    if not w[q]:
                        whole = False
                    mean_u += u[q]
                    mean_v += v[q]
            if not whole:
                continue
            a = u[p] - mean_u / 9.0
            b = v[p] - mean_v / 9.0
            k += 1.0
            sa += a
            sb += b
            saa += a * a
            sbb += b * b
            sab += a * b
    if k < 2.0:
        out[0], out[1] = 0.0, 0.0
        return
    caa = saa - sa * sa / k
    cbb = sbb - sb * sb / k
    cab = sab - sa * sb / k
    out[0] = cab / np.sqrt(caa * cbb) if caa > 0.0 and cbb > 0.0 else 0.0
    out[1] = np.sqrt(max(min(caa, cbb), 0.0) / k)


@_njit
def _warp_into(
    src: np.ndarray,
    index: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    inside: np.ndarray,
    g: int,
    warped: np.ndarray,
    w: np.ndarray,
) -> None:
    """``src`` under warp g (four bilinear taps) into ``warped``, and the cells it compares
    (its mask within the content) into ``w``."""
    for p in range(src.shape[0]):
        warped[p] = (
            src[index[g, 0, p]] * weight[g, 0, p]
            + src[index[g, 1, p]] * weight[g, 1, p]
            + src[index[g, 2, p]] * weight[g, 2, p]
            + src[index[g, 3, p]] * weight[g, 3, p]
        )
        w[p] = mask[g, p] and inside[p]


@_njit
def match_pass(
    fine: np.ndarray,
    boxes: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    perm: np.ndarray,
    sides: np.ndarray,
    index: np.ndarray,
    weight: np.ndarray,
    mask: np.ndarray,
    on_first: np.ndarray,
    sigmas: float,
    levels: float,
    early: float,
    lo: int,
    hi: int,
    covered: np.ndarray,
    correlation: np.ndarray,
    which: np.ndarray,
    gain: np.ndarray,
    detail: np.ndarray,
    detail_std: np.ndarray,
) -> None:
    """The match of pairs lo..hi-1: row left[k] against row right[k] seen through ``perm``
    (its trim box through ``sides``), under as they are, both trimmed to their content, then
    (unless that already scores ``early``: correlation less covered) every warp; the best
    alignment's measures into the outputs, and its fine detail (_detail). ``which``: 0 as they
    are, 1 + h for warp h, 1 + H for trimmed (verify.TRIMMED)."""
    pixels = fine.shape[1]
    side = int(np.sqrt(pixels))
    n_h = index.shape[0]
    x = np.empty(pixels, np.float64)
    y = np.empty(pixels, np.float64)
    xt = np.empty(pixels, np.float64)
    yt = np.empty(pixels, np.float64)
    warped = np.empty(pixels, np.float64)
    inside = np.zeros(pixels, np.bool_)
    every = np.ones(pixels, np.bool_)
    w = np.zeros(pixels, np.bool_)
    box = np.empty(4, np.float64)
    res = np.empty(3, np.float64)
    fine_detail = np.empty(2, np.float64)
    for t in range(lo, hi):
        a, b = left[t], right[t]
        for p in range(pixels):
            x[p] = fine[a, p]
            y[p] = fine[b, perm[p]]
            inside[p] = False
        for s in range(4):
            box[s] = boxes[a, s]
        _content(x, box, side, xt, inside)
        for s in range(4):
            box[s] = boxes[b, sides[s]]
        _content(y, box, side, yt, inside)
        best = -3.0
        for step in range(n_h + 2):
            if step == 0:
                _robust(xt, yt, every, sigmas, levels, res)
                h = n_h + 1
            elif step == 1:
                _robust(x, y, inside, sigmas, levels, res)
                h = 0
            else:
                if best >= early:
                    break
                g = step - 2
                _warp_into(x if on_first[g] else y, index, weight, mask, inside, g, warped, w)
                if on_first[g]:
                    _robust(warped, y, w, sigmas, levels, res)
                else:
                    _robust(x, warped, w, sigmas, levels, res)
                h = g + 1
            score = res[1] - res[0]
            if score > best + 1e-9:  # a tie keeps the earlier alignment (also in numpy)
                best = score
                covered[t] = res[0]
                correlation[t] = res[1]
                gain[t] = res[2]
                which[t] = h
        # the fine detail of the chosen alignment
        h = which[t]
        if h == n_h + 1:
            _detail(xt, yt, every, side, sigmas, levels, fine_detail)
        elif h == 0:
            _detail(x, y, inside, side, sigmas, levels, fine_detail)
        else:
            g = h - 1
            _warp_into(x if on_first[g] else y, index, weight, mask, inside, g, warped, w)
            if on_first[g]:
                _detail(warped, y, w, side, sigmas, levels, fine_detail)
            else:
                _detail(x, warped, w, side, sigmas, levels, fine_detail)
        detail[t] = fine_detail[0]
        detail_std[t] = fine_detail[1]
