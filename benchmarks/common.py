"""Shared benchmark plumbing: timed subprocesses with peak memory, corpora, machine facts, tables.

Stdlib only at import time: the imagededup peer runs this package under another virtualenv
(see scan_speed.py), so Pillow and numpy are imported inside the functions that need them.

Result rows: every benchmark appends its rows (JSON lines) to the file named by the
environment variable DEDUPE_BENCH_ROWS when it is set; `benchmarks/run.py` sets it and prints
one combined table at the end. A benchmark written by someone else joins that table by calling
`emit(Row(...))`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
# Our own corpora live here (not under benchmarks/.corpus/, which accuracy.py may wipe and
# rebuild whole); the folder ignores itself for git (see `corpus_dir`).
CORPUS_ROOT = BENCH / ".corpus-speed"
REAL_JPEGS = ROOT.parent / "shared" / "real-images" / "exif-samples" / "jpg"
ROWS_ENV = "DEDUPE_BENCH_ROWS"
MB = 1024 * 1024
# run_timed reads every process's CPU time every SAMPLE_SECONDS and the tree's memory (PSS) every
# MEMORY_EVERY-th time: PSS makes the kernel walk every mapping of every process (about 7 ms of
# CPU for a scan's tree of 5 processes), which every 20 ms took 40% of a core from the 2-core
# runs being timed.
SAMPLE_SECONDS = 0.02
MEMORY_EVERY = 5


# ---------------------------------------------------------------- result rows and tables


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    what: str
    files: str  # a count, or "-" when it does not apply
    seconds: float | None
    ratio: str  # e.g. "4.8x faster than imagehash", or "-"
    rss_mb: float | None  # peak memory of the measured process tree, MB
    target: str
    met: str  # "yes", "no", or "-" when the row has no target

    def cells(self) -> list[str]:
        return [
            self.what,
            self.files,
            "-" if self.seconds is None else f"{self.seconds:.2f}",
            self.ratio,
            "-" if self.rss_mb is None else f"{self.rss_mb:.0f}",
            self.target,
            self.met,
        ]


HEADER = ["what", "files", "seconds", "ratio", "peak MB", "target", "met?"]


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table (readable in a terminal, pasteable into README)."""
    body = [HEADER, ["---"] * len(HEADER)] + [r.cells() for r in rows]
    widths = [max(len(line[k]) for line in body) for k in range(len(HEADER))]
    return "\n".join(
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        for line in body
    )


def emit(rows: Sequence[Row]) -> None:
    """Append rows for benchmarks/run.py's combined table (no-op when run alone)."""
    target = os.environ.get(ROWS_ENV)
    if not target:
        return
    with open(target, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(asdict(row)) + "\n")


def read_rows(path: Path) -> list[Row]:
    if not path.is_file():
        return []
    return [Row(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- machine facts


def machine() -> dict[str, str]:
    """What the numbers depend on: cores, CPU, versions, and how busy the machine was."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    facts = {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "load average (1 min)": f"{os.getloadavg()[0]:.2f}",
    }
    try:
        import numpy
        import PIL
        from PIL import features

        facts["Pillow"] = PIL.__version__
        facts["libjpeg-turbo"] = str(features.version("libjpeg_turbo"))
        facts["numpy"] = numpy.__version__
    except ImportError:
        pass
    return facts


def print_machine(title: str) -> None:
    print(f"\n## {title}")
    print("  " + " · ".join(f"{k}: {v}" for k, v in machine().items()), flush=True)


# ---------------------------------------------------------------- timed subprocesses


@dataclass(frozen=True)
class Run:
    """A finished subprocess: wall time, CPU time and peak memory of its process tree."""

    seconds: float
    # User + system CPU of every process of the tree, each sampled every 20 ms (pool workers
    # started by a forkserver are not our children, so wait4 alone would not count them).
    cpu_seconds: float
    max_rss_mb: float  # largest RSS of any one process in the tree (wait4 / ru_maxrss)
    tree_peak_mb: float  # largest sum of PSS over the tree, sampled every 100 ms
    returncode: int
    timed_out: bool
    stdout: str
    stderr: str

    def check(self, what: str) -> Run:
        if self.timed_out:
            raise SystemExit(f"{what} did not finish in time")
        if self.returncode != 0:
            raise SystemExit(
                f"{what} failed with exit code {self.returncode}:\n{self.stderr[-3000:]}"
            )
        return self


def _descendants(pid: int) -> list[int]:
    found = [pid]
    k = 0
    while k < len(found):
        try:
            tasks = os.listdir(f"/proc/{found[k]}/task")
        except OSError:
            tasks = []
        for tid in tasks:
            try:
                text = Path(f"/proc/{found[k]}/task/{tid}/children").read_text()
            except OSError:
                continue
            found.extend(int(c) for c in text.split())
        k += 1
    return found


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (its own, not its children's)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15)


def _memory_kb(pid: int) -> int:
    """Proportional set size (shared pages split between sharers), else RSS, in kB."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def run_timed(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> Run:
    """Run `cmd`, measuring wall time, CPU time and peak memory (per process and whole tree).

    After `timeout` seconds the whole process group is killed (`Run.timed_out`).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=timeout is not None,
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill) if timeout is not None else None
        if timer is not None:
            timer.start()
        peak = 0
        cpu: dict[int, float] = {}
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            rounds = 0
            while not stop.is_set():
                pids = _descendants(process.pid)
                if rounds % MEMORY_EVERY == 0:
                    peak = max(peak, sum(_memory_kb(p) for p in pids))
                rounds += 1
                for pid in pids:
                    used = _cpu_seconds(pid)
                    if used is not None:
                        cpu[pid] = max(cpu.get(pid, 0.0), used)
                stop.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # Let the zombie be sampled once more before reaping it: its final CPU time.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        final = _cpu_seconds(process.pid)
        if final is not None:
            cpu[process.pid] = max(cpu.get(process.pid, 0.0), final)
        _, status, usage = os.wait4(process.pid, 0)
        if timer is not None:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=seconds,
            cpu_seconds=sum(cpu.values()),
            max_rss_mb=usage.ru_maxrss / 1024,  # kB on Linux
            tree_peak_mb=peak / 1024,
            returncode=process.returncode,
            timed_out=expired.is_set(),
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def self_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def project_python() -> str:
    """The interpreter running the benchmark (the project's venv)."""
    return sys.executable


def dedupe_env(tree: Path = ROOT, **extra: str) -> dict[str, str]:
    """Environment for `python -m dedupe`: this checkout (or `tree`) first on the path, no
    colour."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("NO_COLOR", "1")
    env.update(extra)
    return env


def prepare_dedupe(tree: Path = ROOT) -> None:
    """Make dedupe run as an installed copy would before anything is timed: its modules
    compiled to bytecode (pip does that on install; an editable checkout, or one run with
    PYTHONDONTWRITEBYTECODE set, would otherwise compile them in every process it starts,
    about 0.1 s each) and its numba kernels compiled into their on-disk cache (the first use
    after a change compiles them: seconds)."""
    subprocess.run(
        [project_python(), "-m", "compileall", "-q", str(tree / "dedupe")],
        check=True,
        env=dedupe_env(tree),
    )
    subprocess.run(
        [project_python(), "-c", "from dedupe import cluster; cluster.warm_up()"],
        check=True,
        env=dedupe_env(tree),
    )


def warm_page_cache(files: Sequence[Path]) -> None:
    """Read every file once so each tool sees the same hot page cache."""
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(8 * MB):
                pass


# ---------------------------------------------------------------- corpora


def corpus_dir(name: str) -> Path:
    """benchmarks/.corpus-speed/NAME, the parent made to ignore itself for git."""
    CORPUS_ROOT.mkdir(parents=True, exist_ok=True)
    ignore = CORPUS_ROOT / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("# generated by benchmarks/common.py\n*\n")
    return CORPUS_ROOT / name


def _recipe_file(folder: Path) -> Path:
    # Beside the folder, not in it: every file inside is an image the tools must read.
    return folder.with_name(folder.name + ".recipe.json")


def _reuse(folder: Path, recipe: dict[str, Any]) -> bool:
    stamp = _recipe_file(folder)
    return (
        folder.is_dir()
        and stamp.is_file()
        and stamp.read_text() == json.dumps(recipe, sort_keys=True)
    )


def _stamp(folder: Path, recipe: dict[str, Any]) -> None:
    _recipe_file(folder).write_text(json.dumps(recipe, sort_keys=True))


def _start(folder: Path) -> None:
    _recipe_file(folder).unlink(missing_ok=True)
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def image_files(folder: Path, suffixes: tuple[str, ...] = (".jpg", ".png")) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in suffixes and p.is_file())


# -- 12-megapixel camera-like JPEGs

PHOTO_CORPUS_VERSION = 1
PHOTO_LONG, PHOTO_SHORT = 4000, 3000
PROGRESSIVE_EVERY = 5  # every 5th file is progressive (20%, about the share seen in real sets)
NOISE_SIGMA = (3.0, 5.5)  # grey levels of Gaussian noise added to "camera" corpora


def photo_sources() -> list[str]:
    """Distinct real photos (short side >= 300 px) to upscale, or [] when none are on disk."""
    import hashlib
    import warnings

    from PIL import Image

    found: list[str] = []
    digests: set[str] = set()
    if not REAL_JPEGS.is_dir():
        return found
    for path in sorted(REAL_JPEGS.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg") or "corrupt" in path.name:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in digests:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(path) as image:
                    image.load()
                    size = image.size
        except (OSError, SyntaxError, ValueError):
            continue
        if min(size) >= 300:
            digests.add(digest)
            found.append(str(path))
    return found


_NOISE: Any = None


def _noise_field(seed: int) -> Any:
    """A per-process Gaussian noise field (sigma 1) to add sensor-like entropy cheaply."""
    global _NOISE
    if _NOISE is None:
        import numpy as np

        rng = np.random.default_rng(seed)
        _NOISE = rng.standard_normal((PHOTO_SHORT + 64, PHOTO_LONG + 64), dtype=np.float32)
    return _NOISE


def _synthetic_photo(seed: int) -> Any:
    """A photo-like Pillow-made picture (smooth light, shapes, texture) when no real photo is."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    image = Image.fromarray(low).resize((800, 600), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x, y = (int(v) for v in rng.integers(0, 800, 2))
        r = int(rng.integers(10, 150))
        fill = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=fill)
    return image.filter(ImageFilter.GaussianBlur(2))


def _write_photo(job: tuple[int, str | None, int, str, bool]) -> int:
    """Write one 12 MP JPEG: a (cropped, maybe mirrored) source upscaled, plus mild noise."""
    import numpy as np
    from PIL import Image

    index, source, seed, out, noisy = job
    rng = np.random.default_rng([seed, index])
    if source is None:
        image = _synthetic_photo(seed * 100_003 + index)
    else:
        with Image.open(source) as opened:
            image = opened.convert("RGB")
    w, h = image.size
    if index >= 1 or source is None:  # a different framing of the source for each file
        keep = float(rng.uniform(0.7, 1.0))
        cw, ch = max(1, int(w * keep)), max(1, int(h * keep))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        image = image.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    portrait = image.height > image.width
    size = (PHOTO_SHORT, PHOTO_LONG) if portrait else (PHOTO_LONG, PHOTO_SHORT)
    big = image.resize(size, Image.Resampling.BICUBIC)
    noise = _noise_field(seed)
    dy, dx = int(rng.integers(0, 64)), int(rng.integers(0, 64))
    field = noise[dy : dy + PHOTO_SHORT, dx : dx + PHOTO_LONG]
    if portrait:
        field = field.T
    sigma = float(rng.uniform(*NOISE_SIGMA))
    if noisy:  # sensor-like noise: the entropy (bytes per pixel) of a camera JPEG
        pixels = np.asarray(big, dtype=np.float32) + (sigma * field)[:, :, None]
        big = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "dedupe-bench"  # Make
    exif[0x0132] = f"2024:05:{1 + index % 28:02d} 12:{index % 60:02d}:00"  # DateTime
    progressive = index % PROGRESSIVE_EVERY == PROGRESSIVE_EVERY - 1
    big.save(
        out,
        "JPEG",
        quality=int(rng.integers(88, 96)),
        progressive=progressive,
        exif=exif,
    )
    return os.path.getsize(out)


def photo_corpus(count: int, seed: int, jobs: int, *, noisy: bool = True) -> Path:
    """`count` 12-megapixel JPEGs (reused while the recipe is unchanged).

    noisy: sensor-like noise makes files of about 3 MB, like a camera's; without it the
    upscaled photos are smooth and compress to about 1 MB.
    """
    sources = photo_sources()
    recipe = {
        "version": PHOTO_CORPUS_VERSION,
        "count": count,
        "seed": seed,
        "sources": sources,
        "progressive_every": PROGRESSIVE_EVERY,
        "noise": list(NOISE_SIGMA) if noisy else None,
    }
    folder = corpus_dir(f"photos-12mp-{'camera' if noisy else 'smooth'}-{count}-s{seed}")
    if _reuse(folder, recipe):
        return folder
    _start(folder)
    print(
        f"  generating {count} 12 MP JPEGs from "
        + (f"{len(sources)} real photos" if sources else "Pillow-made pictures")
        + f" into {folder} (once; reused later) ...",
        flush=True,
    )
    started = time.perf_counter()
    work = [
        (
            k,
            sources[k % len(sources)] if sources else None,
            seed,
            str(folder / f"IMG_{k:04d}.jpg"),
            noisy,
        )
        for k in range(count)
    ]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_write_photo, work, chunksize=4))
    _stamp(folder, recipe)
    print(f"  ... done in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


# -- many small files (warm rescan and memory at 10k / 100k images)

TINY_CORPUS_VERSION = 2
TINY_SIZE = (64, 48)
TINY_PER_FOLDER = 1000


def _photo_like(rng: Any, size: tuple[int, int]) -> Any:
    """A picture with the statistics that matter to a perceptual hash: a 1/f^1.5 amplitude
    spectrum (most energy in large shapes, as in photos), mostly shared by the colour channels,
    plus a vertical brightness gradient (sky above, ground below) of random strength. Among
    these, 0.4% of pairs fall within 16 bits of each other by 8x8 dHash, in the range measured
    on unrelated real photos (version 1, 4 x 3 random pixels upscaled, gave 6%, which made the
    verification of candidates the whole cost of a rescan)."""
    import numpy as np
    from PIL import Image

    w, h = size
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    channels = []
    for _ in range(3):
        spectrum = (rng.standard_normal(f.shape) + 1j * rng.standard_normal(f.shape)) / f**1.5
        spectrum[0, 0] = 0.0
        channels.append(np.fft.irfft2(spectrum, s=(h, w)))
    a = np.stack(channels, -1)
    a = 0.7 * a.mean(-1, keepdims=True) + 0.3 * a
    a = (a - a.mean()) / (a.std() + 1e-9)
    a = a + rng.exponential(0.6) * np.linspace(1.0, -1.0, h)[:, None, None]
    a = (a - a.mean()) / (a.std() + 1e-9)
    a = 128.0 + 45.0 * a + rng.uniform(-40.0, 40.0)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _write_tiny(job: tuple[int, int, int, str]) -> None:
    import io

    import numpy as np

    start, stop, seed, out = job
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, start])
    for k in range(start, stop):
        buffer = io.BytesIO()
        _photo_like(rng, TINY_SIZE).save(buffer, "JPEG", quality=85)
        (folder / f"img_{k:06d}.jpg").write_bytes(buffer.getvalue())


def tiny_corpus(count: int, seed: int, jobs: int) -> Path:
    """`count` small (64 x 48) distinct photo-like JPEGs, 1000 per folder, like a photo library's
    albums."""
    recipe = {"version": TINY_CORPUS_VERSION, "count": count, "seed": seed, "size": TINY_SIZE}
    folder = corpus_dir(f"tiny-{count}-s{seed}")
    if _reuse(folder, recipe):
        return folder
    _start(folder)
    print(f"  generating {count} small JPEGs into {folder} (once; reused later) ...", flush=True)
    started = time.perf_counter()
    work = [
        (
            k,
            min(k + TINY_PER_FOLDER, count),
            seed,
            str(folder / f"album_{k // TINY_PER_FOLDER:04d}"),
        )
        for k in range(0, count, TINY_PER_FOLDER)
    ]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_write_tiny, work))
    _stamp(folder, recipe)
    print(f"  ... done in {time.perf_counter() - started:.0f} s", flush=True)
    return folder
