"""Chinese table views and their exports (CSV for Excel, XLSX, plain text)."""

from __future__ import annotations

import io
import json

from geo import coverage as cov
from tests.geo.coverage.town import TOWN, V1


def test_csv_and_xlsx_exports_have_chinese_headers(tiny):
    from openpyxl import load_workbook

    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    data = cov.export_csv(r, "reach")
    assert data.startswith("\ufeff".encode())
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("编码,名称,层级,建筑数,覆盖建筑数,建筑覆盖率(%)")
    assert lines[1].startswith(f"{TOWN},小镇,镇街,6,3,50.0")
    assert any(line.startswith("覆盖规则,建筑质心") for line in lines)
    wb = load_workbook(io.BytesIO(cov.export_xlsx(r, "reach")))
    assert wb.sheetnames == ["覆盖汇总", "网格覆盖", "阵地覆盖", "参数"]
    assert wb["覆盖汇总"]["A1"].value == "编码" and wb["覆盖汇总"]["J2"].value == 230
    b = cov.branch_coverage(tiny, TOWN, rounding="truncate")
    assert "50.00%" in cov.export_csv(b, "branches").decode("utf-8-sig")
    assert json.dumps(r.as_dict(), ensure_ascii=False)  # JSON-ready


def test_table_rows_of_the_tiny_town(tiny):
    # the town, then its villages 东村 (100 of 350 people) and 西村 (130 of 150)
    r = cov.reach_coverage(cov.analyse(tiny, TOWN))
    (name, rows), *_ = cov.table_rows(r, "reach")
    assert name == "覆盖汇总"
    assert [(x["名称"], x["层级"], x["覆盖人口"], x["人口"]) for x in rows] == \
        [("小镇", "镇街", 230, 500), ("东村", "村居", 100, 350), ("西村", "村居", 130, 150)]
    assert cov.table_rows(r, "reach") == cov.table_rows(r.as_dict(), "reach")
    params = dict(cov.parameter_rows(r))
    assert (params["区域编码"], params["步行时间(分钟)"], params["步行距离(米)"]) == \
        (TOWN, "10", "600")
    # the printed table: header, dashes, one line per row; the code column is as wide as
    # the 12-digit village codes, 名称 4 cells (小镇, 东村), two spaces between columns
    lines = cov.format_table(rows).splitlines()
    assert lines[0].startswith("编码          名称  层级")
    assert lines[2].startswith(f"{TOWN}     小镇  镇街  6 ")
    assert lines[3].startswith(f"{V1}  东村  村居  3 ")
