"""Service-circle polygons: the fast polygon against the exact one (hand graphs,
Helsinki), holes, the straight-line fallback and argument checks.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from geo.isochrones import (
    DEFAULT_GRID_M,
    circle_polygon,
    circles_for_sources,
    exact_polygon,
    straight_line_circle,
    to_wgs84,
)
from geo.profiles import walking_budget
from geo.vocab import CircleMethod
from geo.walk import reach
from tests.geo.networks import helsinki_sources, sym_diff_ratio


def test_duplicate_starts_give_identical_circles(small):
    s = small.snap(50.0, 10.0)
    a, b = circles_for_sources(small, [s, small.snap(50.0, 10.0)], 160.0)
    assert a.polygon.wkb == b.polygon.wkb
    assert a.reached_length_m == b.reached_length_m == 300.0


def test_batch_equals_single(small):
    s = small.snap(50.0, 10.0)
    (c,) = circles_for_sources(small, [s], 160.0)
    assert c.polygon.wkb == circle_polygon(small, reach(small, s, 160.0)).wkb
    assert c.grid_m == DEFAULT_GRID_M and c.walk_off_m == 25.0


def test_fast_polygon_matches_exact_on_the_hand_graph(small):
    r = reach(small, small.snap(50.0, 10.0), 160.0)
    fast, exact = circle_polygon(small, r), exact_polygon(small, r)
    assert fast.is_valid and fast.geom_type == "Polygon"
    assert sym_diff_ratio(fast, exact) < 0.005
    # an L of A-D and A-B plus half of B-C, buffered 25 m
    assert fast.contains(Point(150, 20)) and not fast.contains(Point(250, 0))


def test_enclosed_block_is_a_hole(square):
    s = square.snap(0.0, 100.0)
    r = reach(square, s, 500.0)  # farthest street point: 100 + 200 + 100 = 400 m
    assert r.reached_length_m == 800.0
    fast = circle_polygon(square, r)
    exact = exact_polygon(square, r)
    assert fast.is_valid and fast.geom_type == "Polygon"
    assert len(fast.interiors) == 1 and len(exact.interiors) == 1
    # hole: the block more than 25 m from every street: 150 m x 150 m
    hole = shapely.Polygon(fast.interiors[0])
    assert hole.area == pytest.approx(150 * 150, rel=0.005)
    assert hole.contains(Point(100, 100)) and not fast.contains(Point(100, 100))
    # outer: 250 m x 250 m with four quarter-circle corners of radius 25 m
    area = 250**2 - (4 - math.pi) * 25**2 - 150**2
    assert exact.area == pytest.approx(area, rel=0.002)
    assert fast.area == pytest.approx(area, rel=0.005)
    assert sym_diff_ratio(fast, exact) < 0.005


def test_straight_line_fallback_for_points_off_the_network(small):
    assert small.snap(5000.0, 5000.0) is None
    budget = walking_budget("adult", 10)
    snaps = [small.snap(5000.0, 5000.0), small.snap(50.0, 10.0)]
    far, near = circles_for_sources(small, snaps, budget,
                                    fallback_xy=np.array([[5000.0, 5000.0], [50.0, 10.0]]))
    assert far.method is CircleMethod.STRAIGHT_LINE and near.method is CircleMethod.NETWORK
    assert far.snap is None and far.walk_off_m == 0.0
    assert far.polygon.area == pytest.approx(math.pi * budget.metres**2, rel=0.005)
    assert far.polygon.centroid.distance(Point(5000, 5000)) < 1e-6
    assert (far.profile, far.speed_kmh, far.minutes) == ("adult", 5.0, 10.0)
    assert (near.profile, near.speed_kmh, near.budget_m) == ("adult", 5.0, budget.metres)
    assert circles_for_sources(small, snaps, 100.0)[0] is None  # no fallback asked for
    c = straight_line_circle(0.0, 0.0, 300.0)
    assert c.method is CircleMethod.STRAIGHT_LINE and c.profile is None


def test_polygon_to_wgs84(small):
    poly = circle_polygon(small, reach(small, small.snap(50.0, 10.0), 160.0))
    lnglat = to_wgs84(small, poly)
    assert lnglat.is_valid
    minx, miny, maxx, maxy = lnglat.bounds
    assert -180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90


def test_invalid_polygon_arguments(small):
    r = reach(small, small.snap(50.0, 10.0), 160.0)
    with pytest.raises(ValueError, match="grid_m"):
        circle_polygon(small, r, grid_m=0.0)
    with pytest.raises(ValueError, match="walk_off_m"):
        circle_polygon(small, r, walk_off_m=-1.0)
    with pytest.raises(ValueError, match="budget"):
        reach(small, small.snap(50.0, 10.0), -5.0)


@pytest.mark.parametrize("budget", [500.0, 833.3])
def test_fast_polygon_is_close_to_exact_on_helsinki(helsinki, budget):
    _, _, net = helsinki
    snaps = helsinki_sources(net, 10, seed=5)
    circles = circles_for_sources(net, snaps, budget)
    ratios = []
    for s, c in zip(snaps, circles, strict=True):
        exact = exact_polygon(net, reach(net, s, budget))
        assert c.polygon.is_valid, shapely.is_valid_reason(c.polygon)
        assert c.polygon.geom_type in ("Polygon", "MultiPolygon")
        ratios.append(sym_diff_ratio(c.polygon, exact))
    assert np.median(ratios) < 0.005
    assert max(ratios) < 0.01
    # dense blocks enclosed by reached streets come out as holes
    assert sum(len(p.interiors) for c in circles for p in getattr(c.polygon, "geoms",
                                                                   [c.polygon])) > 0


def test_helsinki_circles_are_valid_for_all_grid_steps(helsinki):
    _, _, net = helsinki
    snaps = helsinki_sources(net, 6, seed=9)
    for grid_m in (4.0, 6.0, 10.0, 15.0):
        for c in circles_for_sources(net, snaps, 600.0, grid_m=grid_m):
            assert c.polygon.is_valid and not c.polygon.is_empty
