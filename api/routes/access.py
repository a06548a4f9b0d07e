"""Access from every home: walking time to the nearest position, the GB 50180
tiers and supply per resident (2SFCA), for today or for a saved scenario.

Public answers are aggregates (per town, village and grid cell; H3 cells with
at least three buildings). ``detail=true`` (a planner token for the region)
adds the buildings farthest from any position. ``format=csv|xlsx`` gives the
tables with Chinese headers. Every answer states the walking profile and
speed its minutes are at.
"""

# no ``from __future__ import annotations``: FastAPI reads the annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import text
from sqlalchemy.engine import Connection

from api import examples as ex
from api.deps import current_token
from api.limits import expensive
from api.routes.coverage import _answer, file_responses
from api.routes.points import instant
from api.schemas import Instant
from api.settings import Settings
from geo.coverage import access as ac
from geo.errors import Conflict, InvalidInput
from geo.tokens import Principal
from geo.vocab import PointKind, Service

router = APIRouter(prefix="/api/v1", tags=["access"])

REGION = r"^\d{6,12}$"
Profile = Literal["adult", "elderly"]

RegionQ = Annotated[str | None, Query(pattern=REGION, description="division code (default: "
                                      "the only town)")]
ProfileQ = Annotated[Profile | None, Query(description="walking profile of the minutes "
                                                       "(default: the server's, elderly "
                                                       "3.6 km/h)")]
SpeedQ = Annotated[float | None, Query(ge=1, le=20, description="explicit speed, km/h "
                                                                "(instead of a profile)")]
KindsQ = Annotated[list[PointKind] | None, Query(description="only positions of these kinds")]
ServicesQ = Annotated[list[Service] | None, Query(
    description="only positions offering all of these services")]
AtQ = Annotated[Instant | None, Query(
    description="only positions open at this instant (ISO 8601; China time without an "
                "offset), by their hours and China's holiday calendar")]
HexQ = Annotated[int, Query(ge=7, le=11, description="H3 resolution of the cells "
                                                     "(10: about 0.015 km²)")]
CatchQ = Annotated[float, Query(ge=1, le=60, description="2SFCA catchment, minutes")]
FormatQ = Annotated[Literal["json", "csv", "xlsx"], Query(
    description="json, or csv/xlsx with Chinese headers")]
ScenarioQ = Annotated[int | None, Query(ge=1, le=2_147_483_647,
                                        description="a saved scenario instead of today")]


def access_params(settings: Settings, profile: str | None, speed_kmh: float | None,
                  kinds: list[PointKind] | None, services: list[Service] | None,
                  at: datetime | None, hex_resolution: int = 10,
                  catchment_minutes: float = 15.0) -> ac.AccessParams:
    prof = "custom" if speed_kmh is not None else (profile or settings.default_profile)
    if prof == "standard":
        prof = "elderly"
    return ac.AccessParams(
        profile=prof, speed_kmh=speed_kmh,
        kinds=tuple(sorted({k.value for k in kinds or ()})),
        services=tuple(sorted({s.value for s in services or ()})),
        at=None if at is None else instant(at), max_snap_m=settings.max_snap_m,
        hex_resolution=hex_resolution, catchment_minutes=catchment_minutes).validated()


def access_run(request: Request, conn: Connection, region: str | None,
               params: ac.AccessParams, scenario: int | None = None) -> ac.AccessRun:
    """The run of ``params`` (today, or a saved scenario), computed once per data
    version and shared by the walk, tiers, supply answers and the heatmap tiles."""
    return shared_run(request.app.state, conn, region, params, scenario)


def shared_run(state: Any, conn: Connection, region: str | None, params: ac.AccessParams,
               scenario: int | None = None) -> ac.AccessRun:
    """:func:`access_run` for the app's ``state`` (also used outside requests)."""
    tag = state.data_versions.get_tag(None, conn)
    networks = state.network_cache.get(conn)
    if scenario is not None:
        from geo import scenarios

        key = ("scenario", scenario, region, params.key())
        return state.analyses.get_or_build(key, tag, lambda: scenarios.scenario_access(
            conn, scenario, params, networks=networks, region=region))
    key = ("access", region, params.key())
    return state.analyses.get_or_build(key, tag, lambda: ac.access_run(
        conn, region, params, networks=networks))


@router.get("/access", operation_id="get_access", responses=file_responses(ex.ACCESS),
            summary="Walking time from every home to the nearest position: people within "
                    "5/10/15 minutes, median and 90th percentile, per village and grid",
            description="Walking minutes from every building to the nearest position at "
                        "`profile` (default elderly, 3.6 km/h) or `speed_kmh`: people within "
                        "5/10/15 minutes, population-weighted median and 90th percentile "
                        "per town, village and grid cell, and the `farthest` H3 cells "
                        "(`hex_resolution`). `kinds`, `services` and `at` choose the "
                        "positions; `scenario` and `detail=true` need a planner token. "
                        "Public answers are cached per data version.")
async def get_access(
    request: Request,
    principal: Annotated[Principal | None, Depends(current_token)],
    _: Annotated[None, Depends(expensive)],
    region: RegionQ = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    services: ServicesQ = None,
    at: AtQ = None,
    hex_resolution: HexQ = 10,
    farthest: Annotated[int, Query(ge=1, le=500, description="farthest cells (and, with "
                                                              "detail, buildings) listed")] = 20,
    scenario: ScenarioQ = None,
    detail: Annotated[bool, Query(description="the farthest buildings (planner token)")] = False,
    format: FormatQ = "json",
) -> Response:
    settings: Settings = request.app.state.settings
    params = access_params(settings, profile, speed_kmh, kinds, services, at, hex_resolution)

    def build(conn: Connection) -> dict:
        run = access_run(request, conn, region, params, scenario)
        return ac.walk_report(run, farthest=farthest, detail=detail)

    return await _answer(request, build, view="access", fmt=format, name="access",
                         detail=detail or scenario is not None, principal=principal,
                         region=region)


@router.get("/access/tiers", operation_id="get_access_tiers",
            responses=file_responses(ex.TIERS),
            summary="GB 50180-2018 life-circle tiers: people within 5/10/15 minutes at the "
                    "standard's distances (300/500/1000 m) and at the chosen walking speed",
            description="For each tier (5, 10, 15 minutes) the people within the standard's "
                        "walking distance (300/500/1000 metres) and within the same minutes "
                        "at the chosen profile's speed, side by side, per town, village and "
                        "grid cell. Same parameters as `/api/v1/access`; "
                        "`format=csv|xlsx` for Excel.")
async def get_tiers(
    request: Request,
    principal: Annotated[Principal | None, Depends(current_token)],
    _: Annotated[None, Depends(expensive)],
    region: RegionQ = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    services: ServicesQ = None,
    at: AtQ = None,
    scenario: ScenarioQ = None,
    format: FormatQ = "json",
) -> Response:
    settings: Settings = request.app.state.settings
    params = access_params(settings, profile, speed_kmh, kinds, services, at)

    def build(conn: Connection) -> dict:
        return ac.tiers_report(access_run(request, conn, region, params, scenario))

    return await _answer(request, build, view="tiers", fmt=format, name="tiers",
                         detail=scenario is not None, principal=principal, region=region)


@router.get("/access/supply", operation_id="get_access_supply",
            responses=file_responses(ex.SUPPLY),
            summary="Supply per resident (2SFCA): square metres of service floor area per "
                    "resident within the catchment, per village and grid",
            description="Two-step floating catchment: each position's floor area (m²) "
                        "shared among the residents within `catchment_minutes` (default 15) "
                        "of walking, summed per home; answered as m² per resident and per "
                        "1000 residents per town, village and grid cell. Positions without "
                        "a floor area take their kind's median (`imputed`).")
async def get_supply(
    request: Request,
    principal: Annotated[Principal | None, Depends(current_token)],
    _: Annotated[None, Depends(expensive)],
    region: RegionQ = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    services: ServicesQ = None,
    at: AtQ = None,
    catchment_minutes: CatchQ = 15.0,
    scenario: ScenarioQ = None,
    format: FormatQ = "json",
) -> Response:
    settings: Settings = request.app.state.settings
    params = access_params(settings, profile, speed_kmh, kinds, services, at,
                           catchment_minutes=catchment_minutes)

    def build(conn: Connection) -> dict:
        return ac.supply_report(access_run(request, conn, region, params, scenario))

    return await _answer(request, build, view="supply", fmt=format, name="supply",
                         detail=scenario is not None, principal=principal, region=region)


# ------------------------------------------------------------- heatmap tiles
def walktime_provider(state: Any):
    """The provider of the ``walktime`` tile layer (:mod:`maps.tiles`): the H3
    cells near a tile with their walking minutes to the nearest position, from
    the same cached runs as ``/api/v1/access`` (every town the tile meets; a
    town without buildings or network has no cells)."""
    from maps.style import walk_band

    def provide(conn: Connection, bbox: tuple[float, float, float, float], zoom: int,
                layer: dict[str, Any]) -> dict[str, list[Any]]:
        params = access_params(state.settings, layer.get("profile"), None, None, None, None)
        towns = conn.execute(text(
            "SELECT code FROM regions WHERE level = 'town' AND geom IS NOT NULL "
            "AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) ORDER BY code"),
            {"x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3]}).scalars().all()
        out: dict[str, list[Any]] = {"wkb": [], "minutes": [], "band": [], "region_code": []}
        for code in towns:
            try:
                run = shared_run(state, conn, code, params)
            except (InvalidInput, Conflict):
                continue
            idx = ac.cells_in(run, bbox)
            if not len(idx):
                continue
            wkb = ac.hex_wkb(run)
            mpm = run.params.metres_per_minute
            for i in idx.tolist():
                m = float(run.h_m[i])
                minutes = round(m / mpm, 1) if math.isfinite(m) else None
                out["wkb"].append(wkb[i])
                out["minutes"].append(minutes)
                out["band"].append(walk_band(minutes))
                out["region_code"].append(code)
        return out

    return provide
