"""``POST /api/v1/imports`` (planner upload) and the ``servicemap import|export`` commands,
on a database of their own (imports commit)."""

from __future__ import annotations

import base64
import io
import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.cli import main
from api.routes import imports as imports_route
from api.settings import Settings
from geo.store.migrate import upgrade
from geo.tokens import create_token
from tests.conftest import insert_regions, make_app
from tests.geo.io.test_tables_and_columns import point_rows, points_csv, write_points_xlsx

LISHUI = "440605126"


@pytest.fixture(scope="module")
def io_url(pg_cluster, samples) -> str:
    """A migrated database holding only the two sample towns' regions."""
    url = pg_cluster.create_database("sm_io_api")
    upgrade(url)
    eng = create_engine(url)
    insert_regions(eng, samples)
    eng.dispose()
    return url


@pytest.fixture(scope="module")
def io_engine(io_url):
    eng = create_engine(io_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def tokens(io_engine) -> dict[str, str]:
    with io_engine.begin() as conn:
        planner, _ = create_token(conn, name="里水规划", role="planner", regions=[LISHUI])
        viewer, _ = create_token(conn, name="里水查看", role="viewer", regions=[LISHUI])
    return {"planner": planner, "viewer": viewer}


@pytest.fixture(scope="module")
def client(io_engine):
    app = make_app(Settings(), io_engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def lishui_points(samples) -> pd.DataFrame:
    return point_rows(samples, 20, prefix="API")


def _auth(tokens, role="planner") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _post(client, path, kind="points", headers=None, **form):
    with open(path, "rb") as f:
        files = {"file": (path.name, f.read())}
    data = {"kind": kind, **{k: str(v).lower() if isinstance(v, bool) else v
                             for k, v in form.items()}}
    return client.post("/api/v1/imports", files=files, data=data, headers=headers or {})


def _count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_router_is_served_and_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/imports"], "add imports.router to api.routes.all_routers()"


def test_upload_needs_a_planner_token(client, tokens, lishui_points, tmp_path):
    path = write_points_xlsx(tmp_path / "阵地.xlsx", lishui_points)
    r = _post(client, path)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    r = _post(client, path, headers=_auth(tokens, "viewer"))
    assert r.status_code == 403


def test_upload_xlsx_report_then_unchanged(client, io_engine, tokens, lishui_points, tmp_path):
    path = write_points_xlsx(tmp_path / "里水镇阵地.xlsx", lishui_points)
    dry = _post(client, path, headers=_auth(tokens), crs="gcj02", dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["inserted"] == 20 and dry.json()["dry_run"] is True
    assert _count(io_engine, "SELECT count(*) FROM service_points") == 0
    r = _post(client, path, headers=_auth(tokens), crs="gcj02")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["rows_read"], body["inserted"], body["updated"]) == (20, 20, 0)
    assert body["format"] == "xlsx" and body["crs"] == "gcj02" and body["header_rows"] == [2, 3]
    assert {"column": "经度", "field": "lng", "label": "经度", "via": "alias"} in body["columns"]
    assert r.headers["cache-control"] == "no-store"
    assert _count(io_engine, "SELECT count(*) FROM service_points WHERE code LIKE 'API-%'") == 20
    with io_engine.connect() as conn:
        actor = conn.execute(text("SELECT actor FROM audit_log WHERE action = 'import' "
                                  "ORDER BY id DESC LIMIT 1")).scalar_one()
    assert actor.startswith("token:") and actor.endswith("里水规划")
    again = _post(client, path, headers=_auth(tokens), crs="gcj02").json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 20)


def test_invalid_upload_is_422_problem_json_and_writes_nothing(client, io_engine, tokens,
                                                               lishui_points, tmp_path):
    df = lishui_points.head(5).copy()
    df["code"] = [f"BAD-{i}" for i in range(5)]
    df.loc[df.index[3], "kind"] = "城堡"
    path = points_csv(tmp_path / "坏.csv", df)
    before = _count(io_engine, "SELECT count(*) FROM service_points")
    r = _post(client, path, headers=_auth(tokens))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 422 and body["title"] == "请求参数不正确"
    err = body["errors"][0]
    assert (err["kind"], err["row"], err["column"], err["value"]) == \
        ("unknown_kind", 5, "类型", "城堡")
    assert err["file"] == "坏.csv" and "第5行『类型』列" in err["message"]
    assert body["report"]["rows_rejected"] == 1 and body["report"]["written"] is False
    assert _count(io_engine, "SELECT count(*) FROM service_points") == before
    # skip_invalid: the valid rows go in, the rejected one comes back as a file
    r = _post(client, path, headers=_auth(tokens), skip_invalid=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["inserted"], body["rows_rejected"]) == (4, 1)
    assert body["rejects_name"] == "坏_rejected.csv"
    rejected = pd.read_csv(io.BytesIO(base64.b64decode(body["rejects_content_base64"])),
                           encoding="utf-8-sig", dtype=str)
    assert list(rejected["原行号"]) == ["5"] and "城堡" in rejected["错误原因"][0]


def test_rows_outside_the_token_regions_are_refused(client, io_engine, tokens, samples,
                                                    tmp_path):
    lt = samples["longteng"].regions
    village = lt[lt["level"] == "village"].iloc[0]
    p = village.geometry.representative_point()
    path = tmp_path / "龙腾.csv"
    path.write_text(f"编码,名称,类型,所属社区,经度,纬度\nLT-X,越界阵地,党群服务站,{village.code},"
                    f"{p.x},{p.y}\n", encoding="utf-8")
    r = _post(client, path, headers=_auth(tokens))
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["kind"] == "forbidden_region" and err["row"] == 2 and LISHUI in err["message"]
    assert _count(io_engine, "SELECT count(*) FROM service_points WHERE code = 'LT-X'") == 0


def test_the_report_says_which_crs_and_why_as_its_example_does(client, tokens, lishui_points,
                                                               tmp_path):
    from api import examples as ex

    path = write_points_xlsx(tmp_path / "阵地.xlsx", lishui_points)
    body = _post(client, path, headers=_auth(tokens), dry_run=True).json()
    assert set(body) == set(ex.IMPORT_REPORT)  # the OpenAPI example has every key
    # no declaration, no hint and (in this database) no streets or buildings: the default
    assert (body["crs"], body["crs_source"]) == ("wgs84", "default")
    assert "未做距离比对" in body["crs_reason"] and body["crs_evidence"]["available"] is False
    body = _post(client, path, headers=_auth(tokens), crs="gcj02", trust_crs=True,
                 dry_run=True).json()
    assert body["crs_source"] == "--crs" and body["crs_reason"].startswith("命令参数 --crs gcj02")
    e, n = 38_418_835.2, 2_566_304.1
    metres = tmp_path / "某村阵地.csv"
    metres.write_text("名称,类型,经度,纬度\n" + "".join(
        f"阵地{i},党群服务站,{e + i * 30},{n + i * 20}\n" for i in range(3)), encoding="utf-8")
    r = _post(client, metres, headers=_auth(tokens))
    assert r.status_code == 422
    (err,) = r.json()["errors"]
    assert err["kind"] == "not_lnglat" and "--crs EPSG:4526" in err["message"]


def test_unknown_kind_of_import_is_a_validation_error(client, tokens, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("名称\n甲\n", encoding="utf-8")
    r = _post(client, path, kind="castles", headers=_auth(tokens))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.kind"


def test_safe_upload_names():
    assert imports_route._safe_name("../../etc/passwd", "u") == "passwd"
    assert imports_route._safe_name("C:\\Users\\李\\阵地.xlsx", "u") == "阵地.xlsx"
    assert imports_route._safe_name(None, "upload") == "upload"


# ==========================================================================
# the servicemap command
# ==========================================================================
def test_cli_import_dry_run_import_json_and_export_round_trip(io_url, io_engine, samples,
                                                              tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", io_url)
    df = point_rows(samples, 12, prefix="CLI", seed=11)
    src = write_points_xlsx(tmp_path / "阵地.xlsx", df)
    assert main(["import", "points", str(src), "--crs", "gcj02", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "将新增 12" in out and "演练模式" in out and "阵地名称 → 名称(name)" in out
    assert _count(io_engine, "SELECT count(*) FROM service_points WHERE code LIKE 'CLI-%'") == 0
    assert main(["import", "points", str(src), "--crs", "gcj02", "--actor", "tester",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inserted"] == 12 and report["written"] is True
    # export in GCJ-02 and import the export back: nothing changes
    out_xlsx = tmp_path / "导出.xlsx"
    assert main(["export", "points", str(out_xlsx), "--crs", "gcj02", "--region", LISHUI]) == 0
    assert "已导出" in capsys.readouterr().out
    assert main(["import", "points", str(out_xlsx), "--crs", "gcj02", "--json"]) == 0
    back = json.loads(capsys.readouterr().out)
    assert back["inserted"] == 0 and back["updated"] == 0 and back["unchanged"] == back["rows_read"]
    # a bad file: exit 1, the report on stdout, one line on stderr
    bad = tmp_path / "坏.csv"
    bad.write_text("名称,类型,经度,纬度\n甲,党群服务站,abc,23.1\n", encoding="utf-8")
    assert main(["import", "points", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "第2行『经度』列的值 'abc' 不是数字" in captured.out
    assert len(captured.err.strip().splitlines()) == 1
    # skip-invalid writes the rejects next to the input
    assert main(["import", "points", str(bad), "--skip-invalid"]) == 0
    assert (tmp_path / "坏_rejected.csv").exists()
    capsys.readouterr()
