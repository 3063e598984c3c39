"""`dedupe undo`: put back every file an apply trashed or moved, as recorded in its journal."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from dedupe import apply as core
from dedupe import journal
from dedupe.cli import ExitCode
from dedupe.cli.ui import UI, CliError, escape, write_data

SHOWN_SKIPS = 50


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "undo",
        help="put back the files of the last apply (or of a given journal)",
        description="Restore every file the last `dedupe apply` trashed or moved to its original "
        "path, byte-identical. A file that has appeared at an original path since is never "
        "overwritten. On Linux trashed files are found in the freedesktop trash; on macOS and "
        "Windows only moved files can be put back (restore trashed ones from the system trash).",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help=f"the journal of the apply to undo (default: the newest in {journal.journals_dir()})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be put back; change nothing"
    )
    parser.set_defaults(run=run)


def _unmark_move_target(move_to: object) -> None:
    """An undo that emptied a --move target also takes away the marker apply left there."""
    if isinstance(move_to, str):
        from dedupe.filters import unmark_move_target

        with contextlib.suppress(OSError):
            unmark_move_target(move_to)


def run(args: argparse.Namespace, ui: UI) -> int:
    try:
        state = core.find_journal(args.journal)
    except core.Refused as error:
        raise CliError(f"refusing to undo: {error}", ExitCode.REFUSED) from None
    todo = [e for e in state.done if not e.undone]
    if args.dry_run:
        lines = [
            f"restore\t{entry.path}\t<- {(entry.done or {}).get('destination') or 'the trash'}"
            for entry in sorted(todo, key=lambda e: -e.seq)
        ]
        if lines:
            write_data("\n".join(lines) + "\n")
        pending = len(state.pending)
        ui.err.print(
            f"Dry run: would put back {len(todo)} files from {escape(str(state.path))}"
            + (f" (and settle {pending} interrupted actions)" if pending else "")
            + ". Nothing was changed.",
            soft_wrap=True,
        )
        return ExitCode.OK
    if not todo and not state.pending:
        where = escape(str(state.path))
        message = (
            f"every file of the apply recorded in {where} is already back."
            if state.done
            else f"the apply recorded in {where} trashed or moved no file."
        )
        hint = "" if args.journal else " To undo an older apply, give its --journal."
        ui.err.print(f"Nothing to undo: {message}{hint}", soft_wrap=True)
        return ExitCode.OK
    try:
        writer = core.open_undo(state)
    except core.Refused as error:
        raise CliError(f"refusing to undo: {error}", ExitCode.REFUSED) from None
    try:
        with ui.progress() as progress:
            result = core.undo(state, writer, progress)
    finally:
        writer.close()
    _unmark_move_target(state.header.get("move_to"))
    for note in result.notes:
        ui.err.print(f"[cyan]settled:[/] {escape(note)}", soft_wrap=True)
    for skip in result.skipped[:SHOWN_SKIPS]:
        ui.err.print(
            f"[yellow]not restored:[/] {escape(skip.path)}: {escape(skip.reason)}", soft_wrap=True
        )
    if len(result.skipped) > SHOWN_SKIPS:
        ui.err.print(f"… and {len(result.skipped) - SHOWN_SKIPS} more not restored")
    already = f", {len(result.already)} were already back" if result.already else ""
    ui.err.print(
        f"Put back [bold]{len(result.restored)}[/] files{already}; "
        f"[bold]{len(result.skipped)}[/] could not be. Journal: {escape(result.journal)}",
        soft_wrap=True,
    )
    if result.interrupted:
        ui.err.print("[yellow]Interrupted.[/] Run `dedupe undo` again to finish.")
        return ExitCode.INTERRUPTED
    return ExitCode.PARTIAL if result.skipped else ExitCode.OK
