"""The coordinate system of a file, sniffed: hints in what the file says about
itself, evidence from the town's streets and buildings, and the decision
between them and a declaration.  Nothing is ever silently wrong: the report
says which system was used and why, and a clear contradiction refuses the file.

Hints
    Where the file declares nothing (no ``--crs``, mapping file, ``.prj`` or
    in-file ``crs``), the words of :data:`geo.vocab.CRS_HINT_WORDS` (高德, 百度,
    CGCS2000, WGS-84 ...) are looked for in the file name, the sheet or layer
    name, the title rows above the header and the coordinate headers.  A
    坐标系 column (:data:`CRS_COLUMN_HEADERS`) naming one system for every row
    is a declaration of the file.

Evidence
    The points of a point file are read in every candidate system (WGS-84; and
    GCJ-02, BD-09 when most points lie in :data:`geo.crs.CHINA_BBOX`, the only
    place those offsets exist), converted to WGS-84 and measured in PostGIS
    against the nearest building (``buildings``) and street edge
    (``network_edges``, every dataset): one query per layer for all points and
    candidates, a KNN ``<->`` on the GiST index (the :data:`KNN` nearest by
    degrees) and the exact ``geography`` distance in metres of those.  A
    position in the right system lies in its building (0 m) or by its street
    (a few metres); read in a wrong system it moves by 500-700 m, to a place
    that has nothing to do with it.

    On the sample town (里水, 1,890 km of streets, median edge 105 m, 39,000
    buildings) the 170 positions read in their own system are 0 m from a
    building (median; 80th percentile 0 m) and 24 m from a street, and read in
    a wrong system 123-146 m from a building but still 23-31 m from a street:
    streets that dense are near *any* point.  So a fixed "best under 60 m,
    second over 150 m" rule cannot tell the systems apart by streets, and the
    absolute distance of the wrong readings says little.  What does is how
    much closer the right reading is, point by point.  A layer names a winner
    when, over its points (at least :data:`MIN_POINTS` within
    :data:`REACH_M` of it):

    * the best reading's median distance is at most :data:`FIT_M` (15 m: in
      its building, or by its street);
    * every other reading's median is at least :data:`RATIO` times that and
      :data:`GAP_M` more (2x and +5 m: a real gap, not noise of a few metres);
    * and the best reading is closer than each other one, point by point, more
      often than chance allows: a one-sided sign test over the points where the
      two differ by more than :data:`TIE_M` (5 m), at :data:`ALPHA` (1 %).  So a
      verdict needs at least 7 points (0.5^7 < 1 %).

    Measured on the sample (400 random sets per size and kind, the three
    systems in turn; ``tests/geo/io/test_crs_sniff.py`` keeps a few of them):
    points scattered at random over the villages, which relate to nothing,
    never got a verdict (0 of 2,000 sets of 7-40 points), and no set ever got
    a wrong one; the sample's positions (in their buildings) were recognised
    in 24 % of sets of 7 and 99-100 % from 10 points on, points a few metres
    off a street in 75 % of sets of 10, 99 % of 15 and 100 % of 20 and 40
    (the rest: no verdict, so hints and the default decide).  Buildings and
    streets naming different winners is no verdict.  Without streets and
    buildings near the points (or with fewer than :data:`MIN_POINTS`) the
    evidence is "not available".

Decisions
    * declared (``--crs``, mapping file, file, 坐标系 column): used, unless the
      evidence clearly names another system: then the file is refused
      (``crs_contradicted``) with the distances, unless ``trust_crs``, which
      imports as declared and warns (``crs_evidence_ignored``);
    * undeclared, hints of one system: the hint, unless the evidence clearly
      names another (refused, ``crs_hint_contradicted``, or ``trust_crs``);
    * undeclared, hints of several systems: the evidence's winner, else refused
      (``crs_hints_conflict``);
    * undeclared, no hint: the evidence's winner (``crs_from_evidence``), else
      WGS-84 with the ``crs_assumed`` warning.

    WGS-84 and CGCS2000 are one system here (:mod:`geo.crs` treats them as
    identical).

Projected coordinates
    A file whose coordinates are metres (Gauss-Krüger x = 38,512,345, UTM)
    without a ``.prj`` is refused in one line (``not_lnglat``) naming a
    projection to pass (from the zone number of the easting, or from the
    stored regions' longitude).  ``--crs EPSG:4547`` (any projected CRS PROJ
    knows on the WGS-84 or CGCS2000 datum; others approximately, with
    ``datum_approximate``) then reads a GIS file without ``.prj`` in it, and a
    table's longitude/latitude columns (easting/northing in either order: the
    order that lands in the projection's area is taken) as metres in it.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import shapely
from sqlalchemy import text

from geo import crs as crsmod
from geo.errors import Problem
from geo.io.columns import crs_hint
from geo.io.importer.geometry import classify_file_crs
from geo.io.importer.run import Run
from geo.io.tables import cell_text
from geo.rules import LAT_RANGE, LNG_RANGE, number_from_text, parse_numbers
from geo.vocab import CRS_ZH, crs_hints, normalize_label

__all__ = [
    "ALPHA",
    "CANDIDATES",
    "CRS_COLUMN_HEADERS",
    "DECLARED_SOURCES",
    "FIT_M",
    "GAP_M",
    "KNN",
    "MAX_POINTS",
    "MIN_POINTS",
    "RATIO",
    "REACH_M",
    "TIE_M",
    "Evidence",
    "Hint",
    "LayerFit",
    "check_lnglat",
    "find_hints",
    "layer_verdict",
    "measure",
    "prepare_projected",
    "projected_crs",
    "settle_crs",
]

#: Systems the evidence compares (CGCS2000 reads as WGS-84).
CANDIDATES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
#: Fewer points than this near the streets or buildings: no evidence at all.
MIN_POINTS = 3
#: At most this many points are measured (evenly spaced through the file).
MAX_POINTS = 1000
#: A point farther than this (metres) from every building (street) in every
#: reading is outside the loaded data and not counted for that layer.
REACH_M = 1000.0
#: The winner's median distance is at most this (metres).
FIT_M = 15.0
#: Every other reading's median is at least RATIO x and GAP_M more than the winner's.
RATIO = 2.0
GAP_M = 5.0
#: Point-by-point differences within this (metres) are ties in the sign test.
TIE_M = 5.0
#: Significance of the one-sided sign test.
ALPHA = 0.01
#: Nearest features by the index's (degree) distance measured exactly in metres.
KNN = 4
#: Sources of ``ImportReport.crs_source`` that declare the system.
DECLARED_SOURCES: tuple[str, ...] = ("--crs", "mapping", "file", "column")
#: Headers (normalised) of a column naming each row's coordinate system.
CRS_COLUMN_HEADERS: frozenset[str] = frozenset(normalize_label(h) for h in (
    "坐标系", "坐标系统", "坐标类型", "坐标系类型", "坐标参考系", "坐标参照系", "坐标系名称",
    "crs", "srs", "epsg"))

_LAYERS: dict[str, tuple[str, str]] = {
    # layer: (Chinese name, the KNN subquery on the point t.g)
    "buildings": ("楼栋", "SELECT geom FROM buildings WHERE deleted_at IS NULL "
                          "ORDER BY geom <-> t.g LIMIT {knn}"),
    "streets": ("道路", "SELECT geom FROM network_edges ORDER BY geom <-> t.g LIMIT {knn}"),
}
_DISTANCES_SQL = """
SELECT t.i, t.c, (SELECT min(ST_Distance(k.geom::geography, t.g::geography))
                  FROM ({inner}) k) AS d
FROM (SELECT u.i, u.c, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326) AS g
      FROM unnest(CAST(:i AS int[]), CAST(:c AS text[]), CAST(:x AS float8[]),
                  CAST(:y AS float8[])) AS u(i, c, x, y)) t
"""
#: Coordinates beyond this are metres (projected), not degrees.
_METRES = 1000.0
_COORD_HEADER = re.compile(r"坐标|经纬|经度|纬度")


def _group(name: str | None) -> str | None:
    """The evidence's system of a name: CGCS2000 reads as WGS-84."""
    return "wgs84" if name == "cgcs2000" else name


def _zh(name: str | None) -> str:
    return CRS_ZH.get(name or "", name or "")


def _sp(name: str) -> str:
    """The Chinese name spaced for running text (``按 WGS-84 处理``, ``按 BD-09（百度）处理``)."""
    zh = _zh(name)
    return f" {zh}" + ("" if zh.endswith("）") else " ")


def _flag(name: str) -> str:
    return f"--crs {name}"


# --------------------------------------------------------------------------
# hints
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Hint:
    """A word naming a coordinate system somewhere in the file."""

    system: str
    word: str
    where: str
    text: str
    column: str | None = None

    def zh(self) -> str:
        """``标题「里水镇阵地一览（高德坐标）」中的“高德”``."""
        return f"{self.where}「{self.text}」中的“{self.word}”"


def find_hints(run: Run) -> list[Hint]:
    """Hints in the file name, sheet/layer name, title rows and coordinate headers."""
    raw = run.raw
    texts: list[tuple[str, str, str | None]] = [("文件名", raw.file, None)]
    if raw.sheet:
        texts.append(("工作表" if raw.format == "xlsx" else "图层", raw.sheet, None))
    texts += [("标题", t, None) for t in raw.title_rows]
    coords = {run.cmap.fields.get(f) for f in ("lng", "lat", "lnglat")} - {None}
    for col in raw.frame.columns:
        label = str(col)
        if normalize_label(label) in CRS_COLUMN_HEADERS:
            continue
        if label in coords or _COORD_HEADER.search(label):
            texts.append(("列名", label, label))
    out: list[Hint] = []
    seen: set[tuple[str, str, str]] = set()
    for where, t, col in texts:
        for word, system in crs_hints(t):
            key = (system, word, t)
            if key not in seen:
                seen.add(key)
                out.append(Hint(system, word, where, t, col))
    return out


@dataclass
class _Column:
    system: str
    column: str
    values: list[str]


def _crs_column(run: Run) -> _Column | None:
    """The 坐标系 column's one system (errors for unknown or mixed values)."""
    for col in run.raw.frame.columns:
        if normalize_label(str(col)) not in CRS_COLUMN_HEADERS:
            continue
        values = [v for v in (cell_text(x) for x in run.raw.frame[col].tolist()) if v]
        if not values:
            return None
        systems: dict[str, str] = {}
        for v in dict.fromkeys(values):
            name = _system_of(v)
            if name is None:
                run.report.errors.append(Problem(
                    message=f"{run.raw.file} 的『{col}』列的值 '{v[:40]}' 不是认识的坐标系",
                    file=run.raw.file, sheet=run.raw.sheet, column=str(col), value=v[:100],
                    expected="WGS-84、GCJ-02（高德/腾讯）、BD-09（百度）或 CGCS2000",
                    kind="unknown_crs"))
                return None
            systems[v] = name
        groups = {_group(s) for s in systems.values()}
        if len(groups) > 1:
            shown = "、".join(f"{v}（{_zh(s)}）" for v, s in systems.items())
            run.report.errors.append(Problem(
                message=f"{run.raw.file} 的『{col}』列中有不止一种坐标系：{shown}；"
                        "请按坐标系分成几个文件分别导入",
                file=run.raw.file, sheet=run.raw.sheet, column=str(col),
                value="、".join(systems)[:100], expected="全表同一种坐标系",
                kind="mixed_crs"))
            return None
        return _Column(next(iter(systems.values())), str(col), list(dict.fromkeys(values)))
    return None


def _system_of(value: str) -> str | None:
    try:
        return crsmod.normalize_crs_name(f"epsg{value}" if value.isdigit() else value)
    except ValueError:
        pass
    found = crs_hints(value)
    return found[0][1] if len({_group(s) for _, s in found}) == 1 else None


# --------------------------------------------------------------------------
# the file's points, read quietly (the rows' problems are geometry.py's)
# --------------------------------------------------------------------------
def _projected_to_lnglat(x: np.ndarray, y: np.ndarray, c: pyproj.CRS
                         ) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs(c, 4326, always_xy=True)
    lng, lat = tr.transform(x, y)
    return np.asarray(lng, dtype=float), np.asarray(lat, dtype=float)


def _table_numbers(run: Run) -> tuple[np.ndarray, np.ndarray] | None:
    """Raw numbers of the lng/lat (or lnglat) columns; NaN where unreadable."""
    if run.has("lng") and run.has("lat"):
        lng_s, lat_s = run.series("lng"), run.series("lat")
        assert lng_s is not None and lat_s is not None
        return parse_numbers(lng_s)[0], parse_numbers(lat_s)[0]
    if run.has("lnglat"):
        vals = run.texts("lnglat")
        assert vals is not None
        x = np.full(run.n, np.nan)
        y = np.full(run.n, np.nan)
        for i, v in enumerate(vals):
            if v is None:
                continue
            parts = [p for p in re.split(r"[,，;；\s]+", unicodedata.normalize("NFKC", v)) if p]
            nums = [number_from_text(p) for p in parts]
            if len(parts) == 2 and None not in nums:
                x[i], y[i] = nums[0], nums[1]  # type: ignore[assignment]
        return x, y
    return None


def _file_points(run: Run) -> tuple[np.ndarray, np.ndarray] | None:
    """Longitudes and latitudes of the file's points in the file's own system
    (GIS geometries unprojected), only those inside the operating area; ``None`` when
    the file has no points."""
    raw = run.raw
    if raw.geometry is not None and not (run.has("lng") or run.has("lnglat")):
        g = raw.geometry
        tid = shapely.get_type_id(g)
        multi = (tid == 4) & (shapely.get_num_geometries(g) == 1)
        ok = (tid == 0) | multi
        pts = g[ok].copy()
        if multi[ok].any():
            pts[multi[ok]] = shapely.get_geometry(pts[multi[ok]], 0)
        x, y = shapely.get_x(pts), shapely.get_y(pts)
        c = raw.file_crs
        if c is not None and len(x) and (c.is_projected or classify_file_crs(c)[1]):
            x, y = _projected_to_lnglat(x, y, c)
    else:
        got = _table_numbers(run)
        if got is None:
            return None
        x, y = got
        if run.opts.fix_swapped:
            sw = np.isfinite(x) & np.isfinite(y) & crsmod.looks_swapped(x, y)
            x, y = np.where(sw, y, x), np.where(sw, x, y)
    keep = np.isfinite(x) & np.isfinite(y) & run.area.contains(x, y)
    return np.asarray(x)[keep], np.asarray(y)[keep]


# --------------------------------------------------------------------------
# evidence
# --------------------------------------------------------------------------
@dataclass
class LayerFit:
    """How well each reading of the points fits one layer (buildings or streets)."""

    layer: str
    points: int
    distances: dict[str, np.ndarray]
    median_m: dict[str, float]
    p80_m: dict[str, float]
    winner: str | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {"points": self.points, "winner": self.winner,
                "median_m": {k: round(v, 1) for k, v in self.median_m.items()},
                "p80_m": {k: round(v, 1) for k, v in self.p80_m.items()}}


@dataclass
class Evidence:
    """The file's points against the town's buildings and streets."""

    candidates: tuple[str, ...]
    points: int
    layers: list[LayerFit] = field(default_factory=list)
    winner: str | None = None
    note: str = ""
    #: the points read in each candidate system, converted to WGS-84
    readings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether any layer had enough points near it to compare the readings."""
        return bool(self.layers)

    def as_dict(self) -> dict[str, Any]:
        """JSON of the evidence (the report's ``crs_evidence``)."""
        return {"available": self.available, "points": self.points,
                "candidates": list(self.candidates), "winner": self.winner,
                "layers": {f.layer: f.as_dict() for f in self.layers}, "note": self.note}

    def distances_zh(self) -> str:
        """``按 WGS-84：楼栋 124 米、道路 31 米；按 GCJ-02（高德/腾讯）：楼栋 0 米、道路 24 米``."""
        parts = []
        for c in self.candidates:
            per = "、".join(f"{_LAYERS[f.layer][0]} {f.median_m[c]:.0f} 米" for f in self.layers)
            parts.append(f"按 {_zh(c)}：{per}")
        return "；".join(parts)

    def shift_m(self, a: str, b: str) -> float:
        """Median distance (metres) between the points read in ``a`` and in ``b``."""
        (xa, ya), (xb, yb) = self.readings[_group(a) or a], self.readings[_group(b) or b]
        return float(np.median(crsmod.haversine_m(xa, ya, xb, yb)))


def _binom_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0 ** n


def layer_verdict(distances: dict[str, np.ndarray]) -> tuple[str | None, str]:
    """The reading that clearly fits best (see the module's rules), and why not if none.

    Parameters
    ----------
    distances : dict of str to numpy.ndarray
        Metres from each point (same order in every array) to the layer, per
        candidate reading.

    Returns
    -------
    (str or None, str)
        The winner (or ``None``) and, without one, the reason in Chinese.
    """
    if len(distances) < 2:
        return None, "只有一种可能的坐标系"
    med = {c: float(np.median(d)) for c, d in distances.items()}
    order = sorted(med, key=lambda c: med[c])
    best = order[0]
    if med[best] > FIT_M:
        return None, f"哪种读法都不贴近（最近的中位数也有 {med[best]:.0f} 米）"
    for other in order[1:]:
        if med[other] < max(RATIO * med[best], med[best] + GAP_M):
            return None, "几种读法的距离相差不大"
        d_best, d_other = distances[best], distances[other]
        wins = int(np.sum(d_best < d_other - TIE_M))
        losses = int(np.sum(d_best > d_other + TIE_M))
        if wins + losses == 0 or _binom_tail(wins, wins + losses) > ALPHA:
            return None, "点数太少或逐点比较不够一致，不足以判断"
    return best, ""


def measure(run: Run) -> Evidence | None:
    """Measure the file's points in every candidate system against the stored
    buildings and streets; ``None`` when the file has no points to measure."""
    if run.spec.geometry != "Point":
        return None
    got = _file_points(run)
    if got is None:
        return None
    x, y = got
    if len(x) > MAX_POINTS:
        pick = np.linspace(0, len(x) - 1, MAX_POINTS).round().astype(int)
        x, y = x[pick], y[pick]
    n = len(x)
    inside = np.asarray(crsmod.in_china_bbox(x, y), dtype=bool)
    candidates = CANDIDATES if n and inside.mean() > 0.5 else ("wgs84",)
    ev = Evidence(candidates=candidates, points=n)
    if n < MIN_POINTS:
        ev.note = (f"只有 {n} 个点，不足 {MIN_POINTS} 个，未做距离比对" if n else
                   "没有可读的中国境内坐标，未做距离比对")
        return ev
    for c in candidates:
        ev.readings[c] = tuple(np.asarray(v, dtype=float)  # type: ignore[assignment]
                               for v in crsmod.to_wgs84(x, y, c))
    if len(candidates) < 2:
        ev.note = "点不在中国境内，GCJ-02/BD-09 与 WGS-84 相同，无需比对"
        return ev
    ids = np.tile(np.arange(n), len(candidates))
    names = np.repeat(np.array(candidates, dtype=object), n)
    xs = np.concatenate([ev.readings[c][0] for c in candidates])
    ys = np.concatenate([ev.readings[c][1] for c in candidates])
    params = {"i": ids.tolist(), "c": names.tolist(), "x": xs.tolist(), "y": ys.tolist()}
    notes = []
    for layer, (label, inner) in _LAYERS.items():
        sql = _DISTANCES_SQL.format(inner=inner.format(knn=KNN))
        d = np.full((len(candidates), n), np.inf)
        index = {c: k for k, c in enumerate(candidates)}
        for row in run.conn.execute(text(sql), params):
            if row.d is not None:
                d[index[row.c], row.i] = float(row.d)
        near = d.min(axis=0) <= REACH_M
        if int(near.sum()) < MIN_POINTS:
            notes.append(f"附近没有{label}数据")
            continue
        dist = {c: d[k, near] for k, c in enumerate(candidates)}
        winner, why = layer_verdict(dist)
        ev.layers.append(LayerFit(
            layer=layer, points=int(near.sum()), distances=dist,
            median_m={c: float(np.median(v)) for c, v in dist.items()},
            p80_m={c: float(np.percentile(v, 80)) for c, v in dist.items()},
            winner=winner, note=why))
    winners = {f.winner for f in ev.layers if f.winner}
    if not ev.layers:
        ev.note = "，".join(notes) + "，未做距离比对"
    elif len(winners) == 1:
        ev.winner = winners.pop()
    elif len(winners) > 1:
        ev.note = "楼栋和道路指向不同的坐标系，不足以判断"
    else:
        ev.note = "；".join(f"{_LAYERS[f.layer][0]}：{f.note}" for f in ev.layers)
    return ev


def _evidence_zh(ev: Evidence) -> str:
    """One sentence of what the evidence says, for the report's reason."""
    if not ev.available:
        return f"距离比对：{ev.note}" if ev.note else ""
    head = f"{ev.points} 个点与道路、楼栋比对（中位距离）：{ev.distances_zh()}"
    if ev.winner:
        by = "、".join(_LAYERS[f.layer][0] for f in ev.layers if f.winner)
        return f"{head}，按{by}明显是 {_zh(ev.winner)}"
    return f"{head}；{ev.note}"


# --------------------------------------------------------------------------
# projected coordinates
# --------------------------------------------------------------------------
def projected_crs(name: str) -> pyproj.CRS | None:
    """The projected CRS ``name`` names (``EPSG:4547``, ``4547``, a WKT/PROJ string),
    else ``None``."""
    s = str(name).strip()
    if re.fullmatch(r"\d{4,6}", s):
        s = f"EPSG:{s}"
    try:
        c = pyproj.CRS.from_user_input(s)
    except pyproj.exceptions.CRSError:
        return None
    return c if c.is_projected else None


def _crs_label(c: pyproj.CRS) -> str:
    code = c.to_epsg(min_confidence=70)
    return f"EPSG:{code}（{c.name}）" if code else c.name


def _in_area(c: pyproj.CRS, lng: np.ndarray, lat: np.ndarray) -> float:
    """Share of points inside ``c``'s area of use (1 degree of margin)."""
    if not len(lng):
        return 0.0
    a = c.area_of_use
    if a is None:
        ok = (lng >= LNG_RANGE[0]) & (lng <= LNG_RANGE[1]) & (lat >= LAT_RANGE[0]) & \
            (lat <= LAT_RANGE[1])
    else:
        ok = (lng >= a.west - 1) & (lng <= a.east + 1) & (lat >= a.south - 1) & \
            (lat <= a.north + 1)
    return float(np.mean(ok))


def prepare_projected(run: Run, c: pyproj.CRS) -> str | None:
    """``--crs`` names a projected CRS: a GIS file without one is read in it, a
    table's coordinate columns are converted from it to longitude/latitude in
    place.  Returns the geographic system to go on with (``None``: the file's
    own CRS, now ``c``, decides)."""
    raw = run.raw
    name, approx = classify_file_crs(c)
    geo_name = name or "wgs84"
    if approx:
        run.warn(None, None, "datum_approximate",
                 f"--crs {_crs_label(c)} 不是 WGS-84/CGCS2000 基准，已用 PROJ 近似转换为 "
                 "WGS-84（误差可能达数十米）", value=c.name)
    if raw.geometry is not None and not (run.has("lng") or run.has("lnglat")):
        implied = raw.file_crs is not None and raw.format in ("geojson", "kml") and \
            raw.file_crs.to_epsg(min_confidence=70) == 4326
        if raw.file_crs is None or implied:
            raw.file_crs = c
            return None
        if raw.file_crs.equals(c, ignore_axis_order=True):
            return None
        run.report.errors.append(Problem(
            message=f"{raw.file} 声明的坐标系是 {raw.file_crs.name}，与 --crs {_crs_label(c)} "
                    "矛盾",
            file=raw.file, sheet=raw.sheet, value=run.opts.crs,
            expected="不指定 --crs（按文件声明），或去掉文件的 .prj", kind="crs_conflict"))
        return geo_name
    fields = ["lng", "lat"] if run.has("lng") and run.has("lat") else ["lnglat"]
    cols = [run.cmap.fields.get(f) for f in fields]
    if None in cols:  # no coordinate columns (or a mapping file's default value)
        return geo_name
    got = _table_numbers(run)
    assert got is not None
    a, b = got
    ok = np.isfinite(a) & np.isfinite(b)
    if not ok.any():
        return geo_name
    xy = _projected_to_lnglat(a[ok], b[ok], c)
    yx = _projected_to_lnglat(b[ok], a[ok], c)
    swapped = _in_area(c, *yx) > _in_area(c, *xy)
    lng, lat = np.full(run.n, np.nan), np.full(run.n, np.nan)
    lng[ok], lat[ok] = yx if swapped else xy
    frame = raw.frame
    if len(cols) == 2:
        for col, vals in zip(cols, (lng, lat), strict=True):
            frame[col] = [float(v) if k else frame[col].iat[i]
                          for i, (v, k) in enumerate(zip(vals, ok, strict=True))]
    else:
        frame[cols[0]] = [f"{float(lng[i])!r},{float(lat[i])!r}" if ok[i]
                          else frame[cols[0]].iat[i]
                          for i in range(run.n)]
    order = "北坐标在前（测绘习惯 X 为北）" if swapped else "东坐标在前"
    run.warn(None, None, "projected_converted",
             f"{raw.file} 的坐标按 --crs {_crs_label(c)} 从投影坐标（米，{order}）换算为经纬度",
             value=run.opts.crs)
    return geo_name


def _suggest_projection(run: Run, x: np.ndarray, y: np.ndarray) -> str:
    """A ``--crs EPSG:…`` suggestion for metres ``x``, ``y`` (either order)."""
    for v in (x, y):
        med = float(np.nanmedian(np.abs(v))) if len(v) else 0.0
        zone = int(med // 1_000_000)
        if 25 <= zone <= 45:
            c = pyproj.CRS.from_epsg(4513 + zone - 25)
            return f"如 --crs EPSG:{4513 + zone - 25}（{c.name}）"
        if 13 <= zone <= 23:
            c = pyproj.CRS.from_epsg(4491 + zone - 13)
            return f"如 --crs EPSG:{4491 + zone - 13}（{c.name}）"
    # no zone number: the 3-degree zone whose reading puts the points in a stored region
    boxes = np.array(run.conn.execute(text(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) "
        "FROM (SELECT geom::box2d AS b FROM regions WHERE geom IS NOT NULL) t")).all(),
        dtype=float).reshape(-1, 4)
    x, y = x[:200], y[:200]
    best: tuple[int, int, float] | None = None  # (points in regions, central meridian, lng)
    for cm in sorted({int(3 * round((b[0] + b[2]) / 6)) for b in boxes}):
        if not 75 <= cm <= 135:
            continue
        c = pyproj.CRS.from_epsg(4534 + (cm - 75) // 3)
        for a, b in ((x, y), (y, x)):
            lng, lat = _projected_to_lnglat(a, b, c)
            inside = ((lng[:, None] >= boxes[:, 0] - 0.01) & (lng[:, None] <= boxes[:, 2] + 0.01)
                      & (lat[:, None] >= boxes[:, 1] - 0.01)
                      & (lat[:, None] <= boxes[:, 3] + 0.01)).any(axis=1)
            hits = int(inside.sum())
            if hits and (best is None or hits > best[0]):
                best = (hits, cm, float(np.mean(lng[inside])))
    if best is None:
        return "如 --crs EPSG:4547（CGCS2000 3度带，中央经线 114°E）"
    _, cm, lng_mean = best
    utm = 32600 + int((lng_mean + 180) // 6) + 1
    return (f"如 --crs EPSG:{4534 + (cm - 75) // 3}（CGCS2000 3度带，中央经线 {cm}°E）"
            f"或 --crs EPSG:{utm}（WGS 84 / UTM {utm - 32600}N）")


def check_lnglat(run: Run) -> bool:
    """A file-level ``not_lnglat`` error when a file without a projected CRS holds
    metres rather than degrees (most of its coordinates beyond ±1,000: no
    reading of degrees, swapped or not, comes near)."""
    raw = run.raw
    gis = raw.geometry is not None and not (run.has("lng") or run.has("lnglat"))
    if gis:
        if raw.file_crs is not None and raw.file_crs.is_projected:
            return False
        g = raw.geometry[shapely.get_type_id(raw.geometry) >= 0]
        if not len(g):
            return False
        b = shapely.bounds(g)
        x, y = b[:, 0], b[:, 1]
    elif run.has("wkt") and not (run.has("lng") or run.has("lnglat")):
        wkt = run.texts("wkt")
        vals = [v for v in wkt if v] if wkt is not None else []
        geoms = []
        for v in vals:
            try:
                geoms.append(shapely.from_wkt(v))
            except shapely.errors.GEOSException:
                continue
        if not geoms:
            return False
        b = shapely.bounds(np.asarray(geoms, dtype=object))
        x, y = b[:, 0], b[:, 1]
    else:
        got = _table_numbers(run)
        if got is None:
            return False
        x, y = got
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return False
    x, y = x[ok], y[ok]
    # metres, not degrees out of range or swapped (those are the rows' problems)
    big = (np.abs(x) > _METRES) | (np.abs(y) > _METRES)
    if big.mean() < 0.5:
        return False
    k = int(np.flatnonzero(big)[0])
    how = "请随文件提供 .prj，或" if gis else "请改用经纬度，或"
    what = "文件没有说明坐标系（缺少 .prj）" if gis else "文件没有说明投影"
    run.report.errors.append(Problem(
        message=f"{raw.file} 的坐标（如 {x[k]:.1f}, {y[k]:.1f}）是以米为单位的投影坐标，"
                f"不是经纬度，{what}：{how}用 --crs 指定投影，{_suggest_projection(run, x, y)}",
        file=raw.file, sheet=raw.sheet, value=f"{x[k]:.1f},{y[k]:.1f}",
        expected="经纬度坐标；或 .prj 文件；或 --crs EPSG:投影代码", kind="not_lnglat"))
    return True


# --------------------------------------------------------------------------
# the decision
# --------------------------------------------------------------------------
def _has_coordinates(run: Run) -> bool:
    return run.spec.geometry is not None and (
        run.raw.geometry is not None or run.has("lng") or run.has("lnglat") or run.has("wkt"))


def _drop_warnings(run: Run, kind: str) -> None:
    run.report.warnings[:] = [p for p in run.report.warnings if p.kind != kind]


def _use_crs_column(run: Run, col: _Column) -> None:
    """The 坐标系 column serves the import: not an unused column, not a property."""
    if col.column in run.cmap.unused:
        run.cmap.unused.remove(col.column)
        run.cmap.ignored.append(col.column)
        if not run.cmap.unused:
            _drop_warnings(run, "unused_columns")


def settle_crs(run: Run, in_crs: str, *, projected: pyproj.CRS | None = None) -> str:
    """The input system after :func:`geo.io.importer.geometry.resolve_crs`: a 坐标系
    column, hints and the evidence of the streets and buildings (module docstring).

    Parameters
    ----------
    run : Run
        The import; its report has ``crs``/``crs_source`` from ``resolve_crs``.
        Sets ``crs``, ``crs_source``, ``crs_reason`` and ``crs_evidence``; a
        refusal is a file-level error of the report.
    in_crs : str
        The system ``resolve_crs`` chose.
    projected : pyproj.CRS, optional
        The projected CRS ``--crs`` named (the coordinates were converted).

    Returns
    -------
    str
        The system to read the coordinates in (one of :data:`geo.crs.CRS_NAMES`).
    """
    rep = run.report
    raw = run.raw
    if not _has_coordinates(run):
        return in_crs
    source = rep.crs_source or "default"
    if projected is not None:
        source = "--crs"
    col = _crs_column(run)
    if rep.errors:
        return in_crs
    if col is not None:
        _use_crs_column(run, col)
    hints = find_hints(run)
    declared = source in DECLARED_SOURCES
    if not declared and col is not None:
        in_crs, source, declared = col.system, "column", True
    t0 = time.perf_counter()
    ev = measure(run)
    if ev is not None:
        rep.timings["crs_evidence"] = time.perf_counter() - t0
    rep.crs_evidence = ev.as_dict() if ev is not None else None
    evidence = _evidence_zh(ev) if ev is not None else ""
    winner = ev.winner if ev is not None else None
    trust = bool(getattr(run.opts, "trust_crs", False))

    def finish(name: str, src: str, why: str) -> str:
        rep.crs, rep.crs_source = name, src
        rep.crs_reason = "；".join(p for p in (why, evidence) if p)
        if src != "default":
            _drop_warnings(run, "crs_assumed")
        return name

    def refuse(kind: str, message: str, expected: str) -> str:
        rep.errors.append(Problem(message=message, file=raw.file, sheet=raw.sheet,
                                  value=rep.crs, expected=expected, kind=kind))
        return in_crs

    def contradicted(name: str, src: str, how: str, kind: str) -> str:
        """The evidence names ``winner``, not ``name``: refused, or warned with trust_crs."""
        assert ev is not None and winner is not None
        finish(name, src, how)
        said = (f"{raw.file}：{how}，但这些点按{_sp(name)}对不上本地的道路和楼栋："
                f"{ev.distances_zh()}（中位距离），坐标像是 {_zh(winner)}"
                f"（两种读法相差约 {ev.shift_m(name, winner):.0f} 米）")
        if trust:
            run.warn(None, None, "crs_evidence_ignored",
                     f"{said}；已按 --trust-crs 仍按{_sp(name)}导入", value=winner)
            rep.crs_reason = f"{rep.crs_reason}；已按 --trust-crs 忽略距离比对"
            return name
        return refuse(kind, f"{said}。请改用 {_flag(winner)}，或确认无误后加 --trust-crs "
                            f"按{_sp(name)}继续", f"{_flag(winner)}，或 --trust-crs")

    if declared:
        how = _declared_zh(run, source, in_crs, projected, col)
        warned_headers = source == "--crs"
        if col is not None and source != "column":
            hints.append(Hint(col.system, col.values[0], "坐标系列", col.column, col.column))
        for h in hints:
            if _group(h.system) != _group(in_crs) and not (
                    warned_headers and h.column and crs_hint(h.column)):
                run.warn(None, h.column, "crs_hint_conflict",
                         f"{h.zh()}表明坐标系是 {_zh(h.system)}，但{how}；"
                         f"已按{_sp(in_crs)}处理", value=h.text)
        if winner and _group(winner) != _group(in_crs):
            return contradicted(in_crs, source, how, "crs_contradicted")
        return finish(in_crs, source, how)

    systems = list(dict.fromkeys(h.system for h in hints))
    groups = {_group(s) for s in systems}
    if len(groups) == 1:
        name = systems[0]
        where = "、".join(h.zh() for h in hints)
        by_header = source == "header" and all(h.column and crs_hint(h.column) for h in hints)
        src = "header" if by_header else "hint"
        how = f"未声明坐标系，{where}表明是 {_zh(name)}"
        if winner and _group(winner) != _group(name):
            return contradicted(name, src, how, "crs_hint_contradicted")
        if not by_header:
            run.warn(None, None, "crs_from_hint", f"{how}，已按此转换；如不对请用 --crs 指定",
                     value=name)
        return finish(name, src, how)
    if len(groups) > 1:
        where = "；".join(f"{h.zh()}表明是 {_zh(h.system)}" for h in hints)
        if winner:
            run.warn(None, None, "crs_from_evidence",
                     f"{raw.file} 中的提示互相矛盾（{where}），按与道路、楼栋的距离判断为 "
                     f"{_zh(winner)}，已按此转换；如不对请用 --crs 指定", value=winner)
            return finish(winner, "evidence", f"提示互相矛盾（{where}），按距离比对")
        finish(in_crs, "default", f"提示互相矛盾（{where}）")
        return refuse("crs_hints_conflict",
                      f"{raw.file} 未声明坐标系，且其中的提示互相矛盾：{where}；"
                      "与道路、楼栋的距离比对也无法判断。请用 --crs 指定坐标系（如 --crs gcj02）",
                      "--crs wgs84|gcj02|bd09|cgcs2000")
    if winner:
        assert ev is not None
        run.warn(None, None, "crs_from_evidence",
                 f"{raw.file} 未说明坐标系，按与道路、楼栋的距离判断为 {_zh(winner)}"
                 f"（{ev.distances_zh()}），已按此转换；如不对请用 --crs 指定", value=winner)
        return finish(winner, "evidence", "未声明坐标系，也没有提示，按距离比对")
    return finish(in_crs, source, f"未声明坐标系，也没有提示，按{_sp(in_crs)}处理")


def _declared_zh(run: Run, source: str, name: str, projected: pyproj.CRS | None,
                 col: _Column | None) -> str:
    if projected is not None:
        return f"命令参数 --crs {_crs_label(projected)} 指定了投影坐标系"
    if source == "--crs":
        return f"命令参数 --crs {run.opts.crs} 指定了 {_zh(name)}"
    if source == "mapping":
        return f"映射文件指定了 {_zh(name)}"
    if source == "column" and col is not None:
        return f"『{col.column}』列写明坐标系为“{'、'.join(col.values[:3])}”，即 {_zh(name)}"
    fc = run.raw.file_crs
    if fc is not None and run.raw.format in ("geojson", "kml") and \
            fc.to_epsg(min_confidence=70) == 4326:
        return f"{run.raw.format.upper()} 文件按规范是 {_zh(name)}"
    return f"文件声明的坐标系是 {fc.name if fc is not None else _zh(name)}"
