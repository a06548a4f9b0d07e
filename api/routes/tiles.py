"""Vector (MVT) and raster (PNG) tiles of the layer registry, and TileJSON.

Warm tiles are answered from the process's tile cache without touching the
database (while the data versions are within ``cache_ttl_s``); cold ones are
rendered in the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from api import examples as ex
from api.caching import build_in_thread, not_modified
from api.deps import public_base
from api.settings import Settings
from geo.errors import InvalidInput, NotFound, Problem
from maps.layers import LAYERS
from maps.tiles import Tile, TileService, layer_extent, tilejson

router = APIRouter(tags=["tiles"])

#: ``?v=<data version>`` in tile URLs of TileJSON and pages: ignored by the
#: server, it makes browsers and CDNs fetch anew after the data changed.
CacheBuster = Annotated[str | None, Query(max_length=64, description="cache buster (ignored)")]


def tile_service(request: Request) -> TileService:
    """The app's tile service (it follows the app's data versions)."""
    return request.app.state.map_tiles


def tile_response(request: Request, tile: Tile) -> Response:
    """A tile with ETag, Cache-Control and (for MVT) pre-compressed gzip."""
    settings: Settings = request.app.state.settings
    headers = {"ETag": tile.etag, "Cache-Control": f"public, max-age={settings.cache_max_age_s}",
               "Vary": "Accept-Encoding", "Access-Control-Allow-Origin": "*"}
    if not_modified(request.headers, tile.etag):
        return Response(status_code=304, headers=headers)
    body = tile.data
    if tile.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = tile.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type=tile.media_type, headers=headers)


async def _tile(request: Request, layer: str, z: int, x: int, y: int, fmt: str) -> Response:
    svc = tile_service(request)
    tile = svc.cached(layer, z, x, y, fmt)
    if tile is None:
        tile = await build_in_thread(request.app.state, svc.tile, layer, z, x, y, fmt)
    return tile_response(request, tile)


@router.get("/tiles", operation_id="list_tile_layers", summary="The tile layers (registry)",
            description="Every layer of the tile registry with its title, geometry, formats "
                        "(`mvt` vector, `png` raster), zoom range and the URL of its TileJSON, "
                        "which gives the tile URLs "
                        "(`/tiles/{layer}/{z}/{x}/{y}.mvt|png`, XYZ, Web Mercator). Public, "
                        "no token.",
            responses=ex.answer(ex.TILE_LAYERS))
def list_layers(request: Request) -> dict:
    base = public_base(request)
    return {"layers": [{
        "name": s.name, "title": s.title, "description": s.description,
        "geometry": s.geometry, "formats": list(s.formats), "minzoom": s.minzoom,
        "maxzoom": s.maxzoom, "tilejson": f"{base}/tiles/{s.name}.json",
    } for s in LAYERS.values()]}


@router.get("/tiles/{layer}.json", operation_id="get_tilejson",
            summary="TileJSON 3.0.0 of a layer",
            description="The layer's tile URLs (with its data version as a cache buster), "
                        "zooms, WGS-84 `bounds` and a `center` where its data is: in the "
                        "region `region` names (bounds too are then the region's), else in "
                        "the town with the most of the layer's data (not the middle of the "
                        "bounds, which between two towns lies in empty country).",
            responses={200: {"content": {"application/json": {"example": {
                "tilejson": "3.0.0", "name": "points", "scheme": "xyz",
                "tiles": ["https://servicemap.example/tiles/points/{z}/{x}/{y}.mvt?v=12"],
                "minzoom": 8, "maxzoom": 20,
                "bounds": [113.12, 23.16, 116.75, 23.39], "center": [113.179, 23.198, 13],
                "vector_layers": [{"id": "points", "fields": {"name": "String"}}]}}}}})
def get_tilejson(request: Request, layer: str,
                 format: Annotated[Literal["mvt", "png"] | None, Query(
                     description="tile format (default: the layer's first)")] = None,
                 region: Annotated[str | None, Query(
                     pattern=r"^\d{6,12}$", description="division code: center and bounds "
                                                      "on this region's data")] = None
                 ) -> dict:
    spec = LAYERS.get(layer)
    if spec is None:
        raise NotFound(f"没有名为“{layer}”的图层；可用图层：{'、'.join(LAYERS)}")
    if format is not None and format not in spec.formats:
        raise NotFound(f"图层“{layer}”没有 {format} 格式的瓦片")
    svc = tile_service(request)
    extent = layer_extent(svc.engine, spec, region=region)
    return tilejson(spec, public_base(request), fmt=format, bounds=extent.bounds,
                    center=extent.center, version=svc.layer_version(spec))


def _int(name: str, value: str, problems: list[Problem]) -> int:
    try:
        return int(value)
    except ValueError:
        problems.append(Problem("不是整数", column=name, value=value[:20],
                                expected="整数"))
        return 0


def _tile_endpoint(fmt: str):
    async def endpoint(request: Request) -> Response:
        unknown = [k for k in request.query_params if k != "v"]
        if unknown:
            raise RequestValidationError([{
                "loc": ("query", k), "msg": "未知的查询参数", "type": "extra_forbidden",
                "input": request.query_params.get(k)} for k in unknown])
        p = request.path_params
        problems: list[Problem] = []
        z, x, y = (_int(k, p[k], problems) for k in ("z", "x", "y"))
        if problems:
            raise InvalidInput("瓦片地址不正确", problems)
        return await _tile(request, p["layer"], z, x, y, fmt)

    endpoint.__name__ = f"get_{fmt}_tile"
    what = "Mapbox Vector Tile (EPSG:3857, extent 4096)" if fmt == "mvt" \
        else "256 px PNG raster tile"
    endpoint.__doc__ = (f"A {what} of a registered layer; ETag, Cache-Control, 304 on "
                        "If-None-Match; ``?v=`` is a cache buster.")
    return endpoint


# The tile routes are plain Starlette routes: a warm tile is answered from the
# cache without FastAPI's dependency machinery (the app-wide strict-query
# dependency runs in the thread pool; this route checks its query itself).
# They are listed by GET /tiles and in every TileJSON document.
router.add_route("/tiles/{layer}/{z}/{x}/{y}.mvt", _tile_endpoint("mvt"), methods=["GET"],
                 include_in_schema=False)
router.add_route("/tiles/{layer}/{z}/{x}/{y}.png", _tile_endpoint("png"), methods=["GET"],
                 include_in_schema=False)
