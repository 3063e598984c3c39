"""Scan-speed benchmark: dedupe's cold scan against its peers on the same 12 MP JPEGs and cores,
hash agreement with full decoding, a per-file profile, warm rescans and peak memory.

    python benchmarks/scan_speed.py              # about 6 minutes on 2 cores (first run: +3)
    python benchmarks/scan_speed.py --large      # adds the 100,000-image memory/rescan rows

Everything is measured in this one run, side by side:

* cold scan: `python -m dedupe scan DIR --no-cache --jobs N --report ...` (a subprocess, so it
  pays interpreter start, walk, grouping and report writing too) against, on the same files:
  imagehash's `average_hash(Image.open(p))` loop as issue 7 names it (one process: the row
  its 4x target applies to) and the same call in a pool of N processes (a stricter comparison
  without a target); imagededup's `PHash().encode_images(image_dir=...)` with N workers (run
  under --peer-python, a separate virtualenv, when imagededup imports there); and decoding
  alone with Pillow's reduced-size JPEG decoding (read, open, `draft` to >= 256 px on the
  short side, load) in a pool of N processes. Peers are timed inside their process (pool
  start included, imports excluded), so the ratios favour the peers a little. Each tool runs
  --repeat times, interleaved; the best time of each counts. `--compare TREE` also runs the
  dedupe of another checkout (TREE, e.g. main's) in every round, beside this one, with the
  same ratios, and says whether both found the same groups.
* hash agreement: dedupe's reduced-size pHash (from the report) and aHash against imagehash's
  full-resolution `phash` / `average_hash` of the same files: mean and worst bits apart.
* profile: where one file's time goes (read, digest, decode, hashes, check) and what the pool,
  start-up, grouping and report writing add.
* warm rescan of an unchanged tree of small files (cache filled by a first scan), as a
  subprocess and as `scan()` alone, and peak memory of the cold scan at 10k (and 100k) images.

Corpora are generated once under benchmarks/.corpus-speed/ (seeded) and reused.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import Row

if str(common.ROOT) not in sys.path:  # this checkout's dedupe, wherever we are run from
    sys.path.insert(1, str(common.ROOT))

DEFAULT_PEER_PYTHON = "/work/bench-venv/bin/python"
MIN_SIDE = 256  # what dedupe asks draft() for (decode.MIN_SIDE)
PEER_CHUNK = 4

# Targets of issue 7.
IMAGEHASH_TARGET = 4.0
IMAGEDEDUP_TARGET = 3.0
DRAFT_TARGET = 1.3
WARM_TARGET_PER_10K = 1.0
MEMORY_TARGET_MB = 500.0


# ---------------------------------------------------------------- peers (run in a subprocess)


def _imagehash_one(path: str) -> str:
    import imagehash
    from PIL import Image

    return str(imagehash.average_hash(Image.open(path)))


def _draft_one(path: str) -> tuple[int, int]:
    from PIL import Image

    with open(path, "rb") as handle:
        data = handle.read()
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if min(width, height) > MIN_SIDE:
        scale = MIN_SIDE / min(width, height)
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    image.load()
    return image.size


def _pool_map(function: Callable[[str], Any], files: list[str], jobs: int) -> list[Any]:
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, files, chunksize=PEER_CHUNK))


def _cpu() -> float:
    """CPU seconds of this process and of every child it has reaped (pool workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_peer(name: str, corpus: str, jobs: int, out: str) -> None:
    """Time one peer on every JPEG under `corpus`; write {"seconds", "cpu", "hashes"} to `out`.

    The clock starts after the imports (the peer's pool start-up is timed, its imports not).
    """
    files = [str(p) for p in common.image_files(Path(corpus), (".jpg",))]
    hashes: dict[str, str] = {}
    if name in ("imagehash", "imagehash-loop"):
        import imagehash  # noqa: F401
        from PIL import Image  # noqa: F401

        cpu, start = _cpu(), time.perf_counter()
        if name == "imagehash":
            values = _pool_map(_imagehash_one, files, jobs)
        else:  # the plain loop, in this one process
            values = [_imagehash_one(path) for path in files]
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        hashes = dict(zip(files, values, strict=True))
    elif name == "draft":
        cpu, start = _cpu(), time.perf_counter()
        _pool_map(_draft_one, files, jobs)
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    elif name == "imagededup":
        from imagededup.methods import PHash

        hasher = PHash(verbose=False)
        cpu, start = _cpu(), time.perf_counter()
        encoded = hasher.encode_images(image_dir=corpus, num_enc_workers=jobs)
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        hashes = {os.path.join(corpus, k): v for k, v in encoded.items() if v}
        if len(hashes) != len(files):
            raise SystemExit(f"imagededup encoded {len(hashes)} of {len(files)} files")
    else:
        raise SystemExit(f"unknown peer {name!r}")
    Path(out).write_text(json.dumps({"seconds": seconds, "cpu": cpu, "hashes": hashes}))


# ---------------------------------------------------------------- helpers


def bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def dedupe_cmd(*args: str) -> list[str]:
    return [common.project_python(), "-m", "dedupe", *args]


def report_groups(path: Path) -> list[list[str]]:
    """The report's groups: each its files' paths, sorted."""
    data = json.loads(path.read_text())
    return sorted(sorted(f["path"] for f in g["files"]) for g in data["groups"])


def _every_image(path: Path) -> Any:
    """The report with every scanned image (schema 3 keeps them in the index beside it)."""
    from dedupe import report as report_mod

    return report_mod.read(path, with_index=True)


def report_hashes(path: Path) -> tuple[str, dict[str, str]]:
    report = _every_image(path)
    return report.settings.algorithm, {r.path: str(r.fingerprint.hash) for r in report.images}


def near_blank(report: Path, paths: list[str]) -> list[bool]:
    """Which files dedupe's check calls low-information (blank or near-uniform)."""

    from dedupe import verify

    checks = {r.path: r.fingerprint.check for r in _every_image(report).images}
    return [bool(b) for b in verify.low_information([checks[p] for p in paths])]


def _imagehash_phash(path: str) -> str:
    import imagehash
    from PIL import Image

    return str(imagehash.phash(Image.open(path)))


def _dedupe_hash(job: tuple[str, str]) -> str:
    from dedupe import scan
    from dedupe.models import Settings

    path, algorithm = job
    outcome = scan.fingerprint_file(path, Settings(algorithm=algorithm))
    if not isinstance(outcome, scan.Hashed):
        raise SystemExit(f"dedupe could not hash {path}: {outcome}")
    return str(outcome.fingerprint.hash)


@dataclass(frozen=True)
class Timed:
    """One tool's run on the corpus: wall and CPU seconds of the timed part, and its process."""

    seconds: float
    cpu: float
    run: common.Run
    hashes: dict[str, str]


def ratio_row(
    what: str, files: int, peer: Timed | None, ours: Timed, target: float | None, note: str
) -> Row:
    """A peer's row: its time and how many times faster dedupe is; target None: no target."""
    wanted = "-" if target is None else f">= {target:g}x"
    if peer is None:
        return Row(what, str(files), None, note, None, wanted, "-")
    ratio = peer.seconds / ours.seconds
    return Row(
        what,
        str(files),
        peer.seconds,
        f"dedupe {ratio:.2f}x faster (CPU time: {peer.cpu / ours.cpu:.2f}x)",
        peer.run.tree_peak_mb,
        wanted,
        "-" if target is None else common.verdict(ratio >= target),
    )


# ---------------------------------------------------------------- cold scan vs peers


def imagededup_python(path: str) -> tuple[str | None, str]:
    """The interpreter to run imagededup with, or None and why not."""
    if not Path(path).is_file():
        return None, f"imagededup: not installed (no interpreter at {path}; see README)"
    probe = common.run_timed([path, "-c", "import imagededup.methods"])
    if probe.returncode != 0:
        last = probe.stderr.strip().splitlines()[-1:] or ["?"]
        return None, f"imagededup: not installed ({path}: {last[0]})"
    return path, ""


def warm_up(args: argparse.Namespace, work: Path) -> None:
    """Bytecode and compiled kernels in place (common.prepare_dedupe), then one untimed scan
    of a few small files: a first run after installing pays for compiling."""
    folder = common.tiny_corpus(64, args.seed, 1)
    if args.compare:
        common.prepare_dedupe(args.compare)
        common.run_timed(
            dedupe_cmd("scan", str(folder), "--no-cache", "--report", str(work / "warm-c.json")),
            env=common.dedupe_env(args.compare),
            cwd=work,
        ).check("warm-up scan (--compare)")
    common.prepare_dedupe()
    run = common.run_timed(
        dedupe_cmd(
            "scan",
            str(folder),
            "--no-cache",
            "--jobs",
            str(args.jobs),
            "--report",
            str(work / "warm-up.json"),
        ),
        env=common.dedupe_env(),
        cwd=work,
    ).check("warm-up scan")
    print(f"  warm-up scan of 64 small files (untimed): {run.seconds:.1f} s", flush=True)


def compare_rows(
    args: argparse.Namespace, work: Path, kind: str, tag: str, n: int, best: dict[str, Timed]
) -> list[Row]:
    """The --compare checkout's cold scan beside this one's: its time, its ratio to imagehash's
    loop and to decoding alone, and whether it found the same groups."""
    theirs, ours = best["compare"], best["dedupe"]
    same = all(
        report_groups(work / f"cold-{kind}-{r}.json")
        == report_groups(work / f"cold-{kind}-{r}-compare.json")
        for r in range(args.repeat)
    )
    groups = len(report_groups(work / f"cold-{kind}-0-compare.json"))
    loop, draft = best.get("imagehash-loop"), best["draft"]
    against = "-" if loop is None else f"{loop.seconds / theirs.seconds:.2f}x imagehash's loop"
    return [
        Row(
            tag + f"cold scan by {args.compare} (--compare), the same command",
            str(n),
            theirs.seconds,
            f"this checkout takes {ours.seconds / theirs.seconds:.2f}x its time (CPU time: "
            f"{ours.cpu / theirs.cpu:.2f}x); it is {against}, "
            f"{theirs.seconds / draft.seconds:.2f}x decoding alone; {groups} groups, "
            f"{'the same' if same else 'NOT the same'} as this checkout's",
            theirs.run.tree_peak_mb,
            "-",
            "-",
        )
    ]


def cold_scan(args: argparse.Namespace, work: Path, kind: str) -> tuple[list[Row], dict[str, Any]]:
    corpus = common.photo_corpus(args.files, args.seed, args.jobs, noisy=kind == "camera")
    files = common.image_files(corpus, (".jpg",))
    sizes = [p.stat().st_size for p in files]
    from PIL import Image

    progressive = 0
    for path in files:
        with Image.open(path) as image:
            progressive += bool(image.info.get("progressive"))
    mean_mb = statistics.mean(sizes) / common.MB
    print(
        f"\n## Cold scan, {kind} corpus: {len(files)} JPEGs of 12 MP (4000 x 3000), "
        f"mean {mean_mb:.2f} MB/file "
        f"(min {min(sizes) / common.MB:.2f}, max {max(sizes) / common.MB:.2f}), "
        f"{progressive} progressive; {args.jobs} processes per tool",
        flush=True,
    )
    common.warm_page_cache(files)
    peer_python, imagededup_note = imagededup_python(args.peer_python)
    if imagededup_note:
        print("  " + imagededup_note, flush=True)

    warm_up(args, work)
    script = str(Path(__file__).resolve())
    runs: dict[str, list[Timed]] = {}

    def peer(name: str, python: str) -> None:
        out = work / f"{name}.json"
        run = common.run_timed(
            [
                python,
                script,
                "--peer",
                name,
                "--corpus",
                str(corpus),
                "--jobs",
                str(args.jobs),
                "--peer-out",
                str(out),
            ],
        ).check(name)
        data = json.loads(out.read_text())
        runs.setdefault(name, []).append(Timed(data["seconds"], data["cpu"], run, data["hashes"]))

    trees = {"dedupe": common.ROOT} | ({"compare": args.compare} if args.compare else {})
    for round_ in range(args.repeat):
        for name, tree in trees.items():
            report = work / f"cold-{kind}-{round_}{'' if name == 'dedupe' else '-' + name}.json"
            run = common.run_timed(
                dedupe_cmd(
                    "scan",
                    str(corpus),
                    "--no-cache",
                    "--jobs",
                    str(args.jobs),
                    "--report",
                    str(report),
                ),
                env=common.dedupe_env(tree),
                cwd=work,
            ).check(f"dedupe scan ({tree})")
            runs.setdefault(name, []).append(
                Timed(run.seconds, run.cpu_seconds, run, report_hashes(report)[1])
            )
        peer("imagehash-loop", common.project_python())
        peer("imagehash", common.project_python())
        peer("draft", common.project_python())
        if peer_python is not None:
            peer("imagededup", peer_python)
        line = " · ".join(
            f"{name} {items[-1].seconds:.2f} s ({items[-1].cpu:.1f} s CPU)"
            for name, items in runs.items()
        )
        print(
            f"  round {round_ + 1}/{args.repeat}: {line} · load {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    best = {name: min(items, key=lambda t: t.seconds) for name, items in runs.items()}
    ours = best["dedupe"]
    n = len(files)
    tag = f"[{kind} {mean_mb:.1f} MB] "
    rows = compare_rows(args, work, kind, tag, n, best) if args.compare else []
    rows += [
        Row(
            tag + f"cold scan: `dedupe scan --no-cache -j {args.jobs}` (subprocess, every stage)",
            str(n),
            ours.seconds,
            f"{ours.seconds / n * 1000:.1f} ms/file",
            ours.run.tree_peak_mb,
            "-",
            "-",
        ),
        ratio_row(
            tag + "imagehash `average_hash(Image.open(p))` loop, one process (issue 7's peer)",
            n,
            best.get("imagehash-loop"),
            ours,
            IMAGEHASH_TARGET,
            "not run",
        ),
        ratio_row(
            tag + f"imagehash `average_hash(Image.open(p))` in a pool of {args.jobs} processes"
            " (stricter; no target)",
            n,
            best.get("imagehash"),
            ours,
            None,
            "not run",
        ),
        ratio_row(
            tag + f"imagededup `PHash().encode_images()`, {args.jobs} workers",
            n,
            best.get("imagededup"),
            ours,
            IMAGEDEDUP_TARGET,
            imagededup_note or "not run",
        ),
    ]
    draft = best["draft"]
    slower = ours.seconds / draft.seconds
    rows.append(
        Row(
            tag + f"decode alone: read + open + draft(>=256 px) + load, pool of {args.jobs}",
            str(n),
            draft.seconds,
            f"dedupe takes {slower:.2f}x this (CPU time: {ours.cpu / draft.cpu:.2f}x)",
            draft.run.tree_peak_mb,
            f"<= {DRAFT_TARGET:g}x",
            common.verdict(slower <= DRAFT_TARGET),
        )
    )
    print(
        "  whole subprocesses (best round): "
        + " · ".join(
            f"{name} {t.run.seconds:.2f} s wall, {t.run.cpu_seconds:.1f} s CPU"
            for name, t in best.items()
        ),
        flush=True,
    )

    # Hash agreement with full-resolution decoding (not timed).
    algorithm, _ = report_hashes(work / f"cold-{kind}-0.json")
    paths = [str(p) for p in files]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        full_phash = list(pool.map(_imagehash_phash, paths, chunksize=PEER_CHUNK))
        our_ahash = list(
            pool.map(_dedupe_hash, [(p, "ahash") for p in paths], chunksize=PEER_CHUNK)
        )
    agreement: dict[str, list[int]] = {}
    if algorithm == "phash":
        agreement["phash"] = [
            bits_apart(ours.hashes[p], h) for p, h in zip(paths, full_phash, strict=True)
        ]
    full_by = next((best[k] for k in ("imagehash-loop", "imagehash") if k in best), None)
    if full_by is not None:
        full_ahash = full_by.hashes
        agreement["ahash"] = [
            bits_apart(a, full_ahash[p]) for p, a in zip(paths, our_ahash, strict=True)
        ]
    # Near-blank pictures (dedupe's low-information rule: they never match by hash) have hash
    # bits that are noise, so any two decodings disagree on half of them: counted apart.
    blank = near_blank(work / f"cold-{kind}-0.json", paths)
    for name, apart in agreement.items():
        kept = [a for a, b in zip(apart, blank, strict=True) if not b]
        text = f"mean {statistics.mean(kept):.2f}, worst {max(kept)} of 64 bits apart"
        if len(kept) < len(apart):
            text += (
                f" ({len(apart) - len(kept)} near-blank excluded; with them: mean "
                f"{statistics.mean(apart):.2f}, worst {max(apart)})"
            )
        rows.append(
            Row(
                tag + f"{name} agreement: dedupe (reduced-size decode) vs imagehash (full decode)",
                str(len(kept)),
                None,
                text,
                None,
                "measured",
                "-",
            )
        )
    best_round = runs["dedupe"].index(ours)
    detail = {
        "corpus": corpus,
        "files": paths,
        "ours": ours,
        "report": work / f"cold-{kind}-{best_round}.json",
    }
    return rows, detail


# ---------------------------------------------------------------- profile


def profile(args: argparse.Namespace, detail: dict[str, Any], work: Path) -> None:
    """Per-file stage costs (CPU time, one process), and what the rest of a scan adds."""
    import cProfile
    import hashlib
    import inspect
    import pstats

    from PIL import Image

    from dedupe import decode, hashing, verify
    from dedupe import report as report_mod
    from dedupe import scan as scan_mod
    from dedupe.groups import build_groups
    from dedupe.models import KeepRules, Settings
    from dedupe.scan import fingerprint_file

    paths: list[str] = detail["files"][: args.profile_files]
    settings = Settings()
    for path in paths[:2]:  # warm imports and lru caches
        fingerprint_file(path, settings)
    stages: dict[str, list[float]] = {}
    # Mirror what scan.fingerprint_bytes does today for the hash and its variants.
    together = "compute_with_variants" in inspect.getsource(scan_mod.fingerprint_bytes)

    def timed(name: str, start: float) -> float:
        now = time.process_time()
        stages.setdefault(name, []).append(now - start)
        return now

    # Decoding by kind of JPEG: a progressive one decodes from its DC scans (dedupe/jpegdc.py).
    by_kind: dict[tuple[str, str], list[float]] = {}

    # The steps of scan.fingerprint_file / fingerprint_bytes, one at a time.
    for path in paths:
        t = time.process_time()
        with open(path, "rb") as handle:
            data = handle.read()
        t = timed("read file", t)
        hashlib.sha256(data).hexdigest()
        t = timed("sha256 digest", t)
        image = Image.open(io.BytesIO(data))
        kind = "progressive" if image.info.get("progressive") else "baseline"
        w, h = image.size
        scale = MIN_SIDE / min(w, h)
        image.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
        image.load()
        start, t = t, timed("(reference: draft decode alone)", t)
        by_kind.setdefault((kind, "draft"), []).append(t - start)
        gray = decode.decode(data, gray=True).image
        start, t = t, timed("decode.decode, gray (open, EXIF, draft to L, load, reduce, orient)", t)
        by_kind.setdefault((kind, "dedupe"), []).append(t - start)
        if together:
            hashing.compute_with_variants(gray, settings.algorithm, settings.hash_size)
            t = timed(f"{settings.algorithm} hash + 7 orientation variants", t)
        else:
            hashing.compute(gray, settings.algorithm, settings.hash_size)
            t = timed(f"{settings.algorithm} hash", t)
            [
                hashing.compute(v, settings.algorithm, settings.hash_size)
                for v in decode.orientations(gray)
            ]
            t = timed("7 orientation variants (7 more resizes)", t)
        verify.signature(gray)
        t = timed("check signature", t)
        fingerprint_file(path, settings)
        timed("fingerprint_file, measured whole", t)

    whole = statistics.mean(stages["fingerprint_file, measured whole"]) * 1000
    print(f"\n## Profile: one process, {len(paths)} of the 12 MP files (CPU ms per file)")
    parts = 0.0
    for name, values in stages.items():
        ms = statistics.mean(values) * 1000
        share = ""
        if not name.startswith("(") and name != "fingerprint_file, measured whole":
            parts += ms
            share = f"{ms / whole * 100:5.1f}%"
        print(f"  {name:58s} {ms:8.2f}  {share}")
    print(f"  {'sum of the steps':58s} {parts:8.2f}")
    for kind in ("baseline", "progressive"):
        if (kind, "draft") in by_kind:
            draft_ms = statistics.mean(by_kind[kind, "draft"]) * 1000
            ours_ms = statistics.mean(by_kind[kind, "dedupe"]) * 1000
            print(
                f"  {kind} files ({len(by_kind[kind, 'draft'])}): decode.decode {ours_ms:.1f} ms,"
                f" draft decode alone {draft_ms:.1f} ms ({draft_ms / ours_ms:.1f}x)"
                + (" (dedupe reads the DC scans only)" if kind == "progressive" else "")
            )

    profiler = cProfile.Profile()
    profiler.enable()
    for path in paths:
        fingerprint_file(path, settings)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(8)
    print("  cProfile of fingerprint_file, top 8 by own time:")
    for line in text.getvalue().splitlines():
        if line.strip() and ("{" in line or ".py" in line or "ncalls" in line):
            print("   " + line.rstrip())

    # Where the whole `dedupe scan` subprocess's CPU time goes, beyond the per-file work.
    all_paths: list[str] = detail["files"]
    records = report_mod.read(detail["report"]).images  # the cold scan's own records
    cpu = time.process_time()
    build_groups(records, settings, KeepRules())
    grouping = time.process_time() - cpu
    startup = common.run_timed(
        # `scan --help` imports exactly what `dedupe scan` imports, then stops.
        [common.project_python(), "-m", "dedupe", "scan", "--help"],
        env=common.dedupe_env(),
    )
    ours: Timed = detail["ours"]
    files_cpu = len(all_paths) * whole / 1000
    rest = ours.cpu - files_cpu - startup.cpu_seconds - grouping
    print(
        f"  CPU time of the whole cold `dedupe scan` ({ours.cpu:.1f} s): {len(all_paths)} files x"
        f" {whole:.1f} ms = {files_cpu:.1f} s; interpreter start + imports"
        f" (`dedupe scan --help`) {startup.cpu_seconds:.2f} s ({startup.seconds:.2f} s wall);"
        f" grouping {grouping:.2f} s; the rest (pool start, worker imports, passing results,"
        f" walk, report) {rest:.1f} s",
        flush=True,
    )


# ---------------------------------------------------------------- warm rescan and memory


def _rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak (VmRSS, VmHWM), in MB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())

    def mb(key: str) -> float:
        return int(status[key].split()[0]) / 1024

    return mb("VmRSS"), mb("VmHWM")


def time_scan(corpus: str, cache_path: str, jobs: int, out: str) -> None:
    """Run in a fresh process: time scan() (walk + cache lookups) and walk() alone; where the
    main process's memory goes: imports, the scan's records, then writing the report."""
    from dedupe import report as report_mod
    from dedupe.cache import HashCache
    from dedupe.models import KeepRules, Settings
    from dedupe.scan import scan
    from dedupe.walk import walk

    settings = Settings()
    imports_mb, _ = _rss_mb()
    cache = HashCache.open(Path(cache_path), settings)
    start, cpu = time.perf_counter(), time.process_time()
    result = scan([corpus], settings, cache, jobs=jobs)
    seconds, scan_cpu = time.perf_counter() - start, time.process_time() - cpu
    cache.close()
    scanned_mb, scan_peak_mb = _rss_mb()
    start = time.perf_counter()
    walked = sum(1 for _ in walk((corpus,)))
    walk_seconds = time.perf_counter() - start
    # The report of these records (no groups): what writing it adds to the peak.
    report_path = Path(out + ".report.json")
    report_mod.write(report_mod.from_scan(result, KeepRules(), []), report_path)
    report_path.unlink()
    _, write_peak_mb = _rss_mb()
    Path(out).write_text(
        json.dumps(
            {
                "scan": seconds,
                "scan_cpu": scan_cpu,
                "walk": walk_seconds,
                "walked": walked,
                "from_cache": result.stats.from_cache,
                "imports_mb": imports_mb,
                "scanned_mb": scanned_mb,
                "scan_peak_mb": scan_peak_mb,
                "write_peak_mb": write_peak_mb,
            }
        )
    )


def rescan_and_memory(args: argparse.Namespace, count: int, work: Path) -> list[Row]:
    corpus = common.tiny_corpus(count, args.seed, args.jobs)
    print(
        f"\n## {count:,} small images (64 x 48 JPEG, 1000 per folder): warm rescan and memory",
        flush=True,
    )
    cache_path = work / f"cache-{count}.sqlite"

    def timed_scan(kind: str) -> common.Run:
        """`dedupe scan` of the corpus with this benchmark's cache, as a subprocess."""
        command = dedupe_cmd(
            "scan", str(corpus), "--cache", str(cache_path), "--jobs", str(args.jobs),
            "--report", str(work / f"tiny-{count}-{kind}.json"),
        )  # fmt: skip
        return common.run_timed(command, env=common.dedupe_env(), cwd=work).check(
            f"{kind} scan of small images"
        )

    cold = timed_scan("cold")
    warm = timed_scan("warm")
    stats = json.loads((work / f"tiny-{count}-warm.json").read_text())["stats"]
    if stats["from_cache"] != count:
        print(f"  warning: warm scan took {stats['from_cache']} of {count} from the cache")
    # scan() alone, in a fresh process too: the same code the CLI just ran, nothing preloaded.
    out = work / f"scan-only-{count}.json"
    common.run_timed(
        [
            common.project_python(),
            str(Path(__file__).resolve()),
            "--time-scan",
            str(corpus),
            "--cache-path",
            str(cache_path),
            "--jobs",
            str(args.jobs),
            "--peer-out",
            str(out),
        ],
        env=common.dedupe_env(),
    ).check("scan() timing")
    timing = json.loads(out.read_text())
    in_process, walk_only = timing["scan"], timing["walk"]
    if timing["from_cache"] != count or timing["walked"] != count:
        raise SystemExit(
            f"scan() alone found {timing['walked']} files and took {timing['from_cache']} of "
            f"{count} from the cache: did dedupe change during the run?"
        )
    per = 10_000 / count
    print(
        f"  cold scan {cold.seconds:.1f} s ({cold.cpu_seconds:.1f} s CPU); warm subprocess "
        f"{warm.seconds:.2f} s; scan() alone {in_process:.2f} s; walk alone {walk_only:.2f} s; "
        f"largest single process {cold.max_rss_mb:.0f} MB (cold), {warm.max_rss_mb:.0f} MB (warm)",
        flush=True,
    )
    print(
        f"  main process, warm: {timing['imports_mb']:.0f} MB after imports, "
        f"{timing['scanned_mb']:.0f} MB holding the scan's records (scan() {timing['scan_cpu']:.2f}"
        f" CPU s), peak {timing['write_peak_mb']:.0f} MB once the report (no groups) is written",
        flush=True,
    )
    label = f"{count // 1000}k"
    return [
        Row(
            f"warm rescan, `dedupe scan` subprocess (start, walk, cache, group, report), {label}",
            f"{count}",
            warm.seconds,
            f"{warm.seconds * per:.2f} s per 10k",
            warm.tree_peak_mb,
            f"<= {WARM_TARGET_PER_10K:g} s/10k",
            common.verdict(warm.seconds * per <= WARM_TARGET_PER_10K),
        ),
        Row(
            f"warm rescan, scan() alone (walk + cache lookups), {label}",
            f"{count}",
            in_process,
            f"{in_process * per:.2f} s per 10k",
            None,
            f"<= {WARM_TARGET_PER_10K:g} s/10k",
            common.verdict(in_process * per <= WARM_TARGET_PER_10K),
        ),
        Row(
            f"cold scan, peak memory of the process tree (sum of PSS), {label}",
            f"{count}",
            cold.seconds,
            f"largest process {cold.max_rss_mb:.0f} MB",
            cold.tree_peak_mb,
            f"<= {MEMORY_TARGET_MB:g} MB",
            common.verdict(cold.tree_peak_mb <= MEMORY_TARGET_MB),
        ),
    ]


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=150, help="12 MP JPEGs (default 150)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for every tool (default: all cores)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="cold-scan rounds; the best time of each tool counts (default 2)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--small",
        type=int,
        default=10_000,
        help="small images for the warm rescan and memory rows (default 10000)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="also run the warm rescan and memory rows at 100,000 images",
    )
    parser.add_argument("--profile-files", type=int, default=20)
    parser.add_argument(
        "--peer-python",
        default=DEFAULT_PEER_PYTHON,
        help=f"interpreter of a virtualenv with imagededup (default: {DEFAULT_PEER_PYTHON})",
    )
    parser.add_argument(
        "--compare",
        type=lambda text: Path(text).resolve(),
        help="another checkout's root (e.g. main's): its cold scan runs beside this one's",
    )
    parser.add_argument(
        "--corpora",
        default="camera,smooth",
        help="12 MP corpora for the cold scan: camera (sensor-like noise, about 3 MB a file), "
        "smooth (no noise, about 1 MB); comma-separated, empty for none (default: both)",
    )
    parser.add_argument(
        "--parts",
        default="cold,profile,rescan",
        help="what to run, comma-separated: cold (the cold scans against the peers, and hash "
        "agreement), profile (per-file costs, after the camera cold scan), rescan (warm rescans "
        "and memory of small files) (default: all)",
    )
    # Internal: run one peer (this script calls itself).
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--peer-out", help=argparse.SUPPRESS)
    parser.add_argument("--time-scan", help=argparse.SUPPRESS)
    parser.add_argument("--cache-path", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.peer:
        run_peer(args.peer, args.corpus, args.jobs, args.peer_out)
        return 0
    if args.time_scan:
        time_scan(args.time_scan, args.cache_path, args.jobs, args.peer_out)
        return 0
    common.print_machine("Scan speed: machine")
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="dedupe-bench-") as tmp:
        work = Path(tmp)
        # Rows are handed to run.py as each part finishes, so a failure keeps what was measured.
        parts = set(filter(None, args.parts.split(",")))
        if parts - {"cold", "profile", "rescan"}:
            raise SystemExit(f"unknown --parts: {', '.join(sorted(parts))}")
        for kind in filter(None, args.corpora.split(",")) if "cold" in parts else ():
            cold_rows, detail = cold_scan(args, work, kind)
            rows += cold_rows
            common.emit(cold_rows)
            if kind == "camera" and "profile" in parts:
                profile(args, detail, work)
        rescans = [args.small] + ([100_000] if args.large else [])
        for count in rescans if "rescan" in parts else ():
            part = rescan_and_memory(args, count, work)
            rows += part
            common.emit(part)
    common.print_machine("Scan speed: results")
    print(common.table(rows))
    print(f"(scan_speed.py took {time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
