"""What an import is told (options) and what it tells (the report)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.entities import entity as entity_of
from geo.errors import NotFound, Problem
from geo.vocab import CRS_ZH

__all__ = ["ImportOptions", "ImportReport"]


@dataclass
class ImportOptions:
    """How to import a file.

    Attributes
    ----------
    crs : str or None
        Coordinate system of the file's coordinates (``wgs84``, ``gcj02``,
        ``bd09``, ``cgcs2000`` or an alias accepted by
        :func:`geo.crs.normalize_crs_name`; or a projected CRS such as
        ``EPSG:4547`` for coordinates in metres); ``None``: from the file, the
        mapping file, a 坐标系 column, hints in the file or the evidence of the
        streets and buildings, else WGS-84 (:mod:`geo.io.importer.sniff`).
    trust_crs : bool
        Import in the declared (or hinted) system even when the distances to
        the streets and buildings clearly say another; the evidence becomes a
        warning (``crs_evidence_ignored``) instead of refusing the file.
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
    area : tuple of float or None
        The configured operating area ``(W, S, E, N)`` (``SERVICEMAP_OPERATING_AREA``);
        ``None``: from the regions loaded, else China
        (:func:`geo.regions.operating_area`).
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
    area: tuple[float, float, float, float] | None = None
    trust_crs: bool = False


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
        was determined (``--crs``, ``mapping``, ``file``, ``column`` (a 坐标系
        column), ``header`` (a coordinate header's remark), ``hint`` (words in
        the file name, sheet, title or headers), ``evidence`` (distances to the
        streets and buildings), ``default``).
    crs_reason : str or None
        Why, in Chinese: the declaration or hint word found, and what the
        distances to the streets and buildings said.
    crs_evidence : dict or None
        The distances (:meth:`geo.io.importer.sniff.Evidence.as_dict`):
        ``available``, ``points``, ``candidates``, ``winner``, ``note`` and per
        layer (``buildings``, ``streets``) ``points``, ``winner`` and the
        ``median_m``/``p80_m`` metres of each candidate reading; ``None`` for
        files without points.
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
    crs_reason: str | None = None
    crs_evidence: dict[str, Any] | None = None
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
            "crs": self.crs, "crs_source": self.crs_source, "crs_reason": self.crs_reason,
            "crs_evidence": self.crs_evidence,
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

    def file_line(self, sheet_word: str = "工作表/图层") -> str:
        """The report's line about the file as read: format, sheet, encoding and
        header rows (``文件：格式 XLSX，工作表「…」，表头在第2行``)."""
        where = [f"格式 {self.format.upper() if self.format else '未知'}"]
        if self.sheet:
            where.append(f"{sheet_word}「{self.sheet}」")
        if self.encoding:
            where.append(f"编码 {self.encoding}")
        if self.header_rows:
            where.append("表头在第" + "、".join(str(r) for r in self.header_rows) + "行")
        return "文件：" + "，".join(where)

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
        try:
            spec = entity_of(self.entity)
        except NotFound:
            spec = None
        lines = [f"导入报告：{self.file}", self.file_line()]
        label = spec.label if spec else self.entity
        lines.append(f"数据：{label}（{self.entity}）→ 表 {self.table}")
        if self.crs:
            src = {"--crs": "命令参数", "mapping": "映射文件", "header": "列名标注",
                   "file": "文件声明", "column": "坐标系列", "hint": "文件中的提示",
                   "evidence": "与道路、楼栋比对", "default": "默认"}.get(
                self.crs_source or "", "")
            conv = "，已转换为 WGS-84" if self.crs not in ("wgs84",) else ""
            lines.append(f"坐标系：{CRS_ZH.get(self.crs, self.crs)}（{src}）{conv}")
            if self.crs_reason:
                lines.append(f"坐标系依据：{self.crs_reason}")
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
