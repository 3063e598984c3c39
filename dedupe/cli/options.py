"""Options several commands share, and turning them into the library's values (dedupe/inputs.py
checks them; its UsageErrors become exit 2)."""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from dedupe import filters, inputs, journal, policy
from dedupe.api import CacheChoice
from dedupe.cache import default_path
from dedupe.cli.ui import UI, CliError
from dedupe.hashing import ALGORITHMS, HASH_SIZES
from dedupe.models import (
    BURSTS,
    DEFAULT_ALGORITHM,
    DEFAULT_HASH_SIZE,
    DEFAULT_THRESHOLD,
    TWINS,
    KeepRules,
    Selection,
    Settings,
)


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
    """What to leave out, from the options (refused, exit 2, when it cannot be used)."""
    return inputs.selection(
        Selection(
            exclude=tuple(args.exclude),
            min_size=args.min_size,
            max_size=args.max_size,
            max_depth=args.max_depth,
            one_file_system=bool(args.one_file_system),
            passed_by_default=not args.include_hidden,
        )
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
        protect=inputs.keep_folders(args.protect, "--protect", roots),
        prefer=inputs.keep_folders(args.prefer, "--prefer", roots),
        reference=inputs.keep_folders(args.reference, "--reference", roots),
        twins=args.raw_twins or "together",
        lose_sidecars=bool(args.lose_sidecars),
        bursts=args.bursts or "keep-all",
    )


def cache_from(args: argparse.Namespace) -> CacheChoice:
    """The hash cache the options name: --no-cache none, --cache PATH that file, else the
    default one."""
    if args.no_cache:
        return False
    return args.cache or True


def passed_over(ui: UI, counts: Counter[str] | None = None) -> Callable[[str, str], None]:
    """The scan's `passed` callback: counts what the walk passes over by reason (for the
    summary's "Not scanned" line) and, with -v, names each file or folder on stderr."""

    def passed(reason: str, path: str) -> None:
        if counts is not None:
            counts[reason] += 1
        if ui.verbose:
            ui.note(f"passed over ({filters.WORDS[reason][0]}): {path}")

    return passed


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


def locked_report(path: str, holder: str = "", hint: str = "") -> journal.Lock:
    """The lock of the report at `path`, taken; refused (exit 1) when another dedupe holds it
    (`hint` added to what it says) or it cannot be taken."""
    lock = journal.report_lock(path, holder)
    try:
        lock.acquire()
    except journal.Locked as error:
        raise CliError(f"{error}{hint}", 1) from None
    except OSError as error:
        raise CliError(f"cannot lock {path}: {error}", 1) from None
    return lock
