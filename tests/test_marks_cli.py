"""`dedupe marks`: list and clear the remembered "not duplicates" pairs, as a user would."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from clirun import Dedupe
from conftest import Cli, photo

from dedupe.review import marks


@pytest.fixture
def dedupe(tmp_path: Path) -> Dedupe:
    return Dedupe(tmp_path / "home")


def store(dedupe: Dedupe) -> Path:
    return dedupe.home / "xdg_data_home" / "dedupe" / marks.FILE_NAME


def test_marks_lists_and_clears_and_scans_group_again(dedupe: Dedupe, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    picture = photo(21, (200, 150))
    picture.save(root / "a.jpg", quality=95)
    picture.resize((100, 75)).save(root / "trip" / "a-small.jpg", quality=85)
    odd = str(root / "new\nline.jpg")
    a, small = str(root / "a.jpg"), str(root / "trip" / "a-small.jpg")
    marks.remember([(small, a), (odd, "/elsewhere/x.jpg")], store(dedupe))
    report = tmp_path / "r.json"
    # Remembered: the scan does not group the pair.
    assert dedupe("scan", str(root), "--report", str(report), "--print0", "-q").out == b""

    done = dedupe("marks")
    assert done.code == 0
    assert done.text == f"/elsewhere/x.jpg\t{root}/new\\nline.jpg\n{a}\t{small}\n"
    assert done.err == f"2 pairs marked not duplicates (in {store(dedupe)})\n"
    as_json = dedupe("marks", "--format", "json", str(root / "trip"))
    assert json.loads(as_json.out) == [[a, small]]
    as_csv = dedupe("marks", "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.text, newline=""))) == [
        ["path_a", "path_b"],
        ["/elsewhere/x.jpg", odd],
        [a, small],
    ]

    # Clearing asks; without a terminal and without --yes it refuses and changes nothing.
    refused = dedupe("marks", "--clear")
    assert refused.code == 4
    assert refused.err == (
        "error: refusing to forget 2 pairs without confirmation: stdin is not a terminal. "
        "Add --yes to go ahead.\n"
    )
    cleared = dedupe("marks", "--clear", "--yes", str(root / "trip"))
    assert (cleared.code, cleared.err) == (0, "Forgot 1 pair; 1 remains.\n")
    assert marks.load(store(dedupe)).pairs == {("/elsewhere/x.jpg", odd)}
    # Forgotten: the next scan groups the pair again.
    again = dedupe("scan", str(root), "--report", str(report), "--print0", "-q")
    assert again.out == small.encode() + b"\0"
    assert dedupe("marks", "--clear", "--yes").err == "Forgot 1 pair; 0 remain.\n"
    assert dedupe("marks").text == ""


def test_a_damaged_marks_file_is_never_cleared(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged store is set aside on first read (never overwritten); --clear then acts on the
    marks that could still be read, and the damaged text stays on disk."""
    path = marks.default_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "pairs": [["/a.jpg", "/b.jpg"]')  # cut short
    code, out, err = cli("marks")
    assert code == 0 and out == "" and err.startswith("warning: ")
    assert marks.DAMAGED_SUFFIX in err
    code, out, err = cli("marks", "--clear", "--yes")
    assert code == 0 and "Nothing to clear" in err
    # Nothing lost: the damaged text is still on disk, set aside beside the store.
    kept = [f.read_text() for f in path.parent.iterdir() if f.name.startswith(marks.FILE_NAME)]
    assert '{"version": 1, "pairs": [["/a.jpg", "/b.jpg"]' in kept


def test_nothing_to_clear(cli: Cli) -> None:
    assert cli("marks", "--clear") == (
        0,
        "",
        "Nothing to clear: no pair is marked not duplicates.\n",
    )
