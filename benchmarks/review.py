"""Review benchmark (issue 19): how soon `dedupe review` shows the first group of a 100k-image
report, and how big the HTML pages of a 5,000-group report are and how fast Chromium opens them.

    python benchmarks/review.py                    # both parts: ~3 minutes (first run: +6)
    python benchmarks/review.py --parts first-group
    python benchmarks/review.py --parts html --groups 1000

first-group: the synthetic 100,000-image report of benchmarks/regroup.py (dHash, written at
0.1 as a scan writes it: 92 MB, about 10,000 groups). `dedupe review --report R` runs in a
real terminal (tmux, 80 x 24); the clock starts when the command is started and stops when the
screen shows "Group 1 (1 of ..." (tmux capture-pane every 10 ms). Then: one key (↓) at once,
until "Group 2 (2 of" is on screen (while the review reads the whole report); until the review
has read the whole report (its totals line stops saying "reading the whole report"); one more
key; and q until the review has ended. Beside it, in the same run, the peer: a fresh process
that only reads the report with `dedupe.report.read` (all the review did before drawing
anything, before this change). Best of --repeat runs.

html: --groups groups of photo-like 640 x 480 JPEGs (made at 320 x 240, enlarged): an
original, a half-size copy, every fifth group also a brighter copy; made once under
benchmarks/.corpus-speed/ and scanned once with `dedupe scan`. Timed: `dedupe report --html`
as a subprocess; measured: the pages' sizes (total, per group, the first page); then headless
Chromium opens the first page and a middle one (`--screenshot`, wall time of the whole browser
run, beside the same run on an empty page). The peer: the same groups as one single page (the
layout before this change), opened the same way (given up after 120 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import Row

if str(common.ROOT) not in sys.path:  # this checkout's dedupe, wherever we are run from
    sys.path.insert(1, str(common.ROOT))

FIRST_GROUP_TARGET = 2.0  # seconds, issue 19
HTML_OPEN_TARGET = 5.0  # "opens in a few seconds"
HTML_CORPUS_VERSION = 2
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# ---------------------------------------------------------------- first group at 100k


class Tmux:
    """A tmux server of our own (its own socket), one window running a command."""

    def __init__(self, command: str, cols: int = 80, rows: int = 24) -> None:
        self.socket = f"dedupe-bench-{os.getpid()}"
        self.started = time.perf_counter()
        subprocess.run(
            ["tmux", "-L", self.socket, "new-session", "-d", "-x", str(cols), "-y", str(rows),
             command],
            check=True,
        )  # fmt: skip

    def screen(self) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p"], capture_output=True, text=True
        )
        return done.stdout

    def wait_for(self, text: str, *, gone: bool = False, timeout: float = 120) -> float:
        """Seconds since start until `text` is on screen (or, with `gone`, no longer is)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if (text in self.screen()) != gone:
                return time.perf_counter() - self.started
            time.sleep(0.01)
        raise SystemExit(f"{text!r} did not {'go' if gone else 'come'} within {timeout} s")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def first_group(report: Path, work: Path) -> dict[str, float]:
    """One run of `dedupe review` on a copy of the report, in tmux."""
    copy = work / "report.json"
    shutil.copyfile(report, copy)
    env = {
        "XDG_STATE_HOME": str(work / "state"),
        "XDG_DATA_HOME": str(work / "data"),
        "XDG_CACHE_HOME": str(work / "cache"),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(common.ROOT),
    }
    assignments = " ".join(f"{k}={v}" for k, v in env.items())
    command = (
        f"env {assignments} {common.project_python()} -m dedupe review --report {copy} "
        "--thumbnails none; sleep 30"
    )
    subprocess.run(["sync"], check=False)
    common.warm_page_cache([copy])
    tmux = Tmux(command)
    try:
        shown = tmux.wait_for("Group 1 (1 of")
        during = key_to(tmux, "Group 2 (2 of")  # while the whole report is read
        whole = tmux.wait_for("reading the whole report", gone=True)
        after = key_to(tmux, "Group 3 (3 of")
        before = time.perf_counter()
        tmux.keys("q")
        while "Quit without saving" not in tmux.screen():
            if time.perf_counter() - before > 30:
                raise SystemExit("the review did not quit")
            time.sleep(0.005)
        gone = time.perf_counter() - before
    finally:
        tmux.close()
    return {"first_group": shown, "whole_report": whole, "key": after, "key_during": during,
            "quit": gone}  # fmt: skip


def key_to(tmux: Tmux, text: str) -> float:
    """Seconds from pressing ↓ until `text` is on screen."""
    before = time.perf_counter()
    tmux.keys("Down")
    while text not in tmux.screen():
        if time.perf_counter() - before > 30:
            raise SystemExit(f"the review did not show {text!r}")
        time.sleep(0.005)
    return time.perf_counter() - before


def read_alone(report: Path) -> float:
    """Seconds for a fresh process to import dedupe.report and read the report (all the review
    did before it drew anything, before this change)."""
    code = (
        "import time; t = time.perf_counter(); from dedupe import report; "
        f"report.read({str(report)!r}); print(time.perf_counter() - t)"
    )
    started = time.perf_counter()
    common.run_timed([common.project_python(), "-c", code], env=common.dedupe_env()).check(
        "report.read"
    )
    return time.perf_counter() - started


def first_group_rows(args: argparse.Namespace) -> list[Row]:
    if shutil.which("tmux") is None:
        print("  (skipped: tmux is not installed)")
        return []
    import regroup

    path, facts = regroup.synthetic_report(args.images, 11, "dhash")
    print(f"  report: {facts['images']:,} images, {facts['groups']:,} groups, {facts['mb']:.0f} MB")
    ours: list[dict[str, float]] = []
    peer: list[float] = []
    for round_ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="dedupe-review-bench-") as tmp:
            ours.append(first_group(path, Path(tmp)))
        peer.append(read_alone(path))
        last = ours[-1]
        print(
            f"  round {round_ + 1}: first group {last['first_group']:.2f} s, whole report "
            f"{last['whole_report']:.2f} s, ↓ while reading {last['key_during'] * 1000:.0f} ms, "
            f"↓ after {last['key'] * 1000:.0f} ms, q {last['quit'] * 1000:.0f} ms; "
            f"report.read alone {peer[-1]:.2f} s",
            flush=True,
        )
    best = min(ours, key=lambda r: r["first_group"])
    first, alone = best["first_group"], min(peer)
    files = f"{facts['images']:,}"
    return [
        Row(
            "`dedupe review` of a 100k-image report: start to the first group on screen (tmux)",
            files,
            first,
            f"{alone / first:.2f}x sooner than reading the report alone ({alone:.2f} s)",
            None,
            f"<= {FIRST_GROUP_TARGET:g} s",
            common.verdict(first <= FIRST_GROUP_TARGET),
        ),
        Row(
            "... until the whole report is read (keys that decide wait for it)",
            files,
            min(r["whole_report"] for r in ours),
            "-",
            None,
            "-",
            "-",
        ),
        Row(
            "... one key (↓) to the next group on screen while the whole report is read",
            files,
            min(r["key_during"] for r in ours),
            "-",
            None,
            "-",
            "-",
        ),
        Row(
            "... one key (↓) to the next group on screen after that (10,000-group list)",
            files,
            min(r["key"] for r in ours),
            "-",
            None,
            "-",
            "-",
        ),
        Row(
            "... q (nothing to save) until the review has ended",
            files,
            min(r["quit"] for r in ours),
            "-",
            None,
            "-",
            "-",
        ),
    ]


# ---------------------------------------------------------------- the HTML pages


def _write_group(job: tuple[int, int, str]) -> None:
    import numpy as np
    from PIL import Image, ImageEnhance

    index, seed, folder = job
    rng = np.random.default_rng([seed, index])
    # Made at 320 x 240 and enlarged: a quarter of the work, and at the 240 px of a
    # thumbnail as much detail as made at full size.
    picture = common._photo_like(rng, (320, 240)).resize((640, 480), Image.Resampling.BICUBIC)
    album = Path(folder) / f"album_{index // 500:02d}"
    album.mkdir(parents=True, exist_ok=True)
    picture.save(album / f"IMG_{index:05d}.jpg", quality=90)
    copies = Path(folder) / "copies" / f"c{index // 500:02d}"
    copies.mkdir(parents=True, exist_ok=True)
    picture.resize((320, 240)).save(copies / f"IMG_{index:05d}_small.jpg", quality=80)
    if index % 5 == 0:
        brighter = ImageEnhance.Brightness(picture).enhance(1.1)
        brighter.save(copies / f"IMG_{index:05d}_edit.jpg", quality=85)


def html_corpus(groups: int, jobs: int) -> tuple[Path, Path]:
    """The photos and their scan report (made once, reused while the recipe is unchanged)."""
    folder = common.corpus_dir(f"review-html-{groups}")
    photos, report = folder / "photos", folder / "report.json"
    recipe = {"version": HTML_CORPUS_VERSION, "groups": groups, "seed": 19}
    if common._reuse(folder, recipe) and report.is_file():
        return photos, report
    common._start(folder)
    print(
        f"  generating {groups:,} groups of photo-like JPEGs (once; reused later) ...", flush=True
    )
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_write_group, [(k, 19, str(photos)) for k in range(groups)], chunksize=50))
    print(f"  ... written in {time.perf_counter() - started:.0f} s; scanning ...", flush=True)
    scan = [common.project_python(), "-m", "dedupe", "scan", str(photos), "--report", str(report)]
    with tempfile.TemporaryDirectory(prefix="dedupe-review-bench-") as tmp:
        env = common.dedupe_env(XDG_CACHE_HOME=tmp, XDG_DATA_HOME=tmp)
        common.run_timed([*scan, "--no-cache", "--jobs", str(jobs)], env=env).check("scan")
    common._stamp(folder, recipe)
    print(f"  ... done in {time.perf_counter() - started:.0f} s", flush=True)
    return photos, report


def chromium_seconds(page: Path, profile: Path, timeout: float = 120) -> float | None:
    """Wall seconds of headless Chromium opening `page` and taking a screenshot (None: it did
    not finish within `timeout`)."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1600,1200", "--hide-scrollbars",
        f"--screenshot={page.with_suffix('.png')}", page.as_uri(),
    ]  # fmt: skip
    run = common.run_timed(command, timeout=timeout)
    return None if run.timed_out else run.seconds


def html_rows(args: argparse.Namespace) -> list[Row]:
    from dedupe import html_report
    from dedupe import report as report_mod

    _, report_path = html_corpus(args.groups, args.jobs)
    report = report_mod.read(report_path)
    groups = len(report.groups)
    files = sum(len(g.members) for g in report.groups)
    print(f"  report: {groups:,} groups, {files:,} files in groups")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="dedupe-review-bench-") as tmp:
        work = Path(tmp)
        out = work / "site" / "report.html"
        out.parent.mkdir()
        command = [
            common.project_python(), "-m", "dedupe", "report", "--html", str(out),
            "--report", str(report_path),
        ]  # fmt: skip
        run = common.run_timed(command, env=common.dedupe_env()).check("dedupe report --html")
        pages = [out, *sorted((out.parent / "report_pages").glob("page-*.html"))]
        sizes = [p.stat().st_size for p in pages]
        total = sum(sizes)
        print(
            f"  {len(pages)} pages, {total / common.MB:.1f} MB in all, first page "
            f"{sizes[0] / common.MB:.2f} MB, largest {max(sizes) / common.MB:.2f} MB, "
            f"{total / groups / 1024:.1f} KB per group; written in {run.seconds:.1f} s",
            flush=True,
        )
        rows.append(
            Row(
                f"`dedupe report --html` of {groups:,} groups: {len(pages)} pages, "
                f"{total / common.MB:.1f} MB, {total / groups / 1024:.1f} KB per group, first "
                f"page {sizes[0] / common.MB:.2f} MB",
                f"{files:,}",
                run.seconds,
                "-",
                run.tree_peak_mb,
                "-",
                "-",
            )
        )
        if CHROMIUM is None:
            print("  (Chromium is not installed: the pages are not opened)")
            return rows
        # The peer: every group on one page, as before pages existed.
        single = work / "single.html"
        ranges = [range(len(report.groups))]
        everything = html_report.group_paths(report)
        thumbs = html_report.thumbnails(everything)
        page = html_report.Page(1, 1, ranges[0], [single.name])
        single.write_text(html_report.render(report, thumbs, page, ranges), encoding="utf-8")
        del thumbs
        blank = work / "blank.html"
        blank.write_text("<!DOCTYPE html><title>blank</title><p>blank</p>")
        middle = pages[len(pages) // 2]
        timings: dict[str, list[float | None]] = {"blank": [], "first": [], "middle": []}
        timings["single"] = []
        for round_ in range(args.repeat):
            for name, target in (("blank", blank), ("first", out), ("middle", middle)):
                timings[name].append(chromium_seconds(target, work / f"profile-{name}"))
            if round_ == 0:  # the single page once: it can take minutes
                timings["single"].append(chromium_seconds(single, work / "profile-single"))
            print(
                "  Chromium, round "
                + f"{round_ + 1}: "
                + ", ".join(
                    f"{k} {v[-1]:.2f} s" if v and v[-1] is not None else f"{k} (gave up)"
                    for k, v in timings.items()
                    if v
                ),
                flush=True,
            )

        def best(name: str) -> float | None:
            values = [v for v in timings[name] if v is not None]
            return min(values) if values else None

        base = best("blank") or 0.0
        first, mid, whole = best("first"), best("middle"), best("single")
        single_mb = single.stat().st_size / common.MB
        peer = f"one page of all {groups:,} groups ({single_mb:.0f} MB): " + (
            f"{whole:.1f} s, {whole / first:.1f}x longer" if whole and first else "gave up"
        )
        for label, value in (("the first page", first), ("a middle page", mid)):
            rows.append(
                Row(
                    f"headless Chromium opens {label} (screenshot; an empty page "
                    f"takes {base:.2f} s)",
                    "-",
                    value,
                    peer if label == "the first page" else "-",
                    None,
                    f"<= {HTML_OPEN_TARGET:g} s",
                    "-" if value is None else common.verdict(value <= HTML_OPEN_TARGET),
                )
            )
        shot = out.with_suffix(".png")
        if shot.is_file() and args.keep_screenshot:
            shutil.copyfile(shot, args.keep_screenshot)
            print(f"  screenshot of the first page: {args.keep_screenshot}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the review and the HTML pages at scale.")
    parser.add_argument("--parts", default="first-group,html", help="first-group,html")
    parser.add_argument("--images", type=int, default=100_000, help="images of the report")
    parser.add_argument("--groups", type=int, default=5_000, help="groups of the HTML report")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep-screenshot", help="copy the first page's screenshot here")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    common.print_machine("Review benchmark")
    common.prepare_dedupe()
    rows: list[Row] = []
    if "first-group" in parts:
        print("\n# first group of a 100k-image report", flush=True)
        rows += first_group_rows(args)
    if "html" in parts:
        print(f"\n# HTML pages of {args.groups:,} groups", flush=True)
        rows += html_rows(args)
    common.emit(rows)
    print("\n" + common.table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
