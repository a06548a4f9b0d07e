"""Regions, the town in memory and the stored circles: which region, which
circles are stale or missing, and the errors that say what to do."""

from __future__ import annotations

import pytest
from shapely.geometry import box
from sqlalchemy import text

from geo import coverage as cov
from geo.errors import Conflict, InvalidInput, NotFound
from tests.geo.coverage.town import TOWN, V1, V2, mp


def test_unknown_region(tiny):
    with pytest.raises(NotFound, match="999999"):
        cov.analyse(tiny, "999999")


def test_region_required_when_several_towns(tiny):
    tiny.execute(text("INSERT INTO regions (code, name, level) VALUES ('440100002', '另镇', "
                      "'town')"))
    with pytest.raises(InvalidInput, match="440100001 小镇"):
        cov.analyse(tiny, None)


def test_town_assigns_buildings_to_villages(tiny):
    # by hand: B1-B3 lie in V1 (B1, B2 through C1), B4-B6 in V2 (B4 through C2)
    town = cov.load_town(tiny, TOWN)
    assert [a.code for a in town.leaves] == [V1, V2]
    assert town.b_leaf.tolist() == [0, 0, 0, 1, 1, 1]
    assert town.b_pop.tolist() == [100, 200, 50, 100, 30, 20]
    assert town.compound_building_pop().tolist() == [300, 100]
    assert sorted(town.g_code.tolist()) == ["G1", "G2", "PG1"]


def test_minutes_without_circles_say_how_to_compute_them(tiny):
    with pytest.raises(Conflict, match="servicemap isochrones --minutes 15 --profile "
                                           "elderly"):
        cov.analyse(tiny, TOWN, cov.CoverageParams(minutes=15))


def test_village_region_and_stale_circles(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, V2))
    assert r.region.code == V2 and r.by_region == ()
    assert (r.totals.population, r.totals.population_covered) == (150, 130)
    # the point moved (version bumped): its circle is reported stale
    tiny.execute(text("UPDATE service_points SET version = 2 WHERE code = 'P2'"))
    assert cov.analyse(tiny, V2).circles.stale == ["P2"]


def test_empty_town(conn):
    conn.execute(text("INSERT INTO regions (code, name, level, geom) VALUES ('440100009', "
                      "'空镇', 'town', ST_GeomFromText(:g, 4326))"),
                 {"g": mp(box(114.0, 23.0, 114.01, 23.01))})
    with pytest.raises(InvalidInput, match="没有住宅建筑"):
        cov.analyse(conn, "440100009")
    with pytest.raises(InvalidInput, match="没有住宅小区"):
        cov.branch_coverage(conn, "440100009")
    with pytest.raises(InvalidInput, match="没有网格"):
        cov.grid_view(conn, "440100009")
