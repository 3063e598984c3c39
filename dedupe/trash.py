"""The operating system's trash: send a checked file there, and find it again (freedesktop).

On Linux and the BSDs dedupe does the freedesktop.org trash move itself, the way send2trash's
freedesktop code does it (the same choice of trash folder, the same names, the same .trashinfo
text), but acting on the checked file and not on whatever is at its path by then:

  * the trash folder: `$XDG_DATA_HOME/Trash` for a file on the same device as the home folder;
    otherwise, at the top of the file's mount, `$topdir/.Trash/$UID` when `$topdir/.Trash` is a
    real folder with the sticky bit, else `$topdir/.Trash-$UID` (folders made 0700); a top-dir
    trash (or its files or info folder) another user owns or everyone may write to is not used
    (as glib, which checks the owner);
  * the name: NAME, or 'BASE 1.EXT', 'BASE 2.EXT'... while either `files/NAME` or
    `info/NAME.trashinfo` exists; the .trashinfo is created with O_EXCL (the spec's way of
    reserving a name, so two trashing programs never pick the same one), written
    (`Path=` the original path, URL-quoted, relative to `$topdir` for a top-dir trash;
    `DeletionDate=` local time) and synced before the file moves;
  * the move: a hard link from the descriptor of the file's folder into `files/` (see
    fsops.place: device and inode of what was linked compared with the checked file, then the
    old name dropped), so the entry always holds the checked file, and its name is known;
    across devices (a bind mount) copied, verified and deleted into the home trash, as
    send2trash falls back to it.

Below `$topdir` (and below the home trash) no trash folder may be a symbolic link. On macOS and
Windows send2trash hands the file to the system trash, which gives no reliable way back to the
trashed file: there `send` returns None and such files must be restored from the system trash.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote_to_bytes

from dedupe import fsops

FREEDESKTOP = sys.platform not in ("darwin", "win32")
INFO_SUFFIX = ".trashinfo"


@dataclass(frozen=True, slots=True)
class TrashedFile:
    """A file in a freedesktop trash: where its content is, its .trashinfo, where it came from."""

    files_path: str
    info_path: str
    original: str
    deleted_at: str


def data_home() -> str:
    value = os.environ.get("XDG_DATA_HOME", "")
    if not value or not os.path.isabs(value):
        value = os.path.join(os.path.expanduser("~"), ".local", "share")
    return value


def home_trash() -> str:
    return os.path.join(data_home(), "Trash")


def send(
    folder: fsops.Folder, name: str, original: str, expect: fsops.Identity, digest: str
) -> TrashedFile | None:
    """Move the checked file `name` of `folder` (which is at `original`) to the trash.

    Returns where it went (None on macOS/Windows, where the system trash does not say). Raises
    fsops.Changed (the file at the name is not the checked one: nothing was trashed),
    fsops.TargetExists, or OSError (PermissionError, ...); then no .trashinfo is left behind.
    """
    if not FREEDESKTOP:
        from send2trash import send2trash

        send2trash(original)
        return None
    trash, top = _trash_for(original, expect.dev)
    try:
        return _move_into(trash, top, folder, name, original, expect, digest, across=False)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
    # The trash is on the file's device but on another mount of it (a bind mount): like
    # send2trash, copy into the home trash.
    return _move_into(home_trash(), data_home(), folder, name, original, expect, digest, True)


def _move_into(
    trash: str,
    top: str,
    folder: fsops.Folder,
    name: str,
    original: str,
    expect: fsops.Identity,
    digest: str,
    across: bool,
) -> TrashedFile:
    def move(files: fsops.Folder, entry: str) -> None:
        if across:
            fsops.copy_across(folder, name, files, entry, expect, digest)
        else:
            fsops.place(folder, name, files, entry, expect)

    return _enter(trash, top, name, original, move)


def _enter(
    trash: str, top: str, name: str, original: str, put: Callable[[fsops.Folder, str], None]
) -> TrashedFile:
    """Reserve a name for `name` in `trash` (its .trashinfo written and synced), then `put`
    the file into `files/` under it; if that raises, the reservation is taken back."""
    with (
        _trash_folder(trash, top, "files") as files,
        _trash_folder(trash, top, "info") as info,
    ):
        if trash != home_trash():  # the files and info folders too: as they are now, opened
            for sub in (files, info):
                seen = os.fstat(sub.fd) if sub.fd is not None else os.lstat(sub.path)
                why = _unusable(trash, seen)
                if why is not None:
                    raise OSError(errno.EACCES, why)
        entry, deleted = _reserve(files, info, name, original, top)
        try:
            put(files, entry)
        except BaseException:
            info.unlink_quietly(entry + INFO_SUFFIX)
            raise
        return TrashedFile(files.join(entry), info.join(entry + INFO_SUFFIX), original, deleted)


def keep(folder: fsops.Folder, name: str, original: str, expect: fsops.Identity) -> TrashedFile:
    """Give the checked file `name` of `folder` (at `original`) a second name in the trash of
    its drive, with its .trashinfo, leaving it where it is (apply --link keeps a duplicate's
    own inode there until the trash is emptied, see linking.py).

    Only a hard link on the file's own file system: where that trash is on another mount (a
    bind mount) it raises OSError EXDEV rather than copy, since a copy would not be the
    file's own inode. Raises fsops.Changed, fsops.TargetExists or OSError as `send` does
    (then no .trashinfo is left behind); OSError ENOTSUP on macOS and Windows.
    """
    if not FREEDESKTOP:
        raise OSError(errno.ENOTSUP, "the system trash cannot hold a second name of a file")
    trash, top = _trash_for(original, expect.dev)

    def second_name(files: fsops.Folder, entry: str) -> None:
        fsops.add_name(folder, name, files, entry, expect)

    return _enter(trash, top, name, original, second_name)


def _trash_folder(trash: str, top: str, sub: str) -> fsops.Folder:
    """`trash/sub`, made if missing (0700), with no symbolic link below `top`; the home trash is
    the user's to place, so there only `files` and `info` are checked."""
    if trash == home_trash():
        if not os.path.isdir(trash):
            os.makedirs(trash, 0o700, exist_ok=True)
        return fsops.open_folder(
            os.path.join(trash, sub), trash, follow_anchor=True, create=True, mode=0o700
        )
    return fsops.open_folder(
        os.path.join(trash, sub), top, follow_anchor=True, create=True, mode=0o700
    )


def _trash_for(original: str, dev: int) -> tuple[str, str]:
    """(trash folder, top dir) for a file on device `dev`: send2trash's choice."""
    home = os.path.realpath(os.path.expanduser("~"))
    if os.lstat(home).st_dev == dev:
        return home_trash(), data_home()
    top = _mount_point(original)
    if os.lstat(top).st_dev != dev:
        raise OSError(errno.ENOENT, f"cannot find the mount point of {original}")
    uid = str(os.getuid())
    shared = os.path.join(top, ".Trash")
    with contextlib.suppress(OSError):
        info = os.lstat(shared)
        if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
            mine = os.path.join(shared, uid)
            if not os.path.lexists(mine):
                os.mkdir(mine, 0o700)
            if _unusable(mine, os.lstat(mine)) is None:
                return mine, top
    private = os.path.join(top, f".Trash-{uid}")
    with contextlib.suppress(FileNotFoundError):  # made (0700) when it is used
        why = _unusable(private, os.lstat(private))
        if why is not None:
            raise OSError(errno.EACCES, why)
    return private, top


def _unusable(folder: str, info: os.stat_result) -> str | None:
    """Why the top-dir trash `folder` (as lstat or fstat saw it) must not be used, or None.

    A trash is the user's own folder, as glib's trash requires (owner) and, further, one that
    nobody else may write to: a trash another user owns or may write to could be emptied or
    read by them. Without it, trashing on that drive is a skip with this reason."""
    if stat.S_ISLNK(info.st_mode):
        return f"the trash {folder} is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return f"the trash {folder} is not a folder"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return (
            f"the trash {folder} is owned by another user (uid {info.st_uid}); only a trash "
            "of your own is used"
        )
    if info.st_mode & stat.S_IWOTH:
        return f"the trash {folder} is writable by everyone; only a trash of your own is used"
    return None


def info_text(original: str, top: str, when: datetime) -> bytes:
    """The .trashinfo of a file trashed from `original` into the trash of `top`, as send2trash
    writes it: Path= relative to `top` when the file is under it, else absolute."""
    source = os.fsencode(original)
    if _is_parent(top, original):
        source = os.path.relpath(source, os.fsencode(top))
    else:
        source = os.path.abspath(source)
    return (
        b"[Trash Info]\nPath="
        + quote(source).encode("ascii")
        + b"\nDeletionDate="
        + when.strftime("%Y-%m-%dT%H:%M:%S").encode("ascii")
        + b"\n"
    )


def _is_parent(parent: str, path: str) -> bool:
    inside = os.fsencode(os.path.realpath(path))
    top = os.fsencode(os.path.realpath(parent))
    return inside.startswith(top if top.endswith(b"/") else top + b"/")


def _reserve(
    files: fsops.Folder, info: fsops.Folder, name: str, original: str, top: str
) -> tuple[str, str]:
    """Take the first free trash name for `name`: create its .trashinfo (O_EXCL), write and sync
    it. Returns (the name, its DeletionDate)."""
    when = datetime.now()
    text = info_text(original, top, when)
    for candidate in _candidate_names(name):
        if files.lexists(candidate) or info.lexists(candidate + INFO_SUFFIX):
            continue
        try:
            fd = info.open(candidate + INFO_SUFFIX, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            continue
        try:
            try:
                view = memoryview(text)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            info.unlink_quietly(candidate + INFO_SUFFIX)
            raise
        info.sync()
        return candidate, when.strftime("%Y-%m-%dT%H:%M:%S")
    raise AssertionError("unreachable")  # _candidate_names never ends


def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def trash_dirs(original: str) -> list[tuple[str, str]]:
    """(trash dir, top dir) pairs where a file from `original` may have gone, most likely first.

    The top dir is what a relative `Path=` in a .trashinfo is relative to.
    """
    found = [(home_trash(), data_home())]
    parent = os.path.dirname(original) or "."
    while parent and not os.path.isdir(parent):  # the folder may have gone since
        up = os.path.dirname(parent)
        if up == parent:
            break
        parent = up
    top = _mount_point(parent)
    uid = str(os.getuid()) if hasattr(os, "getuid") else ""
    for candidate in (os.path.join(top, ".Trash", uid), os.path.join(top, f".Trash-{uid}")):
        if candidate != found[0][0] and os.path.isdir(candidate):
            found.append((candidate, top))
    return found


def read_info(info_path: str, top: str) -> tuple[str, str] | None:
    """(original path, deletion date) from a .trashinfo file, or None if it cannot be read."""
    try:
        with open(info_path, "rb") as handle:
            lines = handle.read(64 * 1024).splitlines()
    except OSError:
        return None
    original = deleted = None
    for line in lines:
        if line.startswith(b"Path="):
            raw = unquote_to_bytes(line[len(b"Path=") :].strip())
            original = os.fsdecode(
                raw if os.path.isabs(raw) else os.path.join(os.fsencode(top), raw)
            )
        elif line.startswith(b"DeletionDate="):
            deleted = line[len(b"DeletionDate=") :].strip().decode("ascii", "replace")
    if original is None:
        return None
    return os.path.normpath(original), deleted or ""


def _candidate_names(name: str) -> Iterator[str]:
    """The names send2trash tries, in its order: NAME, then 'BASE 1.EXT', 'BASE 2.EXT', ..."""
    yield name
    base, ext = os.path.splitext(name)
    counter = 1
    while True:
        yield f"{base} {counter}{ext}"
        counter += 1


def _same_file(path: str, dev: int, ino: int) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) == (dev, ino)


def locate(original: str, dev: int, ino: int) -> TrashedFile | None:
    """Find the file that was at `original` (device and inode as before trashing) in a trash.

    A rename into the trash keeps the inode, so the match is exact. Returns None when it is not
    in any freedesktop trash (or on macOS/Windows).
    """
    if not FREEDESKTOP:
        return None
    original = os.path.normpath(os.path.abspath(original))
    name = os.path.basename(original)
    for trash, top in trash_dirs(original):
        files, info = os.path.join(trash, "files"), os.path.join(trash, "info")
        for candidate in _candidate_names(name):
            files_path = os.path.join(files, candidate)
            info_path = os.path.join(info, candidate + INFO_SUFFIX)
            if not os.path.lexists(files_path) and not os.path.lexists(info_path):
                break
            if _same_file(files_path, dev, ino):
                meta = read_info(info_path, top)
                if meta is not None and meta[0] == original:
                    return TrashedFile(files_path, info_path, original, meta[1])
        # Another trash implementation may name collisions differently: look at every entry.
        for item in find_by_original(original, trashes=[(trash, top)]):
            if _same_file(item.files_path, dev, ino):
                return item
    return None


def find_by_original(
    original: str, *, trashes: list[tuple[str, str]] | None = None
) -> list[TrashedFile]:
    """Every trashed file whose .trashinfo says it came from `original`, newest first."""
    if not FREEDESKTOP:
        return []
    original = os.path.normpath(os.path.abspath(original))
    found: list[TrashedFile] = []
    for trash, top in trashes if trashes is not None else trash_dirs(original):
        info_dir = os.path.join(trash, "info")
        try:
            names = sorted(os.listdir(info_dir))
        except OSError:
            continue
        for info_name in names:
            if not info_name.endswith(INFO_SUFFIX):
                continue
            info_path = os.path.join(info_dir, info_name)
            meta = read_info(info_path, top)
            if meta is None or meta[0] != original:
                continue
            files_path = os.path.join(trash, "files", info_name[: -len(INFO_SUFFIX)])
            if os.path.lexists(files_path):
                found.append(TrashedFile(files_path, info_path, original, meta[1]))
    found.sort(key=lambda t: t.deleted_at, reverse=True)
    return found


def remove_orphan_info(original: str) -> int:
    """Delete .trashinfo files for `original` whose trashed file does not exist.

    send2trash writes the .trashinfo before it moves the file; a crash in between leaves one
    (empty or cut short, if it came while the name was reserved). Returns how many were removed.
    """
    if not FREEDESKTOP:
        return 0
    original = os.path.normpath(os.path.abspath(original))
    removed = 0
    for trash, top in trash_dirs(original):
        info_dir = os.path.join(trash, "info")
        name = os.path.basename(original)
        for candidate in _candidate_names(name):
            info_path = os.path.join(info_dir, candidate + INFO_SUFFIX)
            files_path = os.path.join(trash, "files", candidate)
            if not os.path.lexists(info_path) and not os.path.lexists(files_path):
                break
            if os.path.lexists(files_path) or not os.path.lexists(info_path):
                continue
            meta = read_info(info_path, top)
            if (meta is not None and meta[0] == original) or _cut_short(info_path, original, top):
                try:
                    os.unlink(info_path)
                    removed += 1
                except OSError:
                    pass
    return removed


def _cut_short(info_path: str, original: str, top: str) -> bool:
    """Whether `info_path` is a .trashinfo reserved for `original` whose text a crash cut short
    (empty, or a beginning of the text dedupe writes for it, which has no date yet)."""
    try:
        with open(info_path, "rb") as handle:
            data = handle.read(64 * 1024)
    except OSError:
        return False
    text = info_text(original, top, datetime.now())
    return text[: text.index(b"DeletionDate=") + len(b"DeletionDate=")].startswith(data)


def partial_copies(original: str) -> list[str]:
    """Unfinished copies of `original` into a trash (a crash during a copy across devices):
    the temporary files beside a reserved name whose .trashinfo says it came from there."""
    if not FREEDESKTOP:
        return []
    original = os.path.normpath(os.path.abspath(original))
    found = []
    for trash, top in trash_dirs(original):
        for candidate in _candidate_names(os.path.basename(original)):
            info_path = os.path.join(trash, "info", candidate + INFO_SUFFIX)
            files_path = os.path.join(trash, "files", candidate)
            if not os.path.lexists(info_path) and not os.path.lexists(files_path):
                break
            partial = os.path.join(trash, "files", fsops.partial_name(candidate))
            meta = read_info(info_path, top)
            if os.path.lexists(partial) and meta is not None and meta[0] == original:
                found.append(partial)
    return found
