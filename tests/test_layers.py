"""Package layering of ``src/faceproof``: imports go one way, down the declared order.

The order is written once, in docs/architecture.md ("Package layers"); this test reads it
there. Every import statement of every module is parsed (module level, ``TYPE_CHECKING``
blocks and function bodies alike), so a cycle cannot hide in a function-level import.
A function-level import is allowed only with a ``# lazy: <reason>`` comment (on its line, or
above it, or above the run of imports it belongs to): start-up cost or an optional
dependency are reasons, a cycle is not (the order check fails it anyway).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "faceproof"
DOC = REPO / "docs" / "architecture.md"
ROOT = "faceproof"  # the top-level modules (config, errors, ...) form the lowest layer
MAIN = "__main__"
LAZY = re.compile(r"#\s*lazy:\s*\S.{4,}")  # "# lazy: " and a reason (a few words)


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    path: Path
    line: int
    target: str  # imported module, dotted (absolute)
    in_function: bool
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """The layer unit of a dotted module name: its subpackage of faceproof, or ROOT/MAIN."""
    parts = module.split(".")
    if len(parts) < 2:
        return ROOT
    if parts[1] == MAIN:
        return MAIN
    return parts[1] if (SRC / parts[1]).is_dir() else ROOT


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        mod = ".".join([*base, node.module] if node.module else base)
    else:
        mod = node.module or ""
    # ``from pkg import sub`` imports the submodule ``pkg.sub`` when there is one.
    out = []
    for alias in node.names:
        sub = f"{mod}.{alias.name}"
        rel = Path(*sub.split(".")[1:]) if sub.startswith(ROOT + ".") else None
        is_module = rel is not None and (
            (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()
        )
        out.append(sub if is_module else mod)
    return list(dict.fromkeys(out))


@cache
def all_imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        parents = _parents(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            in_function = type_only = False
            p: ast.AST = node
            while p in parents:
                p = parents[p]
                if isinstance(p, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    in_function = True
                if isinstance(p, ast.If) and "TYPE_CHECKING" in ast.unparse(p.test):
                    type_only = True
            for target in _targets(node, module, path.name == "__init__.py"):
                found.append(Import(module, path, node.lineno, target, in_function, type_only))
    return tuple(found)


def own(imports: tuple[Import, ...]) -> list[Import]:
    return [i for i in imports if i.target == ROOT or i.target.startswith(ROOT + ".")]


@cache
def declared_layers() -> tuple[frozenset[str], ...]:
    """The ```text block under "## Package layers" in docs/architecture.md, lowest first:
    one layer per line, packages of one layer separated by ``|``, ``#`` starts a comment."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"^## Package layers\n.*?^```text\n(.*?)^```", text, re.S | re.M)
    assert m, 'docs/architecture.md lost its "## Package layers" ```text block'
    layers = []
    for raw in m.group(1).splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            layers.append(frozenset(p.strip() for p in line.split("|")))
    return tuple(layers)


def rank() -> dict[str, int]:
    return {pkg: i for i, layer in enumerate(declared_layers()) for pkg in layer}


def where(i: Import) -> str:
    kind = "function-level" if i.in_function else "TYPE_CHECKING" if i.type_only else "top"
    return f"{i.path.relative_to(REPO)}:{i.line} ({kind}) imports {i.target}"


# -- the tests ---------------------------------------------------------------------------------
def test_the_declared_layers_name_every_package_once() -> None:
    names = [p for layer in declared_layers() for p in layer]
    assert len(names) == len(set(names)), f"a package is in two layers: {sorted(names)}"
    actual = {package_of(module_name(p)) for p in SRC.rglob("*.py")}
    assert actual - set(names) == set(), "place the new package in docs/architecture.md"
    assert set(names) - actual == set(), "docs/architecture.md names a package that is gone"


def order_violations(imports: list[Import], order: dict[str, int]) -> list[str]:
    wrong = []
    for i in imports:
        a, b = package_of(i.module), package_of(i.target)
        if a != b and order[b] >= order[a]:
            same = "the same layer" if order[b] == order[a] else "a higher layer"
            wrong.append(f"{where(i)}: {a} -> {b} is {same}")
    return wrong


def test_every_import_goes_down_the_declared_order() -> None:
    wrong = order_violations(own(all_imports()), rank())
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_package_cycle() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for i in own(all_imports()):
        a, b = package_of(i.module), package_of(i.target)
        if a != b:
            edges[a].add(b)
    assert _cycles(edges) == []


def test_no_module_cycle() -> None:
    """No two modules import each other, directly or around a circle, counting every import
    (``TYPE_CHECKING`` and function-level ones too): a cycle that only a deferred import keeps
    from failing at start-up is still a cycle."""
    edges: dict[str, set[str]] = defaultdict(set)
    for i in own(all_imports()):
        if i.target != i.module:
            edges[i.module].add(i.target)
    cycles = _cycles(edges)
    assert cycles == [], f"modules importing each other: {cycles}"


WEB = ("fastapi", "starlette", "uvicorn", "multipart")
WEB_PACKAGES = {"api", "cli"}  # the web layer, and the command that serves it


def test_only_the_web_layer_imports_the_web_framework() -> None:
    """The domain (everything below ``api``) never imports FastAPI, Starlette or uvicorn:
    what it needs from a request is passed to it as plain, typed values."""
    wrong = [
        where(i)
        for i in all_imports()
        if i.target.split(".")[0] in WEB and package_of(i.module) not in WEB_PACKAGES
    ]
    assert not wrong, "web framework imported outside the web layer:\n" + "\n".join(wrong)


def _is_import_line(line: str) -> bool:
    s = line.strip()
    return s.startswith(("import ", "from ")) or s in {")", ""} or s.endswith((",", "("))


def says_why(lines: list[str], line: int) -> bool:
    """The import on 1-based ``line`` has ``# lazy: <reason>`` on its line, or on the line
    above it or above the run of import lines it belongs to."""
    k = line - 1
    if LAZY.search(lines[k]):
        return True
    k -= 1
    while k >= 0 and _is_import_line(lines[k]):
        k -= 1
    return k >= 0 and lines[k].lstrip().startswith("#") and bool(LAZY.search(lines[k]))


def test_function_level_imports_say_why() -> None:
    missing = []
    seen: set[tuple[Path, int]] = set()
    for i in all_imports():
        if not i.in_function or (i.path, i.line) in seen:
            continue
        seen.add((i.path, i.line))
        if not says_why(i.path.read_text(encoding="utf-8").splitlines(), i.line):
            missing.append(where(i))
    assert not missing, "function-level imports without '# lazy: <reason>':\n" + "\n".join(missing)


def test_the_checker_sees_what_it_must() -> None:
    """The parser finds relative, submodule, TYPE_CHECKING and function-level imports."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "from . import record\n"
        "if TYPE_CHECKING:\n    from faceproof.api import app\n"
        "def f():\n    from faceproof.quality.session import QualitySession\n"
    )
    found = [
        t
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for t in _targets(node, "faceproof.face.pose", False)
    ]
    assert found == [
        "typing",
        "faceproof.face.record",
        "faceproof.api.app",
        "faceproof.quality.session",
    ]
    assert package_of("faceproof.quality.session") == "quality"
    assert package_of("faceproof.config") == ROOT
    assert package_of("faceproof") == ROOT
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    upward = Import(
        "faceproof.models.x", SRC / "models" / "x.py", 3, "faceproof.pipeline.engine", True, False
    )
    sibling = Import(
        "faceproof.client.x", SRC / "client" / "x.py", 4, "faceproof.api.deps", False, True
    )
    down = Import(
        "faceproof.pipeline.x", SRC / "pipeline" / "x.py", 5, "faceproof.models.store", True, False
    )
    found = order_violations([upward, sibling, down], rank())
    assert len(found) == 2 and "a higher layer" in found[0] and "the same layer" in found[1]
    code = [
        "def f():",
        "    import os",  # 2: no reason
        "    # lazy: scipy (~2 s) only when fitting",
        "    import scipy",  # 4
        "    from a import (",
        "        b,",
        "    )",
        "    import c",  # 8: same run as 4
        "    x = 1",
        "    import d  # lazy: only when configured",  # 10
        "    import e  # lazy: x",  # 11: reason too short
    ]
    assert [says_why(code, n) for n in (2, 4, 8, 10, 11)] == [False, True, True, True, False]
