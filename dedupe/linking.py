"""apply --link: replace a checked duplicate by a link to its byte-identical kept copy, settle a
link a crash cut short, and put the duplicate back (undo).

Three kinds, each acting through the folder descriptors apply checked (fsops):
  hard     the duplicate's name becomes a hard link of the kept copy (one file system only);
  symlink  its name becomes a symbolic link to the kept copy, relative when both are under one
           scanned folder (see symlink_target), absolute otherwise;
  reflink  the duplicate keeps its name, inode, mode and modification time and shares the kept
           copy's data blocks, copy on write (btrfs, XFS with reflink, recent bcachefs).

hard and symlink, step by step:
  1. the kept copy and the duplicate are opened again (O_NOFOLLOW, in their checked folders):
     on those descriptors each has the identity (device, inode, size, mtime) and SHA-256 it
     had when checked, or nothing is done;
  2. the link is made under a temporary name in the duplicate's folder (`.dedupe-link-` and a
     hash of its name), never replacing anything, and looked at: a hard link must be the kept
     copy's inode, a symbolic link must lead to it;
  3. the duplicate gets a second name in its drive's trash (trash.keep, with its .trashinfo):
     its own inode, bytes, mode and times wait there until the trash is emptied, and undo puts
     that inode back;
  4. the swap: the temporary name and the duplicate's name are exchanged in one step
     (renameat2 RENAME_EXCHANGE), so the name is never missing and nothing is overwritten:
     what came out must be the checked duplicate, else the exchange is reversed and the file
     that took its place stays;
  5. the duplicate's name in the folder (now the temporary one) is dropped: it lives on in
     the trash.
A crash leaves the duplicate's name holding the duplicate (steps 1-3: `settle` takes back the
temporary link and the trash name, and the action is tried again) or the link (steps 4-5: it
drops the duplicate's temporary name; the action is done). Where the system cannot exchange
two names (not Linux, or a file system without RENAME_EXCHANGE), step 4 looks at the name and
renames over it: a file renamed onto the name in the microseconds between is replaced.

reflink uses FIDEDUPERANGE, not FICLONE: the kernel compares the two ranges under the inodes'
locks and shares the blocks only where they are identical, so a write into the duplicate
after its last check is never overwritten, and the duplicate's mtime is left alone. FICLONE
onto the duplicate would replace its content with the kept copy's whatever it held by then.
`os.copy_file_range` is a copy that may or may not share blocks: not a reflink.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import stat
import struct
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dedupe import fsops, trash

LinkKind = Literal["hard", "symlink", "reflink"]
KINDS: tuple[LinkKind, ...] = ("hard", "symlink", "reflink")
# The action word of the dry-run listing (cli/listing.py) for each kind.
ROW_ACTIONS: dict[str, str] = {"hard": "hardlink", "symlink": "symlink", "reflink": "reflink"}
TEMPORARY_PREFIX = ".dedupe-link-"
NO_REFLINKS = (
    "its file system cannot share data between files: reflinks work on btrfs, XFS made with "
    "reflink=1 (the default since xfsprogs 5.1) and bcachefs, not on ext4, tmpfs, FAT or NTFS; "
    "use --link hard or --trash for it"
)

_RENAME_EXCHANGE = 2  # linux/fs.h
_NO_EXCHANGE = (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP)
_FIDEDUPERANGE = 0xC0189436  # _IOWR(0x94, 54, struct file_dedupe_range), linux/fs.h
_RANGE = struct.Struct("=QQHHI")  # src_offset, src_length, dest_count, reserved1, reserved2
_INFO = struct.Struct("=qQQiI")  # dest_fd, dest_offset, bytes_deduped, status, reserved
_DIFFERS = 1  # FILE_DEDUPE_RANGE_DIFFERS
_NO_DEDUPE = (errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOTTY, errno.EINVAL, errno.ENOSYS)


class Refusal(Exception):
    """This link cannot be made here (another file system, no reflinks, too many links); the
    message says why in words. Nothing was changed."""


@dataclass(frozen=True, slots=True)
class Checked:
    """A checked file, as the action reaches it: its open folder, its name there, its path and
    what it was when checked."""

    folder: fsops.Folder
    name: str
    path: str
    identity: fsops.Identity


@dataclass(frozen=True, slots=True)
class Back:
    """Undo put the duplicate back at its path from `source` (its name in the trash)."""

    source: str


def refusal(kind: str) -> str:
    """Why `--link KIND` cannot work on this system at all ("" when it can)."""
    if kind not in KINDS:
        return f"unknown link kind {kind!r} (choose from {', '.join(KINDS)})"
    if not fsops.DIR_FDS or not trash.FREEDESKTOP:
        return "--link needs Linux or a BSD (folder descriptors and a freedesktop trash)"
    if kind == "reflink" and not sys.platform.startswith("linux"):
        return "--link reflink needs Linux (the FIDEDUPERANGE call)"
    return ""


def temporary_name(name: str) -> str:
    """The name a link is made under beside `name` before the swap: fixed-length, so that a
    link to a file with a long name still fits."""
    return TEMPORARY_PREFIX + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]


def symlink_target(path: str, keeper: str, root: str, keeper_root: str) -> str:
    """What a symbolic link at `path` to `keeper` holds. Relative when both are under the same
    scanned folder: no folder below it is a symbolic link (apply checked), so `..` means what
    it says, and the link still works when the library is moved or mounted elsewhere. Across
    scanned folders, the kept copy's absolute path (a relative one could pass through a
    symbolic link above a scanned folder, where `..` would not go back the same way)."""
    if root == keeper_root:
        return os.path.relpath(keeper, os.path.dirname(path))
    return keeper


# ---------------------------------------------------------------- system calls


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)  # glibc 2.28+
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
        function.argtypes += [ctypes.c_uint]
        function.restype = ctypes.c_int
    return function


def exchange(folder: fsops.Folder, a: str, b: str) -> None:
    """Swap the names `a` and `b` of `folder` in one step (renameat2 RENAME_EXCHANGE): both
    exist before and after, nothing is replaced. Raises OSError (EINVAL, ENOSYS or ENOTSUP
    where the system or the file system cannot)."""
    function = _renameat2()
    if function is None or folder.fd is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if function(folder.fd, os.fsencode(a), folder.fd, os.fsencode(b), _RENAME_EXCHANGE):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), folder.join(b))


def _dedupe_call(source: int, target: int, offset: int, length: int) -> tuple[int, int]:
    """One FIDEDUPERANGE request: (bytes shared, status)."""
    import fcntl  # POSIX only; reflink is refused elsewhere (refusal)

    request = bytearray(_RANGE.pack(offset, length, 1, 0, 0) + _INFO.pack(target, offset, 0, 0, 0))
    fcntl.ioctl(source, _FIDEDUPERANGE, request)
    _, _, shared, status, _ = _INFO.unpack_from(request, _RANGE.size)
    return shared, status


def _share_blocks(source: int, target: int, size: int) -> None:
    """Share the data of `target` with `source` (same bytes), range by range (the kernel caps
    one request): raises fsops.Changed where the bytes differ, Refusal where the file system
    cannot, OSError otherwise."""
    offset = 0
    while offset < size:
        try:
            shared, status = _dedupe_call(source, target, offset, size - offset)
        except OSError as error:
            if error.errno in _NO_DEDUPE:
                raise Refusal(NO_REFLINKS) from None
            if error.errno == errno.EXDEV:
                raise Refusal(_ACROSS["reflink"]) from None
            raise
        if status == _DIFFERS:
            raise fsops.Changed("it was written to (its bytes are no longer the kept copy's)")
        if status < 0:
            if -status == errno.EXDEV:
                raise Refusal(_ACROSS["reflink"])
            raise OSError(-status, os.strerror(-status))
        if shared <= 0:
            raise OSError(errno.EIO, "the file system shared no data")
        offset += shared


_ACROSS = {
    "hard": "a hard link cannot cross file systems, and the kept copy is on another one "
    "(--link symlink can)",
    "reflink": "a reflink cannot cross file systems, and the kept copy is on another one "
    "(--link symlink can)",
}


def precheck(kind: str, path: str, dev: int, keeper: str, keeper_dev: int) -> str:
    """Why `path` (on device `dev`) cannot become a `kind` link to `keeper` ("" when it may):
    what can be told without acting, for the plan and the dry run."""
    if kind in _ACROSS and dev != keeper_dev:
        return _ACROSS[kind]
    if kind != "reflink":
        return ""
    try:
        source = os.open(keeper, fsops.READ_FLAGS)
    except OSError as error:
        return f"the kept copy cannot be opened ({error.strerror or error})"
    try:
        target = os.open(path, fsops.READ_FLAGS)
    except OSError as error:
        os.close(source)
        return f"it cannot be opened ({error.strerror or error})"
    try:
        _dedupe_call(source, target, 0, 0)  # shares nothing: only asks the file system
    except OSError as error:
        return NO_REFLINKS if error.errno in _NO_DEDUPE else (error.strerror or str(error))
    finally:
        os.close(source)
        os.close(target)
    return ""


# ---------------------------------------------------------------- acting


@contextlib.contextmanager
def _reopened(file: Checked, digest: str, *, kept: bool = False) -> Iterator[int]:
    """`file` opened again in its checked folder: still the checked file, unchanged, with the
    SHA-256 `digest` read on this descriptor. Raises fsops.Changed."""
    fd = file.folder.open(file.name, fsops.READ_FLAGS)
    try:
        why = file.identity.difference(os.fstat(fd))
        if not why and fsops.hash_fd(fd) != digest:
            why = "its content changed"
        if why:
            raise fsops.Changed(f"the kept copy {file.path} changed ({why})" if kept else why)
        yield fd
    finally:
        os.close(fd)


def share(dup: Checked, keeper: Checked, digest: str) -> None:
    """--link reflink: the checked duplicate shares the data of its checked kept copy, in place
    (same inode, mode and mtime). Raises fsops.Changed, Refusal or OSError; nothing changed."""
    with _reopened(keeper, digest, kept=True) as source, _reopened(dup, digest) as target:
        _share_blocks(source, target, dup.identity.size)
        after = os.fstat(target)
        if after.st_mtime_ns != dup.identity.mtime_ns:  # a file system that touches it
            os.utime(target, ns=(after.st_atime_ns, dup.identity.mtime_ns))


def replace(
    kind: str, dup: Checked, keeper: Checked, digest: str, target: str | None
) -> trash.TrashedFile:
    """--link hard|symlink: replace the checked duplicate's name by a link to the checked kept
    copy (`target`: what a symbolic link holds), keeping the duplicate's inode in its drive's
    trash. Returns that trash entry.

    Raises fsops.Changed (one of the two is not the checked file: nothing changed; `left_at`
    is the trash entry in the one case where the duplicate was renamed away by another
    program during the swap and that entry is its only name left), fsops.TargetExists (a
    file has the temporary name), Refusal or OSError; then nothing changed."""
    folder, temporary = dup.folder, temporary_name(dup.name)
    if folder.lexists(temporary):
        raise fsops.TargetExists(folder.join(temporary))
    with _reopened(keeper, digest, kept=True), _reopened(dup, digest) as fd:
        _make_link(kind, dup, keeper, temporary, target)
        try:
            held = _keep_in_trash(dup)
        except BaseException:
            folder.unlink_quietly(temporary)
            raise

        def why_not(at: str) -> str:
            info = folder.lstat_or_none(at)
            return "it is missing" if info is None else dup.identity.difference(info)

        try:
            swapped = _swap_in(folder, temporary, dup.name, why_not)
        except fsops.Changed as error:
            if error.left_at:  # the exchange could not be reversed: say where the file is
                raise
            folder.unlink_quietly(temporary)  # the link, back at its temporary name
            if os.fstat(fd).st_nlink > 1:  # the duplicate still has a name outside the trash
                _unlink_entry(held)
                raise
            raise fsops.Changed(str(error), left_at=held.files_path) from None
        except BaseException:
            folder.unlink_quietly(temporary)
            _unlink_entry(held)  # nothing was swapped: the duplicate is still at its name
            raise
        if swapped:  # the duplicate's name here: it lives on in the trash. Done either way:
            folder.unlink_quietly(temporary)  # a failure leaves a hidden second name of it
        folder.sync()
    return held


def _make_link(
    kind: str, dup: Checked, keeper: Checked, temporary: str, target: str | None
) -> None:
    """The link, at the temporary name, checked to lead to the kept copy."""
    folder = dup.folder
    if kind == "hard":
        try:
            fsops.add_name(keeper.folder, keeper.name, folder, temporary, keeper.identity)
        except fsops.Changed as error:
            raise fsops.Changed(f"the kept copy {keeper.path} changed ({error})") from None
        except OSError as error:
            if error.errno == errno.EXDEV:
                raise Refusal(_ACROSS["hard"]) from None
            if error.errno == errno.EMLINK:
                raise Refusal(
                    "the kept copy has as many hard links as its file system allows"
                ) from None
            raise
        return
    assert target is not None
    try:
        os.symlink(target, temporary, dir_fd=folder.fd)
    except FileExistsError:
        raise fsops.TargetExists(folder.join(temporary)) from None
    try:
        led = os.stat(temporary, dir_fd=folder.fd)  # followed, from the link's own folder
    except OSError:
        led = None
    if led is None or not keeper.identity.same_object(led):
        folder.unlink_quietly(temporary)
        raise fsops.Changed(f"a symbolic link to {target} would not lead to the kept copy")
    folder.sync()


def _keep_in_trash(dup: Checked) -> trash.TrashedFile:
    try:
        return trash.keep(dup.folder, dup.name, dup.path, dup.identity)
    except OSError as error:
        if error.errno == errno.EXDEV:
            raise Refusal(
                "the trash of its drive is on another mount of it (a bind mount), so its own "
                "copy cannot be kept there for undo; use --trash for it"
            ) from None
        raise


def _unlink_entry(entry: trash.TrashedFile) -> None:
    """Take a trash entry back (its file name, then its .trashinfo), as far as it can be: it is
    only ever a second name of a file that has its first."""
    with contextlib.suppress(OSError):
        os.unlink(entry.files_path)
    with contextlib.suppress(OSError):
        os.unlink(entry.info_path)


def _swap_in(
    folder: fsops.Folder, temporary: str, name: str, why_not: Callable[[str], str]
) -> bool:
    """Put the file at `temporary` at `name`, if the file that was at `name` is one `why_not`
    accepts (called with the name that file has by then, it returns "" or why not). True when
    that file is now at `temporary` (the exchange), False when it was renamed over (no exchange
    on this system). Raises fsops.Changed, with both names as they were, when `name` held
    another file."""
    try:
        exchange(folder, temporary, name)
    except OSError as error:
        if error.errno not in _NO_EXCHANGE:
            raise
        why = why_not(name)
        if why:
            raise fsops.Changed(why) from None
        os.rename(temporary, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
        return False
    why = why_not(temporary)
    if why:
        try:
            exchange(folder, temporary, name)  # put it back
        except OSError:
            raise fsops.Changed(why, left_at=folder.join(temporary)) from None
        raise fsops.Changed(why)
    return True


# ---------------------------------------------------------------- after a crash, and undo


def _own(intent: Mapping[str, Any]) -> tuple[int, int]:
    return int(intent.get("dev", -1)), int(intent.get("ino", -1))


def _is_own(info: os.stat_result | None, intent: Mapping[str, Any]) -> bool:
    """Whether `info` is the duplicate itself (its inode as checked)."""
    return (
        info is not None
        and stat.S_ISREG(info.st_mode)
        and (info.st_dev, info.st_ino) == _own(intent)
    )


def _is_link(folder: fsops.Folder, name: str, intent: Mapping[str, Any]) -> bool:
    """Whether `name` is the link the intent describes (the kept copy's inode, or a symbolic
    link holding the journaled target)."""
    info = folder.lstat_or_none(name)
    if info is None:
        return False
    if intent.get("link") == "symlink":
        if not stat.S_ISLNK(info.st_mode):
            return False
        return os.readlink(name, dir_fd=folder.fd) == intent.get("link_target")
    kept = int(intent.get("keeper_dev", -1)), int(intent.get("keeper_ino", -1))
    return stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) == kept


def settle(intent: Mapping[str, Any], root: str) -> tuple[dict[str, Any], str]:
    """What a link action a crash cut short had done, from the disk, and the journal record
    that says so ("done", or "failed": then apply tries it again), with a note in words."""
    seq, path = int(intent["seq"]), str(intent["path"])

    def failed(reason: str) -> tuple[dict[str, Any], str]:
        return {"type": "failed", "seq": seq, "reason": reason}, reason

    if intent.get("link") == "reflink":
        return failed(
            "interrupted while it was being reflinked; its bytes, inode and time are the same "
            "either way, and it is tried again"
        )
    try:
        folder, name = fsops.open_parent(path, root)
    except (OSError, fsops.UnsafePath) as error:
        return failed(f"its folder cannot be opened after the interruption ({error})")
    with folder:
        temporary = temporary_name(name)
        held = trash.locate(path, *_own(intent))
        if _is_own(folder.lstat_or_none(name), intent):  # not swapped: take steps 2-3 back
            if _is_link(folder, temporary, intent):
                folder.unlink_quietly(temporary)
            if held is not None:
                _unlink_entry(held)  # a second name of the file still in place
            trash.remove_orphan_info(path)
            folder.sync()
            return failed("interrupted before it was linked; it is still in place")
        if not _is_link(folder, name, intent):
            return failed(
                "after the interruption neither the duplicate nor its link is at its path; "
                "something else moved or deleted it"
            )
        spare = folder.lstat_or_none(temporary)
        if spare is not None and _is_own(spare, intent):
            if held is not None:
                folder.unlink_quietly(temporary)  # the duplicate's old name: it is in the trash
            else:  # never left without a name: into the trash with it
                digest = str(intent["digest"])
                with contextlib.suppress(OSError, fsops.Changed, fsops.TargetExists):
                    held = trash.send(folder, temporary, path, fsops.Identity.of(spare), digest)
            folder.sync()
    done = {
        "type": "done",
        "seq": seq,
        "destination": held.files_path if held is not None else None,
        "trashinfo": held.info_path if held is not None else None,
        "freed": int(intent["size"]) if int(intent.get("nlink", 1)) == 1 else 0,
        "recovered": True,
    }
    return done, "was linked just before the interruption; recorded"


def restore(intent: Mapping[str, Any], done: Mapping[str, Any], root: str) -> Back | str | None:
    """Undo one link: put the duplicate's own inode back at its path in place of the link.
    Returns Back, None when there is nothing to put back (it is back already, or a reflink,
    which kept its own inode), or why it cannot be."""
    path = str(intent["path"])
    try:
        folder, name = fsops.open_parent(path, root)
    except FileNotFoundError:
        return "its folder is gone since the apply; nothing is put back"
    with folder:
        here = folder.lstat_or_none(name)
        if intent.get("link") == "reflink":
            if _is_own(here, intent):
                return None  # it never left: its own inode, bytes and time, shared blocks
            return "it is no longer the file apply reflinked (a reflink keeps no copy aside)"
        return _restore_in(folder, name, path, intent, done)


def _restore_in(
    folder: fsops.Folder, name: str, path: str, intent: Mapping[str, Any], done: Mapping[str, Any]
) -> Back | str | None:
    temporary = temporary_name(name)
    source = str(done.get("destination") or "")
    info_path = done.get("trashinfo")
    if _is_own(folder.lstat_or_none(name), intent):  # back already (an undo cut short)
        _clean_after_undo(folder, temporary, intent, source, info_path)
        return None
    here_is_link = _is_link(folder, name, intent)
    if not here_is_link and folder.lexists(name):
        return (
            f"a file other than its link is at {path} now; it is not overwritten (the "
            f"duplicate is still at {source or 'the trash'})"
        )
    if not _is_own(folder.lstat_or_none(temporary), intent):
        if folder.lexists(temporary) and not _is_link(folder, temporary, intent):
            return f"a file is in the way at {folder.join(temporary)}; nothing is overwritten"
        if folder.lexists(temporary):  # a link an undo cut short had taken out
            folder.unlink(temporary)
        why = _take_from_trash(source, folder, temporary if here_is_link else name, intent)
        if why:
            return why
        if not here_is_link:  # the link was deleted since: the duplicate went straight back
            folder.sync()
            _remove_info(info_path)
            return Back(source)
    try:
        swapped = _swap_in(
            folder,
            temporary,
            name,
            lambda at: "" if _is_link(folder, at, intent) else "another file took its link's place",
        )
    except fsops.Changed as error:
        return f"{error} at {path} during the undo; the duplicate is at {folder.join(temporary)}"
    if swapped:
        _drop_link(folder, temporary, path, intent)
    _drop_trash_name(source, intent)  # an undo cut short between the two names of its move
    folder.sync()
    _remove_info(info_path)
    return Back(source)


def _take_from_trash(source: str, folder: fsops.Folder, new: str, intent: Mapping[str, Any]) -> str:
    """Move the duplicate's trash entry to `new` in `folder` (why it cannot be, or "")."""
    digest = str(intent["digest"])
    head, entry = os.path.split(source)
    if not source:
        return "the apply recorded no copy of it in the trash"
    try:
        origin = fsops.open_folder(head, head, follow_anchor=True)
    except OSError as error:
        return f"cannot open {head} ({error.strerror or error})"
    with origin:
        info = origin.lstat_or_none(entry)
        if info is None:
            return f"its own copy is no longer at {source} (the trash was emptied?)"
        if not stat.S_ISREG(info.st_mode) or fsops.digest_in(origin, entry) != digest:
            return f"the file at {source} is not the one that was replaced (its content differs)"
        try:
            try:
                fsops.place(origin, entry, folder, new, fsops.Identity.of(info))
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
                fsops.copy_across(origin, entry, folder, new, fsops.Identity.of(info), digest)
        except fsops.TargetExists:
            return f"a file has appeared at {folder.join(new)}; it is not overwritten"
        except fsops.Changed:
            return f"{source} changed while it was being restored"
        except OSError as error:
            return f"could not restore it from {source} ({error.strerror or error})"
    return ""


def _drop_link(folder: fsops.Folder, name: str, path: str, intent: Mapping[str, Any]) -> None:
    """Drop the link undo took out: a symbolic link, or a name of the kept copy. The last name
    of an inode (the kept copy's own name was replaced since) goes to the trash instead."""
    info = folder.lstat(name)
    if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
        digest = fsops.digest_in(folder, name) or ""
        trash.send(folder, name, path, fsops.Identity.of(info), digest)
    else:
        folder.unlink(name)


def _clean_after_undo(
    folder: fsops.Folder, temporary: str, intent: Mapping[str, Any], source: str, info: Any
) -> None:
    """The duplicate is at its path: drop what an undo cut short left (the link at the
    temporary name, the duplicate's trash name and .trashinfo)."""
    if _is_link(folder, temporary, intent):
        _drop_link(folder, temporary, str(intent["path"]), intent)
    elif _is_own(folder.lstat_or_none(temporary), intent):
        folder.unlink(temporary)
    _drop_trash_name(source, intent)
    _remove_info(info)
    folder.sync()


def _drop_trash_name(source: str, intent: Mapping[str, Any]) -> None:
    """Drop the duplicate's name in the trash if it is still one of the file now back in place
    (its own inode: a second name, never a copy)."""
    with contextlib.suppress(OSError):
        if source and _is_own(os.lstat(source), intent):
            os.unlink(source)


def _remove_info(info_path: Any) -> None:
    if isinstance(info_path, str) and info_path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(info_path)
