"""The report as static HTML pages for a browser: every group, the kept copy marked, distances
and reasons, the files the scan could not use; thumbnails inline as small WebP pictures. No
script, no server, no network: each page stands alone and the pages link to each other.

A big report is split: a page holds at most PAGE_GROUPS groups and PAGE_FILES files (a group is
never split). The first page is the file asked for (OUT.html); the others are
OUT_pages/page-002.html and so on beside it, and the first page lists them all. A page of 100
groups of two or three photos is about 2 MB and opens at once; a single page of 5,000 groups
was some 100 MB. Groups are laid out only when scrolled to (CSS content-visibility), and
pictures decoded as they come into view (loading="lazy").

`pages()` says which groups go on which page and `render()` makes one page's text (both pure);
`thumbnails()` decodes pictures (threads, with progress); `write()` writes every page, a page's
pictures decoded just before it is written, so memory holds one page of them at a time.
"""

from __future__ import annotations

import concurrent.futures as futures
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dedupe.durable import write_text_atomic
from dedupe.models import NO_FACTS, FileFacts, Group, Member, Problem
from dedupe.report import Report
from dedupe.review import facts
from dedupe.review.thumbs import ThumbnailError, data_uri, load
from dedupe.scan import NoProgress, Progress
from dedupe.text import human_bytes, printable

# Long side of the inline thumbnails, in pixels: sharp in the page's cards (up to ~280 px wide).
THUMB_SIDE = 240
# WebP at this quality: about a third smaller than the JPEG of the same look (see README).
THUMB_FORMAT, THUMB_QUALITY = "WEBP", 70
# A page closes at this many groups, or before the group that would take it past PAGE_FILES.
PAGE_GROUPS = 100
PAGE_FILES = 300
# Unreadable and skipped files listed open on the first page up to this many (else folded).
OPEN_PROBLEMS = 50


def thumbnails(
    paths: Sequence[str], *, jobs: int | None = None, progress: Progress | None = None
) -> dict[str, str]:
    """path -> `data:` URI of its thumbnail, or the reason there is none (starts with "!")."""
    progress = progress or NoProgress()
    progress.start("Making thumbnails", len(paths))
    out: dict[str, str] = {}
    with futures.ThreadPoolExecutor(jobs or min(8, os.cpu_count() or 1)) as pool:
        for path, uri in zip(paths, pool.map(_thumbnail, paths), strict=True):
            out[path] = uri
            progress.advance()
    return out


def _thumbnail(path: str) -> str:
    try:
        return data_uri(load(path, THUMB_SIDE), THUMB_FORMAT, THUMB_QUALITY)
    except ThumbnailError as error:
        return "!" + str(error)


def group_paths(report: Report, groups: Sequence[Group] | None = None) -> list[str]:
    chosen = report.groups if groups is None else groups
    return [m.record.path for g in chosen for m in g.members]


def pages(groups: Sequence[Group]) -> list[range]:
    """The groups of each page (as index ranges): PAGE_GROUPS at most, and no more files than
    PAGE_FILES unless one group alone has more."""
    out: list[range] = []
    start = files = 0
    for k, group in enumerate(groups):
        count = len(group.members)
        if k > start and (k - start >= PAGE_GROUPS or files + count > PAGE_FILES):
            out.append(range(start, k))
            start, files = k, 0
        files += count
    if start < len(groups) or not out:
        out.append(range(start, len(groups)))
    return out


def page_paths(out: Path, count: int) -> list[Path]:
    """Where each page goes: `out` first, then OUT_pages/page-002.html, ..."""
    folder = out.parent / f"{out.stem}_pages"
    return [out] + [folder / f"page-{n:03d}.html" for n in range(2, count + 1)]


STYLE = """
:root { color-scheme: light; --keep: #1a7f37; --trash: #cf222e; --muted: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 48px;
       color: #1f2328; background: #f6f8fa; }
header { padding: 16px 0 8px; border-bottom: 1px solid #d0d7de; margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
header p { margin: 2px 0; color: var(--muted); }
.totals { font-weight: 600; color: #1f2328; }
nav { margin: 8px 0; }
nav a, nav span { margin-right: 12px; }
ol.pages { list-style: none; padding: 0; margin: 8px 0 16px; display: grid; gap: 4px 12px;
           grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); font-size: 12px; }
ol.pages li { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 4px 8px; }
details.problems { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 8px;
                   padding: 8px 16px; margin: 0 0 16px; }
details.problems summary { font-weight: 600; cursor: pointer; }
details.problems li { margin: 2px 0; }
section.group { background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
                padding: 12px 16px; margin: 0 0 16px;
                content-visibility: auto; contain-intrinsic-size: auto 480px; }
section.group h2 { font-size: 15px; margin: 0 0 10px; }
.status { font-weight: normal; color: var(--muted); }
.files { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px; }
figure.file { margin: 0; border: 2px solid #d0d7de; border-radius: 8px;
              padding: 10px; background: #fff; position: relative; min-width: 0; }
figure.keep { border: 4px solid var(--keep); background: #dafbe1; }
figure.trash { border: 2px dashed var(--trash); }
figure.trash .thumb { opacity: 0.75; }
.badge { position: absolute; top: 6px; right: 6px; font-weight: 700; font-size: 12px;
         padding: 2px 8px; border-radius: 10px; color: #fff; z-index: 1; }
figure.keep .badge { background: var(--keep); }
figure.trash .badge { background: var(--trash); }
.thumb { display: flex; align-items: center; justify-content: center; height: 240px;
         background: #eaeef2; border-radius: 4px; overflow: hidden; }
.thumb img { max-width: 100%; max-height: 240px; width: auto; height: auto; display: block; }
.missing { color: var(--trash); padding: 8px; text-align: center; }
figcaption { margin-top: 8px; }
.reason { margin: 0 0 6px; font-weight: 600; }
figure.keep .reason { color: var(--keep); }
figure.trash .reason { color: var(--trash); }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0 8px; margin: 0 0 6px; }
dt { color: var(--muted); }
dd { margin: 0; }
.path { font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; margin: 0; }
"""


def _esc(text: str) -> str:
    return html.escape(printable(text), quote=True)


def _path_html(path: str) -> str:
    """A path that wraps after a "/" (a <wbr> there), and inside a name only if it must."""
    return "/<wbr>".join(_esc(part) for part in path.split("/"))


def _file_html(member: Member, root: str, thumb: str | None, carried: FileFacts = NO_FACTS) -> str:
    record = member.record
    fp = record.fingerprint
    when, what = facts.date(record)
    action = member.action
    if thumb and not thumb.startswith("!"):
        picture = (
            f'<img src="{thumb}" alt="{_esc(os.path.basename(record.path))}" '
            f'title="{_esc(record.path)}" loading="lazy" decoding="async">'
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
        f'<span class="badge">{"✓ KEEP" if action == "keep" else "✗ TRASH"}</span>'
        f'<div class="thumb">{picture}</div>'
        f"<figcaption>"
        f'<p class="reason">{_esc(member.reason)}</p>'
        f"<dl>{details}</dl>"
        f'<p class="path" title="{_esc(record.path)}">'
        f"{_path_html(facts.display_path(record.path, root))}</p>"
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


def _problems_html(errors: Sequence[Problem], skipped: Sequence[Problem], root: str) -> str:
    """The files the scan could not read or skipped, each with its reason."""
    if not errors and not skipped:
        return ""
    parts = []
    for title, items in (("Unreadable", errors), ("Skipped", skipped)):
        if items:
            lines = "".join(
                f'<li><span class="path">{_path_html(facts.display_path(p.path, root))}</span>'
                f" — {_esc(p.reason)}</li>"
                for p in items
            )
            parts.append(f"<p><b>{title} ({len(items):,})</b></p><ul>{lines}</ul>")
    opened = " open" if len(errors) + len(skipped) <= OPEN_PROBLEMS else ""
    words = facts.plural(len(errors), "unreadable file")
    if skipped:
        words += f" and {facts.plural(len(skipped), 'skipped file')}"
    return (
        f'<details class="problems"{opened}><summary>{words} (not compared with anything): '
        f"the reasons</summary>{''.join(parts)}</details>"
    )


@dataclass(frozen=True)
class Page:
    """One page of the report: its position and the links it needs."""

    number: int  # 1-based
    count: int
    groups: range
    links: Sequence[str]  # href of every page, as seen from this page


def _nav_html(page: Page, groups: Sequence[Group]) -> str:
    if page.count == 1:
        return ""
    first, last = groups[page.groups.start].id, groups[page.groups.stop - 1].id
    parts = [f"<span>Page {page.number} of {page.count} (groups {first}&ndash;{last})</span>"]
    if page.number > 1:
        parts.append(f'<a href="{page.links[page.number - 2]}">&lsaquo; previous</a>')
    if page.number < page.count:
        parts.append(f'<a href="{page.links[page.number]}">next &rsaquo;</a>')
    if page.number > 1:
        parts.append(f'<a href="{page.links[0]}#pages">all pages</a>')
    return f"<nav>{''.join(parts)}</nav>"


def _index_html(page: Page, report: Report, ranges: Sequence[range]) -> str:
    """Every page, with its groups, reviewed, files to trash and bytes freed (first page)."""
    if page.count == 1:
        return ""
    items = []
    for n, (href, indices) in enumerate(zip(page.links, ranges, strict=True), start=1):
        chosen = [report.groups[k] for k in indices]
        trash = sum(1 for g in chosen for m in g.members if m.action == "trash")
        freed = human_bytes(sum(g.reclaimable_bytes for g in chosen))
        items.append(
            f'<li><a href="{href}">page {n}</a>: groups {chosen[0].id}&ndash;{chosen[-1].id}'
            f"<br>{sum(g.reviewed for g in chosen)}/{len(chosen)} reviewed · {trash} to trash"
            f" · {_esc(freed)}</li>"
        )
    return f'<ol class="pages" id="pages">{"".join(items)}</ol>'


def render(
    report: Report,
    thumbs: Mapping[str, str],
    page: Page | None = None,
    ranges: Sequence[range] | None = None,
) -> str:
    """One page (the first, or `page`). `thumbs` maps a path to a data URI or "!reason" (see
    thumbnails()); `ranges` are every page's groups (see pages())."""
    ranges = pages(report.groups) if ranges is None else ranges
    if page is None:
        out = Path("report.html")
        links = [_href(p, out) for p in page_paths(out, len(ranges))]
        page = Page(1, len(ranges), ranges[0], links)
    root = facts.common_root(report.roots)
    roots = ", ".join(printable(r) for r in report.roots)
    s = report.settings
    nav = _nav_html(page, report.groups) if report.groups else ""
    header = (
        "<header><h1>dedupe report</h1>"
        f"<p>Scanned {_esc(roots)}"
        + (f" on {_esc(report.created_at)}" if report.created_at else "")
        + f" · {_esc(s.algorithm)} {s.hash_size}x{s.hash_size}, threshold {s.threshold:g}"
        f" (largest distance {s.max_distance})</p>"
        + (f"<p>Paths are relative to {_esc(root)}</p>" if root else "")
        + f'<p class="totals">{_esc(facts.totals(report))}</p>{nav}</header>'
    )
    first = ""
    if page.number == 1:
        first = _problems_html(report.errors, report.skipped, root) + _index_html(
            page, report, ranges
        )
    body = "".join(_group_html(report.groups[k], root, thumbs, report.facts) for k in page.groups)
    if not report.groups:
        body = "<p>No duplicate groups.</p>"
    where = f" · page {page.number} of {page.count}" if page.count > 1 else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>dedupe report · {len(report.groups)} groups{where}</title>"
        f"<style>{STYLE}</style></head><body>{header}<main>{first}{body}</main>"
        f"{nav and f'<footer>{nav}</footer>'}</body></html>\n"
    )


def _href(target: Path, base: Path) -> str:
    return Path(os.path.relpath(target, base.parent)).as_posix()


@dataclass(frozen=True)
class Written:
    pages: list[Path]
    files: int  # files shown
    missing: int  # files shown without a picture (gone, unreadable)


def write(
    report: Report, out: Path, *, jobs: int | None = None, progress: Progress | None = None
) -> Written:
    """Write every page (atomically, one after the other, each with its thumbnails made just
    before it). Pages left over from a bigger report are removed. Raises OSError."""
    progress = progress or NoProgress()
    ranges = pages(report.groups)
    paths = page_paths(out, len(ranges))
    progress.start("Making thumbnails", sum(len(g.members) for g in report.groups))
    missing = 0
    with futures.ThreadPoolExecutor(jobs or min(8, os.cpu_count() or 1)) as pool:
        for number, (path, indices) in enumerate(zip(paths, ranges, strict=True), start=1):
            wanted = group_paths(report, [report.groups[k] for k in indices])
            thumbs: dict[str, str] = {}
            for item, uri in zip(wanted, pool.map(_thumbnail, wanted), strict=True):
                thumbs[item] = uri
                missing += uri.startswith("!")
                progress.advance()
            page = Page(number, len(ranges), indices, [_href(p, path) for p in paths])
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, render(report, thumbs, page, ranges))
    folder = out.parent / f"{out.stem}_pages"
    if folder.is_dir():
        for stale in sorted(folder.glob("page-*.html")):
            if stale not in paths:
                stale.unlink()
    return Written(paths, len(group_paths(report)), missing)
