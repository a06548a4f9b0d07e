"""Planner writes: create, update, move, soft delete and restore of every
entity; audit entries; invalidation of exactly the affected circles."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from api.schemas import (
    BranchRecord,
    BuildingRecord,
    CompoundRecord,
    EditResponse,
    GridCellRecord,
    PointRecord,
    RecordCollection,
    RecordFeature,
)
from geo.crs import wgs84_to_gcj02
from tests.api.conftest import LONGTENG, PRIVATE_MARKERS, bearer
from tests.conftest import make_app

VILLAGE = "440507013001"


@pytest.fixture(scope="module")
def spot(rw_engine):
    """A WGS-84 point inside Longteng village 440507013001 and away from others."""
    with rw_engine.connect() as c:
        row = c.execute(text(
            "SELECT ST_X(p) AS lng, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(geom) AS p "
            "FROM regions WHERE code = :c) s"), {"c": VILLAGE}).one()
    return row.lng, row.lat


def square(lng: float, lat: float, d: float = 0.0004) -> dict:
    return {"type": "Polygon", "coordinates": [[[lng, lat], [lng + d, lat], [lng + d, lat + d],
                                                [lng, lat + d], [lng, lat]]]}


def audit_rows(engine, entity: str, code: str) -> list:
    with engine.connect() as c:
        return c.execute(text(
            "SELECT actor, action, before, after, at FROM audit_log "
            "WHERE entity = :e AND entity_code = :c ORDER BY id"),
            {"e": entity, "c": code}).all()


def row(engine, table: str, code: str):
    with engine.connect() as c:
        return c.execute(text(f"SELECT * FROM {table} WHERE code = :c"), {"c": code}).one_or_none()


def test_point_lifecycle_with_audit(rw_client, rw_engine, tokens, spot):
    h = bearer(tokens["longteng_planner"])
    lng, lat = spot
    glng, glat = wgs84_to_gcj02(lng, lat)
    body = {"code": "LT-T-P1", "name": "测试党群服务站", "kind": "station",
            "region_code": VILLAGE, "crs": "gcj02",
            "geometry": {"type": "Point", "coordinates": [glng, glat]},
            "hours_text": "周一至周五 9:00-17:30", "services": ["party", "elderly_care"],
            "phone": "0754-88880000", "rooms": 3}
    r = rw_client.post("/api/v1/points", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/planner/points/LT-T-P1"
    created = EditResponse[PointRecord].model_validate(r.json())
    assert created.action == "create" and created.audit_id
    props = created.feature.properties
    assert props.source_crs == "gcj02" and props.version == 1
    assert props.hours["weekly"]["mon"] == [["09:00", "17:30"]]
    assert "sat" not in props.hours["weekly"]
    # stored in WGS-84: the GCJ-02 input was converted back
    stored = created.feature.geometry.coordinates
    assert stored[0] == pytest.approx(lng, abs=1e-7) and stored[1] == pytest.approx(lat, abs=1e-7)

    # the public API shows it at once
    pub = rw_client.get("/api/v1/points/LT-T-P1").json()
    assert pub["properties"]["name"] == "测试党群服务站"

    # PATCH
    r = rw_client.patch("/api/v1/points/LT-T-P1", json={"name": "测试服务站（改）", "stars": 4},
                        headers=h)
    assert r.status_code == 200, r.text
    upd = EditResponse[PointRecord].model_validate(r.json())
    assert upd.action == "update" and upd.changed == ["name", "stars"]
    assert upd.feature.properties.version == 1

    # PATCH with identical values: nothing changes, nothing is audited
    r = rw_client.patch("/api/v1/points/LT-T-P1", json={"stars": 4}, headers=h)
    assert r.json()["action"] == "none" and r.json()["audit_id"] is None

    # move
    r = rw_client.put("/api/v1/points/LT-T-P1/geometry",
                      json={"geometry": {"type": "Point", "coordinates": [lng + 0.0005, lat]}},
                      headers=h)
    assert r.status_code == 200, r.text
    moved = EditResponse[PointRecord].model_validate(r.json())
    assert moved.action == "move" and moved.feature.properties.version == 2

    # PUT replaces: fields left out take their defaults
    r = rw_client.put("/api/v1/points/LT-T-P1", json={
        "name": "测试服务站", "kind": "station", "region_code": VILLAGE,
        "geometry": {"type": "Point", "coordinates": [lng + 0.0005, lat]}}, headers=h)
    assert r.status_code == 200, r.text
    put = EditResponse[PointRecord].model_validate(r.json()).feature.properties
    assert put.stars is None and put.services == [] and put.phone is None

    # soft delete: gone from public answers, listed for planners, restorable
    r = rw_client.delete("/api/v1/points/LT-T-P1", headers=h)
    assert r.status_code == 200
    assert r.json()["feature"]["properties"]["deleted_at"] is not None
    assert rw_client.get("/api/v1/points/LT-T-P1").status_code == 404
    assert row(rw_engine, "service_points", "LT-T-P1").deleted_at is not None
    assert rw_client.patch("/api/v1/points/LT-T-P1", json={"stars": 2},
                           headers=h).status_code == 404
    listed = rw_client.get("/api/v1/planner/points", headers=h,
                           params={"include_deleted": True, "region": VILLAGE, "limit": 1000})
    coll = RecordCollection[PointRecord].model_validate(listed.json())
    assert "LT-T-P1" in {f.id for f in coll.features}
    live = rw_client.get("/api/v1/planner/points", headers=h,
                         params={"region": VILLAGE, "limit": 1000}).json()
    assert "LT-T-P1" not in {f["id"] for f in live["features"]}
    # a deleted code cannot be created again: restore it instead
    again = rw_client.post("/api/v1/points", json=body, headers=h)
    assert again.status_code == 409 and "恢复" in again.json()["detail"]
    r = rw_client.post("/api/v1/points/LT-T-P1/restore", headers=h)
    assert r.status_code == 200 and r.json()["feature"]["properties"]["deleted_at"] is None
    assert rw_client.get("/api/v1/points/LT-T-P1").status_code == 200
    assert rw_client.post("/api/v1/points/LT-T-P1/restore", headers=h).status_code == 409

    audit = audit_rows(rw_engine, "point", "LT-T-P1")
    assert [a.action for a in audit] == ["create", "update", "move", "update", "delete",
                                         "restore"]
    assert all(a.actor.startswith("token:smt_") and a.actor.endswith(":longteng_planner")
               for a in audit)
    assert audit[0].before is None and audit[0].after["name"] == "测试党群服务站"
    assert audit[1].before["name"] == "测试党群服务站"
    assert audit[1].after["name"] == "测试服务站（改）"
    assert audit[2].before["geometry"] != audit[2].after["geometry"]
    assert audit[4].before["deleted_at"] is None and audit[4].after["deleted_at"] is not None
    assert audit[5].after["deleted_at"] is None
    assert all(a.at is not None for a in audit)


def _circles(engine) -> dict[str, int]:
    with engine.connect() as c:
        return dict(c.execute(text(
            "SELECT point_code, count(*) FROM service_circles GROUP BY point_code")).all())


def test_a_move_invalidates_exactly_that_points_circles(rw_client, rw_engine, tokens):
    h = bearer(tokens["longteng_planner"])
    before = _circles(rw_engine)
    assert before["LT-0002"] == 2 and before["LT-0003"] == 2 and before["LS-0002"] == 2
    version = row(rw_engine, "service_points", "LT-0002").version
    # a change of name keeps the circles
    r = rw_client.patch("/api/v1/points/LT-0002", json={"name": "妈屿社区党群服务中心（新）"},
                        headers=h)
    assert r.status_code == 200 and r.json()["invalidated"] == {}
    assert _circles(rw_engine) == before
    # a move drops LT-0002's circles only and bumps its version
    p = row(rw_engine, "service_points", "LT-0002")
    with rw_engine.connect() as c:
        lng, lat = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM service_points "
                                  "WHERE code = 'LT-0002'")).one()
    r = rw_client.put("/api/v1/points/LT-0002/geometry", headers=h, json={
        "geometry": {"type": "Point", "coordinates": [lng + 0.0002, lat + 0.0001]}})
    assert r.status_code == 200, r.text
    assert r.json()["invalidated"] == {"circles_deleted": 2, "point_version": version + 1}
    after = _circles(rw_engine)
    assert "LT-0002" not in after
    assert after == {k: v for k, v in before.items() if k != "LT-0002"}
    assert row(rw_engine, "service_points", "LT-0002").version == p.version + 1
    # deleting a point drops its circles too
    r = rw_client.delete("/api/v1/points/LT-0003", headers=h)
    assert r.json()["invalidated"] == {"circles_deleted": 2}
    assert "LT-0003" not in _circles(rw_engine) and "LS-0002" in _circles(rw_engine)
    assert rw_client.post("/api/v1/points/LT-0003/restore", headers=h).status_code == 200


def test_compound_building_grid_branch_lifecycles(rw_client, rw_engine, tokens, spot):
    h = bearer(tokens["longteng_planner"])
    lng, lat = spot
    r = rw_client.post("/api/v1/compounds", headers=h, json={
        "code": "LT-T-C1", "name": "测试小区", "region_code": VILLAGE,
        "geometry": square(lng, lat), "households": 120, "population": 360})
    assert r.status_code == 201, r.text
    comp = EditResponse[CompoundRecord].model_validate(r.json())
    assert comp.feature.geometry.type == "MultiPolygon"

    r = rw_client.post("/api/v1/buildings", headers=h, json={
        "code": "LT-T-B1", "compound_code": "LT-T-C1",
        "geometry": square(lng + 0.0001, lat + 0.0001, 0.0001), "households": 40})
    assert r.status_code == 201, r.text
    b = EditResponse[BuildingRecord].model_validate(r.json()).feature.properties
    assert b.region_code == VILLAGE and b.population == 0

    r = rw_client.post("/api/v1/grid-cells", headers=h, json={
        "code": "LT-T-G1", "name": "测试网格", "region_code": VILLAGE,
        "geometry": square(lng, lat, 0.001), "workers": 1,
        "private": {"workers": [{"name": "测试网格员", "phone": "13800000000"}]}})
    assert r.status_code == 201, r.text
    g = EditResponse[GridCellRecord].model_validate(r.json()).feature.properties
    assert g.private == {"workers": [{"name": "测试网格员", "phone": "13800000000"}]}

    r = rw_client.post("/api/v1/branches", headers=h, json={
        "code": "LT-T-PB1", "name": "测试党支部", "region_code": VILLAGE,
        "seat_compound_code": "LT-T-C1", "compound_codes": ["LT-T-C1", "LT-C0001", "LT-T-C1"],
        "private": {"members": 5, "member_households": [{"name": "测试党员户"}]}})
    assert r.status_code == 201, r.text
    br = EditResponse[BranchRecord].model_validate(r.json())
    assert br.feature.geometry is None
    assert br.feature.properties.compound_codes == ["LT-C0001", "LT-T-C1"]

    r = rw_client.patch("/api/v1/branches/LT-T-PB1", headers=h,
                        json={"compound_codes": ["LT-T-C1"]})
    assert r.status_code == 200 and r.json()["changed"] == ["compound_codes"]
    with rw_engine.connect() as c:
        assert c.execute(text("SELECT compound_code FROM branch_compounds "
                              "WHERE branch_code = 'LT-T-PB1'")).scalars().all() == ["LT-T-C1"]

    # reshape the compound, PATCH the building, move the grid cell
    r = rw_client.put("/api/v1/compounds/LT-T-C1/geometry", headers=h,
                      json={"geometry": square(lng, lat, 0.0006)})
    assert r.status_code == 200 and r.json()["action"] == "move"
    r = rw_client.patch("/api/v1/buildings/LT-T-B1", headers=h, json={"population": 99})
    assert r.status_code == 200 and r.json()["feature"]["properties"]["population"] == 99
    r = rw_client.patch("/api/v1/grid-cells/LT-T-G1", headers=h,
                        json={"has_branch": True, "kind": "party"})
    assert r.status_code == 200 and r.json()["changed"] == ["has_branch", "kind"]

    for slug, code, entity in (("buildings", "LT-T-B1", "building"),
                               ("grid-cells", "LT-T-G1", "grid_cell"),
                               ("branches", "LT-T-PB1", "branch"),
                               ("compounds", "LT-T-C1", "compound")):
        assert rw_client.delete(f"/api/v1/{slug}/{code}", headers=h).status_code == 200
        got = rw_client.get(f"/api/v1/planner/{slug}/{code}", headers=h).json()
        assert got["properties"]["deleted_at"] is not None
        assert rw_client.post(f"/api/v1/{slug}/{code}/restore", headers=h).status_code == 200
        RecordFeature[{"buildings": BuildingRecord, "grid-cells": GridCellRecord,
                       "branches": BranchRecord, "compounds": CompoundRecord}[slug]
                      ].model_validate(rw_client.get(f"/api/v1/planner/{slug}/{code}",
                                                     headers=h).json())
        actions = [a.action for a in audit_rows(rw_engine, entity, code)]
        assert actions[0] == "create" and actions[-2:] == ["delete", "restore"]


def test_planner_reads_show_private_data_to_planners_of_the_region(rw_client, tokens):
    planner = rw_client.get("/api/v1/planner/grid-cells/LT-G01",
                            headers=bearer(tokens["longteng_planner"]))
    assert planner.status_code == 200
    assert planner.json()["properties"]["private"]["workers"][0]["name"] == \
        PRIVATE_MARKERS["worker_name"]
    assert planner.headers["cache-control"] == "private, no-store"
    viewer = rw_client.get("/api/v1/planner/grid-cells/LT-G01",
                           headers=bearer(tokens["longteng_viewer"]))
    assert viewer.status_code == 200 and "private" not in viewer.json()["properties"]
    assert PRIVATE_MARKERS["worker_name"] not in viewer.text
    other = rw_client.get("/api/v1/planner/grid-cells/LT-G01",
                          headers=bearer(tokens["lishui_planner"]))
    assert other.status_code == 403 and PRIVATE_MARKERS["worker_name"] not in other.text
    branches = rw_client.get("/api/v1/planner/branches", params={"region": LONGTENG},
                             headers=bearer(tokens["longteng_planner"])).json()
    seeded = [f for f in branches["features"] if f["id"].startswith("LT-PB")]
    assert len(seeded) == 6
    assert all(f["properties"]["private"]["member_households"][0]["name"]
               == PRIVATE_MARKERS["household_name"] for f in seeded)
    mine = rw_client.get("/api/v1/planner/branches",
                         headers=bearer(tokens["lishui_planner"])).json()
    assert all(f["properties"]["region_code"].startswith("440605126")
               for f in mine["features"])


def test_whoami(rw_client, tokens):
    r = rw_client.get("/api/v1/auth/whoami", headers=bearer(tokens["village_planner"]))
    assert r.json() == {"name": "village_planner", "role": "planner",
                        "regions": ["440507013001"], "prefix": r.json()["prefix"]}


def test_chinese_names_of_kinds_and_services_as_in_files(rw_client, rw_engine, tokens, spot):
    """The API takes the importers' vocabulary (geo.rules): Chinese names are
    stored as slugs, placeholders as empty, full-width phone digits as ASCII."""
    h = bearer(tokens["longteng_planner"])
    lng, lat = spot
    body = {"code": "LT-T-ZH1", "name": "中文类型服务站", "kind": "党群驿站",
            "region_code": VILLAGE, "geometry": {"type": "Point", "coordinates": [lng, lat]},
            "services": ["党务", "养老", "党建"], "address": "无",
            "phone": "０７５４-８８８８０００１"}
    r = rw_client.post("/api/v1/points", json=body, headers=h)
    assert r.status_code == 201, r.text
    props = r.json()["feature"]["properties"]
    assert props["kind"] == "station" and props["services"] == ["party", "elderly_care"]
    assert props["address"] is None and props["phone"] == "0754-88880001"
    r = rw_client.post("/api/v1/grid-cells", headers=h, json={
        "code": "LT-T-ZHG", "name": "中文网格", "region_code": VILLAGE, "kind": "党建网格",
        "geometry": square(lng + 0.001, lat + 0.001)})
    assert r.status_code == 201, r.text
    assert r.json()["feature"]["properties"]["kind"] == "party"
    for path in ("points/LT-T-ZH1", "grid-cells/LT-T-ZHG"):
        assert rw_client.delete(f"/api/v1/{path}", headers=h).status_code == 200
    assert row(rw_engine, "service_points", "LT-T-ZH1").kind == "station"


def test_a_write_shows_at_once_in_cached_public_coverage(rw_engine, tokens):
    """Public coverage answers are cached (here for an hour); deleting a branch
    through the API changes the next answer by the compounds only it covered,
    and restoring it brings the answer back."""
    from fastapi.testclient import TestClient

    from api.settings import Settings

    with rw_engine.connect() as c:
        # the Longteng branch that alone covers the most compounds
        branch, alone = c.execute(text("""
            WITH cover AS (
                SELECT bc.branch_code AS b, bc.compound_code AS c FROM branch_compounds bc
                JOIN party_branches p ON p.code = bc.branch_code AND p.deleted_at IS NULL
                UNION SELECT code, seat_compound_code FROM party_branches
                WHERE deleted_at IS NULL AND seat_compound_code IS NOT NULL),
            solo AS (SELECT c FROM cover GROUP BY c HAVING count(*) = 1)
            SELECT cover.b, count(*) FROM cover JOIN solo USING (c)
            WHERE cover.b IN (SELECT code FROM party_branches WHERE region_code LIKE :t)
            GROUP BY cover.b ORDER BY count(*) DESC, cover.b LIMIT 1"""),
            {"t": LONGTENG + "%"}).one()
    assert alone > 0
    h = bearer(tokens["longteng_planner"])
    app = make_app(Settings(cache_ttl_s=3600), rw_engine)
    with TestClient(app) as client:
        def fraction() -> str:
            r = client.get("/api/v1/coverage/branches", params={"region": LONGTENG})
            assert r.status_code == 200, r.text
            return r.json()["totals"]["fraction"]

        # 32/36 in the sample, plus what other tests of this module created
        before = fraction()
        covered, compounds = map(int, before.split("/"))
        assert covered >= 32 and compounds >= 36
        assert client.delete(f"/api/v1/branches/{branch}", headers=h).status_code == 200
        try:
            assert fraction() == f"{covered - alone}/{compounds}"
        finally:
            r = client.post(f"/api/v1/branches/{branch}/restore", headers=h)
            assert r.status_code == 200, r.text
        assert fraction() == before
