"""The scan stage: walk -> cache lookup -> parallel fingerprinting of misses -> ScanResult.

The core never draws: progress goes through the `Progress` object the caller passes in.
A file is read once: its bytes give the content digest and are decoded from memory.
"""

from __future__ import annotations

import concurrent.futures as futures
import errno
import hashlib
import multiprocessing
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from dedupe import decode, hashing, verify
from dedupe.cache import KIND_ERROR, KIND_IMAGE, HashCache
from dedupe.models import (
    FileEntry,
    Fingerprint,
    ImageRecord,
    Problem,
    ScanResult,
    ScanStats,
    Settings,
)
from dedupe.walk import walk

# Files bigger than this are not read into memory (no photo is this big; a video might be).
MAX_FILE_BYTES = 2 * 1024**3
# Files per task sent to a worker process, and tasks kept in flight per worker.
CHUNK = 16
IN_FLIGHT = 4


class Progress(Protocol):
    def start(self, description: str, total: int | None) -> None: ...
    def advance(self, count: int = 1) -> None: ...


class NoProgress:
    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Hashed:
    fingerprint: Fingerprint
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    skipped: bool = False  # a supported-later case (e.g. RAW without the extra), not damage
    # A condition of the moment (permission denied, changed or vanished during the scan), not
    # of the content: never cached, so fixing it needs no change to the file.
    transient: bool = False


# None means "not an image": the file is passed over silently.
Outcome = Hashed | Failed | None

RAW_HINT = "RAW file: install the raw extra to read it (pip install 'dedupe[raw]')"


def fingerprint_bytes(data: bytes, settings: Settings, *, raw: str | None = None) -> Fingerprint:
    """Decode image bytes and compute everything the later stages need. Raises DecodeError.

    `raw` names the camera RAW format to read the bytes as (see decode.decode).
    """
    decoded = decode.decode(data, raw=raw)
    gray = decoded.image.convert("L")
    value, variants = hashing.compute_with_variants(gray, settings.algorithm, settings.hash_size)
    return Fingerprint(
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        digest=hashlib.sha256(data).hexdigest(),
        hash=value,
        variants=variants,
        check=verify.signature(gray),
        taken_at=decoded.taken_at,
    )


def fingerprint_file(path: str, settings: Settings, *, follow_symlinks: bool = False) -> Outcome:
    """Read one file and fingerprint it. Never raises for a bad file: returns Failed.

    The content decides what a file is; the name only decides whether a file that is not an
    image is worth mentioning (a `.jpg` that is not a JPEG is listed, a `.txt` is not).
    Only regular files are read: a FIFO, socket or device put in a file's place after the walk
    is refused without reading, and a symlink put there is not followed (the walk never yields
    symlinks; `follow_symlinks=True` is for a path a person named, e.g. `dedupe hash`).
    """
    extension = os.path.splitext(path)[1].lower()
    flags = os.O_RDONLY | os.O_NONBLOCK  # a file swapped for a FIFO cannot block us
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        return Failed(_os_reason(error), transient=True)
    try:
        with os.fdopen(fd, "rb") as handle:
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode):
                return Failed("not a regular file (replaced during the scan?)", transient=True)
            head = handle.read(decode.SNIFF_BYTES)
            kind = decode.sniff(head)
            raw = _raw_format(kind, extension)
            if not head:
                return Failed("empty file (0 bytes)") if extension in _NAMED_IMAGE else None
            if raw is not None and not decode.raw_support():
                return Failed(RAW_HINT, skipped=True)
            if kind is None and raw is None:
                return _not_an_image(extension)
            if before.st_size > MAX_FILE_BYTES:
                return Failed(
                    f"too large to read ({before.st_size:,} bytes; the limit for one image is "
                    f"{MAX_FILE_BYTES:,})"
                )
            data = head + handle.read()
            after = os.fstat(handle.fileno())
    except OSError as error:
        return Failed(_os_reason(error), transient=True)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(
        data
    ) != after.st_size:
        return Failed("the file changed while it was being read; scan again", transient=True)
    try:
        fingerprint = fingerprint_bytes(data, settings, raw=raw)
    except decode.UnsupportedError as error:
        return Failed(str(error), skipped=True)
    except decode.DecodeError as error:
        if kind in decode.WEAK_KINDS and extension not in decode.IMAGE_EXTENSIONS:
            return None  # e.g. a text file that happens to start with "BM" or "P1 "
        return Failed(str(error))
    return Hashed(fingerprint, after.st_size, after.st_mtime_ns)


# Names that promise an image: a file so named that is not one is worth listing.
_NAMED_IMAGE = decode.IMAGE_EXTENSIONS | frozenset(decode.UNSUPPORTED_EXTENSIONS)


def _raw_format(kind: str | None, extension: str) -> str | None:
    """The RAW format to decode as ("NEF", "DNG", ...), or None when the file is not RAW.

    Most RAW formats are TIFF containers, so the name decides between TIFF and RAW; a RAW
    name on content that is plainly something else (a JPEG named .nef) is decoded by content.
    """
    named_raw = extension in decode.RAW_EXTENSIONS
    if kind == "RAW":
        return extension[1:].upper() if named_raw else "RAW"
    if named_raw and kind in (None, "TIFF"):
        return extension[1:].upper()
    return None


def _not_an_image(extension: str) -> Failed | None:
    unsupported = decode.UNSUPPORTED_EXTENSIONS.get(extension)
    if unsupported is not None:
        return Failed(f"{unsupported} ({extension}): this format is not supported", skipped=True)
    if extension in decode.IMAGE_EXTENSIONS:
        return Failed(f"not an image: named {extension} but the content is not an image")
    return None


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied: this file cannot be read"
    if isinstance(error, FileNotFoundError):
        return "the file disappeared during the scan"
    if error.errno == errno.ELOOP:
        return "a symbolic link (not followed)"
    if error.errno == errno.EISDIR:
        return "replaced by a folder during the scan"
    return f"cannot read: {error.strerror or error}"


def _fingerprint_chunk(paths: list[str], settings: Settings) -> list[Outcome]:
    return [fingerprint_file(path, settings) for path in paths]


def _run(
    entries: list[FileEntry], settings: Settings, jobs: int, progress: Progress
) -> Iterator[tuple[FileEntry, Outcome]]:
    """Fingerprint entries, in a process pool when jobs > 1; results come in completion order."""
    if jobs <= 1 or len(entries) < 2 * CHUNK:
        for entry in entries:
            outcome = fingerprint_file(entry.path, settings)
            progress.advance()
            yield entry, outcome
        return
    chunks = [entries[k : k + CHUNK] for k in range(0, len(entries), CHUNK)]
    # Workers start from a clean server process, not a fork of this one: the caller may have
    # threads (a live progress bar) whose locks a plain fork would copy mid-use.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: dict[futures.Future[list[Outcome]], list[FileEntry]] = {}
        queue = iter(chunks)

        def submit_next() -> None:
            chunk = next(queue, None)
            if chunk is not None:
                future = pool.submit(_fingerprint_chunk, [e.path for e in chunk], settings)
                pending[future] = chunk

        for _ in range(jobs * IN_FLIGHT):
            submit_next()
        while pending:
            done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                for entry, outcome in zip(chunk, future.result(), strict=True):
                    yield entry, outcome
                progress.advance(len(chunk))
                submit_next()


def _collapse_hardlinks(
    entries: Iterable[FileEntry],
) -> tuple[list[FileEntry], dict[str, tuple[str, ...]]]:
    """One entry per (device, inode): the first path by sort order; the others are its links."""
    first: dict[tuple[int, int], FileEntry] = {}
    links: dict[str, list[str]] = {}
    unique: list[FileEntry] = []
    for entry in entries:
        key = (entry.dev, entry.ino)
        if entry.nlink > 1 and key in first:
            links.setdefault(first[key].path, []).append(entry.path)
            continue
        first[key] = entry
        unique.append(entry)
    return unique, {path: tuple(others) for path, others in links.items()}


def scan(
    roots: Iterable[str],
    settings: Settings,
    cache: HashCache,
    *,
    jobs: int = 1,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan `roots` (absolute paths) and fingerprint every image. Nothing under roots is written."""
    progress = progress or NoProgress()
    roots_t = tuple(roots)
    errors: list[Problem] = []
    skipped: list[Problem] = []
    found: list[FileEntry] = []
    progress.start("Finding files", None)
    for item in walk(roots_t, follow_symlinks=follow_symlinks):
        if isinstance(item, Problem):
            errors.append(item)
        else:
            found.append(item)
            progress.advance()
    entries, links = _collapse_hardlinks(found)

    records: list[ImageRecord] = []
    misses: list[FileEntry] = []
    from_cache = 0
    for entry in entries:
        cached = cache.get(entry)
        if cached is None:
            misses.append(entry)
        elif cached.kind == KIND_IMAGE and cached.fingerprint is not None:
            records.append(_record(entry, cached.fingerprint, links))
            from_cache += 1
        elif cached.kind == KIND_ERROR:
            errors.append(Problem(entry.path, cached.reason))

    progress.start("Hashing images", len(misses))
    hashed = 0
    for entry, outcome in _run(misses, settings, jobs, progress):
        if isinstance(outcome, Hashed):
            current = FileEntry(
                entry.path, outcome.size, outcome.mtime_ns, entry.dev, entry.ino, entry.nlink
            )
            records.append(_record(current, outcome.fingerprint, links))
            cache.put(current, outcome.fingerprint)
            hashed += 1
        elif isinstance(outcome, Failed):
            (skipped if outcome.skipped else errors).append(Problem(entry.path, outcome.reason))
            if not outcome.skipped and not outcome.transient:
                cache.put(entry, outcome.reason)
        else:
            cache.put(entry, None)
    cache.commit()

    records.sort(key=lambda r: os.fsencode(r.path))
    errors.sort(key=lambda p: os.fsencode(p.path))
    skipped.sort(key=lambda p: os.fsencode(p.path))
    file_paths = {entry.path for entry in entries}
    stats = ScanStats(
        files=len(found),
        images=len(records) + sum(1 for e in errors if e.path in file_paths),
        hashed=hashed,
        from_cache=from_cache,
        errors=len(errors),
        skipped=len(skipped),
        hardlinks=sum(len(v) for v in links.values()),
    )
    return ScanResult(roots_t, settings, tuple(records), tuple(errors), tuple(skipped), stats)


def _record(
    entry: FileEntry, fingerprint: Fingerprint, links: dict[str, tuple[str, ...]]
) -> ImageRecord:
    return ImageRecord(
        path=entry.path,
        size=entry.size,
        mtime_ns=entry.mtime_ns,
        dev=entry.dev,
        ino=entry.ino,
        fingerprint=fingerprint,
        links=links.get(entry.path, ()),
    )
