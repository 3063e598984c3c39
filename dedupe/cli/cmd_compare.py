"""`dedupe compare A B`: how far apart two images are, and whether a scan would group them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dedupe import hashing
from dedupe.cli import options
from dedupe.cli.ui import UI, printable, write_data
from dedupe.cluster import PairCheck, check_pair
from dedupe.models import ImageRecord, Settings

# What orientation k (EXIF numbering) does to B, in words.
ORIENTATION_NAMES = {
    1: "as it is",
    2: "mirrored",
    3: "turned 180 degrees",
    4: "flipped upside down",
    5: "mirrored and turned 90 degrees counter-clockwise",
    6: "turned 90 degrees clockwise",
    7: "mirrored and turned 90 degrees clockwise",
    8: "turned 90 degrees counter-clockwise",
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "compare",
        help="show how far apart two images are and whether a scan would group them",
        description="Print the rate (differing bits / total bits) between A and B under every "
        "algorithm and hash size, the score of the independent check, and whether the "
        "settings (by default the scan defaults) would group them, with and without "
        "--rotations. Use it to calibrate --threshold.",
    )
    parser.add_argument("a", metavar="A", help="an image file")
    parser.add_argument("b", metavar="B", help="another image file")
    options.add_hash_options(parser, threshold=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def _record(path: str, settings: Settings) -> ImageRecord:
    outcome = options.fingerprint_one(path, settings)
    return ImageRecord(path, outcome.size, outcome.mtime_ns, 0, 0, outcome.fingerprint)


def _verdict(check: PairCheck) -> str:
    if check.exact:
        return "grouped (identical bytes)"
    how = "" if check.orientation == 1 else f" (B {ORIENTATION_NAMES[check.orientation]})"
    if check.grouped:
        return "grouped" + how
    return "not grouped" + how


def run(args: argparse.Namespace, ui: UI) -> int:
    settings = options.settings_from(args)
    rows: list[dict[str, Any]] = []
    current: dict[bool, PairCheck] = {}
    first: tuple[ImageRecord, ImageRecord] | None = None
    for algorithm in hashing.ALGORITHMS:
        for size in hashing.HASH_SIZES:
            plain = Settings(algorithm, size, settings.threshold, False)
            a, b = _record(args.a, plain), _record(args.b, plain)
            first = first or (a, b)
            rows.append(
                {
                    "algorithm": algorithm,
                    "bits": size * size,
                    "distance": a.hash - b.hash,
                    "rate": round((a.hash - b.hash) / (size * size), 4),
                    "rotations_distance": min(
                        [a.hash - b.hash] + [a.hash - v for v in b.fingerprint.variants]
                    ),
                }
            )
            rows[-1]["rotations_rate"] = round(rows[-1]["rotations_distance"] / (size * size), 4)
            if (algorithm, size) == (settings.algorithm, settings.hash_size):
                for rotations in (False, True):
                    current[rotations] = check_pair(
                        a, b, Settings(algorithm, size, settings.threshold, rotations)
                    )
    assert first is not None
    a, b = first
    if args.json:
        write_data(json.dumps(_json(a, b, rows, settings, current), indent=2) + "\n")
        return 0
    write_data(_text(a, b, rows, settings, current))
    return 0


def _describe(record: ImageRecord) -> str:
    f = record.fingerprint
    return f"{printable(record.path)}  ({f.width}x{f.height} {f.format})"


def _text(
    a: ImageRecord,
    b: ImageRecord,
    rows: list[dict[str, Any]],
    settings: Settings,
    current: dict[bool, PairCheck],
) -> str:
    lines = [f"A  {_describe(a)}", f"B  {_describe(b)}", ""]
    lines.append("algorithm  bits  distance  rate    with rotations")
    for row in rows:
        lines.append(
            f"{row['algorithm']:<9}  {row['bits']:>4}  {row['distance']:>8}  "
            f"{row['rate']:<6.3f}  {row['rotations_distance']:>3} ({row['rotations_rate']:.3f})"
        )
    plain, turned = current[False], current[True]
    low = [name for name, flag in zip("AB", plain.low_information, strict=True) if flag]
    lines.append("")
    lines.append(
        f"check      correlation {plain.same:.4f} as they are, {plain.best:.4f} best aligned: "
        + ("passes" if plain.verified else "fails")
    )
    if low:
        lines.append(
            f"           {' and '.join(low)} {'has' if len(low) == 1 else 'have'} too little "
            "detail to compare (blank, flat or fine text): matched only as identical bytes"
        )
    if turned.orientation != 1:
        lines.append(
            f"           with B {ORIENTATION_NAMES[turned.orientation]}: correlation "
            f"{turned.best:.4f}: " + ("passes" if turned.verified else "fails")
        )
    lines.append("")
    name = (
        f"{settings.algorithm} {settings.hash_size}x{settings.hash_size}, "
        f"threshold {settings.threshold} (max distance {settings.max_distance})"
    )
    lines.append(f"{name}: {_verdict(plain)}")
    lines.append(f"{name}, --rotations: {_verdict(turned)}")
    return "\n".join(lines) + "\n"


def _check_json(check: PairCheck) -> dict[str, Any]:
    return {
        "grouped": check.grouped,
        "exact": check.exact,
        "orientation": check.orientation,
        "distance": check.oriented_distance,
        "correlation": round(check.same, 4),
        "aligned_correlation": round(check.best, 4),
        "verified": check.verified,
        "low_information": list(check.low_information),
    }


def _json(
    a: ImageRecord,
    b: ImageRecord,
    rows: list[dict[str, Any]],
    settings: Settings,
    current: dict[bool, PairCheck],
) -> dict[str, Any]:
    return {
        "a": a.path,
        "b": b.path,
        "hashes": rows,
        "settings": {
            "algorithm": settings.algorithm,
            "hash_size": settings.hash_size,
            "threshold": settings.threshold,
        },
        "plain": _check_json(current[False]),
        "rotations": _check_json(current[True]),
    }
