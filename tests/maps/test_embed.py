"""Mini-program embedding: the ground overlay lies where GCJ-02 maps draw the
points; GeoJSON and markers carry GCJ-02 coordinates."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from geo.crs import wgs84_to_gcj02
from geo.errors import InvalidInput
from maps.embed import (
    MAX_BBOX_DEG,
    MIN_BBOX_DEG,
    kind_icon_png,
    layer_geojson,
    miniprogram_markers,
    overlay_bbox,
    overlay_png,
)
from maps.render import lnglat_to_merc
from maps.style import kind_style, rgb
from tests.maps.conftest import LONGTENG


def test_overlay_draws_points_at_their_gcj02_position(samples_engine, center, map_circles):
    glng, glat = wgs84_to_gcj02(center.lng, center.lat)
    bbox = (glng - 0.01, glat - 0.008, glng + 0.01, glat + 0.008)
    with samples_engine.connect() as c:
        ov = overlay_png(c, bbox, crs="gcj02", layers=("points",), width=800)
    assert ov.bounds == {"southwest": {"latitude": bbox[1], "longitude": bbox[0]},
                         "northeast": {"latitude": bbox[3], "longitude": bbox[2]}}
    img = np.asarray(Image.open(io.BytesIO(ov.data)).convert("RGBA"))
    assert img.shape[1] == 800
    # where a GCJ-02 map (Web Mercator) puts the center
    mx, my = lnglat_to_merc(np.array([bbox[0], bbox[2], glng]), np.array([bbox[1], bbox[3], glat]))
    px = (mx[2] - mx[0]) / (mx[1] - mx[0]) * ov.width
    py = (my[1] - my[2]) / (my[1] - my[0]) * ov.height
    r, g, b, a = (int(v) for v in img[int(py), int(px)])
    assert a == 255 and max(abs(r - rgb(kind_style("town_center").colour)[0]), 0) <= 3
    # ... and not where a WGS-84 map would (about 500 m off)
    wx, wy = lnglat_to_merc(np.array([center.lng]), np.array([center.lat]))
    qx = (wx[0] - mx[0]) / (mx[1] - mx[0]) * ov.width
    qy = (my[1] - wy[0]) / (my[1] - my[0]) * ov.height
    assert np.hypot(qx - px, qy - py) > 20
    assert img[int(qy), int(qx)][3] == 0


def test_overlay_bbox():
    # as asked; corners in either order
    assert overlay_bbox("113.1,23.1,113.2,23.2") == (113.1, 23.1, 113.2, 23.2)
    assert overlay_bbox("113.2,23.2,113.1,23.1") == (113.1, 23.1, 113.2, 23.2)
    # a zoomed-out map: the middle 0.6° of each side
    w, s, e, n = overlay_bbox("100,20,110,30")
    assert (w, s, e, n) == pytest.approx((105 - MAX_BBOX_DEG / 2, 25 - MAX_BBOX_DEG / 2,
                                          105 + MAX_BBOX_DEG / 2, 25 + MAX_BBOX_DEG / 2))
    # a box as thin as a line is widened about its centre
    assert overlay_bbox("113.1,23.1,113.1,23.1") == pytest.approx(
        (113.1 - MIN_BBOX_DEG / 2, 23.1 - MIN_BBOX_DEG / 2,
         113.1 + MIN_BBOX_DEG / 2, 23.1 + MIN_BBOX_DEG / 2))
    # beyond Web Mercator's ±85°: held inside it
    assert overlay_bbox("10,86,10.1,89") == pytest.approx((10, 85 - MIN_BBOX_DEG, 10.1, 85))
    for bad in ("1,2,3", "a,b,c,d", "200,1,2,3", "1e2,1,2,3", "1,2,3,4,5"):
        with pytest.raises(InvalidInput):
            overlay_bbox(bad)


def test_geojson_and_markers_in_gcj02(samples_engine):
    with samples_engine.connect() as c:
        fc = layer_geojson(c, "points", region=LONGTENG, crs="gcj02")
        wgs = layer_geojson(c, "points", region=LONGTENG, crs="wgs84")
        markers = miniprogram_markers(c, region=LONGTENG, icon_base="https://x")
        regions = layer_geojson(c, "regions", region=LONGTENG, crs="gcj02")
    assert len(fc["features"]) == len(wgs["features"]) == len(markers) == 33
    by_code = {f["id"]: f["geometry"]["coordinates"] for f in wgs["features"]}
    for f in fc["features"]:
        lng, lat = by_code[f["id"]]
        assert f["geometry"]["coordinates"] == pytest.approx(list(wgs84_to_gcj02(lng, lat)),
                                                            abs=2e-7)
    m = markers[0]
    lng, lat = by_code[m["customData"]["code"]]
    assert (m["longitude"], m["latitude"]) == pytest.approx(wgs84_to_gcj02(lng, lat), abs=2e-7)
    assert m["iconPath"].startswith("https://x/maps/icons/") and isinstance(m["id"], int)
    assert {f["properties"]["level"] for f in regions["features"]} == {"town", "village"}


def test_kind_icons():
    im = Image.open(io.BytesIO(kind_icon_png("station")))
    assert im.size == (64, 64) and im.mode == "RGBA"
    assert im.getpixel((32, 32))[3] == 255 and im.getpixel((0, 0))[3] == 0
