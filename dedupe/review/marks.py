"""The remembered "not duplicates" marks: path pairs a person said are different pictures,
kept in $XDG_DATA_HOME/dedupe/not-duplicates.json so later scans and reviews never group them.

The file is small JSON, written atomically. A damaged file is never fatal and never lost: it is
renamed aside (`not-duplicates.json.damaged-<UTC time>`), the marks that could still be read
from it are written back under the usual name, and the warning (for the caller to show) says
where the damaged file now is. If it cannot be set aside (a read-only folder), it is left as it
is and `remember` refuses to overwrite it. Undecodable path bytes are stored as `\\udcXX`
escapes, which Python's json reads back to the same `str`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from dedupe.durable import fsync_dir, write_text_atomic

FILE_NAME = "not-duplicates.json"
VERSION = 1
DAMAGED_SUFFIX = ".damaged-"

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
    # The file is damaged and still in place (it could not be set aside): never overwrite it.
    stuck: bool = False


class _Damaged(Exception):
    """The file's content is not a marks file; the message says how."""


def _parse(path: Path) -> tuple[frozenset[Pair], int]:
    """The pairs in the file and how many of its entries are not pairs. Raises
    FileNotFoundError, OSError (cannot read) or _Damaged (not a marks file at all)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Damaged(str(error)) from None
    except RecursionError:
        raise _Damaged("nested too deeply") from None
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(pairs, list):
        raise _Damaged("unknown format")
    found: set[Pair] = set()
    for item in pairs:
        if (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(p, str) and "\0" not in p for p in item)
            and item[0] != item[1]
        ):
            found.add((min(item), max(item)))
    return frozenset(found), len(pairs) - len(found)


def aside_path(path: Path, when: datetime | None = None) -> Path:
    """A new name to keep a damaged file under, next to it: NAME.damaged-<UTC time>[-N]."""
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}")
    counter = 1
    while os.path.lexists(candidate):
        counter += 1
        candidate = path.with_name(f"{path.name}{DAMAGED_SUFFIX}{stamp}-{counter}")
    return candidate


def _set_aside(path: Path) -> Path:
    """Rename the damaged file to a name of its own (never replacing one). Raises OSError."""
    for _ in range(100):
        target = aside_path(path)
        try:
            os.link(path, target)  # fails instead of replacing a file that appeared meanwhile
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise
        except OSError:  # no hard links here: a rename to the name just found free
            os.rename(path, target)
        else:
            os.unlink(path)
        fsync_dir(path.parent)
        return target
    raise FileExistsError(f"no free name to keep {path} aside")


def load(path: Path | None = None) -> Marks:
    """The remembered pairs (empty when there is no file yet). A damaged file is set aside
    and what could be read from it stays in use (see the module docstring)."""
    path = default_path() if path is None else path
    try:
        pairs, bad = _parse(path)
        what = None if not bad else f"{bad} of its entries are not pairs of paths"
    except FileNotFoundError:
        return Marks(frozenset())
    except OSError as error:
        return Marks(frozenset(), f"cannot read the not-duplicates marks in {path}: {error}", True)
    except _Damaged as error:
        pairs, what = frozenset(), str(error)
    if what is None:
        return Marks(pairs)
    try:
        aside = _set_aside(path)
    except FileNotFoundError:  # another dedupe set it aside a moment ago
        return Marks(frozenset())
    except OSError as error:
        return Marks(
            pairs,
            f"the not-duplicates marks in {path} are damaged ({what}) and could not be set "
            f"aside ({error}); it is left as it is and no new mark is saved until it is fixed",
            stuck=True,
        )
    warning = (
        f"the not-duplicates marks in {path} were damaged ({what}): the file is kept as {aside}"
    )
    if pairs:
        try:
            write_text_atomic(path, _text(pairs))
        except OSError as error:
            warning += f"; its {len(pairs)} readable marks could not be saved again ({error})"
        else:
            warning += f"; its {len(pairs)} readable marks stay in use"
    return Marks(pairs, warning)


def _text(pairs: Iterable[Pair]) -> str:
    return (
        json.dumps({"version": VERSION, "pairs": [list(p) for p in sorted(pairs)]}, indent=1) + "\n"
    )


def remember(new: Iterable[Pair], path: Path | None = None) -> int:
    """Add pairs to the store (re-reading it first); returns how many were new. Raises OSError,
    also when the store is damaged and could not be set aside (it is never overwritten)."""
    path = default_path() if path is None else path
    current = load(path)
    added = {(min(a, b), max(a, b)) for a, b in new if a != b} - current.pairs
    if not added:
        return 0
    if current.stuck:
        raise OSError(f"not saving the not-duplicates marks: {current.warning}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, _text(current.pairs | added))
    return len(added)


def among(pairs: frozenset[Pair], paths: Iterable[str]) -> frozenset[Pair]:
    """The pairs whose two files are both among `paths` (what a report needs to carry)."""
    if not pairs:
        return frozenset()
    present = set(paths)
    return frozenset(p for p in pairs if p[0] in present and p[1] in present)


def forget(pairs: Iterable[Pair], path: Path | None = None) -> int:
    """Drop pairs from the store (re-reading it first); returns how many were there. A damaged
    store that could not be set aside is left as it is: ValueError with the reason.
    Raises OSError when the store cannot be written."""
    path = default_path() if path is None else path
    current = load(path)
    if current.stuck:
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
