"""The queries residents ask: the service points nearest by walking from a
location, over a snapshot of the networks and points shared by an app's
requests (:class:`QuerySnapshot`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cache import VersionedCache
from geo.circles.networks import NetworkCache, Networks
from geo.circles.params import CircleParams
from geo.crs import from_wgs84
from geo.errors import InvalidInput, NotFound, Problem
from geo.profiles import WalkBudget, walking_budget
from geo.store.versions import NETWORK_TABLES, DataVersions
from geo.walk import Targets, nearest_by_walk, prepare_targets
from geo.walk.network import Network

__all__ = ["NEAREST_TABLE_CELLS", "PointSet", "QuerySnapshot", "load_point_set",
           "nearest_in", "nearest_points", "network_for_query", "point_targets",
           "require_point"]


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
