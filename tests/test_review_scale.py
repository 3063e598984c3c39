"""The review at library scale, driven by Textual's pilot at 80 x 24: a report of 2,000 groups
through every bulk action, the filter, the search and a group of 150 files, then the saved
report is checked; the viewer is a real subprocess; a review that starts from the preview of
a report and waits for the whole of it before deciding anything."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from review_helpers import write_report

from dedupe import report as report_mod
from dedupe.report import Report
from dedupe.review import quickread
from dedupe.review.app import ReviewApp
from dedupe.review.graphics import Renderer
from dedupe.review.opener import opener_name
from dedupe.review.screens import BulkScreen, FilterScreen, Question, SearchScreen
from dedupe.review.state import ReviewState

SMALL = (80, 24)
GROUPS = 2000
BIG = 150


def make_app(path: Path, shown: Report | None = None, **options: object) -> ReviewApp:
    """The review of the report at `path` (opened on `shown`, a preview of it, if given),
    each save written to `path`."""
    report = report_mod.read(path) if shown is None else shown

    def save(decided: Report) -> str:
        report_mod.write(decided, path)
        return "saved"

    return ReviewApp(report, ReviewState.start(report), save, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    base = tmp_path_factory.mktemp("scale")
    path = base / "report.json"
    write_report(base / "photos", path, GROUPS, big=BIG)
    return base / "photos", path.read_bytes()


@pytest.fixture
def scaled(big_report: tuple[Path, bytes], tmp_path: Path) -> tuple[Path, Path]:
    path = tmp_path / "report.json"
    path.write_bytes(big_report[1])
    return big_report[0], path


def by_id(data: dict[str, object]) -> dict[int, dict[str, object]]:
    groups = data["groups"]
    assert isinstance(groups, list)
    return {g["id"]: g for g in groups}


def actions(group: dict[str, object]) -> list[str]:
    files = group["files"]
    assert isinstance(files, list)
    return [f["action"] for f in files]


def test_thousands_of_groups_bulk_actions_and_a_big_group(scaled: tuple[Path, Path]) -> None:
    root, path = scaled
    before = report_mod.read(path)
    loaded = {g.id: [m.action for m in g.members] for g in before.groups}
    exact = {g.id for g in before.groups if g.kind == "exact"}
    big = before.groups[-1]
    assert len(before.groups) == GROUPS + 1 and len(big.members) == BIG
    in_copies_c1 = str(root / "copies" / "c1") + os.sep
    expected_c1 = {
        g.id
        for g in before.groups
        if g.kind != "exact" and all(m.record.path.startswith(in_copies_c1) for m in g.members[1:])
    }
    close_ids: set[int] = set()

    async def scenario() -> dict[str, float]:
        timings: dict[str, float] = {}
        app = make_app(path, thumbnails=Renderer.BLOCKS)
        async with app.run_test(size=SMALL) as pilot:
            started = time.perf_counter()
            # 1. Bulk: accept every exact copy (the menu's first line), after its question.
            await pilot.press("b")
            assert isinstance(app.screen, BulkScreen)
            first = app.screen.options[0]
            assert first.key == "kind:exact" and first.groups == len(exact)
            await pilot.press("enter")
            assert isinstance(app.screen, Question)
            question = str(app.screen.text)
            assert f"Accept the proposals of {len(exact)} groups of exact copies" in question
            assert f"{first.trash:,} files will be marked trash" in question
            await pilot.press("y")
            await pilot.pause()
            assert not isinstance(app.screen, (BulkScreen, Question))
            reviewed = {g.id for g in app.state.groups if g.reviewed}
            assert reviewed == exact
            timings["bulk exact"] = time.perf_counter() - started

            # 2. Bulk by folder: the selected file's folder (a copy in copies/c1), one level
            # up (copies/): every similar group, as all their copies are there.
            await pilot.press("down")  # group 2 (similar), its copy in copies/c1
            await pilot.press("right")
            await pilot.press("b")
            screen = app.screen
            assert isinstance(screen, BulkScreen)
            keys = [c.key for c in screen.options]
            screen.selected = keys.index("folder")
            in_c1 = screen.options[screen.selected]
            assert "copies/c1/" in in_c1.title
            assert {app.state.groups[k].id for k in in_c1.indices} == expected_c1
            await pilot.press("enter", "y")
            await pilot.pause()
            reviewed = {g.id for g in app.state.groups if g.reviewed}
            assert reviewed == exact | expected_c1

            # 3. Undo takes the whole bulk action back in one step.
            await pilot.press("u")
            assert {g.id for g in app.state.groups if g.reviewed} == exact
            await pilot.press("b")
            assert isinstance(app.screen, BulkScreen)
            app.screen.selected = keys.index("folder")
            await pilot.press("enter", "y")
            await pilot.pause()
            assert {g.id for g in app.state.groups if g.reviewed} == exact | expected_c1

            # 4. Filter: the similar groups still to review, most space freed first.
            await pilot.press("f")
            assert isinstance(app.screen, FilterScreen)
            await pilot.press("right")  # status: to review
            await pilot.press("down", "right", "right")  # kind: exact, then similar
            await pilot.press("down", "down", "down", "right")  # sort: most space freed
            await pilot.press("enter")
            await pilot.pause()
            shown = [app.state.groups[k] for k in app.rows]
            assert shown and all(g.kind == "similar" and not g.reviewed for g in shown)
            frees = [g.reclaimable_bytes for g in shown]
            assert frees == sorted(frees, reverse=True)
            assert app.query_one("#viewbar").display
            # Bulk on what the list shows: the 5 first groups only (a filter on distance 0).
            await pilot.press("f")
            await pilot.press("down", "down", "down", "right", "right")  # distance at most 1
            await pilot.press("enter")
            await pilot.pause()
            close = set(app.rows)
            assert close and all(app.state.groups[k].largest_distance <= 1 for k in close)
            await pilot.press("b")
            screen = app.screen
            assert isinstance(screen, BulkScreen)
            screen.selected = [c.key for c in screen.options].index("shown")
            assert set(screen.options[screen.selected].indices) == close
            await pilot.press("enter", "y")
            await pilot.pause()
            assert all(app.state.groups[k].reviewed for k in close)
            close_ids.update(app.state.groups[k].id for k in close)
            await pilot.press("F")  # every group again
            assert len(app.rows) == GROUPS + 1

            # 5. Search by path.
            await pilot.press("slash")
            assert isinstance(app.screen, SearchScreen)
            await pilot.press(*"img_01234_")
            await pilot.press("enter")
            await pilot.pause()
            assert [app.state.groups[k].id for k in app.rows] == [1235]
            await pilot.press("slash", "ctrl+u", "enter")  # an empty search: every group
            await pilot.pause()
            assert len(app.rows) == GROUPS + 1

            # 6. The big group: the kept copy stays pinned beside the file selected, the
            # other files are a compact list.
            started = time.perf_counter()
            await pilot.press("end")
            assert app.current == GROUPS
            keeper = app.state.groups[GROUPS].reference
            await pilot.press(*["L"] * 12, "l", "l")
            assert app.file == 122
            left, right = app.pair
            assert left.member is not None and right.member is not None
            assert left.member.record.path == big.members[keeper].record.path
            assert right.member.record.path == big.members[122].record.path
            assert right.has_class("selected") and "TRASH" in str(right.label.render())
            assert app.files_list.display and not app.strip_box.display
            assert app.files_list.cursor == 122
            await pilot.press("c")  # keep only file 123 of 150
            group = app.state.groups[GROUPS]
            assert [m.action for m in group.members].count("keep") == 1
            assert group.members[122].action == "keep"
            assert app.pair[0].member is not None
            assert app.pair[0].member.record.path == big.members[122].record.path
            timings["big group"] = time.perf_counter() - started

            # 7. Skip the rest: every file of the groups still to review is kept.
            await pilot.press("b")
            screen = app.screen
            assert isinstance(screen, BulkScreen)
            skip = screen.options[-1]
            assert skip.key == "skip"
            await pilot.press(str(len(screen.options)))
            assert isinstance(app.screen, Question)
            assert "Keep every file of the" in str(app.screen.text)
            await pilot.press("y")
            await pilot.pause()
            assert all(g.reviewed for g in app.state.groups)
            started = time.perf_counter()
            await pilot.press("s")
            timings["save"] = time.perf_counter() - started
        assert app.return_value == "saved"
        return timings

    started = time.perf_counter()
    timings = asyncio.run(scenario())
    timings["whole review"] = time.perf_counter() - started
    print(" · ".join(f"{k} {v:.2f} s" for k, v in timings.items()))

    data = json.loads(path.read_text())
    after = by_id(data)
    assert len(after) == GROUPS + 1 and all(g["reviewed"] for g in after.values())
    accepted = exact | expected_c1 | close_ids
    for gid, group in after.items():
        if gid in accepted:
            assert actions(group) == loaded[gid], gid  # the proposal, as loaded
    big_saved = after[big.id]
    kept = [f["path"] for f in big_saved["files"] if f["action"] == "keep"]
    assert kept == [big.members[122].record.path]
    assert big_saved["files"][0]["reason"] == "chosen by you as the copy to keep"
    skipped = [g for gid, g in after.items() if gid not in accepted and gid != big.id]
    skipped = [g for g in skipped if "kept: skipped" in g["files"][0]["reason"]]
    assert skipped and all(set(actions(g)) == {"keep"} for g in skipped)
    saved = report_mod.read(path)
    assert report_mod.problems(saved) == []
    assert len(saved.images) == len(before.images)


def fake_opener(folder: Path) -> Path:
    """A program named like the system's opener that writes down what it was given."""
    folder.mkdir()
    record = folder / "opened.txt"
    script = folder / opener_name()
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return record


def test_o_and_enter_open_the_selected_file_in_the_viewer(
    scaled: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = scaled
    record = fake_opener(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    report = report_mod.read(path)
    wanted = report.groups[-1].members[3].record.path

    async def wait_for(file: Path) -> str:
        for _ in range(200):
            if file.exists() and file.stat().st_size:
                return file.read_text()
            await asyncio.sleep(0.02)
        raise AssertionError("the viewer was not started")

    async def scenario() -> None:
        app = make_app(path, thumbnails=Renderer.NONE)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("end", "right", "right", "right", "o")
            assert await wait_for(record) == wanted
            record.unlink()
            await pilot.press("left", "enter")
            assert await wait_for(record) == report.groups[-1].members[2].record.path
            record.unlink()
            # A file that is gone says so, and starts nothing.
            await pilot.press("home", "o")
            message = str(app.query_one("#message").render())
            assert "cannot open" in message and "gone" in message
            assert not record.exists()
            await pilot.press("q")

    asyncio.run(scenario())


def test_a_review_from_the_preview_waits_for_the_whole_report(scaled: tuple[Path, Path]) -> None:
    _, path = scaled
    preview = quickread.read(path)
    assert preview is not None and preview.images == ()
    full = report_mod.read(path)
    assert quickread.same_groups(preview, full)
    allowed = asyncio.Event()

    def save(decided: Report) -> str:
        report_mod.write(decided, path)
        return "saved"

    async def scenario() -> None:
        loop = asyncio.get_running_loop()

        def slow_loader() -> Report:
            # The whole report arrives only when the test says so.
            asyncio.run_coroutine_threadsafe(allowed.wait(), loop).result(timeout=30)
            return report_mod.read(path)

        app = ReviewApp(
            preview, ReviewState.start(preview), save, thumbnails=Renderer.NONE, loader=slow_loader
        )
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("down", "down")  # moving needs only the preview
            assert app.current == 2
            title = str(app.query_one("#title").render())
            assert "Group 3 (3 of 2,001)" in title
            assert "reading the whole report" in str(app.query_one("#summary").render())
            press = asyncio.ensure_future(pilot.press("a", "s"))  # waits for the report
            await asyncio.sleep(0.3)
            assert not press.done() and not app.state.groups[2].reviewed
            assert "reading the rest of the report" in str(app.query_one("#message").render())
            allowed.set()
            await asyncio.wait_for(press, 30)
        assert app.return_value == "saved"

    asyncio.run(scenario())
    saved = report_mod.read(path)
    assert [g.reviewed for g in saved.groups][:4] == [False, False, True, False]
    assert len(saved.images) == len(full.images)
    assert saved.images == full.images  # the full records, not the preview's


def test_a_changed_report_is_never_saved_over(scaled: tuple[Path, Path]) -> None:
    """The whole report no longer holds the preview's groups (it was rewritten meanwhile):
    the review says so and refuses to save."""
    _, path = scaled
    preview = quickread.read(path)
    assert preview is not None
    changed = report_mod.read(path)
    changed = report_mod.with_groups(changed, changed.groups[1:])
    before = path.read_bytes()

    async def scenario() -> None:
        app = make_app(path, preview, thumbnails=Renderer.NONE, loader=lambda: changed)
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("a", "w")
            await pilot.pause()
            assert "changed on disk" in str(app.query_one("#message").render())
            assert not app.state.groups[0].reviewed
            await pilot.press("q")
        assert app.return_value == "quit"

    asyncio.run(scenario())
    assert path.read_bytes() == before


def _nested(path: Path) -> None:
    """Rewrite the report with a field it does not name holding arrays nested 100,000 deep
    (a hostile edit: Python's JSON decoder gives up with a RecursionError)."""
    text = path.read_text(encoding="utf-8")
    assert '"roots":' in text
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(text.replace('"roots":', f'"zz": {deep}, "roots":', 1), encoding="utf-8")


def test_a_report_rewritten_nested_too_deeply_as_the_review_opens_is_refused(
    scaled: tuple[Path, Path],
) -> None:
    """The whole report read from the file after the preview was (rewritten meanwhile, and
    not into JSON this dedupe reads): the review says why, the keys waiting for it do
    nothing and nothing is saved (the reading thread died of a RecursionError and the keys
    waited for good)."""
    _, path = scaled
    preview = quickread.read(path)
    assert preview is not None
    _nested(path)
    before = path.read_bytes()
    done: list[bool] = []

    async def scenario() -> None:
        app = make_app(
            path, preview, thumbnails=Renderer.NONE, loader=lambda: quickread.read_whole(path)
        )
        async with app.run_test(size=SMALL) as pilot:
            await pilot.press("a", "w")
            await pilot.pause()
            assert "nested too deeply" in str(app.query_one("#message").render())
            assert not app.state.groups[0].reviewed
            await pilot.press("q")
        assert app.return_value == "quit"
        done.append(True)

    # (on a thread of its own: a review that hangs is given up on, and the test fails)
    thread = threading.Thread(target=asyncio.run, args=(scenario(),), daemon=True)
    thread.start()
    thread.join(60)
    assert done, "the review hung"
    assert path.read_bytes() == before
