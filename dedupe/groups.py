"""Records -> proposed groups: cluster them, then let the keep policy propose actions.

Used by `scan` for the first proposal and by `review --threshold` to regroup from stored
hashes without decoding any image.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from dedupe import cluster, companions, policy
from dedupe.gcpause import collector_paused
from dedupe.models import FileFacts, Group, GroupKind, ImageRecord, KeepRules, Settings


def build_groups(
    records: Sequence[ImageRecord],
    settings: Settings,
    rules: KeepRules,
    *,
    distinct: frozenset[tuple[str, str]] = frozenset(),
    clusters: cluster.Clusters | None = None,
    proposed: Mapping[frozenset[str], Group] | None = None,
    facts: Mapping[str, FileFacts] | None = None,
) -> tuple[Group, ...]:
    """Groups of duplicates with keep/trash proposals, in a stable order (by first path).
    `clusters`: cluster.cluster's result for these arguments, if already known (a memo).
    `proposed`: groups proposed before under the same rules, by their set of paths: a group of
    exactly those files takes its proposal from there instead of deciding it again.
    `facts`: what the grouped files carry (metadata.gather), for the keep rules; a group that is
    only the files of one capture (a RAW and its JPEG twin, rules.twins "together") is not a
    group of duplicates and is left out."""
    with collector_paused():  # a group is a few objects, a library's groups a great many
        return _build(records, settings, rules, distinct, clusters, proposed or {}, facts or {})


def one_capture(members: Sequence[ImageRecord], facts: Mapping[str, FileFacts]) -> bool:
    """Whether these files are all one capture (joined by their twins): not duplicates."""
    paths = [m.path for m in members]
    twin_of = {p: facts[p].twins for p in paths if p in facts}
    return len(companions.capture_units(paths, twin_of)) == 1


def _build(
    records: Sequence[ImageRecord],
    settings: Settings,
    rules: KeepRules,
    distinct: frozenset[tuple[str, str]],
    clusters: cluster.Clusters | None,
    proposed: Mapping[frozenset[str], Group],
    facts: Mapping[str, FileFacts],
) -> tuple[Group, ...]:
    found = (
        clusters if clusters is not None else cluster.cluster(records, settings, distinct=distinct)
    )

    def distance(a: ImageRecord, b: ImageRecord) -> int:
        return cluster.pair_distance(a, b, settings)

    drafts = []
    for indices, max_distance in zip(found.groups, found.max_distances, strict=True):
        members = [records[k] for k in indices]
        if facts and rules.twins == "together" and one_capture(members, facts):
            continue
        kind: GroupKind = (
            "exact" if len({m.fingerprint.digest for m in members}) == 1 else "similar"
        )
        before = proposed.get(frozenset(m.path for m in members)) if proposed else None
        decided = (
            before.members if before is not None else policy.decide(members, rules, distance, facts)
        )
        # the others follow the keeper in path order: the first path is one of the first two
        first = min(os.fsencode(m.record.path) for m in decided[:2])
        drafts.append((first, kind, max_distance, decided))
    drafts.sort(key=lambda d: d[0])
    return tuple(
        Group(id=k, kind=kind, max_distance=md, members=decided)
        for k, (_, kind, md, decided) in enumerate(drafts, start=1)
    )


def check_invariants(groups: Sequence[Group]) -> None:
    """Fail loudly on an impossible result: these are bugs, never user errors."""
    seen: set[str] = set()
    for group in groups:
        if len(group.members) < 2:
            raise AssertionError(f"group {group.id} has {len(group.members)} file(s)")
        if not any(m.action == "keep" for m in group.members):
            raise AssertionError(f"group {group.id} keeps no file")
        for member in group.members:
            if member.record.path in seen:
                raise AssertionError(f"{member.record.path} is in two groups")
            seen.add(member.record.path)
