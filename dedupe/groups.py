"""Records -> proposed groups: cluster them, then let the keep policy propose actions.

Used by `scan` for the first proposal and by `review --threshold` to regroup from stored
hashes without decoding any image.

The invariant that makes a proposal safe: every file proposed for trash forms a *verified
pair* with the file kept in its place (the same bytes, or a pair within the threshold that the
check in verify.py found to be one picture; for similar shots, two shots it found to be of one
scene). A union-find group can hold files that were joined through others (A~B, B~C); such a
group is split around its keeper until the invariant holds (see _split), and build_groups
asserts it before returning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from dedupe import cluster, companions, policy, verify
from dedupe.gcpause import collector_paused
from dedupe.looks import Look
from dedupe.models import FileFacts, Group, GroupKind, ImageRecord, KeepRules, Member, Settings


def build_groups(
    records: Sequence[ImageRecord],
    settings: Settings,
    rules: KeepRules,
    *,
    distinct: frozenset[tuple[str, str]] = frozenset(),
    clusters: cluster.Clusters | None = None,
    proposed: Mapping[frozenset[str], Group] | None = None,
    facts: Mapping[str, FileFacts] | None = None,
    look: Look | None = None,
) -> tuple[Group, ...]:
    """Groups of duplicates with keep/trash proposals, in a stable order (by first path).
    `clusters`: cluster.cluster's result for these arguments, if already known (a memo).
    `proposed`: groups proposed before under the same rules, by their set of paths: a group of
    exactly those files takes its proposal from there instead of deciding it again.
    `facts`: what the grouped files carry (metadata.gather), for the keep rules; a group that is
    only the files of one capture (a RAW and its JPEG twin, rules.twins "together") is not a
    group of duplicates and is left out.
    `look`: the records' keypoints for the geometric check (see cluster.cluster)."""
    with collector_paused():  # a group is a few objects, a library's groups a great many
        return _build(
            records, settings, rules, distinct, clusters, proposed or {}, facts or {}, look
        )


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
    look: Look | None,
) -> tuple[Group, ...]:
    found = (
        clusters
        if clusters is not None
        else cluster.cluster(records, settings, distinct=distinct, look=look)
    )

    def distance(a: ImageRecord, b: ImageRecord) -> int:
        return cluster.pair_distance(a, b, settings)

    copies, shots = verified_pairs(records, settings, found, distinct)
    # each member's record index, by the record (only those of groups: a report's index
    # builds no other record, see imagecols.py)
    index = {id(records[k]): k for g in (*found.groups, *found.shots) for k in g}

    # A group that is only the files of one capture (a RAW and its JPEG twin) is no group.
    clustered = [
        list(g)
        for g in found.groups
        if not (facts and rules.twins == "together" and one_capture([records[k] for k in g], facts))
    ]
    drafts: list[tuple[GroupKind, tuple[Member, ...]]] = []
    for members, decided in _split(
        clustered, records, settings, rules, distance, copies, proposed, facts, look
    ):
        kind: GroupKind = (
            "exact" if len({records[k].fingerprint.digest for k in members}) == 1 else "similar"
        )
        drafts.append((kind, decided))
    if found.shots:
        shot = sorted({k for indices in found.shots for k in indices})
        rows = verify.signature_array([records[k].fingerprint.check for k in shot])
        sharp = dict(zip(shot, verify.sharpness(rows).tolist(), strict=True))
        for indices in found.shots:
            for decided in _shot_groups(list(indices), records, rules, shots, sharp):
                drafts.append(("shots", decided))
    known = {frozenset(g): d for g, d in zip(found.groups, found.max_distances, strict=True)}
    groups = []
    for kind, decided in drafts:
        members_idx = frozenset(index[id(m.record)] for m in decided)
        largest = known.get(members_idx)
        if largest is None:  # a group split around its keeper, or similar shots
            largest = _largest(sorted(members_idx), records, settings)
        groups.append((order_key(decided), kind, largest, decided))
    groups.sort(key=lambda d: d[0])
    result = tuple(
        Group(id=k, kind=kind, max_distance=md, members=decided)
        for k, (_, kind, md, decided) in enumerate(groups, start=1)
    )
    pairs = {"similar": copies, "exact": copies, "shots": shots}
    for group in result:
        keeper = index[id(group.members[0].record)]
        for member in group.members[1:]:
            if member.action == "trash" and not _verified(
                keeper, index[id(member.record)], records, pairs[group.kind]
            ):
                raise AssertionError(
                    f"group {group.id}: {member.record.path} is proposed for trash but was "
                    f"never checked against the kept {group.members[0].record.path}"
                )
    return result


def order_key(members: Sequence[Member]) -> bytes:
    """What build_groups orders its groups by: their first path (as bytes). The others follow
    the keeper in path order, so the first path is one of the first two."""
    return min(os.fsencode(m.record.path) for m in members[:2])


def _largest(members: Sequence[int], records: Sequence[ImageRecord], settings: Settings) -> int:
    return cluster.group_max_distance([records[k] for k in members], settings)


Pairs = set[tuple[int, int]]


def verified_pairs(
    records: Sequence[ImageRecord],
    settings: Settings,
    found: cluster.Clusters,
    distinct: frozenset[tuple[str, str]] = frozenset(),
) -> tuple[Pairs, Pairs]:
    """The pairs (low, high record index) within the threshold that the check found to be one
    picture, and those it found to be two shots of one scene (not marked "not duplicates")."""
    checked = found.checked
    if checked is None:
        return set(), set()
    within = checked.distance <= settings.max_distance
    result: list[Pairs] = []
    for kind in (verify.COPY, verify.SHOTS):
        chosen = np.flatnonzero(within & (checked.kind == kind))
        pairs = set(zip(checked.low[chosen].tolist(), checked.high[chosen].tolist(), strict=True))
        if distinct and pairs:
            pairs = {(a, b) for a, b in pairs if not cluster.marked(records, a, b, distinct)}
        result.append(pairs)
    return result[0], result[1]


def _verified(a: int, b: int, records: Sequence[ImageRecord], pairs: Pairs) -> bool:
    """Whether records a and b form a verified pair: the same bytes, or a checked pair."""
    if records[a].fingerprint.digest == records[b].fingerprint.digest:
        return True
    return (min(a, b), max(a, b)) in pairs


def _components(
    members: Sequence[int], records: Sequence[ImageRecord], pairs: Pairs
) -> list[list[int]]:
    """The sets of `members` connected by verified pairs (or equal bytes), each in order."""
    uf = cluster.UnionFind(len(members))
    at = {m: k for k, m in enumerate(members)}
    by_digest: dict[str, int] = {}
    for k, m in enumerate(members):
        first = by_digest.setdefault(records[m].fingerprint.digest, k)
        if first != k:
            uf.union(first, k)
    if len(members) * len(members) < len(pairs):  # few members: look their pairs up
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = members[x], members[y]
                if (min(a, b), max(a, b)) in pairs:
                    uf.union(x, y)
    else:
        for a, b in pairs:
            if a in at and b in at:
                uf.union(at[a], at[b])
    return [[members[k] for k in part] for part in uf.components()]


def _split(
    components: list[list[int]],
    records: Sequence[ImageRecord],
    settings: Settings,
    rules: KeepRules,
    distance: policy.Distance,
    pairs: Pairs,
    proposed: Mapping[frozenset[str], Group],
    facts: Mapping[str, FileFacts],
    look: Look | None = None,
) -> list[tuple[list[int], tuple[Member, ...]]]:
    """Union-find groups as groups in which each file forms a verified pair with the keeper.
    A file that joined through others is checked against the keeper directly (whatever their
    hash distance; cluster.copies_of), all such pairs of a round at once; a file that is not
    one picture with the keeper is split off, and the files split off (connected among
    themselves) are grouped the same way in the next round. `pairs` gains the pairs found."""
    done: list[tuple[list[int], tuple[Member, ...]]] = []
    pending = [part for part in components if len(part) >= 2]
    while pending:
        decisions = []
        for part in pending:
            before = proposed.get(frozenset(records[k].path for k in part)) if proposed else None
            if before is not None and before.reviewed:
                before = None  # a person's choice: regroup puts it back (see regroup.regroup)
            decided = (
                before.members
                if before is not None
                else policy.decide([records[k] for k in part], rules, distance, facts)
            )
            at = {id(records[k]): k for k in part}
            decisions.append((part, decided, at[id(decided[0].record)]))
        ask = sorted(
            {
                (min(keeper, k), max(keeper, k))
                for part, _, keeper in decisions
                for k in part
                if k != keeper and not _verified(keeper, k, records, pairs)
            }
        )
        for pair, same in zip(ask, cluster.copies_of(records, ask, settings, look), strict=True):
            if same:
                pairs.add(pair)
        pending = []
        for part, decided, keeper in decisions:
            stay = [k for k in part if k == keeper or _verified(keeper, k, records, pairs)]
            if len(stay) == len(part):
                done.append((part, decided))
                continue
            if len(stay) >= 2:
                done.append(
                    (stay, policy.decide([records[k] for k in stay], rules, distance, facts))
                )
            left = set(stay)
            rest = [k for k in part if k not in left]
            pending.extend(c for c in _components(rest, records, pairs) if len(c) >= 2)
    return done


def _shot_groups(
    members: list[int],
    records: Sequence[ImageRecord],
    rules: KeepRules,
    pairs: Pairs,
    sharp: Mapping[int, int],
) -> list[tuple[Member, ...]]:
    """Similar shots as groups around the sharpest shot and its checked shots (the others
    split off and grouped the same way): every file kept, or with rules.bursts ==
    "keep-sharpest" all but the sharpest proposed for trash."""
    found: list[tuple[Member, ...]] = []
    pending = [members]
    while pending:
        part = pending.pop()
        if len(part) < 2:
            continue
        keeper = max(part, key=lambda k: (sharp[k], -k))
        stay = [k for k in part if k == keeper or _verified(keeper, k, records, pairs)]
        if len(stay) >= 2:
            others = [records[k] for k in stay if k != keeper]
            if rules.bursts == "keep-sharpest":
                found.append(policy.keep_sharpest(records[keeper], others, rules))
            else:
                found.append(policy.keep_all_shots([records[keeper], *others]))
        rest = [k for k in part if k not in set(stay)]
        pending.extend(_components(rest, records, pairs))
    return found


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
