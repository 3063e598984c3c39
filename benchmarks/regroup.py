"""Regroup benchmark: `review --threshold R` on a report of 100,000 images.

    python benchmarks/regroup.py                 # about 5 minutes on 2 cores (first run: +5)
    python benchmarks/regroup.py --images 20000  # a smaller report

Builds synthetic but realistic reports of real ImageRecord / Fingerprint values from small
photo-like pictures (smooth random scenes with texture): their hashes and orientation variants
computed as a scan computes them (dHash through dedupe.hashing itself; pHash vectorised and
checked against it), their check signatures by verify.signature itself. About a fifth of the
files are edited copies (brightness, contrast, noise) in groups of 2 to 4, some byte-identical;
about 40% of the scenes come in series of similar shots, so the hashes cluster as a library's
do. Two reports, both written at threshold 0.1 as a scan writes them (with the pairs its
search checked): dHash (the default hash) and pHash, whose nearly independent bits are the
hardest case for the hash search.

Then, in a fresh process (as `dedupe review` runs), it times `dedupe.report.read` (wall and
CPU seconds), `dedupe.report.write` of it (and the memory the write adds, RSS sampled every
5 ms), reading that freshly written file, and at each new threshold `dedupe.regroup.regroup`
(what `review --threshold` runs: cluster, keep proposals, comparing with the old groups and
carrying decisions over) with `cluster.cluster` alone beside it. At the report's threshold or
a tighter one the pairs come from those its search checked; then the same grouping is also
timed searching and checking every candidate again (as for a report without them), and must
give the same groups. A looser threshold searches again (checking only the pairs beyond the
report's). For the dHash report, `dedupe review --threshold R --no-input --report X` end to
end.

The reports are generated once under benchmarks/.corpus-speed/ (seeded) and reused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import Row

if str(common.ROOT) not in sys.path:  # this checkout's dedupe, wherever we are run from
    sys.path.insert(1, str(common.ROOT))

REPORT_VERSION = 5  # 4, 5: the reports hold the checked pairs, as a scan writes them
TARGET_SECONDS = 2.0
WRITTEN_AT = 0.1  # the threshold the synthetic reports are written at
SIDE = 32  # pHash works on a 32 x 32 picture (hash size 8 x highfreq factor 4)
SKY = 120.0  # strength of the shared top-to-bottom light gradient (grey levels)


# ---------------------------------------------------------------- synthetic pictures -> values


def _scenes(rng: Any, n: int) -> Any:
    """n photo-like 32 x 32 grey pictures: smooth light and shapes at a few scales, texture."""
    import numpy as np

    out = np.zeros((n, SIDE, SIDE), dtype=np.float64)
    for cells, weight in ((2, 60.0), (4, 40.0), (8, 25.0)):
        low = rng.normal(0.0, weight, (n, cells, cells))
        grid = np.linspace(0, cells - 1, SIDE)
        lo = np.floor(grid).astype(int).clip(0, cells - 2) if cells > 1 else np.zeros(SIDE, int)
        frac = grid - lo
        up = np.zeros((SIDE, cells))  # bilinear upsampling as a matrix
        up[np.arange(SIDE), lo] = 1 - frac
        up[np.arange(SIDE), lo + 1] += frac
        out += up @ low @ up.T
    # Most photos share a layout (bright sky above, darker ground below): this common part is
    # what makes real hashes cluster instead of spreading uniformly.
    ramp = np.linspace(1.0, -1.0, SIDE)[None, :, None]
    out += rng.normal(SKY, SKY / 2, (n, 1, 1)) * ramp
    out += rng.normal(0.0, 6.0, (n, SIDE, SIDE))  # texture
    out += rng.uniform(60, 190, (n, 1, 1))  # exposure
    return out.clip(0, 255)


def _make_series(rng: Any, scenes: Any) -> None:
    """Turn about 40% of the scenes into series (bursts, several shots of one place): each
    shot mixes the series' first scene with its own and may move a pixel, so their hashes are
    near each other without being copies. This is what makes a library's hashes cluster."""
    import numpy as np

    n = len(scenes)
    k = 0
    while k < n:
        if rng.random() >= 0.4 / 7.5:  # series start this often: ~40% of scenes in series
            k += 1
            continue
        size = int(rng.integers(3, 13))
        for j in range(k + 1, min(k + size, n)):
            w = float(rng.uniform(0.1, 0.5))
            shot = (1 - w) * scenes[k] + w * scenes[j]
            dy, dx = (int(v) for v in rng.integers(-1, 2, 2))
            scenes[j] = np.roll(shot, (dy, dx), axis=(0, 1))
        k += size


def _edit(rng: Any, scenes: Any) -> Any:
    """Edited copies: brightness, contrast, re-compression noise."""
    n = scenes.shape[0]
    gain = rng.uniform(0.85, 1.15, (n, 1, 1))
    offset = rng.uniform(-15, 15, (n, 1, 1))
    return (scenes * gain + offset + rng.normal(0.0, 1.5, scenes.shape)).clip(0, 255)


def _phash_bits(pixels: Any) -> Any:
    """(n, 32, 32) -> (n, 64) bool: hashing.perceptual_hash's DCT and median rule."""
    import numpy as np

    k = np.arange(SIDE)[:, None]
    i = np.arange(SIDE)[None, :]
    matrix = 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * SIDE))  # as hashing._dct_matrix
    dct = matrix @ pixels @ matrix.T
    low = dct[:, :8, :8].reshape(len(pixels), 64)
    return low > np.median(low, axis=1, keepdims=True)


# EXIF orientations 2..8 on (n, h, w) arrays, as hashing._ORIENTATIONS does on (h, w).
def _turns() -> tuple[Any, ...]:
    import numpy as np

    return (
        lambda a: a[:, :, ::-1],
        lambda a: a[:, ::-1, ::-1],
        lambda a: a[:, ::-1, :],
        lambda a: a.transpose(0, 2, 1),
        lambda a: np.rot90(a, -1, axes=(1, 2)),
        lambda a: np.rot90(a, 2, axes=(1, 2)).transpose(0, 2, 1),
        lambda a: np.rot90(a, 1, axes=(1, 2)),
    )


def _to_ints(bits: Any) -> list[int]:
    import numpy as np

    packed = np.packbits(bits.astype(np.uint8), axis=1)
    return [int.from_bytes(row.tobytes(), "big") for row in packed]


def _hashes_of(pixels: Any, algorithm: str) -> tuple[list[int], list[list[int]]]:
    """The hashes of (n, 32, 32) pictures and of their 7 other orientations, as ints, exactly
    as a scan of such pictures computes them."""
    import numpy as np
    from PIL import Image

    from dedupe import hashing

    def one_by_one(pictures: Any) -> tuple[list[int], list[list[int]]]:
        hashes: list[int] = []
        variants: list[list[int]] = [[] for _ in range(7)]
        for picture in pictures.clip(0, 255).astype(np.uint8):
            value, turned = hashing.compute_with_variants(
                Image.fromarray(picture, "L"), algorithm, 8
            )
            hashes.append(value.bits)
            for k, v in enumerate(turned):
                variants[k].append(v.bits)
        return hashes, variants

    if algorithm != "phash":
        return one_by_one(pixels)
    # pHash vectorised (a 32 x 32 picture needs no resize), checked against hashing.py
    hashes = _to_ints(_phash_bits(pixels))
    variants = [_to_ints(_phash_bits(np.ascontiguousarray(t(pixels)))) for t in _turns()]
    sample_hashes, sample_variants = one_by_one(pixels[:20])
    if sample_hashes != hashes[:20] or any(
        a != b[:20] for a, b in zip(sample_variants, variants, strict=True)
    ):
        raise SystemExit("the vectorised pHash no longer matches dedupe.hashing")
    return hashes, variants


def build_report(images: int, seed: int, algorithm: str, path: Path) -> dict[str, Any]:
    """Write the synthetic report to `path`; return facts about it."""
    import numpy as np
    from PIL import Image

    from dedupe import cluster, verify
    from dedupe import report as report_mod
    from dedupe.groups import build_groups
    from dedupe.hashing import ImageHash
    from dedupe.models import Fingerprint, ImageRecord, KeepRules, ScanStats, Settings

    rng = np.random.default_rng(seed)
    # About 80% distinct scenes; the rest are copies in groups of 2 to 4 files.
    sources: list[int] = []
    scene = 0
    while len(sources) < images:
        copies = 1 if rng.random() < 0.88 else int(rng.integers(2, 5))
        sources.extend([scene] * copies)
        scene += 1
    sources = sources[:images]
    order = rng.permutation(images)  # copies scattered over the library, like real ones
    source_of = np.asarray(sources)[order]
    first_of: dict[int, int] = {}
    records: list[ImageRecord] = []
    batch = 10_000
    scenes_needed = int(source_of.max()) + 1
    scene_pixels = np.concatenate(
        [_scenes(rng, min(batch, scenes_needed - k)) for k in range(0, scenes_needed, batch)]
    )
    _make_series(rng, scene_pixels)
    for start in range(0, images, batch):
        idx = np.arange(start, min(start + batch, images))
        src = source_of[idx]
        pixels = scene_pixels[src].copy()
        is_copy = np.zeros(len(idx), dtype=bool)
        for k, s in enumerate(src.tolist()):
            if s in first_of:
                is_copy[k] = True
            else:
                first_of[s] = int(idx[k])
        exact = is_copy & (rng.random(len(idx)) < 0.1)
        edited = is_copy & ~exact
        if edited.any():
            pixels[edited] = _edit(rng, pixels[edited])
        pixels = pixels.round()  # 8-bit pictures, like decoded ones
        hashes, variants = _hashes_of(pixels, algorithm)
        # The check signature through verify.signature itself, whatever its layout is today.
        as_bytes = pixels.clip(0, 255).astype(np.uint8)
        checks = [verify.signature(Image.fromarray(picture, "L")) for picture in as_bytes]
        for k, i in enumerate(idx.tolist()):
            s = int(src[k])
            if exact[k]:
                original = records[first_of[s]] if first_of[s] < len(records) else None
                if original is not None:
                    records.append(
                        ImageRecord(
                            path=f"/photos/album_{i // 1000:04d}/IMG_{i:06d}.jpg",
                            size=original.size,
                            mtime_ns=1_700_000_000_000_000_000 + i,
                            dev=1,
                            ino=i + 1,
                            fingerprint=original.fingerprint,
                        )
                    )
                    continue
            portrait = s % 7 == 0
            fingerprint = Fingerprint(
                width=3000 if portrait else 4000,
                height=4000 if portrait else 3000,
                format="JPEG",
                digest=hashlib.sha256(f"{seed}-{i}".encode()).hexdigest(),
                hash=ImageHash(hashes[k], 8),
                variant_bits=Fingerprint.pack_variants(ImageHash(v[k], 8) for v in variants),
                check=checks[k],
                taken_at=f"2024-{1 + s % 12:02d}-{1 + s % 28:02d}T12:{s % 60:02d}:00",
            )
            records.append(
                ImageRecord(
                    path=f"/photos/album_{i // 1000:04d}/IMG_{i:06d}.jpg",
                    size=2_000_000 + (s * 7919) % 3_000_000 + i % 1000,
                    mtime_ns=1_700_000_000_000_000_000 + i,
                    dev=1,
                    ino=i + 1,
                    fingerprint=fingerprint,
                )
            )
    # Written at 0.1, not the default 0.25: at loose thresholds these synthetic scenes chain
    # (a series mixes 50-90% of its first shot into each other shot, and the check accepts the
    # closest), so groups of thousands form that a real library does not have (the accuracy
    # benchmark on real photos: precision 1.000 at 0.25). The regroup rows print the largest
    # groups at each threshold.
    settings = Settings(algorithm=algorithm, threshold=WRITTEN_AT)
    rules = KeepRules()
    started = time.perf_counter()
    found = cluster.cluster(records, settings)  # as `dedupe scan` groups them
    groups = build_groups(records, settings, rules, clusters=found)
    grouping = time.perf_counter() - started
    report = report_mod.Report(
        roots=("/photos",),
        settings=settings,
        keep=rules,
        stats=ScanStats(files=images, images=images, hashed=images),
        groups=groups,
        errors=(),
        skipped=(),
        images=tuple(records),
        created_at="2024-06-01T00:00:00+00:00",
        checked=found.checked,  # the pairs the search checked, as a scan's report holds them
    )
    report_mod.write(report, path)
    return {
        "images": images,
        "scenes": scene,
        "copies": int(images - len(set(sources))),
        "groups": len(groups),
        "grouped_files": sum(len(g.members) for g in groups),
        "first_grouping_seconds": grouping,
        "mb": path.stat().st_size / common.MB,
    }


def synthetic_report(images: int, seed: int, algorithm: str) -> tuple[Path, dict[str, Any]]:
    folder = common.corpus_dir(f"report-{images}-s{seed}-{algorithm}")
    path = folder / "report.json"
    facts_path = folder / "facts.json"
    from dedupe import verify

    # verify.VERSION: a new check-signature layout needs a new report.
    recipe = {
        "version": REPORT_VERSION,
        "images": images,
        "seed": seed,
        "algorithm": algorithm,
        "written_at": WRITTEN_AT,
        "check": verify.VERSION,
    }
    if (
        facts_path.is_file()
        and path.is_file()
        and json.loads(facts_path.read_text()).get("recipe") == recipe
    ):
        return path, json.loads(facts_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    print(
        f"  generating a synthetic report of {images:,} images (once; reused later) ...", flush=True
    )
    started = time.perf_counter()
    facts = build_report(images, seed, algorithm, path)
    facts["recipe"] = recipe
    facts_path.write_text(json.dumps(facts))
    print(f"  ... done in {time.perf_counter() - started:.0f} s", flush=True)
    return path, facts


# ---------------------------------------------------------------- timing (in a fresh process)


class _Clock:
    """Wall and CPU seconds (this process, all threads) of a block."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def json(self) -> dict[str, float]:
        return {"wall": self.wall, "cpu": self.cpu}


def _rss_mb() -> float:
    """This process's resident memory now (Linux), MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / common.MB


class _PeakRss:
    """Largest resident memory of this process during a block, sampled every 5 ms by a thread
    (ru_maxrss cannot tell: the process's peak is often from before the block)."""

    def __enter__(self) -> _PeakRss:
        self.before = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def time_regroup(path: str, thresholds: list[float], out: str) -> None:
    """Run in a subprocess: time read, write, and regroup at each threshold."""
    from dataclasses import replace

    from dedupe import cluster
    from dedupe import regroup as regroup_mod
    from dedupe import report as report_mod
    from dedupe.regroup import read_to_regroup

    results: dict[str, Any] = {}
    # As `dedupe review --threshold` reads it: the grouping kernels load on a thread meanwhile.
    with _PeakRss() as memory, _Clock() as clock:
        report = read_to_regroup(path)
    results["read"] = clock.json() | {"extra_mb": memory.peak - memory.before}
    results["images"] = len(report.images)
    # Write it back as this version writes (also: the file the next row reads).
    written = Path(out).with_name("written.json")
    with _PeakRss() as memory, _Clock() as clock:
        report_mod.write(report, written)
    results["write"] = clock.json() | {
        "extra_mb": memory.peak - memory.before,
        "mb": written.stat().st_size / common.MB,
    }
    del report
    with _Clock() as clock:
        report = report_mod.read(written)
    results["read_written"] = clock.json()
    results["by_threshold"] = {}
    for threshold in thresholds:
        settings = replace(report.settings, threshold=threshold)
        entry: dict[str, Any] = {}
        # What `review --threshold` runs: from the report's checked pairs when they cover the
        # threshold, else a new search and check.
        with _Clock() as clock:
            regrouped, changes = regroup_mod.regroup(report, threshold=threshold)
        entry["regroup"] = clock.json()
        entry["changes"] = changes.describe()
        entry["groups"] = len(regrouped.groups)
        entry["largest"] = sorted((len(g.members) for g in regrouped.groups), reverse=True)[:5]
        del regrouped
        with _Clock() as clock:
            found = cluster.cluster(report.images, settings, checked=report.checked)
        entry["cluster"] = clock.json()
        entry["from_checked"] = found.checked is report.checked and report.checked is not None
        entry["candidates"] = found.candidates
        entry["rejected"] = found.rejected
        if entry["from_checked"]:
            # The same grouping with nothing checked before (as for a report without checked
            # pairs): every candidate searched and checked again; the same groups.
            with _Clock() as clock:
                again = cluster.cluster(report.images, settings)
            entry["cluster_again"] = clock.json()
            if again.groups != found.groups:
                raise SystemExit(f"regrouping from the checked pairs differs at {threshold}")
        results["by_threshold"][str(threshold)] = entry
    results["peak_rss_mb"] = common.self_peak_rss_mb()
    Path(out).write_text(json.dumps(results))


def _cpu(timing: dict[str, float]) -> str:
    return f"CPU {timing['cpu']:.2f} s"


def review_command_exists() -> bool:
    run = common.run_timed(
        [common.project_python(), "-m", "dedupe", "review", "--help"], env=common.dedupe_env()
    )
    return run.returncode == 0 and "--no-input" in run.stdout and "--threshold" in run.stdout


def regroup_rows(args: argparse.Namespace, algorithm: str, *, first: bool) -> list[Row]:
    """Time regrouping a synthetic report of `algorithm` hashes (in a fresh process). The
    report reading and writing rows and `dedupe review` end to end only for the first."""
    path, facts = synthetic_report(args.images, args.seed, algorithm)
    tag = f"[{algorithm}{', the default' if algorithm == 'dhash' else ''}] "
    print(
        f"\n## Regroup a {algorithm} report of {facts['images']:,} images ({facts['mb']:.0f} MB "
        f"of JSON; {facts['copies']:,} copies of {facts['scenes']:,} scenes; "
        f"{facts['groups']:,} groups at the threshold it was written at, {WRITTEN_AT})",
        flush=True,
    )
    return timed_rows(args, path, facts, tag, args.thresholds, first=first)


def scanned_rows(args: argparse.Namespace) -> list[Row]:
    """Time regrouping the report of a real scan of the small photo-like files (the corpus of
    scan_speed.py's rescan rows) at the default threshold and beside it: unlike the synthetic
    reports, unrelated pictures there have hashes as near as a library's (about 0.4% of pairs
    within 16 bits), so a loose threshold brings millions of candidate pairs to check."""
    count = args.scanned
    corpus = common.tiny_corpus(count, 7, os.cpu_count() or 1)
    place = common.corpus_dir(f"report-scanned-{count}-s7")
    place.mkdir(parents=True, exist_ok=True)
    path = place / "report.json"
    # The cache keeps the hashes between runs (a first run decodes every file: minutes).
    scan = common.run_timed(
        [
            common.project_python(), "-m", "dedupe", "scan", str(corpus), "--cache",
            str(place / "cache.sqlite"), "--report", str(path),
        ],
        env=common.dedupe_env(),
    ).check("scan of the photo-like corpus")  # fmt: skip
    data = json.loads(path.read_text())
    facts = {
        "images": data["index"]["images"],  # (schema 3: every image is in the index)
        "mb": path.stat().st_size / common.MB,
        "groups": len(data["groups"]),
    }
    default = data["settings"]["threshold"]
    print(
        f"\n## Regroup the report of a scan of {facts['images']:,} photo-like files "
        f"({facts['mb']:.0f} MB of JSON; {facts['groups']:,} groups at the default threshold, "
        f"{default}; the scan took {scan.seconds:.0f} s)",
        flush=True,
    )
    return timed_rows(args, path, facts, "[scanned photo-like, dhash] ", args.scanned_thresholds)


def timed_rows(
    args: argparse.Namespace,
    path: Path,
    facts: dict[str, Any],
    tag: str,
    thresholds_text: str,
    *,
    first: bool = False,
) -> list[Row]:
    """Rows of regrouping the report at `path` at each threshold (in a fresh process); the
    report reading and writing rows and `dedupe review` end to end only for the first."""
    thresholds = [float(t) for t in thresholds_text.split(",") if t]
    rows: list[Row] = []
    n = str(facts["images"])
    with tempfile.TemporaryDirectory(prefix="dedupe-bench-") as tmp:
        out = Path(tmp) / "times.json"
        run = common.run_timed(
            [
                common.project_python(),
                str(Path(__file__).resolve()),
                "--time-only",
                str(path),
                "--thresholds",
                thresholds_text,
                "--out",
                str(out),
            ],
            env=common.dedupe_env(),
        ).check("regroup timing")
        times = json.loads(out.read_text())
        print(f"  the timing process peaked at {run.tree_peak_mb:.0f} MB", flush=True)
        write = times["write"]
        io_rows = [
            Row(
                "read a report as `review --threshold` does: regroup.read_to_regroup "
                "(report.read; the grouping kernels load on a thread meanwhile)",
                n,
                times["read"]["wall"],
                f"{_cpu(times['read'])}; {facts['mb']:.0f} MB of JSON; "
                f"+{times['read']['extra_mb']:.0f} MB at its peak",
                None,
                "-",
                "-",
            ),
            Row(
                "write it back: dedupe.report.write",
                n,
                write["wall"],
                f"{_cpu(write)}; {write['mb']:.0f} MB of JSON",
                None,
                "-",
                "-",
            ),
            Row(
                "  memory the write adds to the process at its peak (RSS sampled every 5 ms)",
                n,
                None,
                f"+{write['extra_mb']:.0f} MB",
                None,
                "-",
                "-",
            ),
            Row(
                "read the report just written: dedupe.report.read",
                n,
                times["read_written"]["wall"],
                _cpu(times["read_written"]),
                None,
                "-",
                "-",
            ),
        ]
        if first:
            rows += io_rows
        for threshold, entry in times["by_threshold"].items():
            print(
                f"  threshold {threshold}: {entry['candidates']:,} candidate pairs, "
                f"{entry['rejected']:,} rejected by the check, {entry['groups']:,} groups "
                f"(largest: {', '.join(str(k) for k in entry['largest'])} files)"
                + (f"; {entry['changes']}" if "changes" in entry else ""),
                flush=True,
            )
            # The 2 s target is for regrouping within what the report's search checked (any
            # threshold up to the scan's); a looser one is a new search of the library, whose
            # cost grows with its candidates: timed, without a target (see README).
            within = entry["from_checked"]
            how = (
                "from the report's checked pairs"
                if within
                else "looser than the report's search: a new search, checking the pairs beyond "
                f"it; {entry['candidates']:,} candidates"
            )
            rows.append(
                Row(
                    f"{tag}regroup at {threshold}: regroup.regroup ({how})",
                    n,
                    entry["regroup"]["wall"],
                    f"{_cpu(entry['regroup'])}; read + regroup "
                    f"{times['read_written']['wall'] + entry['regroup']['wall']:.2f} s",
                    None,
                    f"<= {TARGET_SECONDS:g} s" if within else "-",
                    common.verdict(entry["regroup"]["wall"] <= TARGET_SECONDS) if within else "-",
                )
            )
            rows.append(
                Row(
                    f"{tag}  of which cluster.cluster at {threshold} (timed alone)",
                    n,
                    entry["cluster"]["wall"],
                    f"{_cpu(entry['cluster'])}; the rest (policy, groups, compare) "
                    f"CPU {entry['regroup']['cpu'] - entry['cluster']['cpu']:.2f} s",
                    None,
                    "-",
                    "-",
                )
            )
            if entry["from_checked"]:
                rows.append(
                    Row(
                        f"{tag}  the same without checked pairs: cluster.cluster searches "
                        f"and checks every candidate at {threshold}",
                        n,
                        entry["cluster_again"]["wall"],
                        f"{_cpu(entry['cluster_again'])}; {entry['candidates']:,} candidates",
                        None,
                        "-",
                        "-",
                    )
                )
        if first and review_command_exists():
            threshold = thresholds[-1]
            copy = Path(tmp) / "report.json"
            copy.write_bytes(path.read_bytes())
            review = common.run_timed(
                [
                    common.project_python(),
                    "-m",
                    "dedupe",
                    "review",
                    "--report",
                    str(copy),
                    "--threshold",
                    str(threshold),
                    "--no-input",
                ],
                env=common.dedupe_env(),
                cwd=Path(tmp),
                timeout=args.review_timeout,
            )
            if not review.timed_out:
                review.check("dedupe review")
            rows.append(
                Row(
                    f"{tag}`dedupe review --threshold {threshold} --no-input` end to end "
                    "(start, read, regroup, print every group, save)",
                    n,
                    None if review.timed_out else review.seconds,
                    f"not finished in {args.review_timeout:g} s"
                    if review.timed_out
                    else f"{len(review.stdout) / common.MB:.1f} MB printed",
                    review.tree_peak_mb,
                    "-",
                    "-",
                )
            )
        elif first:
            print("  `dedupe review --threshold R --no-input` not available: not timed")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `review --threshold R` regrouping.")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--thresholds",
        default="0.05,0.1,0.15",
        help=f"new thresholds to regroup at (the reports are written at {WRITTEN_AT})",
    )
    parser.add_argument(
        "--hashes",
        default="dhash,phash",
        help="reports to regroup, by hash (default: dhash, the default hash, and phash, whose "
        "nearly independent bits are the hardest case for the search)",
    )
    parser.add_argument(
        "--review-timeout",
        type=float,
        default=300.0,
        help="give up on timing `dedupe review` end to end after this many seconds",
    )
    parser.add_argument(
        "--scanned",
        type=int,
        default=0,
        help="also regroup the report of a scan of this many small photo-like files (run.py "
        "--large: 100000; the first run scans them, later ones reuse the hash cache)",
    )
    parser.add_argument(
        "--scanned-thresholds",
        default="0.1,0.2,0.25,0.3",
        help="thresholds for the scanned report (default: 0.1, 0.2, the default 0.25 it is "
        "scanned at, and 0.3, looser than its search)",
    )
    parser.add_argument("--time-only", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    thresholds = [float(t) for t in args.thresholds.split(",") if t]
    if args.time_only:
        time_regroup(args.time_only, thresholds, args.out)
        return 0

    common.print_machine("Regroup: machine")
    started = time.perf_counter()
    rows: list[Row] = []
    algorithms = [a for a in args.hashes.split(",") if a]
    for number, algorithm in enumerate(algorithms):
        rows += regroup_rows(args, algorithm, first=number == 0)
    if args.scanned:
        rows += scanned_rows(args)
    common.print_machine("Regroup: results")
    print(common.table(rows))
    print(f"(regroup.py took {time.perf_counter() - started:.0f} s)", flush=True)
    common.emit(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
