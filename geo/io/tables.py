"""Reading planners' files into tables: CSV, XLSX, GeoJSON, GeoPackage, Shapefile, KML.

:func:`read_table` turns a file into a :class:`RawTable`: the attribute cells as a
``pandas.DataFrame`` whose columns are the headers *as written in the file*, the
row number a planner sees for every data row, the geometries (shapely, in the
file's own coordinate reference system) and what was detected on the way
(format, text encoding, sheet or layer, header rows).  Nothing is validated or
converted here except the text encoding; :mod:`geo.io.importer` does the rest.

Formats
-------
``csv``
    Comma, semicolon, tab or ``|`` separated (sniffed).  Encoding detected from
    the bytes: a UTF-8 (or UTF-16) byte-order mark, else strict UTF-8, else GBK,
    else GB18030, else the best guess of ``charset-normalizer``.  Read with the
    standard-library :mod:`csv` module.  Row numbers are record numbers as Excel
    shows them (the first line is row 1).
``xlsx``
    Excel 2007+ (``.xlsx``/``.xlsm``) read with openpyxl (cached formula values).
    The sheet is chosen by name, else the first visible sheet.  Merged cells
    are filled with the value of their top-left cell (so a village name merged
    over several rows applies to each of them, and a merged title row is just a
    row of identical text).  Row numbers are the worksheet's row numbers.
    Legacy ``.xls`` is refused with a hint to save as ``.xlsx``.
``geojson``, ``gpkg``, ``shapefile``, ``kml``
    Read with pyogrio (GDAL).  A shapefile may be given as ``.shp`` (with its
    side-car files next to it) or as a ``.zip`` holding one; its ``.prj`` gives
    the CRS and its ``.cpg`` the text encoding.  A shapefile without ``.cpg``
    whose text is not valid in GDAL's default (ISO-8859-1) reading but decodes
    as GB18030 is re-read as GB18030, with a note.  The "row" of a feature is
    its 1-based position in the layer.

Header row (tables)
-------------------
The header is searched in the first :data:`HEADER_SCAN_ROWS` rows: every row, and
every pair of consecutive rows (a two-row header under merged group cells such
as ``坐标`` over ``经度 | 纬度``, considered only when the upper row names a
field itself), is scored by the caller's ``score_header`` (the number of
distinct known fields it names); the best wins, the earliest on ties.  A
title row above the header (``里水镇党群服务阵地一览表``) therefore needs no
special treatment; its text is kept (``RawTable.title_rows``), where the
importer looks for hints of the coordinate system (``…（高德坐标）``).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from geo.errors import Problem, TableError
from geo.vocab import normalize_label

__all__ = [
    "FORMATS",
    "HEADER_SCAN_ROWS",
    "RawTable",
    "cell_text",
    "detect_encoding",
    "bracket_remark",
    "detect_format",
    "normalize_label",
    "read_table",
]

#: Formats :func:`read_table` understands, by canonical name.
FORMATS: tuple[str, ...] = ("csv", "xlsx", "geojson", "gpkg", "shapefile", "kml")

_EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shapefile",
    ".zip": "shapefile",
    ".kml": "kml",
    ".kmz": "kml",
}

#: How many rows at the top of a sheet are searched for the header.
HEADER_SCAN_ROWS = 20

_NOTE_ROW = re.compile(r"^\s*(注|备注|说明|填表|制表|审核|合计|总计|小计)")


@dataclass
class RawTable:
    """A file read into memory, before validation.

    Attributes
    ----------
    file : str
        The file name shown in messages (not the full path).
    format : str
        One of :data:`FORMATS`.
    frame : pandas.DataFrame
        Attribute cells; columns are the (de-duplicated) headers as written in
        the file, one row per data row, default ``RangeIndex``.
    row_numbers : numpy.ndarray of int
        The planner-visible row number (tables) or 1-based feature number (GIS
        formats) of every frame row.
    geometry : numpy.ndarray of shapely geometries or None
        Feature geometries in ``file_crs`` (GIS formats only; ``None`` entries
        for features without geometry).
    file_crs : pyproj.CRS or None
        The CRS declared by the file (``.prj``, GeoPackage, GeoJSON/KML imply
        EPSG:4326); ``None`` when the file declares none.
    encoding : str or None
        Text encoding detected or declared (CSV, shapefile).
    sheet : str or None
        Sheet (XLSX) or layer (GeoPackage, shapefile inside a zip) read.
    header_rows : tuple of int
        1-based row numbers of the header row(s) (tables only).
    title_rows : tuple of str
        The text of each non-empty row above the header (tables only; the
        distinct cells of a row joined by a space, so a merged title is its
        text once), e.g. ``("里水镇党群服务阵地一览（高德坐标）",)``.
    notes : list of str
        Things noticed while reading, for the report's warnings (Chinese).
    """

    file: str
    format: str
    frame: pd.DataFrame
    row_numbers: np.ndarray
    geometry: np.ndarray | None = None
    file_crs: pyproj.CRS | None = None
    encoding: str | None = None
    sheet: str | None = None
    header_rows: tuple[int, ...] = ()
    title_rows: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def is_gis(self) -> bool:
        """Whether the file is a GIS format (features rather than sheet rows)."""
        return self.format in ("geojson", "gpkg", "shapefile", "kml")

    @property
    def row_word(self) -> str:
        """How rows are called in Chinese messages: ``行`` or ``个要素``."""
        return "个要素" if self.is_gis else "行"


def _fail(kind: str, message: str, *, file: str, value: Any = None,
          expected: str | None = None, sheet: str | None = None) -> TableError:
    return TableError(Problem(message=message, file=file, sheet=sheet, value=value,
                                    expected=expected, kind=kind))


# --------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------
def cell_text(value: Any) -> str | None:
    """A cell value as trimmed text, ``None`` when empty.

    Parameters
    ----------
    value : Any
        A cell as read (str, int, float, bool, datetime, None, NaN ...).

    Returns
    -------
    str or None
        Integral floats lose their ``.0`` (Excel stores ``440605126004`` as a
        float), dates become ISO text, times ``HH:MM``; ``None`` for empty
        cells, NaN and whitespace.
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        s = value.strip()
        return s or None
    if isinstance(value, bool | np.bool_):
        return "是" if value else "否"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        if float(value).is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    s = str(value).strip()
    return s or None


def _header_label(value: Any) -> str | None:
    s = cell_text(value)
    if s is None:
        return None
    return re.sub(r"\s+", " ", s.replace("\n", " "))


def _excel_column(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


# --------------------------------------------------------------------------
# format and encoding detection
# --------------------------------------------------------------------------
def detect_format(path: str | Path, *, name: str | None = None) -> str:
    """Format of a file, from its extension (and, for ``.zip``, its members).

    Parameters
    ----------
    path : str or pathlib.Path
        The file on disk.
    name : str, optional
        The name to judge the extension by (an upload's original name);
        default ``path``'s name.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    TableError
        For unsupported extensions (kind ``unsupported_format``); legacy
        ``.xls`` gets a hint to save as ``.xlsx``.
    """
    shown = name or Path(path).name
    suffix = Path(shown).suffix.lower()
    if suffix == ".xls":
        raise _fail("unsupported_format",
                    f"不支持旧版 Excel 文件（.xls）：{shown}；请在 Excel 中“另存为”.xlsx 后再导入",
                    file=shown, value=suffix, expected=".xlsx")
    fmt = _EXTENSIONS.get(suffix)
    if fmt is None:
        allowed = "、".join(sorted(_EXTENSIONS))
        raise _fail("unsupported_format", f"不支持的文件类型“{suffix or '（无扩展名）'}”：{shown}",
                    file=shown, value=suffix, expected=f"扩展名为 {allowed} 之一")
    return fmt


def detect_encoding(data: bytes) -> tuple[str, str]:
    """Detect the text encoding of CSV bytes and decode them.

    Parameters
    ----------
    data : bytes
        The file's content.

    Returns
    -------
    encoding : str
        ``"utf-8-sig"`` (UTF-8 with BOM), ``"utf-16"`` (with BOM), ``"utf-8"``,
        ``"gbk"``, ``"gb18030"`` or charset-normalizer's guess.
    text : str
        The decoded text (BOM removed).

    Raises
    ------
    UnicodeError
        When no encoding decodes the bytes.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", data.decode("utf-16")
    for enc in ("utf-8", "gbk", "gb18030"):
        try:
            return enc, data.decode(enc)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnicodeError("no text encoding decodes the file")
    return str(best.encoding), str(best)


# --------------------------------------------------------------------------
# header detection
# --------------------------------------------------------------------------
def _find_header(grid: list[list[Any]], score: Callable[[list[str]], int],
                 header_row: int | None) -> tuple[int, int, list[str | None]]:
    """``(first header index, number of header rows, labels)`` (0-based index)."""
    if header_row is not None:
        idx = header_row - 1
        labels = [_header_label(v) for v in grid[idx]] if idx < len(grid) else []
        return idx, 1, labels
    best: tuple[int, int, int, list[str | None]] | None = None  # (score, idx, n, labels)
    for idx in range(min(HEADER_SCAN_ROWS, len(grid))):
        row1 = [_header_label(v) for v in grid[idx]]
        candidates = [(1, row1)]
        # a two-row header only under a row that is itself a header (not a title)
        if idx + 1 < len(grid) and score([lb for lb in row1 if lb]) > 0:
            row2 = [_header_label(v) for v in grid[idx + 1]]
            combined = [b if b and b != a else a for a, b in zip(row1, row2, strict=True)]
            candidates.append((2, combined))
        for n, labels in candidates:
            s = score([lb for lb in labels if lb])
            if s > 0 and (best is None or s > best[0]):
                best = (s, idx, n, labels)
    if best is None:
        return -1, 0, []
    return best[1], best[2], best[3]


def _frame_from_grid(grid: list[list[Any]], first_row_number: int, *, file: str,
                     sheet: str | None, score: Callable[[list[str]], int],
                     header_row: int | None, notes: list[str]
                     ) -> tuple[pd.DataFrame, np.ndarray, tuple[int, ...], tuple[str, ...]]:
    width = max((len(r) for r in grid), default=0)
    grid = [list(r) + [None] * (width - len(r)) for r in grid]
    # drop trailing empty rows
    while grid and all(cell_text(v) is None for v in grid[-1]):
        grid.pop()
    if not grid:
        raise _fail("empty_file", f"文件 {file} 是空的（没有任何数据）", file=file, sheet=sheet,
                    expected="表头行和至少一行数据")
    idx, n, labels = _find_header(grid, score, header_row)
    if idx < 0 or not any(labels):
        raise _fail("header_not_found",
                    f"在 {file} 的前 {HEADER_SCAN_ROWS} 行中找不到表头行（没有一行包含"
                    "『名称』『经度』『纬度』等可识别的列名）",
                    file=file, sheet=sheet,
                    expected="一行列名，如 名称、类型、经度、纬度；或用映射文件指定列名")
    header_rows = tuple(first_row_number + idx + k for k in range(n))
    titles = []
    for r in grid[:idx]:
        cells = list(dict.fromkeys(t for t in (cell_text(v) for v in r) if t is not None))
        if cells:
            titles.append(" ".join(cells))
    # de-duplicated labels; unnamed columns that hold data get "列F"
    data = grid[idx + n:]
    numbers = np.arange(len(data), dtype=np.int64) + first_row_number + idx + n
    keep_cols: list[int] = []
    names: list[str] = []
    seen: dict[str, int] = {}
    for j, label in enumerate(labels):
        if label is None:
            if not any(cell_text(r[j]) is not None for r in data):
                continue
            label = f"列{_excel_column(j)}"
        if label in seen:
            seen[label] += 1
            label = f"{label}({seen[label]})"
        else:
            seen[label] = 1
        keep_cols.append(j)
        names.append(label)
    rows = [[r[j] for j in keep_cols] for r in data]
    frame = pd.DataFrame(rows, columns=names, dtype=object) if rows else \
        pd.DataFrame({c: pd.Series([], dtype=object) for c in names})
    if len(frame):
        empty = np.array([all(cell_text(v) is None for v in r) for r in rows], dtype=bool)
        # trailing note rows: one non-empty cell starting with 注/备注/合计 ...
        tail = len(rows)
        while tail > 0:
            vals = [cell_text(v) for v in rows[tail - 1]]
            filled = [v for v in vals if v is not None]
            if not filled:
                tail -= 1
                continue
            if len(filled) == 1 and _NOTE_ROW.match(filled[0]):
                notes.append(f"第{numbers[tail - 1]}行是说明或合计行（“{filled[0][:20]}”），已忽略")
                empty[tail - 1] = True
                tail -= 1
                continue
            break
        if empty.any():
            frame = frame.loc[~empty].reset_index(drop=True)
            numbers = numbers[~empty]
    return frame, numbers, header_rows, tuple(titles)


# --------------------------------------------------------------------------
# readers
# --------------------------------------------------------------------------
def _read_csv(path: Path, *, file: str, score: Callable[[list[str]], int],
              header_row: int | None) -> RawTable:
    data = path.read_bytes()
    if not data.strip():
        raise _fail("empty_file", f"文件 {file} 是空的（没有任何数据）", file=file,
                    expected="表头行和至少一行数据")
    try:
        encoding, text = detect_encoding(data)
    except UnicodeError:
        raise _fail("undecodable_text", f"无法识别 {file} 的文字编码", file=file,
                    expected="UTF-8、带 BOM 的 UTF-8 或 GBK/GB18030 编码的 CSV") from None
    sample = text[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    grid = [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
    notes: list[str] = []
    frame, numbers, header_rows, titles = _frame_from_grid(
        grid, 1, file=file, sheet=None, score=score, header_row=header_row, notes=notes)
    return RawTable(file=file, format="csv", frame=frame, row_numbers=numbers, encoding=encoding,
                    header_rows=header_rows, title_rows=titles, notes=notes)


def _read_xlsx(path: Path, *, file: str, sheet: str | None, score: Callable[[list[str]], int],
               header_row: int | None) -> RawTable:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise _fail("unreadable_file", f"无法读取 Excel 文件 {file}：文件已损坏或不是 .xlsx 格式",
                    file=file, value=type(exc).__name__,
                    expected="用 Excel/WPS 保存的 .xlsx 文件") from None
    names = list(wb.sheetnames)
    if sheet is not None:
        wanted = sheet.strip()
        match = [n for n in names if n == wanted] or [n for n in names if n.strip() == wanted]
        if not match:
            raise _fail("sheet_not_found", f"{file} 中没有名为“{sheet}”的工作表",
                        file=file, value=sheet, expected="工作表之一：" + "、".join(names))
        ws = wb[match[0]]
    else:
        visible = [w for w in wb.worksheets if w.sheet_state == "visible"]
        ws = (visible or wb.worksheets)[0]
    grid = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    for rng in ws.merged_cells.ranges:
        r0, c0 = rng.min_row - 1, rng.min_col - 1
        if r0 >= len(grid):
            continue
        value = grid[r0][c0] if c0 < len(grid[r0]) else None
        for r in range(r0, min(rng.max_row, len(grid))):
            row = grid[r]
            if len(row) < rng.max_col:
                row.extend([None] * (rng.max_col - len(row)))
            for c in range(c0, rng.max_col):
                row[c] = value
    notes: list[str] = []
    frame, numbers, header_rows, titles = _frame_from_grid(
        grid, 1, file=file, sheet=ws.title, score=score, header_row=header_row, notes=notes)
    wb.close()
    return RawTable(file=file, format="xlsx", frame=frame, row_numbers=numbers, sheet=ws.title,
                    header_rows=header_rows, title_rows=titles, notes=notes)


_MOJIBAKE = re.compile(r"[\u0080-\u00ff]")


def _looks_mojibake(df: pd.DataFrame) -> bool:
    texts = [str(c) for c in df.columns]
    for col in df.columns:
        if df[col].dtype == object:
            texts.extend(str(v) for v in df[col].head(200) if isinstance(v, str))
    return any(_MOJIBAKE.search(t) for t in texts)


def _read_gis(path: Path, fmt: str, *, file: str, layer: str | None) -> RawTable:
    import pyogrio

    notes: list[str] = []
    source = str(path)
    encoding: str | None = None
    shown_layer: str | None = None
    has_cpg = True
    if fmt == "shapefile" and path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                members = z.namelist()
                shps = [m for m in members if m.lower().endswith(".shp")
                        and not Path(m).name.startswith("._")]
                if not shps:
                    raise _fail("no_shapefile_in_zip", f"压缩包 {file} 中没有 .shp 文件",
                                file=file, value="、".join(members[:10]) or "（空）",
                                expected="含 .shp、.shx、.dbf（以及 .prj、.cpg）的压缩包")
                if layer is not None:
                    pick = [m for m in shps if Path(m).stem == layer or m == layer]
                    if not pick:
                        raise _fail("layer_not_found", f"压缩包 {file} 中没有图层“{layer}”",
                                    file=file, value=layer,
                                    expected="之一：" + "、".join(Path(m).stem for m in shps))
                    shp = pick[0]
                else:
                    shp = sorted(shps)[0]
                    if len(shps) > 1:
                        notes.append(f"压缩包中有 {len(shps)} 个图层，已读取 {Path(shp).stem}；"
                                     "用 --sheet 指定其他图层")
                stem = shp[:-4]
                lower = {m.lower(): m for m in members}
                cpg = lower.get((stem + ".cpg").lower())
                if cpg is not None:
                    encoding = z.read(cpg).decode("ascii", "replace").strip() or None
                has_cpg = cpg is not None
                if (stem + ".dbf").lower() not in lower:
                    raise _fail("unreadable_file",
                                f"压缩包 {file} 中的 {Path(shp).name} 缺少 .dbf 文件",
                                file=file, expected="同名的 .shp、.shx、.dbf 文件")
        except zipfile.BadZipFile:
            raise _fail("unreadable_file", f"无法打开压缩包 {file}：文件已损坏或不是 zip 格式",
                        file=file, expected="zip 压缩的 Shapefile") from None
        source = f"/vsizip/{path}/{shp}"
        shown_layer = Path(shp).stem
    elif fmt == "shapefile":
        cpg_path = path.with_suffix(".cpg")
        has_cpg = cpg_path.exists()
        if has_cpg:
            encoding = cpg_path.read_text("ascii", "replace").strip() or None
    elif fmt == "gpkg":
        try:
            layers = [str(x[0]) for x in pyogrio.list_layers(source)]
        except Exception:
            raise _fail("unreadable_file", f"无法读取 GeoPackage 文件 {file}", file=file,
                        expected="有效的 .gpkg 文件") from None
        if layer is not None:
            if layer not in layers:
                raise _fail("layer_not_found", f"{file} 中没有图层“{layer}”", file=file,
                            value=layer, expected="之一：" + "、".join(layers))
            shown_layer = layer
        elif layers:
            shown_layer = layers[0]
            if len(layers) > 1:
                notes.append(f"文件中有 {len(layers)} 个图层，已读取 {shown_layer}；"
                             "用 --sheet 指定其他图层")
    try:
        kwargs: dict[str, Any] = {"layer": shown_layer} if fmt == "gpkg" and shown_layer else {}
        gdf = pyogrio.read_dataframe(source, **kwargs)
        if fmt == "shapefile" and not has_cpg and _looks_mojibake(gdf):
            try:
                fixed = pyogrio.read_dataframe(source, encoding="GB18030")
            except Exception:
                fixed = None
            if fixed is not None and not _looks_mojibake(fixed):
                gdf = fixed
                encoding = "GB18030"
                notes.append("Shapefile 没有 .cpg 文件，文字按 GBK/GB18030 编码读取")
    except TableError:
        raise
    except Exception as exc:
        raise _fail("unreadable_file", f"无法读取 {file}：{str(exc)[:200]}", file=file,
                    value=type(exc).__name__, expected=f"有效的 {fmt} 文件") from None
    if fmt == "shapefile" and encoding is None:
        encoding = "ISO-8859-1" if not has_cpg else None
    if fmt in ("geojson", "kml") and encoding is None:
        encoding = "utf-8"
    file_crs = gdf.crs
    geoms = np.asarray(gdf.geometry.array, dtype=object) if "geometry" in gdf else None
    frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore"))
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise _fail("empty_file", f"文件 {file} 中没有任何要素", file=file, sheet=shown_layer,
                    expected="至少一个要素")
    numbers = np.arange(1, len(frame) + 1, dtype=np.int64)
    return RawTable(file=file, format=fmt, frame=frame, row_numbers=numbers, geometry=geoms,
                    file_crs=file_crs, encoding=encoding, sheet=shown_layer, notes=notes)


def read_table(path: str | Path, *, name: str | None = None, sheet: str | None = None,
               score_header: Callable[[list[str]], int] | None = None,
               header_row: int | None = None) -> RawTable:
    """Read a planner's file into a :class:`RawTable`.

    Parameters
    ----------
    path : str or pathlib.Path
        The file on disk.
    name : str, optional
        Name shown in messages and used for the format (an upload's original
        file name); default ``path``'s name.
    sheet : str, optional
        XLSX sheet name, or GeoPackage / zipped-shapefile layer name; default the
        first (visible) one.
    score_header : callable, optional
        ``score_header(labels) -> int``: how many distinct known fields a
        candidate header row names (see module docstring); default: any row
        with text scores 1, i.e. the first non-empty row is the header.
    header_row : int, optional
        Force the header to this 1-based row (tables only).

    Returns
    -------
    RawTable
        Cells and geometries as read; geometries in ``file_crs``.

    Raises
    ------
    TableError
        With one file-level :class:`Problem` when the file cannot be
        read (kinds ``unsupported_format``, ``unreadable_file``, ``empty_file``,
        ``sheet_not_found``, ``layer_not_found``, ``header_not_found``,
        ``no_shapefile_in_zip``, ``undecodable_text``).
    """
    path = Path(path)
    shown = name or path.name
    fmt = detect_format(path, name=shown)
    if not path.exists():
        raise _fail("unreadable_file", f"文件不存在：{path}", file=shown, expected="存在的文件")
    score = score_header or (lambda labels: 1 if labels else 0)
    if fmt == "csv":
        return _read_csv(path, file=shown, score=score, header_row=header_row)
    if fmt == "xlsx":
        return _read_xlsx(path, file=shown, sheet=sheet, score=score, header_row=header_row)
    return _read_gis(path, fmt, file=shown, layer=sheet)


def bracket_remark(label: str) -> str:
    """The bracketed remark of a header (``经度（百度）`` -> ``百度``), or ``""``."""
    s = unicodedata.normalize("NFKC", str(label))
    m = re.search(r"[(\[【{<《]([^)\]】}>》]*)[)\]】}>》]", s)
    return m.group(1).strip() if m else ""
