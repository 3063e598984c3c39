"""The scan stage: streamed walk and cache lookups, hard links, counts, and a warm rescan that
gives exactly the records of the cold one."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
from conftest import Library, photo

from dedupe.cache import HashCache
from dedupe.models import FileEntry, Settings
from dedupe.scan import CHUNK, _chunks, scan

SETTINGS = Settings()


def make_library(library: Library) -> None:
    for k in range(5):
        library.save(f"album/img{k}.jpg", photo(k, (160, 120)))
    library.save("other/copy.png", photo(0, (160, 120)))
    os.link(library.root / "album/img1.jpg", library.root / "other/link-to-img1.jpg")
    os.link(library.root / "album/img1.jpg", library.root / "zz-second-link.jpg")
    library.write("notes.txt", b"just text")
    library.write("broken.jpg", b"\xff\xd8\xff\xe0 truncated")


def test_hard_links_are_one_image_with_its_other_names(library: Library) -> None:
    make_library(library)
    result = scan((str(library.root),), SETTINGS, HashCache.memory(SETTINGS))
    by_path = {r.path: r for r in result.records}
    first = str(library.root / "album/img1.jpg")
    assert by_path[first].links == (
        str(library.root / "other/link-to-img1.jpg"),
        str(library.root / "zz-second-link.jpg"),
    )
    assert all(r.links == () for path, r in by_path.items() if path != first)
    stats = result.stats
    assert (stats.files, stats.images, stats.hashed, stats.hardlinks) == (10, 7, 6, 2)
    assert (stats.errors, stats.skipped, stats.from_cache) == (1, 0, 0)
    paths = [os.fsencode(r.path) for r in result.records]
    assert paths == sorted(paths)


def test_a_warm_rescan_gives_the_records_of_the_cold_scan(library: Library, tmp_path: Path) -> None:
    make_library(library)
    cache = HashCache.open(tmp_path / "c.sqlite", SETTINGS)
    cold = scan((str(library.root),), SETTINGS, cache, jobs=1)
    warm = scan((str(library.root),), SETTINGS, cache, jobs=1)
    cache.close()
    assert warm.stats.hashed == 0 and warm.stats.from_cache == cold.stats.hashed == 6
    assert warm.records == cold.records and warm.errors == cold.errors
    assert (warm.stats.files, warm.stats.images, warm.stats.hardlinks) == (10, 7, 2)


def test_the_garbage_collector_is_left_as_the_caller_had_it(library: Library) -> None:
    make_library(library)
    assert gc.isenabled()
    scan((str(library.root),), SETTINGS, HashCache.memory(SETTINGS))
    assert gc.isenabled()
    gc.disable()
    try:
        scan((str(library.root),), SETTINGS, HashCache.memory(SETTINGS))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_while_hashing_runs_only_when_something_is_decoded(library: Library) -> None:
    """The hook that loads the grouping code while the workers decode: run once when files
    are decoded, not at all on a rescan that decodes nothing; its errors do not stop a scan."""
    import threading

    make_library(library)
    cache = HashCache.memory(SETTINGS)
    calls: list[tuple[str, int]] = []
    ran = threading.Event()

    def hook(images: int) -> None:
        calls.append((threading.current_thread().name, images))
        ran.set()
        raise RuntimeError("ignored")

    first = scan((str(library.root),), SETTINGS, cache, while_hashing=hook)
    assert ran.wait(10)
    assert len(calls) == 1 and calls[0][0] != threading.current_thread().name
    assert len(first.records) <= calls[0][1] <= first.stats.files  # how many may be grouped
    again = scan((str(library.root),), SETTINGS, cache, while_hashing=hook)
    assert len(calls) == 1  # nothing to decode: not called
    assert again.records == first.records


@pytest.mark.parametrize(("files", "jobs"), [(32, 2), (150, 2), (1000, 4), (20_000, 2), (33, 8)])
def test_pool_tasks_shrink_to_single_files_at_the_end(files: int, jobs: int) -> None:
    """Every file once, in walk order; big tasks first, single files last, none over CHUNK."""
    entries = [FileEntry(f"/f{k}", 1, 0, 0, k, 1) for k in range(files)]
    tasks = list(_chunks(entries, jobs))
    assert [e for task in tasks for e in task] == entries
    sizes = [len(task) for task in tasks]
    assert all(1 <= size <= CHUNK for size in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-jobs:] == [1] * jobs


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads /proc (Linux)")
def test_the_workers_server_starts_early_without_importing_the_decoders() -> None:
    """workers.start_early() starts the fork server (which imports numpy, Pillow and the scan),
    while the calling process stays light: the command line calls it before its own imports."""
    import subprocess
    import sys

    code = (
        "import os, sys, time; from dedupe import workers; workers.start_early()\n"
        "def server():\n"
        "    kids = [k for t in os.listdir('/proc/self/task')"
        " for k in open(f'/proc/self/task/{t}/children').read().split()]\n"
        "    return any(b'forkserver' in open(f'/proc/{k}/cmdline', 'rb').read() for k in kids)\n"
        "deadline = time.monotonic() + 30\n"  # its command line shows once it has started
        "while not server() and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(server(), 'numpy' in sys.modules, 'PIL' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr


def test_grouping_warm_up_loads_the_kernels() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from dedupe import cluster; assert 'numba' not in sys.modules;"
        " cluster.warm_up(); print('numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
