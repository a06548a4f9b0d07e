"""The layering of the code: which room may import which, written down once.

:data:`LAYERS` lists the rooms of ``geo``, ``data``, ``maps`` and ``api`` from
the bottom up; a module may import only from rooms of a lower layer (and its
own room). The list is the one in ``docs/architecture.md`` (a test checks they
are the same). Imports are read from the source with ``ast`` — top-level and
function-level alike, ``if TYPE_CHECKING:`` blocks excepted — and modules must
not import each other in a cycle. ``geo`` also imports neither fastapi nor
folium (checked in a fresh interpreter, as geopandas guards its import cost).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "data", "maps", "api")

#: Rooms from the bottom up; a room imports only from the layers below its own.
LAYERS: list[tuple[str, ...]] = [
    ("geo.errors", "geo.vocab", "geo.settings", "geo.cache", "geo.holidays"),
    ("geo.crs", "geo.hours", "geo.profiles"),
    ("geo.rules",),
    ("geo.entities",),
    ("geo.store",),
    ("geo.tokens", "geo.points", "geo.walk", "geo.io.tables"),
    ("geo.regions", "geo.isochrones", "geo.io.columns", "geo.io.sheets", "geo.io.osm"),
    ("geo.circles", "geo.editing", "geo.io.importer", "geo.residents"),
    ("geo.coverage",),
    ("geo.siting", "geo.io.export", "geo.scenarios", "geo.population", "geo.batch"),
    ("data",),
    ("maps",),
    ("api",),
    ("api.routes",),
    ("api.app",),
    ("api.cli",),
]
RANK = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def room(module: str) -> str | None:
    """The room of a module: ``geo.<x>`` (``geo.io.<x>``), ``data``, ``maps``, and
    ``api``'s ``routes``, ``app`` and ``cli`` apart from the rest of ``api``."""
    if module in ("geo", "geo.io"):
        return None  # empty package markers
    parts = module.split(".")
    if parts[0] == "geo" and len(parts) > 1:
        return ".".join(parts[:3]) if parts[1] == "io" and len(parts) > 2 else ".".join(parts[:2])
    if parts[0] == "api" and len(parts) > 1 and parts[1] in ("routes", "app", "cli"):
        return f"api.{parts[1]}"
    return parts[0] if parts[0] in PACKAGES else None


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            if "migrations" in p.parts:
                continue
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules a file imports (``if TYPE_CHECKING:`` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {m: _imports(p, known) - {m} for m, p in mods.items()}


def test_every_module_has_a_room_in_the_layers():
    rooms = {room(m) for m in _modules()} - {None}
    assert rooms <= set(RANK), sorted(rooms - set(RANK))


def test_imports_only_point_down():
    bad = []
    for mod, deps in _graph().items():
        src = room(mod)
        for dep in deps:
            dst = room(dep)
            if None not in (src, dst) and dst != src and RANK[dst] >= RANK[src]:
                bad.append(f"{mod} -> {dep}")
    assert not bad, "imports against the layers:\n" + "\n".join(sorted(bad))


def test_no_import_cycle_among_modules():
    graph = _graph()
    # a package's __init__ re-exporting its modules is not a cycle with them
    edges = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    state: dict[str, int] = defaultdict(int)
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in edges.get(m, ()):
            if state[d] == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif state[d] == 0:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if state[m] == 0:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles[:10])


def test_docs_list_the_same_layers():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("<!-- layers -->")[1].split("<!-- /layers -->")[0]
    listed = [tuple(re.findall(r"`([a-z_.]+)`", line)) for line in block.splitlines()
              if line.strip().startswith("|") and "`" in line]
    assert listed[::-1] == LAYERS


def test_geo_does_not_import_web_or_map_packages():
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "geo").rglob("*.py")
        if "migrations" not in p.parts and p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'folium', 'starlette', 'api', 'maps'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "", f"geo pulled in: {out.stdout}"
