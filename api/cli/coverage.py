"""``servicemap coverage``, ``servicemap gaps`` and ``servicemap site``:
coverage analytics for planners from the command line.

Tables print with Chinese headers; ``--format csv`` (UTF-8 with BOM, opens
in Excel) and ``--format xlsx`` write the same tables, ``--format json`` the
full result with its parameters and rule. Every table is written by
:mod:`geo.io.sheets`.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from api.cli.common import open_engine, say
from api.settings import Settings
from geo import coverage as cov
from geo.errors import InvalidInput, Problem
from geo.io import sheets
from geo.vocab import PointKind

FORMATS = ("table", "json", "csv", "xlsx")


def _common(p, *, circles: bool = True) -> None:
    p.add_argument("--region", help="division code (default: the only town in the database)")
    if circles:
        p.add_argument("--minutes", type=float, default=None,
                       help="walking minutes of the circles (default: the configured 10)")
        p.add_argument("--profile", choices=["standard", "adult", "elderly"], default=None,
                       help="walking profile (default: elderly, 3.6 km/h)")
        p.add_argument("--speed", type=float, default=None, help="explicit walking speed, km/h")
        p.add_argument("--kinds", nargs="+", choices=[k.value for k in PointKind],
                       default=None, help="point kinds whose circles count (default: all)")
        p.add_argument("--rule", choices=list(cov.BUILDING_RULES), default="centroid",
                       help="when a building counts as covered (default: its centroid)")
        p.add_argument("--compound-rule", choices=list(cov.COMPOUND_RULES),
                       default="population_share",
                       help="how a compound counts (default: by covered population share)")
        p.add_argument("--compute", action="store_true",
                       help="compute and store missing or stale circles first")
    p.add_argument("--rounding", choices=list(cov.ROUNDINGS), default="half_up",
                   help="percentage rounding: half_up (88.89%%) or truncate (88.88%%)")
    p.add_argument("--decimals", type=int, default=2)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", "-o", type=Path, default=None,
                   help="write to this file (required for xlsx; default: standard output)")


def register(sub) -> None:
    p = sub.add_parser("coverage", help="who the service circles reach; branch coverage; "
                                        "dual-grid view; snapshots")
    p.add_argument("view", nargs="?", default="reach",
                   choices=["reach", "branches", "grids", "wishes", "snapshots", "compare"],
                   help="reach (default), branches, grids, wishes (unmet wishes outside "
                        "every circle), snapshots (list), compare A B")
    p.add_argument("ids", nargs="*", type=int, help="compare: the two snapshot ids")
    _common(p)
    p.add_argument("--save", nargs="?", const="", default=None, metavar="LABEL",
                   help="store this run as a snapshot (optional label)")
    p.add_argument("--detail", action="store_true",
                   help="branches/grids: list the compounds without a branch; wishes: list "
                        "the wishes outside the circles")
    p.set_defaults(func=cmd_coverage)

    g = sub.add_parser("gaps", help="uncovered people, compounds, buildings, H3 hexagons and "
                                    "gap areas")
    _common(g)
    g.add_argument("--limit", type=int, default=20, help="compounds/buildings/areas listed")
    g.add_argument("--wish-weight", type=float, default=0.0, metavar="PEOPLE",
                   help="rank compounds by uncovered people plus this many per unmet wish "
                        "(default 0: people only)")
    g.add_argument("--hex-resolution", type=int, default=None,
                   help="H3 resolution (default 8: ~500 m cells)")
    g.add_argument("--geojson", type=Path, default=None,
                   help="also write the gap areas and hexagons as GeoJSON to this file")
    g.set_defaults(func=cmd_gaps)

    s = sub.add_parser("site", help="where k new stations would newly cover the most people "
                                    "(exact HiGHS and greedy), or a what-if for one site")
    _common(s)
    s.add_argument("--k", type=int, default=5, help="number of new sites (default 5)")
    s.add_argument("--candidates", choices=["compounds", "nodes", "facilities", "all"],
                   default="all",
                   help="generated candidates (default all: compound centres, residential "
                        "network nodes and the public facilities imported from OSM)")
    s.add_argument("--sites", type=Path, default=None,
                   help="CSV of candidate sites instead: columns lng,lat[,name][,crs] "
                        "(or 经度,纬度,名称)")
    s.add_argument("--method", choices=["exact", "greedy", "both"], default="both")
    s.add_argument("--max-candidates", type=int, default=2500)
    s.add_argument("--time-limit", type=float, default=60.0, help="exact solver limit, s")
    s.add_argument("--wish-weight", type=float, default=0.0, metavar="PEOPLE",
                   help="weight areas by unmet wishes: each counts as this many more people "
                        "(default 0: population only)")
    s.add_argument("--at", nargs=2, type=float, metavar=("LNG", "LAT"), default=None,
                   help="what-if: coverage with one proposed station here (nothing saved)")
    s.add_argument("--crs", choices=["wgs84", "gcj02", "bd09"], default="wgs84",
                   help="coordinate system of --at and of --sites rows without crs")
    s.set_defaults(func=cmd_site)


def _params(args, settings: Settings) -> cov.CoverageParams:
    return cov.CoverageParams(
        minutes=args.minutes if args.minutes is not None else settings.default_minutes,
        profile=args.profile or settings.default_profile, speed_kmh=args.speed,
        kinds=tuple(args.kinds or ()), rule=cov.CoverageRule(args.rule, args.compound_rule),
        rounding=args.rounding, decimals=args.decimals).validated()


def _circle_params(settings: Settings):
    from geo.circles import CircleParams

    return CircleParams(walk_off_m=settings.walk_off_m, max_snap_m=settings.max_snap_m)


def _emit(result: cov.Result, view: str, args, *, summary: list[str] | None = None) -> None:
    fmt = args.format
    out: Path | None = args.output
    if fmt == "xlsx":
        if out is None:
            out = Path(f"{view}_{result.region.code}.xlsx")
        out.write_bytes(cov.export_xlsx(result, view))
        say(f"wrote {out}")
        return
    if fmt == "csv":
        data = cov.export_csv(result, view)
        if out is None:
            sys.stdout.write(data.decode("utf-8-sig"))
        else:
            out.write_bytes(data)
            say(f"wrote {out}")
        return
    if fmt == "json":
        text = json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str)
    else:
        parts = list(summary or [])
        for name, rows in cov.table_rows(result, view):
            parts += ["", f"【{name}】", sheets.text_table(rows, decimals=args.decimals)]
        parts += ["", *(f"{k}：{v}" for k, v in cov.parameter_rows(result))]
        text = "\n".join(parts)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        say(f"wrote {out}")


def cmd_coverage(args, settings: Settings) -> int:
    engine = open_engine(settings, start=True)
    if args.view == "snapshots":
        with engine.connect() as conn:
            snaps = cov.list_snapshots(conn, args.region)
        if args.format == "json":
            print(json.dumps([s.as_dict() for s in snaps], ensure_ascii=False, indent=2))
        else:
            print(sheets.text_table([{"编号": s.id, "标签": s.label or "",
                                      "区域": f"{s.region_code} {s.region_name}",
                                      "分钟": s.minutes, "步行档": s.profile,
                                      "服务圈数": s.circles,
                                      "覆盖人口": s.population_covered,
                                      "人口覆盖率(%)": s.population_pct,
                                      "时间": s.created_at[:19]} for s in snaps]))
        return 0
    if args.view == "compare":
        if len(args.ids) != 2:
            raise InvalidInput("compare 需要两个快照编号", [Problem(
                "用法：servicemap coverage compare BEFORE_ID AFTER_ID", column="ids",
                value=" ".join(map(str, args.ids)))])
        with engine.connect() as conn:
            diff = cov.compare_snapshots(conn, args.ids[0], args.ids[1],
                                         rounding=args.rounding, decimals=args.decimals)
        if args.format == "json":
            print(json.dumps(diff.as_dict(), ensure_ascii=False, indent=2))
            return 0
        if diff.parameters_differ:
            say("注意：两次计算的参数不同：" + ", ".join(diff.parameters_differ))
        rows = [{"编码": r.code, "名称": r.name, "层级": cov.LEVEL_ZH.get(r.level),
                 "覆盖人口(前)": r.population_covered_before,
                 "覆盖人口(后)": r.population_covered_after,
                 "变化": r.population_covered_delta,
                 "覆盖率(前)": r.population_pct_before, "覆盖率(后)": r.population_pct_after,
                 "覆盖建筑变化": r.buildings_covered_delta}
                for r in diff.areas if r.level != "grid"]
        print(sheets.text_table(rows))
        return 0
    if args.view == "wishes":
        with engine.connect() as conn:
            got = cov.wishes_outside(conn, args.region, _params(args, settings),
                                     detail=args.detail)
        if args.format == "json":
            _write(json.dumps(got, ensure_ascii=False, indent=2, default=str), args)
            return 0
        t = got["totals"]
        say(f"{got['region']['name']}：未完成的心愿 {t['unmet']} 个，有位置的 {t['located']} 个，"
            f"其中在 {got['minutes']:g} 分钟服务圈外 {t['outside']} 个")
        tables = [("按村居", [{"村（社区）": v["name"], "未完成心愿": v["unmet"],
                               "有位置": v["located"], "服务圈外": v["outside"]}
                              for v in got["by_region"]])]
        if "wishes" in got:
            tables.append(("服务圈外的心愿", [
                {"编号": w["code"], "心愿": w["title"], "类别": w["category_zh"],
                 "状态": w["state_zh"], "村（社区）": w["region_name"],
                 "网格": w["grid_name"] or ""} for w in got["wishes"]]))
        if args.format in ("csv", "xlsx"):
            par = [("区划", got["region"]["code"]), ("分钟", got["minutes"]),
                   ("步行档", got["profile"]), ("心愿状态", "、".join(got["states"]))]
            data = sheets.csv_bytes(tables, parameters=par, titles=True) \
                if args.format == "csv" else sheets.xlsx_bytes(tables, parameters=par)
            if args.output is None:
                if args.format == "xlsx":
                    raise InvalidInput("xlsx 需要 --output 文件", [Problem(
                        "请用 --output 指定 .xlsx 文件", column="output")])
                sys.stdout.write(data.decode("utf-8-sig"))
            else:
                args.output.write_bytes(data)
                say(f"wrote {args.output}")
            return 0
        for name, rows in tables:
            say(f"\n{name}")
            print(sheets.text_table(rows))
        return 0
    if args.view in ("branches", "grids"):
        with engine.connect() as conn:
            fn = cov.branch_coverage if args.view == "branches" else cov.grid_view
            result = fn(conn, args.region, rounding=args.rounding, decimals=args.decimals,
                        detail=args.detail)
        if isinstance(result, cov.BranchCoverage):
            t = result.totals
            summary = [f"{t.name}：{t.compounds} 个小区中 {t.with_branch} 个有党支部，"
                       f"覆盖率 {t.fraction} = {t.percent_text}"
                       f"（{result.rounding.mode_zh}；各取舍方式："
                       + "，".join(f"{k} {v}" for k, v in result.percent_variants.items())
                       + "）"]
        else:
            summary = [f"{k.kind_zh}：{k.grids} 个网格中 {k.with_branch} 个有党支部"
                       f"（{k.percent_text}），{k.compounds_in_grids_without_branch} "
                       "个小区位于无党支部的网格" for k in result.kinds]
        _emit(result, args.view, args, summary=summary)
        return 0
    params = _params(args, settings)
    with (engine.begin() if (args.compute or args.save is not None) else engine.connect()) as conn:
        an = cov.analyse(conn, args.region, params, compute=args.compute,
                         circle_params=_circle_params(settings), log=say)
        result = cov.reach_coverage(an)
        if args.save is not None:
            sid = cov.save_snapshot(conn, result, label=args.save or None, actor="cli",
                                    actor_role="cli")
            say(f"saved coverage snapshot {sid}")
    t = result.totals
    c = result.circles
    summary = [f"{t.name}：{c.count} 个服务圈（{result.parameters.minutes:g} 分钟，"
               f"{result.parameters.profile}）覆盖 {t.population_covered} / "
               f"{t.population} 人（{t.population_pct}%），{t.buildings_covered} / "
               f"{t.buildings} 栋建筑，小区 {t.compounds_covered} / {t.compounds}"]
    if c.missing or c.stale:
        summary.append(f"注意：{c.missing} 个阵地缺少服务圈，{c.stale} 个服务圈已过期"
                       "（加 --compute 重新计算）")
    _emit(result, "reach", args, summary=summary)
    return 0


def cmd_gaps(args, settings: Settings) -> int:
    engine = open_engine(settings, start=True)
    params = _params(args, settings)
    with (engine.begin() if args.compute else engine.connect()) as conn:
        an = cov.analyse(conn, args.region, params, compute=args.compute,
                         circle_params=_circle_params(settings), log=say)
        result = cov.gap_report(an, limit=args.limit, detail=True,
                                hex_resolution=args.hex_resolution, conn=conn,
                                wish_weight=args.wish_weight)
    if args.geojson is not None:
        hexes = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": h.boundary},
                  "properties": {"h3": h.h3, "population_uncovered": h.population_uncovered,
                                 "buildings_uncovered": h.buildings_uncovered,
                                 "layer": "hexagon"}}
                 for h in result.hexagons.cells]
        areas = [{**f, "properties": {**f["properties"], "layer": "gap_area"}}
                 for f in (result.areas.features if result.areas is not None else ())]
        args.geojson.write_text(json.dumps({"type": "FeatureCollection",
                                            "features": areas + hexes}, ensure_ascii=False),
                                encoding="utf-8")
        say(f"wrote {args.geojson}")
    t = result.totals
    h = result.hexagons
    summary = [f"{t.name}：未覆盖 {t.population_uncovered} 人、"
               f"{t.buildings_uncovered} 栋建筑；{t.compounds_uncovered} 个小区完全未覆盖，"
               f"{t.compounds_partial} 个部分覆盖；H3 分辨率 {h.resolution}"
               f"（边长约 {h.edge_m:g} 米）{len(h.cells)} 个六边形有未覆盖人口"]
    if result.areas is not None:
        a = result.areas
        summary.append(f"缺口用地：{a.count} 片，共 {a.area_m2 / 10_000:.1f} 公顷"
                       f"（{a.cell_m:g} 米栅格）")
    _emit(result, "gaps", args, summary=summary)
    return 0


def read_sites(path: Path, default_crs: str) -> list[dict[str, Any]]:
    """Candidate sites from a CSV (columns ``lng``/``经度``, ``lat``/``纬度``,
    optional ``name``/``名称`` and ``crs``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"无法读取 {path}", [Problem(str(exc), file=str(path))]) from None
    rows = list(csv.DictReader(text.splitlines()))
    alias = {"经度": "lng", "longitude": "lng", "lon": "lng", "纬度": "lat", "latitude": "lat",
             "名称": "name", "坐标系": "crs"}
    out = []
    for r in rows:
        d = {alias.get(k.strip().lower(), k.strip().lower()): (v or "").strip()
             for k, v in r.items() if k}
        out.append({"lng": d.get("lng"), "lat": d.get("lat"), "name": d.get("name") or None,
                    "crs": d.get("crs") or default_crs})
    return out


def cmd_site(args, settings: Settings) -> int:
    from geo import siting
    from geo.circles import Networks

    engine = open_engine(settings, start=True)
    params = _params(args, settings)
    with (engine.begin() if args.compute else engine.connect()) as conn:
        networks = Networks.load(conn)
        an = cov.analyse(conn, args.region, params, compute=args.compute, networks=networks,
                         circle_params=_circle_params(settings), log=say)
        if args.at is not None:
            result = siting.what_if(conn, args.region, args.at[0], args.at[1], params,
                                    networks=networks, crs=args.crs,
                                    circle_params=_circle_params(settings), geometry=False,
                                    an=an)
            _emit_what_if(result, args)
            return 0
        sites = read_sites(args.sites, args.crs) if args.sites is not None else None
        result = siting.site(conn, args.region, args.k, params, networks=networks,
                             source=args.candidates, sites=sites, method=args.method,
                             circle_params=_circle_params(settings),
                             max_candidates=args.max_candidates, time_limit_s=args.time_limit,
                             an=an, wish_weight=args.wish_weight)
    _emit_siting(result, args)
    return 0


def _site_rows(sites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    src = {"compound": "小区中心", "node": "路网节点", "user": "指定候选点"}
    return [{"序号": s["rank"], "名称": s["name"], "来源": src.get(s["source"], s["source"]),
             "经度": f"{s['lng']:.6f}", "纬度": f"{s['lat']:.6f}",
             "新增覆盖人口": s["population_new"],
             "累计覆盖人口": s["population_covered_after"],
             "累计覆盖率(%)": s["population_pct_after"]} for s in sites]


def _emit_siting(result: dict[str, Any], args) -> None:
    if args.format == "json":
        _write(json.dumps(result, ensure_ascii=False, indent=2), args)
        return
    tables = [(f"{'精确解' if m == 'exact' else '贪心解'}", _site_rows(result[m]["sites"]))
              for m in ("exact", "greedy") if m in result]
    if args.format in ("csv", "xlsx"):
        _write_tables(tables, result, args)
        return
    b = result["before"]
    c = result["candidates"]
    lines = [f"{result['region']['name']}：现有覆盖 {b['population_covered']} / "
             f"{b['population']} 人（{b['population_pct']}%）；候选点 {c['kept']} 个"
             f"（生成 {c['generated']}，能覆盖新人口 {c['useful']}）"]
    for m in ("exact", "greedy"):
        if m in result:
            r = result[m]
            lines += ["", f"【{'精确解' if m == 'exact' else '贪心解'}】{r['solver']}，"
                          f"{r['status']}，{r['seconds']:.2f} 秒："
                          f"新增覆盖 {r['population_new']} 人，"
                          f"覆盖率升至 {r['population_pct_after']}%",
                      sheets.text_table(_site_rows(r["sites"]))]
    if "comparison" in result:
        cmp_ = result["comparison"]
        lines += ["", f"精确解 {cmp_['exact']} 人，贪心解 {cmp_['greedy']} 人，"
                      f"差 {cmp_['difference']} 人"]
    _write("\n".join(lines), args)


def _emit_what_if(result: dict[str, Any], args) -> None:
    if args.format == "json":
        _write(json.dumps(result, ensure_ascii=False, indent=2), args)
        return
    rows = [{"编码": r["code"], "名称": r["name"], "层级": cov.LEVEL_ZH.get(r["level"]),
             "新增覆盖人口": r["delta"]["population_covered"],
             "新增覆盖建筑": r["delta"]["buildings_covered"],
             "覆盖率(前)": r["before"]["population_pct"],
             "覆盖率(后)": r["after"]["population_pct"]}
            for r in [{**result["before"], "before": result["before"],
                       "after": result["after"], "delta": result["delta"]},
                      *result["by_region"], *result["by_grid"]]]
    if args.format in ("csv", "xlsx"):
        _write_tables([("拟建站点影响", rows)], result, args)
        return
    s = result["site"]
    head = (f"拟建站点（{s['lng']}, {s['lat']}，{s['method']}）：新增覆盖 "
            f"{result['delta']['population_covered']} 人（未保存）")
    _write(head + "\n" + sheets.text_table(rows), args)


def _write(text: str, args) -> None:
    if args.output is None:
        print(text)
    else:
        args.output.write_text(text + "\n", encoding="utf-8")
        say(f"wrote {args.output}")


def _write_tables(tables: Sequence[tuple[str, list[dict[str, Any]]]], result: dict[str, Any],
                  args) -> None:
    """Siting tables (each under its name) and the parameters, as CSV or XLSX."""
    if args.format == "csv":
        data = sheets.csv_bytes(tables, parameters=cov.parameter_rows(result), titles=True)
        if args.output is None:
            sys.stdout.write(data.decode("utf-8-sig"))
        else:
            args.output.write_bytes(data)
            say(f"wrote {args.output}")
        return
    out = args.output or Path(f"siting_{result['region']['code']}.xlsx")
    out.write_bytes(sheets.xlsx_bytes(tables, parameters=cov.parameter_rows(result)))
    say(f"wrote {out}")
