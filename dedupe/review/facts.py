"""The facts a person sees about one file of a group, as text: the same words in the Textual
review, the plain report and the HTML page.

Dates are shown in UTC ("YYYY-MM-DD HH:MM"), like the keep policy's reasons, so the date
column and a reason such as "keeps the older file (modified ...)" always agree. A date taken
from EXIF is the camera's own clock and is shown as recorded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone

from dedupe import policy
from dedupe.models import FileFacts, Group, ImageRecord
from dedupe.report import Report
from dedupe.text import human_bytes, printable

# What the review calls each status of a group (see state.GroupReview.status).
STATUS_WORDS = {
    "pending": "to review",
    "reviewed": "reviewed",
    "apart": "not duplicates",
}


def resolution(record: ImageRecord) -> str:
    return f"{record.fingerprint.width}x{record.fingerprint.height}"


def date(record: ImageRecord) -> tuple[str, str]:
    """(when, what): the EXIF date taken when the file has one, else its modification time."""
    taken = record.fingerprint.taken_at
    if taken:
        try:
            return datetime.fromisoformat(taken).strftime("%Y-%m-%d %H:%M"), "taken"
        except ValueError:
            pass
    when = datetime.fromtimestamp(record.mtime_ns / 1e9, tz=timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M"), "modified"


def common_root(roots: Sequence[str]) -> str:
    """The folder paths are shown relative to: the scanned folder, or the one holding them all."""
    if not roots:
        return ""
    try:
        common = os.path.commonpath(list(roots))
    except ValueError:  # mixed absolute/relative or different drives
        return ""
    # Relative to "/" would read as a relative path: show full paths instead.
    return "" if common == os.path.dirname(common) else common


def display_path(path: str, root: str) -> str:
    """`path` relative to `root` when it lies under it, else the full path; always printable."""
    if root:
        base = os.path.join(root, "")
        if path.startswith(base):
            return printable(path[len(base) :])
    return printable(path)


# How each kind of group is named to a person.
KIND_WORDS = {"exact": "exact", "similar": "similar", "shots": "similar shots (kept)"}


def group_title(group: Group, status: str, *, frees: int | None = None, position: str = "") -> str:
    """ "Group 3 · similar · 2 files · largest distance 4 · frees 1.2 MB · to review"."""
    frees = group.reclaimable_bytes if frees is None else frees
    return " · ".join(
        (
            f"Group {group.id}{position}",
            KIND_WORDS.get(group.kind, group.kind),
            plural(len(group.members), "file"),
            f"largest distance {group.max_distance}",
            f"frees {human_bytes(frees)}",
            STATUS_WORDS.get(status, status),
        )
    )


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def totals(report: Report) -> str:
    """One line: groups (reviewed), files, files to trash, bytes reclaimable, problems."""
    groups = report.groups
    reviewed = sum(1 for g in groups if g.reviewed)
    files = sum(len(g.members) for g in groups)
    parts = [
        f"{plural(len(groups), 'group')} ({reviewed} reviewed)",
        plural(files, "file"),
        f"{report.duplicates} to trash",
        f"{human_bytes(report.reclaimable_bytes)} reclaimable",
    ]
    if report.errors:
        parts.append(f"{len(report.errors)} unreadable")
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    return " · ".join(parts)


def camera_name(make: str | None, model: str | None) -> str:
    """The camera as people name it: "Canon EOS 40D", not "Canon Canon EOS 40D" (most models
    repeat the make; "NIKON CORPORATION" + "NIKON D750" is "NIKON D750")."""
    make, model = (make or "").strip(), (model or "").strip()
    if not model:
        return make
    brand = make.split()[0].lower() if make else ""
    if not make or (brand and model.lower().startswith(brand)):
        return model
    return f"{make} {model}"


def unit_lines(facts: FileFacts, path: str) -> list[str]:
    """What a file carries besides its pixels, a line each (none when it carries nothing):
    its Live Photo motion part, sidecars, capture twins, capture metadata and whether it looks
    like a camera original (the facts the `sidecar`, `metadata` and `original` rules weigh)."""
    lines = []
    motion = [os.path.basename(c.path) for c in facts.motion]
    if motion:
        lines.append(f"Live Photo: {', '.join(printable(m) for m in motion)}")
    sidecars = [f"{os.path.basename(c.path)} ({c.role})" for c in facts.sidecars]
    if sidecars:
        lines.append(f"sidecars: {', '.join(printable(s) for s in sidecars)}")
    if facts.twins:
        twins = ", ".join(printable(os.path.basename(t)) for t in facts.twins)
        lines.append(f"one capture with {twins}")
    m = facts.metadata
    found = list(policy.metadata_facts(facts))
    if m.orientation is not None:  # shown, though the metadata rule does not count it
        found.append("orientation")
    if found:
        camera = camera_name(m.make, m.model)
        words = [f"camera {camera}" if w == "camera" and camera else w for w in found]
        lines.append("metadata: " + printable(", ".join(words)))
    editor = policy.edited_by(facts)
    signs = policy.original_signs(path, facts)
    if editor:
        lines.append(f"edited with {printable(editor)}")
    elif len(signs) == 3:
        lines.append("camera original (" + ", ".join(signs) + ")")
    return lines
