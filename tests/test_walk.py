"""The walk: sorted, each file once, symlinks not followed unless asked, special files never
yielded, problems reported as values while the walk goes on."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dedupe.models import FileEntry, Problem
from dedupe.walk import walk


def run(*roots: Path, follow: bool = False) -> tuple[list[str], dict[str, str]]:
    """Walk roots; return (file paths in order, {problem path: reason})."""
    files: list[str] = []
    problems: dict[str, str] = {}
    for item in walk(tuple(str(r) for r in roots), follow_symlinks=follow):
        if isinstance(item, Problem):
            problems[item.path] = item.reason
        else:
            assert isinstance(item, FileEntry)
            files.append(item.path)
    return files, problems


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for name in ("b.jpg", "a.jpg", "sub/c.jpg", "sub/deeper/d.jpg", "A.jpg"):
        touch(root / name)
    return root


def test_files_come_depth_first_sorted_by_name_bytes(tree: Path) -> None:
    files, problems = run(tree)
    assert problems == {}
    assert [os.path.relpath(p, tree) for p in files] == [
        "A.jpg",
        "a.jpg",
        "b.jpg",
        "sub/c.jpg",
        "sub/deeper/d.jpg",
    ]


def test_entries_carry_the_stat_fields(tree: Path) -> None:
    entries = [e for e in walk((str(tree),)) if isinstance(e, FileEntry)]
    info = os.stat(tree / "a.jpg")
    entry = next(e for e in entries if e.path.endswith("/a.jpg"))
    assert (entry.size, entry.mtime_ns, entry.dev, entry.ino, entry.nlink) == (
        info.st_size,
        info.st_mtime_ns,
        info.st_dev,
        info.st_ino,
        1,
    )


def test_overlapping_roots_yield_each_file_once(tree: Path) -> None:
    files, _ = run(tree, tree / "sub", tree / "a.jpg", tree)
    assert len(files) == len(set(files)) == 5


def test_names_that_are_not_utf8_are_walked_and_sort_by_bytes(tmp_path: Path) -> None:
    root = tmp_path / "names"
    root.mkdir()
    names = [b"caf\xe9.jpg", b"caf\xc3\xa9.jpg", b"line\nbreak.jpg", b" lead space.jpg"]
    for name in names:
        with open(os.path.join(os.fsencode(root), name), "wb") as handle:
            handle.write(b"x")
    files, problems = run(root)
    assert problems == {}
    assert [os.fsencode(os.path.basename(p)) for p in files] == sorted(names)


def test_hard_links_are_all_yielded_with_their_link_count(tree: Path) -> None:
    os.link(tree / "a.jpg", tree / "a-link.jpg")
    entries = [e for e in walk((str(tree),)) if isinstance(e, FileEntry)]
    linked = [e for e in entries if e.ino == os.stat(tree / "a.jpg").st_ino]
    assert len(linked) == 2 and all(e.nlink == 2 for e in linked)


# ---------------------------------------------------------------- symlinks


@pytest.fixture
def linked(tree: Path, tmp_path: Path) -> Path:
    outside = touch(tmp_path / "outside" / "elsewhere.jpg")
    (tree / "link-to-a.jpg").symlink_to(tree / "a.jpg")
    (tree / "link-outside.jpg").symlink_to(outside)
    (tree / "link-to-sub").symlink_to(tree / "sub", target_is_directory=True)
    (tree / "sub" / "deeper" / "up").symlink_to(tree, target_is_directory=True)
    (tree / "broken.jpg").symlink_to(tree / "missing.jpg")
    (tree / "self-loop.jpg").symlink_to(tree / "self-loop.jpg")
    (tree / "ping.jpg").symlink_to(tree / "pong.jpg")
    (tree / "pong.jpg").symlink_to(tree / "ping.jpg")
    return tree


BROKEN = "broken symbolic link: its target does not exist"
LOOP = "symbolic link loop: following it leads back to itself"


@pytest.mark.parametrize("follow", [False, True], ids=["default", "follow-symlinks"])
def test_broken_links_and_link_loops_are_reported_in_both_modes(linked: Path, follow: bool) -> None:
    _, problems = run(linked, follow=follow)
    assert problems == {
        str(linked / "broken.jpg"): BROKEN,
        str(linked / "ping.jpg"): LOOP,
        str(linked / "pong.jpg"): LOOP,
        str(linked / "self-loop.jpg"): LOOP,
    }


def test_links_are_not_followed_by_default(linked: Path) -> None:
    files, _ = run(linked)
    assert [os.path.relpath(p, linked) for p in files] == [
        "A.jpg",
        "a.jpg",
        "b.jpg",
        "sub/c.jpg",
        "sub/deeper/d.jpg",
    ]


def test_followed_links_never_make_one_file_two(linked: Path, tmp_path: Path) -> None:
    files, _ = run(linked, follow=True)
    # link-to-a.jpg is a.jpg (already walked); link-to-sub is sub (already walked); the
    # loop back up to the root is not walked again; the outside file appears once, under
    # its real path.
    assert [os.path.relpath(p, linked) for p in files] == [
        "A.jpg",
        "a.jpg",
        "b.jpg",
        "sub/c.jpg",
        "sub/deeper/d.jpg",
        "../outside/elsewhere.jpg",
    ]
    identities = [(os.stat(p).st_dev, os.stat(p).st_ino) for p in files]
    assert len(set(identities)) == len(identities)
    assert not any(os.path.islink(p) for p in files)


def test_a_link_sorted_before_its_target_still_yields_the_real_name(tmp_path: Path) -> None:
    root = tmp_path / "order"
    touch(root / "z-real.jpg")
    (root / "a-link.jpg").symlink_to(root / "z-real.jpg")
    files, _ = run(root, follow=True)
    assert files == [str(root / "z-real.jpg")]


def test_a_linked_folder_outside_the_root_is_walked_under_the_link(tmp_path: Path) -> None:
    touch(tmp_path / "nas" / "holiday.jpg")
    root = tmp_path / "pictures"
    root.mkdir()
    (root / "holidays").symlink_to(tmp_path / "nas", target_is_directory=True)
    assert run(root)[0] == []
    assert run(root, follow=True)[0] == [str(root / "holidays" / "holiday.jpg")]


def test_a_root_that_is_a_link_is_always_followed(tree: Path, tmp_path: Path) -> None:
    link = tmp_path / "tree-link"
    link.symlink_to(tree, target_is_directory=True)
    files, problems = run(link)
    assert problems == {} and len(files) == 5
    assert all(p.startswith(str(link) + os.sep) for p in files)


# ---------------------------------------------------------------- special files and problems


def special_files(root: Path) -> Iterator[Path]:
    """A FIFO, a UNIX socket and (when allowed) a character device, all named like photos."""
    fifo = root / "fifo.jpg"
    os.mkfifo(fifo)
    yield fifo
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "socket.jpg"))
        yield root / "socket.jpg"
    finally:
        sock.close()
    try:
        os.mknod(root / "null.jpg", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        yield root / "null.jpg"
    except PermissionError:
        pass  # not root: no device file to test with (the FIFO and socket still are)


def test_fifos_sockets_and_devices_are_never_yielded(tree: Path) -> None:
    made = list(special_files(tree))
    (tree / "zero.jpg").symlink_to("/dev/zero")
    for follow in (False, True):
        files, problems = run(tree, follow=follow)
        assert len(files) == 5 and problems == {}
        assert not set(files) & {str(p) for p in made}


def test_a_missing_root_and_a_special_root_are_problems(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    files, problems = run(tmp_path / "nope", tmp_path / "fifo")
    assert files == []
    assert problems == {
        str(tmp_path / "nope"): "no such file or folder",
        str(tmp_path / "fifo"): "not a file or folder (a device, FIFO or socket): not read",
    }


def test_a_folder_that_cannot_be_listed_is_reported_and_the_walk_goes_on(
    tree: Path,
) -> None:
    locked = tree / "sub" / "locked"
    touch(locked / "secret.jpg")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running with privileges that ignore permissions (see test_hostile)")
        files, problems = run(tree)
    finally:
        locked.chmod(0o755)
    assert problems == {str(locked): "permission denied: this folder cannot be listed"}
    assert len(files) == 5
