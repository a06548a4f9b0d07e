"""Privacy sweep: personal data (grid workers' names and phones, party-member
households, branch secretaries) is seeded into the database; every public
route of the app is walked and must never return any of it. Planner routes
without a token answer 401 and, with a token, show it only to planners of
the region."""

from __future__ import annotations

import json
import re
from itertools import product

import pytest
from sqlalchemy import text

from tests.api.conftest import LONGTENG, PRIVATE_MARKERS, bearer

pytestmark = pytest.mark.reliability

#: values for path and required query parameters, by parameter name
CANDIDATES: dict[str, list[str]] = {
    "code": ["LT-0001", "LT-0002", "440507013", "440507013001", "LT-G01", "LT-PB1",
             "LT-C0001", "LT-B000001"],
    "point": ["LT-0001", "LT-0002"],
    "year": ["2026"],
    "region": [LONGTENG, "440507013001"],
    "lng": ["116.72"], "lat": ["23.37"], "minutes": ["10"], "k": ["3"],
}
#: optional query parameters worth turning on while sweeping
OPTIONAL = {"region": LONGTENG, "crs": "gcj02", "detail": "true", "include_private": "true",
            "private": "true", "limit": "5"}


def _marker_hits(body: str) -> list[str]:
    hits = [name for name, value in PRIVATE_MARKERS.items() if value in body]
    try:
        decoded = json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        decoded = body
    hits += [name for name, value in PRIVATE_MARKERS.items() if value in decoded]
    if re.search(r'"(private|member_households|secretary)"\s*:', decoded):
        hits.append("private key")
    return hits


def _public_get_operations(client) -> list[tuple[str, dict]]:
    spec = client.get("/openapi.json").json()
    out = []
    for path, item in spec["paths"].items():
        op = item.get("get")
        if op is not None and not op.get("security"):
            out.append((path, op))
    return out


def _urls(path: str, op: dict):
    params = op.get("parameters", [])
    path_names = [p["name"] for p in params if p["in"] == "path"]
    required = [p["name"] for p in params if p["in"] == "query" and p.get("required")]
    declared = {p["name"] for p in params if p["in"] == "query"}
    choices = [CANDIDATES.get(n, ["1"]) for n in path_names + required]
    for combo in product(*choices):
        values = dict(zip(path_names + required, combo, strict=True))
        url = path
        for n in path_names:
            url = url.replace("{" + n + "}", values[n])
        query = {n: values[n] for n in required}
        yield url, query
        extra = {k: v for k, v in OPTIONAL.items() if k in declared and k not in query}
        if extra:
            yield url, {**query, **extra}


def test_every_public_route_is_free_of_personal_data(fuzz_client, fuzz_engine):
    # the Longteng-only database: routes that build a walking network stay quick
    rw_client = fuzz_client
    with fuzz_engine.connect() as c:  # the seeded data is really there
        assert c.execute(text("SELECT count(*) FROM grid_cells WHERE private::text LIKE :m"),
                         {"m": f"%{PRIVATE_MARKERS['worker_name']}%"}).scalar_one() == 12
    operations = _public_get_operations(rw_client)
    paths = {p for p, _ in operations}
    assert {"/api/v1/points", "/api/v1/points/{code}", "/api/v1/regions",
            "/api/v1/regions/{code}", "/api/v1/wishes", "/api/v1/wishes-summary",
            "/api/v1/points/{code}/ratings", "/api/v1/activities"} <= paths
    with fuzz_engine.connect() as c:  # the residents' side is seeded and public
        assert c.execute(text("SELECT count(*) FROM wishes WHERE state = 'claimed' "
                              "AND private::text LIKE :m"),
                         {"m": f"%{PRIVATE_MARKERS['wisher_phone']}%"}).scalar_one() == 3
    wall = rw_client.get("/api/v1/wishes", params={"region": LONGTENG}).json()
    assert [w["code"] for w in wall["items"] if w["code"].startswith("SEED-W")]
    walked = ok = 0
    for path, op in operations:
        for url, query in _urls(path, op):
            r = rw_client.get(url, params=query)
            walked += 1
            ok += r.status_code == 200
            assert r.status_code < 500, (url, query, r.status_code, r.text[:300])
            assert not _marker_hits(r.text), (url, query, _marker_hits(r.text))
    assert walked >= 20 and ok >= 8


MY_WRITES = ("/api/v1/points", "/api/v1/compounds", "/api/v1/buildings", "/api/v1/grid-cells",
             "/api/v1/branches", "/api/v1/auth")


def test_planner_routes_without_a_token_say_401_and_nothing_else(rw_client):
    spec = rw_client.get("/openapi.json").json()
    secured = [(p, m) for p, item in spec["paths"].items() for m, op in item.items()
               if isinstance(op, dict) and op.get("security")]
    assert len(secured) >= 35
    for path, method in secured:
        url = path.replace("{code}", "LT-G01")
        r = rw_client.request(method.upper(), url, json={} if method != "get" else None)
        # 401; a route may first refuse missing required parameters (422)
        assert r.status_code == 401 or (r.status_code == 422 and "/planner/" not in path
                                        and not path.startswith(MY_WRITES)), \
            (method, url, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert not _marker_hits(r.text)


def test_personal_data_only_for_planners_of_the_region(rw_client, tokens):
    urls = ["/api/v1/planner/grid-cells/LT-G02", "/api/v1/planner/branches/LT-PB2",
            "/api/v1/planner/grid-cells", "/api/v1/planner/branches"]
    for url in urls:
        mine = rw_client.get(url, headers=bearer(tokens["longteng_planner"]))
        assert mine.status_code == 200 and _marker_hits(mine.text), url
        assert rw_client.get(url, headers=bearer(tokens["admin"])).status_code == 200
        viewer = rw_client.get(url, headers=bearer(tokens["longteng_viewer"]))
        assert viewer.status_code == 200 and not _marker_hits(viewer.text), url
        other = rw_client.get(url, headers=bearer(tokens["lishui_planner"]))
        assert other.status_code in (200, 403), url
        assert not [h for h in _marker_hits(other.text) if h != "private key"], url
    # a planner of one village sees other villages' data only without personal data
    r = rw_client.get("/api/v1/planner/grid-cells/LT-G01",
                      headers=bearer(tokens["village_planner"]))
    assert r.status_code == 200 and _marker_hits(r.text)  # LT-G01 is in its village
    other = rw_client.get("/api/v1/planner/grid-cells", params={"region": LONGTENG},
                          headers=bearer(tokens["village_planner"])).json()
    assert {f["properties"]["region_code"] for f in other["features"]} == {"440507013001"}
