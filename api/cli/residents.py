"""``servicemap wishes …``: the residents' side for operators.

    servicemap wishes list --region 440104013 [--state published] [--overdue]
    servicemap wishes ledger --region 440104013 -o 双微台账.xlsx [--contacts]
    servicemap wishes activities --region 440507013 --year 2026 [-o 活动统计.xlsx]

The CLI acts as the database owner (it is run by the operator on the server),
so ``list`` shows the residents' contacts: treat its output as personal data.
"""

from __future__ import annotations

import json
from pathlib import Path

from api.cli.common import open_engine, say
from api.settings import Settings
from geo.io.sheets import text_table
from geo.tokens import Principal


def register(sub) -> None:
    p = sub.add_parser("wishes", help="micro-wishes and projects, the 双微 ledger, activities")
    actions = p.add_subparsers(dest="action", required=True)
    ls = actions.add_parser("list", help="the staff's list (with contacts) and the SLA clock")
    ls.add_argument("--region", required=True, help="division code (and below)")
    ls.add_argument("--state", default=None, help="only this state (posted, published …)")
    ls.add_argument("--overdue", action="store_true", help="only overdue wishes")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    lg = actions.add_parser("ledger", help="the 双微 work ledger per village as XLSX")
    lg.add_argument("--region", required=True)
    lg.add_argument("--output", "-o", type=Path, required=True, help=".xlsx file")
    lg.add_argument("--contacts", action="store_true",
                    help="include residents' names, phones and addresses")
    lg.set_defaults(func=cmd_ledger)
    ac = actions.add_parser("activities", help="activities per center per month (月月有活动)")
    ac.add_argument("--region", required=True)
    ac.add_argument("--year", type=int, required=True)
    ac.add_argument("--output", "-o", type=Path, default=None, help=".xlsx file (else a table)")
    ac.set_defaults(func=cmd_activities)


def _operator(region: str) -> Principal:
    # the operator on the server: a planner of exactly the region asked for
    return Principal(name="cli", role="admin", regions=(region,))


def cmd_list(args, settings: Settings) -> int:
    from geo.residents.wishes import staff_list

    engine = open_engine(settings, migrate=True)
    with engine.connect() as conn:
        got = staff_list(conn, _operator(args.region), settings=settings, state=args.state,
                         overdue=args.overdue)
    if args.json:
        print(json.dumps(got, ensure_ascii=False, indent=2, default=str))
        return 0
    say(f"{got['total']} 个心愿/项目；待认领 {got['unclaimed']} 个，超期 {got['overdue']} 个")
    print(text_table([{"编号": w["code"], "类型": w["kind_zh"], "心愿": w["title"],
                       "村（社区）": w["region_name"], "状态": w["state_zh"],
                       "到期": w["due_at"].strftime("%Y-%m-%d") if w["due_at"] else "",
                       "超期": "是" if w["overdue"] else "",
                       "联系电话": (w["private"] or {}).get("phone", "")}
                      for w in got["items"]]))
    return 0


def cmd_ledger(args, settings: Settings) -> int:
    from geo.residents.ledger import wish_ledger_xlsx

    engine = open_engine(settings, migrate=True)
    with engine.connect() as conn:
        data = wish_ledger_xlsx(conn, args.region, contacts=args.contacts)
    args.output.write_bytes(data)
    say(f"wrote {args.output}" + ("（含居民联系方式：请按个人信息管理）" if args.contacts else ""))
    return 0


def cmd_activities(args, settings: Settings) -> int:
    from geo.residents.activities import monthly
    from geo.residents.ledger import monthly_xlsx

    engine = open_engine(settings, migrate=True)
    with engine.connect() as conn:
        if args.output is not None:
            args.output.write_bytes(monthly_xlsx(conn, args.region, args.year))
            say(f"wrote {args.output}")
            return 0
        got = monthly(conn, args.region, args.year)
    say(f"{args.year} 年：{got['activities']} 场活动，{got['person_times']} 人次；"
        f"未做到月月有活动的阵地 {len(got['missing'])} 个")
    print(text_table([{"阵地": c["name"], **{f"{m}月": n for m, n in
                                            enumerate(c["months"], start=1)},
                       "合计": c["activities"], "人次": c["person_times"],
                       "缺月": "、".join(map(str, c["missed_months"]))}
                      for c in got["centers"]]))
    return 0
