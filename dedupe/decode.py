"""Open any supported image fast, the way a photo viewer shows it: EXIF orientation applied,
alpha flattened onto white, first frame only, decoded at reduced size where the format allows.

The format is decided by the file's first bytes (`sniff`), never by its name, and Pillow is
only allowed to open it as that format. Orientation: the EXIF tag, read after loading (Pillow
already applies a TIFF's own tag while loading); for HEIC/HEIF the rotation stored in the
container, which libheif applies, is authoritative and the EXIF copy is ignored, as the HEIF
specification requires. Camera RAW files go through dedupe/raw.py (the optional rawpy extra).

Every failure is a `DecodeError` whose message is a reason a person understands;
`UnsupportedError` marks files we deliberately do not read (a RAW file without the raw extra,
an AVIF file when Pillow lacks AVIF support): they are listed as skipped, not as damaged.

Decompression bombs: Pillow's pixel limit (`Image.MAX_IMAGE_PIXELS`; refused above twice it) is
applied to the pixels actually decoded. For every format but baseline JPEG that is the full
image, checked by Pillow before anything is allocated. A baseline JPEG is decoded by libjpeg at
1/2, 1/4 or 1/8 scale ("draft"), streaming, so the check applies to the reduced size instead:
a 30000 x 10000 panorama is read at 3750 x 1250 rather than refused (a file far too small for
the pixels it claims is refused as truncated first). Progressive JPEGs keep the full-size
check, because libjpeg buffers a progressive image's coefficients at full size. Worst case,
one image never takes more memory than Pillow's own limit allows for any format.

A progressive JPEG decoded to gray at 1/8 scale (the scan's case for photos of 2048 px and up
on the short side) is read from its DC scans alone, which gives the same pixels at a fraction
of the cost (dedupe/jpegdc.py); whenever that path declines or fails, the whole file is decoded.

Memory: before any pixel is decoded, the memory the decode will take is estimated from the
header (`decode_cost`): a progressive JPEG's coefficients at full size (libjpeg buffers them
whatever the scale, the DC-scan path too), a HEIC's RGB at full size (libheif cannot decode at
a reduced size), other formats their pixels at full size. An image estimated above
MAX_DECODE_BYTES is refused; one above BIG_DECODE_BYTES waits for its turn (`take_turns`: the
scan's worker processes share one lock, so only one such image is decoded at a time across the
pool). A HEIC is reduced band by band as it leaves libheif, so its full-size RGB exists once
(libheif's), not twice.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

from dedupe import jpegdc
from dedupe.errors import DECODE_ERRORS as DECODE_ERRORS
from dedupe.errors import DecodeError as DecodeError
from dedupe.errors import UnsupportedError as UnsupportedError

if TYPE_CHECKING:
    from dedupe import raw as raw_module


@functools.cache
def _heif_support() -> bool:
    """Register pillow-heif's opener with Pillow, once, when the first HEIF image is decoded.

    Importing it (libheif) costs about 0.1 s of CPU, which a process that decodes no HEIF image,
    e.g. the command line during a rescan, need not pay; the scan's worker processes get it
    preloaded (dedupe/workers.py). pillow-heif is a declared dependency; a broken install still
    leaves other formats working.
    """
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - exercised only on broken installs
        return False
    pillow_heif.register_heif_opener()
    return True


# Bump when a change here can change a hash or a verdict: the cache namespaces entries by it.
# 4: the scan decodes colour JPEGs straight to gray (libjpeg's luma, not RGB made gray).
# 5: the EXIF capture time to the millisecond and the camera (Decoded.capture), and the
# chroma planes (Decoded.chroma).
# 6: whether the file is an animation (Decoded.animated).
DECODER_VERSION = 6

# Images are decoded so that their short side is at least this many pixels before hashing:
# enough for 16x16 pHash to agree with full-resolution decoding (see NOTES-performance.md).
MIN_SIDE = 256

# ... and reduced further when their long side would stay above this: a strip of extreme
# aspect (a 160 x 262,144 TIFF, a long web capture) would otherwise be hashed, resized a dozen
# times, at full length (seconds each). No picture of a usual shape is reduced by it (at
# MIN_SIDE on the short side, only a strip over 16 times as long as wide can reach it).
MAX_LONG_SIDE = 8192

# A JPEG beyond Pillow's pixel limit with fewer bytes than pixels / this is refused as
# truncated (see _check_jpeg_bytes): a blank JPEG needs about 1 byte per 256 pixels.
MIN_JPEG_PIXELS_PER_BYTE = 1024

# An image whose decode is estimated (decode_cost) to take more memory than this is decoded
# alone: one such image at a time across the scan's worker processes (see take_turns).
BIG_DECODE_BYTES = 256 * 1024**2
# ... and one estimated above this is refused (Pillow's pixel limit comes first for most).
MAX_DECODE_BYTES = 2 * 1024**3
# What decoding a HEIC takes per pixel at its peak: libheif's YCbCr planes and its RGB output
# (measured with libheif 1.23: 551 MB for 121 MP), plus a band of Pillow's copy.
HEIF_BYTES_PER_PIXEL = 4.6

# Transparent pixels are composited onto this colour, so a transparent PNG and its flattened
# copy match. White, as most viewers and "flatten image" commands use.
BACKGROUND = (255, 255, 255)

# fmt: off
RAW_EXTENSIONS = frozenset({
    ".3fr", ".ari", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq", ".k25",
    ".kdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2",
    ".rwl", ".sr2", ".srf", ".srw", ".x3f",
})
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".bmp", ".dib", ".tif", ".tiff",
    ".webp", ".heic", ".heif", ".hif", ".avif", ".ppm", ".pgm", ".pbm", ".pnm", ".mpo", ".jp2",
    ".j2k", ".jpf", ".jpx", ".ico",
}) | RAW_EXTENSIONS
# fmt: on

# Image formats we know but do not read: listed as skipped (with this name) instead of being
# passed over silently, so nobody wonders why their .psd was never compared.
UNSUPPORTED_EXTENSIONS = {
    ".psd": "Photoshop document",
    ".psb": "Photoshop document",
    ".xcf": "GIMP document",
    ".kra": "Krita document",
    ".svg": "SVG drawing",
    ".svgz": "SVG drawing",
    ".jxl": "JPEG XL image",
    ".exr": "OpenEXR image",
    ".hdr": "Radiance HDR image",
    ".dds": "DirectDraw texture",
    ".tga": "Targa image",
}

# How many leading bytes `sniff` needs (an ISO media `ftyp` box lists its brands in them).
SNIFF_BYTES = 64

# Formats whose signature is only a few bytes: a file that merely starts like one is only
# called broken when its name says it is an image.
WEAK_KINDS = frozenset({"BMP", "PNM", "ICO"})

# The Pillow plugin allowed to open each sniffed kind.
_PILLOW_FORMATS = {
    "PNG": ("PNG",),
    "GIF": ("GIF",),
    "BMP": ("BMP",),
    "TIFF": ("TIFF",),
    "WEBP": ("WEBP",),
    "AVIF": ("AVIF",),
    "HEIF": ("HEIF",),
    "PNM": ("PPM",),
    "JPEG2000": ("JPEG2000",),
    "ICO": ("ICO",),
}

_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded image, reduced in size, as RGB (L when decoded with `gray`). width/height are
    the full, oriented size."""

    image: Image.Image
    width: int
    height: int
    format: str
    taken_at: str | None
    # When and by what the picture was captured (EXIF), for telling two shots from two copies
    # of one shot (see verify.py); None / "" when the file does not say.
    capture: Capture | None = None
    # With `gray`: the blue and red chroma planes (mode L, the image's size) of a colour
    # image, for the check's colour comparison; None for gray images and progressive JPEGs.
    chroma: tuple[Image.Image, Image.Image] | None = None
    # An animation of more than one frame (GIF, WebP, APNG): the hashes are of its first
    # frame, and a still picture is never a copy of it (see verify.py).
    animated: bool = False


# The formats whose extra frames are an animation (an MPO's second frame, a TIFF's pages or
# a HEIF's depth map are not).
ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})


@dataclass(frozen=True, slots=True)
class Capture:
    """EXIF capture facts: DateTimeOriginal with SubSecTimeOriginal as milliseconds since
    1970 (local time as the camera recorded it, read as UTC: only differences matter), whether
    the sub-seconds were recorded, and the camera (make, model and serial number when given)."""

    millis: int
    subseconds: bool
    camera: str


def sniff(head: bytes) -> str | None:
    """Name the image format from a file's first bytes, or None when it is not a known image.

    `RAW` covers the camera RAW formats with their own signature; most RAW formats (CR2, NEF,
    ARW, DNG, ...) are TIFF containers and sniff as `TIFF`.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"  # also the container of most RAW formats (CR2, NEF, ARW, DNG, ...)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return _sniff_iso_media(head)
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG2000"
    if (
        head.startswith(
            (b"FUJIFILMCCD-RAW", b"IIRO", b"IIRS", b"MMOR", b"IIU\x00", b"FOVb", b"\x00MRM")
        )
        or head[:14] == b"II\x1a\x00\x00\x00HEAPCCDR"
    ):
        return "RAW"  # Fujifilm RAF, Olympus ORF, Panasonic RW2, Sigma X3F, Minolta MRW, Canon CRW
    if head.startswith(b"BM") and len(head) >= 26:
        return "BMP"
    if len(head) >= 3 and head[0:1] == b"P" and head[1] in b"123456" and head[2] in b" \t\r\n#":
        return "PNM"
    if head[:4] == b"\x00\x00\x01\x00" and len(head) >= 6 and head[4:6] != b"\x00\x00":
        return "ICO"
    return None


def _sniff_iso_media(head: bytes) -> str | None:
    """HEIF, AVIF or Canon CR3 from an ISO media `ftyp` box; None for video (MP4, MOV, ...)."""
    major = head[8:12]
    size = int.from_bytes(head[0:4], "big")
    compatible = {head[k : k + 4] for k in range(16, min(size, len(head)) - 3, 4)}
    if major == b"crx ":
        return "RAW"  # Canon CR3
    if major in _AVIF_BRANDS:
        return "AVIF"
    if major in _HEIF_BRANDS - {b"mif1", b"msf1"}:
        return "HEIF"
    if major in (b"mif1", b"msf1"):
        # The generic image brands: the compatible brands say which codec is inside.
        if compatible & _AVIF_BRANDS and not compatible & (_HEIF_BRANDS - {b"mif1", b"msf1"}):
            return "AVIF"
        return "HEIF"
    if compatible & _AVIF_BRANDS:
        return "AVIF"
    if compatible & (_HEIF_BRANDS - {b"mif1", b"msf1"}):
        return "HEIF"
    return None  # MP4/MOV video and other ISO media


def decode(
    data: bytes, *, min_side: int = MIN_SIDE, raw: str | None = None, gray: bool = False
) -> Decoded:
    """Decode image bytes. Raises DecodeError with a reason a person understands.

    `raw` names a camera RAW format (e.g. "NEF", from the file name) to read the bytes as RAW
    (see dedupe/raw.py); otherwise the format comes from the content alone. `gray` returns the
    image in mode L (alpha flattened first, as for RGB): a colour JPEG is then decoded straight
    to its luma channel, which skips libjpeg's chroma upsampling and colour conversion.
    """
    decoded = _decode(data, min_side, raw, gray)
    if gray and decoded.image.mode != "L":
        _, blue, red = decoded.image.convert("YCbCr").split()  # the chroma, for the check
        return replace(decoded, image=decoded.image.convert("L"), chroma=(blue, red))
    return decoded


def _decode(data: bytes, min_side: int, raw: str | None, gray: bool) -> Decoded:
    if not data:
        raise DecodeError("empty file (0 bytes)")
    kind = sniff(data[:SNIFF_BYTES])
    if raw is not None or kind == "RAW":
        return _decode_raw(data, min_side, raw or "RAW", kind)
    if kind is None:
        raise DecodeError("not an image: the content matches no supported image format")
    if kind == "HEIF" and not _heif_support():
        raise UnsupportedError("HEIC/HEIF image, but pillow-heif is not installed")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = _open(data, kind)
            image.seek(0)
            fmt = _FORMAT_NAMES.get(image.format or kind, image.format or kind)
            taken_at = _taken_at_of(image)
            cost = decode_cost(image)
            if cost > MAX_DECODE_BYTES:
                _check_pixels(image.size, image.size)  # Pillow's limit, when it is why
                raise DecodeError(_too_much_memory(image.size, cost))
            capture = _capture_of(image)
            animated = image.format in ANIMATED_FORMATS and bool(
                getattr(image, "is_animated", False)
            )  # (Pillow returns to the frame it was on)
            with _turn(cost):
                pixels, width, height = _load(image, min_side, data, gray)
                keep = gray and pixels.mode == "L" and "transparency" not in pixels.info
                if gray and pixels.mode == "YCbCr":  # a colour JPEG decoded to its own planes
                    luma, blue, red = pixels.split()
                    chroma = (blue, red)
                    return Decoded(luma, width, height, fmt, taken_at, capture, chroma, animated)
                rgb = pixels if keep else _to_rgb(pixels)
    except DecodeError:
        raise
    except Image.DecompressionBombError as error:
        raise DecodeError(_too_many_pixels(_bomb_size(error, data, kind))) from None
    except UnidentifiedImageError:
        raise DecodeError(_damaged(kind, "its header is not valid")) from None
    except DECODE_ERRORS as error:
        raise DecodeError(_describe(error, kind)) from None
    except MemoryError:
        raise DecodeError(f"{_name(kind)} image too large for the memory available") from None
    return Decoded(rgb, width, height, fmt, taken_at, capture, animated=animated)


def _open(data: bytes, kind: str) -> Image.Image:
    """Open (lazily) as the sniffed format only, with the pixel limit described above."""
    if kind == "JPEG":
        # Built directly so Pillow's open-time check does not refuse a big baseline JPEG
        # that draft mode will decode at 1/8 size; `_load` checks the pixels decoded.
        return JpegImagePlugin.jpeg_factory(io.BytesIO(data))
    formats = _PILLOW_FORMATS[kind]
    Image.init()
    if not all(name in Image.OPEN for name in formats):
        raise UnsupportedError(
            f"{_name(kind)} image, but this installation of Pillow cannot read {_name(kind)}"
        )
    return Image.open(io.BytesIO(data), formats=list(formats))


def _load(
    image: Image.Image, min_side: int, data: bytes, gray: bool = False
) -> tuple[Image.Image, int, int]:
    """Decode pixels (reduced, oriented). Returns (pixels, full width, full height) oriented.

    `data` is the file `image` was opened from. With `gray`, a colour JPEG is decoded to its
    luma (libjpeg's own grayscale output); a progressive one at 1/8 scale from its DC scans
    alone when that gives the same pixels (dedupe/jpegdc.py).
    """
    width, height = image.size
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        full = (width, height)
        progressive = bool(image.info.get("progressive") or image.info.get("progression"))
        if progressive:
            # libjpeg buffers a progressive image's coefficients at full size, drafted or not.
            _check_pixels(full, full)
        else:
            _check_jpeg_bytes(full, len(data))
        target = None
        if min(full) > min_side:
            scale = min_side / min(full)
            target = (max(1, int(width * scale)), max(1, int(height * scale)))
        if gray:
            # A baseline colour JPEG is decoded to its YCbCr planes (the same luma as a gray
            # decode; the chroma for the check, at the reduced size little extra work); a
            # progressive one to luma alone, from its DC scans when it can (no chroma: the
            # check then compares it without colour). A CMYK JPEG stays CMYK (converted after).
            planes = not progressive and image.mode == "RGB"
            image.draft("YCbCr" if planes else "L", target)
            if progressive and image.decoderconfig[:1] == (8,) and image.mode == "L":
                image = _from_dc_scans(image, data, target)
        elif target is not None:
            image.draft("RGB", target)
        if not progressive:
            _check_pixels(image.size, full)  # the size draft mode will really decode
    banded = None
    if image.format == "HEIF" and image.mode == "RGB" and min(image.size) // min_side >= 2:
        banded = _heif_reduced(image, data, min(image.size) // min_side)
    if banded is not None:
        orientation = _orientation(image)  # as the file says (libheif applied its own)
        image = banded
    else:
        image.load()
        # Read after loading: Pillow applies a TIFF's orientation itself while loading (and
        # drops the tag; its size at open is already the oriented one), so what remains is
        # ours to apply.
        orientation = _orientation(image)
    image = _reduce(image, min_side)
    image = _orient_as(image, orientation)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return image, width, height


def _from_dc_scans(
    image: JpegImagePlugin.JpegImageFile, data: bytes, target: tuple[int, int] | None
) -> JpegImagePlugin.JpegImageFile:
    """`image` (a progressive JPEG drafted to gray at 1/8 scale) decoded from its DC scans
    alone, when dedupe/jpegdc.py can cut them out without changing a pixel; else `image` as it
    was (not loaded yet), so that anything unexpected here ends in decoding the whole file."""
    dc = jpegdc.dc_scans_only(data)
    if dc is None:
        return image
    try:
        # JpegImageFile itself, not jpeg_factory: the first image of an MPO file is wanted.
        fast = JpegImagePlugin.JpegImageFile(io.BytesIO(dc))
        fast.draft("L", target)
        if (fast.size, fast.mode, fast.decoderconfig) != (
            image.size,
            image.mode,
            image.decoderconfig,
        ):
            return image
        fast.load()
    except DECODE_ERRORS:
        return image
    return fast


# Bytes a pixel takes in Pillow, by mode (RGB is stored as 4 bytes); 16-bit and float images
# count the float64 copy _to_rgb makes of them.
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "I;16": 11, "I;16B": 11, "I;16L": 11}
_MODE_BYTES |= {"I;16N": 11, "I": 13, "F": 13}


def decode_cost(image: Image.Image) -> int:
    """About how many bytes decoding `image` (opened, not loaded) as the scan does will take at
    its peak, from its header alone. A baseline JPEG streams at its reduced size and takes
    next to nothing; 0 when the format is not one we can tell."""
    width, height = image.size
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        if not (image.info.get("progressive") or image.info.get("progression")):
            return 0
        # Each component's 8x8 blocks, padded to whole MCUs, as libjpeg allocates them.
        sampling = [(max(h, 1), max(v, 1)) for _, h, v, _ in image.layer] or [(1, 1)]
        hmax = max(h for h, _ in sampling)
        vmax = max(v for _, v in sampling)
        blocks = 0
        for h, v in sampling:
            across = _ceil(_ceil(width * h, hmax), 8)
            down = _ceil(_ceil(height * v, vmax), 8)
            blocks += _ceil(across, h) * h * _ceil(down, v) * v
        return blocks * 64 * 2  # libjpeg keeps each coefficient in 16 bits
    if image.format == "HEIF":
        return int(width * height * HEIF_BYTES_PER_PIXEL)
    return width * height * _MODE_BYTES.get(image.mode, 4)


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class _Lock(Protocol):
    def acquire(self) -> bool: ...
    def release(self) -> None: ...


_turns: _Lock | None = None
_big = BIG_DECODE_BYTES


def take_turns(lock: _Lock, big: int = BIG_DECODE_BYTES) -> None:
    """Share `lock` with the other processes decoding for the same scan: from now on, an image
    estimated above `big` bytes is decoded only while this process holds it (the initializer
    of the scan's worker processes; see scan.py)."""
    global _turns, _big
    _turns, _big = lock, big


@contextmanager
def _turn(cost: int) -> Iterator[None]:
    if _turns is None or cost <= _big:
        yield
        return
    _turns.acquire()
    try:
        yield
    finally:
        _turns.release()


def _heif_reduced(image: Image.Image, data: bytes, factor: int) -> Image.Image | None:
    """A HEIC's pixels reduced by `factor` (as _reduce would), made from libheif's RGB band
    by band: Pillow's own full-size copy (4 bytes a pixel) is never made. The same pixels as
    image.load() then reduce(factor); None (load as usual) when the primary image read here
    is not the one Pillow opened."""
    import pillow_heif

    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    picture = heif[image.tell()]  # the frame Pillow opened (decode seeks frame 0)
    if (picture.size, picture.mode) != (image.size, "RGB"):
        return None
    raw = picture.data
    stride = picture.stride
    width, height = picture.size
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    rows = max(1, (4 * 1024**2) // (width * 4) // factor) * factor  # bands of about 4 MB
    for top in range(0, height, rows):
        count = min(rows, height - top)
        band = Image.frombuffer(
            "RGB", (width, count), raw[top * stride : (top + count) * stride], "raw", "RGB", stride
        )
        out.paste(band.reduce(factor), (0, top // factor))
    return out


def _too_much_memory(size: tuple[int, int], cost: int) -> str:
    return (
        f"refused: decoding its {size[0]} x {size[1]} pixels would take about "
        f"{cost / 1024**2:,.0f} MB of memory, more than the limit of "
        f"{MAX_DECODE_BYTES / 1024**2:,.0f} MB for one image"
    )


def _check_pixels(decoded: tuple[int, int], full: tuple[int, int]) -> None:
    """Pillow's decompression bomb limit, applied to the pixels that will really be decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and decoded[0] * decoded[1] > 2 * limit:
        raise DecodeError(_too_many_pixels(full))


def _check_jpeg_bytes(size: tuple[int, int], nbytes: int) -> None:
    """Refuse a JPEG beyond Pillow's limit whose file is far too small for its pixel count.

    Even a blank JPEG needs about one byte per 256 pixels; a tiny file claiming billions of
    pixels is a truncated file or a bomb, and libjpeg would fill the missing rows with grey.
    Only applies above the limit, where the draft exception lets such files through.
    """
    limit = Image.MAX_IMAGE_PIXELS
    pixels = size[0] * size[1]
    if limit is not None and pixels > 2 * limit and nbytes < pixels // MIN_JPEG_PIXELS_PER_BYTE:
        raise DecodeError(
            _damaged(
                "JPEG", f"the file is far too small for the {size[0]} x {size[1]} pixels it claims"
            )
        )


def _too_many_pixels(size: tuple[int, int] | int | None) -> str:
    limit = Image.MAX_IMAGE_PIXELS
    if isinstance(size, tuple):
        what = f"{size[0]} x {size[1]} pixels"
    elif size is not None:
        what = f"{size:,} pixels"
    else:
        what = "the image"
    if limit is None:  # pragma: no cover - only when a caller disabled Pillow's limit
        return f"refused: {what} is too large to decode safely"
    return (
        f"refused: {what} is more than the safe limit of {2 * limit:,} pixels "
        "(a damaged file or a decompression bomb)"
    )


def _bomb_size(
    error: Image.DecompressionBombError, data: bytes, kind: str
) -> tuple[int, int] | int | None:
    """The size Pillow refused: width x height when the file header agrees, else a count."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    if found is None:
        return None
    pixels = int(found.group(1))
    size = _header_size(data, kind)
    return size if size is not None and size[0] * size[1] == pixels else pixels


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """The size a PNG, GIF or BMP header claims (None for other formats)."""
    try:
        if kind == "PNG":
            width, height = struct.unpack(">II", data[16:24])
        elif kind == "GIF":
            width, height = struct.unpack("<HH", data[6:10])
        elif kind == "BMP":
            width, height = struct.unpack("<ii", data[18:26])
        else:
            return None
    except struct.error:
        return None
    return abs(int(width)), abs(int(height))


def _taken_at_of(image: Image.Image) -> str | None:
    """EXIF DateTimeOriginal (or DateTime) as ISO 8601, or None."""
    try:
        exif = image.getexif()
        raw = exif.get_ifd(0x8769).get(36867) or exif.get(306)
    except DECODE_ERRORS:
        return None
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


# EXIF tags: DateTimeOriginal, SubSecTimeOriginal (in the Exif IFD); Make, Model (IFD0);
# BodySerialNumber (Exif IFD).
_DATE_TIME_ORIGINAL = 36867
_SUBSEC_ORIGINAL = 0x9291
_MAKE, _MODEL, _SERIAL = 0x010F, 0x0110, 0xA431
_EPOCH = datetime(1970, 1, 1)


def _capture_of(image: Image.Image) -> Capture | None:
    """The EXIF capture time (to the millisecond when SubSecTimeOriginal says) and camera, or
    None when there is no DateTimeOriginal."""
    try:
        exif = image.getexif()
        ifd = exif.get_ifd(0x8769)
        raw = ifd.get(_DATE_TIME_ORIGINAL)
        sub = ifd.get(_SUBSEC_ORIGINAL)
        names = [exif.get(_MAKE), exif.get(_MODEL), ifd.get(_SERIAL)]
    except DECODE_ERRORS:
        return None
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.strptime(raw.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    millis = int((when - _EPOCH).total_seconds()) * 1000
    digits = sub.strip("\x00 ").strip() if isinstance(sub, str) else ""
    # (ASCII digits only: "\xb2" read as latin-1 is "²", a digit to isdigit() that int()
    # refuses, which made a sound photo "damaged")
    subseconds = digits.isascii() and digits.isdigit()
    if subseconds:
        millis += int((digits + "000")[:3])
    camera = " ".join(str(n).strip("\x00 ").strip() for n in names if isinstance(n, str))
    return Capture(millis, subseconds, camera.strip())


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> RGB, compositing alpha onto BACKGROUND and scaling 16-bit/float to 8 bits."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16"):
            scaled = array / 257.0
        else:
            finite = array[np.isfinite(array)]
            low = float(finite.min()) if finite.size else 0.0
            high = float(finite.max()) if finite.size else 1.0
            if mode == "F" and low >= 0.0 and high <= 1.0:
                low, high = 0.0, 1.0  # a normalised float image keeps its own brightness
            elif mode == "I" and low >= 0 and high <= 65535:
                low, high = 0.0, 65535.0 if high > 255 else 255.0
            scaled = (array - low) * (255.0 / (high - low if high > low else 1.0))
        gray = np.nan_to_num(scaled, nan=0.0).clip(0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("L", "RGB", "1") and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def _reduce(image: Image.Image, min_side: int) -> Image.Image:
    """Shrink by an integer factor (cheap box filter) while the short side stays >= min_side,
    or more while the long side is above MAX_LONG_SIDE."""
    factor = max(min(image.size) // min_side, -(-max(image.size) // MAX_LONG_SIDE))
    if factor >= 2:
        # Alpha is flattened first: averaging would otherwise mix in the invisible colours
        # under transparent pixels.
        if image.mode not in ("L", "RGB", "I", "F", "CMYK", "YCbCr"):
            image = _to_rgb(image)
        return image.reduce(factor)
    return image


def _orientation(image: Image.Image) -> int:
    """EXIF orientation 1..8; a bogus or unreadable value counts as 1 (upright), never fatal."""
    try:
        value = image.getexif().get(0x0112, 1)
    except DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _orient_as(image: Image.Image, orientation: int) -> Image.Image:
    for method in _TRANSPOSE.get(orientation, ()):
        image = image.transpose(method)
    return image


def orientations(image: Image.Image) -> tuple[Image.Image, ...]:
    """The image under EXIF orientations 2..8 (mirrors and 90/180/270 degree rotations)."""
    return tuple(_orient_as(image, o) for o in range(2, 9))


# ---------------------------------------------------------------- RAW


def raw_support() -> bool:
    """True when the optional raw extra (rawpy) is installed."""
    from dedupe import raw

    return raw.available()


def _decode_raw(data: bytes, min_side: int, fmt: str, kind: str | None) -> Decoded:
    """A camera RAW file: its embedded preview when big enough, else a half-size development."""
    from dedupe import raw

    try:
        picture = raw.read(data, min_side)
        if picture.preview is not None:
            try:
                return _from_preview(data, picture, min_side, fmt)
            except DecodeError:
                picture = raw.read(data, min_side, use_preview=False)  # a damaged preview
    except UnsupportedError:
        if kind is None and raw.available():
            # No RAW container we recognise and LibRaw does not know it either.
            raise DecodeError(
                "not an image: the content is not a RAW file that LibRaw can read"
            ) from None
        raise
    assert picture.pixels is not None
    image = _orient_as(_reduce(picture.pixels, min_side), picture.orientation)
    width, height = _oriented_size(picture)
    return Decoded(_to_rgb(image), width, height, fmt, _raw_taken_at(data), _raw_capture(data))


def _from_preview(data: bytes, picture: raw_module.RawPicture, min_side: int, fmt: str) -> Decoded:
    assert picture.preview is not None
    preview = decode(picture.preview, min_side=min_side)
    image = preview.image
    # A preview that carries no orientation of its own is stored the way the sensor saw it.
    if _orientation_of_bytes(picture.preview) == 1:
        image = _orient_as(image, picture.orientation)
    width, height = _oriented_size(picture)
    taken_at = preview.taken_at or _raw_taken_at(data)
    return Decoded(image, width, height, fmt, taken_at, preview.capture or _raw_capture(data))


def _oriented_size(picture: raw_module.RawPicture) -> tuple[int, int]:
    if picture.orientation in (5, 6, 7, 8):
        return picture.height, picture.width
    return picture.width, picture.height


def _orientation_of_bytes(data: bytes) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _orientation(Image.open(io.BytesIO(data)))
    except Image.DecompressionBombError:
        return 1
    except DECODE_ERRORS:  # UnidentifiedImageError is an OSError
        return 1


def _raw_taken_at(data: bytes) -> str | None:
    """The capture time from a TIFF-based RAW file's EXIF (CR2, NEF, ARW, DNG, ...)."""
    return _raw_exif(data, _taken_at_of)


def _raw_capture(data: bytes) -> Capture | None:
    """The capture facts from a TIFF-based RAW file's EXIF."""
    return _raw_exif(data, _capture_of)


_R = TypeVar("_R")


def _raw_exif(data: bytes, read: Callable[[Image.Image], _R | None]) -> _R | None:
    if sniff(data[:SNIFF_BYTES]) != "TIFF":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read(Image.open(io.BytesIO(data), formats=["TIFF"]))
    except Image.DecompressionBombError:
        return None
    except DECODE_ERRORS:  # UnidentifiedImageError is an OSError
        return None


# ---------------------------------------------------------------- reasons in words

_NAMES = {"HEIF": "HEIC/HEIF", "PNM": "PPM/PGM/PBM", "JPEG2000": "JPEG 2000", "WEBP": "WebP"}
# Pillow's plugin names -> the format stored in the report.
_FORMAT_NAMES = {"PPM": "PNM"}

# Pillow and zlib messages -> words for people. Checked in order, by substring (lower case).
_PLAIN = (
    ("truncated", "the file is truncated (an incomplete download or copy?)"),
    ("premature end", "the file is truncated (an incomplete download or copy?)"),
    ("no data found for frame", "the file is truncated (an incomplete download or copy?)"),
    ("end of file", "the file is truncated (an incomplete download or copy?)"),
    ("outside of file", "the file is truncated (an incomplete download or copy?)"),
    ("decompressing data", "its compressed image data is corrupt"),
    ("crc", "it fails its checksum (the data is corrupt)"),
    ("broken data stream", "its image data is corrupt"),
    ("decoder error", "its image data is corrupt"),
    ("failed to decode", "its image data is corrupt"),
    ("buffer is not large enough", "its image data is corrupt"),
    ("unsupported", "it uses a variant of the format that cannot be read"),
    ("not supported", "it uses a variant of the format that cannot be read"),
)


def _name(kind: str) -> str:
    return _NAMES.get(kind, kind)


def _describe(error: BaseException, kind: str) -> str:
    text = str(error).lower()
    for needle, plain in _PLAIN:
        if needle in text:
            return _damaged(kind, plain)
    return _damaged(kind, "its contents are not valid")


def _damaged(kind: str, why: str) -> str:
    return f"damaged {_name(kind)} image: {why}"
