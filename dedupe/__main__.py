"""`python -m dedupe` runs the command-line interface."""

import sys

try:
    from dedupe.cli import entry
except KeyboardInterrupt:  # Ctrl-C while the command line is still being imported
    sys.stderr.write("error: interrupted\n")
    sys.exit(130)

entry()
