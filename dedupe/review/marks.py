"""The remembered "not duplicates" marks: path pairs a person said are different pictures,
kept in $XDG_DATA_HOME/dedupe/not-duplicates.json so later scans and reviews never group them.

The file is small JSON, written atomically; a damaged file is reported (as a warning for the
caller to show) and treated as empty, never fatal. Undecodable path bytes are stored as
`\\udcXX` escapes, which Python's json reads back to the same `str`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dedupe.durable import write_text_atomic
from dedupe.models import ImageRecord

FILE_NAME = "not-duplicates.json"
VERSION = 1

Pair = tuple[str, str]


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "dedupe" / FILE_NAME


@dataclass(frozen=True, slots=True)
class Marks:
    pairs: frozenset[Pair]
    warning: str | None = None


def load(path: Path | None = None) -> Marks:
    """The remembered pairs (empty when there is no file yet)."""
    path = default_path() if path is None else path
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return Marks(frozenset())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return Marks(frozenset(), f"ignoring the not-duplicates marks in {path}: {error}")
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(pairs, list):
        return Marks(frozenset(), f"ignoring the not-duplicates marks in {path}: unknown format")
    found: set[Pair] = set()
    for item in pairs:
        if (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(p, str) for p in item)
            and item[0] != item[1]
        ):
            found.add((min(item), max(item)))
    return Marks(frozenset(found))


def remember(new: Iterable[Pair], path: Path | None = None) -> int:
    """Add pairs to the store (re-reading it first); returns how many were new. Raises OSError."""
    path = default_path() if path is None else path
    known = load(path).pairs
    added = {(min(a, b), max(a, b)) for a, b in new if a != b} - known
    if not added:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": VERSION, "pairs": [list(p) for p in sorted(known | added)]}
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    return len(added)


def among(pairs: frozenset[Pair], records: Iterable[ImageRecord]) -> frozenset[Pair]:
    """The pairs whose two files are both among `records` (what a report needs to carry)."""
    paths = {r.path for r in records}
    return frozenset(p for p in pairs if p[0] in paths and p[1] in paths)


def forget(pairs: Iterable[Pair], path: Path | None = None) -> int:
    """Drop pairs from the store (re-reading it first); returns how many were there. A store
    that cannot be read is left as it is: ValueError with the reason (nothing is lost).
    Raises OSError when the store cannot be written."""
    path = default_path() if path is None else path
    current = load(path)
    if current.warning is not None:
        raise ValueError(current.warning)
    gone = {(min(a, b), max(a, b)) for a, b in pairs} & current.pairs
    if not gone:
        return 0
    data = {"version": VERSION, "pairs": [list(p) for p in sorted(current.pairs - gone)]}
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    return len(gone)


def involving(pairs: Iterable[Pair], places: Iterable[str]) -> frozenset[Pair]:
    """The pairs with a file at or under one of `places` (absolute paths)."""
    bases = [(place, os.path.join(place, "")) for place in places]
    return frozenset(
        pair
        for pair in pairs
        if any(p == place or p.startswith(base) for p in pair for place, base in bases)
    )
