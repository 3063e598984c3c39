"""Compiled helpers the BK-tree (bktree.py) and its substring index (mih.py) share: numba's
compilation as both use it, the hardware popcount, and growing a buffer of hits.

A module below both, so that neither imports the other for them (bktree.py uses mih.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_F = TypeVar("_F", bound=Callable[..., Any])


def _njit(fn: _F) -> _F:
    """Compile ``fn`` with numba: no Python objects, GIL released, cached on disk."""
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


@intrinsic
def _popcount_intrinsic(typingctx: Any, x: Any) -> Any:
    """The hardware population count of a uint64 (LLVM ``ctpop``), as an int64."""
    if x != types.uint64:
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.ctpop(args[0])

    return types.int64(types.uint64), codegen


# Seen from compiled code only; the cast gives type checkers its call signature.
_popcount = cast(Callable[[Any], int], _popcount_intrinsic)


@_njit
def _grow_out(
    out_q: np.ndarray, out_p: np.ndarray, out_d: np.ndarray, n: int, cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q2 = np.empty(cap, np.int32)
    p2 = np.empty(cap, np.int32)
    d2 = np.empty(cap, np.uint16)
    q2[:n] = out_q[:n]
    p2[:n] = out_p[:n]
    d2[:n] = out_d[:n]
    return q2, p2, d2
