"""The import structure of `monitor`, read from its source: no circles, no import from a lower floor
to a higher one, and a core that names no heavy edge library.

Read with `ast` (every import statement, those under `TYPE_CHECKING` and inside functions too), so a
type that climbs up or a circle drawn only for annotations is caught as well as a runtime one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.package_source import TOOLS, module_files

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("records", ("monitor.records", "monitor.errors")),
    (
        "core data and pure logic",
        (
            "monitor.batch", "monitor.logwatch", "monitor.explanation", "monitor.framing", "monitor.headers",
            "monitor.entities", "monitor.masking", "monitor.stories", "monitor.language", "monitor.triage",
            "monitor.load", "monitor.drift", "monitor.batching", "monitor.backoff", "monitor.yaml_files",
            "monitor.config", "monitor.metrics", "monitor.logs", "monitor.periodic", "monitor.outages",
            "monitor.replies", "monitor.health",
        ),
    ),
    ("ports", ("monitor.ports",)),
    (
        "core loop",
        (
            "monitor.validation", "monitor.processing", "monitor.routing", "monitor.row_by_row", "monitor.resync",
            "monitor.log_guard",
            "monitor.pipeline",
        ),
    ),
    (
        "alert rules (pure)",
        (
            "monitor.alerts.config", "monitor.alerts.rules", "monitor.alerts.budget", "monitor.alerts.reasons",
            "monitor.alerts.payload",
        ),
    ),
    (
        "edges",
        (
            "monitor.kafka", "monitor.registry", "monitor.language_detection", "monitor.webhooks", "monitor.web",
            "monitor.db", "monitor.model", "monitor.alerts",
        ),
    ),
    ("wiring", ("monitor.service", "monitor.cli", "monitor.__main__", "monitor")),
)
"""Floors, lowest first; a module may import its own floor and those below. A name covers its
submodules; the longest name that matches a module places it."""

TOOLS_DOOR = "monitor.cli.tools"
"""`monitor demo` and `monitor bench`: import the tools lazily, after checking for the extra."""

CORE_FLOORS = 4
"""The floors below the alert rules: records, core data and logic, ports, the core loop."""
EDGE_LIBRARIES = frozenset(
    {"torch", "transformers", "sqlalchemy", "aiokafka", "httpx", "httpx2", "confluent_kafka", "fastavro",
     "jsonschema", "lingua", "asyncpg", "alembic", "aiohttp", "standardwebhooks"}
)
"""What the core never imports: models, the database, Kafka, HTTP, the registry client."""


def imports_of(name: str, path: Path, known: Iterable[str]) -> tuple[set[str], set[str]]:
    """(our modules, top-level third-party packages) that `path` imports anywhere in its text."""
    known = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours: set[str] = set()
    theirs: set[str] = set()

    def add(target: str) -> None:
        if target == "monitor" or target.startswith("monitor."):
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            ours.add(target)
        else:
            theirs.add(target.partition(".")[0])

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                # `from monitor.alerts import rules`: the submodule, else the module itself.
                add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    ours.discard(name)
    return ours, theirs - {""}


def import_graph(files: Mapping[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Our modules each imports, and the third-party packages each imports."""
    ours, theirs = {}, {}
    for name, path in files.items():
        ours[name], theirs[name] = imports_of(name, path, files)
    return ours, theirs


def floor_of(module: str) -> int | None:
    """The index in `LAYERS` of the longest name covering `module`; None for the tools or unplaced."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and (best is None or len(n) > best[0]):
                best = (len(n), index)
    return None if best is None else best[1]


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward_imports(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Every import from a lower floor to a higher one, and every import of the tools from outside them."""
    bad = []
    for module, targets in sorted(graph.items()):
        if module == TOOLS or module.startswith(TOOLS + "."):
            continue
        for target in sorted(targets):
            if target == TOOLS or target.startswith(TOOLS + "."):
                if module != TOOLS_DOOR:
                    bad.append(f"{module} imports the tools ({target})")
                continue
            here, there = floor_of(module), floor_of(target)
            if here is not None and there is not None and there > here:
                bad.append(f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[there][0]})")
    return bad


def test_every_module_has_a_floor() -> None:
    unplaced = [m for m in module_files() if floor_of(m) is None and not m.startswith(TOOLS)]
    assert unplaced == [], "place these modules in LAYERS"


def test_no_module_imports_another_in_a_circle() -> None:
    ours, _ = import_graph(module_files())
    assert cycles(ours) == []


def test_no_floor_imports_a_higher_one_and_only_the_cli_reaches_the_tools() -> None:
    ours, _ = import_graph(module_files())
    assert upward_imports(ours) == []


def test_the_core_names_no_heavy_edge_library() -> None:
    _, theirs = import_graph(module_files())
    core = {m for m in theirs if (floor := floor_of(m)) is not None and floor < CORE_FLOORS}
    assert {"monitor.pipeline", "monitor.validation", "monitor.masking.engine", "monitor.stories"} <= core
    named = {m: sorted(theirs[m] & EDGE_LIBRARIES) for m in sorted(core) if theirs[m] & EDGE_LIBRARIES}
    assert named == {}


def test_the_checks_see_a_circle_and_a_type_climbing_up(tmp_path: Path) -> None:
    """The checks themselves work: a circle through an annotation-only import and an upward import
    in a function body are both found."""
    package = tmp_path / "monitor"
    (package / "alerts").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "alerts" / "__init__.py").write_text("")
    only_for_types = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import monitor.batch\n"
    (package / "records.py").write_text(only_for_types)
    (package / "batch.py").write_text("from monitor.records import Partition\nimport sqlalchemy.ext\n")
    (package / "ports.py").write_text("def f():\n    from monitor.alerts import payload\n")
    (package / "alerts" / "payload.py").write_text("from . import rules\n")
    (package / "alerts" / "rules.py").write_text("")
    ours, theirs = import_graph(module_files(package))
    assert cycles(ours) == [["monitor.batch", "monitor.records"]]
    assert upward_imports(ours) == [
        "monitor.ports (ports) imports monitor.alerts.payload (alert rules (pure))",
        "monitor.records (records) imports monitor.batch (core data and pure logic)",
    ]
    assert ours["monitor.alerts.payload"] == {"monitor.alerts.rules"}
    assert theirs["monitor.batch"] == {"sqlalchemy"}
