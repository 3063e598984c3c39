"""Regrouping from the index's columns (imagecols.py: records built only for grouped files)
gives exactly what regrouping from a record per image gives, on a scan of real files."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import Library, photo
from PIL import Image, ImageEnhance

from dedupe import api, companions
from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.imagecols import ImageColumns
from dedupe.models import Group, KeepRules
from dedupe.regroup import regroup
from dedupe.report import Report


def _library(library: Library) -> None:
    """Pictures with byte copies, smaller and re-encoded copies, brightness edits, and
    pictures alone; enough files that the grouping runs on its compiled kernels too."""
    for k in range(14):
        image = photo(100 + k, (256, 192))
        library.save(f"a/p{k:02d}.png", image)
        if k % 2 == 0:
            library.write(f"b/p{k:02d}-copy.png", (library.root / f"a/p{k:02d}.png").read_bytes())
        if k % 3 != 2:
            library.save(f"b/p{k:02d}-small.jpg", image.resize((128, 96)), quality=60 + 3 * k)
        if k % 4 == 1:
            edited = ImageEnhance.Brightness(image).enhance(1.15)
            library.save(f"c/p{k:02d}-edited.jpg", edited, quality=85)
        if k % 5 == 0:
            library.save(f"c/p{k:02d}-q40.jpg", image, quality=40)
    for k in range(10):
        library.save(f"d/alone{k}.png", photo(300 + k, (200, 150)))
    # flat pictures are never compared: only their byte copies are grouped
    flat = library.save("e/grey.png", Image.new("RGB", (120, 90), (128, 128, 128)))
    library.write("e/grey-copy.png", flat.read_bytes())
    library.save("e/grey.jpg", Image.new("RGB", (120, 90), (128, 128, 128)))


def _seen(groups: tuple[Group, ...]) -> list[Any]:
    """Everything a regrouped group says, member by member."""
    return [
        (
            g.id,
            g.kind,
            g.max_distance,
            g.reviewed,
            [(m.record, m.distance, m.action, m.reason) for m in g.members],
        )
        for g in groups
    ]


def _as_records(path: Path) -> Report:
    """The report read with its index, with a record for every image (how every image was
    read before imagecols.py: a tuple of records, its groups' records among them)."""
    read = report_mod.read(path, with_index=True)
    return replace(read, images=tuple(read.images))


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("columns") / "photos"
    root.mkdir()
    _library(Library(root))
    return Library(root)


@pytest.fixture(scope="module")
def scanned(library: Library) -> Path:
    """The library scanned at 0.3 (its report and index), once for this module's tests,
    which only read it."""
    path = library.root.parent / "report.json"
    args = ["scan", str(library.root), "--report", str(path), "--no-cache", "--threshold", "0.3"]
    with pytest.MonkeyPatch.context() as patch:  # (before the autouse folders of each test)
        for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            patch.setenv(name, str(library.root.parent / name.lower()))
        assert main([*args, "--quiet"]) in (0, 10)
    return path


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.2, 0.3])
@pytest.mark.parametrize(
    "rules",
    [None, KeepRules(order=("size", "path")), KeepRules(prefer=("/c",))],
    ids=["as-scanned", "by-size", "prefer-c"],
)
def test_regrouping_from_columns_is_regrouping_from_records(
    scanned: Path, threshold: float, rules: KeepRules | None
) -> None:
    columns = report_mod.read(scanned, with_index=True)
    assert isinstance(columns.images, ImageColumns)
    records = _as_records(scanned)
    assert isinstance(records.images, tuple)
    old = records.groups
    assert len(old) >= 8 and len(records.images) == len(columns.images)
    # "not duplicates": a pair of the largest group's files (marks from the review)
    largest = max(old, key=lambda g: len(g.members))
    a, b = sorted(m.record.path for m in largest.members[:2])
    if rules is not None and rules.prefer:
        rules = replace(rules, prefer=(str(scanned.parent / "photos" / "c"),))
    for distinct in (frozenset(), frozenset({(a, b)})):
        new, new_changes = regroup(columns, threshold=threshold, rules=rules, distinct=distinct)
        then, then_changes = regroup(records, threshold=threshold, rules=rules, distinct=distinct)
        assert _seen(new.groups) == _seen(then.groups)
        assert new_changes == then_changes
        assert new.checked == then.checked and new.index == then.index
        assert new.not_duplicates == then.not_duplicates and new.facts == then.facts
    # Records were built for the grouped files only, not for every image.
    grouped = {m.record.path for g in old for m in g.members}
    assert columns.images.numbers(grouped) == dict(records.numbers)
    assert len(columns.images.built()) == len(grouped) < len(columns.images)


def test_only_the_grouped_files_get_records(scanned: Path) -> None:
    columns = report_mod.read(scanned, with_index=True)
    images = columns.images
    assert isinstance(images, ImageColumns)
    grouped = {m.record.path for g in columns.groups for m in g.members}
    regroup(columns, threshold=0.1)
    assert len(images.built()) == len(grouped) < len(images)
    # A record built later is the same as the record of that row in a full read.
    every = _as_records(scanned).images
    missing = next(k for k in range(len(images)) if k not in images.built())
    assert images[missing] == every[missing] and images[missing] is images[missing]
    assert images.path(missing) == every[missing].path
    assert list(images) == list(every) and images == every


def test_a_regrouped_review_saves_and_regroups_again(scanned: Path, tmp_path: Path) -> None:
    columns = report_mod.read(scanned, with_index=True)
    regrouped, _ = regroup(columns, threshold=0.1)
    assert regrouped.index == columns.index  # within the checked pairs: the index is kept
    saved = tmp_path / "saved.json"
    report_mod.write(regrouped, saved)
    again = report_mod.read(saved, with_index=True)  # each group file is its index row
    assert _seen(again.groups) == _seen(regrouped.groups)
    assert again.numbers == {
        m.record.path: columns.images.numbers({m.record.path})[m.record.path]
        for g in regrouped.groups
        for m in g.members
    }
    assert _seen(regroup(again, threshold=0.05)[0].groups) == _seen(
        regroup(_as_records(saved), threshold=0.05)[0].groups
    )


def test_the_columns_match_a_fresh_scan_at_the_tighter_threshold(
    scanned: Path, library: Library, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh.json"
    args = ["scan", str(library.root), "--report", str(fresh), "--no-cache", "--quiet"]
    assert main([*args, "--threshold", "0.1"]) in (0, 10)
    regrouped, _ = regroup(report_mod.read(scanned, with_index=True), threshold=0.1)
    scanned_again = report_mod.read(fresh)

    def members(report: Report) -> list[list[tuple[str, str]]]:
        return [[(m.record.path, m.action) for m in g.members] for g in report.groups]

    assert members(regrouped) == members(scanned_again)


def test_twin_candidates_are_the_images_of_a_folder_and_stem_of_one_asked_for() -> None:
    paths = ["/a/b.jpg", "/a/b.CR2", "/b.jpg", "/a/c.jpg", "/a/b/b.jpg", "a/b.jpg", "/a/b.tar.gz"]
    for asked in (["/a/b.heic"], ["/b.png", "/a/c.jpg"], ["/a/b.tar"], ["a/b.x"], ["/q/b.jpg"]):
        expected = [
            k
            for k, path in enumerate(paths)
            if any(
                os.path.split(path)[0] == os.path.split(q)[0]
                and os.path.splitext(os.path.split(path)[1])[0]
                == os.path.splitext(os.path.split(q)[1])[0]
                for q in asked
            )
        ]
        assert companions.twin_candidates(paths, asked) == expected
    assert companions.twin_candidates(paths, ["/a/b.heic"]) == [0, 1]


@pytest.mark.parametrize("threshold", [0.1, 0.2])
def test_the_api_regroups_the_columns_as_the_records_with_looks_and_facts(
    scanned: Path, threshold: float
) -> None:
    # (as `review --threshold` calls it: the geometric check reads the files it needs, the
    # files of new groups are read for their sidecars and metadata)
    columns = api.read_report(scanned, to_regroup=True, threshold=threshold)
    assert isinstance(columns.images, ImageColumns)
    new = api.regroup_report(columns, threshold=threshold, cache=False)
    then = api.regroup_report(_as_records(scanned), threshold=threshold, cache=False)
    assert _seen(new.report.groups) == _seen(then.report.groups)
    assert new.report.facts == then.report.facts and new.changes == then.changes
    grouped = {m.record.path for g in (*columns.groups, *new.report.groups) for m in g.members}
    assert len(columns.images.built()) <= len(grouped) < len(columns.images)
