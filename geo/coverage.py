"""Coverage analytics for planners: who the service circles reach, branch
coverage, the dual-grid view (双网融合), gaps, and snapshots.

Everything is computed on demand from the current rows (buildings, compounds,
grid cells, party branches) and the current stored service circles: there is
no cache of "current coverage", so a moved point or a rebuilt network shows
up as soon as its circles are recomputed. Snapshots (:func:`save_snapshot`)
are the historical record and are never invalidated.

Coordinates
    Rows are read in EPSG:4326 (WGS-84 lon/lat, degrees). Point-in-polygon
    tests run in lon/lat, exactly like PostGIS ``ST_Intersects`` on the stored
    geometries; areas and distances are computed in the UTM zone of the town
    (:func:`geo.crs.metric_crs_for`), in metres.

Rules (explicit in every result)
    ``building``: ``centroid`` (default: a building is covered when its
    footprint centroid lies in a circle, boundary included), ``intersects``
    (any part of the footprint touches a circle) or ``within`` (the whole
    footprint lies inside the union of the circles).
    ``compound``: ``population_share`` (default: a compound counts as covered by
    the share of its population living in covered buildings, so 3 compounds
    half covered count 1.5), ``any`` (counts 1 when any of its buildings is
    covered), ``majority`` (1 when at least half its population is covered) or
    ``all`` (1 when all of it is). A compound without buildings counts as
    covered when its point on surface lies in a circle.
    Population and households are always counted by building.

Percentages
    Exact: numerators and denominators are integers (or exact fractions for
    compound shares), and the percentage is rounded from the exact value with
    the stated rule (:func:`percent`) — ``half_up`` to two decimals by default
    (32/36 → 88.89 %), or ``truncate`` (32/36 → 88.88 %, the published figure).

The hot path (:func:`covered_mask`) tests building centroids held as NumPy
arrays against prepared circle polygons with ``shapely.intersects_xy`` after
a bounding-box cut; ``bench/coverage.py`` compares it with a GeoPandas
``sjoin`` and a PostGIS join.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.circles import budget_for, profile_key
from geo.crs import metric_crs_for
from geo.domain import POINT_KIND_ZH, GridKind, PointKind
from geo.errors import InvalidInput, NotFound, Problem
from geo.profiles import WalkBudget
from geo.store.versions import dataset_versions

__all__ = [
    "BUILDING_RULES",
    "COMPOUND_RULES",
    "ROUNDINGS",
    "Analysis",
    "CircleSet",
    "CoverageParams",
    "CoverageRule",
    "Town",
    "analyse",
    "branch_coverage",
    "compare_snapshots",
    "covered_mask",
    "export_csv",
    "export_xlsx",
    "gap_report",
    "get_snapshot",
    "grid_view",
    "h3_resolution_for",
    "list_snapshots",
    "load_circles",
    "load_town",
    "percent",
    "reach_coverage",
    "resolve_region",
    "save_snapshot",
    "share",
    "table_rows",
]

BUILDING_RULES: tuple[str, ...] = ("centroid", "intersects", "within")
COMPOUND_RULES: tuple[str, ...] = ("population_share", "any", "majority", "all")
ROUNDINGS: tuple[str, ...] = ("half_up", "truncate", "half_even")

_BUILDING_RULE_TEXT = {
    "centroid": ("a building is covered when its footprint centroid lies in a service circle "
                 "(boundary included)", "建筑质心落在任一服务圈内（含边界）即视为覆盖"),
    "intersects": ("a building is covered when any part of its footprint touches a service "
                   "circle", "建筑轮廓与任一服务圈相交即视为覆盖"),
    "within": ("a building is covered when its whole footprint lies inside the union of the "
               "service circles", "建筑轮廓完全落在服务圈并集内才视为覆盖"),
}
_COMPOUND_RULE_TEXT = {
    "population_share": ("a compound counts as covered by the share of its population living "
                         "in covered buildings", "小区按已覆盖建筑人口占比计入覆盖数"),
    "any": ("a compound counts as covered when any of its buildings is covered",
            "小区任一建筑被覆盖即计为覆盖"),
    "majority": ("a compound counts as covered when at least half of its population lives "
                 "in covered buildings", "小区半数及以上人口被覆盖即计为覆盖"),
    "all": ("a compound counts as covered only when all its buildings are covered",
            "小区全部建筑被覆盖才计为覆盖"),
}
_ROUNDING_TEXT = {
    "half_up": "四舍五入", "truncate": "截断（不进位）", "half_even": "银行家舍入",
}
GRID_KIND_ZH = {GridKind.GOVERNANCE.value: "治理网格", GridKind.PARTY.value: "党建网格"}
LEVEL_ZH = {"county": "区县", "town": "镇街", "village": "村居", "grid": "网格"}


# ====================================================================== rules and rounding
@dataclass(frozen=True)
class CoverageRule:
    """When a building and a compound count as covered.

    Attributes
    ----------
    building
        One of :data:`BUILDING_RULES`.
    compound
        One of :data:`COMPOUND_RULES`.
    """

    building: str = "centroid"
    compound: str = "population_share"

    def validate(self) -> CoverageRule:
        problems = []
        if self.building not in BUILDING_RULES:
            problems.append(Problem(f"unknown building rule {self.building!r}", column="rule",
                                    value=self.building, expected=", ".join(BUILDING_RULES)))
        if self.compound not in COMPOUND_RULES:
            problems.append(Problem(f"unknown compound rule {self.compound!r}",
                                    column="compound_rule", value=self.compound,
                                    expected=", ".join(COMPOUND_RULES)))
        if problems:
            raise InvalidInput("invalid coverage rule", problems)
        return self

    @property
    def needs_footprints(self) -> bool:
        return self.building != "centroid"

    def describe(self) -> dict[str, str]:
        """The rule as data and as sentences (English and Chinese)."""
        b_en, b_zh = _BUILDING_RULE_TEXT[self.building]
        c_en, c_zh = _COMPOUND_RULE_TEXT[self.compound]
        return {"building": self.building, "compound": self.compound,
                "text": f"{b_en}; {c_en}; population and households are counted by building",
                "text_zh": f"{b_zh}；{c_zh}；人口与户数按建筑统计"}


def _check_rounding(rounding: str, decimals: int) -> None:
    problems = []
    if rounding not in ROUNDINGS:
        problems.append(Problem(f"unknown rounding {rounding!r}", column="rounding",
                                value=rounding, expected=", ".join(ROUNDINGS)))
    if not (isinstance(decimals, int) and 0 <= decimals <= 6):
        problems.append(Problem("decimals must be an integer from 0 to 6", column="decimals",
                                value=decimals, expected="0..6"))
    if problems:
        raise InvalidInput("invalid rounding", problems)


def percent(numerator: int | Fraction, denominator: int, *, rounding: str = "half_up",
            decimals: int = 2) -> Decimal | None:
    """``100 × numerator / denominator`` rounded exactly.

    Parameters
    ----------
    numerator, denominator
        Non-negative counts (``numerator`` may be an exact :class:`Fraction`).
    rounding
        ``half_up`` (88.885 → 88.89), ``truncate`` (towards zero: 88.888… →
        88.88) or ``half_even``.
    decimals
        Digits after the decimal point, 0–6.

    Returns
    -------
    Decimal or None
        The percentage with exactly ``decimals`` digits; ``None`` when the
        denominator is 0. Computed with fractions, never binary floats.

    Examples
    --------
    >>> str(percent(32, 36)), str(percent(32, 36, rounding="truncate"))
    ('88.89', '88.88')
    """
    if rounding not in ROUNDINGS or not (isinstance(decimals, int) and 0 <= decimals <= 6):
        _check_rounding(rounding, decimals)
    if denominator == 0:
        return None
    # integer arithmetic on num/den: 100·10^d·num/den = q + r/den exactly
    f = numerator if isinstance(numerator, Fraction) else Fraction(int(numerator))
    num = abs(f.numerator) * 100 * 10**decimals
    den = f.denominator * abs(int(denominator))
    sign = -1 if (f < 0) != (denominator < 0) else 1
    q, r = divmod(num, den)
    if rounding == "half_up":
        q += 2 * r >= den
    elif rounding == "half_even":
        q += 2 * r > den or (2 * r == den and q % 2 == 1)
    return Decimal(sign * q).scaleb(-decimals)


def share(numerator: int | Fraction, denominator: int, *, rounding: str = "half_up",
          decimals: int = 2) -> dict[str, Any]:
    """A share as an exact fraction and a rounded percentage.

    Returns
    -------
    dict
        ``numerator``, ``denominator``, ``fraction`` (``"32/36"``, not reduced),
        ``percent`` (float with ``decimals`` digits, or None), ``percent_text``
        (``"88.89%"``), ``rounding`` and ``decimals``.
    """
    p = percent(numerator, denominator, rounding=rounding, decimals=decimals)
    num = _num(numerator)
    return {"numerator": num, "denominator": int(denominator),
            "fraction": f"{num}/{int(denominator)}", "percent": _float(p),
            "percent_text": "—" if p is None else f"{p}%", "rounding": rounding,
            "decimals": decimals}


def _num(x: int | Fraction) -> int | float:
    if isinstance(x, Fraction) and x.denominator != 1:
        return float(round(x, 4))
    return int(x)


def _float(p: Decimal | None) -> float | None:
    return None if p is None else float(p)


def _round_count(x: Fraction, rounding: str, decimals: int = 2) -> float:
    """An exact fractional count rounded like the percentages (e.g. 12.37 compounds)."""
    p = percent(x, 100, rounding=rounding, decimals=decimals)
    return float(p) if p is not None else 0.0


@dataclass(frozen=True)
class CoverageParams:
    """What to measure: circles of which points, how long a walk, which rule.

    Attributes
    ----------
    minutes
        Walking time of the circles, minutes.
    profile
        Walking profile (``standard``, ``adult``, ``elderly``) of the circles.
    speed_kmh
        Explicit walking speed (custom profile), km/h.
    kinds
        Point kinds whose circles count (:class:`geo.domain.PointKind` values);
        empty: every kind.
    rule
        The :class:`CoverageRule`.
    rounding, decimals
        How percentages are rounded (:func:`percent`).
    """

    minutes: float = 10
    profile: str = "elderly"
    speed_kmh: float | None = None
    kinds: tuple[str, ...] = ()
    rule: CoverageRule = field(default_factory=CoverageRule)
    rounding: str = "half_up"
    decimals: int = 2

    def validated(self) -> CoverageParams:
        self.budget()  # minutes/profile/speed
        self.rule.validate()
        _check_rounding(self.rounding, self.decimals)
        valid = {k.value for k in PointKind}
        bad = [k for k in self.kinds if k not in valid]
        if bad:
            raise InvalidInput("unknown point kind", [Problem(
                f"unknown point kind {k!r}", column="kinds", value=k,
                expected=", ".join(sorted(valid))) for k in bad])
        return replace(self, kinds=tuple(sorted(set(self.kinds))))

    def budget(self) -> WalkBudget:
        return budget_for(self.profile, self.minutes, self.speed_kmh)

    def describe(self) -> dict[str, Any]:
        b = self.budget()
        return {"minutes": b.minutes, "profile": profile_key(b), "speed_kmh": b.speed_kmh,
                "budget_m": round(b.metres, 1),
                "kinds": list(self.kinds) or sorted(k.value for k in PointKind),
                "kinds_zh": [POINT_KIND_ZH[PointKind(k)] for k in
                             (self.kinds or sorted(k.value for k in PointKind))],
                "rule": self.rule.describe(), "rounding": self.rounding,
                "rounding_zh": _ROUNDING_TEXT[self.rounding], "decimals": self.decimals}


# ====================================================================== regions
@dataclass(frozen=True)
class Area:
    """A region (or grid cell) results are reported for."""

    code: str
    name: str
    level: str


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
            listing = ", ".join(f"{t.code} {t.name}" for t in towns) or "none loaded"
            raise InvalidInput(f"a region code is required (towns: {listing})", [Problem(
                "the database holds several towns (or none): name one", column="region",
                expected=listing)])
        code = towns[0].code
    rows = conn.execute(text(_TREE_SQL), {"code": code}).all()
    if not rows:
        raise NotFound(f"no region with code {code!r} (see GET /api/v1/regions or "
                       "`servicemap load-sample`)")
    top = next(r for r in rows if r.code == code)
    leaves = [r for r in rows if r.leaf and r.wkb is not None]
    if not leaves and top.wkb is not None:
        leaves = [top]
    if not leaves:
        raise InvalidInput(f"region {code} {top.name} has no boundary", [Problem(
            "coverage assigns buildings to villages by their boundaries; none is stored",
            column="region", value=code, expected="a region with village boundaries")])
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

    def compound_building_pop(self) -> np.ndarray:
        """Population of each compound summed over its buildings."""
        inside = self.b_compound >= 0
        return np.bincount(self.b_compound[inside], weights=self.b_pop[inside],
                           minlength=len(self.c_code)).astype(np.int64)


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
    b_geom = np.array([], dtype=object) if footprints else None
    if buildings:
        row = conn.execute(text(f"""
            SELECT ST_AsBinary(ST_Collect(ST_Centroid(b.geom) ORDER BY b.id)) AS pts,
                   array_agg(b.id ORDER BY b.id) AS ids,
                   array_agg(b.population ORDER BY b.id) AS pop,
                   array_agg(b.households ORDER BY b.id) AS hh,
                   array_agg(b.compound_code ORDER BY b.id) AS comp
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
        b_leaf=b_leaf, b_geom=b_geom,
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

    def describe(self) -> dict[str, Any]:
        return {"count": len(self), "stale": len(self.stale), "stale_points": self.stale[:50],
                "missing": len(self.missing), "missing_points": self.missing[:50],
                "computed_at": self.computed_at.isoformat() if self.computed_at else None,
                "version": self.version}


def _metres_to_degrees(metres: float, lat: float) -> float:
    return metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.1))


def _how_to_compute(budget: WalkBudget) -> str:
    prof = profile_key(budget)
    if prof.startswith("custom:"):
        opt = f"--speed {budget.speed_kmh:g}"
    else:
        opt = f"--profile {prof}"
    return (f"run `servicemap isochrones --minutes {budget.minutes:g} {opt}` "
            "(or `servicemap coverage --compute ...`)")


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
               CASE WHEN c.id IS NULL THEN NULL ELSE ST_AsBinary(c.geom) END AS wkb
        FROM service_points p
        LEFT JOIN service_circles c
          ON c.point_code = p.code AND c.minutes = :m AND c.profile = :pr
        WHERE p.deleted_at IS NULL
          AND (CAST(:kinds AS text[]) IS NULL OR p.kind = ANY(CAST(:kinds AS text[])))
          AND (p.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
               OR c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
        ORDER BY p.code"""), args).all()
    have = [r for r in rows if r.wkb is not None]
    missing = [r.code for r in rows if r.wkb is None]
    if rows and not have:
        raise InvalidInput(
            f"no service circles of {budget.minutes:g} min ({prof}) are computed for the "
            f"{len(rows)} service points near {scope.region.code} {scope.region.name}; "
            + _how_to_compute(budget),
            [Problem("service circles must be computed before coverage is measured",
                     column="minutes", value=budget.minutes, expected=_how_to_compute(budget))])
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


def _compound_value(cov: int, tot: int, rule: str) -> Fraction:
    if rule == "population_share":
        return Fraction(int(cov), int(tot))
    if rule == "any":
        return Fraction(int(cov > 0))
    if rule == "majority":
        return Fraction(int(2 * cov >= tot and cov > 0))
    return Fraction(int(cov == tot))


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
            *, compute: bool = False, networks=None, circle_params=None,
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
            f"region {town.region.code} {town.region.name} has no residential buildings",
            [Problem("coverage counts buildings, compounds and people; none are stored here",
                     column="region", value=town.region.code,
                     expected="a region with buildings (servicemap load-sample / import)")])
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


def _area_rows(an: Analysis, b_key: np.ndarray, c_key: np.ndarray, areas: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """Rows of coverage figures for areas; ``b_key``/``c_key`` map buildings and
    compounds to an area index (-1: none)."""
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
        rows.append({
            **a,
            "buildings": int(nb[i]), "buildings_covered": int(nb_cov[i]),
            "buildings_fraction": f"{int(nb_cov[i])}/{int(nb[i])}",
            "buildings_pct": _float(percent(int(nb_cov[i]), int(nb[i]), rounding=r,
                                            decimals=d)),
            "households": int(hh[i]), "households_covered": int(hh_cov[i]),
            "population": int(pop[i]), "population_covered": int(pop_cov[i]),
            "population_uncovered": int(pop[i] - pop_cov[i]),
            "population_fraction": f"{int(pop_cov[i])}/{int(pop[i])}",
            "population_pct": _float(percent(int(pop_cov[i]), int(pop[i]), rounding=r,
                                             decimals=d)),
            "compounds": c_n[i], "compounds_covered": _round_count(c_val[i], r, d),
            "compounds_full": c_full[i], "compounds_partial": c_part[i],
            "compounds_uncovered": c_n[i] - c_full[i] - c_part[i],
            "compounds_pct": _float(percent(c_val[i], c_n[i], rounding=r, decimals=d)),
        })
    return rows


def _header(an: Analysis) -> dict[str, Any]:
    t = an.town
    return {
        "region": {"code": t.region.code, "name": t.region.name, "level": t.region.level,
                   "parent_code": t.scope.parent_code},
        "parameters": an.params.describe(),
        "rule": an.params.rule.describe(),
        "circles": an.circles.describe(),
        "computed_at": an.computed_at.isoformat(),
        "crs": "EPSG:4326",
    }


def reach_coverage(an: Analysis, *, by_point: bool = True) -> dict[str, Any]:
    """Who the circles reach: buildings, compounds, households and population
    inside the circles, for the whole region, per village/community and per
    grid cell (each grid kind), with exact fractions and rounded percentages.

    Returns
    -------
    dict
        ``region``, ``parameters``, ``rule``, ``circles`` (count, stale,
        missing, version), ``totals`` (one row), ``by_region``, ``by_grid`` and
        ``by_point`` (what each point's circle reaches in the region, and how
        many people only it reaches). Aggregates only.
    """
    t = an.town
    top = {"code": t.region.code, "name": t.region.name, "level": t.region.level}
    totals = _area_rows(an, np.zeros(len(t.b_id), np.int64), np.zeros(len(t.c_code), np.int64),
                        [top])[0]
    leaves = [{"code": a.code, "name": a.name, "level": a.level} for a in t.leaves]
    by_region = _area_rows(an, t.b_leaf, t.c_leaf, leaves) if len(leaves) > 1 or \
        leaves[0]["code"] != top["code"] else []
    by_grid: list[dict[str, Any]] = []
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
        by_grid.extend(_area_rows(an, bk, ck, areas))
    out = {**_header(an), "totals": totals, "by_region": by_region, "by_grid": by_grid}
    if by_point:
        out["by_point"] = _by_point(an)
    return out


def _by_point(an: Analysis) -> list[dict[str, Any]]:
    t = an.town
    counts = np.zeros(len(t.b_id), dtype=np.int64)
    for h in an.hits:
        counts[h] += 1
    rows = []
    for i, h in enumerate(an.hits):
        if an.params.rule.building == "within":
            h = h[an.covered[h]]
        only = h[counts[h] == 1]
        rows.append({"code": str(an.circles.point_code[i]), "name": str(an.circles.point_name[i]),
                     "kind": str(an.circles.point_kind[i]),
                     "buildings": len(h), "population": int(t.b_pop[h].sum()),
                     "population_only_here": int(t.b_pop[only].sum())})
    rows.sort(key=lambda r: (-r["population"], r["code"]))
    return rows


# ====================================================================== branches
def _branch_compounds(conn: Connection) -> tuple[set[str], dict[str, set[str]]]:
    rows = conn.execute(text("""
        SELECT bc.compound_code AS compound, b.code AS branch
        FROM branch_compounds bc JOIN party_branches b ON b.code = bc.branch_code
        WHERE b.deleted_at IS NULL
        UNION
        SELECT seat_compound_code, code FROM party_branches
        WHERE deleted_at IS NULL AND seat_compound_code IS NOT NULL""")).all()
    by_compound: dict[str, set[str]] = {}
    for r in rows:
        by_compound.setdefault(r.compound, set()).add(r.branch)
    return set(by_compound), by_compound


def _seats(conn: Connection) -> dict[str, list[str]]:
    rows = conn.execute(text(
        "SELECT seat_compound_code AS c, code FROM party_branches "
        "WHERE deleted_at IS NULL AND seat_compound_code IS NOT NULL ORDER BY code")).all()
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r.c, []).append(r.code)
    return out


BRANCH_RULE = {
    "text": "a compound has a party branch when a party branch (not deleted) lists it among "
            "its compounds or is seated in it; coverage = compounds with a branch / all "
            "compounds",
    "text_zh": "小区被某个党支部（未撤销）覆盖或为其驻地即视为“有党支部”；"
               "覆盖率 = 有党支部的小区数 / 小区总数",
}


def branch_coverage(conn: Connection, region: str | None, *, rounding: str = "half_up",
                    decimals: int = 2, detail: bool = False, town: Town | None = None
                    ) -> dict[str, Any]:
    """Compounds with a party branch / all compounds, overall and per community.

    Parameters
    ----------
    conn
        Connection.
    region
        Division code (``None``: the only town).
    rounding, decimals
        Percentage rounding (:func:`percent`): ``half_up`` gives 88.89 % for
        32/36, ``truncate`` the published 88.88 %.
    detail
        Include the compounds without a branch (names, population): for
        planners.

    Returns
    -------
    dict
        ``totals`` and ``by_region`` rows with ``compounds``, ``with_branch``,
        ``without_branch``, ``branches``, ``fraction`` (``"32/36"``),
        ``percent`` and ``percent_text``; ``percent_variants`` gives the
        figure under every rounding rule.
    """
    _check_rounding(rounding, decimals)
    if town is None:
        town = load_town(conn, region, buildings=False)
    if len(town.c_code) == 0:
        raise InvalidInput(
            f"region {town.region.code} {town.region.name} has no residential compounds",
            [Problem("branch coverage divides by the number of compounds; none are stored",
                     column="region", value=town.region.code,
                     expected="a region with compounds")])
    with_branch, branches_of = _branch_compounds(conn)
    has = np.array([c in with_branch for c in town.c_code.tolist()], dtype=bool)

    def row(area: Area, sel: np.ndarray) -> dict[str, Any]:
        n, k = int(sel.sum()), int((has & sel).sum())
        br = set().union(*[branches_of.get(c, set()) for c in town.c_code[sel & has].tolist()])
        s = share(k, n, rounding=rounding, decimals=decimals)
        return {"code": area.code, "name": area.name, "level": area.level, "compounds": n,
                "with_branch": k, "without_branch": n - k, "branches": len(br),
                "fraction": s["fraction"], "percent": s["percent"],
                "percent_text": s["percent_text"]}

    all_sel = np.ones(len(town.c_code), dtype=bool)
    totals = row(town.region, all_sel)
    by_region = [row(a, town.c_leaf == i) for i, a in enumerate(town.leaves)] \
        if town.leaves[0].code != town.region.code else []
    n, k = totals["compounds"], totals["with_branch"]
    out: dict[str, Any] = {
        "region": {"code": town.region.code, "name": town.region.name,
                   "level": town.region.level},
        "rule": BRANCH_RULE,
        "rounding": {"mode": rounding, "mode_zh": _ROUNDING_TEXT[rounding],
                     "decimals": decimals},
        "totals": totals,
        "percent_variants": {m: f"{percent(k, n, rounding=m, decimals=decimals)}%"
                             for m in ROUNDINGS},
        "by_region": by_region,
        "computed_at": datetime.now(UTC).isoformat(),
    }
    if detail:
        leaf_name = [a.name for a in town.leaves]
        missing = np.flatnonzero(~has)
        out["compounds_without_branch"] = sorted(
            ({"code": str(town.c_code[i]), "name": str(town.c_name[i]),
              "region_code": town.leaves[int(town.c_leaf[i])].code,
              "region_name": leaf_name[int(town.c_leaf[i])],
              "population": int(town.c_pop[i])} for i in missing),
            key=lambda r: (-r["population"], r["code"]))
    return out


# ====================================================================== dual grid (双网融合)
def grid_view(conn: Connection, region: str | None, *, rounding: str = "half_up",
              decimals: int = 2, detail: bool = False, min_overlap: float = 0.01,
              town: Town | None = None) -> dict[str, Any]:
    """The dual-grid view: governance grid cells (治理网格) and party-building
    grid cells (党建网格) side by side.

    For each kind: how many cells hold a party branch (the stored
    ``has_branch``; for longteng 4 of 12), the compounds and people in cells
    without one; per cell: compounds, compounds with a branch, branch seats
    found inside, population. ``overlay`` lists, for each governance cell, the
    party cells overlapping it (share of area, computed in metres in the UTM
    zone), when both kinds exist.

    Parameters
    ----------
    detail
        Include the compounds that sit in cells without a branch (planners).
    min_overlap
        Smallest share of a cell's area reported in ``overlay``.
    """
    _check_rounding(rounding, decimals)
    if town is None:
        town = load_town(conn, region)
    if len(town.g_code) == 0:
        raise InvalidInput(
            f"region {town.region.code} {town.region.name} has no grid cells",
            [Problem("the dual-grid view needs governance or party-building grid cells",
                     column="region", value=town.region.code,
                     expected="a region with grid cells (网格)")])
    with_branch, _ = _branch_compounds(conn)
    seats = _seats(conn)
    has = np.array([c in with_branch for c in town.c_code.tolist()], dtype=bool)
    leaf_name = {a.code: a.name for a in town.leaves}
    cells = []
    kinds = []
    detail_rows = []
    for kind in sorted(set(town.g_kind.tolist())):
        idx = np.flatnonzero(town.g_kind == kind)
        bg, cg = town.b_grid[kind], town.c_grid[kind]
        for i in idx:
            in_c = cg == i
            cells.append({
                "code": str(town.g_code[i]), "name": str(town.g_name[i]), "kind": kind,
                "kind_zh": GRID_KIND_ZH.get(kind, kind), "region_code": town.g_region[i],
                "region_name": leaf_name.get(town.g_region[i]),
                "workers": int(town.g_workers[i]), "has_branch": bool(town.g_has_branch[i]),
                "branch_seats": sum(len(seats.get(c, ())) for c in town.c_code[in_c].tolist()),
                "compounds": int(in_c.sum()), "compounds_with_branch": int((in_c & has).sum()),
                "population": int(town.b_pop[bg == i].sum()) if len(bg) else 0,
            })
        kc = [c for c in cells if c["kind"] == kind]
        n, k = len(kc), sum(c["has_branch"] for c in kc)
        no_branch = set(np.flatnonzero(~town.g_has_branch).tolist()) & set(idx.tolist())
        in_nb = np.isin(cg, list(no_branch)) if len(cg) else np.zeros(0, bool)
        s = share(k, n, rounding=rounding, decimals=decimals)
        kinds.append({
            "kind": kind, "kind_zh": GRID_KIND_ZH.get(kind, kind), "grids": n,
            "with_branch": k, "without_branch": n - k, "fraction": s["fraction"],
            "percent": s["percent"], "percent_text": s["percent_text"],
            "workers": sum(c["workers"] for c in kc),
            "compounds": int((cg >= 0).sum()), "compounds_outside_grids": int((cg < 0).sum()),
            "compounds_in_grids_without_branch": int(in_nb.sum()),
            "compounds_in_grids_without_branch_having_branch": int((in_nb & has).sum()),
            "population_in_grids_without_branch":
                int(town.b_pop[np.isin(bg, list(no_branch))].sum()) if len(bg) else 0,
            "inconsistent": [c["code"] for c in kc
                             if c["has_branch"] != (c["branch_seats"] > 0)],
        })
        if detail:
            for ci in np.flatnonzero(in_nb).tolist():
                g = int(cg[ci])
                detail_rows.append({
                    "code": str(town.c_code[ci]), "name": str(town.c_name[ci]),
                    "grid_kind": kind, "grid_code": str(town.g_code[g]),
                    "grid_name": str(town.g_name[g]), "has_branch": bool(has[ci]),
                    "population": int(town.c_pop[ci])})
    out: dict[str, Any] = {
        "region": {"code": town.region.code, "name": town.region.name,
                   "level": town.region.level},
        "rule": {"text": "a grid cell holds a branch when its stored has_branch flag is set "
                         "(branch_seats counts the branch seat compounds found inside, as a "
                         "check); compounds and buildings are placed in cells by point on "
                         "surface and centroid",
                 "text_zh": "网格“有党支部”以网格登记的 has_branch 为准"
                            "（branch_seats 为落在网格内的支部驻地小区数，用于核对）；"
                            "小区按内点、建筑按质心归入网格"},
        "rounding": {"mode": rounding, "decimals": decimals},
        "kinds": kinds, "grids": cells, "overlay": _overlay(town, min_overlap),
        "computed_at": datetime.now(UTC).isoformat(),
    }
    if detail:
        out["compounds_in_grids_without_branch"] = sorted(
            detail_rows, key=lambda r: (r["grid_kind"], r["grid_code"], -r["population"]))
    return out


def _to_metric(geoms: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0],
                                                                           xy[:, 1])))


def _metric_crs(town: Town) -> pyproj.CRS:
    x0, y0, x1, y1 = town.scope.bounds
    return metric_crs_for((x0 + x1) / 2, (y0 + y1) / 2)


def _overlay(town: Town, min_overlap: float) -> list[dict[str, Any]]:
    gov = np.flatnonzero(town.g_kind == GridKind.GOVERNANCE.value)
    party = np.flatnonzero(town.g_kind == GridKind.PARTY.value)
    if not len(gov) or not len(party):
        return []
    crs = _metric_crs(town)
    gm = _to_metric(town.g_geom, crs)
    tree = shapely.STRtree(gm[party])
    gi, pi = tree.query(gm[gov], predicate="intersects")
    out = []
    for a, b in zip(gov[gi].tolist(), party[pi].tolist(), strict=True):
        inter = shapely.area(shapely.intersection(gm[a], gm[b]))
        sa, sb = inter / shapely.area(gm[a]), inter / shapely.area(gm[b])
        if max(sa, sb) >= min_overlap:
            out.append({"governance_code": str(town.g_code[a]),
                        "party_code": str(town.g_code[b]),
                        "overlap_m2": round(float(inter), 1),
                        "share_of_governance": round(float(sa), 4),
                        "share_of_party": round(float(sb), 4)})
    return out


# ====================================================================== gaps
def h3_resolution_for(cell_m: float = 500.0) -> int:
    """The H3 resolution whose average hexagon edge is closest to ``cell_m``
    metres (500 m → resolution 8, edge ≈ 531 m, area ≈ 0.74 km²)."""
    import h3

    edges = [h3.average_hexagon_edge_length(r, unit="m") for r in range(16)]
    return int(np.argmin([abs(math.log(e / cell_m)) for e in edges]))


def _hexagons(an: Analysis, resolution: int, suppress_below: int) -> dict[str, Any]:
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
        rows.append({"h3": cell, "lng": round(lng, 6), "lat": round(lat, 6),
                     "population_uncovered": pop, "buildings_uncovered": nb,
                     "boundary": [[*ring, ring[0]]]})
    rows.sort(key=lambda r: (-r["population_uncovered"], r["h3"]))
    return {"resolution": resolution,
            "edge_m": round(h3.average_hexagon_edge_length(resolution, unit="m"), 1),
            "area_km2": round(h3.average_hexagon_area(resolution, unit="km^2"), 4),
            "cells": rows,
            "suppressed": {"cells": suppressed[0], "population_uncovered": suppressed[1],
                           "buildings_uncovered": suppressed[2],
                           "rule": f"cells with fewer than {suppress_below} uncovered "
                                   "buildings are not listed"}}


def _gap_areas(an: Analysis, cell_m: float, limit: int) -> dict[str, Any]:
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
        return {"cell_m": cell_m, "count": 0, "area_m2": 0.0, "features": []}
    cx, cy = (cells[:, 0] + 0.5) * cell_m, (cells[:, 1] + 0.5) * cell_m
    lng, lat = inv.transform(cx, cy)
    lng, lat = np.asarray(lng), np.asarray(lat)
    inside = np.zeros(len(cells), dtype=bool)
    for h in points_in_polygons(an.circles.geoms, lng, lat):
        inside[h] = True
    gap = cells[~inside]
    if not len(gap):
        return {"cell_m": cell_m, "count": 0, "area_m2": 0.0, "features": []}
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
    return {"cell_m": cell_m, "count": len(parts), "area_m2": round(float(area.sum()), 1),
            "by_region_m2": {a.code: round(float(by_leaf[i]), 1)
                             for i, a in enumerate(t.leaves)},
            "rule": f"residential land on a {cell_m:g} m raster (cells holding a residential "
                    "building centroid or centred in a compound) whose cell centre lies "
                    "outside every service circle",
            "type": "FeatureCollection", "features": features}


def gap_report(an: Analysis, *, limit: int = 20, detail: bool = False,
               hex_resolution: int | None = None, hex_cell_m: float = 500.0,
               areas: bool = True, area_cell_m: float = 30.0, suppress_below: int = 3,
               conn: Connection | None = None) -> dict[str, Any]:
    """Who and where is left out.

    Parameters
    ----------
    an
        A coverage run (:func:`analyse`); gap areas need compound footprints
        (loaded automatically when ``conn`` is given).
    limit
        Most compounds, buildings and gap areas listed.
    detail
        Include the ranked compound and building lists (planners; buildings
        carry household counts) and every hexagon.
    hex_resolution
        H3 resolution (default: :func:`h3_resolution_for` ``hex_cell_m``).
    areas, area_cell_m
        Compute gap areas on a raster of ``area_cell_m`` metres.
    suppress_below
        Without ``detail``, hexagons with fewer uncovered buildings are not
        listed (their totals are).

    Returns
    -------
    dict
        ``totals``, ``by_region`` and ``by_grid`` (uncovered population,
        buildings, compounds, sorted by uncovered population), ``hexagons``,
        ``areas`` (GeoJSON, EPSG:4326) and, with ``detail``, ``compounds`` and
        ``buildings`` ranked by uncovered population.
    """
    t = an.town
    cov = reach_coverage(an, by_point=False)
    keys = ("code", "name", "level", "kind", "region_code", "region_name", "population",
            "population_covered", "population_uncovered", "population_pct", "buildings",
            "buildings_covered", "compounds", "compounds_uncovered", "compounds_partial")

    def slim(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = [{k: r[k] for k in keys if k in r} for r in rows]
        for r in out:
            r["buildings_uncovered"] = r["buildings"] - r["buildings_covered"]
        return sorted(out, key=lambda r: (-r["population_uncovered"], r["code"]))

    res = hex_resolution if hex_resolution is not None else h3_resolution_for(hex_cell_m)
    out: dict[str, Any] = {
        **_header(an),
        "totals": slim([cov["totals"]])[0],
        "by_region": slim(cov["by_region"]),
        "by_grid": slim(cov["by_grid"]),
        "hexagons": _hexagons(an, res, 0 if detail else suppress_below),
    }
    if areas:
        if t.c_geom is None and conn is not None and len(t.c_code):
            rows = conn.execute(text(
                "SELECT code, ST_AsBinary(geom) AS wkb FROM compounds WHERE code = ANY(:c)"),
                {"c": t.c_code.tolist()}).all()
            wkb = {r.code: bytes(r.wkb) for r in rows}
            t.c_geom = shapely.from_wkb([wkb[c] for c in t.c_code.tolist()])
        out["areas"] = _gap_areas(an, area_cell_m, limit)
    if detail:
        leaf = t.leaves
        inside = t.b_compound >= 0
        c_pop = t.compound_building_pop()
        c_cov = np.bincount(t.b_compound[inside], weights=(t.b_pop * an.covered)[inside],
                            minlength=len(t.c_code)).astype(np.int64)
        unc_pop = c_pop - c_cov
        order = np.lexsort((t.c_code, -unc_pop))
        order = [i for i in order.tolist() if unc_pop[i] > 0][:limit]
        out["compounds"] = [{
            "rank": k + 1, "code": str(t.c_code[i]), "name": str(t.c_name[i]),
            "region_code": leaf[int(t.c_leaf[i])].code, "region_name": leaf[int(t.c_leaf[i])].name,
            "population": int(c_pop[i]), "population_uncovered": int(unc_pop[i]),
            "covered_pct": _float(percent(int(c_cov[i]), int(c_pop[i]),
                                          rounding=an.params.rounding,
                                          decimals=an.params.decimals)),
        } for k, i in enumerate(order)]
        unc = np.flatnonzero(~an.covered & (t.b_pop > 0))
        top = unc[np.lexsort((t.b_id[unc], -t.b_pop[unc]))][:limit]
        codes = building_codes(conn, t.b_id[top].tolist()) if conn is not None else {}
        out["buildings"] = [{
            "rank": k + 1, "code": codes.get(int(t.b_id[b])), "id": int(t.b_id[b]),
            "compound_code": str(t.c_code[t.b_compound[b]]) if t.b_compound[b] >= 0 else None,
            "region_code": leaf[int(t.b_leaf[b])].code, "region_name": leaf[int(t.b_leaf[b])].name,
            "population": int(t.b_pop[b]), "households": int(t.b_hh[b]),
            "lng": round(float(t.b_xy[b, 0]), 6), "lat": round(float(t.b_xy[b, 1]), 6),
        } for k, b in enumerate(top.tolist())]
    return out


# ====================================================================== snapshots
def save_snapshot(conn: Connection, result: dict[str, Any], *, label: str | None = None,
                  actor: str | None = None) -> int:
    """Store a :func:`reach_coverage` result (parameters, time, every area row).

    Snapshots are history: later changes to points or circles never alter
    them. Returns the snapshot id. The caller owns the transaction.
    """
    if label is not None and len(label) > 200:
        raise InvalidInput("label too long", [Problem("at most 200 characters",
                                                      column="label", value=label[:50])])
    p = result["parameters"]
    sid = conn.execute(text("""
        INSERT INTO coverage_snapshots (label, region_code, region_name, minutes, profile,
            kinds, parameters, totals, result, circles, circles_version, actor)
        VALUES (:label, :rc, :rn, :m, :pr, :kinds, CAST(:params AS jsonb),
                CAST(:totals AS jsonb), CAST(:result AS jsonb), :nc, :cv, :actor)
        RETURNING id"""), {
        "label": label, "rc": result["region"]["code"], "rn": result["region"]["name"],
        "m": p["minutes"], "pr": p["profile"], "kinds": p["kinds"],
        "params": json.dumps(p, ensure_ascii=False),
        "totals": json.dumps(result["totals"], ensure_ascii=False),
        "result": json.dumps(result, ensure_ascii=False, default=str),
        "nc": result["circles"]["count"], "cv": result["circles"]["version"],
        "actor": actor}).scalar_one()
    rows = [result["totals"], *result["by_region"], *result["by_grid"]]
    conn.execute(text("""
        INSERT INTO coverage_snapshot_areas (snapshot_id, level, code, name, kind, buildings,
            buildings_covered, households, households_covered, population,
            population_covered, compounds, compounds_covered)
        VALUES (:sid, :level, :code, :name, :kind, :b, :bc, :h, :hc, :p, :pc, :c, :cc)"""),
        [{"sid": sid, "level": r["level"], "code": r["code"], "name": r["name"],
          "kind": r.get("kind"), "b": r["buildings"], "bc": r["buildings_covered"],
          "h": r["households"], "hc": r["households_covered"], "p": r["population"],
          "pc": r["population_covered"], "c": r["compounds"], "cc": r["compounds_covered"]}
         for r in rows])
    return int(sid)


def list_snapshots(conn: Connection, region: str | None = None, *, limit: int = 50
                   ) -> list[dict[str, Any]]:
    """Stored snapshots, newest first (``region``: that code and everything below)."""
    rows = conn.execute(text("""
        SELECT id, label, region_code, region_name, minutes, profile, kinds, circles,
               circles_version, actor, created_at, totals
        FROM coverage_snapshots
        WHERE CAST(:r AS text) IS NULL OR region_code LIKE CAST(:r AS text) || '%'
        ORDER BY created_at DESC, id DESC LIMIT :n"""), {"r": region, "n": limit}).all()
    return [{"id": r.id, "label": r.label, "region_code": r.region_code,
             "region_name": r.region_name, "minutes": r.minutes, "profile": r.profile,
             "kinds": list(r.kinds), "circles": r.circles, "circles_version": r.circles_version,
             "actor": r.actor, "created_at": r.created_at.isoformat(),
             "population_covered": r.totals.get("population_covered"),
             "population_pct": r.totals.get("population_pct")} for r in rows]


def get_snapshot(conn: Connection, snapshot_id: int) -> dict[str, Any]:
    """A stored snapshot: its metadata and the full stored result."""
    r = conn.execute(text(
        "SELECT id, label, actor, created_at, result FROM coverage_snapshots WHERE id = :i"),
        {"i": snapshot_id}).first()
    if r is None:
        raise NotFound(f"no coverage snapshot with id {snapshot_id}")
    return {"id": r.id, "label": r.label, "actor": r.actor,
            "created_at": r.created_at.isoformat(), **r.result}


_DELTA_FIELDS = ("buildings", "buildings_covered", "households", "households_covered",
                 "population", "population_covered", "compounds", "compounds_covered")


def compare_snapshots(conn: Connection, before: int, after: int, *, rounding: str = "half_up",
                      decimals: int = 2) -> dict[str, Any]:
    """Differences between two snapshots (e.g. before and after a new station).

    Returns
    -------
    dict
        ``before``/``after`` metadata, ``parameters_differ`` (names of the
        parameters that changed: figures are then not like for like),
        ``totals`` and ``areas``: per area, the figures of both runs and
        ``*_delta`` values; percentages recomputed exactly from the counts.
    """
    _check_rounding(rounding, decimals)
    meta = {}
    for sid in (before, after):
        r = conn.execute(text(
            "SELECT id, label, region_code, created_at, parameters, circles, circles_version "
            "FROM coverage_snapshots WHERE id = :i"), {"i": sid}).first()
        if r is None:
            raise NotFound(f"no coverage snapshot with id {sid}")
        meta[sid] = r
    a, b = meta[before], meta[after]
    differ = sorted(k for k in set(a.parameters) | set(b.parameters)
                    if a.parameters.get(k) != b.parameters.get(k))
    rows = conn.execute(text(
        "SELECT snapshot_id, level, code, name, kind, " + ", ".join(_DELTA_FIELDS) +
        " FROM coverage_snapshot_areas WHERE snapshot_id IN (:a, :b) ORDER BY level, code"),
        {"a": before, "b": after}).mappings().all()
    by_key: dict[tuple[str, str], dict[int, Any]] = {}
    for r in rows:
        by_key.setdefault((r["level"], r["code"]), {})[r["snapshot_id"]] = r
    areas = []
    for (level, code), pair in by_key.items():
        x, y = pair.get(before), pair.get(after)
        ref = y or x
        row: dict[str, Any] = {"level": level, "code": code, "name": ref["name"],
                               "kind": ref["kind"]}
        for f in _DELTA_FIELDS:
            va = x[f] if x is not None else None
            vb = y[f] if y is not None else None
            row[f"{f}_before"] = va
            row[f"{f}_after"] = vb
            row[f"{f}_delta"] = (round(vb - va, 4) if isinstance(vb, float) else vb - va) \
                if va is not None and vb is not None else None
        for side, src in (("before", x), ("after", y)):
            row[f"population_pct_{side}"] = _float(percent(
                src["population_covered"], src["population"], rounding=rounding,
                decimals=decimals)) if src is not None else None
        areas.append(row)
    level_rank = {"county": 0, "town": 1, "village": 2, "grid": 3}
    areas.sort(key=lambda r: (level_rank.get(r["level"], 9), r["code"]))
    totals = next((r for r in areas if r["code"] == a.region_code), None)

    def m(r: Any) -> dict[str, Any]:
        return {"id": r.id, "label": r.label, "region_code": r.region_code,
                "created_at": r.created_at.isoformat(), "circles": r.circles,
                "circles_version": r.circles_version}

    return {"before": m(a), "after": m(b), "parameters_differ": differ,
            "same_region": a.region_code == b.region_code, "totals": totals, "areas": areas}


# ====================================================================== tables and exports
#: Chinese column headers of the exported tables (planners work in Excel).
COLUMNS_ZH: dict[str, str] = {
    "code": "编码", "name": "名称", "level": "层级", "kind": "网格类型",
    "region_code": "所属村居编码", "region_name": "所属村居", "has_branch": "有党支部",
    "buildings": "建筑数", "buildings_covered": "覆盖建筑数", "buildings_pct": "建筑覆盖率(%)",
    "buildings_uncovered": "未覆盖建筑数",
    "households": "户数", "households_covered": "覆盖户数",
    "population": "人口", "population_covered": "覆盖人口", "population_uncovered": "未覆盖人口",
    "population_pct": "人口覆盖率(%)",
    "compounds": "小区数", "compounds_covered": "覆盖小区数(按人口占比)",
    "compounds_full": "完全覆盖小区数", "compounds_partial": "部分覆盖小区数",
    "compounds_uncovered": "未覆盖小区数", "compounds_pct": "小区覆盖率(%)",
    "with_branch": "有党支部小区数", "without_branch": "无党支部小区数",
    "branches": "党支部数", "fraction": "分数", "percent": "覆盖率(%)",
    "percent_text": "覆盖率",
    "rank": "排名", "covered_pct": "已覆盖比例(%)", "compound_code": "所属小区编码",
    "lng": "经度", "lat": "纬度", "id": "内部编号",
    "grids": "网格数", "workers": "网格员数", "branch_seats": "支部驻地数",
    "compounds_with_branch": "有党支部小区数", "kind_zh": "网格类型",
    "population_only_here": "仅此阵地覆盖人口", "point_kind": "阵地类型",
    "source": "候选来源", "population_new": "新增覆盖人口",
    "population_covered_after": "累计覆盖人口", "population_pct_after": "累计覆盖率(%)",
}

_TABLES: dict[str, tuple[str, ...]] = {
    "reach": ("code", "name", "level", "buildings", "buildings_covered", "buildings_pct",
              "households", "households_covered", "population", "population_covered",
              "population_pct", "compounds", "compounds_covered", "compounds_full",
              "compounds_partial", "compounds_uncovered", "compounds_pct"),
    "reach_grid": ("code", "name", "kind", "region_name", "has_branch", "buildings",
                   "buildings_covered", "buildings_pct", "population", "population_covered",
                   "population_pct", "compounds", "compounds_covered", "compounds_pct"),
    "branches": ("code", "name", "level", "compounds", "with_branch", "without_branch",
                 "branches", "fraction", "percent_text"),
    "grids": ("code", "name", "kind_zh", "region_name", "workers", "has_branch",
              "branch_seats", "compounds", "compounds_with_branch", "population"),
    "gaps": ("code", "name", "level", "population", "population_uncovered", "population_pct",
             "buildings_uncovered", "compounds", "compounds_uncovered", "compounds_partial"),
    "gap_compounds": ("rank", "code", "name", "region_name", "population",
                      "population_uncovered", "covered_pct"),
    "gap_buildings": ("rank", "code", "compound_code", "region_name", "population",
                      "households", "lng", "lat"),
    "points": ("code", "name", "point_kind", "buildings", "population",
               "population_only_here"),
}


def table_rows(result: dict[str, Any], view: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """The tables of a result as ``(sheet name, rows)`` pairs, rows keyed by
    the Chinese headers (:data:`COLUMNS_ZH`), in export order.

    Parameters
    ----------
    result
        A result of :func:`reach_coverage`, :func:`branch_coverage`,
        :func:`grid_view` or :func:`gap_report`.
    view
        ``reach``, ``branches``, ``grids`` or ``gaps``.
    """
    def zh(rows: Iterable[dict[str, Any]], cols: tuple[str, ...]) -> list[dict[str, Any]]:
        out = []
        for r in rows:
            d = {}
            for c in cols:
                v = r.get(c)
                if c == "level":
                    v = LEVEL_ZH.get(v, v)
                elif c == "kind":
                    v = GRID_KIND_ZH.get(v, POINT_KIND_ZH.get(v, v)) if v else v
                elif c == "has_branch":
                    v = "是" if v else "否"
                d[COLUMNS_ZH.get(c, c)] = v
            out.append(d)
        return out

    if view == "reach":
        tables = [("覆盖汇总", zh([result["totals"], *result["by_region"]], _TABLES["reach"]))]
        if result.get("by_grid"):
            tables.append(("网格覆盖", zh(result["by_grid"], _TABLES["reach_grid"])))
        if result.get("by_point"):
            pts = [{**r, "point_kind": POINT_KIND_ZH.get(PointKind(r["kind"]), r["kind"])
                    if r["kind"] in {k.value for k in PointKind} else r["kind"]}
                   for r in result["by_point"]]
            tables.append(("阵地覆盖", zh(pts, _TABLES["points"])))
        return tables
    if view == "branches":
        return [("党支部覆盖", zh([result["totals"], *result["by_region"]], _TABLES["branches"]))]
    if view == "grids":
        return [("双网融合", zh(result["grids"], _TABLES["grids"]))]
    if view == "gaps":
        tables = [("未覆盖汇总", zh([result["totals"], *result["by_region"]], _TABLES["gaps"]))]
        if result.get("by_grid"):
            tables.append(("网格未覆盖", zh(result["by_grid"], _TABLES["gaps"])))
        if result.get("compounds"):
            tables.append(("未覆盖小区", zh(result["compounds"], _TABLES["gap_compounds"])))
        if result.get("buildings"):
            tables.append(("未覆盖建筑", zh(result["buildings"], _TABLES["gap_buildings"])))
        return tables
    raise ValueError(f"unknown view {view!r}")


def parameter_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [("区域编码", result["region"]["code"]), ("区域名称", result["region"]["name"])]
    p = result.get("parameters")
    if p:
        rows += [("步行时间(分钟)", f"{p['minutes']:g}"), ("步行档", p["profile"]),
                 ("步速(km/h)", f"{p['speed_kmh']:g}"), ("步行距离(米)", f"{p['budget_m']:g}"),
                 ("阵地类型", "、".join(p["kinds_zh"])),
                 ("覆盖规则", p["rule"]["text_zh"]),
                 ("百分比取舍", f"{p['rounding_zh']}，保留 {p['decimals']} 位小数")]
    elif "rule" in result:
        rows.append(("统计规则", result["rule"]["text_zh"]))
        if "rounding" in result:
            r = result["rounding"]
            rows.append(("百分比取舍", f"{_ROUNDING_TEXT[r['mode']]}，保留 {r['decimals']} 位小数"))
    if "circles" in result:
        c = result["circles"]
        rows += [("服务圈数量", str(c["count"])), ("过期服务圈", str(c["stale"])),
                 ("缺少服务圈的阵地", str(c["missing"]))]
    rows.append(("计算时间", result.get("computed_at", "")))
    return rows


def export_csv(result: dict[str, Any], view: str) -> bytes:
    """The first table of a result as CSV for Excel (UTF-8 with BOM, Chinese
    headers); the parameters and rule follow the table after a blank line."""
    name, rows = table_rows(result, view)[0]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    if rows:
        w.writerow(list(rows[0]))
        for r in rows:
            w.writerow(["" if v is None else v for v in r.values()])
    w.writerow([])
    for k, v in parameter_rows(result):
        w.writerow([k, v])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_xlsx(result: dict[str, Any], view: str) -> bytes:
    """Every table of a result as an Excel workbook (one sheet each, Chinese
    headers) plus a 参数 sheet with the parameters and rule."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in table_rows(result, view):
        ws = wb.create_sheet(name[:31])
        if rows:
            ws.append(list(rows[0]))
            for c in ws[1]:
                c.font = Font(bold=True)
            for r in rows:
                ws.append(list(r.values()))
            for i, col in enumerate(rows[0], start=1):
                width = max(_width(str(col)), *(_width(str(r[col])) for r in rows[:200]))
                ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = \
                    min(width + 2, 60)
            ws.freeze_panes = "A2"
    ws = wb.create_sheet("参数")
    for k, v in parameter_rows(result):
        ws.append([k, v])
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 80
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _width(s: str) -> int:
    """Display width of a string (CJK characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def format_table(rows: list[dict[str, Any]], decimals: int = 2) -> str:
    """Rows as an aligned plain-text table (CJK-aware widths; floats with
    ``decimals`` digits)."""
    if not rows:
        return "(无数据)"
    cols = list(rows[0])
    cells = [[("" if v is None else (f"{v:.{decimals}f}" if isinstance(v, float) else str(v)))
              for v in r.values()] for r in rows]
    widths = [max(_width(c), *(_width(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True))

    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, cells)])
