"""Comparing two cluster() results found different ways (numpy or the compiled kernels)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from dedupe import verify
from dedupe.cluster import Clusters


def same_clusters(a: Clusters, b: Clusters) -> bool:
    """Equal groups, counts and checked pairs; the pairs' scores may differ in the last bit of
    a float32 (numpy and the compiled check sum in different orders)."""
    if (a.checked is None) != (b.checked is None):
        return False
    if a.checked is not None and b.checked is not None:
        if not np.allclose(a.checked.score, b.checked.score, rtol=0, atol=1e-6):
            return False
        b = replace(b, checked=replace(b.checked, score=a.checked.score))
    return a == b


def check_of(gray: npt.NDArray[np.uint8]) -> bytes:
    """A check signature (verify.pack) whose screen thumbnail is `gray` (16x16, or 256 values)
    and whose match thumbnail is the same picture at 32x32 (each pixel doubled)."""
    screen = np.asarray(gray, dtype=np.uint8).reshape(verify.SIZE, verify.SIZE)
    return verify.pack(screen, np.kron(screen, np.ones((2, 2), np.uint8)))
