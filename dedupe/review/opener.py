"""Open a file in the system's picture viewer (xdg-open on Linux and BSD, open on macOS,
the associated program on Windows), so a person can check a photo at full size.

The viewer is started in its own session with no terminal attached (it must not draw over the
review or read its keys) and is never waited for; a thread reaps it when it exits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading


class OpenError(Exception):
    """The file could not be handed to a viewer; the message says why."""


def opener_name(platform: str = sys.platform) -> str:
    """The program that opens a file with its default application on this platform."""
    if platform == "darwin":
        return "open"
    return "xdg-open"


def open_file(path: str) -> str:
    """Start the system viewer on `path`; returns the program used. Raises OpenError."""
    if not os.path.exists(path):
        raise OpenError("the file is gone (moved or deleted since the scan)")
    if sys.platform == "win32":  # pragma: no cover - not run on this project's CI
        try:
            os.startfile(path)  # type: ignore[attr-defined]
        except OSError as error:
            raise OpenError(f"cannot open it: {error.strerror or error}") from None
        return "the associated program"
    name = opener_name()
    program = shutil.which(name)
    if program is None:
        hint = " (install xdg-utils)" if name == "xdg-open" else ""
        raise OpenError(f"no {name} on this system{hint}")
    # An absolute path never starts with "-": the viewer cannot take it for an option.
    argument = os.path.abspath(path)
    try:
        child = subprocess.Popen(
            [program, argument],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise OpenError(f"cannot run {name}: {error.strerror or error}") from None
    threading.Thread(target=child.wait, name="viewer", daemon=True).start()
    return name
