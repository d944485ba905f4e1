"""The import graph between the parts of ``ledgerlm`` (a sub-package or a top-level module) has no cycle
and no upward import: data flows one way (DESIGN.md section 1).

``LAYERS`` is the order, bottom first; a part may import parts of its own layer or of a layer below.
Every import counts (module level and inside functions), except those under ``if TYPE_CHECKING:``
(annotations only: nothing is imported at run time). ``from ledgerlm import X`` where ``X`` is a
module counts as importing ``ledgerlm.X``; ``ledgerlm/__init__.py`` (the public SDK surface) is the part
``<root>``. Read from the source files (no import is executed).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ledgerlm"

LAYERS: list[list[str]] = [
    # vocabulary: no ledgerlm imports of consequence
    [
        "version",
        "errors",
        "types",
        "record",
        "objects",
        "sse",
        "custom_logger",
        "exit_order",
        "provider_specs",
        "ticker",
    ],
    ["redaction", "usage"],
    ["store", "providers", "pricing"],
    ["migrations", "transport", "router", "ledger"],  # ledger: reconciliation (18), re-pricing, FOCUS (19)
    # terminal consumers of records, then the callback machinery that feeds them
    ["integrations"],
    ["callbacks"],
    # the call path shared by the SDK and the proxy
    ["runtime"],  # the transport and callback lists a set of calls uses
    ["engine", "responses"],
    ["sdk", "budgets", "simulator", "tags", "routing"],
    # the public SDK surface
    ["<root>"],
    # applications on top
    ["proxy"],
    ["demo", "commands", "cli"],
]


def _part(module: str) -> str:
    """``ledgerlm.proxy.call`` -> ``proxy``; ``ledgerlm`` -> ``<root>``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def _module_of(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def _is_module(dotted: str) -> bool:
    base = SRC.parent.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _targets(node: ast.AST) -> list[str]:
    """The ledgerlm modules one import statement imports."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "ledgerlm" or a.name.startswith("ledgerlm.")]
    if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
        return []
    if node.module == "ledgerlm":
        return [f"ledgerlm.{a.name}" if _is_module(f"ledgerlm.{a.name}") else "ledgerlm" for a in node.names]
    return [node.module] if node.module.startswith("ledgerlm.") else []


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) -> ``file:line`` of each import, between different parts."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_nodes(tree)
        source = _part(_module_of(path))
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            for target in _targets(node):
                if _part(target) != source:
                    where = f"{path.relative_to(SRC.parent)}:{getattr(node, 'lineno', 0)}"
                    edges[(source, _part(target))].append(where)
    return edges


def _layer_of() -> dict[str, int]:
    return {part: index for index, layer in enumerate(LAYERS) for part in layer}


def test_every_part_has_a_layer() -> None:
    parts = {_part(_module_of(p)) for p in SRC.rglob("*.py")}
    missing = sorted(parts - set(_layer_of()))
    assert not missing, f"add these parts of ledgerlm to LAYERS: {missing}"


def test_no_upward_import() -> None:
    layer = _layer_of()
    upward = [
        f"{a} -> {b} ({', '.join(where)})" for (a, b), where in import_edges().items() if layer[b] > layer[a]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    graph: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        graph[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_no_cycle_between_parts() -> None:
    edges = import_edges()
    cycles = _cycles(set(edges))
    detail = [
        f"{c}: " + "; ".join(f"{a}->{b} {edges[(a, b)]}" for a in c for b in c if (a, b) in edges)
        for c in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(detail)


def test_the_checker_sees_a_cycle() -> None:
    """The cycle finder itself: a -> b -> c -> a is one component; a DAG has none."""
    assert _cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert _cycles({("a", "b"), ("b", "c"), ("a", "c")}) == []
