"""The JSON report: shape, atomic writing, reading back, and refusing what does not add up."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
from pathlib import Path

import pytest
from conftest import Library, photo
from report_helpers import plain, schema_2

from dedupe import report as report_mod
from dedupe import verify
from dedupe.cli import main
from dedupe.groups import build_groups
from dedupe.hashing import ImageHash
from dedupe.index import IndexProblem
from dedupe.models import Fingerprint, ImageRecord, KeepRules, ScanStats, Settings
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
    assert data["schema_version"] == 3
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
        "image",
        "device",
        "inode",
    }
    for f in group["files"]:
        assert keys <= set(f)
        assert len(f["hash"]) == 16 and len(f["digest"]) == 64
    assert group["files"][0]["action"] == "keep"
    assert [f["action"] for f in group["files"]].count("keep") == 1
    assert stats["reclaimable_bytes"] == sum(
        f["size"] for f in group["files"] if f["action"] == "trash"
    )
    # every hash is kept, grouped or not: in the index the report names, beside it
    assert "images" not in data and "checked_pairs" not in data
    index = data["index"]
    assert index["images"] == 4 and index["version"] == 2
    assert index["file"] == f"report.{index['id'][:12]}.index"
    assert (tmp_path / index["file"]).is_file()
    assert sorted({f["image"] for f in group["files"]}) == sorted(
        f["image"] for f in group["files"]
    )
    assert len(report_mod.read(tmp_path / "report.json", with_index=True).images) == 4


def test_report_round_trips(library: Library, tmp_path: Path) -> None:
    path = scanned(library, tmp_path)
    report = report_mod.read(path)
    assert report_mod.to_json(report, report.index) | {"created_at": ""} == json.loads(
        path.read_text()
    ) | {"created_at": ""}
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
        (lambda d: d["index"].update(file="../other.0123456789ab.index"), "index: 'file'"),
        (lambda d: d["index"].update(id="0" * 32), "index: 'id'"),
        (lambda d: d["groups"][0]["files"][0].update(image=99), "'image' is 99, outside 0..3"),
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


# ---------------------------------------------------------------- the fast reader and writer


def many(n: int, *, links: bool = False) -> report_mod.Report:
    """A report of `n` images with real check signatures, some hard links and odd names."""
    checks = [verify.signature(photo(k % 5, (64, 48))) for k in range(5)]
    images = []
    for k in range(n):
        fp = Fingerprint(
            width=4000 - k,
            height=3000,
            format="PNG" if k % 3 else "JPEG",
            digest=f"{k // 2:064x}",  # pairs of byte copies
            hash=ImageHash((k * 0x9E3779B97F4A7C15) % 2**64, 8),
            variant_bits=Fingerprint.pack_variants(
                ImageHash((k * 31 + v) % 2**64, 8) for v in range(7)
            ),
            check=checks[k % 5],
            taken_at=None if k % 4 else f"2024-01-{1 + k % 28:02d}T10:00:00",
        )
        name = os.fsdecode(b"/photos/caf\xe9-%d.jpg" % k) if k % 7 == 0 else f"/photos/{k}.jpg"
        hardlinks = (f"/photos/link-{k}.jpg",) if links and k % 5 == 0 else ()
        images.append(ImageRecord(name, 1000 + k, 10**18 + k, 1, k + 1, fp, hardlinks))
    records = tuple(sorted(images, key=lambda r: os.fsencode(r.path)))
    settings, rules = Settings(), KeepRules()
    groups = build_groups(records, settings, rules)
    return report_mod.Report(
        ("/photos",), settings, rules, ScanStats(files=n, images=n), groups, (), (), records,
        not_duplicates=frozenset({("/photos/1.jpg", "/photos/2.jpg")}),
        created_at="2024-06-01T00:00:00+00:00",
    )  # fmt: skip


def test_written_report_reads_back_equal_and_is_one_value_per_line(tmp_path: Path) -> None:
    report = many(40, links=True)
    assert report.groups  # byte copies at least
    path = tmp_path / "r.json"
    report_mod.write(report, path)
    text = path.read_text(encoding="utf-8")
    ref = report_mod.read(path).index
    assert ref is not None and ref.images == 40
    assert json.loads(text) == report_mod.to_json(report, ref)
    # what --json prints: the same but for the index (it names none)
    assert json.loads(report_mod.dumps(report)) == report_mod.to_json(report) | {"index": None}
    lines = text.splitlines()
    assert lines[0] == '{"schema_version": 3,' and lines[3].startswith('"index": {"file": ')
    # a line per header field, per group (no image), per problem and per pair
    assert lines[7] == '"groups": [' and lines[-1] == "]}"
    assert len(lines) == 7 + (1 + len(report.groups) + 1) + 2 + (1 + 1 + 1)
    assert "caf\\udce9-0.jpg" in text  # the undecodable byte as an escape: the file is valid UTF-8
    again = report_mod.read(path, with_index=True)
    assert plain(again) == report
    report_mod.write(again, path)
    assert path.read_text(encoding="utf-8") == text  # deterministic, and the same index kept
    alone = report_mod.read(path)  # without the index: the grouped files only, as written
    assert not alone.complete and alone.index == ref
    report_mod.write(alone, path)
    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == [ref.file, "r.json"]


def test_reports_written_indented_by_earlier_versions_still_read(tmp_path: Path) -> None:
    report = many(12, links=True)
    path = tmp_path / "r.json"
    # How dedupe 0.1 wrote schema 1 (here 2): one indented document, the images inline.
    legacy = json.dumps(schema_2(report), ensure_ascii=False, indent=1)
    path.write_text(legacy.encode("utf-8", errors="backslashreplace").decode("utf-8"))
    old = report_mod.read(path)
    assert old.read_version == 2 and old.complete and plain(old) == report
    # its first write migrates it: an index and a schema-3 JSON, read back the same (its
    # groups; the index, of signatures made by a check of unknown version, is not read back)
    report_mod.write(old, path)
    assert json.loads(path.read_text())["schema_version"] == 3

    def files(r: report_mod.Report) -> list[list[tuple[str, str, str]]]:
        return [[(m.record.path, m.action, m.reason) for m in g.members] for g in r.groups]

    assert files(report_mod.read(path)) == files(report)
    with pytest.raises(IndexProblem, match="another version of dedupe's check"):
        report_mod.read(path, with_index=True)


def test_the_careful_reader_takes_over_for_unusual_but_valid_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = many(9)
    data = schema_2(report)
    del data["images"][4]["device"], data["images"][4]["inode"]  # optional: 0
    data["images"][5].pop("taken_at")
    data["images"][6]["hardlinks"] = ["/photos/x.jpg"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    monkeypatch.setattr(report_mod, "_READ_BATCH", 4)  # several batches, one of them unusual
    images = report_mod.read(path).images
    assert images[:4] == report.images[:4] and images[7:] == report.images[7:]
    assert images[4] == dataclasses.replace(report.images[4], dev=0, ino=0)
    assert images[5].fingerprint.taken_at is None
    assert images[6].links == ("/photos/x.jpg",)
    assert report_mod.from_json(json.loads(path.read_text())).images == images


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hash", "zz" * 8, "images\\[5\\]: expected a hash in hex digits"),
        ("variants", "0" * 16, "images\\[5\\]: 'variants' has the wrong type"),
        ("hash", "0" * 64, "images\\[5\\]: hash size does not match"),
        ("variants", ["0" * 15] * 7, "images\\[5\\].variants\\[0\\]: a hash has 16 or 64 hex"),
        ("variants", ["0" * 16], "images\\[5\\]: 'variants' holds 1 hashes, not 7"),
        ("width", True, "images\\[5\\]: 'width' has the wrong type"),
        ("size", "1", "images\\[5\\]: 'size' has the wrong type"),
        ("check", "not base64!", "images\\[5\\]: "),
        ("path", None, "images\\[5\\]: 'path' has the wrong type"),
        ("mtime_ns", ..., "images\\[5\\]: missing 'mtime_ns'"),
        ("device", "1", "images\\[5\\]: 'device' has the wrong type"),  # int("1") before
    ],
)
def test_a_bad_image_is_named_by_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: object, message: str
) -> None:
    data = schema_2(many(9))
    if value is ...:
        del data["images"][5][field]
    else:
        data["images"][5][field] = value
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    monkeypatch.setattr(report_mod, "_READ_BATCH", 4)
    with pytest.raises(ReportError, match=message):
        report_mod.read(path)


def test_a_failed_write_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.json"
    report = many(6)
    report_mod.write(report, path)
    before = path.read_bytes()
    names = sorted(p.name for p in tmp_path.iterdir())

    def broken(*args: object) -> str:
        raise OSError("disk gone")

    # the JSON fails after the new index was written: that index is removed again
    monkeypatch.setattr(report_mod, "_group_json", broken)
    with pytest.raises(OSError, match="disk gone"):
        report_mod.write(report, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    monkeypatch.undo()
    assert plain(report_mod.read(path, with_index=True)) == report


def test_reading_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    report_mod.write(many(3), path)
    assert gc.isenabled()
    report_mod.read(path)
    assert gc.isenabled()
    gc.disable()
    try:
        report_mod.read(path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_records_are_built_column_wise_only_when_init_does_nothing_more() -> None:
    fp = many(1).images[0].fingerprint
    built = report_mod._many(ImageHash, 2, [[5, 6], [8, 8]])
    assert built == [ImageHash(5, 8), ImageHash(6, 8)]
    columns = [[getattr(fp, f.name)] for f in dataclasses.fields(fp)]
    assert report_mod._many(Fingerprint, 1, columns) == [fp]
    with pytest.raises(TypeError):  # Settings validates in __post_init__: never skipped
        report_mod._many(Settings, 1, [["nohash"], [8], [0.1], [False]])
    with pytest.raises(TypeError):  # every field must be given
        report_mod._many(ImageHash, 1, [[5]])
