"""Which column of a planner's file is which field: aliases and mapping files.

Every importable entity (:data:`ENTITIES`: ``points``, ``regions``, ``grids``,
``compounds``, ``buildings``, ``branches``) has a list of :class:`FieldSpec`;
each field has Chinese and English aliases.  A header matches a field when
its normalised form (:func:`geo.io.tables.normalize_label`: full-width to
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

Field names are the ``name`` of the entity's :class:`FieldSpec` (listed in
``docs/data-formats.md``); ``ignore`` drops a column.  Mapping-file entries win
over aliases.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.errors import Problem
from geo.io.tables import bracket_remark, normalize_label

__all__ = [
    "ENTITIES",
    "IGNORED_HEADERS",
    "ColumnMapping",
    "EntitySpec",
    "FieldSpec",
    "MappingFile",
    "crs_hint",
    "load_mapping",
    "map_columns",
    "score_header",
]


@dataclass(frozen=True)
class FieldSpec:
    """One importable field.

    Attributes
    ----------
    name : str
        Canonical field name (used in mapping files and the report).
    label : str
        Chinese label used in messages.
    type : str
        Parser: ``code``, ``text``, ``kind``, ``services``, ``region``,
        ``float``, ``int``, ``bool``, ``hours``, ``phone``, ``stars``, ``lng``,
        ``lat``, ``lnglat``, ``wkt``, ``level``, ``region_code``,
        ``grid_kind``, ``compound``, ``compound_list``.
    aliases : tuple of str
        Header spellings (Chinese and English) recognised without a mapping.
    """

    name: str
    label: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class EntitySpec:
    """An importable entity: its table, fields and geometry.

    Attributes
    ----------
    name : str
        ``points``, ``regions``, ``grids``, ``compounds``, ``buildings`` or ``branches``.
    label : str
        Chinese name.
    table : str
        Database table written.
    fields : tuple of FieldSpec
        Importable fields.
    geometry : str or None
        ``"point"``, ``"polygon"`` or ``None`` (no geometry).
    keeps_properties : bool
        Whether unmapped columns are kept in the table's ``properties`` JSONB.
    code_prefix : str
        Prefix of codes generated when the file has no code column.
    """

    name: str
    label: str
    table: str
    fields: tuple[FieldSpec, ...]
    geometry: str | None
    keeps_properties: bool = False
    code_prefix: str = ""

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of all fields."""
        return tuple(f.name for f in self.fields)


_CODE = ("编码", "编号", "代码", "code", "id")
_REGION = ("所属村居", "所属社区", "所属村", "所属村社区", "所属村居委", "所属村委会", "所属居委会",
           "村居", "村社区", "村", "社区", "村居名称", "所属区域", "所属行政区", "区划代码",
           "行政区划代码", "村居代码", "region", "regioncode", "village", "community")
_HOUSEHOLDS = ("户数", "住户数", "总户数", "住户", "households")
_POPULATION = ("人口", "人数", "常住人口", "居住人口", "总人口", "人口数", "population")
_WKT = FieldSpec("wkt", "几何(WKT)", "wkt",
                 ("wkt", "geometry", "geom", "几何", "边界", "范围", "空间范围", "图形", "shape"))

ENTITIES: dict[str, EntitySpec] = {
    "points": EntitySpec(
        "points", "服务阵地", "service_points", (
            FieldSpec("code", "编码", "code",
                      _CODE + ("阵地编码", "阵地编号", "点位编码", "站点编码")),
            FieldSpec("name", "名称", "text",
                      ("名称", "阵地名称", "站点名称", "点位名称", "服务阵地名称", "阵地", "name",
                       "title")),
            FieldSpec("kind", "类型", "kind",
                      ("类型", "阵地类型", "类别", "分类", "阵地类别", "kind", "type",
                       "category")),
            FieldSpec("region", "所属村居", "region", _REGION),
            FieldSpec("address", "地址", "text",
                      ("地址", "详细地址", "位置", "地点", "所在地址", "address", "addr")),
            FieldSpec("lng", "经度", "lng",
                      ("经度", "东经", "lng", "lon", "long", "longitude", "x", "x坐标")),
            FieldSpec("lat", "纬度", "lat",
                      ("纬度", "北纬", "lat", "latitude", "y", "y坐标")),
            FieldSpec("lnglat", "经纬度", "lnglat",
                      ("经纬度", "坐标", "经纬度坐标", "位置坐标", "lnglat", "lonlat", "lnglat坐标",
                       "coordinates", "coords", "location")),
            FieldSpec("hours", "开放时间", "hours",
                      ("开放时间", "服务时间", "办公时间", "营业时间", "开放时段", "hours",
                       "openinghours", "openhours")),
            FieldSpec("services", "服务内容", "services",
                      ("服务内容", "服务项目", "服务功能", "功能", "服务", "services", "service")),
            FieldSpec("phone", "联系电话", "phone",
                      ("联系电话", "电话", "联系方式", "咨询电话", "服务电话", "phone", "tel",
                       "telephone")),
            FieldSpec("rooms", "房间数", "int",
                      ("房间数", "功能室数量", "功能室数", "功能室", "房间", "rooms")),
            FieldSpec("floor_area_m2", "面积", "float",
                      ("面积", "建筑面积", "使用面积", "阵地面积", "floorarea", "flooraream2",
                       "area")),
            FieldSpec("stars", "星级", "stars", ("星级", "星级评定", "stars", "star", "rating")),
        ),
        geometry="point", keeps_properties=True, code_prefix="P"),
    "regions": EntitySpec(
        "regions", "行政区划", "regions", (
            FieldSpec("code", "区划代码", "region_code",
                      ("区划代码", "行政区划代码", "统计用区划代码", "代码", "编码", "code",
                       "adcode")),
            FieldSpec("name", "名称", "text",
                      ("名称", "区划名称", "村居名称", "村名称", "社区名称", "镇街名称", "name")),
            FieldSpec("level", "级别", "level", ("级别", "层级", "类型", "level")),
            FieldSpec("parent", "上级代码", "region_code",
                      ("上级代码", "上级区划代码", "上级", "所属镇街代码", "parent", "parentcode")),
            _WKT,
        ),
        geometry="polygon", keeps_properties=True),
    "grids": EntitySpec(
        "grids", "网格", "grid_cells", (
            FieldSpec("code", "网格编码", "code", ("网格编码", "网格编号", "网格代码") + _CODE),
            FieldSpec("name", "网格名称", "text", ("网格名称", "名称", "网格", "name")),
            FieldSpec("region", "所属村居", "region", _REGION),
            FieldSpec("kind", "网格类型", "grid_kind", ("网格类型", "类型", "kind", "type")),
            FieldSpec("workers", "网格员人数", "int",
                      ("网格员人数", "网格员数", "网格员数量", "专兼职网格员", "网格员",
                       "workers")),
            FieldSpec("has_branch", "是否有党支部", "bool",
                      ("是否有党支部", "有无党支部", "是否建立党支部", "是否建有党支部", "党支部",
                       "hasbranch")),
            _WKT,
        ),
        geometry="polygon", code_prefix="G"),
    "compounds": EntitySpec(
        "compounds", "住宅小区", "compounds", (
            FieldSpec("code", "小区编码", "code", ("小区编码", "小区编号", "小区代码") + _CODE),
            FieldSpec("name", "小区名称", "text", ("小区名称", "名称", "小区", "name")),
            FieldSpec("region", "所属村居", "region", _REGION),
            FieldSpec("households", "户数", "int", _HOUSEHOLDS),
            FieldSpec("population", "人口", "int", _POPULATION),
            _WKT,
        ),
        geometry="polygon", code_prefix="C"),
    "buildings": EntitySpec(
        "buildings", "楼栋", "buildings", (
            FieldSpec("code", "楼栋编码", "code",
                      ("楼栋编码", "楼栋编号", "建筑编码", "建筑编号") + _CODE),
            FieldSpec("compound", "所属小区", "compound",
                      ("所属小区", "所属小区编码", "小区编码", "小区", "小区名称", "compound",
                       "compoundcode")),
            FieldSpec("households", "户数", "int", _HOUSEHOLDS),
            FieldSpec("population", "人口", "int", _POPULATION),
            _WKT,
        ),
        geometry="polygon", code_prefix="B"),
    "branches": EntitySpec(
        "branches", "党支部", "party_branches", (
            FieldSpec("code", "支部编码", "code",
                      ("支部编码", "党支部编码", "组织编码", "党组织编码", "支部编号") + _CODE),
            FieldSpec("name", "支部名称", "text",
                      ("支部名称", "党支部名称", "党组织名称", "组织名称", "名称", "name")),
            FieldSpec("region", "所属村居", "region", _REGION),
            FieldSpec("seat_compound", "驻地小区", "compound",
                      ("驻地小区", "所在小区", "驻地小区编码", "seatcompound", "seatcompoundcode")),
            FieldSpec("compounds", "覆盖小区", "compound_list",
                      ("覆盖小区", "联系小区", "所辖小区", "覆盖的小区", "覆盖小区编码",
                       "compounds",
                       "compoundcodes")),
        ),
        geometry=None, code_prefix="PB"),
}

#: Headers that are never data (running numbers, export-only helper columns):
#: dropped silently instead of being reported as unused.
IGNORED_HEADERS: frozenset[str] = frozenset(
    normalize_label(h) for h in ("序号", "no", "#", "所属村居名称", "类型代码", "版本", "更新时间")
)

_CRS_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("百度", "bd09", "bd-09", "baidu"), "bd09"),
    (("高德", "腾讯", "gcj", "火星", "amap", "qq"), "gcj02"),
    (("cgcs2000", "2000", "天地图", "国家大地"), "cgcs2000"),
    (("wgs84", "wgs-84", "gps"), "wgs84"),
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
        ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000`` or ``None``.
    """
    remark = bracket_remark(label).lower()
    if not remark:
        return None
    for words, name in _CRS_HINTS:
        if any(w in remark for w in words):
            return name
    return None


def _alias_index(spec: EntitySpec) -> dict[str, str]:
    index: dict[str, str] = {}
    for f in spec.fields:
        for a in f.aliases:
            index.setdefault(normalize_label(a), f.name)
    return index


def score_header(spec: EntitySpec,
                 mapping: MappingFile | None = None) -> Callable[[list[str]], int]:
    """A header-scoring function for :func:`geo.io.tables.read_table`.

    Parameters
    ----------
    spec : EntitySpec
        The entity being imported.
    mapping : MappingFile, optional
        Its column names count as known headers too.

    Returns
    -------
    callable
        ``score(labels) -> int``: number of distinct fields the labels name.
    """
    index = _alias_index(spec)
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


def load_mapping(path: str | Path, entity: str) -> tuple[MappingFile | None, list[Problem]]:
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
    spec = ENTITIES[entity]
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
    fields = set(spec.field_names)
    allowed = "、".join([*spec.field_names, "ignore"])
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
                expected=f"{spec.label}的字段之一：{'、'.join(spec.field_names)}"))
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


def map_columns(headers: list[str], entity: str, mapping: MappingFile | None = None, *,
                file: str | None = None, sheet: str | None = None) -> ColumnMapping:
    """Match a file's headers to an entity's fields.

    Parameters
    ----------
    headers : list of str
        Column headers as written (attribute columns only).
    entity : str
        One of :data:`ENTITIES`.
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
    spec = ENTITIES[entity]
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
            f = spec.field(target)
            out.problems.append(Problem(
                message=f"“{claimed[target]}”和“{header}”两列都对应字段『{f.label}』({target})，"
                        "无法确定使用哪一列",
                file=file, sheet=sheet, column=header, value=header,
                expected="只保留一列，或在映射文件中把另一列设为 ignore", kind="duplicate_column"))
            continue
        claimed[target] = header
        out.fields[target] = header
        out.entries.append({"column": header, "field": target, "label": spec.field(target).label,
                            "via": via})
    return out
