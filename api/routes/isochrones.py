"""Service circles (isochrones) and nearest service points by walking."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from api.deps import get_conn, get_settings
from geo.circles import (
    CircleParams,
    NetworkCache,
    budget_for,
    circle_feature,
    circles_at,
    nearest_points,
    network_for_query,
    profile_key,
    query_point,
    require_point,
    stored_circle,
)
from geo.config import Settings

router = APIRouter(prefix="/api/v1", tags=["isochrones"])

Profile = Literal["standard", "adult", "elderly"]
Crs = Literal["wgs84", "gcj02", "bd09"]


def _networks(request: Request, conn: Connection):
    cache = getattr(request.app.state, "network_cache", None)
    if cache is None:
        cache = request.app.state.network_cache = NetworkCache()
    return cache.get(conn)


def _params(settings: Settings) -> CircleParams:
    return CircleParams(walk_off_m=settings.walk_off_m, max_snap_m=settings.max_snap_m)


@router.get("/isochrones", operation_id="get_isochrone",
            summary="The stored service circle of a point (GeoJSON Feature, WGS-84)")
def get_isochrone(
    request: Request,
    conn: Annotated[Connection, Depends(get_conn)],
    settings: Annotated[Settings, Depends(get_settings)],
    point: Annotated[str, Query(min_length=1, max_length=64, description="service point code")],
    minutes: Annotated[float, Query(gt=0, le=60)] = 10,
    profile: Profile | None = None,
    speed_kmh: Annotated[float | None, Query(gt=0, le=20)] = None,
) -> dict:
    budget = budget_for(profile or settings.default_profile, minutes, speed_kmh)
    params = _params(settings)
    networks = _networks(request, conn)
    found = stored_circle(conn, point, budget.minutes, profile_key(budget), networks=networks,
                          params=params)
    if found is not None and not found["properties"]["stale"]:
        return found
    # not computed (or stale): compute it now, without storing
    p = require_point(conn, point)
    circle = circles_at(networks, [p.lng], [p.lat], budget, params=params)[0]
    return circle_feature(circle, point_code=p.code, stored=False, stale=False)


class IsochroneRequest(BaseModel):
    lng: float = Field(ge=-180, le=180, examples=[113.153])
    lat: float = Field(ge=-90, le=90, examples=[23.195])
    crs: Crs = "wgs84"
    minutes: float = Field(default=10, gt=0, le=60)
    profile: Profile | None = None
    speed_kmh: float | None = Field(default=None, gt=0, le=20)

    model_config = {"extra": "forbid"}


@router.post("/isochrones", operation_id="create_isochrone",
             summary="Ad-hoc service circle from any location: what can I reach from home?")
def post_isochrone(
    body: IsochroneRequest,
    request: Request,
    conn: Annotated[Connection, Depends(get_conn)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> dict:
    budget = budget_for(body.profile or settings.default_profile, body.minutes, body.speed_kmh)
    lng, lat = query_point(body.lng, body.lat, body.crs)
    networks = _networks(request, conn)
    network_for_query(networks, lng, lat, settings.max_snap_m)
    circle = circles_at(networks, [lng], [lat], budget, params=_params(settings))[0]
    return circle_feature(circle, lng=lng, lat=lat, stored=False)


@router.get("/nearest", operation_id="nearest_points",
            summary="The k service points nearest by walking, with distance and time")
def nearest(
    request: Request,
    conn: Annotated[Connection, Depends(get_conn)],
    settings: Annotated[Settings, Depends(get_settings)],
    lng: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    crs: Crs = "wgs84",
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    profile: Profile | None = None,
) -> dict:
    # the walking time of each result is given at the profile's speed
    budget = budget_for(profile or settings.default_profile, 10)
    wlng, wlat = query_point(lng, lat, crs)
    network = network_for_query(_networks(request, conn), wlng, wlat, settings.max_snap_m)
    features = nearest_points(conn, network, wlng, wlat, k=k, budget=budget,
                              params=_params(settings), out_crs=crs)
    return {"type": "FeatureCollection", "features": features,
            "query": {"lng": lng, "lat": lat, "crs": crs, "k": k, "profile": budget.profile}}
