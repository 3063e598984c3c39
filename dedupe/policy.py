"""Which copy of a group to keep: an ordered chain of rules, each explainable in words.

The rules (`--keep`, default `resolution,size,date,path`):
  resolution  more pixels wins
  size        larger file wins (less compressed)
  format      RAW > HEIC/PNG/TIFF (lossless or original) > JPEG/WebP/AVIF > GIF
  date        older file (mtime) wins: the original usually predates its copies
  path        shorter path wins, then the alphabetically first (always decides)
`--prefer DIR` breaks a tie left by the rules in favour of a copy under DIR; `--protect DIR`
files are never proposed for trash. Every group keeps at least one file, always.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from functools import lru_cache

from dedupe.models import Action, ImageRecord, KeepRules, Member
from dedupe.text import human_bytes

RULES = ("resolution", "size", "format", "date", "path")
DEFAULT_ORDER = ("resolution", "size", "date", "path")

RAW_FORMATS = frozenset({"RAW", "DNG", "CR2", "CR3", "NEF", "ARW", "ORF", "RAF", "RW2", "PEF"})


def format_rank(fmt: str) -> int:
    upper = fmt.upper()
    if upper in RAW_FORMATS:
        return 3
    if upper in ("HEIF", "HEIC", "PNG", "TIFF", "BMP", "PPM", "PNM"):
        return 2
    if upper == "GIF":
        return 0
    return 1


def parse_order(text: str) -> tuple[str, ...]:
    """Parse `--keep resolution,size,...`; unknown names raise ValueError; `path` goes last."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown keep rule {unknown[0]!r} (choose from {', '.join(RULES)})")
    if len(set(names)) != len(names):
        raise ValueError("each keep rule may be named once")
    return names if "path" in names else names + ("path",)


def is_under(path: str, directories: Sequence[str]) -> str | None:
    """The first of `directories` that contains `path`, or None."""
    for directory in directories:
        base = os.path.join(os.path.abspath(directory), "")
        if path.startswith(base):
            return directory
    return None


def _res(r: ImageRecord) -> str:
    return f"{r.fingerprint.width}x{r.fingerprint.height}"


# Sizes and times in a reason are shown with as many digits as it takes to tell the two files
# apart: "keeps the larger file (344.2 KB); this copy is 344.0 KB" reads as it is, but where
# both round to the same text the reason would contradict itself, so the exact bytes (or the
# seconds, then their fractions) are shown instead.


def sizes_apart(a: int, b: int) -> tuple[str, str]:
    """Two sizes as a person reads them (as dedupe shows sizes everywhere), in bytes when those
    texts would be the same."""
    shown = human_bytes(a), human_bytes(b)
    if shown[0] != shown[1] or a == b:
        return shown
    return f"{a:,} bytes", f"{b:,} bytes"


def _time(ns: int, digits: int) -> str:
    """A modification time in UTC: to the minute (digits < 0), the second, or `digits` decimals
    of the second."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%d %H:%M" + (":%S" if digits >= 0 else ""), time.gmtime(seconds))
    return text + ("." + f"{fraction:09d}"[:digits] if digits > 0 else "")


def times_apart(a: int, b: int) -> tuple[str, str]:
    """Two modification times (ns) to the minute, or to the first digit where they differ."""
    for digits in range(-1, 10):
        shown = _time(a, digits), _time(b, digits)
        if shown[0] != shown[1]:
            return shown
    return shown


# Each rule: a sort key (smaller is better), and how to say why `keeper` won (the keeper's
# reason) and why `other` lost to it (the other's reason).
_Key = Callable[[ImageRecord], object]
_Why = Callable[[ImageRecord, ImageRecord], str]

_RULES: dict[str, tuple[_Key, _Why, _Why]] = {
    "resolution": (
        lambda r: -r.pixels,
        lambda k, o: f"highest resolution ({_res(k)})",
        lambda k, o: f"keeps the {_res(k)} original; this is a {_res(o)} copy",
    ),
    "size": (
        lambda r: -r.size,
        lambda k, o: f"largest file ({sizes_apart(k.size, o.size)[0]})",
        lambda k, o: "keeps the larger file ({}); this copy is {}".format(
            *sizes_apart(k.size, o.size)
        ),
    ),
    "format": (
        lambda r: -format_rank(r.fingerprint.format),
        lambda k, o: f"best format ({k.fingerprint.format})",
        lambda k, o: f"keeps the {k.fingerprint.format} copy; this one is {o.fingerprint.format}",
    ),
    "date": (
        lambda r: r.mtime_ns,
        lambda k, o: f"oldest file (modified {times_apart(k.mtime_ns, o.mtime_ns)[0]})",
        lambda k, o: "keeps the older file (modified {}); this one is newer ({})".format(
            *times_apart(k.mtime_ns, o.mtime_ns)
        ),
    ),
    "path": (
        lambda r: (len(r.path), os.fsencode(r.path)),
        lambda k, o: "shortest path",
        lambda k, o: "keeps the copy with the shorter path",
    ),
}


@lru_cache(maxsize=16)
def _ranking(
    rules: KeepRules,
) -> tuple[tuple[str, ...], Callable[[ImageRecord], tuple[object, ...]]]:
    """The parts of a record's ranking key in order (a rule's name, or "prefer" just before
    "path" when there are preferred folders) and the key itself: smaller is better."""
    order = rules.order if "path" in rules.order else rules.order + ("path",)
    names: list[str] = []
    parts: list[_Key] = []
    for name in order:
        if name == "path" and rules.prefer:
            names.append("prefer")
            parts.append(lambda r: 0 if is_under(r.path, rules.prefer) else 1)
        names.append(name)
        parts.append(_RULES[name][0])
    return tuple(names), lambda r: tuple([part(r) for part in parts])


Distance = Callable[[ImageRecord, ImageRecord], int]


def keep_all_shots(records: Sequence[ImageRecord]) -> tuple[Member, ...]:
    """A set of similar shots as a group that keeps every file (in path order)."""
    ordered = sorted(records, key=lambda r: os.fsencode(r.path))
    n = len(ordered)
    reason = (
        f"one of {n} similar shots (captured at different times): not a copy, kept "
        "(use --bursts keep-sharpest to keep only the sharpest)"
    )
    return tuple(Member(r, 0, "keep", reason) for r in ordered)


def keep_sharpest(
    keeper: ImageRecord,
    others: Sequence[ImageRecord],
    rules: KeepRules,
) -> tuple[Member, ...]:
    """Similar shots with --bursts keep-sharpest: `keeper` (the sharpest) kept, the others
    proposed for trash (unless protected)."""
    n = len(others) + 1
    members = [Member(keeper, 0, "keep", f"the sharpest of {n} similar shots")]
    for other in sorted(others, key=lambda r: os.fsencode(r.path)):
        protected = is_under(other.path, rules.protect) if rules.protect else None
        if protected is not None:
            members.append(Member(other, 0, "keep", f"protected: under {protected}"))
            continue
        members.append(
            Member(other, 0, "trash", "a similar shot; keeps the sharpest (--bursts keep-sharpest)")
        )
    return tuple(members)


def decide(
    records: Sequence[ImageRecord],
    rules: KeepRules,
    distance: Callable[[ImageRecord, ImageRecord], int],
) -> tuple[Member, ...]:
    """Propose keep/trash for one group: the keeper first, then the others in path order.

    `distance(keeper, other)` gives each member's hash distance to the keeper.
    """
    if not records:
        raise ValueError("a group needs at least one file")
    names, key = _ranking(rules)
    # each key once (the path, unique in a group, settles every tie); the path rule's part
    # is (length, bytes of the path)
    ranked = sorted((key(r), k) for k, r in enumerate(records))
    keeper_key, keeper = ranked[0][0], records[ranked[0][1]]
    path = names.index("path")
    others = sorted(ranked[1:], key=lambda entry: entry[0][path][1])  # type: ignore[index]
    runner_up = ranked[1] if len(ranked) > 1 else None
    reason = (
        "only copy"
        if runner_up is None
        else _keeper_reason(
            keeper,
            records,
            _deciding_rule(keeper_key, runner_up[0], names),
            records[runner_up[1]],
            rules,
        )
    )
    members = [Member(keeper, 0, "keep", reason)]
    for other_key, k in others:
        other = records[k]
        action: Action = "trash"
        protected = is_under(other.path, rules.protect) if rules.protect else None
        if protected is not None:
            action, reason = "keep", f"protected: under {protected}"
        else:
            rule = _deciding_rule(keeper_key, other_key, names)
            reason = _trash_reason(keeper, other, rule, rules)
        members.append(Member(other, distance(keeper, other), action, reason))
    return tuple(members)


def _deciding_rule(
    keeper: tuple[object, ...], other: tuple[object, ...], names: Sequence[str]
) -> str:
    """The first part of the ranking keys (see _ranking) that tells the two apart."""
    for name, mine, theirs in zip(names, keeper, other, strict=True):
        if mine != theirs:
            return name
    return "path"


def _keeper_reason(
    keeper: ImageRecord,
    records: Sequence[ImageRecord],
    rule: str,
    runner_up: ImageRecord,
    rules: KeepRules,
) -> str:
    # Explained by the rule that decided against the closest competitor (the runner-up).
    if rule == "prefer":
        return f"in preferred folder {is_under(keeper.path, rules.prefer)}"
    reason = _RULES[rule][1](keeper, runner_up)
    if all(r.fingerprint.digest == keeper.fingerprint.digest for r in records):
        return f"byte-identical copies; {reason}"
    return reason


def _trash_reason(keeper: ImageRecord, other: ImageRecord, rule: str, rules: KeepRules) -> str:
    if rule == "prefer":
        why = f"keeps the copy in preferred folder {is_under(keeper.path, rules.prefer)}"
    else:
        why = _RULES[rule][2](keeper, other)
    if other.fingerprint.digest == keeper.fingerprint.digest:
        return f"byte-identical copy; {why}"
    return why
