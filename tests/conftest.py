"""Shared fixtures: generated photos, the real-image folder, and running the CLI in-process."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

# Tests write HEIC files with Pillow; dedupe itself registers pillow-heif only when it decodes one.
pillow_heif.register_heif_opener()

REAL_IMAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "real-images"


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the real ~/.cache or trash: every test gets its own XDG folders."""
    base = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        path = base / name.lower()
        path.mkdir()
        monkeypatch.setenv(name, str(path))


@pytest.fixture
def real_images() -> Path:
    if not REAL_IMAGES.is_dir():
        pytest.skip("../shared/real-images is not present")
    return REAL_IMAGES


def photo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic photo-like RGB image: smooth colour fields plus shapes and texture.

    Different seeds give clearly different pictures; the same seed gives the same pixels.
    """
    rng = np.random.default_rng(seed)
    w, h = size
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for channel in range(3):
        acc = np.zeros((h, w), np.float32)
        for _ in range(4):
            fx, fy = rng.uniform(0.5, 4.0, 2)
            px, py = rng.uniform(0, 2 * np.pi, 2)
            acc += np.sin(gx / w * fx * np.pi + px) * np.cos(gy / h * fy * np.pi + py)
        img[..., channel] = acc
    for _ in range(6):  # blobs
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.25) * min(w, h)
        mask = ((gx - cx) ** 2 + (gy - cy) ** 2) < r * r
        img[mask] += rng.uniform(-2, 2, 3)
    img += rng.normal(0, 0.05, img.shape).astype(np.float32)
    img -= img.min()
    img /= img.max()
    return Image.fromarray((img * 255).astype(np.uint8), "RGB")


def change_in_place(path: Path) -> None:
    """Change one byte of a file and put its size and modification time back as they were:
    only its content (SHA-256) tells it changed."""
    info = os.stat(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


@dataclass
class Library:
    """A folder of generated images, created file by file by the test."""

    root: Path

    def save(self, name: str, image: Image.Image, **params: object) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **params)
        return path

    def write(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


@pytest.fixture
def library(tmp_path: Path) -> Library:
    root = tmp_path / "photos"
    root.mkdir()
    return Library(root)


@pytest.fixture
def make_photo() -> Callable[..., Image.Image]:
    return photo


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root with (size, mtime_ns, content): to prove nothing changed."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            with open(p, "rb") as handle:
                out[p] = (st.st_size, st.st_mtime_ns, handle.read())
    return out


@pytest.fixture
def home_on_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME on the test's temporary file system, so that send2trash picks the home trash in the
    test's XDG_DATA_HOME and not a `.Trash-UID` folder at the top of the file system."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No line wrapping in the messages a test checks."""
    monkeypatch.setenv("COLUMNS", "1000")


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Runs `dedupe ARGV...` in this process: (exit code, its stdout, its stderr)."""
    from dedupe.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()  # what ran before (a helper's scan, say) is not this command's output
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
