"""Geometry of a file's rows: the coordinate system (declared, mapped, hinted
by a header or assumed), points from longitude/latitude columns or a GIS
file, polygons from a GIS file or WKT, their checks and repairs, and points
sitting on top of each other."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import text

from geo import crs as crsmod
from geo import rules
from geo.errors import Problem
from geo.io.columns import crs_hint
from geo.io.importer.cells import fmt_value
from geo.io.importer.run import Run
from geo.rules import LAT_RANGE, LNG_RANGE, number_from_text, parse_numbers
from geo.vocab import CRS_ZH

__all__ = ["OVERLAP_DISTANCE_M", "classify_file_crs", "file_polygons", "overlaps",
           "point_geometry", "polygonal", "resolve_crs"]

#: Points closer than this (metres) are reported as sitting on top of each other.
OVERLAP_DISTANCE_M = 5.0


def classify_file_crs(c: pyproj.CRS) -> tuple[str | None, bool]:
    """``(name of the geographic system, approximate)`` for a declared CRS."""
    geo = c.geodetic_crs if c.is_projected or c.is_compound else c
    if geo is None:
        return None, True
    epsg = geo.to_epsg(min_confidence=70)
    if epsg == 4326:
        return "wgs84", False
    if epsg == 4490:
        return "cgcs2000", False
    datum = (geo.datum.name if geo.datum else "").lower().replace("_", " ")
    if "china 2000" in datum or "cgcs" in datum:
        return "cgcs2000", False
    if "world geodetic system 1984" in datum or "wgs 1984" in datum or "wgs84" in datum:
        return "wgs84", False
    return None, True


def _to_lnglat(geoms: np.ndarray, c: pyproj.CRS) -> np.ndarray:
    """Geometries from ``c`` to geographic lng/lat of its own datum (or WGS-84)."""
    name, approx = classify_file_crs(c)
    target = c.geodetic_crs if (name and (c.is_projected or c.is_compound)) else None
    if name is None or approx:
        target = pyproj.CRS.from_epsg(4326)
    if target is None:
        return geoms
    tr = pyproj.Transformer.from_crs(c, target, always_xy=True)

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def resolve_crs(run: Run, requested: str | None) -> str:
    """Decide the input coordinate system; records how in the report."""
    rep = run.report
    raw = run.raw
    hints = {}
    for fld in ("lng", "lat", "lnglat"):
        col = run.cmap.fields.get(fld)
        if col:
            h = crs_hint(col)
            if h:
                hints[col] = h
    mapping_crs = run.mapping.crs if run.mapping else None
    if raw.file_crs is not None and raw.geometry is not None:
        name, approx = classify_file_crs(raw.file_crs)
        declared = raw.file_crs.to_string()
        if approx:
            run.warn(None, None, "datum_approximate",
                     f"{raw.file} 的坐标系 {raw.file_crs.name} 不是 WGS-84/CGCS2000，"
                     "已用 PROJ 近似转换为 WGS-84（误差可能达数十米）", value=declared)
            name = "wgs84"
        is_plain_4326 = raw.file_crs.to_epsg(min_confidence=70) == 4326
        same_datum = {requested, name} <= {"wgs84", "cgcs2000"}
        if requested and requested != name and not same_datum:
            if is_plain_4326 or (raw.format in ("geojson", "kml")):
                rep.crs, rep.crs_source = requested, "--crs"
                return requested
            run.report.errors.append(Problem(
                message=f"{raw.file} 声明的坐标系是 {raw.file_crs.name}"
                        f"（{CRS_ZH.get(name or '', name)}），"
                        f"与 --crs {requested} 矛盾",
                file=raw.file, sheet=raw.sheet, value=requested,
                expected=f"不指定 --crs，或指定 --crs {name}", kind="crs_conflict"))
            rep.crs, rep.crs_source = name, "file"
            return name or "wgs84"
        rep.crs, rep.crs_source = name, "file"
        return name or "wgs84"
    if requested:
        for col, h in hints.items():
            if h != requested:
                run.warn(None, col, "crs_hint_conflict",
                         f"的列名表明坐标系是 {CRS_ZH[h]}，但指定了 --crs {requested}；"
                         "已按 --crs 处理",
                         value=col)
        rep.crs, rep.crs_source = requested, "--crs"
        return requested
    if mapping_crs:
        rep.crs, rep.crs_source = mapping_crs, "mapping"
        return mapping_crs
    if hints:
        distinct = set(hints.values())
        if len(distinct) == 1:
            name = distinct.pop()
            rep.crs, rep.crs_source = name, "header"
            col = next(iter(hints))
            run.warn(None, col, "crs_from_header",
                     f"的列名表明坐标系是 {CRS_ZH[name]}，已按此转换",
                     value=col)
            return name
    rep.crs, rep.crs_source = "wgs84", "default"
    if run.spec.geometry == "Point" or raw.geometry is not None or run.has("wkt"):
        run.warn(None, None, "crs_assumed",
                 f"{raw.file} 未说明坐标系，已按 WGS-84 处理；"
                 "坐标取自高德/腾讯地图请加 --crs gcj02，"
                 "取自百度地图请加 --crs bd09", expected="--crs wgs84|gcj02|bd09|cgcs2000")
    return "wgs84"


_REASON_ZH = (
    ("Ring Self-intersection", "环自相交"),
    ("Self-intersection", "边自相交"),
    ("Too few points", "点数太少"),
    ("Hole lies outside shell", "内环（洞）在外环之外"),
    ("Nested holes", "内环相互嵌套"),
    ("Interior is disconnected", "内部不连通"),
    ("Nested shells", "外环相互嵌套"),
    ("Invalid Coordinate", "坐标无效"),
    ("Duplicate Rings", "环重复"),
    ("Ring is not closed", "环不闭合"),
)


def _reason_zh(reason: str) -> tuple[str, str | None]:
    m = re.match(r"^(.*?)\[([-\d.eE+]+)\s+([-\d.eE+]+)\]$", reason.strip())
    what, loc = (m.group(1), f"{float(m.group(2)):.7g}, {float(m.group(3)):.7g}") if m else \
        (reason, None)
    for en, zh in _REASON_ZH:
        if what.startswith(en):
            return f"{zh}（{what}）", loc
    return what, loc


def polygonal(g: Any) -> Any:
    """Only the polygonal parts of a geometry, as a MultiPolygon (or None)."""
    parts = shapely.get_parts(g)
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return None
    flat: list[Any] = []
    for p in polys:
        flat.extend(shapely.get_parts(p) if p.geom_type == "MultiPolygon" else [p])
    return shapely.MultiPolygon(flat)


def _check_polygons(run: Run, geoms: np.ndarray, column: str | None, *, required: bool,
                    skip: np.ndarray) -> np.ndarray:
    """Type, emptiness and validity of polygons in file coordinates; returns a repaired copy.

    ``skip`` marks rows already reported (unparsable WKT); without ``required``
    a missing geometry is fine.
    """
    out = geoms.copy()
    type_ids = shapely.get_type_id(out)
    missing = (type_ids < 0) | shapely.is_empty(out)
    if required:
        for i in np.flatnonzero(missing & ~skip):
            run.error(int(i), column, "missing_geometry", "没有几何图形",
                      expected="面（Polygon/MultiPolygon）")
    wrong = ~missing & ~np.isin(type_ids, (3, 6))
    for i in np.flatnonzero(wrong):
        run.error(int(i), column, "wrong_geometry_type",
                  f"的几何类型是 {out[i].geom_type}，不是面", value=out[i].geom_type,
                  expected="面（Polygon/MultiPolygon）")
    ok = ~missing & ~wrong
    if ok.any() and shapely.has_z(out[ok]).any():
        out[ok] = shapely.force_2d(out[ok])
    valid = np.ones(len(out), dtype=bool)
    if ok.any():
        valid[ok] = shapely.is_valid(out[ok])
    bad_idx = np.flatnonzero(~valid)
    if bad_idx.size:
        reasons = shapely.is_valid_reason(out[bad_idx])
        for i, reason in zip(bad_idx, reasons, strict=True):
            what, loc = _reason_zh(str(reason))
            where = f"，位置约在 {loc}（文件坐标）" if loc else ""
            if run.opts.make_valid:
                fixed = polygonal(shapely.make_valid(out[i]))
                if fixed is None or fixed.is_empty:
                    run.error(int(i), column, "invalid_geometry",
                              f"的几何图形无效：{what}{where}，修复后为空", value=str(reason),
                              expected="有效的面")
                    continue
                out[i] = fixed
                run.warn(int(i), column, "geometry_repaired",
                         f"的几何图形无效：{what}{where}；已按 --make-valid 修复",
                         value=str(reason))
            else:
                run.error(int(i), column, "invalid_geometry", f"的几何图形无效：{what}{where}",
                          value=str(reason), expected="有效的面（或加 --make-valid 自动修复）")
    return out


def _check_polygon_range(run: Run, geoms: np.ndarray, column: str | None) -> None:
    idx = np.flatnonzero(~run.bad & (shapely.get_type_id(geoms) >= 0))
    if not idx.size:
        return
    b = shapely.bounds(geoms[idx])
    area = run.area
    out = ~area.contains_bounds(b)
    for k in np.flatnonzero(out):
        i = int(idx[k])
        run.error(i, column, "coordinates_out_of_range",
                  f"的坐标范围 ({b[k, 0]:.6g}, {b[k, 1]:.6g})–({b[k, 2]:.6g}, {b[k, 3]:.6g}) "
                  f"超出{area.name_zh()}经纬度范围", value=f"{b[k, 0]:.6g},{b[k, 1]:.6g}",
                  expected=f"{area.expected_zh()}（投影坐标的文件需带 .prj）")


def _file_not_lnglat(run: Run, geoms: np.ndarray) -> bool:
    """File-level error when a file without CRS holds obviously projected coordinates."""
    present = geoms[shapely.get_type_id(geoms) >= 0]
    if not len(present):
        return False
    b = shapely.bounds(present)
    big = (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
    if big.mean() < 0.5:
        return False
    k = int(np.flatnonzero(big)[0])
    run.report.errors.append(Problem(
        message=f"{run.raw.file} 的坐标（如 {b[k, 0]:.1f}, {b[k, 1]:.1f}）不是经纬度，"
                "像是投影坐标，"
                "但文件没有说明坐标系（缺少 .prj）",
        file=run.raw.file, sheet=run.raw.sheet, value=f"{b[k, 0]:.1f},{b[k, 1]:.1f}",
        expected="经纬度坐标，或随 Shapefile 提供 .prj 文件", kind="not_lnglat"))
    return True


def point_geometry(run: Run, in_crs: str) -> np.ndarray:
    """WGS-84 points from lng/lat (or lnglat) columns, or from the file's point geometry."""
    n = run.n
    lng = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if run.raw.geometry is not None and not (run.has("lng") or run.has("lnglat")):
        g = run.raw.geometry
        tid = shapely.get_type_id(g)
        empty = (tid < 0) | shapely.is_empty(g)
        for i in np.flatnonzero(empty):
            run.error(int(i), None, "missing_geometry", "没有几何图形（点坐标）",
                      expected="点（Point）")
        single_multi = ~empty & (tid == 4) & (shapely.get_num_geometries(g) == 1)
        for i in np.flatnonzero(~empty & (tid != 0) & ~single_multi):
            run.error(int(i), None, "wrong_geometry_type", f"的几何类型是 {g[i].geom_type}，不是点",
                      value=g[i].geom_type, expected="点（Point）")
        ok = ~empty & ((tid == 0) | single_multi)
        pts = g.copy()
        if single_multi.any():
            pts[single_multi] = shapely.get_geometry(g[single_multi], 0)
        c = run.raw.file_crs
        if c is None and _file_not_lnglat(run, pts[ok]):
            return np.full(n, None, dtype=object)
        if c is not None and ok.any() and (c.is_projected or classify_file_crs(c)[1]):
            pts[ok] = _to_lnglat(pts[ok], c)
        lng[ok] = shapely.get_x(pts[ok])
        lat[ok] = shapely.get_y(pts[ok])
        cols: tuple[str | None, str | None] = (None, None)
    elif run.has("lnglat") and not run.has("lng"):
        col = run.column_name("lnglat")
        vals = run.texts("lnglat")
        assert vals is not None
        for i, v in enumerate(vals):
            if v is None:
                run.error(i, col, "missing_value", "经纬度为空",
                          expected="“经度,纬度”，如 113.1234,23.1234")
                continue
            parts = [p for p in re.split(r"[,，;；\s]+", unicodedata.normalize("NFKC", v)) if p]
            nums = [number_from_text(p) for p in parts]
            if len(parts) != 2 or any(x is None for x in nums):
                run.error(i, col, "invalid_lnglat", f"的值 '{fmt_value(v)}' 不是“经度,纬度”",
                          value=v,
                          expected="“经度,纬度”，如 113.1234,23.1234")
                continue
            lng[i], lat[i] = nums[0], nums[1]  # type: ignore[assignment]
        cols = (col, col)
    else:
        out = []
        for fld, label, rng in (("lng", "经度", LNG_RANGE), ("lat", "纬度", LAT_RANGE)):
            s = run.series(fld)
            assert s is not None
            col = run.column_name(fld)
            vals, empty, bad = parse_numbers(s)
            raw_vals = s.tolist()
            for i in np.flatnonzero(empty):
                run.error(int(i), col, "missing_value", f"{label}为空",
                          expected=f"{rng[0]}–{rng[1]} 之间的{label}")
            for i in np.flatnonzero(bad):
                run.error(int(i), col, "not_a_number", f"的值 '{fmt_value(raw_vals[i])}' 不是数字",
                          value=raw_vals[i], expected=f"{rng[0]}–{rng[1]} 之间的{label}")
            out.append(vals)
        lng, lat = out
        cols = (run.column_name("lng"), run.column_name("lat"))
    # swapped and out of range (in the input system, before conversion)
    finite = np.isfinite(lng) & np.isfinite(lat)
    area = run.area
    swapped = finite & area.swapped(lng, lat)
    for i in np.flatnonzero(swapped):
        shown = f"经度 {lng[i]:g}、纬度 {lat[i]:g}"
        if run.opts.fix_swapped:
            run.warn(int(i), None, "swapped_fixed",
                     f"的经纬度填反了（{shown}），已按 --fix-swapped 交换",
                     value=f"{lng[i]:g},{lat[i]:g}")
        else:
            run.error(int(i), None, "swapped_lnglat",
                      f"的经纬度似乎填反了（{shown}）", value=f"{lng[i]:g},{lat[i]:g}",
                      expected="经度在前、纬度在后；或加 --fix-swapped 自动交换")
    if run.opts.fix_swapped and swapped.any():
        lng[swapped], lat[swapped] = lat[swapped].copy(), lng[swapped].copy()
    check = finite & (~swapped | run.opts.fix_swapped)
    if area.is_china:
        for vals, (lo, hi), col, label, kind in (
                (lng, LNG_RANGE, cols[0], "经度", "lng_out_of_range"),
                (lat, LAT_RANGE, cols[1], "纬度", "lat_out_of_range")):
            for i in np.flatnonzero(check & ((vals < lo) | (vals > hi))):
                run.error(int(i), col, kind, f"的{label} {vals[i]:g} 超出中国范围",
                          value=float(vals[i]),
                          expected=f"{lo}–{hi} 之间的{label}")
    else:
        for i in np.flatnonzero(check & ~area.contains(lng, lat)):
            run.error(int(i), cols[0], "coordinates_out_of_range",
                      f"的坐标（经度 {lng[i]:g}、纬度 {lat[i]:g}）超出工作范围",
                      value=f"{lng[i]:g},{lat[i]:g}", expected=area.expected_zh())
    # GCJ-02 and BD-09 exist only in China: a point outside it cannot be one
    if crsmod.normalize_crs_name(in_crs) in ("gcj02", "bd09"):
        zh = "高德/腾讯（GCJ-02）" if crsmod.normalize_crs_name(in_crs) == "gcj02" \
            else "百度（BD-09）"
        for i in np.flatnonzero(check & ~run.bad & ~rules.CHINA.contains(lng, lat)):
            run.error(int(i), cols[0], "crs_outside_china",
                      f"的坐标（经度 {lng[i]:g}、纬度 {lat[i]:g}）在中国境外，"
                      f"不可能是{zh}坐标", value=f"{lng[i]:g},{lat[i]:g}",
                      expected="中国境外的坐标请用 --crs wgs84")
    good = finite & ~run.bad
    w_lng = np.full(n, np.nan)
    w_lat = np.full(n, np.nan)
    if good.any():
        w_lng[good], w_lat[good] = crsmod.to_wgs84(lng[good], lat[good], in_crs)
    geoms = np.full(n, None, dtype=object)
    geoms[good] = shapely.points(w_lng[good], w_lat[good])
    return geoms


def overlaps(run: Run, geoms: np.ndarray, codes: np.ndarray) -> None:
    """Warn about points within :data:`OVERLAP_DISTANCE_M` metres of each other or of
    an existing point with another code (distances in the UTM zone of the points)."""
    ok = np.flatnonzero(~run.bad & (shapely.get_type_id(geoms) == 0))
    if not ok.size:
        return
    x = shapely.get_x(geoms[ok])
    y = shapely.get_y(geoms[ok])
    tr = pyproj.Transformer.from_crs(4326, crsmod.metric_crs_for(x, y), always_xy=True)
    mx, my = tr.transform(x, y)
    pts = shapely.points(mx, my)
    tree = shapely.STRtree(pts)
    left, right = tree.query(pts, predicate="dwithin", distance=OVERLAP_DISTANCE_M)
    keep = left < right
    for a, b in sorted(zip(left[keep].tolist(), right[keep].tolist(), strict=True)):
        i, j = int(ok[a]), int(ok[b])
        d = float(np.hypot(mx[a] - mx[b], my[a] - my[b]))
        run.warn(j, None, "overlapping_points",
                 f"的位置与第{int(run.row_numbers[i])}{run.raw.row_word}相距 {d:.1f} 米，"
                 "两个点几乎重合",
                 value=f"{x[b]:.6f},{y[b]:.6f}",
                 expected=f"相距 {OVERLAP_DISTANCE_M:g} 米以上，或确属同址")
    pad = 0.001
    rows = run.conn.execute(text(
        "SELECT code, name, ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
        "WHERE deleted_at IS NULL AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) "
        "AND NOT (code = ANY(:codes))"),
        {"x0": float(x.min()) - pad, "y0": float(y.min()) - pad, "x1": float(x.max()) + pad,
         "y1": float(y.max()) + pad, "codes": [c for c in codes if c is not None]}).all()
    if not rows:
        return
    ex, ey = tr.transform(np.array([r.x for r in rows]), np.array([r.y for r in rows]))
    etree = shapely.STRtree(shapely.points(ex, ey))
    near, hits = etree.query(pts, predicate="dwithin", distance=OVERLAP_DISTANCE_M)
    for a, h in sorted(zip(near.tolist(), hits.tolist(), strict=True)):
        r = rows[h]
        d = float(np.hypot(mx[a] - ex[h], my[a] - ey[h]))
        run.warn(int(ok[a]), None, "overlapping_points",
                 f"的位置与已有阵地 {r.code}『{r.name}』相距 {d:.1f} 米，两个点几乎重合",
                 value=f"{x[a]:.6f},{y[a]:.6f}")


def file_polygons(run: Run, in_crs: str, *, required: bool) -> np.ndarray | None:
    """WGS-84 polygons from the file geometry or a WKT column (``None`` where invalid/absent)."""
    raw = run.raw
    skip = np.zeros(run.n, dtype=bool)
    column: str | None = None
    if raw.geometry is not None:
        geoms = raw.geometry
        if raw.file_crs is None and _file_not_lnglat(run, geoms):
            return None
    elif run.has("wkt"):
        column = run.column_name("wkt")
        vals = run.texts("wkt")
        assert vals is not None
        geoms = np.full(run.n, None, dtype=object)
        for i, v in enumerate(vals):
            if v is None:
                continue
            try:
                geoms[i] = shapely.from_wkt(v)
            except shapely.errors.GEOSException:
                skip[i] = True
                run.error(i, column, "invalid_wkt", f"的值 '{fmt_value(v)}' 不是有效的 WKT 几何",
                          value=v, expected="如 POLYGON((113.1 23.1, 113.2 23.1, 113.2 23.2, "
                                            "113.1 23.1))")
    else:
        return None
    geoms = _check_polygons(run, geoms, column, required=required, skip=skip)
    present = ~run.bad & (shapely.get_type_id(geoms) >= 0)
    c = raw.file_crs if raw.geometry is not None else None
    if c is not None and present.any() and (c.is_projected or classify_file_crs(c)[1]):
        geoms = geoms.copy()
        geoms[present] = _to_lnglat(geoms[present], c)
    _check_polygon_range(run, geoms, column)
    ok = ~run.bad & (shapely.get_type_id(geoms) >= 0)
    out = np.full(run.n, None, dtype=object)
    if ok.any():
        g = geoms[ok]
        if crsmod.normalize_crs_name(in_crs) in ("gcj02", "bd09"):
            g = crsmod.transform_geometry(g, in_crs, "wgs84")
            still = shapely.is_valid(g)
            if not still.all():
                g = g.copy()
                g[~still] = [polygonal(shapely.make_valid(x)) for x in g[~still]]
        out[ok] = g
    return out
