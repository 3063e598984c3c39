"""Moving one checked file to a new name without ever replacing anything there: a hard link on
the same device, across devices a copy that is synced and verified before the original goes.
"""

from __future__ import annotations

import errno
import os

from dedupe import fsops


def partial_path(target: str) -> str:
    """The temporary name a cross-device copy is written under, next to its target."""
    head, tail = os.path.split(target)
    return os.path.join(head, fsops.partial_name(tail))


def transfer(
    src: fsops.Folder,
    name: str,
    dst: fsops.Folder,
    new: str,
    expect: fsops.Identity,
    digest: str,
    *,
    force_copy: bool = False,
) -> None:
    """Move the checked file `src/name` to `dst/new` without ever replacing anything there,
    across devices too. Raises TargetExists, fsops.Changed or OSError; the source stays when it
    raises."""
    if not force_copy and dst.device() == expect.dev:
        try:
            fsops.place(src, name, dst, new, expect)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        else:
            return
    fsops.copy_across(src, name, dst, new, expect, digest)
