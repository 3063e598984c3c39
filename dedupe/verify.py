"""The independent check that a candidate pair from the hash search really is one picture.

A hash threshold alone chains unrelated photos together (A~B, B~C, A far from C), and a loose
threshold is needed to catch cropped or rotated copies. So every candidate pair is verified on
a second signature before it may join a group. The signature (see signature()) holds, of the
image's content after trimming uniform borders (a frame or letterbox added to a copy, or the
margins of a page):

- a 16x16 grayscale thumbnail of the whole image (BOX filter, squeezed to a square): the
  *screen*. Two thumbnails
  are compared by Pearson correlation under a few geometric hypotheses (as they are, one
  zoomed into the other for crops, one turned by a few degrees), on compiled kernels that
  bound what cannot pass (cheap enough for millions of candidate pairs). A pair whose best
  correlation is below SCREEN is different; the others go on to
- a 32x32 grayscale thumbnail of the whole image and the box of its content inside uniform
  borders: the *match*. Under the same hypotheses, and with both trimmed to their content
  (a border added, a page's margins), the second is fitted to
  the first by a gain and an offset (brightness and contrast edits), and every cell whose
  error is large against the picture's own contrast counts as *covered* (a watermark, a date
  stamp, a caption, a moved subject, another screen's content). Same picture: at most
  MAX_COVERED of the cells covered, the rest correlating at least MATCH, a gain and an offset
  that a brightness or contrast edit could make. A page of text, line art, fine texture or a
  gradient is compared like any other picture; only a flat image (one colour) is not.
- capture facts from EXIF (time to the millisecond, camera): two files that match but were
  captured at different times are two *shots* of one scene (a burst), never copies; they form
  a group of their own kind, which proposes nothing for trash (see groups.py).
- the picture's sharpness (for keeping the sharpest of a burst, when a person asks for that)
  and how much border was trimmed (for saying so).
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from dedupe import hashing
from dedupe.parallel import thread_map

# The check's version: bump whenever signature() or its layout, or the verdict, changes (a
# report's index and the scan's grouping memo record it: their checked pairs are verdicts).
# The hash cache keeps fingerprints by SIGNATURE_VERSION alone (below), so a change of the
# verdict only does not make every user decode every photo again.
# 3: trimmed content, the 32x32 match, capture facts, flat-only refusal.
# 4: the geometric check of the pairs the thumbnails cannot settle; shots within a window.
# 5: a smooth picture is no copy of a textured one; sure copies agree in their fine detail.
# 6: an animation is no copy of a still picture (flag 4 of the capture); capture times apart
# by whole quarter hours to the millisecond are one capture with its clock moved.
# 7: colour layouts of a pair aligned as they are, whose borders differ, are compared over the
# part of the picture both cover.
# 8: the geometric check (geometry.VERSION 3) smooths dark pictures before their stretch and
# never refutes a small picture (the match decides).
# 9: the content check (dedupe/content.py) of the copies aligned in one frame: screenshots of
# one app, pages of one template with other content in the same places are two pictures.
# 10: the geometric check (geometry.VERSION 4): its spread over the cells that hold a share of
# the keypoints (dark pictures' copies), and a shifted view is no copy (a scrolled screen,
# another capture of the scene; two shots when captured apart); a faint picture whose
# thumbnail varies (FLAT_DETAIL) is no longer flat.
VERSION = 10
# Bump whenever signature() or its layout changes (and VERSION with it): what the hash cache
# keeps of each file. 6: the animation flag. (Check 7 changed only the verdict.)
SIGNATURE_VERSION = 6
# Side of the square grayscale thumbnail of the screen.
SIZE = 16
PIXELS = SIZE * SIZE
# Side of the square grayscale thumbnail of the match.
FINE = 32
FINE_PIXELS = FINE * FINE
# Side of the grid of mean chroma (blue, red; 128 = none) of the content: the colour layout.
CHROMA = 4

# The layout of a signature: the screen's thumbnail, one byte of detail (255 * thumbnail std /
# image std), the match's thumbnail, the trimmed border (left, top, right, bottom, each in
# 1/250 of the side), the capture (milliseconds, signed 64-bit big-endian; flags: 1 = captured
# time known, 2 = with sub-seconds, 4 = an animation; CRC-32 of the camera's name, 0 when
# unknown), the sharpness (16-bit), the flatness (10 x the image's standard deviation, at
# most 255) and the chroma grid (CHROMA x CHROMA blue values, then as many red; all 128 for a
# gray image or one decoded without colour), then the framing codes (see framing_codes).
_DETAIL = PIXELS
_FINE_AT = PIXELS + 1
_TRIM_AT = _FINE_AT + FINE_PIXELS
_CAPTURE_AT = _TRIM_AT + 4
_SHARP_AT = _CAPTURE_AT + 13
_FLAT_AT = _SHARP_AT + 2
_CHROMA_AT = _FLAT_AT + 1
_CODES_AT = _CHROMA_AT + 2 * CHROMA * CHROMA
# The framing codes: the 8x8 dHash (64 bits, big-endian) of the whole picture, of its content
# trimmed of uniform borders, and of the central FRAMED share of that content. A framed copy's
# trimmed content is the original's whole; a cropped copy's whole is about the original's
# centre; a copy turned a few degrees has about the same centre (see cluster._candidates).
FRAMINGS = 3
FRAMED = 0.85
SIGNATURE_BYTES = _CODES_AT + 8 * FRAMINGS
_CAPTURE = struct.Struct(">qBI")
# The capture's flag of an animation (a GIF, WebP or APNG of more than one frame).
ANIMATED = 4

# The screen: the smallest best correlation of the 16x16 thumbnails that goes on to the match.
SCREEN = 0.75
# The match (32x32): a cell is covered when its error after the gain/offset fit is more than
# COVER_SIGMAS times the picture's standard deviation (and at least COVER_LEVELS gray levels).
COVER_SIGMAS = 0.6
COVER_LEVELS = 10.0
# Same picture: at most this share of the compared cells covered (aligned by a zoom or a
# turn: MAX_COVERED_WARPED, for the resampling's own error at edges), ...
MAX_COVERED = 0.06
MAX_COVERED_WARPED = 0.1
# ... the others correlating at least this much, ...
MATCH = 0.93
# ... and a gain (contrast ratio) and offset a brightness or contrast edit could make.
MIN_GAIN, MAX_GAIN = 0.65, 1.55
MAX_OFFSET = 60.0
# ... and where both have fine detail (each cell less its neighbours' mean varies by at least
# DETAIL_LEVELS), that detail correlating at least DETAIL_MATCH: pages of one layout, screens
# of one app and different textures differ there, whatever their layout shares.
DETAIL_LEVELS = 1.0
DETAIL_MATCH = 0.5
# ... and not one smooth picture and one textured: where one picture's texture (the mean of
# the smaller 90% of its cells' differences from their neighbours' mean, in gray levels,
# inside its content and away from the edges: see texture_rows) is below SMOOTH_LEVELS, the
# other's at most TEXTURE_RATIO times it (or times SMOOTH_FLOOR, for a picture smoother
# still). A gradient graphic whose shading follows a photo's is no copy of it; a copy's
# texture changes by a factor of at most about 4 (measured on the tune split: resizes,
# crops, frames, noise, labels), and the geometric check may still find one picture.
SMOOTH_LEVELS = 1.0
SMOOTH_FLOOR = 0.25
TEXTURE_RATIO = 6.0
TEXTURE_SHARE = 0.9
TEXTURE_RING = 3
# ... and colour layouts whose cosine is at least CHROMA_MATCH, where both have colour (the
# root-mean-square chroma of the grid at least CHROMA_LEVELS): one slide template in two
# colour schemes, a picture and its hue-shifted look-alike, gradients between other colours.
CHROMA_LEVELS = 4.0
CHROMA_MATCH = 0.8
# Similar shots (two captures): at most this much covered (a moving subject), the rest
# correlating this well, in colours laid out alike.
SHOT_COVERED = 0.25
SHOT_MATCH = 0.93
# ... captured at most this far apart (a burst, a bracket): two captures of a scene further
# apart are two pictures, not two shots of one moment.
SHOT_WINDOW_MS = 2000
# Capture times apart by a whole number of these, to the millisecond (both with sub-seconds),
# and by at most CLOCK_MOVED_MS, are one capture whose clock was moved: a time zone set or
# corrected (UTC-12 to UTC+14 are quarter hours apart), not two shots.
CLOCK_STEP_MS = 15 * 60 * 1000
CLOCK_MOVED_MS = 26 * 60 * 60 * 1000
# Flat: an image whose gray levels vary less than this (standard deviation) is one colour,
# unless its screen's 16x16 thumbnail (the sensor noise averaged away) varies by FLAT_DETAIL
# or more, more than rounding one colour to whole gray levels does: a dark shot of a few gray
# levels has a picture (a photo darkened to 3-7% of the light varies by 1.0-1.4 levels, its
# thumbnail by 0.7-1.0, and its copies' thumbnails correlate 0.97-0.99 with it).
FLAT_STD = 1.5
FLAT_DETAIL = 0.5
# Borders: rows and columns at the edges whose pixels are (almost all) within TRIM_LEVELS of
# the edge colour are trimmed, when that is at least TRIM_MIN of the side and leaves at least
# TRIM_KEEP of it.
TRIM_LEVELS = 12
TRIM_SHARE = 0.999
TRIM_MIN = 0.005
TRIM_KEEP = 0.4
# The thumbnail of a whole image is compared with a zoomed view of the other at these scales
# (crop 5% per side ~ 1.11, border 10% ~ 1.2, crop 15% per side ~ 1.43), and turned by these
# angles in degrees.
ZOOMS = (1.05, 1.11, 1.2, 1.3, 1.43)
ANGLES = (-4.0, -2.0, 2.0, 4.0)
# What the old names meant, kept for the screen's kernels: a pair that correlates this well as
# it is skips the warps; the screen's cut.
SAME_GEOMETRY = 0.991
EDITED_GEOMETRY = SCREEN
GEOMETRY_GAIN = -1.0


def _trim(pixels: npt.NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """The uniform border of a gray image: rows/columns to drop at (left, top, right, bottom)."""
    h, w = pixels.shape
    ring = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    edge = int(np.median(ring))
    close = np.abs(pixels.astype(np.int16) - edge) <= TRIM_LEVELS
    rows = close.mean(axis=1) >= TRIM_SHARE
    cols = close.mean(axis=0) >= TRIM_SHARE

    def run(flags: npt.NDArray[np.bool_]) -> int:
        off = np.flatnonzero(~flags)
        return int(off[0]) if len(off) else len(flags)

    top, bottom = run(rows), run(rows[::-1])
    left, right = run(cols), run(cols[::-1])
    if top + bottom > (1 - TRIM_KEEP) * h or left + right > (1 - TRIM_KEEP) * w:
        return 0, 0, 0, 0  # mostly uniform: nothing to trim it down to
    cut = [
        v if v >= TRIM_MIN * side else 0
        for v, side in ((left, w), (top, h), (right, w), (bottom, h))
    ]
    return cut[0], cut[1], cut[2], cut[3]


def signature(
    image: Image.Image,
    capture: Any = None,
    chroma: tuple[Image.Image, Image.Image] | None = None,
    *,
    animated: bool = False,
) -> bytes:
    """The check signature of an image: SIGNATURE_BYTES bytes. `capture`: the decode.Capture
    of the file, if any; `chroma`: its blue and red chroma planes (decode.Decoded.chroma; of
    an image not in mode L, taken from it); `animated`: the file is an animation (the image
    its first frame)."""
    if chroma is None and image.mode not in ("L", "1", "I", "F", "I;16"):
        _, blue, red = image.convert("RGB").convert("YCbCr").split()
        chroma = (blue, red)
    gray = image if image.mode == "L" else image.convert("L")
    pixels = np.asarray(gray)
    h, w = pixels.shape
    left, top, right, bottom = _trim(pixels) if h >= 8 and w >= 8 else (0, 0, 0, 0)
    content = (
        gray.crop((left, top, w - right, h - bottom)) if left or top or right or bottom else gray
    )
    thumb = gray.resize((SIZE, SIZE), Image.Resampling.BOX)
    fine = gray.resize((FINE, FINE), Image.Resampling.BOX)
    whole_std = float(pixels.std())
    detail = float(np.asarray(thumb, dtype=np.float64).std())
    ratio = 0 if whole_std == 0.0 else min(255, round(255.0 * detail / whole_std))
    trim = tuple(
        min(250, round(250.0 * v / side))
        for v, side in ((left, w), (top, h), (right, w), (bottom, h))
    )
    colour = None
    if chroma is not None:
        box = (left, top, w - right, h - bottom)
        colour = np.stack(
            [np.asarray(c.crop(box).resize((CHROMA, CHROMA), Image.Resampling.BOX)) for c in chroma]
        )
    cw, ch = content.size
    margin_w, margin_h = round(cw * (1 - FRAMED) / 2), round(ch * (1 - FRAMED) / 2)
    centre = content.crop((margin_w, margin_h, cw - margin_w, ch - margin_h))
    codes = tuple(hashing.difference_hash(part, 8).bits for part in (gray, content, centre))
    return pack(
        np.asarray(thumb),
        np.asarray(fine),
        detail=ratio,
        trim=trim,
        capture=capture,
        sharpness=_sharpness(content),
        std=whole_std,
        chroma=colour,
        codes=codes,
        animated=animated,
    )


def pack(
    screen: npt.NDArray[np.uint8],
    match: npt.NDArray[np.uint8],
    *,
    detail: int = 255,
    trim: tuple[int, int, int, int] = (0, 0, 0, 0),
    capture: Any = None,
    sharpness: float = 0.0,
    std: float | None = None,
    chroma: npt.NDArray[np.uint8] | None = None,
    codes: tuple[int, ...] = (0,) * FRAMINGS,
    animated: bool = False,
) -> bytes:
    """A signature from its parts (see the layout above): the screen's SIZE x SIZE and the
    match's FINE x FINE gray thumbnails, the detail byte, the trim (each side in 1/250), a
    decode.Capture, the sharpness, the image's standard deviation (None: the match
    thumbnail's), the (2, CHROMA, CHROMA) chroma grid (None: no colour) and the FRAMINGS
    framing codes; `animated`: flag 4 of the capture."""
    if screen.shape != (SIZE, SIZE) or match.shape != (FINE, FINE):
        raise ValueError(f"expected {SIZE}x{SIZE} and {FINE}x{FINE} thumbnails")
    moving = ANIMATED if animated else 0
    if capture is not None:
        flags = 1 | (2 if capture.subseconds else 0) | moving
        camera = zlib.crc32(capture.camera.encode()) if capture.camera else 0
        captured = _CAPTURE.pack(int(capture.millis), flags, camera)
    else:
        captured = _CAPTURE.pack(0, moving, 0)
    spread = float(match.astype(np.float64).std()) if std is None else std
    return (
        screen.astype(np.uint8).tobytes()
        + bytes([detail])
        + match.astype(np.uint8).tobytes()
        + bytes(trim)
        + captured
        + struct.pack(">H", min(65535, round(sharpness)))
        + bytes([min(255, round(10.0 * spread))])
        + (
            bytes([128]) * (2 * CHROMA * CHROMA)
            if chroma is None
            else chroma.astype(np.uint8).tobytes()
        )
        + b"".join(code.to_bytes(8, "big") for code in codes)
    )


def _sharpness(content: Image.Image) -> float:
    """Mean squared Laplacian of the content at 256 px on its long side (blur lowers it)."""
    small = content.copy()
    small.thumbnail((256, 256), Image.Resampling.BOX)
    a = np.asarray(small, dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4.0 * a[1:-1, 1:-1]
    return float(np.mean(lap * lap)) / 4.0


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


# Rows converted to floating point at a time (bounds the temporary arrays to a few MB).
_ROWS = 2048


def low_information_rows(signatures: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """low_information for the rows of a signature_array: the flat (one-colour) images (see
    FLAT_STD and FLAT_DETAIL)."""
    result: npt.NDArray[np.bool_] = signatures[:, _FLAT_AT] < round(10 * FLAT_STD)
    faint = np.flatnonzero(result)
    if len(faint):
        screens = signatures[faint, :PIXELS].astype(np.float64)
        result[faint[screens.std(axis=1) >= FLAT_DETAIL]] = False
    return result


def low_information(checks: list[bytes] | tuple[bytes, ...]) -> npt.NDArray[np.bool_]:
    """For many signatures: True where the image is flat (one colour): it is never compared,
    only matched as identical bytes."""
    return low_information_rows(signature_array(checks))


def is_low_information(check: bytes) -> bool:
    """True for a flat (one-colour) image, which must not match merely by its hash."""
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


@lru_cache(maxsize=4)
def _orientation_indices(side: int) -> dict[int, npt.NDArray[np.intp]]:
    """Orientation k as an index array over a side x side grid, flattened."""
    index = np.arange(side * side).reshape(side, side)
    return {k: np.ascontiguousarray(f(index)).reshape(-1) for k, f in ORIENT.items()}


def orientation_permutations() -> dict[int, npt.NDArray[np.intp]]:
    """Orientation k as an index array: `thumb[:, perm]` is the flattened oriented thumbnail."""
    return _orientation_indices(SIZE)


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


def _warp(zoom: float, angle: float, size: int = SIZE) -> Warp:
    """Output pixel p samples the input at p zoomed in by `zoom` and turned by `angle` degrees,
    both about the centre, on a `size` x `size` thumbnail."""
    SIZE = size
    PIXELS = size * size
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


# A thumbnail showing less than this share of its image's contrast (the detail byte) sees
# little of the picture: fine texture, small text, thin lines.
FINE_DETAIL_RATIO = 0.45


def past_screen(
    signatures: npt.NDArray[np.uint8],
    i: npt.NDArray[np.integer[Any]],
    j: npt.NDArray[np.integer[Any]],
) -> npt.NDArray[np.bool_]:
    """Pairs the screen cannot judge, which go on to the match whatever it says: either
    picture's detail is finer than its 16x16 thumbnail shows (a caption over fine texture
    changes that thumbnail's correlation more than the picture)."""
    fine = signatures[:, _DETAIL] < round(255 * FINE_DETAIL_RATIO)
    result: npt.NDArray[np.bool_] = fine[i] | fine[j]
    return result


def close_hashes(distance: npt.NDArray[np.integer[Any]], radius: int) -> npt.NDArray[np.bool_]:
    """Candidate pairs whose hashes are this close (within a quarter of the search radius) go
    on to the match even when the screen would stop them: a stamp or caption over a picture
    of little contrast (a page, a night sky) changes its 16x16 thumbnail's correlation far
    more than its hash."""
    result: npt.NDArray[np.bool_] = np.asarray(distance) <= radius // 4
    return result


def judge(a: bytes, b: bytes, orientation: int = 1) -> tuple[Scores, Match]:
    """The whole check of two signatures (b seen under the EXIF orientation): the screen's
    scores, and the match, whose verdict is DIFFERENT whenever the screen rules the pair out
    (see judge_rows)."""
    screen = _pair(a, b, orientation)
    rows = signature_array([a, b])
    screened = screen.accepted() | past_screen(rows, np.array([0]), np.array([1]))
    return screen, judge_rows(rows[:1], rows[1:], screened, orientation)


def judge_rows(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    screened: npt.NDArray[np.bool_],
    orientation: int = 1,
) -> Match:
    """match_rows of the pairs the screen let through (`screened`); the others DIFFERENT (or
    FLAT), as cluster() decides every candidate pair."""
    found = match_rows(a, b, orientation, compiled=False)
    stopped = ~screened & (found.kind != FLAT)
    found.kind[stopped] = DIFFERENT
    return found


def accept(a: bytes, b: bytes, orientation: int = 1) -> bool:
    """Whether a candidate pair is one picture (b seen under the EXIF orientation)."""
    return bool(judge(a, b, orientation)[1].kind[0] == COPY)


# ---------------------------------------------------------------- the match (32x32)


# A pair that scores this well (correlation less covered) as it is, or trimmed, is not
# warped: a plain copy needs no other alignment.
EARLY = 0.97


@lru_cache(maxsize=1)
def _match_tables() -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]
]:
    """The warps of hypotheses() as flat arrays for the kernel: taps, weights, compared
    cells, and whether each warps the first thumbnail."""
    warped = [h for h in hypotheses() if h.warp is not None]
    index = np.stack([h.warp.index for h in warped if h.warp]).astype(np.int64)
    weight = np.stack([h.warp.weight for h in warped if h.warp]).astype(np.float64)
    mask = np.stack([h.warp.mask for h in warped if h.warp])
    on_first = np.array([h.on_first for h in warped], dtype=np.bool_)
    return index, weight, mask, on_first


def _sides(orientation: int) -> tuple[int, int, int, int]:
    """Which stored side (left 0, top 1, right 2, bottom 3) becomes each side (left, top,
    right, bottom) of the image seen under the EXIF orientation."""
    probe = np.full((3, 3), -1)
    probe[1, 0], probe[0, 1], probe[1, 2], probe[2, 1] = 0, 1, 2, 3
    turned = ORIENT[orientation](probe)
    return int(turned[1, 0]), int(turned[0, 1]), int(turned[1, 2]), int(turned[2, 1])


def _fine_orientations() -> dict[int, npt.NDArray[np.intp]]:
    """Orientation k as an index array over the match's thumbnail (as orientation_permutations)."""
    return _orientation_indices(FINE)


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """How the match aligns a pair: `warp` applied to the first (`on_first`) or the second."""

    zoom: float
    angle: float
    on_first: bool
    warp: Warp | None  # None: as they are


@lru_cache(maxsize=1)
def hypotheses() -> tuple[Hypothesis, ...]:
    """The match's alignments: as they are; the second a crop of the first (the first zoomed),
    the first a crop of the second; the first turned."""
    found = [Hypothesis(1.0, 0.0, True, None)]
    found += [Hypothesis(z, 0.0, True, _warp(z, 0.0, FINE)) for z in ZOOMS]
    found += [Hypothesis(z, 0.0, False, _warp(z, 0.0, FINE)) for z in ZOOMS]
    found += [Hypothesis(1.0, a, True, _turn(a)) for a in ANGLES]
    return tuple(found)


# The hypothesis that compares both thumbnails trimmed to their content (after hypotheses()).
TRIMMED = len(ZOOMS) * 2 + len(ANGLES) + 1
# Cells of the outer ring a turn leaves out (the fill of a turned copy's corners).
_TURN_RING = 4


def _turn(angle: float) -> Warp:
    warp = _warp(1.0, angle, FINE)
    yy, xx = np.mgrid[0:FINE, 0:FINE]
    ring = _TURN_RING
    inner = (yy >= ring) & (yy < FINE - ring) & (xx >= ring) & (xx < FINE - ring)
    return Warp(warp.zoom, warp.angle, warp.index, warp.weight, warp.mask & inner.reshape(-1))


# Kinds of verdict.
DIFFERENT, COPY, SHOTS, FLAT = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class Match:
    """The match of pairs (a[k], b[k]), per pair: the verdict (DIFFERENT, COPY, SHOTS or FLAT),
    the share of cells covered and the correlation of the others at the best alignment (which
    hypothesis: 0 as they are, h for hypotheses()[h], TRIMMED both trimmed to their content),
    the gain of the fit, and the capture times apart in milliseconds (-1: not both known) and
    whether by the same camera."""

    kind: npt.NDArray[np.int8]
    covered: npt.NDArray[np.float32]
    correlation: npt.NDArray[np.float32]
    hypothesis: npt.NDArray[np.int16]
    gain: npt.NDArray[np.float32]
    apart_ms: npt.NDArray[np.int64]
    same_camera: npt.NDArray[np.bool_]
    # the fine detail at that alignment (each cell less its neighbours' mean): correlation
    # over the cells not covered, and the smaller of the two details' standard deviations
    detail: npt.NDArray[np.float32]
    detail_std: npt.NDArray[np.float32]
    # colour_similarity of the pair (1 when either has no colour to compare)
    colour: npt.NDArray[np.float32]
    # texture_rows of a and of b, (2, n) (0 for the pairs that were no copy before it)
    texture: npt.NDArray[np.float32]
    # one of the two is an animation and the other a still picture: never copies or shots
    moving: npt.NDArray[np.bool_]

    def score(self) -> npt.NDArray[np.float32]:
        """One number per pair, higher for closer copies (joins go strongest first)."""
        result: npt.NDArray[np.float32] = (self.correlation - self.covered).astype(np.float32)
        return result


def captures(
    signatures: npt.NDArray[np.uint8],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint32]]:
    """The capture facts of signature rows: milliseconds, flags, camera CRC."""
    raw = np.ascontiguousarray(signatures[:, _CAPTURE_AT : _CAPTURE_AT + _CAPTURE.size])
    millis = raw[:, :8].copy().view(">i8").reshape(-1).astype(np.int64)
    flags = raw[:, 8].astype(np.uint8)
    camera = raw[:, 9:13].copy().view(">u4").reshape(-1).astype(np.uint32)
    return millis, flags, camera


def animated_rows(signatures: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which signature rows are of animations (see ANIMATED)."""
    result: npt.NDArray[np.bool_] = (captures(signatures)[1] & ANIMATED) > 0
    return result


def sharpness(signatures: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """The sharpness of signature rows (larger is sharper)."""
    raw = np.ascontiguousarray(signatures[:, _SHARP_AT : _SHARP_AT + 2])
    result: npt.NDArray[np.int64] = raw.copy().view(">u2").reshape(-1).astype(np.int64)
    return result


def framing_codes(signatures: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """The framing codes of signature rows, an (n, FRAMINGS) array: whole, trimmed, centre."""
    raw = np.ascontiguousarray(signatures[:, _CODES_AT : _CODES_AT + 8 * FRAMINGS])
    result: npt.NDArray[np.uint64] = raw.view(">u8").reshape(-1, FRAMINGS).astype(np.uint64)
    return result


def trimmed(check: bytes) -> tuple[float, float, float, float]:
    """The share of each side (left, top, right, bottom) trimmed as a uniform border."""
    left, top, right, bottom = (v / 250.0 for v in check[_TRIM_AT : _TRIM_AT + 4])
    return left, top, right, bottom


def _apart(
    a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Capture times apart (ms; -1 when not both known; to the second unless both have
    sub-seconds; 0 for one capture with its clock moved, see CLOCK_STEP_MS) and whether the
    cameras are known to be the same."""
    ma, fa, ca = captures(a)
    mb, fb, cb = captures(b)
    both = ((fa & 1) > 0) & ((fb & 1) > 0)
    fine = ((fa & 2) > 0) & ((fb & 2) > 0)
    diff = np.abs(ma - mb)
    coarse = np.abs(ma // 1000 - mb // 1000) * 1000
    diff[(diff % CLOCK_STEP_MS == 0) & (diff <= CLOCK_MOVED_MS)] = 0  # its clock moved
    apart = np.where(both, np.where(fine, diff, coarse), -1).astype(np.int64)
    same_camera = (ca == cb) & (ca != 0)
    return apart, same_camera


# From how many pairs match_rows uses the compiled kernel when the caller does not say (numpy
# takes about 0.5 ms a pair, the kernel 30-110 us, and loading numba about a second once).
COMPILED_MATCHES = 2000


def match_rows(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    orientation: int = 1,
    *,
    compiled: bool | None = None,
) -> Match:
    """The match of signature rows a[k] and b[k] (b seen under the EXIF orientation): on the
    compiled kernel (_verify_kernel.match_pass), or with numpy (_match_plain: the same
    arithmetic, for a few pairs without loading numba); `compiled` None: by the number of
    pairs (COMPILED_MATCHES)."""
    n = len(a)
    covered = np.ones(n, np.float32)
    correlation = np.zeros(n, np.float32)
    which = np.zeros(n, np.int16)
    gain = np.zeros(n, np.float32)
    detail = np.zeros(n, np.float32)
    detail_std = np.zeros(n, np.float32)
    if n:
        rows = np.concatenate([a, b])
        fine = np.ascontiguousarray(rows[:, _FINE_AT:_TRIM_AT])
        boxes = rows[:, _TRIM_AT : _TRIM_AT + 4].astype(np.float64) / 250.0
        left = np.arange(n, dtype=np.int64)
        right = left + n
        perm = _fine_orientations()[orientation].astype(np.int64)
        sides = np.array(_sides(orientation), dtype=np.int64)
        loaded = "dedupe._verify_kernel" in sys.modules  # (then the kernel costs nothing)
        if compiled if compiled is not None else n >= COMPILED_MATCHES or loaded:
            from dedupe import _verify_kernel as kernel  # numba

            index, weight, mask, on_first = _match_tables()

            def run(span: tuple[int, int]) -> None:
                kernel.match_pass(
                    fine, boxes, left, right, perm, sides, index, weight, mask, on_first,
                    COVER_SIGMAS, COVER_LEVELS, EARLY, span[0], span[1],
                    covered, correlation, which, gain, detail, detail_std,
                )  # fmt: skip

            _run_tasks(run, n)
        else:
            for lo in range(0, n, _PLAIN_MATCHES):
                part = slice(lo, lo + _PLAIN_MATCHES)
                found = _match_plain(fine, boxes, left[part], right[part], perm, sides)
                covered[part], correlation[part], which[part], gain[part] = found[:4]
                detail[part], detail_std[part] = found[4:]
    kind = np.zeros(n, np.int8)
    apart, same_camera = _apart(a, b)
    flat = low_information_rows(a) | low_information_rows(b)
    two_shots = apart > 0
    warped = (which != 0) & (which != TRIMMED)
    allowed = np.where(warped, MAX_COVERED_WARPED, MAX_COVERED)
    copy = (covered <= allowed) & (correlation >= MATCH) & (gain >= MIN_GAIN)
    copy &= gain <= MAX_GAIN
    mean_a = a[:, _FINE_AT:_TRIM_AT].mean(axis=1)
    mean_b = b[:, _FINE_AT:_TRIM_AT].mean(axis=1)
    copy &= np.abs(mean_a - mean_b) <= MAX_OFFSET
    # fine detail both have (text, texture, edges) must be the same detail
    copy &= (detail_std < DETAIL_LEVELS) | (detail >= DETAIL_MATCH)
    # and colour both have must be laid out alike (a gray copy has none to compare)
    colour = colour_similarity(a, b, orientation, which)
    copy &= colour >= CHROMA_MATCH
    texture = np.zeros((2, n), np.float32)
    at = np.flatnonzero(copy)  # (only the pairs still copies: the others need no texture)
    texture[0, at], texture[1, at] = texture_rows(a[at]), texture_rows(b[at])
    copy &= ~one_smooth(texture[0], texture[1])
    alike = (covered <= SHOT_COVERED) & (correlation >= SHOT_MATCH)
    alike &= (gain >= MIN_GAIN) & (gain <= MAX_GAIN) & (colour >= CHROMA_MATCH)
    kind[copy & ~two_shots] = COPY
    kind[alike & two_shots & (apart <= SHOT_WINDOW_MS)] = SHOTS
    moving = animated_rows(a) != animated_rows(b)
    kind[moving] = DIFFERENT  # a still is no copy of an animation (its first frame, say)
    kind[flat] = FLAT
    return Match(
        kind, covered, correlation, which, gain, apart, same_camera, detail, detail_std, colour,
        texture, moving,
    )  # fmt: skip


# ---------------------------------------------------------------- the geometric check

# A copy the thumbnails are sure of (as they are or trimmed, almost nothing covered, the rest
# correlating this well) needs no other look. Every other pair the screen lets through whose
# match correlates at least LOOK_FROM (LOOK_FROM_FINE where either picture's detail is finer
# than the thumbnails show; any, where the hashes are close) is settled by the geometric check
# of local features (dedupe/geometry.py), which needs the pictures again (dedupe/looks.py).
SURE_COVERED = 0.02
SURE_MATCH = 0.985
# ... and where both have fine detail, that detail correlating at least this well: pages of
# one template (other text in the same lines) correlate 0.85-0.93 there, a resized or
# re-encoded copy mostly 0.95-1 (the tune split: 34 of its 1,404 sure copies with detail fall
# below 0.95, 16 below SURE_DETAIL, all of them left to the geometric check). Listings of one
# file manager (0.94-0.96) pass: 0.97 sent them to the geometric check too, but missed 5
# more copies of the tune split and copies whose files cannot be looked at again.
SURE_DETAIL = 0.94
LOOK_FROM = 0.5
LOOK_FROM_FINE = 0.3
# The geometric check's verdict on a pair whose pictures could not be looked at again.
NOT_LOOKED = -1


def one_smooth(
    first: npt.NDArray[np.floating[Any]], second: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.bool_]:
    """Per pair of textures (texture_rows): one picture smooth, the other textured far
    beyond it (see SMOOTH_LEVELS), which no copy is."""
    low, high = np.minimum(first, second), np.maximum(first, second)
    result: npt.NDArray[np.bool_] = (low < SMOOTH_LEVELS) & (
        high > TEXTURE_RATIO * np.maximum(low, SMOOTH_FLOOR)
    )
    return result


def texture_rows(signatures: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The texture of signature rows in gray levels: over the cells of the match's thumbnail
    inside the content box (a cell from its edge) and TEXTURE_RING cells from the thumbnail's
    edges (where a turned copy's fill is), each cell's absolute difference from the mean of
    its 3x3 neighbourhood; the mean of the smaller TEXTURE_SHARE of them (a caption or stamp
    over a few cells does not make a smooth picture textured). 0 with too few cells."""
    n = len(signatures)
    out = np.zeros(n, np.float32)
    if not n:
        return out
    grid = signatures[:, _FINE_AT:_TRIM_AT].astype(np.float32).reshape(n, FINE, FINE)
    mean = np.zeros((n, FINE - 2, FINE - 2), np.float32)
    for dr in range(3):
        for dc in range(3):
            mean += grid[:, dr : dr + FINE - 2, dc : dc + FINE - 2]
    lap = np.abs(grid[:, 1:-1, 1:-1] - mean / 9.0)  # cell (r, c) at lap[r - 1, c - 1]
    box = signatures[:, _TRIM_AT : _TRIM_AT + 4].astype(np.float64) / 250.0
    cells = np.arange(1, FINE - 1)
    first = np.maximum(np.ceil(box[:, :2] * FINE) + 1, TEXTURE_RING)  # left, top
    last = np.minimum(FINE - np.ceil(box[:, 2:] * FINE) - 2, FINE - 1 - TEXTURE_RING)
    cols = (cells[None, :] >= first[:, :1]) & (cells[None, :] <= last[:, :1])
    rows = (cells[None, :] >= first[:, 1:]) & (cells[None, :] <= last[:, 1:])
    inside = (rows[:, :, None] & cols[:, None, :]).reshape(n, -1)
    values = np.sort(np.where(inside, lap.reshape(n, -1), np.inf), axis=1)
    count = inside.sum(axis=1)
    keep = np.floor(TEXTURE_SHARE * count).astype(np.int64)
    sums = np.cumsum(np.where(np.isfinite(values), values, 0.0), axis=1)
    live = keep >= 16
    taken = sums[np.arange(n), np.maximum(keep - 1, 0)]
    out[live] = (taken[live] / keep[live]).astype(np.float32)
    return out


def sure_copies(found: Match) -> npt.NDArray[np.bool_]:
    """The pairs the match alone finds to be one picture, beyond doubt."""
    plain = (found.hypothesis == 0) | (found.hypothesis == TRIMMED)
    result: npt.NDArray[np.bool_] = (found.kind == COPY) & plain
    result &= (found.covered <= SURE_COVERED) & (found.correlation >= SURE_MATCH)
    result &= (found.detail_std < DETAIL_LEVELS) | (found.detail >= SURE_DETAIL)
    return result


def to_look(
    found: Match, fine: npt.NDArray[np.bool_], close: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """The pairs of a match that the geometric check settles (see LOOK_FROM): `fine`, either
    picture's detail is finer than its thumbnail shows (past_screen); `close`, their hashes are
    close (close_hashes)."""
    floor = np.where(fine, LOOK_FROM_FINE, LOOK_FROM)
    wanted = (found.correlation >= floor) | (fine & close)
    result: npt.NDArray[np.bool_] = wanted & (found.kind != FLAT) & ~sure_copies(found)
    return result


def settle(
    found: Match, asked: npt.NDArray[np.bool_], looked: npt.NDArray[np.int8]
) -> npt.NDArray[np.int8]:
    """The verdicts of a match once the geometric check has looked at the `asked` pairs
    (`looked`: geometry.SAME, DIFFERENT, SHIFTED, UNKNOWN or NOT_LOOKED per asked pair, in
    order): one picture under one transform is a copy (two shots when captured apart, within
    SHOT_WINDOW_MS), a shifted view of it two shots so captured (else two pictures), no such
    transform is different, too little to see leaves the match's
    verdict, and a pair it could not look at is no copy (never on the thumbnails' word alone
    where they could not settle it)."""
    from dedupe import geometry

    kind: npt.NDArray[np.int8] = found.kind.copy()
    at = np.flatnonzero(asked)
    same = at[looked == geometry.SAME]
    shots = found.apart_ms[same] > 0
    burst = shots & (found.apart_ms[same] <= SHOT_WINDOW_MS)
    kind[same[~shots]] = COPY
    kind[same[burst]] = SHOTS
    kind[same[shots & ~burst]] = DIFFERENT
    kind[at[looked == geometry.DIFFERENT]] = DIFFERENT
    # a shifted view (a scrolled screen, a panned shot) is no copy: two shots when captured
    # apart within the window, else two pictures
    shifted = at[looked == geometry.SHIFTED]
    apart = found.apart_ms[shifted]
    kind[shifted] = np.where((apart > 0) & (apart <= SHOT_WINDOW_MS), SHOTS, DIFFERENT)
    kind[shifted[found.moving[shifted]]] = DIFFERENT
    unseen = at[looked == NOT_LOOKED]
    kind[unseen[kind[unseen] == COPY]] = DIFFERENT
    kind[same[found.moving[same]]] = DIFFERENT  # (an animation and a still: see match_rows)
    return kind


# The geometric check's transform of a pair in one frame: a scale within FRAME_SCALE of 1, a
# turn of at most FRAME_ANGLE degrees, and each picture showing at least FRAME_OVERLAP of the
# other (no crop, no frame, no shift).
FRAME_SCALE = 0.03
FRAME_ANGLE = 1.0
FRAME_OVERLAP = 0.97
# Borders the same within this share of the side (2/250: the trim's own unsteadiness on a
# page's noisy or blurred copy) frame the two alike.
FRAME_BORDER = 2 / 250


def in_one_frame(
    found: Match,
    kind: npt.NDArray[np.int8],
    geometries: Sequence[Any],
    boxes: npt.NDArray[np.float64],
) -> npt.NDArray[np.bool_]:
    """Which copies (`kind` COPY) are aligned in one frame, for the content check (of the
    whole pictures): where the geometric check found one picture (geometries[k], a
    geometry.Geometry or None), its transform about the identity (FRAME_SCALE, FRAME_ANGLE,
    FRAME_OVERLAP); where it did not (a sure copy, too little to see), the match's alignment
    as they are, or both trimmed to their content when their borders (`boxes`, as
    content_boxes gives them) are the same within FRAME_BORDER on every side. (Contents cut
    at borders measured apart are not compared: a border measured 1/250 of the side apart
    moves a page's lines by a pixel at 256 px, and a frame added to a copy is no one frame.)"""
    from dedupe import geometry

    framed = np.zeros(len(kind), dtype=bool)
    same_borders = np.all(np.abs(boxes[:, 0] - boxes[:, 1]) <= FRAME_BORDER + 1e-9, axis=1)
    for k in np.flatnonzero(kind == COPY).tolist():
        g = geometries[k] if k < len(geometries) else None
        if g is not None and g.verdict == geometry.SAME:
            framed[k] = (
                abs(g.scale - 1.0) <= FRAME_SCALE
                and abs(g.angle) <= FRAME_ANGLE
                and min(g.overlap) >= FRAME_OVERLAP
            )
        else:
            framed[k] = found.hypothesis[k] == 0 or (
                found.hypothesis[k] == TRIMMED and bool(same_borders[k])
            )
    return framed


def content_boxes(
    a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8], orientation: int = 1
) -> npt.NDArray[np.float64]:
    """Per pair of signature rows, the uniform borders trimmed from a and from b (b seen under
    the EXIF orientation), as shares of each side (left, top, right, bottom): (n, 2, 4)."""
    box_a = a[:, _TRIM_AT : _TRIM_AT + 4].astype(np.float64) / 250.0
    box_b = b[:, _TRIM_AT : _TRIM_AT + 4][:, list(_sides(orientation))].astype(np.float64)
    result: npt.NDArray[np.float64] = np.stack([box_a, box_b / 250.0], axis=1)
    return result


@lru_cache(maxsize=1)
def _chroma_orientations() -> dict[int, npt.NDArray[np.intp]]:
    """Orientation k as an index array over a chroma grid (both planes)."""
    cells = CHROMA * CHROMA
    return {
        k: np.concatenate([one, one + cells]) for k, one in _orientation_indices(CHROMA).items()
    }


def colour_similarity(
    a: npt.NDArray[np.uint8],
    b: npt.NDArray[np.uint8],
    orientation: int = 1,
    hypothesis: npt.NDArray[np.int16] | None = None,
) -> npt.NDArray[np.float32]:
    """Per pair of signature rows, how alike their colour layouts are: the cosine of their
    chroma grids (b under the orientation), which a saturation change leaves as it is; 1
    where either has too little colour to compare (a gray copy, a gray picture).

    Each grid is of its picture's content inside uniform borders. Where the match aligned the
    pair as they are (`hypothesis` 0) and their borders differ, the grids cover other parts of
    one picture (a smooth gradient's edges pass for a border in one copy and not in another,
    or not as far), so both are read over the part both cover (bilinear, at the cell centres
    of a CHROMA x CHROMA grid of it) before they are compared."""
    end = _CHROMA_AT + 2 * CHROMA * CHROMA
    ca = a[:, _CHROMA_AT:end].astype(np.float64) - 128.0
    cb = b[:, _CHROMA_AT:end][:, _chroma_orientations()[orientation]].astype(np.float64) - 128.0
    na, nb = np.sqrt((ca * ca).mean(axis=1)), np.sqrt((cb * cb).mean(axis=1))
    coloured = (na >= CHROMA_LEVELS) & (nb >= CHROMA_LEVELS)
    if hypothesis is not None and len(a):
        box_a = a[:, _TRIM_AT : _TRIM_AT + 4].astype(np.float64) / 250.0
        box_b = b[:, _TRIM_AT : _TRIM_AT + 4][:, list(_sides(orientation))].astype(np.float64)
        box_b /= 250.0
        moved = coloured & (hypothesis == 0) & np.any(box_a != box_b, axis=1)
        if moved.any():
            at = np.flatnonzero(moved)
            ca[at], cb[at] = _over_common_part(ca[at], box_a[at], cb[at], box_b[at])
    with np.errstate(divide="ignore", invalid="ignore"):
        norms = np.sqrt((ca * ca).mean(axis=1) * (cb * cb).mean(axis=1))
        cosine = (ca * cb).mean(axis=1) / norms
    result: npt.NDArray[np.float32] = np.where(coloured, cosine, 1.0).astype(np.float32)
    return result


def _over_common_part(
    ca: npt.NDArray[np.float64],
    box_a: npt.NDArray[np.float64],
    cb: npt.NDArray[np.float64],
    box_b: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Chroma grids (rows of both planes) of contents inside borders `box_a`, `box_b` (left,
    top, right, bottom shares of one whole picture), each read over the part both contents
    cover; a pair whose contents hardly overlap keeps its grids as they are."""
    lo_x = np.maximum(box_a[:, 0], box_b[:, 0])
    hi_x = np.minimum(1.0 - box_a[:, 2], 1.0 - box_b[:, 2])
    lo_y = np.maximum(box_a[:, 1], box_b[:, 1])
    hi_y = np.minimum(1.0 - box_a[:, 3], 1.0 - box_b[:, 3])
    centres = (np.arange(CHROMA) + 0.5) / CHROMA
    xs = lo_x[:, None] + (hi_x - lo_x)[:, None] * centres  # (n, CHROMA), whole-picture shares
    ys = lo_y[:, None] + (hi_y - lo_y)[:, None] * centres
    apart = (hi_x - lo_x < 0.1) | (hi_y - lo_y < 0.1)
    read = [_read_grid(c, box, xs, ys) for c, box in ((ca, box_a), (cb, box_b))]
    keep = apart[:, None]
    return np.where(keep, ca, read[0]), np.where(keep, cb, read[1])


def _read_grid(
    grid: npt.NDArray[np.float64],
    box: npt.NDArray[np.float64],
    xs: npt.NDArray[np.float64],
    ys: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Rows of CHROMA x CHROMA grids (both planes) of the contents inside `box`, read
    bilinearly at the whole-picture points xs x ys (clamped to the outer cells' centres)."""
    n = len(grid)
    width = np.maximum(1.0 - box[:, 2] - box[:, 0], 1e-9)
    height = np.maximum(1.0 - box[:, 3] - box[:, 1], 1e-9)
    u = ((xs - box[:, :1]) / width[:, None] * CHROMA - 0.5).clip(0, CHROMA - 1)
    v = ((ys - box[:, 1:2]) / height[:, None] * CHROMA - 0.5).clip(0, CHROMA - 1)
    u0 = np.minimum(u.astype(np.int64), CHROMA - 2)
    v0 = np.minimum(v.astype(np.int64), CHROMA - 2)
    fu, fv = u - u0, v - v0
    planes = grid.reshape(n, 2, CHROMA, CHROMA)
    rows = np.arange(n)[:, None, None, None]
    plane = np.arange(2)[None, :, None, None]
    y0, y1 = v0[:, None, :, None], v0[:, None, :, None] + 1
    x0, x1 = u0[:, None, None, :], u0[:, None, None, :] + 1
    wy, wx = fv[:, None, :, None], fu[:, None, None, :]
    top = planes[rows, plane, y0, x0] * (1 - wx) + planes[rows, plane, y0, x1] * wx
    bottom = planes[rows, plane, y1, x0] * (1 - wx) + planes[rows, plane, y1, x1] * wx
    read: npt.NDArray[np.float64] = (top * (1 - wy) + bottom * wy).reshape(n, -1)
    return read


# Pairs matched at a time by numpy (each takes about 200 KB of temporary arrays).
_PLAIN_MATCHES = 256


def _content_plain(
    src: npt.NDArray[np.float64], box: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """_verify_kernel._content for many rows: each FINE x FINE thumbnail resampled from its
    content box to the whole grid, and the cells of the grid within the box."""
    m = len(src)
    t = (np.arange(FINE, dtype=np.float64) + 0.5) / FINE
    left, top, right, bottom = box[:, 0:1], box[:, 1:2], box[:, 2:3], box[:, 3:4]
    ys = np.clip((top + t[None, :] * (1.0 - top - bottom)) * FINE - 0.5, 0.0, FINE - 1.0)
    xs = np.clip((left + t[None, :] * (1.0 - left - right)) * FINE - 0.5, 0.0, FINE - 1.0)
    y0 = np.minimum(np.floor(ys).astype(np.intp), FINE - 2)
    x0 = np.minimum(np.floor(xs).astype(np.intp), FINE - 2)
    fy, fx = (ys - y0)[:, :, None], (xs - x0)[:, None, :]
    grid = src.reshape(m, FINE, FINE)
    n = np.arange(m)[:, None, None]
    r0, c0 = y0[:, :, None], x0[:, None, :]
    a = grid[n, r0, c0] * (1.0 - fx) + grid[n, r0, c0 + 1] * fx
    b = grid[n, r0 + 1, c0] * (1.0 - fx) + grid[n, r0 + 1, c0 + 1] * fx
    out = (a * (1.0 - fy) + b * fy).reshape(m, FINE_PIXELS)
    rows_in = (t[None, :] > top) & (t[None, :] < 1.0 - bottom)
    cols_in = (t[None, :] > left) & (t[None, :] < 1.0 - right)
    inside = (rows_in[:, :, None] & cols_in[:, None, :]).reshape(m, FINE_PIXELS)
    return out, inside


def _fit_plain(
    u: npt.NDArray[np.float64], v: npt.NDArray[np.float64], w: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], ...]:
    """_verify_kernel._fit for many rows: (cells, at least 1 of them, u and v less their means
    over the cells (0 elsewhere), the gain, the error beyond which a cell is covered)."""
    wf = w.astype(np.float64)
    n = wf.sum(axis=1)
    safe = np.maximum(n, 1.0)
    mu = (u * wf).sum(axis=1) / safe
    mv = (v * wf).sum(axis=1) / safe
    du, dv = (u - mu[:, None]) * wf, (v - mv[:, None]) * wf
    suu, svv, suv = (du * du).sum(axis=1), (dv * dv).sum(axis=1), (du * dv).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(suu > 0.0, suv / np.where(suu > 0.0, suu, 1.0), 0.0)
    tolerance = np.maximum(COVER_SIGMAS * np.sqrt(svv / safe), COVER_LEVELS)
    return n, safe, du, dv, g, tolerance


def _robust_plain(
    u: npt.NDArray[np.float64], v: npt.NDArray[np.float64], w: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """_verify_kernel._robust for many rows: (covered share, correlation of the cells not
    covered, their gain)."""
    n, safe, du, dv, g, tolerance = _fit_plain(u, v, w)
    out = (np.abs(dv - g[:, None] * du) > tolerance[:, None]) & w
    keep = (w & ~out).astype(np.float64)
    k = np.maximum(keep.sum(axis=1), 1.0)
    mu2, mv2 = (u * keep).sum(axis=1) / k, (v * keep).sum(axis=1) / k
    eu, ev = (u - mu2[:, None]) * keep, (v - mv2[:, None]) * keep
    cuu, cvv, cuv = (eu * eu).sum(axis=1), (ev * ev).sum(axis=1), (eu * ev).sum(axis=1)
    live = (cuu > 0.0) & (cvv > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(live, cuv / np.sqrt(np.where(live, cuu * cvv, 1.0)), 0.0)
        g2 = np.where(cuu > 0.0, cuv / np.where(cuu > 0.0, cuu, 1.0), 0.0)
    covered = np.where(n >= 1.0, out.sum(axis=1) / safe, 1.0)
    return covered, np.where(n >= 1.0, r, 0.0), np.where(n >= 1.0, g2, 0.0)


def _match_plain(
    fine: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float64],
    left: npt.NDArray[np.int64],
    right: npt.NDArray[np.int64],
    perm: npt.NDArray[np.int64],
    sides: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[Any], ...]:
    """_verify_kernel.match_pass with numpy, for the pairs (left[k], right[k])."""
    x = fine[left].astype(np.float64)
    y = fine[right][:, perm].astype(np.float64)
    xt, inside_a = _content_plain(x, boxes[left])
    yt, inside_b = _content_plain(y, boxes[right][:, sides])
    inside = inside_a | inside_b
    index, weight, mask, on_first = _match_tables()
    m = len(left)
    best = np.full(m, -3.0)
    covered = np.ones(m)
    correlation = np.zeros(m)
    gain = np.zeros(m)
    which = np.zeros(m, np.int16)
    every = np.ones((m, FINE_PIXELS), dtype=bool)
    n_h = len(index)
    for step in range(n_h + 2):
        rows = np.arange(m)
        if step == 0:
            c, r, g = _robust_plain(xt, yt, every)
            h = n_h + 1
        elif step == 1:
            c, r, g = _robust_plain(x, y, inside)
            h = 0
        else:
            rows = np.flatnonzero(best < EARLY)
            if not len(rows):
                break
            k = step - 2
            warped = _warp_rows(x[rows] if on_first[k] else y[rows], index[k], weight[k])
            w = mask[k][None, :] & inside[rows]
            if on_first[k]:
                c, r, g = _robust_plain(warped, y[rows], w)
            else:
                c, r, g = _robust_plain(x[rows], warped, w)
            h = k + 1
        score = r - c
        better = score > best[rows] + 1e-9  # a tie keeps the earlier alignment (as the kernel)
        chosen = rows[better]
        best[chosen] = score[better]
        covered[chosen], correlation[chosen], gain[chosen] = c[better], r[better], g[better]
        which[chosen] = h
    fine_detail = np.zeros(m)
    detail_std = np.zeros(m)
    for h in np.unique(which).tolist():
        rows = np.flatnonzero(which == h)
        if h == n_h + 1:
            u, v, w = xt[rows], yt[rows], every[rows]
        elif h == 0:
            u, v, w = x[rows], y[rows], inside[rows]
        else:
            k = h - 1
            warped = _warp_rows(x[rows] if on_first[k] else y[rows], index[k], weight[k])
            w = mask[k][None, :] & inside[rows]
            u, v = (warped, y[rows]) if on_first[k] else (x[rows], warped)
        fine_detail[rows], detail_std[rows] = _detail_plain(u, v, w)
    return (
        covered.astype(np.float32),
        correlation.astype(np.float32),
        which,
        gain.astype(np.float32),
        fine_detail.astype(np.float32),
        detail_std.astype(np.float32),
    )


def _warp_rows(
    src: npt.NDArray[np.float64], index: npt.NDArray[np.int64], weight: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Rows of `src` under one warp: the four bilinear taps (as _verify_kernel._warp_into)."""
    taps = src[:, index]  # (rows, 4, pixels)
    warped: npt.NDArray[np.float64] = (
        taps[:, 0] * weight[0] + taps[:, 1] * weight[1] + taps[:, 2] * weight[2]
    ) + taps[:, 3] * weight[3]
    return warped


def _detail_plain(
    u: npt.NDArray[np.float64], v: npt.NDArray[np.float64], w: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """_verify_kernel._detail for many rows."""
    m = len(u)
    _, _, du, dv, g, tolerance = _fit_plain(u, v, w)
    kept = w & (np.abs(dv - g[:, None] * du) <= tolerance[:, None])
    grid_w = w.reshape(m, FINE, FINE)
    whole = np.ones((m, FINE - 2, FINE - 2), dtype=bool)
    mean_u = np.zeros((m, FINE - 2, FINE - 2))
    mean_v = np.zeros((m, FINE - 2, FINE - 2))
    gu, gv = u.reshape(m, FINE, FINE), v.reshape(m, FINE, FINE)
    for dr in range(3):
        for dc in range(3):
            whole &= grid_w[:, dr : dr + FINE - 2, dc : dc + FINE - 2]
            mean_u += gu[:, dr : dr + FINE - 2, dc : dc + FINE - 2]
            mean_v += gv[:, dr : dr + FINE - 2, dc : dc + FINE - 2]
    use = whole & kept.reshape(m, FINE, FINE)[:, 1:-1, 1:-1]
    a = (gu[:, 1:-1, 1:-1] - mean_u / 9.0).reshape(m, -1)
    b = (gv[:, 1:-1, 1:-1] - mean_v / 9.0).reshape(m, -1)
    uf = use.reshape(m, -1).astype(np.float64)
    k = uf.sum(axis=1)
    ks = np.maximum(k, 1.0)
    ma, mb = (a * uf).sum(axis=1) / ks, (b * uf).sum(axis=1) / ks
    ea, eb = (a - ma[:, None]) * uf, (b - mb[:, None]) * uf
    caa, cbb, cab = (ea * ea).sum(axis=1), (eb * eb).sum(axis=1), (ea * eb).sum(axis=1)
    live = (caa > 0.0) & (cbb > 0.0) & (k >= 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(live, cab / np.sqrt(np.where(live, caa * cbb, 1.0)), 0.0)
    spread = np.where(k >= 2.0, np.sqrt(np.maximum(np.minimum(caa, cbb), 0.0) / ks), 0.0)
    return r, spread


def match(a: bytes, b: bytes, orientation: int = 1) -> Match:
    """The match of two signatures (b seen under the EXIF orientation)."""
    rows = signature_array([a, b])
    return match_rows(rows[:1], rows[1:], orientation)
