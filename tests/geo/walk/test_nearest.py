"""Nearest targets by walking: hand graphs and networkx on Helsinki."""

from __future__ import annotations

import networkx as nx
import numpy as np

from geo.walk import nearest_by_walk, prepare_targets
from tests.geo.networks import helsinki_sources


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
