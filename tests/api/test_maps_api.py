"""The map routes through the app: pages, images, overlay, GeoJSON, assets."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from api.settings import Settings
from geo.circles import compute_circles
from geo.crs import wgs84_to_gcj02
from tests.conftest import make_app

LONGTENG = "440507013"


@pytest.fixture(scope="module")
def client(samples_engine):
    with samples_engine.begin() as c:
        compute_circles(c, [10], profile="elderly", codes=None)
    app = make_app(Settings(allowed_hosts=["testserver"]), samples_engine)
    with TestClient(app) as tc:
        yield tc
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))


def _external(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)


def test_resident_page(client):
    r = client.get("/maps/resident", params={"region": LONGTENG})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="zh-CN">' in html and "<title>龙腾街道党群服务地图</title>" in html
    assert _external(html) == []                      # nothing from a CDN
    assert "/maps/static/vendor/leaflet/leaflet.js" in html
    assert "/tiles/basemap/{z}/{x}/{y}.png" in html   # the offline basemap by default
    assert '"synthetic":true' in html and "示例数据" in html
    etag = r.headers["etag"]
    assert client.get("/maps/resident", params={"region": LONGTENG},
                      headers={"If-None-Match": etag}).status_code == 304


def test_resident_page_errors(client):
    assert client.get("/maps/resident", params={"region": "999999"}).status_code == 404
    r = client.get("/maps/resident", params={"basemap": "tianditu"})
    assert r.status_code == 422 and "TIANDITU" in r.text
    assert client.get("/maps/resident", params={"basemap": "google"}).status_code == 422


def test_a_bad_map_link_is_a_chinese_page(client):
    """A resident who follows a wrong link gets a Chinese page with a way on,
    not a problem+json body."""
    for path in ("/maps/resident", "/embed/resident", "/maps/planner"):
        r = client.get(path, params={"region": "44060512"})
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert '<html lang="zh-CN">' in r.text and "44060512" in r.text
        assert "没有找到这张地图" in r.text and f'href="{path}"' in r.text
        assert "<script" not in r.text and r.headers["cache-control"] == "no-store"
    r = client.get("/maps/resident", params={"basemap": "tianditu"})
    assert r.status_code == 422 and "链接参数有误" in r.text


def test_gcj02_basemap_converts_the_overlays(client, samples_engine):
    html = client.get("/maps/resident", params={"region": LONGTENG, "basemap": "amap"}).text
    assert '"crs":"gcj02"' in html and "autonavi.com" in html


def test_embed_page(client):
    r = client.get("/embed/resident", params={"region": LONGTENG})
    assert r.status_code == 200 and '"embed":true' in r.text
    assert "x-frame-options" not in r.headers


def test_planner_page(client):
    r = client.get("/maps/planner", params={"region": LONGTENG})
    assert r.status_code == 200
    assert _external(r.text) == [] and "planner.js" in r.text
    assert client.get("/maps/planner", params={"basemap": "amap"}).status_code == 422


def test_static_png_and_jpg(client):
    r = client.get("/maps/static.png", params={"region": LONGTENG})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert len(r.content) < 1_000_000
    im = Image.open(io.BytesIO(r.content))
    assert im.size[0] == 1080
    j = client.get("/maps/static.jpg", params={"region": LONGTENG, "width": 640})
    assert Image.open(io.BytesIO(j.content)).size[0] == 640
    assert client.get("/maps/static.png", params={"width": 99}).status_code == 422


def test_overlay_routes(client):
    bbox = "116.70,23.34,116.74,23.38"
    meta = client.get("/maps/overlay.json", params={"bbox": bbox}).json()
    assert meta["bounds"] == {"southwest": {"latitude": 23.34, "longitude": 116.70},
                              "northeast": {"latitude": 23.38, "longitude": 116.74}}
    assert meta["src"].startswith("http://testserver/maps/overlay.png?")
    r = client.get("/maps/overlay.png", params={"bbox": bbox, "layers": "circles,points"})
    assert r.status_code == 200 and r.headers["x-overlay-bounds"] == "116.7,23.34,116.74,23.38"
    assert Image.open(io.BytesIO(r.content)).mode == "RGBA"
    bad = client.get("/maps/overlay.png", params={"bbox": "1,2,3"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.bbox"
    assert client.get("/maps/overlay.png", params={"bbox": bbox, "layers": "x"}).status_code \
        == 422


def test_geojson_markers_icons(client):
    fc = client.get("/maps/geojson/points", params={"region": LONGTENG, "crs": "gcj02"}).json()
    assert len(fc["features"]) == 33 and fc["crs"] == "gcj02"
    # the mini-program helpers default to GCJ-02 and say so; wgs84 is the
    # public points' own coordinates, gcj02 those converted with geo.crs
    default = client.get("/maps/geojson/points", params={"region": LONGTENG}).json()
    assert default["crs"] == "gcj02" and default["features"] == fc["features"]
    wgs = client.get("/maps/geojson/points", params={"region": LONGTENG, "crs": "wgs84"}).json()
    assert wgs["crs"] == "wgs84"
    api = {f["id"]: f["geometry"]["coordinates"] for f in client.get(
        "/api/v1/points", params={"region": LONGTENG}).json()["features"]}
    for w, g in zip(wgs["features"], fc["features"], strict=True):
        assert w["geometry"]["coordinates"] == pytest.approx(api[w["id"]], abs=2e-7)
        assert g["geometry"]["coordinates"] == pytest.approx(
            list(wgs84_to_gcj02(*api[w["id"]])), abs=2e-7)
    m = client.get("/embed/markers.json", params={"region": LONGTENG}).json()
    assert m["crs"] == "gcj02" and len(m["markers"]) == 33
    mw = client.get("/embed/markers.json", params={"region": LONGTENG, "crs": "wgs84"}).json()
    assert mw["crs"] == "wgs84"
    by_code = {x["customData"]["code"]: x for x in m["markers"]}
    for x in mw["markers"]:
        code = x["customData"]["code"]
        assert [x["longitude"], x["latitude"]] == pytest.approx(api[code], abs=2e-7)
        assert [by_code[code]["longitude"], by_code[code]["latitude"]] == pytest.approx(
            list(wgs84_to_gcj02(*api[code])), abs=2e-7)
    assert client.get("/maps/icons/station.png").headers["content-type"] == "image/png"
    assert client.get("/maps/icons/nope.png").status_code == 422
    assert client.get("/maps/geojson/people").status_code == 422


def test_static_assets(client):
    js = client.get("/maps/static/vendor/leaflet/leaflet.js", params={"v": "x"})
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    css = client.get("/maps/static/servicemap.css")
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/maps/static/vendor/leaflet/images/layers.png").status_code == 200
    assert client.get("/maps/static/../../api/app.py").status_code == 404
    assert client.get("/maps/static/nope.js").status_code == 404
