"""Coverage API: public aggregates (reach, branches 32/36, grids 4 of 12, gaps),
Excel exports, planner-only lists, siting, what-if and snapshots."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.settings import Settings
from geo import coverage as cov
from geo.circles import compute_circles
from geo.tokens import create_token
from tests.conftest import make_app

LONGTENG, LISHUI = "440507013", "440605126"
PRIVATE = {"worker_name": "网格员甲某", "worker_phone": "13911119999"}


@pytest.fixture(scope="module")
def env(samples_engine):
    """Circles computed, personal data seeded, tokens created; all removed afterwards."""
    with samples_engine.begin() as c:
        compute_circles(c, [10], profile="elderly")
        c.execute(text("UPDATE grid_cells SET private = CAST(:p AS jsonb) "
                       "WHERE region_code LIKE '440507013%'"), {"p": json.dumps(PRIVATE)})
        tokens = {}
        for name, role, regions in (("cov-lt-planner", "planner", [LONGTENG]),
                                    ("cov-lt-viewer", "viewer", [LONGTENG]),
                                    ("cov-ls-planner", "planner", [LISHUI])):
            secret, _ = create_token(c, name=name, role=role, regions=regions)
            tokens[name] = {"Authorization": f"Bearer {secret}"}
    app = make_app(Settings(cache_ttl_s=0), samples_engine)
    with TestClient(app) as tc:
        yield tc, tokens
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))
        c.execute(text("DELETE FROM coverage_snapshots"))
        c.execute(text("DELETE FROM api_tokens WHERE name LIKE 'cov-%'"))
        c.execute(text("UPDATE grid_cells SET private = '{}'"))


@pytest.fixture(scope="module")
def client(env):
    return env[0]


@pytest.fixture(scope="module")
def tokens(env):
    return env[1]


def _no_private(body: str) -> None:
    for marker in PRIVATE.values():
        assert marker not in body


def test_coverage_of_longteng(client):
    r = client.get("/api/v1/coverage", params={"region": LONGTENG, "minutes": 10})
    assert r.status_code == 200, r.text
    body = r.json()
    t = body["totals"]
    assert t["buildings"] == 3986 and t["compounds"] == 36
    assert 0 < t["population_covered"] < t["population"]
    assert t["population_fraction"] == f"{t['population_covered']}/{t['population']}"
    assert len(body["by_region"]) == 5 and len(body["by_grid"]) == 12
    assert sum(g["population"] for g in body["by_grid"]) <= t["population"]
    assert sum(v["population_covered"] for v in body["by_region"]) == t["population_covered"]
    assert body["circles"]["count"] == 33 and body["circles"]["stale"] == 0
    assert body["rule"]["building"] == "centroid" and body["parameters"]["profile"] == "elderly"
    assert r.headers["cache-control"].startswith("public")
    _no_private(r.text)
    # only aggregates: no building or household rows
    assert "households" not in json.dumps(body["by_point"])


def test_stricter_rules_and_fewer_kinds_cover_less(client, tokens):
    base = client.get("/api/v1/coverage", params={"region": LONGTENG}).json()["totals"]
    # the footprint rules are costly: a planner asks for them
    anonymous = client.get("/api/v1/coverage", params={"region": LONGTENG, "rule": "intersects"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    inter = client.get("/api/v1/coverage", params={"region": LONGTENG, "rule": "intersects"},
                       headers=tokens["cov-lt-planner"]).json()["totals"]
    centers = client.get("/api/v1/coverage", params=[("region", LONGTENG),
                                                     ("kinds", "town_center"),
                                                     ("kinds", "village_center")]).json()
    assert inter["population_covered"] >= base["population_covered"]
    assert centers["totals"]["population_covered"] <= base["population_covered"]
    assert centers["circles"]["count"] == 6


def test_branch_coverage_both_roundings(client):
    r = client.get("/api/v1/coverage/branches", params={"region": LONGTENG})
    assert r.status_code == 200
    t = r.json()["totals"]
    assert (t["fraction"], t["percent"], t["percent_text"]) == ("32/36", 88.89, "88.89%")
    assert "compounds_without_branch" not in r.json()
    t2 = client.get("/api/v1/coverage/branches",
                    params={"region": LONGTENG, "rounding": "truncate"}).json()["totals"]
    assert (t2["percent"], t2["percent_text"]) == (88.88, "88.88%")
    _no_private(r.text)


def test_grid_view_four_of_twelve(client):
    r = client.get("/api/v1/coverage/grids", params={"region": LONGTENG})
    assert r.status_code == 200
    (gov,) = r.json()["kinds"]
    assert (gov["grids"], gov["with_branch"], gov["fraction"]) == (12, 4, "4/12")
    assert "compounds_in_grids_without_branch" not in r.json()
    _no_private(r.text)


def test_lishui_dual_grid_has_both_kinds(client):
    g = client.get("/api/v1/coverage/grids", params={"region": LISHUI}).json()
    kinds = {k["kind"]: k for k in g["kinds"]}
    assert set(kinds) == {"governance", "party"} and kinds["party"]["grids"] > 0
    assert g["overlay"] and all(0 < o["share_of_party"] <= 1 for o in g["overlay"])


def test_gaps_public_and_planner_detail(client, tokens):
    r = client.get("/api/v1/gaps", params={"region": LONGTENG})
    assert r.status_code == 200, r.text
    g = r.json()
    assert "buildings" not in g and "compounds" not in g
    assert g["hexagons"]["resolution"] == 8
    assert all(c["buildings_uncovered"] >= 3 for c in g["hexagons"]["cells"])
    assert g["areas"]["type"] == "FeatureCollection" and g["areas"]["count"] > 0
    unc = g["totals"]["population_uncovered"]
    assert unc == sum(r["population_uncovered"] for r in g["by_region"])
    assert sum(c["population_uncovered"] for c in g["hexagons"]["cells"]) + \
        g["hexagons"]["suppressed"]["population_uncovered"] == unc
    # ranked lists need a planner token of the region
    assert client.get("/api/v1/gaps", params={"region": LONGTENG, "detail": True}
                      ).status_code == 401
    assert client.get("/api/v1/gaps", params={"region": LONGTENG, "detail": True},
                      headers=tokens["cov-lt-viewer"]).status_code == 403
    assert client.get("/api/v1/gaps", params={"region": LONGTENG, "detail": True},
                      headers=tokens["cov-ls-planner"]).status_code == 403
    d = client.get("/api/v1/gaps", params={"region": LONGTENG, "detail": True, "limit": 5},
                   headers=tokens["cov-lt-planner"])
    assert d.status_code == 200 and d.headers["cache-control"].startswith("private")
    body = d.json()
    pops = [b["population"] for b in body["buildings"]]
    assert len(pops) == 5 and pops == sorted(pops, reverse=True)
    unc_c = [c["population_uncovered"] for c in body["compounds"]]
    assert unc_c == sorted(unc_c, reverse=True)
    b = client.get("/api/v1/coverage/branches",
                   params={"region": LONGTENG, "detail": True},
                   headers=tokens["cov-lt-planner"]).json()
    assert len(b["compounds_without_branch"]) == 4


def test_excel_exports(client):
    from openpyxl import load_workbook

    r = client.get("/api/v1/coverage", params={"region": LONGTENG, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    assert r.content.decode("utf-8-sig").splitlines()[0].startswith("编码,名称,层级,建筑数")
    x = client.get("/api/v1/coverage/branches", params={"region": LONGTENG, "format": "xlsx",
                                                         "rounding": "truncate"})
    wb = load_workbook(io.BytesIO(x.content))
    ws = wb["党支部覆盖"]
    assert [c.value for c in ws[1]][:4] == ["编码", "名称", "层级", "小区数"]
    assert [c.value for c in ws[2]][-2:] == ["32/36", "88.88%"]
    assert "参数" in wb.sheetnames
    g = client.get("/api/v1/gaps", params={"region": LONGTENG, "format": "xlsx"})
    assert load_workbook(io.BytesIO(g.content)).sheetnames[0] == "未覆盖汇总"


@pytest.mark.parametrize("params, status, needle", [
    ({"region": "999999"}, 404, "999999"),
    ({"region": LONGTENG, "minutes": 15}, 409, "servicemap isochrones --minutes 15"),
    ({"region": LONGTENG, "rounding": "ceil"}, 422, "rounding"),
    ({"region": LONGTENG, "rule": "touch"}, 422, "rule"),
    ({"region": "44x"}, 422, "region"),
    ({"region": LONGTENG, "regoin": "1"}, 422, "regoin"),
])
def test_bad_coverage_queries(client, params, status, needle):
    r = client.get("/api/v1/coverage", params=params)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert needle in r.text


def test_region_required_with_two_towns(client):
    r = client.get("/api/v1/coverage/branches")
    assert r.status_code == 422 and "440507013" in r.json()["detail"]


def test_siting_needs_a_planner_of_the_region(client, tokens):
    body = {"region": LONGTENG, "k": 2, "candidates": "compounds"}
    assert client.post("/api/v1/siting", json=body).status_code == 401
    assert client.post("/api/v1/siting", json=body,
                       headers=tokens["cov-lt-viewer"]).status_code == 403
    assert client.post("/api/v1/siting", json=body,
                       headers=tokens["cov-ls-planner"]).status_code == 403
    r = client.post("/api/v1/siting", json=body, headers=tokens["cov-lt-planner"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["exact"]["optimal"] and out["greedy"]["population_new"] <= \
        out["exact"]["population_new"]
    sites = out["exact"]["sites"]
    assert sites and sites[0]["population_covered_after"] > out["before"]["population_covered"]
    assert sites[0]["circle"]["type"] in ("Polygon", "MultiPolygon")


def test_siting_bad_input(client, tokens):
    h = tokens["cov-lt-planner"]
    too_many = client.post("/api/v1/siting", headers=h, json={
        "region": LONGTENG, "k": 3, "sites": [{"lng": 116.72, "lat": 23.36},
                                              {"lng": 116.721, "lat": 23.361}]})
    assert too_many.status_code == 422 and "超过了候选点数量（2 个）" in too_many.json()["detail"]
    bad = client.post("/api/v1/siting", headers=h, json={
        "region": LONGTENG, "k": 1, "sites": [{"lng": 23.36, "lat": 116.72},
                                              {"lng": 113.15, "lat": 23.19}]})
    assert bad.status_code == 422
    errors = bad.json()["errors"]
    assert [e["row"] for e in errors] == [1, 2] and "经纬度是否写反了" in errors[0]["message"]
    assert client.post("/api/v1/siting", headers=h, json={"region": LONGTENG, "k": 0}
                       ).status_code == 422


def test_what_if_changes_nothing(client, tokens, samples_engine):
    with samples_engine.connect() as c:
        n0 = c.execute(text("SELECT count(*) FROM service_circles")).scalar()
    r = client.post("/api/v1/siting/what-if", headers=tokens["cov-lt-planner"],
                    json={"region": LONGTENG, "lng": 116.716, "lat": 23.357})
    assert r.status_code == 200, r.text
    w = r.json()
    assert w["stored"] is False and w["delta"]["population_covered"] >= 0
    assert w["after"]["population_covered"] == \
        w["before"]["population_covered"] + w["delta"]["population_covered"]
    with samples_engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM service_circles")).scalar() == n0


def test_snapshots_save_list_compare(client, tokens):
    h = tokens["cov-lt-planner"]
    assert client.post("/api/v1/coverage/snapshots", json={"region": LONGTENG}
                       ).status_code == 401
    a = client.post("/api/v1/coverage/snapshots", headers=h,
                    json={"region": LONGTENG, "label": "全部阵地"})
    assert a.status_code == 201, a.text
    b = client.post("/api/v1/coverage/snapshots", headers=h,
                    json={"region": LONGTENG, "label": "仅中心",
                          "kinds": ["town_center", "village_center"]})
    ida, idb = a.json()["id"], b.json()["id"]
    assert a.headers["location"] == f"/api/v1/coverage/snapshots/{ida}"
    listed = client.get("/api/v1/coverage/snapshots", params={"region": LONGTENG}).json()
    assert [s["id"] for s in listed["snapshots"]][:2] == [idb, ida]
    one = client.get(f"/api/v1/coverage/snapshots/{ida}").json()
    assert one["label"] == "全部阵地" and one["totals"] == a.json()["totals"]
    diff = client.get("/api/v1/coverage/compare", params={"before": ida, "after": idb}).json()
    assert diff["parameters_differ"] == ["kinds", "kinds_zh"]
    assert diff["totals"]["population_covered_delta"] <= 0
    assert client.get("/api/v1/coverage/snapshots/999999").status_code == 404


def _same_json(body, result) -> None:
    """The route's body is the result's ``as_dict()`` (through JSON: tuples inside
    GeoJSON become lists), but for the time of computation."""
    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k != "computed_at"}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d

    assert strip(body) == strip(json.loads(json.dumps(result.as_dict(), ensure_ascii=False)))


def test_bodies_are_the_results_as_dict(client, tokens, samples_engine):
    h = tokens["cov-lt-planner"]
    with samples_engine.connect() as c:
        an = cov.analyse(c, LONGTENG)
        reach = cov.reach_coverage(an)
        gaps = cov.gap_report(an, conn=c)
        gaps_detail = cov.gap_report(an, conn=c, detail=True, limit=5)
        branches = cov.branch_coverage(c, LONGTENG, rounding="truncate", detail=True)
        grids = cov.grid_view(c, LISHUI)
    body = client.get("/api/v1/coverage", params={"region": LONGTENG}).json()
    _same_json(body, reach)
    _same_json(client.get("/api/v1/gaps", params={"region": LONGTENG}).json(), gaps)
    _same_json(client.get("/api/v1/gaps", params={"region": LONGTENG, "detail": True,
                                                   "limit": 5}, headers=h).json(), gaps_detail)
    _same_json(client.get("/api/v1/coverage/branches",
                          params={"region": LONGTENG, "rounding": "truncate", "detail": True},
                          headers=h).json(), branches)
    _same_json(client.get("/api/v1/coverage/grids", params={"region": LISHUI}).json(), grids)
    # snapshots: saved by the route, read back by the package
    sid = client.post("/api/v1/coverage/snapshots", headers=h,
                      json={"region": LONGTENG, "label": "as_dict"}).json()["id"]
    with samples_engine.connect() as c:
        stored = cov.get_snapshot(c, sid)
        listed = cov.list_snapshots(c, LONGTENG)
        diff = cov.compare_snapshots(c, sid, sid)
    assert client.get(f"/api/v1/coverage/snapshots/{sid}").json() == stored.as_dict()
    assert client.get("/api/v1/coverage/snapshots", params={"region": LONGTENG}).json() == \
        {"snapshots": [s.as_dict() for s in listed]}
    assert client.get("/api/v1/coverage/compare", params={"before": sid, "after": sid}
                      ).json() == diff.as_dict()
    assert all(a.population_covered_delta == 0 for a in diff.areas)
