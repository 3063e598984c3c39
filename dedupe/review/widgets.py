"""The review's widgets: a list of any length drawn only where it is visible (the group list,
a big group's files, the problems), a file's card (its label, picture and facts), the picture
itself, and the line of keys.

Keep and trash are always said in words and symbols (✓ KEEP, ✗ TRASH, ≠ NOT A DUPLICATE), so
they read the same without colour (NO_COLOR) as with it; colour only adds to them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from PIL import Image
from rich.cells import cell_len, chop_cells
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from dedupe.models import Member
from dedupe.review import facts
from dedupe.review.graphics import Renderer, forget, picture_widget
from dedupe.review.thumbs import HalfBlock
from dedupe.text import human_bytes, printable

# Decoded thumbnails kept in memory (about 0.3 MB each at thumbs.MAX_SIDE): a review of
# thousands of groups must not keep every picture it showed.
THUMB_CACHE = 300
# Big cards shorter than this show fewer facts (two lines of reason, no date), leaving the
# picture some room on a 24-line terminal.
COMPACT_HEIGHT = 16

ACTION_MARK = {"keep": "✓ KEEP", "trash": "✗ TRASH"}
APART_MARK = "≠ NOT A DUPLICATE"

# Styles with colour, and the same meaning without it (reverse video and bold).
LABEL_STYLES = {
    "keep": (Style(bold=True, color="white", bgcolor="dark_green"), Style(bold=True)),
    "trash": (Style(bold=True, color="white", bgcolor="red3"), Style(bold=True, reverse=True)),
    "apart": (Style(bold=True, color="white", bgcolor="magenta"), Style(bold=True, underline=True)),
}
REASON_STYLES = {"keep": Style(color="green"), "trash": Style(color="red"), "apart": Style()}


def label_of(member: Member, apart: bool) -> tuple[str, str]:
    """(words, style key) of a file's decision."""
    if apart:
        return APART_MARK, "apart"
    return ACTION_MARK[member.action], member.action


def wrap_path(path: str, width: int) -> str:
    """`path` on as many lines of `width` cells as it needs, broken after a "/" where it can
    (a name longer than a line is cut into pieces): "album/IMG_1.jpg" never as "IMG_1.jp" + "g"."""
    if width < 8 or cell_len(path) <= width:
        return path
    lines: list[str] = []
    line = ""
    for part in path.replace("/", "/\0").split("\0"):
        while cell_len(part) > width:
            if line:
                lines.append(line)
                line = ""
            cut = chop_cells(part, width)[0]
            lines.append(cut)
            part = part[len(cut) :]
        if cell_len(line) + cell_len(part) > width:
            lines.append(line)
            line = ""
        line += part
    if line:
        lines.append(line)
    return "\n".join(lines)


def first_lines(text: Text, width: int, most: int, console: Console) -> list[Text]:
    """`text` wrapped to `width`, at most `most` lines (the last one ending in … if cut)."""
    lines = list(text.wrap(console, width))
    if len(lines) > most:
        lines = lines[:most]
        last = lines[-1]
        last.truncate(width - 1)
        last.append("…")
    for line in lines:
        line.rstrip()
    return lines


def left_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut on the left ("…/IMG_1.jpg"): the end of a path
    names the file."""
    if cell_len(text) <= width or width < 2:
        return text
    while cell_len(text) > width - 1:
        text = text[1:]
    return "…" + text


class ThumbCache(OrderedDict[str, "Image.Image | str"]):
    """path -> decoded thumbnail (or why there is none), the least recently stored dropped."""

    def __init__(self, limit: int = THUMB_CACHE) -> None:
        super().__init__()
        self.limit = limit

    def put(self, path: str, item: Image.Image | str) -> None:
        self[path] = item
        self.move_to_end(path)
        while len(self) > self.limit:
            self.popitem(last=False)


class Lines(Static):
    """Text whose height is the lines it wraps to: the screen is laid out again only when that
    number changes (a new layout of the whole screen on every key made moving slow)."""

    DEFAULT_CSS = """
    Lines { height: 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines = 1

    def show(self, text: Text, width: int, most: int = 0) -> None:
        """Show `text` wrapped to `width` (0: as many lines as it has), at most `most` lines."""
        wrapped = text.wrap(self.app.console, width) if width > 0 else text.split("\n")
        lines = len(wrapped)
        if most:
            lines = min(lines, most)
        lines = max(1, lines)
        if lines != self.lines:
            self.lines = lines
            self.styles.height = lines
        self.update(text, layout=False)


class RowList(ScrollView, can_focus=False):
    """Rows of text from `source(row)`, any number of them: only the visible rows are drawn
    (the Line API), so a list of 100,000 groups costs what a screenful costs. The cursor row
    is drawn in reverse video and marked ▶."""

    DEFAULT_CSS = """
    RowList { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    class Clicked(Message):
        def __init__(self, rows: RowList, row: int) -> None:
            super().__init__()
            self.rows = rows
            self.row = row

    def __init__(
        self, source: Callable[[int], Text], *, id: str | None = None, cursor: bool = True
    ) -> None:
        super().__init__(id=id)
        self.source = source
        self.count = 0
        self.cursor = 0
        self.has_cursor = cursor

    def set_count(self, count: int, width: int = 1) -> None:
        self.count = count
        self.cursor = max(0, min(self.cursor, count - 1))
        self.virtual_size = Size(width, count)
        self.refresh()

    def move_to(self, row: int) -> None:
        """Put the cursor on `row` and scroll just enough to show it."""
        self.cursor = max(0, min(row, self.count - 1))
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        row = round(self.scroll_offset.y) + y
        base = self.rich_style
        if row >= self.count:
            return Strip.blank(width, base)
        text = self.source(row)
        text.truncate(width - 1, overflow="ellipsis")
        mine = self.has_cursor and row == self.cursor
        line = Text("▶" if mine else " ")
        line.append_text(text)
        strip = Strip(list(line.render(self.app.console)), cell_len(line.plain))
        strip = strip.crop_extend(0, width, None).apply_style(base)
        if mine:
            strip = strip.apply_style(Style(reverse=True))
        return strip

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_offset.y) + event.y
        if 0 <= row < self.count:
            self.post_message(self.Clicked(self, row))


class Thumb(Widget):
    """The picture of one file at the widget's size: drawn with half-block characters, or by a
    textual-image child widget (kitty graphics protocol, Sixel) when the renderer is one."""

    DEFAULT_CSS = """
    Thumb { height: 1fr; min-height: 1; align: center middle; }
    """

    def __init__(self, cache: ThumbCache, renderer: Renderer = Renderer.BLOCKS) -> None:
        super().__init__()
        self.path = ""
        self.cache = cache
        self.renderer = renderer
        self.display = renderer is not Renderer.NONE
        self._drawn: HalfBlock | None = None
        self._picture: Widget | None = None
        self._picture_of: Image.Image | None = None

    def show(self, path: str) -> None:
        """Draw `path`'s picture (after a change of file, or once it is decoded)."""
        self.path = path
        if self.renderer.is_graphics and self.is_mounted:
            item = self.cache.get(path)
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

    def on_unmount(self) -> None:
        if self._picture is not None:
            forget(self._picture)

    def render(self) -> HalfBlock | Text:
        item = self.cache.get(self.path)
        width, height = self.content_size.width, self.content_size.height
        if item is None:
            return Text("…", style="dim", justify="center")
        if isinstance(item, str):
            return Text(f"(no picture: {item})", justify="center")
        if self.renderer is not Renderer.BLOCKS:
            return Text("")  # the picture is the child widget (or there is none)
        drawn = self._drawn
        if drawn is None or (drawn.image, drawn.width, drawn.height) != (item, width, height):
            drawn = self._drawn = HalfBlock(item, width, height)
        return drawn


class Card(Vertical):
    """One file: its decision in words at the top (there at once, before any picture), the
    picture, then (big cards) its facts and reason, or (small cards) its name."""

    DEFAULT_CSS = """
    Card {
        width: 1fr; height: 100%;
        border: round $panel-lighten-2; padding: 0 0 0 1;
        border-title-align: left; border-subtitle-align: right;
    }
    Card.small { width: 22; }
    Card.keep { border: round $success; }
    Card.trash { border: round $error; }
    Card.apart { border: round $secondary; }
    Card.selected { border: double $accent; }
    Card > .label { height: 1; }
    Card > .name { height: 1; }
    """

    class Clicked(Message):
        def __init__(self, card: Card) -> None:
            super().__init__()
            self.card = card

    def __init__(self, cache: ThumbCache, renderer: Renderer, *, small: bool = False) -> None:
        super().__init__(classes="small" if small else "big")
        self.small = small
        self.member: Member | None = None
        self.label = Static(classes="label")
        self.thumb = Thumb(cache, renderer)
        self.facts = Lines(classes="name" if small else "facts")

    def compose(self) -> ComposeResult:
        yield self.label
        yield self.thumb
        yield self.facts

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Clicked(self))

    def show(
        self,
        member: Member,
        *,
        apart: bool,
        root: str,
        number: int,
        count: int,
        selected: bool,
        note: str = "",
        details: Sequence[str] = (),
    ) -> None:
        """Show `member` (file `number` of `count`); `note` goes in the frame (e.g. "pinned");
        `details`: what the file carries (sidecars, a Live Photo's motion part, metadata:
        facts.unit_lines), on one line of a big card."""
        self.member = member
        record = member.record
        words, key = label_of(member, apart)
        colour = not self.app.no_color
        for name in ("keep", "trash", "apart"):
            self.set_class(name == key, name)
        self.set_class(selected, "selected")
        self.border_title = f"{'▶ ' if selected else ''}{number}/{count}"
        self.border_subtitle = note
        with_colour, without = LABEL_STYLES[key]
        self.label.update(
            Text(f" {words} ", style=with_colour if colour else without), layout=False
        )
        name = facts.display_path(record.path, root)
        if self.small:
            self.facts.update(Text(name, overflow="ellipsis", no_wrap=True), layout=False)
            self.thumb.show(record.path)
            return
        width = max(8, self.size.width - 3)
        compact = self.size.height < COMPACT_HEIGHT
        # A fixed number of lines for each kind of card, so that moving from group to group
        # never lays the screen out again: the reason on two or three lines, the size, the
        # date (big cards), the path on one or two lines.
        lines: list[Text] = first_lines(
            Text(printable(member.reason), style=REASON_STYLES[key] if colour else ""),
            width,
            2 if compact else 3,
            self.app.console,
        )
        size = f"{facts.resolution(record)} {record.fingerprint.format}"
        if compact:
            lines.append(Text(f"{size} {human_bytes(record.size)} d{member.distance}"))
            lines.append(Text(left_cut(name, width), style="bold"))
        else:
            when, what = facts.date(record)
            lines.append(Text(f"{size} · {human_bytes(record.size)}"))
            lines.append(Text(f"{what} {when} · distance {member.distance}"))
            carried = Text(printable(" · ".join(details)), style="dim")
            carried.truncate(width, overflow="ellipsis")
            lines.append(carried)
            path = wrap_path(name, width).split("\n")
            if len(path) > 2:
                path = [path[0], left_cut("".join(path[1:]), width)]
            lines.extend(Text(line, style="bold") for line in path)
        height = 4 if compact else 8
        lines += [Text("")] * (height - len(lines))
        self.facts.show(Text("\n").join(lines[:height]), 0, most=height)
        self.thumb.show(record.path)


class KeyBar(Static):
    """The keys at the bottom, as many as fit on one line; the last ones (help, save, quit)
    always stay."""

    DEFAULT_CSS = """
    KeyBar { height: 1; background: $panel; }
    """

    def __init__(
        self,
        keys: Sequence[tuple[str, str]],
        always: Sequence[tuple[str, str]],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.keys = list(keys)
        self.always = list(always)

    def on_resize(self, event: events.Resize) -> None:
        self.update(self.line(event.size.width), layout=False)

    def line(self, width: int) -> Text:
        def piece(key: str, what: str) -> Text:
            text = Text()
            text.append(f" {key}", style="bold reverse")
            text.append(f" {what} ")
            return text

        tail = Text().join(piece(k, w) for k, w in self.always)
        head = Text()
        for key, what in self.keys:
            candidate = piece(key, what)
            if cell_len(head.plain) + cell_len(candidate.plain) + cell_len(tail.plain) > width:
                break
            head.append_text(candidate)
        head.append_text(tail)
        head.truncate(width)
        return head
