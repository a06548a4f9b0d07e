"""Coverage analytics: reach of the service circles, branch coverage, the
dual-grid view, gaps, snapshots (public aggregates) and siting (planners).

Public routes return aggregates only (counts, population sums, shares, H3
cells with at least three buildings, gap areas). Lists of individual
compounds and buildings (``detail=true``), siting, what-if and saving
snapshots need a ``planner`` token whose regions hold the requested region.

``format=csv`` and ``format=xlsx`` give the tables with Chinese column headers
for Excel.
"""

# no ``from __future__ import annotations``: FastAPI reads the annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine

from api import examples as ex
from api.auth import forbidden, unauthorized
from api.caching import cached_public, encode_json
from api.deps import (
    app_networks,
    current_token,
    get_engine,
    get_settings,
    read_engine,
    require_planner,
)
from api.limits import expensive
from api.routes.points import instant
from api.schemas import Boolean, Instant, Number, integer
from api.settings import Settings
from geo import coverage as cov
from geo import siting
from geo.circles import CircleParams
from geo.errors import InvalidInput, Problem
from geo.tokens import Principal
from geo.vocab import PointKind

router = APIRouter(prefix="/api/v1", tags=["coverage"])

REGION = r"^\d{6,12}$"
PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: the 200 answer of the routes with ``format``: JSON, or a file for Excel
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {200: {
    "description": "JSON (default), or with `format=csv|xlsx` a file with Chinese column "
                   "headers",
    "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


def file_responses(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """:data:`FILE_RESPONSES` with ``example`` as the example of the JSON answer."""
    content = {**FILE_RESPONSES[200]["content"], "application/json": {"example": example}}
    return {200: {**FILE_RESPONSES[200], "content": content}}

Profile = Literal["standard", "adult", "elderly"]
Rule = Literal["centroid", "intersects", "within"]
CompoundRule = Literal["population_share", "any", "majority", "all"]
Rounding = Literal["half_up", "truncate", "half_even"]
Format = Literal["json", "csv", "xlsx"]
Planner = Annotated[Principal, Depends(require_planner)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

RegionQ = Annotated[str | None, Query(
    pattern=REGION, description="division code (town or village; default: the only town)",
    openapi_examples={"lishui": {"value": "440605126"}, "longteng": {"value": "440507013"},
                      "meihuacun": {"value": "440104013"}})]
MinutesQ = Annotated[float | None, Query(ge=1, le=60, description="walking minutes of the "
                                                                   "circles (default 10)")]
ProfileQ = Annotated[Profile | None, Query(description="walking profile (default elderly)")]
SpeedQ = Annotated[float | None, Query(ge=1, le=20, description="explicit speed, km/h")]
KindsQ = Annotated[list[PointKind] | None, Query(
    description="point kinds whose circles count (repeat; default all)")]
RuleQ = Annotated[Rule, Query(description="when a building counts as covered")]
CompoundRuleQ = Annotated[CompoundRule, Query(description="how a compound counts")]
RoundingQ = Annotated[Rounding, Query(description="percentage rounding: half_up (88.89%) or "
                                                  "truncate (88.88%)")]
DecimalsQ = Annotated[int, Query(ge=0, le=6)]
FormatQ = Annotated[Format, Query(description="json, or csv/xlsx with Chinese headers")]
DetailQ = Annotated[bool, Query(description="list individual compounds/buildings "
                                            "(planner token)")]
AtQ = Annotated[Instant | None, Query(
    description="only positions open at this instant count (ISO 8601, China time without an "
                "offset; their opening hours and China's holiday calendar), e.g. a Saturday "
                "or a public holiday")]


def _params(settings: Settings, minutes: float | None, profile: str | None,
            speed_kmh: float | None, kinds: list[PointKind] | None, rule: str = "centroid",
            compound_rule: str = "population_share", rounding: str = "half_up",
            decimals: int = 2, at: datetime | None = None) -> cov.CoverageParams:
    return cov.CoverageParams(
        minutes=minutes if minutes is not None else settings.default_minutes,
        profile=profile or settings.default_profile, speed_kmh=speed_kmh,
        kinds=tuple(k.value for k in kinds or ()),
        rule=cov.CoverageRule(rule, compound_rule), rounding=rounding,
        decimals=decimals, at=None if at is None else instant(at)).validated()


def _circle_params(settings: Settings) -> CircleParams:
    return CircleParams(walk_off_m=settings.walk_off_m, max_snap_m=settings.max_snap_m)


def _check_scope(principal: Principal, conn: Connection, region: str | None) -> str:
    """The resolved region code, when the token may act on it (else 403)."""
    code = cov.resolve_region(conn, region).region.code
    if not principal.can_read(code):
        raise forbidden(f"令牌的区域范围（{', '.join(principal.regions)}）不包含 {code}")
    return code


#: building rules that test footprints (tens of seconds on a town): planners only
_FOOTPRINT_RULES = ("intersects", "within")


def _require_rule(rule: str, principal: Principal | None) -> None:
    """The footprint rules are costly: a planner token asks for them."""
    if rule in _FOOTPRINT_RULES and (principal is None or not principal.has_role("planner")):
        if principal is None:
            raise unauthorized(f"rule={rule} 按建筑轮廓计算，耗时较长，需要规划编辑（planner）令牌")
        raise forbidden(f"rule={rule} 需要规划编辑（planner）及以上角色")


def _analysis(request: Request, conn: Connection, region: str | None,
              params: cov.CoverageParams) -> cov.Analysis:
    """The coverage run of ``params``, computed once per data version and shared by
    every request that differs only in rounding or format."""
    state = request.app.state
    key = (region, params.minutes, params.profile, params.speed_kmh, params.kinds,
           params.rule, params.at)
    tag = state.data_versions.get_tag(None, conn)
    an = state.analyses.get_or_build(key, tag, lambda: cov.analyse(conn, region, params))
    return replace(an, params=params)


def _file(result: cov.Result, view: str, fmt: str, name: str,
          headers: dict[str, str] | None = None) -> Response:
    code = result["region"]["code"] if isinstance(result, dict) else result.region.code
    filename = f"{name}_{code}.{fmt}"
    extra = {"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})}
    if fmt == "csv":
        return Response(cov.export_csv(result, view), media_type="text/csv; charset=utf-8",
                        headers=extra)
    return Response(cov.export_xlsx(result, view), media_type=XLSX, headers=extra)


async def _answer(request: Request, build: Callable[[Connection], cov.Result], *, view: str,
                  fmt: str, name: str, detail: bool, principal: Principal | None,
                  region: str | None) -> Response:
    """Public answers go through the shared cache; detail answers need a
    planner token for the region and are never cached publicly. JSON bodies
    are the results' ``as_dict()``."""
    engine: Engine = read_engine(request)
    if detail:
        if principal is None or not principal.has_role("planner"):
            if principal is None:
                raise unauthorized("detail=true 需要规划编辑（planner）令牌")
            raise forbidden("detail=true 需要规划编辑（planner）及以上角色")

        def run() -> cov.Result:
            with engine.connect() as conn:
                _check_scope(principal, conn, region)
                return build(conn)

        result = await run_in_threadpool(run)
        if fmt != "json":
            return _file(result, view, fmt, name, PRIVATE)
        return Response(encode_json(_plain(result)), media_type="application/json",
                        headers=PRIVATE)
    if fmt != "json":
        def run_file() -> cov.Result:
            with engine.connect() as conn:
                return build(conn)

        return _file(await run_in_threadpool(run_file), view, fmt, name)
    return await cached_public(request, lambda conn: _plain(build(conn)))


def _plain(result: cov.Result | dict) -> dict:
    """A result's JSON form (access reports are dicts already)."""
    return result if isinstance(result, dict) else result.as_dict()


# ====================================================================== public
@router.get("/coverage", operation_id="get_coverage",
            responses=file_responses(ex.COVERAGE),
            summary="Who the service circles reach: buildings, compounds, people — for the "
                    "town, per village/community and per grid cell",
            description="Buildings, households, people and compounds inside the stored "
                        "service circles of `minutes` (walking minutes, default 10) at "
                        "`profile`/`speed_kmh`: `totals` for the region, `by_region` per "
                        "village, `by_grid` per grid cell, `by_point` per position. Public "
                        "aggregates, cached per data version (ETag); `rule=intersects|within` "
                        "needs a planner token, `format=csv|xlsx` gives the tables as a "
                        "file. 409 when the circles are not computed yet.")
async def get_coverage(
    request: Request,
    settings: SettingsDep,
    principal: Annotated[Principal | None, Depends(current_token)],
    _: Annotated[None, Depends(expensive)],
    region: RegionQ = None,
    minutes: MinutesQ = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    rule: RuleQ = "centroid",
    compound_rule: CompoundRuleQ = "population_share",
    rounding: RoundingQ = "half_up",
    decimals: DecimalsQ = 2,
    at: AtQ = None,
    format: FormatQ = "json",
) -> Response:
    _require_rule(rule, principal)
    params = _params(settings, minutes, profile, speed_kmh, kinds, rule, compound_rule,
                     rounding, decimals, at)

    def build(conn: Connection) -> cov.ReachCoverage:
        return cov.reach_coverage(_analysis(request, conn, region, params))

    return await _answer(request, build, view="reach", fmt=format, name="coverage",
                         detail=False, principal=None, region=region)


@router.get("/coverage/wishes", operation_id="get_wishes_outside_circles",
            responses=ex.answer(ex.WISHES_OUTSIDE),
            summary="Unmet wishes outside every service circle (demand the circles miss)",
            description="Of the region's unmet wishes and projects (posted, published or "
                        "claimed), how many have a location, how many lie inside at least one "
                        "stored circle of `minutes`/`profile`/`kinds` and how many outside "
                        "every one — the people whose needs the service circles miss — per "
                        "village (villages with fewer than 3 unmet wishes folded into "
                        "`suppressed`). The test uses each wish's exact location on the "
                        "server; the answer holds counts only. `detail=true` (a planner token "
                        "of the region) lists the wishes outside by code, title, category, "
                        "state, village and grid cell. 409 when the circles are not computed.")
async def get_wishes_outside(
    request: Request,
    settings: SettingsDep,
    principal: Annotated[Principal | None, Depends(current_token)],
    region: RegionQ = None,
    minutes: MinutesQ = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    detail: DetailQ = False,
) -> Response:
    params = _params(settings, minutes, profile, speed_kmh, kinds)
    if detail:
        if principal is None:
            raise unauthorized("detail=true 需要规划编辑（planner）令牌")
        if not principal.has_role("planner"):
            raise forbidden("detail=true 需要规划编辑（planner）及以上角色")

    def run() -> dict[str, Any]:
        # the owner's engine: the containment test reads the wishes' exact
        # locations, which the reader role may not; only counts leave unless detail
        with request.app.state.engine.connect() as conn:
            if detail:
                _check_scope(principal, conn, region)
            return cov.wishes_outside(conn, region, params, detail=detail)

    result = await run_in_threadpool(run)
    headers = PRIVATE if detail else {"Cache-Control": f"public, max-age="
                                                       f"{settings.cache_max_age_s}"}
    return Response(encode_json(result), media_type="application/json", headers=headers)


@router.get("/coverage/branches", operation_id="get_branch_coverage",
            responses=file_responses(ex.BRANCH_COVERAGE),
            summary="Compounds with a party branch / all compounds (e.g. 32/36 = 88.89%, "
                    "or 88.88% truncated)",
            description="Party-branch coverage of the residential compounds of `region`: "
                        "the town's fraction and percentage (`rounding`, `decimals`) and "
                        "one row per village. Public counts only; `detail=true` lists the "
                        "compounds and needs a planner token for the region. "
                        "`format=csv|xlsx` for Excel.")
async def get_branch_coverage(
    request: Request,
    principal: Annotated[Principal | None, Depends(current_token)],
    region: RegionQ = None,
    rounding: RoundingQ = "half_up",
    decimals: DecimalsQ = 2,
    detail: DetailQ = False,
    format: FormatQ = "json",
) -> Response:
    def build(conn: Connection) -> cov.BranchCoverage:
        return cov.branch_coverage(conn, region, rounding=rounding, decimals=decimals,
                                   detail=detail)

    return await _answer(request, build, view="branches", fmt=format, name="branches",
                         detail=detail, principal=principal, region=region)


@router.get("/coverage/grids", operation_id="get_grid_view",
            responses=file_responses(ex.GRID_VIEW),
            summary="Dual-grid view (双网融合): governance vs party-building grid cells, which "
                    "hold a branch",
            description="Per grid kind (governance, party-building) how many cells hold a "
                        "party branch, and one row per grid cell with its workers (a count, "
                        "no names), compounds and people. Public; `detail=true` (planner "
                        "token) adds the compounds of each cell; `format=csv|xlsx` for "
                        "Excel.")
async def get_grid_view(
    request: Request,
    principal: Annotated[Principal | None, Depends(current_token)],
    region: RegionQ = None,
    rounding: RoundingQ = "half_up",
    decimals: DecimalsQ = 2,
    detail: DetailQ = False,
    format: FormatQ = "json",
) -> Response:
    def build(conn: Connection) -> cov.GridView:
        return cov.grid_view(conn, region, rounding=rounding, decimals=decimals, detail=detail)

    return await _answer(request, build, view="grids", fmt=format, name="grids",
                         detail=detail, principal=principal, region=region)


@router.get("/gaps", operation_id="get_gaps", responses=file_responses(ex.GAPS),
            summary="Who is left out: uncovered people by village and grid, H3 hexagons, "
                    "gap areas; compounds and buildings ranked (detail, planner)",
            description="People and buildings outside every service circle of `minutes` "
                        "(default 10): per village and grid cell, as H3 hexagons "
                        "(`hex_resolution`, default 8, about 500 m; cells with fewer than 3 "
                        "buildings are suppressed) and as gap areas on a 30 m raster "
                        "(`areas`, WGS-84 polygons, m²). `limit` caps the lists; "
                        "`detail=true` ranks compounds and buildings (planner token).")
async def get_gaps(
    request: Request,
    settings: SettingsDep,
    principal: Annotated[Principal | None, Depends(current_token)],
    _: Annotated[None, Depends(expensive)],
    region: RegionQ = None,
    minutes: MinutesQ = None,
    profile: ProfileQ = None,
    speed_kmh: SpeedQ = None,
    kinds: KindsQ = None,
    rule: RuleQ = "centroid",
    compound_rule: CompoundRuleQ = "population_share",
    rounding: RoundingQ = "half_up",
    decimals: DecimalsQ = 2,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description=(
        "most compounds, buildings and gap areas listed (default: 20 in JSON, every one "
        "in a CSV or Excel file)"))] = None,
    hex_resolution: Annotated[int | None, Query(ge=5, le=11, description="H3 resolution "
                                                "(default: ~500 m cells, resolution 8)")
                              ] = None,
    areas: Annotated[bool, Query(description="compute gap areas")] = True,
    detail: DetailQ = False,
    at: AtQ = None,
    format: FormatQ = "json",
    wish_weight: Annotated[float, Query(ge=0, le=10_000, description=(
        "rank the compounds (detail) by uncovered people plus this many per unmet wish "
        "in them; 0 (the default): people only"))] = 0.0,
) -> Response:
    _require_rule(rule, principal)
    params = _params(settings, minutes, profile, speed_kmh, kinds, rule, compound_rule,
                     rounding, decimals, at)

    def build(conn: Connection) -> cov.GapReport:
        an = _analysis(request, conn, region, params)
        # an export is the whole list: the map shows every uncovered compound
        lim = limit if limit is not None else (20 if format == "json" else None)
        return cov.gap_report(an, limit=lim, detail=detail, hex_resolution=hex_resolution,
                              areas=areas, conn=conn, wish_weight=wish_weight)

    return await _answer(request, build, view="gaps", fmt=format, name="gaps",
                         detail=detail, principal=principal, region=region)


@router.get("/coverage/snapshots", operation_id="list_coverage_snapshots",
            summary="Stored coverage runs, newest first",
            description="Saved coverage snapshots (id, label, parameters, people covered), "
                        "newest first, optionally only those of `region`; at most `limit` "
                        "(default 50). Public; open one with "
                        "`/api/v1/coverage/snapshots/{snapshot_id}`.",
            responses=ex.answer(ex.SNAPSHOTS))
async def list_snapshots(
    request: Request,
    region: Annotated[str | None, Query(pattern=REGION)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    def build(conn: Connection) -> dict[str, Any]:
        return {"snapshots": [s.as_dict() for s in cov.list_snapshots(conn, region, limit=limit)]}

    return await cached_public(request, build)


@router.get("/coverage/snapshots/{snapshot_id}", operation_id="get_coverage_snapshot",
            summary="One stored coverage run with its parameters and figures",
            description="The figures of a saved snapshot as they were when it was saved "
                        "(totals, per village, grid cell and position), with its "
                        "parameters, who saved it and when. Public; 404 for an unknown "
                        "`snapshot_id`.",
            responses=ex.answer(ex.SNAPSHOT))
async def get_snapshot(
    request: Request,
    snapshot_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
) -> Response:
    return await cached_public(request,
                               lambda conn: cov.get_snapshot(conn, snapshot_id).as_dict())


@router.get("/coverage/compare", operation_id="compare_coverage_snapshots",
            summary="Compare two stored coverage runs (e.g. before/after a new station)",
            description="Figures of snapshot `before` and snapshot `after` side by side, "
                        "with their differences (`*_delta`), for the region and each area "
                        "both contain; `parameters_differ` names the parameters that "
                        "differ. Percentages follow `rounding` and `decimals`. Public.",
            responses=ex.answer(ex.SNAPSHOT_COMPARE))
async def compare(
    request: Request,
    before: Annotated[int, Query(ge=1, le=2_147_483_647)],
    after: Annotated[int, Query(ge=1, le=2_147_483_647)],
    rounding: RoundingQ = "half_up",
    decimals: DecimalsQ = 2,
) -> Response:
    return await cached_public(request, lambda conn: cov.compare_snapshots(
        conn, before, after, rounding=rounding, decimals=decimals).as_dict())


# ====================================================================== planners
class CoverageBody(BaseModel):
    region: str | None = Field(default=None, pattern=REGION, examples=["440605126"])
    minutes: Number | None = Field(default=None, ge=1, le=60)
    profile: Profile | None = None
    speed_kmh: Number | None = Field(default=None, ge=1, le=20)
    kinds: list[PointKind] | None = None
    rule: Rule = "centroid"
    compound_rule: CompoundRule = "population_share"
    rounding: Rounding = "half_up"
    decimals: integer(0, 6) = 2

    model_config = {"extra": "forbid"}

    def params(self, settings: Settings) -> cov.CoverageParams:
        return _params(settings, self.minutes, self.profile, self.speed_kmh, self.kinds,
                       self.rule, self.compound_rule, self.rounding, self.decimals)


class SnapshotBody(CoverageBody):
    label: str | None = Field(default=None, max_length=200)


class SiteIn(BaseModel):
    lng: Number = Field(examples=[113.16])
    lat: Number = Field(examples=[23.2])
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    name: str | None = Field(default=None, max_length=100)

    model_config = {"extra": "forbid"}


class SitingBody(CoverageBody):
    k: integer(1, siting.MAX_K) = 5
    candidates: Literal["compounds", "nodes", "facilities", "all"] = "all"
    sites: list[SiteIn] | None = Field(default=None, max_length=siting.MAX_USER_SITES,
                                       description="candidate sites (instead of generated "
                                                   "ones)")
    method: Literal["exact", "greedy", "both"] = "both"
    max_candidates: integer(1, 10_000) = 2500
    time_limit_s: Number = Field(default=60.0, gt=0, le=300)
    geometry: Boolean = Field(default=True, description="include each site's circle")
    wish_weight: Number = Field(default=0.0, ge=0, le=10_000, description=(
        "demand feeds the choice: each unmet wish counts as this many more people in its "
        "compound (else grid cell, else village); 0 (the default) sites by population only"))


class WhatIfBody(CoverageBody):
    lng: Number = Field(examples=[113.16])
    lat: Number = Field(examples=[23.2])
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    name: str = Field(default="拟建站点", max_length=100)


@router.post("/siting", operation_id="site_new_stations",
             summary="Choose k new station sites that newly cover the most people "
                     "(exact HiGHS and greedy; planner token)",
             description="Picks `k` sites among generated candidates (compounds, network "
                         "nodes) or the given `sites` that bring the most people newly "
                         "inside a circle of `minutes` (walking minutes); `method` exact "
                         "(HiGHS, within `time_limit_s` seconds), greedy or both. Needs a "
                         "planner token whose regions hold `region`; nothing is saved. "
                         "Coordinates of the sites are WGS-84.",
             responses=ex.answer(ex.SITING))
def post_siting(body: SitingBody, request: Request, principal: Planner, engine: EngineDep,
                settings: SettingsDep, _: Annotated[None, Depends(expensive)]) -> Response:
    params = body.params(settings)
    with engine.connect() as conn:
        _check_scope(principal, conn, body.region)
        sites = [s.model_dump() for s in body.sites] if body.sites is not None else None
        result = siting.site(conn, body.region, body.k, params,
                             networks=app_networks(request, conn), source=body.candidates,
                             sites=sites, method=body.method,
                             circle_params=_circle_params(settings),
                             max_candidates=body.max_candidates,
                             time_limit_s=body.time_limit_s, geometry=body.geometry,
                             wish_weight=float(body.wish_weight))
    return Response(encode_json(result), media_type="application/json", headers=PRIVATE)


@router.post("/siting/what-if", operation_id="what_if_station",
             summary="Coverage with one proposed station added (nothing is saved; planner "
                     "token)",
             description="Coverage of `region` before and after adding one station at "
                         "`lng`/`lat` (in `crs`; `gcj02` for Amap, Tencent, WeChat), with "
                         "the differences per village and grid cell and the new station's "
                         "circle (WGS-84). Needs a planner token for the region; nothing is "
                         "saved.",
             responses=ex.answer(ex.WHAT_IF))
def post_what_if(body: WhatIfBody, request: Request, principal: Planner, engine: EngineDep,
                 settings: SettingsDep, _: Annotated[None, Depends(expensive)]) -> Response:
    params = body.params(settings)
    with engine.connect() as conn:
        _check_scope(principal, conn, body.region)
        result = siting.what_if(conn, body.region, body.lng, body.lat, params,
                                networks=app_networks(request, conn), crs=body.crs,
                                name=body.name, circle_params=_circle_params(settings))
    return Response(encode_json(result), media_type="application/json", headers=PRIVATE)


@router.post("/coverage/snapshots", operation_id="save_coverage_snapshot", status_code=201,
             summary="Compute coverage now and store it as a snapshot (planner token)",
             description="Computes the coverage of the body's parameters now and saves it "
                         "with `label`; answers 201 with the snapshot's id, region, "
                         "parameters, totals and circles, and `Location`. Needs a planner "
                         "token for `region`; 422 when no circle reaches the region.",
             responses=ex.answer(ex.SNAPSHOT_SAVED, status=201))
def post_snapshot(body: SnapshotBody, principal: Planner, engine: EngineDep,
                  settings: SettingsDep, _: Annotated[None, Depends(expensive)]) -> Response:
    params = body.params(settings)
    with engine.begin() as conn:
        _check_scope(principal, conn, body.region)
        result = cov.reach_coverage(cov.analyse(conn, body.region, params))
        if result.circles.count == 0:
            raise InvalidInput("没有可保存的覆盖结果", [Problem(
                "没有已计算服务圈的服务阵地覆盖到该区划", column="region",
                value=result.region.code)])
        sid = cov.save_snapshot(conn, result, label=body.label, actor=principal.actor,
                                actor_role=principal.role)
    out = {"id": sid, "label": body.label, "region": result.region.as_dict(),
           "parameters": result.parameters.as_dict(), "totals": result.totals.as_dict(),
           "circles": result.circles.as_dict()}
    return Response(encode_json(out), status_code=201, media_type="application/json",
                    headers={**PRIVATE, "Location": f"/api/v1/coverage/snapshots/{sid}"})
