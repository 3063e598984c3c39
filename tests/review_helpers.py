"""Reports of thousands of groups for the review's tests, built from records in memory (the
pictures of most files do not exist: the review says so), with one big group of real files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import photo
from PIL import Image

from dedupe import policy
from dedupe import report as report_mod
from dedupe.hashing import ImageHash
from dedupe.models import Fingerprint, Group, ImageRecord, KeepRules, Problem, ScanStats, Settings
from dedupe.report import Report
from dedupe.verify import SIGNATURE_BYTES

T0 = 1_700_000_000_000_000_000
FOLDERS = ("camera/2019", "camera/2020", "phone", "exports")


def record(path: Path, width: int, size: int, digest: str, bits: int, ino: int) -> ImageRecord:
    fingerprint = Fingerprint(
        width, width * 3 // 4, "JPEG", digest, ImageHash(bits, 8), b"", bytes(SIGNATURE_BYTES)
    )
    return ImageRecord(str(path), size, T0 + ino, 1, ino, fingerprint)


def synthetic_report(root: Path, groups: int, *, big: int = 0) -> Report:
    """`groups` groups of 2 or 3 files under `root` (one in four exact copies, the kept copy
    in FOLDERS, its copies in "copies/"), then, with `big`, one more group of `big` real JPEG
    files under root/burst (written here, small)."""
    rules = KeepRules()
    out: list[Group] = []
    images: list[ImageRecord] = []
    ino = 0

    def distance(a: ImageRecord, b: ImageRecord) -> int:
        return a.hash - b.hash

    for k in range(groups):
        exact = k % 4 == 0
        files = 3 if k % 5 == 0 else 2
        folder = FOLDERS[k % len(FOLDERS)]
        records = []
        for j in range(files):
            ino += 1
            where = root / folder if j == 0 else root / "copies" / f"c{k % 7}"
            digest = f"d{k}" if exact else f"d{k}-{j}"
            width = 4000 if j == 0 or exact else 4000 // (j + 1)
            size = 3_000_000 + 997 * k if exact else 3_000_000 // (j + 1) + 991 * k
            bits = (k * 2654435761) & 0xFFFF_FFFF_FFFF_FFFF
            records.append(
                record(
                    where / f"IMG_{k:05d}_{j}.jpg",
                    width,
                    size,
                    digest,
                    bits ^ (0 if exact else j),
                    ino,
                )
            )
        members = policy.decide(records, rules, distance)
        largest = max(distance(a, b) for a in records for b in records)
        out.append(Group(k + 1, "exact" if exact else "similar", largest, members))
        images += records
    if big:
        burst = root / "burst"
        burst.mkdir(parents=True, exist_ok=True)
        picture = photo(7, (96, 72))
        records = []
        for j in range(big):
            ino += 1
            path = burst / f"BURST_{j:03d}.jpg"
            picture.resize((96 - j % 40, 72 - (j % 40) * 3 // 4), Image.Resampling.BILINEAR).save(
                path, quality=60 + j % 30
            )
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            records.append(record(path, 960 - j, path.stat().st_size, digest, j % 3, ino))
        members = policy.decide(records, rules, distance)
        out.append(Group(groups + 1, "similar", 2, members))
        images += records
    return Report(
        roots=(str(root),),
        settings=Settings(),
        keep=rules,
        stats=ScanStats(files=len(images) + 2, images=len(images), hashed=len(images), errors=2),
        groups=tuple(out),
        errors=(
            Problem(str(root / "broken.jpg"), "damaged JPEG image: the file is truncated"),
            Problem(str(root / "phone" / "empty.png"), "empty file (0 bytes)"),
        ),
        skipped=(Problem(str(root / "huge.tif"), "larger than the decoding limit"),),
        images=tuple(sorted(images, key=lambda r: r.path)),
        created_at="2026-01-01T00:00:00+00:00",
    )


def write_report(root: Path, path: Path, groups: int, *, big: int = 0) -> Report:
    report = synthetic_report(root, groups, big=big)
    report_mod.write(report, path)
    return report
