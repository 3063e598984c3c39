"""The operating system's trash: send a file there, and find it again on freedesktop systems.

Sending goes through send2trash. On Linux and the BSDs we call send2trash's freedesktop
implementation directly (never its optional GIO backend), because undo must know exactly where
the file went: `$XDG_DATA_HOME/Trash/files/NAME` with `$XDG_DATA_HOME/Trash/info/NAME.trashinfo`
(`Path=` the original path, URL-quoted; `DeletionDate=`), or, for a file on another device than
the home folder, `MOUNT/.Trash/UID/` or `MOUNT/.Trash-UID/` laid out the same way.

On macOS and Windows send2trash hands the file to the system trash, which gives no reliable way
back to the trashed file: there `locate` returns None and such files must be restored from the
system trash by hand.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

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


def send(path: str) -> None:
    """Move one file to the trash. Raises OSError (PermissionError, ...) when it cannot."""
    if not FREEDESKTOP:
        from send2trash import send2trash

        send2trash(path)
        return
    from send2trash import plat_other

    # send2trash reads XDG_DATA_HOME once, when it is first imported. A process that lives
    # longer than one environment (the test suite, an embedding program) must see the current
    # value, or files would land in a trash the user did not ask for.
    home = os.fsencode(data_home())
    plat_other.XDG_DATA_HOME = home
    plat_other.HOMETRASH_B = os.path.join(home, b"Trash")
    plat_other.HOMETRASH = os.fsdecode(plat_other.HOMETRASH_B)
    plat_other.send2trash(path)


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

    send2trash writes the .trashinfo before it moves the file; a crash in between leaves one.
    Returns how many were removed.
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
            if meta is not None and meta[0] == original:
                try:
                    os.unlink(info_path)
                    removed += 1
                except OSError:
                    pass
    return removed
