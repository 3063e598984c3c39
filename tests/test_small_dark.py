"""Small thumbnails and dark, noisy photos (issue 16): copies the geometric check used to
refuse. A camera's 100 px thumbnail and its half-size copy are one picture by their
thumbnails (the keypoints of a picture enlarged 5x and 10x to the working size do not agree),
and a low-light shot and its resized copy are one picture once the dark picture is smoothed
before its stretch (its noise and few gray levels made other corners in each copy). Neither
makes different small or dark photos alike; a blank picture is still matched only as identical
bytes (tests/test_flat.py and test_match.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import Cli, Library
from PIL import Image

from dedupe import geometry

CAMERAS = ("Canon_DIGITAL_IXUS_400", "Olympus_C8080WZ", "Panasonic_DMC-FZ30")  # 100 px JPEGs


def groups_of(report: Path) -> list[set[str]]:
    data = json.loads(report.read_text())
    return sorted(({Path(f["path"]).stem for f in g["files"]} for g in data["groups"]), key=min)


def scanned(cli: Cli, library: Library, tmp_path: Path) -> list[set[str]]:
    report = tmp_path / "report.json"
    code, _, err = cli("scan", str(library.root), "--no-cache", "--report", str(report))
    assert code == 0, err
    return groups_of(report)


def half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


def thumbnails(real_images: Path, library: Library) -> None:
    for name in CAMERAS:
        with Image.open(real_images / "exif-samples" / "jpg" / f"{name}.jpg") as opened:
            picture = opened.convert("RGB")
        assert max(picture.size) == 100
        library.save(f"{name}.jpg", picture, quality=90)
        library.save(f"{name}-half.jpg", half(picture), quality=85)


def test_a_camera_thumbnail_and_its_half_size_copy_are_grouped(
    cli: Cli, library: Library, tmp_path: Path, real_images: Path
) -> None:
    """Each 100 px camera thumbnail of ../shared/real-images is one group with its 50x37 copy
    (before: the geometric check refused all three, "17-32 matching points, ... only in 57% of
    the picture"), and no group mixes two cameras' photos."""
    thumbnails(real_images, library)
    assert scanned(cli, library, tmp_path) == [{name, f"{name}-half"} for name in CAMERAS]


def test_compare_says_the_thumbnails_decided(cli: Cli, library: Library, real_images: Path) -> None:
    thumbnails(real_images, library)
    # (CAMERAS[0]: its keypoints now agree, 32 matching points over 73% of it: "same picture")
    a, b = (library.root / f"{CAMERAS[2]}{s}.jpg" for s in ("", "-half"))
    code, out, err = cli("compare", str(a), str(b))
    assert code == 0, err
    assert (
        "same picture, by the thumbnails alone (A is 100x75, B is 50x37: too small for "
        "keypoints to tell;"
    ) in out
    assert "not grouped" not in out


def test_the_check_never_refutes_a_small_picture(library: Library, real_images: Path) -> None:
    """geometry.compare of a 100 px thumbnail and its half-size JPEG: UNKNOWN (the match
    decides), where the same pair enlarged to 400 px is still judged (never UNKNOWN)."""
    with Image.open(real_images / "exif-samples" / "jpg" / f"{CAMERAS[1]}.jpg") as opened:
        picture = opened.convert("RGB")

    def look(image: Image.Image, name: str) -> geometry.Features:
        with Image.open(library.save(name, image, quality=85)) as saved:
            return geometry.features(saved.convert("L"))

    small = geometry.compare(look(picture, "a.jpg"), look(half(picture), "b.jpg"))
    assert small.verdict == geometry.UNKNOWN and small.small
    big = picture.resize((400, 288), Image.Resampling.LANCZOS)
    large = geometry.compare(look(big, "c.jpg"), look(half(big), "d.jpg"))
    assert not large.small and large.verdict != geometry.UNKNOWN


def darkened(
    image: Image.Image, seed: int, gamma: tuple[float, float], light: tuple[float, float]
) -> tuple[Image.Image, int]:
    """A low-light shot made as the accuracy corpus makes one (benchmarks/accuracy_corpus.py
    lowlight: a gamma, a share of the light, a warm cast, sensor noise), and the JPEG quality
    of its re-encoded copy (70-84)."""
    rng = np.random.default_rng(seed)
    array = np.asarray(image.convert("RGB"), np.float32) / 255
    array = (
        array ** rng.uniform(*gamma) * rng.uniform(*light) * np.array([1.0, 0.9, 0.75], np.float32)
    )
    array = (
        array * 255 + rng.normal(0, 2.2, array.shape[:2] + (1,)) + rng.normal(0, 1.2, array.shape)
    )
    shot = Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")
    return shot, int(rng.integers(70, 85))


def test_a_dark_photo_and_its_re_encoded_copy_are_grouped(
    cli: Cli, library: Library, tmp_path: Path, real_images: Path
) -> None:
    """A real 640x480 photo darkened to 99% of its pixels below 16 gray levels (gamma 1.8-2.4,
    3-7% of the light), and its copy re-encoded at another quality: one group (before: the
    stretched noise gave the geometric check other corners in each, "different pictures"),
    and a second photo darkened alike is in none of its groups."""
    with Image.open(real_images / "exif-samples" / "jpg" / "gps" / "DSCN0025.jpg") as opened:
        dark, quality = darkened(opened, 1003, (1.8, 2.4), (0.03, 0.07))
    assert np.percentile(np.asarray(dark.convert("L")), 99) < 16
    library.save("dark.jpg", dark, quality=92)
    library.save("dark-again.jpg", dark, quality=quality)
    base = real_images / "imagededup-tests" / "tests" / "data" / "base_images"
    with Image.open(base / "ukbench08976.jpg") as opened:
        library.save("other.jpg", darkened(opened, 1020, (1.8, 2.4), (0.03, 0.07))[0], quality=92)
    groups = scanned(cli, library, tmp_path)
    assert {"dark", "dark-again"} in groups
    assert all("other" not in g for g in groups)


def test_two_dark_shots_of_nothing_are_not_one_picture(library: Library) -> None:
    """Two lens-cap shots (the same vignetting over black or a dark gray, other sensor noise)
    are no copies, whatever their thumbnails share: a dark picture with nothing above its
    noise is refused ("no structure above its noise") or its noise's keypoints disagree."""
    yy, xx = np.mgrid[0:768, 0:1024]
    fall = (1 - np.hypot((xx - 512) / 512, (yy - 384) / 384) ** 2).clip(0)
    for base in (4, 20):
        a, b = (
            library.save(
                f"cap{base}-{seed}.jpg",
                Image.fromarray(
                    (base + 6 * fall + np.random.default_rng(seed).normal(0, 2.5, fall.shape))
                    .clip(0, 255)
                    .astype(np.uint8)
                ),
                quality=90,
            )
            for seed in (1, 2)
        )
        with Image.open(a) as one, Image.open(b) as two:
            found = geometry.compare(geometry.features(one), geometry.features(two))
        assert found.verdict == geometry.DIFFERENT
