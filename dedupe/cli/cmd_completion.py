"""`dedupe completion bash|zsh|fish`: the shell's completion script, generated from the parser
by shtab (commands, options, choices; folders where a folder is asked for, files elsewhere)."""

from __future__ import annotations

import argparse
from typing import Any

from dedupe.cli.ui import UI, write_data

SHELLS = ("bash", "zsh", "fish")

# Where each shell looks for the script, for the help text and the README.
INSTALL = {
    "bash": "dedupe completion bash > ~/.local/share/bash-completion/completions/dedupe",
    "zsh": "dedupe completion zsh > ~/.zfunc/_dedupe   (with fpath+=~/.zfunc before compinit)",
    "fish": "dedupe completion fish > ~/.config/fish/completions/dedupe.fish",
}

# What the values named by these metavars are: folders, or files (anything else: no hint).
FOLDERS = frozenset({"DIR"})
FILES = frozenset({"PATH", "IMAGE", "A", "B", "QUERY", "OUT.html"})


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "completion",
        help="print the shell completion script for bash, zsh or fish",
        description="Print the completion script of SHELL on stdout, generated from dedupe's "
        "own options. Install it with: " + "; ".join(INSTALL.values()) + ".",
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ui: UI) -> int:
    write_data(script(args.shell))
    return 0


def script(shell: str) -> str:
    import shtab

    from dedupe.cli import build_parser

    parser = build_parser()
    _hint(parser, shtab.DIRECTORY, shtab.FILE)
    text: str = shtab.complete(parser, shell=shell)
    return text if text.endswith("\n") else text + "\n"


def _hint(parser: argparse.ArgumentParser, folder: object, file: object) -> None:
    """Tell shtab which values are folders and which are files, by their metavar."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                if name == subparser.prog.split()[-1]:
                    _hint(subparser, folder, file)
            continue
        metavar = action.metavar
        if metavar in FOLDERS:
            action.complete = folder  # type: ignore[attr-defined]
        elif metavar in FILES:
            action.complete = file  # type: ignore[attr-defined]
