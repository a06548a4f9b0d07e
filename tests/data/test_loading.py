"""The loaded samples reproduce the published facts (FACTS.md; articles
000_*.txt / 004_*.txt for Lishui, 001_*.txt for Longteng, 003_*.txt for
Meihuacun) and are valid."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.conftest import scalar

ROOT = Path(__file__).resolve().parents[2]


def _villages(town: str) -> dict[str, str]:
    with open(ROOT / "data" / "divisions.csv", encoding="utf-8") as f:
        return {r["code"]: r["name"] for r in csv.DictReader(f)
                if r["parent_code"] == town and r["level"] == "village"}


def test_lishui_has_170_points_and_its_real_villages(samples_conn):
    c = samples_conn
    assert scalar(c, "SELECT count(*) FROM service_points WHERE region_code LIKE '440605126%'") \
        == 170
    rows = c.execute(__import__("sqlalchemy").text(
        "SELECT code, name FROM regions WHERE parent_code = '440605126'")).all()
    assert dict(rows) == _villages("440605126")
    assert scalar(c, "SELECT level FROM regions WHERE code = '440605126'") == "town"
    center = c.execute(__import__("sqlalchemy").text(
        "SELECT name, region_code, rooms, floor_area_m2, hours FROM service_points "
        "WHERE kind = 'town_center' AND region_code LIKE '440605126%'")).one()
    assert center.name == "里水镇党群服务中心"
    assert center.region_code == "440605126050"  # 金峰洲社区
    assert (center.rooms, center.floor_area_m2) == (15, 2000)
    assert center.hours["weekly"]["mon"] == [["09:00", "21:00"]]
    assert center.hours["weekly"]["sun"] == [["09:00", "21:00"]]


def test_lishui_population_and_area(samples_conn):
    c = samples_conn
    pop = scalar(c, "SELECT sum(b.population) FROM buildings b WHERE b.code LIKE 'LS-%'")
    assert 480_000 <= pop <= 520_000
    area_km2 = scalar(c, "SELECT ST_Area(geom::geography) / 1e6 FROM regions "
                         "WHERE code = '440605126'")
    assert 140 <= area_km2 <= 160
    # village polygons partition the town: areas add up, overlaps are negligible
    villages_km2 = scalar(c, "SELECT sum(ST_Area(geom::geography)) / 1e6 FROM regions "
                             "WHERE parent_code = '440605126'")
    assert abs(villages_km2 - area_km2) / area_km2 < 0.001


def test_longteng_facts(samples_conn):
    c = samples_conn
    kinds = dict(c.execute(__import__("sqlalchemy").text(
        "SELECT kind, count(*) FROM service_points WHERE region_code LIKE '440507013%' "
        "GROUP BY kind")).all())
    assert kinds == {"town_center": 1, "village_center": 5, "station": 27}
    assert scalar(c, "SELECT count(*) FROM compounds WHERE region_code LIKE '440507013%'") == 36
    covered = scalar(c, "SELECT count(DISTINCT bc.compound_code) FROM branch_compounds bc "
                        "JOIN party_branches b ON b.code = bc.branch_code "
                        "WHERE b.region_code LIKE '440507013%'")
    assert covered == 32
    assert scalar(c, "SELECT count(*) FROM party_branches WHERE region_code LIKE '440507013%'") \
        == 6
    assert scalar(c, "SELECT count(*) FROM grid_cells WHERE region_code LIKE '440507013%'") == 12
    assert scalar(c, "SELECT count(*) FROM grid_cells WHERE region_code LIKE '440507013%' "
                     "AND has_branch") == 4
    # has_branch agrees with where the branches sit
    seated = scalar(c, """
        SELECT count(DISTINCT g.code) FROM party_branches b
        JOIN compounds k ON k.code = b.seat_compound_code
        JOIN grid_cells g ON ST_Contains(g.geom, ST_PointOnSurface(k.geom))
        WHERE b.region_code LIKE '440507013%'""")
    assert seated == 4


def test_all_geometries_valid_and_points_inside_their_region(samples_conn):
    c = samples_conn
    for table in ("regions", "service_points", "grid_cells", "compounds", "buildings",
                  "network_edges", "water_areas"):
        bad = scalar(c, f"SELECT count(*) FROM {table} WHERE geom IS NOT NULL "
                        "AND NOT ST_IsValid(geom)")
        assert bad == 0, table
    outside = scalar(c, "SELECT count(*) FROM service_points p JOIN regions r "
                        "ON r.code = p.region_code WHERE NOT ST_Covers(r.geom, p.geom)")
    assert outside == 0
    assert scalar(c, "SELECT count(*) FROM service_points WHERE NOT synthetic") == 0


def test_network_is_pgrouting_compatible(samples_conn):
    c = samples_conn
    # every edge's endpoints are its source/target nodes
    mismatched = scalar(c, """
        SELECT count(*) FROM network_edges e
        JOIN network_nodes s ON s.id = e.source JOIN network_nodes t ON t.id = e.target
        WHERE ST_DWithin(ST_StartPoint(e.geom)::geography, s.geom::geography, 0.5) IS NOT TRUE
           OR ST_DWithin(ST_EndPoint(e.geom)::geography, t.geom::geography, 0.5) IS NOT TRUE""")
    assert mismatched == 0
    # lengths in metres agree with PostGIS' geodesic length within 0.5 %
    worst = scalar(c, "SELECT max(abs(length_m - ST_Length(geom::geography)) / length_m) "
                      "FROM network_edges")
    assert worst < 0.005
    # pgRouting accepts the table
    n = scalar(c, """
        SELECT count(*) FROM pgr_dijkstra(
          'SELECT id, source, target, cost, reverse_cost FROM network_edges
           WHERE dataset = ''longteng''',
          (SELECT min(source) FROM network_edges WHERE dataset = 'longteng'),
          (SELECT max(target) FROM network_edges WHERE dataset = 'longteng'))""")
    assert n > 1


def test_reloading_a_sample_replaces_it(samples_engine, samples):
    from data.loading import load_sample

    with samples_engine.connect() as c:
        before = scalar(c, "SELECT count(*) FROM service_points")
        edges = scalar(c, "SELECT count(*) FROM network_edges")
    load_sample(samples_engine, samples["longteng"], log=lambda m: None)
    with samples_engine.connect() as c:
        assert scalar(c, "SELECT count(*) FROM service_points") == before
        assert scalar(c, "SELECT count(*) FROM network_edges") == edges


def test_meihuacun_loads_into_a_scratch_database(pg_cluster):
    """梅花村街道 (003_*.txt) loads into a fresh database: every table holds as many
    rows as the generated frames, the center keeps its published attributes."""
    from sqlalchemy import create_engine, text

    import data
    from data.loading import load_sample
    from geo.store.migrate import upgrade

    s = data.generate("meihuacun")
    url = pg_cluster.create_database("sm_meihuacun")
    upgrade(url)
    eng = create_engine(url)
    try:
        counts = load_sample(eng, s, log=lambda m: None)
        with eng.connect() as c:
            def n(sql: str) -> int:
                return scalar(c, sql)

            assert counts["points"] == n("SELECT count(*) FROM service_points") == len(s.points)
            assert n("SELECT count(*) FROM regions WHERE code LIKE '440104013%'") \
                == len(s.regions) == 16
            assert scalar(c, "SELECT name FROM regions WHERE code = '440104'") == "越秀区"
            assert counts["grids"] == n("SELECT count(*) FROM grid_cells") == len(s.grids)
            assert counts["compounds"] == n("SELECT count(*) FROM compounds") \
                == len(s.compounds)
            assert counts["buildings"] == n("SELECT count(*) FROM buildings") \
                == len(s.buildings)
            assert counts["branches"] == n("SELECT count(*) FROM party_branches") \
                == len(s.branches)
            assert n("SELECT count(*) FROM branch_compounds") \
                == sum(len(x) for x in s.branches["compound_codes"])
            assert counts["network_nodes"] == n(
                "SELECT count(*) FROM network_nodes WHERE dataset = 'meihuacun'") == len(s.nodes)
            assert counts["network_edges"] == n(
                "SELECT count(*) FROM network_edges WHERE dataset = 'meihuacun'") == len(s.edges)
            assert n("SELECT count(*) FROM water_areas") == len(s.water)
            assert n("SELECT sum(population) FROM buildings") == s.buildings["population"].sum()
            center = c.execute(text(
                "SELECT name, address, region_code, floor_area_m2, services FROM service_points "
                "WHERE kind = 'town_center'")).one()
            assert center.name == "梅花村街道党群服务中心"
            assert center.address == "梅花村街道杨箕社区杨箕雄镇大街20号"
            assert (center.region_code, center.floor_area_m2) == ("440104013015", 2000)
            assert len(center.services) == 7
            assert n("SELECT count(*) FROM service_points p JOIN regions r "
                     "ON r.code = '440104013' WHERE NOT ST_Covers(r.geom, p.geom)") == 0
    finally:
        eng.dispose()
