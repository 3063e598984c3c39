"""Settling what a crash left between an action's "intent" and "done" records, by looking at
the disk: when an interrupted apply is resumed, and before an undo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dedupe import fsops, journal, linking, trash
from dedupe.apply.plan import anchor_of
from dedupe.apply.restore import _in_trash
from dedupe.apply.transfer import partial_path


def _done_record(
    seq: int, intent: dict[str, Any], destination: str | None, info: str | None
) -> dict[str, Any]:
    size = int(intent["size"])
    return {
        "type": "done",
        "seq": seq,
        "destination": destination,
        "trashinfo": info,
        "freed": size if int(intent.get("nlink", 1)) == 1 else 0,
        "recovered": True,
    }


def _drop_name(path: str, root: str, dev: int, ino: int, digest: str) -> None:
    """Remove the name `path` (reached with no symlink below `root`) if it is the file with that
    device and inode, or has that digest: its other copy is complete and verified."""
    try:
        folder, name = fsops.open_parent(path, root)
    except (OSError, fsops.UnsafePath):
        return
    with folder:
        info = folder.lstat_or_none(name)
        if info is None:
            return
        if (info.st_dev, info.st_ino) == (dev, ino) or fsops.digest_in(folder, name) == digest:
            fsops.drop(folder, name, fsops.Identity.of(info))
            folder.sync()


def _look(path: str, anchor: str, *, follow_anchor: bool = False) -> os.stat_result | None:
    """lstat of `path`, reached from `anchor` one folder at a time (so at any depth, beyond
    PATH_MAX too); None when it, or a real folder on the way, is not there."""
    try:
        folder, name = fsops.open_parent(path, anchor, follow_anchor=follow_anchor)
    except (OSError, fsops.UnsafePath):
        return None
    with folder:
        try:
            return folder.lstat_or_none(name)
        except OSError:
            return None


def _aside(path: str, root: str, dev: int, ino: int, *, settled: bool) -> str | None:
    """Settle what a crash while the old name of `path` was being dropped (fsops.drop) left
    under its private name: before the rest of reconcile looks (`settled` False), the file
    there gets its name back if the name is free (the checked file: two names of one file,
    which reconcile settles; another file renamed onto the name: back where it was); once the
    action is recorded as done (`settled`), the checked file's private name goes. Returns a
    note for a file that cannot be given its name back."""
    try:
        folder, name = fsops.open_parent(path, root)
    except (OSError, fsops.UnsafePath):
        return None
    with folder:
        aside = fsops.aside_name(name)
        info = folder.lstat_or_none(aside)
        if info is None:
            return None
        ours = (info.st_dev, info.st_ino) == (dev, ino)
        if settled:
            if ours:
                folder.unlink(aside)
            return None
        if not folder.lexists(name):
            fsops.give_back(folder, aside, name)
        if folder.lexists(aside) and not ours:
            return f"{folder.join(aside)} was at {path} when apply was interrupted; it is kept"
    return None


def _move_anchor(target: str, move_to: object) -> str:
    """Where the walk to a --move target starts (a symlink there is the user's): the --move
    folder, or for a journal that does not name it, the target's own folder."""
    if isinstance(move_to, str) and target.startswith(os.path.join(move_to, "")):
        return move_to
    return os.path.dirname(target)


def _digest_at(path: str, anchor: str) -> str | None:
    try:
        folder, name = fsops.open_parent(path, anchor, follow_anchor=True)
    except (OSError, fsops.UnsafePath):
        return None
    with folder:
        return fsops.digest_in(folder, name)


def _remove_partial(target: str, anchor: str) -> bool:
    """Remove the unfinished copy beside a --move target; whether there was one."""
    try:
        folder, name = fsops.open_parent(target, anchor, follow_anchor=True)
    except (OSError, fsops.UnsafePath):
        return False
    with folder:
        partial = fsops.partial_name(name)
        aside = fsops.partial_aside(folder, name)  # a crash while that copy's name was dropped
        if aside is not None:
            folder.unlink_quietly(aside)
        if not folder.lexists(partial):
            return aside is not None
        folder.unlink_quietly(partial)
        return True


def reconcile(state: journal.State, writer: journal.Writer) -> list[str]:
    """Settle every action a crash left between "intent" and "done", by looking at the disk.

    Each pending action either happened (the file is at its destination: record "done") or did
    not (the file is still in place: record "failed", so it is tried again). Returns notes.
    Every look is made from the scanned folder (or the --move folder) one folder at a time,
    as apply acts, so files deeper than PATH_MAX are settled too.
    """
    notes: list[str] = []
    roots = state.roots
    for entry in sorted(state.pending, key=lambda e: e.seq):
        intent = entry.intent
        path = entry.path
        root = anchor_of(path, roots)
        if intent["action"] == "link":
            record, settled = linking.settle(intent, root)
            writer.append(record)
            notes.append(f"{path}: {settled}")
            continue
        dev, ino = int(intent.get("dev", -1)), int(intent.get("ino", -1))
        digest = str(intent["digest"])
        note = _aside(path, root, dev, ino, settled=False)
        if note is not None:
            notes.append(note)
        info = _look(path, root)
        here = info is not None
        if intent["action"] == "trash":
            for partial in trash.partial_copies(path):  # a copy into the trash, cut short
                Path(partial).unlink(missing_ok=True)
                notes.append(f"{partial}: an unfinished copy into the trash was removed")
            if info is not None and (info.st_dev, info.st_ino) == (dev, ino):
                found = trash.locate(path, dev, ino)
                if found is not None:  # cut between the link into the trash and the unlink
                    _drop_name(path, root, dev, ino, digest)
                    notes.append(f"{path}: was being trashed when interrupted; finished")
            else:
                found = trash.locate(path, dev, ino) or _in_trash(path, digest)
                if found is not None:
                    notes.append(f"{path}: was trashed just before the interruption; recorded")
            if found is not None:
                writer.append(_done_record(entry.seq, intent, found.files_path, found.info_path))
                _aside(path, root, dev, ino, settled=True)
                continue
        else:
            target = str(intent["target"])
            anchor = _move_anchor(target, state.header.get("move_to"))
            if _remove_partial(target, anchor):
                notes.append(f"{partial_path(target)}: an unfinished copy was removed")
            there = _look(target, anchor, follow_anchor=True)
            if there is not None and (
                (there.st_dev, there.st_ino) == (dev, ino) or _digest_at(target, anchor) == digest
            ):
                if here:
                    _drop_name(path, root, dev, ino, digest)  # the target is complete, verified
                writer.append(_done_record(entry.seq, intent, target, None))
                _aside(path, root, dev, ino, settled=True)
                notes.append(f"{path}: was moved just before the interruption; recorded")
                continue
        if here:
            verb = "trashed" if intent["action"] == "trash" else "moved"
            removed = trash.remove_orphan_info(path) if intent["action"] == "trash" else 0
            writer.append(
                {"type": "failed", "seq": entry.seq, "reason": f"interrupted before {verb}"}
            )
            notes.append(
                f"{path}: interrupted before it was {verb}; it is still in place"
                + (" (a stray .trashinfo was removed)" if removed else "")
            )
            continue
        reason = "after the interruption the file is neither in place nor at its destination"
        writer.append({"type": "failed", "seq": entry.seq, "reason": reason})
        notes.append(f"{path}: {reason}; something else moved or deleted it")
    return notes
