"""``/api/v1/nearest`` searches a snapshot of the networks and points held by
the app: a write through the API shows in the next answer, however long the
snapshot would otherwise live; answers match the documented schema."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.schemas import NearestCollection
from api.settings import Settings
from geo.crs import wgs84_to_gcj02
from tests.api.conftest import bearer
from tests.conftest import make_app

VILLAGE = "440507013001"


@pytest.fixture(scope="module")
def long_lived(rw_engine):
    """An app whose snapshots live an hour: only writes can refresh them."""
    app = make_app(Settings(cache_ttl_s=3600), rw_engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def spot(rw_engine):
    """A WGS-84 point inside a Longteng village, and its distance to the nearest
    street in metres measured by PostGIS in UTM 50N."""
    with rw_engine.connect() as c:
        lng, lat = c.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM regions WHERE code = :c) s"), {"c": VILLAGE}).one()
        off = c.execute(text(
            "SELECT min(ST_Distance(ST_Transform(geom, 32650), "
            "ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 32650))) "
            "FROM network_edges WHERE dataset = 'longteng'"), {"x": lng, "y": lat}).scalar()
    return lng, lat, off


def _nearest(client, lng, lat, **params) -> NearestCollection:
    r = client.get("/api/v1/nearest", params={"lng": lng, "lat": lat, **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return NearestCollection.model_validate(r.json())


def test_a_new_point_is_found_at_once_and_a_deleted_one_is_gone(long_lived, tokens, spot):
    lng, lat, off = spot
    assert 0 < off < 300
    before = _nearest(long_lived, lng, lat, k=3)
    assert [f.properties.rank for f in before.features] == [1, 2, 3]
    h = bearer(tokens["longteng_planner"])
    r = long_lived.post("/api/v1/points", headers=h, json={
        "code": "LT-T-NEAR", "name": "测试最近服务站", "kind": "station",
        "region_code": VILLAGE, "geometry": {"type": "Point", "coordinates": [lng, lat]}})
    assert r.status_code == 201, r.text
    try:
        after = _nearest(long_lived, lng, lat, k=3)
        new = next(f.properties for f in after.features if f.properties.code == "LT-T-NEAR")
        assert new.method == "network"
        # from the street and back to the same spot: twice the way to the street
        assert new.walk_distance_m == pytest.approx(2 * off, abs=0.2)
        # it takes its place among the earlier answers by walking distance
        merged = sorted([(f.properties.walk_distance_m, f.properties.code)
                         for f in before.features] + [(new.walk_distance_m, new.code)])
        assert [f.properties.code for f in after.features] == [c for _, c in merged[:3]]
        # asked in GCJ-02, answered in GCJ-02 at the same place
        glng, glat = wgs84_to_gcj02(lng, lat)
        g = _nearest(long_lived, float(glng), float(glat), crs="gcj02", k=3)
        assert [f.properties.code for f in g.features] == [c for _, c in merged[:3]]
        at = next(f for f in g.features if f.properties.code == "LT-T-NEAR")
        assert at.geometry.coordinates == pytest.approx([glng, glat], abs=1e-6)
    finally:
        assert long_lived.delete("/api/v1/points/LT-T-NEAR", headers=h).status_code == 200
    gone = _nearest(long_lived, lng, lat, k=3)
    assert [f.properties.code for f in gone.features] == \
        [f.properties.code for f in before.features]


def _wait(condition, seconds: float = 30.0) -> None:
    import time

    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_write_updates_the_snapshot_in_place(long_lived, tokens, spot):
    """After a write the app brings the snapshot up to date itself, before any
    reader asks, walking only the new point; the reader then finds it fresh."""
    lng, lat = spot[0] + 0.00013, spot[1]  # where no point ever stood
    snapshot = long_lived.app.state.query_snapshot
    _nearest(long_lived, lng, lat)
    networks, _ = snapshot.load()
    walked = {name: net.cache["point_targets_walked"][0]
              for name, net in networks.by_dataset.items()}
    builds = dict(snapshot.builds)
    h = bearer(tokens["longteng_planner"])
    r = long_lived.post("/api/v1/points", headers=h, json={
        "code": "LT-T-INPLACE", "name": "测试就地更新", "kind": "station",
        "region_code": VILLAGE, "geometry": {"type": "Point", "coordinates": [lng, lat]}})
    assert r.status_code == 201, r.text
    try:
        _wait(lambda: snapshot.builds["points"] > builds["points"])
        assert snapshot.builds == {**builds, "points": builds["points"] + 1}
        found = snapshot.fresh()
        assert found is not None and "LT-T-INPLACE" in {p.code for p in found[1].rows}
        # one point walked in Longteng's table, none in Lishui's (it does not snap there)
        assert {name: net.cache["point_targets_walked"][0] - walked[name]
                for name, net in found[0].by_dataset.items()} == {"longteng": 1, "lishui": 0}
        codes = [f.properties.code for f in _nearest(long_lived, lng, lat, k=3).features]
        assert "LT-T-INPLACE" in codes
        assert snapshot.builds["points"] == builds["points"] + 1  # the reader built nothing
    finally:
        assert long_lived.delete("/api/v1/points/LT-T-INPLACE", headers=h).status_code == 200
    _wait(lambda: snapshot.builds["points"] > builds["points"] + 1)
    assert "LT-T-INPLACE" not in {p.code for p in snapshot.load()[1].rows}


def test_new_networks_are_built_in_the_background(samples_engine):
    """When the networks change, readers keep the last snapshot while one
    background thread builds the next."""
    app = make_app(Settings(cache_ttl_s=0), samples_engine)
    snapshot = app.state.query_snapshot
    first = snapshot.load()
    gate = threading.Event()
    build = snapshot._build

    def gated_build(*args):  # the rebuild waits until the readers have read
        gate.wait(60)
        return build(*args)

    snapshot._build = gated_build
    with samples_engine.begin() as c:  # a new network version, nothing else changed
        c.execute(text("UPDATE network_edges SET cost = cost WHERE false"))
    assert snapshot.load() is first
    assert snapshot.load() is first  # one rebuild, not one per reader
    gate.set()
    _wait(lambda: snapshot.builds["networks"] == 1, 120)
    again = snapshot.load()
    assert again is not first and again[1].key == first[1].key
    assert set(again[0].by_dataset) == set(first[0].by_dataset)
    assert snapshot.builds == {"first": 1, "points": 0, "networks": 1}


def test_straight_line_answers_follow_the_network_ones(long_lived, spot):
    lng, lat, _ = spot
    # more than the town has: every live point, the reachable ones by walk first
    with long_lived.app.state.engine.connect() as c:
        live = c.execute(text(
            "SELECT count(*) FROM service_points WHERE deleted_at IS NULL")).scalar()
    got = _nearest(long_lived, lng, lat, k=50)
    assert len(got.features) == min(50, live)
    methods = [f.properties.method for f in got.features]
    n_network = methods.count("network")
    assert methods == ["network"] * n_network + ["straight_line"] * (len(methods) - n_network)
    walks = [f.properties.walk_distance_m for f in got.features[:n_network]]
    assert walks == sorted(walks)
    assert [f.properties.rank for f in got.features] == list(range(1, len(methods) + 1))


# --------------------------------------------------------------------------
# the front handler answers exactly what the route answers
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def twins(samples_engine):
    """The app with its front (default) and without (every request routed)."""
    front = make_app(Settings(cache_ttl_s=3600), samples_engine)
    routed = make_app(Settings(cache_ttl_s=3600, cache_front=False), samples_engine)
    with TestClient(front) as f, TestClient(routed) as r:
        yield f, r


def _queries(samples_engine) -> list[str]:
    with samples_engine.connect() as c:
        rows = c.execute(text(
            "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
            "ORDER BY md5(code) LIMIT 12")).all()
    out = []
    for i, (x, y) in enumerate(rows):
        extra = ["", "&k=1", "&k=50&profile=standard", "&profile=adult&k=07"][i % 4]
        out.append(f"lng={x:.6f}&lat={y:.6f}{extra}")
        gx, gy = wgs84_to_gcj02(x, y)
        out.append(f"crs=gcj02&lat={gy:.7f}&lng={gx:.7f}{extra}")
    return out


def test_front_and_route_give_the_same_bytes(twins, samples_engine):
    import asyncio

    from api.routes.isochrones import nearest_front

    front, routed = twins
    queries = _queries(samples_engine)
    assert front.get(f"/api/v1/nearest?{queries[0]}").status_code == 200
    # the snapshot came with every network's points snapped and tabled (in the
    # thread pool), so no search on the event loop has to prepare them
    networks, points = front.app.state.query_snapshot.load()
    assert len(networks.by_dataset) == 2
    for network in networks.by_dataset.values():
        assert any(key[1] == points.key for key in network.cache["point_targets"])
    for q in queries:
        # "now" (to the minute) is in the answer: when the minute turns over
        # between the requests, ask all three again
        for _ in range(3):
            a = front.get(f"/api/v1/nearest?{q}")
            b = routed.get(f"/api/v1/nearest?{q}")
            # and the handler itself answered it (not the router behind it)
            body = asyncio.run(nearest_front(front.app.state, q.encode()))
            if a.content == b.content == body:
                break
        assert a.status_code == b.status_code == 200, (q, a.text, b.text)
        assert a.content == b.content, q
        assert a.headers["etag"] == b.headers["etag"]
        assert a.headers["content-type"] == b.headers["content-type"] == "application/geo+json"
        assert body == a.content, q
    # a conditional GET answered by the front
    etag = front.get(f"/api/v1/nearest?{q}").headers["etag"]
    assert front.get(f"/api/v1/nearest?{q}", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize("query, field", [
    ("lng=inf&lat=23.2", "lng"),
    ("lng=113.1&lat=23.1&k=0", "k"),
    ("lng=113.1&lat=23.1&k=51", "k"),
    ("lng=113.1&lat=23.1&crs=utm", "crs"),
    ("lng=113.1&lat=23.1&profile=jogger", "profile"),
    ("lng=113.1&lat=23.1&foo=1", "foo"),
    ("lat=23.1", "lng"),
])
def test_what_the_front_does_not_answer_the_route_refuses(twins, query, field):
    import asyncio

    from api.routes.isochrones import nearest_front

    front, _ = twins
    assert asyncio.run(nearest_front(front.app.state, query.encode())) is None
    r = front.get(f"/api/v1/nearest?{query}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert any(field in e["field"] for e in r.json()["errors"]), r.json()


@pytest.mark.parametrize("query", ["lng=116.4&lat=39.9", "lng=1e2&lat=23.2&k=3"])
def test_far_from_every_network_the_answer_is_straight_lines(twins, samples_engine, query):
    """Beijing, or a location written with an exponent far from both towns: no
    network serves it, so every answer is a straight-line distance, nearest
    first, and says so; the front and the route agree."""
    from geo.crs import haversine_m

    front, routed = twins
    for _ in range(3):  # "now" (to the minute) is in the answer: ask again when it turns
        a, b = front.get(f"/api/v1/nearest?{query}"), routed.get(f"/api/v1/nearest?{query}")
        if a.content == b.content:
            break
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert a.content == b.content
    got = NearestCollection.model_validate(a.json())
    assert {f.properties.method for f in got.features} == {"straight_line"}
    q = dict(p.split("=") for p in query.split("&"))
    lng, lat = float(q["lng"]), float(q["lat"])
    with samples_engine.connect() as c:
        rows = c.execute(text("SELECT code, ST_X(geom), ST_Y(geom) FROM service_points "
                              "WHERE deleted_at IS NULL")).all()
    d = sorted((float(haversine_m(lng, lat, x, y)), code) for code, x, y in rows)
    k = int(q.get("k", 5))
    assert [f.properties.code for f in got.features] == [code for _, code in d[:k]]
    assert [f.properties.walk_distance_m for f in got.features] == \
        pytest.approx([m for m, _ in d[:k]], abs=0.06)


def test_prepared_at_start(samples_engine):
    """``servicemap up`` loads the snapshot before serving: the first request
    then finds it fresh."""
    from api.routes.isochrones import prepare_queries

    app = make_app(Settings(cache_ttl_s=3600), samples_engine)
    assert app.state.query_snapshot.fresh() is None
    networks, points = prepare_queries(app)
    with samples_engine.connect() as c:
        live = c.execute(text(
            "SELECT count(*) FROM service_points WHERE deleted_at IS NULL")).scalar()
    assert len(points) == live and set(networks.by_dataset) == {"lishui", "longteng"}
    assert app.state.query_snapshot.fresh() == (networks, points)
