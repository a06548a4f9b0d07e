"""Scenarios (planner token): save a named what-if — positions added, moved,
closed, hours changed, paths opened — without touching today's data; compare
it with today per village and grid; every access answer takes ``scenario=``.
"""

# no ``from __future__ import annotations``: FastAPI reads the annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from api import examples as ex
from api.auth import forbidden
from api.caching import encode_json
from api.deps import app_networks, get_engine, require_planner
from api.limits import expensive
from api.routes.access import (
    AtQ,
    KindsQ,
    ProfileQ,
    ServicesQ,
    SpeedQ,
    access_params,
    shared_run,
)
from api.routes.coverage import PRIVATE, _circle_params, _file, _params, file_responses
from api.settings import Settings
from geo import scenarios as sc
from geo.coverage import access as ac
from geo.coverage.loading import resolve_region
from geo.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["scenarios"])

Planner = Annotated[Principal, Depends(require_planner)]
EngineDep = Annotated[Engine, Depends(get_engine)]
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]


class ScenarioBody(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["新增和平村站点"])
    region: str = Field(pattern=r"^\d{6,12}$", examples=["440605126"])
    changes: dict[str, Any] = Field(description="`positions` (op add/move/close/hours) and "
                                    "`paths` (from/to); see docs/api.md",
                                    examples=[{"positions": [{"op": "close",
                                                              "code": "LS-0002"}]}])

    model_config = {"extra": "forbid"}


def _checked(conn, principal: Principal, body: ScenarioBody, request: Request) -> dict:
    code = resolve_region(conn, body.region).region.code
    if not principal.can_edit(code):
        raise forbidden(f"令牌的区域范围（{', '.join(principal.regions)}）不包含 {code}")
    settings: Settings = request.app.state.settings
    return sc.validate_changes(conn, code, body.changes, can_edit=principal.can_edit,
                               networks=app_networks(request, conn),
                               max_snap_m=settings.max_snap_m)


def _mine(conn, principal: Principal, scenario_id: int) -> sc.Scenario:
    found = sc.get_scenario(conn, scenario_id)
    if not principal.can_read(found.region_code):
        raise forbidden(f"方案 {scenario_id} 不在令牌的区域范围内")
    return found


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(encode_json(body), status_code=status, media_type="application/json",
                    headers={**PRIVATE, **(headers or {})})


@router.post("/scenarios", operation_id="create_scenario", status_code=201,
             summary="Save a named scenario (nothing of today's data changes)",
             description="Saves `name`, `region` and `changes` (positions added, moved, "
                         "closed or with new hours; paths opened; coordinates WGS-84 unless "
                         "a change says `crs`) after checking every change; answers 201 "
                         "with the scenario and `Location`. Needs a planner token whose "
                         "regions hold the region and every changed position.",
             responses=ex.answer(ex.SCENARIO, status=201))
def create_scenario(body: ScenarioBody, request: Request, principal: Planner,
                    engine: EngineDep) -> Response:
    with engine.begin() as conn:
        changes = _checked(conn, principal, body, request)
        sid = sc.save_scenario(conn, body.name, resolve_region(conn, body.region).region.code,
                               changes, actor=principal.actor, actor_role=principal.role)
        found = sc.get_scenario(conn, sid)
    return _json(found.as_dict(), 201, {"Location": f"/api/v1/scenarios/{sid}"})


@router.get("/scenarios", operation_id="list_scenarios",
            summary="The scenarios of the token's regions, newest first",
            description="Every saved scenario whose region the token can read, newest "
                        "first, with its changes. Needs a planner token; answers are "
                        "`Cache-Control: private, no-store`; no paging.",
            responses=ex.answer(ex.SCENARIOS))
def list_scenarios(principal: Planner, engine: EngineDep) -> Response:
    with engine.connect() as conn:
        found = [s.as_dict() for s in sc.list_scenarios(conn)
                 if principal.can_read(s.region_code)]
    return _json({"scenarios": found})


@router.get("/scenarios/{scenario_id}", operation_id="get_scenario",
            summary="One scenario",
            description="One saved scenario: name, region, changes and when it was made and "
                        "last changed. Needs a planner token that can read its region (403 "
                        "otherwise; 404 for an unknown id).",
            responses=ex.answer(ex.SCENARIO))
def get_scenario(scenario_id: IdPath, principal: Planner, engine: EngineDep) -> Response:
    with engine.connect() as conn:
        return _json(_mine(conn, principal, scenario_id).as_dict())


@router.put("/scenarios/{scenario_id}", operation_id="replace_scenario",
            summary="Replace a scenario's name, region and changes",
            description="Replaces the whole scenario with the body (checked as for "
                        "`POST /api/v1/scenarios`) and answers it as stored. Needs a planner "
                        "token for the scenario's region and the new one.",
            responses=ex.answer(ex.SCENARIO))
def replace_scenario(scenario_id: IdPath, body: ScenarioBody, request: Request,
                     principal: Planner, engine: EngineDep) -> Response:
    with engine.begin() as conn:
        _mine(conn, principal, scenario_id)
        changes = _checked(conn, principal, body, request)
        sc.save_scenario(conn, body.name, resolve_region(conn, body.region).region.code,
                         changes, actor=principal.actor, actor_role=principal.role,
                         scenario_id=scenario_id)
        return _json(sc.get_scenario(conn, scenario_id).as_dict())


@router.delete("/scenarios/{scenario_id}", operation_id="delete_scenario", status_code=204,
               summary="Delete a scenario",
               description="Deletes the scenario for good (no restore) and answers 204 "
                           "without a body. Needs a planner token that can read its "
                           "region; today's data is untouched.")
def delete_scenario(scenario_id: IdPath, principal: Planner, engine: EngineDep) -> Response:
    with engine.begin() as conn:
        _mine(conn, principal, scenario_id)
        sc.delete_scenario(conn, scenario_id)
    return Response(status_code=204, headers=PRIVATE)


@router.get("/scenarios/{scenario_id}/compare", operation_id="compare_scenario",
            responses=file_responses(ex.SCENARIO_COMPARE),
            summary="Today against the scenario per town, village and grid: people covered, "
                    "within 10 minutes' walk, median walk, 2SFCA supply",
            description="Today and the scenario side by side with their differences "
                        "(`delta_*`): people inside the circles of `minutes` (default 10), "
                        "share within 10 minutes' walk, median walking minutes and 2SFCA m² "
                        "per 1000 residents, per town, village and grid cell. Planner "
                        "token; `format=csv|xlsx` for Excel.")
async def compare_scenario(
    scenario_id: IdPath,
    request: Request,
    principal: Planner,
    engine: EngineDep,
    _: Annotated[None, Depends(expensive)],
    minutes: Annotated[float | None, Query(ge=1, le=60, description="minutes of the "
                                                                     "circles")] = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    services: ServicesQ = None,
    at: AtQ = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
) -> Response:
    settings: Settings = request.app.state.settings
    cov_params = _params(settings, minutes, profile, speed_kmh, kinds, at=at)
    acc_params = access_params(settings, profile, speed_kmh, kinds, services, at)

    def run() -> dict:
        with engine.connect() as conn:
            _mine(conn, principal, scenario_id)
            return sc.compare(conn, scenario_id, networks=app_networks(request, conn),
                              coverage=cov_params, access=acc_params,
                              circle_params=_circle_params(settings))

    result = await run_in_threadpool(run)
    if format != "json":
        return _file(result, "scenario", format, "scenario", PRIVATE)
    return _json(result)


@router.get("/scenarios/{scenario_id}/cells", operation_id="scenario_cells",
            summary="GeoJSON of the H3 cells whose walk to the nearest position the "
                    "scenario changes: minutes today and in the scenario",
            description="A GeoJSON FeatureCollection (WGS-84) of the H3 cells (resolution "
                        "10) whose walking minutes to the nearest position change by at "
                        "least `min_minutes`: `minutes_today`, `minutes_scenario`, "
                        "`delta_minutes` (negative: nearer). Planner token.",
            responses=ex.answer(ex.SCENARIO_CELLS))
async def scenario_cells(
    scenario_id: IdPath,
    request: Request,
    principal: Planner,
    engine: EngineDep,
    _: Annotated[None, Depends(expensive)],
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    services: ServicesQ = None,
    at: AtQ = None,
    min_minutes: Annotated[float, Query(ge=0.1, le=30, description="smallest change "
                                                                   "listed, minutes")] = 0.1,
) -> Response:
    settings: Settings = request.app.state.settings
    params = access_params(settings, profile, speed_kmh, kinds, services, at)
    state = request.app.state

    def run() -> dict:
        with engine.connect() as conn:
            found = _mine(conn, principal, scenario_id)
            today = shared_run(state, conn, found.region_code, params)
            scen = shared_run(state, conn, found.region_code, params, scenario_id)
            return ac.changed_cells(today, scen, min_minutes=min_minutes)

    return _json(await run_in_threadpool(run))
