"""Bad input to the planner API: a clear 4xx problem+json naming the field and,
where it has one, the location of the problem; the database unchanged."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.api.conftest import bearer

VILLAGE = "440507013001"
TABLES = ("service_points", "compounds", "buildings", "grid_cells", "party_branches",
          "branch_compounds", "regions", "audit_log", "service_circles")


def fingerprint(engine) -> dict[str, str]:
    """A digest of every table a write could touch."""
    out = {}
    with engine.connect() as c:
        for t in TABLES:
            out[t] = c.execute(text(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' "
                f"ORDER BY x::text)), '') FROM {t} x")).scalar_one()
    return out


@pytest.fixture(scope="module")
def spot(rw_engine):
    with rw_engine.connect() as c:
        return tuple(c.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions "
            "WHERE code = :c) s"), {"c": VILLAGE}).one())


@pytest.fixture(scope="module")
def lishui_spot(rw_engine):
    with rw_engine.connect() as c:
        return tuple(c.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions "
            "WHERE code = '440605126004') s")).one())


@pytest.fixture
def h(tokens):
    return bearer(tokens["longteng_planner"])


def point_body(spot, **over) -> dict:
    body = {"code": "LT-BAD-1", "name": "测试站", "kind": "station", "region_code": VILLAGE,
            "geometry": {"type": "Point", "coordinates": list(spot)}}
    body.update(over)
    return body


def compound_body(spot, **over) -> dict:
    lng, lat = spot
    d = 0.0004
    body = {"code": "LT-BAD-C", "name": "测试小区", "region_code": VILLAGE,
            "geometry": {"type": "Polygon", "coordinates": [[[lng, lat], [lng + d, lat],
                                                             [lng + d, lat + d], [lng, lat + d],
                                                             [lng, lat]]]}}
    body.update(over)
    return body


def refused(r, status: int = 422) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"].startswith("https://")
    assert "Traceback" not in r.text and "psycopg" not in r.text and "sqlalchemy" not in r.text
    return body


def fields(body: dict) -> list[str]:
    return [e.get("field") for e in body.get("errors", [])]


def test_malformed_json_and_geojson(rw_client, rw_engine, h, spot):
    before = fingerprint(rw_engine)
    r = rw_client.post("/api/v1/points", content=b'{"code": "X", ', headers={
        **h, "Content-Type": "application/json"})
    refused(r)
    for geometry in ({"type": "Point", "coordinates": [113.1]},
                     {"type": "Point", "coordinates": "113.1,23.2"},
                     {"type": "Pointy", "coordinates": list(spot)},
                     {"coordinates": list(spot)},
                     {"type": "Point", "coordinates": [spot[0], spot[1]], "crs": "EPSG:4326"},
                     {"type": "LineString", "coordinates": [list(spot), list(spot)]},
                     "POINT(113 23)", None):
        body = refused(rw_client.post("/api/v1/points", json=point_body(spot, geometry=geometry),
                                      headers=h))
        assert any(f and f.startswith("body.geometry") for f in fields(body)), body
    lng, lat = spot
    for coords in ([[[lng, lat], [lng + 0.001, lat], [lng, lat + 0.001]]],          # not closed
                   [[[lng, lat], [lng + 0.001, lat], [lng, lat]]],                  # 3 positions
                   []):
        refused(rw_client.post("/api/v1/compounds", headers=h, json=compound_body(
            spot, geometry={"type": "Polygon", "coordinates": coords})))
    assert fingerprint(rw_engine) == before


def test_self_intersecting_polygon_is_refused_with_its_location_or_repaired(
        rw_client, rw_engine, h, spot):
    lng, lat = spot
    d = 0.0006
    bowtie = {"type": "Polygon", "coordinates": [[[lng, lat], [lng + d, lat + d], [lng + d, lat],
                                                  [lng, lat + d], [lng, lat]]]}
    before = fingerprint(rw_engine)
    body = refused(rw_client.post("/api/v1/compounds", headers=h,
                                  json=compound_body(spot, code="LT-BOW", geometry=bowtie)))
    err = body["errors"][0]
    assert err["message"] == "多边形自相交" and err["field"] == "body.geometry.coordinates"
    assert err["value"] == [pytest.approx(lng + d / 2), pytest.approx(lat + d / 2)]
    assert "repair=true" in err["expected"]
    assert fingerprint(rw_engine) == before
    # the same polygon in GCJ-02 is reported at its GCJ-02 location
    from geo.crs import wgs84_to_gcj02
    g = [list(wgs84_to_gcj02(x, y)) for x, y in bowtie["coordinates"][0]]
    body = refused(rw_client.post("/api/v1/compounds", headers=h, json=compound_body(
        spot, code="LT-BOW", crs="gcj02", geometry={"type": "Polygon", "coordinates": [g]})))
    gx, gy = wgs84_to_gcj02(lng + d / 2, lat + d / 2)
    assert body["errors"][0]["value"] == [pytest.approx(gx, abs=1e-6), pytest.approx(gy, abs=1e-6)]
    # asked to repair: ST_MakeValid makes two triangles
    r = rw_client.post("/api/v1/compounds", params={"repair": True}, headers=h,
                       json=compound_body(spot, code="LT-BOW", geometry=bowtie))
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == ["几何无效，已用 ST_MakeValid 修复"]
    geom = r.json()["feature"]["geometry"]
    assert geom["type"] == "MultiPolygon" and len(geom["coordinates"]) == 2
    with rw_engine.connect() as c:
        assert c.execute(text("SELECT ST_IsValid(geom) FROM compounds WHERE code = 'LT-BOW'")
                         ).scalar_one()


def test_coordinates_out_of_range_swapped_or_outside_the_town(
        rw_client, rw_engine, h, spot, lishui_spot):
    before = fingerprint(rw_engine)
    lng, lat = spot
    cases = {
        (200.0, lat): "坐标超出范围",
        (lng, 95.0): "坐标超出范围",
        (lat, lng): "经度和纬度可能写反了",
        (2.35, 48.85): "坐标不在中国境内",
        lishui_spot: "位置不在龙腾街道范围内",
    }
    for coords, message in cases.items():
        body = refused(rw_client.post("/api/v1/points", headers=h, json=point_body(
            spot, geometry={"type": "Point", "coordinates": list(coords)})))
        assert body["errors"][0]["message"] == message, body
        assert body["errors"][0]["field"].startswith("body.geometry")
    swapped = refused(rw_client.post("/api/v1/points", headers=h, json=point_body(
        spot, geometry={"type": "Point", "coordinates": [lat, lng]})))
    assert swapped["errors"][0]["value"] == [lat, lng]
    # moving an existing point out of its town
    body = refused(rw_client.put("/api/v1/points/LT-0004/geometry", headers=h, json={
        "geometry": {"type": "Point", "coordinates": list(lishui_spot)}}))
    assert body["errors"][0]["message"] == "位置不在龙腾街道范围内"
    # NaN and infinities are not numbers
    r = rw_client.post("/api/v1/points", headers={**h, "Content-Type": "application/json"},
                       content=json.dumps(point_body(spot)).replace(
                           str(list(spot)[0]), "NaN", 1).encode())
    refused(r)
    assert fingerprint(rw_engine) == before


def test_unknown_kind_and_service_tags_and_fields(rw_client, rw_engine, h, spot):
    before = fingerprint(rw_engine)
    body = refused(rw_client.post("/api/v1/points", headers=h,
                                  json=point_body(spot, kind="castle")))
    assert fields(body) == ["body.kind"]
    body = refused(rw_client.post("/api/v1/points", headers=h,
                                  json=point_body(spot, services=["party", "karaoke"])))
    assert fields(body) == ["body.services.1"]
    body = refused(rw_client.post("/api/v1/points", headers=h,
                                  json=point_body(spot, colour="red")))
    assert fields(body) == ["body.colour"]
    body = refused(rw_client.post("/api/v1/grid-cells", headers=h, json={
        **compound_body(spot, code="LT-BAD-G"), "kind": "hexagon"}))
    assert "body.kind" in fields(body)
    body = refused(rw_client.post("/api/v1/points", headers=h,
                                  json=point_body(spot, region_code="440507013999")))
    assert body["errors"][0]["message"] == "区划代码不存在"
    body = refused(rw_client.post("/api/v1/points", headers=h, json=point_body(
        spot, hours={"weekly": {"mon": [["17:00", "09:00"]]}})))
    assert body["errors"][0]["field"] == "body.hours.weekly.mon"
    body = refused(rw_client.post("/api/v1/points", headers=h, json=point_body(
        spot, hours={"weekly": {"mon": [["09:00", "12:00"], ["11:00", "14:00"]]}})))
    assert body["errors"][0]["message"] == "时段重叠"
    body = refused(rw_client.post("/api/v1/branches", headers=h, json={
        "code": "LT-BAD-B", "name": "支部", "region_code": VILLAGE,
        "compound_codes": ["LT-C0001", "NO-SUCH"]}))
    assert body["errors"][0]["message"] == "小区不存在"
    # every problem of one request is reported at once
    body = refused(rw_client.post("/api/v1/points", headers=h, json=point_body(
        spot, name="x'; DROP TABLE regions; --", phone="call me", region_code="440507013999")))
    assert len(body["errors"]) == 3
    assert fingerprint(rw_engine) == before


def test_duplicate_codes_conflict(rw_client, rw_engine, h, spot):
    before = fingerprint(rw_engine)
    body = refused(rw_client.post("/api/v1/points", headers=h,
                                  json=point_body(spot, code="LT-0001")), 409)
    assert body["type"].endswith("/conflict") and "LT-0001" in body["detail"]
    refused(rw_client.post("/api/v1/compounds", headers=h,
                           json=compound_body(spot, code="LT-C0001")), 409)
    body = refused(rw_client.patch("/api/v1/points/LT-0001", headers=h, json={"code": "LT-0002"}))
    assert body["errors"][0]["message"] == "编码不能修改"
    assert fingerprint(rw_engine) == before


def test_oversized_bodies_are_refused(rw_client, rw_engine, h, spot):
    before = fingerprint(rw_engine)
    big = point_body(spot, address="大" * 600_000)  # ~1.8 MB of UTF-8
    body = refused(rw_client.post("/api/v1/points", json=big, headers=h), 413)
    assert body["title"] == "请求体过大"

    def chunks():  # no Content-Length: counted while read
        yield b'{"code": "LT-BIG", "address": "'
        for _ in range(2000):
            yield b"x" * 1024
        yield b'"}'

    r = rw_client.post("/api/v1/points", content=chunks(),
                       headers={**h, "Content-Type": "application/json"})
    refused(r, 413)
    assert fingerprint(rw_engine) == before


SQLISH = [
    "x'; DROP TABLE service_points; --",
    "' OR '1'='1",
    "1; DELETE FROM regions",
    "里水 UNION SELECT token_hash FROM api_tokens",
    "name\"); TRUNCATE audit_log; --",
    "<script>alert(1)</script>",
    "a\x00b",
]


def _text_cases(spot) -> list[tuple[str, str, dict, str]]:
    """(url, field, body with the field set to a marker, field name in errors)."""
    p, c = point_body(spot, code="LT-SQL-P"), compound_body(spot, code="LT-SQL-C")
    g = {**compound_body(spot, code="LT-SQL-G")}
    b = {"code": "LT-SQL-B", "name": "支部", "region_code": VILLAGE}
    return [
        ("/api/v1/points", "name", p, "body.name"),
        ("/api/v1/points", "address", p, "body.address"),
        ("/api/v1/points", "hours_text", p, "body.hours_text"),
        ("/api/v1/points", "phone", p, "body.phone"),
        ("/api/v1/points", "code", p, "body.code"),
        ("/api/v1/points", "region_code", p, "body.region_code"),
        ("/api/v1/compounds", "name", c, "body.name"),
        ("/api/v1/grid-cells", "name", g, "body.name"),
        ("/api/v1/grid-cells", "private", g, "body.private"),
        ("/api/v1/branches", "name", b, "body.name"),
        ("/api/v1/branches", "seat_compound_code", b, "body.seat_compound_code"),
        ("/api/v1/branches", "private", b, "body.private"),
    ]


def test_sql_looking_strings_in_every_text_field(rw_client, rw_engine, h, spot):
    before = fingerprint(rw_engine)
    for url, name, body, field in _text_cases(spot):
        for evil in SQLISH:
            if name == "private":
                value = ({"workers": [{"name": evil}]} if "grid" in url
                         else {"secretary": {"name": "某", "phone": evil}})
            else:
                value = evil
            r = rw_client.post(url, headers=h, json={**body, name: value})
            problem = refused(r)
            assert any(f and f.startswith(field) for f in fields(problem)), (url, name, problem)
        # also through PATCH of an existing row
    for evil in SQLISH:
        refused(rw_client.patch("/api/v1/points/LT-0005", headers=h, json={"name": evil}))
        refused(rw_client.patch("/api/v1/branches/LT-PB3", headers=h, json={"name": evil}))
    # and in the public search
    for evil in SQLISH[:5]:
        refused(rw_client.get("/api/v1/points", params={"q": evil}))
    assert fingerprint(rw_engine) == before
    with rw_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM service_points")).scalar_one() > 200


def test_unknown_query_parameters(rw_client, rw_engine, h, spot):
    before = fingerprint(rw_engine)
    body = refused(rw_client.get("/api/v1/points", params={"regoin": "440507013"}))
    assert fields(body) == ["query.regoin"]
    body = refused(rw_client.post("/api/v1/points", params={"dry_run": 1}, headers=h,
                                  json=point_body(spot, code="LT-UNK")))
    assert fields(body) == ["query.dry_run"]
    refused(rw_client.get("/api/v1/regions", params={"x": 1}))
    refused(rw_client.delete("/api/v1/points/LT-0006", params={"hard": "true"}, headers=h))
    refused(rw_client.get("/api/v1/planner/points", params={"secret": 1}, headers=h))
    assert fingerprint(rw_engine) == before
    # declared parameters still pass
    assert rw_client.get("/api/v1/points", params={"region": "440507013"}).status_code == 200


def test_scope_is_checked_before_and_after(rw_client, rw_engine, tokens, spot):
    before = fingerprint(rw_engine)
    h = bearer(tokens["longteng_planner"])
    # moving a Longteng compound into Lishui (a region outside the token)
    r = rw_client.patch("/api/v1/compounds/LT-C0002", headers=h,
                        json={"region_code": "440605126004"})
    refused(r, 403)
    village = bearer(tokens["village_planner"])  # 440507013001 only
    refused(rw_client.patch("/api/v1/compounds/LT-C0002", headers=village,
                            json={"households": 1}), 403)  # LT-C0002 is in ...003
    refused(rw_client.post("/api/v1/points", headers=village, json=point_body(
        spot, code="LT-VP", region_code="440507013002")), 403)
    assert fingerprint(rw_engine) == before


def test_the_instant_pattern_admits_exactly_the_real_calendar_days(rw_client):
    """The OpenAPI's pattern for ``at`` agrees with Python's calendar on every day
    of leap and common years (1900, 2000, 2024, 2026, 2100, 9072): a generator that
    follows the pattern never writes 02-30, and the API refuses one in Chinese."""
    import datetime
    import re

    from api.schemas import INSTANT_PATTERN

    pattern = re.compile(INSTANT_PATTERN)
    disagree = []
    for year in (1900, 1999, 2000, 2024, 2026, 2100, 2400, 9072):
        for month in range(1, 13):
            for day in range(1, 32):
                text_ = f"{year:04d}-{month:02d}-{day:02d}T09:41Z"
                try:
                    datetime.date(year, month, day)
                    real = True
                except ValueError:
                    real = False
                if real != bool(pattern.match(text_)):
                    disagree.append(text_)
    assert disagree == []
    r = rw_client.get("/api/v1/points?open_now=true&at=2026-02-29T09:30")
    assert r.status_code == 422
    assert "ISO 8601" in r.text and "2026-12-01T09:30" in r.text
