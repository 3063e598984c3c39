"""Accuracy benchmark: precision and recall of `dedupe scan` on a corpus of real photos and copies.

Builds a corpus from the distinct real photos in ../shared/real-images (plus any --photos DIR)
and from generated images, writes edited copies of each photo (the tiers of issue 4), runs
`python -m dedupe scan` on it as a user would (once per algorithm and hash size), regroups the
report's images at every swept threshold (exactly what `dedupe review --threshold` does) and
prints precision and recall per tier and per transform.

A "pair" is two files in one reported group. Precision = true pairs / reported pairs, where a
pair is true when both files come from the same source photo. Recall of a tier = (original,
copy) pairs of that tier found in one group / all such pairs. Low-information images (solid
colours, gradients, text on white, transparent overlays, blank scans) and small real pictures
are distractors without copies: any group they join (other than byte copies) costs precision.

    python benchmarks/accuracy.py                  # full sweep (about 10 minutes on 2 cores)
    python benchmarks/accuracy.py --quick          # default settings only
    python benchmarks/accuracy.py --photos ~/Pictures/sample   # add your own distinct photos

The corpus is written once under benchmarks/.corpus/ (gitignored) and reused while its recipe
(CORPUS_VERSION, sources, options) is unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: use this checkout's dedupe
    sys.path.insert(0, str(ROOT))

from dedupe import cluster, report  # noqa: E402
from dedupe.groups import build_groups  # noqa: E402
from dedupe.hashing import ALGORITHMS, HASH_SIZES  # noqa: E402
from dedupe.models import (  # noqa: E402
    DEFAULT_ALGORITHM,
    DEFAULT_HASH_SIZE,
    DEFAULT_THRESHOLD,
    ImageRecord,
    KeepRules,
    Settings,
)

try:  # HEIC copies need pillow-heif (a dependency of dedupe)
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover
    HEIC = False

CORPUS_VERSION = 4
REAL_IMAGES = ROOT.parent / "shared" / "real-images"
DEFAULT_CORPUS = ROOT / "benchmarks" / ".corpus"

# Distinct real photos under real-images (known copies, corrupt files and derived files left out).
# Each gets the full set of copies. The gps series (distinct shots of one place) and the HDR
# on/off pairs (two shots of one scene) are hard negatives: similar, never duplicates.
REAL_PHOTOS = (
    "exif-orientation-examples/Landscape_1.jpg",
    "exif-orientation-examples/Portrait_1.jpg",
    "exif-samples/heic/IMG_5195.HEIC",
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G.heif",
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif",
    "exif-samples/heic/mobile/iphone_13_pro_max.HEIC",
    "exif-samples/heic/samplefilehub.heif",
    "exif-samples/jpg/Canon_PowerShot_S40.jpg",
    "exif-samples/jpg/Reconyx_HC500_Hyperfire.jpg",
    "exif-samples/jpg/exif-org/canon-ixus.jpg",
    "exif-samples/jpg/exif-org/fujifilm-dx10.jpg",
    "exif-samples/jpg/exif-org/fujifilm-finepix40i.jpg",
    "exif-samples/jpg/exif-org/fujifilm-mx1700.jpg",
    "exif-samples/jpg/exif-org/kodak-dc210.jpg",
    "exif-samples/jpg/exif-org/kodak-dc240.jpg",
    "exif-samples/jpg/exif-org/nikon-e950.jpg",
    "exif-samples/jpg/exif-org/olympus-c960.jpg",
    "exif-samples/jpg/exif-org/olympus-d320l.jpg",
    "exif-samples/jpg/exif-org/ricoh-rdc5300.jpg",
    "exif-samples/jpg/exif-org/sanyo-vpcg250.jpg",
    "exif-samples/jpg/exif-org/sanyo-vpcsx550.jpg",
    "exif-samples/jpg/exif-org/sony-cybershot.jpg",
    "exif-samples/jpg/exif-org/sony-d700.jpg",
    "exif-samples/jpg/exif-org/sony-powershota5.jpg",
    "exif-samples/jpg/gps/DSCN0010.jpg",
    "exif-samples/jpg/gps/DSCN0012.jpg",
    "exif-samples/jpg/gps/DSCN0021.jpg",
    "exif-samples/jpg/gps/DSCN0025.jpg",
    "exif-samples/jpg/gps/DSCN0027.jpg",
    "exif-samples/jpg/gps/DSCN0029.jpg",
    "exif-samples/jpg/gps/DSCN0038.jpg",
    "exif-samples/jpg/gps/DSCN0040.jpg",
    "exif-samples/jpg/gps/DSCN0042.jpg",
    "exif-samples/jpg/hdr/canon_hdr_NO.jpg",
    "exif-samples/jpg/hdr/canon_hdr_YES.jpg",
    "exif-samples/jpg/hdr/iphone_hdr_NO.jpg",
    "exif-samples/jpg/hdr/iphone_hdr_YES.jpg",
    "exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg",
    "exif-samples/jpg/mobile/jolla.jpg",
    "exif-samples/jpg/orientation/landscape_1.jpg",
    "exif-samples/jpg/orientation/portrait_1.jpg",
    "exif-samples/jpg/tests/11-tests.jpg",
    "exif-samples/jpg/tests/22-canon_tags.jpg",
    "exif-samples/jpg/tests/28-hex_value.jpg",
    "exif-samples/jpg/tests/30-type_error.jpg",
    "exif-samples/jpg/tests/33-type_error.jpg",
    "exif-samples/jpg/tests/35-empty.jpg",
    "exif-samples/jpg/tests/36-memory_error.jpg",
    "exif-samples/jpg/tests/42_IndexError.jpg",
    "exif-samples/jpg/tests/45-gps_ifd.jpg",
    "exif-samples/jpg/tests/87_OSError.jpg",
    "exif-samples/jpg/xmp/no_exif.jpg",
    "exif-samples/tiff/BSG1.tiff",
    "exif-samples/tiff/DudleyLeavittUtah.tiff",
    "imagededup-tests/tests/data/base_images/ukbench00120.jpg",
    "imagededup-tests/tests/data/base_images/ukbench01380.jpg",
    "imagededup-tests/tests/data/base_images/ukbench08976.jpg",
    "imagededup-tests/tests/data/base_images/ukbench08996.jpg",
    "imagededup-tests/tests/data/base_images/ukbench09012.jpg",
    "imagededup-tests/tests/data/base_images/ukbench09040.jpg",
    "imagededup-tests/tests/data/base_images/ukbench09060.jpg",
    "imagededup-tests/tests/data/base_images/ukbench09268.jpg",
    "imagededup-tests/tests/data/base_images/ukbench09348.jpg",
    "imagededup-tests/tests/data/base_images/ukbench09380.jpg",
    "imagededup-tests/tests/data/formats_images/Iggy.1024.ppm",
    "imagededup-tests/tests/data/formats_images/baboon.pgm",
    "imagededup-tests/tests/data/formats_images/giphy.gif",
)
# Real pictures used as single distractors (no copies): tiny camera thumbnails, logos, graphs,
# line drawings, a flat gray frame and a blue square on white.
REAL_DISTRACTORS = (
    "exif-samples/jpg/Canon_40D.jpg",
    "exif-samples/jpg/Canon_40D_photoshop_import.jpg",
    "exif-samples/jpg/Canon_DIGITAL_IXUS_400.jpg",
    "exif-samples/jpg/Fujifilm_FinePix6900ZOOM.jpg",
    "exif-samples/jpg/Fujifilm_FinePix_E500.jpg",
    "exif-samples/jpg/Kodak_CX7530.jpg",
    "exif-samples/jpg/Konica_Minolta_DiMAGE_Z3.jpg",
    "exif-samples/jpg/Nikon_COOLPIX_P1.jpg",
    "exif-samples/jpg/Nikon_D70.jpg",
    "exif-samples/jpg/Olympus_C8080WZ.jpg",
    "exif-samples/jpg/PaintTool_sample.jpg",
    "exif-samples/jpg/Panasonic_DMC-FZ30.jpg",
    "exif-samples/jpg/Pentax_K10D.jpg",
    "exif-samples/jpg/Ricoh_Caplio_RR330.jpg",
    "exif-samples/jpg/Samsung_Digimax_i50_MP3.jpg",
    "exif-samples/jpg/Sony_HDR-HC3.jpg",
    "exif-samples/jpg/WWL_(Polaroid)_ION230.jpg",
    "exif-samples/jpg/long_description.jpg",
    "exif-samples/jpg/tests/32-lens_data.jpeg",
    "exif-samples/jpg/tests/67-0_length_string.jpg",
    "exif-samples/jpg/xmp/BlueSquare.jpg",
    "exif-samples/tiff/Arbitro.tiff",
    "exif-samples/tiff/Jobagent.tiff",
    "exif-samples/tiff/Picoawards.tiff",
    "exif-samples/tiff/Rudless.tiff",
    "exif-samples/tiff/Tless0.tiff",
    "imagededup-tests/tests/data/formats_images/marbles.pbm",
)

TIERS = ("easy", "medium", "rotations", "hard")
# The recall each tier must reach at the default settings (rotations: with --rotations).
DEFAULTS = (DEFAULT_ALGORITHM, DEFAULT_HASH_SIZE, DEFAULT_THRESHOLD)
TARGETS = {"precision": 0.995, "easy": 0.995, "medium": 0.95, "rotations": 0.95, "hard": 0.5}


# ---------------------------------------------------------------- the edits


@dataclass(frozen=True)
class Copy:
    """An encoded file: its bytes and extension."""

    data: bytes
    ext: str


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> Copy:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image = image.convert("L" if image.mode == "L" else "RGB")
        params.setdefault("quality", 90)
    image.save(buffer, fmt, **params)
    ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic"}[fmt]
    return Copy(buffer.getvalue(), ext)


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    w, h = image.size
    return image.resize(
        (max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.LANCZOS
    )


def _crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    dx, dy = round(w * fraction), round(h * fraction)
    return image.crop((dx, dy, w - dx, h - dy))


def _thumbnail(image: Image.Image) -> Image.Image:
    thumb = image.copy()
    thumb.thumbnail((256, 256), Image.Resampling.LANCZOS)
    return thumb


def _exif_rotated(image: Image.Image) -> Copy:
    """Pixels stored rotated 90 degrees with EXIF orientation 6: a viewer shows the original."""
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = image.transpose(Image.Transpose.ROTATE_90)
    return encode(stored, exif=exif.tobytes())


def _watermark(image: Image.Image, seed: int) -> Image.Image:
    """A small semi-transparent text mark in a corner (about 20% of the width)."""
    w, h = image.size
    out = image.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(8, w // 28)
    font = ImageFont.load_default(size=size)
    text = "© photo " + str(2000 + seed % 25)
    box = draw.textbbox((0, 0), text, font=font)
    x = w - (box[2] - box[0]) - w // 40
    y = h - (box[3] - box[1]) - h // 30
    draw.text(
        (x, y),
        text,
        font=font,
        fill=(255, 255, 255, 170),
        stroke_width=max(1, size // 12),
        stroke_fill=(0, 0, 0, 120),
    )
    return Image.alpha_composite(out, layer).convert("RGB")


def _blur(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(max(1.0, min(image.size) / 250)))


def _noise(image: Image.Image, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    array += rng.normal(0.0, 10.0, array.shape).astype(np.float32)
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def _border(image: Image.Image, seed: int) -> Image.Image:
    w, h = image.size
    colour = ((255, 255, 255), (0, 0, 0), (40, 40, 40))[seed % 3]
    return ImageOps.expand(image.convert("RGB"), (round(w * 0.1), round(h * 0.1)), fill=colour)


def _rotate4(image: Image.Image, seed: int) -> Image.Image:
    angle = 4.0 if seed % 2 else -4.0
    return image.convert("RGB").rotate(
        angle, Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0)
    )


def _stretch(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.resize((round(w * 1.3), h), Image.Resampling.LANCZOS)


Edit = Callable[[Image.Image, int], Copy]
# x265's fastest preset: the default one takes seconds per photo and changes nothing measured here.
FAST_HEIC = {"preset": "ultrafast"}

# transform name -> (tier, edit). Each copy is saved as JPEG q90 unless the edit is a format.
TRANSFORMS: dict[str, tuple[str, Edit]] = {
    "resized": ("easy", lambda im, s: encode(_scaled(im, 0.5))),
    "thumbnail": ("easy", lambda im, s: encode(_thumbnail(im), quality=85)),
    "jpeg_q30": ("easy", lambda im, s: encode(im, quality=30)),
    "png": ("easy", lambda im, s: encode(im, "PNG", compress_level=1)),
    "webp": ("easy", lambda im, s: encode(im, "WEBP", quality=80)),
    "heic": ("easy", lambda im, s: encode(im, "HEIF", quality=80, enc_params=FAST_HEIC)),
    "exif_rotated": ("easy", lambda im, s: _exif_rotated(im)),
    "grayscale": ("easy", lambda im, s: encode(im.convert("L"))),
    "crop_5": ("medium", lambda im, s: encode(_crop(im, 0.05))),
    "brightness": ("medium", lambda im, s: encode(ImageEnhance.Brightness(im).enhance(1.15))),
    "contrast": ("medium", lambda im, s: encode(ImageEnhance.Contrast(im).enhance(1.25))),
    "saturation": ("medium", lambda im, s: encode(ImageEnhance.Color(im).enhance(1.4))),
    "watermark": ("medium", lambda im, s: encode(_watermark(im, s))),
    "blur": ("medium", lambda im, s: encode(_blur(im))),
    "noise": ("medium", lambda im, s: encode(_noise(im, s))),
    "mirror": ("rotations", lambda im, s: encode(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))),
    "rot90": ("rotations", lambda im, s: encode(im.transpose(Image.Transpose.ROTATE_90))),
    "rot180": ("rotations", lambda im, s: encode(im.transpose(Image.Transpose.ROTATE_180))),
    "rot270": ("rotations", lambda im, s: encode(im.transpose(Image.Transpose.ROTATE_270))),
    "crop_15": ("hard", lambda im, s: encode(_crop(im, 0.15))),
    "border_10": ("hard", lambda im, s: encode(_border(im, s))),
    "rotate_4deg": ("hard", lambda im, s: encode(_rotate4(im, s))),
    "stretch_1.3": ("hard", lambda im, s: encode(_stretch(im))),
}
if not HEIC:  # pragma: no cover
    del TRANSFORMS["heic"]


# ---------------------------------------------------------------- generated images


def synthetic_photo(seed: int, size: tuple[int, int] = (1024, 768)) -> Image.Image:
    """A photo-like picture: a sky/ground split, fractal texture, shapes, uneven light.

    Colours are muted the way real photos' are (few pixels of a photo are pure primaries), so
    colour edits act on them as they act on real photos.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)

    def colour() -> npt.NDArray[np.float32]:
        base = rng.uniform(0.15, 0.85)
        return np.clip(base + rng.normal(0, 0.12, 3), 0.02, 0.98).astype(np.float32)

    horizon = rng.uniform(0.25, 0.75) * h + rng.uniform(-0.2, 0.2) * (gx - w / 2)
    upper = (gy < horizon)[..., None]
    img = np.where(upper, colour(), colour()).astype(np.float32)
    # fractal value noise (mostly brightness, a little colour): octaves of upsampled grids
    for octave in range(1, 7):
        cells = 2**octave
        grid = rng.normal(0, 1, (cells + 1, cells + 1, 1)).astype(np.float32)
        grid = grid + 0.3 * rng.normal(0, 1, (cells + 1, cells + 1, 3)).astype(np.float32)
        small = Image.fromarray(((grid - grid.min()) / np.ptp(grid) * 255).astype(np.uint8))
        layer = np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255
        img += (layer - 0.5) * (0.35 / octave)
    pil = Image.fromarray((img.clip(0, 1) * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(4, 12))):
        fill = tuple(int(c * 255) for c in colour())
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        sw, sh = rng.uniform(0.05, 0.35) * w, rng.uniform(0.05, 0.35) * h
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse((x0, y0, x0 + sw, y0 + sh), fill=fill)
        elif kind == 1:
            draw.rectangle((x0, y0, x0 + sw, y0 + sh), fill=fill)
        else:
            points = [(x0 + rng.uniform(0, sw), y0 + rng.uniform(0, sh)) for _ in range(5)]
            draw.polygon(points, fill=fill)
    pil = pil.filter(ImageFilter.GaussianBlur(1.2))
    array = np.asarray(pil, np.float32)
    light = 1.0 + 0.25 * np.sin(gx / w * rng.uniform(1, 3) + rng.uniform(0, 6))[..., None]
    array = array * light + rng.normal(0, 3, array.shape)
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "invoice",
    "total",
    "amount",
    "date",
    "page",
    "report",
    "meeting",
    "agenda",
    "notes",
    "summary",
    "account",
]


def low_information_images() -> list[tuple[str, Copy]]:
    """Blank and near-blank pictures that must never be grouped except as byte copies."""
    out: list[tuple[str, Copy]] = []
    for k, colour in enumerate(
        [
            (255, 255, 255),
            (0, 0, 0),
            (128, 128, 128),
            (200, 30, 30),
            (90, 160, 230),
            (240, 230, 200),
        ]
    ):
        out.append((f"solid_{k}", encode(Image.new("RGB", (800 + 64 * k, 600), colour), "PNG")))
    pairs = [
        ((255, 255, 255), (0, 0, 0)),
        ((0, 0, 0), (255, 255, 255)),
        ((20, 40, 200), (250, 250, 250)),
        ((255, 200, 0), (120, 0, 60)),
        ((255, 255, 255), (0, 0, 80)),
        ((60, 60, 60), (200, 200, 200)),
    ]
    for k, (a, b) in enumerate(pairs):
        t = np.linspace(0, 1, 640, dtype=np.float32)
        ramp = (
            np.array(a, np.float32)[None, :] * (1 - t[:, None])
            + np.array(b, np.float32)[None, :] * t[:, None]
        )
        rows = np.repeat(ramp[None, :, :], 480, axis=0)
        image = Image.fromarray(rows.astype(np.uint8), "RGB")
        if k % 2:
            image = image.transpose(Image.Transpose.ROTATE_90)
        out.append((f"gradient_{k}", encode(image, "PNG")))
    rng = np.random.default_rng(7)
    font = ImageFont.load_default(size=22)
    for k in range(8):  # documents with the same layout and different words
        image = Image.new("RGB", (850, 1100), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.text((70, 60), f"Document {k + 1}", font=ImageFont.load_default(size=40), fill=0)
        for line in range(28):
            words = " ".join(rng.choice(_WORDS, int(rng.integers(6, 11))))
            draw.text((70, 140 + 32 * line), words, font=font, fill=(0, 0, 0))
        out.append((f"text_{k}", encode(image, "PNG" if k % 2 else "JPEG")))
    for k in range(6):  # transparent overlays: a small mark on a transparent canvas
        image = Image.new("RGBA", (800, 600), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        x, y = 100 + 90 * k, 80 + 60 * k
        if k % 3 == 0:
            draw.ellipse((x, y, x + 120, y + 120), fill=(255, 0, 0, 200))
        elif k % 3 == 1:
            draw.text(
                (x, y), f"overlay {k}", font=ImageFont.load_default(size=48), fill=(0, 0, 0, 255)
            )
        else:
            draw.rectangle((x, y, x + 200, y + 40), fill=(0, 90, 200, 160))
        out.append((f"overlay_{k}", encode(image, "PNG")))
    for k in range(4):  # blank scans: paper white with sensor noise
        noisy = rng.normal(235 - 10 * k, 2.0, (700, 500)).clip(0, 255).astype(np.uint8)
        out.append((f"blank_{k}", encode(Image.fromarray(noisy, "L"))))
    return out


# ---------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Entry:
    """One corpus file: which source it comes from, and how it was made."""

    source: str
    transform: str  # "original", a TRANSFORMS name, "distractor" or "byte_copy"
    tier: str  # "original", a TIERS name, "distractor" or "exact"
    holdout: bool


def _load(path: Path, max_side: int) -> Image.Image:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        image = image.convert("RGBA").convert("RGB") if image.mode in ("P", "RGBA", "LA") else image
        image = image.convert("RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _is_holdout(source: str) -> bool:
    """A fixed split of the sources: about a third held out to confirm the chosen defaults."""
    return hashlib.sha256(source.encode()).digest()[0] % 3 == 0


def _write_source(job: tuple[str, str | None, int, int, str]) -> dict[str, dict[str, object]]:
    """Write one source's original and copies; returns its manifest entries."""
    name, real_path, seed, max_side, out = job
    image = synthetic_photo(seed) if real_path is None else _load(Path(real_path), max_side)
    folder = Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    holdout = _is_holdout(name)
    manifest: dict[str, dict[str, object]] = {}
    original = encode(image, quality=95)
    rel = f"{name}/original{original.ext}"
    (folder / f"original{original.ext}").write_bytes(original.data)
    manifest[rel] = {
        "source": name,
        "transform": "original",
        "tier": "original",
        "holdout": holdout,
    }
    for transform, (tier, edit) in TRANSFORMS.items():
        made = edit(image, seed)
        rel = f"{name}/{transform}{made.ext}"
        (folder / f"{transform}{made.ext}").write_bytes(made.data)
        manifest[rel] = {"source": name, "transform": transform, "tier": tier, "holdout": holdout}
    return manifest


def build_corpus(
    out: Path, real_dir: Path, extra: Sequence[Path], generated: int, max_side: int, jobs: int
) -> dict[str, Entry]:
    """Write the corpus under `out` (reusing it when the recipe is unchanged); returns its truth."""
    sources: list[tuple[str, str | None, int]] = []
    for k, rel in enumerate(REAL_PHOTOS):
        path = real_dir / rel
        if path.is_file():
            sources.append(("real_" + _slug(rel), str(path), k))
    for directory in extra:
        for k, path in enumerate(sorted(p for p in directory.rglob("*") if p.is_file())):
            sources.append(
                ("extra_" + _slug(str(path.relative_to(directory))), str(path), 1000 + k)
            )
    for k in range(generated):
        sources.append((f"gen_{k:03d}", None, 10_000 + k))
    distractors = [real_dir / rel for rel in REAL_DISTRACTORS if (real_dir / rel).is_file()]
    recipe = json.dumps(
        {
            "version": CORPUS_VERSION,
            "sources": sources,
            "distractors": [str(d) for d in distractors],
            "max_side": max_side,
            "transforms": list(TRANSFORMS),
        },
        sort_keys=True,
    )
    stamp = out / "recipe.json"
    manifest_path = out / "manifest.json"
    if stamp.is_file() and stamp.read_text() == recipe and manifest_path.is_file():
        raw = json.loads(manifest_path.read_text())
        return {k: Entry(**v) for k, v in raw.items()}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest: dict[str, dict[str, object]] = {}
    jobs_list = [(name, path, seed, max_side, str(out)) for name, path, seed in sources]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for part in pool.map(_write_source, jobs_list):
            manifest.update(part)
    folder = out / "distractors"
    folder.mkdir()
    for path in distractors:
        name = "real_" + _slug(str(path.relative_to(real_dir)))
        target = folder / (name + path.suffix.lower())
        shutil.copyfile(path, target)
        manifest[f"distractors/{target.name}"] = {
            "source": name,
            "transform": "distractor",
            "tier": "distractor",
            "holdout": _is_holdout(name),
        }
    for name, made in low_information_images():
        target = folder / (name + made.ext)
        target.write_bytes(made.data)
        manifest[f"distractors/{target.name}"] = {
            "source": name,
            "transform": "distractor",
            "tier": "distractor",
            "holdout": _is_holdout(name),
        }
    # byte copies of two blank images: the only way low-information images may be grouped
    for name in ("solid_0", "text_0"):
        (original_rel,) = [k for k in manifest if k.startswith(f"distractors/{name}.")]
        copy_rel = original_rel.replace(name, name + "_copy")
        shutil.copyfile(out / original_rel, out / copy_rel)
        manifest[original_rel]["tier"] = "original"
        manifest[copy_rel] = {
            "source": name,
            "transform": "byte_copy",
            "tier": "exact",
            "holdout": _is_holdout(name),
        }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    stamp.write_text(recipe)
    return {k: Entry(**v) for k, v in manifest.items()}  # type: ignore[arg-type]


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return keep.rsplit(".", 1)[0] if "." in keep else keep


# ---------------------------------------------------------------- scoring


# Rates swept for every algorithm and hash size (--threshold values).
RATES = (0.05, 0.1, 0.15, 0.175, 0.2, 0.225, 0.25, 0.275, 0.3)
SPLITS = ("all", "tune", "holdout")


@dataclass
class Metrics:
    """Precision and recall of one grouping, on one split of the corpus."""

    true_pairs: int = 0
    false_pairs: int = 0
    found: Counter[str] = field(default_factory=Counter)  # tier or transform -> pairs found
    total: Counter[str] = field(default_factory=Counter)  # tier or transform -> all pairs

    @property
    def precision(self) -> float:
        reported = self.true_pairs + self.false_pairs
        return self.true_pairs / reported if reported else 1.0

    def recall(self, key: str) -> float:
        return self.found[key] / self.total[key] if self.total[key] else float("nan")


def evaluate(groups: Iterable[Iterable[str]], truth: dict[str, Entry], split: str) -> Metrics:
    """Score groups (each a list of corpus-relative paths) against the truth."""

    def included(entry: Entry) -> bool:
        return split == "all" or entry.holdout == (split == "holdout")

    metrics = Metrics()
    group_of: dict[str, int] = {}
    for number, group in enumerate(groups):
        members = [rel for rel in group if included(truth[rel])]
        for rel in members:
            group_of[rel] = number
        per_source = Counter(truth[rel].source for rel in members)
        pairs = len(members) * (len(members) - 1) // 2
        true = sum(c * (c - 1) // 2 for c in per_source.values())
        metrics.true_pairs += true
        metrics.false_pairs += pairs - true
    originals = {e.source: rel for rel, e in truth.items() if e.tier == "original"}
    for rel, entry in truth.items():
        if entry.tier in ("original", "distractor") or not included(entry):
            continue
        original = originals[entry.source]
        ok = rel in group_of and group_of.get(original) == group_of[rel]
        for key in (entry.tier, entry.transform):
            metrics.total[key] += 1
            metrics.found[key] += ok
    return metrics


@dataclass
class Row:
    """One swept setting: metrics without and with --rotations, per split, and search counts.

    With --rotations is measured only where it matters: for rows that meet every other target
    (and for the defaults); elsewhere `rotated` is None.
    """

    algorithm: str
    hash_size: int
    rate: float
    max_distance: int
    plain: dict[str, Metrics]
    rotated: dict[str, Metrics] | None
    candidates: int
    rejected: int
    blocked: int
    groups: int
    seconds: float

    def value(self, key: str, split: str = "all") -> float:
        """precision / a tier's recall, as judged against TARGETS (rotations with --rotations)."""
        if key == "precision":
            if self.rotated is None:
                return self.plain[split].precision
            return min(self.plain[split].precision, self.rotated[split].precision)
        if key == "rotations":
            return float("nan") if self.rotated is None else self.rotated[split].recall(key)
        return self.plain[split].recall(key)

    def slack(self, split: str) -> float:
        """The smallest margin over the targets, each as a share of the room above its target."""
        margins = [(self.value(k, split) - t) / (1.0 - t) for k, t in TARGETS.items()]
        return -1.0 if any(m != m for m in margins) else min(margins)

    def meets(self, split: str = "all", *, without_rotations: bool = False) -> bool:
        keys = [k for k in TARGETS if not (without_rotations and k == "rotations")]
        return all(self.value(k, split) >= TARGETS[k] for k in keys)


def _relative(records: Sequence[ImageRecord], corpus: Path) -> dict[str, str]:
    return {r.path: os.path.relpath(r.path, corpus) for r in records}


def _score(
    records: Sequence[ImageRecord], settings: Settings, rel: dict[str, str], truth: dict[str, Entry]
) -> tuple[dict[str, Metrics], cluster.Clusters]:
    found = cluster.cluster(records, settings)
    paths = [[rel[records[k].path] for k in group] for group in found.groups]
    return {split: evaluate(paths, truth, split) for split in SPLITS}, found


def sweep_row(
    records: Sequence[ImageRecord],
    corpus: Path,
    truth: dict[str, Entry],
    algorithm: str,
    hash_size: int,
    rate: float,
    *,
    rotations: bool | None = None,
) -> Row:
    """Regroup the scanned images at one threshold, as `dedupe review --threshold` does
    (cluster.cluster is the grouping step of groups.build_groups). `rotations`: measure with
    --rotations too (None: only when the row meets every other target)."""
    started = time.perf_counter()
    rel = _relative(records, corpus)
    plain, found = _score(records, Settings(algorithm, hash_size, rate), rel, truth)
    row = Row(
        algorithm,
        hash_size,
        rate,
        Settings(algorithm, hash_size, rate).max_distance,
        plain,
        None,
        found.candidates,
        found.rejected,
        found.blocked,
        len(found.groups),
        0.0,
    )
    if rotations or (rotations is None and row.meets(without_rotations=True)):
        row.rotated, _ = _score(records, Settings(algorithm, hash_size, rate, True), rel, truth)
    row.seconds = time.perf_counter() - started
    return row


def confirm_with_build_groups(
    records: Sequence[ImageRecord], corpus: Path, truth: dict[str, Entry], row: Row
) -> bool:
    """The user's path (groups.build_groups, as scan and review use) gives the same scores."""
    rel = _relative(records, corpus)
    for rotations, expected in ((False, row.plain), (True, row.rotated)):
        if expected is None:
            continue
        settings = Settings(row.algorithm, row.hash_size, row.rate, rotations)
        groups = build_groups(records, settings, KeepRules())
        paths = [[rel[m.record.path] for m in g.members] for g in groups]
        got = evaluate(paths, truth, "all")
        if (got.true_pairs, got.false_pairs, got.found) != (
            expected["all"].true_pairs,
            expected["all"].false_pairs,
            expected["all"].found,
        ):
            return False
    return True


def scan_corpus(
    corpus: Path, algorithm: str, hash_size: int, jobs: int, out: Path
) -> tuple[tuple[ImageRecord, ...], float]:
    """Run `python -m dedupe scan` on the corpus as a user would; returns the report's images."""
    path = out / f"report-{algorithm}-{hash_size}.json"
    command = [
        sys.executable, "-m", "dedupe", "scan", str(corpus), "--report", str(path),
        "--no-cache", "--algorithm", algorithm, "--hash-size", str(hash_size),
        "--jobs", str(jobs),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return report.read(path).images, seconds


# ---------------------------------------------------------------- printing


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"{os.cpu_count()} cores, {cpu}, load average {load}; Python {platform.python_version()},"
        f" {platform.system()} {platform.release()}"
    )


def _pct(x: float) -> str:
    return "  -  " if x != x else f"{x:.3f}"


TIER_HEADER = (
    "| algorithm | bits | rate | max d | precision | easy | medium | hard | rotations* "
    "| precision* | candidates | rejected | blocked | groups | meets |"
)


def tier_line(row: Row, split: str = "all", mark: str = "") -> str:
    p = row.plain[split]
    pr = row.rotated[split] if row.rotated is not None else Metrics()
    return (
        f"| {mark}{row.algorithm} | {row.hash_size * row.hash_size} | {row.rate} "
        f"| {row.max_distance} | {_pct(p.precision)} | {_pct(p.recall('easy'))} "
        f"| {_pct(p.recall('medium'))} | {_pct(p.recall('hard'))} "
        f"| {_pct(pr.recall('rotations'))} "
        f"| {_pct(pr.precision) if row.rotated is not None else '  -  '} | {row.candidates} "
        f"| {row.rejected} | {row.blocked} | {row.groups} | {'yes' if row.meets(split) else 'no'} |"
    )


SHORT = {
    "resized": "rsz", "thumbnail": "thm", "jpeg_q30": "q30", "png": "png", "webp": "wbp",
    "heic": "hei", "exif_rotated": "exf", "grayscale": "gry", "crop_5": "c5", "brightness": "bri",
    "contrast": "con", "saturation": "sat", "watermark": "wmk", "blur": "blr", "noise": "noi",
    "mirror": "mir*", "rot90": "r90*", "rot180": "r180*", "rot270": "r270*", "crop_15": "c15",
    "border_10": "brd", "rotate_4deg": "r4d", "stretch_1.3": "str", "byte_copy": "byte",
}  # fmt: skip


def transform_header() -> str:
    names = [SHORT.get(t, t) for t in [*TRANSFORMS, "byte_copy"]]
    return "| algorithm | bits | rate | " + " | ".join(names) + " |"


def transform_line(row: Row, split: str = "all") -> str:
    cells = []
    for t in [*TRANSFORMS, "byte_copy"]:
        turned = TRANSFORMS.get(t, ("",))[0] == "rotations"
        m = (row.rotated[split] if row.rotated else Metrics()) if turned else row.plain[split]
        value = m.recall(t)
        cells.append("-" if value != value else f"{value:.2f}")
    return (
        f"| {row.algorithm} | {row.hash_size * row.hash_size} | {row.rate} | "
        + " | ".join(cells)
        + " |"
    )


def print_report(rows: Sequence[Row], chosen: Row | None, default: Row | None) -> None:
    print("\n## Precision and recall per tier (all sources)\n")
    targets = ", ".join(f"{k} >= {v}" for k, v in TARGETS.items())
    print(f"`*` = with --rotations. Targets: {targets}")
    print()
    print(TIER_HEADER)
    print("|" + "---|" * (TIER_HEADER.count("|") - 1))
    for row in rows:
        mark = "**" if row is default else ""
        print(tier_line(row, "all", mark))
    print("\n## Recall per transform (all sources; `*` with --rotations)\n")
    header = transform_header()
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        print(transform_line(row))
    for title, shown in (("the current defaults (models.py)", default), ("the chosen row", chosen)):
        if shown is None:
            continue
        row = shown
        print(f"\n## {title}: {row.algorithm} {row.hash_size}x{row.hash_size}, rate {row.rate}")
        print()
        print("| split " + TIER_HEADER)
        print("|" + "---|" * 16)
        for split in SPLITS:
            print(f"| {split} " + tier_line(row, split))
        print()
        header = "| split " + transform_header()
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
        for split in SPLITS:
            print(f"| {split} " + transform_line(row, split))


def choose(rows: Sequence[Row], tolerance: float = 0.1) -> Row | None:
    """Among rows that meet every target on the tuning split, the cheapest (fewest candidate
    pairs to verify: less work, fewer chances of a false match) whose smallest margin is within
    `tolerance` of the best smallest margin. None when no row meets the targets."""
    meeting = [r for r in rows if r.meets("tune")]
    if not meeting:
        return None
    best = max(r.slack("tune") for r in meeting)
    near = [r for r in meeting if r.slack("tune") >= best - tolerance]
    return min(near, key=lambda r: (r.candidates, -r.slack("tune")))


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder")
    parser.add_argument("--real-images", type=Path, default=REAL_IMAGES)
    parser.add_argument(
        "--photos", type=Path, action="append", default=[], metavar="DIR",
        help="a folder of distinct photos (no copies among them) to add as sources",
    )  # fmt: skip
    parser.add_argument("--generated", type=int, default=60, help="generated photo sources")
    parser.add_argument("--max-side", type=int, default=1024, help="longest side of originals")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--quick", action="store_true", help="only the default algorithm, hash size and rate"
    )
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--hash-sizes", default=",".join(str(s) for s in HASH_SIZES))
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES))
    args = parser.parse_args(argv)

    print("# dedupe accuracy benchmark\n")
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/accuracy.py {' '.join(argv or sys.argv[1:])}".rstrip())
    started = time.perf_counter()
    truth = build_corpus(
        args.corpus, args.real_images, args.photos, args.generated, args.max_side, args.jobs
    )
    tiers = Counter(e.tier for e in truth.values())
    sources = len({e.source for e in truth.values() if e.tier == "original"})
    held = len({e.source for e in truth.values() if e.tier == "original" and e.holdout})
    print(
        f"corpus: {len(truth)} files in {args.corpus} ({time.perf_counter() - started:.0f} s): "
        f"{sources} photos with copies ({held} held out), {tiers['distractor']} distractors; "
        + ", ".join(f"{k} {v}" for k, v in sorted(tiers.items()))
    )
    combos: list[tuple[str, int, tuple[float, ...]]]
    if args.quick:
        combos = [(DEFAULT_ALGORITHM, DEFAULT_HASH_SIZE, (DEFAULT_THRESHOLD,))]
    else:
        rates = tuple(float(r) for r in args.rates.split(","))
        if DEFAULT_THRESHOLD not in rates:
            rates = tuple(sorted((*rates, DEFAULT_THRESHOLD)))
        sizes = [int(s) for s in args.hash_sizes.split(",")]
        combos = [(a, s, rates) for a in args.algorithms.split(",") for s in sizes]
    rows: list[Row] = []
    scanned: dict[tuple[str, int], tuple[ImageRecord, ...]] = {}
    with tempfile.TemporaryDirectory(prefix="dedupe-accuracy-") as tmp:
        for algorithm, hash_size, rates in combos:
            records, seconds = scan_corpus(args.corpus, algorithm, hash_size, args.jobs, Path(tmp))
            print(f"scanned with {algorithm} {hash_size}x{hash_size}: {len(records)} images "
                  f"in {seconds:.1f} s", flush=True)  # fmt: skip
            scanned[(algorithm, hash_size)] = records
            for rate in rates:
                is_default = (algorithm, hash_size, rate) == DEFAULTS
                row = sweep_row(
                    records, args.corpus, truth, algorithm, hash_size, rate,
                    rotations=True if is_default else None,
                )  # fmt: skip
                rows.append(row)
                print(f"  rate {rate}: {row.seconds:.1f} s", file=sys.stderr, flush=True)
    default = next(
        (
            r for r in rows
            if (r.algorithm, r.hash_size, r.rate)
            == (DEFAULT_ALGORITHM, DEFAULT_HASH_SIZE, DEFAULT_THRESHOLD)
        ),
        None,
    )  # fmt: skip
    chosen = None if args.quick else choose(rows)
    print_report(rows, chosen, default)
    if chosen is not None:
        print(
            f"\nchosen on the tuning split: {chosen.algorithm} "
            f"{chosen.hash_size}x{chosen.hash_size}"
            f" rate {chosen.rate} (smallest margin {chosen.slack('tune'):+.2f}); it "
            f"{'meets' if chosen.meets('holdout') else 'MISSES'} the targets on the held-out split"
        )
    if default is not None:
        records = scanned[(default.algorithm, default.hash_size)]
        same = confirm_with_build_groups(records, args.corpus, truth, default)
        print(
            "\ngroups.build_groups (what scan and review --threshold run) gives "
            + ("the same groups for the defaults" if same else "DIFFERENT groups: a bug")
        )
        verdict = "meets" if default.meets() else "MISSES"
        print(
            f"defaults {DEFAULT_ALGORITHM} {DEFAULT_HASH_SIZE}x{DEFAULT_HASH_SIZE} rate "
            f"{DEFAULT_THRESHOLD}: {verdict} the targets on all sources; "
            f"verification rejected {default.rejected} of {default.candidates} candidate pairs, "
            f"anchors blocked {default.blocked} joins"
        )
    print(f"\ntotal time: {time.perf_counter() - started:.0f} s")
    return 0 if default is None or default.meets() else 1


if __name__ == "__main__":
    sys.exit(main())
