"""`dedupe hash IMAGE`: print an image's hash as a matrix of bits and as hex."""

from __future__ import annotations

import argparse
from typing import Any

from dedupe import api, hashing
from dedupe.cli.ui import UI, write_data
from dedupe.models import DEFAULT_ALGORITHM, Settings


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "hash",
        help="print one image's hash (bit matrix, then hex)",
        description="Print the N x N matrix of hash bits of IMAGE (1 = brighter than the "
        "mean for ahash), then the hash in hex.",
    )
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    parser.add_argument(
        "--hash-size",
        type=int,
        choices=hashing.HASH_SIZES,
        default=8,
        help="N for an N x N bit hash (default: 8)",
    )
    parser.add_argument(
        "--algorithm",
        choices=hashing.ALGORITHMS,
        default="ahash",
        help="hash algorithm (default: ahash, the classic average hash; scan defaults to "
        f"{DEFAULT_ALGORITHM})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    value = api.hash_file(args.image, settings=Settings(args.algorithm, args.hash_size)).hash
    rows = ["".join("1" if bit else "0" for bit in row) for row in value.to_bool_array()]
    write_data("\n".join(rows) + "\n" + str(value) + "\n")
    return 0
