"""The non-interactive review: every group of a report as a rich table, then the totals.

Used when stdout is not a terminal or with `--no-input`: the same columns as the full-screen
review, laid out for a fixed width and fit for piping to a file (no colour when not a terminal).
"""

from __future__ import annotations

from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from dedupe.models import Group
from dedupe.report import Report
from dedupe.review import facts
from dedupe.text import human_bytes, printable

# Below this console width each file is printed as a few lines instead of a table row.
NARROW = 80


def group_table(group: Group, root: str) -> Table:
    status = "reviewed" if group.reviewed else "pending"
    table = Table(
        title=escape(facts.group_title(group, status)),
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        expand=False,
    )
    table.add_column("action", no_wrap=True)
    table.add_column("picture", no_wrap=True)
    table.add_column("date", no_wrap=True)
    table.add_column("dist", justify="right", no_wrap=True)
    table.add_column("path / reason", overflow="fold")
    for member in group.members:
        record = member.record
        when, what = facts.date(record)
        keep = member.action == "keep"
        action = Text("KEEP" if keep else "trash", style="bold green" if keep else "red")
        picture = Text(
            f"{facts.resolution(record)} {record.fingerprint.format}\n{human_bytes(record.size)}"
        )
        where = Text(facts.display_path(record.path, root))
        where.append("\n")
        where.append(printable(member.reason), style="dim")
        table.add_row(action, picture, Text(f"{when}\n{what}"), str(member.distance), where)
    return table


def render(report: Report, console: Console) -> None:
    """Print every group of the report, then one line of totals."""
    root = facts.common_root(report.roots)
    if root:
        console.print(Text(f"Paths are relative to {printable(root)}"))
        console.print()
    for group in report.groups:
        if console.width < NARROW:
            print_stacked(console, group, root)
        else:
            print_trimmed(console, group_table(group, root))
        console.print()
    print_trimmed(console, Text(facts.totals(report), style="bold"))


def print_stacked(console: Console, group: Group, root: str) -> None:
    """The narrow form: each file as a few lines instead of a table row."""
    status = "reviewed" if group.reviewed else "pending"
    print_trimmed(console, Text(facts.group_title(group, status), style="bold"))
    for member in group.members:
        record = member.record
        when, what = facts.date(record)
        keep = member.action == "keep"
        line = Text("KEEP  " if keep else "trash ", style="bold green" if keep else "red")
        line.append(facts.display_path(record.path, root))
        print_trimmed(console, line)
        details = (
            f"{facts.resolution(record)} {record.fingerprint.format} · "
            f"{human_bytes(record.size)} · {what} {when} · distance {member.distance}"
        )
        print_trimmed(console, Padding(Text(details), (0, 0, 0, 6)))
        reason = Text(printable(member.reason), style="dim")
        print_trimmed(console, Padding(reason, (0, 0, 0, 6)))


def print_trimmed(console: Console, renderable: RenderableType) -> None:
    """Print without the trailing spaces rich pads lines with (cleaner in a file or a diff)."""
    for line in console.render_lines(renderable, console.options, pad=False):
        while line and not line[-1].text.rstrip():
            line.pop()
        text = Text()
        for segment in line:
            if not segment.control:
                text.append(segment.text, segment.style)
        text.rstrip()
        console.print(text, no_wrap=True, crop=False)
