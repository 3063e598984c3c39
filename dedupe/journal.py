"""The apply journal: an append-only JSON-lines file, fsynced record by record, and its lock.

One journal per apply session (resumed sessions append to the same file). Records:

  {"type": "apply", ...header...}              first line: report, action, move target, time
  {"type": "resume", "at": ...}                the same apply was started again
  {"type": "intent", "seq": N, "path": ..., "size": ..., "digest": ..., "action": ...}
  {"type": "done", "seq": N, "destination": ..., "trashinfo": ...}
  {"type": "failed", "seq": N, "reason": ...}  the intent did not happen (file left in place)
  {"type": "skip", "group": G, "path": ..., "reason": ...}
  {"type": "interrupted", "at": ...}           Ctrl-C between two actions: resumable
  {"type": "end", "status": "finished" | "undone", "at": ...}
  {"type": "undone", "seq": N}                 undo put the file back (or found it back)
  {"type": "undo-skip", "seq": N, "reason": ...}

Every record is written and flushed, and every record about an action ("intent", "done",
"failed", "undone") is fsynced before the program goes on, so after a crash (even a power
loss) the file tells which actions were about to happen ("intent" without "done") and which
did. Informational records (skips) are flushed, and made durable by the next fsync.
A crash can tear the last line; readers ignore a torn last line and writers cut it off.
Paths are JSON strings; undecodable file-name bytes travel as \\udcXX escapes (see report.py).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from dedupe.durable import fsync_dir

JOURNAL_VERSION = 1
SUFFIX = ".jsonl"


class JournalError(Exception):
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


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise JournalError(f"no journal at {path}") from None
    except OSError as error:
        raise JournalError(f"cannot read journal {path}: {error.strerror or error}") from None
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last = number == len(lines)  # no newline after it: possibly torn by a crash
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if last:
                return
            raise JournalError(f"journal {path} is damaged at line {number}") from None
        if not isinstance(record, dict) or "type" not in record:
            if last:
                return
            raise JournalError(f"journal {path} is damaged at line {number}")
        yield number, record


def read(path: str | Path) -> State:
    """Read a journal. Raises JournalError when it is missing, damaged or not a journal."""
    path = Path(path)
    state: State | None = None
    for number, record in _lines(path):
        kind = record["type"]
        if state is None:
            if kind != "apply" or record.get("journal_version") != JOURNAL_VERSION:
                raise JournalError(
                    f"{path} is not a dedupe journal this version can read "
                    f"(journal_version {record.get('journal_version')!r})"
                )
            state = State(path, record)
            continue
        try:
            if kind == "intent":
                state.entries[int(record["seq"])] = Entry(record)
            elif kind in ("done", "failed", "undone"):
                entry = state.entries[int(record["seq"])]
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
        except (KeyError, TypeError, ValueError):
            raise JournalError(f"journal {path} is damaged at line {number}") from None
    if state is None:
        raise JournalError(f"{path} is empty: not a dedupe journal")
    return state


class Writer:
    """Appends records to a journal, each one flushed and fsynced before returning.

    A writer holds an exclusive lock on the journal file itself for as long as it is open, so
    an apply and an undo (or two of either) can never write the same journal at once.
    """

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Writer:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "xb")  # noqa: SIM115 - owned by the Writer, closed by close()
        _lock_handle(handle, f"the journal {path}")
        writer = cls(path, handle)
        writer.append({"type": "apply", "journal_version": JOURNAL_VERSION, **header})
        fsync_dir(path.parent)
        return writer

    @classmethod
    def append_to(cls, path: Path) -> Writer:
        """Lock an existing journal and open it for appending, cutting off a line torn by a
        crash. Raises Locked when another process has it open."""
        handle = open(path, "r+b")  # noqa: SIM115 - owned by the Writer, closed by close()
        _lock_handle(handle, f"the journal {path}")
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            handle.truncate(end)
        handle.seek(end)
        return cls(path, handle)

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Write one record and flush it; fsync it too unless `sync` is False (for records
        that only inform, like skips: the next synced record makes them durable as well)."""
        line = json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n"
        self._handle.write(line.encode("ascii"))
        self._handle.flush()
        if sync:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def _lock_handle(handle: IO[bytes], what: str) -> None:
    try:
        _lock_fd(handle.fileno())
    except OSError as error:
        handle.close()
        if error.errno in _BUSY:
            raise Locked(
                f"another dedupe is using {what}; wait for it to finish, then run this again"
            ) from None
        raise


def unfinished_for(report_path: str) -> State | None:
    """The newest journal of an apply of this report that never finished, if any."""
    absolute = os.path.abspath(report_path)
    key = report_key(report_path)
    directory = journals_dir()
    try:
        names = sorted(
            (n for n in os.listdir(directory) if n.startswith(key + "-") and n.endswith(SUFFIX)),
            reverse=True,
        )
    except OSError:
        return None
    for name in names:
        try:
            state = read(directory / name)
        except JournalError:
            continue
        if state.report == absolute and state.ended is None:
            return state
    return None


def last_apply() -> State | None:
    """The journal of the most recent apply (even one that ended up changing nothing)."""
    directory = journals_dir()
    try:
        names = [n for n in os.listdir(directory) if n.endswith(SUFFIX)]
    except OSError:
        return None
    states = []
    for name in names:
        try:
            states.append(read(directory / name))
        except JournalError:
            continue
    if not states:
        return None
    return max(states, key=lambda s: (s.started_at, s.path.name))


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

    The kernel drops the lock when the process dies, so a crash never leaves it stuck.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd)
        except OSError as error:
            os.close(fd)
            if error.errno in _BUSY:
                raise Locked(
                    f"another dedupe is already working on {self.what} (lock {self.path}); "
                    "wait for it to finish, then run this again"
                ) from None
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def report_lock(report_path: str) -> Lock:
    return Lock(
        journals_dir() / f"{report_key(report_path)}.lock",
        f"the report {os.path.abspath(report_path)}",
    )
