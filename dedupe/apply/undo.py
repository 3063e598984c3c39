"""Undo: the journal to undo (`find_journal`), locked with every drive its files are on
(`open_undo`), and every file its apply removed put back, newest first (`undo`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dedupe import fsops, journal
from dedupe.apply.act import Skip, _uninterrupted
from dedupe.apply.reconcile import reconcile
from dedupe.apply.restore import Restored, _restore_one
from dedupe.apply.session import drive_locks
from dedupe.errors import Refused
from dedupe.journal import JournalError
from dedupe.scan import NoProgress, Progress


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What an undo did: each file put back (`restored`), those already in place, each left
    where it is with its reason (`skipped`)."""

    journal: str
    restored: tuple[Restored, ...]
    already: tuple[str, ...]  # already back in place (restored by hand, or by an earlier undo)
    skipped: tuple[Skip, ...]
    notes: tuple[str, ...] = ()
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """The journal undo picked, and what it passed over on the way (newest first)."""

    state: journal.State
    passed_over: tuple[str, ...] = ()  # newer journals with nothing left to undo, in words


def find_journal(path: str | Path | None) -> Found:
    """The journal to undo: the given one, or the newest that has something left to undo.

    Newer journals with nothing to undo (an apply that trashed nothing, one already undone) are
    passed over and named in `passed_over`. A newer journal that cannot be read at all stops
    the search (Refused, naming it): undo never quietly picks an older apply instead of one it
    cannot read. When no journal has anything to undo, the newest is returned.
    """
    if path is not None:
        try:
            return Found(journal.read(path))
        except JournalError as error:
            raise Refused(str(error)) from None
    journals = journal.listing()
    if not journals:
        raise Refused(f"no apply to undo (no journal in {journal.journals_dir()})")
    passed: list[str] = []
    newest: journal.State | None = None
    for where, state in journals:
        if isinstance(state, JournalError):
            raise Refused(
                f"the journal {where} cannot be read ({state}); it may be the apply you mean to "
                "undo. Give the journal to undo with --journal (`dedupe undo --list` lists "
                "them), or move the damaged file out of the journals folder"
            )
        newest = newest or state
        if state.undoable:
            return Found(state, tuple(passed))
        what = "already undone" if state.done else "it trashed or moved no file"
        damage = f"; {state.describe_damage()}" if state.damage else ""
        passed.append(f"{state.path} (apply of {state.report}: {what}{damage})")
    assert newest is not None
    return Found(newest)


def _prune_empty_dirs(directory: str, stop: str) -> None:
    """Remove the folders `--move` created under `stop` once undo has emptied them (each one
    reached from `stop`, at any depth)."""
    try:
        parts = fsops.components(os.path.abspath(directory), os.path.abspath(stop))
    except fsops.UnsafePath:
        return
    while parts:
        name = parts.pop()
        try:
            with fsops.open_folder(os.path.join(stop, *parts), stop, follow_anchor=True) as folder:
                folder.rmdir(name)  # only ever succeeds on an empty folder
        except (OSError, fsops.UnsafePath):
            return


def tidy_move_folders(state: journal.State, pruned: frozenset[str] = frozenset()) -> None:
    """Remove the folders `--move` made for the journal's files, where empty (each reached from
    the --move folder): those an undo put back, also those an undo killed before it removed
    their folders left behind. Only ever removes empty folders (a file not put back keeps its
    folders). Each folder is tried once, none of `pruned` (tried already)."""
    move_to = state.header.get("move_to")
    if not isinstance(move_to, str):
        return
    folders = set()
    for entry in state.done:
        destination = (entry.done or {}).get("destination") or entry.intent.get("target")
        if entry.intent["action"] == "move" and isinstance(destination, str):
            folders.add(os.path.dirname(destination))
    for folder in sorted(folders - pruned):
        _prune_empty_dirs(folder, move_to)


@dataclass
class UndoSession:
    """A journal locked for undo, with the locks of the drives its files are on."""

    writer: journal.Writer
    locks: journal.Locks

    def close(self) -> None:
        self.writer.close()
        self.locks.release()


def open_undo(state: journal.State) -> UndoSession:
    """Lock a journal for undo, and every drive its files are on or go back to. Raises Refused
    when an apply or undo is using the journal or one of those drives."""
    paths: list[str] = []
    for entry in state.undoable:
        paths.append(entry.path)
        destination = (entry.done or {}).get("destination") or entry.intent.get("target")
        if isinstance(destination, str):
            paths.append(destination)
    move_to = state.header.get("move_to")
    if isinstance(move_to, str):  # the folders undo may remove there (tidy_move_folders)
        paths.append(move_to)
    drives, _ = drive_locks(paths, f"undo of {state.path}")
    locks = journal.Locks(drives)
    try:
        locks.acquire()
        writer = journal.Writer.append_to(state.path)
    except JournalError as error:  # Locked
        locks.release()
        raise Refused(str(error)) from None
    except BaseException:
        locks.release()
        raise
    return UndoSession(writer, locks)


def undo(
    state: journal.State, session: UndoSession, progress: Progress | None = None
) -> UndoResult:
    """Put back every file the journal's apply trashed or moved, newest first, byte-identical,
    never overwriting a file that has appeared at the original path since.

    Raises OSError when the journal cannot be written (disk full): what was put back so far is
    recorded, and running undo again carries on."""
    progress = progress or NoProgress()
    writer = session.writer
    notes = reconcile(state, writer)
    state = journal.read(state.path)
    todo = sorted((e for e in state.done if not e.undone), key=lambda e: -e.seq)
    progress.start("Restoring", len(todo))
    restored: list[Restored] = []
    already: list[str] = []
    skipped: list[Skip] = []
    pruned: set[str] = set()  # folders already tried for removal
    interrupted = False
    try:
        for entry in todo:
            with _uninterrupted():
                outcome = _restore_one(entry, state)
                if isinstance(outcome, str):
                    skipped.append(Skip(entry.path, int(entry.intent.get("group", 0)), outcome))
                    skip = {"type": "undo-skip", "seq": entry.seq, "reason": outcome}
                    writer.append(skip, sync=False)
                else:
                    writer.append({"type": "undone", "seq": entry.seq})
                    if outcome is None:
                        already.append(entry.path)
                    else:
                        restored.append(outcome)
                    # the folders --move made, emptied (also by an undo cut short: "already")
                    move_to = state.header.get("move_to")
                    source = outcome.source if outcome is not None else None
                    source = source or (entry.done or {}).get("destination")
                    if (
                        entry.intent["action"] == "move"
                        and isinstance(move_to, str)
                        and isinstance(source, str)
                    ):
                        pruned.add(os.path.dirname(source))
                        _prune_empty_dirs(os.path.dirname(source), move_to)
            progress.advance()
        if state.ended is None:
            writer.append({"type": "end", "status": "undone", "at": journal.now()})
        # and those of files an earlier undo, killed, put back
        tidy_move_folders(state, frozenset(pruned))
    except KeyboardInterrupt:
        interrupted = True
    return UndoResult(
        journal=str(state.path),
        restored=tuple(restored),
        already=tuple(already),
        skipped=tuple(skipped),
        notes=tuple(notes),
        interrupted=interrupted,
    )
