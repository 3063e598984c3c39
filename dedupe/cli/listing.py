"""What the commands print on stdout for scripts: the group listing of `scan` and `review`
(text, json, csv, or the files marked trash separated by NULs) and the dry-run listing of
`apply` (text, csv, JSON lines, NULs), and the options that choose them.

Paths are written whole and byte-exact (an undecodable name byte comes out as that byte, see
ui.write_data), except in JSON, which cannot hold such bytes: there they are `\\udcXX`
escapes, as in the report. CSV is RFC 4180 quoting (a name with a comma, quote or newline is
quoted), one line per row ending in `\\n`, with a header row.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from dedupe import report as report_mod
from dedupe.cli.ui import UI, CliError, write_data
from dedupe.report import Report

if TYPE_CHECKING:
    from dedupe.apply import ApplyResult

FORMATS = ("text", "json", "csv")
# One row per file of a group (scan, review).
GROUP_FIELDS = ("group", "kind", "action", "path", "size", "reason")
# One row per file apply would act on, skip, or found done (apply --dry-run).
ACTION_FIELDS = ("action", "path", "size", "destination", "reason")


def add_group_format_options(parser: argparse.ArgumentParser, *, json_alias: bool) -> None:
    """--format text|json|csv and --print0 for a command that lists groups (one at a time)."""
    choice = _format_options(
        parser,
        FORMATS,
        None,
        "how the groups are printed on stdout: text (a table per group, the default), json "
        "(the whole report), csv (one row per file: " + ", ".join(GROUP_FIELDS) + ")",
        "print only the files marked trash, each followed by a NUL byte (for xargs -0)",
    )
    if json_alias:
        choice.add_argument(
            "--json", dest="format", action="store_const", const="json", help="--format json"
        )


def _format_options(
    parser: argparse.ArgumentParser,
    formats: tuple[str, ...],
    default: str | None,
    format_help: str,
    print0_help: str,
) -> argparse._MutuallyExclusiveGroup:
    """--format and --print0 (its own value of `format`), one or the other."""
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--format", choices=formats, default=default, help=format_help)
    choice.add_argument(
        "--print0", dest="format", action="store_const", const="print0", help=print0_help
    )
    return choice


def add_exit_code_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit with 10 instead of 0 when some file is proposed for trash (as "
        "`git diff --exit-code`), so that a script or cron job can tell",
    )


def write_groups(report: Report, form: str, ui: UI, *, totals: bool, limit: int | None) -> None:
    """The report's groups on stdout in `form` (see FORMATS; "print0"). The text tables are
    folded to the width of a terminal, never in a pipe or a file; `limit` (text only) prints
    the first groups alone, and `totals` the line of totals after them."""
    if form == "json":
        write_data(report_mod.dumps(report) + "\n")
    elif form == "csv":
        write_data(groups_csv(report))
    elif form == "print0":
        write_data(trash_nul(report))
    else:
        from dedupe.review import plain

        plain.render(report, ui.out, fold=ui.out_tty, totals=totals, limit=limit)


def groups_csv(report: Report) -> str:
    return csv_text(
        GROUP_FIELDS,
        (
            (group.id, group.kind, m.action, m.record.path, m.record.size, m.reason)
            for group in report.groups
            for m in group.members
        ),
    )


def trash_nul(report: Report) -> str:
    """The files marked trash, each followed by NUL (paths cannot hold NUL, so any name is
    safe), in the report's order."""
    return "".join(
        m.record.path + "\0"
        for group in report.groups
        for m in group.members
        if m.action == "trash"
    )


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def json_text(value: object) -> str:
    """One compact JSON value on one line; undecodable name bytes as \\udcXX (see report)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


# ---------------------------------------------------------------- apply's dry run


def add_action_format_options(parser: argparse.ArgumentParser) -> None:
    """--format text|csv|json and --print0 for apply's dry-run listing."""
    _format_options(
        parser,
        ("text", "csv", "json"),
        "text",
        "how a dry run lists the files on stdout: text (tab-separated, the default), csv ("
        + ", ".join(ACTION_FIELDS)
        + "), json (one JSON object per line)",
        "a dry run prints only the files it would act on, each followed by a NUL byte",
    )


def refuse_format_when_acting(form: str, acting: bool) -> None:
    """The listing formats are for a dry run: refuse them on an apply that acts, instead of
    acting and leaving a script waiting for a list that never comes."""
    if acting and form != "text":
        option = "--print0" if form == "print0" else f"--format {form}"
        raise CliError(f"{option} lists what a dry run would do: add --dry-run")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of apply's listing: what would be done to a file, or why it is skipped."""

    # trash, move, hardlink, symlink, reflink, remove (no action chosen), skip, done (by an
    # interrupted run)
    action: str
    path: str
    size: int | None = None
    destination: str | None = None
    reason: str | None = None


def action_rows(result: ApplyResult, verb: str, destinations: bool) -> list[Row]:
    """The rows of a dry run: files an interrupted apply already handled, then the files it
    would act on (`verb`; with `destinations`, where each goes: the --move target, or the kept
    copy a --link links to), then the skipped ones with their reasons."""
    rows = [
        Row("done", o.path, o.size, o.destination, "by the interrupted apply")
        for o in result.previously
    ]
    rows.extend(
        Row(verb, o.path, o.size, o.destination if destinations else None) for o in result.done
    )
    rows.extend(Row("skip", s.path, reason=s.reason) for s in result.skipped)
    return rows


def write_actions(rows: Sequence[Row], form: str) -> None:
    if not rows:
        return
    if form == "csv":
        write_data(
            csv_text(
                ACTION_FIELDS, ((r.action, r.path, r.size, r.destination, r.reason) for r in rows)
            )
        )
    elif form == "json":
        write_data("".join(json_text(asdict(r)) + "\n" for r in rows))
    elif form == "print0":
        write_data("".join(r.path + "\0" for r in rows if r.action not in ("skip", "done")))
    else:
        write_data("".join(_row_text(r) + "\n" for r in rows))


def _row_text(row: Row) -> str:
    """The tab-separated line (unchanged from the first release, for the scripts using it)."""
    if row.action == "done":
        return f"done\t{row.path}\t({row.reason})"
    if row.action == "skip":
        return f"skip\t{row.path}\t{row.reason}"
    target = f"\t-> {row.destination}" if row.destination is not None else ""
    return f"{row.action}\t{row.path}{target}\t{row.size}"
