"""Every supported mode and format decodes to the picture a viewer shows: one generated fixture
each, hashed through `fingerprint_file` and compared with the hash of the expected picture.
Also EXIF orientation, alpha flattening, and camera RAW (a synthetic DNG written here)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import Library, photo
from PIL import Image, ImageDraw, features

from dedupe import decode, raw
from dedupe.cache import HashCache
from dedupe.groups import build_groups
from dedupe.hashing import ImageHash
from dedupe.models import KeepRules, Settings
from dedupe.scan import RAW_HINT, Failed, Hashed, fingerprint_bytes, fingerprint_file, scan

# Fixed settings, not the defaults: these tests check decoding, and their margins ("far from the
# second frame") are stated in bits of a 64-bit pHash at a tight radius.
SETTINGS = Settings("phash", 8, 0.1)
SIZE = (320, 240)
FIRST = photo(11, SIZE)
SECOND = photo(12, SIZE)
# A circle: the opaque part of the transparent fixtures.
MASK = Image.new("L", SIZE, 0)
ImageDraw.Draw(MASK).ellipse((30, 20, 290, 220), fill=255)


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def expected_hash(image: Image.Image) -> ImageHash:
    """The hash of what a viewer shows: the picture, flattened onto white, as a lossless PNG."""
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return fingerprint_bytes(encode(image.convert("RGB"), "PNG"), SETTINGS).hash


def hashed(path: Path) -> Hashed:
    outcome = fingerprint_file(str(path), SETTINGS)
    assert isinstance(outcome, Hashed), f"{path.name}: {outcome}"
    return outcome


def with_alpha(image: Image.Image, mode: str) -> Image.Image:
    out = image.convert(mode)
    out.putalpha(MASK)
    return out


def palette_with_transparency() -> tuple[bytes, Image.Image]:
    """A P-mode PNG whose index 255 is transparent, used outside the circle."""
    quantized = FIRST.quantize(255)
    pixels = np.asarray(quantized).copy()
    pixels[np.asarray(MASK) == 0] = 255
    image = Image.fromarray(pixels, "P")
    palette = quantized.getpalette() or []
    image.putpalette(palette[: 255 * 3] + [0, 0, 0])
    seen = quantized.convert("RGBA")
    seen.putalpha(MASK)
    return encode(image, "PNG", transparency=255), seen


def png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG (grey or RGB) written by hand: Pillow cannot write 16-bit RGB."""
    height, width = array.shape[:2]
    colour = 2 if array.ndim == 3 else 0
    rows = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- a minimal TIFF writer

BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 1, 2, 3, 4, 5, 10
_TYPE_SIZE = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, SRATIONAL: 8}
Tags = dict[int, tuple[int, object]]


def _tag_bytes(kind: int, values: object) -> tuple[bytes, int]:
    if kind == ASCII:
        assert isinstance(values, str)
        data = values.encode() + b"\x00"
        return data, len(data)
    assert isinstance(values, list)
    if kind == BYTE:
        return bytes(values), len(values)
    if kind in (SHORT, LONG):
        return struct.pack(f"<{len(values)}{'H' if kind == SHORT else 'I'}", *values), len(values)
    pair = "<II" if kind == RATIONAL else "<ii"
    return b"".join(struct.pack(pair, *v) for v in values), len(values)


def write_tiff(
    ifds: list[tuple[Tags, bytes]], sub_ifds: dict[int, list[int]] | None = None
) -> bytes:
    """A little-endian TIFF: the IFDs first, then one strip per IFD (as cameras write them,
    so a truncated copy loses pixel data, not its structure). `sub_ifds` maps an IFD index to
    the IFDs it points at through the SubIFDs tag (330); the others form the IFD chain."""
    sub_ifds = sub_ifds or {}
    children = {k for ks in sub_ifds.values() for k in ks}

    def tags_of(i: int, ifd_at: list[int], strip_at: list[int]) -> Tags:
        tags = dict(ifds[i][0])
        tags[273] = (LONG, [strip_at[i] if strip_at else 0])
        tags[279] = (LONG, [len(ifds[i][1])])
        if i in sub_ifds:
            tags[330] = (LONG, [ifd_at[k] if ifd_at else 0 for k in sub_ifds[i]])
        return tags

    def ifd_size(tags: Tags) -> int:
        extra = 0
        for kind, values in tags.values():
            data, _ = _tag_bytes(kind, values)
            if len(data) > 4:
                extra += len(data) + len(data) % 2
        return 2 + 12 * len(tags) + 4 + extra

    ifd_at, position = [], 8
    for i in range(len(ifds)):
        ifd_at.append(position)
        position += ifd_size(tags_of(i, [], []))
    strip_at = []
    for _, strip in ifds:
        strip_at.append(position)
        position += len(strip) + len(strip) % 2
    chain = [i for i in range(len(ifds)) if i not in children]
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_at[chain[0]]))
    for i in range(len(ifds)):
        tags = tags_of(i, ifd_at, strip_at)
        data_at = ifd_at[i] + 2 + 12 * len(tags) + 4
        head, tail = bytearray(struct.pack("<H", len(tags))), bytearray()
        for tag in sorted(tags):
            kind, values = tags[tag]
            data, count = _tag_bytes(kind, values)
            if len(data) <= 4:
                head += struct.pack("<HHI", tag, kind, count) + data.ljust(4, b"\x00")
            else:
                head += struct.pack("<HHII", tag, kind, count, data_at + len(tail))
                tail += data + b"\x00" * (len(data) % 2)
        following = chain.index(i) + 1 if i in chain else len(chain)
        head += struct.pack("<I", ifd_at[chain[following]] if following < len(chain) else 0)
        out += head + tail
    for _, strip in ifds:
        out += strip + b"\x00" * (len(strip) % 2)
    return bytes(out)


def tiff16_rgb(image: Image.Image) -> bytes:
    array = np.asarray(image).astype("<u2") * 257
    height, width = array.shape[:2]
    tags: Tags = {
        256: (LONG, [width]),
        257: (LONG, [height]),
        258: (SHORT, [16, 16, 16]),
        259: (SHORT, [1]),
        262: (SHORT, [2]),
        277: (SHORT, [3]),
        278: (LONG, [height]),
        284: (SHORT, [1]),
    }
    return write_tiff([(tags, array.tobytes())])


# ---------------------------------------------------------------- one fixture per mode/format

Case = tuple[str, Callable[[], tuple[bytes, Image.Image]], str]


Maker = Callable[[], tuple[bytes, Image.Image]]


def _saved(
    image: Image.Image, fmt: str, seen: Image.Image | None = None, **params: object
) -> Maker:
    return lambda: (encode(image, fmt, **params), image if seen is None else seen)


def _animated(fmt: str, **params: object) -> Maker:
    return lambda: (encode(FIRST, fmt, save_all=True, append_images=[SECOND], **params), FIRST)


GREY16 = np.asarray(FIRST.convert("L")).astype(np.uint16) * 257
FLOAT = np.asarray(FIRST.convert("L")).astype(np.float32)

CASES: list[Case] = [
    ("mode-1.png", _saved(FIRST.convert("1"), "PNG"), "PNG"),
    ("mode-L.png", _saved(FIRST.convert("L"), "PNG"), "PNG"),
    ("mode-LA.png", _saved(with_alpha(FIRST.convert("L"), "LA"), "PNG"), "PNG"),
    ("mode-P-transparency.png", palette_with_transparency, "PNG"),
    ("mode-P.gif", _saved(FIRST.quantize(256), "GIF"), "GIF"),
    ("mode-RGB.png", _saved(FIRST, "PNG"), "PNG"),
    ("mode-RGBA.png", _saved(with_alpha(FIRST, "RGBA"), "PNG"), "PNG"),
    ("cmyk.jpg", _saved(FIRST.convert("CMYK"), "JPEG", FIRST, quality=95), "JPEG"),
    ("grey16.png", lambda: (encode(Image.fromarray(GREY16), "PNG"), FIRST.convert("L")), "PNG"),
    ("grey16.tif", lambda: (encode(Image.fromarray(GREY16), "TIFF"), FIRST.convert("L")), "TIFF"),
    ("rgb16.png", lambda: (png16(np.asarray(FIRST).astype(np.uint16) * 257), FIRST), "PNG"),
    ("rgb16.tif", lambda: (tiff16_rgb(FIRST), FIRST), "TIFF"),
    (
        "float01.tif",
        lambda: (encode(Image.fromarray(FLOAT / 255), "TIFF"), FIRST.convert("L")),
        "TIFF",
    ),
    ("float255.tif", lambda: (encode(Image.fromarray(FLOAT), "TIFF"), FIRST.convert("L")), "TIFF"),
    ("animated.gif", _animated("GIF"), "GIF"),
    ("animated.webp", _animated("WEBP", lossless=True), "WEBP"),
    ("animated.png", _animated("PNG"), "PNG"),
    ("pages.tif", _animated("TIFF"), "TIFF"),
    ("stereo.mpo", _animated("MPO", quality=95), "MPO"),
    ("photo.heic", _saved(FIRST, "HEIF", quality=90), "HEIF"),
    ("photo.avif", _saved(FIRST, "AVIF", quality=90), "AVIF"),
    ("lossy.webp", _saved(FIRST, "WEBP", quality=90), "WEBP"),
    ("photo.bmp", _saved(FIRST, "BMP"), "BMP"),
    ("photo.ppm", _saved(FIRST, "PPM"), "PNM"),
    ("photo.pgm", _saved(FIRST.convert("L"), "PPM"), "PNM"),
    ("photo.pbm", _saved(FIRST.convert("1"), "PPM"), "PNM"),
    ("photo.jp2", _saved(FIRST, "JPEG2000"), "JPEG2000"),
    ("photo.jpg", _saved(FIRST, "JPEG", quality=90), "JPEG"),
    ("progressive.jpg", _saved(FIRST, "JPEG", quality=90, progressive=True), "JPEG"),
    ("icon.ico", _saved(FIRST.resize((256, 192)), "ICO", sizes=[(256, 192)]), "ICO"),
]


def _needs(name: str) -> str | None:
    """The Pillow feature a fixture needs to be written (None: always available)."""
    return {".avif": "avif", ".jp2": "jpg_2000", ".webp": "webp"}.get(Path(name).suffix)


@pytest.mark.parametrize(("name", "make", "fmt"), CASES, ids=[c[0] for c in CASES])
def test_each_mode_and_format_is_hashed_as_the_picture_a_viewer_shows(
    library: Library, name: str, make: Callable[[], tuple[bytes, Image.Image]], fmt: str
) -> None:
    feature = _needs(name)
    if feature and not features.check(feature):
        pytest.skip(f"this Pillow cannot write {feature} (reading it is then skipped too)")
    data, seen = make()
    outcome = hashed(library.write(name, data))
    fingerprint = outcome.fingerprint
    assert fingerprint.format == fmt
    assert (fingerprint.width, fingerprint.height) == seen.size
    assert fingerprint.hash - expected_hash(seen) <= SETTINGS.max_distance
    # Far from the second frame/page: the first one really was the one decoded.
    assert fingerprint.hash - expected_hash(SECOND) > 4 * SETTINGS.max_distance


def test_a_format_this_pillow_cannot_read_is_skipped_with_its_reason(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = library.save("photo.avif", FIRST) if features.check("avif") else None
    if path is None:
        path = library.write("photo.avif", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1")
    monkeypatch.setitem(decode._PILLOW_FORMATS, "AVIF", ("NO-SUCH-PLUGIN",))
    outcome = fingerprint_file(str(path), SETTINGS)
    assert outcome == Failed(
        "AVIF image, but this installation of Pillow cannot read AVIF", skipped=True
    )


# ---------------------------------------------------------------- EXIF orientation

# The transform that stores an upright picture so that EXIF orientation N shows it upright.
STORE = {
    1: (),
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_90,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_270,),
}


def stored_for(orientation: int, image: Image.Image = FIRST) -> Image.Image:
    for method in STORE[orientation]:
        image = image.transpose(method)
    return image


def exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_exif_orientation_is_applied_before_hashing(
    library: Library, orientation: int, fmt: str
) -> None:
    params: dict[str, object] = {"exif": exif_with(orientation)}
    if fmt == "JPEG":
        params["quality"] = 95
    if fmt == "WEBP":
        params["lossless"] = True
    path = library.save(
        f"o{orientation}.{fmt.lower()}", stored_for(orientation), format=fmt, **params
    )
    fingerprint = hashed(path).fingerprint
    assert (fingerprint.width, fingerprint.height) == FIRST.size
    assert fingerprint.hash - expected_hash(FIRST) <= 2


def test_heic_orientation_is_applied_once(library: Library) -> None:
    # HEIF stores the orientation as a transform of the image (irot/imir), which libheif
    # applies on reading; the EXIF orientation is informational and must not rotate it again.
    # (pillow-heif writes the transform when given the EXIF as bytes.)
    stored = stored_for(6)
    path = library.save("o6.heic", stored, format="HEIF", exif=exif_with(6).tobytes(), quality=90)
    assert b"irot" in path.read_bytes()
    fingerprint = hashed(path).fingerprint
    assert (fingerprint.width, fingerprint.height) == FIRST.size
    assert fingerprint.hash - expected_hash(FIRST) <= SETTINGS.max_distance


@pytest.mark.parametrize("bogus", [0, 9, 200, 65535])
def test_a_bogus_orientation_is_ignored_not_fatal(library: Library, bogus: int) -> None:
    path = library.save(f"bogus{bogus}.jpg", FIRST, quality=95, exif=exif_with(bogus))
    fingerprint = hashed(path).fingerprint
    assert (fingerprint.width, fingerprint.height) == FIRST.size
    assert fingerprint.hash - expected_hash(FIRST) <= 2


def test_unreadable_exif_is_ignored_not_fatal(library: Library) -> None:
    # An APP1 "Exif" segment whose TIFF structure is garbage.
    data = encode(FIRST, "JPEG", quality=95)
    app1 = b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(range(40))
    broken = data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
    fingerprint = hashed(library.write("bad-exif.jpg", broken)).fingerprint
    assert fingerprint.hash - expected_hash(FIRST) <= 2
    assert fingerprint.taken_at is None


# ---------------------------------------------------------------- alpha


def scan_groups(root: Path) -> tuple[list[list[str]], list[str]]:
    """Scan root; return the groups (as sorted file names) and the names of hashed files."""
    result = scan((str(root),), SETTINGS, HashCache.memory(SETTINGS))
    groups = build_groups(result.records, SETTINGS, KeepRules())
    names = [sorted(Path(m.record.path).name for m in g.members) for g in groups]
    return names, sorted(Path(r.path).name for r in result.records)


def test_transparent_png_and_its_flattened_jpeg_are_one_group(library: Library) -> None:
    transparent = with_alpha(FIRST, "RGBA")
    library.save("logo.png", transparent)
    flattened = Image.alpha_composite(Image.new("RGBA", SIZE, "white"), transparent)
    library.save("logo-flattened.jpg", flattened.convert("RGB"), quality=90)
    library.save("other.jpg", SECOND, quality=90)
    groups, names = scan_groups(library.root)
    assert names == ["logo-flattened.jpg", "logo.png", "other.jpg"]
    assert groups == [["logo-flattened.jpg", "logo.png"]]


def test_transparent_images_with_one_silhouette_stay_apart(library: Library) -> None:
    # Same alpha channel, different pictures inside it: decoders that hash the alpha channel,
    # or drop it and hash whatever sits under transparent pixels, get this wrong.
    first, second = with_alpha(FIRST, "RGBA"), with_alpha(SECOND, "RGBA")
    hidden = np.asarray(second).copy()
    hidden[np.asarray(MASK) == 0] = (0, 0, 0, 0)
    library.save("a.png", first)
    library.save("b.png", Image.fromarray(hidden, "RGBA"))
    a = hashed(library.root / "a.png").fingerprint
    b = hashed(library.root / "b.png").fingerprint
    assert a.hash != b.hash and a.hash - b.hash > SETTINGS.max_distance
    groups, _ = scan_groups(library.root)
    assert groups == []


def test_only_visible_pixels_count(library: Library) -> None:
    # What lies under fully transparent pixels is invisible and must not change the hash.
    rgba = np.asarray(with_alpha(FIRST, "RGBA")).copy()
    noise = np.random.default_rng(5).integers(0, 256, rgba.shape[:2] + (3,), dtype=np.uint8)
    rgba[..., :3][np.asarray(MASK) == 0] = noise[np.asarray(MASK) == 0]
    clean = hashed(library.save("clean.png", with_alpha(FIRST, "RGBA"))).fingerprint
    noisy = hashed(library.save("noisy.png", Image.fromarray(rgba, "RGBA"))).fingerprint
    assert clean.hash == noisy.hash
    assert decode.BACKGROUND == (255, 255, 255)


# ---------------------------------------------------------------- RAW

# XYZ -> linear sRGB, so that the synthetic camera's native colours are sRGB primaries.
_XYZ_TO_SRGB = [32406, -15372, -4986, -9689, 18758, 415, 557, -2040, 10570]


def dng(picture: Image.Image, *, preview: Image.Image | None = None, orientation: int = 1) -> bytes:
    """A minimal but valid DNG: an uncompressed 16-bit RGGB mosaic of `picture` (linear
    light), optionally with an embedded JPEG preview in IFD0 and the raw data in a SubIFD."""
    srgb = np.asarray(picture.convert("RGB")).astype(np.float64) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    values = np.round(linear * 65535).astype(np.uint16)
    height, width = values.shape[:2]
    mosaic = np.empty((height, width), np.uint16)
    mosaic[0::2, 0::2] = values[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = values[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = values[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = values[1::2, 1::2, 2]
    raw_tags: Tags = {
        254: (LONG, [0]),
        256: (LONG, [width]),
        257: (LONG, [height]),
        258: (SHORT, [16]),
        259: (SHORT, [1]),
        262: (SHORT, [32803]),  # colour filter array
        277: (SHORT, [1]),
        278: (LONG, [height]),
        284: (SHORT, [1]),
        33421: (SHORT, [2, 2]),
        33422: (BYTE, [0, 1, 1, 2]),  # RGGB
        50717: (LONG, [65535]),
    }
    camera: Tags = {
        271: (ASCII, "Dedupe"),
        272: (ASCII, "Synthetic"),
        274: (SHORT, [orientation]),
        306: (ASCII, "2021:06:05 04:03:02"),
        50706: (BYTE, [1, 4, 0, 0]),
        50707: (BYTE, [1, 1, 0, 0]),
        50708: (ASCII, "Dedupe Synthetic"),
        50721: (SRATIONAL, [(v, 10000) for v in _XYZ_TO_SRGB]),
        50728: (RATIONAL, [(1, 1), (1, 1), (1, 1)]),
        50778: (SHORT, [21]),  # D65
    }
    data = mosaic.astype("<u2").tobytes()
    if preview is None:
        return write_tiff([({**raw_tags, **camera}, data)])
    jpeg = encode(preview, "JPEG", quality=92)
    preview_tags: Tags = {
        254: (LONG, [1]),
        256: (LONG, [preview.width]),
        257: (LONG, [preview.height]),
        258: (SHORT, [8, 8, 8]),
        259: (SHORT, [7]),
        262: (SHORT, [6]),
        277: (SHORT, [3]),
        278: (LONG, [preview.height]),
        284: (SHORT, [1]),
    }
    return write_tiff([({**preview_tags, **camera}, jpeg), (raw_tags, data)], {0: [1]})


def test_raw_without_the_extra_is_skipped_with_the_install_hint(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw, "rawpy", None)  # as if `dedupe[raw]` were not installed
    library.write("IMG_0001.dng", dng(FIRST))
    library.write("IMG_0002.cr2", write_tiff([({256: (LONG, [2]), 257: (LONG, [2])}, b"\0" * 4)]))
    library.write("IMG_0003.orf", b"IIRO\x08\x00\x00\x00" + bytes(100))
    for name in ("IMG_0001.dng", "IMG_0002.cr2", "IMG_0003.orf"):
        assert fingerprint_file(str(library.root / name), SETTINGS) == Failed(
            RAW_HINT, skipped=True
        )
    assert "pip install 'dedupe[raw]'" in RAW_HINT
    result = scan((str(library.root),), SETTINGS, HashCache.memory(SETTINGS))
    assert [Path(p.path).name for p in result.skipped] == [
        "IMG_0001.dng",
        "IMG_0002.cr2",
        "IMG_0003.orf",
    ]
    assert result.errors == () and result.records == ()


needs_rawpy = pytest.mark.skipif(
    not raw.available(), reason="the raw extra (rawpy) is not installed"
)


@needs_rawpy
def test_raw_uses_its_embedded_preview_when_large_enough(library: Library) -> None:
    # The preview shows a different picture from the raw data, to see which one was used.
    big = photo(13, (640, 480))
    path = library.write("preview.dng", dng(photo(14, (640, 480)), preview=big))
    fingerprint = hashed(path).fingerprint
    assert fingerprint.format == "DNG"
    assert (fingerprint.width, fingerprint.height) == (640, 480)
    assert fingerprint.hash - expected_hash(big) <= 2
    assert fingerprint.taken_at == "2021-06-05T04:03:02"


@needs_rawpy
@pytest.mark.parametrize("preview", [None, (160, 120)], ids=["no-preview", "small-preview"])
def test_raw_is_developed_when_the_preview_is_missing_or_small(
    library: Library, preview: tuple[int, int] | None
) -> None:
    picture = photo(14, (640, 480))
    small = photo(13, preview) if preview else None
    path = library.write("developed.nef", dng(picture, preview=small))
    fingerprint = hashed(path).fingerprint
    assert fingerprint.format == "NEF"
    assert (fingerprint.width, fingerprint.height) == (640, 480)
    assert fingerprint.hash - expected_hash(picture) <= SETTINGS.max_distance


@needs_rawpy
@pytest.mark.parametrize("with_preview", [False, True], ids=["developed", "preview"])
def test_raw_orientation_is_applied(library: Library, with_preview: bool) -> None:
    upright = photo(15, (480, 640))
    stored = stored_for(6, upright)
    preview = stored if with_preview else None
    path = library.write("rotated.dng", dng(stored, preview=preview, orientation=6))
    fingerprint = hashed(path).fingerprint
    assert (fingerprint.width, fingerprint.height) == (480, 640)
    assert fingerprint.hash - expected_hash(upright) <= SETTINGS.max_distance


@needs_rawpy
def test_raw_and_its_jpeg_twin_are_one_group(library: Library) -> None:
    picture = photo(16, (640, 480))
    library.write("IMG_0001.DNG", dng(picture, preview=picture))
    library.save("IMG_0001.JPG", picture, quality=90)
    groups, _ = scan_groups(library.root)
    assert groups == [["IMG_0001.DNG", "IMG_0001.JPG"]]


@needs_rawpy
def test_broken_raw_files_are_errors_in_plain_words(library: Library) -> None:
    whole = dng(photo(14, (640, 480)))
    cases = {
        "truncated.dng": whole[: len(whole) // 3],
        "garbage.nef": bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)),
    }
    for name, data in cases.items():
        outcome = fingerprint_file(str(library.write(name, data)), SETTINGS)
        assert isinstance(outcome, Failed) and not outcome.skipped, (name, outcome)
        assert "RAW" in outcome.reason
        assert "Error" not in outcome.reason and "b'" not in outcome.reason


def test_a_jpeg_named_like_a_raw_file_is_read_by_its_content(library: Library) -> None:
    path = library.save("not-really.nef", FIRST, format="JPEG", quality=95)
    fingerprint = hashed(path).fingerprint
    assert fingerprint.format == "JPEG"
    assert fingerprint.hash - expected_hash(FIRST) <= 2


def _gray_cases() -> list[tuple[str, Image.Image, str, dict[str, object]]]:
    """Fresh images for each case: the module's shared pictures keep Pillow's settings from
    earlier saves (Image.encoderinfo), which a second encoding would pick up."""
    rgb = photo(21, SIZE)
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(SIZE))
    return [
        ("jpeg", rgb, "JPEG", {"quality": 90}),
        ("jpeg-444", rgb, "JPEG", {"quality": 90, "subsampling": 0}),
        ("jpeg-progressive", rgb, "JPEG", {"quality": 90, "progressive": True}),
        ("jpeg-gray", rgb.convert("L"), "JPEG", {}),
        ("jpeg-cmyk", rgb.convert("CMYK"), "JPEG", {}),
        ("png", rgb, "PNG", {}),
        ("png-alpha", rgba, "PNG", {}),
        ("png-gray", rgb.convert("L"), "PNG", {}),
        ("png-palette", rgb.convert("P"), "PNG", {}),
        ("gif", rgb, "GIF", {}),
        ("tiff", rgb, "TIFF", {}),
        ("bmp", rgb, "BMP", {}),
    ]


@pytest.mark.parametrize("case", range(len(_gray_cases())), ids=[c[0] for c in _gray_cases()])
def test_gray_decoding_is_the_gray_of_the_colour_decoding(case: int) -> None:
    """The scan decodes straight to gray: exactly the colour decoding made gray, except that a
    colour JPEG gives libjpeg's own luma, which differs from it by rounding only."""
    _, image, fmt, params = _gray_cases()[case]
    data = encode(image, fmt, **params)
    colour = decode.decode(data)
    gray = decode.decode(data, gray=True)
    assert gray.image.mode == "L"
    assert (gray.width, gray.height, gray.format, gray.taken_at) == (
        colour.width,
        colour.height,
        colour.format,
        colour.taken_at,
    )
    expected = np.asarray(colour.image.convert("L"), dtype=np.int16)
    found = np.asarray(gray.image, dtype=np.int16)
    assert found.shape == expected.shape
    assert int(np.abs(found - expected).max()) <= (2 if fmt == "JPEG" else 0)


def test_a_large_jpeg_is_drafted_straight_to_gray() -> None:
    data = encode(photo(3, (600, 450)).resize((2400, 1800)), "JPEG")
    gray = decode.decode(data, gray=True)
    assert gray.image.mode == "L" and gray.image.size == (600, 450)  # libjpeg at 1/4 scale
    assert (gray.width, gray.height) == (2400, 1800)
    colour = np.asarray(decode.decode(data).image.convert("L"), dtype=np.int16)
    assert np.abs(np.asarray(gray.image, dtype=np.int16) - colour).max() <= 2


def test_a_strip_of_extreme_aspect_is_reduced_on_its_long_side_too() -> None:
    """A 120 x 40,000 PNG (short side under MIN_SIDE, so no reduction for it) is decoded with
    its long side at most MAX_LONG_SIDE: hashed at full length it took seconds per resize (a
    fuzzed TIFF header claiming 160 x 262,264 took 12 s of CPU). A strip within the bound, and
    a picture of usual shape, are decoded as they were."""
    ramp = np.tile(np.linspace(0, 255, 40_000, dtype=np.uint8)[:, None], (1, 120))
    strip = Image.fromarray(ramp, "L")
    long = decode.decode(_png(strip), gray=True)
    assert (long.width, long.height) == (120, 40_000)  # the file's size, as it says
    assert max(long.image.size) <= decode.MAX_LONG_SIDE
    assert long.image.size == (24, 8000)  # reduced by 5 on both sides, its shape kept
    within = decode.decode(_png(strip.crop((0, 0, 120, 8000))), gray=True)
    assert within.image.size == (120, 8000)
    usual = decode.decode(_png(strip.resize((600, 4000))), gray=True)
    assert usual.image.size == (300, 2000)  # by the short side alone, as before


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
