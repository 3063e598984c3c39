"""Running compiled kernels that release the GIL on every usable core, with threads.

Shared by the BK-tree search (bktree.py) and the pair check (verify.py). Nothing here imports
numba, so modules that only need a thread count stay light.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the platform tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not every platform has sched_getaffinity
        return max(1, os.cpu_count() or 1)


def thread_map(fn: Callable[[_T], _R], items: list[_T], workers: int | None = None) -> list[_R]:
    """``[fn(x) for x in items]``, on a thread pool of `workers` (default: usable_cores())
    when that helps: the work must release the GIL to run in parallel."""
    workers = usable_cores() if workers is None else workers
    if workers == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))
