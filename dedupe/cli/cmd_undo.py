"""`dedupe undo`: put back every file an apply trashed or moved, as recorded in its journal."""

from __future__ import annotations

import argparse
from typing import Any

from dedupe import api, journal
from dedupe.cli import ExitCode
from dedupe.cli.ui import UI, CliError, escape, write_data
from dedupe.errors import Refused

SHOWN_SKIPS = 50


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "undo",
        help="put back the files of the last apply (or of a given journal)",
        description="Restore every file the last `dedupe apply` trashed, moved or linked to its "
        "original path, byte-identical (a linked duplicate's own file comes back in place of "
        "its link). A file that has appeared at an original path since is never overwritten. "
        "Without --journal, the newest apply that has something left to undo is "
        "undone (newer ones with nothing to undo are named). On Linux trashed files are found "
        "in the freedesktop trash; on macOS and Windows only moved files can be put back "
        "(restore trashed ones from the system trash).",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="the journal of the apply to undo (default: the newest with something to undo, "
        f"in {journal.journals_dir()})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be put back; change nothing"
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the journals, newest first (started, state, action, files done and undone, "
        "report, journal), tab-separated on stdout; change nothing",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    if args.list:
        return _list(ui)
    try:
        found = api.find_journal(args.journal)
    except Refused as error:
        raise CliError(f"refusing to undo: {error}", ExitCode.REFUSED) from None
    state = found.state
    todo = [e for e in state.done if not e.undone]
    damage = state.describe_damage()
    if found.passed_over and state.undoable:
        passed = "; ".join(escape(item) for item in found.passed_over[:3])
        if len(found.passed_over) > 3:
            passed += f"; and {len(found.passed_over) - 3} more (see --list)"
        ui.err.print(
            f"The newest apply with something to undo is the apply of {escape(state.report)} "
            f"started {escape(state.started_at)} (journal {escape(str(state.path))}); newer "
            f"journals have nothing left to undo: {passed}",
            soft_wrap=True,
        )
    if damage:
        ui.err.print(
            f"[yellow]warning:[/] {escape(damage)}; those lines are ignored and the rest is "
            "used (a file they describe cannot be put back from this journal: look for it in "
            "the trash or the --move folder)",
            soft_wrap=True,
        )
    if args.dry_run:
        lines = [
            f"restore\t{entry.path}\t<- {_restored_from(entry)}"
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
    if not state.undoable:
        where = escape(str(state.path))
        if damage:
            raise CliError(
                f"refusing to undo: {damage}, and what can be read of it records nothing to undo",
                ExitCode.REFUSED,
            )
        message = (
            f"every file of the apply recorded in {where} is already back."
            if state.done
            else f"the apply recorded in {where} trashed or moved no file."
        )
        hint = "" if args.journal else " To undo another apply, give its --journal (see --list)."
        ui.err.print(f"Nothing to undo: {message}{hint}", soft_wrap=True)
        api.undo_apply(state)  # nothing to put back: it only tidies the empty --move folders
        return ExitCode.OK
    try:
        with ui.progress() as progress:
            result = api.undo_apply(state, progress=progress)
    except Refused as error:
        raise CliError(f"refusing to undo: {error}", ExitCode.REFUSED) from None
    except OSError as error:  # the journal cannot be written (disk full, ...): stop at once
        raise CliError(_stopped(state, error), ExitCode.ERROR) from None
    for note in result.notes:
        ui.err.print(f"[cyan]settled:[/] {escape(note)}", soft_wrap=True)
    for skip in result.skipped[:SHOWN_SKIPS]:
        ui.err.print(
            f"[yellow]not restored:[/] {escape(skip.path)}: {escape(skip.reason)}", soft_wrap=True
        )
    if len(result.skipped) > SHOWN_SKIPS:
        ui.err.print(f"… and {len(result.skipped) - SHOWN_SKIPS} more not restored")
    if state.header.get("link") == "reflink" and result.already:
        ui.err.print(
            "A reflinked file kept its own inode, bytes and times all along: there is nothing "
            "to put back (its shared blocks are copied apart when either file is written)."
        )
    already = f", {len(result.already)} were already back" if result.already else ""
    ui.err.print(
        f"Put back [bold]{len(result.restored)}[/] files{already}; "
        f"[bold]{len(result.skipped)}[/] could not be. Journal: {escape(result.journal)}",
        soft_wrap=True,
    )
    if result.interrupted:
        ui.err.print("[yellow]Interrupted.[/] Run `dedupe undo` again to finish.")
        return ExitCode.INTERRUPTED
    return ExitCode.PARTIAL if result.skipped or damage else ExitCode.OK


def _restored_from(entry: journal.Entry) -> str:
    """Where undo takes a file back from, for its dry run."""
    if entry.intent.get("link") == "reflink":
        return "itself (a reflinked file kept its own inode and bytes: nothing to put back)"
    return str((entry.done or {}).get("destination") or "the trash")


def _stopped(state: journal.State, error: OSError) -> str:
    again = f"dedupe undo --journal {state.path}"
    return (
        f"stopped: the journal {state.path} cannot be written ({error.strerror or error}). "
        f"Every file put back so far is back; run `{again}` again once this is fixed."
    )


def _list(ui: UI) -> int:
    lines = ["started\tstate\taction\tdone\tundone\treport\tjournal"]
    journals = journal.listing()
    for path, state in journals:
        if isinstance(state, journal.JournalError):
            lines.append(f"\tdamaged\t\t\t\t\t{path}")
            continue
        done = state.done
        status = "running" if journal.is_in_use(path) else state.status
        action = str(state.header.get("action", ""))
        if action == "move":
            action = f"move {state.header.get('move_to')}"
        elif action == "link":
            action = f"link {state.header.get('link')}"
        undone = sum(e.undone for e in done)
        lines.append(
            f"{state.started_at}\t{status}\t{action}\t{len(done)}\t{undone}\t{state.report}\t{path}"
        )
    write_data("\n".join(lines) + "\n")
    ui.err.print(
        f"{len(journals)} journals in {escape(str(journal.journals_dir()))}, newest first.",
        soft_wrap=True,
    )
    return ExitCode.OK
