"""Which files belong to an image (its sidecars, a Live Photo's motion part) and which images are
one capture (a RAW and its rendered JPEG/HEIC twin), decided from the names in its folder.

Pure: names in, names out (metadata.py lists the folders and reads what names cannot tell).
For an image NAME.EXT (NAME its stem; extensions compared without case):

  xmp      NAME.EXT.xmp (darktable, digiKam, RawTherapee) and darktable's duplicate versions
           NAME_NN.EXT.xmp (when no file NAME_NN.EXT is there to own it); NAME.xmp (Lightroom,
           Bridge, Capture One)
  aae      NAME.AAE (Apple Photos edits) and, for a name like IMG_1234, IMG_O1234.AAE (the
           adjustments of the original, as Photos exports them)
  takeout  Google Takeout metadata: NAME.EXT.json, NAME.EXT.supplemental-metadata.json, the
           numbered forms (IMG(1).jpg -> IMG.jpg(1).json, IMG.jpg.supplemental-metadata(1).json)
           and Takeout's truncations: the name before ".json" (and before a "(N)") is cut to 46
           characters, so the JSON of a long name is a prefix of NAME.EXT.supplemental-metadata
           (see `takeout_of`)
  thm      NAME.THM (a camera's thumbnail)
  motion   NAME.MOV beside a HEIC or JPEG still (a Live Photo); metadata.py also pairs a still
           and a MOV by Apple's content identifier, and parts whose identifiers differ are not
           paired

A sidecar named by the stem alone (NAME.xmp, NAME.AAE, IMG_O1234.AAE, NAME.THM) belongs to every
image with that stem (a RAW and its JPEG share it). The sidecars of a motion part (IMG.MOV.xmp,
IMG.MOV.json) belong to its still too. An `-edited` copy Takeout writes has no JSON of its own
and is given none (its original's JSON stays with the original).

Twins: in one folder, a camera RAW and a JPEG or HEIC with the same stem, whose capture times
(when both are known) agree to the second.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from dedupe.decode import RAW_EXTENSIONS
from dedupe.models import ImageRecord

# Names a scan never hashes: they are sidecars (a .THM is a JPEG, but a thumbnail of another
# file), or never images anyway, so a scan need not open them.
SIDECAR_EXTENSIONS = frozenset({".xmp", ".aae", ".json", ".thm"})
MOTION_EXTENSIONS = frozenset({".mov"})
STILL_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".jpg", ".jpeg"})
RENDERED_EXTENSIONS = STILL_EXTENSIONS
# The longest name Takeout writes before ".json" (and before a "(N)" of a numbered copy).
TAKEOUT_LIMIT = 46
SUPPLEMENTAL = ".supplemental-metadata"
# Capture times of twins may differ by this many seconds (RAW and JPEG written one after the
# other by the camera, each stamped to the second).
TWIN_SECONDS = 2

_NUMBERED = re.compile(r"(.*)\((\d+)\)(\.[^.()]*)?")
_ORIGINAL_AAE = re.compile(r"([A-Za-z]+_)O(\d+)")
_DARKTABLE_VERSION = re.compile(r"(.*)_(\d{2,})")


def extension(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def is_sidecar(path: str) -> bool:
    """Whether a file is a sidecar by its name (never hashed; never a duplicate alone)."""
    return extension(path) in SIDECAR_EXTENSIONS


def is_companion_name(name: str) -> bool:
    """Whether a file could be an image's companion, by its name (sidecar or motion part)."""
    ext = extension(name)
    return ext in SIDECAR_EXTENSIONS or ext in MOTION_EXTENSIONS


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]


def takeout_of(json_name: str, image_names: Iterable[str]) -> list[str]:
    """The images (of `image_names`) whose Google Takeout metadata `json_name` is."""
    if extension(json_name) != ".json":
        return []
    base = json_name[: -len(".json")]
    number = ""
    numbered = re.fullmatch(r"(.*)(\(\d+\))", base)
    if numbered:
        base, number = numbered.group(1), numbered.group(2)
    found = []
    for name in image_names:
        own = name
        if number:
            # IMG(1).jpg -> IMG.jpg(1).json or IMG.jpg.supplemental-metadata(1).json
            split = _NUMBERED.fullmatch(name)
            if split is None or f"({split.group(2)})" != number:
                continue
            own = split.group(1) + (split.group(3) or "")
        full = own + SUPPLEMENTAL
        # the whole name, or NAME.EXT.supplemental-metadata cut anywhere after NAME.EXT, or
        # cut to Takeout's limit inside the name itself
        if base == own or (
            full.startswith(base) and (len(base) == TAKEOUT_LIMIT or base.startswith(own + "."))
        ):
            found.append(name)
    return found


def sidecar_names(names: Iterable[str]) -> frozenset[str]:
    """The names of a folder that `find` looks at: those with a sidecar's extension, and the
    files a darktable version's sidecar (NAME_NN.EXT.xmp) could belong to. `find` over these
    gives what it gives over all the `names`, whatever the images: list a folder once, keep
    this (a few names, most often none), and look for each image's sidecars in it."""
    every = names if isinstance(names, (set, frozenset)) else set(names)
    found = set()
    for name in every:
        # a cheap first look (C string methods); the extension, where it is one, is the part
        # after the last dot, so nothing `extension` keeps is passed over
        if ("." + name.rpartition(".")[2]).lower() in SIDECAR_EXTENSIONS and (
            extension(name) in SIDECAR_EXTENSIONS
        ):
            found.add(name)
            if _stem(name) in every:
                found.add(_stem(name))
    return frozenset(found)


def find(names: Iterable[str], images: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """The sidecars of each of `images` among the file `names` of their folder: image name ->
    [(sidecar name, role)], sorted, by the rules in the module docstring (the motion part of a
    Live Photo: `motion_of`)."""
    every = set(names)
    by_stem: dict[str, list[str]] = defaultdict(list)
    for image in images:
        by_stem[_stem(image)].append(image)
    out: dict[str, list[tuple[str, str]]] = {image: [] for image in images}

    def add(image: str, name: str, role: str) -> None:
        if name != image and (name, role) not in out[image]:
            out[image].append((name, role))

    for name in sorted(every):
        ext = extension(name)
        if ext not in SIDECAR_EXTENSIONS:
            continue
        stem = _stem(name)
        if ext == ".json":
            for image in takeout_of(name, images):
                add(image, name, "takeout")
            continue
        role = ext[1:]
        if stem in out and ext == ".xmp":  # NAME.EXT.xmp
            add(stem, name, role)
            continue
        version = (
            _DARKTABLE_VERSION.fullmatch(_stem(stem))
            if ext == ".xmp" and os.path.splitext(stem)[1]
            else None
        )
        if version is not None and stem not in every:  # NAME_NN.EXT.xmp, NAME_NN.EXT absent
            owner = version.group(1) + os.path.splitext(stem)[1]
            if owner in out:
                add(owner, name, role)
                continue
        owners = list(by_stem.get(stem, ()))
        if ext == ".aae":
            original = _ORIGINAL_AAE.fullmatch(stem)
            if original is not None:
                owners += by_stem.get(original.group(1) + original.group(2), [])
        for image in owners:
            add(image, name, role)
    for image in out:
        out[image].sort()
    return out


def motion_of(names: Iterable[str], image: str) -> str | None:
    """The MOV with the still `image`'s stem among `names` (a Live Photo's motion part, by name;
    metadata.py confirms or refutes it by content identifier), or None."""
    if extension(image) not in STILL_EXTENSIONS:
        return None
    stem = _stem(image)
    for name in sorted(names):
        if extension(name) in MOTION_EXTENSIONS and _stem(name) == stem:
            return name
    return None


def _seconds(taken_at: str | None) -> float | None:
    if not taken_at:
        return None
    try:
        return datetime.fromisoformat(taken_at).timestamp()
    except ValueError:
        return None


def twins(records: Iterable[ImageRecord]) -> dict[str, tuple[str, ...]]:
    """path -> the other images of its capture: a RAW and its JPEG/HEIC (same folder and stem,
    capture times that agree when both are known)."""
    by_stem: dict[tuple[str, str], list[ImageRecord]] = defaultdict(list)
    for record in records:
        head, name = os.path.split(record.path)
        by_stem[head, _stem(name)].append(record)
    found: dict[str, list[str]] = defaultdict(list)
    for members in by_stem.values():
        if len(members) < 2:
            continue
        raws = [r for r in members if extension(r.path) in RAW_EXTENSIONS]
        rendered = [r for r in members if extension(r.path) in RENDERED_EXTENSIONS]
        for raw in raws:
            for other in rendered:
                a, b = _seconds(raw.fingerprint.taken_at), _seconds(other.fingerprint.taken_at)
                if a is not None and b is not None and abs(a - b) > TWIN_SECONDS:
                    continue
                found[raw.path].append(other.path)
                found[other.path].append(raw.path)
    return {path: tuple(sorted(set(others))) for path, others in found.items()}


def twin_candidates(paths: Sequence[str], of: Iterable[str]) -> list[int]:
    """The indices of `paths` in a folder and of a stem of one of `of`: the only images that
    can be twins of those (twins() of these alone gives them the same twins as of all)."""
    wanted = {(head, _stem(name)) for head, name in map(os.path.split, of)}
    folders = {head for head, _ in wanted}
    found = []
    for k, path in enumerate(paths):
        # os.path.split's folder, inline (a million paths): the stem only for those folders
        head = path[: path.rfind("/") + 1]
        if head.strip("/"):
            head = head.rstrip("/")
        if head in folders and (head, _stem(path[path.rfind("/") + 1 :])) in wanted:
            found.append(k)
    return found


def is_raw(path: str) -> bool:
    return extension(path) in RAW_EXTENSIONS


def capture_units(paths: Sequence[str], twin_of: Mapping[str, Sequence[str]]) -> list[list[int]]:
    """The indices of `paths` joined into units by their twins (each unit in index order)."""
    index = {p: k for k, p in enumerate(paths)}
    parent = list(range(len(paths)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for k, path in enumerate(paths):
        for other in twin_of.get(path, ()):
            j = index.get(other)
            if j is not None:
                parent[root(j)] = root(k)
    units: dict[int, list[int]] = defaultdict(list)
    for k in range(len(paths)):
        units[root(k)].append(k)
    return sorted(units.values())
