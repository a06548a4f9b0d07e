"""Writing tables: aligned plain text, CSV for Excel and XLSX workbooks.

The one implementation behind every table ServiceMap writes (coverage
exports, the command line's printed tables). A table is a :class:`Sheet` — or
a ``(sheet name, rows)`` pair — whose rows are mappings from column header
to value; the columns are the rows' keys in the order first seen, unless
given. No pandas: a list of dicts is enough.

- :func:`text_table`: columns aligned for a terminal, CJK characters counted
  two cells wide (:func:`display_width`).
- :func:`csv_bytes`: CSV text, by default UTF-8 with a BOM and CRLF line ends
  so that Excel opens Chinese headers without mojibake; any other encoding
  (``gbk``) on request. Several tables follow one another, separated by a
  blank row (optionally each under its name), then the parameter rows.
- :func:`xlsx_bytes`: a workbook with one sheet per table (bold, frozen header
  row; columns sized to their contents) and, when parameters are given, a
  参数 sheet of ``(name, value)`` rows.

Empty cells: ``None`` and float NaN are written as empty cells (text: empty
strings).
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Sheet", "csv_bytes", "display_width", "text_table", "xlsx_bytes"]

#: widest column of an XLSX sheet, in characters
XLSX_MAX_WIDTH = 60
#: rows read to size the XLSX columns
_WIDTH_ROWS = 200
_EXCEL_SHEET_NAME_MAX = 31


@dataclass(frozen=True)
class Sheet:
    """A named table.

    Attributes
    ----------
    name
        Sheet name (XLSX: cut to Excel's 31 characters; CSV: the title row
        with ``titles=True``).
    rows
        Mappings from column header to value.
    columns
        Column headers in order; default: the rows' keys, first seen first (so
        a table without rows has no header unless ``columns`` is given).
    """

    name: str
    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str] | None = None

    def header(self) -> list[str]:
        """The column headers."""
        if self.columns is not None:
            return list(self.columns)
        return _columns(self.rows)


SheetLike = Sheet | tuple[str, Sequence[Mapping[str, Any]]]


def _sheets(sheets: Iterable[SheetLike]) -> list[Sheet]:
    return [s if isinstance(s, Sheet) else Sheet(s[0], s[1]) for s in sheets]


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in rows:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def display_width(text: str) -> int:
    """Cells ``text`` takes in a terminal: East Asian wide and fullwidth
    characters (汉字, ``（``) count 2, others 1."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def text_table(rows: Sequence[Mapping[str, Any]], *, columns: Sequence[str] | None = None,
               decimals: int = 2, right: Collection[str] = (), empty: str = "(无数据)"
               ) -> str:
    """Rows as an aligned plain-text table.

    Parameters
    ----------
    rows
        Mappings from column header to value.
    columns
        Column headers in order (default: the rows' keys, first seen first).
    decimals
        Digits after the decimal point of float values.
    right
        Columns aligned to the right (numbers); the others are aligned left.
    empty
        The text when there is no row.

    Returns
    -------
    str
        A header line, a line of dashes under each header, one line per row;
        columns two spaces apart, widths counted with :func:`display_width`.
    """
    if not rows:
        return empty
    cols = list(columns) if columns is not None else _columns(rows)

    def cell(v: Any) -> str:
        if _blank(v):
            return ""
        return f"{v:.{decimals}f}" if isinstance(v, float) else str(v)

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(display_width(c), *(display_width(row[i]) for row in cells))
              for i, c in enumerate(cols)]
    flush_right = [c in right for c in cols]

    def line(values: list[str]) -> str:
        out = []
        for v, w, r in zip(values, widths, flush_right, strict=True):
            pad = " " * (w - display_width(v))
            out.append(pad + v if r else v + pad)
        return "  ".join(out)

    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, cells)])


def csv_bytes(sheets: Iterable[SheetLike], *,
              parameters: Iterable[tuple[str, Any]] | None = None, titles: bool = False,
              encoding: str = "utf-8-sig", newline: str = "\r\n") -> bytes:
    """Tables as CSV.

    Parameters
    ----------
    sheets
        :class:`Sheet` objects or ``(sheet name, rows)`` pairs, written one
        after the other with a blank row between them.
    parameters
        ``(name, value)`` rows written after the tables (and a blank row).
    titles
        Write each table's name on a row of its own above it.
    encoding
        Text encoding: ``utf-8-sig`` (default: UTF-8 with a byte-order mark,
        what Excel needs to read UTF-8), ``utf-8``, ``gbk``, ...; characters
        the encoding lacks raise :class:`UnicodeEncodeError`.
    newline
        Line end (default CRLF, as Excel writes CSV).

    Returns
    -------
    bytes
        The encoded CSV.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    blocks = 0
    for sheet in _sheets(sheets):
        if blocks:
            w.writerow([])
        blocks += 1
        if titles:
            w.writerow([sheet.name])
        cols = sheet.header()
        if cols:
            w.writerow(cols)
            for r in sheet.rows:
                w.writerow(["" if _blank(v := r.get(c)) else v for c in cols])
    if parameters is not None:
        if blocks:
            w.writerow([])
        for k, v in parameters:
            w.writerow([k, "" if _blank(v) else v])
    return buf.getvalue().encode(encoding)


def xlsx_bytes(sheets: Iterable[SheetLike], *,
               parameters: Iterable[tuple[str, Any]] | None = None,
               parameter_sheet: str = "参数") -> bytes:
    """Tables as an Excel workbook (``.xlsx``).

    Parameters
    ----------
    sheets
        :class:`Sheet` objects or ``(sheet name, rows)`` pairs: one worksheet
        each, in order, named after it (cut to 31 characters). The header
        row is bold and frozen; each column is as wide as its header and its
        first 200 values (at most :data:`XLSX_MAX_WIDTH` characters, CJK
        characters counting 2).
    parameters
        ``(name, value)`` rows of a last sheet ``parameter_sheet``; None: no
        such sheet.
    parameter_sheet
        Name of that sheet.

    Returns
    -------
    bytes
        The workbook.

    Raises
    ------
    ValueError
        No table and no parameters: a workbook needs a sheet.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for sheet in _sheets(sheets):
        ws = wb.create_sheet(sheet.name[:_EXCEL_SHEET_NAME_MAX])
        cols = sheet.header()
        if not cols:
            continue
        ws.append(cols)
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in sheet.rows:
            ws.append([None if _blank(v := r.get(c)) else v for c in cols])
        sample = sheet.rows[:_WIDTH_ROWS]
        for i, col in enumerate(cols, start=1):
            width = max([display_width(str(col)),
                         *(display_width(str(r.get(col))) for r in sample)])
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = \
                min(width + 2, XLSX_MAX_WIDTH)
        ws.freeze_panes = "A2"
    if parameters is not None:
        ws = wb.create_sheet(parameter_sheet[:_EXCEL_SHEET_NAME_MAX])
        for k, v in parameters:
            ws.append([k, None if _blank(v) else v])
        ws.column_dimensions["A"].width = 20
        ws.column_dimensions["B"].width = 80
    if not wb.worksheets:
        raise ValueError("nothing to write: no table and no parameters")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
