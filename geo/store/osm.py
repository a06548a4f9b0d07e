"""Writing what an OpenStreetMap extract holds besides streets: buildings and
facilities (the streets are :mod:`geo.store.network`), and the default town of a
database that has no regions yet."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.store.copy import copy_rows, ewkb_hex

__all__ = ["DEFAULT_REGION_CODE", "create_default_region", "osm_code", "write_buildings",
           "write_facilities"]

#: The code of the town made from an extract when no region is loaded: 9 digits like
#: a town's, in the 99 block no Chinese province uses.
DEFAULT_REGION_CODE = "990000001"


def osm_code(osm_type: str, osm_id: int) -> str:
    """The product's code of an OSM building: ``osm-w123`` (way), ``osm-r45``."""
    return f"osm-{osm_type}{int(osm_id)}"


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def write_buildings(conn: Connection, buildings: gpd.GeoDataFrame, *,
                    area: BaseGeometry | None) -> dict[str, int]:
    """Upsert OSM buildings by code (footprint and OSM attributes; population,
    households and compound stay as they are), soft-delete the OSM buildings inside
    ``area`` that the extract no longer has, and put buildings without a compound
    into the compound holding their centroid. The caller owns the transaction.

    Returns counts: ``inserted``, ``updated``, ``deleted``, ``in_compounds``.
    """
    conn.execute(text("""
        CREATE TEMP TABLE osm_buildings_in (
            code text, osm_type char(1), osm_id bigint, building_type text,
            levels double precision, height_m double precision, repair text,
            geom geometry(MultiPolygon, 4326)) ON COMMIT DROP"""))
    codes = [osm_code(t, i) for t, i in zip(buildings["osm_type"], buildings["osm_id"],
                                             strict=True)]
    copy_rows(conn, "osm_buildings_in",
              ["code", "osm_type", "osm_id", "building_type", "levels", "height_m", "repair",
               "geom"],
              zip(codes, buildings["osm_type"], buildings["osm_id"].tolist(),
                  buildings["building_type"], [_num(v) for v in buildings["levels"]],
                  [_num(v) for v in buildings["height_m"]], buildings["repair"],
                  ewkb_hex(buildings.geometry.to_numpy(), multi=True), strict=True))
    before = conn.execute(text(
        "SELECT count(*) FROM buildings b JOIN osm_buildings_in i USING (code)")).scalar_one()
    conn.execute(text("""
        INSERT INTO buildings (code, osm_type, osm_id, building_type, levels, height_m,
                               repair, geom)
        SELECT code, osm_type, osm_id, building_type, levels, height_m, repair, geom
        FROM osm_buildings_in
        ON CONFLICT (code) DO UPDATE SET
            osm_type = EXCLUDED.osm_type, osm_id = EXCLUDED.osm_id,
            building_type = EXCLUDED.building_type, levels = EXCLUDED.levels,
            height_m = EXCLUDED.height_m, repair = EXCLUDED.repair, geom = EXCLUDED.geom,
            deleted_at = NULL
        WHERE (buildings.osm_type, buildings.osm_id, buildings.building_type,
               buildings.levels, buildings.height_m, buildings.repair)
              IS DISTINCT FROM (EXCLUDED.osm_type, EXCLUDED.osm_id, EXCLUDED.building_type,
                                EXCLUDED.levels, EXCLUDED.height_m, EXCLUDED.repair)
           OR NOT ST_Equals(buildings.geom, EXCLUDED.geom)
           OR buildings.deleted_at IS NOT NULL"""))
    deleted = 0
    if area is not None:
        deleted = conn.execute(text("""
            UPDATE buildings b SET deleted_at = now()
            WHERE b.osm_id IS NOT NULL AND b.deleted_at IS NULL
              AND ST_Within(ST_Centroid(b.geom), ST_GeomFromEWKB(decode(:a, 'hex')))
              AND NOT EXISTS (SELECT 1 FROM osm_buildings_in i WHERE i.code = b.code)"""),
            {"a": ewkb_hex([area])[0]}).rowcount
    in_compounds = conn.execute(text("""
        UPDATE buildings b SET compound_code = c.code
        FROM osm_buildings_in i, compounds c
        WHERE b.code = i.code AND b.compound_code IS NULL AND c.deleted_at IS NULL
          AND c.geom && b.geom AND ST_Within(ST_Centroid(b.geom), c.geom)""")).rowcount
    return {"inserted": len(codes) - int(before), "updated": int(before), "deleted": deleted,
            "in_compounds": in_compounds}


def write_facilities(conn: Connection, facilities: gpd.GeoDataFrame, *, dataset: str) -> int:
    """Replace the facilities of ``dataset`` (one transaction, the caller's)."""
    conn.execute(text("DELETE FROM facilities WHERE dataset = :d"), {"d": dataset})
    if len(facilities) == 0:
        return 0
    # a facility mapped in two datasets keeps its newest one
    conn.execute(text("""
        DELETE FROM facilities WHERE (osm_type, osm_id) IN
            (SELECT * FROM unnest(CAST(:t AS text[]), CAST(:i AS bigint[])))"""),
        {"t": list(facilities["osm_type"]), "i": [int(v) for v in facilities["osm_id"]]})
    return copy_rows(conn, "facilities",
                     ["osm_type", "osm_id", "kind", "tag", "name", "dataset", "tags", "geom"],
                     zip(facilities["osm_type"], facilities["osm_id"].tolist(),
                         facilities["kind"], facilities["tag"], facilities["name"],
                         [dataset] * len(facilities),
                         [json.dumps(t, ensure_ascii=False) for t in facilities["tags"]],
                         ewkb_hex(facilities.geometry.to_numpy()), strict=True))


def create_default_region(conn: Connection, name: str, area: BaseGeometry) -> dict | None:
    """When the database has no region, make one town with boundary ``area`` (the
    caller's: an extract's streets, see :func:`geo.io.osm.import_osm`). Returns the
    region made, or ``None`` when there are regions already."""
    if conn.execute(text("SELECT EXISTS (SELECT 1 FROM regions)")).scalar_one():
        return None
    row = conn.execute(text("""
        INSERT INTO regions (code, name, level, geom, properties)
        VALUES (:code, :name, 'town', ST_Multi(ST_GeomFromEWKB(decode(:g, 'hex'))),
                CAST(:props AS jsonb))
        RETURNING ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1,
                  ST_YMax(geom) AS y1"""),
        {"code": DEFAULT_REGION_CODE, "name": name, "g": ewkb_hex([area])[0],
         "props": json.dumps({"source": "osm-extract", "note": "街道节点凸包外扩 50 米"},
                             ensure_ascii=False)}).one()
    return {"code": DEFAULT_REGION_CODE, "name": name, "level": "town",
            "bounds": (row.x0, row.y0, row.x1, row.y1)}
