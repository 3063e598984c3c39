"""`dedupe apply`: re-check the report's files, then trash, move or link the duplicates,
journaled."""

from __future__ import annotations

import argparse
import os
from typing import Any

from dedupe import api, journal, linking
from dedupe import apply as core
from dedupe import report as report_mod
from dedupe.cli import ExitCode, listing
from dedupe.cli.ui import UI, CliError, escape, human_bytes
from dedupe.errors import Refused
from dedupe.report import ReportError

OK, PARTIAL, REFUSED = ExitCode.OK, ExitCode.PARTIAL, ExitCode.REFUSED
SHOWN_SKIPS = 50


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "apply",
        help="trash, move or link the duplicates of a reviewed report (re-checks every file)",
        description="Act on the report: every file is re-checked first (exists, same size, "
        "modification time and content digest as at scan time); a group whose kept copy "
        "changed is left alone, a changed duplicate is left alone, and every action is "
        "journaled so it can be resumed after a crash and undone with `dedupe undo`. "
        "Without --trash, --move or --link it only shows what would happen.",
    )
    parser.add_argument(
        "--report",
        default=report_mod.DEFAULT_PATH,
        metavar="PATH",
        help=f"the report to apply (default: ./{report_mod.DEFAULT_PATH})",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--trash", action="store_true", help="move duplicates to the system trash")
    action.add_argument(
        "--move",
        metavar="DIR",
        help="move duplicates under DIR, keeping their paths relative to the scanned folder",
    )
    action.add_argument(
        "--link",
        choices=linking.KINDS,
        metavar="KIND",
        help="replace each byte-identical duplicate by a link to its kept copy: hard (a hard "
        "link, same file system), symlink (a symbolic link), reflink (shared data blocks, "
        "btrfs/XFS/bcachefs); the replaced copy is kept in the trash for undo (a reflinked "
        "one keeps its own inode); similar, not identical, copies are skipped",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check and list what would happen; change nothing"
    )
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--allow-root",
        action="store_true",
        help="act on a report whose scanned folder is the top of the file system (/), "
        "which is refused without this",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="journal file (default: a new one under "
        f"{journal.journals_dir()}; an interrupted apply of the same report is resumed)",
    )
    listing.add_action_format_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    listing.refuse_format_when_acting(
        args.format, bool(args.trash or args.move or args.link) and not args.dry_run
    )
    try:
        report = api.read_report(args.report)
    except ReportError as error:
        raise CliError(f"refusing to apply: {error}", REFUSED) from None
    if args.move is not None and os.path.exists(args.move) and not os.path.isdir(args.move):
        raise CliError(f"--move: {args.move} exists and is not a folder", REFUSED)
    kind: core.Kind | None = (
        "trash" if args.trash else "move" if args.move else "link" if args.link else None
    )
    try:
        plan = api.make_plan(
            report,
            kind,
            report_path=args.report,
            move_to=args.move,
            allow_root=args.allow_root,
            link=args.link,
        )
    except Refused as error:
        raise CliError(f"refusing to apply {args.report}: {error}", REFUSED) from None
    if not plan.groups:
        ui.err.print("Nothing to do: the report marks no file for removal.")
        return OK
    if kind is None or args.dry_run:
        return _dry_run(plan, ui, args.format)
    if not args.yes:
        if not ui.interactive:
            raise CliError(
                f"refusing to {_verb(plan)} {plan.files} files without confirmation: "
                "stdin is not a terminal. Add --yes to go ahead, or --dry-run to look first.",
                REFUSED,
            )
        if not _confirm(plan, ui, report):
            ui.err.print("Nothing was changed.")
            return REFUSED
    try:
        applying = api.start_apply(plan, journal=args.journal, warn=ui.warn)
    except Refused as error:
        raise CliError(f"refusing to apply: {error}", REFUSED) from None
    except OSError as error:  # the state folder cannot be written (disk full, ...)
        raise CliError(
            f"stopped before acting: the journal cannot be written ({_why(error)}). Nothing "
            "was changed; run the same command again once this is fixed.",
            ExitCode.ERROR,
        ) from None
    try:
        if applying.resumed:
            ui.err.print(
                f"Resuming the interrupted apply recorded in {escape(str(applying.journal))}"
            )
        for note in applying.notes:
            ui.err.print(f"[cyan]resumed:[/] {escape(note)}", soft_wrap=True)
        with ui.progress() as progress:
            result = applying.run(progress)
    except OSError as error:  # the journal cannot be written (disk full, ...): stop at once
        raise CliError(
            f"stopped: the journal {applying.journal} cannot be written ({_why(error)}). Every "
            "action so far is recorded there or can be read from the disk; run the same "
            "command again to resume once this is fixed.",
            ExitCode.ERROR,
        ) from None
    finally:
        applying.close()
    _summary(result, plan, ui)
    if result.interrupted:
        ui.err.print(
            "[yellow]Interrupted.[/] Run the same command again to finish; "
            "`dedupe undo` puts back what was done."
        )
        return ExitCode.INTERRUPTED
    return PARTIAL if result.skipped else OK


def _why(error: OSError) -> str:
    return error.strerror or str(error)


def _verb(plan: core.Plan) -> str:
    return {"move": "move", "link": "link"}.get(str(plan.kind), "trash")


# What --link does to the files, as the confirmation says it, and the summary's words.
_LINKED = {
    "hard": "replaced by hard links to their kept copies",
    "symlink": "replaced by symbolic links to their kept copies",
    "reflink": "reflinked: made to share the data of their kept copies",
}
_SUMMARY = {
    "hard": ("Linked", " (hard links to their kept copies)"),
    "symlink": ("Linked", " (symbolic links to their kept copies)"),
    "reflink": ("Reflinked", " (sharing the data of their kept copies)"),
}


def _confirm(plan: core.Plan, ui: UI, report: report_mod.Report) -> bool:
    from rich.prompt import Confirm

    # On the console that -q leaves on: a question must be seen to be answered.
    where = "to the trash" if plan.kind == "trash" else f"under {escape(plan.move_to or '')}"
    what = f"moved {where}"
    if plan.kind == "link":
        kept = "" if plan.link == "reflink" else " (each replaced copy is kept in the trash)"
        what = _LINKED[str(plan.link)] + kept
    ui.alerts.print(
        f"{plan.files} files in {len(plan.groups)} groups ({human_bytes(plan.bytes)}) would be "
        f"{what}. Each file is checked again right before."
    )
    planned = {g.id for g in plan.groups}
    never = sum(1 for g in report.groups if g.id in planned and not g.reviewed)
    if never:
        ui.alerts.print(
            f"[bold]{never} of these {len(plan.groups)} groups were never reviewed[/]: their "
            "files go as the scan proposed (`dedupe review` shows them first)."
        )
    else:
        ui.alerts.print(f"All {len(plan.groups)} groups were reviewed.")
    return Confirm.ask("Go ahead?", console=ui.alerts, default=False)


def _dry_run(plan: core.Plan, ui: UI, form: str = "text") -> int:
    with ui.progress() as progress:
        result = api.apply_plan(plan, dry_run=True, progress=progress)
    verb = {"trash": "trash", "move": "move", None: "remove"}.get(plan.kind, "link")
    row = linking.ROW_ACTIONS.get(str(plan.link), verb)
    listing.write_actions(listing.action_rows(result, row, plan.kind in ("move", "link")), form)
    freed = sum(o.freed for o in result.done)
    if plan.kind == "link":
        verb = {"hard": "hard-link", "symlink": "symlink"}.get(str(plan.link), "reflink")
    ui.err.print(
        f"Dry run: would {verb} [bold]{len(result.done)}[/] files, freeing "
        f"[bold]{human_bytes(freed)}[/]; [bold]{len(result.skipped)}[/] would be skipped. "
        "Nothing was changed."
    )
    if plan.kind is None:
        ui.err.print("To act, run again with --trash, --move DIR or --link KIND.")
    return OK


def _summary(result: core.ApplyResult, plan: core.Plan, ui: UI) -> None:
    err = ui.err
    shown = result.skipped[:SHOWN_SKIPS]
    for skip in shown:
        err.print(f"[yellow]skipped:[/] {escape(skip.path)}: {escape(skip.reason)}", soft_wrap=True)
    if len(result.skipped) > len(shown):
        where = (
            f"all in the journal {escape(result.journal)}"
            if result.journal
            else "`--dry-run` lists them all"
        )
        err.print(f"… and {len(result.skipped) - len(shown)} more skipped ({where})")
    verb, how = {"trash": ("Trashed", ""), "move": ("Moved", "")}.get(str(plan.kind), ("", ""))
    if plan.kind == "link":
        verb, how = _SUMMARY[str(plan.link)]
    earlier = f" (+{len(result.previously)} by the interrupted run)" if result.previously else ""
    freed = f"[bold]{human_bytes(result.bytes_freed)}[/] freed"
    if plan.kind == "trash" or (plan.kind == "link" and plan.link != "reflink"):
        freed += " once the trash is emptied"
    elif plan.kind == "link":
        freed = "up to " + freed  # blocks also held by a snapshot stay in use
    err.print(
        f"{verb} [bold]{len(result.done)}[/] files{how}{earlier}, {freed}; "
        f"[bold]{len(result.skipped)}[/] skipped."
    )
    if result.journal:
        err.print(f"Journal: {escape(result.journal)}", soft_wrap=True)
        if result.done or result.previously:
            err.print("Undo with: dedupe undo")
    else:
        err.print("No file was trashed, moved or linked, so no journal was written.")
