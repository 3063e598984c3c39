"""`dedupe marks`: list and clear the remembered "not duplicates" marks (review's x / X keys)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from dedupe.cli import ExitCode, listing
from dedupe.cli.ui import UI, CliError, escape, printable, write_data
from dedupe.review import marks
from dedupe.review.facts import plural


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "marks",
        help='list or clear the remembered "not duplicates" marks',
        description='List the pairs of files a review marked "not duplicates" (later scans and '
        "reviews never group them), or forget them with --clear: every pair, or only those "
        f"with a file at or under PATH. The marks are kept in {marks.default_path()}.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="only the pairs with a file at or under PATH (a file or a folder; repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=listing.FORMATS,
        default="text",
        help="how the pairs are printed on stdout: text (one pair a line, the two paths "
        "separated by a tab; tabs and newlines in names shown as \\t and \\n), json (a list of "
        "[path, path] pairs), csv (path_a, path_b)",
    )
    parser.add_argument(
        "--clear", action="store_true", help="forget the pairs (asks first in a terminal)"
    )
    parser.add_argument(
        "--yes", "-y", action="store_true", help="do not ask before --clear forgets the pairs"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    store = marks.default_path()
    remembered = marks.load(store)
    if remembered.warning:
        if args.clear and remembered.stuck:
            raise CliError(
                f"refusing to clear: {remembered.warning} (nothing was changed; move the file "
                "away to start afresh)",
                ExitCode.ERROR,
            )
        ui.warn(remembered.warning)
    pairs = remembered.pairs
    if args.paths:
        pairs = marks.involving(pairs, [os.path.abspath(p) for p in args.paths])
    chosen = sorted(pairs)
    if not args.clear:
        _write(chosen, args.format)
        where = f" involving {', '.join(map(escape, args.paths))}" if args.paths else ""
        ui.err.print(
            f"{plural(len(chosen), 'pair')} marked not duplicates{where} (in {escape(str(store))})"
        )
        return ExitCode.OK
    if not chosen:
        ui.err.print(
            "Nothing to clear: no pair is marked not duplicates"
            + (" with a file there." if args.paths else ".")
        )
        return ExitCode.OK
    if not args.yes:
        if not ui.interactive:
            raise CliError(
                f"refusing to forget {plural(len(chosen), 'pair')} without confirmation: stdin is "
                "not a terminal. Add --yes to go ahead.",
                ExitCode.REFUSED,
            )
        from rich.prompt import Confirm

        ui.alerts.print(
            f"{plural(len(chosen), 'pair')} marked not duplicates would be forgotten: later "
            "scans may group them again."
        )
        if not Confirm.ask("Forget them?", console=ui.alerts, default=False):
            ui.err.print("Nothing was changed.")
            return ExitCode.REFUSED
    try:
        gone = marks.forget(chosen, store)
    except ValueError as error:  # damaged since it was read: left as it is
        raise CliError(f"refusing to clear: {error}", ExitCode.ERROR) from None
    except OSError as error:
        raise CliError(f"cannot write {store}: {error}", ExitCode.ERROR) from None
    left = len(remembered.pairs) - gone
    ui.err.print(f"Forgot {plural(gone, 'pair')}; {left} {'remains' if left == 1 else 'remain'}.")
    return ExitCode.OK


def _write(pairs: list[tuple[str, str]], form: str) -> None:
    if form == "json":
        write_data(listing.json_text([list(pair) for pair in pairs]) + "\n")
    elif form == "csv":
        write_data(listing.csv_text(("path_a", "path_b"), pairs))
    else:
        write_data("".join(f"{printable(a)}\t{printable(b)}\n" for a, b in pairs))
