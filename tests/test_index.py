"""The report's index (schema 3, issue 20): written beside the JSON report, index first; read
only to regroup, after checking that it is the report's own; refused with a clear message
(exit 1) when it is missing, damaged, or another scan's, never used stale. The JSON alone
still serves review, report --html and apply; a save that only changes decisions keeps the
index, one with new checked pairs writes a new one; old indexes are removed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from apply_helpers import library, png, put, scanned
from conftest import Cli
from report_helpers import plain, rewrite_as_schema_2

from dedupe import index as index_mod
from dedupe import regroup
from dedupe import report as report_mod
from dedupe.cli import ExitCode
from dedupe.index import IndexProblem


def indexes(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".index"))


def header(report: Path) -> dict[str, object]:
    value: dict[str, object] = json.loads(report.read_text())["index"]
    return value


def index_of(report: Path) -> Path:
    return report.parent / str(header(report)["file"])


def regroup_cli(cli: Cli, report: Path) -> tuple[int, str, str]:
    return cli("review", "--report", str(report), "--threshold", "0.1", "--no-input")


def test_a_scan_writes_the_index_beside_and_the_json_names_it(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    ref = header(report)
    assert indexes(tmp_path) == [ref["file"]] == [f"photos.{str(ref['id'])[:12]}.index"]
    full = report_mod.read(report, with_index=True)
    alone = report_mod.read(report)
    assert full.complete and not alone.complete
    assert len(full.images) == ref["images"] == 7 and len(alone.images) == 6  # the grouped
    # the group files are the index's images at their numbers
    for group in full.groups:
        for m in group.members:
            assert full.images[full.numbers[m.record.path]] == m.record
    # the meta table holds the same id and count, and the version
    db = sqlite3.connect(index_of(report))
    meta = dict(db.execute("SELECT key, value FROM meta"))
    db.close()
    assert meta["id"] == ref["id"] and meta["images"] == "7" and meta["version"] == "2"


def test_regrouping_works_from_the_index(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    code, _, err = regroup_cli(cli, report)
    assert code == 0, err
    assert "Regrouped at threshold 0.1" in err and "2 groups (was 2): 2 unchanged" in err


def test_a_missing_index_is_refused_for_regrouping_only(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    index_of(report).unlink()
    code, out, err = regroup_cli(cli, report)
    assert code == ExitCode.ERROR and out == ""
    assert "index" in err and "is missing" in err and "run `dedupe scan` again" in err
    # the JSON alone: review, report --html and apply work
    code, out, err = cli("review", "--report", str(report), "--no-input")
    assert code == 0 and "img0.png" in out, err
    code, _, err = cli("report", "--report", str(report), "--html", str(tmp_path / "r.html"))
    assert code == 0 and (tmp_path / "r.html").is_file(), err
    code, out, err = cli("apply", "--report", str(report), "--dry-run")
    assert code == 0 and "would remove 4 files" in err, err


def test_a_truncated_index_is_refused(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    index = index_of(report)
    data = index.read_bytes()
    for size in (0, 100, len(data) // 2, len(data) - 1):
        index.write_bytes(data[:size])
        code, _, err = regroup_cli(cli, report)
        assert code == ExitCode.ERROR, (size, err)
        assert "index" in err and ("damaged" in err or "cannot be opened" in err), err
        assert "Traceback" not in err


def test_a_changed_column_is_refused(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    db = sqlite3.connect(index_of(report))
    (blob,) = db.execute("SELECT data FROM columns WHERE name = 'size'").fetchone()
    changed = bytearray(blob)
    changed[0] ^= 1
    db.execute("UPDATE columns SET data = ? WHERE name = 'size'", (bytes(changed),))
    db.commit()
    db.close()
    with pytest.raises(IndexProblem, match="do not match the digest"):
        report_mod.read(report, with_index=True)


def _second_scan(tmp_path: Path) -> Path:
    other = tmp_path / "other" / "photos"
    for k in range(3):
        put(other / f"x{k}.png", png(10 + k))
        put(other / f"y{k}.png", png(10 + k))
    return scanned(other)


def _edit_meta(report: Path, key: str, change: object) -> None:
    """Change the meta value `key` of the report's index by hand (`change(value) -> value`)."""
    db = sqlite3.connect(index_of(report))
    (value,) = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    db.execute("UPDATE meta SET value = ? WHERE key = ?", (change(value), key))  # type: ignore[operator]
    db.commit()
    db.close()


def test_a_hand_edited_search_radius_is_refused(cli: Cli, tmp_path: Path) -> None:
    """The scan searched and checked pairs up to its radius (threshold 0.1 at hash size 8: 6
    bits); a radius raised by hand would have a looser regroup take the pairs the scan never
    checked as the whole truth (no new search), not noticed by the digest of the columns."""
    _root, report = library(tmp_path)

    def wider(value: str) -> str:
        checked = json.loads(value)
        checked["radius"] = 40
        checked["found"] += [0] * (40 + 1 - len(checked["found"]))
        return json.dumps(checked)

    _edit_meta(report, "checked", wider)
    code, out, err = cli("review", "--report", str(report), "--threshold", "0.5", "--no-input")
    assert code == ExitCode.ERROR and out == "", err
    assert "search radius do not match the digest the report gives" in err, err
    assert "run `dedupe scan` again" in err and "Traceback" not in err
    with pytest.raises(IndexProblem, match="search radius do not match the digest"):
        report_mod.read(report, with_index=True)


def test_an_index_of_version_1_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """Version 1's digest did not cover the search radius: such an index is not trusted."""
    _root, report = library(tmp_path)
    _edit_meta(report, "version", lambda value: "1")
    with pytest.raises(IndexProblem, match=r"earlier dedupe \(index version 1.*scan` again"):
        report_mod.read(report, with_index=True)
    report_mod.read(report)  # the report alone (review, apply, report --html) is still read


def test_another_scans_index_is_refused(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    other = _second_scan(tmp_path)
    shutil.copyfile(index_of(other), index_of(report))  # swapped in under this report's name
    code, _, err = regroup_cli(cli, report)
    assert code == ExitCode.ERROR and "belongs to another scan" in err, err


def test_another_scans_index_with_this_id_fails_on_its_digest(tmp_path: Path) -> None:
    """Even with the meta made to look like this report's (id, count), the columns differ."""
    _root, report = library(tmp_path)
    other = _second_scan(tmp_path)
    mine = header(report)
    shutil.copyfile(index_of(other), index_of(report))
    db = sqlite3.connect(index_of(report))
    db.execute("UPDATE meta SET value = ? WHERE key = 'id'", (mine["id"],))
    db.execute("UPDATE meta SET value = ? WHERE key = 'images'", (str(mine["images"]),))
    db.commit()
    db.close()
    with pytest.raises(IndexProblem, match="do not match the digest"):
        report_mod.read(report, with_index=True)


def test_a_hand_edited_group_file_that_is_not_its_image_is_refused(tmp_path: Path) -> None:
    """A group file pointed at another image (path changed, its number kept): the JSON reads
    (apply re-checks the file itself), but regrouping from the index refuses."""
    root, report = library(tmp_path)
    data = json.loads(report.read_text())
    data["groups"][0]["files"][1]["path"] = str(root / "single.png")
    report.write_text(json.dumps(data))
    assert report_mod.read(report).groups
    with pytest.raises(IndexProblem, match="does not match the report"):
        report_mod.read(report, with_index=True)


def test_a_new_version_of_the_index_is_refused(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    db = sqlite3.connect(index_of(report))
    db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(IndexProblem, match="of version 99, which this dedupe cannot read"):
        report_mod.read(report, with_index=True)


@pytest.mark.parametrize("key", ["verify", "decoder"])
def test_an_index_of_another_check_version_is_refused(tmp_path: Path, key: str) -> None:
    """An index written by a dedupe whose check or decoder was another version holds
    signatures this one's rules were not made for (before check 6: no animation flag)."""
    _root, report = library(tmp_path)
    db = sqlite3.connect(index_of(report))
    db.execute("UPDATE meta SET value = '5' WHERE key = ?", (key,))
    db.commit()
    db.close()
    with pytest.raises(IndexProblem, match="made by another version of dedupe's check"):
        report_mod.read(report, with_index=True)
    report_mod.read(report)  # the report alone (review, apply, report --html) is still read


def test_a_save_of_decisions_keeps_the_index_and_a_new_search_writes_a_new_one(
    tmp_path: Path,
) -> None:
    _root, report = library(tmp_path)
    first = header(report)
    # a review's save: decisions only, from the JSON alone
    alone = report_mod.read(report)
    decided = replace(alone, groups=tuple(replace(g, reviewed=True) for g in alone.groups))
    report_mod.write(decided, report)
    assert header(report) == first and indexes(tmp_path) == [first["file"]]
    assert all(g.reviewed for g in report_mod.read(report, with_index=True).groups)
    # a regroup within the checked pairs keeps it too
    full = report_mod.read(report, with_index=True)
    tighter, _ = regroup.regroup(full, threshold=0.05)
    report_mod.write(tighter, report)
    assert header(report)["id"] == first["id"]
    # a looser regroup searches again: new checked pairs, a new index; the old one is removed
    looser, _ = regroup.regroup(report_mod.read(report, with_index=True), threshold=0.4)
    assert looser.index is None
    report_mod.write(looser, report)
    second = header(report)
    assert second["id"] != first["id"] and indexes(tmp_path) == [second["file"]]
    again = report_mod.read(report, with_index=True)
    assert again.checked is not None and again.checked.radius == looser.settings.max_distance


def test_a_report_written_elsewhere_takes_its_index_along(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    elsewhere = tmp_path / "kept" / "copy.json"
    elsewhere.parent.mkdir()
    report_mod.write(report_mod.read(report), elsewhere)  # read without its index
    moved = report_mod.read(elsewhere, with_index=True)
    assert plain(moved) == plain(report_mod.read(report, with_index=True))
    assert header(elsewhere)["id"] == header(report)["id"]
    assert indexes(elsewhere.parent) == [f"copy.{str(header(report)['id'])[:12]}.index"]
    assert len(indexes(tmp_path)) == 1  # the original's stays


def test_a_save_without_the_index_keeps_the_decisions_and_still_refuses_to_regroup(
    tmp_path: Path,
) -> None:
    _root, report = library(tmp_path)
    index_of(report).unlink()
    alone = report_mod.read(report)
    report_mod.write(replace(alone, groups=alone.groups[:1]), report)
    assert len(report_mod.read(report).groups) == 1
    with pytest.raises(IndexProblem, match="is missing"):
        report_mod.read(report, with_index=True)


def test_regrouping_a_report_read_without_its_index_is_refused(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    with pytest.raises(report_mod.ReportError, match="read without its index"):
        regroup.regroup(report_mod.read(report), threshold=0.1)


def test_a_schema_2_report_reads_and_migrates_but_never_regroups_with_old_signatures(
    cli: Cli, tmp_path: Path
) -> None:
    """A report of schema 2 was written by a dedupe older than the index, whose check
    signatures say nothing of animations (check version 6): regrouping it, or migrating it on
    its first write and regrouping that, judged them by this check's rules. Both are refused
    with what to do; its groups are still read (and reviewed, applied) as they were."""
    root, report = library(tmp_path)
    before = plain(report_mod.read(report, with_index=True))
    rewrite_as_schema_2(report)
    for name in indexes(tmp_path):
        (tmp_path / name).unlink()
    old = report_mod.read(report)
    assert old.read_version == 2 and old.complete and old.index is None
    assert plain(old) == plain(replace(before, read_version=2))
    code, _, err = regroup_cli(cli, report)
    assert code == 1 and "(schema 2) was written by an older dedupe" in err, err
    assert "dedupe scan" in err
    with pytest.raises(report_mod.ReportError, match="older dedupe"):
        regroup.repropose(old, old.keep)
    report_mod.write(old, report)  # (a review that saved its decisions)
    assert json.loads(report.read_text())["schema_version"] == 3
    assert len(indexes(tmp_path)) == 1
    assert [[m.record.path for m in g.members] for g in report_mod.read(report).groups] == [
        [m.record.path for m in g.members] for g in before.groups
    ]
    code, _, err = regroup_cli(cli, report)
    assert code == 1 and "another version of dedupe's check (check (unknown)" in err, err
    # a fresh scan's report regroups again
    code, _, err = cli("scan", str(root), "--report", str(report), "--no-cache", "-q")
    assert code in (0, 10), err
    code, _, err = regroup_cli(cli, report)
    assert code == 0 and "unchanged" in err, err


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (root only: else the test is skipped)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    point = tmp_path / "disk"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(point)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_a_full_disk_leaves_the_old_pair_and_no_temporary_file(
    tmp_path: Path, tiny_disk: Path
) -> None:
    _root, source = library(tmp_path)
    report = tiny_disk / "r.json"
    full = report_mod.read(source, with_index=True)
    report_mod.write(full, report)
    before = sorted(os.listdir(tiny_disk))
    text = report.read_bytes()
    # fill the disk, then write a new index (a report of another scan: a new one is due)
    filler = tiny_disk / "filler"
    with pytest.raises(OSError), open(filler, "wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
    free = os.statvfs(tiny_disk).f_bavail * os.statvfs(tiny_disk).f_frsize
    assert free < 8192
    with pytest.raises(OSError):
        report_mod.write(replace(full, index=None), report)
    filler.unlink()
    assert sorted(os.listdir(tiny_disk)) == before and report.read_bytes() == text
    assert plain(report_mod.read(report, with_index=True)) == plain(full)


def test_a_read_only_folder_is_read_and_regrouped(tmp_path: Path, tiny_disk: Path) -> None:
    _root, source = library(tmp_path)
    report = tiny_disk / "r.json"
    report_mod.write(report_mod.read(source, with_index=True), report)
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)], check=True)
    full = report_mod.read(report, with_index=True)
    regrouped, _ = regroup.regroup(full, threshold=0.1)
    assert [len(g.members) for g in regrouped.groups] == [3, 3]
    with pytest.raises(OSError):  # a save says why it cannot; nothing is lost
        report_mod.write(replace(full, index=None), report)


_KILL_AFTER_INDEX = """
import os, signal, sys
from dataclasses import replace
from dedupe import index, report
write = index.write
def write_then_die(*args, **kwargs):
    write(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
index.write = write_then_die
r = report.read(sys.argv[1], with_index=True)
report.write(replace(r, index=None, groups=r.groups[:1]), sys.argv[1])
"""


def test_a_kill_between_the_index_and_the_json_leaves_the_old_pair(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    before = report_mod.read(report, with_index=True)
    text = report.read_bytes()
    done = subprocess.run([sys.executable, "-c", _KILL_AFTER_INDEX, str(report)])
    assert done.returncode == -signal.SIGKILL
    assert report.read_bytes() == text  # the old JSON, naming the old index
    assert len(indexes(tmp_path)) == 2  # the new one, named by nothing
    assert plain(report_mod.read(report, with_index=True)) == plain(before)
    # the next write removes the orphan
    report_mod.write(replace(before, index=None), report)
    assert indexes(tmp_path) == [header(report)["file"]]


def test_the_index_file_name_and_id_are_checked_before_anything_is_opened(tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    data = json.loads(report.read_text())
    data["index"]["file"] = "../photos.0123456789ab.index"
    report.write_text(json.dumps(data))
    with pytest.raises(report_mod.ReportError, match="index: 'file'"):
        report_mod.read(report)
    assert index_mod.IndexRef.valid_file("dedupe-report.0123456789ab.index")
    assert not index_mod.IndexRef.valid_file("/tmp/x.0123456789ab.index")


def test_the_review_takes_its_groups_signatures_from_the_index(tmp_path: Path) -> None:
    """A review (the JSON alone) proposes keepers again with the grouped files' check
    signatures and orientation hashes, read from the index rows it names, each checked."""
    root, report = library(tmp_path)
    full = report_mod.read(report, with_index=True)
    alone = report_mod.read(report)
    assert all(m.record.fingerprint.check == b"" for g in alone.groups for m in g.members)
    signed = report_mod.with_signatures(alone)
    assert [m.record for g in signed.groups for m in g.members] == [
        m.record for g in full.groups for m in g.members
    ]
    assert not signed.complete  # still not a report to regroup
    # an edited group file, or another scan's index: refused (the review then goes on without)
    data = json.loads(report.read_text())
    data["groups"][0]["files"][1]["path"] = str(root / "single.png")
    report.write_text(json.dumps(data))
    with pytest.raises(IndexProblem, match="does not match the report"):
        report_mod.with_signatures(report_mod.read(report))
    shutil.copyfile(index_of(_second_scan(tmp_path)), index_of(report))
    with pytest.raises(IndexProblem, match="belongs to another scan"):
        report_mod.with_signatures(report_mod.read(report))


def test_a_report_reached_through_a_symbolic_link_regroups_from_its_index(
    cli: Cli, tmp_path: Path
) -> None:
    """`--report ~/link.json` (a symbolic link to the report, in another folder): its index is
    the one beside the report, where a save through the link writes it too."""
    _root, report = library(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "link.json"
    link.symlink_to(report)
    code, _, err = regroup_cli(cli, link)
    assert code == 0, err
    assert "Regrouped at threshold 0.1" in err
    read = report_mod.read(link, with_index=True)
    assert read.complete and read.index_path == index_of(report)
    report_mod.write(read, link)  # (a save through the link: the report and its index)
    assert (
        link.is_symlink()
        and indexes(elsewhere) == []
        and indexes(tmp_path) == [header(report)["file"]]
    )
