"""Reading service points as GeoJSON-ready dictionaries.

Points are stored in WGS-84 (SRID 4326); the functions here return GeoJSON
features in WGS-84 or, on request, in the Chinese web-map systems GCJ-02 and
BD-09 (:mod:`geo.crs`). Opening hours come back structured (:mod:`geo.hours`)
with ``open_now`` evaluated in China time (Asia/Shanghai).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.crs import from_wgs84, normalize_crs_name, to_wgs84
from geo.hours import CHINA_TZ, format_hours_zh, is_open, next_opening
from geo.vocab import POINT_KIND_ZH, SERVICE_ZH, PointKind, Service

__all__ = [
    "HoursMemo",
    "PointPage",
    "convert_geojson",
    "count_points",
    "list_points",
    "point_feature",
    "query_points",
]

#: Decimal places of output coordinates (1e-7 degrees is about 1 cm).
COORD_DECIMALS = 7

_SELECT = """
WITH RECURSIVE scope(code) AS (
    SELECT CAST(:region AS varchar)
    UNION ALL
    SELECT r.code FROM regions r JOIN scope s ON r.parent_code = s.code
)
SELECT p.code, p.name, p.kind, p.region_code, r.name AS region_name, p.address,
       ST_X(p.geom) AS lng, ST_Y(p.geom) AS lat, p.hours, p.hours_text, p.services,
       p.rooms, p.floor_area_m2, p.stars, p.phone, p.synthetic,
       count(*) OVER () AS total
FROM service_points p
LEFT JOIN regions r ON r.code = p.region_code
WHERE p.deleted_at IS NULL
  AND (CAST(:region AS varchar) IS NULL OR p.region_code IN (SELECT code FROM scope))
  AND (CAST(:kind AS varchar) IS NULL OR p.kind = :kind)
  AND (CAST(:code AS varchar) IS NULL OR p.code = :code)
  AND (CAST(:services AS text[]) IS NULL OR p.services @> CAST(:services AS text[]))
  AND (CAST(:q AS text) IS NULL OR p.name ILIKE :q ESCAPE '\\' OR p.address ILIKE :q ESCAPE '\\')
  AND (CAST(:x0 AS float8) IS NULL
       OR p.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))
ORDER BY p.code
LIMIT :limit OFFSET :offset
"""


@dataclass
class PointPage:
    """One page of point features and the number of points matching the filters."""

    features: list[dict[str, Any]]
    number_matched: int


def _now() -> datetime:
    return datetime.now(CHINA_TZ)


def _open_now(hours: dict | None, at: datetime) -> tuple[bool | None, str | None]:
    """Open at ``at`` (China's holiday calendar included), and when closed the
    next opening within 14 days (ISO 8601, China time)."""
    if not hours:
        return None, None
    try:
        state = is_open(hours, at)
        nxt = next_opening(hours, at) if state is False else None
    except (ValueError, TypeError, AttributeError):
        return None, None
    return state, nxt.isoformat() if nxt is not None else None


def _hours_label(hours: dict | None, hours_text: str | None) -> str:
    if hours:
        try:
            return format_hours_zh(hours)
        except (ValueError, TypeError, AttributeError):
            pass
    return (hours_text or "").strip() or "开放时间未知"


def _label(mapping: dict, enum: type, value: str) -> str:
    try:
        return mapping[enum(value)]
    except (ValueError, KeyError):
        return value


class HoursMemo:
    """``open_now``, the Chinese label and the next opening per distinct opening
    hours (many points share them), for one instant."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._seen: dict[str, tuple[bool | None, str, str | None]] = {}

    def __call__(self, hours: dict | None, hours_text: str | None
                 ) -> tuple[bool | None, str, str | None]:
        key = repr(hours) + "\x00" + (hours_text or "")  # JSONB keys come sorted
        found = self._seen.get(key)
        if found is None:
            state, nxt = _open_now(hours, self.at)
            found = self._seen[key] = (state, _hours_label(hours, hours_text), nxt)
        return found


def point_feature(row: Any, *, at: datetime | None = None,
                  coordinates: tuple[float, float] | None = None,
                  memo: HoursMemo | None = None) -> dict[str, Any]:
    """One GeoJSON Feature with English property names.

    Parameters
    ----------
    row
        A row with the columns of the point query (``lng``/``lat`` in WGS-84).
    at : datetime, optional
        Instant at which ``open_now`` is evaluated (default: now, China time).
    coordinates : (float, float), optional
        Output coordinates when not WGS-84 (already converted by the caller).
    """
    memo = memo or HoursMemo(at or _now())
    lng, lat = coordinates if coordinates is not None else (row.lng, row.lat)
    services = list(row.services or [])
    hours = row.hours
    open_now, hours_label, next_open = memo(hours, row.hours_text)
    return {
        "type": "Feature",
        "id": row.code,
        "geometry": {"type": "Point", "coordinates": [round(float(lng), COORD_DECIMALS),
                                                      round(float(lat), COORD_DECIMALS)]},
        "properties": {
            "code": row.code,
            "name": row.name,
            "kind": row.kind,
            "kind_label": _label(POINT_KIND_ZH, PointKind, row.kind),
            "region_code": row.region_code,
            "region_name": row.region_name,
            "address": row.address,
            "hours": hours,
            "hours_text": row.hours_text,
            "hours_label": hours_label,
            "open_now": open_now,
            "next_open": next_open,
            "services": services,
            "service_labels": [_label(SERVICE_ZH, Service, s) for s in services],
            "rooms": row.rooms,
            "floor_area_m2": row.floor_area_m2,
            "stars": row.stars,
            "phone": row.phone,
            "synthetic": row.synthetic,
        },
    }


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bbox_wgs84(bbox: Sequence[float], crs: str) -> tuple[float, float, float, float]:
    """Envelope in WGS-84 of a ``(min_lng, min_lat, max_lng, max_lat)`` box in ``crs``."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if crs == "wgs84":
        return x0, y0, x1, y1
    xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2, (x0 + x1) / 2, x0, x1])
    ys = np.array([y0, y0, y1, y1, y0, y1, (y0 + y1) / 2, (y0 + y1) / 2])
    lng, lat = to_wgs84(xs, ys, crs)
    return float(np.min(lng)), float(np.min(lat)), float(np.max(lng)), float(np.max(lat))


def query_points(conn: Connection, *, region: str | None = None, kind: str | None = None,
                 code: str | None = None, services: Sequence[str] | None = None,
                 bbox: Sequence[float] | None = None, q: str | None = None,
                 open_now: bool | None = None, at: datetime | None = None,
                 crs: str = "wgs84", limit: int = 1000, offset: int = 0) -> PointPage:
    """Service points matching all the given filters, ordered by code.

    Parameters
    ----------
    region : str, optional
        Division code; the region and everything below it (a town code gives
        all of its villages' points).
    kind : str, optional
        A :class:`geo.vocab.PointKind` value.
    services : sequence of str, optional
        :class:`geo.vocab.Service` values the point must all offer.
    bbox : (min_lng, min_lat, max_lng, max_lat), optional
        Degrees, in ``crs``.
    q : str, optional
        Case-insensitive substring of the name or address.
    open_now : bool, optional
        Keep only points open (True) or not open (False) at ``at``; points with
        unknown hours are dropped by either.
    at : datetime, optional
        Instant for ``open_now`` (naive: China time). Default now.
    crs : str
        Coordinate system of ``bbox`` and of the returned coordinates:
        ``wgs84``, ``gcj02``, ``bd09`` or ``cgcs2000``.
    limit, offset : int
        Paging, applied after every filter.
    """
    crs = normalize_crs_name(crs)
    at = at or _now()
    box = _bbox_wgs84(bbox, crs) if bbox is not None else (None, None, None, None)
    paged_in_sql = open_now is None
    params = {
        "region": region, "kind": kind, "code": code,
        "services": list(services) if services else None,
        "q": _like(q) if q else None,
        "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3],
        "limit": limit if paged_in_sql else None,
        "offset": offset if paged_in_sql else 0,
    }
    rows = conn.execute(text(_SELECT), params).all()
    if paged_in_sql:
        if rows:
            total = int(rows[0].total)
        elif offset > 0:
            total = _count(conn, {**params, "limit": None, "offset": 0})
        else:
            total = 0
    memo = HoursMemo(at)
    if not paged_in_sql:
        rows = [r for r in rows if memo(r.hours, r.hours_text)[0] is open_now]
        total = len(rows)
        rows = rows[offset:offset + limit]
    if crs in ("wgs84", "cgcs2000") or not rows:
        coords = [None] * len(rows)
    else:
        lng, lat = from_wgs84(np.array([r.lng for r in rows], dtype=float),
                              np.array([r.lat for r in rows], dtype=float), crs)
        coords = list(zip(lng.tolist(), lat.tolist(), strict=True))
    features = [point_feature(r, coordinates=c, memo=memo)
                for r, c in zip(rows, coords, strict=True)]
    return PointPage(features=features, number_matched=total)


def _count(conn: Connection, params: dict) -> int:
    rows = conn.execute(text(_SELECT), params).all()
    return len(rows)


def list_points(conn: Connection, *, region: str | None = None, kind: str | None = None,
                code: str | None = None, limit: int = 1000, offset: int = 0,
                **filters: Any) -> list[dict]:
    """Service points as GeoJSON Features, ordered by code (see :func:`query_points`
    for the filters)."""
    return query_points(conn, region=region, kind=kind, code=code, limit=limit, offset=offset,
                        **filters).features


def count_points(conn: Connection) -> int:
    return conn.execute(text(
        "SELECT count(*) FROM service_points WHERE deleted_at IS NULL")).scalar_one()


# --------------------------------------------------------------------------
# GeoJSON geometry conversion
# --------------------------------------------------------------------------
def _flatten(coords: Any, out: list[tuple[float, float]]) -> Any:
    """Replace every position of a GeoJSON coordinate array by its index in ``out``."""
    if coords and isinstance(coords[0], (int, float)):
        out.append((float(coords[0]), float(coords[1])))
        return len(out) - 1
    return [_flatten(c, out) for c in coords]


def _rebuild(shape: Any, xs: np.ndarray, ys: np.ndarray) -> Any:
    if isinstance(shape, int):
        return [round(float(xs[shape]), COORD_DECIMALS), round(float(ys[shape]), COORD_DECIMALS)]
    return [_rebuild(s, xs, ys) for s in shape]


def convert_geojson(geometry: dict | None, src: str, dst: str) -> dict | None:
    """A GeoJSON geometry with every position converted from ``src`` to ``dst``
    (coordinate systems of :mod:`geo.crs`) and rounded to 1e-7 degrees."""
    if geometry is None:
        return None
    if geometry.get("type") == "GeometryCollection":
        return {"type": "GeometryCollection",
                "geometries": [convert_geojson(g, src, dst) for g in geometry["geometries"]]}
    positions: list[tuple[float, float]] = []
    shape = _flatten(geometry["coordinates"], positions)
    if not positions:
        return {"type": geometry["type"], "coordinates": geometry["coordinates"]}
    arr = np.asarray(positions, dtype=float)
    src_n, dst_n = normalize_crs_name(src), normalize_crs_name(dst)
    if src_n != dst_n:
        lng, lat = to_wgs84(arr[:, 0], arr[:, 1], src_n)
        xs, ys = from_wgs84(lng, lat, dst_n)
    else:
        xs, ys = arr[:, 0], arr[:, 1]
    return {"type": geometry["type"], "coordinates": _rebuild(shape, np.asarray(xs),
                                                             np.asarray(ys))}
