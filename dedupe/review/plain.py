"""The non-interactive review: every group of a report as a table, then the totals.

Used when stdout is not a terminal or with `--no-input` (and for `scan`'s listing): the same
columns as the full-screen review, laid out for the terminal's width, or unfolded for a pipe or
a file (`fold=False`: every path whole on its line, for grep; no colour when not a terminal).

The tables are laid out here rather than by rich's Table: a report can hold tens of thousands
of groups, and rich measures, wraps and renders every cell of every table (several ms a
group). All columns but the last hold short, fixed-format facts, so their widths come straight
from the data; only the last column (path / reason) and lines wider than the console are
wrapped, with rich's own word wrapping (long paths are folded, never cut). Each group is
written as one batch of segments, with no trailing spaces on any line.

File names are shown through `dedupe.text.printable` and only ever as plain text: no rich
markup is read from a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from rich.cells import cell_len, chop_cells
from rich.console import Console
from rich.segment import Segment, Segments
from rich.style import Style
from rich.text import Text

from dedupe.models import NO_FACTS, FileFacts, Group
from dedupe.report import Report
from dedupe.review import facts
from dedupe.text import human_bytes, printable

# Below this console width each file is printed as a few lines instead of a table row.
NARROW = 80
# The width of a listing that is not folded: no line is ever this long.
UNFOLDED = 1 << 30

HEADERS = ("action", "picture", "date", "dist", "path / reason")
DIST = HEADERS.index("dist")  # the one column aligned right
GAP = "  "  # between two columns
INDENT = 6  # the details of a file under its path, in the narrow form

BOLD = Style(bold=True)
KEEP = Style(bold=True, color="green")
TRASH = Style(color="red")
DIM = Style(dim=True)

# A piece of a line: its text and its style (None: plain).
Piece = tuple[str, Style | None]
Line = list[Piece]


def render(
    report: Report,
    console: Console,
    *,
    fold: bool = True,
    totals: bool = True,
    limit: int | None = None,
) -> None:
    """Print every group of the report (the first `limit` with a limit), then one line of
    totals (unless `totals` is false). `fold`: lay the tables out for the console's width;
    without it no line is folded or wrapped, however long."""
    width = console.width if fold else UNFOLDED
    root = facts.common_root(report.roots)
    if root:
        console.print(Text(f"Paths are relative to {printable(root)}"), soft_wrap=not fold)
        console.print()
    for group in report.groups[:limit]:
        lines = group_lines(group, root, width, report.facts)
        lines.append([])
        write(console, lines)
    if totals:
        write(console, wrap([(facts.totals(report), BOLD)], width))


def group_lines(
    group: Group, root: str, width: int, known: Mapping[str, FileFacts] | None = None
) -> list[Line]:
    """The lines of one group for a console `width` cells wide: a table, or below NARROW
    cells a few lines per file. `known`: what the files carry (sidecars, metadata), shown
    under each file's reason."""
    if width < NARROW:
        return stacked_lines(group, root, width, known or {})
    return table_lines(group, root, width, known or {})


def title(group: Group) -> str:
    return facts.group_title(group, "reviewed" if group.reviewed else "pending")


def table_lines(
    group: Group, root: str, width: int, known: Mapping[str, FileFacts] | None = None
) -> list[Line]:
    """The group as a table: a title, a header, a rule, then two or more lines per file."""
    cells: list[list[list[Piece]]] = []  # per file: per column, its lines
    for member in group.members:
        record = member.record
        when, what = facts.date(record)
        keep = member.action == "keep"
        cells.append(
            [
                [("KEEP", KEEP) if keep else ("trash", TRASH)],
                [
                    (f"{facts.resolution(record)} {record.fingerprint.format}", None),
                    (human_bytes(record.size), None),
                ],
                [(when, None), (what, None)],
                [(str(member.distance), None)],
                [
                    (facts.display_path(record.path, root), None),
                    (printable(member.reason), DIM),
                    *_unit_pieces(record.path, known),
                ],
            ]
        )
    header: list[list[Piece]] = [[(name, BOLD)] for name in HEADERS]
    rows = [header, *cells]
    widths = [
        max(cell_len(text) for row in rows for text, _ in row[column])
        for column in range(len(HEADERS))
    ]
    # The path / reason column gives way to fit the console: its lines are wrapped, and a
    # path too long for a line is folded.
    fixed = sum(widths[:-1]) + len(GAP) * (len(widths) - 1)
    widths[-1] = max(1, min(widths[-1], width - fixed))
    table_width = fixed + widths[-1]

    lines = wrap([(title(group), BOLD)], max(width, table_width))
    lines.extend(table_row(widths, header))
    lines.append([("─" * table_width, None)])
    for row in cells:
        lines.extend(table_row(widths, row))
    return lines


def table_row(widths: Sequence[int], row: list[list[Piece]]) -> list[Line]:
    """One row of the table as lines: the columns side by side, the last one wrapped."""
    last = widths[-1]
    wrapped: list[Piece] = []
    for text, style in row[-1]:
        if cell_len(text) <= last:
            wrapped.append((text, style))
        else:
            wrapped.extend((part, style) for part in fold(text, last))
    columns = [*row[:-1], wrapped]
    height = max(len(column) for column in columns)
    lines: list[Line] = []
    for index in range(height):
        line: Line = []
        for column, (cell, width) in enumerate(zip(columns, widths, strict=True)):
            if column:
                line.append((GAP, None))
            text, style = cell[index] if index < len(cell) else ("", None)
            pad = " " * (width - cell_len(text))
            if column == DIST:
                line.extend(((pad, None), (text, style)))
            else:
                line.extend(((text, style), (pad, None)))
        lines.append(trimmed(line))
    return lines


def _unit_pieces(path: str, known: Mapping[str, FileFacts] | None) -> list[Piece]:
    found = (known or {}).get(path, NO_FACTS)
    return [(line, DIM) for line in facts.unit_lines(found, path)]


def stacked_lines(
    group: Group, root: str, width: int, known: Mapping[str, FileFacts] | None = None
) -> list[Line]:
    """The narrow form: each file as a few lines instead of a table row."""
    inner = max(1, width - INDENT)
    lines = wrap([(title(group), BOLD)], width)
    for member in group.members:
        record = member.record
        when, what = facts.date(record)
        keep = member.action == "keep"
        first = ("KEEP  ", KEEP) if keep else ("trash ", TRASH)
        lines.extend(wrap([first, (facts.display_path(record.path, root), None)], width))
        details = (
            f"{facts.resolution(record)} {record.fingerprint.format} · "
            f"{human_bytes(record.size)} · {what} {when} · distance {member.distance}"
        )
        pieces = [(details, None), (printable(member.reason), DIM)]
        for piece in [*pieces, *_unit_pieces(record.path, known)]:
            lines.extend(trimmed([(" " * INDENT, None), *row]) for row in wrap([piece], inner))
    return lines


def wrap(line: Line, width: int) -> list[Line]:
    """The line word-wrapped to fit `width` cells, as rich wraps (words too long are folded)."""
    if sum(cell_len(text) for text, _ in line) <= width:
        return [trimmed(line)]
    plain = "".join(text for text, _ in line)
    ends = [*breaks(plain, width), len(plain)]
    rows: list[Line] = [[] for _ in ends]
    offset = 0
    for text, style in line:
        stop = offset + len(text)
        begin = 0
        for row, end in zip(rows, ends, strict=True):
            if begin < stop and end > offset:
                row.append((plain[max(begin, offset) : min(end, stop)], style))
            begin = end
        offset = stop
    return [trimmed(row) for row in rows]


def fold(text: str, width: int) -> list[str]:
    """Plain text word-wrapped to `width` cells, as rich wraps a table cell."""
    starts = [0, *breaks(text, width)]
    ends = [*starts[1:], len(text)]
    return [text[begin:end].rstrip() for begin, end in zip(starts, ends, strict=True)]


WORD = re.compile(r"\s*\S+\s*")


def breaks(text: str, width: int) -> list[int]:
    """Where rich's word wrap breaks `text` for `width` cells: a word (with the spaces after
    it) goes on the next line when it does not fit; a word longer than a line is folded.
    (The same rule as rich's Text.wrap with overflow="fold", without building Text objects.)
    """
    offsets: list[int] = []
    position = 0  # cells used on the current line
    for match in WORD.finditer(text):
        start, word = match.start(), match.group()
        length = cell_len(word.rstrip())
        if width - position >= length:
            position += cell_len(word)
        elif length > width:
            parts = chop_cells(word, width)
            for part in parts[:-1]:
                if start:
                    offsets.append(start)
                start += len(part)
            if start:
                offsets.append(start)
            position = cell_len(parts[-1])
        elif position and start:
            offsets.append(start)
            position = cell_len(word)
    return offsets


def trimmed(line: Line) -> Line:
    """The line without its trailing spaces (cleaner in a file or a diff), and with pieces
    of the same style side by side joined into one."""
    joined: Line = []
    for text, style in line:
        if not text:
            continue
        if joined and joined[-1][1] is style:
            joined[-1] = (joined[-1][0] + text, style)
        else:
            joined.append((text, style))
    while joined and not joined[-1][0].rstrip():
        joined.pop()
    if joined:
        text, style = joined[-1]
        joined[-1] = (text.rstrip(), style)
    return joined


def write(console: Console, lines: Iterable[Line]) -> None:
    """Print the lines at once, as they are: no wrapping, cropping or markup."""
    if console.color_system is None and not console.record:
        # No styles to show: the lines as one plain string.
        text = "".join("".join(text for text, _ in line) + "\n" for line in lines)
        console.print(Segments([Segment(text)]), crop=False)
        return
    segments: list[Segment] = []
    append = segments.append
    newline = Segment.line()
    for line in lines:
        for text, style in line:
            append(Segment(text, style))
        append(newline)
    console.print(Segments(segments), crop=False)
