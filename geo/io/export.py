"""Exporting tables back to planners' formats: CSV, XLSX, GeoJSON, GeoPackage.

:func:`export_layer` writes one layer of the database to a file, in the
coordinate system the planner asks for.  Headers are the Chinese column names
the importer recognises (``编码``, ``名称``, ``类型``, ``经度``, ``纬度`` ...), and
kinds and services are written as their Chinese labels, so an exported file
can be edited in Excel and imported again: re-importing an unedited export
reports every row unchanged (see :mod:`geo.io.importer`).

Layers
------
``points``, ``regions``, ``grids``, ``compounds``, ``buildings``, ``branches``
    The tables of the same name (soft-deleted rows left out).  Personal data
    (``private`` columns) is never exported.
``coverage``
    One row per residential compound: households, population, whether a party
    branch covers it (``branch_compounds``) and which, and - when service
    circles are stored - whether its representative point (``ST_PointOnSurface``)
    lies in a stored service circle of at most ``minutes`` minutes.
``coverage-summary``
    One row per region (town and village) with compounds, compounds covered
    by a branch and the coverage ratio.  The ratio is given exactly
    (``覆盖率``, a fraction) and as a percentage rounded half-up to two
    decimals (``覆盖率%``, :func:`geo.coverage.percent`): 32 of 36 compounds is
    0.8889 and ``88.89``, where the published Longteng figure (88.88 %) truncates.

Coordinates
-----------
Stored geometries are WGS-84.  ``crs`` selects the output: ``wgs84``,
``cgcs2000`` (identical coordinates, labelled EPSG:4490 in GIS files),
``gcj02`` or ``bd09`` (converted with :mod:`geo.crs`; GIS files label them
EPSG:4326 because these systems have no EPSG code - say so to the recipient).
Points get ``经度``/``纬度`` columns in CSV/XLSX; polygons get a ``几何(WKT)``
column (empty in XLSX where the text exceeds Excel's 32,767-character cell
limit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo import crs as crsmod
from geo.entities import Entity, Field
from geo.entities import entity as entity_of
from geo.errors import InvalidInput, Problem
from geo.io.sheets import Sheet, csv_bytes, xlsx_bytes
from geo.vocab import GRID_KIND_ZH, LEVEL_ZH, POINT_KIND_ZH, SERVICE_ZH, PointKind, Service

__all__ = ["EXPORT_FORMATS", "EXPORT_LAYERS", "ExportResult", "export_layer", "read_layer"]

#: Layers :func:`export_layer` can write.
EXPORT_LAYERS: tuple[str, ...] = ("points", "regions", "grids", "compounds", "buildings",
                                  "branches", "coverage", "coverage-summary")
#: Output formats, by canonical name.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "geojson", "gpkg")
_EXT = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson",
        ".gpkg": "gpkg"}
_XLSX_CELL_MAX = 32767
WKT_HEADER = "几何(WKT)"


@dataclass
class ExportResult:
    """What :func:`export_layer` wrote.

    Attributes
    ----------
    path : str
        File written.
    layer, format, crs : str
        Layer, output format and output coordinate system.
    rows : int
        Rows (features) written.
    columns : list of str
        Column headers written.
    notes : list of str
        Remarks for the user (Chinese).
    """

    path: str
    layer: str
    format: str
    crs: str
    rows: int
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return dict(self.__dict__)


def _invalid(message: str, value: Any, expected: str) -> InvalidInput:
    return InvalidInput(message, [Problem(message=message, value=value, expected=expected)])


def _region_filter(alias: str) -> str:
    return f"(CAST(:region AS text) IS NULL OR {alias}.region_code LIKE :region || '%')"


def _frame(conn: Connection, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    rows = conn.execute(text(sql), params).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows])
    if df.empty:
        cols = list(conn.execute(text(sql), params).keys())
        df = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    geoms = [None if g is None else shapely.from_wkb(bytes(g)) for g in df.pop("g")] \
        if "g" in df.columns else None
    return gpd.GeoDataFrame(df, geometry=geoms if geoms is not None else [None] * len(df),
                            crs=4326)


def _zh_kind(v: str | None) -> str | None:
    if v is None:
        return None
    try:
        return POINT_KIND_ZH[PointKind(v)]
    except ValueError:
        return v


def _zh_services(v: list[str] | None) -> str:
    out = []
    for s in v or []:
        try:
            out.append(SERVICE_ZH[Service(s)])
        except ValueError:
            out.append(s)
    return "、".join(out)


def _pct(num: int, den: int) -> str | None:
    """Percentage rounded half-up to two decimals, with :func:`geo.coverage.percent`."""
    from geo.coverage import percent

    p = percent(num, den, rounding="half_up", decimals=2)
    return None if p is None else str(p)


#: Layers that are an entity's table (the rest are coverage views).
_ENTITY_LAYERS = ("points", "regions", "grids", "compounds", "buildings", "branches")
#: Kinds of fields that are not columns of an export (a file's geometry columns,
#: structured hours written as their text, personal data: never exported).
_NOT_EXPORTED = frozenset({"lng", "lat", "lnglat", "wkt", "hours", "private"})


def _export_fields(e: Entity) -> list[Field]:
    return [f for f in e.fields if f.kind not in _NOT_EXPORTED]


def _zh_value(f: Field, v: Any) -> Any:
    """A stored value as a planner's file writes it (Chinese labels, 是/否, 、-lists)."""
    if f.kind == "point_kind":
        return _zh_kind(v)
    if f.kind == "grid_kind":
        return GRID_KIND_ZH.get(v, v)
    if f.kind == "level":
        return LEVEL_ZH.get(v, v)
    if f.kind == "services":
        return _zh_services(v)
    if f.kind == "bool":
        return "是" if v else "否"
    if f.kind == "compounds":
        return "、".join(v or [])
    return v


def _entity_layer(conn: Connection, e: Entity, region: str | None
                  ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """An entity's live rows with the registry's Chinese headers (:attr:`Field.label`),
    in registry order; a point's village name follows its village code."""
    fields = _export_fields(e)
    cols = [f"t.{f.column}" for f in fields if f.column]
    joins, where = "", []
    if e.has("hours_text"):
        cols.append("t.hours")
    if e.region == "column":
        joins += " LEFT JOIN regions r ON r.code = t.region_code"
        cols.append("r.name AS region_name")
        where.append(_region_filter("t"))
    elif e.region == "compound":
        joins += " LEFT JOIN compounds c ON c.code = t.compound_code"
        # a building's region: its compound's, else the village its footprint lies in
        where.append("(CAST(:region AS text) IS NULL OR c.region_code LIKE :region || '%' "
                     "OR (c.code IS NULL AND EXISTS (SELECT 1 FROM regions r "
                     "WHERE r.code LIKE :region || '%' AND r.level = 'village' "
                     "AND ST_Contains(r.geom, ST_PointOnSurface(t.geom)))))")
    else:
        where.append("(CAST(:region AS text) IS NULL OR t.code LIKE :region || '%')")
    if e.has("compound_codes"):
        cols.append("coalesce((SELECT array_agg(bc.compound_code ORDER BY bc.compound_code) "
                    "FROM branch_compounds bc WHERE bc.branch_code = t.code), '{}') "
                    "AS compound_codes")
    if e.soft_delete:
        where.append("t.deleted_at IS NULL")
    if e.geometry:
        cols.append("ST_AsBinary(t.geom) AS g")
    df = _frame(conn, f"SELECT {', '.join(cols)} FROM \"{e.table}\" t{joins} "
                      f"WHERE {' AND '.join(where)} ORDER BY t.code", {"region": region})
    out: dict[str, Any] = {}
    for f in fields:
        values = df[f.name]
        if f.kind == "hours_text":  # the text as given, else the text of structured hours
            values = [t if t is not None else (h or {}).get("text")
                      for t, h in zip(df["hours_text"], df["hours"], strict=True)]
        out[f.label] = [_zh_value(f, v) for v in values]
        if f.name == "region_code" and e.name == "point":
            out["所属村居名称"] = df["region_name"]
    return df, pd.DataFrame(out)


def read_layer(conn: Connection, layer: str, *, region: str | None = None,
               minutes: float = 10.0) -> tuple[gpd.GeoDataFrame, list[str]]:
    """One layer as a GeoDataFrame with the importer's Chinese headers (WGS-84).

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        Database connection.
    layer : str
        One of :data:`EXPORT_LAYERS`.
    region : str, optional
        Division-code prefix: ``440605126`` keeps Lishui and its villages.
    minutes : float, optional
        Service-circle budget for ``coverage`` (circles of at most this many
        minutes count), minutes.

    Returns
    -------
    frame : geopandas.GeoDataFrame
        EPSG:4326; ``geometry`` all ``None`` for layers without geometry.
    notes : list of str
        Remarks (Chinese).

    Raises
    ------
    geo.errors.InvalidInput
        For an unknown layer.
    """
    if layer not in EXPORT_LAYERS:
        raise _invalid(f"不能导出“{layer}”", layer, "、".join(EXPORT_LAYERS))
    p = {"region": region}
    notes: list[str] = []
    if layer in _ENTITY_LAYERS:
        df, out = _entity_layer(conn, entity_of(layer), region)
    elif layer == "coverage":
        has_circles = conn.execute(text(
            "SELECT EXISTS (SELECT 1 FROM service_circles WHERE minutes <= :m)"),
            {"m": minutes}).scalar_one()
        df = _frame(conn, f"""
            SELECT c.code, c.name, c.region_code, c.households, c.population,
                   coalesce(array_agg(DISTINCT bc.branch_code)
                            FILTER (WHERE bc.branch_code IS NOT NULL), '{{}}') AS branches,
                   EXISTS (SELECT 1 FROM service_circles s WHERE s.minutes <= :m
                           AND ST_Covers(s.geom, ST_PointOnSurface(c.geom))) AS in_circle,
                   ST_AsBinary(c.geom) AS g
            FROM compounds c
            LEFT JOIN branch_compounds bc ON bc.compound_code = c.code
            LEFT JOIN party_branches pb ON pb.code = bc.branch_code AND pb.deleted_at IS NULL
            WHERE c.deleted_at IS NULL AND {_region_filter('c')}
            GROUP BY c.code, c.name, c.region_code, c.households, c.population, c.geom
            ORDER BY c.code""", {**p, "m": minutes})
        out = pd.DataFrame({"小区编码": df["code"], "小区名称": df["name"],
                            "所属村居": df["region_code"], "户数": df["households"],
                            "人口": df["population"],
                            "有党支部覆盖": ["是" if b else "否" for b in df["branches"]],
                            "覆盖支部": ["、".join(b or []) for b in df["branches"]]})
        if has_circles:
            out[f"在{minutes:g}分钟服务圈内"] = ["是" if v else "否" for v in df["in_circle"]]
        else:
            notes.append("数据库中还没有服务圈，未输出服务圈覆盖列")
    else:  # coverage-summary
        rows = conn.execute(text("""
            WITH cov AS (
                SELECT c.code, c.region_code,
                       EXISTS (SELECT 1 FROM branch_compounds bc JOIN party_branches pb
                               ON pb.code = bc.branch_code AND pb.deleted_at IS NULL
                               WHERE bc.compound_code = c.code) AS covered
                FROM compounds c WHERE c.deleted_at IS NULL AND c.region_code IS NOT NULL)
            SELECT r.code, r.name, r.level, count(cov.code) AS total,
                   count(cov.code) FILTER (WHERE cov.covered) AS covered
            FROM regions r JOIN cov ON cov.region_code LIKE r.code || '%'
            WHERE (CAST(:region AS text) IS NULL OR r.code LIKE :region || '%')
            GROUP BY r.code, r.name, r.level ORDER BY r.code"""), p).all()
        out = pd.DataFrame({
            "区划代码": [r.code for r in rows], "名称": [r.name for r in rows],
            "级别": [LEVEL_ZH.get(r.level, r.level) for r in rows],
            "小区数": [r.total for r in rows], "党支部覆盖小区数": [r.covered for r in rows],
            "覆盖率": [r.covered / r.total if r.total else None for r in rows],
            "覆盖率%": [_pct(r.covered, r.total) for r in rows]})
        return gpd.GeoDataFrame(out, geometry=[None] * len(out), crs=4326), notes
    return gpd.GeoDataFrame(out, geometry=df.geometry.to_numpy(), crs=4326), notes


def export_layer(conn: Connection, layer: str, path: str | Path, *, fmt: str | None = None,
                 crs: str = "wgs84", region: str | None = None, encoding: str = "utf-8-sig",
                 minutes: float = 10.0) -> ExportResult:
    """Write a layer to CSV, XLSX, GeoJSON or GeoPackage.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        Database connection (read only).
    layer : str
        One of :data:`EXPORT_LAYERS`.
    path : str or pathlib.Path
        Output file; its extension gives the format unless ``fmt`` is given.
    fmt : str, optional
        ``csv``, ``xlsx``, ``geojson`` or ``gpkg``.
    crs : str, optional
        Output coordinate system: ``wgs84`` (default), ``cgcs2000``, ``gcj02`` or
        ``bd09``; coordinates are longitude/latitude in degrees.
    region : str, optional
        Division-code prefix (``440605126``: Lishui and its villages).
    encoding : str, optional
        CSV text encoding: ``utf-8-sig`` (default, opens in Excel) or ``gbk``.
    minutes : float, optional
        Service-circle budget of the ``coverage`` layer, minutes.

    Returns
    -------
    ExportResult
        Path, format, rows and notes.

    Raises
    ------
    geo.errors.InvalidInput
        Unknown layer, format or CRS; a layer without geometry to a GIS format.
    """
    path = Path(path)
    fmt = (fmt or _EXT.get(path.suffix.lower()) or "").lower()
    if fmt not in EXPORT_FORMATS:
        raise _invalid(f"不支持的导出格式“{fmt or path.suffix}”", fmt or path.suffix,
                       "、".join(EXPORT_FORMATS))
    try:
        out_crs = crsmod.normalize_crs_name(crs)
    except ValueError:
        raise _invalid(f"不认识的坐标系“{crs}”", crs, "wgs84、gcj02、bd09 或 cgcs2000") from None
    gdf, notes = read_layer(conn, layer, region=region, minutes=minutes)
    has_geom = bool(len(gdf)) and bool(gdf.geometry.notna().any())
    no_geom_layer = layer == "coverage-summary" or (
        layer in _ENTITY_LAYERS and entity_of(layer).geometry is None)
    if fmt in ("geojson", "gpkg") and no_geom_layer:
        raise _invalid(f"“{layer}”没有几何图形，只能导出为 CSV 或 XLSX", fmt, "csv 或 xlsx")
    geoms = gdf.geometry.to_numpy()
    present = np.array([g is not None for g in geoms], dtype=bool)
    if has_geom and out_crs in ("gcj02", "bd09") and present.any():
        geoms = geoms.copy()
        geoms[present] = crsmod.transform_geometry(geoms[present], "wgs84", out_crs)
        if fmt in ("geojson", "gpkg"):
            notes.append(f"{out_crs.upper()} 没有 EPSG 代码，文件中标注为 EPSG:4326；"
                         "使用时请按该坐标系处理")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("geojson", "gpkg"):
        label = 4490 if out_crs == "cgcs2000" else 4326
        out = gpd.GeoDataFrame(pd.DataFrame(gdf.drop(columns="geometry")), geometry=list(geoms),
                               crs=label)
        if path.exists():
            path.unlink()
        driver = "GeoJSON" if fmt == "geojson" else "GPKG"
        kwargs: dict[str, Any] = {"layer": layer.replace("-", "_")} if fmt == "gpkg" else {}
        out.to_file(path, driver=driver, engine="pyogrio", **kwargs)
        columns = list(out.columns.drop("geometry"))
        return ExportResult(str(path), layer, fmt, out_crs, len(out), columns, notes)
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    if not no_geom_layer:
        if layer == "points":
            x = np.array([g.x if g is not None else math.nan for g in geoms])
            y = np.array([g.y if g is not None else math.nan for g in geoms])
            pos = table.columns.get_loc("地址") + 1
            table.insert(pos, "经度", x)
            table.insert(pos + 1, "纬度", y)
        else:
            wkt = [None if g is None else shapely.to_wkt(g, rounding_precision=-1) for g in geoms]
            if fmt == "xlsx":
                too_long = sum(1 for w in wkt if w is not None and len(w) > _XLSX_CELL_MAX)
                if too_long:
                    notes.append(f"{too_long} 个几何图形超出 Excel 单元格长度，WKT 留空；"
                                 "请改用 GeoPackage 或 GeoJSON")
                wkt = [w if w is None or len(w) <= _XLSX_CELL_MAX else None for w in wkt]
            table[WKT_HEADER] = wkt
    sheet = Sheet(layer[:31], table.to_dict("records"), columns=list(table.columns))
    if fmt == "csv":
        path.write_bytes(csv_bytes([sheet], encoding=encoding, newline="\n"))
    else:
        path.write_bytes(xlsx_bytes([sheet]))
    return ExportResult(str(path), layer, fmt, out_crs, len(table), list(table.columns), notes)
