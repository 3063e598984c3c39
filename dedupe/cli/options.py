"""Options several commands share, and turning them into library values with clear errors."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dedupe import policy
from dedupe.cache import HashCache, default_path
from dedupe.cli.ui import UI, CliError
from dedupe.hashing import ALGORITHMS, HASH_SIZES
from dedupe.models import (
    BURSTS,
    DEFAULT_ALGORITHM,
    DEFAULT_HASH_SIZE,
    DEFAULT_THRESHOLD,
    ImageRecord,
    KeepRules,
    ScanResult,
    Settings,
)
from dedupe.scan import Failed, Hashed, fingerprint_file, scan

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
        help="never propose trashing anything under DIR (repeatable)",
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


def settings_from(args: argparse.Namespace) -> Settings:
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    try:
        return Settings(args.algorithm, args.hash_size, threshold, bool(args.rotations))
    except ValueError as error:
        raise CliError(str(error)) from None


def keep_rules_from(args: argparse.Namespace) -> KeepRules:
    try:
        order = policy.parse_order(args.keep)
    except ValueError as error:
        raise CliError(str(error)) from None
    return KeepRules(
        order=order,
        protect=tuple(os.path.abspath(d) for d in args.protect),
        prefer=tuple(os.path.abspath(d) for d in args.prefer),
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
    *,
    grouping: bool = False,
) -> ScanResult:
    """Scan `roots` with the cache and job options of `args`, showing progress on stderr. With
    `grouping` (the caller groups next) the grouping code is loaded while the workers decode."""
    cache = open_cache(args, settings, ui)
    try:
        with ui.progress() as progress:
            result = scan(
                roots,
                settings,
                cache,
                jobs=args.jobs,
                follow_symlinks=args.follow_symlinks,
                progress=progress,
                while_hashing=_warm_up_grouping if grouping else None,
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
) -> Clusters:
    """cluster.cluster's result for the records, taken from the hash cache's memo when nothing
    it depends on changed since an earlier scan (a warm rescan of an unchanged tree verifies no
    pair again), else computed and remembered."""
    from dedupe import cluster  # the grouping code (numba): only for commands that group

    key = cluster.inputs_digest(records, settings, distinct)
    cache = open_cache(args, settings, ui)
    try:
        text = cache.get_memo(key)
        found = cluster.Clusters.from_json(text, len(records)) if text is not None else None
        if found is None:
            found = cluster.cluster(records, settings, distinct=distinct)
            cache.put_memo(key, found.to_json())
    finally:
        cache.close()
    if cache.warning:
        ui.warn(cache.warning)
    return found


def fingerprint_one(path: str, settings: Settings) -> Hashed:
    """Fingerprint one image named on the command line (a symlink is followed), or fail clearly."""
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
