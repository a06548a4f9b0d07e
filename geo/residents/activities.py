"""Activities at positions: what is on near a resident, iCalendar files, and
the monthly rule (月月有活动: every center holds at least one activity a month)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, NotFound, Problem

__all__ = ["CENTER_KINDS", "activities_between", "activity", "delete_activity", "ics", "monthly",
           "save_activity", "week_window"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: the positions the monthly rule applies to
CENTER_KINDS = ("town_center", "village_center")

_COLUMNS = """a.code, a.title, a.theme, a.point_code, p.name AS point_name, p.address,
    p.region_code, a.starts_at, a.ends_at, a.capacity, a.signups, a.attendance, a.synthetic,
    ST_X(p.geom) AS lng, ST_Y(p.geom) AS lat"""


def week_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """本周活动: from now to the same time seven days later (Beijing time)."""
    start = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    return start, start + timedelta(days=7)


def activities_between(conn: Connection, start: datetime, end: datetime, *,
                       region: str | None = None, point: str | None = None,
                       near: tuple[float, float] | None = None,
                       limit: int = 50) -> list[dict[str, Any]]:
    """Activities that have not ended by ``start`` and begin before ``end``, in a
    region or at a position; nearest first when ``near`` (lng, lat) is given
    (``distance_m``, straight line), else soonest first."""
    if end <= start:
        raise InvalidInput("结束时间须晚于开始时间", [Problem(
            "时间范围不对", column="end", expected="晚于 start 的时间", kind="invalid_range")])
    dist = ("ST_Distance(p.geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)"
            if near else "NULL::float")
    rows = conn.execute(text(f"""
        SELECT {_COLUMNS}, {dist} AS distance_m
        FROM activities a JOIN service_points p ON p.code = a.point_code
        WHERE a.deleted_at IS NULL AND p.deleted_at IS NULL
          AND a.ends_at > :start AND a.starts_at < :end
          AND (CAST(:region AS text) IS NULL OR starts_with(p.region_code, :region))
          AND (CAST(:point AS text) IS NULL OR a.point_code = :point)
        ORDER BY {'distance_m, ' if near else ''}a.starts_at, a.code
        LIMIT :lim"""), {"start": start, "end": end, "region": region, "point": point,
                         "x": near[0] if near else None, "y": near[1] if near else None,
                         "lim": limit}).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        if d["distance_m"] is not None:
            d["distance_m"] = round(d["distance_m"])
        d["full"] = d["capacity"] is not None and d["signups"] >= d["capacity"]
        out.append(d)
    return out


def activity(conn: Connection, code: str) -> dict[str, Any]:
    row = conn.execute(text(
        f"SELECT {_COLUMNS} FROM activities a JOIN service_points p ON p.code = a.point_code "
        "WHERE a.code = :c AND a.deleted_at IS NULL"), {"c": code}).mappings().one_or_none()
    if row is None:
        raise NotFound(f"未找到活动 {code!r}")
    return dict(row)


def _escape(s: str | None) -> str:
    return (s or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,") \
        .replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """RFC 5545 line folding: at most 75 octets a line, continuation lines
    start with a space; never inside a UTF-8 character."""
    out, cur, size = [], "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > (75 if not out else 74):
            out.append(cur)
            cur, size = "", 0
        cur += ch
        size += n
    out.append(cur)
    return [out[0]] + [" " + s for s in out[1:]]


def ics(items: list[dict[str, Any]], *, name: str = "服务阵地活动",
        stamp: datetime | None = None) -> str:
    """An iCalendar (RFC 5545) text of activities, times in UTC, CRLF lines."""
    def utc(t: datetime) -> str:
        return t.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")

    now = utc(stamp or datetime.now(SHANGHAI))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//ServiceMap//活动//ZH",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH", f"X-WR-CALNAME:{_escape(name)}",
             "X-WR-TIMEZONE:Asia/Shanghai"]
    for a in items:
        lines += ["BEGIN:VEVENT", f"UID:{a['code']}@servicemap", f"DTSTAMP:{now}",
                  f"DTSTART:{utc(a['starts_at'])}", f"DTEND:{utc(a['ends_at'])}",
                  f"SUMMARY:{_escape(a['title'])}",
                  "LOCATION:" + _escape(a["point_name"] + ("，" + a["address"]
                                                           if a.get("address") else ""))]
        if a.get("theme"):
            lines.append(f"DESCRIPTION:{_escape('主题：' + a['theme'])}")
        if a.get("lat") is not None:
            lines.append(f"GEO:{a['lat']:.6f};{a['lng']:.6f}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(seg + "\r\n" for line in lines for seg in _fold(line))


def monthly(conn: Connection, region: str, year: int, *,
            now: datetime | None = None) -> dict[str, Any]:
    """Activities per center per month of ``year`` (count, person-times) and
    the months each center missed (months that have begun; the current one
    counts as missed only once it is over)."""
    if not 1990 <= year <= 2100:
        raise InvalidInput("年份超出范围", [Problem("年份超出范围", column="year", value=year,
                                                    expected="1990–2100", kind="out_of_range")])
    today = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    if year < today.year:
        closed = 12
    elif year > today.year:
        closed = 0
    else:
        closed = today.month - 1
    rows = conn.execute(text("""
        SELECT p.code, p.name, p.kind, p.region_code,
               extract(month FROM a.starts_at AT TIME ZONE 'Asia/Shanghai')::int AS month,
               count(a.code) AS n, COALESCE(sum(a.attendance), 0) AS people
        FROM service_points p
        LEFT JOIN activities a ON a.point_code = p.code AND a.deleted_at IS NULL
             AND extract(year FROM a.starts_at AT TIME ZONE 'Asia/Shanghai') = :y
        WHERE p.deleted_at IS NULL AND p.kind = ANY(:kinds) AND starts_with(p.region_code, :r)
        GROUP BY p.code, p.name, p.kind, p.region_code, month
        ORDER BY p.kind DESC, p.code, month"""),
        {"y": year, "kinds": list(CENTER_KINDS), "r": region}).mappings().all()
    centers: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = centers.setdefault(r["code"], {
            "code": r["code"], "name": r["name"], "kind": r["kind"],
            "region_code": r["region_code"], "months": [0] * 12, "attendance": [0] * 12})
        if r["month"] is not None:
            c["months"][r["month"] - 1] = r["n"]
            c["attendance"][r["month"] - 1] = int(r["people"])
    for c in centers.values():
        c["activities"] = sum(c["months"])
        c["person_times"] = sum(c["attendance"])
        c["missed_months"] = [m + 1 for m in range(closed) if c["months"][m] == 0]
        c["meets_rule"] = not c["missed_months"]
    items = list(centers.values())
    return {"region": region, "year": year, "months_closed": closed, "centers": items,
            "activities": sum(c["activities"] for c in items),
            "person_times": sum(c["person_times"] for c in items),
            "missing": [c["code"] for c in items if not c["meets_rule"]]}


# ---------------------------------------------------------------- staff: plan and record
_EDITABLE = ("point", "title", "theme", "starts_at", "ends_at", "capacity", "signups",
             "attendance")


def save_activity(conn: Connection, body: dict[str, Any], *, principal: Any,
                  code: str | None = None) -> dict[str, Any]:
    """Create (``code`` None) or change an activity; staff of the position's
    region only. Fields through the registry's rules (Chinese problems naming
    the field); ``ends_at`` after ``starts_at``; sign-ups within the capacity.

    Raises
    ------
    InvalidInput, NotFound, Forbidden
    """
    from geo.entities import entity
    from geo.errors import Forbidden
    from geo.rules import check_value
    from geo.store.audit import write_audit

    spec = entity("activity")
    problems: list[Problem] = []
    for k in sorted(set(body) - set(_EDITABLE)):
        problems.append(Problem("未知字段", column=k, expected="、".join(_EDITABLE),
                                kind="unknown_field"))
    before = None
    if code is not None:
        row = conn.execute(text("SELECT * FROM activities WHERE code = :c AND deleted_at IS NULL "
                                "FOR UPDATE"), {"c": code}).mappings().one_or_none()
        if row is None:
            raise NotFound(f"未找到活动 {code!r}")
        before = {k: row[k] for k in ("point_code", "title", "theme", "starts_at", "ends_at",
                                      "capacity", "signups", "attendance")}
    values: dict[str, Any] = dict(before or {})
    for name in _EDITABLE:
        if name not in body and before is not None:
            continue
        f = spec.field("point_code" if name == "point" else name)
        got, ps = check_value(f, body.get(name))
        problems += [Problem(p.message, column=name, value=p.value, expected=p.expected,
                             kind=p.kind) for p in ps]
        values[f.name] = got
    if problems:
        raise InvalidInput("活动未保存：" + "；".join(f"{p.column}：{p.message}"
                                                for p in problems[:3]), problems)
    point = conn.execute(text("SELECT region_code FROM service_points WHERE code = :c "
                              "AND deleted_at IS NULL"), {"c": values["point_code"]}).one_or_none()
    if point is None:
        raise InvalidInput("未找到举办阵地", [Problem(
            "未找到该阵地", column="point", value=values["point_code"],
            expected="已登记的阵地编码", kind="unknown_point")])
    if not principal.can_edit(point.region_code) or (
            before is not None and not principal.can_edit(conn.execute(text(
                "SELECT region_code FROM service_points WHERE code = :c"),
                {"c": before["point_code"]}).scalar_one())):
        raise Forbidden(f"阵地 {values['point_code']} 不在您的权限范围内")
    if values["ends_at"] <= values["starts_at"]:
        raise InvalidInput("结束时间须晚于开始时间", [Problem(
            "结束时间不晚于开始时间", column="ends_at", value=str(values["ends_at"]),
            expected="晚于 starts_at 的时间", kind="invalid_range")])
    cap = values.get("capacity")
    if cap is not None and (values.get("signups") or 0) > cap:
        raise InvalidInput("报名人数超过名额", [Problem(
            "报名人数超过名额", column="signups", value=values.get("signups"),
            expected=f"不超过 {cap}", kind="out_of_range")])
    args = {"point": values["point_code"], "title": values["title"], "theme": values["theme"],
            "s": values["starts_at"], "e": values["ends_at"], "cap": cap,
            "n": values.get("signups") or 0, "att": values.get("attendance")}
    if code is None:
        import secrets

        code = "A" + secrets.token_hex(5).upper()
        conn.execute(text(
            "INSERT INTO activities (code, point_code, title, theme, starts_at, ends_at, "
            "capacity, signups, attendance) VALUES (:c, :point, :title, :theme, :s, :e, :cap, "
            ":n, :att)"), {"c": code, **args})
        action = "create"
    else:
        conn.execute(text(
            "UPDATE activities SET point_code = :point, title = :title, theme = :theme, "
            "starts_at = :s, ends_at = :e, capacity = :cap, signups = :n, attendance = :att, "
            "updated_at = now() WHERE code = :c"), {"c": code, **args})
        action = "update"
    got = activity(conn, code)
    write_audit(conn, actor=principal.actor, action=action, entity="activity", code=code,
                before=before, after={k: got[k] for k in ("point_code", "title", "theme",
                                                          "starts_at", "ends_at", "capacity",
                                                          "signups", "attendance")})
    return got


def delete_activity(conn: Connection, code: str, *, principal: Any) -> None:
    """Soft-delete an activity (staff of its position's region)."""
    from geo.errors import Forbidden
    from geo.store.audit import write_audit

    row = conn.execute(text(
        "SELECT a.code, p.region_code FROM activities a JOIN service_points p "
        "ON p.code = a.point_code WHERE a.code = :c AND a.deleted_at IS NULL"),
        {"c": code}).one_or_none()
    if row is None:
        raise NotFound(f"未找到活动 {code!r}")
    if not principal.can_edit(row.region_code):
        raise Forbidden(f"活动 {code} 不在您的权限范围内")
    conn.execute(text("UPDATE activities SET deleted_at = now() WHERE code = :c"), {"c": code})
    write_audit(conn, actor=principal.actor, action="delete", entity="activity", code=code)
