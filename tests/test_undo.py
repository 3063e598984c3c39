"""`dedupe undo`: every trashed or moved file back, byte-identical, never over a newcomer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from apply_helpers import (
    apply,
    journals,
    library,
    load,
    png,
    put,
    records,
    scanned,
    sha,
    trash_infos,
    trash_members,
    trashed_file,
    trashed_files,
    tree,
)
from conftest import Cli

from dedupe.cli import ExitCode, main

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")


def trash_is_empty() -> bool:
    return trashed_files() == [] and trash_infos() == []


def test_undo_after_trash_restores_identical_bytes_paths_and_times(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path, groups=3, copies=3)
    before = tree(root)
    assert apply(report, "--trash") == ExitCode.OK
    assert tree(root) != before
    code, _out, err = cli("undo")
    assert code == ExitCode.OK, err
    assert "Put back 6 files" in err and "0 could not be" in err
    assert tree(root) == before
    assert trash_is_empty()
    lines = records(journals()[0])
    assert sum(r["type"] == "undone" for r in lines) == 6


def test_undo_after_move_restores_identical_bytes_paths_and_times(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=2, copies=3)
    before = tree(root)
    dest = tmp_path / "dupes"
    assert apply(report, "--move", str(dest)) == ExitCode.OK
    assert len(tree(dest)) == 4
    code, _, err = cli("undo")
    assert code == ExitCode.OK, err
    assert tree(root) == before
    assert list(dest.iterdir()) == []  # the folders the move created are gone too


def test_undo_never_overwrites_a_file_that_appeared_since(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=1, copies=3)
    first, second = (f["path"] for f in trash_members(report))
    before = tree(root)
    assert apply(report, "--trash") == ExitCode.OK
    put(Path(first), b"a new file, written after the apply")
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL
    assert f"a file has appeared at {first} since the apply; it is not overwritten" in err
    assert Path(first).read_bytes() == b"a new file, written after the apply"
    assert tree(root)[second] == before[second]
    (left,) = trashed_files()  # the removed copy is still in the trash
    assert sha(left) == before[first][1]


def test_undo_twice_has_nothing_left_to_do(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path)
    assert apply(report, "--trash") == ExitCode.OK
    assert main(["undo"]) == ExitCode.OK
    before = tree(root)
    code, _, err = cli("undo")
    assert code == ExitCode.OK and "Nothing to undo" in err
    assert tree(root) == before


def test_undo_without_any_apply_is_refused(cli: Cli) -> None:
    code, _, err = cli("undo")
    assert code == ExitCode.REFUSED and "no apply to undo" in err


def test_undo_of_a_damaged_journal_is_refused(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "j.jsonl"
    bad.write_text('{"type": "apply", "journal_version": 1}\nnot json\n{"type": "end"}\n')
    code, _, err = cli("undo", "--journal", str(bad))
    assert code == ExitCode.REFUSED and "damaged at line 2" in err
    code, _, err = cli("undo", "--journal", str(tmp_path / "none.jsonl"))
    assert code == ExitCode.REFUSED and "no journal at" in err


def test_undo_reports_files_emptied_from_the_trash(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=1, copies=3)
    first, second = (f["path"] for f in trash_members(report))
    assert apply(report, "--trash") == ExitCode.OK
    for info in trash_infos(first):
        trashed_file(info).unlink()
        info.unlink()
    code, _, err = cli("undo")
    assert code == ExitCode.PARTIAL
    assert f"{first}: it is no longer at" in err
    assert os.path.isfile(second) and not os.path.lexists(first)


def test_undo_counts_a_file_restored_by_hand_as_back(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    (only,) = (f["path"] for f in trash_members(report))
    before = tree(root)
    assert apply(report, "--trash") == ExitCode.OK
    (info,) = trash_infos()  # what a desktop's "Restore" does
    os.rename(trashed_file(info), only)
    info.unlink()
    code, _, err = cli("undo")
    assert code == ExitCode.OK and "1 were already back" in err
    assert tree(root) == before


def test_undo_finds_a_file_renamed_inside_the_trash(tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    (_only,) = (f["path"] for f in trash_members(report))
    before = tree(root)
    assert apply(report, "--trash") == ExitCode.OK
    (info,) = trash_infos()
    trashed = trashed_file(info)
    os.rename(trashed, trashed.with_name(f"moved {trashed.name}"))
    os.rename(info, info.with_name(f"moved {info.name}"))
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before


def test_undo_recreates_a_removed_folder(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    put(root / "keep.png", png(1))
    put(root / "deep" / "er" / "copy.png", png(1))
    report = scanned(root)
    before = tree(root)
    assert apply(report, "--trash") == ExitCode.OK
    (root / "deep" / "er").rmdir()
    (root / "deep").rmdir()
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before


def test_undo_picks_the_last_apply_or_the_given_journal(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=1, copies=2)
    other_root = tmp_path / "other"
    put(other_root / "a.png", png(7))
    put(other_root / "b.png", png(7))
    other_report = scanned(other_root)
    first_journal = tmp_path / "first.jsonl"
    assert apply(report, "--trash", "--journal", str(first_journal)) == ExitCode.OK
    assert apply(other_report, "--trash") == ExitCode.OK
    (moved_first,) = trash_members(report)
    (moved_other,) = trash_members(other_report)
    assert main(["undo"]) == ExitCode.OK  # the last apply: the other report's
    assert os.path.isfile(moved_other["path"]) and not os.path.lexists(moved_first["path"])
    code, _, _ = cli("undo", "--journal", str(first_journal))
    assert code == ExitCode.OK
    assert sha(moved_first["path"]) == moved_first["digest"]


def test_undo_dry_run_lists_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=1, copies=3)
    assert apply(report, "--trash") == ExitCode.OK
    after = tree(root)
    code, out, err = cli("undo", "--dry-run")
    assert code == ExitCode.OK and "would put back 2 files" in err
    assert sorted(line.split("\t")[1] for line in out.splitlines()) == sorted(
        f["path"] for f in trash_members(report)
    )
    assert tree(root) == after


def test_undo_refuses_while_the_journal_is_in_use(cli: Cli, tmp_path: Path) -> None:
    from dedupe import journal

    _root, report = library(tmp_path, groups=1, copies=2)
    assert apply(report, "--trash") == ExitCode.OK
    (path,) = journals()
    writer = journal.Writer.append_to(path)  # what a running apply or undo holds
    try:
        code, _, err = cli("undo")
    finally:
        writer.close()
    assert code == ExitCode.REFUSED and "another dedupe is using the journal" in err
    assert main(["undo"]) == ExitCode.OK
    assert len(load(report)["groups"]) == 1
