"""The apply journal: an append-only JSON-lines file, fsynced record by record, and its lock.

One journal per apply session (resumed sessions append to the same file). Records:

  {"type": "apply", ...header...}              first line: report, action, move target, time
  {"type": "resume", "at": ...}                the same apply was started again
  {"type": "intent", "seq": N, "path": ..., "size": ..., "digest": ..., "action": ...,
   "unit": U, "role": R}                       action trash, move, or link (with "link": hard,
                                               symlink or reflink, "keeper", "keeper_dev",
                                               "keeper_ino", "link_target": see linking.py);
                                               unit, role: the file's unit, see below
  {"type": "done", "seq": N, "destination": ..., "trashinfo": ...}
  {"type": "failed", "seq": N, "reason": ...}  the intent did not happen (file left in place)
  {"type": "skip", "group": G, "path": ..., "reason": ...}
  {"type": "interrupted", "at": ...}           Ctrl-C between two actions: resumable
  {"type": "end", "status": "finished" | "undone", "at": ...}
  {"type": "undone", "seq": N}                 undo put the file back (or found it back);
                                               "rollback": true when apply itself did, because
                                               its unit could not be removed whole
  {"type": "undo-skip", "seq": N, "reason": ...}

The files of a unit (an image, its sidecars and Live Photo motion part, a RAW and its JPEG
twin) share `unit`; `role` is "image" or the companion's role (xmp, aae, takeout, thm, motion).
Each file has its own intent and done, so a crash between two files of a unit is settled like
any other action, and the resumed apply finishes the unit or puts it back (apply.py).

Every record is written and flushed, and every record about an action ("intent", "done",
"failed", "undone") is fsynced before the program goes on, so after a crash (even a power
loss) the file tells which actions were about to happen ("intent" without "done") and which
did. Informational records (skips) are flushed, and made durable by the next fsync.
A crash can tear the last line; readers ignore a torn last line and writers cut it off. Any
other line that cannot be read (not JSON, a field missing or of the wrong type, a record about
an action with no "intent") is damage: `read` lists it by line number and reads the rest, so
undo can put back what the readable records describe and say which lines it could not use.
A writer that fails (disk full, I/O error) refuses every later record, so a journal never has a
torn line in the middle.

Beside the journals are the locks: one per report (`journals/KEY.lock`: one apply of a report
at a time) and one per device (`locks/dev-N.lock`) that an apply or undo acts on, so two applies
of different reports of one folder, or an undo and an apply there, never run at once.
Paths are JSON strings; undecodable file-name bytes travel as \\udcXX escapes (see report.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dedupe.durable import fsync_dir
from dedupe.errors import DedupeError

JOURNAL_VERSION = 1
SUFFIX = ".jsonl"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class JournalError(DedupeError):
    """The journal cannot be used; the message says why in plain words."""


class Locked(JournalError):
    """Another dedupe process holds the lock."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def state_home() -> Path:
    value = os.environ.get("XDG_STATE_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(os.path.expanduser("~")) / ".local" / "state"


def journals_dir() -> Path:
    return state_home() / "dedupe" / "journals"


def report_key(report_path: str) -> str:
    """A short name for a report file, from its absolute path."""
    absolute = os.path.abspath(report_path)
    return hashlib.sha256(os.fsencode(absolute)).hexdigest()[:16]


def new_path(report_path: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return journals_dir() / f"{report_key(report_path)}-{stamp}{SUFFIX}"


@dataclass
class Entry:
    """What the journal says about one action (by sequence number)."""

    intent: dict[str, Any]
    done: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None
    undone: bool = False

    @property
    def seq(self) -> int:
        return int(self.intent["seq"])

    @property
    def path(self) -> str:
        return str(self.intent["path"])

    @property
    def pending(self) -> bool:
        return self.done is None and self.failed is None


@dataclass
class State:
    """A journal read back: its header and what happened to each action."""

    path: Path
    header: dict[str, Any]
    entries: dict[int, Entry] = field(default_factory=dict)
    skips: list[dict[str, Any]] = field(default_factory=list)
    ended: str | None = None  # status of the "end" record, None while unfinished
    damage: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)

    @property
    def done(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.done is not None]

    @property
    def pending(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.pending]

    @property
    def next_seq(self) -> int:
        return max(self.entries, default=0) + 1

    @property
    def report(self) -> str:
        return str(self.header.get("report", ""))

    @property
    def started_at(self) -> str:
        return str(self.header.get("started_at", ""))

    @property
    def roots(self) -> tuple[str, ...]:
        """The scanned folders of the applied report (empty in journals older than 0.2)."""
        roots = self.header.get("roots")
        if isinstance(roots, list) and all(isinstance(r, str) for r in roots):
            return tuple(roots)
        return ()

    @property
    def undoable(self) -> list[Entry]:
        """The actions undo has to settle: done and not undone, or interrupted midway."""
        return [e for e in self.entries.values() if (e.done and not e.undone) or e.pending]

    @property
    def status(self) -> str:
        """damaged, undone, partly undone, interrupted or finished."""
        done = self.done
        undone = sum(e.undone for e in done)
        if self.damage:
            return "damaged"
        if done and undone == len(done):
            return "undone"
        if undone:
            return "partly undone"
        if self.ended is None or self.pending:
            return "interrupted"
        return "finished"

    def describe_damage(self) -> str:
        """ "the journal X is damaged at line 3 (...), line 9 (...)" (empty when it is not)."""
        if not self.damage:
            return ""
        shown = ", ".join(f"line {n} ({why})" for n, why in self.damage[:5])
        more = f" and {len(self.damage) - 5} more lines" if len(self.damage) > 5 else ""
        return f"the journal {self.path} is damaged at {shown}{more}"


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for each line, or (line number, what is wrong with it)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise JournalError(f"no journal at {path}") from None
    except IsADirectoryError:
        raise JournalError(f"{path} is a folder, not a journal") from None
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {error.strerror or error}") from None
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last = number == len(lines)  # no newline after it: possibly torn by a crash
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            if not last:
                yield number, "not a JSON record"
            continue
        if not isinstance(record, dict) or not isinstance(record.get("type"), str):
            if not last:
                yield number, "not a journal record"
            continue
        yield number, record


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))


# Fields a record must have for undo and resume to use it, and their types.
_REQUIRED: dict[str, dict[str, type]] = {
    "intent": {"seq": int, "path": str, "action": str, "digest": str, "size": int},
    "done": {"seq": int},
    "failed": {"seq": int},
    "undone": {"seq": int},
    "undo-skip": {"seq": int},
    "skip": {"path": str},
}
_OPTIONAL: dict[str, dict[str, tuple[type, ...]]] = {
    "intent": {
        "dev": (int,),
        "ino": (int,),
        "target": (str, type(None)),
        "nlink": (int,),
        "keeper": (str,),
        "keeper_dev": (int,),
        "keeper_ino": (int,),
        "link_target": (str, type(None)),
        "unit": (int,),
        "role": (str,),
    },
    "done": {"destination": (str, type(None)), "trashinfo": (str, type(None))},
}
_KNOWN = {"apply", "resume", "interrupted", "end", *_REQUIRED}


def _problem(record: dict[str, Any]) -> str:
    """What makes a record unusable (empty when it is fine)."""
    kind = record["type"]
    if kind not in _KNOWN:
        return f"unknown record type {kind!r}"
    for name, wanted in _REQUIRED.get(kind, {}).items():
        if name not in record:
            return f"a {kind!r} record without {name!r}"
        if not _is(record[name], wanted):
            return f"{name!r} of a {kind!r} record is not a {wanted.__name__}"
    for name, allowed in _OPTIONAL.get(kind, {}).items():
        if name in record and not any(_is(record[name], t) for t in allowed):
            return f"{name!r} of a {kind!r} record has the wrong type"
    if kind == "intent":
        if record["action"] not in ("trash", "move", "link"):
            return f"unknown action {record['action']!r}"
        if record["action"] == "move" and not isinstance(record.get("target"), str):
            return "a move without a target"
        if record["action"] == "link" and record.get("link") not in ("hard", "symlink", "reflink"):
            return f"a link of unknown kind {record.get('link')!r}"
        if record.get("link") == "symlink" and not isinstance(record.get("link_target"), str):
            return "a symbolic link without a target"
    return ""


def read(path: str | Path) -> State:
    """Read a journal. Raises JournalError when it is missing or is not a dedupe journal (its
    first record cannot be read); damaged records after it are listed in `State.damage`."""
    path = Path(path)
    state: State | None = None
    for number, record in _lines(path):
        if state is None:
            if isinstance(record, str) or record["type"] != "apply":
                why = record if isinstance(record, str) else f"a {record['type']!r} record"
                raise JournalError(
                    f"{path} is not a dedupe journal (damaged at line {number}: {why} where "
                    "the journal's header should be)"
                )
            if record.get("journal_version") != JOURNAL_VERSION:
                raise JournalError(
                    f"{path} is not a dedupe journal this version can read "
                    f"(journal_version {record.get('journal_version')!r})"
                )
            state = State(path, record)
            continue
        why = record if isinstance(record, str) else _problem(record) or _apply(state, record)
        if why:
            state.damage.append((number, why))
    if state is None:
        raise JournalError(f"{path} is empty: not a dedupe journal")
    return state


def _apply(state: State, record: dict[str, Any]) -> str:
    """Add one valid record to the state; returns what is wrong when it does not fit."""
    kind = record["type"]
    if kind == "intent":
        if record["seq"] in state.entries:
            return f"a second intent for action {record['seq']}"
        state.entries[record["seq"]] = Entry(record)
    elif kind in ("done", "failed", "undone"):
        entry = state.entries.get(record["seq"])
        if entry is None:
            return f"a {kind!r} record for action {record['seq']}, which has no intent line"
        if kind == "done":
            entry.done, entry.failed, entry.undone = record, None, False
        elif kind == "failed":
            entry.failed = record
        else:
            entry.undone = True
    elif kind == "skip":
        state.skips.append(record)
    elif kind == "end":
        state.ended = str(record.get("status", "finished"))
    return ""


class Writer:
    """Appends records to a journal, each one written and fsynced before returning.

    A writer holds an exclusive lock on the journal file itself for as long as it is open, so
    an apply and an undo (or two of either) can never write the same journal at once. Records
    go straight to the file descriptor (no buffer that could finish a record later); once a
    write or fsync fails (disk full, I/O error), every later append raises that error again.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._failed: OSError | None = None

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Writer:
        """Create a journal with its header, atomically: written and synced under a temporary
        name, then linked to `path` (never replacing a file there), so a crash never leaves a
        journal without its header."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        fd = os.open(
            temporary, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | _CLOEXEC, 0o666
        )
        try:
            _lock_fd_or_raise(fd, f"the journal {path}")  # closes fd when it raises
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        writer = cls(path, fd)
        try:
            writer.append({"type": "apply", "journal_version": JOURNAL_VERSION, **header})
            _link_or_rename(temporary, path)
            fsync_dir(path.parent)
        except BaseException:
            writer.close()
            raise
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink()
        return writer

    @classmethod
    def append_to(cls, path: Path) -> Writer:
        """Lock an existing journal and open it for appending, cutting off a line torn by a
        crash. Raises Locked when another process has it open."""
        fd = os.open(path, os.O_RDWR | os.O_APPEND | _CLOEXEC)
        _lock_fd_or_raise(fd, f"the journal {path}")
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0) if size else b""
            end = data.rfind(b"\n") + 1
            if end != len(data):
                os.ftruncate(fd, end)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Write one record; fsync it too unless `sync` is False (for records that only inform,
        like skips: the next synced record makes them durable as well). Raises OSError when the
        journal cannot be written (and from then on)."""
        if self._failed is not None:
            raise self._failed
        if self._fd is None:
            raise ValueError(f"the journal {self.path} is closed")
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"
        try:
            view = memoryview(line.encode("ascii"))
            while view:
                view = view[os.write(self._fd, view) :]
            if sync:
                os.fsync(self._fd)
        except OSError as error:
            self._failed = error
            raise

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):  # everything that matters was fsynced already
                os.close(self._fd)
            self._fd = None


def _link_or_rename(source: Path, target: Path) -> None:
    """Give `source` the name `target`, never replacing a file there."""
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        if os.path.lexists(target):  # a file system without hard links: look, then rename
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.rename(source, target)


def _lock_fd_or_raise(fd: int, what: str) -> None:
    try:
        _lock_fd(fd)
    except OSError as error:
        os.close(fd)
        if error.errno in _BUSY:
            raise Locked(
                f"another dedupe is using {what}; wait for it to finish, then run this again"
            ) from None
        raise


def is_in_use(path: Path) -> bool:
    """Whether a dedupe process has this journal open (an apply or undo running now)."""
    try:
        fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return False
    try:
        _lock_fd(fd)
    except OSError as error:
        return error.errno in _BUSY
    finally:
        os.close(fd)
    return False


def remove_stale_temporaries(report_path: str) -> None:
    """Remove the temporary names (`.KEY-TIME.jsonl.tmp`) that journals of this report were being
    created under when a crash came (see Writer.create). Call it holding the report's lock: then
    no other apply of the report is creating one."""
    prefix = f".{report_key(report_path)}-"
    with contextlib.suppress(OSError):
        for name in os.listdir(journals_dir()):
            if name.startswith(prefix) and name.endswith(SUFFIX + ".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(journals_dir() / name)


def unfinished_for(report_path: str, report_digest: str | None = None) -> State | None:
    """The newest journal of an apply of this report that never finished, if any (see
    of_report; `report_digest`: the SHA-256 of the report now, for older dedupes' journals)."""
    real = os.path.realpath(report_path)
    for _, state in listing():
        if (
            isinstance(state, State)
            and state.ended is None
            and of_report(state, real, report_digest)
        ):
            return state
    return None


def of_report(
    state: State, real: str, report_digest: str | None = None, *, named: bool = True
) -> bool:
    """Whether the journal is of an apply of the report file `real` (symbolic links resolved).

    This dedupe names a report in its journals (and their file names) by the file its path
    leads to, and says so (`report_resolved` in the header). An older one named it by
    os.path.abspath of the path it was given, which may go through a symbolic link to a
    folder, or have dropped a `..` after one with the name before it (naming another file).
    Such a journal is this report's when its recorded path leads to this file now and the
    report's SHA-256 (`report_digest`) is the one it recorded: the same words naming another
    file, or another report since written there, never match. `named`: a journal of the
    journals folder, whose file name begins with the key of the report it names (not one
    given by --journal)."""
    key_of = report_key(state.report)
    if named and not state.path.name.startswith(key_of + "-"):
        return False
    if state.header.get("report_resolved") is True:
        return state.report == real
    return (
        bool(report_digest)
        and state.header.get("report_digest") == report_digest
        and os.path.isabs(state.report)
        and os.path.realpath(state.report) == real
    )


def listing() -> list[tuple[Path, State | JournalError]]:
    """Every journal in the journals folder, newest first: its state, or why it cannot be read.

    Newest by the start time in the header; a journal whose header cannot be read is placed by
    the time stamp in its name (dedupe names journals KEY-YYYYmmddTHHMMSSffffffZ.jsonl).
    """
    directory = journals_dir()
    try:
        names = [n for n in os.listdir(directory) if n.endswith(SUFFIX)]
    except OSError:
        return []
    found: list[tuple[str, str, Path, State | JournalError]] = []
    for name in names:
        path = directory / name
        try:
            state: State | JournalError = read(path)
        except JournalError as error:
            state = error
        found.append((_started(path, state), name, path, state))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(path, state) for _, _, path, state in found]


def _started(path: Path, state: State | JournalError) -> str:
    """When the apply started, as an ISO 8601 time in UTC, for ordering journals."""
    if isinstance(state, State) and state.started_at:
        return state.started_at
    stamp = path.name.removesuffix(SUFFIX).rpartition("-")[2]
    try:
        parsed = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        parsed = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return parsed.isoformat()


_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, errno.EDEADLK)


def _lock_fd(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class Lock:
    """An exclusive, non-blocking advisory lock (fcntl.flock) on a lock file.

    The kernel drops the lock when the process dies, so a crash never leaves it stuck. The file
    says who holds it ("pid N: apply of REPORT"), for the message another process shows.
    """

    def __init__(self, path: Path, what: str, holder: str = "") -> None:
        self.path = path
        self.what = what
        self.holder = holder
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o600)
        try:
            _lock_fd(fd)
        except OSError as error:
            os.close(fd)
            if error.errno in _BUSY:
                raise Locked(
                    f"another dedupe is already working on {self.what} ({self._who()}lock "
                    f"{self.path}); wait for it to finish, then run this again"
                ) from None
            raise
        with contextlib.suppress(OSError):  # only informs: a full disk must not stop the lock
            os.ftruncate(fd, 0)
            text = f"pid {os.getpid()}" + (f": {self.holder}" if self.holder else "")
            os.write(fd, f"{text}\n".encode("ascii", "backslashreplace"))
        self._fd = fd

    def _who(self) -> str:
        try:
            text = self.path.read_bytes()[:500].decode("ascii", "replace").strip()
        except OSError:
            return ""
        return f"{text}; " if text else ""

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def report_lock(report_path: str, holder: str = "") -> Lock:
    """The lock of a report file (apply and review hold it). Keyed by the file the path leads
    to (symbolic links and `..` resolved as the system resolves them), so that two names of one
    report (a folder reached through a symbolic link) are one lock."""
    real = os.path.realpath(report_path)
    return Lock(journals_dir() / f"{report_key(real)}.lock", f"the report {real}", holder)


def device_lock(device: int, example: str, holder: str = "") -> Lock:
    """The lock on everything on one device (file system); `example` is a path on it."""
    return Lock(
        state_home() / "dedupe" / "locks" / f"dev-{device}.lock",
        f"files on the same drive as {example}",
        holder,
    )


class Locks:
    """Several locks taken together, in a fixed order, all or none."""

    def __init__(self, locks: list[Lock]) -> None:
        self._locks = sorted(locks, key=lambda lock: str(lock.path))
        self._held: list[Lock] = []

    def acquire(self) -> None:
        try:
            for lock in self._locks:
                lock.acquire()
                self._held.append(lock)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        while self._held:
            self._held.pop().release()

    def __enter__(self) -> Locks:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
