"""Public administrative divisions (no token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api import examples as ex
from api.caching import cached_public
from api.routes.points import GeoJSONResponse
from api.schemas import REGION_PATTERN, OutputCrs, RegionFeature, RegionTree
from geo.regions import get_region, region_tree

router = APIRouter(prefix="/api/v1", tags=["regions"])


@router.get("/regions", operation_id="list_regions", response_model=RegionTree,
            summary="All regions as a tree (county → town/street → village/community)",
            description="Each node counts the service points in it and below it. No "
                        "geometries: ask `/api/v1/regions/{code}` for one region's outline.")
async def list_regions(request: Request) -> Response:
    return await cached_public(request, lambda conn: {"regions": region_tree(conn)})


@router.get("/regions/{code}", operation_id="get_region", response_model=RegionFeature,
            response_class=GeoJSONResponse,
            summary="One region as a GeoJSON Feature with its outline",
            description="A division (county, town/street or village/community) by its code: "
                        "name, level, area in km², service points in it and below, its "
                        "ancestors and children, `bbox` and the outline (MultiPolygon) in "
                        "`crs` (default WGS-84); `geometry=false` leaves the outline out. "
                        "Public and cached.",
            responses=ex.answer(ex.REGION, media_type="application/geo+json"))
async def get_region_route(
    request: Request,
    code: Annotated[str, Path(pattern=REGION_PATTERN, description="division code",
                              openapi_examples={"lishui": {"value": "440605126"}})],
    crs: Annotated[OutputCrs, Query(description="coordinate system of the outline")] = "wgs84",
    geometry: Annotated[bool, Query(description="include the outline")] = True,
) -> Response:
    def build(conn):
        found = get_region(conn, code, crs=crs, geometry=geometry)
        return {"type": found["type"], "crs": crs,
                **{k: v for k, v in found.items() if k != "type"}}

    return await cached_public(request, build, media_type="application/geo+json")
