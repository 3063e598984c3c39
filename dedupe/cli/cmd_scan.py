"""`dedupe scan DIR...`: hash every image, group duplicates, write the JSON report.

The groups are data: they go to stdout (a table per group, or --format json|csv, --print0);
progress, problems and the summary go to stderr.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from dedupe import api, filters, inputs
from dedupe import report as report_mod
from dedupe.cli import ExitCode, listing, options
from dedupe.cli.ui import UI, CliError, escape, human_bytes
from dedupe.models import KeepRules, Selection, Settings
from dedupe.report import Report
from dedupe.review import marks

# How many groups the listing shows in a terminal before pointing at the report (a pipe or a
# file gets them all).
SHOWN_GROUPS = 20
SHOWN_ERRORS = 20


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scan",
        help="find duplicate photos under folders and write a report",
        description="Hash every image under DIR (recursively), group duplicates and write a "
        "JSON report. The groups are printed on stdout; progress and the summary on stderr. "
        "Nothing under DIR is modified.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="folders to scan")
    options.add_hash_options(parser, threshold=None)
    options.add_scan_options(parser)
    options.add_selection_options(parser)
    options.add_keep_options(parser)
    parser.add_argument(
        "--report",
        default=report_mod.DEFAULT_PATH,
        metavar="PATH",
        help=f"where to write the report (default: ./{report_mod.DEFAULT_PATH})",
    )
    listing.add_group_format_options(parser, json_alias=True)
    listing.add_exit_code_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    roots = inputs.folders(args.dirs)
    settings = options.settings_from(args)
    rules = options.keep_rules_from(args, roots)
    selection = options.selection_from(args)  # a bad --exclude pattern is refused before the scan
    options.writable_file(args.report, "--report")  # so is a report that cannot be written
    # A review or apply of this report holds its lock: a scan replacing the report under it
    # would have its new report overwritten by the review's save (or apply a report it never
    # planned from). The scan holds the lock too, from before the walk to the report written.
    hint = " (or write this scan's report elsewhere: --report)"
    lock = options.locked_report(args.report, f"scan writing {args.report}", hint)
    try:
        return _scan(args, ui, roots, settings, rules, selection)
    finally:
        lock.release()


def _scan(
    args: argparse.Namespace,
    ui: UI,
    roots: Sequence[str],
    settings: Settings,
    rules: KeepRules,
    selection: Selection,
) -> int:
    remembered = marks.load()  # "not duplicates" marks from earlier reviews
    if remembered.warning:
        ui.warn(remembered.warning)
    passed_over: Counter[str] = Counter()
    with ui.progress() as progress:
        report = api.scan_folders(
            roots,
            settings=settings,
            keep=rules,
            selection=selection,
            cache=options.cache_from(args),
            jobs=args.jobs,
            follow_symlinks=args.follow_symlinks,
            not_duplicates=remembered.pairs,
            progress=progress,
            warn=ui.warn,
            passed=options.passed_over(ui, passed_over),
        )
        progress.start("Writing the report", None)
        try:
            api.write_report(report, args.report)
        except OSError as error:
            raise CliError(f"cannot write the report to {args.report}: {error}", 1) from None
        # as written, naming its index (what --format json prints)
        report = replace(report, index=report_mod.header_index(args.report))
    form = args.format or "text"
    if form != "text" or report.groups:
        listing.write_groups(report, form, ui, totals=False, limit=_shown(ui, form))
    print_summary(ui, report, args.report, tuple(sorted(passed_over.items())), form)
    return ExitCode.FOUND if args.exit_code and report.duplicates else ExitCode.OK


def _shown(ui: UI, form: str) -> int | None:
    """How many groups the text listing shows: some in a terminal, all in a pipe or a file."""
    return SHOWN_GROUPS if form == "text" and ui.out_tty else None


def shown(path: str, roots: tuple[str, ...]) -> str:
    """A path as the user typed it: relative to the scanned folder when there is only one."""
    if len(roots) == 1 and path.startswith(os.path.join(roots[0], "")):
        return os.path.relpath(path, roots[0])
    return path


def print_summary(
    ui: UI,
    report: Report,
    report_path: str,
    passed_over: tuple[tuple[str, int], ...] = (),
    form: str = "text",
) -> None:
    """On stderr: the files that could not be read or are not supported, what the walk passed
    over, and one line of totals."""
    err = ui.err
    limit = _shown(ui, form)
    if limit is not None and len(report.groups) > limit:
        err.print(
            f"… and {len(report.groups) - limit} more groups "
            f"(all in {escape(report_path)}; look at them with `dedupe review`)\n"
        )
    for problem in report.errors[:SHOWN_ERRORS]:
        err.print(
            f"[yellow]unreadable:[/] {escape(shown(problem.path, report.roots))}: "
            f"{escape(problem.reason)}"
        )
    if len(report.errors) > SHOWN_ERRORS:
        err.print(
            f"… and {len(report.errors) - SHOWN_ERRORS} more unreadable files (see the report)"
        )
    for problem in report.skipped[:SHOWN_ERRORS]:
        err.print(
            f"[cyan]skipped:[/] {escape(shown(problem.path, report.roots))}: "
            f"{escape(problem.reason)}"
        )
    if passed_over:
        hint = (
            " (--include-hidden scans them)"
            if any(reason in filters.DEFAULT_REASONS for reason, _ in passed_over)
            else ""
        )
        more = "" if ui.verbose else "; -v names each"
        err.print(f"Not scanned: {escape(filters.describe(passed_over))}{hint}{more}")
    s = report.stats
    n, d = len(report.groups), report.duplicates
    err.print(
        f"[bold]{n}[/] group{'' if n == 1 else 's'}, "
        f"[bold]{d}[/] duplicate file{'' if d == 1 else 's'}, "
        f"[bold]{human_bytes(report.reclaimable_bytes)}[/] reclaimable · "
        f"{len(report.images)} images ({s.hashed} hashed, {s.from_cache} from cache), "
        f"{len(report.errors)} unreadable, {len(report.skipped)} skipped · "
        f"report: {escape(report_path)}"
    )
