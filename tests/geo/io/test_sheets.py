"""geo.io.sheets: CSV bytes (BOM, CRLF, Chinese headers, GBK), XLSX read back
with openpyxl, and plain-text tables whose widths count CJK characters twice
(checked against wcwidth)."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest
from openpyxl import load_workbook
from wcwidth import wcswidth

from geo.io import sheets

ROWS = [{"编码": "A1", "名称": "东村", "人口": 350, "覆盖率(%)": 28.57},
        {"编码": "A2", "名称": "西村社区", "人口": 150, "覆盖率(%)": None}]


def test_csv_is_utf8_with_bom_and_crlf():
    data = sheets.csv_bytes([("汇总", ROWS)])
    # by hand: BOM, header, two rows, CRLF after each; None is an empty cell
    assert data == (b"\xef\xbb\xbf" + "编码,名称,人口,覆盖率(%)\r\nA1,东村,350,28.57\r\n"
                    "A2,西村社区,150,\r\n".encode())
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(frame.columns) == ["编码", "名称", "人口", "覆盖率(%)"]
    assert frame["人口"].tolist() == [350, 150] and math.isnan(frame["覆盖率(%)"][1])


def test_csv_titles_blocks_and_parameters():
    data = sheets.csv_bytes([("甲", [{"a": 1}]), sheets.Sheet("乙", [], columns=("b",))],
                            parameters=[("区域编码", "440100001")], titles=True,
                            encoding="utf-8")
    assert data.decode() == ("甲\r\na\r\n1\r\n\r\n乙\r\nb\r\n\r\n区域编码,440100001\r\n")


def test_csv_in_gbk_round_trips():
    rows = [{"名称": "里水镇", "人口": 1, "x": float("nan")}]
    data = sheets.csv_bytes([sheets.Sheet("t", rows)], encoding="gbk", newline="\n")
    assert data == "名称,人口,x\n里水镇,1,\n".encode("gbk")
    assert not data.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.BytesIO(data), encoding="gbk")
    assert frame["名称"].tolist() == ["里水镇"]
    with pytest.raises(UnicodeEncodeError):
        sheets.csv_bytes([("t", [{"名": "😀"}])], encoding="gbk")


def test_xlsx_sheets_bold_frozen_header_values_and_parameters():
    data = sheets.xlsx_bytes([("覆盖汇总", ROWS), ("x" * 40, [])],
                             parameters=[("区域编码", "440100001"), ("计算时间", None)])
    wb = load_workbook(io.BytesIO(data))
    # sheet names are cut to Excel's 31 characters; an empty table is an empty sheet
    assert wb.sheetnames == ["覆盖汇总", "x" * 31, "参数"]
    assert wb["x" * 31].max_row == 1 and wb["x" * 31]["A1"].value is None
    ws = wb["覆盖汇总"]
    assert [c.value for c in ws[1]] == ["编码", "名称", "人口", "覆盖率(%)"]
    assert all(c.font.bold for c in ws[1]) and not ws["A2"].font.bold
    assert [c.value for c in ws[2]] == ["A1", "东村", 350, 28.57]
    assert [c.value for c in ws[3]] == ["A2", "西村社区", 150, None]
    assert ws.freeze_panes == "A2"
    # 名称: "西村社区" is 8 cells wide, plus 2
    assert ws.column_dimensions["B"].width == 10
    p = wb["参数"]
    assert [[c.value for c in r] for r in p.iter_rows()] == [["区域编码", "440100001"],
                                                              ["计算时间", None]]


def test_a_table_without_rows_keeps_its_header():
    data = sheets.xlsx_bytes([sheets.Sheet("空表", [], ("阵地编码", "合计"))])
    ws = load_workbook(io.BytesIO(data))["空表"]
    assert [c.value for c in ws[1]] == ["阵地编码", "合计"] and ws.max_row == 1
    assert ws.column_dimensions["A"].width == 10  # 阵地编码: 8 cells wide, plus 2


def test_xlsx_needs_something_to_write():
    with pytest.raises(ValueError):
        sheets.xlsx_bytes([])


@pytest.mark.parametrize("text", ["abc", "东村", "西村社区", "覆盖率(%)", "（注）", "A区3号"])
def test_display_width_agrees_with_wcwidth(text):
    assert sheets.display_width(text) == wcswidth(text)


def test_text_table_aligns_cjk_columns():
    text = sheets.text_table(ROWS, decimals=1, right=("人口",))
    # by hand: 编码 4 cells; 名称 8 (西村社区); 人口 4; 覆盖率(%) 9 (3 × 2 + 3)
    assert text.splitlines() == [
        "编码  名称      人口  覆盖率(%)",
        "----  --------  ----  ---------",
        "A1    东村       350  28.6     ",
        "A2    西村社区   150           ",
    ]
    lines = text.splitlines()
    assert len({wcswidth(line) for line in lines}) == 1  # every line equally wide
    assert sheets.text_table([]) == "(无数据)"
