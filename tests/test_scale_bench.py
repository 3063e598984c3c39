"""The plumbing of benchmarks/scale.py (issue 20): the library it builds, how it reads a
report's bytes, and its timing of a program in a real terminal."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from report_helpers import with_images

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import scale

from dedupe import report as report_mod


def test_plan_has_the_proportions_it_cites() -> None:
    scene_of, kind_of = scale._plan(50_000, np.random.default_rng(1))
    assert len(scene_of) == len(kind_of) == 50_000
    copies = int((kind_of != 0).sum())
    assert 0.10 <= copies / 50_000 <= 0.15  # LIBRARY["copies_share"] = 0.12
    # every copy's picture has its original, exactly one
    originals = Counter(scene_of[kind_of == 0].tolist())
    assert set(scene_of.tolist()) == set(originals) and set(originals.values()) == {1}
    sizes = Counter(Counter(scene_of.tolist()).values())
    assert sizes[2] > sizes[3] > sizes[4] > 0  # mostly pairs, then threes
    assert max(sizes) >= 100  # the few large groups (2,000 per million -> 100 here)
    kinds = Counter(scale.KINDS[k] for k in kind_of.tolist() if k)
    assert kinds["exact"] > kinds["resized"] > kinds["edited"] > 0


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[scale.Library, Path]:
    """A library of 600 images and the report a real `dedupe scan` of it writes."""
    folder = tmp_path_factory.mktemp("scale")
    library = scale.build_library(600, 3, 1, folder / "lib600")  # checks 64 files itself
    report = folder / "report.json"
    env = scale.clean_env(folder)
    subprocess.run(
        scale.commands(library, report, 1)["scan"], env=env, cwd=folder, check=True,
        capture_output=True,
    )  # fmt: skip
    return library, report


def test_every_file_is_found_in_the_cache(scanned: tuple[scale.Library, Path]) -> None:
    library, report = scanned
    data = with_images(report)
    assert data["stats"]["from_cache"] == 600 and data["stats"]["hashed"] == 0
    assert data["groups"], "the copies are grouped"
    # the files on disk are what the records say: size, time and content
    for image in data["images"][:50]:
        path = Path(image["path"])
        assert path.stat().st_size == image["size"]
        assert path.stat().st_mtime_ns == image["mtime_ns"]
    built = scale.build_library(600, 3, 1, library.folder)  # reused, not built again
    assert built.facts()["build_seconds"] == library.facts()["build_seconds"]


def test_report_bytes_add_up(scanned: tuple[scale.Library, Path]) -> None:
    _, report = scanned
    facts = scale.report_bytes(report)
    data = report_mod.read(report, with_index=True)
    assert facts["total"] == report.stat().st_size == sum(facts["sections"].values())
    assert facts["groups"] == len(data.groups)
    assert facts["grouped_files"] == sum(len(g.members) for g in data.groups)
    assert facts["images"] == len(data.images) == 600
    assert facts["per_grouped"] > 200 and facts["per_alone"] == 0  # no image lines (schema 3)
    assert data.index is not None and facts["index_bytes"] == (
        (report.parent / data.index.file).stat().st_size
    )
    first = scale.first_report_group(report)
    assert first == (data.groups[0].id, data.groups[0].members[0].record.path, len(data.groups))


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_terminal_times_until_the_text_is_on_screen(tmp_path: Path) -> None:
    command = ["sh", "-c", "sleep 0.5; echo first group; sleep 30"]
    screen = scale.in_terminal(
        command, ["first group"], {}, tmp_path, timeout=20, linger=0, quit_wait=0
    )
    assert screen.seconds is not None and 0.5 <= screen.seconds < 20
    assert "first group" in screen.text
    missing = scale.in_terminal(
        ["sleep", "30"], ["never"], {}, tmp_path, timeout=1, linger=0, quit_wait=0
    )
    assert missing.seconds is None
