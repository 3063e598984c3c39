"""Memory of big images (issue 15, item 12): a HEIC is reduced band by band as it leaves
libheif (its full-size RGB exists once, not twice), the decode's memory is estimated from the
header first, an image over the per-image budget waits for its turn across the scan's worker
processes, and one over the limit is refused. Measured in fresh processes (ru_maxrss)."""

from __future__ import annotations

import io
import multiprocessing
import sys
import time
from pathlib import Path

import pytest
from conftest import photo
from PIL import Image

from dedupe import decode, scan, workers
from dedupe.cache import HashCache
from dedupe.models import Settings

IPHONE = Path("exif-samples/heic/mobile/iphone_13_pro_max.HEIC")  # 12.2 MP, under real-images

# The measurement of benchmarks/memory.py: a fresh process's own high-water mark (VmHWM)
# before and after fingerprinting one file, with this checkout's dedupe.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import memory as memory_benchmark  # noqa: E402


def peak_growth(path: Path) -> int:
    """How many bytes a fresh process's peak memory grows by while it fingerprints `path`."""
    result = memory_benchmark.worker_peak(memory_benchmark.common.ROOT, path)
    assert result["outcome"] == "Hashed"
    return int((float(result["peak_mb"]) - float(result["base_mb"])) * 1024 * 1024)


def test_a_heic_takes_its_rgb_once_not_twice(real_images: Path) -> None:
    """Before: 8.3 bytes a pixel for a 12 MP iPhone HEIC (libheif's RGB, then Pillow's 4-byte
    copy of it), 7.0 for a generated 121 MP one (886 MB); now 5.8 (libheif's decode itself)."""
    path = real_images / IPHONE
    width, height = Image.open(path).size
    grown = peak_growth(path)
    assert grown < 7.0 * width * height, f"{grown / (width * height):.1f} bytes a pixel"


def heic(seed: int, size: tuple[int, int], orientation: int | None = None) -> bytes:
    buffer = io.BytesIO()
    image = photo(seed, size)
    if orientation is None:
        image.save(buffer, format="HEIF", quality=90)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, format="HEIF", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _pixels(data: bytes) -> tuple[bytes, int, int, str]:
    decoded = decode.decode(data, gray=True)
    return decoded.image.tobytes(), decoded.width, decoded.height, decoded.image.mode


@pytest.mark.parametrize(
    ("size", "orientation"),
    [((700, 530), None), ((530, 801), 6), ((1300, 520), None), ((780, 771), 3)],
)
def test_banded_heic_decoding_gives_the_same_pixels(
    monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], orientation: int | None
) -> None:
    """The same pixels (so the same hashes: no cache is invalidated) as Pillow's whole load,
    with reduction factors 2 and 3, odd sizes, and EXIF orientations."""
    data = heic(size[0], size, orientation)
    banded = _pixels(data)
    monkeypatch.setattr(decode, "_heif_reduced", lambda *args: None)
    assert banded == _pixels(data)


def test_banded_heic_decoding_of_real_photos_gives_the_same_hashes(
    real_images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(real_images.rglob("*.[hH][eE][iI][cC]"))[:6]
    assert files
    banded = [scan.fingerprint_bytes(p.read_bytes(), Settings()) for p in files]
    monkeypatch.setattr(decode, "_heif_reduced", lambda *args: None)
    assert banded == [scan.fingerprint_bytes(p.read_bytes(), Settings()) for p in files]


def progressive(size: tuple[int, int], subsampling: int = 2) -> bytes:
    """A progressive JPEG of a plain picture: tiny for the pixels it claims."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 130, 140)).save(
        buffer, "JPEG", progressive=True, quality=50, subsampling=subsampling
    )
    return buffer.getvalue()


def test_the_decode_cost_is_estimated_from_the_header() -> None:
    def cost(data: bytes) -> int:
        return decode.decode_cost(decode._open(data, decode.sniff(data[:64]) or ""))

    # 4:2:0: 1.5 coefficients of 2 bytes a pixel, in whole MCUs (16 x 16 for the luma)
    assert cost(progressive((4000, 3000))) == (250 * 188 * 4 + 2 * 250 * 188) * 128
    assert cost(progressive((4000, 3000), subsampling=0)) == 3 * 500 * 375 * 128  # 4:4:4
    baseline = io.BytesIO()
    Image.new("RGB", (4000, 3000)).save(baseline, "JPEG")
    assert cost(baseline.getvalue()) == 0  # streamed at its reduced size
    png = io.BytesIO()
    Image.new("RGB", (400, 300)).save(png, "PNG")
    assert cost(png.getvalue()) == 400 * 300 * 4


def test_an_image_over_the_memory_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "MAX_DECODE_BYTES", 10 * 1024**2)
    with pytest.raises(decode.DecodeError, match="would take about 34 MB of memory"):
        decode.decode(progressive((4000, 3000)), gray=True)


class Recording:
    """A lock that tells a queue when it is taken and given back (by which process)."""

    def __init__(self, lock: object, events: object) -> None:
        self.lock, self.events = lock, events

    def acquire(self) -> bool:
        self.lock.acquire()  # type: ignore[attr-defined]
        self.events.put(("taken", multiprocessing.current_process().name, time.monotonic()))  # type: ignore[attr-defined]
        return True

    def release(self) -> None:
        self.events.put(("given", multiprocessing.current_process().name, time.monotonic()))  # type: ignore[attr-defined]
        self.lock.release()  # type: ignore[attr-defined]


def _decode_in_turn(lock: object, events: object, big: int, data: bytes, times: int) -> None:
    decode.take_turns(Recording(lock, events), big)
    for _ in range(times):
        decode.decode(data, gray=True)


def test_big_decodes_take_turns_across_processes() -> None:
    """Two worker processes (from the scan's own process context), each decoding big images:
    at no moment do two hold the turn, and a small image never asks for it."""
    context = workers.context()
    lock, events = context.Lock(), context.Queue()
    big = progressive((3000, 3000))  # about 27 MB estimated
    small = progressive((1000, 1000))  # about 3 MB
    budget = 10 * 1024**2
    processes = [
        context.Process(target=_decode_in_turn, args=(lock, events, budget, big, 3)),
        context.Process(target=_decode_in_turn, args=(lock, events, budget, big, 3)),
        context.Process(target=_decode_in_turn, args=(lock, events, budget, small, 3)),
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    log = []
    while len(log) < 12:
        log.append(events.get(timeout=10))
    log.sort(key=lambda event: event[2])
    holder = None
    for kind, name, _ in log:
        if kind == "taken":
            assert holder is None, f"{name} took the turn while {holder} held it"
            holder = name
        else:
            assert holder == name
            holder = None
    names = {name for _, name, _ in log}
    assert names == {processes[0].name, processes[1].name}  # the small image never waited


def test_the_scan_pool_shares_one_turn_between_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scan() hands its workers the lock (decode.take_turns): with a budget of 1 byte, every
    decode of a --jobs 2 scan waits for its turn, and the scan still finishes."""
    for k in range(2 * scan.CHUNK):
        photo(k, (64, 48)).save(tmp_path / f"{k}.jpg", progressive=True)
    given: list[tuple[object, ...]] = []
    real = scan.futures.ProcessPoolExecutor

    def pool(*args: object, **kwargs: object) -> object:
        given.append(kwargs["initargs"])  # type: ignore[arg-type]
        assert kwargs["initializer"] is decode.take_turns
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scan.futures, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(decode, "BIG_DECODE_BYTES", 1)
    result = scan.scan([str(tmp_path)], Settings(), HashCache.memory(Settings()), jobs=2)
    assert len(result.records) == 2 * scan.CHUNK
    [(lock, budget)] = given
    assert budget == 1 and hasattr(lock, "acquire")
