"""Which copy is kept, and why: the keep rules, protection, preference, reasons in words."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe import policy, verify
from dedupe.hashing import ImageHash
from dedupe.models import FileFacts, Fingerprint, ImageRecord, KeepRules, Metadata


def record(
    path: str,
    *,
    size: int = 1000,
    width: int = 100,
    height: int = 100,
    mtime_ns: int = 10**18,
    fmt: str = "JPEG",
    digest: str = "",
) -> ImageRecord:
    fingerprint = Fingerprint(
        width=width,
        height=height,
        format=fmt,
        digest=digest or f"d-{path}",
        hash=ImageHash(0, 8),
        variant_bits=b"",
        check=b"\0" * 256,
    )
    return ImageRecord(path, size, mtime_ns, 1, abs(hash(path)), fingerprint)


def zero(a: ImageRecord, b: ImageRecord) -> int:
    return 0


def test_most_pixels_wins_and_the_reason_says_so() -> None:
    big = record("/p/big.jpg", width=4032, height=3024, size=10)
    small = record("/p/small.jpg", width=1024, height=768, size=999999)
    members = policy.decide([small, big], KeepRules(), zero)
    assert members[0].record is big and members[0].action == "keep"
    assert members[0].reason == "highest resolution (4032x3024)"
    assert members[1].action == "trash"
    assert members[1].reason == "keeps the 4032x3024 original; this is a 1024x768 copy"


def test_a_stretched_copy_is_no_higher_resolution() -> None:
    """A copy stretched 1.3x wide has 30% more pixels, none of them picture: in a group whose
    other files share the original's shape it loses to the original (also when its file is
    larger), and says so; a copy of the group's shape with more pixels still wins."""
    original = record("/p/original.png", width=1000, height=750, size=100)
    stretched = record("/p/stretched.jpg", width=1300, height=750, size=999999)
    small = record("/p/small.jpg", width=600, height=450, size=50)
    members = policy.decide([stretched, small, original], KeepRules(), zero)
    assert members[0].record is original and members[0].reason.startswith("highest resolution")
    why = {m.record.path: m.reason for m in members[1:]}
    assert why["/p/stretched.jpg"] == (
        "keeps the 1000x750 original; this is a 1300x750 copy (another shape: stretched or cut)"
    )
    larger = record("/p/larger.jpg", width=2000, height=1500, size=10)
    assert (
        policy.decide([stretched, small, original, larger], KeepRules(), zero)[0].record is larger
    )
    # of two files, neither can be told to be the original: the more pixels win
    assert policy.decide([original, stretched], KeepRules(), zero)[0].record is stretched


def test_then_largest_file_then_oldest_then_shortest_path() -> None:
    a = record("/p/a.jpg", size=500)
    b = record("/p/b.jpg", size=900)
    assert policy.decide([a, b], KeepRules(), zero)[0].record is b
    old = record("/p/x/old.jpg", mtime_ns=1)
    new = record("/p/new.jpg", mtime_ns=2)
    kept = policy.decide([new, old], KeepRules(), zero)
    assert kept[0].record is old and "older" in kept[1].reason
    short = record("/p/s.jpg")
    long = record("/p/longer/s.jpg")
    kept = policy.decide([long, short], KeepRules(), zero)
    assert kept[0].record is short and "shorter path" in kept[1].reason


def test_format_rule_prefers_raw_then_heic_png_then_jpeg() -> None:
    rules = KeepRules(order=("format", "path"))
    jpeg = record("/p/a.jpg", fmt="JPEG")
    heic = record("/p/a.heic", fmt="HEIF")
    png = record("/p/aa.png", fmt="PNG")
    assert policy.decide([jpeg, heic], rules, zero)[0].record is heic
    assert policy.decide([jpeg, png], rules, zero)[0].record is png
    raw = record("/p/long/name.dng", fmt="DNG")
    assert policy.decide([jpeg, heic, raw], rules, zero)[0].record is raw


def test_byte_identical_copies_say_so() -> None:
    a = record("/p/a.jpg", digest="same", mtime_ns=1)
    b = record("/p/b.jpg", digest="same", mtime_ns=2)
    members = policy.decide([a, b], KeepRules(), zero)
    assert members[0].reason.startswith("byte-identical copies")
    assert members[1].reason.startswith("byte-identical copy")


def test_protected_files_are_never_trashed() -> None:
    big = record("/p/big.jpg", width=2000)
    small = record("/archive/small.jpg", width=100)
    members = policy.decide([big, small], KeepRules(protect=("/archive",)), zero)
    assert [m.action for m in members] == ["keep", "keep"]
    assert members[1].reason == "protected: under /archive"


def test_prefer_breaks_a_tie_left_by_the_rules() -> None:
    a = record("/p/a.jpg")
    b = record("/best/b.jpg")
    members = policy.decide([a, b], KeepRules(prefer=("/best",)), zero)
    assert members[0].record is b
    assert "preferred folder" in members[1].reason
    # but it does not override a rule that decides
    big = record("/p/big.jpg", width=500)
    assert policy.decide([big, b], KeepRules(prefer=("/best",)), zero)[0].record is big


def test_is_under_needs_a_whole_folder_name() -> None:
    assert policy.is_under("/photos/a.jpg", ["/photos"]) == "/photos"
    assert policy.is_under("/photos-old/a.jpg", ["/photos"]) is None


def test_parse_order() -> None:
    assert policy.parse_order("size,resolution") == ("size", "resolution", "path")
    with pytest.raises(ValueError, match="unknown keep rule 'colour'"):
        policy.parse_order("size,colour")
    with pytest.raises(ValueError, match="once"):
        policy.parse_order("size,size")


@given(
    st.lists(
        st.tuples(
            st.integers(1, 3),
            st.integers(1, 3),
            st.integers(1, 3),
            st.booleans(),
            st.sampled_from(["JPEG", "PNG", "HEIF", "DNG", "GIF"]),
        ),
        min_size=2,
        max_size=6,
    ),
    st.permutations(policy.RULES),
)
def test_every_group_keeps_exactly_one_unprotected_best_and_never_trashes_all(
    specs: list[tuple[int, int, int, bool, str]], order: list[str]
) -> None:
    records = [
        record(f"/{'keep' if protected else 'p'}/{k}.jpg", size=s, width=w, mtime_ns=t, fmt=fmt)
        for k, (s, w, t, protected, fmt) in enumerate(specs)
    ]
    rules = KeepRules(order=tuple(order), protect=("/keep",))
    members = policy.decide(records, rules, zero)
    assert sorted(m.record.path for m in members) == sorted(r.path for r in records)
    assert members[0].action == "keep"
    assert any(m.action == "keep" for m in members)
    for m in members:
        assert m.reason
        if m.record.path.startswith("/keep/"):
            assert m.action == "keep"
    # deterministic: the same input in another order gives the same keeper
    again = policy.decide(list(reversed(records)), rules, zero)
    assert again[0].record.path == members[0].record.path
    assert [m.record.path for m in again] == [m.record.path for m in members]
    assert [m.record.path for m in members[1:]] == sorted(
        (m.record.path for m in members[1:]), key=os.fsencode
    )


# 2026-05-01 21:10:07.25 UTC, in nanoseconds.
MAY = 1_777_669_807_250_000_000


@pytest.mark.parametrize(
    ("keeper", "other", "kept", "trashed"),
    [
        # 344.0 KB and 343.8 KB: rounded apart, as the size column shows them.
        (352_256, 352_100, "largest file (344.0 KB)", "this copy is 343.8 KB"),
        # Both 344.0 KB once rounded: the bytes.
        (352_256, 352_240, "largest file (352,256 bytes)", "this copy is 352,240 bytes"),
        (5_000_000, 4_999_999, "largest file (5,000,000 bytes)", "this copy is 4,999,999 bytes"),
    ],
)
def test_size_reasons_never_contradict_themselves(
    keeper: int, other: int, kept: str, trashed: str
) -> None:
    members = policy.decide(
        [record("/p/b.jpg", size=other), record("/p/a.jpg", size=keeper)], KeepRules(), zero
    )
    assert members[0].reason == kept
    assert members[1].reason == f"keeps the larger file ({kept.split('(')[1]}; {trashed}"


@pytest.mark.parametrize(
    ("later", "older", "newer"),
    [
        (120 * 10**9, "2026-05-01 21:10", "2026-05-01 21:12"),  # minutes apart
        (30 * 10**9, "2026-05-01 21:10:07", "2026-05-01 21:10:37"),  # the same minute
        (5 * 10**8, "2026-05-01 21:10:07.2", "2026-05-01 21:10:07.7"),  # the same second
        (1, "2026-05-01 21:10:07.250000000", "2026-05-01 21:10:07.250000001"),
    ],
)
def test_date_reasons_show_the_digit_that_tells_the_files_apart(
    later: int, older: str, newer: str
) -> None:
    old = record("/p/long/name/old.jpg", mtime_ns=MAY)
    new = record("/p/new.jpg", mtime_ns=MAY + later)
    members = policy.decide([new, old], KeepRules(), zero)
    assert members[0].record is old
    assert members[0].reason == f"oldest file (modified {older})"
    assert (
        members[1].reason == f"keeps the older file (modified {older}); this one is newer ({newer})"
    )


def encoded(encoding: str | None) -> FileFacts:
    return FileFacts(metadata=Metadata(encoding=encoding))


def test_a_lossless_file_wins_over_a_larger_lossy_one_of_its_resolution() -> None:
    """The encoding rule (before size by default): a lossless PNG over a noisy JPEG five
    times its size; a palette PNG or a GIF is no lossless file; neither lossless: size
    decides, and the tie is not said to be one of encoding."""
    png = record("/p/drawing.png", size=5_000, fmt="PNG")
    jpeg = record("/p/noisy.jpg", size=60_000)
    gif = record("/p/drawing.gif", size=70_000, fmt="GIF")
    palette = record("/p/palette.png", size=80_000, fmt="PNG")
    facts = {
        png.path: encoded("lossless"),
        jpeg.path: encoded("lossy"),
        palette.path: encoded("palette"),
    }
    members = policy.decide([jpeg, png, gif, palette], KeepRules(), zero, facts)
    assert members[0].record is png and members[0].reason == "lossless file (PNG)"
    why = {m.record.path: m.reason for m in members[1:]}
    assert why[jpeg.path] == "keeps a lossless PNG; this copy is a lossy JPEG"
    assert why[gif.path] == "keeps a lossless PNG; this copy is a GIF of at most 256 colours"
    assert why[palette.path] == "keeps a lossless PNG; this copy is a PNG of at most 256 colours"
    assert policy.decide([jpeg, png], KeepRules(order=("size",)), zero, facts)[0].record is jpeg
    kept = policy.decide([jpeg, palette], KeepRules(), zero, facts)
    assert kept[0].record is palette and kept[0].reason.startswith("largest file")
    twin = record("/p/longer/noisy.jpg", size=60_000)
    tie = policy.decide([jpeg, twin], KeepRules(), zero, {twin.path: encoded("lossy")} | facts)
    assert tie[1].reason == ("same resolution, size and date: keeps the copy with the shorter path")


def trimmed(
    path: str, trim: tuple[int, int, int, int], width: int = 100, height: int = 100, size: int = 1
) -> ImageRecord:
    """A record whose check signature says a uniform border of `trim` (1/250 of each side:
    left, top, right, bottom) was found around its picture."""
    check = verify.pack(
        np.zeros((verify.SIZE, verify.SIZE), np.uint8),
        np.zeros((verify.FINE, verify.FINE), np.uint8),
        trim=trim,
    )
    base = record(path, width=width, height=height, fmt="PNG", size=size)
    return replace(base, fingerprint=replace(base.fingerprint, check=check))


def test_files_of_one_width_and_height_are_of_one_resolution() -> None:
    """The resolution rule counts the pixels inside a uniform border; noise added to a copy
    hides the margin its original has, so of two files of the same width and height neither
    has more of the picture than the other: the next rules decide."""
    original = trimmed("/p/original.png", (25, 25, 25, 25), size=5_000)  # a tenth of each side
    copy = record("/p/noisy.jpg", size=60_000)
    assert policy.decide([copy, original], KeepRules(), zero)[0].record is copy  # by size
    facts = {original.path: encoded("lossless"), copy.path: encoded("lossy")}
    members = policy.decide([copy, original], KeepRules(), zero, facts)
    assert members[0].record is original and members[0].reason == "lossless file (PNG)"
    # a copy with a border added (another width and height) still has no more picture:
    # 125x125, of which the same 80x80 drawing inside its margin and the border
    framed = trimmed("/p/framed.png", (45, 45, 45, 45), 125, 125, size=90_000)
    assert policy.decide([framed, original], KeepRules(), zero)[0].record is original


def test_a_framed_copy_measured_larger_inside_its_border_is_no_higher_resolution() -> None:
    """A border's width is measured to 1/250 of a side: a 794x1123 page framed to 952x1347
    measures 800x1121 inside its frame, 0.6% more than the page, which fell in another
    bucket of 2%. Pictures within 2% of the largest of their tier are of one resolution,
    and the original without a border wins."""
    page = trimmed("/p/original.png", (0, 0, 0, 0), 794, 1123, size=200_000)
    framed = trimmed("/p/border.jpg", (20, 21, 20, 21), 952, 1347, size=270_000)
    members = policy.decide([framed, page], KeepRules(), zero)
    assert members[0].record is page
    assert members[1].reason == (
        "keeps the 794x1123 original; this is a 952x1347 copy (800x1121 inside a border)"
    )
