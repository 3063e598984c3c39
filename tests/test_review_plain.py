"""The plain (non-interactive) review: rendered into a fixed-width console and compared."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from dedupe import policy
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
    fp = Fingerprint(w, h, fmt, f"d{path}", ImageHash(bits, 8), (), bytes(256), taken)
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
───────────────────────────────────────────────────────────────────────────────────────────────────
KEEP    2000x1500 PNG   2020-09-13 12:26     0  raw/DSC_7.png
        4.8 MB          modified                largest file (4.8 MB)
trash   2000x1500 JPEG  2020-09-13 12:26     1  raw/DSC_7.jpg
        683.6 KB        modified                keeps the larger file (4.8 MB); this copy is 684 KB

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
    args = ["review", "--report", str(path), "--keep", "path", "--protect", "/photos/copies"]
    assert main([*args, "--no-input"]) == 0
    out, err = capsys.readouterr()
    assert "fresh proposals" in err and "not saved" in err
    # Group 1 was not reviewed: new proposal. Group 2 was reviewed: unchanged.
    assert "shortest path" in out and "protected: under /photos/copies" in out
    assert "frees 0 bytes · to review" in out
    assert "keeps the larger file (4.8 MB)" in out
