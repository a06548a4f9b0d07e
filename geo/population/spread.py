"""Spreading village census totals over their buildings (dasymetric mapping).

Each village's census total (``village_population``) is distributed over the
village's *residential* buildings in proportion to their floor area, as whole
people that add up exactly to the total.

Which buildings belong to a village
    Exactly as the coverage figures count them (:func:`geo.coverage.load_town`):
    a building in a compound belongs to its compound's village, any other to
    the village whose boundary holds its footprint centroid (boundary
    included). Buildings outside every village boundary, and deleted ones, are
    left alone.

Floor area
    Footprint area (m², on the spheroid: PostGIS ``ST_Area(geom::geography)``)
    × storeys. Storeys are ``buildings.levels`` when given (> 0), else
    ``buildings.height_m / 3.0`` when given (at least 1), else the default of
    the building's type (:data:`DEFAULT_LEVELS`; :data:`UNKNOWN_LEVELS` for
    ``yes``, no type and any type not listed). Floor areas are rounded to
    :data:`WEIGHT_UNIT_M2` (0.01 m²) so that the split is exact integer
    arithmetic.

Residential
    Every type except :data:`NON_RESIDENTIAL` (schools, shops, factories,
    sheds …), which get no people. A village with people but no residential
    floor area (no building at all, or non-residential ones only) cannot be
    placed: it is reported, and its buildings are left as they were.

Whole people
    The largest remainder method (Hamilton): each building first gets the
    integer part of its exact quota ``total × floor area / village floor
    area``; the people left over go one each to the largest remainders (ties:
    the lower building id). Each village's sum is its census total.

Households
    ``round(people / HOUSEHOLD_SIZE)`` (half up), at least 1 in a building with
    people; :data:`HOUSEHOLD_SIZE` is 2.62 people per household, the national
    average of the 7th census (2020). Compounds' ``population`` and
    ``households`` are the sums of their buildings afterwards (as the samples
    keep them).

Buildings spread get ``population_source = 'census'``. One transaction; the
data versions of ``buildings`` and ``compounds`` are bumped by their triggers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage.loading import Town, load_town
from geo.errors import InvalidInput, Problem
from geo.io.importer.write import transaction
from geo.store.audit import write_audit

__all__ = [
    "DEFAULT_LEVELS",
    "HOUSEHOLD_SIZE",
    "NON_RESIDENTIAL",
    "STOREY_HEIGHT_M",
    "UNKNOWN_LEVELS",
    "WEIGHT_UNIT_M2",
    "SpreadReport",
    "VillageSpread",
    "floor_weights",
    "households_of",
    "is_residential",
    "largest_remainder",
    "spread_population",
    "storeys",
]

#: People per household: the national average household size of the 7th census
#: (2020 第七次全国人口普查, 2.62 people per family household).
HOUSEHOLD_SIZE = 2.62
#: Metres per storey when only a building's height is known.
STOREY_HEIGHT_M = 3.0
#: Floor areas are counted in whole units of this many square metres.
WEIGHT_UNIT_M2 = 0.01

#: Storeys of a residential building of this OSM ``building`` type when neither
#: ``levels`` nor ``height_m`` is known. Houses: 3, the usual village house of
#: Guangdong (村民自建房); a bungalow has 1 by definition; apartment blocks: 6,
#: the tallest block built without a lift (GB 50096-2011 requires lifts from
#: 7 storeys), the commonest walk-up (多层) block.
DEFAULT_LEVELS: dict[str, float] = {
    "house": 3.0, "detached": 3.0, "semidetached_house": 3.0, "terrace": 3.0,
    "farm": 3.0, "bungalow": 1.0, "cabin": 1.0, "hut": 1.0, "static_caravan": 1.0,
    "houseboat": 1.0,
    "apartments": 6.0, "residential": 6.0, "dormitory": 6.0,
}
#: Storeys of a building of unknown type (``yes``, none, any type not listed).
UNKNOWN_LEVELS = 3.0

#: OSM ``building`` types where nobody lives: weight 0. Every other type
#: (including none and ``yes``) counts as residential.
NON_RESIDENTIAL: frozenset[str] = frozenset({
    # work and trade
    "commercial", "retail", "office", "industrial", "warehouse", "factory", "manufacture",
    "supermarket", "kiosk", "hotel", "service", "storage_tank", "hangar", "data_center",
    # public
    "public", "civic", "government", "school", "kindergarten", "university", "college",
    "hospital", "clinic", "fire_station", "police", "prison", "military", "toilets",
    "train_station", "transportation", "sports_hall", "sports_centre", "stadium",
    "grandstand", "pavilion", "bridge", "gatehouse",
    # worship
    "church", "chapel", "cathedral", "mosque", "temple", "shrine", "monastery",
    "synagogue", "religious",
    # ancillary and farm buildings
    "garage", "garages", "carport", "parking", "shed", "barn", "cowshed", "stable", "sty",
    "farm_auxiliary", "greenhouse", "silo", "boathouse", "digester", "transformer_tower",
    "water_tower", "bunker",
    # not a building people live in
    "construction", "ruins", "roof", "container", "tent",
})


# ====================================================================== the arithmetic
def _type(building_type: str | None) -> str | None:
    t = (building_type or "").strip().lower()
    return t or None


def is_residential(building_type: str | None) -> bool:
    """Whether people may live in a building of this OSM ``building`` type
    (not in :data:`NON_RESIDENTIAL`; an unknown type counts as residential)."""
    return _type(building_type) not in NON_RESIDENTIAL


def _finite_positive(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def storeys(building_type: str | None, levels: float | None, height_m: float | None
            ) -> float:
    """Storeys of a building: ``levels``, else ``height_m / 3.0`` (at least 1),
    else the default of its type (:data:`DEFAULT_LEVELS`, :data:`UNKNOWN_LEVELS`)."""
    lv = _finite_positive(levels)
    if lv is not None:
        return lv
    h = _finite_positive(height_m)
    if h is not None:
        return max(1.0, h / STOREY_HEIGHT_M)
    return DEFAULT_LEVELS.get(_type(building_type) or "", UNKNOWN_LEVELS)


def floor_weights(area_m2: Sequence[float], building_type: Sequence[str | None],
                  levels: Sequence[float | None], height_m: Sequence[float | None]
                  ) -> list[int]:
    """Residential floor area of each building in units of :data:`WEIGHT_UNIT_M2`
    (footprint m² × :func:`storeys`, rounded; 0 for non-residential types and
    empty footprints)."""
    out = []
    for a, t, lv, h in zip(area_m2, building_type, levels, height_m, strict=True):
        fa = _finite_positive(a)
        if fa is None or not is_residential(t):
            out.append(0)
            continue
        out.append(int(math.floor(fa * storeys(t, lv, h) / WEIGHT_UNIT_M2 + 0.5)))
    return out


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` people in proportion to integer ``weights`` (Hamilton's
    largest remainder method, exact): integer parts of the quotas first, then
    one more each to the largest remainders, ties to the earlier position.

    Raises
    ------
    ValueError
        A negative total or weight, or people to place with no weight at all.
    """
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("total and weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        if total:
            raise ValueError(f"{total} people and no weight to spread them over")
        return [0] * len(weights)
    base = [total * w // whole for w in weights]
    rest = [total * w % whole for w in weights]
    left = total - sum(base)
    for i in sorted(range(len(weights)), key=lambda i: (-rest[i], i))[:left]:
        base[i] += 1
    return base


def households_of(people: Sequence[int], size: float = HOUSEHOLD_SIZE) -> list[int]:
    """Households of buildings from their people: ``people / size`` rounded half
    up, at least 1 where anybody lives, 0 where nobody does."""
    return [0 if p <= 0 else max(1, int(math.floor(p / size + 0.5))) for p in people]


# ====================================================================== the report
@dataclass
class VillageSpread:
    """One village's census total and where it went.

    ``buildings`` are the village's buildings, ``residential`` those with
    residential floor area (they got its people), ``people`` the people placed
    (its census total when ``placed``); ``reason`` says why a village could not
    be placed.
    """

    code: str
    name: str
    census: int
    year: int | None
    buildings: int = 0
    residential: int = 0
    people: int = 0
    placed: bool = False
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SpreadReport:
    """What a spread did: every village with a census total, the buildings and
    compounds whose figures changed."""

    areas: list[str]
    villages: list[VillageSpread] = field(default_factory=list)
    buildings_changed: int = 0
    compounds_changed: int = 0
    household_size: float = HOUSEHOLD_SIZE
    dry_run: bool = False

    @property
    def placed(self) -> list[VillageSpread]:
        return [v for v in self.villages if v.placed]

    @property
    def unplaced(self) -> list[VillageSpread]:
        return [v for v in self.villages if not v.placed]

    @property
    def people_spread(self) -> int:
        return sum(v.people for v in self.placed)

    @property
    def buildings_used(self) -> int:
        return sum(v.residential for v in self.placed)

    @property
    def people_unplaced(self) -> int:
        return sum(v.census for v in self.unplaced)

    def as_dict(self) -> dict[str, Any]:
        return {"areas": list(self.areas), "villages_with_census": len(self.villages),
                "villages_placed": len(self.placed), "villages_unplaced": len(self.unplaced),
                "people_spread": self.people_spread, "people_unplaced": self.people_unplaced,
                "buildings_used": self.buildings_used,
                "buildings_changed": self.buildings_changed,
                "compounds_changed": self.compounds_changed,
                "household_size": self.household_size, "dry_run": self.dry_run,
                "villages": [v.as_dict() for v in self.villages]}

    def to_text(self) -> str:
        """Chinese lines for the command line."""
        verb = "将" if self.dry_run else "已"
        lines = [
            "人口分摊：村（社区）普查常住人口按住宅建筑面积（占地面积×层数）分摊到楼栋",
            f"  有普查人口的村（社区）{len(self.villages)} 个：{verb}分摊 {len(self.placed)} 个，"
            f"无法分摊 {len(self.unplaced)} 个",
            f"  {verb}分摊 {self.people_spread:,} 人到 {self.buildings_used:,} 栋住宅建筑；"
            f"户数按每户 {self.household_size:g} 人估算",
            f"  人口有变化的建筑 {self.buildings_changed:,} 栋，小区 {self.compounds_changed:,} 个",
        ]
        if self.unplaced:
            lines.append(f"  无法分摊的村（社区）（共 {self.people_unplaced:,} 人未分摊，"
                         "其建筑人口保持不变）：")
            lines += [f"    - {v.name}（{v.code}）{v.census:,} 人：{v.reason}"
                      for v in self.unplaced]
        return "\n".join(lines)


# ====================================================================== spreading
_CENSUS_SQL = """
SELECT v.region_code AS code, r.name, r.parent_code, v.population, v.year
FROM village_population v JOIN regions r ON r.code = v.region_code
ORDER BY v.region_code
"""


def _attributes(conn: Connection, ids: np.ndarray) -> dict[int, Any]:
    rows = conn.execute(text("""
        SELECT id, building_type, levels, height_m, ST_Area(geom::geography) AS area_m2
        FROM buildings WHERE id = ANY(:ids)"""), {"ids": [int(i) for i in ids]}).all()
    return {int(r.id): r for r in rows}


def _spread_town(conn: Connection, town: Town, census: list[Any], report: SpreadReport
                 ) -> tuple[list[int], list[int], list[int], set[str]]:
    """People and households of the buildings of ``town``'s census villages."""
    leaf_of = {a.code: i for i, a in enumerate(town.leaves)}
    attrs = _attributes(conn, town.b_id)
    ids: list[int] = []
    pops: list[int] = []
    hhs: list[int] = []
    compounds: set[str] = set()
    for c in census:
        v = VillageSpread(code=c.code, name=c.name, census=int(c.population), year=c.year)
        report.villages.append(v)
        li = leaf_of.get(c.code)
        if li is None:
            v.reason = "该村（社区）没有边界数据（或下面还有下级区划），无法把建筑归入该村"
            continue
        idx = np.flatnonzero(town.b_leaf == li)  # ordered by building id
        v.buildings = len(idx)
        rows = [attrs[int(town.b_id[i])] for i in idx]
        weights = floor_weights([r.area_m2 for r in rows], [r.building_type for r in rows],
                                [r.levels for r in rows], [r.height_m for r in rows])
        v.residential = sum(1 for w in weights if w > 0)
        if v.census and not v.residential:
            v.reason = ("该村（社区）范围内没有建筑" if not len(idx) else
                        f"该村（社区）范围内的 {len(idx)} 栋建筑都不是住宅（或没有占地面积）")
            continue
        people = largest_remainder(v.census, weights)
        v.people, v.placed = sum(people), True
        ids += [int(town.b_id[i]) for i in idx]
        pops += people
        hhs += households_of(people, report.household_size)
        compounds |= {str(town.c_code[k]) for k in town.b_compound[idx].tolist() if k >= 0}
    return ids, pops, hhs, compounds


def _codes_under(conn: Connection, code: str) -> set[str]:
    """A region's code and every code below it."""
    return set(conn.execute(text("""
        WITH RECURSIVE tree AS (
            SELECT code FROM regions WHERE code = :code
            UNION ALL SELECT r.code FROM regions r JOIN tree t ON r.parent_code = t.code)
        SELECT code FROM tree"""), {"code": code}).scalars())


def _areas(conn: Connection, region: str | None, census: list[Any]) -> list[str]:
    """The areas to load: ``region``, else the town above each census village."""
    if region is not None:
        return [region]
    return sorted({c.parent_code or c.code for c in census})


def spread_population(conn: Connection, region: str | None = None, *,
                      areas: Sequence[str] | None = None, actor: str = "unknown",
                      dry_run: bool = False,
                      household_size: float = HOUSEHOLD_SIZE) -> SpreadReport:
    """Spread the stored village census totals over the villages' buildings.

    Parameters
    ----------
    conn
        Connection; without an open transaction a new one is begun and
        committed, inside the caller's a savepoint is used (the caller commits).
    region
        Division code (town, village or county): only the census villages in
        it. ``None``: every village with a census total, town by town.
    areas
        The division codes to load instead (an import: the towns it touched).
    actor
        Who spreads (the audit log).
    dry_run
        Work everything out and roll it back.
    household_size
        People per household for the buildings' households.

    Returns
    -------
    SpreadReport
        Every census village in the areas: placed or why not.

    Raises
    ------
    NotFound
        Unknown region.
    InvalidInput
        No census total in the region.
    """
    report = SpreadReport(areas=[], household_size=household_size, dry_run=dry_run)
    with transaction(conn):
        savepoint = conn.begin_nested() if dry_run else None
        try:
            census = conn.execute(text(_CENSUS_SQL)).all()
            todo = list(areas) if areas is not None else _areas(conn, region, census)
            report.areas = todo
            ids: list[int] = []
            pops: list[int] = []
            hhs: list[int] = []
            compounds: set[str] = set()
            seen: set[str] = set()
            for area in todo:
                try:
                    town = load_town(conn, area)
                except InvalidInput as exc:  # no boundaries to place buildings by
                    under = _codes_under(conn, area)
                    for c in census:
                        if c.code in under and c.code not in seen:
                            seen.add(c.code)
                            report.villages.append(VillageSpread(
                                code=c.code, name=c.name, census=int(c.population),
                                year=c.year, reason=f"无法载入 {area}：{exc.message}"))
                    continue
                here = [c for c in census if c.code in town.scope.codes and c.code not in seen]
                seen |= {c.code for c in here}
                got = _spread_town(conn, town, here, report)
                ids += got[0]
                pops += got[1]
                hhs += got[2]
                compounds |= got[3]
            if not report.villages:
                where = f"区划 {region} 内" if region else "数据库中"
                raise InvalidInput(f"{where}没有村（社区）常住人口，无法分摊", [Problem(
                    "先导入村（社区）常住人口表（servicemap import population 文件）",
                    column="region", value=region,
                    expected="已导入普查常住人口的镇街或村（社区）")])
            report.buildings_changed = _write_buildings(conn, ids, pops, hhs)
            report.compounds_changed = _write_compounds(conn, sorted(compounds))
            write_audit(conn, actor=actor, action="spread", entity="buildings",
                        after={k: v for k, v in report.as_dict().items() if k != "villages"}
                        | {"unplaced": [v.code for v in report.unplaced]})
        finally:
            if savepoint is not None:
                savepoint.rollback()
    return report


def _write_buildings(conn: Connection, ids: list[int], pops: list[int], hhs: list[int]
                     ) -> int:
    if not ids:
        return 0
    return conn.execute(text("""
        UPDATE buildings b
        SET population = u.pop, households = u.hh, population_source = 'census'
        FROM unnest(CAST(:ids AS integer[]), CAST(:pops AS integer[]),
                    CAST(:hhs AS integer[])) AS u(id, pop, hh)
        WHERE b.id = u.id
          AND (b.population, b.households, b.population_source)
              IS DISTINCT FROM (u.pop, u.hh, 'census')"""),
        {"ids": ids, "pops": pops, "hhs": hhs}).rowcount


def _write_compounds(conn: Connection, codes: list[str]) -> int:
    """Compounds' population and households: the sums of their buildings."""
    if not codes:
        return 0
    return conn.execute(text("""
        UPDATE compounds c SET population = s.pop, households = s.hh, updated_at = now()
        FROM (SELECT compound_code, sum(population)::integer AS pop,
                     sum(households)::integer AS hh
              FROM buildings WHERE deleted_at IS NULL AND compound_code = ANY(:codes)
              GROUP BY compound_code) s
        WHERE c.code = s.compound_code
          AND (c.population, c.households) IS DISTINCT FROM (s.pop, s.hh)"""),
        {"codes": codes}).rowcount
