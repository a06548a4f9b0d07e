"""Reading service points as GeoJSON-ready dictionaries (SRID 4326)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.domain import POINT_KIND_ZH, PointKind

_SELECT = """
WITH RECURSIVE scope(code) AS (
    SELECT CAST(:region AS varchar)
    UNION ALL
    SELECT r.code FROM regions r JOIN scope s ON r.parent_code = s.code
)
SELECT p.code, p.name, p.kind, p.region_code, r.name AS region_name, p.address,
       ST_X(p.geom) AS lng, ST_Y(p.geom) AS lat, p.hours, p.hours_text, p.services,
       p.rooms, p.floor_area_m2, p.stars, p.phone, p.synthetic
FROM service_points p
LEFT JOIN regions r ON r.code = p.region_code
WHERE p.deleted_at IS NULL
  AND (CAST(:region AS varchar) IS NULL OR p.region_code IN (SELECT code FROM scope))
  AND (CAST(:kind AS varchar) IS NULL OR p.kind = :kind)
  AND (CAST(:code AS varchar) IS NULL OR p.code = :code)
ORDER BY p.code
LIMIT :limit OFFSET :offset
"""


def point_feature(row: Any) -> dict[str, Any]:
    """One GeoJSON Feature (WGS-84) with English property names."""
    kind = row.kind
    return {
        "type": "Feature",
        "id": row.code,
        "geometry": {"type": "Point", "coordinates": [row.lng, row.lat]},
        "properties": {
            "code": row.code,
            "name": row.name,
            "kind": kind,
            "kind_label": POINT_KIND_ZH.get(PointKind(kind), kind),
            "region_code": row.region_code,
            "region_name": row.region_name,
            "address": row.address,
            "hours": row.hours,
            "hours_text": row.hours_text,
            "services": list(row.services or []),
            "rooms": row.rooms,
            "floor_area_m2": row.floor_area_m2,
            "stars": row.stars,
            "phone": row.phone,
            "synthetic": row.synthetic,
        },
    }


def list_points(conn: Connection, *, region: str | None = None, kind: str | None = None,
                code: str | None = None, limit: int = 1000, offset: int = 0) -> list[dict]:
    """Service points as GeoJSON Features, ordered by code.

    ``region`` selects the region and everything below it (a town code gives
    all of its villages' points).
    """
    rows = conn.execute(text(_SELECT), {"region": region, "kind": kind, "code": code,
                                        "limit": limit, "offset": offset})
    return [point_feature(r) for r in rows]


def count_points(conn: Connection) -> int:
    return conn.execute(text(
        "SELECT count(*) FROM service_points WHERE deleted_at IS NULL")).scalar_one()
