"""Region scope of an import: a token writes only rows of its regions, on its
own ground.

Codes: a row's region (stored, and named by the file) must lie at or below the
token's regions. Geometry: a row's location (a point, a footprint, an area)
must lie inside the stored boundaries of the token's regions
(:func:`geo.regions.scope_area`, within :data:`geo.rules.TOWN_TOLERANCE_M`),
whatever region code it names. A building without a compound has the region
its footprint lies in: its ground decides.
"""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text

from geo import rules
from geo.io.importer.assemble import Rows
from geo.io.importer.run import Run
from geo.regions import scope_area
from geo.tokens import region_in_scope

__all__ = ["check_scope"]


def check_scope(run: Run, rows: Rows, scope: tuple[str, ...]) -> None:
    """Reject rows whose region (new or stored) or whose location lies outside ``scope``."""
    spec = run.spec
    codes = rows.values["code"]
    live = [str(c) for c, b in zip(codes, run.bad, strict=True) if c is not None and not b]
    stored_geoms: dict[str, object] = {}
    if spec.region == "self":
        existing = {c: c for c in live}
        new_regions = codes
    elif spec.region == "compound":
        found = run.conn.execute(text(
            "SELECT b.code, c.region_code, ST_AsBinary(b.geom) AS g FROM buildings b "
            "LEFT JOIN compounds c ON c.code = b.compound_code WHERE b.code = ANY(:c)"),
            {"c": live}).all()
        existing = {str(r.code): r.region_code for r in found}
        stored_geoms = {str(r.code): shapely.from_wkb(bytes(r.g)) for r in found
                        if r.region_code is None and r.g is not None}
        comp = rows.values.get("compound_code")
        lookup: dict[str, str | None] = {}
        if comp is not None:
            wanted = sorted({str(c) for c in comp if c is not None})
            lookup = {str(r.code): r.region_code for r in run.conn.execute(text(
                "SELECT code, region_code FROM compounds WHERE code = ANY(:c)"), {"c": wanted})}
        new_regions = np.array([None if comp is None or comp[i] is None else lookup.get(comp[i])
                                for i in range(run.n)], dtype=object)
    elif spec.region == "point":  # an activity: its position's region
        existing = {str(r.code): r.region_code for r in run.conn.execute(text(
            "SELECT a.code, p.region_code FROM activities a JOIN service_points p "
            "ON p.code = a.point_code WHERE a.code = ANY(:c)"), {"c": live})}
        pts = rows.values.get("point_code")
        wanted = sorted({str(p) for p in pts if p is not None}) if pts is not None else []
        lookup = {str(r.code): r.region_code for r in run.conn.execute(text(
            "SELECT code, region_code FROM service_points WHERE code = ANY(:c)"),
            {"c": wanted})}
        new_regions = np.array([None if pts is None or pts[i] is None else lookup.get(pts[i])
                                for i in range(run.n)], dtype=object)
    else:
        existing = {str(r.code): r.region_code for r in run.conn.execute(text(
            f'SELECT code, region_code FROM "{spec.table}" WHERE code = ANY(:c)'), {"c": live})}
        new_regions = rows.values.get("region_code", np.full(run.n, None, dtype=object))
    shown = "、".join(scope)
    ground = _ground(run, rows, scope, stored_geoms) if spec.region != "self" else None
    for i in range(run.n):
        c = codes[i]
        if c is None or run.bad[i]:
            continue
        old = existing.get(str(c))
        new = new_regions[i] if new_regions[i] is not None else old
        regionless = spec.region == "compound" and new is None
        if str(c) in existing and old is not None and not region_in_scope(old, scope):
            run.error(i, None, "forbidden_region",
                      f"的编码 {c} 已属于区划 {old}，不在您的编辑范围（{shown}）内",
                      value=str(c), expected=f"{shown} 及其下级区划中的数据")
        elif not regionless and not region_in_scope(new, scope):
            run.error(i, None, "forbidden_region",
                      f"的所属区划 {new or '（无法确定）'} 不在您的编辑范围（{shown}）内",
                      value=new, expected=f"{shown} 及其下级区划中的数据")
        elif ground is not None and not ground[i]:
            run.error(i, None, "forbidden_ground",
                      f"的位置超出您的编辑范围（{shown} 的边界）", value=str(c),
                      expected=f"位于 {shown} 边界内（容差 {rules.TOWN_TOLERANCE_M:g} 米）的位置")


def _ground(run: Run, rows: Rows, scope: tuple[str, ...],
            stored: dict[str, object]) -> np.ndarray | None:
    """Whether each row's new geometry (and, for a building without a region, its
    stored footprint) lies on the token's ground; None when rows carry no geometry."""
    geoms = rows.values.get("geom")
    if geoms is None:
        return None
    ok = np.ones(run.n, dtype=bool)
    present = np.flatnonzero(~run.bad & (shapely.get_type_id(geoms) >= 0))
    codes = rows.values["code"]
    old = np.array([i for i in range(run.n) if str(codes[i]) in stored], dtype=np.int64)
    if not present.size and not old.size:
        return ok
    area = scope_area(run.conn, scope, tolerance_m=rules.TOWN_TOLERANCE_M)
    if area is None:
        ok[present] = False
        ok[old] = False
        return ok
    if present.size:
        ok[present] = shapely.covers(area, geoms[present])
    if old.size:
        ok[old] &= shapely.covers(area, np.array([stored[str(codes[i])] for i in old],
                                                 dtype=object))
    return ok
