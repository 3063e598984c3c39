"""Camera RAW files through the optional `raw` extra (rawpy, i.e. LibRaw).

A RAW file usually embeds a full-size or large JPEG preview: the picture the camera showed,
which is what its JPEG twin looks like. It is used when its short side is at least the size
the hashes need; otherwise the raw data is developed at half size (a 2x2 sensor block becomes
one pixel, no interpolation), which is fast and plenty for hashing. Without rawpy installed,
`available()` is False and callers list RAW files as skipped with the install hint.

decode.py owns turning the result into a hashed-ready image; this module only talks to LibRaw.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from dedupe.errors import DECODE_ERRORS, DecodeError, UnsupportedError

try:
    import rawpy
except ImportError:  # the raw extra is not installed
    rawpy = None  # type: ignore[assignment]

INSTALL_HINT = "install the raw extra to read it (pip install 'dedupe[raw]')"

# LibRaw's `flip` (0 none, 3 = 180 degrees, 5 = 90 counter-clockwise, 6 = 90 clockwise) as
# the EXIF orientation that undoes it.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


@dataclass(frozen=True, slots=True)
class RawPicture:
    """What a RAW file gives: a JPEG preview to decode, or developed pixels (never both).

    width/height are the size of the full developed image before `orientation` is applied.
    """

    width: int
    height: int
    orientation: int
    preview: bytes | None = None
    pixels: Image.Image | None = None


def available() -> bool:
    return rawpy is not None


def read(data: bytes, min_side: int, *, use_preview: bool = True) -> RawPicture:
    """Open RAW bytes with LibRaw. Raises DecodeError (or UnsupportedError) in plain words."""
    if rawpy is None:
        raise UnsupportedError(f"RAW file: {INSTALL_HINT}")
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            sizes = raw.sizes
            orientation = _FLIP_TO_ORIENTATION.get(int(sizes.flip), 1)
            width, height = int(sizes.width), int(sizes.height)
            if use_preview:
                preview = _preview(raw, min_side)
                if isinstance(preview, bytes):
                    return RawPicture(width, height, orientation, preview=preview)
                if preview is not None:
                    return RawPicture(width, height, orientation, pixels=preview)
            developed = raw.postprocess(
                half_size=True, use_camera_wb=True, output_bps=8, user_flip=0
            )
    except rawpy.LibRawFileUnsupportedError:
        raise UnsupportedError(
            "RAW file that this version of LibRaw cannot read (a camera newer than the "
            "installed rawpy, or a damaged file)"
        ) from None
    except (rawpy.LibRawIOError, rawpy.LibRawDataError, rawpy.LibRawInputClosedError):
        raise DecodeError("damaged RAW file: it is truncated or its data is corrupt") from None
    except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, MemoryError):
        raise DecodeError("RAW file too large to decode with the memory available") from None
    except (rawpy.LibRawError, rawpy.NotSupportedError, OSError, ValueError) as error:
        raise DecodeError(f"damaged RAW file: LibRaw cannot read it ({_text(error)})") from None
    return RawPicture(width, height, orientation, pixels=_image(developed))


def _image(array: Any) -> Image.Image:
    """LibRaw's developed pixels (height x width x 3, or x 1 for monochrome) as an image."""
    pixels = np.asarray(array)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if (
        pixels.dtype != np.uint8
        or pixels.ndim not in (2, 3)
        or (pixels.ndim == 3 and pixels.shape[2] != 3)
    ):
        raise DecodeError(f"damaged RAW file: LibRaw developed it to {pixels.shape} values")
    return Image.fromarray(pixels)


def _preview(raw: Any, min_side: int) -> bytes | Image.Image | None:
    """The embedded preview (JPEG bytes or a bitmap) if its short side is >= min_side."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    except rawpy.LibRawError:
        return None  # a damaged preview: developing the raw data may still work
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                size = Image.open(io.BytesIO(thumb.data), formats=["JPEG"]).size
        except Image.DecompressionBombError:
            return None
        except DECODE_ERRORS:  # UnidentifiedImageError is an OSError
            return None
        return bytes(thumb.data) if min(size) >= min_side else None
    if thumb.format == rawpy.ThumbFormat.BITMAP:
        array = np.asarray(thumb.data)
        if array.ndim == 3 and array.shape[2] == 3 and min(array.shape[:2]) >= min_side:
            return Image.fromarray(array.astype(np.uint8))
        return None
    return None


def _text(error: BaseException) -> str:
    args = getattr(error, "args", ())
    first = args[0] if args else error
    if isinstance(first, bytes):
        return first.decode("utf-8", "replace")
    return str(first)
