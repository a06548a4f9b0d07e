"""The 双微 work ledger (微心愿·微项目工作台账) per village, and activities per
center per month, as Excel workbooks with Chinese headers (written by
:func:`geo.io.sheets.xlsx_bytes`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.io.sheets import Sheet, xlsx_bytes
from geo.residents.activities import monthly
from geo.vocab import CHANNEL_ZH, ORG_KIND_ZH, WISH_CATEGORY_ZH, WISH_KIND_ZH, WISH_STATE_ZH

__all__ = ["LEDGER_COLUMNS", "XLSX", "ledger_rows", "monthly_xlsx", "points_rows",
           "wish_ledger_xlsx"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

LEDGER_COLUMNS = ("编号", "类型", "心愿/项目", "类别", "所属网格", "收集渠道", "状态",
                  "点单时间", "下单时间", "接单时间", "完成时间", "确认时间", "项目金额（元）",
                  "认领党员数", "认领党组织", "积分", "居民评价")
CONTACT_COLUMNS = ("居民姓名", "联系电话", "地址")


def _day(t: Any) -> str:
    return t.astimezone().strftime("%Y-%m-%d") if t is not None else ""


def ledger_rows(conn: Connection, region: str, *, contacts: bool = False
                ) -> dict[str, list[dict[str, Any]]]:
    """Village name → its ledger rows (Chinese headers, oldest first)."""
    rows = conn.execute(text("""
        SELECT w.code, w.kind, w.title, w.category, w.channel, w.state, w.posted_at,
               w.published_at, w.claimed_at, w.fulfilled_at, w.confirmed_at,
               w.budget_yuan, w.resident_score, w.private, r.name AS village, g.name AS grid,
               (SELECT count(DISTINCT c.member_code) FROM wish_claims c
                  WHERE c.wish_code = w.code AND c.withdrawn_at IS NULL) AS members,
               (SELECT string_agg(DISTINCT o.name, '、') FROM wish_claims c
                  JOIN party_orgs o ON o.code = c.org_code
                  WHERE c.wish_code = w.code AND c.withdrawn_at IS NULL) AS orgs,
               (SELECT COALESCE(sum(c.points), 0) FROM wish_claims c
                  WHERE c.wish_code = w.code AND c.withdrawn_at IS NULL) AS points
        FROM wishes w JOIN regions r ON r.code = w.region_code
        LEFT JOIN grid_cells g ON g.code = w.grid_code
        WHERE starts_with(w.region_code, :r)
        ORDER BY r.code, w.posted_at, w.code"""), {"r": region}).mappings().all()
    out: dict[str, list[dict[str, Any]]] = {}
    for w in rows:
        row = {"编号": w["code"], "类型": WISH_KIND_ZH[w["kind"]], "心愿/项目": w["title"],
               "类别": WISH_CATEGORY_ZH[w["category"]], "所属网格": w["grid"] or "",
               "收集渠道": CHANNEL_ZH[w["channel"]], "状态": WISH_STATE_ZH[w["state"]],
               "点单时间": _day(w["posted_at"]), "下单时间": _day(w["published_at"]),
               "接单时间": _day(w["claimed_at"]), "完成时间": _day(w["fulfilled_at"]),
               "确认时间": _day(w["confirmed_at"]),
               "项目金额（元）": float(w["budget_yuan"]) if w["budget_yuan"] is not None else None,
               "认领党员数": w["members"], "认领党组织": w["orgs"] or "",
               "积分": int(w["points"]), "居民评价": w["resident_score"]}
        if contacts:
            p = w["private"] or {}
            row |= {"居民姓名": p.get("name", ""), "联系电话": p.get("phone", ""),
                    "地址": p.get("address", "")}
        out.setdefault(w["village"], []).append(row)
    return out


def points_rows(conn: Connection, region: str, *, contacts: bool = False
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """积分 (龙腾's 积分制): per member of the region — claims, fulfilled, points —
    and per organisation — its own claims, its members' claims, fulfilled, points."""
    members = conn.execute(text("""
        SELECT m.code, m.private, o.name AS org, r.name AS village,
               count(c.id) AS claims, count(c.fulfilled_at) AS fulfilled,
               COALESCE(sum(c.points), 0) AS points
        FROM members m JOIN regions r ON r.code = m.region_code
        LEFT JOIN party_orgs o ON o.code = m.org_code
        LEFT JOIN wish_claims c ON c.member_code = m.code AND c.withdrawn_at IS NULL
        WHERE starts_with(m.region_code, :r) AND m.deleted_at IS NULL
        GROUP BY m.code, m.private, o.name, r.name ORDER BY points DESC, m.code"""),
        {"r": region}).mappings().all()
    orgs = conn.execute(text("""
        SELECT o.code, o.name, o.kind, r.name AS village,
               count(c.id) FILTER (WHERE c.member_code IS NULL) AS own,
               count(c.id) FILTER (WHERE c.member_code IS NOT NULL) AS by_members,
               count(c.fulfilled_at) AS fulfilled, COALESCE(sum(c.points), 0) AS points
        FROM party_orgs o JOIN regions r ON r.code = o.region_code
        LEFT JOIN wish_claims c ON c.org_code = o.code AND c.withdrawn_at IS NULL
        WHERE starts_with(o.region_code, :r) AND o.deleted_at IS NULL
        GROUP BY o.code, o.name, o.kind, r.name ORDER BY points DESC, o.code"""),
        {"r": region}).mappings().all()
    m_rows = [{"党员编号": m["code"], **({"姓名": (m["private"] or {}).get("name", "")}
                                      if contacts else {}),
               "所在党组织": m["org"] or "", "村（社区）": m["village"], "认领": m["claims"],
               "已完成": m["fulfilled"], "积分": int(m["points"])} for m in members]
    o_rows = [{"组织编码": o["code"], "组织名称": o["name"], "类型": ORG_KIND_ZH[o["kind"]],
               "村（社区）": o["village"], "组织认领": o["own"], "党员认领": o["by_members"],
               "已完成": o["fulfilled"], "积分": int(o["points"])} for o in orgs]
    return m_rows, o_rows


def wish_ledger_xlsx(conn: Connection, region: str, *, contacts: bool = False) -> bytes:
    """The ledger: a 汇总 sheet (per village: wishes, claimed, claimants,
    projects, amounts), one sheet per village, and the 积分 of members
    (names only with ``contacts``) and organisations."""
    per = ledger_rows(conn, region, contacts=contacts)
    columns = LEDGER_COLUMNS + (CONTACT_COLUMNS if contacts else ())
    summary = []
    for village, rows in per.items():
        w = [r for r in rows if r["类型"] == WISH_KIND_ZH["wish"]]
        p = [r for r in rows if r["类型"] == WISH_KIND_ZH["project"]]
        summary.append({
            "村（社区）": village, "微心愿": len(w),
            "已认领": sum(1 for r in w if r["接单时间"]),
            "已完成": sum(1 for r in w if r["完成时间"]),
            "微项目": len(p), "项目金额（元）": round(sum(r["项目金额（元）"] or 0 for r in p), 1),
            "积分": sum(r["积分"] for r in rows)})
    sheets = [Sheet("汇总", summary, ("村（社区）", "微心愿", "已认领", "已完成", "微项目",
                                     "项目金额（元）", "积分"))]
    sheets += [Sheet(v, rows, columns) for v, rows in per.items()]
    m_rows, o_rows = points_rows(conn, region, contacts=contacts)
    sheets += [Sheet("党员积分", m_rows, ("党员编号", *(("姓名",) if contacts else ()),
                                         "所在党组织", "村（社区）", "认领", "已完成", "积分")),
               Sheet("党组织积分", o_rows, ("组织编码", "组织名称", "类型", "村（社区）",
                                           "组织认领", "党员认领", "已完成", "积分"))]
    return xlsx_bytes(sheets, parameters=[("区划", region),
                                          ("含联系方式", "是" if contacts else "否")])


def monthly_xlsx(conn: Connection, region: str, year: int) -> bytes:
    """Activities per center per month of ``year``: counts and person-times."""
    got = monthly(conn, region, year)
    months = [f"{m}月" for m in range(1, 13)]
    counts, people = [], []
    for c in got["centers"]:
        base = {"阵地编码": c["code"], "阵地名称": c["name"]}
        counts.append(base | dict(zip(months, c["months"], strict=True))
                      | {"合计": c["activities"],
                         "未开展活动的月份": "、".join(f"{m}月" for m in c["missed_months"])})
        people.append(base | dict(zip(months, c["attendance"], strict=True))
                      | {"合计": c["person_times"]})
    head = ("阵地编码", "阵地名称", *months, "合计")
    return xlsx_bytes([Sheet("活动场次", counts, (*head, "未开展活动的月份")),
                       Sheet("服务人次", people, head)],
                      parameters=[("区划", region), ("年份", year),
                                  ("已结束月份", got["months_closed"])])
