"""Act on a reviewed report: re-check every file, then trash or move the duplicates, journaled.

Stages: `validate(report)` -> `build_plan(report, action)` -> `open_session(plan)` (lock, resume
an interrupted journal) -> `execute(plan, session)` (or `preview(plan)` for a dry run).
`undo(state)` puts the files of a journal back.

What is checked, right before each group is acted on:
  * every kept file: it exists, is a regular file (not a symlink), has the size, mtime_ns and
    sha256 content digest the report recorded. If one is missing or changed, the whole group is
    left alone.
  * every file to remove: the same four checks; if it fails, that file is left alone.
  * it is not a hard link of a kept file (same device and inode now, or listed among the kept
    file's hard links at scan time): removing such a name frees nothing.
  * right before each removal, the verified kept files are looked at again (same inode, size,
    mtime_ns): if none is left in place, nothing more of that group is removed.
  * after trashing or moving, the moved inode still has the size and mtime_ns that were
    checked; if not, the file changed in the meantime and is put back.
Every file that is not acted on gets a reason (`Skip`). The core never prints.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dedupe import __version__, journal, trash
from dedupe import report as report_mod
from dedupe.durable import fsync_dir
from dedupe.journal import JournalError
from dedupe.models import ImageRecord
from dedupe.report import Report
from dedupe.scan import NoProgress, Progress

Kind = Literal["trash", "move"]

CHUNK_BYTES = 1024 * 1024
PARTIAL_SUFFIX = ".dedupe-partial"


class Refused(Exception):
    """The plan must not be acted on; the message says why in plain words."""


# ---------------------------------------------------------------- the plan (pure)


@dataclass(frozen=True, slots=True)
class Removal:
    """One file to trash or move (`target` is the move destination, None for trash)."""

    group: int
    record: ImageRecord
    target: str | None = None

    @property
    def path(self) -> str:
        return self.record.path


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    id: int
    keepers: tuple[ImageRecord, ...]
    removals: tuple[Removal, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    report_path: str
    kind: Kind | None  # None: no action chosen (a dry run)
    move_to: str | None
    groups: tuple[PlannedGroup, ...]

    @property
    def files(self) -> int:
        return sum(len(g.removals) for g in self.groups)

    @property
    def bytes(self) -> int:
        return sum(r.record.size for g in self.groups for r in g.removals)


def validate(report: Report, *, allow_root: bool = False) -> list[str]:
    """Reasons the report must not be acted on (empty when it may be); `allow_root`: a
    scanned folder may be the top of the file system (apply --allow-root)."""
    return report_mod.problems(report, allow_root=allow_root)


def _root_of(path: str, roots: Sequence[str]) -> str:
    best = ""
    for root in roots:
        root = os.path.abspath(root)
        if (path == root or path.startswith(os.path.join(root, ""))) and len(root) > len(best):
            best = root
    if not best:
        raise Refused(f"{path} is outside the scanned folders")
    return best


def _root_labels(roots: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    used: set[str] = set()
    for root in roots:
        root = os.path.abspath(root)
        base = os.path.basename(root.rstrip(os.sep)) or "root"
        label, counter = base, 1
        while label in used:
            counter += 1
            label = f"{base}-{counter}"
        used.add(label)
        labels[root] = label
    return labels


def move_target(path: str, roots: Sequence[str], move_to: str) -> str:
    """Where `--move DIR` puts a file: DIR/relative path (DIR/ROOT-NAME/... with many roots)."""
    root = _root_of(path, roots)
    relative = os.path.relpath(path, root)
    if len(roots) > 1:
        relative = os.path.join(_root_labels(roots)[root], relative)
    destination = os.path.abspath(move_to)
    target = os.path.join(destination, relative)
    if os.path.normpath(target) != target or not target.startswith(os.path.join(destination, "")):
        raise Refused(f"{path} would be moved outside {destination} (to {target})")
    return target


def build_plan(
    report: Report,
    report_path: str,
    kind: Kind | None,
    move_to: str | None = None,
    *,
    allow_root: bool = False,
) -> Plan:
    """The groups with something to remove, in report order. Raises Refused for a bad report."""
    problems = validate(report, allow_root=allow_root)
    if problems:
        raise Refused("the report cannot be applied: " + "; ".join(problems[:10]))
    if kind == "move" and not move_to:
        raise Refused("--move needs a folder")
    groups = []
    for group in report.groups:
        keepers = tuple(m.record for m in group.members if m.action == "keep")
        removals = tuple(
            Removal(
                group.id,
                m.record,
                move_target(m.record.path, report.roots, move_to)
                if kind == "move" and move_to
                else None,
            )
            for m in group.members
            if m.action == "trash"
        )
        if removals:
            groups.append(PlannedGroup(group.id, keepers, removals))
    return Plan(
        os.path.abspath(report_path), kind, move_to and os.path.abspath(move_to), tuple(groups)
    )


# ---------------------------------------------------------------- checking files


@dataclass(frozen=True, slots=True)
class Seen:
    """A file as it was when it passed its check."""

    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    nlink: int


def file_digest(path: str) -> str | None:
    """sha256 of a regular file's content (symlinks not followed), None if it cannot be read."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return _hash_handle(handle)
    except OSError:
        return None


_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
)


def _hash_handle(handle: Any) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest()


def check(record: ImageRecord) -> Seen | str:
    """Compare a file with what the report recorded. Returns what it is now, or why it differs.

    The reason reads after the file's name: "... is missing", "... has changed since the scan".
    """
    try:
        fd = os.open(record.path, _READ_FLAGS)
    except FileNotFoundError:
        return "is missing (moved or deleted since the scan)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link now (apply only acts on regular files)"
        return f"cannot be read ({error.strerror or error})"
    try:
        with os.fdopen(fd, "rb") as handle:
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode):
                return "is no longer a regular file"
            if before.st_size != record.size:
                return f"has changed since the scan (size {record.size} -> {before.st_size} bytes)"
            if before.st_mtime_ns != record.mtime_ns:
                return "has changed since the scan (modification time differs)"
            digest = _hash_handle(handle)
            after = os.fstat(handle.fileno())
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
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
    )


def still_there(seen: Seen) -> bool:
    """Cheap re-check: the same inode, size and mtime_ns are still at the path."""
    try:
        info = os.lstat(seen.path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
    ) == (seen.dev, seen.ino, seen.size, seen.mtime_ns)


def _same_inode(path: str, dev: int, ino: int) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (dev, ino)


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Outcome:
    """A file trashed or moved (or, in a preview, that would be)."""

    path: str
    group: int
    size: int
    destination: str | None  # trash or move path; None when the system trash hides it
    freed: int  # 0 when other hard links keep the data on disk


@dataclass(frozen=True, slots=True)
class Skip:
    path: str
    group: int
    reason: str


@dataclass(frozen=True, slots=True)
class ApplyResult:
    kind: Kind | None
    done: tuple[Outcome, ...]
    skipped: tuple[Skip, ...]
    previously: tuple[Outcome, ...] = ()  # done by an earlier, interrupted run of this apply
    notes: tuple[str, ...] = ()  # what resuming found and repaired
    interrupted: bool = False
    journal: str | None = None

    @property
    def bytes_freed(self) -> int:
        return sum(o.freed for o in self.done) + sum(o.freed for o in self.previously)


# ---------------------------------------------------------------- moving files safely


class TargetExists(Exception):
    pass


class ChangedDuringMove(Exception):
    pass


def partial_path(target: str) -> str:
    """The temporary name a cross-device copy is written under, next to its target."""
    head, tail = os.path.split(target)
    return os.path.join(head, f".{tail}{PARTIAL_SUFFIX}")


_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS)


def _place(source: str, target: str) -> None:
    """Give `source`'s inode the name `target`, never replacing an existing file, make that
    durable, then drop `source`. Same device only. Raises TargetExists, or OSError (EXDEV:
    another device). A crash in between leaves two names for one inode, never none."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise TargetExists(target) from None
    except OSError as error:
        if error.errno not in _NO_LINKS:
            raise
        # A file system without hard links: check, then rename (a small race, no better way).
        if os.path.lexists(target):
            raise TargetExists(target) from None
        os.rename(source, target)
        fsync_dir(os.path.dirname(target))
        return
    fsync_dir(os.path.dirname(target))
    os.unlink(source)


def _copy_across(source: str, target: str, seen: Seen, digest: str) -> None:
    """Move to another device: copy to a temporary name, fsync, verify the digest of the copy,
    give it its final name (never replacing), and only then delete the source."""
    partial = partial_path(target)
    if os.path.lexists(target):
        raise TargetExists(target)
    with open(source, "rb") as src_handle:
        info = os.fstat(src_handle.fileno())
        if (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) != (
            seen.dev,
            seen.ino,
            seen.size,
            seen.mtime_ns,
        ):
            raise ChangedDuringMove(source)
        copied = hashlib.sha256()
        with open(partial, "wb") as out:
            while chunk := src_handle.read(CHUNK_BYTES):
                copied.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    try:
        if copied.hexdigest() != digest:
            raise ChangedDuringMove(source)
        shutil.copymode(source, partial)
        os.utime(partial, ns=(info.st_atime_ns, info.st_mtime_ns))
        if file_digest(partial) != digest:
            raise OSError(errno.EIO, f"the copy at {partial} does not read back identical")
        _place(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    if not still_there(seen):
        # The source changed after it was copied: keep it, and drop our copy.
        Path(target).unlink(missing_ok=True)
        raise ChangedDuringMove(source)
    os.unlink(source)


def transfer(
    source: str, target: str, seen: Seen, digest: str, *, force_copy: bool = False
) -> None:
    """Move a checked file to `target` without ever replacing anything there, across devices
    too. Raises TargetExists, ChangedDuringMove or OSError; the source stays when it raises."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    if not force_copy and os.stat(parent).st_dev == seen.dev:
        try:
            _place(source, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        else:
            return
    _copy_across(source, target, seen, digest)


# ---------------------------------------------------------------- the session and its journal


@dataclass
class Session:
    """A locked, journaled apply: a new journal or an interrupted one being resumed."""

    writer: journal.Writer
    lock: journal.Lock  # on the report: one apply per report at a time
    previously: dict[str, dict[str, Any]]  # path -> "done" record of an earlier run
    notes: list[str]
    resumed: bool

    @property
    def path(self) -> Path:
        return self.writer.path

    def close(self) -> None:
        self.writer.close()
        self.lock.release()


def _report_digest(path: str) -> str:
    return file_digest(path) or ""


def _refuse_other_action(state: journal.State, plan: Plan) -> None:
    if state.ended is not None:
        raise Refused(
            f"the journal {state.path} records an apply that already finished; "
            "give a new --journal path (or none)"
        )
    if (state.header.get("action"), state.header.get("move_to")) != (plan.kind, plan.move_to):
        was = state.header.get("action")
        if was == "move":
            was = f"move {state.header.get('move_to')}"
        raise Refused(
            f"an interrupted apply of this report (--{was}) is not finished (journal "
            f"{state.path}); run it again with the same action to finish it, or `dedupe undo "
            f"--journal {state.path}` to put its files back"
        )


def open_session(plan: Plan, journal_path: str | Path | None = None) -> Session:
    """Lock the report, then resume its interrupted apply or start a new journal.

    Raises Refused when another apply holds the lock or the journal does not fit this apply.
    """
    if plan.kind is None:
        raise Refused("choose --trash or --move DIR")
    lock = journal.report_lock(plan.report_path)
    try:
        lock.acquire()
        return _open_locked(plan, journal_path, lock)
    except (JournalError, Refused) as error:  # Locked is a JournalError
        lock.release()
        raise Refused(str(error)) from None
    except BaseException:
        lock.release()
        raise


def _open_locked(plan: Plan, journal_path: str | Path | None, lock: journal.Lock) -> Session:
    if journal_path is not None:
        path = Path(journal_path)
        state = journal.read(path) if path.exists() else None
        if state is not None and state.report != plan.report_path:
            raise Refused(f"the journal {path} belongs to another report ({state.report})")
    else:
        state = journal.unfinished_for(plan.report_path)
        path = state.path if state is not None else journal.new_path(plan.report_path)
    if state is None:
        header = {
            "report": plan.report_path,
            "report_digest": _report_digest(plan.report_path),
            "action": plan.kind,
            "move_to": plan.move_to,
            "started_at": journal.now(),
            "tool_version": __version__,
        }
        return Session(journal.Writer.create(path, header), lock, {}, [], resumed=False)
    writer = journal.Writer.append_to(path)
    try:
        state = journal.read(path)  # again, now that it is locked
        _refuse_other_action(state, plan)
        resume = {"type": "resume", "at": journal.now()}
        writer.append({**resume, "report_digest": _report_digest(plan.report_path)})
        notes = reconcile(state, writer)
        previously = previously_done(journal.read(path))
    except BaseException:
        writer.close()
        raise
    return Session(writer, lock, previously, notes, resumed=True)


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


def reconcile(state: journal.State, writer: journal.Writer) -> list[str]:
    """Settle every action a crash left between "intent" and "done", by looking at the disk.

    Each pending action either happened (the file is at its destination: record "done") or did
    not (the file is still in place: record "failed", so it is tried again). Returns notes.
    """
    notes: list[str] = []
    for entry in sorted(state.pending, key=lambda e: e.seq):
        intent = entry.intent
        path = entry.path
        dev, ino, digest = int(intent["dev"]), int(intent["ino"]), str(intent["digest"])
        here = os.path.lexists(path)
        if here and _same_inode(path, dev, ino) and intent["action"] == "trash":
            removed = trash.remove_orphan_info(path)
            writer.append(
                {"type": "failed", "seq": entry.seq, "reason": "interrupted before trashing"}
            )
            notes.append(
                f"{path}: interrupted before it was trashed; it is still in place"
                + (" (a stray .trashinfo was removed)" if removed else "")
            )
            continue
        if intent["action"] == "trash":
            found = trash.locate(path, dev, ino) or next(
                (t for t in trash.find_by_original(path) if file_digest(t.files_path) == digest),
                None,
            )
            if found is not None:
                writer.append(_done_record(entry.seq, intent, found.files_path, found.info_path))
                notes.append(f"{path}: was trashed just before the interruption; recorded")
                continue
        else:
            target = str(intent["target"])
            partial = partial_path(target)
            if os.path.lexists(partial):
                Path(partial).unlink(missing_ok=True)
                notes.append(f"{partial}: an unfinished copy was removed")
            if os.path.lexists(target) and (
                _same_inode(target, dev, ino) or file_digest(target) == digest
            ):
                if here and (_same_inode(path, dev, ino) or file_digest(path) == digest):
                    os.unlink(path)  # the file at the target is complete and verified
                    fsync_dir(os.path.dirname(path))
                writer.append(_done_record(entry.seq, intent, target, None))
                notes.append(f"{path}: was moved just before the interruption; recorded")
                continue
        if here:
            verb = "trashed" if intent["action"] == "trash" else "moved"
            writer.append(
                {"type": "failed", "seq": entry.seq, "reason": f"interrupted before {verb}"}
            )
            notes.append(f"{path}: interrupted before it was {verb}; it is still in place")
            continue
        reason = "after the interruption the file is neither in place nor at its destination"
        writer.append({"type": "failed", "seq": entry.seq, "reason": reason})
        notes.append(f"{path}: {reason}; something else moved or deleted it")
    return notes


# ---------------------------------------------------------------- acting


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold back Ctrl-C (and SIGTERM/SIGHUP) during one journaled action, then deliver it, so
    an interrupt lands between actions. SIGKILL and power loss cannot be held back: the
    journal covers those.

    Python runs signal handlers in the main thread whichever thread the kernel picked (the
    progress bar has its own), so swapping the handlers is enough; masking would not be.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: object) -> None:
        caught.append(signum)

    names = ("SIGINT", "SIGTERM", "SIGHUP")
    numbers = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {number: signal.signal(number, hold) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        if caught:
            signal.raise_signal(caught[0])


def _put_back(moved: str, original: str) -> bool:
    try:
        _place(moved, original)
    except (TargetExists, OSError):
        return False
    return True


def _act(
    removal: Removal, seen: Seen, kind: Kind, writer: journal.Writer, seq: int, force_copy: bool
) -> Outcome | str:
    """Trash or move one checked file, journaled. Returns the outcome or why it was not done."""
    record = removal.record
    digest = record.fingerprint.digest
    writer.append(
        {
            "type": "intent",
            "seq": seq,
            "group": removal.group,
            "action": kind,
            "path": record.path,
            "target": removal.target,
            "size": seen.size,
            "mtime_ns": seen.mtime_ns,
            "digest": digest,
            "dev": seen.dev,
            "ino": seen.ino,
            "nlink": seen.nlink,
        }
    )
    destination: str | None
    info_path: str | None = None
    try:
        if kind == "trash":
            trash.send(record.path)
            found = trash.locate(record.path, seen.dev, seen.ino)
            destination = found.files_path if found else None
            info_path = found.info_path if found else None
        else:
            assert removal.target is not None
            transfer(record.path, removal.target, seen, digest, force_copy=force_copy)
            destination = removal.target
    except TargetExists:
        reason = f"{removal.target} already exists; nothing is overwritten"
    except ChangedDuringMove:
        reason = "it changed while it was being moved; it was left in place"
    except OSError as error:
        reason = f"it could not be {'trashed' if kind == 'trash' else 'moved'} " + (
            f"({error.strerror or error})"
        )
    else:
        reason = ""
    verb = "trashed" if kind == "trash" else "moved"
    unverified = False
    moved = Seen(destination or "", seen.dev, seen.ino, seen.size, seen.mtime_ns, seen.nlink)
    if (
        not reason
        and destination
        and _same_inode(destination, seen.dev, seen.ino)
        and not still_there(moved)
    ):
        # Written to between its check and the move: put it back as it is now.
        if _put_back(destination, record.path):
            if info_path:
                Path(info_path).unlink(missing_ok=True)
            reason = f"it changed while it was being {verb}; it was put back"
        else:
            unverified = True  # undo must not insist on the digest it no longer has
    if reason:
        writer.append({"type": "failed", "seq": seq, "reason": reason})
        return reason
    writer.append(
        {
            "type": "done",
            "seq": seq,
            "destination": destination,
            "trashinfo": info_path,
            "freed": seen.size if seen.nlink == 1 else 0,
            **({"unverified": True} if unverified else {}),
        }
    )
    return Outcome(
        record.path, removal.group, seen.size, destination, seen.size if seen.nlink == 1 else 0
    )


def _run(
    plan: Plan,
    session: Session | None,
    earlier: Mapping[str, Mapping[str, Any]],
    progress: Progress,
    force_copy: bool,
) -> ApplyResult:
    done: list[Outcome] = []
    skipped: list[Skip] = []
    previously: list[Outcome] = []
    act = session is not None and plan.kind is not None
    verb = {"trash": "Trashing", "move": "Moving", None: "Checking"}[plan.kind if act else None]
    progress.start(verb, sum(len(g.keepers) + len(g.removals) for g in plan.groups))
    seq = 1
    if session is not None:
        seq = journal.read(session.path).next_seq

    def skip(removal: Removal, reason: str) -> None:
        skipped.append(Skip(removal.path, removal.group, reason))
        if act and session is not None:
            session.writer.append(
                {"type": "skip", "group": removal.group, "path": removal.path, "reason": reason},
                sync=False,
            )

    interrupted = False
    try:
        for group in plan.groups:
            todo = []
            for removal in group.removals:
                record = earlier.get(removal.path)
                if record is not None:
                    size = removal.record.size
                    previously.append(
                        Outcome(
                            removal.path,
                            removal.group,
                            size,
                            record.get("destination"),
                            int(record.get("freed", size)),
                        )
                    )
                    progress.advance()
                else:
                    todo.append(removal)
            keepers: list[Seen] = []
            problem = None
            for keeper in group.keepers:
                result = check(keeper)
                progress.advance()
                if isinstance(result, str):
                    problem = problem or (
                        f"the kept copy {keeper.path} {result}; the whole group is left alone"
                    )
                else:
                    keepers.append(result)
            if problem is not None or not keepers:
                for removal in todo:
                    skip(removal, problem or "the group has no kept copy; it is left alone")
                    progress.advance()
                continue
            kept_inodes = {(k.dev, k.ino): k.path for k in keepers}
            kept_links = {link: k.path for k in group.keepers for link in k.links}
            for removal in todo:
                result = check(removal.record)
                if isinstance(result, str):
                    skip(removal, f"it {result}")
                    progress.advance()
                    continue
                twin = kept_inodes.get((result.dev, result.ino)) or kept_links.get(removal.path)
                if twin is not None:
                    skip(
                        removal,
                        f"it is a hard link of the kept copy {twin} (the same file on disk); "
                        "removing it would free nothing",
                    )
                    progress.advance()
                    continue
                if removal.target is not None and os.path.lexists(removal.target):
                    skip(removal, f"{removal.target} already exists; nothing is overwritten")
                    progress.advance()
                    continue
                if not act or session is None or plan.kind is None:
                    freed = result.size if result.nlink == 1 else 0
                    done.append(
                        Outcome(removal.path, removal.group, result.size, removal.target, freed)
                    )
                    progress.advance()
                    continue
                with _uninterrupted():
                    if not any(still_there(k) for k in keepers):
                        skip(
                            removal,
                            "no verified kept copy of this group is in place any more "
                            "(it changed or vanished during the apply); nothing more is "
                            "removed from this group",
                        )
                        outcome: Outcome | str | None = None
                    else:
                        outcome = _act(removal, result, plan.kind, session.writer, seq, force_copy)
                        seq += 1
                        if isinstance(outcome, str):
                            skip(removal, outcome)
                        else:
                            done.append(outcome)
                progress.advance()
        if act and session is not None:
            session.writer.append({"type": "end", "status": "finished", "at": journal.now()})
    except KeyboardInterrupt:
        interrupted = True
        if act and session is not None:
            session.writer.append({"type": "interrupted", "at": journal.now()})
    return ApplyResult(
        kind=plan.kind,
        done=tuple(done),
        skipped=tuple(skipped),
        previously=tuple(previously),
        notes=tuple(session.notes) if session is not None else (),
        interrupted=interrupted,
        journal=str(session.path) if session is not None else None,
    )


def preview(
    plan: Plan,
    progress: Progress | None = None,
    *,
    previously: Mapping[str, Mapping[str, Any]] | None = None,
) -> ApplyResult:
    """A dry run: every check apply would make, nothing moved. `done` lists what would be.

    `previously` (path -> "done" record) marks files an interrupted apply already handled.
    """
    return _run(plan, None, previously or {}, progress or NoProgress(), False)


def execute(
    plan: Plan,
    session: Session,
    progress: Progress | None = None,
    *,
    force_copy: bool = False,
) -> ApplyResult:
    """Check and act on every group of the plan, journaling each action in `session`.

    `force_copy` makes `--move` copy+verify+delete even on the same device (for tests).
    A Ctrl-C between two actions stops cleanly with `interrupted=True`.
    """
    return _run(plan, session, session.previously, progress or NoProgress(), force_copy)


# ---------------------------------------------------------------- undo


@dataclass(frozen=True, slots=True)
class Restored:
    path: str
    source: str


@dataclass(frozen=True, slots=True)
class UndoResult:
    journal: str
    restored: tuple[Restored, ...]
    already: tuple[str, ...]  # already back in place (restored by hand, or by an earlier undo)
    skipped: tuple[Skip, ...]
    notes: tuple[str, ...] = ()
    interrupted: bool = False


def find_journal(path: str | Path | None) -> journal.State:
    """The journal to undo: the given one, or the most recent apply's. Raises Refused."""
    try:
        if path is not None:
            return journal.read(path)
    except JournalError as error:
        raise Refused(str(error)) from None
    state = journal.last_apply()
    if state is None:
        raise Refused(f"no apply to undo (no journal in {journal.journals_dir()})")
    return state


def _remove_trashinfo(info_path: str | None) -> None:
    if info_path:
        Path(info_path).unlink(missing_ok=True)


def _restore_one(entry: journal.Entry) -> Restored | str | None:
    """Put one file back. Returns Restored, None when it already is back, or why it cannot be."""
    intent, done = entry.intent, entry.done
    assert done is not None
    path = entry.path
    digest = str(intent["digest"])
    source = done.get("destination")
    info_path = done.get("trashinfo")
    if source is None:
        if intent["action"] == "trash" and not trash.FREEDESKTOP:
            return "it was sent to the system trash; restore it from there"
        candidates = [
            t for t in trash.find_by_original(path) if file_digest(t.files_path) == digest
        ]
        if not candidates:
            return "it cannot be found in the trash (was the trash emptied?)"
        source, info_path = candidates[0].files_path, candidates[0].info_path
    source = str(source)
    if os.path.lexists(path):
        if os.path.lexists(source) and _same_inode(path, *_dev_ino(source)):
            os.unlink(source)  # an undo interrupted between its two steps
            _remove_trashinfo(info_path)
            return None
        if file_digest(path) == digest:
            # Back in place (restored by hand, or a copy across devices cut short): the
            # removed copy, if still there, is left alone; nothing is lost either way.
            return None
        return (
            f"a file has appeared at {path} since the apply; it is not overwritten "
            f"(the removed copy is still at {source})"
        )
    if not os.path.lexists(source):
        if intent["action"] == "trash":
            candidates = [
                t for t in trash.find_by_original(path) if file_digest(t.files_path) == digest
            ]
            if candidates:
                source, info_path = candidates[0].files_path, candidates[0].info_path
        if not os.path.lexists(source):
            return f"it is no longer at {source} (deleted or emptied from the trash?)"
    try:
        info = os.lstat(source)
    except OSError as error:
        return f"cannot read {source} ({error.strerror or error})"
    actual = file_digest(source) if stat.S_ISREG(info.st_mode) else None
    if actual is None or (actual != digest and not done.get("unverified")):
        return f"the file at {source} is not the one that was removed (its content differs)"
    seen = Seen(source, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_nlink)
    try:
        transfer(source, path, seen, actual)
    except TargetExists:
        return f"a file has appeared at {path}; it is not overwritten"
    except ChangedDuringMove:
        return f"{source} changed while it was being restored"
    except OSError as error:
        return f"could not restore it from {source} ({error.strerror or error})"
    _remove_trashinfo(info_path)
    return Restored(path, source)


def _prune_empty_dirs(directory: str, stop: str) -> None:
    """Remove the folders `--move` created under `stop` once undo has emptied them."""
    stop = os.path.abspath(stop)
    directory = os.path.abspath(directory)
    while directory.startswith(os.path.join(stop, "")):
        try:
            os.rmdir(directory)  # only ever succeeds on an empty folder
        except OSError:
            return
        directory = os.path.dirname(directory)


def _dev_ino(path: str) -> tuple[int, int]:
    info = os.lstat(path)
    return info.st_dev, info.st_ino


def open_undo(state: journal.State) -> journal.Writer:
    """Lock a journal for undo. Raises Refused when an apply or undo is using it."""
    try:
        return journal.Writer.append_to(state.path)
    except journal.Locked as error:
        raise Refused(str(error)) from None


def undo(
    state: journal.State, writer: journal.Writer, progress: Progress | None = None
) -> UndoResult:
    """Put back every file the journal's apply trashed or moved, newest first, byte-identical,
    never overwriting a file that has appeared at the original path since."""
    progress = progress or NoProgress()
    notes = reconcile(state, writer)
    state = journal.read(state.path)
    todo = sorted((e for e in state.done if not e.undone), key=lambda e: -e.seq)
    progress.start("Restoring", len(todo))
    restored: list[Restored] = []
    already: list[str] = []
    skipped: list[Skip] = []
    interrupted = False
    try:
        for entry in todo:
            with _uninterrupted():
                outcome = _restore_one(entry)
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
                        move_to = state.header.get("move_to")
                        if entry.intent["action"] == "move" and isinstance(move_to, str):
                            _prune_empty_dirs(os.path.dirname(outcome.source), move_to)
            progress.advance()
        if state.ended is None:
            writer.append({"type": "end", "status": "undone", "at": journal.now()})
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


def previously_done(state: journal.State) -> dict[str, dict[str, Any]]:
    """path -> "done" record for every file the journal's apply handled and undo did not undo."""
    return {e.path: e.done for e in state.done if not e.undone and e.done is not None}
