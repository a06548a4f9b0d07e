"""``servicemap coverage``, ``gaps`` and ``site`` on the samples database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from api.cli import main
from geo.circles import compute_circles

LONGTENG = "440507013"


@pytest.fixture(scope="module")
def circles(samples_engine, samples_url):
    with samples_engine.begin() as c:
        codes = c.execute(text("SELECT code FROM service_points WHERE code LIKE 'LT-%'")
                          ).scalars().all()
        compute_circles(c, [10], profile="elderly", codes=codes)
    yield samples_url
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))
        c.execute(text("DELETE FROM coverage_snapshots"))


@pytest.fixture
def cli(circles, monkeypatch, capsys):
    monkeypatch.setenv("SERVICEMAP_DATABASE_URL", circles)

    def run(*argv: str) -> tuple[int, str, str]:
        rc = main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run


def test_branch_coverage_both_roundings(cli):
    rc, out, _ = cli("coverage", "branches", "--region", LONGTENG)
    assert rc == 0 and "32/36 = 88.89%" in out and "truncate 88.88%" in out
    rc, out, _ = cli("coverage", "branches", "--region", LONGTENG, "--rounding", "truncate")
    assert rc == 0 and "32/36 = 88.88%" in out


def test_grids_and_reach_tables(cli):
    rc, out, _ = cli("coverage", "grids", "--region", LONGTENG)
    assert rc == 0 and "12 个网格中 4 个有党支部" in out
    rc, out, _ = cli("coverage", "--region", LONGTENG, "--minutes", "10")
    assert rc == 0 and "【覆盖汇总】" in out and "人口覆盖率(%)" in out and "覆盖规则" in out


def test_exports(cli, tmp_path):
    from openpyxl import load_workbook

    rc, out, _ = cli("coverage", "--region", LONGTENG, "--format", "csv")
    assert rc == 0 and out.splitlines()[0].startswith("编码,名称,层级,建筑数")
    xlsx = tmp_path / "c.xlsx"
    rc, _, _ = cli("gaps", "--region", LONGTENG, "--format", "xlsx", "-o", str(xlsx),
                   "--geojson", str(tmp_path / "gaps.geojson"))
    assert rc == 0 and "未覆盖小区" in load_workbook(xlsx).sheetnames
    layers = {f["properties"]["layer"] for f in
              json.loads((tmp_path / "gaps.geojson").read_text())["features"]}
    assert layers == {"gap_area", "hexagon"}
    rc, out, _ = cli("coverage", "--region", LONGTENG, "--format", "json")
    assert rc == 0 and json.loads(out)["totals"]["compounds"] == 36


def test_snapshots_and_compare(cli):
    rc, out, _ = cli("coverage", "--region", LONGTENG, "--save", "全部")
    assert rc == 0 and "saved coverage snapshot" in out
    a = int(out.split("saved coverage snapshot")[1].split()[0])
    rc, out, _ = cli("coverage", "--region", LONGTENG, "--kinds", "town_center", "--save")
    b = int(out.split("saved coverage snapshot")[1].split()[0])
    rc, out, _ = cli("coverage", "snapshots", "--region", LONGTENG)
    assert rc == 0 and "全部" in out
    rc, out, _ = cli("coverage", "compare", str(a), str(b))
    assert rc == 0 and "参数不同" in out and "龙腾街道" in out


def test_site_and_what_if(cli, tmp_path):
    rc, out, _ = cli("site", "--region", LONGTENG, "--k", "2", "--candidates", "compounds")
    assert rc == 0 and "【精确解】" in out and "【贪心解】" in out
    sites = tmp_path / "sites.csv"
    sites.write_text("经度,纬度,名称\n116.716,23.357,甲\n116.726,23.366,乙\n", encoding="utf-8")
    rc, out, _ = cli("site", "--region", LONGTENG, "--k", "1", "--sites", str(sites),
                     "--format", "json")
    assert rc == 0 and json.loads(out)["exact"]["sites_found"] <= 1
    rc, out, _ = cli("site", "--region", LONGTENG, "--at", "116.716", "23.357")
    assert rc == 0 and "未保存" in out


def test_errors_are_one_line(cli, tmp_path):
    rc, _, err = cli("coverage", "--region", "999999")
    assert rc == 1 and err.startswith("servicemap: error: 未找到编码为 '999999' 的区划")
    rc, _, err = cli("coverage", "--region", LONGTENG, "--minutes", "15")
    assert rc == 1 and "servicemap isochrones --minutes 15" in err
    rc, _, err = cli("site", "--region", LONGTENG, "--k", "40", "--candidates", "compounds")
    assert rc == 1 and "超过了候选点数量（36 个）" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("lng,lat\n23.36,116.72\n", encoding="utf-8")
    rc, _, err = cli("site", "--region", LONGTENG, "--k", "1", "--sites", str(bad))
    assert rc == 1 and "经纬度是否写反了" in err
    rc, _, err = cli("coverage")
    assert rc == 1 and "440507013 龙腾街道" in err


def test_wishes_activities_and_ledger(cli, samples_engine, tmp_path):
    from openpyxl import load_workbook

    with samples_engine.connect() as c:
        n = c.execute(text(
            "SELECT count(*) FROM activities a JOIN service_points p ON p.code = a.point_code "
            "WHERE p.region_code LIKE '440507013%' AND p.kind IN ('town_center', "
            "'village_center') AND a.starts_at >= '2026-01-01T00:00+08' "
            "AND a.starts_at < '2027-01-01T00:00+08'")).scalar_one()
    assert n > 51  # the 51 of January–August and the planned program after
    rc, out, err = cli("wishes", "activities", "--region", LONGTENG, "--year", "2026")
    assert rc == 0 and f"2026 年：{n} 场活动" in err + out
    assert "未做到月月有活动的阵地 0 个" in err + out
    xlsx = tmp_path / "a.xlsx"
    rc, _, _ = cli("wishes", "activities", "--region", LONGTENG, "--year", "2026", "-o", str(xlsx))
    ws = load_workbook(xlsx)["活动场次"]
    totals = [r[-2] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert rc == 0 and len(totals) == 6 and sum(totals) == n
    rc, out, err = cli("coverage", "wishes", "--region", LONGTENG)
    assert rc == 0 and "未完成的心愿 0 个" in err + out
