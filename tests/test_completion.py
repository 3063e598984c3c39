"""Shell completion (bash, zsh, fish) and the man page, generated from the parser, used as a
user would: the script loaded into the real shell, a TAB pressed; the page read by man."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clirun import Dedupe

from dedupe.cli import build_parser


@pytest.fixture(scope="module")
def dedupe(tmp_path_factory: pytest.TempPathFactory) -> Dedupe:
    return Dedupe(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def bin_dir(dedupe: Dedupe) -> Path:
    """A `dedupe` program on PATH for the shells: this dedupe."""
    folder = dedupe.home / "bin"
    folder.mkdir()
    program = folder / "dedupe"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dedupe "$@"\n')
    program.chmod(0o755)
    return folder


def script(dedupe: Dedupe, shell: str) -> Path:
    done = dedupe("completion", shell)
    assert done.code == 0 and done.err == ""
    path = dedupe.home / f"completion.{shell}"
    path.write_bytes(done.out)
    return path


def test_bash_completes_commands_options_choices_and_folders(dedupe: Dedupe) -> None:
    path = script(dedupe, "bash")
    (dedupe.home / "Pictures").mkdir(exist_ok=True)
    probe = f"""
source '{path}'
complete_line() {{  # what TAB offers after the words given (the last one being typed)
  COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}
  COMPREPLY=(); _shtab_dedupe; printf '%s\\n' "${{COMPREPLY[@]}}" | sort; echo --
}}
complete_line dedupe re
complete_line dedupe scan --thr
complete_line dedupe scan --algorithm ''
complete_line dedupe scan Pic
complete_line dedupe completion ''
"""
    done = dedupe.shell(probe)
    assert done.code == 0, done.err
    assert done.text.split("--\n")[:5] == [
        "report\nreview\n",
        "--threshold\n",
        "ahash\ndhash\nphash\n",
        "Pictures\n",
        "bash\nfish\nzsh\n",
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_options_and_choices(dedupe: Dedupe, bin_dir: Path) -> None:
    path = script(dedupe, "fish")
    lines = []
    for line in ("dedupe sc", "dedupe scan --thr", "dedupe review --format ", "dedupe -"):
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"source '{path}'; complete -C '{line}'"],
            capture_output=True,
            text=True,
            env=dedupe.env | {"PATH": f"{bin_dir}:/usr/bin:/bin"},
            check=False,
        )
        assert done.returncode == 0, done.stderr
        lines.append(sorted(entry.split("\t")[0] for entry in done.stdout.splitlines()))
    assert lines[0] == ["scan"]
    assert lines[1] == ["--threshold"]
    assert lines[2] == ["csv", "json", "text"]
    assert {"-V", "--version", "-q", "--quiet", "--color"} <= set(lines[3])


@pytest.mark.skipif(
    shutil.which("zsh") is None or shutil.which("tmux") is None, reason="needs zsh and tmux"
)
def test_zsh_completes_a_long_option_when_tab_is_pressed(
    dedupe: Dedupe, bin_dir: Path, tmp_path: Path
) -> None:
    """zsh offers completions only to a person at a terminal: one in tmux, TAB and all."""
    functions = tmp_path / "zfunc"
    functions.mkdir()
    (functions / "_dedupe").write_bytes(script(dedupe, "zsh").read_bytes())
    env = dedupe.env | {"PATH": f"{bin_dir}:/usr/bin:/bin", "ZDOTDIR": str(tmp_path)}
    (tmp_path / ".zshrc").write_text(
        f"fpath=({functions} $fpath); autoload -Uz compinit; compinit -u -d {tmp_path}/.zcd\n"
        "PS1='$ '\n"
    )
    tmux = ["tmux", "-S", str(tmp_path / "tmux.socket")]  # a server of its own
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "10", "zsh"], env=env,
                   check=True)  # fmt: skip

    def screen_once(line: str) -> str:
        """The screen as soon as one of its lines is `line` (or after 60 s: a guard only)."""
        deadline = time.monotonic() + 60
        while True:
            text = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True,
                                  check=True).stdout  # fmt: skip
            if line in text.splitlines() or time.monotonic() > deadline:
                return text
            time.sleep(0.1)

    try:
        screen_once("$")  # the prompt (tmux drops its trailing space): compinit has run
        subprocess.run([*tmux, "send-keys", "dedupe scan --thr", "Tab"], check=True)
        screen = screen_once("$ dedupe scan --threshold")
        # the line as the shell redrew it after TAB (the trailing space dropped by tmux)
        assert "$ dedupe scan --threshold" in screen.splitlines(), screen
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


def test_an_unknown_shell_is_a_usage_error(dedupe: Dedupe) -> None:
    done = dedupe("completion", "tcsh")
    assert done.code == 2 and "invalid choice: 'tcsh'" in done.err and done.out == b""


# ---------------------------------------------------------------- the man page


def test_the_man_page_is_reproducible_and_complete(dedupe: Dedupe, tmp_path: Path) -> None:
    one = dedupe("manpage", SOURCE_DATE_EPOCH="1767225600")  # 2026-01-01
    # Another home, other XDG folders, another width: the same page.
    other = Dedupe(tmp_path)("manpage", SOURCE_DATE_EPOCH="1767225600", COLUMNS="200")
    assert one.code == 0 and one.err == ""
    assert one.out == other.out
    page = one.text
    assert page.startswith('.TH DEDUPE "1" "2026\\-01\\-01" "dedupe 0.1.0" "User Commands"\n')
    assert str(dedupe.home) not in page and str(tmp_path) not in page
    assert "~/.cache/dedupe/hashes.sqlite" in page
    # Every command and every option of each, with its help.
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert f"COMMAND \\fI\\,'dedupe {name}'\\/\\fR" in page, name
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue  # every command has -h; the page leaves it out
            for option in action.option_strings:
                assert "\\fB" + option.replace("-", "\\-") + "\\fR" in page, (name, option)
    for section in ("EXIT STATUS", "ENVIRONMENT"):
        assert f".SH {section}" in page
    assert ".B 10\nscan, review with \\-\\-exit\\-code" in page
    no_date = dedupe("manpage")
    assert no_date.text.startswith('.TH DEDUPE "1" "" "dedupe 0.1.0"')  # no clock in it


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_man_shows_the_page(dedupe: Dedupe, tmp_path: Path) -> None:
    page = tmp_path / "dedupe.1"
    page.write_bytes(dedupe("manpage").out)
    done = subprocess.run(
        ["man", "-l", str(page)],
        capture_output=True,
        text=True,
        env=dedupe.env | {"MANPAGER": "cat", "MANWIDTH": "100", "LANG": "C.UTF-8"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "find duplicate and near-duplicate photos" in done.stdout
    assert "--exit-code" in done.stdout and "EXIT STATUS" in done.stdout
    assert "warning" not in done.stderr
