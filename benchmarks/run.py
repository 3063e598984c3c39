"""Run every speed benchmark in one go and print one combined table.

    python benchmarks/run.py            # scan, regroup, search, review: ~20 minutes on 2 cores
    python benchmarks/run.py --large    # adds the 100,000-image scan rows (about 15 more)
    python benchmarks/run.py --quick    # smaller corpora, one round: a smoke test of the setup
    python benchmarks/run.py --scale    # adds issue 20's rows at 10k, 100k and 1M images

Runs, one after the other, each in its own process: benchmarks/scan_speed.py (cold scan
against imagehash, imagededup and decoding alone; hash agreement; profile; warm rescan and
memory), benchmarks/regroup.py (`review --threshold` on a 100k-image report), when it is
there, benchmarks/search.py (all pairs through the BK-tree), and benchmarks/review.py (the
first group of a 100k-image review on screen; the HTML pages of 5,000 groups in Chromium);
with --scale, benchmarks/scale.py (report size, review, review --threshold, apply --dry-run,
scan cost per image and peak memory at 10k, 100k and 1M images). Their own output streams
through; the rows they report are collected and printed together at the end. The accuracy
benchmark (benchmarks/accuracy.py) is separate and not run here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

HERE = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run all speed benchmarks; print one table.")
    parser.add_argument("--large", action="store_true", help="add the 100,000-image scan rows")
    parser.add_argument(
        "--quick", action="store_true", help="small corpora and one round (not for the README)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="add benchmarks/scale.py: issue 20's rows at 10k, 100k and 1M images (the first "
        "run builds the libraries: about an hour on 2 busy cores; then about 30 minutes)",
    )
    parser.add_argument(
        "--only",
        default="scan,regroup,search,review",
        help="comma-separated subset of scan,regroup,search,review (default: all)",
    )
    parser.add_argument("--peer-python", help="virtualenv interpreter with imagededup")
    args = parser.parse_args(argv)
    chosen = set(filter(None, args.only.split(",")))

    scan_args: list[str] = []
    regroup_args: list[str] = []
    review_args: list[str] = []
    scale_args: list[str] = ["--stages", "--store"]
    if args.large:
        scan_args.append("--large")
        regroup_args += ["--scanned", "100000"]
    if args.quick:
        scan_args += ["--files", "40", "--repeat", "1", "--small", "2000", "--corpora", "camera"]
        regroup_args += ["--images", "20000"]
        review_args += ["--images", "20000", "--groups", "500", "--repeat", "1"]
        scale_args = ["--sizes", "10000"]
    if args.peer_python:
        scan_args += ["--peer-python", args.peer_python]
    plan: list[tuple[str, Path, list[str]]] = [
        ("scan", HERE / "scan_speed.py", scan_args),
        ("regroup", HERE / "regroup.py", regroup_args),
        ("search", HERE / "search.py", []),
        ("review", HERE / "review.py", review_args),
    ]
    if args.scale:
        plan.append(("scale", HERE / "scale.py", scale_args))
        chosen.add("scale")

    started = time.perf_counter()
    common.print_machine("All speed benchmarks")
    common.prepare_dedupe()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dedupe-bench-") as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        env = dict(os.environ)
        env[common.ROWS_ENV] = str(rows_file)
        for name, script, extra in plan:
            if name not in chosen:
                continue
            if not script.is_file():
                print(f"\n(skipped {script.name}: not there yet)", flush=True)
                continue
            print(f"\n# {script.name} {' '.join(extra)}".rstrip(), flush=True)
            code = subprocess.call([sys.executable, str(script), *extra], env=env)
            if code != 0:
                failures.append(f"{script.name} exited with {code}")
        rows = common.read_rows(rows_file)
    print("\n# Summary (every row measured in this run)")
    common.print_machine("machine")
    print(common.table(rows))
    minutes = (time.perf_counter() - started) / 60
    print(f"(all benchmarks took {minutes:.1f} minutes)")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
