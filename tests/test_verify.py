"""The independent check: what it accepts (copies, edits), what it refuses (other pictures,
two shots of one scene, blank and near-blank images)."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pytest
from conftest import photo
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from dedupe import decode, verify


@cache
def picture(seed: int) -> Image.Image:
    """A distinct photo-like picture (small: the check works on a 16x16 thumbnail)."""
    return photo(seed, (400, 300))


def check(image: Image.Image) -> bytes:
    """The signature exactly as a scan computes it: through a decode of the encoded file."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return verify.signature(decode.decode(buffer.getvalue()).image.convert("L"))


def jpeg(image: Image.Image, quality: int = 90) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def crop(image: Image.Image, fraction: float) -> Image.Image:
    w, h = image.size
    return image.crop(
        (int(w * fraction), int(h * fraction), w - int(w * fraction), h - int(h * fraction))
    )


def text_page(words: int) -> Image.Image:
    page = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=20)
    rng = np.random.default_rng(words)
    for line in range(30):
        text = " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet", "total"], 8))
        draw.text((70, 60 + 32 * line), text, font=font, fill="black")
    return page


def test_signature_layout_and_determinism() -> None:
    image = picture(1)
    a, b = verify.signature(image), verify.signature(image.convert("L"))
    assert len(a) == verify.SIGNATURE_BYTES
    assert a[: verify.PIXELS] == picture(1).convert("L").resize((16, 16), Image.BOX).tobytes()
    # colour and gray give the same signature but for the colour layout (none for gray),
    # which the framing codes follow
    codes = verify.SIGNATURE_BYTES - 8 * verify.FRAMINGS
    colour = codes - 2 * verify.CHROMA * verify.CHROMA
    assert a[:colour] == b[:colour] and b[colour:codes] == bytes([128]) * (codes - colour)
    assert a[colour:codes] != b[colour:codes] and a[codes:] == b[codes:]
    whole, trimmed, centre = verify.framing_codes(verify.signature_array([a]))[0].tolist()
    assert whole == trimmed != centre  # (no border to trim)
    with pytest.raises(ValueError, match="bytes"):
        verify.accept(a, a[:-1])


@pytest.mark.parametrize(
    "edit",
    [
        lambda im: jpeg(im, 30),
        lambda im: im.resize((200, 150), Image.Resampling.LANCZOS),
        lambda im: im.convert("L"),
        lambda im: ImageEnhance.Brightness(im).enhance(1.15),
        lambda im: ImageEnhance.Contrast(im).enhance(1.25),
        lambda im: ImageEnhance.Color(im).enhance(1.4),
        lambda im: im.filter(ImageFilter.GaussianBlur(2)),
        lambda im: crop(im, 0.05),
        lambda im: im.resize((520, 300), Image.Resampling.LANCZOS),  # stretched 1.3x
    ],
    ids=[
        "jpeg30",
        "resized",
        "gray",
        "brightness",
        "contrast",
        "saturation",
        "blur",
        "crop5",
        "stretch",
    ],
)
def test_copies_and_edits_are_accepted(edit) -> None:  # type: ignore[no-untyped-def]
    original = picture(3)
    assert verify.accept(check(original), check(edit(original)))


def test_a_small_rotation_and_a_larger_crop_are_accepted_by_alignment() -> None:
    original = picture(4)
    turned = original.rotate(4, Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
    a, b = check(original), check(turned)
    scores = verify.score(verify.thumbnails([a]), verify.thumbnails([b]))
    assert scores.best[0] >= scores.same[0] + verify.GEOMETRY_GAIN  # the turn explains it
    assert verify.accept(a, b)
    assert verify.accept(check(original), check(crop(original, 0.15)))


@pytest.mark.parametrize("seeds", [(1, 2), (5, 6), (7, 11)])
def test_different_pictures_are_refused(seeds: tuple[int, int]) -> None:
    assert not verify.accept(check(picture(seeds[0])), check(picture(seeds[1])))


def test_the_same_scene_with_other_tones_is_refused() -> None:
    """A local tone change (what HDR does) is not a copy, though every global edit is."""
    original = picture(8)
    array = np.asarray(original, dtype=np.float32)
    w = array.shape[1]
    # brighten the left third and darken the right third, smoothly: a local tone map
    ramp = np.interp(np.arange(w), [0, w / 3, 2 * w / 3, w], [1.35, 1.0, 1.0, 0.7])
    toned = Image.fromarray((array * ramp[None, :, None]).clip(0, 255).astype(np.uint8))
    assert not verify.accept(check(original), check(toned))


def test_real_hdr_pair_is_two_shots(real_images) -> None:  # type: ignore[no-untyped-def]
    """exif-samples/jpg/hdr: the same scene with HDR on and off (SOURCES.md: not copies),
    captured 0.53 s (iPhone) and 26 s (Canon) apart: similar shots, never copies."""
    folder = real_images / "exif-samples" / "jpg" / "hdr"
    for name in ("iphone", "canon"):
        decoded = [
            decode.decode((folder / f"{name}_hdr_{s}.jpg").read_bytes()) for s in ("NO", "YES")
        ]
        a, b = (verify.signature(d.image, d.capture) for d in decoded)
        assert not verify.accept(a, b)
        # the iPhone pair is alike enough to show as similar shots; the Canon one, 26 s apart
        # with the light changed, is just another picture
        expected = verify.SHOTS if name == "iphone" else verify.DIFFERENT
        assert verify.judge(a, b)[1].kind[0] == expected
        assert verify.accept(a, a)


def blank_images() -> list[Image.Image]:
    w, h = 640, 480
    ramp = np.tile(np.linspace(0, 255, w, dtype=np.float32), (h, 1))
    noise = np.random.default_rng(0).normal(235, 2.0, (h, w)).clip(0, 255)
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))  # transparent: flattened onto white
    return [
        Image.new("RGB", (w, h), "white"),
        Image.new("RGB", (w, h), "black"),
        Image.new("RGB", (w, h), (200, 30, 30)),
        Image.fromarray(ramp.astype(np.uint8), "L"),  # a gradient
        Image.fromarray((255 - ramp).astype(np.uint8), "L"),
        Image.fromarray(noise.astype(np.uint8), "L"),  # a blank scan
        overlay,
        text_page(1),
        text_page(2),
    ]


def test_only_flat_images_are_low_information() -> None:
    """One colour (white, black, red, a transparent overlay) is never compared; a gradient, a
    blank scan with its noise and pages of text are. None of them matches another."""
    checks = [check(image) for image in blank_images()]
    flat = [verify.is_low_information(c) for c in checks]
    assert flat == [True, True, True, False, False, False, True, False, False]
    assert (verify.low_information(checks) == np.array(flat)).all()
    for x, a in enumerate(checks):
        for y, b in enumerate(checks):
            # a flat image matches nothing, not even itself: only byte copies group it
            assert verify.accept(a, b) == (x == y and not flat[x]), (x, y)


def test_photos_have_enough_information() -> None:
    checks = [check(picture(seed)) for seed in range(10)]
    assert not verify.low_information(checks).any()


def test_orientation_is_applied_to_the_second_image() -> None:
    original = picture(9)
    a = check(original)
    for orientation, transpose in decode._TRANSPOSE.items():
        (method,) = transpose
        b = check(original.transpose(method))
        # b is the original under `orientation`; undoing it is the inverse transform, which for
        # 6 and 8 is the other turn and for the rest is the same transform
        undo = {6: 8, 8: 6}.get(orientation, orientation)
        assert verify.accept(a, b, undo), orientation
        assert verify.similarity(a, b, undo) > 0.99


# ---------------------------------------------------------------- the batch kernel


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return 0.0 if denominator == 0.0 else float((x * y).sum() / denominator)


def reference_scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(same, best) for one pair of float thumbnails, straight from the definitions in
    verify.py (warps as bilinear taps, zooms tried both ways), in plain numpy."""
    same = _pearson(a, b)
    if same >= verify.SAME_GEOMETRY:
        return same, same
    best = same
    for warp in verify.warps():
        ways = [(a, b), (b, a)] if warp.zoom != 1.0 else [(a, b)]
        for src, other in ways:
            warped = (src[warp.index] * warp.weight).sum(axis=0)
            best = max(best, _pearson(warped[warp.mask], other[warp.mask]))
    return same, best


def test_score_pairs_matches_the_definition_in_any_pair_order() -> None:
    originals = [picture(seed) for seed in range(6)]
    edits = [
        crop(originals[0], 0.1),
        originals[1].rotate(3, resample=Image.Resampling.BICUBIC),
        jpeg(originals[2], 40),
        ImageEnhance.Brightness(originals[3]).enhance(1.2),
        originals[4].resize((120, 90)),
    ]
    gray = verify.thumbnails([check(image) for image in originals + edits])
    thumbs = verify.Thumbs.of(gray)
    rng = np.random.default_rng(3)
    i = rng.integers(0, len(gray), 300)
    j = rng.integers(0, len(gray), 300)
    scores = verify.score_pairs(thumbs, i, j)
    for k in range(len(i)):
        same, best = reference_scores(gray[i[k]].astype(np.float64), gray[j[k]].astype(np.float64))
        assert scores.same[k] == pytest.approx(same, abs=1e-5)
        assert scores.best[k] == pytest.approx(best, abs=1e-5)
    # the kernel walks the pairs grouped by each side: their order must not matter
    shuffle = rng.permutation(len(i))
    again = verify.score_pairs(thumbs, i[shuffle], j[shuffle])
    assert np.array_equal(again.same, scores.same[shuffle])
    assert np.array_equal(again.best, scores.best[shuffle])
    # the edits are accepted against their originals, and pairs of originals are not
    pairs = verify.score_pairs(thumbs, np.arange(5), np.arange(6, 11))
    assert pairs.accepted().all()
    others = verify.score_pairs(thumbs, np.array([0, 1, 2]), np.array([3, 4, 5]))
    assert not others.accepted().any()


def test_score_pairs_under_an_orientation_equals_turning_the_thumbnail() -> None:
    gray = verify.thumbnails([check(picture(seed)) for seed in range(4)])
    perms = verify.orientation_permutations()
    for orientation in range(1, 9):
        turned = gray[:, perms[orientation]]
        direct = verify.score(gray[[0, 1, 2]], turned[[0, 3, 2]])
        indexed = verify.score_pairs(
            verify.Thumbs.of(gray), np.array([0, 1, 2]), np.array([0, 3, 2]), orientation
        )
        assert np.allclose(indexed.same, direct.same, atol=1e-6), orientation
        assert np.allclose(indexed.best, direct.best, atol=1e-6), orientation


def test_score_pairs_refuses_bad_input() -> None:
    thumbs = verify.Thumbs.of(np.zeros((3, verify.PIXELS), np.uint8))
    with pytest.raises(IndexError):
        verify.score_pairs(thumbs, np.array([0]), np.array([3]))
    with pytest.raises(ValueError, match="as many"):
        verify.score_pairs(thumbs, np.array([0, 1]), np.array([2]))
    with pytest.raises(ValueError, match="thumbnails"):
        verify.Thumbs.of(np.zeros((3, 10), np.uint8))
    assert len(verify.score_pairs(thumbs, np.array([], int), np.array([], int)).same) == 0


def test_importing_verify_does_not_import_numba() -> None:
    """The scan's worker processes import verify for the signature: numba (0.5 s, ~90 MB per
    process) is only loaded when pairs are scored."""
    import subprocess
    import sys

    code = "import sys, dedupe.verify, dedupe.scan; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
