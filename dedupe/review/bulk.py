"""Bulk actions of the review: accept the proposals of many groups at once (all of them, one
kind, one folder, the closest matches, the groups the list shows) or skip the rest.

Pure: `choices` lists what each bulk action would do to a `ReviewState` (which groups, how many
files go to the trash, the bytes freed) and `perform` does it. Every bulk action acts only on
the groups still untouched (not reviewed, no decision by the person): what someone decided
by hand is never overwritten in bulk. Each one is a single undo step.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from dedupe.review.facts import plural
from dedupe.review.state import GroupReview, ReviewState
from dedupe.review.view import folder_words
from dedupe.text import human_bytes

Verb = Literal["accept", "skip"]

# The kind whose groups are byte-identical files: offered first, as the safest to accept.
EXACT = "exact"


@dataclass(frozen=True, slots=True)
class Choice:
    """One bulk action and exactly what it would do."""

    key: str  # "kind:exact", "folder", "distance", "shown", "all", "skip"
    title: str  # what the menu says
    verb: Verb
    indices: tuple[int, ...]  # the untouched groups it acts on
    trash: int  # accept: files it marks trash; skip: files proposed for trash it keeps
    freed: int  # accept: bytes freed by those files; skip: bytes they would have freed
    detail: str = ""  # a few more words for the confirmation

    @property
    def groups(self) -> int:
        return len(self.indices)

    def counts(self) -> str:
        """ "812 groups · 1,020 to trash · 1.1 GB" (the menu's right-hand column)."""
        if self.verb == "skip":
            return f"{self.groups:,} groups · {self.trash:,} files stay"
        return f"{self.groups:,} groups · {self.trash:,} to trash · {human_bytes(self.freed)}"

    def confirmation(self) -> str:
        """The question asked before the action runs: what it does, in numbers."""
        if not self.indices:
            return "No group still to review fits this: there is nothing to do."
        groups = plural(self.groups, "group")
        if self.verb == "skip":
            head = (
                f"Keep every file of the {groups} still to review? "
                f"{plural(self.trash, 'file')} proposed for trash ({human_bytes(self.freed)}) "
                "will stay where they are, and these groups count as reviewed."
            )
        else:
            detail = f" {self.detail}" if self.detail else " still to review"
            head = (
                f"Accept the proposals of {groups}{detail}? "
                f"{plural(self.trash, 'file')} will be marked trash, freeing "
                f"{human_bytes(self.freed)}; every group keeps at least one file."
            )
        return (
            f"{head}\nGroups you already reviewed or changed are left as they are. Nothing is "
            "deleted until `dedupe apply`, and u undoes this in one step."
        )


def untouched(state: ReviewState) -> list[int]:
    """The indices of the groups still as loaded (what every bulk action acts on)."""
    return [k for k, g in enumerate(state.groups) if g.untouched and not g.dissolved]


def kinds(state: ReviewState) -> list[str]:
    """The group kinds in the report: exact copies first, then the others as they come."""
    seen = dict.fromkeys(g.kind for g in state.groups)
    return sorted(seen, key=lambda kind: kind != EXACT)


def trashed_under(group: GroupReview, folder: str) -> bool:
    """True when the group trashes something and every file it trashes is in `folder`."""
    base = os.path.join(folder, "")
    trash = [m.record.path for m in group.remaining if m.action == "trash"]
    return bool(trash) and all(path.startswith(base) for path in trash)


def choices(
    state: ReviewState,
    *,
    folder: str | None = None,
    distance: int = 0,
    shown: Sequence[int] | None = None,
) -> list[Choice]:
    """Every bulk action on this state, in the order the menu lists them.

    `folder`: the folder for "copies to trash all in this folder" (none: not offered);
    `distance`: the largest distance for "the closest matches"; `shown`: the indices the
    list shows when a filter is on (none: not offered).
    """
    groups = state.groups
    candidates = untouched(state)

    def accept(key: str, title: str, indices: Sequence[int], detail: str = "") -> Choice:
        return Choice(
            key,
            title,
            "accept",
            tuple(indices),
            sum(groups[k].trash_count for k in indices),
            sum(groups[k].reclaimable_bytes for k in indices),
            detail,
        )

    out = []
    for kind in kinds(state):
        members = [k for k in candidates if groups[k].kind == kind]
        if kind == EXACT:
            title, detail = "accept the exact copies", "of exact copies (byte-identical files)"
        else:
            title, detail = f'accept the "{kind}" groups', f'of kind "{kind}"'
        out.append(accept(f"kind:{kind}", title, members, detail))
    if folder is not None:
        where = folder_words(folder, state.root)
        members = [k for k in candidates if trashed_under(groups[k], folder)]
        title = f"accept the groups whose copies to trash are all in {where}"
        out.append(accept("folder", title, members, f"whose copies to trash are all in {where}"))
    members = [k for k in candidates if groups[k].largest_distance <= distance]
    out.append(
        accept(
            "distance",
            f"accept the closest matches: largest distance ≤ {distance}",
            members,
            f"at largest distance {distance} or less",
        )
    )
    if shown is not None:
        wanted = set(shown)
        members = [k for k in candidates if k in wanted]
        out.append(accept("shown", "accept the groups the list shows", members, "the list shows"))
    out.append(accept("all", "accept every proposal still to review", candidates))
    out.append(
        Choice(
            "skip",
            "skip the rest: keep every file of the groups still to review",
            "skip",
            tuple(candidates),
            sum(groups[k].trash_count for k in candidates),
            sum(groups[k].reclaimable_bytes for k in candidates),
        )
    )
    return out


def perform(state: ReviewState, choice: Choice) -> ReviewState:
    """Do the bulk action (one undo step)."""
    if choice.verb == "skip":
        return state.skip_many(choice.indices)
    return state.confirm_many(choice.indices)
