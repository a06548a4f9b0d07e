"""The queries residents ask: the service points nearest by walking from a
location, over a snapshot of the networks and points shared by an app's
requests (:class:`QuerySnapshot`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cache import CacheEntry, VersionedCache
from geo.circles.networks import NetworkCache, Networks
from geo.circles.params import CircleParams
from geo.crs import from_wgs84
from geo.errors import NotFound
from geo.hours import CHINA_TZ
from geo.points import HoursMemo
from geo.profiles import WalkBudget, walking_budget
from geo.store.versions import NETWORK_TABLES, DataVersions
from geo.walk import Targets, nearest_by_walk, prepare_targets
from geo.walk.network import Network

log = logging.getLogger(__name__)

__all__ = ["NEAREST_TABLE_CELLS", "PointSet", "QuerySnapshot", "load_point_set",
           "nearest_in", "nearest_points", "network_for_query", "point_filter",
           "point_targets",
           "require_point"]


def network_for_query(networks: Networks, lng: float, lat: float,
                      max_snap_m: float) -> Network | None:
    """The network serving an ad-hoc query location, or None where none does
    (no network loaded, or the location farther than ``max_snap_m`` from the
    extent of every one): the answer then falls back to straight lines and
    says so (``method: straight_line``), as for a town without a network."""
    if not networks:
        return None
    return networks.for_location(lng, lat, max_snap_m)


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
        "SELECT code, name, kind, address, services, hours, hours_text, "
        "ST_X(geom) AS lng, ST_Y(geom) AS lat "
        "FROM service_points WHERE deleted_at IS NULL ORDER BY code")).all())
    lng = np.array([r.lng for r in rows], dtype=np.float64)
    lat = np.array([r.lat for r in rows], dtype=np.float64)
    return PointSet(rows, lng, lat, hash((lng.tobytes(), lat.tobytes())))


def point_filter(points: PointSet, *, kind: str | None = None, service: str | None = None,
                 open_at: datetime | None = None,
                 memo: HoursMemo | None = None) -> np.ndarray | None:
    """Mask of the points of a kind, offering a service and open at an instant
    (China's holiday calendar included); None when nothing is filtered."""
    if kind is None and service is None and open_at is None:
        return None
    keep = np.ones(len(points), dtype=bool)
    memo = memo or (HoursMemo(open_at) if open_at is not None else None)
    for i, r in enumerate(points.rows):
        if kind is not None and r.kind != kind:
            keep[i] = False
        elif service is not None and service not in (r.services or ()):
            keep[i] = False
        elif open_at is not None and memo(r.hours, r.hours_text)[0] is not True:
            keep[i] = False
    return keep


def nearest_points(conn: Connection, network: Network | None, lng: float, lat: float, *,
                   k: int = 5, budget: WalkBudget | None = None,
                   params: CircleParams = CircleParams(), out_crs: str = "wgs84") -> list[dict]:
    """The ``k`` service points nearest by walking from a WGS-84 location (the
    points read now; see :func:`nearest_in` to reuse a :class:`PointSet`)."""
    return nearest_in(load_point_set(conn), network, lng, lat, k=k, budget=budget,
                      params=params, out_crs=out_crs)


def nearest_in(points: PointSet, network: Network | None, lng: float, lat: float, *,
               k: int = 5, budget: WalkBudget | None = None,
               params: CircleParams = CircleParams(), out_crs: str = "wgs84",
               kind: str | None = None, service: str | None = None,
               open_now: bool = False, at: datetime | None = None) -> list[dict]:
    """The ``k`` points of ``points`` nearest by walking from a WGS-84 location.

    Each result carries ``walk_distance_m`` and ``walk_minutes`` (at the
    budget's speed, default the elderly profile), ``method``: ``network``, or
    ``straight_line`` when the location or the point is off the network (those
    follow the network results, nearest first by straight-line distance), and
    its state at ``at`` (default now): ``open_now``, ``hours_label`` and
    ``next_open``. ``kind``, ``service`` and ``open_now`` keep only the points
    of that kind, offering that service, or open at ``at``.
    """
    speed = (budget.speed_kmh if budget else walking_budget("elderly", 10).speed_kmh)
    if len(points) == 0:
        return []
    at = at or datetime.now(CHINA_TZ)
    memo = HoursMemo(at)
    allowed = point_filter(points, kind=kind, service=service,
                           open_at=at if open_now else None, memo=memo)
    results: list[tuple[int, float, str]] = []
    if network is not None:
        sx, sy = network.project(lng, lat)
        start = network.snap(float(sx), float(sy), max_snap_m=params.max_snap_m)
        if start is not None:
            on, targets = point_targets(network, points, params.max_snap_m)
            found = nearest_by_walk(network, start, targets, k,
                                    allowed=None if allowed is None else allowed[on])
            results = [(int(on[j]), d, "network") for j, d in found]
    if len(results) < k:
        # straight-line distances for what the network cannot reach
        from geo.crs import haversine_m

        taken = {i for i, _, _ in results}
        d = haversine_m(lng, lat, points.lng, points.lat)
        for i in np.argsort(d, kind="stable"):
            if len(results) >= k:
                break
            if int(i) not in taken and (allowed is None or allowed[i]):
                results.append((int(i), float(d[i]), "straight_line"))
    per_minute = speed * 1000 / 60
    out = []
    for rank, (i, dist, method) in enumerate(results, start=1):
        p = points.rows[i]
        x, y = from_wgs84(p.lng, p.lat, out_crs) if out_crs != "wgs84" else (p.lng, p.lat)
        state, label, nxt = memo(p.hours, p.hours_text)
        out.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
            "properties": {"rank": rank, "code": p.code, "name": p.name, "kind": p.kind,
                           "address": p.address, "walk_distance_m": round(dist, 1),
                           "walk_minutes": round(dist / per_minute, 1),
                           "speed_kmh": speed, "method": method, "open_now": state,
                           "hours_label": label, "next_open": nxt},
        })
    return out


#: Largest nodes × points walk table kept per network for nearest searches
#: (float64: 10M cells = 80 MB); beyond it each search walks (numba kernel).
NEAREST_TABLE_CELLS = 10_000_000


@dataclass(frozen=True, eq=False)
class _Prepared:
    """Points prepared on one network: where they were, their snaps, and the
    indices (``on``) and :class:`Targets` of those that snap."""

    lng: np.ndarray
    lat: np.ndarray
    snaps: tuple
    on: np.ndarray
    targets: Targets
    #: columns of the walk table walked for this set (the others were reused)
    walked: int = 0


_TARGETS_LOCK = threading.Lock()


def point_targets(network: Network, points: PointSet,
                  max_snap_m: float) -> tuple[np.ndarray, Targets]:
    """The points of ``points`` that snap to ``network`` (their indices) and
    their snaps prepared for :func:`geo.walk.nearest_by_walk`; cached on the
    network for the same positions (the last two sets: searches on the
    previous snapshot go on while the next one is prepared).

    A new set is prepared from the last one: points at a position seen there
    keep their snap and their column of the walk table; only new or moved
    points are snapped and walked (one planner's edit: one point, a few
    milliseconds instead of the whole town's table).
    """
    key = (max_snap_m, points.key)
    with _TARGETS_LOCK:  # the dict only: searches and builds run in several threads
        cache = network.cache.setdefault("point_targets", {})
        found = cache.pop(key, None)
        if found is not None:
            cache[key] = found  # the most recent set: the next one starts from it
        last = next((v for k, v in reversed(cache.items()) if k[0] == max_snap_m), None)
    if found is None:
        found = _prepare(network, points, max_snap_m, last)
        with _TARGETS_LOCK:
            for old in list(cache)[:-1]:
                cache.pop(old, None)
            cache[key] = found
            stats = network.cache.setdefault("point_targets_walked", [0])
            stats[0] += found.walked
    return found.on, found.targets


def _prepare(network: Network, points: PointSet, max_snap_m: float,
             last: _Prepared | None) -> _Prepared:
    n = len(points)
    snaps: list = [None] * n
    earlier = np.full(n, -1, dtype=np.int64)  # index of the same position in ``last``
    if last is not None:
        seen = {(x, y): i for i, (x, y) in enumerate(
            zip(last.lng.tolist(), last.lat.tolist(), strict=True))}
        for i, xy in enumerate(zip(points.lng.tolist(), points.lat.tolist(),
                                       strict=True)):
            earlier[i] = seen.get(xy, -1)
    new = np.flatnonzero(earlier < 0)
    for i in np.flatnonzero(earlier >= 0):
        snaps[i] = last.snaps[earlier[i]]
    if len(new):
        px, py = network.project(points.lng[new], points.lat[new])
        for i, snap in zip(new, network.snap_many(np.atleast_1d(px), np.atleast_1d(py),
                                                  max_snap_m=max_snap_m), strict=True):
            snaps[i] = snap
    on = np.array([i for i, t in enumerate(snaps) if t is not None], dtype=np.int64)
    reuse = None
    if last is not None and last.targets.table is not None:
        # the column of each earlier point in the last table
        column = np.full(len(last.snaps), -1, dtype=np.int64)
        column[last.on] = np.arange(len(last.on))
        columns = np.where(earlier[on] >= 0, column[np.maximum(earlier[on], 0)], -1)
        reuse = (last.targets.table, columns)
    targets = prepare_targets(network, [snaps[i] for i in on],
                              table_max_cells=NEAREST_TABLE_CELLS, reuse=reuse)
    walked = (0 if targets.table is None else
              len(on) if reuse is None else int(np.count_nonzero(reuse[1] < 0)))
    return _Prepared(points.lng, points.lat, tuple(snaps), on, targets, walked)


class QuerySnapshot:
    """The walking networks and live service points that nearest-by-walk
    searches use, shared by all requests of an app, and kept up to date in
    place as the data changes.

    The snapshot is tagged with the data versions of the network tables and
    of ``service_points`` (:class:`geo.store.versions.DataVersions`):

    * unchanged: it is reused with no database access (:meth:`fresh`);
    * points changed (a planner's edit, an import): the points are re-read
      (170 rows: ~1 ms) and only new or moved ones are snapped and walked
      (:func:`point_targets`); the app does this after each write and before
      acknowledging it (:meth:`refresh`), so the writer's next search finds
      it done;
    * networks changed (a network import: seconds to reload and table), or
      points changed by another process: readers go on with the previous
      snapshot while one worker thread builds the next
      (stale-while-revalidate); only the very first build is waited for.

    Holding it lets a request search without a database round trip: the
    answer is a snap, two rows of the walk table (or one early-stopping
    search) and a few hundred bytes of JSON.
    """

    TABLES: tuple[str, ...] = (*NETWORK_TABLES, "service_points")

    def __init__(self, versions: DataVersions, networks: NetworkCache, *,
                 max_snap_m: float) -> None:
        self.versions = versions
        self.networks = networks
        self.max_snap_m = max_snap_m
        self._cache: VersionedCache[tuple[Networks, PointSet]] = VersionedCache(1)
        self._renewing = threading.Lock()  # held by the one background rebuild
        #: builds by kind: ``first``, ``points`` (in place), ``networks`` (background)
        self.builds = {"first": 0, "points": 0, "networks": 0}

    def _tag(self, versions: dict[str, int] | None) -> tuple[str, str] | None:
        if versions is None:
            return None
        return (DataVersions.tag(versions, NETWORK_TABLES),
                DataVersions.tag(versions, ("service_points",)))

    def fresh(self) -> tuple[Networks, PointSet] | None:
        """The snapshot when the data versions are fresh and it was built from
        them (no database access), else None."""
        tag = self._tag(self.versions.fresh())
        entry = self._cache.lookup("snapshot")
        if tag is None or entry is None or entry.version != tag:
            return None
        return entry.value

    def load(self) -> tuple[Networks, PointSet]:
        """The snapshot for the current data (call in a worker thread: it may
        read the database and snap points). When the data moved on, the
        previous snapshot while one worker thread brings it up to date; only
        the very first build is waited for, and waiting holds no connection."""
        tag = self._tag(self.versions.get())
        entry = self._cache.lookup("snapshot")
        if entry is not None and entry.version == tag:
            return entry.value
        if entry is not None:
            self._renew_in_background()
            return entry.value
        return self._cache.get_or_build("snapshot", tag, lambda: self._build_now(tag, None))

    def _build_now(self, tag: tuple[str, str], previous: CacheEntry | None
                   ) -> tuple[Networks, PointSet]:
        with self.versions.engine.connect() as conn:
            return self._build(conn, tag, previous)

    def refresh(self) -> None:
        """Bring the snapshot up to date after a write, before the write is
        acknowledged (so that the writer's next search finds it): changed
        points now (milliseconds: only new or moved points are walked), a
        changed network in the background. Never raises; a failure leaves the
        previous snapshot, and the next reader tries again."""
        try:
            entry = self._cache.lookup("snapshot")
            if entry is None:
                return
            # the writer has read the versions again (api.caching.PublicCache.clear)
            tag = self._tag(self.versions.get())
            if entry.version == tag:
                return
            if entry.version[0] != tag[0]:
                self._renew_in_background()
                return
            self._cache.get_or_build("snapshot", tag, lambda: self._build_now(tag, entry))
        except Exception:  # noqa: BLE001 — the readers' own load reports it
            log.warning("nearest snapshot: refresh after a write failed", exc_info=True)

    def _build(self, conn: Connection, tag: tuple[str, str],
               previous: CacheEntry | None) -> tuple[Networks, PointSet]:
        networks = self.networks.get(conn)
        points = load_point_set(conn)
        # snap the points and walk their tables here, in the worker thread, not
        # in the first search on the event loop (in place: only moved points)
        for network in networks.by_dataset.values():
            point_targets(network, points, self.max_snap_m)
        kind = ("first" if previous is None else
                "networks" if previous.version[0] != tag[0] else "points")
        self.builds[kind] += 1
        return networks, points

    def _renew_in_background(self) -> None:
        """Start one rebuild in a daemon thread unless one is running."""
        if not self._renewing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                tag = self._tag(self.versions.get())
                previous = self._cache.lookup("snapshot")
                self._cache.get_or_build("snapshot", tag,
                                         lambda: self._build_now(tag, previous))
            except Exception:  # noqa: BLE001 — readers keep the previous snapshot
                log.warning("nearest snapshot: background rebuild failed", exc_info=True)
            finally:
                self._renewing.release()

        threading.Thread(target=run, name="nearest-snapshot", daemon=True).start()

    def stats(self) -> dict[str, int]:
        """How many times the snapshot was built, by kind."""
        return dict(self.builds)


def require_point(conn: Connection, code: str):
    row = conn.execute(text(
        "SELECT code, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points "
        "WHERE code = :c AND deleted_at IS NULL"), {"c": code}).first()
    if row is None:
        raise NotFound(f"未找到编码为 {code!r} 的服务阵地")
    return row
