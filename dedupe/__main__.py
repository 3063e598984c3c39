"""`python -m dedupe` runs the command-line interface."""

from dedupe.cli import main

raise SystemExit(main())
