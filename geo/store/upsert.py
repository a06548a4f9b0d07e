"""Upsert by code: how rows of an entity are written in bulk.

Rows are keyed by their ``code``.  New codes go straight in with COPY
(:mod:`geo.store.copy`); existing ones are staged in a temporary table and
merged with ``INSERT ... ON CONFLICT (code) DO UPDATE ... WHERE <row differs>``,
so writing the same rows twice reports ``0 updated``.  How each column is
written comes from the entity registry (:mod:`geo.entities`): ``plain``,
``coalesce`` (only when the new value is not empty), ``json_merge`` (keys
merged), the entity's *passive* columns (written along with a change, no change
by themselves) and the geometry (unchanged within :data:`GEOMETRY_TOLERANCE_DEG`;
a moved row of a versioned entity gets ``version + 1``).  An empty value of a
column with a default (:meth:`geo.entities.Entity.defaults`) is written as the
default.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.store.copy import copy_columns, ewkb_hex, pg_array

if TYPE_CHECKING:
    from geo.entities import Entity

__all__ = ["GEOMETRY_TOLERANCE_DEG", "Upserted", "column_modes", "upsert"]

#: Geometries closer than this (degrees, about 1 cm) count as unchanged.
GEOMETRY_TOLERANCE_DEG = 1e-7
_STAGE = "_sm_upsert_stage"
_JSON_KINDS = ("hours", "private")


@dataclass
class Upserted:
    """Codes written by :func:`upsert`: new, changed, and (versioned entities) moved."""

    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)


def column_modes(entity: Entity) -> dict[str, str]:
    """Column → how an upsert writes it: ``plain``, ``coalesce``, ``json_merge``,
    ``passive`` or ``geom``."""
    out = {f.column: f.upsert for f in entity.fields if f.column}
    if entity.geometry:
        out["geom"] = "geom"
    for c in entity.passive:
        out[c] = "passive"
    if entity.keeps_properties:
        out["properties"] = "json_merge"
    return out


def _same_geom(a: str, b: str) -> str:
    tol = repr(GEOMETRY_TOLERANCE_DEG)
    return (f"(({a} IS NULL AND {b} IS NULL) OR ({a} IS NOT NULL AND {b} IS NOT NULL AND "
            f"(ST_AsBinary({a}) = ST_AsBinary({b}) OR (ST_NPoints({a}) = ST_NPoints({b}) AND "
            f"ST_GeometryType({a}) = ST_GeometryType({b}) AND "
            f"ST_HausdorffDistance({a}, {b}) < {tol}))))")


def _upsert_sql(entity: Entity, cols: list[str], coalesce: set[str]) -> str:
    modes = column_modes(entity)
    t = f'"{entity.table}"'
    sets: list[str] = []
    diffs: list[str] = []
    for c in cols:
        if c == "code":
            continue
        mode = modes[c]
        new = f"EXCLUDED.{c}"
        old = f"{t}.{c}"
        if mode == "geom":
            same = _same_geom(old, new)
            if c in coalesce:
                same = f"({new} IS NULL OR {same})"
            sets.append(f"{c} = CASE WHEN {same} THEN {old} ELSE {new} END")
            diffs.append(f"NOT {same}")
            if entity.versioned:
                sets.append(f"version = CASE WHEN {same} THEN {t}.version ELSE {t}.version + 1 END")
        elif mode == "passive":
            sets.append(f"{c} = {new}")
        elif mode == "json_merge":
            sets.append(f"{c} = {old} || {new}")
            diffs.append(f"NOT ({old} @> {new})")
        elif mode == "coalesce" or c in coalesce:
            sets.append(f"{c} = COALESCE({new}, {old})")
            diffs.append(f"({new} IS NOT NULL AND {old} IS DISTINCT FROM {new})")
        else:
            sets.append(f"{c} = {new}")
            diffs.append(f"{old} IS DISTINCT FROM {new}")
    sets.append("synthetic = false")
    diffs.append(f"{t}.synthetic")
    if entity.soft_delete:
        sets.append("deleted_at = NULL")
        diffs.append(f"{t}.deleted_at IS NOT NULL")
    if entity.updated_at:
        sets.append("updated_at = now()")
    col_list = ", ".join(cols)
    return (f"INSERT INTO {t} ({col_list}) SELECT {col_list} FROM {_STAGE} "
            f"ON CONFLICT (code) DO UPDATE SET {', '.join(sets)} "
            f"WHERE {' OR '.join(diffs)} RETURNING {t}.code, (xmax = 0) AS inserted"
            + (f", {t}.version" if entity.versioned else ""))


def _encode(entity: Entity, column: str, values: Sequence[Any]) -> list[Any]:
    """Values of a column as COPY takes them (JSON text, array literals, hex EWKB)."""
    if column == "geom":
        return ewkb_hex(np.asarray(values, dtype=object),
                        multi=entity.geometry == "MultiPolygon")
    kind = entity.field(column).kind if entity.has(column) else None
    if column == "properties" or kind in _JSON_KINDS:
        return [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    if kind in ("services", "compounds"):
        return [pg_array(v) for v in values]
    return list(values)


def upsert(conn: Connection, entity: Entity, values: Mapping[str, Sequence[Any]], *,
           coalesce: set[str] | None = None,
           timings: dict[str, float] | None = None) -> Upserted:
    """Write rows of ``entity`` by code in the caller's transaction.

    Parameters
    ----------
    values
        Column → values, aligned, ``code`` among them; geometries as shapely
        objects in WGS-84.  Only these columns are written.
    coalesce
        Columns (beyond the registry's ``coalesce`` ones) updated only when the
        new value is not empty (e.g. a file without geometry keeps the stored one).
    timings
        Filled with the seconds spent copying new rows and merging existing ones.
    """
    coalesce = set(coalesce or ())
    timings = timings if timings is not None else {}
    modes = column_modes(entity)
    cols = [c for c in modes if c in values]
    defaults = entity.defaults()
    rows = {c: [defaults[c] if v is None and c in defaults else v for v in values[c]]
            if c in defaults else list(values[c]) for c in cols}
    n = len(rows["code"])
    order = list(range(n))
    if entity.region == "self":  # regions name their parents: parents first
        order.sort(key=lambda i: len(str(rows["code"][i])))
    t0 = time.perf_counter()
    data = {c: _encode(entity, c, [rows[c][i] for i in order]) for c in cols}
    codes = [str(c) for c in data["code"]]
    table = entity.table
    existing = set(conn.execute(text(f'SELECT code FROM "{table}" WHERE code = ANY(:c)'),
                                {"c": codes}).scalars())
    versions: dict[str, int] = {}
    if entity.versioned and existing:
        versions = {str(r.code): int(r.version) for r in conn.execute(text(
            f'SELECT code, version FROM "{table}" WHERE code = ANY(:c)'),
            {"c": sorted(existing)})}
    fresh = [k for k, c in enumerate(codes) if c not in existing]
    old = [k for k, c in enumerate(codes) if c in existing]
    if "geom" in rows and len(fresh) > 1000:
        # spatial (Hilbert) order: GiST insertions touch fewer pages
        fg = np.asarray([rows["geom"][order[k]] for k in fresh], dtype=object)
        if bool((shapely.get_type_id(fg) >= 0).all()):
            import geopandas as gpd

            hilbert = np.argsort(gpd.GeoSeries(fg).hilbert_distance().to_numpy(), kind="stable")
            fresh = [fresh[k] for k in hilbert]
    out = Upserted()
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
        result = conn.execute(text(_upsert_sql(entity, cols, coalesce))).all()
        conn.execute(text(f"DROP TABLE {_STAGE}"))
    timings["upsert_existing"] = time.perf_counter() - t0
    out.inserted = [codes[k] for k in fresh] + [str(r.code) for r in result if r.inserted]
    out.updated = [str(r.code) for r in result if not r.inserted]
    if entity.versioned:
        out.moved = [str(r.code) for r in result
                     if not r.inserted and int(r.version) > versions.get(str(r.code), r.version)]
    return out
