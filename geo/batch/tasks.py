"""The work of one town, runnable anywhere: in this process, or on a Dask worker
that receives only the database URL, the :class:`~geo.batch.plan.TownTask` and the
:class:`~geo.batch.plan.BatchParams`.

Every task is idempotent: circles are recomputed only where their inputs changed
(:func:`geo.circles.compute_circles`, ``only_stale``), and a town's results are
rewritten only when the fingerprint of their inputs differs from the stored one.
Each task writes in one transaction under an advisory lock of its town, so a task
rescheduled after its worker died (or run twice by two batches) never writes half
a town, nor two copies of it.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.batch.plan import BatchParams, TownTask, grow_bbox
from geo.circles import compute_circles
from geo.circles.networks import Networks, load_network
from geo.coverage import CoverageParams, CoverageRule, analyse, load_town, reach_coverage
from geo.coverage.access import AccessParams, access_run, walk_report
from geo.errors import ServiceMapError
from geo.store.versions import dataset_versions

__all__ = ["halo_networks", "refresh_point", "town_circles", "town_digest", "town_results"]

_ENGINES: dict[str, Engine] = {}


def _engine(url: str) -> Engine:
    """One engine per URL and process (a worker runs many towns)."""
    engine = _ENGINES.get(url)
    if engine is None:
        from geo.store.engine import make_engine

        engine = _ENGINES[url] = make_engine(url, pool_size=2, max_overflow=2)
    return engine


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        import os

        return f"pid {os.getpid()}"


def _lock(conn: Connection, what: str, code: str) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"batch:{what}:{code}"})


def halo_networks(conn: Connection, datasets: tuple[str, ...] | list[str],
                  box: tuple[float, float, float, float]) -> Networks:
    """The walking networks of ``datasets`` cut to ``box`` (a town and its halo)."""
    nets = {d: load_network(conn, d, bbox=box) for d in datasets}
    return Networks({k: v for k, v in nets.items() if v is not None}, dataset_versions(conn))


def _town_point_codes(conn: Connection, town: str) -> list[str]:
    # a point's region is its town or one of the town's villages, whose codes
    # begin with the town's (the national division code is hierarchical)
    return conn.execute(text(
        "SELECT code FROM service_points WHERE deleted_at IS NULL AND region_code LIKE :t || '%' "
        "ORDER BY code"), {"t": town}).scalars().all()


def town_circles(url: str, task: TownTask, params: BatchParams) -> dict[str, Any]:
    """Compute and store the circles of the town's own positions on the town's
    network and its halo (only the missing or stale ones)."""
    t0 = time.perf_counter()
    with _engine(url).begin() as conn:
        _lock(conn, "circles", task.code)
        codes = _town_point_codes(conn, task.code)
        computed = fresh = straight = 0
        if codes:
            networks = halo_networks(conn, task.datasets, task.halo)
            run = compute_circles(conn, [params.minutes], profile=params.profile,
                                  networks=networks, codes=codes)
            computed, fresh, straight = run.computed, run.fresh, run.straight_line
    return {"town": task.code, "step": "circles", "points": len(codes), "computed": computed,
            "fresh": fresh, "straight_line": straight,
            "seconds": round(time.perf_counter() - t0, 3), "worker": _worker_name()}


def town_digest(town) -> str:
    """Fingerprint of what a town's results are computed from: its buildings (ids,
    places, people), compounds and villages (:class:`geo.coverage.Town`)."""
    h = hashlib.sha1()
    for arr in (town.b_id, town.b_xy, town.b_pop, town.b_hh, town.b_leaf, town.b_compound,
                town.c_pop, town.c_leaf):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update("|".join(map(str, town.c_code)).encode())
    h.update("|".join(a.code for a in town.leaves).encode())
    return h.hexdigest()[:20]


def _stored_version(conn: Connection, code: str, analysis: str, tag: str) -> str | None:
    return conn.execute(text(
        "SELECT input_version FROM batch_results WHERE region_code = :c AND analysis = :a "
        "AND params = :p"), {"c": code, "a": analysis, "p": tag}).scalar_one_or_none()


def _store(conn: Connection, code: str, analysis: str, tag: str, version: str,
           result: dict, seconds: float) -> None:
    conn.execute(text("""
        INSERT INTO batch_results (region_code, analysis, params, input_version, result,
                                   seconds, worker, computed_at)
        VALUES (:c, :a, :p, :v, CAST(:r AS jsonb), :s, :w, now())
        ON CONFLICT (region_code, analysis, params) DO UPDATE SET
          input_version = EXCLUDED.input_version, result = EXCLUDED.result,
          seconds = EXCLUDED.seconds, worker = EXCLUDED.worker,
          computed_at = EXCLUDED.computed_at"""),
        {"c": code, "a": analysis, "p": tag, "v": version,
         "r": json.dumps(result, ensure_ascii=False, default=str), "s": seconds,
         "w": _worker_name()})


def _positions_digest(conn: Connection, box) -> str:
    row = conn.execute(text("""
        SELECT md5(coalesce(string_agg(code || ':' || version || ':' || kind || ':' ||
                                       coalesce(hours_text, ''), ',' ORDER BY code), ''))
        FROM service_points WHERE deleted_at IS NULL
          AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"""),
        {"x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]}).scalar_one()
    return row[:16]


def town_results_in(conn: Connection, task: TownTask, params: BatchParams, *,
                    networks: Networks | None = None) -> dict[str, Any]:
    """:func:`town_results` on an open connection (the caller's transaction)."""
    t0 = time.perf_counter()
    _lock(conn, "results", task.code)
    tag = params.tag()
    out: dict[str, Any] = {"town": task.code, "step": "results", "coverage": "unchanged",
                           "walk": "unchanged" if params.walk else "off"}
    town = load_town(conn, task.code)
    out["buildings"] = int(len(town.b_id))
    if len(town.b_id) == 0:
        out["coverage"] = out["walk"] = "no buildings"
        return out
    digest = town_digest(town)
    cov = CoverageParams(minutes=params.minutes, profile=params.profile,
                         rule=CoverageRule(params.building_rule, params.compound_rule))
    t1 = time.perf_counter()
    try:
        an = analyse(conn, task.code, cov, town=town)
    except ServiceMapError as exc:  # no circle near the town at all
        out["coverage"] = f"skipped: {exc}"
        an = None
    if an is not None:
        version = f"c{an.circles.version}:t{digest}"
        if _stored_version(conn, task.code, "coverage", tag) != version:
            result = reach_coverage(an, by_point=True).as_dict()
            result["halo_m"] = params.halo_m
            _store(conn, task.code, "coverage", tag, version, result,
                   time.perf_counter() - t1)
            out["coverage"] = "stored"
        out["covered_pct"] = float(an.covered.sum()) / len(town.b_id) * 100.0
    if params.walk:
        t2 = time.perf_counter()
        ap = AccessParams(profile=params.profile)
        box = grow_bbox(task.bbox, ap.catchment_minutes * ap.metres_per_minute + 500.0)
        versions = dataset_versions(conn)
        nets_tag = ",".join(f"{d}@{versions.get(d, '?')}" for d in task.datasets)
        version = f"p{_positions_digest(conn, box)}:n{nets_tag}:t{digest}"
        if _stored_version(conn, task.code, "walk", tag) != version:
            if networks is None:
                networks = halo_networks(conn, task.datasets, task.halo)
            try:
                run = access_run(conn, task.code, ap, networks=networks, town=town)
            except ServiceMapError as exc:  # no network covers the town
                out["walk"] = f"skipped: {exc}"
            else:
                result = walk_report(run)
                result["halo_m"] = params.halo_m
                result["beyond_halo"] = ("步行时间在镇街及其外延 "
                                         f"{params.halo_m:g} 米内的路网上计算，超出部分计为不可达")
                _store(conn, task.code, "walk", tag, version, result, time.perf_counter() - t2)
                out["walk"] = "stored"
    out["seconds"] = round(time.perf_counter() - t0, 3)
    out["worker"] = _worker_name()
    return out


def town_results(url: str, task: TownTask, params: BatchParams, *_after: Any) -> dict[str, Any]:
    """Coverage of the town by the stored circles (its own and its neighbours')
    and walking time from every home to the nearest position, stored in
    ``batch_results`` when their inputs changed. ``_after``: the circle tasks
    this one waits for (Dask passes their results)."""
    with _engine(url).begin() as conn:
        return town_results_in(conn, task, params)


def refresh_point(conn: Connection, code: str, params: BatchParams, tasks: dict[str, TownTask]
                  ) -> dict[str, Any]:
    """After one position was added, moved or changed: recompute its circle and
    the stored results of the towns its old or new circle touches (its own town,
    and a neighbour where the circle crosses the border) — nothing else.

    ``tasks``: the plan of the towns (:func:`geo.batch.plan.plan_towns`), by code.
    """
    t0 = time.perf_counter()
    prof = params.profile
    before = conn.execute(text("""
        SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
        FROM (SELECT ST_Envelope(geom) AS e FROM service_circles
              WHERE point_code = :c AND minutes = :m AND profile = :p) s"""),
        {"c": code, "m": params.minutes, "p": prof}).first()
    pt = conn.execute(text("SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
                           "WHERE code = :c AND deleted_at IS NULL"), {"c": code}).first()
    boxes = [] if before is None or before.x0 is None else \
        [(before.x0, before.y0, before.x1, before.y1)]
    if pt is not None:
        reach = grow_bbox((pt.x, pt.y, pt.x, pt.y), params.budget_m() + 500.0)
        datasets = conn.execute(text(
            "SELECT DISTINCT dataset FROM network_edges "
            "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"),
            dict(zip(("x0", "y0", "x1", "y1"), reach, strict=True))).scalars().all()
        nets = halo_networks(conn, datasets, reach)
        compute_circles(conn, [params.minutes], profile=prof, networks=nets, codes=[code])
        after = conn.execute(text("""
            SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1
            FROM (SELECT ST_Envelope(geom) AS e FROM service_circles
                  WHERE point_code = :c AND minutes = :m AND profile = :p) s"""),
            {"c": code, "m": params.minutes, "p": prof}).first()
        if after is not None and after.x0 is not None:
            boxes.append((after.x0, after.y0, after.x1, after.y1))
    t_circle = time.perf_counter() - t0
    touched = sorted({c for c, t in tasks.items() for b in boxes
                      if b[0] <= t.bbox[2] and t.bbox[0] <= b[2]
                      and b[1] <= t.bbox[3] and t.bbox[1] <= b[3]})
    if touched:
        touched = conn.execute(text(
            "SELECT code FROM regions WHERE code = ANY(:codes) AND EXISTS ("
            "  SELECT 1 FROM unnest(CAST(:boxes AS text[])) b "
            "  WHERE ST_Intersects(geom, ST_GeomFromText(b, 4326))) ORDER BY code"),
            {"codes": touched, "boxes": [
                f"POLYGON(({b[0]} {b[1]},{b[2]} {b[1]},{b[2]} {b[3]},{b[0]} {b[3]},{b[0]} {b[1]}))"
                for b in boxes]}).scalars().all()
    towns = [town_results_in(conn, tasks[c], params) for c in touched]
    return {"point": code, "towns": list(touched), "results": towns,
            "circle_seconds": round(t_circle, 4),
            "seconds": round(time.perf_counter() - t0, 4)}
