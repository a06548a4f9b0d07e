"""Street names on the offline basemap: the sample's streets carry the road
names its addresses use, and a basemap tile at zoom 17 writes the name along
its street (the dark label pixels lie on the street's midpoint and run in the
street's direction, measured here with mercantile and NumPy, not the SQL)."""

from __future__ import annotations

import io
import math
import re

import mercantile
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from shapely import wkb
from sqlalchemy import text

from api.settings import Settings
from maps.style import BASEMAP, rgb
from tests.conftest import make_app
from tests.maps.conftest import LONGTENG


@pytest.fixture(scope="module")
def client(samples_engine):
    with TestClient(make_app(Settings(cache_ttl_s=0), samples_engine)) as c:
        yield c


def test_addresses_name_streets_of_the_network(samples_engine):
    with samples_engine.connect() as c:
        names = {r[0] for r in c.execute(text(
            "SELECT DISTINCT name FROM network_edges WHERE name IS NOT NULL"))}
        addresses = [r[0] for r in c.execute(text(
            "SELECT address FROM service_points WHERE starts_with(region_code, :r)"),
            {"r": LONGTENG})]
    assert len(names) >= 5
    for a in addresses:  # "<town><village><road><number>号"
        road = re.search(r"([\u4e00-\u9fff]+?(?:大道|[东西南北中]?路))\d+号", a)
        assert road and any(road.group(1).endswith(n) for n in names), a


def test_a_street_name_is_written_along_its_street(client, samples_engine):
    def direction(line) -> float:
        a = line.interpolate(0.4, normalized=True)
        e = line.interpolate(0.6, normalized=True)
        ax, ay = mercantile.xy(a.x, a.y)
        ex, ey = mercantile.xy(e.x, e.y)
        return math.degrees(math.atan2(ey - ay, ex - ax)) % 180

    with samples_engine.connect() as c:
        rows = c.execute(text(
            "SELECT name, ST_AsBinary(geom) FROM network_edges WHERE name IS NOT NULL "
            "AND dataset = 'longteng' ORDER BY length_m DESC LIMIT 40")).all()
    # the longest named street that is far from level: a label not turned would fail
    name, line = next((n, ln) for n, ln in ((n, wkb.loads(bytes(g))) for n, g in rows)
                      if 30 < direction(ln) < 150)
    street = direction(line)
    mid = line.interpolate(0.5, normalized=True)
    z = 17
    tile = mercantile.tile(mid.x, mid.y, z)
    r = client.get(f"/tiles/basemap/{z}/{tile.x}/{tile.y}.png")
    assert r.status_code == 200
    im = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(int)
    # the midpoint in tile pixels
    b = mercantile.xy_bounds(tile)
    mx, my = mercantile.xy(mid.x, mid.y)
    px = (mx - b.left) / (b.right - b.left) * im.shape[1]
    py = (b.top - my) / (b.top - b.bottom) * im.shape[0]
    # label pixels: close to the street label colour, within 40 px of the midpoint
    dist = np.abs(im - np.array(rgb(BASEMAP["street_label"]))).sum(axis=2)
    ys, xs = np.nonzero(dist < 120)
    near = np.hypot(xs - px, ys - py) < 40
    xs, ys = xs[near], ys[near]
    assert len(xs) > 30, f"no label for {name} near ({px:.0f}, {py:.0f})"
    # they run along the street: their main axis has the street's direction
    cov = np.cov(np.vstack([xs, -ys]))  # y up, like the map
    w, v = np.linalg.eigh(cov)
    axis = math.degrees(math.atan2(v[1, -1], v[0, -1])) % 180
    diff = min(abs(axis - street), 180 - abs(axis - street))
    assert diff < 12, (axis, street)
    assert w[-1] > 4 * w[0]  # a line of text, not a blob
