"""Public regions: the tree and one region's outline in any coordinate system."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import shape

from api.schemas import RegionFeature, RegionTree
from api.settings import Settings
from geo.crs import wgs84_to_gcj02
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(samples_engine):
    with TestClient(make_app(Settings(), samples_engine)) as c:
        yield c


def _villages(town: str) -> dict[str, str]:
    with open(ROOT / "data" / "divisions.csv", encoding="utf-8") as f:
        return {r["code"]: r["name"] for r in csv.DictReader(f)
                if r["parent_code"] == town and r["level"] == "village"}


def _find(nodes, code):
    for n in nodes:
        if n.code == code:
            return n
        found = _find(n.children, code)
        if found:
            return found
    return None


def test_region_tree(client):
    tree = RegionTree.model_validate(client.get("/api/v1/regions").json())
    lishui = _find(tree.regions, "440605126")
    longteng = _find(tree.regions, "440507013")
    assert lishui.name == "里水镇" and lishui.level == "town" and lishui.level_label == "镇街"
    assert {c.code: c.name for c in lishui.children} == _villages("440605126")
    assert lishui.points == 170 and longteng.points == 33
    assert sum(c.points for c in lishui.children) == 170
    county = _find(tree.regions, "440605")
    assert county is not None and county.level == "county" and lishui in county.children


def test_one_region_with_its_outline(client):
    r = client.get("/api/v1/regions/440507013")
    assert r.headers["content-type"] == "application/geo+json"
    f = RegionFeature.model_validate(r.json())
    assert f.properties.name == "龙腾街道" and f.properties.points == 33
    assert [a.code for a in f.properties.ancestors] == ["440507"]
    assert len(f.properties.children) == 5
    assert f.geometry.type == "MultiPolygon" and f.properties.area_km2 > 1
    outline = shape(r.json()["geometry"])
    x0, y0, x1, y1 = outline.bounds
    assert f.bbox == pytest.approx([x0, y0, x1, y1], abs=1e-6)
    g = client.get("/api/v1/regions/440507013", params={"crs": "gcj02"}).json()
    first = r.json()["geometry"]["coordinates"][0][0][0]
    assert g["geometry"]["coordinates"][0][0][0] == pytest.approx(
        list(wgs84_to_gcj02(*first)), abs=2e-7)
    assert r.json()["crs"] == "wgs84" and g["crs"] == "gcj02"
    bare = client.get("/api/v1/regions/440507013", params={"geometry": False}).json()
    assert bare["geometry"] is None and bare["properties"]["points"] == 33
    village = client.get("/api/v1/regions/440605126050").json()
    assert village["properties"]["ancestors"][-1]["code"] == "440605126"


def test_unknown_and_malformed_region_codes(client):
    r = client.get("/api/v1/regions/440507013999")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")
    bad = client.get("/api/v1/regions/lishui")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.code"
