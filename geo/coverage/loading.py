"""Regions and what is loaded for a coverage run: the requested region and its
leaf regions (villages), the town's buildings, compounds and grid cells held as
NumPy arrays, and the stored service circles.

Coordinates
    Rows are read in EPSG:4326 (WGS-84 lon/lat, degrees); the metric helpers
    project to the UTM zone of the town (:func:`geo.crs.metric_crs_for`),
    metres.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo import vocab
from geo.circles import profile_key
from geo.coverage.arithmetic import CoverageParams
from geo.coverage.results import Area, CircleSummary, PopulationSourceUsed
from geo.crs import metric_crs_for
from geo.errors import Conflict, InvalidInput, NotFound, Problem
from geo.profiles import WalkBudget
from geo.store.versions import dataset_versions

__all__ = [
    "GRID_KIND_ZH",
    "LEVEL_ZH",
    "Area",
    "CircleSet",
    "RegionScope",
    "Town",
    "building_codes",
    "load_circles",
    "load_town",
    "population_source",
    "resolve_region",
]

#: Chinese labels of the grid kinds and of the levels of the areas reported
#: (regions and grid cells), for tables
GRID_KIND_ZH: dict[str, str] = dict(vocab.GRID_KIND_ZH)
LEVEL_ZH: dict[str, str] = {**vocab.LEVEL_ZH, "grid": "网格"}


# ====================================================================== regions
@dataclass
class RegionScope:
    """A requested region and the leaf regions (villages) buildings are assigned to."""

    region: Area
    parent_code: str | None
    leaves: list[Area]
    leaf_geoms: np.ndarray  # shapely geometries, EPSG:4326
    bounds: tuple[float, float, float, float]  # lon/lat envelope of the leaves
    codes: frozenset[str] = frozenset()  # the region and everything below it


_TREE_SQL = """
WITH RECURSIVE tree AS (
    SELECT code, name, level, parent_code, geom FROM regions WHERE code = :code
    UNION ALL
    SELECT r.code, r.name, r.level, r.parent_code, r.geom
    FROM regions r JOIN tree t ON r.parent_code = t.code
)
SELECT t.code, t.name, t.level, t.parent_code,
       CASE WHEN t.geom IS NULL THEN NULL ELSE ST_AsBinary(t.geom) END AS wkb,
       NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_code = t.code) AS leaf
FROM tree t ORDER BY t.code
"""


def _towns(conn: Connection) -> list[Any]:
    return conn.execute(text(
        "SELECT r.code, r.name FROM regions r WHERE r.level = 'town' ORDER BY r.code")).all()


def resolve_region(conn: Connection, code: str | None) -> RegionScope:
    """The region ``code`` and its leaf regions with boundaries.

    Parameters
    ----------
    conn
        Connection.
    code
        Division code (town, village, or a county above them). ``None``: the
        only town in the database (an error when there are several).

    Raises
    ------
    NotFound
        Unknown code.
    InvalidInput
        No code with several towns, or a region without any boundary.
    """
    if code is None:
        towns = _towns(conn)
        if len(towns) != 1:
            listing = ", ".join(f"{t.code} {t.name}" for t in towns) or "尚未加载"
            raise InvalidInput(f"需要指定区划代码（已有镇街：{listing}）", [Problem(
                "数据库中有多个镇街或没有镇街，请指定一个", column="region",
                expected=listing)])
        code = towns[0].code
    rows = conn.execute(text(_TREE_SQL), {"code": code}).all()
    if not rows:
        raise NotFound(f"未找到编码为 {code!r} 的区划（见 GET /api/v1/regions 或 "
                       "`servicemap load-sample`）")
    top = next(r for r in rows if r.code == code)
    leaves = [r for r in rows if r.leaf and r.wkb is not None]
    if not leaves and top.wkb is not None:
        leaves = [top]
    if not leaves:
        raise InvalidInput(f"区划 {code} {top.name} 没有边界数据", [Problem(
            "覆盖统计按村（社区）边界把建筑归入各村，这里没有边界数据",
            column="region", value=code, expected="有村（社区）边界的区划")])
    geoms = shapely.from_wkb([bytes(r.wkb) for r in leaves])
    b = shapely.total_bounds(geoms)
    return RegionScope(region=Area(top.code, top.name, top.level), parent_code=top.parent_code,
                       leaves=[Area(r.code, r.name, r.level) for r in leaves],
                       leaf_geoms=geoms, bounds=tuple(float(v) for v in b),
                       codes=frozenset(r.code for r in rows))


def _index_xy(geoms: Sequence[Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the first geometry holding each point (boundary included), -1 for none."""
    out = np.full(len(x), -1, dtype=np.int64)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        x0, y0, x1, y1 = g.bounds
        cand = np.flatnonzero((out < 0) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        if len(cand):
            shapely.prepare(g)
            out[cand[shapely.intersects_xy(g, x[cand], y[cand])]] = i
    return out


# ====================================================================== town data
@dataclass
class Town:
    """A region's residents held in memory (WGS-84 lon/lat).

    Buildings are assigned to leaf regions (villages): a building in a compound
    belongs to the compound's region, any other by its centroid. Grid cells are
    assigned by centroid (buildings) and point on surface (compounds), per kind.
    """

    scope: RegionScope
    # buildings (n)
    b_id: np.ndarray
    b_xy: np.ndarray  # (n, 2) footprint centroids
    b_pop: np.ndarray
    b_hh: np.ndarray
    b_compound: np.ndarray  # index into compounds, -1
    b_leaf: np.ndarray
    b_geom: np.ndarray | None
    b_source: np.ndarray  # buildings.population_source (census, imported, sample; None)
    # compounds (m)
    c_code: np.ndarray
    c_name: np.ndarray
    c_pop: np.ndarray  # the compounds.population column
    c_xy: np.ndarray  # point on surface
    c_leaf: np.ndarray
    c_geom: np.ndarray | None
    # grid cells (g)
    g_code: np.ndarray
    g_name: np.ndarray
    g_kind: np.ndarray
    g_region: np.ndarray
    g_workers: np.ndarray
    g_has_branch: np.ndarray
    g_geom: np.ndarray
    b_grid: dict[str, np.ndarray]
    c_grid: dict[str, np.ndarray]
    _order: np.ndarray | None = field(default=None, repr=False)

    @property
    def region(self) -> Area:
        return self.scope.region

    @property
    def leaves(self) -> list[Area]:
        return self.scope.leaves

    @property
    def x_order(self) -> np.ndarray:
        """Building indices sorted by longitude (for bounding-box cuts)."""
        if self._order is None:
            self._order = np.argsort(self.b_xy[:, 0], kind="stable")
        return self._order

    def population_source(self) -> PopulationSourceUsed:
        """Where the population of the town's buildings came from
        (:func:`population_source`)."""
        return population_source(self.b_source, self.b_pop)

    def compound_building_pop(self) -> np.ndarray:
        """Population of each compound summed over its buildings."""
        inside = self.b_compound >= 0
        return np.bincount(self.b_compound[inside], weights=self.b_pop[inside],
                           minlength=len(self.c_code)).astype(np.int64)


#: the order population sources are listed in
_SOURCE_ORDER = ("census", "imported", "sample", "unknown")


def population_source(sources: Sequence[str | None], population: Sequence[int]
                      ) -> PopulationSourceUsed:
    """Where the people of some buildings came from.

    Parameters
    ----------
    sources
        Each building's ``population_source`` (``None``: not recorded, counted
        as ``unknown``).
    population
        Each building's population (people).

    Returns
    -------
    PopulationSourceUsed
        People per source (sources with people only); the one source, or
        ``mixed``, or ``unknown`` when nobody lives in the buildings.
    """
    people: dict[str, int] = {}
    for src, pop in zip(sources, population, strict=True):
        if pop:
            key = src or "unknown"
            people[key] = people.get(key, 0) + int(pop)
    ordered = {k: people[k] for k in sorted(
        people, key=lambda k: (_SOURCE_ORDER.index(k) if k in _SOURCE_ORDER else 9, k))}
    source = next(iter(ordered)) if len(ordered) == 1 else ("mixed" if ordered else "unknown")
    if source == "mixed":
        zh = "、".join(f"{vocab.POPULATION_SOURCE_ZH.get(k, k)} {v:,} 人"
                      for k, v in ordered.items())
        source_zh = f"{vocab.POPULATION_SOURCE_ZH['mixed']}（{zh}）"
    else:
        source_zh = vocab.POPULATION_SOURCE_ZH.get(source, source)
    return PopulationSourceUsed(source=source, source_zh=source_zh,
                                label_zh=f"人口来源：{source_zh}", people=ordered)


def _array(values: Iterable[Any] | None, dtype=object) -> np.ndarray:
    return np.array(list(values or []), dtype=dtype)


def load_town(conn: Connection, region: str | None, *, footprints: bool = False,
              buildings: bool = True) -> Town:
    """Load a region's buildings, compounds and grid cells (not deleted).

    Parameters
    ----------
    conn
        Connection.
    region
        Division code (see :func:`resolve_region`).
    footprints
        Also load building and compound polygons (needed by the ``intersects``
        and ``within`` rules and by gap areas).
    buildings
        Load buildings at all (branch coverage needs only compounds).

    Returns
    -------
    Town
        Arrays in EPSG:4326; building centroids are computed by PostGIS
        (``ST_Centroid``) and fetched as one aggregated WKB multipoint.
    """
    scope = resolve_region(conn, region)
    x0, y0, x1, y1 = scope.bounds
    env = {"x0": x0, "y0": y0, "x1": x1, "y1": y1}
    leaf_codes = [a.code for a in scope.leaves]
    leaf_of = {c: i for i, c in enumerate(leaf_codes)}

    def leaf_for(codes: Sequence[str | None], xy: np.ndarray) -> np.ndarray:
        """Leaf of each row: its stored region when that is a leaf; by location
        when it has none or one above the leaves; -1 when stored outside the scope."""
        out = np.array([leaf_of.get(c, -1) if c is not None else -1 for c in codes],
                       dtype=np.int64)
        by_xy = np.flatnonzero([(c is None or (c in scope.codes and c not in leaf_of))
                                for c in codes])
        if len(by_xy):
            out[by_xy] = _index_xy(scope.leaf_geoms, xy[by_xy, 0], xy[by_xy, 1])
        return out

    # compounds
    crow = conn.execute(text(f"""
        SELECT c.code, c.name, c.region_code, c.population, ST_X(p) AS x, ST_Y(p) AS y
               {', ST_AsBinary(c.geom) AS wkb' if footprints else ''}
        FROM compounds c CROSS JOIN LATERAL ST_PointOnSurface(c.geom) p
        WHERE c.deleted_at IS NULL AND c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
        ORDER BY c.code"""), env).all()
    c_xy_all = np.array([(r.x, r.y) for r in crow], dtype=np.float64).reshape(-1, 2)
    c_leaf_all = leaf_for([r.region_code for r in crow], c_xy_all)
    keep_c = np.flatnonzero(c_leaf_all >= 0)
    crow = [crow[i] for i in keep_c]
    c_xy, c_leaf = c_xy_all[keep_c], c_leaf_all[keep_c]
    c_code = _array(r.code for r in crow)
    c_index = {c: i for i, c in enumerate(c_code.tolist())}
    c_geom = None
    if footprints:
        c_geom = shapely.from_wkb([bytes(r.wkb) for r in crow]) if crow \
            else np.array([], dtype=object)

    # buildings: one aggregated row (fast to transfer), ordered by id
    b_id = np.array([], dtype=np.int64)
    b_xy = np.zeros((0, 2))
    b_pop = b_hh = b_comp = b_leaf = np.array([], dtype=np.int64)
    b_source = np.array([], dtype=object)
    b_geom = np.array([], dtype=object) if footprints else None
    if buildings:
        row = conn.execute(text(f"""
            SELECT ST_AsBinary(ST_Collect(ST_Centroid(b.geom) ORDER BY b.id)) AS pts,
                   array_agg(b.id ORDER BY b.id) AS ids,
                   array_agg(b.population ORDER BY b.id) AS pop,
                   array_agg(b.households ORDER BY b.id) AS hh,
                   array_agg(b.compound_code ORDER BY b.id) AS comp,
                   array_agg(b.population_source ORDER BY b.id) AS src
                   {', array_agg(ST_AsBinary(b.geom) ORDER BY b.id) AS wkb' if footprints else ''}
            FROM buildings b
            WHERE b.deleted_at IS NULL
              AND b.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"""), env).one()
        if row.ids:
            xy = shapely.get_coordinates(shapely.from_wkb(bytes(row.pts)))
            comp = np.array([c_index.get(c, -1) if c is not None else -1 for c in row.comp],
                            dtype=np.int64)
            leaf = np.full(len(comp), -1, dtype=np.int64)
            inside = comp >= 0
            leaf[inside] = c_leaf[comp[inside]]
            loose = np.flatnonzero(~inside)
            if len(loose):
                leaf[loose] = _index_xy(scope.leaf_geoms, xy[loose, 0], xy[loose, 1])
            keep = np.flatnonzero(leaf >= 0)
            b_id = np.array(row.ids, dtype=np.int64)[keep]
            b_xy = xy[keep]
            b_pop = np.array(row.pop, dtype=np.int64)[keep]
            b_hh = np.array(row.hh, dtype=np.int64)[keep]
            b_comp, b_leaf = comp[keep], leaf[keep]
            b_source = np.array(row.src, dtype=object)[keep]
            if footprints:
                b_geom = shapely.from_wkb([bytes(row.wkb[i]) for i in keep])

    # grid cells of the scope (by stored region, or by location when none is stored)
    grows = conn.execute(text("""
        SELECT g.code, g.name, g.kind, g.region_code, g.workers, g.has_branch,
               ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y,
               ST_AsBinary(g.geom) AS wkb
        FROM grid_cells g
        WHERE g.deleted_at IS NULL AND g.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
          AND (g.region_code = ANY(:codes) OR g.region_code IS NULL)
        ORDER BY g.kind, g.code"""), {**env, "codes": sorted(scope.codes)}).all()
    if grows:
        g_xy = np.array([(r.x, r.y) for r in grows], dtype=np.float64)
        g_ok = np.array([r.region_code is not None for r in grows]) | \
            (_index_xy(scope.leaf_geoms, g_xy[:, 0], g_xy[:, 1]) >= 0)
        grows = [r for r, ok in zip(grows, g_ok, strict=True) if ok]
    g_geom = shapely.from_wkb([bytes(r.wkb) for r in grows]) if grows \
        else np.array([], dtype=object)
    g_kind = _array(r.kind for r in grows)
    b_grid: dict[str, np.ndarray] = {}
    c_grid: dict[str, np.ndarray] = {}
    for kind in sorted(set(g_kind.tolist())):
        idx = np.flatnonzero(g_kind == kind)
        sub = g_geom[idx]
        bi = _index_xy(sub, b_xy[:, 0], b_xy[:, 1])
        ci = _index_xy(sub, c_xy[:, 0], c_xy[:, 1])
        b_grid[kind] = np.where(bi >= 0, idx[np.maximum(bi, 0)], -1)
        c_grid[kind] = np.where(ci >= 0, idx[np.maximum(ci, 0)], -1)

    return Town(
        scope=scope, b_id=b_id, b_xy=b_xy, b_pop=b_pop, b_hh=b_hh, b_compound=b_comp,
        b_leaf=b_leaf, b_geom=b_geom, b_source=b_source,
        c_code=c_code, c_name=_array(r.name for r in crow),
        c_pop=np.array([r.population for r in crow], dtype=np.int64),
        c_xy=c_xy, c_leaf=c_leaf, c_geom=c_geom,
        g_code=_array(r.code for r in grows), g_name=_array(r.name for r in grows),
        g_kind=g_kind, g_region=_array(r.region_code for r in grows),
        g_workers=np.array([r.workers for r in grows], dtype=np.int64),
        g_has_branch=np.array([bool(r.has_branch) for r in grows], dtype=bool),
        g_geom=g_geom, b_grid=b_grid, c_grid=c_grid)


def building_codes(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """Codes of buildings by database id."""
    if not len(ids):
        return {}
    rows = conn.execute(text("SELECT id, code FROM buildings WHERE id = ANY(:ids)"),
                        {"ids": [int(i) for i in ids]}).all()
    return {r.id: r.code for r in rows}


# ====================================================================== circles
@dataclass
class CircleSet:
    """The stored service circles used for one coverage run (EPSG:4326)."""

    point_code: np.ndarray
    point_name: np.ndarray
    point_kind: np.ndarray
    geoms: np.ndarray
    input_version: np.ndarray
    stale: list[str]
    missing: list[str]
    computed_at: datetime | None
    minutes: float
    profile: str

    def __len__(self) -> int:
        return len(self.point_code)

    @property
    def version(self) -> str:
        """A fingerprint of the circles used (their points and input versions)."""
        h = hashlib.sha1()
        for c, v in sorted(zip(self.point_code.tolist(), self.input_version.tolist(),
                               strict=True)):
            h.update(f"{c}={v};".encode())
        return h.hexdigest()[:16]

    def summary(self) -> CircleSummary:
        """How many circles, which are stale or missing (first 50 of each), the
        newest computation time and the fingerprint (:attr:`version`)."""
        return CircleSummary(
            count=len(self), stale=len(self.stale), stale_points=tuple(self.stale[:50]),
            missing=len(self.missing), missing_points=tuple(self.missing[:50]),
            computed_at=self.computed_at.isoformat() if self.computed_at else None,
            version=self.version)

    def describe(self) -> dict[str, Any]:
        """:meth:`summary` as a dict."""
        return self.summary().as_dict()


def _metres_to_degrees(metres: float, lat: float) -> float:
    return metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.1))


def _how_to_compute(budget: WalkBudget) -> str:
    prof = profile_key(budget)
    if prof.startswith("custom:"):
        opt = f"--speed {budget.speed_kmh:g}"
    else:
        opt = f"--profile {prof}"
    return (f"请运行 `servicemap isochrones --minutes {budget.minutes:g} {opt}`"
            "（或 `servicemap coverage --compute ...`）")


def _stale(input_version: str, point_version: int, datasets: dict[str, str]) -> bool:
    """Whether a stored circle's recorded inputs differ from the current ones
    (the point moved, or its network dataset was rewritten)."""
    parts = input_version.split(":")
    if not parts or parts[0] != f"p{point_version}":
        return True
    if len(parts) > 1 and parts[1].startswith("n") and parts[1] != "n-" and "@" in parts[1]:
        name, _, ver = parts[1][1:].rpartition("@")
        return datasets.get(name) != ver
    return False


def load_circles(conn: Connection, scope: RegionScope, params: CoverageParams) -> CircleSet:
    """Stored circles of the selected point kinds that may reach into ``scope``.

    Raises
    ------
    InvalidInput
        When no circle of these minutes and profile exists for any point near
        the region; the message says how to compute them.
    """
    budget = params.budget()
    prof = profile_key(budget)
    x0, y0, x1, y1 = scope.bounds
    pad = _metres_to_degrees(budget.metres + 500.0, (y0 + y1) / 2)
    args = {"m": budget.minutes, "pr": prof, "kinds": list(params.kinds) or None,
            "x0": x0 - pad, "y0": y0 - pad, "x1": x1 + pad, "y1": y1 + pad}
    rows = conn.execute(text("""
        SELECT p.code, p.name, p.kind, p.version, c.input_version, c.computed_at,
               p.hours, p.hours_text,
               CASE WHEN c.id IS NULL THEN NULL ELSE ST_AsBinary(c.geom) END AS wkb
        FROM service_points p
        LEFT JOIN service_circles c
          ON c.point_code = p.code AND c.minutes = :m AND c.profile = :pr
        WHERE p.deleted_at IS NULL
          AND (CAST(:kinds AS text[]) IS NULL OR p.kind = ANY(CAST(:kinds AS text[])))
          AND (p.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
               OR c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
        ORDER BY p.code"""), args).all()
    if params.at is not None:  # only the positions open then
        from geo.points import HoursMemo

        memo = HoursMemo(params.at)
        rows = [r for r in rows if memo(r.hours, r.hours_text)[0] is True]
    have = [r for r in rows if r.wkb is not None]
    missing = [r.code for r in rows if r.wkb is None]
    if rows and not have:
        # a valid request the stored data cannot answer yet: a conflict (409)
        raise Conflict(
            f"{scope.region.code} {scope.region.name} 附近的 {len(rows)} 个服务阵地尚未计算 "
            f"{budget.minutes:g} 分钟（{prof}）的服务圈；"
            + _how_to_compute(budget))
    datasets = dataset_versions(conn) if have else {}
    stale = [r.code for r in have if _stale(r.input_version, r.version, datasets)]
    geoms = shapely.from_wkb([bytes(r.wkb) for r in have]) if have \
        else np.array([], dtype=object)
    return CircleSet(
        point_code=_array(r.code for r in have), point_name=_array(r.name for r in have),
        point_kind=_array(r.kind for r in have), geoms=geoms,
        input_version=_array(r.input_version for r in have), stale=stale, missing=missing,
        computed_at=max((r.computed_at for r in have), default=None),
        minutes=budget.minutes, profile=prof)


# ====================================================================== metric helpers
def _to_metric(geoms: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                           xy[:, 1])))


def _metric_crs(town: Town) -> pyproj.CRS:
    x0, y0, x1, y1 = town.scope.bounds
    return metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2)

