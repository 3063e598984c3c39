"""Reports of schema 2 (every image inline, with the checked pairs), as dedupe wrote them
before the index (schema 3): the reader still reads them, and these tests check it does."""

from __future__ import annotations

import binascii
import json
from pathlib import Path
from typing import Any

from dedupe import report as report_mod
from dedupe.models import ImageRecord, Member
from dedupe.report import Report


def image_json(r: ImageRecord) -> dict[str, Any]:
    """An image of a schema-2 report, as its writer wrote it: a group file's fields (but the
    member's), its orientation hashes in hex and its check signature in base64."""
    f = r.fingerprint
    out = report_mod._file_json(Member(r, 0, "keep", ""))
    for key in ("distance", "action", "reason"):
        del out[key]
    digits = f.hash.nbits // 4
    text = f.variant_bits.hex()
    out["variants"] = [text[k : k + digits] for k in range(0, len(text), digits)]
    out["check"] = binascii.b2a_base64(f.check, newline=False).decode("ascii")
    if r.links:  # last, as the writer had it
        out["hardlinks"] = out.pop("hardlinks")
    return out


def schema_2(report: Report) -> dict[str, Any]:
    """`report` as a schema-2 document: no index; its images and checked pairs inline."""
    assert report.complete, "a schema-2 report holds every image: read it with its index"
    document = report_mod.to_json(report)
    del document["index"]
    for group in document["groups"]:
        for f in group["files"]:
            for key in ("image", "device", "inode"):
                f.pop(key, None)
    checked = report.checked
    return (
        document
        | {"schema_version": 2}
        | {
            "checked_pairs": None
            if checked is None
            else checked.to_json_value() | {"digest": report_mod._checked_digest(checked)},
            "images": [image_json(r) for r in report.images],
        }
    )


def rewrite_as_schema_2(path: Path) -> dict[str, Any]:
    """Replace the (schema 3) report at `path` with the same report in schema 2; its index
    stays beside it. Returns the document written."""
    document = schema_2(report_mod.read(path, with_index=True))
    path.write_text(json.dumps(document), encoding="utf-8")
    return document


def plain(report: Report) -> Report:
    """`report` without what reading it adds (the index it was read with, where that is, its
    image numbers, the schema version it was read as): to compare with the one written."""
    return report_mod.replace(
        report,
        index=None,
        index_path=None,
        numbers={},
        read_version=report_mod.SCHEMA_VERSION,
    )


def with_images(path: Path) -> dict[str, Any]:
    """The report at `path` as JSON, with every image its index holds as `images` (as a
    schema-2 report listed them): for tests that look at every scanned file."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    images = report_mod.read(path, with_index=True).images
    return document | {"images": [image_json(r) for r in images]}
