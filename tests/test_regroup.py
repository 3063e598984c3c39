"""Regrouping a report from its stored hashes (`review --threshold`), and how changes are told."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import photo

from dedupe import decode, verify
from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.groups import build_groups
from dedupe.hashing import ImageHash
from dedupe.models import Fingerprint, Group, ImageRecord, KeepRules, Member, ScanStats, Settings
from dedupe.regroup import compare, regroup, repropose
from dedupe.report import Report

ROOT = "/photos"


def rec(name: str, bits: int, picture: int, pixels: int = 1000) -> ImageRecord:
    """A record whose hash is `bits` and whose check signature is that of photo `picture`
    (without its framing codes: the hand-set hashes alone make the candidates)."""
    check = verify.signature(photo(picture, (64, 48)))
    check = check[: -8 * verify.FRAMINGS] + bytes(8 * verify.FRAMINGS)
    fp = Fingerprint(
        pixels, pixels, "JPEG", f"d-{name}", ImageHash(bits, 8), b"", check
    )  # one shape
    return ImageRecord(f"{ROOT}/{name}", 1000 + pixels, 0, 1, 0, fp)


def grp(gid: int, *names: str) -> Group:
    members = tuple(
        Member(rec(n, 0, 1), 0, "keep" if k == 0 else "trash", "") for k, n in enumerate(names)
    )
    return Group(gid, "similar", 0, members)


def test_compare_names_every_kind_of_change() -> None:
    old = [grp(1, "a", "b"), grp(2, "c", "d"), grp(3, "e", "f"), grp(4, "g", "h", "i"),
           grp(5, "j", "k", "l", "m"), grp(6, "n", "o")]  # fmt: skip
    new = [
        grp(1, "a", "b"),  # unchanged
        grp(2, "c", "d", "e", "f"),  # merged (old 2 and 3)
        grp(3, "g", "h"),  # old 4 shrunk (i left)
        grp(4, "j", "k"),  # old 5 split ...
        grp(5, "l", "m"),  # ... in two
        grp(6, "x", "y"),  # new
        grp(7, "n", "o", "z"),  # grown
    ]
    changes = compare(old, new)
    assert (changes.before, changes.after) == (6, 7)
    assert (changes.unchanged, changes.merged, changes.new, changes.grown) == (1, 1, 1, 1)
    assert (changes.shrunk, changes.split, changes.removed) == (1, 1, 0)
    assert changes.describe() == (
        "7 groups (was 6): 1 unchanged, 1 new, 1 grown, 1 merged, 1 shrunk, 1 split"
    )
    gone = compare(old, new[:1])
    assert gone.removed == 5 and gone.describe() == "1 group (was 6): 1 unchanged, 5 removed"


def library_report() -> Report:
    # Picture 1: three files at hash distances 0, 2, 5 from the first. Picture 2: two files 1 apart.
    # Picture 3: a hash 1 away from picture 2 but a different scene: verification must refuse it.
    images = (
        rec("p1/a.jpg", 0b0, 1, 4000),
        rec("p1/b.jpg", 0b11, 1, 2000),
        rec("p1/c.jpg", 0b1111100, 1, 1000),
        rec("p2/a.jpg", 0xFF00_0000, 2, 4000),
        rec("p2/b.jpg", 0xFF00_0001, 2, 2000),
        rec("p3/a.jpg", 0xFF00_0003, 3, 4000),
    )
    settings = Settings(threshold=0.0)
    rules = KeepRules()
    groups = build_groups(images, settings, rules)
    return Report((ROOT,), settings, rules, ScanStats(), groups, (), (), images)


def test_regroup_from_stored_hashes_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("regrouping must not decode images")

    monkeypatch.setattr(decode, "decode", no_decoding)
    report = library_report()
    assert report.groups == ()
    wider, changes = regroup(report, threshold=0.05)  # largest distance 3
    assert wider.settings.max_distance == 3
    paths = [[m.record.path.removeprefix(ROOT + "/") for m in g.members] for g in wider.groups]
    assert paths == [["p1/a.jpg", "p1/b.jpg"], ["p2/a.jpg", "p2/b.jpg"]]
    assert changes.describe() == "2 groups (was 0): 0 unchanged, 2 new"
    widest, changes = regroup(wider, threshold=0.1)  # largest distance 6
    assert [len(g.members) for g in widest.groups] == [3, 2]
    assert "p3/a.jpg" not in {
        m.record.path[len(ROOT) + 1 :] for g in widest.groups for m in g.members
    }
    assert changes.describe() == "2 groups (was 2): 1 unchanged, 1 grown"
    # Marked "not duplicates": never grouped again.
    pair = (f"{ROOT}/p2/a.jpg", f"{ROOT}/p2/b.jpg")
    apart, changes = regroup(widest, distinct=frozenset({pair}))
    assert len(apart.groups) == 1 and pair in apart.not_duplicates and changes.removed == 1


def test_reviewed_groups_keep_their_decisions() -> None:
    wider, _ = regroup(library_report(), threshold=0.05)
    first = wider.groups[0]
    swapped = tuple(
        replace(m, action="trash" if m.action == "keep" else "keep", reason="by you")
        for m in first.members
    )
    reviewed = replace(
        wider, groups=(replace(first, members=swapped, reviewed=True),) + wider.groups[1:]
    )
    again, changes = regroup(reviewed, threshold=0.06)
    assert again.groups[0].members == swapped and again.groups[0].reviewed
    assert changes.kept_decisions == 1 and changes.describe().endswith(
        "kept your decisions in 1 group"
    )
    # Once the group changes, the proposal is fresh.
    grown, changes = regroup(reviewed, threshold=0.1)
    assert not grown.groups[0].reviewed and changes.kept_decisions == 0
    assert grown.groups[0].members[0].record.path == f"{ROOT}/p1/a.jpg"


def test_an_unchanged_group_keeps_its_proposal_unless_the_rules_or_version_differ() -> None:
    wider, _ = regroup(library_report(), threshold=0.05)
    # A proposal the rules would not make (as an earlier version might have worded it):
    first = wider.groups[0]
    odd = tuple(replace(m, reason=f"earlier wording {k}") for k, m in enumerate(first.members))
    report = replace(wider, groups=(replace(first, members=odd),) + wider.groups[1:])
    same, changes = regroup(report, threshold=0.06)
    assert same.groups[0].members == odd and not same.groups[0].reviewed
    assert changes.unchanged == 2 and changes.kept_decisions == 0
    fresh = first.members
    by_path = KeepRules(order=("path",))
    assert regroup(report, threshold=0.06, rules=by_path)[0].groups[0].members != odd
    assert (
        regroup(replace(report, tool_version="0.0.1"), threshold=0.06)[0].groups[0].members == fresh
    )


def test_repropose_changes_only_unreviewed_groups() -> None:
    wider, _ = regroup(library_report(), threshold=0.05)
    reviewed = replace(wider, groups=(replace(wider.groups[0], reviewed=True), wider.groups[1]))
    by_path = KeepRules(order=("path",))
    changed = repropose(reviewed, by_path)
    assert changed.keep == by_path
    assert changed.groups[0] == reviewed.groups[0]
    assert [m.action for m in changed.groups[1].members] == ["keep", "trash"]


def test_review_threshold_without_a_terminal_prints_and_does_not_save(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "report.json"
    report_mod.write(library_report(), path)
    before = path.read_bytes()
    assert main(["review", "--report", str(path), "--threshold", "0.05"]) == 0
    out, err = capsys.readouterr()
    assert "Regrouped at threshold 0.05 (largest distance 3): 2 groups (was 0)" in err
    assert "not saved" in err
    assert "Group 1 · similar · 2 files" in out and "Group 2" in out
    assert path.read_bytes() == before
