"""Importing a town office's table of village census totals (七普 常住人口).

The table (CSV in any of the encodings :mod:`geo.io.tables` detects, or XLSX,
with title rows above the header allowed) has one row per village or
community: its name and/or division code and its resident population, and
optionally the census year::

    里水镇各村（社区）第七次全国人口普查常住人口        ← a title row (skipped)
    村居名称   | 区划代码      | 常住人口 | 年份
    河村社区   | 440605126006 | 12,310  | 2020
    鹤峰村     |              | 8120人   | 2020

Headers (:data:`TABLE`): name 村居名称 / 村（居）名称 / 社区名称 / 名称 …, code
区划代码 / 行政区划代码 / 代码 …, population 常住人口 / 人口 / 常住人口数 …, year
年份 / 年度. Counts written by people (``3,120``, ``3120人``) are read by the
field rules (:mod:`geo.rules`); estimates (``约3000``, ``3000左右``), empty cells,
negative numbers and fractions are errors naming the file, row, column and value.

Matching rows to the village-level regions stored in ``regions``
    By code when the row has one (a village-level code in ``regions``); else
    by name, compared after :func:`name_key` (full-width to half-width, spaces
    and bracketed remarks dropped, a leading town name dropped, committee
    suffixes folded: 「XX村」 = 「XX村委会」 = 「XX村民委员会」, 「XX社区」 =
    「XX社区居委会」 = 「XX社区居民委员会」 = 「XX居委会」). A name that matches
    only by its stem (「沙涌村」 for 「沙涌社区居委会」, after 村改居) is taken with a
    warning. A name matching several villages is an error (give the code or
    ``region``); so are two rows for one village. ``region`` restricts the
    villages to one town (or county).

Unmatched rows
    Listed with their rows and the closest village names; they refuse the
    whole import unless ``skip_unmatched`` (then the matched rows are stored
    and the rest reported).

Writing
    One transaction: the totals are upserted into ``village_population``
    (``source`` = the file name) and then spread over the buildings
    (:func:`geo.population.spread.spread_population`, for the towns the file
    touched). Anything refused leaves the database as it was.
"""

from __future__ import annotations

import difflib
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo import rules
from geo.entities import Entity, Field
from geo.errors import ImportRejected, NotFound, Problem, TableError
from geo.io.columns import map_columns, score_header
from geo.io.importer.cells import texts
from geo.io.importer.report import ImportOptions, ImportReport
from geo.io.importer.run import Run
from geo.io.importer.write import transaction
from geo.io.tables import read_table
from geo.population.spread import SpreadReport, spread_population
from geo.store.audit import write_audit

__all__ = ["TABLE", "PopulationImport", "Village", "import_village_population",
           "match_village", "name_key"]

#: The village table's columns, described like an entity of the registry (its
#: headers are matched by :mod:`geo.io.columns`); not an entity planners edit.
TABLE = Entity(
    "village_population", "population", "village-population", "village_population",
    "村（社区）常住人口", None, (
        Field("region_code", "region_code", "区划代码",
              ("行政区划代码", "统计用区划代码", "村居代码", "村（社区）代码", "代码", "编码",
               "code", "regioncode", "adcode"), import_name="code"),
        Field("name", "text", "村居名称",
              ("村（居）名称", "村（社区）名称", "社区名称", "村名称", "村委会名称", "居委会名称",
               "村（居）委会名称", "村居", "村（社区）", "名称", "name", "village"),
              column=False),
        Field("population", "number", "常住人口",
              ("常住人口数", "常住人口（人）", "常住人口数量", "人口", "人口数", "总人口",
               "普查常住人口", "population"), required=True),
        Field("year", "number", "年份", ("年度", "普查年份", "普查年度", "year")),
    ),
    soft_delete=False, updated_at=False, editable=False)

#: Words that make a count an estimate, not a census figure.
_ESTIMATE = re.compile(r"约|左右|大约|大概|余|多|以上|以下|不到|近|超过|上下|~|～|±")
_POPULATION_EXPECTED = "普查的常住人口（不小于 0 的整数，如 3120 或 3,120）"

#: Committee suffixes folded to the kind of village they name (longest first).
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("社区居民委员会", "社区"), ("社区居委会", "社区"), ("社区居委", "社区"),
    ("村民委员会", "村"), ("居民委员会", "社区"), ("村委会", "村"), ("居委会", "社区"),
    ("村委", "村"), ("居委", "社区"), ("社区", "社区"), ("村", "村"),
)
_REMARK = re.compile(r"[(\[【{<《][^)\]】}>》]*[)\]】}>》]")


# ====================================================================== names
def _plain(name: str) -> str:
    s = unicodedata.normalize("NFKC", str(name))
    s = _REMARK.sub("", s)
    return re.sub(r"\s+", "", s)


def _split(s: str) -> tuple[str, str | None]:
    """``(stem, kind)`` of a plain name: 「河村社区居委会」 → ``("河村", "社区")``."""
    for suffix, kind in _SUFFIXES:
        if s.endswith(suffix) and len(s) > len(suffix):
            return s[:-len(suffix)], kind
    return s, None


def name_key(name: str, towns: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """The key names are compared by: ``(stem, kind)`` after NFKC, without
    spaces or bracketed remarks, without a leading town name of ``towns``, the
    committee suffix folded (``kind`` ``村`` or ``社区``, ``None`` without one).

    >>> name_key("里水镇 河村社区居民委员会", ("里水镇",))
    ('河村', '社区')
    >>> name_key("鹤峰村委会") == name_key("鹤峰村")
    True
    """
    s = _plain(name)
    for town in sorted(towns, key=len, reverse=True):
        t = _plain(town)
        if t and s.startswith(t) and len(s) > len(t):
            s = s[len(t):]
            break
    return _split(s)


@dataclass(frozen=True)
class Village:
    """A village-level region rows can match."""

    code: str
    name: str
    town: str | None  # the name of the region above it

    @property
    def plain(self) -> str:
        return _plain(self.name)


def _villages(conn: Connection, region: str | None) -> list[Village]:
    if region is None:
        rows = conn.execute(text("""
            SELECT v.code, v.name, p.name AS town FROM regions v
            LEFT JOIN regions p ON p.code = v.parent_code
            WHERE v.level = 'village' ORDER BY v.code""")).all()
    else:
        if conn.execute(text("SELECT count(*) FROM regions WHERE code = :c"),
                        {"c": region}).scalar_one() == 0:
            raise NotFound(f"未找到编码为 {region!r} 的区划（见 GET /api/v1/regions）")
        rows = conn.execute(text("""
            WITH RECURSIVE tree AS (
                SELECT code, name, level, parent_code FROM regions WHERE code = :code
                UNION ALL
                SELECT r.code, r.name, r.level, r.parent_code
                FROM regions r JOIN tree t ON r.parent_code = t.code)
            SELECT v.code, v.name, p.name AS town FROM tree v
            LEFT JOIN regions p ON p.code = v.parent_code
            WHERE v.level = 'village' ORDER BY v.code"""), {"code": region}).all()
    return [Village(r.code, r.name, r.town) for r in rows]


def match_village(name: str, villages: list[Village]
                  ) -> tuple[list[Village], str]:
    """The villages a written name may mean, and how they were found.

    Returns
    -------
    (villages, how)
        ``how`` is ``exact`` (the same name), ``key`` (the same stem and kind:
        「鹤峰村」 for 「鹤峰村委会」), ``stem`` (the same stem only, or the whole
        name as a stem: 「沙涌村」 for 「沙涌社区居委会」) or ``none``. More than
        one village: the name is ambiguous.
    """
    towns = tuple(sorted({v.town for v in villages if v.town}))
    plain = _plain(name)
    exact = [v for v in villages if v.plain == plain]
    if exact:
        return exact, "exact"
    stem, kind = name_key(name, towns)
    keys = {v.code: name_key(v.name, towns) for v in villages}
    if kind is not None:
        same = [v for v in villages if keys[v.code] == (stem, kind)]
        if same:
            return same, "key"
    whole = name_key(name, towns)[0] if kind is None else stem + kind
    loose = [v for v in villages if keys[v.code][0] in (stem, whole)]
    return loose, ("stem" if loose else "none")


def _closest(name: str, villages: list[Village], n: int = 3) -> list[str]:
    towns = tuple(sorted({v.town for v in villages if v.town}))
    stem = name_key(name, towns)[0]
    by_stem: dict[str, list[str]] = {}
    for v in villages:
        by_stem.setdefault(name_key(v.name, towns)[0], []).append(v.name)
    near = difflib.get_close_matches(stem, list(by_stem), n=n, cutoff=0.5)
    return [nm for s in near for nm in by_stem[s]][:n]


# ====================================================================== the report
@dataclass
class PopulationImport(ImportReport):
    """An import of village census totals: the file as read, the rows matched
    (``matched``: row, name, code, village, population, year, how), the rows
    no village matched (``unmatched``: row, name, code, why, closest names)
    and, once written, the spread over the buildings (``spread``)."""

    region: str | None = None
    skip_unmatched: bool = False
    matched: list[dict[str, Any]] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    spread: SpreadReport | None = None

    def as_dict(self, *, include_rejects: bool = False) -> dict[str, Any]:
        out = super().as_dict(include_rejects=include_rejects)
        for k in ("crs", "crs_source", "rejects_file", "rejects_name"):
            out.pop(k, None)
        out.update({"region": self.region, "skip_unmatched": self.skip_unmatched,
                    "villages_matched": len(self.matched),
                    "people": sum(int(m["population"]) for m in self.matched),
                    "matched": list(self.matched), "unmatched": list(self.unmatched),
                    "spread": self.spread.as_dict() if self.spread else None})
        return out

    def to_text(self, *, max_problems: int = 50) -> str:
        lines = [f"导入报告：{self.file}（村（社区）常住人口）", self.file_line("工作表")]
        if self.region:
            lines.append(f"范围：区划 {self.region} 内的村（社区）")
        if self.columns:
            lines.append("列对应：" + "；".join(f"{c['column']} → {c['label']}"
                                            for c in self.columns))
        people = sum(int(m["population"]) for m in self.matched)
        lines.append(f"读取 {self.rows_read} 行：对应到村（社区）{len(self.matched)} 个"
                     f"（{people:,} 人），未能对应 {len(self.unmatched)} 行")
        if self.unmatched:
            lines.append("未能对应的名称：")
            for u in self.unmatched[:max_problems]:
                near = f"；最接近：{'、'.join(u['closest'])}" if u["closest"] else ""
                label = u["name"] or u["code"] or "（空）"
                lines.append(f"  - 第{u['row']}行 {label}：{u['reason']}{near}")
        if self.written or self.dry_run:
            verb = "将" if self.dry_run else ""
            lines.append(f"常住人口表：{verb}新增 {self.inserted}，{verb}更新 {self.updated}，"
                         f"未变 {self.unchanged}")
        for title, items in (("警告", self.warnings), ("错误", self.errors)):
            if not items:
                continue
            lines.append(f"{title}（{len(items)}）：")
            lines += [f"  - {p.message}" for p in items[:max_problems]]
            if len(items) > max_problems:
                more = len(items) - max_problems
                lines.append(f"  …… 另有 {more} 条{title}（完整列表见 --json）")
        if self.spread is not None:
            lines.append(self.spread.to_text())
        if self.dry_run:
            lines.append("演练模式（--dry-run）：数据库未做任何修改")
        elif self.written:
            lines.append("已写入数据库（单一事务）")
        else:
            hint = "；如需只导入能对应的行，请使用 --skip-unmatched" if self.unmatched and \
                not any(p.kind != "unknown_village" for p in self.errors) else ""
            lines.append(f"未写入任何数据{hint}")
        return "\n".join(lines)


# ====================================================================== the import
def _rejected(report: PopulationImport, t0: float) -> ImportRejected:
    report.duration_s = time.perf_counter() - t0
    report.errors.sort(key=lambda p: (p.row is not None, p.row or 0))  # file first, then rows
    message = None
    names = list(report.unmatched)
    if names and all(p.kind == "unknown_village" for p in report.errors):
        listed = "、".join(f"{u['name'] or u['code']}（第{u['row']}行）" for u in names[:20])
        more = f" 等 {len(names)} 行" if len(names) > 20 else ""
        message = (f"{report.file} 未导入：{len(names)} 行的村（社区）在数据库中找不到："
                   f"{listed}{more}；可用 --skip-unmatched 只导入能对应的行")
    return ImportRejected(report, message)


def _population(run: Run) -> np.ndarray:
    """The population column through its rule; estimates and empty cells refused."""
    f = TABLE.import_field("population")
    col = run.column_name("population")
    s = run.series("population")
    assert s is not None and col is not None
    cells = texts(s, optional=True)
    raw = s.tolist()
    keep = list(raw)
    for i, t in enumerate(cells):
        if t is None:
            run.error(i, col, "missing_value", "常住人口为空", value=raw[i],
                      expected=_POPULATION_EXPECTED)
            keep[i] = None
        elif _ESTIMATE.search(t):
            run.error(i, col, "estimated_number", f"的值 '{t}' 是估计数，不是普查人数",
                      value=raw[i], expected=_POPULATION_EXPECTED)
            keep[i] = None
    got = rules.check_column(f, keep, cells=True)
    for i, p in got.problems:
        p.expected = _POPULATION_EXPECTED
        run.refuse(i, col, f, p, raw[i])
    return np.array(got.values, dtype=object)


def _years(run: Run, default: int | None) -> np.ndarray:
    if not run.has("year"):
        return np.full(run.n, default, dtype=object)
    f = TABLE.import_field("year")
    col = run.column_name("year")
    s = run.series("year")
    assert s is not None
    cells = [None if t is None else re.sub(r"\s*年(度|份)?$", "", t)
             for t in texts(s, optional=True)]
    got = rules.check_column(f, cells, cells=True)
    for i, p in got.problems:
        run.refuse(i, col, f, p, s.tolist()[i])
    return np.array([default if v is None else v for v in got.values], dtype=object)


def _match(run: Run, report: PopulationImport, villages: list[Village],
           codes: np.ndarray | None, names: np.ndarray | None) -> np.ndarray:
    """The village of every row (None: unmatched or in error)."""
    by_code = {v.code: v for v in villages}
    out = np.full(run.n, None, dtype=object)
    name_col, code_col = run.column_name("name"), run.column_name("code")
    where = f"区划 {report.region} 内的" if report.region else ""
    known = _village_codes(run.conn) if codes is not None and report.region else set()
    first: dict[str, int] = {}
    for i in range(run.n):
        code = None if codes is None else codes[i]
        name = None if names is None else names[i]
        if code is None and name is None:
            if not run.bad[i]:
                run.error(i, name_col or code_col, "missing_value", "村居名称和区划代码都为空",
                          expected="村（社区）的名称或 12 位区划代码")
            continue
        if codes is not None and codes[i] is None and run.bad[i] and name is None:
            continue  # an invalid code, already an error
        village: Village | None = None
        if code is not None:
            village = by_code.get(code)
            if village is None:
                why = (f"区划代码 {code} 不是{where}村（社区）" if code in known
                       else f"区划代码 {code} 在数据库中找不到（或不是村级区划）")
                _unmatched(run, report, i, code_col, name, code, why, villages)
                continue
            if name is not None and match_village(name, [village])[1] == "none":
                run.warn(i, name_col, "name_differs",
                         f"的名称 '{name}' 与区划代码 {code} 的 {village.name} 不一致，按代码对应",
                         value=name)
        else:
            found, how = match_village(str(name), villages)
            if how == "none":
                _unmatched(run, report, i, name_col, name, None,
                           f"{where or '数据库中'}没有名为“{name}”的村（社区）", villages)
                continue
            if len(found) > 1:
                listed = "、".join(f"{v.town or ''}{v.name}（{v.code}）" for v in found)
                run.error(i, name_col, "ambiguous_village",
                          f"的名称 '{name}' 对应多个村（社区）：{listed}", value=name,
                          expected="加上区划代码列，或用 --region 指定镇街")
                continue
            village = found[0]
            if how == "stem":
                run.warn(i, name_col, "village_matched_by_stem",
                         f"的名称 '{name}' 按名称主干对应到 {village.name}（{village.code}）",
                         value=name)
        if village.code in first:
            j = first[village.code]
            run.error(i, name_col if codes is None or code is None else code_col,
                      "duplicate_village",
                      f"与第{int(run.row_numbers[j])}行是同一个村（社区）{village.name}"
                      f"（{village.code}）", value=name or code,
                      expected="每个村（社区）一行")
            continue
        first[village.code] = i
        out[i] = village
    return out


def _village_codes(conn: Connection) -> set[str]:
    """Every village-level code in the database."""
    return set(conn.execute(text("SELECT code FROM regions WHERE level = 'village'")).scalars())


def _unmatched(run: Run, report: PopulationImport, i: int, col: str | None, name: Any,
               code: Any, why: str, villages: list[Village]) -> None:
    closest = _closest(str(name), villages) if name else []
    report.unmatched.append({"row": int(run.row_numbers[i]), "name": name, "code": code,
                             "reason": why, "closest": closest})
    near = f"（最接近：{'、'.join(closest)}）" if closest else ""
    label = f"'{name}'" if name else f"'{code}'"
    if report.skip_unmatched:
        run.warn(i, col, "unknown_village", f"的村（社区）{label} 未导入：{why}{near}",
                 value=name or code)
    else:
        run.error(i, col, "unknown_village", f"的村（社区）{label} 找不到：{why}{near}",
                  value=name or code, expected="数据库中已有的村（社区）名称或区划代码")


def _required(run: Run, raw_file: str) -> list[Problem]:
    headers = "、".join(str(c) for c in run.raw.frame.columns) or "（无）"
    missing: list[tuple[str, str]] = []
    if not run.has("population"):
        f = TABLE.import_field("population")
        missing.append((f.label, "、".join(f.headers[:5])))
    if not run.has("name") and not run.has("code"):
        missing.append(("村居名称/区划代码", "村居名称、社区名称、名称 或 区划代码"))
    return [Problem(message=f"{raw_file} 缺少『{label}』列（文件中的列：{headers}）",
                    file=raw_file, sheet=run.raw.sheet, column=label,
                    expected=f"列名为 {aliases} 之一", kind="missing_column")
            for label, aliases in missing]


def import_village_population(
        conn: Connection, path: str | Path, *, name: str | None = None,
        region: str | None = None, skip_unmatched: bool = False, year: int | None = None,
        sheet: str | None = None, header_row: int | None = None, dry_run: bool = False,
        spread: bool = True, actor: str = "unknown") -> PopulationImport:
    """Import a table of village census totals and spread them over the buildings.

    Parameters
    ----------
    conn
        Connection; without an open transaction a new one is begun and
        committed, inside the caller's a savepoint is used.
    path
        The table: ``.csv`` (UTF-8, GBK …) or ``.xlsx``.
    name
        File name shown in messages and stored as ``source`` (an upload's
        original name); default ``path``'s.
    region
        Division code of a town (or county): match only its villages.
    skip_unmatched
        Store the rows that match a village and report the rest, instead of
        refusing the file.
    year
        Census year of rows without one (the file's 年份 column wins).
    sheet, header_row
        XLSX sheet; 1-based header row (default: detected).
    dry_run
        Check, match, write and spread in a savepoint that is rolled back.
    spread
        Spread the totals over the buildings of the towns touched.
    actor
        Who imports (the audit log).

    Returns
    -------
    PopulationImport
        Rows matched and unmatched, the upsert counts and the spread.

    Raises
    ------
    ImportRejected
        Nothing was written: an unreadable file, a missing column, a bad count,
        an ambiguous or repeated village, or (without ``skip_unmatched``) a row
        no village matches. ``exc.report`` is the full report.
    NotFound
        Unknown ``region``.
    """
    t0 = time.perf_counter()
    shown = name or Path(path).name
    report = PopulationImport(file=shown, entity=TABLE.plural, table=TABLE.table,
                              dry_run=dry_run, region=region, skip_unmatched=skip_unmatched)
    with transaction(conn):  # the reads too: a refused file rolls back to here
        _import(conn, path, report, t0, year=year, sheet=sheet, header_row=header_row,
                spread=spread, actor=actor)
    report.written = not dry_run
    report.duration_s = time.perf_counter() - t0
    return report


def _import(conn: Connection, path: str | Path, report: PopulationImport, t0: float, *,
            year: int | None, sheet: str | None, header_row: int | None, spread: bool,
            actor: str) -> None:
    shown, region, dry_run = report.file, report.region, report.dry_run
    villages = _villages(conn, region)
    try:
        raw = read_table(path, name=shown, sheet=sheet, score_header=score_header(TABLE),
                         header_row=header_row)
    except TableError as exc:
        report.errors.append(exc.problem)
        raise _rejected(report, t0) from None
    report.format, report.sheet, report.encoding = raw.format, raw.sheet, raw.encoding
    report.header_rows = list(raw.header_rows)
    report.rows_read = len(raw.frame)
    if raw.is_gis:
        report.errors.append(Problem(
            message=f"{shown} 是地图文件；常住人口表应为 CSV 或 Excel 表格", file=shown,
            value=raw.format, expected=".csv 或 .xlsx", kind="unsupported_format"))
        raise _rejected(report, t0)
    for note in raw.notes:
        report.warnings.append(Problem(message=note, file=shown, sheet=raw.sheet,
                                       kind="read_note"))
    cmap = map_columns([str(c) for c in raw.frame.columns], TABLE, None, file=shown,
                       sheet=raw.sheet)
    report.columns = cmap.entries
    report.unused_columns = cmap.unused
    report.ignored_columns = cmap.ignored
    report.errors.extend(cmap.problems)
    run = Run(conn, raw, TABLE, cmap, None, ImportOptions(), report)
    report.errors.extend(_required(run, shown))
    if report.errors:
        raise _rejected(report, t0)
    if cmap.unused:
        report.warnings.append(Problem(message=f"未使用的列：{'、'.join(cmap.unused)}",
                                       file=shown, sheet=raw.sheet, kind="unused_columns"))
    codes = run.field("code") if run.has("code") else None
    names = run.texts("name") if run.has("name") else None
    population = _population(run)
    years = _years(run, year)
    matched = _match(run, report, villages, codes, names)
    report.matched = [
        {"row": int(run.row_numbers[i]), "name": None if names is None else names[i],
         "code": None if codes is None else codes[i], "village_code": v.code,
         "village_name": v.name, "population": population[i], "year": years[i]}
        for i, v in enumerate(matched) if v is not None]
    report.rows_rejected = int(run.bad.sum())
    report.rows_valid = report.rows_read - report.rows_rejected
    if report.errors:
        raise _rejected(report, t0)
    if not report.matched:
        report.errors.append(Problem(
            message=f"{shown} 中没有一行能对应到数据库中的村（社区）", file=shown,
            sheet=raw.sheet, expected="数据库中已有的村（社区）名称或区划代码",
            kind="nothing_matched"))
        raise _rejected(report, t0)
    savepoint = conn.begin_nested() if dry_run else None
    try:
        _write(conn, report, shown)
        if spread:
            parents = dict(conn.execute(text(
                "SELECT code, parent_code FROM regions WHERE code = ANY(:c)"),
                {"c": [m["village_code"] for m in report.matched]}).all())
            areas = [region] if region else sorted(
                {parents.get(m["village_code"]) or m["village_code"] for m in report.matched})
            report.spread = spread_population(conn, areas=areas, actor=actor)
            report.spread.dry_run = dry_run
        write_audit(conn, actor=actor, action="import", entity=TABLE.table, after={
            "file": shown, "region": region, "rows_read": report.rows_read,
            "villages": [m["village_code"] for m in report.matched],
            "unmatched": [u["row"] for u in report.unmatched],
            "inserted": report.inserted, "updated": report.updated,
            "unchanged": report.unchanged})
    finally:
        if savepoint is not None:
            savepoint.rollback()


def _write(conn: Connection, report: PopulationImport, source: str) -> None:
    rows = conn.execute(text("""
        INSERT INTO village_population (region_code, population, year, source)
        SELECT * FROM unnest(CAST(:codes AS varchar[]), CAST(:pops AS integer[]),
                             CAST(:years AS smallint[]), CAST(:srcs AS text[]))
        ON CONFLICT (region_code) DO UPDATE
        SET population = EXCLUDED.population, year = EXCLUDED.year,
            source = EXCLUDED.source, imported_at = now()
        WHERE (village_population.population, village_population.year,
               village_population.source)
              IS DISTINCT FROM (EXCLUDED.population, EXCLUDED.year, EXCLUDED.source)
        RETURNING (xmax = 0) AS inserted"""), {
        "codes": [m["village_code"] for m in report.matched],
        "pops": [int(m["population"]) for m in report.matched],
        "years": [None if m["year"] is None else int(m["year"]) for m in report.matched],
        "srcs": [source] * len(report.matched)}).all()
    report.inserted = sum(1 for r in rows if r.inserted)
    report.updated = len(rows) - report.inserted
    report.unchanged = len(report.matched) - len(rows)
