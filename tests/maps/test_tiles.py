"""Tiles: MVT decoded with mapbox-vector-tile and checked against the
database, raster tiles decoded and their colours checked, TileJSON, ETag and
Cache-Control, z/x/y validation, and cache invalidation after a point moves."""

from __future__ import annotations

import io

import mapbox_vector_tile
import mercantile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from api.settings import Settings
from maps.layers import LAYERS, MVT_EXTENT
from maps.render import tile_bounds_lnglat, tile_bounds_merc
from maps.style import CIRCLE, rgb
from tests.conftest import make_app


@pytest.fixture(scope="module")
def client(samples_engine, map_circles):
    app = make_app(Settings(cache_ttl_s=0, allowed_hosts=["testserver"]), samples_engine)
    with TestClient(app) as tc:
        yield tc


@pytest.mark.parametrize("z, x, y", [(0, 0, 0), (14, 13341, 7106), (18, 213462, 113700)])
def test_tile_bounds_agree_with_mercantile(z, x, y):
    b = mercantile.xy_bounds(x, y, z)
    assert tile_bounds_merc(z, x, y) == pytest.approx((b.left, b.bottom, b.right, b.top),
                                                      abs=1e-6)
    g = mercantile.bounds(x, y, z)
    assert tile_bounds_lnglat(z, x, y) == pytest.approx((g.west, g.south, g.east, g.north),
                                                        abs=1e-9)


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def _tile_to_lnglat(t: mercantile.Tile, px: float, py: float) -> tuple[float, float]:
    b = mercantile.xy_bounds(t)
    mx = b.left + px / MVT_EXTENT * (b.right - b.left)
    my = b.top - py / MVT_EXTENT * (b.top - b.bottom)
    return mercantile.lnglat(mx, my)


def test_points_mvt_matches_the_database(client, samples_engine, center):
    t = mercantile.tile(center.lng, center.lat, 14)
    r = client.get(f"/tiles/points/{t.z}/{t.x}/{t.y}.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    feats = _decode(r.content)["points"]["features"]
    with samples_engine.connect() as c:
        rows = c.execute(text(
            "SELECT code, name, kind, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points "
            "WHERE deleted_at IS NULL AND ST_Intersects(ST_Transform(geom, 3857), "
            "ST_TileEnvelope(:z, :x, :y))"), {"z": t.z, "x": t.x, "y": t.y}).all()
    assert len(rows) > 3
    # the tile also carries points in its 64-unit buffer: those are outside the envelope
    inside = {f["properties"]["code"]: f for f in feats
              if all(0 <= v <= MVT_EXTENT for v in f["geometry"]["coordinates"])}
    assert set(inside) == {r.code for r in rows}
    for row in rows:
        f = inside[row.code]
        assert f["properties"]["name"] == row.name and f["properties"]["kind"] == row.kind
        lng, lat = _tile_to_lnglat(t, *f["geometry"]["coordinates"])
        # one tile unit at z14 is about 2.4 m
        assert abs(lng - row.lng) < 3e-5 and abs(lat - row.lat) < 3e-5


def test_circles_and_compounds_mvt(client, samples_engine, center):
    t = mercantile.tile(center.lng, center.lat, 15)
    circles = _decode(client.get(f"/tiles/circles/{t.z}/{t.x}/{t.y}.mvt").content)
    with samples_engine.connect() as c:
        expected = c.execute(text(
            "SELECT count(*) FROM service_circles WHERE minutes = 10 AND profile = 'elderly' "
            "AND ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y))"),
            {"z": t.z, "x": t.x, "y": t.y}).scalar_one()
        n_comp = c.execute(text(
            "SELECT count(*) FROM compounds WHERE ST_Intersects(ST_Transform(geom, 3857), "
            "ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096))"),
            {"z": t.z, "x": t.x, "y": t.y}).scalar_one()
    got = {f["properties"]["point_code"] for f in circles["circles"]["features"]}
    assert center.code in got
    assert len(got) >= expected > 0
    comp = _decode(client.get(f"/tiles/compounds/{t.z}/{t.x}/{t.y}.mvt").content)
    assert len(comp["compounds"]["features"]) == n_comp
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon")
               for f in comp["compounds"]["features"])


def test_grids_carry_no_personal_data(client, samples_engine):
    with samples_engine.connect() as c:
        lng, lat = c.execute(text("SELECT ST_X(ST_PointOnSurface(geom)), "
                                  "ST_Y(ST_PointOnSurface(geom)) FROM grid_cells LIMIT 1")).one()
    t = mercantile.tile(lng, lat, 14)
    feats = _decode(client.get(f"/tiles/grids/{t.z}/{t.x}/{t.y}.mvt").content)["grids"]
    assert feats["features"]
    assert set(feats["features"][0]["properties"]) == set(LAYERS["grids"].fields)
    assert "private" not in feats["features"][0]["properties"]


@pytest.mark.parametrize(("layer", "table"), [
    ("points", "service_points"), ("compounds", "compounds"), ("regions", "regions"),
    ("coverage", "compounds")])
def test_tile_properties_are_the_declared_fields(client, samples_engine, layer, table):
    """The packaged SQL of a layer answers exactly the fields its registry entry
    declares (types from the entity registry): a field added on one side only fails."""
    with samples_engine.connect() as c:
        lng, lat = c.execute(text(f"SELECT ST_X(ST_PointOnSurface(geom)), "
                                  f"ST_Y(ST_PointOnSurface(geom)) FROM {table} "
                                  f"WHERE geom IS NOT NULL ORDER BY code DESC LIMIT 1")).one()
    t = mercantile.tile(lng, lat, 15)
    feats = _decode(client.get(f"/tiles/{layer}/{t.z}/{t.x}/{t.y}.mvt").content)[layer]
    assert feats["features"]
    for f in feats["features"]:
        assert set(f["properties"]) <= set(LAYERS[layer].fields)
    assert set().union(*(f["properties"] for f in feats["features"])) == \
        set(LAYERS[layer].fields)


def test_empty_tile_far_away(client):
    r = client.get("/tiles/points/10/0/0.mvt")
    assert r.status_code == 200 and r.content == b""


def test_circle_colours_in_a_raster_tile(client, samples_engine, center):
    t = mercantile.tile(center.lng, center.lat, 15)
    r = client.get(f"/tiles/circles/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    assert img.shape == (256, 256, 4)
    with samples_engine.connect() as c:
        union_wkb, edges_wkb = c.execute(text(
            "SELECT ST_AsBinary(ST_Union(geom)), ST_AsBinary(ST_Collect(ST_Boundary(geom))) "
            "FROM service_circles WHERE minutes = 10 "
            "AND profile = 'elderly' AND ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, "
            "4326))"), dict(zip("wsen", mercantile.bounds(t), strict=True))).one()
    union = shapely.from_wkb(bytes(union_wkb))
    # every circle's outline is drawn, also inside other circles
    edges = shapely.from_wkb(bytes(edges_wkb))
    b = mercantile.xy_bounds(t)
    res = (b.right - b.left) / 256
    inside = outside = 0
    fill = rgb(CIRCLE["fill"])
    alpha = round(CIRCLE["fill_opacity"] * 255)
    for py in range(4, 256, 12):
        for px in range(4, 256, 12):
            lng, lat = mercantile.lnglat(b.left + (px + 0.5) * res, b.top - (py + 0.5) * res)
            p = shapely.Point(lng, lat)
            # metres → degrees (roughly): stay 4 px away from any outline
            d = edges.distance(p) * 111_000
            if d < 4 * res:
                continue
            r_, g_, b_, a_ = (int(v) for v in img[py, px])
            if union.contains(p):
                inside += 1
                assert abs(a_ - alpha) <= 2
                assert max(abs(r_ - fill[0]), abs(g_ - fill[1]), abs(b_ - fill[2])) <= 3
            else:
                outside += 1
                assert a_ == 0
    assert inside > 20 and outside > 5


def test_basemap_tile_is_opaque_and_drawn(client, center):
    t = mercantile.tile(center.lng, center.lat, 15)
    r = client.get(f"/tiles/basemap/{t.z}/{t.x}/{t.y}.png")
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (256, 256) and img.mode == "RGB"
    colours = img.getcolors(256 * 256)
    assert len(colours) > 20          # water, compounds, roads, labels over the land


def test_etag_cache_control_and_gzip(client, center):
    t = mercantile.tile(center.lng, center.lat, 14)
    url = f"/tiles/roads/{t.z}/{t.x}/{t.y}.mvt"
    r = client.get(url, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gz.headers.get("content-encoding") == "gzip"
    assert gz.content == r.content            # httpx decodes it
    assert client.get(url + "?v=abc").status_code == 200     # cache buster accepted


@pytest.mark.parametrize("path, status, field", [
    ("/tiles/points/23/0/0.mvt", 422, "z"),
    ("/tiles/points/2/4/0.mvt", 422, "x"),
    ("/tiles/points/2/0/-1.mvt", 422, "y"),
    ("/tiles/points/a/0/0.mvt", 422, "z"),
    ("/tiles/nosuch/1/0/0.mvt", 404, None),
    ("/tiles/basemap/1/0/0.mvt", 404, None),
])
def test_tile_addresses_are_validated(client, path, status, field):
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    if field:
        assert field in str(r.json().get("errors"))


def test_tilejson(client):
    index = client.get("/tiles").json()["layers"]
    assert {x["name"] for x in index} == set(LAYERS)
    doc = client.get("/tiles/points.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].startswith("http://testserver/tiles/points/{z}/{x}/{y}.mvt?v=")
    assert doc["vector_layers"][0]["id"] == "points"
    assert doc["vector_layers"][0]["fields"]["name"] == "String"
    w, s, e, n = doc["bounds"]
    assert w < 113.15 < e and s < 23.19 < n
    png = client.get("/tiles/basemap.json").json()
    assert png["tiles"][0].split("?")[0].endswith(".png") and "vector_layers" not in png
    assert client.get("/tiles/basemap.json?format=mvt").status_code == 404


#: the two sample towns' outlines are far apart (Foshan, Shantou)
LISHUI, LONGTENG = "440605126", "440507013"


def _town_boxes(engine) -> dict[str, tuple[float, float, float, float]]:
    with engine.connect() as c:
        return {r.code: (r.x0, r.y0, r.x1, r.y1) for r in c.execute(text(
            "SELECT code, ST_XMin(geom) x0, ST_YMin(geom) y0, ST_XMax(geom) x1, "
            "ST_YMax(geom) y1 FROM regions WHERE code IN (:a, :b)"),
            {"a": LISHUI, "b": LONGTENG})}


def _inside(box, lng, lat) -> bool:
    return box[0] <= lng <= box[2] and box[1] <= lat <= box[3]


# the samples have no OSM facilities: that layer's tiles are decoded on the real
# Helsinki extract in tests/test_cli_helsinki.py
@pytest.mark.parametrize("layer", [n for n, s in LAYERS.items()
                                   if "mvt" in s.formats and n != "facilities"])
def test_tilejson_center_tile_has_features(client, samples_engine, layer):
    """With both towns loaded the middle of the bounds is 350 km of empty
    country; the center lies on the data, and the tile there has features."""
    doc = client.get(f"/tiles/{layer}.json").json()
    lng, lat, zoom = doc["center"]
    w, s, e, n = doc["bounds"]
    boxes = _town_boxes(samples_engine)
    assert w < boxes[LISHUI][2] and e > boxes[LONGTENG][0]  # both towns in the bounds
    assert any(_inside(b, lng, lat) for b in boxes.values())
    assert not any(_inside(b, (w + e) / 2, (s + n) / 2) for b in boxes.values())
    t = mercantile.tile(lng, lat, zoom)
    r = client.get(f"/tiles/{layer}/{zoom}/{t.x}/{t.y}.mvt")
    assert r.status_code == 200
    assert len(_decode(r.content).get(layer, {}).get("features", [])) > 0
    # the middle of the bounds, as the center used to be: nothing there
    m = mercantile.tile((w + e) / 2, (s + n) / 2, zoom)
    empty = client.get(f"/tiles/{layer}/{zoom}/{m.x}/{m.y}.mvt")
    assert _decode(empty.content).get(layer, {}).get("features", []) == []


def test_tilejson_center_of_a_region(client, samples_engine):
    boxes = _town_boxes(samples_engine)
    for town in (LISHUI, LONGTENG):
        doc = client.get("/tiles/points.json", params={"region": town}).json()
        lng, lat, zoom = doc["center"]
        assert _inside(boxes[town], lng, lat)
        w, s, e, n = doc["bounds"]  # the region's points only
        assert _inside(boxes[town], w, s) and _inside(boxes[town], e, n)
        t = mercantile.tile(lng, lat, zoom)
        tile = _decode(client.get(f"/tiles/points/{zoom}/{t.x}/{t.y}.mvt").content)
        assert any(str(f["properties"]["region_code"]).startswith(town)
                   for f in tile["points"]["features"])
    # without a region: the town with the most points (Lishui: 137 of 170)
    with samples_engine.connect() as c:
        most = c.execute(text("SELECT left(region_code, 9) FROM service_points "
                              "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
    lng, lat, _ = client.get("/tiles/points.json").json()["center"]
    assert _inside(boxes[most], lng, lat)
    unknown = client.get("/tiles/points.json", params={"region": "440000999"})
    assert unknown.status_code == 404 and "440000999" in unknown.json()["detail"]


def test_moving_a_point_changes_its_tiles(client, samples_engine, center):
    old = mercantile.tile(center.lng, center.lat, 16)
    # about 1.1 km east: another z16 tile
    new_lng = center.lng + 0.01
    new = mercantile.tile(new_lng, center.lat, 16)
    assert new != old

    def codes(t):
        r = client.get(f"/tiles/points/{t.z}/{t.x}/{t.y}.mvt")
        feats = _decode(r.content).get("points", {}).get("features", []) if r.content else []
        return {f["properties"]["code"] for f in feats}, r.headers["etag"]

    before_old, etag_old = codes(old)
    before_new, _ = codes(new)
    assert center.code in before_old and center.code not in before_new
    try:
        with samples_engine.begin() as c:
            c.execute(text("UPDATE service_points SET geom = ST_SetSRID(ST_MakePoint(:x, :y), "
                           "4326), version = version + 1, updated_at = now() WHERE code = :c"),
                      {"x": new_lng, "y": center.lat, "c": center.code})
        after_old, etag_after = codes(old)
        after_new, _ = codes(new)
        assert center.code not in after_old and center.code in after_new
        assert etag_after != etag_old
    finally:
        with samples_engine.begin() as c:
            c.execute(text("UPDATE service_points SET geom = ST_SetSRID(ST_MakePoint(:x, :y), "
                           "4326), version = version + 1 WHERE code = :c"),
                      {"x": center.lng, "y": center.lat, "c": center.code})
    assert center.code in codes(old)[0]


def test_facility_labels_in_the_layer_sql_are_the_vocabulary():
    """maps/sql/facilities.sql spells each kind's label (the tiles carry it): the
    same as geo.vocab, every kind."""
    import re

    from geo.vocab import FACILITY_KINDS_ZH
    from maps.layers import source_sql

    pairs = dict(re.findall(r"WHEN '(\w+)' THEN '([^']+)'", source_sql("facilities")))
    assert pairs == FACILITY_KINDS_ZH

