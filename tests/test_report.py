"""The JSON report: shape, atomic writing, reading back, and refusing what does not add up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import Library, photo

from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.report import ReportError


def scanned(library: Library, tmp_path: Path) -> Path:
    image = photo(3, (320, 240))
    library.save("a/original.png", image)
    library.save("b/small.jpg", image.resize((160, 120)), quality=90)
    library.save("b/same.png", image)  # not byte-identical to a/original.png? (same encoder)
    library.save("other.jpg", photo(4, (320, 240)))
    out = tmp_path / "report.json"
    assert main(["scan", str(library.root), "--report", str(out), "--no-cache"]) == 0
    return out


def test_report_has_the_documented_keys(library: Library, tmp_path: Path) -> None:
    data = json.loads(scanned(library, tmp_path).read_text())
    assert data["schema_version"] == 1
    assert data["tool"] == {"name": "dedupe", "version": "0.1.0"}
    assert data["roots"] == [str(library.root)]
    settings = data["settings"]
    assert {"algorithm", "hash_size", "threshold", "max_distance"} <= set(settings)
    assert settings["max_distance"] == int(settings["threshold"] * settings["hash_size"] ** 2)
    stats = data["stats"]
    for key in (
        "files",
        "images",
        "hashed",
        "from_cache",
        "errors",
        "groups",
        "duplicates",
        "reclaimable_bytes",
    ):
        assert isinstance(stats[key], int)
    assert stats["images"] == 4 and stats["groups"] == 1 and stats["duplicates"] == 2
    (group,) = data["groups"]
    assert group["id"] == 1 and group["kind"] in ("exact", "similar")
    keys = {
        "path",
        "size",
        "mtime_ns",
        "width",
        "height",
        "format",
        "hash",
        "distance",
        "action",
        "reason",
        "digest",
    }
    for f in group["files"]:
        assert keys <= set(f)
        assert len(f["hash"]) == 16 and len(f["digest"]) == 64
    assert group["files"][0]["action"] == "keep"
    assert [f["action"] for f in group["files"]].count("keep") == 1
    assert stats["reclaimable_bytes"] == sum(
        f["size"] for f in group["files"] if f["action"] == "trash"
    )
    assert len(data["images"]) == 4  # every hash is kept, grouped or not


def test_report_round_trips(library: Library, tmp_path: Path) -> None:
    path = scanned(library, tmp_path)
    report = report_mod.read(path)
    assert report_mod.to_json(report) | {"created_at": ""} == json.loads(path.read_text()) | {
        "created_at": ""
    }
    assert report_mod.problems(report) == []


def test_write_is_atomic_and_leaves_no_temp_files(library: Library, tmp_path: Path) -> None:
    path = scanned(library, tmp_path)
    report = report_mod.read(path)
    report_mod.write(report, path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema_version=99), "unsupported report schema version 99"),
        (lambda d: d.pop("settings"), "missing 'settings'"),
        (lambda d: d["groups"][0]["files"][0].update(action="delete"), "action must be"),
        (lambda d: d["groups"][0]["files"][0].update(path="/nowhere.jpg"), "not among"),
        (lambda d: d["settings"].update(threshold=3), "threshold"),
    ],
)
def test_bad_reports_are_refused_with_a_clear_message(
    library: Library, tmp_path: Path, mutate: object, message: str
) -> None:
    path = scanned(library, tmp_path)
    data = json.loads(path.read_text())
    mutate(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=message):
        report_mod.read(path)


def test_inconsistent_plans_are_listed(library: Library, tmp_path: Path) -> None:
    path = scanned(library, tmp_path)
    data = json.loads(path.read_text())
    for f in data["groups"][0]["files"]:
        f["action"] = "trash"
    path.write_text(json.dumps(data))
    assert any("every file" in p for p in report_mod.problems(report_mod.read(path)))


def test_not_json_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no report"):
        report_mod.read(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="not valid JSON"):
        report_mod.read(bad)


def test_non_utf8_names_round_trip_through_json(library: Library, tmp_path: Path) -> None:
    name = b"caf\xe9 \xff.jpg"  # Latin-1 bytes: not valid UTF-8
    raw_dir = os.fsencode(str(library.root))
    image = photo(7, (200, 150))
    image.save(os.fsdecode(raw_dir + b"/" + name), format="JPEG")
    image.save(library.root / "copy.jpg", format="JPEG")
    out = tmp_path / "r.json"
    assert main(["scan", str(library.root), "--report", str(out), "--no-cache"]) == 0
    text = out.read_bytes().decode("utf-8")  # the report itself is valid UTF-8
    data = json.loads(text)
    paths = {os.fsencode(f["path"]) for f in data["groups"][0]["files"]}
    assert raw_dir + b"/" + name in paths
    assert report_mod.read(out).groups[0].members
