"""The command line as scripts use it: real processes and pipes, exact output and exit codes.

One library is made and scanned once for the module: photos with a resized copy, byte-identical
copies, copies with a tab, comma, quote or newline in their names, and one under a path far
longer than a line. Every test then runs dedupe on it as a user would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import Dedupe, fix_times
from conftest import Cli, photo
from rich.console import Console

from dedupe import report as report_mod
from dedupe.review import plain

LONG = "an-uncommonly-long-folder-name-for-holiday-photos/" * 2 + "Landscape_6.jpg"
ODD_TAB = 'odd/tab\there, "quoted".png'
ODD_NEWLINE = "odd/new\nline.png"


@pytest.fixture(scope="module")
def dedupe(tmp_path_factory: pytest.TempPathFactory) -> Dedupe:
    home = tmp_path_factory.mktemp("home")
    return Dedupe(home)


@pytest.fixture(scope="module")
def library(dedupe: Dedupe) -> Path:
    """The photos (see the module docstring), all modified at clirun.T."""
    root = dedupe.home / "photos"
    a = photo(1, (320, 240))
    (root / "sub").mkdir(parents=True)
    a.save(root / "a.jpg", quality=95)
    a.resize((160, 120)).save(root / "sub" / "a-small.jpg", quality=85)
    b = photo(2, (200, 150))
    (root / "copies").mkdir()
    b.save(root / "b.png")
    (root / "copies" / "b.png").write_bytes((root / "b.png").read_bytes())
    c = photo(3, (200, 150))
    c.save(root / "c.png")
    (root / "odd").mkdir()
    for name in (ODD_TAB, ODD_NEWLINE):
        (root / name).write_bytes((root / "c.png").read_bytes())
    d = photo(4, (320, 240))
    d.save(root / "d.jpg", quality=95)
    (root / LONG).parent.mkdir(parents=True)
    d.resize((240, 180)).save(root / LONG, quality=80)
    photo(5, (200, 150)).save(root / "e.png")
    fix_times(root)
    return root


@pytest.fixture(scope="module")
def report(dedupe: Dedupe, library: Path) -> Path:
    path = dedupe.home / "report.json"
    done = dedupe("scan", str(library), "--report", str(path), "-j", "1", "-q")
    assert done.code == 0, done.err
    return path


def groups_of(path: Path) -> list[dict[str, object]]:
    groups: list[dict[str, object]] = json.loads(path.read_text())["groups"]
    return groups


def trash_paths(path: Path) -> list[str]:
    return [
        f["path"]
        for g in groups_of(path)
        for f in g["files"]  # type: ignore[attr-defined]
        if f["action"] == "trash"
    ]


def test_the_library_makes_the_groups_the_tests_expect(report: Path, library: Path) -> None:
    found = sorted(
        (g["kind"], sorted(os.path.relpath(f["path"], library) for f in g["files"]))  # type: ignore[attr-defined]
        for g in groups_of(report)
    )
    assert found == [
        ("exact", ["b.png", "copies/b.png"]),
        ("exact", ["c.png", ODD_NEWLINE, ODD_TAB]),
        ("similar", ["a.jpg", "sub/a-small.jpg"]),
        ("similar", [LONG, "d.jpg"]),
    ]


# ---------------------------------------------------------------- the group listing


def test_scan_prints_the_groups_on_stdout_and_the_summary_on_stderr(
    dedupe: Dedupe, library: Path, tmp_path: Path
) -> None:
    """`scan > out.txt` captures the groups: every table, unfolded though COLUMNS is 60."""
    out = tmp_path / "out.txt"
    done = dedupe.shell(f"dedupe scan '{library}' --report '{tmp_path / 'r.json'}' > '{out}'")
    assert done.code == 0, done.err
    text = out.read_text()
    expected = io.StringIO()
    plain.render(
        report_mod.read(tmp_path / "r.json"),
        Console(file=expected, width=60, color_system=None),
        fold=False,
        totals=False,
    )
    assert text == expected.getvalue()
    assert text.startswith(f"Paths are relative to {library}\n\nGroup 1 · ")
    long_line = next(line for line in text.splitlines() if "Landscape_6" in line)
    assert long_line.endswith(f"  {LONG}") and len(long_line) > 100  # whole, on its line
    assert "\x1b[" not in text  # no colour in a file
    # People's messages: the summary line, whole (the 60 columns fold nothing).
    assert re.fullmatch(
        r"4 groups, 5 duplicate files, [0-9.]+ KB reclaimable · 10 images \(0 hashed, 10 from "
        rf"cache\), 0 unreadable, 0 skipped · report: {re.escape(str(tmp_path / 'r.json'))}",
        done.err.splitlines()[-1],
    )


def test_review_no_input_in_a_pipe_is_grep_friendly(
    dedupe: Dedupe, report: Path, listing: bytes
) -> None:
    """The issue's own example: `dedupe review --no-input | grep Landscape_` finds the file."""
    done = dedupe.shell(f"dedupe review --report '{report}' --no-input | grep Landscape_")
    assert done.code == 0, done.err
    (line,) = done.text.splitlines()
    assert re.fullmatch(rf"trash +240x180 JPEG +2020-09-13 12:26 +\d+  {re.escape(LONG)}", line)
    assert line.encode() + b"\n" in listing


def test_plain_table_unfolded_is_exact() -> None:
    """fold=False: the layout of test_review_plain, with the path column as wide as it needs."""
    from test_review_plain import odd

    console = Console(file=io.StringIO(), width=60, color_system=None)
    plain.render(odd(), console, fold=False)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    long = "very-long-folder-name/" * 6 + "name with spaces " * 3 + "[red]end.jpg"
    assert lines[9] == f"trash   640x480 JPEG    2020-09-13 12:26     1  {long}"
    assert lines[10] == (
        "        48.8 KB         modified                "
        "keeps the 4000x3000 original; this is a 640x480 copy"
    )
    assert lines[4] == "─" * (48 + len(long))
    assert lines[-1] == "1 group (0 reviewed) · 3 files · 2 to trash · 136.7 KB reclaimable"


@pytest.fixture(scope="module")
def as_csv(dedupe: Dedupe, report: Path) -> bytes:
    """`dedupe review --format csv` of the module's report."""
    done = dedupe("review", "--report", str(report), "--format", "csv")
    assert done.code == 0 and done.err == "", done.err
    return done.out


def test_csv_has_one_row_per_file_and_survives_any_name(as_csv: bytes, report: Path) -> None:
    text = as_csv.decode("utf-8", "surrogateescape")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["group", "kind", "action", "path", "size", "reason"]
    expected = [
        [str(g["id"]), g["kind"], f["action"], f["path"], str(f["size"]), f["reason"]]
        for g in groups_of(report)
        for f in g["files"]  # type: ignore[attr-defined]
    ]
    assert rows[1:] == expected
    # RFC 4180 quoting, lines ending in \n: the tab-comma-quote name and the newline name.
    library = Path(report).parent / "photos"
    size = (library / "c.png").stat().st_size
    assert f'exact,trash,"{library}/{ODD_TAB.replace(chr(34), 2 * chr(34))}",{size},' in text
    assert f'"{library}/odd/new\nline.png"' in text
    assert "\r" not in text


def test_scan_csv_is_the_same_as_review_csv(
    dedupe: Dedupe, library: Path, report: Path, as_csv: bytes
) -> None:
    scanned = dedupe("scan", str(library), "--report", str(report.with_name("again.json")),
                     "--format", "csv", "-q")  # fmt: skip
    assert scanned.code == 0 and scanned.err == ""
    assert scanned.out == as_csv


def test_print0_feeds_xargs_0(dedupe: Dedupe, cli: Cli, report: Path) -> None:
    """The files marked trash, NUL-separated: xargs -0 gets each name whole (tab, newline)."""
    show = f'"{sys.executable}" -c "import json, sys; print(json.dumps(sys.argv[1:]))"'
    done = dedupe.shell(f"dedupe review --report '{report}' --print0 | xargs -0 {show}")
    assert done.code == 0, done.err
    assert json.loads(done.out) == trash_paths(report)
    _, out, _ = cli("review", "--report", str(report), "--print0")
    assert out == "".join(p + "\0" for p in trash_paths(report))


def test_json_is_the_report(dedupe: Dedupe, cli: Cli, library: Path, tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    done = dedupe("scan", str(library), "--report", str(path), "--format", "json", "-q")
    assert done.code == 0 and json.loads(done.out) == json.loads(path.read_text())
    code, out, _ = cli("scan", str(library), "--report", str(path), "--json", "-q")
    assert code == 0 and json.loads(out) == json.loads(path.read_text())  # the older spelling
    code, out, _ = cli("review", "--report", str(path), "--format", "json")
    assert json.loads(out)["groups"] == json.loads(path.read_text())["groups"]


def test_format_options_exclude_each_other(cli: Cli, report: Path) -> None:
    code, out, err = cli("review", "--report", str(report), "--format", "csv", "--print0")
    assert code == 2 and "not allowed with argument" in err and out == ""


# ---------------------------------------------------------------- apply's dry-run listing


def test_apply_dry_run_text_is_unchanged(dedupe: Dedupe, report: Path) -> None:
    done = dedupe("apply", "--report", str(report))
    assert done.code == 0
    sizes = {
        f["path"]: f["size"]
        for g in groups_of(report)
        for f in g["files"]  # type: ignore[attr-defined]
    }
    expected = "".join(f"remove\t{p}\t{sizes[p]}\n" for p in trash_paths(report))
    assert done.text == expected
    assert done.err.startswith("Dry run: would remove 5 files, freeing ")


def test_apply_dry_run_as_csv_json_lines_and_nul(dedupe: Dedupe, report: Path) -> None:
    sizes = {
        f["path"]: f["size"]
        for g in groups_of(report)
        for f in g["files"]  # type: ignore[attr-defined]
    }
    trash = trash_paths(report)
    args = ("apply", "--report", str(report), "--trash", "--dry-run")
    as_csv = dedupe(*args, "--format", "csv")
    assert as_csv.code == 0
    rows = list(csv.reader(io.StringIO(as_csv.text, newline="")))
    assert rows == [["action", "path", "size", "destination", "reason"]] + [
        ["trash", p, str(sizes[p]), "", ""] for p in trash
    ]
    as_json = dedupe(*args, "--format", "json")
    lines = as_json.text.splitlines()  # a newline inside a name is escaped: one object a line
    assert [json.loads(line) for line in lines] == [
        {"action": "trash", "path": p, "size": sizes[p], "destination": None, "reason": None}
        for p in trash
    ]
    nul = dedupe(*args, "--print0")
    assert nul.out == b"".join(os.fsencode(p) + b"\0" for p in trash)
    # --move: the destination of each file.
    moved = dedupe("apply", "--report", str(report), "--move", "/dupes", "--dry-run",
                   "--format", "json")  # fmt: skip
    library = report.parent / "photos"
    assert [json.loads(line)["destination"] for line in moved.text.splitlines()] == [
        os.path.join("/dupes", os.path.relpath(p, library)) for p in trash
    ]


def test_apply_refuses_a_listing_format_when_it_would_act(cli: Cli, report: Path) -> None:
    assert cli("apply", "--report", str(report), "--trash", "--yes", "--print0") == (
        2,
        "",
        "error: --print0 lists what a dry run would do: add --dry-run\n",
    )
    assert all(os.path.exists(p) for p in trash_paths(report))  # nothing acted on


# ---------------------------------------------------------------- exit codes


def test_exit_code_10_when_duplicates_are_found(
    dedupe: Dedupe, library: Path, report: Path, tmp_path: Path
) -> None:
    done = dedupe("scan", str(library), "--report", str(tmp_path / "r.json"), "-q", "--print0",
                  "--exit-code")  # fmt: skip
    assert done.code == 10 and done.err == ""
    review = dedupe("review", "--report", str(report), "--exit-code", "--format", "csv")
    assert review.code == 10


def test_exit_code_is_opt_in_and_errors_come_first(
    cli: Cli, library: Path, report: Path, tmp_path: Path
) -> None:
    scan = ("scan", "--report", str(tmp_path / "r.json"), "-q", "--print0")
    assert cli(*scan, str(library))[0] == 0  # without --exit-code
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    photo(9, (64, 48)).save(lonely / "one.png")
    assert cli(*scan, str(lonely), "--exit-code")[0] == 0  # nothing proposed for trash
    assert cli(*scan, str(tmp_path / "missing"), "--exit-code")[0] == 2
    # Every copy protected: groups, but nothing to trash.
    everything = ("--keep", "path", "--protect", str(library))
    assert cli("review", "--report", str(report), "--exit-code", "--print0", *everything) == (
        0,
        "",
        cli("review", "--report", str(report), "--print0", *everything)[2],
    )


def test_stdout_closed_early_stops_quietly_with_141(dedupe: Dedupe, tmp_path: Path) -> None:
    """`| head`: no traceback, and the status of a program that SIGPIPE ends."""
    from test_review_plain import rec

    from dedupe import policy
    from dedupe.models import Group, KeepRules, ScanStats, Settings

    groups, images = [], []
    for k in range(1, 1501):
        pair = [rec(f"/photos/{k}.jpg", 800, 600, 1000, "JPEG", 0),
                rec(f"/photos/{k}-copy.jpg", 400, 300, 500, "JPEG", 1)]  # fmt: skip
        members = policy.decide(pair, KeepRules(), lambda a, b: a.hash - b.hash)
        groups.append(Group(k, "similar", 1, members))
        images.extend(pair)
    big = report_mod.Report(("/photos",), Settings(), KeepRules(), ScanStats(), tuple(groups),
                            (), (), tuple(images))  # fmt: skip
    path = tmp_path / "big.json"
    report_mod.write(big, path)
    done = dedupe.shell(f"dedupe review --report '{path}' --no-input | head -n 1")
    assert done.text == "Paths are relative to /photos\n"
    assert done.code == 141 and done.err == ""
    # CSV is written at once: a reader gone after its first line goes unnoticed, or ends the
    # run the same way, never with a traceback.
    done = dedupe.shell(f"dedupe review --report '{path}' --format csv | head -n 1")
    assert done.text == "group,kind,action,path,size,reason\n"
    assert done.code in (0, 141) and done.err == ""


# ---------------------------------------------------------------- -q, -v, --color, -V


def test_quiet_leaves_the_data_and_silences_the_rest(
    dedupe: Dedupe, cli: Cli, library: Path, tmp_path: Path
) -> None:
    done = dedupe("scan", str(library), "--report", str(tmp_path / "r.json"), "-q")
    assert done.code == 0 and done.err == "" and b"Group 1" in done.out
    # Before the command too; errors are still said.
    assert cli("-q", "scan", str(tmp_path / "missing")) == (
        2,
        "",
        f"error: no such folder: {tmp_path / 'missing'}\n",
    )


def test_verbose_shows_each_phase_in_a_pipe(dedupe: Dedupe, library: Path, tmp_path: Path) -> None:
    done = dedupe("scan", str(library), "--report", str(tmp_path / "r.json"), "--no-cache", "-v")
    phases = [line.split("] ", 1)[1] for line in done.err.splitlines() if line.startswith("[")]
    assert phases == [
        "Finding files",
        "Hashing images (10)",
        "Grouping 10 images",
        "Reading capture metadata and sidecars (9)",  # of the 9 files in groups
        "Writing the report",
        "done",
    ]
    assert all(re.match(r"\[ +\d+\.\d s\] ", line) for line in done.err.splitlines()[:6])


@pytest.fixture(scope="module")
def listing(dedupe: Dedupe, report: Path) -> bytes:
    """`dedupe review --no-input` of the module's report, in a pipe."""
    done = dedupe("review", "--report", str(report), "--no-input")
    assert done.code == 0 and b"\x1b[" not in done.out
    return done.out


def test_color_always_and_force_color_colour_a_pipe_without_folding_it(
    dedupe: Dedupe, report: Path, listing: bytes
) -> None:
    args = ("review", "--report", str(report), "--no-input")
    coloured = dedupe(*args, "--color", "always")
    assert b"\x1b[1;32mKEEP\x1b[0m" in coloured.out
    assert re.sub(rb"\x1b\[[0-9;]*m", b"", coloured.out) == listing  # the same text
    assert dedupe(*args, FORCE_COLOR="1").out == coloured.out


@pytest.mark.parametrize(
    ("option", "env", "colours", "bold"),
    [
        ("auto", {}, False, False),
        ("never", {"FORCE_COLOR": "1"}, False, False),
        ("auto", {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, True),  # bold stays
        ("always", {"NO_COLOR": "1"}, True, True),  # the option wins over the environment
        ("auto", {"FORCE_COLOR": ""}, False, False),  # empty means unset (force-color.org)
    ],
)
def test_colour_choices(
    cli: Cli,
    report: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    env: dict[str, str],
    colours: bool,
    bold: bool,
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, _ = cli("review", "--report", str(report), "--no-input", "--color", option)
    assert code == 0
    assert ("\x1b[1;32mKEEP" in out) is colours
    assert ("\x1b[1mKEEP" in out) is (bold and not colours)
    if not colours and not bold:
        assert "\x1b[" not in out


def test_an_unknown_colour_choice_is_a_usage_error(cli: Cli) -> None:
    code, _, err = cli("scan", ".", "--color", "sometimes")
    assert code == 2 and "invalid choice: 'sometimes'" in err


def test_dash_capital_v_prints_the_version(dedupe: Dedupe) -> None:
    assert dedupe("-V").text == "dedupe 0.1.0\n"
    assert (
        subprocess.run(
            [sys.executable, "-m", "dedupe", "--version"], capture_output=True, check=False
        ).stdout
        == b"dedupe 0.1.0\n"
    )


# ---------------------------------------------------------------- clear refusals


def test_hash_and_compare_say_no_such_file_and_is_a_folder(
    dedupe: Dedupe, cli: Cli, library: Path
) -> None:
    image = str(library / "a.jpg")
    missing, folder = str(library / "missing.jpg"), str(library / "sub")
    done = dedupe("hash", missing)
    assert (done.code, done.out, done.err) == (2, b"", f"error: {missing}: no such file\n")
    done = dedupe("compare", image, folder)
    assert (done.code, done.out) == (2, b"")
    assert done.err == f"error: {folder}: is a folder, not an image file\n"
    assert cli("hash", folder) == (2, "", f"error: {folder}: is a folder, not an image file\n")
    assert cli("compare", missing, image) == (2, "", f"error: {missing}: no such file\n")
    link = library.parent / "broken-link.jpg"
    link.symlink_to(library / "gone.jpg")
    try:
        assert (
            cli("hash", str(link))[2] == f"error: {link}: no such file (a broken symbolic link)\n"
        )
    finally:
        link.unlink()


def test_an_unwritable_report_is_refused_before_the_scan(
    dedupe: Dedupe, cli: Cli, library: Path, tmp_path: Path
) -> None:
    nowhere = tmp_path / "nowhere" / "r.json"
    done = dedupe("scan", str(library), "--report", str(nowhere), "-v")
    assert (done.code, done.out) == (2, b"")
    # Refused at once: not one phase of the scan was started (-v would say).
    assert done.err == f"error: --report {nowhere}: no such folder {nowhere.parent}\n"
    assert cli("scan", str(library), "--report", str(tmp_path)) == (
        2,
        "",
        f"error: --report {tmp_path}: is a folder\n",
    )
    readonly = tmp_path / "ro"
    readonly.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(readonly)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only file system here")
    try:
        done = dedupe("scan", str(library), "--report", str(readonly / "r.json"), "-v")
        assert done.code == 2
        assert done.err == (
            f"error: --report {readonly / 'r.json'}: cannot write there (Read-only file system)\n"
        )
        code, _, err = cli("report", "--report", "none.json", "--html", str(readonly / "r.html"))
        assert code == 2 and "cannot write there (Read-only file system)" in err
    finally:
        subprocess.run(["umount", str(readonly)], check=True)


def test_reasons_tell_near_equal_files_apart(dedupe: Dedupe, tmp_path: Path) -> None:
    """Sizes that read the same once rounded, times within one minute: the reasons show the
    bytes and the seconds that decided, never "larger (344 KB); this copy is 344 KB"."""
    from PIL.PngImagePlugin import PngInfo

    root = tmp_path / "near"
    root.mkdir()
    image = photo(7, (160, 120))
    image.save(root / "plain.png")
    small = (root / "plain.png").stat().st_size
    for length in range(1, 200):  # a text chunk that keeps both sizes at one rounded value
        info = PngInfo()
        info.add_text("note", "x" * length)
        image.save(root / "noted.png", pnginfo=info)
        big = (root / "noted.png").stat().st_size
        if f"{big / 1024:.1f}" == f"{small / 1024:.1f}":
            break
    else:
        pytest.fail("no chunk length keeps the two sizes at one rounded value")
    done = dedupe("scan", str(root), "--report", str(tmp_path / "near.json"), "--format", "csv",
                  "--keep", "size")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(done.text, newline="")))
    assert [r["reason"] for r in rows] == [
        f"largest file ({big:,} bytes)",
        f"keeps the larger file ({big:,} bytes); this copy is {small:,} bytes",
    ]
    # Byte-identical copies modified 30 seconds apart, in one minute, decided by date.
    (root / "noted.png").unlink()
    (root / "later.png").write_bytes((root / "plain.png").read_bytes())
    t = 1_777_669_807_250_000_000  # 2026-05-01 21:10:07.25 UTC
    os.utime(root / "plain.png", ns=(t, t))
    os.utime(root / "later.png", ns=(t + 30 * 10**9, t + 30 * 10**9))
    done = dedupe("scan", str(root), "--report", str(tmp_path / "near.json"), "--format", "csv",
                  "--keep", "date")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(done.text, newline="")))
    assert [(Path(r["path"]).name, r["reason"]) for r in rows] == [
        ("plain.png", "byte-identical copies; oldest file (modified 2026-05-01 21:10:07)"),
        (
            "later.png",
            "byte-identical copy; keeps the older file (modified 2026-05-01 21:10:07); this "
            "one is newer (2026-05-01 21:10:37)",
        ),
    ]


# ---------------------------------------------------------------- progress in a terminal

FORCED = (
    "import sys, dedupe.cluster as c\n"
    "c.COMPILED_FROM = 0  # group on the compiled kernels however small the library\n"
    "from dedupe.cli import entry\n"
    "entry()\n"
)


def in_a_terminal(dedupe: Dedupe, *args: str) -> tuple[int, str]:
    """Run dedupe with stdin, stdout and stderr on a pseudo-terminal of 100x30: its exit code
    and everything it drew (escape sequences and all)."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = dedupe.env | {"TERM": "xterm-256color"}
    env.pop("COLUMNS")
    process = subprocess.Popen(
        [sys.executable, "-c", FORCED, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=dedupe.home,
    )
    os.close(slave)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    return process.wait(timeout=120), drawn.decode("utf-8", "replace")


def test_a_terminal_sees_every_phase_of_a_first_scan(
    dedupe: Dedupe, library: Path, tmp_path: Path
) -> None:
    """The phases that were a blank screen (the grouping code loading, the grouping) show a
    live line on stderr; it is gone when the listing and the summary are printed."""
    report = tmp_path / "r.json"
    code, drawn = in_a_terminal(dedupe, "scan", str(library), "--report", str(report),
                                "--no-cache", "-j", "1")  # fmt: skip
    assert code == 0, drawn
    for phase in ("Finding files", "Hashing images", "Loading the grouping code"):
        assert phase in drawn, phase
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", drawn)
    assert "Group 1 · " in text and "4 groups, 5 duplicate files" in text
    after = text[text.index("Paths are relative to") :]
    assert "Loading the grouping code" not in after  # the live line is cleared first
    quiet_code, quiet = in_a_terminal(dedupe, "scan", str(library), "--report", str(report),
                                      "-q")  # fmt: skip
    assert quiet_code == 0 and "Finding files" not in quiet and "Group 1 · " in quiet
