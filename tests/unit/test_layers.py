"""The import graph follows the layers of docs/architecture.md:

    data <- features <- model <- {training, serving} <- pipeline <- api
    data <- synth <- pipeline

A stage imports only stages to its left; training and serving never import each other, nor do
synth (the synthetic world, which writes contract data) and features;
``report`` (the HTML kit) and the shared base modules (errors, interrupt, io, progress, redact,
settings, sql, stats, tracking) import no stage; no circles between packages. Every import
counts: module level, inside a function (lazy) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import healthscore

PACKAGE = Path(healthscore.__file__).parent
# A stage may import the stages of a lower rank; the same rank (features and synth; training
# and serving) is apart.
STAGES = {"data": 1, "features": 2, "synth": 2, "model": 3, "training": 4, "serving": 4,
          "pipeline": 5, "api": 6}
REPORT = "report"  # used by every stage, imports none
# shared helpers, import no stage
BASE = {"errors", "interrupt", "io", "progress", "redact", "settings", "sql", "stats",
        "tracking"}


@dataclass(frozen=True)
class Edge:
    """``source`` (a package or base module) imports ``target``; ``where`` says where."""

    source: str
    target: str
    where: str


def unit_of(module: str) -> str:
    """The package or top-level module a dotted healthscore module belongs to."""
    return module.split(".")[1] if "." in module else "healthscore"


def imported_modules(path: Path, module: str, root: Path = PACKAGE) -> list[tuple[str, int]]:
    """Every healthscore module ``path`` imports (absolute or relative) with its line;
    ``root`` is the package directory (to tell a submodule from a name in ``__init__``)."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from healthscore import tracking` imports the module healthscore.tracking;
            # `from healthscore import __version__` only the package's __init__
            found += [(f"{base}.{a.name}" if base == "healthscore" and _is_module(
                root, a.name) else base, node.lineno) for a in node.names]
    return [(name, line) for name, line in found if name.startswith("healthscore.")]


def _is_module(root: Path, name: str) -> bool:
    return (root / f"{name}.py").is_file() or (root / name / "__init__.py").is_file()


def import_edges(root: Path = PACKAGE) -> list[Edge]:
    """Imports between different packages (or base modules) of ``healthscore``."""
    edges = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        module = ".".join(("healthscore", *parts)).removesuffix(".__init__")
        source = unit_of(module)
        for name, line in imported_modules(path, module, root):
            target = unit_of(name)
            if target != source:
                edges.append(Edge(source, target, f"{path.relative_to(root)}:{line}"))
    return edges


def layer_violations(edges: list[Edge]) -> list[str]:
    """Every edge the layers forbid, and every package no layer names, as readable lines."""
    problems = []
    for e in edges:
        for unit in (e.source, e.target):
            if unit not in STAGES and unit not in BASE and unit != REPORT and (
                    unit != "healthscore"):
                problems.append(f"{e.where}: {unit!r} is in no layer; add it to "
                                "tests/unit/test_layers.py and docs/architecture.md")
        if e.target in STAGES and e.source in BASE | {REPORT}:
            problems.append(f"{e.where}: {e.source} imports the stage {e.target}; "
                            f"{e.source} must import no stage")
        elif e.source in STAGES and e.target in STAGES and (
                STAGES[e.target] >= STAGES[e.source]):
            kind = "its neighbour" if STAGES[e.target] == STAGES[e.source] else "a later stage"
            problems.append(f"{e.where}: {e.source} imports {kind} {e.target}")
        elif e.source in BASE and e.target == REPORT:
            problems.append(f"{e.where}: the base module {e.source} imports report")
    return sorted(set(problems))


def cycles(edges: list[Edge]) -> list[list[str]]:
    """Circles between packages: strongly connected groups of more than one (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_follows_the_layers():
    edges = import_edges()
    assert len(edges) > 50  # the walk found the package's imports
    assert layer_violations(edges) == []


def test_there_are_no_circles_between_packages():
    assert cycles(import_edges()) == []


def test_training_and_serving_share_only_the_model_package():
    edges = import_edges()
    pairs = {(e.source, e.target) for e in edges}
    assert ("training", "model") in pairs and ("serving", "model") in pairs
    assert ("training", "serving") not in pairs and ("serving", "training") not in pairs


def test_a_forbidden_edge_is_caught():
    def edge(source: str, target: str) -> Edge:
        return Edge(source, target, f"{source}/x.py:1")

    assert layer_violations([edge("serving", "model"), edge("pipeline", "training")]) == []
    assert layer_violations([edge("training", "serving")]) == [
        "training/x.py:1: training imports its neighbour serving"]
    assert layer_violations([edge("model", "serving")]) == [
        "model/x.py:1: model imports a later stage serving"]
    assert layer_violations([edge("report", "features")]) == [
        "report/x.py:1: report imports the stage features; report must import no stage"]
    assert layer_violations([edge("tracking", "training")]) == [
        "tracking/x.py:1: tracking imports the stage training; tracking must import no stage"]
    assert layer_violations([edge("synth", "data"), edge("pipeline", "synth")]) == []
    assert layer_violations([edge("features", "synth")]) == [
        "features/x.py:1: features imports its neighbour synth"]
    assert "in no layer" in layer_violations([edge("synthetic", "data")])[0]


def test_a_circle_is_caught():
    circle = [Edge("io", "redact", "io.py:1"), Edge("redact", "errors", "redact.py:1"),
              Edge("errors", "io", "errors.py:1"), Edge("data", "io", "data/x.py:1")]
    assert cycles(circle) == [["errors", "io", "redact"]]
    assert cycles(circle[1:]) == []


def test_lazy_relative_and_type_checking_imports_count(tmp_path):
    package = tmp_path / "healthscore"
    (package / "training").mkdir(parents=True)
    (package / "tracking.py").write_text("", encoding="utf-8")
    (package / "training" / "x.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from healthscore.serving.drift import DriftReference\n"
        "def f():\n    from ..serving import scorer\n"
        "from healthscore import tracking, __version__\n", encoding="utf-8")
    found = {(e.target, e.where) for e in import_edges(package)}
    assert found == {("serving", "training/x.py:3"), ("serving", "training/x.py:5"),
                     ("tracking", "training/x.py:6")}
