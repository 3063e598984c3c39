"""The report as one self-contained HTML page: every group, the kept copy highlighted, distances
and reasons, thumbnails inline as base64 JPEG (no file beside it, no script, no network).

`thumbnails()` decodes the pictures (the only I/O here, in threads, with progress); `render()`
turns a report plus those thumbnails into the page text and is pure.
"""

from __future__ import annotations

import concurrent.futures as futures
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from dedupe.durable import write_text_atomic
from dedupe.models import NO_FACTS, FileFacts, Group, Member
from dedupe.report import Report
from dedupe.review import facts
from dedupe.review.thumbs import ThumbnailError, jpeg_data_uri, load
from dedupe.scan import NoProgress, Progress
from dedupe.text import human_bytes, printable

# Long side of the inline thumbnails, in pixels: sharp at the page's 240 px cards, small files.
THUMB_SIDE = 240


def thumbnails(
    paths: Sequence[str], *, jobs: int | None = None, progress: Progress | None = None
) -> dict[str, str]:
    """path -> `data:` URI of its thumbnail, or the reason there is none (starts with "!")."""
    progress = progress or NoProgress()
    progress.start("Making thumbnails", len(paths))
    out: dict[str, str] = {}

    def one(path: str) -> str:
        try:
            return jpeg_data_uri(load(path, THUMB_SIDE), quality=78)
        except ThumbnailError as error:
            return "!" + str(error)

    with futures.ThreadPoolExecutor(jobs or min(8, os.cpu_count() or 1)) as pool:
        for path, uri in zip(paths, pool.map(one, paths), strict=True):
            out[path] = uri
            progress.advance()
    return out


def group_paths(report: Report) -> list[str]:
    return [m.record.path for g in report.groups for m in g.members]


STYLE = """
:root { color-scheme: light; --keep: #1a7f37; --trash: #cf222e; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 48px;
       color: #1f2328; background: #f6f8fa; }
header { padding: 16px 0 8px; border-bottom: 1px solid #d0d7de; margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
header p { margin: 2px 0; color: var(--muted); }
.totals { font-weight: 600; color: #1f2328; }
section.group { background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
                padding: 12px 16px; margin: 0 0 16px; }
section.group h2 { font-size: 15px; margin: 0 0 10px; }
.status { font-weight: normal; color: var(--muted); }
.files { display: flex; flex-wrap: wrap; gap: 12px; }
figure.file { margin: 0; width: 264px; border: 2px solid #d0d7de; border-radius: 8px;
              padding: 10px; background: #fff; position: relative; }
figure.keep { border: 4px solid var(--keep); background: #dafbe1; }
figure.trash { border: 2px dashed var(--trash); }
figure.trash .thumb { opacity: 0.75; }
.badge { position: absolute; top: 6px; right: 6px; font-weight: 700; font-size: 12px;
         padding: 2px 8px; border-radius: 10px; color: #fff; z-index: 1; }
figure.keep .badge { background: var(--keep); }
figure.trash .badge { background: var(--trash); }
.thumb { display: flex; align-items: center; justify-content: center; height: 240px;
         background: #eaeef2; border-radius: 4px; overflow: hidden; }
.thumb img { max-width: 240px; max-height: 240px; display: block; }
.missing { color: var(--trash); padding: 8px; text-align: center; }
figcaption { margin-top: 8px; }
.reason { margin: 0 0 6px; font-weight: 600; }
figure.keep .reason { color: var(--keep); }
figure.trash .reason { color: var(--trash); }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0 8px; margin: 0 0 6px; }
dt { color: var(--muted); }
dd { margin: 0; }
.path { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; margin: 0; }
"""


def _esc(text: str) -> str:
    return html.escape(printable(text), quote=True)


def _file_html(member: Member, root: str, thumb: str | None, carried: FileFacts = NO_FACTS) -> str:
    record = member.record
    fp = record.fingerprint
    when, what = facts.date(record)
    action = member.action
    if thumb and not thumb.startswith("!"):
        picture = (
            f'<img src="{thumb}" alt="{_esc(os.path.basename(record.path))}" '
            f'title="{_esc(record.path)}">'
        )
    else:
        why = thumb[1:] if thumb else "no thumbnail"
        picture = f'<div class="missing">no picture: {_esc(why)}</div>'
    rows = [
        ("resolution", facts.resolution(record)),
        ("size", human_bytes(record.size)),
        ("format", fp.format),
        ("taken" if what == "taken" else "modified", when),
        ("distance", str(member.distance)),
    ]
    # what the file carries: its Live Photo motion part, sidecars, twins, capture metadata
    for line in facts.unit_lines(carried, record.path):
        name, _, value = line.partition(": ")
        rows.append((name, value) if value else ("", line))
    details = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in rows)
    return (
        f'<figure class="file {action}">'
        f'<span class="badge">{"KEEP" if action == "keep" else "TRASH"}</span>'
        f'<div class="thumb">{picture}</div>'
        f"<figcaption>"
        f'<p class="reason">{_esc(member.reason)}</p>'
        f"<dl>{details}</dl>"
        f'<p class="path" title="{_esc(record.path)}">'
        f"{_esc(facts.display_path(record.path, root))}</p>"
        f"</figcaption></figure>"
    )


def _group_html(
    group: Group, root: str, thumbs: Mapping[str, str], known: Mapping[str, FileFacts]
) -> str:
    status = "reviewed" if group.reviewed else "pending"
    title = facts.group_title(group, status)
    head, _, word = title.rpartition(" · ")
    files = "".join(
        _file_html(m, root, thumbs.get(m.record.path), known.get(m.record.path, NO_FACTS))
        for m in group.members
    )
    return (
        f'<section class="group" id="group-{group.id}">'
        f'<h2>{_esc(head)} · <span class="status">{_esc(word)}</span></h2>'
        f'<div class="files">{files}</div></section>'
    )


def render(report: Report, thumbs: Mapping[str, str]) -> str:
    """The whole page. `thumbs` maps a path to a data URI or "!reason" (see thumbnails())."""
    root = facts.common_root(report.roots)
    roots = ", ".join(printable(r) for r in report.roots)
    s = report.settings
    header = (
        "<header><h1>dedupe report</h1>"
        f"<p>Scanned {_esc(roots)}"
        + (f" on {_esc(report.created_at)}" if report.created_at else "")
        + f" · {_esc(s.algorithm)} {s.hash_size}x{s.hash_size}, threshold {s.threshold:g}"
        f" (largest distance {s.max_distance})</p>"
        + (f"<p>Paths are relative to {_esc(root)}</p>" if root else "")
        + f'<p class="totals">{_esc(facts.totals(report))}</p></header>'
    )
    body = "".join(_group_html(g, root, thumbs, report.facts) for g in report.groups)
    if not report.groups:
        body = "<p>No duplicate groups.</p>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>dedupe report · {len(report.groups)} groups</title>"
        f"<style>{STYLE}</style></head><body>{header}<main>{body}</main></body></html>\n"
    )


def write(report: Report, path: Path, thumbs: Mapping[str, str]) -> None:
    """Write the page atomically (readable as the umask allows, like any file)."""
    write_text_atomic(path, render(report, thumbs))
