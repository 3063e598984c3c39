"""Clustering: verified pairs only, no runaway chains, blank images never grouped by their hash."""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from cluster_helpers import check_of, same_clusters
from conftest import Library, photo
from PIL import Image

from dedupe import verify
from dedupe.cache import HashCache
from dedupe.cluster import _Columns, _max_distances, check_pair, cluster, group_max_distance
from dedupe.groups import build_groups, check_invariants
from dedupe.hashing import ImageHash
from dedupe.models import Fingerprint, ImageRecord, KeepRules, Settings
from dedupe.scan import scan

# threshold 4/64: a hash distance of 4 or less is a candidate
RADIUS_4 = Settings("phash", 8, 4 / 64)


@cache
def picture(seed: int) -> Image.Image:
    return photo(seed, (320, 240))


def thumbnail(seed: int) -> np.ndarray:
    gray = picture(seed).convert("L").resize((verify.SIZE, verify.SIZE), Image.Resampling.BOX)
    return np.asarray(gray, dtype=np.float64).reshape(-1)


def arc(steps: int, angle: float) -> list[bytes]:
    """Signatures along an arc: neighbours correlate cos(angle), two steps apart cos(2 angle)."""
    u, v = thumbnail(1), thumbnail(2)
    u = u - u.mean()
    u /= np.linalg.norm(u)
    v = v - v.mean()
    v -= (v @ u) * u
    v /= np.linalg.norm(v)
    out = []
    for k in range(steps):
        t = 128 + 40 * np.sqrt(verify.PIXELS) * (np.cos(k * angle) * u + np.sin(k * angle) * v)
        out.append(check_of(t.round().clip(0, 255).astype(np.uint8)))
    return out


def record(name: str, bits: int, check: bytes, pixels: int = 100) -> ImageRecord:
    """A square picture of `pixels` on a side (one shape for all: the keep rules' resolution
    does not count a shape other than most of a group's)."""
    fingerprint = Fingerprint(
        width=pixels,
        height=pixels,
        format="JPEG",
        digest=hashlib.sha256(name.encode()).hexdigest(),
        hash=ImageHash(bits, 8),
        variant_bits=Fingerprint.pack_variants(
            ImageHash(bits ^ (0xFFFF << (8 * k)), 8) for k in range(7)
        ),
        check=check,
    )
    return ImageRecord(name, 1000, 0, 0, 0, fingerprint)


def groups_of(records: list[ImageRecord], settings: Settings) -> list[set[str]]:
    """The groups build_groups proposes (after splitting around keepers)."""
    found = cluster(records, settings)  # a few records: numpy and plain Python
    assert same_clusters(cluster(records, settings, compiled=True), found)  # compiled agrees
    groups = build_groups(records, settings, KeepRules(), clusters=found)
    return [{m.record.path for m in g.members} for g in groups]


def test_a_chain_of_plausible_pairs_does_not_join_different_pictures() -> None:
    a, b, c = arc(3, np.arccos(0.96))
    # the premise: A~B and B~C pass the check, A and C are different pictures
    assert verify.accept(a, b) and verify.accept(b, c)
    assert not verify.accept(a, c)
    # hashes: A~B 3 bits, B~C 3 bits, A~C 6 bits (beyond the radius of 4)
    records = [record("A", 0b000, a, 300), record("B", 0b111, b, 200), record("C", 0b111111, c)]
    found = cluster(records, RADIUS_4)
    assert found.candidates == 2 and found.rejected == 0
    # C joins through B, but the group keeps A: C is split off (never trashed in A's place)
    groups = build_groups(records, RADIUS_4, KeepRules(), clusters=found)
    assert [[m.record.path for m in g.members] for g in groups] == [["A", "B"]]


def test_a_chain_is_one_group_when_the_check_accepts_its_ends() -> None:
    a, b, _ = arc(3, np.arccos(0.96))
    # C is the same picture as A (a copy whose hash drifted further away)
    records = [record("A", 0b000, a, 300), record("B", 0b111, b, 200), record("C", 0b111111, a)]
    assert groups_of(records, RADIUS_4) == [{"A", "B", "C"}]


def test_a_hash_chain_without_a_verified_link_stays_apart() -> None:
    a, c = thumbnail_check(5), thumbnail_check(6)
    records = [record("A", 0b000, a), record("B", 0b111, a), record("C", 0b111111, c)]
    found = cluster(records, RADIUS_4)
    assert [{records[k].path for k in g} for g in found.groups] == [{"A", "B"}]
    assert found.candidates == 2 and found.rejected == 1


def thumbnail_check(seed: int) -> bytes:
    return verify.signature(picture(seed))


def test_copies_of_two_pictures_stay_two_groups() -> None:
    """Two pictures with several copies each; one cross pair passes the check on its own, but
    neither copy is one picture with the other group's keeper."""
    a, b, c, d = arc(4, np.arccos(0.96))
    records = [
        record("A1", 0b0, a, 900),  # anchor of the first picture
        record("A2", 0b0, b, 100),
        record("C1", 0b1111, d, 900),  # anchor of the second picture
        record("C2", 0b1111, c, 100),
    ]
    assert verify.accept(b, c) and not verify.accept(a, d)
    # all pairs are candidates (radius 4); A2~C2 passes, but C1 and C2 are not A1's copies
    assert groups_of(records, RADIUS_4) == [{"A1", "A2"}, {"C1", "C2"}]


def test_identical_thumbnails_group_with_any_geometry_or_none() -> None:
    check = thumbnail_check(3)
    records = [record(f"f{k}", 1 << k, check) for k in range(5)]  # hashes within 2 bits
    assert groups_of(records, RADIUS_4) == [{f"f{k}" for k in range(5)}]


def scan_groups(root: Path, settings: Settings) -> list[set[str]]:
    result = scan((str(root),), settings, HashCache.memory(settings))
    groups = build_groups(result.records, settings, KeepRules())
    check_invariants(groups)
    return [{os.path.basename(m.record.path) for m in g.members} for g in groups]


def test_blank_images_never_match_by_their_hashes(library: Library) -> None:
    """Solid, gradient and transparent images all hash alike; only byte copies are grouped."""
    ramp = np.tile(np.linspace(0, 255, 640, dtype=np.float32), (480, 1)).astype(np.uint8)
    library.save("white.png", Image.new("RGB", (640, 480), "white"))
    library.save("white-big.png", Image.new("RGB", (1280, 960), "white"))
    library.save("white.jpg", Image.new("RGB", (640, 480), "white"))
    library.save("black.png", Image.new("RGB", (640, 480), "black"))
    library.save("gray.png", Image.new("L", (500, 500), 128))
    library.save("red.png", Image.new("RGB", (640, 480), (200, 0, 0)))
    library.save("clear.png", Image.new("RGBA", (640, 480), (0, 0, 0, 0)))
    library.save("ramp.png", Image.fromarray(ramp, "L"))
    library.save("ramp-red.png", Image.merge("RGB", [Image.fromarray(ramp, "L")] * 1 + [
        Image.new("L", (640, 480), 0), Image.new("L", (640, 480), 0)]))  # fmt: skip
    shutil.copyfile(library.root / "white.png", library.root / "white-copy.png")
    # at the loosest threshold every one of them is a candidate of every other
    groups = scan_groups(library.root, Settings("phash", 8, 1.0))
    assert groups == [{"white.png", "white-copy.png"}]


def test_copies_group_and_other_photos_do_not(library: Library) -> None:
    for seed in (1, 2, 3):
        library.save(f"p{seed}.jpg", picture(seed), quality=92)
        library.save(f"p{seed}-small.png", picture(seed).resize((160, 120)))
    groups = scan_groups(library.root, Settings("phash", 8, 0.25))
    assert sorted(groups, key=sorted) == [
        {"p1.jpg", "p1-small.png"},
        {"p2.jpg", "p2-small.png"},
        {"p3.jpg", "p3-small.png"},
    ]


def test_cluster_is_deterministic() -> None:
    a, b, c = arc(3, np.arccos(0.96))
    records = [record("A", 0b000, a, 300), record("B", 0b111, b, 200), record("C", 0b111111, c)]
    assert cluster(records, RADIUS_4) == cluster(records, RADIUS_4)


def test_check_pair_explains_the_verdict() -> None:
    a, b, c = arc(3, np.arccos(0.96))
    ra, rb, rc = record("A", 0, a), record("B", 0b111, b), record("C", 0b111111, c)
    near = check_pair(ra, rb, RADIUS_4)
    assert near.grouped and near.verified and near.distance == 3 and not near.exact
    far = check_pair(ra, rc, RADIUS_4)
    assert not far.grouped and not far.verified and far.distance == 6
    assert far.same < verify.SAME_GEOMETRY


@pytest.mark.parametrize("rotations", [False, True])
def test_largest_distances_match_the_pairwise_definition(
    rotations: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Groups of 2 to 40 files with random hashes and orientation hashes, some byte copies; the
    # vectorised computation against group_max_distance, also with a group too large to take
    # all its pairs at once (row by row).
    rng = np.random.default_rng(5)
    records, groups, k = [], [], 0
    for size in [2, 3, 4, 2, 40, 7, 2, 25]:
        members = []
        for _ in range(size):
            copy_of = records[members[-1]] if members and rng.random() < 0.2 else None
            bits = int(rng.integers(0, 2**63)) if copy_of is None else copy_of.hash.bits
            variants = rng.integers(0, 2**63, 7) if copy_of is None else None
            fingerprint = Fingerprint(
                width=10,
                height=10,
                format="JPEG",
                digest=copy_of.fingerprint.digest if copy_of else f"{k:064x}",
                hash=ImageHash(bits, 8),
                variant_bits=copy_of.fingerprint.variant_bits
                if copy_of
                else Fingerprint.pack_variants(ImageHash(int(v), 8) for v in variants),
                check=bytes(verify.SIGNATURE_BYTES),
            )
            records.append(ImageRecord(f"f{k:03d}", 1, 0, 0, k, fingerprint))
            members.append(k)
            k += 1
        groups.append(tuple(members))
    settings = Settings("dhash", 8, 0.25, rotations=rotations)
    expected = tuple(group_max_distance([records[m] for m in g], settings) for g in groups)
    columns = _Columns.of(records, settings)
    assert _max_distances(groups, columns) == expected
    monkeypatch.setattr("dedupe.cluster._PAIRS", 100)  # the 40- and 25-file groups row by row
    assert _max_distances(groups, columns) == expected
    assert len(set(expected)) > 2
