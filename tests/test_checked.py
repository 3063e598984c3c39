"""The checked pairs a search leaves behind (cluster.Checked): regrouping from them gives what a
new search and check give, and they travel in the report and the scan's memo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from cluster_helpers import same_clusters
from conftest import Library, photo
from report_helpers import rewrite_as_schema_2
from test_cluster_kernel import library_records

from dedupe import cluster
from dedupe import report as report_mod
from dedupe.cli import main
from dedupe.groups import build_groups
from dedupe.models import KeepRules, ScanStats, Settings
from dedupe.regroup import regroup


@pytest.mark.parametrize(
    ("seed", "rotations", "compiled"), [(21, False, True), (22, True, True), (23, True, False)]
)
def test_grouping_from_checked_pairs_is_grouping_from_scratch(
    seed: int, rotations: bool, compiled: bool
) -> None:
    records = library_records(seed, 240)
    distinct = frozenset({(records[4].path, records[5].path)})

    def at(threshold: float, checked: cluster.Checked | None = None) -> cluster.Clusters:
        settings = Settings("dhash", 8, threshold, rotations=rotations)
        return cluster.cluster(
            records, settings, distinct=distinct, compiled=compiled, checked=checked
        )

    loose = at(0.3)
    assert loose.checked is not None and loose.checked.radius == 19
    assert loose.rejected and len(loose.checked.low) > len(loose.groups)
    for threshold in (0.05, 0.1, 0.2, 0.3):
        fresh = at(threshold)
        reused = at(threshold, loose.checked)
        assert reused.checked is loose.checked  # the wider verdicts are kept
        assert same_clusters(replace(reused, checked=fresh.checked), fresh)
    # Looser than the checked pairs: a new search, checking only the pairs beyond them.
    tight = at(0.1)
    assert same_clusters(at(0.3, tight.checked), loose)


def test_checked_pairs_of_other_records_or_settings_are_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = library_records(24, 300)
    settings = Settings("dhash", 8, 0.2)
    found = cluster.cluster(records, settings, compiled=True)
    assert found.checked is not None
    searches: list[int] = []
    real = cluster._candidates

    def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        searches.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cluster, "_candidates", spy)
    assert cluster.cluster(records, settings, compiled=True, checked=found.checked) == found
    assert not searches  # taken from the checked pairs
    changed = list(records)
    changed[7] = replace(
        records[7],
        fingerprint=replace(records[7].fingerprint, check=records[8].fingerprint.check),
    )
    cluster.cluster(changed, settings, compiled=True, checked=found.checked)
    cluster.cluster(records, replace(settings, rotations=True), checked=found.checked)
    assert len(searches) == 2  # another signature, another setting: searched again


def test_checked_pairs_round_trip_and_bad_ones_are_ignored() -> None:
    records = library_records(25, 200)
    found = cluster.cluster(records, Settings("dhash", 8, 0.25), compiled=True)
    checked = found.checked
    assert checked is not None and len(checked.low)
    value = json.loads(json.dumps(checked.to_json_value()))
    assert cluster.Checked.from_json_value(value, len(records)) == checked
    assert cluster.Clusters.from_json(found.to_json(), len(records)) == found
    for bad in (
        value | {"low": value["low"][1:]},
        value | {"found": value["found"][1:]},
        value | {"high": [len(records)] * len(value["high"])},
        value | {"distance": [99] * len(value["distance"])},
        value | {"score": ["x"] * len(value["score"])},
        value | {"low_information": [-1]},
        value | {"low_information": [[0]]},
        {"key": "k"},
        [],
    ):
        assert cluster.Checked.from_json_value(bad, len(records)) is None


def test_review_regroups_from_the_checked_pairs_of_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a report holds absolute paths under its scanned folder
    records = tuple(replace(r, path=f"/photos/{r.path}") for r in library_records(26, 400))
    settings = Settings("dhash", 8, 0.25)
    found = cluster.cluster(records, settings)
    groups = build_groups(records, settings, KeepRules(), clusters=found)
    report = report_mod.Report(
        ("/photos",), settings, KeepRules(), ScanStats(), groups, (), (), records,
        checked=found.checked,
    )  # fmt: skip
    path = tmp_path / "report.json"
    report_mod.write(report, path)
    read = report_mod.read(path, with_index=True)
    assert read.checked == found.checked and report_mod.read(path).checked is None
    monkeypatch.setattr(cluster, "_candidates", None)  # nothing is searched
    # no candidate is checked again (a keeper may be, against a file joined through others)
    monkeypatch.setattr(cluster, "_verify", None)
    tighter, _ = regroup(read, threshold=0.1)
    assert tighter.checked == found.checked  # still covers 0.25
    assert tighter.index == read.index  # no new pairs: a save keeps the index
    monkeypatch.undo()
    expected = cluster.cluster(records, replace(settings, threshold=0.1))
    assert [[m.record.path for m in g.members] for g in tighter.groups] == [
        [m.record.path for m in g.members]
        for g in build_groups(records, replace(settings, threshold=0.1), KeepRules())
    ]
    assert len(tighter.groups) >= len(expected.groups)  # split around keepers, never merged
    # An unusable field of a schema-2 report is ignored: it still reads, and regroups by
    # searching.
    data = rewrite_as_schema_2(path)
    data["checked_pairs"]["low"] = "?"
    path.write_text(json.dumps(data))
    assert report_mod.read(path).checked is None


def test_scan_writes_the_checked_pairs_and_review_uses_them(
    library: Library,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = photo(5, (320, 240))
    library.save("a.png", image)
    library.save("b.jpg", image.resize((160, 120)), quality=80)
    library.save("c.jpg", photo(6, (320, 240)))
    report = tmp_path / "r.json"
    assert main(["scan", str(library.root), "--report", str(report), "--no-cache"]) == 0
    data = json.loads(report.read_text())
    assert "checked_pairs" not in data  # in the index
    checked = report_mod.read(report, with_index=True).checked
    assert checked is not None
    assert checked.radius == data["settings"]["max_distance"] == 16
    assert len(checked.low) == 1 and sum(checked.found) >= 1
    monkeypatch.setattr("dedupe.cli.cmd_review.ANNOUNCE_SEARCH_FROM", 0)
    capsys.readouterr()
    with monkeypatch.context() as patched:
        patched.setattr(cluster, "_candidates", None)  # review must not search
        patched.setattr(cluster, "_verify", None)
        assert main(["review", "--report", str(report), "--threshold", "0.1", "--no-input"]) == 0
    assert "Searching" not in capsys.readouterr().err
    # Looser than the scan: searched again, and said so first.
    assert main(["review", "--report", str(report), "--threshold", "0.3", "--no-input"]) == 0
    err = capsys.readouterr().err
    assert "Searching 3 images again at threshold 0.3" in err
    assert "checked up to distance 16" in err
