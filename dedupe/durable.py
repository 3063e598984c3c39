"""Durable writes: replace a file atomically, and sync a folder so a rename survives a crash."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Text is handed to the file in pieces of about this many bytes (a streamed write never holds
# the whole text, only what the caller's generator has produced plus one buffer).
_BUFFER = 1 << 20


def fsync_dir(directory: str | Path) -> None:
    """Sync a folder's entries to disk (best effort: some filesystems refuse, which is fine)."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a crash leaves the old file or the new one, never half."""
    write_chunks_atomic(path, (text,))


def write_chunks_atomic(path: Path, chunks: Iterable[str], *, errors: str = "strict") -> None:
    """Write the concatenation of `chunks` to `path` as UTF-8, atomically (as write_text_atomic)
    but streamed: the chunks are written as they come, so the whole text never exists at once.

    `errors` is the encoding error handler: "backslashreplace" writes a lone surrogate (an
    undecodable file-name byte, see report.py) as a `\\udcXX` escape. If the iteration raises,
    the old file stays and the temporary file is removed.
    """
    with (
        replacing(path) as tmp,
        open(tmp, "w", encoding="utf-8", errors=errors, buffering=_BUFFER) as handle,
    ):
        for chunk in chunks:
            handle.write(chunk)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` for the block to write (by its path, with whatever opens
    files: Python, SQLite), with the permissions a plain open() would give it. When the block
    ends, the file is synced, renamed over `path` and the folder synced, so a crash leaves the
    old file or the new one, never half; when the block raises, the file is removed."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp makes the file 0600; give it the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        yield Path(tmp)
        os.fsync(fd)  # (the same file the block wrote through its own descriptors)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    fsync_dir(directory)
