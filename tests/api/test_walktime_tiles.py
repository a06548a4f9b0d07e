"""The walking-time heatmap tiles (``walktime``): each H3 cell's polygon, its
minutes agreeing with networkx on a graph with every cell centre and position
spliced into its street, the legend band by hand, the PNG colour of the band,
and new minutes once a position closes."""

from __future__ import annotations

import io

import h3
import mapbox_vector_tile
import mercantile
import numpy as np
import pytest
import shapely
from PIL import Image
from sqlalchemy import text

from geo.circles import Networks
from geo.coverage import access as ac
from geo.coverage.loading import load_town
from maps.layers import MVT_EXTENT
from maps.style import rgb
from tests.api.conftest import LISHUI, bearer
from tests.geo.coverage.test_access import spliced_distances

ELDERLY_M_PER_MIN = 3600 / 60  # 3.6 km/h
BANDS = [(5, "5 分钟以内"), (10, "5–10 分钟"), (15, "10–15 分钟"), (20, "15–20 分钟"),
         (float("inf"), "20 分钟以上")]


def band_by_hand(minutes: float) -> str:
    return next(label for upper, label in BANDS if minutes < upper)


def tile_features(client, t: mercantile.Tile) -> list[dict]:
    r = client.get(f"/tiles/walktime/{t.z}/{t.x}/{t.y}.mvt")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = mapbox_vector_tile.decode(r.content, default_options={"y_coord_down": True})
    return layers["walktime"]["features"]


def to_lnglat(t: mercantile.Tile, px: float, py: float) -> tuple[float, float]:
    b = mercantile.xy_bounds(t)
    return mercantile.lnglat(b.left + px / MVT_EXTENT * (b.right - b.left),
                             b.top - py / MVT_EXTENT * (b.top - b.bottom))


def to_tile(t: mercantile.Tile, lng: float, lat: float) -> tuple[float, float]:
    b = mercantile.xy_bounds(t)
    mx, my = mercantile.xy(lng, lat)
    return ((mx - b.left) / (b.right - b.left) * MVT_EXTENT,
            (b.top - my) / (b.top - b.bottom) * MVT_EXTENT)


def cells_of(t: mercantile.Tile, feats: list[dict]) -> dict[str, dict]:
    """H3 cell id → properties of the features wholly inside the tile (whose
    polygon must be that cell's boundary)."""
    out = {}
    for f in feats:
        poly = shapely.geometry.shape(f["geometry"])
        x0, y0, x1, y1 = poly.bounds
        if x0 < 0 or y0 < 0 or x1 > MVT_EXTENT or y1 > MVT_EXTENT:
            continue
        lng, lat = to_lnglat(t, *poly.centroid.coords[0])
        cell = h3.latlng_to_cell(lat, lng, 10)
        want = shapely.Polygon([to_tile(t, q, p) for p, q in h3.cell_to_boundary(cell)])
        # the cell's hexagon, to the tile's integer grid
        assert poly.symmetric_difference(want).area < 0.02 * want.area, cell
        out[cell] = f["properties"]
    return out


def networkx_minutes(engine, cells: list[str], *, without: str | None = None,
                     extra: tuple[tuple[float, float], ...] = ()) -> np.ndarray:
    """Elderly walking minutes from each cell centre to the nearest live position
    (``without`` one of them, with ``extra`` (lng, lat) positions added)."""
    with engine.connect() as conn:
        nets = Networks.load(conn)
        town = load_town(conn, LISHUI)
        net = ac._town_network(nets, town, 300.0)
        rows = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom) FROM service_points WHERE deleted_at IS NULL "
            "AND code IS DISTINCT FROM :without"), {"without": without}).all()
    xy = [(r[0], r[1]) for r in rows] + list(extra)
    px, py = net.project(np.array([p[0] for p in xy]), np.array([p[1] for p in xy]))
    lat, lng = np.array([h3.cell_to_latlng(c) for c in cells]).T
    cx, cy = net.project(lng, lat)
    metres = spliced_distances(net, ac.snap_arrays(net, cx, cy, 300.0),
                               ac.snap_arrays(net, px, py, 300.0))
    return metres / ELDERLY_M_PER_MIN


@pytest.fixture(scope="module")
def centre_tile(rw_engine) -> mercantile.Tile:
    with rw_engine.connect() as c:
        lng, lat = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM service_points "
                                  "WHERE name = '里水镇党群服务中心'")).one()
    return mercantile.tile(lng, lat, 15)


def test_cells_minutes_and_bands(rw_client, rw_engine, centre_tile) -> None:
    t = centre_tile
    cells = cells_of(t, tile_features(rw_client, t))
    assert len(cells) >= 20
    ids = sorted(cells)
    want = networkx_minutes(rw_engine, ids)
    got = np.array([cells[c].get("minutes", np.inf) for c in ids], dtype=float)
    np.testing.assert_allclose(got, np.round(want, 1), atol=0.051)
    for c in ids:
        assert cells[c]["band"] == band_by_hand(cells[c]["minutes"])
        assert cells[c]["region_code"] == LISHUI
    # the tile is the town's, not a blank: more than one band near the centre
    assert len({cells[c]["band"] for c in ids}) >= 2


def test_png_colour_is_the_band(rw_client, centre_tile) -> None:
    t = centre_tile
    cells = cells_of(t, tile_features(rw_client, t))
    r = rw_client.get(f"/tiles/walktime/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content)).convert("RGBA")
    colours = {"5 分钟以内": "#2c7bb6", "5–10 分钟": "#abd9e9", "10–15 分钟": "#ffffbf",
               "15–20 分钟": "#fdae61", "20 分钟以上": "#d7191c"}
    checked = 0
    for cell, props in cells.items():
        lat, lng = h3.cell_to_latlng(cell)
        x, y = to_tile(t, lng, lat)
        px = img.getpixel((int(x * 256 / MVT_EXTENT), int(y * 256 / MVT_EXTENT)))
        assert px[:3] == pytest.approx(rgb(colours[props["band"]]), abs=3), (cell, props)
        assert px[3] == pytest.approx(0.6 * 255, abs=3)
        checked += 1
    assert checked >= 20


def test_closing_a_position_changes_the_tiles(rw_client, rw_engine, tokens,
                                              centre_tile) -> None:
    t = centre_tile
    before = cells_of(t, tile_features(rw_client, t))
    ids = sorted(before)
    with rw_engine.connect() as c:
        code = c.execute(text("SELECT code FROM service_points WHERE name = '里水镇党群服务中心'"
                              )).scalar()
    auth = bearer(tokens["lishui_planner"])
    assert rw_client.delete(f"/api/v1/points/{code}", headers=auth).status_code == 200
    try:
        after = cells_of(t, tile_features(rw_client, t))
        want = networkx_minutes(rw_engine, ids, without=code)
        got = np.array([after[c].get("minutes", np.inf) for c in ids], dtype=float)
        np.testing.assert_allclose(got, np.round(want, 1), atol=0.051)
        # the centre was the nearest position of some cells: they walk farther now
        assert (got > np.array([before[c]["minutes"] for c in ids]) + 0.05).any()
    finally:
        assert rw_client.post(f"/api/v1/points/{code}/restore",
                              headers=auth).status_code == 200
    assert cells_of(t, tile_features(rw_client, t)) == before


def test_tilejson_and_index(rw_client) -> None:
    doc = rw_client.get("/tiles/walktime.json").json()
    assert doc["minzoom"] == 11
    assert doc["vector_layers"][0]["fields"] == {"minutes": "Number", "band": "String",
                                                 "region_code": "String"}
    names = {x["name"] for x in rw_client.get("/tiles").json()["layers"]}
    assert "walktime" in names
    # below the layer's zooms: an empty tile, no work
    assert rw_client.get("/tiles/walktime/9/417/223.mvt").content == b""
