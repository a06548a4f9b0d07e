"""Walking service circles (10分钟党群服务圈) as polygons.

A circle is the area within ``walk_off_m`` (default 25 m: a resident reaches a
door up to 25 m off the walked street) of every piece of street reachable from
a start point within a walking budget (metres, see :mod:`geo.profiles`); the
pieces come from the path search of :mod:`geo.walk.reach`.

* :func:`exact_polygon` — union of the pieces buffered by ``walk_off_m`` (GEOS):
  the reference, slow (a few circles per second on a dense city centre).
* :func:`circle_polygon` / :func:`circles_for_sources` — the production method:
  the exact Euclidean distance to the reached pieces and the nearest segment are
  sampled on a ``grid_m`` lattice, only within ``walk_off_m + grid_m / 4`` of the
  pieces (whole edges and whole 64 m tiles come from a per-network precomputed
  stamp table; only frontier pieces are computed per circle). The ``walk_off_m``
  iso-line is traced by marching squares with exact crossing points (from the
  capsule geometry, not interpolated) and exact notch corners and arc points
  inserted, then assembled into valid polygons with holes. See
  ``docs/isochrones.md`` for speed and error.

All geometry is in the network's metric CRS; :func:`to_wgs84` transforms to EPSG:4326.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.isochrones._kernels import (
    _STAMP_MARGIN,
    _build_table,
    _circles_block,
    _polygon_rings,
)
from geo.profiles import WalkBudget
from geo.vocab import CircleMethod
from geo.walk._kernels import _edge_pieces, _piece_coords
from geo.walk.nearest import nearest_by_walk
from geo.walk.network import Network, Snap
from geo.walk.reach import Reach, node_distances, reach, split_budget

__all__ = [
    "DEFAULT_GRID_M",
    "DEFAULT_WALK_OFF_M",
    "Circle",
    "circle_polygon",
    "circles_for_sources",
    "exact_polygon",
    "straight_line_circle",
    "to_wgs84",
    "warm_up",
]


#: Distance from a walked street to a door still served, metres.
DEFAULT_WALK_OFF_M = 25.0
#: Lattice step of the fast polygon, metres (see docs/isochrones.md for the trade-off).
DEFAULT_GRID_M = 8.0
# Side of the square tiles whose merged stamps are precomputed, metres.
_TILE_M = 64.0


@dataclass(frozen=True, eq=False)
class Circle:
    """A service circle.

    Attributes
    ----------
    polygon
        Polygon or MultiPolygon in the network's metric CRS (empty when nothing is
        reachable, e.g. the off-network walk alone exceeds the budget).
    method
        :class:`geo.vocab.CircleMethod` — ``network`` or ``straight_line`` (fallback
        when the point could not be snapped).
    budget_m
        Walking budget, metres.
    walk_off_m
        Buffer around reached streets, metres (0 for straight-line circles).
    profile, minutes, speed_kmh
        Walking profile name, minutes and speed (km/h) when the budget came from a
        :class:`geo.profiles.WalkBudget`; else ``None``.
    snap
        The snapped start (``None`` for straight-line circles).
    reached_length_m
        Street length reached, metres (0 for straight-line circles).
    grid_m
        Lattice step of the fast polygon, metres; ``None`` for exact/straight-line.
    """

    polygon: BaseGeometry
    method: CircleMethod
    budget_m: float
    walk_off_m: float
    profile: str | None = None
    minutes: float | None = None
    speed_kmh: float | None = None
    snap: Snap | None = None
    reached_length_m: float = 0.0
    grid_m: float | None = None

    @property
    def area_m2(self) -> float:
        """Polygon area, square metres."""
        return float(self.polygon.area)


def exact_polygon(
    network: Network, reach: Reach, *, walk_off_m: float = DEFAULT_WALK_OFF_M,
    quad_segs: int = 8,
) -> BaseGeometry:
    """Reference circle: union of the reached pieces buffered by ``walk_off_m``.

    Parameters
    ----------
    network
        The network (metric CRS).
    reach
        Result of :func:`reach`.
    walk_off_m
        Buffer distance, metres.
    quad_segs
        Segments per quarter circle of the round buffer caps (GEOS).

    Returns
    -------
    Polygon or MultiPolygon
        In the network CRS; empty when nothing was reached.
    """
    if len(reach.piece_edge) == 0:
        return Polygon()
    # buffering each piece and unioning (cascaded union) is ~30x faster in GEOS than
    # buffering one MultiLineString
    lines = reach.pieces()
    return shapely.union_all(shapely.buffer(lines, walk_off_m, quad_segs=quad_segs))


def circle_polygon(
    network: Network, reach: Reach, *, walk_off_m: float = DEFAULT_WALK_OFF_M,
    grid_m: float = DEFAULT_GRID_M,
) -> BaseGeometry:
    """Fast circle: iso-line at ``walk_off_m`` of the distance to the reached pieces.

    Parameters
    ----------
    network
        The network (metric CRS).
    reach
        Result of :func:`reach`.
    walk_off_m
        Buffer distance, metres.
    grid_m
        Lattice step, metres. Smaller is more exact and slower (see
        ``docs/isochrones.md``).

    Returns
    -------
    Polygon or MultiPolygon
        Valid, with holes for unreached blocks, in the network CRS; empty when
        nothing was reached.
    """
    _check_polygon_args(walk_off_m, grid_m)
    pe = reach.piece_edge
    if len(pe) == 0:
        return Polygon()
    cx, cy, off = _piece_coords(
        pe, reach.piece_from_m, reach.piece_to_m, len(pe),
        network.vertex_offsets, network.vx, network.vy, network.vcum,
    )
    full = (reach.piece_from_m <= 0.0) & (reach.piece_to_m >= network.length[pe])
    nxt = np.full(1 << 16, -1, np.int32)
    starts = np.empty(1 << 16, np.int32)
    xy, ring_of, poly, _, _ = _polygon_rings(
        cx, cy, off, pe, full, float(walk_off_m), float(grid_m), nxt, starts,
        network.vertex_offsets, *_stamp_table(network, grid_m, walk_off_m),
    )
    return _assemble(xy, ring_of, poly)


def _check_polygon_args(walk_off_m: float, grid_m: float) -> None:
    if not (walk_off_m > 0 and math.isfinite(walk_off_m)):
        raise ValueError(f"walk_off_m must be > 0 metres, got {walk_off_m!r}")
    if not (0 < grid_m <= walk_off_m):
        raise ValueError(f"grid_m must be > 0 and ≤ walk_off_m ({walk_off_m} m), got {grid_m!r}")


def _assemble(xy: np.ndarray, ring_of: np.ndarray, poly_of: np.ndarray) -> BaseGeometry:
    """Rings (shells first within each polygon) → Polygon / MultiPolygon."""
    if len(ring_of) == 0:
        return Polygon()
    rings = shapely.linearrings(xy, indices=ring_of)
    polys = shapely.polygons(rings, indices=poly_of)
    if len(polys) == 1:
        return polys[0]
    return MultiPolygon(list(polys))


def _stamp_table(network: Network, grid_m: float, walk_off_m: float) -> tuple:
    """The stamp table of ``network`` for this lattice step and walk-off.

    Built once per network and parameters and kept in ``network.cache``: every circle
    then merges precomputed distances for what it reaches whole (whole tiles of
    :data:`_TILE_M` metres where every edge is reached, else whole edges) and computes
    distances only for the partial pieces at its frontier. About 2 × 8 bytes per
    stamped lattice node; a few milliseconds per thousand edges to build.

    Returns the arrays ``(eofv, erun, trun, tile_of_edge, tile_n, run_i, run_j, run_c,
    d2, gid)`` as taken by the kernels (``eofv``: edge of each network vertex).
    """
    key = ("isochrones.stamp_table", float(grid_m), float(walk_off_m))
    table = network.cache.get(key)
    if table is None:
        voff = network.vertex_offsets
        counts = np.diff(voff)
        eofv = np.repeat(np.arange(network.n_edges, dtype=np.int64), counts)
        # tiles: edges grouped by the square of _TILE_M metres holding their midpoint
        mid = shapely.get_coordinates(
            shapely.line_interpolate_point(network.edge_geoms, 0.5, normalized=True))
        cell = np.floor(mid / _TILE_M).astype(np.int64)
        _, tile_of_edge = np.unique(cell, axis=0, return_inverse=True)
        tile_of_edge = tile_of_edge.ravel().astype(np.int64)
        tile_n = np.bincount(tile_of_edge).astype(np.int64)
        tile_edges = np.argsort(tile_of_edge, kind="stable").astype(np.int64)
        tile_off = np.concatenate([[0], np.cumsum(tile_n)]).astype(np.int64)
        rg = walk_off_m / grid_m + _STAMP_MARGIN
        built = _build_table(voff, network.vx, network.vy, float(grid_m), rg, tile_off,
                             tile_edges)
        erun, trun, run_i, run_j, run_c, d2, gid = built
        table = (eofv, erun, trun, tile_of_edge, tile_n, run_i, run_j, run_c, d2, gid)
        network.cache[key] = table
    return table


def _assemble_block(
    xy: np.ndarray, ring_of: np.ndarray, poly_of: np.ndarray, owner: np.ndarray, k: int
) -> list[BaseGeometry]:
    """Concatenated rings of ``k`` circles → one Polygon / MultiPolygon per circle."""
    out: list[BaseGeometry] = [Polygon()] * k
    if len(poly_of) == 0:
        return out
    rings = shapely.linearrings(xy, indices=ring_of)
    polys = shapely.polygons(rings, indices=poly_of)
    bounds = np.searchsorted(owner, np.arange(k + 1))
    for i in range(k):
        a, b = bounds[i], bounds[i + 1]
        if b - a == 1:
            out[i] = polys[a]
        elif b - a > 1:
            out[i] = MultiPolygon(list(polys[a:b]))
    return out


def to_wgs84(network: Network, geom: BaseGeometry) -> BaseGeometry:
    """Transform a geometry from the network CRS (metres) to EPSG:4326 (lng, lat)."""
    return network.to_wgs84(geom)


def straight_line_circle(
    x: float, y: float, budget_m: float | WalkBudget, *, quad_segs: int = 16
) -> Circle:
    """Fallback circle: a disc of radius ``budget_m`` around ``(x, y)``.

    Used when a point cannot be snapped to the network (``Network.snap`` returned
    ``None``). Coordinates and radius are in the network's metric CRS (metres).
    """
    budget, meta = split_budget(budget_m)
    disc = shapely.buffer(shapely.Point(x, y), budget, quad_segs=quad_segs)
    return Circle(disc, CircleMethod.STRAIGHT_LINE, budget, 0.0, **meta)


def circles_for_sources(
    network: Network,
    snaps: Sequence[Snap | None],
    budget_m: float | WalkBudget,
    *,
    walk_off_m: float = DEFAULT_WALK_OFF_M,
    grid_m: float = DEFAULT_GRID_M,
    exact: bool = False,
    fallback_xy: np.ndarray | None = None,
) -> list[Circle | None]:
    """Service circles for many starts.

    Parameters
    ----------
    network
        The network.
    snaps
        Snapped starts; ``None`` entries (not snappable) get a straight-line circle
        when ``fallback_xy`` is given, else ``None``.
    budget_m
        Walking budget in metres or a :class:`geo.profiles.WalkBudget`.
    walk_off_m
        Buffer around reached streets, metres.
    grid_m
        Lattice step of the fast polygon, metres.
    exact
        Use :func:`exact_polygon` (GEOS buffer-union; slow) instead of the fast one.
    fallback_xy
        (K, 2) query points (metres, network CRS) aligned with ``snaps``.

    Returns
    -------
    list of Circle or None
        Aligned with ``snaps``.
    """
    budget, meta = split_budget(budget_m)
    _check_polygon_args(walk_off_m, grid_m)
    out: list[Circle | None] = [None] * len(snaps)
    live = [i for i, s in enumerate(snaps) if s is not None]
    live_snaps = [snaps[i] for i in live]
    net = network
    for k0, dist in node_distances(net, live_snaps, budget):
        block = live_snaps[k0 : k0 + dist.shape[0]]
        k = len(block)
        e0 = np.fromiter((s.edge for s in block), dtype=np.int64, count=k)
        s0 = np.fromiter((s.to_source_m for s in block), dtype=np.float64, count=k)
        rem0 = budget - np.fromiter((s.off_network_m for s in block), dtype=np.float64, count=k)
        if exact:
            polys = []
            lengths = np.zeros(k)
            for j in range(k):
                pe, pa, pb, n = _edge_pieces(
                    dist[j], budget, e0[j], s0[j], rem0[j], net.src, net.dst, net.length,
                    net.inc_offsets, net.inc_edges,
                )
                r = Reach(net, block[j], budget, dist[j], pe[:n], pa[:n], pb[:n])
                polys.append(exact_polygon(net, r, walk_off_m=walk_off_m))
                lengths[j] = r.reached_length_m
            step = None
        else:
            xy, ring_of, poly_of, owner, lengths = _circles_block(
                dist, budget, e0, s0, rem0, net.src, net.dst, net.length, net.inc_offsets,
                net.inc_edges, net.vertex_offsets, net.vx, net.vy, net.vcum, float(walk_off_m),
                float(grid_m),
                *_stamp_table(net, grid_m, walk_off_m),
            )
            polys = _assemble_block(xy, ring_of, poly_of, owner, k)
            step = grid_m
        for j in range(k):
            out[live[k0 + j]] = Circle(
                polys[j], CircleMethod.NETWORK, budget, walk_off_m, snap=block[j],
                reached_length_m=float(lengths[j]), grid_m=step, **meta,
            )
    if fallback_xy is not None:
        xy = np.asarray(fallback_xy, dtype=np.float64)
        for i, s in enumerate(snaps):
            if s is None:
                out[i] = straight_line_circle(xy[i, 0], xy[i, 1], budget_m)
    return out


def warm_up() -> float:
    """Compile (or load from numba's on-disk cache) every kernel on a tiny network.

    The first compilation takes tens of seconds; later processes load the cache
    (written next to this module, or under ``NUMBA_CACHE_DIR``) in about a second.
    Call it at service start so that no request pays for it.

    Returns
    -------
    float
        Seconds spent.
    """
    import time

    import geopandas as gpd
    from shapely.geometry import LineString, Point

    t0 = time.perf_counter()
    pts = [(0.0, 0.0), (200.0, 0.0), (200.0, 200.0), (0.0, 200.0)]
    nodes = gpd.GeoDataFrame({"node_id": [1, 2, 3, 4]}, geometry=[Point(p) for p in pts],
                             crs="EPSG:32650")
    edges = gpd.GeoDataFrame(
        {"source": [1, 2, 3, 4], "target": [2, 3, 4, 1]},
        geometry=[LineString([pts[i], pts[(i + 1) % 4]]) for i in range(4)], crs="EPSG:32650")
    net = Network.from_frames(nodes, edges)
    snaps = net.snap_many(np.array([-5.0, 100.0]), np.array([100.0, 5.0]))
    circles_for_sources(net, snaps, 150.0)
    circle_polygon(net, reach(net, snaps[0], 150.0))
    nearest_by_walk(net, snaps[0], snaps[1:], 1)
    return time.perf_counter() - t0
