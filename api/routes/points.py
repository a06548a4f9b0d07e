from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Connection

from api.deps import get_conn, get_settings
from geo.config import Settings
from geo.domain import PointKind
from geo.errors import NotFound
from geo.points import list_points

router = APIRouter(prefix="/api/v1", tags=["points"])


@router.get("/points", operation_id="list_points",
            summary="Service points as a GeoJSON FeatureCollection (WGS-84)")
def points(
    conn: Annotated[Connection, Depends(get_conn)],
    settings: Annotated[Settings, Depends(get_settings)],
    kind: PointKind | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
    limit: Annotated[int, Query(ge=1)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    limit = min(limit, settings.page_max)
    features = list_points(conn, region=region, kind=kind.value if kind else None,
                           limit=limit, offset=offset)
    return {"type": "FeatureCollection", "features": features,
            "numberReturned": len(features), "limit": limit, "offset": offset}


@router.get("/points/{code}", operation_id="get_point", summary="One service point")
def point(code: str, conn: Annotated[Connection, Depends(get_conn)]) -> dict:
    found = list_points(conn, code=code, limit=1)
    if not found:
        raise NotFound(f"no service point with code {code!r}")
    return found[0]
