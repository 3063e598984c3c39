"""The first groups of a regroup, found without grouping the rest (regroup.first_groups,
api.start_regroup), are exactly the first groups of the whole regroup, also where a tighter
threshold merges groups; `dedupe review --threshold` shows them while the rest regroups on a
thread, and the keys that decide, save or need every group wait for it; an error on that
thread reaches the person. Real scans of real files throughout."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Library
from test_regroup_columns import _library
from test_review_terminal import Terminal
from textual.worker import WorkerFailed

from dedupe import api
from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.index import IndexProblem
from dedupe.models import Group, KeepRules
from dedupe.regroup import compare, first_groups, regroup
from dedupe.report import Report
from dedupe.review.app import ReviewApp
from dedupe.review.graphics import Renderer
from dedupe.review.screens import BulkScreen, FilterScreen
from dedupe.review.state import ReviewState

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import scale

SCANNED_AT = 0.3


def _scan(root: Path, report: Path, threshold: float) -> Path:
    args = ["scan", str(root), "--report", str(report), "--no-cache", "--threshold"]
    with pytest.MonkeyPatch.context() as patch:  # (before the autouse folders of each test)
        for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            patch.setenv(name, str(report.parent / name.lower()))
        assert main([*args, str(threshold), "--quiet"]) in (0, 10)
    return report


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pillow-made pictures with copies of several kinds, scanned at 0.3 (report and index)."""
    root = tmp_path_factory.mktemp("first") / "photos"
    root.mkdir()
    _library(Library(root))
    return _scan(root, root.parent / "report.json", SCANNED_AT)


@pytest.fixture(scope="module")
def merging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """benchmarks/scale.py's library of 4,000 pictures (seed 3), scanned at 0.1: regrouped at
    0.05, two of its groups become one (a join their anchors blocked at 0.1 is made)."""
    folder = tmp_path_factory.mktemp("merging")
    library = scale.build_library(4000, 3, 2, folder / "lib")
    report = folder / "report.json"
    subprocess.run(
        scale.commands(library, report, 2)["scan"], env=scale.clean_env(folder), cwd=folder,
        check=True, capture_output=True,
    )  # fmt: skip
    return report


def _read(path: Path) -> Report:
    return report_mod.read(path, with_index=True)


def _assert_first(first: Report, every: bool, whole: Report, count: int) -> None:
    shown = first.groups
    assert len(shown) >= min(count, len(whole.groups))
    assert shown == whole.groups[: len(shown)]  # the same groups, ids and proposals
    assert not every or len(shown) == len(whole.groups)
    files = {m.record.path for g in shown for m in g.members}
    assert first.facts == {p: f for p, f in whole.facts.items() if p in files}
    assert first.settings == whole.settings and first.keep == whole.keep


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.2, SCANNED_AT])
@pytest.mark.parametrize(
    "rules", [None, KeepRules(order=("size", "path"))], ids=["as-scanned", "by-size"]
)
def test_the_first_groups_are_the_first_of_the_whole_regroup(
    scanned: Path, threshold: float, rules: KeepRules | None
) -> None:
    report = _read(scanned)
    largest = max(report.groups, key=lambda g: len(g.members))
    a, b = sorted(m.record.path for m in largest.members[:2])
    for distinct in (frozenset(), frozenset({(a, b)})):
        whole, _ = regroup(report, threshold=threshold, rules=rules, distinct=distinct)
        assert len(whole.groups) >= 6
        for count in (1, 2, 3, 5, len(whole.groups), 1000):
            first = first_groups(
                report, threshold=threshold, rules=rules, distinct=distinct, count=count
            )
            assert first is not None
            _assert_first(first.report, first.every, whole, count)
        assert first.every


def test_no_first_groups_when_the_regroup_searches_again(scanned: Path) -> None:
    report = _read(scanned)
    assert first_groups(report, threshold=0.4) is None  # looser than the scan: a new search
    regrouping = api.start_regroup(report, threshold=0.4, cache=False)
    assert regrouping.done and regrouping.every  # done here, in full
    eager = api.regroup_report(report, threshold=0.4, cache=False)
    assert regrouping.first == eager.report and regrouping.finish() == eager


def _merged(old: tuple[Group, ...], new: tuple[Group, ...]) -> list[int]:
    """The positions of the new groups holding files of two or more old groups."""
    where = {m.record.path: k for k, g in enumerate(old) for m in g.members}
    return [
        k
        for k, g in enumerate(new)
        if len({where[m.record.path] for m in g.members if m.record.path in where}) > 1
    ]


def test_the_first_groups_are_right_where_a_tighter_threshold_merges_groups(
    merging: Path,
) -> None:
    report = _read(merging)
    whole, changes = regroup(report, threshold=0.05)
    assert changes.merged >= 1
    merged = _merged(report.groups, whole.groups)
    assert merged, "a group of files of two old groups"
    for at in merged[:3]:
        for count in (at, at + 1, at + 2):  # the merged group last, or just before the last
            first = first_groups(report, threshold=0.05, count=count)
            assert first is not None
            _assert_first(first.report, first.every, whole, count)
    first = first_groups(report, threshold=0.05, count=len(whole.groups))
    assert first is not None and first.every and first.report.groups == whole.groups


def test_start_regroup_finishes_as_regroup_report(scanned: Path) -> None:
    report = _read(scanned)
    rules = KeepRules(order=("size", "path"))
    regrouping = api.start_regroup(report, threshold=0.1, keep=rules, cache=False, count=2)
    eager = api.regroup_report(report, threshold=0.1, keep=rules, cache=False)
    assert len(regrouping.first.groups) >= 2 and not regrouping.every
    assert regrouping.first.groups == eager.report.groups[: len(regrouping.first.groups)]
    assert regrouping.finish() == eager
    assert regrouping.done and regrouping.finish() == eager  # (the same, asked again)


def test_an_error_of_the_regroup_thread_is_raised_by_finish(scanned: Path) -> None:
    report = _read(scanned)
    first = api.start_regroup(report, threshold=0.1, cache=False, start=False).first
    heard: list[str] = []

    def failing(warn: api.Warn) -> api.Regrouped:
        warn("a warning said on the thread")
        raise IndexProblem("the index went away")

    regrouping = api.Regrouping(first, False, failing, heard.append)
    called = threading.Event()
    regrouping.when_done(called.set)
    with pytest.raises(IndexProblem, match="the index went away") as raised:
        regrouping.finish()
    assert called.is_set() and heard == ["a warning said on the thread"]
    # the thread's traceback is kept: it says where the error was raised
    assert raised.traceback[-1].name == "failing"
    with pytest.raises(IndexProblem):  # every time it is asked
        regrouping.finish()


def test_review_no_input_prints_the_whole_regroup(scanned: Path, tmp_path: Path) -> None:
    """--no-input prints the eager regroup, byte for byte what start_regroup ends with."""
    path = tmp_path / "report.json"
    report_mod.write(_read(scanned), path)  # a copy with its own index
    run = subprocess.run(
        [sys.executable, "-m", "dedupe", "review", "--report", str(path), "--threshold", "0.1",
         "--no-input", "--format", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    regrouping = api.start_regroup(_read(path), threshold=0.1, count=2)
    whole = regrouping.finish().report
    assert run.stdout == report_mod.dumps(whole) + "\n"
    assert whole.groups[: len(regrouping.first.groups)] == regrouping.first.groups


# ---------------------------------------------------------------- the review in a terminal


class Held:
    """The whole regroup, held back until the test lets it go (or failing with `error`)."""

    def __init__(self, whole: api.Regrouped, error: BaseException | None = None) -> None:
        self.whole, self.error = whole, error
        self.go = threading.Event()

    def __call__(self, warn: api.Warn) -> api.Regrouped:
        assert self.go.wait(30)
        if self.error is not None:
            raise self.error
        return self.whole


def _app(first: Report, work: Held, saved: list[Report]) -> tuple[ReviewApp, api.Regrouping]:
    regrouping = api.Regrouping(first, False, work, lambda message: None)
    return _review(first, regrouping, saved), regrouping


def _review(first: Report, regrouping: api.Regrouping, saved: list[Report]) -> ReviewApp:
    """The review of `first` taking `regrouping`, each save appended to `saved`."""

    def save(decided: Report) -> str:
        saved.append(decided)
        return "saved"

    return ReviewApp(
        first,
        ReviewState.start(first),
        save,
        thumbnails=Renderer.NONE,
        regrouping=regrouping,
        regrouped_notice=lambda r: f"regrouped: {r.changes.describe()}",
    )


def _first_and_whole(scanned: Path) -> tuple[Report, api.Regrouped]:
    """The first groups of the scan's regroup at 0.1 (two or more), and the whole regroup."""
    report = _read(scanned)
    first = api.start_regroup(report, threshold=0.1, cache=False, start=False, count=2).first
    return first, api.regroup_report(report, threshold=0.1, cache=False)


def _text(app: ReviewApp, widget: str) -> str:
    return str(app.query_one(widget).render())


def test_the_review_shows_the_first_groups_and_waits_for_the_rest(scanned: Path) -> None:
    first, whole = _first_and_whole(scanned)
    shown = len(first.groups)
    assert 2 <= shown < len(whole.report.groups)
    work = Held(whole)
    saved: list[Report] = []
    app, regrouping = _app(first, work, saved)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert f"(1 of {shown} so far)" in _text(app, "#title")
            assert "regrouping the rest" in _text(app, "#summary")
            await pilot.press("down")  # moving needs only the first groups
            assert app.current == 1
            for _ in range(shown):
                await pilot.press("down")
            assert app.current == shown - 1  # the last of the first groups
            assert "on their way" in _text(app, "#message")
            # The filter needs every group: it waits (no screen yet), then opens.
            filtering = asyncio.ensure_future(pilot.press("f"))
            await asyncio.sleep(0.3)
            assert not filtering.done() and not isinstance(app.screen, FilterScreen)
            assert "regrouping the other groups first" in _text(app, "#message")
            work.go.set()
            await asyncio.wait_for(filtering, 30)
            await pilot.pause()
            assert isinstance(app.screen, FilterScreen)
            await pilot.press("escape")
            assert app.state.groups == ReviewState.start(whole.report).groups
            assert app.report is whole.report and len(app.rows) == len(whole.report.groups)
            assert f"({shown:,} of {len(whole.report.groups):,})" in _text(app, "#title")
            assert "regrouped:" in _text(app, "#message")
            await pilot.press("b")
            await pilot.pause()
            assert isinstance(app.screen, BulkScreen)
            await pilot.press("escape")
            await pilot.press("home", "a", "s")
        assert app.return_value == "saved"

    asyncio.run(scenario())
    assert regrouping.done
    (decided,) = saved
    assert len(decided.groups) == len(whole.report.groups) and decided.groups[0].reviewed
    assert decided.groups[1:] == whole.report.groups[1:]


def test_a_decision_waits_for_the_rest_of_the_regroup(scanned: Path) -> None:
    first, whole = _first_and_whole(scanned)
    work = Held(whole)
    saved: list[Report] = []
    app, _ = _app(first, work, saved)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            pressed = asyncio.ensure_future(pilot.press("a", "w"))  # accept, save
            await asyncio.sleep(0.3)
            assert not pressed.done() and not app.state.groups[0].reviewed and not saved
            work.go.set()
            await asyncio.wait_for(pressed, 30)
            await pilot.pause()
            await pilot.press("q")
        assert app.return_value == "quit"

    asyncio.run(scenario())
    (decided,) = saved  # the whole regroup, the first group accepted
    assert [g.reviewed for g in decided.groups] == [True] + [False] * (len(decided.groups) - 1)
    assert [g.id for g in decided.groups] == [g.id for g in whole.report.groups]


@pytest.mark.parametrize("key", ["ctrl+c", "ctrl+q"])
def test_quitting_is_at_once_while_a_key_waits_for_the_regroup(scanned: Path, key: str) -> None:
    """A decision waits for the rest of the regroup (held back here, as a long regroup of a
    big library is): Ctrl-C or Ctrl-Q ends the review at once, nothing decided, nothing saved (it
    waited behind the key for the whole regroup, the waiting key holding the app's messages)."""
    first, whole = _first_and_whole(scanned)
    work = Held(whole)
    saved: list[Report] = []
    app, _ = _app(first, work, saved)
    ended: list[bool] = []

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            pressed = asyncio.ensure_future(pilot.press("a", "w"))  # accept, save: they wait
            await asyncio.sleep(0.3)
            assert not pressed.done()
            quitting = asyncio.ensure_future(pilot.press(key))
            for _ in range(100):  # (a guard against hanging, not a timing assertion)
                await asyncio.sleep(0.1)
                if not app.is_running:
                    ended.append(True)
                    break
            work.go.set()  # (for a review that hung: let it end)
            await asyncio.gather(pressed, quitting, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert ended, "quitting waited for the regroup"
    assert app.return_value == "quit" and app.return_code in (0, None)
    assert not saved


def test_what_the_regroup_changed_stays_said_after_a_key_that_waited_for_it(
    scanned: Path,
) -> None:
    first, whole = _first_and_whole(scanned)
    work = Held(whole)
    app, _ = _app(first, work, [])

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            pressed = asyncio.ensure_future(pilot.press("a"))
            await asyncio.sleep(0.3)
            work.go.set()
            await asyncio.wait_for(pressed, 30)
            await pilot.pause()
            line = app.query_one("#message")
            assert line.display and "regrouped:" in _text(app, "#message")
            await pilot.press("q", "y")

    asyncio.run(scenario())


def test_a_failed_regroup_is_said_and_nothing_is_saved(scanned: Path) -> None:
    first, whole = _first_and_whole(scanned)
    work = Held(whole, IndexProblem("the index is another scan's"))
    work.go.set()
    saved: list[Report] = []
    app, _ = _app(first, work, saved)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("a", "s")
            await pilot.pause()
            message = _text(app, "#message")
            assert "the regroup failed: the index is another scan's" in message
            assert not app.state.groups[0].reviewed
            await pilot.press("q")
        assert app.return_value == "quit"

    asyncio.run(scenario())
    assert not saved


def test_a_file_changed_while_the_regroup_runs_is_named_not_called_a_bug(tmp_path: Path) -> None:
    """A sidecar written beside a file of the first groups after they were read, before the
    whole regroup reads it: the whole regroup's first group differs (the file goes with its
    sidecar now). The review said "a bug in dedupe"; it names the file and what changed, and
    says to scan again, nothing saved, the report as it was."""
    root = tmp_path / "photos"
    root.mkdir()
    _library(Library(root))
    full = _read(_scan(root, tmp_path / "scanned.json", SCANNED_AT))
    # the report as reviewed at a tighter threshold: its first group's files are in no group,
    # so the regroup at the scan's threshold reads what they carry from disk
    path = tmp_path / "report.json"
    report_mod.write(replace(full, groups=full.groups[1:]), path)
    written = path.read_bytes()
    regrouping = api.start_regroup(_read(path), threshold=SCANNED_AT, cache=False, start=False)
    first = regrouping.first
    trashed = next(m.record.path for m in first.groups[0].members if m.action == "trash")
    sidecar = Path(trashed + ".xmp")
    sidecar.write_bytes(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>\n")
    saved: list[Report] = []
    app = _review(first, regrouping, saved)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(300):  # (a guard against hanging, not a timing assertion)
                await pilot.pause(0.1)
                if "regroup failed" in _text(app, "#message"):
                    break
            message = _text(app, "#message")
            await pilot.press("a", "s")
            await pilot.pause()
            await pilot.press("q", "y")
        assert "bug" not in message
        assert f"{trashed} changed on disk while the regroup ran" in message
        assert str(sidecar) in message and "run `dedupe scan` again" in message

    asyncio.run(scenario())
    assert not saved and path.read_bytes() == written


def test_a_bug_in_the_regroup_thread_ends_the_review_with_it(scanned: Path) -> None:
    """Not a DedupeError: not caught anywhere on the way, the review ends and raises it."""
    first, whole = _first_and_whole(scanned)
    work = Held(whole, ZeroDivisionError("a bug"))
    work.go.set()
    app, _ = _app(first, work, [])

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(50):
                await pilot.pause(0.1)

    with pytest.raises(WorkerFailed) as raised:
        asyncio.run(scenario())
    assert isinstance(raised.value.error, ZeroDivisionError) and app.return_code == 1


def test_a_bug_in_the_regroup_thread_ends_the_review_while_a_key_waits(scanned: Path) -> None:
    """A key that decides waits for the regroup (say MemoryError on a big library): the
    review still ends with the error, the key does nothing and nothing is saved (it hung,
    the waiting key holding the app's messages, the end of the app among them)."""
    first, whole = _first_and_whole(scanned)
    work = Held(whole, MemoryError())
    saved: list[Report] = []
    app, _ = _app(first, work, saved)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            pressed = asyncio.ensure_future(pilot.press("a", "s"))
            await asyncio.sleep(0.3)
            assert not pressed.done()
            work.go.set()
            for _ in range(100):  # the keys are done with (at once), and the review ends
                await asyncio.sleep(0.1)
                if pressed.done() and not app.is_running:
                    ended.append(True)
                    break

    ended: list[bool] = []

    async def bounded() -> None:  # (a review that hangs is given up on: cancelled)
        await asyncio.wait_for(scenario(), 20)

    with pytest.raises((WorkerFailed, TimeoutError)) as raised:
        asyncio.run(bounded())
    assert ended, "the review hung"
    assert isinstance(raised.value, WorkerFailed) and isinstance(raised.value.error, MemoryError)
    assert app.return_code == 1
    assert not saved and not app.state.groups[0].reviewed


def test_review_threshold_in_a_real_terminal_saves_the_whole_regroup(
    scanned: Path, tmp_path: Path
) -> None:
    path = tmp_path / "report.json"
    report_mod.write(_read(scanned), path)
    expected = api.regroup_report(_read(path), threshold=0.1).report
    terminal = Terminal(
        "review", "--report", str(path), "--threshold", "0.1", "--thumbnails", "none",
        cols=100, rows=30,
    )  # fmt: skip
    terminal.read_until("Regrouped at threshold 0.1")  # the whole regroup is there
    terminal.send("a")
    terminal.read_until(f"1/{len(expected.groups)} reviewed")
    terminal.send("s")
    assert terminal.wait() == 0
    assert "Saved to" in terminal.text()
    saved = report_mod.read(path)
    assert [g.reviewed for g in saved.groups][:2] == [True, False]
    assert [replace(g, reviewed=False, members=()) for g in saved.groups] == [
        replace(g, members=()) for g in expected.groups
    ]
    assert compare(expected.groups, saved.groups).unchanged == len(expected.groups)


def test_a_decision_made_at_once_survives_a_regroup_done_before_the_review(
    scanned: Path,
) -> None:
    """Looser than the scan's search: the regroup is whole before the review opens (no
    thread). A key pressed as the review opens (typed ahead while the search ran) is a
    decision like any other: the swap to the whole regroup must not drop it."""
    regrouping = api.start_regroup(_read(scanned), threshold=0.4, cache=False, start=False)
    assert regrouping.done
    first = regrouping.first
    saved: list[Report] = []
    app = _review(first, regrouping, saved)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("K")  # keep every file of the first group
            await pilot.pause(0.3)
            assert app.state.groups[0].reviewed and app.state.unsaved
            await pilot.press("s")
        assert app.return_value == "saved"

    asyncio.run(scenario())
    (decided,) = saved
    assert decided.groups[0].reviewed
    assert all(m.action == "keep" for m in decided.groups[0].members)
    assert decided.groups[1:] == first.groups[1:]


def test_a_key_typed_ahead_of_a_long_regroup_is_saved(scanned: Path, tmp_path: Path) -> None:
    """The real `dedupe review --threshold` looser than the scan (searched again before the
    review opens), in a pseudo-terminal: a key typed while it searches is the first decision,
    and it is the one saved."""
    path = tmp_path / "report.json"
    report_mod.write(_read(scanned), path)
    groups = len(api.regroup_report(_read(path), threshold=0.4, cache=False).report.groups)
    terminal = Terminal(
        "review", "--report", str(path), "--threshold", "0.4", "--thumbnails", "none",
        cols=100, rows=30,
    )  # fmt: skip
    terminal.send("K")  # keep every file of the first group, typed ahead
    terminal.read_until("Regrouping")
    terminal.read_until(f"1/{groups} reviewed")
    time.sleep(0.5)  # (the regroup's result is there: it was, before the review opened)
    terminal.send("s")
    assert terminal.wait() == 0
    saved = report_mod.read(path)
    assert saved.groups[0].reviewed and not any(g.reviewed for g in saved.groups[1:])
    assert all(m.action == "keep" for m in saved.groups[0].members)
