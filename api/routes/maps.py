"""Map pages and images: the resident map, its embeddable twin, the planner
map, static images for articles, the mini-program ground overlay and
GCJ-02 GeoJSON, and the static assets the pages load (no CDN)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from api import examples as ex
from api.caching import build_in_thread, not_modified
from api.deps import get_conn, get_settings, public_base, read_engine
from api.limits import expensive_work
from api.routes.tiles import CacheBuster, tile_service
from api.settings import Settings
from geo.cache import VersionedCache, etag_of
from geo.crs import BBOX_PATTERN
from geo.errors import InvalidInput, NotFound
from geo.vocab import PointKind
from maps.assets import STATIC_PATH, asset
from maps.embed import OVERLAY_LAYERS_PATTERN
from maps.fonts import TEXT_PATTERN
from maps.layers import LAYERS

router = APIRouter(tags=["maps"])

#: the tables the planner page shows besides its layers' (wishes per cell,
#: activities, the OSM facilities)
PLANNER_RESIDENT_TABLES = ("wishes", "wish_claims", "activities", "service_points",
                           "grid_cells", "facilities")

Region = Annotated[str | None, Query(pattern=r"^\d{6,12}$", description="division code")]
BasemapKey = Annotated[Literal["offline", "osm", "tianditu", "amap", "tencent"] | None,
                       Query(description="basemap; default offline for synthetic data")]


def _pages(request: Request) -> VersionedCache[tuple[bytes, str]]:
    """The app's rendered pages, keyed by their parameters and tagged with the
    data versions of the layers they show."""
    return request.app.state.map_pages


async def _page(request: Request, key: tuple, layers: tuple[str, ...],
                build: Callable[[tuple[str, ...]], bytes], *,
                tables: tuple[str, ...] = ()) -> tuple[bytes, str]:
    """A page's bytes and ETag: from the cache on the event loop when the data
    versions are fresh (no database, no thread), else in the thread pool, built
    when missing (``build`` gets the versions of ``layers``). ``tables``: what
    else the page shows (not a tile layer), whose versions it follows too."""
    svc = tile_service(request)
    tags = [svc.versions.fresh_tag(LAYERS[name].tables) for name in layers]
    if tables:
        tags.append(svc.versions.fresh_tag(tables))
    if None not in tags:
        found = _pages(request).get(key, tuple(tags))
        if found is not None:
            return found

    def slow() -> tuple[bytes, str]:
        versions = _versions(request, *layers)
        tag = versions + ((svc.versions.get_tag(tables),) if tables else ())

        def make() -> tuple[bytes, str]:
            body = build(versions)
            return body, etag_of(body)

        return _pages(request).get_or_build(key, tag, make)

    return await build_in_thread(request.app.state, slow)


def _prefix(request: Request) -> str:
    return request.scope.get("root_path", "") or ""


def _versions(request: Request, *layers: str) -> tuple[str, ...]:
    svc = tile_service(request)
    return tuple(svc.layer_version(LAYERS[name]) for name in layers)


def _html(request: Request, body: bytes, etag: str, settings: Settings) -> Response:
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.cache_max_age_s}"}
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(body, headers=headers)


async def _resident(request: Request, settings: Settings, *, region: str | None,
                    basemap: str | None, point: str | None, service: str | None,
                    embed: bool) -> Response:
    from maps.resident import resident_html

    key = ("resident", region, basemap, point, service, embed, _prefix(request))

    def build(versions: tuple[str, ...]) -> bytes:
        with read_engine(request).connect() as conn:
            return resident_html(conn, settings, region=region, basemap=basemap, point=point,
                                 service=service, embed=embed, prefix=_prefix(request),
                                 basemap_version=versions[1]).encode("utf-8")

    try:
        body, etag = await _page(request, key, ("points", "basemap"), build)
    except (NotFound, InvalidInput) as exc:
        return _error_html(request, exc, "/embed/resident" if embed else "/maps/resident")
    return _html(request, body, etag, settings)


def _error_html(request: Request, exc: Exception, home: str) -> HTMLResponse:
    """A map link that cannot be shown: a Chinese page (404 or 422), not JSON."""
    from maps.pages import error_page

    if isinstance(exc, NotFound):
        title, status = "没有找到这张地图", 404
        region = request.query_params.get("region")
        detail = (f"链接里的地区编码“{region}”不存在，或这个地区还没有服务阵地数据。"
                  if region else "链接指向的内容不存在。")
    else:
        title, status = "链接参数有误", 422
        detail = "链接里的参数不正确：" + "；".join(
            f"{p.column or ''}={p.value!r}（{p.message}）" if p.value is not None
            else f"{p.column or ''}（{p.message}）" for p in getattr(exc, "problems", []) or []
        ) if getattr(exc, "problems", None) else "链接里的参数不正确。"
    prefix = _prefix(request)
    from api.problems import TYPE_BASE

    kind = "not-found" if status == 404 else "invalid-input"
    return HTMLResponse(error_page(title, detail, home=prefix + home, prefix=prefix),
                        status_code=status, headers={"Cache-Control": "no-store",
                                                     "X-Problem-Type": TYPE_BASE + kind})


@router.get("/maps/resident", response_class=HTMLResponse, operation_id="resident_map",
            summary="居民版党群服务地图 (phone-first resident map page)",
            description="An HTML page for residents' phones: the service positions of "
                        "`region` on a map (`basemap`; offline by default for the sample "
                        "data) with cards (hours, open now, phone, navigation by Amap or "
                        "Tencent), search, a service filter, nearest-by-walking and the "
                        "10-minute circle; `point` opens a position's card, `service` "
                        "preselects the filter. Public and cached (ETag); a bad link gets a "
                        "Chinese error page (404/422).")
async def resident_map(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    region: Region = None,
    basemap: BasemapKey = None,
    point: Annotated[str | None, Query(max_length=64, description="open this point's card")]
    = None,
    service: Annotated[str | None, Query(max_length=32, description="preselected service")]
    = None,
) -> Response:
    return await _resident(request, settings, region=region, basemap=basemap, point=point,
                           service=service, embed=False)


@router.get("/embed/resident", response_class=HTMLResponse, operation_id="embed_resident_map",
            summary="The resident map as a minimal page for a WeChat web-view or an iframe",
            description="The resident map without the page chrome, for a mini-program's "
                        "`<web-view>` or an `<iframe>` (framing allowed for the origins of "
                        "`SERVICEMAP_FRAME_ANCESTORS`). Same parameters as `/maps/resident`; "
                        "public HTML, cached (ETag).")
async def embed_resident_map(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    region: Region = None,
    basemap: BasemapKey = None,
    point: Annotated[str | None, Query(max_length=64)] = None,
    service: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    return await _resident(request, settings, region=region, basemap=basemap, point=point,
                           service=service, embed=True)


@router.get("/maps/wishes", response_class=HTMLResponse, operation_id="wish_wall_page",
            summary="心愿墙: the public wish wall page of a region",
            description="An HTML page for residents' phones (no script): the street's "
                        "figures of wishes and projects, a filter by `category`, and every "
                        "published wish with its moderated text, village and grid cell, month "
                        "and claimants — never a resident's name, phone, address or home. A "
                        "link back to the resident map to post a wish. Public (ETag); a bad "
                        "link gets a Chinese error page (404/422).")
async def wish_wall_page(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    region: Region = None,
    category: Annotated[str | None, Query(max_length=16, description="a category slug")]
    = None,
) -> Response:
    from fastapi.concurrency import run_in_threadpool

    from maps.wishes import wall_html

    def build() -> bytes:
        with read_engine(request).connect() as conn:
            return wall_html(conn, region, category=category,
                             prefix=_prefix(request)).encode("utf-8")

    try:
        body = await run_in_threadpool(build)
    except (NotFound, InvalidInput) as exc:
        return _error_html(request, exc, "/maps/resident")
    return _html(request, body, etag_of(body), settings)


@router.get(STATIC_PATH + "/{path:path}", include_in_schema=False)
def static_asset(request: Request, path: str, v: CacheBuster = None) -> Response:
    a = asset(path)
    if a is None:
        raise NotFound(f"未找到静态文件 {path!r}")
    headers = {"ETag": a.etag, "Cache-Control": "public, max-age=604800"}
    if not_modified(request.headers, a.etag):
        return Response(status_code=304, headers=headers)
    return Response(a.data, media_type=a.media_type, headers=headers)


@router.get("/maps/planner", response_class=HTMLResponse, operation_id="planner_map",
            summary="规划版地图: circles, coverage per village/grid, uncovered compounds, "
                    "branch coverage, proposed sites (public, aggregate only)",
            description="An HTML page for planners: service circles, coverage per village and "
                        "grid cell, uncovered compounds, branch coverage, walking-time "
                        "heatmap and `sites` proposed new sites (greedy). The page is public "
                        "(aggregates only) and cached; with `scenario` it reads that saved "
                        "scenario from the API with the planner's token. The residents' side: "
                        "wishes per grid cell (open, unclaimed, overdue; cells under 3 wishes "
                        "outline only) and the centers' activities per month of `year` "
                        "(default this year) with those that missed the monthly rule.")
async def planner_map(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    region: Region = None,
    basemap: Annotated[Literal["offline", "osm", "tianditu"] | None, Query()] = None,
    sites: Annotated[int, Query(ge=0, le=10, description="proposed new sites (greedy)")] = 0,
    scenario: Annotated[int | None, Query(ge=1, le=2_147_483_647, description=(
        "a saved scenario shown beside today (the page reads it with the planner's "
        "token; the page itself is the same for everyone)"))] = None,
    year: Annotated[int | None, Query(ge=1990, le=2100, description=(
        "the year of the activity table (default: this year, Beijing time)"))] = None,
) -> Response:
    from geo.residents.activities import SHANGHAI
    from maps.planner import planner_html

    # overdue wishes and months that are over follow the calendar, not only the data
    today = datetime.now(SHANGHAI).date().isoformat()
    key = ("planner", region, basemap, sites, year, today, _prefix(request))

    def build(versions: tuple[str, ...]) -> bytes:
        with (expensive_work(request) if sites else nullcontext()), \
                read_engine(request).connect() as conn:
            return planner_html(conn, settings, region=region, basemap=basemap,
                                prefix=_prefix(request), basemap_version=versions[-1],
                                tile_version=versions[1], walk_version=versions[-2],
                                sites=sites, year=year).encode("utf-8")

    try:
        body, etag = await _page(request, key, ("coverage", "circles", "grids", "compounds",
                                                "walktime", "basemap"), build,
                                 tables=PLANNER_RESIDENT_TABLES)
    except (NotFound, InvalidInput) as exc:
        return _error_html(request, exc, "/maps/planner")
    return _html(request, body, etag, settings)


@router.get("/maps/planner/sites.json", operation_id="planner_map_sites",
            summary="Proposed new sites for the planner map's button (greedy; public: "
                    "locations and newly covered people only)",
            description="The planner map's 建议新增站点 button asks this: `k` sites that "
                        "newly cover the most people at the page's minutes and profile, as a "
                        "GeoJSON FeatureCollection in WGS-84 (`rank`, `population_new`, "
                        "`population_pct_after`, a Chinese `label`). Seconds for a town; the "
                        "answer is cached until positions, circles or buildings change.",
            responses=ex.answer(ex.PLANNER_SITES))
async def planner_map_sites(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings)],
    region: Region = None,
    k: Annotated[int, Query(ge=1, le=10, description="how many sites")] = 3,
) -> Response:
    import json

    from api.deps import app_networks
    from maps.planner import planner_sites

    key = ("planner-sites", region, k)

    def build(versions: tuple[str, ...]) -> bytes:
        with expensive_work(request), read_engine(request).connect() as conn:
            fc = planner_sites(conn, settings, region=region, k=k,
                               networks=app_networks(request, conn))
        return json.dumps(fc, ensure_ascii=False).encode("utf-8")

    body, etag = await _page(request, key, ("coverage", "circles", "compounds", "walktime"),
                             build)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.cache_max_age_s}"}
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)


def _resident_url(request: Request, region: str | None, settings: Settings) -> str:
    base = public_base(request)
    return f"{base.rstrip('/')}/maps/resident" + (f"?region={region}" if region else "")


async def _static(request: Request, settings: Settings, fmt: str, region: str | None,
                  width: int, title: str | None, subtitle: str | None) -> Response:
    from maps.static import qr_unreachable, render_static

    key = ("static", fmt, region, width, title, subtitle, public_base(request))

    def build(versions: tuple[str, ...]) -> bytes:
        with expensive_work(request), read_engine(request).connect() as conn:
            img = render_static(conn, region=region, width=width, fmt=fmt, title=title,
                                subtitle=subtitle, url=_resident_url(request, region, settings),
                                minutes=float(settings.default_minutes),
                                profile=settings.default_profile, basemap_version=versions[2])
        return img.data

    body, etag = await _page(request, key, ("points", "circles", "basemap"), build)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.cache_max_age_s}",
               "Content-Disposition": f'inline; filename="servicemap-{region or "map"}.{fmt}"'}
    if qr_unreachable(target := _resident_url(request, region, settings)):
        # the image says so in Chinese; the header for scripts (ASCII only)
        headers["X-ServiceMap-Warning"] = (
            f"qr-unreachable: the QR code leads to {urlsplit(target).hostname}, which a "
            "phone cannot open; set SERVICEMAP_PUBLIC_URL")
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/png" if fmt == "png" else "image/jpeg",
                    headers=headers)


Width = Annotated[int, Query(ge=400, le=3000, description="image width, pixels")]
Title = Annotated[str | None, Query(max_length=40, pattern=TEXT_PATTERN,
                                    description="title (Chinese, Latin, digits, punctuation)")]
Subtitle = Annotated[str | None, Query(max_length=60, pattern=TEXT_PATTERN,
                                       description="subtitle (as the title)")]


@router.get("/maps/static.png", operation_id="static_map_png", response_class=Response,
            summary="Static map image for a WeChat article (PNG, under 1 MB)",
            description="A map image of `region`'s positions and walking circles with a "
                        "title, subtitle, legend and a QR code to the resident map, `width` "
                        "pixels wide (400–3000, default 1080); `format=jpg` for JPEG. Public "
                        "and cached (ETag); `X-ServiceMap-Warning` says when the QR code "
                        "leads to an address a phone cannot open.",
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}})
async def static_png(request: Request,
               settings: Annotated[Settings, Depends(get_settings)], region: Region = None,
               width: Width = 1080, title: Title = None, subtitle: Subtitle = None,
               format: Annotated[Literal["png", "jpg"], Query()] = "png") -> Response:
    return await _static(request, settings, format, region, width, title, subtitle)


@router.get("/maps/static.jpg", operation_id="static_map_jpg", response_class=Response,
            summary="Static map image for a WeChat article (JPEG, under 1 MB)",
            description="The static map image of `/maps/static.png` as JPEG: `region`, "
                        "`width` in pixels (400–3000, default 1080), `title` and `subtitle`. "
                        "Public and cached (ETag); the same `X-ServiceMap-Warning` header.",
            responses={200: {"content": {"image/jpeg": {}}}})
async def static_jpg(request: Request,
               settings: Annotated[Settings, Depends(get_settings)], region: Region = None,
               width: Width = 1080, title: Title = None, subtitle: Subtitle = None) -> Response:
    return await _static(request, settings, "jpg", region, width, title, subtitle)


OverlayLayers = Annotated[str, Query(max_length=80, pattern=OVERLAY_LAYERS_PATTERN,
                                     description="comma-separated layers: "
                                     "regions, grids, compounds, coverage, circles, points")]
#: the box of an overlay: two opposite corners (the answer says where it lies)
OverlayBox = Annotated[str, Query(max_length=120, pattern=BBOX_PATTERN,
                                  description="two opposite corners, lng,lat,lng,lat (degrees "
                                              "in `crs`); held to at most 0.6° a side about "
                                              "its centre")]


def _overlay(request: Request, conn: Connection, settings: Settings, bbox: str, crs: str,
             layers: str, width: int):
    from maps.embed import overlay_bbox, overlay_png

    box = overlay_bbox(bbox)
    names = tuple(layers.split(","))
    return overlay_png(conn, box, crs=crs, layers=names, width=width,
                       params={"minutes": float(settings.default_minutes),
                               "profile": settings.default_profile})


@router.get("/maps/overlay.png", operation_id="ground_overlay_png", response_class=Response,
            summary="Transparent PNG over a bounding box for MapContext.addGroundOverlay",
            description="A transparent PNG of `layers` (circles and points by default) drawn "
                        "over `bbox` (lng,lat,lng,lat in `crs`, GCJ-02 by default as WeChat's "
                        "map takes it; at most 0.6° a side), `width` pixels wide. "
                        "`X-Overlay-Bounds` and `X-Overlay-CRS` say where it lies; public, "
                        "no token.",
            responses={200: {"content": {"image/png": {}}}})
def overlay_image(request: Request, conn: Annotated[Connection, Depends(get_conn)],
                  settings: Annotated[Settings, Depends(get_settings)],
                  bbox: OverlayBox,
                  crs: Annotated[Literal["gcj02", "wgs84"], Query()] = "gcj02",
                  layers: OverlayLayers = "circles,points",
                  width: Annotated[int, Query(ge=64, le=2048)] = 1024) -> Response:
    ov = _overlay(request, conn, settings, bbox, crs, layers, width)
    w, s, e, n = ov.bbox
    return Response(ov.data, media_type="image/png", headers={
        "Cache-Control": f"public, max-age={settings.cache_max_age_s}",
        "X-Overlay-Bounds": f"{w},{s},{e},{n}", "X-Overlay-CRS": ov.crs,
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "X-Overlay-Bounds, X-Overlay-CRS"})


@router.get("/maps/overlay.json", operation_id="ground_overlay_json",
            summary="The ground overlay's image URL and bounds, as addGroundOverlay takes them",
            description="The options object for a mini-program's "
                        "`MapContext.addGroundOverlay`: `src` (the `/maps/overlay.png` URL of "
                        "the same parameters), `bounds` (south-west and north-east corners in "
                        "`crs`, GCJ-02 by default), opacity and z-index. Public, no token.",
            responses=ex.answer(ex.OVERLAY))
def overlay_json(request: Request, settings: Annotated[Settings, Depends(get_settings)],
                 bbox: OverlayBox,
                 crs: Annotated[Literal["gcj02", "wgs84"], Query()] = "gcj02",
                 layers: OverlayLayers = "circles,points",
                 width: Annotated[int, Query(ge=64, le=2048)] = 1024) -> dict:
    from urllib.parse import urlencode

    from maps.embed import overlay_bbox

    w, s, e, n = overlay_bbox(bbox)
    base = public_base(request)
    src = f"{base}/maps/overlay.png?" + urlencode({"bbox": bbox, "crs": crs, "layers": layers,
                                                   "width": width})
    return {"id": 1, "src": src, "crs": crs, "opacity": 1, "zIndex": 1, "visible": True,
            "bounds": {"southwest": {"latitude": s, "longitude": w},
                       "northeast": {"latitude": n, "longitude": e}}}


#: the coordinate system of the mini-program helpers (``/maps/geojson``,
#: ``/embed/markers.json``): GCJ-02 by default, as WeChat's ``<map>`` takes it
MiniProgramCrs = Annotated[Literal["gcj02", "wgs84", "bd09"], Query(
    description="coordinate system of the answer (default `gcj02`, as WeChat's, Amap's "
                "and Tencent's maps take it; the answer's `crs` names it)")]


@router.get("/maps/geojson/{layer}", operation_id="map_layer_geojson",
            summary="A layer as GeoJSON (crs=gcj02 for mini-program markers and polygons)",
            description="The public attributes of a layer in a region (default: the main "
                        "town) as a GeoJSON FeatureCollection. Made for mini-programs, it "
                        "answers in GCJ-02 unless `crs` says otherwise (the `/api/v1` routes "
                        "default to WGS-84); the top-level `crs` names the one used.",
            responses={200: {"content": {"application/json": {"example": {
                "type": "FeatureCollection", "crs": "gcj02", "region": "440605126",
                "synthetic": True, "layer": {"name": "points", "title": "服务阵地"},
                "features": [{"type": "Feature", "id": "LS-0001", "geometry": {
                    "type": "Point", "coordinates": [113.1843, 23.1957]},
                    "properties": {"code": "LS-0001", "name": "里水镇党群服务中心"}}]}}}}})
def map_geojson(conn: Annotated[Connection, Depends(get_conn)],
                settings: Annotated[Settings, Depends(get_settings)],
                layer: Literal["points", "circles", "regions", "compounds", "grids"],
                region: Region = None,
                crs: MiniProgramCrs = "gcj02") -> dict:
    from maps.embed import layer_geojson

    return layer_geojson(conn, layer, region=region, crs=crs,
                         params={"minutes": float(settings.default_minutes),
                                 "profile": settings.default_profile})


@router.get("/embed/markers.json", operation_id="miniprogram_markers",
            summary="markers for a mini-program <map> component (GCJ-02)",
            description="One marker per service point of a region, as the `markers` "
                        "attribute of WeChat's `<map>` takes them (icon, callout, "
                        "`customData.code`); coordinates in `crs`, GCJ-02 by default.",
            responses=ex.answer(ex.MARKERS))
def markers(request: Request, conn: Annotated[Connection, Depends(get_conn)],
            region: Region = None, crs: MiniProgramCrs = "gcj02") -> dict:
    from maps.embed import miniprogram_markers

    base = public_base(request)
    return {"crs": crs, "markers": miniprogram_markers(conn, region=region, icon_base=base,
                                                       crs=crs)}


@router.get("/maps/icons/{kind}.png", operation_id="marker_icon", response_class=Response,
            summary="Marker icon of a point kind (64 px PNG)",
            description="The 64 × 64 px PNG marker of a point `kind`, as the `iconPath` of "
                        "`/embed/markers.json` names it; the same for every region. Public, "
                        "`Cache-Control: public, max-age=86400` (a day).",
            responses={200: {"content": {"image/png": {}}}})
def marker_icon(kind: PointKind) -> Response:
    from maps.embed import kind_icon_png

    return Response(kind_icon_png(kind.value), media_type="image/png",
                    headers={"Cache-Control": "public, max-age=86400"})
