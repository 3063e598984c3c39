"""Hand-edited and hostile reports (issue 15, items 3 and 8): every field is checked before
anything acts on a report, every path is absolute and normalised and under a scanned folder,
`/` as a scanned folder needs apply --allow-root, and a malformed report is refused with the
field's place (exit 4 for apply, a plain error for review and report --html), never a traceback.
A property test mutates valid reports at random and checks exactly that, and that the JSON
Schema shipped with the package refuses nothing the reader accepts."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from apply_helpers import journals, library, load, png, put, sha, trash_dir, tree
from conftest import Cli, photo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_helpers import rewrite_as_schema_2, schema_2
from rich.console import Console

from dedupe import apply, cluster, html_report, regroup, scan
from dedupe import report as report_mod
from dedupe.cli import ExitCode
from dedupe.groups import build_groups
from dedupe.index import IndexRef
from dedupe.models import (
    Companion,
    FileFacts,
    Group,
    ImageRecord,
    KeepRules,
    Metadata,
    ScanStats,
    Settings,
)
from dedupe.report import ReportError, path_problem
from dedupe.review import plain

REFUSED = ExitCode.REFUSED

# ---------------------------------------------------------------- item 3: paths and roots


def _point_at(data: dict[str, Any], old: str, new: str, *, source: Path | None = None) -> None:
    """Rename a file in the report (its group entry, and its image in a schema-2 report); with
    `source`, also give it that file's size, mtime and digest, so that apply's checks pass."""
    for group in data["groups"]:
        for f in group["files"]:
            if f["path"] == old:
                f["path"] = new
                if source is not None:
                    info = source.stat()
                    f.update(size=info.st_size, mtime_ns=info.st_mtime_ns, digest=sha(source))
    for image in data.get("images", ()):
        if image["path"] == old:
            image["path"] = new
            if source is not None:
                info = source.stat()
                image.update(size=info.st_size, mtime_ns=info.st_mtime_ns, digest=sha(source))


def _escape_through_dotdot(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A scanned library whose report names, for a duplicate, ROOT/../outside/unique.png: a
    different picture outside the scanned folder, with its own size, mtime and digest."""
    root, report = library(tmp_path)
    outside = put(tmp_path / "outside" / "unique.png", png(77))
    data = load(report)
    victim = next(f["path"] for f in data["groups"][0]["files"] if f["action"] == "trash")
    _point_at(data, victim, f"{root}/../outside/unique.png", source=outside)
    report.write_text(json.dumps(data))
    return root, report, outside


def test_a_dotdot_path_is_refused_and_the_file_outside_stays(cli: Cli, tmp_path: Path) -> None:
    """Before: ROOT/../outside/unique.png passed the prefix check and was trashed."""
    _root, report, outside = _escape_through_dotdot(tmp_path)
    before = tree(tmp_path)
    code, _out, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == REFUSED, err
    assert "refusing to apply" in err and "is not in normal form" in err
    assert "outside/unique.png" in err
    assert outside.read_bytes() == png(77) and tree(tmp_path) == before
    assert not (trash_dir() / "files").exists() and journals() == []


def test_a_dotdot_path_cannot_move_a_file_out_of_the_destination(cli: Cli, tmp_path: Path) -> None:
    """Before: with --move DEST the target DEST/../outside/unique.png escaped DEST."""
    _root, report, _outside = _escape_through_dotdot(tmp_path)
    dest = tmp_path / "moved"
    before = tree(tmp_path)
    code, _, err = cli("apply", "--report", str(report), "--move", str(dest), "--yes")
    assert code == REFUSED, err
    assert tree(tmp_path) == before and not dest.exists()


def test_move_target_never_leaves_the_destination() -> None:
    """The move target is checked on its own too (for a Report built without read())."""
    assert apply.move_target("/r/a/b.jpg", ["/r"], "/dest") == "/dest/a/b.jpg"
    with pytest.raises(apply.Refused, match="outside /dest"):
        apply.move_target("/r/../etc/b.jpg", ["/r"], "/dest")


@pytest.mark.parametrize("kind", ["dot", "parent", "relative", "trailing-slash", "double-slash"])
def test_roots_that_are_not_absolute_normalised_paths_are_refused(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Before: '.', 'ROOT/..' and the like were accepted (made absolute, and so normalised, by
    the check itself)."""
    root, report = library(tmp_path)
    monkeypatch.chdir(root)
    data = load(report)
    data["roots"] = [
        {
            "dot": ".",
            "parent": f"{root}/d0/..",
            "relative": "photos",
            "trailing-slash": f"{root}/",
            "double-slash": f"{tmp_path}//photos",
        }[kind]
    ]
    report.write_text(json.dumps(data))
    before = tree(tmp_path)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == REFUSED and "roots[0]" in err, err
    assert tree(tmp_path) == before and journals() == []


def test_the_top_of_the_file_system_as_root_needs_allow_root(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    data = load(report)
    data["roots"] = ["/"]
    report.write_text(json.dumps(data))
    before = tree(tmp_path)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == REFUSED and "--allow-root" in err and "top of the file system" in err
    assert tree(tmp_path) == before and journals() == []

    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes", "--allow-root")
    assert code == ExitCode.OK, err
    assert len(list((trash_dir() / "files").iterdir())) == 4  # 2 groups x 2 duplicates


def test_apply_help_documents_allow_root() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "dedupe", "apply", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert "--allow-root" in run.stdout and "top of the file system" in run.stdout


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/photos/a.jpg", None),
        ("/", None),
        ("/photos/../etc/passwd", "normal form"),
        ("/photos/./a.jpg", "normal form"),
        ("/photos//a.jpg", "normal form"),
        ("//photos/a.jpg", "normal form"),
        ("/photos/", "normal form"),
        ("/photos/..", "normal form"),
        ("photos/a.jpg", "absolute"),
        (".", "absolute"),
        ("", "absolute"),
        ("/photos/a\0.jpg", "NUL"),
        ("/photos/\ud800.jpg", "no file name can have"),
        (os.fsdecode(b"/photos/caf\xe9.jpg"), None),  # an undecodable byte: a real name
    ],
)
def test_path_problem(path: str, why: str | None) -> None:
    problem = path_problem(path)
    assert (problem is None) if why is None else (problem is not None and why in problem)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["/", ".", "..", "a", "b.jpg", "\0", "\udce9", "\ud800"])))
def test_the_fast_path_check_agrees_with_path_problem(parts: list[str]) -> None:
    path = "".join(parts)
    assert report_mod._plain_paths([path]) == (path_problem(path) is None and path != "/")


# ---------------------------------------------------------------- item 8: malformed fields


def _first_image(data: dict[str, Any]) -> dict[str, Any]:
    """The first image of a schema-2 report, or the first group file of a schema-3 one (which
    holds the same fields but the orientation hashes and check)."""
    image: dict[str, Any] = data["images"][0] if "images" in data else data["groups"][0]["files"][0]
    return image


def _number_of_another(data: dict[str, Any]) -> None:
    first, second = data["groups"][0]["files"][:2]
    first["image"] = second["image"]


def _keeper_of(data: dict[str, Any], k: int) -> str:
    return str(next(f["path"] for f in data["groups"][k]["files"] if f["action"] == "keep"))


NUL_KEEPER = "\0"


def _nul_in_group_2_keeper(data: dict[str, Any]) -> None:
    keeper = _keeper_of(data, 1)
    _point_at(data, keeper, keeper + NUL_KEEPER)


# (how to break the report, which text the message must contain)
MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "inode 1e999": (lambda d: _first_image(d).update(inode="<1e999>"), "'inode'"),
    "device abc": (lambda d: _first_image(d).update(device="abc"), "'device'"),
    "hardlinks 5": (lambda d: _first_image(d).update(hardlinks=5), "'hardlinks'"),
    "hardlinks [{}]": (lambda d: _first_image(d).update(hardlinks=[{}]), "hardlinks[0]"),
    "roots [123]": (lambda d: d.update(roots=[123]), "roots[0]"),
    "errors [1, 2]": (lambda d: d.update(errors=[1, 2]), "errors[0]"),
    "stats.files many": (lambda d: d["stats"].update(files="many"), "'files'"),
    "tool dedupe": (lambda d: d.update(tool="dedupe"), "'tool'"),
    "not_duplicates [[1]]": (lambda d: d.update(not_duplicates=[[1]]), "not_duplicates[0]"),
    "settings.keep 5": (lambda d: d["settings"].update(keep=5), "'keep'"),
    "keep rule unknown": (lambda d: d["settings"].update(keep=["bigger"]), "settings.keep[0]"),
    # the schema refuses these; the reader took '' and null for the defaults (Hypothesis found it)
    "settings.bursts empty": (lambda d: d["settings"].update(bursts=""), "settings.bursts"),
    "settings.bursts null": (lambda d: d["settings"].update(bursts=None), "'bursts'"),
    "lose_sidecars null": (lambda d: d["settings"].update(lose_sidecars=None), "'lose_sidecars'"),
    "deep nesting": (lambda d: _first_image(d).update(taken_at="<deep>"), "nested too deeply"),
    "NUL in group 2's keeper": (_nul_in_group_2_keeper, "NUL"),
    "schema_version true": (lambda d: d.update(schema_version=True), "schema version True"),
    "size -1": (lambda d: _first_image(d).update(size=-1), "'size' is -1"),
    "size 1.0": (lambda d: _first_image(d).update(size=1.0), "'size' has the wrong type"),
    "width huge": (lambda d: _first_image(d).update(width=2**40), "'width'"),
    "mtime_ns beyond int64": (lambda d: _first_image(d).update(mtime_ns=2**63), "'mtime_ns'"),
    "threshold NaN": (lambda d: d["settings"].update(threshold=float("nan")), "NaN"),
    "distance huge": (lambda d: d["groups"][0]["files"][0].update(distance=10**6), "distance"),
    "reviewed string": (lambda d: d["groups"][0].update(reviewed="yes"), "'reviewed'"),
    "reason number": (lambda d: d["groups"][0]["files"][0].update(reason=5), "'reason'"),
    "duplicate group id": (lambda d: d["groups"][1].update(id=d["groups"][0]["id"]), "group id"),
    "image listed twice": (lambda d: d["images"].append(d["images"][0]), "listed twice"),
    "surrogate in format": (lambda d: _first_image(d).update(format="\ud800"), "'format'"),
    "short check": (lambda d: _first_image(d).update(check="AAAA"), "'check' has 3 bytes"),
    "hash with a sign": (lambda d: _first_image(d).update(hash="-" + "0" * 15), "hex digits"),
    # schema 3: the index block and the group files' image numbers
    "index outside the folder": (
        lambda d: d["index"].update(file="/etc/passwd.0123456789ab.index"),
        "index: 'file' must be the name of a file beside the report",
    ),
    "index id of another file": (lambda d: d["index"].update(id="f" * 32), "index: 'id'"),
    "index digest short": (lambda d: d["index"].update(digest="ab"), "not a SHA-256"),
    "image number beyond": (lambda d: _first_image(d).update(image=10**6), "'image' is 1000000"),
    "image number of another file": (_number_of_another, "is also"),
    "no index block": (lambda d: d.pop("index"), "missing 'index'"),
}
# (cases of the images a schema-2 report holds inline: written as one first)
SCHEMA_2 = {"image listed twice", "short check"}


def _write_malformed(report: Path, case: str) -> str:
    data = rewrite_as_schema_2(report) if case in SCHEMA_2 else load(report)
    mutate, expect = MALFORMED[case]
    mutate(data)
    text = json.dumps(data)
    text = text.replace('"<1e999>"', "1e999").replace('"<deep>"', "[" * 100_000 + "]" * 100_000)
    report.write_text(text)
    return expect


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_report_is_refused_before_anything_is_done(
    cli: Cli, tmp_path: Path, case: str
) -> None:
    """Before: each of these was a traceback (exit 1); the NUL in group 2's keeper came after
    group 1 was trashed."""
    root, report = library(tmp_path)
    expect = _write_malformed(report, case)
    before = tree(root)
    code, out, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == REFUSED, err
    assert "refusing to apply" in err and expect in err.replace("\n", "")
    assert "Traceback" not in err and out == ""
    assert tree(root) == before and not (trash_dir() / "files").exists() and journals() == []


@pytest.mark.parametrize("case", ["inode 1e999", "hardlinks [{}]", "deep nesting", "tool dedupe"])
@pytest.mark.parametrize("command", ["review", "report"])
def test_review_and_html_report_say_what_is_wrong(
    cli: Cli, tmp_path: Path, case: str, command: str
) -> None:
    _, report = library(tmp_path)
    expect = _write_malformed(report, case)
    extra = ["--no-input"] if command == "review" else ["--html", str(tmp_path / "r.html")]
    code, _, err = cli(command, "--report", str(report), *extra)
    assert code == ExitCode.ERROR and "error:" in err and expect in err.replace("\n", "")
    assert not (tmp_path / "r.html").exists()


# ---------------------------------------------------------------- the schema


@cache
def schema_validator(version: int = report_mod.SCHEMA_VERSION) -> Any:
    schema = json.loads(
        report_mod.SCHEMA_FILE.with_name(f"report-{version}.schema.json").read_text()
    )
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_is_shipped_and_every_report_written_passes_it(tmp_path: Path) -> None:
    assert report_mod.SCHEMA_FILE.is_file()
    _, report = library(tmp_path)
    schema_validator().validate(load(report))
    schema_validator().validate(report_mod.to_json(base_report()))  # --format json: no index
    schema_validator().validate(report_mod.to_json(base_report(), FAKE_INDEX))
    schema_validator(2).validate(schema_2(base_report()))


# ---------------------------------------------------------------- fuzzing


@cache
def base_report() -> report_mod.Report:
    """A report as a scan makes it, from real fingerprints: byte copies, a resized copy, a
    different picture, hard links, problems, a "not duplicates" pair and checked pairs."""
    s = Settings(threshold=0.2)
    prints = {}
    for seed in range(4):
        for size in ((96, 72), (80, 60)):
            buffer = io.BytesIO()
            photo(seed, size).save(buffer, "PNG")
            prints[seed, size] = scan.fingerprint_bytes(buffer.getvalue(), s)
    records = []
    for k, ((seed, size), fp) in enumerate(sorted(prints.items())):
        for copy_number in range(2 if seed % 2 else 1):
            path = f"/photos/s{seed}/{size[0]}-{copy_number}.png"
            links = (f"/photos/links/{k}.png",) if k == 3 else ()
            records.append(ImageRecord(path, 1000 + k, 10**18 + k, 5, 100 + k, fp, links))
    records.sort(key=lambda r: os.fsencode(r.path))
    rules = KeepRules()
    found = cluster.cluster(records, s)
    groups = build_groups(records, s, rules, clusters=found)
    assert len(groups) >= 2 and found.checked is not None and len(found.checked.low)
    return report_mod.Report(
        ("/photos",),
        s,
        rules,
        ScanStats(files=20, images=len(records)),
        groups,
        (report_mod.Problem("/photos/bad.jpg", "damaged JPEG image"),),
        (report_mod.Problem("/photos/a.psd", "Photoshop document"),),
        tuple(records),
        not_duplicates=frozenset({(records[0].path, records[-1].path)}),
        created_at="2024-06-01T00:00:00+00:00",
        checked=found.checked,
        facts=_facts(groups),
    )


# An index a report may name (the fuzzing reads the JSON alone: it is never opened).
FAKE_INDEX = IndexRef("mutated.0123456789ab.index", "0123456789ab" + "0" * 20, 12, "0" * 64)


def _facts(groups: Sequence[Group]) -> dict[str, FileFacts]:
    """Companions and capture metadata for the files of the first group (schema 2 fields)."""
    first, second = (m.record.path for m in groups[0].members[:2])
    return {
        first: FileFacts(
            companions=(
                Companion(first + ".xmp", "xmp", 120, 10**18, "ab" * 32),
                Companion(os.path.splitext(first)[0] + ".MOV", "motion", 9000, 10**18, "cd" * 32),
            ),
            metadata=Metadata("2020-01-02T03:04:05", True, "Canon", "EOS 5D", 1, None, "ID-1"),
        ),
        second: FileFacts(metadata=Metadata(software="Adobe Photoshop 25.0")),
    }


GARBAGE = st.one_of(
    st.sampled_from(
        [None, True, False, 0, 1, -1, 7, 2**63, 2**64, -(2**63) - 1, 10**30, 1.0, 0.5, 1e308]
        + [float("inf"), float("-inf"), float("nan"), "", "x", "\0", "\ud800", "\udce9", "1"]
        + ["/photos/../etc/passwd", "/photos//a", "/", ".", "keep", "trash", "similar", "phash"]
        + [[], [1], [[1]], [None, None], {}, {"a": 1}, [{}], "0" * 16, "A" * 344]
    ),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.recursive(
        st.none() | st.integers() | st.text(max_size=3), lambda c: st.lists(c, max_size=3)
    ),
)


def _locations(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, as a path of keys and indices (the value itself is ())."""
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _locations(item, (*here, key))
    elif isinstance(value, list):
        for k, item in enumerate(value[:3]):  # enough of every list
            found += _locations(item, (*here, k))
    return found


def _mutate(data: Any, where: tuple[Any, ...], how: str, garbage: Any) -> Any:
    if not where:
        return garbage if how == "replace" else [data]
    parent = data
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    if how == "replace":
        parent[last] = garbage
    elif how == "delete":
        del parent[last]
    elif how == "wrap":
        parent[last] = [parent[last]]
    elif how == "nest":
        parent[last] = {"value": parent[last]}
    elif how == "repeat" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif how == "add" and isinstance(parent[last], dict):
        parent[last]["extra"] = garbage
    return data


def _use(report: report_mod.Report, path: Path) -> None:
    """What review, report --html and apply do with an accepted report (nothing acts: every
    file of the base report is missing on disk, so every check skips)."""
    report_mod.problems(report)
    plain.render(report, Console(file=io.StringIO(), width=100))
    thumbs = {p: "!missing" for p in html_report.group_paths(report)}
    html_report.render(report, thumbs)
    if report.complete and report.read_version < report_mod.SCHEMA_VERSION:
        with pytest.raises(ReportError, match="older dedupe"):  # its signatures are old
            regroup.regroup(report)
        # the same records as a current index would give them: still no crash
        report = report_mod.replace(report, read_version=report_mod.SCHEMA_VERSION)
    for threshold in (report.settings.threshold, 0.3):
        if report.complete:  # (schema 3 read without its index: it refuses to regroup)
            regroup.regroup(report, threshold=threshold)
    try:
        plan = apply.build_plan(report, str(path), "trash")
    except apply.Refused as error:
        assert str(error)
        return
    result = apply.preview(plan)
    assert not result.done  # nothing of the base report exists on disk


@pytest.mark.parametrize("version", [2, 3])
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_mutated_reports_are_refused_with_a_message_or_safe_to_use(
    tmp_path: Path, data: st.DataObject, version: int
) -> None:
    base = base_report()
    document = schema_2(base) if version == 2 else report_mod.to_json(base, FAKE_INDEX)
    where = data.draw(st.sampled_from(_locations(document)), label="where")
    how = data.draw(st.sampled_from(["replace", "delete", "wrap", "nest", "repeat", "add"]))
    garbage = data.draw(GARBAGE, label="garbage")
    document = _mutate(document, where, how, garbage)
    path = tmp_path / "mutated.json"
    path.write_text(json.dumps(document, allow_nan=True), encoding="utf-8", errors="surrogatepass")
    try:
        report = report_mod.read(path)
    except ReportError as error:
        assert str(error).strip()
        return
    # accepted: the shipped schema must accept it too (the reader is at least as strict)
    schema_validator(version).validate(document)
    _use(report, path)


# ---------------------------------------------------------------- checked pairs


def _regrouped_paths(report: report_mod.Report) -> list[list[str]]:
    # (checked pairs of a schema-2 document, regrouped as if they came from a current index)
    report = report_mod.replace(report, read_version=report_mod.SCHEMA_VERSION)
    again, _ = regroup.regroup(report, threshold=report.settings.threshold)
    return [[m.record.path for m in g.members] for g in again.groups]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_checked_pairs_are_dropped_never_used_to_group(data: st.DataObject) -> None:
    """The checked pairs only save time: numbers changed in them (by hand, by a disk) must
    neither crash a regroup nor change its groups. Before, they were used as they were."""
    base = base_report()
    truth = _regrouped_paths(report_mod.replace(base, checked=None))
    document = schema_2(base)
    checked = document["checked_pairs"]
    field = data.draw(st.sampled_from(["low", "high", "distance", "score", "found", "radius"]))
    if isinstance(checked[field], list):
        k = data.draw(st.integers(0, len(checked[field]) - 1))
        value = data.draw(st.integers(-3, 40) | st.floats(-1, 2))
        if checked[field][k] == value:
            return
        checked[field][k] = value
    else:
        checked[field] = data.draw(st.integers(-3, 64).filter(lambda r: r != checked[field]))
    try:
        report = report_mod.from_json(document)
    except ReportError:
        return
    assert report.checked is None
    assert _regrouped_paths(report) == truth


def test_intact_checked_pairs_are_kept_and_reports_without_a_digest_drop_them() -> None:
    document = schema_2(base_report())
    assert report_mod.from_json(document).checked == base_report().checked
    del document["checked_pairs"]["digest"]  # written by dedupe before this check
    assert report_mod.from_json(document).checked is None
