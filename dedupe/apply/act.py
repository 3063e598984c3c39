"""Acting on a plan (`execute`; `preview` for a dry run that acts on nothing): every group's
kept copies checked, then each unit of files to remove checked whole and trashed, moved or
linked whole, each action journaled in the session and made on the very file that was checked.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dedupe import companions, fsops, journal, linking, trash
from dedupe.apply.check import Seen, check, still_there
from dedupe.apply.plan import Kind, Plan, PlannedGroup, Removal
from dedupe.apply.restore import _restore_one
from dedupe.apply.session import Session
from dedupe.apply.transfer import transfer
from dedupe.fsops import TargetExists
from dedupe.linking import LinkKind
from dedupe.models import ImageRecord
from dedupe.scan import NoProgress, Progress


def _no_hook(path: str) -> None:
    pass


# The test seam between check and action: called with the file's path right before each trash
# or move, after every check (the file's, its folder's, the kept copies' under the drive locks)
# and after its intent is journaled. Tests replace it to force a race at exactly that moment (a
# file swapped in, a folder replaced, a second apply started, the disk filled). dedupe itself
# never changes it.
before_action: Callable[[str], None] = _no_hook


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
    """What an apply (or a dry run: `preview`) did: each file acted on (`done`: path,
    destination, bytes freed), each left alone with its reason (`skipped`), and its journal."""

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
    # per folder: the names on disk that could be sidecars (companions.sidecar_names), listed
    # once, when the folder's first image is checked
    listings: dict[str, frozenset[str]] = field(default_factory=dict)
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
        # (the kept images' companions looked up where needed, never copied: a union per unit
        # copied every one of them, 31 ms a unit with 94,000 of them)
        listed = {r.path for r in unit}
        kept = self.plan.kept_companions
        found = []
        for removal in unit:
            if removal.role not in ("image", "motion"):
                continue
            head, name = os.path.split(removal.path)
            names = self.listings.get(head)
            if names is None:
                try:
                    names = companions.sidecar_names(os.listdir(head))
                except OSError:
                    names = frozenset()
                self.listings[head] = names
            if not names:
                continue
            for other, _ in companions.find(names, [name])[name]:
                path = os.path.join(head, other)
                if path in listed or path in kept:
                    continue
                if os.path.isfile(path) and not os.path.islink(path):
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
