"""The residents' side over HTTP: one-time codes, wishes (post, the
点单-下单-接单 steps, the staff's list, the claimant's view, the public wall and
counts), ratings of positions, activities (near me, iCalendar, the monthly
rule) and the 双微 ledger.

Residents have no accounts: they confirm their phone with a one-time code.
Staff are planner tokens of the wish's region; members and organisations
claim with member tokens (:mod:`geo.tokens`). Public answers never carry a
resident's, member's or claimant's identity, and show a wish no closer than
its grid cell (:mod:`geo.residents.wishes`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from api import examples as ex
from api.auth import unauthorized
from api.caching import cached_public, encode_json
from api.deps import current_token, get_engine, require_planner
from api.schemas import (
    CODE_PATTERN,
    REGION_PATTERN,
    ActivityIn,
    CodeRequest,
    MemberIn,
    OrgIn,
    RatingIn,
    WishIn,
    WishStepIn,
)
from api.settings import Settings
from geo.errors import Forbidden, InvalidInput, Problem
from geo.residents import activities as act
from geo.residents import claimants, ledger, otp, ratings, wishes
from geo.residents.workflow import ACTIONS
from geo.tokens import Principal

router = APIRouter(prefix="/api/v1", tags=["residents"])

PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization"}
Planner = Annotated[Principal, Depends(require_planner)]
EngineDep = Annotated[Engine, Depends(get_engine)]
RegionQ = Annotated[str, Query(pattern=REGION_PATTERN, description="division code (and below)",
                               openapi_examples={"meihuacun": {"value": "440104013"}})]
WishCode = Annotated[str, Path(pattern=r"^W[0-9A-F]{10}$|^[A-Za-z0-9_.\-]{1,64}$",
                               description="the wish's code")]
PointCode = Annotated[str, Path(pattern=CODE_PATTERN, max_length=64,
                                description="the position's code")]
ActionPath = Annotated[Literal[tuple(ACTIONS)], Path(description="the workflow step: "  # type: ignore[valid-type]
                       + ", ".join(f"`{a}`" for a in ACTIONS))]


def _json(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(encode_json(body), status_code=status, media_type="application/json",
                    headers={**PRIVATE, **(headers or {})})


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _sender(request: Request) -> otp.Sender:
    return request.app.state.otp_sender


def _read(request: Request, build):
    """``build(conn)`` on a connection of the reader role (in the caller's thread)."""
    with request.app.state.read_engine.connect() as conn:
        return build(conn)


def _needs(value: Any, name: str, what: str) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidInput(f"缺少{what}", [Problem("不能为空", column=name, expected=what,
                                                 kind="missing_value")])


# ---------------------------------------------------------------- one-time codes
@router.post("/residents/codes", operation_id="request_code", status_code=202,
             summary="Send a one-time code to a resident's mobile",
             description="Sends a six-digit code (valid `SERVICEMAP_OTP_TTL_S`, default 5 "
                         "minutes) to `phone` through the configured sender (the server's "
                         "log by default; an SMS gateway in production). The code confirms "
                         "the phone for posting a wish (`wish`), rating a position "
                         "(`rating`) or acting on one's own wish (`manage`). At most one "
                         "code a minute and five an hour per phone, and "
                         "`SERVICEMAP_RATE_LIMIT_SUBMISSIONS` per client address: 429 with "
                         "`Retry-After` beyond.",
             responses=ex.answer(ex.CODE_SENT, status=202))
def request_code(body: CodeRequest, request: Request, engine: EngineDep) -> Response:
    request.app.state.budgets.spend_submission(request)
    with engine.begin() as conn:
        got = otp.request_code(conn, body.phone, body.purpose, _sender(request),
                               _settings(request))
    return _json(got, status=202)


# ---------------------------------------------------------------- wishes
def _wish_body(body: WishIn) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True, exclude={"code"})


@router.post("/wishes", operation_id="post_wish", status_code=201,
             summary="A resident posts a wish (村(居)民点单) with a one-time code",
             description="Posts a micro-wish for the village staff to review: `title`, "
                         "optional `text`, `category`, and where it belongs — `region` (the "
                         "village), `point` (a position) or the location `lng`/`lat` "
                         "(WGS-84), which must agree. `phone` and `code` (a code of purpose "
                         "`wish`) confirm the resident; `name` and `address` are optional. "
                         "Nothing is stored when anything is wrong (422 naming the field) or "
                         "the code is wrong or expired. The wish appears on the public wall "
                         "only after the staff publish it, without the resident's identity. "
                         "At most `SERVICEMAP_SUBMISSIONS_PER_PHONE_DAY` wishes per phone a "
                         "day.",
             responses=ex.answer(ex.WISH_POSTED, status=201))
def post_wish(body: WishIn, request: Request, engine: EngineDep) -> Response:
    request.app.state.budgets.spend_submission(request)
    _needs(body.phone, "phone", "手机号")
    _needs(body.code, "code", "短信验证码")
    extra = sorted(k for k in ("kind", "channel", "budget_yuan") if k in body.model_fields_set)
    if extra:
        raise InvalidInput("居民提交的心愿不能指定 " + "、".join(extra), [
            Problem("只有工作人员可以填写", column=k, expected="不填", kind="unexpected_value")
            for k in extra])
    settings = _settings(request)
    phone = otp.normalise_phone(body.phone)
    fields = _wish_body(body)
    fields.pop("phone", None)

    def write(conn, h):
        return wishes.post_wish(conn, fields, actor="resident", actor_role="resident",
                                settings=settings, phone_hash=h, phone=phone)

    got = otp.with_code(engine, phone, body.code, "wish", settings, write)
    return _json(_resident_answer(got), status=201)


def _resident_answer(w: dict[str, Any]) -> dict[str, Any]:
    keep = ("code", "kind", "kind_zh", "title", "category", "category_zh", "region_code",
            "region_name", "grid_name", "state", "state_zh", "posted_at")
    out = {k: w.get(k) for k in keep}
    out["message"] = "心愿已提交，村（社区）审核后将在心愿墙展示（不显示您的姓名和电话）"
    return out


@router.post("/planner/wishes", operation_id="enter_wish", status_code=201,
             summary="Staff enter a wish for a resident, or a micro-project",
             description="Village staff (a planner token of the region) enter a wish "
                         "collected through another `channel` (双报到, WeChat group, social "
                         "worker, grid worker, home visit, walk-in), with the resident's "
                         "`name`, `phone` and `address` when known, or a micro-project "
                         "(`kind: project`) with its `budget_yuan`. Answers the wish as staff "
                         "see it (state `posted`).",
             responses=ex.answer(ex.WISH_STAFF, status=201))
def enter_wish(body: WishIn, request: Request, principal: Planner,
               engine: EngineDep) -> Response:
    if "code" in body.model_fields_set:
        raise InvalidInput("工作人员代录不需要验证码", [Problem(
            "不需要验证码", column="code", expected="不填", kind="unexpected_value")])
    with engine.begin() as conn:
        got = wishes.post_wish(conn, _wish_body(body), actor=principal.actor,
                               actor_role=principal.role, settings=_settings(request),
                               scope=principal)
    return _json(got, status=201)


@router.get("/planner/wishes", operation_id="staff_wishes",
            summary="The staff's list of wishes with contacts and the SLA clock",
            description="Every wish and project of the token's regions (or of `region` "
                        "within them), with the resident's contact, the exact location, the "
                        "state, what may be done next, and when it is due: a posted wish "
                        "after `SERVICEMAP_WISH_REVIEW_DAYS`, a published one unclaimed after "
                        "`_CLAIM_DAYS`, a claimed one unfulfilled after `_FULFIL_DAYS`. "
                        "`overdue=true` lists only overdue ones. Planner token.",
            responses=ex.answer(ex.STAFF_WISHES))
def staff_wishes(
    request: Request, principal: Planner, engine: EngineDep,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    state: Annotated[str | None, Query(max_length=16, description="only this state")] = None,
    overdue: Annotated[bool, Query(description="only overdue wishes")] = False,
) -> Response:
    with engine.connect() as conn:
        return _json(wishes.staff_list(conn, principal, settings=_settings(request),
                                       region=region, state=state, overdue=overdue))


@router.get("/wishes/{code}", operation_id="get_wish",
            summary="One wish as its staff or claimant sees it",
            description="A planner token of the wish's region sees everything, contact "
                        "included; a member token sees the wish and, once the resident has "
                        "accepted its claim, the contact. Anonymous callers use the wall.",
            responses=ex.answer(ex.WISH_STAFF))
def get_wish(code: WishCode, request: Request, engine: EngineDep,
             principal: Annotated[Principal | None, Depends(current_token)]) -> Response:
    if principal is None:
        raise unauthorized("查看心愿详情需要工作人员或党员令牌（Authorization: Bearer <令牌>）；"
                           "公开内容见心愿墙 /api/v1/wishes")
    with engine.connect() as conn:
        if principal.has_role("planner"):
            w = wishes.wish_row(conn, code, private=True, settings=_settings(request))
            if not principal.can_edit(w["region_code"]):
                raise Forbidden(f"心愿 {code} 不在您的权限范围内")
            w["claims_detail"] = wishes.claims_of(conn, code, private=True)
            return _json(w)
        if principal.claimant is not None:
            return _json(wishes.claimant_view(conn, principal, code))
    raise Forbidden("查看心愿详情需要工作人员或党员令牌")


@router.post("/wishes/{code}/{action}", operation_id="wish_step",
             summary="One step of the 点单-下单-接单 workflow",
             description="Staff (a planner token of the region) `publish` (with the wall's "
                         "`public_text`), `reject` (with a `reason`), `expire`, and may take "
                         "any step for a resident. A member token `claim`s (several claimants "
                         "may) and `fulfil`s. The resident — with `phone` and a one-time "
                         "`code` of purpose `manage`, no token — `accept`s a claim (the "
                         "claimant then sees the contact), `confirm`s with a `score` 1–5, or "
                         "`withdraw`s (the personal fields are erased for good). A step the "
                         "state does not allow is 409 naming the state (`state`, `action`, "
                         "`allowed`).",
             responses=ex.answer(ex.WISH_STEP))
def wish_step(code: WishCode, action: ActionPath, body: WishStepIn, request: Request,
              engine: EngineDep,
              principal: Annotated[Principal | None, Depends(current_token)]) -> Response:
    settings = _settings(request)
    args = dict(reason=body.reason, score=body.score, claim_id=body.claim,
                public_text=body.public_text)
    if principal is not None:
        if body.phone is not None or body.code is not None:
            raise InvalidInput("使用令牌时不需要手机号和验证码", [Problem(
                "不需要", column="phone", expected="不填", kind="unexpected_value")])
        with engine.begin() as conn:
            got = wishes.transition(conn, code, action, settings=settings, principal=principal,
                                    actor=principal.actor, **args)
        return _json(got)
    request.app.state.budgets.spend_submission(request)
    _needs(body.phone, "phone", "许愿时的手机号")
    _needs(body.code, "code", "短信验证码")

    def write(conn, h):
        got = wishes.transition(conn, code, action, settings=settings, resident_hash=h,
                                actor="resident", **args)
        return _resident_answer(got) | {"message": "已" + _DONE.get(action, "处理")}

    return _json(otp.with_code(engine, body.phone, body.code, "manage", settings, write))


_DONE = {"accept": "接受认领，认领人将与您联系", "confirm": "确认完成，感谢您的评价",
         "withdraw": "撤回心愿，您的姓名、电话和地址已删除"}


@router.get("/wishes", operation_id="wish_wall",
            summary="The public wish wall (心愿墙): published wishes without identity",
            description="Published, claimed and fulfilled wishes and projects of a region, "
                        "newest first: title and the moderated text, category, state, the "
                        "village and grid cell, the month posted and how many claimed it. "
                        "Never a name, phone, address or exact location. Public and cached.",
            responses=ex.answer(ex.WISH_WALL))
async def wish_wall(
    request: Request, region: RegionQ,
    category: Annotated[str | None, Query(max_length=16, description="a category slug")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Response:
    return await cached_public(request, lambda conn: wishes.public_wall(
        conn, region, limit=limit, category=category))


@router.get("/wishes-summary", operation_id="wish_summary",
            summary="Counts of wishes and projects: claimed, claimants, budgets, per "
                    "category, state and grid cell",
            description="The figures a street reports (271 wishes, all claimed, by 447 "
                        "members; 25 projects, ¥97,150.6, 19 organisations): totals per kind, "
                        "counts per category and state, and per grid cell at the cell's "
                        "inside point — cells with fewer than 3 wishes are folded into "
                        "`suppressed`. Public and cached.",
            responses=ex.answer(ex.WISH_SUMMARY))
async def wish_summary(request: Request, region: RegionQ) -> Response:
    return await cached_public(request, lambda conn: wishes.public_summary(conn, region))


@router.get("/planner/ledger.xlsx", operation_id="wish_ledger",
            summary="The 双微 work ledger (工作台账) per village as XLSX",
            description="One sheet per village of the region: every wish and project with "
                        "its category, channel, state and the dates of each step, the "
                        "claimants (members and organisations) and points, the amounts of "
                        "projects; a 汇总 sheet with the figures per village. Chinese "
                        "headers. Planner token; contacts are included only with "
                        "`contacts=true`.",
            response_class=Response, responses={200: {"content": {ledger.XLSX: {}}}})
def wish_ledger(request: Request, principal: Planner, engine: EngineDep, region: RegionQ,
                contacts: Annotated[bool, Query(description="include residents' "
                                                            "contacts")] = False) -> Response:
    if not principal.can_edit(region):
        raise Forbidden(f"区划 {region} 不在您的权限范围内")
    with engine.connect() as conn:
        body = ledger.wish_ledger_xlsx(conn, region, contacts=contacts)
    return Response(body, media_type=ledger.XLSX, headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="wish-ledger-{region}.xlsx"'})


# ---------------------------------------------------------------- ratings
@router.post("/points/{code}/ratings", operation_id="rate_point", status_code=201,
             summary="A resident rates a position (1–5 stars) with a one-time code",
             description="One rating per phone, position and period "
                         "(`SERVICEMAP_RATING_PERIOD`, default a quarter): a second is 409. "
                         "`phone` and `code` (purpose `rating`) confirm the resident; only "
                         "a keyed hash of the phone is stored, and the comment is for staff. "
                         "Answers the position's new mean and count.",
             responses=ex.answer(ex.RATED, status=201))
def rate_point(code: PointCode, body: RatingIn, request: Request,
               engine: EngineDep) -> Response:
    request.app.state.budgets.spend_submission(request)
    settings = _settings(request)
    fields = body.model_dump(include={"score", "comment"}, exclude_unset=True)
    got = otp.with_code(engine, body.phone, body.code, "rating", settings,
                        lambda conn, h: ratings.rate(conn, code, fields, phone_hash=h,
                                                     settings=settings))
    return _json(got, status=201)


@router.get("/points/{code}/ratings", operation_id="point_ratings",
            summary="A position's residents' rating: mean and count",
            description="The mean score (one decimal; `null` with fewer than 3 ratings) and "
                        "the number of ratings, overall and per period. Public and cached.",
            responses=ex.answer(ex.POINT_RATINGS))
async def point_ratings_route(request: Request, code: PointCode) -> Response:
    def build(conn):
        return {"point": code, **ratings.point_summary(conn, code)}

    return await cached_public(request, build)


# ---------------------------------------------------------------- activities
def _window(start: datetime | None, days: int) -> tuple[datetime, datetime]:
    s, _ = act.week_window(start)
    return s, s + timedelta(days=days)


@router.get("/activities", operation_id="list_activities",
            summary="Activities at positions: what is on near me this week",
            description="Activities that have not ended by `start` (default now) and begin "
                        "within `days` (default 7) — in a `region`, at a `point`, or nearest "
                        "first to `near=lng,lat` (WGS-84, straight-line `distance_m`). Each "
                        "with its position, times (Beijing time), capacity and sign-ups, and "
                        "an iCalendar link. Public.",
            responses=ex.answer(ex.ACTIVITIES))
async def list_activities(
    request: Request,
    region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
    point: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=64)] = None,
    near: Annotated[str | None, Query(max_length=60, pattern=r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?$",
                                      description="lng,lat (WGS-84)")] = None,
    start: Annotated[datetime | None, Query(description="from (ISO 8601; default now)")
                     ] = None,
    days: Annotated[int, Query(ge=1, le=92)] = 7,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    where = None
    if near is not None:
        x, y = (float(v) for v in near.split(","))
        if not (-180 <= x <= 180 and -90 <= y <= 90):
            raise InvalidInput("查询参数不正确", [Problem(
                "经纬度超出范围", column="query.near", value=near, expected="lng,lat（WGS-84）")])
        where = (x, y)
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=act.SHANGHAI)
    s, e = _window(start, days)

    def build(conn):
        items = act.activities_between(conn, s, e, region=region, point=point, near=where,
                                       limit=limit)
        for a in items:
            a["ics"] = f"/api/v1/activities/{a['code']}.ics"
        return {"start": s, "end": e, "items": items}

    if start is None:  # "now": not cached beyond the minute
        body = await run_in_threadpool(_read, request, build)
        return Response(encode_json(body), media_type="application/json",
                        headers={"Cache-Control": "public, max-age=60"})
    return await cached_public(request, build)


@router.get("/activities/{code}.ics", operation_id="activity_ics",
            summary="One activity as an iCalendar file (.ics)",
            description="For the phone's calendar: title, position and address, times in "
                        "UTC, the position's coordinates. Public.",
            response_class=Response, responses={200: {"content": {"text/calendar": {}}}})
async def activity_ics(request: Request,
                       code: Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)]
                       ) -> Response:
    def build(conn):
        return act.ics([act.activity(conn, code)], name="阵地活动")

    body = await run_in_threadpool(_read, request, build)
    return Response(body.encode("utf-8"), media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{code}.ics"',
                             "Cache-Control": "public, max-age=300"})


@router.get("/activities-monthly", operation_id="activities_monthly",
            summary="Activities per center per month, and the centers that missed the "
                    "monthly rule (月月有活动)",
            description="For each center (street and village/community centers) of the "
                        "region: activities and person-times per month of `year`, the months "
                        "that ended without an activity (`missed_months`) and whether it "
                        "meets the rule. `format=xlsx` for Excel. Public.",
            responses={200: {"content": {"application/json": {"example": ex.MONTHLY},
                                         ledger.XLSX: {}}}})
async def activities_monthly(
    request: Request, region: RegionQ,
    year: Annotated[int, Query(ge=1990, le=2100)],
    format: Annotated[Literal["json", "xlsx"], Query()] = "json",
) -> Response:
    if format == "xlsx":
        body = await run_in_threadpool(_read, request,
                                       lambda conn: ledger.monthly_xlsx(conn, region, year))
        return Response(body, media_type=ledger.XLSX, headers={
            "Content-Disposition": f'attachment; filename="activities-{region}-{year}.xlsx"',
            "Cache-Control": "public, max-age=60"})
    body = await run_in_threadpool(_read, request, lambda conn: act.monthly(conn, region, year))
    return Response(encode_json(body), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=60"})


# ---------------------------------------------------------------- staff: claimants, activities
@router.post("/planner/orgs", operation_id="create_org", status_code=201,
             summary="Register a party organisation that claims wishes",
             description="A branch (党支部), a 双报到 unit's organisation or a committee of the "
                         "region (`kind`), by its `code`; 409 when the code is taken. A member "
                         "token with `--subject org:<code>` then claims for it. Planner token "
                         "of the region.",
             responses=ex.answer(ex.ORG, status=201))
def create_org(body: OrgIn, principal: Planner, engine: EngineDep) -> Response:
    with engine.begin() as conn:
        return _json(claimants.save_org(conn, body.model_dump(exclude_unset=True),
                                        principal=principal), status=201)


@router.post("/planner/members", operation_id="create_member", status_code=201,
             summary="Register a party member who claims wishes",
             description="A member of the region by `code`, with the organisation (`org`) "
                         "whose claims theirs count for; `name` and `phone` are kept as "
                         "personal data (staff of the region, and the residents whose wish "
                         "they claimed once accepted). 409 when the code is taken. Planner "
                         "token of the region.",
             responses=ex.answer(ex.MEMBER, status=201))
def create_member(body: MemberIn, principal: Planner, engine: EngineDep) -> Response:
    with engine.begin() as conn:
        return _json(claimants.save_member(conn, body.model_dump(exclude_unset=True),
                                           principal=principal), status=201)


@router.get("/planner/claimants", operation_id="list_claimants",
            summary="Organisations and members of a region with their claims and 积分",
            description="Every organisation (claims, points) and member (with name and "
                        "phone, claims, fulfilled, points) of `region`. Planner token of the "
                        "region.",
            responses=ex.answer(ex.CLAIMANTS))
def list_claimants_route(principal: Planner, engine: EngineDep, region: RegionQ) -> Response:
    with engine.connect() as conn:
        return _json(claimants.list_claimants(conn, principal, region))


@router.post("/planner/activities", operation_id="create_activity", status_code=201,
             summary="Plan an activity at a position",
             description="`point`, `title`, `starts_at`, `ends_at` (after the start), "
                         "optional `theme`, `capacity`, `signups`; checked like every field "
                         "(Chinese problems naming the field). Planner token of the "
                         "position's region. It appears at once in 本周活动 and its `.ics`.",
             responses=ex.answer(ex.ACTIVITY, status=201))
def create_activity(body: ActivityIn, principal: Planner, engine: EngineDep) -> Response:
    with engine.begin() as conn:
        got = act.save_activity(conn, body.model_dump(exclude_unset=True), principal=principal)
    return _json(got, status=201)


@router.patch("/planner/activities/{code}", operation_id="update_activity",
              summary="Change an activity, or record sign-ups and attendance",
              description="Only the fields sent change (e.g. `attendance` after the day); the "
                          "same checks as creating it. Planner token of the position's "
                          "region (and of the new position's, when `point` moves it).",
              responses=ex.answer(ex.ACTIVITY))
def update_activity(body: ActivityIn, principal: Planner, engine: EngineDep,
                    code: Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)]
                    ) -> Response:
    with engine.begin() as conn:
        return _json(act.save_activity(conn, body.model_dump(exclude_unset=True),
                                       principal=principal, code=code))


@router.delete("/planner/activities/{code}", operation_id="delete_activity", status_code=204,
               summary="Cancel an activity",
               description="The activity leaves 本周活动 and the monthly counts (kept in the "
                           "store, marked deleted). Planner token of the position's region.")
def delete_activity_route(principal: Planner, engine: EngineDep,
                          code: Annotated[str, Path(pattern=CODE_PATTERN, max_length=64)]
                          ) -> Response:
    with engine.begin() as conn:
        act.delete_activity(conn, code, principal=principal)
    return Response(status_code=204, headers=PRIVATE)
