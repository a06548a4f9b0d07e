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


def _variant(points, *, move=(), drop=(), add=()):
    """``points`` with some moved (index → dx, dy in degrees), dropped and added."""
    from geo.circles import PointSet

    keep = [i for i in range(len(points)) if i not in set(drop)]
    lng, lat = points.lng.copy(), points.lat.copy()
    for i, (dx, dy) in move:
        lng[i] += dx
        lat[i] += dy
    lng = np.concatenate([lng[keep], [a for a, _ in add]])
    lat = np.concatenate([lat[keep], [b for _, b in add]])
    rows = tuple(points.rows[i] for i in keep) + tuple(points.rows[0] for _ in add)
    return PointSet(rows, lng, lat, hash((lng.tobytes(), lat.tobytes())))


def test_point_targets_update_in_place_equals_a_full_preparation(samples_conn):
    """A new set of points prepared from the last one (moved, added and removed
    points) has the same snaps and walk table as one prepared from scratch,
    and walks only the points that are new or moved."""
    from geo.circles import NEAREST_TABLE_CELLS, load_point_set, point_targets
    from geo.walk import prepare_targets

    net = Networks.load(samples_conn).by_dataset["longteng"]
    points = load_point_set(samples_conn)
    on0, t0 = point_targets(net, points, 300.0)
    walked = net.cache["point_targets_walked"]
    assert t0.table is not None and walked[0] == len(on0) > 10
    first = int(on0[0])
    a, b = float(points.lng[first]), float(points.lat[first])
    # each set follows the one before it, as planners' edits do
    variants = [
        ("moved one", lambda p: _variant(p, move=[(first, (0.0004, -0.0003))]), 1),
        ("added two, dropped three",
         lambda p: _variant(p, drop=[int(on0[1]), int(on0[2]), int(on0[3])],
                            add=[(a + 0.001, b), (a, b + 0.001)]), 2),
        ("names only", _variant, 0),
        ("the first moved back", lambda p: _variant(p, move=[(first, (-0.0004, 0.0003))]), 1),
    ]
    previous = points
    for what, change, expect_walked in variants:
        pts = change(previous)
        before = walked[0]
        on, got = point_targets(net, pts, 300.0)
        assert walked[0] - before == expect_walked, what
        px, py = net.project(pts.lng, pts.lat)
        snaps = net.snap_many(px, py, max_snap_m=300.0)
        ref_on = np.array([i for i, s in enumerate(snaps) if s is not None])
        ref = prepare_targets(net, [snaps[i] for i in ref_on],
                              table_max_cells=NEAREST_TABLE_CELLS)
        np.testing.assert_array_equal(on, ref_on, err_msg=what)
        for field in ("edge", "to_source", "to_target", "off", "node_ptr", "node_target",
                      "node_along"):
            np.testing.assert_allclose(getattr(got, field), getattr(ref, field),
                                       rtol=0, atol=1e-9, err_msg=f"{what}: {field}")
        np.testing.assert_allclose(got.table, ref.table, rtol=0, atol=1e-6, err_msg=what)
        previous = pts


def test_readers_of_a_stale_snapshot_are_not_held_up(samples_url):
    """When the data moved on (another process's write), every search finds
    the snapshot behind: each gets the previous one at once, one background
    thread updates it (holding the only connection), and the writer's own
    refresh waits for that update. Before, each of 24 readers held a
    connection while waiting, and a burst of searches took the whole pool."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import event

    from geo.circles import NetworkCache, QuerySnapshot
    from geo.store.engine import make_engine
    from geo.store.versions import DataVersions

    engine = make_engine(samples_url, pool_size=2, max_overflow=40)
    held = peak = 0
    lock = threading.Lock()

    def out(*_):
        nonlocal held, peak
        with lock:
            held += 1
            peak = max(peak, held)

    def back(*_):
        nonlocal held
        with lock:
            held -= 1

    try:
        versions = DataVersions(engine, ttl_s=3600)
        snapshot = QuerySnapshot(versions, NetworkCache(versions), max_snap_m=500)
        first = snapshot.load()
        entry = snapshot._cache.lookup("snapshot")
        # the points' version moves on (as after a planner's edit)
        snapshot._cache.put("snapshot", (entry.version[0], "older"), entry.value)
        build = snapshot._build

        def slow_build(*args):  # as a big town's: the readers arrive meanwhile
            time.sleep(0.3)
            return build(*args)

        snapshot._build = slow_build
        event.listen(engine, "checkout", out)
        event.listen(engine, "checkin", back)
        with ThreadPoolExecutor(24) as pool:
            got = list(pool.map(lambda _: snapshot.load(), range(24)))
        # the previous snapshot: none of them waited for the update
        assert all(g is first for g in got)
        snapshot.refresh()  # the writer's: waits for the update under way
        assert snapshot.fresh() is not None and snapshot.fresh() is not first
        assert snapshot.stats()["points"] == 1
        assert peak == 1, peak  # the one update's
    finally:
        engine.dispose()
