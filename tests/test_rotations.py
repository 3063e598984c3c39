"""--rotations: mirrored and 90/180/270 degree turned copies are grouped, only when asked."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from conftest import Library, photo
from PIL import Image

from dedupe.cache import HashCache
from dedupe.cluster import cluster
from dedupe.groups import build_groups, check_invariants
from dedupe.models import KeepRules, Settings
from dedupe.scan import scan

TURNS = {
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "transpose": Image.Transpose.TRANSPOSE,
}


@cache
def picture(seed: int) -> Image.Image:
    return photo(seed, (480, 360))


def groups(root: Path, settings: Settings) -> list[set[str]]:
    result = scan((str(root),), settings, HashCache.memory(settings))
    found = build_groups(result.records, settings, KeepRules())
    check_invariants(found)
    return sorted(({os.path.basename(m.record.path) for m in g.members} for g in found), key=sorted)


def turned_library(library: Library) -> None:
    for seed in (1, 2):
        library.save(f"p{seed}.jpg", picture(seed), quality=92)
        for name, method in TURNS.items():
            library.save(f"p{seed}-{name}.jpg", picture(seed).transpose(method), quality=85)


def test_turned_copies_group_with_rotations(library: Library) -> None:
    turned_library(library)
    found = groups(library.root, Settings("phash", 8, 0.1, rotations=True))
    assert found == [
        {f"p{seed}.jpg"} | {f"p{seed}-{name}.jpg" for name in TURNS} for seed in (1, 2)
    ]


def test_turned_copies_stay_apart_without_rotations(library: Library) -> None:
    turned_library(library)
    assert groups(library.root, Settings("phash", 8, 0.1)) == []


def test_rotations_keep_other_pictures_apart(library: Library) -> None:
    """A picture turned is not a copy of a different picture, with or without --rotations."""
    for seed in range(3, 9):
        library.save(f"p{seed}.jpg", picture(seed).transpose(Image.Transpose.ROTATE_90))
    settings = Settings("phash", 8, 0.25, rotations=True)
    assert groups(library.root, settings) == []


def test_exif_rotated_copies_group_without_rotations(library: Library) -> None:
    """A viewer shows an EXIF-rotated file upright, so it is an ordinary copy."""
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned; shown turned back
    library.save("p.jpg", picture(4), quality=92)
    library.save("p-exif.jpg", picture(4).transpose(Image.Transpose.ROTATE_90), exif=exif)
    assert groups(library.root, Settings("phash", 8, 0.1)) == [{"p.jpg", "p-exif.jpg"}]


def test_rotations_search_the_seven_orientations(library: Library) -> None:
    """Every candidate of a turned copy comes from the stored variants: more candidates are
    proposed with --rotations, and the turned copies are found through them."""
    turned_library(library)
    plain = Settings("phash", 8, 0.1)
    result = scan((str(library.root),), plain, HashCache.memory(plain))
    assert all(len(r.fingerprint.variants) == 7 for r in result.records)
    without = cluster(result.records, plain)
    with_rotations = cluster(result.records, Settings("phash", 8, 0.1, rotations=True))
    assert with_rotations.candidates > without.candidates
    assert len(with_rotations.groups) == 2 and without.groups == ()
