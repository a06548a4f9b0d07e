"""Service circles stored in PostGIS: compute (only the stale ones), read, and
ad-hoc circles for any location.

Invalidation: every stored circle records ``input_version`` — the point's
``version`` (bumped when it moves), the version of the walking network (bumped
when a network dataset is written) and the parameters (walk-off, snapping
distance, grid step). A circle whose recorded version differs from the current
one is stale and is recomputed; fresh circles are left alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.circles.networks import Networks
from geo.circles.params import CircleParams, budget_for, profile_key
from geo.crs import from_wgs84, metric_crs_for, normalize_crs_name
from geo.isochrones import Circle, circles_for_sources, straight_line_circle
from geo.points import convert_geojson
from geo.profiles import WalkBudget
from geo.store.copy import copy_rows, ewkb_hex
from geo.store.versions import network_version

__all__ = ["CircleRun", "circle_feature", "circles_at", "compute_circles", "feature_in_crs",
           "stored_circle"]


@dataclass
class CircleRun:
    """What :func:`compute_circles` did."""

    profile: str
    minutes: list[float]
    computed: int = 0
    fresh: int = 0
    straight_line: int = 0
    seconds: float = 0.0
    network_version: str = ""
    codes: list[str] = field(default_factory=list)


def _input_versions(networks: Networks, rows: Sequence, params: CircleParams) -> list[str]:
    """What each circle depends on: the point's version, the version of the
    network it walks on (or none: straight line) and the parameters."""
    if not rows:
        return []
    datasets = networks.datasets_for([r.lng for r in rows], [r.lat for r in rows],
                                     params.max_snap_m)
    return [f"p{r.version}:{networks.input_tag(d)}:{params.tag()}"
            for r, d in zip(rows, datasets, strict=True)]


def _points_with_state(conn: Connection, minutes: float, profile: str,
                       codes: Sequence[str] | None) -> list:
    return conn.execute(text("""
        SELECT p.code, p.version, ST_X(p.geom) AS lng, ST_Y(p.geom) AS lat,
               c.input_version AS stored
        FROM service_points p
        LEFT JOIN service_circles c
          ON c.point_code = p.code AND c.minutes = :m AND c.profile = :pr
        WHERE p.deleted_at IS NULL
          AND (CAST(:codes AS text[]) IS NULL OR p.code = ANY(CAST(:codes AS text[])))
        ORDER BY p.code"""), {"m": minutes, "pr": profile,
                              "codes": list(codes) if codes is not None else None}).all()


def compute_circles(
    conn: Connection,
    minutes: Sequence[float],
    *,
    profile: str = "elderly",
    speed_kmh: float | None = None,
    params: CircleParams = CircleParams(),
    networks: Networks | None = None,
    only_stale: bool = True,
    codes: Sequence[str] | None = None,
    log: Callable[[str], None] | None = None,
) -> CircleRun:
    """Compute and store the service circles of all (or ``codes``) points.

    Parameters
    ----------
    conn
        Connection inside the caller's transaction.
    minutes
        Walking times, minutes.
    profile, speed_kmh
        Walking profile (``standard``, ``adult``, ``elderly``) or an explicit
        speed in km/h.
    params
        Walk-off distance, snapping distance and grid step (metres).
    networks
        The walking networks (default: loaded from the database).
    only_stale
        Recompute only circles that are missing or whose inputs changed.
    codes
        Restrict to these point codes.

    Returns
    -------
    CircleRun
        Counts and timing; circles are written in EPSG:4326.
    """
    t0 = time.perf_counter()
    budgets = [budget_for(profile, m, speed_kmh) for m in minutes]
    key = profile_key(budgets[0])
    run = CircleRun(profile=key, minutes=[b.minutes for b in budgets])
    nv = network_version(conn)
    run.network_version = nv
    if networks is None:
        networks = Networks.load(conn)
    for budget in budgets:
        rows = _points_with_state(conn, budget.minutes, key, codes)
        versions = dict(zip([r.code for r in rows], _input_versions(networks, rows, params),
                            strict=True))
        todo = [r for r in rows if not only_stale or r.stored != versions[r.code]]
        run.fresh += len(rows) - len(todo)
        if not todo:
            continue
        lng = np.array([r.lng for r in todo])
        lat = np.array([r.lat for r in todo])
        circles = circles_at(networks, lng, lat, budget, params=params)
        geoms = [c.polygon for c in circles]
        conn.execute(text(
            "DELETE FROM service_circles WHERE minutes = :m AND profile = :pr "
            "AND point_code = ANY(:codes)"),
            {"m": budget.minutes, "pr": key, "codes": [r.code for r in todo]})
        copy_rows(conn, "service_circles", [
            "point_code", "minutes", "profile", "speed_kmh", "budget_m", "method", "walk_off_m",
            "snap_distance_m", "geom", "input_version"],
            ((r.code, budget.minutes, key, budget.speed_kmh, budget.metres, c.method.value,
              c.walk_off_m, c.snap.off_network_m if c.snap is not None else None, g,
              versions[r.code])
             for r, c, g in zip(todo, circles, ewkb_hex(geoms, multi=True), strict=True)))
        run.computed += len(todo)
        run.straight_line += sum(c.method.value == "straight_line" for c in circles)
        run.codes.extend(r.code for r in todo)
    run.seconds = time.perf_counter() - t0
    if log:
        log(f"service circles ({key}, {', '.join(f'{m:g}' for m in run.minutes)} min): "
            f"{run.computed} computed ({run.straight_line} straight-line fallback), "
            f"{run.fresh} already fresh, {run.seconds:.2f} s")
    return run


def circles_at(networks: Networks, lng: Sequence[float], lat: Sequence[float],
               budget: WalkBudget, *, params: CircleParams = CircleParams()) -> list[Circle]:
    """Circles (polygons in EPSG:4326) for WGS-84 points.

    Each point walks on the network that covers it; a point farther than
    ``params.max_snap_m`` from every edge, or in a place with no network, gets a
    straight-line circle of the same budget (``method = straight_line``).
    """
    lng = np.atleast_1d(np.asarray(lng, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    out: list[Circle | None] = [None] * len(lng)
    groups: dict[str | None, list[int]] = {}
    for i, name in enumerate(networks.datasets_for(lng, lat, params.max_snap_m)):
        groups.setdefault(name, []).append(i)
    for name, idx in groups.items():
        network = networks.by_dataset[name] if name is not None else None
        if network is None:
            for i in idx:
                out[i] = _straight_line_wgs84(float(lng[i]), float(lat[i]), budget)
            continue
        x, y = network.project(lng[idx], lat[idx])
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        snaps = network.snap_many(x, y, max_snap_m=params.max_snap_m)
        circles = circles_for_sources(network, snaps, budget, walk_off_m=params.walk_off_m,
                                      grid_m=params.grid_m,
                                      fallback_xy=np.column_stack([x, y]))
        # one coordinate transformation for the whole group (pyproj per call is costly)
        wgs = shapely.transform(np.array([c.polygon for c in circles], dtype=object),
                                lambda xy, n=network: np.column_stack(n.unproject(*xy.T)))
        for i, c, poly in zip(idx, circles, wgs, strict=True):
            out[i] = _with_polygon(c, poly)
    return out  # type: ignore[return-value]


def _straight_line_wgs84(lng: float, lat: float, budget: WalkBudget) -> Circle:
    import pyproj

    crs = metric_crs_for(lng, lat)
    fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    x, y = fwd.transform(lng, lat)
    c = straight_line_circle(float(x), float(y), budget)
    return _with_polygon(c, shapely.transform(
        c.polygon, lambda xy: np.column_stack(inv.transform(*xy.T))))


def _with_polygon(c: Circle, polygon) -> Circle:
    from dataclasses import replace

    return replace(c, polygon=polygon)


def stored_circle(conn: Connection, point_code: str, minutes: float, profile: str, *,
                  networks: Networks, params: CircleParams = CircleParams()) -> dict | None:
    """A stored circle as a GeoJSON Feature (EPSG:4326), or None. ``stale`` says
    whether its point or the network changed since it was computed."""
    row = conn.execute(text("""
        SELECT c.point_code, p.name, p.version, ST_X(p.geom) AS lng, ST_Y(p.geom) AS lat,
               c.minutes, c.profile, c.speed_kmh, c.budget_m,
               c.method, c.walk_off_m, c.snap_distance_m, c.input_version, c.computed_at,
               ST_AsGeoJSON(c.geom, 7) AS gj
        FROM service_circles c JOIN service_points p ON p.code = c.point_code
        WHERE c.point_code = :code AND c.minutes = :m AND c.profile = :pr"""),
        {"code": point_code, "m": minutes, "pr": profile}).first()
    if row is None:
        return None
    current = _input_versions(networks, [row], params)[0]
    return {
        "type": "Feature",
        "geometry": json.loads(row.gj),
        "properties": {
            "point_code": row.point_code, "point_name": row.name, "minutes": row.minutes,
            "profile": row.profile, "speed_kmh": row.speed_kmh, "budget_m": row.budget_m,
            "method": row.method, "walk_off_m": row.walk_off_m,
            "snap_distance_m": row.snap_distance_m, "input_version": row.input_version,
            "computed_at": row.computed_at.isoformat(), "stored": True,
            "stale": row.input_version != current,
        },
    }


def circle_feature(circle: Circle, **props) -> dict:
    """GeoJSON Feature of an ad-hoc circle whose polygon is in EPSG:4326."""
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(circle.polygon) if not circle.polygon.is_empty
        else {"type": "MultiPolygon", "coordinates": []},
        "properties": {
            "minutes": circle.minutes, "profile": circle.profile, "speed_kmh": circle.speed_kmh,
            "budget_m": circle.budget_m, "method": circle.method.value,
            "walk_off_m": circle.walk_off_m,
            "snap_distance_m": circle.snap.off_network_m if circle.snap else None,
            "reached_length_m": circle.reached_length_m, **props,
        },
    }


def feature_in_crs(feature: dict, crs: str) -> dict:
    """A circle Feature of :func:`stored_circle` or :func:`circle_feature`
    (EPSG:4326) with its polygon and its ``lng``/``lat`` properties (if any) in
    ``crs`` (``wgs84``, ``gcj02``, ``bd09``), and a top-level ``crs`` member
    naming it. Converted vertex by vertex with :mod:`geo.crs` (rounded to
    1e-7 degrees): the offset varies over metres, never across one circle."""
    name = normalize_crs_name(crs)
    out = dict(feature)
    props = dict(feature.get("properties") or {})
    if name != "wgs84":
        out["geometry"] = convert_geojson(feature["geometry"], "wgs84", name)
        if props.get("lng") is not None and props.get("lat") is not None:
            x, y = from_wgs84(props["lng"], props["lat"], name)
            props["lng"], props["lat"] = round(float(x), 7), round(float(y), 7)
    out["properties"] = props
    out["crs"] = name
    return out
