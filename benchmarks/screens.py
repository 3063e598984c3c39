"""Screenshots of one app with other content, and their true copies (issue 16, round 4).

Not the accuracy benchmark's corpus: six layouts drawn here with Pillow (a file manager, a
chat app, a code editor, a settings panel, a terminal, a web page with a header), each shot
with its own content in the same window chrome (title bar, toolbar, sidebar), and per shot
its copies (resized 50%, JPEG quality 70, PNG <-> JPEG, a 3% label, gray), plus the real
photos of ../shared/real-images with their copies (crops, a 10% border, a 3% label, a 4
degree turn, noise, gray), which must stay found. Two parts with their own seeds, fonts and
window sizes: `tune` (DejaVu, FreeFont) and `check` (Liberation, Noto), looked at once, at
the end.

    .venv/bin/python benchmarks/screens.py OUT [--part tune|check]

builds the set under OUT/<part>/ (truth in OUT/<part>/truth.json), scans it with this
checkout's dedupe and prints the false pairs and missed copies of the report.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

FONTS = Path("/usr/share/fonts/truetype")
PART_FONTS = {
    "tune": ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSansMono.ttf", "freefont/FreeSans.ttf"),
    "check": (
        "liberation/LiberationSans-Regular.ttf",
        "liberation/LiberationMono-Regular.ttf",
        "noto/NotoSans-Regular.ttf",
    ),
    "final": (
        "noto/NotoSans-Regular.ttf",
        "liberation/LiberationMono-Regular.ttf",
        "liberation/LiberationSans-Regular.ttf",
    ),
}
PART_SEED = {"tune": 4104, "check": 9127, "final": 5531}
PART_SIZES = {
    "tune": ((1280, 800), (1440, 900)),
    "check": ((1366, 768), (1920, 1080)),
    "final": ((1600, 900), (1280, 1024)),
}
SHOTS = 6  # per layout: 15 pairs of other content each
REAL = Path(__file__).resolve().parents[2] / "shared" / "real-images"
_TEXT = (
    "report invoice photo holiday budget draft notes summary meeting plan backup archive "
    "project design review music video family garden travel school letter contract final "
    "build release config server client module tests docs change issue branch merge kernel "
    "window screen layout widget button label theme colour network privacy account display"
)
WORDS = _TEXT.split()


def font(part: str, which: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / PART_FONTS[part][which]), size)


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def chrome(draw: ImageDraw.ImageDraw, w: int, h: int, title: str, f: ImageFont.FreeTypeFont,
           accent: tuple[int, int, int], sidebar: int) -> None:  # fmt: skip
    """Title bar, toolbar and sidebar: the same in every shot of one layout."""
    draw.rectangle((0, 0, w, 34), fill=(46, 52, 64))
    draw.text((14, 8), title, font=f, fill=(236, 239, 244))
    for k, c in enumerate(((191, 97, 106), (235, 203, 139), (163, 190, 140))):
        draw.ellipse((w - 90 + 26 * k, 10, w - 76 + 26 * k, 24), fill=c)
    draw.rectangle((0, 34, w, 74), fill=(229, 233, 240))
    for k in range(7):
        draw.rounded_rectangle((12 + 44 * k, 41, 44 + 44 * k, 67), 5, fill=accent)
    draw.rectangle((w - 300, 44, w - 16, 64), fill=(255, 255, 255), outline=(160, 160, 160))
    if sidebar:
        draw.rectangle((0, 74, sidebar, h), fill=(236, 239, 244))
        for k, name in enumerate(("Home", "Desktop", "Documents", "Downloads", "Music",
                                  "Pictures", "Videos", "Trash", "Network", "Other")):  # fmt: skip
            draw.rectangle((14, 96 + 36 * k, 30, 112 + 36 * k), fill=accent)
            draw.text((40, 94 + 36 * k), name, font=f, fill=(40, 40, 40))


def window(w: int, h: int, background: tuple[int, int, int], title: str,
           f: ImageFont.FreeTypeFont, accent: tuple[int, int, int],
           sidebar: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:  # fmt: skip
    """A w x h window of one background with its chrome drawn (see chrome)."""
    image = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(image)
    chrome(draw, w, h, title, f, accent, sidebar)
    return image, draw


def file_manager(part: str, rng: random.Random, w: int, h: int) -> Image.Image:
    f = font(part, 0, 15)
    image, draw = window(w, h, (255, 255, 255), "Files - /home/user", f, (94, 129, 172), 220)
    draw.rectangle((220, 74, w, 104), fill=(245, 245, 245))
    for x, head in ((270, "Name"), (w - 420, "Size"), (w - 260, "Modified")):
        draw.text((x, 80), head, font=f, fill=(90, 90, 90))
    y = 112
    while y < h - 30:
        icon = rng.choice(((94, 129, 172), (208, 135, 112), (163, 190, 140), (180, 142, 173)))
        draw.rectangle((236, y + 2, 256, y + 20), fill=icon)
        name = "_".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        draw.text((270, y), name + rng.choice((".pdf", ".jpg", ".txt", ".odt", "")), font=f,
                  fill=(30, 30, 30))  # fmt: skip
        draw.text((w - 420, y), f"{rng.randint(1, 999)} {rng.choice(('KB', 'MB'))}", font=f,
                  fill=(80, 80, 80))  # fmt: skip
        draw.text((w - 260, y), f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                  font=f, fill=(80, 80, 80))  # fmt: skip
        y += 30
    return image


def chat(part: str, rng: random.Random, w: int, h: int) -> Image.Image:
    f = font(part, 2, 16)
    image, draw = window(w, h, (250, 250, 252), "Chat - #general", f, (136, 192, 208), 260)
    draw.rectangle((260, h - 70, w, h), fill=(236, 239, 244))
    draw.rounded_rectangle((280, h - 56, w - 30, h - 16), 10, fill=(255, 255, 255))
    y = 96
    while y < h - 150:
        mine = rng.random() < 0.4
        lines = rng.randint(1, 3)
        text = "\n".join(words(rng, rng.randint(3, 9)) for _ in range(lines))
        box = draw.multiline_textbbox((0, 0), text, font=f)
        bw, bh = box[2] + 28, box[3] + 20
        x = w - 40 - bw if mine else 330
        if not mine:
            draw.ellipse((280, y, 316, y + 36), fill=rng.choice(((191, 97, 106), (94, 129, 172),
                                                                 (163, 190, 140))))  # fmt: skip
        draw.rounded_rectangle((x, y, x + bw, y + bh), 12,
                               fill=(94, 129, 172) if mine else (229, 233, 240))  # fmt: skip
        draw.multiline_text((x + 14, y + 10), text, font=f,
                            fill=(255, 255, 255) if mine else (30, 30, 30))  # fmt: skip
        y += bh + 18
    return image


def editor(part: str, rng: random.Random, w: int, h: int) -> Image.Image:
    f, mono = font(part, 0, 14), font(part, 1, 15)
    image, draw = window(w, h, (40, 44, 52), "editor - main.py", f, (97, 175, 239), 0)
    draw.rectangle((0, 74, 240, h), fill=(33, 37, 43))
    for k in range(18):
        draw.text((20, 90 + 26 * k), f"module_{k}.py", font=f, fill=(171, 178, 191))
    draw.rectangle((240, h - 26, w, h), fill=(97, 175, 239))
    y, indent = 88, 0
    colours = ((198, 120, 221), (152, 195, 121), (229, 192, 123), (97, 175, 239), (171, 178, 191))
    for line in range(1, (h - 120) // 20):
        draw.text((250, y), f"{line:4d}", font=mono, fill=(92, 99, 112))
        x = 310 + 36 * indent
        for _ in range(rng.randint(0, 6)):
            token = rng.choice(WORDS) + rng.choice(("", "(", ")", ":", " =", "."))
            draw.text((x, y), token, font=mono, fill=rng.choice(colours))
            x += int(draw.textlength(token + " ", font=mono))
        indent = max(0, min(4, indent + rng.choice((-1, 0, 0, 1))))
        y += 20
    return image


def settings(part: str, rng: random.Random, w: int, h: int) -> Image.Image:
    f, big = font(part, 2, 16), font(part, 2, 24)
    image, draw = window(w, h, (246, 246, 246), "Settings", f, (129, 161, 193), 250)
    draw.text((290, 92), rng.choice(("Display", "Network", "Privacy", "Sound", "Power")),
              font=big, fill=(20, 20, 20))  # fmt: skip
    y = 150
    while y < h - 70:
        draw.rounded_rectangle((280, y, w - 40, y + 56), 8, fill=(255, 255, 255),
                               outline=(220, 220, 220))  # fmt: skip
        draw.text((300, y + 8), words(rng, rng.randint(2, 4)).title(), font=f, fill=(20, 20, 20))
        draw.text((300, y + 30), words(rng, rng.randint(4, 8)), font=font(part, 2, 12),
                  fill=(120, 120, 120))  # fmt: skip
        kind = rng.random()
        if kind < 0.5:
            on = rng.random() < 0.5
            draw.rounded_rectangle((w - 120, y + 16, w - 70, y + 40), 12,
                                   fill=(94, 129, 172) if on else (190, 190, 190))  # fmt: skip
            cx = w - 84 if on else w - 108
            draw.ellipse((cx - 10, y + 18, cx + 10, y + 38), fill=(255, 255, 255))
        else:
            draw.rectangle((w - 260, y + 16, w - 70, y + 40), outline=(180, 180, 180))
            draw.text((w - 250, y + 18), rng.choice(WORDS), font=f, fill=(40, 40, 40))
        y += 70
    return image


def terminal(part: str, rng: random.Random, w: int, h: int) -> Image.Image:
    f, mono = font(part, 0, 14), font(part, 1, 15)
    image, draw = window(w, h, (30, 30, 30), "user@host: ~/src", f, (120, 120, 120), 0)
    y = 84
    colours = ((220, 220, 220), (152, 195, 121), (229, 192, 123), (224, 108, 117))
    while y < h - 24:
        if rng.random() < 0.2:
            text = "user@host:~/src$ " + " ".join(rng.choice(WORDS) for _ in range(3))
            fill = (152, 195, 121)
        else:
            text = "  ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
            fill = rng.choice(colours)
        draw.text((10, y), text, font=mono, fill=fill)
        y += 19
    return image


def web(part: str, rng: random.Random, w: int, h: int) -> Image.Image:
    f, big = font(part, 2, 16), font(part, 2, 34)
    image, draw = window(w, h, (255, 255, 255), "News - Browser", f, (208, 135, 112), 0)
    draw.rectangle((0, 74, w, 170), fill=(191, 97, 106))
    draw.text((40, 100), "THE DAILY SITE", font=big, fill=(255, 255, 255))
    for k, item in enumerate(("World", "Tech", "Science", "Sport", "Culture")):
        draw.text((w - 560 + 100 * k, 116), item, font=f, fill=(255, 240, 240))
    draw.rectangle((w - 300, 190, w - 30, h - 30), fill=(240, 240, 240))
    for k in range(6):
        draw.text((w - 280, 210 + 40 * k), words(rng, 2), font=f, fill=(60, 60, 60))
    y = 196
    draw.text((40, y), words(rng, 5).title(), font=font(part, 2, 28), fill=(20, 20, 20))
    y += 50
    if rng.random() < 0.7:
        colour = tuple(rng.randint(40, 220) for _ in range(3))
        ph = rng.randint(120, 260)
        draw.rectangle((40, y, w - 340, y + ph), fill=colour)  # type: ignore[arg-type]
        for _ in range(6):
            x0, y0 = rng.randint(40, w - 400), rng.randint(y, y + ph - 30)
            draw.ellipse((x0, y0, x0 + rng.randint(20, 120), y0 + rng.randint(20, 80)),
                         fill=tuple(rng.randint(0, 255) for _ in range(3)))  # type: ignore[arg-type]  # fmt: skip
        y += ph + 20
    while y < h - 40:
        draw.text((40, y), words(rng, rng.randint(8, 14)), font=f, fill=(40, 40, 40))
        y += 24
    return image


LAYOUTS: dict[str, Callable[[str, random.Random, int, int], Image.Image]] = {
    "files": file_manager,
    "chat": chat,
    "editor": editor,
    "settings": settings,
    "terminal": terminal,
    "web": web,
}


def label(image: Image.Image, rng: random.Random, part: str, share: float = 0.03) -> Image.Image:
    """A light box with a caption over about `share` of the picture, in a corner."""
    out = image.convert("RGB")
    w, h = out.size
    bw, bh = int(w * (share * 4) ** 0.5), int(h * (share / 4) ** 0.5)
    x = rng.choice((10, w - bw - 10))
    y = rng.choice((10, h - bh - 10))
    draw = ImageDraw.Draw(out)
    draw.rectangle((x, y, x + bw, y + bh), fill=(250, 250, 240))
    draw.text((x + 8, y + 4), "shared 2026-12-02", font=font(part, 0, max(10, bh // 2)),
              fill=(20, 20, 20))  # fmt: skip
    return out


def jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def crop(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    dx, dy = round(w * share), round(h * share)
    return image.crop((dx, dy, w - dx, h - dy))


def border(image: Image.Image, share: float) -> Image.Image:
    w, h = image.size
    return ImageOps.expand(image.convert("RGB"), (round(w * share), round(h * share)), (0, 0, 0))


def noise(image: Image.Image, rng: random.Random) -> Image.Image:
    import numpy as np

    a = np.asarray(image.convert("RGB"), np.float32)
    noisy = a + np.random.default_rng(rng.randint(0, 2**31)).normal(0, 8, a.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def screen_copies(shot: Image.Image, rng: random.Random, part: str) -> dict[str, bytes]:
    w, h = shot.size
    return {
        "half.png": png(shot.resize((w // 2, h // 2), Image.Resampling.LANCZOS)),
        "q70.jpg": jpeg(shot, 70),
        "asjpeg.jpg": jpeg(shot, 92),
        "label.png": png(label(shot, rng, part)),
        "gray.png": png(shot.convert("L")),
        "crop5.png": png(crop(shot, 0.05)),
    }


def photo_copies(photo: Image.Image, rng: random.Random, part: str) -> dict[str, bytes]:
    w, h = photo.size
    return {
        "half.jpg": jpeg(photo.resize((w // 2, h // 2), Image.Resampling.LANCZOS), 85),
        "q70.jpg": jpeg(photo, 70),
        "aspng.png": png(photo),
        "label.jpg": jpeg(label(photo, rng, part), 90),
        "gray.jpg": jpeg(photo.convert("L"), 90),
        "crop5.jpg": jpeg(crop(photo, 0.05), 90),
        "crop15.jpg": jpeg(crop(photo, 0.15), 90),
        "border10.jpg": jpeg(border(photo, 0.10), 90),
        "turn4.jpg": jpeg(photo.rotate(4, Image.Resampling.BICUBIC, expand=True), 90),
        "noise.jpg": jpeg(noise(photo, rng), 90),
        "blur.jpg": jpeg(photo.filter(ImageFilter.GaussianBlur(1.5)), 90),
    }


def real_photos(part: str) -> list[Path]:
    """The real photos of a part: camera JPEGs of exif-samples (not the HDR or GPS series,
    which are look-alikes), every other one to each part."""
    found = sorted((REAL / "exif-samples" / "jpg").glob("*.jpg"))
    base = REAL / "imagededup-tests" / "tests" / "data" / "base_images"
    found += sorted(p for p in base.glob("*.jpg") if "_gray" not in p.name)
    return found[0::2] if part == "tune" else found[1::2]


def build(out: Path, part: str) -> dict[str, str]:
    """The set of a part under out/<part>: {relative path: the picture it is a copy of}."""
    rng = random.Random(PART_SEED[part])
    root = out / part
    truth: dict[str, str] = {}
    for name, draw in LAYOUTS.items():
        size = rng.choice(PART_SIZES[part])
        for shot in range(SHOTS):
            picture = draw(part, random.Random(rng.randint(0, 2**31)), *size)
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            stem = f"{name}-{shot}"
            original = folder / f"{stem}.png"
            original.write_bytes(png(picture))
            truth[str(original.relative_to(root))] = stem
            if shot % 2 == 0:  # copies of half of the shots
                for suffix, data in screen_copies(picture, rng, part).items():
                    path = folder / f"{stem}-{suffix}"
                    path.write_bytes(data)
                    truth[str(path.relative_to(root))] = stem
    for k, source in enumerate(real_photos(part)):
        with Image.open(source) as opened:
            photo = ImageOps.exif_transpose(opened).convert("RGB")
        photo.thumbnail((1600, 1600))
        folder = root / "photos"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"photo-{k}"
        original = folder / f"{stem}.jpg"
        original.write_bytes(jpeg(photo, 95))
        truth[str(original.relative_to(root))] = stem
        for suffix, data in photo_copies(photo, rng, part).items():
            path = folder / f"{stem}-{suffix}"
            path.write_bytes(data)
            truth[str(path.relative_to(root))] = stem
    (root / "truth.json").write_text(json.dumps(truth, indent=0))
    return truth


def score(report: dict[str, object], root: Path, truth: dict[str, str]) -> dict[str, object]:
    """False pairs (in groups proposing a trash, and in any group) and the copies missed
    (a copy not in its original's group)."""
    false_any, false_trash, found_pairs = [], [], set()
    grouped: dict[str, int] = {}
    for n, group in enumerate(report["groups"]):  # type: ignore[attr-defined]
        files = [str(Path(f["path"]).resolve().relative_to(root.resolve())) for f in group["files"]]
        trash = any(f.get("action") == "trash" for f in group["files"])
        for f in files:
            grouped[f] = n
        for x, y in combinations(files, 2):
            if truth[x] != truth[y]:
                false_any.append((x, y))
                if trash:
                    false_trash.append((x, y))
            else:
                found_pairs.add((x, y))
    copies = [(p, s) for p, s in truth.items() if Path(p).stem != s]
    missed = []
    for path, stem in copies:
        original = next(p for p, s in truth.items() if s == stem and Path(p).stem == stem)
        if grouped.get(path) is None or grouped.get(path) != grouped.get(original):
            missed.append(path)
    return {"false_any": false_any, "false_trash": false_trash, "copies": len(copies),
            "missed": missed}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--part", choices=tuple(PART_SEED), default="tune")
    parser.add_argument("--dedupe-root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--no-build", action="store_true", help="reuse a built set")
    args = parser.parse_args(argv)
    root = args.out / args.part
    if args.no_build:
        truth = json.loads((root / "truth.json").read_text())
    else:
        truth = build(args.out, args.part)
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "dedupe", "-q", "scan", str(root), "--no-cache", "--report",
             str(report_path), "--format", "json"],
            check=True, stdout=subprocess.DEVNULL,
            env={"PYTHONPATH": str(args.dedupe_root), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        report = json.loads(report_path.read_text())
    found = score(report, root, truth)
    shots = sum(1 for p, s in truth.items() if Path(p).stem == s)
    print(f"{args.part}: {len(truth)} files ({shots} originals), {found['copies']} copies")
    print(f"false pairs in groups proposing a trash: {len(found['false_trash'])}"  # type: ignore[arg-type]
          f" (in any group: {len(found['false_any'])})")  # type: ignore[arg-type]  # fmt: skip
    for x, y in found["false_trash"]:  # type: ignore[attr-defined]
        print(f"  false: {x} ~ {y}")
    print(f"copies missed: {len(found['missed'])} of {found['copies']}")  # type: ignore[arg-type]
    for path in found["missed"]:  # type: ignore[attr-defined]
        print(f"  missed: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
