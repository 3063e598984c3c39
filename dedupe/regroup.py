"""Regroup a report from its stored hashes (new threshold or keep rules) without decoding, and
say how the groups changed.

Grouping goes through groups.build_groups, so candidates are verified exactly as `scan` does;
at the threshold of the report's last search or a tighter one, the pairs come from what that
search checked (Report.checked) and nothing is searched or verified again.
A reviewed group whose files are exactly the same as before keeps the person's decisions; every
other group gets a fresh proposal from the keep rules.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dedupe import __version__, cluster, policy
from dedupe import index as index_mod
from dedupe import report as report_mod
from dedupe.errors import DedupeError
from dedupe.groups import build_groups, order_key
from dedupe.imagecols import ImageColumns
from dedupe.looks import Look
from dedupe.models import NO_FACTS, FileFacts, Group, ImageRecord, KeepRules, Settings
from dedupe.report import Report


@dataclass(frozen=True, slots=True)
class Changes:
    """How the groups at the new settings relate to the old ones (counts of groups)."""

    before: int
    after: int
    unchanged: int  # same files exactly
    new: int  # no file was in any group before
    grown: int  # one old group plus files that were in no group
    merged: int  # files of two or more old groups now together
    shrunk: int  # an old group lost files (now in no group) but stayed one group
    split: int  # an old group's files are now in two or more groups
    removed: int  # an old group none of whose files is in any group now
    kept_decisions: int  # reviewed groups carried over with the person's decisions

    def describe(self) -> str:
        """One sentence for a person, e.g. "12 groups (was 10): 8 unchanged, 2 new, 1 merged"."""
        parts = [f"{self.unchanged} unchanged"]
        for count, word in (
            (self.new, "new"),
            (self.grown, "grown"),
            (self.merged, "merged"),
            (self.shrunk, "shrunk"),
            (self.split, "split"),
            (self.removed, "removed"),
        ):
            if count:
                parts.append(f"{count} {word}")
        text = f"{_groups(self.after)} (was {self.before}): " + ", ".join(parts)
        if self.kept_decisions:
            text += f"; kept your decisions in {_groups(self.kept_decisions)}"
        return text


def _groups(n: int) -> str:
    return f"{n} group" if n == 1 else f"{n} groups"


def compare(old: Sequence[Group], new: Sequence[Group]) -> Changes:
    """Classify each new and old group against the other side by the files they share."""
    old_sets = [frozenset(m.record.path for m in g.members) for g in old]
    new_sets = [frozenset(m.record.path for m in g.members) for g in new]
    old_index = {paths: k for k, paths in enumerate(old_sets)}
    new_index = {paths: k for k, paths in enumerate(new_sets)}
    old_of = {path: k for k, paths in enumerate(old_sets) for path in paths}
    new_of = {path: k for k, paths in enumerate(new_sets) for path in paths}

    unchanged = new_count = grown = merged = 0
    for paths in new_sets:
        if paths in old_index:  # the same files exactly (most groups, usually)
            unchanged += 1
            continue
        sources = {old_of[p] for p in paths if p in old_of}
        if not sources:
            new_count += 1
        elif len(sources) > 1:
            merged += 1
        elif old_sets[next(iter(sources))] < paths:
            grown += 1
    shrunk = split = removed = 0
    for paths in old_sets:
        if paths in new_index:
            continue
        targets = {new_of[p] for p in paths if p in new_of}
        if not targets:
            removed += 1
        elif len(targets) > 1:
            split += 1
        elif new_sets[next(iter(targets))] < paths:
            shrunk += 1
    return Changes(
        before=len(old),
        after=len(new),
        unchanged=unchanged,
        new=new_count,
        grown=grown,
        merged=merged,
        shrunk=shrunk,
        split=split,
        removed=removed,
        kept_decisions=0,
    )


# Fewer bytes than any image takes in a schema-2 report (its path, hashes and check: about 600
# and up), or in an index (about 540).
_REPORT_BYTES_PER_IMAGE = 500


def read_to_regroup(path: str | Path, threshold: float | None = None) -> Report:
    """report.read with its index (every image, the checked pairs; raises IndexProblem when
    it cannot be used), while the grouping's compiled kernels load on a thread (about a second
    of CPU that would otherwise delay the first regroup; a report takes longer to read). Only
    for a report large enough to hold as many images as cluster.compiles() needs: a smaller
    one is grouped without them; and only when the regroup searches: at `threshold` (when
    known) within the pairs the index's search checked, cluster.cluster needs no kernel."""
    named = report_mod.named_index(Path(path))
    try:
        size = os.path.getsize(path)
        if named is not None:
            size += os.path.getsize(Path(path).parent / named)
    except OSError:  # report.read says what is wrong with it
        size = 0
    within = (
        threshold is not None
        and named is not None
        and _within_checked(Path(path).parent / named, threshold)
    )
    if within or not cluster.compiles(size // _REPORT_BYTES_PER_IMAGE):
        return report_mod.read(path, with_index=True)
    loading = threading.Thread(target=cluster.warm_up, name="dedupe-warm-up", daemon=True)
    loading.start()
    try:
        return report_mod.read(path, with_index=True)
    finally:
        loading.join()


def _within_checked(index: Path, threshold: float) -> bool:
    """Whether the index at `index` (the one the report names) holds checked pairs that cover
    `threshold` (by its meta alone; False when that cannot be read: the read says why)."""
    found = index_mod.search_radius(index)
    if found is None:
        return False
    hash_size, radius = found
    try:
        return Settings(hash_size=hash_size, threshold=threshold).max_distance <= radius
    except DedupeError:  # (a threshold the regroup refuses in words)
        return False


# From this many images a new search is announced before it starts (it takes seconds).
ANNOUNCE_SEARCH_FROM = 10_000


def searches_again(report: Report, threshold: float) -> bool:
    """Whether regrouping at `threshold` searches the images again: the report holds no
    checked pairs, or they were checked at a tighter threshold."""
    radius = replace(report.settings, threshold=threshold).max_distance
    return report.checked is None or report.checked.radius < radius


def regroup(
    report: Report,
    *,
    threshold: float | None = None,
    rules: KeepRules | None = None,
    distinct: frozenset[tuple[str, str]] = frozenset(),
    facts_for: Callable[[Sequence[ImageRecord]], Mapping[str, FileFacts]] | None = None,
    look: Look | None = None,
) -> tuple[Report, Changes]:
    """The report regrouped from its stored hashes at `threshold` with `rules` (None: as stored).

    `distinct` adds path pairs marked "not duplicates" to those the report already holds.
    `facts_for(records)` reads what the files of new groups carry (metadata.gather; None: they
    are taken to carry nothing); the files of the report's groups keep the facts it holds.
    `look`: the images' keypoints for the geometric check of pairs the report's search did not
    check (looks.Looks; it reads the files): without it the match decides alone; for a file
    that cannot be read, a pair the thumbnails cannot settle is no copy.
    """
    settings, rules, not_duplicates = _inputs(report, threshold, rules, distinct)
    # from the pairs the report's search checked when they cover the threshold (no search)
    found, groups, facts, kept = _grouped(
        report, report.images, report.checked, settings, rules, not_duplicates, facts_for, look
    )
    changes = replace(compare(report.groups, groups), kept_decisions=kept)
    return (
        replace(
            report,
            settings=settings,
            keep=rules,
            groups=tuple(groups),
            not_duplicates=not_duplicates,
            checked=found.checked,
            facts=_among(facts, groups),
            # new checked pairs (a looser search): a new index, with a new id, when written
            index=report.index if found.checked == report.checked else None,
        ),
        changes,
    )


def _inputs(
    report: Report,
    threshold: float | None,
    rules: KeepRules | None,
    distinct: frozenset[tuple[str, str]],
) -> tuple[Settings, KeepRules, frozenset[tuple[str, str]]]:
    """The settings, rules and "not duplicates" pairs a regroup of `report` works with (it
    refuses a report it cannot regroup)."""
    if not report.complete:
        raise report_mod.ReportError(
            "this report was read without its index (every image and the checked pairs), "
            "which regrouping needs: read it with report.read(path, with_index=True) "
            "(api.read_report(path, to_regroup=True))"
        )
    _refuse_old_signatures(report)
    settings = (
        report.settings if threshold is None else replace(report.settings, threshold=threshold)
    )
    rules = report.keep if rules is None else rules
    return settings, rules, report.not_duplicates | distinct


def _grouped(
    report: Report,
    records: Sequence[ImageRecord],
    checked: cluster.Checked | None,
    settings: Settings,
    rules: KeepRules,
    not_duplicates: frozenset[tuple[str, str]],
    facts_for: Callable[[Sequence[ImageRecord]], Mapping[str, FileFacts]] | None,
    look: Look | None,
) -> tuple[cluster.Clusters, list[Group], dict[str, FileFacts], int]:
    """The groups of `records` (the report's images, or some of them with `checked` the
    verdicts on their pairs: see first_groups) at `settings`: the clusters, the groups with
    their proposals (a reviewed group of the same files with the person's decisions), the
    facts of the files (the report's and those facts_for read) and how many groups kept
    decisions."""
    found = cluster.cluster(records, settings, distinct=not_duplicates, checked=checked, look=look)
    facts = dict(report.facts)
    if facts_for is not None:
        grouped = {m.record.path for g in report.groups for m in g.members}
        new = [records[k] for g in found.groups for k in g]
        new = [r for r in new if r.path not in grouped]
        if new:
            facts.update(facts_for(new))
    by_paths = {frozenset(m.record.path for m in g.members): g for g in report.groups}
    # A group of the same files keeps its proposal (reviewed or not: see below) when the rules
    # are the same and this version of dedupe proposed it.
    same_proposals = rules == report.keep and report.tool_version == __version__
    fresh = build_groups(
        records,
        settings,
        rules,
        distinct=not_duplicates,
        clusters=found,
        proposed=by_paths if same_proposals else None,
        facts=facts,
        look=look,
    )
    reviewed = {paths: g for paths, g in by_paths.items() if g.reviewed}
    groups = []
    kept = 0
    for group in fresh:
        # (the set of paths is only needed when some group was reviewed)
        before = reviewed.get(frozenset(m.record.path for m in group.members)) if reviewed else None
        if before is not None:
            group = replace(group, members=before.members, reviewed=True)
            kept += 1
        groups.append(group)
    return found, groups, facts, kept


# How many groups first_groups gives at least (when there are as many): more than a screen.
FIRST_GROUPS = 60


@dataclass(frozen=True, slots=True)
class FirstGroups:
    """The first groups of a regroup, as regroup() gives them (the same groups, ids and
    proposals, in its order), found without grouping the rest."""

    # the report at the new settings holding these groups alone (and their files' facts):
    # for showing them, never for writing
    report: Report
    every: bool  # whether these are all the groups there are


def first_groups(
    report: Report,
    *,
    threshold: float,
    rules: KeepRules | None = None,
    distinct: frozenset[tuple[str, str]] = frozenset(),
    facts_for: Callable[[Sequence[ImageRecord]], Mapping[str, FileFacts]] | None = None,
    look_for: Callable[[Sequence[ImageRecord]], Look] | None = None,
    count: int = FIRST_GROUPS,
) -> FirstGroups | None:
    """The first `count` groups (or more) regroup(report, threshold=...) gives, in its order,
    quickly: None when the regroup searches again (the report's checked pairs do not cover
    `threshold`), for which there is no short way. Arguments as for regroup (`look_for(records)`
    the Look of those records, for the pairs the search did not check).

    Within checked pairs a group is made of files connected by pairs within the threshold
    (checked, or byte copies; a tighter threshold can also join what was apart, through the
    anchors' checks): each connected set is grouped on its own exactly as among every image,
    and every group it gives comes after its first path in regroup's order (by first path).
    So the sets are grouped in the order of their first paths, a batch at a time, until
    `count` groups are known to come before any set left (a batch also takes the sets with
    files of no group in the folders of its own: see below)."""
    settings, rules, not_duplicates = _inputs(report, threshold, rules, distinct)
    records, checked, radius = report.images, report.checked, settings.max_distance
    if checked is None or checked.radius < radius:
        return None
    key, first = cluster.key_and_copies(records, settings)
    if checked.key != key:
        return None  # (another dedupe's verdicts: regroup searches again)
    n = len(records)
    copies = np.flatnonzero(first != np.arange(n))
    near = np.flatnonzero(checked.distance <= radius)
    label = cluster.component_labels(
        n, np.r_[checked.low[near], first[copies]], np.r_[checked.high[near], copies]
    )
    nodes = np.flatnonzero(np.bincount(label, minlength=n)[label] > 1)
    least: dict[int, bytes] = {}  # each set's first path, by its label
    members: dict[int, list[int]] = {}
    # The files of no group of the report, which facts_for reads, a folder at a time: what it
    # says of one can depend on the others of its folder in the call (sidecars by name), so
    # the sets with such files in one folder are grouped in one batch, as in one regroup.
    grouped = {os.fsencode(m.record.path) for g in report.groups for m in g.members}
    folders: dict[int, set[bytes]] = {}  # set -> the folders of its files in no group
    in_folder: dict[bytes, set[int]] = {}  # folder -> the sets with such files there
    for node, set_, path in zip(
        nodes.tolist(), label[nodes].tolist(), _path_bytes(records, nodes), strict=True
    ):
        if set_ not in least or path < least[set_]:
            least[set_] = path
        members.setdefault(set_, []).append(node)
        if facts_for is not None and path not in grouped:
            folder = path.rpartition(b"/")[0]
            folders.setdefault(set_, set()).add(folder)
            in_folder.setdefault(folder, set()).add(set_)
    sets = sorted(least, key=least.__getitem__)
    if not sets:  # no file has a copy within the threshold
        shown = replace(report, settings=settings, keep=rules, groups=(), facts={})
        return FirstGroups(replace(shown, not_duplicates=not_duplicates), every=True)
    found: list[Group] = []
    facts: dict[str, FileFacts] = {}
    taken: set[int] = set()
    done, batch = 0, max(count, 1)  # sets[:done] are taken
    while True:
        chosen = [set_ for set_ in sets[done:] if set_ not in taken][:batch]
        ahead = list(chosen)  # ... with the sets sharing a folder of files in no group
        while ahead:
            for folder in folders.get(ahead.pop(), ()):
                for other in in_folder[folder] - taken - set(chosen):
                    chosen.append(other)
                    ahead.append(other)
        taken.update(chosen)
        while done < len(sets) and sets[done] in taken:
            done += 1
        batch *= 2
        rows = np.array(sorted(k for set_ in chosen for k in members[set_]), np.int64)
        part = (
            list(records.records(rows.tolist()))
            if isinstance(records, ImageColumns)
            else [records[k] for k in rows.tolist()]
        )
        part_checked = checked.among(rows, cluster.records_key(part, settings))
        look = None if look_for is None else look_for(part)
        _, groups, part_facts, _ = _grouped(
            report, part, part_checked, settings, rules, not_duplicates, facts_for, look
        )
        found.extend(groups)
        facts.update(part_facts)
        found.sort(key=lambda g: order_key(g.members))
        # every set not taken comes after this first path
        bound = least[sets[done]] if done < len(sets) else None
        ready = [g for g in found if bound is None or order_key(g.members) < bound]
        if bound is None or len(ready) >= count:
            break
    first_ones = tuple(replace(g, id=k) for k, g in enumerate(ready, start=1))
    shown = replace(
        report,
        settings=settings,
        keep=rules,
        groups=first_ones,
        not_duplicates=not_duplicates,
        facts=_among(facts, first_ones),
    )
    return FirstGroups(shown, every=bound is None)


class ChangedOnDisk(DedupeError):
    """A file changed on disk while a regroup ran, between the reading of the first groups'
    facts and the whole regroup's: the groups shown first are not the regroup's. The message
    names the file and what changed."""


def changed_on_disk(first: Report, whole: Report) -> str | None:
    """What of the files of `first`'s groups (the first groups of a regroup) the whole
    regroup `whole` read otherwise from disk, in words (the first such file, by path): what
    the files carry (companions, the images of a capture, capture metadata) is all a regroup
    reads of them, and it is read twice, once for each. None when nothing differs."""
    paths = {m.record.path for g in first.groups for m in g.members}
    paths |= {m.record.path for g in whole.groups[: len(first.groups)] for m in g.members}
    for path in sorted(paths):
        before, after = first.facts.get(path, NO_FACTS), whole.facts.get(path, NO_FACTS)
        if before == after:
            continue
        was = {c.path: c for c in before.companions}
        now = {c.path: c for c in after.companions}
        if was != now:
            changed = sorted(set(was) ^ set(now)) or sorted(p for p in was if was[p] != now[p])
            what = f"its companion files changed: {', '.join(changed)}"
        elif before.twins != after.twins:
            what = "the other images of its capture (RAW and JPEG twins) changed"
        else:
            what = "its capture metadata (date taken, camera, GPS, editing software) changed"
        return f"{path} changed on disk while the regroup ran ({what})"
    return None


def _path_bytes(records: Sequence[ImageRecord], rows: npt.NDArray[np.int64]) -> list[bytes]:
    """The paths of records `rows` as bytes (from an index's column, building no record)."""
    if isinstance(records, ImageColumns):
        return records.paths.items(rows.tolist())
    return [os.fsencode(records[k].path) for k in rows.tolist()]


def _refuse_old_signatures(report: Report) -> None:
    """Refuse a report of schema 1 or 2 (its images inline): it was written by a dedupe
    older than the index, so its check signatures were made for rules this one's check does
    not follow (before check version 6 they say nothing of animations), and they would be
    judged by these rules all the same. Its groups are still reviewed and applied as made."""
    if report.read_version < report_mod.SCHEMA_VERSION:
        raise report_mod.ReportError(
            f"this report (schema {report.read_version}) was written by an older dedupe, "
            "whose check signatures this one's rules do not read: it cannot be regrouped nor "
            "given new keep rules (its groups can still be reviewed and applied as they are); "
            "run `dedupe scan` again to regroup"
        )


def _among(facts: Mapping[str, FileFacts], groups: Sequence[Group]) -> dict[str, FileFacts]:
    """The facts of the files of `groups` (a report keeps no others)."""
    return {
        m.record.path: facts[m.record.path]
        for g in groups
        for m in g.members
        if m.record.path in facts
    }


def repropose(report: Report, rules: KeepRules, look: Look | None = None) -> Report:
    """New keep rules without regrouping: fresh proposals for every group not yet reviewed.
    (Another choice for similar shots regroups from the checked pairs: keeping the sharpest
    splits a set of shots around it, see groups.py; `look` as for regroup.)"""
    if not report.complete:
        raise report_mod.ReportError(
            "this report was read without its index, which new keep rules need (the "
            "orientation hashes and check signatures): read it with to_regroup=True"
        )
    _refuse_old_signatures(report)
    if rules.bursts != report.keep.bursts and any(g.kind == "shots" for g in report.groups):
        return regroup(report, rules=rules, look=look)[0]

    def distance(a: ImageRecord, b: ImageRecord) -> int:
        return cluster.pair_distance(a, b, report.settings)

    groups = []
    for group in report.groups:
        if not group.reviewed and group.kind != "shots":  # shots: by rules.bursts alone
            members = policy.decide(
                [m.record for m in group.members], rules, distance, report.facts
            )
            group = replace(group, members=members)
        groups.append(group)
    return replace(report, keep=rules, groups=tuple(groups))
