"""The content check (issue 16, round 6): copies aligned in one frame are compared block by
block (dedupe/content.py). Screenshots of one app with other content in the same window are
two pictures; a screenshot's true copies (resized, re-encoded, with a date stamp over a
corner, gray) and a photo's brightened copy stay one picture. Real files, rendered with Pillow
and the Debian fonts, scanned and compared as `dedupe scan` and `dedupe compare` do."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, Library
from PIL import Image, ImageDraw, ImageEnhance, ImageFont
from test_match import stamped

from dedupe import content
from dedupe.cache import HashCache
from dedupe.cluster import check_pair
from dedupe.groups import build_groups
from dedupe.looks import Looks
from dedupe.models import ImageRecord, KeepRules, Settings
from dedupe.scan import scan

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
WORDS = [
    "report",
    "invoice",
    "photo",
    "holiday",
    "budget",
    "draft",
    "notes",
    "summary",
    "meeting",
    "plan",
    "backup",
    "archive",
    "project",
    "design",
    "review",
    "music",
    "video",
    "family",
    "garden",
    "travel",
    "school",
    "letter",
    "contract",
    "final",
]


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size)


def settings_screen(seed: int, size: tuple[int, int] = (1280, 800)) -> Image.Image:
    """A settings panel of one app: the same title bar, toolbar and sidebar in every shot, a
    page of rows (a title, a line of text, a switch or a field) with this shot's content."""
    rng = random.Random(seed)
    w, h = size
    image = Image.new("RGB", size, (246, 246, 246))
    draw = ImageDraw.Draw(image)
    f = font(16)
    draw.rectangle((0, 0, w, 34), fill=(46, 52, 64))
    draw.text((14, 8), "Settings", font=f, fill=(236, 239, 244))
    draw.rectangle((0, 34, w, 74), fill=(229, 233, 240))
    for k in range(7):
        draw.rounded_rectangle((12 + 44 * k, 41, 44 + 44 * k, 67), 5, fill=(129, 161, 193))
    draw.rectangle((0, 74, 250, h), fill=(236, 239, 244))
    for k, name in enumerate(("Home", "Display", "Sound", "Network", "Privacy", "Power")):
        draw.rectangle((14, 96 + 36 * k, 30, 112 + 36 * k), fill=(129, 161, 193))
        draw.text((40, 94 + 36 * k), name, font=f, fill=(40, 40, 40))
    draw.text((290, 92), rng.choice(("Display", "Network", "Privacy")), font=font(24), fill=0)
    y = 150
    while y < h - 70:
        draw.rounded_rectangle((280, y, w - 40, y + 56), 8, fill="white", outline=(220, 220, 220))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))).title()
        draw.text((300, y + 8), title, font=f, fill=(20, 20, 20))
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8)))
        draw.text((300, y + 30), line, font=font(12), fill=(120, 120, 120))
        if rng.random() < 0.5:
            on = rng.random() < 0.5
            colour = (94, 129, 172) if on else (190, 190, 190)
            draw.rounded_rectangle((w - 120, y + 16, w - 70, y + 40), 12, fill=colour)
            cx = w - 84 if on else w - 108
            draw.ellipse((cx - 10, y + 18, cx + 10, y + 38), fill="white")
        else:
            draw.rectangle((w - 260, y + 16, w - 70, y + 40), outline=(180, 180, 180))
            draw.text((w - 250, y + 18), rng.choice(WORDS), font=f, fill=(40, 40, 40))
        y += 70
    return image


def records_of(root: Path, settings: Settings) -> list[ImageRecord]:
    return list(scan((str(root),), settings, HashCache.memory(settings)).records)


def names_grouped(records: list[ImageRecord], settings: Settings) -> list[set[str]]:
    groups = build_groups(records, settings, KeepRules(), look=Looks(records))
    return sorted(({Path(m.record.path).stem for m in g.members} for g in groups), key=min)


@pytest.fixture
def screens(library: Library) -> Library:
    """Three shots of one settings panel (other rows in each); of the first, a half-size PNG,
    a JPEG, a gray PNG and a copy with a date stamp."""
    for k in range(3):
        library.save(f"shot{k}.png", settings_screen(k))
    first = settings_screen(0)
    library.save("shot0-half.png", first.resize((640, 400), Image.Resampling.LANCZOS))
    library.save("shot0-jpeg.jpg", first, quality=80)
    library.save("shot0-gray.png", first.convert("L"))
    library.save("shot0-stamp.png", stamped(first))
    return library


def test_screens_of_one_app_are_two_pictures_and_copies_stay_one(
    screens: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shots share their window and the rows' places: the thumbnails and keypoints find
    them one picture (without the content check every file is in one group); block by block
    their rows differ, and the first shot's copies (resized, re-encoded, gray, stamped) do
    not."""
    settings = Settings()
    records = records_of(screens.root, settings)
    copies = {"shot0", "shot0-half", "shot0-jpeg", "shot0-gray", "shot0-stamp"}
    assert names_grouped(records, settings) == [copies]
    with monkeypatch.context() as patched:
        patched.setattr(content, "MAX_DIFFERING", 2.0)  # (never two pictures)
        grouped = names_grouped(records, settings)
    assert grouped == [copies | {"shot1", "shot2"}]


def test_compare_explains_the_content_check(screens: Library, cli: Cli) -> None:
    """`dedupe compare` says why two screens are two pictures, and that a stamp was forgiven."""
    root = screens.root
    code, out, _ = cli("compare", str(root / "shot0.png"), str(root / "shot1.png"))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("check"))
    assert "different pictures:" in line and "of the detailed areas differ" in line
    assert line.endswith(": fails")
    code, out, _ = cli("compare", str(root / "shot0.png"), str(root / "shot0-stamp.png"))
    line = next(x for x in out.splitlines() if x.startswith("check"))
    assert line.startswith("check      same picture") and line.endswith(": passes")
    assert "differs in one patch (a stamp or caption)" in line
    code, out, _ = cli("compare", "--json", str(root / "shot0.png"), str(root / "shot2.png"))
    data = json.loads(out)["plain"]
    assert data["verdict"] == "different" and data["content"]["verdict"] == "different"
    assert data["content"]["differing_share"] >= content.MAX_DIFFERING


def test_check_pair_keeps_the_content_check(screens: Library) -> None:
    """check_pair (as `compare` and review judge a pair) runs the content check only where
    it can look at the files; without them the match alone decides, as before."""
    settings = Settings()
    records = {Path(r.path).stem: r for r in records_of(screens.root, settings)}
    a, b = records["shot0"], records["shot1"]
    looked = check_pair(a, b, settings, Looks([a, b]))
    assert looked.content is not None and looked.content.verdict == content.DIFFERENT
    assert not looked.verified
    alone = check_pair(a, b, settings)
    assert alone.content is None and alone.verified  # (the thumbnails alone: one picture)
    copy = records["shot0-half"]
    same = check_pair(a, copy, settings, Looks([a, copy]))
    assert same.content is not None and same.content.verdict == content.SAME and same.verified


def gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def test_compare_blocks() -> None:
    """content.compare on pictures: a resized, brightened (its highlights burnt out) or
    stamped copy is the same picture; other rows in one window, or the rows scrolled by one,
    are not; a thumbnail is too small to refute."""
    shot = settings_screen(3)
    assert content.compare(gray(shot), gray(shot)).verdict == content.SAME
    half = shot.resize((640, 400), Image.Resampling.BICUBIC)
    assert content.compare(gray(shot), gray(half)).verdict == content.SAME
    bright = ImageEnhance.Brightness(shot).enhance(1.3)
    assert content.compare(gray(shot), gray(bright)).verdict == content.SAME
    found = content.compare(gray(shot), gray(stamped(shot)))
    assert found.verdict == content.SAME and found.forgiven and found.patch > 0
    other = content.compare(gray(shot), gray(settings_screen(4)))
    assert other.verdict == content.DIFFERENT and other.share >= content.MAX_DIFFERING
    scrolled = Image.new("RGB", shot.size, (246, 246, 246))
    scrolled.paste(shot.crop((0, 70, 1280, 800)), (0, 0))
    scrolled.paste(shot.crop((0, 0, 1280, 150)), (0, 0))  # the same chrome, rows moved up
    assert content.compare(gray(shot), gray(scrolled)).verdict == content.DIFFERENT
    tiny = shot.resize((160, 100))
    assert content.compare(gray(tiny), gray(settings_screen(4).resize((160, 100)))).verdict == (
        content.UNKNOWN
    )
