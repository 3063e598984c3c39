"""Descriptor-relative file operations for apply and undo: folders reached with no symbolic link,
and moves that never replace a file and act only on the file that was checked.

A `Folder` is an open directory descriptor reached from an anchor (a scanned folder, the `--move`
folder, a trash) one component at a time with O_NOFOLLOW|O_DIRECTORY, so no folder below the
anchor can be a symbolic link. Names are then looked up, opened, linked, renamed and unlinked
relative to that descriptor (openat, fstatat, linkat, renameat, unlinkat): a folder on the way
swapped for a symlink after the check changes nothing about which folder is acted in.

`place` gives a checked file a new name with a hard link (which never replaces anything),
compares the device and inode of what got the new name with the checked ones, and only then
drops the old name (`drop`: renamed to a private name, looked at, unlinked only if it is the
checked file, so a file renamed onto the name meanwhile keeps it); a crash in between leaves
two names for one file, never none. Where the file system has no hard links it renames and
puts back what it moved if that was not the checked file.
`copy_across` does the same across file systems: copy, fsync, verify, link, delete.

Where the platform has no descriptor-relative calls (Windows), the same functions work on paths.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from dataclasses import dataclass

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC
READ_FLAGS = os.O_RDONLY | NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _BINARY | _CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | _BINARY | _CLOEXEC

# Descriptor-relative calls (openat & co.): POSIX systems. Without them (Windows), paths.
DIR_FDS = hasattr(os, "O_DIRECTORY") and {os.open, os.stat, os.link, os.rename, os.unlink} <= (
    os.supports_dir_fd
)
_LINK_NOFOLLOW = os.link in os.supports_follow_symlinks
# errno values of a link() the file system cannot make (FAT, some network and FUSE file systems).
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS)
# What open(O_NOFOLLOW|O_DIRECTORY) gives for a symlink (ELOOP; EMLINK on FreeBSD) or a file.
_NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)

PARTIAL_SUFFIX = ".dedupe-partial"
CHUNK_BYTES = 1024 * 1024


class UnsafePath(Exception):
    """A folder on the way is a symbolic link or not a folder, or the path is not a plain path
    below its anchor. The message reads as a sentence ("/a/b is a symbolic link")."""


class TargetExists(Exception):
    """Something is already at the target name; nothing was replaced."""


class Changed(Exception):
    """The file at the name is not the checked one (replaced, or written to); nothing of it moved.

    `left_at` is set in the one case where a file was moved and could not be put back (a file
    system without hard links, and a file at the old name again): where it is now.
    """

    def __init__(self, message: str, left_at: str | None = None) -> None:
        super().__init__(message)
        self.left_at = left_at


@dataclass(frozen=True, slots=True)
class Identity:
    """A regular file as it was checked: which object it is, and its size and time."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> Identity:
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)

    def same_object(self, info: os.stat_result) -> bool:
        return stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) == (self.dev, self.ino)

    def unchanged(self, info: os.stat_result) -> bool:
        return self.same_object(info) and (info.st_size, info.st_mtime_ns) == (
            self.size,
            self.mtime_ns,
        )

    def difference(self, info: os.stat_result) -> str:
        """Why `info` is not this file, in words (empty when it is, unchanged)."""
        if not self.same_object(info):
            return "another file took its place"
        if not self.unchanged(info):
            return "it was written to"
        return ""


class Folder:
    """An open folder (a directory descriptor; its path where there are none) to act in."""

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def join(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _at(self, name: str) -> str:
        return name if self.fd is not None else self.join(name)

    def identity(self) -> tuple[int, int]:
        info = os.fstat(self.fd) if self.fd is not None else os.stat(self.path)
        return info.st_dev, info.st_ino

    def device(self) -> int:
        return self.identity()[0]

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self._at(name), dir_fd=self.fd, follow_symlinks=False)

    def lstat_or_none(self, name: str) -> os.stat_result | None:
        try:
            return self.lstat(name)
        except FileNotFoundError:
            return None

    def lexists(self, name: str) -> bool:
        return self.lstat_or_none(name) is not None

    def open(self, name: str, flags: int, mode: int = 0o666) -> int:
        """open(2) of `name` in this folder, never through a symbolic link."""
        return os.open(self._at(name), flags | NOFOLLOW, mode, dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(self._at(name), dir_fd=self.fd)

    def rmdir(self, name: str) -> None:
        os.rmdir(self._at(name), dir_fd=self.fd)

    def unlink_quietly(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self.unlink(name)

    def sync(self) -> None:
        """Make the folder's entries durable (best effort: some file systems refuse)."""
        with contextlib.suppress(OSError):
            if self.fd is not None:
                os.fsync(self.fd)
            else:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)


def as_the_system_names(path: str) -> str:
    """`path` made absolute as the system resolves it: a `..` goes up from the folder the path
    before it leads to (symbolic links followed), where os.path.abspath only drops the name
    before it (`a/link/../b` is `b` beside link's target, not `a/b`). Every other component is
    kept as given (a symbolic link not followed by `..` keeps its name), so a path without `..`
    is what os.path.abspath gives. Raises UnsafePath when what a `..` follows is not a folder
    (then it names nothing)."""
    absolute = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    parts = absolute.replace(os.altsep or os.sep, os.sep).split(os.sep)
    if ".." not in parts:
        return os.path.abspath(absolute)
    drive, _ = os.path.splitdrive(absolute)
    where = drive + os.sep
    for part in parts[1:]:
        if part in ("", "."):
            continue
        if part != "..":
            where = os.path.join(where, part)
        elif not os.path.isdir(where):
            raise UnsafePath(f"{where} is not a folder, so the '..' after it in {path} names none")
        else:
            where = os.path.dirname(os.path.realpath(where))
    return where


def components(path: str, anchor: str) -> list[str]:
    """The names from `anchor` down to `path`. Raises UnsafePath unless `path` is `anchor` or a
    plain path below it (no empty, `.` or `..` component: those would not mean what they say)."""
    if path == anchor:
        return []
    prefix = anchor if anchor.endswith(os.sep) else anchor + os.sep
    if not path.startswith(prefix):
        raise UnsafePath(f"{path} is not inside {anchor}")
    parts = path[len(prefix) :].split(os.sep)
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePath(f"{path} is not a plain path (an empty, '.' or '..' component)")
    return parts


def _refusal(error: OSError, where: str) -> UnsafePath | OSError:
    if error.errno not in _NOT_A_FOLDER:
        return error
    if os.path.islink(where):
        return UnsafePath(f"{where} is a symbolic link")
    return UnsafePath(f"{where} is not a folder")


def open_folder(
    path: str,
    anchor: str,
    *,
    follow_anchor: bool = False,
    create: bool = False,
    mode: int = 0o777,
) -> Folder:
    """Open the folder `path`, walking from `anchor` one component at a time, none of them (nor
    `anchor` itself unless `follow_anchor`) a symbolic link; symlinks above `anchor` are the
    user's and are followed. With `create`, missing folders are made (the ones below `anchor`
    with `mode`). Raises UnsafePath, or OSError (FileNotFoundError: a folder is missing)."""
    parts = components(path, anchor)
    if create and not os.path.lexists(anchor):
        os.makedirs(anchor, exist_ok=True)
    if not DIR_FDS:
        return _open_by_path(path, anchor, parts, follow_anchor, create, mode)
    try:
        fd = os.open(anchor, _DIR_FLAGS | (0 if follow_anchor else NOFOLLOW))
    except OSError as error:
        raise _refusal(error, anchor) from None
    where = anchor
    try:
        for part in parts:
            where = os.path.join(where, part)
            try:
                try:
                    child = os.open(part, _DIR_FLAGS | NOFOLLOW, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, mode, dir_fd=fd)
                    child = os.open(part, _DIR_FLAGS | NOFOLLOW, dir_fd=fd)
            except OSError as error:
                raise _refusal(error, where) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return Folder(path, fd)


def _open_by_path(
    path: str, anchor: str, parts: list[str], follow_anchor: bool, create: bool, mode: int
) -> Folder:
    """open_folder where there are no directory descriptors: each component is looked at with
    lstat (a small window between the look and the use remains on such platforms)."""
    where = anchor
    for index, part in enumerate(["", *parts]):
        where = os.path.join(where, part) if part else where
        try:
            info = os.lstat(where)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(where, mode)
            info = os.lstat(where)
        if stat.S_ISLNK(info.st_mode) and (index > 0 or not follow_anchor):
            raise UnsafePath(f"{where} is a symbolic link")
        if not stat.S_ISDIR(os.stat(where).st_mode):
            raise UnsafePath(f"{where} is not a folder")
    return Folder(path, None)


def open_parent(path: str, anchor: str, **options: bool) -> tuple[Folder, str]:
    """The folder holding `path` (see open_folder) and the name of `path` in it."""
    head, name = os.path.split(path)
    if not name or name in (".", ".."):
        raise UnsafePath(f"{path} is not a plain path")
    return open_folder(head, anchor, **options), name


def hash_fd(fd: int) -> str:
    """sha256 of what is left to read from `fd`."""
    digest = hashlib.sha256()
    while chunk := os.read(fd, CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def digest_in(folder: Folder, name: str) -> str | None:
    """sha256 of the regular file `name` in `folder` (never through a symlink), None if it
    cannot be read."""
    try:
        fd = folder.open(name, READ_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return hash_fd(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _link(src: Folder, name: str, dst: Folder, new: str) -> None:
    if _LINK_NOFOLLOW:  # link the name itself, never a symlink's target
        os.link(
            src._at(name),
            dst._at(new),
            src_dir_fd=src.fd,
            dst_dir_fd=dst.fd,
            follow_symlinks=False,
        )
    else:
        os.link(src._at(name), dst._at(new), src_dir_fd=src.fd, dst_dir_fd=dst.fd)


def _rename(src: Folder, name: str, dst: Folder, new: str) -> None:
    os.rename(src._at(name), dst._at(new), src_dir_fd=src.fd, dst_dir_fd=dst.fd)


def place(src: Folder, name: str, dst: Folder, new: str, expect: Identity) -> None:
    """Give the checked file `src/name` the name `dst/new` and drop the old name, never replacing
    anything at `dst/new`. Same file system only (OSError EXDEV otherwise).

    Raises TargetExists, Changed (the file at `src/name` is not `expect`, unchanged: nothing
    moved) or OSError (nothing moved). If the old name names another file by the time it would
    be dropped, that file is left alone: the checked one is at its new name either way.
    """
    try:
        add_name(src, name, dst, new, expect)
    except OSError as error:
        if error.errno not in _NO_LINKS:
            raise
        _rename_checked(src, name, dst, new, expect)
        return
    try:
        drop(src, name, expect)
    except OSError:
        dst.unlink_quietly(new)  # the old name cannot go: take the new one back
        raise
    # Not synced: if a power cut undoes the drop, two names of one file are left, which resume
    # (reconcile) and undo both recognise and settle.


def add_name(src: Folder, name: str, dst: Folder, new: str, expect: Identity) -> None:
    """Give the checked file `src/name` the second name `dst/new` (a hard link, which never
    replaces anything), keeping its first: the new name is compared with `expect` (device,
    inode, size, mtime) and taken back if it is another file, then synced.

    Raises TargetExists, Changed (nothing was added) or OSError (EXDEV across file systems;
    EPERM, ENOTSUP, ... where the file system has no hard links)."""
    try:
        _link(src, name, dst, new)
    except FileExistsError:
        raise TargetExists(dst.join(new)) from None
    try:
        linked = dst.lstat(new)
    except OSError:
        dst.unlink_quietly(new)
        raise
    why = expect.difference(linked)
    if why:
        dst.unlink_quietly(new)  # only the new name goes: that file keeps its old one
        raise Changed(why)
    dst.sync()  # the new name is durable before the caller journals the move as done


ASIDE_PREFIX = ".dedupe-drop-"


def aside_name(name: str) -> str:
    """The private name beside `name` that drop() renames it to for an instant (short whatever
    the name's length, and found again from the name alone after a crash)."""
    return ASIDE_PREFIX + hashlib.sha256(os.fsencode(name)).hexdigest()[:20]


def partial_aside(folder: Folder, name: str) -> str | None:
    """The private name that the temporary name of a finished copy at `name` took while place()
    dropped it (copy_across: the copy is made under partial_name(name), given `name`, and the
    temporary name dropped), when a crash left it there as a second name of that very file: a
    name that may go. None when there is none, or when it is not a second name of `name`."""
    aside = aside_name(partial_name(name))
    left = folder.lstat_or_none(aside)
    if left is None:
        return None
    here = folder.lstat_or_none(name)
    if here is None or (here.st_dev, here.st_ino) != (left.st_dev, left.st_ino):
        return None
    return aside


def drop(folder: Folder, name: str, expect: Identity, *, unchanged: bool = False) -> bool:
    """Remove the name `name` from `folder` if, and only if, it names the checked file `expect`;
    a file renamed onto the name since the last look keeps it. Returns whether it was removed.

    unlink() would remove whatever the name names at that instant. So the name is renamed to a
    private name beside it (aside_name: one rename takes exactly what is there), what it took is
    looked at, and unlinked if it is the checked file, else given its name back with a hard link
    (which never replaces a file that took the name again meanwhile: then it stays under the
    private name). With `unchanged`, the checked file written to since (size or time) is given
    its name back too, and Changed("it was written to") raised. Raises OSError when the name
    cannot be removed (the file keeps it).
    """
    here = folder.lstat_or_none(name)
    if here is None or not expect.same_object(here):
        return False
    if unchanged and not expect.unchanged(here):
        raise Changed("it was written to")
    aside = aside_name(name)
    left = folder.lstat_or_none(aside)
    if left is not None:  # left by a crash: a second name of this file may go, nothing else
        if not expect.same_object(left):
            raise FileExistsError(errno.EEXIST, "a file has the name dedupe drops it under", aside)
        folder.unlink(aside)
    _rename(folder, name, folder, aside)
    try:
        taken = folder.lstat(aside)
        if expect.same_object(taken) and not (unchanged and not expect.unchanged(taken)):
            folder.unlink(aside)
            return True
    except BaseException:
        give_back(folder, aside, name)
        raise
    give_back(folder, aside, name)
    if expect.same_object(taken):
        raise Changed("it was written to")
    return False


def give_back(folder: Folder, aside: str, name: str) -> None:
    """Give the file at `aside` its name `name` again, never replacing a file there."""
    try:
        _link(folder, aside, folder, name)
    except FileExistsError:
        return  # yet another file took the name: this one stays at `aside`, nothing is lost
    except OSError as error:
        if error.errno not in _NO_LINKS or folder.lexists(name):
            return
        _rename(folder, aside, folder, name)  # no hard links here: look, then rename
        return
    folder.unlink(aside)


def _rename_checked(src: Folder, name: str, dst: Folder, new: str, expect: Identity) -> None:
    """place() on a file system without hard links: rename (after making sure nothing is at the
    target: without links there is no exclusive way), then look at what was moved and put it
    back if it is not the checked file."""
    if dst.lexists(new):
        raise TargetExists(dst.join(new))
    _rename(src, name, dst, new)
    moved = dst.lstat(new)
    why = expect.difference(moved)
    if why:
        if src.lexists(name):
            raise Changed(why, left_at=dst.join(new))
        _rename(dst, new, src, name)
        raise Changed(why)
    dst.sync()
    src.sync()


def partial_name(name: str) -> str:
    """The temporary name a copy across file systems is written under, beside its target."""
    return f".{name}{PARTIAL_SUFFIX}"


def copy_across(
    src: Folder, name: str, dst: Folder, new: str, expect: Identity, digest: str
) -> None:
    """Move the checked file `src/name` to `dst/new` on another file system: copy it to a
    temporary name beside the target, fsync, check that the copy reads back with `digest`, give
    it its final name (never replacing), and only then delete the source if it is still the
    checked file, unchanged. Raises TargetExists, Changed or OSError; then the source is where it
    was and no temporary file is left."""
    if dst.lexists(new):
        raise TargetExists(dst.join(new))
    partial = partial_name(new)
    source = src.open(name, READ_FLAGS)
    try:
        info = os.fstat(source)
        why = expect.difference(info)
        if why:
            raise Changed(why)
        dst.unlink_quietly(partial)  # a copy a crash cut short
        try:
            _copy_to(source, dst, partial, info, digest)
            place(dst, partial, dst, new, Identity.of(dst.lstat(partial)))
        except BaseException:
            dst.unlink_quietly(partial)
            raise
    finally:
        os.close(source)
    try:  # written to since it was copied (Changed): it keeps its name, the copy goes
        drop(src, name, expect, unchanged=True)
    except (Changed, OSError):
        dst.unlink_quietly(new)
        raise
    # If the name was taken over since the copy, the copy is the checked file now.


def _copy_to(source: int, dst: Folder, partial: str, info: os.stat_result, digest: str) -> None:
    out = dst.open(partial, _CREATE_FLAGS, 0o600)
    try:
        copied = hashlib.sha256()
        while chunk := os.read(source, CHUNK_BYTES):
            copied.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
        os.fsync(out)
        if copied.hexdigest() != digest:
            raise Changed("its content is not the one that was checked")
        if hasattr(os, "fchmod"):
            os.fchmod(out, stat.S_IMODE(info.st_mode))
        if os.utime in os.supports_fd:
            os.utime(out, ns=(info.st_atime_ns, info.st_mtime_ns))
    finally:
        os.close(out)
    if not hasattr(os, "fchmod"):
        os.chmod(dst.join(partial), stat.S_IMODE(info.st_mode))
    if os.utime not in os.supports_fd:
        os.utime(dst.join(partial), ns=(info.st_atime_ns, info.st_mtime_ns))
    if digest_in(dst, partial) != digest:
        raise OSError(errno.EIO, f"the copy at {dst.join(partial)} does not read back identical")
