"""A locked, journaled apply (`open_session`): the report's lock and the lock of every drive the
plan touches, and a new journal or the report's interrupted one, reconciled and resumed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dedupe import __version__, journal
from dedupe.apply.check import file_digest
from dedupe.apply.plan import Plan
from dedupe.apply.reconcile import reconcile
from dedupe.errors import Refused
from dedupe.journal import JournalError


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
    # the report's SHA-256, read once: the one the journal is matched by is the one it records
    digest = _report_digest(plan.report_path)
    if journal_path is not None:
        path = Path(journal_path)
        state = journal.read(path) if path.exists() else None
        if state is not None and not journal.of_report(
            state, plan.report_path, digest, named=False
        ):
            raise Refused(f"the journal {path} belongs to another report ({state.report})")
    else:
        state = journal.unfinished_for(plan.report_path, digest)
        path = state.path if state is not None else journal.new_path(plan.report_path)
    if state is None:
        journal.remove_stale_temporaries(plan.report_path)
        header = {
            "report": plan.report_path,
            "report_resolved": True,  # the file the path leads to (journal.of_report)
            "report_digest": digest,
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
        writer.append({**resume, "report_digest": digest})
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


def previously_done(state: journal.State) -> dict[str, dict[str, Any]]:
    """path -> "done" record for every file the journal's apply handled and undo did not undo."""
    return {e.path: e.done for e in state.done if not e.undone and e.done is not None}
