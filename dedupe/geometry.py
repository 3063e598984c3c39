"""Local features: the geometric check of the candidate pairs the thumbnails cannot settle.

Each picture, at about GEOMETRY_PIXELS pixels, gives keypoints with binary descriptors (ORB,
from OpenCV). The descriptors of the second picture are matched to the first's (nearest of
two clearly nearer than the second nearest), and RANSAC fits one similarity transform (a
scale, a turn and a shift) to the matches. Copies of one picture (resized, re-encoded,
cropped, framed, turned a few degrees, with a caption over a corner, blurred or noisy) share
many matches under that transform, spread over the part of the picture both show, which is
most of each. Pages of one layout, screenshots of one app and different textures match many
descriptors too (letters, window frames and grains look alike), but not under one transform,
or only in a part of the picture (a title bar, a template's frame).

Pure: pictures in, verdicts out. Which pictures are looked at again, and how they are read,
is the caller's (see dedupe/looks.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import Image

# Bump whenever features() or compare() could give another verdict for the same pictures.
# 2: the first look at 256 keypoints (at 128, crops of pages of text failed it).
# 3: dark pictures smoothed before their stretch; small pictures never refuted.
# 4: the spread over the cells that hold a share of the keypoints (OCCUPIED); a shifted view
# (SHIFT_SCALE, SHIFT_SHOWN) is no copy.
VERSION = 4

# The working size of a picture (pixels; the aspect ratio is kept): 512 x 384 for a 4:3 photo.
GEOMETRY_PIXELS = 512 * 384
# Keypoints kept per picture (the strongest), and FAST's corner threshold (low, after the
# contrast stretch: faint textures and dark shots need it).
FEATURES = 500
FAST_THRESHOLD = 10
# Pyramid levels of ORB (each 1.2 times smaller): both pictures are looked at at one working
# size, so a copy's scale differs little (crops and frames: up to about 1.5).
LEVELS = 5
# The first look: the QUICK strongest keypoints of each; a pair with fewer than QUICK_INLIERS
# of their matches under one transform is different without the full look.
QUICK = 256
QUICK_INLIERS = 6
# A match: the nearest descriptor, clearly nearer than the second nearest (Lowe's ratio).
RATIO = 0.85
# RANSAC: a match agrees with a transform when it lands within this many pixels (of the
# working size) of where the transform puts it.
REPROJECTION = 4.0
RANSAC_ITERATIONS = 2000
# The transforms a copy may have undergone: a scale between 1/MAX_SCALE and MAX_SCALE, a turn
# of at most MAX_ANGLE degrees (quarter turns and mirrors are orientations, tried apart).
MAX_SCALE = 2.5
MAX_ANGLE = 10.0
# One picture: at least MIN_INLIERS matches agree, spread over at least SPREAD of the cells
# (a GRID x GRID grid over the part both show) that hold keypoints of the first picture, ...
MIN_INLIERS = 20
GRID = 4
SPREAD = 0.6
# A cell holds keypoints when it holds at least OCCUPIED of the first picture's keypoints in
# that part (a quarter of a cell's mean share): a stray corner or two in a dark picture's
# noise, or in a smooth sky, is not a part of the picture the matches must cover (a dark
# wallpaper's re-encoded copy: 99 of 170 matches agree over 4 of its 5 cells of structure,
# and 3 keypoints in 3 cells of its noise made that 50% of 8 cells).
OCCUPIED = 1 / (4 * GRID * GRID)
# ... and that part is at least OVERLAP of one picture's area and MIN_OVERLAP of the other's
# (a crop of 15% shows 72% of the original; a 10% frame around the original, 69% of the copy).
OVERLAP = 0.75
MIN_OVERLAP = 0.4
# Fewer keypoints than this on either side: the pictures have too little local structure
# (gradients, flat wallpapers, heavy blur) for the check to say anything.
MIN_KEYPOINTS = 60
# A shifted view: one picture under a transform of about the same scale (within SHIFT_SCALE)
# that shows less than SHIFT_SHOWN of the other, both ways. A copy cut from a picture is
# inside it, a copy framed or given a border holds it, and a resized one shows all of it:
# two pictures each of which shows what the other lacks, at one scale, are a screen scrolled
# (a terminal, a page) or another capture of the scene (panned, a stereo pair), not copies.
SHIFT_SCALE = 0.01
SHIFT_SHOWN = 0.97
# A picture at most this many pixels on its long side is small: looked at, it is enlarged 3x
# or more to the working size, and its keypoints are the enlargement's (soft corners that a
# half-size copy, enlarged 6x, does not repeat; measured on the photos of ../shared/real-images
# made into thumbnails of 100 px and copies of half that size, 19 of 67 pairs pass, all of
# 67 at 320 px). The check may find such a pair one picture, never refute it: the match of
# the thumbnails decides.
SMALL_SIDE = 160
# A dark picture (99% of its pixels darker than DARK_LEVELS) is stretched by a gain of 4 to 30:
# its sensor noise and the steps between its few gray levels would become the stretched
# picture's corners, other ones in each copy (a re-encode moves the noise, a resize averages
# it). Such a picture is resized in floating point and smoothed before its stretch, by a
# Gaussian of DARK_SMOOTH working pixels per unit of gain beyond 1 (a gain of 6: 1 px), at most
# DARK_SMOOTH_MAX (more lost the keypoints of a blurred copy of a dark texture of the tune
# split: 25 agreed at 5.4 px, 248 at 2).
# A dark picture left with fewer than MIN_KEYPOINTS once smoothed has no structure above its
# noise (a lens cap, a night sky without stars): it is no copy of anything by its thumbnails
# alone (two such shots share their vignetting and little else), as before it was smoothed,
# when its noise gave keypoints no other picture repeats.
DARK_LEVELS = 64
DARK_SMOOTH = 0.2
DARK_SMOOTH_MAX = 2.0

# Verdicts. SHIFTED: one picture under one transform, but a shifted view of it (SHIFT_SCALE):
# two shots when captured apart (a pan in a burst), else two pictures.
UNKNOWN, SAME, DIFFERENT, SHIFTED = 0, 1, 2, 3


@dataclass(frozen=True, slots=True, eq=False)
class Features:
    """The keypoints of one picture at its working size: positions (n, 2) in pixels and
    ORB descriptors (n, 32)."""

    points: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8]
    width: int
    height: int
    # the long side, in pixels, of the picture they were found in (0: not known)
    source_side: int = 0
    # whether it is dark (DARK_LEVELS), smoothed before its stretch
    dark: bool = False

    def __len__(self) -> int:
        return len(self.points)

    @property
    def small(self) -> bool:
        """Whether the picture is small (see SMALL_SIDE): the check cannot refute it."""
        return 0 < self.source_side <= SMALL_SIDE


@dataclass(frozen=True, slots=True)
class Geometry:
    """The geometric check of a pair: the verdict, how many matches agree with the fitted
    transform (and how many there were), the transform's scale (second to first) and turn in
    degrees, the share of keypoint cells the agreeing matches cover, and the part of each
    picture the other shows; `small`: either picture is small (SMALL_SIDE), and the verdict
    UNKNOWN where it would be DIFFERENT; `featureless`: either is dark and has too few
    keypoints (DIFFERENT: see DARK_LEVELS); `shifted`: one picture under one transform, but a
    shifted view of it (SHIFTED: see SHIFT_SCALE)."""

    verdict: int
    inliers: int = 0
    matches: int = 0
    scale: float = 1.0
    angle: float = 0.0
    spread: float = 0.0
    overlap: tuple[float, float] = (0.0, 0.0)
    small: bool = False
    featureless: bool = False
    shifted: bool = False

    @property
    def shown(self) -> float:
        """The larger of the two shares of one picture shown in the other."""
        return min(1.0, max(self.overlap))


def working_size(width: int, height: int) -> tuple[int, int]:
    """The size a width x height picture is looked at (about GEOMETRY_PIXELS, same aspect)."""
    scale = (GEOMETRY_PIXELS / max(1, width * height)) ** 0.5
    return max(8, round(width * scale)), max(8, round(height * scale))


def _percentiles(gray: npt.NDArray[np.uint8]) -> tuple[int, int]:
    """The 1st and 99th percentiles of a gray picture's levels."""
    counts = np.cumsum(np.bincount(gray.reshape(-1), minlength=256))
    low, high = np.searchsorted(counts, (0.01 * counts[-1], 0.99 * counts[-1]))
    return int(low), int(high)


def _stretched(
    gray: npt.NDArray[np.uint8] | npt.NDArray[np.float32], low: float, high: float
) -> npt.NDArray[np.uint8]:
    """Gray levels stretched so that the 1st and 99th percentiles (`low`, `high`) become 0 and
    255: the same keypoints whatever a brightness or contrast edit did, and some on faint
    pictures."""
    if high - low < 1.0:
        return np.clip(gray, 0, 255).astype(np.uint8)
    out = (gray.astype(np.float32) - float(low)) * (255.0 / float(high - low))
    result: npt.NDArray[np.uint8] = np.clip(out, 0.0, 255.0).astype(np.uint8)
    return result


def _dark_working(gray: Image.Image, size: tuple[int, int], gain: float) -> npt.NDArray[np.uint8]:
    """A dark picture at its working size, resized in floating point (no gray level lost to
    rounding), smoothed by DARK_SMOOTH pixels per unit of `gain` beyond 1 (at most
    DARK_SMOOTH_MAX), and stretched."""
    import cv2

    level = gray.convert("F")
    if level.size != size:
        level = level.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = np.asarray(level, dtype=np.float32)
    sigma = min(DARK_SMOOTH * (gain - 1.0), DARK_SMOOTH_MAX)
    smooth: npt.NDArray[np.float32] = np.asarray(cv2.GaussianBlur(pixels, (0, 0), sigma))
    low, high = np.percentile(smooth, (1, 99))
    return _stretched(smooth, float(low), float(high))


_detector: object | None = None


def _orb() -> object:
    """One ORB detector per process (it holds no state between calls)."""
    global _detector
    if _detector is None:
        import cv2

        cv2.setNumThreads(1)  # the caller runs pairs on threads of its own
        orb = cv2.ORB_create  # type: ignore[attr-defined]
        _detector = orb(nfeatures=FEATURES, fastThreshold=FAST_THRESHOLD, nlevels=LEVELS)
    return _detector


def features(image: Image.Image) -> Features:
    """The keypoints of a picture (any mode and size; looked at in gray at its working size)."""
    gray = image if image.mode == "L" else image.convert("L")
    size = working_size(*gray.size)
    working = (
        gray
        if gray.size == size
        else gray.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    )
    levels = np.asarray(working)
    low, high = _percentiles(levels)
    dark = high < DARK_LEVELS and high - low >= 1
    if dark:
        pixels = _dark_working(gray, size, 255.0 / (high - low))
    else:
        pixels = _stretched(levels, low, high)
    keypoints, descriptors = _orb().detectAndCompute(pixels, None)  # type: ignore[attr-defined]
    side = max(gray.size)
    if descriptors is None or not keypoints:
        empty = np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
        return Features(*empty, *size, side, dark)
    order = np.argsort([-k.response for k in keypoints], kind="stable")  # strongest first
    points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)[order]
    descriptors = np.ascontiguousarray(descriptors[order], dtype=np.uint8)
    return Features(points, descriptors, *size, side, dark)


def _matches(
    a: Features, b: Features, first: int | None = None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Matches of b's descriptors to a's (of the `first` strongest of each, None: all):
    (points in b, points in a)."""
    import cv2

    da, db = a.descriptors[:first], b.descriptors[:first]
    if len(da) < 2 or len(db) < 1:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    dist, nearest = cv2.batchDistance(db, da, cv2.CV_32S, normType=cv2.NORM_HAMMING, K=2)
    good = dist[:, 0] < RATIO * dist[:, 1]
    return b.points[: len(db)][good], a.points[nearest[good, 0]]


def _fit(
    src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32], iterations: int
) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.bool_]]:
    """RANSAC's similarity transform from src to dst, and which matches agree with it."""
    import cv2

    if len(src) < 3:
        return None, np.zeros(len(src), bool)
    transform, agree = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=REPROJECTION,
        maxIters=iterations,
        confidence=0.999,
        refineIters=10,
    )
    if transform is None or agree is None:
        return None, np.zeros(len(src), bool)
    fitted: npt.NDArray[np.float64] = np.asarray(transform, dtype=np.float64)
    agreeing: npt.NDArray[np.bool_] = agree.reshape(-1).astype(bool)
    return fitted, agreeing


def _cells(
    points: npt.NDArray[np.float32], box: tuple[float, float, float, float], share: float = 0.0
) -> set[int]:
    """The GRID x GRID cells of box (x0, y0, x1, y1) that hold some of the points (at least
    `share` of those inside the box)."""
    x0, y0, x1, y1 = box
    cx = ((points[:, 0] - x0) / max(x1 - x0, 1e-6) * GRID).astype(np.int64)
    cy = ((points[:, 1] - y0) / max(y1 - y0, 1e-6) * GRID).astype(np.int64)
    inside = (cx >= 0) & (cx < GRID) & (cy >= 0) & (cy < GRID)
    counts = np.bincount(cy[inside] * GRID + cx[inside], minlength=GRID * GRID)
    least = max(1.0, share * float(inside.sum()))
    return set(np.flatnonzero(counts >= least).tolist())


def _squeezed(points: npt.NDArray[np.float32], f: Features) -> npt.NDArray[np.float32]:
    """Points of f in a square frame of the same area: a copy stretched in one direction is
    then the same picture (as the thumbnails see it, squeezed to a square)."""
    side = (f.width * f.height) ** 0.5
    scale = np.array([side / f.width, side / f.height], np.float32)
    result: npt.NDArray[np.float32] = points * scale
    return result


def compare(a: Features, b: Features) -> Geometry:
    """The geometric check of b against a: SAME when one similarity transform carries many
    of b's keypoints onto a's, spread over the part of a that b shows, which is most of the
    smaller picture (tried as they are, then both squeezed to a square, for a stretched
    copy); SHIFTED when that transform shows each only in part at one scale (SHIFT_SCALE);
    UNKNOWN when either has too few keypoints to tell (DIFFERENT when that one is dark: see
    DARK_LEVELS), or is small (SMALL_SIDE) and would be DIFFERENT or SHIFTED; else
    DIFFERENT."""
    if any(f.dark and len(f) < MIN_KEYPOINTS for f in (a, b)):
        return Geometry(DIFFERENT, featureless=True)
    found = _compare(a, b)
    if found.verdict in (DIFFERENT, SHIFTED) and (a.small or b.small):
        return replace(found, verdict=UNKNOWN, small=True)
    return found


def _compare(a: Features, b: Features) -> Geometry:
    """compare() whatever the pictures' sizes."""
    if len(a) < MIN_KEYPOINTS or len(b) < MIN_KEYPOINTS:
        return Geometry(UNKNOWN)
    src, dst = _matches(a, b, QUICK)
    _, agree = _fit(src, dst, RANSAC_ITERATIONS // 4)
    if int(agree.sum()) < QUICK_INLIERS:  # (a stretched copy agrees only squeezed)
        _, agree = _fit(_squeezed(src, b), _squeezed(dst, a), RANSAC_ITERATIONS // 4)
    if int(agree.sum()) < QUICK_INLIERS:
        return Geometry(DIFFERENT, int(agree.sum()), len(src))
    src, dst = _matches(a, b)
    found = _judge(a, b, src, dst, squeezed=False)
    if found.verdict == SAME or len(src) < MIN_INLIERS:
        return found
    again = _judge(a, b, _squeezed(src, b), _squeezed(dst, a), squeezed=True)
    return again if again.verdict == SAME else found


def _judge(
    a: Features,
    b: Features,
    src: npt.NDArray[np.float32],
    dst: npt.NDArray[np.float32],
    *,
    squeezed: bool,
) -> Geometry:
    """The verdict of one fit of matches src (in b) to dst (in a), in pixels of the working
    size or (`squeezed`) of each picture's square frame."""
    transform, inlier = _fit(src, dst, RANSAC_ITERATIONS)
    if transform is None:
        return Geometry(DIFFERENT, matches=len(src))
    count = int(inlier.sum())
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    angle = float(np.degrees(np.arctan2(transform[1, 0], transform[0, 0])))
    # b's frame mapped into a's, clipped to a: the part of a that b shows
    if squeezed:
        wa = ha = float(a.width * a.height) ** 0.5
        wb = hb = float(b.width * b.height) ** 0.5
    else:
        wa, ha, wb, hb = float(a.width), float(a.height), float(b.width), float(b.height)
    corners = np.array([[0, 0], [wb, 0], [wb, hb], [0, hb]], np.float64)
    mapped = corners @ transform[:, :2].T + transform[:, 2]
    x0, y0 = max(0.0, float(mapped[:, 0].min())), max(0.0, float(mapped[:, 1].min()))
    x1, y1 = min(wa, float(mapped[:, 0].max())), min(ha, float(mapped[:, 1].max()))
    shared = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    overlap = (shared / (wa * ha), shared / max(wb * hb * scale * scale, 1e-6))
    box = (x0, y0, x1, y1)
    points = _squeezed(a.points, a) if squeezed else a.points
    occupied = _cells(points, box, OCCUPIED)
    covered = _cells(dst[inlier], box) & occupied
    spread = len(covered) / max(1, len(occupied))
    same = (
        1.0 / MAX_SCALE <= scale <= MAX_SCALE
        and abs(angle) <= MAX_ANGLE
        and count >= MIN_INLIERS
        and spread >= SPREAD
        and max(overlap) >= OVERLAP
        and min(overlap) >= MIN_OVERLAP
    )
    shifted = same and abs(scale - 1.0) <= SHIFT_SCALE and max(overlap) < SHIFT_SHOWN
    verdict = SHIFTED if shifted else SAME if same else DIFFERENT
    return Geometry(verdict, count, len(src), scale, angle, spread, overlap, shifted=shifted)
