"""Act on a reviewed report: re-check every file, then trash, move or link the duplicates,
journaled.

Stages: `validate(report)` -> `build_plan(report, action)` -> `open_session(plan)` (lock the
report and every drive it touches, resume an interrupted journal) -> `execute(plan, session)`
(or `preview(plan)` for a dry run). `undo(state, session)` puts the files of a journal back.

What is checked, right before each group is acted on:
  * every kept file: its folder is reached from the scanned folder with no symbolic link on the
    way (fsops.open_folder), it is a regular file (opened with O_NOFOLLOW), and on that open
    descriptor it has the size, mtime_ns and sha256 content digest the report recorded. If one
    is missing or changed, the whole group is left alone.
  * every file to remove: the same checks; if it fails, that file is left alone.
  * it is not a hard link of a kept file (same device and inode now, or listed among the kept
    file's hard links at scan time): removing such a name frees nothing.
  * right before each removal, under the drive locks, the verified kept files are looked at again
    (same inode, size, mtime_ns, reached the same way): if none is left in place, nothing more
    of that group is removed.
  * the action itself acts on the checked file, not on whatever is at its path by then: it is
    made relative to the descriptor of the file's folder (the same folder object that was
    checked), the new name is a hard link whose device and inode are compared with the checked
    ones before the old name goes (fsops.place), so a file swapped in, or written to, since its
    check is left in place and reported.
Every file that is not acted on gets a reason (`Skip`). A failed action (read-only folder or
trash, immutable file, full disk) is a skip with its reason too; the rest of the plan goes on.
`--link` replaces a duplicate by a link to a byte-identical kept copy instead (linking.py): the
same checks, then the steps and crash states that module describes.
The core never prints.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import signal
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from dedupe import __version__, companions, fsops, journal, linking, trash
from dedupe import report as report_mod
from dedupe.fsops import PARTIAL_SUFFIX, TargetExists
from dedupe.hashing import ImageHash
from dedupe.journal import JournalError
from dedupe.linking import LinkKind
from dedupe.models import Companion, Fingerprint, Group, ImageRecord
from dedupe.report import Report
from dedupe.scan import NoProgress, Progress

Kind = Literal["trash", "move", "link"]

__all__ = ["PARTIAL_SUFFIX", "TargetExists"]


def _no_hook(path: str) -> None:
    pass


# The test seam between check and action: called with the file's path right before each trash
# or move, after every check (the file's, its folder's, the kept copies' under the drive locks)
# and after its intent is journaled. Tests replace it to force a race at exactly that moment (a
# file swapped in, a folder replaced, a second apply started, the disk filled). dedupe itself
# never changes it.
before_action: Callable[[str], None] = _no_hook


class Refused(Exception):
    """The plan must not be acted on; the message says why in plain words."""


# ---------------------------------------------------------------- the plan (pure)


@dataclass(frozen=True, slots=True)
class Removal:
    """One file to trash or move (`target` is the move destination, None for trash).

    The files of one unit (an image with its companions, a RAW with its JPEG twin: see
    units_of) share `unit` and are acted on together, all or none; `role` is "image" or the
    companion's role (a companion's `record` carries its path, size, time and digest)."""

    group: int
    record: ImageRecord
    target: str | None = None
    unit: int = 0
    role: str = "image"

    @property
    def path(self) -> str:
        return self.record.path


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    id: int
    keepers: tuple[ImageRecord, ...]
    removals: tuple[Removal, ...]

    @property
    def units(self) -> list[list[Removal]]:
        """The removals by unit, in plan order."""
        found: dict[int, list[Removal]] = {}
        for removal in self.removals:
            found.setdefault(removal.unit, []).append(removal)
        return list(found.values())


@dataclass(frozen=True, slots=True)
class Plan:
    report_path: str
    kind: Kind | None  # None: no action chosen (a dry run)
    move_to: str | None
    groups: tuple[PlannedGroup, ...]
    roots: tuple[str, ...] = ()  # the scanned folders (absolute): no symlink is followed below
    link: LinkKind | None = None  # for kind "link": hard, symlink or reflink
    # Companions the report lists for kept images: they stay, whatever else claims them.
    kept_companions: frozenset[str] = frozenset()

    def root_of(self, path: str) -> str:
        """The scanned folder `path` is in (the file system's root for a path in none)."""
        return anchor_of(path, self.roots)

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
    link: LinkKind | None = None,
) -> Plan:
    """The groups with something to remove, in report order (`link`: the kind of link for
    kind "link"). Raises Refused for a bad report, or a link kind this system cannot make."""
    problems = validate(report, allow_root=allow_root)
    if problems:
        raise Refused("the report cannot be applied: " + "; ".join(problems[:10]))
    if kind == "move" and not move_to:
        raise Refused("--move needs a folder")
    if kind == "link" and linking.refusal(str(link)):
        raise Refused(linking.refusal(str(link)))
    kept = kept_companions(report)
    groups = []
    counter = itertools.count(1)
    for group in report.groups:
        keepers = tuple(m.record for m in group.members if m.action == "keep")
        removals = tuple(
            replace(r, target=move_target(r.path, report.roots, move_to))
            if kind == "move" and move_to
            else r
            for r in units_of(report, group, kept, counter, alone=kind == "link")
        )
        if removals:
            groups.append(PlannedGroup(group.id, keepers, removals))
    return Plan(
        os.path.abspath(report_path),
        kind,
        move_to and os.path.abspath(move_to),
        tuple(groups),
        tuple(os.path.abspath(root) for root in report.roots),
        link if kind == "link" else None,
        frozenset(kept),
    )


# ---------------------------------------------------------------- units


def kept_companions(report: Report) -> set[str]:
    """The companions of every kept image: they are never removed with another image."""
    return {
        c.path
        for g in report.groups
        for m in g.members
        if m.action == "keep"
        for c in report.facts_of(m.record.path).companions
    }


def companion_record(companion: Companion) -> ImageRecord:
    """A companion as the record apply checks and journals (path, size, time, digest): it is
    checked and acted on exactly as an image is."""
    fingerprint = Fingerprint(0, 0, companion.role, companion.digest, ImageHash(0, 8), b"", b"")
    return ImageRecord(companion.path, companion.size, companion.mtime_ns, 0, 0, fingerprint)


def units_of(
    report: Report, group: Group, kept: set[str], counter: Iterator[int], *, alone: bool = False
) -> Iterator[Removal]:
    """The removals of a group, unit by unit: each image marked trash with its companions (a
    companion a kept image also has stays), the images of one capture (twins) in one unit when
    the rules keep twins together. Within a unit the images come first, then the companions.

    `alone` (apply --link): each image is a unit of its own, without its companions: a link
    takes the image's place at its path, so its sidecars and motion part still belong to it."""
    trashed = [m.record for m in group.members if m.action == "trash"]
    if alone:
        for record in trashed:
            yield Removal(group.id, record, unit=next(counter))
        return
    together = report.keep.twins == "together"
    twin_of = {r.path: report.facts_of(r.path).twins if together else () for r in trashed}
    taken: set[str] = set()
    for indices in companions.capture_units([r.path for r in trashed], twin_of):
        unit = next(counter)
        images = [trashed[k] for k in indices]
        for record in images:
            yield Removal(group.id, record, unit=unit)
        for record in images:
            for c in report.facts_of(record.path).companions:
                if c.path not in kept and c.path not in taken:
                    taken.add(c.path)
                    yield Removal(group.id, companion_record(c), unit=unit, role=c.role)


def anchor_of(path: str, roots: Sequence[str]) -> str:
    """The outermost of `roots` that holds `path`: where a walk with no symlink starts, so that
    a scanned folder inside another one (`scan A A/B`) is walked through as well and can never
    be a symlink. Outside every root (build_plan refuses such a path; an old journal has no
    roots) it is the file system's root, so then no folder on the whole path may be one."""
    best = ""
    for root in roots:
        inside = path == root or path.startswith(os.path.join(root, ""))
        if inside and (not best or len(root) < len(best)):
            best = root
    return best or os.path.abspath(os.sep)


# ---------------------------------------------------------------- checking files


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


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Outcome:
    """A file trashed or moved (or, in a preview, that would be)."""

    path: str
    group: int
    size: int
    destination: str | None  # trash or move path; None when the system trash hides it
    freed: int  # 0 when other hard links keep the data on disk
    trashinfo: str | None = None  # its .trashinfo in a freedesktop trash


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


def partial_path(target: str) -> str:
    """The temporary name a cross-device copy is written under, next to its target."""
    head, tail = os.path.split(target)
    return os.path.join(head, fsops.partial_name(tail))


def transfer(
    src: fsops.Folder,
    name: str,
    dst: fsops.Folder,
    new: str,
    expect: fsops.Identity,
    digest: str,
    *,
    force_copy: bool = False,
) -> None:
    """Move the checked file `src/name` to `dst/new` without ever replacing anything there,
    across devices too. Raises TargetExists, fsops.Changed or OSError; the source stays when it
    raises."""
    if not force_copy and dst.device() == expect.dev:
        try:
            fsops.place(src, name, dst, new, expect)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        else:
            return
    fsops.copy_across(src, name, dst, new, expect, digest)


# ---------------------------------------------------------------- the session and its journal


@dataclass
class Session:
    """A locked, journaled apply: a new journal or an interrupted one being resumed.

    A new journal is created with its first record (a skip or an action), so a run that has
    nothing to record leaves none. A journal that records no action is passed over by
    `dedupe undo` (find_journal): re-running a finished apply never hides the one that did
    the work.
    """

    path: Path
    writer: journal.Writer | None  # None until a new apply's first record
    locks: journal.Locks  # the report's lock and the lock of every drive the plan touches
    devices: frozenset[int]  # the drives locked: nothing on another one is acted on
    previously: dict[str, dict[str, Any]]  # path -> "done" record of an earlier run
    notes: list[str]
    resumed: bool
    next_seq: int = 1
    header: dict[str, Any] = field(default_factory=dict)  # of the journal still to be written
    # path -> the journal's entry of each file done (by an earlier run, then by this one), so
    # that the files of a unit that cannot be removed whole are put back.
    entries: dict[str, journal.Entry] = field(default_factory=dict)

    def begin(self) -> journal.Writer:
        """The journal writer, creating the journal on first use."""
        if self.writer is None:
            self.writer = journal.Writer.create(self.path, self.header)
        return self.writer

    def inform(self, record: dict[str, Any]) -> None:
        """Journal a record that only informs (a skip): flushed, not fsynced."""
        self.begin().append(record, sync=False)

    @property
    def written(self) -> bool:
        return self.writer is not None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.locks.release()


def _report_digest(path: str) -> str:
    return file_digest(path) or ""


def _refuse_other_action(state: journal.State, plan: Plan) -> None:
    if state.ended is not None:
        raise Refused(
            f"the journal {state.path} records an apply that already finished; "
            "give a new --journal path (or none)"
        )
    header = state.header
    if (header.get("action"), header.get("move_to"), header.get("link")) != (
        plan.kind,
        plan.move_to,
        plan.link,
    ):
        was = header.get("action")
        if was in ("move", "link"):
            was = f"{was} {header.get('move_to') or header.get('link')}"
        raise Refused(
            f"an interrupted apply of this report (--{was}) is not finished (journal "
            f"{state.path}); run it again with the same action to finish it, or `dedupe undo "
            f"--journal {state.path}` to put its files back"
        )


def _device_of(path: str) -> int | None:
    """The device of `path`, or of its nearest existing folder; None when none can be seen."""
    while True:
        try:
            return os.lstat(path).st_dev
        except OSError:
            up = os.path.dirname(path)
            if up == path:
                return None
            path = up


def drive_locks(paths: Sequence[str], holder: str) -> tuple[list[journal.Lock], frozenset[int]]:
    """A lock for each device the paths are on (missing paths: their nearest existing folder)."""
    devices: dict[int, str] = {}
    for path in paths:
        device = _device_of(path)
        if device is not None:
            devices.setdefault(device, path)
    locks = [journal.device_lock(dev, example, holder) for dev, example in devices.items()]
    return locks, frozenset(devices)


def _plan_paths(plan: Plan) -> list[str]:
    paths = [k.path for g in plan.groups for k in g.keepers]
    paths += [r.path for g in plan.groups for r in g.removals]
    if plan.move_to:
        paths.append(plan.move_to)
    return paths


def open_session(plan: Plan, journal_path: str | Path | None = None) -> Session:
    """Lock the report and every drive the plan touches, then resume the report's interrupted
    apply or prepare a new journal.

    Raises Refused when another apply or undo holds a lock or the journal does not fit this
    apply. The drive locks are what keeps two applies of different reports of one folder (or
    an undo there) from acting at once: each one's last-copy checks would pass before the other
    acts, and together they could remove every copy of a picture.
    """
    if plan.kind is None:
        raise Refused("choose --trash or --move DIR")
    holder = f"apply of {plan.report_path}"
    drives, devices = drive_locks(_plan_paths(plan), holder)
    locks = journal.Locks([journal.report_lock(plan.report_path, holder), *drives])
    try:
        locks.acquire()
        return _open_locked(plan, journal_path, locks, devices)
    except (JournalError, Refused) as error:  # Locked is a JournalError
        locks.release()
        raise Refused(str(error)) from None
    except BaseException:
        locks.release()
        raise


def _open_locked(
    plan: Plan,
    journal_path: str | Path | None,
    locks: journal.Locks,
    devices: frozenset[int],
) -> Session:
    if journal_path is not None:
        path = Path(journal_path)
        state = journal.read(path) if path.exists() else None
        if state is not None and state.report != plan.report_path:
            raise Refused(f"the journal {path} belongs to another report ({state.report})")
    else:
        state = journal.unfinished_for(plan.report_path)
        path = state.path if state is not None else journal.new_path(plan.report_path)
    if state is None:
        journal.remove_stale_temporaries(plan.report_path)
        header = {
            "report": plan.report_path,
            "report_digest": _report_digest(plan.report_path),
            "action": plan.kind,
            "move_to": plan.move_to,
            "link": plan.link,
            "roots": list(plan.roots),
            "started_at": journal.now(),
            "tool_version": __version__,
        }
        return Session(path, None, locks, devices, {}, [], resumed=False, header=header)
    writer = journal.Writer.append_to(path)
    try:
        state = journal.read(path)  # again, now that it is locked
        _refuse_other_action(state, plan)
        resume = {"type": "resume", "at": journal.now()}
        writer.append({**resume, "report_digest": _report_digest(plan.report_path)})
        notes = [f"{state.describe_damage()}; those lines were ignored"] if state.damage else []
        notes += reconcile(state, writer)
        state = journal.read(path)
        previously = previously_done(state)
    except BaseException:
        writer.close()
        raise
    entries = {e.path: e for e in state.done if not e.undone}
    return Session(
        path,
        writer,
        locks,
        devices,
        previously,
        notes,
        resumed=True,
        next_seq=state.next_seq,
        entries=entries,
    )


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
        if not folder.lexists(partial):
            return False
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


def _intent(removal: Removal, seen: Seen, kind: Kind, seq: int) -> dict[str, Any]:
    return {
        "type": "intent",
        "seq": seq,
        "group": removal.group,
        "action": kind,
        "path": removal.path,
        "target": removal.target,
        "size": seen.size,
        "mtime_ns": seen.mtime_ns,
        "digest": removal.record.fingerprint.digest,
        "dev": seen.dev,
        "ino": seen.ino,
        "nlink": seen.nlink,
        "unit": removal.unit,
        "role": removal.role,
    }


def _act(
    removal: Removal,
    seen: Seen,
    plan: Plan,
    session: Session,
    seq: int,
    force_copy: bool,
) -> Outcome | str:
    """Trash or move one checked file, journaled. Returns the outcome or why it was not done.

    Raises OSError only when the journal cannot be written (the caller stops there)."""
    kind = plan.kind
    assert kind is not None
    digest = removal.record.fingerprint.digest
    writer = session.begin()
    writer.append(_intent(removal, seen, kind, seq))
    verb = "trashed" if kind == "trash" else "moved"
    destination: str | None = None
    info_path: str | None = None
    try:
        destination, info_path = _move_checked(removal, seen, plan, digest, force_copy)
    except TargetExists:
        reason = f"{removal.target} already exists; nothing is overwritten"
    except fsops.UnsafePath as error:
        reason = f"it was not {verb}: {error} now (apply acts only in real folders)"
    except fsops.Changed as error:
        reason = f"{error} between its check and the action; nothing was {verb}"
        if error.left_at:
            reason = (
                f"{error} between its check and the action; that file was {verb} by mistake "
                f"and could not be put back (a file is at its path again): it is at "
                f"{error.left_at}"
            )
    except OSError as error:
        reason = f"it could not be {verb} ({error.strerror or error})"
    else:
        reason = ""
    return _ended(writer, removal, seen, seq, reason, destination, info_path, destination)


def _ended(
    writer: journal.Writer,
    removal: Removal,
    seen: Seen,
    seq: int,
    reason: str,
    destination: str | None,
    info_path: str | None,
    shown: str | None,
) -> Outcome | str:
    """Journal how one action ended: "failed" with `reason`, or "done" with where the file went
    (`destination`, its .trashinfo). Returns the reason, or the outcome (`shown`: the
    destination people see)."""
    if reason:
        writer.append({"type": "failed", "seq": seq, "reason": reason})
        return reason
    freed = seen.size if seen.nlink == 1 else 0
    writer.append(
        {
            "type": "done",
            "seq": seq,
            "destination": destination,
            "trashinfo": info_path,
            "freed": freed,
        }
    )
    return Outcome(removal.path, removal.group, seen.size, shown, freed, info_path)


def _move_checked(
    removal: Removal, seen: Seen, plan: Plan, digest: str, force_copy: bool
) -> tuple[str | None, str | None]:
    """The action itself, on the checked file: (where it went, its .trashinfo)."""
    folder, name = fsops.open_parent(removal.path, seen.root)
    with folder:
        if folder.identity() != seen.parent:
            raise fsops.Changed("its folder was replaced")
        before_action(removal.path)
        if plan.kind == "trash":
            placed = trash.send(folder, name, removal.path, seen.identity, digest)
            if placed is None:  # macOS, Windows: the system trash does not say where
                return None, None
            return placed.files_path, placed.info_path
        assert removal.target is not None and plan.move_to is not None
        target, new = fsops.open_parent(
            removal.target, plan.move_to, follow_anchor=True, create=True
        )
        with target:
            transfer(folder, name, target, new, seen.identity, digest, force_copy=force_copy)
        return removal.target, None


# ---------------------------------------------------------------- linking (apply --link)


def _link_keeper(
    removal: Removal, seen: Seen, group: PlannedGroup, keepers: Sequence[Seen], plan: Plan
) -> Seen | str | None:
    """For --link: the verified kept copy with the duplicate's bytes that it becomes a link to
    (the first in report order), or why it cannot become one. None for --trash and --move."""
    if plan.kind != "link" or plan.link is None:
        return None
    digest = removal.record.fingerprint.digest
    verified = {k.path: k for k in keepers}
    same = [
        verified[k.path]
        for k in group.keepers
        if k.fingerprint.digest == digest and k.path in verified
    ]
    if not same:
        return (
            "it is similar to its kept copy, not identical (its SHA-256 differs): only "
            "byte-identical copies are replaced by links; use --trash or --move for it"
        )
    keeper = same[0]
    return linking.precheck(plan.link, removal.path, seen.dev, keeper.path, keeper.dev) or keeper


def _act_link(
    removal: Removal, seen: Seen, keeper: Seen, plan: Plan, session: Session, seq: int
) -> Outcome | str:
    """Replace one checked duplicate by a link to its checked kept copy, journaled. Returns the
    outcome (its destination: the kept copy) or why it was not done.

    Raises OSError only when the journal cannot be written (the caller stops there)."""
    kind = plan.link
    assert kind is not None
    target = None
    if kind == "symlink":
        target = linking.symlink_target(removal.path, keeper.path, seen.root, keeper.root)
    writer = session.begin()
    intent = _intent(removal, seen, "link", seq)
    intent.update(
        link=kind,
        keeper=keeper.path,
        keeper_dev=keeper.dev,
        keeper_ino=keeper.ino,
        link_target=target,
    )
    writer.append(intent)
    held: trash.TrashedFile | None = None
    try:
        held = _link_checked(removal, seen, keeper, kind, target)
    except TargetExists as error:
        reason = f"{error} is in the way (the temporary name of its link); nothing is overwritten"
    except fsops.UnsafePath as error:
        reason = f"it was not linked: {error} now (apply acts only in real folders)"
    except fsops.Changed as error:
        reason = f"{error} between its check and the action; nothing was linked"
        if error.left_at and os.path.basename(error.left_at).startswith(linking.TEMPORARY_PREFIX):
            reason += f"; the file that took its place is at {error.left_at}"
        elif error.left_at:
            reason += f"; the checked file, no longer at its path, is kept at {error.left_at}"
    except linking.Refusal as error:
        reason = str(error)
    except OSError as error:
        reason = f"it could not be linked ({error.strerror or error})"
    else:
        reason = ""
    destination = held.files_path if held is not None else None
    info_path = held.info_path if held is not None else None
    return _ended(writer, removal, seen, seq, reason, destination, info_path, keeper.path)


def _link_checked(
    removal: Removal, seen: Seen, keeper: Seen, kind: LinkKind, target: str | None
) -> trash.TrashedFile | None:
    """The link itself, in the two checked folders: where the duplicate's own inode is kept
    (None for a reflink, which keeps it in place)."""
    folder, name = fsops.open_parent(removal.path, seen.root)
    with folder:
        if folder.identity() != seen.parent:
            raise fsops.Changed("its folder was replaced")
        kept_folder, kept_name = fsops.open_parent(keeper.path, keeper.root)
        with kept_folder:
            if kept_folder.identity() != keeper.parent:
                raise fsops.Changed(f"the folder of the kept copy {keeper.path} was replaced")
            before_action(removal.path)
            dup = linking.Checked(folder, name, removal.path, seen.identity)
            kept = linking.Checked(kept_folder, kept_name, keeper.path, keeper.identity)
            digest = removal.record.fingerprint.digest
            if kind == "reflink":
                linking.share(dup, kept, digest)
                return None
            return linking.replace(kind, dup, kept, digest, target)


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


def _run(
    plan: Plan,
    session: Session | None,
    earlier: Mapping[str, Mapping[str, Any]],
    progress: Progress,
    force_copy: bool,
) -> ApplyResult:
    act = session is not None and plan.kind is not None
    verb = {"trash": "Trashing", "move": "Moving", "link": "Linking", None: "Checking"}[
        plan.kind if act else None
    ]
    progress.start(verb, sum(len(g.keepers) + len(g.removals) for g in plan.groups))
    run = _Run(plan, session if act else None, earlier, progress, force_copy)
    try:
        for group in plan.groups:
            run.group(group)
        if act and session is not None and session.written:
            session.begin().append({"type": "end", "status": "finished", "at": journal.now()})
    except KeyboardInterrupt:
        run.interrupted = True
        if act and session is not None and session.written:
            session.begin().append({"type": "interrupted", "at": journal.now()})
    return ApplyResult(
        kind=plan.kind,
        done=tuple(run.done),
        skipped=tuple(run.skipped),
        previously=tuple(run.previously),
        notes=tuple(session.notes) if session is not None else (),
        interrupted=run.interrupted,
        journal=str(session.path) if session is not None and session.written else None,
    )


@dataclass
class _Run:
    """One pass over a plan: every group's kept copies checked, then each unit of files to
    remove checked whole and acted on whole (or, `session` None, only checked)."""

    plan: Plan
    session: Session | None  # None: a preview
    earlier: Mapping[str, Mapping[str, Any]]
    progress: Progress
    force_copy: bool
    done: list[Outcome] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    previously: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    seq: int = 0
    locked: frozenset[int] = frozenset()
    listings: dict[str, set[str]] = field(default_factory=dict)
    # apply --link: the verified kept copy each checked duplicate becomes a link to
    link_to: dict[str, Seen | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seq = self.session.next_seq if self.session is not None else 1
        self.locked = self.session.devices if self.session is not None else frozenset()

    def skip(self, removal: Removal, reason: str) -> None:
        self.skipped.append(Skip(removal.path, removal.group, reason))
        if self.session is not None:
            self.session.inform(
                {"type": "skip", "group": removal.group, "path": removal.path, "reason": reason}
            )

    def check(self, record: ImageRecord) -> Seen | str:
        result = check(record, self.plan.root_of(record.path))
        if isinstance(result, Seen) and self.session is not None and result.dev not in self.locked:
            return _UNLOCKED
        return result

    def group(self, group: PlannedGroup) -> None:
        keepers: list[Seen] = []
        problem = None
        for keeper in group.keepers:
            result = self.check(keeper)
            self.progress.advance()
            if isinstance(result, str):
                problem = problem or (
                    f"the kept copy {keeper.path} {result}; the whole group is left alone"
                )
            else:
                keepers.append(result)
        if problem is None and not keepers:
            problem = "the group has no kept copy; it is left alone"
        for unit in group.units:
            self.unit(group, unit, keepers, problem)

    def unit(
        self, group: PlannedGroup, unit: list[Removal], keepers: list[Seen], problem: str | None
    ) -> None:
        """Check every file of the unit, then act on them all, or on none (putting back the
        ones an interrupted run already moved when the rest cannot follow)."""
        before = [r for r in unit if r.path in self.earlier]
        todo = [r for r in unit if r.path not in self.earlier]
        for removal in before:
            record = self.earlier[removal.path]
            size = removal.record.size
            self.previously.append(
                Outcome(
                    removal.path,
                    removal.group,
                    size,
                    record.get("destination"),
                    int(record.get("freed", size)),
                )
            )
            self.progress.advance()
        if not todo:
            return
        seen: dict[str, Seen] = {}
        reason = problem
        if reason is None:
            reason = self._check_unit(group, unit, todo, keepers, seen)
        if reason is not None:
            self._abandon(unit, before, todo, reason)
            return
        if self.session is None or self.plan.kind is None:
            for removal in todo:
                result = seen[removal.path]
                freed = result.size if result.nlink == 1 else 0
                link_to = self.link_to.get(removal.path)
                where = link_to.path if link_to is not None else removal.target
                self.done.append(Outcome(removal.path, removal.group, result.size, where, freed))
                self.progress.advance()
            return
        with _uninterrupted():
            self._act_unit(unit, before, todo, keepers, seen)

    def _check_unit(
        self,
        group: PlannedGroup,
        unit: list[Removal],
        todo: list[Removal],
        keepers: list[Seen],
        seen: dict[str, Seen],
    ) -> str | None:
        """Why the unit cannot be acted on (None when every file of it passes its checks)."""
        kept_inodes = {(k.dev, k.ino): k.path for k in keepers}
        kept_links = {link: k.path for k in group.keepers for link in k.links}
        for removal in todo:
            result = self.check(removal.record)
            what = _what(removal, unit)
            if isinstance(result, str):
                return f"{what} {result}" + _left_together(removal, unit)
            twin = kept_inodes.get((result.dev, result.ino)) or kept_links.get(removal.path)
            if twin is not None:
                verb = "linking" if self.plan.kind == "link" else "removing"
                return (
                    f"{what} is a hard link of the kept copy {twin} (the same file on disk); "
                    f"{verb} it would free nothing" + _left_together(removal, unit)
                )
            if removal.target is not None and os.path.lexists(removal.target):
                return f"{removal.target} already exists; nothing is overwritten" + (
                    _left_together(removal, unit)
                )
            link_to = _link_keeper(removal, result, group, keepers, self.plan)
            if isinstance(link_to, str):
                return link_to
            self.link_to[removal.path] = link_to
            seen[removal.path] = result
        # A link takes the image's place at its path: its sidecars stay with it, listed or not.
        unlisted = self._unlisted(unit) if self.plan.kind != "link" else []
        if unlisted:
            return (
                f"it has sidecars the report does not list ({', '.join(unlisted)}): they "
                "appeared since the scan, or the report was made by a dedupe that did not know "
                "them; scan again so they go with it"
            )
        return None

    def _unlisted(self, unit: list[Removal]) -> list[str]:
        """Sidecars on disk now of the unit's images (by name, companions.py) that the unit
        does not list and no kept image claims."""
        listed = {r.path for r in unit} | self.plan.kept_companions
        found = []
        for removal in unit:
            if removal.role not in ("image", "motion"):
                continue
            head, name = os.path.split(removal.path)
            names = self.listings.get(head)
            if names is None:
                try:
                    names = set(os.listdir(head))
                except OSError:
                    names = set()
                self.listings[head] = names
            for other, _ in companions.find(names, [name])[name]:
                path = os.path.join(head, other)
                if path not in listed and os.path.isfile(path) and not os.path.islink(path):
                    found.append(path)
        return sorted(set(found))

    def _abandon(
        self, unit: list[Removal], before: list[Removal], todo: list[Removal], reason: str
    ) -> None:
        """Leave the unit's files in place; put back what an interrupted run moved of it."""
        back = ""
        if before and self.session is not None:
            back = self._roll_back(before)
        for removal in todo:
            self.skip(removal, reason + back)
            self.progress.advance()

    def _act_unit(
        self,
        unit: list[Removal],
        before: list[Removal],
        todo: list[Removal],
        keepers: list[Seen],
        seen: dict[str, Seen],
    ) -> None:
        assert self.session is not None
        moved: list[Removal] = []
        for k, removal in enumerate(todo):
            # Under the drive locks, right before the action: no other dedupe can take a kept
            # copy away between this look and the action.
            if not any(still_there(k) for k in keepers):
                failure = (
                    "no verified kept copy of this group is in place any more (it changed or "
                    "vanished during the apply); nothing more is removed from this group"
                )
            else:
                seq, result = self.seq, seen[removal.path]
                link_to = self.link_to.get(removal.path)
                outcome = (
                    _act_link(removal, result, link_to, self.plan, self.session, seq)
                    if link_to is not None
                    else _act(removal, result, self.plan, self.session, seq, self.force_copy)
                )
                self.seq += 1
                if not isinstance(outcome, str):
                    self.done.append(outcome)
                    moved.append(removal)
                    assert self.plan.kind is not None
                    self.session.entries[removal.path] = journal.Entry(
                        _intent(removal, result, self.plan.kind, seq),
                        {
                            "type": "done",
                            "seq": seq,
                            "destination": outcome.destination,
                            "trashinfo": outcome.trashinfo,
                        },
                    )
                    self.progress.advance()
                    continue
                failure = outcome if len(unit) == 1 else f"{_what(removal, unit)}: {outcome}"
            # This file cannot go: the unit stays whole where it was.
            back = self._roll_back([*before, *moved]) if before or moved else ""
            for other in todo[k:]:
                self.skip(
                    other,
                    failure + (_left_together(other, unit) if other is not removal else "") + back,
                )
                self.progress.advance()
            return

    def _state(self) -> journal.State:
        """This apply's journal as undo reads it: what rolling a unit back needs (its scanned
        folders and --move folder, where files may be taken back from)."""
        assert self.session is not None
        header = {"roots": list(self.plan.roots), "action": self.plan.kind}
        return journal.State(self.session.path, {**header, "move_to": self.plan.move_to})

    def _roll_back(self, removals: list[Removal]) -> str:
        """Put back files of a unit already trashed or moved (this run's or an interrupted
        one's), newest first, journaled as undone; what it says, for the skip reasons."""
        assert self.session is not None
        writer = self.session.begin()
        entries = self.session.entries
        failed = []
        for removal in reversed(removals):
            entry = entries.get(removal.path)
            if entry is None:
                failed.append(f"{removal.path} (not in the journal)")
                continue
            outcome = _restore_one(entry, self._state())
            if isinstance(outcome, str):
                failed.append(f"{removal.path}: {outcome}")
                continue
            writer.append({"type": "undone", "seq": entry.seq, "rollback": True})
            self.done = [o for o in self.done if o.path != removal.path]
            self.previously = [o for o in self.previously if o.path != removal.path]
            self.skipped.append(
                Skip(removal.path, removal.group, "put back: its unit could not be removed whole")
            )
        if failed:
            return (
                "; the files of its unit already removed could not all be put back ("
                + "; ".join(failed)
                + "): `dedupe undo` puts them back"
            )
        return "; the files of its unit already removed were put back"


def _what(removal: Removal, unit: list[Removal]) -> str:
    """How a file of a unit is named in a reason: "it" alone, else by its name ("its sidecar
    X" for a companion)."""
    if len(unit) == 1:
        return "it"
    name = os.path.basename(removal.path)
    if removal.role == "image":
        return name
    return f"its {'motion part' if removal.role == 'motion' else 'sidecar'} {name}"


def _left_together(removal: Removal, unit: list[Removal]) -> str:
    """For a unit of several files: that they all stay."""
    if len(unit) == 1:
        return ""
    return "; the image and its companions stay together where they are"


_UNLOCKED = "is on a drive this apply did not lock (mounted after it started?); it is left alone"


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
                        _prune_empty_dirs(os.path.dirname(source), move_to)
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
