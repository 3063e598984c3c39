"""Accuracy benchmark (issue 16): does `dedupe scan` group copies, and only copies, of pictures
it was never tuned on?

The corpus (benchmarks/accuracy_corpus.py) is built from installed packages on first use, one
folder per split: "tune" (what the match check may be tuned on) and "holdout" (never read
while tuning; its sources and seed are its own). For each split this runs `dedupe scan` as a
user would, twice (default settings, then `--rotations`), reads the JSON reports generically
(group `kind`, member `action`: no kind of group is assumed) and scores them:

- a *pair* is two files in one reported group; it is true when both are copies of one picture
  (one family). Precision = true pairs / pairs.
- recall of a tier or transform = (original, copy) pairs in one group / all such pairs.
- look-alikes (bursts, same-app screenshots, pages of one layout, low-detail graphics sharing
  a border or a watermark, low-light shots, smooth pictures, captures of one scene): pair
  precision among groups that propose a trash (any member with action "trash"), the look-alike
  pairs grouped in any group (by group kind), and recall of their copies.
- a flat (one-colour) picture may share a group only with identical bytes.

    python benchmarks/accuracy.py                      # both splits, default + --rotations
    python benchmarks/accuracy.py --split tune         # what tuning may read
    python benchmarks/accuracy.py --quick              # a third of the families: a few minutes
    python benchmarks/accuracy.py --split tune --dedupe-root ../other-checkout
    python benchmarks/accuracy.py --sweep              # also algorithms x hash sizes x thresholds

See benchmarks/README.md for the packages the corpus needs and where each class comes from.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import accuracy_corpus as corpus_lib
from accuracy_corpus import TIERS, TRANSFORMS, Item

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / ".corpus" / "accuracy"  # benchmarks/.corpus/ is gitignored
# Issue 16's targets, on the held-out split.
TARGETS = {
    "precision": 0.995,
    "easy": 0.995,
    "medium": 0.95,
    "rotations": 0.95,
    "hard": 0.75,
    "lookalike_precision": 0.99,
    "lookalike_copies": 0.97,
}


# ---------------------------------------------------------------- reading a report


@dataclass(frozen=True)
class Grouped:
    """One reported group, as the benchmark reads it: its kind and (file, action) members."""

    kind: str
    members: tuple[tuple[str, str], ...]  # (path relative to the split folder, action)

    @property
    def proposes_trash(self) -> bool:
        return any(action == "trash" for _, action in self.members)


def read_groups(data: Mapping[str, Any], root: Path) -> list[Grouped]:
    """The groups of a dedupe JSON report, with paths made relative to `root`. Read generically:
    a group's `kind` and its members' `action` are taken as they are."""
    out = []
    base = os.path.realpath(root)
    for group in data.get("groups", []):
        members = []
        for member in group.get("files", group.get("members", [])):
            path = os.path.relpath(os.path.realpath(member["path"]), base)
            members.append((path, str(member.get("action", "keep"))))
        out.append(Grouped(str(group.get("kind", "?")), tuple(members)))
    return out


# ---------------------------------------------------------------- scoring


@dataclass
class Score:
    """What one scan's groups got right and wrong, against the truth of one split."""

    true_pairs: int = 0
    false_pairs: int = 0
    false_by: Counter[str] = field(default_factory=Counter)  # "classA~classB" -> false pairs
    found: Counter[str] = field(
        default_factory=Counter
    )  # tier / transform / class:tier -> copies found
    total: Counter[str] = field(default_factory=Counter)  # ... -> copies
    found_trash: Counter[str] = field(default_factory=Counter)  # found in a group proposing a trash
    lookalike_true: int = 0  # same-picture pairs among look-alike files, in trash groups
    lookalike_false: int = 0  # different-picture pairs among look-alike files, in trash groups
    lookalike_false_by: Counter[str] = field(
        default_factory=Counter
    )  # class -> false, trash groups
    lookalike_grouped: Counter[str] = field(default_factory=Counter)  # group kind -> false pairs
    lookalike_grouped_by: Counter[str] = field(default_factory=Counter)  # class -> false, any group
    lookalike_pairs: Counter[str] = field(
        default_factory=Counter
    )  # class -> look-alike pairs there
    flat_bad: int = 0  # pairs with a flat picture that are not identical bytes
    shots_true: int = 0  # pairs of one burst or scene reported as similar shots (true pairs)
    groups: Counter[str] = field(default_factory=Counter)  # kind -> groups
    grouped_files: int = 0
    largest: int = 0
    unknown: int = 0  # reported paths not in the truth (should be 0)

    @property
    def precision(self) -> float:
        pairs = self.true_pairs + self.false_pairs
        return self.true_pairs / pairs if pairs else 1.0

    @property
    def lookalike_precision(self) -> float:
        pairs = self.lookalike_true + self.lookalike_false
        return self.lookalike_true / pairs if pairs else 1.0

    def recall(self, key: str) -> float:
        return self.found[key] / self.total[key] if self.total[key] else float("nan")

    def to_json(self) -> dict[str, Any]:
        keys = sorted(self.total)
        return {
            "precision": self.precision,
            "true_pairs": self.true_pairs,
            "false_pairs": self.false_pairs,
            "false_by": dict(self.false_by.most_common()),
            "recall": {k: _number(self.recall(k)) for k in keys},
            "found": {k: self.found[k] for k in keys},
            "total": {k: self.total[k] for k in keys},
            "found_in_trash_groups": {k: self.found_trash[k] for k in keys},
            "lookalike_precision_in_trash_groups": self.lookalike_precision,
            "lookalike_true_pairs_in_trash_groups": self.lookalike_true,
            "lookalike_false_pairs_in_trash_groups": self.lookalike_false,
            "lookalike_false_in_trash_groups_by_class": dict(self.lookalike_false_by),
            "lookalike_false_pairs_grouped_by_kind": dict(self.lookalike_grouped),
            "lookalike_false_pairs_grouped_by_class": dict(self.lookalike_grouped_by),
            "lookalike_pairs_by_class": dict(self.lookalike_pairs),
            "flat_grouped_not_identical": self.flat_bad,
            "shots_pairs_of_one_capture_set": self.shots_true,
            "groups_by_kind": dict(self.groups),
            "grouped_files": self.grouped_files,
            "largest_group": self.largest,
            "unknown_paths": self.unknown,
        }


def _number(x: float) -> float | None:
    """x, or None for NaN (no such pairs), which JSON cannot hold."""
    return None if x != x else x


def _pair_class(a: Item, b: Item) -> str:
    return "~".join(sorted((a.cls, b.cls)))


# Look-alike classes whose members are several captures of one scene: a group that reports them
# as similar shots (every file kept unless the user opts in) says something true of them.
SHOT_CLASSES = frozenset({"burst", "burst-still", "scene"})


def _one_capture_set(a: Item, b: Item) -> bool:
    """Two shots of one burst (video bursts: the same `bNN` in one set) or of one scene set."""
    if not (a.lookalike and a.lookalike == b.lookalike and a.cls == b.cls):
        return False
    if a.cls not in SHOT_CLASSES:
        return False
    if a.cls == "burst":  # family like-burst-VIDEO/bNNsS: one burst is one bNN
        return a.family.rsplit("/", 1)[-1][:3] == b.family.rsplit("/", 1)[-1][:3]
    return True


def score(groups: Iterable[Grouped], truth: Mapping[str, Item]) -> Score:
    """Score reported groups against the truth of one split (paths relative to its folder).

    A pair is true when its two files are copies of one picture (one family), or when the
    group is a "shots" group (similar shots: nothing proposed for trash unless asked for) and
    both are shots of one burst or scene (SHOT_CLASSES). Every other pair is false."""
    s = Score()
    group_of: dict[str, int] = {}
    trash_group: dict[int, bool] = {}
    for number, group in enumerate(groups):
        s.groups[group.kind] += 1
        s.largest = max(s.largest, len(group.members))
        trash = group.proposes_trash
        trash_group[number] = trash
        known = []
        for rel, _ in group.members:
            if rel in truth:
                known.append(truth[rel])
                group_of[rel] = number
            else:
                s.unknown += 1
        s.grouped_files += len(known)
        for a, b in itertools.combinations(known, 2):
            same = a.family == b.family
            if not same and group.kind == "shots" and _one_capture_set(a, b):
                s.shots_true += 1
                s.true_pairs += 1
                continue
            if (a.flat or b.flat) and not (same and a.sha256 == b.sha256):
                s.flat_bad += 1
                s.false_pairs += 1
                s.false_by[_pair_class(a, b)] += 1
                continue
            if same:
                s.true_pairs += 1
            else:
                s.false_pairs += 1
                s.false_by[_pair_class(a, b)] += 1
            if a.lookalike and b.lookalike:
                if trash:
                    s.lookalike_true += same
                    s.lookalike_false += not same
                    if not same:
                        s.lookalike_false_by[_pair_class(a, b)] += 1
                if not same:
                    s.lookalike_grouped[group.kind] += 1
                    s.lookalike_grouped_by[_pair_class(a, b)] += 1
    originals = {i.family: i.rel for i in truth.values() if i.transform == "original"}
    members: dict[str, list[Item]] = defaultdict(list)
    for item in truth.values():
        if item.lookalike and item.transform == "original":
            members[item.lookalike].append(item)
        if item.transform == "original":
            continue
        original = originals[item.family]
        ok = item.rel in group_of and group_of.get(original) == group_of[item.rel]
        in_trash = ok and trash_group[group_of[item.rel]]
        keys = (
            ["lookalike_copies", f"lookalike_copies:{item.cls}"]
            if item.lookalike
            else [item.tier, item.transform, f"{item.cls}:{item.tier}"]
        )
        for key in keys:
            s.total[key] += 1
            s.found[key] += ok
            s.found_trash[key] += in_trash
    for items in members.values():  # how many look-alike pairs each class offers
        n = len(items)
        if n > 1:
            s.lookalike_pairs[items[0].cls] += n * (n - 1) // 2
    return s


# ---------------------------------------------------------------- running dedupe


@dataclass(frozen=True)
class Dedupe:
    """How to run dedupe: an interpreter and, optionally, a checkout to import it from."""

    python: str
    root: Path | None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.root is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.root), env.get("PYTHONPATH", "")]).rstrip(
                os.pathsep
            )
        return env

    def describe(self) -> str:
        done = subprocess.run(
            [self.python, "-c", "import dedupe; print(dedupe.__file__, dedupe.__version__)"],
            env=self.env(),
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"cannot import dedupe with {self.python}:\n{done.stderr}")
        where, version = done.stdout.split()
        checkout = Path(where).resolve().parent.parent
        rev = subprocess.run(
            ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return f"dedupe {version} from {checkout} ({rev or 'not a git checkout'})"


@dataclass(frozen=True)
class Scan:
    """One `dedupe scan` run: its groups, wall-clock seconds, and what the report says."""

    groups: list[Grouped]
    wall: float
    images: int
    errors: int
    candidates: int | None
    stderr_tail: str


def run_scan(
    dedupe: Dedupe, folder: Path, extra: Sequence[str], jobs: int, out: Path, keep: Path | None
) -> Scan:
    report_path = out / "report.json"
    command = [
        dedupe.python,
        "-m",
        "dedupe",
        "scan",
        str(folder),
        "--report",
        str(report_path),
        "--jobs",
        str(jobs),
        *extra,
    ]
    if "--cache" not in extra:
        command.append("--no-cache")
    report_path.unlink(missing_ok=True)
    started = time.perf_counter()
    # cwd is a neutral folder, so `-m dedupe` imports the environment's (or --dedupe-root's) dedupe
    done = subprocess.run(
        command, env=dedupe.env(), cwd=out, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1) or not report_path.is_file():  # 1: duplicates found (old CLIs)
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    data = json.loads(report_path.read_text(encoding="utf-8"))
    if keep is not None:
        keep.parent.mkdir(parents=True, exist_ok=True)
        report_path.replace(keep)
    stats = data.get("stats", {})
    return Scan(
        read_groups(data, folder),
        wall,
        int(stats.get("images", len(data.get("images", [])))),
        len(data.get("errors", [])),
        candidate_pairs(data),
        "\n".join(done.stderr.strip().splitlines()[-3:]),
    )


def candidate_pairs(data: Mapping[str, Any]) -> int | None:
    """The candidate pairs of a scan: the report's own count if it has one (stats.candidates),
    else the pairs of images whose hashes (any orientation variant, with --rotations) are within
    the report's max_distance, counted from the report's images."""
    stats = data.get("stats", {})
    for key in ("candidates", "candidate_pairs"):
        if isinstance(stats.get(key), int):
            return int(stats[key])
    settings = data.get("settings", {})
    images = data.get("images", [])
    radius = settings.get("max_distance")
    if not isinstance(radius, int) or not images or "hash" not in images[0]:
        return None
    try:
        codes = _as_words([im["hash"] for im in images])
        variants = None
        if settings.get("rotations") and images[0].get("variants"):
            per = [im.get("variants") or [im["hash"]] for im in images]
            width = max(len(v) for v in per)
            variants = [_as_words([v[min(k, len(v) - 1)] for v in per]) for k in range(width)]
    except (KeyError, TypeError, ValueError):
        return None
    total = 0
    for start in range(0, len(codes), 512):
        block = codes[start : start + 512]
        best = _popcount(block[:, None, :] ^ codes[None, :, :])
        for words in variants or []:
            best = np.minimum(
                best, _popcount(words[start : start + 512][:, None, :] ^ codes[None, :, :])
            )
        rows = np.arange(start, start + len(block))[:, None]
        total += int(((best <= radius) & (np.arange(len(codes))[None, :] > rows)).sum())
    return total


def _as_words(hexes: Sequence[str]) -> np.ndarray:
    digits = max(len(h) for h in hexes)
    raw = b"".join(bytes.fromhex(h.rjust(digits, "0")) for h in hexes)
    nbytes = (digits + 1) // 2
    padded = (nbytes + 7) // 8 * 8
    array = np.frombuffer(raw, np.uint8).reshape(len(hexes), nbytes)
    if padded != nbytes:
        array = np.pad(array, ((0, 0), (padded - nbytes, 0)))
    return array.view(">u8").astype(np.uint64)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per row of 64-bit words (summed over the last axis)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)
    bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=-1)  # numpy 1.26
    return bits.sum(axis=-1, dtype=np.int64)


# ---------------------------------------------------------------- printing


def _f(x: float) -> str:
    return "-" if x != x else f"{x:.3f}"


def machine() -> str:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {cpu}, load average {load}; Python {platform.python_version()}"


def summary_rows(runs: Mapping[str, tuple[Scan, Score]]) -> list[tuple[str, str, str, str]]:
    """(measure, default, --rotations, target) rows of a split's main table."""
    d = runs.get("default")
    r = runs.get("rotations")

    def cell(run: tuple[Scan, Score] | None, what: str) -> str:
        if run is None:
            return "-"
        scan, sc = run
        if what == "precision":
            return (
                f"{_f(sc.precision)} ({sc.false_pairs} false of {sc.true_pairs + sc.false_pairs})"
            )
        if what in TIERS:
            return f"{_f(sc.recall(what))} ({sc.found[what]}/{sc.total[what]})"
        if what == "lookalike_precision":
            pairs = sc.lookalike_true + sc.lookalike_false
            return f"{_f(sc.lookalike_precision)} ({sc.lookalike_false} false of {pairs})"
        if what == "lookalike_grouped":
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(sc.lookalike_grouped.items())) or "none"
            return f"{sum(sc.lookalike_grouped.values())} ({kinds})"
        if what == "lookalike_copies":
            k = "lookalike_copies"
            trash = f"{sc.found_trash[k]} in trash groups"
            return f"{_f(sc.recall(k))} ({sc.found[k]}/{sc.total[k]}; {trash})"
        if what == "flat":
            return str(sc.flat_bad)
        if what == "candidates":
            return "?" if scan.candidates is None else str(scan.candidates)
        if what == "groups":
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(sc.groups.items()))
            return f"{sum(sc.groups.values())} ({kinds}; largest {sc.largest})"
        if what == "time":
            per = f"{1000 * scan.wall / max(1, scan.images):.1f} ms/image"
            return f"{scan.wall:.1f} s ({per}), {scan.images} images, {scan.errors} errors"
        raise ValueError(what)

    rows = [
        ("precision (pairs in groups)", "precision", ">= 0.995"),
        ("recall easy", "easy", ">= 0.995"),
        ("recall medium", "medium", ">= 0.95"),
        ("recall mirror/90/180/270 (*)", "rotations", ">= 0.95 with --rotations"),
        ("recall hard", "hard", ">= 0.75"),
        ("look-alikes: precision in groups proposing trash", "lookalike_precision", ">= 0.99"),
        ("look-alikes: different pictures grouped (by group kind)", "lookalike_grouped", ""),
        ("look-alikes: copies found", "lookalike_copies", ">= 0.97"),
        ("flat pictures grouped, not identical bytes (pairs)", "flat", "0"),
        ("groups", "groups", ""),
        ("candidate pairs", "candidates", ""),
        ("scan", "time", ""),
    ]
    return [(label, cell(d, key), cell(r, key), target) for label, key, target in rows]


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def print_split(split: str, items: Sequence[Item], runs: Mapping[str, tuple[Scan, Score]]) -> None:
    print(f"\n## {split}\n")
    print(markdown(["measure", "default", "--rotations", "target (holdout)"], summary_rows(runs)))
    print("\n(*) the rotations tier is scored in the --rotations run; every other column of both.")
    d, r = runs.get("default"), runs.get("rotations")
    classes = sorted({i.cls for i in items if not i.lookalike and i.cls != "flat"})
    print("\nRecall per class and tier (default; rotations from --rotations):\n")
    rows = []
    for cls in classes:
        cells = []
        for tier in TIERS:
            run = r if tier == "rotations" else d
            key = f"{cls}:{tier}"
            cells.append(
                "-"
                if run is None or not run[1].total[key]
                else f"{_f(run[1].recall(key))} ({run[1].total[key]})"
            )
        rows.append([cls, *cells])
    print(markdown(["class", *TIERS], rows))
    print("\nRecall per transform:\n")
    rows = []
    for name, t in TRANSFORMS.items():
        run = r if t.tier == "rotations" else d
        if run is not None and run[1].total[name]:
            rows.append(
                [
                    name,
                    t.tier,
                    f"{_f(run[1].recall(name))} ({run[1].found[name]}/{run[1].total[name]})",
                ]
            )
    print(markdown(["transform", "tier", "recall"], rows))
    print(
        "\nLook-alikes per class (pairs of different pictures: offered / in any group"
        " / in groups proposing trash):\n"
    )
    rows = []
    lk = sorted({i.cls for i in items if i.lookalike})
    for cls in lk:
        key = f"{cls}~{cls}"
        row = [cls]
        for run in (d, r):
            if run is None:
                row.append("-")
                continue
            sc = run[1]
            copies = f"lookalike_copies:{cls}"
            row.append(
                f"{sc.lookalike_pairs[cls]} / {sc.lookalike_grouped_by[key]}"
                f" / {sc.lookalike_false_by[key]};"
                f" copies {sc.found[copies]}/{sc.total[copies]}"
            )
        rows.append(row)
    print(markdown(["class", "default", "--rotations"], rows))
    for name, run in (("default", d), ("--rotations", r)):
        if run is not None and run[1].false_by:
            worst = ", ".join(f"{k} {v}" for k, v in run[1].false_by.most_common(8))
            print(f"\nfalse pairs by class ({name}): {worst}")


def describe_corpus(items: Sequence[Item]) -> str:
    families = Counter(i.cls for i in items if i.transform == "original" and not i.lookalike)
    copies = Counter(i.tier for i in items if not i.lookalike and i.transform != "original")
    sets = Counter(i.cls for i in items if i.lookalike and i.transform == "original")
    lk_copies = sum(1 for i in items if i.lookalike and i.transform != "original")
    return (
        f"{len(items)} files; families: "
        + ", ".join(f"{k} {v}" for k, v in sorted(families.items()))
        + "; copies: "
        + ", ".join(f"{k} {v}" for k, v in sorted(copies.items()))
        + "; look-alike pictures: "
        + ", ".join(f"{k} {v}" for k, v in sorted(sets.items()))
        + f" (+{lk_copies} copies of them)"
    )


def sources_of(items: Sequence[Item]) -> str:
    packages = Counter(i.source.split(":", 1)[0] for i in items if i.transform == "original")
    return ", ".join(f"{k} {v}" for k, v in sorted(packages.items()))


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--split", choices=("tune", "holdout", "all"), default="all")
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="where the corpus is built"
    )
    parser.add_argument(
        "--dedupe-root", type=Path, help="run the dedupe of this checkout (PYTHONPATH)"
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs dedupe")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--quick", action="store_true", help="a third of the families (a few minutes)"
    )
    parser.add_argument("--no-rotations", action="store_true", help="skip the --rotations scan")
    parser.add_argument("--json", type=Path, help="write every number to this JSON file")
    parser.add_argument(
        "--keep-reports", type=Path, metavar="DIR", help="keep dedupe's reports here"
    )
    parser.add_argument(
        "--sweep", action="store_true", help="also scan at every algorithm, size, threshold"
    )
    parser.add_argument("--algorithms", default="ahash,dhash,phash")
    parser.add_argument("--hash-sizes", default="8,16")
    parser.add_argument("--thresholds", default="0.15,0.2,0.25,0.3")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    dedupe = Dedupe(args.python, args.dedupe_root.resolve() if args.dedupe_root else None)
    print("# dedupe accuracy benchmark (issue 16)\n")
    print(f"machine: {machine()}")
    shown = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: python benchmarks/accuracy.py {shown}".rstrip())
    print(f"runs: {dedupe.describe()}")
    missing = corpus_lib.missing_sources()
    if missing:
        print(f"WARNING: missing sources, the corpus will lack them: {', '.join(missing)}")
        print(
            "  install: apt-get install -y --no-install-recommends "
            + " ".join(corpus_lib.APT_PACKAGES)
            + " && pip install "
            + " ".join(corpus_lib.PIP_PACKAGES)
        )
    splits = ("tune", "holdout") if args.split == "all" else (args.split,)
    result: dict[str, Any] = {"machine": machine(), "dedupe": dedupe.describe(), "splits": {}}
    for split in splits:
        made = corpus_lib.build(args.corpus, split, args.jobs, args.quick)
        folder, items, built = made.folder, made.items, made.seconds
        truth = {i.rel: i for i in items}
        print(f"\ncorpus {split}: {folder} ({f'built in {built:.0f} s' if built else 'reused'})")
        print(f"  {describe_corpus(items)}")
        print(f"  sources of the pictures: {sources_of(items)}")
        if made.ambiguous:  # real sources that may be one picture: a flaw of the corpus
            shown = "; ".join(f"{x} ~ {y} ({c})" for x, y, c in made.ambiguous[:5])
            print(f"  WARNING: {len(made.ambiguous)} pairs of real originals look alike: {shown}")
        runs: dict[str, tuple[Scan, Score]] = {}
        plan = [("default", [])] + ([] if args.no_rotations else [("rotations", ["--rotations"])])
        with tempfile.TemporaryDirectory(prefix="dedupe-accuracy-") as tmp:
            for name, extra in plan:
                keep = args.keep_reports / f"{split}-{name}.json" if args.keep_reports else None
                scan = run_scan(dedupe, folder, extra, args.jobs, Path(tmp), keep)
                runs[name] = (scan, score(scan.groups, truth))
                print(f"  scanned ({name}): {scan.images} images in {scan.wall:.1f} s", flush=True)
            sweep = run_sweep(dedupe, folder, truth, args, Path(tmp)) if args.sweep else []
        print_split(split, items, runs)
        if sweep:
            print("\nSweep (default-settings scoring at each setting; a shared hash cache):\n")
            print(
                markdown(
                    [
                        "algorithm",
                        "bits",
                        "threshold",
                        "precision",
                        *TIERS[:1],
                        "medium",
                        "hard",
                        "look-alike precision",
                        "s",
                    ],
                    [row[:-1] for row in sweep],
                )
            )
        result["splits"][split] = {
            "corpus": {
                "folder": str(folder),
                "files": len(items),
                "built_seconds": built,
                "summary": describe_corpus(items),
                "sources": sources_of(items),
                "ambiguous_sources": made.ambiguous,
            },
            "runs": {
                n: {
                    "wall_s": s.wall,
                    "images": s.images,
                    "errors": s.errors,
                    "candidates": s.candidates,
                    **sc.to_json(),
                }
                for n, (s, sc) in runs.items()
            },
            "sweep": [row[-1] for row in sweep],
        }
    minutes = (time.perf_counter() - started) / 60
    print(f"\ntotal time: {minutes:.1f} minutes")
    result["minutes"] = minutes
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True))
    return 0


def run_sweep(
    dedupe: Dedupe, folder: Path, truth: Mapping[str, Item], args: argparse.Namespace, tmp: Path
) -> list[list[Any]]:
    """Scans at every algorithm x hash size x threshold (sharing one hash cache), scored."""
    rows: list[list[Any]] = []
    cache = tmp / "sweep-cache.sqlite"
    for algorithm in args.algorithms.split(","):
        for size in args.hash_sizes.split(","):
            for threshold in args.thresholds.split(","):
                extra = [
                    "--algorithm",
                    algorithm,
                    "--hash-size",
                    size,
                    "--threshold",
                    threshold,
                    "--cache",
                    str(cache),
                ]
                scan = run_scan(dedupe, folder, extra, args.jobs, tmp, None)
                sc = score(scan.groups, truth)
                rows.append(
                    [
                        algorithm,
                        str(int(size) ** 2),
                        threshold,
                        _f(sc.precision),
                        _f(sc.recall("easy")),
                        _f(sc.recall("medium")),
                        _f(sc.recall("hard")),
                        _f(sc.lookalike_precision),
                        f"{scan.wall:.0f}",
                        {
                            "algorithm": algorithm,
                            "hash_size": int(size),
                            "threshold": float(threshold),
                            **sc.to_json(),
                        },
                    ]
                )
                print(
                    f"  sweep {algorithm} {size} {threshold}: {scan.wall:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


if __name__ == "__main__":
    sys.exit(main())
