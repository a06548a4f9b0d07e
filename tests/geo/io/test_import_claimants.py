"""Importing who claims wishes: a town office's sheet of party organisations and
its 党员名册 (members with name and mobile, kept as personal data), with
Chinese headers; bad rows named by row, column and value, nothing written."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import text

from geo.errors import ImportRejected
from geo.io.importer import ENTITY_NAMES, ImportOptions, import_file

VILLAGE = "440507013001"  # 妈屿居委会 of the Longteng sample


def _xlsx(path, rows: list[dict]) -> str:
    pd.DataFrame(rows).to_excel(path, index=False)
    return str(path)


def test_orgs_and_members_are_importable():
    assert {"orgs", "members"} <= set(ENTITY_NAMES)


def test_orgs_then_members_from_chinese_sheets(samples_conn, tmp_path):
    conn = samples_conn
    orgs = _xlsx(tmp_path / "组织.xlsx", [
        {"组织编码": "IM-O1", "组织名称": "妈屿社区第一党支部", "组织类型": "党支部",
         "所属村居": "妈屿居委会"},
        {"组织编码": "IM-O2", "组织名称": "某局机关党委", "组织类型": "双报到",
         "所属村居": VILLAGE}])
    rep = import_file(conn, "orgs", orgs, options=ImportOptions())
    assert rep.inserted == 2
    rows = conn.execute(text("SELECT code, kind, region_code FROM party_orgs "
                             "WHERE code LIKE 'IM-%' ORDER BY code")).all()
    assert [tuple(r) for r in rows] == [("IM-O1", "branch", VILLAGE),
                                        ("IM-O2", "dual_report", VILLAGE)]
    members = _xlsx(tmp_path / "党员名册.xlsx", [
        {"党员编号": "IM-M1", "姓名": "党员甲", "手机号": "139 0000 0001",
         "所属村居": "妈屿居委会", "所在党组织": "IM-O1"},
        {"党员编号": "IM-M2", "姓名": "党员乙", "所属村居": VILLAGE, "所在党组织": "IM-O2"}])
    rep = import_file(conn, "members", members, options=ImportOptions())
    assert rep.inserted == 2
    got = dict(conn.execute(text("SELECT code, private FROM members WHERE code LIKE 'IM-%'"))
               .all())
    assert got == {"IM-M1": {"name": "党员甲", "phone": "13900000001"},
                   "IM-M2": {"name": "党员乙"}}
    # the audit entry of the import lists codes, not names or phones
    logged = conn.execute(text("SELECT after::text FROM audit_log WHERE action = 'import' "
                               "ORDER BY id DESC LIMIT 1")).scalar_one()
    assert "党员甲" not in logged and "13900000001" not in logged
    # a second sheet with a new phone for IM-M1 merges into its personal data
    again = _xlsx(tmp_path / "更新.xlsx", [{"党员编号": "IM-M1", "手机号": "13900000009",
                                           "所属村居": VILLAGE}])
    import_file(conn, "members", again, options=ImportOptions())
    assert conn.execute(text("SELECT private FROM members WHERE code = 'IM-M1'")
                        ).scalar_one() == {"name": "党员甲", "phone": "13900000009"}


def test_bad_member_rows_name_row_column_value_and_write_nothing(samples_conn, tmp_path):
    conn = samples_conn
    before = conn.execute(text("SELECT count(*) FROM members")).scalar_one()
    path = _xlsx(tmp_path / "坏名册.xlsx", [
        {"党员编号": "IM-X1", "姓名": "甲", "手机号": "12345", "所属村居": VILLAGE,
         "所在党组织": ""},
        {"党员编号": "IM-X2", "姓名": "乙", "手机号": "13900000002", "所属村居": VILLAGE,
         "所在党组织": "NO-SUCH-ORG"},
        {"党员编号": "IM-X3", "姓名": "丙", "所属村居": "不存在的村"}])
    with pytest.raises(ImportRejected) as e:
        import_file(conn, "members", path, options=ImportOptions())
    errors = e.value.report.errors
    by_row = {p.row: p for p in errors}
    assert set(by_row) == {2, 3, 4}
    assert by_row[2].column == "手机号" and by_row[2].value == "12345" and "手机" in \
        by_row[2].message
    assert by_row[3].column == "所在党组织" and by_row[3].value == "NO-SUCH-ORG"
    assert by_row[4].column == "所属村居"
    assert all(p.file == "坏名册.xlsx" for p in errors)
    assert conn.execute(text("SELECT count(*) FROM members")).scalar_one() == before


def test_a_member_sheet_needs_the_member_code(samples_conn, tmp_path):
    path = _xlsx(tmp_path / "无编号.xlsx", [{"姓名": "甲", "所属村居": VILLAGE}])
    with pytest.raises(ImportRejected) as e:
        import_file(samples_conn, "members", path, options=ImportOptions())
    assert e.value.report.errors[0].kind == "missing_column"
    assert "党员编号" in e.value.report.errors[0].message


# ---------------------------------------------------------------- activities (月月有活动)
def test_activities_from_a_centers_sheet(samples_conn, tmp_path):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    conn = samples_conn
    center = conn.execute(text("SELECT code FROM service_points WHERE region_code LIKE "
                               "'440507013%' AND kind = 'town_center'")).scalar_one()
    path = _xlsx(tmp_path / "活动计划.xlsx", [
        {"活动名称": "长者智能手机课堂", "举办阵地": center, "活动主题": "长者关爱",
         "开始时间": datetime(2027, 1, 9, 9, 30), "结束时间": "2027-01-09 11:00",
         "名额": 40, "参与人次": None},
        {"活动名称": "亲子阅读", "举办阵地": center,
         "开始时间": "2027-01-16T14:00:00+08:00", "结束时间": "2027-01-16T16:00:00+08:00"}])
    rep = import_file(conn, "activities", path, options=ImportOptions())
    assert rep.inserted == 2
    rows = conn.execute(text(
        "SELECT title, starts_at, ends_at, capacity, signups FROM activities "
        "WHERE point_code = :p AND code LIKE 'A-%' ORDER BY starts_at"),
        {"p": center}).all()
    sh = ZoneInfo("Asia/Shanghai")
    assert [(r.title, r.starts_at.astimezone(sh), r.capacity, r.signups) for r in rows] == [
        ("长者智能手机课堂", datetime(2027, 1, 9, 9, 30, tzinfo=sh), 40, 0),
        ("亲子阅读", datetime(2027, 1, 16, 14, 0, tzinfo=sh), None, 0)]
    # the same sheet again: the generated codes match, nothing new
    again = import_file(conn, "activities", path, options=ImportOptions())
    assert again.inserted == 0 and again.updated == 0


def test_bad_activity_rows_are_named_and_nothing_is_written(samples_conn, tmp_path):
    conn = samples_conn
    center = conn.execute(text("SELECT code FROM service_points WHERE region_code LIKE "
                               "'440507013%' AND kind = 'town_center'")).scalar_one()
    before = conn.execute(text("SELECT count(*) FROM activities")).scalar_one()
    path = _xlsx(tmp_path / "坏计划.xlsx", [
        {"活动名称": "倒过来的活动", "举办阵地": center, "开始时间": "2027-02-01 10:00",
         "结束时间": "2027-02-01 09:00"},
        {"活动名称": "没有阵地", "举办阵地": "NO-SUCH", "开始时间": "2027-02-02 10:00",
         "结束时间": "2027-02-02 11:00"},
        {"活动名称": "时间写错", "举办阵地": center, "开始时间": "下周三上午",
         "结束时间": "2027-02-03 11:00"},
        {"活动名称": "报满了", "举办阵地": center, "开始时间": "2027-02-04 10:00",
         "结束时间": "2027-02-04 11:00", "名额": 10, "报名人数": 12}])
    with pytest.raises(ImportRejected) as e:
        import_file(conn, "activities", path, options=ImportOptions())
    by_row = {p.row: p for p in e.value.report.errors}
    assert by_row[2].column == "结束时间" and by_row[2].kind == "invalid_range"
    assert by_row[3].column == "举办阵地" and by_row[3].value == "NO-SUCH"
    assert by_row[4].column == "开始时间" and by_row[4].value == "下周三上午"
    assert by_row[5].column == "报名人数" and by_row[5].kind == "out_of_range"
    assert conn.execute(text("SELECT count(*) FROM activities")).scalar_one() == before


def test_an_activity_import_stays_in_the_tokens_regions(samples_conn, tmp_path):
    conn = samples_conn
    center = conn.execute(text("SELECT code FROM service_points WHERE region_code LIKE "
                               "'440507013%' AND kind = 'town_center'")).scalar_one()
    path = _xlsx(tmp_path / "越权.xlsx", [
        {"活动名称": "别处的活动", "举办阵地": center, "开始时间": "2027-03-01 10:00",
         "结束时间": "2027-03-01 11:00"}])
    with pytest.raises(ImportRejected) as e:
        import_file(conn, "activities", path, options=ImportOptions(scope=("440605126",)))
    assert e.value.report.errors[0].kind == "forbidden_region"
    rep = import_file(conn, "activities", path, options=ImportOptions(scope=("440507013",)))
    assert rep.inserted == 1
