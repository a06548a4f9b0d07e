"""Service circles stored in PostGIS: compute, invalidate, read, and ad-hoc queries.

The network and the circle kernels live in :mod:`geo.network` and
:mod:`geo.isochrones`; this module connects them to the database.

Invalidation: every stored circle records ``input_version`` — the point's
``version`` (bumped when it moves), the version of the walking network (bumped
when a network dataset is written) and the parameters (walk-off, snapping
distance, grid step). A circle whose recorded version differs from the current
one is stale and is recomputed; fresh circles are left alone.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cache import VersionedCache
from geo.crs import from_wgs84, metric_crs_for, to_wgs84
from geo.errors import InvalidInput, NotFound, Problem
from geo.isochrones import (
    DEFAULT_GRID_M,
    Circle,
    Targets,
    circles_for_sources,
    nearest_by_walk,
    prepare_targets,
    straight_line_circle,
)
from geo.network import Network
from geo.profiles import WalkBudget, walking_budget
from geo.store.copy import copy_rows, ewkb_hex
from geo.store.versions import (
    NETWORK_TABLES,
    DataVersions,
    dataset_versions,
    network_version,
    table_versions,
)

#: Valid coordinate systems of ad-hoc query points.
QUERY_CRS = ("wgs84", "gcj02", "bd09")


@dataclass(frozen=True)
class CircleParams:
    """How circles are computed (recorded with each stored circle)."""

    walk_off_m: float = 25.0
    max_snap_m: float = 300.0
    grid_m: float = DEFAULT_GRID_M

    def tag(self) -> str:
        return f"w{self.walk_off_m:g}:s{self.max_snap_m:g}:g{self.grid_m:g}"


def budget_for(profile: str, minutes: float, speed_kmh: float | None = None) -> WalkBudget:
    """:func:`geo.profiles.walking_budget` with its ``ValueError`` turned into
    :class:`InvalidInput` naming the parameter."""
    if speed_kmh is not None and profile in (None, "", "adult", "elderly", "standard"):
        # an explicit speed means the custom profile
        profile = "custom"
    try:
        return walking_budget(profile, minutes, speed_kmh)
    except ValueError as exc:
        column = "profile" if "profile" in str(exc) else (
            "speed_kmh" if "speed" in str(exc) else "minutes")
        raise InvalidInput(str(exc), [Problem(str(exc), column=column,
                                              value=locals().get(column, None))]) from None


def profile_key(budget: WalkBudget) -> str:
    """The stored ``profile`` value: the profile name, or ``custom:<km/h>``."""
    if budget.profile == "custom":
        return f"custom:{budget.speed_kmh:g}"
    return budget.profile


# ----------------------------------------------------------------- network
def load_network(conn: Connection, dataset: str) -> Network | None:
    """The walking network ``dataset`` as a :class:`Network` in the UTM zone of
    its extent (None when it has no edges)."""
    edges = conn.execute(text(
        "SELECT id, source, target, highway, ST_AsBinary(geom) AS wkb FROM network_edges "
        "WHERE dataset = :d ORDER BY id"), {"d": dataset}).all()
    if not edges:
        return None
    nodes = conn.execute(text(
        "SELECT id, ST_AsBinary(geom) AS wkb FROM network_nodes WHERE dataset = :d ORDER BY id"),
        {"d": dataset}).all()
    node_frame = gpd.GeoDataFrame(
        {"node_id": np.fromiter((r.id for r in nodes), dtype=np.int64, count=len(nodes))},
        geometry=shapely.from_wkb([bytes(r.wkb) for r in nodes]), crs=4326)
    edge_frame = gpd.GeoDataFrame(
        {"edge_id": [r.id for r in edges], "source": [r.source for r in edges],
         "target": [r.target for r in edges], "highway": [r.highway for r in edges]},
        geometry=shapely.from_wkb([bytes(r.wkb) for r in edges]), crs=4326)
    network = Network.from_frames(node_frame, edge_frame)
    # database id of each kept edge (pgRouting's edge ids)
    network.cache["edge_ids"] = edge_frame["edge_id"].to_numpy()[network.edge_rows]
    return network


class Networks:
    """The walking networks of a database, one per dataset (a town's sample, an
    OSM import), each in its own UTM zone. A location uses the network whose
    extent, grown by the snapping distance, holds it."""

    def __init__(self, networks: dict[str, Network],
                 versions: dict[str, str] | None = None) -> None:
        self.by_dataset = networks
        self.versions = versions or {}
        self._bounds = {}
        #: metric extent (x min, x max, y min, y max) of each network
        self._extents = {name: (float(n.x.min()), float(n.x.max()), float(n.y.min()),
                                float(n.y.max())) for name, n in networks.items()}
        for name, n in networks.items():
            lng, lat = n.unproject(np.array([n.x.min(), n.x.max()]),
                                   np.array([n.y.min(), n.y.max()]))
            self._bounds[name] = (float(lng[0]), float(lat[0]), float(lng[1]), float(lat[1]))

    @classmethod
    def load(cls, conn: Connection) -> Networks:
        names = conn.execute(text(
            "SELECT DISTINCT dataset FROM network_edges ORDER BY dataset")).scalars().all()
        loaded = {n: load_network(conn, n) for n in names}
        return cls({k: v for k, v in loaded.items() if v is not None},
                   dataset_versions(conn))

    def __bool__(self) -> bool:
        return bool(self.by_dataset)

    def for_location(self, lng: float, lat: float, max_snap_m: float) -> Network | None:
        """The network covering a WGS-84 location (within ``max_snap_m`` of its
        extent), or None."""
        # the scalar twin of datasets_for (a request's location: no arrays)
        best, best_d = None, math.inf
        for name, (w, s, e, n) in self._bounds.items():
            if not (w - 0.05 <= lng <= e + 0.05 and s - 0.05 <= lat <= n + 0.05):
                continue
            network = self.by_dataset[name]
            x0, x1, y0, y1 = self._extents[name]
            x, y = network.project(lng, lat)
            d = math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1))
            if d <= max_snap_m and d < best_d:
                best, best_d = network, d
        return best

    def datasets_for(self, lng: Sequence[float], lat: Sequence[float],
                     max_snap_m: float) -> list[str | None]:
        """Name of the network dataset covering each WGS-84 location (the nearest
        extent within ``max_snap_m`` metres), or None."""
        lng = np.atleast_1d(np.asarray(lng, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        best = np.full(len(lng), -1)
        best_d = np.full(len(lng), np.inf)
        names = list(self._bounds)
        for k, name in enumerate(names):
            w, s, e, n = self._bounds[name]
            near = (lng >= w - 0.05) & (lng <= e + 0.05) & (lat >= s - 0.05) & (lat <= n + 0.05)
            if not near.any():
                continue
            network = self.by_dataset[name]
            x, y = network.project(lng[near], lat[near])
            x0, x1, y0, y1 = self._extents[name]
            dx = np.maximum.reduce([x0 - np.asarray(x), np.zeros_like(x), np.asarray(x) - x1])
            dy = np.maximum.reduce([y0 - np.asarray(y), np.zeros_like(y), np.asarray(y) - y1])
            d = np.full(len(lng), np.inf)
            d[near] = np.hypot(dx, dy)
            better = (d <= max_snap_m) & (d < best_d)
            best[better] = k
            best_d[better] = d[better]
        return [names[b] if b >= 0 else None for b in best]

    def input_tag(self, dataset: str | None) -> str:
        """The network part of a circle's ``input_version``."""
        if dataset is None:
            return "n-"
        return f"n{dataset}@{self.versions.get(dataset, '?')}"


class NetworkCache:
    """The networks of a database, reloaded only when the network tables' data
    version changes (one load at a time: threads asking together share it).

    Parameters
    ----------
    versions
        The data versions to follow (an app's, shared with its other caches);
        without them the versions are read at every :meth:`get`.
    """

    def __init__(self, versions: DataVersions | None = None) -> None:
        self.versions = versions
        self._cache: VersionedCache[Networks] = VersionedCache(1)

    def version(self, conn: Connection) -> str:
        if self.versions is not None:
            return self.versions.get_tag(NETWORK_TABLES, conn)
        return DataVersions.tag(table_versions(conn), NETWORK_TABLES)

    def get(self, conn: Connection) -> Networks:
        return self._cache.get_or_build("networks", self.version(conn),
                                        lambda: Networks.load(conn))


# ------------------------------------------------------------ computation
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


# ------------------------------------------------------------------ reading
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


def query_point(lng: float, lat: float, crs: str) -> tuple[float, float]:
    """WGS-84 longitude/latitude of a query point given in ``crs``; validated."""
    problems = []
    if crs not in QUERY_CRS:
        problems.append(Problem(f"unknown crs {crs!r}", column="crs", value=crs,
                                expected=", ".join(QUERY_CRS)))
    if not (-180 <= lng <= 180):
        problems.append(Problem("longitude out of range", column="lng", value=lng,
                                expected="-180..180"))
    if not (-90 <= lat <= 90):
        problems.append(Problem("latitude out of range", column="lat", value=lat,
                                expected="-90..90"))
    if problems:
        raise InvalidInput("invalid query point", problems)
    if crs == "wgs84":
        return float(lng), float(lat)
    x, y = to_wgs84(lng, lat, crs)
    return float(x), float(y)


def network_for_query(networks: Networks, lng: float, lat: float,
                      max_snap_m: float) -> Network | None:
    """The network serving an ad-hoc query location. With networks loaded, a
    location outside all of them is refused; with none loaded (a town without
    a network) the straight-line fallback applies and None is returned."""
    if not networks:
        return None
    network = networks.for_location(lng, lat, max_snap_m)
    if network is None:
        raise InvalidInput("location outside the walking network's extent", [Problem(
            "the location is farther than the snapping distance from the extent of every "
            "loaded walking network", column="lng/lat", value=f"{lng:.6f},{lat:.6f}",
            expected=f"within {max_snap_m:g} m of a loaded network")])
    return network


@dataclass(frozen=True, eq=False)
class PointSet:
    """A snapshot of the live service points as nearest-by-walk searches use
    them (see :func:`load_point_set`); ``key`` identifies their positions."""

    rows: tuple
    lng: np.ndarray
    lat: np.ndarray
    key: int

    def __len__(self) -> int:
        return len(self.rows)


def load_point_set(conn: Connection) -> PointSet:
    """The live (not deleted) service points, in code order."""
    rows = tuple(conn.execute(text(
        "SELECT code, name, kind, address, ST_X(geom) AS lng, ST_Y(geom) AS lat "
        "FROM service_points WHERE deleted_at IS NULL ORDER BY code")).all())
    lng = np.array([r.lng for r in rows], dtype=np.float64)
    lat = np.array([r.lat for r in rows], dtype=np.float64)
    return PointSet(rows, lng, lat, hash((lng.tobytes(), lat.tobytes())))


def nearest_points(conn: Connection, network: Network | None, lng: float, lat: float, *,
                   k: int = 5, budget: WalkBudget | None = None,
                   params: CircleParams = CircleParams(), out_crs: str = "wgs84") -> list[dict]:
    """The ``k`` service points nearest by walking from a WGS-84 location (the
    points read now; see :func:`nearest_in` to reuse a :class:`PointSet`)."""
    return nearest_in(load_point_set(conn), network, lng, lat, k=k, budget=budget,
                      params=params, out_crs=out_crs)


def nearest_in(points: PointSet, network: Network | None, lng: float, lat: float, *,
               k: int = 5, budget: WalkBudget | None = None,
               params: CircleParams = CircleParams(), out_crs: str = "wgs84") -> list[dict]:
    """The ``k`` points of ``points`` nearest by walking from a WGS-84 location.

    Each result carries ``walk_distance_m`` and ``walk_minutes`` (at the
    budget's speed, default the elderly profile) and ``method``: ``network``, or
    ``straight_line`` when the location or the point is off the network (those
    follow the network results, nearest first by straight-line distance).
    """
    speed = (budget.speed_kmh if budget else walking_budget("elderly", 10).speed_kmh)
    if len(points) == 0:
        return []
    results: list[tuple[int, float, str]] = []
    if network is not None:
        sx, sy = network.project(lng, lat)
        start = network.snap(float(sx), float(sy), max_snap_m=params.max_snap_m)
        if start is not None:
            on, targets = point_targets(network, points, params.max_snap_m)
            found = nearest_by_walk(network, start, targets, k)
            results = [(int(on[j]), d, "network") for j, d in found]
    if len(results) < k:
        # straight-line distances for what the network cannot reach
        from geo.crs import haversine_m

        taken = {i for i, _, _ in results}
        d = haversine_m(lng, lat, points.lng, points.lat)
        for i in np.argsort(d, kind="stable"):
            if len(results) >= k:
                break
            if int(i) not in taken:
                results.append((int(i), float(d[i]), "straight_line"))
    per_minute = speed * 1000 / 60
    out = []
    for rank, (i, dist, method) in enumerate(results, start=1):
        p = points.rows[i]
        x, y = from_wgs84(p.lng, p.lat, out_crs) if out_crs != "wgs84" else (p.lng, p.lat)
        out.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
            "properties": {"rank": rank, "code": p.code, "name": p.name, "kind": p.kind,
                           "address": p.address, "walk_distance_m": round(dist, 1),
                           "walk_minutes": round(dist / per_minute, 1),
                           "speed_kmh": speed, "method": method},
        })
    return out


#: Largest nodes × points walk table kept per network for nearest searches
#: (float64: 10M cells = 80 MB); beyond it each search walks (numba kernel).
NEAREST_TABLE_CELLS = 10_000_000


def point_targets(network: Network, points: PointSet,
                  max_snap_m: float) -> tuple[np.ndarray, Targets]:
    """The points of ``points`` that snap to ``network`` (their indices) and
    their snaps prepared for :func:`geo.isochrones.nearest_by_walk`; cached on
    the network for the same positions (the last two sets: searches on the
    previous snapshot go on while the next one is prepared)."""
    key = (max_snap_m, points.key)
    cache = network.cache.setdefault("point_targets", {})
    found = cache.get(key)
    if found is None:
        px, py = network.project(points.lng, points.lat)
        snaps = network.snap_many(np.atleast_1d(px), np.atleast_1d(py), max_snap_m=max_snap_m)
        on = np.array([i for i, t in enumerate(snaps) if t is not None], dtype=np.int64)
        found = (on, prepare_targets(network, [snaps[i] for i in on],
                                     table_max_cells=NEAREST_TABLE_CELLS))
        for old in list(cache)[:-1]:
            cache.pop(old, None)
        cache[key] = found
    return found


class QuerySnapshot:
    """The walking networks and live service points that nearest-by-walk
    searches use, shared by all requests of an app.

    The snapshot is tagged with the data version of the network tables and
    ``service_points`` (:class:`geo.store.versions.DataVersions`): it is
    reused while they are unchanged and built again once they change.
    Networks come from a :class:`NetworkCache` (reloaded only when their
    version changed); points are re-read (170 rows: ~1 ms), and snapped and
    tabled again only when they moved. Holding it lets a request search
    without a database round trip: the answer is a snap, two rows of the walk
    table (or one early-stopping search) and a few hundred bytes of JSON.
    """

    TABLES: tuple[str, ...] = (*NETWORK_TABLES, "service_points")

    def __init__(self, versions: DataVersions, networks: NetworkCache, *,
                 max_snap_m: float) -> None:
        self.versions = versions
        self.networks = networks
        self.max_snap_m = max_snap_m
        self._cache: VersionedCache[tuple[Networks, PointSet]] = VersionedCache(1)

    def fresh(self) -> tuple[Networks, PointSet] | None:
        """The snapshot when the data versions are fresh and unchanged (no
        database access), else None."""
        tag = self.versions.fresh_tag(self.TABLES)
        if tag is None:
            return None
        return self._cache.get("snapshot", tag)

    def load(self) -> tuple[Networks, PointSet]:
        """The current snapshot, built now when the data changed (call in a
        worker thread: it may read the database and snap every point)."""
        with self.versions.engine.connect() as conn:
            tag = self.versions.get_tag(self.TABLES, conn)
            return self._cache.get_or_build("snapshot", tag, lambda: self._build(conn))

    def _build(self, conn: Connection) -> tuple[Networks, PointSet]:
        networks = self.networks.get(conn)
        points = load_point_set(conn)
        # snap the points and walk their tables here, in the worker thread, not
        # in the first search on the event loop
        for network in networks.by_dataset.values():
            point_targets(network, points, self.max_snap_m)
        return networks, points


def require_point(conn: Connection, code: str):
    row = conn.execute(text(
        "SELECT code, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points "
        "WHERE code = :c AND deleted_at IS NULL"), {"c": code}).first()
    if row is None:
        raise NotFound(f"no service point with code {code!r}")
    return row
