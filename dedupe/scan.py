"""The scan stage: walk -> cache lookup -> parallel fingerprinting of misses -> ScanResult.

The core never draws: progress goes through the `Progress` object the caller passes in.
A file is read once: its bytes give the content digest and are decoded from memory.
"""

from __future__ import annotations

import concurrent.futures as futures
import errno
import hashlib
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from dedupe import companions, decode, hashing, looks, verify, workers
from dedupe.cache import KIND_ERROR, KIND_IMAGE, HashCache
from dedupe.errors import DedupeError
from dedupe.gcpause import collector_paused
from dedupe.imagecols import Gathering
from dedupe.models import (
    FileEntry,
    Fingerprint,
    Problem,
    ScanResult,
    ScanStats,
    Selection,
    Settings,
)
from dedupe.walk import walk

# Files bigger than this are not read into memory (no photo is this big; a video might be).
MAX_FILE_BYTES = 2 * 1024**3
# Most files per task sent to a worker process, and tasks kept in flight per worker.
CHUNK = 16
IN_FLIGHT = 4


class Progress(Protocol):
    """Where a long call says how far it is (the command line draws it as a bar on stderr):
    each phase starts with `start`, then `advance` counts what it has done."""

    def start(self, description: str, total: int | None) -> None:
        """A new phase: what it does ("Hashing images") and how many steps it has (None: not
        known, or not counted)."""
        ...

    def advance(self, count: int = 1) -> None:
        """`count` more steps of the current phase are done."""
        ...


class NoProgress:
    """Progress that goes nowhere (the default of the API's calls)."""

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Hashed:
    fingerprint: Fingerprint
    size: int
    mtime_ns: int
    # The decode the fingerprint was made from, when the geometric check can use it instead of
    # decoding the file again (asked for with `pictures`; see looks.first_decode_serves).
    picture: looks.Kept | None = field(default=None, compare=False)


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
    return _fingerprint(data, settings, raw, pictures=False)[0]


def _fingerprint(
    data: bytes, settings: Settings, raw: str | None, *, pictures: bool
) -> tuple[Fingerprint, looks.Kept | None]:
    """fingerprint_bytes, and (with `pictures`) the decode it was made from when the geometric
    check can use it (looks.first_decode_serves; not for RAW files, which it decodes apart)."""
    decoded = decode.decode(data, raw=raw, gray=True)  # every hash starts from gray
    gray = decoded.image
    value, variants = hashing.compute_with_variants(gray, settings.algorithm, settings.hash_size)
    digest = hashlib.sha256(data).hexdigest()
    fingerprint = Fingerprint(
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        digest=digest,
        hash=value,
        variant_bits=Fingerprint.pack_variants(variants),
        check=verify.signature(gray, decoded.capture, decoded.chroma, animated=decoded.animated),
        taken_at=decoded.taken_at,
    )
    kept = None
    full = (decoded.width, decoded.height)
    if pictures and raw is None and looks.first_decode_serves(gray.size, full):
        kept = looks.Kept(digest, np.asarray(gray, dtype=np.uint8))
    return fingerprint, kept


def fingerprint_file(
    path: str, settings: Settings, *, follow_symlinks: bool = False, pictures: bool = False
) -> Outcome:
    """Read one file and fingerprint it. Never raises for a bad file: returns Failed.
    `pictures`: the outcome carries the decode, when the geometric check can use it.

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
            handle.seek(0)
            data = handle.read()  # one buffer of the file's size, not head + rest (a copy)
            after = os.fstat(handle.fileno())
    except OSError as error:
        return Failed(_os_reason(error), transient=True)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(
        data
    ) != after.st_size:
        return Failed("the file changed while it was being read; scan again", transient=True)
    try:
        fingerprint, picture = _fingerprint(data, settings, raw, pictures=pictures)
    except decode.UnsupportedError as error:
        return Failed(str(error), skipped=True)
    except decode.DecodeError as error:
        if kind in decode.WEAK_KINDS and extension not in decode.IMAGE_EXTENSIONS:
            return None  # e.g. a text file that happens to start with "BM" or "P1 "
        return Failed(str(error))
    return Hashed(fingerprint, after.st_size, after.st_mtime_ns, picture)


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


def _fingerprint_chunk(paths: list[str], settings: Settings, pictures: bool) -> list[Outcome]:
    return [fingerprint_file(path, settings, pictures=pictures) for path in paths]


def _chunks(entries: list[FileEntry], jobs: int) -> Iterator[list[FileEntry]]:
    """The tasks for the pool, in order: each about 1 / (jobs * IN_FLIGHT) of the files not yet
    handed out, between 1 and CHUNK files. Early tasks are big (few messages between processes);
    the last ones are single files, so no worker sits idle while another finishes a long task
    (with tasks of 16 twelve-megapixel JPEGs, that wait was up to a second of one core)."""
    start = 0
    while start < len(entries):
        size = max(1, min(CHUNK, (len(entries) - start) // (jobs * IN_FLIGHT)))
        yield entries[start : start + size]
        start += size


def _run(
    entries: list[FileEntry], settings: Settings, jobs: int, progress: Progress, pictures: bool
) -> Iterator[tuple[FileEntry, Outcome]]:
    """Fingerprint entries, in a process pool when jobs > 1; results come in completion order."""
    if jobs <= 1 or len(entries) < 2 * CHUNK:
        for entry in entries:
            outcome = fingerprint_file(entry.path, settings, pictures=pictures)
            progress.advance()
            yield entry, outcome
        return
    context = workers.context()
    # Images too big to decode side by side take turns across the pool (decode.take_turns).
    pool = futures.ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=decode.take_turns,
        initargs=(context.Lock(), decode.BIG_DECODE_BYTES),
    )
    try:
        pending: dict[futures.Future[list[Outcome]], list[FileEntry]] = {}
        queue = _chunks(entries, jobs)

        def submit_next() -> None:
            chunk = next(queue, None)
            if chunk is not None:
                with workers.interrupt_held():  # a submit may launch a worker
                    future = pool.submit(
                        _fingerprint_chunk, [e.path for e in chunk], settings, pictures
                    )
                    pending[future] = chunk

        for _ in range(jobs * IN_FLIGHT):
            submit_next()
        while pending:
            done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                try:
                    outcomes = future.result()
                except futures.process.BrokenProcessPool:
                    raise DedupeError(_broken_pool(chunk)) from None
                for entry, outcome in zip(chunk, outcomes, strict=True):
                    yield entry, outcome
                progress.advance(len(chunk))
                submit_next()
    finally:
        shut_down(pool)


def shut_down(pool: futures.Executor, tries: int = 200) -> None:
    """Shut a pool down, waiting for its workers. A Ctrl-C that lands while the pool starts
    its manager thread (in its first submit) leaves a thread that has not run yet, and
    CPython's shutdown then raises "cannot join thread before it is started" instead of
    letting the interrupt through: wait for the thread (tries x 10 ms), then stop waiting."""
    for _ in range(tries):
        try:
            pool.shutdown(wait=True)
            return
        except RuntimeError:
            time.sleep(0.01)
    pool.shutdown(wait=False, cancel_futures=True)


def _broken_pool(chunk: list[FileEntry]) -> str:
    """Why the scan stops when a decoding worker process ended abruptly (nothing is cached for
    the files it had, so the next scan reads them again)."""
    shown = ", ".join(e.path for e in chunk[:3]) + (
        f" and {len(chunk) - 3} more" if len(chunk) > 3 else ""
    )
    return (
        "a worker process decoding images stopped abruptly (killed by the system, perhaps out "
        f"of memory, or crashed in an image library) while it read {shown}; no report was "
        'written. From a Python script, call dedupe under `if __name__ == "__main__":` '
        "(each worker process imports the script again)"
    )


class _Links:
    """Collapse hard links while the walk streams by: one entry per (device, inode), the first
    path by walk order; the other names are its links. Only files with several names are
    remembered, so a library of ordinary files costs nothing here."""

    def __init__(self) -> None:
        self.first: dict[tuple[int, int], str] = {}
        self.others: dict[str, list[str]] = {}
        self.files = 0

    def unique(
        self, items: Iterable[FileEntry | Problem], errors: list[Problem]
    ) -> Iterator[FileEntry]:
        for item in items:
            if isinstance(item, Problem):
                errors.append(item)
                continue
            self.files += 1
            if item.nlink > 1:
                key = (item.dev, item.ino)
                first = self.first.get(key)
                if first is not None:
                    self.others.setdefault(first, []).append(item.path)
                    continue
                self.first[key] = item.path
            yield item

    def of(self) -> dict[str, tuple[str, ...]]:
        return {path: tuple(others) for path, others in self.others.items()}


class _Sidecars:
    """Leave the sidecars (by name, companions.py) out of what is hashed, counting them: they
    travel with their images and are never duplicates themselves."""

    def __init__(self) -> None:
        self.count = 0

    def leave_out(self, entries: Iterable[FileEntry]) -> Iterator[FileEntry]:
        for entry in entries:
            if companions.is_sidecar(entry.path):
                self.count += 1
            else:
                yield entry


def scan(
    roots: Iterable[str],
    settings: Settings,
    cache: HashCache,
    *,
    jobs: int = 1,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
    while_hashing: Callable[[int], object] | None = None,
    selection: Selection | None = None,
    passed: Callable[[str, str], None] | None = None,
    pictures: looks.Pictures | None = None,
) -> ScanResult:
    """Scan `roots` (absolute paths) and fingerprint every image. Nothing under roots is written.

    `pictures` keeps the decodes the geometric check can use instead of decoding the files
    again (looks.Looks; within its memory budget).

    `selection` leaves files and folders out (see filters.py; nothing when None): the result
    counts them by reason, and `passed(reason, path)` hears of each as the walk meets it.

    The walk streams through the cache lookups: an unchanged file's fingerprint joins the
    result's columns as soon as it is found, and only the misses are kept for the pool. The
    result's records are an ImageColumns (imagecols.py): every image's values a column at a
    time, a record built for each one read. `while_hashing` runs on a thread of
    its own while the pool decodes (only when there is something to decode), with the number
    of images the scan may return, e.g. to prepare the next stage; what it returns or raises
    is ignored.
    """
    progress = progress or NoProgress()
    roots_t = tuple(roots)
    errors: list[Problem] = []
    skipped: list[Problem] = []
    links = _Links()
    sidecars = _Sidecars()
    gathered = Gathering(settings.hash_size)
    misses: list[FileEntry] = []
    from_cache = 0
    file_errors = 0
    passed_over: Counter[str] = Counter()

    def pass_over(reason: str, path: str) -> None:
        passed_over[reason] += 1
        if passed is not None:
            passed(reason, path)

    progress.start("Finding files", None)
    walked = sidecars.leave_out(
        links.unique(
            walk(roots_t, follow_symlinks=follow_symlinks, selection=selection, passed=pass_over),
            errors,
        )
    )
    found = 0
    # A scan creates about ten container objects per image and no reference cycles: at 100k
    # images the collector's full passes over them cost about a quarter of a warm rescan's CPU.
    with collector_paused():
        for found, (entry, cached) in enumerate(cache.lookup(walked), start=1):
            if not found % 64:  # a live count, without a redraw request per file
                progress.advance(64)
            if cached is None:
                misses.append(entry)
            elif cached.kind == KIND_IMAGE and cached.fingerprint is not None:
                gathered.add(entry, cached.fingerprint)
                from_cache += 1
            elif cached.kind == KIND_ERROR:
                errors.append(Problem(entry.path, cached.reason))
                file_errors += 1
    progress.advance(found % 64)

    progress.start("Hashing images", len(misses))
    if while_hashing is not None and misses:
        helper = futures.ThreadPoolExecutor(max_workers=1)
        helper.submit(while_hashing, len(gathered) + len(misses))
        helper.shutdown(wait=False)
    hashed = 0
    for entry, outcome in _run(misses, settings, jobs, progress, pictures is not None):
        if isinstance(outcome, Hashed):
            current = FileEntry(
                entry.path, outcome.size, outcome.mtime_ns, entry.dev, entry.ino, entry.nlink
            )
            gathered.add(current, outcome.fingerprint)
            if pictures is not None and outcome.picture is not None:
                pictures.put(entry.path, outcome.picture)
            cache.put(current, outcome.fingerprint)
            hashed += 1
        elif isinstance(outcome, Failed):
            (skipped if outcome.skipped else errors).append(Problem(entry.path, outcome.reason))
            if not outcome.skipped:
                file_errors += 1
                if not outcome.transient:
                    cache.put(entry, outcome.reason)
        else:
            cache.put(entry, None)
    del misses
    cache.commit()

    linked = links.of()
    records = gathered.finish(linked)  # sorted by path
    del gathered
    errors.sort(key=lambda p: os.fsencode(p.path))
    skipped.sort(key=lambda p: os.fsencode(p.path))
    stats = ScanStats(
        files=links.files,
        images=len(records) + file_errors,
        hashed=hashed,
        from_cache=from_cache,
        errors=len(errors),
        skipped=len(skipped),
        hardlinks=sum(len(v) for v in linked.values()),
        sidecars=sidecars.count,
    )
    return ScanResult(
        roots_t,
        settings,
        records,
        tuple(errors),
        tuple(skipped),
        stats,
        tuple(sorted(passed_over.items())),
    )
