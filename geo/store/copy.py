"""Bulk writes with PostgreSQL COPY: the one encoder of rows for the store.

``GeoDataFrame.to_postgis`` issues INSERT statements through SQLAlchemy, which is
about ten times slower than COPY for the tens of thousands of buildings in a
town.  Every bulk write of the product (file imports, sample loading, walking
networks, stored service circles) goes through :func:`copy_columns` or
:func:`copy_rows`: values are encoded column by column in COPY's text format
(``\\N`` for NULL, arrays as PostgreSQL array literals, dicts as JSON) and
geometries travel as hex EWKB with SRID 4326, which PostGIS parses directly.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

__all__ = ["column_or", "copy_columns", "copy_rows", "ewkb_hex", "pg_array", "to_multi"]

_SRID_FLAG = 0x20000000
_SRID = struct.pack("<I", 4326)
_MULTI_ONE = b"\x01" + struct.pack("<III", 6 | _SRID_FLAG, 4326, 1)


def to_multi(geoms: Sequence[BaseGeometry]) -> np.ndarray:
    """Polygons become one-part MultiPolygons (tables store MULTIPOLYGON)."""
    arr = np.asarray(geoms, dtype=object)
    out = arr.copy()
    is_poly = shapely.get_type_id(arr) == 3
    if is_poly.any():
        out[is_poly] = [shapely.MultiPolygon([g]) for g in arr[is_poly]]
    return out


def ewkb_hex(geoms: Sequence[BaseGeometry | None] | np.ndarray, *,
             multi: bool = False) -> list[str | None]:
    """Hex EWKB (SRID 4326, 2D) of each geometry; ``None`` stays ``None``.

    ``multi``: a Polygon is written as a one-part MultiPolygon.  Built from
    shapely's ISO WKB by adding the SRID to the header (and a one-part
    MultiPolygon header around a Polygon), several times faster than building
    MultiPolygon objects and hex-encoding them in shapely.
    """
    arr = np.asarray(geoms, dtype=object)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    out: list[str | None] = [None] * len(arr)
    present = np.flatnonzero(shapely.get_type_id(arr) >= 0)
    if not present.size:
        return out
    wkbs = shapely.to_wkb(arr[present], hex=False, byte_order=1, include_srid=False,
                          output_dimension=2)
    for k, w in zip(present.tolist(), wkbs.tolist(), strict=True):
        code = struct.unpack_from("<I", w, 1)[0]
        if multi and code == 3:
            out[k] = (_MULTI_ONE + w).hex()
        else:
            out[k] = (w[:1] + struct.pack("<I", code | _SRID_FLAG) + _SRID + w[5:]).hex()
    return out


def pg_array(values: Iterable[Any] | None) -> str | None:
    """PostgreSQL text-array literal (``None`` stays ``None``)."""
    if values is None:
        return None
    items = ['"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"' for x in values]
    return "{" + ",".join(items) + "}"


def column_or(df: pd.DataFrame, column: str, default: Any = None) -> list:
    """The values of ``column``, or ``default`` for every row when it is absent."""
    if column in df.columns:
        return list(df[column])
    return [default] * len(df)


_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _cell(v: Any) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool | np.bool_):
        return "t" if v else "f"
    if isinstance(v, float | np.floating):
        return "\\N" if math.isnan(v) else repr(float(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, Mapping):
        return json.dumps(v, ensure_ascii=False).translate(_ESCAPE)
    if isinstance(v, list | tuple | np.ndarray):
        return pg_array(v).translate(_ESCAPE)  # type: ignore[union-attr]
    if v is pd.NA or v is pd.NaT:
        return "\\N"
    return str(v).translate(_ESCAPE)


def _column(values: list[Any]) -> list[str]:
    """COPY text of a column, with fast paths for plain strings and integers."""
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "string":
        joined = "".join(values)
        if not any(ch in joined for ch in "\\\t\n\r"):
            return values
        return [v.translate(_ESCAPE) for v in values]
    if kind == "integer":
        return [str(int(v)) for v in values]
    return [_cell(v) for v in values]


#: rows per COPY chunk: the server inserts one chunk while the next is encoded
_CHUNK = 5000


def copy_columns(conn: Connection, table: str, columns: Mapping[str, Sequence[Any]]) -> int:
    """COPY columns of values into ``table`` (quoted here); returns the number of rows written.

    Values: ``None``/NaN are NULL, booleans ``t``/``f``, dicts JSON, lists and
    tuples array literals, geometries must already be hex EWKB (:func:`ewkb_hex`).
    """
    cols = list(columns)
    texts = [_column(list(columns[c])) for c in cols]
    n = len(texts[0]) if texts else 0
    names = ", ".join(f'"{c}"' for c in cols)
    target = table if table.startswith('"') else f'"{table}"'
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {target} ({names}) FROM STDIN") as cp:
        for start in range(0, n, _CHUNK):
            part = [t[start:start + _CHUNK] for t in texts]
            cp.write("".join("\t".join(row) + "\n" for row in zip(*part, strict=True)))
    return n


def copy_rows(conn: Connection, table: str, columns: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> int:
    """:func:`copy_columns` for rows given as tuples in ``columns`` order."""
    data = list(rows)
    if not data:
        return 0
    by_column = list(zip(*data, strict=True))
    return copy_columns(conn, table, {c: list(v) for c, v in zip(columns, by_column,
                                                                  strict=True)})
