"""What the geometric check (issue 16, dedupe/geometry.py) and the content check
(dedupe/content.py, the copies aligned in one frame) cost: how many candidate pairs go
to it, how many files it reads again, and the seconds it takes, per pair and per image.

    .venv/bin/python benchmarks/geometry_cost.py FOLDER [--rotations]
    .venv/bin/python benchmarks/geometry_cost.py benchmarks/.corpus/accuracy/tune

The folder is scanned once (fingerprints in a memory cache, not timed; the decodes the check
can use kept, as `dedupe scan` keeps them), then grouped three times in one run: without the
geometric check (look=None: the pairs it would settle are no copies), with it as a cold scan
runs it (a fresh Looks with the scan's kept decodes: each file is read again and checked,
and decoded again only where its first decode cannot serve), and with it decoding every file
again (no kept decodes, as `review --threshold` and `compare` do). The grouping's own time
without the check is the baseline the check's seconds are compared to; the check's seconds
are split into its steps (summed over the threads that run them).
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
from dedupe.looks import Looks, Pictures
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
    pictures = Pictures()
    result = scan(
        (str(args.folder.resolve()),),
        settings,
        HashCache.memory(settings),
        jobs=args.jobs,
        pictures=pictures,
    )
    records = result.records
    print(
        f"scanned {len(records):,} images in {time.perf_counter() - started:.1f} s (not timed); "
        f"first decodes kept for the check: {len(pictures):,} ({pictures.nbytes / 2**20:.1f} MB"
        f", {pictures.dropped:,} dropped for the budget)"
    )
    rows = []
    kinds: list[list[tuple[str, list[str]]]] = []
    for name, look in (
        ("without the check", None),
        ("with the check (first decodes kept, as a scan)", Looks(records, pictures)),
        ("with the check (every file decoded again)", Looks(records)),
    ):
        started = time.perf_counter()
        found = cluster.cluster(records, settings, look=look)
        groups = build_groups(records, settings, KeepRules(), clusters=found, look=look)
        seconds = time.perf_counter() - started
        rows.append((name, seconds, found.candidates, len(groups), look))
        kinds.append(sorted((g.kind, sorted(m.record.path for m in g.members)) for g in groups))
    base = rows[0][1]
    print()
    print("| grouping | seconds | candidate pairs | groups | pairs looked at | files read again "
          "(decoded again) | check seconds | ms per looked pair | ms per image |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, seconds, candidates, groups, look in rows:
        if look is None:
            print(f"| {name} | {seconds:.2f} | {candidates:,} | {groups} | - | - | - | - | - |")
            continue
        per_pair = 1000 * look.seconds / max(1, look.pairs)
        per_image = 1000 * look.seconds / max(1, len(records))
        print(
            f"| {name} | {seconds:.2f} | {candidates:,} | {groups} | {look.pairs:,} | "
            f"{look.read:,} ({look.read - look.reused:,}; {look.missed} missed) | "
            f"{look.seconds:.2f} | {per_pair:.1f} | {per_image:.1f} |"
        )
    print("\nthe check's steps, seconds summed over its threads (ms per file or pair):")
    for name, _, _, _, look in rows[1:]:
        assert look is not None
        files = look.read + look.missed
        per = {"check": files, "decode": look.read - look.reused, "keypoints": files}
        per["compare"] = look.pairs
        per["content"] = getattr(look, "content_pairs", 0)
        steps = ", ".join(
            f"{step} {spent:.2f} s ({1000 * spent / per[step]:.1f} ms x {per[step]})"
            if per[step]
            else f"{step} {spent:.2f} s (none)"
            for step, spent in look.steps.items()
        )
        print(f"  {name}: {steps}")
    for name, _, _, _, look in rows[1:]:
        assert look is not None
        pairs = getattr(look, "content_pairs", 0)  # (a checkout before the content check: 0)
        spent = getattr(look, "content_seconds", 0.0)
        print(
            f"  the content check, {name}: {pairs:,} pairs compared in {spent:.2f} s "
            f"({1000 * spent / max(1, pairs):.2f} ms a pair, "
            f"{1000 * spent / max(1, len(records)):.2f} ms an image; included above)"
        )
    for name, seconds, _, _, _ in rows[1:]:
        print(
            f"the check's share of the grouping, {name}: {seconds - base:+.2f} s over {base:.2f} s"
        )
    same = kinds[1] == kinds[2]
    print(f"groups with the check: {'the same both ways' if same else 'NOT the same'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
