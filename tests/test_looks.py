"""Where the geometric check's pixels come from (dedupe/looks.py): a file is decoded again at
about the check's working size, or the scan's own decode of it is used when that is the same
decode (looks.first_decode_serves), and only while the file is still the one fingerprinted
(size, modification time, SHA-256). Real files made with Pillow, real scans."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Library, change_in_place, photo
from PIL import Image

from dedupe import decode, looks
from dedupe.cache import HashCache
from dedupe.cluster import cluster
from dedupe.groups import build_groups
from dedupe.imagecols import ImageColumns
from dedupe.looks import Kept, Looks, Pictures
from dedupe.models import ImageRecord, KeepRules, Settings
from dedupe.scan import Hashed, fingerprint_file, scan


def picture_of(size: tuple[int, int], seed: int = 3) -> Image.Image:
    return photo(seed, (400, 300)).resize(size, Image.Resampling.BICUBIC)


def save(library: Library, name: str, image: Image.Image, kind: str) -> Path:
    if kind == "baseline":
        return library.save(name + ".jpg", image, quality=90)
    if kind == "progressive":
        return library.save(name + ".jpg", image, quality=90, progressive=True)
    if kind == "gray":
        return library.save(name + ".jpg", image.convert("L"), quality=90)
    if kind == "turned":  # EXIF orientation 6: shown turned a quarter clockwise
        exif = Image.Exif()
        exif[0x0112] = 6
        return library.save(name + ".jpg", image, quality=90, exif=exif)
    if kind == "webp":
        return library.save(name + ".webp", image, quality=90)
    return library.save(name + ".png", image, compress_level=1)


def record_of(path: Path, hashed: Hashed) -> ImageRecord:
    info = os.stat(path)
    return ImageRecord(
        str(path), info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino, hashed.fingerprint
    )


# Sizes where the scan's decode serves the check (a reduced decode at 95% of the working size
# or more) and where it does not (not reduced; reduced below that: decoded again).
SERVES = [((1000, 750), "baseline"), ((1000, 750), "png"), ((1000, 750), "webp")]
SERVES += [((2000, 1500), "progressive"), ((2000, 1500), "turned"), ((2100, 1500), "gray")]
SERVES += [((4000, 3000), "baseline"), ((4032, 3024), "progressive")]
DOES_NOT = [((640, 480), "baseline"), ((800, 600), "png"), ((1600, 1200), "baseline")]
DOES_NOT += [((1024, 768), "png"), ((3000, 1000), "progressive"), ((3000, 2250), "turned")]


@pytest.mark.parametrize(("size", "kind"), SERVES + DOES_NOT)
def test_the_scans_decode_is_kept_only_where_it_is_the_checks_decode(
    library: Library, size: tuple[int, int], kind: str
) -> None:
    """Where the scan keeps its decode for the check, its pixels are exactly those the check
    would decode from the file (EXIF orientation applied); where the file decodes otherwise
    for the check, nothing is kept. A 12 MP photo's 1/8-scale JPEG decode (500 x 375, 2%
    short of the 512 x 384 working size) serves."""
    path = save(library, f"{size[0]}x{size[1]}-{kind}", picture_of(size), kind)
    hashed = fingerprint_file(str(path), Settings(), pictures=True)
    assert isinstance(hashed, Hashed)
    again = looks.picture(record_of(path, hashed))
    assert again is not None and again.mode == "L"
    if (size, kind) in DOES_NOT:
        assert hashed.picture is None
        return
    assert hashed.picture is not None
    assert hashed.picture.digest == hashed.fingerprint.digest
    assert np.array_equal(hashed.picture.pixels, np.asarray(again))
    short = min(hashed.picture.pixels.shape)
    assert short >= looks.look_side(*size) and short < min(size)
    assert hashed.picture.pixels.shape == (again.height, again.width)
    if kind == "turned":
        assert again.height > again.width


def test_a_12_mp_photo_is_looked_at_from_its_eighth_scale_decode(library: Library) -> None:
    """A 4000 x 3000 JPEG is decoded for the check at 1/8 scale (500 x 375, as the scan
    decodes it; a progressive one from its DC scans alone), not at 1/4 (1000 x 750)."""
    for kind in ("baseline", "progressive"):
        path = save(library, f"big-{kind}", picture_of((4000, 3000)), kind)
        hashed = fingerprint_file(str(path), Settings())
        assert isinstance(hashed, Hashed) and hashed.picture is None  # not asked for
        again = looks.picture(record_of(path, hashed))
        assert again is not None and again.size == (500, 375)
        first = decode.decode(path.read_bytes(), gray=True).image
        assert np.array_equal(np.asarray(first), np.asarray(again))


def copies(library: Library) -> dict[str, Path]:
    """A 1000 x 750 photo and copies the thumbnails alone cannot settle (the check looks),
    and another photo: every first decode serves the check (500 x 375)."""
    original = picture_of((1000, 750), 11)
    w, h = original.size
    framed = Image.new("RGB", (round(w * 1.2), round(h * 1.2)))
    framed.paste(original, (round(w * 0.1), round(h * 0.1)))
    return {
        "original": library.save("original.jpg", original, quality=92),
        "crop15": library.save(
            "crop15.jpg", original.crop((75, 56, 925, 694)).resize((1000, 750)), quality=90
        ),
        "border": library.save("border.png", framed.resize((1000, 750))),
        "turn4": library.save("turn4.jpg", original.rotate(4, Image.Resampling.BICUBIC)),
        "other": library.save("other.jpg", picture_of((1000, 750), 12), quality=90),
    }


def scanned(root: Path, settings: Settings) -> tuple[list[ImageRecord], Pictures]:
    pictures = Pictures()
    result = scan((str(root),), settings, HashCache.memory(settings), pictures=pictures)
    return list(result.records), pictures


def groups_of(records: list[ImageRecord], settings: Settings, look: Looks) -> list[object]:
    found = build_groups(records, settings, KeepRules(), look=look)
    return sorted((g.kind, sorted(Path(m.record.path).stem for m in g.members)) for g in found)


@pytest.mark.parametrize("rotations", [False, True])
def test_kept_decodes_give_the_groups_of_decoding_again(library: Library, rotations: bool) -> None:
    """A scan keeps the decodes of its files; the geometric check, given them, reads every
    file it looks at (to check it) but decodes none again, and groups exactly as when it
    decodes every file again, with the same keypoints; with --rotations too."""
    copies(library)
    settings = Settings(rotations=rotations)
    records, pictures = scanned(library.root, settings)
    assert len(pictures) == len(records) == 5
    first, again = Looks(records, pictures), Looks(records)
    with_kept, decoded = groups_of(records, settings, first), groups_of(records, settings, again)
    assert with_kept == decoded
    assert any(kind != "shots" and "crop15" in names for kind, names in with_kept)  # type: ignore[operator]
    assert first.pairs == again.pairs > 0
    assert first.read == again.read >= 2 and first.reused == first.read and again.reused == 0
    assert first.missed == again.missed == 0
    for k in range(len(records)):
        a, b = Looks(records, pictures)(k), again(k)
        assert a is not None and b is not None
        assert np.array_equal(a.points, b.points) and np.array_equal(a.descriptors, b.descriptors)


def test_a_file_changed_after_hashing_is_not_judged_on_its_kept_decode(library: Library) -> None:
    """The scan's decode of a file is used only while the file has the size, modification
    time and SHA-256 it had when hashed: a copy whose bytes changed since, even at the same
    size and time, is not looked at (no copy), and the change is counted; so is a file
    replaced by a symbolic link to the original."""
    paths = copies(library)
    settings = Settings()
    records, pictures = scanned(library.root, settings)
    by_name = {Path(r.path).stem: k for k, r in enumerate(records)}
    size = os.stat(paths["crop15"]).st_size
    change_in_place(paths["crop15"])
    assert os.stat(paths["crop15"]).st_size == size
    border = paths["border"]
    border.unlink()
    border.symlink_to(paths["original"])
    look = Looks(records, pictures)
    found = cluster(records, settings, look=look)
    assert look.missed == 2 and look.reused == look.read >= 2
    assert look(by_name["crop15"]) is None and look(by_name["border"]) is None
    assert not any(by_name["crop15"] in g or by_name["border"] in g for g in found.groups)
    assert any(by_name["turn4"] in g and by_name["original"] in g for g in found.groups)


def test_the_kept_decodes_stay_within_their_budget() -> None:
    """Pictures keeps at most its budget of pixel bytes (the first kept go first) and counts
    what it dropped."""
    pictures = Pictures(budget=3 * 100)
    for k in range(5):
        pictures.put(f"/p{k}", Kept(f"d{k}", np.full((10, 10), k, np.uint8)))
        assert pictures.nbytes <= 300
    assert len(pictures) == 3 and pictures.dropped == 2 and pictures.nbytes == 300
    assert pictures.get("/p0") is None and pictures.get("/p1") is None
    kept = pictures.get("/p4")
    assert kept is not None and kept.digest == "d4" and int(kept.pixels[0, 0]) == 4
    pictures.put("/p2", Kept("new", np.zeros((5, 5), np.uint8)))  # a path kept again
    assert len(pictures) == 3 and pictures.nbytes == 225
    pictures.put("/p5", Kept("d5", np.zeros((10, 10), np.uint8)))  # /p3 goes, the first left
    assert pictures.get("/p3") is None and pictures.nbytes == 225 and pictures.dropped == 3
    renewed = pictures.get("/p2")
    assert renewed is not None and renewed.digest == "new"


def test_a_scan_keeps_decodes_only_when_asked_and_within_the_budget(library: Library) -> None:
    """Without a Pictures, a scan's workers send no decodes back; with a small budget, it
    keeps the last it can hold."""
    for k in range(6):
        library.save(f"p{k}.jpg", picture_of((1000, 750), k), quality=85)
    settings = Settings()
    plain = fingerprint_file(str(library.root / "p0.jpg"), settings)
    assert isinstance(plain, Hashed) and plain.picture is None
    pictures = Pictures(budget=2 * 500 * 375)
    result = scan((str(library.root),), settings, HashCache.memory(settings), pictures=pictures)
    assert len(result.records) == 6
    assert len(pictures) == 2 and pictures.dropped == 4 and pictures.nbytes == 2 * 500 * 375


def test_a_file_that_grows_after_its_stat_is_not_read_to_its_end(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look reads at most one byte more than the file had when it was fingerprinted: a
    file that grows between the look's stat and its read (a download still being written, a
    log someone renamed over a photo) is not read whole, and is not the file hashed."""
    path = library.save("a.jpg", photo(3), quality=90)
    (record,) = scanned(library.root, Settings())[0]
    assert looks.unchanged_bytes(record) is not None
    before = os.stat(path)
    with open(path, "ab") as grown:  # 8 MiB more
        grown.write(b"\0" * (8 << 20))
    real_fstat, real_sha256 = os.fstat, hashlib.sha256
    hashed: list[int] = []

    def stat_as_it_was(fd: int) -> os.stat_result:  # the race, forced: the stat came first
        return before if fd >= 0 and real_fstat(fd).st_ino == before.st_ino else real_fstat(fd)

    def sha256(data: bytes = b"") -> Any:
        hashed.append(len(data))
        return real_sha256(data)

    monkeypatch.setattr(looks.os, "fstat", stat_as_it_was)
    monkeypatch.setattr(looks.hashlib, "sha256", sha256)
    assert looks.unchanged_bytes(record) is None
    assert all(n <= before.st_size + 1 for n in hashed)


# ------------------------------------------------------------ checks remembered between runs


def test_a_second_run_takes_the_checks_from_the_cache_and_groups_the_same(
    library: Library, tmp_path: Path
) -> None:
    """The geometric and content checks of a run are kept in the hash cache (a real SQLite
    file) by both files' SHA-256: a second run (a fresh Looks, as a scan whose memo no longer
    serves) reads no file again and finds the same groups; a file that changed is checked
    again (its SHA-256 is another key)."""
    paths = copies(library)
    settings = Settings()
    records, _ = scanned(library.root, settings)
    store = HashCache.open(tmp_path / "cache.sqlite", settings)
    first = Looks(records)
    first.remember_in(store)
    before = cluster(records, settings, look=first)
    assert first.pairs > 0 and first.read >= 2 and first.recalled == 0
    store.close()

    store = HashCache.open(tmp_path / "cache.sqlite", settings)
    again = Looks(records)
    again.remember_in(store)
    after = cluster(records, settings, look=again)
    assert after.groups == before.groups
    assert again.recalled == again.pairs == first.pairs and again.read == 0
    assert again.content_recalled == again.content_pairs == first.content_pairs

    library.save("crop15.jpg", Image.open(paths["crop15"]).rotate(1), quality=80)
    changed, _ = scanned(library.root, settings)
    third = Looks(changed)
    third.remember_in(store)
    cluster(changed, settings, look=third)
    assert 0 < third.recalled < third.pairs and third.read >= 1
    store.close()


def test_checks_are_remembered_only_on_the_thread_that_owns_the_cache(library: Library) -> None:
    """A regroup on another thread (review's) checks as without the cache: SQLite's
    connection is its thread's own."""
    import threading

    copies(library)
    settings = Settings()
    records, _ = scanned(library.root, settings)
    store = HashCache.memory(settings)
    look = Looks(records)
    look.remember_in(store)
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(cluster(records, settings, look=look)))
    worker.start()
    worker.join()
    assert found and look.pairs > 0 and look.recalled == 0
    assert store.get_looks([b"x" * 16]) == {}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{}",
        "[1]",
        "[1,20,40,1.0,0.0,0.5,[0.9,0.8],false,false]",  # a field short
        "[1,20,40,1.0,0.0,0.5,[0.9,0.8],false,false,false,1]",  # one too many
        '["1",20,40,1.0,0.0,0.5,[0.9,0.8],false,false,false]',  # a verdict in words
        "[7,20,40,1.0,0.0,0.5,[0.9,0.8],false,false,false]",  # no such verdict
        "[true,20,40,1.0,0.0,0.5,[0.9,0.8],false,false,false]",  # a bool for a number
        "[1,20,40,NaN,0.0,0.5,[0.9,0.8],false,false,false]",
        "[1,20,40,1.0,0.0,0.5,[0.9],false,false,false]",
        '[1,20,40,1.0,0.0,0.5,[0.9,"a"],false,false,false]',
        "[1,20,40,1.0,0.0,0.5,[0.9,0.8],0,false,false]",  # a number for a bool
        "[1,20.5,40,1.0,0.0,0.5,[0.9,0.8],false,false,false]",  # a count with a fraction
    ],
)
def test_a_damaged_remembered_check_is_not_believed(text: str) -> None:
    """A value in the cache that is not a check as frozen() writes it (a damaged or hand-edited
    cache) is no check: the pair is checked again."""
    assert looks.thawed(looks.geometry.Geometry, text) is None


def test_a_remembered_check_is_the_check() -> None:
    geometry, content = looks.geometry, looks.content
    checks = [
        geometry.Geometry(geometry.SAME, 40, 90, 1.25, -3.5, 0.7, (0.95, 0.8), True, False, True),
        geometry.Geometry(geometry.DIFFERENT),
        content.Content(content.DIFFERENT, 120, 30, 12, True, 0.25, 300),
    ]
    for check in checks:
        assert looks.thawed(type(check), looks.frozen(check)) == check


def test_a_scans_columns_find_the_checks_its_records_kept(library: Library) -> None:
    """The keys of remembered checks are made from a scan's columns (ImageColumns, without a
    record built per image) as from its records: checks kept by one are found by the other."""
    copies(library)
    settings = Settings()
    columns = scan((str(library.root),), settings, HashCache.memory(settings)).records
    assert isinstance(columns, ImageColumns)
    records = list(columns)
    store = HashCache.memory(settings)
    first, again = Looks(records), Looks(columns)
    first.remember_in(store)
    again.remember_in(store)
    before = cluster(records, settings, look=first)
    assert first.pairs > 0 and first.recalled == 0
    assert cluster(columns, settings, look=again).groups == before.groups
    assert again.recalled == again.pairs == first.pairs and again.read == 0
