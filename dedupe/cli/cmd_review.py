"""`dedupe review`: look at every group, change the proposals, save the decisions in the report.

In a terminal this opens the full-screen review (dedupe.review.app); otherwise, or with
`--no-input` or a `--format`, it prints every group on stdout (dedupe.cli.listing: a table per
group, json, csv, or the files marked trash with --print0).

A review in a terminal holds the report's lock (the one `dedupe apply` takes, in journal.py)
from before it reads the report until it ends: a second review of the same report, or an
apply of it, is refused with a clear message instead of one save silently erasing the
other's decisions. A plain review (not interactive) never saves, so it takes no lock.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from dedupe import api, inputs, policy
from dedupe import index as index_mod
from dedupe import report as report_mod
from dedupe.cli import ExitCode, listing, options
from dedupe.cli.ui import UI, CliError, escape, human_bytes
from dedupe.errors import DedupeError
from dedupe.index import IndexProblem
from dedupe.models import KeepRules
from dedupe.regroup import ANNOUNCE_SEARCH_FROM, searches_again
from dedupe.report import Report
from dedupe.review import graphics, marks, quickread


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "review",
        help="look at every group of a report, change what is kept, save your decisions",
        description="Review the groups of a scan report. In a terminal: a full-screen review with "
        "thumbnails (press ? for the keys); decisions are saved into the report, and `dedupe "
        "apply` acts on exactly those. Not in a terminal, or with --no-input: print every group "
        "as a table instead.",
    )
    parser.add_argument(
        "--report",
        default=report_mod.DEFAULT_PATH,
        metavar="PATH",
        help=f"the report to review (default: ./{report_mod.DEFAULT_PATH})",
    )
    parser.add_argument(
        "--threshold",
        type=options.rate,
        metavar="R",
        help="regroup at this rate from the hashes stored in the report (no image is decoded) "
        "and say how the groups changed",
    )
    options.add_keep_options(parser)
    # None means "as stored in the report", so that a review keeps the scan's rules by default.
    parser.set_defaults(keep=None)
    for action in parser._actions:
        if action.dest == "keep":
            action.help = (
                f"ordered rules choosing the copy to keep, from {','.join(policy.RULES)} "
                "(default: the rules the scan used, stored in the report)"
            )
    parser.add_argument(
        "--thumbnails",
        choices=graphics.MODES,
        default=None,
        help="how the review draws pictures: auto (the default) uses the kitty graphics protocol "
        "or Sixel when the terminal answers that it has one, and half-block characters "
        "otherwise (kitty's protocol needs kitty 0.28 or newer); kitty or sixel force that "
        "protocol, for a terminal that has it but does not say so; blocks draws half-block "
        "characters, which work in any colour "
        "terminal (use it if pictures come out as empty boxes or garbage); none draws no "
        f"pictures. Default: ${graphics.ENV} if set, else auto",
    )
    parser.add_argument(
        "--no-input",
        action="store_true",
        help="print the groups (as --format says) instead of the interactive review; also "
        "when stdout or stderr is not a terminal, or a --format or --print0 is given",
    )
    listing.add_group_format_options(parser, json_alias=False)
    listing.add_exit_code_option(parser)
    parser.set_defaults(run=run)


def read_report(path: str, *, to_regroup: bool = False, threshold: float | None = None) -> Report:
    """The report at `path` (a ReportError fails the command, exit 1); `to_regroup`: the
    grouping kernels load while it is read."""
    return api.read_report(path, to_regroup=to_regroup, threshold=threshold)


def _new_rules(args: argparse.Namespace) -> bool:
    """Whether the command line gives keep rules of its own (else the report's stand)."""
    return (
        args.keep is not None
        or any((args.protect, args.prefer, args.reference))
        or args.raw_twins is not None
        or bool(args.lose_sidecars)
        or args.bursts is not None
    )


def rules_from(
    args: argparse.Namespace, stored: KeepRules, roots: Sequence[str]
) -> KeepRules | None:
    """The keep rules given on the command line, completed from the report; None if none given.
    Folders must be in the report's scanned folders (inputs.keep_folders)."""
    if not _new_rules(args):
        return None
    try:
        order = policy.parse_order(args.keep) if args.keep is not None else stored.order
    except ValueError as error:
        raise CliError(str(error)) from None
    return KeepRules(
        order=order,
        protect=inputs.keep_folders(args.protect, "--protect", roots) or stored.protect,
        prefer=inputs.keep_folders(args.prefer, "--prefer", roots) or stored.prefer,
        reference=inputs.keep_folders(args.reference, "--reference", roots) or stored.reference,
        twins=args.raw_twins or stored.twins,
        lose_sidecars=bool(args.lose_sidecars) or stored.lose_sidecars,
        bursts=args.bursts or stored.bursts,
    )


def thumbnail_mode(args: argparse.Namespace) -> str:
    try:
        return graphics.mode_from(args.thumbnails, os.environ)
    except graphics.ModeError as error:
        raise CliError(str(error)) from None


def run(args: argparse.Namespace, ui: UI) -> int:
    mode = thumbnail_mode(args)
    interactive = not args.no_input and args.format is None and ui.interactive and ui.out_tty
    if not interactive:
        return _run(args, ui, mode, interactive=False)
    lock = options.locked_report(args.report)
    try:
        return _run(args, ui, mode, interactive=True)
    finally:
        lock.release()


def _run(args: argparse.Namespace, ui: UI, mode: str, *, interactive: bool) -> int:
    remembered = marks.load()
    if remembered.warning:
        ui.warn(remembered.warning)
    as_is = args.threshold is None and not _new_rules(args)
    preview = quickread.read(args.report) if interactive and as_is else None
    if preview is not None:
        # The first group is shown from the preview while the whole report is read.
        for problem in report_mod.problems(preview):
            ui.warn(problem)
        signed(preview, ui.warn, check_only=True)
        code = review_in_terminal(
            args.report,
            preview,
            ui,
            None,
            _renderer(mode),
            loader=lambda: signed(quickread.read_whole(args.report), ui.warn, quiet=True),
        )
        if code:
            return code
        return _found(args, read_report(args.report) if args.exit_code else preview)
    with ui.progress() as progress:
        progress.start("Reading the report", None)
        report = read_report(
            args.report,
            to_regroup=args.threshold is not None or not as_is,
            threshold=args.threshold,
        )
    if interactive and as_is:
        report = signed(report, ui.warn)
    rules = rules_from(args, report.keep, report.roots)
    notice = None
    if args.threshold is not None:
        if searches_again(report, args.threshold) and len(report.images) >= ANNOUNCE_SEARCH_FROM:
            why = (
                "the report holds no checked pairs"
                if report.checked is None
                else f"its pairs were checked up to distance {report.checked.radius}"
            )
            ui.err.print(
                f"Searching {len(report.images):,} images again at threshold "
                f"{args.threshold:g} ({why}); this takes a while...",
                style="dim",
                soft_wrap=True,
            )
        if interactive:
            return _review_regrouping(args, ui, mode, report, rules, remembered.pairs)
        with ui.progress() as progress:
            regrouped = api.regroup_report(
                report,
                threshold=args.threshold,
                keep=rules,
                not_duplicates=remembered.pairs,
                progress=progress,
                warn=ui.warn,
            )
        report, notice = regrouped.report, regrouped_notice(regrouped)
    elif rules is not None and rules != report.keep:
        report = api.regroup_report(report, keep=rules).report
        notice = "New keep rules: the groups not yet reviewed have fresh proposals"
    for problem in report_mod.problems(report):
        ui.warn(problem)

    if not interactive:
        if notice:
            ui.err.print(escape(notice))
        listing.write_groups(report, args.format or "text", ui, totals=True, limit=None)
        if notice:
            ui.err.print(
                f"(not saved: {escape(args.report)} is unchanged; review in a terminal, or scan "
                "again with these options, to keep these changes)"
            )
        return _found(args, report)
    code = review_in_terminal(args.report, report, ui, notice, _renderer(mode))
    return code if code else _found(args, read_report(args.report) if args.exit_code else report)


def regrouped_notice(regrouped: api.Regrouped) -> str:
    """What a regroup changed, in words (the review's first message)."""
    s = regrouped.report.settings
    return (
        f"Regrouped at threshold {s.threshold:g} (largest distance {s.max_distance}): "
        f"{regrouped.changes.describe()}"
    )


def _review_regrouping(
    args: argparse.Namespace,
    ui: UI,
    mode: str,
    report: Report,
    rules: KeepRules | None,
    not_duplicates: frozenset[tuple[str, str]],
) -> int:
    """review --threshold in a terminal: the first regrouped groups are shown at once, the
    rest regroups on a thread (api.start_regroup) while the review runs. Its warnings, said
    on a thread or while the review is on screen, are said once the review has ended."""
    heard: list[str] = []
    with ui.progress() as progress:
        regrouping = api.start_regroup(
            report,
            threshold=args.threshold,
            keep=rules,
            not_duplicates=not_duplicates,
            progress=progress,
            warn=heard.append,
            start=False,  # once the first groups are on screen (the app begins it)
        )
    said = set(report_mod.problems(regrouping.first))
    for message in [*heard, *sorted(said)]:
        ui.warn(message)
    heard.clear()
    first = regrouping.first
    s = first.settings
    notice = (
        f"Regrouping at threshold {s.threshold:g} (largest distance {s.max_distance}): the "
        f"first {len(first.groups):,} groups are shown while the rest are regrouped"
        if not regrouping.done
        else None
    )
    code = review_in_terminal(
        args.report, first, ui, notice, _renderer(mode), regrouping=regrouping
    )
    if regrouping.done:
        with contextlib.suppress(DedupeError):  # (the review said it, and nothing was saved)
            whole = regrouping.finish().report
            heard += [p for p in report_mod.problems(whole) if p not in said]
    for message in heard:
        ui.warn(message)
    return code if code else _found(args, read_report(args.report) if args.exit_code else first)


def signed(
    report: Report, warn: Callable[[str], None], *, quiet: bool = False, check_only: bool = False
) -> Report:
    """`report` with its grouped files' orientation hashes and check signatures from its index
    (report.with_signatures), which the review's new proposals use (a file marked "not a
    duplicate" leaves the others to the keep rules); without a usable index, the report as it
    is, said with `warn` unless `quiet`. `check_only`: only say whether the index is usable
    (its meta), reading nothing else."""
    if report.complete or report.index is None or report.index_path is None:
        return report
    try:
        if check_only:
            if index_mod.id_of(report.index_path) != report.index.id:
                raise IndexProblem(f"the report's index {report.index_path} is another scan's")
            return report
        return report_mod.with_signatures(report)
    except IndexProblem as error:
        if not quiet:
            warn(
                f"{error}; in this review, new proposals (after a file is marked not a "
                "duplicate) see no borders and no orientations"
            )
        return report


def _found(args: argparse.Namespace, report: Report) -> int:
    """--exit-code: 10 when the groups shown (or saved) propose some file for trash."""
    return ExitCode.FOUND if args.exit_code and report.duplicates else ExitCode.OK


def _renderer(mode: str) -> graphics.Renderer:
    # Ask the terminal what it can draw now: once the app runs, Textual reads its answers.
    support = graphics.detect() if mode == "auto" else graphics.Support()
    renderer = graphics.choose(mode, support)
    if renderer.is_graphics:
        graphics.prepare()
    return renderer


def review_in_terminal(
    path: str,
    report: Report,
    ui: UI,
    notice: str | None,
    renderer: graphics.Renderer = graphics.Renderer.BLOCKS,
    *,
    loader: Callable[[], Report] | None = None,
    regrouping: api.Regrouping | None = None,
) -> int:
    """Run the full-screen review of `report` (or of its preview, with the `loader` that
    reads the whole report; or of the first groups of `regrouping`) and say afterwards what
    was saved."""
    from dedupe.review.app import ReviewApp
    from dedupe.review.state import ReviewState

    written: list[Report] = []

    def save(decided: Report) -> str:
        api.write_report(decided, path)
        written.append(decided)
        marks.remember(decided.not_duplicates)
        return f"saved to {path}"

    app = ReviewApp(
        report,
        ReviewState.start(report),
        save,
        notice=notice,
        thumbnails=renderer,
        loader=loader,
        regrouping=regrouping,
        regrouped_notice=regrouped_notice,
    )
    outcome = app.run()
    if app.return_code:  # an error ended the review (Textual showed its traceback)
        raise CliError("the review ended on an unexpected error (shown above)", 1)
    if outcome == "saved" and written:
        saved = written[-1]
        reviewed = sum(1 for g in saved.groups if g.reviewed)
        ui.err.print(
            f"Saved to {escape(path)}: {len(saved.groups)} groups ({reviewed} reviewed), "
            f"{saved.duplicates} files to trash, {human_bytes(saved.reclaimable_bytes)} "
            f"reclaimable. Next: [bold]dedupe apply --report {escape(path)}[/] (a dry run "
            "until you add --trash)."
        )
    elif outcome == "quit":
        ui.err.print(f"Quit without saving: {escape(path)} is unchanged.")
    return 0
