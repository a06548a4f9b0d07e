"""Gaps: who and where the service circles leave out — uncovered people per
area, H3 hexagons of uncovered residents, gap areas (residential land outside
every circle on a metre raster) and, for planners, ranked compounds and
buildings.

Hexagons and gap areas are returned in EPSG:4326 (GeoJSON, lon/lat); the
raster is laid out in metres in the UTM zone of the town.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage.arithmetic import _float, percent
from geo.coverage.loading import _index_xy, _metric_crs, _to_metric, building_codes
from geo.coverage.reach import Analysis, _header, points_in_polygons, reach_coverage
from geo.coverage.results import (
    AreaCoverage,
    AreaGap,
    GapAreas,
    GapBuilding,
    GapCompound,
    GapReport,
    GridCoverage,
    GridGap,
    Hexagons,
    HexCell,
    SuppressedCells,
)

__all__ = ["gap_report", "h3_resolution_for"]


# ====================================================================== gaps
def h3_resolution_for(cell_m: float = 500.0) -> int:
    """The H3 resolution whose average hexagon edge is closest to ``cell_m``
    metres (500 m → resolution 8, edge ≈ 531 m, area ≈ 0.74 km²)."""
    import h3

    edges = [h3.average_hexagon_edge_length(r, unit="m") for r in range(16)]
    return int(np.argmin([abs(math.log(e / cell_m)) for e in edges]))


def _hexagons(an: Analysis, resolution: int, suppress_below: int) -> Hexagons:
    import h3

    t = an.town
    unc = np.flatnonzero(~an.covered & (t.b_pop > 0))
    cells = [h3.latlng_to_cell(float(lat), float(lng), resolution)
             for lng, lat in t.b_xy[unc]]
    agg: dict[str, list[int]] = {}
    for cell, b in zip(cells, unc.tolist(), strict=True):
        a = agg.setdefault(cell, [0, 0])
        a[0] += int(t.b_pop[b])
        a[1] += 1
    rows = []
    suppressed = [0, 0, 0]
    for cell, (pop, nb) in agg.items():
        if nb < suppress_below:
            suppressed[0] += 1
            suppressed[1] += pop
            suppressed[2] += nb
            continue
        lat, lng = h3.cell_to_latlng(cell)
        ring = [[round(p[1], 6), round(p[0], 6)] for p in h3.cell_to_boundary(cell)]
        rows.append(HexCell(h3=cell, lng=round(lng, 6), lat=round(lat, 6),
                            population_uncovered=pop, buildings_uncovered=nb,
                            boundary=[[*ring, ring[0]]]))
    rows.sort(key=lambda r: (-r.population_uncovered, r.h3))
    return Hexagons(
        resolution=resolution,
        edge_m=round(h3.average_hexagon_edge_length(resolution, unit="m"), 1),
        area_km2=round(h3.average_hexagon_area(resolution, unit="km^2"), 4),
        cells=tuple(rows),
        suppressed=SuppressedCells(cells=suppressed[0], population_uncovered=suppressed[1],
                                   buildings_uncovered=suppressed[2],
                                   rule=f"cells with fewer than {suppress_below} uncovered "
                                        "buildings are not listed"))


def _gap_areas(an: Analysis, cell_m: float, limit: int | None) -> GapAreas:
    """Residential land outside every circle, on a ``cell_m`` raster (metres):
    a cell is residential when it holds a residential building's centroid or
    its centre lies in a compound; it is a gap when its centre lies outside
    every circle. Gap cells are merged into polygons."""
    t = an.town
    crs = _metric_crs(t)
    fwd = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    inv = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    bx, by = fwd.transform(t.b_xy[:, 0], t.b_xy[:, 1])
    bk = np.column_stack([np.floor(np.asarray(bx) / cell_m),
                          np.floor(np.asarray(by) / cell_m)]).astype(np.int64)
    keys = [bk[t.b_pop > 0]]
    if t.c_geom is not None and len(t.c_geom):
        cm = _to_metric(t.c_geom, crs)
        for g in cm:
            x0, y0, x1, y1 = g.bounds
            ix = np.arange(math.floor(x0 / cell_m), math.floor(x1 / cell_m) + 1)
            iy = np.arange(math.floor(y0 / cell_m), math.floor(y1 / cell_m) + 1)
            gx, gy = np.meshgrid(ix, iy, indexing="ij")
            cx, cy = (gx.ravel() + 0.5) * cell_m, (gy.ravel() + 0.5) * cell_m
            shapely.prepare(g)
            ok = shapely.intersects_xy(g, cx, cy)
            keys.append(np.column_stack([gx.ravel()[ok], gy.ravel()[ok]]))
    cells = np.unique(np.concatenate(keys), axis=0) if keys else np.zeros((0, 2), np.int64)
    if not len(cells):
        return GapAreas(cell_m=cell_m, count=0, area_m2=0.0, features=())
    cx, cy = (cells[:, 0] + 0.5) * cell_m, (cells[:, 1] + 0.5) * cell_m
    lng, lat = inv.transform(cx, cy)
    lng, lat = np.asarray(lng), np.asarray(lat)
    inside = np.zeros(len(cells), dtype=bool)
    for h in points_in_polygons(an.circles.geoms, lng, lat):
        inside[h] = True
    gap = cells[~inside]
    if not len(gap):
        return GapAreas(cell_m=cell_m, count=0, area_m2=0.0, features=())
    boxes = shapely.box(gap[:, 0] * cell_m, gap[:, 1] * cell_m, (gap[:, 0] + 1) * cell_m,
                        (gap[:, 1] + 1) * cell_m)
    parts = shapely.get_parts(shapely.coverage_union_all(boxes))
    # uncovered people per part
    unc = np.flatnonzero(~an.covered & (t.b_pop > 0))
    pop = np.zeros(len(parts), dtype=np.int64)
    nbld = np.zeros(len(parts), dtype=np.int64)
    for i, h in enumerate(points_in_polygons(parts, np.asarray(bx)[unc], np.asarray(by)[unc])):
        pop[i] = int(t.b_pop[unc[h]].sum())
        nbld[i] = len(h)
    area = shapely.area(parts)
    rep = shapely.get_coordinates(shapely.point_on_surface(parts))
    rl, rt = inv.transform(rep[:, 0], rep[:, 1])
    leaf = _index_xy(t.scope.leaf_geoms, np.asarray(rl), np.asarray(rt))
    order = np.lexsort((-area, -pop))
    wgs = shapely.transform(parts[order[:limit]], lambda xy: np.column_stack(
        inv.transform(xy[:, 0], xy[:, 1])))
    wgs = shapely.set_precision(wgs, 1e-7)
    features = []
    for g, i in zip(wgs, order[:limit].tolist(), strict=True):
        li = int(leaf[i])
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(g),
                         "properties": {
                             "area_m2": round(float(area[i]), 1),
                             "population_uncovered": int(pop[i]),
                             "buildings_uncovered": int(nbld[i]),
                             "region_code": t.leaves[li].code if li >= 0 else None,
                             "region_name": t.leaves[li].name if li >= 0 else None}})
    by_leaf = np.bincount(np.maximum(leaf, 0), weights=area * (leaf >= 0),
                          minlength=len(t.leaves))
    return GapAreas(
        cell_m=cell_m, count=len(parts), area_m2=round(float(area.sum()), 1),
        by_region_m2={a.code: round(float(by_leaf[i]), 1) for i, a in enumerate(t.leaves)},
        rule=f"residential land on a {cell_m:g} m raster (cells holding a residential "
             "building centroid or centred in a compound) whose cell centre lies "
             "outside every service circle",
        type="FeatureCollection", features=tuple(features))


def gap_report(an: Analysis, *, limit: int | None = 20, detail: bool = False,
               hex_resolution: int | None = None, hex_cell_m: float = 500.0,
               areas: bool = True, area_cell_m: float = 30.0, suppress_below: int = 3,
               conn: Connection | None = None, wish_weight: float = 0.0) -> GapReport:
    """Who and where is left out.

    Parameters
    ----------
    an
        A coverage run (:func:`geo.coverage.reach.analyse`); gap areas need
        compound footprints (loaded automatically when ``conn`` is given).
    limit
        Most compounds, buildings and gap areas listed (None: every one).
    detail
        Include the ranked compound and building lists (planners; buildings
        carry household counts) and every hexagon.
    hex_resolution, hex_cell_m
        H3 resolution (default: :func:`h3_resolution_for` ``hex_cell_m``
        metres).
    areas, area_cell_m
        Compute gap areas on a raster of ``area_cell_m`` metres.
    suppress_below
        Without ``detail``, hexagons with fewer uncovered buildings are not
        listed (their totals are).
    conn
        Connection for compound footprints and building codes.
    wish_weight
        Demand feeds the ranking (off at 0, the default; needs ``conn``): the
        compounds are ranked by uncovered population plus this many people
        per unmet wish in their uncovered buildings
        (:func:`geo.coverage.demand.wish_shares`), and list ``wishes_unmet``.

    Returns
    -------
    GapReport
        ``totals``, ``by_region`` and ``by_grid`` (uncovered population,
        buildings, compounds, sorted by uncovered population), ``hexagons``,
        ``areas`` (GeoJSON, EPSG:4326; None unless ``areas``) and, with
        ``detail``, ``compounds`` and ``buildings`` ranked by uncovered
        population (else None).
    """
    t = an.town
    cov = reach_coverage(an, by_point=False)

    def slim(rows: tuple[AreaCoverage, ...]) -> tuple[AreaGap, ...]:
        out = [_gap_row(r) for r in rows]
        return tuple(sorted(out, key=lambda r: (-r.population_uncovered, r.code)))

    res = hex_resolution if hex_resolution is not None else h3_resolution_for(hex_cell_m)
    hexagons = _hexagons(an, res, 0 if detail else suppress_below)
    gap_areas = compounds = buildings = None
    if areas:
        if t.c_geom is None and conn is not None and len(t.c_code):
            rows = conn.execute(text(
                "SELECT code, ST_AsBinary(geom) AS wkb FROM compounds WHERE code = ANY(:c)"),
                {"c": t.c_code.tolist()}).all()
            wkb = {r.code: bytes(r.wkb) for r in rows}
            t.c_geom = shapely.from_wkb([wkb[c] for c in t.c_code.tolist()])
        gap_areas = _gap_areas(an, area_cell_m, limit)
    if detail:
        leaf = t.leaves
        inside = t.b_compound >= 0
        c_pop = t.compound_building_pop()
        c_cov = np.bincount(t.b_compound[inside], weights=(t.b_pop * an.covered)[inside],
                            minlength=len(t.c_code)).astype(np.int64)
        unc_pop = c_pop - c_cov
        wishes = None
        rank_by = unc_pop.astype(float)
        if wish_weight > 0 and conn is not None:
            from geo.coverage.demand import wish_shares

            share = wish_shares(conn, t) * ~an.covered
            wishes = np.bincount(t.b_compound[inside], weights=share[inside],
                                 minlength=len(t.c_code))
            rank_by = rank_by + wish_weight * wishes
        order = np.lexsort((t.c_code, -rank_by))
        order = [i for i in order.tolist() if rank_by[i] > 0][:limit]
        compounds = tuple(GapCompound(
            rank=k + 1, code=str(t.c_code[i]), name=str(t.c_name[i]),
            region_code=leaf[int(t.c_leaf[i])].code, region_name=leaf[int(t.c_leaf[i])].name,
            population=int(c_pop[i]), population_uncovered=int(unc_pop[i]),
            covered_pct=_float(percent(int(c_cov[i]), int(c_pop[i]),
                                       rounding=an.params.rounding,
                                       decimals=an.params.decimals)),
            wishes_unmet=round(float(wishes[i]), 1) if wishes is not None else None,
        ) for k, i in enumerate(order))
        unc = np.flatnonzero(~an.covered & (t.b_pop > 0))
        top = unc[np.lexsort((t.b_id[unc], -t.b_pop[unc]))][:limit]
        codes = building_codes(conn, t.b_id[top].tolist()) if conn is not None else {}
        buildings = tuple(GapBuilding(
            rank=k + 1, code=codes.get(int(t.b_id[b])), id=int(t.b_id[b]),
            compound_code=str(t.c_code[t.b_compound[b]]) if t.b_compound[b] >= 0 else None,
            region_code=leaf[int(t.b_leaf[b])].code, region_name=leaf[int(t.b_leaf[b])].name,
            population=int(t.b_pop[b]), households=int(t.b_hh[b]),
            lng=round(float(t.b_xy[b, 0]), 6), lat=round(float(t.b_xy[b, 1]), 6),
        ) for k, b in enumerate(top.tolist()))
    return GapReport(**_header(an), totals=slim((cov.totals,))[0], by_region=slim(cov.by_region),
                     by_grid=slim(cov.by_grid), hexagons=hexagons, areas=gap_areas,
                     compounds=compounds, buildings=buildings)


def _gap_row(r: AreaCoverage) -> AreaGap:
    """The uncovered side of an area's coverage row."""
    figures = {"population": r.population, "population_covered": r.population_covered,
               "population_uncovered": r.population_uncovered,
               "population_pct": r.population_pct, "buildings": r.buildings,
               "buildings_covered": r.buildings_covered, "compounds": r.compounds,
               "compounds_uncovered": r.compounds_uncovered,
               "compounds_partial": r.compounds_partial,
               "buildings_uncovered": r.buildings - r.buildings_covered}
    if isinstance(r, GridCoverage):
        return GridGap(code=r.code, name=r.name, level=r.level, kind=r.kind,
                       region_code=r.region_code, region_name=r.region_name, **figures)
    return AreaGap(code=r.code, name=r.name, level=r.level, **figures)
