"""The check verifies the candidate pairs a part at a time (cluster._VERIFIED, to bound its
temporary arrays): how the pairs are cut changes nothing, neither the checked pairs nor the
groups. Real files, scanned: copies of a few pictures (re-encoded, resized, edited) and
look-alikes, at a loose threshold so that the candidates are many more than a part."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import Library, photo
from PIL import Image, ImageEnhance

from dedupe import cluster
from dedupe.cache import HashCache
from dedupe.groups import build_groups
from dedupe.looks import Looks
from dedupe.models import ImageRecord, KeepRules, Settings
from dedupe.scan import scan

LOOSE = Settings(threshold=0.3)


def _library(library: Library) -> list[ImageRecord]:
    for seed in range(6):
        picture = photo(seed, (320, 240))
        library.save(f"a/{seed}.jpg", picture, quality=92)
        library.save(f"b/{seed}-copy.jpg", picture, quality=60)
        library.save(f"b/{seed}-small.png", picture.resize((160, 120)))
        library.save(f"c/{seed}-edited.jpg", ImageEnhance.Brightness(picture).enhance(1.15))
        # a look-alike: the same scene a little shifted (candidates the check must weigh)
        shifted = Image.new("RGB", picture.size)
        shifted.paste(picture.crop((12, 0, 320, 240)), (0, 0))
        library.save(f"c/{seed}-shifted.jpg", shifted, quality=90)
    library.save("a/0-again.jpg", photo(0, (320, 240)), quality=92)  # a byte copy
    result = scan((str(library.root),), LOOSE, HashCache.memory(LOOSE))
    return list(result.records)


def _verified_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    verify: Callable[..., Any] = cluster._verify

    def spy(*args: Any, **kwargs: Any) -> Any:
        sizes.append(len(args[3]))
        return verify(*args, **kwargs)

    monkeypatch.setattr(cluster, "_verify", spy)
    return sizes


@pytest.mark.parametrize("compiled", [False, True])
def test_verifying_in_parts_finds_the_same_pairs_and_groups(
    library: Library, monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    records = _library(library)
    whole = cluster.cluster(records, LOOSE, compiled=compiled, look=Looks(records))
    candidates = whole.candidates
    assert candidates > 30  # many more than a part below

    sizes = _verified_sizes(monkeypatch)
    monkeypatch.setattr(cluster, "_VERIFIED", 7)
    parts = cluster.cluster(records, LOOSE, compiled=compiled, look=Looks(records))
    assert sizes and max(sizes) <= 7 and sum(sizes) == candidates  # in parts, every pair

    assert parts == whole  # the groups, counts and every checked pair, bit for bit
    assert whole.checked is not None and parts.checked is not None
    assert np.array_equal(parts.checked.score, whole.checked.score)
    assert len(whole.groups) >= 6 and any(len(g) >= 3 for g in whole.groups)

    def proposed(found: cluster.Clusters) -> list[list[tuple[str, str]]]:
        groups = build_groups(records, LOOSE, KeepRules(), clusters=found, look=Looks(records))
        return [[(m.record.path, m.action) for m in g.members] for g in groups]

    assert proposed(parts) == proposed(whole)
