"""Cells of a planner's file: their texts, and how a value is shown in a problem."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.io.tables import cell_text
from geo.rules import EMPTY_TOKENS

__all__ = ["code_hash", "fmt_value", "shown", "texts"]


def texts(values: pd.Series, *, optional: bool) -> np.ndarray:
    """Cell texts (``None`` for empty; ``-``/``无`` ... count as empty when ``optional``)."""
    if len(values) and pd.api.types.infer_dtype(values, skipna=True) == "string":
        stripped = values.astype(object).str.strip()
        empty = stripped.isna() | (stripped.str.len() == 0)
        if optional:
            empty |= stripped.str.lower().isin(EMPTY_TOKENS)
        fast = stripped.to_numpy(dtype=object, copy=True)
        fast[empty.to_numpy(dtype=bool)] = None
        return fast
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values.tolist()):
        s = cell_text(v)
        if s is not None and optional and s.lower() in EMPTY_TOKENS:
            s = None
        out[i] = s
    return out


def shown(value: Any) -> Any:
    """A JSON-safe, short version of a cell value for problems."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool):
        return value if not isinstance(value, str) else value[:200]
    if isinstance(value, shapely.Geometry):
        return value.geom_type
    return str(value)[:200]


def fmt_value(value: Any) -> str:
    s = cell_text(value)
    return "" if s is None else s[:60]


def code_hash(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:10].upper()
