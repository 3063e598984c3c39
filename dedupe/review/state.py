"""The decisions of a review: toggles, keep-only, keep-all, accept, not-duplicates, bulk
accept and skip, undo.

Pure: no I/O and no terminal. Every operation returns a new `ReviewState` or raises `Refused`
with a sentence for the person. No operation can leave a group whose files are all marked
trash: the last kept copy cannot be toggled, and a group that loses its kept copy by a
"not duplicates" mark gets the keep policy's proposal for the files that are left.

A file's decision comes either from the *basis* (the report as loaded, or the policy's proposal
once accepted) or from the person (`GroupReview.user`); reasons are rewritten from those two so
that they stay true when the kept copy changes ("marked keep by you", "proposed for trash; you
now keep b.jpg").

A bulk operation (`confirm_many`, `skip_many`) changes many groups at once and is one step of
the undo history: `undo` puts every group it changed back together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from dedupe import cluster, policy
from dedupe.groups import check_invariants
from dedupe.models import (
    Action,
    FileFacts,
    Group,
    GroupKind,
    ImageRecord,
    KeepRules,
    Member,
    Settings,
)
from dedupe.report import Report
from dedupe.review.facts import common_root, display_path

Status = Literal["pending", "reviewed", "apart"]
Distance = Callable[[ImageRecord, ImageRecord], int]

# How the person decided a file (the value in GroupReview.user).
_USER_KEEP = "keep"  # toggled to keep
_USER_TRASH = "trash"  # toggled to trash, or trashed by "keep only"
_USER_CHOSEN = "chosen"  # "keep only this one"
_USER_ALL = "all"  # "keep all"
_USER_SKIPPED = "skipped"  # "skip the rest": every file kept without a look

APART_REASON = "not a duplicate of the others (marked by you)"


class Refused(Exception):
    """The operation would break a rule; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class GroupReview:
    """One group under review: what was loaded, the current decisions, and how they came about."""

    group: Group  # as loaded: id, kind, largest distance, files in display order
    members: tuple[Member, ...]  # current decisions, same files and order as group.members
    basis: tuple[Member, ...]  # decisions the person has not overridden (loaded or accepted)
    user: Mapping[str, str] = field(default_factory=dict)  # path -> how the person decided
    apart: frozenset[str] = frozenset()  # paths marked "not a duplicate of the others"
    reviewed: bool = False

    @classmethod
    def load(cls, group: Group) -> GroupReview:
        return cls(group, group.members, group.members, reviewed=group.reviewed)

    @property
    def id(self) -> int:
        return self.group.id

    @property
    def remaining(self) -> tuple[Member, ...]:
        """The files still in the group (not marked "not a duplicate")."""
        if not self.apart:
            return self.members
        return tuple(m for m in self.members if m.record.path not in self.apart)

    @property
    def dissolved(self) -> bool:
        """True when marks left fewer than two files: the group is no longer a group."""
        return len(self.members) - len(self.apart) < 2

    @property
    def status(self) -> Status:
        if self.dissolved:
            return "apart"
        return "reviewed" if self.reviewed else "pending"

    @property
    def reclaimable_bytes(self) -> int:
        if self.dissolved:
            return 0
        return sum(m.record.size for m in self.remaining if m.action == "trash")

    @property
    def trash_count(self) -> int:
        if self.dissolved:
            return 0
        return sum(1 for m in self.remaining if m.action == "trash")

    @property
    def largest_distance(self) -> int:
        return self.group.max_distance

    @property
    def kind(self) -> str:
        return self.group.kind

    @property
    def untouched(self) -> bool:
        """Still exactly as loaded: not reviewed, and no decision or mark by the person."""
        return not self.reviewed and not self.user and not self.apart

    @property
    def reference(self) -> int:
        """The index of the copy the others are compared with (the one the review pins): the
        file the person chose to keep, else the first kept file left in the group."""
        best = None
        for k, member in enumerate(self.members):
            path = member.record.path
            if path in self.apart or member.action != "keep":
                continue
            if self.user.get(path) == _USER_CHOSEN:
                return k
            if best is None:
                best = k
        return 0 if best is None else best

    def index_of(self, path: str) -> int:
        for k, member in enumerate(self.members):
            if member.record.path == path:
                return k
        raise KeyError(path)


@dataclass(frozen=True, slots=True)
class ReviewState:
    """All groups under review, the rules and settings in force, and the undo history."""

    groups: tuple[GroupReview, ...]
    settings: Settings
    rules: KeepRules
    root: str = ""  # paths in reasons are shown relative to it
    # One entry per change, oldest first: the groups it replaced, as (index, group before).
    history: tuple[tuple[tuple[int, GroupReview], ...], ...] = ()
    baseline: tuple[GroupReview, ...] = ()  # the groups as last loaded or saved
    # What the files carry (sidecars, twins, metadata), for the keep rules' proposals.
    facts: Mapping[str, FileFacts] = field(default_factory=dict)

    @classmethod
    def start(cls, report: Report, rules: KeepRules | None = None) -> ReviewState:
        groups = tuple(GroupReview.load(g) for g in report.groups)
        return cls(
            groups=groups,
            settings=report.settings,
            rules=report.keep if rules is None else rules,
            root=common_root(report.roots),
            baseline=groups,
            facts=report.facts,
        )

    # ------------------------------------------------------------ queries

    @property
    def unsaved(self) -> bool:
        return self.groups != self.baseline

    @property
    def changed_count(self) -> int:
        """Groups whose decisions differ from the last save (or the report as loaded)."""
        return sum(1 for a, b in zip(self.groups, self.baseline, strict=True) if a != b)

    @property
    def reviewed_count(self) -> int:
        return sum(1 for g in self.groups if g.status != "pending")

    @property
    def trash_count(self) -> int:
        return sum(g.trash_count for g in self.groups)

    @property
    def reclaimable_bytes(self) -> int:
        return sum(g.reclaimable_bytes for g in self.groups)

    def distance(self, a: ImageRecord, b: ImageRecord) -> int:
        return cluster.pair_distance(a, b, self.settings)

    def name(self, path: str) -> str:
        return display_path(path, self.root)

    def protected_by(self, path: str) -> str | None:
        return policy.is_under(path, self.rules.protect)

    def proposal(self, index: int) -> tuple[Member, ...]:
        """What the keep rules propose for the files left in group `index`, in display order."""
        group = self.groups[index]
        remaining = group.remaining
        if len(remaining) < 2:
            return remaining
        decided = {
            m.record.path: m
            for m in policy.decide(
                [m.record for m in remaining], self.rules, self.distance, self.facts
            )
        }
        return tuple(decided[m.record.path] for m in remaining)

    def pairs(self) -> frozenset[tuple[str, str]]:
        """Every (sorted) path pair marked "not duplicates" in this review."""
        found: set[tuple[str, str]] = set()
        for group in self.groups:
            paths = [m.record.path for m in group.members]
            for a in group.apart:
                for b in paths:
                    if a != b:
                        found.add((min(a, b), max(a, b)))
        return frozenset(found)

    def to_report(self, report: Report) -> Report:
        """The report with this review's decisions: what `apply` will act on."""
        groups = []
        for review in self.groups:
            # Kept files first (as a scan writes them), otherwise in the order shown.
            remaining = tuple(sorted(review.remaining, key=lambda m: m.action != "keep"))
            if len(remaining) < 2:
                continue
            records = [m.record for m in remaining]
            # Exact or similar follows the files left; any other kind (a kind this review does
            # not know) stays as the scan named it.
            kind: GroupKind = review.group.kind
            if kind in ("exact", "similar"):
                same = len({r.fingerprint.digest for r in records}) == 1
                kind = "exact" if same else "similar"
            largest = (
                cluster.group_max_distance(records, self.settings)
                if review.apart
                else review.group.max_distance
            )
            groups.append(Group(review.id, kind, largest, remaining, reviewed=review.reviewed))
        check_invariants(groups)
        return replace(
            report,
            groups=tuple(groups),
            settings=self.settings,
            keep=self.rules,
            not_duplicates=report.not_duplicates | self.pairs(),
        )

    def saved(self) -> ReviewState:
        """The same state, with the current decisions as the saved baseline."""
        return replace(self, baseline=self.groups)

    # ------------------------------------------------------------ operations

    def toggle(self, index: int, path: str) -> ReviewState:
        """Flip one file between keep and trash."""
        group = self._editable(index)
        member = group.members[group.index_of(path)]
        if member.record.path in group.apart:
            raise Refused(
                f"{self.name(path)} is marked not a duplicate; press x to put it back first"
            )
        if member.action == "keep":
            protected = self.protected_by(path)
            if protected is not None:
                raise Refused(f"{self.name(path)} is under protected folder {protected}")
            if sum(1 for m in group.remaining if m.action == "keep") == 1:
                raise Refused(
                    f"{self.name(path)} is the only kept copy of group {group.id}: "
                    "keep another file first (or press o on the one to keep)"
                )
            how = _USER_TRASH
        else:
            how = _USER_KEEP
        return self._put(index, replace(group, user={**group.user, path: how}, reviewed=True))

    def keep_only(self, index: int, path: str) -> ReviewState:
        """Keep this file and trash every other file of the group (protected files stay)."""
        group = self._editable(index)
        if path in group.apart:
            raise Refused(
                f"{self.name(path)} is marked not a duplicate; press x to put it back first"
            )
        user = dict(group.user)
        for member in group.remaining:
            other = member.record.path
            if other == path:
                user[other] = _USER_CHOSEN
            elif self.protected_by(other) is None:
                user[other] = _USER_TRASH
            else:
                user.pop(other, None)  # protected: stays kept, as the basis says
        return self._put(index, replace(group, user=user, reviewed=True))

    def keep_all(self, index: int) -> ReviewState:
        group = self._editable(index)
        user = dict(group.user)
        for member in group.remaining:
            user[member.record.path] = _USER_ALL
        return self._put(index, replace(group, user=user, reviewed=True))

    def accept(self, index: int) -> ReviewState:
        """Take the keep rules' proposal for the files left in the group; mark it reviewed.

        A group still as the scan left it keeps the proposal it was loaded with (the one on
        screen), whatever its kind."""
        group = self.groups[index]
        if group.untouched:
            return self.confirm(index)
        proposal = {m.record.path: m for m in self.proposal(index)}
        basis = tuple(proposal.get(m.record.path, m) for m in group.members)
        return self._put(index, replace(group, basis=basis, user={}, reviewed=True))

    def confirm(self, index: int) -> ReviewState:
        """Mark the group reviewed with its decisions as they stand."""
        group = self.groups[index]
        if group.reviewed:
            return self
        return self._put(index, replace(group, reviewed=True))

    def set_apart(self, index: int, path: str) -> ReviewState:
        """Mark one file "not a duplicate of the others" (or put it back when already marked)."""
        group = self.groups[index]
        group.index_of(path)
        apart = group.apart ^ {path}
        return self._put(index, replace(group, apart=apart, reviewed=True))

    def all_apart(self, index: int) -> ReviewState:
        """Mark the whole group "not duplicates" (or put every file back when some are marked)."""
        group = self.groups[index]
        if group.apart:
            apart: frozenset[str] = frozenset()
        else:
            apart = frozenset(m.record.path for m in group.members)
        return self._put(index, replace(group, apart=apart, reviewed=True))

    def confirm_many(self, indices: Iterable[int]) -> ReviewState:
        """Bulk accept: every group among `indices` that is still untouched is marked reviewed
        with the proposal it was loaded with. Groups the person already decided stay as they
        are. One undo step."""
        changed = {}
        for index in indices:
            group = self.groups[index]
            if group.untouched:
                changed[index] = replace(group, reviewed=True)
        return self._put_many(changed, refresh=False)

    def skip_many(self, indices: Iterable[int]) -> ReviewState:
        """Skip: every file of each untouched group among `indices` is kept (nothing in it goes
        to the trash) and the group counts as reviewed. One undo step."""
        changed = {}
        for index in indices:
            group = self.groups[index]
            if group.untouched and not group.dissolved:
                user = {m.record.path: _USER_SKIPPED for m in group.members}
                changed[index] = replace(group, user=user, reviewed=True)
        return self._put_many(changed)

    @property
    def last_change(self) -> tuple[int, ...]:
        """The indices of the groups the next undo puts back (empty: nothing to undo)."""
        return tuple(index for index, _ in self.history[-1]) if self.history else ()

    def undo(self) -> tuple[ReviewState, int]:
        """Undo the last change (a bulk change as a whole); returns the new state and the index
        of the first group it put back."""
        if not self.history:
            raise Refused("nothing to undo")
        step = self.history[-1]
        groups = list(self.groups)
        for index, previous in step:
            groups[index] = previous
        return replace(self, groups=tuple(groups), history=self.history[:-1]), step[0][0]

    # ------------------------------------------------------------ internals

    def _editable(self, index: int) -> GroupReview:
        group = self.groups[index]
        if group.dissolved:
            raise Refused(
                f"group {group.id} is marked not duplicates; press X to put its files back"
            )
        return group

    def _put(self, index: int, group: GroupReview) -> ReviewState:
        return self._put_many({index: group})

    def _put_many(self, changed: Mapping[int, GroupReview], *, refresh: bool = True) -> ReviewState:
        """The state with these groups replaced (recomputed first), as one step of history."""
        groups = list(self.groups)
        step = []
        for index, group in sorted(changed.items()):
            if refresh:
                group = self._refresh(group)
            if group != groups[index]:
                step.append((index, groups[index]))
                groups[index] = group
        if not step:
            return self
        return replace(self, groups=tuple(groups), history=self.history + (tuple(step),))

    def _refresh(self, group: GroupReview) -> GroupReview:
        """Recompute every file's action, reason and distance from the basis and the person's
        choices, re-proposing when the files left in the group would have no kept copy."""
        user = dict(group.user)
        basis = group.basis
        remaining = [m for m in basis if m.record.path not in group.apart]

        def action_of(member: Member) -> Action:
            how = user.get(member.record.path)
            if how is None:
                return member.action
            return "trash" if how == _USER_TRASH else "keep"

        if len(remaining) >= 2 and not any(action_of(m) == "keep" for m in remaining):
            # The kept copy left the group: the rules choose again among the files left.
            decided = {
                m.record.path: m
                for m in policy.decide(
                    [m.record for m in remaining], self.rules, self.distance, self.facts
                )
            }
            basis = tuple(decided.get(m.record.path, m) for m in basis)
            for path in decided:
                user.pop(path, None)
            remaining = [m for m in basis if m.record.path not in group.apart]

        # The copy others are measured against: the one the person chose, else the first kept.
        kept = sorted(
            (m for m in remaining if action_of(m) == "keep"),
            key=lambda m: user.get(m.record.path) != _USER_CHOSEN,
        )
        reference = kept[0].record if kept else (remaining[0].record if remaining else None)
        basis_keeper = next((m for m in remaining if m.action == "keep"), None)
        keeper_gone = basis_keeper is None or action_of(basis_keeper) != "keep"
        lonely = len(remaining) < 2
        members = []
        for member in basis:
            record = member.record
            distance = 0 if reference is None else self.distance(reference, record)
            how = user.get(record.path)
            if record.path in group.apart:
                members.append(Member(record, distance, "keep", APART_REASON))
            elif lonely:
                members.append(Member(record, distance, "keep", "the only file left in the group"))
            elif how is not None:
                reason = self._user_reason(how, reference)
                members.append(Member(record, distance, action_of(member), reason))
            elif member.action == "trash" and keeper_gone and reference is not None:
                reason = f"proposed for trash; you now keep {self.name(reference.path)}"
                members.append(Member(record, distance, "trash", reason))
            else:
                members.append(Member(record, distance, member.action, member.reason))
        return replace(group, members=tuple(members), basis=basis, user=user)

    def _user_reason(self, how: str, reference: ImageRecord | None) -> str:
        if how == _USER_KEEP:
            return "marked keep by you"
        if how == _USER_CHOSEN:
            return "chosen by you as the copy to keep"
        if how == _USER_ALL:
            return "kept: you chose to keep every file of this group"
        if how == _USER_SKIPPED:
            return "kept: skipped in the review (every file of this group is kept)"
        keeping = f"; keeping {self.name(reference.path)}" if reference is not None else ""
        return f"marked trash by you{keeping}"
