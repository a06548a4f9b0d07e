from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo.config import Settings


@pytest.fixture(scope="module")
def client(samples_engine):
    app = create_app(Settings(page_max=500), engine=samples_engine)
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
    assert {f["properties"]["name"] for f in centers} == {"里水镇党群服务中心", "龙腾街道党群服务中心"}
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
