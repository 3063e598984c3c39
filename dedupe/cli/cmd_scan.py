"""`dedupe scan DIR...`: hash every image, group duplicates, write the JSON report."""

from __future__ import annotations

import argparse
import os
from typing import Any

from dedupe import report as report_mod
from dedupe.cli import options
from dedupe.cli.ui import UI, CliError, escape, human_bytes, write_data
from dedupe.groups import build_groups, check_invariants
from dedupe.report import Report
from dedupe.review import facts, marks

# How many groups the terminal summary lists before pointing at the report.
SHOWN_GROUPS = 20
SHOWN_ERRORS = 20


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scan",
        help="find duplicate photos under folders and write a report",
        description="Hash every image under DIR (recursively), group duplicates and write a "
        "JSON report. Nothing under DIR is modified.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="folders to scan")
    options.add_hash_options(parser, threshold=None)
    options.add_scan_options(parser)
    options.add_keep_options(parser)
    parser.add_argument(
        "--report",
        default=report_mod.DEFAULT_PATH,
        metavar="PATH",
        help=f"where to write the report (default: ./{report_mod.DEFAULT_PATH})",
    )
    parser.add_argument("--json", action="store_true", help="also print the report on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    roots = options.existing_dirs(args.dirs)
    settings = options.settings_from(args)
    rules = options.keep_rules_from(args)
    result = options.run_scan(args, roots, settings, ui, grouping=True)
    remembered = marks.load()  # "not duplicates" marks from earlier reviews
    if remembered.warning:
        ui.warn(remembered.warning)
    found = options.clusters_with_memo(args, settings, ui, result.records, remembered.pairs)
    groups = build_groups(
        result.records, settings, rules, distinct=remembered.pairs, clusters=found
    )
    check_invariants(groups)
    report = report_mod.from_scan(
        result, rules, groups, marks.among(remembered.pairs, result.records), found.checked
    )
    try:
        report_mod.write(report, args.report)
    except OSError as error:
        raise CliError(f"cannot write the report to {args.report}: {error}", 1) from None
    if args.json:
        write_data(report_mod.dumps(report) + "\n")
    print_summary(ui, report, args.report)
    return 0


def shown(path: str, roots: tuple[str, ...]) -> str:
    """A path as the user typed it: relative to the scanned folder when there is only one."""
    if len(roots) == 1 and path.startswith(os.path.join(roots[0], "")):
        return os.path.relpath(path, roots[0])
    return path


def print_summary(ui: UI, report: Report, report_path: str) -> None:
    err = ui.err
    for group in report.groups[:SHOWN_GROUPS]:
        err.print(
            f"[bold]Group {group.id}[/] · {facts.KIND_WORDS.get(group.kind, group.kind)} · "
            f"{len(group.members)} files · "
            f"max distance {group.max_distance} · frees {human_bytes(group.reclaimable_bytes)}"
        )
        for m in group.members:
            f = m.record.fingerprint
            style = "green" if m.action == "keep" else "red"
            err.print(
                f"  [{style}]{m.action:5}[/] {f.width}x{f.height} {human_bytes(m.record.size):>9}"
                f"  {escape(shown(m.record.path, report.roots))}",
                soft_wrap=True,
            )
            err.print(f"        [dim]{escape(m.reason)}[/]")
        err.print()
    if len(report.groups) > SHOWN_GROUPS:
        err.print(
            f"… and {len(report.groups) - SHOWN_GROUPS} more groups "
            f"(all in {escape(report_path)}; look at them with `dedupe review`)\n"
        )
    for problem in report.errors[:SHOWN_ERRORS]:
        err.print(
            f"[yellow]unreadable:[/] {escape(shown(problem.path, report.roots))}: "
            f"{escape(problem.reason)}",
            soft_wrap=True,
        )
    if len(report.errors) > SHOWN_ERRORS:
        err.print(
            f"… and {len(report.errors) - SHOWN_ERRORS} more unreadable files (see the report)"
        )
    for problem in report.skipped[:SHOWN_ERRORS]:
        err.print(
            f"[cyan]skipped:[/] {escape(shown(problem.path, report.roots))}: "
            f"{escape(problem.reason)}",
            soft_wrap=True,
        )
    s = report.stats
    err.print(
        f"[bold]{len(report.groups)}[/] groups, [bold]{report.duplicates}[/] duplicate files, "
        f"[bold]{human_bytes(report.reclaimable_bytes)}[/] reclaimable · "
        f"{len(report.images)} images ({s.hashed} hashed, {s.from_cache} from cache), "
        f"{len(report.errors)} unreadable, {len(report.skipped)} skipped · "
        f"report: {escape(report_path)}"
    )
