"""The Python API (dedupe/api.py, re-exported by `import dedupe`) beyond README "Python API"'s
examples (tests/test_readme_api.py): what it exports, its errors, its warnings, that it writes
nothing it was not asked to, and that it gives what the command line writes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import Cli, photo

import dedupe
from dedupe.cli import ExitCode, exit_code_of
from dedupe.errors import DedupeError

INIT = Path(dedupe.__file__)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """beach.png, its half-size JPEG copy, another picture, and a file that is no image."""
    folder = tmp_path / "photos"
    folder.mkdir()
    photo(1).save(folder / "beach.png")
    photo(1).resize((320, 240)).save(folder / "beach-small.jpg", quality=85)
    photo(2).save(folder / "forest.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not the rest of a JPEG")
    return folder


def test_import_dedupe_loads_none_of_its_modules_until_a_name_is_used() -> None:
    code = (
        "import sys, dedupe\n"
        "print(sorted(m for m in sys.modules if m.startswith('dedupe.')))\n"
        "dedupe.Settings\n"
        "print('dedupe.models' in sys.modules, 'dedupe.api' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["[]", "True False"]


def test_every_exported_name_resolves_and_type_checkers_see_the_same_names() -> None:
    """The lazy table (`_EXPORTS`, what runs) and the TYPE_CHECKING imports (what mypy and
    editors see) name the same objects from the same modules."""
    for name in dedupe.__all__:
        assert getattr(dedupe, name) is not None, name
    assert sorted(dedupe.__all__) == sorted(set(dedupe.__all__))
    typed: dict[str, str] = {}
    for node in ast.walk(ast.parse(INIT.read_text())):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                for alias in statement.names:
                    assert alias.asname == alias.name  # re-exported explicitly, for mypy
                    typed[alias.name] = statement.module
    assert typed == dedupe._EXPORTS
    assert "dedupe.api" in set(typed.values())
    assert set(dir(dedupe)) >= set(dedupe.__all__)
    with pytest.raises(AttributeError, match="no attribute 'scan_folder'"):
        _ = dedupe.scan_folder  # type: ignore[attr-defined]


def test_each_error_is_a_dedupe_error_with_the_exit_code_the_command_line_gives_it() -> None:
    from dedupe.filters import PatternError

    codes = {
        dedupe.UsageError: ExitCode.USAGE,
        PatternError: ExitCode.USAGE,
        dedupe.Refused: ExitCode.REFUSED,
        dedupe.ImageError: ExitCode.ERROR,
        dedupe.ReportError: ExitCode.ERROR,
        dedupe.JournalError: ExitCode.ERROR,
    }
    for kind, code in codes.items():
        assert issubclass(kind, DedupeError)
        assert exit_code_of(kind("why")) == code
    assert issubclass(dedupe.UsageError, ValueError)  # a bad argument, as Python has it


def test_what_cannot_be_used_is_refused_before_any_work(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(dedupe.UsageError, match=r"^no such folder: .*missing$"):
        dedupe.scan_folders([photos, tmp_path / "missing"], cache=False)
    with pytest.raises(dedupe.UsageError, match="not a folder"):
        dedupe.scan_folders(photos / "beach.png", cache=False)
    with pytest.raises(dedupe.UsageError, match=r"^--protect .*: not in a scanned folder"):
        dedupe.scan_folders(photos, keep=dedupe.KeepRules(protect=(str(tmp_path),)))
    with pytest.raises(dedupe.UsageError, match="--max-size"):
        dedupe.scan_folders(photos, selection=dedupe.Selection(min_size=10, max_size=5))
    with pytest.raises(dedupe.UsageError, match="is a folder"):
        dedupe.hash_file(photos)
    with pytest.raises(dedupe.UsageError, match="no such file"):
        dedupe.compare_files(photos / "beach.png", photos / "gone.png")
    with pytest.raises(dedupe.ImageError, match=r"broken\.jpg: "):
        dedupe.hash_file(photos / "broken.jpg")
    report = dedupe.scan_folders(photos, cache=False)
    with pytest.raises(dedupe.UsageError, match="report_path"):
        dedupe.make_plan(report, "trash")


def test_a_file_a_scan_cannot_read_is_in_the_report_not_an_error(photos: Path) -> None:
    report = dedupe.scan_folders(photos, cache=False)
    assert [Path(p.path).name for p in report.errors] == ["broken.jpg"]
    assert report.errors[0].reason
    assert [[Path(m.record.path).name for m in g.members] for g in report.groups] == [
        ["beach.png", "beach-small.jpg"]
    ]


def test_a_hash_cache_that_cannot_be_opened_is_a_warning_and_the_scan_goes_on(
    photos: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    heard: list[str] = []
    report = dedupe.scan_folders(photos, cache=blocker / "cache.sqlite", warn=heard.append)
    assert len(report.groups) == 1
    assert len(heard) == 1 and heard[0].startswith(f"cannot use the hash cache at {blocker}")
    # With no `warn`, the same message goes to Python's warnings.
    with pytest.warns(dedupe.DedupeWarning, match="cannot use the hash cache") as heard_there:
        dedupe.scan_folders(photos, cache=blocker / "cache.sqlite")
    # ... pointing at the caller's line, not at a line inside dedupe
    assert [Path(w.filename).name for w in heard_there] == [Path(__file__).name]


def test_a_scan_writes_nothing_but_the_cache_it_is_given(photos: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in photos.iterdir())
    cache_home = Path(os.environ["XDG_CACHE_HOME"])  # where the default cache goes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about either
        dedupe.scan_folders(photos, cache=False)
        assert not list(cache_home.iterdir())
        dedupe.scan_folders(photos, cache=tmp_path / "mine.sqlite")
        assert not list(cache_home.iterdir())
        assert (tmp_path / "mine.sqlite").is_file()
        dedupe.scan_folders(photos)
        assert list(cache_home.rglob("*.sqlite*"))
    assert sorted(p.name for p in photos.iterdir()) == before


def test_the_api_gives_what_the_command_line_writes(photos: Path, tmp_path: Path, cli: Cli) -> None:
    written = tmp_path / "cli-report.json"
    code, _, _ = cli("scan", str(photos), "--report", str(written), "-q", "--no-cache")
    assert code == 0
    from_cli = dedupe.read_report(written)
    from_api = dedupe.scan_folders(photos, cache=False)

    def seen(report: dedupe.Report) -> list[tuple[str, str, str]]:
        return [(m.record.path, m.action, m.reason) for g in report.groups for m in g.members]

    assert seen(from_api) == seen(from_cli) and seen(from_api)
    assert from_api.errors == from_cli.errors
    # Written by the API, the same report: only its time of making differs.
    again = tmp_path / "api-report.json"
    dedupe.write_report(from_api, again)
    ours, theirs = json.loads(again.read_text()), json.loads(written.read_text())
    ours.pop("created_at"), theirs.pop("created_at")
    # each names an index of its own (a random id), of the same columns
    assert ours.pop("index")["digest"] == theirs.pop("index")["digest"]
    assert ours == theirs
