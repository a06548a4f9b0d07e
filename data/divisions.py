"""National statistical division codes and names (统计用区划代码) for the sample towns.

The table lives in ``divisions.csv`` with the columns ``code, name, level,
parent_code, parent_name`` (``level`` is ``"town"`` or ``"village"``). It is
looked up, in this order:

1. the file named by the environment variable ``SERVICEMAP_DIVISIONS_CSV``;
2. the copy bundled with this package, ``data/divisions.csv``;
3. the shared facts folder next to the repository, ``../shared/facts/divisions.csv``.
"""

from __future__ import annotations

import csv
import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

ENV_VAR = "SERVICEMAP_DIVISIONS_CSV"
BUNDLED_CSV = Path(__file__).resolve().parent / "divisions.csv"
SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "facts" / "divisions.csv"
COLUMNS = ("code", "name", "level", "parent_code", "parent_name")


def divisions_csv_path() -> Path:
    """Path of the divisions table in use.

    Returns
    -------
    pathlib.Path
        The first existing file among ``$SERVICEMAP_DIVISIONS_CSV``, the bundled
        ``data/divisions.csv`` and ``../shared/facts/divisions.csv``.

    Raises
    ------
    FileNotFoundError
        If the environment variable names a missing file, or no table is found.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{ENV_VAR}={env!r}: no such file")
        return path
    for path in (BUNDLED_CSV, SHARED_CSV):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"divisions table not found: set {ENV_VAR}, or provide {BUNDLED_CSV} or {SHARED_CSV}"
    )


@lru_cache(maxsize=4)
def _read(path: str) -> tuple[tuple[str, ...], ...]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}")
        return tuple(tuple((row[c] or "").strip() for c in COLUMNS) for row in reader)


def load_divisions() -> pd.DataFrame:
    """The whole divisions table.

    Returns
    -------
    pandas.DataFrame
        Columns ``code, name, level, parent_code, parent_name``, all strings
        (codes keep their leading digits exactly as published).
    """
    rows = _read(str(divisions_csv_path()))
    return pd.DataFrame(list(rows), columns=list(COLUMNS), dtype=object)


def town(code: str) -> pd.Series:
    """The row of town/street ``code`` (level ``"town"``).

    Raises
    ------
    KeyError
        If the table has no town with that code.
    """
    df = load_divisions()
    hit = df[(df["code"] == code) & (df["level"] == "town")]
    if hit.empty:
        raise KeyError(f"no town with code {code!r} in {divisions_csv_path()}")
    return hit.iloc[0]


def villages(town_code: str) -> pd.DataFrame:
    """Village-level units (村/社区) of a town, in table order.

    Parameters
    ----------
    town_code : str
        Nine-digit town/street code, e.g. ``"440605126"`` (里水镇).

    Returns
    -------
    pandas.DataFrame
        The rows whose ``parent_code`` is ``town_code`` and ``level`` is
        ``"village"``, re-indexed from 0.
    """
    df = load_divisions()
    out = df[(df["parent_code"] == town_code) & (df["level"] == "village")]
    return out.reset_index(drop=True)


def division_names() -> dict[str, str]:
    """Name of every code the table mentions, parents (counties) included.

    Returns
    -------
    dict[str, str]
        ``code -> name``; a code's own row wins over its mention as a parent.
    """
    names: dict[str, str] = {}
    for _code, _name, _level, parent_code, parent_name in _read(str(divisions_csv_path())):
        if parent_code and parent_name:
            names.setdefault(parent_code, parent_name)
    for code, name, *_ in _read(str(divisions_csv_path())):
        names[code] = name
    return names
