"""`dedupe report --html OUT.html`: the report as one self-contained page for a browser."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dedupe import html_report
from dedupe import report as report_mod
from dedupe.cli import options
from dedupe.cli.cmd_review import read_report
from dedupe.cli.ui import UI, CliError, escape, human_bytes


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write a report as one HTML page (thumbnails inline) to look at in a browser",
        description="Write every group of a scan report as one self-contained HTML page: "
        "thumbnails inline, the kept copy highlighted, distances and reasons. Nothing is changed.",
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
    with ui.progress() as progress:
        thumbs = html_report.thumbnails(html_report.group_paths(report), progress=progress)
    try:
        html_report.write(report, args.html, thumbs)
    except OSError as error:
        raise CliError(f"cannot write {args.html}: {error}", 1) from None
    missing = sum(1 for v in thumbs.values() if v.startswith("!"))
    size = args.html.stat().st_size
    note = f", {missing} without a picture (moved or unreadable)" if missing else ""
    ui.err.print(
        f"Wrote {escape(str(args.html))} ({human_bytes(size)}): {len(report.groups)} groups, "
        f"{len(thumbs)} files{note}."
    )
    return 0
