"""Wishes and micro-projects in the store: posting, the workflow's steps,
the staff's lists with the SLA clock, the claimant's view, and the public
wall and counts — personal data only where it belongs.

Who sees what
    * The resident's name, phone and address (``private``), their own words
      (``text``) and the exact location (``geom``) are read only here, for the
      staff of the wish's region (:func:`staff_list`) and, once the resident
      has accepted them, for a claimant (:func:`claimant_view`). The web's
      reader role cannot read these columns at all.
    * Public answers (:func:`public_wall`, :func:`public_summary`) name a wish
      by its random code, its title and the moderated ``public_text``, its
      village and grid cell (never a point closer than the cell) and the
      month it was posted; counts per grid cell below
      :data:`SUPPRESS_BELOW` are folded together.
    * A withdrawn wish loses its personal fields for good (PIPL): name, phone,
      address, own words, exact location and the phone's hash are erased and
      the time is recorded; the audit log never held them.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.entities import Field, entity
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem, RateLimited
from geo.residents import workflow
from geo.rules import check_mobile, check_number, check_text, check_value
from geo.store.audit import write_audit
from geo.tokens import Principal, region_in_scope
from geo.vocab import (
    CHANNEL_ZH,
    WISH_CATEGORY_ZH,
    WISH_KIND_ZH,
    WISH_STATE_ZH,
    Channel,
    WishKind,
    WishState,
)

__all__ = ["PUBLIC_STATES", "SUPPRESS_BELOW", "claimant_view", "claims_of", "erase",
           "mask_contacts", "post_wish", "public_summary", "public_wall", "staff_list",
           "transition", "wish_row"]

#: the states the public wall shows (moderated by the staff's publication)
PUBLIC_STATES = (WishState.PUBLISHED.value, WishState.CLAIMED.value,
                 WishState.FULFILLED.value, WishState.CONFIRMED.value)
#: per-area counts below this are folded into one "other areas" row
SUPPRESS_BELOW = 3

_WISH = entity("wish")
_REGION = Field("region", "region_code", "所属村居")
_PHONE_LIKE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)|(?<!\d)\d{7,8}(?!\d)")
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def mask_contacts(s: str | None) -> str | None:
    """Text with phone and ID-card numbers masked (``138****0000``), for the wall."""
    if not s:
        return s
    s = _ID_LIKE.sub("******************", s)
    return _PHONE_LIKE.sub(lambda m: f"{m.group(1)}****{m.group(2)}" if m.group(1)
                           else "*" * len(m.group(0)), s)


def _field(name: str, value: Any, problems: list[Problem]) -> Any:
    got, ps = check_value(_WISH.field(name), value)
    problems += ps
    return got


def _private(body: dict[str, Any], problems: list[Problem], *, phone: str | None) -> dict:
    out: dict[str, str] = {}
    name, p = check_text(body.get("name"), field="name", max_len=30)
    if p:
        problems.append(p)
    elif name:
        out["name"] = name
    addr, p = check_text(body.get("address"), field="address", max_len=200)
    if p:
        problems.append(p)
    elif addr:
        out["address"] = addr
    if phone:
        out["phone"] = phone
    elif body.get("phone") not in (None, ""):
        got, p = check_mobile(body.get("phone"))
        if p:
            problems.append(p)
        else:
            out["phone"] = got
    return out


def _locate(conn: Connection, lng: Any, lat: Any, problems: list[Problem]) -> Any | None:
    if lng is None and lat is None:
        return None
    bad = [(k, v) for k, v in (("lng", lng), ("lat", lat))
           if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)]
    if bad or lng is None or lat is None:
        problems.append(Problem("位置应同时给出经度和纬度（WGS-84 数字）", column="lng",
                                value=lng, expected="lng 73–136、lat 3–54",
                                kind="invalid_location"))
        return None
    if not (73 <= lng <= 136 and 3 <= lat <= 54):
        problems.append(Problem("位置超出服务范围", column="lng", value=[lng, lat],
                                expected="中国境内的 WGS-84 经纬度", kind="outside_area"))
        return None
    return conn.execute(text("""
        SELECT (SELECT r.code FROM regions r WHERE r.level = 'village' AND r.geom IS NOT NULL
                  AND ST_Covers(r.geom, p) ORDER BY r.code LIMIT 1) AS region_code,
               (SELECT g.code FROM grid_cells g WHERE g.deleted_at IS NULL
                  AND ST_Covers(g.geom, p) ORDER BY g.code LIMIT 1) AS grid_code,
               (SELECT c.code FROM compounds c WHERE c.deleted_at IS NULL
                  AND ST_Covers(c.geom, p) ORDER BY c.code LIMIT 1) AS compound_code,
               ST_AsEWKT(p) AS ewkt
        FROM (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4326) AS p) q"""),
        {"x": float(lng), "y": float(lat)}).one()


def post_wish(conn: Connection, body: dict[str, Any], *, actor: str, actor_role: str,
              settings: Any, phone_hash: str | None = None, phone: str | None = None,
              scope: Principal | None = None) -> dict[str, Any]:
    """Store a new wish or project (state ``posted``) and return it as staff see it.

    A resident posts with a confirmed phone (``phone_hash``/``phone``, channel
    ``online``); staff (``scope``: a planner of the region) enter a wish for a
    resident with its channel, or a project with its budget. The wish's
    village comes from ``region`` or the position (``point``) or the location
    (``lng``/``lat``, WGS-84), which must agree; the grid cell and compound are
    taken from the location. Nothing is stored when anything is wrong.

    Raises
    ------
    InvalidInput
        Every problem of the body at once (Chinese, naming the field).
    Forbidden
        Staff outside their regions.
    RateLimited
        More than ``submissions_per_phone_day`` wishes from one phone in a day.
    """
    problems: list[Problem] = []
    unknown = sorted(set(body) - {"kind", "title", "text", "category", "region", "point",
                                  "lng", "lat", "budget_yuan", "channel", "name", "phone",
                                  "address"})
    for k in unknown:
        problems.append(Problem("未知字段", column=k, expected="kind、title、text、category、"
                                "region、point、lng、lat、budget_yuan、channel、name、phone、"
                                "address", kind="unknown_field"))
    kind = _field("kind", body.get("kind"), problems) or WishKind.WISH.value
    title = _field("title", body.get("title"), problems)
    words = _field("text", body.get("text"), problems)
    category = _field("category", body.get("category"), problems)
    channel = _field("channel", body.get("channel"), problems) or Channel.ONLINE.value
    budget = _field("budget_yuan", body.get("budget_yuan"), problems)
    if scope is None:
        if channel != Channel.ONLINE.value:
            problems.append(Problem("居民在线提交的渠道只能是“居民在线提交”", column="channel",
                                    value=body.get("channel"), expected="online",
                                    kind="invalid_channel"))
        if kind == WishKind.PROJECT.value:
            problems.append(Problem("微项目由村（社区）工作人员登记", column="kind", value=kind,
                                    expected="wish", kind="invalid_kind"))
    if kind == WishKind.PROJECT.value and budget is None and scope is not None:
        problems.append(Problem("微项目须填写金额", column="budget_yuan",
                                expected="金额（元，≥ 0）", kind="missing_value"))
    if kind == WishKind.WISH.value and budget is not None:
        problems.append(Problem("只有微项目有金额", column="budget_yuan", value=budget,
                                expected="不填", kind="unexpected_value"))
    private = _private(body, problems, phone=phone)
    located = _locate(conn, body.get("lng"), body.get("lat"), problems)
    region = body.get("region")
    if region is not None:
        region, ps = check_value(_REGION, region)
        problems += ps
    point = body.get("point")
    point_region = None
    if point is not None:
        row = conn.execute(text("SELECT code, region_code FROM service_points "
                                "WHERE code = :c AND deleted_at IS NULL"),
                           {"c": str(point)}).one_or_none()
        if row is None:
            problems.append(Problem("未找到该阵地", column="point", value=str(point)[:64],
                                    expected="已登记的阵地编码", kind="unknown_point"))
        else:
            point_region = row.region_code
    if problems:
        raise InvalidInput("心愿未提交：" + "；".join(
            f"{p.column}：{p.message}" for p in problems[:3]), problems)
    candidates = [("region", region), ("point", point_region),
                  ("lng", located.region_code if located is not None else None)]
    given = [(k, v) for k, v in candidates if v]
    if not given:
        raise InvalidInput("心愿须指明所属村居：给出 region、point 或位置（lng/lat）", [
            Problem("不能为空", column="region", expected="村居区划代码、阵地编码或位置",
                    kind="missing_value")])
    village = given[0][1]
    for k, v in given[1:]:
        if not (v.startswith(village) or village.startswith(v)):
            raise InvalidInput(f"{k} 所在村居 {v} 与 {given[0][0]} 的 {village} 不一致", [
                Problem("位置与所属村居不一致", column=k, value=v, expected=f"位于 {village} 内",
                        kind="region_mismatch")])
    if located is not None and located.region_code:
        village = located.region_code if located.region_code.startswith(village) else village
    reg = conn.execute(text("SELECT code, level FROM regions WHERE code = :c"),
                       {"c": village}).one_or_none()
    if reg is None:
        raise InvalidInput(f"未找到区划 {village}", [Problem(
            "未知区划", column="region", value=village, expected="已登记的村居代码",
            kind="unknown_region")])
    if scope is not None and not scope.can_edit(village):
        raise Forbidden(f"区划 {village} 不在您的权限范围内")
    if phone_hash is not None:
        n = conn.execute(text(
            "SELECT count(*) FROM wishes WHERE phone_hash = :h "
            "AND posted_at > now() - interval '1 day'"), {"h": phone_hash}).scalar_one()
        if n >= settings.submissions_per_phone_day:
            raise RateLimited(f"该手机号今天已提交 {n} 个心愿，请明天再提交", retry_after=3600)
    code = "W" + secrets.token_hex(5).upper()
    conn.execute(text("""
        INSERT INTO wishes (code, kind, title, text, public_text, category, region_code,
                            point_code, grid_code, compound_code, geom, budget_yuan, channel,
                            phone_hash, private, entered_by)
        VALUES (:code, :kind, :title, :text, NULL, :category, :region, :point, :grid,
                :compound, ST_GeomFromEWKT(:ewkt), :budget, :channel, :h,
                CAST(:private AS jsonb), :entered_by)"""),
        {"code": code, "kind": kind, "title": title, "text": words,
         "category": category, "region": village, "point": point if point_region else None,
         "grid": located.grid_code if located is not None else None,
         "compound": located.compound_code if located is not None else None,
         "ewkt": located.ewkt if located is not None else None, "budget": budget,
         "channel": channel, "h": phone_hash,
         "private": json.dumps(private, ensure_ascii=False),
         "entered_by": actor if scope is not None else None})
    _event(conn, code, "post", None, WishState.POSTED.value, actor, actor_role, None)
    write_audit(conn, actor=actor, action="create", entity="wish", code=code,
                after=_public_snapshot(conn, code))
    return wish_row(conn, code, private=True)


def _event(conn: Connection, code: str, action: str, before: str | None, after: str,
           actor: str, role: str, reason: str | None) -> None:
    conn.execute(text(
        "INSERT INTO wish_events (wish_code, action, from_state, to_state, actor, actor_role, "
        "reason) VALUES (:c, :a, :f, :t, :actor, :role, :reason)"),
        {"c": code, "a": action, "f": before, "t": after, "actor": actor, "role": role,
         "reason": reason})


def _public_snapshot(conn: Connection, code: str) -> dict[str, Any]:
    """What the audit log keeps of a wish: nothing personal."""
    row = conn.execute(text(
        "SELECT code, kind, state, category, region_code, grid_code, point_code, "
        "budget_yuan::float AS budget_yuan FROM wishes WHERE code = :c"), {"c": code}
    ).mappings().one()
    return dict(row)


#: a wish's personal fields in a staff row: the resident's contact, own words and home
_PERSONAL = ("text", "private", "lng", "lat", "compound_code")

_STAFF_COLUMNS = """
    w.code, w.kind, w.title, w.text, w.public_text, w.category, w.region_code,
    r.name AS region_name, w.point_code, w.grid_code, g.name AS grid_name, w.compound_code,
    ST_X(w.geom) AS lng, ST_Y(w.geom) AS lat, w.budget_yuan::float AS budget_yuan, w.channel,
    w.state, w.state_reason, w.resident_score, w.private, w.entered_by, w.posted_at,
    w.published_at, w.claimed_at, w.fulfilled_at, w.confirmed_at, w.closed_at, w.erased_at,
    w.synthetic,
    (SELECT count(*) FROM wish_claims c WHERE c.wish_code = w.code AND c.withdrawn_at IS NULL)
        AS claims"""


def _clock(row: dict[str, Any], settings: Any, now: datetime) -> None:
    """The SLA clock on a wish's row: ``due_at`` and ``overdue`` at ``now``."""
    due = _due(row, settings)
    row["due_at"] = due
    row["overdue"] = bool(due is not None and due < now)


def _due(row: dict[str, Any], settings: Any) -> datetime | None:
    from datetime import timedelta

    state = row["state"]
    if state == WishState.POSTED.value:
        return row["posted_at"] + timedelta(days=settings.wish_review_days)
    if state == WishState.PUBLISHED.value and row["published_at"]:
        return row["published_at"] + timedelta(days=settings.wish_claim_days)
    if state == WishState.CLAIMED.value and row["claimed_at"]:
        return row["claimed_at"] + timedelta(days=settings.wish_fulfil_days)
    return None


def _labelled(row: dict[str, Any]) -> dict[str, Any]:
    row["kind_zh"] = WISH_KIND_ZH[row["kind"]]
    row["category_zh"] = WISH_CATEGORY_ZH[row["category"]]
    row["state_zh"] = WISH_STATE_ZH[row["state"]]
    if "channel" in row:
        row["channel_zh"] = CHANNEL_ZH[row["channel"]]
    return row


def wish_row(conn: Connection, code: str, *, private: bool,
             settings: Any = None) -> dict[str, Any]:
    """One wish as the staff see it (``private``) or without personal fields."""
    row = conn.execute(text(
        f"SELECT {_STAFF_COLUMNS} FROM wishes w JOIN regions r ON r.code = w.region_code "
        "LEFT JOIN grid_cells g ON g.code = w.grid_code WHERE w.code = :c"),
        {"c": code}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"未找到心愿 {code!r}")
    out = _labelled(dict(row))
    if not private:
        for k in (*_PERSONAL, "entered_by"):
            out.pop(k, None)
    if settings is not None:
        _clock(out, settings, datetime.now().astimezone())
    out["allowed_actions"] = list(workflow.allowed_actions(out["state"]))
    return out


def _actor_kind(principal: Principal | None, resident_hash: str | None) -> str:
    if resident_hash is not None:
        return "resident"
    if principal is None:
        return "system"
    if principal.has_role("planner"):
        return "staff"
    if principal.claimant is not None:
        return "claimant"
    raise Forbidden("此令牌不能处理心愿（需要规划编辑令牌或党员令牌）")


def transition(conn: Connection, code: str, action: str, *, settings: Any,
               principal: Principal | None = None, resident_hash: str | None = None,
               actor: str = "system", reason: str | None = None, score: Any = None,
               claim_id: int | None = None, public_text: Any = None) -> dict[str, Any]:
    """Take one workflow step on wish ``code`` and return the wish after it.

    ``principal`` is a staff (planner) or claimant (member) token; a resident
    is known by ``resident_hash``, the hash of the phone their one-time code
    went to, which must be the wish's. Each step is one ``wish_events`` row
    and one audit entry (without personal data).

    Raises
    ------
    NotFound, Forbidden, IllegalTransition, Conflict, InvalidInput
    """
    if action not in workflow.ACTIONS:
        raise InvalidInput(f"未知操作 {action!r}", [Problem(
            "未知操作", column="action", value=action, expected="、".join(workflow.ACTIONS),
            kind="unknown_action")])
    row = conn.execute(text(
        "SELECT code, state, region_code, phone_hash, kind FROM wishes WHERE code = :c "
        "FOR UPDATE"), {"c": code}).one_or_none()
    if row is None:
        raise NotFound(f"未找到心愿 {code!r}")
    who = _actor_kind(principal, resident_hash)
    if who == "resident" and (row.phone_hash is None or row.phone_hash != resident_hash):
        raise Forbidden("只有提交该心愿的手机号才能操作")
    if who in ("staff", "claimant") and not region_in_scope(row.region_code,
                                                            principal.regions):
        raise Forbidden(f"心愿 {code} 属于 {row.region_code}，不在您的权限范围内")
    reason_text = None
    if reason is not None:
        reason_text, p = check_text(reason, field="reason", max_len=200)
        if p:
            raise InvalidInput(f"reason：{p.message}", [p])
    new = workflow.step(row.state, action, who, code=code, reason=reason_text)
    sets: dict[str, Any] = {}
    if action == "publish":
        shown = public_text
        if shown is not None:
            shown, p = check_text(shown, field="public_text", max_len=500)
            if p:
                raise InvalidInput(f"public_text：{p.message}", [p])
        sets = {"published_at": "now()"}
        conn.execute(text("UPDATE wishes SET public_text = :t WHERE code = :c"),
                     {"t": mask_contacts(shown) if shown else None, "c": code})
    elif action in ("reject", "withdraw", "expire"):
        sets = {"closed_at": "now()"}
    elif action == "claim":
        _claim(conn, code, principal, who, body_claimant=claim_id)
        sets = {"claimed_at": "COALESCE(claimed_at, now())"}
    elif action == "accept":
        _accept(conn, code, claim_id)
    elif action == "fulfil":
        _fulfil(conn, code, principal, who, settings)
        sets = {"fulfilled_at": "now()"}
    elif action == "confirm":
        got = None
        if score is not None:
            got, p = check_number(score, field="score")
            if p:
                raise InvalidInput("score：" + p.message, [p])
        sets = {"confirmed_at": "now()"}
        conn.execute(text("UPDATE wishes SET resident_score = :s WHERE code = :c"),
                     {"s": got, "c": code})
    assignments = ", ".join(f"{k} = {v}" for k, v in sets.items())
    conn.execute(text(
        f"UPDATE wishes SET state = :s, state_reason = COALESCE(:r, state_reason), "
        f"updated_at = now(){', ' + assignments if assignments else ''} WHERE code = :c"),
        {"s": new, "r": reason_text if action == "reject" else None, "c": code})
    if action == "withdraw":
        erase(conn, code)
    role = principal.role if principal is not None else who
    _event(conn, code, action, row.state, new, actor, role, reason_text)
    write_audit(conn, actor=actor, action=action, entity="wish", code=code,
                before={"state": row.state}, after=_public_snapshot(conn, code))
    return wish_row(conn, code, private=who == "staff", settings=settings)


def erase(conn: Connection, code: str) -> None:
    """Erase a wish's personal fields for good (a resident's withdrawal)."""
    conn.execute(text(
        "UPDATE wishes SET private = '{}'::jsonb, text = NULL, geom = NULL, phone_hash = NULL, "
        "compound_code = NULL, erased_at = now() WHERE code = :c"), {"c": code})


def _claimant(conn: Connection, principal: Principal) -> tuple[str | None, str | None]:
    kind, subject = principal.claimant or (None, None)
    if kind == "member":
        org = conn.execute(text("SELECT org_code FROM members WHERE code = :c "
                                "AND deleted_at IS NULL"), {"c": subject}).one_or_none()
        if org is None:
            raise Forbidden(f"党员 {subject} 已不在册，令牌不能再认领")
        return subject, org.org_code
    if kind == "org":
        return None, subject
    raise Forbidden("认领须使用党员或党组织的令牌")


def _claim(conn: Connection, code: str, principal: Principal | None, who: str,
           body_claimant: Any) -> None:
    if who != "claimant" or principal is None:
        raise Forbidden("认领须使用党员或党组织的令牌")
    member, org = _claimant(conn, principal)
    exists = conn.execute(text(
        "SELECT 1 FROM wish_claims WHERE wish_code = :w AND COALESCE(member_code, '') = :m "
        "AND COALESCE(org_code, '') = :o AND withdrawn_at IS NULL"),
        {"w": code, "m": member or "", "o": (org if member is None else org) or ""}).first()
    if exists:
        raise Conflict(f"您已认领心愿 {code}")
    conn.execute(text(
        "INSERT INTO wish_claims (wish_code, member_code, org_code) VALUES (:w, :m, :o)"),
        {"w": code, "m": member, "o": org})


def _accept(conn: Connection, code: str, claim_id: Any) -> None:
    if claim_id is None:
        raise InvalidInput("请指明接受哪一位认领人", [Problem(
            "不能为空", column="claim", expected="认领编号", kind="missing_value")])
    hit = conn.execute(text(
        "UPDATE wish_claims SET accepted_at = COALESCE(accepted_at, now()) "
        "WHERE id = :i AND wish_code = :w AND withdrawn_at IS NULL RETURNING id"),
        {"i": claim_id, "w": code}).first()
    if hit is None:
        raise NotFound(f"心愿 {code} 没有认领 {claim_id}")


def _fulfil(conn: Connection, code: str, principal: Principal | None, who: str,
            settings: Any) -> None:
    claims = conn.execute(text(
        "SELECT id, member_code, org_code FROM wish_claims "
        "WHERE wish_code = :w AND withdrawn_at IS NULL ORDER BY id"), {"w": code}).all()
    if who == "claimant":
        member, org = _claimant(conn, principal)
        mine = [c for c in claims if (c.member_code == member if member else
                                      c.member_code is None and c.org_code == org)]
        if not mine:
            raise Forbidden(f"您没有认领心愿 {code}，不能标记完成")
    share = math.ceil(settings.wish_points / len(claims)) if claims else 0
    conn.execute(text(
        "UPDATE wish_claims SET fulfilled_at = now(), points = :p "
        "WHERE wish_code = :w AND withdrawn_at IS NULL"), {"p": share, "w": code})


def staff_list(conn: Connection, principal: Principal, *, settings: Any,
               region: str | None = None, state: str | None = None,
               overdue: bool = False, limit: int = 500) -> dict[str, Any]:
    """The wishes of the staff's regions (or of ``region`` within them) with
    contacts, the SLA clock (``due_at``, ``overdue``) and counts per state."""
    scopes = [s for s in principal.regions if region is None or s.startswith(region)
              or region.startswith(s)]
    if region is not None:
        if not region_in_scope(region, principal.regions) and not scopes:
            raise Forbidden(f"区划 {region} 不在您的权限范围内")
        scopes = [region if region_in_scope(region, principal.regions) else s for s in scopes]
    if state is not None and state not in WISH_STATE_ZH:
        raise InvalidInput("未知状态", [Problem("未知状态", column="state", value=state,
                                                  expected="、".join(WISH_STATE_ZH),
                                                  kind="unknown_state")])
    rows = conn.execute(text(
        f"SELECT {_STAFF_COLUMNS} FROM wishes w JOIN regions r ON r.code = w.region_code "
        "LEFT JOIN grid_cells g ON g.code = w.grid_code "
        "WHERE EXISTS (SELECT 1 FROM unnest(CAST(:scopes AS text[])) s "
        "              WHERE starts_with(w.region_code, s)) "
        "  AND (CAST(:state AS text) IS NULL OR w.state = :state) "
        "ORDER BY w.posted_at, w.code"), {"scopes": scopes, "state": state}).mappings().all()
    items = []
    counts: dict[str, int] = {}
    n_overdue = 0
    now = datetime.now().astimezone()
    for r in rows:
        d = _labelled(dict(r))
        _clock(d, settings, now)
        d["allowed_actions"] = list(workflow.allowed_actions(d["state"], "staff"))
        counts[d["state"]] = counts.get(d["state"], 0) + 1
        n_overdue += d["overdue"]
        if not overdue or d["overdue"]:
            items.append(d)
    return {"total": len(rows), "by_state": counts, "overdue": n_overdue,
            "unclaimed": counts.get(WishState.PUBLISHED.value, 0),
            "items": items[:limit], "truncated": len(items) > limit}


def claimant_view(conn: Connection, principal: Principal, code: str) -> dict[str, Any]:
    """A wish as its claimant sees it: the contact only once the resident has
    accepted this claimant."""
    member, org = _claimant(conn, principal)
    w = wish_row(conn, code, private=True)
    if not region_in_scope(w["region_code"], principal.regions):
        raise Forbidden(f"心愿 {code} 不在您的权限范围内")
    accepted = conn.execute(text(
        "SELECT bool_or(accepted_at IS NOT NULL) FROM wish_claims WHERE wish_code = :w "
        "AND withdrawn_at IS NULL AND (member_code = :m OR (CAST(:m AS text) IS NULL "
        "AND member_code IS NULL AND org_code = :o))"),
        {"w": code, "m": member, "o": org}).scalar_one()
    if not accepted:
        for k in _PERSONAL:
            w.pop(k, None)
    w.pop("entered_by", None)
    w["contact_shared"] = bool(accepted)
    return w


def public_wall(conn: Connection, region: str, *, limit: int = 200,
                category: str | None = None) -> dict[str, Any]:
    """The 心愿墙 of a region: published wishes without identity, newest first."""
    if category is not None and category not in WISH_CATEGORY_ZH:
        raise InvalidInput("未知类别", [Problem("未知类别", column="category", value=category,
                                                  expected="、".join(WISH_CATEGORY_ZH),
                                                  kind="unknown_category")])
    rows = conn.execute(text("""
        SELECT w.code, w.kind, w.title, w.public_text, w.category, w.state,
               w.region_code, r.name AS region_name, g.name AS grid_name,
               to_char(w.posted_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month,
               w.budget_yuan::float AS budget_yuan, w.resident_score, w.synthetic,
               (SELECT count(*) FROM wish_claims c WHERE c.wish_code = w.code
                  AND c.withdrawn_at IS NULL) AS claims
        FROM wishes w JOIN regions r ON r.code = w.region_code
        LEFT JOIN grid_cells g ON g.code = w.grid_code
        WHERE starts_with(w.region_code, :region) AND w.state = ANY(:states)
          AND (CAST(:cat AS text) IS NULL OR w.category = :cat)
        ORDER BY w.posted_at DESC, w.code LIMIT :lim"""),
        {"region": region, "states": list(PUBLIC_STATES), "cat": category,
         "lim": limit + 1}).mappings().all()
    items = [_labelled(dict(r)) for r in rows[:limit]]
    for it in items:
        it["title"] = mask_contacts(it["title"])
    return {"region": region, "items": items, "truncated": len(rows) > limit}


def public_summary(conn: Connection, region: str) -> dict[str, Any]:
    """Counts of a region's wishes and projects: totals (claimed, claimants,
    organisations, budgets), per category and state, and per grid cell (the
    cell's inside point, never a home) with small cells folded together."""
    tot = conn.execute(text("""
        SELECT w.kind, count(*) AS n,
               count(*) FILTER (WHERE EXISTS (SELECT 1 FROM wish_claims c
                   WHERE c.wish_code = w.code AND c.withdrawn_at IS NULL)) AS claimed,
               count(*) FILTER (WHERE w.state IN ('fulfilled', 'confirmed')) AS fulfilled,
               count(*) FILTER (WHERE w.state = 'published') AS unclaimed,
               COALESCE(sum(w.budget_yuan), 0)::text AS budget
        FROM wishes w WHERE starts_with(w.region_code, :r) AND w.state <> 'posted'
          AND w.state <> 'rejected'
        GROUP BY w.kind"""), {"r": region}).mappings().all()
    claimants = conn.execute(text("""
        SELECT w.kind, count(DISTINCT c.member_code) AS members,
               count(DISTINCT c.org_code) FILTER (WHERE c.member_code IS NULL) AS orgs,
               count(DISTINCT c.org_code) AS orgs_all
        FROM wish_claims c JOIN wishes w ON w.code = c.wish_code
        WHERE starts_with(w.region_code, :r) AND c.withdrawn_at IS NULL
        GROUP BY w.kind"""), {"r": region}).mappings().all()
    by_kind: dict[str, dict[str, Any]] = {
        k.value: {"total": 0, "claimed": 0, "fulfilled": 0, "unclaimed": 0,
                  "claimant_members": 0, "claimant_orgs": 0, "budget_yuan": 0.0}
        for k in WishKind}
    for t in tot:
        by_kind[t["kind"]].update(total=t["n"], claimed=t["claimed"], fulfilled=t["fulfilled"],
                                  unclaimed=t["unclaimed"], budget_yuan=float(t["budget"]))
    for c in claimants:
        by_kind[c["kind"]].update(claimant_members=c["members"], claimant_orgs=c["orgs"])
    cats = conn.execute(text("""
        SELECT category, state, count(*) AS n FROM wishes
        WHERE starts_with(region_code, :r) AND state = ANY(:states)
        GROUP BY category, state ORDER BY category, state"""),
        {"r": region, "states": list(PUBLIC_STATES)}).mappings().all()
    grids = conn.execute(text("""
        SELECT g.code, g.name, count(*) AS n,
               count(*) FILTER (WHERE w.state = 'published') AS unclaimed,
               ST_X(ST_PointOnSurface(g.geom)) AS lng, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM wishes w JOIN grid_cells g ON g.code = w.grid_code
        WHERE starts_with(w.region_code, :r) AND w.state = ANY(:states)
        GROUP BY g.code, g.name, g.geom ORDER BY g.code"""),
        {"r": region, "states": list(PUBLIC_STATES)}).mappings().all()
    shown = [dict(g) for g in grids if g["n"] >= SUPPRESS_BELOW]
    folded = [g for g in grids if g["n"] < SUPPRESS_BELOW]
    return {
        "region": region,
        "wishes": by_kind["wish"], "projects": by_kind["project"],
        "by_category": [{"category": c["category"], "category_zh": WISH_CATEGORY_ZH[c["category"]],
                         "state": c["state"], "state_zh": WISH_STATE_ZH[c["state"]],
                         "count": c["n"]} for c in cats],
        "by_grid": shown,
        "suppressed": {"grids": len(folded), "wishes": sum(g["n"] for g in folded),
                       "below": SUPPRESS_BELOW},
    }


def claims_of(conn: Connection, code: str, *, private: bool) -> list[dict[str, Any]]:
    """A wish's claims: claimant (member and organisation), when, accepted,
    fulfilled, points; with ``private`` (staff) the member's name and phone."""
    rows = conn.execute(text("""
        SELECT c.id, c.member_code, c.org_code, o.name AS org_name, c.claimed_at,
               c.accepted_at, c.fulfilled_at, c.withdrawn_at, c.points,
               m.private AS member_private
        FROM wish_claims c LEFT JOIN members m ON m.code = c.member_code
        LEFT JOIN party_orgs o ON o.code = c.org_code
        WHERE c.wish_code = :w ORDER BY c.id"""), {"w": code}).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        mp = d.pop("member_private") or {}
        if private:
            d["member_name"] = mp.get("name")
            d["member_phone"] = mp.get("phone")
        out.append(d)
    return out
