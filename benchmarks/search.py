"""All pairs within a radius among clustered perceptual hashes: our BK-tree against peers.

    python benchmarks/search.py                        # 10k, 100k, 1M 64-bit and 100k 256-bit
    python benchmarks/search.py --sizes 10000,100000   # fewer sizes
    python benchmarks/search.py --sizes-256 ''         # no 256-bit row

Every method runs in a subprocess of its own (benchmarks/common.py `run_timed`): wall time,
CPU time and the peak RSS (VmHWM) of that process, which includes Python, numpy and the codes
(the baseline is printed too). The codes are generated once, here, and saved for the workers.

Methods:
- `bktree`: `dedupe.bktree.pairs_within` (tree build included), after an untimed warm-up call
  in the same process that loads the compiled kernels from numba's on-disk cache.
- `numpy brute force`: blocked `np.bitwise_count` over the upper triangle, one block of rows per
  thread (numpy releases the GIL), all rows when `n <= --brute-max`, else the first
  `--check-rows` rows, extrapolated by the share of pair distances computed.
- `pybktree` (a pure-Python BK-tree; a peer, not a dependency: `pip install pybktree`): the full
  tree is built and timed, a random sample of codes is queried, and all pairs are extrapolated
  as build + n x mean query time.

Our pairs are checked against brute force: equal outright where brute force runs on all rows,
and on the pairs (i, j) with i < --check-rows where it runs on a sample.

The codes imitate 8x8 (16x16) aHash codes of real photos: background codes threshold a smoothed
random field plus a random brightness gradient at its mean, so that neighbouring bits correlate
as in real pictures; 40% of the codes come in clusters of 2-10 copies with a few bits flipped,
30% of those exact copies. The generator is calibrated on the 140 real photos in
shared/real-images: distance percentiles (1/5/25/50/75%) between unrelated 64-bit codes are
about 14/19/27/32/37 bits here against 13/19/26/31/36 there (256-bit: 64/82/109/128/147 against
63/83/108/125/142). At these statistics about 3e-4 of unrelated 64-bit pairs lie within 6 bits,
which is what makes the 1M set produce ~1e8 pairs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

Codes = npt.NDArray[np.uint64]
Ints = npt.NDArray[np.int64]

TARGET_SECONDS = 30.0  # issue 7: all pairs at radius 6 among 1M 64-bit codes
TARGET_MB = 1500.0


# ---------------------------------------------------------------- synthetic codes


def _fields(rng: np.random.Generator, n: int, side: int, gradient: float) -> npt.NDArray[np.bool_]:
    """aHash-like bits: a smoothed random field plus a brightness gradient, above its mean."""
    sigma = side / 8  # one cell of an 8x8 grid, two of a 16x16 one
    pad = int(np.ceil(3 * sigma))
    taps = np.exp(-(np.arange(-pad, pad + 1) ** 2) / (2 * sigma**2)).astype(np.float32)
    taps /= taps.sum()
    g = rng.standard_normal((n, side + 2 * pad, side + 2 * pad), dtype=np.float32)
    rows = sum(taps[t] * g[:, t : t + side, :] for t in range(2 * pad + 1))
    field = sum(taps[t] * rows[:, :, t : t + side] for t in range(2 * pad + 1))
    field /= field.std(axis=(1, 2), keepdims=True)
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    strength = rng.exponential(gradient, n).astype(np.float32)
    axis = (np.arange(side, dtype=np.float32) - (side - 1) / 2) / ((side - 1) / 2)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    field += strength[:, None, None] * (
        np.cos(angle)[:, None, None] * yy + np.sin(angle)[:, None, None] * xx
    )
    bits: npt.NDArray[np.bool_] = field > field.mean(axis=(1, 2), keepdims=True)
    return bits.reshape(n, side * side)


def _bits_in_chunks(rng: np.random.Generator, n: int, side: int, gradient: float) -> Any:
    step = 50_000 if side == 8 else 12_500
    parts = [_fields(rng, min(step, n - a), side, gradient) for a in range(0, n, step)]
    return np.concatenate(parts) if parts else np.zeros((0, side * side), bool)


def make_codes(n: int, bits: int, seed: int) -> Codes:
    """`n` clustered aHash-like codes of `bits` (64 or 256) bits, shape (n, bits // 64)."""
    side, gradient, max_flips = (8, 0.75, 4) if bits == 64 else (16, 0.5, 16)
    rng = np.random.default_rng([seed, n, bits])
    n_background = int(0.6 * n)
    background = _bits_in_chunks(rng, n_background, side, gradient)
    n_clustered = n - n_background
    sizes = rng.integers(2, 11, size=n_clustered // 2 + 1)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n_clustered)) + 1]
    owner = np.repeat(np.arange(len(sizes)), sizes)[:n_clustered]
    centres = _bits_in_chunks(rng, len(sizes), side, gradient)
    clustered = centres[owner]
    first = np.r_[True, owner[1:] != owner[:-1]] if n_clustered else np.zeros(0, bool)
    altered = np.flatnonzero(~first & (rng.random(n_clustered) >= 0.3))
    flips = rng.integers(1, max_flips + 1, size=len(altered))
    where = rng.integers(0, bits, size=(len(altered), max_flips))
    for k in range(max_flips):
        rows = altered[flips > k]
        clustered[rows, where[flips > k, k]] ^= True
    all_bits = np.concatenate([background, clustered])[rng.permutation(n)]
    packed = np.ascontiguousarray(np.packbits(all_bits, axis=1))
    return np.ascontiguousarray(packed.view(">u8").astype(np.uint64))


def code_stats(codes: Codes, radius: int, seed: int) -> str:
    """Distance percentiles among a random sample of pairs, and the share within the radius."""
    rng = np.random.default_rng(seed)
    n = len(codes)
    a = rng.integers(0, n, 200_000)
    b = rng.integers(0, n, 200_000)
    keep = a != b
    d = np.bitwise_count(codes[a[keep]] ^ codes[b[keep]]).sum(axis=1)
    pct = "/".join(str(int(v)) for v in np.percentile(d, [1, 5, 25, 50, 75]))
    distinct = len(np.unique(codes, axis=0))
    return (
        f"{distinct:,} distinct of {n:,}; random-pair distance percentiles 1/5/25/50/75%: {pct};"
        f" share within {radius}: {np.mean(d <= radius):.1e}"
    )


# ---------------------------------------------------------------- the methods (in workers)


def _digest(i: npt.NDArray[Any], j: npt.NDArray[Any], d: npt.NDArray[Any]) -> str:
    """A digest of the pairs by value: narrow results (int32, uint16) are widened to int64, so
    they digest like brute force's int64 arrays (a copy each, after the peak is measured)."""
    h = hashlib.sha256()
    for a in (i, j, d):
        h.update(np.ascontiguousarray(a, dtype=np.int64).data)
    return h.hexdigest()[:16]


def _status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, MB. Unlike ru_maxrss, VmHWM starts afresh at
    exec, so the driver's own size (inherited through fork) does not leak into the worker's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return common.self_peak_rss_mb()


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def run_bktree(codes: Codes, radius: int, check_rows: int, strategy: str) -> dict[str, Any]:
    sys.path.insert(0, str(common.ROOT))
    start = time.perf_counter()
    from dedupe.bktree import BKTree, pairs_within

    for way in ("tree", "substrings"):  # loads the compiled kernels (untimed)
        pairs_within(codes[:2000], radius, way)
    BKTree.build(codes[:2000]).estimate_self_join_ns(radius)
    warm = time.perf_counter() - start
    baseline = _rss_mb()
    cpu = time.process_time()
    start = time.perf_counter()
    i, j, d = pairs_within(codes, radius, strategy)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = _status_mb("VmHWM")  # before the checks below allocate anything
    head = i < check_rows
    return {
        "seconds": seconds,
        "cpu": cpu,
        "pairs": len(i),
        "digest": _digest(i, j, d),
        "digest_rows": _digest(i[head], j[head], d[head]),
        "baseline_mb": baseline,
        "peak_mb": peak,
        "note": f"import + kernel load {warm:.1f} s untimed; {_chosen(codes, radius, strategy)}",
    }


def _chosen(codes: Codes, radius: int, strategy: str) -> str:
    """Which search `strategy` ran (for auto: what the cost model chose, and its estimates;
    asked again after the timed run, so it costs the timing nothing)."""
    from dedupe import mih
    from dedupe.bktree import BKTree

    tree = BKTree.build(codes)
    index = tree._self_join_index(radius, strategy)  # type: ignore[arg-type]
    if index is None:
        return "tree walk" + (" (forced)" if strategy == "tree" else "")
    plan = index.plan
    est = mih.plan(tree._codes, radius)
    tree_s = tree.estimate_self_join_ns(radius) / 1e9
    sub_s = est.cost_ns / 1e9 if est is not None else float("nan")
    return (
        f"substrings{' (forced)' if strategy == 'substrings' else ''}: {plan.substrings} of <="
        f" {plan.widths.max()} bits, thresholds {plan.thresholds.tolist()},"
        f" {plan.candidates:,} candidates (est. {sub_s:.1f} CPU s vs tree {tree_s:.1f})"
    )


def brute_force(codes: Codes, radius: int, rows: int, workers: int) -> tuple[Ints, Ints, Ints]:
    """Pairs (i, j > i) within `radius` for i < rows, sorted; blocks of rows on threads."""
    n, words = codes.shape
    step = max(1, min(4096, (1 << 23) // max(1, n * words)))
    starts = list(range(0, rows, step))

    def block(a: int) -> tuple[Ints, Ints, Ints]:
        b = min(a + step, rows)
        x = np.bitwise_count(codes[a:b, None, :] ^ codes[None, a + 1 :, :])
        d = x[:, :, 0] if words == 1 else x.sum(axis=2, dtype=np.uint16)
        r, c = np.nonzero(d <= radius)
        i = a + r
        j = a + 1 + c
        keep = j > i
        return i[keep], j[keep], d[r[keep], c[keep]].astype(np.int64)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(block, starts))
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int64),
        np.concatenate([p[1] for p in parts]).astype(np.int64),
        np.concatenate([p[2] for p in parts]),
    )


def run_brute(codes: Codes, radius: int, check_rows: int, full: bool) -> dict[str, Any]:
    n = len(codes)
    rows = n if full else min(n, check_rows)
    baseline = _rss_mb()
    cpu = time.process_time()
    start = time.perf_counter()
    i, j, d = brute_force(codes, radius, rows, len(os.sched_getaffinity(0)))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = _status_mb("VmHWM")
    done = rows * (n - 1) - rows * (rows - 1) // 2  # pair distances computed
    share = done / max(1, n * (n - 1) // 2)
    head = i < check_rows
    return {
        "seconds": seconds / share,
        "cpu": cpu / share,
        "pairs": len(i) if full else None,
        "digest": _digest(i, j, d) if full else None,
        "digest_rows": _digest(i[head], j[head], d[head]),
        "baseline_mb": baseline,
        "peak_mb": peak,
        "extrapolated": not full,
        "note": "all rows" if full else f"first {rows:,} rows ({share:.2%} of pairs), extrapolated",
    }


def run_pybktree(codes: Codes, radius: int, sample: int, seed: int) -> dict[str, Any]:
    import pybktree  # type: ignore[import-not-found, unused-ignore]

    n = len(codes)
    values = [int.from_bytes(row.tobytes(), "little") for row in codes]

    def distance(a: int, b: int) -> int:
        return (a ^ b).bit_count()

    baseline = _rss_mb()
    cpu = time.process_time()
    start = time.perf_counter()
    tree = pybktree.BKTree(distance, values)
    build = time.perf_counter() - start
    picks = np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False)
    start = time.perf_counter()
    found = sum(len(tree.find(values[k], radius)) for k in picks.tolist())
    queries = time.perf_counter() - start
    cpu = time.process_time() - cpu
    per_query = queries / max(1, len(picks))
    # Every code is queried once; each pair is seen from both ends, each code finds itself.
    pairs = (found - len(picks)) / max(1, len(picks)) * n / 2
    return {
        "seconds": build + per_query * n,
        "cpu": None,
        "pairs": int(pairs),
        "baseline_mb": baseline,
        "extrapolated": len(picks) < n,
        "note": (
            f"build {build:.2f} s measured + {len(picks):,} queries at {per_query * 1e3:.1f} ms"
            f" x {n:,}; pairs extrapolated; 1 core (pure Python)"
        ),
    }


def worker(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", required=True)
    parser.add_argument("--codes", required=True)
    parser.add_argument("--radius", type=int, required=True)
    parser.add_argument("--check-rows", type=int, default=0)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="auto")
    args = parser.parse_args(argv)
    codes = np.load(args.codes)
    if args.worker == "bktree":
        result = run_bktree(codes, args.radius, args.check_rows, args.strategy)
    elif args.worker == "brute":
        result = run_brute(codes, args.radius, args.check_rows, args.full)
    elif args.worker == "pybktree":
        result = run_pybktree(codes, args.radius, args.sample, args.seed)
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    result.setdefault("peak_mb", _status_mb("VmHWM"))
    print(json.dumps(result))
    return 0


# ---------------------------------------------------------------- the driver


@dataclass
class Result:
    method: str
    n: int
    bits: int
    radius: int
    seconds: float | None
    cpu: float | None
    pairs: int | None
    rss_mb: float | None
    baseline_mb: float | None
    extrapolated: bool
    note: str
    ratio: str = "-"
    check: str = "-"


def measure(
    method: str, label: str, path: Path, n: int, bits: int, radius: int, extra: list[str]
) -> tuple[Result, dict[str, Any]]:
    cmd = [sys.executable, __file__, "--worker", method, "--codes", str(path)]
    cmd += ["--radius", str(radius), *extra]
    run = common.run_timed(cmd, env=common.dedupe_env())
    if run.returncode != 0:
        tail = run.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"  {label}: failed ({tail[0]})", flush=True)
        return Result(label, n, bits, radius, None, None, None, None, None, False, "failed"), {}
    out = json.loads(run.stdout.strip().splitlines()[-1])
    result = Result(
        method=label,
        n=n,
        bits=bits,
        radius=radius,
        seconds=out["seconds"],
        cpu=out["cpu"],
        pairs=out["pairs"],
        rss_mb=out.get("peak_mb", run.max_rss_mb),
        baseline_mb=out.get("baseline_mb"),
        extrapolated=bool(out.get("extrapolated")),
        note=out.get("note", ""),
    )
    shown = f"{result.seconds:.2f} s" + (" (extrapolated)" if result.extrapolated else "")
    print(f"  {label}: {shown}, peak RSS {result.rss_mb:.0f} MB; {result.note}", flush=True)
    return result, out


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: Sequence[Result]) -> None:
    head = ["method", "n", "bits", "r", "seconds", "CPU s", "pairs", "peak RSS MB", "vs ours"]
    head.append("check / notes")
    lines = [head, ["---"] * len(head)]
    for r in results:
        seconds = _fmt(r.seconds, ".2f") + ("*" if r.extrapolated and r.seconds else "")
        rss = _fmt(r.rss_mb, ".0f") + (f" ({r.baseline_mb:.0f})" if r.baseline_mb else "")
        lines.append(
            [
                r.method,
                f"{r.n:,}",
                str(r.bits),
                str(r.radius),
                seconds,
                _fmt(r.cpu, ".2f"),
                _fmt(r.pairs, ",") + ("*" if r.extrapolated and r.pairs else ""),
                rss,
                r.ratio,
                "; ".join(x for x in (r.check, r.note) if x and x != "-"),
            ]
        )
    widths = [max(len(line[k]) for line in lines) for k in range(len(head))]
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
    print(
        "* extrapolated (see notes). Peak RSS is the worker process's VmHWM; in brackets its RSS"
        " before the timed call (Python, numpy, the codes, and for ours the loaded kernels)."
        " 'vs ours' = that method's seconds / ours."
    )


def run_set(work: Path, n: int, bits: int, radius: int, args: argparse.Namespace) -> list[Result]:
    started = time.perf_counter()
    codes = make_codes(n, bits, args.seed)
    path = work / f"codes-{bits}-{n}.npy"
    np.save(path, codes)
    print(f"\n### {n:,} codes of {bits} bits, radius {radius}", flush=True)
    print(
        f"  generated in {time.perf_counter() - started:.1f} s: {code_stats(codes, radius, 1)}",
        flush=True,
    )
    check_rows = min(n, args.check_rows)
    full = n <= args.brute_max and bits * n <= 64 * args.brute_max
    ours, ours_out = measure(
        "bktree", "ours (dedupe.bktree)", path, n, bits, radius, ["--check-rows", str(check_rows)]
    )
    results = [ours]
    # The two searches the cost model chooses between, each forced, side by side.
    forced: list[tuple[Result, dict[str, Any]]] = []
    for way in args.strategies:
        extra = ["--check-rows", str(check_rows), "--strategy", way]
        forced.append(measure("bktree", f"ours, {way} only", path, n, bits, radius, extra))
    results += [r for r, _ in forced]
    brute_extra = ["--check-rows", str(check_rows)] + (["--full"] if full else [])
    brute, brute_out = (
        measure("brute", "numpy brute force", path, n, bits, radius, brute_extra)
        if args.brute
        else (Result("brute", n, bits, radius, None, None, None, None, None, False, "-"), {})
    )
    if args.brute:
        results.append(brute)
    for mine, mine_out in [(ours, ours_out), *forced]:
        if not mine_out:
            continue
        checks = []
        if brute_out and full:
            same = mine_out["digest"] == brute_out["digest"] and mine.pairs == brute.pairs
            checks.append("pairs == brute force" if same else "MISMATCH with brute force")
        elif brute_out:
            same = mine_out["digest_rows"] == brute_out["digest_rows"]
            checks.append(
                f"pairs with i < {check_rows:,} == brute force"
                if same
                else "MISMATCH with brute force"
            )
        if mine is not ours and ours_out:
            same = mine_out["digest"] == ours_out["digest"]
            checks.append("pairs == ours (auto)" if same else "MISMATCH with ours (auto)")
        mine.check = "; ".join(checks) or "-"
    if args.pybktree:
        sample = max(20, min(n, args.pybktree_queries * 64 // bits))
        extra = ["--sample", str(sample), "--seed", str(args.seed)]
        peer, _ = measure("pybktree", "pybktree", path, n, bits, radius, extra)
        results.append(peer)
    if ours.seconds:
        for peer in results[1:]:
            if peer.seconds:
                peer.ratio = f"{peer.seconds / ours.seconds:,.1f}x"
        ours.ratio = "1"
    path.unlink()
    return results


def rows_for_summary(results: Sequence[Result]) -> list[common.Row]:
    out: list[common.Row] = []
    for r in results:
        if r.method.startswith("ours"):
            peers = [
                p
                for p in results
                if p.n == r.n
                and p.bits == r.bits
                and p is not r
                and not p.method.startswith("ours")
            ]
            ratio = ", ".join(
                f"{p.seconds / r.seconds:,.0f}x faster than {p.method}"
                + (" (extrap.)" if p.extrapolated else "")
                for p in peers
                if p.seconds and r.seconds
            )
            # The target is the tool's: the search the cost model chooses (the first row).
            big = r.n >= 1_000_000 and r.bits == 64 and r.method == "ours (dedupe.bktree)"
            met = "-"
            if big and r.seconds is not None and r.rss_mb is not None:
                met = common.verdict(r.seconds <= TARGET_SECONDS and r.rss_mb <= TARGET_MB)
            out.append(
                common.Row(
                    what=f"all pairs r={r.radius}, {r.bits}-bit codes ({r.method})",
                    files=f"{r.n:,}",
                    seconds=r.seconds,
                    ratio=ratio or "-",
                    rss_mb=r.rss_mb,
                    target=f"<= {TARGET_SECONDS:.0f} s, <= {TARGET_MB:.0f} MB" if big else "-",
                    met=met,
                )
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--worker" in argv:
        return worker(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="64-bit set sizes")
    parser.add_argument("--sizes-256", default="100000", help="256-bit set sizes ('' for none)")
    parser.add_argument("--radius", type=int, default=6, help="radius for 64-bit codes")
    parser.add_argument("--radius-256", type=int, default=25, help="radius for 256-bit codes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--brute-max",
        type=int,
        default=100_000,
        help="run brute force on all rows up to this many 64-bit codes (a quarter for 256-bit)",
    )
    parser.add_argument(
        "--check-rows", type=int, default=2000, help="rows checked when brute force is sampled"
    )
    parser.add_argument(
        "--pybktree-queries", type=int, default=200, help="codes queried in pybktree (64-bit)"
    )
    parser.add_argument("--no-pybktree", dest="pybktree", action="store_false")
    parser.add_argument(
        "--strategies",
        default="tree,substrings",
        help="also run ours with each of these searches forced ('' for none): the cost model"
        " chooses between them",
    )
    parser.add_argument("--no-brute", dest="brute", action="store_false", help="skip brute force")
    args = parser.parse_args(argv)
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]

    if args.pybktree:
        probe = common.run_timed([sys.executable, "-c", "import pybktree"])
        if probe.returncode != 0:
            print("(pybktree is not installed: pip install pybktree to add it as a peer)")
            args.pybktree = False

    common.print_machine("All pairs within a radius (benchmarks/search.py)")
    import numba

    print(
        f"  numba {numba.__version__}; threads used by ours and brute force: "
        f"{len(os.sched_getaffinity(0))}",
        flush=True,
    )
    # Compile (or load) the kernels once, untimed, so no worker pays for compiling.
    common.run_timed(
        [
            sys.executable,
            "-c",
            "from dedupe.bktree import pairs_within; import numpy as np;"
            "pairs_within(np.arange(200, dtype=np.uint64).reshape(50, 4), 3);"
            "pairs_within(np.arange(50, dtype=np.uint64).reshape(50, 1), 3)",
        ],
        env=common.dedupe_env(),
    ).check("warm-up")
    plan = [(int(s), 64, args.radius) for s in args.sizes.split(",") if s.strip()]
    plan += [(int(s), 256, args.radius_256) for s in args.sizes_256.split(",") if s.strip()]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="dedupe-search-") as tmp:
        for n, bits, radius in plan:
            results += run_set(Path(tmp), n, bits, radius, args)
    print("\n## All pairs within a radius: results")
    common.print_machine("machine (load average at the end of the run)")
    print_table(results)
    common.emit(rows_for_summary(results))
    mismatch = any("MISMATCH" in r.check for r in results)
    return 1 if mismatch else 0


if __name__ == "__main__":
    raise SystemExit(main())
