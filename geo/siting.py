"""Where new stations close the gaps: maximal covering location (MCLP).

Choose ``k`` new sites among candidates so that the population newly inside a
service circle is as large as possible.

* Candidates: compound centres (``ST_PointOnSurface``, always inside the
  compound), walking-network nodes in residential areas (within
  :data:`RESIDENTIAL_M` of a populated building), or a list supplied by the
  planner (WGS-84, GCJ-02 or BD-09).
* A candidate's circle is computed exactly like a real station's
  (:func:`geo.circles.circles_at`, same budget, profile and parameters), all
  candidates in one batch; "newly covered" uses the same building rule as
  the coverage figures and counts only people not already covered by the
  existing circles.
* Candidates that cannot reach any uncovered resident are dropped first
  (a circle never extends further than ``budget + walk_off`` metres in a
  straight line from its site, because the off-network walk is spent from the
  budget); above ``max_candidates`` the rest are thinned on a square grid,
  keeping the candidate with the most uncovered people within that distance
  in each cell.
* Exact: an integer program solved with HiGHS (``scipy.optimize.milp``):
  maximise ``Σ w_g y_g`` subject to ``y_g ≤ Σ_{j covers g} x_j``,
  ``Σ x_j ≤ k``, ``x`` binary, ``0 ≤ y ≤ 1``; demand rows covered by the same
  candidates are merged first (``w_g`` their summed population).
* Greedy: repeatedly add the candidate covering the most not-yet-covered
  people (ties: lowest candidate index) — the classic ``1 − 1/e`` baseline.

Nothing here writes to the database.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.circles import QUERY_CRS, CircleParams, Networks, circles_at
from geo.coverage import (
    Analysis,
    CoverageParams,
    Town,
    analyse,
    circle_hits,
    percent,
    reach_coverage,
)
from geo.coverage.loading import _index_xy
from geo.crs import looks_swapped, metric_crs_for, to_wgs84
from geo.errors import InvalidInput, Problem
from geo.vocab import FACILITY_KINDS_ZH

__all__ = [
    "CANDIDATE_SOURCES",
    "Candidate",
    "Instance",
    "Solution",
    "brute_force",
    "build_instance",
    "candidate_sites",
    "site",
    "solve_exact",
    "solve_greedy",
    "user_candidates",
    "what_if",
]

#: Where candidates come from (``user``: a supplied list).
CANDIDATE_SOURCES = ("compounds", "nodes", "facilities", "all")
#: A network node is "in a residential area" within this distance of a populated
#: building's centroid, metres.
RESIDENTIAL_M = 60.0
MAX_K = 50
MAX_USER_SITES = 5000


@dataclass(frozen=True)
class Candidate:
    """A possible site (WGS-84 lon/lat)."""

    id: int
    source: str  # "compound", "node", "facility" or "user"
    name: str
    lng: float
    lat: float
    ref: str | None = None  # compound code, node id, or the user's label


@dataclass
class Solution:
    """Chosen candidates (indices into the instance's candidates)."""

    method: str
    chosen: list[int]
    objective: int
    status: str = "optimal"
    optimal: bool = True
    gap: float | None = 0.0
    seconds: float = 0.0
    solver: str = ""


@dataclass
class Instance:
    """A maximal covering instance over a town's uncovered buildings.

    ``cover`` is a CSR matrix (demand groups × candidates); group ``g`` stands
    for the uncovered buildings that exactly the candidates ``cover[g]`` reach,
    and weighs their demand ``weights[g]``: their population, plus — when
    siting is weighted by unmet wishes — ``wish_weight`` people per unmet wish
    (``population[g]`` and ``wishes[g]`` keep the two apart).
    """

    candidates: list[Candidate]
    circles: list[Any]  # geo.isochrones.Circle, polygons in EPSG:4326
    weights: np.ndarray
    cover: sp.csr_matrix
    group_of: np.ndarray  # building index -> group (-1: no candidate reaches it)
    buildings: np.ndarray  # the uncovered building indices considered
    stats: dict[str, Any] = field(default_factory=dict)
    population: np.ndarray | None = None
    wishes: np.ndarray | None = None

    def people(self) -> np.ndarray:
        return self.weights if self.population is None else self.population


# ====================================================================== solvers
def coverage_of(weights: np.ndarray, cover: sp.csr_matrix, chosen: Sequence[int]) -> int:
    """Population covered by ``chosen`` candidates (each group counted once)."""
    if not len(chosen):
        return 0
    hit = np.asarray(cover[:, list(chosen)].sum(axis=1)).ravel() > 0
    return int(np.asarray(weights)[hit].sum())


def solve_greedy(weights: np.ndarray, cover: sp.csr_matrix, k: int) -> Solution:
    """Greedy maximal covering: add the candidate with the largest marginal
    population until ``k`` are chosen or none adds anyone (ties: lowest index).

    Parameters
    ----------
    weights
        (G,) population of each demand group.
    cover
        (G, C) sparse 0/1 matrix: group ``g`` is reached by candidate ``j``.
    k
        Number of sites.
    """
    t0 = time.perf_counter()
    cover = sp.csr_matrix(cover)
    cols = cover.tocsc()
    w = np.asarray(weights, dtype=np.int64)
    gains = np.asarray(cols.T @ w).ravel().astype(np.int64)
    done = np.zeros(cover.shape[0], dtype=bool)
    chosen: list[int] = []
    total = 0
    for _ in range(min(k, cover.shape[1])):
        if not len(gains) or gains.max() <= 0:
            break
        j = int(np.argmax(gains))  # first maximum: lowest index
        chosen.append(j)
        total += int(gains[j])
        rows = cols.indices[cols.indptr[j]:cols.indptr[j + 1]]
        rows = rows[~done[rows]]
        done[rows] = True
        for r in rows.tolist():
            others = cover.indices[cover.indptr[r]:cover.indptr[r + 1]]
            gains[others] -= w[r]
    return Solution("greedy", chosen, total, status="heuristic", optimal=False, gap=None,
                    seconds=time.perf_counter() - t0,
                    solver="greedy (marginal population, ties to the lowest index)")


def solve_exact(weights: np.ndarray, cover: sp.csr_matrix, k: int, *,
                time_limit_s: float = 60.0) -> Solution:
    """Exact maximal covering with HiGHS (``scipy.optimize.milp``).

    Parameters
    ----------
    weights, cover, k
        As for :func:`solve_greedy`.
    time_limit_s
        Solver time limit, seconds; when reached, the best solution found is
        returned with ``optimal = False`` and the remaining relative gap.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    t0 = time.perf_counter()
    cover = sp.csr_matrix(cover, dtype=np.float64)
    n_g, n_c = cover.shape
    w = np.asarray(weights, dtype=np.float64)
    if n_c == 0 or n_g == 0 or k <= 0:
        return Solution("exact", [], 0, seconds=time.perf_counter() - t0,
                        solver="HiGHS (scipy.optimize.milp)")
    c = np.concatenate([np.zeros(n_c), -w])
    link = sp.hstack([-cover, sp.identity(n_g, format="csr")], format="csr")
    budget = sp.csr_matrix(np.concatenate([np.ones(n_c), np.zeros(n_g)])[None, :])
    cons = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(budget, 0.0, float(k))]
    integrality = np.concatenate([np.ones(n_c), np.zeros(n_g)])
    res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0.0, 1.0),
               options={"time_limit": float(time_limit_s), "mip_rel_gap": 0.0,
                        "disp": False})
    if res.x is None:
        raise RuntimeError(f"HiGHS found no solution: {res.message}")
    x = res.x[:n_c] > 0.5
    chosen = [int(j) for j in np.flatnonzero(x)]
    objective = coverage_of(weights, cover, chosen)
    optimal = res.status == 0
    gap = getattr(res, "mip_gap", None)
    return Solution("exact", chosen, objective, status="optimal" if optimal else
                    "time_limit", optimal=optimal, gap=None if gap is None else float(gap),
                    seconds=time.perf_counter() - t0, solver="HiGHS (scipy.optimize.milp)")


def brute_force(weights: np.ndarray, cover: sp.csr_matrix, k: int) -> tuple[int, tuple[int, ...]]:
    """The optimum by enumerating every set of ``min(k, C)`` candidates (small
    instances only; used to check :func:`solve_exact`)."""
    cover = sp.csr_matrix(cover)
    n_c = cover.shape[1]
    best, best_set = -1, ()
    for combo in itertools.combinations(range(n_c), min(k, n_c)):
        v = coverage_of(weights, cover, combo)
        if v > best:
            best, best_set = v, combo
    return best, best_set


def order_by_marginal(weights: np.ndarray, cover: sp.csr_matrix, chosen: Sequence[int]
                      ) -> list[tuple[int, int]]:
    """``chosen`` in the order a greedy pass over them adds them, with each
    one's marginal population; sites adding nobody are dropped."""
    left = list(chosen)
    sub = sp.csr_matrix(cover)[:, left] if left else None
    out: list[tuple[int, int]] = []
    if sub is None:
        return out
    sol = solve_greedy(weights, sub, len(left))
    done = np.zeros(sub.shape[0], dtype=bool)
    cols = sub.tocsc()
    w = np.asarray(weights, dtype=np.int64)
    for j in sol.chosen:
        rows = cols.indices[cols.indptr[j]:cols.indptr[j + 1]]
        new = rows[~done[rows]]
        done[new] = True
        out.append((left[j], int(w[new].sum())))
    return [(j, g) for j, g in out if g > 0]


# ====================================================================== candidates
def _metric(town: Town) -> tuple[pyproj.Transformer, pyproj.Transformer]:
    x0, y0, x1, y1 = town.scope.bounds
    crs = metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2)
    return (pyproj.Transformer.from_crs(4326, crs, always_xy=True),
            pyproj.Transformer.from_crs(crs, 4326, always_xy=True))


def _potential(an: Analysis, xy_m: np.ndarray, reach_m: float,
               fwd: pyproj.Transformer, demand: np.ndarray | None = None) -> np.ndarray:
    """Uncovered demand (population, or population and weighted wishes) within
    ``reach_m`` metres (straight line) of each site: an upper bound of what a
    site's circle can newly cover."""
    t = an.town
    weight = t.b_pop if demand is None else demand
    unc = np.flatnonzero(~an.covered & (weight > 0))
    if not len(unc) or not len(xy_m):
        return np.zeros(len(xy_m), dtype=np.int64)
    bx, by = fwd.transform(t.b_xy[unc, 0], t.b_xy[unc, 1])
    tree = shapely.STRtree(shapely.points(np.asarray(bx), np.asarray(by)))
    site_i, b_i = tree.query(shapely.points(xy_m), predicate="dwithin", distance=reach_m)
    return np.bincount(site_i, weights=weight[unc][b_i], minlength=len(xy_m)).astype(np.int64)


def _thin(xy_m: np.ndarray, potential: np.ndarray, max_n: int) -> tuple[np.ndarray, float]:
    """Keep at most ``max_n`` sites: one per square cell (the one with the
    largest potential, ties to the lowest index), the cell growing until the
    count fits. Returns kept indices and the cell size (0: no thinning)."""
    idx = np.arange(len(xy_m))
    if len(idx) <= max_n:
        return idx, 0.0
    cell = 25.0
    while True:
        key = np.floor(xy_m / cell).astype(np.int64)
        order = np.lexsort((idx, -potential, key[:, 1], key[:, 0]))
        k = key[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = np.any(k[1:] != k[:-1], axis=1)
        kept = np.sort(order[first])
        if len(kept) <= max_n:
            return kept, cell
        cell *= 1.25


def candidate_sites(conn: Connection, an: Analysis, source: str = "all", *,
                    reach_m: float, max_candidates: int = 2500,
                    demand: np.ndarray | None = None
                    ) -> tuple[list[Candidate], dict[str, Any]]:
    """Candidate sites of a town and how they were chosen.

    Parameters
    ----------
    conn
        Connection.
    an
        The current coverage (:func:`geo.coverage.analyse`).
    source
        ``compounds``, ``nodes``, ``facilities`` (public facilities read from
        OpenStreetMap, :mod:`geo.io.osm.features`) or ``all`` (see the module
        docstring).
    reach_m
        Farthest a circle reaches from its site, metres (budget + walk-off).
    max_candidates
        Thinning threshold.

    Returns
    -------
    (list of Candidate, dict)
        Candidates (ids 0..n-1) and counts: ``generated``, ``reaching``
        (with uncovered people within ``reach_m``), ``kept``, ``thinning_m``.
    """
    if source not in CANDIDATE_SOURCES:
        raise InvalidInput("未知的候选点来源", [Problem(
            f"未知的候选点来源 {source!r}", column="candidates", value=source,
            expected=", ".join(CANDIDATE_SOURCES) + " 或候选点列表")])
    t = an.town
    fwd, _ = _metric(t)
    raw: list[tuple[str, str, float, float, str | None]] = []
    if source in ("compounds", "all"):
        for i in range(len(t.c_code)):
            raw.append(("compound", f"{t.c_name[i]}（小区中心）", float(t.c_xy[i, 0]),
                        float(t.c_xy[i, 1]), str(t.c_code[i])))
    if source in ("nodes", "all"):
        x0, y0, x1, y1 = t.scope.bounds
        rows = conn.execute(text(
            "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y FROM network_nodes "
            "WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) ORDER BY id"),
            {"x0": x0, "y0": y0, "x1": x1, "y1": y1}).all()
        if rows:
            nxy = np.array([(r.x, r.y) for r in rows])
            inside = _index_xy(t.scope.leaf_geoms, nxy[:, 0], nxy[:, 1]) >= 0
            populated = np.flatnonzero(t.b_pop > 0)
            bx, by = fwd.transform(t.b_xy[populated, 0], t.b_xy[populated, 1])
            nx, ny = fwd.transform(nxy[:, 0], nxy[:, 1])
            tree = shapely.STRtree(shapely.points(np.asarray(bx), np.asarray(by)))
            near = np.zeros(len(rows), dtype=bool)
            hit, _ = tree.query(shapely.points(np.asarray(nx), np.asarray(ny)),
                                predicate="dwithin", distance=RESIDENTIAL_M)
            near[hit] = True
            for r, ok in zip(rows, inside & near, strict=True):
                if ok:
                    raw.append(("node", f"路网节点 {r.id}", float(r.x), float(r.y), str(r.id)))
    if source in ("facilities", "all"):
        # public facilities of the OSM extract (community centres, schools …) in the
        # town: places people already go to, often with a room to share
        x0, y0, x1, y1 = t.scope.bounds
        rows = conn.execute(text(
            "SELECT osm_type, osm_id, kind, name, ST_X(geom) AS x, ST_Y(geom) AS y "
            "FROM facilities WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) "
            "ORDER BY osm_type, osm_id"), {"x0": x0, "y0": y0, "x1": x1, "y1": y1}).all()
        if rows:
            fxy = np.array([(r.x, r.y) for r in rows])
            inside = _index_xy(t.scope.leaf_geoms, fxy[:, 0], fxy[:, 1]) >= 0
            for r, ok in zip(rows, inside, strict=True):
                if ok:
                    label = FACILITY_KINDS_ZH.get(r.kind, r.kind)
                    raw.append(("facility", f"{r.name or label}（{label}）", float(r.x),
                                float(r.y), f"{r.osm_type}{r.osm_id}"))
    stats: dict[str, Any] = {"source": source, "generated": len(raw)}
    if not raw:
        return [], {**stats, "reaching": 0, "kept": 0, "thinning_m": 0.0}
    lng = np.array([r[2] for r in raw])
    lat = np.array([r[3] for r in raw])
    mx, my = fwd.transform(lng, lat)
    xy_m = np.column_stack([np.asarray(mx), np.asarray(my)])
    pot = _potential(an, xy_m, reach_m, fwd, demand)
    useful = np.flatnonzero(pot > 0)
    kept, cell = _thin(xy_m[useful], pot[useful], max_candidates)
    keep = useful[kept]
    out = [Candidate(i, raw[j][0], raw[j][1], raw[j][2], raw[j][3], raw[j][4])
           for i, j in enumerate(keep.tolist())]
    return out, {**stats, "reaching": int(len(useful)), "kept": len(out),
                 "thinning_m": round(cell, 1), "reach_m": round(reach_m, 1)}


def user_candidates(items: Sequence[dict[str, Any]], town: Town, *, reach_m: float,
                    default_crs: str = "wgs84") -> list[Candidate]:
    """Validate and convert a planner's candidate list.

    Each item has ``lng`` and ``lat`` (numbers), optionally ``crs``
    (``wgs84``, ``gcj02``, ``bd09``) and ``name``. Every problem is reported
    at once (row = 1-based position): non-numbers, out-of-range or swapped
    coordinates, unknown CRS, sites farther than ``reach_m`` from the region.
    """
    problems: list[Problem] = []
    if not items:
        raise InvalidInput("没有给出候选点", [Problem(
            "候选点列表为空", column="sites", expected="至少一个候选点")])
    if len(items) > MAX_USER_SITES:
        raise InvalidInput("候选点过多", [Problem(
            f"给出了 {len(items)} 个候选点", column="sites", value=len(items),
            expected=f"最多 {MAX_USER_SITES} 个")])
    x0, y0, x1, y1 = town.scope.bounds
    pad = reach_m / 111_320.0 / max(math.cos(math.radians((y0 + y1) / 2)), 0.1)
    region = shapely.union_all(town.scope.leaf_geoms)
    shapely.prepare(region)
    out: list[Candidate] = []
    for row, it in enumerate(items, start=1):
        crs = str(it.get("crs") or default_crs).lower()
        name = str(it.get("name") or f"候选点 {row}")[:100]
        try:
            lng, lat = float(it.get("lng")), float(it.get("lat"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            problems.append(Problem("经度和纬度应为数字", row=row,
                                    column="lng/lat", value=f"{it.get('lng')},{it.get('lat')}",
                                    expected="十进制度数"))
            continue
        if not (math.isfinite(lng) and math.isfinite(lat)):
            problems.append(Problem("坐标应为有限数字", row=row, column="lng/lat",
                                    value=f"{lng},{lat}", expected="十进制度数"))
            continue
        if crs not in QUERY_CRS:
            problems.append(Problem(f"未知的坐标系 {crs!r}", row=row, column="crs", value=crs,
                                    expected=", ".join(QUERY_CRS)))
            continue
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            hint = "（经纬度是否写反了？）" if -90 <= lng <= 90 and \
                -180 <= lat <= 180 else ""
            problems.append(Problem(f"坐标超出范围{hint}", row=row,
                                    column="lng/lat", value=f"{lng},{lat}",
                                    expected="经度 -180..180，纬度 -90..90"))
            continue
        wl, wt = to_wgs84(lng, lat, crs)
        wl, wt = float(wl), float(wt)
        near = (x0 - pad <= wl <= x1 + pad) and (y0 - pad <= wt <= y1 + pad)
        if not near or shapely.distance(region, shapely.Point(wl, wt)) * 111_320.0 > \
                reach_m * 1.5:
            swapped = bool(looks_swapped(lng, lat))
            problems.append(Problem(
                f"候选点不在 {town.region.code} {town.region.name} 范围内"
                + ("（经纬度是否写反了？）" if swapped else ""),
                row=row, column="lng/lat", value=f"{lng},{lat}",
                expected=f"区划范围 {reach_m:g} 米以内"
                         f"（经度 {x0:.4f}..{x1:.4f}，纬度 {y0:.4f}..{y1:.4f}）"))
            continue
        out.append(Candidate(len(out), "user", name, wl, wt, name))
    if problems:
        raise InvalidInput(f"{len(problems)} 个候选点有误，未进行计算",
                           problems)
    return out


# ====================================================================== instance
def build_instance(an: Analysis, candidates: list[Candidate], networks: Networks, *,
                   circle_params: CircleParams = CircleParams(),
                   wish_share: np.ndarray | None = None, wish_weight: float = 0.0) -> Instance:
    """Compute every candidate's circle (one batch) and the covering matrix over
    the buildings not yet covered (population > 0, or holding unmet wishes when
    ``wish_weight`` > 0: ``wish_share`` is each building's share of them,
    :func:`geo.coverage.demand.wish_shares`)."""
    t0 = time.perf_counter()
    budget = an.params.budget()
    t = an.town
    lng = np.array([c.lng for c in candidates])
    lat = np.array([c.lat for c in candidates])
    circles = circles_at(networks, lng, lat, budget, params=circle_params) if candidates else []
    t1 = time.perf_counter()
    weighted = wish_share is not None and wish_weight > 0
    demand = (t.b_pop + np.rint(wish_weight * wish_share).astype(np.int64)) if weighted \
        else t.b_pop
    unc = np.flatnonzero(~an.covered & (demand > 0))
    polys = [c.polygon for c in circles]
    hits = circle_hits(t, polys, an.params.rule, subset=unc)
    if an.params.rule.building == "within":
        hits = [h[shapely.covered_by(t.b_geom[h], p)] if len(h) else h
                for h, p in zip(hits, polys, strict=True)]
    rows = np.concatenate(hits) if hits else np.zeros(0, np.int64)
    cols = np.concatenate([np.full(len(h), j) for j, h in enumerate(hits)]) if hits \
        else np.zeros(0, np.int64)
    pos = np.full(len(t.b_id), -1, dtype=np.int64)
    reached = np.unique(rows)
    pos[reached] = np.arange(len(reached))
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (pos[rows], cols)),
                      shape=(len(reached), len(candidates)))
    m.sum_duplicates()
    m.sort_indices()
    # merge buildings reached by exactly the same candidates
    keys: dict[bytes, int] = {}
    group = np.empty(len(reached), dtype=np.int64)
    for r in range(len(reached)):
        k = m.indices[m.indptr[r]:m.indptr[r + 1]].tobytes()
        group[r] = keys.setdefault(k, len(keys))
    weights = np.bincount(group, weights=demand[reached], minlength=len(keys)).astype(np.int64)
    population = wishes = None
    if weighted:
        population = np.bincount(group, weights=t.b_pop[reached],
                                 minlength=len(keys)).astype(np.int64)
        wishes = np.bincount(group, weights=wish_share[reached], minlength=len(keys))
    first = np.full(len(keys), -1, dtype=np.int64)
    first[group[::-1]] = np.arange(len(reached))[::-1]
    cover = m[first] if len(keys) else sp.csr_matrix((0, len(candidates)), dtype=np.int8)
    group_of = np.full(len(t.b_id), -1, dtype=np.int64)
    group_of[reached] = group
    t2 = time.perf_counter()
    return Instance(candidates=candidates, circles=circles, weights=weights,
                    population=population, wishes=wishes,
                    cover=sp.csr_matrix(cover), group_of=group_of, buildings=unc, stats={
                        "circles_s": round(t1 - t0, 3), "matrix_s": round(t2 - t1, 3),
                        "uncovered_buildings": int(len(unc)),
                        "reachable_buildings": int(len(reached)),
                        "demand_groups": int(len(keys)), "nonzeros": int(m.nnz),
                        "straight_line_circles": sum(c.method.value == "straight_line"
                                                     for c in circles)})


# ====================================================================== reports
def _circle_geojson(polygon: Any) -> dict[str, Any]:
    g = shapely.set_precision(polygon, 1e-6)
    return shapely.geometry.mapping(g) if not g.is_empty else \
        {"type": "MultiPolygon", "coordinates": []}


def _sites(an: Analysis, inst: Instance, sol: Solution, base: int, total: int,
           geometry: bool) -> list[dict[str, Any]]:
    p = an.params
    out = []
    cum = base
    cols = inst.cover.tocsc()
    people = inst.people()
    done = np.zeros(inst.cover.shape[0], dtype=bool)
    for rank, (j, gain) in enumerate(order_by_marginal(inst.weights, inst.cover, sol.chosen),
                                     start=1):
        cand = inst.candidates[j]
        groups = cols.indices[cols.indptr[j]:cols.indptr[j + 1]]
        new = groups[~done[groups]]
        done[new] = True
        pop_gain = int(people[new].sum())
        cum += pop_gain
        circle = inst.circles[j]
        row = {
            "rank": rank, "candidate": j, "source": cand.source, "name": cand.name,
            "ref": cand.ref, "lng": round(cand.lng, 6), "lat": round(cand.lat, 6),
            "method": circle.method.value,
            "snap_distance_m": round(circle.snap.off_network_m, 1) if circle.snap else None,
            "population_new": pop_gain,
            "population_reachable": int(people[groups].sum()),
            "population_covered_after": cum,
            "population_pct_after": float(percent(cum, total, rounding=p.rounding,
                                                  decimals=p.decimals) or 0),
        }
        if inst.wishes is not None:
            row["demand_new"] = gain
            row["wishes_new"] = round(float(inst.wishes[new].sum()), 1)
        if geometry:
            row["circle"] = _circle_geojson(circle.polygon)
        out.append(row)
    return out


def site(conn: Connection, region: str | None, k: int, params: CoverageParams = CoverageParams(),
         *, networks: Networks, source: str = "all", sites: Sequence[dict[str, Any]] | None = None,
         method: str = "both", circle_params: CircleParams = CircleParams(),
         max_candidates: int = 2500, time_limit_s: float = 60.0, geometry: bool = False,
         an: Analysis | None = None, wish_weight: float = 0.0) -> dict[str, Any]:
    """Choose ``k`` new station sites that newly cover the most people.

    Parameters
    ----------
    conn
        Connection (read only).
    region
        Division code (``None``: the only town).
    k
        Number of new sites, 1–50.
    params
        Circles (minutes, profile, point kinds) and the coverage rule.
    networks
        Walking networks (:class:`geo.circles.Networks`) for the candidates' circles.
    source
        ``compounds``, ``nodes`` or ``all``; ignored when ``sites`` is given.
    sites
        Candidate sites supplied by the planner (see :func:`user_candidates`).
    method
        ``exact``, ``greedy`` or ``both``.
    circle_params
        Walk-off, snapping and grid parameters of the circles (metres).
    max_candidates
        Most candidates kept from ``source`` (thinned beyond).
    time_limit_s
        Exact solver time limit, seconds.
    geometry
        Include each chosen site's circle (GeoJSON, EPSG:4326).
    wish_weight
        Demand feeds the choice (off at 0, the default): each unmet wish
        (posted, published or claimed) counts as this many more people in
        its compound's buildings (by population share; else its grid cell's,
        else its village's), so sites near unmet needs win ties and more. The
        answer then also says ``demand_new`` and ``wishes_new``; the
        population figures stay people.

    Returns
    -------
    dict
        ``before`` (covered population now), ``candidates`` (counts and how
        they were chosen), per method the ``sites`` in the order they add
        people with the covered population after each, the objective and
        solver status; ``comparison`` of exact and greedy.

    Raises
    ------
    InvalidInput
        Bad ``k`` (or larger than the number of candidates), bad method or
        source, invalid candidate coordinates.
    """
    t0 = time.perf_counter()
    if method not in ("exact", "greedy", "both"):
        raise InvalidInput("未知的求解方法", [Problem(
            f"未知的求解方法 {method!r}", column="method", value=method,
            expected="exact, greedy, both")])
    if not isinstance(k, int) or isinstance(k, bool) or not (1 <= k <= MAX_K):
        raise InvalidInput("选址数量不正确", [Problem(
            "k 应为 1 到 50 的整数", column="k", value=k,
            expected=f"1..{MAX_K}")])
    if an is None:
        an = analyse(conn, region, params)
    params = an.params
    budget = params.budget()
    reach_m = budget.metres + circle_params.walk_off_m
    if not (isinstance(wish_weight, int | float) and 0 <= wish_weight <= 10_000):
        raise InvalidInput("心愿权重不正确", [Problem(
            "心愿权重应为 0 到 10000 之间的数", column="wish_weight", value=wish_weight,
            expected="0（不计心愿）到 10000")])
    share = None
    if wish_weight > 0:
        from geo.coverage.demand import wish_shares

        share = wish_shares(conn, an.town)
    if sites is not None:
        candidates = user_candidates(sites, an.town, reach_m=reach_m)
        stats = {"source": "user", "generated": len(candidates), "reaching": None,
                 "kept": len(candidates), "thinning_m": 0.0, "reach_m": round(reach_m, 1)}
        n_available = len(candidates)
    else:
        # with wishes weighted, candidates are kept by the same demand they are chosen by
        demand = None if share is None else \
            an.town.b_pop + np.rint(wish_weight * share).astype(np.int64)
        candidates, stats = candidate_sites(conn, an, source, reach_m=reach_m,
                                            max_candidates=max_candidates, demand=demand)
        n_available = stats["generated"]
    if k > n_available:
        raise InvalidInput(f"k = {k} 超过了候选点数量（{n_available} 个）", [
            Problem("选址数量不能多于候选点数量", column="k", value=k,
                    expected=f"最多 {n_available}")])
    t1 = time.perf_counter()
    inst = build_instance(an, candidates, networks, circle_params=circle_params,
                          wish_share=share, wish_weight=wish_weight)
    t2 = time.perf_counter()
    t = an.town
    total = int(t.b_pop.sum())
    base = int((t.b_pop * an.covered).sum())
    out: dict[str, Any] = {
        "region": {"code": t.region.code, "name": t.region.name, "level": t.region.level},
        "parameters": {**params.describe(), "k": k, "method": method,
                       "objective": "population newly inside a service circle"
                       if share is None else f"population + {wish_weight:g} per unmet wish "
                                             "newly inside a service circle",
                       "max_candidates": max_candidates,
                       **({"wish_weight": wish_weight} if share is not None else {})},
        "rule": params.rule.describe(),
        "before": {"population": total, "population_covered": base,
                   "population_pct": float(percent(base, total, rounding=params.rounding,
                                                   decimals=params.decimals) or 0),
                   "circles": len(an.circles)},
        "candidates": {**stats, "useful": int((inst.cover.getnnz(axis=0) > 0).sum())
                       if inst.cover.shape[0] else 0,
                       "reachable_population": int(inst.people().sum()),
                       "candidate_circles": len(inst.circles),
                       "straight_line_circles": inst.stats["straight_line_circles"]},
        "instance": {k2: v for k2, v in inst.stats.items() if k2 != "straight_line_circles"},
    }
    sols: dict[str, Solution] = {}
    if method in ("greedy", "both"):
        sols["greedy"] = solve_greedy(inst.weights, inst.cover, k)
    if method in ("exact", "both"):
        sols["exact"] = solve_exact(inst.weights, inst.cover, k, time_limit_s=time_limit_s)
    for name, sol in sols.items():
        chosen = _sites(an, inst, sol, base, total, geometry)
        new = coverage_of(inst.people(), inst.cover, sol.chosen)
        out[name] = {"solver": sol.solver, "status": sol.status, "optimal": sol.optimal,
                     "gap": sol.gap, "seconds": round(sol.seconds, 3),
                     "population_new": new,
                     "population_covered_after": base + new,
                     "population_pct_after": float(percent(base + new, total,
                                                           rounding=params.rounding,
                                                           decimals=params.decimals) or 0),
                     "sites_found": len(chosen), "sites": chosen}
        if share is not None:
            hit = np.asarray(inst.cover[:, sol.chosen].sum(axis=1)).ravel() > 0 \
                if sol.chosen else np.zeros(inst.cover.shape[0], dtype=bool)
            out[name]["demand_new"] = sol.objective
            out[name]["wishes_new"] = round(float(inst.wishes[hit].sum()), 1)
        if len(chosen) < k:
            out[name]["note"] = (f"只有 {len(chosen)} 个候选点能新增覆盖人口："
                                 "其余候选点都覆盖不到尚未覆盖的居民")
    if "exact" in sols and "greedy" in sols:
        e, g = sols["exact"].objective, sols["greedy"].objective
        out["comparison"] = {"exact": e, "greedy": g, "difference": e - g,
                             "greedy_share_of_exact": float(
                                 percent(g, e, decimals=2) or 100) if e else 100.0}
    out["timing"] = {"prepare_s": round(t1 - t0, 3), "instance_s": round(t2 - t1, 3),
                     "total_s": round(time.perf_counter() - t0, 3)}
    return out


def what_if(conn: Connection, region: str | None, lng: float, lat: float,
            params: CoverageParams = CoverageParams(), *, networks: Networks,
            crs: str = "wgs84", name: str = "拟建站点",
            circle_params: CircleParams = CircleParams(), geometry: bool = True,
            an: Analysis | None = None) -> dict[str, Any]:
    """Coverage with one proposed station added — computed, never stored.

    Returns
    -------
    dict
        ``site`` (WGS-84 location, circle method), ``before`` and ``after``
        totals, ``delta`` (buildings, households, population, compounds), and
        the village and grid rows that change, each with before/after/delta.
    """
    if an is None:
        an = analyse(conn, region, params)
    params = an.params
    budget = params.budget()
    cand = user_candidates([{"lng": lng, "lat": lat, "crs": crs, "name": name}], an.town,
                           reach_m=budget.metres + circle_params.walk_off_m)[0]
    circle = circles_at(networks, [cand.lng], [cand.lat], budget, params=circle_params)[0]
    after = an.with_extra([circle.polygon], [name])
    r0 = reach_coverage(an, by_point=False).as_dict()
    r1 = reach_coverage(after, by_point=False).as_dict()
    fields = ("buildings_covered", "households_covered", "population_covered",
              "compounds_covered")

    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return {f: round(b[f] - a[f], 2) if isinstance(b[f], float) else b[f] - a[f]
                for f in fields}

    def changed(rows0: list[dict], rows1: list[dict]) -> list[dict[str, Any]]:
        out = []
        for a, b in zip(rows0, rows1, strict=True):
            d = delta(a, b)
            if any(d.values()):
                out.append({"code": a["code"], "name": a["name"], "level": a["level"],
                            "kind": a.get("kind"),
                            "before": {f: a[f] for f in (*fields, "population_pct")},
                            "after": {f: b[f] for f in (*fields, "population_pct")},
                            "delta": d})
        return out

    site_row = {"name": name, "lng": round(cand.lng, 7), "lat": round(cand.lat, 7),
                "input": {"lng": lng, "lat": lat, "crs": crs}, "method": circle.method.value,
                "budget_m": round(circle.budget_m, 1),
                "snap_distance_m": round(circle.snap.off_network_m, 1) if circle.snap else None}
    out = {
        "region": r0["region"], "parameters": r0["parameters"], "rule": r0["rule"],
        "site": site_row, "stored": False,
        "before": r0["totals"], "after": r1["totals"], "delta": delta(r0["totals"], r1["totals"]),
        "by_region": changed(r0["by_region"], r1["by_region"]),
        "by_grid": changed(r0["by_grid"], r1["by_grid"]),
    }
    if geometry:
        out["circle"] = _circle_geojson(circle.polygon)
    return out
