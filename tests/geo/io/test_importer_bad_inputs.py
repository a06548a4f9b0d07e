"""Bad input, one kind per case: the import is refused, the problem names the right
row and column (as a planner sees them in Excel), and the database is unchanged."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely
from sqlalchemy import text

from geo.errors import ImportRejected
from geo.io.importer import ImportOptions, import_file
from tests.geo.io.test_tables_and_columns import (
    grids_gdf,
    write_csv,
    write_geojson,
    write_shapefile_zip,
)

POINT_HEAD = ["编码", "名称", "类型", "所属村居", "经度", "纬度", "服务内容", "联系电话",
              "功能室数量",
              "星级"]
GOOD = ["X-1", "沙涌社区党群服务站", "党群服务站", "沙涌社区", "113.1500", "23.1600", "党务、政务",
        "0757-86500001", "3", "3"]
GOOD2 = ["X-2", "河村社区党群服务站", "党群服务站", "河村社区", "113.1600", "23.1700", "党务",
         "0757-86500002", "2", ""]
TABLES = {"points": "service_points", "grids": "grid_cells", "compounds": "compounds",
          "buildings": "buildings", "regions": "regions", "branches": "party_branches"}


@dataclass
class Case:
    kind: str
    entity: str
    build: Callable[[Path], Path]
    row: int | None
    column: str | None
    options: dict | None = None


def pts(tmp: Path, *, row: int = 2, col: str | None = None, value: str = "",
        rows: list[list[str]] | None = None, head: list[str] | None = None) -> Path:
    """Points CSV (GBK): header on row 1, GOOD on row 2, GOOD2 on row 3; ``value`` put
    into ``col`` of ``row``."""
    head = list(head or POINT_HEAD)
    data = [list(r) for r in (rows or [GOOD, GOOD2])]
    if col is not None:
        data[row - 2][head.index(col)] = value
    return write_csv(tmp / "阵地.csv", head, data)


def polys_csv(tmp: Path, head: list[str], rows: list[list[str]], name: str = "面.csv") -> Path:
    return write_csv(tmp / name, head, rows)


SQUARE = "POLYGON((113.15 23.15, 113.151 23.15, 113.151 23.151, 113.15 23.151, 113.15 23.15))"
BOWTIE = "POLYGON((113.15 23.15, 113.16 23.16, 113.16 23.15, 113.15 23.16, 113.15 23.15))"


def _xlsx_with_title(tmp: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "阵地"
    ws["A1"] = "里水镇党群服务阵地一览表"
    ws.merge_cells("A1:F1")
    for j, h in enumerate(["名称", "类型", "经度", "纬度"], start=1):
        ws.cell(2, j, h)
    ws.append(["沙涌社区党群服务站", "党群服务站", 113.15, 23.16])
    ws.append(["河村社区党群服务站", "党群服务站", "abc", 23.17])  # row 4
    p = tmp / "title.xlsx"
    wb.save(p)
    return p


def _geojson(tmp: Path, geoms: list, props: dict, name: str = "c.geojson") -> Path:
    gdf = gpd.GeoDataFrame(props, geometry=geoms, crs=4326)
    return write_geojson(tmp / name, gdf)


def _gk_shapefile(tmp: Path, *, prj: bool = True, samples=None) -> Path:
    return write_shapefile_zip(tmp / "grids.zip", grids_gdf(samples).head(3), prj=prj)


def _corrupt_zip(tmp: Path) -> Path:
    p = tmp / "empty.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("说明.txt", "shapefile 忘了放进来")
    return p


def _gpkg(tmp: Path) -> Path:
    p = tmp / "b.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"编码": ["B1"]}, geometry=[shapely.from_wkt(SQUARE)],
                                             crs=4326), p, layer="buildings")
    return p


def _mapping(tmp: Path) -> Path:
    pts(tmp)
    m = tmp / "m.toml"
    m.write_text('[columns]\n"名称" = "title_zh"\n', encoding="utf-8")
    return m


CASES: list[Case] = [
    # ---- file level -----------------------------------------------------------
    Case("unsupported_format", "points", lambda t: (t / "阵地.xls").write_bytes(b"x") and
         t / "阵地.xls", None, None),
    Case("unreadable_file", "points", lambda t: (t / "坏.xlsx").write_bytes(b"PK\x03\x04bad")
         and t / "坏.xlsx", None, None),
    Case("empty_file", "points", lambda t: (t / "空.csv").write_bytes(b"\r\n \r\n") and
         t / "空.csv", None, None),
    Case("sheet_not_found", "points", _xlsx_with_title, None, None, {"sheet": "Sheet2"}),
    Case("header_not_found", "points",
         lambda t: write_csv(t / "数.csv", ["1", "2", "3"], [["4", "5", "6"]]), None, None),
    Case("missing_column", "points",
         lambda t: write_csv(t / "缺.csv", ["名称", "类型"], [["甲", "党群服务站"]]), None,
         "经度/纬度"),
    Case("duplicate_column", "points",
         lambda t: write_csv(t / "重.csv", ["名称", "阵地名称", "类型", "经度", "纬度"],
                             [["甲", "甲", "党群服务站", "113.15", "23.16"]]), None, "阵地名称"),
    Case("invalid_mapping_file", "points", lambda t: pts(t), None, None, {"mapping": "m.toml"}),
    Case("unknown_crs", "points", lambda t: pts(t), None, None, {"crs": "mars2"}),
    Case("no_shapefile_in_zip", "grids", _corrupt_zip, None, None),
    Case("crs_conflict", "grids", "gk", None, None, {"crs": "gcj02"}),
    Case("not_lnglat", "grids", "gk-noprj", None, None),
    Case("layer_not_found", "buildings", _gpkg, None, None, {"sheet": "楼栋"}),
    # ---- rows: points ---------------------------------------------------------
    Case("missing_value", "points", lambda t: pts(t, row=3, col="名称", value=""), 3, "名称"),
    Case("not_a_number", "points", _xlsx_with_title, 4, "经度"),
    Case("lng_out_of_range", "points", lambda t: pts(t, row=2, col="经度", value="200"), 2,
         "经度"),
    Case("lat_out_of_range", "points", lambda t: pts(t, row=3, col="纬度", value="60.5"), 3,
         "纬度"),
    Case("swapped_lnglat", "points",
         lambda t: pts(t, rows=[GOOD, GOOD2[:4] + ["23.17", "113.16"] + GOOD2[6:]]), 3, None),
    Case("unknown_kind", "points", lambda t: pts(t, row=3, col="类型", value="城堡"), 3, "类型"),
    Case("unknown_service", "points", lambda t: pts(t, row=2, col="服务内容", value="党务、理发"),
         2,
         "服务内容"),
    Case("unknown_region", "points", lambda t: pts(t, row=3, col="所属村居", value="火星村"), 3,
         "所属村居"),
    Case("ambiguous_region", "points",
         lambda t: pts(t, rows=[GOOD[:3] + ["胜利社区", "110.0", "30.0"] + GOOD[6:]]), 2,
         "所属村居"),
    Case("duplicate_code", "points", lambda t: pts(t, row=3, col="编码", value="X-1"), 3, "编码"),
    Case("value_too_long", "points", lambda t: pts(t, row=2, col="编码", value="X" * 80), 2,
         "编码"),
    Case("invalid_stars", "points", lambda t: pts(t, row=2, col="星级", value="6"), 2, "星级"),
    Case("negative_number", "points", lambda t: pts(t, row=3, col="功能室数量", value="-1"), 3,
         "功能室数量"),
    Case("not_an_integer", "points", lambda t: pts(t, row=2, col="功能室数量", value="2.5"), 2,
         "功能室数量"),
    Case("invalid_phone", "points", lambda t: pts(t, row=3, col="联系电话", value="请联系村委"), 3,
         "联系电话"),
    Case("invalid_lnglat", "points",
         lambda t: write_csv(t / "ll.csv", ["名称", "类型", "经纬度"],
                             [["甲", "党群服务站", "113.15,23.16"], ["乙", "党群服务站",
                                                                     "113.16"]]),
         3, "经纬度"),
    # ---- rows: polygons and references ---------------------------------------------
    Case("invalid_geometry", "compounds",
         lambda t: polys_csv(t, ["小区编码", "小区名称", "边界"],
                             [["KC-1", "甲小区", SQUARE], ["KC-2", "乙小区", BOWTIE]]), 3, "边界"),
    Case("invalid_wkt", "compounds",
         lambda t: polys_csv(t, ["小区编码", "小区名称", "边界"], [["KC-1", "甲小区",
                                                                    "POLYGON((1 2"]]),
         2, "边界"),
    Case("wrong_geometry_type", "compounds",
         lambda t: _geojson(t, [shapely.from_wkt(SQUARE), shapely.Point(113.15, 23.15)],
                            {"小区编码": ["KC-1", "KC-2"], "小区名称": ["甲", "乙"]}), 2, None),
    Case("missing_geometry", "grids",
         lambda t: _geojson(t, [shapely.from_wkt(SQUARE), None],
                            {"网格编码": ["KG-1", "KG-2"], "网格名称": ["一", "二"]}), 2, None),
    Case("coordinates_out_of_range", "compounds",
         lambda t: polys_csv(t, ["小区编码", "小区名称", "边界"],
                             [["KC-1", "甲", "POLYGON((10 50, 11 50, 11 51, 10 50))"]]), 2, "边界"),
    Case("unknown_compound", "buildings",
         lambda t: polys_csv(t, ["楼栋编码", "所属小区", "边界"],
                             [["KB-1", "LT-C0001", SQUARE], ["KB-2", "不存在小区", SQUARE]]),
         3, "所属小区"),
    Case("invalid_bool", "grids",
         lambda t: polys_csv(t, ["网格编码", "网格名称", "是否有党支部", "边界"],
                             [["KG-1", "一", "也许", SQUARE]]), 2, "是否有党支部"),
    Case("unknown_grid_kind", "grids",
         lambda t: polys_csv(t, ["网格编码", "网格名称", "网格类型", "边界"],
                             [["KG-1", "一", "红色网格", SQUARE]]), 2, "网格类型"),
    Case("invalid_region_code", "regions",
         lambda t: polys_csv(t, ["区划代码", "名称"], [["44060", "某村"]]), 2, "区划代码"),
    Case("unknown_parent", "regions",
         lambda t: polys_csv(t, ["区划代码", "名称", "上级代码"],
                             [["440605126990", "某村", "440605999"]]), 2, "上级代码"),
    Case("invalid_level", "regions",
         lambda t: polys_csv(t, ["区划代码", "名称", "级别"], [["440605126990", "某村", "省"]]),
         2, "级别"),
]


def _fingerprint(conn, table: str) -> tuple:
    rows = conn.execute(text(
        f"SELECT count(*) AS n, md5(string_agg(md5(t::text), '' ORDER BY t.code)) AS h "
        f"FROM {table} t")).one()
    audits = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    return rows.n, rows.h, audits


def test_at_least_25_kinds():
    assert len({c.kind for c in CASES}) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input_is_refused_with_location_and_nothing_written(case: Case, samples_conn,
                                                                samples, tmp_path):
    if case.build == "gk":
        path = _gk_shapefile(tmp_path, samples=samples)
    elif case.build == "gk-noprj":
        path = _gk_shapefile(tmp_path, prj=False, samples=samples)
    else:
        path = case.build(tmp_path)
    opts = dict(case.options or {})
    if opts.get("mapping"):
        opts["mapping"] = _mapping(tmp_path)
        path = tmp_path / "阵地.csv"
    table = TABLES[case.entity]
    before = _fingerprint(samples_conn, table)
    with pytest.raises(ImportRejected) as exc:
        import_file(samples_conn, case.entity, path, options=ImportOptions(**opts))
    report = exc.value.report
    found = [p for p in report.errors if p.kind == case.kind]
    assert found, [p.as_dict() for p in report.errors]
    p = found[0]
    assert p.row == case.row, p.as_dict()
    assert p.column == case.column, p.as_dict()
    assert p.file == path.name or p.kind == "invalid_mapping_file"
    if case.row is not None:
        word = "个要素" if path.suffix in (".geojson", ".zip", ".gpkg", ".kml") else "行"
        assert p.message.startswith(f"第{case.row}{word}"), p.message
    if case.column is not None and case.row is not None:
        assert f"『{case.column}』" in p.message, p.message
    assert p.expected, p.as_dict()
    assert not report.written and report.inserted == 0
    assert _fingerprint(samples_conn, table) == before
    # the JSON form carries the same fields
    d = p.as_dict()
    assert d["kind"] == case.kind and d["message"] == p.message


def test_message_wording_in_chinese(samples_conn, tmp_path):
    path = pts(tmp_path, row=3, col="经度", value="abc")
    with pytest.raises(ImportRejected) as exc:
        import_file(samples_conn, "points", path)
    p = exc.value.report.errors[0]
    assert p.message == "第3行『经度』列的值 'abc' 不是数字，应为 73.5–135.1 之间的经度"
    assert (p.file, p.row, p.column, p.value) == ("阵地.csv", 3, "经度", "abc")


def test_every_problem_is_reported_not_just_the_first(samples_conn, tmp_path):
    rows = [GOOD, GOOD2, ["X-3", "", "城堡", "沙涌社区", "abc", "23.1", "", "", "", "9"]]
    path = pts(tmp_path, rows=rows)
    with pytest.raises(ImportRejected) as exc:
        import_file(samples_conn, "points", path, options=ImportOptions(skip_invalid=False))
    got = {(p.kind, p.row, p.column) for p in exc.value.report.errors}
    assert got == {("missing_value", 4, "名称"), ("unknown_kind", 4, "类型"),
                   ("not_a_number", 4, "经度"), ("invalid_stars", 4, "星级")}
    assert exc.value.report.rows_rejected == 1 and exc.value.report.rows_valid == 2
    text_ = exc.value.report.to_text()
    assert "--skip-invalid" in text_ and "第4行『类型』列" in text_
