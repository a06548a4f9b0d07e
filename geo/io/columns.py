"""Which column of a planner's file is which field: aliases and mapping files.

Every importable entity of the registry (:mod:`geo.entities`: ``points``,
``regions``, ``grids``, ``compounds``, ``buildings``, ``branches``) has its
fields, each with a Chinese label and Chinese and English aliases.  A header
matches a field when its normalised form (:func:`geo.io.tables.normalize_label`: full-width to
ASCII, lower case, bracketed remarks such as ``（GCJ-02）`` or ``（㎡）`` and
spaces/``*``/``_``/``-`` removed) equals a normalised alias.

Anything else is mapped with a *mapping file* (TOML or JSON)::

    # mapping.toml
    crs = "gcj02"            # optional: coordinate system of the file
    sheet = "阵地清单"        # optional: sheet (XLSX) or layer
    header_row = 3           # optional: 1-based header row, skips detection

    [columns]                # header as written in the file -> field name
    "站点名" = "name"
    "X坐标" = "lng"
    "Y坐标" = "lat"
    "填报人" = "ignore"      # drop this column silently

    [defaults]               # value for fields the file lacks (or leaves empty)
    kind = "党群服务站"

Field names are the import names of the entity's fields
(:attr:`geo.entities.Field.import_name`, listed in ``docs/data-formats.md``);
``ignore`` drops a column.  Mapping-file entries win
over aliases.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.entities import Entity, Field
from geo.entities import entity as entity_of
from geo.errors import Problem
from geo.io.tables import bracket_remark, normalize_label
from geo.vocab import crs_hints

__all__ = [
    "IGNORED_HEADERS",
    "ColumnMapping",
    "MappingFile",
    "crs_hint",
    "load_mapping",
    "map_columns",
    "score_header",
]


def _entity(spec: Entity | str) -> Entity:
    return spec if isinstance(spec, Entity) else entity_of(spec)


def _fields(spec: Entity) -> tuple[Field, ...]:
    return spec.import_fields


#: Headers that are never data (running numbers, export-only helper columns):
#: dropped silently instead of being reported as unused.
IGNORED_HEADERS: frozenset[str] = frozenset(
    normalize_label(h) for h in ("序号", "no", "#", "所属村居名称", "类型代码", "版本", "更新时间")
)

def crs_hint(label: str) -> str | None:
    """Coordinate system named in a header's remark (``经度（百度）`` -> ``"bd09"``).

    Parameters
    ----------
    label : str
        Column header as written.

    Returns
    -------
    str or None
        ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` or ``None``: the first
        system of :func:`geo.vocab.crs_hints` (the one table of hint words) in
        the bracketed remark.
    """
    remark = bracket_remark(label)
    if not remark:
        return None
    hints = crs_hints(remark)
    return hints[0][1] if hints else None


def _alias_index(spec: Entity) -> dict[str, str]:
    """Normalised header → import name of the field it names."""
    index: dict[str, str] = {}
    for f in _fields(spec):
        for a in f.headers:
            index.setdefault(normalize_label(a), f.import_name)
    return index


def score_header(spec: Entity | str,
                 mapping: MappingFile | None = None) -> Callable[[list[str]], int]:
    """A header-scoring function for :func:`geo.io.tables.read_table`.

    Parameters
    ----------
    spec : Entity or str
        The entity being imported.
    mapping : MappingFile, optional
        Its column names count as known headers too.

    Returns
    -------
    callable
        ``score(labels) -> int``: number of distinct fields the labels name.
    """
    index = _alias_index(_entity(spec))
    extra = {normalize_label(k): v for k, v in (mapping.columns if mapping else {}).items()}

    def score(labels: list[str]) -> int:
        found: set[str] = set()
        for lb in labels:
            key = normalize_label(lb)
            target = extra.get(key) or index.get(key)
            if target and target != "ignore":
                found.add(target)
        return len(found)

    return score


@dataclass
class MappingFile:
    """A parsed mapping file.

    Attributes
    ----------
    columns : dict of str to str
        Header as written -> field name (or ``"ignore"``).
    defaults : dict of str to Any
        Field name -> value used where the column is missing or empty.
    crs : str or None
        Coordinate system of the file's coordinates.
    sheet : str or None
        Sheet or layer to read.
    header_row : int or None
        1-based header row.
    path : str or None
        Where it was read from.
    """

    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    crs: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    path: str | None = None


def _mapping_problem(path: str, message: str, value: Any = None,
                     expected: str | None = None) -> Problem:
    return Problem(message=message, file=path, value=value, expected=expected,
                         kind="invalid_mapping_file")


def load_mapping(path: str | Path, entity: Entity | str
                 ) -> tuple[MappingFile | None, list[Problem]]:
    """Read and check a mapping file (``.toml`` or ``.json``).

    Parameters
    ----------
    path : str or pathlib.Path
        The mapping file.
    entity : str
        The entity imported (field names are checked against it).

    Returns
    -------
    mapping : MappingFile or None
        ``None`` when the file cannot be used.
    problems : list of Problem
        File-level problems (kind ``invalid_mapping_file``), empty when fine.
    """
    p = Path(path)
    shown = p.name
    spec = _entity(entity)
    names = tuple(f.import_name for f in _fields(spec))
    try:
        raw = p.read_bytes()
        if p.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8-sig"))
        else:
            data = tomllib.loads(raw.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, [_mapping_problem(shown, f"映射文件 {shown} 无法读取：{str(exc)[:160]}",
                                       expected="UTF-8 编码的 TOML 或 JSON 文件")]
    if not isinstance(data, dict):
        return None, [_mapping_problem(shown, f"映射文件 {shown} 的内容应为键值表",
                                       expected="[columns] 表")]
    problems: list[Problem] = []
    allowed_keys = {"columns", "defaults", "crs", "sheet", "header_row"}
    for key in data:
        if key not in allowed_keys:
            problems.append(_mapping_problem(
                shown, f"映射文件 {shown} 中有未知的设置项“{key}”", value=key,
                expected="、".join(sorted(allowed_keys))))
    fields = set(names)
    allowed = "、".join([*names, "ignore"])
    columns = data.get("columns", {}) or {}
    defaults = data.get("defaults", {}) or {}
    if not isinstance(columns, dict) or not isinstance(defaults, dict):
        problems.append(_mapping_problem(shown,
                                         f"映射文件 {shown} 中 columns 和 defaults 应为键值表",
                                         expected="[columns] 和 [defaults] 表"))
        return None, problems
    for header, target in columns.items():
        if not isinstance(target, str) or (target not in fields and target != "ignore"):
            problems.append(_mapping_problem(
                shown, f"映射文件 {shown} 把列“{header}”对应到未知字段“{target}”",
                value=target, expected=f"{spec.label}的字段之一：{allowed}"))
    for name in defaults:
        if name not in fields:
            problems.append(_mapping_problem(
                shown, f"映射文件 {shown} 的 defaults 中有未知字段“{name}”", value=name,
                expected=f"{spec.label}的字段之一：{'、'.join(names)}"))
    header_row = data.get("header_row")
    if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
        problems.append(_mapping_problem(shown, f"映射文件 {shown} 的 header_row 应为正整数",
                                         value=header_row, expected="1、2、3 …"))
        header_row = None
    if problems:
        return None, problems
    return MappingFile(columns={str(k): str(v) for k, v in columns.items()},
                       defaults=dict(defaults), crs=data.get("crs"), sheet=data.get("sheet"),
                       header_row=header_row, path=shown), []


@dataclass
class ColumnMapping:
    """Which source column feeds which field.

    Attributes
    ----------
    fields : dict of str to str
        Field name -> source column (header as written).
    entries : list of dict
        One per mapped column: ``column``, ``field``, ``label``, ``via``
        (``"alias"`` or ``"mapping"``), for the report.
    unused : list of str
        Source columns that feed no field (kept in ``properties`` where the
        entity keeps properties).
    ignored : list of str
        Columns dropped on purpose (``ignore`` in the mapping file, running
        numbers such as ``序号``).
    problems : list of Problem
        File-level problems (two columns for one field).
    """

    fields: dict[str, str] = field(default_factory=dict)
    entries: list[dict[str, str]] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def map_columns(headers: list[str], entity: Entity | str, mapping: MappingFile | None = None, *,
                file: str | None = None, sheet: str | None = None) -> ColumnMapping:
    """Match a file's headers to an entity's fields.

    Parameters
    ----------
    headers : list of str
        Column headers as written (attribute columns only).
    entity : Entity or str
        An importable entity of :mod:`geo.entities` (or its key).
    mapping : MappingFile, optional
        Explicit header -> field entries; they win over aliases.
    file, sheet : str, optional
        For the problems' location.

    Returns
    -------
    ColumnMapping
        With a ``duplicate_column`` problem for every field claimed by two
        columns (nothing is guessed).
    """
    spec = _entity(entity)
    index = _alias_index(spec)
    explicit = {normalize_label(k): v for k, v in (mapping.columns if mapping else {}).items()}
    out = ColumnMapping()
    claimed: dict[str, str] = {}
    for header in headers:
        key = normalize_label(header)
        via = "mapping"
        target = explicit.get(key)
        if target is None:
            target = index.get(key)
            via = "alias"
        if target == "ignore" or (target is None and key in IGNORED_HEADERS):
            out.ignored.append(header)
            continue
        if target is None:
            out.unused.append(header)
            continue
        if target in claimed:
            f = spec.import_field(target)
            out.problems.append(Problem(
                message=f"“{claimed[target]}”和“{header}”两列都对应字段『{f.label}』({target})，"
                        "无法确定使用哪一列",
                file=file, sheet=sheet, column=header, value=header,
                expected="只保留一列，或在映射文件中把另一列设为 ignore", kind="duplicate_column"))
            continue
        claimed[target] = header
        out.fields[target] = header
        out.entries.append({"column": header, "field": target,
                            "label": spec.import_field(target).label,
                            "via": via})
    return out
