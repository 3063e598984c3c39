"""Where dedupe keeps its hash cache unless told otherwise (the XDG cache directory).

Standard library only: the command line looks here before it imports anything heavy.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_file() -> Path:
    """The default hash cache: $XDG_CACHE_HOME/dedupe/hashes.sqlite (~/.cache when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dedupe" / "hashes.sqlite"
