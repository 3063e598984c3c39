"""The hash value type and the three algorithms: golden values and agreement with imagehash."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from conftest import photo
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from dedupe import hashing
from dedupe.hashing import ImageHash


def square() -> Image.Image:
    image = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(image).rectangle((16, 16, 47, 47), fill=255)
    return image


def test_golden_average_hash_of_a_white_square() -> None:
    assert str(hashing.average_hash(square(), 8)) == "00003c3c3c3c0000"
    assert str(hashing.average_hash(square(), 16)) == (
        "00000000000000000ff00ff00ff00ff00ff00ff00ff00ff00000000000000000"
    )


def test_golden_hashes_of_generated_photos() -> None:
    image = photo(1)
    assert str(hashing.average_hash(image, 8)) == "e8ec030363fecc80"
    assert str(hashing.difference_hash(image, 8)) == "c999bf67c69c980f"
    assert str(hashing.perceptual_hash(image, 8)) == "f1abfad12f1e0c10"
    assert str(hashing.perceptual_hash(image, 16)) == (
        "f100ab88fa88d1082ffc1e3c0dff387f2c7370072c071f870f8017dcc1fee1f5"
    )


REFERENCE = {
    "ahash": imagehash.average_hash,
    "dhash": imagehash.dhash,
    "phash": imagehash.phash,
}


@pytest.mark.parametrize("algorithm", sorted(REFERENCE))
@pytest.mark.parametrize("size", [8, 16])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_bits_equal_imagehash_for_the_same_decoded_image(
    algorithm: str, size: int, seed: int
) -> None:
    image = photo(seed, (300 + 17 * seed, 200 + 11 * seed))
    ours = hashing.compute(image, algorithm, size)
    theirs = REFERENCE[algorithm](image, size)
    assert ours.to_bool_array().tolist() == theirs.hash.tolist()
    assert str(ours) == str(theirs)


def test_hamming_distance_is_subtraction_and_symmetric() -> None:
    a = ImageHash(0b1011, 8)
    b = ImageHash(0b0010, 8)
    assert a - b == 2 == b - a
    assert a - a == 0


def test_comparing_different_sizes_is_an_error() -> None:
    with pytest.raises(ValueError, match="cannot compare"):
        _ = ImageHash(0, 8) - ImageHash(0, 16)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_hex_round_trip_64(bits: int) -> None:
    value = ImageHash(bits, 8)
    text = str(value)
    assert len(text) == 16
    assert ImageHash.from_hex(text) == value
    assert ImageHash.from_bool_array(value.to_bool_array()) == value


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_hex_round_trip_256_and_words(bits: int) -> None:
    value = ImageHash(bits, 16)
    assert ImageHash.from_hex(str(value)) == value
    words = value.words()
    assert len(words) == 4
    assert sum(w << (64 * (3 - k)) for k, w in enumerate(words)) == bits
    codes = hashing.codes_array([value], 16)
    assert codes.dtype == np.uint64 and codes.shape == (1, 4)


def test_first_pixel_is_the_most_significant_bit() -> None:
    image = Image.new("L", (8, 8), 0)
    image.putpixel((0, 0), 255)
    assert str(hashing.average_hash(image, 8)) == "8000000000000000"


def test_bad_hex_is_rejected() -> None:
    with pytest.raises(ValueError):
        ImageHash.from_hex("abc")


def test_unknown_algorithm_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        hashing.compute(square(), "bhash", 8)


def test_small_rotation_stays_close_and_a_quarter_turn_does_not() -> None:
    image = photo(5)
    base = hashing.perceptual_hash(image)
    assert base - hashing.perceptual_hash(image.rotate(-1, resample=Image.Resampling.BICUBIC)) <= 6
    assert base - hashing.perceptual_hash(image.rotate(90, expand=True)) > 16


@pytest.mark.parametrize("algorithm", ["ahash", "dhash", "phash"])
@pytest.mark.parametrize("size", [8, 16])
def test_orientation_variants_match_hashing_the_turned_image(algorithm: str, size: int) -> None:
    from dedupe.decode import orientations

    gray = photo(8, (400, 300)).convert("L")
    value, variants = hashing.compute_with_variants(gray, algorithm, size)
    assert value == hashing.compute(gray, algorithm, size)
    assert len(variants) == 7
    for variant, turned in zip(variants, orientations(gray), strict=True):
        direct = hashing.compute(turned, algorithm, size)
        assert variant - direct <= size * size // 32  # a few bits of resampling noise at most
        assert variant - value > size * size // 8  # and clearly not the unturned hash


@pytest.mark.parametrize("size", [8, 16])
def test_dhash_variants_are_the_turned_square_hashed_exactly(size: int) -> None:
    """dHash variants come from the reduced square turned by Pillow; the bits are exactly those
    of turning the square's pixel array (verify.ORIENT) and hashing that."""
    from dedupe.verify import ORIENT

    gray = photo(4, (300, 400)).convert("L")
    _, variants = hashing.compute_with_variants(gray, "dhash", size)
    side = 4 * (size + 1)
    square = np.asarray(gray.resize((side, side), Image.Resampling.BOX))
    expected = tuple(
        hashing.difference_hash(Image.fromarray(np.ascontiguousarray(ORIENT[k](square))), size)
        for k in range(2, 9)
    )
    assert variants == expected
