"""One import run: the file as read, the column mapping, and every problem found
in it, with the file, sheet, row and column a planner sees in Excel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from geo import rules
from geo.entities import Entity
from geo.errors import Problem
from geo.io.columns import ColumnMapping, MappingFile
from geo.io.importer.cells import fmt_value, shown, texts
from geo.io.importer.report import ImportOptions, ImportReport
from geo.io.tables import RawTable, cell_text
from geo.regions import operating_area
from geo.rules import OperatingArea

__all__ = ["Run"]


class Run:
    """The state of one import: rows marked bad, the reasons, errors and warnings."""

    def __init__(self, conn: Connection, raw: RawTable, spec: Entity, cmap: ColumnMapping,
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
        #: structured values parsed along with a field (opening hours from their text)
        self.parsed: dict[str, np.ndarray] = {}
        self._area: OperatingArea | None = None

    @property
    def area(self) -> OperatingArea:
        """Where this database's data may lie (read once per import)."""
        if self._area is None:
            self._area = operating_area(self.conn, self.opts.area)
        return self._area

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
                       value=shown(value), expected=expected, kind=kind)

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
        return None if s is None else texts(s, optional=optional)

    # -- fields through their rules ------------------------------------------
    def field(self, fld: str, *, required: bool | None = None) -> np.ndarray | None:
        """The column of field ``fld`` through its rule (:func:`geo.rules.check_column`);
        every refused value becomes an error of its row. ``required`` overrides the
        field's (an import may leave a field empty that the API requires)."""
        f = self.spec.import_field(fld)
        if required is not None and required != f.required:
            from dataclasses import replace

            f = replace(f, required=required)
        s = self.series(fld)
        if s is None:
            return None
        cells = s.tolist() if f.kind in ("number", "stars") else list(
            texts(s, optional=not f.required))
        got = rules.check_column(f, s if f.kind == "number" else cells, cells=True)
        col = self.column_name(fld)
        raw = s.tolist()
        for i, p in got.problems:
            self.refuse(i, col, f, p, raw[i])
        for i, kind, note in got.notes:
            v = cells[i]
            if kind == "hours_unparsed":
                self.warn(i, col, kind, "的" + note, value=v,
                          expected="如“周一至周五 9:00-17:00；周六 9:00-12:00”")
            else:
                self.warn(i, col, kind, f"的{f.label} '{fmt_value(v)}'：{note}", value=v)
        if got.parsed is not None:
            self.parsed[fld] = np.array(got.parsed, dtype=object)
        return np.array(got.values, dtype=object)

    def refuse(self, i: int, col: str | None, f: Any, p: Problem, raw: Any) -> None:
        """Record a rule's problem at row ``i``, phrased for the file."""
        if p.kind == "missing_value":
            text_ = f"{f.label}为空"
        elif p.message.startswith("中的"):
            text_ = p.message
        else:
            text_ = f"的值 '{fmt_value(raw)}' {p.message}"
        self.error(i, col, p.kind or "invalid_value", text_, value=raw, expected=p.expected)
