"""Comparing two cluster() results found different ways (numpy or the compiled kernels)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

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
