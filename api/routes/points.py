"""Public service points (no token): GeoJSON in the caller's coordinate system."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from api import examples as ex
from api.caching import cached_public
from api.schemas import (
    CODE_PATTERN,
    REGION_PATTERN,
    Instant,
    OutputCrs,
    PointCollection,
    PointFeature,
)
from geo import holidays
from geo.crs import BBOX_PATTERN, parse_bbox
from geo.editing import check_text
from geo.errors import InvalidInput, NotFound, Problem
from geo.hours import CHINA_TZ
from geo.points import query_points
from geo.vocab import PointKind, Service

router = APIRouter(prefix="/api/v1", tags=["points"])

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """Documents ``application/geo+json`` bodies (routes return prepared bytes)."""

    media_type = GEOJSON


def instant(at: datetime | None) -> datetime:
    """The instant in China time (naive: already China time); now when None.

    An instant a client asks about must fall in a year China's holiday
    calendar knows (:mod:`geo.holidays`): otherwise whether a position that
    closes on holidays is open cannot be said, and the answer is a 400. "Now"
    past the calendar's last year is answered from the weekly hours
    (``calendar_known: false`` in the answer). "Now" is taken to the minute.
    """
    if at is None:  # to the minute: answers are cached per minute
        return datetime.now(CHINA_TZ).replace(second=0, microsecond=0)
    try:
        when = at.replace(tzinfo=CHINA_TZ) if at.tzinfo is None else at.astimezone(CHINA_TZ)
    except (OverflowError, ValueError):
        raise InvalidInput("查询参数不正确", [Problem(
            "时间超出可表示的范围", column="query.at", value=str(at),
            expected="an ISO 8601 instant between years 1 and 9999")]) from None
    if not holidays.known(when.date()):
        raise InvalidInput("查询参数不正确", [Problem(
            f"节假日日历不包含 {when.year} 年，无法判断该时间是否开放", column="query.at",
            value=at.isoformat(),
            expected=f"an instant in {holidays.FIRST_YEAR}–{holidays.LAST_YEAR} "
                     "(China time)")])
    return when


def calendar_known(when: datetime) -> bool:
    """Whether the holiday calendar knows the year of ``when``."""
    return holidays.known(when.date())





@router.get(
    "/points", operation_id="list_points", response_model=PointCollection,
    response_class=GeoJSONResponse,
    summary="Service points as a GeoJSON FeatureCollection",
    description="Filters combine with AND. `region` includes everything below it (a town "
                "code gives all its villages' points). `open_now` is evaluated in China time "
                "(Asia/Shanghai) at the request time or at `at`. Paging: `limit` is capped at "
                "the server's maximum (see `limit` in the answer).",
    responses=ex.answer(ex.POINTS, media_type=GEOJSON))
async def list_points(
    request: Request,
    kind: Annotated[PointKind | None, Query(description="kind of position")] = None,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN,
                                        description="division code (and below)",
                                        openapi_examples={"lishui": {"value": "440605126"}})
                      ] = None,
    service: Annotated[list[Service] | None, Query(
        description="services the point must all offer (repeat the parameter)")] = None,
    open_now: Annotated[bool | None, Query(description="only points open (true) or closed "
                                                       "(false) now")] = None,
    at: Annotated[Instant | None, Query(description="instant for `open_now` (ISO 8601; "
                                                     "without offset: China time)")] = None,
    bbox: Annotated[str | None, Query(
        max_length=200, pattern=BBOX_PATTERN,
        description="two opposite corners, lng,lat,lng,lat in `crs` (e.g. "
                    "min_lng,min_lat,max_lng,max_lat)",
        openapi_examples={"lishui": {"value": "113.0,23.1,113.3,23.3"}})] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100,
                                   description="part of the name or address")] = None,
    crs: Annotated[OutputCrs, Query(description="coordinate system of the answer and `bbox`")
                   ] = "wgs84",
    limit: Annotated[int, Query(ge=1, description="page size (capped at the maximum)")] = 1000,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    box = parse_bbox(bbox, column="query.bbox") if bbox is not None else None
    if q is not None:
        problems: list[Problem] = []
        q = check_text(q, field_name="query.q", max_len=100, problems=problems)
        if problems:
            raise InvalidInput("查询参数不正确", problems)
    limit = min(limit, request.app.state.settings.page_max)
    when = instant(at)
    services = [s.value for s in service] if service else None

    def build(conn):
        page = query_points(conn, region=region, kind=kind.value if kind else None,
                            services=services, bbox=box, q=q, open_now=open_now, at=when,
                            crs=crs, limit=limit, offset=offset)
        return {"type": "FeatureCollection", "crs": crs, "at": when.isoformat(),
                "calendar_known": calendar_known(when), "features": page.features,
                "numberMatched": page.number_matched,
                "numberReturned": len(page.features), "limit": limit, "offset": offset}

    return await cached_public(request, build, media_type=GEOJSON, per_minute=at is None)


@router.get(
    "/points/{code}", operation_id="get_point", response_model=PointFeature,
    response_class=GeoJSONResponse,
    summary="One service point (GeoJSON Feature)",
    description="The public attributes of the point `code`: kind, address, opening hours "
                "and `open_now`/`next_open` (China time, at the request time or `at`, by "
                "China's holiday calendar), services, phone. The geometry is in `crs` "
                "(default WGS-84; `gcj02` for Amap, Tencent and WeChat maps). Public, "
                "cached (ETag); 404 for an unknown or deleted point.",
    responses=ex.answer(ex.POINT, media_type=GEOJSON))
async def get_point(
    request: Request,
    code: Annotated[str, Path(pattern=CODE_PATTERN, description="the point's code",
                              openapi_examples={"center": {"value": "LS-P-0001"}})],
    crs: Annotated[OutputCrs, Query()] = "wgs84",
    at: Annotated[Instant | None, Query(description="instant for `open_now`")] = None,
) -> Response:
    when = instant(at)

    def build(conn):
        found = query_points(conn, code=code, crs=crs, at=when, limit=1).features
        if not found:
            raise NotFound(f"没有编码为“{code}”的服务阵地")
        return {"type": found[0]["type"], "crs": crs,
                **{k: v for k, v in found[0].items() if k != "type"}}

    return await cached_public(request, build, media_type=GEOJSON, per_minute=at is None)
