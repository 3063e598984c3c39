"""Hostile input: every bad file ends up in `errors` (or `skipped`) with a reason a person
understands, the scan goes on, and nothing under the scanned folders is modified."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Library, photo, snapshot
from PIL import Image
from report_helpers import with_images

from dedupe import scan as scan_module
from dedupe.cache import HashCache
from dedupe.cli import main
from dedupe.models import FileEntry, Settings
from dedupe.scan import Failed, Hashed, fingerprint_file, scan
from dedupe.walk import walk

SETTINGS = Settings()
PICTURE = photo(21, (320, 240))
PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent


def jpeg(image: Image.Image = PICTURE, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, **params)
    return buffer.getvalue()


def png(image: Image.Image = PICTURE) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def outcome_of(path: Path) -> Hashed | Failed | None:
    return fingerprint_file(str(path), SETTINGS)


def failed(path: Path) -> Failed:
    outcome = outcome_of(path)
    assert isinstance(outcome, Failed), f"{path.name}: {outcome}"
    return outcome


def cli_scan(root: Path, report: Path, *extra: str) -> dict[str, Any]:
    code = main(["scan", str(root), "--report", str(report), "--no-cache", "-j", "1", *extra])
    assert code == 0
    return with_images(report)


# ---------------------------------------------------------------- broken and mislabelled files

TRUNCATED = "the file is truncated (an incomplete download or copy?)"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.jpg", b"", "empty file (0 bytes)"),
        ("half.jpg", jpeg()[: len(jpeg()) // 2], f"damaged JPEG image: {TRUNCATED}"),
        ("half.png", png()[: len(png()) // 2], f"damaged PNG image: {TRUNCATED}"),
        ("header-only.png", png()[:40], "damaged PNG image: its header is not valid"),
        (
            "notes.jpg",
            b"shopping list: milk, eggs\n",
            "not an image: named .jpg but the content is not an image",
        ),
        ("text.bmp", b"BM is how this text starts, by bad luck\n", "damaged BMP image: "),
    ],
)
def test_broken_files_are_errors_with_a_plain_reason(
    library: Library, name: str, data: bytes, reason: str
) -> None:
    outcome = failed(library.write(name, data))
    assert outcome.reason.startswith(reason) and not outcome.skipped


def test_a_jpeg_named_png_is_hashed_by_its_content(library: Library) -> None:
    outcome = outcome_of(library.write("really-a-jpeg.png", jpeg()))
    assert isinstance(outcome, Hashed) and outcome.fingerprint.format == "JPEG"


def test_files_not_named_as_images_are_passed_over_unless_they_are_images(
    library: Library,
) -> None:
    assert outcome_of(library.write("empty.txt", b"")) is None
    assert outcome_of(library.write("notes.txt", b"P1 meeting notes, BM, GIF8")) is None
    assert outcome_of(library.write("begins-like-a-bitmap.txt", b"BM" + bytes(100))) is None
    assert outcome_of(library.write("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(40))) is None
    hashed = outcome_of(library.write("photo.backup", jpeg()))
    assert isinstance(hashed, Hashed)


def test_known_formats_we_do_not_read_are_skipped_by_name(library: Library) -> None:
    outcome = failed(library.write("poster.psd", b"8BPS\x00\x01" + bytes(100)))
    assert outcome == Failed("Photoshop document (.psd): this format is not supported", True)


def test_a_file_too_big_to_be_a_photo_is_not_read(library: Library) -> None:
    path = library.write("huge.jpg", jpeg()[:100])
    with open(path, "r+b") as handle:
        handle.truncate(scan_module.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    assert failed(path).reason.startswith("too large to read (2,147,483,649 bytes")


# ---------------------------------------------------------------- decompression bombs

# Run in a child process whose address space is capped at 2 GiB: a bomb that got decoded
# would fail there with "not enough memory", not with the "refused" reason expected.
_BOMB_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))
from dedupe.models import Settings
from dedupe.scan import Failed, fingerprint_file
out = {}
for path in sys.argv[1:]:
    outcome = fingerprint_file(path, Settings())
    out[path] = outcome.reason if isinstance(outcome, Failed) else repr(outcome)
# This process's own peak (VmHWM); ru_maxrss would include the parent's peak from before exec.
try:
    with open("/proc/self/status") as status:
        peak = [line for line in status if line.startswith("VmHWM:")][0]
    out["maxrss_kib"] = int(peak.split()[1])
except (OSError, IndexError):
    out["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(out))
"""


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 100_000, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int, *, progressive: bool) -> bytes:
    data = jpeg(Image.new("RGB", (64, 64), "red"), progressive=progressive)
    marker = data.find(b"\xff\xc2" if progressive else b"\xff\xc0")
    return data[: marker + 5] + struct.pack(">HH", height, width) + data[marker + 9 :]


def test_decompression_bombs_are_refused_without_a_memory_blow_up(library: Library) -> None:
    bombs = {
        "bomb.png": png_claiming(100_000, 100_000),
        "bomb.gif": b"GIF89a"
        + struct.pack("<HH", 65535, 65535)
        + b"\x00\x00\x00,"
        + struct.pack("<HHHH", 0, 0, 65535, 65535)
        + b"\x00\x02\x02\x44\x01\x00;",
        "bomb-progressive.jpg": jpeg_claiming(65500, 65500, progressive=True),
        "bomb-baseline.jpg": jpeg_claiming(65500, 65500, progressive=False),
    }
    paths = [str(library.write(name, data)) for name, data in bombs.items()]
    child = subprocess.run(
        [PYTHON, "-c", _BOMB_CHILD, *paths], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    refused = (
        "is more than the safe limit of 178,956,970 pixels (a damaged file or a decompression bomb)"
    )
    assert out[paths[0]] == f"refused: 100000 x 100000 pixels {refused}"
    assert out[paths[1]] == f"refused: 65535 x 65535 pixels {refused}"
    assert out[paths[2]] == f"refused: 65500 x 65500 pixels {refused}"
    # Beyond the limit a baseline JPEG would be decoded at 1/8 size; a 600-byte one claiming
    # 4.3 gigapixels is refused before anything is allocated.
    assert out[paths[3]] == (
        "damaged JPEG image: the file is far too small for the 65500 x 65500 pixels it claims"
    )
    assert out["maxrss_kib"] < 400 * 1024


def test_big_baseline_jpegs_are_decoded_reduced_beyond_the_pixel_limit(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real 200-megapixel panorama is too slow to make in a test, so the limit is lowered
    # instead: 1000 x 750 = 750,000 pixels against a refusal threshold of 2 x 200,000.
    big = photo(22, (250, 188)).resize((1000, 750), Image.Resampling.BICUBIC)
    library.write("baseline.jpg", jpeg(big))
    library.write("progressive.jpg", jpeg(big, progressive=True))
    library.write("lossless.png", png(big))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200_000)
    outcome = outcome_of(library.root / "baseline.jpg")
    assert isinstance(outcome, Hashed)
    assert (outcome.fingerprint.width, outcome.fingerprint.height) == (1000, 750)
    refused = "refused: 1000 x 750 pixels is more than the safe limit of 400,000 pixels"
    assert failed(library.root / "progressive.jpg").reason.startswith(refused)
    assert failed(library.root / "lossless.png").reason.startswith(refused)
    monkeypatch.undo()
    reference = outcome_of(library.root / "lossless.png")
    assert isinstance(reference, Hashed)
    assert outcome.fingerprint.hash - reference.fingerprint.hash <= SETTINGS.max_distance


# ---------------------------------------------------------------- races


class HookProgress:
    """A real Progress whose "Hashing images" stage start runs a callback: the moment between
    the walk and the hashing, used to change files under a running scan."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def start(self, description: str, total: int | None) -> None:
        if description.startswith("Hashing"):
            self.hook()

    def advance(self, count: int = 1) -> None:
        pass


def test_files_deleted_rewritten_or_replaced_between_walk_and_hash(library: Library) -> None:
    for name in ("deleted.jpg", "rewritten.jpg", "to-fifo.jpg", "to-link.jpg", "kept.jpg"):
        library.write(name, jpeg())
    other = jpeg(photo(23, (320, 240)))
    root = library.root

    def meddle() -> None:
        (root / "deleted.jpg").unlink()
        (root / "rewritten.jpg").write_bytes(other)
        (root / "to-fifo.jpg").unlink()
        os.mkfifo(root / "to-fifo.jpg")
        (root / "to-link.jpg").unlink()
        (root / "to-link.jpg").symlink_to(root / "kept.jpg")

    cache = HashCache.memory(SETTINGS)
    result = scan((str(root),), SETTINGS, cache, progress=HookProgress(meddle))
    assert {Path(p.path).name: p.reason for p in result.errors} == {
        "deleted.jpg": "the file disappeared during the scan",
        "to-fifo.jpg": "not a regular file (replaced during the scan?)",
        "to-link.jpg": "a symbolic link (not followed)",
    }
    records = {Path(r.path).name: r for r in result.records}
    assert sorted(records) == ["kept.jpg", "rewritten.jpg"]
    rewritten = records["rewritten.jpg"]
    assert rewritten.size == len(other)  # the size and digest of what was actually hashed
    assert rewritten.fingerprint.digest == hashlib.sha256(other).hexdigest()
    # None of those transient failures is remembered: a rescan sees the files as they are now.
    (root / "to-fifo.jpg").unlink()
    (root / "to-fifo.jpg").write_bytes(jpeg())
    again = scan((str(root),), SETTINGS, cache)
    assert sorted(Path(r.path).name for r in again.records) == [
        "kept.jpg",
        "rewritten.jpg",
        "to-fifo.jpg",
    ]


class _GrowingFile(io.BufferedReader):
    """A real file that another writer appends to right after our first read from it."""

    path: str

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if not getattr(self, "_grown", False):
            self._grown = True
            with open(self.path, "ab") as writer:
                writer.write(b"\x00" * 1000)
        return data


def test_a_file_changed_while_it_is_read_is_reported_and_not_cached(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = library.write("growing.jpg", jpeg())
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        handle = _GrowingFile(io.FileIO(fd, "rb", closefd=True))
        handle.path = str(path)
        return handle

    cache = HashCache.memory(SETTINGS)
    monkeypatch.setattr(os, "fdopen", fdopen)
    result = scan((str(library.root),), SETTINGS, cache)
    monkeypatch.setattr(os, "fdopen", real_fdopen)
    assert [(Path(p.path).name, p.reason) for p in result.errors] == [
        ("growing.jpg", "the file changed while it was being read; scan again")
    ]
    again = scan((str(library.root),), SETTINGS, cache)
    assert again.errors == () and len(again.records) == 1


def test_fingerprint_file_never_blocks_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)  # nobody writes to it: a blocking open or read would hang forever
    assert fingerprint_file(str(fifo), SETTINGS) == Failed(
        "not a regular file (replaced during the scan?)", transient=True
    )


def test_a_file_deleted_after_the_walk_is_reported_by_fingerprint_file(library: Library) -> None:
    path = library.write("gone.jpg", jpeg())
    entries = [e for e in walk((str(library.root),)) if isinstance(e, FileEntry)]
    path.unlink()
    assert fingerprint_file(entries[0].path, SETTINGS) == Failed(
        "the file disappeared during the scan", transient=True
    )


# ---------------------------------------------------------------- the whole tree through the CLI


@pytest.fixture
def hostile_tree(tmp_path: Path) -> Iterator[Path]:
    """A folder holding every kind of trouble at once (no unreadable files: see below)."""
    root = tmp_path / "hostile"
    root.mkdir()
    raw_root = os.fsencode(root)
    good = jpeg()
    files = {
        b"good.jpg": good,
        b"with space.jpg": good,
        b"new\nline.jpg": good,
        b"caf\xe9 latin-1.jpg": good,  # not valid UTF-8
        b"\xff\xfe.jpg": good,
        b"empty.jpg": b"",
        b"half.jpg": good[: len(good) // 2],
        b"notes.jpg": b"not a picture\n",
        b"jpeg.png": good,
        b"readme.txt": b"hello\n",
        b"other.png": png(photo(24, (320, 240))),
        b"sub/deeper/copy.jpg": good,
    }
    for name, data in files.items():
        full = os.path.join(raw_root, name)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(data)
    os.mkfifo(root / "fifo.jpg")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "socket.jpg"))
    (root / "broken-link.jpg").symlink_to(root / "missing.jpg")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "sub" / "deeper" / "up").symlink_to(root, target_is_directory=True)
    (root / "to-good.jpg").symlink_to(root / "good.jpg")
    try:
        yield root
    finally:
        sock.close()


def tree_state(root: Path) -> dict[bytes, tuple[int, int, int, bytes]]:
    """(mode, size, mtime_ns, content) of every entry, folders included; only regular files
    are read (opening the FIFO would block). A temporary file created and removed in a
    folder would still change that folder's mtime."""
    state = {}
    for directory, dirs, files in os.walk(os.fsencode(root)):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            content = b""
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
            state[path] = (info.st_mode, info.st_size, info.st_mtime_ns, content)
    info = os.lstat(root)
    state[os.fsencode(root)] = (info.st_mode, info.st_size, info.st_mtime_ns, b"")
    return state


@pytest.mark.parametrize("follow", [False, True], ids=["default", "follow-symlinks"])
def test_a_hostile_tree_scans_to_the_end_and_reports_every_problem(
    hostile_tree: Path, tmp_path: Path, follow: bool
) -> None:
    before = tree_state(hostile_tree)
    report = tmp_path / "report.json"
    data = cli_scan(hostile_tree, report, *(["--follow-symlinks"] if follow else []))
    assert tree_state(hostile_tree) == before

    root = os.fsencode(hostile_tree)

    def rel(path: str) -> bytes:
        return os.path.relpath(os.fsencode(path), root)

    errors = {rel(e["path"]): e["error"] for e in data["errors"]}
    assert errors == {
        b"broken-link.jpg": "broken symbolic link: its target does not exist",
        b"empty.jpg": "empty file (0 bytes)",
        b"half.jpg": f"damaged JPEG image: {TRUNCATED}",
        b"loop.jpg": "symbolic link loop: following it leads back to itself",
        b"notes.jpg": "not an image: named .jpg but the content is not an image",
    }
    copies = [
        b"\xff\xfe.jpg",
        b"caf\xe9 latin-1.jpg",
        b"good.jpg",
        b"jpeg.png",
        b"new\nline.jpg",
        b"sub/deeper/copy.jpg",
        b"with space.jpg",
    ]
    assert sorted(rel(i["path"]) for i in data["images"]) == sorted([*copies, b"other.png"])
    # The names come back byte for byte from the JSON: json.load + os.fsencode.
    on_disk = {os.path.join(d, n) for d, _, ns in os.walk(root) for n in ns}
    assert {os.fsencode(i["path"]) for i in data["images"]} <= on_disk
    [group] = data["groups"]
    assert group["kind"] == "exact"
    assert sorted(rel(f["path"]) for f in group["files"]) == sorted(copies)
    assert data["skipped"] == []


def test_the_report_stores_undecodable_names_as_surrogate_escapes(
    hostile_tree: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    cli_scan(hostile_tree, report)
    text = report.read_text(encoding="utf-8")
    assert "caf\\udce9 latin-1.jpg" in text and "\\udcff\\udcfe.jpg" in text
    assert "new\\nline.jpg" in text


def test_scanning_never_changes_a_byte_or_an_mtime(library: Library, tmp_path: Path) -> None:
    for seed in range(4):
        library.save(f"p{seed}.jpg", photo(30 + seed, (200, 150)), quality=90)
    library.save("p0-copy.png", photo(30, (200, 150)))
    library.write("sub/broken.jpg", b"\xff\xd8\xff\xe0broken")
    before = snapshot(library.root)
    cache = tmp_path / "cache.sqlite"
    for _ in range(2):  # a cold and a warm scan
        code = main(
            ["scan", str(library.root), "--report", str(tmp_path / "r.json"), "--cache", str(cache)]
        )
        assert code == 0
    assert snapshot(library.root) == before
    assert sorted(os.listdir(library.root)) == [
        "p0-copy.png",
        "p0.jpg",
        "p1.jpg",
        "p2.jpg",
        "p3.jpg",
        "sub",
    ]


# ---------------------------------------------------------------- permissions

# As root, permission bits do not bite (CAP_DAC_OVERRIDE); the scan then runs in a child
# process whose bounding set lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, which makes
# root obey them like anyone else. A normal user runs the same child unchanged.
_DROP = [
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def _unprivileged(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make permissions apply")
    return [setpriv, *_DROP, *argv]


def test_unreadable_files_and_folders_are_listed_and_the_scan_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    (root / "ok.jpg").write_bytes(jpeg())
    (root / "secret.jpg").write_bytes(jpeg())
    (root / "locked").mkdir()
    (root / "locked" / "inside.jpg").write_bytes(jpeg())
    (root / "secret.jpg").chmod(0)
    (root / "locked").chmod(0)
    report = tmp_path / "report.json"
    try:
        child = subprocess.run(
            _unprivileged(
                [PYTHON, "-m", "dedupe", "scan", str(root), "--report", str(report), "--no-cache"]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
    finally:
        (root / "secret.jpg").chmod(0o644)
        (root / "locked").chmod(0o755)
    if child.returncode != 0 and "setpriv" in child.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {child.stderr.strip()}")
    assert child.returncode == 0, child.stderr
    data = with_images(report)
    assert {Path(e["path"]).name: e["error"] for e in data["errors"]} == {
        "locked": "permission denied: this folder cannot be listed",
        "secret.jpg": "permission denied: this file cannot be read",
    }
    assert [Path(i["path"]).name for i in data["images"]] == ["ok.jpg"]
    assert "permission denied" in child.stderr


def test_a_fifo_in_the_tree_never_hangs_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "pipes"
    root.mkdir()
    os.mkfifo(root / "a.jpg")
    os.mkfifo(root / "b.png")
    (root / "c.jpg").write_bytes(jpeg())
    report = tmp_path / "report.json"
    try:
        child = subprocess.run(
            [PYTHON, "-m", "dedupe", "scan", str(root), "--report", str(report), "--no-cache"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the scan hung on a FIFO")
    assert child.returncode == 0, child.stderr
    data = with_images(report)
    assert [Path(i["path"]).name for i in data["images"]] == ["c.jpg"]
    assert data["errors"] == []


def test_hard_links_are_one_file_never_duplicates(library: Library, tmp_path: Path) -> None:
    original = library.write("a.jpg", jpeg())
    os.link(original, library.root / "b-hardlink.jpg")
    library.write("c-copy.jpg", jpeg())
    data = cli_scan(library.root, tmp_path / "r.json")
    [group] = data["groups"]
    files = {Path(f["path"]).name: f for f in group["files"]}
    assert sorted(files) == ["a.jpg", "c-copy.jpg"]
    assert [Path(p).name for p in files["a.jpg"]["hardlinks"]] == ["b-hardlink.jpg"]
    assert data["stats"]["hardlinks"] == 1
