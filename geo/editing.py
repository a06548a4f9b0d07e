"""Validated edits of the store of record, with audit and invalidation.

Planners create, update, move, (soft-)delete and restore service points,
compounds, buildings, grid cells and party branches.  Every function here:

1. checks that the acting :class:`geo.tokens.Principal` may edit the row's
   region, before the edit (the stored row) and after it (the new values);
2. validates the input with the importers' rules (:mod:`geo.rules`: the same
   limits, vocabularies with Chinese aliases, phone and code formats,
   coordinate box) — every problem of one request is collected into one
   :class:`geo.errors.InvalidInput` (field, value, expected) before anything
   is written;
3. writes, records who/when/before/after in ``audit_log``, and calls
   :func:`invalidate_for_change`, which drops exactly the derived results the
   change makes stale.

Deleting is soft (``deleted_at``); :func:`restore` undoes it.  Geometries arrive
as GeoJSON in a declared coordinate system (``wgs84``, ``gcj02``, ``bd09``,
``cgcs2000``) and are stored in WGS-84.  A self-intersecting polygon is
refused with the location of the problem, or repaired with PostGIS
``ST_MakeValid`` when the caller asks (``repair=True``).

The caller owns the transaction: on any error nothing has been written that
the caller's rollback does not undo.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape as shapely_shape
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from geo import rules
from geo.crs import normalize_crs_name, transform_geometry
from geo.entities import Entity, Field, entity
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from geo.points import convert_geojson
from geo.regions import operating_area, scope_area, town_geometry_of
from geo.store import versions
from geo.store.audit import write_audit
from geo.tokens import Principal
from geo.vocab import INPUT_CRS

__all__ = [
    "EditResult",
    "check_text",
    "create",
    "delete",
    "get_entity",
    "invalidate_for_change",
    "list_entities",
    "move",
    "parse_geometry",
    "restore",
    "update",
]


#: A new or moved geometry may lie at most this far outside its town (metres).
TOWN_TOLERANCE_M = rules.TOWN_TOLERANCE_M
#: Largest number of vertices accepted in one geometry.
MAX_VERTICES = 20_000


def _entity(name: str) -> Entity:
    e = entity(name)
    if not e.editable:
        raise NotFound(f"{e.label}不能通过规划编辑接口修改")
    return e


# --------------------------------------------------------------------------
# text and value validation
# --------------------------------------------------------------------------
_CODE_RE = rules.CODE_RE
_REGION_RE = re.compile(r"^\d{6,12}$")
_short = rules.shorten


def check_text(value: Any, *, field_name: str, max_len: int = rules.NAME_MAX_LEN,
               required: bool = False, empty_tokens: bool = False,
               problems: list[Problem]) -> str | None:
    """Validate a free-text value with :func:`geo.rules.check_text`; appends to
    ``problems`` and returns the stripped text (None when empty and allowed).

    Refused: non-strings, control characters and lone surrogates, text longer
    than ``max_len``, and text that looks like SQL or markup (``'; DROP TABLE``,
    ``' OR '1'='1``, ``UNION SELECT``, ``<script>``).
    """
    out, problem = rules.check_text(value, field=field_name, max_len=max_len, required=required,
                                    empty_tokens=empty_tokens)
    if problem is not None:
        problems.append(problem)
    return out


def _checked(result: tuple[Any, Problem | None], problems: list[Problem]) -> Any:
    value, problem = result
    if problem is not None:
        problems.append(problem)
    return value


def _private(v: Any, f: Field, problems: list[Problem]) -> dict | None:
    """Personal data: a JSON object whose strings pass :func:`check_text`."""
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        problems.append(Problem("应为对象", column=f.name, value=_short(v), expected="JSON 对象"))
        return None
    before = len(problems)

    def walk(x: Any, where: str, depth: int) -> Any:
        if depth > 6:
            problems.append(Problem("嵌套过深", column=where, expected="最多 6 层"))
            return None
        if isinstance(x, Mapping):
            out = {}
            for k, val in x.items():
                key = check_text(k, field_name=f"{where}.<key>", max_len=64, required=True,
                                 problems=problems)
                if key is not None:
                    out[key] = walk(val, f"{where}.{key}", depth + 1)
            return out
        if isinstance(x, list):
            if len(x) > 1000:
                problems.append(Problem("列表过长", column=where, expected="最多 1000 项"))
                return None
            return [walk(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(x)]
        if isinstance(x, str):
            if where.endswith(".phone"):  # a person's phone: the phone rule
                return _checked(rules.check_phone(x, field=where), problems)
            return check_text(x, field_name=where, max_len=500, problems=problems)
        if isinstance(x, float) and not math.isfinite(x):
            problems.append(Problem("应为有限数字", column=where, expected="有限数字"))
            return None
        return x

    out = walk(v, f.name, 0)
    return out if len(problems) == before else None


def _codes_exist(conn: Connection, table: str, codes: list[str]) -> dict[str, Any]:
    rows = conn.execute(text(
        f'SELECT code, region_code, deleted_at FROM "{table}" WHERE code = ANY(:c)'),
        {"c": codes}).all()
    return {r.code: r for r in rows}


@dataclass
class _Checked:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _validate_fields(conn: Connection, spec: Entity, data: Mapping[str, Any], *,
                     partial: bool, actor: Principal, checked: _Checked) -> None:
    """Validate ``data`` (only its keys when ``partial``) into ``checked.values``
    with the field rules (:func:`geo.rules.check_value`: a one-row column)."""
    problems = checked.problems
    fields = [f for f in spec.editable_fields if not partial or f.name in data]
    for f in fields:
        name = f.name
        v = data.get(name, f.default)
        if f.kind == "region":
            out = _region_value(conn, v, f, actor, problems)
        elif f.kind == "compound":
            out = _compound_refs(conn, [v] if v is not None else [], f, actor, problems)
            out = out[0] if out else None
        elif f.kind == "compounds":
            if v is None:
                v = []
            if not isinstance(v, list):
                problems.append(Problem("应为小区编码列表", column=name, value=_short(v),
                                        expected="小区编码列表"))
                out = None
            else:
                out = _compound_refs(conn, v, f, actor, problems)
        elif f.kind == "private":
            out = _private(v, f, problems)
        else:
            out, found = rules.check_value(f, v)
            problems.extend(found)
        if out is None and f.required and not any(
                (p.column or "").split(".")[0] == name for p in problems):
            problems.append(Problem("不能为空", column=name, expected=f"非空的{f.label}",
                                    kind="missing_value"))
        checked.values[name] = out
    # opening hours: structured hours win; text alone is parsed
    names = {f.name for f in fields}
    if spec.name == "point" and ("hours" in names or "hours_text" in names):
        hours, hours_text = checked.values.get("hours"), checked.values.get("hours_text")
        if hours is None and hours_text:
            parsed, warnings = rules.hours_from_text(hours_text)
            checked.values["hours"] = parsed
            checked.warnings.extend(warnings)
        elif hours is not None and not hours_text:
            checked.values["hours_text"] = hours["text"]


def _region_value(conn: Connection, v: Any, f: Field, actor: Principal,
                  problems: list[Problem]) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not _REGION_RE.match(v):
        problems.append(Problem("区划代码应为 6-12 位数字", column=f.name, value=_short(v),
                                expected="区划代码，如 440605126001"))
        return None
    exists = conn.execute(text("SELECT level FROM regions WHERE code = :c"),
                          {"c": v}).scalar_one_or_none()
    if exists is None:
        problems.append(Problem("区划代码不存在", column=f.name, value=v,
                                expected="已有的区划代码"))
        return None
    return v


def _compound_refs(conn: Connection, codes: list[Any], f: Field, actor: Principal,
                   problems: list[Problem]) -> list[str] | None:
    """Codes of existing, live compounds in the actor's regions (duplicates dropped)."""
    before = len(problems)
    clean: list[str] = []
    for c in codes:
        if not isinstance(c, str) or not _CODE_RE.match(c):
            problems.append(Problem("小区编码格式不正确", column=f.name, value=_short(c),
                                    expected="字母、数字、- _ .（最多 64 个字符）"))
        elif c not in clean:
            clean.append(c)
    if len(problems) > before:
        return None
    if not clean:
        return clean
    found = _codes_exist(conn, "compounds", clean)
    for c in clean:
        row = found.get(c)
        if row is None or row.deleted_at is not None:
            problems.append(Problem("小区不存在", column=f.name, value=c,
                                    expected="已有小区的编码"))
        elif not actor.can_edit(row.region_code):
            problems.append(Problem("小区不在令牌的区划范围内", column=f.name, value=c,
                                    expected="令牌区划范围内的小区"))
    return clean if len(problems) == before else None


# --------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------
_POLY_TYPES = ("Polygon", "MultiPolygon")
_LOCATION_RE = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\]")


def _positions(coords: Any, depth: int, where: str, problems: list[Problem],
               out: list[tuple[float, float]]) -> bool:
    """Check a nested coordinate array of ``depth`` levels above the positions."""
    if depth == 0:
        if (not isinstance(coords, list) or len(coords) not in (2, 3)
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool)
                           for c in coords)):
            problems.append(Problem("坐标应为 [经度, 纬度] 数字对", column=where,
                                    value=_short(coords), expected="[lng, lat]"))
            return False
        if not all(math.isfinite(c) for c in coords):
            problems.append(Problem("坐标不是有限数字", column=where, value=_short(coords),
                                    expected="有限数字"))
            return False
        out.append((float(coords[0]), float(coords[1])))
        return True
    if not isinstance(coords, list) or not coords:
        problems.append(Problem("坐标数组为空或格式错误", column=where, value=_short(coords),
                                expected="GeoJSON 坐标数组"))
        return False
    return all(_positions(c, depth - 1, f"{where}[{i}]", problems, out)
               for i, c in enumerate(coords))


def parse_geometry(value: Any, *, expected: str, crs: str = "wgs84", field_name: str = "geometry",
                   repair: bool = False, area: rules.OperatingArea | None = None
                   ) -> tuple[Any, list[Problem]]:
    """Validate a GeoJSON geometry and convert it to a WGS-84 shapely geometry.

    Parameters
    ----------
    value
        A GeoJSON geometry object (a Feature's geometry is taken too).
    expected : {"Point", "MultiPolygon"}
        What the table stores (a Polygon is accepted for MultiPolygon).
    crs : str
        System of the coordinates (``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000``).
    area : geo.rules.OperatingArea, optional
        Where coordinates may lie (default China; see
        :func:`geo.regions.operating_area`).
    repair : bool
        Accept an invalid polygon (the caller repairs it with ``ST_MakeValid``).

    Returns
    -------
    geometry, problems
        The geometry (None when there are problems) and the problems found;
        a self-intersection is reported with its location in ``crs``.
    """
    problems: list[Problem] = []
    if isinstance(value, Mapping) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        problems.append(Problem("应为 GeoJSON 几何对象", column=field_name, value=_short(value),
                                expected='{"type": "Point", "coordinates": [lng, lat]}'))
        return None, problems
    gtype = value["type"]
    allowed = ("Point",) if expected == "Point" else _POLY_TYPES
    if gtype not in allowed:
        problems.append(Problem("几何类型不符", column=f"{field_name}.type", value=_short(gtype),
                                expected=" | ".join(allowed)))
        return None, problems
    depth = {"Point": 0, "Polygon": 2, "MultiPolygon": 3}[gtype]
    coords = value.get("coordinates")
    where = f"{field_name}.coordinates"
    flat: list[tuple[float, float]] = []
    if not _positions(coords, depth, where, problems, flat):
        return None, problems
    if len(flat) > MAX_VERTICES:
        problems.append(Problem("顶点过多", column=where, value=len(flat),
                                expected=f"最多 {MAX_VERTICES} 个顶点"))
        return None, problems
    arr = np.asarray(flat)
    lng, lat = arr[:, 0], arr[:, 1]
    area = area or rules.CHINA
    swapped = area.swapped(lng, lat)
    if swapped.any():
        i = int(np.flatnonzero(swapped)[0])
        problems.append(Problem("经度和纬度可能写反了", column=where, value=list(flat[i]),
                                expected=f"[lng, lat]，如 [{flat[i][1]}, {flat[i][0]}]"))
        return None, problems
    out_of_range = (np.abs(lng) > 180) | (np.abs(lat) > 90)
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        problems.append(Problem("坐标超出范围", column=where, value=list(flat[i]),
                                expected="经度 -180..180，纬度 -90..90"))
        return None, problems
    outside = ~area.contains(lng, lat)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        problems.append(Problem("坐标不在中国境内" if area.is_china else "坐标超出工作范围",
                                column=where, value=list(flat[i]), expected=area.expected_zh()))
        return None, problems
    if normalize_crs_name(crs) in ("gcj02", "bd09"):
        abroad = ~rules.CHINA.contains(lng, lat)
        if abroad.any():
            i = int(np.flatnonzero(abroad)[0])
            problems.append(Problem("高德/百度坐标只用于中国境内", column=where,
                                    value=list(flat[i]), expected="中国境外的坐标请用 crs=wgs84"))
            return None, problems
    if gtype != "Point":
        rings = coords if gtype == "Polygon" else [r for poly in coords for r in poly]
        for ring in rings:
            if len(ring) < 4 or ring[0][:2] != ring[-1][:2]:
                problems.append(Problem("多边形的环须闭合且至少 4 个顶点", column=where,
                                        value=_short(ring[:3]),
                                        expected="闭合的环：首个顶点与最后一个顶点相同"))
                return None, problems
    try:
        geom = shapely_shape({"type": gtype, "coordinates": coords})
        geom = shapely.force_2d(geom)
    except (ValueError, TypeError, GEOSException) as exc:
        problems.append(Problem("无法解析几何", column=field_name, value=str(exc)[:120],
                                expected="GeoJSON 几何对象"))
        return None, problems
    if gtype != "Point":
        if not geom.is_valid and not repair:
            reason = shapely.is_valid_reason(geom)
            m = _LOCATION_RE.search(reason)
            location = [float(m.group(1)), float(m.group(2))] if m else None
            kind = reason.split("[")[0].strip()
            msg = "多边形自相交" if "Self-intersection" in kind else f"多边形无效：{kind}"
            problems.append(Problem(msg, column=where, value=location,
                                    expected="有效的多边形，或加 repair=true 用 "
                                             "ST_MakeValid 自动修复"))
            return None, problems
        if geom.is_valid and geom.area <= 0:
            problems.append(Problem("多边形面积为零", column=where,
                                    expected="面积大于零的多边形"))
            return None, problems
    name = normalize_crs_name(crs)
    if name != "wgs84":
        geom = transform_geometry(geom, name, "wgs84")
    if expected == "MultiPolygon" and geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    return geom, problems


def _ewkb(geom: Any) -> str:
    return shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, include_srid=True)


def _repair(conn: Connection, ewkb: str, expected: str) -> str | None:
    """``ST_MakeValid`` keeping the polygonal part; None when nothing is left."""
    row = conn.execute(text(
        "SELECT ST_AsEWKB(g) AS g, ST_IsEmpty(g) AS empty FROM (SELECT ST_Multi("
        "ST_CollectionExtract(ST_MakeValid(ST_GeomFromEWKB(decode(:g, 'hex'))), 3)) AS g) s"),
        {"g": ewkb}).one()
    if row.empty or expected != "MultiPolygon":
        return None
    return bytes(row.g).hex()


def _check_location(conn: Connection, ewkb: str, region_code: str, problems: list[Problem],
                    field_name: str = "geometry") -> None:
    """The geometry must lie in (or within :data:`TOWN_TOLERANCE_M` of) the town
    of ``region_code``."""
    town = town_geometry_of(conn, region_code)
    if town is None:
        return
    inside = conn.execute(text(
        "SELECT ST_DWithin(r.geom::geography, "
        "ST_PointOnSurface(ST_GeomFromEWKB(decode(:g, 'hex')))::geography, :tol) "
        "FROM regions r WHERE r.code = :c"),
        {"g": ewkb, "c": town[0], "tol": TOWN_TOLERANCE_M}).scalar_one()
    if not inside:
        where = conn.execute(text(
            "SELECT ARRAY[ST_X(p), ST_Y(p)] FROM (SELECT ST_PointOnSurface("
            "ST_GeomFromEWKB(decode(:g, 'hex'))) AS p) s"), {"g": ewkb}).scalar_one()
        problems.append(Problem(f"位置不在{town[1]}范围内", column=field_name,
                                value=[round(float(x), 7) for x in where],
                                expected=f"{town[1]}（{town[0]}）范围内的位置，WGS-84 坐标"))


# --------------------------------------------------------------------------
# reading rows
# --------------------------------------------------------------------------
def _snapshots(conn: Connection, spec: Entity, codes: list[str], *,
               lock: bool = False) -> dict[str, dict[str, Any]]:
    """Everything stored about rows (private data included), JSON-ready: the
    geometry as WGS-84 GeoJSON; branches get their compound codes, buildings
    their derived region."""
    if not codes:
        return {}
    geom = ", ST_AsGeoJSON(t.geom, 9)::jsonb AS geometry" if spec.geometry else ""
    derived, join = "", ""
    if spec.region == "compound":
        derived = ", c.region_code AS derived_region"
        join = " LEFT JOIN compounds c ON c.code = t.compound_code"
    rows = conn.execute(text(
        f'SELECT t.code, to_jsonb(t) - \'geom\' - \'id\' AS data{geom}{derived} '
        f'FROM "{spec.table}" t{join} '
        f"WHERE t.code = ANY(:c){' FOR UPDATE OF t' if lock else ''}"), {"c": codes}).all()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        data = dict(row.data)
        if spec.geometry:
            data["geometry"] = row.geometry
        if spec.region == "compound":
            data["region_code"] = row.derived_region or _building_region(conn, None,
                                                                         code=row.code)
        out[row.code] = data
    if spec.name == "branch":
        for data in out.values():
            data["compound_codes"] = []
        for b, c in conn.execute(text(
                "SELECT branch_code, compound_code FROM branch_compounds "
                "WHERE branch_code = ANY(:c) ORDER BY branch_code, compound_code"),
                {"c": list(out)}):
            out[b]["compound_codes"].append(c)
    return out


def _snapshot(conn: Connection, spec: Entity, code: str, *,
              lock: bool = False) -> dict[str, Any] | None:
    return _snapshots(conn, spec, [code], lock=lock).get(code)


def _building_region(conn: Connection, compound_code: str | None, *, code: str | None = None,
                     ewkb: str | None = None) -> str | None:
    """A building's region: its compound's, else the village its footprint lies in."""
    if compound_code:
        region = conn.execute(text("SELECT region_code FROM compounds WHERE code = :c"),
                              {"c": compound_code}).scalar_one_or_none()
        if region:
            return region
    if ewkb is not None:
        geom_sql, params = "ST_GeomFromEWKB(decode(:g, 'hex'))", {"g": ewkb}
    elif code is not None:
        geom_sql, params = "(SELECT geom FROM buildings WHERE code = :b)", {"b": code}
    else:
        return None
    return conn.execute(text(
        f"SELECT r.code FROM regions r WHERE r.geom IS NOT NULL "
        f"AND ST_Contains(r.geom, ST_PointOnSurface({geom_sql})) "
        f"ORDER BY length(r.code) DESC LIMIT 1"), params).scalar_one_or_none()


def _view(spec: Entity, snap: dict[str, Any], *, viewer: Principal | None,
          crs: str = "wgs84") -> dict[str, Any]:
    """A snapshot as the GeoJSON Feature a principal may see (personal data only
    for planners of the row's region)."""
    props = {k: v for k, v in snap.items() if k != "geometry"}
    props["entity"] = spec.name
    if spec.private:
        if viewer is None or not viewer.can_see_private(snap.get("region_code")):
            props.pop("private", None)
        else:
            props["private"] = props.get("private") or {}
    geometry = snap.get("geometry")
    return {"type": "Feature", "id": snap["code"],
            "geometry": convert_geojson(geometry, "wgs84", crs) if geometry else None,
            "properties": props}


# --------------------------------------------------------------------------
# invalidation
# --------------------------------------------------------------------------
def _moved(before: dict | None, after: dict | None) -> bool:
    return (before or {}).get("geometry") != (after or {}).get("geometry")


def _live(snap: dict | None) -> bool:
    return snap is not None and snap.get("deleted_at") is None


def invalidate_for_change(conn: Connection, entity: str, code: str, before: dict | None,
                          after: dict | None) -> dict[str, Any]:
    """Drop exactly the derived results that a change of one row makes stale.

    Parameters
    ----------
    entity : str
        Key of :data:`ENTITIES` (``"point"``, ``"compound"`` ...).
    code : str
        The row's code.
    before, after : dict or None
        Snapshots of the row before and after the change (None: did not exist).

    Rules
    -----
    * A service point that moved: ``service_points.version`` is bumped
      (circles record the version they were built from) and its stored
      service circles are deleted — that point's only.
    * A service point deleted (soft): its circles are deleted. Other changes
      of a point (name, hours, services) leave its circles alone.
    * Coverage is computed from the current rows and circles on demand;
      caches of it follow the data versions (:mod:`geo.store.versions`).

    Returns
    -------
    dict
        What was invalidated, e.g. ``{"circles_deleted": 2, "point_version": 3}``.
    """
    out: dict[str, Any] = {}
    if entity == "point":
        moved = _live(before) and _live(after) and _moved(before, after)
        removed = _live(before) and not _live(after)
        if moved:
            new, out["circles_deleted"] = versions.points_moved(conn, [code])
            out["point_version"] = new[code]
        elif removed:
            out["circles_deleted"] = versions.drop_circles(conn, [code])
    return out


# --------------------------------------------------------------------------
# writes
# --------------------------------------------------------------------------
@dataclass
class EditResult:
    """Outcome of one edit: the row as the actor sees it, and bookkeeping."""

    feature: dict[str, Any]
    action: str
    audit_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    invalidated: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)


def _audit(conn: Connection, actor: Principal, action: str, spec: Entity, code: str,
           before: dict | None, after: dict | None) -> int:
    return write_audit(conn, actor=actor.actor, action=action, entity=spec.name, code=code,
                       before=before, after=after)


def _require(actor: Principal, region_code: str | None, spec: Entity, code: str,
             when: str) -> None:
    if not actor.has_role("planner"):
        raise Forbidden(f"该角色（{actor.role}）无权编辑，需要规划员令牌")
    if not actor.can_edit(region_code):
        where = region_code or "（无区划）"
        raise Forbidden(f"令牌无权编辑区划 {where} 的{spec.label} {code}（{when}）")


def _require_ground(conn: Connection, actor: Principal, ewkb: str, spec: Entity,
                    code: str) -> None:
    """A token writes a geometry only on its own ground: inside the stored
    boundaries of its regions (within :data:`TOWN_TOLERANCE_M`), whatever region
    code the row names (:func:`geo.regions.scope_area`)."""
    area = scope_area(conn, actor.regions, tolerance_m=TOWN_TOLERANCE_M)
    shown = "、".join(actor.regions)
    if area is None:
        raise Forbidden(f"令牌的区划（{shown}）没有边界数据，无法核对{spec.label} {code} 的位置")
    if not area.covers(shapely.from_wkb(bytes.fromhex(ewkb))):
        raise Forbidden(f"{spec.label} {code} 的位置超出令牌的区划范围（{shown}）")


def _check_code(code: Any, problems: list[Problem]) -> str | None:
    return _checked(rules.check_code(code), problems)


def _bind(spec: Entity, values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if not spec.field(k).column:
            continue
        f = spec.field(k)
        out[k] = json.dumps(v, ensure_ascii=False) if f.kind in ("hours", "private") \
            and v is not None else v
    return out


def _placeholder(spec: Entity, name: str) -> str:
    f = spec.field(name)
    return f"CAST(:{name} AS jsonb)" if f.kind in ("hours", "private") else f":{name}"


def _geometry_input(conn: Connection, spec: Entity, value: Any, crs: str, repair: bool,
                    checked: _Checked, area_box: tuple[float, float, float, float] | None
                    ) -> str | None:
    geom, problems = parse_geometry(value, expected=spec.geometry or "Point", crs=crs,
                                    repair=repair, area=operating_area(conn, area_box))
    checked.problems.extend(problems)
    if geom is None:
        return None
    ewkb = _ewkb(geom)
    if spec.geometry != "Point" and not geom.is_valid:
        ewkb = _repair(conn, ewkb, spec.geometry or "")
        if ewkb is None:
            checked.problems.append(Problem("修复后几何为空", column="geometry",
                                            expected="面积大于零的多边形"))
            return None
        checked.warnings.append("几何无效，已用 ST_MakeValid 修复")
    return ewkb


def _crs(crs: Any, problems: list[Problem]) -> str:
    if crs is None:
        return "wgs84"
    if not isinstance(crs, str):
        problems.append(Problem("未知坐标系", column="crs", value=_short(crs),
                                expected=" | ".join(INPUT_CRS)))
        return "wgs84"
    try:
        name = normalize_crs_name(crs)
    except ValueError:
        name = ""
    if name not in INPUT_CRS:
        problems.append(Problem("未知坐标系", column="crs", value=_short(crs),
                                expected=" | ".join(INPUT_CRS)))
        return "wgs84"
    return name


def _unknown_keys(spec: Entity, data: Mapping[str, Any], problems: list[Problem],
                  allowed_extra: Iterable[str]) -> None:
    allowed = {f.name for f in spec.editable_fields} | set(allowed_extra)
    for k in data:
        if k not in allowed:
            problems.append(Problem("未知字段", column=str(k)[:64],
                                    expected=", ".join(sorted(allowed))))


_EXTRA_KEYS = {True: ("code", "geometry", "crs"), False: ("code",)}


def _raise(problems: list[Problem], spec: Entity, what: str) -> None:
    if problems:
        raise InvalidInput(f"{spec.label}{what}未通过校验", problems)


def _write_children(conn: Connection, spec: Entity, code: str,
                    values: Mapping[str, Any]) -> None:
    if spec.name == "branch" and "compound_codes" in values and \
            values["compound_codes"] is not None:
        conn.execute(text("DELETE FROM branch_compounds WHERE branch_code = :c"), {"c": code})
        for cc in values["compound_codes"]:
            conn.execute(text(
                "INSERT INTO branch_compounds (branch_code, compound_code) VALUES (:b, :c)"),
                {"b": code, "c": cc})


def create(conn: Connection, entity: str, data: Mapping[str, Any], *, actor: Principal,
           crs: str | None = None, repair: bool = False,
           area: tuple[float, float, float, float] | None = None) -> EditResult:
    """Create a row from ``data`` (``code``, the entity's fields, ``geometry``).
    ``area``: the configured operating area (``SERVICEMAP_OPERATING_AREA``), else
    from the regions (:func:`geo.regions.operating_area`).

    Raises :class:`Forbidden` (role or region), :class:`Conflict` (the code
    exists, possibly deleted: restore it instead) and :class:`InvalidInput`
    (every problem found).
    """
    spec = _entity(entity)
    if not actor.has_role("planner"):
        raise Forbidden(f"该角色（{actor.role}）无权编辑，需要规划员令牌")
    checked = _Checked()
    crs_name = _crs(crs if crs is not None else data.get("crs"), checked.problems)
    _unknown_keys(spec, data, checked.problems, _EXTRA_KEYS[bool(spec.geometry)])
    code = _check_code(data.get("code"), checked.problems)
    _validate_fields(conn, spec, data, partial=False, actor=actor, checked=checked)
    ewkb = None
    if spec.geometry:
        if data.get("geometry") is None:
            checked.problems.append(Problem("缺少几何", column="geometry",
                                            expected=f"GeoJSON {spec.geometry}"))
        else:
            ewkb = _geometry_input(conn, spec, data.get("geometry"), crs_name, repair, checked,
                                   area)
    region = checked.values.get("region_code")
    if spec.region == "compound" and ewkb is not None:
        region = _building_region(conn, checked.values.get("compound_code"), ewkb=ewkb)
        if region is None:
            checked.problems.append(Problem("楼栋不在任何已知区划内", column="geometry",
                                            expected="位于已知村（社区）内的楼栋轮廓"))
    if region is not None and not actor.can_edit(region):
        _require(actor, region, spec, code or "?", "新值")
    if ewkb is not None and region is not None:
        _check_location(conn, ewkb, region, checked.problems)
    _raise(checked.problems, spec, "数据")
    if ewkb is not None:
        _require_ground(conn, actor, ewkb, spec, code or "?")
    assert code is not None
    existing = conn.execute(text(f'SELECT deleted_at FROM "{spec.table}" WHERE code = :c'),
                            {"c": code}).one_or_none()
    if existing is not None:
        hint = "（已删除，可恢复）" if existing.deleted_at is not None else ""
        raise Conflict(f"{spec.label}编码 {code} 已存在{hint}")
    values = {k: v for k, v in checked.values.items()}
    cols = [k for k in values if spec.field(k).column]
    names = ["code", *cols]
    places = [":code", *(_placeholder(spec, k) for k in cols)]
    params = {"code": code, **_bind(spec, values)}
    if spec.geometry:
        names.append("geom")
        places.append("ST_GeomFromEWKB(decode(:geom, 'hex'))")
        params["geom"] = ewkb
    if spec.name == "point":
        names.append("source_crs")
        places.append(":source_crs")
        params["source_crs"] = crs_name
    try:
        with conn.begin_nested():
            conn.execute(text(
                f'INSERT INTO "{spec.table}" ({", ".join(names)}) VALUES ({", ".join(places)})'),
                params)
    except IntegrityError as exc:
        raise Conflict(f"{spec.label} {code} 无法写入：{_constraint(exc)}") from None
    _write_children(conn, spec, code, values)
    after = _snapshot(conn, spec, code)
    assert after is not None
    audit_id = _audit(conn, actor, "create", spec, code, None, after)
    inval = invalidate_for_change(conn, spec.name, code, None, after)
    return EditResult(feature=_view(spec, after, viewer=actor), action="create",
                      audit_id=audit_id, warnings=checked.warnings, invalidated=inval,
                      changed=sorted(after))


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name or "违反数据库约束"


def _load_for_edit(conn: Connection, spec: Entity, code: str, actor: Principal,
                   *, deleted: bool = False) -> dict[str, Any]:
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise NotFound(f"未找到编码为 {code!r} 的{spec.label}")
    before = _snapshot(conn, spec, code, lock=True)
    if before is None:
        raise NotFound(f"未找到编码为 {code!r} 的{spec.label}")
    if not actor.has_role("planner"):
        raise Forbidden(f"该角色（{actor.role}）无权编辑，需要规划员令牌")
    _require(actor, before.get("region_code"), spec, code, "原值")
    if deleted and before.get("deleted_at") is None:
        raise Conflict(f"{spec.label} {code} 未被删除，无需恢复")
    if not deleted and before.get("deleted_at") is not None:
        raise NotFound(f"{spec.label} {code} 已删除（请先恢复）")
    return before


def update(conn: Connection, entity: str, code: str, data: Mapping[str, Any], *,
           actor: Principal, partial: bool = True, crs: str | None = None,
           repair: bool = False, action: str = "update",
           area: tuple[float, float, float, float] | None = None) -> EditResult:
    """Change a row: ``partial`` (PATCH) changes the given fields only; otherwise
    (PUT) every field takes its given value or its default. A changed
    ``geometry`` moves the row. The code cannot change."""
    spec = _entity(entity)
    before = _load_for_edit(conn, spec, code, actor)
    checked = _Checked()
    crs_name = _crs(crs if crs is not None else data.get("crs"), checked.problems)
    _unknown_keys(spec, data, checked.problems, _EXTRA_KEYS[bool(spec.geometry)])
    if "code" in data and data["code"] != code:
        checked.problems.append(Problem("编码不能修改", column="code", value=_short(data["code"]),
                                        expected=code))
    if not partial and spec.geometry and data.get("geometry") is None:
        checked.problems.append(Problem("缺少几何", column="geometry",
                                        expected=f"GeoJSON {spec.geometry}"))
    _validate_fields(conn, spec, data, partial=partial, actor=actor, checked=checked)
    ewkb = None
    if spec.geometry and data.get("geometry") is not None:
        ewkb = _geometry_input(conn, spec, data["geometry"], crs_name, repair, checked, area)
    region = checked.values.get("region_code", before.get("region_code"))
    if spec.region == "compound":
        compound = checked.values.get("compound_code", before.get("compound_code"))
        if ewkb is not None or "compound_code" in checked.values:
            region = _building_region(conn, compound, ewkb=ewkb, code=code)
    if region is not None and not actor.can_edit(region):
        _require(actor, region, spec, code, "新值")
    if spec.geometry and region is not None and (
            ewkb is not None or region != before.get("region_code")):
        geom = ewkb or conn.execute(text(
            f'SELECT encode(ST_AsEWKB(geom), \'hex\') FROM "{spec.table}" WHERE code = :c'),
            {"c": code}).scalar_one()
        _check_location(conn, geom, region, checked.problems)
    _raise(checked.problems, spec, "修改")
    if ewkb is not None:
        _require_ground(conn, actor, ewkb, spec, code)
    values = {k: v for k, v in checked.values.items()
              if _differs(before.get(k), v)}
    sets = [f"{k} = {_placeholder(spec, k)}" for k in values if spec.field(k).column]
    params: dict[str, Any] = {"code": code, **_bind(spec, values)}
    if ewkb is not None:
        sets.append("geom = ST_GeomFromEWKB(decode(:geom, 'hex'))")
        params["geom"] = ewkb
        if spec.name == "point":
            sets.append("source_crs = :source_crs")
            params["source_crs"] = crs_name
    if spec.updated_at and (sets or "compound_codes" in values):
        sets.append("updated_at = now()")
    if sets:
        try:
            with conn.begin_nested():
                conn.execute(text(
                    f'UPDATE "{spec.table}" SET {", ".join(sets)} WHERE code = :code'), params)
        except IntegrityError as exc:
            raise Conflict(f"{spec.label} {code} 无法写入：{_constraint(exc)}") from None
    _write_children(conn, spec, code, values)
    after = _snapshot(conn, spec, code)
    assert after is not None
    changed = sorted(k for k in set(before) | set(after)
                     if k not in ("updated_at", "version", "source_crs")
                     and before.get(k) != after.get(k))
    if not changed:
        return EditResult(feature=_view(spec, after, viewer=actor), action="none",
                          warnings=checked.warnings)
    if changed == ["geometry"]:
        action = "move"
    inval = invalidate_for_change(conn, spec.name, code, before, after)
    if inval.get("point_version") is not None:
        after["version"] = inval["point_version"]
    audit_id = _audit(conn, actor, action, spec, code, before, after)
    return EditResult(feature=_view(spec, after, viewer=actor), action=action,
                      audit_id=audit_id, warnings=checked.warnings, invalidated=inval,
                      changed=changed)


def _differs(old: Any, new: Any) -> bool:
    return old != new


def move(conn: Connection, entity: str, code: str, geometry: Any, *, actor: Principal,
         crs: str | None = None, repair: bool = False,
         area: tuple[float, float, float, float] | None = None) -> EditResult:
    """Give a row a new geometry (a point a new location); invalidates what
    depended on the old one (see :func:`invalidate_for_change`)."""
    return update(conn, entity, code, {"geometry": geometry}, actor=actor, partial=True,
                  crs=crs, repair=repair, action="move", area=area)


def delete(conn: Connection, entity: str, code: str, *, actor: Principal) -> EditResult:
    """Soft-delete a row (``deleted_at``); :func:`restore` brings it back."""
    spec = _entity(entity)
    before = _load_for_edit(conn, spec, code, actor)
    sets = "deleted_at = now()" + (", updated_at = now()" if spec.updated_at else "")
    conn.execute(text(f'UPDATE "{spec.table}" SET {sets} WHERE code = :c'), {"c": code})
    after = _snapshot(conn, spec, code)
    assert after is not None
    audit_id = _audit(conn, actor, "delete", spec, code, before, after)
    inval = invalidate_for_change(conn, spec.name, code, before, after)
    return EditResult(feature=_view(spec, after, viewer=actor), action="delete",
                      audit_id=audit_id, invalidated=inval, changed=["deleted_at"])


def restore(conn: Connection, entity: str, code: str, *, actor: Principal) -> EditResult:
    """Undo a soft delete."""
    spec = _entity(entity)
    before = _load_for_edit(conn, spec, code, actor, deleted=True)
    sets = "deleted_at = NULL" + (", updated_at = now()" if spec.updated_at else "")
    conn.execute(text(f'UPDATE "{spec.table}" SET {sets} WHERE code = :c'), {"c": code})
    after = _snapshot(conn, spec, code)
    assert after is not None
    audit_id = _audit(conn, actor, "restore", spec, code, before, after)
    inval = invalidate_for_change(conn, spec.name, code, before, after)
    return EditResult(feature=_view(spec, after, viewer=actor), action="restore",
                      audit_id=audit_id, invalidated=inval, changed=["deleted_at"])


# --------------------------------------------------------------------------
# planner reads
# --------------------------------------------------------------------------
def get_entity(conn: Connection, entity: str, code: str, *, viewer: Principal,
               crs: str = "wgs84") -> dict[str, Any]:
    """One row (deleted ones too) as ``viewer`` may see it.

    Raises :class:`NotFound` and :class:`Forbidden` (a region outside the scope).
    """
    spec = _entity(entity)
    snap = _snapshot(conn, spec, code) if _CODE_RE.match(code or "") else None
    if snap is None:
        raise NotFound(f"未找到编码为 {code!r} 的{spec.label}")
    if not viewer.can_read(snap.get("region_code")):
        raise Forbidden(f"令牌无权查看区划 {snap.get('region_code')} 的{spec.label} {code}")
    return _view(spec, snap, viewer=viewer, crs=crs)


def list_entities(conn: Connection, entity: str, *, viewer: Principal,
                  region: str | None = None, include_deleted: bool = False,
                  crs: str = "wgs84", limit: int = 100,
                  offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Rows in ``viewer``'s regions (optionally below ``region``), by code;
    returns ``(features, number matched)``."""
    spec = _entity(entity)
    scopes = list(viewer.regions)
    if spec.region != "compound":
        region_sql = "t.region_code"
        join = ""
    else:
        region_sql = "c.region_code"
        join = "LEFT JOIN compounds c ON c.code = t.compound_code"
    rows = conn.execute(text(f"""
        SELECT t.code, count(*) OVER () AS total FROM "{spec.table}" t {join}
        WHERE EXISTS (SELECT 1 FROM unnest(CAST(:scopes AS text[])) s
                      WHERE starts_with({region_sql}, s))
          AND (CAST(:region AS text) IS NULL OR starts_with({region_sql}, :region))
          AND (CAST(:deleted AS boolean) OR t.deleted_at IS NULL)
        ORDER BY t.code LIMIT :limit OFFSET :offset"""),
        {"scopes": scopes, "region": region, "deleted": include_deleted, "limit": limit,
         "offset": offset}).all()
    total = int(rows[0].total) if rows else 0
    snaps = _snapshots(conn, spec, [r.code for r in rows])
    features = [_view(spec, snaps[r.code], viewer=viewer, crs=crs)
                for r in rows if r.code in snaps]
    return features, total
