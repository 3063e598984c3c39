"""The command line through main([...]): exit codes, output on stdout vs stderr, help texts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Library, photo
from PIL import Image, ImageDraw

from dedupe import locations
from dedupe.cli import COMMANDS, ExitCode, _decodes_in_workers, build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_missing_folder_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "scan", str(tmp_path / "nope"))
    assert code == ExitCode.USAGE == 2
    assert "no such folder" in err and out == ""


@pytest.mark.parametrize("value", ["1.5", "-0.1", "abc"])
def test_threshold_outside_zero_one_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path), "--threshold", value)
    assert code == 2
    assert "--threshold" in err


def test_unknown_algorithm_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path), "--algorithm", "bhash")
    assert code == 2 and "invalid choice" in err


def test_unknown_keep_rule_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "scan", str(tmp_path), "--keep", "size,colour")
    assert code == 2 and "unknown keep rule" in err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "scan" in err


def test_scan_of_an_empty_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run(capsys, "scan", str(empty), "--report", str(report), "--no-cache")
    assert code == 0 and out == ""
    assert "0 groups" in err
    assert json.loads(report.read_text())["groups"] == []


def test_scan_prints_groups_and_json_on_request(
    capsys: pytest.CaptureFixture[str], library: Library, tmp_path: Path
) -> None:
    image = photo(40, (400, 300))
    library.save("big.jpg", image, quality=95)
    library.save("sub/small.jpg", image.resize((200, 150)), quality=80)
    library.save("unrelated.jpg", photo(41, (400, 300)))
    library.write("broken.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    report = tmp_path / "r.json"
    code, out, err = run(
        capsys, "scan", str(library.root), "--report", str(report), "--json", "--no-cache"
    )
    assert code == 0  # per-file errors do not fail the scan
    data = json.loads(out)
    assert data == json.loads(report.read_text())
    assert "Group 1" not in err  # the groups are data: on stdout, as JSON here
    assert "broken.png" in err and "1 group, 1 duplicate file," in err
    assert [e["path"] for e in data["errors"]] == [str(library.root / "broken.png")]
    # Without --json the groups are tables on stdout; the summary stays on stderr.
    code, out, err = run(capsys, "scan", str(library.root), "--report", str(report))
    assert code == 0 and "Group 1" in out and "Group 1" not in err
    assert "KEEP" in out and "big.jpg" in out and "keeps the 400x300 original" in out
    assert "1 group, 1 duplicate file," in err


def test_hash_prints_the_bit_matrix_then_hex(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).rectangle((16, 16, 47, 47), fill=255)
    path = tmp_path / "square.png"
    image.save(path)
    code, out, _ = run(capsys, "hash", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[:8] == [
        "00000000",
        "00000000",
        "00111100",
        "00111100",
        "00111100",
        "00111100",
        "00000000",
        "00000000",
    ]
    assert lines[8] == "00003c3c3c3c0000"
    code, out, _ = run(capsys, "hash", str(path), "--hash-size", "16")
    assert out.splitlines()[16] == (
        "00000000000000000ff00ff00ff00ff00ff00ff00ff00ff00000000000000000"
    )


def test_hash_of_a_non_image_fails_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "x.jpg"
    path.write_text("hello")
    code, out, err = run(capsys, "hash", str(path))
    assert code == 1 and out == "" and "not an image" in err


def test_similar_ranks_closest_first(
    capsys: pytest.CaptureFixture[str], library: Library, tmp_path: Path
) -> None:
    query = photo(50, (300, 200))
    query_path = tmp_path / "query.png"
    query.save(query_path)
    library.save("same.png", query)
    library.save("smaller.jpg", query.resize((150, 100)), quality=60)
    for k in range(3):
        library.save(f"other{k}.png", photo(51 + k, (300, 200)))
    code, out, _ = run(capsys, "similar", str(query_path), str(library.root), "--no-cache")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 5
    rates = []
    for line in lines:
        match = re.fullmatch(r"([0-9.e-]+) > (.+)", line)
        assert match, line
        rates.append(float(match.group(1)))
    assert rates == sorted(rates)
    assert lines[0] == f"0.0 > {library.root / 'same.png'}"
    assert lines[1].endswith("smaller.jpg")
    code, out, _ = run(
        capsys, "similar", str(query_path), str(library.root), "--no-cache", "--limit", "1"
    )
    assert out.splitlines() == [f"0.0 > {library.root / 'same.png'}"]
    code, out, _ = run(
        capsys, "similar", str(query_path), str(library.root), "--no-cache", "--threshold", "0.1"
    )
    assert {line.rsplit("/", 1)[1] for line in out.splitlines()} == {"same.png", "smaller.jpg"}


def test_every_command_has_help_and_is_documented() -> None:
    parser = build_parser()
    readme = README.read_text()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices)  # type: ignore[union-attr]
    assert len(names) == len(COMMANDS)
    for name in names:
        assert sub.choices[name].description, name  # type: ignore[index]
        assert f"dedupe {name}" in readme, f"README does not document `dedupe {name}`"


def test_python_dash_m_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dedupe", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "dedupe 0.1.0"
    # The program exits with main()'s code.
    done = subprocess.run(
        [sys.executable, "-m", "dedupe", "scan", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ExitCode.USAGE and "no such folder" in done.stderr


@pytest.mark.parametrize(
    ("arguments", "early"),
    [
        (["DIR"], (os.cpu_count() or 1) > 1),  # a first scan: no cache file yet
        (["DIR", "--jobs", "3"], True),
        (["DIR", "-j1"], False),  # no worker processes at all
        (["--jobs=4", "DIR", "--no-cache"], True),
        (["DIR", "-j", "2", "--cache", "CACHE"], False),  # a rescan may decode nothing
        (["DIR", "-j", "2", "--cache", "NEW"], True),
        (["DIR", "--no-cache", "--help"], False),
        (["DIR", "--jobs", "x"], False),  # not a number: the real parser says so
        (["DIR", "--jobs"], False),
    ],
)
def test_the_workers_start_early_only_when_a_scan_must_decode(
    tmp_path: Path, arguments: list[str], early: bool
) -> None:
    """Read before the parser is built: whether the workers' server starts before the imports."""
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"")
    named = {"CACHE": str(cache), "NEW": str(tmp_path / "new.sqlite")}
    assert _decodes_in_workers([named.get(a, a) for a in arguments]) == early
    if arguments == ["DIR"]:  # once the default cache exists, a plain scan may decode nothing
        locations.cache_file().parent.mkdir(parents=True)
        locations.cache_file().write_bytes(b"")
        assert not _decodes_in_workers(arguments)


IMPORTED = (
    "import sys\n"
    "from dedupe.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "names = ('dedupe.groups', 'dedupe.report', 'dedupe.review.app', 'dedupe.apply')\n"
    "print(code, *sorted(n for n in names if n in sys.modules))\n"
)


def test_a_command_imports_only_what_it_runs_on(tmp_path: Path) -> None:
    """Start-up: `dedupe hash` loads neither grouping, reports, the review app nor apply."""
    path = tmp_path / "p.png"
    photo(1, (64, 48)).save(path)
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED, "hash", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.splitlines()[-1] == "0", done.stderr
    # The package itself draws nothing until a command runs: scan's workers import it.
    done = subprocess.run(
        [sys.executable, "-c", "import sys, dedupe.cli; print('rich' in sys.modules)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "False", done.stderr


def test_pillow_heif_loads_only_when_a_heif_image_is_decoded(tmp_path: Path) -> None:
    """Importing libheif costs about 0.1 s of CPU: a rescan (nothing decoded) goes without it."""
    heic = tmp_path / "photo.heic"
    photo(1, (64, 48)).save(heic, format="HEIF")
    code = (
        "import sys, dedupe.cli, dedupe.decode as d\n"
        "before = 'pillow_heif' in sys.modules\n"
        f"image = d.decode(open({str(heic)!r}, 'rb').read()).image\n"
        "print(before, 'pillow_heif' in sys.modules, image.size)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "False True (64, 48)", done.stderr


LOADED_NUMBA = (
    "import sys\n"
    "from dedupe.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(code, 'numba' in sys.modules)\n"
)


def test_a_small_library_is_grouped_without_loading_numba(tmp_path: Path) -> None:
    """Loading numba and the compiled kernels costs about a second of CPU: a scan and a review
    of a few photos (copies among them, so pairs are checked and joined) go without it."""
    root = tmp_path / "photos"
    root.mkdir()
    for k in range(6):
        photo(k, (160, 120)).save(root / f"p{k}.jpg", quality=90)
        photo(k, (160, 120)).save(root / f"p{k}-copy.jpg", quality=60)
    report = tmp_path / "report.json"
    for arguments in (
        ["scan", str(root), "--no-cache", "--jobs", "2", "--report", str(report)],
        ["review", "--report", str(report), "--threshold", "0.2", "--no-input"],
    ):
        done = subprocess.run(
            [sys.executable, "-c", LOADED_NUMBA, *arguments],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.stdout.splitlines()[-1] == "0 False", (arguments, done.stderr)
    groups = json.loads(report.read_text())["groups"]
    assert len(groups) == 6 and all(len(g["files"]) == 2 for g in groups)


def test_a_mistyped_command_still_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "scna", "x")
    assert code == ExitCode.USAGE
    for name in ("scan", "hash", "review", "apply", "undo"):
        assert name in err


def test_errors_keep_long_paths_on_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A log of a scan must hold each path whole (grep, copy), however narrow the terminal.
    deep = tmp_path / ("long-folder-name-" * 6) / ("another-long-name-" * 5)
    deep.mkdir(parents=True)
    missing = deep / "missing.jpg"
    code = main(["compare", str(missing), str(missing)])
    err = capsys.readouterr().err
    assert code != 0
    assert any(str(missing) in line for line in err.splitlines()), err
