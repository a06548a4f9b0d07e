"""Residents' star ratings of positions (星级评价): one per phone, position and
period; public answers show only the mean and the number of ratings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geo.errors import Conflict, InvalidInput, NotFound, Problem
from geo.rules import check_number, check_text

__all__ = ["MIN_SHOWN", "period_label", "period_of", "point_ratings", "point_summary", "rate"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: a mean of fewer ratings than this is not shown (count only)
MIN_SHOWN = 3


def period_of(at: datetime, kind: str) -> str:
    """The rating period holding ``at`` (Beijing time): ``2026Q4``, ``2026-12`` or ``2026``."""
    t = at.astimezone(SHANGHAI)
    if kind == "quarter":
        return f"{t.year}Q{(t.month - 1) // 3 + 1}"
    if kind == "month":
        return f"{t.year}-{t.month:02d}"
    if kind == "year":
        return str(t.year)
    raise ValueError(kind)


def period_label(period: str) -> str:
    """``2026Q4`` → ``2026年第四季度``; ``2026-12`` → ``2026年12月``; ``2026`` → ``2026年``."""
    if "Q" in period:
        y, q = period.split("Q")
        return f"{y}年第{'一二三四'[int(q) - 1]}季度"
    if "-" in period:
        y, m = period.split("-")
        return f"{y}年{int(m)}月"
    return f"{period}年"


def rate(conn: Connection, point_code: str, body: dict[str, Any], *, phone_hash: str,
         settings: Any, at: datetime | None = None) -> dict[str, Any]:
    """Store one rating (``score`` 1–5, optional ``comment``) of a position.

    Raises
    ------
    InvalidInput
        A score outside 1–5, a bad comment, unknown fields.
    NotFound
        No such position.
    Conflict
        This phone rated this position in this period already.
    """
    problems: list[Problem] = []
    for k in sorted(set(body) - {"score", "comment"}):
        problems.append(Problem("未知字段", column=k, expected="score、comment",
                                kind="unknown_field"))
    raw = body.get("score")
    score, p = (None, Problem("不能为空", column="score", expected="1–5 之间的整数",
                              kind="missing_value")) if raw is None else \
        check_number(raw, field="score")
    if p:
        problems.append(p)
    comment, p = check_text(body.get("comment"), field="comment", max_len=200)
    if p:
        problems.append(p)
    if problems:
        raise InvalidInput("评价未提交：" + "；".join(f"{q.column}：{q.message}"
                                                for q in problems[:3]), problems)
    exists = conn.execute(text("SELECT 1 FROM service_points WHERE code = :c "
                               "AND deleted_at IS NULL"), {"c": point_code}).first()
    if exists is None:
        raise NotFound(f"未找到阵地 {point_code!r}")
    period = period_of(at or datetime.now(SHANGHAI), settings.rating_period)
    try:
        with conn.begin_nested():
            conn.execute(text(
                "INSERT INTO ratings (point_code, period, score, comment, phone_hash) "
                "VALUES (:p, :period, :s, :c, :h)"),
                {"p": point_code, "period": period, "s": score, "c": comment, "h": phone_hash})
    except IntegrityError:
        raise Conflict(f"您在{period_label(period)}已评价过该阵地，每期每个手机号只能评价一次"
                       ) from None
    from geo.store.audit import write_audit

    # the audit log keeps the score and period, never the phone or its hash
    write_audit(conn, actor="resident", action="rate", entity="rating", code=point_code,
                after={"period": period, "score": score})
    return {"point": point_code, "period": period, "period_zh": period_label(period),
            "score": score, **point_ratings(conn, [point_code])[point_code]}


def point_ratings(conn: Connection, codes: Sequence[str] | None = None,
                  period: str | None = None) -> dict[str, dict[str, Any]]:
    """Per position: ``ratings`` (count) and ``rating`` (mean to one decimal,
    ``None`` below :data:`MIN_SHOWN` ratings), over all periods or one."""
    rows = conn.execute(text(
        "SELECT point_code, count(*) AS n, avg(score)::float AS mean FROM ratings "
        "WHERE (CAST(:codes AS text[]) IS NULL OR point_code = ANY(:codes)) "
        "  AND (CAST(:period AS text) IS NULL OR period = :period) "
        "GROUP BY point_code"), {"codes": list(codes) if codes is not None else None,
                                 "period": period}).all()
    out = {c: {"ratings": 0, "rating": None} for c in (codes or [])}
    for r in rows:
        out[r.point_code] = {"ratings": r.n,
                             "rating": round(r.mean, 1) if r.n >= MIN_SHOWN else None}
    return out


def point_summary(conn: Connection, code: str) -> dict[str, Any]:
    """A position's ratings overall and per period (404 for an unknown position)."""
    exists = conn.execute(text("SELECT stars FROM service_points WHERE code = :c "
                               "AND deleted_at IS NULL"), {"c": code}).one_or_none()
    if exists is None:
        raise NotFound(f"未找到阵地 {code!r}")
    periods = conn.execute(text(
        "SELECT period, count(*) AS n, avg(score)::float AS mean FROM ratings "
        "WHERE point_code = :c GROUP BY period ORDER BY period"), {"c": code}).all()
    return {**point_ratings(conn, [code])[code], "stars": exists.stars,
            "min_shown": MIN_SHOWN,
            "periods": [{"period": p.period, "period_zh": period_label(p.period),
                         "ratings": p.n,
                         "rating": round(p.mean, 1) if p.n >= MIN_SHOWN else None}
                        for p in periods]}
