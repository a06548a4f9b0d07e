from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from tests.conftest import make_app


@pytest.fixture(scope="module")
def client(samples_engine):
    app = make_app(Settings(page_max=500), samples_engine)
    with TestClient(app) as c:
        yield c


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "reachable"


def test_points_of_lishui(client):
    r = client.get("/api/v1/points", params={"region": "440605126"})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 170
    f = body["features"][0]
    assert f["geometry"]["type"] == "Point"
    lng, lat = f["geometry"]["coordinates"]
    assert 112.9 < lng < 113.4 and 23.0 < lat < 23.4
    assert {"code", "name", "kind", "region_code", "hours", "services", "phone"} \
        <= set(f["properties"])
    codes = [x["properties"]["code"] for x in body["features"]]
    assert codes == sorted(codes) and len(set(codes)) == 170


def test_points_filters_and_paging(client):
    centers = client.get("/api/v1/points", params={"kind": "town_center"}).json()["features"]
    assert {f["properties"]["name"] for f in centers} == {"里水镇党群服务中心",
                                                          "龙腾街道党群服务中心"}
    page = client.get("/api/v1/points", params={"limit": 10, "offset": 5}).json()
    assert page["numberReturned"] == 10
    capped = client.get("/api/v1/points", params={"limit": 100000}).json()
    assert capped["limit"] == 500
    assert len(capped["features"]) == 170 + 33  # lishui + longteng


def test_point_by_code_and_problem_json(client):
    code = client.get("/api/v1/points", params={"limit": 1}).json()["features"][0]["id"]
    assert client.get(f"/api/v1/points/{code}").json()["properties"]["code"] == code
    r = client.get("/api/v1/points/NOPE")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "未找到"
    bad = client.get("/api/v1/points", params={"kind": "castle"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "query.kind"


# -- bodies match the response models; filters; coordinate systems; caching ----
from api.schemas import PointCollection, PointFeature  # noqa: E402
from geo.crs import wgs84_to_bd09, wgs84_to_gcj02  # noqa: E402

LISHUI = "440605126"


def test_bodies_validate_against_the_response_models(client):
    coll = PointCollection.model_validate(
        client.get("/api/v1/points", params={"region": LISHUI}).json())
    assert coll.numberMatched == coll.numberReturned == 170 and coll.crs == "wgs84"
    center = next(f for f in coll.features if f.properties.kind == "town_center")
    assert center.properties.hours.weekly["mon"] == [["09:00", "21:00"]]
    assert center.properties.hours_label == "每天 09:00-21:00"
    assert center.properties.kind_label == "镇街党群服务中心"
    assert len(center.properties.service_labels) == len(center.properties.services)
    one = client.get(f"/api/v1/points/{center.id}")
    assert one.headers["content-type"] == "application/geo+json"
    PointFeature.model_validate(one.json())


def test_output_in_gcj02_and_bd09(client):
    wgs = client.get("/api/v1/points", params={"region": LISHUI, "limit": 20}).json()
    for crs, forward in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        other = client.get("/api/v1/points", params={"region": LISHUI, "limit": 20,
                                                     "crs": crs}).json()
        assert other["crs"] == crs
        for a, b in zip(wgs["features"], other["features"], strict=True):
            x, y = forward(*a["geometry"]["coordinates"])
            assert b["geometry"]["coordinates"] == pytest.approx([x, y], abs=2e-7)
            # GCJ-02/BD-09 lie 100-700 m (about 1e-3 - 1e-2 degrees) off WGS-84
            assert abs(b["geometry"]["coordinates"][0] - a["geometry"]["coordinates"][0]) > 1e-3


def test_bbox_is_read_in_the_requested_crs(client):
    f = client.get("/api/v1/points", params={"region": LISHUI, "limit": 1,
                                             "crs": "gcj02"}).json()["features"][0]
    x, y = f["geometry"]["coordinates"]
    box = f"{x - 1e-4},{y - 1e-4},{x + 1e-4},{y + 1e-4}"
    got = client.get("/api/v1/points", params={"bbox": box, "crs": "gcj02"}).json()
    assert f["id"] in {g["id"] for g in got["features"]}
    # the same numbers read as WGS-84 are some 500 m away: the point is not there
    assert f["id"] not in {g["id"] for g in client.get(
        "/api/v1/points", params={"bbox": box}).json()["features"]}
    # any two opposite corners name the same box
    flipped = f"{x + 1e-4},{y - 1e-4},{x - 1e-4},{y + 1e-4}"
    assert client.get("/api/v1/points", params={"bbox": flipped, "crs": "gcj02"}).json() \
        ["features"] == got["features"]
    for bad in ("1,2,3", "a,b,c,d", "0,0,200,10", "nan,1,2,3", "1e2,20,110,30",
                " 113,23,114,24", "113,23,114,24,"):
        r = client.get("/api/v1/points", params={"bbox": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.bbox", bad


def test_open_now_in_china_time(client):
    def center(at):
        fs = client.get("/api/v1/points", params={"kind": "town_center", "region": LISHUI,
                                                  "at": at}).json()["features"]
        return fs[0]["properties"]["open_now"]

    assert center("2026-11-23T10:00:00") is True       # naive: China time
    assert center("2026-11-23T22:00:00") is False
    assert center("2026-11-23T01:30:00Z") is True      # 09:30 in China
    assert center("2026-11-23T13:30:00Z") is False     # 21:30 in China
    assert center("2026-11-23T08:59:00+08:00") is False
    at = "2026-11-23T22:00:00"  # a Monday evening
    open_late = client.get("/api/v1/points", params={"region": LISHUI, "open_now": True,
                                                     "at": at}).json()
    closed = client.get("/api/v1/points", params={"region": LISHUI, "open_now": False,
                                                  "at": at}).json()
    assert all(f["properties"]["open_now"] is True for f in open_late["features"])
    assert all(f["properties"]["open_now"] is False for f in closed["features"])
    assert "里水镇党群服务中心" in {f["properties"]["name"] for f in closed["features"]}
    assert open_late["numberMatched"] + closed["numberMatched"] <= 170
    assert client.get("/api/v1/points", params={"at": "yesterday"}).status_code == 422


def test_service_and_name_filters(client, samples_engine):
    from sqlalchemy import text

    r = client.get("/api/v1/points", params=[("service", "elderly_care"),
                                             ("service", "culture")]).json()
    assert r["numberMatched"] > 0
    assert all({"elderly_care", "culture"} <= set(f["properties"]["services"])
               for f in r["features"])
    with samples_engine.connect() as c:
        expected = c.execute(text(
            "SELECT count(*) FROM service_points WHERE deleted_at IS NULL AND "
            "services @> ARRAY['elderly_care', 'culture']")).scalar_one()
    assert r["numberMatched"] == expected
    bad = client.get("/api/v1/points", params={"service": "karaoke"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.service.0"
    q = client.get("/api/v1/points", params={"q": "党群服务中心"}).json()
    assert q["numberMatched"] >= 2
    assert all("党群服务中心" in (f["properties"]["name"] + (f["properties"]["address"] or ""))
               for f in q["features"])
    assert client.get("/api/v1/points", params={"q": "%"}).json()["numberMatched"] == 0
    assert client.get("/api/v1/points", params={"q": "_"}).json()["numberMatched"] == 0


def test_paging_is_stable(client):
    full = client.get("/api/v1/points", params={"region": LISHUI}).json()
    pages = []
    for offset in range(0, 170, 60):
        page = client.get("/api/v1/points", params={"region": LISHUI, "limit": 60,
                                                    "offset": offset}).json()
        assert page["numberMatched"] == 170
        pages += page["features"]
    assert [f["id"] for f in pages] == [f["id"] for f in full["features"]]
    beyond = client.get("/api/v1/points", params={"region": LISHUI, "offset": 500}).json()
    assert beyond["features"] == [] and beyond["numberMatched"] == 170
    assert client.get("/api/v1/points", params={"limit": 0}).status_code == 422
    assert client.get("/api/v1/points", params={"offset": -1}).status_code == 422


def test_etag_cache_control_304_and_gzip(client):
    r = client.get("/api/v1/points", params={"region": LISHUI, "at": "2026-11-23T10:00:00"})
    etag = r.headers["etag"]
    assert etag.startswith('W/"') and r.headers["cache-control"] == "public, max-age=60"
    assert r.headers["content-encoding"] == "gzip"  # the test client accepts gzip
    again = client.get("/api/v1/points", params={"region": LISHUI, "at": "2026-11-23T10:00:00"},
                       headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get("/api/v1/points", params={"region": LISHUI, "at": "2026-11-23T23:00:00"},
                       headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag
    plain = client.get("/api/v1/points", params={"region": LISHUI, "at": "2026-11-23T10:00:00"},
                       headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == r.json()
    regions = client.get("/api/v1/regions")
    assert client.get("/api/v1/regions", headers={
        "If-None-Match": regions.headers["etag"]}).status_code == 304
