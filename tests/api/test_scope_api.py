"""Region scope holds for geometry, not only for codes (issue 11 #3, #9).

The attack that worked before: a Longteng planner re-imported Longteng's
village outlines extended over a block of Lishui, then created a point there
with a Longteng village code. Now region outlines are admin-only, and every
write's geometry must lie inside the stored boundaries of the token's regions
(within the town tolerance), through the API and through imports alike; the
database is unchanged by every refused variant.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
import shapely
from sqlalchemy import text

from tests.api.conftest import LISHUI, LONGTENG, bearer

pytestmark = pytest.mark.reliability

LONGTENG_VILLAGE = "440507013001"


def _fingerprint(engine) -> tuple:
    with engine.connect() as c:
        return tuple(c.execute(text(
            f"SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY t.code), '')) "
            f"FROM {t} t")).one() for t in ("regions", "service_points", "compounds",
                                              "buildings"))


@pytest.fixture(scope="module")
def spots(rw_engine) -> dict[str, tuple[float, float]]:
    """A point well inside Lishui (a village's point on surface) and one in Longteng."""
    with rw_engine.connect() as c:
        out = {}
        for town in (LISHUI, LONGTENG):
            out[town] = tuple(c.execute(text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions "
                "WHERE parent_code = :t ORDER BY code LIMIT 1) s"), {"t": town}).one())
    return out


def _csv(head: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def _upload(client, token: str, kind: str, content: bytes, name: str = "f.csv", **form):
    return client.post("/api/v1/imports", headers=bearer(token),
                       data={"kind": kind, **form}, files={"file": (name, content)})


def _square(lng: float, lat: float, d: float = 0.0004) -> str:
    return shapely.box(lng - d, lat - d, lng + d, lat + d).wkt


def test_region_outlines_are_admin_only(rw_client, rw_engine, tokens, spots):
    before = _fingerprint(rw_engine)
    # Longteng's first village, its outline grown over Lishui
    lng, lat = spots[LISHUI]
    grown = shapely.box(lng - 0.01, lat - 0.01, lng + 0.01, lat + 0.01).wkt
    body = _csv(["区划代码", "名称", "边界"], [[LONGTENG_VILLAGE, "珠津社区", grown]])
    r = _upload(rw_client, tokens["longteng_planner"], "regions", body)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "管理员" in r.json()["detail"]
    assert _fingerprint(rw_engine) == before
    # an administrator may (a dry run here, so that nothing changes)
    r = _upload(rw_client, tokens["admin"], "regions", body, dry_run="true")
    assert r.status_code == 200, r.text
    assert r.json()["dry_run"] is True and r.json()["updated"] == 1
    assert _fingerprint(rw_engine) == before


def test_a_point_on_anothers_ground_is_refused_through_api_and_import(
        rw_client, rw_engine, tokens, spots):
    before = _fingerprint(rw_engine)
    lng, lat = spots[LISHUI]
    h = bearer(tokens["longteng_planner"])
    # the API: a Longteng village code, a location in Lishui
    r = rw_client.post("/api/v1/points", headers=h, json={
        "code": "LT-SCOPE-1", "name": "越界服务站", "kind": "station",
        "region_code": LONGTENG_VILLAGE,
        "geometry": {"type": "Point", "coordinates": [lng, lat]}})
    assert r.status_code in (403, 422), r.text
    # an import of the same row is refused too (it used to import with a warning)
    r = _upload(rw_client, tokens["longteng_planner"], "points", _csv(
        ["编码", "名称", "类型", "所属村居", "经度", "纬度"],
        [["LT-SCOPE-1", "越界服务站", "党群服务站", LONGTENG_VILLAGE, lng, lat]]))
    assert r.status_code == 422, r.text
    kinds = {e.get("kind") for e in r.json()["errors"]}
    assert "forbidden_ground" in kinds, r.json()["errors"]
    # and moving an existing Longteng point there
    r = rw_client.put("/api/v1/points/LT-0004/geometry", headers=h, json={
        "geometry": {"type": "Point", "coordinates": [lng, lat]}})
    assert r.status_code in (403, 422), r.text
    assert _fingerprint(rw_engine) == before


def test_a_compound_stretched_over_the_border_is_refused(rw_client, rw_engine, tokens, spots):
    before = _fingerprint(rw_engine)
    h = bearer(tokens["longteng_planner"])
    lt, ls = spots[LONGTENG], spots[LISHUI]
    # a footprint whose point on surface is in Longteng but which reaches Lishui
    stretched = shapely.MultiPolygon([shapely.box(lt[0] - 0.0003, lt[1] - 0.0003,
                                                  lt[0] + 0.0003, lt[1] + 0.0003),
                                      shapely.box(ls[0], ls[1], ls[0] + 0.0001,
                                                  ls[1] + 0.0001)])
    r = rw_client.post("/api/v1/compounds", headers=h, json={
        "code": "LT-SCOPE-C", "name": "越界小区", "region_code": LONGTENG_VILLAGE,
        "geometry": json.loads(shapely.to_geojson(stretched))})
    assert r.status_code in (403, 422), r.text
    r = _upload(rw_client, tokens["longteng_planner"], "compounds", _csv(
        ["小区编码", "小区名称", "所属村居", "边界"],
        [["LT-SCOPE-C", "越界小区", LONGTENG_VILLAGE, stretched.wkt]]))
    assert r.status_code == 422
    assert {e.get("kind") for e in r.json()["errors"]} & {"forbidden_ground"}
    assert _fingerprint(rw_engine) == before


def test_buildings_without_a_compound_follow_their_ground(rw_client, rw_engine, tokens, spots):
    """The product's own buildings export imports back (#9): a building with no
    compound belongs to the village its footprint lies in."""
    lt, ls = spots[LONGTENG], spots[LISHUI]
    with rw_engine.begin() as c:
        c.execute(text("INSERT INTO buildings (code, geom) VALUES ('LT-B-LOOSE', "
                       "ST_Multi(ST_GeomFromText(:w, 4326)))"), {"w": _square(*lt, 0.0001)})
    try:
        before = _fingerprint(rw_engine)
        ok = _upload(rw_client, tokens["longteng_planner"], "buildings", _csv(
            ["楼栋编码", "所属小区", "户数", "人口", "几何(WKT)"],
            [["LT-B-LOOSE", "", 0, 0, _square(*lt, 0.0001)]]), dry_run="true")
        assert ok.status_code == 200, ok.text
        assert ok.json()["rows_rejected"] == 0
        # the Lishui planner may not touch it (its footprint is Longteng's ground)
        other = _upload(rw_client, tokens["lishui_planner"], "buildings", _csv(
            ["楼栋编码", "所属小区", "户数", "人口", "几何(WKT)"],
            [["LT-B-LOOSE", "", 0, 0, _square(*lt, 0.0001)]]))
        assert other.status_code == 422
        assert {e.get("kind") for e in other.json()["errors"]} == {"forbidden_ground"}
        # nor may the Longteng planner put a loose building into Lishui
        far = _upload(rw_client, tokens["longteng_planner"], "buildings", _csv(
            ["楼栋编码", "所属小区", "户数", "人口", "几何(WKT)"],
            [["LT-B-FAR", "", 0, 0, _square(*ls, 0.0001)]]))
        assert far.status_code == 422
        assert _fingerprint(rw_engine) == before
    finally:
        with rw_engine.begin() as c:
            c.execute(text("DELETE FROM buildings WHERE code = 'LT-B-LOOSE'"))


def test_the_buildings_export_imports_back_for_its_planner(rw_client, rw_engine, tokens, tmp_path):
    """The issue's case: Lishui's whole buildings export, re-imported by Lishui's
    planner, is all unchanged — none refused as ``forbidden_region``."""
    from geo.io.export import export_layer

    path = tmp_path / "楼栋.csv"
    with rw_engine.connect() as c:
        result = export_layer(c, "buildings", path, region=LISHUI)
        loose = c.execute(text(
            "SELECT count(*) FROM buildings b JOIN regions r ON r.parent_code = :t "
            "AND ST_Contains(r.geom, ST_PointOnSurface(b.geom)) "
            "WHERE b.compound_code IS NULL AND b.deleted_at IS NULL"), {"t": LISHUI}).scalar()
    assert loose > 1000  # the case that failed: buildings with no compound
    r = _upload(rw_client, tokens["lishui_planner"], "buildings", path.read_bytes(),
                name=path.name, dry_run="true")
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert result.rows > loose and body["rows_read"] == result.rows
    assert body["rows_rejected"] == 0 and body["inserted"] == 0
