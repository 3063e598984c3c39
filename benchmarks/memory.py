"""Peak memory of one worker decoding a big image, and of a `--jobs 2` scan of big images
(issue 15, item 12), with the cold-scan time of 12 MP JPEGs beside them so that the change
is seen not to slow the normal scan. Optionally side by side with another checkout.

    python benchmarks/memory.py                      # this checkout
    python benchmarks/memory.py --compare OLD_TREE   # and the same runs with OLD_TREE's dedupe

The big images are generated once (about a minute) under benchmarks/.corpus-speed/memory/:
a 121 MP (11000 x 11000) HEIC made with pillow-heif, and a 13000 x 13000 progressive JPEG of a
plain picture (about 1 MB for 169 MP). Every measurement is a fresh process: the growth of
ru_maxrss while one file is fingerprinted (what a scan worker adds for it), and the largest sum
of the scan's process tree's memory (common.run_timed, sampled) for the scans. Runs of the
two checkouts alternate, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import common

PEAK = """
import json, sys
def peak():  # this process's own high-water mark (ru_maxrss would count what a parent had)
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
import pillow_heif  # the scan's worker processes have it preloaded
from dedupe import scan
from dedupe.models import Settings
base = peak()
outcome = scan.fingerprint_file(sys.argv[1], Settings())
top = peak()
kind = type(outcome).__name__
print(json.dumps({"base_mb": base / 1024, "peak_mb": top / 1024, "outcome": kind}))
"""

RECIPE = {"version": 1}


def big_images() -> tuple[Path, Path]:
    folder = common.corpus_dir("memory")
    heic, jpeg = folder / "big-121mp.heic", folder / "claims-13000x13000.jpg"
    if common._reuse(folder, RECIPE) and heic.is_file() and jpeg.is_file():
        return heic, jpeg
    common._start(folder)
    print("  generating a 121 MP HEIC and a 13000 x 13000 progressive JPEG ...", flush=True)
    import numpy as np
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    side = 11000
    pixels = np.zeros((side, side, 3), np.uint8)
    ramp = (np.arange(side) * 255 // side).astype(np.uint8)
    pixels[:, :, 0] = ramp[None, :]
    pixels[:, :, 1] = ramp[:, None]
    pixels[:, :, 2] = (
        (np.arange(side)[None, :] // 500 + np.arange(side)[:, None] // 500) % 2
    ) * 200
    Image.fromarray(pixels).save(heic, quality=50)
    del pixels
    Image.new("RGB", (13000, 13000), (120, 130, 140)).save(jpeg, progressive=True, quality=50)
    common._stamp(folder, RECIPE)
    return heic, jpeg


def env_for(tree: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(tree), NO_COLOR="1")
    return env


def worker_peak(tree: Path, path: Path) -> dict[str, float | str]:
    run = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)],
        env=env_for(tree),
        cwd=tree,  # sys.path[0] is the current folder: it must not bring another dedupe
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float | str] = json.loads(run.stdout)
    return result


def scan_run(tree: Path, folder: Path, jobs: int) -> common.Run:
    with tempfile.TemporaryDirectory() as scratch:
        return common.run_timed(
            [sys.executable, "-m", "dedupe", "scan", str(folder), "--no-cache",
             "--jobs", str(jobs), "--report", os.path.join(scratch, "r.json")],
            env=env_for(tree) | {"XDG_CACHE_HOME": scratch, "XDG_DATA_HOME": scratch},
            cwd=tree,
        ).check(f"dedupe scan {folder}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=Path, help="another checkout's root, run side by side")
    parser.add_argument("--rounds", type=int, default=5, help="cold scans of each checkout")
    parser.add_argument("--photos", type=int, default=60, help="12 MP JPEGs in the speed scan")
    args = parser.parse_args()
    common.print_machine("Memory of big images, and the cold scan beside it")
    trees = {"this": common.ROOT} | ({"compare": args.compare.resolve()} if args.compare else {})
    heic, jpeg = big_images()

    print("\nOne worker, one image (growth of the peak RSS of a fresh process):")
    for path in (heic, jpeg):
        for name, tree in trees.items():
            r = worker_peak(tree, path)
            grown = float(r["peak_mb"]) - float(r["base_mb"])
            print(
                f"  {path.name:28} {name:8} peak {float(r['peak_mb']):6.0f} MB "
                f"(+{grown:4.0f} MB over {float(r['base_mb']):.0f} MB) -> {r['outcome']}"
            )

    photos = common.photo_corpus(args.photos, 7, 2)
    files = common.image_files(photos)
    # hard links on the corpora's own file system (the scan reads each name as a file)
    with tempfile.TemporaryDirectory(dir=heic.parent) as scratch:
        big = Path(scratch) / "big"
        big.mkdir()
        # Two of each (copies: hard links are one file to a scan), placed in the walk's order
        # so that they fall into different tasks of the pool (scan._chunks: 5, 5, 4, 4, ...
        # files) and two workers meet big images at the same time.
        bigs = {0: heic, 5: heic, 10: jpeg, 14: jpeg}
        for k in range(44):
            if k in bigs:
                shutil.copyfile(bigs[k], big / f"{k:02d}{bigs[k].suffix}")
            else:
                os.link(files[k % len(files)], big / f"{k:02d}.jpg")
        print("\nscan --jobs 2 of 2 such HEICs, 2 such JPEGs and 40 12 MP JPEGs (whole tree):")
        for name, tree in trees.items():
            run = scan_run(tree, big, 2)
            print(
                f"  {name:8} peak of the tree {run.tree_peak_mb:6.0f} MB, largest process "
                f"{run.max_rss_mb:5.0f} MB, {run.seconds:5.1f} s"
            )

    common.warm_page_cache(files)
    print(
        f"\nCold scan of {args.photos} 12 MP JPEGs, --jobs 2 --no-cache, {args.rounds} rounds, "
        "alternating:"
    )
    times: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            run = scan_run(tree, photos, 2)
            times[name].append(run.seconds)
            cpu[name].append(run.cpu_seconds)
    for name in trees:
        every = ", ".join(f"{t:.2f}" for t in times[name])
        print(
            f"  {name:8} median {statistics.median(times[name]):6.2f} s wall, "
            f"{statistics.median(cpu[name]):6.2f} s CPU (all: {every})"
        )
    if "compare" in trees:
        wall = statistics.median(times["this"]) / statistics.median(times["compare"])
        used = statistics.median(cpu["this"]) / statistics.median(cpu["compare"])
        print(f"  this / compare: {wall:.3f} (wall), {used:.3f} (CPU)")


if __name__ == "__main__":
    main()
