"""Find the regular files under the scanned roots: sorted, symlink- and permission-safe.

Only regular files are yielded: FIFOs, sockets and device files are never opened (the walk
reads directory entries and stats, nothing else). Problems (permission denied, a broken
symbolic link, a symlink loop, a folder that vanished) are yielded as `Problem` values and the
walk goes on.

Symbolic links are not followed unless asked, so a link can never make one file look like
two; a broken link or a link loop is still reported, since it usually means a photo has gone
missing. With `follow_symlinks`, everything reachable without links is walked first; then
linked folders, each once (a folder already walked, such as a link back to an ancestor, is not
walked again); then files reached through a link to the file itself, under their real path
and only when the walk did not reach them under another name. Duplicates are files, not names.

With a `Selection`, what it leaves out (filters.py) is passed over as it is met: a folder is
not entered, a file not yielded; each is told to the `passed` callback with its reason.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from dedupe.filters import MOVE_TARGET, Filter
from dedupe.models import FileEntry, Problem, Selection


def _sort_key(entry: os.DirEntry[str]) -> bytes:
    # Sort by raw bytes so names that are not valid UTF-8 sort deterministically too.
    return os.fsencode(entry.name)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a folder is, for the filters: its path relative to its root (empty for the root,
    else ending in "/"), how many levels below the root, and the root's device."""

    relative: str
    depth: int
    root_dev: int

    def below(self, name: str) -> _Place:
        return _Place(f"{self.relative}{name}/", self.depth + 1, self.root_dev)


@dataclass
class _State:
    follow_symlinks: bool
    # Whether files reached through a symlink are possible (followed links, or a root that is a
    # link): only then is every file's (device, inode) remembered, to be recognised later.
    track_files: bool
    filter: Filter | None = None
    passed: Callable[[str, str], None] | None = None
    seen_dirs: set[tuple[int, int]] = field(default_factory=set)
    seen_paths: set[str] = field(default_factory=set)
    seen_files: set[tuple[int, int]] = field(default_factory=set)
    # Folders and files reached through a symlink, in walk order: walked (folders) and yielded
    # (files) after everything reachable without links, so a real name always wins over a link.
    linked_dirs: list[tuple[str, os.stat_result, _Place]] = field(default_factory=list)
    linked: list[tuple[str, os.stat_result]] = field(default_factory=list)

    def pass_over(self, reason: str, path: str) -> None:
        if self.passed is not None:
            self.passed(reason, path)


def walk(
    roots: tuple[str, ...],
    *,
    follow_symlinks: bool = False,
    selection: Selection | None = None,
    passed: Callable[[str, str], None] | None = None,
) -> Iterator[FileEntry | Problem]:
    """Yield every regular file under `roots` (depth-first, sorted by name) or a Problem.

    Each file is yielded once even when roots overlap or symlinks point back into the tree.
    Hard links (several names of one file) are all yielded; the scan lists them as one file.
    `selection` leaves files and folders out (nothing when None); `passed(reason, path)` hears
    of each. Raises filters.PatternError for an --exclude pattern that is not one.
    """
    state = _State(
        follow_symlinks,
        follow_symlinks or any(map(os.path.islink, roots)),
        Filter(selection) if selection is not None else None,
        passed,
    )
    for root in roots:
        try:
            info = os.stat(root)
        except OSError as error:
            yield Problem(root, _reason(error, "root"))
            continue
        if stat.S_ISDIR(info.st_mode):
            yield from _walk_dir(root, info, state, _Place("", 0, info.st_dev))
        elif stat.S_ISREG(info.st_mode):
            if os.path.islink(root):
                state.linked.append((root, info))
            else:
                found = _file(root, info, state)
                if found is not None:
                    yield found
        else:
            yield Problem(root, "not a file or folder (a device, FIFO or socket): not read")
    while state.linked_dirs:
        path, info, place = state.linked_dirs.pop(0)
        yield from _walk_dir(path, info, state, place)
    for path, info in state.linked:
        if (info.st_dev, info.st_ino) in state.seen_files:
            continue  # the walk found this file under another name
        real = os.path.realpath(path)
        try:
            real_info = os.stat(real, follow_symlinks=False)
        except OSError as error:
            yield Problem(path, _reason(error, "link"))
            continue
        if stat.S_ISREG(real_info.st_mode):
            found = _file(real, real_info, state)
            if found is not None:
                yield found


def _walk_dir(
    top: str, info: os.stat_result, state: _State, place: _Place
) -> Iterator[FileEntry | Problem]:
    key = (info.st_dev, info.st_ino)
    if key in state.seen_dirs:
        return  # an overlapping root, or a followed symlink that loops back
    state.seen_dirs.add(key)
    try:
        with os.scandir(top) as iterator:
            entries = sorted(iterator, key=_sort_key)
    except OSError as error:
        yield Problem(top, _reason(error, "folder"))
        return
    chosen = state.filter
    if chosen is not None and place.depth and chosen.marked(e.name for e in entries):
        state.pass_over(MOVE_TARGET, top)
        return
    for entry in entries:
        path = entry.path
        if chosen is not None:
            # Hidden and special names first, before a stat: a hidden link (many a dotfile in
            # a home folder) is neither followed nor reported.
            reason = chosen.by_name(entry.name)
            if reason is not None:
                state.pass_over(reason, path)
                continue
        try:
            is_link = entry.is_symlink()
            if is_link and not state.follow_symlinks:
                problem = _check_link(path)
                if problem is not None:
                    yield problem
                continue
            entry_stat = entry.stat(follow_symlinks=True)
        except FileNotFoundError:
            if _is_link(path):
                yield Problem(path, _BROKEN_LINK)
            continue  # removed while we were walking: nothing to scan
        except OSError as error:
            yield Problem(path, _reason(error, "link" if _is_link(path) else "entry"))
            continue
        mode = entry_stat.st_mode
        if stat.S_ISDIR(mode):
            if chosen is not None:
                reason = chosen.folder(
                    place.relative + entry.name,
                    place.depth + 1,
                    entry_stat,
                    place.root_dev,
                )
                if reason is not None:
                    state.pass_over(reason, path)
                    continue
            inner = place.below(entry.name)
            if is_link:
                state.linked_dirs.append((path, entry_stat, inner))
            else:
                yield from _walk_dir(path, entry_stat, state, inner)
        elif stat.S_ISREG(mode):
            if chosen is not None:
                reason = chosen.file(place.relative + entry.name, entry_stat.st_size)
                if reason is not None:
                    state.pass_over(reason, path)
                    continue
            if is_link:
                state.linked.append((path, entry_stat))
            else:
                found = _file(path, entry_stat, state)
                if found is not None:
                    yield found
        # FIFOs, sockets, character and block devices: never opened, silently passed over.


def _file(path: str, info: os.stat_result, state: _State) -> FileEntry | None:
    """The entry for a regular file, or None when this path was already yielded."""
    if path in state.seen_paths:
        return None
    state.seen_paths.add(path)
    if state.track_files:
        state.seen_files.add((info.st_dev, info.st_ino))
    return FileEntry(
        path=path,
        size=info.st_size,
        mtime_ns=info.st_mtime_ns,
        dev=info.st_dev,
        ino=info.st_ino,
        nlink=info.st_nlink,
    )


_BROKEN_LINK = "broken symbolic link: its target does not exist"
_LINK_LOOP = "symbolic link loop: following it leads back to itself"


def _check_link(path: str) -> Problem | None:
    """A symlink that is not followed is still reported when it is broken or loops."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return Problem(path, _BROKEN_LINK)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return Problem(path, _LINK_LOOP)
    return None


def _is_link(path: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def _reason(error: OSError, what: str) -> str:
    if error.errno == errno.ELOOP:
        return _LINK_LOOP
    if isinstance(error, PermissionError):
        if what == "folder":
            return "permission denied: this folder cannot be listed"
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        if what == "root":
            return "no such file or folder"
        if what == "link":
            return _BROKEN_LINK
        return "it disappeared during the scan"
    return f"cannot read: {error.strerror or error}"
