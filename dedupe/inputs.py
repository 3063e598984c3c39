"""What a caller names, checked before any work: the folders to scan, the keep rules (their
folders above all) and what the walk leaves out.

Each problem is a UsageError whose message says why, naming the command-line option the value
comes from (`--protect archiv: no such folder`; the Python API's keyword has the same name).
Checking a value these functions returned gives it back unchanged, so the command line may
check early (to refuse before it writes anything) and the API check again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace

from dedupe import filters, policy
from dedupe.errors import UsageError
from dedupe.models import BURSTS, TWINS, KeepRules, Selection


def folders(paths: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    """The folders to scan as absolute paths, in the order given. A path that does not exist or
    is not a folder is refused."""
    roots = []
    for named in paths:
        path = os.fspath(named)
        if not os.path.exists(path):
            raise UsageError(f"no such folder: {path}")
        if not os.path.isdir(path):
            raise UsageError(f"not a folder: {path}")
        roots.append(os.path.abspath(path))
    return tuple(roots)


def keep_folders(paths: Sequence[str], option: str, roots: Sequence[str]) -> tuple[str, ...]:
    """The folders given to --protect, --prefer or --reference (`option`), as absolute paths
    below the scanned folders (a folder reached through a symlink is named as it is under its
    scanned folder). A folder that does not exist or is in no scanned folder is refused: a
    misspelled path must not leave unprotected what it was meant to protect."""
    found = []
    for path in paths:
        absolute = os.path.abspath(path)
        if not os.path.exists(absolute):
            raise UsageError(f"{option} {path}: no such folder")
        if not os.path.isdir(absolute):
            raise UsageError(f"{option} {path}: not a folder")
        inside = _inside(absolute, roots)
        if inside is None:
            where = ", ".join(roots)
            raise UsageError(
                f"{option} {path}: not in a scanned folder ({where}), so it would match no file"
            )
        found.append(inside)
    return tuple(found)


def _inside(folder: str, roots: Sequence[str]) -> str | None:
    """`folder` named below one of `roots` (also when one of them is reached through a
    symlink), or None when it is in none of them."""
    for root in roots:
        if folder == root or folder.startswith(os.path.join(root, "")):
            return folder
    real = os.path.realpath(folder)
    for root in roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(os.path.join(base, "")):
            return os.path.normpath(os.path.join(root, os.path.relpath(real, base)))
    return None


def keep_rules(
    rules: KeepRules, roots: Sequence[str], *, known: KeepRules | None = None
) -> KeepRules:
    """`rules` checked for a scan of `roots`: known rule names (`path` last), and every folder
    (protect, prefer, reference) an existing folder named below a scanned one (keep_folders).
    What `known` already holds (the rules a report was made with) is taken as it is, so a
    report's own folders need not still exist."""
    known = known or KeepRules(order=())
    order = rules.order
    if order != known.order:
        try:
            order = policy.parse_order(",".join(order))
        except ValueError as error:
            raise UsageError(str(error)) from None
    if rules.bursts not in BURSTS:
        raise UsageError(
            f"unknown bursts choice {rules.bursts!r} (choose from {', '.join(BURSTS)})"
        )
    if rules.twins not in TWINS:
        raise UsageError(
            f"unknown raw twins choice {rules.twins!r} (choose from {', '.join(TWINS)})"
        )

    def checked(paths: tuple[str, ...], option: str, held: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(p if p in held else keep_folders([p], option, roots)[0] for p in paths)

    return replace(
        rules,
        order=order,
        protect=checked(rules.protect, "--protect", known.protect),
        prefer=checked(rules.prefer, "--prefer", known.prefer),
        reference=checked(rules.reference, "--reference", known.reference),
    )


def selection(chosen: Selection) -> Selection:
    """`chosen` when the walk can use it: sizes in order and valid --exclude patterns."""
    if chosen.max_size is not None and chosen.max_size < chosen.min_size:
        raise UsageError(f"--max-size ({chosen.max_size:,} bytes) is below --min-size")
    filters.check_patterns(chosen.exclude)
    return chosen
