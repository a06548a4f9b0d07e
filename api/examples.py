"""Examples of the API's answers, for the OpenAPI document (``/docs``, ``/openapi.json``).

Values are those the bundled sample towns give: Lishui (里水镇, ``440605126``, about
lng 113.15 lat 23.2) and Longteng (龙腾街道, ``440507013``, about lng 116.72 lat
23.36); lists are cut to one or two items, polygons to a few corners, personal
data replaced by placeholders (陈某某). Routes attach them with :func:`answer`
(or :func:`api.routes.coverage.file_responses`); ``tests/api/test_openapi_docs_api.py``
checks that every JSON answer has one and that each is valid against its schema.
"""

from __future__ import annotations

from typing import Any

BASE = "https://servicemap.example"

_DAYS = ("fri", "mon", "sat", "sun", "thu", "tue", "wed")
_WEEKDAYS = ("fri", "mon", "thu", "tue", "wed")


def answer(example: Any, *, status: int = 200,
           media_type: str = "application/json") -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: ``example`` as the example of its ``status`` answer."""
    return {status: {"content": {media_type: {"example": example}}}}


def _square(lng: float, lat: float, d: float) -> list[list[list[float]]]:
    """A closed ring of 5 positions (a square of ``d`` degrees) as Polygon coordinates."""
    x, y, e = round(lng, 7), round(lat, 7), round(lng + d, 7)
    n = round(lat + d, 7)
    return [[[x, y], [e, y], [e, n], [x, n], [x, y]]]


# ------------------------------------------------------------------- health
HEALTHZ = {"status": "ok"}
READYZ = {"status": "ok", "database": "reachable"}

# ------------------------------------------------------------------- points
_HOURS_DAILY = {"text": "每天09:00-21:00", "parsed": True,
                "weekly": {d: [["09:00", "21:00"]] for d in _DAYS},
                "always_open": False, "closed_on_holidays": False}

_LS_0001 = {
    "type": "Feature", "id": "LS-0001",
    "geometry": {"type": "Point", "coordinates": [113.2071995, 23.1945487]},
    "properties": {
        "code": "LS-0001", "name": "里水镇党群服务中心", "kind": "town_center",
        "kind_label": "镇街党群服务中心", "region_code": "440605126050",
        "region_name": "金峰洲社区居委会", "address": "里水镇金峰洲社区同心东路417号",
        "hours": _HOURS_DAILY, "hours_text": "每天09:00-21:00",
        "hours_label": "每天 09:00-21:00", "open_now": True, "next_open": None,
        "services": ["party", "government", "elderly_care", "migrants", "mass_orgs",
                     "culture", "think_tank"],
        "service_labels": ["党务", "政务", "居家养老", "来穗人员", "群团", "文化", "智库"],
        "rooms": 15, "floor_area_m2": 2000.0, "stars": 5, "phone": "0757-86283067",
        "synthetic": True}}

#: ``GET /api/v1/points?region=440605126&limit=1``
POINTS = {"type": "FeatureCollection", "crs": "wgs84", "at": "2026-12-01T10:00:00+08:00",
          "calendar_known": True, "features": [_LS_0001], "numberMatched": 170,
          "numberReturned": 1, "limit": 1, "offset": 0}
#: ``GET /api/v1/points/LS-0001``
POINT = {"type": "Feature", "crs": "wgs84",
         **{k: v for k, v in _LS_0001.items() if k != "type"}}

# ------------------------------------------------------------------ regions
#: ``GET /api/v1/regions/440507013001``
REGION = {
    "type": "Feature", "crs": "wgs84", "id": "440507013001",
    "bbox": [116.708691, 23.345308, 116.723461, 23.364053],
    "geometry": {"type": "MultiPolygon", "coordinates": [[[
        [116.708691, 23.364053], [116.723461, 23.362181], [116.718999, 23.346044],
        [116.712681, 23.345308], [116.708691, 23.364053]]]]},
    "properties": {"code": "440507013001", "name": "妈屿居委会", "level": "village",
                   "level_label": "村居", "parent_code": "440507013", "synthetic": True,
                   "area_km2": 1.717, "points": 7,
                   "ancestors": [{"code": "440507", "name": "龙湖区", "level": "county"},
                                 {"code": "440507013", "name": "龙腾街道", "level": "town"}],
                   "children": []}}

# ------------------------------------------------------- planner: records
_CREATED = "2026-11-20T02:15:08.114+00:00"
_UPDATED = "2026-12-01T03:40:12.507+00:00"

#: one stored row per entity (geometry, properties), as planners read it
_RECORDS: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {
    "point": ({"type": "Point", "coordinates": [113.1535, 23.2125]}, {
        "code": "LS-NEW-001", "kind": "station", "name": "鹤峰村党群服务站",
        "hours": {"text": "周一至周五 9:00-17:30", "parsed": True,
                  "weekly": {d: [["09:00", "17:30"]] for d in _WEEKDAYS},
                  "always_open": False, "closed_on_holidays": True},
        "phone": "0757-85600001", "rooms": 2, "stars": 3,
        "address": "里水镇鹤峰村鹤峰大道18号", "version": 1,
        "services": ["party", "elderly_care"], "synthetic": False,
        "created_at": _CREATED, "deleted_at": None, "hours_text": "周一至周五 9:00-17:30",
        "properties": {}, "source_crs": "gcj02", "updated_at": _UPDATED,
        "region_code": "440605126222", "floor_area_m2": 120.0, "entity": "point"}),
    "compound": ({"type": "MultiPolygon", "coordinates": [[[
        [116.7265011, 23.3600203], [116.7265043, 23.3607204], [116.7277277, 23.3607157],
        [116.7277245, 23.3600156], [116.7265011, 23.3600203]]]]}, {
        "code": "LT-C0001", "name": "星湖花园", "synthetic": True, "created_at": _CREATED,
        "deleted_at": None, "households": 978, "population": 2496, "updated_at": _UPDATED,
        "region_code": "440507013004", "entity": "compound"}),
    "building": ({"type": "MultiPolygon", "coordinates": [[[
        [116.7275496, 23.3605856], [116.7271945, 23.360587], [116.7271939, 23.3604441],
        [116.727549, 23.3604428], [116.7275496, 23.3605856]]]]}, {
        "code": "LT-B000001", "synthetic": True, "deleted_at": None, "households": 298,
        "population": 715, "compound_code": "LT-C0001", "region_code": "440507013004",
        "entity": "building"}),
    "grid_cell": ({"type": "MultiPolygon", "coordinates": [[[
        [116.7214935, 23.3550652], [116.7189994, 23.3460436], [116.7162855, 23.3453079],
        [116.7126809, 23.3542056], [116.7214935, 23.3550652]]]]}, {
        "code": "LT-G01", "kind": "governance", "name": "妈屿社区第1网格",
        "private": {"workers": [{"name": "陈某某", "phone": "138-0000-0000"}]},
        "workers": 1, "synthetic": True, "created_at": _CREATED, "deleted_at": None,
        "has_branch": False, "updated_at": _UPDATED, "region_code": "440507013001",
        "entity": "grid_cell"}),
    "branch": (None, {
        "code": "LT-PB1", "name": "海景海湾联合党支部",
        "private": {"members": 23, "secretary": {"name": "林某某", "phone": "139-0000-0000"},
                    "member_households": []},
        "synthetic": True, "created_at": _CREATED, "deleted_at": None,
        "updated_at": _UPDATED, "region_code": "440507013001",
        "seat_compound_code": "LT-C0027",
        "compound_codes": ["LT-C0005", "LT-C0017", "LT-C0020", "LT-C0027"],
        "entity": "branch"}),
}

#: what an update of each entity changes in its example (``changed``)
_UPDATED_FIELDS = {"point": ("hours", "hours_text"), "compound": ("households",),
                   "building": ("population",), "grid_cell": ("workers",),
                   "branch": ("compound_codes",)}


def record_feature(entity: str, *, crs: bool = True) -> dict[str, Any]:
    """One stored row of ``entity`` as a GeoJSON Feature (``GET /api/v1/planner/…/{code}``)."""
    geometry, properties = _RECORDS[entity]
    out: dict[str, Any] = {"type": "Feature", "crs": "wgs84"} if crs else {"type": "Feature"}
    return {**out, "id": properties["code"], "geometry": geometry, "properties": properties}


def record_collection(entity: str, total: int) -> dict[str, Any]:
    """A page of rows of ``entity`` (``GET /api/v1/planner/…``); ``total`` matched."""
    return {"type": "FeatureCollection", "crs": "wgs84",
            "features": [record_feature(entity, crs=False)], "numberMatched": total,
            "numberReturned": 1, "limit": 100, "offset": 0}


def edit(entity: str, action: str) -> dict[str, Any]:
    """The answer of a write of ``entity``: ``create``, ``update``, ``move``, ``delete``
    or ``restore``."""
    feature = record_feature(entity, crs=False)
    props = feature["properties"]
    invalidated: dict[str, int] = {}
    if action == "create":
        changed = sorted([k for k in props if k != "entity"]
                         + (["geometry"] if feature["geometry"] else []))
    elif action == "move":
        changed = ["geometry"]
        if entity == "point":
            invalidated = {"circles_deleted": 2, "point_version": 2}
            feature["properties"] = {**props, "version": 2}
    elif action in ("delete", "restore"):
        changed = ["deleted_at"]
        if action == "delete":
            feature["properties"] = {**props, "deleted_at": _UPDATED}
            if entity == "point":
                invalidated = {"circles_deleted": 2}
    else:
        changed = sorted(_UPDATED_FIELDS[entity])
    return {"action": action, "audit_id": 4217, "feature": feature, "changed": changed,
            "warnings": [], "invalidated": invalidated}


#: ``GET /api/v1/auth/whoami``
WHOAMI = {"name": "龙腾街道组织办", "role": "planner", "regions": ["440507013"],
          "prefix": "smt_wEObreRG"}

#: ``POST /api/v1/imports`` (``kind=points``, ``dry_run=true``, a CSV of one row)
IMPORT_REPORT = {
    "file": "里水阵地.csv", "entity": "points", "table": "service_points", "format": "csv",
    "sheet": None, "encoding": "utf-8", "crs": "gcj02", "crs_source": "--crs",
    "crs_reason": "命令参数 --crs gcj02 指定了 GCJ-02（高德/腾讯）；"
                  "距离比对：只有 1 个点，不足 3 个，未做距离比对",
    "crs_evidence": {"available": False, "points": 1, "candidates": ["wgs84", "gcj02", "bd09"],
                     "winner": None, "layers": {},
                     "note": "只有 1 个点，不足 3 个，未做距离比对"},
    "header_rows": [1],
    "columns": [{"column": c, "field": f, "label": lb, "via": "alias"} for c, f, lb in (
        ("编码", "code", "编码"), ("名称", "name", "名称"), ("类型", "kind", "类型"),
        ("区划代码", "region", "所属村居"), ("经度", "lng", "经度"), ("纬度", "lat", "纬度"))],
    "unused_columns": [], "ignored_columns": [], "rows_read": 1, "rows_valid": 1,
    "rows_rejected": 0, "inserted": 1, "updated": 0, "unchanged": 0, "dry_run": True,
    "written": False, "warnings": [], "errors": [], "rejects_file": None,
    "rejects_name": None, "duration_s": 0.045,
    "timings": {"read": 0.003, "validate": 0.032, "copy_new": 0.002, "upsert_existing": 0.0}}

_VILLAGE_SPREAD = [
    {"code": "440507013001", "name": "妈屿居委会", "census": 21831, "year": 2020,
     "buildings": 695, "residential": 695, "people": 21831, "placed": True, "reason": None},
    {"code": "440507013002", "name": "胜利社区居委会", "census": 15012, "year": 2020,
     "buildings": 911, "residential": 911, "people": 15012, "placed": True, "reason": None}]
#: ``POST /api/v1/imports/population`` (``region=440507013``, ``skip_unmatched=true``, a
#: CSV of two communities and a name no community has)
POPULATION_IMPORT = {
    "file": "龙腾街道七普常住人口.csv", "entity": "population", "table": "village_population",
    "format": "csv", "sheet": None, "encoding": "utf-8", "header_rows": [1],
    "columns": [{"column": c, "field": f, "label": c, "via": "alias"} for c, f in (
        ("村居名称", "name"), ("常住人口", "population"), ("年份", "year"))],
    "unused_columns": [], "ignored_columns": [], "rows_read": 3, "rows_valid": 3,
    "rows_rejected": 0, "inserted": 2, "updated": 0, "unchanged": 0, "dry_run": False,
    "written": True,
    "warnings": [{"message": "第4行『村居名称』列的村（社区）'渔港社区' 未导入：区划 440507013 "
                             "内的没有名为“渔港社区”的村（社区）",
                  "file": "龙腾街道七普常住人口.csv", "row": 4, "column": "村居名称",
                  "value": "渔港社区", "kind": "unknown_village"}],
    "errors": [], "duration_s": 0.165, "timings": {}, "region": "440507013",
    "skip_unmatched": True, "villages_matched": 2, "people": 36843,
    "matched": [{"row": 2, "name": "妈屿社区", "code": None, "village_code": "440507013001",
                 "village_name": "妈屿居委会", "population": 21831, "year": 2020},
                {"row": 3, "name": "胜利社区", "code": None, "village_code": "440507013002",
                 "village_name": "胜利社区居委会", "population": 15012, "year": 2020}],
    "unmatched": [{"row": 4, "name": "渔港社区", "code": None,
                   "reason": "区划 440507013 内的没有名为“渔港社区”的村（社区）", "closest": []}],
    "spread": {"areas": ["440507013"], "villages_with_census": 2, "villages_placed": 2,
               "villages_unplaced": 0, "people_spread": 36843, "people_unplaced": 0,
               "buildings_used": 1606, "buildings_changed": 1606, "compounds_changed": 17,
               "household_size": 2.62, "dry_run": False, "villages": _VILLAGE_SPREAD}}

# ---------------------------------------------------------- tiles and maps
#: ``GET /tiles`` (two of the layers)
TILE_LAYERS = {"layers": [
    {"name": "points", "title": "党群服务阵地",
     "description": "Service positions (public attributes).", "geometry": "point",
     "formats": ["mvt", "png"], "minzoom": 0, "maxzoom": 20,
     "tilejson": f"{BASE}/tiles/points.json"},
    {"name": "walktime", "title": "步行时间",
     "description": "Walking minutes from each H3 cell (resolution 10) to the nearest "
                    "position, at the server's walking profile.",
     "geometry": "polygon", "formats": ["mvt", "png"], "minzoom": 11, "maxzoom": 20,
     "tilejson": f"{BASE}/tiles/walktime.json"}]}

#: ``GET /maps/planner/sites.json?region=440605126&k=1``
PLANNER_SITES = {"type": "FeatureCollection", "features": [{
    "type": "Feature", "geometry": {"type": "Point", "coordinates": [113.183712, 23.186411]},
    "properties": {"rank": 1, "name": "路网节点 9951", "population_new": 12715,
                   "population_pct_after": 3.88,
                   "label": "新增覆盖 12,715 人，覆盖率升至 3.88%"}}]}

#: ``GET /maps/overlay.json?bbox=113.14,23.18,113.2,23.22``
OVERLAY = {"id": 1, "src": f"{BASE}/maps/overlay.png?bbox=113.14%2C23.18%2C113.2%2C23.22"
                           "&crs=gcj02&layers=circles%2Cpoints&width=1024",
           "crs": "gcj02", "opacity": 1, "zIndex": 1, "visible": True,
           "bounds": {"southwest": {"latitude": 23.18, "longitude": 113.14},
                      "northeast": {"latitude": 23.22, "longitude": 113.2}}}

#: ``GET /embed/markers.json?region=440605126``
MARKERS = {"crs": "gcj02", "markers": [{
    "id": 1, "latitude": 23.1919256, "longitude": 113.212558, "title": "里水镇党群服务中心",
    "iconPath": f"{BASE}/maps/icons/town_center.png", "width": 37, "height": 37,
    "anchor": {"x": 0.5, "y": 0.5},
    "callout": {"content": "里水镇党群服务中心\n每天 09:00-21:00", "display": "BYCLICK",
                "padding": 8, "borderRadius": 6, "fontSize": 13},
    "customData": {"code": "LS-0001", "kind": "town_center"}}]}

# ----------------------------------------------------------------- coverage
_LONGTENG = {"code": "440507013", "name": "龙腾街道", "level": "town"}
_LONGTENG_P = {**_LONGTENG, "parent_code": "440507"}
_MAYU = {"code": "440507013001", "name": "妈屿居委会", "level": "village"}
_G01 = {"code": "LT-G01", "name": "妈屿社区第1网格", "level": "grid", "kind": "governance"}
_COMPUTED = "2026-12-01T02:00:05+00:00"
_KINDS = ["admin_service", "civilization", "other", "red_education", "station",
          "town_center", "village_center"]
_KINDS_ZH = ["行政服务中心", "新时代文明实践所", "其他服务阵地", "红色教育基地", "党群服务站",
             "镇街党群服务中心", "村居党群服务中心"]
_RULE = {"building": "centroid", "compound": "population_share",
         "text": "a building is covered when its footprint centroid lies in a service circle "
                 "(boundary included); a compound counts as covered by the share of its "
                 "population living in covered buildings; population and households are "
                 "counted by building",
         "text_zh": "建筑质心落在任一服务圈内（含边界）即视为覆盖；"
                    "小区按已覆盖建筑人口占比计入覆盖数；人口与户数按建筑统计"}
_PARAMETERS = {"minutes": 10.0, "profile": "elderly", "speed_kmh": 3.6, "budget_m": 600.0,
               "kinds": _KINDS, "kinds_zh": _KINDS_ZH, "rule": _RULE, "rounding": "half_up",
               "rounding_zh": "四舍五入", "decimals": 2}
_CIRCLES = {"count": 33, "stale": 0, "stale_points": [], "missing": 0, "missing_points": [],
            "computed_at": "2026-11-30T18:00:12+00:00", "version": "f83a360ef54bb93f"}


def _reach(buildings: int, covered: int, households: int, households_covered: int,
           population: int, population_covered: int, compounds: int, full: int,
           partial: int = 0) -> dict[str, Any]:
    """Reach figures of one area, as ``GET /api/v1/coverage`` counts them."""
    return {"buildings": buildings, "buildings_covered": covered,
            "buildings_fraction": f"{covered}/{buildings}",
            "buildings_pct": round(100 * covered / buildings, 2), "households": households,
            "households_covered": households_covered, "population": population,
            "population_covered": population_covered,
            "population_uncovered": population - population_covered,
            "population_fraction": f"{population_covered}/{population}",
            "population_pct": round(100 * population_covered / population, 2),
            "compounds": compounds, "compounds_covered": float(full),
            "compounds_full": full, "compounds_partial": partial,
            "compounds_uncovered": compounds - full - partial,
            "compounds_pct": round(100 * full / compounds, 2)}


_TOTALS = {**_LONGTENG, **_reach(3986, 3650, 29723, 27390, 76841, 70834, 36, 32)}
_BY_REGION = [{**_MAYU, **_reach(695, 690, 8521, 8510, 21831, 21790, 11, 11)}]
_BY_GRID = [{**_G01, "region_code": "440507013001", "region_name": "妈屿居委会",
             "has_branch": False, **_reach(84, 80, 525, 515, 1380, 1352, 1, 1)}]

#: where the people of the Longteng sample came from
_SOURCE = {"source": "sample", "source_zh": "样例生成", "label_zh": "人口来源：样例生成",
           "people": {"sample": 76841}}

#: ``GET /api/v1/coverage?region=440507013``
COVERAGE = {
    "region": _LONGTENG_P, "parameters": _PARAMETERS, "rule": _RULE, "circles": _CIRCLES,
    "computed_at": _COMPUTED, "crs": "EPSG:4326", "population_source": _SOURCE,
    "totals": _TOTALS,
    "by_region": _BY_REGION, "by_grid": _BY_GRID,
    "by_point": [{"code": "LT-0002", "name": "妈屿社区党群服务中心", "kind": "village_center",
                  "buildings": 595, "population": 21267, "population_only_here": 3120}]}

_BRANCH_FIGURES = {"compounds": 36, "with_branch": 32, "without_branch": 4, "branches": 6,
                   "fraction": "32/36", "percent": 88.89, "percent_text": "88.89%"}
#: ``GET /api/v1/coverage/branches?region=440507013``
BRANCH_COVERAGE = {
    "region": _LONGTENG,
    "rule": {"text": "a compound has a party branch when a party branch (not deleted) lists "
                     "it among its compounds or is seated in it; coverage = compounds with a "
                     "branch / all compounds",
             "text_zh": "小区被某个党支部（未撤销）覆盖或为其驻地即视为“有党支部”；"
                        "覆盖率 = 有党支部的小区数 / 小区总数"},
    "rounding": {"mode": "half_up", "mode_zh": "四舍五入", "decimals": 2},
    "totals": {**_LONGTENG, **_BRANCH_FIGURES},
    "percent_variants": {"half_up": "88.89%", "truncate": "88.88%", "half_even": "88.89%"},
    "by_region": [{"code": "440507013002", "name": "胜利社区居委会", "level": "village",
                   "compounds": 6, "with_branch": 2, "without_branch": 4, "branches": 2,
                   "fraction": "2/6", "percent": 33.33, "percent_text": "33.33%"}],
    "computed_at": _COMPUTED}

#: ``GET /api/v1/coverage/grids?region=440507013``
GRID_VIEW = {
    "region": _LONGTENG,
    "rule": {"text": "a grid cell holds a branch when its stored has_branch flag is set "
                     "(branch_seats counts the branch seat compounds found inside, as a "
                     "check); compounds and buildings are placed in cells by point on "
                     "surface and centroid",
             "text_zh": "网格“有党支部”以网格登记的 has_branch 为准"
                        "（branch_seats 为落在网格内的支部驻地小区数，用于核对）；"
                        "小区按内点、建筑按质心归入网格"},
    "rounding": {"mode": "half_up", "decimals": 2},
    "kinds": [{"kind": "governance", "kind_zh": "治理网格", "grids": 12, "with_branch": 4,
               "without_branch": 8, "fraction": "4/12", "percent": 33.33,
               "percent_text": "33.33%", "workers": 12, "compounds": 36,
               "compounds_outside_grids": 0, "compounds_in_grids_without_branch": 13,
               "compounds_in_grids_without_branch_having_branch": 9,
               "population_in_grids_without_branch": 29247, "inconsistent": []}],
    "grids": [{"code": "LT-G02", "name": "妈屿社区第2网格", "kind": "governance",
               "kind_zh": "治理网格", "region_code": "440507013001",
               "region_name": "妈屿居委会", "workers": 1, "has_branch": True,
               "branch_seats": 2, "compounds": 10, "compounds_with_branch": 10,
               "population": 20451}],
    "computed_at": _COMPUTED, "population_source": _SOURCE}


def _gap(population: int, covered: int, buildings: int, buildings_covered: int,
         compounds: int, uncovered: int) -> dict[str, Any]:
    return {"population": population, "population_covered": covered,
            "population_uncovered": population - covered,
            "population_pct": round(100 * covered / population, 2), "buildings": buildings,
            "buildings_covered": buildings_covered, "compounds": compounds,
            "compounds_uncovered": uncovered, "compounds_partial": 0,
            "buildings_uncovered": buildings - buildings_covered}


#: ``GET /api/v1/gaps?region=440507013&limit=1``
GAPS = {
    "region": _LONGTENG_P, "parameters": _PARAMETERS, "rule": _RULE, "circles": _CIRCLES,
    "computed_at": _COMPUTED, "crs": "EPSG:4326", "population_source": _SOURCE,
    "totals": {**_LONGTENG, **_gap(76841, 70834, 3986, 3650, 36, 4)},
    "by_region": [{"code": "440507013005", "name": "天禧社区居委会", "level": "village",
                   **_gap(12760, 9891, 710, 552, 5, 2)}],
    "by_grid": [{"code": "LT-G12", "name": "天禧社区第2网格", "level": "grid",
                 "kind": "governance", "region_code": "440507013005",
                 "region_name": "天禧社区居委会", **_gap(6763, 3894, 402, 244, 3, 2)}],
    "hexagons": {"resolution": 8, "edge_m": 531.4, "area_km2": 0.7373, "cells": [{
        "h3": "8841104101fffff", "lng": 116.72898, "lat": 23.365977,
        "population_uncovered": 2214, "buildings_uncovered": 91,
        "boundary": [[[116.732858, 23.362797], [116.733541, 23.367394],
                      [116.729663, 23.370574], [116.725102, 23.369157],
                      [116.724419, 23.364559], [116.728297, 23.361379],
                      [116.732858, 23.362797]]]}],
        "suppressed": {"cells": 0, "population_uncovered": 0, "buildings_uncovered": 0,
                       "rule": "cells with fewer than 3 uncovered buildings are not listed"}},
    "areas": {
        "cell_m": 30.0, "count": 1, "area_m2": 240300.0,
        "by_region_m2": {"440507013005": 240300.0},
        "rule": "residential land on a 30 m raster (cells holding a residential building "
                "centroid or centred in a compound) whose cell centre lies outside every "
                "service circle",
        "type": "FeatureCollection",
        "features": [{"type": "Feature",
                      "geometry": {"type": "Polygon",
                                   "coordinates": _square(116.7042, 23.3523, 0.0047)},
                      "properties": {"area_m2": 240300.0, "population_uncovered": 2869,
                                     "buildings_uncovered": 158,
                                     "region_code": "440507013005",
                                     "region_name": "天禧社区居委会"}}]}}

_SNAPSHOT_AT = "2026-12-01T02:10:44+00:00"
#: ``GET /api/v1/coverage/snapshots?region=440507013``
SNAPSHOTS = {"snapshots": [{
    "id": 1, "label": "2026年一季度", "region_code": "440507013", "region_name": "龙腾街道",
    "minutes": 10.0, "profile": "elderly", "kinds": _KINDS, "circles": 33,
    "circles_version": "f83a360ef54bb93f", "actor": "龙腾街道组织办",
    "created_at": _SNAPSHOT_AT, "population_covered": 70834, "population_pct": 92.18}]}

#: ``POST /api/v1/coverage/snapshots``
SNAPSHOT_SAVED = {"id": 1, "label": "2026年一季度", "region": _LONGTENG_P,
                  "parameters": _PARAMETERS, "totals": _TOTALS, "circles": _CIRCLES}

#: ``GET /api/v1/coverage/snapshots/1``
SNAPSHOT = {"id": 1, "label": "2026年一季度", "actor": "龙腾街道组织办",
            "created_at": _SNAPSHOT_AT, "crs": "EPSG:4326", "rule": _RULE,
            "region": _LONGTENG_P, "totals": _TOTALS, "by_grid": _BY_GRID,
            "circles": _CIRCLES, "by_point": COVERAGE["by_point"], "by_region": _BY_REGION,
            "parameters": _PARAMETERS, "computed_at": "2026-12-01T02:10:43+00:00",
            "population_source": _SOURCE}


def _delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in before:
        out[f"{key}_before"], out[f"{key}_after"] = before[key], after[key]
        if not key.endswith("_pct"):
            out[f"{key}_delta"] = round(after[key] - before[key], 2)
    return out


_FIGURES_BEFORE = {"buildings": 3986, "buildings_covered": 3650, "households": 29723,
                   "households_covered": 27390, "population": 76841,
                   "population_covered": 70834, "compounds": 36, "compounds_covered": 32.0}
_FIGURES_AFTER = {**_FIGURES_BEFORE, "buildings_covered": 3818, "households_covered": 28930,
                  "population_covered": 74860, "compounds_covered": 34.0}
_PCT = {"population_pct": 92.18}
#: ``GET /api/v1/coverage/compare?before=1&after=2``
SNAPSHOT_COMPARE = {
    "before": {"id": 1, "label": "2026年一季度", "region_code": "440507013",
               "created_at": _SNAPSHOT_AT, "circles": 33, "circles_version": "f83a360ef54bb93f"},
    "after": {"id": 2, "label": "津海社区新增站点后", "region_code": "440507013",
              "created_at": "2026-12-08T02:10:44+00:00", "circles": 34,
              "circles_version": "0b7c5d41a2e9f316"},
    "parameters_differ": [], "same_region": True,
    "totals": {"level": "town", "code": "440507013", "name": "龙腾街道", "kind": None,
               **_delta({**_FIGURES_BEFORE, **_PCT},
                        {**_FIGURES_AFTER, "population_pct": 97.42})},
    "areas": [{"level": "village", "code": "440507013004", "name": "津海社区居委会",
               "kind": None,
               **_delta({"buildings": 795, "buildings_covered": 627, "households": 6400,
                         "households_covered": 4860, "population": 16821,
                         "population_covered": 14795, "compounds": 8,
                         "compounds_covered": 6.0, "population_pct": 87.96},
                        {"buildings": 795, "buildings_covered": 795, "households": 6400,
                         "households_covered": 6400, "population": 16821,
                         "population_covered": 16821, "compounds": 8,
                         "compounds_covered": 8.0, "population_pct": 100.0})}]}

# ------------------------------------------------------------------- siting
_SITE = {"rank": 1, "candidate": 135, "source": "node", "name": "路网节点 13539",
         "ref": "13539", "lng": 116.725756, "lat": 23.363682, "method": "network",
         "snap_distance_m": 0.0, "population_new": 4026, "population_reachable": 4026,
         "population_covered_after": 74860, "population_pct_after": 97.42}
_SOLUTION = {"population_new": 4026, "population_covered_after": 74860,
             "population_pct_after": 97.42, "sites_found": 1, "sites": [_SITE]}
#: ``POST /api/v1/siting`` ``{"region": "440507013", "k": 1, "geometry": false}``
SITING = {
    "region": _LONGTENG,
    "parameters": {**_PARAMETERS, "k": 1, "method": "both",
                   "objective": "population newly inside a service circle",
                   "max_candidates": 2500},
    "rule": _RULE,
    "before": {"population": 76841, "population_covered": 70834, "population_pct": 92.18,
               "circles": 33},
    "candidates": {"source": "all", "generated": 805, "reaching": 805, "kept": 196,
                   "thinning_m": 186.3, "reach_m": 625.0, "useful": 191,
                   "reachable_population": 6007, "candidate_circles": 196,
                   "straight_line_circles": 0},
    "instance": {"circles_s": 0.664, "matrix_s": 0.147, "uncovered_buildings": 336,
                 "reachable_buildings": 301, "demand_groups": 212, "nonzeros": 6120},
    "greedy": {"solver": "greedy (marginal population, ties to the lowest index)",
               "status": "heuristic", "optimal": False, "gap": None, "seconds": 0.002,
               **_SOLUTION},
    "exact": {"solver": "HiGHS (scipy.optimize.milp)", "status": "optimal", "optimal": True,
              "gap": 0.0, "seconds": 3.799, **_SOLUTION},
    "comparison": {"exact": 4026, "greedy": 4026, "difference": 0,
                   "greedy_share_of_exact": 100.0},
    "timing": {"prepare_s": 0.202, "instance_s": 0.811, "total_s": 5.454}}

#: ``POST /api/v1/siting/what-if`` ``{"region": "440507013", "lng": 116.725756, …}``
WHAT_IF = {
    "region": _LONGTENG_P, "parameters": _PARAMETERS, "rule": _RULE,
    "site": {"name": "津海社区拟建站点", "lng": 116.725756, "lat": 23.363682,
             "input": {"lng": 116.725756, "lat": 23.363682, "crs": "wgs84"},
             "method": "network", "budget_m": 600.0, "snap_distance_m": 0.0},
    "stored": False, "before": _TOTALS,
    "after": {**_LONGTENG, **_reach(3986, 3818, 29723, 28930, 76841, 74860, 36, 34)},
    "delta": {"buildings_covered": 168, "households_covered": 1540,
              "population_covered": 4026, "compounds_covered": 2.0},
    "by_region": [{"code": "440507013004", "name": "津海社区居委会", "level": "village",
                   "kind": None,
                   "before": {"buildings_covered": 627, "households_covered": 4860,
                              "population_covered": 14795, "compounds_covered": 6.0,
                              "population_pct": 87.96},
                   "after": {"buildings_covered": 795, "households_covered": 6400,
                             "population_covered": 16821, "compounds_covered": 8.0,
                             "population_pct": 100.0},
                   "delta": {"buildings_covered": 168, "households_covered": 1540,
                             "population_covered": 2026, "compounds_covered": 2.0}}],
    "by_grid": [],
    "circle": {"type": "Polygon", "coordinates": [[
        [116.7304, 23.3637], [116.7258, 23.368], [116.7212, 23.3637], [116.7258, 23.3594],
        [116.7304, 23.3637]]]}}

# ------------------------------------------------------------------- access
_ACCESS_PARAMETERS = {"profile": "elderly", "speed_kmh": 3.6, "metres_per_minute": 60.0,
                      "kinds": [], "kinds_zh": ["全部"], "services": [],
                      "services_zh": ["全部"], "open_at": None, "max_snap_m": 300.0,
                      "hex_resolution": 10, "catchment_minutes": 15.0, "catchment_m": 900.0}
_POSITIONS = {"count": 33, "codes_sample": ["LT-0001", "LT-0002", "LT-0003", "LT-0004",
                                            "LT-0005"]}
_RUN = {"region": _LONGTENG, "parameters": _ACCESS_PARAMETERS, "positions": _POSITIONS,
        "scenario": "today", "computed_at": "2026-12-01T02:00:05+00:00",
        "population_source": _SOURCE}


def _walk(population: int, within: tuple[int, int, int], median: float,
          p90: float) -> dict[str, Any]:
    out: dict[str, Any] = {"population": population}
    for minutes, people in zip((5, 10, 15), within, strict=True):
        out[f"population_within_{minutes}min"] = people
        out[f"within_{minutes}min_pct"] = round(100 * people / population, 2)
    return {**out, "median_minutes": median, "p90_minutes": p90, "population_unreachable": 0}


#: ``GET /api/v1/access?region=440507013&farthest=1``
ACCESS = {**_RUN,
          "totals": {**_LONGTENG, "buildings": 3986,
                     **_walk(76841, (54138, 70834, 76121), 3.9, 8.8)},
          "by_region": [{**_MAYU, "buildings": 695,
                         **_walk(21831, (18521, 21685, 21831), 4.0, 5.5)}],
          "by_grid": [{**_G01, "buildings": 84, **_walk(1380, (1079, 1321, 1380), 1.2, 7.3)}],
          "farthest_cells": [{"h3": "8a411041119ffff", "lng": 116.70956, "lat": 23.364954,
                              "walk_m": 890.3, "walk_minutes": 14.8, "buildings": 4,
                              "population": 1452}]}


def _tiers(population: int, standard: tuple[int, int, int],
           profile: tuple[int, int, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"population": population}
    for minutes, s, p in zip((5, 10, 15), standard, profile, strict=True):
        out[f"standard_{minutes}min"] = s
        out[f"standard_{minutes}min_pct"] = round(100 * s / population, 2)
        out[f"profile_{minutes}min"] = p
        out[f"profile_{minutes}min_pct"] = round(100 * p / population, 2)
    return out


#: ``GET /api/v1/access/tiers?region=440507013``
TIERS = {**_RUN,
         "tiers": [{"minutes": m, "standard_m": s, "standard_speed_kmh": v,
                    "profile_m": p, "profile_speed_kmh": 3.6}
                   for m, s, v, p in ((5, 300.0, 3.6, 300.0), (10, 500.0, 3.0, 600.0),
                                      (15, 1000.0, 4.0, 900.0))],
         "totals": {**_LONGTENG, "buildings": 3986,
                    **_tiers(76841, (54138, 68218, 76841), (54138, 70834, 76121))},
         "by_region": [{**_MAYU, "buildings": 695,
                        **_tiers(21831, (18521, 21427, 21831), (18521, 21685, 21831))}],
         "by_grid": [{**_G01, "buildings": 84,
                      **_tiers(1380, (1079, 1297, 1380), (1079, 1321, 1380))}],
         "statement_zh": "GB 50180-2018 居住区生活圈：5分钟300米、10分钟500米、"
                         "15分钟1000米（标准距离）；按所选步行档 3.6 km/h 的 "
                         "5/10/15 分钟距离并列给出"}

#: ``GET /api/v1/access/supply?region=440507013``
SUPPLY = {**{k: v for k, v in _RUN.items() if k != "positions"},
          "positions": [{"code": "LT-0001", "name": "龙腾街道党群服务中心",
                         "capacity_m2": 1500.0, "capacity_imputed": False,
                         "population_in_catchment": 19981, "m2_per_resident": 0.0751}],
          "method": "2SFCA", "catchment_m": 900.0, "capacity": "floor_area_m2",
          "capacity_zh": "阵地建筑面积（平方米）；缺少面积的阵地取同类阵地面积中位数",
          "imputed": 0,
          "totals": {**_LONGTENG, "buildings": 3986, "population": 76841,
                     "m2_per_resident": 0.143, "m2_per_1000": 143.0,
                     "population_unserved": 720},
          "by_region": [{**_MAYU, "buildings": 695, "population": 21831,
                         "m2_per_resident": 0.1465, "m2_per_1000": 146.5,
                         "population_unserved": 0}],
          "by_grid": [{**_G01, "buildings": 84, "population": 1380,
                       "m2_per_resident": 0.1359, "m2_per_1000": 135.9,
                       "population_unserved": 0}]}

# ---------------------------------------------------------------- scenarios
#: ``GET /api/v1/scenarios/1``
SCENARIO = {"id": 1, "name": "关闭妈屿社区党群服务中心", "region_code": "440507013",
            "changes": {"paths": [], "positions": [{"op": "close", "code": "LT-0002"}]},
            "created_at": "2026-12-01T03:12:40.118+00:00",
            "updated_at": "2026-12-01T03:12:40.118+00:00"}
#: ``GET /api/v1/scenarios``
SCENARIOS = {"scenarios": [SCENARIO]}


def _versus(population: int, covered: tuple[int, int], within: tuple[float, float],
            median: tuple[float, float], m2: tuple[float, float]) -> dict[str, Any]:
    out: dict[str, Any] = {"population": population}
    for key, (today, scenario) in (("population_covered", covered),
                                   ("within_10min_pct", within),
                                   ("median_minutes", median), ("m2_per_1000", m2)):
        out[f"{key}_today"], out[f"{key}_scenario"] = today, scenario
        out[f"delta_{key}"] = round(scenario - today, 2)
    return out


#: ``GET /api/v1/scenarios/1/compare``
SCENARIO_COMPARE = {
    "region": _LONGTENG, "scenario": SCENARIO,
    "parameters": {**_ACCESS_PARAMETERS, "coverage_minutes": 10.0, "coverage_budget_m": 600.0},
    "totals": {**_LONGTENG, **_versus(76841, (70834, 67714), (92.18, 91.94), (3.9, 4.2),
                                      (143.0, 126.0))},
    "by_region": [{**_MAYU, **_versus(21831, (21790, 18670), (99.33, 98.49), (4.0, 4.6),
                                      (146.5, 88.7))}],
    "by_grid": [{**_G01, **_versus(1380, (1352, 1204), (95.72, 95.72), (1.2, 1.2),
                                   (135.9, 84.3))}],
    "areas_changed": 9,
    "changes": {"added": 0, "moved": 0, "closed": 1, "hours": 0, "paths": 0},
    "computed_at": "2026-12-01T03:13:02+00:00"}

#: ``GET /api/v1/scenarios/1/cells``
SCENARIO_CELLS = {
    "type": "FeatureCollection",
    "features": [{"type": "Feature",
                  "geometry": {"type": "Polygon", "coordinates": [[
                      [116.713766, 23.355609], [116.713864, 23.356266],
                      [116.71331, 23.356721], [116.712658, 23.356518],
                      [116.71256, 23.355861], [116.713114, 23.355406],
                      [116.713766, 23.355609]]]},
                  "properties": {"h3": "8a4110411987fff", "minutes_today": 7.4,
                                 "minutes_scenario": 10.0, "delta_minutes": 2.6}}],
    "parameters": _ACCESS_PARAMETERS, "min_minutes": 0.1, "cells": 716, "cells_changed": 17}


# ---------------------------------------------------------------- the residents' side
CODE_SENT = {"sent": True, "expires_in_s": 300, "phone": "138****8000"}
_WISH_PUBLIC = {"code": "W3F9A61C2D0", "kind": "wish", "kind_zh": "微心愿",
                "title": "希望有人教我用智能手机", "category": "elderly", "category_zh": "为老助老",
                "region_code": "440104013015", "region_name": "杨箕社区居民委员会",
                "grid_name": "杨箕社区第2网格"}
WISH_POSTED = {**_WISH_PUBLIC, "state": "posted", "state_zh": "待审核",
               "posted_at": "2026-12-03T09:12:40+08:00",
               "message": "心愿已提交，村（社区）审核后将在心愿墙展示（不显示您的姓名和电话）"}
WISH_STAFF = {**_WISH_PUBLIC, "text": "想学会视频通话和网上挂号", "public_text": None,
              "point_code": "MH-P016", "grid_code": "MH-G44", "compound_code": "MH-C61",
              "lng": 113.3121, "lat": 23.1342, "budget_yuan": None, "channel": "online",
              "channel_zh": "居民在线提交", "state": "posted", "state_zh": "待审核",
              "state_reason": None, "resident_score": None,
              "private": {"name": "〔居民姓名〕", "phone": "〔手机号〕", "address": "〔地址〕"},
              "entered_by": None, "posted_at": "2026-12-03T09:12:40+08:00",
              "published_at": None, "claimed_at": None, "fulfilled_at": None,
              "confirmed_at": None, "closed_at": None, "erased_at": None, "synthetic": False,
              "claims": 0, "due_at": "2026-12-06T09:12:40+08:00", "overdue": False,
              "allowed_actions": ["publish", "reject", "withdraw", "expire"]}
STAFF_WISHES = {"total": 1, "by_state": {"posted": 1}, "overdue": 0, "unclaimed": 0,
                "items": [WISH_STAFF], "truncated": False}
WISH_STEP = {**WISH_STAFF, "state": "published", "state_zh": "待认领",
             "public_text": "社区长者希望学会用智能手机视频通话",
             "published_at": "2026-12-03T10:02:11+08:00", "due_at": "2026-12-10T10:02:11+08:00",
             "allowed_actions": ["claim", "withdraw", "expire"]}
WISH_WALL = {"region": "440104013", "truncated": False, "items": [{
    "code": "W3F9A61C2D0", "kind": "wish", "kind_zh": "微心愿", "title": "希望有人教我用智能手机",
    "public_text": "社区长者希望学会用智能手机视频通话", "category": "elderly",
    "category_zh": "为老助老", "state": "claimed", "state_zh": "已认领",
    "region_code": "440104013015", "region_name": "杨箕社区居民委员会",
    "grid_name": "杨箕社区第2网格", "month": "2026-12", "budget_yuan": None,
    "resident_score": None, "synthetic": False, "claims": 2}]}
_KIND_FIGURES = {"total": 271, "claimed": 271, "fulfilled": 262, "unclaimed": 0,
                 "claimant_members": 447, "claimant_orgs": 0, "budget_yuan": 0.0}
WISH_SUMMARY = {
    "region": "440104013", "wishes": _KIND_FIGURES,
    "projects": {"total": 25, "claimed": 25, "fulfilled": 25, "unclaimed": 0,
                 "claimant_members": 0, "claimant_orgs": 19, "budget_yuan": 97150.6},
    "by_category": [{"category": "elderly", "category_zh": "为老助老", "state": "confirmed",
                     "state_zh": "已确认完成", "count": 58}],
    "by_grid": [{"code": "MH-G44", "name": "杨箕社区第2网格", "n": 9, "unclaimed": 0,
                 "lng": 113.3118, "lat": 23.1339}],
    "suppressed": {"grids": 3, "wishes": 4, "below": 3}}
RATED = {"point": "LS-P001", "period": "2026Q4", "period_zh": "2026年第四季度", "score": 5,
         "ratings": 12, "rating": 4.5}
POINT_RATINGS = {"point": "LS-P001", "ratings": 12, "rating": 4.5, "stars": 5, "min_shown": 3,
                 "periods": [{"period": "2026Q4", "period_zh": "2026年第四季度", "ratings": 12,
                              "rating": 4.5}]}
ACTIVITIES = {"start": "2026-12-03T09:00:00+08:00", "end": "2026-12-10T09:00:00+08:00",
              "items": [{"code": "LT-A0061", "title": "长者智能手机课堂", "theme": "长者关爱",
                         "point_code": "LT-P001", "point_name": "龙腾街道党群服务中心",
                         "address": "龙腾街道泰山路88号", "region_code": "440507013001",
                         "starts_at": "2026-12-05T09:30:00+08:00",
                         "ends_at": "2026-12-05T11:00:00+08:00", "capacity": 40, "signups": 23,
                         "attendance": None, "synthetic": True, "lng": 116.7213,
                         "lat": 23.3601, "distance_m": 420, "full": False,
                         "ics": "/api/v1/activities/LT-A0061.ics"}]}
MONTHLY = {"region": "440507013", "year": 2026, "months_closed": 11, "activities": 73,
           "person_times": 9410, "missing": [],
           "centers": [{"code": "LT-P001", "name": "龙腾街道党群服务中心", "kind": "town_center",
                        "region_code": "440507013001",
                        "months": [2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1],
                        "attendance": [260, 120, 130, 240, 110, 150, 140, 135, 120, 110, 100, 0],
                        "activities": 14, "person_times": 1615, "missed_months": [],
                        "meets_rule": True}]}
WISHES_OUTSIDE = {"region": {"code": "440104013", "name": "梅花村街道", "level": "town"},
                  "minutes": 10.0, "profile": "elderly", "circles": 46,
                  "states": ["posted", "published", "claimed"],
                  "totals": {"unmet": 12, "located": 12, "inside": 10, "outside": 2},
                  "by_region": [{"code": "440104013015", "name": "杨箕社区居民委员会",
                                 "unmet": 4, "located": 4, "outside": 1}],
                  "suppressed": {"villages": 5, "outside": 1, "below": 3}}
ORG = {"code": "MH-O30", "name": "广州市某局机关党委", "kind": "dual_report",
       "region_code": "440104013015", "branch_code": None, "kind_zh": "双报到单位党组织"}
MEMBER = {"code": "MH-M0448", "region_code": "440104013015", "org_code": "MH-O30",
          "private": {"name": "〔姓名〕", "phone": "〔手机号〕"}}
CLAIMANTS = {"region": "440104013015",
             "orgs": [{"code": "MH-O30", "name": "广州市某局机关党委", "kind": "dual_report",
                       "region_code": "440104013015", "branch_code": None, "claims": 3,
                       "points": 30, "kind_zh": "双报到单位党组织"}],
             "members": [{"code": "MH-M0448", "region_code": "440104013015",
                          "org_code": "MH-O30", "private": {"name": "〔姓名〕"}, "claims": 2,
                          "fulfilled": 2, "points": 15}]}
ACTIVITY = {"code": "A5C0FFEE01", "title": "长者智能手机课堂", "theme": "长者关爱",
            "point_code": "LT-0001", "point_name": "龙腾街道党群服务中心",
            "address": "龙腾街道津海社区衡山大道50号", "region_code": "440507013001",
            "starts_at": "2026-12-12T09:30:00+08:00", "ends_at": "2026-12-12T11:00:00+08:00",
            "capacity": 40, "signups": 0, "attendance": None, "synthetic": False,
            "lng": 116.7213, "lat": 23.3601}
