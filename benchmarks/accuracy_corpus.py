"""The accuracy corpus of issue 16: real pictures from installed packages, copies, look-alikes.

Every picture comes from a package installed on this machine (APT_PACKAGES, PIP_PACKAGES and
benchmarks/README.md) or is drawn here with Pillow and the Debian fonts. Nothing is downloaded.
Sources are assigned whole to one split, "tune" or "holdout": a package, a video, a font family
or a licence text feeds one split only, and each split has its own seed, so the held-out
recipe shares nothing with what the tune split exposes. A split is written to its own folder
(`<corpus>/<split>/`) and can be built and scanned without the other ever being made.

Layout of a split folder:
    <class>/<family>/<transform>.<ext>   a picture (transform "original") and its copies
    like-<set>/<member>[-<copy>].<ext>   a look-alike set: different pictures (and a few copies)
    manifest.json                        the truth for every file (`Item`)

The transforms below were written for this benchmark, independently of the old one.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

try:  # HEIC copies need pillow-heif (a dependency of dedupe)
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover
    HEIC = False

RECIPE_VERSION = 1
SPLITS = ("tune", "holdout")
# Each split's own seed: nothing random in the holdout follows from the tune split's recipe.
SEEDS = {"tune": "tune:e51c", "holdout": "holdout:93b0"}
MAX_SIDE = 1024  # originals are at most this long (decoding cost; copies derive from them)

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "real-images"
OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
LICENSES = Path("/usr/share/common-licenses")
FONTS = Path("/usr/share/fonts/truetype")

# The Debian packages the corpus reads (benchmarks/README.md gives the install command).
APT_PACKAGES = (
    "ffmpeg",
    "opencv-doc",
    "fonts-dejavu-core",
    "fonts-dejavu-extra",
    "fonts-freefont-ttf",
    "fonts-liberation",
    "fonts-noto-core",
    "gnome-backgrounds",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "desktop-base",
    "sway-backgrounds",
    "ukui-wallpapers",
    "lomiri-wallpapers",
)
PIP_PACKAGES = ("scikit-image",)

# Fonts per split: (sans, serif, mono). The mono of the holdout is Liberation Mono.
SPLIT_FONTS = {
    "tune": {
        "sans": ["dejavu/DejaVuSans.ttf", "freefont/FreeSans.ttf"],
        "serif": ["dejavu/DejaVuSerif.ttf", "freefont/FreeSerif.ttf"],
        "mono": ["dejavu/DejaVuSansMono.ttf", "freefont/FreeMono.ttf"],
        "bold": ["dejavu/DejaVuSans-Bold.ttf", "freefont/FreeSansBold.ttf"],
    },
    "holdout": {
        "sans": ["liberation/LiberationSans-Regular.ttf", "noto/NotoSans-Regular.ttf"],
        "serif": ["liberation/LiberationSerif-Regular.ttf", "noto/NotoSerif-Regular.ttf"],
        "mono": ["liberation/LiberationMono-Regular.ttf"],
        "bold": ["liberation/LiberationSans-Bold.ttf", "noto/NotoSans-Bold.ttf"],
    },
}
# Licence texts (base-files) per split: the words on pages and screenshots.
SPLIT_TEXTS = {
    "tune": ["GPL-3", "LGPL-2.1", "Apache-2.0", "Artistic", "CC0-1.0", "BSD", "GFDL-1.2"],
    "holdout": ["GPL-2", "MPL-2.0", "MPL-1.1", "LGPL-2", "GFDL-1.3", "GPL-1", "LGPL-3"],
}
# Videos (opencv-doc) per split, with a made-up camera for their bursts' EXIF.
SPLIT_VIDEOS = {
    "tune": [("Megamind.avi", "Kestrel", "K-7 Mark II")],
    "holdout": [("vtest.avi", "Ostara", "OS-20"), ("tree.avi", "Brightfold", "BF 300")],
}


# ---------------------------------------------------------------- the truth


@dataclass(frozen=True)
class Item:
    """One corpus file. Files of one `family` are copies of one picture; files of one look-alike
    `lookalike` set but different families are different pictures that look alike."""

    rel: str  # path relative to the split folder
    split: str
    cls: str  # photo, document, lineart, texture, gradient, wallpaper, flat, or a look-alike class
    family: str
    transform: str  # "original" or the copy's transform
    tier: str  # "original", easy / medium / rotations / hard, "lookalike_copy" or "exact"
    source: str  # where the picture comes from (package and file, or what drew it)
    lookalike: str = ""  # the look-alike set, "" for none
    flat: bool = False  # a one-colour picture
    sha256: str = ""


def seed_of(split: str, *parts: object) -> int:
    text = ":".join([SEEDS[split], *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


# ---------------------------------------------------------------- encoding


@dataclass(frozen=True)
class Encoded:
    data: bytes
    ext: str


def encode(image: Image.Image, fmt: str = "JPEG", exif: bytes = b"", **params: object) -> Encoded:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image = image.convert("L" if image.mode == "L" else "RGB")
        params.setdefault("quality", 88)
    elif fmt in ("WEBP", "HEIF"):
        image = image.convert("RGB")
    if exif:
        params["exif"] = exif
    image.save(buffer, fmt, **params)
    ext = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "HEIF": ".heic"}[fmt]
    return Encoded(buffer.getvalue(), ext)


def capture_exif(make: str, model: str, when: str, subsec: str, orientation: int = 1) -> bytes:
    """EXIF with the camera and the capture time (DateTimeOriginal + SubSecTimeOriginal)."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0132] = when
    if orientation != 1:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when  # DateTimeOriginal
    sub[0x9004] = when  # DateTimeDigitized
    sub[0x9291] = subsec  # SubSecTimeOriginal
    return exif.tobytes()


def _when(seed: int, offset_s: float = 0.0) -> tuple[str, str]:
    """A capture time in 2014-2024 from a seed, plus an offset in seconds: (DateTime, SubSec)."""
    base = 1_420_000_000 + seed % 300_000_000
    t = base + offset_s
    whole = math.floor(t)
    stamp = time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(whole))
    return stamp, f"{round((t - whole) * 1000) % 1000:03d}"


# ---------------------------------------------------------------- the copies

# Each edit takes the picture and a random generator (seeded per family and transform).
Edit = Callable[[Image.Image, np.random.Generator], Image.Image]


def _resize(image: Image.Image, factor: float) -> Image.Image:
    w, h = image.size
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _crop_share(image: Image.Image, rng: np.random.Generator, share: float) -> Image.Image:
    """Cut `share` of the width and of the height away, split unevenly between the two sides."""
    w, h = image.size
    cut_w, cut_h = share * w, share * h
    left, top = cut_w * rng.uniform(0.2, 0.8), cut_h * rng.uniform(0.2, 0.8)
    return image.crop(
        (round(left), round(top), round(w - (cut_w - left)), round(h - (cut_h - top)))
    )


def _label(image: Image.Image, rng: np.random.Generator, split: str) -> Image.Image:
    """A light box with a caption (a watermark, a date stamp or a "shot on" label) over about
    3% of the picture, in a corner."""
    out = image.convert("RGB").copy()
    w, h = out.size
    box_w = round(w * rng.uniform(0.22, 0.3))
    box_h = max(10, round(0.03 * w * h / box_w))
    corner = int(rng.integers(0, 4))
    margin = round(min(w, h) * 0.03)
    x = margin if corner % 2 == 0 else w - box_w - margin
    y = margin if corner < 2 else h - box_h - margin
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((x, y, x + box_w, y + box_h), fill=(250, 250, 245, 215))
    kind = int(rng.integers(0, 3))
    text = (
        f"(c) {['Mira Lind', 'J. Okafor', 'studio nine'][int(rng.integers(0, 3))]}",
        f"{int(rng.integers(2009, 2025))} {int(rng.integers(1, 13)):02d} "
        f"{int(rng.integers(1, 29)):02d}  "
        f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}",
        f"SHOT ON {['PIXELA 7', 'NOVA X2', 'ORBIT 12 PRO'][int(rng.integers(0, 3))]}",
    )[kind]
    size = max(8, box_h * 6 // 10)
    font = ImageFont.truetype(str(FONTS / SPLIT_FONTS[split]["bold"][0]), size)
    while size > 8 and draw.textlength(text, font=font) > box_w * 0.9:  # fit the caption
        size -= 1
        font = ImageFont.truetype(str(FONTS / SPLIT_FONTS[split]["bold"][0]), size)
    draw.text(
        (x + box_w // 2, y + box_h // 2), text, font=font, fill=(40, 40, 40, 255), anchor="mm"
    )
    return Image.alpha_composite(out.convert("RGBA"), layer).convert("RGB")


def _gauss_noise(image: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    array = np.asarray(image.convert("RGB"), np.float32)
    array = (
        array + rng.normal(0, sigma, array.shape[:2] + (1,)) + rng.normal(0, sigma / 2, array.shape)
    )
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def _frame(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    colour = [(255, 255, 255), (12, 12, 12), (128, 128, 128), (236, 228, 210)][
        int(rng.integers(0, 4))
    ]
    return ImageOps.expand(image.convert("RGB"), (round(w * 0.1), round(h * 0.1)), fill=colour)


def _turn(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = 4.0 * (1 if rng.uniform() < 0.5 else -1)
    fill = (0, 0, 0) if rng.uniform() < 0.5 else (255, 255, 255)
    return image.convert("RGB").rotate(angle, Image.Resampling.BILINEAR, fillcolor=fill)


def _stretch(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    if rng.uniform() < 0.5:
        return image.resize((round(w * 1.3), h), Image.Resampling.BICUBIC)
    return image.resize((w, round(h * 1.3)), Image.Resampling.BICUBIC)


def _enhance(kind: type[ImageEnhance._Enhance], low: float, high: float) -> Edit:
    def edit(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        factor = rng.uniform(low, high) if rng.uniform() < 0.5 else 1 / rng.uniform(low, high)
        return kind(image.convert("RGB")).enhance(factor)

    return edit


@dataclass(frozen=True)
class Transform:
    """A way to copy a picture: a pixel edit, then how the copy is saved."""

    tier: str
    edit: Edit | None
    fmt: str = "JPEG"
    params: tuple[tuple[str, object], ...] = ()
    keeps_exif: bool = True  # a copy that keeps the original's capture metadata


FAST_HEIC = {"preset": "ultrafast"}
TRANSFORMS: dict[str, Transform] = {
    # easy
    "resize_60": Transform("easy", lambda im, r: _resize(im, 0.6)),
    "thumbnail": Transform(
        "easy",
        lambda im, r: ImageOps.contain(im, (320, 320), Image.Resampling.BICUBIC),
        params=(("quality", 80),),
        keeps_exif=False,
    ),
    "jpeg_q25": Transform("easy", None, params=(("quality", 25),)),
    "png": Transform("easy", None, "PNG", (("compress_level", 1),)),
    "webp": Transform("easy", None, "WEBP", (("quality", 72),), keeps_exif=False),
    "heic": Transform("easy", None, "HEIF", (("quality", 60), ("enc_params", FAST_HEIC))),
    "exif_turned": Transform("easy", None),  # pixels stored turned, orientation tag set
    "gray": Transform("easy", lambda im, r: ImageOps.grayscale(im)),
    # medium
    "crop_5": Transform("medium", lambda im, r: _crop_share(im, r, 0.05)),
    "brightness": Transform("medium", _enhance(ImageEnhance.Brightness, 1.15, 1.3)),
    "contrast": Transform("medium", _enhance(ImageEnhance.Contrast, 1.2, 1.4)),
    "saturation": Transform("medium", _enhance(ImageEnhance.Color, 1.3, 1.7)),
    "label_3pct": Transform("medium", None),  # needs the split's font: see make_copy
    "blur": Transform(
        "medium",
        lambda im, r: im.filter(ImageFilter.GaussianBlur(max(im.size) / r.uniform(400, 550))),
    ),
    "noise": Transform("medium", lambda im, r: _gauss_noise(im, r, r.uniform(9, 14))),
    # with --rotations
    "mirror": Transform("rotations", lambda im, r: ImageOps.mirror(im)),
    "turn_90": Transform("rotations", lambda im, r: im.transpose(Image.Transpose.ROTATE_270)),
    "turn_180": Transform("rotations", lambda im, r: im.transpose(Image.Transpose.ROTATE_180)),
    "turn_270": Transform("rotations", lambda im, r: im.transpose(Image.Transpose.ROTATE_90)),
    # hard
    "crop_15": Transform("hard", lambda im, r: _crop_share(im, r, 0.15)),
    "border_10": Transform("hard", _frame),
    "turn_4deg": Transform("hard", _turn),
    "stretch_1.3": Transform("hard", _stretch),
}
if not HEIC:  # pragma: no cover
    del TRANSFORMS["heic"]
TIERS = ("easy", "medium", "rotations", "hard")


def make_copy(
    image: Image.Image, name: str, rng: np.random.Generator, split: str, exif: bytes
) -> Encoded:
    t = TRANSFORMS[name]
    params = dict(t.params)
    keep = exif if t.keeps_exif else b""
    if name == "exif_turned":
        # Stored turned a quarter (either way); the tag tells a viewer to turn it back.
        clockwise = rng.uniform() < 0.5
        stored = image.transpose(
            Image.Transpose.ROTATE_90 if clockwise else Image.Transpose.ROTATE_270
        )
        tagged = Image.Exif()
        if exif:
            tagged.load(exif)
        tagged[0x0112] = 6 if clockwise else 8
        return encode(stored, exif=tagged.tobytes(), quality=90)
    edited = _label(image, rng, split) if name == "label_3pct" else image
    if t.edit is not None:
        edited = t.edit(image, rng)
    return encode(edited, t.fmt, exif=keep, **params)


# ---------------------------------------------------------------- real pictures


def load_picture(path: Path, max_side: int = MAX_SIDE) -> Image.Image:
    with Image.open(path) as opened:
        opened.draft("RGB", (max_side, max_side))
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("P", "PA", "RGBA", "LA", "I;16", "I", "F"):
            if image.mode in ("I;16", "I", "F"):
                image = ImageOps.autocontrast(image.convert("F").convert("L"))
            else:
                rgba = image.convert("RGBA")
                back = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(back, rgba)
        image = image.convert("RGB")
    if max(image.size) > max_side:
        image = ImageOps.contain(image, (max_side, max_side), Image.Resampling.LANCZOS)
    return image


def skimage_data() -> Path | None:
    spec = find_spec("skimage")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    return folder if folder.is_dir() else None


def _plasma_wallpapers() -> list[Path]:
    """One raster image per wallpaper of plasma-workspace-wallpapers / desktop-base (the size
    nearest 1920 wide; the dark variants and SVG-only wallpapers left out)."""
    out = []
    root = Path("/usr/share/wallpapers")
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        images = folder / "contents" / "images"
        if not images.is_dir():
            continue
        raster = [p for p in images.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
        if raster:
            out.append(min(raster, key=lambda p: abs(_width_of(p.stem) - 1920)))
    return _unique(out)


def _width_of(stem: str) -> int:
    try:
        return int(stem.split("x")[0])
    except ValueError:
        return 0


def _unique(paths: Sequence[Path]) -> list[Path]:
    """Paths with distinct real files and contents (a symlinked wallpaper counted once)."""
    seen: set[str] = set()
    out = []
    for p in paths:
        if not p.is_file():
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(p)
    return out


RASTER = (".jpg", ".jpeg", ".png", ".webp", ".heif", ".heic", ".tif", ".tiff")


def _glob(root: Path, patterns: Sequence[str]) -> list[Path]:
    return sorted(
        {
            p
            for pattern in patterns
            for p in root.glob(pattern)
            if p.is_file() and p.suffix.lower() in RASTER
        }
    )


@dataclass(frozen=True)
class Pools:
    """Real pictures of one split, by use (no file is in two pools)."""

    photos: list[tuple[str, Path]]  # (source label, file): families with every copy
    lineart: list[tuple[str, Path]]
    textures: list[tuple[str, Path]]
    scenes: list[list[tuple[str, Path]]]  # sets of captures of one scene (look-alikes)
    lowlight: list[tuple[str, Path]]  # darkened into low-light shots
    smooth: list[tuple[str, Path]]  # blurred into smooth, foggy pictures
    bursts_from: list[tuple[str, Path]]  # stills that hand-held bursts are simulated from


def _deal(
    items: list[tuple[str, Path]], split: str, shares: Sequence[int]
) -> list[list[tuple[str, Path]]]:
    """Shuffle (seeded by the split) and deal the items into len(shares) pools, in proportion."""
    rng = np.random.default_rng(seed_of(split, "deal", len(items)))
    order = [items[k] for k in rng.permutation(len(items))]
    total = sum(shares)
    out, start = [], 0
    for k, share in enumerate(shares):
        end = len(order) if k == len(shares) - 1 else start + round(len(order) * share / total)
        out.append(order[start:end])
        start = end
    return out


def real_pools(split: str) -> Pools:
    if split == "tune":
        return _tune_pools()
    return _holdout_pools()


def _named(package: str, folder: Path, names: str) -> list[tuple[str, Path]]:
    """(label, file) for each of the space-separated file names present in folder."""
    return [(f"{package}:{n}", folder / n) for n in names.split() if (folder / n).is_file()]


def _labelled(prefix: str, paths: Sequence[Path], root: Path) -> list[tuple[str, Path]]:
    return [(f"{prefix}:{p.relative_to(root)}", p) for p in paths]


def _tune_pools() -> Pools:
    """tune: ../shared/real-images (the old benchmark tuned on it), scikit-image's bundled data,
    gnome-backgrounds and mate-backgrounds."""
    photos: list[tuple[str, Path]] = []
    lineart: list[tuple[str, Path]] = []
    textures: list[tuple[str, Path]] = []
    scenes: list[list[tuple[str, Path]]] = []
    spare: list[tuple[str, Path]] = []
    if SHARED.is_dir():
        cams = _glob(
            SHARED,
            [
                "exif-samples/jpg/exif-org/*.jpg",
                "exif-samples/heic/mobile/*.heif",
                "exif-samples/jpg/mobile/*.jpg",
                "exif-orientation-examples/*_1.jpg",
                "imagededup-tests/tests/data/base_images/*.jpg",
            ],
        )
        cams = [p for p in cams if "_hdr" not in p.name]
        labelled = _labelled("real-images", _unique(cams), SHARED)
        a, b = _deal(labelled, "tune", (2, 1))
        photos += a
        spare += b
        gps = _glob(SHARED, ["exif-samples/jpg/gps/DSCN00*.jpg"])
        if len(gps) >= 2:
            scenes.append(_labelled("real-images", gps, SHARED))
        hdr = _glob(SHARED, ["exif-samples/jpg/hdr/*.jpg"])
        for stem in ("canon", "iphone"):
            pair = [p for p in hdr if p.name.startswith(stem)]
            if len(pair) == 2:
                scenes.append(_labelled("real-images", pair, SHARED))
    data = skimage_data()
    if data is not None:
        photos += _named(
            "scikit-image",
            data,
            "astronaut.png coffee.png chelsea.png rocket.jpg"
            " hubble_deep_field.jpg ihc.png camera.png coins.png moon.png retina.jpg"
            " cell.png",
        )
        lineart += _named(
            "scikit-image",
            data,
            "text.png page.png horse.png logo.png"
            " chessboard_GRAY.png clock_motion.png phantom.png color.png",
        )
        textures += _named("scikit-image", data, "gravel.png grass.png brick.png")
        pair = [data / "motorcycle_left.png", data / "motorcycle_right.png"]
        if all(p.is_file() for p in pair):
            scenes.append([(f"scikit-image:{p.name}", p) for p in pair])
    backgrounds = Path("/usr/share/backgrounds")
    gnome = _labelled("gnome-backgrounds", _glob(backgrounds, ["gnome/*-l.*"]), backgrounds)
    mate = _labelled(
        "mate-backgrounds",
        _unique(_glob(backgrounds, ["mate/*/*.jpg", "mate/*/*.png"])),
        backgrounds,
    )
    mate = [m for m in mate if "x" not in Path(m[0]).stem.split("_")[-1]]  # one size of each
    # colour variants of one design (the same picture recoloured): one of each
    variants = ("Ubuntu-Mate-Cold", "Ubuntu-Mate-Dark", "Ubuntu-Mate-Radioactive", "Stripes-Dark")
    mate = [m for m in mate if not any(v in m[0] for v in variants)]
    a, b = _deal(gnome + mate, "tune", (1, 1))
    photos += a
    spare += b
    lowlight, smooth, bursts = _deal(spare, "tune", (2, 2, 1))
    return Pools(photos, lineart, textures, scenes, lowlight, smooth, bursts)


def _holdout_pools() -> Pools:
    """holdout: opencv-doc's sample data, plasma-workspace-wallpapers (with the desktop-base
    wallpapers it links) and sway-backgrounds."""
    photos: list[tuple[str, Path]] = []
    lineart: list[tuple[str, Path]] = []
    textures: list[tuple[str, Path]] = []
    scenes: list[list[tuple[str, Path]]] = []
    spare: list[tuple[str, Path]] = []
    if OPENCV.is_dir():

        def lab(names: Sequence[str]) -> list[tuple[str, Path]]:
            return _named("opencv-doc", OPENCV, " ".join(names))

        photos += lab(
            [
                "baboon.jpg",
                "fruits.jpg",
                "building.jpg",
                "butterfly.jpg",
                "aero1.jpg",
                "messi5.jpg",
                "home.jpg",
                "lena.jpg",
                "orange.jpg",
                "apple.jpg",
                "board.jpg",
                "smarties.png",
                "starry_night.jpg",
                "squirrel_cls.jpg",
                "stuff.jpg",
                "chicky_512.png",
                "licenseplate_motion.jpg",
                "ml.png",
                "pca_test1.jpg",
                "HappyFish.jpg",
                "box_in_scene.png",
            ]
        )
        lineart += lab(
            [
                "cards.png",
                "digits.png",
                "sudoku.png",
                "chessboard.png",
                "notes.png",
                "pic1.png",
                "pic3.png",
                "pic4.png",
                "pic5.png",
                "pic6.png",
                "LinuxLogo.jpg",
                "WindowsLogo.jpg",
                "detect_blob.png",
                "ellipses.jpg",
                "imageTextN.png",
                "opencv-logo.png",
                "blox.jpg",
                "box.png",
                "gradient.png",
            ]
        )
        scenes += [
            lab(p)
            for p in (
                ["aloeL.jpg", "aloeR.jpg"],
                ["basketball1.png", "basketball2.png"],
                ["rubberwhale1.png", "rubberwhale2.png"],
                ["Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg"],
                ["leuvenA.jpg", "leuvenB.jpg"],
                ["graf1.png", "graf3.png"],
                [f"left{k:02d}.jpg" for k in range(1, 15)],
            )
        ]
        scenes = [s for s in scenes if len(s) >= 2]
        spare += lab(
            ["aero3.jpg", "pic2.png", "ela_original.jpg", "text_defocus.jpg", "text_motion.jpg"]
        )
    plasma = _labelled(
        "plasma-workspace-wallpapers", _plasma_wallpapers(), Path("/usr/share/wallpapers")
    )
    sway = _labelled(  # one: its portrait versions are the same art cut to another shape
        "sway-backgrounds",
        _glob(Path("/usr/share/backgrounds"), ["sway/Sway_Wallpaper_Blue_2048x1536.png"]),
        Path("/usr/share/backgrounds"),
    )
    grub = _unique(_glob(Path("/usr/share/desktop-base"), ["*-theme/grub/grub-16x9.png"]))
    debian = _labelled("desktop-base", grub, Path("/usr/share/desktop-base"))
    top = _unique(_glob(Path("/usr/share/backgrounds"), ["*.jpg", "*.png"]))
    ukui = _labelled("ukui-wallpapers+lomiri-wallpapers", top, Path("/usr/share/backgrounds"))
    a, b = _deal(plasma + sway + debian + ukui, "holdout", (1, 1))
    photos += a
    spare += b
    for label, path in list(photos):
        if label.startswith("opencv-doc:") and path.name in ("starry_night.jpg", "baboon.jpg"):
            textures.append((label + "#texture", path))  # a textured crop, another picture
    lowlight, smooth, bursts = _deal(spare, "holdout", (2, 2, 1))
    return Pools(photos, lineart, textures, scenes, lowlight, smooth, bursts)


# ---------------------------------------------------------------- drawn pictures


def font(split: str, kind: str, size: int, k: int = 0) -> ImageFont.FreeTypeFont:
    names = SPLIT_FONTS[split][kind]
    return ImageFont.truetype(str(FONTS / names[k % len(names)]), size)


def text_words(split: str) -> list[str]:
    words: list[str] = []
    for name in SPLIT_TEXTS[split]:
        path = LICENSES / name
        if path.is_file():
            words += path.read_text(encoding="utf-8", errors="replace").split()
    return words or ["lorem", "ipsum", "dolor", "sit", "amet"]


def text_lines(split: str) -> list[str]:
    lines: list[str] = []
    for name in SPLIT_TEXTS[split]:
        path = LICENSES / name
        if path.is_file():
            lines += [
                ln.rstrip()
                for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
            ]
    return lines or ["lorem ipsum"]


def _wrap(
    draw: ImageDraw.ImageDraw, words: Iterator[str], face: ImageFont.FreeTypeFont, width: int
) -> str:
    line = ""
    for word in words:
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=face) > width:
            return line + "\x00" + word
        line = trial
    return line


def draw_page(split: str, rng: np.random.Generator, layout: int) -> Image.Image:
    """A document page: real licence text in one of five layouts."""
    words = text_words(split)
    start = int(rng.integers(0, max(1, len(words) - 3000)))
    stream = iter(words[start:] + words)
    w, h = [(850, 1100), (794, 1123), (1000, 1300)][int(rng.integers(0, 3))]
    page = Image.new("RGB", (w, h), (255, 255, 255) if rng.uniform() < 0.7 else (250, 247, 240))
    draw = ImageDraw.Draw(page)
    k = int(rng.integers(0, 4))
    size = int(rng.integers(15, 22))
    body = font(split, "serif" if layout in (0, 2) else "sans", size, k)
    margin = round(w * rng.uniform(0.08, 0.12))

    def column(
        x0: int, x1: int, y: int, y_end: int, face: ImageFont.FreeTypeFont, step: int
    ) -> None:
        carry = ""
        while y < y_end:
            line = _wrap(draw, _chain(carry, stream), face, x1 - x0)
            text, _, carry = line.partition("\x00")
            draw.text((x0, y), text, font=face, fill=(20, 20, 20))
            y += step

    title = " ".join(next(stream) for _ in range(int(rng.integers(2, 6)))).strip(".,;:").title()
    if layout == 0:  # one column with a heading
        draw.text((margin, margin), title, font=font(split, "bold", size * 2, k), fill=(0, 0, 0))
        column(margin, w - margin, margin + size * 4, h - margin, body, round(size * 1.45))
    elif layout == 1:  # two columns
        draw.text(
            (margin, margin), title, font=font(split, "bold", round(size * 1.6), k), fill=(0, 0, 0)
        )
        mid = w // 2
        column(margin, mid - 15, margin + size * 4, h - margin, body, round(size * 1.35))
        column(mid + 15, w - margin, margin + size * 4, h - margin, body, round(size * 1.35))
    elif layout == 2:  # a letter: address block, date, body, signature
        small = font(split, "sans", size - 2, k)
        for n in range(4):
            draw.text(
                (w - margin - 260, margin + n * size * 1.3),
                " ".join(next(stream) for _ in range(3)),
                font=small,
                fill=(40, 40, 40),
            )
        draw.text(
            (margin, margin + size * 8),
            f"{int(rng.integers(1, 29))} {['March', 'June', 'October'][k % 3]}"
            f" 20{int(rng.integers(10, 25))}",
            font=small,
            fill=(0, 0, 0),
        )
        column(margin, w - margin, margin + size * 11, h - margin * 3, body, round(size * 1.6))
        draw.line((margin, h - margin * 2, margin + 200, h - margin * 2), fill=(0, 0, 0), width=2)
    elif layout == 3:  # a code listing with line numbers
        lines = text_lines(split)
        first = int(rng.integers(0, max(1, len(lines) - 80)))
        mono = font(split, "mono", size - 3, k)
        step = round((size - 3) * 1.35)
        for n, y in enumerate(range(margin, h - margin, step)):
            draw.text((margin, y), f"{first + n + 1:4d}", font=mono, fill=(150, 150, 150))
            draw.text(
                (margin + 70, y), lines[(first + n) % len(lines)][:90], font=mono, fill=(10, 10, 60)
            )
    else:  # a slide: big title and bullets
        w, h = 1280, 720
        page = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(200, 256, 3)))
        draw = ImageDraw.Draw(page)
        draw.rectangle((0, 0, w, 110), fill=tuple(int(c) for c in rng.integers(20, 120, 3)))
        draw.text(
            (50, 55), title, font=font(split, "bold", 52, k), fill=(255, 255, 255), anchor="lm"
        )
        bullet = font(split, "sans", 30, k)
        for n in range(int(rng.integers(4, 8))):
            text = " ".join(next(stream) for _ in range(int(rng.integers(4, 9))))
            draw.ellipse((60, 170 + n * 70, 76, 186 + n * 70), fill=(40, 40, 40))
            draw.text((95, 160 + n * 70), text, font=bullet, fill=(20, 20, 20))
    return page


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(low, high, 3))
    return (r, g, b)


def draw_lineart(split: str, rng: np.random.Generator, kind: int) -> Image.Image:
    """Line art on white: a tiled pattern, a line drawing, a grid of digits, playing cards."""
    w, h = [(1024, 768), (800, 800), (768, 1024)][int(rng.integers(0, 3))]
    image = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    ink = _colour(rng, 0, 90)
    if kind == 0:  # a tiled pattern: one motif repeated
        cell = int(rng.integers(40, 110))
        motif = Image.new("RGB", (cell, cell), _colour(rng, 200, 256))
        md = ImageDraw.Draw(motif)
        for _ in range(int(rng.integers(2, 5))):
            x0, y0 = (int(v) for v in rng.integers(0, cell, 2))
            x1, y1 = (int(v) for v in rng.integers(0, cell, 2))
            shape = int(rng.integers(0, 3))
            box = (min(x0, x1), min(y0, y1), max(x0, x1) + 4, max(y0, y1) + 4)
            if shape == 0:
                md.ellipse(box, outline=ink, width=3)
            elif shape == 1:
                md.rectangle(box, fill=_colour(rng, 60, 200))
            else:
                md.line((x0, y0, x1, y1), fill=ink, width=4)
        for y in range(0, h, cell):
            for x in range(0, w, cell):
                image.paste(motif, (x, y))
    elif kind == 1:  # a line drawing: strokes, circles and a few hatched areas
        for _ in range(int(rng.integers(25, 60))):
            points = [tuple(float(v) for v in rng.uniform(0, 1, 2) * (w, h))]
            for _ in range(int(rng.integers(2, 7))):
                x, y = points[-1]
                points.append((x + rng.normal(0, w / 10), y + rng.normal(0, h / 10)))
            draw.line(points, fill=ink, width=int(rng.integers(1, 4)), joint="curve")
        for _ in range(int(rng.integers(3, 9))):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, 120)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=ink, width=2)
    elif kind == 2:  # a grid of digits
        face = font(
            split,
            "mono" if rng.uniform() < 0.5 else "sans",
            int(rng.integers(24, 44)),
            int(rng.integers(0, 4)),
        )
        step = int(face.size * 1.3)
        lines = rng.uniform() < 0.5
        for y in range(20, h - step, step):
            for x in range(20, w - step, step):
                draw.text((x, y), str(int(rng.integers(0, 10))), font=face, fill=ink)
        if lines:
            for y in range(10, h, step):
                draw.line((0, y, w, y), fill=(120, 120, 120))
            for x in range(10, w, step):
                draw.line((x, 0, x, h), fill=(120, 120, 120))
    else:  # playing-card-like graphics on white
        cw, ch = 180, 260
        face = font(split, "bold", 34, int(rng.integers(0, 4)))
        for n in range(int(rng.integers(2, 6))):
            x, y = (
                40 + n * (cw // 2 + int(rng.integers(20, 90))),
                int(rng.integers(30, max(31, h - ch - 30))),
            )
            card = Image.new("RGBA", (cw, ch), (0, 0, 0, 0))
            cd = ImageDraw.Draw(card)
            cd.rounded_rectangle(
                (0, 0, cw - 1, ch - 1),
                14,
                fill=(255, 255, 255, 255),
                outline=(30, 30, 30, 255),
                width=2,
            )
            red = rng.uniform() < 0.5
            colour = (200, 20, 30) if red else (15, 15, 15)
            rank = ["A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"][
                int(rng.integers(0, 13))
            ]
            cd.text((12, 8), rank, font=face, fill=colour)
            for _ in range(int(rng.integers(1, 9))):
                px, py = rng.uniform(40, cw - 40), rng.uniform(60, ch - 40)
                if red:
                    cd.polygon(
                        [(px, py - 18), (px + 14, py), (px, py + 18), (px - 14, py)], fill=colour
                    )
                else:
                    cd.ellipse((px - 12, py - 12, px + 12, py + 12), fill=colour)
                    cd.polygon([(px, py - 4), (px + 6, py + 20), (px - 6, py + 20)], fill=colour)
            card = card.rotate(float(rng.uniform(-25, 25)), Image.Resampling.BICUBIC, expand=True)
            image.paste(card, (min(x, w - 40), y), card)
    return image


def draw_texture(split: str, rng: np.random.Generator, kind: int) -> Image.Image:
    """Fine texture: a starry sky, gravel, foliage, or a filtered noise field."""
    w, h = [(1024, 768), (900, 900), (1024, 640)][int(rng.integers(0, 3))]
    if kind == 0:  # stars on a dark sky
        sky = np.zeros((h, w, 3), np.float32) + np.array(_colour(rng, 0, 25), np.float32)
        n = int(rng.integers(1500, 5000))
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        sky[ys, xs] = rng.uniform(80, 255, (n, 1)) * rng.uniform(0.8, 1.0, (n, 3))
        image = Image.fromarray(sky.clip(0, 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(0.6)
        )
        return ImageEnhance.Brightness(image).enhance(1.8)
    if kind == 1:  # gravel: many small stones
        image = Image.new("RGB", (w, h), _colour(rng, 60, 120))
        draw = ImageDraw.Draw(image)
        base = np.array(_colour(rng, 80, 180))
        for _ in range(int(rng.integers(6000, 12000))):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            r = rng.uniform(2, 9)
            tone = (base * rng.uniform(0.5, 1.3)).clip(0, 255)
            draw.ellipse(
                (x - r, y - r * rng.uniform(0.6, 1), x + r, y + r), fill=tuple(int(c) for c in tone)
            )
        return image.filter(ImageFilter.SMOOTH)
    if kind == 2:  # foliage: blobs of greens at several scales
        image = Image.new("RGB", (w, h), (20, 50, 15))
        draw = ImageDraw.Draw(image)
        for scale in (30, 14, 6):
            for _ in range(int(w * h / (scale * scale) * 1.2)):
                x, y = rng.uniform(0, w), rng.uniform(0, h)
                g = int(rng.integers(60, 200))
                draw.ellipse(
                    (x - scale, y - scale / 2, x + scale, y + scale / 2),
                    fill=(int(g * rng.uniform(0.2, 0.6)), g, int(g * rng.uniform(0.1, 0.4))),
                )
        return image
    field = rng.normal(0, 1, (h, w)).astype(np.float32)  # band-passed noise, colour tinted
    image = Image.fromarray(((field - field.min()) / np.ptp(field) * 255).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.8, 2.0))))
    image = ImageOps.autocontrast(image)
    return ImageOps.colorize(image, _colour(rng, 0, 100), _colour(rng, 150, 256))


def textured_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The most detailed third of a real picture (by local gradient energy), upscaled a little."""
    gray = np.asarray(image.convert("L"), np.float32)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    h, w = energy.shape
    cw, ch = w // 3, h // 3
    best, where = -1.0, (0, 0)
    for y in range(0, h - ch, max(1, ch // 4)):
        for x in range(0, w - cw, max(1, cw // 4)):
            e = float(energy[y : y + ch, x : x + cw].mean())
            if e > best:
                best, where = e, (x, y)
    x, y = where
    return image.crop((x, y, x + cw, y + ch)).resize((cw * 2, ch * 2), Image.Resampling.BICUBIC)


def draw_gradient(rng: np.random.Generator) -> Image.Image:
    """A smooth gradient: linear with two or three stops, or radial."""
    w, h = [(1024, 768), (1280, 800), (800, 1000)][int(rng.integers(0, 3))]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.uniform() < 0.65:
        angle = rng.uniform(0, 2 * np.pi)
        t = gx * np.cos(angle) + gy * np.sin(angle)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.hypot(gx - cx, gy - cy)
    t = (t - t.min()) / np.ptp(t)
    stops = [np.array(_colour(rng), np.float32) for _ in range(int(rng.integers(2, 4)))]
    pos = t * (len(stops) - 1)
    k = np.minimum(pos.astype(int), len(stops) - 2)
    frac = (pos - k)[..., None]
    low = np.stack(stops)[k]
    high = np.stack(stops)[k + 1]
    array = low * (1 - frac) + high * frac + rng.normal(0, 0.6, (h, w, 1))  # dithered
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def draw_minimal(rng: np.random.Generator) -> Image.Image:
    """A minimalist wallpaper: a plain ground with one or two large soft shapes."""
    w, h = [(1280, 800), (1024, 768), (1200, 1200)][int(rng.integers(0, 3))]
    image = Image.new("RGB", (w, h), _colour(rng, 30, 230))
    draw = ImageDraw.Draw(image)
    kind = int(rng.integers(0, 3))
    if kind == 0:
        r = rng.uniform(0.15, 0.35) * min(w, h)
        x, y = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng))
    elif kind == 1:
        y = rng.uniform(0.4, 0.8) * h
        points = [
            (x, y + math.sin(x / w * rng.uniform(2, 6)) * h * 0.06) for x in range(0, w + 20, 20)
        ]
        draw.polygon([*points, (w, h), (0, h)], fill=_colour(rng))
    else:
        for _ in range(2):
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            draw.polygon(
                [
                    (x0, y0),
                    (x0 + rng.uniform(-600, 600), y0 + rng.uniform(200, 700)),
                    (x0 + rng.uniform(-600, 600), y0 + rng.uniform(-700, -200)),
                ],
                fill=_colour(rng),
            )
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 12))))


def draw_low_detail(split: str, rng: np.random.Generator) -> Image.Image:
    """A low-detail graphic: a plain ground with one large glyph or shape (an icon, a logo)."""
    w, h = 900, 700
    image = Image.new("RGB", (w, h), _colour(rng, 150, 256))
    draw = ImageDraw.Draw(image)
    if rng.uniform() < 0.6:
        glyph = "ABCDEFGHJKMNPQRSTUVWXYZ0123456789&@#%?"[int(rng.integers(0, 37))]
        draw.text(
            (w // 2 + int(rng.integers(-150, 150)), h // 2 + int(rng.integers(-100, 100))),
            glyph,
            font=font(split, "bold", int(rng.integers(250, 420)), int(rng.integers(0, 4))),
            fill=_colour(rng, 0, 140),
            anchor="mm",
        )
    else:
        x, y, r = rng.uniform(250, 650), rng.uniform(200, 500), rng.uniform(80, 200)
        sides = int(rng.integers(3, 9))
        angle = rng.uniform(0, 2 * np.pi)
        draw.polygon(
            [
                (
                    x + r * math.cos(angle + 2 * math.pi * s / sides),
                    y + r * math.sin(angle + 2 * math.pi * s / sides),
                )
                for s in range(sides)
            ],
            fill=_colour(rng, 0, 160),
        )
    return image


def draw_screenshot(split: str, app: int, rng: np.random.Generator) -> Image.Image:
    """A screenshot of one app (the layout fixed by `app`) showing different content."""
    lines = text_lines(split)
    start = int(rng.integers(0, max(1, len(lines) - 60)))
    shown = [ln for ln in lines[start:] if ln.strip()][:60]
    layout = np.random.default_rng(seed_of(split, "app", app))  # the app's fixed look
    w, h = 1280, 800
    if app % 2 == 0:  # a terminal
        bg = _colour(layout, 0, 45)
        fg = _colour(layout, 170, 256)
        image = Image.new("RGB", (w, h), bg)
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, w, 34), fill=_colour(layout, 40, 90))
        draw.text(
            (w // 2, 17),
            f"user@host: ~/{shown[0][:20].strip()}",
            font=font(split, "sans", 16),
            fill=(230, 230, 230),
            anchor="mm",
        )
        mono = font(split, "mono", 17)
        y = 44
        for n, line in enumerate(shown):
            if y > h - 24:
                break
            if n % 7 == 0:
                draw.text((8, y), "$ ", font=mono, fill=_colour(layout, 80, 256))
                draw.text(
                    (30, y),
                    f"grep -n '{line.split()[0] if line.split() else 'x'}' notes.txt",
                    font=mono,
                    fill=fg,
                )
            else:
                draw.text((8, y), line[:118], font=mono, fill=fg)
            y += 22
        return image
    # a document viewer / browser: title bar, tabs, toolbar, sidebar, content
    accent = _colour(layout, 30, 200)
    image = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, w, 40), fill=(235, 235, 238))
    for t in range(4):
        draw.rounded_rectangle(
            (10 + t * 200, 6, 200 + t * 200, 40),
            6,
            fill=(255, 255, 255) if t == 0 else (220, 220, 225),
        )
    small = font(split, "sans", 14)
    draw.text((20, 16), shown[0][:24], font=small, fill=(20, 20, 20))
    draw.rectangle((0, 40, w, 80), fill=(250, 250, 250))
    draw.rounded_rectangle((120, 48, w - 200, 72), 10, fill=(238, 238, 242))
    draw.text(
        (135, 52),
        "https://docs.example/" + "-".join(shown[1].split()[:3]).lower()[:40],
        font=small,
        fill=(60, 60, 60),
    )
    draw.rectangle((0, 80, 240, h), fill=(245, 246, 250))
    for n in range(14):
        draw.text(
            (20, 100 + n * 30),
            " ".join(shown[(n * 3) % len(shown)].split()[:3])[:26],
            font=small,
            fill=accent if n == 2 else (50, 50, 50),
        )
    body = font(split, "serif", 19)
    draw.text(
        (280, 100), " ".join(shown[0].split()[:6]), font=font(split, "bold", 30), fill=(10, 10, 10)
    )
    y = 160
    for line in shown[1:]:
        if y > h - 30:
            break
        draw.text((280, y), line[:95], font=body, fill=(30, 30, 30))
        y += 28
    return image


def lowlight(
    image: Image.Image,
    rng: np.random.Generator,
    gamma: tuple[float, float] = (1.3, 1.8),
    light: tuple[float, float] = (0.07, 0.14),
) -> Image.Image:
    """A low-light shot: very little light (a share drawn from `light`, after a gamma drawn
    from `gamma`), a warm cast and sensor noise."""
    array = np.asarray(image.convert("RGB"), np.float32) / 255
    array = (
        array ** rng.uniform(*gamma) * rng.uniform(*light) * np.array([1.0, 0.9, 0.75], np.float32)
    )
    array = (
        array * 255 + rng.normal(0, 2.2, array.shape[:2] + (1,)) + rng.normal(0, 1.2, array.shape)
    )
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def smooth(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A smooth, foggy version of a picture: heavy blur and a veil of grey."""
    blurred = image.filter(ImageFilter.GaussianBlur(max(image.size) / rng.uniform(50, 90)))
    veil = Image.new("RGB", image.size, _colour(rng, 170, 230))
    return Image.blend(blurred, veil, float(rng.uniform(0.35, 0.55)))


def handheld(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another shot a moment later from the hand: a small shift, tilt and exposure change."""
    w, h = image.size
    dx, dy = rng.normal(0, 0.012) * w, rng.normal(0, 0.012) * h
    turned = image.rotate(float(rng.normal(0, 0.4)), Image.Resampling.BICUBIC, translate=(dx, dy))
    cut = round(0.03 * w), round(0.03 * h)
    shot = turned.crop((cut[0], cut[1], w - cut[0], h - cut[1]))
    shot = ImageEnhance.Brightness(shot).enhance(float(rng.uniform(0.94, 1.06)))
    return _gauss_noise(shot, rng, 2.5)


# ---------------------------------------------------------------- videos


def video_frames(video: Path, indices: Sequence[int], out: Path) -> list[Path]:
    """Extract the given frames (0-based) of a video as PNGs with ffmpeg, in order."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = sorted(set(indices))
    select = "+".join(f"eq(n\\,{n})" for n in wanted)
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(video),
        "-vf",
        f"select={select}",
        "-fps_mode",
        "passthrough",
        str(out / "f%05d.png"),
    ]
    subprocess.run(command, check=True)
    made = sorted(out.glob("f*.png"))
    if len(made) != len(wanted):
        raise RuntimeError(f"ffmpeg gave {len(made)} of {len(wanted)} frames of {video}")
    by_index = dict(zip(wanted, made, strict=True))
    return [by_index[n] for n in indices]


def video_info(video: Path) -> tuple[int, float]:
    """(frame count, frames per second) of a video, from ffprobe."""
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,r_frame_rate",
            "-of",
            "json",
            str(video),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    stream = json.loads(done.stdout)["streams"][0]
    num, den = stream["r_frame_rate"].split("/")
    return int(stream["nb_read_frames"]), float(num) / float(den)


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Job:
    """One picture to write: how to make it, where, and which copies of it."""

    folder: str  # relative to the split folder
    stem: str  # file name of the original, without extension
    cls: str
    family: str
    source: str
    recipe: tuple[object, ...]  # how render() makes the picture
    copies: tuple[str, ...]  # TRANSFORMS names, or "lk_resize" / "lk_jpeg" for look-alike copies
    lookalike: str = ""
    fmt: str = "JPEG"  # the original's format
    exif: tuple[str, str, float, int] | None = None  # make, model, capture offset, time seed
    seed: int = 0


FULL = tuple(TRANSFORMS)
LOOKALIKE_COPIES = {
    "lk_resize": lambda im: _resize(im, 0.55),
    "lk_jpeg": lambda im: im,  # re-encoded at another quality
}


def render(recipe: tuple[object, ...], split: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    kind = recipe[0]
    if kind == "file":
        return load_picture(Path(str(recipe[1])))
    if kind == "texcrop":
        return textured_crop(load_picture(Path(str(recipe[1])), 2048), rng)
    if kind == "frame":
        return load_picture(Path(str(recipe[1])))
    if kind == "page":
        return draw_page(split, rng, int(str(recipe[1])))
    if kind == "lineart":
        return draw_lineart(split, rng, int(str(recipe[1])))
    if kind == "texture":
        return draw_texture(split, rng, int(str(recipe[1])))
    if kind == "gradient":
        return draw_gradient(rng)
    if kind == "minimal":
        return draw_minimal(rng)
    if kind == "flat":
        w, h = recipe[2], recipe[3]
        return Image.new(
            "RGB", (int(str(w)), int(str(h))), tuple(int(c) for c in str(recipe[1]).split(","))
        )
    if kind == "lowdetail":
        return draw_low_detail(split, rng)
    if kind == "screenshot":
        return draw_screenshot(split, int(str(recipe[1])), rng)
    if kind == "lowlight":
        return lowlight(load_picture(Path(str(recipe[1]))), rng)
    if kind == "smooth":
        return smooth(load_picture(Path(str(recipe[1]))), rng)
    if kind == "handheld":
        base = load_picture(Path(str(recipe[1])))
        return base if int(str(recipe[2])) == 0 else handheld(base, rng)
    raise ValueError(f"unknown recipe {recipe!r}")


def shared_border(image: Image.Image, split: str) -> Image.Image:
    """The same 10% frame (one colour per split) around every picture of the set."""
    colour = (255, 255, 255) if split == "tune" else (24, 24, 28)
    w, h = image.size
    return ImageOps.expand(image, (round(w * 0.1), round(h * 0.1)), fill=colour)


def shared_mark(image: Image.Image, split: str) -> Image.Image:
    """The same watermark at the same place on every picture of the set."""
    rng = np.random.default_rng(seed_of(split, "shared-mark"))  # one mark for the whole set
    return _label(image, rng, split)


def plan(split: str, frames_dir: Path, quick: bool = False) -> list[Job]:
    """Every picture of a split. Needs ffmpeg for the video frames (written to frames_dir)."""
    jobs: list[Job] = []
    pools = real_pools(split)

    def fam(
        cls: str,
        name: str,
        source: str,
        recipe: tuple[object, ...],
        fmt: str = "JPEG",
        exif: tuple[str, str, float, int] | None = None,
    ) -> None:
        family = f"{cls}/{name}"
        jobs.append(
            Job(
                family,
                "original",
                cls,
                family,
                source,
                recipe,
                FULL,
                fmt=fmt,
                exif=exif,
                seed=seed_of(split, family),
            )
        )

    cams = [
        ("Canon", "EOS 80D"),
        ("NIKON CORPORATION", "NIKON D7500"),
        ("Apple", "iPhone 12"),
        ("Google", "Pixel 6"),
    ]
    for n, (label, path) in enumerate(pools.photos):
        make, model = cams[n % len(cams)]
        # Half the real photos carry a capture time (kept by most copies); half carry none.
        exif = (make, model, 0.0, seed_of(split, "t", label)) if n % 2 == 0 else None
        fam("photo", f"{n:03d}-{_slug(path.stem)}", label, ("file", str(path)), exif=exif)
    for n, (label, path) in enumerate(pools.lineart):
        fam("lineart", f"real{n:02d}-{_slug(path.stem)}", label, ("file", str(path)), fmt="PNG")
    for n, (label, path) in enumerate(pools.textures):
        recipe = ("texcrop", str(path)) if label.endswith("#texture") else ("file", str(path))
        fam("texture", f"real{n:02d}-{_slug(path.stem)}", label, recipe, fmt="PNG")
    drawn = (  # class, file stem, how many, recipe, kinds of it (cycled), what it is
        ("document", "page", 20, "page", 5, "licence text, layout"),
        ("lineart", "drawn", 16, "lineart", 4, "line art kind"),
        ("texture", "drawn", 12, "texture", 4, "texture kind"),
        ("gradient", "drawn", 10, "gradient", 0, "gradient"),
        ("wallpaper", "minimal", 10, "minimal", 0, "minimalist wallpaper"),
    )
    for cls, stem, count, kind, kinds, what in drawn:
        for n in range(count):
            recipe: tuple[object, ...] = (kind, n % kinds) if kinds else (kind,)
            source = f"drawn: {what} {n % kinds}" if kinds else f"drawn: {what}"
            fam(cls, f"{stem}{n:02d}", source, recipe, fmt="PNG")

    # flat one-colour pictures: distinct sizes and formats, a few byte-identical copies
    rng = np.random.default_rng(seed_of(split, "flat"))
    for n in range(16):
        colour = ",".join(str(c) for c in _colour(rng))
        if n % 4 == 1:  # the same colour as the one before, another size: still not a copy
            colour = jobs[-1].recipe[1]  # type: ignore[assignment]
        w, h = int(rng.integers(300, 1600)), int(rng.integers(300, 1200))
        family = f"flat/{n:02d}"
        fmt = ["PNG", "JPEG", "WEBP", "PNG"][n % 4]
        jobs.append(
            Job(
                family,
                "original",
                "flat",
                family,
                "drawn: one colour",
                ("flat", colour, w, h),
                ("byte_copy",) if n % 3 == 0 else (),
                fmt=fmt,
                seed=seed_of(split, family),
            )
        )

    def like(
        set_name: str,
        cls: str,
        member: str,
        source: str,
        recipe: tuple[object, ...],
        copies: tuple[str, ...],
        fmt: str = "JPEG",
        exif: tuple[str, str, float, int] | None = None,
    ) -> None:
        folder = f"like-{set_name}"
        family = f"{folder}/{member}"
        jobs.append(
            Job(
                folder,
                member,
                cls,
                family,
                source,
                recipe,
                copies,
                lookalike=set_name,
                fmt=fmt,
                exif=exif,
                seed=seed_of(split, family),
            )
        )

    # bursts from videos: shots 0.25-0.4 s apart, each with its own capture time, one camera
    with_copy = ("lk_jpeg", "lk_resize")
    for video, make, model in SPLIT_VIDEOS[split]:
        path = OPENCV / video
        if not path.is_file():
            continue
        frames, fps = video_info(path)
        vrng = np.random.default_rng(seed_of(split, "video", video))
        bursts = max(2, min(14, frames // int(fps * 1.5)))
        if quick:
            bursts = max(2, bursts // 3)
        starts = np.linspace(int(fps), frames - int(fps * 2), bursts).astype(int)  # past a fade-in
        indices: list[tuple[int, int, int]] = []  # (burst, shot, frame)
        for b, start in enumerate(starts):
            n = int(start)
            for s in range(int(vrng.integers(3, 6))):
                indices.append((b, s, n))
                n += max(1, round(fps * vrng.uniform(0.25, 0.4)))
                if n >= frames:
                    break
        files = video_frames(path, [i[2] for i in indices], frames_dir / _slug(video))
        time_seed = seed_of(split, "burst-time", video)
        for (b, s, n), frame in zip(indices, files, strict=True):
            copies = with_copy if s == 1 else ()
            like(
                f"burst-{_slug(video)}",
                "burst",
                f"b{b:02d}s{s}",
                f"opencv-doc:{video} frame {n}",
                ("frame", str(frame)),
                copies,
                exif=(make, model, n / fps + b * 7.0, time_seed),
            )
    # hand-held bursts simulated from real stills (weaker: the motion is made here)
    for n, (label, path) in enumerate(pools.bursts_from):
        for s in range(4):
            like(
                f"handheld-{n:02d}",
                "burst-still",
                f"s{s}",
                f"{label} (shot {s} simulated)",
                ("handheld", str(path), s),
                with_copy if s == 2 else (),
                exif=("FUJIFILM", "X-T30", s * 0.3, seed_of(split, "hh", label)),
            )
    # Drawn sets: same-app screenshots with different content, pages of one layout with
    # different text, low-detail graphics sharing a 10% border, others sharing a watermark.
    drawn_sets = (  # set, class, stem, how many (quick: fewer), source, recipe, copies, of every
        ("app0", "screenshot", "shot", 14, 8, "drawn: app layout 0, licence text",
         ("screenshot", 0), with_copy, 3),
        ("app1", "screenshot", "shot", 14, 8, "drawn: app layout 1, licence text",
         ("screenshot", 1), with_copy, 3),
        ("pages", "page", "p", 10, 5, "drawn: licence text, one layout", ("page", 0),
         ("lk_resize",), 1),
        ("border", "shared-border", "g", 18, 8, "drawn: low-detail graphic + the same border",
         ("lowdetail", "border"), ("lk_resize",), 2),
        ("mark", "shared-mark", "g", 18, 8, "drawn: low-detail graphic + the same watermark",
         ("lowdetail", "mark"), ("lk_resize",), 2),
    )  # fmt: skip
    for set_name, cls, stem, count, few, source, recipe, copies, every in drawn_sets:
        for n in range(few if quick else count):
            chosen = copies if n % every == 0 else ()
            like(set_name, cls, f"{stem}{n:02d}", source, recipe, chosen, fmt="PNG")
    # real photos made into low-light shots, and into smooth, foggy pictures
    made = (
        ("lowlight", pools.lowlight, "l", "darkened", ("lk_jpeg", "lk_resize")),
        ("smooth", pools.smooth, "m", "blurred, fogged", ("lk_resize", "lk_jpeg")),
    )
    for set_name, pool, stem, what, copies in made:
        for n, (label, path) in enumerate(pool):
            chosen = copies if n % 2 == 0 else ()
            like(
                set_name,
                set_name,
                f"{stem}{n:02d}",
                f"{label} ({what})",
                (set_name, str(path)),
                chosen,
            )
    for k, scene in enumerate(pools.scenes):
        for n, (label, path) in enumerate(scene):
            like(
                f"scene{k:02d}",
                "scene",
                f"c{n:02d}",
                label,
                ("file", str(path)),
                ("lk_jpeg",) if n == 0 else (),
            )
    if quick:
        keep = {j.family for j in jobs if j.lookalike} | {
            j.family for k, j in enumerate(jobs) if not j.lookalike and k % 3 == 0
        }
        jobs = [j for j in jobs if j.family in keep]
    return jobs


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:48]


# ---------------------------------------------------------------- writing


def write_job(job: Job, split: str, out: Path) -> list[Item]:
    """Write one picture and its copies under out/job.folder; returns their truth."""
    image = render(job.recipe, split, job.seed)
    if (
        job.cls not in ("flat", "lowlight")
        and float(np.asarray(image.convert("L"), np.float32).std()) < 4.0
    ):
        return []  # a (nearly) blank source picture, e.g. a transparent wallpaper: left out
    if job.recipe[0] == "lowdetail":
        image = (
            shared_border(image, split) if job.recipe[1] == "border" else shared_mark(image, split)
        )
    folder = out / job.folder
    folder.mkdir(parents=True, exist_ok=True)
    exif = b""
    if job.exif is not None:
        make, model, offset, time_seed = job.exif
        when, sub = _when(time_seed, offset)
        exif = capture_exif(make, model, when, sub)
    items: list[Item] = []

    def put(name: str, data: Encoded, transform: str, tier: str) -> None:
        rel = f"{job.folder}/{name}{data.ext}"
        (out / rel).write_bytes(data.data)
        items.append(
            Item(
                rel,
                split,
                job.cls,
                job.family,
                transform,
                tier,
                job.source,
                job.lookalike,
                job.cls == "flat",
                hashlib.sha256(data.data).hexdigest(),
            )
        )

    params: dict[str, object] = {"quality": 92} if job.fmt == "JPEG" else {}
    original = encode(image, job.fmt, exif=exif, **params)
    put(job.stem, original, "original", "original")
    for name in job.copies:
        rng = np.random.default_rng(seed_of(split, job.family, name))
        stem = f"{job.stem}-{name}" if job.lookalike else name
        if name == "byte_copy":
            put(stem, original, name, "exact")
        elif name in LOOKALIKE_COPIES:
            edited = LOOKALIKE_COPIES[name](image)
            put(
                stem,
                encode(edited, "JPEG", exif=exif, quality=int(rng.integers(70, 85))),
                name,
                "lookalike_copy",
            )
        else:
            put(stem, make_copy(image, name, rng, split, exif), name, TRANSFORMS[name].tier)
    return items


def _write(args: tuple[Job, str, str]) -> list[Item]:
    job, split, out = args
    return write_job(job, split, Path(out))


def recipe_key(split: str, jobs: Sequence[Job]) -> str:
    text = json.dumps(
        [RECIPE_VERSION, split, [asdict(j) for j in jobs], sorted(TRANSFORMS)],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Built:
    """A split's folder on disk, its truth, and how it was made."""

    folder: Path
    items: list[Item]
    seconds: float  # spent building it now (0: reused)
    # Real originals of different families (and not of one look-alike set) that look alike:
    # (file, file, correlation). Expected empty; a new package version could add one.
    ambiguous: list[tuple[str, str, float]]


def build(corpus: Path, split: str, jobs_n: int, quick: bool = False) -> Built:
    """Build (or reuse) one split under corpus/<split>[-quick]."""
    name = split + ("-quick" if quick else "")
    out = corpus / name
    corpus.mkdir(parents=True, exist_ok=True)
    with open(corpus / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once: the second waits and reuses
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="dedupe-frames-") as frames:
            jobs = plan(split, Path(frames), quick)
            key = recipe_key(split, [_stable(j) for j in jobs])
            manifest = out / "manifest.json"
            if manifest.is_file():
                stored = json.loads(manifest.read_text())
                if stored.get("recipe") == key:
                    items = [Item(**i) for i in stored["items"]]
                    if "ambiguous" not in stored:  # written before the check existed
                        stored["ambiguous"] = ambiguous(out, items)
                        manifest.write_text(json.dumps(stored, indent=0))
                    pairs = [(a, b, c) for a, b, c in stored["ambiguous"]]
                    return Built(out, items, 0.0, pairs)
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            items = []
            with ProcessPoolExecutor(max_workers=jobs_n) as pool:
                for part in pool.map(_write, [(j, split, str(out)) for j in jobs], chunksize=2):
                    items += part
        pairs = ambiguous(out, items)
        truth = {"recipe": key, "items": [asdict(i) for i in items], "ambiguous": pairs}
        manifest.write_text(json.dumps(truth, indent=0))
        return Built(out, items, time.perf_counter() - started, pairs)


def ambiguous(
    out: Path, items: Sequence[Item], limit: float = 0.97
) -> list[tuple[str, str, float]]:
    """Real originals of different families, not of one look-alike set, whose 24x24 grey
    thumbnails correlate above `limit`: sources that may be one picture (a recoloured or recut
    variant of one design), which would make a right answer count as a false pair."""
    originals = [
        i
        for i in items
        if i.transform == "original" and not i.flat and not i.source.startswith("drawn")
    ]
    rows = []
    for item in originals:
        with Image.open(out / item.rel) as opened:
            opened.draft("L", (96, 96))
            small = (
                ImageOps.exif_transpose(opened).convert("L").resize((24, 24), Image.Resampling.BOX)
            )
        a = np.asarray(small, np.float32).ravel()
        rows.append((a - a.mean()) / (a.std() + 1e-3))
    if len(rows) < 2:
        return []
    table = np.stack(rows)
    corr = table @ table.T / table.shape[1]
    found = []
    for a, b in zip(*np.nonzero(np.triu(corr, 1) > limit), strict=True):
        first, second = originals[int(a)], originals[int(b)]
        if not (first.lookalike and first.lookalike == second.lookalike):
            found.append((first.rel, second.rel, round(float(corr[a, b]), 3)))
    return found


def _stable(job: Job) -> Job:
    """The job without the temporary frame path (which changes every run)."""
    if job.recipe[0] != "frame":
        return job
    return Job(
        job.folder,
        job.stem,
        job.cls,
        job.family,
        job.source,
        ("frame",),
        job.copies,
        job.lookalike,
        job.fmt,
        job.exif,
        job.seed,
    )


def missing_sources() -> list[str]:
    """What the corpus would lack on this machine (package names, for the user)."""
    out = []
    if shutil.which("ffmpeg") is None:
        out.append("ffmpeg (apt)")
    if not OPENCV.is_dir():
        out.append("opencv-doc (apt)")
    if not (FONTS / "liberation").is_dir():
        out.append("fonts-liberation (apt)")
    if not (FONTS / "noto").is_dir():
        out.append("fonts-noto-core (apt)")
    if not (FONTS / "freefont").is_dir():
        out.append("fonts-freefont-ttf (apt)")
    if not Path("/usr/share/wallpapers").is_dir():
        out.append("plasma-workspace-wallpapers (apt)")
    if not Path("/usr/share/backgrounds/gnome").is_dir():
        out.append("gnome-backgrounds (apt)")
    if not Path("/usr/share/backgrounds/mate").is_dir():
        out.append("mate-backgrounds (apt)")
    if skimage_data() is None:
        out.append("scikit-image (pip)")
    return out


if __name__ == "__main__":  # pragma: no cover - a quick look at one split's plan
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        for j in plan(sys.argv[1] if len(sys.argv) > 1 else "tune", Path(tmp)):
            print(j.family, j.source, len(j.copies))
