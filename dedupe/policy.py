"""Which copy of a group to keep: an ordered chain of rules, each explainable in words.

The rules (`--keep`, default `resolution,sidecar,metadata,encoding,size,date,path`):
  resolution  more pixels wins (of the picture: a uniform border added around it is not more,
              nor are a stretched copy's added pixels: its shape is not the group's)
  sidecar     the copy that carries more wins: a Live Photo's motion part, sidecars (XMP edits,
              Apple .AAE edits, Google Takeout metadata, .THM), a RAW + JPEG/HEIC capture
  encoding    a lossless file (PNG, TIFF, BMP, lossless WebP, in full colour or gray) wins over
              a lossy or palette one (JPEG, lossy WebP, HEIC, GIF): a lossy file's bytes do not
              say it holds more of the picture (noise, grain or a re-encode of a graphic make
              a JPEG larger than its lossless original)
  size        larger file wins (less compressed)
  format      RAW > HEIC/PNG/TIFF (lossless or original) > JPEG/WebP/AVIF > GIF
  metadata    the copy with the most capture metadata wins: EXIF date taken, GPS, camera make
              and model (not the tags that say nothing about the capture: an orientation tag,
              which a copy stored turned adds, the software, the resolution units)
  original    a camera original wins over an export: camera EXIF (make or model), no editing
              software in the EXIF Software tag, a camera-style file name (IMG_1234, DSC_0001)
  date        older file (mtime) wins: the original usually predates its copies
  path        shorter path wins, then the alphabetically first (always decides)
`--prefer DIR` breaks a tie left by the rules in favour of a copy under DIR; `--protect DIR`
files are never proposed for trash; `--reference DIR` files are always kept and one of them is
the keeper, so every copy outside the reference folders is proposed for trash. Every group keeps
at least one file, always.

Units (see companions.py): an image is decided together with its companions (sidecars, a Live
Photo's motion part), and a RAW and its JPEG/HEIC twin are one unit (`twins="together"`): the
files of a unit are kept or trashed together, and the rules rank a unit by its best file. With
`twins="duplicate"` the twin is a copy of its RAW, which always wins over it.

Edits are never lost silently: a unit that carries a sidecar or motion part of a kind the kept
unit has none of is kept as well, and its reason says why (unless `lose_sidecars`); a unit
trashed with its companions says so in its reason, and where the kept copy has the same kind of
sidecar with other content.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from dedupe import companions, verify
from dedupe.models import NO_FACTS, Action, FileFacts, ImageRecord, KeepRules, Member
from dedupe.text import human_bytes

RULES = (
    "resolution", "sidecar", "encoding", "size", "format", "metadata", "original", "date", "path",
)  # fmt: skip
DEFAULT_ORDER = ("resolution", "sidecar", "metadata", "encoding", "size", "date", "path")

RAW_FORMATS = frozenset({"RAW", "DNG", "CR2", "CR3", "NEF", "ARW", "ORF", "RAF", "RW2", "PEF"})

# EXIF Software values of editors and exporters (compared without case, as parts of the text):
# a file they wrote is not a camera original. A camera's own firmware version is not here.
EDITORS = (
    "photoshop", "lightroom", "gimp", "darktable", "rawtherapee", "capture one", "affinity",
    "pixelmator", "snapseed", "luminar", "digikam", "picasa", "paint.net", "acdsee",
    "photoscape", "imagemagick", "graphicsmagick", "photos.app", "windows photo editor",
    "microsoft photos", "shotwell", "gthumb", "photoprism", "on1 photo", "dxo",
)  # fmt: skip
# A camera's or phone's file name: IMG_1234, DSC_0001, _DSC1234, P1010001, PXL_20230101_120000,
# 20230101_120000 (not Apple's edited IMG_E1234, nor a copy's "IMG_1234 (1)" or "-edited").
CAMERA_NAME = re.compile(r"(?:[A-Z]{1,5}_?|_[A-Z]{3})?\d{4,}(?:_\d+)*(?:_[A-Z]+)?(?:\.MP|~\d)?")
# Companion roles whose loss loses something (a .THM is a thumbnail, made again from the image).
PRECIOUS = ("motion", "xmp", "aae", "takeout")
ROLE_WORDS = {
    "motion": "Live Photo motion",
    "xmp": "XMP edits and ratings",
    "aae": "Apple Photos edits",
    "takeout": "Google Takeout metadata",
    "thm": "thumbnail",
    "twin": "RAW + JPEG/HEIC capture",
}


def format_rank(fmt: str) -> int:
    upper = fmt.upper()
    if upper in RAW_FORMATS:
        return 3
    if upper in ("HEIF", "HEIC", "PNG", "TIFF", "BMP", "PPM", "PNM"):
        return 2
    if upper == "GIF":
        return 0
    return 1


def parse_order(text: str) -> tuple[str, ...]:
    """Parse `--keep resolution,size,...`; unknown names raise ValueError; `path` goes last."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown keep rule {unknown[0]!r} (choose from {', '.join(RULES)})")
    if len(set(names)) != len(names):
        raise ValueError("each keep rule may be named once")
    return names if "path" in names else names + ("path",)


def is_under(path: str, directories: Sequence[str]) -> str | None:
    """The first of `directories` that contains `path`, or None."""
    for directory in directories:
        base = os.path.join(os.path.abspath(directory), "")
        if path.startswith(base):
            return directory
    return None


def _content(r: ImageRecord) -> tuple[int, int]:
    """The size of the picture inside a uniform border (its whole size without one)."""
    fp = r.fingerprint
    if len(fp.check) < verify.SIGNATURE_BYTES:
        return fp.width, fp.height
    left, top, right, bottom = verify.trimmed(fp.check)
    return round(fp.width * (1 - left - right)), round(fp.height * (1 - top - bottom))


def _contents(records: Sequence[ImageRecord]) -> list[tuple[int, int]]:
    """Per record of a group, the size of its picture inside a uniform border, where files of
    the same width and height all count the largest of theirs: of two copies of one size
    neither holds more of the picture, and a margin found in one only is no border added
    (noise added to a copy hides the uniform margin its original has)."""
    sizes = [_content(r) for r in records]
    largest: dict[tuple[int, int], tuple[int, int]] = {}
    for r, (w, h) in zip(records, sizes, strict=True):
        whole = (r.fingerprint.width, r.fingerprint.height)
        known = largest.get(whole)
        if known is None or w * h > known[0] * known[1]:
            largest[whole] = (w, h)
    return [largest[(r.fingerprint.width, r.fingerprint.height)] for r in records]


# Pictures whose sizes inside their borders are within this factor are of one resolution for
# the rule; then the one with less border, then more pixels in all, wins.
_SAME_RESOLUTION = 1.02


# A picture whose shape (width / height inside a border) is more than this factor from the
# group's median shape is stretched or squeezed: only the pixels of the largest box of the
# group's shape inside it count as resolution, and of equal resolution the undistorted wins.
_SAME_SHAPE = 1.05


def _undistorted(sizes: Sequence[tuple[int, int]]) -> list[tuple[bool, int]]:
    """Per file of a group, from the sizes of its pictures inside a border (_contents):
    whether its shape is stretched against the group's median shape (of three or more files:
    of two, neither can be told to be the original), and its pixels inside a border at that
    shape."""
    shapes = [math.log(max(1, w) / max(1, h)) for w, h in sizes]
    if len(sizes) < 3:
        return [(False, max(1, w * h)) for w, h in sizes]
    common = math.exp(statistics.median(shapes))
    found = []
    for (w, h), shape in zip(sizes, shapes, strict=True):
        if abs(shape - math.log(common)) <= math.log(_SAME_SHAPE):
            found.append((False, max(1, w * h)))
        else:
            box = min(float(w), h * common) * min(float(h), w / common)
            found.append((True, max(1, round(box))))
    return found


def _resolution_tiers(pixels: Sequence[int]) -> list[int]:
    """Per file of a group, its tier of resolution (0 the highest), from its pixels of the
    picture: the most pixels begin tier 0, and every file within _SAME_RESOLUTION of the
    first of its tier is of that tier (a framed copy's picture measured 800x1121 inside its
    border is its 794x1123 original's, to the trim's precision)."""
    tiers = [0] * len(pixels)
    tier, top = -1, 0.0
    for k in sorted(range(len(pixels)), key=lambda k: -pixels[k]):
        if tier < 0 or pixels[k] * _SAME_RESOLUTION < top:
            tier, top = tier + 1, float(pixels[k])
        tiers[k] = tier
    return tiers


def _resolution_key(c: Copy) -> tuple[int, bool, int, int]:
    r = c.record
    width, height = c.content or _content(r)
    content = max(1, width * height)
    if c.tier is None:  # not ranked in a group: by buckets of _SAME_RESOLUTION
        pixels = c.undistorted or content
        tier = -math.floor(math.log(pixels) / math.log(_SAME_RESOLUTION))
    else:
        tier = c.tier
    return tier, c.stretched, r.pixels - content, -r.pixels


def _res(r: ImageRecord) -> str:
    return f"{r.fingerprint.width}x{r.fingerprint.height}"


def _framed(c: Copy) -> str:
    """ " (960x720 inside a border)" for a picture with a border added, " (another shape:
    stretched or cut)" for one whose shape is not its group's, else ""."""
    r = c.record
    width, height = c.content or _content(r)
    parts = [f"{width}x{height} inside a border"] if width * height < 0.9 * r.pixels else []
    parts += ["another shape: stretched or cut"] if c.stretched else []
    return f" ({', '.join(parts)})" if parts else ""


# Sizes and times in a reason are shown with as many digits as it takes to tell the two files
# apart: "keeps the larger file (344.2 KB); this copy is 344.0 KB" reads as it is, but where
# both round to the same text the reason would contradict itself, so the exact bytes (or the
# seconds, then their fractions) are shown instead.


def sizes_apart(a: int, b: int) -> tuple[str, str]:
    """Two sizes as a person reads them (as dedupe shows sizes everywhere), in bytes when those
    texts would be the same."""
    shown = human_bytes(a), human_bytes(b)
    if shown[0] != shown[1] or a == b:
        return shown
    return f"{a:,} bytes", f"{b:,} bytes"


def _time(ns: int, digits: int) -> str:
    """A modification time in UTC: to the minute (digits < 0), the second, or `digits` decimals
    of the second."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%d %H:%M" + (":%S" if digits >= 0 else ""), time.gmtime(seconds))
    return text + ("." + f"{fraction:09d}"[:digits] if digits > 0 else "")


def times_apart(a: int, b: int) -> tuple[str, str]:
    """Two modification times (ns) to the minute, or to the first digit where they differ."""
    for digits in range(-1, 10):
        shown = _time(a, digits), _time(b, digits)
        if shown[0] != shown[1]:
            return shown
    return shown


@dataclass(frozen=True, slots=True)
class Copy:
    """One file of a group as the rules see it: its record, its facts, and what its unit (the
    file with its companions and capture twins) carries."""

    record: ImageRecord
    facts: FileFacts
    carried: tuple[str, ...] = ()  # roles of its unit's companions, and "twin" (sorted)
    rendered_twin: bool = False  # a JPEG/HEIC whose RAW is in the group (twins="duplicate")
    # the picture's shape (inside a border) differs from most of its group's: a stretched or
    # squeezed copy, whose added pixels are no resolution (see _undistorted)
    stretched: bool = False
    undistorted: int = 0  # its pixels inside a border at the group's shape (0: not computed)
    content: tuple[int, int] | None = None  # its picture's size inside a border (_contents)
    tier: int | None = None  # its resolution's tier in its group (_resolution_tiers)

    @property
    def path(self) -> str:
        return self.record.path


def metadata_facts(facts: FileFacts) -> tuple[str, ...]:
    """The capture metadata a file has, in words: date taken, GPS, camera. An EXIF Orientation
    tag is not capture metadata: a copy stored turned, with a tag that turns it back, adds one
    to the original's and is not the richer file for it (nor is the Software tag)."""
    m = facts.metadata
    found = []
    if m.taken_at:
        found.append("date taken")
    if m.gps:
        found.append("GPS")
    if m.make or m.model:
        found.append("camera")
    return tuple(found)


def lossless(c: Copy) -> bool:
    """Whether a file stores its pixels without loss (metadata.encoding_of)."""
    return c.facts.metadata.encoding == "lossless"


def encoding_words(c: Copy) -> str:
    """How a file stores its pixels, in words: "a lossless PNG", "a lossy JPEG", "a PNG of at
    most 256 colours", or its format where that is not known."""
    fmt = c.record.fingerprint.format
    encoding = c.facts.metadata.encoding
    if encoding == "palette" or (encoding is None and fmt.upper() == "GIF"):
        return f"a {fmt} of at most 256 colours"
    if encoding is None:
        return f"a {fmt} file"
    return f"a {encoding} {fmt}"


def edited_by(facts: FileFacts) -> str | None:
    """The editing software the EXIF Software tag names, or None."""
    software = facts.metadata.software
    if software and any(editor in software.lower() for editor in EDITORS):
        return software
    return None


def camera_name(path: str) -> bool:
    return CAMERA_NAME.fullmatch(os.path.splitext(os.path.basename(path))[0]) is not None


def original_signs(path: str, facts: FileFacts) -> tuple[str, ...]:
    """What says a file is a camera original, in words."""
    m = facts.metadata
    found = []
    if m.make or m.model:
        found.append("camera EXIF")
    if (m.make or m.model or m.software) and edited_by(facts) is None:
        found.append("no editing software")
    if camera_name(path):
        found.append("camera file name")
    return tuple(found)


def _listed(words: Sequence[str]) -> str:
    if not words:
        return "none"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def carried_words(carried: Sequence[str]) -> str:
    return _listed([ROLE_WORDS.get(role, role) for role in carried])


def _original_lacks(c: Copy) -> str:
    why = []
    editor = edited_by(c.facts)
    if editor:
        why.append(f"edited with {editor}")
    signs = original_signs(c.path, c.facts)
    if "camera EXIF" not in signs:
        why.append("no camera EXIF")
    if "camera file name" not in signs:
        why.append("not a camera file name")
    return _listed(why) if why else "fewer signs of a camera original"


# Each rule: a sort key (smaller is better), and how to say why `keeper` won (the keeper's
# reason) and why `other` lost to it (the other's reason).
_Key = Callable[[Copy], object]
_Why = Callable[[Copy, Copy], str]

_RULES: dict[str, tuple[_Key, _Why, _Why]] = {
    "resolution": (
        _resolution_key,
        lambda k, o: f"highest resolution ({_res(k.record)}{_framed(k)})",
        lambda k, o: (
            f"keeps the {_res(k.record)} original; this is a {_res(o.record)} copy{_framed(o)}"
        ),
    ),
    "sidecar": (
        lambda c: -len(c.carried),
        lambda k, o: f"carries the most ({carried_words(k.carried)})",
        lambda k, o: (
            f"keeps the copy that carries more ({carried_words(k.carried)}); "
            f"this one has {carried_words(o.carried)}"
        ),
    ),
    "encoding": (
        lambda c: 0 if lossless(c) else 1,
        lambda k, o: f"lossless file ({k.record.fingerprint.format})",
        lambda k, o: f"keeps {encoding_words(k)}; this copy is {encoding_words(o)}",
    ),
    "size": (
        lambda c: -c.record.size,
        lambda k, o: f"largest file ({sizes_apart(k.record.size, o.record.size)[0]})",
        lambda k, o: "keeps the larger file ({}); this copy is {}".format(
            *sizes_apart(k.record.size, o.record.size)
        ),
    ),
    "format": (
        lambda c: -format_rank(c.record.fingerprint.format),
        lambda k, o: f"best format ({k.record.fingerprint.format})",
        lambda k, o: (
            f"keeps the {k.record.fingerprint.format} copy; this one is "
            f"{o.record.fingerprint.format}"
        ),
    ),
    "metadata": (
        lambda c: -len(metadata_facts(c.facts)),
        lambda k, o: f"most capture metadata ({_listed(metadata_facts(k.facts))})",
        lambda k, o: (
            f"keeps the copy with more capture metadata ({_listed(metadata_facts(k.facts))}); "
            f"this one has {_listed(metadata_facts(o.facts))}"
        ),
    ),
    "original": (
        lambda c: -len(original_signs(c.path, c.facts)),
        lambda k, o: f"camera original ({_listed(original_signs(k.path, k.facts))})",
        lambda k, o: (
            f"keeps the camera original ({_listed(original_signs(k.path, k.facts))}); "
            f"this copy: "
            f"{_original_lacks(o)}"
        ),
    ),
    "date": (
        lambda c: c.record.mtime_ns,
        lambda k, o: (
            f"oldest file (modified {times_apart(k.record.mtime_ns, o.record.mtime_ns)[0]})"
        ),
        lambda k, o: "keeps the older file (modified {}); this one is newer ({})".format(
            *times_apart(k.record.mtime_ns, o.record.mtime_ns)
        ),
    ),
    "path": (
        lambda c: (len(c.path), os.fsencode(c.path)),
        lambda k, o: "shortest path",
        lambda k, o: "keeps the copy with the shorter path",
    ),
}

# How a tie on each rule is said ("same resolution, size and date: ...").
_TIE_WORDS = {
    "resolution": "resolution",
    "sidecar": "sidecars",
    "encoding": "encoding",
    "size": "size",
    "format": "format",
    "metadata": "capture metadata",
    "original": "signs of a camera original",
    "date": "date",
}


@lru_cache(maxsize=16)
def _ranking(rules: KeepRules) -> tuple[tuple[str, ...], Callable[[Copy], tuple[object, ...]]]:
    """The parts of a file's ranking key in order (a rule's name; "reference" first when there
    are reference folders, "twin" next with twins="duplicate", "prefer" just before "path" when
    there are preferred folders) and the key itself: smaller is better."""
    order = rules.order if "path" in rules.order else rules.order + ("path",)
    names: list[str] = []
    parts: list[_Key] = []
    if rules.reference:
        names.append("reference")
        parts.append(lambda c: 0 if is_under(c.path, rules.reference) else 1)
    if rules.twins == "duplicate":
        names.append("twin")
        parts.append(lambda c: 1 if c.rendered_twin else 0)
    for name in order:
        if name == "path" and rules.prefer:
            names.append("prefer")
            parts.append(lambda c: 0 if is_under(c.path, rules.prefer) else 1)
        names.append(name)
        parts.append(_RULES[name][0])
    return tuple(names), lambda c: tuple([part(c) for part in parts])


def _copies(
    records: Sequence[ImageRecord], rules: KeepRules, facts: Mapping[str, FileFacts]
) -> tuple[list[Copy], list[list[int]]]:
    """The group's files as the rules see them, and its units (lists of indices)."""
    found = [facts.get(r.path, NO_FACTS) for r in records]
    paths = [r.path for r in records]
    in_group = set(paths)
    if rules.twins == "together":
        units = companions.capture_units(
            paths, {p: f.twins for p, f in zip(paths, found, strict=True)}
        )
    else:
        units = [[k] for k in range(len(records))]
    contents = _contents(records)
    shapes = _undistorted(contents)
    tiers = _resolution_tiers([d[1] for d in shapes])
    copies: list[Copy] = [
        Copy(r, f, stretched=d[0], undistorted=d[1], content=size, tier=t)
        for r, f, d, size, t in zip(records, found, shapes, contents, tiers, strict=True)
    ]
    for unit in units:
        roles = {c.role for k in unit for c in found[k].companions}
        if len(unit) > 1:
            roles.add("twin")
        carried = tuple(sorted(roles))
        for k in unit:
            rendered = rules.twins == "duplicate" and any(
                companions.is_raw(t) and t in in_group for t in found[k].twins
            )
            copies[k] = Copy(
                records[k], found[k], carried, rendered, *shapes[k], contents[k], tiers[k]
            )
    return copies, units


Distance = Callable[[ImageRecord, ImageRecord], int]


def keep_all_shots(records: Sequence[ImageRecord]) -> tuple[Member, ...]:
    """A set of similar shots as a group that keeps every file (in path order)."""
    ordered = sorted(records, key=lambda r: os.fsencode(r.path))
    n = len(ordered)
    reason = (
        f"one of {n} similar shots (captured at different times): not a copy, kept "
        "(use --bursts keep-sharpest to keep only the sharpest)"
    )
    return tuple(Member(r, 0, "keep", reason) for r in ordered)


def keep_sharpest(
    keeper: ImageRecord,
    others: Sequence[ImageRecord],
    rules: KeepRules,
) -> tuple[Member, ...]:
    """Similar shots with --bursts keep-sharpest: `keeper` (the sharpest) kept, the others
    proposed for trash (unless protected)."""
    n = len(others) + 1
    members = [Member(keeper, 0, "keep", f"the sharpest of {n} similar shots")]
    for other in sorted(others, key=lambda r: os.fsencode(r.path)):
        protected = is_under(other.path, rules.protect) if rules.protect else None
        if protected is not None:
            members.append(Member(other, 0, "keep", f"protected: under {protected}"))
            continue
        members.append(
            Member(other, 0, "trash", "a similar shot; keeps the sharpest (--bursts keep-sharpest)")
        )
    return tuple(members)


def decide(
    records: Sequence[ImageRecord],
    rules: KeepRules,
    distance: Callable[[ImageRecord, ImageRecord], int],
    facts: Mapping[str, FileFacts] | None = None,
) -> tuple[Member, ...]:
    """Propose keep/trash for one group: the keeper first, then the others in path order.

    `distance(keeper, other)` gives each member's hash distance to the keeper; `facts` (path ->
    FileFacts, from metadata.gather) what each file carries besides its pixels.
    """
    if not records:
        raise ValueError("a group needs at least one file")
    names, key = _ranking(rules)
    copies, units = _copies(records, rules, facts or {})
    keys = [key(c) for c in copies]
    # each unit by its best file (the path, unique in a group, settles every tie)
    leads = sorted((min((keys[k], k) for k in unit), n) for n, unit in enumerate(units))
    (keeper_key, lead), keeper_unit = leads[0][0], units[leads[0][1]]
    keeper = copies[lead]
    runner_up = leads[1][0] if len(leads) > 1 else None
    if runner_up is None:
        reason = "only copy" if len(records) == 1 else "one capture: its files are kept together"
    else:
        rule = _deciding_rule(keeper_key, runner_up[0], names)
        reason = _keeper_reason(keeper, copies, rule, copies[runner_up[1]], rules, names)
    members = {lead: Member(keeper.record, 0, "keep", reason + _goes_with(keeper, "keep"))}
    for k in keeper_unit:
        if k != lead:
            members[k] = Member(
                records[k], distance(keeper.record, records[k]), "keep", _kept_with(keeper)
            )
    kept_roles = set(keeper.carried)
    kept_digests = {(c.role, c.digest) for k in keeper_unit for c in copies[k].facts.companions}
    for (other_key, other_lead), n in leads[1:]:
        unit = units[n]
        head = copies[other_lead]
        lost = [role for role in PRECIOUS if role in head.carried and role not in kept_roles]
        for k in sorted(unit, key=lambda k: k != other_lead):
            other = copies[k]
            action: Action = "trash"
            protected = is_under(other.path, rules.protect) if rules.protect else None
            reference = is_under(other.path, rules.reference) if rules.reference else None
            if protected is not None:
                action, why = "keep", f"protected: under {protected}"
            elif reference is not None:
                action, why = "keep", f"in reference folder {reference}"
            elif lost and not rules.lose_sidecars:
                action, why = "keep", _guarded(head, lost)
            elif k != other_lead:
                why = f"goes with {os.path.basename(head.path)}: one capture"
            else:
                rule = _deciding_rule(keeper_key, other_key, names)
                why = _trash_reason(keeper, other, rule, rules, names)
                why += _goes_with(other, "trash", kept_digests)
                if lost:
                    why += (
                        f"; the kept copy has no {carried_words(lost)}: lost with this one "
                        "(--lose-sidecars)"
                    )
            members[k] = Member(records[k], distance(keeper.record, records[k]), action, why)
    others = sorted((k for k in members if k != lead), key=lambda k: os.fsencode(records[k].path))
    return (members[lead], *(members[k] for k in others))


def _kept_with(keeper: Copy) -> str:
    return f"kept with {os.path.basename(keeper.path)}: one capture (RAW + JPEG/HEIC)"


def _guarded(head: Copy, lost: Sequence[str]) -> str:
    names = [os.path.basename(c.path) for c in head.facts.companions if c.role in lost] or [
        os.path.basename(head.path)
    ]
    return (
        f"kept too: it carries {_names(names)} ({carried_words(lost)}), which the kept copy "
        "has none of (--lose-sidecars would trash it with them)"
    )


def _names(names: Sequence[str], most: int = 3) -> str:
    shown = list(names[:most])
    if len(names) > most:
        shown.append(f"{len(names) - most} more")
    return _listed(shown)


def _goes_with(c: Copy, action: str, kept: set[tuple[str, str]] | None = None) -> str:
    """What a kept or trashed file takes with it: "; with its motion part IMG.MOV and sidecars
    IMG.xmp" (and, trashed, where the kept copy's sidecar of that kind has other content)."""
    motion = [os.path.basename(x.path) for x in c.facts.companions if x.role == "motion"]
    sidecars = [os.path.basename(x.path) for x in c.facts.companions if x.role != "motion"]
    parts = []
    if motion:
        parts.append(f"motion part {_names(motion)}")
    if sidecars:
        parts.append(f"sidecar{'s' if len(sidecars) > 1 else ''} {_names(sidecars)}")
    if not parts:
        return ""
    text = f"; {'with' if action == 'keep' else 'goes with'} its " + " and ".join(parts)
    if kept is not None:
        kept_roles = {role for role, _ in kept}
        differ = sorted(
            {
                x.role
                for x in c.facts.companions
                if x.role in kept_roles and (x.role, x.digest) not in kept and x.role in PRECIOUS
            }
        )
        if differ:
            text += f" (its {carried_words(differ)} differs from the kept copy's)"
    return text


def _deciding_rule(
    keeper: tuple[object, ...], other: tuple[object, ...], names: Sequence[str]
) -> str:
    """The first part of the ranking keys (see _ranking) that tells the two apart."""
    for name, mine, theirs in zip(names, keeper, other, strict=True):
        if mine != theirs:
            return name
    return "path"


def _tied(keeper: Copy, other: Copy, names: Sequence[str]) -> str:
    """ "same resolution, size and date: " when `path` decided after those rules tied (rules
    with nothing to weigh on either side, such as sidecars neither has, are not named)."""
    tied = []
    for name in names:
        if name == "path":
            break
        if name not in _TIE_WORDS:
            continue
        nothing = {
            "sidecar": not keeper.carried and not other.carried,
            "metadata": not metadata_facts(keeper.facts) and not metadata_facts(other.facts),
            "encoding": not lossless(keeper) and not lossless(other),
        }
        if not nothing.get(name, False):
            tied.append(_TIE_WORDS[name])
    return f"same {_listed(tied)}: " if tied else ""


def _keeper_reason(
    keeper: Copy,
    copies: Sequence[Copy],
    rule: str,
    runner_up: Copy,
    rules: KeepRules,
    names: Sequence[str],
) -> str:
    # Explained by the rule that decided against the closest competitor (the runner-up).
    if rule == "reference":
        return f"in reference folder {is_under(keeper.path, rules.reference)}"
    if rule == "twin":
        return "the RAW of its JPEG/HEIC twin (--raw-twins duplicate)"
    if rule == "prefer":
        return f"in preferred folder {is_under(keeper.path, rules.prefer)}"
    reason = _RULES[rule][1](keeper, runner_up)
    if rule == "path":
        reason = _tied(keeper, runner_up, names) + f"kept by path ({reason})"
    digest = keeper.record.fingerprint.digest
    if all(c.record.fingerprint.digest == digest for c in copies):
        return f"byte-identical copies; {reason}"
    return reason


def _trash_reason(
    keeper: Copy, other: Copy, rule: str, rules: KeepRules, names: Sequence[str]
) -> str:
    if rule == "reference":
        why = (
            f"a copy of {keeper.path} in reference folder {is_under(keeper.path, rules.reference)}"
        )
    elif rule == "twin":
        why = (
            f"the JPEG/HEIC twin of the RAW {os.path.basename(keeper.path)} (--raw-twins duplicate)"
        )
    elif rule == "prefer":
        why = f"keeps the copy in preferred folder {is_under(keeper.path, rules.prefer)}"
    else:
        why = _RULES[rule][2](keeper, other)
        if rule == "path":
            why = _tied(keeper, other, names) + why
    if other.record.fingerprint.digest == keeper.record.fingerprint.digest:
        return f"byte-identical copy; {why}"
    return why
