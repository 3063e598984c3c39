"""How the review draws its thumbnails: the user's choice (`--thumbnails` or $DEDUPE_THUMBNAILS),
what the terminal says it can do, and the textual-image widget for a graphics protocol.

Pictures are drawn with the kitty terminal graphics protocol or with Sixel (through the
textual-image library) when the terminal answers that it has one, and with half-block characters
(thumbs.py) everywhere else. The terminal is asked once, before the full-screen app starts: once
Textual reads the keyboard it would swallow the answers.
"""

from __future__ import annotations

import enum
import os
import re
import select
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image
from textual.widget import Widget

# The values of --thumbnails, in the order --help lists them.
MODES = ("auto", "kitty", "sixel", "blocks", "none")
DEFAULT_MODE = "auto"
ENV = "DEDUPE_THUMBNAILS"

# kitty answers the graphics protocol query since 0.20 but draws images placed with Unicode
# placeholders (which is how textual-image puts a picture inside a Textual screen) only since
# 0.28: older versions (Debian 12 has 0.26) show a block of empty boxes instead.
KITTY_PLACEHOLDERS = (0, 28)
# Seconds to wait at most for the terminal's answers (every terminal answers DA1 at once; this
# only bounds a terminal, or a link, that says nothing).
ANSWER_TIMEOUT = 2.0
XTVERSION = "\x1b[>0q"  # "your name and version?"  (answer: DCS > | kitty(0.26.5) ST)
DEVICE_ATTRIBUTES = "\x1b[c"  # DA1: every terminal answers CSI ? ... c
XTVERSION_ANSWER = re.compile(r"\x1bP>\|([^\x1b]*)\x1b\\")
ATTRIBUTES_ANSWER = re.compile(r"\x1b\[\?[\d;]*c")
# The kitty protocol's answer to textual-image's query image: APC G ... ; OK ST.
KITTY_OK = re.compile(r"\x1b_G[^;\x1b]*;OK\x1b\\")


class Renderer(enum.Enum):
    """What actually draws the thumbnails."""

    KITTY = "kitty"  # kitty terminal graphics protocol
    SIXEL = "sixel"
    BLOCKS = "blocks"  # half-block characters, any colour terminal
    NONE = "none"  # no pictures

    @property
    def is_graphics(self) -> bool:
        return self in (Renderer.KITTY, Renderer.SIXEL)


@dataclass(frozen=True)
class Support:
    """What the terminal answered: Sixel, the kitty protocol, and its name and version (the
    XTVERSION answer, such as "kitty(0.26.5)"; None when it did not say)."""

    sixel: bool = False
    kitty: bool = False
    version: str | None = None


class ModeError(ValueError):
    """A --thumbnails or $DEDUPE_THUMBNAILS value that is not one of MODES."""


def mode_from(option: str | None, environ: Mapping[str, str]) -> str:
    """The thumbnail mode: the command-line option, else $DEDUPE_THUMBNAILS, else "auto"."""
    if option is not None:
        value, source = option, "--thumbnails"
    elif environ.get(ENV, "").strip():
        value, source = environ[ENV].strip().lower(), f"${ENV}"
    else:
        return DEFAULT_MODE
    if value not in MODES:
        raise ModeError(f"{source} must be one of {', '.join(MODES)} (not {value!r})")
    return value


def kitty_version(version: str | None) -> tuple[int, ...] | None:
    """(0, 26, 5) for "kitty(0.26.5)"; None for another terminal or no answer."""
    match = re.fullmatch(r"\s*kitty\((\d+(?:\.\d+)*)[^)]*\)\s*", version or "")
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def choose(mode: str, support: Support) -> Renderer:
    """The renderer for `mode` on a terminal that answered `support`.

    "auto" takes Sixel, then the kitty protocol (unless the terminal is a kitty too old to draw
    it inside a full-screen app), then half-blocks. "kitty" and "sixel" force that protocol
    without asking (for a terminal that does not answer, e.g. behind ssh or a multiplexer).
    """
    if mode == "none":
        return Renderer.NONE
    if mode == "blocks":
        return Renderer.BLOCKS
    if mode == "kitty":
        return Renderer.KITTY
    if mode == "sixel":
        return Renderer.SIXEL
    if mode != "auto":
        raise ModeError(f"unknown thumbnail mode {mode!r}")
    if support.sixel:
        return Renderer.SIXEL
    if support.kitty:
        version = kitty_version(support.version)
        if version is None or version >= KITTY_PLACEHOLDERS:
            return Renderer.KITTY
    return Renderer.BLOCKS


def detect() -> Support:
    """Ask the terminal on stdin/stdout what it can draw. Call before the Textual app starts.

    textual-image asks when it is first imported (device attributes for Sixel, a query image for
    the kitty protocol, each with a 0.1 s limit) and measures the cell size in pixels. Then we
    ask the terminal's name and version and read every answer up to the device attributes, which
    every terminal answers last: an answer that came too late for textual-image must not reach
    the review as keystrokes (the "OK" of the kitty protocol's answer would press K).
    """
    out, keys = sys.__stdout__, sys.__stdin__
    if out is None or keys is None or not (out.isatty() and keys.isatty()):
        return Support()
    import textual_image.renderable as auto

    prepare()
    answers = _answers_until_attributes(XTVERSION)
    version = XTVERSION_ANSWER.search(answers)
    return Support(
        sixel=auto.Image is auto.SixelImage,
        kitty=auto.Image is auto.TGPImage or KITTY_OK.search(answers) is not None,
        version=version.group(1) if version else None,
    )


def prepare() -> None:
    """Load textual-image before the app starts: on import it asks the terminal for its
    protocols and measures the cell size, which it cannot do once Textual reads the keyboard."""
    import textual_image.widget  # noqa: F401


def _answers_until_attributes(query: str) -> str:
    """Send `query`, then ask for the device attributes (DA1); return what the terminal answered
    up to and with the DA1 answer, and whatever else arrives right after it."""
    if os.name != "posix":
        return ""
    import termios
    import tty

    out, keys = sys.__stdout__, sys.__stdin__
    assert out is not None and keys is not None
    fd = keys.fileno()
    data = b""
    try:
        mode = termios.tcgetattr(fd)
        tty.setcbreak(fd, termios.TCSANOW)
    except termios.error:
        return ""
    try:
        out.write(query + DEVICE_ATTRIBUTES)
        out.flush()
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            # After the DA1 answer, wait only a moment for stragglers (a second DA1 answer to
            # textual-image's own question, if it came late).
            wait = min(left, 0.05) if ATTRIBUTES_ANSWER.search(data.decode("latin-1")) else left
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, mode)
    return data.decode("utf-8", "replace")


def picture_widget(renderer: Renderer, image: Image.Image) -> Widget:
    """A textual-image widget drawing `image` with `renderer`'s protocol, sized to fit its
    container with the picture's proportions (CSS width and height auto)."""
    if renderer is Renderer.KITTY:
        from textual_image.widget import TGPImage

        widget: Widget = TGPImage(image)
    elif renderer is Renderer.SIXEL:
        from textual_image.widget import SixelImage

        widget = SixelImage(image)
    else:
        raise ValueError(f"{renderer.value} is not a graphics protocol")
    widget.styles.width = "auto"
    widget.styles.height = "auto"
    return widget


def forget(widget: Widget) -> None:
    """Free the picture a graphics widget stored in the terminal (kitty keeps it until told)."""
    from textual_image.widget._base import Image as PictureWidget

    if isinstance(widget, PictureWidget):
        widget.image = None
