"""The command line: argument parsing, exit codes, and wiring of the library to the terminal.

Each command lives in its own `cmd_*.py` module with `register(subparsers)` and `run(args, ui)`:
it parses, calls the Python API (dedupe/api.py), formats what it returns, and leaves the
library's errors (dedupe/errors.py) to main(), which shows each as one line and exits with
its code (exit_code_of); a command that words an error its own way raises CliError.
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
from dedupe.cli.ui import COLOR_MODES, UI, CliError
from dedupe.errors import DedupeError, Refused, UsageError
from dedupe.gcpause import settle


class ExitCode(IntEnum):
    OK = 0  # done (a scan with unreadable files is still done: they are in the report)
    ERROR = 1  # something went wrong while running (cannot write the report, ...)
    USAGE = 2  # bad arguments: missing folder, threshold outside [0, 1], unknown algorithm
    PARTIAL = 3  # apply/undo: some files were skipped (each with its reason)
    REFUSED = 4  # apply/undo/marks --clear: refused; nothing was done
    FOUND = 10  # scan/review --exit-code: done, and some file is proposed for trash
    INTERRUPTED = 130  # Ctrl-C
    CLOSED = 141  # stdout closed early (`| head`): as a program stopped by SIGPIPE


# What each exit code means, in words: the man page's EXIT STATUS (README "Exit codes" says the
# same; a test compares the codes).
EXIT_STATUS: tuple[tuple[int, str], ...] = (
    (ExitCode.OK, "done (a scan with unreadable files is still done: they are in the report)"),
    (ExitCode.ERROR, "failed while running (the report or journal could not be written, ...)"),
    (ExitCode.USAGE, "bad arguments, refused before any work: a missing folder or file, ..."),
    (ExitCode.PARTIAL, "apply, undo: done, but some files were skipped, each with its reason"),
    (ExitCode.REFUSED, "apply, undo, marks --clear: refused, nothing was done"),
    (ExitCode.FOUND, "scan, review with --exit-code: done, and some file is proposed for trash"),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
    (ExitCode.CLOSED, "stdout was closed before everything was written (e.g. `| head`)"),
)


def exit_code_of(error: DedupeError) -> ExitCode:
    """The exit code of a library error: an argument that cannot be used is a usage error (2),
    a refusal to act is 4, anything else a failure (1)."""
    if isinstance(error, UsageError):
        return ExitCode.USAGE
    if isinstance(error, Refused):
        return ExitCode.REFUSED
    return ExitCode.ERROR


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
    "cmd_marks",
    "cmd_completion",
    "cmd_manpage",
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
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"dedupe {__version__}",
        help="print the version",
    )
    add_common_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _commands(command):
        module.register(sub)  # type: ignore[attr-defined]
    for name, subparser in sub.choices.items():
        if name == subparser.prog.split()[-1]:  # not an alias
            add_common_options(subparser, top=False)
    return parser


def add_common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-q/-v and --color, before the command (`dedupe -q scan`) or after it (`dedupe scan -q`).

    On a command's parser they default to SUPPRESS, so that one given before the command is
    not overwritten by the command's own default."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=-1,
        default=default(0),
        help="print only errors, warnings and questions on stderr (data on stdout as ever)",
    )
    loudness.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="store_const",
        const=1,
        default=default(0),
        help="say more on stderr: each phase as it starts (also in a pipe or a log) and each "
        "file or folder passed over with its reason",
    )
    parser.add_argument(
        "--color",
        choices=COLOR_MODES,
        default=default("auto"),
        help="colour on stderr and stdout: auto (the default) colours a terminal and not a pipe, "
        "honouring NO_COLOR and FORCE_COLOR; always or never override them",
    )


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


# Options that may come before the command; the value of --color is the next argument.
_LEADING_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose"})


def _command_at(arguments: Sequence[str]) -> int | None:
    """Where the command's name is among the arguments: after the options that may come
    before it (-q, -v, --color); None when another option comes first (--help, --version,
    which need every command listed or none)."""
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument in _LEADING_FLAGS or argument.startswith("--color="):
            index += 1
        elif argument == "--color":
            index += 2
        elif argument.startswith("-"):
            return None
        else:
            return index
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see ExitCode and README "Exit codes")."""
    ui = UI.for_terminal()  # until the options are read
    try:
        arguments = sys.argv[1:] if argv is None else list(argv)
        at = _command_at(arguments)
        first = arguments[at] if at is not None else None
        if at is not None and first in DECODING and _decodes_in_workers(arguments[at + 1 :]):
            workers.start_early()  # before the imports below, which it then runs beside
        parser = build_parser(first)
        args = parser.parse_args(arguments)
        ui = UI.for_terminal(color=args.color, verbosity=args.verbosity)
        if not getattr(args, "run", None):
            parser.print_help(sys.stderr)
            return int(ExitCode.USAGE)
        return int(args.run(args, ui))
    except CliError as error:
        ui.error(str(error))
        return int(error.code)
    except DedupeError as error:
        ui.error(str(error))
        return int(exit_code_of(error))
    except KeyboardInterrupt:
        ui.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader of stdout went away (`dedupe ... | head`): stop quietly, as a program that
        # SIGPIPE ends would, and keep the interpreter from failing to flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.CLOSED)


def entry() -> NoReturn:
    """The program (`dedupe`, `python -m dedupe`): run main() and exit with its code."""
    try:
        code = main()
    except KeyboardInterrupt:  # Ctrl-C before main() has its console (rich still loading)
        sys.stderr.write("error: interrupted\n")
        code = int(ExitCode.INTERRUPTED)
    # The process ends now: spare the interpreter its final garbage collection over every object
    # still alive (with the grouping's compiled kernels loaded, about 0.2 s of CPU for nothing).
    settle()
    sys.exit(code)
