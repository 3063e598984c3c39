"""The command line: argument parsing, exit codes, and wiring of the library to the terminal.

Each command lives in its own `cmd_*.py` module with `register(subparsers)` and `run(args, ui)`.
stdout carries data (JSON, hashes, paths); stderr carries messages for people and progress.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from enum import IntEnum
from typing import NoReturn

from dedupe import __version__, locations, workers
from dedupe.cli.ui import UI, CliError
from dedupe.gcpause import settle


class ExitCode(IntEnum):
    OK = 0  # done (a scan with unreadable files is still done: they are in the report)
    ERROR = 1  # something went wrong while running (cannot write the report, ...)
    USAGE = 2  # bad arguments: missing folder, threshold outside [0, 1], unknown algorithm
    PARTIAL = 3  # apply/undo: some files were skipped (each with its reason)
    REFUSED = 4  # apply/undo: the report or journal was refused; nothing was done
    INTERRUPTED = 130  # Ctrl-C


# Command modules under dedupe/cli/, in the order `dedupe --help` lists them.
COMMANDS = (
    "cmd_scan",
    "cmd_hash",
    "cmd_similar",
    "cmd_compare",
    "cmd_review",
    "cmd_report",
    "cmd_apply",
    "cmd_undo",
)

# Commands that decode folders of images in worker processes.
DECODING = frozenset({"scan", "similar"})


def _commands(only: str | None = None) -> list[object]:
    """The command modules; with `only` (a command's name), just that one when it exists.

    Importing a command's module imports what it runs on (the scan stack, the review app...),
    so a run imports only its own command: `dedupe hash` never loads the grouping code.
    """
    import importlib

    names: tuple[str, ...] = COMMANDS
    if only is not None and f"cmd_{only}" in COMMANDS:
        names = (f"cmd_{only}",)
    return [importlib.import_module(f"dedupe.cli.{name}") for name in names]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: {message}", ExitCode.USAGE)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command, or only `command` when it names one."""
    parser = _Parser(
        prog="dedupe",
        description="Find duplicate and near-duplicate photos, review them, clean up safely.",
    )
    parser.add_argument("--version", action="version", version=f"dedupe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _commands(command):
        module.register(sub)  # type: ignore[attr-defined]
    return parser


def _decodes_in_workers(arguments: Sequence[str]) -> bool:
    """Whether a scan with these arguments is sure to decode in worker processes: --jobs above 1
    and no hash cache to take fingerprints from (--no-cache, or no cache file yet: a first scan).

    Read before the full parser is built (that imports the command's modules), only to decide
    whether to start the workers' server early; a rescan, which may decode nothing, does not
    pay for one it may not use. When this misreads odd arguments, the real parser still
    decides what runs."""
    parser = _Parser(add_help=False)
    parser.add_argument("--help", "-h", action="store_true")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--cache")
    try:
        known, _ = parser.parse_known_args(arguments)
    except CliError:  # e.g. --jobs x: the real parser reports it
        return False
    if known.help or known.jobs <= 1:
        return False
    return bool(known.no_cache) or not os.path.exists(known.cache or locations.cache_file())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see ExitCode and README "Exit codes")."""
    ui = UI.for_terminal()
    try:
        arguments = sys.argv[1:] if argv is None else list(argv)
        # The first argument names the command (the only options before it are --help and
        # --version, which need every command listed or none).
        first = arguments[0] if arguments and not arguments[0].startswith("-") else None
        if first in DECODING and _decodes_in_workers(arguments[1:]):
            workers.start_early()  # before the imports below, which it then runs beside
        parser = build_parser(first)
        args = parser.parse_args(arguments)
        if not getattr(args, "run", None):
            parser.print_help(sys.stderr)
            return int(ExitCode.USAGE)
        return int(args.run(args, ui))
    except CliError as error:
        ui.error(str(error))
        return int(error.code)
    except KeyboardInterrupt:
        ui.error("interrupted")
        return int(ExitCode.INTERRUPTED)


def entry() -> NoReturn:
    """The program (`dedupe`, `python -m dedupe`): run main() and exit with its code."""
    code = main()
    # The process ends now: spare the interpreter its final garbage collection over every object
    # still alive (with the grouping's compiled kernels loaded, about 0.2 s of CPU for nothing).
    settle()
    sys.exit(code)
