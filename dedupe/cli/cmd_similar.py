"""`dedupe similar QUERY DIR`: rank the images under DIR by their rate to QUERY."""

from __future__ import annotations

import argparse
from typing import Any

from dedupe.cli import options
from dedupe.cli.ui import UI, write_data
from dedupe.cluster import pair_distance
from dedupe.models import ImageRecord


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
    (root,) = options.existing_dirs([args.dir])
    settings = options.settings_from(args)
    outcome = options.fingerprint_one(args.query, settings)
    with ui.progress() as progress:
        result = options.run_scan(args, (root,), settings, ui, progress)
    query = ImageRecord(args.query, outcome.size, outcome.mtime_ns, 0, 0, outcome.fingerprint)
    ranked = sorted(
        ((pair_distance(query, r, settings), r.path) for r in result.records),
        key=lambda item: (item[0], item[1]),
    )
    lines = []
    for distance, path in ranked:
        rate = distance / settings.bits
        if rate > settings.threshold:
            break
        lines.append(f"{rate} > {path}")
        if args.limit and len(lines) >= args.limit:
            break
    out = "\n".join(lines)
    write_data(out + ("\n" if out else ""))
    return 0
