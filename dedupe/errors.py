"""The errors dedupe raises for its callers, and the ones it catches from the image libraries.

Every error dedupe raises for a caller to handle is a `DedupeError`; its message says what is
wrong in plain words (where a value is one a command-line option gives, it names the option,
`--protect`, which is the Python API's keyword of the same name). The command line maps them
to its exit codes (dedupe/cli/__init__.py):

    DedupeError          1  something went wrong while running
      UsageError         2  an argument dedupe cannot use, refused before any work
        PatternError     2  an --exclude pattern that is not one (filters.py)
      ImageError         1  an image named by the caller cannot be read
      Refused            4  apply or undo must not act; nothing was done
      ReportError        1  the report cannot be used (report.py; apply refuses it: 4)
      JournalError       1  the journal cannot be used (journal.py), Locked: another dedupe
                            holds its lock
      DecodeError           one file is not an image dedupe can read; never reaches a caller
        UnsupportedError    of the scan, which lists the file with the reason instead

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


class DedupeError(Exception):
    """Base of every error dedupe raises for a caller to handle; the message says why."""


class UsageError(DedupeError, ValueError):
    """An argument dedupe cannot use, refused before any work: a folder or file that does not
    exist or is of the wrong kind, a keep folder outside the scanned ones, a bad pattern."""


class ImageError(DedupeError):
    """An image the caller named (`dedupe.hash_file`, `dedupe.compare_files`) cannot be read or
    is not an image; the message gives its path and the reason."""


class Refused(DedupeError):
    """apply or undo must not act (a report that cannot be applied, another apply or undo at
    work, a journal that does not fit); nothing was done. The message says why."""


class DedupeWarning(UserWarning):
    """A problem that does not stop the work (a hash cache that cannot be used, a damaged
    marks file set aside), given through `warnings` when the caller passes no `warn`."""


class DecodeError(DedupeError):
    """The file is not an image we can read; the message says why in plain words."""


class UnsupportedError(DecodeError):
    """An image we deliberately do not read here (listed as skipped, not as damaged)."""
