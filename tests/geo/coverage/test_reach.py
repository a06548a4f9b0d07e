"""Reach on the tiny town, by hand: the figures of the town, its villages, grid
cells and points under every rule; monotonicity; computing missing circles."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box
from sqlalchemy import text

from geo import coverage as cov
from tests.geo.coverage.town import CIRCLE_A, CIRCLE_B, TOWN, V1, V2, add_circle, by_code, mp


def test_reach_coverage_by_hand(tiny):
    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    t = r.totals
    assert (t.buildings, t.buildings_covered, t.buildings_pct) == (6, 3, 50.0)
    assert (t.population, t.population_covered, t.population_pct) == (500, 230, 46.0)
    assert t.population_fraction == "230/500" and t.population_uncovered == 270
    assert (t.households, t.households_covered) == (185, 80)
    assert (t.compounds, t.compounds_covered, t.compounds_pct) == (2, 1.33, 66.67)
    assert (t.compounds_full, t.compounds_partial, t.compounds_uncovered) == (1, 1, 0)
    rows = by_code(r.by_region)
    assert (rows[V1].buildings_covered, rows[V1].population_covered,
            rows[V1].population_pct) == (1, 100, 28.57)
    assert (rows[V1].compounds_covered, rows[V1].compounds_pct) == (0.33, 33.33)
    assert (rows[V2].buildings_covered, rows[V2].population_covered,
            rows[V2].population_pct) == (2, 130, 86.67)
    assert rows[V2].compounds_pct == 100.0
    # the result states its rule and parameters
    assert r.rule.building == "centroid" and "centroid" in r.rule.text
    assert r.parameters.minutes == 10 and r.parameters.profile == "elderly"
    assert r.parameters.budget_m == 600 and r.parameters.rounding == "half_up"
    assert r.circles.count == 2 and r.circles.stale == 0
    # per grid (both kinds)
    grids = by_code(r.by_grid)
    assert (grids["G1"].population_covered, grids["G2"].population_covered) == (100, 130)
    assert (grids["PG1"].buildings, grids["PG1"].buildings_covered,
            grids["PG1"].population, grids["PG1"].population_covered) == (2, 1, 150, 100)
    assert grids["PG1"].kind == "party" and grids["G1"].has_branch is True
    # who each point reaches
    points = by_code(r.by_point)
    assert points["P1"].population == 100 and points["P2"].population == 130
    assert points["P2"].population_only_here == 130


def test_rounding_rule_applies_everywhere(tiny):
    p = cov.CoverageParams(rounding="truncate")
    r = cov.reach_coverage(cov.analyse(tiny, TOWN, p))
    assert r.totals.compounds_pct == 66.66
    assert by_code(r.by_region)[V2].population_pct == 86.66
    assert r.parameters.rounding == "truncate"


@pytest.mark.parametrize("rule, compound_rule, buildings, population, compounds", [
    ("intersects", "population_share", 4, 250, 1.33),  # B6's footprint touches circle B
    ("within", "population_share", 3, 230, 1.33),
    ("centroid", "any", 3, 230, 2.0),        # C1 has a covered building → counts 1
    ("centroid", "majority", 3, 230, 1.0),   # C1: 1/3 < 1/2
    ("centroid", "all", 3, 230, 1.0),
])
def test_rules(tiny, rule, compound_rule, buildings, population, compounds):
    p = cov.CoverageParams(rule=cov.CoverageRule(rule, compound_rule))
    t = cov.reach_coverage(cov.analyse(tiny, TOWN, p)).totals
    assert (t.buildings_covered, t.population_covered, t.compounds_covered) == \
        (buildings, population, compounds)


def test_within_uses_the_union_of_circles(tiny):
    # B7 straddles circles A and a new circle C: inside their union, in neither alone
    tiny.execute(text(
        "INSERT INTO buildings (code, compound_code, population, households, geom) VALUES "
        "('B7', 'C1', 10, 4, ST_GeomFromText(:g, 4326))"),
        {"g": mp(box(113.0024, 23.0014, 113.0026, 23.0016))})
    add_circle(tiny, "P3", "civilization", box(113.0025, 23.0010, 113.0040, 23.0020))
    within = cov.CoverageParams(rule=cov.CoverageRule("within"))
    t = cov.reach_coverage(cov.analyse(tiny, TOWN, within)).totals
    assert t.population_covered == 230 + 10


def test_kinds_select_circles(tiny):
    p = cov.CoverageParams(kinds=("station",))
    r = cov.reach_coverage(cov.analyse(tiny, TOWN, p))
    assert r.totals.population_covered == 100 and r.circles.count == 1
    assert r.parameters.kinds == ("station",)


def test_kernels_by_hand():
    # points (0, 0) … (9, 0): the box [2.5, 5] × [-1, 1] holds 3, 4 and 5 (5 on its
    # boundary), [8, 20] × [0, 1] holds 8 and 9 (on its lower edge), no polygon nothing
    x, y = np.arange(10, dtype=float), np.zeros(10)
    hits = cov.points_in_polygons([box(2.5, -1, 5, 1), box(8, 0, 20, 1), None], x, y)
    assert [h.tolist() for h in hits] == [[3, 4, 5], [8, 9], []]


def test_circle_hits_and_covered_mask_on_the_tiny_town(tiny):
    town = cov.load_town(tiny, TOWN)
    hits = cov.circle_hits(town, [CIRCLE_A, CIRCLE_B], cov.CoverageRule())
    codes = dict(zip(town.b_id.tolist(), ["B1", "B2", "B3", "B4", "B5", "B6"], strict=True))
    assert [[codes[i] for i in town.b_id[h].tolist()] for h in hits] == [["B1"], ["B4", "B5"]]
    mask = cov.covered_mask(town, [CIRCLE_A, CIRCLE_B], hits=hits)
    assert mask.tolist() == [True, False, False, True, True, False]
    cov_, tot = cov.compound_shares(town, mask, [CIRCLE_A, CIRCLE_B])
    assert (cov_.tolist(), tot.tolist()) == ([100, 100], [300, 100])


def test_adding_a_station_never_decreases_coverage(tiny):
    an = cov.analyse(tiny, TOWN)
    before = cov.reach_coverage(an, by_point=False)
    rng = np.random.default_rng(7)
    for i in range(20):
        x, y = rng.uniform(113.0, 113.02), rng.uniform(23.0, 23.01)
        w, h = rng.uniform(0.0005, 0.006, 2)
        after = cov.reach_coverage(an.with_extra([box(x, y, x + w, y + h)], [f"N{i}"]),
                                   by_point=False)
        for a, b in zip([before.totals, *before.by_region, *before.by_grid],
                        [after.totals, *after.by_region, *after.by_grid],
                        strict=True):
            for f in ("buildings_covered", "population_covered", "households_covered",
                      "compounds_covered"):
                assert getattr(b, f) >= getattr(a, f), (i, a.code, f)


def test_compute_option_computes_missing_circles(tiny):
    # no walking network here: straight-line circles of 5 min × 5 km/h = 416.7 m
    an = cov.analyse(tiny, TOWN, cov.CoverageParams(minutes=5, profile="adult"), compute=True)
    assert len(an.circles) == 2 and an.circles.missing == []
    n = tiny.execute(text("SELECT count(*) FROM service_circles WHERE minutes = 5")).scalar()
    assert n == 2
