"""Perceptual hashes (aHash, dHash, pHash) of a decoded image, and the hash value type.

The algorithms follow imagehash exactly (same resize filter, same bit order: row-major, first
pixel is the most significant bit), so `average_hash(img, 8)` has the same bits as
`imagehash.average_hash(img, 8)` for the same decoded image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

ALGORITHMS = ("ahash", "dhash", "phash")
HASH_SIZES = (8, 16)


@dataclass(frozen=True, slots=True)
class ImageHash:
    """An N x N bit hash. `a - b` is the Hamming distance; `str(h)` is hex (imagehash's form)."""

    bits: int
    size: int

    @property
    def nbits(self) -> int:
        return self.size * self.size

    def __sub__(self, other: ImageHash) -> int:
        if self.size != other.size:
            raise ValueError(
                f"cannot compare a {self.size}x{self.size} hash with {other.size}x{other.size}"
            )
        return (self.bits ^ other.bits).bit_count()

    def __str__(self) -> str:
        return f"{self.bits:0{self.nbits // 4}x}"

    @classmethod
    def from_hex(cls, text: str) -> ImageHash:
        """Inverse of `str()`; the size follows from the digit count (16 -> 8x8, 64 -> 16x16)."""
        size = math.isqrt(len(text) * 4)
        if size * size != len(text) * 4 or size == 0:
            raise ValueError(f"a hash has 16 or 64 hex digits, not {len(text)}: {text!r}")
        return cls(int(text, 16), size)

    @classmethod
    def from_bool_array(cls, array: npt.NDArray[np.bool_]) -> ImageHash:
        size = array.shape[0]
        flat = np.packbits(array.reshape(-1).astype(np.uint8))
        return cls(int.from_bytes(flat.tobytes(), "big"), size)

    def to_bool_array(self) -> npt.NDArray[np.bool_]:
        raw = np.frombuffer(self.bits.to_bytes(self.nbits // 8, "big"), dtype=np.uint8)
        return np.unpackbits(raw).astype(bool).reshape(self.size, self.size)

    def words(self) -> tuple[int, ...]:
        """The hash as 64-bit words, most significant first (the layout of `codes` arrays)."""
        n = self.nbits // 64
        return tuple((self.bits >> (64 * (n - 1 - k))) & 0xFFFF_FFFF_FFFF_FFFF for k in range(n))


def codes_array(
    hashes: list[ImageHash] | tuple[ImageHash, ...], size: int
) -> npt.NDArray[np.uint64]:
    """Pack hashes into an (n, words) uint64 array for the BK-tree."""
    words = size * size // 64
    if {h.size for h in hashes} - {size}:
        raise ValueError(f"every hash must be {size}x{size}")
    if words == 1:  # the bits as they are, no bytes in between
        return np.fromiter((h.bits for h in hashes), dtype=np.uint64, count=len(hashes))[:, None]
    width = size * size // 8
    packed = b"".join(h.bits.to_bytes(width, "big") for h in hashes)
    big_endian = np.frombuffer(packed, dtype=">u8").reshape(len(hashes), words)
    return big_endian.astype(np.uint64)


def _gray(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else image.convert("L")


def average_hash(image: Image.Image, size: int = 8) -> ImageHash:
    """Classic aHash: grayscale, LANCZOS to size x size, bit = pixel brighter than the mean."""
    pixels = np.asarray(_gray(image).resize((size, size), Image.Resampling.LANCZOS))
    return ImageHash.from_bool_array(pixels > pixels.mean())


def difference_hash(image: Image.Image, size: int = 8) -> ImageHash:
    """dHash: grayscale, LANCZOS to (size+1) x size, bit = pixel brighter than its left one."""
    pixels = np.asarray(_gray(image).resize((size + 1, size), Image.Resampling.LANCZOS))
    return ImageHash.from_bool_array(pixels[:, 1:] > pixels[:, :-1])


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    """Unnormalised DCT-II matrix, the same transform as scipy.fftpack.dct(type=2)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))


def perceptual_hash(image: Image.Image, size: int = 8, highfreq_factor: int = 4) -> ImageHash:
    """pHash: grayscale, LANCZOS to 4N x 4N, 2-D DCT, bit = low-frequency coefficient > median."""
    n = size * highfreq_factor
    pixels = np.asarray(_gray(image).resize((n, n), Image.Resampling.LANCZOS), dtype=np.float64)
    return _phash_of_pixels(pixels, size)


def _phash_of_pixels(pixels: npt.NDArray[np.float64], size: int) -> ImageHash:
    matrix = _dct_matrix(pixels.shape[0])
    dct = matrix @ pixels @ matrix.T
    low = dct[:size, :size]
    return ImageHash.from_bool_array(low > np.median(low))


# EXIF orientations 2..8 as transforms of a square pixel array (see decode.orientations).
_ORIENTATIONS: tuple[Callable[[npt.NDArray[Any]], npt.NDArray[Any]], ...] = (
    lambda a: a[:, ::-1],
    lambda a: a[::-1, ::-1],
    lambda a: a[::-1, :],
    lambda a: a.T,
    lambda a: np.rot90(a, -1),
    lambda a: np.rot90(a, 2).T,
    lambda a: np.rot90(a, 1),
)

# The same seven orientations as Pillow transposes, in the same order.
_TRANSPOSES = (
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.ROTATE_180,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
)


def compute_with_variants(
    image: Image.Image, algorithm: str, size: int
) -> tuple[ImageHash, tuple[ImageHash, ...]]:
    """The hash of `image`, and the hashes of its 7 other orientations (EXIF 2..8).

    The variants are computed from the square reduced image the hash itself starts from
    (resampling commutes with flips and quarter turns), so they cost a few array operations
    instead of seven more resizes of the decoded image.
    """
    gray = _gray(image)
    if algorithm == "ahash":
        pixels = np.asarray(gray.resize((size, size), Image.Resampling.LANCZOS))
        bits = [f(pixels) for f in _ORIENTATIONS]
        mean = pixels.mean()
        return ImageHash.from_bool_array(pixels > mean), tuple(
            ImageHash.from_bool_array(b > mean) for b in bits
        )
    if algorithm == "phash":
        n = size * 4
        pixels = np.asarray(gray.resize((n, n), Image.Resampling.LANCZOS), dtype=np.float64)
        return _phash_of_pixels(pixels, size), tuple(
            _phash_of_pixels(np.ascontiguousarray(f(pixels)), size) for f in _ORIENTATIONS
        )
    primary = compute(gray, algorithm, size)
    side = 4 * (size + 1)
    # Pillow's own transposes move exactly the pixels the array transforms would, without a
    # round trip through numpy for each of the seven.
    square = gray.resize((side, side), Image.Resampling.BOX)
    return primary, tuple(compute(square.transpose(t), algorithm, size) for t in _TRANSPOSES)


_FUNCTIONS = {
    "ahash": average_hash,
    "dhash": difference_hash,
    "phash": perceptual_hash,
}


def compute(image: Image.Image, algorithm: str, size: int) -> ImageHash:
    """Hash `image` with the named algorithm at `size` x `size` bits."""
    try:
        function = _FUNCTIONS[algorithm]
    except KeyError:
        raise ValueError(
            f"unknown algorithm {algorithm!r} (choose from {', '.join(ALGORITHMS)})"
        ) from None
    return function(image, size)
