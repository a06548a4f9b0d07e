"""Service circles against the database: the product vs pgRouting in one run.

Starts a throwaway local PostGIS cluster with the lishui sample
(``data.loading.scratch_sample_database``) and measures, on the same edge table:

(a) the product: all 170 lishui 10-minute circles (elderly, 600 m) computed and
    stored by ``geo.circles.compute_circles`` — network loading shown apart;
(b) the PostGIS peer: per point, the nearest network node (KNN), then
    ``pgr_drivingDistance`` with the same budget, then the reached edges buffered
    by the same 25 m walk-off and unioned (``ST_Union(ST_Buffer(...))`` in UTM);
(c) one moved point: its circle recomputed and its coverage (buildings and
    population inside, the default centroid rule) updated, with the town and the
    networks already in memory — what an edit costs.

Prints times and ratios. Run: ``.venv/bin/python bench/isochrones_db.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]
if sys.path[1:2] == [str(Path(__file__).resolve().parent)]:  # keep bench/ off the path
    del sys.path[1]

import numpy as np  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from data.loading import scratch_sample_database  # noqa: E402
from geo.circles import CircleParams, Networks, budget_for, circles_at, compute_circles  # noqa: E402
from geo.coverage import CoverageRule, covered_mask, load_town  # noqa: E402

PEER_SQL = """
WITH start AS (
    SELECT n.id FROM network_nodes n WHERE n.dataset = 'lishui'
    ORDER BY n.geom <-> (SELECT geom FROM service_points WHERE code = :code) LIMIT 1
), dd AS (
    SELECT node, agg_cost FROM pgr_drivingDistance(
        'SELECT id, source, target, cost, reverse_cost FROM network_edges
         WHERE dataset = ''lishui''', (SELECT id FROM start), :budget, directed => true)
)
SELECT ST_Area(ST_Union(ST_Buffer(ST_Transform(e.geom, 32649), :walk_off)))
FROM network_edges e
JOIN dd s ON s.node = e.source JOIN dd t ON t.node = e.target
WHERE e.dataset = 'lishui'
"""


def main() -> None:
    url, cluster = scratch_sample_database(("lishui",))
    try:
        run(url)
    finally:
        cluster.destroy()


def run(url: str) -> None:
    engine = create_engine(url)
    budget = budget_for("elderly", 10)
    params = CircleParams()
    with engine.begin() as conn:
        t0 = time.perf_counter()
        networks = Networks.load(conn)
        t_load = time.perf_counter() - t0
        # warm numba (compile or disk cache) outside the timings
        circles_at(networks, [113.15], [23.19], budget, params=params)
    best = np.inf
    for _ in range(3):
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM service_circles"))
            t0 = time.perf_counter()
            r = compute_circles(conn, [10], profile="elderly", networks=networks)
            best = min(best, time.perf_counter() - t0)
    assert r.computed == 170
    with engine.connect() as conn:
        xy = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM service_points")).all()
    compute = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        circles_at(networks, [p[0] for p in xy], [p[1] for p in xy], budget, params=params)
        compute = min(compute, time.perf_counter() - t0)
    print(f"(a) product: 170 lishui circles (polygons in WGS-84) computed in "
          f"{compute * 1000:.0f} ms ({170 / compute:.0f} circles/s); computed and stored in "
          f"PostGIS in {best * 1000:.0f} ms; loading the network from PostGIS "
          f"{t_load * 1000:.0f} ms")

    with engine.connect() as conn:
        codes = conn.execute(text(
            "SELECT code FROM service_points ORDER BY code")).scalars().all()
        rng = np.random.default_rng(5)
        subset = list(rng.choice(codes, size=20, replace=False))
        t0 = time.perf_counter()
        for code in subset:
            conn.execute(text(PEER_SQL), {"code": code, "budget": budget.metres,
                                          "walk_off": params.walk_off_m}).scalar_one()
        per = (time.perf_counter() - t0) / len(subset)
    peer_total = per * 170
    print(f"(b) pgr_drivingDistance + ST_Union(ST_Buffer) in PostGIS: {per * 1000:.0f} ms per "
          f"circle (20 timed) → {peer_total:.1f} s for 170; product is "
          f"{peer_total / compute:.0f}× faster computing, {peer_total / best:.0f}× including "
          f"storage")

    # (c) one moved point: circle + its coverage, with town and networks in memory
    with engine.connect() as conn:
        town = load_town(conn, "440605126")
    rule = CoverageRule()
    code = subset[0]
    times = []
    for i in range(10):
        with engine.begin() as conn:
            conn.execute(text(
                "UPDATE service_points SET geom = ST_Translate(geom, :d, 0), "
                "version = version + 1 WHERE code = :c"), {"d": 0.0002 * (1 if i % 2 else -1),
                                                         "c": code})
            t0 = time.perf_counter()
            run1 = compute_circles(conn, [10], profile="elderly", networks=networks,
                                   codes=[code])
            poly = conn.execute(text(
                "SELECT ST_AsBinary(geom) FROM service_circles WHERE point_code = :c"),
                {"c": code}).scalar_one()
            import shapely

            mask = covered_mask(town, [shapely.from_wkb(bytes(poly))], rule)
            pop = int(town.b_pop[mask].sum())
            times.append(time.perf_counter() - t0)
            assert run1.computed == 1
    print(f"(c) one moved point: circle + its coverage ({int(mask.sum())} buildings, {pop} "
          f"residents) in {np.median(times) * 1000:.1f} ms median of 10 "
          f"(goal < 50 ms)")
    engine.dispose()


if __name__ == "__main__":
    main()
