"""Options several commands share, and turning them into library values with clear errors."""

from __future__ import annotations

import argparse
import os
import re
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dedupe import filters, policy
from dedupe.cache import HashCache, default_path
from dedupe.cli.ui import UI, CliError
from dedupe.hashing import ALGORITHMS, HASH_SIZES
from dedupe.looks import Looks
from dedupe.models import (
    BURSTS,
    DEFAULT_ALGORITHM,
    DEFAULT_HASH_SIZE,
    DEFAULT_THRESHOLD,
    TWINS,
    FileFacts,
    ImageRecord,
    KeepRules,
    ScanResult,
    Selection,
    Settings,
)
from dedupe.scan import Failed, Hashed, Progress, fingerprint_file, scan

if TYPE_CHECKING:
    from dedupe.cluster import Clusters


def rate(text: str) -> float:
    """argparse type for --threshold: a rate in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text} is outside [0, 1] (the threshold is a rate: differing bits / total bits)"
        )
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def size(text: str) -> int:
    """argparse type for --min-size/--max-size: bytes, or a number with K, M, G or T (powers
    of 1024, as dedupe shows sizes; KB, KiB, MB... mean the same)."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (bytes, or a number with K, M or G: 200K, 1.5M)"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def add_hash_options(parser: argparse.ArgumentParser, *, threshold: float | None) -> None:
    parser.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default=DEFAULT_ALGORITHM,
        help=f"perceptual hash (default: {DEFAULT_ALGORITHM})",
    )
    parser.add_argument(
        "--hash-size",
        type=int,
        choices=HASH_SIZES,
        default=DEFAULT_HASH_SIZE,
        help=f"N for an N x N bit hash (default: {DEFAULT_HASH_SIZE})",
    )
    parser.add_argument(
        "--threshold",
        type=rate,
        default=threshold,
        metavar="R",
        help="largest rate (differing bits / total bits) that still counts as a match"
        + (f" (default: {threshold})" if threshold is not None else ""),
    )
    parser.add_argument(
        "--rotations",
        action="store_true",
        help="also match mirrored and 90/180/270 degree rotated copies",
    )


def add_scan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="PATH",
        help=f"hash cache file (default: {default_path()})",
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "--jobs",
        "-j",
        type=positive_int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes for decoding (default: all cores)",
    )
    parser.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symbolic links to files and directories (default: skip them)",
    )


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """What to scan: the user's exclusions, and --include-hidden for what is passed by default."""
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out files and folders matching GLOB, a .gitignore pattern matched against "
        "the path relative to DIR (`*.png`, `raw/`, `/Exports`, `**/tmp`; repeatable, later "
        "ones win, `!` brings a file back)",
    )
    parser.add_argument(
        "--min-size",
        type=size,
        default=0,
        metavar="SIZE",
        help="leave out files smaller than SIZE (bytes, or with K, M, G: 20K)",
    )
    parser.add_argument(
        "--max-size", type=size, metavar="SIZE", help="leave out files larger than SIZE"
    )
    parser.add_argument(
        "--max-depth",
        type=positive_int,
        metavar="N",
        help="look at most N levels deep: 1 scans only the files directly in DIR",
    )
    parser.add_argument(
        "--one-file-system",
        action="store_true",
        help="do not enter folders on another file system (another drive, a mount; as find -xdev)",
    )
    parser.add_argument(
        "--include-hidden",
        action="store_true",
        help="also scan hidden files and folders and what is never a photo library (trash, "
        "thumbnail caches, NAS and system metadata folders, dedupe --move targets), which are "
        "passed over by default",
    )


def selection_from(args: argparse.Namespace) -> Selection:
    if args.max_size is not None and args.max_size < args.min_size:
        raise CliError(f"--max-size ({args.max_size:,} bytes) is below --min-size")
    patterns = tuple(args.exclude)
    try:
        filters.check_patterns(patterns)
    except filters.PatternError as error:
        raise CliError(str(error)) from None
    return Selection(
        exclude=patterns,
        min_size=args.min_size,
        max_size=args.max_size,
        max_depth=args.max_depth,
        one_file_system=bool(args.one_file_system),
        passed_by_default=not args.include_hidden,
    )


def add_keep_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep",
        default=",".join(policy.DEFAULT_ORDER),
        metavar="RULES",
        help="ordered rules choosing the copy to keep, from "
        f"{','.join(policy.RULES)} (default: {','.join(policy.DEFAULT_ORDER)})",
    )
    parser.add_argument(
        "--protect",
        action="append",
        default=[],
        metavar="DIR",
        help="never propose trashing anything under DIR; the best copy outside it is kept as "
        "well (repeatable; the folder must exist under a scanned folder)",
    )
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="DIR",
        help="DIR holds the originals: its files are always kept and one of them is the "
        "group's keeper, so every copy outside the reference folders is proposed for trash "
        "(repeatable; unlike --protect, which keeps the best copy outside DIR too)",
    )
    parser.add_argument(
        "--prefer",
        action="append",
        default=[],
        metavar="DIR",
        help="when the rules tie, keep the copy under DIR (repeatable)",
    )
    parser.add_argument(
        "--bursts",
        choices=BURSTS,
        default=None,
        help="similar shots (a burst: pictures that match but were captured at different "
        "times) are grouped but all kept (keep-all, the default); keep-sharpest proposes "
        "all but the sharpest of each set for trash",
    )
    parser.add_argument(
        "--raw-twins",
        choices=TWINS,
        default=None,
        help="a camera RAW and its JPEG/HEIC of the same name in one folder are one capture: "
        "kept (or trashed) together and never duplicates of each other (together, the "
        "default), or the JPEG/HEIC is the duplicate of its RAW (duplicate)",
    )
    parser.add_argument(
        "--lose-sidecars",
        action="store_true",
        default=None,
        help="let a copy that carries sidecars (XMP edits and ratings, Apple .AAE edits, Google "
        "Takeout metadata) or a Live Photo motion part the kept copy lacks go to the trash "
        "with them; by default such a copy is kept too, so no edit is lost",
    )


def keep_folders(paths: Sequence[str], option: str, roots: Sequence[str]) -> tuple[str, ...]:
    """The folders given to --protect, --prefer or --reference, as absolute paths below the
    scanned folders (a folder reached through a symlink is named as it is under its scanned
    folder). A folder that does not exist or is in no scanned folder is a usage error: a
    misspelled path must not leave unprotected what it was meant to protect."""
    found = []
    for path in paths:
        absolute = os.path.abspath(path)
        if not os.path.exists(absolute):
            raise CliError(f"{option} {path}: no such folder")
        if not os.path.isdir(absolute):
            raise CliError(f"{option} {path}: not a folder")
        inside = _inside(absolute, roots)
        if inside is None:
            where = ", ".join(roots)
            raise CliError(
                f"{option} {path}: not in a scanned folder ({where}), so it would match no file"
            )
        found.append(inside)
    return tuple(found)


def _inside(folder: str, roots: Sequence[str]) -> str | None:
    """`folder` named below one of `roots` (also when one of them is reached through a
    symlink), or None when it is in none of them."""
    for root in roots:
        if folder == root or folder.startswith(os.path.join(root, "")):
            return folder
    real = os.path.realpath(folder)
    for root in roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(os.path.join(base, "")):
            return os.path.normpath(os.path.join(root, os.path.relpath(real, base)))
    return None


def settings_from(args: argparse.Namespace) -> Settings:
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    try:
        return Settings(args.algorithm, args.hash_size, threshold, bool(args.rotations))
    except ValueError as error:
        raise CliError(str(error)) from None


def keep_rules_from(args: argparse.Namespace, roots: Sequence[str]) -> KeepRules:
    try:
        order = policy.parse_order(args.keep)
    except ValueError as error:
        raise CliError(str(error)) from None
    return KeepRules(
        order=order,
        protect=keep_folders(args.protect, "--protect", roots),
        prefer=keep_folders(args.prefer, "--prefer", roots),
        reference=keep_folders(args.reference, "--reference", roots),
        twins=args.raw_twins or "together",
        lose_sidecars=bool(args.lose_sidecars),
        bursts=args.bursts or "keep-all",
    )


def open_cache(args: argparse.Namespace, settings: Settings, ui: UI) -> HashCache:
    if args.no_cache:
        return HashCache.memory(settings)
    path = args.cache or default_path()
    try:
        cache = HashCache.open(path, settings)
    except OSError as error:
        ui.warn(f"cannot use the hash cache at {path} ({error}); scanning without it")
        return HashCache.memory(settings)
    if cache.warning:
        ui.warn(cache.warning)
    return cache


def run_scan(
    args: argparse.Namespace,
    roots: tuple[str, ...],
    settings: Settings,
    ui: UI,
    progress: Progress,
    *,
    grouping: bool = False,
) -> ScanResult:
    """Scan `roots` with the cache, job and selection options of `args`, showing progress. With
    `grouping` (the caller groups next) the grouping code is loaded while the workers decode.
    With -v each file or folder passed over is named on stderr."""
    selection = selection_from(args)
    cache = open_cache(args, settings, ui)

    def passed(reason: str, path: str) -> None:
        ui.note(f"passed over ({filters.WORDS[reason][0]}): {path}")

    try:
        result = scan(
            roots,
            settings,
            cache,
            jobs=args.jobs,
            follow_symlinks=args.follow_symlinks,
            progress=progress,
            while_hashing=_warm_up_grouping if grouping else None,
            selection=selection,
            passed=passed if ui.verbose else None,
        )
    finally:
        cache.close()
    if cache.warning:
        ui.warn(cache.warning)
    return result


def _warm_up_grouping(images: int) -> None:
    from dedupe import cluster

    if cluster.compiles(images):  # a smaller library is grouped without the compiled kernels
        cluster.warm_up()


def clusters_with_memo(
    args: argparse.Namespace,
    settings: Settings,
    ui: UI,
    records: Sequence[ImageRecord],
    distinct: frozenset[tuple[str, str]],
    progress: Progress,
    look: Looks | None = None,
) -> Clusters:
    """cluster.cluster's result for the records, taken from the hash cache's memo when nothing
    it depends on changed since an earlier scan (a warm rescan of an unchanged tree verifies no
    pair again), else computed and remembered. Each phase is shown: loading the compiled
    kernels (compiled on their first use ever, which takes about a minute), then grouping."""
    from dedupe import cluster  # the grouping code (numba): only for commands that group

    key = cluster.inputs_digest(records, settings, distinct)
    cache = open_cache(args, settings, ui)
    try:
        text = cache.get_memo(key)
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
            found = cluster.cluster(records, settings, distinct=distinct, look=look)
            if look is None or not look.missed:  # not a grouping short of some pictures
                cache.put_memo(key, found.to_json())
    finally:
        cache.close()
    if cache.warning:
        ui.warn(cache.warning)
    return found


def facts_for(
    args: argparse.Namespace | None,
    settings: Settings,
    ui: UI,
    grouped: Sequence[ImageRecord],
    every: Sequence[ImageRecord],
    progress: Progress,
) -> dict[str, FileFacts]:
    """What the grouped images carry (metadata.gather: companions, twins, capture metadata),
    read through the hash cache (`args` None: the default cache, as `review` has no --cache)."""
    from dedupe import metadata

    if not grouped:
        return {}
    if args is None:
        args = argparse.Namespace(no_cache=False, cache=None)
    cache = open_cache(args, settings, ui)
    try:
        return metadata.gather(grouped, every, cache, progress)
    finally:
        cache.close()
        if cache.warning:
            ui.warn(cache.warning)


def fingerprint_one(path: str, settings: Settings) -> Hashed:
    """Fingerprint one image named on the command line (a symlink is followed), or fail clearly:
    a path that is missing or a folder is a usage error (2), an unreadable file a failure (1)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CliError(
            f"{path}: no such file" + (" (a broken symbolic link)" if os.path.islink(path) else "")
        ) from None
    except OSError as error:
        raise CliError(f"{path}: cannot read: {error.strerror or error}", 1) from None
    if stat.S_ISDIR(info.st_mode):
        raise CliError(f"{path}: is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise CliError(f"{path}: not a file (a device, FIFO or socket): not read")
    outcome = fingerprint_file(path, settings, follow_symlinks=True)
    if outcome is None:
        raise CliError(f"{path}: not an image", 1)
    if isinstance(outcome, Failed):
        raise CliError(f"{path}: {outcome.reason}", 1)
    return outcome


def existing_dirs(paths: list[str]) -> tuple[str, ...]:
    roots = []
    for path in paths:
        if not os.path.exists(path):
            raise CliError(f"no such folder: {path}")
        if not os.path.isdir(path):
            raise CliError(f"not a folder: {path}")
        roots.append(os.path.abspath(path))
    return tuple(roots)


def writable_file(path: str | Path, option: str) -> None:
    """Refuse (usage error, 2) an output file that could not be written, before any work: its
    folder must exist and take a new file (tried for real: permissions, a read-only mount, a
    full disk's quota), and the path must not be a folder."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise CliError(f"{option} {path}: is a folder")
    if not folder.is_dir():
        raise CliError(f"{option} {path}: no such folder {folder}")
    try:
        with tempfile.NamedTemporaryFile(prefix=f".{target.name}.", suffix=".probe", dir=folder):
            pass
    except OSError as error:
        raise CliError(f"{option} {path}: cannot write there ({error.strerror or error})") from None
