"""The small frozen values that flow between stages (walk -> scan -> cluster -> policy -> report).

No I/O here. Paths are `str` as returned by `os.fsdecode`: a name that is not valid UTF-8 keeps
its raw bytes as lone surrogates (PEP 383), and `os.fsencode(path)` gives the original bytes back.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar

from dedupe.errors import UsageError
from dedupe.hashing import ALGORITHMS, HASH_SIZES, ImageHash

Action = Literal["keep", "trash"]
# exact: byte-identical files; similar: copies of one picture; shots: similar shots of one
# scene captured at different times (a burst), never proposed for trash unless asked for.
GroupKind = Literal["exact", "similar", "shots"]
GROUP_KINDS: tuple[GroupKind, ...] = ("exact", "similar", "shots")
# What to do with similar shots (KeepRules.bursts): keep them all, or keep the sharpest.
BURSTS = ("keep-all", "keep-sharpest")

DEFAULT_ALGORITHM = "dhash"
DEFAULT_HASH_SIZE = 8
DEFAULT_THRESHOLD = 0.25


@dataclass(frozen=True, slots=True)
class Settings:
    """What decides which files are grouped. Stored in the report so later commands agree."""

    algorithm: str = DEFAULT_ALGORITHM
    hash_size: int = DEFAULT_HASH_SIZE
    threshold: float = DEFAULT_THRESHOLD
    rotations: bool = False

    def __post_init__(self) -> None:
        # UsageError (a ValueError): the Python API promises a DedupeError for what a caller
        # passes, and a threshold given as "0.2" is refused in words, not by a TypeError.
        if self.algorithm not in ALGORITHMS:
            raise UsageError(
                f"unknown algorithm {self.algorithm!r} (choose from {', '.join(ALGORITHMS)})"
            )
        if self.hash_size not in HASH_SIZES:
            raise UsageError(f"hash size must be one of {HASH_SIZES}, not {self.hash_size!r}")
        number = isinstance(self.threshold, (int, float)) and not isinstance(self.threshold, bool)
        if not number or not (0.0 <= self.threshold <= 1.0) or math.isnan(self.threshold):
            raise UsageError(f"threshold is a rate between 0 and 1, not {self.threshold!r}")

    @property
    def bits(self) -> int:
        return self.hash_size * self.hash_size

    @property
    def max_distance(self) -> int:
        """Largest Hamming distance whose rate (distance / bits) is at most the threshold."""
        # The small epsilon keeps e.g. 0.1 * 64 = 6.4000000000000004 from being misread.
        return math.floor(self.threshold * self.bits + 1e-9)


@dataclass(frozen=True, slots=True)
class Selection:
    """What the walk leaves out (see filters.py): by default hidden entries and the folders that
    are never a photo library (`passed_by_default`), plus what the user asked to leave out."""

    exclude: tuple[str, ...] = ()  # gitignore-style patterns, matched relative to each root
    min_size: int = 0  # bytes
    max_size: int | None = None  # bytes
    max_depth: int | None = None  # 1: only the files directly in each root
    one_file_system: bool = False  # do not enter folders on another file system
    passed_by_default: bool = True  # False: --include-hidden


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A regular file found by the walk, with the stat fields the cache and apply rely on."""

    path: str
    size: int
    mtime_ns: int
    dev: int
    ino: int
    nlink: int = 1


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What one decode of an image yields: its hashes and the facts a person sees in review."""

    width: int
    height: int
    format: str
    digest: str
    hash: ImageHash
    # The same hash of the 7 other orientations (EXIF orientations 2..8 applied to the image),
    # used by --rotations without decoding again: packed, each hash.nbits // 8 bytes
    # big-endian (see pack_variants; as objects they took a third of a record's memory).
    variant_bits: bytes
    # An independent signature that verifies a candidate pair (see verify.py).
    check: bytes
    taken_at: str | None = None

    @property
    def variants(self) -> tuple[ImageHash, ...]:
        """The orientation hashes as ImageHash values."""
        n, size = self.hash.nbits // 8, self.hash.size
        bits = self.variant_bits
        return tuple(
            ImageHash(int.from_bytes(bits[k : k + n], "big"), size) for k in range(0, len(bits), n)
        )

    @staticmethod
    def pack_variants(variants: Iterable[ImageHash]) -> bytes:
        """Hashes as the variant_bits field holds them."""
        return b"".join(v.bits.to_bytes(v.nbits // 8, "big") for v in variants)


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """A hashed image file."""

    path: str
    size: int
    mtime_ns: int
    dev: int
    ino: int
    fingerprint: Fingerprint
    # Other names of the same file (hard links: same device and inode). Never duplicates.
    links: tuple[str, ...] = ()

    @property
    def hash(self) -> ImageHash:
        return self.fingerprint.hash

    @property
    def pixels(self) -> int:
        return self.fingerprint.width * self.fingerprint.height


@dataclass(frozen=True, slots=True)
class Problem:
    """A file that could not be used, with a reason a person understands."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScanStats:
    files: int = 0
    images: int = 0
    hashed: int = 0
    from_cache: int = 0
    errors: int = 0
    skipped: int = 0
    hardlinks: int = 0
    sidecars: int = 0  # files recognised by name as sidecars (companions.py): never hashed


@dataclass(frozen=True, slots=True)
class ScanResult:
    roots: tuple[str, ...]
    settings: Settings
    # Every hashed image, in the order of their paths' bytes (a scan's: an ImageColumns,
    # imagecols.py, which builds a record for each image read)
    records: Sequence[ImageRecord]
    errors: tuple[Problem, ...]
    skipped: tuple[Problem, ...]
    stats: ScanStats
    # What the walk passed over (filters.py): (reason, how many files or folders), sorted.
    passed_over: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    """One file of a group with its proposed action and the reason in words."""

    record: ImageRecord
    distance: int
    action: Action
    reason: str


@dataclass(frozen=True, slots=True)
class Group:
    """Images found together (`kind`): copies of one picture ("exact": identical bytes, or
    "similar") or shots of one moment ("shots"); each member with its proposed or decided
    action and the reason."""

    id: int
    kind: GroupKind
    max_distance: int
    members: tuple[Member, ...]
    reviewed: bool = False

    @property
    def reclaimable_bytes(self) -> int:
        return sum(m.record.size for m in self.members if m.action == "trash")


# What RAW + JPEG/HEIC pairs of one capture are (KeepRules.twins): one unit kept together, or
# the rendered twin a duplicate of its RAW.
TWINS = ("together", "duplicate")


@dataclass(frozen=True, slots=True)
class KeepRules:
    """How the keeper of a group is chosen (see policy.py)."""

    order: tuple[str, ...] = (
        "resolution", "sidecar", "metadata", "encoding", "size", "date", "path",
    )  # fmt: skip
    protect: tuple[str, ...] = ()
    prefer: tuple[str, ...] = ()
    # similar shots (bursts): "keep-all" (the default: none is proposed for trash) or
    # "keep-sharpest" (the sharpest of each set is kept, the others proposed for trash)
    bursts: str = "keep-all"
    # Files under these folders are always kept and are the group's keeper; every copy outside
    # them is proposed for trash (--reference).
    reference: tuple[str, ...] = ()
    twins: str = "together"
    # A copy carrying sidecars the keeper lacks may be trashed with them (--lose-sidecars);
    # by default such a copy is kept too.
    lose_sidecars: bool = False


# ---------------------------------------------------------------- units (companions.py)

# The kinds of companion file (companions.py): XMP sidecars, Apple .AAE edits, Google Takeout
# JSON metadata, .THM thumbnails, and the motion part (.MOV) of a Live Photo.
COMPANION_ROLES = ("xmp", "aae", "takeout", "thm", "motion")


@dataclass(frozen=True, slots=True)
class Companion:
    """A file that belongs to an image and goes wherever it goes: a sidecar or the motion part
    of a Live Photo. Never hashed as an image, never a duplicate alone."""

    path: str
    role: str  # one of COMPANION_ROLES
    size: int
    mtime_ns: int
    digest: str  # sha256 of its content, as for images


# How an image's pixels are stored (Metadata.encoding).
ENCODINGS = ("lossless", "palette", "lossy")


@dataclass(frozen=True, slots=True)
class Metadata:
    """What an image says about its capture and its encoding (metadata.py reads it): the
    facts the `metadata`, `original` and `encoding` keep rules weigh."""

    taken_at: str | None = None  # EXIF DateTimeOriginal, ISO 8601
    gps: bool = False  # EXIF GPS latitude and longitude
    make: str | None = None
    model: str | None = None
    orientation: int | None = None  # the EXIF Orientation tag, when present
    software: str | None = None  # the EXIF Software tag
    content_id: str | None = None  # Apple's ContentIdentifier (pairs a Live Photo's parts)
    # how its pixels are stored: "lossless" (PNG, TIFF, BMP, PNM, WebP in a full-colour or gray
    # mode, without lossy compression), "palette" (at most 256 colours), "lossy" (JPEG, lossy
    # WebP, HEIC, a JPEG-compressed TIFF); None when not known (see metadata.encoding_of)
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What belongs to one image of a group besides its own bytes: its companions, the other
    images of the same capture (a RAW and its JPEG/HEIC, `twins`), its capture metadata."""

    companions: tuple[Companion, ...] = ()
    twins: tuple[str, ...] = ()
    metadata: Metadata = Metadata()

    @property
    def sidecars(self) -> tuple[Companion, ...]:
        """The companions that are not the motion part of a Live Photo."""
        return tuple(c for c in self.companions if c.role != "motion")

    @property
    def motion(self) -> tuple[Companion, ...]:
        return tuple(c for c in self.companions if c.role == "motion")


NO_FACTS = FileFacts()


_T = TypeVar("_T")


def build_many(cls: type[_T], n: int, columns: Sequence[Iterable[Any]]) -> list[_T]:
    """[cls(*row) for row in zip(*columns)] for n rows of checked values, two to three times
    faster: the generated __init__ of a frozen dataclass sets each field through
    object.__setattr__, a Python-level call per field; here each field's slot is filled a
    column at a time. Only for slotted dataclasses whose __init__ does nothing else (no
    __post_init__, every field given): checked, so a validating __post_init__ added later
    cannot be skipped silently."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    plain = "__slots__" in vars(cls) and not hasattr(cls, "__post_init__")
    if not plain or len(names) != len(columns):
        raise TypeError(f"{cls.__name__} cannot be built column-wise")
    made = [object.__new__(cls) for _ in range(n)]
    for name, column in zip(names, columns, strict=True):
        deque(map(getattr(cls, name).__set__, made, column), maxlen=0)
    return made
