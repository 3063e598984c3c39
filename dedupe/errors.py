"""The errors dedupe raises for its callers, and the ones it catches from the image libraries.

A module of its own, below every other, so that decode.py and raw.py (and every later stage)
can share them without importing each other.
"""

from __future__ import annotations

import struct
import zlib

# What Pillow's plugins raise on malformed data (besides UnidentifiedImageError and
# DecompressionBombError). The fuzz test (tests/test_fuzz.py) keeps this list honest.
DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    LookupError,
    TypeError,
    RuntimeError,  # Pillow's AVIF plugin and pillow-heif on undecodable data
    ArithmeticError,
    struct.error,
    zlib.error,
)


class DecodeError(Exception):
    """The file is not an image we can read; the message says why in plain words."""


class UnsupportedError(DecodeError):
    """An image we deliberately do not read here (listed as skipped, not as damaged)."""
