"""Chinese table views of coverage results (planners work in Excel): the rows
of each report keyed by Chinese column headers, the parameters as rows, and
their exports through :mod:`geo.io.sheets` (CSV for Excel, XLSX, plain text).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from geo.coverage.arithmetic import _ROUNDING_TEXT
from geo.coverage.loading import GRID_KIND_ZH, LEVEL_ZH
from geo.coverage.results import Result
from geo.io import sheets
from geo.vocab import POINT_KIND_ZH, PointKind

__all__ = ["COLUMNS_ZH", "export_csv", "export_xlsx", "format_table", "parameter_rows",
           "table_rows"]


#: Chinese column headers of the exported tables (planners work in Excel).
COLUMNS_ZH: dict[str, str] = {
    "code": "编码", "name": "名称", "level": "层级", "kind": "网格类型",
    "region_code": "所属村居编码", "region_name": "所属村居", "has_branch": "有党支部",
    "buildings": "建筑数", "buildings_covered": "覆盖建筑数", "buildings_pct": "建筑覆盖率(%)",
    "buildings_uncovered": "未覆盖建筑数",
    "households": "户数", "households_covered": "覆盖户数",
    "population": "人口", "population_covered": "覆盖人口", "population_uncovered": "未覆盖人口",
    "population_pct": "人口覆盖率(%)",
    "compounds": "小区数", "compounds_covered": "覆盖小区数(按人口占比)",
    "compounds_full": "完全覆盖小区数", "compounds_partial": "部分覆盖小区数",
    "compounds_uncovered": "未覆盖小区数", "compounds_pct": "小区覆盖率(%)",
    "with_branch": "有党支部小区数", "without_branch": "无党支部小区数",
    "branches": "党支部数", "fraction": "分数", "percent": "覆盖率(%)",
    "percent_text": "覆盖率",
    "rank": "排名", "covered_pct": "已覆盖比例(%)", "compound_code": "所属小区编码",
    "lng": "经度", "lat": "纬度", "id": "内部编号",
    "grids": "网格数", "workers": "网格员数", "branch_seats": "支部驻地数",
    "compounds_with_branch": "有党支部小区数", "kind_zh": "网格类型",
    "population_only_here": "仅此阵地覆盖人口", "point_kind": "阵地类型",
    "source": "候选来源", "population_new": "新增覆盖人口",
    "population_covered_after": "累计覆盖人口", "population_pct_after": "累计覆盖率(%)",
    "population_within_5min": "5分钟内人口", "within_5min_pct": "5分钟内人口占比(%)",
    "population_within_10min": "10分钟内人口", "within_10min_pct": "10分钟内人口占比(%)",
    "population_within_15min": "15分钟内人口", "within_15min_pct": "15分钟内人口占比(%)",
    "median_minutes": "步行时间中位数(分钟)", "p90_minutes": "步行时间90分位(分钟)",
    "population_unreachable": "路网不可达人口",
    "standard_5min": "标准5分钟(300米)内人口", "standard_5min_pct": "标准5分钟占比(%)",
    "standard_10min": "标准10分钟(500米)内人口", "standard_10min_pct": "标准10分钟占比(%)",
    "standard_15min": "标准15分钟(1000米)内人口", "standard_15min_pct": "标准15分钟占比(%)",
    "profile_5min": "按步速5分钟内人口", "profile_5min_pct": "按步速5分钟占比(%)",
    "profile_10min": "按步速10分钟内人口", "profile_10min_pct": "按步速10分钟占比(%)",
    "profile_15min": "按步速15分钟内人口", "profile_15min_pct": "按步速15分钟占比(%)",
    "m2_per_resident": "人均服务面积(㎡)", "m2_per_1000": "每千人服务面积(㎡)",
    "population_unserved": "服务半径外人口", "walk_m": "步行距离(米)",
    "walk_minutes": "步行时间(分钟)", "nearest_code": "最近阵地编码", "h3": "H3网格",
    "capacity_m2": "面积(㎡)", "capacity_imputed": "面积为估计值",
    "population_in_catchment": "服务半径内人口",
    "delta_within_10min_pct": "10分钟占比变化(百分点)",
    "delta_median_minutes": "中位数变化(分钟)",
    "delta_population_covered": "覆盖人口变化", "delta_m2_per_1000": "每千人面积变化(㎡)",
    "population_covered_today": "现状覆盖人口", "population_covered_scenario": "方案覆盖人口",
    "within_10min_pct_today": "现状10分钟占比(%)",
    "within_10min_pct_scenario": "方案10分钟占比(%)",
    "median_minutes_today": "现状中位数(分钟)", "median_minutes_scenario": "方案中位数(分钟)",
}

_TABLES: dict[str, tuple[str, ...]] = {
    "reach": ("code", "name", "level", "buildings", "buildings_covered", "buildings_pct",
              "households", "households_covered", "population", "population_covered",
              "population_pct", "compounds", "compounds_covered", "compounds_full",
              "compounds_partial", "compounds_uncovered", "compounds_pct"),
    "reach_grid": ("code", "name", "kind", "region_name", "has_branch", "buildings",
                   "buildings_covered", "buildings_pct", "population", "population_covered",
                   "population_pct", "compounds", "compounds_covered", "compounds_pct"),
    "branches": ("code", "name", "level", "compounds", "with_branch", "without_branch",
                 "branches", "fraction", "percent_text"),
    "grids": ("code", "name", "kind_zh", "region_name", "workers", "has_branch",
              "branch_seats", "compounds", "compounds_with_branch", "population"),
    "gaps": ("code", "name", "level", "population", "population_uncovered", "population_pct",
             "buildings_uncovered", "compounds", "compounds_uncovered", "compounds_partial"),
    "gap_compounds": ("rank", "code", "name", "region_name", "population",
                      "population_uncovered", "covered_pct"),
    "gap_buildings": ("rank", "code", "compound_code", "region_name", "population",
                      "households", "lng", "lat"),
    "points": ("code", "name", "point_kind", "buildings", "population",
               "population_only_here"),
    "access": ("code", "name", "level", "kind", "buildings", "population",
               "population_within_5min", "within_5min_pct", "population_within_10min",
               "within_10min_pct", "population_within_15min", "within_15min_pct",
               "median_minutes", "p90_minutes", "population_unreachable"),
    "access_cells": ("h3", "lng", "lat", "walk_m", "walk_minutes", "buildings", "population"),
    "access_buildings": ("rank", "id", "region_name", "population", "walk_m", "walk_minutes",
                         "nearest_code", "lng", "lat"),
    "tiers": ("code", "name", "level", "kind", "population", "standard_5min",
              "standard_5min_pct", "profile_5min", "profile_5min_pct", "standard_10min",
              "standard_10min_pct", "profile_10min", "profile_10min_pct", "standard_15min",
              "standard_15min_pct", "profile_15min", "profile_15min_pct"),
    "supply": ("code", "name", "level", "kind", "population", "m2_per_resident",
               "m2_per_1000", "population_unserved"),
    "supply_points": ("code", "name", "capacity_m2", "capacity_imputed",
                      "population_in_catchment", "m2_per_resident"),
    "scenario": ("code", "name", "level", "kind", "population", "population_covered_today",
                 "population_covered_scenario", "delta_population_covered",
                 "within_10min_pct_today", "within_10min_pct_scenario",
                 "delta_within_10min_pct", "median_minutes_today", "median_minutes_scenario",
                 "delta_median_minutes", "delta_m2_per_1000"),
}


def _plain(result: Result | Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON form of a result: the tables are views of its fields."""
    return result.as_dict() if isinstance(result, Result) else result


def table_rows(result: Result | Mapping[str, Any], view: str
               ) -> list[tuple[str, list[dict[str, Any]]]]:
    """The tables of a result as ``(sheet name, rows)`` pairs, rows keyed by
    the Chinese headers (:data:`COLUMNS_ZH`), in export order.

    Parameters
    ----------
    result
        A result of :func:`~geo.coverage.reach.reach_coverage`,
        :func:`~geo.coverage.branches.branch_coverage`,
        :func:`~geo.coverage.branches.grid_view` or
        :func:`~geo.coverage.gaps.gap_report` (or its ``as_dict()``).
    view
        ``reach``, ``branches``, ``grids`` or ``gaps``.

    Raises
    ------
    ValueError
        Unknown view.
    """
    result = _plain(result)

    def zh(rows: Iterable[dict[str, Any]], cols: tuple[str, ...]) -> list[dict[str, Any]]:
        out = []
        for r in rows:
            d = {}
            for c in cols:
                v = r.get(c)
                if c == "level":
                    v = LEVEL_ZH.get(v, v)
                elif c == "kind":
                    v = GRID_KIND_ZH.get(v, POINT_KIND_ZH.get(v, v)) if v else v
                elif c in ("has_branch", "capacity_imputed"):
                    v = "是" if v else "否"
                d[COLUMNS_ZH.get(c, c)] = v
            out.append(d)
        return out

    if view == "reach":
        tables = [("覆盖汇总", zh([result["totals"], *result["by_region"]], _TABLES["reach"]))]
        if result.get("by_grid"):
            tables.append(("网格覆盖", zh(result["by_grid"], _TABLES["reach_grid"])))
        if result.get("by_point"):
            pts = [{**r, "point_kind": POINT_KIND_ZH.get(PointKind(r["kind"]), r["kind"])
                    if r["kind"] in {k.value for k in PointKind} else r["kind"]}
                   for r in result["by_point"]]
            tables.append(("阵地覆盖", zh(pts, _TABLES["points"])))
        return tables
    if view == "branches":
        return [("党支部覆盖", zh([result["totals"], *result["by_region"]], _TABLES["branches"]))]
    if view == "grids":
        return [("双网融合", zh(result["grids"], _TABLES["grids"]))]
    if view == "gaps":
        tables = [("未覆盖汇总", zh([result["totals"], *result["by_region"]], _TABLES["gaps"]))]
        if result.get("by_grid"):
            tables.append(("网格未覆盖", zh(result["by_grid"], _TABLES["gaps"])))
        if result.get("compounds"):
            tables.append(("未覆盖小区", zh(result["compounds"], _TABLES["gap_compounds"])))
        if result.get("buildings"):
            tables.append(("未覆盖建筑", zh(result["buildings"], _TABLES["gap_buildings"])))
        return tables
    if view in ("access", "tiers", "supply", "scenario"):
        names = {"access": "步行时间", "tiers": "生活圈分级", "supply": "人均服务面积",
                 "scenario": "方案对比"}
        tables = [(names[view], zh([result["totals"], *result["by_region"]], _TABLES[view]))]
        if result.get("by_grid"):
            tables.append(("网格" + names[view], zh(result["by_grid"], _TABLES[view])))
        if view == "access" and result.get("farthest_cells"):
            tables.append(("最远网格", zh(result["farthest_cells"], _TABLES["access_cells"])))
        if view == "access" and result.get("farthest_buildings"):
            tables.append(("最远建筑", zh(result["farthest_buildings"],
                                      _TABLES["access_buildings"])))
        if view == "supply" and result.get("positions"):
            tables.append(("阵地供给", zh(result["positions"], _TABLES["supply_points"])))
        return tables
    raise ValueError(f"unknown view {view!r}")


def parameter_rows(result: Result | Mapping[str, Any]) -> list[tuple[str, str]]:
    """The region, parameters, rule, circles and time of a result as
    ``(Chinese name, value)`` rows (the 参数 sheet). Also reads the dicts of
    :mod:`geo.siting`."""
    result = _plain(result)
    rows = [("区域编码", result["region"]["code"]), ("区域名称", result["region"]["name"])]
    p = result.get("parameters")
    if p and "metres_per_minute" in p:  # access, tiers, supply, scenarios
        rows += [("步行档", p["profile"]), ("步速(km/h)", f"{p['speed_kmh']:g}"),
                 ("每分钟步行(米)", f"{p['metres_per_minute']:g}"),
                 ("阵地类型", "、".join(p["kinds_zh"])), ("服务", "、".join(p["services_zh"])),
                 ("开放时间", p["open_at"] or "不限"),
                 ("服务半径(分钟)", f"{p['catchment_minutes']:g}")]
        if result.get("statement_zh"):
            rows.append(("标准", result["statement_zh"]))
        if result.get("capacity_zh"):
            rows.append(("供给口径", result["capacity_zh"]))
        if result.get("scenario"):
            rows.append(("方案", str(result["scenario"])))
        rows += _source_rows(result)
        rows.append(("计算时间", result.get("computed_at", "")))
        return rows
    if p:
        rows += [("步行时间(分钟)", f"{p['minutes']:g}"), ("步行档", p["profile"]),
                 ("步速(km/h)", f"{p['speed_kmh']:g}"), ("步行距离(米)", f"{p['budget_m']:g}"),
                 ("阵地类型", "、".join(p["kinds_zh"])),
                 ("覆盖规则", p["rule"]["text_zh"]),
                 ("百分比取舍", f"{p['rounding_zh']}，保留 {p['decimals']} 位小数")]
    elif "rule" in result:
        rows.append(("统计规则", result["rule"]["text_zh"]))
        if "rounding" in result:
            r = result["rounding"]
            rows.append(("百分比取舍", f"{_ROUNDING_TEXT[r['mode']]}，保留 {r['decimals']} 位小数"))
    if "circles" in result:
        c = result["circles"]
        rows += [("服务圈数量", str(c["count"])), ("过期服务圈", str(c["stale"])),
                 ("缺少服务圈的阵地", str(c["missing"]))]
    rows += _source_rows(result)
    rows.append(("计算时间", result.get("computed_at", "")))
    return rows


def _source_rows(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The 人口来源 row of a result that states its population source (results
    stored before it was recorded have none)."""
    src = result.get("population_source")
    return [("人口来源", src["source_zh"])] if src else []


def export_csv(result: Result | Mapping[str, Any], view: str) -> bytes:
    """The first table of a result as CSV for Excel (UTF-8 with BOM, CRLF,
    Chinese headers); the parameters and rule follow the table after a blank
    line."""
    return sheets.csv_bytes(table_rows(result, view)[:1], parameters=parameter_rows(result))


def export_xlsx(result: Result | Mapping[str, Any], view: str) -> bytes:
    """Every table of a result as an Excel workbook (one sheet each, Chinese
    headers) plus a 参数 sheet with the parameters and rule."""
    return sheets.xlsx_bytes(table_rows(result, view), parameters=parameter_rows(result))


def format_table(rows: list[dict[str, Any]], decimals: int = 2) -> str:
    """Rows as an aligned plain-text table (CJK-aware widths; floats with
    ``decimals`` digits): :func:`geo.io.sheets.text_table`."""
    return sheets.text_table(rows, decimals=decimals)
