"""Terminal plumbing shared by the commands: consoles, colour, verbosity, progress, errors.

What is a terminal and what is colour are decided here, separately: rich treats FORCE_COLOR
as "this is a terminal", but a forced colour in a pipe must not bring live progress bars,
questions or lines folded at 80 columns. Off a terminal nothing is wrapped: every message is
one line, however long its paths (a terminal folds long lines itself).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from dedupe.text import human_bytes, printable

if TYPE_CHECKING:
    from rich.console import Console

    from dedupe.scan import Progress

__all__ = ["UI", "CliError", "escape", "human_bytes", "printable", "write_data"]

COLOR_MODES = ("auto", "always", "never")


class CliError(Exception):
    """A problem to show as one clear line, with the exit code to return."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def color_system(mode: str, tty: bool, environ: Mapping[str, str]) -> str | None:
    """The rich colour system for a stream: None for no styles at all, "auto" to let rich ask
    the terminal. `--color always|never` wins over the environment (as no-color.org asks);
    with `auto`, a terminal gets colour and a pipe none, unless FORCE_COLOR is set (not empty,
    as force-color.org says). NO_COLOR is honoured apart (see no_color)."""
    if mode == "never":
        return None
    if tty:
        return "auto"
    if mode == "always" or environ.get("FORCE_COLOR", ""):
        if environ.get("COLORTERM", "") in ("truecolor", "24bit"):
            return "truecolor"
        return "256" if "256" in environ.get("TERM", "") else "standard"
    return None


def no_color(mode: str, environ: Mapping[str, str]) -> bool:
    """NO_COLOR (not empty) drops the colours but keeps bold and dim, unless --color is given."""
    return mode == "auto" and environ.get("NO_COLOR", "") != ""


@dataclass
class UI:
    out: Console  # data: stdout
    err: Console  # people: stderr (silent with -q)
    alerts: Console  # errors, warnings and questions: stderr, even with -q
    out_tty: bool = False  # stdout is a terminal
    err_tty: bool = False  # stderr is a terminal
    verbosity: int = 0  # -1 with -q, 1 with -v

    @classmethod
    def for_terminal(
        cls,
        color: str = "auto",
        verbosity: int = 0,
        environ: Mapping[str, str] | None = None,
    ) -> UI:
        # rich is imported here, not at the top: scan's worker processes import this package
        # (through the `dedupe` script) and never draw.
        make = _console_class()

        env = os.environ if environ is None else environ
        out_tty, err_tty = _isatty(sys.stdout), _isatty(sys.stderr)

        def console(stderr: bool, tty: bool, *, quiet: bool = False) -> Console:
            return make(
                stderr=stderr,
                force_terminal=tty,
                color_system=color_system(color, tty, env),  # type: ignore[arg-type]
                no_color=no_color(color, env),
                highlight=False,
                soft_wrap=not tty if stderr else True,
                quiet=quiet,
            )

        return cls(
            out=console(False, out_tty),
            err=console(True, err_tty, quiet=verbosity < 0),
            alerts=console(True, err_tty),
            out_tty=out_tty,
            err_tty=err_tty,
            verbosity=verbosity,
        )

    @property
    def interactive(self) -> bool:
        return self.err_tty and _isatty(sys.stdin)

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def verbose(self) -> bool:
        return self.verbosity > 0

    # Errors and warnings are never wrapped: their paths stay whole in a log, for grep and for
    # copying (a terminal folds the long line itself).
    def error(self, message: str) -> None:
        self.alerts.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)

    def warn(self, message: str) -> None:
        self.alerts.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)

    def note(self, message: str) -> None:
        """A detail for -v only (each file passed over, ...): plain text, one line."""
        if self.verbose:
            self.err.print(printable(message), markup=False, soft_wrap=True, style="dim")

    @contextmanager
    def progress(self) -> Iterator[Progress]:
        """Progress on stderr: a live bar per phase in a terminal; off a terminal nothing, or
        with -v one line as each phase starts; with -q nothing at all."""
        if not self.err_tty:
            lines = LineProgress(self.err if self.verbose else None)
            yield lines
            lines.finish()
            return
        from dedupe.cli.bars import live_bar

        with live_bar(self.err, disable=self.quiet) as bar:
            yield bar


@cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class Quitting(Console):
        """A console that lets a closed stdout (`| head`) reach main(), which ends the run with
        the status of a closed pipe; rich's own handling exits with 1."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return Quitting


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


class LineProgress:
    """The `Progress` protocol off a terminal: with a console (-v), one line as each phase
    starts (`[  12.3 s] Grouping 3,000 images`) and one when all are done; else silent."""

    def __init__(self, console: Console | None) -> None:
        self._console = console
        self._started = time.monotonic()
        self._phases = 0

    def _line(self, text: str) -> None:
        if self._console is not None:
            elapsed = time.monotonic() - self._started
            line = printable(f"[{elapsed:7.1f} s] {text}")
            self._console.print(line, markup=False, soft_wrap=True)

    def start(self, description: str, total: int | None) -> None:
        self._phases += 1
        self._line(description if total is None else f"{description} ({total:,})")

    def advance(self, count: int = 1) -> None:
        pass

    def finish(self) -> None:
        if self._phases:
            self._line("done")


def write_data(text: str) -> None:
    """Write data to stdout byte-exactly: undecodable file-name bytes come out as they were."""
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def escape(text: str) -> str:
    """Escape rich markup and make undecodable file-name bytes visible instead of crashing."""
    from rich.markup import escape as rich_escape

    return rich_escape(printable(text))
