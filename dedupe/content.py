"""The content check: whether two pictures aligned in one frame show the same content.

The thumbnails and the keypoints find a pair one picture when its layout agrees: screenshots
of one app (the same title bar, toolbar, sidebar and rows of text at the same places, other
words in them), pages of one template, two terminals scrolled by two lines. Where a pair is
aligned as it is (the match found no crop or zoom and the geometric check, when it looked, a
transform of about the identity), the two are compared here block by block at SIDE pixels:

- both are reduced to one size (the smaller picture's resolution, at most SIDE on the long
  side), then brought to SIDE (so both have the same sharpness), smoothed by SMOOTH pixels
  (the resampling's sub-pixel shifts and sensor noise), and the second is fitted to the
  first by one gain and offset (a brightness or contrast edit; the prediction clipped to
  0..255, so a highlight an edit burnt out is no difference);
- a BLOCK x BLOCK block is *detailed* when either picture varies in it by at least
  DETAIL_LEVELS (standard deviation), and *differs* when the fit's error there is more than
  DIFFER_SHARE of its detail and more than DIFFER_LEVELS;
- the largest patch of differing blocks (at most a block apart) is forgiven when it is at most
  MAX_PATCH of the picture's blocks (a watermark, a date stamp, a caption on a true copy);
- the pair is two pictures when the differing blocks left are at least MAX_DIFFERING of the
  detailed blocks (and at least MIN_BLOCKS of them).

Pure: pictures in, verdicts out; which pairs are looked at and how the pictures are read is
the caller's (dedupe/cluster.py, dedupe/looks.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe.geometry import DIFFERENT as DIFFERENT
from dedupe.geometry import SAME as SAME
from dedupe.geometry import UNKNOWN as UNKNOWN

# Bump whenever compare() could give another verdict for the same pictures (verify.VERSION
# records it for the check as a whole).
VERSION = 1

# The long side the pictures are compared at, and the side of a block (32 blocks across).
SIDE = 256
BLOCK = 8
# A picture at most this many pixels on its long side is too small to refute (as for the
# geometric check, geometry.SMALL_SIDE: a blur or a resize of a thumbnail changes most of
# its blocks at SIDE).
SMALL_SIDE = 160
# The smoothing (Gaussian sigma, pixels at SIDE) before the comparison.
SMOOTH = 1.0
# A block is detailed when either picture's standard deviation in it is at least this.
DETAIL_LEVELS = 4.0
# A block differs when the root-mean-square error of the fit in it is more than DIFFER_SHARE
# of the larger of the two pictures' standard deviations there, and more than DIFFER_LEVELS.
DIFFER_SHARE = 0.5
DIFFER_LEVELS = 6.0
# The largest patch of differing blocks (each at most one block from another) is forgiven
# when it is at most this share of all blocks: a stamp or a caption over a true copy.
MAX_PATCH = 0.1
# Two pictures: the differing blocks left are at least this share of the detailed blocks,
# and at least MIN_BLOCKS.
MAX_DIFFERING = 0.05
MIN_BLOCKS = 8
# Pixels fitted: those neither picture has burnt out (within CLIPPED of 0 or 255), when
# they are at least FIT_LIVE of the picture (else all: a page of black on white).
CLIPPED = 3
FIT_LIVE = 0.2
# The fit is made again FIT_ROUNDS times over the FIT_KEEP share of those pixels it fits best.
FIT_ROUNDS = 2
FIT_KEEP = 0.85
# ... but never leaves out a pixel it fits within this many gray levels. It is fitted over
# every FIT_STEP-th pixel of every FIT_STEP-th row.
FIT_FLOOR = 4.0
FIT_STEP = 2

# Verdicts: geometry's (UNKNOWN, SAME, DIFFERENT).


@dataclass(frozen=True, slots=True)
class Content:
    """The content check of a pair: the verdict, the detailed blocks, how many of them differ
    (`differing`), the largest connected patch of differing blocks and whether it was
    forgiven, and the share of the detailed blocks that differ once it is (`share`)."""

    verdict: int
    detailed: int = 0
    differing: int = 0
    patch: int = 0
    forgiven: bool = False
    share: float = 0.0
    blocks: int = 0


def frame(width: int, height: int) -> tuple[int, int]:
    """The size (multiples of BLOCK) a width x height picture is compared at."""
    if width >= height:
        w = SIDE
        h = max(BLOCK, round(SIDE * height / max(1, width) / BLOCK) * BLOCK)
    else:
        h = SIDE
        w = max(BLOCK, round(SIDE * width / max(1, height) / BLOCK) * BLOCK)
    return w, h


def reduced(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A gray picture reduced (by area) to at most SIDE on its long side: all compare() reads
    of it."""
    h, w = pixels.shape
    if max(h, w) <= SIDE:
        return pixels
    import cv2

    scale = SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    result: npt.NDArray[np.uint8] = np.asarray(
        cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8
    )
    return result


def _prepared(
    a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    """Both gray pictures at the frame of the first (see the module's text), smoothed."""
    import cv2

    smaller = min(max(a.shape), max(b.shape))
    if smaller <= SMALL_SIDE:
        return None
    size = frame(a.shape[1], a.shape[0])
    scale = min(1.0, smaller / SIDE)
    common = (max(BLOCK, round(size[0] * scale)), max(BLOCK, round(size[1] * scale)))
    out: list[npt.NDArray[np.float32]] = []
    for p in (a, b):
        q = cv2.resize(p, common, interpolation=cv2.INTER_AREA) if p.shape[::-1] != common else p
        q = q.astype(np.float32)
        if common != size:
            q = cv2.resize(q, size, interpolation=cv2.INTER_LINEAR)
        out.append(np.asarray(cv2.GaussianBlur(q, (0, 0), SMOOTH), dtype=np.float32))
    return out[0], out[1]


def _blocks(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """x (h, w) as (h / BLOCK, w / BLOCK, BLOCK * BLOCK)."""
    h, w = x.shape
    out: npt.NDArray[np.float32] = (
        x.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3)
    ).reshape(h // BLOCK, w // BLOCK, BLOCK * BLOCK)
    return out


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The gain and offset that fit x to y (least squares), refitted FIT_ROUNDS times over
    the FIT_KEEP of the pixels it fits best (a caption, a stamp or a moved subject does not
    pull the fit)."""
    gain, offset = 1.0, 0.0
    for _ in range(FIT_ROUNDS + 1):
        mx, my = float(x.mean()), float(y.mean())
        var = float(((x - mx) ** 2).mean())
        if var < 1e-6:
            break  # (the last fit stands: too little left to fit a gain)
        gain = float(((x - mx) * (y - my)).mean() / var)
        offset = my - gain * mx
        error = np.abs(y - gain * x - offset)
        keep = error <= max(float(np.quantile(error, FIT_KEEP)), FIT_FLOOR)
        x, y = x[keep], y[keep]
    return gain, offset


def _differing(
    x: npt.NDArray[np.float32], y: npt.NDArray[np.float32], fitted: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
    """Per block, whether y differs from x fitted to it (over the `fitted` pixels), and the
    block's detail (the larger standard deviation of the fitted x and of y)."""
    every = (slice(None, None, FIT_STEP),) * 2  # (a quarter of the pixels fit as well)
    sample = fitted[every]
    gain, offset = _fit(x[every][sample].astype(np.float64), y[every][sample].astype(np.float64))
    predicted = _blocks(np.clip(gain * x + offset, 0.0, 255.0))
    seen = _blocks(y)
    error = seen - predicted
    error -= error.mean(axis=2, keepdims=True)  # a block's own brightness may move
    rms = np.sqrt((error * error).mean(axis=2))
    spread = np.maximum(predicted.std(axis=2), seen.std(axis=2))
    differs: npt.NDArray[np.bool_] = (rms > DIFFER_SHARE * spread) & (rms > DIFFER_LEVELS)
    return differs, spread


def compare(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> Content:
    """The content check of two gray pictures (2-D uint8 arrays) of one frame: b is taken to
    show what a shows, at any size; SAME or DIFFERENT (UNKNOWN: too small to compare, or
    nothing detailed in either)."""
    import cv2

    prepared = _prepared(a, b)
    if prepared is None:
        return Content(UNKNOWN)
    u, v = prepared
    # fitted over the pixels neither picture has burnt out (when they are enough), each way
    # (an edit that burns highlights out fits one way, the original's detail there the other)
    burnt = (u <= CLIPPED) | (u >= 255 - CLIPPED) | (v <= CLIPPED) | (v >= 255 - CLIPPED)
    fitted = ~burnt if (~burnt).mean() >= FIT_LIVE else np.ones_like(burnt)
    forth, spread = _differing(u, v, fitted)
    back, _ = _differing(v, u, fitted)
    detailed = spread >= DETAIL_LEVELS
    differs = detailed & forth & back
    total = int(detailed.size)
    n_detailed, n_differing = int(detailed.sum()), int(differs.sum())
    if n_detailed == 0:
        return Content(UNKNOWN, blocks=total)
    patch, forgiven, left = 0, False, n_differing
    if n_differing:
        # a patch: differing blocks at most one block apart (a caption over detail, or a
        # box drawn half transparent, leaves some of its blocks alike)
        mask = differs.astype(np.uint8)
        near = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        _, labels = cv2.connectedComponents(near, connectivity=8)
        largest = int(np.argmax(np.bincount(labels[differs])))
        rows, cols = np.nonzero(differs & (labels == largest))
        patch = len(rows)
        box = (int(rows.max()) - int(rows.min()) + 1) * (int(cols.max()) - int(cols.min()) + 1)
        if box <= MAX_PATCH * total:
            forgiven, left = True, n_differing - patch
    share = left / n_detailed
    verdict = DIFFERENT if share >= MAX_DIFFERING and left >= MIN_BLOCKS else SAME
    return Content(verdict, n_detailed, n_differing, patch, forgiven, share, total)
