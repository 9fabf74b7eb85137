"""The package's import graph: arrows point down only, and no subpackage imports one that imports it back."""
import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, Set

PACKAGE = Path(__file__).resolve().parents[1] / "mindcv"
# Subpackage -> subpackages it must never import (ARCHITECTURE: models never import data or engine, ...).
FORBIDDEN = {
    "models": {"data", "engine", "config", "deploy", "convert"},
    "data": {"models", "engine", "config", "deploy", "checkpoint", "convert"},
    "checkpoint": {"models", "engine", "config", "deploy", "data", "convert"},
    "kernels": {"models", "engine", "config", "deploy", "data", "checkpoint"},
    "loss": {"models", "engine", "config", "data"},
    "optim": {"models", "engine", "config", "data"},
    "scheduler": {"models", "engine", "config", "data"},
    "config": {"engine", "deploy"},
}


def _unit(path: Path) -> str:
    """The subpackage (or top-level module) a file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imports(path: Path) -> Set[str]:
    """The mindcv units `path` imports (relative imports resolved)."""
    units = set()
    depth_of_file = len(path.relative_to(PACKAGE).parts) - 1  # folders below mindcv/
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "mindcv" and len(parts) > 1:
                    units.add(parts[1])
                continue
            up = node.level - 1  # `from .x` stays in the file's folder
            base = list(path.relative_to(PACKAGE).parts[:-1])[: max(depth_of_file - up, 0)]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                units.add(target[0])
            else:  # `from .. import x` at the package root: x names units
                units.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "mindcv" and len(parts) > 1:
                    units.add(parts[1])
    return units


def import_graph() -> Dict[str, Set[str]]:
    graph: Dict[str, Set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path)
        graph[unit] |= {u for u in _imports(path) if u != unit}
    return graph


def test_layers_import_only_downwards():
    graph = import_graph()
    wrong = {unit: sorted(graph[unit] & banned) for unit, banned in FORBIDDEN.items() if graph[unit] & banned}
    assert not wrong, wrong


def test_no_import_cycles_between_subpackages():
    graph = import_graph()

    def reaches(start: str, goal: str, seen: Set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(unit for unit in graph if unit != "__init__" and reaches(unit, unit, {unit}))
    assert not cycles, {unit: sorted(graph[unit]) for unit in cycles}
