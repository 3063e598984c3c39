"""README "Python API": every example in its python blocks runs, as doctest, and prints what the
README says it prints, on the photos the section describes (made here with Pillow)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from conftest import photo

README = Path(__file__).resolve().parent.parent / "README.md"


def section(heading: str) -> str:
    text = README.read_text()
    match = re.search(rf"^## {re.escape(heading)}$(.*?)(?=^## )", text, re.M | re.S)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.M | re.S)


@pytest.fixture
def photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The section's folder: photos/beach.png, its half-size JPEG copy, another picture."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(1).save(folder / "beach.png")
    photo(1).resize((320, 240)).save(folder / "beach-small.jpg", quality=85)
    photo(2).save(folder / "forest.png")
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.usefixtures("home_on_tmp")
def test_the_python_api_examples_run_as_the_readme_shows(photos: Path) -> None:
    blocks = python_blocks(section("Python API"))
    assert len(blocks) >= 6, "the section lost its examples"
    # One doctest over every block, in order: later examples use what earlier ones made.
    test = doctest.DocTestParser().get_doctest(
        "\n".join(blocks), {}, "README Python API", str(README), 0
    )
    assert len(test.examples) >= 20
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    lines: list[str] = []
    runner.run(test, out=lines.append)
    assert runner.failures == 0, "".join(lines)
    # What the examples did is real: the copy went to dupes/ and came back.
    assert (photos / "beach-small.jpg").is_file()
    assert not list((photos.parent / "dupes").rglob("*.jpg"))
    assert (photos.parent / "dedupe-report.json").is_file()
