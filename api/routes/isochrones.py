"""Service circles (isochrones) and nearest service points by walking."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from api.caching import encode_json
from api.deps import app_networks, get_conn, get_settings
from api.routes.points import GEOJSON, GeoJSONResponse, calendar_known, instant
from api.schemas import ISOCHRONE_EXAMPLE, Instant, IsochroneFeature, NearestCollection, Number
from api.settings import Settings
from geo.circles import (
    CircleParams,
    Networks,
    PointSet,
    QuerySnapshot,
    budget_for,
    circle_feature,
    circles_at,
    feature_in_crs,
    nearest_in,
    network_for_query,
    profile_key,
    query_point,
    require_point,
    stored_circle,
)
from geo.vocab import PointKind, Service

router = APIRouter(prefix="/api/v1", tags=["isochrones"])

Profile = Literal["standard", "adult", "elderly"]
Crs = Literal["wgs84", "gcj02", "bd09"]


def _params(settings: Settings) -> CircleParams:
    return CircleParams(walk_off_m=settings.walk_off_m, max_snap_m=settings.max_snap_m)


class IsochroneRequest(BaseModel):
    lng: Number = Field(ge=-180, le=180, examples=[113.153])
    lat: Number = Field(ge=-90, le=90, examples=[23.195])
    crs: Crs = Field(default="wgs84", description="coordinate system of `lng`/`lat` and "
                                                  "of the answer")
    minutes: Number = Field(default=10, ge=1, le=60)
    profile: Profile | None = None
    speed_kmh: Number | None = Field(default=None, ge=1, le=20)

    model_config = {"extra": "forbid"}


@router.get("/isochrones", operation_id="get_isochrone", response_model=IsochroneFeature,
            summary="The stored service circle of a point (GeoJSON Feature)",
            description="The point's walking circle for `minutes` at the profile's speed: "
                        "the stored one when it is up to date, else computed now (not "
                        "stored; `stored: false`). The polygon is in `crs` (default "
                        "WGS-84; `gcj02` for Amap, Tencent and WeChat maps), named by the "
                        "answer's top-level `crs`.",
            responses={200: {"content": {"application/json": {
                "example": ISOCHRONE_EXAMPLE}}}})
def get_isochrone(
    request: Request,
    conn: Annotated[Connection, Depends(get_conn)],
    settings: Annotated[Settings, Depends(get_settings)],
    point: Annotated[str, Query(min_length=1, max_length=64, description="service point code",
                                openapi_examples={"lishui": {"value": "LS-0001"}})],
    minutes: Annotated[float, Query(ge=1, le=60, description="walking minutes")] = 10,
    profile: Annotated[Profile | None, Query(
        description="walking speed (default: the server's, elderly)")] = None,
    speed_kmh: Annotated[float | None, Query(ge=1, le=20,
                                             description="custom walking speed")] = None,
    crs: Annotated[Crs, Query(description="coordinate system of the answer (`gcj02`: "
                                          "Amap, Tencent, WeChat)")] = "wgs84",
) -> dict:
    budget = budget_for(profile or settings.default_profile, minutes, speed_kmh)
    params = _params(settings)
    networks = app_networks(request, conn)
    found = stored_circle(conn, point, budget.minutes, profile_key(budget), networks=networks,
                          params=params)
    if found is not None and not found["properties"]["stale"]:
        return feature_in_crs(found, crs)
    # not computed (or stale): compute it now, without storing
    p = require_point(conn, point)
    circle = circles_at(networks, [p.lng], [p.lat], budget, params=params)[0]
    return feature_in_crs(circle_feature(circle, point_code=p.code, stored=False, stale=False),
                          crs)


@router.post("/isochrones", operation_id="create_isochrone", response_model=IsochroneFeature,
             summary="Ad-hoc service circle from any location: what can I reach from home?",
             description="The walking circle from `lng`/`lat` given in `crs`; the answer's "
                         "polygon and `lng`/`lat` are in the same `crs` (named by its "
                         "top-level `crs`). Off every walking network: a straight-line "
                         "circle of the budget, `method: straight_line`.",
             responses={200: {"content": {"application/json": {
                 "example": ISOCHRONE_EXAMPLE}}}})
def post_isochrone(
    body: IsochroneRequest,
    request: Request,
    conn: Annotated[Connection, Depends(get_conn)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> dict:
    budget = budget_for(body.profile or settings.default_profile, body.minutes, body.speed_kmh)
    lng, lat = query_point(body.lng, body.lat, body.crs)
    # off every network: a straight-line circle, marked as such
    networks = app_networks(request, conn)
    circle = circles_at(networks, [lng], [lat], budget, params=_params(settings))[0]
    out = feature_in_crs(circle_feature(circle, lng=lng, lat=lat, stored=False), body.crs)
    # the location as it was asked (the conversion round trip is within 1e-9°)
    out["properties"]["lng"], out["properties"]["lat"] = body.lng, body.lat
    return out


def prepare_queries(app) -> tuple[Networks, PointSet]:
    """Load the ``/nearest`` snapshot now (at server start) rather than in the
    first resident's request."""
    return app.state.query_snapshot.load()


async def _query_data(state) -> tuple[Networks, PointSet]:
    """The app's current networks and points (``state``: ``app.state``)."""
    snapshot: QuerySnapshot = state.query_snapshot
    found = snapshot.fresh()
    if found is None:
        found = await run_in_threadpool(snapshot.load)
    return found


async def _nearest_body(state, lng: float, lat: float, crs: str, k: int,
                        profile: str | None, *, kind: str | None = None,
                        service: str | None = None, open_now: bool = False,
                        at: datetime | None = None) -> bytes:
    """The ``/nearest`` answer, for the route and for its front handler alike."""
    settings: Settings = state.settings
    when = instant(at)
    # the walking time of each result is given at the profile's speed
    budget = budget_for(profile or settings.default_profile, 10)
    wlng, wlat = query_point(lng, lat, crs)
    networks, points = await _query_data(state)
    network = network_for_query(networks, wlng, wlat, settings.max_snap_m)
    # runs on the event loop: the search takes a fraction of a millisecond, less
    # than handing it to the thread pool would cost
    features = nearest_in(points, network, wlng, wlat, k=k, budget=budget,
                          params=_params(settings), out_crs=crs, kind=kind, service=service,
                          open_now=open_now, at=when)
    query = {"lng": lng, "lat": lat, "crs": crs, "k": k, "profile": budget.profile,
             "at": when.isoformat(), "calendar_known": calendar_known(when)}
    for name, value in (("kind", kind), ("service", service)):
        if value is not None:
            query[name] = value
    if open_now:
        query["open_now"] = True
    return encode_json({"type": "FeatureCollection", "crs": crs, "features": features,
                        "query": query})


@router.get("/nearest", operation_id="nearest_points", response_model=NearestCollection,
            response_class=GeoJSONResponse,
            summary="The k service points nearest by walking, with distance and time",
            description="The `k` (1–50, default 5) positions nearest to `lng`/`lat` (in "
                        "`crs`; `gcj02` for WeChat's location) along the walking network, "
                        "nearest first, each with `walk_distance_m` (metres) and "
                        "`walk_minutes` at `profile`'s speed; off the network the distance "
                        "is straight-line (`method`). `kind`, `service`, `open_now` and `at` "
                        "filter; coordinates of the answer are in `crs`. Public, no token.")
async def nearest(
    request: Request,
    lng: Annotated[float, Query(ge=-180, le=180, description="longitude in `crs`",
                                openapi_examples={"lishui": {"value": 113.153}})],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude in `crs`",
                                openapi_examples={"lishui": {"value": 23.195}})],
    crs: Annotated[Crs, Query(description="coordinate system of `lng`/`lat` and of the "
                                          "answer (`gcj02`: Amap, Tencent, WeChat)")] = "wgs84",
    k: Annotated[int, Query(ge=1, le=50, description="how many points")] = 5,
    profile: Annotated[Profile | None, Query(
        description="walking speed of `walk_minutes` (default: the server's, elderly)")] = None,
    kind: Annotated[PointKind | None, Query(description="only positions of this kind")] = None,
    service: Annotated[Service | None, Query(
        description="only positions offering this service")] = None,
    open_now: Annotated[bool, Query(
        description="only positions open at `at` (default now), by their opening hours "
                    "and China's holiday calendar")] = False,
    at: Annotated[Instant | None, Query(
        description="instant of `open_now` and of each result's state (ISO 8601; without "
                    "offset: China time)")] = None,
) -> Response:
    body = await _nearest_body(request.app.state, lng, lat, crs, k, profile,
                               kind=kind.value if kind else None,
                               service=service.value if service else None,
                               open_now=open_now, at=at)
    return Response(body, media_type=GEOJSON)


# A plain decimal number, as every map SDK writes coordinates (no exponent, inf or nan).
_DECIMAL = re.compile(rb"-?\d{1,3}(\.\d{1,15})?")
_CRS = {c.encode(): c for c in get_args(Crs)}
_PROFILES = {p.encode(): p for p in get_args(Profile)}


async def nearest_front(state, query: bytes) -> bytes | None:
    """``/nearest`` for the front of the app (see :class:`api.app.RequestHygiene`).

    FastAPI 0.165 spends about 0.4 ms per request routing and solving the
    declared query parameters, twice what the search itself costs, so the
    front answers the plainest well-formed queries itself: ``lng`` and ``lat``
    as decimals within range, optional ``crs``, ``k`` and ``profile`` with
    allowed values, each once and nothing else. Anything else (and any error)
    returns None and goes to the route, which validates, answers and reports
    problems as usual; a test checks both give the same bytes.
    """
    fields: dict[bytes, bytes] = {}
    for part in query.split(b"&"):
        key, eq, value = part.partition(b"=")
        if not eq or key in fields or b"%" in value or b"+" in value:
            return None
        fields[key] = value
    lng, lat = fields.pop(b"lng", None), fields.pop(b"lat", None)
    crs, k = fields.pop(b"crs", b"wgs84"), fields.pop(b"k", b"5")
    profile = fields.pop(b"profile", None)
    if (fields or lng is None or lat is None or not _DECIMAL.fullmatch(lng)
            or not _DECIMAL.fullmatch(lat) or crs not in _CRS or not k.isdigit()
            or len(k) > 2 or (profile is not None and profile not in _PROFILES)):
        return None
    x, y, n = float(lng), float(lat), int(k)
    if not (-180 <= x <= 180 and -90 <= y <= 90 and 1 <= n <= 50):
        return None
    try:
        return await _nearest_body(state, x, y, _CRS[crs], n,
                                   None if profile is None else _PROFILES[profile])
    except Exception:  # the route answers it again, with the proper problem
        return None


#: Handlers the app's front may answer GETs of these paths with (see api.app).
FRONT_ROUTES = {"/api/v1/nearest": nearest_front}
