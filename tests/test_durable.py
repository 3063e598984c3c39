"""Atomic file replacement: whole or not at all, streamed or not."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedupe.durable import write_chunks_atomic, write_text_atomic


def test_streamed_text_is_written_whole_with_ordinary_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    write_chunks_atomic(path, (f"line {k}\n" for k in range(100_000)))
    assert path.read_text(encoding="utf-8").splitlines()[-1] == "line 99999"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    write_text_atomic(path, "short")
    assert path.read_text(encoding="utf-8") == "short"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_failing_stream_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")

    def chunks() -> Iterator[str]:
        yield "new " * 1_000_000  # more than one buffer: part of it reached the temporary file
        raise OSError("no space left")

    with pytest.raises(OSError, match="no space left"):
        write_chunks_atomic(path, chunks())
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_lone_surrogates_become_escapes_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    name = os.fsdecode(b"caf\xe9")
    write_chunks_atomic(path, ["[", name, "]"], errors="backslashreplace")
    assert path.read_bytes() == b"[caf\\udce9]"
    with pytest.raises(UnicodeEncodeError):
        write_chunks_atomic(path, [name])
    assert path.read_bytes() == b"[caf\\udce9]"
