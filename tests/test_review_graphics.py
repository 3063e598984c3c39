"""Thumbnails through a terminal graphics protocol: which renderer a mode and a terminal's
answers give, the half-block fallback in the pilot, and the kitty protocol escape sequences
carrying the very thumbnail the review decoded (captured and decoded back)."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, Library, photo
from PIL import Image
from test_review_app import build_library, make_app, scan
from textual_image.widget import TGPImage

from dedupe.review import graphics
from dedupe.review.app import ReviewApp, Thumb
from dedupe.review.graphics import Renderer, Support

SIZE = (120, 40)
KITTY_26 = Support(kitty=True, version="kitty(0.26.5)")
KITTY_35 = Support(kitty=True, version="kitty(0.35.2)")


@pytest.mark.parametrize(
    ("option", "env", "mode"),
    [
        (None, None, "auto"),
        (None, "", "auto"),
        (None, "blocks", "blocks"),
        (None, " Sixel ", "sixel"),
        ("kitty", "blocks", "kitty"),  # the option wins over the environment
        ("none", None, "none"),
    ],
)
def test_mode_comes_from_the_option_then_the_environment(
    option: str | None, env: str | None, mode: str
) -> None:
    environ = {} if env is None else {graphics.ENV: env}
    assert graphics.mode_from(option, environ) == mode


def test_an_unknown_mode_is_refused_with_its_source() -> None:
    with pytest.raises(graphics.ModeError, match=r"\$DEDUPE_THUMBNAILS must be one of auto"):
        graphics.mode_from(None, {graphics.ENV: "iterm"})
    with pytest.raises(graphics.ModeError, match="--thumbnails"):
        graphics.mode_from("pictures", {})


@pytest.mark.parametrize(
    ("mode", "support", "renderer"),
    [
        ("auto", Support(), Renderer.BLOCKS),
        ("auto", Support(sixel=True), Renderer.SIXEL),
        ("auto", Support(sixel=True, kitty=True), Renderer.SIXEL),
        ("auto", KITTY_35, Renderer.KITTY),
        ("auto", Support(kitty=True), Renderer.KITTY),  # said nothing of its version
        ("auto", Support(kitty=True, version="WezTerm 20240203"), Renderer.KITTY),
        ("auto", KITTY_26, Renderer.BLOCKS),  # too old for Unicode placeholders
        ("kitty", KITTY_26, Renderer.KITTY),  # forced: the user knows better
        ("kitty", Support(), Renderer.KITTY),
        ("sixel", Support(), Renderer.SIXEL),
        ("blocks", Support(sixel=True, kitty=True), Renderer.BLOCKS),
        ("none", KITTY_35, Renderer.NONE),
    ],
)
def test_renderer_for_mode_and_terminal(mode: str, support: Support, renderer: Renderer) -> None:
    assert graphics.choose(mode, support) is renderer


def test_kitty_version_is_read_from_the_xtversion_answer() -> None:
    assert graphics.kitty_version("kitty(0.26.5)") == (0, 26, 5)
    assert graphics.kitty_version("kitty(0.28.0-dev)") == (0, 28, 0)
    assert graphics.kitty_version("XTerm(379)") is None
    assert graphics.kitty_version(None) is None


def test_nothing_is_asked_when_not_in_a_terminal() -> None:
    # Under pytest stdout is captured, not a terminal: no query is written, nothing is read.
    assert graphics.detect() == Support()
    assert graphics.choose("auto", graphics.detect()) is Renderer.BLOCKS


def test_unknown_mode_on_the_command_line_is_a_clear_error(
    cli: Cli, library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_library(library, groups=1)
    path = scan(library, tmp_path)
    code, _, err = cli("review", "--report", str(path), "--thumbnails", "png", "--no-input")
    assert code == 2 and "--thumbnails" in err
    monkeypatch.setenv(graphics.ENV, "png")
    code, out, err = cli("review", "--report", str(path), "--no-input")
    assert code == 2 and "DEDUPE_THUMBNAILS must be one of" in err and out == ""
    code, out, _ = cli("review", "--report", str(path), "--no-input", "--thumbnails", "blocks")
    assert code == 0 and "g01_orig.jpg" in out


def test_help_documents_the_thumbnail_modes(capsys: pytest.CaptureFixture[str]) -> None:
    from dedupe.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["review", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--thumbnails {auto,kitty,sixel,blocks,none}" in text
    assert "$DEDUPE_THUMBNAILS" in text


async def wait_for_thumbs(app: ReviewApp, count: int) -> None:
    for _ in range(300):
        if len(app.thumbs) >= count:
            break
        await asyncio.sleep(0.02)


def test_fallback_draws_half_blocks_in_the_pilot(library: Library, tmp_path: Path) -> None:
    build_library(library, groups=1)
    path = scan(library, tmp_path)
    renderer = graphics.choose("auto", graphics.detect())  # not a terminal: half-blocks

    async def scenario() -> None:
        app = make_app(path)
        app.renderer = renderer
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_thumbs(app, 2)
            await pilot.pause()
            thumbs = [card.thumb for card in app.pair]
            assert {t.renderer for t in app.query(Thumb)} == {Renderer.BLOCKS}
            assert not list(app.query(TGPImage))
            middle = [str(t.render_line(t.content_size.height // 2).text) for t in thumbs]
            assert all("▀" in line for line in middle)
            await pilot.press("q")

    asyncio.run(scenario())


def test_no_thumbnails_decodes_and_draws_nothing(library: Library, tmp_path: Path) -> None:
    build_library(library, groups=1)
    path = scan(library, tmp_path)

    async def scenario() -> None:
        app = make_app(path)
        app.renderer = Renderer.NONE
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.1)
            assert not any(t.display for t in app.query(Thumb))
            assert app.thumbs == {}
            await pilot.press("q")

    asyncio.run(scenario())


# APC G <keys> ; <payload> ST: one message of the kitty graphics protocol.
TGP_MESSAGE = re.compile(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\")


def transmitted_images(stream: str) -> dict[int, Image.Image]:
    """Every image the escape sequences transmit, by image id (chunks joined, base64 decoded)."""
    chunks: dict[int, list[str]] = {}
    for keys, payload in TGP_MESSAGE.findall(stream):
        fields = dict(item.split("=", 1) for item in keys.split(","))
        if "a" in fields:  # placement ("a=p") or deletion ("a=d"): no image data
            continue
        assert fields["f"] == "100"  # PNG
        chunks.setdefault(int(fields["i"]), []).append(payload)
    return {
        image_id: Image.open(io.BytesIO(base64.b64decode("".join(parts)))).convert("RGB")
        for image_id, parts in chunks.items()
    }


def difference(a: Image.Image, b: Image.Image | str) -> float:
    """Mean absolute difference per channel (0-255) of b scaled to a's size."""
    assert isinstance(b, Image.Image)
    scaled = b.convert("RGB").resize(a.size)
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(scaled, np.int16)).mean())


def test_kitty_protocol_carries_the_thumbnail(
    library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_library(library, groups=1)
    path = scan(library, tmp_path)
    # textual-image writes the protocol straight to the terminal (sys.__stdout__): catch it.
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stdout__", terminal)

    async def scenario() -> None:
        app = make_app(path)
        app.renderer = Renderer.KITTY
        async with app.run_test(size=SIZE) as pilot:
            await wait_for_thumbs(app, 2)
            for _ in range(50):
                await pilot.pause()
                if len(transmitted_images(terminal.getvalue())) >= 2:
                    break
            # The pair (the kept copy and the selected file), each one picture.
            pictures = [p for card in app.pair for p in card.query(TGPImage)]
            assert len(pictures) == 2
            # The cells show kitty's placeholder character, which the terminal replaces with
            # the picture.
            lines = [str(p.render_line(0).text) for p in pictures]
            assert all(chr(0x10EEEE) in line for line in lines)
            thumbs = [app.thumbs[card.thumb.path] for card in app.pair]
            assert all(isinstance(thumb, Image.Image) for thumb in thumbs)
            await pilot.press("q")
        # Each picture is sent once per size it is drawn at (the layout settles once or twice).
        sent = transmitted_images(terminal.getvalue())
        assert len(sent) >= 2
        other = photo(999, (400, 300))
        for image in sent.values():
            assert image.width >= 100 and image.height >= 60
            assert min(difference(image, thumb) for thumb in thumbs) < 4
            assert difference(image, other) > 20  # the comparison can tell pictures apart
        # Leaving the review frees the pictures kept in the terminal.
        deleted = re.findall(r"\x1b_Ga=d,I=(\d+)\x1b\\", terminal.getvalue())
        assert sorted(int(i) for i in deleted) == sorted(sent)

    asyncio.run(scenario())
