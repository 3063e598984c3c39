"""The Python API: scan folders for duplicates, hash and compare images, regroup a report, plan
an apply, act on it and undo it. The command line makes exactly these calls (dedupe/cli/ only
parses arguments, calls them, formats what they return and maps their errors to exit codes).

`import dedupe` re-exports every name here lazily (see dedupe/__init__.py). The core never
prints: progress goes to the `progress` object a caller passes (`start(description, total)`,
`advance(count)`; see scan.Progress), problems that do not stop the work to `warn(message)`
(by default `warnings.warn` with DedupeWarning), and errors are DedupeErrors (errors.py).

The heavy stages (grouping, reports, apply) are imported inside the functions that use them, so
that `dedupe hash` loads none of them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Union

from dedupe import filters, inputs
from dedupe import scan as scan_mod
from dedupe.errors import DedupeWarning, ImageError, Refused, UsageError
from dedupe.models import FileFacts, ImageRecord, KeepRules, ScanResult, Selection, Settings
from dedupe.scan import Failed, NoProgress, Progress

if TYPE_CHECKING:
    from dedupe.apply import ApplyResult, Found, Kind, Plan, Session, UndoResult
    from dedupe.cache import HashCache
    from dedupe.cluster import Clusters, PairCheck
    from dedupe.html_report import Written
    from dedupe.journal import State
    from dedupe.linking import LinkKind
    from dedupe.looks import Looks, Pictures
    from dedupe.regroup import Changes
    from dedupe.report import Report

# Where hashes are cached: True for the default file (README "The hash cache"), a path for
# another file, False for none (everything is hashed again, nothing is written).
CacheChoice = Union[str, "os.PathLike[str]", bool]
Warn = Callable[[str], None]
Passed = Callable[[str, str], None]
Paths = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]


def _warner(warn: Warn | None) -> Warn:
    """`warn`, or a function giving the message to Python's warnings as a DedupeWarning; either
    hears each message once per call of the API (a scan opens the hash cache for each of its
    phases, and one that cannot be opened would say so each time)."""
    said: set[str] = set()

    def once(message: str) -> None:
        if message in said:
            return
        said.add(message)
        if warn is not None:
            warn(message)
        else:
            warnings.warn(message, DedupeWarning, stacklevel=_outside_dedupe())

    return once


def _outside_dedupe() -> int:
    """The `stacklevel` of the first frame outside this package (the caller's line, whichever
    API function and how deep inside it the warning was heard)."""
    frame, level = sys._getframe(1), 1  # the frame that calls warnings.warn is level 1
    while (
        frame.f_back is not None
        and frame.f_globals.get("__name__", "").partition(".")[0] == (__name__.partition(".")[0])
    ):
        frame, level = frame.f_back, level + 1
    return level


def _paths(roots: Paths) -> list[str | os.PathLike[str]]:
    """One path or many, as a list (a str is one path, not its characters)."""
    if isinstance(roots, (str, os.PathLike)):
        return [roots]
    return list(roots)


def _pairs(pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    """Path pairs as the stages compare them: each pair sorted."""
    return frozenset((min(a, b), max(a, b)) for a, b in pairs)


# ---------------------------------------------------------------- scanning


def open_cache(cache: CacheChoice, settings: Settings, warn: Warn | None = None) -> HashCache:
    """The hash cache `cache` names, for `settings`. One that cannot be opened is not fatal: the
    work goes on without it (a warning says so), as it does when the cache says it was rebuilt."""
    from dedupe.cache import HashCache, default_path

    say = _warner(warn)
    if cache is False:
        return HashCache.memory(settings)
    path = default_path() if cache is True else Path(cache)
    try:
        opened = HashCache.open(path, settings)
    except OSError as error:
        say(f"cannot use the hash cache at {path} ({error}); scanning without it")
        return HashCache.memory(settings)
    if opened.warning:
        say(opened.warning)
    return opened


def _scan(
    roots: tuple[str, ...],
    settings: Settings,
    selection: Selection,
    cache: CacheChoice,
    jobs: int | None,
    follow_symlinks: bool,
    progress: Progress,
    warn: Warn,
    passed: Passed | None,
    *,
    grouping: bool = False,
    pictures: Pictures | None = None,
) -> ScanResult:
    """Fingerprint every image under `roots` through the cache. With `grouping` (the caller
    groups next) the grouping code is loaded while the workers decode; `pictures` keeps the
    decodes the geometric check can use (scan.scan)."""
    store = open_cache(cache, settings, warn)
    try:
        result = scan_mod.scan(
            roots,
            settings,
            store,
            jobs=jobs or os.cpu_count() or 1,
            follow_symlinks=follow_symlinks,
            progress=progress,
            while_hashing=_warm_up_grouping if grouping else None,
            selection=selection,
            passed=passed,
            pictures=pictures,
        )
    finally:
        store.close()
    if store.warning:
        warn(store.warning)
    return result


def _warm_up_grouping(images: int) -> None:
    from dedupe import cluster

    if cluster.compiles(images):  # a smaller library is grouped without the compiled kernels
        cluster.warm_up()


def _clusters(
    cache: CacheChoice,
    settings: Settings,
    records: Sequence[ImageRecord],
    distinct: frozenset[tuple[str, str]],
    progress: Progress,
    warn: Warn,
    look: Looks | None = None,
) -> Clusters:
    """cluster.cluster's result for the records, taken from the hash cache's memo when nothing
    it depends on changed since an earlier scan (a warm rescan of an unchanged tree verifies no
    pair again), else computed and remembered (not when `look` could not read some pictures
    again: that grouping is short of their geometric checks); the geometric and content
    checks of pairs an earlier scan checked are taken from the cache too (looks.Looks.recall:
    by both files' SHA-256, so a file added or a setting changed checks only the new pairs).
    Each phase is shown: loading the
    compiled kernels (compiled on their first use ever, which takes about a minute), then
    grouping."""
    from dedupe import cluster  # the grouping code (numba): only for calls that group

    key = cluster.inputs_digest(records, settings, distinct)
    store = open_cache(cache, settings, warn)
    try:
        text = store.get_memo(key)
        found = cluster.Clusters.from_json(text, len(records)) if text is not None else None
        if found is None:
            if cluster.compiles(len(records)):
                # Usually loaded already, beside the decoding; a rescan that decoded nothing,
                # or a first run that compiles the kernels, waits for them here.
                progress.start("Loading the grouping code (compiled on first use)", None)
                cluster.warm_up()
            progress.start(
                f"Grouping {len(records):,} image{'' if len(records) == 1 else 's'}", None
            )
            if look is not None:  # what the checks found of pairs, kept for the next scan
                look.remember_in(store)
            try:
                found = cluster.cluster(records, settings, distinct=distinct, look=look)
            finally:
                if look is not None:
                    look.remember_in(None)
            if look is None or not look.missed:  # not a grouping short of some pictures
                store.put_memo(key, found.to_json())
    finally:
        store.close()
    if store.warning:
        warn(store.warning)
    return found


def _facts(
    cache: CacheChoice,
    settings: Settings,
    grouped: Sequence[ImageRecord],
    every: Sequence[ImageRecord],
    progress: Progress,
    warn: Warn,
) -> dict[str, FileFacts]:
    """What the grouped images carry (metadata.gather: companions, twins, capture metadata),
    read through the hash cache."""
    from dedupe import metadata

    if not grouped:
        return {}
    store = open_cache(cache, settings, warn)
    try:
        return metadata.gather(grouped, every, store, progress)
    finally:
        store.close()
        if store.warning:
            warn(store.warning)


def scan_folders(
    roots: Paths,
    *,
    settings: Settings | None = None,
    keep: KeepRules | None = None,
    selection: Selection | None = None,
    cache: CacheChoice = True,
    jobs: int | None = None,
    follow_symlinks: bool = False,
    not_duplicates: Iterable[tuple[str, str]] = (),
    progress: Progress | None = None,
    warn: Warn | None = None,
    passed: Passed | None = None,
) -> Report:
    """Scan folders for duplicate photos, as `dedupe scan` does, and return the report (not
    written anywhere: see write_report). Nothing under `roots` is written.

    `roots`: a folder or several (`~` is not expanded: Path.home() / "Pictures"). `settings`:
    hash algorithm, hash size, threshold, rotations (default: the scan defaults). `keep`: the
    keep rules (their folders must exist inside a scanned folder). `selection`: what the walk
    leaves out (default: hidden files, trash, thumbnail caches). `cache`: True for the default
    hash cache, a path for another, False for none. `jobs`: worker processes for decoding
    (default: all cores). `not_duplicates`: path pairs never grouped (`dedupe review` saves
    them: dedupe.review.marks.load().pairs).
    `passed(reason, path)` hears of every file or folder the walk passes over.

    Raises UsageError for a folder that does not exist (or is not one), a keep folder outside
    the scanned folders, a bad pattern. A file that cannot be read is not an error: it is in
    `report.errors` (or `report.skipped`) with its reason.
    """
    from dedupe import report as report_mod
    from dedupe.groups import build_groups, check_invariants
    from dedupe.imagecols import paths_of
    from dedupe.looks import Looks, Pictures
    from dedupe.review import marks

    folders = inputs.folders(_paths(roots))
    settings = settings or Settings()
    rules = inputs.keep_rules(keep or KeepRules(), folders)
    chosen = inputs.selection(selection or Selection())
    distinct = _pairs(not_duplicates)
    progress = progress or NoProgress()
    say = _warner(warn)
    pictures = Pictures()  # the decodes the geometric check can use instead of decoding again
    result = _scan(
        folders,
        settings,
        chosen,
        cache,
        jobs,
        follow_symlinks,
        progress,
        say,
        passed,
        grouping=True,
        pictures=pictures,
    )
    look = Looks(result.records, pictures)  # the files it needs are read again (and checked)
    found = _clusters(cache, settings, result.records, distinct, progress, say, look)
    grouped = [result.records[k] for indices in found.groups for k in indices]
    facts = _facts(cache, settings, grouped, result.records, progress, say)
    groups = build_groups(
        result.records,
        settings,
        rules,
        distinct=distinct,
        clusters=found,
        facts=facts,
        look=look,
    )
    check_invariants(groups)
    kept = {m.record.path for g in groups for m in g.members}
    return report_mod.from_scan(
        result,
        rules,
        groups,
        marks.among(distinct, paths_of(result.records)),
        found.checked,
        facts={path: f for path, f in facts.items() if path in kept},
    )


# ---------------------------------------------------------------- one image, two images


def hash_file(path: str | os.PathLike[str], *, settings: Settings | None = None) -> ImageRecord:
    """One image file fingerprinted as a scan does (a symbolic link is followed): its record,
    with its hash (`record.hash`, an ImageHash: `a.hash - b.hash` is the Hamming distance,
    `str(h)` the hex), size, modification time, picture size and format (`record.fingerprint`).

    Raises UsageError for a path that does not exist, is a folder or is not a regular file,
    ImageError for a file that cannot be read or is not an image (with the reason).
    """
    named = os.fspath(path)
    settings = settings or Settings()
    try:
        info = os.stat(named)
    except FileNotFoundError:
        raise UsageError(
            f"{named}: no such file"
            + (" (a broken symbolic link)" if os.path.islink(named) else "")
        ) from None
    except OSError as error:
        raise ImageError(f"{named}: cannot read: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{named}: is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{named}: not a file (a device, FIFO or socket): not read")
    outcome = scan_mod.fingerprint_file(named, settings, follow_symlinks=True)
    if outcome is None:
        raise ImageError(f"{named}: not an image")
    if isinstance(outcome, Failed):
        raise ImageError(f"{named}: {outcome.reason}")
    return ImageRecord(named, outcome.size, outcome.mtime_ns, 0, 0, outcome.fingerprint)


@dataclass(frozen=True, slots=True)
class HashDistance:
    """How far apart two images' hashes are under one algorithm and hash size."""

    algorithm: str
    bits: int
    distance: int  # differing bits, B as it is
    rotations_distance: int  # the fewest differing bits over B's 8 orientations

    @property
    def rate(self) -> float:
        """differing bits / total bits (what --threshold bounds)"""
        return self.distance / self.bits

    @property
    def rotations_rate(self) -> float:
        return self.rotations_distance / self.bits


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two images compared as `dedupe compare` shows them: the distance under every algorithm
    and hash size, and the pair's check under `settings` without and with rotations (`grouped`,
    `shots`, `verified`, `kind`, `covered`, ... of cluster.PairCheck)."""

    a: ImageRecord  # hashed under `settings`
    b: ImageRecord
    settings: Settings
    hashes: tuple[HashDistance, ...]
    plain: PairCheck
    rotations: PairCheck

    @property
    def grouped(self) -> bool:
        """Whether a scan with `settings` would group the two as copies (exact or similar)."""
        check = self.rotations if self.settings.rotations else self.plain
        return check.exact or check.grouped


def compare_files(
    a: str | os.PathLike[str], b: str | os.PathLike[str], *, settings: Settings | None = None
) -> Comparison:
    """Compare two image files (`dedupe compare A B`): their hash distances under every
    algorithm and hash size, and whether a scan with `settings` (default: the scan defaults)
    would group them. Raises as hash_file does."""
    from dedupe import hashing
    from dedupe.cluster import check_pair
    from dedupe.looks import Looks

    settings = settings or Settings()
    hashes: list[HashDistance] = []
    current: dict[bool, PairCheck] = {}
    records: tuple[ImageRecord, ImageRecord] | None = None
    for algorithm in hashing.ALGORITHMS:
        for size in hashing.HASH_SIZES:
            plain = Settings(algorithm, size, settings.threshold, False)
            first, second = hash_file(a, settings=plain), hash_file(b, settings=plain)
            hashes.append(
                HashDistance(
                    algorithm,
                    size * size,
                    first.hash - second.hash,
                    min(
                        [first.hash - second.hash]
                        + [first.hash - v for v in second.fingerprint.variants]
                    ),
                )
            )
            if (algorithm, size) == (settings.algorithm, settings.hash_size):
                records = (first, second)
                look = Looks([first, second])  # the geometric check looks again if it must
                for rotations in (False, True):
                    current[rotations] = check_pair(
                        first,
                        second,
                        Settings(algorithm, size, settings.threshold, rotations),
                        look,
                    )
    assert records is not None
    return Comparison(
        records[0], records[1], settings, tuple(hashes), current[False], current[True]
    )


@dataclass(frozen=True, slots=True)
class Similar:
    """One image ranked by its distance to the query (`rank_similar`)."""

    path: str
    distance: int
    rate: float  # distance / total bits


def rank_similar(
    query: str | os.PathLike[str] | ImageRecord,
    roots: Paths,
    *,
    settings: Settings | None = None,
    limit: int | None = None,
    selection: Selection | None = None,
    cache: CacheChoice = True,
    jobs: int | None = None,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
    warn: Warn | None = None,
    passed: Passed | None = None,
) -> tuple[Similar, ...]:
    """The images under `roots` ranked by their distance to `query` (an image file, or a record
    from hash_file), closest first, as `dedupe similar` prints them: those within the threshold
    of `settings` (default: every image), at most `limit`. The other keywords are scan_folders'.
    """
    folders = inputs.folders(_paths(roots))
    settings = settings or Settings(threshold=1.0)
    record = query if isinstance(query, ImageRecord) else hash_file(query, settings=settings)
    chosen = inputs.selection(selection or Selection())
    result = _scan(
        folders,
        settings,
        chosen,
        cache,
        jobs,
        follow_symlinks,
        progress or NoProgress(),
        _warner(warn),
        passed,
    )
    from dedupe.cluster import pair_distance
    from dedupe.imagecols import one_by_one

    ranked = sorted(
        ((pair_distance(record, r, settings), r.path) for r in one_by_one(result.records)),
        key=lambda item: (item[0], item[1]),
    )
    found: list[Similar] = []
    for distance, path in ranked:
        rate = distance / settings.bits
        if rate > settings.threshold:
            break
        found.append(Similar(path, distance, rate))
        if limit and len(found) >= limit:
            break
    return tuple(found)


# ---------------------------------------------------------------- reports


def read_report(
    path: str | os.PathLike[str], *, to_regroup: bool = False, threshold: float | None = None
) -> Report:
    """The report at `path`, every field checked before it is used; ReportError says what is
    wrong with one that cannot be used.

    The report's `groups` (each a Group of Members: `record`, `action`, `reason`), `errors`
    and `skipped` (Problems: `path`, `reason`), `roots`, `settings`, `keep`, `stats`: the
    JSON alone, enough for make_plan and write_html. `to_regroup`: a regroup_report follows,
    so every image the scan hashed (`report.images`) and the pairs its check accepted are read
    too, from the index beside the report (README "The report"), after checking that it is
    this report's own (IndexProblem, a DedupeError, says why not: missing, damaged, another
    scan's), while the grouping's compiled code loads. Without it, `report.images` holds the
    grouped files alone (`report.complete` is False; regroup_report then reads the index
    itself, with the same checks). `threshold`: the one regroup_report will be given, if
    known (the compiled code is loaded only for a regroup that searches again)."""
    from dedupe import regroup
    from dedupe import report as report_mod

    named = os.fspath(path)
    return regroup.read_to_regroup(named, threshold) if to_regroup else report_mod.read(named)


def write_report(report: Report, path: str | os.PathLike[str]) -> None:
    """Write `report` to `path` atomically (a reader sees the old report or the new one, never
    part of one), with its index beside it (`<name>.<id>.index`: every image and the checked
    pairs; kept when only decisions changed, see README "The report"). Raises OSError when
    either cannot be written."""
    from dedupe import report as report_mod

    report_mod.write(report, os.fspath(path))


def write_html(
    report: Report, path: str | os.PathLike[str], *, progress: Progress | None = None
) -> Written:
    """The report as static HTML pages to look at in a browser (`dedupe report --html`): every
    group with thumbnails inline, the kept copy marked, distances and reasons, the files the
    scan could not use; more than 100 groups are split into pages beside `path`. Returns the
    pages written (`pages`), how many files they show (`files`) and how many of those had no
    picture to show (`missing`: moved or unreadable). Raises OSError."""
    from dedupe import html_report

    return html_report.write(report, Path(path), progress=progress)


@dataclass(frozen=True, slots=True)
class Regrouped:
    """A report regrouped (`regroup_report`) and how its groups changed (`changes.describe()`:
    "12 groups (was 10): 8 unchanged, 2 new, ...")."""

    report: Report
    changes: Changes


def regroup_report(
    report: Report,
    *,
    threshold: float | None = None,
    keep: KeepRules | None = None,
    not_duplicates: Iterable[tuple[str, str]] = (),
    cache: CacheChoice = True,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> Regrouped:
    """`report` regrouped at `threshold` from its stored hashes, no image decoded, as `dedupe
    review --threshold` does: candidates checked as a scan checks them (or taken from the
    pairs the scan checked, when the threshold is not looser than the scan's), a reviewed group
    whose files are the same keeping its decisions, new groups proposed by `keep` (default: the
    report's rules). With no `threshold`, the groups stay as they are and only the groups not
    yet reviewed get fresh proposals from `keep`. Nothing is written.

    `not_duplicates`: path pairs never grouped, besides those the report holds. The files of new
    groups are read for what they carry (sidecars, metadata) through `cache`. Raises UsageError
    for a keep folder that is not in the report's scanned folders.
    """
    from dedupe import regroup
    from dedupe import report as report_mod
    from dedupe.looks import Looks

    rules = None if keep is None else inputs.keep_rules(keep, report.roots, known=report.keep)
    if not report.complete and (threshold is not None or (rules not in (None, report.keep))):
        report = report_mod.completed(report)  # every image, from the index (IndexProblem)
    if threshold is None:
        if rules is None or rules == report.keep:
            return Regrouped(report, regroup.compare(report.groups, report.groups))
        changed = regroup.repropose(report, rules, Looks(report.images))
        return Regrouped(changed, regroup.compare(report.groups, changed.groups))
    return _regroup_at(
        report, threshold, rules, _pairs(not_duplicates), cache, progress or NoProgress(),
        _warner(warn),
    )  # fmt: skip


def _regroup_at(
    report: Report,
    threshold: float,
    rules: KeepRules | None,
    distinct: frozenset[tuple[str, str]],
    cache: CacheChoice,
    progress: Progress,
    say: Warn,
) -> Regrouped:
    """regroup_report at `threshold` of a complete report (every image, from its index)."""
    from dedupe import regroup
    from dedupe.looks import Looks

    progress.start(_regrouping_words(report), None)
    look = Looks(report.images)  # for pairs the report's search did not check
    regrouped, changes = regroup.regroup(
        report,
        threshold=threshold,
        rules=rules,
        distinct=distinct,
        facts_for=_facts_reader(report, cache, progress, say),
        look=look,
    )
    if look.missed:
        say(
            f"{look.missed:,} image{' was' if look.missed == 1 else 's were'} not readable "
            "as scanned (changed, moved or gone): their pairs that only the geometric "
            "check could settle are not grouped; scan again to check them"
        )
    return Regrouped(regrouped, changes)


def _regrouping_words(report: Report) -> str:
    n = len(report.images)
    return f"Regrouping {n:,} image{'' if n == 1 else 's'}"


def _facts_reader(
    report: Report, cache: CacheChoice, progress: Progress, say: Warn
) -> Callable[[Sequence[ImageRecord]], Mapping[str, FileFacts]]:
    """What a regroup reads of the files of its new groups (regroup.regroup's facts_for)."""
    images = report.images

    def facts_for(records: Sequence[ImageRecord]) -> Mapping[str, FileFacts]:
        return _facts(cache, report.settings, records, images, progress, say)

    return facts_for


class Regrouping:
    """A regroup begun by start_regroup: its first groups at once, the whole of it on a
    thread.

    `first`: the report at the new threshold holding the first groups alone (about 60, or
    every group when `every`), the same groups, with the same ids and proposals, that the
    whole regroup begins with; for showing them, never for writing. `finish()` waits for the
    whole regroup and returns it, as regroup_report would have, or raises what it raised; the
    warnings it heard go to the `warn` of start_regroup then, on the thread that calls
    finish()."""

    def __init__(
        self,
        first: Report,
        every: bool,
        work: Callable[[Warn], Regrouped] | None,
        warn: Warn,
        *,
        result: Regrouped | None = None,
    ) -> None:
        """`work(warn)` computes the whole regroup (on the thread); `result`: it is known."""
        self.first = first
        self.every = every
        self._work = work
        self._warn = warn
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ended = threading.Event()
        self._result = result
        self._error: BaseException | None = None
        self._heard: list[str] = []
        self._callbacks: list[Callable[[], None]] = []
        if result is not None:
            self._ended.set()

    def start(self) -> None:
        """Begin the whole regroup on its thread, if not begun (start_regroup begins it
        unless told not to)."""
        with self._lock:
            if self._thread is not None or self._ended.is_set():
                return
            # A daemon thread: a program that ends before the regroup does not wait for it.
            self._thread = threading.Thread(target=self._run, name="dedupe-regroup", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._work is not None
        try:
            self._result = self._work(self._heard.append)
        # Whatever it is (a DedupeError, or a bug), it is raised again by finish(), on the
        # caller's side, with its traceback: nothing of it is lost here.
        except BaseException as error:  # noqa: BLE001
            self._error = error
        finally:
            with self._lock:
                self._ended.set()
                callbacks, self._callbacks = self._callbacks, []
            for callback in callbacks:
                callback()

    @property
    def done(self) -> bool:
        """Whether the whole regroup has ended (finish() returns or raises at once)."""
        return self._ended.is_set()

    def when_done(self, callback: Callable[[], None]) -> None:
        """Have `callback()` called once the whole regroup has ended: on its thread, or here
        and now if it has."""
        with self._lock:
            if not self._ended.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def finish(self) -> Regrouped:
        """The whole regroup (begun now if it was not), once it has ended. Raises what the
        regroup raised, or regroup.ChangedOnDisk (a DedupeError naming the file) when a file
        changed on disk while it ran so that it does not begin with `first`."""
        self.start()
        self._ended.wait()
        heard, self._heard = self._heard, []
        for message in heard:
            self._warn(message)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        self._same_first_groups(self._result)
        return self._result

    def _same_first_groups(self, whole: Regrouped) -> None:
        """Raise regroup.ChangedOnDisk when the whole regroup does not begin with `first`
        because a file changed on disk between their reads (and not by a fault of dedupe's:
        then the caller sees that the groups differ)."""
        from dedupe import regroup

        shown = self.first.groups
        if whole.report.groups[: len(shown)] == shown:
            return
        changed = regroup.changed_on_disk(self.first, whole.report)
        if changed is not None:
            raise regroup.ChangedOnDisk(
                f"{changed}, after the groups shown first were read, so they are not the "
                "regroup's; your files and the report are as they were: run `dedupe scan` "
                "again, then review"
            )


def start_regroup(
    report: Report,
    *,
    threshold: float,
    keep: KeepRules | None = None,
    not_duplicates: Iterable[tuple[str, str]] = (),
    cache: CacheChoice = True,
    progress: Progress | None = None,
    warn: Warn | None = None,
    start: bool = True,
    count: int | None = None,
) -> Regrouping:
    """regroup_report(report, threshold=threshold, ...) begun: its first groups found now,
    in a fraction of the time (`dedupe review --threshold` shows them while the rest is
    regrouped), the whole regroup on a thread: `.first`, `.finish()` (see Regrouping).
    Arguments as for regroup_report. When the regroup searches again (`threshold` looser than
    the pairs the report's scan checked), there is no short way: the whole regroup is done
    here, and `first` holds every group. `start=False`: the thread begins at the first call of
    start() or finish() (say, once a screen is drawn: it shares the interpreter's time).
    `count`: how many first groups at least (default: regroup.FIRST_GROUPS, 60).

    Raises as regroup_report does, for what it checks first and for the first groups; the
    rest of the regroup raises in finish()."""
    from dedupe import regroup
    from dedupe import report as report_mod
    from dedupe.looks import Looks

    rules = None if keep is None else inputs.keep_rules(keep, report.roots, known=report.keep)
    if not report.complete:
        report = report_mod.completed(report)  # every image, from the index (IndexProblem)
    progress = progress or NoProgress()
    say = _warner(warn)
    distinct = _pairs(not_duplicates)
    progress.start(_regrouping_words(report), None)
    first = regroup.first_groups(
        report,
        threshold=threshold,
        rules=rules,
        distinct=distinct,
        facts_for=_facts_reader(report, cache, progress, say),
        look_for=Looks,
        count=regroup.FIRST_GROUPS if count is None else count,
    )
    if first is None:
        whole = _regroup_at(report, threshold, rules, distinct, cache, progress, say)
        return Regrouping(whole.report, True, None, say, result=whole)

    def work(heard: Warn) -> Regrouped:
        return _regroup_at(report, threshold, rules, distinct, cache, NoProgress(), heard)

    regrouping = Regrouping(first.report, first.every, work, say)
    if start:
        regrouping.start()
    return regrouping


# ---------------------------------------------------------------- apply and undo


def make_plan(
    report: Report | str | os.PathLike[str],
    action: Kind | None = None,
    *,
    report_path: str | os.PathLike[str] | None = None,
    move_to: str | os.PathLike[str] | None = None,
    link: LinkKind | None = None,
    allow_root: bool = False,
) -> Plan:
    """What an apply of the report would do: the files marked trash, unit by unit (an image
    with its sidecars), in report order (`plan.groups`, `plan.files`, `plan.bytes`). Nothing
    is touched.

    `report`: a report file, or a Report read from `report_path` (apply locks that file and
    names it in its journal). `action`: "trash", "move" (to `move_to`, keeping each file's
    path below its scanned folder), "link" (`link`: "hard", "symlink" or "reflink"), or None
    for a plan that can only be previewed. Raises ReportError for a report that cannot be read,
    Refused for one that must not be applied (a path outside the scanned folders, a group
    that marks every file trash, ...; see README "Safety").
    """
    from dedupe import apply

    if action not in (None, "trash", "move", "link"):  # (else a KeyError deep in the apply)
        raise UsageError(f"make_plan: unknown action {action!r} (choose from trash, move, link)")
    if isinstance(report, (str, os.PathLike)):
        report_path = report if report_path is None else report_path
        report = read_report(report)
    elif report_path is None:
        raise UsageError("make_plan: a Report needs its report_path (the file it was read from)")
    return apply.build_plan(
        report,
        os.fspath(report_path),
        action,
        None if move_to is None else os.fspath(move_to),
        allow_root=allow_root,
        link=link,
    )


class Applying:
    """An apply under way (made by start_apply): the report and every drive the plan touches
    locked, its journal open, a new one or the report's interrupted one resumed (`resumed`,
    with what resuming found in `notes`). `run()` acts; `close()`, or the end of a `with`
    block, releases the locks."""

    def __init__(self, plan: Plan, session: Session) -> None:
        self.plan = plan
        self.session = session

    @property
    def resumed(self) -> bool:
        return self.session.resumed

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self.session.notes)

    @property
    def journal(self) -> Path:
        return self.session.path

    def run(self, progress: Progress | None = None) -> ApplyResult:
        """Check every file again and act on the plan, each action journaled (see apply_plan).
        Raises OSError as soon as the journal cannot be written."""
        from dedupe import apply

        return apply.execute(self.plan, self.session, progress)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Applying:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def start_apply(
    plan: Plan, *, journal: str | os.PathLike[str] | None = None, warn: Warn | None = None
) -> Applying:
    """Lock the report and every drive the plan touches and open its journal (`journal`, or a
    new one in the journals folder; the report's interrupted apply is resumed). A --move
    target is marked so that later scans pass over it. Raises Refused when another apply or
    undo is at work there or the journal does not fit, OSError when it cannot be written."""
    from dedupe import apply

    session = apply.open_session(plan, None if journal is None else os.fspath(journal))
    try:
        if plan.kind == "move" and plan.move_to:
            _mark_move_target(plan.move_to, _warner(warn))
    except BaseException:
        session.close()
        raise
    return Applying(plan, session)


def _mark_move_target(directory: str, warn: Warn) -> None:
    """Mark the --move target so that later scans pass over the moved files (filters.py); a
    target that cannot take the marker only costs that (a warning)."""
    try:
        filters.mark_move_target(directory)
    except OSError as error:
        warn(
            f"could not mark {directory} as a dedupe --move target ({error}): scans will "
            "look inside it"
        )


def apply_plan(
    plan: Plan,
    *,
    dry_run: bool = False,
    journal: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    warn: Warn | None = None,
) -> ApplyResult:
    """Act on the plan as `dedupe apply` does: every kept copy and every file to remove checked
    again right before (a group whose kept copy changed is left alone, a changed file is
    skipped with its reason), then trashed, moved or linked, each action journaled so that
    undo_apply can put it back. `dry_run`: make every check and act on nothing (what would be
    done is in `result.done`). A Ctrl-C between two actions stops cleanly
    (`result.interrupted`).

    Raises Refused (nothing done) as start_apply does, OSError when the journal cannot be
    written (every action so far is recorded; the same call again resumes).
    """
    from dedupe import apply
    from dedupe import journal as journals
    from dedupe.apply.check import file_digest

    if dry_run:
        unfinished = journals.unfinished_for(plan.report_path, file_digest(plan.report_path))
        previously = apply.previously_done(unfinished) if unfinished is not None else {}
        return apply.preview(plan, progress, previously=previously)
    with start_apply(plan, journal=journal, warn=warn) as applying:
        return applying.run(progress)


def find_journal(path: str | os.PathLike[str] | None = None) -> Found:
    """The apply undo_apply would undo: the journal at `path`, or the newest apply that has
    something left to undo (`found.state`; the newer ones with nothing to undo, in words, in
    `found.passed_over`). Raises Refused when there is none, or a newer journal is damaged."""
    from dedupe import apply

    return apply.find_journal(None if path is None else os.fspath(path))


def undo_apply(
    journal: Found | State | str | os.PathLike[str] | None = None,
    *,
    progress: Progress | None = None,
) -> UndoResult:
    """Put back every file an apply trashed, moved or linked, at its original path,
    byte-identical, newest first, never over a file that has appeared there since
    (`dedupe undo`). `journal`: the apply to undo (a journal file, or what find_journal found;
    default: the newest apply with something left to undo). An apply with nothing left to
    undo gives an empty result, once the empty folders a killed undo left in its --move folder
    are removed.

    Raises Refused when the journal cannot be read or another apply or undo is at work on its
    drives, OSError when the journal cannot be written (what was put back is recorded; the same
    call again carries on).
    """
    from dedupe import apply
    from dedupe.journal import State

    if isinstance(journal, State):
        state = journal
    elif isinstance(journal, apply.Found):
        state = journal.state
    else:
        state = apply.find_journal(None if journal is None else os.fspath(journal)).state
    if not state.undoable:
        _tidy(state)
        return apply.UndoResult(str(state.path), (), (), ())
    session = apply.open_undo(state)
    try:
        result = apply.undo(state, session, progress)
    finally:
        session.close()
    _unmark_move_target(state.header.get("move_to"))
    return result


def _tidy(state: State) -> None:
    """Every file is back: the --move folders an undo killed before its end left, empty, go
    (under the journal's lock; when another run holds it, they stay for the next undo)."""
    from dedupe import apply

    if not isinstance(state.header.get("move_to"), str):
        return
    try:
        session = apply.open_undo(state)
    except (Refused, OSError):
        return
    try:
        apply.tidy_move_folders(state)
    finally:
        session.close()
    _unmark_move_target(state.header.get("move_to"))


def _unmark_move_target(move_to: object) -> None:
    """An undo that emptied a --move target also takes away the marker apply left there."""
    if isinstance(move_to, str):
        with contextlib.suppress(OSError):
            filters.unmark_move_target(move_to)
