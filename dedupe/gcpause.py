"""Keeping Python's cyclic garbage collector out of bulk work on records.

A 100k-image library is over a million small objects (records, fingerprints, hashes, paths).
None of them form reference cycles, so the cyclic collector has nothing to free in them, but
each full collection walks every one of them: building or grouping a library's records set off
several, seconds of CPU at 100k images (measured in benchmarks/regroup.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block; restores its previous state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def settle() -> None:
    """Move every object alive now out of the collector's view (gc.freeze): for data that
    lives as long as the process, such as a report that is reviewed and regrouped. Objects are
    still freed by reference counting when dropped; only cycles among them would stay."""
    gc.freeze()
