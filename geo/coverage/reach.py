"""Reach: what the service circles cover.

The hot kernels test building centroids held as NumPy arrays against prepared
circle polygons with ``shapely.intersects_xy`` after a bounding-box cut
(:func:`points_in_polygons`, :func:`circle_hits`, :func:`covered_mask`,
:func:`compound_shares`); :func:`analyse` loads a region and its circles and
applies them, and :func:`reach_coverage` aggregates the run for the region,
each village/community, each grid cell and each point. ``bench/coverage.py``
compares the kernels with a GeoPandas ``sjoin`` and a PostGIS join.

Coordinates are EPSG:4326 (WGS-84 lon/lat, degrees); point-in-polygon tests
run in lon/lat, exactly like PostGIS ``ST_Intersects`` on the stored
geometries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage.arithmetic import (
    CoverageParams,
    CoverageRule,
    _compound_value,
    _float,
    _round_count,
    percent,
)
from geo.coverage.loading import (
    CircleSet,
    Town,
    _array,
    _metres_to_degrees,
    load_circles,
    load_town,
)
from geo.coverage.results import (
    AreaCoverage,
    GridCoverage,
    PointReach,
    ReachCoverage,
    RegionArea,
)
from geo.errors import InvalidInput, Problem

if TYPE_CHECKING:
    from geo.circles import CircleParams, Networks

__all__ = [
    "Analysis",
    "analyse",
    "circle_hits",
    "compound_shares",
    "covered_mask",
    "points_in_polygons",
    "reach_coverage",
]


# ====================================================================== the hot path
def points_in_polygons(polygons: Sequence[Any], x: np.ndarray, y: np.ndarray,
                       order: np.ndarray | None = None) -> list[np.ndarray]:
    """For each polygon, the indices of the points it holds (boundary included).

    Parameters
    ----------
    polygons
        Shapely polygons (any CRS, same as the points).
    x, y
        Point coordinates.
    order
        ``argsort(x)`` when already known.

    Returns
    -------
    list of ndarray
        Point indices per polygon (in longitude order).

    Notes
    -----
    Each polygon is prepared and tested only against the points in its
    bounding box (a binary search on the points sorted by x, then a y cut),
    with the vectorised ``shapely.intersects_xy``.
    """
    if order is None:
        order = np.argsort(x, kind="stable")
    xs = x[order]
    out = []
    for g in polygons:
        if g is None or g.is_empty:
            out.append(np.zeros(0, dtype=np.int64))
            continue
        gx0, gy0, gx1, gy1 = g.bounds
        lo = int(np.searchsorted(xs, gx0, side="left"))
        hi = int(np.searchsorted(xs, gx1, side="right"))
        idx = order[lo:hi]
        idx = idx[(y[idx] >= gy0) & (y[idx] <= gy1)]
        if len(idx):
            shapely.prepare(g)
            idx = idx[shapely.intersects_xy(g, x[idx], y[idx])]
        out.append(idx)
    return out


def _footprint_hits(polygons: Sequence[Any], footprints: np.ndarray, predicate: str
                    ) -> list[np.ndarray]:
    tree = shapely.STRtree(footprints)
    poly_i, fp_i = tree.query(np.asarray(polygons, dtype=object), predicate=predicate)
    out = [np.zeros(0, dtype=np.int64)] * len(polygons)
    if len(poly_i):
        splits = np.flatnonzero(np.diff(poly_i)) + 1
        for chunk_p, chunk_f in zip(np.split(poly_i, splits), np.split(fp_i, splits),
                                    strict=True):
            out[int(chunk_p[0])] = np.sort(chunk_f)
    return out


def circle_hits(town: Town, polygons: Sequence[Any], rule: CoverageRule,
                subset: np.ndarray | None = None) -> list[np.ndarray]:
    """Buildings each polygon reaches under ``rule`` (indices into the town's
    buildings; restricted to ``subset`` when given). For ``within`` a building
    is listed by each polygon it intersects (the union test is in
    :func:`covered_mask`)."""
    idx = np.arange(len(town.b_id)) if subset is None else np.asarray(subset)
    if rule.building == "centroid":
        if subset is None:
            hits = points_in_polygons(polygons, town.b_xy[:, 0], town.b_xy[:, 1], town.x_order)
        else:
            hits = points_in_polygons(polygons, town.b_xy[idx, 0], town.b_xy[idx, 1])
            hits = [idx[h] for h in hits]
        return hits
    if town.b_geom is None:
        raise ValueError("the town was loaded without footprints")
    hits = _footprint_hits(polygons, town.b_geom[idx], "intersects")
    return [idx[h] for h in hits] if subset is not None else hits


def covered_mask(town: Town, polygons: Sequence[Any], rule: CoverageRule = CoverageRule(),
                 hits: list[np.ndarray] | None = None) -> np.ndarray:
    """Boolean mask of the town's buildings covered by any of ``polygons``.

    Parameters
    ----------
    town
        The loaded town (EPSG:4326).
    polygons
        Circle polygons, EPSG:4326.
    rule
        Which part of a building must lie in a circle.
    hits
        The result of :func:`circle_hits` when already computed.
    """
    if hits is None:
        hits = circle_hits(town, polygons, rule)
    mask = np.zeros(len(town.b_id), dtype=bool)
    for h in hits:
        mask[h] = True
    if rule.building == "within" and mask.any():
        # intersecting is necessary; keep the footprints inside the union of the
        # circles they touch
        touching: dict[int, list[int]] = {}
        for ci, h in enumerate(hits):
            for b in h.tolist():
                touching.setdefault(b, []).append(ci)
        polys = np.asarray(polygons, dtype=object)
        for b, cis in touching.items():
            fp = town.b_geom[b]
            inside = shapely.covered_by(fp, polys[cis]).any() if len(cis) == 1 else \
                bool(shapely.covered_by(fp, shapely.union_all(polys[cis])))
            mask[b] = bool(inside)
    return mask


def compound_shares(town: Town, mask: np.ndarray, polygons: Sequence[Any]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Covered and total building population of each compound; a compound with
    no populated building gets 1/1 when its point on surface lies in a circle,
    else 0/1."""
    inside = town.b_compound >= 0
    m = len(town.c_code)
    cov = np.bincount(town.b_compound[inside], weights=(town.b_pop * mask)[inside],
                      minlength=m).astype(np.int64)
    tot = np.bincount(town.b_compound[inside], weights=town.b_pop[inside],
                      minlength=m).astype(np.int64)
    empty = np.flatnonzero(tot == 0)
    if len(empty):
        hits = points_in_polygons(polygons, town.c_xy[empty, 0], town.c_xy[empty, 1])
        hit = np.zeros(len(empty), dtype=bool)
        for h in hits:
            hit[h] = True
        tot[empty] = 1
        cov[empty] = hit.astype(np.int64)
    return cov, tot


# ====================================================================== analysis
@dataclass
class Analysis:
    """One coverage run: the town, the circles and what they cover."""

    town: Town
    circles: CircleSet
    params: CoverageParams
    hits: list[np.ndarray]
    covered: np.ndarray
    c_cov: np.ndarray
    c_tot: np.ndarray
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def with_extra(self, polygons: Sequence[Any], codes: Sequence[str]) -> Analysis:
        """The same run with more circles (a what-if; nothing is stored)."""
        polys = np.concatenate([self.circles.geoms, np.asarray(polygons, dtype=object)])
        extra_hits = circle_hits(self.town, polygons, self.params.rule)
        hits = [*self.hits, *extra_hits]
        circles = replace(self.circles, geoms=polys,
                          point_code=np.concatenate([self.circles.point_code, _array(codes)]),
                          point_name=np.concatenate([self.circles.point_name, _array(codes)]),
                          point_kind=np.concatenate([self.circles.point_kind,
                                                     _array(["proposed"] * len(codes))]),
                          input_version=np.concatenate([self.circles.input_version,
                                                        _array(["what-if"] * len(codes))]))
        covered = covered_mask(self.town, polys, self.params.rule, hits)
        c_cov, c_tot = compound_shares(self.town, covered, polys)
        return Analysis(self.town, circles, self.params, hits, covered, c_cov, c_tot)


def analyse(conn: Connection, region: str | None, params: CoverageParams = CoverageParams(),
            *, compute: bool = False, networks: Networks | None = None,
            circle_params: CircleParams | None = None,
            log: Callable[[str], None] | None = None, town: Town | None = None) -> Analysis:
    """Load a region and its circles and work out what the circles cover.

    Parameters
    ----------
    conn
        Connection (inside the caller's transaction when ``compute``).
    region
        Division code (``None``: the only town).
    params
        Minutes, profile, point kinds, rule, rounding.
    compute
        Compute and store missing or stale circles first
        (:func:`geo.circles.compute_circles`); otherwise missing circles are
        reported and, when none exists at all, :class:`InvalidInput` says how
        to compute them.
    networks, circle_params
        Passed to :func:`geo.circles.compute_circles` when computing.
    log
        Progress messages of the computation.
    town
        An already loaded town (skips reading buildings again).

    Raises
    ------
    NotFound
        Unknown region.
    InvalidInput
        Invalid parameters, no circles, or a region without residential buildings.
    """
    params = params.validated()
    if town is None:
        town = load_town(conn, region, footprints=params.rule.needs_footprints)
    if len(town.b_id) == 0:
        raise InvalidInput(
            f"区划 {town.region.code} {town.region.name} 没有住宅建筑",
            [Problem("覆盖统计按建筑、小区和人口计算，这里没有建筑数据",
                     column="region", value=town.region.code,
                     expected="有建筑数据的区划（servicemap load-sample / import）")])
    if compute:
        from geo.circles import CircleParams, compute_circles

        # the points of the selected kinds whose circles may reach the region
        x0, y0, x1, y1 = town.scope.bounds
        pad = _metres_to_degrees(params.budget().metres + 500.0, (y0 + y1) / 2)
        codes = conn.execute(text("""
            SELECT code FROM service_points
            WHERE deleted_at IS NULL AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
              AND (CAST(:kinds AS text[]) IS NULL OR kind = ANY(CAST(:kinds AS text[])))"""),
            {"x0": x0 - pad, "y0": y0 - pad, "x1": x1 + pad, "y1": y1 + pad,
             "kinds": list(params.kinds) or None}).scalars().all()
        if codes:
            compute_circles(conn, [params.minutes], profile=params.profile,
                            speed_kmh=params.speed_kmh, params=circle_params or CircleParams(),
                            networks=networks, only_stale=True, codes=codes, log=log)
    circles = load_circles(conn, town.scope, params)
    hits = circle_hits(town, circles.geoms, params.rule)
    covered = covered_mask(town, circles.geoms, params.rule, hits)
    c_cov, c_tot = compound_shares(town, covered, circles.geoms)
    return Analysis(town, circles, params, hits, covered, c_cov, c_tot)


def _area_rows(an: Analysis, b_key: np.ndarray, c_key: np.ndarray, areas: list[dict[str, Any]],
               row: type[AreaCoverage] = AreaCoverage) -> list[AreaCoverage]:
    """Rows of coverage figures for areas; ``b_key``/``c_key`` map buildings and
    compounds to an area index (-1: none); ``areas`` give each row's other
    fields (code, name, level and, for grid cells, theirs)."""
    p = an.params
    n = len(areas)
    town = an.town
    cov = an.covered
    ok_b = b_key >= 0
    every = bool(ok_b.all())
    kb = b_key if every else b_key[ok_b]

    def sums(w: np.ndarray) -> np.ndarray:
        return np.bincount(kb, weights=w if every else w[ok_b], minlength=n).astype(np.int64)

    nb = np.bincount(kb, minlength=n)
    nb_cov = np.bincount(kb[cov if every else cov[ok_b]], minlength=n)
    pop = sums(town.b_pop)
    pop_cov = sums(np.where(cov, town.b_pop, 0))
    hh = sums(town.b_hh)
    hh_cov = sums(np.where(cov, town.b_hh, 0))
    ok_c = np.flatnonzero(c_key >= 0)
    kc = c_key[ok_c]
    full = an.c_cov[ok_c] >= an.c_tot[ok_c]
    part = (an.c_cov[ok_c] > 0) & ~full
    c_n = np.bincount(kc, minlength=n).tolist()
    c_full = np.bincount(kc[full], minlength=n).tolist()
    c_part = np.bincount(kc[part], minlength=n).tolist()
    c_val = [Fraction(v) for v in c_full]  # a fully covered compound counts 1 under every rule
    for ci in ok_c[part].tolist():  # exact fractions only where needed
        c_val[int(c_key[ci])] += _compound_value(int(an.c_cov[ci]), int(an.c_tot[ci]),
                                                 p.rule.compound)
    rows = []
    r, d = p.rounding, p.decimals
    for i, a in enumerate(areas):
        rows.append(row(
            **a,
            buildings=int(nb[i]), buildings_covered=int(nb_cov[i]),
            buildings_fraction=f"{int(nb_cov[i])}/{int(nb[i])}",
            buildings_pct=_float(percent(int(nb_cov[i]), int(nb[i]), rounding=r, decimals=d)),
            households=int(hh[i]), households_covered=int(hh_cov[i]),
            population=int(pop[i]), population_covered=int(pop_cov[i]),
            population_uncovered=int(pop[i] - pop_cov[i]),
            population_fraction=f"{int(pop_cov[i])}/{int(pop[i])}",
            population_pct=_float(percent(int(pop_cov[i]), int(pop[i]), rounding=r,
                                          decimals=d)),
            compounds=c_n[i], compounds_covered=_round_count(c_val[i], r, d),
            compounds_full=c_full[i], compounds_partial=c_part[i],
            compounds_uncovered=c_n[i] - c_full[i] - c_part[i],
            compounds_pct=_float(percent(c_val[i], c_n[i], rounding=r, decimals=d)),
        ))
    return rows


def _header(an: Analysis) -> dict[str, Any]:
    """The fields every run states (:class:`geo.coverage.results.ReachCoverage`
    and :class:`~geo.coverage.results.GapReport`)."""
    t = an.town
    return {
        "region": RegionArea(t.region.code, t.region.name, t.region.level, t.scope.parent_code),
        "parameters": an.params.summary(),
        "rule": an.params.rule.summary(),
        "circles": an.circles.summary(),
        "computed_at": an.computed_at.isoformat(),
        "crs": "EPSG:4326",
        "population_source": t.population_source(),
    }


def reach_coverage(an: Analysis, *, by_point: bool = True) -> ReachCoverage:
    """Who the circles reach: buildings, compounds, households and population
    inside the circles, for the whole region, per village/community and per
    grid cell (each grid kind), with exact fractions and rounded percentages.

    Parameters
    ----------
    an
        The run (:func:`analyse`).
    by_point
        Also report what each point's circle reaches.

    Returns
    -------
    ReachCoverage
        ``region``, ``parameters``, ``rule``, ``circles`` (count, stale,
        missing, version), ``totals`` (one row), ``by_region``, ``by_grid`` and
        ``by_point`` (what each point's circle reaches in the region, and how
        many people only it reaches; None unless ``by_point``). Aggregates
        only; ``as_dict()`` gives the JSON.
    """
    t = an.town
    top = {"code": t.region.code, "name": t.region.name, "level": t.region.level}
    totals = _area_rows(an, np.zeros(len(t.b_id), np.int64), np.zeros(len(t.c_code), np.int64),
                        [top])[0]
    leaves = [{"code": a.code, "name": a.name, "level": a.level} for a in t.leaves]
    by_region = _area_rows(an, t.b_leaf, t.c_leaf, leaves) if len(leaves) > 1 or \
        leaves[0]["code"] != top["code"] else []
    by_grid: list[AreaCoverage] = []
    leaf_name = {a.code: a.name for a in t.leaves}
    for kind in sorted(t.b_grid):
        idx = np.flatnonzero(t.g_kind == kind)
        pos = np.full(len(t.g_code), -1, np.int64)
        pos[idx] = np.arange(len(idx))
        bk = np.where(t.b_grid[kind] >= 0, pos[np.maximum(t.b_grid[kind], 0)], -1)
        ck = np.where(t.c_grid[kind] >= 0, pos[np.maximum(t.c_grid[kind], 0)], -1)
        areas = [{"code": str(t.g_code[i]), "name": str(t.g_name[i]), "level": "grid",
                  "kind": kind, "region_code": t.g_region[i],
                  "region_name": leaf_name.get(t.g_region[i]),
                  "has_branch": bool(t.g_has_branch[i])} for i in idx]
        by_grid.extend(_area_rows(an, bk, ck, areas, GridCoverage))
    return ReachCoverage(**_header(an), totals=totals, by_region=tuple(by_region),
                         by_grid=tuple(by_grid),
                         by_point=tuple(_by_point(an)) if by_point else None)


def _by_point(an: Analysis) -> list[PointReach]:
    t = an.town
    counts = np.zeros(len(t.b_id), dtype=np.int64)
    for h in an.hits:
        counts[h] += 1
    rows = []
    for i, h in enumerate(an.hits):
        if an.params.rule.building == "within":
            h = h[an.covered[h]]
        only = h[counts[h] == 1]
        rows.append(PointReach(code=str(an.circles.point_code[i]),
                               name=str(an.circles.point_name[i]),
                               kind=str(an.circles.point_kind[i]), buildings=len(h),
                               population=int(t.b_pop[h].sum()),
                               population_only_here=int(t.b_pop[only].sum())))
    rows.sort(key=lambda r: (-r.population, r.code))
    return rows

