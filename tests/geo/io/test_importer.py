"""Importing planners' files end to end (geo.io.importer), inside a rolled-back transaction
on the database holding both sample towns."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from geo import crs as crsmod
from geo.io.importer import (
    GEOMETRY_TOLERANCE_DEG,
    ImportOptions,
    ImportRejected,
    import_file,
)
from tests.geo.io.test_tables_and_columns import (
    compounds_gdf,
    grids_gdf,
    point_rows,
    points_csv,
    write_csv,
    write_geojson,
    write_kml,
    write_points_xlsx,
    write_shapefile_zip,
)


def q(conn, sql: str, **params):
    return conn.execute(text(sql), params).all()


def one(conn, sql: str, **params):
    return conn.execute(text(sql), params).scalar_one()


def kinds(problems) -> set[str]:
    return {p.kind for p in problems}


@pytest.fixture(scope="module")
def town_points(samples) -> pd.DataFrame:
    return point_rows(samples, 170)


# ==========================================================================
# the town's Excel sheet: 170 positions in GCJ-02
# ==========================================================================
def test_xlsx_gcj02_points_import_report_and_idempotence(samples_conn, town_points, tmp_path):
    conn = samples_conn
    path = write_points_xlsx(tmp_path / "里水镇阵地.xlsx", town_points, crs="gcj02")
    opts = ImportOptions(crs="gcj02", actor="planner-li")
    rep = import_file(conn, "points", path, options=opts)
    assert (rep.rows_read, rep.rows_valid, rep.rows_rejected) == (170, 170, 0)
    assert (rep.inserted, rep.updated, rep.unchanged) == (170, 0, 0)
    assert rep.written and rep.format == "xlsx" and rep.sheet == "阵地清单"
    assert rep.header_rows == [2, 3] and rep.crs == "gcj02" and rep.crs_source == "--crs"
    mapped = {c["column"]: c["field"] for c in rep.columns}
    assert mapped == {"阵地编码": "code", "阵地名称": "name", "类型": "kind", "所属村居": "region",
                      "地址": "address", "经度": "lng", "纬度": "lat", "开放时间": "hours",
                      "服务内容": "services", "联系电话": "phone", "功能室数量": "rooms",
                      "面积（㎡）": "floor_area_m2"}
    assert not rep.errors
    assert "outside_region" not in kinds(rep.warnings)
    # stored in WGS-84 within the inverse's bound of the original points
    got = pd.DataFrame(q(conn, "SELECT code, ST_X(geom) AS x, ST_Y(geom) AS y, region_code, kind, "
                              "services, hours, rooms, floor_area_m2, phone, source_crs "
                              "FROM service_points WHERE code LIKE 'T-%' ORDER BY code"))
    want = town_points.sort_values("code").reset_index(drop=True)
    assert np.abs(got["x"].to_numpy() - want["lng"].to_numpy()).max() < 1e-8
    assert np.abs(got["y"].to_numpy() - want["lat"].to_numpy()).max() < 1e-8
    assert list(got["region_code"]) == list(want["region_code"])
    first = got.iloc[0]
    assert first.source_crs == "gcj02" and first.phone == want["phone"][0]
    assert set(got["kind"]) == {"station", "village_center", "civilization", "admin_service"}
    assert got["services"][0] == ["party", "government"]
    assert got["hours"][0]["weekly"]["mon"] == [["09:00", "12:00"], ["14:30", "17:30"]]
    audit = q(conn,
              "SELECT actor, action, entity, after FROM audit_log ORDER BY id DESC LIMIT 1")[0]
    assert (audit.actor, audit.action, audit.entity) == ("planner-li", "import", "service_points")
    assert audit.after["inserted"] == 170 and audit.after["file"] == "里水镇阵地.xlsx"
    # the same file again changes nothing (and does not bump versions)
    again = import_file(conn, "points", path, options=opts)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 170)
    assert one(conn, "SELECT max(version) FROM service_points WHERE code LIKE 'T-%'") == 1
    text_ = again.to_text()
    assert "新增 0" in text_ and "未变 170" in text_ and "阵地名称 → 名称(name)" in text_
    json.dumps(again.as_dict())


def test_moved_point_bumps_version_and_partial_columns_keep_others(samples_conn, town_points,
                                                                  tmp_path):
    conn = samples_conn
    df = town_points.head(5).copy()
    import_file(conn, "points", points_csv(tmp_path / "a.csv", df), options=ImportOptions())
    moved = df.copy()
    moved.loc[moved.index[0], "lng"] += 0.001
    path = write_csv(tmp_path / "b.csv", ["编码", "名称", "类型", "经度", "纬度"],
                     [[r.code, r.name, r.kind, r.lng, r.lat] for r in moved.itertuples()])
    rep = import_file(conn, "points", path)
    assert (rep.inserted, rep.updated, rep.unchanged) == (0, 1, 4)
    rows = {r.code: r for r in q(conn, "SELECT code, version, phone, hours_text FROM "
                                       "service_points WHERE code = ANY(:c)", c=list(df["code"]))}
    assert rows[df["code"].iloc[0]].version == 2
    assert rows[df["code"].iloc[1]].version == 1
    # columns absent from the second file were left alone
    assert all(r.phone and r.hours_text for r in rows.values())


def test_dry_run_changes_nothing(samples_conn, town_points, tmp_path):
    conn = samples_conn
    before = one(conn, "SELECT count(*) FROM service_points")
    audits = one(conn, "SELECT count(*) FROM audit_log")
    path = write_points_xlsx(tmp_path / "p.xlsx", town_points.head(30))
    rep = import_file(conn, "points", path, options=ImportOptions(crs="gcj02", dry_run=True))
    assert rep.dry_run and not rep.written and rep.inserted == 30
    assert one(conn, "SELECT count(*) FROM service_points") == before
    assert one(conn, "SELECT count(*) FROM audit_log") == audits
    assert "演练模式" in rep.to_text()


def test_skip_invalid_writes_valid_rows_and_returns_rejects(samples_conn, town_points, tmp_path):
    conn = samples_conn
    df = town_points.head(10).copy()
    df.loc[df.index[2], "kind"] = "城堡"
    df.loc[df.index[7], "phone"] = "请联系村委"
    src = points_csv(tmp_path / "p.csv", df)
    with pytest.raises(ImportRejected) as exc:
        import_file(conn, "points", src)
    assert exc.value.report.rows_rejected == 2
    assert one(conn, "SELECT count(*) FROM service_points WHERE code = ANY(:c)",
               c=list(df["code"])) == 0
    rejects = tmp_path / "rejected.csv"
    rep = import_file(conn, "points", src,
                      options=ImportOptions(skip_invalid=True, rejects_path=rejects))
    assert (rep.rows_valid, rep.rows_rejected, rep.inserted) == (8, 2, 8)
    assert rep.rejects_file == str(rejects)
    back = pd.read_csv(rejects, encoding="utf-8-sig", dtype=str)
    assert list(back["原行号"]) == ["4", "9"]
    assert "城堡" in back["错误原因"][0] and "联系电话" in back["错误原因"][1]
    assert list(back.columns[1:-1]) == ["编码", "名称", "类型", "所属社区", "地址", "经度", "纬度",
                                        "开放时间", "服务内容", "联系电话"]


def test_swapped_coordinates_are_fixed_only_on_request(samples_conn, town_points, tmp_path):
    conn = samples_conn
    df = town_points.head(6)
    path = write_points_xlsx(tmp_path / "s.xlsx", df, swap=True, title=False, merged=False)
    with pytest.raises(ImportRejected) as exc:
        import_file(conn, "points", path, options=ImportOptions(crs="gcj02"))
    errs = exc.value.report.errors
    assert {p.kind for p in errs} == {"swapped_lnglat"} and len(errs) == 6
    assert errs[0].row == 2 and "--fix-swapped" in errs[0].expected
    rep = import_file(conn, "points", path, options=ImportOptions(crs="gcj02", fix_swapped=True))
    assert rep.inserted == 6
    assert [p.kind for p in rep.warnings].count("swapped_fixed") == 6


def test_warnings_outside_town_overlaps_and_hours_kept_as_text(samples_conn, town_points,
                                                               tmp_path):
    conn = samples_conn
    df = town_points.head(4).copy()
    df.loc[df.index[1], ["lng", "lat"]] = [df["lng"].iloc[0] + 0.00001, df["lat"].iloc[0]]
    df.loc[df.index[2], ["lng", "lat"]] = [113.60, 23.05]  # outside Lishui, in no known region
    df.loc[df.index[2], "region"] = None
    df.loc[df.index[3], "hours"] = "看情况开放"
    df.loc[df.index[3], "region"] = "河村社区"  # name without 居委会; the point is in 沙涌
    rep = import_file(conn, "points", points_csv(tmp_path / "w.csv", df))
    assert rep.inserted == 4
    k = [p.kind for p in rep.warnings]
    assert "overlapping_points" in k and "outside_all_regions" in k and "hours_unparsed" in k
    over = next(p for p in rep.warnings if p.kind == "overlapping_points")
    assert over.row == 3 and "第2行" in over.message
    outside = {p.kind: p for p in rep.warnings if p.kind.startswith("outside")}
    assert outside["outside_all_regions"].row == 4
    assert outside["outside_region"].row == 5
    assert "河村社区居委会" in outside["outside_region"].message
    assert "米" in outside["outside_region"].message
    hours = q(conn, "SELECT hours, hours_text FROM service_points WHERE code = :c",
              c=df["code"].iloc[3])[0]
    assert hours.hours["parsed"] is False and hours.hours_text == "看情况开放"


def test_points_without_codes_get_stable_codes_and_regions_from_location(samples_conn,
                                                                         town_points, tmp_path):
    conn = samples_conn
    df = town_points.head(8)
    path = write_csv(tmp_path / "nocode.csv", ["名称", "类型", "经度", "纬度"],
                     [[r.name, r.kind, r.lng, r.lat] for r in df.itertuples()], encoding="utf-8")
    rep = import_file(conn, "points", path)
    assert rep.inserted == 8
    assert {"codes_generated", "region_assigned"} <= kinds(rep.warnings)
    rows = q(conn, "SELECT code, region_code FROM service_points WHERE name = ANY(:n) "
                   "ORDER BY name", n=list(df["name"]))
    assert sorted(r.region_code for r in rows) == sorted(df["region_code"])
    again = import_file(conn, "points", path)
    assert (again.inserted, again.unchanged) == (0, 8)


def test_bd09_points_from_mapping_file_with_defaults(samples_conn, town_points, tmp_path):
    conn = samples_conn
    df = town_points.head(5)
    lng, lat = crsmod.from_wgs84(df["lng"].to_numpy(), df["lat"].to_numpy(), "bd09")
    path = write_csv(tmp_path / "baidu.csv", ["站点", "X坐标", "Y坐标", "填报人"],
                     [[r.name, lng[i], lat[i], "张三"] for i, r in enumerate(df.itertuples())],
                     encoding="utf-8", bom=True)
    mapping = tmp_path / "map.toml"
    mapping.write_text('crs = "bd09"\n[columns]\n"站点" = "name"\n"X坐标" = "lng"\n'
                       '"Y坐标" = "lat"\n"填报人" = "ignore"\n[defaults]\nkind = "党群服务站"\n',
                       encoding="utf-8")
    rep = import_file(conn, "points", path, options=ImportOptions(mapping=mapping))
    assert rep.crs == "bd09" and rep.crs_source == "mapping" and rep.encoding == "utf-8-sig"
    assert rep.inserted == 5 and rep.ignored_columns == ["填报人"]
    xy = q(conn, "SELECT ST_X(geom) AS x, ST_Y(geom) AS y, kind FROM service_points "
                 "WHERE name = :n", n=df["name"].iloc[0])[0]
    assert abs(xy.x - df["lng"].iloc[0]) < 1e-8 and abs(xy.y - df["lat"].iloc[0]) < 1e-8
    assert xy.kind == "station"


def test_kml_points_from_a_phone_app(samples_conn, town_points, tmp_path):
    df = town_points.head(3)
    gdf = gpd.GeoDataFrame({"Name": list(df["name"]), "类型": list(df["kind"])},
                           geometry=shapely.points(df["lng"], df["lat"]), crs=4326)
    rep = import_file(samples_conn, "points", write_kml(tmp_path / "p.kml", gdf))
    assert rep.format == "kml" and rep.inserted == 3 and rep.crs == "wgs84"
    assert rep.crs_source == "file"


# ==========================================================================
# polygons: surveying office shapefile, contractor GeoJSON, GeoPackage buildings
# ==========================================================================
def test_zipped_shapefile_grids_in_cgcs2000_gauss_kruger(samples_conn, samples, tmp_path):
    conn = samples_conn
    gdf = grids_gdf(samples)
    path = write_shapefile_zip(tmp_path / "网格.zip", gdf)
    rep = import_file(conn, "grids", path, options=ImportOptions(actor="surveyor"))
    assert rep.format == "shapefile" and rep.encoding == "GBK"
    assert rep.crs == "cgcs2000" and rep.crs_source == "file"
    assert rep.inserted == len(gdf) and not rep.errors
    src = samples["longteng"].grids.set_index("code")
    rows = q(conn, "SELECT code, kind, workers, has_branch, region_code, "
                   "ST_AsBinary(geom) AS g FROM grid_cells WHERE code LIKE 'SV-%' ORDER BY code")
    for r in rows:
        orig = src.loc[r.code[3:]]
        g = shapely.from_wkb(bytes(r.g))
        assert g.geom_type == "MultiPolygon"
        assert shapely.hausdorff_distance(g, orig.geometry) < 1e-8  # GK round trip
        assert (r.kind, r.workers, r.has_branch, r.region_code) == \
            (orig.kind, orig.workers, orig.has_branch, orig.region_code)
    assert import_file(conn, "grids", path).unchanged == len(gdf)


def test_geojson_compounds_in_gcj02_override(samples_conn, samples, tmp_path):
    conn = samples_conn
    gdf = compounds_gdf(samples)
    gcj = gdf.copy()
    gcj["geometry"] = crsmod.transform_geometry(gdf.geometry.to_numpy(), "wgs84", "gcj02")
    path = write_geojson(tmp_path / "小区.geojson", gcj)
    rep = import_file(conn, "compounds", path, options=ImportOptions(crs="gcj02"))
    assert rep.crs == "gcj02" and rep.crs_source == "--crs" and rep.inserted == len(gdf)
    g = shapely.from_wkb(bytes(one(conn, "SELECT ST_AsBinary(geom) FROM compounds WHERE "
                                         "code = :c", c=gdf["小区编码"][0])))
    assert shapely.hausdorff_distance(g, gdf.geometry[0]) < 1e-8
    # the round trip through GCJ-02 is within the tolerance: a re-import is "unchanged"
    assert import_file(conn, "compounds", path,
                       options=ImportOptions(crs="gcj02")).unchanged == len(gdf)
    assert GEOMETRY_TOLERANCE_DEG >= 1e-8


def test_geopackage_buildings_and_branches_csv(samples_conn, samples, tmp_path):
    conn = samples_conn
    b = samples["longteng"].buildings.head(200)
    gdf = gpd.GeoDataFrame({"楼栋编码": [f"N-{c}" for c in b["code"]],
                            "所属小区": b["compound_code"].to_numpy(),
                            "户数": b["households"].to_numpy(), "人口": b["population"].to_numpy()},
                           geometry=b.geometry.to_numpy(), crs=4490)
    gp = tmp_path / "楼栋.gpkg"
    pyogrio.write_dataframe(gdf, gp, layer="buildings")
    rep = import_file(conn, "buildings", gp)
    assert rep.format == "gpkg" and rep.crs == "cgcs2000" and rep.inserted == 200
    assert one(conn, "SELECT count(*) FROM buildings WHERE code LIKE 'N-%' AND compound_code "
                     "IS NOT NULL") == int(b["compound_code"].notna().sum())
    # the file gave their population: its source is the planner's file
    assert one(conn, "SELECT count(*) FROM buildings WHERE code LIKE 'N-%' "
                     "AND population_source = 'imported'") == 200
    # a sample building whose population a file gives: 'imported'
    s0 = b.iloc[0]
    assert one(conn, "SELECT population_source FROM buildings WHERE code = :c",
               c=s0["code"]) == "sample"
    same = write_csv(tmp_path / "楼栋.csv", ["楼栋编码", "人口", "几何"],
                     [[s0["code"], str(int(s0["population"])), s0.geometry.wkt]])
    import_file(conn, "buildings", same)
    assert one(conn, "SELECT population_source FROM buildings WHERE code = :c",
               c=s0["code"]) == "imported"
    assert import_file(conn, "buildings", same).unchanged == 1  # again: nothing changes
    # the same number over a census figure: the source changes, so the row is updated
    conn.execute(text("UPDATE buildings SET population_source = 'census' WHERE code = :c"),
                 {"c": s0["code"]})
    rep = import_file(conn, "buildings", same)
    assert (rep.updated, rep.unchanged) == (1, 0)
    # a file without a population column leaves the source alone
    nopop = write_csv(tmp_path / "楼栋2.csv", ["楼栋编码", "户数", "几何"],
                      [[b.iloc[1]["code"], "3", b.iloc[1].geometry.wkt]])
    import_file(conn, "buildings", nopop)
    assert one(conn, "SELECT population_source FROM buildings WHERE code = :c",
               c=b.iloc[1]["code"]) == "sample"
    c = samples["longteng"].compounds
    names = list(c["name"][:3])
    path = write_csv(tmp_path / "支部.csv", ["支部名称", "所属社区", "驻地小区", "覆盖小区"],
                     [["新建联合党支部", "珠港社区", names[0], "、".join(names)]])
    rep = import_file(conn, "branches", path)
    assert rep.inserted == 1
    code = one(conn, "SELECT code FROM party_branches WHERE name = '新建联合党支部'")
    covered = {r.compound_code for r in q(conn, "SELECT compound_code FROM branch_compounds "
                                                "WHERE branch_code = :b", b=code)}
    assert covered == set(c["code"][:3])
    # changing only the covered set counts as an update
    path2 = write_csv(tmp_path / "支部2.csv", ["支部名称", "所属社区", "驻地小区", "覆盖小区"],
                      [["新建联合党支部", "珠港社区", names[0], "、".join(names[:2])]])
    rep2 = import_file(conn, "branches", path2)
    assert (rep2.inserted, rep2.updated) == (0, 1)


def test_regions_with_wkt_csv(samples_conn, tmp_path):
    conn = samples_conn
    rows = [["440605126901", "测试村委会", "村", "POLYGON((113.10 23.10, 113.11 23.10, "
             "113.11 23.11, 113.10 23.10))"],
            ["440605126902", "试验社区居委会", "", ""]]
    path = write_csv(tmp_path / "区划.csv", ["区划代码", "名称", "级别", "边界"], rows)
    rep = import_file(conn, "regions", path)
    assert rep.inserted == 2
    got = {r.code: r for r in q(conn, "SELECT code, level, parent_code, geom IS NULL AS nog "
                                      "FROM regions WHERE code LIKE '4406051269%'")}
    assert got["440605126901"].level == "village" and got["440605126901"].parent_code == \
        "440605126"
    assert got["440605126902"].nog and got["440605126902"].level == "village"


def test_invalid_polygon_repaired_with_make_valid(samples_conn, tmp_path):
    bow = "POLYGON((113.10 23.10, 113.11 23.11, 113.11 23.10, 113.10 23.11, 113.10 23.10))"
    path = write_csv(tmp_path / "c.csv", ["小区编码", "小区名称", "范围"], [["MV-1", "蝴蝶小区",
                                                                             bow]])
    with pytest.raises(ImportRejected) as exc:
        import_file(samples_conn, "compounds", path)
    p = exc.value.report.errors[0]
    assert p.kind == "invalid_geometry" and "自相交" in p.message and "113.105" in p.message
    rep = import_file(samples_conn, "compounds", path, options=ImportOptions(make_valid=True))
    assert rep.inserted == 1 and "geometry_repaired" in kinds(rep.warnings)


# ==========================================================================
# property: the import path converts within the stated bound
# ==========================================================================
china_lng = st.floats(min_value=97.0, max_value=125.0, allow_nan=False)
china_lat = st.floats(min_value=21.0, max_value=45.0, allow_nan=False)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(china_lng, china_lat), min_size=1, max_size=5, unique=True),
       st.sampled_from(["gcj02", "bd09"]))
def test_import_converts_within_the_inverse_bound(samples_conn, tmp_path, pts, src):
    """Points written in GCJ-02/BD-09 are stored within 1e-9 degrees (0.1 mm) of the
    WGS-84 originals, anywhere in mainland China (reuses geo.crs's stated bound)."""
    lng = np.array([p[0] for p in pts])
    lat = np.array([p[1] for p in pts])
    x, y = crsmod.from_wgs84(lng, lat, src)
    codes = [f"H-{i}" for i in range(len(pts))]
    path = write_csv(tmp_path / "h.csv", ["编码", "名称", "类型", "经度", "纬度"],
                     [[c, c, "党群服务站", repr(float(x[i])), repr(float(y[i]))]
                      for i, c in enumerate(codes)], encoding="utf-8")
    nested = samples_conn.begin_nested()
    try:
        import_file(samples_conn, "points", path, options=ImportOptions(crs=src))
        got = {r.code: (r.x, r.y) for r in q(samples_conn, "SELECT code, ST_X(geom) AS x, "
                                                           "ST_Y(geom) AS y FROM service_points "
                                                           "WHERE code = ANY(:c)", c=codes)}
    finally:
        nested.rollback()
    for i, c in enumerate(codes):
        assert abs(got[c][0] - lng[i]) <= crsmod.INVERSE_TOLERANCE_DEG
        assert abs(got[c][1] - lat[i]) <= crsmod.INVERSE_TOLERANCE_DEG


def test_published_control_point_through_the_import(samples_conn, tmp_path):
    """The Shenzhen GCJ-02 control point of tests/geo/test_crs.py, imported with
    ``--crs gcj02``, is stored at its published WGS-84 position."""
    from tests.geo.test_crs import EVILTRANSFORM_WGS_GCJ

    wlat, wlng, glat, glng = EVILTRANSFORM_WGS_GCJ[1]  # Shenzhen
    path = write_csv(tmp_path / "cp.csv", ["编码", "名称", "类型", "经度", "纬度"],
                     [["CP-SZ", "深圳控制点", "其他", repr(glng), repr(glat)]], encoding="utf-8")
    rep = import_file(samples_conn, "points", path, options=ImportOptions(crs="gcj02"))
    assert rep.inserted == 1
    x, y = q(samples_conn, "SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
                           "WHERE code = 'CP-SZ'")[0]
    assert abs(x - wlng) < 1e-8 and abs(y - wlat) < 1e-8


def test_regions_town_and_villages_in_one_file(samples_conn, tmp_path):
    rows = [["440605127", "测试镇", "", SQUARE_WKT],
            ["440605127001", "一村委会", "", SQUARE_WKT],
            ["440605127002", "二社区居委会", "社区", ""]]
    path = write_csv(tmp_path / "r.csv", ["行政区划代码", "名称", "级别", "WKT"], rows)
    rep = import_file(samples_conn, "regions", path)
    assert rep.inserted == 3 and not rep.errors
    got = {r.code: (r.level, r.parent_code) for r in q(
        samples_conn, "SELECT code, level, parent_code FROM regions WHERE code LIKE '440605127%'")}
    assert got == {"440605127": ("town", "440605"), "440605127001": ("village", "440605127"),
                   "440605127002": ("village", "440605127")}


SQUARE_WKT = "POLYGON((113.0 23.0, 113.01 23.0, 113.01 23.01, 113.0 23.01, 113.0 23.0))"
