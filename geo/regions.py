"""Administrative divisions (county → town/street → village/community).

Division codes are hierarchical: a village code (12 digits) starts with its
town's (9 digits), which starts with its county's (6 digits). Geometries are
stored in WGS-84; :func:`get_region` returns them in any system of
:mod:`geo.crs`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import NotFound
from geo.points import convert_geojson
from geo.rules import CHINA, OperatingArea, area_from_extent
from geo.vocab import LEVEL_ZH

__all__ = ["ancestors", "get_region", "operating_area", "region_row", "region_tree",
           "town_geometry_of"]


_TREE = """
SELECT r.code, r.name, r.level, r.parent_code, r.synthetic,
       (SELECT count(*) FROM service_points p
        WHERE p.region_code = r.code AND p.deleted_at IS NULL) AS own_points
FROM regions r
ORDER BY r.code
"""


def _node(row: Any) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "level": row.level,
            "level_label": LEVEL_ZH.get(row.level, row.level), "parent_code": row.parent_code,
            "synthetic": row.synthetic, "points": int(row.own_points), "children": []}


def region_tree(conn: Connection) -> list[dict[str, Any]]:
    """Every region as a tree: roots (regions without a stored parent) with
    nested ``children``, each ordered by code. ``points`` counts the service
    points (not deleted) in a region and everything below it."""
    rows = conn.execute(text(_TREE)).all()
    nodes = {r.code: _node(r) for r in rows}
    roots: list[dict[str, Any]] = []
    for r in rows:
        node = nodes[r.code]
        parent = nodes.get(r.parent_code) if r.parent_code else None
        (parent["children"] if parent is not None else roots).append(node)

    def total(node: dict[str, Any]) -> int:
        node["points"] += sum(total(c) for c in node["children"])
        return node["points"]

    for root in roots:
        total(root)
    return roots


def region_row(conn: Connection, code: str) -> Any | None:
    """The stored region (code, name, level, parent_code), or None."""
    return conn.execute(text(
        "SELECT code, name, level, parent_code, synthetic, geom IS NOT NULL AS has_geom "
        "FROM regions WHERE code = :c"), {"c": code}).one_or_none()


def ancestors(conn: Connection, code: str) -> list[dict[str, str]]:
    """The region's ancestors, outermost first (without the region itself)."""
    rows = conn.execute(text("""
        WITH RECURSIVE up(code, name, level, parent_code, depth) AS (
            SELECT code, name, level, parent_code, 0 FROM regions WHERE code = :c
            UNION ALL
            SELECT r.code, r.name, r.level, r.parent_code, u.depth + 1
            FROM regions r JOIN up u ON r.code = u.parent_code
            WHERE u.depth < 10
        )
        SELECT code, name, level FROM up WHERE depth > 0 ORDER BY depth DESC"""),
        {"c": code}).all()
    return [{"code": r.code, "name": r.name, "level": r.level} for r in rows]


def get_region(conn: Connection, code: str, *, crs: str = "wgs84",
               geometry: bool = True) -> dict[str, Any]:
    """One region as a GeoJSON Feature (geometry in ``crs``; None when unknown),
    with its ancestors, children and point count.

    Raises :class:`NotFound` for an unknown code.
    """
    row = conn.execute(text("""
        SELECT r.code, r.name, r.level, r.parent_code, r.synthetic,
               CASE WHEN CAST(:g AS boolean) THEN ST_AsGeoJSON(r.geom, 7) END AS geojson,
               ST_XMin(r.geom) AS x0, ST_YMin(r.geom) AS y0,
               ST_XMax(r.geom) AS x1, ST_YMax(r.geom) AS y1,
               CASE WHEN r.geom IS NOT NULL
                    THEN ST_Area(r.geom::geography) / 1e6 END AS area_km2,
               (SELECT count(*) FROM service_points p
                WHERE p.deleted_at IS NULL AND starts_with(p.region_code, r.code)) AS points
        FROM regions r WHERE r.code = :c"""), {"c": code, "g": geometry}).one_or_none()
    if row is None:
        raise NotFound(f"未找到编码为 {code!r} 的区划")
    children = conn.execute(text(
        "SELECT code, name, level FROM regions WHERE parent_code = :c ORDER BY code"),
        {"c": code}).all()
    geom = json.loads(row.geojson) if row.geojson else None
    bbox = None
    if row.x0 is not None:
        corners = convert_geojson({"type": "MultiPoint",
                                   "coordinates": [[row.x0, row.y0], [row.x1, row.y1]]},
                                  "wgs84", crs)
        (bx0, by0), (bx1, by1) = corners["coordinates"]
        bbox = [bx0, by0, bx1, by1]
    return {
        "type": "Feature",
        "id": row.code,
        "bbox": bbox,
        "geometry": convert_geojson(geom, "wgs84", crs) if geom else None,
        "properties": {
            "code": row.code,
            "name": row.name,
            "level": row.level,
            "level_label": LEVEL_ZH.get(row.level, row.level),
            "parent_code": row.parent_code,
            "synthetic": row.synthetic,
            "area_km2": round(float(row.area_km2), 3) if row.area_km2 is not None else None,
            "points": int(row.points),
            "ancestors": ancestors(conn, code),
            "children": [{"code": c.code, "name": c.name, "level": c.level} for c in children],
        },
    }


def town_geometry_of(conn: Connection, code: str) -> tuple[str, str] | None:
    """``(code, name)`` of the nearest region at or above ``code`` that is a town
    or county and has a geometry (the area a new row of ``code`` must lie in)."""
    row = conn.execute(text("""
        WITH RECURSIVE up(code, name, level, parent_code, has_geom, depth) AS (
            SELECT code, name, level, parent_code, geom IS NOT NULL, 0
            FROM regions WHERE code = :c
            UNION ALL
            SELECT r.code, r.name, r.level, r.parent_code, r.geom IS NOT NULL, u.depth + 1
            FROM regions r JOIN up u ON r.code = u.parent_code WHERE u.depth < 10
        )
        SELECT code, name FROM up WHERE has_geom AND level IN ('town', 'county')
        ORDER BY depth LIMIT 1"""), {"c": code}).one_or_none()
    return (row.code, row.name) if row else None


def scope_area(conn: Connection, scopes: Sequence[str], *,
               tolerance_m: float = 0.0) -> BaseGeometry | None:
    """The ground a token's regions cover: the union of the stored boundaries of
    every region at or below ``scopes`` (WGS-84), grown by ``tolerance_m`` metres;
    None when none of them has a boundary.

    Region scope holds for geometry as well as codes: a write whose geometry
    leaves this area is refused, whatever region code it names (boundaries are
    written by administrators only, so this is the ground as it was before).
    """
    wkb = conn.execute(text("""
        SELECT ST_AsBinary(CASE WHEN CAST(:tol AS float8) > 0
                                THEN ST_Buffer(ST_Union(geom)::geography, :tol)::geometry
                                ELSE ST_Union(geom) END)
        FROM regions
        WHERE geom IS NOT NULL AND EXISTS (
            SELECT 1 FROM unnest(CAST(:scopes AS text[])) s WHERE starts_with(code, s))"""),
        {"scopes": list(scopes), "tol": float(tolerance_m)}).scalar()
    if wkb is None:
        return None
    area = shapely.from_wkb(bytes(wkb))
    shapely.prepare(area)
    return area


def operating_area(conn: Connection, box: tuple[float, float, float, float] | None = None
                   ) -> OperatingArea:
    """Where this database's data may lie (:class:`geo.rules.OperatingArea`): the
    configured ``box`` (``SERVICEMAP_OPERATING_AREA``) when given; else the envelope
    of the regions loaded; before any region, of the walking network; else China.
    An envelope inside China gives China itself."""
    if box is not None:
        return OperatingArea((tuple(float(v) for v in box),), "settings")
    for table, source in (("regions", "regions"), ("network_nodes", "network")):
        row = conn.execute(text(
            f"SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n "
            f"FROM (SELECT ST_Extent(geom) AS e FROM {table}) x")).one()
        if row.w is not None:
            return area_from_extent((row.w, row.s, row.e, row.n), source)
    return CHINA
