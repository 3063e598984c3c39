"""The grouping memo: a warm rescan of an unchanged tree reuses the groups it found before,
and any change to what grouping depends on gets new groups."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from pathlib import Path

from conftest import Cli, photo
from PIL import ImageEnhance

from dedupe import cluster, report
from dedupe.cache import MEMO_KEEP, HashCache, default_path
from dedupe.models import Settings
from dedupe.scan import scan


def make_tree(root: Path) -> None:
    """Three pictures, the first with a resized copy and a brighter copy."""
    root.mkdir()
    for seed in range(3):
        photo(seed, (320, 240)).save(root / f"p{seed}.jpg", quality=90)
    photo(0, (320, 240)).resize((160, 120)).save(root / "p0_small.jpg", quality=90)
    brighter = ImageEnhance.Brightness(photo(0, (320, 240))).enhance(1.1)
    brighter.save(root / "p0_bright.jpg", quality=90)


def groups_of(path: Path) -> list[list[str]]:
    return sorted(sorted(m.record.path for m in g.members) for g in report.read(path).groups)


def memo_rows() -> int:
    with sqlite3.connect(default_path()) as db:
        return int(db.execute("SELECT count(*) FROM memo").fetchone()[0])


def test_warm_rescan_reuses_groups_and_a_changed_file_gets_new_ones(
    tmp_path: Path, cli: Cli
) -> None:
    root = tmp_path / "photos"
    make_tree(root)
    first, second, third = (tmp_path / f"r{k}.json" for k in range(3))
    assert cli("scan", str(root), "--report", str(first))[0] == 0
    assert memo_rows() == 1
    assert len(groups_of(first)) == 1 and len(groups_of(first)[0]) == 3

    assert cli("scan", str(root), "--report", str(second))[0] == 0
    assert memo_rows() == 1  # the same inputs: the memo answered, nothing new stored
    assert groups_of(second) == groups_of(first)
    assert json.loads(second.read_text())["groups"] == json.loads(first.read_text())["groups"]

    # the memo is what answers: plant another result under the same key and see it used
    settings = Settings()
    cache = HashCache.open(default_path(), settings)
    records = scan([str(root)], settings, cache, jobs=1).records
    cache.put_memo(
        cluster.inputs_digest(records, settings), cluster.Clusters((), (), 0, 0).to_json()
    )
    cache.close()
    planted = tmp_path / "planted.json"
    assert cli("scan", str(root), "--report", str(planted))[0] == 0
    assert groups_of(planted) == []

    # p1 becomes another copy of p0: the stored groups no longer fit, new ones are found
    photo(0, (320, 240)).save(root / "p1.jpg", quality=80)
    os.utime(root / "p1.jpg", ns=(1, 1))
    assert cli("scan", str(root), "--report", str(third))[0] == 0
    assert memo_rows() == 2
    assert [len(g) for g in groups_of(third)] == [4]
    assert str(root / "p1.jpg") in groups_of(third)[0]


def test_inputs_digest_follows_everything_grouping_reads(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_tree(root)
    settings = Settings()
    records = scan([str(root)], settings, HashCache.memory(settings), jobs=1).records
    base = cluster.inputs_digest(records, settings)
    assert cluster.inputs_digest(list(records), settings) == base

    def with_check(k: int, check: bytes) -> list[object]:
        changed = list(records)
        fingerprint = dataclasses.replace(records[k].fingerprint, check=check)
        changed[k] = dataclasses.replace(records[k], fingerprint=fingerprint)
        return changed

    flipped = bytes([records[0].fingerprint.check[0] ^ 1]) + records[0].fingerprint.check[1:]
    renamed = [dataclasses.replace(records[0], path=records[0].path + "x"), *records[1:]]
    others = {
        "check": cluster.inputs_digest(with_check(0, flipped), settings),  # type: ignore[arg-type]
        "path": cluster.inputs_digest(renamed, settings),
        "threshold": cluster.inputs_digest(records, Settings(threshold=0.1)),
        "rotations": cluster.inputs_digest(records, Settings(rotations=True)),
        "algorithm": cluster.inputs_digest(records, Settings(algorithm="phash")),
        "distinct": cluster.inputs_digest(
            records, settings, frozenset({(records[0].path, records[1].path)})
        ),
        "order": cluster.inputs_digest(records[::-1], settings),
    }
    assert base not in others.values()
    assert len(set(others.values())) == len(others)


def test_clusters_round_trip_and_bad_memos_are_ignored() -> None:
    found = cluster.Clusters(((0, 2), (1, 3, 4)), (3, 7), 12, 5, 1)
    assert cluster.Clusters.from_json(found.to_json(), 5) == found
    assert cluster.Clusters.from_json(found.to_json(), 4) is None  # index 4 out of range
    for text in ("", "{", "[]", '{"groups": [[0, 1]]}', '{"groups": [["a"]], "max_distances": [1],'
                 ' "counts": [0, 0, 0]}'):  # fmt: skip
        assert cluster.Clusters.from_json(text, 5) is None


def test_memo_keeps_only_the_most_recent_results() -> None:
    settings = Settings()
    cache = HashCache.open(default_path(), settings)
    for k in range(MEMO_KEEP + 5):
        cache.put_memo(f"key{k}", str(k))
    assert cache.get_memo("key0") is None
    assert cache.get_memo(f"key{MEMO_KEEP + 4}") == str(MEMO_KEEP + 4)
    cache.close()
    assert memo_rows() == MEMO_KEEP


def looks_rows(value: str | None = None) -> int:
    """Rows of the cache's remembered checks (with `value`: each set to it first)."""
    with sqlite3.connect(default_path()) as db:
        if value is not None:
            db.execute("UPDATE looks SET value=?", (value,))
        return int(db.execute("SELECT count(*) FROM looks").fetchone()[0])


def test_a_rescan_after_a_change_keeps_the_checks_and_a_damaged_one_is_checked_again(
    tmp_path: Path, cli: Cli
) -> None:
    """`dedupe scan` keeps what the geometric check found of its pairs in the hash cache; a
    rescan after a file is added (the memo no longer serves) groups the same. Values damaged
    by hand in the cache are not believed: the pairs are checked again and stored anew."""
    root = tmp_path / "photos"
    make_tree(root)
    photo(0, (320, 240)).crop((24, 18, 296, 222)).resize((320, 240)).save(
        root / "p0_crop.jpg", quality=90
    )
    first, second, third = (tmp_path / f"r{k}.json" for k in range(3))
    assert cli("scan", str(root), "--report", str(first))[0] == 0
    kept = looks_rows()
    assert kept > 0
    photo(5, (320, 240)).save(root / "p5.jpg", quality=90)
    assert cli("scan", str(root), "--report", str(second))[0] == 0
    assert groups_of(second) == groups_of(first) and looks_rows() >= kept

    assert looks_rows("[9, damaged") > 0
    photo(6, (320, 240)).save(root / "p6.jpg", quality=90)
    assert cli("scan", str(root), "--report", str(third))[0] == 0
    assert groups_of(third) == groups_of(first)
    with sqlite3.connect(default_path()) as db:
        values = [row[0] for row in db.execute("SELECT value FROM looks")]
    assert values and all(json.loads(v)[0] in (0, 1, 2, 3) for v in values)
