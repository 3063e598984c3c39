"""The plan of an apply, built from the report before any file is touched: which files go,
unit by unit (an image with its companions, a RAW with its JPEG twin), and where.

The first stage of apply: `validate(report)` -> `build_plan(report, action)`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from dedupe import companions, fsops, linking
from dedupe import report as report_mod
from dedupe.errors import Refused
from dedupe.hashing import ImageHash
from dedupe.linking import LinkKind
from dedupe.models import Companion, Fingerprint, Group, ImageRecord
from dedupe.report import Report

Kind = Literal["trash", "move", "link"]


# ---------------------------------------------------------------- the plan (pure)


@dataclass(frozen=True, slots=True)
class Removal:
    """One file to trash or move (`target` is the move destination, None for trash).

    The files of one unit (an image with its companions, a RAW with its JPEG twin: see
    units_of) share `unit` and are acted on together, all or none; `role` is "image" or the
    companion's role (a companion's `record` carries its path, size, time and digest)."""

    group: int
    record: ImageRecord
    target: str | None = None
    unit: int = 0
    role: str = "image"

    @property
    def path(self) -> str:
        return self.record.path


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    id: int
    keepers: tuple[ImageRecord, ...]
    removals: tuple[Removal, ...]

    @property
    def units(self) -> list[list[Removal]]:
        """The removals by unit, in plan order."""
        found: dict[int, list[Removal]] = {}
        for removal in self.removals:
            found.setdefault(removal.unit, []).append(removal)
        return list(found.values())


@dataclass(frozen=True, slots=True)
class Plan:
    """What an apply of a report would do (build_plan): per group, the kept copies and the units
    of files to remove (`groups`), with the action (`kind`: trash, move, link, or None for a
    plan that can only be previewed); `files` and `bytes` count them."""

    report_path: str  # absolute, symbolic links resolved
    kind: Kind | None  # None: no action chosen (a dry run)
    move_to: str | None
    groups: tuple[PlannedGroup, ...]
    roots: tuple[str, ...] = ()  # the scanned folders (absolute): no symlink is followed below
    link: LinkKind | None = None  # for kind "link": hard, symlink or reflink
    # Companions the report lists for kept images: they stay, whatever else claims them.
    kept_companions: frozenset[str] = frozenset()

    def root_of(self, path: str) -> str:
        """The scanned folder `path` is in (the file system's root for a path in none)."""
        return anchor_of(path, self.roots)

    @property
    def files(self) -> int:
        return sum(len(g.removals) for g in self.groups)

    @property
    def bytes(self) -> int:
        return sum(r.record.size for g in self.groups for r in g.removals)


def validate(report: Report, *, allow_root: bool = False) -> list[str]:
    """Reasons the report must not be acted on (empty when it may be); `allow_root`: a
    scanned folder may be the top of the file system (apply --allow-root)."""
    return report_mod.problems(report, allow_root=allow_root)


def _root_of(path: str, roots: Sequence[str]) -> str:
    best = ""
    for root in roots:
        root = os.path.abspath(root)
        if (path == root or path.startswith(os.path.join(root, ""))) and len(root) > len(best):
            best = root
    if not best:
        raise Refused(f"{path} is outside the scanned folders")
    return best


def _root_labels(roots: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    used: set[str] = set()
    for root in roots:
        root = os.path.abspath(root)
        base = os.path.basename(root.rstrip(os.sep)) or "root"
        label, counter = base, 1
        while label in used:
            counter += 1
            label = f"{base}-{counter}"
        used.add(label)
        labels[root] = label
    return labels


def move_target(path: str, roots: Sequence[str], move_to: str) -> str:
    """Where `--move DIR` puts a file: DIR/relative path (DIR/ROOT-NAME/... with many roots)."""
    root = _root_of(path, roots)
    relative = os.path.relpath(path, root)
    if len(roots) > 1:
        relative = os.path.join(_root_labels(roots)[root], relative)
    destination = fsops.as_the_system_names(move_to)
    target = os.path.join(destination, relative)
    if os.path.normpath(target) != target or not target.startswith(os.path.join(destination, "")):
        raise Refused(f"{path} would be moved outside {destination} (to {target})")
    return target


def build_plan(
    report: Report,
    report_path: str,
    kind: Kind | None,
    move_to: str | None = None,
    *,
    allow_root: bool = False,
    link: LinkKind | None = None,
) -> Plan:
    """The groups with something to remove, in report order (`link`: the kind of link for
    kind "link"). Raises Refused for a bad report, or a link kind this system cannot make."""
    problems = validate(report, allow_root=allow_root)
    if problems:
        raise Refused("the report cannot be applied: " + "; ".join(problems[:10]))
    if kind == "move" and not move_to:
        raise Refused("--move needs a folder")
    if move_to:
        # the folder the system names, as `mv` would move into (`a/link/../b` is beside link's
        # target): the one the user sees with ls, never another one that merely reads alike
        try:
            move_to = fsops.as_the_system_names(move_to)
        except fsops.UnsafePath as error:
            raise Refused(f"--move {move_to}: {error}") from None
    if kind == "link" and linking.refusal(str(link)):
        raise Refused(linking.refusal(str(link)))
    kept = kept_companions(report)
    groups = []
    counter = itertools.count(1)
    for group in report.groups:
        keepers = tuple(m.record for m in group.members if m.action == "keep")
        removals = tuple(
            replace(r, target=move_target(r.path, report.roots, move_to))
            if kind == "move" and move_to
            else r
            for r in units_of(report, group, kept, counter, alone=kind == "link")
        )
        if removals:
            groups.append(PlannedGroup(group.id, keepers, removals))
    return Plan(
        # the file the path leads to: its lock and journals are those of every name of it (a
        # folder reached through a symbolic link; `link/..` is the folder above link's target)
        os.path.realpath(report_path),
        kind,
        move_to,
        tuple(groups),
        tuple(os.path.abspath(root) for root in report.roots),
        link if kind == "link" else None,
        frozenset(kept),
    )


# ---------------------------------------------------------------- units


def kept_companions(report: Report) -> set[str]:
    """The companions of every kept image: they are never removed with another image."""
    return {
        c.path
        for g in report.groups
        for m in g.members
        if m.action == "keep"
        for c in report.facts_of(m.record.path).companions
    }


def companion_record(companion: Companion) -> ImageRecord:
    """A companion as the record apply checks and journals (path, size, time, digest): it is
    checked and acted on exactly as an image is."""
    fingerprint = Fingerprint(0, 0, companion.role, companion.digest, ImageHash(0, 8), b"", b"")
    return ImageRecord(companion.path, companion.size, companion.mtime_ns, 0, 0, fingerprint)


def units_of(
    report: Report, group: Group, kept: set[str], counter: Iterator[int], *, alone: bool = False
) -> Iterator[Removal]:
    """The removals of a group, unit by unit: each image marked trash with its companions (a
    companion a kept image also has stays), the images of one capture (twins) in one unit when
    the rules keep twins together. Within a unit the images come first, then the companions.

    `alone` (apply --link): each image is a unit of its own, without its companions: a link
    takes the image's place at its path, so its sidecars and motion part still belong to it."""
    trashed = [m.record for m in group.members if m.action == "trash"]
    if alone:
        for record in trashed:
            yield Removal(group.id, record, unit=next(counter))
        return
    together = report.keep.twins == "together"
    twin_of = {r.path: report.facts_of(r.path).twins if together else () for r in trashed}
    taken: set[str] = set()
    for indices in companions.capture_units([r.path for r in trashed], twin_of):
        unit = next(counter)
        images = [trashed[k] for k in indices]
        for record in images:
            yield Removal(group.id, record, unit=unit)
        for record in images:
            for c in report.facts_of(record.path).companions:
                if c.path not in kept and c.path not in taken:
                    taken.add(c.path)
                    yield Removal(group.id, companion_record(c), unit=unit, role=c.role)


def anchor_of(path: str, roots: Sequence[str]) -> str:
    """The outermost of `roots` that holds `path`: where a walk with no symlink starts, so that
    a scanned folder inside another one (`scan A A/B`) is walked through as well and can never
    be a symlink. Outside every root (build_plan refuses such a path; an old journal has no
    roots) it is the file system's root, so then no folder on the whole path may be one."""
    best = ""
    for root in roots:
        inside = path == root or path.startswith(os.path.join(root, ""))
        if inside and (not best or len(root) < len(best)):
            best = root
    return best or os.path.abspath(os.sep)
