"""The full-screen review driven by Textual's pilot: keys through a whole review of a generated
library, then the saved report (and the remembered "not duplicates" marks) are checked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import Library, photo

from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.report import Report
from dedupe.review import marks
from dedupe.review.app import ConfirmQuit, HelpScreen, ReviewApp
from dedupe.review.state import ReviewState

SIZE = (120, 40)


def build_library(library: Library, groups: int = 6) -> None:
    """`groups` pictures, each as gNN_orig.jpg (400x300) and gNN_small.jpg (200x150); the
    third also as a PNG. Plus two pictures with no copy. Groups sort as g01, g02, ..."""
    for k in range(1, groups + 1):
        image = photo(100 + k, (400, 300))
        library.save(f"g{k:02d}_orig.jpg", image, quality=92)
        library.save(f"g{k:02d}_small.jpg", image.resize((200, 150)), quality=85)
        if k == 3:
            library.save(f"g{k:02d}_copy.png", image)
    library.save("lonely1.jpg", photo(900, (400, 300)), quality=90)
    library.save("lonely2.jpg", photo(901, (400, 300)), quality=90)


def scan(library: Library, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    assert main(["scan", str(library.root), "--report", str(path), "--no-cache", "-j", "1"]) == 0
    return path


def make_app(path: Path) -> ReviewApp:
    report = report_mod.read(path)

    def save(decided: Report) -> str:
        report_mod.write(decided, path)
        marks.remember(decided.not_duplicates)
        return "saved"

    return ReviewApp(report, ReviewState.start(report), save)


def names(group: dict[str, object]) -> dict[str, str]:
    files = group["files"]
    assert isinstance(files, list)
    return {Path(f["path"]).name: f["action"] for f in files}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Library, bytes]:
    """One generated library and its scan report for the whole module (the photos are only
    read); each test gets its own copy of the report."""
    base = tmp_path_factory.mktemp("review-lib")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "xdg-data"))
        library = Library(base / "photos")
        library.root.mkdir()
        build_library(library)
        path = scan(library, base)
    groups = report_mod.read(path).groups
    assert [len(g.members) for g in groups] == [2, 2, 3, 2, 2, 2]
    return library, path.read_bytes()


@pytest.fixture
def scanned(shared: tuple[Library, bytes], tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_bytes(shared[1])
    return path


def test_whole_review_by_keyboard_is_saved_exactly(scanned: Path) -> None:
    async def scenario() -> None:
        app = make_app(scanned)
        async with app.run_test(size=SIZE) as pilot:
            # Group 1: the proposal keeps the 800x600 original; accept it (moves to group 2).
            await pilot.press("a")
            assert app.current == 1
            # Group 2: keep the small copy instead ("keep only this one").
            await pilot.press("right", "c", "down")
            # Group 3: keep all three files.
            await pilot.press("K", "down")
            # Group 4: the second file is not a duplicate: the group dissolves.
            await pilot.press("right", "x")
            assert app.state.groups[3].dissolved
            await pilot.press("down")
            # Group 5: the keeper cannot be trashed while it is the only kept copy...
            await pilot.press("space")
            assert app.state.groups[4].members[0].action == "keep"
            # ...but after keeping the other one it can; then undo both changes.
            await pilot.press("right", "space", "left", "space")
            assert [m.action for m in app.state.groups[4].members] == ["trash", "keep"]
            await pilot.press("u", "u")
            assert [m.action for m in app.state.groups[4].members] == ["keep", "trash"]
            await pilot.press("n")  # fine as it is: reviewed, on to group 6
            assert app.current == 5
            # Group 6 stays unreviewed. Save and quit.
            await pilot.press("s")
        assert app.return_value == "saved"

        data = json.loads(scanned.read_text())
        groups = data["groups"]
        assert [g["id"] for g in groups] == [1, 2, 3, 5, 6]
        assert [g["reviewed"] for g in groups] == [True, True, True, True, False]
        assert names(groups[0]) == {"g01_orig.jpg": "keep", "g01_small.jpg": "trash"}
        assert names(groups[1]) == {"g02_orig.jpg": "trash", "g02_small.jpg": "keep"}
        assert names(groups[2]) == {
            "g03_copy.png": "keep",
            "g03_orig.jpg": "keep",
            "g03_small.jpg": "keep",
        }
        assert names(groups[3]) == {"g05_orig.jpg": "keep", "g05_small.jpg": "trash"}
        assert names(groups[4]) == {"g06_orig.jpg": "keep", "g06_small.jpg": "trash"}
        reasons = {Path(f["path"]).name: f["reason"] for g in groups for f in g["files"]}
        assert reasons["g02_small.jpg"] == "chosen by you as the copy to keep"
        assert reasons["g02_orig.jpg"] == "marked trash by you; keeping g02_small.jpg"
        assert reasons["g01_small.jpg"] == "keeps the 400x300 original; this is a 200x150 copy"
        pair = sorted(Path(p).name for p in data["not_duplicates"][0])
        assert pair == ["g04_orig.jpg", "g04_small.jpg"]
        saved = report_mod.read(scanned)
        assert report_mod.problems(saved) == []
        assert saved.duplicates == 4
        # The mark is remembered for later scans and reviews.
        assert {tuple(sorted(Path(p).name for p in pr)) for pr in marks.load().pairs} == {
            ("g04_orig.jpg", "g04_small.jpg")
        }

    asyncio.run(scenario())


def test_rescan_remembers_not_duplicates(scanned: Path, shared: tuple[Library, bytes]) -> None:
    library = shared[0]

    async def scenario() -> None:
        app = make_app(scanned)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("X", "s")
        assert [g.id for g in report_mod.read(scanned).groups] == [2, 3, 4, 5, 6]
        rescanned = scanned.with_name("again.json")
        assert main(["scan", str(library.root), "--report", str(rescanned), "--no-cache"]) == 0
        again = report_mod.read(rescanned)
        first_names = {Path(m.record.path).name for m in again.groups[0].members}
        assert "g01_orig.jpg" not in first_names
        assert len(again.groups) == 5

    asyncio.run(scenario())


def test_quit_asks_when_unsaved_and_leaves_the_report(scanned: Path) -> None:
    async def scenario() -> None:
        before = scanned.read_bytes()
        app = make_app(scanned)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("K")
            await pilot.press("q")
            assert isinstance(app.screen, ConfirmQuit)
            await pilot.press("n")  # back to the review
            assert not isinstance(app.screen, ConfirmQuit)
            assert app.state.unsaved
            await pilot.press("q", "y")
        assert app.return_value == "quit"
        assert scanned.read_bytes() == before

    asyncio.run(scenario())


def test_quit_without_changes_does_not_ask(scanned: Path) -> None:
    async def scenario() -> None:
        app = make_app(scanned)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("down", "right", "?")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("space")  # any key closes the help
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("q")
        assert app.return_value == "quit"

    asyncio.run(scenario())


def test_thumbnails_are_drawn_and_a_missing_file_says_so(library: Library, tmp_path: Path) -> None:
    build_library(library, groups=1)
    scanned = scan(library, tmp_path)

    async def scenario() -> None:
        report = report_mod.read(scanned)
        gone = report.groups[0].members[1].record.path
        Path(gone).unlink()
        app = make_app(scanned)
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(200):
                if len(app.thumbs) >= 2:
                    break
                await pilot.pause(0.02)
            await pilot.pause()
            # The pair: the kept copy pinned on the left, the other file beside it.
            cards = app.pair
            thumbs = [card.thumb for card in cards]
            drawn = [str(t.render_line(t.content_size.height // 2).text) for t in thumbs]
            assert "▀" in drawn[0]
            assert "file is gone" in str(app.thumbs[gone])
            assert "no picture: file is gone" in str(thumbs[1].render())
            assert cards[0].has_class("keep") and cards[0].has_class("selected")
            assert cards[1].has_class("trash")
            assert "✓ KEEP" in str(cards[0].label.render())
            assert "✗ TRASH" in str(cards[1].label.render())
            await pilot.press("q")

    asyncio.run(scenario())


def test_small_terminal_and_empty_report(tmp_path: Path, library: Library) -> None:
    async def scenario() -> None:
        library.save("one.jpg", photo(1, (200, 150)), quality=90)
        path = scan(library, tmp_path)
        app = make_app(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("space", "a", "down", "x", "u")  # nothing to act on: no crash
            await pilot.press("q")
        assert app.return_value == "quit"

    asyncio.run(scenario())
