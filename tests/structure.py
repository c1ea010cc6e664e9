"""Structure figures of the package, measured from its imports: `python tests/structure.py`.

Reads every module of `optbench` (with `problems/` and `runners/` mapped to `optbench.problems` and
`optbench.runners`, as the wheel installs them) with `ast`, and counts:

- top-level modules: `.py` files directly in `optbench/`;
- import cycles: strongly connected components of more than one module in the graph of explicit imports,
  including imports inside functions (an import of a submodule is an edge to that submodule; importing
  a package's name is an edge to its `__init__`). Imports under `if TYPE_CHECKING:` never run, so they
  are left out of the graph and counted on their own line;
- private cross-module imports: `from m import _name` where `m` is another module of the package;
- files over 400 lines.

tests/test_structure.py holds the package to its targets with these same functions.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# where each importable prefix lives in the source tree (pyproject's package-dir mapping)
SOURCES = {"optbench": ROOT / "optbench", "optbench.problems": ROOT / "problems", "optbench.runners": ROOT / "runners"}
LONG_FILE = 400


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool


def modules() -> dict[str, Module]:
    """Every module of the package by dotted name."""
    found: dict[str, Module] = {}
    for prefix, base in SOURCES.items():
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = Module(".".join([prefix, *parts]), path, is_package)
    return found


def _resolve(module: Module, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (or `if typing.TYPE_CHECKING:`)."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                guarded.update(id(n) for n in ast.walk(child))
    return guarded


def imports(module: Module, known: dict[str, Module], *, typing_only: bool = False) -> list[tuple[str, str]]:
    """(imported module, imported name or "") for each import in `module`, at any depth.

    With `typing_only`, the imports under `if TYPE_CHECKING:` instead (they never run).
    """
    tree = ast.parse(module.path.read_text(encoding="utf-8"))
    guarded = _type_checking_only(tree)
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and (id(node) in guarded) != typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    found.append((alias.name, ""))
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node.level, node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    found.append((submodule, ""))
                elif source in known:
                    found.append((source, alias.name))
    return found


def graph(known: dict[str, Module], *, typing_only: bool = False) -> dict[str, set[str]]:
    return {name: {target for target, _ in imports(mod, known, typing_only=typing_only) if target != name}
            for name, mod in known.items()}


def typing_cycles(known: dict[str, Module]) -> list[list[str]]:
    """Cycles that only the `if TYPE_CHECKING:` imports would close (none of them runs)."""
    runtime = graph(known)
    typing = graph(known, typing_only=True)
    merged = {name: runtime[name] | typing[name] for name in known}
    plain = {tuple(c) for c in cycles(runtime)}
    return [c for c in cycles(merged) if tuple(c) not in plain]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def private_imports(known: dict[str, Module]) -> list[str]:
    """`module: from other import _name` for each private name imported across modules."""
    found = []
    for name, mod in known.items():
        for target, imported in imports(mod, known):
            if target != name and imported.startswith("_") and not imported.startswith("__"):
                found.append(f"{name}: from {target} import {imported}")
    return found


def long_files(known: dict[str, Module]) -> list[tuple[str, int]]:
    sizes = [(name, len(mod.path.read_text(encoding="utf-8").splitlines())) for name, mod in known.items()]
    return sorted((item for item in sizes if item[1] > LONG_FILE), key=lambda item: -item[1])


def top_level(known: dict[str, Module]) -> list[str]:
    return sorted(name for name, mod in known.items() if mod.path.parent == SOURCES["optbench"])


def main() -> int:
    known = modules()
    found_cycles = cycles(graph(known))
    private = private_imports(known)
    long = long_files(known)
    top = top_level(known)
    print(f"modules: {len(known)}")
    print(f"top-level modules in optbench/: {len(top)} ({', '.join(n.rsplit('.', 1)[-1] for n in top)})")
    print(f"import cycles: {len(found_cycles)}")
    for component in found_cycles:
        print("  " + " <-> ".join(component))
    type_only = typing_cycles(known)
    print(f"  and {len(type_only)} more closed only by imports under `if TYPE_CHECKING:`, which never run")
    for component in type_only:
        print("    " + " <-> ".join(component))
    print(f"private cross-module imports: {len(private)}")
    for line in private:
        print("  " + line)
    print(f"files over {LONG_FILE} lines: {len(long)}")
    for name, lines in long:
        print(f"  {name}: {lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
