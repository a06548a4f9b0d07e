"""Exports (geo.io.export): formats, output coordinate systems, coverage tables, and the
round trip export -> import that changes nothing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import text

from geo import crs as crsmod
from geo.errors import InvalidInput
from geo.io.export import WKT_HEADER, export_layer, read_layer
from geo.io.importer import ImportOptions, import_file
from tests.geo.io.test_tables_and_columns import point_rows, write_points_xlsx

LONGTENG = "440507013"
LISHUI = "440605126"


def _db_points(conn, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(text(
        "SELECT code, ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
        "WHERE code LIKE :p ORDER BY code"), {"p": prefix + "%"}).all())


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09"])
def test_points_csv_in_each_crs_and_round_trip(samples_conn, samples, tmp_path, crs):
    conn = samples_conn
    df = point_rows(samples, 25, prefix="RT")
    import_file(conn, "points", write_points_xlsx(tmp_path / "in.xlsx", df, crs="gcj02"),
                options=ImportOptions(crs="gcj02"))
    out = tmp_path / f"out_{crs}.csv"
    res = export_layer(conn, "points", out, crs=crs, region=LISHUI)
    assert res.format == "csv" and res.rows == 170 + 25
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"编码": str, "所属村居": str})
    assert list(table.columns[:8]) == ["编码", "名称", "类型", "所属村居", "所属村居名称", "地址",
                                       "经度", "纬度"]
    mine = table[table["编码"].str.startswith("RT-")].sort_values("编码")
    db = _db_points(conn, "RT-")
    want_x, want_y = crsmod.from_wgs84(db["x"].to_numpy(), db["y"].to_numpy(), crs)
    assert np.abs(mine["经度"].to_numpy() - want_x).max() < 1e-12
    assert np.abs(mine["纬度"].to_numpy() - want_y).max() < 1e-12
    assert set(mine["类型"]) <= {"党群服务站", "村居党群服务中心", "新时代文明实践所",
                               "行政服务中心"}
    # edit nothing, import the export back in its CRS: every row unchanged
    back = tmp_path / "back.csv"
    mine.to_csv(back, index=False, encoding="utf-8-sig")
    rep = import_file(conn, "points", back, options=ImportOptions(crs=crs))
    assert (rep.inserted, rep.updated, rep.unchanged) == (0, 0, 25), rep.to_text()


def test_polygons_to_xlsx_geojson_and_geopackage(samples_conn, tmp_path):
    conn = samples_conn
    xl = export_layer(conn, "compounds", tmp_path / "c.xlsx", crs="gcj02", region=LONGTENG)
    assert xl.rows == 36 and WKT_HEADER in xl.columns
    table = pd.read_excel(tmp_path / "c.xlsx", dtype=str)
    first = shapely.from_wkt(table[WKT_HEADER][0])
    stored = shapely.from_wkb(bytes(conn.execute(text(
        "SELECT ST_AsBinary(geom) FROM compounds WHERE code = :c"),
        {"c": table["小区编码"][0]}).scalar_one()))
    expect = crsmod.transform_geometry(stored, "wgs84", "gcj02")
    assert shapely.hausdorff_distance(first, expect) < 1e-9
    gj = export_layer(conn, "grids", tmp_path / "g.geojson", crs="cgcs2000", region=LONGTENG)
    g = gpd.read_file(tmp_path / "g.geojson")
    assert gj.rows == 12 and len(g) == 12 and g.crs.to_epsg() == 4490
    assert set(g["网格类型"]) <= {"治理网格", "党建网格"} and "网格员人数" in g.columns
    gp = export_layer(conn, "buildings", tmp_path / "b.gpkg", region=LONGTENG)
    assert gp.rows == len(samples_buildings(conn))
    assert pyogrio.read_info(tmp_path / "b.gpkg", layer="buildings")["features"] == gp.rows
    bd = export_layer(conn, "points", tmp_path / "p.geojson", crs="bd09", region=LONGTENG)
    assert any("EPSG:4326" in n for n in bd.notes)


def samples_buildings(conn) -> list:
    """Longteng's buildings: those of its compounds, and those without a compound
    whose footprint lies in one of its villages (a building's region)."""
    return conn.execute(text(
        "SELECT b.code FROM buildings b LEFT JOIN compounds c ON c.code = b.compound_code "
        "WHERE b.deleted_at IS NULL AND (c.region_code LIKE '440507013%' OR (c.code IS NULL "
        "AND (SELECT r.code FROM regions r WHERE r.level = 'village' "
        "     AND ST_Covers(r.geom, ST_PointOnSurface(b.geom)) LIMIT 1) LIKE '440507013%'))"
    )).all()


def test_exported_grids_re_import_unchanged(samples_conn, tmp_path):
    conn = samples_conn
    export_layer(conn, "grids", tmp_path / "g.gpkg", region=LONGTENG)
    first = import_file(conn, "grids", tmp_path / "g.gpkg")
    assert first.updated == 12  # the synthetic sample rows become real data once
    again = import_file(conn, "grids", tmp_path / "g.gpkg")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 12)


def test_coverage_tables_for_longteng(samples_conn, tmp_path):
    conn = samples_conn
    res = export_layer(conn, "coverage-summary", tmp_path / "s.csv", region=LONGTENG)
    s = pd.read_csv(tmp_path / "s.csv", encoding="utf-8-sig", dtype={"区划代码": str})
    town = s[s["区划代码"] == LONGTENG].iloc[0]
    assert (town["小区数"], town["党支部覆盖小区数"]) == (36, 32)
    assert f"{town['覆盖率%']:.2f}" == "88.89"  # 32/36 rounded half-up; published 88.88 truncates
    assert abs(town["覆盖率"] - 32 / 36) < 1e-12
    assert res.rows == len(s) and res.rows >= 6
    cov, notes = read_layer(conn, "coverage", region=LONGTENG)
    assert len(cov) == 36 and (cov["有党支部覆盖"] == "是").sum() == 32
    assert cov.geometry.notna().all()
    assert isinstance(notes, list)


def test_export_refuses_what_cannot_be_written(samples_conn, tmp_path):
    with pytest.raises(InvalidInput) as e:
        export_layer(samples_conn, "branches", tmp_path / "b.geojson")
    assert "CSV" in e.value.message
    with pytest.raises(InvalidInput):
        export_layer(samples_conn, "points", tmp_path / "p.docx")
    with pytest.raises(InvalidInput):
        export_layer(samples_conn, "points", tmp_path / "p.csv", crs="mercator")
    with pytest.raises(InvalidInput):
        export_layer(samples_conn, "castles", tmp_path / "p.csv")
    res = export_layer(samples_conn, "branches", tmp_path / "b.csv", encoding="gbk")
    table = pd.read_csv(tmp_path / "b.csv", encoding="gbk")
    assert res.rows == len(table) and "覆盖小区" in table.columns
