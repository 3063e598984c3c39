"""`dedupe report --html`: static pages (one for a small report, linked pages for a big one),
checked as text and rendered in headless Chromium (skipped when Chromium is not installed)."""

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
from review_helpers import synthetic_report

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
    sources = re.findall(r'<img src="([^"]+)"[^>]* loading="lazy"', text)
    assert len(sources) == 7
    for source in sources:
        assert source.startswith("data:image/webp;base64,")
        with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as image:
            assert max(image.size) <= html_report.THUMB_SIDE and image.format == "WEBP"
    # Reasons, distances and escaped names.
    assert "keeps the 320x240 original; this is a 160x120 copy" in text
    assert "<dt>distance</dt><dd>0</dd>" in text
    assert "orig copy &lt;&amp;&gt;.png" in text
    assert "g0/<wbr>orig.jpg" in text  # a path wraps after a "/", not inside a name
    assert not list(out.parent.glob("*_pages"))  # a small report is one page


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


def test_a_big_report_is_split_into_linked_pages(tmp_path: Path) -> None:
    report = synthetic_report(tmp_path / "photos", 250, big=150)
    ranges = html_report.pages(report.groups)
    # Every group once, in order; no page above its limits unless one group alone is.
    assert [k for r in ranges for k in r] == list(range(len(report.groups)))
    for r in ranges:
        files = sum(len(report.groups[k].members) for k in r)
        assert len(r) <= html_report.PAGE_GROUPS
        assert files <= html_report.PAGE_FILES or len(r) == 1
    out = tmp_path / "site" / "report.html"
    out.parent.mkdir()
    written = html_report.write(report, out)
    assert written.pages[0] == out and len(written.pages) == len(ranges) > 2
    assert all(p.parent == out.parent / "report_pages" for p in written.pages[1:])
    texts = [p.read_text(encoding="utf-8") for p in written.pages]
    assert sum(t.count('<section class="group"') for t in texts) == len(report.groups)
    for page, text in zip(written.pages, texts, strict=True):
        assert "<script" not in text and "<link" not in text and "http" not in text
        # Every link leads to a page that is there.
        for href in re.findall(r'<a href="([^"#]+)', text):
            assert (page.parent / href).resolve() in {p.resolve() for p in written.pages}
    first = texts[0]
    assert first.count('<a href="report_pages/page-') >= len(ranges) - 1  # the index
    # The files the scan could not use, with their reasons, on the first page only.
    assert "damaged JPEG image: the file is truncated" in first
    assert "larger than the decoding limit" in first and "huge.tif" in first
    assert "huge.tif" not in texts[1]
    assert "next &rsaquo;" in texts[1] and "&lsaquo; previous" in texts[1]
    # Written again for a smaller report: the pages it no longer has are gone.
    smaller = html_report.write(report_mod.with_groups(report, report.groups[:150]), out)
    assert sorted((out.parent / "report_pages").iterdir()) == sorted(smaller.pages[1:])
