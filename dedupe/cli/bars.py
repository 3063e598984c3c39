"""The live progress bar on a terminal's stderr (rich): one line per phase, replaced by the next.

Imported only when a command shows progress in a terminal (rich is not loaded with the CLI).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class CountColumn(ProgressColumn):
    """`12/3,000` and the time left for a phase with a total; `1,234` for one without (files
    found so far); nothing before the first count (a phase that only waits, e.g. for the
    grouping code to load, shows its spinner and time)."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text(f"{int(task.completed):,}" if task.completed else "")
        done = f"{int(task.completed):,}/{int(task.total):,}"
        left = task.time_remaining
        if left is not None and task.completed:
            whole = int(left + 0.5)
            done += f"  {whole // 60}:{whole % 60:02d} left"
        return Text(done)


class RichProgress:
    """Adapts rich's Progress to the core's `Progress` protocol (start/advance)."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None) -> None:
        if self._task is not None:
            self._bar.update(self._task, visible=False)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, count)


@contextmanager
def live_bar(console: Console, *, disable: bool = False) -> Iterator[RichProgress]:
    """A transient bar on `console`: spinner, phase, bar, count, time elapsed."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        CountColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=disable,
    )
    with bar:
        yield RichProgress(bar)
