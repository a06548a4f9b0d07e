"""Bulk writes with PostgreSQL COPY.

``GeoDataFrame.to_postgis`` issues INSERT statements through SQLAlchemy, which is
about ten times slower than COPY for the tens of thousands of buildings in a
town; geometries travel as hex EWKB, which PostGIS parses directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


def to_multi(geoms: Sequence[BaseGeometry]) -> np.ndarray:
    """Polygons become one-part MultiPolygons (tables store MULTIPOLYGON)."""
    arr = np.asarray(geoms, dtype=object)
    out = arr.copy()
    is_poly = shapely.get_type_id(arr) == 3
    if is_poly.any():
        out[is_poly] = [shapely.MultiPolygon([g]) for g in arr[is_poly]]
    return out


def ewkb_hex(geoms: Sequence[BaseGeometry], *, multi: bool = False) -> list[str | None]:
    """Hex EWKB with SRID 4326 for each geometry (None stays None)."""
    arr = to_multi(geoms) if multi else np.asarray(geoms, dtype=object)
    arr = shapely.set_srid(arr, 4326)
    return list(shapely.to_wkb(arr, hex=True, include_srid=True))


def column_or(df, column: str, default: Any = None) -> list:
    """The values of ``column``, or ``default`` for every row when it is absent."""
    if column in df.columns:
        return list(df[column])
    return [default] * len(df)


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple, np.ndarray)):
        # PostgreSQL text array literal
        items = ['"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"' for x in v]
        return "{" + ",".join(items) + "}"
    if isinstance(v, np.generic):
        return v.item()
    return v


def copy_rows(dbapi_conn, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into ``table``; returns the number of rows written."""
    cols = ", ".join(f'"{c}"' for c in columns)
    n = 0
    with dbapi_conn.cursor() as cur:
        with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as cp:
            for row in rows:
                cp.write_row([_cell(v) for v in row])
                n += 1
    return n
