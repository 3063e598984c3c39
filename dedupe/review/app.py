"""The full-screen review (Textual): a list of groups, the selected group's files side by side with
their thumbnails, facts and proposed actions, and keys to change, accept, undo and save.

The app is a view over `ReviewState` (state.py), which holds every decision and enforces that a
group always keeps a file. Saving goes through the `save` callback the caller passes in (it
writes the report); a failed save is shown and the review goes on. Thumbnails are drawn by the
renderer the caller chose (graphics.py): half-blocks unless told otherwise.
"""

from __future__ import annotations

import concurrent.futures as futures
from collections.abc import Callable, Sequence
from typing import ClassVar

from PIL import Image
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Static

from dedupe.models import Member
from dedupe.report import Report
from dedupe.review import facts
from dedupe.review.graphics import Renderer, forget, picture_widget
from dedupe.review.state import GroupReview, Refused, ReviewState
from dedupe.review.thumbs import HalfBlock, ThumbnailError, load
from dedupe.text import human_bytes, printable

# Below this many columns the group list shows fewer columns to leave room for the pictures.
COMPACT_WIDTH = 120
# Narrowest card (columns); a group with more files than fit side by side scrolls sideways.
MIN_CARD = 28
# Seconds without a group change before the new group's cards are drawn.
SHOW_DELAY = 0.05
# Thumbnails decoded at once in the background.
THUMB_WORKERS = 2

STATUS_MARK = {"pending": "·", "reviewed": "✓", "apart": "≠"}

HELP = """\
[b]↓ ↑  j k[/b]    next / previous group (PgDn PgUp: by 10; Home End)
[b]→ ←  l h[/b]    next / previous file of the group
[b]space  t[/b]    toggle the selected file: keep ⇄ trash
[b]o[/b]           keep only the selected file, trash the others
[b]K[/b]           keep every file of the group
[b]a[/b]           accept the proposal, go to the next group
[b]enter[/b]       the group is fine as it is now: go to the next group
[b]x[/b]           the selected file is not a duplicate of the others
[b]X[/b]           no file of the group is a duplicate of another
[b]u[/b]           undo the last change
[b]w[/b]           save into the report and go on
[b]s[/b]           save and quit
[b]q  esc[/b]      quit without saving (asks if anything is unsaved)

A group always keeps at least one file. "Not duplicates" marks are
remembered: later scans and reviews never group those files again.
[dim]Any key closes this help.[/dim]"""


class ThumbReady(Message):
    """A thumbnail finished decoding in the background (posted from a worker thread)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class Thumb(Widget):
    """The picture of one file at the widget's size: drawn with half-block characters, or by a
    textual-image child widget (kitty graphics protocol, Sixel) when the renderer is one."""

    DEFAULT_CSS = """
    Thumb { height: 1fr; min-height: 2; align: center middle; }
    """

    def __init__(
        self,
        path: str,
        cache: dict[str, Image.Image | str],
        renderer: Renderer = Renderer.BLOCKS,
    ) -> None:
        super().__init__()
        self.path = path
        self.cache = cache
        self.renderer = renderer
        self.display = renderer is not Renderer.NONE
        self._drawn: HalfBlock | None = None
        self._picture: Widget | None = None
        self._picture_of: Image.Image | None = None

    def show(self) -> None:
        """Draw the current file's picture (after a change of file, or once it is decoded)."""
        if self.renderer.is_graphics and self.is_mounted:
            item = self.cache.get(self.path)
            if not isinstance(item, Image.Image):
                self._drop_picture()
            elif item is not self._picture_of:
                self._drop_picture()
                self._picture = picture_widget(self.renderer, item)
                self._picture_of = item
                self.mount(self._picture)
        self.refresh()

    def _drop_picture(self) -> None:
        if self._picture is not None:
            forget(self._picture)
            self._picture.remove()
            self._picture = self._picture_of = None

    def on_mount(self) -> None:
        self.show()

    def on_unmount(self) -> None:
        if self._picture is not None:
            forget(self._picture)

    def render(self) -> HalfBlock | Text:
        item = self.cache.get(self.path)
        width, height = self.content_size.width, self.content_size.height
        if item is None:
            return Text("loading picture…", style="dim", justify="center")
        if isinstance(item, str):
            return Text(f"(no picture: {item})", style="yellow", justify="center")
        if self.renderer is not Renderer.BLOCKS:
            return Text("")  # the picture is the child widget (or there is none)
        drawn = self._drawn
        if drawn is None or (drawn.image, drawn.width, drawn.height) != (item, width, height):
            drawn = self._drawn = HalfBlock(item, width, height)
        return drawn


class Card(Vertical):
    """One file of the selected group: thumbnail, then its facts and proposed action."""

    DEFAULT_CSS = """
    Card {
        width: 30; height: 100%;
        border: round $panel-lighten-2; padding: 0 0 0 1;
        border-title-align: left; border-subtitle-align: right;
    }
    Card.keep { border: round $success; }
    Card.trash { border: round $error; }
    Card.apart { border: round $secondary; }
    Card.keep.selected { border: double $success; background: $success 10%; }
    Card.trash.selected { border: double $error; background: $error 10%; }
    Card.apart.selected { border: double $secondary; background: $secondary 10%; }
    Card > .facts { height: auto; }
    """

    def __init__(
        self,
        member: Member,
        number: int,
        cache: dict[str, Image.Image | str],
        renderer: Renderer = Renderer.BLOCKS,
    ) -> None:
        super().__init__()
        self.member = member
        self.number = number
        self.thumb = Thumb(member.record.path, cache, renderer)
        self.facts = Static(classes="facts")

    def compose(self) -> ComposeResult:
        yield self.thumb
        yield self.facts

    def show(
        self,
        member: Member,
        apart: bool,
        root: str,
        count: int,
        selected: bool,
        details: Sequence[str] = (),
    ) -> None:
        self.member = member
        record = member.record
        label = "NOT A DUPLICATE" if apart else member.action.upper()
        self.set_class(apart, "apart")
        self.set_class(not apart and member.action == "keep", "keep")
        self.set_class(not apart and member.action == "trash", "trash")
        self.set_class(selected, "selected")
        self.border_title = f"{'▶ ' if selected else ''}{label}"
        self.border_subtitle = f"{self.number}/{count}"
        when, what = facts.date(record)
        style = "green" if member.action == "keep" and not apart else "red"
        if apart:
            style = "magenta"
        text = Text()
        text.append(printable(member.reason), style=style)
        text.append(
            f"\n{facts.resolution(record)} {record.fingerprint.format} · "
            f"{human_bytes(record.size)}\n{what} {when}\ndistance {member.distance}\n"
        )
        for line in details:  # what the file carries: sidecars, Live Photo, metadata
            text.append(f"{line}\n", style="dim")
        text.append(facts.display_path(record.path, root), style="bold")
        self.facts.update(text)
        self.thumb.show()


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static {
        width: auto; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss(None)


class ConfirmQuit(ModalScreen[str]):
    """Unsaved decisions: save and quit, quit without saving, or go back to the review."""

    DEFAULT_CSS = """
    ConfirmQuit { align: center middle; }
    ConfirmQuit > Static {
        width: auto; max-width: 100%; height: auto;
        border: round $warning; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, changed: int) -> None:
        super().__init__()
        self.changed = changed

    def compose(self) -> ComposeResult:
        groups = "1 group" if self.changed == 1 else f"{self.changed} groups"
        yield Static(
            f"[b]Unsaved decisions in {groups}.[/b]\n\n"
            "  [b]s[/b]  save and quit\n"
            "  [b]y[/b]  quit without saving (the report stays as it was)\n"
            "  [b]n[/b]  or esc: back to the review"
        )

    def on_key(self, event: events.Key) -> None:
        event.stop()
        if event.key == "s":
            self.dismiss("save")
        elif event.key in ("y", "q"):
            self.dismiss("quit")
        elif event.key in ("n", "escape"):
            self.dismiss("stay")


class ReviewApp(App[str]):
    """`dedupe review` in a terminal. Exits with "saved" or "quit"."""

    TITLE = "dedupe review"
    AUTO_FOCUS = None
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #summary { height: 1; background: $panel; padding: 0 1; }
    #body { height: 1fr; }
    #groups { width: auto; max-width: 50%; height: 100%; border-right: vkey $panel-lighten-2; }
    #detail { width: 1fr; height: 100%; }
    #title { height: auto; padding: 0 1; text-style: bold; }
    #cards { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "group(1)", "next group", show=False),
        Binding("up,k", "group(-1)", "prev group", show=False),
        Binding("pagedown", "group(10)", show=False),
        Binding("pageup", "group(-10)", show=False),
        Binding("home", "group_at(0)", show=False),
        Binding("end", "group_at(-1)", show=False),
        Binding("right,l", "file(1)", "next file", show=False),
        Binding("left,h", "file(-1)", "prev file", show=False),
        Binding("space,t", "toggle_file", "keep/trash", key_display="space"),
        Binding("o", "keep_only", "keep only"),
        Binding("K", "keep_all", "keep all"),
        Binding("a", "accept", "accept"),
        Binding("enter", "confirm", "ok, next", show=False),
        Binding("x", "apart", "not dup"),
        Binding("X", "all_apart", "none dup", show=False),
        Binding("u", "undo", "undo"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("w", "save", "save", show=False),
        Binding("s", "save_quit", "save+quit"),
        Binding("q,escape", "quit_review", "quit"),
        Binding("ctrl+c,ctrl+q", "quit_review", show=False, priority=True),
    ]

    def __init__(
        self,
        report: Report,
        state: ReviewState,
        save: Callable[[Report], str],
        *,
        notice: str | None = None,
        thumbnails: Renderer = Renderer.BLOCKS,
    ) -> None:
        super().__init__()
        self.report = report
        self.renderer = thumbnails
        self.state = state
        self._save = save
        self._notice = notice
        self.current = 0
        self.file = 0
        self._compact: bool | None = None
        self._cards: list[Card] = []
        self._shown: int | None = None
        self._show_timer: Timer | None = None
        self.thumbs: dict[str, Image.Image | str] = {}
        self._pending: set[str] = set()
        self._pool = futures.ThreadPoolExecutor(THUMB_WORKERS, thread_name_prefix="thumbs")

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        with Horizontal(id="body"):
            table: DataTable[str | Text] = DataTable(
                id="groups", cursor_type="row", zebra_stripes=False
            )
            table.can_focus = False
            yield table
            with Vertical(id="detail"):
                yield Static(id="title")
                yield HorizontalScroll(id="cards")
        yield Footer()

    async def on_mount(self) -> None:
        self._build_table()
        await self._show_group()
        if self._notice:
            self.notify(self._notice, timeout=8)

    async def on_resize(self, event: events.Resize) -> None:
        if self._compact != (event.size.width < COMPACT_WIDTH):
            self._build_table()
        self.call_after_refresh(self._size_cards)

    def _size_cards(self) -> None:
        """Share the width among the cards; below MIN_CARD columns each, the row scrolls."""
        if not self._cards:
            return
        available = self.query_one("#cards", HorizontalScroll).size.width
        if available <= 0:
            available = max(MIN_CARD, self.size.width - 30)
        width = max(MIN_CARD, available // len(self._cards))
        for card in self._cards:
            card.styles.width = width

    def on_unmount(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _build_table(self) -> None:
        table = self.query_one("#groups", DataTable)
        self._compact = self.size.width < COMPACT_WIDTH
        table.clear(columns=True)
        if self._compact:
            table.add_column("#", key="id")
            table.add_column("n", key="files")
            table.add_column("frees", key="frees")
            table.add_column(" ", key="status")
        else:
            table.add_column("#", key="id")
            table.add_column("files", key="files")
            table.add_column("frees", key="frees")
            table.add_column("dist", key="dist")
            table.add_column("status", key="status")
        for index, group in enumerate(self.state.groups):
            table.add_row(*self._row(group), key=str(index))
        table.move_cursor(row=self.current, animate=False)
        self._update_summary()

    def _row(self, group: GroupReview) -> list[str | Text]:
        status = group.status
        style = {"pending": "", "reviewed": "green", "apart": "magenta"}[status]
        mark = STATUS_MARK[status]
        word = Text(mark if self._compact else f"{mark} {facts.STATUS_WORDS[status]}", style=style)
        frees = Text(human_bytes(group.reclaimable_bytes), justify="right")
        cells: list[str | Text] = [str(group.id), Text(str(len(group.members)), justify="right")]
        cells.append(frees)
        if not self._compact:
            cells.append(Text(str(group.largest_distance), justify="right"))
        cells.append(word)
        return cells

    def _update_row(self, index: int) -> None:
        table = self.query_one("#groups", DataTable)
        cells = self._row(self.state.groups[index])
        keys = ["id", "files", "frees", "status"] if self._compact else None
        keys = keys or ["id", "files", "frees", "dist", "status"]
        for key, value in zip(keys, cells, strict=True):
            table.update_cell(str(index), key, value)

    def _update_summary(self) -> None:
        state = self.state
        total = len(state.groups)
        parts = [
            f"{state.reviewed_count}/{total} groups reviewed",
            f"{state.trash_count} to trash",
            f"frees {human_bytes(state.reclaimable_bytes)}",
        ]
        text = Text(" · ".join(parts))
        if state.unsaved:
            text.append("  · unsaved", style="bold yellow")
        text.append("   ? help", style="dim")
        self.query_one("#summary", Static).update(text)

    async def _show_group(self) -> None:
        """Show the current group: remount its cards when the group changed, else update them."""
        if not self.state.groups:
            self.query_one("#title", Static).update(
                "No duplicate groups in this report: nothing to review. Press q to quit."
            )
            return
        group = self.state.groups[self.current]
        self.file = max(0, min(self.file, len(group.members) - 1))
        cards_box = self.query_one("#cards", HorizontalScroll)
        if self._shown != self.current:
            if len(self._cards) == len(group.members):
                # Same number of files: reuse the cards (no remount while paging quickly).
                for card, member in zip(self._cards, group.members, strict=True):
                    card.member = member
                    card.thumb.path = member.record.path
                cards_box.scroll_home(animate=False)
            else:
                await cards_box.remove_children()
                self._cards = [
                    Card(member, k + 1, self.thumbs, self.renderer)
                    for k, member in enumerate(group.members)
                ]
                self._size_cards()
                await cards_box.mount_all(self._cards)
            self._shown = self.current
            self._request_thumbs(self.current)
            if self.current + 1 < len(self.state.groups):
                self._request_thumbs(self.current + 1)
        self._refresh_cards()

    def _refresh_cards(self) -> None:
        """Update the title and the cards' facts (cards of another group wait for _show_group)."""
        group = self.state.groups[self.current]
        title = facts.group_title(
            group.group,
            group.status,
            frees=group.reclaimable_bytes,
            position=f" ({self.current + 1} of {len(self.state.groups)})",
        )
        self.query_one("#title", Static).update(Text(title))
        if self._shown != self.current:
            return
        for k, (card, member) in enumerate(zip(self._cards, group.members, strict=True)):
            card.show(
                member,
                member.record.path in group.apart,
                self.state.root,
                len(group.members),
                k == self.file,
                facts.unit_lines(self.report.facts_of(member.record.path), member.record.path),
            )
        if self._cards:
            self._cards[self.file].scroll_visible(animate=False)

    # ------------------------------------------------------------ thumbnails

    def _request_thumbs(self, index: int) -> None:
        if self.renderer is Renderer.NONE:
            return
        for member in self.state.groups[index].members:
            path = member.record.path
            if path in self.thumbs or path in self._pending:
                continue
            self._pending.add(path)
            self._pool.submit(self._decode, path)

    def _decode(self, path: str) -> None:
        """Runs in a worker thread."""
        try:
            result: Image.Image | str = load(path)
        except ThumbnailError as error:
            result = str(error)
        self.thumbs[path] = result
        self.post_message(ThumbReady(path))

    def on_thumb_ready(self, message: ThumbReady) -> None:
        self._pending.discard(message.path)
        for card in self._cards:
            if card.member.record.path == message.path:
                card.thumb.show()

    # ------------------------------------------------------------ actions

    async def action_group(self, step: int) -> None:
        await self._go(self.current + step)

    async def action_group_at(self, index: int) -> None:
        await self._go(index if index >= 0 else len(self.state.groups) + index)

    async def _go(self, index: int) -> None:
        if not self.state.groups:
            return
        index = max(0, min(index, len(self.state.groups) - 1))
        if index != self.current:
            self.current = index
            self.file = 0
            self.query_one("#groups", DataTable).move_cursor(row=index, animate=False)
            self._refresh_cards()
            # Draw the group's cards once the keys pause: holding ↓ stays fluid.
            if self._show_timer is not None:
                self._show_timer.stop()
            self._show_timer = self.set_timer(SHOW_DELAY, self._show_group)

    def action_file(self, step: int) -> None:
        if not self.state.groups:
            return
        count = len(self.state.groups[self.current].members)
        self.file = max(0, min(self.file + step, count - 1))
        self._refresh_cards()

    def _selected_path(self) -> str:
        return self.state.groups[self.current].members[self.file].record.path

    def _change(self, operation: Callable[[ReviewState], ReviewState], index: int) -> bool:
        try:
            new = operation(self.state)
        except Refused as error:
            self.bell()
            self.notify(str(error), severity="error", timeout=4)
            return False
        self.state = new
        self._update_row(index)
        self._update_summary()
        if index == self.current:
            self._refresh_cards()
        return True

    def action_toggle_file(self) -> None:
        if self.state.groups:
            path, index = self._selected_path(), self.current
            self._change(lambda s: s.toggle(index, path), index)

    def action_keep_only(self) -> None:
        if self.state.groups:
            path, index = self._selected_path(), self.current
            if self._change(lambda s: s.keep_only(index, path), index):
                protected = [
                    m.record.path
                    for m in self.state.groups[index].remaining
                    if m.record.path != path and m.action == "keep"
                ]
                if protected:
                    self.notify(f"{len(protected)} protected file(s) stay kept")

    def action_keep_all(self) -> None:
        if self.state.groups:
            index = self.current
            self._change(lambda s: s.keep_all(index), index)

    async def action_accept(self) -> None:
        if self.state.groups:
            index = self.current
            if self._change(lambda s: s.accept(index), index):
                await self._next_or_done()

    async def action_confirm(self) -> None:
        if self.state.groups:
            index = self.current
            if self._change(lambda s: s.confirm(index), index):
                await self._next_or_done()

    async def _next_or_done(self) -> None:
        if self.current + 1 < len(self.state.groups):
            await self._go(self.current + 1)
            return
        pending = len(self.state.groups) - self.state.reviewed_count
        if pending:
            first = next(k for k, g in enumerate(self.state.groups) if g.status == "pending")
            self.notify(
                f"last group; {pending} group(s) still to review (the first is "
                f"group {self.state.groups[first].id}). s saves and quits."
            )
        else:
            self.notify("every group is reviewed: press s to save and quit")

    def action_apart(self) -> None:
        if self.state.groups:
            path, index = self._selected_path(), self.current
            self._change(lambda s: s.set_apart(index, path), index)

    def action_all_apart(self) -> None:
        if self.state.groups:
            index = self.current
            self._change(lambda s: s.all_apart(index), index)

    async def action_undo(self) -> None:
        try:
            new, index = self.state.undo()
        except Refused as error:
            self.notify(str(error), severity="warning")
            return
        self.state = new
        self._update_row(index)
        self._update_summary()
        if index != self.current:
            await self._go(index)
        else:
            self._refresh_cards()
        self.notify(f"undone (group {self.state.groups[index].id})", timeout=2)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def _write(self) -> bool:
        try:
            message = self._save(self.state.to_report(self.report))
        except OSError as error:
            self.notify(f"could not save: {error}", severity="error", timeout=10)
            return False
        self.state = self.state.saved()
        self._update_summary()
        self.notify(message, timeout=4)
        return True

    def action_save(self) -> None:
        self._write()

    def action_save_quit(self) -> None:
        if self._write():
            self.exit("saved")

    def action_quit_review(self) -> None:
        if not self.state.unsaved:
            self.exit("quit")
            return
        changed = self.state.changed_count

        def decided(choice: str | None) -> None:
            if choice == "save":
                self.action_save_quit()
            elif choice == "quit":
                self.exit("quit")

        self.push_screen(ConfirmQuit(changed), decided)

    async def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # A click on the list (the keys never focus it) selects that group.
        table = self.query_one("#groups", DataTable)
        if event.cursor_row == table.cursor_row and event.cursor_row != self.current:
            await self._go(event.cursor_row)
