"""The SQLite hash cache: warm rescans decode nothing, changes are noticed, damage is survived."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Library, photo
from report_helpers import with_images

from dedupe import cache as cache_module
from dedupe import verify
from dedupe.cache import HashCache, namespace
from dedupe.cli import main
from dedupe.models import FileEntry, Settings
from dedupe.scan import Hashed, fingerprint_file


def scan_stats(root: Path, report: Path, *extra: str) -> dict[str, int]:
    assert main(["scan", str(root), "--report", str(report), "--jobs", "1", *extra]) == 0
    return json.loads(report.read_text())["stats"]


def make_library(library: Library) -> None:
    for k in range(4):
        library.save(f"img{k}.jpg", photo(k, (200, 150)))
    library.save("copy.png", photo(0, (200, 150)))
    library.write("notes.txt", b"just text")
    library.write("broken.jpg", b"\xff\xd8\xff\xe0 truncated")


def test_second_scan_is_served_from_the_cache(library: Library, tmp_path: Path) -> None:
    make_library(library)
    cache = tmp_path / "c.sqlite"
    first = scan_stats(library.root, tmp_path / "r1.json", "--cache", str(cache))
    assert first["hashed"] == 5 and first["from_cache"] == 0 and first["errors"] == 1
    second = scan_stats(library.root, tmp_path / "r2.json", "--cache", str(cache))
    assert second["hashed"] == 0 and second["from_cache"] == 5 and second["errors"] == 1
    r1, r2 = with_images(tmp_path / "r1.json"), with_images(tmp_path / "r2.json")
    assert r1["groups"] == r2["groups"] and r1["images"] == r2["images"]


def test_default_cache_lives_under_xdg_cache_home(library: Library, tmp_path: Path) -> None:
    make_library(library)
    scan_stats(library.root, tmp_path / "r.json")
    assert (Path(os.environ["XDG_CACHE_HOME"]) / "dedupe" / "hashes.sqlite").is_file()
    assert scan_stats(library.root, tmp_path / "r.json")["hashed"] == 0


def test_a_changed_file_is_hashed_again(library: Library, tmp_path: Path) -> None:
    make_library(library)
    cache = tmp_path / "c.sqlite"
    scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    photo(9, (200, 150)).save(library.root / "img1.jpg")
    stats = scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    assert stats["hashed"] == 1 and stats["from_cache"] == 4


def test_settings_are_namespaced(library: Library, tmp_path: Path) -> None:
    make_library(library)
    cache = tmp_path / "c.sqlite"
    scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    other = scan_stats(
        library.root, tmp_path / "r.json", "--cache", str(cache), "--hash-size", "16"
    )
    assert other["hashed"] == 5
    assert namespace(Settings(hash_size=8)) != namespace(Settings(hash_size=16))
    assert namespace(Settings(algorithm="ahash")) != namespace(Settings(algorithm="dhash"))


def test_no_cache_reads_and_writes_nothing(library: Library, tmp_path: Path) -> None:
    make_library(library)
    scan_stats(library.root, tmp_path / "r.json", "--no-cache")
    assert not (Path(os.environ["XDG_CACHE_HOME"]) / "dedupe").exists()
    assert scan_stats(library.root, tmp_path / "r.json", "--no-cache")["hashed"] == 5


def test_a_corrupt_cache_is_rebuilt_with_a_warning(
    library: Library, tmp_path: Path, capsys: object
) -> None:
    make_library(library)
    cache = tmp_path / "c.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    stats = scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    assert stats["hashed"] == 5
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "warning" in err and "rebuilt" in err
    assert scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))["hashed"] == 0


def test_an_old_schema_is_emptied_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    HashCache.open(path, Settings()).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='0' WHERE key='schema'")
    db.execute(
        "INSERT INTO entries (namespace, path, size, mtime_ns, kind) VALUES ('x', x'00', 1, 1, 2)"
    )
    db.commit()
    db.close()
    cache = HashCache.open(path, Settings())
    cache.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 0
    db.close()


def _entries_in_cache(library: Library, path: Path) -> tuple[HashCache, list[FileEntry]]:
    """A real cache holding an image, a broken file and a non-image, plus entries to ask about:
    those three, the image with a changed size and with a changed mtime, and an unknown file."""
    settings = Settings()
    image = library.save("a.jpg", photo(1, (200, 150)))
    hashed = fingerprint_file(str(image), settings)
    assert isinstance(hashed, Hashed)
    cache = HashCache.open(path, settings)
    known = [FileEntry(str(library.root / f"{name}"), 10 + k, 1000 + k, 1, k) for k, name in
             enumerate(["a.jpg", "broken.jpg", "notes.txt"])]  # fmt: skip
    cache.put(known[0], hashed.fingerprint)
    cache.put(known[1], "damaged JPEG image: the file is truncated")
    cache.put(known[2], None)
    cache.commit()
    asked = known + [
        replace(known[0], size=99),
        replace(known[0], mtime_ns=99),
        FileEntry(str(library.root / "new.jpg"), 1, 1, 1, 9),
    ]
    return cache, asked * 3


def test_lookup_answers_as_get_does_in_order_across_batches(
    library: Library, tmp_path: Path
) -> None:
    cache, asked = _entries_in_cache(library, tmp_path / "c.sqlite")
    expected = [cache.get(entry) for entry in asked]
    assert [c is not None for c in expected] == [True, True, True, False, False, False] * 3
    assert expected[0] is not None and expected[0].fingerprint is not None
    for batch in (1, 4, 6, 100):
        found = list(cache.lookup(iter(asked), batch=batch))
        assert [entry for entry, _ in found] == asked
        assert [cached for _, cached in found] == expected
    cache.close()


def test_lookup_in_a_damaged_cache_answers_not_cached(library: Library, tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    cache, asked = _entries_in_cache(library, path)
    other = sqlite3.connect(path)  # the table vanishes under the open cache
    other.execute("DROP TABLE entries")
    other.commit()
    other.close()
    assert [cached for _, cached in cache.lookup(asked)] == [None] * len(asked)
    assert cache.get(asked[0]) is None
    cache.close()


def test_a_new_verdict_keeps_the_cache_and_a_new_signature_renews_it(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check version that changes only the verdict (5, 7) made every user decode every
    photo again; the cache now keeps fingerprints by the signature's version alone. The
    grouping still follows the new verdict (the report's index and the grouping memo record
    the check's version)."""
    make_library(library)
    cache = tmp_path / "c.sqlite"
    scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    monkeypatch.setattr(verify, "VERSION", verify.VERSION + 1)
    stats = scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    assert stats["hashed"] == 0 and stats["from_cache"] == 5
    index = sqlite3.connect(
        tmp_path / next(p.name for p in tmp_path.iterdir() if p.suffix == ".index")
    )
    assert dict(index.execute("SELECT key, value FROM meta"))["verify"] == str(verify.VERSION)
    index.close()
    monkeypatch.setattr(verify, "SIGNATURE_VERSION", verify.SIGNATURE_VERSION + 1)
    stats = scan_stats(library.root, tmp_path / "r.json", "--cache", str(cache))
    assert stats["hashed"] == 5 and stats["from_cache"] == 0


def _fill(path: Path, library: Library, count: int) -> list[FileEntry]:
    """A cache at `path` holding `count` entries of one real image's fingerprint (other paths)."""
    settings = Settings()
    hashed = fingerprint_file(str(library.save("p.jpg", photo(3, (200, 150)))), settings)
    assert isinstance(hashed, Hashed)
    entries = [FileEntry(f"/photos/album/IMG_{k:05d}.jpg", 1000 + k, k, 1, k) for k in range(count)]
    cache = HashCache.open(path, settings)
    cache.put_many((entry, hashed.fingerprint) for entry in entries)
    cache.close()
    return entries


def _page_size(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


def _disk_bytes(path: Path) -> int:
    """The cache's bytes on disk, its write-ahead log folded in first."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path.stat().st_size


def test_a_new_cache_keeps_each_entry_on_its_page(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 KB pages: an entry (its check signature 1,357 bytes) is not spilled into overflow
    pages as on SQLite's default 4 KB pages, so the file is less than half the size."""
    new = tmp_path / "new.sqlite"
    _fill(new, library, 400)
    monkeypatch.setattr(cache_module, "PAGE_SIZE", 4096)
    old = tmp_path / "old.sqlite"
    _fill(old, library, 400)
    assert (_page_size(new), _page_size(old)) == (16384, 4096)
    per_new, per_old = _disk_bytes(new) / 400, _disk_bytes(old) / 400
    assert per_new < 2400 < 4000 < per_old, (per_new, per_old)


def test_an_old_cache_keeps_its_pages_and_converts_as_readme_says(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite"
    monkeypatch.setattr(cache_module, "PAGE_SIZE", 4096)
    entries = _fill(path, library, 50)
    monkeypatch.undo()
    cache = HashCache.open(path, Settings())  # opened by this dedupe: served, not converted
    assert all(found is not None for _, found in cache.lookup(entries))
    cache.close()
    assert _page_size(path) == 4096
    # README "The hash cache": the commands that convert it (here through Python's sqlite3)
    db = sqlite3.connect(path, isolation_level=None)
    for statement in (
        "PRAGMA journal_mode=DELETE", "PRAGMA page_size=16384", "VACUUM", "PRAGMA journal_mode=WAL"
    ):  # fmt: skip
        db.execute(statement).fetchall()
    db.close()
    assert _page_size(path) == 16384
    cache = HashCache.open(path, Settings())
    found = [cached for _, cached in cache.lookup(entries)]
    cache.close()
    assert all(c is not None and c.fingerprint is not None for c in found)
