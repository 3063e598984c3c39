"""The full-screen review (Textual): the list of groups, the selected group with its kept copy
pinned beside the selected file (both large) and every file of the group below (small cards,
or one line each for a big group), and keys to change, accept (one group or many at once),
filter, search, open a file, undo and save.

The app is a view over `ReviewState` (state.py), which holds every decision and enforces that a
group always keeps a file; `View` (view.py) says which groups the list shows, `bulk.py` what a
bulk action does. Saving goes through the `save` callback the caller passes in (it writes the
report); a failed save is shown and the review goes on. Thumbnails are drawn by the renderer the
caller chose (graphics.py): half-blocks unless told otherwise.

The app can start from a preview of the report (quickread.py: its groups, read ahead of its
images) with a `loader` that reads the whole report on a thread once the first group is on
screen. Until it is done, every key that would change or save a decision waits for it (the
keys are not lost: they run in order once it is there).

It can also start from the first groups of a regroup (`review --threshold`: api.Regrouping),
whose whole result comes from a thread, begun once the first groups are on screen. Until it
has come, the keys that decide or save, and those that need every group (bulk, filter,
search), wait for it the same way; once it is there it replaces the first groups, which it
begins with (the review checks that it does).

It is designed for 80 x 24 first: one line of totals, the list at about 28 columns with every
column, one line of messages (no pop-up notices) and one line of keys that always keeps ?, s
and q.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as futures
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from PIL import Image
from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.css.scalar import Scalar
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from dedupe.errors import DedupeError
from dedupe.report import Report, ReportError
from dedupe.review import bulk, facts, quickread
from dedupe.review.bulk import Choice
from dedupe.review.graphics import Renderer
from dedupe.review.opener import OpenError, open_file
from dedupe.review.screens import (
    BulkScreen,
    ConfirmQuit,
    FilterScreen,
    HelpScreen,
    ProblemsScreen,
    SearchScreen,
)
from dedupe.review.state import GroupReview, Refused, ReviewState
from dedupe.review.thumbs import ThumbnailError, load
from dedupe.review.view import View, count_words, folders_of
from dedupe.review.widgets import (
    LABEL_STYLES,
    Card,
    KeyBar,
    Lines,
    RowList,
    Thumb,
    ThumbCache,
    label_of,
    left_cut,
)
from dedupe.text import human_bytes

if TYPE_CHECKING:
    from rich.console import RenderableType

    from dedupe.api import Regrouped, Regrouping

__all__ = ["Card", "ConfirmQuit", "HelpScreen", "ReviewApp", "Thumb"]

# From this many columns the group list also shows each group's kind and status in words.
WIDE = 120
# Up to this many files (and with the room), the files below the pair are small cards with
# pictures; a bigger group is a compact list, one line per file.
STRIP_MAX = 12
STRIP_MIN_HEIGHT = 40
# Seconds without a change of group before its pictures are asked for (holding ↓ stays fluid;
# the labels and facts are there at once).
SHOW_DELAY = 0.05
# Thumbnails decoded at once in the background.
THUMB_WORKERS = 2
# Seconds a message stays on its line.
MESSAGE_SECONDS = 6.0

STATUS_MARK = {"pending": "·", "reviewed": "✓", "apart": "≠"}
STATUS_STYLE = {"pending": "", "reviewed": "green", "apart": "magenta"}

KEYS = (
    ("a", "accept"),
    ("spc", "keep/trash"),
    ("b", "bulk"),
    ("/", "find"),
    ("f", "filter"),
    ("o", "open"),
    ("c", "keep only"),
    ("n", "ok,next"),
    ("u", "undo"),
    ("x", "not dup"),
)
ALWAYS = (("?", "help"), ("s", "save+quit"), ("q", "quit"))


class ThumbReady(Message):
    """A thumbnail finished decoding in the background (posted from a worker thread)."""

    def __init__(self, path: str, item: Image.Image | str) -> None:
        super().__init__()
        self.path = path
        self.item = item


@dataclass(frozen=True)
class FullReport:
    """The whole report, read on a thread (or why it could not be: `error`)."""

    report: Report | None
    error: str | None


class ReviewApp(App[str]):
    """`dedupe review` in a terminal. Exits with "saved" or "quit"."""

    TITLE = "dedupe review"
    AUTO_FOCUS = None
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #summary { height: 1; background: $panel; padding: 0 1; }
    #viewbar { height: 1; padding: 0 1; background: $boost; }
    #body { height: 1fr; }
    #side { width: 28; height: 100%; border-right: vkey $panel-lighten-2; }
    #list-head { height: 1; text-style: bold; }
    #detail { width: 1fr; height: 100%; }
    #title { padding: 0 1; text-style: bold; }
    #pair { height: 1fr; min-height: 8; }
    #strip { height: 11; }
    #files-head { height: 1; padding: 0 1; text-style: bold; }
    #files { height: 8; }
    #message { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    #message.error { background: $error 40%; text-style: bold; }
    #message.warning { background: $warning 30%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,j", "group(1)", show=False),
        Binding("up,k", "group(-1)", show=False),
        Binding("pagedown", "group(10)", show=False),
        Binding("pageup", "group(-10)", show=False),
        Binding("home", "group_at(0)", show=False),
        Binding("end", "group_at(-1)", show=False),
        Binding("right,l", "file(1)", show=False),
        Binding("left,h", "file(-1)", show=False),
        Binding("L,shift+right", "file(10)", show=False),
        Binding("H,shift+left", "file(-10)", show=False),
        Binding("space,t", "toggle_file", show=False),
        Binding("c", "keep_only", show=False),
        Binding("K", "keep_all", show=False),
        Binding("a", "accept", show=False),
        Binding("n", "confirm", show=False),
        Binding("x", "apart", show=False),
        Binding("X", "all_apart", show=False),
        Binding("u", "undo", show=False),
        Binding("o,enter", "open_file", show=False),
        Binding("b", "bulk", show=False),
        Binding("f", "filter", show=False),
        Binding("F", "clear_filter", show=False),
        Binding("slash", "search", show=False),
        Binding("p", "problems", show=False),
        Binding("question_mark", "help", show=False),
        Binding("w", "save", show=False),
        Binding("s", "save_quit", show=False),
        Binding("q,escape", "quit_review", show=False),
        Binding("ctrl+c,ctrl+q", "quit_review", show=False, priority=True),
    ]
    # The keys that quit from anywhere (above): heard as they arrive while a key waits
    # (post_message). Not q or escape: typed ahead, they may be meant for what the waiting key
    # opens (a search's text, a screen to close).
    QUIT_KEYS: ClassVar[frozenset[str]] = frozenset({"ctrl+c", "ctrl+q"})

    def __init__(
        self,
        report: Report,
        state: ReviewState,
        save: Callable[[Report], str],
        *,
        notice: str | None = None,
        thumbnails: Renderer = Renderer.BLOCKS,
        loader: Callable[[], Report] | None = None,
        regrouping: Regrouping | None = None,
        regrouped_notice: Callable[[Regrouped], str] | None = None,
    ) -> None:
        """`report`: the report, its preview (with `loader`) or the first groups of
        `regrouping` (`regrouped_notice(result)`: what to say when its whole result is there)."""
        # (before App's own: post_message looks at them)
        self._waits = 0  # keys waiting for the whole report or regroup (_whole_report)
        self._quit_asked = asyncio.Event()  # a quit key came while one waited
        self._ending = False  # exit() was called: nothing more is shown
        super().__init__()
        self.report = report
        self.renderer = thumbnails
        self.state = state
        self._save = save
        self._notice = notice
        self._loader = loader
        self._loaded: asyncio.Event | None = None
        self._load_error: str | None = None
        self._regrouping = regrouping
        self._regrouped_notice = regrouped_notice
        # what the summary and a waiting key say until the rest is there
        self._waiting = ("reading the whole report…", "reading the rest of the report first…")
        self.view = View()
        self.rows: tuple[int, ...] = tuple(range(len(state.groups)))
        self.row = 0
        self.file = 0
        self.wide = False
        self.thumbs = ThumbCache()
        self._pending: dict[str, futures.Future[None]] = {}
        self._pool = futures.ThreadPoolExecutor(THUMB_WORKERS, thread_name_prefix="thumbs")
        self._thumb_timer: Timer | None = None
        self._message_timer: Timer | None = None
        self._said = ""  # the last message said (_say)
        self._widths: tuple[int, ...] = ()
        self.groups_list = RowList(self._group_row, id="groups")
        self.files_list = RowList(self._file_row, id="files")
        self.pair: list[Card] = []  # the kept copy and the selected file (made by compose)
        self.strip: list[Card] = []

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # The cards are made here, with the renderer as it is when the app starts.
        renderer = self.renderer
        self.pair = [Card(self.thumbs, renderer), Card(self.thumbs, renderer)]
        self.strip = [Card(self.thumbs, renderer, small=True) for _ in range(STRIP_MAX)]
        yield Static(id="summary")
        yield Static(id="viewbar")
        with Horizontal(id="body"):
            with Vertical(id="side"):
                yield Static(id="list-head")
                yield self.groups_list
            with Vertical(id="detail"):
                yield Lines(id="title")
                with Horizontal(id="pair"):
                    yield from self.pair
                yield Static(id="files-head")
                with HorizontalScroll(id="strip"):
                    yield from self.strip
                yield self.files_list
        yield Static(id="message")
        yield KeyBar(KEYS, ALWAYS, id="keys")

    async def on_mount(self) -> None:
        self.query_one("#message").display = False
        if self._loader is not None:
            self._loaded = asyncio.Event()
            # After the first frame: the whole report is read while the first group is shown.
            self.call_after_refresh(self._start_loading)
        elif self._regrouping is not None:
            # Also when the regroup has ended already: its result replaces the state, so a
            # key pressed before that (typed ahead) waits for it rather than being dropped.
            self._loaded = asyncio.Event()
            self._waiting = ("regrouping the rest…", "regrouping the other groups first…")
            # After the first frame too: the thread shares the interpreter's time with it.
            self.call_after_refresh(self._start_regrouping)
        self._layout()
        self._show_view()
        if self._notice:
            self._say(self._notice, seconds=15)

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        self._show_group()

    def on_unmount(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def current(self) -> int | None:
        """The index (into state.groups) of the selected group; None when the list is empty."""
        return self.rows[self.row] if self.rows else None

    def _layout(self) -> None:
        """Column widths of the group list, from the data and the screen's width."""
        groups = self.state.groups
        self.wide = self.size.width >= WIDE
        widths = [
            max([len(str(g.id)) for g in groups] + [1]),
            max([len(str(len(g.members))) for g in groups] + [1]),
            9,
            max([len(str(g.largest_distance)) for g in groups] + [1]),
        ]
        if self.wide:
            kinds = {g.kind for g in groups}
            widths.append(min(14, max([len(k) for k in kinds] + [4])))
            widths.append(max(len(w) for w in facts.STATUS_WORDS.values()) + 2)
        else:
            widths.append(1)
        self._widths = tuple(widths)
        inner = sum(widths) + len(widths) - 1 + 1  # gaps, the cursor mark
        side = self.query_one("#side")
        side.styles.width = min(inner + 2, max(20, self.size.width // 2))
        names = ["#", "n", "frees", "d"] + (["kind", "status"] if self.wide else [""])
        head = " " + " ".join(
            name.rjust(w) if k < 4 else name.ljust(w)
            for k, (name, w) in enumerate(zip(names, widths, strict=True))
        )
        self.query_one("#list-head", Static).update(Text(head.rstrip()), layout=False)
        self.groups_list.set_count(len(self.rows), inner)

    def _group_row(self, row: int) -> Text:
        group = self.state.groups[self.rows[row]]
        w = self._widths
        status = group.status
        text = Text(
            f"{group.id:>{w[0]}} {len(group.members):>{w[1]}} "
            f"{human_bytes(group.reclaimable_bytes):>{w[2]}} {group.largest_distance:>{w[3]}} "
        )
        mark = STATUS_MARK[status]
        if self.wide:
            kind = group.kind if len(group.kind) <= w[4] else group.kind[: w[4] - 1] + "…"
            text.append(f"{kind:<{w[4]}} ")
            mark = f"{mark} {facts.STATUS_WORDS[status]}"
        text.append(mark, style=None if self.no_color else STATUS_STYLE[status])
        return text

    def _file_row(self, row: int) -> Text:
        group = self._group()
        if group is None or row >= len(group.members):
            return Text("")
        member = group.members[row]
        record = member.record
        words, key = label_of(member, member.record.path in group.apart)
        count = len(group.members)
        text = Text(f"{row + 1:>{len(str(count))}} ")
        with_colour, without = LABEL_STYLES[key]
        text.append(f"{words:<8}", style=without if self.no_color else with_colour)
        pinned = "◆" if row == group.reference else " "
        # The resolution only where there is room for it beside the name.
        wide = self.files_list.size.width >= 70
        resolution = f"{facts.resolution(record):>9} " if wide else ""
        text.append(f" {pinned} {resolution}{human_bytes(record.size):>9} d{member.distance:<2} ")
        room = self.files_list.size.width - 2 - cell_len(text.plain)
        text.append(left_cut(facts.display_path(record.path, self.state.root), room))
        return text

    def _group(self) -> GroupReview | None:
        index = self.current
        return None if index is None else self.state.groups[index]

    # ------------------------------------------------------------ drawing

    def _show_view(self) -> None:
        """The list after a change of view (filter, sort, search) or of the whole state."""
        self.groups_list.set_count(len(self.rows), self.groups_list.virtual_size.width)
        self.row = max(0, min(self.row, len(self.rows) - 1))
        self.groups_list.move_to(self.row)
        bar = self.query_one("#viewbar", Static)
        bar.display = not self.view.default
        if not self.view.default:
            bar.update(
                Text(
                    f"List: {count_words(len(self.rows), len(self.state.groups))} · "
                    f"{self.view.describe(self.state.root)} · f change · F show all",
                    overflow="ellipsis",
                    no_wrap=True,
                )
            )
        self._update_summary()
        self._show_group()

    def _update_summary(self) -> None:
        state = self.state
        total = len(state.groups)
        pieces: list[tuple[str, str]] = [(f"{state.reviewed_count:,}/{total:,} reviewed", "bold")]
        if state.unsaved:
            pieces.append(("● unsaved", "bold" if self.no_color else "bold yellow"))
        if self._loaded is not None and not self._loaded.is_set():
            pieces.append((self._waiting[0], "italic"))
        pieces += [
            (f"{state.trash_count:,} to trash", ""),
            (f"frees {human_bytes(state.reclaimable_bytes)}", ""),
        ]
        problems = []
        if self.report.errors:
            problems.append(f"{len(self.report.errors):,} unreadable")
        if self.report.skipped:
            problems.append(f"{len(self.report.skipped):,} skipped")
        if problems:
            pieces.append((", ".join(problems) + ": p", ""))
        width = max(10, self.size.width - 2)
        text = Text()
        for words, style in pieces:
            gap = " · " if text.plain else ""
            if cell_len(text.plain) + len(gap) + cell_len(words) > width:
                continue  # a shorter piece further on may still fit
            text.append(gap)
            text.append(words, style=style)
        self.query_one("#summary", Static).update(text, layout=False)

    def _show_group(self) -> None:
        """The selected group: its title, the pinned pair and the other files."""
        group = self._group()
        title = self.query_one("#title", Lines)
        title_width = title.size.width - 2
        parts = [*self.pair, self.strip_box, self.files_list, self.files_head]
        if group is None:
            for widget in parts:
                widget.display = False
            if self.state.groups:
                words = "No group matches this filter: press f to change it, F to show all."
            else:
                words = "No duplicate groups in this report: nothing to review. Press q to quit."
            title.show(Text(words), title_width)
            return
        count = len(group.members)
        self.file = max(0, min(self.file, count - 1))
        title.show(
            Text(
                facts.group_title(
                    group.group,
                    group.status,
                    frees=group.reclaimable_bytes,
                    position=f" ({self.row + 1:,} of {len(self.rows):,}{self._so_far})",
                )
            ),
            title_width,
        )
        root = self.state.root
        reference = group.reference
        other = self.file if self.file != reference else (reference + 1) % count
        for card, k in zip(self.pair, (reference, other), strict=True):
            member = group.members[k]
            apart = member.record.path in group.apart
            if k == reference and member.action == "keep" and not apart:
                note = "kept copy · pinned"
            else:
                note = "selected" if k == self.file else "next file"
            if not card.display:
                card.display = True
            card.show(
                member,
                apart=apart,
                root=root,
                number=k + 1,
                count=count,
                selected=k == self.file,
                note=note,
                details=facts.unit_lines(
                    self.report.facts_of(member.record.path), member.record.path
                ),
            )
        # The same layout for every group of a size class (it only changes between small
        # and big groups): laying the screen out again on every key made moving slow.
        strip = count <= STRIP_MAX and self.size.height >= STRIP_MIN_HEIGHT
        for widget, shown in ((self.strip_box, strip), (self.files_list, not strip)):
            if widget.display != shown:
                widget.display = shown
        if strip:
            width = max(16, min(30, (self.strip_box.size.width or 80) // count))
            for k, card in enumerate(self.strip):
                if card.display != (k < count):
                    card.display = k < count
                if k < count:
                    if card.styles.width != Scalar.from_number(width):
                        card.styles.width = width
                    member = group.members[k]
                    card.show(
                        member,
                        apart=member.record.path in group.apart,
                        root=root,
                        number=k + 1,
                        count=count,
                        selected=k == self.file,
                    )
            self.strip[self.file].scroll_visible(animate=False)
            self.files_head.update(Text(f"All {count} files (→ ← to move)"), layout=False)
        else:
            body = max(8, self.size.height - 4)
            big = count > STRIP_MAX
            height = max(3, body // 2 - 2) if big else max(3, min(8, body // 3))
            if self.files_list.styles.height != Scalar.from_number(height):
                self.files_list.styles.height = height
            self.files_list.set_count(count, 200)
            self.files_list.move_to(self.file)
            keys = "→ ← or L H (by 10) move" if big else "→ ← move"
            self.files_head.update(
                Text(
                    f"{count} files · {keys} · ◆ the pinned kept copy",
                    overflow="ellipsis",
                    no_wrap=True,
                ),
                layout=False,
            )
        self._schedule_thumbs()

    @property
    def strip_box(self) -> HorizontalScroll:
        return self.query_one("#strip", HorizontalScroll)

    @property
    def files_head(self) -> Static:
        return self.query_one("#files-head", Static)

    def _after_change(self) -> None:
        self.groups_list.refresh()
        self._update_summary()
        self._show_group()

    def _say(
        self, text: str, severity: str = "information", seconds: float = MESSAGE_SECONDS
    ) -> None:
        """One message on the line above the keys (errors say so in words, not only colour)."""
        line = self.query_one("#message", Static)
        self._said = text
        prefix = {"error": "✗ ", "warning": "! "}.get(severity, "")
        line.update(Text(prefix + text))
        line.set_class(severity == "error", "error")
        line.set_class(severity == "warning", "warning")
        line.display = True
        if self._message_timer is not None:
            self._message_timer.stop()
        self._message_timer = self.set_timer(seconds, self._clear_message)

    def _clear_message(self) -> None:
        self.query_one("#message", Static).display = False

    # ------------------------------------------------------------ thumbnails

    def _schedule_thumbs(self) -> None:
        if self.renderer is Renderer.NONE:
            return
        if self._thumb_timer is not None:
            self._thumb_timer.stop()
        self._thumb_timer = self.set_timer(SHOW_DELAY, self._request_thumbs)

    def _request_thumbs(self) -> None:
        """Decode the pictures on screen, then the next group's pair; drop older requests."""
        group = self._group()
        if group is None:
            return
        wanted = [card.thumb.path for card in self.pair]
        if self.strip_box.display:
            wanted += [m.record.path for m in group.members[:STRIP_MAX]]
        if self.row + 1 < len(self.rows):
            following = self.state.groups[self.rows[self.row + 1]]
            wanted += [following.members[following.reference].record.path]
            wanted += [m.record.path for m in following.members[:2]]
        keep = set(wanted)
        for path, future in list(self._pending.items()):
            if path not in keep and future.cancel():
                del self._pending[path]
        for path in dict.fromkeys(wanted):
            if path and path not in self.thumbs and path not in self._pending:
                self._pending[path] = self._pool.submit(self._decode, path)

    def _decode(self, path: str) -> None:
        """Runs in a worker thread."""
        try:
            item: Image.Image | str = load(path)
        except ThumbnailError as error:
            item = str(error)
        self.post_message(ThumbReady(path, item))

    def on_thumb_ready(self, message: ThumbReady) -> None:
        self._pending.pop(message.path, None)
        self.thumbs.put(message.path, message.item)
        for card in (*self.pair, *self.strip):
            if card.thumb.path == message.path:
                card.thumb.show(message.path)

    # ------------------------------------------------------------ the whole report

    def _start_loading(self) -> None:
        loader = self._loader
        assert loader is not None

        def work() -> None:
            # (what the review says if the loader raises what it should not: the error goes
            # on, to the thread's traceback, but the keys waiting for the report are let go)
            message = FullReport(None, "it could not be read (an unexpected error)")
            try:
                message = FullReport(loader(), None)
            except ReportError as error:
                message = FullReport(None, str(error))
            finally:
                # Not through the app's message queue: a key waiting for the report holds it.
                with contextlib.suppress(RuntimeError):  # the review has ended meanwhile
                    self.call_from_thread(self._full_report, message)

        # A daemon thread, not a Textual worker: quitting must not wait for the read to end.
        threading.Thread(target=work, name="read the whole report", daemon=True).start()

    def _full_report(self, message: FullReport) -> None:
        assert self._loaded is not None
        if message.report is None:
            self._load_error = f"the report cannot be used: {message.error}"
        elif not quickread.same_groups(self.report, message.report):
            self._load_error = (
                "the report changed on disk while it was being read: nothing can be saved; "
                "quit (q) and start the review again"
            )
        else:
            self.report = message.report
            self.state = ReviewState.start(message.report)
        self._loaded.set()
        if self._load_error:
            self._say(self._load_error, "error", seconds=3600)
        self._after_change()

    def post_message(self, message: Message) -> bool:
        """As App's; a quit key that comes while a key waits for the whole report or regroup
        lets the waiting keys go first, doing nothing: a waiting key holds the app's messages,
        so the quit would otherwise wait as long (a regroup of a big library: minutes). While
        one waits nothing can have been changed (every change waits), so nothing is lost."""
        if (
            isinstance(message, events.Key)
            and message.key in self.QUIT_KEYS
            and self._waits
            and not self.state.unsaved
        ):
            self._quit_asked.set()
        return super().post_message(message)

    async def _whole_report(self) -> bool:
        """Wait for the whole report (when the review started from a preview); False when it
        could not be read (the reason is on screen), or a quit key came meanwhile."""
        if self._quit_asked.is_set():
            return False
        if self._loaded is not None and not self._loaded.is_set():
            self._say(self._waiting[1], seconds=60)
            self._waits += 1
            try:
                await self._loaded_or_quit(self._loaded)
            finally:
                self._waits -= 1
            if self._quit_asked.is_set():
                return False
            if not self._load_error and self._said == self._waiting[1]:
                self._clear_message()  # (not what was said since: what a regroup changed)
        if self._load_error:
            self._say(self._load_error, "error", seconds=3600)
            self.bell()
            return False
        return True

    async def _loaded_or_quit(self, loaded: asyncio.Event) -> None:
        """Wait until `loaded` is set or a quit key came (post_message)."""
        waits = [
            asyncio.ensure_future(loaded.wait()),
            asyncio.ensure_future(self._quit_asked.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    # ------------------------------------------------------------ the rest of a regroup

    @property
    def _partial(self) -> bool:
        """Whether the groups shown are the first of a regroup still under way (and not
        every group already)."""
        return (
            self._regrouping is not None
            and not self._regrouping.every
            and self._loaded is not None
            and (not self._loaded.is_set())
        )

    @property
    def _so_far(self) -> str:
        return " so far" if self._partial else ""

    def _start_regrouping(self) -> None:
        regrouping = self._regrouping
        assert regrouping is not None
        here = threading.get_ident()

        def take() -> None:
            # A worker (an asyncio task), not a message: a key waiting for the regroup holds
            # the app's message queue; and an error it raises ends the app with its traceback.
            self.run_worker(self._regrouped(), name="regrouped", group="regrouped")

        def ended() -> None:  # on the regroup's thread (here, when it had ended already)
            if threading.get_ident() == here:
                take()
                return
            with contextlib.suppress(RuntimeError):  # the review has ended meanwhile
                self.call_from_thread(take)

        regrouping.when_done(ended)
        regrouping.start()

    def exit(
        self,
        result: str | None = None,
        return_code: int = 0,
        message: RenderableType | None = None,
    ) -> None:
        """As App's; what comes after (the rest of a regroup) shows nothing."""
        self._ending = True
        super().exit(result, return_code, message)

    async def _regrouped(self) -> None:
        """The whole regroup is there: it replaces the first groups (or says why it cannot).
        An error that is not a DedupeError (a bug) is not caught: it ends the review, which
        shows its traceback (and `dedupe review` fails). After the review ended (a quit while
        the regroup ran) it does nothing: the screen it would update is gone."""
        regrouping = self._regrouping
        assert regrouping is not None
        if self._ending:
            if self._loaded is not None:
                self._loaded.set()
            return
        try:
            whole = regrouping.finish()
        except DedupeError as error:
            self._load_error = f"the regroup failed: {error}; nothing can be saved: quit (q)"
        except BaseException:
            # A bug: raised on, it ends the review. A key waiting for the regroup (it holds
            # the app's messages, the end of the app among them) is let go, to do nothing.
            self._load_error = "the regroup ended on an unexpected error: nothing can be saved"
            if self._loaded is not None:
                self._loaded.set()
            raise
        else:
            shown = self.report.groups
            if whole.report.groups[: len(shown)] != shown:
                self._load_error = (
                    "the regrouped groups are not those shown first (a bug in dedupe): "
                    "nothing can be saved; quit (q) and run the review again"
                )
            else:
                self.report = whole.report
                self.state = ReviewState.start(whole.report)
                self.rows = self.view.rows(self.state)
        if self._loaded is not None:
            self._loaded.set()
        if self._ending:
            return
        self._layout()
        self._show_view()
        if self._load_error:
            self._say(self._load_error, "error", seconds=3600)
        elif self._regrouped_notice is not None:
            self._say(self._regrouped_notice(whole), seconds=15)

    async def _every_group(self) -> bool:
        """Wait for the rest of a regroup under way (for what needs every group); False when
        it failed (the reason is on screen)."""
        if self._regrouping is None:
            return True
        return await self._whole_report()

    # ------------------------------------------------------------ moving

    def action_group(self, step: int) -> None:
        if self._partial and self.row + step >= len(self.rows):
            self._say(f"the first {len(self.rows):,} groups so far: the others are on their way")
        self._go(self.row + step)

    def action_group_at(self, index: int) -> None:
        self._go(index if index >= 0 else len(self.rows) + index)

    def _go(self, row: int) -> None:
        if not self.rows:
            return
        row = max(0, min(row, len(self.rows) - 1))
        if row != self.row:
            self.row = row
            self.file = 0
            self.groups_list.move_to(row)
            self._show_group()

    def action_file(self, step: int) -> None:
        group = self._group()
        if group is not None:
            self.file = max(0, min(self.file + step, len(group.members) - 1))
            self._show_group()

    def on_row_list_clicked(self, message: RowList.Clicked) -> None:
        if message.rows is self.groups_list:
            self._go(message.row)
        elif message.rows is self.files_list:
            self.file = message.row
            self._show_group()

    def on_card_clicked(self, message: Card.Clicked) -> None:
        group = self._group()
        if group is not None and message.card.member is not None:
            self.file = group.index_of(message.card.member.record.path)
            self._show_group()

    # ------------------------------------------------------------ deciding

    async def _change(self, operation: Callable[[ReviewState, int], ReviewState]) -> bool:
        index = self.current
        if index is None or not await self._whole_report():
            return False
        try:
            new = operation(self.state, index)
        except Refused as error:
            self.bell()
            self._say(str(error), "error")
            return False
        self.state = new
        self._after_change()
        return True

    def _selected_path(self) -> str:
        group = self._group()
        assert group is not None
        return group.members[self.file].record.path

    async def action_toggle_file(self) -> None:
        if self._group() is not None:
            path = self._selected_path()
            await self._change(lambda s, k: s.toggle(k, path))

    async def action_keep_only(self) -> None:
        if self._group() is None:
            return
        path = self._selected_path()
        if await self._change(lambda s, k: s.keep_only(k, path)):
            group = self._group()
            assert group is not None
            protected = [m for m in group.remaining if m.record.path != path and m.action == "keep"]
            if protected:
                self._say(f"{len(protected)} protected file(s) stay kept")

    async def action_keep_all(self) -> None:
        await self._change(lambda s, k: s.keep_all(k))

    async def action_accept(self) -> None:
        if await self._change(lambda s, k: s.accept(k)):
            self._next_or_done()

    async def action_confirm(self) -> None:
        if await self._change(lambda s, k: s.confirm(k)):
            self._next_or_done()

    def _next_or_done(self) -> None:
        if self.row + 1 < len(self.rows):
            self._go(self.row + 1)
            return
        pending = [k for k, g in enumerate(self.state.groups) if g.status == "pending"]
        if pending:
            self._say(
                f"last group of the list; {len(pending):,} group(s) still to review (the first "
                f"is group {self.state.groups[pending[0]].id}). s saves and quits."
            )
        else:
            self._say("every group is reviewed: press s to save and quit")

    async def action_apart(self) -> None:
        if self._group() is not None:
            path = self._selected_path()
            await self._change(lambda s, k: s.set_apart(k, path))

    async def action_all_apart(self) -> None:
        await self._change(lambda s, k: s.all_apart(k))

    async def action_undo(self) -> None:
        if not await self._whole_report():
            return
        touched = self.state.last_change
        try:
            new, index = self.state.undo()
        except Refused as error:
            self._say(str(error), "warning")
            return
        self.state = new
        if index in self.rows and index != self.current:
            self.row = self.rows.index(index)
            self.file = 0
            self.groups_list.move_to(self.row)
        self._after_change()
        if len(touched) > 1:
            self._say(f"undone: {len(touched):,} groups are back as they were", seconds=4)
        else:
            self._say(f"undone (group {self.state.groups[index].id})", seconds=3)

    # ------------------------------------------------------------ bulk, filter, search

    def _folders(self) -> list[str]:
        group = self._group()
        if group is None:
            return []
        return folders_of(group.members[self.file].record.path, self.state.root)

    async def action_bulk(self) -> None:
        if not await self._every_group():
            return
        group = self._group()
        if not self.state.groups:
            return
        screen = BulkScreen(
            self.state,
            folders=self._folders(),
            distance=0 if group is None else group.largest_distance,
            shown=self.rows if self.view.filtered else None,
        )

        def chosen(choice: object) -> None:
            if isinstance(choice, Choice):
                self.call_later(self._perform_bulk, choice)

        self.push_screen(screen, chosen)

    async def _perform_bulk(self, choice: Choice) -> None:
        if not await self._whole_report():
            return
        before = self.state
        self.state = bulk.perform(self.state, choice)
        self._after_change()
        if self.state is before:
            self._say("nothing changed: no group still to review fits that")
        elif choice.verb == "skip":
            self._say(
                f"skipped {choice.groups:,} groups: every file in them is kept. u undoes this."
            )
        else:
            self._say(
                f"accepted {choice.groups:,} groups: {choice.trash:,} files marked trash "
                f"(frees {human_bytes(choice.freed)}). u undoes this."
            )

    def _set_view(self, view: View) -> None:
        current = self.current
        self.view = view
        self.rows = view.rows(self.state)
        self.row = self.rows.index(current) if current in self.rows else 0
        self.file = 0 if current not in self.rows else self.file
        self._show_view()

    async def action_filter(self) -> None:
        if not await self._every_group() or not self.state.groups:
            return
        screen = FilterScreen(self.state, self.view, bulk.kinds(self.state), self._folders())

        def chosen(view: object) -> None:
            if isinstance(view, View):
                self._set_view(view)

        self.push_screen(screen, chosen)

    def action_clear_filter(self) -> None:
        if self.view.filtered:
            self._set_view(self.view.cleared())
            self._say("the list shows every group again")

    async def action_search(self) -> None:
        if not await self._every_group() or not self.state.groups:
            return

        def searched(text: str | None) -> None:
            if text is None:
                return
            view = self.view.with_search(text)
            if view.search and not view.rows(self.state):
                self._say(f'no group has a file whose path has "{view.search}"', "warning")
                return
            self._set_view(view)
            if view.search:
                self._say(f'{count_words(len(self.rows), len(self.state.groups))} have "{text}"')

        self.push_screen(SearchScreen(self.view.search), searched)

    # ------------------------------------------------------------ other screens

    def action_open_file(self) -> None:
        if self._group() is None:
            return
        path = self._selected_path()
        try:
            program = open_file(path)
        except OpenError as error:
            self._say(f"cannot open {self.state.name(path)}: {error}", "error")
            return
        self._say(f"opened {self.state.name(path)} with {program}", seconds=3)

    def action_problems(self) -> None:
        self.push_screen(ProblemsScreen(self.report.errors, self.report.skipped, self.state.root))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ------------------------------------------------------------ saving, quitting

    async def _write(self) -> bool:
        if not await self._whole_report():
            return False
        try:
            message = self._save(self.state.to_report(self.report))
        except OSError as error:
            self._say(f"could not save: {error}", "error", seconds=15)
            return False
        self.state = self.state.saved()
        self._update_summary()
        self._say(message, seconds=4)
        return True

    async def action_save(self) -> None:
        await self._write()

    async def action_save_quit(self) -> None:
        if await self._write():
            self.exit("saved")

    def action_quit_review(self) -> None:
        if not self.state.unsaved:
            self.exit("quit")
            return

        def decided(choice: str | None) -> None:
            if choice == "save":
                self.call_later(self.action_save_quit)
            elif choice == "quit":
                self.exit("quit")

        self.push_screen(ConfirmQuit(self.state.changed_count), decided)
