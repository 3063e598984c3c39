"""Thumbnails for the review and the HTML page: decode a file small (EXIF orientation applied,
alpha flattened, via decode.py) and draw it in a terminal with half-block characters.

Each terminal cell shows two pixels, one above the other: "▀" in the top pixel's colour on a
background of the bottom pixel's colour. Cells are about twice as tall as wide, so one cell
column per pixel and two pixels per row keeps the picture's proportions.
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass, field

from PIL import Image
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from dedupe.decode import DecodeError, decode

# Thumbnails are kept at most this many pixels on their long side: enough for a full-screen
# terminal (200 columns hold ~4 side by side) and for the HTML page.
MAX_SIDE = 320
# Files bigger than this are not read for a thumbnail (no photo is this big; a video might be).
MAX_FILE_BYTES = 512 * 1024 * 1024

UPPER_HALF = "\u2580"


class ThumbnailError(Exception):
    """No thumbnail for this file; the message says why in a few words."""


def load(path: str, max_side: int = MAX_SIDE) -> Image.Image:
    """The file's picture as an RGB image at most `max_side` pixels on its long side."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise ThumbnailError("file too large to preview")
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise ThumbnailError("file is gone (moved or deleted since the scan)") from None
    except OSError as error:
        raise ThumbnailError(f"cannot read: {error.strerror or error}") from None
    try:
        decoded = decode(data, min_side=max(16, max_side // 2))
    except DecodeError as error:
        raise ThumbnailError(str(error)) from None
    image = decoded.image
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def data_uri(image: Image.Image, format: str = "WEBP", quality: int = 70) -> str:
    """The image as an inline `data:image/...;base64,` URI (for the HTML page), as WebP or
    JPEG at `quality`."""
    buffer = io.BytesIO()
    if format == "WEBP":
        image.convert("RGB").save(buffer, "WEBP", quality=quality, method=4)
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=quality, optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/{format.lower()};base64,{encoded}"


def fit(image_size: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """Pixel size (w, h) of the image scaled to fit `width` cells x `height` rows of half-blocks.

    h is even (two pixels per row); both are at least 1 cell (2 pixels tall).
    """
    iw, ih = image_size
    if iw <= 0 or ih <= 0 or width <= 0 or height <= 0:
        return (0, 0)
    scale = min(width / iw, (2 * height) / ih)
    w = max(1, min(width, round(iw * scale)))
    h = max(2, min(2 * height, round(ih * scale)))
    return (w, h + (h % 2))


@dataclass
class HalfBlock:
    """A rich renderable drawing an image in `width` x `height` cells, centred, with ▀ cells."""

    image: Image.Image
    width: int
    height: int
    _lines: list[list[Segment]] | None = field(default=None, repr=False)

    def lines(self) -> list[list[Segment]]:
        if self._lines is None:
            self._lines = self._render()
        return self._lines

    def _render(self) -> list[list[Segment]]:
        w, h = fit(self.image.size, self.width, self.height)
        blank = Segment(" " * self.width)
        if w == 0:
            return [[blank] for _ in range(max(0, self.height))]
        small = self.image.convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
        pixels = small.load()
        assert pixels is not None
        left = (self.width - w) // 2
        right = self.width - w - left
        top = (self.height - h // 2) // 2
        styles: dict[tuple[object, object], Style] = {}
        rows: list[list[Segment]] = [[blank] for _ in range(top)]
        for y in range(0, h, 2):
            row: list[Segment] = [Segment(" " * left)] if left else []
            for x in range(w):
                up, down = pixels[x, y], pixels[x, y + 1]
                style = styles.get((up, down))
                if style is None:
                    style = Style(color=_color(up), bgcolor=_color(down))
                    styles[(up, down)] = style
                row.append(Segment(UPPER_HALF, style))
            if right:
                row.append(Segment(" " * right))
            rows.append(row)
        rows.extend([blank] for _ in range(self.height - len(rows)))
        return rows

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.lines()
        for k, line in enumerate(lines):
            yield from line
            if k < len(lines) - 1:
                yield Segment.line()


def _color(pixel: object) -> Color:
    if isinstance(pixel, tuple):
        r, g, b = (int(v) for v in pixel[:3])
    else:  # a single-band value (not expected after convert("RGB"))
        r = g = b = int(pixel)  # type: ignore[call-overload]
    return Color.from_rgb(r, g, b)
