"""The match (issue 16) on real files: copies of pictures the old 16x16 check called "too
little detail" are found, look-alikes are not copies, two shots are never copies, only flat
images are refused, and every file proposed for trash was checked against the kept one."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, Library, photo
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from dedupe import decode, verify
from dedupe.cache import HashCache
from dedupe.cluster import check_pair, cluster
from dedupe.groups import build_groups
from dedupe.models import ImageRecord, KeepRules, Settings
from dedupe.scan import fingerprint_file, scan

FONTS = Path("/usr/share/fonts/truetype/dejavu")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = FONTS / "DejaVuSerif.ttf"
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def page(seed: int) -> Image.Image:
    """A page of rendered text: ragged lines of words, a paragraph break now and then."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    words = [
        "the",
        "of",
        "copies",
        "and",
        "picture",
        "which",
        "keeps",
        "a",
        "file",
        "every",
        "scan",
        "in",
        "one",
    ]
    y = 70
    while y < 1020:
        line = " ".join(rng.choice(words, int(rng.integers(5, 11))))
        draw.text((70, y), line, font=font(19), fill="black")
        y += 52 if rng.random() < 0.15 else 27
    return image


def texture(seed: int) -> Image.Image:
    """Fine random texture (gravel, foliage): no structure at 16x16."""
    noise = np.random.default_rng(seed).integers(0, 256, (300, 400), dtype=np.uint8)
    return Image.fromarray(noise).resize((800, 600), Image.Resampling.NEAREST).convert("RGB")


def line_art(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (800, 800), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        draw.line([tuple(rng.integers(0, 800, 2)) for _ in range(2)], fill="black", width=3)
    return image


def stamped(image: Image.Image) -> Image.Image:
    """A light caption box over about 3% of the picture, in a corner (a date stamp)."""
    out = image.copy()
    w, h = out.size
    box = (int(0.72 * w), int(0.83 * h), int(0.95 * w), int(0.96 * h))
    draw = ImageDraw.Draw(out)
    draw.rectangle(box, fill=(245, 245, 245))
    draw.text((box[0] + 8, box[1] + 6), "2021-06-05", font=font(max(10, h // 30)), fill="black")
    return out


def bordered(image: Image.Image, colour: tuple[int, int, int], share: float = 0.1) -> Image.Image:
    w, h = image.size
    out = Image.new("RGB", (int(w * (1 + 2 * share)), int(h * (1 + 2 * share))), colour)
    out.paste(image, (int(w * share), int(h * share)))
    return out


def signature_of(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    """The check signature exactly as a scan computes it, through an encoded file."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    decoded = decode.decode(buffer.getvalue(), gray=True)
    return verify.signature(decoded.image, decoded.capture, decoded.chroma)


def half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


@pytest.mark.parametrize("make", [page, texture, line_art], ids=["text", "texture", "lineart"])
def test_copies_of_detail_the_old_check_could_not_see_are_found(make) -> None:  # type: ignore[no-untyped-def]
    """A resized, re-encoded or stamped copy of a text page, a fine texture or line art is one
    picture with it; another page, texture or drawing is not."""
    original = signature_of(make(1), "PNG")
    assert not verify.is_low_information(original)
    for copy in (half(make(1)), make(1)):
        assert verify.accept(original, signature_of(copy, quality=85))
    assert verify.accept(original, signature_of(stamped(make(1)), quality=90))
    assert not verify.accept(original, signature_of(make(2), "PNG"))
    assert not verify.accept(original, signature_of(half(make(2)), quality=85))


def test_only_a_one_colour_picture_is_too_flat_to_compare() -> None:
    flat = [Image.new("RGB", (640, 480), c) for c in ("white", "black", (30, 90, 200))]
    ramp = np.tile(np.linspace(40, 90, 640), (480, 1)).astype(np.uint8)  # a faint gradient
    assert all(verify.is_low_information(signature_of(i, "PNG")) for i in flat)
    gradient = Image.fromarray(ramp).convert("RGB")
    signature = signature_of(gradient, "PNG")
    assert not verify.is_low_information(signature)
    assert verify.accept(signature, signature_of(half(gradient), quality=90))
    assert not verify.accept(
        signature, signature_of(gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG")
    )


def test_a_border_is_trimmed_and_a_shared_border_is_no_likeness() -> None:
    picture = photo(3, (600, 400))
    framed = signature_of(bordered(picture, (0, 0, 0)), quality=92)
    assert verify.accept(signature_of(picture, quality=92), framed)
    # two different pictures in the same wide frame: the frame alone matches
    other = signature_of(bordered(photo(4, (600, 400)), (0, 0, 0)), quality=92)
    assert not verify.accept(framed, other)


def screen(content: int) -> Image.Image:
    """A screenshot of one app: the same bars and sidebar, another content area."""
    image = Image.new("RGB", (1280, 800), (246, 246, 246))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1280, 56), fill=(36, 84, 160))
    draw.rectangle((0, 56, 250, 800), fill=(226, 229, 233))
    for k in range(9):
        draw.rectangle((20, 80 + 70 * k, 230, 120 + 70 * k), fill=(200, 205, 212))
    inner = photo(100 + content, (900, 640))
    image.paste(inner, (300, 110))
    return image


def test_screenshots_of_one_app_with_other_content_are_not_copies() -> None:
    first = signature_of(screen(1), "PNG")
    assert verify.accept(first, signature_of(half(screen(1)), quality=85))  # its own copy
    assert not verify.accept(first, signature_of(screen(2), "PNG"))


def exif(when: str, subseconds: str, model: str = "Test Camera") -> Image.Exif:
    data = Image.Exif()
    data[0x010F], data[0x0110] = "Maker", model
    ifd = data.get_ifd(0x8769)
    ifd[36867], ifd[0x9291] = when, subseconds
    return data


def burst(library: Library) -> list[Path]:
    """Three shots 0.3 s apart (the camera moved by a few pixels between them), each with its
    EXIF capture time; one of them also as a smaller re-encoded copy that keeps its EXIF."""
    scene = photo(7, (960, 720))
    paths = []
    for k in range(3):
        shot = scene.crop((4 * k, 3 * k, 900 + 4 * k, 675 + 3 * k))
        if k == 2:
            shot = shot.filter(ImageFilter.GaussianBlur(2))  # the shake blurred this one
        tags = exif("2024:05:01 10:00:00", f"{300 * k:03d}")
        paths.append(library.save(f"burst/shot{k}.jpg", shot, quality=92, exif=tags))
        if k == 1:
            library.save("burst/shot1-small.jpg", half(shot), quality=80, exif=tags)
    return paths


def test_capture_times_tell_two_shots_from_two_copies(library: Library) -> None:
    shots = burst(library)
    settings = Settings()
    first, second = (fingerprint_file(str(p), settings) for p in shots[:2])
    small = fingerprint_file(str(library.root / "burst/shot1-small.jpg"), settings)
    assert first and second and small  # (Hashed values)
    a, b, c = (x.fingerprint.check for x in (first, second, small))  # type: ignore[union-attr]
    # the pixels alone: one picture; the capture times: two shots
    found = verify.judge(a, b)[1]
    assert found.kind[0] == verify.SHOTS and found.apart_ms[0] == 300 and found.same_camera[0]
    assert verify.judge(b, c)[1].kind[0] == verify.COPY  # the copy keeps the shot's time


def scanned(root: Path, rules: KeepRules | None = None) -> list[tuple[str, list[tuple[str, str]]]]:
    settings = Settings()
    result = scan((str(root),), settings, HashCache.memory(settings))
    groups = build_groups(result.records, settings, rules or KeepRules())
    return [
        (g.kind, [(str(Path(m.record.path).relative_to(root)), m.action) for m in g.members])
        for g in groups
    ]


def test_similar_shots_are_a_group_that_trashes_nothing_unless_asked(library: Library) -> None:
    burst(library)
    groups = scanned(library.root)
    assert groups == [
        ("shots", [("burst/shot0.jpg", "keep"), ("burst/shot2.jpg", "keep")]),
        ("similar", [("burst/shot1.jpg", "keep"), ("burst/shot1-small.jpg", "trash")]),
    ]
    # the opt-in: the sharper shot is kept, the blurred one proposed for trash
    culled = scanned(library.root, KeepRules(bursts="keep-sharpest"))
    assert culled[0] == ("shots", [("burst/shot0.jpg", "keep"), ("burst/shot2.jpg", "trash")])
    assert culled[1] == groups[1]


def test_the_bursts_option_and_the_report(cli: Cli, library: Library, tmp_path: Path) -> None:
    burst(library)
    report = tmp_path / "report.json"
    code, out, _ = cli("scan", str(library.root), "--no-cache", "--report", str(report))
    assert code == 0 and "similar shots" in out
    data = json.loads(report.read_text())
    assert data["settings"]["bursts"] == "keep-all"
    shots = [g for g in data["groups"] if g["kind"] == "shots"]
    assert len(shots) == 1 and {f["action"] for f in shots[0]["files"]} == {"keep"}
    assert "similar shots" in shots[0]["files"][0]["reason"]
    code, out, _ = cli("review", "--report", str(report), "--bursts", "keep-sharpest", "--no-input")
    assert code == 0 and "similar shots" in out
    code, out, _ = cli("apply", "--report", str(report), "--dry-run")
    assert "shot0.jpg" not in out and "shot2.jpg" not in out  # the saved report keeps them all


def gradient(seed: int) -> Image.Image:
    """A two-colour gradient at a random angle under a soft wave (the kind issue 15 chained)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:120, 0:160] / np.array([120.0, 160.0])[:, None, None]
    angle = rng.uniform(0, np.pi)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    t = (t - t.min()) / (t.max() - t.min())
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    rgb = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    wave = np.sin(xx * rng.uniform(2, 5) * np.pi + rng.uniform(0, 6))
    rgb += 18 * (wave * np.cos(yy * rng.uniform(1, 3) * np.pi))[..., None]
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def test_every_file_proposed_for_trash_was_checked_against_the_kept_one(
    library: Library,
) -> None:
    """Issue 15, item 6: 150 distinct gradients, each with a byte copy. Whatever the groups,
    the check accepts a group's kept file and each file it proposes for trash, compared
    directly (the old grouping chained up to three distinct gradients and proposed two files
    for trash that the check refuses against the kept one)."""
    for k in range(150):
        path = library.save(f"g{k:03d}.png", gradient(k))
        shutil.copyfile(path, library.root / f"g{k:03d}-copy.png")
    settings = Settings()
    result = scan((str(library.root),), settings, HashCache.memory(settings), jobs=2)
    groups = build_groups(result.records, settings, KeepRules())
    assert len(groups) >= 140  # (each picture with its byte copy: 150)
    for group in groups:
        keeper = group.members[0].record
        for member in group.members[1:]:
            if member.action == "trash":
                direct = check_pair(keeper, member.record, settings)
                assert direct.verified or direct.exact, (keeper.path, member.record.path)


def test_a_chained_union_find_group_is_split_around_its_keeper(library: Library) -> None:
    """A~B and B~C are copies within the threshold; A and C are not: C must not be proposed
    for trash in A's group (it is split off, and alone it is no group)."""
    base = photo(11, (640, 480))
    library.save("a.png", base)
    b = stamped(base)
    library.save("b.jpg", b, quality=92)
    # C: B with another stamp, on the other side: one stamp from B, two from A
    c = b.copy()
    ImageDraw.Draw(c).rectangle((30, 30, 180, 100), fill=(250, 250, 250))
    library.save("c.jpg", c, quality=92)
    settings = Settings()
    records = scan((str(library.root),), settings, HashCache.memory(settings)).records
    by_name = {Path(r.path).name: r for r in records}
    assert check_pair(by_name["b.jpg"], by_name["c.jpg"], settings).grouped
    found = cluster(records, settings)
    groups = build_groups(records, settings, KeepRules(), clusters=found)
    kept = {(g.members[0].record.path, m.record.path) for g in groups for m in g.members[1:]}
    assert kept
    for keeper, other in kept:
        assert check_pair(by_name[Path(keeper).name], by_name[Path(other).name], settings).verified


def video_frames(tmp_path: Path) -> Iterator[Path]:
    """Frames 0 and 60 of ffmpeg's own test film (a zoom into the Mandelbrot set), and frame 0
    scaled to half size by ffmpeg: a copy made by other code."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    film = tmp_path / "film.mp4"
    run = ["ffmpeg", "-loglevel", "error", "-y"]
    subprocess.run(
        [*run, "-f", "lavfi", "-i", "mandelbrot=size=640x480:rate=25", "-t", "3",
         "-pix_fmt", "yuv420p", str(film)],
        check=True,
    )  # fmt: skip
    first, later, small = tmp_path / "f0.png", tmp_path / "f60.png", tmp_path / "f0-small.jpg"
    subprocess.run(
        [*run, "-i", str(film), "-vf", "select=eq(n\\,0)", "-frames:v", "1", str(first)], check=True
    )
    subprocess.run(
        [*run, "-i", str(film), "-vf", "select=eq(n\\,60)", "-frames:v", "1", str(later)],
        check=True,
    )
    subprocess.run(
        [*run, "-i", str(first), "-vf", "scale=320:240", "-q:v", "4", str(small)], check=True
    )
    yield from (first, later, small)


def test_video_frames(tmp_path: Path) -> None:
    first, later, small = list(video_frames(tmp_path))
    settings = Settings()
    records = []
    for path in (first, later, small):
        outcome = fingerprint_file(str(path), settings)
        assert outcome is not None and hasattr(outcome, "fingerprint")
        records.append(
            ImageRecord(str(path), outcome.size, outcome.mtime_ns, 0, 0, outcome.fingerprint)
        )  # type: ignore[union-attr]
    a, b, c = (r.fingerprint.check for r in records)
    assert verify.accept(a, c)  # ffmpeg's own rescale is a copy
    assert not verify.accept(a, b)  # two seconds later the zoom shows another picture


def test_real_photos_and_their_heic_twins(real_images: Path) -> None:
    """The real camera files: a photo and the same photo after a round trip through the
    check's own pipeline at another size match; two different cameras' photos do not."""
    folder = real_images / "exif-samples" / "jpg"
    names = ["Canon_40D.jpg", "Nikon_D70.jpg", "Pentax_K10D.jpg", "Fujifilm_FinePix_E500.jpg"]
    signatures = []
    for name in names:
        decoded = decode.decode((folder / name).read_bytes(), gray=True)
        signatures.append(verify.signature(decoded.image, decoded.capture, decoded.chroma))
        picture = Image.open(folder / name).convert("RGB")
        buffer = io.BytesIO()
        half(picture).save(buffer, "WEBP", quality=80)
        copy = decode.decode(buffer.getvalue(), gray=True)
        assert verify.accept(
            signatures[-1], verify.signature(copy.image, copy.capture, copy.chroma)
        ), name
    for x in range(len(names)):
        for y in range(x + 1, len(names)):
            assert not verify.accept(signatures[x], signatures[y]), (names[x], names[y])


def shaded_texture(
    seed: int, size: tuple[int, int] = (768, 576)
) -> tuple[Image.Image, Image.Image]:
    """A textured colour photo whose light falls off smoothly (grass under an evening sky:
    noise at several scales over a strong ramp), and a smooth gray gradient graphic drawn
    along the same ramp: alike at 16x16 and 32x32, one textured and one smooth to a person."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / np.array([h, w], dtype=np.float64)[:, None, None]
    ramp = 0.7 * y + 0.3 * x if seed % 2 else np.hypot(y - 0.3, x - 0.5)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    grain = np.zeros((h, w))
    for scale in (3, 9, 27):  # grain at several scales, as in a photo of grass or gravel
        noise = Image.fromarray(rng.integers(0, 256, (h // scale, w // scale), dtype=np.uint8))
        grain += np.asarray(noise.resize(size, Image.Resampling.BICUBIC), dtype=np.float64)
    grain = (grain - grain.mean()) / grain.std()
    lum = np.clip(40 + 170 * ramp + 16 * grain, 0, 255)
    tinted = np.stack([lum, 0.85 * lum, 0.6 * lum], axis=2).astype(np.uint8)
    return Image.fromarray(tinted), Image.fromarray((40 + 170 * ramp).astype(np.uint8))


def zoomed(image: Image.Image, zoom: float) -> Image.Image:
    """The centre 1/zoom of the picture, enlarged back to its size (a crop of each side)."""
    w, h = image.size
    cw, ch = round(w / zoom), round(h / zoom)
    box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
    return image.crop(box).resize((w, h), Image.Resampling.LANCZOS)


def groups_of(library: Library) -> list[set[str]]:
    """The groups of copies a default scan of the library reports, as sets of file stems,
    with the geometric check looking at the pictures again as a scan does."""
    from dedupe.looks import Looks

    settings = Settings(threshold=0.4)  # loose: every pair here is a candidate
    records = scan((str(library.root),), settings, HashCache.memory(settings)).records
    groups = build_groups(records, settings, KeepRules(), look=Looks(records))
    return sorted(
        ({Path(m.record.path).stem for m in g.members} for g in groups if g.kind != "shots"),
        key=sorted,
    )


def test_a_smooth_gradient_is_no_copy_of_a_textured_photo_shaded_like_it(
    library: Library,
) -> None:
    """A gradient graphic whose shading follows a textured photo's correlates 0.97-0.99 with
    it (and with its crop at 1.4x with more contrast) at 32x32, and a smooth picture has too
    few keypoints for the geometric check to say no: the texture tells them apart. The
    photo's crop is still its copy."""
    from PIL import ImageEnhance

    for seed in (1, 2):
        textured, smooth = shaded_texture(seed)
        library.save(f"photo{seed}.jpg", textured, quality=90)
        cropped = ImageEnhance.Contrast(zoomed(textured, 1.4)).enhance(1.3)
        library.save(f"photo{seed}-crop.jpg", cropped, quality=90)
        library.save(f"gradient{seed}.png", smooth)
    assert groups_of(library) == [{"photo1", "photo1-crop"}, {"photo2", "photo2-crop"}]
    textured, smooth = shaded_texture(1)
    found = verify.match(signature_of(smooth, "PNG"), signature_of(textured, quality=90))
    assert found.kind[0] == verify.DIFFERENT and found.correlation[0] >= 0.95
    assert verify.one_smooth(found.texture[0], found.texture[1])[0]


MATHJAX = Path("/usr/share/fonts/opentype/mathjax")


def template_page(seed: int) -> Image.Image:
    """A page of one report template (a banner, a title, a rule, a footer) with its own
    title and text, in fonts this project's benchmark does not use (MathJax's, when
    installed)."""
    rng = np.random.default_rng(seed)

    def face(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        path = MATHJAX / f"MathJax_Main-{name}.otf"
        return ImageFont.truetype(str(path), size) if path.exists() else font(size)

    words = [
        "invoice", "total", "amount", "due", "date", "customer", "number", "item", "quantity",
        "price", "tax", "shipping", "order", "account", "reference", "payment", "terms",
    ]  # fmt: skip
    image = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 850, 110), fill=(30, 60, 120))
    draw.text((60, 35), "ACME  Quarterly  Report", font=face("Bold", 40), fill="white")
    draw.rectangle((60, 150, 790, 152), fill=(30, 60, 120))
    title = " ".join(rng.choice(words, 4)).title()
    draw.text((60, 170), title, font=face("Bold", 40), fill="black")
    y = 260
    while y < 950:
        line = " ".join(rng.choice(words, int(rng.integers(6, 12))))
        draw.text((60, y), line, font=face("Regular", 22), fill="black")
        y += 34 if rng.random() > 0.15 else 60
    draw.rectangle((0, 1040, 850, 1100), fill=(220, 220, 220))
    footer = f"page {seed}    acme.example    confidential"
    draw.text((60, 1055), footer, font=face("Regular", 22), fill=(60, 60, 60))
    return image


def test_pages_of_one_template_with_other_text_are_not_copies(library: Library) -> None:
    """Pages of one template correlate 0.98-0.99 at 32x32 and their fine detail 0.85-0.93
    (the lines of text fall in the same places): not sure enough to skip the geometric
    check, which finds their matching points only in the template. A page's own resized
    copy is still found."""
    for seed in range(4):
        library.save(f"page{seed}.png", template_page(seed))
    library.save("page0-small.jpg", half(template_page(0)), quality=80)
    assert groups_of(library) == [{"page0", "page0-small"}]
    first, second = (signature_of(template_page(k), "PNG") for k in (0, 1))
    found = verify.match(first, second)
    assert found.kind[0] == verify.COPY  # the thumbnails alone cannot tell them apart
    assert not verify.sure_copies(found)[0]


def test_a_copy_whose_clock_was_moved_by_whole_hours_is_one_capture(library: Library) -> None:
    """A copy exported with its time zone set or fixed (the EXIF time moved by whole quarter
    hours, the sub-seconds kept) is a copy; a shot a quarter hour and 0.25 s later is not."""
    scene = photo(7, (900, 675))
    settings = Settings()

    def check(name: str, when: str, subseconds: str, quality: int) -> bytes:
        path = library.save(name, scene, quality=quality, exif=exif(when, subseconds))
        hashed = fingerprint_file(str(path), settings)
        assert hashed is not None
        return hashed.fingerprint.check  # type: ignore[union-attr]

    original = check("a.jpg", "2024:05:01 10:00:00", "250", 92)
    for when in ("2024:05:01 12:00:00", "2024:05:01 04:30:00", "2024:05:02 09:45:00"):
        moved = check("moved.jpg", when, "250", 80)
        found = verify.judge(original, moved)[1]
        assert found.kind[0] == verify.COPY and found.apart_ms[0] == 0, when
    later = check("later.jpg", "2024:05:01 10:15:00", "500", 80)
    found = verify.judge(original, later)[1]
    assert found.kind[0] != verify.COPY and found.apart_ms[0] == 15 * 60 * 1000 + 250
    # two days on is no time zone: two captures
    days = check("days.jpg", "2024:05:03 10:00:00", "250", 80)
    assert verify.judge(original, days)[1].kind[0] != verify.COPY
    # to the second only (no sub-seconds), an hour apart stays two captures
    coarse = check("coarse.jpg", "2024:05:01 11:00:00", "", 80)
    assert verify.judge(original, coarse)[1].kind[0] != verify.COPY


def pastel_gradient() -> Image.Image:
    """A radial gradient between two colours of about one brightness (a pink edge, a blue
    centre low in the picture), dithered as drawing programs do: in gray it hardly changes,
    so most of it passes for a uniform border, and not as far in a copy (the accuracy
    benchmark's tune split has one: gradient/drawn01)."""
    rng = np.random.default_rng(7)
    h, w = 768, 1024
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.hypot(gx - 658.5, gy - 733.7)
    t = (t - t.min()) / np.ptp(t)
    inner, outer = np.array([147, 165, 240], np.float32), np.array([173, 119, 128], np.float32)
    array = inner * (1 - t[..., None]) + outer * t[..., None] + rng.normal(0, 0.6, (h, w, 1))
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def test_colour_layouts_are_compared_over_the_part_both_borders_leave(library: Library) -> None:
    """The colour layout is a grid over each picture's content inside uniform borders. A
    pastel gradient's PNG passes for a picture framed by a wide border (its gray levels hardly
    change), its quality-25 JPEG (or a brighter copy) not as far: their grids cover other
    parts of the picture and were 0.79 alike, below CHROMA_MATCH, though the pair matches as
    it is. Read over the part both cover, they are one layout; a gradient in other colours
    is still not a copy, nor is a copy of another colour scheme."""
    from PIL import ImageEnhance

    image = pastel_gradient()
    original = signature_of(image, "PNG")
    for copy in (
        signature_of(image, quality=25),
        signature_of(ImageEnhance.Brightness(image).enhance(1.25), quality=88),
    ):
        assert verify.trimmed(original) != verify.trimmed(copy)
        a, b = verify.signature_array([original]), verify.signature_array([copy])
        assert verify.colour_similarity(a, b)[0] < verify.CHROMA_MATCH  # each grid as it is
        found = verify.match(original, copy)
        assert found.hypothesis[0] == 0 and found.colour[0] >= 0.95
        assert found.kind[0] == verify.COPY
    # the same gradient in other colours (red and blue swapped): not one picture
    swapped = Image.fromarray(np.asarray(image)[..., ::-1].copy(), "RGB")
    other = verify.match(original, signature_of(swapped, quality=25))
    assert other.colour[0] < verify.CHROMA_MATCH and other.kind[0] == verify.DIFFERENT
    library.save("gradient.png", image)
    library.save("gradient-q25.jpg", image, quality=25)
    library.save("swapped.png", swapped)
    assert groups_of(library) == [{"gradient", "gradient-q25"}]
