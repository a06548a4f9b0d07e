from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import Point, shape
from sqlalchemy import text

from api.settings import Settings
from geo.circles import compute_circles
from geo.crs import wgs84_to_gcj02
from tests.conftest import make_app


@pytest.fixture(scope="module")
def client(samples_engine):
    with samples_engine.begin() as c:
        compute_circles(c, [10], profile="elderly")
    app = make_app(Settings(), samples_engine)
    with TestClient(app) as tc:
        yield tc
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))


def test_stored_circle_of_a_point(client, center):
    r = client.get("/api/v1/isochrones", params={"point": center.code, "minutes": 10})
    assert r.status_code == 200
    f = r.json()
    assert f["properties"]["stored"] is True and f["properties"]["stale"] is False
    assert f["properties"]["method"] == "network"
    assert f["properties"]["profile"] == "elderly"
    assert f["properties"]["budget_m"] == pytest.approx(600.0)  # 3.6 km/h × 10 min
    assert shape(f["geometry"]).distance(Point(center.lng, center.lat)) < 1e-3


def test_uncomputed_minutes_are_computed_on_the_fly(client, center):
    f = client.get("/api/v1/isochrones", params={"point": center.code, "minutes": 5,
                                                 "profile": "standard"}).json()
    assert f["properties"]["stored"] is False
    assert f["properties"]["budget_m"] == 300.0
    small = shape(f["geometry"]).area
    big = shape(client.get("/api/v1/isochrones", params={"point": center.code}).json()
                ["geometry"]).area
    assert 0 < small < big


def test_ad_hoc_circle_from_gcj02_location(client, center):
    glng, glat = wgs84_to_gcj02(center.lng, center.lat)
    r = client.post("/api/v1/isochrones", json={"lng": float(glng), "lat": float(glat),
                                                "crs": "gcj02", "minutes": 10})
    assert r.status_code == 200, r.text
    f = r.json()
    # answered in the crs asked for, and saying so; the location echoed as sent
    assert f["crs"] == "gcj02"
    assert (f["properties"]["lng"], f["properties"]["lat"]) == (float(glng), float(glat))
    # walked from the WGS-84 location (not 600 m off): the same circle as the
    # stored one, fetched in GCJ-02 too
    stored = client.get("/api/v1/isochrones", params={"point": center.code,
                                                      "crs": "gcj02"}).json()
    a, b = shape(f["geometry"]), shape(stored["geometry"])
    assert a.symmetric_difference(b).area / b.area < 0.01
    assert b.distance(Point(float(glng), float(glat))) < 1e-3


def test_circle_in_gcj02_is_the_wgs84_circle_converted(client, center):
    """GET with crs=gcj02: every vertex is the WGS-84 circle's vertex through
    geo.crs; and the shift agrees with the published GCJ-02 offset in Guangdong
    (about 0.005° east and 0.0026° south, 550-650 m)."""
    wgs = client.get("/api/v1/isochrones", params={"point": center.code}).json()
    gcj = client.get("/api/v1/isochrones", params={"point": center.code, "crs": "gcj02"})
    assert gcj.status_code == 200
    gcj = gcj.json()
    assert wgs["crs"] == "wgs84" and gcj["crs"] == "gcj02"
    assert gcj["properties"] == wgs["properties"]
    w = np.array(shapely.get_coordinates(shape(wgs["geometry"])))
    g = np.array(shapely.get_coordinates(shape(gcj["geometry"])))
    assert w.shape == g.shape and len(w) > 20
    gx, gy = wgs84_to_gcj02(w[:, 0], w[:, 1])
    assert np.abs(g - np.column_stack([gx, gy])).max() < 2e-7  # rounded to 1e-7°
    # independent of geo.crs: the offset's direction and size as published
    # (WGS-84 → GCJ-02 moves points in Guangdong ~0.005° east, ~0.0026° south)
    d = g - w
    assert (0.004 < d[:, 0]).all() and (d[:, 0] < 0.0065).all()
    assert (-0.0035 < d[:, 1]).all() and (d[:, 1] < -0.0018).all()
    km = 111.32 * np.hypot(d[:, 0] * math.cos(math.radians(center.lat)), d[:, 1])
    assert (0.5 < km).all() and (km < 0.7).all()
    bd = client.get("/api/v1/isochrones", params={"point": center.code, "crs": "bd09"}).json()
    assert bd["crs"] == "bd09"
    assert shape(bd["geometry"]).centroid.x > shape(gcj["geometry"]).centroid.x


def test_published_gcj02_vector():
    """The converter itself against the widely published vector (Beijing,
    Tiananmen): WGS-84 116.404, 39.915 → GCJ-02 116.41024450, 39.91640428."""
    x, y = wgs84_to_gcj02(116.404, 39.915)
    assert abs(x - 116.41024450) < 1e-7 and abs(y - 39.91640428) < 1e-7


def test_nearest_and_point_answers_name_their_crs(client, center):
    r = client.get("/api/v1/nearest", params={"lng": center.lng, "lat": center.lat, "k": 1,
                                              "crs": "gcj02"}).json()
    assert r["crs"] == "gcj02" and r["query"]["crs"] == "gcj02"
    p = client.get(f"/api/v1/points/{center.code}", params={"crs": "gcj02"}).json()
    assert p["crs"] == "gcj02"
    gx, gy = wgs84_to_gcj02(center.lng, center.lat)
    assert p["geometry"]["coordinates"] == pytest.approx([gx, gy], abs=2e-7)
    assert client.get(f"/api/v1/points/{center.code}").json()["crs"] == "wgs84"


def test_nearest_by_walking(client, center):
    r = client.get("/api/v1/nearest", params={"lng": center.lng + 0.0005, "lat": center.lat,
                                              "k": 4})
    assert r.status_code == 200
    feats = r.json()["features"]
    assert len(feats) == 4
    d = [f["properties"]["walk_distance_m"] for f in feats]
    assert d == sorted(d)
    assert feats[0]["properties"]["method"] == "network"
    for f in feats:  # minutes at the elderly walking speed, 3.6 km/h = 60 m/min
        p = f["properties"]
        assert p["walk_minutes"] == pytest.approx(p["walk_distance_m"] / 60.0, abs=0.06)
    # walking is never shorter than the straight line (≈ 51 m east of the center)
    assert d[0] >= 45


@pytest.mark.parametrize("params, field", [
    ({"point": "X", "minutes": 0}, "minutes"),
    ({"point": "X", "minutes": 61}, "minutes"),
    ({"point": "X", "profile": "jogger"}, "profile"),
])
def test_bad_isochrone_queries(client, params, field):
    r = client.get("/api/v1/isochrones", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["errors"][0]["field"]


def test_unknown_point_and_far_location(client):
    assert client.get("/api/v1/isochrones", params={"point": "NOPE"}).status_code == 404
    # Beijing: no network there, so a straight-line circle of the budget, marked so
    far = client.post("/api/v1/isochrones", json={"lng": 116.4, "lat": 39.9, "minutes": 10,
                                                  "profile": "elderly"})
    assert far.status_code == 200, far.text
    props = far.json()["properties"]
    assert props["method"] == "straight_line"
    budget_m = props["budget_m"]
    utm = Transformer.from_crs(4326, 32650, always_xy=True)  # Beijing is in zone 50
    area = shapely.transform(shape(far.json()["geometry"]), lambda xy: np.column_stack(
        utm.transform(xy[:, 0], xy[:, 1]))).area
    # a disc of radius budget_m (the polygon's chords make it a little smaller)
    assert area == pytest.approx(math.pi * budget_m ** 2, rel=0.01)
    bad_crs = client.get("/api/v1/nearest", params={"lng": 113.1, "lat": 23.1, "crs": "utm"})
    assert bad_crs.status_code == 422
    standard_7 = client.post("/api/v1/isochrones", json={"lng": 113.1, "lat": 23.1,
                                                         "minutes": 7, "profile": "standard"})
    assert standard_7.status_code == 422
    assert "5, 10, 15" in standard_7.json()["detail"]
