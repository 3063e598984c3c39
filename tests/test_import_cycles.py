"""No two modules of dedupe/ import each other, directly or round a longer loop (README "The
package layout": data flows one way).

Every import counts, read from the source with ast: at the top of a module, inside a function
(a lazy import that breaks a cycle at run time still ties the two modules together), and under
TYPE_CHECKING. A module importing its own package (dedupe.apply.act -> dedupe.apply) is not
counted: Python imports the package first anyway.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dedupe"


def module_names(package: Path) -> dict[str, Path]:
    """Every module under `package` by its dotted name (a package by its folder's)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of `modules` that the module `name` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            # `from dedupe import scan` imports the module dedupe.scan; `from dedupe.scan
            # import Progress` the module dedupe.scan
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import dedupe.review.app as x`
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def cycles(package: Path) -> list[list[str]]:
    """Each import cycle among the modules of `package`, as the loop of modules it goes round
    (first module repeated at the end); none when data flows one way."""
    modules = module_names(package)
    graph = {name: imported(name, path, modules) for name, path in modules.items()}
    loops: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            loop = trail[trail.index(name) :] + [name]
            if not any(set(loop) == set(known) for known in loops):
                loops.append(loop)
            return
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    return loops


def test_no_module_of_dedupe_imports_one_that_imports_it_back() -> None:
    found = cycles(PACKAGE)
    assert not found, "import cycles: " + "; ".join(" -> ".join(loop) for loop in found)


def test_a_lazy_import_back_is_a_cycle(tmp_path: Path) -> None:
    """What decode.py and raw.py did before errors.py: raw imported decode at its top, decode
    imported raw inside a function (so Python never tripped on it)."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "decode.py").write_text(
        "from __future__ import annotations\n\n\ndef raw_image(data):\n"
        "    from pkg import raw\n\n    return raw.read(data)\n"
    )
    (package / "raw.py").write_text("from pkg.decode import DecodeError\n")
    (package / "errors.py").write_text("")
    assert cycles(package) == [["pkg.decode", "pkg.raw", "pkg.decode"]]
    (package / "raw.py").write_text("from pkg.errors import DecodeError\n")
    assert cycles(package) == []


def test_a_type_only_import_round_three_modules_is_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.a import A\n")
    (package / "sub" / "a.py").write_text("from pkg import b\n")
    (package / "b.py").write_text("from . import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.sub.a as a\n"
    )
    assert cycles(package) == [["pkg.b", "pkg.c", "pkg.sub.a", "pkg.b"]]
