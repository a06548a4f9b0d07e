"""Gaps on the tiny town, by hand: uncovered people per area, ranked compounds
and buildings, H3 cells, gap areas; the public answer hides small cells."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import box

from geo import coverage as cov
from tests.geo.coverage.town import TOWN, V1, V2


def test_gaps_by_hand(tiny):
    an = cov.analyse(tiny, TOWN)
    g = cov.gap_report(an, detail=True, limit=50, conn=tiny)
    assert g.totals.population_uncovered == 270
    assert g.totals.buildings_uncovered == 3
    assert [(b.code, b.population) for b in g.buildings] == \
        [("B2", 200), ("B3", 50), ("B6", 20)]
    assert [(c.code, c.population_uncovered, c.covered_pct) for c in g.compounds] \
        == [("C1", 200, 33.33)]
    assert [r.code for r in g.by_region] == [V1, V2]  # most uncovered first
    h = g.hexagons
    assert h.resolution == 8 and 400 < h.edge_m < 600
    assert sum(c.population_uncovered for c in h.cells) == 270
    # gap areas: raster cells of residential land outside both circles
    a = g.areas
    assert a.area_m2 > 0 and a.area_m2 % (30 * 30) == pytest.approx(0, abs=1e-3)
    assert sum(f["properties"]["population_uncovered"] for f in a.features) == 270
    c2 = box(113.012, 23.001, 113.015, 23.004)
    for f in a.features:
        poly = shapely.geometry.shape(f["geometry"])
        assert poly.intersection(c2).area < 1e-9  # C2 lies inside circle B
        assert not poly.contains(shapely.Point(113.002, 23.002))  # B1 is covered
    # public answer: uncovered hexagons with fewer than 3 buildings are not listed
    public = cov.gap_report(an, conn=tiny)
    assert "buildings" not in public.as_dict() and "compounds" not in public.as_dict()
    sup = public.hexagons.suppressed
    assert sum(c.population_uncovered for c in public.hexagons.cells) + \
        sup.population_uncovered == 270


def test_gap_rows_of_grid_cells_by_hand(tiny):
    # G1 = V1: B2 (200) and B3 (50) uncovered; PG1 holds B3 (50) and B4 (covered)
    g = cov.gap_report(cov.analyse(tiny, TOWN), areas=False)
    cells = {r.code: r for r in g.by_grid}
    assert (cells["G1"].population_uncovered, cells["G1"].buildings_uncovered) == (250, 2)
    assert (cells["PG1"].population_uncovered, cells["PG1"].kind) == (50, "party")
    assert g.areas is None and "areas" not in g.as_dict()


def test_h3_resolution_for_500_m():
    assert cov.h3_resolution_for(500) == 8
    assert cov.h3_resolution_for(200) == 9
