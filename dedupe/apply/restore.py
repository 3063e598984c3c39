"""Putting one journaled file back at its original path (undo, and a unit rolled back by
apply): taken only from where apply put it, never through a symbolic link, never over a file
that has appeared there since.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dedupe import fsops, journal, linking, trash
from dedupe import report as report_mod
from dedupe.apply.check import file_digest
from dedupe.apply.plan import anchor_of
from dedupe.apply.transfer import transfer
from dedupe.fsops import TargetExists


@dataclass(frozen=True, slots=True)
class Restored:
    path: str
    source: str


def _remove_trashinfo(info_path: str | None) -> None:
    if info_path:
        Path(info_path).unlink(missing_ok=True)


def _in_trash(path: str, digest: str) -> trash.TrashedFile | None:
    return next(
        (t for t in trash.find_by_original(path) if file_digest(t.files_path) == digest), None
    )


def _inside(path: str, folders: Sequence[str]) -> bool:
    return any(path.startswith(os.path.join(folder, "")) for folder in folders)


def _recorded_source(
    intent: dict[str, Any], done: dict[str, Any], header: dict[str, Any]
) -> tuple[str, str | None, str] | str:
    """Where the journal says the file went, if that is a place apply puts files: (the file,
    its .trashinfo, the folder the walk to it starts from), or why undo does not take it from
    there. Apply puts a trashed file in a trash's `files` folder, its .trashinfo (which names
    the original path) in `info` beside it, and a moved file at its --move target; a journal
    that says anything else was not written so, and undo never takes a file from elsewhere."""
    path, source = str(intent["path"]), str(done["destination"])
    where = f"the journal says it went to {source}, which is not where apply puts it"
    if not os.path.isabs(source) or "\0" in source:
        return f"{where} (not an absolute path)"
    if intent["action"] == "move":
        move_to = header.get("move_to")
        if source != intent.get("target") or not (
            isinstance(move_to, str) and _inside(source, [move_to])
        ):
            return f"{where} (its target under the --move folder); it is not put back"
        return source, None, move_to
    files, name = os.path.split(source)
    folder = os.path.dirname(files)
    info_path = os.path.join(folder, "info", name + trash.INFO_SUFFIX)
    if os.path.basename(files) != "files" or done.get("trashinfo") not in (None, info_path):
        return f"{where} (a trash's files folder, its .trashinfo in info); it is not put back"
    if os.path.lexists(source):
        tops = (os.path.dirname(folder), os.path.dirname(os.path.dirname(folder)))
        if not any((trash.read_info(info_path, top) or ("",))[0] == path for top in tops):
            return (
                f"{source} is not known to be the trashed file: its .trashinfo {info_path} "
                f"is missing or does not say it came from {path}; it is not put back"
            )
    return source, info_path, files


def _restore_one(entry: journal.Entry, state: journal.State) -> Restored | str | None:
    """Put one file back. Returns Restored, None when it already is back, or why it cannot be.

    The original's folder is reached from its scanned folder with no symbolic link on the way
    (missing folders are made again), so a folder replaced by a symlink since the apply is
    never restored into; the file is taken back only from where apply put it."""
    intent, done = entry.intent, entry.done
    assert done is not None
    path = entry.path
    digest = str(intent["digest"])
    if report_mod.path_problem(path) is not None or (
        state.roots and not _inside(path, state.roots)
    ):
        return (
            "its path is not a plain path inside the scanned folders of that apply (the "
            "journal was not written so); nothing is put there"
        )
    if intent["action"] == "link":
        return _restore_link(entry, state.roots)
    if done.get("destination") is None:
        if intent["action"] == "trash" and not trash.FREEDESKTOP:
            return "it was sent to the system trash; restore it from there"
        found = _in_trash(path, digest)
        if found is None:
            return "it cannot be found in the trash (was the trash emptied?)"
        source, anchor = found.files_path, os.path.dirname(found.files_path)
        info_path: str | None = found.info_path
    else:
        recorded = _recorded_source(intent, done, state.header)
        if isinstance(recorded, str):
            return recorded
        source, info_path, anchor = recorded
    root = anchor_of(path, state.roots)
    try:
        return _restore_from(path, root, source, anchor, info_path, intent, done, digest)
    except fsops.UnsafePath as error:
        return f"it is not put back: {error} now (undo never restores through a symbolic link)"


def _open_source(source: str, anchor: str) -> tuple[fsops.Folder | None, str]:
    """The folder holding `source`, reached from `anchor` (None when it is gone)."""
    try:
        return fsops.open_parent(source, anchor, follow_anchor=True)
    except FileNotFoundError:
        return None, os.path.basename(source)


def _restore_from(
    path: str,
    root: str,
    source: str,
    anchor: str,
    info_path: str | None,
    intent: dict[str, Any],
    done: dict[str, Any],
    digest: str,
) -> Restored | str | None:
    try:
        target, name = fsops.open_parent(path, root)
    except FileNotFoundError:
        target, name = None, os.path.basename(path)  # its folder is gone: made again below
    with contextlib.ExitStack() as stack:
        try:
            origin, sname = _open_source(source, anchor)
        except OSError as error:
            return f"cannot read {source} ({error.strerror or error})"
        if origin is not None:
            stack.enter_context(origin)
        if target is not None:
            stack.enter_context(target)
            if target.lexists(name):
                return _already_there(target, name, origin, sname, info_path, digest, path)
        info = origin.lstat_or_none(sname) if origin is not None else None
        if info is None and intent["action"] == "trash":
            found = _in_trash(path, digest)
            if found is not None:
                source, info_path = found.files_path, found.info_path
                origin, sname = _open_source(source, os.path.dirname(source))
                if origin is not None:
                    stack.enter_context(origin)
                    info = origin.lstat_or_none(sname)
        if origin is None or info is None:
            return f"it is no longer at {source} (deleted or emptied from the trash?)"
        actual = fsops.digest_in(origin, sname) if stat.S_ISREG(info.st_mode) else None
        if actual is None or (actual != digest and not done.get("unverified")):
            return f"the file at {source} is not the one that was removed (its content differs)"
        if target is None:
            target, name = fsops.open_parent(path, root, create=True)
            stack.enter_context(target)
        try:
            transfer(origin, sname, target, name, fsops.Identity.of(info), actual)
        except TargetExists:
            return f"a file has appeared at {path}; it is not overwritten"
        except fsops.Changed:
            return f"{source} changed while it was being restored"
        except OSError as error:
            return f"could not restore it from {source} ({error.strerror or error})"
    _remove_trashinfo(info_path)
    return Restored(path, source)


def _already_there(
    target: fsops.Folder,
    name: str,
    origin: fsops.Folder | None,
    sname: str,
    info_path: str | None,
    digest: str,
    path: str,
) -> str | None:
    """Something is at the original path: the restored file (None), or another one (why)."""
    here = target.lstat(name)
    partial = target.lstat_or_none(fsops.partial_name(name))
    if partial is not None and (partial.st_dev, partial.st_ino) == (here.st_dev, here.st_ino):
        target.unlink(fsops.partial_name(name))  # an undo cut between its copy's two names
    aside = fsops.partial_aside(target, name)  # ... or while that copy's first name was dropped
    if aside is not None:
        target.unlink_quietly(aside)
    there = origin.lstat_or_none(sname) if origin is not None else None
    if origin is not None and there is not None and fsops.Identity.of(here).same_object(there):
        fsops.drop(origin, sname, fsops.Identity.of(there))  # an undo cut between two steps
        _remove_trashinfo(info_path)
        return None
    if fsops.digest_in(target, name) == digest:
        # Back in place (restored by hand, or by an undo cut short after its copy across
        # devices): the removed copy, if still there with the same bytes, is redundant.
        if origin is None or there is None or fsops.digest_in(origin, sname) == digest:
            if origin is not None:
                if there is not None:
                    fsops.drop(origin, sname, fsops.Identity.of(there))
                aside = fsops.aside_name(sname)  # an undo cut short while dropping that name
                if fsops.digest_in(origin, aside) == digest:
                    origin.unlink_quietly(aside)
            _remove_trashinfo(info_path)
        return None
    source = origin.join(sname) if origin is not None else sname
    return (
        f"a file has appeared at {path} since the apply; it is not overwritten "
        f"(the removed copy is still at {source})"
    )


def _restore_link(entry: journal.Entry, roots: Sequence[str]) -> Restored | str | None:
    """Undo of one --link action (linking.restore)."""
    assert entry.done is not None
    path = entry.path
    try:
        back = linking.restore(entry.intent, entry.done, anchor_of(path, roots))
    except fsops.UnsafePath as error:
        return f"it is not put back: {error} now (undo never restores through a symbolic link)"
    except (OSError, fsops.Changed, TargetExists) as error:
        return f"could not put it back ({getattr(error, 'strerror', None) or error})"
    return Restored(path, back.source) if isinstance(back, linking.Back) else back
