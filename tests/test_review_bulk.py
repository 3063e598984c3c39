"""Bulk actions, the group list's filters and sorts, and the preview read of a report
(dedupe.review.bulk, view, quickread, state's bulk operations): pure functions checked on
reports of a few thousand groups, a group kind the review does not know, and odd reports."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from review_helpers import synthetic_report, write_report

from dedupe import report as report_mod
from dedupe.models import Group, Member
from dedupe.report import Report
from dedupe.review import bulk, quickread
from dedupe.review.opener import OpenError, open_file
from dedupe.review.state import ReviewState
from dedupe.review.view import View, folders_of

ROOT = Path("/photos")


@pytest.fixture(scope="module")
def report() -> Report:
    return synthetic_report(ROOT, 400)


def with_shots(report: Report) -> Report:
    """Every tenth group made a kind this review does not know ("similar shots", whose files
    are all kept), as a newer scan may write."""
    groups = []
    for group in report.groups:
        if group.id % 10 == 0:
            kept = tuple(replace(m, action="keep", reason="a similar shot") for m in group.members)
            group = replace(group, kind="similar shots", members=kept)  # type: ignore[arg-type]
        groups.append(group)
    return report_mod.with_groups(report, groups)


def test_bulk_choices_say_exactly_what_they_do(report: Report) -> None:
    state = ReviewState.start(report)
    folder = str(ROOT / "copies" / "c3")
    choices = {c.key: c for c in bulk.choices(state, folder=folder, distance=0, shown=[0, 1, 2])}
    assert next(iter(choices)) == "kind:exact"  # the safest first
    exact = choices["kind:exact"]
    groups = report.groups
    assert {groups[k].id for k in exact.indices} == {g.id for g in groups if g.kind == "exact"}
    assert exact.trash == sum(m.action == "trash" for k in exact.indices for m in groups[k].members)
    assert exact.freed == sum(groups[k].reclaimable_bytes for k in exact.indices)
    assert "of exact copies (byte-identical files)" in exact.confirmation()
    in_c3 = choices["folder"]
    assert in_c3.indices and all(
        all(
            m.record.path.startswith(folder + os.sep)
            for m in groups[k].members
            if m.action == "trash"
        )
        for k in in_c3.indices
    )
    assert "copies/c3/" in in_c3.title
    assert set(choices["shown"].indices) == {0, 1, 2}
    closest = choices["distance"]
    assert all(groups[k].max_distance == 0 for k in closest.indices)
    assert choices["all"].groups == len(groups)
    skip = choices["skip"]
    assert skip.verb == "skip" and "Keep every file of the 400 groups" in skip.confirmation()


def test_bulk_never_overrides_a_decision_and_undoes_in_one_step(report: Report) -> None:
    state = ReviewState.start(report)
    path = report.groups[4].members[1].record.path
    state = state.keep_only(4, path)  # a decision by hand in an exact group
    decided = state.groups[4]
    everything = next(c for c in bulk.choices(state) if c.key == "all")
    assert 4 not in everything.indices
    after = bulk.perform(state, everything)
    assert after.groups[4] is decided
    assert all(g.reviewed for g in after.groups)
    assert [m.action for m in after.groups[8].members] == [
        m.action for m in report.groups[8].members
    ]
    assert len(after.last_change) == len(report.groups) - 1
    undone, first = after.undo()
    assert first == 0 and undone.groups == state.groups
    skipped = bulk.perform(state, next(c for c in bulk.choices(state) if c.key == "skip"))
    assert skipped.groups[4] is decided
    assert skipped.trash_count == decided.trash_count
    assert all(m.reason.startswith("kept: skipped") for m in skipped.groups[0].members)
    saved = skipped.to_report(report)
    assert report_mod.problems(saved) == [] and saved.duplicates == decided.trash_count


def test_a_kind_the_review_does_not_know_is_shown_and_kept_by_name(report: Report) -> None:
    shots = with_shots(report)
    state = ReviewState.start(shots)
    assert bulk.kinds(state) == ["exact", "similar", "similar shots"]
    choice = next(c for c in bulk.choices(state) if c.key == "kind:similar shots")
    assert choice.title == 'accept the "similar shots" groups' and choice.trash == 0
    after = bulk.perform(state, choice)
    # Accepted as proposed: every file of a group of similar shots stays kept.
    assert all(
        m.action == "keep" for g in after.groups if g.kind == "similar shots" for m in g.members
    )
    # Accepting one such group by hand keeps its proposal too (the rules would trash one).
    single = state.accept(9)
    assert [m.action for m in single.groups[9].members] == ["keep"] * len(shots.groups[9].members)
    saved = after.to_report(shots)
    assert {g.kind for g in saved.groups} == {"exact", "similar", "similar shots"}
    # The view filters on it like on any kind.
    rows = View(kind="similar shots").rows(state)
    assert [state.groups[k].id for k in rows] == [g.id for g in shots.groups if g.id % 10 == 0]


def test_views_filter_and_sort(report: Report) -> None:
    state = ReviewState.start(report)
    state = state.accept(0).accept(1)
    groups = state.groups
    assert View(status="reviewed").rows(state) == (0, 1)
    assert len(View(status="pending").rows(state)) == len(groups) - 2
    frees = View(sort="frees").rows(state)
    assert [groups[k].reclaimable_bytes for k in frees] == sorted(
        (g.reclaimable_bytes for g in groups), reverse=True
    )
    closest = View(sort="closest").rows(state)
    assert [groups[k].largest_distance for k in closest] == sorted(
        g.largest_distance for g in groups
    )
    phone = View(folder=str(ROOT / "phone")).rows(state)
    assert phone and all(
        any(m.record.path.startswith(str(ROOT / "phone") + os.sep) for m in groups[k].members)
        for k in phone
    )
    # A folder is matched as a folder, not as the start of a name.
    assert View(folder=str(ROOT / "phon")).rows(state) == ()
    found = View(search="img_00042_").rows(state)
    assert [groups[k].id for k in found] == [43]
    assert View(search="IMG_00042_", kind="similar").rows(state) == found
    assert View(max_distance=0, kind="similar").rows(state) == ()
    view = View(status="pending", kind="exact", search="x", sort="files")
    assert view.describe(str(ROOT)) == 'to review · kind exact · path has "x" · most files first'
    assert view.cleared() == View(sort="files")
    assert folders_of(str(ROOT / "a" / "b" / "c.jpg"), str(ROOT)) == [
        str(ROOT / "a" / "b"),
        str(ROOT / "a"),
        str(ROOT),
    ]


def test_the_preview_holds_the_reports_groups(tmp_path: Path) -> None:
    odd = os.fsdecode(b"caf\xe9 \n<b>.jpg")  # not UTF-8, a newline, markup
    report = synthetic_report(tmp_path / "photos", 50)
    first = report.groups[0]
    renamed = replace(first.members[0].record, path=str(tmp_path / "photos" / odd))
    members = (replace(first.members[0], record=renamed), *first.members[1:])
    report = replace(
        report,
        groups=(replace(first, members=members), *report.groups[1:]),
        images=tuple(sorted((renamed, *report.images[1:]), key=lambda r: r.path)),
    )
    path = tmp_path / "report.json"
    report_mod.write(report, path)
    full = report_mod.read(path)
    preview = quickread.read(path)
    assert preview is not None and preview.images == ()
    assert quickread.same_groups(preview, full)
    for a, b in zip(preview.groups, full.groups, strict=True):
        assert (a.id, a.kind, a.max_distance, a.reviewed) == (
            b.id,
            b.kind,
            b.max_distance,
            b.reviewed,
        )
        for m, n in zip(a.members, b.members, strict=True):
            assert (m.distance, m.action, m.reason) == (n.distance, n.action, n.reason)
            r, s = m.record, n.record
            assert (r.path, r.size, r.mtime_ns, r.hash) == (s.path, s.size, s.mtime_ns, s.hash)
            assert (r.fingerprint.width, r.fingerprint.digest) == (
                s.fingerprint.width,
                s.fingerprint.digest,
            )
    assert preview.groups[0].members[0].record.path == str(tmp_path / "photos" / odd)
    assert (preview.errors, preview.skipped, preview.roots) == (
        full.errors,
        full.skipped,
        full.roots,
    )
    # Any layout of the same JSON: indented, groups last.
    data = json.loads(path.read_text())
    reordered = {**data, "groups": data.pop("groups")}
    path.write_text(json.dumps(reordered, indent=2))
    again = quickread.read(path)
    assert again is not None and quickread.same_groups(again, full)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"schema_version": 99, "groups": []}',
        '{"schema_version": 1, "groups": [{"id": "x"}], "settings": {}, "roots": []}',
        '{"schema_version": 1, "groups": [',
        "\x00\xff",
    ],
)
def test_a_report_the_preview_cannot_read_gives_none(tmp_path: Path, text: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(text, encoding="latin-1")
    assert quickread.read(path) is None
    assert quickread.read(tmp_path / "missing.json") is None


def test_group_kinds_and_sizes_of_a_saved_review(tmp_path: Path) -> None:
    """A group whose odd file out is marked "not a duplicate" becomes exact when the files
    left are byte-identical; a kind the review does not know stays as it was."""
    path = tmp_path / "report.json"
    report = write_report(tmp_path / "photos", path, 20)
    group = report.groups[5]
    twin = replace(group.members[1].record, fingerprint=group.members[0].record.fingerprint)
    third = Member(replace(twin, path=twin.path + ".3.jpg", ino=99999), 1, "trash", "a third file")
    changed = replace(
        group, members=(group.members[0], replace(group.members[1], record=twin), third)
    )
    unknown = replace(report.groups[6], kind="similar shots")  # type: ignore[arg-type]
    groups: list[Group] = list(report.groups)
    groups[5], groups[6] = changed, unknown
    report = replace(report, groups=tuple(groups), images=(*report.images, third.record))
    state = ReviewState.start(report).set_apart(5, third.record.path)
    saved = state.to_report(report)
    kinds = {g.id: g.kind for g in saved.groups}
    assert kinds[group.id] == "exact" and kinds[unknown.id] == "similar shots"


def test_opening_a_missing_file_says_so() -> None:
    with pytest.raises(OpenError, match="gone"):
        open_file("/nonexistent/photo.jpg")


def test_the_whole_report_read_a_piece_at_a_time_is_the_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_report(tmp_path / "photos", path, 300, big=20)
    assert quickread.read_whole(path) == report_mod.read(path)
    text = path.read_text()
    for broken, why in (
        (text[: len(text) // 2], "not valid JSON"),
        (text.replace('"groups": [', '"groups": [,', 1), "not valid JSON"),
        ("[1, 2]", "not a dedupe report"),
    ):
        path.write_text(broken)
        with pytest.raises(report_mod.ReportError, match=why):
            quickread.read_whole(path)
    with pytest.raises(report_mod.ReportError, match="no report at"):
        quickread.read_whole(tmp_path / "missing.json")
