"""HTTP hygiene: problem+json everywhere, CORS allowlist, body limit, health,
OpenAPI completeness."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.app import create_app
from api.settings import Settings
from tests.conftest import make_app


@pytest.fixture(scope="module")
def client(samples_engine):
    app = make_app(Settings(cors_origins=["https://h5.lishui.example"], max_body_bytes=2048),
                   samples_engine)
    with TestClient(app) as c:
        yield c


def _problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and re.match(r"^https://\S+/problems/[a-z0-9-]+$",
                                                 body["type"])
    assert re.search(r"[\u4e00-\u9fff]", body["title"])  # Chinese-readable
    return body


def test_problem_json_for_every_kind_of_error(client):
    assert _problem(client.get("/no/such/route"), 404)["type"].endswith("/not-found")
    assert _problem(client.post("/healthz"), 405)["title"] == "不支持的请求方法"
    assert _problem(client.get("/api/v1/points", params={"kind": "castle"}),
                    422)["type"].endswith("/validation")
    assert _problem(client.post("/api/v1/points", json={}), 401)["type"].endswith("/unauthorized")
    big = client.post("/api/v1/points", content=b"x" * 4096,
                      headers={"Content-Type": "application/json"})
    assert _problem(big, 413)["detail"] == "请求体超过上限 2048 字节"


def test_no_stack_traces_to_clients(samples_url):
    """An internal error (here: a database that went away) is a bare 500/503."""
    engine = create_engine(samples_url.replace("sm_samples", "sm_gone"))
    with TestClient(create_app(Settings(), engine=engine),
                    raise_server_exceptions=False) as c:
        for url in ("/api/v1/points", "/api/v1/regions", "/readyz"):
            r = c.get(url)
            assert r.status_code in (500, 503)
            assert r.headers["content-type"] == "application/problem+json"
            assert "Traceback" not in r.text and "psycopg" not in r.text
            assert "sm_gone" not in r.text and "127.0.0.1" not in r.text


def test_cors_allowlist(client):
    ok = client.options("/api/v1/points", headers={
        "Origin": "https://h5.lishui.example", "Access-Control-Request-Method": "GET"})
    assert ok.headers["access-control-allow-origin"] == "https://h5.lishui.example"
    r = client.get("/api/v1/points", params={"limit": 1},
                   headers={"Origin": "https://h5.lishui.example"})
    assert r.headers["access-control-allow-origin"] == "https://h5.lishui.example"
    assert "etag" in r.headers["access-control-expose-headers"].lower()
    evil = client.get("/api/v1/points", params={"limit": 1},
                      headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    pre = client.options("/api/v1/points", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    _problem(pre, 400)


def test_health(client):
    r = client.get("/healthz")
    assert r.json() == {"status": "ok"} and r.headers["cache-control"] == "no-store"
    assert client.get("/readyz").json() == {"status": "ok", "database": "reachable"}
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"


def test_openapi_is_complete_and_tidy(client):
    spec = client.get("/openapi.json").json()
    ops = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    mine = {"list_points", "get_point", "list_regions", "get_region", "healthz", "readyz",
            "whoami"}
    for one, many in (("point", "points"), ("compound", "compounds"), ("building", "buildings"),
                      ("grid_cell", "grid_cells"), ("branch", "branches")):
        mine |= {f"planner_list_{many}", f"planner_get_{one}", f"create_{one}",
                 f"replace_{one}", f"update_{one}", f"delete_{one}", f"restore_{one}"}
        if one != "branch":
            mine.add(f"move_{one}")
    assert mine <= set(ids)
    for path, method, op in ops:
        if op["operationId"] not in mine:
            continue
        assert op.get("summary"), op["operationId"]
        for code, resp in op["responses"].items():
            if code[0] in "45":
                assert list(resp["content"]) == ["application/problem+json"], (path, code)
        assert "422" in op["responses"] and "500" in op["responses"]
        if op.get("security"):
            assert {"401", "403"} <= set(op["responses"]), op["operationId"]
        elif method == "get" and path.startswith("/api/"):
            assert "304" in op["responses"]
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    schemas = spec["components"]["schemas"]
    assert "examples" in schemas["Problem"] and "examples" in schemas["PointFeature"]
    assert "examples" in schemas["PointCreate"]
    params = {p["name"]: p for p in spec["paths"]["/api/v1/points"]["get"]["parameters"]}
    assert {"kind", "region", "service", "open_now", "at", "bbox", "q", "crs", "limit",
            "offset"} <= set(params)
    assert params["region"].get("examples")


def test_options_head_and_405_list_every_method_of_the_path(client):
    for path, allowed in (
            ("/api/v1/points", "GET, HEAD, OPTIONS, POST"),
            ("/api/v1/points/LS-0001", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"),
            ("/api/v1/isochrones", "GET, HEAD, OPTIONS, POST"),
            ("/tiles/points/14/13342/7111.mvt", "GET, HEAD, OPTIONS")):
        r = client.options(path)
        assert (r.status_code, r.headers["allow"], r.content) == (204, allowed, b""), path
    # a method the path lacks: 405 naming all it has (not only the first route's)
    r = client.delete("/api/v1/isochrones")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "GET, HEAD, OPTIONS, POST" in r.json()["detail"]
    assert client.options("/no/such/path").status_code == 404
    # HEAD: the GET's status and headers, no body
    get, head = client.get("/api/v1/points"), client.head("/api/v1/points")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == get.headers["content-type"]


def test_openapi_says_what_the_app_checks(client):
    from api.app import PRINTABLE

    spec = client.get("/openapi.json").json()
    ops = {(p, m): op for p, item in spec["paths"].items() for m, op in item.items()}
    # a token adds detail to these answers; without one they are public
    for path in ("/api/v1/coverage", "/api/v1/coverage/branches", "/api/v1/coverage/grids",
                 "/api/v1/gaps"):
        assert ops[(path, "get")]["security"] == [{}, {"token": []}], path
        assert client.get(path, params={"region": "440605126"}).status_code != 401
    assert ops[("/api/v1/planner/points", "get")]["security"] == [{"token": []}]
    for (path, method), op in ops.items():
        # every route may answer 429 (request budgets); writes 408 (slow bodies)
        assert "429" in op["responses"], (path, method)
        if method in ("post", "put", "patch"):
            assert "408" in op["responses"], (path, method)
        # free-text parameters say control characters are refused
        for p in op.get("parameters", []):
            for branch in p["schema"].get("anyOf", [p["schema"]]):
                if branch.get("type") == "string" and not {"enum", "format", "const"} & \
                        set(branch):
                    assert "pattern" in branch, (path, p["name"])
    assert {p["name"]: p for p in ops[("/api/v1/points", "get")]["parameters"]}["q"] \
        ["schema"]["anyOf"][0]["pattern"] == PRINTABLE
    # no constraint is left in pydantic's own words, which JSON Schema ignores
    leftovers = []

    def walk(node, where):
        if isinstance(node, dict):
            leftovers.extend(f"{where}/{k}" for k, v in node.items()
                             if k in ("ge", "le", "gt", "lt", "strict")
                             and not isinstance(v, dict | list))
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for v in node:
                walk(v, where)

    walk(spec, "")
    assert leftovers == []
    # and the app refuses exactly that
    assert client.get("/api/v1/points", params={"q": "里水\x01"}).status_code == 422
    assert client.get("/api/v1/points", params={"q": "里水\t"}).status_code == 200


@pytest.mark.parametrize("at, status", [
    ("0.5", 422), ("1700000000", 422), ("2026-12-01", 422), ("2026-13-01T09:00", 422),
    ("2026-12-01T09:30", 200), ("2026-12-01T09:30:00+08:00", 200),
    ("2026-12-01T01:30:00.25Z", 200),
])
def test_instants_are_iso_8601_only(client, at, status):
    r = client.get("/api/v1/points", params={"at": at, "limit": 1})
    assert r.status_code == status, r.text[:200]
    if status == 200:
        assert r.json()["at"].startswith("2026-12-01T09:30")
