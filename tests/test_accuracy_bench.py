"""The scoring of benchmarks/accuracy.py, on hand-made reports whose right answers are known."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import accuracy
import accuracy_corpus
from accuracy import Grouped, score
from accuracy_corpus import Item


def item(rel: str, family: str, transform: str = "original", tier: str = "original", **kw: object):
    defaults: dict[str, object] = {"cls": "photo", "source": "test", "lookalike": ""}
    defaults.update(kw)
    return Item(rel=rel, split="tune", family=family, transform=transform, tier=tier, **defaults)  # type: ignore[arg-type]


def truth_of(*items: Item) -> dict[str, Item]:
    return {i.rel: i for i in items}


TRUTH = truth_of(
    item("p/a/original.jpg", "p/a"),
    item("p/a/resize.jpg", "p/a", "resize_60", "easy"),
    item("p/a/crop.jpg", "p/a", "crop_5", "medium"),
    item("p/a/mirror.jpg", "p/a", "mirror", "rotations"),
    item("p/b/original.jpg", "p/b"),
    item("p/b/resize.jpg", "p/b", "resize_60", "easy"),
    item("like/s0.jpg", "like/s0", cls="burst", lookalike="b"),
    item("like/s0-lk.jpg", "like/s0", "lk_jpeg", "lookalike_copy", cls="burst", lookalike="b"),
    item("like/s1.jpg", "like/s1", cls="burst", lookalike="b"),
    item("like/s2.jpg", "like/s2", cls="burst", lookalike="b"),
    item("flat/0/original.png", "flat/0", cls="flat", flat=True, sha256="aa"),
    item(
        "flat/0/byte_copy.png", "flat/0", "byte_copy", "exact", cls="flat", flat=True, sha256="aa"
    ),
    item("flat/1/original.png", "flat/1", cls="flat", flat=True, sha256="bb"),
)


def g(kind: str, *members: tuple[str, str]) -> Grouped:
    return Grouped(kind, tuple(members))


def test_pairs_recall_and_lookalikes_on_a_hand_made_report() -> None:
    groups = [
        # a's original, resize and crop with b's resize: 3 true pairs, 3 false (a~b)
        g(
            "similar",
            ("p/a/original.jpg", "keep"),
            ("p/a/resize.jpg", "trash"),
            ("p/a/crop.jpg", "trash"),
            ("p/b/resize.jpg", "trash"),
        ),
        # a burst shot, its copy and another shot, proposing trash: 1 true, 2 false look-alike
        g(
            "similar",
            ("like/s0.jpg", "keep"),
            ("like/s0-lk.jpg", "trash"),
            ("like/s1.jpg", "trash"),
        ),
        # two other shots in a group that proposes nothing: counted as grouped, not as trash
        g("shots", ("like/s2.jpg", "keep"), ("p/b/original.jpg", "keep")),
        # byte copies of a flat picture (fine) and a flat picture of another colour (not)
        g("exact", ("flat/0/original.png", "keep"), ("flat/0/byte_copy.png", "trash")),
        g("exact", ("flat/1/original.png", "keep"), ("p/zzz-not-in-truth.jpg", "trash")),
    ]
    s = score(groups, TRUTH)
    assert (s.true_pairs, s.false_pairs) == (3 + 1 + 1, 3 + 2 + 1)
    assert s.precision == pytest.approx(5 / 11)
    assert s.false_by == {"photo~photo": 3, "burst~burst": 2, "burst~photo": 1}
    assert s.recall("easy") == pytest.approx(1 / 2)  # a's resize found, b's not
    assert s.recall("medium") == 1.0
    assert s.recall("rotations") == 0.0
    assert s.recall("resize_60") == pytest.approx(1 / 2)
    assert s.recall("photo:easy") == pytest.approx(1 / 2)
    assert s.recall("exact") == 1.0 and s.flat_bad == 0
    assert (s.lookalike_true, s.lookalike_false) == (1, 2)
    assert s.lookalike_precision == pytest.approx(1 / 3)
    assert s.lookalike_grouped == {"similar": 2}  # s2~b-original is not look-alike~look-alike
    assert s.lookalike_pairs == {"burst": 3}  # s0, s1, s2: 3 pairs of different shots
    assert s.recall("lookalike_copies") == 1.0 and s.found_trash["lookalike_copies"] == 1
    assert s.groups == {"similar": 2, "shots": 1, "exact": 2}
    assert s.unknown == 1 and s.largest == 4
    out = json.loads(json.dumps(s.to_json(), allow_nan=False))  # what --json writes
    assert out["false_pairs"] == 6 and out["recall"]["easy"] == 0.5
    assert out["lookalike_false_pairs_grouped_by_kind"] == {"similar": 2}


def test_a_flat_picture_may_group_only_with_identical_bytes() -> None:
    s = score(
        [g("exact", ("flat/0/original.png", "keep"), ("flat/1/original.png", "trash"))], TRUTH
    )
    assert s.flat_bad == 1 and s.false_pairs == 1 and s.true_pairs == 0
    same_family_other_bytes = truth_of(
        item("f/original.png", "f", cls="flat", flat=True, sha256="aa"),
        item("f/png.png", "f", "png", "easy", cls="flat", flat=True, sha256="cc"),
    )
    s = score(
        [g("similar", ("f/original.png", "keep"), ("f/png.png", "trash"))], same_family_other_bytes
    )
    assert s.flat_bad == 1 and s.recall("easy") == 1.0  # found, but it should not have been


def test_no_groups_scores_perfect_precision_and_zero_recall() -> None:
    s = score([], TRUTH)
    assert s.precision == 1.0 and s.lookalike_precision == 1.0
    assert s.recall("easy") == 0.0 and s.recall("hard") != s.recall("hard")  # no hard copies: nan
    assert s.lookalike_pairs == {"burst": 3}


def test_read_groups_reads_kind_and_action_generically(tmp_path: Path) -> None:
    root = tmp_path / "tune"
    (root / "p" / "a").mkdir(parents=True)
    report = {
        "groups": [
            {"kind": "burst-of-shots", "files": [
                {"path": str(root / "p/a/original.jpg"), "action": "keep"},
                {"path": str(root / "p" / ".." / "p/a/resize.jpg"), "action": "trash"},
            ]},
            {"files": [{"path": str(root / "like/s1.jpg")}]},
        ]
    }  # fmt: skip
    groups = accuracy.read_groups(report, root)
    assert groups[0] == g(
        "burst-of-shots", ("p/a/original.jpg", "keep"), ("p/a/resize.jpg", "trash")
    )
    assert groups[0].proposes_trash and not groups[1].proposes_trash
    assert groups[1].kind == "?" and groups[1].members == (("like/s1.jpg", "keep"),)


def test_candidate_pairs_counts_hashes_within_the_radius() -> None:
    hashes = ["0000000000000000", "0000000000000007", "000000000000003f", "ffffffffffffffff"]
    report = {"settings": {"max_distance": 3}, "images": [{"hash": h} for h in hashes]}
    assert accuracy.candidate_pairs(report) == 2  # 0~7 and 7~3f differ in 3 bits; 0~3f in 6
    report["settings"]["max_distance"] = 6
    assert accuracy.candidate_pairs(report) == 3
    report["stats"] = {"candidates": 42}
    assert accuracy.candidate_pairs(report) == 42  # the report's own count wins
    turned = {
        "settings": {"max_distance": 0, "rotations": True},
        "images": [
            {"hash": "00000000000000ff", "variants": ["ff00000000000000"]},
            {"hash": "ff00000000000000", "variants": ["00000000000000ff"]},
        ],
    }
    assert accuracy.candidate_pairs(turned) == 1  # a variant of one is the other's hash


def test_ambiguous_finds_two_real_sources_that_are_one_picture(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    art = Image.fromarray(rng.integers(0, 255, (48, 64), dtype="uint8")).resize((256, 192))
    recoloured = ImageOps.colorize(art, (0, 0, 90), (255, 220, 180))  # one design, new colours
    other = Image.fromarray(rng.integers(0, 255, (48, 64), dtype="uint8")).resize((256, 192))
    pictures = {
        "photo/a/original.png": ("photo/a", "", art),
        "photo/b/original.png": ("photo/b", "", recoloured),
        "photo/c/original.png": ("photo/c", "", other),
        "like-x/s0.png": ("like-x/s0", "x", other),  # one look-alike set: expected to look alike
        "like-x/s1.png": ("like-x/s1", "x", other.rotate(1)),
    }
    items = []
    for rel, (family, lookalike, image) in pictures.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        image.save(tmp_path / rel)
        items.append(item(rel, family, source="pkg:x", lookalike=lookalike))
    found = accuracy_corpus.ambiguous(tmp_path, items)
    pairs = {(a, b) for a, b, _ in found}
    assert ("photo/a/original.png", "photo/b/original.png") in pairs
    assert not any("like-x/s0.png" in p and "like-x/s1.png" in p for p in pairs)
    # c is the same noise as the look-alike set's members, so those pairs are reported too
    assert ("photo/c/original.png", "like-x/s0.png") in pairs


def test_shots_of_one_burst_in_a_shots_group_are_true_pairs_and_nowhere_else() -> None:
    """A "shots" group that holds shots of one burst says something true; the same shots in a
    copy group, or shots of two bursts (or a shot and a photo) in a shots group, are false."""
    truth = truth_of(
        item("like-burst-v/b00s0.jpg", "like-burst-v/b00s0", cls="burst", lookalike="burst-v"),
        item("like-burst-v/b00s1.jpg", "like-burst-v/b00s1", cls="burst", lookalike="burst-v"),
        item("like-burst-v/b03s0.jpg", "like-burst-v/b03s0", cls="burst", lookalike="burst-v"),
        item("like-app/shot01.png", "like-app/shot01", cls="screenshot", lookalike="app"),
        item("like-app/shot02.png", "like-app/shot02", cls="screenshot", lookalike="app"),
    )
    one_burst = (("like-burst-v/b00s0.jpg", "keep"), ("like-burst-v/b00s1.jpg", "keep"))
    assert (
        score([g("shots", *one_burst)], truth).true_pairs,
        score([g("shots", *one_burst)], truth).false_pairs,
    ) == (1, 0)
    assert score([g("similar", *one_burst)], truth).false_pairs == 1
    two_bursts = (("like-burst-v/b00s0.jpg", "keep"), ("like-burst-v/b03s0.jpg", "keep"))
    assert score([g("shots", *two_bursts)], truth).false_pairs == 1
    screens = (("like-app/shot01.png", "keep"), ("like-app/shot02.png", "keep"))
    assert score([g("shots", *screens)], truth).false_pairs == 1
