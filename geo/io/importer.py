"""Importing planners' files: validation, coordinate conversion, atomic upsert, report.

:func:`import_file` reads a file (:mod:`geo.io.tables`), maps its columns
(:mod:`geo.io.columns`), validates every row, converts coordinates to WGS-84
(:mod:`geo.crs`), and upserts the valid rows by ``code`` in **one transaction**,
recording the import in ``audit_log``.  It returns an :class:`ImportReport`
(machine-readable :meth:`ImportReport.as_dict`, Chinese
:meth:`ImportReport.to_text`) or raises :class:`ImportRejected` (an
:class:`geo.errors.InvalidInput` carrying the report) when nothing may be written.

Rules
-----
* File-level problems (unreadable file, missing column, two columns for one
  field, bad mapping file, unknown ``crs``) always reject the whole file.
* A row with an error is *rejected*.  Without ``skip_invalid`` one rejected
  row means nothing is written; with it the valid rows are written and the
  rejected ones (with a ``错误原因`` column) are written to a rejects file.
* ``dry_run`` validates and computes the would-be counts inside a savepoint
  that is rolled back: the database is left exactly as it was.
* Rows are upserted by ``code`` with ``INSERT ... ON CONFLICT (code) DO UPDATE
  ... WHERE <row differs>``: only the fields present in the file are written,
  so importing the same file twice reports ``0 updated / N unchanged``.
  Geometries that differ by less than :data:`GEOMETRY_TOLERANCE_DEG` count as
  the same (a round trip through GCJ-02/BD-09 is exact only to 1e-9 degrees).
  ``service_points.version`` is bumped when a point's location changes.
* Warnings never reject a row: swapped longitude/latitude fixed with
  ``fix_swapped`` (without it a swapped row is an error: a latitude of 113 is
  not storable), points outside their region (or outside every region),
  points within :data:`OVERLAP_DISTANCE_M` of each other or of an existing
  point, opening hours kept as text, invalid polygons repaired with
  ``make_valid``, regions assigned from the location, generated codes.

Coordinates
-----------
Input systems: ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` (see :mod:`geo.crs`;
GCJ-02/BD-09 are inverted iteratively to within 1e-9 degrees, about 0.1 mm,
and CGCS2000 is identical to WGS-84 by definition at this accuracy).  For GIS
files the declared CRS (``.prj``, GeoPackage) is used: projected coordinates
(e.g. CGCS2000 3-degree Gauss-Kruger) are first unprojected to their
geographic CRS with PROJ.  ``crs`` overrides a file declaring EPSG:4326 (a
GeoJSON drawn on Amap is GCJ-02 although it claims WGS-84) but conflicts with
a file declaring CGCS2000 or a projected CRS.  Tables without any CRS
information are read as WGS-84 with a warning.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from geo import crs as crsmod
from geo import rules
from geo.errors import ImportRejected, Problem, TableError
from geo.io.columns import (
    ENTITIES,
    ColumnMapping,
    EntitySpec,
    MappingFile,
    crs_hint,
    load_mapping,
    map_columns,
    score_header,
)
from geo.io.tables import (
    RawTable,
    cell_text,
    normalize_label,
    read_table,
)
from geo.regions import town_geometry_of
from geo.rules import LAT_RANGE, LNG_RANGE
from geo.store.audit import write_audit
from geo.store.copy import copy_columns, ewkb_hex, pg_array
from geo.store.versions import drop_circles
from geo.tokens import region_in_scope
from geo.vocab import (
    BOOL_LOOKUP,
    CRS_ZH,
    GRID_KIND_EXPECTED,
    GRID_KIND_LOOKUP,
    KIND_EXPECTED,
    KIND_LOOKUP,
    LEVEL_LOOKUP,
    SERVICE_EXPECTED,
    GridKind,
    split_services,
)

__all__ = [
    "ENTITY_NAMES",
    "GEOMETRY_TOLERANCE_DEG",
    "LAT_RANGE",
    "LNG_RANGE",
    "OVERLAP_DISTANCE_M",
    "ImportOptions",
    "ImportReport",
    "import_file",
]

#: Importable entities, in dependency order.
ENTITY_NAMES: tuple[str, ...] = tuple(ENTITIES)
# LNG_RANGE, LAT_RANGE (accepted coordinates) and every other field rule come
# from geo.rules, shared with the planner API (geo.editing).
#: Points closer than this (metres) are reported as sitting on top of each other.
OVERLAP_DISTANCE_M = 5.0
#: Geometries closer than this (degrees, about 1 cm) count as unchanged.
GEOMETRY_TOLERANCE_DEG = 1e-7
#: At most this many codes per action are listed in the audit entry.
AUDIT_MAX_CODES = 1000

_EMPTY_TOKENS = rules.EMPTY_TOKENS


# ==========================================================================
# options, report, errors
# ==========================================================================
@dataclass
class ImportOptions:
    """How to import a file.

    Attributes
    ----------
    crs : str or None
        Coordinate system of the file's coordinates (``wgs84``, ``gcj02``,
        ``bd09``, ``cgcs2000`` or an alias accepted by
        :func:`geo.crs.normalize_crs_name`); ``None``: from the file, the
        mapping file or the headers, else WGS-84.
    sheet : str or None
        XLSX sheet, or GeoPackage / zipped-shapefile layer.
    mapping : str or pathlib.Path or None
        Mapping file (TOML/JSON, see :mod:`geo.io.columns`).
    dry_run : bool
        Validate and count, write nothing.
    skip_invalid : bool
        Write the valid rows, return the rejected ones as a file.
    fix_swapped : bool
        Swap longitude and latitude where they are obviously swapped.
    make_valid : bool
        Repair invalid polygons (``shapely.make_valid``) instead of rejecting them.
    actor : str
        Who imports (recorded in ``audit_log``).
    rejects_path : str or pathlib.Path or None
        Where to write rejected rows (``skip_invalid``); ``None``: next to the
        working directory as ``<name>_rejected.<ext>`` (CLI) or only in memory.
    header_row : int or None
        1-based header row of a table, skipping detection.
    scope : tuple of str or None
        Division codes the importer may edit (a token's regions: a code and
        everything below it); rows outside it, or updating rows outside it,
        are rejected (``forbidden_region``).  ``None``: no restriction (CLI).
    """

    crs: str | None = None
    sheet: str | None = None
    mapping: str | Path | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    fix_swapped: bool = False
    make_valid: bool = False
    actor: str = "unknown"
    rejects_path: str | Path | None = None
    header_row: int | None = None
    scope: tuple[str, ...] | None = None


@dataclass
class ImportReport:
    """What an import read, found and wrote.

    Attributes
    ----------
    file, sheet, format, encoding : str or None
        The file as read (sheet or layer; text encoding detected).
    entity : str
        What was imported (``points`` ...).
    table : str
        Database table.
    crs : str or None
        Coordinate system of the input coordinates; ``crs_source`` says how it
        was determined (``--crs``, ``mapping``, ``header``, ``file``, ``default``).
    header_rows : list of int
        1-based header row(s) (tables).
    columns : list of dict
        Column mapping: ``column``, ``field``, ``label``, ``via``.
    unused_columns, ignored_columns : list of str
        Columns feeding no field (kept as properties where possible) and
        columns dropped on purpose.
    rows_read, rows_valid, rows_rejected : int
        Data rows read, without errors, with errors.
    inserted, updated, unchanged : int
        Outcome of the upsert of the valid rows (would-be counts for a dry run).
    dry_run, written : bool
        Whether this was a dry run, and whether anything was committed.
    warnings, errors : list of Problem
        Every problem found, with file, sheet, row, column, value, expected.
    rejects_file : str or None
        Path of the rejected-rows file written.
    rejects : bytes or None
        Its content (also when no path was given).
    rejects_name : str or None
        File name for the rejected rows.
    duration_s : float
        Wall time of the import, seconds.
    timings : dict of str to float
        Seconds spent reading, validating, encoding and staging, upserting.
    """

    file: str
    entity: str
    table: str
    format: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    crs: str | None = None
    crs_source: str | None = None
    header_rows: list[int] = field(default_factory=list)
    columns: list[dict[str, str]] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    written: bool = False
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    rejects_file: str | None = None
    rejects: bytes | None = None
    rejects_name: str | None = None
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self, *, include_rejects: bool = False) -> dict[str, Any]:
        """JSON-ready dictionary of the report.

        Parameters
        ----------
        include_rejects : bool, optional
            Add ``rejects_content_base64`` (the rejected-rows file) when present.

        Returns
        -------
        dict
            Every attribute; problems as dictionaries (``kind``, ``message``,
            ``file``, ``sheet``, ``row``, ``column``, ``value``, ``expected``).
        """
        out: dict[str, Any] = {
            "file": self.file, "entity": self.entity, "table": self.table,
            "format": self.format, "sheet": self.sheet, "encoding": self.encoding,
            "crs": self.crs, "crs_source": self.crs_source,
            "header_rows": list(self.header_rows), "columns": list(self.columns),
            "unused_columns": list(self.unused_columns),
            "ignored_columns": list(self.ignored_columns),
            "rows_read": self.rows_read, "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected, "inserted": self.inserted,
            "updated": self.updated, "unchanged": self.unchanged, "dry_run": self.dry_run,
            "written": self.written,
            "warnings": [p.as_dict() for p in self.warnings],
            "errors": [p.as_dict() for p in self.errors],
            "rejects_file": self.rejects_file, "rejects_name": self.rejects_name,
            "duration_s": round(self.duration_s, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if include_rejects and self.rejects is not None:
            out["rejects_content_base64"] = base64.b64encode(self.rejects).decode("ascii")
        return out

    def to_text(self, *, max_problems: int = 50) -> str:
        """Chinese plain-text rendering for the command line.

        Parameters
        ----------
        max_problems : int, optional
            Warnings and errors listed at most (each); the rest are counted.

        Returns
        -------
        str
            Multi-line report.
        """
        spec = ENTITIES.get(self.entity)
        lines = [f"导入报告：{self.file}"]
        where = [f"格式 {self.format.upper() if self.format else '未知'}"]
        if self.sheet:
            where.append(f"工作表/图层「{self.sheet}」")
        if self.encoding:
            where.append(f"编码 {self.encoding}")
        if self.header_rows:
            where.append("表头在第" + "、".join(str(r) for r in self.header_rows) + "行")
        lines.append("文件：" + "，".join(where))
        label = spec.label if spec else self.entity
        lines.append(f"数据：{label}（{self.entity}）→ 表 {self.table}")
        if self.crs:
            src = {"--crs": "命令参数", "mapping": "映射文件", "header": "列名标注",
                   "file": "文件声明", "default": "默认"}.get(self.crs_source or "", "")
            conv = "，已转换为 WGS-84" if self.crs not in ("wgs84",) else ""
            lines.append(f"坐标系：{CRS_ZH.get(self.crs, self.crs)}（{src}）{conv}")
        if self.columns:
            lines.append("列对应：" + "；".join(
                f"{c['column']} → {c['label']}({c['field']})" for c in self.columns))
        if self.unused_columns:
            lines.append("未使用的列：" + "、".join(self.unused_columns))
        lines.append(f"读取 {self.rows_read} 行：有效 {self.rows_valid} 行，"
                     f"拒绝 {self.rows_rejected} 行")
        if self.written or self.dry_run:
            verb = "将" if self.dry_run else ""
            lines.append(f"结果：{verb}新增 {self.inserted}，{verb}更新 {self.updated}，"
                         f"未变 {self.unchanged}")
        for title, items in (("警告", self.warnings), ("错误", self.errors)):
            if not items:
                continue
            lines.append(f"{title}（{len(items)}）：")
            for p in items[:max_problems]:
                lines.append(f"  - {p.message}")
            if len(items) > max_problems:
                more = len(items) - max_problems
                lines.append(f"  …… 另有 {more} 条{title}（完整列表见 --json）")
        if self.rejects_file:
            lines.append(f"被拒绝的行已写入：{self.rejects_file}")
        if self.dry_run:
            lines.append("演练模式（--dry-run）：数据库未做任何修改")
        elif self.written:
            lines.append("已写入数据库（单一事务）")
        else:
            hint = "；如需只导入有效行，请使用 --skip-invalid" if self.rows_rejected and \
                not any(p.row is None for p in self.errors) else ""
            lines.append(f"未写入任何数据{hint}")
        return "\n".join(lines)


# ==========================================================================
# vocabularies: geo.rules (KIND_LOOKUP, SERVICE_LOOKUP, GRID_KIND_LOOKUP,
# LEVEL_LOOKUP, BOOL_LOOKUP; re-exported here for existing callers)
# ==========================================================================
_KIND_EXPECTED = KIND_EXPECTED
_SERVICE_EXPECTED = SERVICE_EXPECTED


# ==========================================================================
# small parsers
# ==========================================================================
_NUM_CLEAN = re.compile(r"(平方米|平米|㎡|m2|m²|米|个|间|户|人|约|左右|余|多|以上|\s)",
                        re.IGNORECASE)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DMS = re.compile(
    r"^(?P<h1>[ENSW东西南北])?\s*(?P<d>\d+(?:\.\d+)?)\s*[°度]\s*(?:(?P<m>\d+(?:\.\d+)?)\s*['′’分])?"
    r"\s*(?:(?P<s>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|秒))?\s*(?P<h2>[ENSW东西南北])?$",
    re.IGNORECASE)


def _number_from_text(s: str) -> float | None:
    """Parse a number written by a person: ``2,000㎡``, ``约120平方米``, ``113°12'30\"E``."""
    t = unicodedata.normalize("NFKC", s).strip()
    if _THOUSANDS.match(t):
        t = t.replace(",", "")
    m = _DMS.match(t)
    if m:
        d = float(m.group("d"))
        mi = float(m.group("m") or 0)
        se = float(m.group("s") or 0)
        if mi >= 60 or se >= 60:
            return None
        v = d + mi / 60 + se / 3600
        hemi = (m.group("h1") or m.group("h2") or "").upper()
        return -v if hemi in ("S", "W", "西", "南") else v
    t = _NUM_CLEAN.sub("", t).rstrip("ENen东北")
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values float64, empty mask, unparsable mask)`` of a column."""
    n = len(values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        empty = np.isnan(out)
        return out, empty, np.zeros(n, dtype=bool)
    out = np.full(n, np.nan)
    empty = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    cache: dict[str, float | None] = {}
    for i, v in enumerate(values.tolist()):
        if isinstance(v, bool):
            bad[i] = True
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            fv = float(v)
            if math.isnan(fv):
                empty[i] = True
            else:
                out[i] = fv
            continue
        s = cell_text(v)
        if s is None or s.lower() in _EMPTY_TOKENS:
            empty[i] = True
            continue
        if s not in cache:
            cache[s] = _number_from_text(s)
        got = cache[s]
        if got is None:
            bad[i] = True
        else:
            out[i] = got
    return out, empty, bad


def _texts(values: pd.Series, *, optional: bool) -> np.ndarray:
    """Cell texts (``None`` for empty; ``-``/``无`` ... count as empty when ``optional``)."""
    if len(values) and pd.api.types.infer_dtype(values, skipna=True) == "string":
        stripped = values.astype(object).str.strip()
        empty = stripped.isna() | (stripped.str.len() == 0)
        if optional:
            empty |= stripped.str.lower().isin(_EMPTY_TOKENS)
        fast = stripped.to_numpy(dtype=object, copy=True)
        fast[empty.to_numpy(dtype=bool)] = None
        return fast
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values.tolist()):
        s = cell_text(v)
        if s is not None and optional and s.lower() in _EMPTY_TOKENS:
            s = None
        out[i] = s
    return out


def _shown(value: Any) -> Any:
    """A JSON-safe, short version of a cell value for problems."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool):
        return value if not isinstance(value, str) else value[:200]
    if isinstance(value, shapely.Geometry):
        return value.geom_type
    return str(value)[:200]


def _fmt_value(value: Any) -> str:
    s = cell_text(value)
    return "" if s is None else s[:60]


def _code_hash(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:10].upper()


# ==========================================================================
# the run: accumulates problems for one file
# ==========================================================================
class _Run:
    def __init__(self, conn: Connection, raw: RawTable, spec: EntitySpec, cmap: ColumnMapping,
                 mapping: MappingFile | None, opts: ImportOptions, report: ImportReport) -> None:
        self.conn = conn
        self.raw = raw
        self.spec = spec
        self.cmap = cmap
        self.mapping = mapping
        self.opts = opts
        self.report = report
        self.n = len(raw.frame)
        self.bad = np.zeros(self.n, dtype=bool)
        self.reasons: dict[int, list[str]] = {}
        self.row_numbers = raw.row_numbers

    # -- problems ------------------------------------------------------------
    def where(self, i: int | None, column: str | None) -> str:
        out = "" if i is None else f"第{int(self.row_numbers[i])}{self.raw.row_word}"
        if column:
            out += f"『{column}』列"
        return out

    def _problem(self, i: int | None, column: str | None, kind: str, message: str,
                 value: Any, expected: str | None) -> Problem:
        return Problem(message=message, file=self.raw.file, sheet=self.raw.sheet,
                             row=None if i is None else int(self.row_numbers[i]), column=column,
                             value=_shown(value), expected=expected, kind=kind)

    def error(self, i: int, column: str | None, kind: str, text_: str, *, value: Any = None,
              expected: str | None = None) -> None:
        msg = self.where(i, column) + text_
        if expected:
            msg += "，应为" + (" " if expected[0].isascii() else "") + expected
        self.report.errors.append(self._problem(i, column, kind, msg, value, expected))
        self.bad[i] = True
        self.reasons.setdefault(i, []).append(msg)

    def warn(self, i: int | None, column: str | None, kind: str, text_: str, *,
             value: Any = None, expected: str | None = None) -> None:
        msg = self.where(i, column) + text_
        self.report.warnings.append(self._problem(i, column, kind, msg, value, expected))

    # -- columns -------------------------------------------------------------
    def column_name(self, fld: str) -> str | None:
        col = self.cmap.fields.get(fld)
        if col is not None:
            return col
        if self.mapping and fld in self.mapping.defaults:
            return f"默认值:{fld}"
        return None

    def has(self, fld: str) -> bool:
        return self.column_name(fld) is not None

    def series(self, fld: str) -> pd.Series | None:
        col = self.cmap.fields.get(fld)
        default = self.mapping.defaults.get(fld) if self.mapping else None
        if col is None:
            if default is None:
                return None
            return pd.Series([default] * self.n, dtype=object)
        s = self.raw.frame[col]
        if default is not None:
            filled = s.map(lambda v: default if cell_text(v) is None else v)
            return filled.astype(object)
        return s

    def texts(self, fld: str, *, optional: bool = True) -> np.ndarray | None:
        s = self.series(fld)
        return None if s is None else _texts(s, optional=optional)

    # -- typed fields ----------------------------------------------------------
    def required_text(self, fld: str, *, max_len: int | None = None,
                      text_rule: bool = False) -> np.ndarray | None:
        vals = self.texts(fld, optional=False)
        if vals is None:
            return None
        col = self.column_name(fld)
        label = self.spec.field(fld).label
        for i in np.flatnonzero(pd.isna(vals)):
            self.error(int(i), col, "missing_value", f"{label}为空", expected=f"非空的{label}")
        if text_rule:
            self.text_rule(fld, vals, field=fld, max_len=max_len or rules.NAME_MAX_LEN)
            return vals
        if max_len:
            for i, v in enumerate(vals):
                if v is not None and len(v) > max_len:
                    self.error(i, col, "value_too_long",
                               f"的值 '{v[:40]}…' 太长（{len(v)} 个字符）",
                               value=v, expected=f"不超过 {max_len} 个字符")
        return vals

    def text_rule(self, fld: str, vals: np.ndarray, *, field: str, max_len: int) -> None:
        """Apply :func:`geo.rules.check_text` (length, characters, SQL/markup) to
        the non-empty texts of a column."""
        col = self.column_name(fld)
        cache: dict[str, Any] = {}
        for i, v in enumerate(vals):
            if v is None:
                continue
            if v not in cache:
                cache[v] = rules.check_text(v, field=field, max_len=max_len)[1]
            p = cache[v]
            if p is not None:
                self.error(i, col, p.kind or "invalid_text", f"的值 '{_fmt_value(v)}' {p.message}",
                           value=v, expected=p.expected)

    def text_field(self, fld: str, *, max_len: int, field: str | None = None
                   ) -> np.ndarray | None:
        """An optional text column (``-``/``无`` ... count as empty), checked
        with :func:`geo.rules.check_text`."""
        vals = self.texts(fld)
        if vals is not None:
            self.text_rule(fld, vals, field=field or fld, max_len=max_len)
        return vals

    def rule_field(self, fld: str, rule: Callable[..., tuple[Any, Any]]) -> np.ndarray:
        """A column through a per-value rule of :mod:`geo.rules` (``(value,
        problem)``); returns the normalised values."""
        vals = self.texts(fld)
        assert vals is not None
        col = self.column_name(fld)
        out = np.full(self.n, None, dtype=object)
        cache: dict[str, Any] = {}
        for i, v in enumerate(vals):
            if v is None:
                continue
            if v not in cache:
                cache[v] = rule(v, field=fld)
            got, p = cache[v]
            if p is not None:
                self.error(i, col, p.kind, f"的值 '{_fmt_value(v)}' {p.message}", value=v,
                           expected=p.expected)
                continue
            out[i] = got
        return out

    def number_field(self, fld: str) -> np.ndarray | None:
        """A numeric column within its range of :data:`geo.rules.RANGES`."""
        r = rules.RANGES[fld]
        return self.number(fld, integer=r.integer, minimum=r.lo, maximum=r.hi)

    def vocab(self, fld: str, lookup: Callable[[str], Any], kind: str, what: str,
              expected: str) -> np.ndarray | None:
        vals = self.texts(fld, optional=False)
        if vals is None:
            return None
        col = self.column_name(fld)
        out = np.empty(self.n, dtype=object)
        cache: dict[str, Any] = {}
        for i, v in enumerate(vals):
            if v is None:
                out[i] = None
                continue
            if v not in cache:
                cache[v] = lookup(v)
            hit = cache[v]
            if hit is None and v.lower() in _EMPTY_TOKENS:
                out[i] = None
                continue
            if hit is None:
                self.error(i, col, kind, f"的值 '{_fmt_value(v)}' 不是已知的{what}", value=v,
                           expected=expected)
            out[i] = hit
        return out

    def number(self, fld: str, *, integer: bool, minimum: float | None = 0,
               maximum: float | None = None, what: str = "数字") -> np.ndarray | None:
        s = self.series(fld)
        if s is None:
            return None
        col = self.column_name(fld)
        vals, empty, bad = _numbers(s)
        raw_vals = s.tolist()
        rng = ""
        if minimum is not None and maximum is not None:
            rng = f" {minimum:g}–{maximum:g} 之间的"
        elif minimum is not None:
            rng = f"不小于 {minimum:g} 的"
        expected = f"{rng}{'整数' if integer else '数字'}"
        for i in np.flatnonzero(bad):
            self.error(int(i), col, "not_a_number", f"的值 '{_fmt_value(raw_vals[i])}' 不是数字",
                       value=raw_vals[i], expected=expected)
        ok = ~empty & ~bad
        if integer:
            frac = ok & (np.floor(vals) != vals)
            for i in np.flatnonzero(frac):
                self.error(int(i), col, "not_an_integer",
                           f"的值 '{_fmt_value(raw_vals[i])}' 不是整数",
                           value=raw_vals[i], expected=expected)
            ok &= ~frac
        if minimum is not None:
            low = ok & (vals < minimum)
            kind = "negative_number" if minimum == 0 else "out_of_range"
            for i in np.flatnonzero(low):
                self.error(int(i), col, kind, f"的值 '{_fmt_value(raw_vals[i])}' 太小",
                           value=raw_vals[i],
                           expected=expected)
            ok &= ~low
        if maximum is not None:
            high = ok & (vals > maximum)
            for i in np.flatnonzero(high):
                self.error(int(i), col, "out_of_range", f"的值 '{_fmt_value(raw_vals[i])}' 太大",
                           value=raw_vals[i], expected=expected)
        out = np.empty(self.n, dtype=object)
        for i in range(self.n):
            v = vals[i]
            if empty[i] or bad[i] or math.isnan(v):
                out[i] = None
            else:
                out[i] = int(v) if integer else float(v)
        return out


# ==========================================================================
# reference data from the database
# ==========================================================================
_NAME_SUFFIXES = ("居民委员会", "村民委员会", "居委会", "村委会", "委员会")


def _name_keys(name: str) -> set[str]:
    key = normalize_label(name)
    keys = {key}
    for suf in _NAME_SUFFIXES:
        if key.endswith(suf) and len(key) > len(suf):
            stem = key[: -len(suf)]
            keys.add(stem)
            for tail in ("社区", "村"):
                if stem.endswith(tail) and len(stem) - len(tail) >= 2:
                    keys.add(stem[: -len(tail)])
            break
    return keys


@dataclass
class _Regions:
    codes: dict[str, tuple[str, str]]  # code -> (name, level)
    by_name: dict[str, set[str]]

    def resolve(self, value: str) -> tuple[str | None, list[str]]:
        v = unicodedata.normalize("NFKC", value).strip()
        if v in self.codes:
            return v, []
        if v.isdigit():
            return None, []
        found = self.by_name.get(normalize_label(v), set())
        if len(found) == 1:
            return next(iter(found)), []
        return None, sorted(found)


def _load_regions(conn: Connection) -> _Regions:
    rows = conn.execute(text("SELECT code, name, level FROM regions")).all()
    codes = {str(r.code): (str(r.name), str(r.level)) for r in rows}
    by_name: dict[str, set[str]] = {}
    for code, (name, _level) in codes.items():
        for k in _name_keys(name):
            by_name.setdefault(k, set()).add(code)
    return _Regions(codes, by_name)


def _load_compounds(conn: Connection) -> tuple[set[str], dict[str, set[str]]]:
    rows = conn.execute(text("SELECT code, name FROM compounds WHERE deleted_at IS NULL")).all()
    codes = {str(r.code) for r in rows}
    by_name: dict[str, set[str]] = {}
    for r in rows:
        by_name.setdefault(normalize_label(r.name), set()).add(str(r.code))
    return codes, by_name


# ==========================================================================
# coordinate systems
# ==========================================================================
def _classify_file_crs(c: pyproj.CRS) -> tuple[str | None, bool]:
    """``(name of the geographic system, approximate)`` for a declared CRS."""
    geo = c.geodetic_crs if c.is_projected or c.is_compound else c
    if geo is None:
        return None, True
    epsg = geo.to_epsg(min_confidence=70)
    if epsg == 4326:
        return "wgs84", False
    if epsg == 4490:
        return "cgcs2000", False
    datum = (geo.datum.name if geo.datum else "").lower().replace("_", " ")
    if "china 2000" in datum or "cgcs" in datum:
        return "cgcs2000", False
    if "world geodetic system 1984" in datum or "wgs 1984" in datum or "wgs84" in datum:
        return "wgs84", False
    return None, True


def _to_lnglat(geoms: np.ndarray, c: pyproj.CRS) -> np.ndarray:
    """Geometries from ``c`` to geographic lng/lat of its own datum (or WGS-84)."""
    name, approx = _classify_file_crs(c)
    target = c.geodetic_crs if (name and (c.is_projected or c.is_compound)) else None
    if name is None or approx:
        target = pyproj.CRS.from_epsg(4326)
    if target is None:
        return geoms
    tr = pyproj.Transformer.from_crs(c, target, always_xy=True)

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


def _resolve_crs(run: _Run, requested: str | None) -> str:
    """Decide the input coordinate system; records how in the report."""
    rep = run.report
    raw = run.raw
    hints = {}
    for fld in ("lng", "lat", "lnglat"):
        col = run.cmap.fields.get(fld)
        if col:
            h = crs_hint(col)
            if h:
                hints[col] = h
    mapping_crs = run.mapping.crs if run.mapping else None
    if raw.file_crs is not None and raw.geometry is not None:
        name, approx = _classify_file_crs(raw.file_crs)
        declared = raw.file_crs.to_string()
        if approx:
            run.warn(None, None, "datum_approximate",
                     f"{raw.file} 的坐标系 {raw.file_crs.name} 不是 WGS-84/CGCS2000，"
                     "已用 PROJ 近似转换为 WGS-84（误差可能达数十米）", value=declared)
            name = "wgs84"
        is_plain_4326 = raw.file_crs.to_epsg(min_confidence=70) == 4326
        same_datum = {requested, name} <= {"wgs84", "cgcs2000"}
        if requested and requested != name and not same_datum:
            if is_plain_4326 or (raw.format in ("geojson", "kml")):
                rep.crs, rep.crs_source = requested, "--crs"
                return requested
            run.report.errors.append(Problem(
                message=f"{raw.file} 声明的坐标系是 {raw.file_crs.name}"
                        f"（{CRS_ZH.get(name or '', name)}），"
                        f"与 --crs {requested} 矛盾",
                file=raw.file, sheet=raw.sheet, value=requested,
                expected=f"不指定 --crs，或指定 --crs {name}", kind="crs_conflict"))
            rep.crs, rep.crs_source = name, "file"
            return name or "wgs84"
        rep.crs, rep.crs_source = name, "file"
        return name or "wgs84"
    if requested:
        for col, h in hints.items():
            if h != requested:
                run.warn(None, col, "crs_hint_conflict",
                         f"的列名表明坐标系是 {CRS_ZH[h]}，但指定了 --crs {requested}；"
                         "已按 --crs 处理",
                         value=col)
        rep.crs, rep.crs_source = requested, "--crs"
        return requested
    if mapping_crs:
        rep.crs, rep.crs_source = mapping_crs, "mapping"
        return mapping_crs
    if hints:
        distinct = set(hints.values())
        if len(distinct) == 1:
            name = distinct.pop()
            rep.crs, rep.crs_source = name, "header"
            col = next(iter(hints))
            run.warn(None, col, "crs_from_header",
                     f"的列名表明坐标系是 {CRS_ZH[name]}，已按此转换",
                     value=col)
            return name
    rep.crs, rep.crs_source = "wgs84", "default"
    if run.spec.geometry == "point" or raw.geometry is not None or run.has("wkt"):
        run.warn(None, None, "crs_assumed",
                 f"{raw.file} 未说明坐标系，已按 WGS-84 处理；"
                 "坐标取自高德/腾讯地图请加 --crs gcj02，"
                 "取自百度地图请加 --crs bd09", expected="--crs wgs84|gcj02|bd09|cgcs2000")
    return "wgs84"


# ==========================================================================
# geometry checks
# ==========================================================================
_REASON_ZH = (
    ("Ring Self-intersection", "环自相交"),
    ("Self-intersection", "边自相交"),
    ("Too few points", "点数太少"),
    ("Hole lies outside shell", "内环（洞）在外环之外"),
    ("Nested holes", "内环相互嵌套"),
    ("Interior is disconnected", "内部不连通"),
    ("Nested shells", "外环相互嵌套"),
    ("Invalid Coordinate", "坐标无效"),
    ("Duplicate Rings", "环重复"),
    ("Ring is not closed", "环不闭合"),
)


def _reason_zh(reason: str) -> tuple[str, str | None]:
    m = re.match(r"^(.*?)\[([-\d.eE+]+)\s+([-\d.eE+]+)\]$", reason.strip())
    what, loc = (m.group(1), f"{float(m.group(2)):.7g}, {float(m.group(3)):.7g}") if m else \
        (reason, None)
    for en, zh in _REASON_ZH:
        if what.startswith(en):
            return f"{zh}（{what}）", loc
    return what, loc


def _polygonal(g: Any) -> Any:
    """Only the polygonal parts of a geometry, as a MultiPolygon (or None)."""
    parts = shapely.get_parts(g)
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return None
    flat: list[Any] = []
    for p in polys:
        flat.extend(shapely.get_parts(p) if p.geom_type == "MultiPolygon" else [p])
    return shapely.MultiPolygon(flat)


def _check_polygons(run: _Run, geoms: np.ndarray, column: str | None, *, required: bool,
                    skip: np.ndarray) -> np.ndarray:
    """Type, emptiness and validity of polygons in file coordinates; returns a repaired copy.

    ``skip`` marks rows already reported (unparsable WKT); without ``required``
    a missing geometry is fine.
    """
    out = geoms.copy()
    type_ids = shapely.get_type_id(out)
    missing = (type_ids < 0) | shapely.is_empty(out)
    if required:
        for i in np.flatnonzero(missing & ~skip):
            run.error(int(i), column, "missing_geometry", "没有几何图形",
                      expected="面（Polygon/MultiPolygon）")
    wrong = ~missing & ~np.isin(type_ids, (3, 6))
    for i in np.flatnonzero(wrong):
        run.error(int(i), column, "wrong_geometry_type",
                  f"的几何类型是 {out[i].geom_type}，不是面", value=out[i].geom_type,
                  expected="面（Polygon/MultiPolygon）")
    ok = ~missing & ~wrong
    if ok.any() and shapely.has_z(out[ok]).any():
        out[ok] = shapely.force_2d(out[ok])
    valid = np.ones(len(out), dtype=bool)
    if ok.any():
        valid[ok] = shapely.is_valid(out[ok])
    bad_idx = np.flatnonzero(~valid)
    if bad_idx.size:
        reasons = shapely.is_valid_reason(out[bad_idx])
        for i, reason in zip(bad_idx, reasons, strict=True):
            what, loc = _reason_zh(str(reason))
            where = f"，位置约在 {loc}（文件坐标）" if loc else ""
            if run.opts.make_valid:
                fixed = _polygonal(shapely.make_valid(out[i]))
                if fixed is None or fixed.is_empty:
                    run.error(int(i), column, "invalid_geometry",
                              f"的几何图形无效：{what}{where}，修复后为空", value=str(reason),
                              expected="有效的面")
                    continue
                out[i] = fixed
                run.warn(int(i), column, "geometry_repaired",
                         f"的几何图形无效：{what}{where}；已按 --make-valid 修复",
                         value=str(reason))
            else:
                run.error(int(i), column, "invalid_geometry", f"的几何图形无效：{what}{where}",
                          value=str(reason), expected="有效的面（或加 --make-valid 自动修复）")
    return out


def _check_polygon_range(run: _Run, geoms: np.ndarray, column: str | None) -> None:
    idx = np.flatnonzero(~run.bad & (shapely.get_type_id(geoms) >= 0))
    if not idx.size:
        return
    b = shapely.bounds(geoms[idx])
    out = (b[:, 0] < LNG_RANGE[0]) | (b[:, 2] > LNG_RANGE[1]) | (b[:, 1] < LAT_RANGE[0]) | \
        (b[:, 3] > LAT_RANGE[1])
    for k in np.flatnonzero(out):
        i = int(idx[k])
        run.error(i, column, "coordinates_out_of_range",
                  f"的坐标范围 ({b[k, 0]:.6g}, {b[k, 1]:.6g})–({b[k, 2]:.6g}, {b[k, 3]:.6g}) "
                  "超出中国经纬度范围", value=f"{b[k, 0]:.6g},{b[k, 1]:.6g}",
                  expected=f"经度 {LNG_RANGE[0]}–{LNG_RANGE[1]}、"
                           f"纬度 {LAT_RANGE[0]}–{LAT_RANGE[1]} "
                           "之间（投影坐标的文件需带 .prj）")


def _file_not_lnglat(run: _Run, geoms: np.ndarray) -> bool:
    """File-level error when a file without CRS holds obviously projected coordinates."""
    present = geoms[shapely.get_type_id(geoms) >= 0]
    if not len(present):
        return False
    b = shapely.bounds(present)
    big = (np.abs(b[:, [0, 2]]) > 180).any(axis=1) | (np.abs(b[:, [1, 3]]) > 90).any(axis=1)
    if big.mean() < 0.5:
        return False
    k = int(np.flatnonzero(big)[0])
    run.report.errors.append(Problem(
        message=f"{run.raw.file} 的坐标（如 {b[k, 0]:.1f}, {b[k, 1]:.1f}）不是经纬度，"
                "像是投影坐标，"
                "但文件没有说明坐标系（缺少 .prj）",
        file=run.raw.file, sheet=run.raw.sheet, value=f"{b[k, 0]:.1f},{b[k, 1]:.1f}",
        expected="经纬度坐标，或随 Shapefile 提供 .prj 文件", kind="not_lnglat"))
    return True


# ==========================================================================
# entity assembly
# ==========================================================================
@dataclass
class _Rows:
    """Validated rows ready to write: DB column -> per-row values."""

    values: dict[str, np.ndarray]
    #: columns updated only when the new value is not NULL
    coalesce: set[str] = field(default_factory=set)
    #: party branch -> covered compounds (branches only; None: not provided)
    compound_sets: np.ndarray | None = None


def _codes(run: _Run, names: np.ndarray | None, region_raw: np.ndarray | None,
           geoms: np.ndarray | None, max_len: int) -> np.ndarray:
    """The code column, or generated codes (with a warning) when the file has none."""
    if run.has("code"):
        codes = run.required_text("code", max_len=max_len)
        assert codes is not None
        if run.spec.name != "regions":
            col = run.column_name("code")
            for i, v in enumerate(codes):
                if v is None or len(v) > max_len:
                    continue  # reported above
                got, p = rules.check_code(v)
                if p is not None:
                    run.error(i, col, p.kind, f"的值 '{_fmt_value(v)}' {p.message}", value=v,
                              expected=p.expected)
                else:
                    codes[i] = got
        if run.spec.name == "regions":
            col = run.column_name("code")
            for i, v in enumerate(codes):
                if v is not None and not (v.isdigit() and len(v) in (6, 9, 12)):
                    run.error(i, col, "invalid_region_code", f"的值 '{v}' 不是行政区划代码",
                              value=v,
                              expected="6、9 或 12 位数字（县、镇街、村居）")
        return codes
    out = np.empty(run.n, dtype=object)
    prefix = run.spec.code_prefix
    if names is not None:
        for i in range(run.n):
            if names[i] is None:
                out[i] = None
                continue
            region = "" if region_raw is None or region_raw[i] is None else str(region_raw[i])
            out[i] = f"{prefix}-{_code_hash(run.spec.name, region, str(names[i]))}"
        how = "名称（及所属村居）"
    else:
        assert geoms is not None
        present = shapely.get_type_id(geoms) >= 0
        wkb = np.full(run.n, None, dtype=object)
        if present.any():
            snapped = shapely.set_precision(shapely.normalize(geoms[present]), 1e-7)
            wkb[present] = shapely.to_wkb(snapped)
        for i in range(run.n):
            out[i] = None if wkb[i] is None else \
                f"{prefix}-{hashlib.sha1(wkb[i]).hexdigest()[:12].upper()}"
        how = "几何图形"
    run.warn(None, None, "codes_generated",
             f"{run.raw.file} 没有编码列，已按{how}生成编码（同一内容再次导入得到相同编码）；"
             "建议增加『编码』列")
    return out


def _duplicates(run: _Run, codes: np.ndarray, column: str | None) -> None:
    first: dict[str, int] = {}
    for i, c in enumerate(codes):
        if c is None:
            continue
        if c in first:
            j = first[c]
            if column:
                run.error(i, column, "duplicate_code",
                          f"的编码 '{c}' 与第{int(run.row_numbers[j])}{run.raw.row_word}重复",
                          value=c,
                          expected="文件内唯一的编码")
            else:
                run.error(i, None, "duplicate_code",
                          f"与第{int(run.row_numbers[j])}{run.raw.row_word}的名称（和所属村居）相同，"
                          "生成的编码重复", value=c, expected="不重复的名称，或增加『编码』列")
        else:
            first[c] = i


def _regions_of(run: _Run, regions: _Regions, fld: str = "region",
                reps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(resolved codes, raw texts)`` of a region column (None where empty).

    A name shared by several regions (胜利社区居委会 exists in two towns) is
    resolved by location when ``reps`` (one point per row, WGS-84) lies in
    exactly one of them, else by the town most other rows belong to; otherwise
    it is an ``ambiguous_region`` error.
    """
    vals = run.texts(fld)
    out = np.full(run.n, None, dtype=object)
    if vals is None:
        return out, np.full(run.n, None, dtype=object)
    col = run.column_name(fld)
    cache: dict[str, tuple[str | None, list[str]]] = {}
    ambiguous: dict[int, list[str]] = {}
    for i, v in enumerate(vals):
        if v is None:
            continue
        if v not in cache:
            cache[v] = regions.resolve(v)
        code, candidates = cache[v]
        if code is not None:
            out[i] = code
        elif candidates:
            ambiguous[i] = candidates
        else:
            run.error(i, col, "unknown_region", f"的值 '{v}' 不是已有的村居（区划代码或名称）",
                      value=v,
                      expected="regions 表中已有的区划代码或名称（可先导入 regions）")
    if not ambiguous:
        return out, vals
    shapes: dict[str, Any] = {}
    if reps is not None:
        wanted = sorted({c for cands in ambiguous.values() for c in cands})
        for r in run.conn.execute(text(
                "SELECT code, ST_AsBinary(geom) AS g FROM regions WHERE code = ANY(:c) "
                "AND geom IS NOT NULL"), {"c": wanted}):
            shapes[str(r.code)] = shapely.from_wkb(bytes(r.g))
    towns = pd.Series([c[:9] for c in out if c is not None and len(c) == 12])
    top = towns.value_counts().index[0] if len(towns) else None
    for i, cands in ambiguous.items():
        pick: list[str] = []
        p = reps[i] if reps is not None else None
        if p is not None:
            pick = [c for c in cands if c in shapes and shapes[c].covers(p)]
        if len(pick) != 1 and top is not None:
            pick = [c for c in cands if c.startswith(top)]
        if len(pick) == 1:
            out[i] = pick[0]
            continue
        listed = "、".join(f"{c}（{regions.codes[c][0]}）" for c in cands[:6])
        run.error(i, col, "ambiguous_region", f"的值 '{vals[i]}' 对应多个村居：{listed}",
                  value=vals[i], expected="唯一的村居名称或 12 位区划代码")
    return out, vals


def _region_geoms(conn: Connection, codes: set[str], bbox: tuple[float, float, float, float]
                  ) -> dict[str, tuple[str, str, Any]]:
    rows = conn.execute(text(
        "SELECT code, name, level, ST_AsBinary(geom) AS g FROM regions WHERE geom IS NOT NULL "
        "AND (code = ANY(:codes) OR geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"),
        {"codes": sorted(codes), "x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3]}).all()
    return {str(r.code): (str(r.name), str(r.level), shapely.from_wkb(bytes(r.g))) for r in rows}


_LEVEL_DEPTH = {"county": 0, "town": 1, "village": 2}


def _project(geom: Any, transformer: pyproj.Transformer) -> Any:
    """A geometry (or array) through a pyproj transformer (``always_xy``)."""

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def _locate(run: _Run, pts: np.ndarray, region_codes: np.ndarray, *, check: bool,
            label: str) -> np.ndarray:
    """Assign missing regions from location; warn about points outside their region."""
    ok = np.flatnonzero(~run.bad & (shapely.get_type_id(pts) >= 0))
    out = region_codes.copy()
    if not ok.size:
        return out
    b = shapely.total_bounds(pts[ok])
    bbox = (float(b[0]) - 0.01, float(b[1]) - 0.01, float(b[2]) + 0.01, float(b[3]) + 0.01)
    wanted = {c for c in region_codes[ok] if c is not None}
    geoms = _region_geoms(run.conn, wanted, bbox)
    any_regions = run.conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM regions WHERE geom IS NOT NULL)")).scalar_one()
    if not any_regions:
        return out
    codes = list(geoms)
    tree = shapely.STRtree([geoms[c][2] for c in codes]) if codes else None
    assigned = 0
    metric: pyproj.Transformer | None = None
    for i in ok:
        p = pts[i]
        rc = region_codes[i]
        if rc is not None:
            if not check or rc not in geoms:
                continue
            name, _level, g = geoms[rc]
            if not g.covers(p):
                if metric is None:
                    metric = pyproj.Transformer.from_crs(
                        4326, crsmod.metric_crs_for(p.x, p.y), always_xy=True)
                gm = _project(g, metric)
                pm = shapely.Point(*metric.transform(p.x, p.y))
                d = gm.distance(pm)
                run.warn(int(i), None, "outside_region",
                         f"的{label}不在所属村居『{name}』（{rc}）范围内，距其边界约 {d:,.0f} 米",
                         value=f"{p.x:.6f},{p.y:.6f}", expected=f"位于 {name} 范围内的坐标")
            continue
        hits = tree.query(p, predicate="within") if tree is not None else []
        if len(hits) == 0:
            if check:
                run.warn(int(i), None, "outside_all_regions",
                         f"的{label}不在任何已知村居、镇街的范围内（坐标 {p.x:.6f}, {p.y:.6f}），"
                         "请检查坐标和坐标系", value=f"{p.x:.6f},{p.y:.6f}")
            continue
        best = max((codes[h] for h in hits), key=lambda c: _LEVEL_DEPTH.get(geoms[c][1], -1))
        out[i] = best
        assigned += 1
    if assigned:
        run.warn(None, None, "region_assigned",
                 f"{assigned} {run.raw.row_word}没有填写所属村居，已按位置归入所在村居")
    return out


def _check_towns(run: _Run, reps: np.ndarray, region_codes: np.ndarray) -> None:
    """Warn about rows whose point (a polygon's point on surface) lies more than
    :data:`geo.rules.TOWN_TOLERANCE_M` outside the town of their declared region.

    The planner API's rule (:func:`geo.editing.create`), with the severity each
    channel promises: a file import warns and imports (a town's list may hold a
    station just over the border; the planner sees it in the report), while an
    API write refuses."""
    idx = [i for i in range(run.n) if not run.bad[i] and region_codes[i] is not None
           and reps[i] is not None]
    if not idx:
        return
    towns = {c: town_geometry_of(run.conn, c) for c in sorted({region_codes[i] for i in idx})}
    idx = [i for i in idx if towns[region_codes[i]] is not None]
    if not idx:
        return
    town_codes = [towns[region_codes[i]][0] for i in idx]  # type: ignore[index]
    pts = [shapely.to_wkb(reps[i], hex=True) for i in idx]
    inside = dict(run.conn.execute(text(
        "SELECT u.k, ST_DWithin(r.geom::geography, "
        "ST_SetSRID(ST_GeomFromWKB(decode(u.p, 'hex')), 4326)::geography, :tol) "
        "FROM unnest(CAST(:towns AS text[]), CAST(:pts AS text[])) WITH ORDINALITY "
        "AS u(town, p, k) JOIN regions r ON r.code = u.town"),
        {"towns": town_codes, "pts": pts, "tol": rules.TOWN_TOLERANCE_M}).all())
    for k, i in enumerate(idx, start=1):
        if inside.get(k, True):
            continue
        code, name = towns[region_codes[i]]  # type: ignore[misc]
        p = reps[i]
        run.warn(i, None, "outside_town",
                  f"的位置（{p.x:.6f}, {p.y:.6f}）不在所属区划 {region_codes[i]} 所在的"
                  f"{name}范围内（容差 {rules.TOWN_TOLERANCE_M:g} 米）",
                  value=f"{p.x:.6f},{p.y:.6f}",
                  expected=f"位于 {name}（{code}）范围内的坐标，或更正所属村居/坐标系")


def _points(run: _Run, regions: _Regions, in_crs: str) -> tuple[_Rows, np.ndarray]:
    spec = run.spec
    names = run.required_text("name", text_rule=True)
    geoms = _point_geometry(run, in_crs)
    region_codes, region_raw = _regions_of(run, regions, reps=geoms)
    codes = _codes(run, names, region_raw, None, 64)
    _duplicates(run, codes, run.column_name("code"))
    kinds = run.vocab("kind", lambda v: KIND_LOOKUP.get(normalize_label(v)), "unknown_kind",
                      "阵地类型", _KIND_EXPECTED)
    kcol = run.column_name("kind")
    if kinds is not None:
        for i in np.flatnonzero(pd.isna(run.texts("kind"))):
            run.error(int(i), kcol, "missing_value", "阵地类型为空", expected=_KIND_EXPECTED)
    values: dict[str, np.ndarray] = {"code": codes, "name": names, "kind": kinds}  # type: ignore
    _check_towns(run, geoms, region_codes)
    values["region_code"] = _locate(run, geoms, region_codes, check=True, label="位置")
    _overlaps(run, geoms, codes)
    values["geom"] = geoms
    values["source_crs"] = np.full(run.n, in_crs, dtype=object)
    if run.has("address"):
        values["address"] = run.text_field("address", max_len=rules.ADDRESS_MAX_LEN)
    if run.has("hours"):
        values["hours"], values["hours_text"] = _hours(run)
    if run.has("services"):
        values["services"] = _services(run)
    if run.has("phone"):
        values["phone"] = _phones(run)
    if run.has("rooms"):
        values["rooms"] = run.number_field("rooms")
    if run.has("floor_area_m2"):
        values["floor_area_m2"] = run.number_field("floor_area_m2")
    if run.has("stars"):
        values["stars"] = _stars(run)
    if spec.keeps_properties and run.cmap.unused:
        values["properties"] = _properties(run)
    return _Rows(values, coalesce={"region_code"}), geoms


def _point_geometry(run: _Run, in_crs: str) -> np.ndarray:
    """WGS-84 points from lng/lat (or lnglat) columns, or from the file's point geometry."""
    n = run.n
    lng = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if run.raw.geometry is not None and not (run.has("lng") or run.has("lnglat")):
        g = run.raw.geometry
        tid = shapely.get_type_id(g)
        empty = (tid < 0) | shapely.is_empty(g)
        for i in np.flatnonzero(empty):
            run.error(int(i), None, "missing_geometry", "没有几何图形（点坐标）",
                      expected="点（Point）")
        single_multi = ~empty & (tid == 4) & (shapely.get_num_geometries(g) == 1)
        for i in np.flatnonzero(~empty & (tid != 0) & ~single_multi):
            run.error(int(i), None, "wrong_geometry_type", f"的几何类型是 {g[i].geom_type}，不是点",
                      value=g[i].geom_type, expected="点（Point）")
        ok = ~empty & ((tid == 0) | single_multi)
        pts = g.copy()
        if single_multi.any():
            pts[single_multi] = shapely.get_geometry(g[single_multi], 0)
        c = run.raw.file_crs
        if c is None and _file_not_lnglat(run, pts[ok]):
            return np.full(n, None, dtype=object)
        if c is not None and ok.any() and (c.is_projected or _classify_file_crs(c)[1]):
            pts[ok] = _to_lnglat(pts[ok], c)
        lng[ok] = shapely.get_x(pts[ok])
        lat[ok] = shapely.get_y(pts[ok])
        cols: tuple[str | None, str | None] = (None, None)
    elif run.has("lnglat") and not run.has("lng"):
        col = run.column_name("lnglat")
        vals = run.texts("lnglat")
        assert vals is not None
        for i, v in enumerate(vals):
            if v is None:
                run.error(i, col, "missing_value", "经纬度为空",
                          expected="“经度,纬度”，如 113.1234,23.1234")
                continue
            parts = [p for p in re.split(r"[,，;；\s]+", unicodedata.normalize("NFKC", v)) if p]
            nums = [_number_from_text(p) for p in parts]
            if len(parts) != 2 or any(x is None for x in nums):
                run.error(i, col, "invalid_lnglat", f"的值 '{_fmt_value(v)}' 不是“经度,纬度”",
                          value=v,
                          expected="“经度,纬度”，如 113.1234,23.1234")
                continue
            lng[i], lat[i] = nums[0], nums[1]  # type: ignore[assignment]
        cols = (col, col)
    else:
        out = []
        for fld, label, rng in (("lng", "经度", LNG_RANGE), ("lat", "纬度", LAT_RANGE)):
            s = run.series(fld)
            assert s is not None
            col = run.column_name(fld)
            vals, empty, bad = _numbers(s)
            raw_vals = s.tolist()
            for i in np.flatnonzero(empty):
                run.error(int(i), col, "missing_value", f"{label}为空",
                          expected=f"{rng[0]}–{rng[1]} 之间的{label}")
            for i in np.flatnonzero(bad):
                run.error(int(i), col, "not_a_number", f"的值 '{_fmt_value(raw_vals[i])}' 不是数字",
                          value=raw_vals[i], expected=f"{rng[0]}–{rng[1]} 之间的{label}")
            out.append(vals)
        lng, lat = out
        cols = (run.column_name("lng"), run.column_name("lat"))
    # swapped and out of range (in the input system, before conversion)
    finite = np.isfinite(lng) & np.isfinite(lat)
    swapped = finite & rules.swapped(lng, lat)
    for i in np.flatnonzero(swapped):
        shown = f"经度 {lng[i]:g}、纬度 {lat[i]:g}"
        if run.opts.fix_swapped:
            run.warn(int(i), None, "swapped_fixed",
                     f"的经纬度填反了（{shown}），已按 --fix-swapped 交换",
                     value=f"{lng[i]:g},{lat[i]:g}")
        else:
            run.error(int(i), None, "swapped_lnglat",
                      f"的经纬度似乎填反了（{shown}）", value=f"{lng[i]:g},{lat[i]:g}",
                      expected="经度在前、纬度在后；或加 --fix-swapped 自动交换")
    if run.opts.fix_swapped and swapped.any():
        lng[swapped], lat[swapped] = lat[swapped].copy(), lng[swapped].copy()
    check = finite & (~swapped | run.opts.fix_swapped)
    for vals, (lo, hi), col, label, kind in (
            (lng, LNG_RANGE, cols[0], "经度", "lng_out_of_range"),
            (lat, LAT_RANGE, cols[1], "纬度", "lat_out_of_range")):
        for i in np.flatnonzero(check & ((vals < lo) | (vals > hi))):
            run.error(int(i), col, kind, f"的{label} {vals[i]:g} 超出中国范围",
                      value=float(vals[i]),
                      expected=f"{lo}–{hi} 之间的{label}")
    good = finite & ~run.bad
    w_lng = np.full(n, np.nan)
    w_lat = np.full(n, np.nan)
    if good.any():
        w_lng[good], w_lat[good] = crsmod.to_wgs84(lng[good], lat[good], in_crs)
    geoms = np.full(n, None, dtype=object)
    geoms[good] = shapely.points(w_lng[good], w_lat[good])
    return geoms


def _overlaps(run: _Run, geoms: np.ndarray, codes: np.ndarray) -> None:
    """Warn about points within :data:`OVERLAP_DISTANCE_M` metres of each other or of
    an existing point with another code (distances in the UTM zone of the points)."""
    ok = np.flatnonzero(~run.bad & (shapely.get_type_id(geoms) == 0))
    if not ok.size:
        return
    x = shapely.get_x(geoms[ok])
    y = shapely.get_y(geoms[ok])
    tr = pyproj.Transformer.from_crs(4326, crsmod.metric_crs_for(x, y), always_xy=True)
    mx, my = tr.transform(x, y)
    pts = shapely.points(mx, my)
    tree = shapely.STRtree(pts)
    left, right = tree.query(pts, predicate="dwithin", distance=OVERLAP_DISTANCE_M)
    keep = left < right
    for a, b in sorted(zip(left[keep].tolist(), right[keep].tolist(), strict=True)):
        i, j = int(ok[a]), int(ok[b])
        d = float(np.hypot(mx[a] - mx[b], my[a] - my[b]))
        run.warn(j, None, "overlapping_points",
                 f"的位置与第{int(run.row_numbers[i])}{run.raw.row_word}相距 {d:.1f} 米，"
                 "两个点几乎重合",
                 value=f"{x[b]:.6f},{y[b]:.6f}",
                 expected=f"相距 {OVERLAP_DISTANCE_M:g} 米以上，或确属同址")
    pad = 0.001
    rows = run.conn.execute(text(
        "SELECT code, name, ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
        "WHERE deleted_at IS NULL AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326) "
        "AND NOT (code = ANY(:codes))"),
        {"x0": float(x.min()) - pad, "y0": float(y.min()) - pad, "x1": float(x.max()) + pad,
         "y1": float(y.max()) + pad, "codes": [c for c in codes if c is not None]}).all()
    if not rows:
        return
    ex, ey = tr.transform(np.array([r.x for r in rows]), np.array([r.y for r in rows]))
    etree = shapely.STRtree(shapely.points(ex, ey))
    near, hits = etree.query(pts, predicate="dwithin", distance=OVERLAP_DISTANCE_M)
    for a, h in sorted(zip(near.tolist(), hits.tolist(), strict=True)):
        r = rows[h]
        d = float(np.hypot(mx[a] - ex[h], my[a] - ey[h]))
        run.warn(int(ok[a]), None, "overlapping_points",
                 f"的位置与已有阵地 {r.code}『{r.name}』相距 {d:.1f} 米，两个点几乎重合",
                 value=f"{x[a]:.6f},{y[a]:.6f}")


def _hours(run: _Run) -> tuple[np.ndarray, np.ndarray]:
    vals = run.text_field("hours", field="hours_text", max_len=rules.HOURS_TEXT_MAX_LEN)
    assert vals is not None
    col = run.column_name("hours")
    hours = np.full(run.n, None, dtype=object)
    cache: dict[str, tuple[dict, list[str]]] = {}
    for i, v in enumerate(vals):
        if v is None or run.bad[i]:
            continue
        if v not in cache:
            cache[v] = rules.hours_from_text(v)
        parsed, notes = cache[v]
        hours[i] = parsed
        if not parsed["parsed"]:
            run.warn(i, col, "hours_unparsed", "的" + notes[0], value=v,
                     expected="如“周一至周五 9:00-17:00；周六 9:00-12:00”")
        elif notes:
            run.warn(i, col, "hours_note", f"的开放时间 '{_fmt_value(v)}'：{'；'.join(notes)}",
                     value=v)
    return hours, vals


def _services(run: _Run) -> np.ndarray:
    vals = run.texts("services")
    assert vals is not None
    col = run.column_name("services")
    out = np.empty(run.n, dtype=object)
    for i, v in enumerate(vals):
        if v is None:
            out[i] = []
            continue
        words = split_services(v)
        got, unknown = rules.service_tags(words)
        if unknown:
            shown = "、".join(repr(words[k]) for k in unknown)
            run.error(i, col, "unknown_service", f"中的 {shown} 不是已知的服务内容", value=v,
                      expected=_SERVICE_EXPECTED)
        out[i] = got
    return out


def _phones(run: _Run) -> np.ndarray:
    return run.rule_field("phone", rules.check_phone)


def _stars(run: _Run) -> np.ndarray:
    return run.rule_field("stars", rules.parse_stars)


def _properties(run: _Run) -> np.ndarray:
    cols = run.cmap.unused
    data = {c: _texts(run.raw.frame[c], optional=False) for c in cols}
    out = np.empty(run.n, dtype=object)
    for i in range(run.n):
        out[i] = {c: data[c][i] for c in cols if data[c][i] is not None}
    return out


def _file_polygons(run: _Run, in_crs: str, *, required: bool) -> np.ndarray | None:
    """WGS-84 polygons from the file geometry or a WKT column (``None`` where invalid/absent)."""
    raw = run.raw
    skip = np.zeros(run.n, dtype=bool)
    column: str | None = None
    if raw.geometry is not None:
        geoms = raw.geometry
        if raw.file_crs is None and _file_not_lnglat(run, geoms):
            return None
    elif run.has("wkt"):
        column = run.column_name("wkt")
        vals = run.texts("wkt")
        assert vals is not None
        geoms = np.full(run.n, None, dtype=object)
        for i, v in enumerate(vals):
            if v is None:
                continue
            try:
                geoms[i] = shapely.from_wkt(v)
            except shapely.errors.GEOSException:
                skip[i] = True
                run.error(i, column, "invalid_wkt", f"的值 '{_fmt_value(v)}' 不是有效的 WKT 几何",
                          value=v, expected="如 POLYGON((113.1 23.1, 113.2 23.1, 113.2 23.2, "
                                            "113.1 23.1))")
    else:
        return None
    geoms = _check_polygons(run, geoms, column, required=required, skip=skip)
    present = ~run.bad & (shapely.get_type_id(geoms) >= 0)
    c = raw.file_crs if raw.geometry is not None else None
    if c is not None and present.any() and (c.is_projected or _classify_file_crs(c)[1]):
        geoms = geoms.copy()
        geoms[present] = _to_lnglat(geoms[present], c)
    _check_polygon_range(run, geoms, column)
    ok = ~run.bad & (shapely.get_type_id(geoms) >= 0)
    out = np.full(run.n, None, dtype=object)
    if ok.any():
        g = geoms[ok]
        if crsmod.normalize_crs_name(in_crs) in ("gcj02", "bd09"):
            g = crsmod.transform_geometry(g, in_crs, "wgs84")
            still = shapely.is_valid(g)
            if not still.all():
                g = g.copy()
                g[~still] = [_polygonal(shapely.make_valid(x)) for x in g[~still]]
        out[ok] = g
    return out


def _polygons_common(run: _Run, regions: _Regions | None, in_crs: str, *, code_len: int = 64,
                     name_required: bool = True) -> tuple[dict[str, np.ndarray], np.ndarray]:
    names = run.required_text("name", text_rule=True) if name_required and run.has("name") \
        else (run.text_field("name", max_len=rules.NAME_MAX_LEN) if run.has("name") else None)
    geoms = _file_polygons(run, in_crs, required=True)
    if geoms is None:
        geoms = np.full(run.n, None, dtype=object)
    reps = np.full(run.n, None, dtype=object)
    present = shapely.get_type_id(geoms) >= 0
    if present.any():
        reps[present] = shapely.point_on_surface(geoms[present])
    region_codes = region_raw = None
    if regions is not None:
        region_codes, region_raw = _regions_of(run, regions, reps=reps)
    codes = _codes(run, names, region_raw, geoms, code_len)
    _duplicates(run, codes, run.column_name("code"))
    values: dict[str, np.ndarray] = {"code": codes}
    if names is not None:
        values["name"] = names
    if regions is not None:
        assert region_codes is not None
        _check_towns(run, reps, region_codes)
        values["region_code"] = _locate(run, reps, region_codes, check=False, label="范围")
    values["geom"] = geoms
    return values, geoms


def _grids(run: _Run, regions: _Regions, in_crs: str) -> tuple[_Rows, np.ndarray]:
    values, geoms = _polygons_common(run, regions, in_crs)
    if run.has("kind"):
        values["kind"] = run.vocab("kind", lambda v: GRID_KIND_LOOKUP.get(normalize_label(v)),
                                   "unknown_grid_kind", "网格类型", GRID_KIND_EXPECTED)
    if run.has("workers"):
        values["workers"] = run.number_field("workers")
    if run.has("has_branch"):
        values["has_branch"] = run.vocab("has_branch",
                                         lambda v: BOOL_LOOKUP.get(normalize_label(v)),
                                         "invalid_bool", "是/否值", "是 或 否（有/无、1/0）")
    return _Rows(values, coalesce={"region_code"}), geoms


def _compounds(run: _Run, regions: _Regions, in_crs: str) -> tuple[_Rows, np.ndarray]:
    values, geoms = _polygons_common(run, regions, in_crs)
    if run.has("households"):
        values["households"] = run.number_field("households")
    if run.has("population"):
        values["population"] = run.number_field("population")
    return _Rows(values, coalesce={"region_code"}), geoms


def _compound_refs(run: _Run, fld: str, known: tuple[set[str], dict[str, set[str]]],
                   *, many: bool) -> np.ndarray | None:
    vals = run.texts(fld)
    if vals is None:
        return None
    codes, by_name = known
    col = run.column_name(fld)
    out = np.full(run.n, None, dtype=object)
    cache: dict[str, tuple[str | None, str | None]] = {}

    def one(v: str) -> tuple[str | None, str | None]:
        v = v.strip()
        if v in codes:
            return v, None
        found = by_name.get(normalize_label(v), set())
        if len(found) == 1:
            return next(iter(found)), None
        if found:
            return None, "ambiguous"
        return None, "unknown"

    for i, v in enumerate(vals):
        if v is None:
            if many:
                out[i] = []
            continue
        words = [w for w in re.split(r"[、,，;；/|\n]+", v) if w.strip()] if many else [v]
        got: list[str] = []
        for w in words:
            if w not in cache:
                cache[w] = one(w)
            code, why = cache[w]
            if code is None:
                what = "对应多个小区" if why == "ambiguous" else "不是已有的小区（编码或名称）"
                run.error(i, col, "unknown_compound" if why == "unknown" else "ambiguous_compound",
                          f"的值 '{_fmt_value(w)}' {what}", value=w,
                          expected="compounds 表中已有的小区编码或唯一的小区名称"
                                   "（可先导入 compounds）")
            elif code not in got:
                got.append(code)
        out[i] = got if many else (got[0] if got else None)
    return out


def _buildings(run: _Run, in_crs: str) -> tuple[_Rows, np.ndarray]:
    values, geoms = _polygons_common(run, None, in_crs, name_required=False)
    if run.has("compound"):
        values["compound_code"] = _compound_refs(run, "compound", _load_compounds(run.conn),
                                                 many=False)
    if run.has("households"):
        values["households"] = run.number_field("households")
    if run.has("population"):
        values["population"] = run.number_field("population")
    return _Rows(values), geoms


def _branches(run: _Run, regions: _Regions) -> _Rows:
    names = run.required_text("name", text_rule=True)
    region_codes, region_raw = _regions_of(run, regions)
    codes = _codes(run, names, region_raw, None, 64)
    _duplicates(run, codes, run.column_name("code"))
    values: dict[str, np.ndarray] = {"code": codes, "name": names}  # type: ignore[dict-item]
    if run.has("region"):
        values["region_code"] = region_codes
    known = _load_compounds(run.conn) if run.has("seat_compound") or run.has("compounds") else None
    if run.has("seat_compound"):
        assert known is not None
        values["seat_compound_code"] = _compound_refs(run, "seat_compound", known, many=False)
    sets = None
    if run.has("compounds"):
        assert known is not None
        sets = _compound_refs(run, "compounds", known, many=True)
    return _Rows(values, compound_sets=sets)


def _regions_rows(run: _Run, regions: _Regions, in_crs: str) -> tuple[_Rows, np.ndarray | None]:
    codes = _codes(run, None, None, None, 12)
    _duplicates(run, codes, run.column_name("code"))
    names = run.required_text("name")
    values: dict[str, np.ndarray] = {"code": codes, "name": names}  # type: ignore[dict-item]
    levels = run.vocab("level", lambda v: LEVEL_LOOKUP.get(normalize_label(v)), "invalid_level",
                       "区划级别",
                       "县（区）、镇（街道）或 村（社区）") if run.has("level") else None
    derived = {6: "county", 9: "town", 12: "village"}
    lv = np.empty(run.n, dtype=object)
    for i, c in enumerate(codes):
        given = None if levels is None else levels[i]
        lv[i] = given or (derived.get(len(c)) if c is not None else None)
    values["level"] = lv
    in_file = {c for c in codes if c is not None}
    parents = np.full(run.n, None, dtype=object)
    pcol = run.column_name("parent")
    ptexts = run.texts("parent")
    missing_derived = 0
    for i, c in enumerate(codes):
        if c is None:
            continue
        p = None if ptexts is None else ptexts[i]
        if p is not None:
            if not (p.isdigit() and len(p) in (6, 9, 12)):
                run.error(i, pcol, "invalid_region_code", f"的值 '{p}' 不是行政区划代码", value=p,
                          expected="6、9 或 12 位数字")
            elif p not in in_file and p not in regions.codes:
                run.error(i, pcol, "unknown_parent", f"的上级区划 '{p}' 既不在文件中也不在数据库中",
                          value=p, expected="已有的上级区划代码（或在同一文件中一并导入）")
            else:
                parents[i] = p
            continue
        derived_parent = c[:9] if len(c) == 12 else (c[:6] if len(c) == 9 else None)
        if derived_parent and (derived_parent in in_file or derived_parent in regions.codes):
            parents[i] = derived_parent
        elif derived_parent:
            missing_derived += 1
    if missing_derived:
        run.warn(None, pcol, "parent_missing",
                 f"{missing_derived} 个区划的上级区划（按代码推断）不在数据库和文件中，上级留空")
    values["parent_code"] = parents
    geoms = _file_polygons(run, in_crs, required=False) \
        if (run.raw.geometry is not None or run.has("wkt")) else None
    if geoms is not None:
        values["geom"] = geoms
    if run.spec.keeps_properties and run.cmap.unused:
        values["properties"] = _properties(run)
    return _Rows(values, coalesce={"geom"}), geoms


# ==========================================================================
# writing
# ==========================================================================
_TABLE_COLUMNS: dict[str, dict[str, str]] = {
    # DB column -> kind: plain | geom | json_merge | passive (written with a change, but
    # no change by itself: the CRS a point was last delivered in is provenance, not data)
    "service_points": {"code": "plain", "name": "plain", "kind": "plain", "region_code": "plain",
                       "address": "plain", "geom": "geom", "hours": "plain", "hours_text": "plain",
                       "services": "plain", "phone": "plain", "rooms": "plain",
                       "floor_area_m2": "plain", "stars": "plain", "source_crs": "passive",
                       "properties": "json_merge"},
    "regions": {"code": "plain", "name": "plain", "level": "plain", "parent_code": "plain",
                "geom": "geom", "properties": "json_merge"},
    "grid_cells": {"code": "plain", "name": "plain", "region_code": "plain", "kind": "plain",
                   "workers": "plain", "has_branch": "plain", "geom": "geom"},
    "compounds": {"code": "plain", "name": "plain", "region_code": "plain",
                  "households": "plain", "population": "plain", "geom": "geom"},
    "buildings": {"code": "plain", "compound_code": "plain", "households": "plain",
                  "population": "plain", "geom": "geom"},
    "party_branches": {"code": "plain", "name": "plain", "region_code": "plain",
                       "seat_compound_code": "plain"},
}
_HAS_DELETED = {"service_points", "grid_cells", "compounds", "buildings", "party_branches"}
_HAS_UPDATED = {"service_points", "regions", "grid_cells", "compounds", "party_branches"}
_STAGE = "_sm_import_stage"
_KML_STYLE = frozenset({"timestamp", "begin", "end", "altitudemode", "tessellate", "extrude",
                        "visibility", "draworder", "icon", "snippet"})


def _same_geom(a: str, b: str) -> str:
    tol = repr(GEOMETRY_TOLERANCE_DEG)
    return (f"(({a} IS NULL AND {b} IS NULL) OR ({a} IS NOT NULL AND {b} IS NOT NULL AND "
            f"(ST_AsBinary({a}) = ST_AsBinary({b}) OR (ST_NPoints({a}) = ST_NPoints({b}) AND "
            f"ST_GeometryType({a}) = ST_GeometryType({b}) AND "
            f"ST_HausdorffDistance({a}, {b}) < {tol}))))")


def _upsert_sql(table: str, cols: list[str], coalesce: set[str]) -> str:
    kinds = _TABLE_COLUMNS[table]
    t = f'"{table}"'
    sets: list[str] = []
    diffs: list[str] = []
    for c in cols:
        if c == "code":
            continue
        kind = kinds[c]
        new = f"EXCLUDED.{c}"
        old = f"{t}.{c}"
        if kind == "geom":
            same = _same_geom(old, new)
            if c in coalesce:
                same = f"({new} IS NULL OR {same})"
            sets.append(f"{c} = CASE WHEN {same} THEN {old} ELSE {new} END")
            diffs.append(f"NOT {same}")
            if table == "service_points":
                sets.append(f"version = CASE WHEN {same} THEN {t}.version ELSE {t}.version + 1 END")
        elif kind == "passive":
            sets.append(f"{c} = {new}")
        elif kind == "json_merge":
            sets.append(f"{c} = {old} || {new}")
            diffs.append(f"NOT ({old} @> {new})")
        elif c in coalesce:
            sets.append(f"{c} = COALESCE({new}, {old})")
            diffs.append(f"({new} IS NOT NULL AND {old} IS DISTINCT FROM {new})")
        else:
            sets.append(f"{c} = {new}")
            diffs.append(f"{old} IS DISTINCT FROM {new}")
    sets.append("synthetic = false")
    diffs.append(f"{t}.synthetic")
    if table in _HAS_DELETED:
        sets.append("deleted_at = NULL")
        diffs.append(f"{t}.deleted_at IS NOT NULL")
    if table in _HAS_UPDATED:
        sets.append("updated_at = now()")
    col_list = ", ".join(cols)
    return (f"INSERT INTO {t} ({col_list}) SELECT {col_list} FROM {_STAGE} "
            f"ON CONFLICT (code) DO UPDATE SET {', '.join(sets)} "
            f"WHERE {' OR '.join(diffs)} RETURNING {t}.code, (xmax = 0) AS inserted"
            + (f", {t}.version" if table == "service_points" else ""))


#: NOT NULL columns and the value an empty cell stands for
_NOT_NULL_DEFAULTS: dict[str, dict[str, Any]] = {
    "grid_cells": {"kind": GridKind.GOVERNANCE.value, "workers": 0, "has_branch": False},
    "compounds": {"households": 0, "population": 0},
    "buildings": {"households": 0, "population": 0},
}


def _write(conn: Connection, spec: EntitySpec, rows: _Rows, keep: np.ndarray,
           timings: dict[str, float]) -> tuple[list[str], list[str], list[str]]:
    """Upsert the kept rows; returns (inserted, updated, moved point) codes.

    Moved service points get ``version + 1`` (in the upsert) and lose their
    stored service circles, with :func:`geo.store.versions.drop_circles`, as
    for a single edit.
    """
    table = spec.table
    cols = [c for c in _TABLE_COLUMNS[table] if c in rows.values]
    for c, default in _NOT_NULL_DEFAULTS.get(table, {}).items():
        if c in rows.values:
            vals = rows.values[c]
            rows.values[c] = np.array([default if v is None else v for v in vals], dtype=object)
    idx = np.flatnonzero(keep)
    if table == "regions":
        order = sorted(idx, key=lambda i: len(str(rows.values["code"][i])))
        idx = np.asarray(order, dtype=np.int64)
    t0 = time.perf_counter()
    data: dict[str, list[Any]] = {}
    for c in cols:
        v = rows.values[c][idx]
        kind = _TABLE_COLUMNS[table][c]
        if kind == "geom":
            data[c] = ewkb_hex(v, multi=spec.geometry == "polygon")
        elif c in ("hours", "properties"):
            data[c] = [None if x is None else json.dumps(x, ensure_ascii=False) for x in v]
        elif c == "services":
            data[c] = [pg_array(x) for x in v]
        else:
            data[c] = list(v)
    codes = [str(c) for c in data["code"]]
    existing = set(conn.execute(text(f'SELECT code FROM "{table}" WHERE code = ANY(:c)'),
                                {"c": codes}).scalars())
    versions: dict[str, int] = {}
    if table == "service_points" and existing:
        versions = {str(r.code): int(r.version) for r in conn.execute(text(
            "SELECT code, version FROM service_points WHERE code = ANY(:c)"),
            {"c": sorted(existing)})}
    fresh = [k for k, c in enumerate(codes) if c not in existing]
    old = [k for k, c in enumerate(codes) if c in existing]
    if "geom" in rows.values and len(fresh) > 1000:
        # spatial (Hilbert) order: GiST insertions touch fewer pages
        fg = rows.values["geom"][idx[fresh]]
        if bool((shapely.get_type_id(fg) >= 0).all()):
            import geopandas as gpd

            order = np.argsort(gpd.GeoSeries(fg).hilbert_distance().to_numpy(), kind="stable")
            fresh = [fresh[k] for k in order]
    # new codes go straight in with COPY; existing ones through the compare-and-upsert
    if fresh:
        copy_columns(conn, table, {c: [data[c][k] for k in fresh] for c in cols})
    timings["copy_new"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result: list[Any] = []
    if old:
        conn.execute(text(f"DROP TABLE IF EXISTS {_STAGE}"))
        conn.execute(text(f"CREATE TEMP TABLE {_STAGE} AS SELECT {', '.join(cols)} "
                          f'FROM "{table}" WITH NO DATA'))
        copy_columns(conn, _STAGE, {c: [data[c][k] for k in old] for c in cols})
        result = conn.execute(text(_upsert_sql(table, cols, rows.coalesce))).all()
        conn.execute(text(f"DROP TABLE {_STAGE}"))
    timings["upsert_existing"] = time.perf_counter() - t0
    inserted = [codes[k] for k in fresh] + [str(r.code) for r in result if r.inserted]
    updated = [str(r.code) for r in result if not r.inserted]
    moved: list[str] = []
    if table == "service_points":
        moved = [str(r.code) for r in result
                 if not r.inserted and int(r.version) > versions.get(str(r.code), r.version)]
        drop_circles(conn, moved)
    if rows.compound_sets is not None:
        changed = _write_branch_compounds(conn, rows.values["code"][idx], rows.compound_sets[idx])
        done = set(inserted) | set(updated)
        updated.extend(c for c in changed if c not in done)
    return inserted, updated, moved


def _write_branch_compounds(conn: Connection, codes: np.ndarray, sets: np.ndarray) -> list[str]:
    wanted = {str(c): set(s or []) for c, s in zip(codes, sets, strict=True)}
    current: dict[str, set[str]] = {c: set() for c in wanted}
    for r in conn.execute(text("SELECT branch_code, compound_code FROM branch_compounds "
                               "WHERE branch_code = ANY(:c)"), {"c": list(wanted)}):
        current[str(r.branch_code)].add(str(r.compound_code))
    changed = []
    for code, want in wanted.items():
        have = current[code]
        if want == have:
            continue
        changed.append(code)
        gone = sorted(have - want)
        if gone:
            conn.execute(text("DELETE FROM branch_compounds WHERE branch_code = :b "
                              "AND compound_code = ANY(:c)"), {"b": code, "c": gone})
        for cc in sorted(want - have):
            conn.execute(text("INSERT INTO branch_compounds (branch_code, compound_code) "
                              "VALUES (:b, :c)"), {"b": code, "c": cc})
    return changed


def _audit(conn: Connection, report: ImportReport, actor: str, inserted: list[str],
           updated: list[str]) -> None:
    after = {
        "file": report.file, "sheet": report.sheet, "format": report.format,
        "crs": report.crs, "rows_read": report.rows_read, "rows_rejected": report.rows_rejected,
        "inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged,
        "inserted_codes": inserted[:AUDIT_MAX_CODES], "updated_codes": updated[:AUDIT_MAX_CODES],
        "codes_truncated": len(inserted) > AUDIT_MAX_CODES or len(updated) > AUDIT_MAX_CODES,
    }
    write_audit(conn, actor=actor, action="import", entity=report.table, after=after)


# ==========================================================================
# permissions
# ==========================================================================
def _check_scope(run: _Run, rows: _Rows, scope: tuple[str, ...]) -> None:
    """Reject rows whose region (new or stored) lies outside ``scope``."""
    spec = run.spec
    codes = rows.values["code"]
    live = [str(c) for c, b in zip(codes, run.bad, strict=True) if c is not None and not b]
    if spec.name == "regions":
        existing = {c: c for c in live}
        new_regions = codes
    elif spec.name == "buildings":
        existing = {str(r.code): r.region_code for r in run.conn.execute(text(
            "SELECT b.code, c.region_code FROM buildings b LEFT JOIN compounds c "
            "ON c.code = b.compound_code WHERE b.code = ANY(:c)"), {"c": live})}
        comp = rows.values.get("compound_code")
        lookup: dict[str, str | None] = {}
        if comp is not None:
            wanted = sorted({str(c) for c in comp if c is not None})
            lookup = {str(r.code): r.region_code for r in run.conn.execute(text(
                "SELECT code, region_code FROM compounds WHERE code = ANY(:c)"), {"c": wanted})}
        new_regions = np.array([None if comp is None or comp[i] is None else lookup.get(comp[i])
                                for i in range(run.n)], dtype=object)
    else:
        existing = {str(r.code): r.region_code for r in run.conn.execute(text(
            f'SELECT code, region_code FROM "{spec.table}" WHERE code = ANY(:c)'), {"c": live})}
        new_regions = rows.values.get("region_code", np.full(run.n, None, dtype=object))
    shown = "、".join(scope)
    for i in range(run.n):
        c = codes[i]
        if c is None or run.bad[i]:
            continue
        old = existing.get(str(c))
        new = new_regions[i] if new_regions[i] is not None else old
        if str(c) in existing and not region_in_scope(old, scope):
            run.error(i, None, "forbidden_region",
                      f"的编码 {c} 已属于区划 {old or '（无）'}，不在您的编辑范围（{shown}）内",
                      value=str(c), expected=f"{shown} 及其下级区划中的数据")
        elif not region_in_scope(new, scope):
            run.error(i, None, "forbidden_region",
                      f"的所属区划 {new or '（无法确定）'} 不在您的编辑范围（{shown}）内",
                      value=new, expected=f"{shown} 及其下级区划中的数据")


# ==========================================================================
# rejected rows
# ==========================================================================
def _rejects(raw: RawTable, run: _Run, path: str | Path | None) -> tuple[bytes, str]:
    """The rejected rows, in the input's family of formats, with a 错误原因 column."""
    idx = np.flatnonzero(run.bad)
    frame = raw.frame.iloc[idx].copy()
    frame.insert(0, "原行号", raw.row_numbers[idx])
    frame["错误原因"] = ["；".join(run.reasons.get(int(i), [])) for i in idx]
    stem = Path(raw.file).stem
    if raw.is_gis:
        import geopandas as gpd

        geoms = raw.geometry[idx] if raw.geometry is not None else None
        gdf = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(geoms)
                               if geoms is not None else None, crs=raw.file_crs)
        name = f"{stem}_rejected.geojson"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / name
            gdf.to_file(out, driver="GeoJSON", engine="pyogrio")
            content = out.read_bytes()
    elif raw.format == "xlsx":
        name = f"{stem}_rejected.xlsx"
        buf = io.BytesIO()
        frame.to_excel(buf, index=False, engine="openpyxl", sheet_name="被拒绝的行")
        content = buf.getvalue()
    else:
        name = f"{stem}_rejected.csv"
        content = frame.to_csv(index=False).encode("utf-8-sig")
    if path is not None:
        Path(path).write_bytes(content)
    return content, name


# ==========================================================================
# entry point
# ==========================================================================
@contextlib.contextmanager
def _transaction(conn: Connection) -> Iterator[None]:
    """One transaction: a new one, or a savepoint inside the caller's."""
    if conn.in_transaction():
        with conn.begin_nested():
            yield
    else:
        with conn.begin():
            yield


def _required_columns(run: _Run) -> list[Problem]:
    spec = run.spec
    raw = run.raw
    missing: list[tuple[str, str]] = []

    def need(fld: str) -> None:
        if not run.has(fld):
            f = spec.field(fld)
            missing.append((f.label, "、".join(f.aliases[:6])))

    if spec.name == "points":
        need("name")
        need("kind")
        has_xy = run.has("lng") and run.has("lat")
        if not (has_xy or run.has("lnglat") or raw.geometry is not None):
            if run.has("lng") or run.has("lat"):
                need("lng")
                need("lat")
            else:
                missing.append(("经度/纬度", "经度 + 纬度，或 经纬度"))
    elif spec.name == "regions":
        need("code")
        need("name")
    elif spec.name in ("grids", "compounds", "buildings"):
        if spec.name != "buildings" and not run.has("code"):
            need("name")
        if raw.geometry is None and not run.has("wkt"):
            missing.append(("几何图形", "GIS 文件（GeoJSON/Shapefile/GeoPackage/KML）或 WKT 列"))
    elif spec.name == "branches":
        need("name")
    headers = "、".join(str(c) for c in raw.frame.columns) or "（无）"
    return [Problem(message=f"{raw.file} 缺少『{label}』列（文件中的列：{headers}）",
                          file=raw.file, sheet=raw.sheet, column=label, value=None,
                          expected=f"列名为 {aliases} 之一，或在映射文件中指定",
                          kind="missing_column") for label, aliases in missing]


def import_file(conn: Connection, entity: str, path: str | Path, *, name: str | None = None,
                options: ImportOptions | None = None) -> ImportReport:
    """Validate a planner's file and upsert it in one transaction.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        Connection to the ServiceMap database.  Without an open transaction a
        new one is begun and committed; inside the caller's transaction the
        import runs in a savepoint (the caller commits).
    entity : str
        ``points``, ``regions``, ``grids``, ``compounds``, ``buildings`` or
        ``branches``.
    path : str or pathlib.Path
        The file: ``.csv``, ``.xlsx``, ``.geojson``/``.json``, ``.gpkg``, ``.shp``
        or zipped shapefile ``.zip``, ``.kml``.
    name : str, optional
        Name shown in messages (an upload's original name); default ``path``'s.
    options : ImportOptions, optional
        Coordinate system, sheet, mapping file, dry run, skip invalid ...

    Returns
    -------
    ImportReport
        Counts, column mapping, warnings and (with ``skip_invalid``) the errors
        of the rejected rows.  Stored geometries are WGS-84 (EPSG:4326).

    Raises
    ------
    ImportRejected
        When nothing was written: a file-level problem, or any row error
        without ``skip_invalid``.  ``exc.report`` holds the full report.
    ValueError
        For an unknown ``entity``.
    """
    t0 = time.perf_counter()
    opts = options or ImportOptions()
    if entity not in ENTITIES:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(ENTITIES)}")
    spec = ENTITIES[entity]
    shown = name or Path(path).name
    report = ImportReport(file=shown, entity=entity, table=spec.table, dry_run=opts.dry_run)

    def reject() -> ImportRejected:
        report.duration_s = time.perf_counter() - t0
        return ImportRejected(report)

    requested: str | None = None
    if opts.crs:
        try:
            requested = crsmod.normalize_crs_name(opts.crs)
        except ValueError:
            report.errors.append(Problem(
                message=f"不认识的坐标系 '{opts.crs}'", file=shown, value=opts.crs,
                expected="wgs84、gcj02、bd09 或 cgcs2000", kind="unknown_crs"))
    mapping: MappingFile | None = None
    if opts.mapping is not None:
        mapping, problems = load_mapping(opts.mapping, entity)
        report.errors.extend(problems)
        if mapping and mapping.crs:
            try:
                mapping.crs = crsmod.normalize_crs_name(mapping.crs)
            except ValueError:
                report.errors.append(Problem(
                    message=f"映射文件中的坐标系 '{mapping.crs}' 不认识", file=mapping.path,
                    value=mapping.crs, expected="wgs84、gcj02、bd09 或 cgcs2000",
                    kind="invalid_mapping_file"))
    if report.errors:
        raise reject()
    t_read = time.perf_counter()
    try:
        raw = read_table(path, name=shown, sheet=opts.sheet or (mapping.sheet if mapping else None),
                         score_header=score_header(spec, mapping),
                         header_row=opts.header_row or (mapping.header_row if mapping else None))
    except TableError as exc:
        report.errors.append(exc.problem)
        raise reject() from None
    report.timings["read"] = time.perf_counter() - t_read
    report.format, report.sheet, report.encoding = raw.format, raw.sheet, raw.encoding
    report.header_rows = list(raw.header_rows)
    report.rows_read = len(raw.frame)
    for note in raw.notes:
        report.warnings.append(Problem(message=note, file=shown, sheet=raw.sheet,
                                             kind="read_note"))
    cmap = map_columns([str(c) for c in raw.frame.columns], entity, mapping, file=shown,
                       sheet=raw.sheet)
    # columns that hold nothing (and KML's styling fields) are not worth reporting
    for col in list(cmap.unused):
        blank = all(cell_text(v) is None for v in raw.frame[col].tolist())
        if blank or (raw.format == "kml" and normalize_label(col) in _KML_STYLE):
            cmap.unused.remove(col)
            cmap.ignored.append(col)
    report.columns = cmap.entries
    report.unused_columns = cmap.unused
    report.ignored_columns = cmap.ignored
    report.errors.extend(cmap.problems)
    run = _Run(conn, raw, spec, cmap, mapping, opts, report)
    report.errors.extend(_required_columns(run))
    if report.errors:
        raise reject()
    if cmap.unused and not spec.keeps_properties:
        report.warnings.append(Problem(
            message=f"未使用的列：{'、'.join(cmap.unused)}（{spec.label}不保存其他属性）",
            file=shown,
            sheet=raw.sheet, kind="unused_columns"))

    with _transaction(conn):
        t_check = time.perf_counter()
        in_crs = _resolve_crs(run, requested)
        if report.errors:
            raise reject()
        if entity == "points":
            rows, _ = _points(run, _load_regions(conn), in_crs)
        elif entity == "regions":
            rows, _ = _regions_rows(run, _load_regions(conn), in_crs)
        elif entity == "grids":
            rows, _ = _grids(run, _load_regions(conn), in_crs)
        elif entity == "compounds":
            rows, _ = _compounds(run, _load_regions(conn), in_crs)
        elif entity == "buildings":
            rows, _ = _buildings(run, in_crs)
        else:
            rows = _branches(run, _load_regions(conn))
        if opts.scope is not None:
            _check_scope(run, rows, opts.scope)
        n_file_errors = sum(1 for p in report.errors if p.row is None)
        report.timings["validate"] = time.perf_counter() - t_check
        report.rows_rejected = int(run.bad.sum())
        report.rows_valid = report.rows_read - report.rows_rejected
        if n_file_errors or (report.rows_rejected and not opts.skip_invalid):
            raise reject()
        keep = ~run.bad
        if report.rows_rejected:
            target = opts.rejects_path
            report.rejects, report.rejects_name = _rejects(raw, run, target)
            report.rejects_file = str(target) if target is not None else None
        inserted: list[str] = []
        updated: list[str] = []
        moved: list[str] = []
        if keep.any():
            try:
                if opts.dry_run:
                    savepoint = conn.begin_nested()
                    try:
                        inserted, updated, moved = _write(conn, spec, rows, keep, report.timings)
                    finally:
                        savepoint.rollback()
                else:
                    inserted, updated, moved = _write(conn, spec, rows, keep, report.timings)
            except DBAPIError as exc:
                detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
                report.errors.append(Problem(
                    message=f"数据库拒绝写入，已全部撤销：{detail}", file=shown, sheet=raw.sheet,
                    kind="database_rejected", expected="符合数据库约束的数据"))
                raise reject() from None
        report.inserted, report.updated = len(inserted), len(updated)
        if moved:
            verb = "将" if opts.dry_run else "已"
            report.warnings.append(Problem(
                message=f"{len(moved)} 个阵地的位置有变化，版本号{verb}加一，其服务圈{verb}删除、"
                        "需重新计算（servicemap isochrones）",
                file=shown, sheet=raw.sheet, value=len(moved), kind="circles_invalidated"))
        report.unchanged = int(keep.sum()) - report.inserted - report.updated
        if not opts.dry_run:
            report.written = True
            _audit(conn, report, opts.actor, inserted, updated)
    report.duration_s = time.perf_counter() - t0
    return report
