"""A progressive JPEG cut down to what a 1/8-scale grayscale decode reads: its DC scans.

At 1/8 scale libjpeg makes each output pixel from one number per 8x8 block, the block's DC
coefficient (the 1x1 inverse DCT). A baseline JPEG codes all 64 coefficients of a block in one
Huffman stream, so libjpeg decodes all of them anyway. A progressive JPEG sends the DC
coefficients in scans of their own (typically the first scan and one refinement, a few percent
of the file), and the AC coefficients in the other scans. libjpeg still Huffman-decodes every
AC scan into a full-size coefficient buffer, which makes a 12-megapixel progressive JPEG about
four times slower to draft-decode than a baseline one. Its AC scans can be skipped without
decoding them: the entropy-coded data of a scan ends at the first marker, found by a byte search.

The result must not differ by a single pixel. One part of libjpeg reads AC coefficients even at
1/8 scale: block smoothing (ITU-T T.81, K.8), applied to a progressive image while some of its
first AC coefficients are not known to full precision. libjpeg-turbo (2.1 and later) then also
adjusts a block's DC when none of them is known at all, which is exactly what dropping the AC
scans alone would cause (up to 12 levels out, measured). In the complete file every AC
coefficient is known by the end, so nothing is smoothed. Here the AC scans are replaced by one
empty scan per component (coefficients 1-63 at full precision, all zero, coded as runs of empty
blocks), so libjpeg knows every AC coefficient too and smooths nothing. The output is then the
same as the whole file's. `dc_scans_only` declines (returns None) whenever it cannot
promise that, and the caller decodes the whole file as before:

- anything but a well-formed progressive Huffman JPEG with 8-bit samples that ends in EOI
  (a truncated or damaged file is decoded whole, so it fails, or not, exactly as before);
- a gray image that needs more than the first component's DC at 1/8 scale: 4 components
  (CMYK), subsampled colour coded as RGB, or a first component below the largest sampling (libjpeg
  then decodes it at 2x2 from AC coefficients);
- a file whose own AC scans never bring coefficients 1-9 to full precision: libjpeg smooths that
  file (coefficients 1-9 are the ones its smoothing reads). At 1/8 scale that leaves its pixels
  alone in today's libjpeg-turbo, but that is an implementation detail; such files are rare.

The caller must decode the result as gray ("L") at 1/8 scale; at any other scale, or to RGB, it
is not the same image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The next marker after entropy-coded data: 0xFF followed by anything but a stuffed zero, a
# restart marker (RST0-7, part of the scan) or another 0xFF (fill).
_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")

_SOI, _EOI, _SOS, _DHT, _SOF2, _APP0, _APP14 = 0xD8, 0xD9, 0xDA, 0xC4, 0xC2, 0xE0, 0xEE
# Frame markers other than SOF2 (baseline, sequential, lossless, hierarchical, arithmetic):
# none of them is a progressive Huffman frame.
_OTHER_SOF = frozenset({0xC0, 0xC1, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# The AC coefficients (zigzag order) libjpeg's block smoothing reads: libjpeg-turbo >= 2.1
# reads 1-9, older libjpeg 1-5.
_SMOOTHED = range(1, 10)
# The longest run of empty blocks one Huffman symbol codes (EOB14 with 14 extra bits).
_EOB_RUN_MAX = 2**15 - 1

# The empty AC scans: restart markers off (the file's DRI may ask for them), then a Huffman
# table for AC table 0 with one symbol, EOB14 (0xE0), coded as the single bit "0".
_NO_RESTARTS = b"\xff\xdd\x00\x04\x00\x00"
_EOB_TABLE = b"\xff\xc4\x00\x14\x10\x01" + bytes(15) + b"\xe0"


def dc_scans_only(data: bytes) -> bytes | None:
    """`data` with its AC scans replaced by empty ones, or None when that is not safe (above).

    Decoded to gray at 1/8 scale, the result is the same image, pixel for pixel, as `data`.
    """
    if data[:2] != b"\xff\xd8":
        return None
    kept: list[bytes] = [data[:2]]
    frame: _Frame | None = None
    jfif = False
    adobe_transform: int | None = None
    has_dc: set[int] = set()
    exact: dict[int, set[int]] = {}  # component id -> AC coefficients brought to Al = 0
    ac_tables: set[int] = set()  # Huffman tables for AC defined so far
    pos, end = 2, len(data)
    while True:
        if pos + 2 > end or data[pos] != 0xFF:
            return None  # truncated, or bytes where a marker must be
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == _EOI:
            break
        if marker == _SOI or 0xD0 <= marker <= 0xD7 or marker == 0x01 or pos + 4 > end:
            return None
        stop = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if stop > end or stop < pos + 4:
            return None
        body = data[pos + 4 : stop]
        if marker in _OTHER_SOF or (marker == _SOF2 and frame is not None):
            return None
        if marker == _SOF2:
            frame = _Frame.of(body)
            if frame is None:
                return None
        elif marker == _APP0 and body[:5] == b"JFIF\x00":
            jfif = True
        elif marker == _APP14 and body[:5] == b"Adobe" and len(body) >= 12:
            adobe_transform = body[11]
        elif marker == _DHT and not _note_ac_tables(body, ac_tables):
            return None
        if marker != _SOS:
            kept.append(data[pos:stop])
            pos = stop
            continue
        scan = None if frame is None else _scan_header(body, frame.ids, ac_tables)
        if scan is None:
            return None
        components, first, last, low_bit = scan
        after = _MARKER.search(data, stop)
        if after is None:
            return None  # the scan runs to the end of the file: truncated
        if first == 0:
            has_dc.update(components)
            kept.append(data[pos : after.start()])
        else:
            exact.setdefault(components[0], set()).update(
                range(first, last + 1) if low_bit == 0 else ()
            )
        pos = after.start()
    if frame is None or not _gray_from_dc(frame, jfif, adobe_transform):
        return None
    if set(frame.ids) != has_dc:
        return None
    if any(not exact.get(c, set()).issuperset(_SMOOTHED) for c in frame.ids):
        return None
    empty = _empty_blocks(-(-frame.width // 8) * -(-frame.height // 8))
    kept += [_NO_RESTARTS, _EOB_TABLE]
    # One scan per component: AC scans of a progressive JPEG hold one component each.
    kept += [b"\xff\xda\x00\x08\x01" + bytes([c, 0x00, 1, 63, 0x00]) + empty for c in frame.ids]
    kept.append(b"\xff\xd9")
    return b"".join(kept)


@dataclass(frozen=True, slots=True)
class _Frame:
    """What the cut needs of the SOF2 segment."""

    height: int
    width: int
    ids: tuple[int, ...]  # component ids, in frame order
    sampling: tuple[int, ...]  # each component's sampling factors, horizontal << 4 | vertical

    @classmethod
    def of(cls, body: bytes) -> _Frame | None:
        """The frame of a SOF2 segment's body, or None unless it has 8-bit samples, a size
        known from the header (no DNL), and 1 or 3 components with distinct ids."""
        if len(body) < 6 or body[0] != 8:
            return None
        height, width, count = (
            int.from_bytes(body[1:3], "big"),
            int.from_bytes(body[3:5], "big"),
            body[5],
        )
        if height == 0 or width == 0 or count not in (1, 3) or len(body) != 6 + 3 * count:
            return None
        ids = tuple(body[6 + 3 * k] for k in range(count))
        if len(set(ids)) != count:
            return None
        return cls(height, width, ids, tuple(body[7 + 3 * k] for k in range(count)))


def _scan_header(
    body: bytes, in_frame: tuple[int, ...], ac_tables: set[int]
) -> tuple[tuple[int, ...], int, int, int] | None:
    """(component ids, first coefficient, last coefficient, low bit) of a scan header, or None
    where libjpeg would stop with an error reading or starting the scan: a scan it is not given
    must fail the same way it would have (the file is then decoded whole, and fails there)."""
    count = body[0] if body else 0
    if not 1 <= count <= 4 or len(body) != 1 + 2 * count + 3:
        return None
    components = tuple(body[1 + 2 * k] for k in range(count))
    if len(set(components)) != count or not set(in_frame).issuperset(components):
        return None
    first, last, bits = body[1 + 2 * count], body[2 + 2 * count], body[3 + 2 * count]
    high, low = bits >> 4, bits & 0x0F
    if low > 13 or (high != 0 and low != high - 1):
        return None
    if first == 0:  # a DC scan holds coefficient 0 alone
        return (components, first, last, low) if last == 0 else None
    # An AC scan: one component, a band within 1..63, a Huffman table libjpeg has.
    if count != 1 or not first <= last <= 63 or body[2] & 0x0F not in ac_tables:
        return None
    return components, first, last, low


def _note_ac_tables(body: bytes, ac_tables: set[int]) -> bool:
    """Add the AC tables a DHT segment defines to `ac_tables`; False if it is malformed."""
    at = 0
    while at < len(body):
        if at + 17 > len(body):
            return False
        kind = body[at]
        if kind >> 4 == 1:
            ac_tables.add(kind & 0x0F)
        at += 17 + sum(body[at + 1 : at + 17])
    return at == len(body)


def _gray_from_dc(frame: _Frame, jfif: bool, adobe_transform: int | None) -> bool:
    """Whether a 1/8-scale gray decode of this frame reads only DC coefficients."""
    if len(set(frame.sampling)) == 1:
        return True  # every component at 1x1: whatever the colour space, only DC is read
    largest_h = max(s >> 4 for s in frame.sampling)
    largest_v = max(s & 0x0F for s in frame.sampling)
    if frame.sampling[0] != (largest_h << 4 | largest_v):
        return False
    # Subsampled colour: gray comes from the first component alone only when it is luma
    # (YCbCr), which is how libjpeg reads a 3-component file unless it is marked as RGB.
    rgb = not jfif and (
        adobe_transform == 0
        if adobe_transform is not None
        else frame.ids == (ord("R"), ord("G"), ord("B"))
    )
    return not rgb


def _empty_blocks(blocks: int) -> bytes:
    """Entropy-coded data for an AC scan of at least `blocks` empty blocks: EOB14 symbols
    ("0") with all 14 extra bits set, each a run of 32767 blocks. libjpeg ends the scan at its
    last block, so the final run may be longer than what is left."""
    runs = -(-blocks // _EOB_RUN_MAX)
    bits = ("0" + "1" * 14) * runs
    bits += "1" * (-len(bits) % 8)  # padding bits are ones
    coded = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return coded.replace(b"\xff", b"\xff\x00")  # byte stuffing
