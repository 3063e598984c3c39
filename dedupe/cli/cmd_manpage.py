"""`dedupe manpage`: the manual page (roff, section 1), generated from the parser by
argparse-manpage, with the exit status, environment and files sections added.

The page is reproducible: the same dedupe gives the same bytes on any machine. Its date is
SOURCE_DATE_EPOCH's (as reproducible builds set it) or none, and the parser is built for it
as if HOME were `~` with no XDG variable and the terminal 80 columns wide, so that no default
path or line break of this machine gets into the page.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from dedupe import __version__
from dedupe.cli.ui import UI, write_data

DESCRIPTION = "find duplicate and near-duplicate photos, review them, clean them up safely"

ENVIRONMENT = (
    ("NO_COLOR", "when set (not empty), no colours (bold and dim stay); --color overrides it"),
    ("FORCE_COLOR", "when set (not empty), colours also in a pipe; NO_COLOR and --color win"),
    ("XDG_CACHE_HOME", "the hash cache is $XDG_CACHE_HOME/dedupe/hashes.sqlite (~/.cache)"),
    (
        "XDG_DATA_HOME",
        "the not-duplicates marks are in $XDG_DATA_HOME/dedupe/not-duplicates.json "
        "(~/.local/share); the desktop trash there is not scanned",
    ),
    ("XDG_STATE_HOME", "apply journals are in $XDG_STATE_HOME/dedupe/journals (~/.local/state)"),
    ("DEDUPE_THUMBNAILS", "the default of review --thumbnails"),
    ("SOURCE_DATE_EPOCH", "the date of this page, when it is generated"),
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "manpage",
        help="print the manual page (roff) for man(1)",
        description="Print dedupe's manual page on stdout (roff, section 1), generated from "
        "its options: `dedupe manpage > dedupe.1 && man ./dedupe.1`. Reproducible: the date is "
        "SOURCE_DATE_EPOCH's, or none.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    write_data(page())
    return 0


def page() -> str:
    from argparse_manpage.manpage import Manpage

    from dedupe.cli import EXIT_STATUS, build_parser

    with _documentation_environment():
        parser = build_parser()
        manpage = Manpage(parser)
        manpage.date = _date()
        manpage.source = f"dedupe {__version__}"
        manpage.manual = "User Commands"
        manpage.description = DESCRIPTION
        manpage.add_section("exit status", "=", _table(EXIT_STATUS))
        manpage.add_section("environment", "=", _table(ENVIRONMENT))
        text: str = str(manpage)
    return text


def _date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not epoch.isdigit():
        return ""
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%d")


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def _table(rows: tuple[tuple[Any, str], ...]) -> str:
    return "\n".join(f".TP\n.B {_roff(str(key))}\n{_roff(meaning)}" for key, meaning in rows)


@contextmanager
def _documentation_environment() -> Iterator[None]:
    names = ("HOME", "COLUMNS", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ["HOME"] = "~"
        os.environ["COLUMNS"] = "80"
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
