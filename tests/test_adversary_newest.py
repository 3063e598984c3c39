"""The third adversarial round, on the newest code: the geometric check's second look at the
files, capture times that lie, similar shots in hand-edited reports, the Python API misused,
worker processes that die, full disks. What broke is fixed and pinned here; what held is
pinned too, so that it keeps holding."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, Library, photo, snapshot
from PIL import Image

import dedupe
from dedupe.cache import HashCache
from dedupe.errors import UsageError
from dedupe.looks import Looks, picture
from dedupe.models import ImageRecord, KeepRules, Settings
from dedupe.scan import Hashed, fingerprint_file, scan

REPO = Path(__file__).resolve().parent.parent


def exif(when: str, subseconds: str) -> Image.Exif:
    data = Image.Exif()
    data[0x010F], data[0x0110] = "Maker", "Test Camera"
    ifd = data.get_ifd(0x8769)
    ifd[36867], ifd[0x9291] = when, subseconds
    return data


def jpeg_with_subseconds(image: Image.Image, raw: bytes, quality: int) -> bytes:
    """A JPEG whose EXIF SubSecTimeOriginal holds exactly the bytes `raw` (Pillow would write
    a non-ASCII character as "?": the placeholder is replaced in the file's bytes)."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif("2024:05:01 10:00:00", "QZ"))
    data = buffer.getvalue()
    assert data.count(b"QZ\x00") == 1 and len(raw) == 2
    return data.replace(b"QZ\x00", raw + b"\x00")


def records_of(root: Path, settings: Settings | None = None) -> list[ImageRecord]:
    settings = settings or Settings()
    return list(scan((str(root),), settings, HashCache.memory(settings)).records)


# ---------------------------------------------------------------- capture times that lie


def test_sub_seconds_in_latin_1_digits_do_not_make_a_photo_damaged(library: Library) -> None:
    """SubSecTimeOriginal of "\\xb2\\xb2" reads as "²²" (latin-1): digits to str.isdigit, not
    to int(). That made a sound JPEG "damaged JPEG image: its contents are not valid", and
    its copy was never found. Now the sub-seconds are only not known."""
    picture_ = photo(3, (800, 600))
    library.write("a.jpg", jpeg_with_subseconds(picture_, b"\xb2\xb2", 92))
    library.write("a-small.jpg", jpeg_with_subseconds(picture_.resize((400, 300)), b"\xb2\xb2", 85))
    outcome = fingerprint_file(str(library.root / "a.jpg"), Settings())
    assert isinstance(outcome, Hashed), outcome
    report = dedupe.scan_folders(library.root, cache=False)
    assert not report.errors
    assert [[Path(m.record.path).name for m in g.members] for g in report.groups] == [
        ["a.jpg", "a-small.jpg"]
    ]


# ---------------------------------------------------------------- the second look at a file


# ---------------------------------------------------------------- hand-edited reports


# ---------------------------------------------------------------- the Python API misused


# ---------------------------------------------------------------- odd names, full disks
