"""An animation (GIF, WebP, APNG of more than one frame) is never a copy of a still picture:
its hashes are of its first frame, and trashing it in favour of a PNG of that frame (or the
frame in favour of it) would lose the motion or the poster. Real files made with Pillow,
scanned by the real pipeline (SQLite cache in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import Library, photo
from PIL import Image, ImageDraw

import dedupe
from dedupe import decode, verify
from dedupe.cli import main


def frames(count: int = 6) -> list[Image.Image]:
    """A moving red dot over a photo-like picture."""
    base = photo(7, (400, 300))
    out = []
    for k in range(count):
        frame = base.copy()
        ImageDraw.Draw(frame).ellipse((20 + 50 * k, 100, 80 + 50 * k, 160), fill=(255, 0, 0))
        out.append(frame)
    return out


def animation(library: Library, name: str, count: int = 6, **params: object) -> Path:
    first, *rest = frames(count)
    return library.save(name, first, save_all=True, append_images=rest, duration=100, loop=0,
                        **params)  # fmt: skip


def groups_of(root: Path, cache: Path) -> list[set[str]]:
    report = dedupe.scan_folders([root], cache=cache)
    return [{Path(m.record.path).name for m in g.members} for g in report.groups]


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "anim.png"])
def test_an_animation_is_read_as_one(library: Library, name: str) -> None:
    path = animation(library, name)
    decoded = decode.decode(path.read_bytes(), gray=True)
    assert decoded.animated
    rows = verify.signature_array(
        [verify.signature(decoded.image, decoded.capture, decoded.chroma, animated=True)]
    )
    assert verify.animated_rows(rows).tolist() == [True]


def test_stills_and_pages_are_not_animations(library: Library) -> None:
    still = library.save("still.png", frames(1)[0])
    gif = library.save("one.gif", frames(1)[0])
    first, *rest = frames(3)
    pages = library.save("pages.tif", first, save_all=True, append_images=rest)
    for path in (still, gif, pages):
        assert not decode.decode(path.read_bytes(), gray=True).animated, path.name


def test_a_still_is_never_grouped_with_its_animation(library: Library, tmp_path: Path) -> None:
    animation(library, "anim.gif")
    animation(library, "anim.webp", quality=90)
    library.save("first.png", frames()[0])  # the first frame, as a still
    library.save("first.jpg", frames()[0], quality=92)
    found = groups_of(library.root, tmp_path / "cache.sqlite")
    # the two animations are copies of one another, the two stills too; never across
    assert sorted(found, key=sorted) == [{"anim.gif", "anim.webp"}, {"first.jpg", "first.png"}]


def test_compare_says_why(library: Library, capsys: pytest.CaptureFixture[str]) -> None:
    moving = animation(library, "anim.webp")
    still = library.save("first.png", frames()[0])
    assert main(["compare", str(still), str(moving)]) == 0
    out = capsys.readouterr().out
    assert (
        "different pictures: B is an animation and A a still picture (a still is no copy of an "
        "animation, even of its first frame): fails"
    ) in out
    assert "not grouped" in out and ": grouped" not in out
    checked = dedupe.compare_files(moving, still)
    assert checked.plain.moving and checked.rotations.moving and not checked.grouped


def test_the_flag_leaves_capture_times_as_they_were() -> None:
    gray = Image.fromarray(np.asarray(frames(1)[0].convert("L")))
    shot = decode.Capture(millis=1_600_000_000_250, subseconds=True, camera="Canon EOS")
    a = verify.signature(gray, shot, animated=True)
    b = verify.signature(gray, shot)
    millis, flags, camera = verify.captures(verify.signature_array([a, b]))
    assert millis.tolist() == [1_600_000_000_250] * 2
    assert flags.tolist() == [1 | 2 | verify.ANIMATED, 1 | 2]
    assert camera[0] == camera[1] != 0
