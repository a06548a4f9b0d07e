"""References of a file's rows to what the store holds: regions (by division
code or name, ambiguous names resolved by location), compounds (by code or
unique name), a row's region from its location, and the town check."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo import crs as crsmod
from geo import rules
from geo.io.importer.cells import fmt_value
from geo.io.importer.run import Run
from geo.io.tables import normalize_label
from geo.regions import town_geometry_of

__all__ = ["Regions", "check_towns", "compound_refs", "load_compounds", "load_regions",
           "locate", "regions_of"]


_NAME_SUFFIXES = ("居民委员会", "村民委员会", "居委会", "村委会", "委员会")


def name_keys(name: str) -> set[str]:
    key = normalize_label(name)
    keys = {key}
    for suf in _NAME_SUFFIXES:
        if key.endswith(suf) and len(key) > len(suf):
            stem = key[: -len(suf)]
            keys.add(stem)
            for tail in ("社区", "村"):
                if stem.endswith(tail) and len(stem) - len(tail) >= 2:
                    keys.add(stem[: -len(tail)])
            break
    return keys


@dataclass
class Regions:
    codes: dict[str, tuple[str, str]]  # code -> (name, level)
    by_name: dict[str, set[str]]

    def resolve(self, value: str) -> tuple[str | None, list[str]]:
        v = unicodedata.normalize("NFKC", value).strip()
        if v in self.codes:
            return v, []
        if v.isdigit():
            return None, []
        found = self.by_name.get(normalize_label(v), set())
        if len(found) == 1:
            return next(iter(found)), []
        return None, sorted(found)


def load_regions(conn: Connection) -> Regions:
    rows = conn.execute(text("SELECT code, name, level FROM regions")).all()
    codes = {str(r.code): (str(r.name), str(r.level)) for r in rows}
    by_name: dict[str, set[str]] = {}
    for code, (name, _level) in codes.items():
        for k in name_keys(name):
            by_name.setdefault(k, set()).add(code)
    return Regions(codes, by_name)


def load_compounds(conn: Connection) -> tuple[set[str], dict[str, set[str]]]:
    rows = conn.execute(text("SELECT code, name FROM compounds WHERE deleted_at IS NULL")).all()
    codes = {str(r.code) for r in rows}
    by_name: dict[str, set[str]] = {}
    for r in rows:
        by_name.setdefault(normalize_label(r.name), set()).add(str(r.code))
    return codes, by_name


def regions_of(run: Run, regions: Regions, fld: str = "region",
                reps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(resolved codes, raw texts)`` of a region column (None where empty).

    A name shared by several regions (胜利社区居委会 exists in two towns) is
    resolved by location when ``reps`` (one point per row, WGS-84) lies in
    exactly one of them, else by the town most other rows belong to; otherwise
    it is an ``ambiguous_region`` error.
    """
    vals = run.texts(fld)
    out = np.full(run.n, None, dtype=object)
    if vals is None:
        return out, np.full(run.n, None, dtype=object)
    col = run.column_name(fld)
    cache: dict[str, tuple[str | None, list[str]]] = {}
    ambiguous: dict[int, list[str]] = {}
    for i, v in enumerate(vals):
        if v is None:
            continue
        if v not in cache:
            cache[v] = regions.resolve(v)
        code, candidates = cache[v]
        if code is not None:
            out[i] = code
        elif candidates:
            ambiguous[i] = candidates
        else:
            run.error(i, col, "unknown_region", f"的值 '{v}' 不是已有的村居（区划代码或名称）",
                      value=v,
                      expected="regions 表中已有的区划代码或名称（可先导入 regions）")
    if not ambiguous:
        return out, vals
    shapes: dict[str, Any] = {}
    if reps is not None:
        wanted = sorted({c for cands in ambiguous.values() for c in cands})
        for r in run.conn.execute(text(
                "SELECT code, ST_AsBinary(geom) AS g FROM regions WHERE code = ANY(:c) "
                "AND geom IS NOT NULL"), {"c": wanted}):
            shapes[str(r.code)] = shapely.from_wkb(bytes(r.g))
    towns = pd.Series([c[:9] for c in out if c is not None and len(c) == 12])
    top = towns.value_counts().index[0] if len(towns) else None
    for i, cands in ambiguous.items():
        pick: list[str] = []
        p = reps[i] if reps is not None else None
        if p is not None:
            pick = [c for c in cands if c in shapes and shapes[c].covers(p)]
        if len(pick) != 1 and top is not None:
            pick = [c for c in cands if c.startswith(top)]
        if len(pick) == 1:
            out[i] = pick[0]
            continue
        listed = "、".join(f"{c}（{regions.codes[c][0]}）" for c in cands[:6])
        run.error(i, col, "ambiguous_region", f"的值 '{vals[i]}' 对应多个村居：{listed}",
                  value=vals[i], expected="唯一的村居名称或 12 位区划代码")
    return out, vals


def compound_refs(run: Run, fld: str, known: tuple[set[str], dict[str, set[str]]],
                   *, many: bool) -> np.ndarray | None:
    vals = run.texts(fld)
    if vals is None:
        return None
    codes, by_name = known
    col = run.column_name(fld)
    out = np.full(run.n, None, dtype=object)
    cache: dict[str, tuple[str | None, str | None]] = {}

    def one(v: str) -> tuple[str | None, str | None]:
        v = v.strip()
        if v in codes:
            return v, None
        found = by_name.get(normalize_label(v), set())
        if len(found) == 1:
            return next(iter(found)), None
        if found:
            return None, "ambiguous"
        return None, "unknown"

    for i, v in enumerate(vals):
        if v is None:
            if many:
                out[i] = []
            continue
        words = [w for w in re.split(r"[、,，;；/|\n]+", v) if w.strip()] if many else [v]
        got: list[str] = []
        for w in words:
            if w not in cache:
                cache[w] = one(w)
            code, why = cache[w]
            if code is None:
                what = "对应多个小区" if why == "ambiguous" else "不是已有的小区（编码或名称）"
                run.error(i, col, "unknown_compound" if why == "unknown" else "ambiguous_compound",
                          f"的值 '{fmt_value(w)}' {what}", value=w,
                          expected="compounds 表中已有的小区编码或唯一的小区名称"
                                   "（可先导入 compounds）")
            elif code not in got:
                got.append(code)
        out[i] = got if many else (got[0] if got else None)
    return out


def _region_geoms(conn: Connection, codes: set[str], bbox: tuple[float, float, float, float]
                  ) -> dict[str, tuple[str, str, Any]]:
    rows = conn.execute(text(
        "SELECT code, name, level, ST_AsBinary(geom) AS g FROM regions WHERE geom IS NOT NULL "
        "AND (code = ANY(:codes) OR geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"),
        {"codes": sorted(codes), "x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3]}).all()
    return {str(r.code): (str(r.name), str(r.level), shapely.from_wkb(bytes(r.g))) for r in rows}


_LEVEL_DEPTH = {"county": 0, "town": 1, "village": 2}


def _project(geom: Any, transformer: pyproj.Transformer) -> Any:
    """A geometry (or array) through a pyproj transformer (``always_xy``)."""

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, fn)


def locate(run: Run, pts: np.ndarray, region_codes: np.ndarray, *, check: bool,
            label: str) -> np.ndarray:
    """Assign missing regions from location; warn about points outside their region."""
    ok = np.flatnonzero(~run.bad & (shapely.get_type_id(pts) >= 0))
    out = region_codes.copy()
    if not ok.size:
        return out
    b = shapely.total_bounds(pts[ok])
    bbox = (float(b[0]) - 0.01, float(b[1]) - 0.01, float(b[2]) + 0.01, float(b[3]) + 0.01)
    wanted = {c for c in region_codes[ok] if c is not None}
    geoms = _region_geoms(run.conn, wanted, bbox)
    any_regions = run.conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM regions WHERE geom IS NOT NULL)")).scalar_one()
    if not any_regions:
        return out
    codes = list(geoms)
    tree = shapely.STRtree([geoms[c][2] for c in codes]) if codes else None
    assigned = 0
    metric: pyproj.Transformer | None = None
    for i in ok:
        p = pts[i]
        rc = region_codes[i]
        if rc is not None:
            if not check or rc not in geoms:
                continue
            name, _level, g = geoms[rc]
            if not g.covers(p):
                if metric is None:
                    metric = pyproj.Transformer.from_crs(
                        4326, crsmod.metric_crs_for(p.x, p.y), always_xy=True)
                gm = _project(g, metric)
                pm = shapely.Point(*metric.transform(p.x, p.y))
                d = gm.distance(pm)
                run.warn(int(i), None, "outside_region",
                         f"的{label}不在所属村居『{name}』（{rc}）范围内，距其边界约 {d:,.0f} 米",
                         value=f"{p.x:.6f},{p.y:.6f}", expected=f"位于 {name} 范围内的坐标")
            continue
        hits = tree.query(p, predicate="within") if tree is not None else []
        if len(hits) == 0:
            if check:
                run.warn(int(i), None, "outside_all_regions",
                         f"的{label}不在任何已知村居、镇街的范围内（坐标 {p.x:.6f}, {p.y:.6f}），"
                         "请检查坐标和坐标系", value=f"{p.x:.6f},{p.y:.6f}")
            continue
        best = max((codes[h] for h in hits), key=lambda c: _LEVEL_DEPTH.get(geoms[c][1], -1))
        out[i] = best
        assigned += 1
    if assigned:
        run.warn(None, None, "region_assigned",
                 f"{assigned} {run.raw.row_word}没有填写所属村居，已按位置归入所在村居")
    return out


def check_towns(run: Run, reps: np.ndarray, region_codes: np.ndarray) -> None:
    """Warn about rows whose point (a polygon's point on surface) lies more than
    :data:`geo.rules.TOWN_TOLERANCE_M` outside the town of their declared region.

    The planner API's rule (:func:`geo.editing.create`), with the severity each
    channel promises: a file import warns and imports (a town's list may hold a
    station just over the border; the planner sees it in the report), while an
    API write refuses."""
    idx = [i for i in range(run.n) if not run.bad[i] and region_codes[i] is not None
           and reps[i] is not None]
    if not idx:
        return
    towns = {c: town_geometry_of(run.conn, c) for c in sorted({region_codes[i] for i in idx})}
    idx = [i for i in idx if towns[region_codes[i]] is not None]
    if not idx:
        return
    town_codes = [towns[region_codes[i]][0] for i in idx]  # type: ignore[index]
    pts = [shapely.to_wkb(reps[i], hex=True) for i in idx]
    inside = dict(run.conn.execute(text(
        "SELECT u.k, ST_DWithin(r.geom::geography, "
        "ST_SetSRID(ST_GeomFromWKB(decode(u.p, 'hex')), 4326)::geography, :tol) "
        "FROM unnest(CAST(:towns AS text[]), CAST(:pts AS text[])) WITH ORDINALITY "
        "AS u(town, p, k) JOIN regions r ON r.code = u.town"),
        {"towns": town_codes, "pts": pts, "tol": rules.TOWN_TOLERANCE_M}).all())
    for k, i in enumerate(idx, start=1):
        if inside.get(k, True):
            continue
        code, name = towns[region_codes[i]]  # type: ignore[misc]
        p = reps[i]
        run.warn(i, None, "outside_town",
                  f"的位置（{p.x:.6f}, {p.y:.6f}）不在所属区划 {region_codes[i]} 所在的"
                  f"{name}范围内（容差 {rules.TOWN_TOLERANCE_M:g} 米）",
                  value=f"{p.x:.6f},{p.y:.6f}",
                  expected=f"位于 {name}（{code}）范围内的坐标，或更正所属村居/坐标系")
