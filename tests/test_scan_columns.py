"""A scan keeps its images as columns (imagecols.ImageColumns, gathered image by image), not
a record per image: the records built from them, the index written from them, the grouping's
inputs digest and the grouping are those of the records a scan held before, byte for byte.
Real files: JPEGs with and without a capture time, PNG, a byte copy, hard links, a name that
is not UTF-8, files hashed and files served from the cache in one scan."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from conftest import Library, photo
from PIL import Image

from dedupe import cluster, imagecols, index
from dedupe.cache import HashCache
from dedupe.imagecols import ImageColumns, one_by_one
from dedupe.looks import Looks
from dedupe.models import FileEntry, ImageRecord, Problem, Settings
from dedupe.scan import Hashed, fingerprint_file, scan
from dedupe.walk import walk


def _exif(when: str) -> Image.Exif:
    data = Image.Exif()
    data.get_ifd(0x8769)[36867] = when
    return data


def _library(library: Library) -> None:
    for k in range(4):
        image = photo(k, (200, 150))
        library.save(f"b/img{k}.jpg", image, quality=90, exif=_exif(f"2021:0{k + 1}:02 10:00:00"))
        library.save(f"a/img{k}-small.png", image.resize((100, 75)))
    library.save("c/plain.jpg", photo(9, (160, 120)), quality=80)  # no capture time
    library.write("c/again.jpg", (library.root / "b/img1.jpg").read_bytes())  # a byte copy
    os.link(library.root / "b/img2.jpg", library.root / "c/link-to-img2.jpg")
    os.link(library.root / "b/img2.jpg", library.root / "a/another-link.jpg")
    odd = os.path.join(os.fsencode(library.root), b"c", b"caf\xe9.jpg")  # not UTF-8
    with open(odd, "wb") as handle:
        handle.write((library.root / "b/img3.jpg").read_bytes()[:-2] + b"\xff\xd9")


def _records_as_before(root: Path, settings: Settings) -> tuple[ImageRecord, ...]:
    """The records a scan made before: one per image, its other names as links, sorted by
    the bytes of its path."""
    first: dict[tuple[int, int], str] = {}
    links: dict[str, list[str]] = {}
    records = []
    for entry in walk((str(root),)):
        assert not isinstance(entry, Problem)
        key = (entry.dev, entry.ino)
        if entry.nlink > 1 and key in first:
            links[first[key]].append(entry.path)
            continue
        first[key] = entry.path
        links[entry.path] = []
        hashed = fingerprint_file(entry.path, settings)
        if isinstance(hashed, Hashed):
            fp = hashed.fingerprint
            records.append(ImageRecord(entry.path, entry.size, entry.mtime_ns, entry.dev,
                                       entry.ino, fp))  # fmt: skip
    out = [
        ImageRecord(r.path, r.size, r.mtime_ns, r.dev, r.ino, r.fingerprint, tuple(links[r.path]))
        for r in records
    ]
    return tuple(sorted(out, key=lambda r: os.fsencode(r.path)))


def _blobs(path: Path) -> list[tuple[str, int, bytes]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT name, chunk, data FROM columns ORDER BY name, chunk").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("rotations", [False, True])
def test_the_scans_columns_are_the_records_it_held_before(
    library: Library, tmp_path: Path, rotations: bool
) -> None:
    _library(library)
    settings = Settings(threshold=0.2, rotations=rotations)
    cache = HashCache.open(tmp_path / "c.sqlite", settings)
    scan((str(library.root / "b"),), settings, cache)  # these come from the cache below
    result = scan((str(library.root),), settings, cache)
    cache.close()
    # (img2 is hashed again: its first name now is a link in a/)
    assert result.stats.from_cache == 3 and result.stats.hashed == 8
    columns = result.records
    assert isinstance(columns, ImageColumns)
    before = _records_as_before(library.root, settings)
    assert len(columns) == len(before) == 11
    assert columns.built() == frozenset()  # nothing built until something reads it
    assert [columns.path(k) for k in range(len(before))] == [r.path for r in before]
    assert list(columns) == list(before)  # every field, links and capture times included
    assert any(r.links for r in before) and any(r.fingerprint.taken_at for r in before)
    assert any(r.fingerprint.taken_at is None for r in before)

    # the grouping's memo key and the grouping itself
    fresh = ImageColumns(*_parts(columns))  # (one whose records were not built)
    assert cluster.inputs_digest(fresh, settings) == cluster.inputs_digest(before, settings)
    assert cluster.records_key(fresh, settings) == cluster.records_key(before, settings)
    found = cluster.cluster(fresh, settings, look=Looks(fresh))
    assert found == cluster.cluster(before, settings, look=Looks(before))
    assert any(len(g) > 2 for g in found.groups)
    assert fresh.built() == frozenset()  # the geometric check read files, kept no record

    # the index: the same columns, byte for byte, whether written from records or columns
    mine = index.write(tmp_path, tmp_path / "mine.json", fresh, found.checked, settings)
    assert fresh.built() == frozenset()
    theirs = index.write(tmp_path, tmp_path / "theirs.json", before, found.checked, settings)
    assert mine.digest == theirs.digest
    assert _blobs(tmp_path / mine.file) == _blobs(tmp_path / theirs.file)


def _parts(columns: ImageColumns) -> tuple[object, ...]:
    """What makes an ImageColumns, taken from one (another object, nothing built)."""
    numbers = {
        "size": columns.sizes, "mtime_ns": columns.mtimes, "device": columns.devices,
        "inode": columns.inodes, "width": columns.widths, "height": columns.heights,
        "has_taken_at": columns.has_taken_at,
    }  # fmt: skip
    varying = {
        "path": columns.paths, "format": columns.formats, "digest": columns.digests,
        "taken_at": columns.taken_at, "variants": columns.variants, "links": columns.links,
    }  # fmt: skip
    return columns.hash_size, numbers, varying, columns.hashes, columns.signatures


def test_an_empty_scan_has_empty_columns(tmp_path: Path) -> None:
    settings = Settings()
    (tmp_path / "empty").mkdir()
    result = scan((str(tmp_path / "empty"),), settings, HashCache.memory(settings))
    assert isinstance(result.records, ImageColumns) and result.records == ()
    ref = index.write(tmp_path, tmp_path / "r.json", result.records, None, settings)
    assert ref.digest == index.write(tmp_path, tmp_path / "s.json", (), None, settings).digest


def test_one_by_one_gives_every_record_and_keeps_none(library: Library) -> None:
    _library(library)
    settings = Settings()
    records = scan((str(library.root),), settings, HashCache.memory(settings)).records
    assert isinstance(records, ImageColumns)
    kept = records[3]
    every = list(one_by_one(records))
    assert every == list(_records_as_before(library.root, settings))
    assert every[3] is kept and records.built() == frozenset({3})


def test_the_index_holds_the_blobs_it_was_given_however_they_are_written(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big blobs go in through a blob handle, a piece at a time (index._STREAMED, _PIECE):
    the file holds exactly the blobs a plain insert stores."""
    _library(library)
    settings = Settings()
    records = scan((str(library.root),), settings, HashCache.memory(settings)).records
    found = cluster.cluster(records, settings)
    expected = sorted(index._image_blobs(records))
    assert found.checked is not None
    expected = sorted([*expected, *index._pair_blobs(found.checked)])
    plain = index.write(tmp_path, tmp_path / "plain.json", records, found.checked, settings)
    monkeypatch.setattr(index, "_STREAMED", 100)
    monkeypatch.setattr(index, "_PIECE", 333)  # (not a divisor of any blob's length)
    pieces = index.write(tmp_path, tmp_path / "pieces.json", records, found.checked, settings)
    assert _blobs(tmp_path / plain.file) == _blobs(tmp_path / pieces.file) == expected
    assert plain.digest == pieces.digest
    assert index.load(tmp_path, pieces, settings).records == list(records)


@pytest.mark.parametrize("block", [3, 8192])
def test_gathering_in_any_order_gives_the_records_in_path_order(
    library: Library, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Gathering.finish sorts rows gathered in any order (a scan's misses come after its
    cache hits), its signature blocks and byte columns a part at a time."""
    _library(library)
    settings = Settings()
    before = _records_as_before(library.root, settings)
    monkeypatch.setattr(imagecols, "_BLOCK", block)
    for order in (list(range(len(before))), [7, 2, 10, 0, 5, 9, 1, 4, 8, 3, 6]):
        gathering = imagecols.Gathering(settings.hash_size)
        for k in order:
            r = before[k]
            gathering.add(FileEntry(r.path, r.size, r.mtime_ns, r.dev, r.ino), r.fingerprint)
        links = {r.path: r.links for r in before if r.links}
        assert list(gathering.finish(links)) == list(before)
