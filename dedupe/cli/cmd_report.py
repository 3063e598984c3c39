"""`dedupe report --html OUT.html`: the report as static pages for a browser (one page for a
small report; a big one is split into pages of 100 groups, linked from OUT.html)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dedupe import api
from dedupe import report as report_mod
from dedupe.cli import options
from dedupe.cli.cmd_review import read_report
from dedupe.cli.ui import UI, CliError, escape, human_bytes


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write a report as HTML pages (thumbnails inline) to look at in a browser",
        description="Write every group of a scan report as static HTML: thumbnails inline, the "
        "kept copy highlighted, distances and reasons, and the files the scan could not use. "
        "A report of more than 100 groups is split into pages (OUT.html, then "
        "OUT_pages/page-002.html, ...), linked from the first. No script, no network. Nothing "
        "is changed.",
    )
    parser.add_argument(
        "--html", required=True, type=Path, metavar="OUT.html", help="where to write the page"
    )
    parser.add_argument(
        "--report",
        default=report_mod.DEFAULT_PATH,
        metavar="PATH",
        help=f"the report to show (default: ./{report_mod.DEFAULT_PATH})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    options.writable_file(args.html, "--html")  # before the thumbnails are made
    report = read_report(args.report)
    try:
        with ui.progress() as progress:
            written = api.write_html(report, args.html, progress=progress)
    except OSError as error:
        raise CliError(f"cannot write {args.html}: {error}", 1) from None
    size = sum(page.stat().st_size for page in written.pages)
    note = f", {written.missing} without a picture (moved or unreadable)" if written.missing else ""
    more = ""
    if len(written.pages) > 1:
        folder = escape(str(written.pages[1].parent))
        more = f" and {len(written.pages) - 1} more pages in {folder}"
    ui.err.print(
        f"Wrote {escape(str(args.html))}{more} ({human_bytes(size)}): "
        f"{len(report.groups)} groups, {written.files} files{note}."
    )
    return 0
