"""Importing a town office's table of village census totals: Chinese headers
under a title row (XLSX), a GBK CSV, names written as people write them,
refused files that leave the database as it was (unknown names, estimates and
negative counts, ambiguous and repeated villages), ``skip_unmatched``, and the
population source every coverage result states before and after."""

from __future__ import annotations

import openpyxl
import pytest
from sqlalchemy import text

from geo import coverage as cov
from geo.coverage import access as ac
from geo.errors import ImportRejected, NotFound
from geo.population import import_village_population, match_village, name_key
from geo.population.census import Village

LISHUI, LONGTENG = "440605126", "440507013"
HECUN, HEFENG, SHAYONG, JINFENGZHOU, TANGCUN = (
    "440605126006", "440605126222", "440605126004", "440605126050", "440605126229")
DASHI, CHISHAN, HONGGANG = "440605126009", "440605126211", "440605126210"


def write_xlsx(path, rows, *, title: str | None = None) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "七普"
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for r in rows:
        ws.append(r)
    wb.save(path)


def write_csv(path, rows, encoding="utf-8") -> None:
    path.write_bytes("\r\n".join(",".join(f'"{c}"' if "," in str(c) else str(c) for c in r)
                                 for r in rows).encode(encoding))


def state(conn) -> tuple:
    """What an import may change: the census table, the buildings' people and
    sources, the compounds' people, the data versions."""
    return (
        conn.execute(text("SELECT count(*), coalesce(sum(population), 0) "
                          "FROM village_population")).one(),
        conn.execute(text("SELECT sum(population), sum(households), "
                          "count(*) FILTER (WHERE population_source = 'census') "
                          "FROM buildings")).one(),
        conn.execute(text("SELECT sum(population) FROM compounds")).scalar_one(),
        tuple(conn.execute(text("SELECT name, version FROM data_versions ORDER BY name")).all()),
    )


def stored(conn) -> dict[str, tuple]:
    return {r.region_code: (r.population, r.year, r.source) for r in conn.execute(text(
        "SELECT region_code, population, year, source FROM village_population"))}


# ---------------------------------------------------------------- names
def test_names_are_compared_as_people_write_them():
    assert name_key("里水镇 河村社区居民委员会", ("里水镇",)) == ("河村", "社区")
    assert name_key("鹤峰村委会") == name_key("鹤峰村") == name_key("鹤峰村民委员会") == \
        ("鹤峰", "村")
    assert name_key("ＸＹ社区（居委会）") == ("XY", "社区")  # full-width, a remark
    vs = [Village(HECUN, "河村社区居委会", "里水镇"), Village(TANGCUN, "汤村村委会", "里水镇"),
          Village(SHAYONG, "沙涌社区居委会", "里水镇"), Village("1", "胜利社区居委会", "里水镇"),
          Village("2", "胜利社区居委会", "龙腾街道")]
    assert match_village("河村社区", vs) == ([vs[0]], "key")
    assert match_village("汤村村委会", vs) == ([vs[1]], "exact")
    # 「汤村」 is 汤村村委会 by its stem (it is not 「汤」 + 村)
    assert match_village("汤村", vs) == ([vs[1]], "stem")
    # 村改居: a village now a community is found by its stem
    assert match_village("沙涌村", vs) == ([vs[2]], "stem")
    assert match_village("胜利社区", vs)[0] == vs[3:]  # ambiguous: two towns
    assert match_village("不存在村", vs) == ([], "none")


# ---------------------------------------------------------------- files that import
def test_xlsx_with_a_title_row_and_chinese_headers(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "里水镇七普常住人口.xlsx"
    write_xlsx(path, [
        ["序号", "村（居）名称", "区划代码", "常住人口（人）", "年份"],
        [1, "河村社区", None, "12,310", 2020],
        [2, "鹤峰村", None, "8120人", "2020年"],
        [3, None, SHAYONG, 9001, 2020],
        [4, "金峰洲 社区居委会", None, 15000, 2020],
        [5, "汤村", None, 4321, None],
    ], title="里水镇各村（社区）第七次全国人口普查常住人口")
    before = state(conn)
    rep = import_village_population(conn, path, region=LISHUI, year=2021, actor="test")
    assert rep.written and rep.header_rows == [2] and rep.sheet == "七普"
    assert {c["field"] for c in rep.columns} == {"name", "code", "population", "year"}
    # 3,120-style thousands and 「人」 are read as numbers; 2020年 as a year; a row
    # without a year takes the option's
    assert stored(conn) == {
        HECUN: (12310, 2020, path.name), HEFENG: (8120, 2020, path.name),
        SHAYONG: (9001, 2020, path.name), JINFENGZHOU: (15000, 2020, path.name),
        TANGCUN: (4321, 2021, path.name)}
    assert (rep.inserted, rep.updated, rep.unchanged) == (5, 0, 0)
    assert [m["village_code"] for m in rep.matched] == [HECUN, HEFENG, SHAYONG, JINFENGZHOU,
                                                        TANGCUN]
    # 「汤村」 matched by its stem: said so
    assert [w.row for w in rep.warnings if w.kind == "village_matched_by_stem"] == [7]
    # and spread: every village's buildings add up to its total
    assert rep.spread is not None and not rep.spread.unplaced
    assert rep.spread.people_spread == 12310 + 8120 + 9001 + 15000 + 4321
    assert state(conn)[1][2] > before[1][2]  # buildings now from the census
    out = rep.to_text()
    assert "对应到村（社区）5 个（48,752 人）" in out and "已写入数据库" in out
    # the same file again: unchanged
    again = import_village_population(conn, path, region=LISHUI, year=2021)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert again.spread.buildings_changed == 0


def test_gbk_csv_by_names(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "人口.csv"
    write_csv(path, [["村居名称", "常住人口"], ["大步社区", "10000"],
                     ["赤山村委会", "3,120"], ["宏岗村", "5,000人"]], encoding="gbk")
    rep = import_village_population(conn, path, region=LISHUI)
    assert rep.encoding == "gbk"
    assert stored(conn) == {DASHI: (10000, None, "人口.csv"), CHISHAN: (3120, None, "人口.csv"),
                            HONGGANG: (5000, None, "人口.csv")}


# ---------------------------------------------------------------- refused files
def test_unknown_names_refuse_the_file_and_list_them(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "人口.csv"
    write_csv(path, [["村居名称", "常住人口"], ["河村社区", "100"], ["不存在村", "200"],
                     ["金峰洲二社区", "300"]])
    before = state(conn)
    with pytest.raises(ImportRejected) as e:
        import_village_population(conn, path, region=LISHUI)
    assert state(conn) == before
    msg = str(e.value)
    assert msg.startswith("人口.csv 未导入：2 行的村（社区）在数据库中找不到："
                          "不存在村（第3行）、金峰洲二社区（第4行）")
    assert "--skip-unmatched" in msg
    rep = e.value.report
    assert [(u["row"], u["name"]) for u in rep.unmatched] == [(3, "不存在村"), (4, "金峰洲二社区")]
    assert "金峰洲社区居委会" in rep.unmatched[1]["closest"]
    assert [(p.file, p.row, p.column, p.value, p.kind) for p in rep.errors] == [
        ("人口.csv", 3, "村居名称", "不存在村", "unknown_village"),
        ("人口.csv", 4, "村居名称", "金峰洲二社区", "unknown_village")]
    assert "未能对应的名称" in rep.to_text() and "最接近：金峰洲社区居委会" in rep.to_text()


def test_counts_that_are_not_census_figures_refuse_the_file(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "人口.xlsx"
    write_xlsx(path, [["村居名称", "常住人口"], ["河村社区", "约3000"], ["鹤峰村", "-5"],
                      ["汤村", None], ["大步社区", "3000.5"], ["赤山村", "三千"],
                      ["宏岗村", "2,000"]])
    before = state(conn)
    with pytest.raises(ImportRejected) as e:
        import_village_population(conn, path, region=LISHUI)
    assert state(conn) == before
    got = [(p.file, p.row, p.column, p.value, p.kind) for p in e.value.report.errors]
    assert got == [("人口.xlsx", 2, "常住人口", "约3000", "estimated_number"),
                   ("人口.xlsx", 3, "常住人口", "-5", "negative_number"),
                   ("人口.xlsx", 4, "常住人口", None, "missing_value"),
                   ("人口.xlsx", 5, "常住人口", "3000.5", "not_an_integer"),
                   ("人口.xlsx", 6, "常住人口", "三千", "not_a_number")]
    first = e.value.report.errors[0].message
    assert first == "第2行『常住人口』列的值 '约3000' 是估计数，不是普查人数，" \
                    "应为普查的常住人口（不小于 0 的整数，如 3120 或 3,120）"
    assert "第3行『常住人口』列的值 '-5' 太小" in e.value.report.errors[1].message
    assert str(e.value).startswith("人口.xlsx 未导入：发现 5 个错误")


def test_ambiguous_repeated_and_missing(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "人口.csv"
    # 胜利社区居委会 is in Lishui and in Longteng: without --region it is ambiguous
    write_csv(path, [["名称", "人口"], ["胜利社区", "100"]])
    with pytest.raises(ImportRejected) as e:
        import_village_population(conn, path)
    (p,) = e.value.report.errors
    assert (p.row, p.kind) == (2, "ambiguous_village")
    assert "440605126008" in p.message and "440507013002" in p.message
    rep = import_village_population(conn, path, region=LONGTENG)
    assert [m["village_code"] for m in rep.matched] == ["440507013002"]
    # two rows for one village (by name and by code)
    write_csv(path, [["名称", "区划代码", "人口"], ["河村社区", "", "100"], ["", HECUN, "200"]])
    with pytest.raises(ImportRejected) as e:
        import_village_population(conn, path, region=LISHUI)
    assert [(p.row, p.kind) for p in e.value.report.errors] == [(3, "duplicate_village")]
    # a file without a population column
    write_csv(path, [["名称", "户数"], ["河村社区", "100"]])
    with pytest.raises(ImportRejected) as e:
        import_village_population(conn, path, region=LISHUI)
    assert [(p.column, p.kind) for p in e.value.report.errors] == [("常住人口", "missing_column")]
    with pytest.raises(NotFound):
        import_village_population(conn, path, region="440605999")


def test_skip_unmatched_stores_the_matched_rows(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "人口.csv"
    # a Longteng code outside Lishui is unmatched too
    write_csv(path, [["村居名称", "区划代码", "常住人口"], ["河村社区", "", "1200"],
                     ["不存在村", "", "200"], ["", "440507013001", "300"]])
    rep = import_village_population(conn, path, region=LISHUI, skip_unmatched=True)
    assert rep.written and stored(conn) == {HECUN: (1200, None, "人口.csv")}
    assert [(u["row"], u["reason"]) for u in rep.unmatched] == [
        (3, "区划 440605126 内的没有名为“不存在村”的村（社区）"),
        (4, "区划代码 440507013001 不是区划 440605126 内的村（社区）")]
    assert [(w.row, w.kind) for w in rep.warnings if w.kind == "unknown_village"] == \
        [(3, "unknown_village"), (4, "unknown_village")]
    assert rep.as_dict()["villages_matched"] == 1 and rep.as_dict()["people"] == 1200
    # nothing at all matches: refused even with skip_unmatched
    write_csv(path, [["村居名称", "常住人口"], ["不存在村", "200"]])
    with pytest.raises(ImportRejected, match="没有一行能对应"):
        import_village_population(conn, path, region=LISHUI, skip_unmatched=True)


def test_dry_run_writes_nothing(samples_conn, tmp_path):
    conn = samples_conn
    path = tmp_path / "人口.csv"
    write_csv(path, [["村居名称", "常住人口"], ["河村社区", "1200"]])
    before = state(conn)
    rep = import_village_population(conn, path, region=LISHUI, dry_run=True)
    assert rep.inserted == 1 and not rep.written and rep.spread.people_spread == 1200
    assert state(conn) == before


# ---------------------------------------------------------------- the source coverage states
def _circle(conn, code: str) -> None:
    """A straight-line 600 m circle of a position, fresh for its version."""
    conn.execute(text("""
        INSERT INTO service_circles (point_code, minutes, profile, budget_m, method,
                                     walk_off_m, geom, input_version)
        SELECT code, 10, 'elderly', 600, 'straight_line', 25,
               ST_Multi(ST_Buffer(geom::geography, 600)::geometry),
               'p' || version || CAST(:suffix AS text)
        FROM service_points WHERE code = :c"""), {"c": code, "suffix": ":n-"})


def test_coverage_says_sample_then_census(samples_conn, tmp_path):
    conn = samples_conn
    _circle(conn, "LT-0002")
    reach = cov.reach_coverage(cov.analyse(conn, LONGTENG))
    assert reach.population_source.source == "sample"
    assert reach.as_dict()["population_source"]["label_zh"] == "人口来源：样例生成"
    assert reach.population_source.people == {"sample": reach.totals.population}
    villages = conn.execute(text("SELECT code, name FROM regions WHERE parent_code = :t "
                                 "ORDER BY code"), {"t": LONGTENG}).all()
    path = tmp_path / "龙腾.csv"
    write_csv(path, [["区划代码", "村居名称", "常住人口"],
                     *[[v.code, v.name, str(15_000 + i)] for i, v in enumerate(villages)]])
    import_village_population(conn, path, region=LONGTENG)
    an = cov.analyse(conn, LONGTENG)
    reach = cov.reach_coverage(an)
    assert reach.population_source.source == "census"
    assert reach.totals.population == sum(15_000 + i for i in range(len(villages)))
    assert reach.population_source.people == {"census": reach.totals.population}
    gaps = cov.gap_report(an, areas=False)
    assert gaps.as_dict()["population_source"]["source_zh"] == "普查分摊"
    assert cov.grid_view(conn, LONGTENG).population_source.source == "census"
    assert ("人口来源", "普查分摊") in cov.parameter_rows(reach)
    assert "人口来源,普查分摊" in cov.export_csv(reach, "reach").decode("utf-8-sig")


def test_access_reports_say_their_source(samples_conn):
    from geo.circles import Networks

    conn = samples_conn
    town = cov.load_town(conn, LONGTENG)
    run = ac.access_run(conn, LONGTENG, ac.AccessParams(), networks=Networks.load(conn),
                        town=town)
    for rep in (ac.walk_report(run), ac.tiers_report(run), ac.supply_report(run)):
        assert rep["population_source"]["source"] == "sample"
        assert rep["population_source"]["people"] == {"sample": int(town.b_pop.sum())}
