"""Union-find and group building: components, invariants, determinism."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Library, photo
from hypothesis import given
from hypothesis import strategies as st

from dedupe.cache import HashCache
from dedupe.cluster import UnionFind
from dedupe.groups import build_groups, check_invariants
from dedupe.models import KeepRules, Settings
from dedupe.scan import scan


def components_by_search(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    adjacency: dict[int, set[int]] = {k: set() for k in range(n)}
    for a, b in edges:
        adjacency[a].add(b)
        adjacency[b].add(a)
    seen: set[int] = set()
    out = []
    for start in range(n):
        if start in seen:
            continue
        stack, comp = [start], []
        seen.add(start)
        while stack:
            x = stack.pop()
            comp.append(x)
            for y in adjacency[x] - seen:
                seen.add(y)
                stack.append(y)
        if len(comp) > 1:
            out.append(sorted(comp))
    return out


@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)))
        )
    )
)
def test_union_find_equals_connected_components(case: tuple[int, list[tuple[int, int]]]) -> None:
    n, edges = case
    uf = UnionFind(n)
    for a, b in edges:
        uf.union(a, b)
    ours = sorted(sorted(c) for c in uf.components())
    assert ours == sorted(components_by_search(n, edges))


def scan_library(root: Path, settings: Settings) -> tuple:  # type: ignore[type-arg]
    result = scan((str(root),), settings, HashCache.memory(settings))
    return result.records


def test_identical_hashes_give_exactly_one_group(library: Library) -> None:
    image = photo(11, (256, 192))
    for k in range(5):
        library.save(f"copy{k}.png", image)
    library.save("other.png", photo(12, (256, 192)))
    records = scan_library(library.root, Settings())
    groups = build_groups(records, Settings(), KeepRules())
    check_invariants(groups)
    assert len(groups) == 1
    assert len(groups[0].members) == 5 and groups[0].kind == "exact"


def test_running_twice_gives_the_same_groups(library: Library) -> None:
    for k in range(6):
        image = photo(20 + k, (240, 180))
        library.save(f"{k}/a.jpg", image, quality=95)
        library.save(f"{k}/b.jpg", image.resize((120, 90)), quality=70)
    settings = Settings()
    first = build_groups(scan_library(library.root, settings), settings, KeepRules())
    second = build_groups(scan_library(library.root, settings), settings, KeepRules())
    assert first == second
    assert len(first) == 6
    assert [g.id for g in first] == list(range(1, 7))
    check_invariants(first)


def test_invariant_checks_catch_impossible_groups(library: Library) -> None:
    image = photo(30, (200, 150))
    library.save("a.png", image)
    library.save("b.png", image)
    groups = build_groups(scan_library(library.root, Settings()), Settings(), KeepRules())
    broken = groups + groups
    with pytest.raises(AssertionError, match="in two groups"):
        check_invariants(broken)
