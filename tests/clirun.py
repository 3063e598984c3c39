"""Running `dedupe` as a user does: a real process, real pipes, its own home and XDG folders.

Shared by the tests of the command line's conventions (test_scripting, test_filters,
test_marks, test_completion): one `Dedupe` per module, made by the `dedupe` fixtures there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The variables of the test's own session that would change what dedupe prints.
_DROPPED = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "DEDUPE_THUMBNAILS")

# 2020-09-13 12:26:40 UTC: every file the tests make gets this modification time.
T = 1_600_000_000_000_000_000


@dataclass(frozen=True)
class Done:
    code: int
    out: bytes  # stdout as bytes: names may hold any byte, NULs separate them
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8", "surrogateescape")


@dataclass
class Dedupe:
    """`dedupe ...` in a process of its own, in `home` (HOME and XDG folders under it)."""

    home: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
        env["HOME"] = str(self.home)
        for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
            env[name] = str(self.home / name.lower())
        # Narrow on purpose: nothing written for a pipe may be folded to it.
        env["COLUMNS"] = "60"
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        return env

    def __call__(self, *args: str, stdin: bytes = b"", **env: str) -> Done:
        return self._run([sys.executable, "-m", "dedupe", *args], stdin, env)

    def shell(self, pipeline: str, **env: str) -> Done:
        """A bash pipeline (with pipefail) in which `dedupe` is this dedupe."""
        script = f'dedupe() {{ "{sys.executable}" -m dedupe "$@"; }}\nset -o pipefail\n{pipeline}'
        return self._run(["bash", "-c", script], b"", env)

    def _run(self, argv: list[str], stdin: bytes, env: dict[str, str]) -> Done:
        done = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            env=self.env | env,
            cwd=self.home,
            check=False,
            timeout=120,
        )
        return Done(done.returncode, done.stdout, done.stderr.decode("utf-8", "replace"))


def fix_times(root: Path) -> None:
    """Every file under root modified at T (dates in the output then never change)."""
    for folder, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(folder, name), ns=(T, T))
