"""Benchmark of walking time from every home (Lishui: 39,248 buildings, 170
positions) and of a scenario's incremental coverage difference.

Run: ``.venv/bin/python bench/access.py [--repeat 5] [--json out.json]``

Walking time to the nearest position, three ways on the same network, in the
same run (snapping of buildings and positions is done once and shared; it is
reported apart):

(a) product  :func:`geo.coverage.access.multi_source_walk` + ``walk_from``
             (one SciPy ``dijkstra(min_only=True)`` from a virtual node per
             position, then each building's walk off and along its edge).
(b) scipy    the plain SciPy recipe: every building and position spliced into
             its street as a node of a new graph (``csr_matrix``), one
             ``dijkstra(min_only=True)`` from the positions' nodes; the
             buildings' answers read off. Must agree with (a) to 1e-6 m.
(c) pandana  ``Network.nearest_pois`` on the network's nodes with the positions
             placed on their nearest nodes (pandana's model); the product is
             run on the same node-placed problem and must agree to 5 cm
             (pandana keeps its weights in single precision).

Goal: (a) at most 1.5x (b) and under 1 s.

Scenario: one moved position: the coverage difference with today recomputed
incrementally (:func:`geo.scenarios.scenario_coverage` from today's analysis:
one circle drawn, its hits, the covered mask) against recomputing coverage
from scratch (:func:`geo.coverage.analyse`). Goal: under 100 ms.

With ``SERVICEMAP_DATABASE_URL`` set the benchmark uses that database (it must
hold the Lishui sample with 10-minute elderly circles); otherwise it starts a
throwaway local PostGIS cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

# bench/ itself off the path: bench/coverage.py would shadow the coverage package numba probes
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

LISHUI = "440605126"


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def spliced_scipy(net, starts, targets):
    """(b): buildings and positions as nodes of a new graph; one SciPy call."""
    from scipy.sparse.csgraph import dijkstra

    n = net.n_nodes
    s_edge, s_s, _s_t, s_off = starts
    t_edge, t_s, _t_t, t_off = targets
    ns, nt = len(s_edge), len(t_edge)
    # point nodes: n .. n+ns-1 (buildings' street points), then positions' street points,
    # then their off-street ends
    pe = np.concatenate([s_edge, t_edge])
    pa = np.concatenate([s_s, t_s])
    pid = n + np.arange(ns + nt)
    rows, cols, w = [], [], []
    on = pe >= 0
    order = np.lexsort((pa[on], pe[on]))
    e_sorted, a_sorted, id_sorted = pe[on][order], pa[on][order], pid[on][order]
    split = np.zeros(net.n_edges, dtype=bool)
    split[np.unique(e_sorted)] = True
    keep = ~split
    rows += [net.src[keep]]
    cols += [net.dst[keep]]
    w += [net.length[keep]]
    starts_at = np.searchsorted(e_sorted, np.arange(net.n_edges), "left")
    ends_at = np.searchsorted(e_sorted, np.arange(net.n_edges), "right")
    for e in np.flatnonzero(split):
        ids = id_sorted[starts_at[e]:ends_at[e]]
        al = a_sorted[starts_at[e]:ends_at[e]]
        chain_ids = np.concatenate([[net.src[e]], ids, [net.dst[e]]])
        chain_a = np.concatenate([[0.0], al, [net.length[e]]])
        rows.append(chain_ids[:-1])
        cols.append(chain_ids[1:])
        w.append(np.diff(chain_a))
    off_ids = n + ns + nt + np.arange(ns + nt)
    rows.append(pid[on])
    cols.append(off_ids[on])
    w.append(np.concatenate([s_off, t_off])[on])
    r, c, d = np.concatenate(rows), np.concatenate(cols), np.maximum(np.concatenate(w), 1e-9)
    size = n + 2 * (ns + nt)
    # duplicates (parallel pieces) would be summed by csr: keep the minimum instead
    sources = off_ids[ns:][t_edge >= 0]
    dist = dijkstra(_min_graph(r, c, d, size), directed=False, indices=sources, min_only=True)
    return dist[off_ids[:ns]]


def _min_graph(r, c, d, size):
    import scipy.sparse as sp

    rr, cc = np.concatenate([r, c]), np.concatenate([c, r])
    dd = np.concatenate([d, d])
    order = np.lexsort((dd, cc, rr))
    rr, cc, dd = rr[order], cc[order], dd[order]
    first = np.ones(len(rr), dtype=bool)
    first[1:] = (rr[1:] != rr[:-1]) | (cc[1:] != cc[:-1])
    return sp.csr_matrix((dd[first], (rr[first], cc[first])), shape=(size, size))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from sqlalchemy import text

    from geo import scenarios as scn
    from geo.circles import Networks
    from geo.coverage import CoverageParams, analyse
    from geo.coverage import access as ac
    from geo.coverage.loading import load_town
    from geo.store.engine import make_engine

    cluster = None
    url = os.environ.get("SERVICEMAP_DATABASE_URL")
    if not url:
        from data.loading import scratch_sample_database

        url, cluster = scratch_sample_database(("lishui",), circles_minutes=10)
    engine = make_engine(url)
    out: dict = {}
    try:
        with engine.connect() as conn:
            nets = Networks.load(conn)
            town = load_town(conn, LISHUI)
            params = ac.AccessParams().validated()
            pos = ac.load_positions(conn, town.scope.bounds, 0.02)
            run = ac.access_run(conn, LISHUI, params, networks=nets, town=town)
            net = run.network
            t_end, _ = best(lambda: ac.access_run(conn, LISHUI, params, networks=nets,
                                                  town=town), args.repeat)
            # shared snapping
            bx, by = net.project(town.b_xy[:, 0], town.b_xy[:, 1])
            t_snap, starts = best(lambda: ac.snap_arrays(net, bx, by, 300.0), args.repeat)
            px, py = net.project(pos.lng, pos.lat)
            targets = ac.snap_arrays(net, px, py, 300.0)

            def product():
                d, near = ac.multi_source_walk(net, *targets)
                return ac.walk_from(net, d, near, *starts, targets[0], targets[1],
                                    targets[3])[0]

            t_prod, got = best(product, args.repeat)
            t_scipy, want = best(lambda: spliced_scipy(net, starts, targets), args.repeat)
            fin = np.isfinite(want)
            max_diff = float(np.max(np.abs(got[fin] - want[fin]))) if fin.any() else 0.0
            assert np.array_equal(np.isfinite(got), fin) and max_diff < 1e-6, max_diff
            out["buildings"] = int(len(town.b_id))
            out["positions"] = int(len(pos))
            out["nodes"] = int(net.n_nodes)
            out["snap_s"] = t_snap
            out["product_s"] = t_prod
            out["scipy_spliced_s"] = t_scipy
            out["ratio_product_vs_scipy"] = t_prod / t_scipy
            out["end_to_end_s"] = t_end
            out["max_diff_m"] = max_diff

            # pandana on the node-placed problem
            try:
                import pandana
                import pandas as pd

                ids = pd.Index(np.arange(net.n_nodes))
                pnet = pandana.Network(pd.Series(net.x, index=ids), pd.Series(net.y, index=ids),
                                       pd.Series(net.src), pd.Series(net.dst),
                                       pd.DataFrame({"length": net.length}), twoway=True)
                tx, ty = net.x, net.y
                near_node = np.array([int(np.argmin(np.hypot(tx - a, ty - b)))
                                      for a, b in zip(px, py, strict=True)])
                horizon = 20_000.0

                def pandana_run():
                    pnet.set_pois("pos", horizon, 1, net.x[near_node], net.y[near_node])
                    return pnet.nearest_pois(horizon, "pos", num_pois=1).iloc[:, 0].to_numpy()

                def product_nodes():
                    zeros = np.zeros(len(near_node))
                    edge = np.array([int(np.flatnonzero((net.src == v) | (net.dst == v))[0])
                                     for v in near_node])
                    at_src = net.src[edge] == near_node
                    to_s = np.where(at_src, 0.0, net.length[edge])
                    return ac.multi_source_walk(net, edge, to_s, net.length[edge] - to_s,
                                                zeros)[0]

                t_pd, pd_d = best(pandana_run, args.repeat)
                t_pn, pn_d = best(product_nodes, args.repeat)
                ok = np.isfinite(pn_d) & (pn_d < horizon)
                diff = float(np.max(np.abs(pd_d[ok] - pn_d[ok])))
                assert diff < 0.05, diff  # pandana keeps its weights in float32
                out["pandana_s"] = t_pd
                out["product_nodes_s"] = t_pn
                out["ratio_product_vs_pandana"] = t_pn / t_pd
                out["pandana_max_diff_m"] = diff
            except ImportError:
                out["pandana"] = "not installed"

            # scenario: one moved position, incremental coverage difference
            cparams = CoverageParams(minutes=10, profile="elderly").validated()
            today = analyse(conn, LISHUI, cparams)
            code, x, y = conn.execute(text(
                "SELECT code, ST_X(geom), ST_Y(geom) FROM service_points "
                "WHERE code LIKE 'LS-%' ORDER BY code LIMIT 1")).one()
            sc = scn.Scenario(0, "bench", LISHUI, {"positions": [
                {"op": "move", "code": code, "lng": x + 0.003, "lat": y + 0.002}], "paths": []})
            t_inc, moved = best(lambda: scn.scenario_coverage(conn, sc, cparams, networks=nets,
                                                              today=today), args.repeat)
            t_full, _ = best(lambda: analyse(conn, LISHUI, cparams, town=today.town),
                             max(1, args.repeat // 2))
            out["scenario_incremental_s"] = t_inc
            out["coverage_from_scratch_s"] = t_full
            out["scenario_delta_population"] = int(
                today.town.b_pop[moved.covered].sum() - today.town.b_pop[today.covered].sum())
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.destroy()
    for k, v in out.items():
        print(f"{k:28s} {v:.4f}" if isinstance(v, float) else f"{k:28s} {v}")
    goal = out["product_s"] <= 1.5 * out["scipy_spliced_s"] and out["product_s"] < 1.0
    print(f"goal walk (≤1.5x SciPy, <1 s): {'met' if goal else 'NOT met'}")
    print(f"goal scenario (<100 ms): {'met' if out['scenario_incremental_s'] < 0.1 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
