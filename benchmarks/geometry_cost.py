"""What the geometric check (issue 16, dedupe/geometry.py) costs: how many candidate pairs go
to it, how many files it reads again, and the seconds it takes, per pair and per image.

    .venv/bin/python benchmarks/geometry_cost.py FOLDER [--rotations]
    .venv/bin/python benchmarks/geometry_cost.py benchmarks/.corpus/accuracy/tune

The folder is scanned once (fingerprints in a memory cache, not timed), then grouped
twice in one run: without the geometric check (look=None: the pairs it would settle are
no copies), and with it (a fresh Looks: the files are read again, as a cold scan does). The
grouping's own time without the check is the baseline the check's seconds are compared to.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from dedupe import cluster
from dedupe.cache import HashCache
from dedupe.groups import build_groups
from dedupe.looks import Looks
from dedupe.models import KeepRules, Settings
from dedupe.scan import scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rotations", action="store_true")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    settings = Settings(rotations=args.rotations)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"load average {load}; Python {platform.python_version()}")  # fmt: skip
    print(f"command: python benchmarks/geometry_cost.py {' '.join(sys.argv[1:])}")
    started = time.perf_counter()
    result = scan(
        (str(args.folder.resolve()),), settings, HashCache.memory(settings), jobs=args.jobs
    )
    records = result.records
    print(f"scanned {len(records):,} images in {time.perf_counter() - started:.1f} s (not timed)")
    rows = []
    for name, look in (("without the check", None), ("with the check", Looks(records))):
        started = time.perf_counter()
        found = cluster.cluster(records, settings, look=look)
        groups = build_groups(records, settings, KeepRules(), clusters=found, look=look)
        seconds = time.perf_counter() - started
        rows.append((name, seconds, found.candidates, len(groups), look))
    base = rows[0][1]
    print()
    print("| grouping | seconds | candidate pairs | groups | pairs looked at | files read "
          "again | check seconds | ms per looked pair | ms per image |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, seconds, candidates, groups, look in rows:
        if look is None:
            print(f"| {name} | {seconds:.2f} | {candidates:,} | {groups} | - | - | - | - | - |")
            continue
        per_pair = 1000 * look.seconds / max(1, look.pairs)
        per_image = 1000 * look.seconds / max(1, len(records))
        print(
            f"| {name} | {seconds:.2f} | {candidates:,} | {groups} | {look.pairs:,} | "
            f"{look.read:,} ({look.missed} missed) | {look.seconds:.2f} | {per_pair:.1f} | "
            f"{per_image:.1f} |"
        )
    print(f"\nthe check's share of the grouping: {rows[1][1] - base:+.2f} s over {base:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
