"""Budget-limited walks and reached edge pieces.

Small graphs are worked out by hand (arithmetic in the comments); on the Helsinki
extract node distances are checked against networkx. No test measures time.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import shapely

from geo.isochrones import (
    circle_polygon,
    circles_for_sources,
    exact_polygon,
)
from geo.vocab import CircleMethod
from geo.walk import reach, reach_many
from tests.geo.networks import helsinki_sources


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
