"""Real photos from ../shared/real-images (camera JPEGs, iPhone HEIC, Nokia HEIF, TIFF, PNM,
GIF, WebP, byte-identical copies and corrupt files) through `dedupe scan`: no crash, every file
accounted for, every unreadable file listed with a reason a person understands, and the groups
a person expects. Skipped cleanly when the folder is absent."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REAL_IMAGES
from PIL import Image, ImageOps
from report_helpers import with_images

from dedupe import decode
from dedupe.cli import main

# What a reason must never contain: exception class names, tracebacks, bytes reprs, jargon.
JARGON = re.compile(r"[A-Z][a-z]+Error\b|Exception|Traceback|errno|\bb'|wrong mode|\bmode\b|tile")

CORRUPT = {
    "imagededup-tests/tests/data/mixed_images/ukbench09268_corrupt.jpg",
    "imagededup-tests/tests/data/mixed_nested_images/ukbench09268_corrupt.jpg",
}


def scan_report(root: Path, report: Path, *extra: str) -> dict[str, Any]:
    code = main(["scan", str(root), "--report", str(report), "--no-cache", *extra])
    assert code == 0
    return with_images(report)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One scan of the whole folder, shared by the tests below (it takes a few seconds)."""
    if not REAL_IMAGES.is_dir():
        pytest.skip("../shared/real-images is not present")
    report = tmp_path_factory.mktemp("real") / "report.json"
    return scan_report(REAL_IMAGES, report, "--jobs", "2")


def rel(path: str) -> str:
    return os.path.relpath(path, REAL_IMAGES)


def test_every_file_is_accounted_for(real_report: dict[str, Any]) -> None:
    images = {rel(i["path"]) for i in real_report["images"]}
    errors = {rel(e["path"]) for e in real_report["errors"]}
    skipped = {rel(s["path"]) for s in real_report["skipped"]}
    assert not images & errors and not images & skipped and not errors & skipped
    every_file = {rel(os.path.join(d, n)) for d, _, names in os.walk(REAL_IMAGES) for n in names}
    named_as_images = {
        p for p in every_file if os.path.splitext(p)[1].lower() in decode.IMAGE_EXTENSIONS
    }
    assert named_as_images <= images | errors | skipped
    assert images | errors | skipped <= every_file
    assert real_report["stats"]["files"] == len(every_file)
    # The iPhone HEIC and Nokia HEIF photos are read, not skipped.
    heif = {p for p in images if p.lower().endswith((".heic", ".heif"))}
    assert len(heif) == 5
    assert {i["format"] for i in real_report["images"] if rel(i["path"]) in heif} == {"HEIF"}


def test_the_corrupt_files_are_errors_with_reasons_a_person_understands(
    real_report: dict[str, Any],
) -> None:
    errors = {rel(e["path"]): e["error"] for e in real_report["errors"]}
    assert set(errors) >= CORRUPT
    for path in CORRUPT:
        assert errors[path] == "not an image: named .jpg but the content is not an image"
    for path, reason in errors.items():
        assert reason and len(reason) < 200 and not JARGON.search(reason), (path, reason)
    for item in real_report["skipped"]:
        assert not JARGON.search(item["reason"]), item


def test_byte_identical_copies_form_exact_groups(real_report: dict[str, Any]) -> None:
    exact = [
        sorted(rel(f["path"]) for f in g["files"])
        for g in real_report["groups"]
        if g["kind"] == "exact"
    ]
    assert [
        "imagededup-tests/tests/data/base_images/ukbench09268.jpg",
        "imagededup-tests/tests/data/mixed_images/ukbench09268.jpg",
        "imagededup-tests/tests/data/mixed_nested_images/lvl1/lvl2b/ukbench09268.jpg",
    ] in exact
    for group in real_report["groups"]:
        digests = {f["digest"] for f in group["files"]}
        assert (group["kind"] == "exact") == (len(digests) == 1)


def test_each_exif_orientation_set_is_one_group(real_report: dict[str, Any]) -> None:
    groups = [sorted(rel(f["path"]) for f in g["files"]) for g in real_report["groups"]]
    for stem in ("Landscape", "Portrait"):
        expected = [f"exif-orientation-examples/{stem}_{k}.jpg" for k in range(9)]
        assert expected in groups, stem
    for stem in ("landscape", "portrait"):
        expected = [f"exif-samples/jpg/orientation/{stem}_{k}.jpg" for k in range(1, 9)]
        assert expected in groups, stem


def test_orientation_gives_the_upright_size(real_report: dict[str, Any]) -> None:
    sizes = {
        rel(i["path"]): (i["width"], i["height"])
        for i in real_report["images"]
        if rel(i["path"]).startswith("exif-orientation-examples/")
    }
    for path, size in sizes.items():
        assert size == ((1800, 1200) if "Landscape" in path else (1200, 1800)), path


def test_a_heic_copy_of_a_camera_jpeg_lands_in_its_group(tmp_path: Path) -> None:
    if not REAL_IMAGES.is_dir():
        pytest.skip("../shared/real-images is not present")
    source = REAL_IMAGES / "exif-orientation-examples" / "Portrait_6.jpg"  # EXIF orientation 6
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy2(source, folder / "IMG_0001.jpg")
    with Image.open(source) as jpeg:
        stored = jpeg.copy()
        exif = jpeg.getexif()
    fast: dict[str, Any] = {
        "quality": 80,
        "enc_params": {"preset": "ultrafast"},
    }  # x265 is slow otherwise
    # As a phone would write it: the sensor's pixels plus the orientation (pillow-heif turns
    # the EXIF orientation into the HEIF rotation that libheif applies on reading) ...
    stored.save(folder / "IMG_0001.heic", exif=exif.tobytes(), **fast)
    # ... and as an editor would export it: upright pixels, no orientation, half the size.
    upright = ImageOps.exif_transpose(stored)
    upright.reduce(2).save(folder / "IMG_0001-export.heic", **fast)
    folder.joinpath("unrelated.jpg").write_bytes(
        (REAL_IMAGES / "exif-samples" / "jpg" / "hdr" / "canon_hdr_NO.jpg").read_bytes()
    )
    data = scan_report(folder, tmp_path / "report.json")
    groups = [sorted(Path(f["path"]).name for f in g["files"]) for g in data["groups"]]
    assert groups == [["IMG_0001-export.heic", "IMG_0001.heic", "IMG_0001.jpg"]]
    assert data["groups"][0]["kind"] == "similar"
    formats = {Path(i["path"]).name: i["format"] for i in data["images"]}
    assert formats["IMG_0001.heic"] == formats["IMG_0001-export.heic"] == "HEIF"
    sizes = {Path(i["path"]).name: (i["width"], i["height"]) for i in data["images"]}
    assert sizes["IMG_0001.heic"] == sizes["IMG_0001.jpg"] == (1200, 1800)
