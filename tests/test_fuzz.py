"""Fuzz: 1,200 mutated image files (bit flips, truncations, header swaps, overwritten and
duplicated runs; seeded, so every run makes the same files). Each one is either hashed or
failed with a plain reason; no file crashes the worker process, keeps it computing for more
than PER_FILE_CPU_SECONDS of CPU time (SIGPROF ends it) or leaves it without an answer for
PER_FILE_WALL_SECONDS (SIGALRM ends it: a decoder blocked without computing); the test names
the file. CPU time, not wall time, bounds the work: on a shared, loaded machine a file that
takes 3 s of CPU can take 10 s of wall time, which is no hang."""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.connection
import os
import random
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import REAL_IMAGES, photo
from PIL import Image, features
from test_formats import dng

from dedupe import raw
from dedupe.cache import HashCache
from dedupe.models import Settings
from dedupe.scan import Failed, Hashed, fingerprint_file, scan

SEED = 20_240_601
FILES = 1200
WORKERS = 2
PER_FILE_CPU_SECONDS = 10
PER_FILE_WALL_SECONDS = 120
SETTINGS = Settings()

# What a reason must never contain: exception class names, tracebacks, bytes reprs, jargon.
JARGON = re.compile(r"[A-Z][a-z]+Error\b|Exception|Traceback|errno|\bb'|wrong mode|\bmode\b|tile")


def _encode(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def seed_files() -> list[tuple[str, bytes]]:
    """Small valid images of every family (generated), plus small real files when present."""
    a, b = photo(41, (160, 120)), photo(42, (160, 120))
    rgba = a.convert("RGBA")
    rgba.putalpha(b.convert("L"))
    seeds = [
        ("baseline.jpg", _encode(a, "JPEG", quality=85)),
        ("progressive.jpg", _encode(b, "JPEG", quality=85, progressive=True)),
        ("exif.jpg", _encode(a, "JPEG", quality=80, exif=_exif())),
        ("cmyk.jpg", _encode(a.convert("CMYK"), "JPEG")),
        ("rgb.png", _encode(a, "PNG")),
        ("rgba.png", _encode(rgba, "PNG")),
        ("palette.png", _encode(b.quantize(64), "PNG", transparency=0)),
        ("grey16.png", _encode(a.convert("L").convert("I;16"), "PNG")),
        ("animated.gif", _encode(a, "GIF", save_all=True, append_images=[b])),
        ("plain.tif", _encode(a, "TIFF")),
        ("lzw.tif", _encode(b, "TIFF", compression="tiff_lzw")),
        ("pages.tif", _encode(a, "TIFF", save_all=True, append_images=[b])),
        ("photo.bmp", _encode(a.resize((96, 72)), "BMP")),
        ("photo.ppm", _encode(b.resize((96, 72)), "PPM")),
        ("photo.heic", _encode(a.resize((128, 96)), "HEIF", quality=60)),
    ]
    if features.check("webp"):
        seeds.append(("lossy.webp", _encode(a, "WEBP", quality=70)))
        seeds.append(("lossless.webp", _encode(b, "WEBP", lossless=True)))
    if features.check("avif"):
        seeds.append(("photo.avif", _encode(b.resize((96, 72)), "AVIF", quality=60)))
    if raw.available():
        seeds.append(("preview.dng", dng(b, preview=a)))
        seeds.append(("developed.nef", dng(a.resize((96, 72)), orientation=6)))
    if REAL_IMAGES.is_dir():
        real = sorted(p for p in REAL_IMAGES.rglob("*") if p.suffix.lower() in _REAL_SUFFIXES)
        small = [p for p in real if 0 < p.stat().st_size <= 40_000][:12]
        seeds += [(f"real-{p.name}", p.read_bytes()) for p in small]
    return seeds


_REAL_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp", ".bmp", ".pgm"}


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0132] = "2020:01:02 03:04:05"
    return exif


def mutate(rng: random.Random, data: bytes, donor: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["flip", "flip-head", "truncate", "swap", "overwrite", "duplicate", "two"])
    if kind == "two":
        first, once = mutate(rng, data, donor)
        second, twice = mutate(rng, once, donor)
        return f"{first}+{second}", twice
    out = bytearray(data)
    if not out:
        return kind, bytes(out)
    if kind in ("flip", "flip-head"):
        span = min(len(out), 512) if kind == "flip-head" else len(out)
        for _ in range(rng.randint(1, 16)):
            out[rng.randrange(span)] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del out[rng.randrange(len(out)) :]
    elif kind == "swap":
        # The header of another (usually other-format) file on this file's body.
        cut = rng.randint(8, 512)
        out = bytearray(donor[:cut]) + out[cut:]
    elif kind == "overwrite":
        start = rng.randrange(len(out))
        length = rng.randint(1, 256)
        fill = rng.choice([b"\x00", b"\xff", None])
        patch = fill * length if fill else rng.randbytes(length)
        out[start : start + length] = patch[: len(out) - start]
    else:  # duplicate a run somewhere else (chunks and markers repeated)
        start = rng.randrange(len(out))
        run = out[start : start + rng.randint(1, 2048)]
        at = rng.randrange(len(out))
        out[at:at] = run
    return kind, bytes(out)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    seeds = seed_files()
    rng = random.Random(SEED)
    paths = []
    for i in range(FILES):
        name, data = seeds[i % len(seeds)]
        donor = rng.choice(seeds)[1]
        kind, mutated = mutate(rng, data, donor)
        path = root / f"{i:04d}-{kind}-{name}"
        path.write_bytes(mutated)
        paths.append(path)
    return paths


def _worker(paths: list[str], conn: multiprocessing.connection.Connection) -> None:
    for index, path in enumerate(paths):
        conn.send(("start", index))
        # No handlers: if a decoder loops (even inside C code), SIGPROF ends the process; if
        # it blocks, SIGALRM does.
        signal.signal(signal.SIGPROF, signal.SIG_DFL)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_PROF, PER_FILE_CPU_SECONDS)
        signal.alarm(PER_FILE_WALL_SECONDS)
        try:
            outcome = fingerprint_file(path, SETTINGS)
        except Exception as error:  # noqa: BLE001 - the harness reports what escaped, per file
            conn.send(("done", index, "raised", f"{type(error).__name__}: {error}"))
            continue
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.alarm(0)
        if isinstance(outcome, Hashed):
            conn.send(("done", index, "hashed", outcome.fingerprint.format))
        elif isinstance(outcome, Failed):
            conn.send(("done", index, "skipped" if outcome.skipped else "failed", outcome.reason))
        else:
            conn.send(("done", index, "none", ""))
    conn.close()


def run_workers(paths: list[Path]) -> dict[Path, tuple[str, str]]:
    # Not "fork": a fork of this process, which has run LibRaw (OpenMP) in other tests, hangs
    # in its first RAW decode. Spawned workers start clean, as the scan's own workers do.
    context = multiprocessing.get_context("spawn")
    shares = [[str(p) for p in paths[k::WORKERS]] for k in range(WORKERS)]
    workers = []
    for share in shares:
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(share, sender), daemon=True)
        process.start()
        sender.close()
        workers.append((process, receiver, share))
    results: dict[Path, tuple[str, str]] = {}
    started: list[int | None] = [None] * WORKERS
    open_conns = {receiver: k for k, (_, receiver, _) in enumerate(workers)}
    while open_conns:
        for ready in multiprocessing.connection.wait(list(open_conns)):
            assert isinstance(ready, multiprocessing.connection.Connection)
            k = open_conns[ready]
            try:
                message: tuple[Any, ...] = ready.recv()
            except EOFError:
                del open_conns[ready]
                continue
            if message[0] == "start":
                started[k] = message[1]
            else:
                _, index, kind, detail = message
                results[Path(workers[k][2][index])] = (kind, detail)
                started[k] = None
    for k, (process, _, share) in enumerate(workers):
        process.join()
        if process.exitcode != 0:
            last = started[k]
            culprit = share[last] if last is not None else "?"
            if process.exitcode == -signal.SIGPROF:
                what = f"kept computing (killed after {PER_FILE_CPU_SECONDS} s of CPU time)"
            elif process.exitcode == -signal.SIGALRM:
                what = f"hung (no answer within {PER_FILE_WALL_SECONDS} s)"
            else:
                what = f"crashed (exit code {process.exitcode})"
            pytest.fail(f"the worker {what} on {culprit}")
    return results


def test_every_mutated_file_is_hashed_or_an_error_and_none_hangs(corpus: list[Path]) -> None:
    assert len(corpus) >= 1000
    results = run_workers(corpus)
    assert set(results) == set(corpus)
    raised = {p.name: d for p, (k, d) in results.items() if k == "raised"}
    assert raised == {}, f"{len(raised)} files raised out of fingerprint_file: {raised}"
    kinds = Counter(kind for kind, _ in results.values())
    # Every file is named as an image, so "not an image, passed over" is never the answer;
    # only a RAW file can be skipped (LibRaw cannot tell a damaged file from a new camera).
    assert set(kinds) <= {"hashed", "failed", "skipped"}, kinds
    for path, (kind, _) in results.items():
        assert kind != "skipped" or path.suffix in (".dng", ".nef"), path.name
    assert kinds["hashed"] > 100 and kinds["failed"] > 100, kinds  # the mutations bite
    for path, (kind, detail) in results.items():
        if kind in ("failed", "skipped"):
            assert detail and not JARGON.search(detail), f"{path.name}: {detail!r}"


def test_a_scan_of_mutated_files_accounts_for_every_one(corpus: list[Path]) -> None:
    subset = corpus[:: len(corpus) // 150]
    root = corpus[0].parent / "subset"
    root.mkdir()
    for path in subset:
        os.link(path, root / path.name)
    result = scan((str(root),), SETTINGS, HashCache.memory(SETTINGS), jobs=2)
    listed = [r.path for r in result.records] + [p.path for p in result.errors]
    listed += [p.path for p in result.skipped if p.path.endswith((".dng", ".nef"))]
    assert sorted(Path(p).name for p in listed) == sorted(p.name for p in subset)
