"""`dedupe similar QUERY DIR`: rank the images under DIR by their rate to QUERY."""

from __future__ import annotations

import argparse
from typing import Any

from dedupe import api, inputs
from dedupe.cli import options
from dedupe.cli.ui import UI, write_data


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "similar",
        help="rank images under a folder by similarity to one image",
        description="Print `RATE > PATH` for every image under DIR whose rate to QUERY "
        "(differing bits / total bits) is at most the threshold, closest first.",
    )
    parser.add_argument("query", metavar="QUERY", help="the image to compare with")
    parser.add_argument("dir", metavar="DIR", help="the folder of images to rank")
    options.add_hash_options(parser, threshold=1.0)
    options.add_scan_options(parser)
    options.add_selection_options(parser)
    parser.add_argument(
        "--limit", type=options.positive_int, metavar="K", help="print at most K images"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    (root,) = inputs.folders([args.dir])
    settings = options.settings_from(args)
    query = api.hash_file(args.query, settings=settings)
    with ui.progress() as progress:
        ranked = api.rank_similar(
            query,
            root,
            settings=settings,
            limit=args.limit,
            selection=options.selection_from(args),
            cache=options.cache_from(args),
            jobs=args.jobs,
            follow_symlinks=args.follow_symlinks,
            progress=progress,
            warn=ui.warn,
            passed=options.passed_over(ui),
        )
    out = "\n".join(f"{found.rate} > {found.path}" for found in ranked)
    write_data(out + ("\n" if out else ""))
    return 0
