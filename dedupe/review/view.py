"""Which groups the review lists, and in what order: filters (status, kind, folder, largest
distance, a path search) and a sort, as one value.

Pure: a `View` turns a `ReviewState` into the indices of the groups to list. The review keeps
that list as it is until the view changes, so that a group does not vanish from under the
cursor the moment it is decided.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal

from dedupe.review.facts import STATUS_WORDS, display_path
from dedupe.review.state import GroupReview, ReviewState

Sort = Literal["report", "frees", "distance", "closest", "files", "folder"]

# How each sort is named to the person, in the order the filter screen offers them.
SORTS: dict[str, str] = {
    "report": "report order",
    "frees": "most space freed first",
    "distance": "largest distance first",
    "closest": "smallest distance first",
    "files": "most files first",
    "folder": "by folder of the kept copy",
}
# The statuses a view can show ("any": all of them).
STATUSES = ("any", "pending", "reviewed", "apart")


@dataclass(frozen=True, slots=True)
class View:
    """What the group list shows. None (or "any", or "") means "no filter on this"."""

    status: str = "any"
    kind: str | None = None
    folder: str | None = None  # groups with a file in this folder or below
    max_distance: int | None = None  # groups whose largest distance is at most this
    search: str = ""  # groups with a file whose path contains this (any case)
    sort: str = "report"

    @property
    def filtered(self) -> bool:
        return (self.status, self.kind, self.folder, self.max_distance, self.search) != (
            "any",
            None,
            None,
            None,
            "",
        )

    @property
    def default(self) -> bool:
        return not self.filtered and self.sort == "report"

    def cleared(self) -> View:
        """No filter and no search (the sort stays)."""
        return View(sort=self.sort)

    def with_search(self, text: str) -> View:
        return replace(self, search=text.strip())

    def shows(self, group: GroupReview) -> bool:
        if self.status != "any" and group.status != self.status:
            return False
        if self.kind is not None and group.kind != self.kind:
            return False
        if self.max_distance is not None and group.largest_distance > self.max_distance:
            return False
        if self.folder is not None:
            base = os.path.join(self.folder, "")
            if not any(m.record.path.startswith(base) for m in group.members):
                return False
        if self.search:
            needle = self.search.casefold()
            if not any(needle in m.record.path.casefold() for m in group.members):
                return False
        return True

    def rows(self, state: ReviewState) -> tuple[int, ...]:
        """The indices (into state.groups) of the groups to list, in the view's order."""
        groups = state.groups
        shown = [k for k, group in enumerate(groups) if self.shows(group)]
        if self.sort == "frees":
            shown.sort(key=lambda k: -groups[k].reclaimable_bytes)
        elif self.sort == "distance":
            shown.sort(key=lambda k: -groups[k].largest_distance)
        elif self.sort == "closest":
            shown.sort(key=lambda k: groups[k].largest_distance)
        elif self.sort == "files":
            shown.sort(key=lambda k: -len(groups[k].members))
        elif self.sort == "folder":
            shown.sort(key=lambda k: folder_of(groups[k]))
        return tuple(shown)

    def describe(self, root: str) -> str:
        """The view in words, e.g. 'to review · exact · in a/b/ · "IMG_1" · most space freed'."""
        parts = []
        if self.status != "any":
            parts.append(STATUS_WORDS.get(self.status, self.status))
        if self.kind is not None:
            parts.append(f"kind {self.kind}")
        if self.folder is not None:
            parts.append(f"in {folder_words(self.folder, root)}")
        if self.max_distance is not None:
            parts.append(f"distance ≤ {self.max_distance}")
        if self.search:
            parts.append(f'path has "{self.search}"')
        if self.sort != "report":
            parts.append(SORTS.get(self.sort, self.sort))
        return " · ".join(parts) or "every group, report order"


def folder_of(group: GroupReview) -> str:
    """The folder of the group's pinned (kept) copy."""
    return os.path.dirname(group.members[group.reference].record.path)


def folders_of(path: str, root: str) -> list[str]:
    """The folders holding `path`, innermost first, up to the scanned folder (or "/")."""
    out = []
    folder = os.path.dirname(path)
    while folder:
        out.append(folder)
        if (root and os.path.normpath(folder) == os.path.normpath(root)) or (
            os.path.dirname(folder) == folder
        ):
            break
        folder = os.path.dirname(folder)
    return out


def folder_words(folder: str, root: str) -> str:
    """A folder as the review shows it: relative to the scanned folder, ending in '/'."""
    if root and os.path.normpath(folder) == os.path.normpath(root):
        return "the scanned folder"
    return display_path(os.path.join(folder, ""), root)


def count_words(shown: int, total: int) -> str:
    """ "40 of 2,000 groups"."""
    return f"{shown:,} of {total:,} {'group' if total == 1 else 'groups'}"
