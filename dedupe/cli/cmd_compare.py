"""`dedupe compare A B`: how far apart two images are, and whether a scan would group them."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import numpy as np

from dedupe import api, content, geometry, verify
from dedupe.cli import options
from dedupe.cli.ui import UI, printable, write_data
from dedupe.cluster import PairCheck
from dedupe.models import ImageRecord, Settings

# What orientation k (EXIF numbering) does to B, in words.
ORIENTATION_NAMES = {
    1: "as it is",
    2: "mirrored",
    3: "turned 180 degrees",
    4: "flipped upside down",
    5: "mirrored and turned 90 degrees counter-clockwise",
    6: "turned 90 degrees clockwise",
    7: "mirrored and turned 90 degrees clockwise",
    8: "turned 90 degrees counter-clockwise",
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "compare",
        help="show how far apart two images are and whether a scan would group them",
        description="Print the rate (differing bits / total bits) between A and B under every "
        "algorithm and hash size, the score of the independent check, and whether the "
        "settings (by default the scan defaults) would group them, with and without "
        "--rotations. Use it to calibrate --threshold.",
    )
    parser.add_argument("a", metavar="A", help="an image file")
    parser.add_argument("b", metavar="B", help="another image file")
    options.add_hash_options(parser, threshold=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def _verdict(check: PairCheck) -> str:
    if check.exact:
        return "grouped (identical bytes)"
    how = "" if check.orientation == 1 else f" (B {ORIENTATION_NAMES[check.orientation]})"
    if check.grouped:
        return "grouped" + how
    if check.shots:
        return "grouped as similar shots, all kept" + how
    return "not grouped" + how


def _seconds(ms: int) -> str:
    if ms < 1000:
        return f"{ms / 1000:.2g} s"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.0f} min"
    if ms < 86_400_000:
        return f"{ms / 3_600_000:.1f} h"
    return f"{ms / 86_400_000:.0f} days"


def _alignment(check: PairCheck, a: ImageRecord, b: ImageRecord) -> list[str]:
    """How the match aligned the two, in words (nothing for "as they are")."""
    if check.hypothesis == verify.TRIMMED:
        trims = [verify.trimmed(r.fingerprint.check) for r in (a, b)]
        shown = [
            f"{name} {round(100 * max(t))}%" for name, t in zip("AB", trims, strict=True) if max(t)
        ]
        return ["a border trimmed (" + ", ".join(shown) + ")"] if shown else []
    if check.hypothesis == 0:
        return []
    h = verify.hypotheses()[check.hypothesis]
    if h.angle:
        return [f"turned {abs(h.angle):g} degrees"]
    return [f"one cropped or framed from the other (zoom {h.zoom:g}x)"]


def _framing(found: geometry.Geometry, b: ImageRecord) -> list[str]:
    """What the geometric check's transform says of how the two differ, in words."""
    parts = []
    shows_a, shows_b = (min(x, 1.0) for x in found.overlap)  # B shows of A, A shows of B
    border = max(verify.trimmed(b.fingerprint.check))
    if shows_a < 0.97 and shows_b < 0.97:
        parts.append(f"each cropped (B shows {shows_a:.0%} of A, A {shows_b:.0%} of B)")
    elif shows_a < 0.97:
        parts.append(f"cropped {1 - shows_a:.0%} (B shows {shows_a:.0%} of A)")
    elif shows_b < 0.97 and border >= 0.02:
        parts.append(f"framed (B adds a border: A is {shows_b:.0%} of B)")
    elif shows_b < 0.97:
        parts.append(f"A cropped {1 - shows_b:.0%} (A shows {shows_b:.0%} of B)")
    if abs(found.angle) >= 1.0:
        parts.append(f"turned {abs(found.angle):.0f} degrees")
    return parts


def _content(check: PairCheck) -> str | None:
    """The content check's verdict in words when it refuted the pair (else None)."""
    found = check.content
    if found is None or found.verdict != content.DIFFERENT:
        return None
    besides = (
        f", besides one patch of {found.patch / found.blocks:.0%} of the picture"
        if found.forgiven and found.patch
        else ""
    )
    return (
        f"different pictures: {found.share:.0%} of the detailed areas differ{besides} (one "
        f"layout, other content; a copy: under {content.MAX_DIFFERING:.0%}, besides a stamp or "
        f"caption of at most {content.MAX_PATCH:.0%} of the picture)"
    )


def _patch(check: PairCheck) -> list[str]:
    """The patch the content check forgave a copy (a stamp, a caption), in words."""
    found = check.content
    if found is None or found.verdict != content.SAME or not found.forgiven or not found.blocks:
        return []
    share = found.patch / found.blocks
    return [f"{share:.0%} differs in one patch (a stamp or caption)"] if share >= 0.005 else []


def _looked(check: PairCheck, a: ImageRecord, b: ImageRecord) -> str | None:
    """The verdict in words when the geometric check settled the pair (else None)."""
    found = check.geometry
    if not check.looked:
        return None
    if found is None:
        return (
            "not settled: the thumbnails cannot tell and a picture could not be read again "
            "(changed or gone since it was scanned), so it is no copy"
        )
    if found.verdict == geometry.SAME and check.kind == verify.COPY:
        framing = _framing(found, b)
        covered = round(100 * check.covered)  # the match's, where it aligned them as they are
        parts = ["same picture", *(framing or ([f"{covered}% covered"] if covered else []))]
        parts += _patch(check)
        return ", ".join(parts) + f" ({found.inliers} matching points agree)"
    if found.verdict == geometry.UNKNOWN and found.small and check.kind == verify.COPY:
        small = [
            f"{name} is {r.fingerprint.width}x{r.fingerprint.height}"
            for name, r in (("A", a), ("B", b))
            if max(r.fingerprint.width, r.fingerprint.height) <= geometry.SMALL_SIDE
        ]
        return (
            f"same picture, by the thumbnails alone ({', '.join(small)}: too small for "
            f"keypoints to tell; {found.inliers} matching points agree)"
        )
    if found.verdict == geometry.DIFFERENT and found.featureless:
        return (
            "different pictures: a dark picture with no structure above its noise (fewer than "
            f"{geometry.MIN_KEYPOINTS} keypoints once smoothed) is no copy by its thumbnails alone"
        )
    if found.verdict == geometry.SHIFTED:
        return (
            f"different pictures: a shifted view ({found.inliers} matching points agree at one "
            f"scale, x{found.scale:.2f}, but each shows only {found.shown:.1%} of the other: a "
            "scrolled screen or another shot of the scene; a copy cut, framed or resized "
            "shows all of one in the other)"
        )
    if found.verdict == geometry.DIFFERENT:
        if found.inliers >= geometry.MIN_INLIERS and found.spread < geometry.SPREAD:
            return (
                f"different pictures: {found.inliers} matching points, but only in "
                f"{found.spread:.0%} of the picture (a shared layout, frame or background)"
            )
        if found.inliers >= geometry.MIN_INLIERS:
            shown = min(min(found.overlap), 1.0)
            return (
                f"different pictures: {found.inliers} matching points agree only on an "
                f"alignment no copy has (scale {found.scale:.2f}, turned "
                f"{abs(found.angle):.0f} degrees, {shown:.0%} of one shown in the other)"
            )
        return (
            f"different pictures: {found.inliers} of {found.matches} matching points agree "
            f"on one alignment (a copy: {geometry.MIN_INLIERS} or more, over most of it)"
        )
    return None


def explain(check: PairCheck, a: ImageRecord, b: ImageRecord) -> str:
    """The check's verdict on a pair in words, e.g. "same picture, 4% covered" or "different
    shots: captured 0.3 s apart by the same camera"."""
    if check.kind == verify.FLAT:
        flat = [name for name, f in zip("AB", check.low_information, strict=True) if f]
        which = " and ".join(flat)
        return f"too flat to compare: {which} {'is' if len(flat) == 1 else 'are'} one colour"
    if not check.screened:
        return (
            f"different pictures: their 16x16 thumbnails correlate {check.best:.2f} at best "
            f"(the match needs {verify.SCREEN})"
        )
    if check.moving:
        rows = verify.signature_array([a.fingerprint.check, b.fingerprint.check])
        moving, still = ("A", "B") if verify.animated_rows(rows)[0] else ("B", "A")
        return (
            f"different pictures: {moving} is an animation and {still} a still picture "
            "(a still is no copy of an animation, even of its first frame)"
        )
    covered = round(100 * check.covered)
    if check.kind == verify.SHOTS:
        by = " by the same camera" if check.same_camera else ""
        return f"different shots: captured {_seconds(check.apart_ms)} apart{by}"
    refuted = _content(check)
    if refuted is not None:
        return refuted
    looked = _looked(check, a, b)
    if looked is not None and check.kind != verify.SHOTS:
        return looked
    if check.kind == verify.COPY:
        parts = ["same picture"]
        if covered:
            parts.append(f"{covered}% covered")
        parts += _patch(check)
        parts += _alignment(check, a, b)
        if abs(check.gain - 1) >= 0.05:
            parts.append(f"contrast x{check.gain:.2f}")
        return ", ".join(parts)
    if check.apart_ms > 0:
        return f"different pictures, captured {_seconds(check.apart_ms)} apart"
    warped = check.hypothesis not in (0, verify.TRIMMED)
    allowed = verify.MAX_COVERED_WARPED if warped else verify.MAX_COVERED
    if check.covered > allowed:
        return (
            f"different pictures: {covered}% of the picture differs (a copy: {allowed:.0%} at most)"
        )
    if check.correlation < verify.MATCH:
        return (
            f"different pictures: the rest correlates {check.correlation:.3f} "
            f"(a copy: {verify.MATCH} or more)"
        )
    if not verify.MIN_GAIN <= check.gain <= verify.MAX_GAIN:
        return f"different pictures: a contrast change of x{check.gain:.2f} is more than an edit"
    if check.detail_std >= verify.DETAIL_LEVELS and check.detail < verify.DETAIL_MATCH:
        return (
            f"different pictures: their fine detail (text, texture, edges) correlates "
            f"{check.detail:.2f} (a copy: {verify.DETAIL_MATCH} or more)"
        )
    if check.colour < verify.CHROMA_MATCH:
        return (
            f"different pictures: their colours are laid out otherwise (likeness "
            f"{check.colour:.2f}, a copy: {verify.CHROMA_MATCH} or more)"
        )
    if verify.one_smooth(np.array(check.texture[:1]), np.array(check.texture[1:]))[0]:
        smooth, textured = ("A", "B") if check.texture[0] < check.texture[1] else ("B", "A")
        low, high = sorted(check.texture)
        return (
            f"different pictures: {smooth} is smooth where {textured} is textured (fine "
            f"detail of {low:.1f} and {high:.1f} gray levels; a copy: at most "
            f"{verify.TEXTURE_RATIO:g} times the smoother)"
        )
    return "different pictures: their brightness differs more than an edit makes"


def run(args: argparse.Namespace, ui: UI) -> int:
    settings = options.settings_from(args)
    compared = api.compare_files(args.a, args.b, settings=settings)
    rows: list[dict[str, Any]] = [
        {
            "algorithm": h.algorithm,
            "bits": h.bits,
            "distance": h.distance,
            "rate": round(h.rate, 4),
            "rotations_distance": h.rotations_distance,
            "rotations_rate": round(h.rotations_rate, 4),
        }
        for h in compared.hashes
    ]
    current = {False: compared.plain, True: compared.rotations}
    a, b = compared.a, compared.b
    if args.json:
        write_data(json.dumps(_json(a, b, rows, settings, current), indent=2) + "\n")
        return 0
    write_data(_text(a, b, rows, settings, current))
    return 0


def _describe(record: ImageRecord) -> str:
    f = record.fingerprint
    return f"{printable(record.path)}  ({f.width}x{f.height} {f.format})"


def _text(
    a: ImageRecord,
    b: ImageRecord,
    rows: list[dict[str, Any]],
    settings: Settings,
    current: dict[bool, PairCheck],
) -> str:
    lines = [f"A  {_describe(a)}", f"B  {_describe(b)}", ""]
    lines.append("algorithm  bits  distance  rate    with rotations")
    for row in rows:
        lines.append(
            f"{row['algorithm']:<9}  {row['bits']:>4}  {row['distance']:>8}  "
            f"{row['rate']:<6.3f}  {row['rotations_distance']:>3} ({row['rotations_rate']:.3f})"
        )
    plain, turned = current[False], current[True]
    lines.append("")
    lines.append(f"check      {explain(plain, a, b)}: " + ("passes" if plain.verified else "fails"))
    lines.append(
        f"           (screen: correlation {plain.same:.4f} as they are, {plain.best:.4f} best "
        f"aligned; match: {plain.covered:.1%} covered, the rest {plain.correlation:.4f})"
    )
    if any(plain.low_information):
        lines.append("           a one-colour image is matched only as identical bytes")
    if plain.verified and not plain.grouped and not plain.exact:
        lines.append(
            f"           but {plain.distance} of {settings.bits} bits apart (more than "
            f"{settings.max_distance}): not a candidate, grouped only through other copies"
        )
    if turned.orientation != 1:
        lines.append(
            f"           with B {ORIENTATION_NAMES[turned.orientation]}: "
            f"{explain(turned, a, b)}: " + ("passes" if turned.verified else "fails")
        )
    lines.append("")
    name = (
        f"{settings.algorithm} {settings.hash_size}x{settings.hash_size}, "
        f"threshold {settings.threshold} (max distance {settings.max_distance})"
    )
    if _one_file(a, b):  # (a scan counts one inode once: never its own duplicate)
        lines.append(f"{name}: not grouped: A and B are one file ({_ONE_FILE})")
        return "\n".join(lines) + "\n"
    lines.append(f"{name}: {_verdict(plain)}")
    lines.append(f"{name}, --rotations: {_verdict(turned)}")
    return "\n".join(lines) + "\n"


_ONE_FILE = "the same path or links to it: a scan sees it once"


def _one_file(a: ImageRecord, b: ImageRecord) -> bool:
    """Whether A and B name one file (one device and inode): identical bytes, but no copy."""
    try:
        return os.path.samefile(a.path, b.path)
    except OSError:
        return False


_KINDS = {verify.DIFFERENT: "different", verify.COPY: "copy", verify.SHOTS: "shots",
          verify.FLAT: "flat"}  # fmt: skip


def _check_json(check: PairCheck, a: ImageRecord, b: ImageRecord) -> dict[str, Any]:
    return {
        "grouped": check.grouped,
        "shots": check.shots,
        "verdict": _KINDS[check.kind],
        "why": explain(check, a, b),
        "covered": round(check.covered, 4),
        "match_correlation": round(check.correlation, 4),
        "apart_ms": check.apart_ms if check.apart_ms >= 0 else None,
        "animation_and_still": check.moving,
        "content": None
        if check.content is None
        else {
            "verdict": {content.SAME: "same", content.DIFFERENT: "different"}.get(
                check.content.verdict, "unknown"
            ),
            "detailed_blocks": check.content.detailed,
            "differing_blocks": check.content.differing,
            "forgiven_patch": check.content.patch if check.content.forgiven else 0,
            "differing_share": round(check.content.share, 4),
        },
        "exact": check.exact,
        "orientation": check.orientation,
        "distance": check.oriented_distance,
        "correlation": round(check.same, 4),
        "aligned_correlation": round(check.best, 4),
        "verified": check.verified,
        "low_information": list(check.low_information),
    }


def _json(
    a: ImageRecord,
    b: ImageRecord,
    rows: list[dict[str, Any]],
    settings: Settings,
    current: dict[bool, PairCheck],
) -> dict[str, Any]:
    return {
        "a": a.path,
        "b": b.path,
        "hashes": rows,
        "settings": {
            "algorithm": settings.algorithm,
            "hash_size": settings.hash_size,
            "threshold": settings.threshold,
        },
        "same_file": _one_file(a, b),
        "plain": _check_json(current[False], a, b),
        "rotations": _check_json(current[True], a, b),
    }
