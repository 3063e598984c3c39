"""`python -m dedupe` runs the command-line interface."""

from dedupe.cli import entry

entry()
