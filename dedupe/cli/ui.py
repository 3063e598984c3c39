"""Terminal plumbing shared by the commands: consoles, progress bars, errors, number formats."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dedupe.text import human_bytes, printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["UI", "CliError", "escape", "human_bytes", "printable", "write_data"]


class CliError(Exception):
    """A problem to show as one clear line, with the exit code to return."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class UI:
    out: Console  # data: stdout
    err: Console  # people: stderr

    @classmethod
    def for_terminal(cls) -> UI:
        # rich is imported here, not at the top: scan's worker processes import this package
        # (through the `dedupe` script) and never draw.
        from rich.console import Console

        return cls(
            out=Console(highlight=False, soft_wrap=True),
            err=Console(stderr=True, highlight=False),
        )

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal and sys.stdin.isatty()

    # Errors and warnings are not wrapped: their paths stay whole in a log, for grep and for
    # copying (a terminal folds the long line itself).
    def error(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)

    @contextmanager
    def progress(self) -> Iterator[RichProgress]:
        """A live progress bar on stderr when it is a terminal; silent otherwise."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.err,
            transient=True,
            disable=not self.err.is_terminal,
        )
        with bar:
            yield RichProgress(bar)


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


def write_data(text: str) -> None:
    """Write data to stdout byte-exactly: undecodable file-name bytes come out as they were."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def escape(text: str) -> str:
    """Escape rich markup and make undecodable file-name bytes visible instead of crashing."""
    from rich.markup import escape as rich_escape

    return rich_escape(printable(text))
