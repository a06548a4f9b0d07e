"""Benchmark of coverage analytics on the Lishui sample (39,248 buildings, 170
service points with 10-minute elderly circles).

Run: ``.venv/bin/python bench/coverage.py [--repeat 5] [--k 5] [--max-candidates 2500]
[--json out.json]``

Full coverage recompute — every building against every circle, then the
town, village and grid aggregates — three ways, in the same run:

(a) product   :func:`geo.coverage.reach_coverage` (``geo/coverage/reach.py``) on the
              in-memory town: building centroids as NumPy arrays, each prepared circle tested
              with ``shapely.intersects_xy`` after a bounding-box cut, then
              ``numpy.bincount`` aggregates and exact fractions.
(b) geopandas the straightforward GeoPandas recipe on the same centroids:
              ``gpd.sjoin(buildings, circles, predicate="within")``, then
              ``groupby`` for villages, grid cells and compound shares.
(c) postgis   one SQL statement: buildings joined to circles with
              ``ST_Intersects(circle, ST_Centroid(building))`` (GiST on the
              building footprints) and to ``ST_Subdivide``-d village polygons,
              grouped by village (without subdividing, the village join alone
              takes minutes).

(a) and (b) start from data already in memory; the time to load the town from
PostGIS (one aggregated row of centroids) and the circles is reported apart,
and so is the end-to-end request (load + recompute). All three must agree on
the covered buildings and population.

Siting: ``k`` new sites among at least 2,000 candidates (compound centres
and residential network nodes), exact (HiGHS) and greedy, with the candidate
circles computed like real stations'. Numba's compile (or cache load) happens
in a warm-up call and is reported apart.

Timings are wall clock, best of ``--repeat`` runs taken in turn (a busy
machine slows all methods alike; siting: one run). With
``SERVICEMAP_DATABASE_URL`` set the benchmark uses that database (it must hold
the Lishui sample); otherwise it starts a throwaway local PostGIS cluster.
"""

from __future__ import annotations

import os
import sys

# this file is named like the ``coverage`` package that numba probes for: keep
# the script's own folder off the import path
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.getcwd()) != _here]

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402

LISHUI = "440605126"


def prepare_database() -> tuple[str, object | None]:
    """A database URL with the Lishui sample and its 10-minute circles."""
    url = os.environ.get("SERVICEMAP_DATABASE_URL")
    if url:
        eng = create_engine(url)
        with eng.begin() as c:
            from geo.circles import compute_circles

            compute_circles(c, [10], profile="elderly")
        eng.dispose()
        return url, None
    from data.loading import scratch_sample_database

    return scratch_sample_database(("lishui",), circles_minutes=10)


def product(town, circles, params):
    from geo import coverage as cov

    hits = cov.circle_hits(town, circles.geoms, params.rule)
    covered = cov.covered_mask(town, circles.geoms, params.rule, hits)
    c_cov, c_tot = cov.compound_shares(town, covered, circles.geoms)
    an = cov.Analysis(town, circles, params, hits, covered, c_cov, c_tot)
    r = cov.reach_coverage(an)
    return r.totals.buildings_covered, r.totals.population_covered


def geopandas_sjoin(town, circles):
    """The same figures the straightforward GeoPandas way: ``sjoin`` for who is
    covered, ``groupby`` for villages, grid cells and compound shares."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    cols = {"pop": town.b_pop, "hh": town.b_hh, "leaf": town.b_leaf,
            "compound": town.b_compound}
    for kind, g in town.b_grid.items():
        cols[f"grid_{kind}"] = g
    b = gpd.GeoDataFrame(cols, geometry=shapely.points(town.b_xy), crs=4326)
    c = gpd.GeoDataFrame({"point": circles.point_code}, geometry=list(circles.geoms), crs=4326)

    def figures(df: pd.DataFrame, key: str) -> pd.DataFrame:
        g = df[df[key] >= 0].groupby(key)
        return pd.DataFrame({"buildings": g.size(), "covered": g["covered"].sum(),
                             "population": g["pop"].sum(), "population_covered": g["pop_cov"].sum(),
                             "households_covered": g["hh_cov"].sum()})

    def run():
        j = gpd.sjoin(b, c, predicate="within", how="inner")
        df = pd.DataFrame(b.drop(columns="geometry"))
        df["covered"] = df.index.isin(j.index.unique())
        df["pop_cov"] = df["pop"] * df["covered"]
        df["hh_cov"] = df["hh"] * df["covered"]
        comp = df[df["compound"] >= 0].groupby("compound")[["pop", "pop_cov"]].sum()
        comp["share"] = comp["pop_cov"] / comp["pop"].where(comp["pop"] > 0)
        villages = figures(df, "leaf")
        villages["compounds_covered"] = comp["share"].groupby(
            pd.Series(town.c_leaf, name="leaf")).sum()
        for kind in town.b_grid:
            figures(df, f"grid_{kind}")
        return int(villages["covered"].sum()), int(villages["population_covered"].sum())

    return run


POSTGIS = """
WITH hit AS (
    SELECT DISTINCT b.id
    FROM service_circles sc
    JOIN service_points p ON p.code = sc.point_code AND p.deleted_at IS NULL
    JOIN buildings b ON b.geom && sc.geom AND ST_Intersects(sc.geom, ST_Centroid(b.geom))
    WHERE sc.minutes = 10 AND sc.profile = 'elderly' AND b.deleted_at IS NULL
),
v AS (SELECT code, ST_Subdivide(geom, 64) AS g FROM regions WHERE parent_code = :town),
bv AS (
    SELECT DISTINCT ON (b.id) b.id, v.code, b.population
    FROM v JOIN buildings b ON b.geom && v.g AND ST_Intersects(v.g, ST_Centroid(b.geom))
    WHERE b.deleted_at IS NULL
    ORDER BY b.id, v.code
),
per_village AS (
    SELECT bv.code, count(*) AS buildings, count(hit.id) AS covered,
           sum(bv.population) AS population,
           sum(CASE WHEN hit.id IS NULL THEN 0 ELSE bv.population END) AS population_covered
    FROM bv LEFT JOIN hit ON hit.id = bv.id
    GROUP BY bv.code
)
SELECT sum(covered) AS covered, sum(population_covered) AS population_covered FROM per_village
"""


def interleaved(fns: dict, repeat: int) -> dict:
    """Best wall time of each function, the functions run in turn ``repeat``
    times (a busy machine slows them alike)."""
    best = {k: float("inf") for k in fns}
    out = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            out[k] = fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return {k: (best[k], out[k]) for k in fns}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--max-candidates", type=int, default=2500)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from geo import coverage as cov
    from geo import siting
    from geo.circles import Networks, budget_for, circles_at

    print("==> preparing the database (Lishui sample, 10-minute circles) ...", flush=True)
    url, cluster = prepare_database()
    eng = create_engine(url)
    results: dict[str, object] = {}
    try:
        with eng.connect() as conn:
            params = cov.CoverageParams().validated()
            cov.load_town(conn, LISHUI)  # warm the database's caches
            town = cov.load_town(conn, LISHUI)
            circles = cov.load_circles(conn, town.scope, params)
            n_b, n_c = len(town.b_id), len(circles)
            print(f"    {n_b} buildings, {len(town.c_code)} compounds, {len(town.g_code)} grid "
                  f"cells, {n_c} circles")
            def postgis():
                row = conn.execute(text(POSTGIS), {"town": LISHUI}).one()
                return int(row.covered), int(row.population_covered)

            timed = interleaved({
                "a": lambda: product(town, circles, params),
                "b": geopandas_sjoin(town, circles),
                "c": postgis,
                "load": lambda: cov.load_town(conn, LISHUI),
                "circles": lambda: cov.load_circles(conn, town.scope, params),
                "e2e": lambda: cov.reach_coverage(cov.analyse(conn, LISHUI))}, args.repeat)
            (a_s, a_out), (b_s, b_out), (c_s, c_out) = timed["a"], timed["b"], timed["c"]
            e2e_s, load_s, circ_s = timed["e2e"][0], timed["load"][0], timed["circles"][0]
            agree = a_out == b_out == c_out
            print("\nFull coverage recompute (all buildings × all circles, town/village/grid "
                  f"aggregates), best of {args.repeat}:")
            rows = [("(a) product (NumPy + prepared shapely)", a_s, a_out),
                    ("(b) GeoPandas sjoin + groupby", b_s, b_out),
                    ("(c) PostGIS ST_Intersects join", c_s, c_out)]
            for name, s, out in rows:
                print(f"  {name:42s} {s * 1000:9.1f} ms   {s / a_s:6.1f}×   covered "
                      f"{out[0]} buildings, {out[1]} people")
            print(f"  load town from PostGIS (centroids, compounds, grids) {load_s * 1000:7.1f} ms")
            print(f"  load circles                                         {circ_s * 1000:7.1f} ms")
            print(f"  end to end (load + recompute + report)               {e2e_s * 1000:7.1f} ms")
            print(f"  results agree: {agree}")
            results["coverage"] = {
                "buildings": n_b, "circles": n_c, "product_ms": a_s * 1000,
                "geopandas_sjoin_ms": b_s * 1000, "postgis_ms": c_s * 1000,
                "load_town_ms": load_s * 1000, "load_circles_ms": circ_s * 1000,
                "end_to_end_ms": e2e_s * 1000, "agree": agree, "covered": a_out}

            print("\n==> siting: warm-up (numba compile or cache load) ...", flush=True)
            t0 = time.perf_counter()
            networks = Networks.load(conn)
            net_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            circles_at(networks, town.b_xy[:3, 0], town.b_xy[:3, 1], budget_for("elderly", 10))
            warm_s = time.perf_counter() - t0
            an = cov.analyse(conn, LISHUI)
            t0 = time.perf_counter()
            r = siting.site(conn, LISHUI, args.k, networks=networks, source="all",
                            max_candidates=args.max_candidates, an=an)
            site_s = time.perf_counter() - t0
            cand = r["candidates"]
            print(f"  networks loaded in {net_s:.2f} s, warm-up {warm_s:.2f} s")
            print(f"\nSiting k = {args.k} on Lishui: {cand['kept']} candidates "
                  f"({cand['generated']} generated: compound centres + residential nodes; "
                  f"thinned at {cand['thinning_m']} m), {cand['useful']} reach someone new")
            print(f"  candidate circles {r['instance']['circles_s']:.2f} s, covering matrix "
                  f"{r['instance']['matrix_s']:.2f} s ({r['instance']['demand_groups']} demand "
                  f"groups), total {site_s:.2f} s")
            for m in ("exact", "greedy"):
                s = r[m]
                print(f"  {m:6s} {s['status']:10s} {s['seconds']:7.3f} s  +{s['population_new']}"
                      f" people → {s['population_covered_after']} "
                      f"({s['population_pct_after']}%)")
            cmp_ = r["comparison"]
            print(f"  exact − greedy = {cmp_['difference']} people "
                  f"(greedy reaches {cmp_['greedy_share_of_exact']}% of the optimum)")
            results["siting"] = {
                "k": args.k, "candidates": cand["kept"], "generated": cand["generated"],
                "total_s": site_s, "warmup_s": warm_s, "networks_s": net_s,
                "circles_s": r["instance"]["circles_s"], "matrix_s": r["instance"]["matrix_s"],
                "exact_s": r["exact"]["seconds"], "greedy_s": r["greedy"]["seconds"],
                "exact_population": r["exact"]["population_new"],
                "greedy_population": r["greedy"]["population_new"],
                "before": r["before"]["population_covered"]}
            try:
                load = os.getloadavg()
                results["load_average"] = load
                print(f"\n(machine load average {load[0]:.1f}, {os.cpu_count()} CPUs)")
            except OSError:
                pass
    finally:
        eng.dispose()
        if cluster is not None:
            cluster.destroy()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
    return 0 if results.get("coverage", {}).get("agree") else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
