"""What a scan passes over: hidden files and folders and the folders that are never a photo
library (trash, thumbnail caches, NAS and system metadata, dedupe's own `--move` targets), and
what the user leaves out (`--exclude`, `--min-size`, `--max-size`, `--max-depth`,
`--one-file-system`).

A folder passed over is never entered: it costs one directory entry, however much it holds.
The roots themselves are never passed over (naming a folder scans it, whatever it is), and
`Selection(passed_by_default=False)` (`--include-hidden`) keeps only what the user asked for.

`--exclude` patterns are gitignore patterns (through pathspec), matched against each path
relative to the root it was found under, with `/` between folders: `*.png`, `raw/`,
`/Exports`, `**/tmp/**`, `!keep.png`. As in git, a file inside an excluded folder cannot be
brought back by a `!` pattern (the folder is not entered).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dedupe.errors import UsageError
from dedupe.models import Selection

# Why something was passed over: the keys of ScanResult.passed_over.
HIDDEN = "hidden"
TRASH = "trash"
THUMBNAILS = "thumbnails"
METADATA = "metadata"
MOVE_TARGET = "move target"
EXCLUDED = "exclude"
TOO_SMALL = "min-size"
TOO_LARGE = "max-size"
TOO_DEEP = "max-depth"
OTHER_FILE_SYSTEM = "one-file-system"

# How a person is told about each reason, for one and for many.
WORDS: Mapping[str, tuple[str, str]] = {
    HIDDEN: ("hidden file or folder", "hidden files or folders"),
    TRASH: ("trash folder", "trash folders"),
    THUMBNAILS: ("thumbnail cache", "thumbnail caches"),
    METADATA: ("NAS or system metadata folder", "NAS or system metadata folders"),
    MOVE_TARGET: ("dedupe --move target", "dedupe --move targets"),
    EXCLUDED: ("file or folder matching --exclude", "files or folders matching --exclude"),
    TOO_SMALL: ("file smaller than --min-size", "files smaller than --min-size"),
    TOO_LARGE: ("file larger than --max-size", "files larger than --max-size"),
    TOO_DEEP: ("folder below --max-depth", "folders below --max-depth"),
    OTHER_FILE_SYSTEM: ("folder on another file system", "folders on other file systems"),
}
# The reasons --include-hidden turns off.
DEFAULT_REASONS = frozenset({HIDDEN, TRASH, THUMBNAILS, METADATA, MOVE_TARGET})

# Folders that are never a photo library, by name (compared case-insensitively: a Windows
# drive has `$Recycle.Bin`, an older one `$RECYCLE.BIN`).
_NAMED: Mapping[str, str] = {
    name.casefold(): reason
    for reason, names in (
        # Desktop and drive trash (freedesktop `.Trash-UID`, macOS, Windows, Synology, QNAP).
        (TRASH, (".Trash", ".Trashes", "$RECYCLE.BIN", "RECYCLER", "#recycle", "@Recycle")),
        # Thumbnail caches (freedesktop's old place, QNAP).
        (THUMBNAILS, (".thumbnails", ".@__thumb")),
        # NAS and OS metadata: Synology's @eaDir (thumbnails and indexes beside every photo),
        # its read-only #snapshot copies, macOS and Windows volume folders.
        (
            METADATA,
            (
                "@eaDir",
                "#snapshot",
                ".Spotlight-V100",
                ".fseventsd",
                ".DocumentRevisions-V100",
                ".TemporaryItems",
                ".AppleDouble",
                "System Volume Information",
            ),
        ),
    )
    for name in names
}
_TRASH_PREFIX = ".trash-"  # .Trash-1000, the freedesktop trash at the top of another drive

# The file `dedupe apply --move DIR` leaves at the top of DIR: a scan does not enter a folder
# holding it (the files there were taken out of a library as duplicates).
MOVE_MARKER = ".dedupe-move-target"
MOVE_MARKER_TEXT = (
    "This folder holds files that `dedupe apply --move` took out of a photo library as\n"
    "duplicates (`dedupe undo` puts them back). `dedupe scan` does not look inside it unless it\n"
    "is the folder named to scan, or --include-hidden is given.\n"
)


def home_folders(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The desktop's own trash and thumbnail cache (XDG locations) -> the reason to pass them."""
    env = os.environ if environ is None else environ
    home = os.path.expanduser("~")
    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    cache = env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return {
        os.path.join(data, "Trash"): TRASH,
        os.path.join(cache, "thumbnails"): THUMBNAILS,
        os.path.join(home, ".Trash"): TRASH,  # macOS
    }


class PatternError(UsageError):
    """An --exclude pattern that is not a valid gitignore pattern."""


def check_patterns(patterns: tuple[str, ...]) -> None:
    """Raise PatternError for the first --exclude pattern that is not a valid one."""
    if patterns:
        _spec(patterns)


def _spec(patterns: tuple[str, ...]) -> Any:
    import pathspec  # only when --exclude is given

    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except (ValueError, re.error) as error:
        raise PatternError(f"--exclude: not a valid pattern: {error}") from None


class Filter:
    """A Selection made ready for the walk: one question per folder and per file."""

    def __init__(self, selection: Selection, environ: Mapping[str, str] | None = None) -> None:
        self.selection = selection
        self.defaults = selection.passed_by_default
        self._spec = _spec(selection.exclude) if selection.exclude else None
        self._special: dict[tuple[int, int], str] = {}
        if self.defaults:
            for path, reason in home_folders(environ).items():
                try:
                    info = os.stat(path)
                except OSError:
                    continue
                self._special[(info.st_dev, info.st_ino)] = reason

    def by_name(self, name: str) -> str | None:
        """Why an entry is passed over by its name alone (hidden, or a folder that is never a
        photo library): asked before anything else, without a stat."""
        if not self.defaults:
            return None
        reason = _NAMED.get(name.casefold())
        if reason is not None:
            return reason
        if name.startswith("."):
            return TRASH if name[:7].casefold() == _TRASH_PREFIX else HIDDEN
        return None

    def folder(self, relative: str, depth: int, info: os.stat_result, root_dev: int) -> str | None:
        """Why a folder (`depth` levels below its root, `relative` to it) is not entered."""
        if self._special:
            reason = self._special.get((info.st_dev, info.st_ino))
            if reason is not None:
                return reason
        if self._spec is not None and self._spec.match_file(relative + "/"):
            return EXCLUDED
        s = self.selection
        if s.max_depth is not None and depth >= s.max_depth:
            return TOO_DEEP
        if s.one_file_system and info.st_dev != root_dev:
            return OTHER_FILE_SYSTEM
        return None

    def file(self, relative: str, size: int) -> str | None:
        """Why a file (`relative` to its root) is not scanned."""
        if self._spec is not None and self._spec.match_file(relative):
            return EXCLUDED
        s = self.selection
        if size < s.min_size:
            return TOO_SMALL
        if s.max_size is not None and size > s.max_size:
            return TOO_LARGE
        return None

    def marked(self, names: Iterable[str]) -> bool:
        """Whether a folder holding these names is a dedupe --move target."""
        return self.defaults and MOVE_MARKER in names


def mark_move_target(directory: str | Path) -> None:
    """Leave the marker at the top of a --move target (made if missing), so that later scans
    pass the moved files over. Raises OSError."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / MOVE_MARKER
    if not marker.exists():
        marker.write_text(MOVE_MARKER_TEXT, encoding="utf-8")


def unmark_move_target(directory: str | Path) -> None:
    """Take the marker away once the target holds nothing else (an undo emptied it), leaving
    the folder as an apply found it. Raises OSError."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    if names == [MOVE_MARKER]:
        os.remove(os.path.join(directory, MOVE_MARKER))


def describe(counts: Iterable[tuple[str, int]]) -> str:
    """`2 hidden files or folders, 1 trash folder` for the counts of ScanResult.passed_over,
    in the order of WORDS."""
    found = dict(counts)
    parts = []
    for reason, (one, many) in WORDS.items():
        n = found.get(reason, 0)
        if n:
            parts.append(f"{n:,} {one if n == 1 else many}")
    return ", ".join(parts)
