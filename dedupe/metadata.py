"""The files of groups, beyond their pixels: each grouped image's companions (companions.py) and
capture metadata, read once and remembered in the hash cache's `facts` table.

`gather(grouped, every, cache)` runs after grouping (and for the files of the groups `review
--threshold` forms): it lists each folder holding a grouped image once, finds the image's
sidecars and Live Photo motion part by name, and reads what names cannot tell:

  * an image's EXIF through Pillow (pillow-heif for HEIC): DateTimeOriginal, GPS latitude and
    longitude, Make, Model, Orientation, Software, and Apple's content identifier (tag 0x0011 of
    Apple's maker note, which exiftool calls ContentIdentifier or MediaGroupUUID; the maker note
    is an IFD, parsed by Pillow's own TIFF directory reader); and how its pixels are stored
    (encoding_of: lossless, a palette, or lossy), from its header;
  * a companion's sha256 (apply checks it as it checks images), and for a MOV the content
    identifier QuickTime keeps as `com.apple.quicktime.content.identifier` in the `keys` and
    `ilst` boxes of `moov/meta` (`moov/udta/meta` as FFmpeg writes it). No Python library
    reads those keys short of PyAV (FFmpeg's libraries) or exiftool (a Perl program); mutagen
    reads only iTunes' udta tags. So a small parser here does it, bounded: top-level boxes
    are skipped by their sizes (no media data is read), at most MOOV_LIMIT bytes of `moov`
    are read, and every size is checked against its container.

A still and a MOV of the same stem are a Live Photo unless both identifiers are known and
differ; a still whose identifier matches a MOV of another name in its folder is paired with it.
Everything read is cached by (path, size, mtime_ns), so a warm rescan reads no file (it lists
the folders of grouped files and stats their companions). A file that cannot be read gives
empty metadata (no companion), never an error: these facts only inform the keep rules.
"""

from __future__ import annotations

import concurrent.futures as futures
import io
import json
import os
import stat
import struct
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import IO, Any

from PIL import Image, TiffImagePlugin

from dedupe import companions, decode, fsops
from dedupe.cache import HashCache
from dedupe.imagecols import paths_of
from dedupe.models import ENCODINGS, Companion, FileEntry, FileFacts, ImageRecord, Metadata
from dedupe.scan import NoProgress, Progress

# The version of what this module reads: a cached value of another version is read again.
# 2: the encoding.
VERSION = 2
# Most bytes of a MOV's `moov` box read for its content identifier (a Live Photo's is ~20 KB).
MOOV_LIMIT = 8 * 1024 * 1024
# Most top-level boxes looked at before `moov` is given up on.
MAX_BOXES = 64
CONTENT_ID_KEY = b"com.apple.quicktime.content.identifier"
_APPLE_NOTE = b"Apple iOS\0"
_EXIF, _GPS, _MAKER_NOTE = 0x8769, 0x8825, 0x927C
_MAKE, _MODEL, _ORIENTATION, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
_TAKEN, _LATITUDE, _LONGITUDE = 0x9003, 0x0002, 0x0004
_APPLE_CONTENT_ID = 0x0011
# Threads reading files at once (reading is mostly waiting for the disk).
READERS = 4


# ---------------------------------------------------------------- images


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 \t\r\n")
    return value or None


def apple_content_id(note: bytes) -> str | None:
    """The content identifier in an Apple maker note ("Apple iOS\\0", version, "MM", an IFD
    whose offsets count from the note's start), or None."""
    if not note.startswith(_APPLE_NOTE) or len(note) < 16 or note[12:14] not in (b"MM", b"II"):
        return None
    order = note[12:14]
    header = order + (b"\x00\x2a" if order == b"MM" else b"\x2a\x00") + b"\x00" * 4
    directory = TiffImagePlugin.ImageFileDirectory_v2(ifh=header, prefix=order)
    stream = io.BytesIO(note)
    stream.seek(14)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            directory.load(stream)
            return _text(directory.get(_APPLE_CONTENT_ID))
    except decode.DECODE_ERRORS:
        return None


def _taken(value: Any) -> str | None:
    text = _text(value)
    if text is None or len(text) < 19:
        return None
    date, _, clock = text[:19].partition(" ")
    parts = date.split(":")
    if len(parts) != 3 or not clock or not all(p.isdigit() for p in parts):
        return None
    return f"{'-'.join(parts)}T{clock}"


def image_metadata(handle: IO[bytes]) -> Metadata:
    """The capture metadata of an image file open for reading (empty when it has none or
    cannot be read)."""
    head = handle.read(decode.SNIFF_BYTES)
    kind = decode.sniff(head)
    handle.seek(0)
    allowed = {
        "JPEG": ["JPEG", "MPO"],
        "TIFF": ["TIFF"],
        "PNG": ["PNG"],
        "WEBP": ["WEBP"],
        "BMP": ["BMP"],
        "PNM": ["PPM"],
    }
    formats = allowed.get(kind or "")
    if kind == "HEIF" and decode._heif_support():
        formats = ["HEIF"]
    if formats is None:
        return Metadata()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(handle, formats=formats) as image:
                exif = image.getexif()
                extra = exif.get_ifd(_EXIF)
                gps = exif.get_ifd(_GPS)
                note = extra.get(_MAKER_NOTE)
                orientation = exif.get(_ORIENTATION)
                return Metadata(
                    taken_at=_taken(extra.get(_TAKEN)) or _taken(exif.get(_DATETIME)),
                    gps=bool(gps.get(_LATITUDE)) and bool(gps.get(_LONGITUDE)),
                    make=_text(exif.get(_MAKE)),
                    model=_text(exif.get(_MODEL)),
                    orientation=orientation if isinstance(orientation, int) else None,
                    software=_text(exif.get(_SOFTWARE)),
                    content_id=apple_content_id(note) if isinstance(note, bytes) else None,
                    encoding=encoding_of(image, handle),
                )
    except Image.DecompressionBombError:
        return Metadata()
    except decode.DECODE_ERRORS:  # UnidentifiedImageError is an OSError
        return Metadata()


# Pillow's names of the TIFF compressions that lose nothing.
_LOSSLESS_TIFF = frozenset(
    {"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits", "tiff_ccitt",
     "group3", "group4", "tiff_raw_16", "tiff_sgilog", "tiff_sgilog24", "lzma", "zstd"}
)  # fmt: skip
# Modes whose pixels are all a file stores (not indices into a palette).
_FULL_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "F", "RGB", "RGBA", "CMYK"})
# Most RIFF chunks of a WebP looked at for its image data (VP8X, ICCP, ANIM come first).
_WEBP_CHUNKS = 8


def encoding_of(image: Image.Image, handle: IO[bytes]) -> str | None:
    """How an open image's pixels are stored: "lossless" (PNG, BMP, PNM, a TIFF without lossy
    compression, a lossless WebP, in a full-colour or gray mode), "palette" (at most 256
    colours: a PNG, BMP or TIFF of mode P), "lossy" (JPEG, lossy WebP, HEIC, a
    JPEG-compressed TIFF), or None when it cannot be told."""
    fmt = image.format or ""
    if fmt in ("JPEG", "MPO", "HEIF"):
        return "lossy"
    if image.mode in ("P", "PA"):
        return "palette"
    if fmt == "WEBP":
        return _webp_encoding(handle)
    if fmt == "TIFF":
        compression = image.info.get("compression")
        if compression not in _LOSSLESS_TIFF:
            return "lossy" if compression in ("jpeg", "tiff_jpeg", "webp") else None
    if fmt in ("PNG", "BMP", "PPM", "TIFF") and image.mode in _FULL_MODES:
        return "lossless"
    return None


def _webp_encoding(handle: IO[bytes]) -> str | None:
    """A WebP's encoding from its chunks: VP8L is lossless, VP8 lossy (an animation: None)."""
    handle.seek(12)
    for _ in range(_WEBP_CHUNKS):
        header = handle.read(8)
        if len(header) < 8:
            return None
        kind, size = header[:4], struct.unpack("<I", header[4:])[0]
        if kind == b"VP8L":
            return "lossless"
        if kind == b"VP8 ":
            return "lossy"
        if kind == b"ANIM":
            return None
        handle.seek(size + (size & 1), os.SEEK_CUR)
    return None


# ---------------------------------------------------------------- QuickTime


def _boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, payload) of each box in `data`, stopping at the first one that does not fit."""
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        head = 8
        if size == 1:
            if offset + 16 > len(data):
                return
            size, head = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < head or offset + size > len(data):
            return
        yield kind, data[offset + head : offset + size]
        offset += size


def _meta_content_id(meta: bytes) -> str | None:
    # QuickTime's meta box has no version and flags; ISO's (a full box) has four bytes of them.
    if meta[4:8] not in (b"hdlr", b"keys", b"ilst"):
        meta = meta[4:]
    boxes = dict(_boxes(meta))
    keys, items = boxes.get(b"keys"), boxes.get(b"ilst")
    if keys is None or items is None or len(keys) < 8:
        return None
    # after the version, flags and count: entries of (size, namespace, name), box-shaped
    names = [name for _, name in _boxes(keys[8:])]
    if CONTENT_ID_KEY not in names:
        return None
    wanted = names.index(CONTENT_ID_KEY) + 1
    for kind, item in _boxes(items):
        if int.from_bytes(kind, "big") != wanted:
            continue
        for inner, value in _boxes(item):
            if inner == b"data" and len(value) >= 8 and value[1:4] == b"\x00\x00\x01":  # UTF-8
                return _text(value[8:])
    return None


def mov_content_id(fd: int) -> str | None:
    """A QuickTime movie's Apple content identifier (moov/meta keys), or None. Reads only the
    box headers before `moov` and at most MOOV_LIMIT bytes of it."""
    size = os.fstat(fd).st_size
    offset = 0
    for _ in range(MAX_BOXES):
        header = os.pread(fd, 16, offset)
        if len(header) < 8:
            return None
        box, kind = struct.unpack_from(">I4s", header)
        head = 8
        if box == 1 and len(header) == 16:
            box, head = struct.unpack_from(">Q", header, 8)[0], 16
        elif box == 0:
            box = size - offset
        if box < head:
            return None
        if kind == b"moov":
            if box > MOOV_LIMIT:
                return None
            moov = os.pread(fd, box - head, offset + head)
            # moov/meta as Apple writes it; moov/udta/meta as FFmpeg does
            for inner, payload in _boxes(moov):
                places = [payload] if inner == b"meta" else []
                if inner == b"udta":
                    places = [data for name, data in _boxes(payload) if name == b"meta"]
                for meta in places:
                    found = _meta_content_id(meta)
                    if found is not None:
                        return found
            return None
        offset += box
        if offset >= size:
            return None
    return None


# ---------------------------------------------------------------- reading, cached


def _open(path: str) -> int | None:
    try:
        fd = os.open(path, fsops.READ_FLAGS)
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def read_image(path: str) -> Metadata:
    fd = _open(path)
    if fd is None:
        return Metadata()
    with os.fdopen(fd, "rb") as handle:
        try:
            return image_metadata(handle)
        except OSError:
            return Metadata()


def read_companion(path: str, motion: bool) -> tuple[str, str | None] | None:
    """(sha256, content identifier of a MOV) of a companion file, None if it cannot be read."""
    fd = _open(path)
    if fd is None:
        return None
    try:
        content_id = mov_content_id(fd) if motion else None
        os.lseek(fd, 0, os.SEEK_SET)
        return fsops.hash_fd(fd), content_id
    except OSError:
        return None
    finally:
        os.close(fd)


def _entry(path: str, info: os.stat_result) -> FileEntry:
    return FileEntry(path, info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino, info.st_nlink)


def _cached(
    cache: HashCache | None,
    entries: Sequence[FileEntry],
    read: Callable[[FileEntry], dict[str, Any]],
    progress: Progress,
) -> dict[str, dict[str, Any]]:
    """path -> what `read` gives for each entry, from the cache where it has it unchanged."""
    found: dict[str, dict[str, Any]] = {}
    if cache is not None and entries:
        for path, text in cache.get_facts(entries).items():
            value = json.loads(text)
            if isinstance(value, dict) and value.get("v") == VERSION:
                found[path] = value
    progress.advance(len(found))
    misses = [e for e in entries if e.path not in found]
    if not misses:
        return found
    fresh: list[tuple[FileEntry, str]] = []
    with futures.ThreadPoolExecutor(READERS) as pool:
        for entry, value in zip(misses, pool.map(read, misses), strict=True):
            value["v"] = VERSION
            found[entry.path] = value
            fresh.append((entry, json.dumps(value, ensure_ascii=True)))
            progress.advance()
    if cache is not None:
        cache.put_facts(fresh)
    return found


def _read_image(entry: FileEntry) -> dict[str, Any]:
    return asdict(read_image(entry.path))


def _read_companion(entry: FileEntry) -> dict[str, Any]:
    read = read_companion(entry.path, companions.extension(entry.path) in {".mov"})
    return {} if read is None else {"digest": read[0], "content_id": read[1]}


def _metadata(value: dict[str, Any]) -> Metadata:
    """A cached value as Metadata (what is not of its type is dropped)."""

    def text(key: str) -> str | None:
        item = value.get(key)
        return item if isinstance(item, str) else None

    orientation = value.get("orientation")
    return Metadata(
        taken_at=text("taken_at"),
        gps=value.get("gps") is True,
        make=text("make"),
        model=text("model"),
        orientation=orientation if type(orientation) is int else None,
        software=text("software"),
        content_id=text("content_id"),
        encoding=encoding if (encoding := text("encoding")) in ENCODINGS else None,
    )


def gather(
    grouped: Sequence[ImageRecord],
    every: Sequence[ImageRecord],
    cache: HashCache | None = None,
    progress: Progress | None = None,
) -> dict[str, FileFacts]:
    """path -> FileFacts for each of `grouped` (the images in groups), with their twins among
    `every` image of the library. Reads through `cache` (None: reads everything)."""
    progress = progress or NoProgress()
    # (only the images that can be twins of the grouped ones: a report's index builds no
    # record for any other, see imagecols.py)
    paths = paths_of(every)
    alike = companions.twin_candidates(paths, (r.path for r in grouped))
    twin_of = companions.twins(every[k] for k in alike)
    folders: dict[str, list[str]] = defaultdict(list)
    for record in grouped:
        head, name = os.path.split(record.path)
        folders[head].append(name)
    listed: dict[str, dict[str, FileEntry]] = {}  # folder -> name -> companion candidate
    every_name: dict[str, set[str]] = {}  # folder -> the names of all its entries
    for folder in sorted(folders):
        every_name[folder], listed[folder] = _candidates(folder)
    sidecars: dict[str, list[tuple[str, str]]] = {}
    wanted: dict[str, FileEntry] = {}

    def want(folder: str, found: Sequence[tuple[str, str]]) -> None:
        for other, _ in found:
            entry = listed[folder].get(other)
            if entry is not None:
                wanted[entry.path] = entry

    for folder, names in folders.items():
        files = listed[folder]
        for name, found in _find(every_name[folder], files, names).items():
            sidecars[os.path.join(folder, name)] = found
            want(folder, found)
        for name in names:
            motion = companions.motion_of(files, name)
            if motion is not None:
                want(
                    folder,
                    [(motion, "motion"), *_find(every_name[folder], files, [motion])[motion]],
                )
    images = [
        FileEntry(r.path, r.size, r.mtime_ns, r.dev, r.ino) for r in grouped
    ]  # their metadata
    progress.start("Reading capture metadata and sidecars", len(images) + len(wanted))
    meta = {p: _metadata(v) for p, v in _cached(cache, images, _read_image, progress).items()}
    # MOVs of another name than a still's, in folders where a still has a content identifier
    for folder, names in folders.items():
        if any(meta[os.path.join(folder, n)].content_id for n in names):
            for name, entry in listed[folder].items():
                if companions.extension(name) in companions.MOTION_EXTENSIONS:
                    wanted.setdefault(entry.path, entry)
    read = _cached(cache, sorted(wanted.values(), key=lambda e: e.path), _read_companion, progress)
    facts: dict[str, FileFacts] = {}
    for folder, names in folders.items():
        files = listed[folder]
        claimed = {companions.motion_of(files, n) for n in names} - {None}
        for name in names:
            path = os.path.join(folder, name)
            found = list(sidecars[path])
            motion = _pair(files, name, meta[path].content_id, read, folder, claimed)
            if motion is not None:
                found.append((motion, "motion"))
                extra = _find(every_name[folder], files, [motion])[motion]
                found += [c for c in extra if c not in found]
                late = [files[n] for n, _ in found if n in files and files[n].path not in read]
                if late:  # the sidecars of a MOV paired by content identifier
                    read.update(_cached(cache, late, _read_companion, progress))
            facts[path] = FileFacts(
                companions=tuple(
                    sorted(_companions(folder, files, found, read), key=lambda c: c.path)
                ),
                twins=twin_of.get(path, ()),
                metadata=meta[path],
            )
    return facts


def _pair(
    files: dict[str, FileEntry],
    name: str,
    content_id: str | None,
    read: dict[str, dict[str, Any]],
    folder: str,
    claimed: set[str | None],
) -> str | None:
    """The motion part of the still `name`: its stem's MOV unless the identifiers differ, else
    a MOV of another name (not another still's by stem) with the still's identifier."""
    by_stem = companions.motion_of(files, name)
    if by_stem is not None:
        theirs = read.get(os.path.join(folder, by_stem), {}).get("content_id")
        if not (content_id and theirs and theirs != content_id):
            return by_stem
    if not content_id:
        return None
    for other in sorted(files):
        if companions.extension(other) not in companions.MOTION_EXTENSIONS or other in claimed:
            continue
        if read.get(os.path.join(folder, other), {}).get("content_id") == content_id:
            return other
    return None


def _companions(
    folder: str,
    files: dict[str, FileEntry],
    found: Sequence[tuple[str, str]],
    read: dict[str, dict[str, Any]],
) -> Iterator[Companion]:
    for name, role in found:
        entry = files.get(name)
        value = read.get(os.path.join(folder, name), {})
        digest = value.get("digest")
        if entry is None or not isinstance(digest, str):
            continue  # vanished or unreadable: not listed, so apply finds it unlisted and waits
        yield Companion(entry.path, role, entry.size, entry.mtime_ns, digest)


def _find(
    names: set[str], files: dict[str, FileEntry], images: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """companions.find over every name of the folder, keeping the regular files only."""
    return {
        image: [(n, role) for n, role in found if n in files]
        for image, found in companions.find(names, images).items()
    }


def _candidates(folder: str) -> tuple[set[str], dict[str, FileEntry]]:
    """Every name in `folder`, and its regular files that could be companions by their names
    (symlinks and anything else are never companions: apply acts only on regular files)."""
    names: set[str] = set()
    found: dict[str, FileEntry] = {}
    try:
        with os.scandir(folder) as entries:
            for item in entries:
                names.add(item.name)
                if not companions.is_companion_name(item.name):
                    continue
                try:
                    info = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    found[item.name] = _entry(item.path, info)
    except OSError:
        return set(), {}
    return names, found
