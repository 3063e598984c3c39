"""The independent check that a candidate pair from the hash search really is one picture.

A hash threshold alone chains unrelated photos together (A~B, B~C, A far from C), and a loose
threshold is needed to catch cropped or rotated copies. So every candidate pair is verified on
a second signature before union-find may join it: a 16x16 grayscale thumbnail (BOX filter, the
image squeezed to a square) plus one byte saying how much of the image's contrast the thumbnail
can see. Two thumbnails are compared by Pearson correlation, which ignores global brightness and
contrast changes, under a few geometric hypotheses: as they are, one zoomed into the other
(a crop, or a border added), and one turned by a few degrees.

The decision has two branches:
- same geometry: the best hypothesis is "as they are"; then the thumbnails must agree almost
  perfectly (SAME_GEOMETRY). Format changes, re-encoding, resizing, gray, brightness, contrast,
  saturation, blur, noise and small watermarks stay above it; two shots of one scene (an HDR
  on/off pair, a burst) fall just below it.
- edited geometry: a zoom or turn explains the pair clearly better than "as they are" (by at
  least GEOMETRY_GAIN); then the aligned thumbnails must agree well (EDITED_GEOMETRY).

Images with almost no detail at this scale (blank, solid or gradient backgrounds, a page of
small text, a line drawing) have no meaningful signature and never match perceptually, only as
exact byte copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from dedupe.parallel import thread_map

# Bump whenever signature() or its layout changes: the cache namespaces fingerprints by it.
VERSION = 2
# Side of the square grayscale thumbnail.
SIZE = 16
PIXELS = SIZE * SIZE
# Thumbnail bytes, then one byte: 255 * (thumbnail std / image std), capped at 255.
SIGNATURE_BYTES = PIXELS + 1

# Same geometry: the smallest correlation that still means "the same picture".
SAME_GEOMETRY = 0.991
# Edited geometry: the smallest correlation after alignment, and how much better the alignment
# must be than comparing the thumbnails as they are.
EDITED_GEOMETRY = 0.93
GEOMETRY_GAIN = 0.01
# Low information: below this standard deviation (0..255 gray levels) of the thumbnail after
# removing its best-fitting smooth surface (a quadratic: solid colours and gradients)...
MIN_DETAIL = 4.0
# ... or when the thumbnail shows less than this share of the image's own contrast (small text
# on a page, line drawings: the detail is finer than the signature can see).
MIN_DETAIL_RATIO = 0.45
# The thumbnail of a whole image is compared with a zoomed view of the other at these scales
# (crop 5% per side ~ 1.11, border 10% ~ 1.2, crop 15% per side ~ 1.43), and turned by these
# angles in degrees.
ZOOMS = (1.1, 1.2, 1.3, 1.43)
ANGLES = (-4.0, -2.0, 2.0, 4.0)


def signature(image: Image.Image) -> bytes:
    """The check signature of an image (any mode): SIGNATURE_BYTES bytes."""
    gray = image if image.mode == "L" else image.convert("L")
    thumb = gray.resize((SIZE, SIZE), Image.Resampling.BOX)
    detail = float(np.asarray(thumb, dtype=np.float64).std())
    whole = float(np.asarray(gray, dtype=np.float64).std())
    ratio = 0 if whole == 0.0 else min(255, round(255.0 * detail / whole))
    return thumb.tobytes() + bytes([ratio])


def _split(check: bytes) -> tuple[npt.NDArray[np.float64], int]:
    if len(check) != SIGNATURE_BYTES:
        raise ValueError(f"a check signature has {SIGNATURE_BYTES} bytes, not {len(check)}")
    pixels = np.frombuffer(check, dtype=np.uint8, count=PIXELS).astype(np.float64)
    return pixels.reshape(SIZE, SIZE), check[PIXELS]


def signature_array(checks: list[bytes] | tuple[bytes, ...]) -> npt.NDArray[np.uint8]:
    """Many signatures as rows of an (n, SIGNATURE_BYTES) uint8 array."""
    if any(len(c) != SIGNATURE_BYTES for c in checks):
        raise ValueError(f"a check signature has {SIGNATURE_BYTES} bytes")
    if not checks:
        return np.zeros((0, SIGNATURE_BYTES), np.uint8)
    joined = np.frombuffer(b"".join(checks), dtype=np.uint8)
    return joined.reshape(len(checks), SIGNATURE_BYTES)


def thumbnails(checks: list[bytes] | tuple[bytes, ...]) -> npt.NDArray[np.float32]:
    """The thumbnails of many signatures as an (n, PIXELS) float32 array."""
    return signature_array(checks)[:, :PIXELS].astype(np.float32)


@lru_cache(maxsize=1)
def _smooth_basis() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Quadratic surfaces over the thumbnail grid (they describe gradients) and their
    pseudo-inverse: ``x @ inverse.T @ basis.T`` is the best-fitting smooth surface of x."""
    gy, gx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / (SIZE - 1) - 0.5
    x, y = gx.reshape(-1), gy.reshape(-1)
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    return basis, np.linalg.pinv(basis)


# Rows converted to floating point at a time (bounds the temporary arrays to a few MB).
_ROWS = 2048


def low_information_rows(signatures: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """low_information for the rows of a signature_array."""
    basis, inverse = _smooth_basis()
    gram = basis.T @ basis
    flat = np.zeros(len(signatures), dtype=bool)
    for lo in range(0, len(signatures), _ROWS):
        x = signatures[lo : lo + _ROWS, :PIXELS].astype(np.float64)
        # The residual after removing the fitted surface has mean 0 (the surfaces include the
        # constant), so its variance is what the fit leaves of the sum of squares.
        # einsum, not `@`: a multi-threaded BLAS wakes its threads for every small product,
        # which measured 4x slower than this on 2 busy cores.
        coef = np.einsum("ni,ji->nj", x, inverse)
        fitted = np.einsum("nj,jk,nk->n", coef, gram, coef)
        residual = np.sqrt(np.maximum(np.einsum("ij,ij->i", x, x) - fitted, 0.0) / PIXELS)
        flat[lo : lo + _ROWS] = residual < MIN_DETAIL
    fine: npt.NDArray[np.bool_] = signatures[:, PIXELS] < round(255 * MIN_DETAIL_RATIO)
    result: npt.NDArray[np.bool_] = flat | fine
    return result


def low_information(checks: list[bytes] | tuple[bytes, ...]) -> npt.NDArray[np.bool_]:
    """For many signatures: True where the image is blank or near-uniform at this scale."""
    return low_information_rows(signature_array(checks))


def is_low_information(check: bytes) -> bool:
    """True for blank or near-uniform images, which must not match merely by their hashes."""
    return bool(low_information([check])[0])


# ---------------------------------------------------------------- orientations


# The array transform that applies EXIF orientation k (1..8) to a square thumbnail.
ORIENT: dict[int, Callable[[npt.NDArray[np.generic]], npt.NDArray[np.generic]]] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.T,
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).T,
    8: lambda a: np.rot90(a, 1),
}


@lru_cache(maxsize=1)
def orientation_permutations() -> dict[int, npt.NDArray[np.intp]]:
    """Orientation k as an index array: `thumb[:, perm]` is the flattened oriented thumbnail."""
    index = np.arange(PIXELS).reshape(SIZE, SIZE)
    return {k: np.ascontiguousarray(f(index)).reshape(-1) for k, f in ORIENT.items()}


# ---------------------------------------------------------------- geometric hypotheses


@dataclass(frozen=True, slots=True)
class Warp:
    """Bilinear resampling of a flattened thumbnail: out[p] = sum_k x[index[k, p]] * weight[k, p].

    `mask` marks the output pixels that are compared.
    """

    zoom: float
    angle: float
    index: npt.NDArray[np.intp]
    weight: npt.NDArray[np.float32]
    mask: npt.NDArray[np.bool_]


def _warp(zoom: float, angle: float) -> Warp:
    """Output pixel p samples the input at p zoomed in by `zoom` and turned by `angle` degrees,
    both about the centre."""
    centre = (SIZE - 1) / 2.0
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    x, y = (xx - centre) / zoom, (yy - centre) / zoom
    t = np.deg2rad(angle)
    xs = np.cos(t) * x - np.sin(t) * y + centre
    ys = np.sin(t) * x + np.cos(t) * y + centre
    # Compare only pixels that sample well inside the other thumbnail and are not on the outer
    # ring themselves: edge cells mix picture with the fill of a turn or the edge of a border.
    inside = (xs >= 0.5) & (xs <= SIZE - 1.5) & (ys >= 0.5) & (ys <= SIZE - 1.5)
    inside &= (xx > 0) & (xx < SIZE - 1) & (yy > 0) & (yy < SIZE - 1)
    xs, ys = np.clip(xs, 0, SIZE - 1), np.clip(ys, 0, SIZE - 1)
    x0, y0 = np.floor(xs).astype(np.intp), np.floor(ys).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, SIZE - 1), np.minimum(y0 + 1, SIZE - 1)
    fx, fy = xs - x0, ys - y0
    index = np.stack([y0 * SIZE + x0, y0 * SIZE + x1, y1 * SIZE + x0, y1 * SIZE + x1])
    weight = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy])
    return Warp(
        zoom,
        angle,
        index.reshape(4, PIXELS),
        weight.reshape(4, PIXELS).astype(np.float32),
        inside.reshape(PIXELS),
    )


@lru_cache(maxsize=1)
def warps() -> tuple[Warp, ...]:
    """The geometric hypotheses besides "as they are"."""
    return tuple(_warp(z, 0.0) for z in ZOOMS) + tuple(_warp(1.0, a) for a in ANGLES)


@lru_cache(maxsize=1)
def tables() -> tuple[
    npt.NDArray[np.intp],
    npt.NDArray[np.float32],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    """The warps as flat arrays for the kernel: taps, weights, compared pixels (as 0/1), how
    many pixels each compares, and which hypotheses are zooms (tried both ways)."""
    all_warps = warps()
    index = np.stack([w.index for w in all_warps]).astype(np.intp)
    weight = np.stack([w.weight for w in all_warps]).astype(np.float32)
    mask = np.stack([w.mask for w in all_warps]).astype(np.float64)
    counts = np.array([int(w.mask.sum()) for w in all_warps], dtype=np.int64)
    zooms = np.array([h for h, w in enumerate(all_warps) if w.zoom != 1.0], dtype=np.int64)
    return index, weight, mask, counts, zooms


# The bases of the bounds that let score_pairs(prune=True) skip hypotheses: the 2D cosines
# of the lowest frequencies (1 <= u + v <= 4: 14 of them) over the compared pixels (and over
# the whole thumbnail, for the plain correlation). Photos keep most of their contrast there,
# so two different pictures are bounded well below EDITED_GEOMETRY (measured: 97-99.5% of
# the hypotheses of unrelated candidate pairs pruned).
_BOUND_FREQUENCIES = 4
# What the bound keeps below EDITED_GEOMETRY to cover its fixed-point storage (errors up to
# about 2e-4, see _verify_kernel.BOUND_SCALE).
_BOUND_MARGIN = 5e-4


@lru_cache(maxsize=1)
def bound_bases() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The bases of the bounds (see _BOUND_FREQUENCIES): over the pixels every hypothesis
    compares (zero elsewhere), and over the whole thumbnail. Orthonormal rows, each orthogonal
    to the constant image; empty if the hypotheses compare different pixels (the bounds
    assume one set)."""
    mask = tables()[2]
    if not (mask == mask[0]).all():
        return np.zeros((0, PIXELS)), np.zeros((0, PIXELS))
    return _cosines(mask[0].astype(bool)), _cosines(np.ones(PIXELS, dtype=bool))


def _cosines(compared: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    inside = compared.reshape(SIZE, SIZE)
    rows = np.flatnonzero(inside.any(axis=1))
    cols = np.flatnonzero(inside.any(axis=0))
    h, w = len(rows), len(cols)
    cy = np.cos(np.pi * (np.arange(h)[:, None] + 0.5) * np.arange(h)[None, :] / h)
    cx = np.cos(np.pi * (np.arange(w)[:, None] + 0.5) * np.arange(w)[None, :] / w)
    waves = [
        np.outer(cy[:, u], cx[:, v])
        for total in range(1, _BOUND_FREQUENCIES + 1)
        for u in range(total + 1)
        for v in [total - u]
        if u < h and v < w
    ]
    flat = np.zeros((len(waves), SIZE, SIZE))
    for c, wave in enumerate(waves):
        flat[c][np.ix_(rows, cols)] = wave - wave.mean()
    q, _ = np.linalg.qr(flat.reshape(len(waves), PIXELS).T)
    basis: npt.NDArray[np.float64] = np.ascontiguousarray(q.T)
    return basis


@dataclass(frozen=True, slots=True)
class Scores:
    """Per pair: correlation as the thumbnails are, and the best over all hypotheses."""

    same: npt.NDArray[np.float32]
    best: npt.NDArray[np.float32]

    def accepted(self) -> npt.NDArray[np.bool_]:
        aligned = (self.best >= EDITED_GEOMETRY) & (self.best - self.same >= GEOMETRY_GAIN)
        result: npt.NDArray[np.bool_] = (self.same >= SAME_GEOMETRY) | aligned
        return result


# Pairs (or rows) per task of the thread pool.
_TASK = 4096
# From how many pairs (or thumbnails, for their sums) the numba kernels are used when the
# caller does not say: loading numba and the cached kernels costs about a second of CPU once
# per process, which numpy's ~60 us per pair (the kernel's few us) repays from about 20,000
# pairs, and its ~3.6 us per thumbnail's sums (the kernel's 0.4) from about 300,000.
# cluster() decides once for all of its pairs (cluster.compiles).
COMPILED_PAIRS = 20_000
COMPILED_ROWS = 300_000
# Pairs scored at a time by numpy: each takes ~33 KB of temporary arrays.
_PLAIN_PAIRS = 256


def _run_tasks(fn: Callable[[tuple[int, int]], None], n: int) -> None:
    """fn over the spans of 0..n-1, on every usable core (the kernels release the GIL)."""
    thread_map(fn, [(lo, min(lo + _TASK, n)) for lo in range(0, n, _TASK)])


@dataclass(frozen=True, slots=True, eq=False)
class Thumbs:
    """Thumbnails ready for :func:`score_pairs`: their gray levels, an (n, PIXELS) array (uint8
    from the rows of a :func:`signature_array`, or float32), and per row the sum and sum of
    squares of the pixels each hypothesis compares and of all pixels (so a pair costs one dot
    product per hypothesis)."""

    gray: npt.NDArray[Any]
    sums: npt.NDArray[np.float64]
    # bounds(), once computed: per row the coordinates of every view in bound_bases() and
    # the norm outside it
    _bounds: list[tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]] = field(
        default_factory=list, init=False, repr=False
    )

    @classmethod
    def of(cls, gray: npt.NDArray[Any], *, compiled: bool | None = None) -> Thumbs:
        """`compiled`: sum with the numba kernel (None: from COMPILED_ROWS rows on); else numpy,
        which needs no compiled code loaded (see score_pairs)."""
        if gray.ndim != 2 or gray.shape[1] != PIXELS:
            raise ValueError(f"expected an (n, {PIXELS}) array of thumbnails, got {gray.shape}")
        if gray.strides[1] != gray.itemsize:  # rows may be views into wider arrays, pixels not
            gray = np.ascontiguousarray(gray)
        mask = tables()[2]
        sums = np.empty((len(gray), len(mask) + 1, 2), dtype=np.float64)
        if compiled if compiled is not None else len(gray) >= COMPILED_ROWS:
            from dedupe import _verify_kernel as kernel  # numba: only imported when it pays

            _run_tasks(
                lambda span: kernel.plain_stats(gray, mask, span[0], span[1], sums), len(gray)
            )
        else:
            for lo in range(0, len(gray), _ROWS):
                y = gray[lo : lo + _ROWS].astype(np.float64)
                yy = y * y
                part = sums[lo : lo + _ROWS]
                part[:, :-1, 0] = np.einsum("np,hp->nh", y, mask)
                part[:, :-1, 1] = np.einsum("np,hp->nh", yy, mask)
                part[:, -1, 0] = y.sum(axis=1)
                part[:, -1, 1] = yy.sum(axis=1)
        return cls(gray, sums)

    @classmethod
    def from_signatures(
        cls, signatures: npt.NDArray[np.uint8], *, compiled: bool | None = None
    ) -> Thumbs:
        """From the rows of a signature_array."""
        return cls.of(signatures[:, :PIXELS], compiled=compiled)

    def __len__(self) -> int:
        return len(self.gray)

    def bounds(self) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]:
        """For score_pairs(prune=True): each row's warped views, the row as it is over the
        compared pixels and the whole row, as coordinates in bound_bases() (n, hypotheses + 2,
        k) and the norm left outside them (n, hypotheses + 2). Computed once (about 17 us of
        CPU and 300 bytes a row), as fixed point (see _verify_kernel.BOUND_SCALE)."""
        if not self._bounds:
            from dedupe import _verify_kernel as kernel  # numba

            index, weight, mask, counts, _ = tables()
            inside, whole = bound_bases()
            n, views = len(self.gray), len(counts) + 2
            proj = np.empty((n, views, len(inside)), dtype=np.int16)
            resid = np.empty((n, views), dtype=np.int16)
            _run_tasks(
                lambda span: kernel.bound_rows(
                    self.gray, self.sums, index, weight, mask, counts, inside, whole,
                    span[0], span[1], proj, resid,
                ),
                n,
            )  # fmt: skip
            self._bounds.append((proj, resid))
        return self._bounds[0]


def score_pairs(
    thumbs: Thumbs,
    i: npt.NDArray[np.integer[Any]],
    j: npt.NDArray[np.integer[Any]],
    orientation: int = 1,
    *,
    compiled: bool | None = None,
    prune: bool = False,
) -> Scores:
    """Compare thumbnails i[k] and j[k] (j seen under the EXIF `orientation`) under every
    hypothesis.

    j is taken as a zoomed (cropped) or turned view of i and, for zooms, the other way round.
    A pair that already passes as it is skips the warps (its best score is then its plain one).
    With `compiled` (None: from COMPILED_PAIRS pairs on) the numba kernel scores them: each
    thumbnail is warped once per run of pairs it leads (see _verify_kernel), so the cost per
    pair is a few vectorised dot products, whatever the number of pairs. Otherwise numpy does
    the same arithmetic a few hundred pairs at a time (_score_plain).

    `prune` (compiled, orientation 1): skip each hypothesis whose upper bound (from
    Thumbs.bounds, see _verify_kernel._bound) shows it cannot reach EDITED_GEOMETRY. The
    verdicts (Scores.accepted) are the same; `best` is exact where it reaches EDITED_GEOMETRY
    and elsewhere may be lower than the exact best; a pair ruled out entirely is not even
    compared as it is (`same` and `best` are -1). For many pairs of different pictures (a
    loose threshold) this skips most of the work.
    """
    if len(i) != len(j):
        raise ValueError(f"pairs need as many i as j, got {len(i)} and {len(j)}")
    n_rows, n = len(thumbs), len(i)
    left = np.ascontiguousarray(i, dtype=np.int64)
    right = np.ascontiguousarray(j, dtype=np.int64)
    if n and (min(left.min(), right.min()) < 0 or max(left.max(), right.max()) >= n_rows):
        raise IndexError(f"pair indices must lie in 0..{n_rows - 1}")
    same = np.zeros(n, dtype=np.float32)
    best = np.zeros(n, dtype=np.float32)
    if n == 0:
        return Scores(same, best)
    if not (compiled if compiled is not None else n >= COMPILED_PAIRS):
        _score_plain(thumbs, left, right, orientation, same, best)
        return Scores(same, best)
    from dedupe import _verify_kernel as kernel  # numba: only imported when it pays

    index, weight, mask, counts, zooms = tables()
    every = np.arange(len(counts), dtype=np.int64)
    identity = orientation_permutations()[1]
    turned = orientation_permutations()[orientation]
    if prune and orientation == 1 and len(bound_bases()[0]):
        proj, resid = thumbs.bounds()
    else:
        proj, resid = np.empty((0, 1, 1), np.int16), np.empty((0, 1), np.int16)
    below = EDITED_GEOMETRY - _BOUND_MARGIN
    passes = (
        # (key side, other side, key's view, other's view, hypotheses, sets `same`)
        (left, right, identity, turned, every, True),
        (right, left, turned, identity, zooms, False),
    )
    for key, other, key_perm, other_perm, hyps, with_same in passes:
        # a counting sort over the rows, or a comparison sort when there are far fewer pairs
        if n * 8 >= n_rows:
            order = kernel.order_by(key, n_rows)
        elif n > 1:
            order = np.argsort(key, kind="stable")
        else:
            order = np.zeros(1, dtype=np.int64)
        other_as_is = other_perm is identity

        def run(
            span: tuple[int, int],
            key: npt.NDArray[np.int64] = key,
            other: npt.NDArray[np.int64] = other,
            order: npt.NDArray[np.int64] = order,
            key_perm: npt.NDArray[np.intp] = key_perm,
            other_perm: npt.NDArray[np.intp] = other_perm,
            other_as_is: bool = other_as_is,
            hyps: npt.NDArray[np.int64] = hyps,
            with_same: bool = with_same,
        ) -> None:
            kernel.score_pass(
                thumbs.gray, thumbs.sums, key, other, order, span[0], span[1], key_perm,
                other_perm, other_as_is, hyps, index, weight, mask, counts, with_same,
                SAME_GEOMETRY, same, best, proj, resid, below,
            )  # fmt: skip

        _run_tasks(run, n)
    if len(proj):
        ruled_out = same == np.float32(kernel.RULED_OUT)  # by the bounds, not compared
        same[ruled_out] = best[ruled_out] = -1.0
    return Scores(same, best)


def _pearson(
    sx: npt.NDArray[np.float64],
    sy: npt.NDArray[np.float64],
    sxx: npt.NDArray[np.float64],
    syy: npt.NDArray[np.float64],
    sxy: npt.NDArray[np.float64],
    n: npt.NDArray[np.int64] | int,
) -> npt.NDArray[np.float64]:
    """Correlation from running sums over n pixels; 0 where either side has no variance (as
    _verify_kernel._pearson)."""
    vx = sxx - sx * sx / n
    vy = syy - sy * sy / n
    live = (vx > 0.0) & (vy > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (sxy - sx * sy / n) / np.sqrt(vx * vy)
    result: npt.NDArray[np.float64] = np.where(live, r, 0.0)
    return result


def _views(
    key: npt.NDArray[np.float32], hyps: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The warped views of each row of `key` under hypotheses `hyps`, zero outside each one's
    compared pixels, with their sums and sums of squares (as _verify_kernel._warp_views: the
    four taps summed in float32)."""
    index, weight, mask, _, _ = tables()
    taps = key[:, index[hyps]]  # (pairs, hypotheses, 4, PIXELS)
    w = weight[hyps]
    mixed = taps[:, :, 0] * w[:, 0] + taps[:, :, 1] * w[:, 1]
    mixed = mixed + taps[:, :, 2] * w[:, 2] + taps[:, :, 3] * w[:, 3]
    views = mixed.astype(np.float64) * mask[hyps]
    return views, views.sum(axis=2), np.einsum("mhp,mhp->mh", views, views)


def _score_plain(
    thumbs: Thumbs,
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    orientation: int,
    same: npt.NDArray[np.float32],
    best: npt.NDArray[np.float32],
) -> None:
    """score_pairs with numpy, _PLAIN_PAIRS pairs at a time: the kernel's two passes (i warped
    under every hypothesis against j; j warped by the zooms against i), vectorised."""
    _, _, mask, counts, zooms = tables()
    every = np.arange(len(counts), dtype=np.int64)
    turned = orientation_permutations()[orientation]
    for lo in range(0, len(left), _PLAIN_PAIRS):
        i, j = left[lo : lo + _PLAIN_PAIRS], right[lo : lo + _PLAIN_PAIRS]
        a = thumbs.gray[i].astype(np.float32)
        b = thumbs.gray[j][:, turned].astype(np.float32)  # j under the orientation
        x, y = a.astype(np.float64), b.astype(np.float64)
        whole_i, whole_j = thumbs.sums[i, -1], thumbs.sums[j, -1]  # the same in any orientation
        plain = _pearson(
            whole_i[:, 0], whole_j[:, 0], whole_i[:, 1], whole_j[:, 1],
            np.einsum("mp,mp->m", x, y), PIXELS,
        )  # fmt: skip
        top = plain.copy()
        warp = np.flatnonzero(plain < SAME_GEOMETRY)  # the others pass as they are
        if len(warp):
            x, y, i, j = x[warp], y[warp], i[warp], j[warp]
            # i warped, against j as it is seen (its sums under each hypothesis' pixels)
            views, sx, sxx = _views(a[warp], every)
            if orientation == 1:
                sy, syy = thumbs.sums[j][:, every, 0], thumbs.sums[j][:, every, 1]
            else:
                sy = np.einsum("mp,hp->mh", y, mask[every])
                syy = np.einsum("mp,hp->mh", y * y, mask[every])
            sxy = np.einsum("mhp,mp->mh", views, y)
            found = _pearson(sx, sy, sxx, syy, sxy, counts[every]).max(axis=1)
            # j warped by the zooms (a crop of i), against i as it is
            views, sx, sxx = _views(b[warp], zooms)
            sy, syy = thumbs.sums[i][:, zooms, 0], thumbs.sums[i][:, zooms, 1]
            sxy = np.einsum("mhp,mp->mh", views, x)
            found = np.maximum(found, _pearson(sx, sy, sxx, syy, sxy, counts[zooms]).max(axis=1))
            top[warp] = np.maximum(top[warp], found)
        same[lo : lo + len(plain)] = plain
        best[lo : lo + len(plain)] = top


def score(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> Scores:
    """Compare thumbnails a[k] and b[k] (rows of (n, PIXELS) arrays) under every hypothesis;
    see :func:`score_pairs`."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != PIXELS:
        raise ValueError(f"expected two (n, {PIXELS}) arrays, got {a.shape} and {b.shape}")
    n = len(a)
    return score_pairs(Thumbs.of(np.concatenate([a, b])), np.arange(n), np.arange(n, 2 * n))


def _pair(a: bytes, b: bytes, orientation: int) -> Scores:
    perm = orientation_permutations()[orientation]
    ta, tb = thumbnails([a, b])
    return score(ta[None, :], tb[perm][None, :])


def similarity(a: bytes, b: bytes, orientation: int = 1) -> float:
    """Best correlation (-1..1) of two signatures over the hypotheses, b under `orientation`."""
    return float(_pair(a, b, orientation).best[0])


def accept(a: bytes, b: bytes, orientation: int = 1) -> bool:
    """Whether a candidate pair passes verification (b seen under the EXIF orientation)."""
    if is_low_information(a) or is_low_information(b):
        return False
    return bool(_pair(a, b, orientation).accepted()[0])
