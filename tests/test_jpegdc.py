"""A progressive JPEG's DC scans alone (dedupe/jpegdc.py) give the same 1/8-scale gray pixels
as the whole file, and decode.decode uses them; anything it cannot promise that for is declined
and decoded whole. Every comparison decodes both streams with the real libjpeg."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from dedupe import decode, jpegdc
from tests.conftest import photo

MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")


def jpeg(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **params)
    return out.getvalue()


def noisy(size: tuple[int, int], seed: int = 1, mode: str = "RGB") -> Image.Image:
    """A photo with sensor-like noise: most of its bytes are AC coefficients."""
    small = (max(8, size[0] // 4), max(8, size[1] // 4))
    base = np.asarray(photo(seed, small).convert(mode).resize(size, Image.BILINEAR), np.int16)
    rng = np.random.default_rng(seed)
    pixels = np.clip(base + rng.integers(-16, 17, base.shape, np.int16), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode)


def eighth_gray(data: bytes) -> np.ndarray:
    """What libjpeg decodes from `data` in gray at 1/8 scale (Pillow's draft mode)."""
    image = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    image.draft("L", (image.size[0] // 8, image.size[1] // 8))
    assert image.decoderconfig[0] == 8
    image.load()
    return np.asarray(image)


def segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, bytes) of every segment after SOI; a scan's bytes include its coded data."""
    out, pos = [], 2
    while data[pos + 1] != 0xD9:
        marker = data[pos + 1]
        stop = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:
            found = MARKER.search(data, stop)
            assert found is not None
            stop = found.start()
        out.append((marker, data[pos:stop]))
        pos = stop
    return out


def join(parts: list[tuple[int, bytes]]) -> bytes:
    return b"\xff\xd8" + b"".join(b for _, b in parts) + b"\xff\xd9"


def scan_band(segment: bytes) -> tuple[int, int, int, int]:
    """(first, last, high bit, low bit) of a scan segment."""
    count = segment[4]
    at = 5 + 2 * count
    return segment[at], segment[at + 1], segment[at + 2] >> 4, segment[at + 2] & 0x0F


@pytest.mark.parametrize(
    ("size", "mode", "params"),
    [
        ((512, 384), "RGB", {"subsampling": 2}),  # 4:2:0, as cameras and phones write
        ((517, 389), "RGB", {"subsampling": 1}),  # 4:2:2, sizes not a multiple of the MCU
        ((389, 517), "RGB", {"subsampling": 0}),  # 4:4:4
        ((640, 136), "RGB", {"subsampling": 2, "quality": 40}),
        ((512, 384), "L", {}),  # one component
        ((520, 392), "RGB", {"subsampling": 2, "restart_marker_blocks": 3}),
        ((520, 392), "RGB", {"subsampling": 0, "restart_marker_rows": 1, "quality": 97}),
    ],
)
def test_dc_scans_give_the_same_pixels_as_the_whole_file(
    size: tuple[int, int], mode: str, params: dict[str, object]
) -> None:
    data = jpeg(noisy(size, mode=mode), progressive=True, **params)
    dc = jpegdc.dc_scans_only(data)
    assert dc is not None
    assert len(dc) < len(data) / 2  # the AC scans are most of the file
    assert np.array_equal(eighth_gray(dc), eighth_gray(data))


def test_a_camera_sized_photo_at_the_scan_s_own_scale() -> None:
    data = jpeg(noisy((2730, 2048), seed=5), progressive=True, quality=92)
    assert jpegdc.dc_scans_only(data) is not None
    whole = _decode_whole(data)
    fast = decode.decode(data, gray=True)
    assert fast.image.size == (342, 256)  # 1/8 scale, as the scan decodes 12 MP photos
    assert np.array_equal(np.asarray(fast.image), np.asarray(whole.image))


def _decode_whole(data: bytes, **kwargs: object) -> decode.Decoded:
    """decode.decode with the DC-scan path turned off: the file decoded whole."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jpegdc, "dc_scans_only", lambda data: None)
        return decode.decode(data, gray=True, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_decode_reads_only_the_dc_scans_and_returns_the_same_image(
    orientation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0132] = "2019:04:01 10:20:30"  # DateTime
    data = jpeg(noisy((640, 480), seed=orientation), progressive=True, exif=exif.tobytes())
    whole = _decode_whole(data, min_side=60)
    used: list[bytes | None] = []
    cut = jpegdc.dc_scans_only

    def spy(data: bytes) -> bytes | None:
        used.append(cut(data))
        return used[-1]

    monkeypatch.setattr(jpegdc, "dc_scans_only", spy)
    fast = decode.decode(data, gray=True, min_side=60)
    assert len(used) == 1 and used[0] is not None
    assert np.array_equal(np.asarray(fast.image), np.asarray(whole.image))
    assert (fast.width, fast.height, fast.format) == (whole.width, whole.height, whole.format)
    assert fast.taken_at == whole.taken_at is not None
    assert fast.image.size == ((60, 80) if orientation in (6, 8) else (80, 60))


def test_not_used_off_the_one_scale_and_mode_it_is_exact_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = jpeg(noisy((640, 480)), progressive=True)
    calls: list[bytes] = []
    monkeypatch.setattr(jpegdc, "dc_scans_only", lambda d: calls.append(d))
    decode.decode(data, gray=True, min_side=120)  # 1/4 scale: 2x2 blocks read AC
    decode.decode(data, min_side=60)  # colour: chroma is read at 2x2
    decode.decode(jpeg(noisy((640, 480))), gray=True, min_side=60)  # baseline
    assert calls == []


def test_declines_what_it_cannot_promise() -> None:
    image = noisy((512, 384))
    progressive = jpeg(image, progressive=True, subsampling=2)
    assert jpegdc.dc_scans_only(progressive) is not None
    assert jpegdc.dc_scans_only(jpeg(image)) is None  # baseline: nothing to skip
    assert jpegdc.dc_scans_only(progressive[:-5000]) is None  # truncated
    assert jpegdc.dc_scans_only(progressive[:-2]) is None  # no EOI
    assert jpegdc.dc_scans_only(b"") is None
    assert jpegdc.dc_scans_only(b"\xff\xd8\xff") is None
    assert jpegdc.dc_scans_only(progressive[:200] + b"junk" + progressive[200:]) is None
    cmyk = jpeg(noisy((512, 384)).convert("CMYK"), progressive=True)
    assert jpegdc.dc_scans_only(cmyk) is None  # four components


def test_truncated_and_damaged_files_fail_as_they_did() -> None:
    data = jpeg(noisy((640, 480)), progressive=True)
    for broken in (data[: len(data) // 2], data[:-2] + b"\x00\x00"):
        with pytest.raises(decode.DecodeError) as whole:
            _decode_whole(broken, min_side=60)
        with pytest.raises(decode.DecodeError) as fast:
            decode.decode(broken, gray=True, min_side=60)
        assert str(fast.value) == str(whole.value)


def test_a_file_whose_ac_never_reaches_full_precision_is_decoded_whole() -> None:
    """Without its refinement scans the file's low AC coefficients stay approximate, and libjpeg
    smooths its blocks (T.81 K.8). Whether that can move a 1/8-scale pixel is up to the libjpeg
    version, so such a file is not cut."""
    data = jpeg(noisy((512, 384)), progressive=True)
    parts = segments(data)
    coarse = join(
        [(m, b) for m, b in parts if m != 0xDA or scan_band(b)[0] == 0 or scan_band(b)[2] == 0]
    )
    assert len(coarse) < len(data)
    assert jpegdc.dc_scans_only(coarse) is None
    # Still a JPEG libjpeg reads, and decode reads it (whole) just as before.
    assert np.array_equal(
        np.asarray(decode.decode(coarse, gray=True, min_side=48).image),
        np.asarray(_decode_whole(coarse, min_side=48).image),
    )
    # Dropping the DC refinement as well changes the pixels; kept DC scans are all of them.
    no_dc_refinement = join(
        [(m, b) for m, b in parts if m != 0xDA or scan_band(b)[:3] != (0, 0, 1)]
    )
    assert jpegdc.dc_scans_only(no_dc_refinement) is not None
    assert np.array_equal(
        eighth_gray(jpegdc.dc_scans_only(no_dc_refinement) or b""), eighth_gray(no_dc_refinement)
    )


def _as_adobe(data: bytes, transform: int) -> bytes:
    """`data` with its JFIF header replaced by an Adobe one (APP14) with this colour transform."""
    adobe = b"Adobe" + bytes([0, 100, 0, 0, 0, 0, transform])
    app14 = b"\xff\xee" + (2 + len(adobe)).to_bytes(2, "big") + adobe
    parts = [(m, b) for m, b in segments(data) if not (m == 0xE0 and b[4:9] == b"JFIF\x00")]
    return join([(0xEE, app14), *parts])


def test_colour_space_decides_whether_gray_is_luma_alone() -> None:
    image = noisy((512, 384), seed=3)
    subsampled = jpeg(image, progressive=True, subsampling=2)
    full_chroma = jpeg(image, progressive=True, subsampling=0)
    # Marked RGB and subsampled: gray mixes every component, some of them read at 2x2.
    assert jpegdc.dc_scans_only(_as_adobe(subsampled, 0)) is None
    # Marked YCbCr (Adobe transform 1), or RGB without subsampling: exact.
    for data in (_as_adobe(subsampled, 1), _as_adobe(full_chroma, 0)):
        dc = jpegdc.dc_scans_only(data)
        assert dc is not None
        assert np.array_equal(eighth_gray(dc), eighth_gray(data))


def test_a_real_progressive_photo(real_images: Path) -> None:
    data = (real_images / "exif-samples/jpg/tests/32-lens_data.jpeg").read_bytes()
    dc = jpegdc.dc_scans_only(data)
    assert dc is not None
    assert np.array_equal(eighth_gray(dc), eighth_gray(data))
    fast, whole = decode.decode(data, gray=True, min_side=16), _decode_whole(data, min_side=16)
    assert np.array_equal(np.asarray(fast.image), np.asarray(whole.image))


def _outcome(data: bytes, *, whole: bool) -> tuple[object, ...]:
    try:
        decoded = (
            _decode_whole(data, min_side=60)
            if whole
            else decode.decode(data, gray=True, min_side=60)
        )
    except decode.DecodeError as error:
        return ("error", str(error))
    return ("image", np.asarray(decoded.image).tobytes(), decoded.width, decoded.height)


def test_damaged_progressive_files_decode_or_fail_exactly_as_when_read_whole() -> None:
    """Random damage (bytes changed, zeroed, cut off) never makes the DC-scan path disagree
    with decoding the whole file: same pixels, or the same error."""
    import random

    rng = random.Random(7)
    sources = [
        jpeg(noisy((640, 480), seed=s), progressive=True, subsampling=s % 3) for s in range(3)
    ] + [jpeg(noisy((640, 480), seed=3), progressive=True, restart_marker_blocks=5)]
    outcomes = set()
    for _ in range(400):
        data = bytearray(rng.choice(sources))
        damage = rng.choice(["byte", "bytes", "zeros", "cut"])
        if damage == "byte":
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif damage == "bytes":
            for _ in range(20):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif damage == "zeros":
            at = rng.randrange(len(data))
            data[at : at + 64] = bytes(len(data[at : at + 64]))
        else:
            del data[rng.randrange(len(data)) :]
        fast, whole = _outcome(bytes(data), whole=False), _outcome(bytes(data), whole=True)
        assert fast == whole, damage
        outcomes.add(fast[0])
    assert outcomes == {"image", "error"}


@pytest.mark.parametrize(
    "damage",
    ["bad successive approximation", "undefined Huffman table", "unknown component"],
)
def test_a_broken_ac_scan_header_fails_as_it_would_whole(damage: str) -> None:
    """libjpeg stops at these even in a scan the 1/8-scale image does not need."""
    data = jpeg(noisy((640, 480)), progressive=True)
    parts = segments(data)
    at = next(k for k, (m, b) in enumerate(parts) if m == 0xDA and scan_band(b)[0] > 0)
    scan = bytearray(parts[at][1])
    if damage == "bad successive approximation":
        scan[9] = 0xEE
    elif damage == "undefined Huffman table":
        scan[6] = 0x03
    else:
        scan[5] = 9
    parts[at] = (0xDA, bytes(scan))
    broken = join(parts)
    assert jpegdc.dc_scans_only(broken) is None
    assert _outcome(broken, whole=False) == _outcome(broken, whole=True)
    assert _outcome(broken, whole=True)[0] == "error"


@pytest.mark.parametrize("cut", [b"\xff\xd8\xff\xd9", b"\xff\xd8junk"])
def test_a_cut_libjpeg_cannot_read_falls_back_to_the_whole_file(
    cut: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg(noisy((640, 480)), progressive=True)
    whole = _decode_whole(data, min_side=60)
    monkeypatch.setattr(jpegdc, "dc_scans_only", lambda d: cut)
    fast = decode.decode(data, gray=True, min_side=60)
    assert np.array_equal(np.asarray(fast.image), np.asarray(whole.image))
