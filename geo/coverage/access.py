"""Access from every home: walking time from each building (and each H3 cell of
the town) to the nearest service position, the GB 50180 tiers, and supply per
resident (two-step floating catchment, 2SFCA).

Coverage (:mod:`geo.coverage.reach`) looks outward from each station: is a
building inside a circle. Here every home looks for its nearest station.

The walk
    One multi-source Dijkstra per question (SciPy's ``dijkstra`` with
    ``min_only``): every position that answers the question (its kind, its
    services, open at an instant by its hours and China's holiday calendar)
    is a virtual source joined to the two ends of the edge it snaps to; the
    search gives every node its walk to the nearest position and which one.
    A building then walks off the street to its own snapped point and along
    its edge to either end (or directly along the edge to a position on the
    same edge). Positions and buildings farther than ``max_snap_m`` from any
    street are left out (unreachable: counted apart). Distances are metres;
    minutes are at the profile's speed (elderly 3.6 km/h by default), and
    every report states both.

Percentiles (median, 90th) are weighted by population: "half of the people
live within m minutes".

2SFCA (Luo & Wang 2003): each position ``j`` with capacity ``S_j`` (its floor
area in m²; a position without one takes the median floor area of its kind,
and the report counts them) serves everyone within the catchment ``d0``
(default 15 minutes at the profile's speed): ``R_j = S_j / Σ P_i`` over the
buildings ``i`` with ``d_ij ≤ d0``; a building's score is ``A_i = Σ R_j`` over
the positions within ``d0`` of it: square metres of service space per
resident. Distances come from the same walk (one Dijkstra per position on the
network, reused between questions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.circles import Networks
from geo.coverage.loading import Town, load_town
from geo.errors import Conflict, InvalidInput, Problem
from geo.points import HoursMemo
from geo.profiles import STANDARD_DISTANCES_M, walking_budget
from geo.vocab import POINT_KIND_ZH, SERVICE_ZH, PointKind, Service
from geo.walk.network import Network

__all__ = [
    "TIER_MINUTES",
    "AccessParams",
    "AccessRun",
    "Positions",
    "access_run",
    "cells_in",
    "changed_cells",
    "hex_wkb",
    "load_positions",
    "multi_source_walk",
    "snap_arrays",
    "supply_report",
    "supply_scores",
    "tiers_report",
    "two_step_fca",
    "walk_from",
    "walk_report",
]

#: The GB 50180-2018 life-circle minutes (5, 10, 15) and their distances.
TIER_MINUTES: tuple[int, ...] = tuple(sorted(STANDARD_DISTANCES_M))
#: Fewest buildings an H3 cell must hold for its population to be shown.
SUPPRESS_BELOW = 3


@dataclass(frozen=True)
class AccessParams:
    """What is asked: who walks how fast to which positions, at what time."""

    profile: str = "elderly"
    speed_kmh: float | None = None
    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    at: datetime | None = None  # only positions open at this instant
    max_snap_m: float = 300.0
    hex_resolution: int = 10
    catchment_minutes: float = 15.0

    def validated(self) -> AccessParams:
        problems: list[Problem] = []
        if self.profile == "standard":
            problems.append(Problem(
                "GB 50180 的标准档按距离而非步速定义，步行时间需要步速", column="profile",
                value=self.profile, expected="adult、elderly 或 custom（需给出 speed_kmh）；"
                "标准档的距离见分级报告"))
        kinds = {k.value for k in PointKind}
        services = {s.value for s in Service}
        problems += [Problem("未知的阵地类型", column="kinds", value=k,
                             expected=", ".join(sorted(kinds))) for k in self.kinds
                     if k not in kinds]
        problems += [Problem("未知的服务", column="services", value=s,
                             expected=", ".join(sorted(services))) for s in self.services
                     if s not in services]
        if not 7 <= self.hex_resolution <= 11:
            problems.append(Problem("H3 分辨率超出范围", column="hex_resolution",
                                    value=self.hex_resolution, expected="7..11"))
        if not 1 <= self.catchment_minutes <= 60:
            problems.append(Problem("服务半径超出范围", column="catchment_minutes",
                                    value=self.catchment_minutes, expected="1..60"))
        if not problems:
            try:
                walking_budget(self.profile, 10, self.speed_kmh)
            except ValueError as exc:
                problems.append(Problem(str(exc), column="profile", value=self.profile))
        if problems:
            raise InvalidInput("步行可达性参数不正确", problems)
        return self

    @property
    def speed(self) -> float:
        """Walking speed, km/h."""
        return walking_budget(self.profile, 10, self.speed_kmh).speed_kmh

    @property
    def metres_per_minute(self) -> float:
        return self.speed * 1000.0 / 60.0

    def key(self) -> tuple:
        return (self.profile, self.speed_kmh, self.kinds, self.services,
                None if self.at is None else self.at.isoformat(), self.max_snap_m,
                self.hex_resolution, self.catchment_minutes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile, "speed_kmh": self.speed,
            "metres_per_minute": round(self.metres_per_minute, 2),
            "kinds": list(self.kinds),
            "kinds_zh": [POINT_KIND_ZH[PointKind(k)] for k in self.kinds] or ["全部"],
            "services": list(self.services),
            "services_zh": [SERVICE_ZH[Service(s)] for s in self.services] or ["全部"],
            "open_at": None if self.at is None else self.at.isoformat(),
            "max_snap_m": self.max_snap_m, "hex_resolution": self.hex_resolution,
            "catchment_minutes": self.catchment_minutes,
            "catchment_m": round(self.catchment_minutes * self.metres_per_minute, 1),
        }


# ====================================================================== positions
@dataclass(frozen=True)
class Positions:
    """The service positions a question is asked about (WGS-84)."""

    code: np.ndarray
    name: np.ndarray
    kind: np.ndarray
    lng: np.ndarray
    lat: np.ndarray
    capacity_m2: np.ndarray  # floor area, the kind's median where missing
    imputed: np.ndarray  # bool: capacity taken from the kind's median
    services: tuple
    hours: tuple
    hours_text: tuple

    def __len__(self) -> int:
        return len(self.code)

    def take(self, keep: np.ndarray) -> Positions:
        idx = np.flatnonzero(keep) if keep.dtype == bool else keep
        return Positions(self.code[idx], self.name[idx], self.kind[idx], self.lng[idx],
                         self.lat[idx], self.capacity_m2[idx], self.imputed[idx],
                         tuple(self.services[i] for i in idx),
                         tuple(self.hours[i] for i in idx),
                         tuple(self.hours_text[i] for i in idx))


def positions_from_rows(rows: Sequence[Any]) -> Positions:
    """Positions from rows with ``code name kind lng lat floor_area_m2 services
    hours hours_text`` (capacities imputed by kind)."""
    kind = np.array([r.kind for r in rows], dtype=object)
    area = np.array([np.nan if r.floor_area_m2 is None else float(r.floor_area_m2)
                     for r in rows], dtype=np.float64)
    imputed = ~np.isfinite(area) | (area <= 0)
    cap = area.copy()
    all_median = float(np.median(area[~imputed])) if (~imputed).any() else 100.0
    for k in set(kind[imputed].tolist()):
        same = (kind == k) & ~imputed
        cap[(kind == k) & imputed] = float(np.median(area[same])) if same.any() else all_median
    return Positions(
        code=np.array([r.code for r in rows], dtype=object),
        name=np.array([r.name for r in rows], dtype=object), kind=kind,
        lng=np.array([r.lng for r in rows], dtype=np.float64),
        lat=np.array([r.lat for r in rows], dtype=np.float64),
        capacity_m2=cap, imputed=imputed,
        services=tuple(tuple(r.services or ()) for r in rows),
        hours=tuple(r.hours for r in rows), hours_text=tuple(r.hours_text for r in rows))


def load_positions(conn: Connection, bounds: tuple[float, float, float, float],
                   pad_deg: float) -> Positions:
    """The live positions within ``bounds`` grown by ``pad_deg`` (a resident
    at the edge of the town may walk to the neighbour's station)."""
    x0, y0, x1, y1 = bounds
    rows = conn.execute(text("""
        SELECT code, name, kind, ST_X(geom) AS lng, ST_Y(geom) AS lat, floor_area_m2,
               services, hours, hours_text
        FROM service_points
        WHERE deleted_at IS NULL AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
        ORDER BY code"""), {"x0": x0 - pad_deg, "y0": y0 - pad_deg, "x1": x1 + pad_deg,
                            "y1": y1 + pad_deg}).all()
    return positions_from_rows(rows)


def select_positions(pos: Positions, params: AccessParams) -> np.ndarray:
    """Mask of the positions that answer the question (kind, services, open)."""
    keep = np.ones(len(pos), dtype=bool)
    if params.kinds:
        keep &= np.isin(pos.kind, list(params.kinds))
    if params.services:
        want = set(params.services)
        keep &= np.array([want <= set(s) for s in pos.services], dtype=bool)
    if params.at is not None:
        memo = HoursMemo(params.at)
        keep &= np.array([memo(h, t)[0] is True for h, t in
                          zip(pos.hours, pos.hours_text, strict=True)], dtype=bool)
    return keep


# ====================================================================== the walk
def snap_arrays(network: Network, x: np.ndarray, y: np.ndarray, max_snap_m: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Snap many points (network CRS, metres) as arrays
    (:meth:`geo.walk.network.Network.snap_arrays`)."""
    return network.snap_arrays(x, y, max_snap_m=max_snap_m)


def multi_source_walk(network: Network, t_edge: np.ndarray, t_to_s: np.ndarray,
                      t_to_t: np.ndarray, t_off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walk from every node to its nearest target: metres (inf: unreachable)
    and the target's index (-1). One SciPy Dijkstra with ``min_only`` from a
    virtual node per target (joined to both ends of its edge; the network is
    undirected, so the walk from the target is the walk to it)."""
    adj = network.adjacency
    n = adj.shape[0]
    k = len(t_edge)
    if k == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    virt = n + np.arange(k)
    # the adjacency plus two out-edges per virtual node (rows appended in CSR;
    # a zero weight would be dropped by the sparse format: a target on a node)
    indptr = np.concatenate([adj.indptr, adj.indptr[-1] + 2 * np.arange(1, k + 1)])
    indices = np.concatenate([adj.indices, np.column_stack(
        [network.src[t_edge], network.dst[t_edge]]).ravel()]).astype(adj.indices.dtype)
    data = np.concatenate([adj.data, np.maximum(np.column_stack(
        [t_off + t_to_s, t_off + t_to_t]).ravel(), 1e-9)])
    graph = sp.csr_matrix((data, indices, indptr), shape=(n + k, n + k))
    dist, _, sources = dijkstra(graph, directed=True, indices=virt, min_only=True,
                                return_predecessors=True)
    near = np.where(sources[:n] >= n, sources[:n] - n, -1).astype(np.int64)
    dist = dist[:n].copy()
    dist[near < 0] = np.inf
    return dist, near


def walk_from(network: Network, node_dist: np.ndarray, node_near: np.ndarray,
              s_edge: np.ndarray, s_to_s: np.ndarray, s_to_t: np.ndarray, s_off: np.ndarray,
              t_edge: np.ndarray, t_to_s: np.ndarray, t_off: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Walk (metres) from snapped starts to their nearest target and its index:
    off the street, along the start's edge to either end and on from the node
    (:func:`multi_source_walk`), or directly along the edge to a target on
    the same edge."""
    m = len(s_edge)
    out = np.full(m, np.inf)
    near = np.full(m, -1, dtype=np.int64)
    ok = np.flatnonzero(s_edge >= 0)
    if len(ok) == 0:
        return out, near
    e = s_edge[ok]
    via_s = s_off[ok] + s_to_s[ok] + node_dist[network.src[e]]
    via_t = s_off[ok] + s_to_t[ok] + node_dist[network.dst[e]]
    use_t = via_t < via_s
    out[ok] = np.where(use_t, via_t, via_s)
    near[ok] = np.where(use_t, node_near[network.dst[e]], node_near[network.src[e]])
    # a target on the start's own edge is also reached directly along it
    if len(t_edge):
        order = np.argsort(t_edge, kind="stable")
        te = t_edge[order]
        lo = np.searchsorted(te, e, "left")
        hi = np.searchsorted(te, e, "right")
        for j in np.flatnonzero(hi > lo):
            i = ok[j]
            for t in order[lo[j]:hi[j]]:
                d = s_off[i] + abs(s_to_s[i] - t_to_s[t]) + t_off[t]
                if d < out[i]:
                    out[i], near[i] = d, t
    out[near < 0] = np.inf
    return out, near


# ====================================================================== a run
@dataclass
class AccessRun:
    """The walk from every building and H3 cell of a town to its nearest
    position (see the module docstring)."""

    town: Town
    params: AccessParams
    positions: Positions  # the positions that answer the question
    network: Network | None
    b_m: np.ndarray  # walking metres per building (inf: unreachable)
    b_near: np.ndarray  # index into positions (-1)
    h_cell: np.ndarray  # H3 cells covering the town
    h_xy: np.ndarray  # their centres (lng, lat)
    h_m: np.ndarray  # walking metres from each centre
    h_pop: np.ndarray  # population of the buildings in each cell
    h_buildings: np.ndarray
    label: str = "today"
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _pair: tuple | None = field(default=None, repr=False)
    _supply: tuple | None = field(default=None, repr=False)
    _hex_wkb: np.ndarray | None = field(default=None, repr=False)

    @property
    def b_minutes(self) -> np.ndarray:
        return self.b_m / self.params.metres_per_minute


def _town_network(networks: Networks, town: Town, max_snap_m: float) -> Network | None:
    if not networks or len(town.b_xy) == 0:
        return None
    names = networks.datasets_for(town.b_xy[:, 0], town.b_xy[:, 1], max_snap_m)
    counts: dict[str, int] = {}
    for n in names:
        if n is not None:
            counts[n] = counts.get(n, 0) + 1
    if not counts:
        return None
    return networks.by_dataset[max(sorted(counts), key=counts.__getitem__)]


def _hex_cells(town: Town, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    import h3

    region = shapely.union_all(town.scope.leaf_geoms) if len(town.scope.leaf_geoms) else None
    cells: list[str] = []
    if region is not None and not region.is_empty:
        cells = sorted(h3.geo_to_cells(shapely.geometry.mapping(region), resolution))
    xy = np.array([h3.cell_to_latlng(c)[::-1] for c in cells], dtype=np.float64).reshape(-1, 2)
    return np.array(cells, dtype=object), xy


def access_run(conn: Connection, region: str | None, params: AccessParams, *,
               networks: Networks, town: Town | None = None,
               positions: Positions | None = None, network: Network | None = None,
               label: str = "today") -> AccessRun:
    """Walk from every building and H3 cell of ``region`` to the nearest
    position answering ``params``.

    ``positions`` and ``network`` replace today's (a scenario,
    :mod:`geo.scenarios`); by default the live positions within
    the catchment of the town's edge and the town's walking network.

    Raises
    ------
    NotFound
        Unknown region.
    InvalidInput
        Invalid parameters, or a region without buildings.
    Conflict
        No walking network covers the region.
    """
    params = params.validated()
    if town is None:
        town = load_town(conn, region)
    if len(town.b_id) == 0:
        raise InvalidInput(f"{town.region.name}（{town.region.code}）没有住宅建筑", [Problem(
            "步行可达性从每栋住宅建筑计算，这里没有建筑", column="region",
            value=town.region.code, expected="有建筑数据的区划")])
    net = network or _town_network(networks, town, params.max_snap_m)
    if net is None:
        raise Conflict(f"{town.region.name}（{town.region.code}）没有步行路网，无法计算步行时间："
                       "请先导入路网（servicemap import osm）或加载示例数据")
    if positions is None:
        lat = (town.scope.bounds[1] + town.scope.bounds[3]) / 2
        pad = (params.catchment_minutes * params.metres_per_minute + 500.0) / 111_320.0 \
            / max(math.cos(math.radians(lat)), 0.1)
        positions = load_positions(conn, town.scope.bounds, pad)
    chosen = positions.take(select_positions(positions, params))
    px, py = net.project(chosen.lng, chosen.lat)
    t_edge, t_s, t_t, t_off = snap_arrays(net, np.atleast_1d(px), np.atleast_1d(py),
                                          params.max_snap_m)
    on = t_edge >= 0
    chosen = chosen.take(on)
    t_edge, t_s, t_t, t_off = t_edge[on], t_s[on], t_t[on], t_off[on]
    node_d, node_n = multi_source_walk(net, t_edge, t_s, t_t, t_off)
    bx, by = net.project(town.b_xy[:, 0], town.b_xy[:, 1])
    b_snap = snap_arrays(net, bx, by, params.max_snap_m)
    b_m, b_near = walk_from(net, node_d, node_n, *b_snap, t_edge, t_s, t_off)
    cells, cxy = _hex_cells(town, params.hex_resolution)
    if len(cells):
        hx, hy = net.project(cxy[:, 0], cxy[:, 1])
        h_m, _ = walk_from(net, node_d, node_n,
                           *snap_arrays(net, np.atleast_1d(hx), np.atleast_1d(hy),
                                        params.max_snap_m), t_edge, t_s, t_off)
    else:
        h_m = np.zeros(0)
    import h3

    b_cell = [h3.latlng_to_cell(float(y), float(x), params.hex_resolution)
              for x, y in town.b_xy]
    index = {c: i for i, c in enumerate(cells.tolist())}
    bi = np.array([index.get(c, -1) for c in b_cell], dtype=np.int64)
    inside = bi >= 0
    h_pop = np.bincount(bi[inside], weights=town.b_pop[inside], minlength=len(cells))
    h_n = np.bincount(bi[inside], minlength=len(cells))
    run = AccessRun(town, params, chosen, net, b_m, b_near, cells, cxy, h_m,
                    h_pop.astype(np.int64), h_n.astype(np.int64), label=label)
    run._pair = (b_snap, (t_edge, t_s, t_t, t_off))
    return run


def hex_wkb(run: AccessRun) -> np.ndarray:
    """The WKB polygons (WGS-84) of the run's H3 cells, made once per run."""
    if run._hex_wkb is None:
        import h3

        rings = [[(lng, lat) for lat, lng in h3.cell_to_boundary(c)] for c in run.h_cell]
        polys = shapely.polygons(rings) if rings else np.zeros(0, dtype=object)
        run._hex_wkb = np.asarray(shapely.to_wkb(polys), dtype=object)
    return run._hex_wkb


def cells_in(run: AccessRun, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """Indices of the run's H3 cells whose polygon may meet the WGS-84 ``bbox``
    (centre within the box grown by two cell edges)."""
    import h3

    if len(run.h_cell) == 0:
        return np.zeros(0, dtype=np.int64)
    pad = 2 * h3.average_hexagon_edge_length(run.params.hex_resolution, "m") / 111_320.0
    lat = (bbox[1] + bbox[3]) / 2
    padx = pad / max(math.cos(math.radians(lat)), 0.1)
    x, y = run.h_xy[:, 0], run.h_xy[:, 1]
    keep = (x >= bbox[0] - padx) & (x <= bbox[2] + padx) & (y >= bbox[1] - pad) \
        & (y <= bbox[3] + pad)
    return np.flatnonzero(keep)


def changed_cells(today: AccessRun, scenario: AccessRun, *, min_minutes: float = 0.1
                  ) -> dict[str, Any]:
    """GeoJSON of the H3 cells whose walk to the nearest position differs
    between two runs of the same town (a scenario against today) by at least
    ``min_minutes``: the minutes of both, the difference (negative: nearer)."""
    if not np.array_equal(today.h_cell, scenario.h_cell):
        raise ValueError("the runs cover different cells")
    mpm = today.params.metres_per_minute
    t, s = today.h_m / mpm, scenario.h_m / mpm
    both = np.isfinite(t) & np.isfinite(s)
    diff = np.where(both, s - t, np.where(np.isfinite(t) == np.isfinite(s), 0.0, np.inf))
    idx = np.flatnonzero(np.abs(diff) >= min_minutes - 1e-9)
    polys = shapely.from_wkb(hex_wkb(today)[idx]) if len(idx) else []

    def minutes(v: float) -> float | None:
        return round(float(v), 1) if math.isfinite(v) else None

    feats = []
    for i, g in zip(idx.tolist(), polys, strict=True):
        a, b = minutes(t[i]), minutes(s[i])
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(g),
                      "properties": {"h3": str(today.h_cell[i]), "minutes_today": a,
                                     "minutes_scenario": b,
                                     "delta_minutes": None if a is None or b is None
                                     else round(float(s[i] - t[i]), 1)}})
    return {"type": "FeatureCollection", "features": feats,
            "parameters": today.params.as_dict(), "min_minutes": min_minutes,
            "cells": len(today.h_cell), "cells_changed": len(feats)}


# ====================================================================== figures
def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float | None:
    """The smallest value with at least ``q`` of the weight at or below it (inf
    counts: None when the quantile is unreachable)."""
    if len(values) == 0:
        return None
    w = weights.astype(np.float64)
    if w.sum() <= 0:
        w = np.ones(len(values))
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(w[order])
    i = int(np.searchsorted(cum, q * cum[-1] - 1e-9, "left"))
    v = float(values[order][min(i, len(values) - 1)])
    return None if not math.isfinite(v) else v


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def _areas(run: AccessRun) -> list[tuple[dict[str, Any], np.ndarray]]:
    """(area header, building mask) for the town, each village and each grid cell."""
    town = run.town
    out = [({"code": town.region.code, "name": town.region.name, "level": town.region.level},
            np.ones(len(town.b_id), dtype=bool))]
    for i, leaf in enumerate(town.leaves):
        out.append(({"code": leaf.code, "name": leaf.name, "level": leaf.level},
                    town.b_leaf == i))
    for kind, b_grid in town.b_grid.items():
        for g in np.flatnonzero(town.g_kind == kind):
            out.append(({"code": str(town.g_code[g]), "name": str(town.g_name[g]),
                         "level": "grid", "kind": kind}, b_grid == g))
    return out


def _walk_row(run: AccessRun, header: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    minutes = run.b_minutes[mask]
    pop = run.town.b_pop[mask]
    total = int(pop.sum())
    row = {**header, "buildings": int(mask.sum()), "population": total}
    for t in TIER_MINUTES:
        within = int(pop[minutes <= t].sum())
        row[f"population_within_{t}min"] = within
        row[f"within_{t}min_pct"] = _pct(within, total)
    med = _weighted_quantile(minutes, pop, 0.5)
    p90 = _weighted_quantile(minutes, pop, 0.9)
    row["median_minutes"] = None if med is None else round(med, 1)
    row["p90_minutes"] = None if p90 is None else round(p90, 1)
    row["population_unreachable"] = int(pop[~np.isfinite(minutes)].sum())
    return row


def _header(run: AccessRun) -> dict[str, Any]:
    t = run.town.region
    return {"region": {"code": t.code, "name": t.name, "level": t.level},
            "parameters": run.params.as_dict(),
            "positions": {"count": len(run.positions),
                          "codes_sample": run.positions.code[:5].tolist()},
            "scenario": run.label,
            "computed_at": run.computed_at.isoformat(timespec="seconds"),
            "population_source": run.town.population_source().as_dict()}


def walk_report(run: AccessRun, *, farthest: int = 20, detail: bool = False) -> dict[str, Any]:
    """Walking time from every home: per town, village and grid cell the people
    within 5/10/15 minutes, the population-weighted median and 90th
    percentile, the unreachable; the H3 cells farthest from any position
    (cells with at least three buildings); with ``detail`` (planners) the
    buildings farthest from any position."""
    rows = [_walk_row(run, h, m) for h, m in _areas(run)]
    hexes = []
    for i in range(len(run.h_cell)):
        if run.h_buildings[i] < SUPPRESS_BELOW:
            continue
        m = run.h_m[i]
        hexes.append({"h3": run.h_cell[i], "lng": round(float(run.h_xy[i, 0]), 6),
                      "lat": round(float(run.h_xy[i, 1]), 6),
                      "walk_m": None if not math.isfinite(m) else round(float(m), 1),
                      "walk_minutes": None if not math.isfinite(m) else
                      round(float(m) / run.params.metres_per_minute, 1),
                      "buildings": int(run.h_buildings[i]),
                      "population": int(run.h_pop[i])})
    hexes.sort(key=lambda r: (-(r["walk_m"] if r["walk_m"] is not None else math.inf),
                              r["h3"]))
    out = {**_header(run), "totals": rows[0],
           "by_region": [r for r in rows[1:] if r["level"] != "grid"],
           "by_grid": [r for r in rows[1:] if r["level"] == "grid"],
           "farthest_cells": hexes[:farthest]}
    if detail:
        order = np.lexsort((run.town.b_id, -np.where(np.isfinite(run.b_m), run.b_m, 1e18)))
        out["farthest_buildings"] = [
            {"rank": k + 1, "id": int(run.town.b_id[i]),
             "lng": round(float(run.town.b_xy[i, 0]), 6),
             "lat": round(float(run.town.b_xy[i, 1]), 6),
             "population": int(run.town.b_pop[i]),
             "region_name": run.town.leaves[run.town.b_leaf[i]].name,
             "walk_m": None if not math.isfinite(run.b_m[i]) else round(float(run.b_m[i]), 1),
             "walk_minutes": None if not math.isfinite(run.b_m[i]) else
             round(float(run.b_minutes[i]), 1),
             "nearest_code": None if run.b_near[i] < 0 else str(run.positions.code[run.b_near[i]])}
            for k, i in enumerate(order[:farthest])]
    return out


def tiers_report(run: AccessRun) -> dict[str, Any]:
    """The GB 50180-2018 life-circle tiers per town, village and grid cell: the
    people within the standard's walking distances (5 min 300 m, 10 min 500 m,
    15 min 1000 m) and within 5/10/15 minutes at the profile's speed, side
    by side, with the speeds stated."""
    mpm = run.params.metres_per_minute
    tiers = [{"minutes": t, "standard_m": STANDARD_DISTANCES_M[t],
              "standard_speed_kmh": round(STANDARD_DISTANCES_M[t] / t * 60 / 1000, 2),
              "profile_m": round(t * mpm, 1), "profile_speed_kmh": run.params.speed}
             for t in TIER_MINUTES]
    rows = []
    for header, mask in _areas(run):
        pop = run.town.b_pop[mask]
        metres = run.b_m[mask]
        total = int(pop.sum())
        row = {**header, "buildings": int(mask.sum()), "population": total}
        for t in TIER_MINUTES:
            std = int(pop[metres <= STANDARD_DISTANCES_M[t]].sum())
            prof = int(pop[metres <= t * mpm].sum())
            row[f"standard_{t}min"] = std
            row[f"standard_{t}min_pct"] = _pct(std, total)
            row[f"profile_{t}min"] = prof
            row[f"profile_{t}min_pct"] = _pct(prof, total)
        rows.append(row)
    return {**_header(run), "tiers": tiers, "totals": rows[0],
            "by_region": [r for r in rows[1:] if r["level"] != "grid"],
            "by_grid": [r for r in rows[1:] if r["level"] == "grid"],
            "statement_zh": "GB 50180-2018 居住区生活圈：5分钟300米、10分钟500米、15分钟1000米"
                            f"（标准距离）；按所选步行档 {run.params.speed:g} km/h 的 5/10/15 分钟"
                            "距离并列给出"}


def pair_metres(run: AccessRun, limit_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(building, position, metres) for every pair within ``limit_m`` of each
    other by walking: one budget-limited Dijkstra per position."""
    net = run.network
    b_snap, (t_edge, t_s, t_t, t_off) = run._pair
    s_edge, s_s, s_t, s_off = b_snap
    bi, pj, dm = [], [], []
    ok = np.flatnonzero(s_edge >= 0)
    e = s_edge[ok]
    for j in range(len(t_edge)):
        node_d = _limited(net, t_edge[j], t_s[j], t_t[j], t_off[j], limit_m)
        via = np.minimum(s_off[ok] + s_s[ok] + node_d[net.src[e]],
                         s_off[ok] + s_t[ok] + node_d[net.dst[e]])
        same = e == t_edge[j]
        if same.any():
            direct = s_off[ok][same] + np.abs(s_s[ok][same] - t_s[j]) + t_off[j]
            via[same] = np.minimum(via[same], direct)
        hit = np.flatnonzero(via <= limit_m)
        bi.append(ok[hit])
        pj.append(np.full(len(hit), j, dtype=np.int64))
        dm.append(via[hit])
    if not bi:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(bi), np.concatenate(pj), np.concatenate(dm)


def _limited(net: Network, edge: int, to_s: float, to_t: float, off: float,
             limit_m: float) -> np.ndarray:
    n = net.n_nodes
    adj = net.adjacency
    indptr = np.concatenate([adj.indptr, [adj.indptr[-1] + 2]])
    indices = np.concatenate([adj.indices, [net.src[edge], net.dst[edge]]])
    data = np.concatenate([adj.data, [max(off + to_s, 1e-9), max(off + to_t, 1e-9)]])
    g = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    return dijkstra(g, directed=True, indices=n, limit=limit_m)[:n]


def supply_report(run: AccessRun) -> dict[str, Any]:
    """Supply per resident by 2SFCA (see the module docstring): square metres
    of service floor area per resident, per building and aggregated
    (population-weighted mean) per town, village and grid cell; the people
    no position's catchment reaches."""
    d0 = run.params.catchment_minutes * run.params.metres_per_minute
    town = run.town
    score, demand, ratio = supply_scores(run)
    rows = []
    for header, mask in _areas(run):
        pop = town.b_pop[mask]
        total = int(pop.sum())
        s = score[mask]
        mean = float((s * pop).sum() / total) if total else 0.0
        rows.append({**header, "buildings": int(mask.sum()), "population": total,
                     "m2_per_resident": round(mean, 4),
                     "m2_per_1000": round(mean * 1000, 1),
                     "population_unserved": int(pop[s <= 0].sum())})
    pos = [{"code": str(run.positions.code[j]), "name": str(run.positions.name[j]),
            "capacity_m2": round(float(run.positions.capacity_m2[j]), 1),
            "capacity_imputed": bool(run.positions.imputed[j]),
            "population_in_catchment": int(demand[j]),
            "m2_per_resident": round(float(ratio[j]), 4)} for j in range(len(run.positions))]
    return {**_header(run), "method": "2SFCA", "catchment_m": round(d0, 1),
            "capacity": "floor_area_m2",
            "capacity_zh": "阵地建筑面积（平方米）；缺少面积的阵地取同类阵地面积中位数",
            "imputed": int(run.positions.imputed.sum()),
            "totals": rows[0],
            "by_region": [r for r in rows[1:] if r["level"] != "grid"],
            "by_grid": [r for r in rows[1:] if r["level"] == "grid"],
            "positions": pos}


def supply_scores(run: AccessRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2SFCA per building (m² per resident), the population in each
    position's catchment and each position's ratio (kept on the run)."""
    if run._supply is None:
        d0 = run.params.catchment_minutes * run.params.metres_per_minute
        bi, pj, _ = pair_metres(run, d0)
        run._supply = two_step_fca(run.town.b_pop, run.positions.capacity_m2, bi, pj)
    return run._supply


def two_step_fca(population: np.ndarray, capacity: np.ndarray, pair_b: np.ndarray,
                 pair_p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2SFCA from the (building, position) pairs within the catchment: each
    building's score ``A_i = Σ_j S_j / D_j`` over its positions, where ``D_j``
    is the population of position ``j``'s catchment; also ``D`` and the
    ratios ``S_j / D_j`` (0 where nobody lives in reach)."""
    demand = np.bincount(pair_p, weights=population[pair_b], minlength=len(capacity))
    ratio = np.divide(capacity, demand, out=np.zeros(len(capacity)), where=demand > 0)
    score = np.bincount(pair_b, weights=ratio[pair_p], minlength=len(population))
    return score, demand, ratio
