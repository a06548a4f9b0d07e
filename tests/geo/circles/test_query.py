"""Nearest service points by walking agree with pgRouting's walks on the same
edge table.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from sqlalchemy import text

from geo.circles import (
    Networks,
)


def _pgr_walks(conn, dataset, network, start, snaps):
    """pgRouting's walk (``pgr_withPointsCost``, both sides) from ``start`` to each
    snapped target, plus both off-network legs; inf where it finds no path."""
    ids = network.cache["edge_ids"]
    values = ", ".join(
        f"({pid}, {int(ids[s.edge])}::bigint, {s.fraction!r}::float8, ''b''::char)"
        for pid, s in enumerate([start, *snaps], start=1))
    edges_sql = ("SELECT id, source, target, cost, reverse_cost FROM network_edges "
                 f"WHERE dataset = ''{dataset}''")
    points_sql = f"SELECT * FROM (VALUES {values}) AS t(pid, edge_id, fraction, side)"
    rows = conn.execute(text(f"""
        SELECT -end_pid AS pid, agg_cost FROM pgr_withPointsCost(
            '{edges_sql}', '{points_sql}', -1,
            ARRAY(SELECT -g FROM generate_series(2, {len(snaps) + 1}) g)::bigint[],
            directed => true, driving_side => 'b')""")).all()
    walk = np.full(len(snaps), np.inf)
    for pid, cost in rows:
        walk[pid - 2] = cost + start.off_network_m + snaps[pid - 2].off_network_m
    return walk


def test_nearest_points_agree_with_pgrouting(samples_conn):
    """The k nearest points by walk (the early-stopping search) are the k
    smallest of pgRouting's one-to-many walking costs to every point, with the
    same distances, from starts beside streets of the largest component."""
    from geo.circles import load_point_set, nearest_in, point_targets

    networks = Networks.load(samples_conn)
    net = networks.by_dataset["lishui"]
    points = load_point_set(samples_conn)
    on, _ = point_targets(net, points, 300.0)
    px, py = net.project(points.lng[on], points.lat[on])
    snaps = net.snap_many(px, py)
    rng = np.random.default_rng(3)
    checked = 0
    for node in rng.choice(net.largest_component(), size=10, replace=False):
        # 6 m beside a point 40 % along an edge at the node
        e = net.node_snap(int(node)).edge
        p = shapely.line_interpolate_point(net.edge_geoms[e], 0.4 * net.length[e])
        lng, lat = net.unproject(p.x + 6.0, p.y)
        start = net.snap(*map(float, net.project(lng, lat)))
        walk = _pgr_walks(samples_conn, "lishui", net, start, snaps)
        order = np.lexsort((np.arange(len(walk)), walk))
        for k in (1, 6):
            got = nearest_in(points, net, float(lng), float(lat), k=k)
            assert [g["properties"]["method"] for g in got] == ["network"] * k
            dist = [g["properties"]["walk_distance_m"] for g in got]
            assert dist == pytest.approx([walk[j] for j in order[:k]], abs=0.051)
            # the same points, unless two are tied within rounding
            if (np.diff(np.sort(walk)[: k + 1]) > 0.01).all():
                assert [g["properties"]["code"] for g in got] == \
                    [points.rows[on[j]].code for j in order[:k]]
                checked += 1
    assert checked >= 15
