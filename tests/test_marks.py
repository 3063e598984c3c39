"""The remembered "not duplicates" marks (dedupe.review.marks): a damaged store is set aside,
never overwritten, and the marks that can still be read stay in use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Library, photo

from dedupe.review import marks

A, B, C, D = "/photos/a.jpg", "/photos/b.jpg", "/photos/c.jpg", "/photos/d.jpg"


def asides(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + marks.DAMAGED_SUFFIX + "*"))


def test_three_marks_survive_damage_and_the_next_save() -> None:
    """The reported case: three marks, the file damaged by hand, then a review saves one new
    mark. Before, the warning said "ignoring" and the save left a file with one mark."""
    store = marks.default_path()
    assert marks.remember([(A, B), (A, C), (B, C)]) == 3
    original = store.read_text()
    damaged = original[: len(original) // 2]  # a cut-off write, as after a full disk
    store.write_text(damaged)

    loaded = marks.load()
    assert loaded.pairs == frozenset()
    [aside] = asides(store)
    assert loaded.warning is not None and str(aside) in loaded.warning
    assert aside.read_text() == damaged  # kept exactly
    assert not store.exists()

    assert marks.remember([(C, D)]) == 1
    assert marks.load().pairs == {(C, D)}
    assert aside.read_text() == damaged  # never overwritten
    assert marks.load().warning is None  # the store is sound again: no warning every run


def test_partly_damaged_file_keeps_its_readable_marks() -> None:
    store = marks.default_path()
    store.parent.mkdir(parents=True)
    text = json.dumps({"version": 1, "pairs": [[A, B], [1], [C, C], "x", [B, C]]})
    store.write_text(text)
    loaded = marks.load()
    assert loaded.pairs == {(A, B), (B, C)}
    [aside] = asides(store)
    assert aside.read_text() == text
    assert loaded.warning is not None and "3 of its entries" in loaded.warning
    assert str(aside) in loaded.warning
    assert marks.load() == marks.Marks(frozenset({(A, B), (B, C)}))  # written back, sound
    assert marks.remember([(A, D)]) == 1
    assert marks.load().pairs == {(A, B), (B, C), (A, D)}


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe garbage", b"[1, 2]", b'{"version": 2, "pairs": []}', b"[" * 100_000],
)
def test_every_kind_of_damage_is_set_aside(content: bytes) -> None:
    store = marks.default_path()
    store.parent.mkdir(parents=True)
    store.write_bytes(content)
    loaded = marks.load()
    [aside] = asides(store)
    assert aside.read_bytes() == content and loaded.pairs == frozenset()
    assert loaded.warning is not None and str(aside) in loaded.warning


def test_aside_names_never_collide() -> None:
    store = marks.default_path()
    store.parent.mkdir(parents=True)
    for k in range(3):
        store.write_text(f"damaged {k}")
        marks.load()
    kept = asides(store)
    assert sorted(p.read_text() for p in kept) == ["damaged 0", "damaged 1", "damaged 2"]


def test_a_damaged_file_that_cannot_be_set_aside_is_never_overwritten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A read-only folder cannot be made here (tests run as root), so the renames fail instead.
    store = marks.default_path()
    store.parent.mkdir(parents=True)
    store.write_text("{damaged")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "link", refuse)
    monkeypatch.setattr(os, "rename", refuse)
    loaded = marks.load()
    assert (
        loaded.stuck and loaded.warning is not None and "could not be set aside" in loaded.warning
    )
    with pytest.raises(OSError, match="not saving"):
        marks.remember([(A, B)])
    assert store.read_text() == "{damaged" and asides(store) == []


def test_scan_warns_with_the_path_of_the_kept_file(tmp_path: Path) -> None:
    """Through the real command line: the warning names where the damaged file went."""
    library = Library(tmp_path / "photos")
    library.save("one.jpg", photo(1))
    library.save("two.jpg", photo(2))
    data = tmp_path / "data"
    store = data / "dedupe" / marks.FILE_NAME
    store.parent.mkdir(parents=True)
    store.write_text("{damaged")
    env = dict(os.environ, XDG_DATA_HOME=str(data), COLUMNS="500")
    run = subprocess.run(
        [sys.executable, "-m", "dedupe", "scan", str(library.root), "--jobs", "1",
         "--report", str(tmp_path / "r.json")],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    [aside] = asides(store)
    assert "warning:" in run.stderr and str(aside) in run.stderr.replace("\n", "")
    assert aside.read_text() == "{damaged"
