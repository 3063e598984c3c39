"""The review's pop-up screens: help, the question before quitting, the search by path, the
filter and sort of the group list, the bulk actions and their confirmation, and the list of
files the scan could not use. Each returns its answer through `dismiss`; none changes the
review itself (the app does, with the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from dedupe.models import Problem
from dedupe.review import bulk
from dedupe.review.bulk import Choice
from dedupe.review.facts import STATUS_WORDS, display_path
from dedupe.review.state import ReviewState
from dedupe.review.view import SORTS, STATUSES, View, count_words, folder_words
from dedupe.review.widgets import RowList
from dedupe.text import printable

HELP = """\
[b]Groups[/b]
 [b]↓ ↑  j k[/b]      next / previous group (PgDn PgUp: by 10; Home End)
 [b]f[/b]  [b]F[/b]          filter and sort the list / show every group again
 [b]/[/b]             search by path (part of a file or folder name)
 [b]b[/b]             bulk actions: accept the exact copies, one kind, one
               folder, the closest matches, or all; skip the rest
[b]Files of the group[/b] (the kept copy stays pinned on the left)
 [b]→ ←  l h[/b]      next / previous file (L H: by 10)
 [b]o  enter[/b]      open the file in the system's picture viewer
 [b]space  t[/b]      toggle the selected file: keep ⇄ trash
 [b]c[/b]             keep only the selected file, trash the others
 [b]K[/b]             keep every file of the group
 [b]x[/b]  [b]X[/b]          this file / no file of the group is a duplicate
[b]Deciding[/b]
 [b]a[/b]             accept the proposal, go to the next group
 [b]n[/b]             the group is fine as it is now: go to the next group
 [b]u[/b]             undo the last change (a bulk action as a whole)
 [b]p[/b]             files the scan could not read or skipped, and why
 [b]w[/b]  [b]s[/b]          save into the report / save and quit
 [b]q  esc[/b]        quit without saving (asks if anything is unsaved)

A group always keeps at least one file. "Not duplicates" marks are
remembered: later scans and reviews never group those files again.
The list keeps its rows until you change the filter.
[dim]↓ ↑ scroll this help; any other key closes it.[/dim]"""


def boxed(screen: str, child: str, border: str = "$accent", width: str = "100%") -> str:
    """The CSS of a pop-up: `child` of `screen` centred in a rounded frame of its own size."""
    return f"""
    {screen} {{ align: center middle; }}
    {screen} > {child} {{
        width: auto; max-width: {width}; height: auto; max-height: 100%;
        border: round {border}; padding: 0 1; background: $surface;
    }}
    """


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = boxed("HelpScreen", "VerticalScroll") + "HelpScreen Static { width: auto; }"

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(HELP)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        box = self.query_one(VerticalScroll)
        if event.key in ("down", "j"):
            box.scroll_down(animate=False)
        elif event.key in ("up", "k"):
            box.scroll_up(animate=False)
        elif event.key == "pagedown":
            box.scroll_page_down(animate=False)
        elif event.key == "pageup":
            box.scroll_page_up(animate=False)
        else:
            self.dismiss(None)


class Question(ModalScreen[str]):
    """A question answered by one key: `answers` maps a key to the answer dismissed with."""

    DEFAULT_CSS = boxed("Question", "Static", "$warning", "90%")

    def __init__(self, text: str | Text, answers: dict[str, str]) -> None:
        super().__init__()
        self.text = text
        self.answers = answers

    def compose(self) -> ComposeResult:
        yield Static(self.text)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        answer = self.answers.get(event.key)
        if answer is not None:
            self.dismiss(answer)


class ConfirmQuit(Question):
    """Unsaved decisions: save and quit, quit without saving, or go back to the review."""

    def __init__(self, changed: int) -> None:
        groups = "1 group" if changed == 1 else f"{changed:,} groups"
        super().__init__(
            f"[b]Unsaved decisions in {groups}.[/b]\n\n"
            "  [b]s[/b]  save and quit\n"
            "  [b]y[/b]  quit without saving (the report stays as it was)\n"
            "  [b]n[/b]  or esc: back to the review",
            {"s": "save", "y": "quit", "q": "quit", "n": "stay", "escape": "stay"},
        )


class SearchScreen(ModalScreen[str | None]):
    """A line at the bottom to type part of a path; enter searches, esc leaves it as it was."""

    DEFAULT_CSS = """
    SearchScreen { align: center bottom; }
    SearchScreen > Vertical { height: auto; background: $surface; border-top: solid $accent; }
    SearchScreen Input { border: none; height: 1; padding: 0 1; }
    SearchScreen Static { height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", show=False)]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Text.from_markup(
                    "[b]Search by path[/b]: groups with a file whose path has this text "
                    "(any case). enter: search · esc: cancel · empty: no search"
                )
            )
            yield Input(value=self.current, placeholder="part of a file or folder name")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Menu(ModalScreen[object]):
    """A list of lines to choose from with ↑ ↓ (or their number key), some adjustable with
    ← →; the subclass says what the lines are and what enter does."""

    DEFAULT_CSS = """
    Menu { align: center middle; }
    Menu > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    Menu Static { height: auto; }
    """

    KEYS: ClassVar[str] = "↑ ↓ choose · enter: choose · esc: cancel"

    def __init__(self) -> None:
        super().__init__()
        self.selected = 0
        self.body = Static(classes="body")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield self.body

    def on_mount(self) -> None:
        self.redraw()

    def lines(self) -> list[Text]:
        raise NotImplementedError

    def head(self) -> Text:
        raise NotImplementedError

    def foot(self) -> Text:
        return Text(self.KEYS, style="dim")

    def adjust(self, step: int) -> None:
        """← (-1) or → (+1) on the selected line."""

    def choose(self) -> None:
        """enter on the selected line."""

    def redraw(self) -> None:
        text = self.head()
        text.append("\n")
        for k, line in enumerate(self.lines()):
            marker = Text("▶ " if k == self.selected else "  ")
            row = marker + line
            if k == self.selected:
                row.stylize("reverse")
            text.append("\n")
            text.append_text(row)
        text.append("\n\n")
        text.append_text(self.foot())
        self.body.update(text)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        count = len(self.lines())
        key = event.key
        if key in ("down", "j"):
            self.selected = min(count - 1, self.selected + 1)
        elif key in ("up", "k"):
            self.selected = max(0, self.selected - 1)
        elif key in ("left", "h", "minus"):
            self.adjust(-1)
        elif key in ("right", "l", "plus"):
            self.adjust(1)
        elif key == "enter":
            self.choose()
            return
        elif key in ("escape", "q"):
            self.dismiss(None)
            return
        elif key.isdigit() and 1 <= int(key) <= count:
            self.selected = int(key) - 1
            self.redraw()
            self.choose()
            return
        else:
            self.on_other_key(key)
        self.redraw()

    def on_other_key(self, key: str) -> None:
        """A key the menu itself does not use."""


class FilterScreen(Menu):
    """Which groups the list shows and in what order; dismissed with the new View (or None)."""

    ROWS = ("status", "kind", "folder", "distance", "sort", "search")
    KEYS = "↑ ↓ choose · ← → change · enter: show · c: clear the filters · esc: cancel"

    def __init__(self, state: ReviewState, view: View, kinds: Sequence[str], folders: list[str]):
        super().__init__()
        self.state = state
        self.view = view
        self.kinds: list[str | None] = [None, *kinds]
        # Folders to filter on: those of the selected file, and the current filter's.
        options: list[str | None] = [None, *folders]
        if view.folder is not None and view.folder not in options:
            options.append(view.folder)
        self.folders = options
        top = max((g.largest_distance for g in state.groups), default=0)
        self.distances: list[int | None] = [None, *range(top + 1)]

    def head(self) -> Text:
        shown = len(self.view.rows(self.state))
        text = Text("Filter and sort the group list", style="bold")
        text.append(f" · shows {count_words(shown, len(self.state.groups))}")
        return text

    def lines(self) -> list[Text]:
        v, root = self.view, self.state.root
        status = "any" if v.status == "any" else STATUS_WORDS.get(v.status, v.status)
        folder = "any" if v.folder is None else folder_words(v.folder, root)
        distance = "any" if v.max_distance is None else f"at most {v.max_distance}"
        search = f'"{v.search}"' if v.search else "none (press / in the review)"
        values = (
            ("status", status),
            ("kind", v.kind or "any"),
            ("folder", f"{folder}  (groups with a file there)" if v.folder else folder),
            ("distance", distance),
            ("sort", SORTS.get(v.sort, v.sort)),
            ("search", search),
        )
        return [Text(f"{name:<9} ◂ {value} ▸") for name, value in values]

    def adjust(self, step: int) -> None:
        row, v = self.ROWS[self.selected], self.view

        def turn(options: Sequence[object], value: object) -> object:
            k = options.index(value) if value in options else 0
            return options[(k + step) % len(options)]

        if row == "status":
            self.view = replace(v, status=str(turn(STATUSES, v.status)))
        elif row == "kind":
            self.view = replace(v, kind=turn(self.kinds, v.kind))  # type: ignore[arg-type]
        elif row == "folder":
            self.view = replace(v, folder=turn(self.folders, v.folder))  # type: ignore[arg-type]
        elif row == "distance":
            self.view = replace(v, max_distance=turn(self.distances, v.max_distance))  # type: ignore[arg-type]
        elif row == "sort":
            self.view = replace(v, sort=str(turn(list(SORTS), v.sort)))
        elif row == "search":
            self.view = replace(v, search="")

    def on_other_key(self, key: str) -> None:
        if key == "c":
            self.view = self.view.cleared()

    def choose(self) -> None:
        self.dismiss(self.view)


class BulkScreen(Menu):
    """The bulk actions, each with what it would do; enter asks for confirmation, and the
    screen is dismissed with the confirmed Choice (or None)."""

    KEYS = "↑ ↓ or 1-9 choose · ← → change the folder or distance · enter: ask · esc: cancel"

    def __init__(
        self,
        state: ReviewState,
        *,
        folders: list[str],
        distance: int,
        shown: Sequence[int] | None,
    ) -> None:
        super().__init__()
        self.state = state
        self.folders = folders
        self.folder = 0
        self.distance = distance
        self.shown = shown
        self.top = max((g.largest_distance for g in state.groups), default=0)
        self.options = self.compute()

    def compute(self) -> list[Choice]:
        folder = self.folders[self.folder] if self.folders else None
        return bulk.choices(self.state, folder=folder, distance=self.distance, shown=self.shown)

    def head(self) -> Text:
        left = len(bulk.untouched(self.state))
        text = Text("Bulk actions", style="bold")
        text.append(
            f" · {left:,} of {len(self.state.groups):,} groups still to review. Each acts "
            "only on those, asks first, and u undoes it in one step."
        )
        return text

    def lines(self) -> list[Text]:
        out = []
        for k, choice in enumerate(self.options):
            line = Text(f"{k + 1}  {choice.title}\n")
            line.append(f"     {choice.counts()}", style="bold")
            if choice.key == "folder":
                line.append("   ← → another folder", style="dim")
            elif choice.key == "distance":
                line.append("   ← → change", style="dim")
            out.append(line)
        return out

    def adjust(self, step: int) -> None:
        key = self.options[self.selected].key
        if key == "folder" and self.folders:
            # ← goes up a folder (the list runs innermost first), → back down.
            self.folder = max(0, min(len(self.folders) - 1, self.folder - step))
        elif key == "distance":
            self.distance = max(0, min(self.top, self.distance + step))
        else:
            return
        self.options = self.compute()

    def choose(self) -> None:
        choice = self.options[self.selected]

        def answered(answer: str | None) -> None:
            if answer == "yes":
                self.dismiss(choice)

        answers = {"y": "yes", "n": "no", "escape": "no"} if choice.indices else {}
        answers.setdefault("escape", "no")
        answers.setdefault("enter", "no")
        text = Text(f"{choice.title[0].upper()}{choice.title[1:]}\n\n", style="bold")
        text.append(choice.confirmation())
        text.append("\n\n")
        if choice.indices:
            text.append(" y ", style="bold reverse")
            text.append(" yes, do it    ")
            text.append(" n ", style="bold reverse")
            text.append(" or esc: no")
        else:
            text.append(" esc ", style="bold reverse")
            text.append(" back")
        self.app.push_screen(Question(text, answers), answered)


class ProblemsScreen(ModalScreen[None]):
    """The files the scan could not read, and those it skipped, each with its reason."""

    DEFAULT_CSS = """
    ProblemsScreen { align: center middle; }
    ProblemsScreen > Vertical {
        width: 95%; height: 90%; border: round $warning; padding: 0 1; background: $surface;
    }
    ProblemsScreen Static { height: auto; }
    """

    def __init__(self, errors: Sequence[Problem], skipped: Sequence[Problem], root: str) -> None:
        super().__init__()
        self.items = [("unreadable", p) for p in errors] + [("skipped", p) for p in skipped]
        self.root = root
        self.rows = RowList(self.row, cursor=False)

    def row(self, index: int) -> Text:
        """Two rows per file: what and its path, then the reason."""
        what, problem = self.items[index // 2]
        if index % 2:
            return Text(f"    {printable(problem.reason)}")
        text = Text(f"{what:<11}", style="bold")
        text.append(display_path(problem.path, self.root))
        return text

    def compose(self) -> ComposeResult:
        with Vertical():
            errors = sum(1 for what, _ in self.items if what == "unreadable")
            skipped = len(self.items) - errors
            yield Static(
                Text.from_markup(
                    f"[b]{errors:,} unreadable[/b] (not compared with anything) and "
                    f"[b]{skipped:,} skipped[/b] files, with the reasons. "
                    + ("" if self.items else "There are none. ")
                    + "↓ ↑ PgDn PgUp move · any other key closes."
                )
            )
            yield self.rows

    def on_mount(self) -> None:
        self.rows.set_count(2 * len(self.items), 200)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        rows = self.rows
        page = max(1, rows.size.height - 1)
        steps = {"down": 2, "j": 2, "up": -2, "k": -2, "pagedown": page, "pageup": -page}
        if event.key in steps:
            rows.scroll_to(y=rows.scroll_offset.y + steps[event.key], animate=False)
        else:
            self.dismiss(None)
