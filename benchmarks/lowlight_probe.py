"""Low-light probe (issue 16): copies of dark, noisy shots, on pictures and a seed that neither
split of benchmarks/accuracy.py uses as low-light shots.

Each source picture (../shared/real-images' photos, the GNOME backgrounds' light and dark
variants, the MATE backgrounds, scikit-image's photos; never a holdout source) is made into a
low-light shot by the corpus's own `lowlight()` under this probe's seed, saved as a JPEG
(quality 92) with the two copies the corpus makes of its low-light look-alikes: `lk_jpeg`
(re-encoded at quality 70-85) and `lk_resize` (55%, quality 70-85). `--darker` makes them
darker still (gamma 1.8-2.4, 3-7% of the light). Then `dedupe scan` (default settings) and:

- copies found: (shot, its copy) in one group;
- false pairs: two files of different shots in one group (by the group's kind), but for
  shots of two variants of one design (GNOME's light and dark backgrounds, MATE's colour
  variants: one picture recoloured), which are counted apart.

    python benchmarks/lowlight_probe.py /tmp/probe [--darker] [--dedupe-root CHECKOUT]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy_corpus as corpus_lib

SEED = "lowlight-probe:7f21"
BACKGROUNDS = Path("/usr/share/backgrounds")


def sources() -> list[Path]:
    """The probe's source pictures (distinct files; none of the holdout's sources)."""
    shared = corpus_lib.SHARED
    patterns = [
        (shared, "exif-samples/jpg/*.jpg"),
        (shared, "exif-samples/jpg/exif-org/*.jpg"),
        (shared, "exif-samples/jpg/gps/*.jpg"),
        (shared, "exif-samples/jpg/mobile/*.jpg"),
        (shared, "exif-orientation-examples/*_1.jpg"),
        (shared, "imagededup-tests/tests/data/base_images/*.jpg"),
        (BACKGROUNDS, "gnome/*.webp"),
        (BACKGROUNDS, "mate/*/*.jpg"),
        (BACKGROUNDS, "mate/*/*.png"),
    ]
    found = [p for root, pattern in patterns for p in sorted(root.glob(pattern))]
    found = [p for p in found if "x" not in p.stem.split("_")[-1]]  # one size of each
    data = corpus_lib.skimage_data()
    if data is not None:
        names = "astronaut.png coffee.png chelsea.png rocket.jpg retina.jpg camera.png coins.png"
        found += [data / n for n in names.split() if (data / n).is_file()]
    return corpus_lib._unique(found)


def design(path: Path) -> str:
    """The design a background is a variant of (GNOME's X-l and X-d, MATE's Stripes and
    MATE-Stripes-Light, Ubuntu-Mate-Cold and -Warm): one key for every variant."""
    name = path.stem.lower()
    name = re.sub(r"-[dl]$", "", name)
    name = re.sub(r"(ubuntu-mate|mate)-?", "", name)
    return re.sub(r"-?(cold|dark|radioactive|warm|light|no-logo)", "", name) or "ubuntu-mate"


def darker(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """lowlight() with less light still: gamma 1.8-2.4, 3-7% of the light."""
    return corpus_lib.lowlight(image, rng, gamma=(1.8, 2.4), light=(0.03, 0.07))


def seed(*parts: object) -> int:
    text = ":".join([SEED, *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def build(out: Path, dark: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Write the probe's files under out: ({file name: shot}, {shot: design})."""
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    designs: dict[str, str] = {}
    make = darker if dark else corpus_lib.lowlight
    for n, path in enumerate(sources()):
        picture = corpus_lib.load_picture(path)
        if float(np.asarray(picture.convert("L"), np.float32).std()) < 4.0:
            continue  # a nearly blank source (the corpus leaves those out too)
        shot = make(picture, np.random.default_rng(seed(path.name, "shot")))
        stem = f"s{n:03d}"
        designs[stem] = design(path)
        files = {
            f"{stem}.jpg": corpus_lib.encode(shot, "JPEG", quality=92),
        }
        for name, edit in corpus_lib.LOOKALIKE_COPIES.items():
            rng = np.random.default_rng(seed(path.name, name))
            files[f"{stem}-{name}.jpg"] = corpus_lib.encode(
                edit(shot), "JPEG", quality=int(rng.integers(70, 85))
            )
        for name, data in files.items():
            (out / name).write_bytes(data.data)
            truth[name] = stem
    (out / "truth.json").write_text(json.dumps({"files": truth, "designs": designs}, indent=0))
    return truth, designs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--darker", action="store_true")
    parser.add_argument("--dedupe-root", type=Path)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--report", type=Path, help="keep dedupe's report here")
    args = parser.parse_args()
    files = args.folder / "files"
    truth, designs = build(files, args.darker)
    env = dict(os.environ)
    if args.dedupe_root is not None:
        env["PYTHONPATH"] = str(args.dedupe_root)
    report = args.report or args.folder / "report.json"
    started = time.perf_counter()
    subprocess.run(
        [args.python, "-m", "dedupe", "scan", str(files), "--no-cache", "--jobs", "2",
         "--report", str(report)],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.perf_counter() - started
    data = json.loads(report.read_text())
    group_of: dict[str, int] = {}
    false = Counter[str]()
    variants = 0
    for k, group in enumerate(data["groups"]):
        names = [Path(m["path"]).name for m in group["files"]]
        for name in names:
            group_of[name] = k
        for a, b in itertools.combinations(names, 2):
            if truth[a] == truth[b]:
                continue
            if designs[truth[a]] == designs[truth[b]]:
                variants += 1
            else:
                false[str(group["kind"])] += 1
    found, missed = 0, []
    copies = [n for n in truth if "-lk_" in n]
    for name in copies:
        original = f"{truth[name]}.jpg"
        if name in group_of and group_of.get(original) == group_of[name]:
            found += 1
        else:
            missed.append(name)
    shots = len({truth[n] for n in truth})
    print(f"low-light probe{' (darker)' if args.darker else ''}: {shots} shots, {len(truth)} files")
    print(f"copies found: {found}/{len(copies)}")
    print(f"false pairs: {sum(false.values())} {dict(false)}")
    print(f"pairs of two variants of one design (not counted): {variants}")
    print(f"scan: {wall:.1f} s")
    print("missed: " + " ".join(sorted(missed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
