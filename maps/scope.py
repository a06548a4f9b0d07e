"""The area a map shows: a region (town/street or village), its extent, whether
its data are synthetic and the date of its data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import NotFound
from geo.hours import CHINA_TZ

__all__ = ["Scope", "default_region", "resolve_scope"]

_SCOPE = """
SELECT r.code, r.name, r.level, r.synthetic AS region_synthetic,
       ST_XMin(e.box) AS x0, ST_YMin(e.box) AS y0, ST_XMax(e.box) AS x1, ST_YMax(e.box) AS y1,
       pts.n, pts.synthetic AS points_synthetic, pts.updated
FROM regions r
CROSS JOIN LATERAL (
    SELECT count(*) AS n, bool_or(p.synthetic) AS synthetic, max(p.updated_at) AS updated,
           ST_Extent(p.geom) AS box
    FROM service_points p
    WHERE p.deleted_at IS NULL AND starts_with(p.region_code, r.code)) pts
CROSS JOIN LATERAL (
    SELECT ST_Extent(g) AS box FROM (SELECT r.geom AS g UNION ALL
                                     SELECT CAST(pts.box AS geometry)) u) e
WHERE r.code = :code
"""


@dataclass(frozen=True)
class Scope:
    """What a map covers.

    Attributes
    ----------
    code, name, level
        The region.
    bbox
        WGS-84 ``(west, south, east, north)`` of the region and its points
        (None when it has neither a boundary nor points).
    points
        Number of service points in it.
    synthetic
        Whether any of its data are synthetic samples (maps then carry the
        "示例数据" badge and default to the offline basemap).
    data_date
        Date (China time) of the latest change of its points.
    """

    code: str
    name: str
    level: str
    bbox: tuple[float, float, float, float] | None
    points: int
    synthetic: bool
    data_date: date | None


def default_region(conn: Connection) -> str:
    """The town/street with the most service points (the map a bare URL shows).

    Raises :class:`NotFound` when no region is stored.
    """
    code = conn.execute(text("""
        SELECT r.code FROM regions r
        WHERE r.level = 'town'
        ORDER BY (SELECT count(*) FROM service_points p
                  WHERE p.deleted_at IS NULL AND starts_with(p.region_code, r.code)) DESC,
                 r.code
        LIMIT 1""")).scalar()
    if code is None:
        raise NotFound("数据库中还没有区划：请先加载数据（servicemap load-sample lishui）")
    return code


def resolve_scope(conn: Connection, region: str | None = None) -> Scope:
    """The scope of a map of ``region`` (default: :func:`default_region`).

    Raises :class:`NotFound` for an unknown region code.
    """
    code = region or default_region(conn)
    row = conn.execute(text(_SCOPE), {"code": code}).one_or_none()
    if row is None:
        raise NotFound(f"未找到编码为 {code!r} 的区划")
    bbox = None if row.x0 is None else (float(row.x0), float(row.y0), float(row.x1),
                                        float(row.y1))
    when = row.updated.astimezone(CHINA_TZ).date() if row.updated is not None else None
    return Scope(code=row.code, name=row.name, level=row.level, bbox=bbox, points=int(row.n),
                 synthetic=bool(row.region_synthetic or row.points_synthetic),
                 data_date=when)
