"""`dedupe compare A B`: rates under every algorithm, the check, and the grouping verdict."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import pytest
from conftest import Library, photo
from PIL import Image, ImageEnhance

from dedupe.cli import main
from dedupe.models import DEFAULT_ALGORITHM, DEFAULT_HASH_SIZE, DEFAULT_THRESHOLD, Settings


@cache
def picture(seed: int) -> Image.Image:
    return photo(seed, (400, 300))


def compare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["compare", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def defaults_line() -> str:
    return (
        f"{DEFAULT_ALGORITHM} {DEFAULT_HASH_SIZE}x{DEFAULT_HASH_SIZE}, threshold "
        f"{DEFAULT_THRESHOLD} (max distance {Settings().max_distance})"
    )


def test_a_copy_is_grouped(capsys: pytest.CaptureFixture[str], library: Library) -> None:
    a = library.save("a.jpg", picture(1), quality=95)
    b = library.save("b.png", ImageEnhance.Brightness(picture(1)).enhance(1.15))
    code, out, err = compare(capsys, str(a), str(b))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"A  {a}  (400x300 JPEG)")
    assert lines[1].startswith(f"B  {b}  (400x300 PNG)")
    table = [line.split() for line in lines[3:10]]
    assert table[0] == ["algorithm", "bits", "distance", "rate", "with", "rotations"]
    assert [(row[0], row[1]) for row in table[1:]] == [
        (a, b) for a in ("ahash", "dhash", "phash") for b in ("64", "256")
    ]
    assert all(float(row[3]) == int(row[2]) / int(row[1]) or abs(
        float(row[3]) - int(row[2]) / int(row[1])) < 1e-3 for row in table[1:])  # fmt: skip
    assert "passes" in out
    assert f"{defaults_line()}: grouped\n" in out
    assert f"{defaults_line()}, --rotations: grouped\n" in out


def test_different_pictures_are_not_grouped(
    capsys: pytest.CaptureFixture[str], library: Library
) -> None:
    a = library.save("a.jpg", picture(1))
    b = library.save("b.jpg", picture(2))
    code, out, _ = compare(capsys, str(a), str(b))
    assert code == 0
    assert f"{defaults_line()}: not grouped\n" in out
    assert "fails" in out


def test_a_mirrored_copy_needs_rotations(
    capsys: pytest.CaptureFixture[str], library: Library
) -> None:
    a = library.save("a.jpg", picture(3))
    b = library.save("b.jpg", picture(3).transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    code, out, _ = compare(capsys, str(a), str(b))
    assert code == 0
    assert f"{defaults_line()}: not grouped\n" in out
    assert f"{defaults_line()}, --rotations: grouped (B mirrored)\n" in out


def test_identical_blank_files_are_grouped_only_as_bytes(
    capsys: pytest.CaptureFixture[str], library: Library
) -> None:
    a = library.save("white.png", Image.new("RGB", (300, 200), "white"))
    b = library.save("white2.png", Image.new("RGB", (600, 400), "white"))
    copy = library.root / "white-copy.png"
    shutil.copyfile(a, copy)
    _, out, _ = compare(capsys, str(a), str(b))
    assert "too flat to compare: A and B are one colour" in out
    assert f"{defaults_line()}: not grouped\n" in out
    _, out, _ = compare(capsys, str(a), str(copy))
    assert f"{defaults_line()}: grouped (identical bytes)\n" in out


def test_threshold_option_and_json(capsys: pytest.CaptureFixture[str], library: Library) -> None:
    a = library.save("a.jpg", picture(4))
    b = library.save("b.jpg", picture(4).crop((20, 15, 380, 285)))
    code, out, _ = compare(capsys, str(a), str(b), "--threshold", "0", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["settings"] == {"algorithm": DEFAULT_ALGORITHM, "hash_size": DEFAULT_HASH_SIZE,
                                "threshold": 0.0}  # fmt: skip
    assert len(data["hashes"]) == 6
    assert data["plain"]["verified"] is True  # the check accepts the crop ...
    assert data["plain"]["grouped"] is (data["plain"]["distance"] == 0)  # ... within distance 0


def test_unreadable_files_are_errors(
    capsys: pytest.CaptureFixture[str], library: Library, tmp_path: Path
) -> None:
    a = library.save("a.jpg", picture(1))
    text = library.write("notes.jpg", b"not an image at all")
    code, out, err = compare(capsys, str(a), str(text))
    assert code == 1 and out == "" and "notes.jpg" in err
    # A path that is not there is a mistyped argument (2), said as such (see test_scripting).
    code, out, err = compare(capsys, str(a), str(tmp_path / "missing.jpg"))
    assert code == 2 and out == "" and "missing.jpg: no such file" in err


def test_a_smooth_picture_and_a_page_of_one_template_are_explained(
    capsys: pytest.CaptureFixture[str], library: Library
) -> None:
    """The verdicts of the texture and of the fine detail of pages are said in words."""
    from test_match import shaded_texture, template_page

    textured, smooth = shaded_texture(1)
    a = library.save("gradient.png", smooth)
    b = library.save("photo.jpg", textured, quality=90)
    code, out, _ = compare(capsys, str(a), str(b))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("check "))
    assert "different pictures: A is smooth where B is textured (fine detail of 0." in line
    assert line.endswith("a copy: at most 6 times the smoother): fails")
    first = library.save("page0.png", template_page(0))
    second = library.save("page1.png", template_page(1))
    code, out, _ = compare(capsys, str(first), str(second))
    line = next(x for x in out.splitlines() if x.startswith("check "))
    assert "matching points, but only in" in line
    assert line.endswith("(a shared layout, frame or background): fails")
