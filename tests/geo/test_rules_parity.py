"""The one implementation of the field rules (geo.rules.check_column) reached
through its two entry points — planner writes (geo.editing, a JSON value as a
one-row column) and file imports (geo.io.importer, a column of cells): the same
rows, good and bad, get the same verdict, the same field named, and the same
stored value, so neither entry point bends a rule on its way in.

Each case is one value of one field, given to the API as JSON and to the
importer as the cell of a CSV written to disk; everything else in the row is
valid.  The expected values are worked out by hand from the rules in
``docs/data-formats.md``, not copied from either side's output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from geo import editing, rules
from geo.errors import ImportRejected, InvalidInput
from geo.io.importer import import_file
from geo.tokens import Principal
from tests.geo.io.test_tables_and_columns import write_csv

VILLAGE = "440507013001"  # a Longteng village
OTHER_TOWN_VILLAGE = "440605126004"  # a Lishui village
PLANNER = Principal(name="parity", role="planner", regions=("440507013",))
REFUSE = object()  # expected verdict: refused
#: the API refuses, an import stores the row with an ``outside_town`` warning
OUTSIDE_TOWN = object()

#: CSV header -> field, per entity (file columns that name a location -> geometry)
POINT_HEAD = {"编码": "code", "名称": "name", "类型": "kind", "所属村居": "region_code",
              "经度": "geometry", "纬度": "geometry", "地址": "address",
              "开放时间": "hours_text", "服务内容": "services", "联系电话": "phone",
              "功能室数量": "rooms", "面积": "floor_area_m2", "星级": "stars"}
AREA_HEAD = {"编码": "code", "名称": "name", "所属村居": "region_code", "边界": "geometry",
             "户数": "households", "人口": "population", "网格类型": "kind",
             "网格员人数": "workers", "是否有党支部": "has_branch"}
BRANCH_HEAD = {"编码": "code", "名称": "name", "所属村居": "region_code"}


@dataclass
class Case:
    id: str
    field: str
    api: Any                 # JSON value given to the API
    csv: Any                 # cell text in the file
    want: Any                # stored value, or REFUSE
    entity: str = "point"    # editing entity
    api_only_geometry: Any = None


SQLI = "x'; DROP TABLE regions; --"

POINT_CASES = [
    # ---- text: strip, length, characters, SQL/markup, placeholders -------------
    Case("name_stripped", "name", "  鹤峰服务站 ", "  鹤峰服务站 ", "鹤峰服务站"),
    Case("name_200_chars", "name", "站" * 200, "站" * 200, "站" * 200),
    Case("name_201_chars", "name", "站" * 201, "站" * 201, REFUSE),
    Case("name_sql", "name", SQLI, SQLI, REFUSE),
    Case("name_or_1_1", "name", "' OR '1'='1", "' OR '1'='1", REFUSE),
    Case("name_markup", "name", "<script>alert(1)</script>", "<script>alert(1)</script>", REFUSE),
    Case("address_placeholder", "address", "无", "无", None),
    Case("address_dash", "address", "-", "-", None),
    Case("address_500_chars", "address", "路" * 500, "路" * 500, "路" * 500),
    Case("address_501_chars", "address", "路" * 501, "路" * 501, REFUSE),
    Case("address_union_select", "address", "1 UNION SELECT token_hash FROM api_tokens",
         "1 UNION SELECT token_hash FROM api_tokens", REFUSE),
    # ---- kind: slug, Chinese names and aliases ---------------------------------
    Case("kind_slug", "kind", "station", "station", "station"),
    Case("kind_chinese", "kind", "党群服务站", "党群服务站", "station"),
    Case("kind_alias", "kind", "党群驿站", "党群驿站", "station"),
    Case("kind_alias_town", "kind", "街道党群服务中心", "街道党群服务中心", "town_center"),
    Case("kind_english_words", "kind", "Village Center", "Village Center", "village_center"),
    Case("kind_unknown", "kind", "城堡", "城堡", REFUSE),
    # ---- services: tags and Chinese names, duplicates dropped ------------------
    Case("services_mixed", "services", ["党务", "elderly_care", "党建"], "党务、elderly_care、党建",
         ["party", "elderly_care"]),
    Case("services_suffix", "services", ["普法服务", "义诊"], "普法服务，义诊",
         ["legal", "medical"]),
    Case("services_unknown", "services", ["党务", "理发"], "党务、理发", REFUSE),
    # ---- phone ------------------------------------------------------------------
    Case("phone_plain", "phone", "0757-86500000", "0757-86500000", "0757-86500000"),
    Case("phone_fullwidth", "phone", "０７５７-８６５０００００", "０７５７-８６５０００００",
         "0757-86500000"),
    Case("phone_two_numbers", "phone", "0757-86500000、13800000000",
         "0757-86500000、13800000000", "0757-86500000、13800000000"),
    Case("phone_extension", "phone", "0757-86500000转123", "0757-86500000转123",
         "0757-86500000转123"),
    Case("phone_three_digits", "phone", "110", "110", REFUSE),
    Case("phone_words", "phone", "请联系村委", "请联系村委", REFUSE),
    Case("phone_too_long", "phone", "1" * 65, "1" * 65, REFUSE),
    # ---- numbers: ranges of geo.rules.RANGES ----------------------------------
    Case("rooms_ok", "rooms", 3, "3", 3),
    Case("rooms_max", "rooms", 10_000, "10000", 10_000),
    Case("rooms_over_max", "rooms", 10_001, "10001", REFUSE),
    Case("rooms_negative", "rooms", -1, "-1", REFUSE),
    Case("rooms_fraction", "rooms", 2.5, "2.5", REFUSE),
    Case("area_fraction", "floor_area_m2", 120.5, "120.5", 120.5),
    Case("area_over_max", "floor_area_m2", 1_000_000.5, "1000000.5", REFUSE),
    Case("stars_max", "stars", 5, "5", 5),
    Case("stars_zero", "stars", 0, "0", REFUSE),
    Case("stars_six", "stars", 6, "6", REFUSE),
    # ---- opening hours ------------------------------------------------------------
    Case("hours_weekdays", "hours_text", "周一至周五 9:00-17:00", "周一至周五 9:00-17:00",
         {"weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
          "parsed": True, "hours_text": "周一至周五 9:00-17:00"}),
    Case("hours_unparsed_kept", "hours_text", "看情况开放", "看情况开放",
         {"weekly": {}, "parsed": False, "hours_text": "看情况开放"}),
    Case("hours_too_long", "hours_text", "周" * 501, "周" * 501, REFUSE),
    # ---- code ------------------------------------------------------------------------
    Case("code_ok", "code", "LT-PAR.1_x", "LT-PAR.1_x", "LT-PAR.1_x"),
    Case("code_chinese", "code", "龙腾-1", "龙腾-1", REFUSE),
    Case("code_space", "code", "LT PAR", "LT PAR", REFUSE),
    Case("code_65_chars", "code", "X" * 65, "X" * 65, REFUSE),
    # ---- coordinates: [lng, lat] -------------------------------------------------------
    Case("coords_swapped", "geometry", "swap", "swap", REFUSE),
    Case("coords_lng_200", "geometry", [200.0, 23.0], [200.0, 23.0], REFUSE),
    Case("coords_west_of_china", "geometry", [73.0, 39.0], [73.0, 39.0], REFUSE),
    Case("coords_other_town", "geometry", "other_town", "other_town", OUTSIDE_TOWN),
]

AREA_CASES = [
    Case("compound_population_max", "population", 10_000_000, "10000000", 10_000_000,
         entity="compound"),
    Case("compound_population_over", "population", 10_000_001, "10000001", REFUSE,
         entity="compound"),
    Case("compound_households_negative", "households", -5, "-5", REFUSE, entity="compound"),
    Case("compound_name_sql", "name", SQLI, SQLI, REFUSE, entity="compound"),
    Case("building_households_fraction", "households", 1.5, "1.5", REFUSE, entity="building"),
    Case("grid_kind_chinese", "kind", "党建网格", "党建网格", "party", entity="grid_cell"),
    Case("grid_kind_alias", "kind", "基础网格", "基础网格", "governance", entity="grid_cell"),
    Case("grid_kind_unknown", "kind", "hexagon", "hexagon", REFUSE, entity="grid_cell"),
    Case("grid_workers_over", "workers", 10_001, "10001", REFUSE, entity="grid_cell"),
    Case("grid_workers_ok", "workers", 12, "12", 12, entity="grid_cell"),
    Case("grid_has_branch_yes", "has_branch", True, "是", True, entity="grid_cell"),
    Case("grid_area_other_town", "geometry", "other_town", "other_town", OUTSIDE_TOWN,
         entity="grid_cell"),
    Case("branch_name_markup", "name", "<b>支部</b>", "<b>支部</b>", REFUSE, entity="branch"),
    Case("branch_name_ok", "name", " 第一支部 ", " 第一支部 ", "第一支部", entity="branch"),
]

CASES = POINT_CASES + AREA_CASES
IMPORT_ENTITY = {"point": "points", "compound": "compounds", "building": "buildings",
                 "grid_cell": "grids", "branch": "branches"}
TABLE = {"point": "service_points", "compound": "compounds", "building": "buildings",
         "grid_cell": "grid_cells", "branch": "party_branches"}


def test_enough_cases_cover_every_rule():
    assert len(CASES) >= 25
    fields = {c.field for c in CASES}
    assert {"name", "address", "kind", "services", "phone", "rooms", "floor_area_m2", "stars",
            "hours_text", "code", "geometry", "population", "households", "workers"} <= fields
    assert any(c.want is REFUSE for c in CASES) and any(c.want is not REFUSE for c in CASES)


@pytest.fixture(scope="module")
def spots(samples_engine) -> dict[str, tuple[float, float]]:
    with samples_engine.connect() as c:
        return {code: tuple(c.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM regions "
            "WHERE code = :c) s"), {"c": code}).one()) for code in (VILLAGE, OTHER_TOWN_VILLAGE)}


def _lnglat(case: Case, value: Any, spots) -> tuple[float, float]:
    lng, lat = spots[VILLAGE]
    if case.field != "geometry":
        return lng, lat
    if value == "swap":
        return lat, lng
    if value == "other_town":
        return spots[OTHER_TOWN_VILLAGE]
    return tuple(value)


def _square(lng: float, lat: float, d: float = 0.0003) -> list[list[float]]:
    return [[lng - d, lat - d], [lng + d, lat - d], [lng + d, lat + d], [lng - d, lat + d],
            [lng - d, lat - d]]


def _wkt(ring: list[list[float]]) -> str:
    return "POLYGON((" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + "))"


def _api_row(case: Case, spots) -> dict[str, Any]:
    lng, lat = _lnglat(case, case.api, spots)
    if case.entity == "point":
        row: dict[str, Any] = {"code": "LT-PAR-1", "name": "鹤峰服务站", "kind": "station",
                               "region_code": VILLAGE,
                               "geometry": {"type": "Point", "coordinates": [lng, lat]}}
    elif case.entity == "branch":
        row = {"code": "LT-PAR-1", "name": "支部", "region_code": VILLAGE}
    else:
        row = {"code": "LT-PAR-1",
               "geometry": {"type": "Polygon", "coordinates": [_square(lng, lat)]}}
        if case.entity != "building":
            row.update(name="鹤峰小区", region_code=VILLAGE)
    if case.field != "geometry":
        row[case.field] = case.api
    return row


def _csv_row(case: Case, spots, tmp_path):
    lng, lat = _lnglat(case, case.csv, spots)
    if case.entity == "point":
        head = list(POINT_HEAD)
        row = {"编码": "LT-PAR-1", "名称": "鹤峰服务站", "类型": "党群服务站",
               "所属村居": VILLAGE, "经度": repr(lng), "纬度": repr(lat)}
        fields = POINT_HEAD
    elif case.entity == "branch":
        head, fields = list(BRANCH_HEAD), BRANCH_HEAD
        row = {"编码": "LT-PAR-1", "名称": "支部", "所属村居": VILLAGE}
    else:
        head = ["编码", "名称", "所属村居", "边界"] if case.entity != "building" \
            else ["编码", "边界"]
        fields = AREA_HEAD
        row = {"编码": "LT-PAR-1", "名称": "鹤峰小区", "所属村居": VILLAGE,
               "边界": _wkt(_square(lng, lat))}
    if case.field != "geometry":
        col = next(k for k, v in fields.items() if v == case.field)
        if col not in head:
            head.append(col)
        row[col] = case.csv
    path = write_csv(tmp_path / f"{case.id}.csv", head, [[row.get(h) for h in head]],
                     encoding="utf-8")
    return path, fields


def _field_of_api_problem(column: str | None) -> str:
    col = column or "geometry"
    return col.split(".")[0].split("[")[0]


def _stored(conn, case: Case) -> Any:
    table = TABLE[case.entity]
    if case.field == "geometry":
        return conn.execute(text(f"SELECT code FROM {table} WHERE code = 'LT-PAR-1'")).scalar_one()
    if case.field == "hours_text":
        r = conn.execute(text("SELECT hours, hours_text FROM service_points "
                              "WHERE code = 'LT-PAR-1'")).one()
        return {"weekly": r.hours["weekly"], "parsed": r.hours["parsed"],
                "hours_text": r.hours_text}
    col = "code" if case.field == "code" else case.field
    where = f"code = '{case.api}'" if case.field == "code" else "code = 'LT-PAR-1'"
    return conn.execute(text(f"SELECT {col} FROM {table} WHERE {where}")).scalar_one()


def _via_api(conn, case: Case, spots) -> tuple[str, Any]:
    sp = conn.begin_nested()
    try:
        editing.create(conn, case.entity, _api_row(case, spots), actor=PLANNER)
        return "accept", _stored(conn, case)
    except InvalidInput as exc:
        return "refuse", sorted({_field_of_api_problem(p.column) for p in exc.problems})
    finally:
        sp.rollback()


def _via_import(conn, case: Case, spots, tmp_path) -> tuple[str, Any]:
    path, fields = _csv_row(case, spots, tmp_path)
    sp = conn.begin_nested()
    try:
        report = import_file(conn, IMPORT_ENTITY[case.entity], path)
        if case.want is OUTSIDE_TOWN:
            return "accept", [w.kind for w in report.warnings if w.kind == "outside_town"]
        return "accept", _stored(conn, case)
    except ImportRejected as exc:
        return "refuse", sorted({fields.get(p.column or "", "geometry")
                                 for p in exc.report.errors})
    finally:
        sp.rollback()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b)
    return a == b


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_api_and_import_agree(samples_conn, spots, tmp_path, case: Case):
    api = _via_api(samples_conn, case, spots)
    imp = _via_import(samples_conn, case, spots, tmp_path)
    if case.want is REFUSE:
        assert api == ("refuse", [case.field]), api
        assert imp == ("refuse", [case.field]), imp
    elif case.want is OUTSIDE_TOWN:
        assert api == ("refuse", [case.field]), api
        assert imp == ("accept", ["outside_town"]), imp
    else:
        assert api[0] == "accept", api
        assert imp[0] == "accept", imp
        want = "LT-PAR-1" if case.field == "geometry" else case.want
        if case.field == "code":
            want = case.want
        assert _same(api[1], want), (api[1], want)
        assert _same(imp[1], want), (imp[1], want)


# --------------------------------------------------------------------------
# the importer's vectorised number path keeps the rule's limits
# --------------------------------------------------------------------------
@pytest.mark.parametrize("field", sorted(set(rules.RANGES) - {"members"}))
def test_every_numeric_range_is_one_rule(field):
    r = rules.RANGES[field]
    step = 1 if r.integer else 0.5
    assert rules.check_number(r.lo, field=field)[1] is None
    assert rules.check_number(r.hi, field=field)[1] is None
    assert rules.check_number(r.hi + step, field=field)[1].kind == "out_of_range"
    assert rules.check_number(r.lo - step, field=field)[1] is not None


def test_numbers_written_by_people():
    # thousands separators before a unit too (a census table's 「3,120人」)
    for written, value in (("3,120", 3120.0), ("3,120人", 3120.0), ("2,000㎡", 2000.0),
                           ("约120平方米", 120.0), ("１２３４", 1234.0)):
        assert rules.number_from_text(written) == value, written
    for written in ("1,2", "12,34", "三千"):  # not thousands, not a number
        assert rules.number_from_text(written) is None, written
