"""Scale benchmark (issue 20, "A million photos"): today's rows at 10k, 100k and 1M images.

    python benchmarks/scale.py                          # 10k, 100k, 1M (first run builds them)
    python benchmarks/scale.py --sizes 10000,100000     # smaller
    python benchmarks/scale.py --sizes 1000000 --profile   # + py-spy profiles of each 1M row

A synthetic library of N images is built once per size (seeded; under
benchmarks/.corpus-speed/scale-N-sS/, ignored by git): real small files on disk, and a hash
cache filled with their fingerprints through dedupe's own HashCache, so that `dedupe scan`
finds every file in the cache and does only the hashing-free work (walk, cache lookup,
grouping, report). The pictures are regroup.py's photo-like 32 x 32 scenes (the same
functions: about 40% of the scenes in series of similar shots), and the copies are made the
way copies arise in real libraries (see LIBRARY below for the proportions and where they come
from): byte-identical copies, resized copies, re-encoded (JPEG) copies, edited copies, groups
mostly of two or three files and a few large groups. The files are 8-bit PGM pictures (the
fastest format to write by the million); their hash, orientation hashes and check signature
are computed from exactly the pixels in the file by dedupe.hashing and dedupe.verify, as
regroup.py computes them, and every build checks a sample against a real decode of the file
(dedupe.scan.fingerprint_bytes). Width, height, format and capture time are camera-like values
(as regroup.py's records have): a 32 x 32 PGM stands in for a 12 MP JPEG. Size, modification
time and SHA-256 are the file's own, so `dedupe apply` checks them for real.

Rows (each measured in this run; the machine is shared, so the load average is printed):
- report: bytes per image of the JSON report `dedupe scan` writes, for images in a group and
  not in one, and by section (groups, images, checked pairs) and by field of an image line;
- scan: `dedupe scan` subprocess with the warm hash cache and its grouping memo cleared (the
  hashing-free part of a cold scan: walk, cache lookups, grouping, report; its groups listed
  on stdout into a file, as `dedupe scan DIR > groups.txt`; the remembered checks of pairs
  cleared too, so the geometric check runs), per image; then the memo cleared again but the
  checks kept (a rescan after a change: a file added); then the same again with the memo (a
  warm rescan), with the whole process tree's peak memory;
- review: `dedupe review` in tmux (a real terminal): seconds until the first group's title
  and its first file are on the screen, the process tree's peak memory meanwhile;
- review --threshold: the same at a tighter threshold than the scan's (from the report's
  checked pairs), until the first regrouped group is on screen; and the in-process call chain
  (report read, regroup) timed apart;
- apply: `dedupe apply --dry-run --format csv` subprocess on the report (every trash action
  re-checked on disk: size, time and SHA-256), seconds per 100k actions and peak memory.
With --profile, instead of the timed rows, each command of the 1M rows runs under py-spy (the
whole process tree), and the functions with most samples are printed: where today's code
spends the time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import regroup
from common import Row

if str(common.ROOT) not in sys.path:  # this checkout's dedupe, wherever we are run from
    sys.path.insert(1, str(common.ROOT))

LIBRARY_VERSION = 1
SIDE = regroup.SIDE  # 32 x 32 pictures
PER_ALBUM = 500  # files per folder (real libraries: a folder per day or event)
THRESHOLD = 0.1  # the threshold the scans run at (README: "use --threshold 0.1" at 1M)
TIGHTER = 0.05  # review --threshold: tighter than the scan's, within its checked pairs
BASE_MTIME_NS = 1_577_836_800 * 10**9  # 2020-01-01

# The proportions of a real library's copies. Sources (GitHub issue threads; the README's
# "Scale" section quotes them):
# - copies beyond the first of each picture: 12% of the files. Google Photos Takeout
#   Helper #110: 630 duplicates removed of 4,116 files (15%); #365: 97,112 items, 450 GB ->
#   347 GB after de-duplication (23% of the bytes); gphotos-sync #215: "roughly 38%" by file
#   name alone (an upper bound).
# - groups mostly of two or three: czkawka #844 ("groups of at most four images, mostly 2 or
#   3"); Immich's duplicate service logs "Found 1 / 2 / 3 / 4 duplicates for asset" (#15727).
# - a few large groups (the same forwarded picture or wallpaper saved many times): dupeGuru
#   #1037 (6,258 groups holding 194,515 matches in a 70,257-file folder).
# - kinds of copy: exact byte copies (backups, exports: Immich and GPTH find these by
#   checksum), re-encoded and resized copies (Google Photos "High quality" uploads, Immich
#   #737, PhotoPrism #1182), edited copies ("-edited.jpg", ente #3169).
LIBRARY = {
    "copies_share": 0.12,
    "extra_copies": {1: 0.70, 2: 0.20, 3: 0.07, 4: 0.012, 5: 0.008, 6: 0.006, 7: 0.004},
    "copy_kinds": {"exact": 0.40, "resized": 0.25, "jpeg": 0.20, "edited": 0.15},
    "large_groups_per_million": (2000, 1000, 500, 200),  # files in each
    "taken_at_share": 0.9,  # originals with a capture time (cameras, phones)
}
KINDS = ("original", "exact", "resized", "jpeg", "edited")


# ---------------------------------------------------------------- the library


@dataclass(frozen=True)
class Library:
    n: int
    seed: int
    folder: Path
    threshold: float = THRESHOLD  # the scans run at this threshold
    tighter: float = TIGHTER  # and review --threshold regroups at this one
    label: str = ""  # in the rows' tags
    scanned: Path | None = None  # the folder scanned, when not folder/lib

    @property
    def root(self) -> Path:
        return self.scanned or self.folder / "lib"

    @property
    def cache(self) -> Path:
        return self.folder / "cache.sqlite"

    @property
    def facts_file(self) -> Path:
        return self.folder / "facts.json"

    def facts(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.facts_file.read_text())
        return data

    def path(self, i: int) -> Path:
        return self.root / f"album_{i // PER_ALBUM:05d}" / f"IMG_{i:07d}.pgm"


def _plan(n: int, rng: Any) -> tuple[Any, Any]:
    """(scene of each image, kind of each image), images in library order."""
    import numpy as np

    scene_of: list[int] = []
    kind_of: list[int] = []
    kinds = list(LIBRARY["copy_kinds"])
    weights = np.array(list(LIBRARY["copy_kinds"].values()))
    scene = 0
    for size in LIBRARY["large_groups_per_million"]:
        files = max(2, size * n // 1_000_000)
        scene_of += [scene] * files
        # a picture forwarded and saved again and again: byte copies and re-encodes
        kind_of += [0] + [KINDS.index("exact" if k % 3 else "jpeg") for k in range(1, files)]
        scene += 1
    extra = list(LIBRARY["extra_copies"])
    p_extra = np.array(list(LIBRARY["extra_copies"].values()))
    p_extra = p_extra / p_extra.sum()
    mean_extra = float((np.array(extra) * p_extra).sum())
    share = LIBRARY["copies_share"]
    family_rate = share / mean_extra / (1 - share)  # families per scene
    while len(scene_of) < n:
        scene_of.append(scene)
        kind_of.append(0)
        if rng.random() < family_rate:
            for _ in range(int(rng.choice(extra, p=p_extra))):
                scene_of.append(scene)
                kind_of.append(1 + kinds.index(str(rng.choice(kinds, p=weights))))
        scene += 1
    order = rng.permutation(n)  # copies scattered over the library, like real ones
    return np.asarray(scene_of[:n])[order], np.asarray(kind_of[:n], dtype=np.int8)[order]


def _scenes(rng: Any, count: int) -> Any:
    """count photo-like 32 x 32 uint8 pictures, regroup.py's, in series as regroup.py makes
    them (series do not cross blocks of 10,000)."""
    import numpy as np

    out = np.empty((count, SIDE, SIDE), dtype=np.uint8)
    for start in range(0, count, 10_000):
        block = regroup._scenes(rng, min(10_000, count - start))
        regroup._make_series(rng, block)
        out[start : start + len(block)] = block.round().clip(0, 255).astype(np.uint8)
    return out


# Shared with the worker processes (fork): set by build_library before the pool starts.
_SCENES: Any = None
_SCENE_OF: Any = None
_KIND_OF: Any = None


def _pgm(pixels: Any) -> bytes:
    h, w = pixels.shape
    return f"P5\n{w} {h}\n255\n".encode() + pixels.tobytes()


def _picture(i: int, seed: int) -> tuple[Any, str]:
    """The pixels of image i and its kind."""
    import io

    import numpy as np
    from PIL import Image

    scene = _SCENES[_SCENE_OF[i]]
    kind = KINDS[_KIND_OF[i]]
    rng = np.random.default_rng([seed, 7, i])
    if kind in ("original", "exact"):
        return scene, kind
    image = Image.fromarray(scene, "L")
    if kind == "resized":
        side = int(rng.choice((24, 16)))
        return np.asarray(image.resize((side, side), Image.Resampling.LANCZOS)), kind
    if kind == "jpeg":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(55, 90)))
        with Image.open(buffer) as decoded:
            return np.asarray(decoded.convert("L")), kind
    edited = regroup._edit(rng, scene[None].astype(np.float64))[0]
    return edited.round().clip(0, 255).astype(np.uint8), kind


def _taken_at(scene: int, seed: int) -> str | None:
    import numpy as np

    rng = np.random.default_rng([seed, 9, scene])
    if rng.random() >= LIBRARY["taken_at_share"]:
        return None
    t = int(rng.integers(1_104_537_600, 1_735_689_600))  # 2005..2024
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def _fingerprint(pixels: Any, data: bytes, kind: str, scene: int, seed: int) -> Any:
    """The fingerprint of a file holding `pixels`, as a scan computes it (dedupe.hashing and
    dedupe.verify on the decoded gray picture), with camera-like facts."""
    from PIL import Image

    from dedupe import hashing, verify
    from dedupe.models import Fingerprint

    gray = Image.fromarray(pixels, "L")
    value, variants = hashing.compute_with_variants(gray, "dhash", 8)
    portrait = scene % 7 == 0
    width, height = (3000, 4000) if portrait else (4000, 3000)
    if kind == "resized":  # a thumbnail or a "high quality" upload: smaller, no EXIF
        width, height = width * 2 // 5, height * 2 // 5
    return Fingerprint(
        width=width,
        height=height,
        format="JPEG",
        digest=hashlib.sha256(data).hexdigest(),
        hash=value,
        variant_bits=Fingerprint.pack_variants(variants),
        check=verify.signature(gray),
        taken_at=None if kind == "resized" else _taken_at(scene, seed),
    )


def _write_range(job: tuple[int, int, int, str]) -> list[tuple[Any, ...]]:
    """Write images start..stop; return (path, size, mtime_ns, dev, ino, fingerprint) each."""
    start, stop, seed, root = job
    library = Library(0, seed, Path(root).parent)
    out = []
    for i in range(start, stop):
        pixels, kind = _picture(i, seed)
        data = _pgm(pixels)
        path = library.path(i)
        if i % PER_ALBUM == 0 or not path.parent.is_dir():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        mtime = BASE_MTIME_NS + i * 37_000_000_123
        os.utime(path, ns=(mtime, mtime))
        info = os.stat(path)
        fingerprint = _fingerprint(pixels, data, kind, int(_SCENE_OF[i]), seed)
        out.append(
            (str(path), info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino, fingerprint)
        )
    return out


def library_recipe(n: int, seed: int) -> dict[str, Any]:
    from dedupe import cache, verify

    return {
        "version": LIBRARY_VERSION,
        "n": n,
        "seed": seed,
        "library": {
            k: (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()})
            for k, v in LIBRARY.items()
        },
        # the cached signatures are the check's input: its verdicts (verify.VERSION) may change
        # without a new library (a bump of VERSION wiped a 1M library an hour in the making)
        "signature": verify.SIGNATURE_VERSION,
        "cache_schema": cache.SCHEMA_VERSION,
        "namespace": cache.namespace(_settings()),
    }


def _settings(threshold: float = THRESHOLD) -> Any:
    from dedupe.models import Settings

    return Settings(algorithm="dhash", hash_size=8, threshold=threshold)


def build_library(n: int, seed: int, jobs: int, folder: Path | None = None) -> Library:
    """The library of n images (reused while its recipe is unchanged), in `folder` (default:
    benchmarks/.corpus-speed/scale-N-sS)."""
    global _SCENES, _SCENE_OF, _KIND_OF
    import multiprocessing

    import numpy as np

    from dedupe.cache import HashCache
    from dedupe.models import FileEntry

    library = Library(n, seed, folder or common.corpus_dir(f"scale-{n}-s{seed}"))
    recipe = json.loads(json.dumps(library_recipe(n, seed)))  # as facts.json holds it
    if library.facts_file.is_file() and library.facts().get("recipe") == recipe:
        return library
    if library.folder.exists():
        shutil.rmtree(library.folder)
    library.root.mkdir(parents=True)
    print(f"  building a library of {n:,} images in {library.folder} (once) ...", flush=True)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    _SCENE_OF, _KIND_OF = _plan(n, rng)
    _SCENES = _scenes(rng, int(_SCENE_OF.max()) + 1)
    cache = HashCache.open(library.cache, _settings())
    step = 2_000
    work = [(k, min(k + step, n), seed, str(library.root)) for k in range(0, n, step)]
    written = 0
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        for rows in pool.map(_write_range, work):
            for path, size, mtime, dev, ino, fingerprint in rows:
                cache.put(FileEntry(path, size, mtime, dev, ino), fingerprint)
            written += len(rows)
            if written % 100_000 < step:
                print(f"    {written:,} files ({time.perf_counter() - started:.0f} s)", flush=True)
    cache.close()
    _self_check(library, seed)
    kinds = Counter(KINDS[k] for k in _KIND_OF.tolist())
    families = Counter(Counter(_SCENE_OF.tolist()).values())
    facts = {
        "recipe": recipe,
        "images": n,
        "scenes": int(_SCENE_OF.max()) + 1,
        "kinds": dict(kinds),
        "pictures_by_copies": {str(k): v for k, v in sorted(families.items())},
        "build_seconds": time.perf_counter() - started,
    }
    library.facts_file.write_text(json.dumps(facts, indent=1))
    _SCENES = _SCENE_OF = _KIND_OF = None
    print(f"  ... done in {facts['build_seconds']:.0f} s: {dict(kinds)}", flush=True)
    return library


def real_library(count: int, jobs: int) -> tuple[Library, Row]:
    """The photo-like corpus of scan_speed.py and regroup.py --scanned (count 64 x 48 JPEGs,
    distinct pictures whose hashes are as near as a library's), with a hash cache filled by a
    real cold scan of it at the default threshold (timed: the row returned)."""
    from dedupe.models import DEFAULT_THRESHOLD

    corpus = common.tiny_corpus(count, 7, jobs)
    folder = common.corpus_dir(f"scale-real-{count}-s7")
    folder.mkdir(parents=True, exist_ok=True)
    library = Library(
        count, 7, folder, DEFAULT_THRESHOLD, 0.2, "real photo-like, default threshold", corpus
    )
    stamp = folder / "facts.json"
    recipe = {"corpus": str(corpus), "count": count, "namespace": library_recipe(0, 0)["namespace"]}
    if stamp.is_file() and json.loads(stamp.read_text()).get("recipe") == recipe:
        facts = json.loads(stamp.read_text())
    else:
        library.cache.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(prefix="dedupe-scale-") as tmp:
            print(f"  a real cold scan of {count:,} photo-like files (once) ...", flush=True)
            run = common.run_timed(
                dedupe_cmd("scan", str(corpus), "--cache", str(library.cache), "--report",
                           str(Path(tmp) / "report.json"), "--jobs", str(jobs)),
                env=clean_env(Path(tmp)),
            ).check("the real cold scan")  # fmt: skip
        facts = {"recipe": recipe, "seconds": run.seconds, "peak_mb": run.tree_peak_mb,
                 "load": os.getloadavg()[0]}  # fmt: skip
        stamp.write_text(json.dumps(facts))
    row = Row(
        f"[real {count // 1000}k] the cold scan that filled the cache (decoding and hashing "
        "every file; grouping at the default threshold)",
        str(count),
        facts["seconds"],
        f"{facts['seconds'] / count * 1e6:.0f} us/image (load average then {facts['load']:.1f})",
        facts["peak_mb"],
        "-",
        "-",
    )
    return library, row


def _self_check(library: Library, seed: int) -> None:
    """A real decode of a sample of the files gives the hashes and signature in the cache."""
    import numpy as np

    from dedupe import scan
    from dedupe.cache import HashCache
    from dedupe.models import FileEntry

    cache = HashCache.open(library.cache, _settings())
    rng = np.random.default_rng(seed + 1)
    try:
        for i in rng.choice(library.n, size=min(64, library.n), replace=False).tolist():
            path = library.path(i)
            data = path.read_bytes()
            info = os.stat(path)
            cached = cache.get(FileEntry(str(path), info.st_size, info.st_mtime_ns, 0, 0))
            real = scan.fingerprint_bytes(data, _settings())
            mine = cached.fingerprint if cached is not None else None
            if mine is None or (real.hash, real.variant_bits, real.check, real.digest) != (
                mine.hash, mine.variant_bits, mine.check, mine.digest
            ):  # fmt: skip
                raise SystemExit(f"the cached fingerprint of {path} is not what a scan computes")
    finally:
        cache.close()


# ---------------------------------------------------------------- measuring


def clean_env(tmp: Path) -> dict[str, str]:
    """dedupe's environment with its state, data and config in a folder of our own (apply's
    journals, review's marks), so nothing of the user's is read or written."""
    env = common.dedupe_env()
    for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        folder = tmp / name.lower()
        folder.mkdir(exist_ok=True)
        env[name] = str(folder)
    env.pop("DEDUPE_THUMBNAILS", None)
    return env


def rescan_row(name: str, n: int, run: Any, target: str) -> Row:
    """The row of a rescan (`run`: common.run_timed's result) of n images."""
    return Row(
        name,
        str(n),
        None if run.timed_out else run.seconds,
        f"{run.seconds / n * 1e6:.0f} us/image; CPU {run.cpu_seconds / n * 1e6:.0f}",
        run.tree_peak_mb,
        target,
        common.verdict(run.tree_peak_mb <= 2048 and not run.timed_out),
    )


def clear_memo(cache: Path, *, checks: bool = True) -> None:
    """Forget the remembered grouping, so the next scan groups from scratch (with `checks`:
    and the remembered geometric and content checks of pairs, so it checks them again)."""
    with contextlib.closing(sqlite3.connect(cache)) as db:
        db.execute("DELETE FROM memo")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if checks and "looks" in tables:  # (a cache of a dedupe that remembers checks)
            db.execute("DELETE FROM looks")
        db.commit()


def dedupe_cmd(*args: str) -> list[str]:
    return [common.project_python(), "-m", "dedupe", *args]


def _sections(path: Path) -> Iterator[tuple[str, bytes]]:
    """(top-level key, raw line) for every line of a report as report.py lays it out: one
    line per top-level field, and for the lists one line per item after a `"key": [` line."""
    section = "header"
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.startswith(b'"'):
                key = raw.split(b'"', 2)[1].decode()
                section = key if raw.rstrip().endswith(b": [") else "header"
                yield key, raw
            else:
                yield section, raw


def report_bytes(path: Path) -> dict[str, Any]:
    """What the report's bytes are made of: its sections, the image lines by field, and per
    image in a group and not in one. A report of schema 3 has no image lines (an image in
    no group costs nothing in it): its images are counted from its header, and the index
    beside it is measured apart (`index_bytes`)."""
    index: dict[str, Any] | None = None
    for key, raw in _sections(path):
        if key == "index":
            index = json.loads(raw.split(b": ", 1)[1].rstrip(b",\n"))
            break
        if key == "groups":
            break
    sizes: Counter[str] = Counter()
    grouped: dict[str, float] = {}  # path -> its share of its group's line
    groups = 0
    image_lines: dict[str, int] = {}
    fields: Counter[str] = Counter()
    sampled = 0
    for section, raw in _sections(path):
        sizes[section] += len(raw)
        if not raw.startswith(b"{") or section not in ("groups", "images"):
            continue
        item = json.loads(raw.rstrip(b",\n"))
        if section == "groups":
            groups += 1
            for member in item["files"]:
                grouped[member["path"]] = len(raw) / len(item["files"])
            continue
        image_lines[item["path"]] = len(raw)
        if sampled < 2000:  # the bytes of each field, from a sample of lines
            sampled += 1
            for key, value in item.items():
                fields[key] += len(json.dumps({key: value}, ensure_ascii=False)) - 1
    total = path.stat().st_size
    if index is not None:  # schema 3: no image lines
        n = int(index["images"])
        in_group = list(grouped.values())
        alone = [0] * (n - len(grouped))
        paths = [len(os.fsencode(p)) for p in grouped]
        index_bytes = (path.parent / str(index["file"])).stat().st_size
    else:
        n = len(image_lines)
        in_group = [image_lines[p] + share for p, share in grouped.items() if p in image_lines]
        alone = [b for p, b in image_lines.items() if p not in grouped]
        paths = [len(os.fsencode(p)) for p in image_lines]
        index_bytes = 0
    return {
        "index_bytes": index_bytes,
        "total": total,
        "images": n,
        "sections": dict(sizes),
        "grouped_files": len(in_group),
        "groups": groups,
        "per_grouped": sum(in_group) / max(1, len(in_group)),
        "per_alone": sum(alone) / max(1, len(alone)),
        "per_image": total / max(1, n),
        "mean_path": sum(paths) / max(1, n),
        "fields": {k: v / max(1, sampled) for k, v in fields.most_common()},
    }


def report_files(path: Path) -> list[Path]:
    """Every file of the report's groups (what apply checks), read line by line."""
    files = []
    for section, raw in _sections(path):
        if section == "groups" and raw.startswith(b"{"):
            files.extend(Path(f["path"]) for f in json.loads(raw.rstrip(b",\n"))["files"])
        elif files:
            break
    return files


def first_report_group(path: Path) -> tuple[int, str, int] | None:
    """(id, first path, number of groups) of the report's groups, read line by line."""
    first: tuple[int, str] | None = None
    count = 0
    for section, raw in _sections(path):
        if section == "groups" and raw.startswith(b"{"):
            count += 1
            if first is None:
                group = json.loads(raw.rstrip(b",\n"))
                first = (group["id"], group["files"][0]["path"])
        elif count:
            break
    return None if first is None else (first[0], first[1], count)


@dataclass(frozen=True)
class Screen:
    seconds: float | None  # until the markers were on screen (None: not in time)
    peak_mb: float  # largest sum of PSS over the pane's process tree
    text: str  # the screen then (or at the end)
    exit_seconds: float | None = None


def in_terminal(
    command: Sequence[str],
    markers: Sequence[str],
    env: dict[str, str],
    tmp: Path,
    *,
    timeout: float,
    linger: float = 2.0,
    size: tuple[int, int] = (200, 50),
    quit_wait: float = 60.0,
) -> Screen:
    """Run `command` in a tmux pane (a real terminal) and time it until every one of `markers`
    is on the screen; sample the memory of the pane's processes meanwhile (and `linger`
    seconds after), then press q, wait up to `quit_wait` seconds for it to end, and end the
    session."""
    # A socket of its own each time: a server ended by kill-server can still hold the last
    # one for a moment, and a session started on it then fails ("server exited unexpectedly").
    socket = Path(tempfile.mkdtemp(prefix="tmux-", dir=tmp)) / "sock"
    tmux = ["tmux", "-S", str(socket), "-f", os.devnull]
    environment = " ".join(
        f"{k}={shlex.quote(v)}"
        for k, v in env.items()
        if k.startswith(("XDG_", "PYTHON", "NO_COLOR", "DEDUPE")) or k in ("PATH", "HOME", "LANG")
    )
    shell = f"cd {shlex.quote(str(tmp))} && exec env {environment} TERM=xterm-256color " + (
        " ".join(shlex.quote(c) for c in command)
    )
    started = time.perf_counter()
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), shell], check=True
    )
    peak = 0
    stop = threading.Event()
    pane_pid = int(
        subprocess.run(
            [*tmux, "display", "-p", "#{pane_pid}"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, sum(common._memory_kb(p) for p in common._descendants(pane_pid)))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    seen: float | None = None
    text = ""
    try:
        while time.perf_counter() - started < timeout:
            shown = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True)
            if shown.returncode != 0:  # the program ended (and the session with it)
                break
            text = shown.stdout
            if all(m in text for m in markers):
                seen = time.perf_counter() - started
                break
            time.sleep(0.05)
        if seen is not None:
            time.sleep(linger)
        stop.set()
        sampler.join()
        subprocess.run([*tmux, "send-keys", "q"], capture_output=True)
        ended = None
        quit_at = time.perf_counter()
        while time.perf_counter() - quit_at < quit_wait:
            if subprocess.run([*tmux, "has-session"], capture_output=True).returncode != 0:
                ended = time.perf_counter() - quit_at
                break
            time.sleep(0.1)
    finally:
        stop.set()
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    return Screen(seen, peak / 1024, text, ended)


def _fmt_s(value: float | None, timeout: float) -> str:
    return f"not in {timeout:g} s" if value is None else f"{value:.2f}"


class Profiler:
    """py-spy, when asked for and installed: runs a command under `py-spy record` (all
    subprocesses) and summarises where the samples fell."""

    def __init__(self, enabled: bool, out: Path) -> None:
        self.exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.enabled = enabled and Path(self.exe).is_file()
        if enabled and not self.enabled:
            print("  (--profile: py-spy not installed: pip install py-spy)")
        self.out = out
        out.mkdir(parents=True, exist_ok=True)

    def wrap(self, name: str, command: Sequence[str]) -> list[str]:
        return [
            self.exe, "record", "--subprocesses", "--rate", "50", "--format", "raw",
            "--output", str(self.out / f"{name}.txt"), "--", *command,
        ]  # fmt: skip

    def summary(self, name: str, top: int = 18) -> str:
        """The functions with most samples (inclusive), and the leaves (self time)."""
        path = self.out / f"{name}.txt"
        if not path.is_file():
            return f"  ({name}: no profile written)"
        inclusive: Counter[str] = Counter()
        leaf: Counter[str] = Counter()
        total = 0
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            try:
                count = int(count_text)
            except ValueError:
                continue
            total += count
            frames = [_short(f) for f in stack.split(";")[1:]]  # the first is the process
            for frame in set(frames):
                inclusive[frame] += count
            if frames:
                leaf[frames[-1]] += count
        ours = [(f, c) for f, c in inclusive.most_common() if f.startswith("dedupe/")]
        lines = [
            f"  {name}: {total} samples at 50 Hz (profile in {path})",
            "    dedupe's functions, inclusive:",
        ]
        lines += [f"      {100 * c / total:5.1f}%  {f}" for f, c in ours[:top]]
        lines.append("    self (leaf):")
        lines += [f"      {100 * c / total:5.1f}%  {f}" for f, c in leaf.most_common(top)]
        return "\n".join(lines)


def _short(frame: str) -> str:
    """'fn (/long/path/dedupe/report.py:123)' -> 'report.py:fn'."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    parts = Path(file).parts
    file = "/".join(parts[parts.index("dedupe") :]) if "dedupe" in parts else Path(file).name
    return f"{file}:{name}"


def commands(library: Library, report: Path, jobs: int) -> dict[str, list[str]]:
    """The command lines of the rows."""
    return {
        "scan": dedupe_cmd(
            "scan",
            str(library.root),
            "--cache",
            str(library.cache),
            "--threshold",
            str(library.threshold),
            "--report",
            str(report),
            "--jobs",
            str(jobs),
        ),
        "review": dedupe_cmd("review", "--report", str(report)),
        "regroup": dedupe_cmd(
            "review", "--report", str(report), "--threshold", str(library.tighter)
        ),
        "apply": dedupe_cmd("apply", "--report", str(report), "--dry-run", "--format", "csv"),
    }


def review_markers(report: Path) -> list[str] | None:
    """What is on screen once review shows the report's first group (None: no group)."""
    first = first_report_group(report)
    if first is None:
        return None
    return [f"Group {first[0]} (1 of ", Path(first[1]).name]


def profile_only(library: Library, args: argparse.Namespace, profiler: Profiler) -> None:
    """Each command of the rows under py-spy, and where its samples fell."""
    with tempfile.TemporaryDirectory(prefix="dedupe-scale-") as tmp_text:
        tmp = Path(tmp_text)
        env = clean_env(tmp)
        report = tmp / "report.json"
        run = commands(library, report, args.jobs)
        clear_memo(library.cache)
        common.run_timed(profiler.wrap("scan-cold", run["scan"]), env=env, cwd=tmp)
        markers = review_markers(report)
        if markers is not None:
            in_terminal(profiler.wrap("review", run["review"]), markers, env, tmp,
                        timeout=args.timeout)  # fmt: skip
            in_terminal(profiler.wrap("review-threshold", run["regroup"]), [" (1 of "], env,
                        tmp, timeout=args.timeout)  # fmt: skip
            common.run_timed(profiler.wrap("apply-dry-run", run["apply"]), env=env, cwd=tmp)
    for name in ("scan-cold", "review", "review-threshold", "apply-dry-run"):
        print(profiler.summary(name), flush=True)


def apply_row(
    tag: str,
    cmd: dict[str, list[str]],
    env: dict[str, str],
    tmp: Path,
    report: Path,
    args: argparse.Namespace,
) -> Row:
    """`dedupe apply --dry-run` of the report, its files read into the page cache first (the
    scan before it reads none of them, and with --compare the first checkout's apply would
    otherwise read them for the second's): the per-file cost, not the disk's."""
    common.warm_page_cache(report_files(report))
    run = common.run_timed(cmd["apply"], env=env, cwd=tmp, timeout=args.timeout)
    actions = max(0, run.stdout.count("\n") - 1)
    would = sum(1 for line in run.stdout.splitlines()[1:] if line.startswith("trash") or
                line.startswith("remove"))  # fmt: skip
    per100k = None if run.timed_out or not actions else run.seconds * 100_000 / actions
    cpu = 0.0 if not actions else run.cpu_seconds * 100_000 / actions
    return Row(
        f"{tag} `dedupe apply --dry-run --format csv`: every file re-checked (size, "
        "time, SHA-256 of small files; files in the page cache)",
        str(actions),
        None if run.timed_out else run.seconds,
        "timed out"
        if run.timed_out
        else f"{per100k:.1f} s per 100k actions (CPU {run.cpu_seconds:.2f} s, {cpu:.1f} s per "
        f"100k; {would:,} would be removed)",
        run.tree_peak_mb,
        "<= 30 s per 100k; <= 2 GB",
        common.verdict(per100k is not None and per100k <= 30 and run.tree_peak_mb <= 2048),
    )


def measure(
    library: Library, args: argparse.Namespace, checkout: Path | None = None, name: str = ""
) -> list[Row]:
    """The rows of `library`, with this checkout's dedupe or `checkout`'s (named `name` in
    the rows' tags: `--compare`)."""
    n = library.n
    rows: list[Row] = []
    tag = f"[{n // 1000:,}k]" if n < 1_000_000 else f"[{n / 1e6:g}M]"
    if library.label:
        tag = f"[{library.label}, {tag[1:]}"
    if name:
        tag = f"{tag[:-1]}, {name}]"
    threshold, tighter = library.threshold, library.tighter
    with tempfile.TemporaryDirectory(prefix="dedupe-scale-") as tmp_text:
        tmp = Path(tmp_text)
        env = clean_env(tmp)
        if checkout is not None:
            env["PYTHONPATH"] = str(checkout) + os.pathsep + env.get("PYTHONPATH", "")
        report = tmp / "report.json"
        cmd = commands(library, report, args.jobs)
        # 1. the hashing-free part of a cold scan: every fingerprint from the cache, the
        # grouping memo cleared
        common.warm_page_cache([library.cache])
        clear_memo(library.cache)
        run = common.run_timed(cmd["scan"], env=env, cwd=tmp, timeout=args.timeout)
        if run.timed_out or run.returncode != 0:
            rows.append(Row(f"{tag} scan, warm hashes, grouping from scratch", str(n), None,
                            f"stopped: {'timeout' if run.timed_out else run.stderr[-300:]}",
                            run.tree_peak_mb, "flat per image", "NO"))  # fmt: skip
            return rows
        per = run.seconds / n * 1e6
        rows.append(
            Row(
                f"{tag} cold scan, hashing-free part: `dedupe scan` with every hash in the "
                "cache, grouping from scratch (walk, lookups, grouping, report, groups listed "
                "into a file)",
                str(n),
                run.seconds,
                f"{per:.0f} us/image; CPU {run.cpu_seconds / n * 1e6:.0f} us/image",
                run.tree_peak_mb,
                "<= 2 GB (met? is this alone); flat per image: compare sizes",
                common.verdict(run.tree_peak_mb <= 2048),
            )
        )
        listing_mb = len(run.stdout) / common.MB
        if args.keep_reports:
            keep_report(Path(args.keep_reports), report, run.stdout, n, name or "this")
        # 1b. a rescan after a change (the memo no longer serves: cleared), the checks of
        # pairs remembered by the first run (a dedupe that remembers them)
        clear_memo(library.cache, checks=False)
        again = common.run_timed(cmd["scan"], env=env, cwd=tmp, timeout=args.timeout)
        rows.append(
            rescan_row(
                f"{tag} rescan after a change: `dedupe scan` with every hash in the cache and "
                "the grouping memo cleared, the checks of pairs kept from the scan above",
                n, again, "<= 2 GB (met? is this alone); flat per image: compare sizes",
            )
        )  # fmt: skip
        # 2. a warm rescan: the grouping from the memo the first run left
        warm = common.run_timed(cmd["scan"], env=env, cwd=tmp, timeout=args.timeout)
        rows.append(
            rescan_row(
                f"{tag} warm rescan: `dedupe scan` of the unchanged tree (grouping from the memo)",
                n, warm, "<= 2 GB",
            )
        )  # fmt: skip
        facts = report_bytes(report)
        print(
            f"  {tag} report: {facts['total'] / common.MB:.0f} MB, {facts['groups']:,} groups, "
            f"{facts['grouped_files']:,} files in groups, {listing_mb:.0f} MB listed on stdout; "
            f"sections (MB): "
            + ", ".join(f"{k} {v / common.MB:.1f}" for k, v in facts["sections"].items())
            + "; image line fields (bytes): "
            + ", ".join(f"{k} {v:.0f}" for k, v in facts["fields"].items()),
            flush=True,
        )
        rows.append(
            Row(
                f"{tag} report size: bytes per image not in a group (its line in `images`; "
                "none since schema 3)",
                str(n - facts["grouped_files"]),
                None,
                f"{facts['per_alone']:.0f} B/image (paths {facts['mean_path']:.0f} B); "
                f"report {facts['total'] / common.MB:.0f} MB, {facts['per_image']:.0f} B/image",
                None,
                "<= 150 B",
                common.verdict(facts["per_alone"] <= 150),
            )
        )
        if facts["index_bytes"]:
            rows.append(
                Row(
                    f"{tag} the index beside the report (every image, the checked pairs; "
                    "read only to regroup)",
                    str(n),
                    None,
                    f"{facts['index_bytes'] / common.MB:.0f} MB, "
                    f"{facts['index_bytes'] / n:.0f} B/image",
                    None,
                    "-",
                    "-",
                )
            )
        rows.append(
            Row(
                f"{tag} report size: bytes per image in a group (its `images` line + its "
                "entry in `groups`)",
                str(facts["grouped_files"]),
                None,
                f"{facts['per_grouped']:.0f} B/image; {facts['groups']:,} groups; checked "
                f"pairs {facts['sections'].get('checked_pairs', 0) / common.MB:.1f} MB",
                None,
                "-",
                "-",
            )
        )
        first = first_report_group(report)
        if first is None:
            print(f"  {tag} the report has no group: review rows skipped")
            return rows
        if args.only_apply:
            return rows + [apply_row(tag, cmd, env, tmp, report, args)]
        gid, first_path, groups = first
        name = Path(first_path).name
        # 3. review: until the first group is on screen
        markers = [f"Group {gid} (1 of ", name]
        screen = in_terminal(cmd["review"], markers, env, tmp, timeout=args.timeout)
        if screen.seconds is None:
            print(f"  {tag} review screen at the end:\n{screen.text}", flush=True)
        rows.append(
            Row(
                f"{tag} `dedupe review` in a terminal (tmux): until the first group's title "
                "and first file are on screen",
                str(n),
                screen.seconds,
                f"{groups:,} groups; quit took "
                + ("-" if screen.exit_seconds is None else f"{screen.exit_seconds:.1f} s"),
                screen.peak_mb,
                "<= 3 s; <= 2 GB",
                common.verdict(
                    screen.seconds is not None and screen.seconds <= 3 and screen.peak_mb <= 2048
                ),
            )
        )
        # 4. review --threshold: tighter than the scan's, from its checked pairs
        screen = in_terminal(cmd["regroup"], [" (1 of "], env, tmp, timeout=args.timeout)
        rows.append(
            Row(
                f"{tag} `dedupe review --threshold {tighter}` (scan at {threshold}: from the "
                "checked pairs) in tmux: until the first regrouped group is on screen",
                str(n),
                screen.seconds,
                "read + regroup + first frame",
                screen.peak_mb,
                "<= 5 s; <= 2 GB",
                common.verdict(
                    screen.seconds is not None and screen.seconds <= 5 and screen.peak_mb <= 2048
                ),
            )
        )
        chain = common.run_timed(
            [sys.executable, str(Path(__file__).resolve()), "--chain", str(report),
             "--out", str(tmp / "chain.json"), "--at", str(tighter)],
            env=env,
        )  # fmt: skip
        if chain.returncode == 0:
            times = json.loads((tmp / "chain.json").read_text())
            rows.append(
                Row(
                    f"{tag}   of which in-process: report.read / regroup at {tighter} / "
                    "ReviewState.start",
                    str(n),
                    times["read"] + times["regroup"],
                    f"read {times['read']:.2f} s (+{times['read_mb']:.0f} MB), regroup "
                    f"{times['regroup']:.2f} s, state {times['state']:.2f} s; {times['groups']:,}"
                    " groups after",
                    chain.tree_peak_mb,
                    "-",
                    "-",
                )
            )
        # 5. apply --dry-run: every trash action checked on disk
        rows.append(apply_row(tag, cmd, env, tmp, report, args))
        if args.stages:
            print(f"  {tag} stages, in one process:", flush=True)
            run = common.run_timed(
                [sys.executable, str(Path(__file__).resolve()), "--stages-of",
                 str(library.root), str(library.cache), "--out", str(tmp / "stages.json"),
                 "--at", str(threshold)],
                env=env,
            )  # fmt: skip
            if run.returncode == 0:
                for entry in json.loads((tmp / "stages.json").read_text()):
                    rows.append(
                        Row(
                            f"{tag}   stage: {entry['stage']}",
                            str(n),
                            entry["seconds"],
                            f"+{entry['peak_extra_mb']:.0f} MB at its peak; RSS after "
                            f"{entry['rss_after_mb']:.0f} MB",
                            None,
                            "-",
                            "-",
                        )
                    )
            else:
                print(run.stderr[-2000:], flush=True)
        if args.store:
            run = common.run_timed(
                [sys.executable, str(Path(__file__).resolve().with_name("scale_store.py")),
                 "--report", str(report), "--cache", str(library.cache),
                 "--json", str(tmp / "store.json")],
                env=env,
            )  # fmt: skip
            for line in run.stdout.splitlines():  # its progress (its table is ours too)
                if line.startswith("  [store]"):
                    print(f"  {tag}{line[1:]}", flush=True)
            if run.returncode != 0:
                print(run.stderr[-2000:], flush=True)
            if run.returncode == 0:
                rows += [
                    Row(**{**r, "what": f"{tag} {r['what']}"})
                    for r in json.loads((tmp / "store.json").read_text())
                ]
    return rows


def keep_report(keep: Path, report: Path, listing: str, n: int, name: str) -> None:
    """--keep-reports: the report the cold scan wrote, its index and the groups it listed on
    stdout, named by size and checkout (report-100000-main.json, ...), to compare them."""
    keep.mkdir(parents=True, exist_ok=True)
    stem = f"report-{n}" + (f"-{name}" if name else "")
    shutil.copy(report, keep / f"{stem}.json")
    for index in report.parent.glob(f"{report.stem}.*.index"):
        shutil.copy(index, keep / f"{stem}.index")
    (keep / f"{stem}.txt").write_text(listing)


def regroup_rows(
    report: Path, at: float, rounds: int, compare: Path | None, name: str
) -> list[Row]:
    """Only the `review --threshold` rows, on an existing report (`--regroup-rows R`): the
    first regrouped group on screen in tmux and the in-process chain, `rounds` times, this
    checkout's and `compare`'s alternated (so that the load of a shared machine falls on
    both alike); the best and median of each."""
    sides = [(name, compare)] if compare is not None else []
    sides.append(("this" if compare is not None else "", None))
    seen: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="dedupe-regroup-rows-") as tmp_text:
        tmp = Path(tmp_text)
        for round_ in range(rounds):
            for label, checkout in sides:
                env = clean_env(tmp)
                if checkout is not None:
                    env["PYTHONPATH"] = str(checkout) + os.pathsep + env.get("PYTHONPATH", "")
                command = dedupe_cmd("review", "--report", str(report), "--threshold", str(at))
                screen = in_terminal(command, [" (1 of "], env, tmp, timeout=600)
                run = common.run_timed(
                    [sys.executable, str(Path(__file__).resolve()), "--chain", str(report),
                     "--out", str(tmp / "chain.json"), "--at", str(at)],
                    env=env,
                )  # fmt: skip
                times = json.loads((tmp / "chain.json").read_text()) if run.returncode == 0 else {}
                got = seen.setdefault(label, {})
                for key, value in (
                    ("screen", screen.seconds),
                    ("screen_mb", screen.peak_mb),
                    ("read", times.get("read")),
                    ("regroup", times.get("regroup")),
                    ("groups", times.get("groups")),
                ):
                    if value is not None:
                        got.setdefault(key, []).append(float(value))
                print(f"  round {round_ + 1} {label or 'this'}: first regrouped group "
                      f"{_fmt_s(screen.seconds, 600)} s; in-process read "
                      f"{times.get('read', float('nan')):.2f} / regroup "
                      f"{times.get('regroup', float('nan')):.2f} s (load average "
                      f"{os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    rows = []
    for label, got in seen.items():
        tag = f"[{label}]" if label else ""

        def spread(key: str, got: dict[str, list[float]] = got) -> str:
            values = sorted(got.get(key, []))
            if not values:
                return "-"
            return f"best {values[0]:.2f}, median {values[len(values) // 2]:.2f}"

        best = min(got.get("screen", [float("inf")]))
        rows.append(
            Row(
                f"{tag} `dedupe review --threshold {at}` in tmux: until the first regrouped "
                f"group is on screen ({rounds} rounds)",
                str(int(got["groups"][0])) if got.get("groups") else "-",
                None if best == float("inf") else best,
                f"{spread('screen')}; in-process read {spread('read')}, regroup "
                f"{spread('regroup')}",
                max(got.get("screen_mb", [0.0])),
                "<= 5 s",
                common.verdict(best <= 5),
            )
        )
    return rows


def chain(path: str, out: str, at: float = TIGHTER) -> None:
    """In a fresh process: the call chain `review --threshold` runs before its first frame,
    timed step by step (and the memory the read adds)."""
    import inspect

    from dedupe.regroup import read_to_regroup
    from dedupe.regroup import regroup as regroup_report
    from dedupe.review.state import ReviewState

    result: dict[str, Any] = {}
    # as `review --threshold` reads it (a checkout before the threshold was passed: without)
    told = {"threshold": at} if "threshold" in inspect.signature(read_to_regroup).parameters else {}
    before = regroup._rss_mb()
    with regroup._PeakRss() as memory:
        started = time.perf_counter()
        report = read_to_regroup(path, **told)
        result["read"] = time.perf_counter() - started
    result["read_mb"] = memory.peak - before
    started = time.perf_counter()
    regrouped, _ = regroup_report(report, threshold=at)
    result["regroup"] = time.perf_counter() - started
    started = time.perf_counter()
    ReviewState.start(regrouped)
    result["state"] = time.perf_counter() - started
    result["groups"] = len(regrouped.groups)
    Path(out).write_text(json.dumps(result))


class _Stages:
    """Wall seconds and the memory each stage adds at its peak (RSS sampled every 5 ms)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        with regroup._PeakRss() as memory:
            started = time.perf_counter()
            yield
            seconds = time.perf_counter() - started
        self.rows.append(
            {
                "stage": name,
                "seconds": seconds,
                "peak_extra_mb": memory.peak - memory.before,
                "rss_after_mb": regroup._rss_mb(),
            }
        )
        print(f"    {name}: {seconds:.2f} s, +{memory.peak - memory.before:.0f} MB at its peak, "
              f"RSS after {regroup._rss_mb():.0f} MB", flush=True)  # fmt: skip


def stages(root: str, cache_path: str, out: str, at: float = THRESHOLD) -> None:
    """In a fresh process: each stage of a hashing-free scan, then of review and apply
    --dry-run, called as the command line calls them, with time and memory each."""
    from dedupe import apply, cluster
    from dedupe import report as report_mod
    from dedupe.cache import HashCache
    from dedupe.groups import build_groups
    from dedupe.models import KeepRules
    from dedupe.review.state import ReviewState
    from dedupe.scan import scan

    settings = _settings(at)
    timer = _Stages()
    with timer.stage("scan(): walk + cache lookups -> records"):
        cache = HashCache.open(Path(cache_path), settings)
        result = scan((root,), settings, cache)
        cache.close()
    with timer.stage("load the grouping kernels (numba, from its disk cache)"):
        cluster.warm_up()
    with timer.stage("cluster.cluster (search, check, union-find)"):
        found = cluster.cluster(result.records, settings)
    with timer.stage("build_groups (keep policy)"):
        groups = build_groups(result.records, settings, KeepRules(), clusters=found)
    report = report_mod.from_scan(result, KeepRules(), groups, checked=found.checked)
    path = Path(out).with_name("stages-report.json")
    with timer.stage("report.write"):
        report_mod.write(report, path)
    del report, groups, found, result
    gc_collect()
    with timer.stage("report.read (review, apply, report --html all start here)"):
        again = report_mod.read(path)
    with timer.stage("ReviewState.start (review's state of every group)"):
        ReviewState.start(again)
    with timer.stage("apply.build_plan"):
        plan = apply.build_plan(again, str(path), None)
    with timer.stage("apply.preview (every file of every group checked on disk)"):
        apply.preview(plan)
    Path(out).write_text(json.dumps(timer.rows))


def gc_collect() -> None:
    import gc

    gc.collect()


def disk_use(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Issue 20's rows at 10k, 100k and 1M images.")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="give up on one command after this long"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the timed rows, run each command of the 1M rows under py-spy and say "
        "where the time goes (pip install py-spy)",
    )
    parser.add_argument("--profile-from", type=int, default=1_000_000, help=argparse.SUPPRESS)
    parser.add_argument("--build-only", action="store_true", help="build the libraries, no rows")
    parser.add_argument(
        "--store",
        action="store_true",
        help="also run scale_store.py's storage prototypes on each library's report",
    )
    parser.add_argument(
        "--keep-reports",
        metavar="DIR",
        help="keep the report, index and listing of each cold scan (named by size and checkout)",
    )
    parser.add_argument(
        "--only-apply",
        action="store_true",
        help="only the scan rows (they make the report) and the apply row",
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also time each stage in one process (scan, grouping, report write and read, "
        "review's state, apply's plan and checks) with the memory each adds",
    )
    parser.add_argument(
        "--real",
        type=int,
        default=0,
        metavar="N",
        help="also the rows on the report of a real scan of N small photo-like files at the "
        "default threshold (the corpus of scan_speed.py --large; the first run scans them)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also every row with the dedupe of another checkout (its root: a copy of main, "
        "say), before this one's, side by side in the same run",
    )
    parser.add_argument(
        "--compare-name", default="main", help="its name in the rows (default: main)"
    )
    parser.add_argument(
        "--regroup-rows",
        type=Path,
        metavar="REPORT",
        help="only the review --threshold rows, on this report (a scan's, with its index), "
        "--rounds times, alternated with --compare's checkout",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chain", help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--stages-of", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chain:
        chain(args.chain, args.out, TIGHTER if args.at is None else args.at)
        return 0
    if args.stages_of:
        stages(args.stages_of[0], args.stages_of[1], args.out, args.at or THRESHOLD)
        return 0
    if shutil.which("tmux") is None:
        raise SystemExit("scale.py needs tmux (apt-get install tmux) for the review rows")
    common.print_machine("Scale: machine")
    if args.regroup_rows:
        compare = None if args.compare is None else args.compare.resolve()
        common.prepare_dedupe()
        if compare is not None:
            common.prepare_dedupe(compare)
        rows = regroup_rows(
            args.regroup_rows.resolve(), args.at or TIGHTER, args.rounds, compare,
            args.compare_name,
        )  # fmt: skip
        common.print_machine("Scale: results")
        print(common.table(rows))
        common.emit(rows)
        return 0
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    libraries = [build_library(n, args.seed, args.jobs) for n in sizes]
    rows: list[Row] = []
    if args.real:
        real, scanned = real_library(args.real, args.jobs)
        libraries.append(real)
        rows.append(scanned)
    for library in libraries:
        print(
            f"  library of {library.n:,}: {disk_use(library.folder) / 1024**3:.2f} GB on disk "
            f"(cache {library.cache.stat().st_size / common.MB:.0f} MB)",
            flush=True,
        )
    if args.build_only:
        return 0
    common.prepare_dedupe()
    if args.profile:
        profiler = Profiler(True, common.corpus_dir("scale-profiles"))
        for library in libraries:
            if library.n >= args.profile_from and profiler.enabled:
                print(f"\n## profiles of {library.n:,} images", flush=True)
                profile_only(library, args, profiler)
        return 0
    compare = None if args.compare is None else args.compare.resolve()
    if compare is not None:
        # its bytecode and numba kernels compiled before anything is timed, as for ours
        env = common.dedupe_env()
        env["PYTHONPATH"] = str(compare) + os.pathsep + env.get("PYTHONPATH", "")
        python = common.project_python()
        warm = "from dedupe import cluster; cluster.warm_up()"
        subprocess.run([python, "-m", "compileall", "-q", str(compare / "dedupe")], check=True,
                       env=env)  # fmt: skip
        subprocess.run([python, "-c", warm], check=True, env=env)
    for library in libraries:
        print(f"\n## {library.n:,} images (load average {os.getloadavg()[0]:.1f})", flush=True)
        part = []
        if compare is not None:
            part += measure(library, args, compare, args.compare_name)
        part += measure(library, args, None, "this" if compare is not None else "")
        print(common.table(part), flush=True)
        rows += part
    common.print_machine("Scale: results")
    print(common.table(rows))
    print(f"(scale.py took {(time.perf_counter() - started) / 60:.1f} minutes)", flush=True)
    common.emit(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
