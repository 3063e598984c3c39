"""The plain (non-interactive) review: rendered into a fixed-width console and compared."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from dedupe import policy, verify
from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.hashing import ImageHash
from dedupe.models import Fingerprint, Group, ImageRecord, KeepRules, ScanStats, Settings
from dedupe.report import Report
from dedupe.review import plain

T = 1_600_000_000_000_000_000  # 2020-09-13 12:26:40 UTC


def rec(
    path: str, w: int, h: int, size: int, fmt: str, bits: int, taken: str | None = None
) -> ImageRecord:
    check = bytes(verify.SIGNATURE_BYTES)  # reports hold no other size
    fp = Fingerprint(w, h, fmt, f"d{path}", ImageHash(bits, 8), b"", check, taken)
    return ImageRecord(path, size, T, 1, 1, fp)


def sample() -> Report:
    big = rec("/photos/2019/IMG_0001.jpg", 4032, 3024, 3_400_000, "JPEG", 0, "2019-04-03T10:22:05")
    small = rec("/photos/copies/IMG_0001-small.jpg", 1024, 768, 210_000, "JPEG", 0b111)
    raw = rec("/photos/raw/DSC_7.png", 2000, 1500, 5_000_000, "PNG", 0)
    jpg = rec("/photos/raw/DSC_7.jpg", 2000, 1500, 700_000, "JPEG", 0b1)

    def distance(a: ImageRecord, b: ImageRecord) -> int:
        return a.hash - b.hash

    g1 = Group(1, "similar", 3, policy.decide([big, small], KeepRules(), distance))
    g2 = Group(2, "similar", 1, policy.decide([jpg, raw], KeepRules(), distance), reviewed=True)
    return Report(
        ("/photos",), Settings(), KeepRules(), ScanStats(), (g1, g2), (), (), (big, small, raw, jpg)
    )


EXPECTED = """\
Paths are relative to /photos

Group 1 · similar · 2 files · largest distance 3 · frees 205.1 KB · to review
action  picture         date              dist  path / reason
────────────────────────────────────────────────────────────────────────────────────────────────────
KEEP    4032x3024 JPEG  2019-04-03 10:22     0  2019/IMG_0001.jpg
        3.2 MB          taken                   highest resolution (4032x3024)
trash   1024x768 JPEG   2020-09-13 12:26     3  copies/IMG_0001-small.jpg
        205.1 KB        modified                keeps the 4032x3024 original; this is a 1024x768
                                                copy

Group 2 · similar · 2 files · largest distance 1 · frees 683.6 KB · reviewed
action  picture         date              dist  path / reason
────────────────────────────────────────────────────────────────────────────────────────────────────
KEEP    2000x1500 PNG   2020-09-13 12:26     0  raw/DSC_7.png
        4.8 MB          modified                largest file (4.8 MB)
trash   2000x1500 JPEG  2020-09-13 12:26     1  raw/DSC_7.jpg
        683.6 KB        modified                keeps the larger file (4.8 MB); this copy is 683.6
                                                KB

2 groups (1 reviewed) · 4 files · 2 to trash · 888.7 KB reclaimable
"""


def test_plain_report_in_a_100_column_console() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    plain.render(sample(), console)
    assert console.file.getvalue() == EXPECTED  # type: ignore[attr-defined]


def test_plain_report_folds_long_paths_at_60_columns() -> None:
    console = Console(file=io.StringIO(), width=60, color_system=None)
    plain.render(sample(), console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "trash copies/IMG_0001-small.jpg\n" in text
    assert "      1024x768 JPEG · 205.1 KB · modified 2020-09-13 12:26 ·\n" in text
    assert "      keeps the 4032x3024 original; this is a 1024x768 copy\n" in text


EXPECTED_NARROW = """\
Paths are relative to /photos

Group 1 · similar · 2 files · largest distance 3 · frees
205.1 KB · to review
KEEP  2019/IMG_0001.jpg
      4032x3024 JPEG · 3.2 MB · taken 2019-04-03 10:22 ·
      distance 0
      highest resolution (4032x3024)
trash copies/IMG_0001-small.jpg
      1024x768 JPEG · 205.1 KB · modified 2020-09-13 12:26 ·
      distance 3
      keeps the 4032x3024 original; this is a 1024x768 copy

Group 2 · similar · 2 files · largest distance 1 · frees
683.6 KB · reviewed
KEEP  raw/DSC_7.png
      2000x1500 PNG · 4.8 MB · modified 2020-09-13 12:26 ·
      distance 0
      largest file (4.8 MB)
trash raw/DSC_7.jpg
      2000x1500 JPEG · 683.6 KB · modified 2020-09-13 12:26
      · distance 1
      keeps the larger file (4.8 MB); this copy is 683.6 KB

2 groups (1 reviewed) · 4 files · 2 to trash · 888.7 KB
reclaimable
"""


def test_plain_report_stacks_each_file_below_80_columns() -> None:
    console = Console(file=io.StringIO(), width=60, color_system=None)
    plain.render(sample(), console)
    assert console.file.getvalue() == EXPECTED_NARROW  # type: ignore[attr-defined]


LONG = "very-long-folder-name/" * 6 + "name with spaces " * 3 + "[red]end.jpg"


def odd() -> Report:
    """File names that must be shown as they are: markup-like, control characters, long."""
    markup = rec("/photos/[bold]x[/bold].jpg", 4000, 3000, 2_000_000, "JPEG", 0)
    control = rec("/photos/new\nline\x1b[31m\ttab.jpg", 800, 600, 90_000, "JPEG", 0b11)
    long = rec(f"/photos/{LONG}", 640, 480, 50_000, "JPEG", 0b1)

    def distance(a: ImageRecord, b: ImageRecord) -> int:
        return a.hash - b.hash

    group = Group(7, "similar", 2, policy.decide([markup, control, long], KeepRules(), distance))
    return Report(
        ("/photos",),
        Settings(),
        KeepRules(),
        ScanStats(),
        (group,),
        (),
        (),
        (markup, control, long),
    )


EXPECTED_ODD = """\
Paths are relative to /photos

Group 7 · similar · 3 files · largest distance 2 · frees 136.7 KB · to review
action  picture         date              dist  path / reason
────────────────────────────────────────────────────────────────────────────────────────────────────
KEEP    4000x3000 JPEG  2020-09-13 12:26     0  [bold]x[/bold].jpg
        1.9 MB          modified                highest resolution (4000x3000)
trash   800x600 JPEG    2020-09-13 12:26     2  new\\nline\\x1b[31m\\ttab.jpg
        87.9 KB         modified                keeps the 4000x3000 original; this is a 800x600 copy
trash   640x480 JPEG    2020-09-13 12:26     1  very-long-folder-name/very-long-folder-name/very-lon
        48.8 KB         modified                g-folder-name/very-long-folder-name/very-long-folder
                                                -name/very-long-folder-name/name with spaces name
                                                with spaces name with spaces [red]end.jpg
                                                keeps the 4000x3000 original; this is a 640x480 copy

1 group (0 reviewed) · 3 files · 2 to trash · 136.7 KB reclaimable
"""


def test_plain_report_shows_odd_names_as_they_are() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    plain.render(odd(), console)
    assert console.file.getvalue() == EXPECTED_ODD  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [30, 60, 80, 100, 200])
def test_plain_report_folds_long_paths_never_cuts(width: int) -> None:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    plain.render(odd(), console)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert all(len(line) <= width and line == line.rstrip() for line in lines)
    # The long name, read back from the lines it was folded over: nothing is lost.
    column = 48 if width >= plain.NARROW else 0
    start = next(i for i, line in enumerate(lines) if line[column:].startswith("very-long"))
    folded = []
    for line in lines[start:]:
        folded.append(line[column:])
        if line.endswith("end.jpg"):
            break
    # Folded or wrapped at a space, every character is there (the breaks add no others).
    assert "".join(folded).replace(" ", "") == LONG.replace(" ", "")


def test_plain_report_in_colour_keeps_markup_in_names_as_text() -> None:
    console = Console(file=io.StringIO(), width=100, color_system="standard", force_terminal=True)
    plain.render(odd(), console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[1;32mKEEP\x1b[0m" in out and "\x1b[31mtrash\x1b[0m" in out
    assert "\x1b[2mhighest resolution (4000x3000)\x1b[0m" in out  # reasons dim
    assert "[bold]x[/bold].jpg" in out and "[red]end.jpg" in out  # not read as markup
    assert "new\\nline\\x1b[31m\\ttab.jpg" in out  # the name's own escape shown, not sent
    assert all(line == line.rstrip() for line in out.splitlines())


def test_cli_prints_the_plain_report_when_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "report.json"
    report_mod.write(sample(), path)
    assert main(["review", "--report", str(path), "--no-input"]) == 0
    out, err = capsys.readouterr()
    assert "Group 1 · similar · 2 files · largest distance 3" in out
    assert "keeps the 4032x3024 original;" in out
    assert out.rstrip().endswith(
        "2 groups (1 reviewed) · 4 files · 2 to trash · 888.7 KB reclaimable"
    )
    assert "\x1b[" not in out  # no colour codes in a pipe
    assert "outside the scanned folders" not in err


def test_cli_review_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "--report", str(tmp_path / "none.json")]) == 1
    assert "no report at" in capsys.readouterr().err
    path = tmp_path / "report.json"
    report_mod.write(sample(), path)
    assert main(["review", "--report", str(path), "--keep", "colour"]) == 2
    assert "unknown keep rule 'colour'" in capsys.readouterr().err


def test_cli_review_with_new_keep_rules_reproposes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "report.json"
    report_mod.write(sample(), path)
    args = ["review", "--report", str(path), "--keep", "path"]
    # a --protect folder must exist in a scanned folder (the sample's /photos is nowhere)
    assert main([*args, "--protect", "/photos/copies", "--no-input"]) == 2
    assert "--protect /photos/copies: no such folder" in capsys.readouterr().err
    assert main([*args, "--no-input"]) == 0
    out, err = capsys.readouterr()
    assert "fresh proposals" in err and "not saved" in err
    # Group 1 was not reviewed: new proposal. Group 2 was reviewed: unchanged.
    assert "shortest path" in out and "keeps the copy with the shorter path" in out
    assert "keeps the larger file (4.8 MB)" in out
