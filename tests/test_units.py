"""A photo is more than one file: sidecars, Live Photos, RAW + JPEG captures, reference folders,
keep rules that know metadata, and the report's schema 2.

Real files throughout: XMP sidecars and EXIF written by exiftool, Apple .AAE plists by
plistlib (the format Photos writes), Google Takeout folders with their JSON (and the names
Takeout truncates), .THM thumbnails by Pillow, MOVs by ffmpeg with the content identifier ffmpeg
writes (read back by exiftool), a real iPhone HEIC from ../shared/real-images, DNGs by the
writer of test_formats.py. Tests that need exiftool, ffmpeg or rawpy skip without them.
"""

from __future__ import annotations

import io
import json
import os
import plistlib
import shutil
import struct
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apply_helpers import (
    MTIME,
    journals,
    load,
    members,
    put,
    records,
    takeout_json,
    trash_dir,
    tree,
    xmp,
)
from conftest import REAL_IMAGES, Cli, photo
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image
from report_helpers import schema_2, with_images

from dedupe import companions, metadata
from dedupe.apply import act
from dedupe.cli import ExitCode

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")


def jpeg(seed: int, size: tuple[int, int] = (320, 240), **params: Any) -> bytes:
    buffer = io.BytesIO()
    photo(seed, size).save(buffer, "JPEG", **params)
    return buffer.getvalue()


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"needs {name}")
    return found


def exif(path: Path, *tags: str) -> None:
    """Write EXIF tags with exiftool (`-Make=Canon` ...), keeping the file's mtime."""
    subprocess.run(
        [tool("exiftool"), "-q", "-overwrite_original", "-P", *tags, str(path)], check=True
    )


def exiftool_value(path: Path, tag: str) -> str:
    done = subprocess.run(
        [tool("exiftool"), "-s3", f"-{tag}", str(path)], capture_output=True, text=True
    )
    return done.stdout.strip()


@cache
def movie(content_id: str | None = None) -> bytes:
    """A short QuickTime movie made by ffmpeg, with Apple's content identifier if given."""
    ffmpeg = tool("ffmpeg")
    extra = []
    if content_id:
        extra = ["-metadata", f"com.apple.quicktime.content.identifier={content_id}"]
        extra += ["-movflags", "use_metadata_tags"]
    out = Path(os.environ["XDG_CACHE_HOME"]) / f"movie-{content_id}.mov"
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"]
        + ["-t", "0.5", "-pix_fmt", "yuv420p", "-c:v", "libx264", *extra, "-f", "mov", str(out)],
        check=True,
    )
    return out.read_bytes()


def aae() -> bytes:
    """An Apple Photos adjustments file, as Photos writes it (an XML plist)."""
    return plistlib.dumps(
        {
            "adjustmentBaseVersion": 0,
            "adjustmentData": b"\x00crop and light",
            "adjustmentEditorBundleID": "com.apple.mobileslideshow",
            "adjustmentFormatIdentifier": "com.apple.photo",
            "adjustmentFormatVersion": "1.4",
        }
    )


def thumbnail(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo(seed, (160, 120)).save(buffer, "JPEG")
    return buffer.getvalue()


def scan(cli: Cli, root: Path, *extra: str) -> Path:
    report = root.with_name(root.name + ".json")
    code, _, err = cli("scan", str(root), "--report", str(report), "--no-cache", "-j", "1", *extra)
    assert code == ExitCode.OK, err
    return report


def group_files(report: Path) -> dict[str, dict[str, Any]]:
    """name relative to the scanned folder -> its entry in the report's groups."""
    data = load(report)
    root = data["roots"][0]
    return {os.path.relpath(f["path"], root): f for g in data["groups"] for f in g["files"]}


def roles(entry: dict[str, Any]) -> dict[str, str]:
    return {os.path.basename(c["path"]): c["role"] for c in entry.get("companions", [])}


# ---------------------------------------------------------------- names


def test_sidecar_names_of_each_tool() -> None:
    names = [
        "IMG_1234.CR2", "IMG_1234.JPG", "IMG_1234.CR2.xmp", "IMG_1234.xmp",
        "IMG_1234_01.CR2.xmp", "IMG_1234.AAE", "IMG_O1234.AAE", "IMG_1234.THM",
        "IMG_2000.JPG", "IMG_2000_01.JPG", "IMG_2000_01.JPG.xmp", "notes.json", "other.xmp",
    ]  # fmt: skip
    found = companions.find(names, ["IMG_1234.CR2", "IMG_1234.JPG", "IMG_2000.JPG"])
    assert found["IMG_1234.CR2"] == [
        ("IMG_1234.AAE", "aae"),
        ("IMG_1234.CR2.xmp", "xmp"),
        ("IMG_1234.THM", "thm"),
        ("IMG_1234.xmp", "xmp"),
        ("IMG_1234_01.CR2.xmp", "xmp"),  # darktable's duplicate version
        ("IMG_O1234.AAE", "aae"),
    ]
    # the stem's sidecars belong to the JPEG of the same capture too, not the RAW's own XMP
    assert ("IMG_1234.xmp", "xmp") in found["IMG_1234.JPG"]
    assert ("IMG_1234.CR2.xmp", "xmp") not in found["IMG_1234.JPG"]
    # IMG_2000_01.JPG exists: its XMP is its own, not a version of IMG_2000.JPG
    assert found["IMG_2000.JPG"] == []
    assert companions.motion_of(["IMG_1.MOV", "IMG_1.HEIC"], "IMG_1.HEIC") == "IMG_1.MOV"
    assert companions.motion_of(["IMG_1.MOV"], "IMG_1.PNG") is None


@pytest.mark.parametrize(
    ("json_name", "image"),
    [
        ("IMG_1234.jpg.json", "IMG_1234.jpg"),
        ("IMG_1234.jpg.supplemental-metadata.json", "IMG_1234.jpg"),
        ("IMG_1234.jpg(1).json", "IMG_1234(1).jpg"),  # Takeout's numbered copies
        ("IMG_1234.jpg.supplemental-metadata(1).json", "IMG_1234(1).jpg"),
        # a real Takeout listing (GooglePhotosTakeoutHelper issue 8): cut to 46 characters
        (
            "Urlaub in Knaufspesch in der Schneifel (38).JP.json",
            "Urlaub in Knaufspesch in der Schneifel (38).JPG",
        ),
        (
            "0d7b086cdcb68a4b6279fabaa0928e90.jpg.supplemen.json",
            "0d7b086cdcb68a4b6279fabaa0928e90.jpg",
        ),
        ("PXL_20230101_120000000.jpg.supplemental-metada.json", "PXL_20230101_120000000.jpg"),
    ],
)
def test_takeout_json_names_and_their_truncations(json_name: str, image: str) -> None:
    images = list(dict.fromkeys([image, "IMG_1234.jpg", "IMG_1234-edited.jpg", "other.jpg"]))
    assert companions.takeout_of(json_name, images) == [image]
    assert len(json_name) - len(".json") <= companions.TAKEOUT_LIMIT + len("(1)")


def test_takeout_gives_an_edited_copy_no_json_and_a_number_only_its_own() -> None:
    names = ["IMG_5.jpg", "IMG_5(1).jpg", "IMG_5-edited.jpg", "IMG_5.jpg.json", "IMG_5.jpg(1).json"]
    found = companions.find(names, ["IMG_5.jpg", "IMG_5(1).jpg", "IMG_5-edited.jpg"])
    assert found == {
        "IMG_5.jpg": [("IMG_5.jpg.json", "takeout")],
        "IMG_5(1).jpg": [("IMG_5.jpg(1).json", "takeout")],
        "IMG_5-edited.jpg": [],
    }


# ---------------------------------------------------------------- sidecars


def sidecar_library(root: Path) -> None:
    """A photo with four sidecars in a/, a plain copy in b/ (which the rules would keep: the
    sidecars decide it), and a lone .THM."""
    put(root / "a/IMG_0001.JPG", jpeg(1), MTIME + 5)
    put(root / "a/IMG_0001.JPG.xmp", xmp("beach"))
    put(root / "a/IMG_0001.AAE", aae())
    put(root / "a/IMG_0001.JPG.supplemental-metadata.json", takeout_json("IMG_0001.JPG"))
    put(root / "a/IMG_0001.THM", thumbnail(1))
    put(root / "b/IMG_0001.JPG", jpeg(1), MTIME)
    put(root / "MVI_0002.THM", thumbnail(2))  # a video's thumbnail, no video


def test_sidecars_are_never_hashed_and_are_listed_with_their_image(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    sidecar_library(root)
    report = scan(cli, root)
    data = with_images(report)
    assert [os.path.basename(i["path"]) for i in data["images"]] == ["IMG_0001.JPG"] * 2
    assert data["stats"]["sidecars"] == 5 and data["skipped"] == [] and data["errors"] == []
    files = group_files(report)
    assert roles(files["a/IMG_0001.JPG"]) == {
        "IMG_0001.JPG.xmp": "xmp",
        "IMG_0001.AAE": "aae",
        "IMG_0001.JPG.supplemental-metadata.json": "takeout",
        "IMG_0001.THM": "thm",
    }
    # the copy with the edits is kept though it is the newer; the plain copy goes
    assert files["a/IMG_0001.JPG"]["action"] == "keep"
    assert files["b/IMG_0001.JPG"]["action"] == "trash"
    assert files["b/IMG_0001.JPG"]["reason"].startswith("byte-identical copy; keeps the copy that")
    code, out, _ = cli("review", "--report", str(report), "--no-input")
    assert (
        code == 0 and "sidecars: IMG_0001.AAE (aae), IMG_0001.JPG.supplemental-metadata.json" in out
    )


@pytest.mark.parametrize("action", ["trash", "move"])
def test_apply_takes_an_image_with_its_sidecars_and_undo_brings_them_back(
    cli: Cli, tmp_path: Path, action: str
) -> None:
    root = tmp_path / "photos"
    for folder, age in (("a", 0), ("b", 5)):
        put(root / folder / "IMG_0001.JPG", jpeg(1), MTIME + age)
        put(root / folder / "IMG_0001.JPG.xmp", xmp(folder))
        put(root / folder / "IMG_0001.AAE", aae())
    put(root / "b/IMG_0001.JPG.json", takeout_json("IMG_0001.JPG"))
    put(root / "a/IMG_0001.JPG.json", takeout_json("IMG_0001.JPG", 1))
    report = scan(cli, root)
    assert group_files(report)["b/IMG_0001.JPG"]["action"] == "trash"
    before = tree(root)
    dest = tmp_path / "dupes"
    how = ["--trash"] if action == "trash" else ["--move", str(dest)]
    code, _, err = cli("apply", "--report", str(report), *how, "--yes")
    assert code == ExitCode.OK, err
    gone = {"IMG_0001.JPG", "IMG_0001.JPG.xmp", "IMG_0001.AAE", "IMG_0001.JPG.json"}
    assert set(os.listdir(root / "b")) == set() and set(os.listdir(root / "a")) == gone
    where = trash_dir() / "files" if action == "trash" else dest / "b"
    assert gone <= set(os.listdir(where))
    (journal_path,) = journals()
    units = {r["unit"] for r in records(journal_path) if r["type"] == "intent"}
    assert len(units) == 1  # one journaled unit, a file at a time
    assert cli("undo")[0] == ExitCode.OK
    assert tree(root) == before


def test_a_copy_carrying_edits_the_keeper_lacks_is_kept_unless_told(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    put(root / "big.jpg", jpeg(3, (640, 480)))
    put(root / "small/IMG_0003.JPG", jpeg(3, (320, 240)))
    put(root / "small/IMG_0003.JPG.xmp", xmp("the rated one"))
    files = group_files(scan(cli, root))
    assert [files[n]["action"] for n in ("big.jpg", "small/IMG_0003.JPG")] == ["keep", "keep"]
    assert files["small/IMG_0003.JPG"]["reason"] == (
        "kept too: it carries IMG_0003.JPG.xmp (XMP edits and ratings), which the kept copy "
        "has none of (--lose-sidecars would trash it with them)"
    )
    files = group_files(scan(cli, root, "--lose-sidecars"))
    assert files["small/IMG_0003.JPG"]["action"] == "trash"
    assert files["small/IMG_0003.JPG"]["reason"] == (
        "keeps the 640x480 original; this is a 320x240 copy; goes with its sidecar "
        "IMG_0003.JPG.xmp; the kept copy has no XMP edits and ratings: lost with this one "
        "(--lose-sidecars)"
    )


def test_a_sidecar_changed_or_new_since_the_scan_keeps_its_image_in_place(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    for folder, age in (("a", 0), ("b", 5), ("c", 9)):
        put(root / folder / "IMG_0001.JPG", jpeg(1), MTIME + age)
        put(root / folder / "IMG_0001.JPG.xmp", xmp(folder))
    report = scan(cli, root)
    put(root / "b/IMG_0001.JPG.xmp", xmp("edited after the scan"), MTIME + 100)
    put(root / "c/IMG_0001.AAE", aae())  # edited in Photos after the scan
    before = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    assert f"{root}/b/IMG_0001.JPG: its sidecar IMG_0001.JPG.xmp has changed since the scan" in err
    assert (
        f"{root}/c/IMG_0001.JPG: it has sidecars the report does not list ({root}/c/IMG_0001.AAE)"
        in err
    )
    assert tree(root) == before and not (trash_dir() / "files").exists()


def test_sidecars_that_appear_beside_some_images_of_a_folder_keep_exactly_those_in_place(
    cli: Cli, tmp_path: Path
) -> None:
    """apply lists each folder once and keeps only the names that could be sidecars
    (companions.sidecar_names): an image with a new sidecar, or a new darktable version's,
    still stays, in the dry run as in the real run, and the other images of its folder go."""
    from clirun import Dedupe

    root = tmp_path / "photos"
    names = [f"IMG_{k:04d}.JPG" for k in range(1, 7)]
    for k, name in enumerate(names, 1):
        put(root / "a" / name, jpeg(k), MTIME)
        put(root / "b" / name, jpeg(k), MTIME + 5)
    report = scan(cli, root)
    put(root / "b/IMG_0002.JPG.xmp", xmp("rated after the scan"))
    put(root / "b/IMG_0003.aae", aae())  # another case than the name: still its sidecar
    put(root / "b/IMG_0004_01.JPG.xmp", xmp("a darktable version"))
    put(root / "b/IMG_0005.JPG.txt", b"notes: not a sidecar")
    put(root / "b/IMG_0006.xmp.JPG", jpeg(99))  # an image's name, not a sidecar's
    staying = {"IMG_0002.JPG", "IMG_0003.JPG", "IMG_0004.JPG"}
    user = Dedupe(tmp_path / "home")
    dry = user("apply", "--report", str(report), "--dry-run", "--format", "csv")
    assert dry.code == ExitCode.OK, dry.err
    rows = {os.path.basename(line.split(",")[1]): line for line in dry.text.splitlines()[1:]}
    assert sorted(rows) == names
    for name, line in rows.items():
        assert line.startswith("skip" if name in staying else "remove"), line
    assert "it has sidecars the report does not list" in rows["IMG_0004.JPG"]
    assert "IMG_0004_01.JPG.xmp" in rows["IMG_0004.JPG"]
    done = user("apply", "--report", str(report), "--trash", "--yes")
    assert done.code == ExitCode.PARTIAL, done.err
    left = sorted(p.name for p in (root / "b").iterdir() if p.suffix == ".JPG")
    assert left == sorted([*staying, "IMG_0006.xmp.JPG"])
    trash = user.home / "xdg_data_home/Trash/files"
    assert sorted(p.name for p in trash.iterdir()) == sorted(set(names) - staying)


# A folder's names, drawn from pieces that meet every rule of companions.find.
_STEMS = ["IMG_1234", "IMG_1234_01", "IMG_O1234", "IMG(1)", "", "."]
_EXTENSIONS = ["", ".jpg", ".JPG", ".CR2", ".xmp"]
_ENDINGS = ["", ".xmp", ".XMP", ".aae", ".AAE", ".thm", ".json", "(1).json", ".txt", "."]
_ENDINGS += [".supplemental-metadata.json", ".supplemental-meta.json"]
_NAMES = st.builds(
    "".join, st.tuples(*(st.sampled_from(p) for p in (_STEMS, _EXTENSIONS, _ENDINGS)))
)


def test_a_sidecar_a_kept_image_claims_stays_and_never_holds_back_its_copy(
    cli: Cli, tmp_path: Path
) -> None:
    """IMG_0007.xmp belongs to both images of stem IMG_0007: the kept one claims it, so it
    stays with it, and the copy beside it goes alone (apply looks the claim up per file)."""
    from clirun import Dedupe

    root = tmp_path / "photos"
    put(root / "IMG_0007.JPG", jpeg(7, (640, 480)))
    put(root / "IMG_0007.jpeg", jpeg(7, (320, 240)))
    put(root / "IMG_0007.xmp", xmp("both"))
    report = scan(cli, root)
    files = group_files(report)
    assert {n: f["action"] for n, f in files.items()} == {
        "IMG_0007.JPG": "keep",
        "IMG_0007.jpeg": "trash",
    }
    assert roles(files["IMG_0007.JPG"]) == {"IMG_0007.xmp": "xmp"}
    user = Dedupe(tmp_path / "home")
    dry = user("apply", "--report", str(report), "--dry-run", "--format", "csv")
    assert dry.code == ExitCode.OK, dry.err
    assert dry.text.splitlines()[1:] == [
        f"remove,{root}/IMG_0007.jpeg,{files['IMG_0007.jpeg']['size']},,"
    ]
    done = user("apply", "--report", str(report), "--trash", "--yes")
    assert done.code == ExitCode.OK, done.err
    assert sorted(p.name for p in root.iterdir()) == ["IMG_0007.JPG", "IMG_0007.xmp"]


@settings(max_examples=400, deadline=None)
@given(st.lists(_NAMES, max_size=12), st.lists(st.integers(0, 11), unique=True))
@example(["IMG_1234.jpg", "IMG_1234_01.jpg", "IMG_1234_01.jpg.xmp"], [0])
def test_sidecar_names_are_all_find_needs_to_see(names: list[str], picks: list[int]) -> None:
    """Over every name of a folder or over sidecar_names' few, find gives the same sidecars
    to the same images (the darktable version NAME_NN.EXT.xmp needs to know whether
    NAME_NN.EXT is there)."""
    images = sorted({names[k] for k in picks if k < len(names)})
    few = companions.sidecar_names(names)
    assert few <= set(names)
    assert companions.find(few, images) == companions.find(names, images)


def test_a_sidecar_that_cannot_follow_its_image_puts_the_image_back(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The image is trashed, then its sidecar is found swapped at the moment of its action:
    the image comes back from the trash, and the unit stays whole where it was."""
    root = tmp_path / "photos"
    for folder, age in (("a", 0), ("b", 5)):
        put(root / folder / "IMG_0001.JPG", jpeg(1), MTIME + age)
        put(root / folder / "IMG_0001.JPG.xmp", xmp(folder))
    report = scan(cli, root)
    sidecar = root / "b/IMG_0001.JPG.xmp"
    original = sidecar.read_bytes()

    def swap(path: str) -> None:
        if path == str(sidecar):
            os.link(sidecar, tmp_path / "held")  # (so that its inode is not reused at once)
            sidecar.unlink()
            put(sidecar, original)  # the same bytes, another file: not the one checked

    monkeypatch.setattr(act, "before_action", swap)
    before = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    assert "its sidecar IMG_0001.JPG.xmp: another file took its place" in err
    assert "the files of its unit already removed were put back" in err
    assert tree(root) == before
    assert list((trash_dir() / "files").iterdir()) == []
    assert list((trash_dir() / "info").iterdir()) == []
    (journal_path,) = journals()
    assert any(r.get("rollback") for r in records(journal_path) if r["type"] == "undone")


def test_a_warm_rescan_reads_no_file_for_the_facts(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "photos"
    sidecar_library(root)
    cache_file = tmp_path / "cache.sqlite"
    calls: list[str] = []
    for name in ("read_image", "read_companion"):
        real: Callable[..., Any] = getattr(metadata, name)

        def counted(path: str, *args: Any, real: Callable[..., Any] = real) -> Any:
            calls.append(path)
            return real(path, *args)

        monkeypatch.setattr(metadata, name, counted)
    report = tmp_path / "r.json"
    for expected in (6, 0):  # two images and four sidecars, then nothing
        calls.clear()
        code, _, err = cli("scan", str(root), "--report", str(report), "--cache", str(cache_file))
        assert code == 0, err
        assert len(calls) == expected
    assert roles(group_files(report)["a/IMG_0001.JPG"])["IMG_0001.AAE"] == "aae"


# ---------------------------------------------------------------- Live Photos


def heic(seed: int) -> bytes:
    buffer = io.BytesIO()
    photo(seed, (320, 240)).save(buffer, "HEIF", quality=60)
    return buffer.getvalue()


def test_a_live_photo_wins_over_a_plain_export_and_goes_with_its_motion(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    put(root / "iphone/IMG_0007.HEIC", heic(7))
    put(root / "iphone/IMG_0007.MOV", movie())
    put(root / "exports/IMG_0007.jpg", jpeg(7, quality=98))  # bigger than the HEIC
    put(root / "backup/IMG_0007.HEIC", heic(7), MTIME)  # an older copy of the Live Photo
    put(root / "backup/IMG_0007.MOV", movie())
    report = scan(cli, root)
    files = group_files(report)
    assert (root / "exports/IMG_0007.jpg").stat().st_size > (
        root / "iphone/IMG_0007.HEIC"
    ).stat().st_size
    keeper = files["backup/IMG_0007.HEIC"]
    assert keeper["action"] == "keep" and roles(keeper) == {"IMG_0007.MOV": "motion"}
    assert keeper["reason"].endswith("; with its motion part IMG_0007.MOV")
    assert files["exports/IMG_0007.jpg"]["reason"] == (
        "keeps the copy that carries more (Live Photo motion); this one has none"
    )
    assert files["iphone/IMG_0007.HEIC"]["reason"].endswith(
        "goes with its motion part IMG_0007.MOV"
    )
    code, out, _ = cli("review", "--report", str(report), "--no-input")
    assert code == 0 and "Live Photo: IMG_0007.MOV" in out
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK, err
    assert sorted(os.listdir(root / "iphone")) == [] and os.listdir(root / "exports") == []
    assert sorted(os.listdir(root / "backup")) == ["IMG_0007.HEIC", "IMG_0007.MOV"]
    assert {"IMG_0007.MOV", "IMG_0007.HEIC", "IMG_0007.jpg"} <= set(
        os.listdir(trash_dir() / "files")
    )


def apple_note(content_id: str) -> bytes:
    """An Apple maker note ("Apple iOS", version 1, big-endian IFD) holding tag 0x0011, the
    content identifier, built byte by byte as iPhones write it."""
    value = content_id.encode() + b"\0"
    at = 14 + 2 + 12 + 4  # offsets count from the note's first byte
    entry = struct.pack(">HHII", 0x0011, 2, len(value), at)
    return b"Apple iOS\0" + b"\x00\x01MM" + struct.pack(">H", 1) + entry + b"\0" * 4 + value


def test_the_content_identifier_pairs_a_still_and_a_movie_of_another_name(
    cli: Cli, tmp_path: Path
) -> None:
    identifier = "8C0D7E2A-5B1F-4E55-9D3C-1A2B3C4D5E6F"
    tags = Image.Exif()
    tags[0x010F], tags[0x0110] = "Apple", "iPhone 12"
    tags.get_ifd(0x8769)[0x927C] = apple_note(identifier)
    root = tmp_path / "photos"
    buffer = io.BytesIO()
    photo(8, (320, 240)).save(buffer, "JPEG", exif=tags.tobytes(), quality=95)
    put(root / "a/IMG_0008.JPG", buffer.getvalue(), MTIME)
    put(root / "a/IMG_0008 (motion).MOV", movie(identifier))
    put(root / "a/IMG_0009.MOV", movie("another capture"))
    put(root / "b/IMG_0008.JPG", buffer.getvalue(), MTIME + 5)
    put(root / "b/IMG_0008.MOV", movie("another capture"))  # the stem, but not this still's
    # exiftool, an independent reader, sees the same identifier in both files
    assert exiftool_value(root / "a/IMG_0008.JPG", "MediaGroupUUID") in (identifier, "")
    assert exiftool_value(root / "a/IMG_0008 (motion).MOV", "ContentIdentifier") == identifier
    files = group_files(scan(cli, root))
    assert roles(files["a/IMG_0008.JPG"]) == {"IMG_0008 (motion).MOV": "motion"}
    assert roles(files["b/IMG_0008.JPG"]) == {}
    assert files["a/IMG_0008.JPG"]["metadata"]["content_id"] == identifier


def test_a_real_iphone_heic_gives_the_identifier_exiftool_reads(tmp_path: Path) -> None:
    if not REAL_IMAGES.is_dir():
        pytest.skip("../shared/real-images is not present")
    path = REAL_IMAGES / "exif-samples/heic/IMG_5195.HEIC"
    read = metadata.read_image(str(path))
    expected = exiftool_value(path, "MediaGroupUUID") or exiftool_value(path, "ContentIdentifier")
    assert read.content_id == expected == "570F1469-09C7-4E50-9875-05F21D5BD166"
    assert (read.make, read.model, read.taken_at, read.gps) == (
        "Apple",
        "iPhone 11 Pro Max",
        "2021-04-11T15:47:53",
        True,
    )
    clip = tmp_path / "clip.mov"
    clip.write_bytes(movie(read.content_id))
    fd = os.open(clip, os.O_RDONLY)
    try:
        assert metadata.mov_content_id(fd) == read.content_id
    finally:
        os.close(fd)


@pytest.mark.parametrize("cut", [9, 40, 200, 1000])
def test_a_truncated_or_hostile_movie_gives_no_identifier(tmp_path: Path, cut: int) -> None:
    data = bytearray(movie("X-1"))
    damaged = tmp_path / "m.mov"
    damaged.write_bytes(bytes(data[:cut]))
    huge = tmp_path / "huge.mov"
    huge.write_bytes(struct.pack(">I4s", 1, b"moov") + struct.pack(">Q", 2**62) + bytes(64))
    for path in (damaged, huge):
        fd = os.open(path, os.O_RDONLY)
        try:
            assert metadata.mov_content_id(fd) is None
        finally:
            os.close(fd)


# ---------------------------------------------------------------- RAW + JPEG


def test_raw_and_jpeg_of_one_capture_are_one_unit(cli: Cli, tmp_path: Path) -> None:
    from dedupe import raw

    if not raw.available():
        pytest.skip("the raw extra (rawpy) is not installed")
    from test_formats import dng

    picture = photo(13, (640, 480))
    root = tmp_path / "photos"
    put(root / "shoot/IMG_0013.DNG", dng(picture, preview=picture))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=92)
    put(root / "shoot/IMG_0013.JPG", buffer.getvalue())
    # alone, the pair is no group: they are one capture, not duplicates
    assert load(scan(cli, root))["groups"] == []
    files = group_files(scan(cli, root, "--raw-twins", "duplicate"))
    assert files["shoot/IMG_0013.DNG"]["action"] == "keep"
    assert files["shoot/IMG_0013.JPG"]["reason"] == (
        "the JPEG/HEIC twin of the RAW IMG_0013.DNG (--raw-twins duplicate)"
    )
    # with a copy of the JPEG elsewhere, the capture is kept whole and the copy goes
    put(root / "phone/IMG_0013.JPG", buffer.getvalue())
    report = scan(cli, root)
    files = group_files(report)
    assert files["shoot/IMG_0013.DNG"]["twins"] == [str(root / "shoot/IMG_0013.JPG")]
    assert {n: f["action"] for n, f in files.items()} == {
        "shoot/IMG_0013.DNG": "keep",
        "shoot/IMG_0013.JPG": "keep",
        "phone/IMG_0013.JPG": "trash",
    }
    assert files["shoot/IMG_0013.JPG"]["reason"] == (
        "kept with IMG_0013.DNG: one capture (RAW + JPEG/HEIC)"
    )


# ---------------------------------------------------------------- keep rules, folders


def test_reference_keeps_the_archive_and_trashes_every_copy_outside_it(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    put(root / "archive/beach.jpg", jpeg(5, (320, 240)))
    put(root / "inbox/beach.jpg", jpeg(5, (640, 480)))
    put(root / "inbox/beach copy.jpg", jpeg(5, (640, 480), quality=80))
    # --protect: the archive's copy stays, and so does the best copy outside it
    protect = group_files(scan(cli, root, "--protect", str(root / "archive")))
    assert {n: f["action"] for n, f in protect.items()} == {
        "archive/beach.jpg": "keep",
        "inbox/beach copy.jpg": "keep",  # the larger of the two 640x480 copies
        "inbox/beach.jpg": "trash",
    }
    assert protect["archive/beach.jpg"]["reason"] == f"protected: under {root}/archive"
    # --reference: the archive's copy is the keeper, everything outside it goes
    reference = group_files(scan(cli, root, "--reference", str(root / "archive")))
    assert {n: f["action"] for n, f in reference.items()} == {
        "archive/beach.jpg": "keep",
        "inbox/beach copy.jpg": "trash",
        "inbox/beach.jpg": "trash",
    }
    assert reference["archive/beach.jpg"]["reason"] == f"in reference folder {root}/archive"
    assert reference["inbox/beach.jpg"]["reason"] == (
        f"a copy of {root}/archive/beach.jpg in reference folder {root}/archive"
    )


@pytest.mark.parametrize("option", ["--protect", "--prefer", "--reference"])
def test_a_folder_that_is_missing_or_outside_the_scan_is_refused(
    cli: Cli, tmp_path: Path, option: str
) -> None:
    root = tmp_path / "photos"
    put(root / "a.jpg", jpeg(5))
    (tmp_path / "elsewhere").mkdir()
    code, out, err = cli("scan", str(root), option, str(root / "archiv"), "--no-cache")
    assert (code, out) == (ExitCode.USAGE, "")
    assert f"error: {option} {root}/archiv: no such folder" in err
    code, _, err = cli("scan", str(root), option, str(tmp_path / "elsewhere"), "--no-cache")
    assert code == ExitCode.USAGE and "not in a scanned folder" in err
    report = scan(cli, root)
    code, _, err = cli("review", "--report", str(report), option, str(root / "x"), "--no-input")
    assert code == ExitCode.USAGE and "no such folder" in err


def test_metadata_and_original_rules_with_exif_written_by_exiftool(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    camera = put(root / "camera/IMG_0021.JPG", jpeg(21, quality=85))
    export = put(root / "export/beach-edit.jpg", jpeg(21, quality=97))  # the larger file
    exif(
        camera,
        "-Make=Canon", "-Model=Canon EOS 5D", "-DateTimeOriginal=2020:07:01 10:00:00",
        "-GPSLatitude=48.85", "-GPSLatitudeRef=N", "-GPSLongitude=2.35", "-GPSLongitudeRef=E",
        "-Orientation#=1",
    )  # fmt: skip
    exif(export, "-Software=Adobe Photoshop Lightroom Classic 12.0 (Windows)")
    # By default capture metadata comes before size: the camera original with its date, GPS
    # and camera is kept over a larger export that lost them; `--keep size` says otherwise.
    default = group_files(scan(cli, root))
    assert default["camera/IMG_0021.JPG"]["action"] == "keep"
    assert default["export/beach-edit.jpg"]["action"] == "trash"
    by_size = group_files(scan(cli, root, "--keep", "size"))
    assert by_size["export/beach-edit.jpg"]["action"] == "keep"
    files = group_files(scan(cli, root, "--keep", "metadata"))
    assert files["camera/IMG_0021.JPG"]["reason"] == (
        "most capture metadata (date taken, GPS and camera)"
    )
    assert files["export/beach-edit.jpg"]["reason"] == (
        "keeps the copy with more capture metadata (date taken, GPS and camera); this one has none"
    )
    report = scan(cli, root, "--keep", "original")
    files = group_files(report)
    assert files["camera/IMG_0021.JPG"]["action"] == "keep"
    assert files["camera/IMG_0021.JPG"]["reason"] == (
        "camera original (camera EXIF, no editing software and camera file name)"
    )
    assert files["export/beach-edit.jpg"]["reason"] == (
        "keeps the camera original (camera EXIF, no editing software and camera file name); "
        "this copy: edited with Adobe Photoshop Lightroom Classic 12.0 (Windows), no camera "
        "EXIF and not a camera file name"
    )
    code, out, _ = cli("review", "--report", str(report), "--no-input")
    assert code == 0
    assert "metadata: date taken, GPS, camera Canon EOS 5D, orientation" in out
    assert "edited with Adobe Photoshop Lightroom Classic 12.0 (Windows)" in out
    html = tmp_path / "r.html"
    assert cli("report", "--html", str(html), "--report", str(report))[0] == 0
    assert "<dt>metadata</dt><dd>date taken, GPS, camera Canon EOS 5D" in html.read_text()


def test_a_tie_the_rules_cannot_break_is_said(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    put(root / "a/x.jpg", jpeg(2))
    put(root / "bb/x.jpg", jpeg(2))
    files = group_files(scan(cli, root))
    assert files["a/x.jpg"]["reason"] == (
        "byte-identical copies; same resolution, size and date: kept by path (shortest path)"
    )
    assert files["bb/x.jpg"]["reason"] == (
        "byte-identical copy; same resolution, size and date: keeps the copy with the shorter path"
    )


# ---------------------------------------------------------------- the report


def as_schema_1(report: Path) -> dict[str, Any]:
    """The report as a dedupe of schema 1 wrote it (its images inline, as in schema 2)."""
    from dedupe import report as report_mod

    data = schema_2(report_mod.read(report, with_index=True))
    data["schema_version"] = 1
    for key in ("reference", "twins", "lose_sidecars"):
        data["settings"].pop(key)
    data["settings"]["keep"] = [
        k for k in data["settings"]["keep"] if k not in ("sidecar", "metadata", "encoding")
    ]
    data["stats"].pop("sidecars")
    for group in data["groups"]:
        for f in group["files"]:
            for key in ("companions", "twins", "metadata"):
                f.pop(key, None)
    return data


def test_a_schema_1_report_is_reviewed_and_applied_without_losing_sidecars(
    cli: Cli, tmp_path: Path
) -> None:
    import jsonschema

    from dedupe import report as report_mod

    root = tmp_path / "photos"
    for folder, age in (("a", 0), ("b", 5), ("c", 9)):
        put(root / folder / "IMG_0001.JPG", jpeg(1), MTIME + age)
    put(root / "b/IMG_0001.JPG.xmp", xmp("b"))
    put(root / "a/IMG_0001.JPG.xmp", xmp("a"))
    report = scan(cli, root)
    old = as_schema_1(report)
    schema_1 = json.loads((report_mod.SCHEMA_FILE.parent / "report-1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema_1).validate(old)
    schema_3 = json.loads(report_mod.SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator(schema_3).validate(load(report))
    report.write_text(json.dumps(old))
    code, out, _ = cli("review", "--report", str(report), "--no-input")
    assert code == 0 and "IMG_0001.JPG" in out
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    # c's copy has no sidecar: trashed; b's has one the old report does not list: stays
    assert not (root / "c/IMG_0001.JPG").exists()
    assert (root / "b/IMG_0001.JPG").exists() and (root / "b/IMG_0001.JPG.xmp").exists()
    assert "it has sidecars the report does not list" in err and "scan again" in err
    future = dict(old, schema_version=4)
    report.write_text(json.dumps(future))
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.REFUSED
    assert "unsupported report schema version 4 (this dedupe reads 1, 2 and 3" in err
    assert "written by a newer dedupe" in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c, d: c.update(path="/etc/passwd"), "is not in the folder of"),
        # (schema 3 lists the grouped images: one of those, here the image itself)
        (
            lambda c, d: c.update(
                path=next(f for g in d["groups"] for f in g["files"] if f.get("companions"))["path"]
            ),
            "is an image of the report",
        ),
        (lambda c, d: c.update(role="photo"), "role 'photo' is not one of"),
        (lambda c, d: c.update(size=-1), "'size' is -1"),
    ],
)
def test_a_hand_edited_companion_is_refused_before_anything_is_done(
    cli: Cli, tmp_path: Path, change: Callable[[dict[str, Any], dict[str, Any]], None], message: str
) -> None:
    root = tmp_path / "photos"
    sidecar_library(root)
    report = scan(cli, root)
    data = load(report)
    kept = next(f for g in data["groups"] for f in g["files"] if f.get("companions"))
    change(kept["companions"][0], data)
    report.write_text(json.dumps(data))
    before = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.REFUSED and message in err
    assert tree(root) == before and journals() == []


def test_review_threshold_reads_the_facts_of_files_in_new_groups(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    put(root / "IMG_0030.JPG", jpeg(33, (640, 480)))
    buffer = io.BytesIO()
    photo(33, (640, 480)).resize((200, 150)).save(buffer, "JPEG", quality=40)  # 1 bit apart
    put(root / "edit/IMG_0030.JPG", buffer.getvalue())
    put(root / "edit/IMG_0030.JPG.xmp", xmp("the edit"))
    report = scan(cli, root, "--threshold", "0")
    assert load(report)["groups"] == []  # not a pair at 0: the files are not read
    code, out, err = cli("review", "--report", str(report), "--threshold", "0.25", "--no-input")
    assert code == 0, err
    assert "sidecars: IMG_0030.JPG.xmp (xmp)" in out
    assert "kept too: it carries IMG_0030.JPG.xmp" in out
    assert members(report, "trash") == []


@pytest.mark.parametrize(
    ("make", "model", "shown"),
    [
        ("Canon", "Canon EOS 5D", "Canon EOS 5D"),
        ("NIKON CORPORATION", "NIKON D750", "NIKON D750"),
        ("Apple", "iPhone 12", "Apple iPhone 12"),
        ("FUJIFILM", None, "FUJIFILM"),
        (None, "X-T30", "X-T30"),
    ],
)
def test_the_camera_is_named_as_people_name_it(
    make: str | None, model: str | None, shown: str
) -> None:
    from dedupe.review.facts import camera_name

    assert camera_name(make, model) == shown


# ---------------------------------------------------------------- the original over its copies


def drawing(size: tuple[int, int] = (480, 360)) -> Image.Image:
    """Line art on white: outlines and a few filled shapes, a white margin all round."""
    from PIL import ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(5)
    for k in range(14):
        x0, y0 = int(rng.integers(20, size[0] - 180)), int(rng.integers(20, size[1] - 140))
        box = (x0, y0, x0 + int(rng.integers(30, 160)), y0 + int(rng.integers(30, 120)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.rectangle if k % 2 else draw.ellipse
        shape(box, outline=colour, width=4, fill=None if k % 3 else colour)
    return image


def noisy(image: Image.Image, sigma: float = 12.0) -> Image.Image:
    rng = np.random.default_rng(1)
    array = np.asarray(image, np.float32)
    array = array + rng.normal(0, sigma, array.shape[:2] + (1,))
    array = array + rng.normal(0, sigma / 2, array.shape)
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def test_the_original_is_kept_over_its_exif_turned_and_noisy_copies(
    cli: Cli, tmp_path: Path
) -> None:
    """A copy stored turned with an EXIF Orientation tag (written by exiftool) has no more
    capture metadata than its original without EXIF: the larger original is kept. A noisy
    JPEG of a PNG drawing is a much larger file, and its noise hides the drawing's white
    margin (which the resolution rule would count as a border): the lossless original of the
    same width and height is kept, by the encoding rule, saying so."""
    root = tmp_path / "photos"
    picture = photo(31, (480, 360))
    original = root / "a/original.jpg"
    turned = root / "a/turned.jpg"
    put(original, b"")
    picture.save(original, "JPEG", quality=95)
    picture.transpose(Image.Transpose.ROTATE_90).save(turned, "JPEG", quality=90)
    exif(turned, "-Orientation#=6")  # shown turned back: the original's pixels
    art = drawing()
    put(root / "b/original.png", b"")
    art.save(root / "b/original.png")
    noisy(art).save(root / "b/noisy.jpg", "JPEG", quality=88)
    assert (root / "b/noisy.jpg").stat().st_size > 5 * (root / "b/original.png").stat().st_size
    files = group_files(scan(cli, root))
    assert files["a/original.jpg"]["action"] == "keep"
    assert files["a/original.jpg"]["reason"].startswith("largest file")
    assert files["a/turned.jpg"]["action"] == "trash"
    assert files["a/turned.jpg"]["reason"].startswith("keeps the larger file")
    assert files["b/original.png"]["action"] == "keep"
    assert files["b/original.png"]["reason"] == "lossless file (PNG)"
    assert files["b/noisy.jpg"]["reason"] == "keeps a lossless PNG; this copy is a lossy JPEG"
    assert files["b/noisy.jpg"]["metadata"]["encoding"] == "lossy"
    # the orientation tag is still shown in the review, as a fact of the file
    code, out, _ = cli("review", "--report", str(root.with_name("photos.json")), "--no-input")
    assert code == 0 and "metadata: orientation" in out
    # `--keep size` still keeps the largest file, whatever it is
    by_size = group_files(scan(cli, root, "--keep", "size"))
    assert by_size["b/noisy.jpg"]["action"] == "keep"


@pytest.mark.parametrize(
    ("name", "save", "expected"),
    [
        ("rgb.png", {"format": "PNG"}, "lossless"),
        ("gray.png", {"format": "PNG", "mode": "L"}, "lossless"),
        ("palette.png", {"format": "PNG", "mode": "P"}, "palette"),
        ("photo.jpg", {"format": "JPEG", "quality": 95}, "lossy"),
        ("lossless.webp", {"format": "WEBP", "lossless": True}, "lossless"),
        ("lossy.webp", {"format": "WEBP", "quality": 80}, "lossy"),
        ("lossy-exif.webp", {"format": "WEBP", "quality": 80, "exif": True}, "lossy"),
        ("lzw.tif", {"format": "TIFF", "compression": "tiff_lzw"}, "lossless"),
        ("jpeg.tif", {"format": "TIFF", "compression": "jpeg"}, "lossy"),
        ("image.bmp", {"format": "BMP"}, "lossless"),
        ("image.ppm", {"format": "PPM"}, "lossless"),
        ("image.gif", {"format": "GIF"}, None),
    ],
)
def test_the_encoding_is_read_from_the_file(
    tmp_path: Path, name: str, save: dict[str, Any], expected: str | None
) -> None:
    """How a file stores its pixels, from its header (a WebP's from its chunks, past the VP8X
    and EXIF ones; a TIFF's from its compression): what the encoding rule weighs."""
    params = dict(save)
    image = photo(3, (64, 48))
    mode = params.pop("mode", None)
    if mode == "P":
        image = image.quantize(64)
    elif mode is not None:
        image = image.convert(mode)
    if params.pop("exif", False):
        tags = Image.Exif()
        tags[0x0131] = "GIMP 2.10"
        params["exif"] = tags.tobytes()
    path = tmp_path / name
    image.save(path, **params)
    assert metadata.read_image(str(path)).encoding == expected
    if name == "lossy-exif.webp":
        assert path.read_bytes()[12:16] == b"VP8X"  # the image data is not the first chunk
