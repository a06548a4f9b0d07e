"""Spreading village census totals over their buildings: the arithmetic by
hand (floor areas, default storeys, non-residential weight 0, the largest
remainder), a hand-worked village in the database (footprints measured on the
spheroid, compounds summed, a village that cannot be placed), and exact
village sums on the Longteng sample."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import text

from geo import coverage as cov
from geo.errors import InvalidInput
from geo.population import (
    DEFAULT_LEVELS,
    NON_RESIDENTIAL,
    UNKNOWN_LEVELS,
    floor_weights,
    households_of,
    is_residential,
    largest_remainder,
    spread_population,
    storeys,
)


def mp(g) -> str:
    """WKT of a polygon as a multipolygon, at full precision (the footprints are metres)."""
    multi = shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g
    return shapely.to_wkt(multi, rounding_precision=-1)

# ---------------------------------------------------------------- the hand-worked village
# five buildings (footprint m², OSM type, levels, height m):
#   B1 200 m² apartments, 6 levels            → 200 × 6   = 1200 m² of floor
#   B2 100 m² house, no levels, no height     → 100 × 3   =  300 (house default: 3)
#   B3 150 m² no type, no levels, 10.5 m high → 150 × 3.5 =  525 (10.5 m / 3.0 m)
#   B4 120 m² residential, 5 levels           → 120 × 5   =  600
#   B5 600 m² school, 4 levels                → non-residential: 0
# floor area 2625 m²; 1001 people: quotas 1200·1001/2625 = 457.6, 114.4, 200.2,
# 228.8, 0 → integer parts 457 + 114 + 200 + 228 = 999, two people left, to the
# largest remainders .8 (B4) and .6 (B1): 458, 114, 200, 229, 0 (sum 1001).
# households at 2.62 people: 458/2.62 = 174.8 → 175, 43.5 → 44, 76.3 → 76, 87.4 → 87.
FIVE = {  # code: (width m, depth m, type, levels, height)
    "B1": (20, 10, "apartments", 6, None),
    "B2": (10, 10, "house", None, None),
    "B3": (15, 10, None, None, 10.5),
    "B4": (12, 10, "residential", 5, None),
    "B5": (30, 20, "school", 4, None),
}
FIVE_PEOPLE = {"B1": 458, "B2": 114, "B3": 200, "B4": 229, "B5": 0}
FIVE_HOUSEHOLDS = {"B1": 175, "B2": 44, "B3": 76, "B4": 87, "B5": 0}


def test_the_five_buildings_by_hand():
    areas = [w * d for w, d, *_ in FIVE.values()]
    weights = floor_weights(areas, [v[2] for v in FIVE.values()],
                            [v[3] for v in FIVE.values()], [v[4] for v in FIVE.values()])
    # floor areas in 0.01 m² units
    assert weights == [120000, 30000, 52500, 60000, 0]
    people = largest_remainder(1001, weights)
    assert dict(zip(FIVE, people, strict=True)) == FIVE_PEOPLE
    assert dict(zip(FIVE, households_of(people), strict=True)) == FIVE_HOUSEHOLDS


def test_storeys_and_residential_types():
    assert storeys("apartments", 12, 99.0) == 12  # levels win over height
    assert storeys("house", None, 7.5) == 2.5  # height / 3.0
    assert storeys("shed", None, 2.0) == 1.0  # at least one storey
    assert storeys("house", 0, None) == 3.0  # 0 levels is no information
    assert storeys("bungalow", None, None) == 1.0
    assert storeys("dormitory", None, None) == 6.0
    assert storeys("yes", None, None) == storeys(None, None, None) == UNKNOWN_LEVELS == 3.0
    assert storeys("villa", None, None) == UNKNOWN_LEVELS  # a type not listed
    assert DEFAULT_LEVELS["house"] == DEFAULT_LEVELS["terrace"] == 3.0
    assert is_residential(None) and is_residential("yes") and is_residential(" House ")
    for t in ("school", "commercial", "retail", "industrial", "office", "hospital",
              "church", "garage", "shed", "warehouse", "public", "kindergarten",
              "university", "SCHOOL"):
        assert not is_residential(t), t
    assert not (NON_RESIDENTIAL & set(DEFAULT_LEVELS))


def test_largest_remainder_ties_and_limits():
    # quotas 0.75 each; three people left over go to the first three (ties: position)
    assert largest_remainder(3, [1, 1, 1, 1]) == [1, 1, 1, 0]
    # 10 over 1:2:3 → 1.67, 3.33, 5 → 1 + 3 + 5 = 9, the one left to .67
    assert largest_remainder(10, [1, 2, 3]) == [2, 3, 5]
    # a zero weight never gets anybody, even with a large remainder elsewhere
    assert largest_remainder(5, [0, 3, 0, 1]) == [0, 4, 0, 1]
    assert largest_remainder(0, [0, 0]) == [0, 0]
    with pytest.raises(ValueError):
        largest_remainder(7, [0, 0])
    with pytest.raises(ValueError):
        largest_remainder(-1, [1])
    assert households_of([0, 1, 2, 3, 4]) == [0, 1, 1, 1, 2]  # 4/2.62 = 1.53 → 2


# ---------------------------------------------------------------- in the database
TOWN, V1, V2, V3 = "440199001", "440199001001", "440199001002", "440199001003"
LNG0, LAT0 = 113.3, 23.1


def _utm_box(x: float, y: float, w: float, d: float):
    """A ``w`` × ``d`` metre rectangle at UTM 49N metres (x, y), in WGS-84 degrees."""
    to_wgs = pyproj.Transformer.from_crs(32649, 4326, always_xy=True)
    rect = box(x, y, x + w, y + d)
    return shapely.transform(rect, lambda xy: np.column_stack(
        to_wgs.transform(xy[:, 0], xy[:, 1])))


def _hand_town(conn) -> dict[str, int]:
    """Three villages side by side: V1 holds the five buildings (B1 in compound
    C1), V2 one garage of 7 people (census 50: cannot be placed), V3 a house of
    9 people and no census total. Returns the ids of the buildings by code."""
    fwd = pyproj.Transformer.from_crs(4326, 32649, always_xy=True)
    x0, y0 = fwd.transform(LNG0, LAT0)
    villages = {V1: _utm_box(x0, y0, 300, 300), V2: _utm_box(x0 + 300, y0, 300, 300),
                V3: _utm_box(x0 + 600, y0, 300, 300)}
    conn.execute(text("INSERT INTO regions (code, name, level, geom) VALUES "
                      "(:c, '手算镇', 'town', ST_GeomFromText(:g, 4326))"),
                 {"c": TOWN, "g": mp(shapely.union_all(list(villages.values())))})
    for (code, g), name in zip(villages.items(), ("东村村委会", "西村村委会", "南村村委会"),
                               strict=True):
        conn.execute(text("INSERT INTO regions (code, name, level, parent_code, geom) VALUES "
                          "(:c, :n, 'village', :p, ST_GeomFromText(:g, 4326))"),
                     {"c": code, "n": name, "p": TOWN, "g": mp(g)})
    conn.execute(text("INSERT INTO compounds (code, name, region_code, population, households, "
                      "geom) VALUES ('HC1', '手算小区', :v, 1, 1, ST_GeomFromText(:g, 4326))"),
                 {"v": V1, "g": mp(_utm_box(x0 + 5, y0 + 5, 40, 30))})
    rows = {code: (x0 + 10 + 50 * i, y0 + 10, w, d, t, lv, h, "HC1" if code == "B1" else None,
                   3, "sample") for i, (code, (w, d, t, lv, h)) in enumerate(FIVE.items())}
    rows["B1"] = (x0 + 10, y0 + 10, 20, 10, "apartments", 6, None, "HC1", 3, "sample")
    rows["G1"] = (x0 + 400, y0 + 100, 6, 5, "garage", None, None, None, 7, "imported")
    rows["H1"] = (x0 + 700, y0 + 100, 10, 10, "house", None, None, None, 9, "sample")
    ids = {}
    for code, (x, y, w, d, t, lv, h, comp, pop, src) in rows.items():
        ids[code] = conn.execute(text(
            "INSERT INTO buildings (code, compound_code, population, households, building_type, "
            "levels, height_m, population_source, geom) VALUES (:c, :k, :p, 1, :t, :lv, :h, "
            ":s, ST_GeomFromText(:g, 4326)) RETURNING id"),
            {"c": code, "k": comp, "p": pop, "t": t, "lv": lv, "h": h, "s": src,
             "g": mp(_utm_box(x, y, w, d))}).scalar_one()
    conn.execute(text("INSERT INTO village_population (region_code, population, year, source) "
                      "VALUES (:a, 1001, 2020, '手算.csv'), (:b, 50, 2020, '手算.csv')"),
                 {"a": V1, "b": V2})
    return ids


def _buildings(conn) -> dict[str, tuple]:
    return {r.code: (r.population, r.households, r.population_source) for r in conn.execute(
        text("SELECT code, population, households, population_source FROM buildings "
             "WHERE code = ANY(:c)"), {"c": [*FIVE, "G1", "H1"]})}


def test_the_hand_worked_village_in_the_database(conn):
    _hand_town(conn)
    # the footprints measured on the spheroid: a UTM rectangle is its area divided
    # by the areal scale of UTM 49N at 113.3°E (1.00057), within 0.1 %
    areas = dict(conn.execute(text(
        "SELECT code, ST_Area(geom::geography) FROM buildings WHERE code = ANY(:c)"),
        {"c": list(FIVE)}).all())
    for code, (w, d, *_) in FIVE.items():
        assert areas[code] == pytest.approx(w * d, rel=1e-3), code
    versions = dict(conn.execute(text("SELECT name, version FROM data_versions")).all())
    report = spread_population(conn, TOWN, actor="test")
    got = _buildings(conn)
    for code in FIVE:
        assert got[code] == (FIVE_PEOPLE[code], FIVE_HOUSEHOLDS[code], "census"), code
    # V2 has only a garage: its 50 people cannot be placed, and the garage keeps its 7
    assert got["G1"] == (7, 1, "imported")
    # V3 has no census total: untouched
    assert got["H1"] == (9, 1, "sample")
    by = {v.code: v for v in report.villages}
    assert set(by) == {V1, V2}
    assert (by[V1].placed, by[V1].people, by[V1].buildings, by[V1].residential) == \
        (True, 1001, 5, 4)
    assert (by[V2].placed, by[V2].people, by[V2].buildings, by[V2].residential) == \
        (False, 0, 1, 0)
    assert "不是住宅" in by[V2].reason
    assert (report.people_spread, report.buildings_used, report.people_unplaced) == \
        (1001, 4, 50)
    assert report.buildings_changed == 5
    text_ = report.to_text()
    assert "西村村委会（440199001002）50 人" in text_ and "无法分摊 1 个" in text_
    # the compound is the sum of its buildings: B1 alone
    assert conn.execute(text("SELECT population, households FROM compounds WHERE code = 'HC1'")
                        ).one() == (458, 175)
    # the triggers bumped the versions of what was written
    after = dict(conn.execute(text("SELECT name, version FROM data_versions")).all())
    assert after["buildings"] > versions["buildings"]
    assert after["compounds"] > versions["compounds"]
    # again: nothing changes
    again = spread_population(conn, TOWN, actor="test")
    assert (again.buildings_changed, again.compounds_changed) == (0, 0)
    # the coverage counts the census people of V1 and says the sources are mixed
    town = cov.load_town(conn, TOWN)
    src = town.population_source()
    assert src.source == "mixed"
    assert src.people == {"census": 1001, "imported": 7, "sample": 9}
    assert src.label_zh == "人口来源：多种来源（普查分摊 1,001 人、逐栋导入 7 人、样例生成 9 人）"


def test_dry_run_and_nothing_to_spread(conn):
    _hand_town(conn)
    before = _buildings(conn)
    report = spread_population(conn, TOWN, dry_run=True)
    assert report.people_spread == 1001 and report.dry_run
    assert _buildings(conn) == before
    with pytest.raises(InvalidInput, match="没有村（社区）常住人口"):
        spread_population(conn, V3)


def test_every_village_adds_up_to_its_census_total_on_longteng(samples_conn):
    """Longteng's five communities get census totals (made up here); after the
    spread, the buildings of each (compound's community, else the community
    holding the centroid) sum exactly to its total."""
    conn = samples_conn
    villages = conn.execute(text(
        "SELECT code FROM regions WHERE parent_code = '440507013' ORDER BY code")).scalars().all()
    assert len(villages) == 5
    totals = {v: 10_007 + 3_331 * i for i, v in enumerate(villages)}
    for v, n in totals.items():
        conn.execute(text("INSERT INTO village_population (region_code, population, source) "
                          "VALUES (:v, :n, 'test')"), {"v": v, "n": n})
    report = spread_population(conn, "440507013")
    assert all(v.placed for v in report.villages) and len(report.villages) == 5
    sums = dict(conn.execute(text("""
        SELECT v.code, sum(b.population) FROM regions v
        JOIN buildings b ON b.deleted_at IS NULL
        LEFT JOIN compounds c ON c.code = b.compound_code AND c.deleted_at IS NULL
        WHERE v.code = ANY(:v)
          AND (c.region_code = v.code
               OR (c.code IS NULL AND ST_Intersects(v.geom, ST_Centroid(b.geom))))
        GROUP BY v.code"""), {"v": villages}).all())
    assert sums == totals
    # every building of the five got its people from the census
    assert conn.execute(text(
        "SELECT count(*) FROM buildings b JOIN compounds c ON c.code = b.compound_code "
        "WHERE c.region_code = ANY(:v) AND b.population_source IS DISTINCT FROM 'census'"),
        {"v": villages}).scalar_one() == 0
    # compounds are the sums of their buildings
    assert conn.execute(text("""
        SELECT count(*) FROM compounds c
        WHERE c.region_code = ANY(:v) AND c.population <> (
            SELECT coalesce(sum(population), 0) FROM buildings b
            WHERE b.compound_code = c.code AND b.deleted_at IS NULL)"""),
        {"v": villages}).scalar_one() == 0
