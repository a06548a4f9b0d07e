"""``POST /api/v1/imports/population`` (a planner's census table) and the
``servicemap import population`` / ``servicemap population spread`` commands, on
a Longteng database of their own (imports commit)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.cli import main
from api.settings import Settings
from geo.tokens import create_token
from tests.api.conftest import _database
from tests.conftest import make_app

LONGTENG, LISHUI = "440507013", "440605126"
MAYU, SHENGLI = "440507013001", "440507013002"


@pytest.fixture(scope="module")
def pop_url(pg_cluster, samples) -> str:
    return _database(pg_cluster, samples, "sm_population_api", ("longteng",))


@pytest.fixture(scope="module")
def pop_engine(pop_url):
    eng = create_engine(pop_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def tokens(pop_engine) -> dict[str, str]:
    out = {}
    with pop_engine.begin() as c:
        for name, role, region in (("planner", "planner", LONGTENG),
                                   ("lishui", "planner", LISHUI),
                                   ("viewer", "viewer", LONGTENG)):
            out[name], _ = create_token(c, name=name, role=role, regions=[region])
    return out


@pytest.fixture(scope="module")
def client(pop_engine):
    with TestClient(make_app(Settings(), pop_engine)) as c:
        yield c


def _csv(path, rows) -> None:
    path.write_text("\n".join(",".join(r) for r in rows), encoding="utf-8")


def _post(client, path, token=None, **form):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()}
    return client.post("/api/v1/imports/population", headers=headers, data=data,
                       files={"file": (path.name, path.read_bytes())})


def _census(engine) -> dict[str, int]:
    with engine.connect() as c:
        return dict(c.execute(text("SELECT region_code, population FROM village_population")
                              ).all())


def _village_sum(engine, code: str) -> int:
    with engine.connect() as c:
        return c.execute(text("""
            SELECT sum(b.population) FROM buildings b
            LEFT JOIN compounds c ON c.code = b.compound_code
            JOIN regions v ON v.code = :v
            WHERE b.deleted_at IS NULL AND (c.region_code = v.code OR
                  (c.code IS NULL AND ST_Intersects(v.geom, ST_Centroid(b.geom))))"""),
            {"v": code}).scalar_one()


def test_upload_needs_a_planner_of_the_region(client, tokens, tmp_path):
    path = tmp_path / "人口.csv"
    _csv(path, [["村居名称", "常住人口"], ["妈屿社区", "20000"]])
    assert _post(client, path, region=LONGTENG).status_code == 401
    assert _post(client, path, tokens["viewer"], region=LONGTENG).status_code == 403
    r = _post(client, path, tokens["lishui"], region=LONGTENG)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem")
    assert _post(client, path, tokens["planner"]).status_code == 422  # region is required


def test_upload_imports_and_spreads_or_refuses_with_the_names(client, pop_engine, tokens,
                                                              tmp_path):
    path = tmp_path / "龙腾人口.csv"
    _csv(path, [["村居名称", "常住人口", "年份"], ["妈屿社区", "20000", "2020"],
                ["胜利社区", "15001", "2020"], ["不存在社区", "10", "2020"]])
    before = _census(pop_engine)
    r = _post(client, path, tokens["planner"], region=LONGTENG)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem")
    body = r.json()
    assert "不存在社区（第4行）" in body["detail"]
    assert [(e["row"], e["column"], e["value"], e["kind"]) for e in body["errors"]] == [
        (4, "村居名称", "不存在社区", "unknown_village")]
    assert [u["name"] for u in body["report"]["unmatched"]] == ["不存在社区"]
    assert _census(pop_engine) == before
    r = _post(client, path, tokens["planner"], region=LONGTENG, skip_unmatched=True)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["villages_matched"] == 2 and rep["people"] == 35001 and rep["written"]
    assert rep["spread"]["people_spread"] == 35001 and rep["spread"]["villages_unplaced"] == 0
    assert _census(pop_engine) == {**before, MAYU: 20000, SHENGLI: 15001}
    assert _village_sum(pop_engine, MAYU) == 20000
    assert _village_sum(pop_engine, SHENGLI) == 15001
    # the coverage answers say where their people came from (two of five communities)
    with pop_engine.begin() as c:
        c.execute(text("""
            INSERT INTO service_circles (point_code, minutes, profile, budget_m, method,
                                         walk_off_m, geom, input_version)
            SELECT code, 10, 'elderly', 600, 'straight_line', 25,
                   ST_Multi(ST_Buffer(geom::geography, 600)::geometry),
                   'p' || version || CAST(:s AS text)
            FROM service_points WHERE code = 'LT-0002'
            ON CONFLICT DO NOTHING"""), {"s": ":n-"})
    cov = client.get("/api/v1/coverage", params={"region": LONGTENG}).json()
    src = cov["population_source"]
    assert src["source"] == "mixed" and src["people"]["census"] == 35001
    assert src["people"]["census"] + src["people"]["sample"] == cov["totals"]["population"]
    assert src["label_zh"].startswith("人口来源：多种来源（普查分摊 35,001 人、样例生成 ")
    csv = client.get("/api/v1/coverage", params={"region": LONGTENG, "format": "csv"})
    assert '人口来源,"多种来源（普查分摊 35,001 人、样例生成 ' in csv.content.decode("utf-8-sig")


def test_cli_import_and_spread(pop_url, pop_engine, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", pop_url)
    path = tmp_path / "天禧.csv"
    _csv(path, [["区划代码", "常住人口"], ["440507013005", "12345"], ["440507013999", "1"]])
    assert main(["import", "population", str(path), "--region", LONGTENG]) == 1
    captured = capsys.readouterr()
    assert "440507013999（第3行）" in captured.err and "未写入任何数据" in captured.out
    assert "440507013005" not in _census(pop_engine)
    assert main(["import", "population", str(path), "--region", LONGTENG,
                 "--skip-unmatched"]) == 0
    out = capsys.readouterr().out
    assert "对应到村（社区）1 个（12,345 人），未能对应 1 行" in out
    assert "第3行 440507013999：区划代码 440507013999 在数据库中找不到" in out
    assert "已分摊" in out and "已写入数据库" in out
    assert _village_sum(pop_engine, "440507013005") == 12345
    # new buildings in the community: spread again and it still adds up
    with pop_engine.begin() as c:
        c.execute(text("""
            INSERT INTO buildings (code, population, building_type, geom)
            SELECT 'POP-NEW-1', 0, 'apartments',
                   ST_Multi(ST_Buffer(ST_PointOnSurface(geom)::geography, 8, 2)::geometry)
            FROM regions WHERE code = '440507013005'"""))
    assert main(["population", "spread", "--region", LONGTENG, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["villages_with_census"] >= 1 and rep["villages_unplaced"] == 0
    assert _village_sum(pop_engine, "440507013005") == 12345
    with pop_engine.connect() as c:
        new = c.execute(text("SELECT population, population_source FROM buildings "
                             "WHERE code = 'POP-NEW-1'")).one()
    assert new.population > 0 and new.population_source == "census"
