"""`dedupe report --html`: one self-contained page, checked as text and rendered in headless
Chromium (skipped when Chromium is not installed)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Library, photo
from PIL import Image

from dedupe import html_report
from dedupe import report as report_mod
from dedupe.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1200, 1400
KEEP_GREEN = (0x1A, 0x7F, 0x37)


@pytest.fixture
def page(library: Library, tmp_path: Path) -> tuple[Path, Path]:
    for k in range(3):
        image = photo(300 + k, (320, 240))
        library.save(f"g{k}/orig.jpg", image, quality=92)
        library.save(f"g{k}/small.jpg", image.resize((160, 120)), quality=85)
    library.save("g0/orig copy <&>.png", photo(300, (320, 240)))
    report_path = tmp_path / "report.json"
    assert main(["scan", str(library.root), "--report", str(report_path), "--no-cache"]) == 0
    out = tmp_path / "page.html"
    assert main(["report", "--html", str(out), "--report", str(report_path)]) == 0
    return out, report_path


def test_page_is_self_contained_with_every_group(page: tuple[Path, Path]) -> None:
    out, report_path = page
    text = out.read_text(encoding="utf-8")
    report = report_mod.read(report_path)
    assert [len(g.members) for g in report.groups] == [3, 2, 2]
    assert text.count('<section class="group"') == 3
    assert text.count('<figure class="file keep">') == 3
    assert text.count('<figure class="file trash">') == 4
    # No external resource: every picture is inline, no script, no link, no remote URL.
    assert "<script" not in text and "<link" not in text and "http" not in text
    sources = re.findall(r'<img src="([^"]+)"', text)
    assert len(sources) == 7
    for source in sources:
        assert source.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as image:
            assert max(image.size) <= html_report.THUMB_SIDE and image.format == "JPEG"
    # Reasons, distances and escaped names.
    assert "keeps the 320x240 original; this is a 160x120 copy" in text
    assert "<dt>distance</dt><dd>0</dd>" in text
    assert "orig copy &lt;&amp;&gt;.png" in text


def test_missing_file_is_shown_as_missing(page: tuple[Path, Path]) -> None:
    _, report_path = page
    report = report_mod.read(report_path)
    Path(report.groups[1].members[1].record.path).unlink()
    html = html_report.render(report, html_report.thumbnails(html_report.group_paths(report)))
    assert html.count("<img ") == 6
    assert "no picture: file is gone (moved or deleted since the scan)" in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_page_renders_in_headless_chromium(page: tuple[Path, Path], tmp_path: Path) -> None:
    out, _ = page
    assert CHROMIUM is not None
    # A copy of the page with a probe that records, after load, how many images decoded.
    probe = tmp_path / "probe.html"
    script = (
        "<script>window.addEventListener('load', () => {"
        "const imgs = [...document.images];"
        "document.body.dataset.loaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;"
        "document.body.dataset.total = imgs.length;});</script>"
    )
    probe.write_text(out.read_text(encoding="utf-8").replace("</body>", script + "</body>"))
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        f"--window-size={WIDTH},{HEIGHT}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert 'data-loaded="7"' in dom and 'data-total="7"' in dom
    shot = tmp_path / "page.png"
    subprocess.run([*flags, f"--screenshot={shot}", out.as_uri()], capture_output=True, timeout=120)
    with Image.open(shot) as image:
        pixels = image.convert("RGB")
    assert pixels.size == (WIDTH, HEIGHT)
    colours = pixels.getcolors(WIDTH * HEIGHT) or []
    # The kept copy's green frame is drawn ...
    green = sum(
        n for n, c in colours if all(abs(a - b) <= 8 for a, b in zip(c, KEEP_GREEN, strict=True))
    )
    assert green > 1000
    # ... and the thumbnails are real pictures: a page of flat colours has a few hundred colours.
    assert len(colours) > 5000
