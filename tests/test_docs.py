"""Every command and every option is documented in README.md and has help text (as
sqlite-utils checks its own), and the exit-code table lists every code the CLI returns."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dedupe.cli import EXIT_STATUS, ExitCode, build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# The options every command takes, documented once, at the top of "Commands".
COMMON = ("-q", "--quiet", "-v", "--verbose", "--color")


def section(heading: str) -> str:
    """README's text from `heading` (the start of a heading line) to the next heading."""
    match = re.search(rf"^#+ {re.escape(heading)}.*?$(.*?)(?=^#+ )", README, re.M | re.S)
    assert match, f"README has no section {heading!r}"
    return match.group(0)


def mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_and_option_is_documented_and_has_help() -> None:
    common = section("Commands")
    missing = []
    for name, command in commands().items():
        assert command.description, f"dedupe {name} has no description"
        text = section(f"`dedupe {name}")
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
            for option in action.option_strings:
                if not mentions(common if option in COMMON else text, option):
                    missing.append(f"dedupe {name} {option}")
    assert missing == [], "not in README: " + ", ".join(missing)


def test_the_options_before_a_command_are_documented() -> None:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        assert action.help, action.dest
        for option in action.option_strings:
            assert mentions(section("Commands"), option), option


def test_the_exit_code_table_is_complete() -> None:
    table = section("Exit codes")
    codes = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert codes == {int(code) for code in ExitCode}
    assert [int(code) for code, _ in EXIT_STATUS] == sorted(int(code) for code in ExitCode)
