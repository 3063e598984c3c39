"""One file compared with what the report recorded, right before apply acts on it (`check`):
its folder reached from its scanned folder with no symbolic link on the way, a regular file
opened without following one, and on that open file the size, modification time and SHA-256
the scan recorded; and, a moment later, whether it is still the same file (`still_there`).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from dedupe import fsops
from dedupe.models import ImageRecord


@dataclass(frozen=True, slots=True)
class Seen:
    """A file as it was when it passed its check, and how it was reached."""

    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    nlink: int
    root: str = os.sep  # the walk to its folder started here
    parent: tuple[int, int] = (0, 0)  # device and inode of its folder

    @property
    def identity(self) -> fsops.Identity:
        return fsops.Identity(self.dev, self.ino, self.size, self.mtime_ns)


def file_digest(path: str) -> str | None:
    """sha256 of a regular file's content (symlinks not followed), None if it cannot be read."""
    head, name = os.path.split(path)
    try:
        with fsops.open_folder(head, head, follow_anchor=True) as folder:
            return fsops.digest_in(folder, name)
    except (OSError, fsops.UnsafePath):
        return None


def _folder_reason(error: fsops.UnsafePath) -> str:
    return f"is not in a real folder ({error}); apply acts only on files in real folders"


def check(record: ImageRecord, root: str = os.sep) -> Seen | str:
    """Compare a file with what the report recorded. Returns what it is now, or why it differs.

    Its folder is reached from `root` (its scanned folder) with no symbolic link on the way,
    and the file is read on a descriptor opened with O_NOFOLLOW. The reason reads after the
    file's name: "... is missing", "... has changed since the scan".
    """
    try:
        folder, name = fsops.open_parent(record.path, root)
    except fsops.UnsafePath as error:
        return _folder_reason(error)
    except FileNotFoundError:
        return "is missing (moved or deleted since the scan)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    with folder:
        return _check_in(record, folder, name, root)


def _check_in(record: ImageRecord, folder: fsops.Folder, name: str, root: str) -> Seen | str:
    try:
        parent = folder.identity()
        fd = folder.open(name, fsops.READ_FLAGS)
    except FileNotFoundError:
        return "is missing (moved or deleted since the scan)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.EMLINK):
            return "is a symbolic link now (apply only acts on regular files)"
        return f"cannot be read ({error.strerror or error})"
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return "is no longer a regular file"
        if before.st_size != record.size:
            return f"has changed since the scan (size {record.size} -> {before.st_size} bytes)"
        if before.st_mtime_ns != record.mtime_ns:
            return "has changed since the scan (modification time differs)"
        digest = fsops.hash_fd(fd)
        after = os.fstat(fd)
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    finally:
        os.close(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return "changed while it was being checked"
    if digest != record.fingerprint.digest:
        return "has changed since the scan (same size and time, different content)"
    return Seen(
        record.path,
        before.st_dev,
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
        before.st_nlink,
        root,
        parent,
    )


def still_there(seen: Seen) -> bool:
    """Cheap re-check: the same inode, size and mtime_ns are still at the path, reached the
    same way (no symlink below its scanned folder)."""
    try:
        folder, name = fsops.open_parent(seen.path, seen.root)
    except (OSError, fsops.UnsafePath):
        return False
    with folder:
        info = folder.lstat_or_none(name)
    return info is not None and seen.identity.unchanged(info)
