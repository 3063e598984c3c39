"""Where the scan's decoding worker processes come from, and starting their server early.

Only the standard library is imported here, so the command line can start the fork server
before it imports numpy, Pillow and the rest of itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.context import BaseContext
from types import FrameType

# What the fork server imports once, before forking any worker: the module whose function the
# workers run (and with it numpy, Pillow and the decoders), and pillow-heif, which dedupe.decode
# imports only when it meets a HEIF image (a module missing here is skipped). "__main__" is
# multiprocessing's default, kept so that a script using the scan as a library still has its
# functions there.
PRELOAD = ["__main__", "dedupe.scan", "pillow_heif"]


def context() -> BaseContext:
    """Where workers come from: a clean server process, not a fork of this one (the caller may
    have threads, e.g. a live progress bar, whose locks a plain fork would copy mid-use).

    The fork server imports PRELOAD once and every worker is forked from it with numpy, Pillow
    and the decoders already loaded (and their pages shared), instead of each worker importing
    them again. Without fork servers (macOS, Windows), workers are spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    # Only read when the fork server starts (once per process).
    forkserver.set_forkserver_preload(PRELOAD)
    return forkserver


def start_early() -> None:
    """Start the fork server now, if this platform has one and it is not running yet.

    Its imports (about 0.3 s of CPU) then run on another core while this process imports the
    same modules for itself, instead of after them when the first worker is needed. A server
    that ends up unused (nothing to decode) costs that CPU time and no waiting: it exits with
    this process.
    """
    if context().get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    forkserver.ensure_running()


@contextlib.contextmanager
def interrupt_held() -> Iterator[None]:
    """Hold a Ctrl-C back for the time of the block, then let it through as it would have come.

    For a pool's submit, which may launch a worker: a KeyboardInterrupt in the middle of the
    launch leaves a worker that has its start-up data but that the pool does not know, so the
    pool's shutdown does not wait for it. The scan then exits, its queues' semaphores are
    removed, and the late worker prints multiprocessing's FileNotFoundError traceback. Only
    the main thread gets KeyboardInterrupt, so elsewhere (or when SIGINT's handler was not set
    from Python) nothing is held.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    caught: list[tuple[int, FrameType | None]] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append((signum, frame))

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(*caught[0])
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)
