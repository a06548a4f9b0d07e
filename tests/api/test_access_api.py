"""Access, nearest with filters and scenarios through the API: filters honoured,
holidays known, scenarios that never touch today's tables, bad input refused."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from tests.api.conftest import LISHUI, bearer

TODAY_TABLES = ("service_points", "network_edges", "network_nodes", "service_circles",
                "buildings", "compounds")


def table_hashes(engine) -> dict[str, str]:
    out = {}
    with engine.connect() as c:
        for t in TODAY_TABLES:
            rows = c.execute(text(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) "
                                  f"FROM {t} t")).scalar()
            out[t] = hashlib.sha1(str(rows).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def center_xy(rw_engine):
    with rw_engine.connect() as c:
        return c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM service_points "
                              "WHERE name = '里水镇党群服务中心'")).one()


def test_nearest_filters(rw_client, rw_engine, center_xy) -> None:
    x, y = center_xy
    r = rw_client.get(f"/api/v1/nearest?lng={x}&lat={y}&k=5&service=legal")
    assert r.status_code == 200, r.text
    codes = [f["properties"]["code"] for f in r.json()["features"]]
    with rw_engine.connect() as c:
        legal = set(c.execute(text("SELECT code FROM service_points "
                                   "WHERE 'legal' = ANY(services)")).scalars())
    assert codes and set(codes) <= legal
    r = rw_client.get(f"/api/v1/nearest?lng={x}&lat={y}&k=3&kind=station")
    assert {f["properties"]["kind"] for f in r.json()["features"]} == {"station"}
    # National Day: nothing that closes on holidays, every result open
    r = rw_client.get(f"/api/v1/nearest?lng={x}&lat={y}&k=10&open_now=true"
                      "&at=2026-10-01T10:00:00%2B08:00")
    body = r.json()
    assert body["query"]["calendar_known"] is True
    with rw_engine.connect() as c:
        holiday_closed = set(c.execute(text(
            "SELECT code FROM service_points WHERE (hours->>'closed_on_holidays')::bool"
        )).scalars())
    assert holiday_closed
    props = [f["properties"] for f in body["features"]]
    assert props and all(p["open_now"] is True for p in props)
    assert not {p["code"] for p in props} & holiday_closed
    # unfiltered at the same instant: closed ones say when they open next
    r = rw_client.get(f"/api/v1/nearest?lng={x}&lat={y}&k=20&at=2026-10-01T10:00:00%2B08:00")
    closed = [f["properties"] for f in r.json()["features"]
              if f["properties"]["open_now"] is False]
    assert closed and all(p["next_open"] and p["next_open"] >= "2026-10-01" for p in closed)


def test_time_outside_the_calendar_is_refused(rw_client, center_xy) -> None:
    x, y = center_xy
    for url in (f"/api/v1/nearest?lng={x}&lat={y}&open_now=true&at=2031-01-05T10:00",
                "/api/v1/points?open_now=true&at=2031-01-05T10:00",
                f"/api/v1/access?region={LISHUI}&at=2031-01-05T10:00"):
        r = rw_client.get(url)
        assert r.status_code in (400, 422), (url, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "节假日日历" in r.text and "2031" in r.text


def test_unknown_service_or_kind(rw_client, center_xy) -> None:
    x, y = center_xy
    assert rw_client.get(f"/api/v1/nearest?lng={x}&lat={y}&service=nope").status_code == 422
    assert rw_client.get(f"/api/v1/access?region={LISHUI}&kinds=nope").status_code == 422


def test_access_public_and_export(rw_client) -> None:
    r = rw_client.get(f"/api/v1/access?region={LISHUI}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["parameters"]["speed_kmh"] == 3.6 and "farthest_buildings" not in body
    assert body["totals"]["population_within_15min"] >= body["totals"]["population_within_10min"]
    r = rw_client.get(f"/api/v1/access?region={LISHUI}&detail=true")
    assert r.status_code == 401
    r = rw_client.get(f"/api/v1/access/tiers?region={LISHUI}&format=csv")
    assert r.status_code == 200 and "标准10分钟(500米)内人口" in r.content.decode("utf-8-sig")
    r = rw_client.get(f"/api/v1/access/supply?region={LISHUI}")
    assert r.json()["method"] == "2SFCA" and r.json()["capacity"] == "floor_area_m2"


def test_scenario_never_touches_today(rw_client, rw_engine, tokens) -> None:
    before = table_hashes(rw_engine)
    with rw_engine.connect() as c:
        village = c.execute(text(
            "SELECT region_code FROM service_points WHERE region_code LIKE :r "
            "GROUP BY region_code ORDER BY count(*) DESC LIMIT 1"), {"r": LISHUI + "%"}).scalar()
        codes = c.execute(text("SELECT code FROM service_points WHERE region_code = :v"),
                          {"v": village}).scalars().all()
        far = c.execute(text(
            "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings "
            "WHERE ST_Intersects(geom, (SELECT geom FROM regions WHERE code = :r)) "
            "ORDER BY id LIMIT 1"), {"r": LISHUI}).one()
    h = bearer(tokens["lishui_planner"])
    changes = {"positions": [{"op": "close", "code": c} for c in codes] +
               [{"op": "add", "code": "S-NEW-1", "name": "拟建站点", "kind": "station",
                 "lng": far[0], "lat": far[1], "floor_area_m2": 200}]}
    r = rw_client.post("/api/v1/scenarios", json={"name": "关闭一村、新增一站",
                                                  "region": LISHUI, "changes": changes},
                       headers=h)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = rw_client.get(f"/api/v1/scenarios/{sid}/compare", headers=h)
    assert r.status_code == 200, r.text
    cmp = r.json()
    row = next(x for x in cmp["by_region"] if x["code"] == village)
    assert row["within_10min_pct_scenario"] < row["within_10min_pct_today"]
    assert cmp["changes"] == {"added": 1, "moved": 0, "closed": len(codes), "hours": 0,
                              "paths": 0}
    r = rw_client.get(f"/api/v1/access?region={LISHUI}&scenario={sid}", headers=h)
    assert r.status_code == 200 and r.json()["scenario"].startswith(f"{sid}:")
    assert rw_client.get(f"/api/v1/access?region={LISHUI}&scenario={sid}").status_code == 401
    r = rw_client.get(f"/api/v1/scenarios/{sid}/compare?format=xlsx", headers=h)
    assert r.status_code == 200 and r.content[:2] == b"PK"
    assert table_hashes(rw_engine) == before
    assert rw_client.delete(f"/api/v1/scenarios/{sid}", headers=h).status_code == 204


def test_scenario_bad_input(rw_client, rw_engine, tokens) -> None:
    h = bearer(tokens["lishui_planner"])
    with rw_engine.connect() as c:
        longteng_code = c.execute(text("SELECT code FROM service_points "
                                       "WHERE region_code LIKE '440507013%' LIMIT 1")).scalar()
        n = c.execute(text("SELECT count(*) FROM scenarios")).scalar()
    cases = [
        ({"positions": [{"op": "close", "code": longteng_code}]}, 403),
        ({"positions": [{"op": "add", "code": "X1", "kind": "castle", "lng": 113.15,
                         "lat": 23.19}]}, 422),
        ({"positions": [{"op": "add", "code": "X2", "lng": 116.4, "lat": 39.9}]}, 422),
        ({"paths": [{"from": [113.15, 23.19], "to": [113.15, 23.19]}]}, 422),
        ({"paths": [{"from": [113.15, 23.19], "to": [113.2, 23.2]}]}, 422),
        ({"positions": [{"op": "hours", "code": "LS-0002", "hours_text": "随缘"}]}, 422),
        # a path that is not a line: one end, a word for a coordinate, off the globe
        ({"paths": [{"from": [113.15], "to": [113.151, 23.19]}]}, 422),
        ({"paths": [{"from": [113.15, "北"], "to": [113.151, 23.19]}]}, 422),
        ({"paths": [{"from": [213.15, 23.19], "to": [113.151, 23.19]}]}, 422),
        ({"oops": []}, 422),
    ]
    for changes, status in cases:
        r = rw_client.post("/api/v1/scenarios", json={"name": "x", "region": LISHUI,
                                                      "changes": changes}, headers=h)
        assert r.status_code == status, (changes, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    with rw_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM scenarios")).scalar() == n


def test_scenario_cells_agree_with_networkx(rw_client, rw_engine, tokens) -> None:
    """The cells a scenario changes: a new station where the walk is longest makes
    exactly the cells nearer to it than to any other station nearer; their
    minutes today and in the scenario agree with networkx, and cells left out
    did not change."""
    import h3
    import numpy as np

    from tests.api.test_walktime_tiles import networkx_minutes

    auth = bearer(tokens["lishui_planner"])
    far = rw_client.get(f"/api/v1/access?region={LISHUI}&farthest=1").json()[
        "farthest_cells"][0]
    r = rw_client.post("/api/v1/scenarios", headers=auth, json={
        "name": "最远处新站", "region": LISHUI, "changes": {"positions": [
            {"op": "add", "code": "CELL-NEW", "kind": "station", "lng": far["lng"],
             "lat": far["lat"]}]}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        assert rw_client.get(f"/api/v1/scenarios/{sid}/cells").status_code == 401
        body = rw_client.get(f"/api/v1/scenarios/{sid}/cells", headers=auth).json()
        feats = body["features"]
        assert body["cells_changed"] == len(feats) > 0
        changed = {f["properties"]["h3"]: f["properties"] for f in feats}
        assert far["h3"] in changed
        # a station added: every change is nearer
        assert all(p["delta_minutes"] < 0 for p in changed.values())
        rng = np.random.default_rng(11)
        sample = sorted(rng.choice(sorted(changed), min(25, len(changed)), replace=False))
        today = networkx_minutes(rw_engine, sample)
        scen = networkx_minutes(rw_engine, sample, extra=((far["lng"], far["lat"]),))
        np.testing.assert_allclose([changed[c]["minutes_today"] for c in sample],
                                   np.round(today, 1), atol=0.051)
        np.testing.assert_allclose([changed[c]["minutes_scenario"] for c in sample],
                                   np.round(scen, 1), atol=0.051)
        # cells around the changed ones but not listed: the same walk both ways
        ring = sorted({n for c in changed for n in h3.grid_disk(c, 2)} - set(changed))
        with rw_engine.connect() as c:  # the town's cells: centre in one of its villages
            inside = c.execute(text(
                "SELECT array_agg(i) FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) "
                "WITH ORDINALITY AS u(x, y, i) WHERE EXISTS (SELECT 1 FROM regions r "
                "WHERE r.parent_code = :t AND ST_Intersects(r.geom, "
                "ST_SetSRID(ST_MakePoint(u.x, u.y), 4326)))"),
                {"x": [h3.cell_to_latlng(q)[1] for q in ring],
                 "y": [h3.cell_to_latlng(q)[0] for q in ring], "t": LISHUI}).scalar() or []
        ring = [ring[i - 1] for i in inside][:60]
        before = networkx_minutes(rw_engine, ring)
        after = networkx_minutes(rw_engine, ring, extra=((far["lng"], far["lat"]),))
        fin = np.isfinite(before)
        assert fin.sum() > 10
        assert np.all(np.abs(after[fin] - before[fin]) < 0.1 + 1e-9)
        # the geometry is the cell's hexagon
        f0 = feats[0]
        ring0 = f0["geometry"]["coordinates"][0]
        want = [[round(lng, 6), round(lat, 6)] for lat, lng in
                h3.cell_to_boundary(f0["properties"]["h3"])]
        assert [[round(x, 6), round(y, 6)] for x, y in ring0[:-1]] == want
    finally:
        rw_client.delete(f"/api/v1/scenarios/{sid}", headers=auth)
