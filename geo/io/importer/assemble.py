"""From a file's columns to rows of an entity, ready to write.

Fields whose rule needs nothing but the value (texts, kinds, services,
numbers, phones, stars, yes/no, opening hours) go through
:func:`geo.rules.check_column` for every field of the entity the file carries
(:func:`rule_fields`); what needs more is assembled here per entity: codes
(given or generated), references to regions and compounds, geometry and the
location checks, regions' levels and parents.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import shapely
from sqlalchemy import text

from geo.errors import Problem
from geo.io.importer.cells import code_hash, texts
from geo.io.importer.geometry import file_polygons, overlaps, point_geometry
from geo.io.importer.references import (
    Regions,
    check_towns,
    compound_refs,
    load_compounds,
    locate,
    regions_of,
)
from geo.io.importer.run import Run

__all__ = ["Rows", "assemble", "required_columns"]

#: Kinds checked by their rule alone (the rest are assembled below).
_RULE_KINDS = frozenset({"text", "hours_text", "point_kind", "grid_kind", "level", "services",
                         "number", "stars", "phone", "bool", "org_kind", "mobile", "datetime"})
_LEVEL_OF_LENGTH = {6: "county", 9: "town", 12: "village"}


@dataclass
class Rows:
    """Validated rows ready to write: DB column -> per-row values."""

    values: dict[str, np.ndarray]
    #: columns updated only when the new value is not NULL (beyond the registry's)
    coalesce: set[str] = field(default_factory=set)
    #: party branch -> covered compounds (branches only; None: not provided)
    compound_sets: np.ndarray | None = None


def rule_fields(run: Run, values: dict[str, np.ndarray], *, skip: tuple[str, ...] = ()) -> None:
    """Every field of the entity the file carries whose rule needs only the value."""
    for f in run.spec.import_fields:
        if f.kind not in _RULE_KINDS or f.name in skip or not run.has(f.import_name) \
                or f.column is None:
            continue
        values[f.column] = run.field(f.import_name)
        if f.kind == "hours_text":
            values["hours"] = run.parsed[f.import_name]


def codes(run: Run, names: np.ndarray | None, region_raw: np.ndarray | None,
          geoms: np.ndarray | None) -> np.ndarray:
    """The code column, or generated codes (with a warning) when the file has none."""
    if run.has("code"):
        got = run.field("code")
        assert got is not None
        return got
    out = np.empty(run.n, dtype=object)
    prefix = run.spec.code_prefix
    if names is not None:
        for i in range(run.n):
            if names[i] is None:
                out[i] = None
                continue
            region = "" if region_raw is None or region_raw[i] is None else str(region_raw[i])
            out[i] = f"{prefix}-{code_hash(run.spec.plural, region, str(names[i]))}"
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


def duplicates(run: Run, codes: np.ndarray, column: str | None) -> None:
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


def properties(run: Run) -> np.ndarray:
    """The file's unmatched columns of each row (kept in ``properties``)."""
    cols = run.cmap.unused
    data = {c: texts(run.raw.frame[c], optional=False) for c in cols}
    out = np.empty(run.n, dtype=object)
    for i in range(run.n):
        out[i] = {c: data[c][i] for c in cols if data[c][i] is not None}
    return out


def _points(run: Run, regions: Regions, in_crs: str) -> Rows:
    names = run.field("name")
    geoms = point_geometry(run, in_crs)
    region_codes, region_raw = regions_of(run, regions, reps=geoms)
    values: dict[str, np.ndarray] = {"code": codes(run, names, region_raw, None)}
    duplicates(run, values["code"], run.column_name("code"))
    values["name"] = names
    rule_fields(run, values, skip=("name",))
    check_towns(run, geoms, region_codes)
    values["region_code"] = locate(run, geoms, region_codes, check=True, label="位置")
    overlaps(run, geoms, values["code"])
    values["geom"] = geoms
    values["source_crs"] = np.full(run.n, in_crs, dtype=object)
    if run.spec.keeps_properties and run.cmap.unused:
        values["properties"] = properties(run)
    return Rows(values)


def _areas(run: Run, regions: Regions | None, in_crs: str) -> Rows:
    """Grid cells, compounds and buildings: polygons with a region (not buildings)."""
    names = run.field("name") if run.spec.has("name") and run.has("name") else None
    geoms = file_polygons(run, in_crs, required=True)
    if geoms is None:
        geoms = np.full(run.n, None, dtype=object)
    reps = np.full(run.n, None, dtype=object)
    present = shapely.get_type_id(geoms) >= 0
    if present.any():
        reps[present] = shapely.point_on_surface(geoms[present])
    region_codes = region_raw = None
    if regions is not None:
        region_codes, region_raw = regions_of(run, regions, reps=reps)
    values: dict[str, np.ndarray] = {"code": codes(run, names, region_raw, geoms)}
    duplicates(run, values["code"], run.column_name("code"))
    if names is not None:
        values["name"] = names
    if regions is not None:
        assert region_codes is not None
        check_towns(run, reps, region_codes)
        values["region_code"] = locate(run, reps, region_codes, check=False, label="范围")
    values["geom"] = geoms
    rule_fields(run, values, skip=("name",))
    if run.spec.has("compound_code") and run.has("compound"):
        values["compound_code"] = compound_refs(run, "compound", load_compounds(run.conn),
                                                many=False)
    return Rows(values)


def _branches(run: Run, regions: Regions) -> Rows:
    names = run.field("name")
    region_codes, region_raw = regions_of(run, regions)
    values: dict[str, np.ndarray] = {"code": codes(run, names, region_raw, None)}
    duplicates(run, values["code"], run.column_name("code"))
    values["name"] = names
    rule_fields(run, values, skip=("name",))
    if run.has("region"):
        values["region_code"] = region_codes
    known = load_compounds(run.conn) if run.has("seat_compound") or run.has("compounds") \
        else None
    if run.has("seat_compound"):
        assert known is not None
        values["seat_compound_code"] = compound_refs(run, "seat_compound", known, many=False)
    sets = None
    if run.has("compounds"):
        assert known is not None
        sets = compound_refs(run, "compounds", known, many=True)
    return Rows(values, compound_sets=sets)


def _known(run: Run, table: str, column: str, label: str, values: np.ndarray | None) -> None:
    """Rows whose reference (a party branch, an organisation) is not stored are refused."""
    if values is None:
        return
    wanted = sorted({str(v) for v in values if v is not None})
    found = {str(r[0]) for r in run.conn.execute(text(
        f'SELECT code FROM "{table}" WHERE code = ANY(:c)'), {"c": wanted})} if wanted else set()
    col = run.column_name(column)
    for i, v in enumerate(values):
        if v is not None and not run.bad[i] and str(v) not in found:
            run.error(i, col, f"unknown_{column}", f"的{label} '{v}' 不存在", value=str(v),
                      expected=f"已登记的{label}编码（先导入{label}）")


def _orgs(run: Run, regions: Regions) -> Rows:
    names = run.field("name")
    region_codes, region_raw = regions_of(run, regions)
    values: dict[str, np.ndarray] = {"code": codes(run, names, region_raw, None)}
    duplicates(run, values["code"], run.column_name("code"))
    rule_fields(run, values)
    values["region_code"] = region_codes
    if run.has("branch"):
        values["branch_code"] = run.field("branch")
        _known(run, "party_branches", "branch", "党支部", values["branch_code"])
    return Rows(values)


def _members(run: Run, regions: Regions) -> Rows:
    region_codes, _ = regions_of(run, regions)
    values: dict[str, np.ndarray] = {"code": codes(run, None, None, None)}
    duplicates(run, values["code"], run.column_name("code"))
    rule_fields(run, values)
    values["region_code"] = region_codes
    if run.has("org"):
        values["org_code"] = run.field("org")
        _known(run, "party_orgs", "org", "党组织", values["org_code"])
    if run.has("name") or run.has("phone"):
        # personal data: the member's name and mobile, merged into ``private``
        checked = {k: run.field(k) for k in ("name", "phone") if run.has(k)}
        values["private"] = np.array([
            {k: checked[k][i] for k in checked if checked[k][i] is not None}
            for i in range(run.n)], dtype=object)
    return Rows(values)


def _activities(run: Run) -> Rows:
    """Activities at positions (月月有活动): a position's code, a title, start and
    end (an Excel date-time or ISO 8601 text; without a zone, Beijing time)."""
    values: dict[str, np.ndarray] = {}
    rule_fields(run, values)
    points = run.field("point")
    values["point_code"] = points
    _known(run, "service_points", "point", "阵地", points)
    if run.has("code"):
        values["code"] = run.field("code")
    else:  # the same position, title and start give the same code on every import
        out = np.full(run.n, None, dtype=object)
        for i in range(run.n):
            if points[i] is not None and values["title"][i] is not None \
                    and values["starts_at"][i] is not None:
                out[i] = "A-" + code_hash("activities", str(points[i]),
                                          f"{values['title'][i]}@{values['starts_at'][i]}")
        values["code"] = out
        run.warn(None, None, "codes_generated",
                 f"{run.raw.file} 没有活动编号列，已按举办阵地、活动名称和开始时间生成编号")
    duplicates(run, values["code"], run.column_name("code"))
    starts, ends = values["starts_at"], values["ends_at"]
    cap, signups = values.get("capacity"), values.get("signups")
    for i in range(run.n):
        if run.bad[i]:
            continue
        if starts[i] is not None and ends[i] is not None and ends[i] <= starts[i]:
            run.error(i, run.column_name("ends_at"), "invalid_range", "的结束时间不晚于开始时间",
                      value=str(ends[i]), expected=f"晚于 {starts[i]} 的时间")
        elif cap is not None and signups is not None and cap[i] is not None \
                and signups[i] is not None and signups[i] > cap[i]:
            run.error(i, run.column_name("signups"), "out_of_range", "的报名人数超过名额",
                      value=signups[i], expected=f"不超过 {cap[i]}")
    return Rows(values)


def _regions(run: Run, regions: Regions, in_crs: str) -> Rows:
    values: dict[str, np.ndarray] = {"code": codes(run, None, None, None)}
    duplicates(run, values["code"], run.column_name("code"))
    rule_fields(run, values)
    given = values.get("level")
    values["level"] = np.array([
        (given[i] if given is not None else None)
        or (_LEVEL_OF_LENGTH.get(len(c)) if c is not None else None)
        for i, c in enumerate(values["code"])], dtype=object)
    in_file = {c for c in values["code"] if c is not None}
    parents = np.full(run.n, None, dtype=object)
    pcol = run.column_name("parent")
    declared = run.field("parent") if run.has("parent") else None
    missing_derived = 0
    for i, c in enumerate(values["code"]):
        if c is None or run.bad[i]:
            continue
        p = None if declared is None else declared[i]
        if p is not None:
            if p not in in_file and p not in regions.codes:
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
    geoms = file_polygons(run, in_crs, required=False) \
        if (run.raw.geometry is not None or run.has("wkt")) else None
    if geoms is not None:
        values["geom"] = geoms
    if run.spec.keeps_properties and run.cmap.unused:
        values["properties"] = properties(run)
    return Rows(values, coalesce={"geom"})


def assemble(run: Run, regions: Regions, in_crs: str) -> Rows:
    """The rows of the file for its entity (problems recorded in ``run``)."""
    name = run.spec.name
    if name == "point":
        return _points(run, regions, in_crs)
    if name == "region":
        return _regions(run, regions, in_crs)
    if name == "branch":
        return _branches(run, regions)
    if name == "org":
        return _orgs(run, regions)
    if name == "member":
        return _members(run, regions)
    if name == "activity":
        return _activities(run)
    return _areas(run, regions if run.spec.region == "column" else None, in_crs)


def required_columns(run: Run) -> list[Problem]:
    """File-level problems: columns the entity needs that the file lacks."""
    spec = run.spec
    raw = run.raw
    missing: list[tuple[str, str]] = []

    def need(fld: str) -> None:
        if not run.has(fld):
            f = spec.import_field(fld)
            missing.append((f.label, "、".join(f.headers[:6])))

    if spec.name == "point":
        need("name")
        need("kind")
        has_xy = run.has("lng") and run.has("lat")
        if not (has_xy or run.has("lnglat") or raw.geometry is not None):
            if run.has("lng") or run.has("lat"):
                need("lng")
                need("lat")
            else:
                missing.append(("经度/纬度", "经度 + 纬度，或 经纬度"))
    elif spec.name == "region":
        need("code")
        need("name")
    elif spec.name in ("grid_cell", "compound", "building"):
        if spec.name != "building" and not run.has("code"):
            need("name")
        if raw.geometry is None and not run.has("wkt"):
            missing.append(("几何图形", "GIS 文件（GeoJSON/Shapefile/GeoPackage/KML）或 WKT 列"))
    elif spec.name in ("branch", "org"):
        need("name")
    elif spec.name == "member":
        need("code")
    elif spec.name == "activity":
        for fld in ("point", "title", "starts_at", "ends_at"):
            need(fld)
    headers = "、".join(str(c) for c in raw.frame.columns) or "（无）"
    return [Problem(message=f"{raw.file} 缺少『{label}』列（文件中的列：{headers}）",
                    file=raw.file, sheet=raw.sheet, column=label, value=None,
                    expected=f"列名为 {aliases} 之一，或在映射文件中指定",
                    kind="missing_column") for label, aliases in missing]
