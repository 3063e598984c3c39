"""Review decisions (dedupe.review.state): every operation, undo, and the rule that a group
never ends with every file marked trash, checked by hand and by random sequences."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import policy
from dedupe.groups import check_invariants
from dedupe.hashing import ImageHash
from dedupe.models import (
    Fingerprint,
    Group,
    ImageRecord,
    KeepRules,
    ScanStats,
    Settings,
)
from dedupe.report import Report, problems
from dedupe.review import marks
from dedupe.review.state import APART_REASON, Refused, ReviewState

ROOT = "/photos"
T0 = 1_600_000_000_000_000_000
DEFAULT_RULES = KeepRules()


def record(name: str, width: int, height: int, size: int, bits: int = 0) -> ImageRecord:
    fingerprint = Fingerprint(
        width, height, "JPEG", f"digest-{name}", ImageHash(bits, 8), b"", bytes(256)
    )
    return ImageRecord(f"{ROOT}/{name}", size, T0, 1, hash(name) & 0xFFFF, fingerprint)


def proposed(records: list[ImageRecord], gid: int, rules: KeepRules = DEFAULT_RULES) -> Group:
    members = policy.decide(records, rules, lambda a, b: a.hash - b.hash)
    return Group(gid, "similar", 3, members)


def make_report(rules: KeepRules = DEFAULT_RULES) -> Report:
    g1 = [
        record("a/big.jpg", 4032, 3024, 4_000_000),
        record("b/small.jpg", 1024, 768, 200_000, 0b111),
    ]
    g2 = [
        record("c/one.jpg", 2000, 1500, 900_000),
        record("c/two.jpg", 1000, 750, 300_000, 1),
        record("c/three.jpg", 500, 375, 90_000, 2),
    ]
    g3 = [record("keep/orig.jpg", 800, 600, 50_000), record("zz/copy.jpg", 800, 600, 40_000, 1)]
    groups = (proposed(g1, 1, rules), proposed(g2, 2, rules), proposed(g3, 3, rules))
    images = tuple(sorted(g1 + g2 + g3, key=lambda r: r.path))
    return Report((ROOT,), Settings(), rules, ScanStats(), groups, (), (), images)


def actions(state: ReviewState, index: int) -> dict[str, str]:
    return {os.path.basename(m.record.path): m.action for m in state.groups[index].members}


def reasons(state: ReviewState, index: int) -> dict[str, str]:
    return {os.path.basename(m.record.path): m.reason for m in state.groups[index].members}


def test_the_last_kept_copy_cannot_be_trashed() -> None:
    state = ReviewState.start(make_report())
    assert actions(state, 0) == {"big.jpg": "keep", "small.jpg": "trash"}
    with pytest.raises(Refused, match="only kept copy of group 1"):
        state.toggle(0, f"{ROOT}/a/big.jpg")


def test_toggle_swaps_the_keeper_with_reasons_in_words() -> None:
    state = ReviewState.start(make_report())
    state = state.toggle(0, f"{ROOT}/b/small.jpg").toggle(0, f"{ROOT}/a/big.jpg")
    assert actions(state, 0) == {"big.jpg": "trash", "small.jpg": "keep"}
    assert reasons(state, 0) == {
        "small.jpg": "marked keep by you",
        "big.jpg": "marked trash by you; keeping b/small.jpg",
    }
    assert state.groups[0].reviewed and state.unsaved
    # The distance is measured to the copy now kept.
    assert [m.distance for m in state.groups[0].members] == [3, 0]


def test_untouched_trash_reason_follows_a_new_keeper() -> None:
    state = ReviewState.start(make_report())
    assert reasons(state, 1)["three.jpg"] == "keeps the 2000x1500 original; this is a 500x375 copy"
    state = state.toggle(1, f"{ROOT}/c/two.jpg").toggle(1, f"{ROOT}/c/one.jpg")
    assert actions(state, 1) == {"one.jpg": "trash", "two.jpg": "keep", "three.jpg": "trash"}
    assert reasons(state, 1)["three.jpg"] == "proposed for trash; you now keep c/two.jpg"
    state = state.toggle(1, f"{ROOT}/c/one.jpg")  # back to keeping the original too
    assert reasons(state, 1)["three.jpg"] == "keeps the 2000x1500 original; this is a 500x375 copy"


def test_keep_only_keep_all_accept_and_confirm() -> None:
    state = ReviewState.start(make_report())
    state = state.keep_only(1, f"{ROOT}/c/three.jpg")
    assert actions(state, 1) == {"one.jpg": "trash", "two.jpg": "trash", "three.jpg": "keep"}
    assert reasons(state, 1)["three.jpg"] == "chosen by you as the copy to keep"
    assert reasons(state, 1)["one.jpg"] == "marked trash by you; keeping c/three.jpg"
    state = state.keep_all(1)
    assert set(actions(state, 1).values()) == {"keep"}
    assert state.groups[1].reclaimable_bytes == 0
    state = state.accept(1)
    assert actions(state, 1) == {"one.jpg": "keep", "two.jpg": "trash", "three.jpg": "trash"}
    assert state.groups[1].user == {}
    before = state.confirm(2)
    assert before.groups[2].reviewed and before.groups[2].members == state.groups[2].members
    assert before.confirm(2) is before  # already reviewed: nothing to record


def test_not_a_duplicate_keeper_leaves_a_proposal_for_the_rest() -> None:
    report = make_report()
    state = ReviewState.start(report).set_apart(1, f"{ROOT}/c/one.jpg")
    group = state.groups[1]
    assert not group.dissolved
    assert reasons(state, 1)["one.jpg"] == APART_REASON
    assert actions(state, 1) == {"one.jpg": "keep", "two.jpg": "keep", "three.jpg": "trash"}
    saved = state.to_report(report)
    assert [os.path.basename(m.record.path) for m in saved.groups[1].members] == [
        "two.jpg",
        "three.jpg",
    ]
    assert saved.not_duplicates == {
        (f"{ROOT}/c/one.jpg", f"{ROOT}/c/two.jpg"),
        (f"{ROOT}/c/one.jpg", f"{ROOT}/c/three.jpg"),
    }
    # Pressing x again puts the file back.
    back = state.set_apart(1, f"{ROOT}/c/one.jpg")
    assert back.groups[1].apart == frozenset()


def test_a_dissolved_group_is_left_out_of_the_report_and_refuses_edits() -> None:
    report = make_report()
    state = ReviewState.start(report).all_apart(0)
    assert state.groups[0].dissolved and state.groups[0].status == "apart"
    with pytest.raises(Refused, match="marked not duplicates"):
        state.toggle(0, f"{ROOT}/b/small.jpg")
    saved = state.to_report(report)
    assert [g.id for g in saved.groups] == [2, 3]
    assert saved.not_duplicates == {(f"{ROOT}/a/big.jpg", f"{ROOT}/b/small.jpg")}
    assert state.all_apart(0).groups[0].apart == frozenset()


def test_undo_walks_back_and_unsaved_follows_the_baseline() -> None:
    start = ReviewState.start(make_report())
    state = start.keep_all(0).keep_only(1, f"{ROOT}/c/two.jpg")
    state, index = state.undo()
    assert index == 1 and state.groups[1] == start.groups[1]
    state, index = state.undo()
    assert index == 0 and state.groups == start.groups and not state.unsaved
    with pytest.raises(Refused, match="nothing to undo"):
        state.undo()
    saved = start.keep_all(2).saved()
    assert not saved.unsaved and saved.changed_count == 0
    assert saved.undo()[0].unsaved


def test_protected_files_are_never_trashed() -> None:
    rules = KeepRules(protect=(f"{ROOT}/zz",))
    state = ReviewState.start(make_report(rules))
    assert actions(state, 2) == {"orig.jpg": "keep", "copy.jpg": "keep"}
    with pytest.raises(Refused, match="protected"):
        state.toggle(2, f"{ROOT}/zz/copy.jpg")
    state = state.keep_only(2, f"{ROOT}/keep/orig.jpg")
    assert actions(state, 2) == {"orig.jpg": "keep", "copy.jpg": "keep"}


OPS = st.lists(
    st.tuples(
        st.sampled_from(["toggle", "only", "all", "accept", "confirm", "apart", "whole", "undo"]),
        st.integers(0, 2),
        st.integers(0, 2),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(OPS, st.booleans())
def test_random_reviews_always_keep_a_file_in_every_group(
    ops: list[tuple[str, int, int]], protect: bool
) -> None:
    rules = KeepRules(protect=(f"{ROOT}/zz",) if protect else ())
    report = make_report(rules)
    state = ReviewState.start(report)
    for op, g, f in ops:
        members = state.groups[g].members
        path = members[f % len(members)].record.path
        try:
            if op == "toggle":
                state = state.toggle(g, path)
            elif op == "only":
                state = state.keep_only(g, path)
            elif op == "all":
                state = state.keep_all(g)
            elif op == "accept":
                state = state.accept(g)
            elif op == "confirm":
                state = state.confirm(g)
            elif op == "apart":
                state = state.set_apart(g, path)
            elif op == "whole":
                state = state.all_apart(g)
            else:
                state = state.undo()[0]
        except Refused:
            pass
        for group in state.groups:
            if not group.dissolved:
                assert any(m.action == "keep" for m in group.remaining)
            for member in group.members:
                if protect and member.record.path.startswith(f"{ROOT}/zz/"):
                    assert member.action == "keep"
        saved = state.to_report(report)
        check_invariants(saved.groups)
        assert problems(saved) == []


def test_marks_store_round_trip_and_damage(tmp_path: Path) -> None:
    odd = os.fsdecode(b"/photos/caf\xe9.jpg")  # not valid UTF-8: kept exactly
    assert marks.load().pairs == frozenset()
    assert marks.remember([("/photos/b.jpg", "/photos/a.jpg"), (odd, "/photos/a.jpg")]) == 2
    assert marks.remember([("/photos/a.jpg", "/photos/b.jpg")]) == 0
    assert marks.load().pairs == {("/photos/a.jpg", "/photos/b.jpg"), ("/photos/a.jpg", odd)}
    stored = json.loads(marks.default_path().read_text())
    assert stored["version"] == 1 and len(stored["pairs"]) == 2
    marks.default_path().write_text("{not json")
    damaged = marks.load()
    assert damaged.pairs == frozenset() and damaged.warning and "damaged" in damaged.warning
    r = record("x.jpg", 1, 1, 1)
    assert marks.among(frozenset({(r.path, "/else.jpg")}), [r.path]) == frozenset()
    assert marks.among(frozenset({(r.path, r.path + "2")}), [r.path, r.path + "2"])
