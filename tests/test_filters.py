"""What a scan passes over: hidden entries, folders that are never a photo library, dedupe's own
--move targets, --exclude patterns, sizes, depth and file systems. The walk directly (fast, every
rule), then `dedupe scan` as a user runs it on a home folder full of such places."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from clirun import Dedupe, fix_times
from conftest import Cli, photo
from report_helpers import with_images

from dedupe import filters
from dedupe.filters import MOVE_MARKER
from dedupe.models import FileEntry, Selection
from dedupe.walk import walk


def put(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


DEFAULTS = Selection()


def walked(
    root: Path, selection: Selection | None = DEFAULTS, **options: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """(the files found, relative to root; what was passed over: (reason, relative path))."""
    passed: list[tuple[str, str]] = []
    found = [
        os.path.relpath(item.path, root)
        for item in walk(
            (str(root),),
            selection=selection,
            passed=lambda reason, path: passed.append((reason, os.path.relpath(path, root))),
            **options,
        )
        if isinstance(item, FileEntry)
    ]
    return found, passed


def test_hidden_and_never_a_library_folders_are_passed_over_by_name(tmp_path: Path) -> None:
    for name in [
        "keep/a.jpg",
        ".hidden.jpg",
        "._a.jpg",  # macOS AppleDouble, a fake image beside the real one
        ".git/x.jpg",
        ".Trash-1000/files/a.jpg",
        ".Trash/a.jpg",
        ".Trashes/501/a.jpg",
        "$Recycle.Bin/S-1-5/a.jpg",  # Windows 10 spells it so: names are matched without case
        "#recycle/a.jpg",
        ".thumbnails/normal/x.png",
        ".@__thumb/a.jpg",
        "keep/@eaDir/a.jpg/SYNOPHOTO_THUMB_M.jpg",
        "#snapshot/daily/a.jpg",
        ".Spotlight-V100/x",
        ".fseventsd/x",
        "System Volume Information/x",
        "keep/deeper/b.jpg",
    ]:
        put(tmp_path / name)
    found, passed = walked(tmp_path)
    assert found == ["keep/a.jpg", "keep/deeper/b.jpg"]
    assert passed == [  # in walk order (names sorted as bytes)
        ("trash", "#recycle"),
        ("metadata", "#snapshot"),
        ("trash", "$Recycle.Bin"),
        ("thumbnails", ".@__thumb"),
        ("metadata", ".Spotlight-V100"),
        ("trash", ".Trash"),
        ("trash", ".Trash-1000"),
        ("trash", ".Trashes"),
        ("hidden", "._a.jpg"),
        ("metadata", ".fseventsd"),
        ("hidden", ".git"),
        ("hidden", ".hidden.jpg"),
        ("thumbnails", ".thumbnails"),
        ("metadata", "System Volume Information"),
        ("metadata", "keep/@eaDir"),
    ]
    # --include-hidden: everything; no selection at all (the library's default): the same.
    everything, none = walked(tmp_path, Selection(passed_by_default=False))
    assert len(everything) == 17 and none == []
    assert walked(tmp_path, None)[0] == everything


def test_a_root_is_never_passed_over(tmp_path: Path) -> None:
    put(tmp_path / ".Trash-1000" / "files" / "a.jpg")
    put(tmp_path / ".Trash-1000" / "files" / ".b.jpg")
    assert walked(tmp_path / ".Trash-1000") == (
        ["files/a.jpg"],
        [("hidden", "files/.b.jpg")],  # below the root the rules hold again
    )


def test_the_desktop_trash_and_thumbnail_cache_are_known_by_where_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, cache = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    put(data / "Trash" / "files" / "a.jpg")
    put(data / "photos" / "a.jpg")
    put(cache / "thumbnails" / "large" / "x.png")
    assert walked(data) == (["photos/a.jpg"], [("trash", "Trash")])
    assert walked(cache) == ([], [("thumbnails", "thumbnails")])
    # Reached through a symbolic link to the folder: the same folder (by device and inode).
    link = tmp_path / "link"
    link.symlink_to(data)
    assert walked(link) == (["photos/a.jpg"], [("trash", "Trash")])


def test_move_targets_are_known_by_their_marker(tmp_path: Path) -> None:
    put(tmp_path / "photos" / "a.jpg")
    filters.mark_move_target(tmp_path / "dupes")
    put(tmp_path / "dupes" / "photos" / "a.jpg")
    assert (tmp_path / "dupes" / MOVE_MARKER).read_text() == filters.MOVE_MARKER_TEXT
    assert walked(tmp_path) == (["photos/a.jpg"], [("move target", "dupes")])
    assert walked(tmp_path / "dupes")[0] == ["photos/a.jpg"]  # named: scanned
    filters.unmark_move_target(tmp_path / "dupes")  # not empty: the marker stays
    assert (tmp_path / "dupes" / MOVE_MARKER).exists()
    (tmp_path / "dupes" / "photos" / "a.jpg").unlink()
    (tmp_path / "dupes" / "photos").rmdir()
    filters.unmark_move_target(tmp_path / "dupes")
    assert list((tmp_path / "dupes").iterdir()) == []


def test_exclude_is_gitignore(tmp_path: Path) -> None:
    for name in [
        "a.png",
        "a.jpg",
        "keep.png",
        "raw/x.jpg",
        "sub/raw/y.jpg",
        "Exports/z.jpg",
        "sub/Exports/z.jpg",
        "tmp.jpg",
        "deep/er/tmp/w.jpg",
    ]:
        put(tmp_path / name)
    patterns = ("*.png", "!keep.png", "raw/", "/Exports", "**/tmp/**")
    found, passed = walked(tmp_path, Selection(exclude=patterns))
    assert found == ["a.jpg", "keep.png", "sub/Exports/z.jpg", "tmp.jpg"]
    assert passed == [
        ("exclude", "Exports"),
        ("exclude", "a.png"),
        ("exclude", "deep/er/tmp"),
        ("exclude", "raw"),
        ("exclude", "sub/raw"),
    ]
    with pytest.raises(filters.PatternError, match="--exclude: not a valid pattern"):
        filters.check_patterns(("[z-a].jpg",))


def test_sizes_depth_and_file_systems(tmp_path: Path) -> None:
    put(tmp_path / "tiny.jpg", b"x" * 10)
    put(tmp_path / "mid.jpg", b"x" * 1000)
    put(tmp_path / "huge.jpg", b"x" * 100_000)
    put(tmp_path / "one" / "two" / "three.jpg", b"x" * 1000)
    assert walked(tmp_path, Selection(min_size=1000, max_size=99_999)) == (
        ["mid.jpg", "one/two/three.jpg"],
        [("max-size", "huge.jpg"), ("min-size", "tiny.jpg")],
    )
    assert walked(tmp_path, Selection(max_depth=1))[1] == [("max-depth", "one")]
    assert walked(tmp_path, Selection(max_depth=2)) == (
        ["huge.jpg", "mid.jpg", "tiny.jpg"],
        [("max-depth", "one/two")],
    )
    assert len(walked(tmp_path, Selection(max_depth=3))[0]) == 4
    # Another file system under the tree: a tmpfs mounted there (root only).
    mount = tmp_path / "one" / "mounted"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a file system here")
    try:
        put(mount / "elsewhere.jpg")
        assert walked(tmp_path, Selection(one_file_system=True)) == (
            ["huge.jpg", "mid.jpg", "one/two/three.jpg", "tiny.jpg"],
            [("one-file-system", "one/mounted")],
        )
        assert "one/mounted/elsewhere.jpg" in walked(tmp_path)[0]
        assert walked(mount, Selection(one_file_system=True))[0] == ["elsewhere.jpg"]
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("100", 100),
        ("30K", 30 * 1024),
        ("30kb", 30 * 1024),
        ("1.5M", 1_572_864),
        ("2GiB", 2 * 1024**3),
        (" 7 MB", 7 * 1024**2),
        ("0", 0),
    ],
)
def test_sizes_are_read_as_dedupe_shows_them(text: str, size: int) -> None:
    from dedupe.cli.options import size as parse

    assert parse(text) == size


def test_describe_counts_in_words() -> None:
    assert filters.describe([("trash", 2), ("hidden", 1), ("min-size", 1200)]) == (
        "1 hidden file or folder, 2 trash folders, 1,200 files smaller than --min-size"
    )


# ---------------------------------------------------------------- dedupe scan, as a user runs it


@pytest.fixture(scope="module")
def dedupe(tmp_path_factory: pytest.TempPathFactory) -> Dedupe:
    return Dedupe(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def home(dedupe: Dedupe) -> Path:
    """A home folder as `dedupe scan ~` meets it: photos with one real copy, and copies of them
    in the trash, thumbnail caches, a NAS's metadata folder and a hidden folder."""
    home = dedupe.home
    picture = photo(11, (240, 180))
    for place in ("Pictures/beach.jpg", "Pictures/2019/beach-copy.jpg"):
        (home / place).parent.mkdir(parents=True, exist_ok=True)
        picture.save(home / place, quality=90)
    data = (home / "Pictures" / "beach.jpg").read_bytes()
    for place in (
        "xdg_data_home/Trash/files/beach.jpg",
        "xdg_cache_home/thumbnails/large/0123abcd.png",
        "Pictures/@eaDir/beach.jpg/SYNOPHOTO_THUMB_XL.jpg",
        "Pictures/.Trash-1000/files/beach.jpg",
        "Pictures/.backup/beach.jpg",
        "Pictures/#recycle/beach.jpg",
    ):
        put(home / place, data)
    photo(12, (240, 180)).save(home / "Pictures" / "small.png")
    fix_times(home)
    return home


def test_scanning_a_home_folder_lists_no_trash_or_thumbnail(dedupe: Dedupe, home: Path) -> None:
    done = dedupe("scan", str(home), "--report", str(home / "r.json"), "--format", "csv")
    assert done.code == 0, done.err
    size = (home / "Pictures" / "beach.jpg").stat().st_size
    assert done.text.splitlines() == [
        "group,kind,action,path,size,reason",
        f"1,exact,keep,{home}/Pictures/beach.jpg,{size},"
        '"byte-identical copies; same resolution, size and date: kept by path (shortest path)"',
        f"1,exact,trash,{home}/Pictures/2019/beach-copy.jpg,{size},"
        '"byte-identical copy; same resolution, size and date: keeps the copy with the shorter'
        ' path"',
    ]
    images = [i["path"] for i in with_images(home / "r.json")["images"]]
    assert [os.path.relpath(p, home) for p in images] == [
        "Pictures/2019/beach-copy.jpg",
        "Pictures/beach.jpg",
        "Pictures/small.png",
    ]
    # The home folder's own hidden folders (.local, .cache are under XDG names here) and the
    # rest, counted in the summary.
    assert done.err.splitlines()[0] == (
        "Not scanned: 1 hidden file or folder, 3 trash folders, 1 thumbnail cache, 1 NAS or "
        "system metadata folder (--include-hidden scans them); -v names each"
    )
    verbose = dedupe("scan", str(home), "--report", str(home / "r.json"), "-v", "--print0")
    named = sorted(line for line in verbose.err.splitlines() if line.startswith("passed over"))
    assert named == sorted(
        [
            f"passed over (hidden file or folder): {home}/Pictures/.backup",
            f"passed over (trash folder): {home}/Pictures/#recycle",
            f"passed over (trash folder): {home}/Pictures/.Trash-1000",
            f"passed over (trash folder): {home}/xdg_data_home/Trash",
            f"passed over (thumbnail cache): {home}/xdg_cache_home/thumbnails",
            f"passed over (NAS or system metadata folder): {home}/Pictures/@eaDir",
        ]
    )


def test_include_hidden_and_the_users_own_filters(dedupe: Dedupe, home: Path, cli: Cli) -> None:
    report = home / "all.json"
    done = dedupe("scan", str(home), "--report", str(report), "--include-hidden", "-q",
                  "--print0", "--exclude", "*.png", "--exclude", "/Pictures/2019/")  # fmt: skip
    assert done.code == 0, done.err
    images = {os.path.relpath(i["path"], home) for i in with_images(report)["images"]}
    assert images == {
        "Pictures/beach.jpg",
        "Pictures/@eaDir/beach.jpg/SYNOPHOTO_THUMB_XL.jpg",
        "Pictures/.Trash-1000/files/beach.jpg",
        "Pictures/.backup/beach.jpg",
        "Pictures/#recycle/beach.jpg",
        "xdg_data_home/Trash/files/beach.jpg",
    }
    # Sizes and depth, in process (the same parser).
    beach = (home / "Pictures" / "beach.jpg").stat().st_size
    small = (home / "Pictures" / "small.png").stat().st_size
    code, _, err = cli("scan", str(home / "Pictures"), "--report", str(report), "--print0",
                       "--min-size", str(min(beach, small) + 1), "--max-depth", "1")  # fmt: skip
    assert code == 0
    names = {os.path.relpath(i["path"], home) for i in with_images(report)["images"]}
    assert names == {"Pictures/beach.jpg" if beach > small else "Pictures/small.png"}
    assert "1 file smaller than --min-size, 1 folder below --max-depth" in err
    for bad, message in [
        (["--min-size", "lots"], "not a size: 'lots'"),
        (["--max-depth", "0"], "must be at least 1"),
        (["--min-size", "2M", "--max-size", "1M"], "--max-size (1,048,576 bytes) is below"),
        (["--exclude", "[z-a]"], "--exclude: not a valid pattern"),
    ]:
        code, _, err = cli("scan", str(home), "--report", str(report), *bad)
        assert code == 2 and message in err, (bad, err)


def test_apply_move_marks_its_target_and_the_next_scan_passes_it_over(
    dedupe: Dedupe, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    picture = photo(13, (160, 120))
    picture.save(root / "a.jpg", quality=90)
    (root / "b.jpg").write_bytes((root / "a.jpg").read_bytes())
    dupes = tmp_path / "dupes"
    report = tmp_path / "r.json"
    assert dedupe("scan", str(root), "--report", str(report), "-q").code == 0
    moved = dedupe("apply", "--report", str(report), "--move", str(dupes), "--yes", "-q")
    assert moved.code == 0, moved.err
    assert sorted(p.name for p in dupes.iterdir()) == [MOVE_MARKER, "b.jpg"]
    # The tree holding both: the moved copy is not found again as a duplicate.
    again = dedupe("scan", str(tmp_path), "--report", str(report), "--print0")
    assert again.out == b"" and "Not scanned: 1 dedupe --move target" in again.err
    assert dedupe("undo", "-q").code == 0
    assert list(dupes.iterdir()) == []  # the undo takes the marker away with the files
