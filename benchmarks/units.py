"""What reading the facts of grouped files costs (issue 17): metadata.gather, per grouped file,
cold (every file read) and warm (the hash cache's facts table), side by side with the scan's
own fingerprinting of the same library in the same run.

The library: N photo-like JPEGs (1600x1200, EXIF written by Pillow: make, model, date taken)
each with a byte copy in another folder, half of them with an XMP sidecar and a Google Takeout
JSON, and one in ten a HEIC Live Photo with a MOV made by ffmpeg (when ffmpeg is there).

    python benchmarks/units.py              # 300 pictures, 600+ files: about a minute
    python benchmarks/units.py --pictures 1000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dedupe import cluster, metadata
from dedupe.cache import HashCache
from dedupe.models import Settings
from dedupe.scan import scan


def picture(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for channel in range(3):
        fx, fy, px, py = rng.uniform(0.5, 4.0, 4)
        img[..., channel] = np.sin(gx / w * fx * np.pi + px) * np.cos(gy / h * fy * np.pi + py)
    img += rng.normal(0, 0.05, img.shape).astype(np.float32)
    img -= img.min()
    img /= img.max()
    return Image.fromarray((img * 255).astype(np.uint8), "RGB")


def build(root: Path, pictures: int) -> int:
    """The library; returns how many files it holds."""
    ffmpeg = shutil.which("ffmpeg")
    movie = None
    if ffmpeg:
        movie = root / "movie.mov"
        root.mkdir(parents=True)
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30"]
            + ["-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264", "-f", "mov", str(movie)],
            check=True,
        )
    xmp = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF/></x:xmpmeta>\n"
    files = 0
    for k in range(pictures):
        image = picture(k, (1600, 1200))
        live = movie is not None and k % 10 == 0
        buffer = io.BytesIO()
        if live:
            image.save(buffer, "HEIF", quality=60)
            name = f"IMG_{k:04d}.HEIC"
        else:
            tags = Image.Exif()
            tags[0x010F], tags[0x0110] = "Canon", "EOS 5D"
            tags.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
            image.save(buffer, "JPEG", quality=85, exif=tags.tobytes())
            name = f"IMG_{k:04d}.JPG"
        for folder in ("camera", "backup"):
            place = root / folder / f"{k // 100:02d}"
            place.mkdir(parents=True, exist_ok=True)
            (place / name).write_bytes(buffer.getvalue())
            files += 1
            if k % 2:
                (place / f"{name}.xmp").write_bytes(xmp)
                (place / f"{name}.json").write_text(json.dumps({"title": name}))
                files += 2
            if live and movie is not None:
                shutil.copy(movie, place / f"IMG_{k:04d}.MOV")
                files += 1
    if movie is not None:
        movie.unlink()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=300)
    args = parser.parse_args()
    import pillow_heif

    pillow_heif.register_heif_opener()
    with tempfile.TemporaryDirectory(prefix="dedupe-units-") as folder:
        root = Path(folder) / "library"
        files = build(root, args.pictures)
        settings = Settings()
        started = time.perf_counter()
        result = scan([str(root)], settings, HashCache.memory(settings))
        scanning = time.perf_counter() - started
        found = cluster.cluster(result.records, settings)
        grouped = [result.records[k] for g in found.groups for k in g]
        rows = []
        started = time.perf_counter()
        facts = metadata.gather(grouped, result.records, None)
        rows.append(("gather, no cache (every file read)", time.perf_counter() - started))
        cache = HashCache.open(Path(folder) / "cache.sqlite", settings)
        started = time.perf_counter()
        metadata.gather(grouped, result.records, cache)
        rows.append(("gather, cold cache (read and stored)", time.perf_counter() - started))
        started = time.perf_counter()
        again = metadata.gather(grouped, result.records, cache)
        rows.append(("gather, warm cache (no file read)", time.perf_counter() - started))
        cache.close()
        assert again == facts
    companions = sum(len(f.companions) for f in facts.values())
    print(
        f"{platform.node()} · {os.cpu_count()} cores · load {os.getloadavg()[0]:.2f} · "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"library: {files} files, {len(result.records)} images, {len(grouped)} in "
        f"{len(found.groups)} groups, {companions} companions of grouped files"
    )
    per_image = scanning / max(1, len(result.records)) * 1000
    print(
        f"{'scan (fingerprints, cold, 1 process)':<40} {scanning:8.2f} s  {per_image:7.2f} ms/image"
    )
    for what, seconds in rows:
        per = seconds / max(1, len(grouped)) * 1000
        print(
            f"{what:<40} {seconds:8.2f} s  {per:7.2f} ms/grouped file  "
            f"({per / per_image:.3f}x the scan's time per image)"
        )


if __name__ == "__main__":
    main()
