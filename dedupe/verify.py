"""The independent check that a candidate pair from the hash search really is one picture.

A hash threshold alone chains unrelated photos together (A~B, B~C, A far from C). Every
candidate pair is therefore verified on a second signature before union-find may join it: a
small grayscale thumbnail compared by correlation, which ignores brightness and contrast
changes but not a different scene. Images with almost no detail (blank, solid backgrounds)
have no meaningful signature and never match perceptually (only as exact byte copies).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

# Side of the square grayscale thumbnail kept per image (bytes = SIZE * SIZE).
SIZE = 16
# Pairs whose thumbnails correlate less than this are not the same picture.
MIN_CORRELATION = 0.80
# A thumbnail whose pixel standard deviation is below this (0..255 scale) is "low information".
MIN_DETAIL = 4.0


def signature(image: Image.Image) -> bytes:
    """The check signature of an image (any mode): a SIZE x SIZE grayscale thumbnail."""
    gray = image if image.mode == "L" else image.convert("L")
    return gray.resize((SIZE, SIZE), Image.Resampling.BOX).tobytes()


def _array(check: bytes) -> npt.NDArray[np.float64]:
    if len(check) != SIZE * SIZE:
        raise ValueError(f"a check signature has {SIZE * SIZE} bytes, not {len(check)}")
    return np.frombuffer(check, dtype=np.uint8).astype(np.float64).reshape(SIZE, SIZE)


def is_low_information(check: bytes) -> bool:
    """True for blank or near-uniform images, which must not match merely by their hashes."""
    return float(_array(check).std()) < MIN_DETAIL


# The array transform that applies EXIF orientation k (2..8) to a square thumbnail.
ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.T,
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).T,
    8: lambda a: np.rot90(a, 1),
}


def similarity(a: bytes, b: bytes, orientation: int = 1) -> float:
    """Correlation (-1..1) of two check signatures, with b seen under the given EXIF orientation."""
    x = _array(a)
    y = ORIENT[orientation](_array(b))
    x = x - x.mean()
    y = y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    if denominator == 0.0:
        return 0.0
    return float((x * y).sum()) / denominator


def accept(a: bytes, b: bytes, orientation: int = 1) -> bool:
    """Whether a candidate pair passes verification."""
    if is_low_information(a) or is_low_information(b):
        return False
    return similarity(a, b, orientation) >= MIN_CORRELATION
