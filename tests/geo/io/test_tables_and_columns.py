"""Reading real planner files (geo.io.tables) and mapping their columns (geo.io.columns).

Also the file generators the other tests of ``geo.io`` share: every file is
written here, in the tests, with the same libraries planners' tools use
(openpyxl for XLSX, GBK bytes for CSV, GDAL via pyogrio for shapefiles,
GeoJSON, GeoPackage and KML).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from openpyxl.styles import Font

from geo import crs as crsmod
from geo.errors import TableError
from geo.io.columns import crs_hint, load_mapping, map_columns, score_header
from geo.io.tables import cell_text, detect_encoding, normalize_label, read_table

LISHUI_TOWN = "440605126"
#: CGCS2000 / 3-degree Gauss-Kruger CM 117E (Shantou): what a surveying office delivers.
CGCS2000_GK_117 = 4548

KIND_LABELS = ["党群服务站", "村居党群服务中心", "新时代文明实践所", "行政服务中心", "党群服务站"]
HOURS = ["周一至周五 9:00-12:00 14:30-17:30", "每天09:00-21:00", "周二至周日 9:00-17:00，周一闭馆",
         "全天开放", "工作日 8:30-17:30；周六 9:00-12:00"]
SERVICES = ["党务、政务", "居家养老、志愿服务", "文化，儿童托管", "党务",
            "政务、法律服务、就业服务"]


# ==========================================================================
# data
# ==========================================================================
def villages(samples, town: str = "lishui") -> gpd.GeoDataFrame:
    """Village-level regions of a sample town (WGS-84), ordered by code."""
    r = samples[town].regions
    return r[r["level"] == "village"].sort_values("code").reset_index(drop=True)


def random_points(region_geoms: list, n: int, seed: int = 7) -> np.ndarray:
    """``n`` WGS-84 points, point ``i`` inside ``region_geoms[i % len]`` (deterministic)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        g = region_geoms[i % len(region_geoms)]
        x0, y0, x1, y1 = g.bounds
        while True:
            p = shapely.Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
            if g.contains(p) and g.boundary.distance(p) > 0.0003:
                out.append(p)
                break
    return np.asarray(out, dtype=object)


def point_rows(samples, n: int = 170, *, prefix: str = "T", seed: int = 7) -> pd.DataFrame:
    """``n`` service positions in Lishui villages: WGS-84 ``lng``/``lat`` plus attributes."""
    v = villages(samples)
    pts = random_points(list(v.geometry), n, seed)
    rows = []
    for i, p in enumerate(pts):
        k = i % len(v)
        short = v["name"][k].replace("居委会", "").replace("村委会", "")
        rows.append({
            "code": f"{prefix}-{i + 1:04d}",
            "name": f"{short}第{i // len(v) + 1}服务点",
            "kind": KIND_LABELS[i % len(KIND_LABELS)],
            "region": v["name"][k],
            "region_code": v["code"][k],
            "address": f"里水镇{v['name'][k][:2]}路{i + 1}号",
            "lng": p.x, "lat": p.y,
            "hours": HOURS[i % len(HOURS)],
            "services": SERVICES[i % len(SERVICES)],
            "phone": f"0757-8650{i:04d}",
            "rooms": 2 + i % 6,
            "area": 80.0 + 10 * (i % 15),
        })
    df = pd.DataFrame(rows)
    return df.sort_values(["region_code", "code"]).reset_index(drop=True)


def to_crs_xy(df: pd.DataFrame, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of ``df`` (WGS-84) as written in ``crs``."""
    return crsmod.from_wgs84(df["lng"].to_numpy(), df["lat"].to_numpy(), crs)


# ==========================================================================
# file writers
# ==========================================================================
POINT_HEADER = ["序号", "阵地编码", "阵地名称", "类型", "所属村居", "地址", "经度", "纬度",
                "开放时间", "服务内容", "联系电话", "功能室数量", "面积（㎡）"]


def write_points_xlsx(path: Path, df: pd.DataFrame, *, crs: str = "gcj02",
                      sheet: str = "阵地清单", title: bool = True, merged: bool = True,
                      swap: bool = False) -> Path:
    """The town's Excel sheet: title row, a two-row header with ``坐标`` merged over
    ``经度 | 纬度``, and the village merged over its positions' rows.  Data start in
    row 4 (with title and merged header) or row 2 (plain)."""
    lng, lat = to_crs_xy(df, crs)
    if swap:
        lng, lat = lat, lng
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    extra = wb.create_sheet("说明")
    extra["A1"] = "本表由镇党建办整理"
    row = 1
    if title:
        ws.cell(1, 1, "里水镇党群服务阵地一览表").font = Font(bold=True, size=16)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(POINT_HEADER))
        row = 2
    if merged:
        for j, h in enumerate(POINT_HEADER, start=1):
            if h in ("经度", "纬度"):
                ws.cell(row + 1, j, h)
            else:
                ws.cell(row, j, h)
                ws.merge_cells(start_row=row, start_column=j, end_row=row + 1, end_column=j)
        ws.cell(row, 7, "坐标")
        ws.merge_cells(start_row=row, start_column=7, end_row=row, end_column=8)
        first = row + 2
    else:
        for j, h in enumerate(POINT_HEADER, start=1):
            ws.cell(row, j, h)
        first = row + 1
    for i, r in enumerate(df.itertuples(index=False)):
        values = [i + 1, r.code, r.name, r.kind, r.region, r.address, float(lng[i]),
                  float(lat[i]), r.hours, r.services, r.phone, r.rooms, r.area]
        for j, v in enumerate(values, start=1):
            ws.cell(first + i, j, v)
    if merged:
        # merge the village column over runs of equal villages
        start = 0
        regions = list(df["region"])
        for i in range(1, len(regions) + 1):
            if i == len(regions) or regions[i] != regions[start]:
                if i - start > 1:
                    ws.merge_cells(start_row=first + start, start_column=5,
                                   end_row=first + i - 1, end_column=5)
                start = i
    wb.save(path)
    return path


def write_csv(path: Path, header: list[str], rows: list[list], *, encoding: str = "gbk",
              bom: bool = False) -> Path:
    """A CSV as Excel saves it (``gbk`` for 'CSV' in a Chinese Windows, or UTF-8)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    data = buf.getvalue().encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def points_csv(path: Path, df: pd.DataFrame, *, crs: str = "wgs84", encoding: str = "gbk",
               bom: bool = False, header: list[str] | None = None) -> Path:
    """Points as a CSV with Chinese headers."""
    lng, lat = to_crs_xy(df, crs)
    head = header or ["编码", "名称", "类型", "所属社区", "地址", "经度", "纬度", "开放时间",
                      "服务内容", "联系电话"]
    rows = [[r.code, r.name, r.kind, r.region, r.address, repr(float(lng[i])),
             repr(float(lat[i])), r.hours, r.services, r.phone]
            for i, r in enumerate(df.itertuples(index=False))]
    return write_csv(path, head, rows, encoding=encoding, bom=bom)


def write_shapefile_zip(path: Path, gdf: gpd.GeoDataFrame, *, encoding: str | None = "GBK",
                        prj: bool = True, cpg: bool = True) -> Path:
    """A zipped shapefile (.shp .shx .dbf [.prj] [.cpg]) in ``gdf``'s CRS."""
    tmp = path.parent / f"_{path.stem}_shp"
    tmp.mkdir(exist_ok=True)
    shp = tmp / f"{path.stem}.shp"
    kwargs = {"encoding": encoding} if encoding else {}
    pyogrio.write_dataframe(gdf, shp, driver="ESRI Shapefile", **kwargs)
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(tmp.iterdir()):
            if f.suffix == ".prj" and not prj:
                continue
            if f.suffix == ".cpg" and not cpg:
                continue
            z.write(f, f.name)
    return path


def grids_gdf(samples, *, epsg: int = CGCS2000_GK_117) -> gpd.GeoDataFrame:
    """Longteng grid cells as the surveying office delivers them: Chinese field names,
    CGCS2000 Gauss-Kruger metres."""
    g = samples["longteng"].grids.copy()
    out = gpd.GeoDataFrame({
        "网格编码": [f"SV-{c}" for c in g["code"]],
        "网格名称": g["name"].to_numpy(),
        "所属村居": g["region_code"].to_numpy(),
        "网格类型": ["基础网格" if k == "governance" else "党建网格" for k in g["kind"]],
        "网格员": g["workers"].to_numpy(),
        "党支部": ["有" if b else "无" for b in g["has_branch"]],
    }, geometry=g.geometry.to_numpy(), crs=4326)
    return out.to_crs(epsg)


def compounds_gdf(samples) -> gpd.GeoDataFrame:
    """Longteng compounds as a contractor's GeoJSON (WGS-84 geometry)."""
    c = samples["longteng"].compounds.head(12)
    return gpd.GeoDataFrame({
        "小区编码": [f"K-{x}" for x in c["code"]],
        "小区名称": [f"{n}（新）" for n in c["name"]],
        "所属社区": c["region_code"].to_numpy(),
        "户数": c["households"].to_numpy(),
        "常住人口": c["population"].to_numpy(),
    }, geometry=c.geometry.to_numpy(), crs=4326)


def write_geojson(path: Path, gdf: gpd.GeoDataFrame) -> Path:
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON")
    return path


def write_kml(path: Path, gdf: gpd.GeoDataFrame) -> Path:
    pyogrio.write_dataframe(gdf.to_crs(4326), path, driver="KML")
    return path


# ==========================================================================
# tests: reading
# ==========================================================================
def _points_score():
    return score_header("points")


def test_xlsx_title_row_two_row_header_and_merged_cells(tmp_path, samples):
    df = point_rows(samples, 20)
    path = write_points_xlsx(tmp_path / "阵地.xlsx", df)
    t = read_table(path, score_header=_points_score())
    assert t.format == "xlsx" and t.sheet == "阵地清单"
    assert t.header_rows == (2, 3)
    assert list(t.frame.columns) == POINT_HEADER
    assert list(t.row_numbers[:3]) == [4, 5, 6] and len(t.frame) == 20
    # merged village cells are filled on every row
    assert [cell_text(v) for v in t.frame["所属村居"]] == list(df["region"])
    assert t.frame["阵地编码"].tolist() == list(df["code"])


def test_xlsx_sheet_by_name_and_missing_sheet(tmp_path, samples):
    path = write_points_xlsx(tmp_path / "a.xlsx", point_rows(samples, 3), title=False,
                             merged=False)
    t = read_table(path, sheet="阵地清单", score_header=_points_score())
    assert t.header_rows == (1,) and list(t.row_numbers) == [2, 3, 4]
    with pytest.raises(TableError) as e:
        read_table(path, sheet="Sheet9")
    assert e.value.problem.kind == "sheet_not_found"
    assert "阵地清单" in e.value.problem.expected and "说明" in e.value.problem.expected


@pytest.mark.parametrize(("encoding", "bom", "expected"), [
    ("gbk", False, "gbk"), ("utf-8", False, "utf-8"), ("utf-8", True, "utf-8-sig"),
    ("gb18030", False, "gb18030"),
])
def test_csv_encodings_detected(tmp_path, samples, encoding, bom, expected):
    df = point_rows(samples, 5)
    if encoding == "gb18030":  # a character outside GBK (𠀀, CJK extension B)
        df.loc[0, "address"] = "里水镇𠀀路1号"
    path = points_csv(tmp_path / "p.csv", df, encoding=encoding, bom=bom)
    t = read_table(path, score_header=_points_score())
    assert t.encoding == expected
    assert t.frame["名称"].tolist() == list(df["name"])
    assert t.frame["地址"][0] == df["address"][0]


def test_detect_encoding_prefers_utf8_then_gbk():
    assert detect_encoding("名称".encode())[0] == "utf-8"
    assert detect_encoding("名称".encode("gbk")) == ("gbk", "名称")
    assert detect_encoding(b"\xef\xbb\xbfa,b") == ("utf-8-sig", "a,b")


def test_csv_semicolon_and_trailing_note_rows(tmp_path):
    text_ = "里水镇阵地表;;\n名称;经度;纬度\n甲;113.1;23.1\n乙;113.2;23.2\n;;\n合计：2个;;\n"
    p = tmp_path / "x.csv"
    p.write_text(text_, encoding="utf-8")
    t = read_table(p, score_header=_points_score())
    assert t.header_rows == (2,)
    assert t.frame["名称"].tolist() == ["甲", "乙"] and list(t.row_numbers) == [3, 4]
    assert any("合计" in n for n in t.notes)


def test_zipped_shapefile_with_cgcs2000_prj_and_gbk_cpg(tmp_path, samples):
    gdf = grids_gdf(samples)
    path = write_shapefile_zip(tmp_path / "grids.zip", gdf)
    t = read_table(path)
    assert t.format == "shapefile" and t.encoding == "GBK"
    assert t.file_crs is not None and t.file_crs.is_projected
    assert "China" in t.file_crs.geodetic_crs.datum.name
    assert t.frame["网格名称"].tolist() == list(gdf["网格名称"])
    assert len(t.geometry) == len(gdf)


def test_shapefile_without_cpg_is_read_as_gbk(tmp_path, samples):
    path = write_shapefile_zip(tmp_path / "nocpg.zip", grids_gdf(samples), cpg=False)
    t = read_table(path)
    assert t.encoding == "GB18030"
    assert "网格名称" in t.frame.columns
    assert any(".cpg" in n for n in t.notes)


def test_geojson_kml_and_geopackage(tmp_path, samples):
    gdf = compounds_gdf(samples)
    gj = read_table(write_geojson(tmp_path / "c.geojson", gdf))
    assert gj.format == "geojson" and gj.file_crs.to_epsg() == 4326
    assert gj.frame["小区名称"].tolist() == list(gdf["小区名称"])
    assert gj.row_word == "个要素" and list(gj.row_numbers[:2]) == [1, 2]
    pts = gpd.GeoDataFrame({"Name": ["甲", "乙"]}, geometry=[shapely.Point(113.1, 23.1),
                                                             shapely.Point(113.2, 23.2)], crs=4326)
    kml = read_table(write_kml(tmp_path / "p.kml", pts))
    assert kml.format == "kml" and kml.frame["Name"].tolist() == ["甲", "乙"]
    gp = tmp_path / "c.gpkg"
    pyogrio.write_dataframe(gdf, gp, layer="compounds")
    pyogrio.write_dataframe(gdf.head(2), gp, layer="other")
    t = read_table(gp)
    assert t.sheet == "compounds" and len(t.frame) == len(gdf) and t.notes
    assert len(read_table(gp, sheet="other").frame) == 2


def test_unsupported_and_corrupt_files(tmp_path):
    (tmp_path / "a.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(TableError) as e:
        read_table(tmp_path / "a.xls")
    assert e.value.problem.kind == "unsupported_format" and ".xlsx" in e.value.problem.message
    (tmp_path / "b.xlsx").write_bytes(b"not a zip")
    with pytest.raises(TableError) as e:
        read_table(tmp_path / "b.xlsx")
    assert e.value.problem.kind == "unreadable_file"
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as z:
        z.writestr("readme.txt", "no shapefile here")
    with pytest.raises(TableError) as e:
        read_table(tmp_path / "c.zip")
    assert e.value.problem.kind == "no_shapefile_in_zip"


# ==========================================================================
# tests: columns
# ==========================================================================
def test_aliases_map_chinese_and_english_headers():
    m = map_columns(["序号", "阵地名称", "类型", "所属社区", "lng", "LAT", "开放时间",
                     "服务内容", "联系电话", "面积（㎡）", "备注"], "points")
    assert m.fields == {"name": "阵地名称", "kind": "类型", "region": "所属社区", "lng": "lng",
                        "lat": "LAT", "hours": "开放时间", "services": "服务内容",
                        "phone": "联系电话", "floor_area_m2": "面积（㎡）"}
    assert m.unused == ["备注"] and m.ignored == ["序号"]
    assert all(e["via"] == "alias" for e in m.entries)
    assert normalize_label("经度（GCJ-02）") == "经度"


def test_two_columns_for_one_field_is_a_problem():
    m = map_columns(["名称", "阵地名称", "经度", "纬度"], "points", file="f.csv")
    assert [p.kind for p in m.problems] == ["duplicate_column"]
    assert m.problems[0].column == "阵地名称" and "名称" in m.problems[0].message


def test_mapping_file_toml_and_json(tmp_path):
    toml = tmp_path / "m.toml"
    toml.write_text('crs = "bd09"\n[columns]\n"站点" = "name"\n"X坐标" = "lng"\n'
                    '"填报人" = "ignore"\n[defaults]\nkind = "党群服务站"\n', encoding="utf-8")
    mapping, problems = load_mapping(toml, "points")
    assert not problems and mapping.crs == "bd09" and mapping.defaults == {"kind": "党群服务站"}
    m = map_columns(["站点", "X坐标", "Y坐标", "填报人"], "points", mapping)
    assert m.fields == {"name": "站点", "lng": "X坐标", "lat": "Y坐标"}
    assert [e["via"] for e in m.entries] == ["mapping", "mapping", "alias"]
    assert m.ignored == ["填报人"]
    js = tmp_path / "m.json"
    js.write_text(json.dumps({"columns": {"站点": "nom"}}), encoding="utf-8")
    mapping, problems = load_mapping(js, "points")
    assert mapping is None and problems[0].kind == "invalid_mapping_file"
    assert "nom" in problems[0].message and "name" in problems[0].expected


def test_crs_hint_from_header():
    assert crs_hint("经度（百度）") == "bd09"
    assert crs_hint("纬度(高德)") == "gcj02"
    assert crs_hint("经度") is None


def test_cgcs2000_gauss_kruger_round_trip_through_proj():
    # the GK zone used by the shapefile fixture unprojects onto CGCS2000 lng/lat
    c = pyproj.CRS.from_epsg(CGCS2000_GK_117)
    tr = pyproj.Transformer.from_crs(4490, c, always_xy=True)
    back = pyproj.Transformer.from_crs(c, c.geodetic_crs, always_xy=True)
    x, y = tr.transform(116.7, 23.35)
    lng, lat = back.transform(x, y)
    assert abs(lng - 116.7) < 1e-9 and abs(lat - 23.35) < 1e-9
