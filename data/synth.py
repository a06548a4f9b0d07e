"""Shared machinery of the deterministic synthetic sample towns.

All geometry is built in a projected CRS (a UTM zone, units metres) and
converted to EPSG:4326 (WGS-84 longitude/latitude) only when the frames of a
:class:`data.sample.Sample` are assembled (:func:`assemble`). Degrees are never
treated as metres. Same seed, same output: every random draw comes from one
``numpy.random.Generator`` that is passed down in a fixed order, and no step
iterates over an unordered container.

The pipeline of :func:`build_layout`:

1. town outline: a smooth random star-shaped polygon of the requested area;
2. rivers: meandering centre lines buffered to a width;
3. regions (村/社区): a Lloyd-relaxed Voronoi partition of the town
   (``shapely.voronoi_polygons``), optionally subdivided into grid cells;
4. streets: a perturbed arterial grid, then in every arterial block a local
   grid whose spacing follows a population-density field; streets are cut
   at the rivers, which arterials cross on bridges;
5. compounds (住宅小区) on street cells, with internal paths joining the
   surrounding streets;
6. buildings: slabs inside compounds, dense small houses in village cores
   (outside compounds, ``compound_code`` None);
7. population apportioned to buildings; the network noded so that edges meet
   only at shared nodes, long edges split, tiny components dropped.

The data are synthetic: only the division codes and names are real.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely import LineString, Polygon
from shapely.ops import substring

from data.sample import Sample
from geo.vocab import GridKind, PointKind, Service

WGS84 = 4326
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# -- opening hours --------------------------------------------------------------------------

HOURS_DAILY = "每天09:00-21:00"
HOURS_OFFICE = "周一至周五 08:30-12:00 14:30-17:30"
HOURS_SIX_DAYS = "周一至周六 09:00-18:00，节假日休息"
HOURS_ALWAYS = "全天开放"

# text -> (always_open, closed_on_holidays, days, intervals)
_HOURS: dict[str, tuple[bool, bool, tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    HOURS_DAILY: (False, False, DAYS, (("09:00", "21:00"),)),
    HOURS_OFFICE: (False, False, DAYS[:5], (("08:30", "12:00"), ("14:30", "17:30"))),
    HOURS_SIX_DAYS: (False, True, DAYS[:6], (("09:00", "18:00"),)),
    HOURS_ALWAYS: (True, False, (), ()),
}

#: The seven one-stop functions of a town center (党务 政务 居家养老 来穗人员 群团 文化 智库).
SEVEN_FUNCTIONS: tuple[Service, ...] = (
    Service.PARTY,
    Service.GOVERNMENT,
    Service.ELDERLY_CARE,
    Service.MIGRANTS,
    Service.MASS_ORGS,
    Service.CULTURE,
    Service.THINK_TANK,
)


def hours_dict(text: str) -> dict:
    """Structured opening hours of one of the sample texts.

    Parameters
    ----------
    text : str
        One of :data:`HOURS_DAILY`, :data:`HOURS_OFFICE`, :data:`HOURS_SIX_DAYS`,
        :data:`HOURS_ALWAYS`.

    Returns
    -------
    dict
        ``{"always_open", "closed_on_holidays", "weekly", "text", "parsed"}``;
        ``weekly`` maps ``"mon"`` … ``"sun"`` to lists of ``["HH:MM", "HH:MM"]``
        local-time intervals; days without intervals are omitted.
    """
    try:
        always, holidays, days, spans = _HOURS[text]
    except KeyError:
        raise ValueError(f"no structured form for opening hours {text!r}") from None
    return {
        "always_open": always,
        "closed_on_holidays": holidays,
        "weekly": {d: [list(s) for s in spans] for d in days},
        "text": text,
        "parsed": True,
    }


# -- small helpers ---------------------------------------------------------------------------


def _rot(u: np.ndarray, v: np.ndarray, angle: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate local (u, v) offsets by ``angle`` radians (counter-clockwise)."""
    c, s = np.cos(angle), np.sin(angle)
    return u * c - v * s, u * s + v * c


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygonal part of ``geom`` as a Polygon or MultiPolygon (may be empty)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon(parts)


def _largest_polygon(geom: shapely.Geometry) -> shapely.Geometry:
    """The largest Polygon part of ``geom`` (``geom`` itself when a Polygon)."""
    if geom.geom_type == "Polygon":
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    if not parts:
        return Polygon()
    return max(parts, key=lambda p: p.area)


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (largest remainder).

    Returns an int64 array that sums exactly to ``total``.
    """
    w = np.asarray(weights, dtype=float)
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    quota = w / w.sum() * total
    base = np.floor(quota).astype(np.int64)
    rest = int(total - base.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(w)), -(quota - base)))
        base[order[:rest]] += 1
    return base


def weighted_order(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """A random permutation where heavier items tend to come first.

    Efraimidis–Spirakis keys ``u ** (1 / w)``; zero weights come last.
    """
    w = np.asarray(weights, dtype=float)
    u = rng.random(len(w))
    with np.errstate(divide="ignore"):
        keys = np.where(w > 0, np.log(u) / np.where(w > 0, w, 1.0), -np.inf)
    return np.argsort(-keys, kind="stable")


def short_name(name: str) -> str:
    """Everyday name of a village-level unit from its statistical name.

    ``沙涌社区居委会`` → ``沙涌社区``, ``得胜村委会`` → ``得胜村``, ``妈屿居委会`` →
    ``妈屿社区``; other names are kept.
    """
    for suffix, repl in (
        ("社区居民委员会", "社区"),
        ("社区居委会", "社区"),
        ("居民委员会", "社区"),
        ("居委会", "社区"),
        ("村民委员会", "村"),
        ("村委会", "村"),
    ):
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


def fake_phone(rng: np.random.Generator, area_code: str, taken: set[str]) -> str:
    """A fake landline number ``"<area>-8xxxxxxx"`` not in ``taken`` (added to it)."""
    while True:
        phone = f"{area_code}-8{int(rng.integers(0, 10**7)):07d}"
        if phone not in taken:
            taken.add(phone)
            return phone


# -- specifications ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RiverSpec:
    """A river crossing the town.

    Attributes
    ----------
    name : str
        Chinese name, e.g. ``"里水河"``.
    width_m : float
        Water width in metres.
    angle_deg : float
        Direction of the river axis, degrees counter-clockwise from east (±10°
        of random play is added).
    offset : float
        Offset of the axis from the town centroid, as a fraction of the radius
        of the circle with the town's area.
    meander_m, wavelength_m : float
        Amplitude and wavelength of the meanders, metres.
    """

    name: str
    width_m: float
    angle_deg: float
    offset: float = 0.0
    meander_m: float = 350.0
    wavelength_m: float = 3500.0


@dataclass(frozen=True)
class TownSpec:
    """Parameters of one synthetic town (lengths in metres, areas in m²).

    ``lon``/``lat`` are the WGS-84 centre; ``epsg`` the projected CRS (a UTM
    zone) in which all metric work happens.
    """

    key: str
    prefix: str
    town_code: str
    town_name: str
    lon: float
    lat: float
    epsg: int
    area_km2: float
    elongation: float
    rivers: tuple[RiverSpec, ...]
    arterial_spacing_m: float
    local_spacing_m: tuple[float, float]  # (dense, sparse)
    path_below: float  # local streets are "path" where the density share is below this
    n_compounds: int
    compound_cell_m2: tuple[float, float]
    compound_floors: tuple[int, int]
    population: int
    compound_share: float
    core_area_m2: tuple[float, float]  # village-core area per region (min, max)
    extra_cells_share: float  # share of remaining cells with scattered houses
    phone_area_code: str
    road_names: tuple[str, ...]
    compound_words: tuple[str, ...]
    compound_suffixes: tuple[str, ...]
    lloyd_iterations: int = 2
    max_edge_m: float = 200.0
    min_edge_m: float = 8.0
    min_component_nodes: int = 25
    river_margin_m: float = 6.0
    max_bridge_m: float = 280.0


# -- outline, rivers, partitions ----------------------------------------------------------------


def town_outline(
    rng: np.random.Generator, center: tuple[float, float], area_m2: float, elongation: float
) -> Polygon:
    """A smooth random star-shaped polygon of exactly ``area_m2`` (metric CRS)."""
    n = 256
    theta = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 7):
        r += (
            rng.uniform(0.02, 0.09) / math.sqrt(k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
        )
    u = r * np.cos(theta) * elongation
    v = r * np.sin(theta) / elongation
    x, y = _rot(u, v, rng.uniform(0, math.pi))
    scale = math.sqrt(area_m2 / Polygon(np.column_stack([x, y])).area)
    return Polygon(np.column_stack([center[0] + x * scale, center[1] + y * scale]))


def make_river(
    rng: np.random.Generator, town: Polygon, spec: RiverSpec
) -> tuple[LineString, Polygon]:
    """Centre line and water polygon of a river crossing ``town`` (metric CRS)."""
    c = np.array(town.centroid.coords[0])
    radius = math.sqrt(town.area / math.pi)
    angle = math.radians(spec.angle_deg + rng.uniform(-10, 10))
    offset = (spec.offset + rng.uniform(-0.05, 0.05)) * radius
    t = np.linspace(-1.8 * radius, 1.8 * radius, 500)
    p1, p2 = rng.uniform(0, 2 * math.pi, 2)
    lateral = (
        offset
        + spec.meander_m * np.sin(2 * math.pi * t / spec.wavelength_m + p1)
        + 0.35 * spec.meander_m * np.sin(2 * math.pi * t / (0.43 * spec.wavelength_m) + p2)
    )
    x, y = _rot(t, lateral, angle)
    line = LineString(np.column_stack([c[0] + x, c[1] + y]))
    poly = line.buffer(spec.width_m / 2, cap_style="flat", quad_segs=6)
    return line, poly


def random_points_in(
    rng: np.random.Generator,
    polygon: shapely.Geometry,
    n: int,
    avoid: shapely.Geometry | None = None,
) -> np.ndarray:
    """``n`` uniform random points (an ``(n, 2)`` array) inside ``polygon``, outside ``avoid``."""
    x0, y0, x1, y1 = polygon.bounds
    shapely.prepare(polygon)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        cand = np.column_stack([rng.uniform(x0, x1, 8 * n), rng.uniform(y0, y1, 8 * n)])
        ok = shapely.contains_xy(polygon, cand[:, 0], cand[:, 1])
        if avoid is not None:
            ok &= ~shapely.intersects_xy(avoid, cand[:, 0], cand[:, 1])
        out.append(cand[ok])
        got += int(ok.sum())
    return np.concatenate(out)[:n]


def _voronoi_cells(seeds: np.ndarray, polygon: shapely.Geometry) -> np.ndarray:
    """Voronoi cells of ``seeds`` clipped to ``polygon``, in seed order."""
    if len(seeds) == 1:
        return np.array([polygon], dtype=object)
    extent = shapely.buffer(shapely.envelope(polygon), 2000.0)
    vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent))
    seed_idx, cell_idx = shapely.STRtree(vor).query(shapely.points(seeds), predicate="within")
    order = np.empty(len(seeds), dtype=np.int64)
    order[seed_idx] = cell_idx
    clipped = shapely.intersection(vor[order], polygon)
    return np.array([_polygonal(g) for g in clipped], dtype=object)


def voronoi_partition(
    rng: np.random.Generator,
    polygon: shapely.Geometry,
    n: int,
    *,
    avoid: shapely.Geometry | None = None,
    iterations: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Partition ``polygon`` into ``n`` cells (metric CRS).

    Seeds are drawn uniformly (outside ``avoid``) and moved ``iterations`` times
    to the centroids of their clipped Voronoi cells (Lloyd relaxation), which
    evens out the sizes while keeping some variety.

    Returns
    -------
    seeds : numpy.ndarray
        ``(n, 2)`` seed coordinates, each inside its cell.
    cells : numpy.ndarray
        ``n`` Polygon/MultiPolygon cells, in seed order; together they cover
        ``polygon`` exactly and do not overlap.
    """
    seeds = random_points_in(rng, polygon, n, avoid)
    for _ in range(iterations):
        cells = _voronoi_cells(seeds, polygon)
        cent = shapely.get_coordinates(shapely.centroid(cells))
        ok = shapely.contains_xy(polygon, cent[:, 0], cent[:, 1])
        if avoid is not None:
            ok &= ~shapely.intersects_xy(avoid, cent[:, 0], cent[:, 1])
        seeds = np.where(ok[:, None], cent, seeds)
    return seeds, _voronoi_cells(seeds, polygon)


@dataclass
class DensityField:
    """Residential density: a sum of Gaussian bumps plus a floor (relative units).

    ``centers`` are metric coordinates ``(k, 2)``; ``sigmas`` in metres.
    """

    centers: np.ndarray
    weights: np.ndarray
    sigmas: np.ndarray
    base: float = 0.03
    scale: float = 1.0

    def raw(self, xy: np.ndarray) -> np.ndarray:
        """Unscaled, unclipped density at the metric points ``xy``."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        out = np.full(len(xy), self.base)
        for c, w, s in zip(self.centers, self.weights, self.sigmas, strict=True):
            d2 = (xy[:, 0] - c[0]) ** 2 + (xy[:, 1] - c[1]) ** 2
            out += w * np.exp(-d2 / (2 * s * s))
        return out

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        """Density share in [0, 1] at the metric points ``xy`` (``(n, 2)``)."""
        return np.clip(self.raw(xy) / self.scale, 0.0, 1.0)

    def normalise(self, sample_xy: np.ndarray, quantile: float = 0.97) -> None:
        """Scale so that the ``quantile`` of raw density over ``sample_xy`` maps to 1."""
        self.scale = float(np.quantile(self.raw(sample_xy), quantile))


# -- streets -----------------------------------------------------------------------------------


def _arterials(
    rng: np.random.Generator, town: Polygon, angle: float, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Perturbed arterial grid lines over ``town`` (unclipped) and their classes."""
    c = np.array(town.centroid.coords[0])
    d = shapely.get_coordinates(town) - c
    half = float(np.hypot(d[:, 0], d[:, 1]).max()) + spacing
    lines: list[LineString] = []
    classes: list[str] = []
    v = np.arange(-half, half + 100.0, 100.0)
    for family in (0, 1):
        n = int(2 * half // spacing) + 1
        offsets = -half + spacing * (np.arange(n) + 0.5) + rng.uniform(-0.15, 0.15, n) * spacing
        phase = int(rng.integers(0, 4))
        for i, u0 in enumerate(offsets):
            a1, a2 = rng.uniform(10, 45), rng.uniform(5, 20)
            l1, l2 = rng.uniform(1500, 4000), rng.uniform(500, 1200)
            p1, p2 = rng.uniform(0, 2 * math.pi, 2)
            u = u0 + a1 * np.sin(2 * math.pi * v / l1 + p1) + a2 * np.sin(2 * math.pi * v / l2 + p2)
            uu, vv = (u, v) if family == 0 else (v, u)
            x, y = _rot(uu, vv, angle)
            lines.append(LineString(np.column_stack([c[0] + x, c[1] + y])))
            k = (i + phase) % 4
            classes.append("primary" if k == 0 else "secondary" if k == 2 else "tertiary")
    return np.array(lines, dtype=object), np.array(classes, dtype=object)


def _local_streets(
    rng: np.random.Generator,
    blocks: np.ndarray,
    angle: float,
    density: DensityField,
    spacing: tuple[float, float],
    path_below: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Local street grids inside arterial ``blocks``; spacing follows ``density``."""
    reps = shapely.get_coordinates(shapely.point_on_surface(blocks))
    share = density(reps)
    coords: list[np.ndarray] = []
    owner: list[int] = []
    classes: list[str] = []
    for b, block in enumerate(blocks):
        s = spacing[0] + (spacing[1] - spacing[0]) * (1.0 - share[b]) ** 1.5
        beta = angle + rng.normal(0.0, math.radians(6.0))
        c = reps[b]
        d = shapely.get_coordinates(block) - c
        half = float(np.hypot(d[:, 0], d[:, 1]).max())
        cls = "residential" if share[b] >= path_below else "path"
        for family in (0, 1):
            ks = np.arange(-half + rng.uniform(0, s), half, s)
            ks = ks + rng.uniform(-0.12, 0.12, len(ks)) * s
            for u0 in ks:
                u = np.array([u0, u0])
                v = np.array([-half, half])
                uu, vv = (u, v) if family == 0 else (v, u)
                x, y = _rot(uu, vv, beta)
                coords.append(np.column_stack([c[0] + x, c[1] + y]))
                owner.append(b)
                classes.append(cls)
    if not coords:
        return np.array([], dtype=object), np.array([], dtype=object)
    raw = shapely.linestrings(np.concatenate(coords), indices=np.repeat(np.arange(len(coords)), 2))
    clipped = shapely.intersection(raw, blocks[np.array(owner)])
    parts, idx = shapely.get_parts(clipped, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 15.0)
    parts, cls_arr = parts[keep], np.array(classes, dtype=object)[idx[keep]]
    # some streets stop short: dead ends and T-junctions
    short = rng.random(len(parts)) < 0.15
    frac = rng.uniform(0.35, 0.8, len(parts))
    if short.any():
        start = shapely.get_point(parts[short], 0)
        end = shapely.line_interpolate_point(parts[short], frac[short], normalized=True)
        parts[short] = shapely.linestrings(
            np.stack([shapely.get_coordinates(start), shapely.get_coordinates(end)], axis=1)
        )
    return parts, cls_arr


def node_lines(
    lines: np.ndarray, attrs: Mapping[str, np.ndarray], grid_size: float = 0.01
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Node ``lines`` at every intersection and carry attributes over.

    The lines are unioned with snap rounding on a ``grid_size`` (metres) grid,
    so pieces meet only at their endpoints. Each piece takes the attributes of
    the input line nearest to its midpoint.
    """
    pieces = shapely.get_parts(shapely.union_all(lines, grid_size=grid_size))
    pieces = pieces[(shapely.get_type_id(pieces) == 1) & (shapely.length(pieces) > 0)]
    mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    qi, ti = shapely.STRtree(lines).query_nearest(mids, all_matches=False)
    src = np.empty(len(pieces), dtype=np.int64)
    src[qi] = ti
    return pieces, {k: np.asarray(v)[src] for k, v in attrs.items()}


def split_long(
    lines: np.ndarray, attrs: Mapping[str, np.ndarray], max_len: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Split lines longer than ``max_len`` metres into equal parts (degree-2 nodes)."""
    length = shapely.length(lines)
    n_parts = np.maximum(1, np.ceil(length / max_len).astype(np.int64))
    out: list[shapely.Geometry] = []
    src: list[int] = []
    for i in np.flatnonzero(n_parts > 1):
        cuts = np.linspace(0.0, length[i], n_parts[i] + 1)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            out.append(substring(lines[i], a, b))
            src.append(i)
    keep = np.flatnonzero(n_parts == 1)
    all_lines = np.concatenate([lines[keep], np.array(out, dtype=object)])
    all_src = np.concatenate([keep, np.array(src, dtype=np.int64)])
    order = np.argsort(all_src, kind="stable")
    return all_lines[order], {k: np.asarray(v)[all_src[order]] for k, v in attrs.items()}


def _endpoint_nodes(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique endpoint coordinates and each line's source/target node index."""
    ends = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(lines, 0)),
            shapely.get_coordinates(shapely.get_point(lines, -1)),
        ]
    )
    node_xy, inverse = np.unique(ends, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return node_xy, inverse[: len(lines)], inverse[len(lines) :]


def _set_ends(lines: np.ndarray, start_xy: np.ndarray, end_xy: np.ndarray) -> np.ndarray:
    """Copies of ``lines`` whose first and last vertices are replaced."""
    coords, index = shapely.get_coordinates(lines, return_index=True)
    ids = np.arange(len(lines))
    coords[np.searchsorted(index, ids, side="left")] = start_xy
    coords[np.searchsorted(index, ids, side="right") - 1] = end_xy
    return shapely.linestrings(coords, indices=index)


def drop_stubs(
    lines: np.ndarray, attrs: Mapping[str, np.ndarray], min_len: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Remove dead-end edges shorter than ``min_len`` metres (noding slivers)."""
    attrs = dict(attrs)
    for _ in range(3):
        _, src, dst = _endpoint_nodes(lines)
        deg = np.bincount(np.concatenate([src, dst]))
        stub = (shapely.length(lines) < min_len) & ((deg[src] == 1) | (deg[dst] == 1))
        if not stub.any():
            break
        lines = lines[~stub]
        attrs = {k: np.asarray(v)[~stub] for k, v in attrs.items()}
    return lines, attrs


def contract_short(
    lines: np.ndarray, attrs: Mapping[str, np.ndarray], min_len: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Merge the two ends of every non-bridge edge shorter than ``min_len`` metres.

    Staggered junctions a few metres apart become one junction: each cluster
    of nodes joined by short edges moves to its busiest node (highest degree),
    the short edges disappear and the other edges' ends follow.
    """
    node_xy, src, dst = _endpoint_nodes(lines)
    n = len(node_xy)
    bridge = np.asarray(attrs["bridge"], dtype=bool)
    at_bridge = np.zeros(n, dtype=bool)
    at_bridge[src[bridge]] = True
    at_bridge[dst[bridge]] = True
    short = (shapely.length(lines) < min_len) & ~bridge & ~at_bridge[src] & ~at_bridge[dst]
    if not short.any():
        return lines, dict(attrs)
    graph = coo_matrix((np.ones(int(short.sum())), (src[short], dst[short])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    deg = np.bincount(np.concatenate([src, dst]), minlength=n)
    # representative of each cluster: highest degree, then lowest index
    order = np.lexsort((np.arange(n), -deg, label))
    first = np.ones(n, dtype=bool)
    first[1:] = label[order][1:] != label[order][:-1]
    rep_of_label = np.empty(label.max() + 1, dtype=np.int64)
    rep_of_label[label[order][first]] = order[first]
    rep = rep_of_label[label]
    keep = rep[src] != rep[dst]
    lines, src, dst = lines[keep], rep[src[keep]], rep[dst[keep]]
    lines = _set_ends(lines, node_xy[src], node_xy[dst])
    return lines, {k: np.asarray(v)[keep] for k, v in attrs.items()}


@dataclass
class Network:
    """A noded walking network in metric coordinates.

    ``node_xy`` is ``(n, 2)``; edges reference nodes by index (0-based);
    ``geoms`` run exactly from ``node_xy[source]`` to ``node_xy[target]``.
    """

    node_xy: np.ndarray
    source: np.ndarray
    target: np.ndarray
    geoms: np.ndarray
    highway: np.ndarray
    bridge: np.ndarray
    #: street name of each edge (None for unnamed streets and paths)
    name: np.ndarray | None = None
    component_sizes: list[int] = field(default_factory=list)
    dropped_nodes: int = 0


def build_network(
    lines: np.ndarray, highway: np.ndarray, bridge: np.ndarray, *, min_component_nodes: int,
    name: np.ndarray | None = None,
) -> Network:
    """Turn noded lines into nodes and edges; drop components below the size floor
    (``name``: the street name of each line, or None)."""
    if name is None:
        name = np.full(len(lines), None, dtype=object)
    node_xy, src, dst = _endpoint_nodes(lines)
    ok = src != dst
    lines, highway, bridge, src, dst = lines[ok], highway[ok], bridge[ok], src[ok], dst[ok]
    name = name[ok]
    n = len(node_xy)
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    n_comp, label = connected_components(graph, directed=False)
    sizes = np.bincount(label, minlength=n_comp)
    keep_node = sizes[label] >= min_component_nodes
    keep_edge = keep_node[src]
    new_index = np.cumsum(keep_node) - 1
    kept_sizes = sorted((int(s) for s in sizes if s >= min_component_nodes), reverse=True)
    return Network(
        node_xy=node_xy[keep_node],
        source=new_index[src[keep_edge]],
        target=new_index[dst[keep_edge]],
        geoms=lines[keep_edge],
        highway=highway[keep_edge],
        bridge=bridge[keep_edge],
        name=name[keep_edge],
        component_sizes=kept_sizes,
        dropped_nodes=int((~keep_node).sum()),
    )


# -- cells, compounds, buildings ----------------------------------------------------------------


def _frames(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Oriented frame of each polygon: angle (rad), centre ``(n, 2)``, half extents u, v."""
    env = shapely.oriented_envelope(geoms)
    c = shapely.get_coordinates(env).reshape(len(geoms), -1, 2)[:, :5]
    e1 = c[:, 1] - c[:, 0]
    e2 = c[:, 2] - c[:, 1]
    angle = np.arctan2(e1[:, 1], e1[:, 0])
    centre = c[:, :4].mean(axis=1)
    return angle, centre, np.hypot(e1[:, 0], e1[:, 1]) / 2, np.hypot(e2[:, 0], e2[:, 1]) / 2


def _extents(
    geoms: np.ndarray, origin: np.ndarray, angle: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Extents (u_lo, u_hi, v_lo, v_hi) of each polygon in its rotated frame at ``origin``."""
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    d = coords - origin[index]
    u, v = _rot(d[:, 0], d[:, 1], -angle[index])
    starts = np.searchsorted(index, np.arange(len(geoms)))
    return (
        np.minimum.reduceat(u, starts),
        np.maximum.reduceat(u, starts),
        np.minimum.reduceat(v, starts),
        np.maximum.reduceat(v, starts),
    )


def _slots(lo: float, hi: float, pitch: float, size: float, gap: float) -> np.ndarray:
    """Box centres along one axis, both sides of 0, leaving ``gap`` metres free at 0."""
    first = gap / 2 + size / 2
    pos = np.arange(first, hi - size / 2 + 1e-9, pitch)
    neg = -np.arange(first, -lo - size / 2 + 1e-9, pitch)
    return np.concatenate([neg[::-1], pos])


def _grid_boxes(
    rng: np.random.Generator,
    geoms: np.ndarray,
    origin: np.ndarray,
    angle: np.ndarray,
    pitch: tuple[np.ndarray, np.ndarray],
    size: tuple[np.ndarray, np.ndarray],
    gap: tuple[np.ndarray, np.ndarray],
    jitter: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate footprints: rotated rectangles on a grid over each owner polygon.

    The grid of owner ``i`` is centred on ``origin[i]``, turned by ``angle[i]``
    (radians), with pitches ``pitch`` and nominal footprint sizes ``size``
    (metres, per owner, along u and v); ``gap`` metres stay free around the
    origin's axes (room for the compound paths). Footprints shrink by up to
    ``jitter`` (a fraction) at random, so boxes of one owner never overlap.
    The caller keeps the boxes that fit. Returns boxes and owner indices.
    """
    u_lo, u_hi, v_lo, v_hi = _extents(geoms, origin, angle)
    cu: list[np.ndarray] = []
    cv: list[np.ndarray] = []
    own: list[np.ndarray] = []
    for i in range(len(geoms)):
        us = _slots(u_lo[i], u_hi[i], pitch[0][i], size[0][i], gap[0][i])
        vs = _slots(v_lo[i], v_hi[i], pitch[1][i], size[1][i], gap[1][i])
        gu, gv = np.meshgrid(us, vs, indexing="ij")
        cu.append(gu.ravel())
        cv.append(gv.ravel())
        own.append(np.full(gu.size, i, dtype=np.int64))
    owner = np.concatenate(own)
    u = np.concatenate(cu)
    v = np.concatenate(cv)
    n = len(owner)
    su = size[0][owner] * (1.0 - jitter * rng.random(n)) / 2
    sv = size[1][owner] * (1.0 - jitter * rng.random(n)) / 2
    corner_u = np.array([-1.0, 1.0, 1.0, -1.0, -1.0])
    corner_v = np.array([-1.0, -1.0, 1.0, 1.0, -1.0])
    lu = u[:, None] + corner_u[None, :] * su[:, None]
    lv = v[:, None] + corner_v[None, :] * sv[:, None]
    x, y = _rot(lu, lv, angle[owner][:, None])
    x += origin[owner, 0][:, None]
    y += origin[owner, 1][:, None]
    boxes = shapely.polygons(np.stack([x, y], axis=-1))
    return boxes, owner


# -- the layout ---------------------------------------------------------------------------------


@dataclass
class Layout:
    """Everything of a synthetic town in metric coordinates (``spec.epsg``).

    Regions are indexed in the order of ``region_codes`` (the divisions table
    order); compounds and buildings by position; ``-1`` means "none".
    """

    spec: TownSpec
    town: Polygon
    region_codes: list[str]
    region_names: list[str]
    region_geoms: np.ndarray
    seeds: np.ndarray
    core_xy: np.ndarray
    water_names: list[str]
    water_geoms: np.ndarray
    water_zone: shapely.Geometry
    grid_geoms: np.ndarray
    grid_region: np.ndarray
    arterial_lines: np.ndarray
    arterial_names: np.ndarray
    network: Network
    compound_geoms: np.ndarray
    compound_region: np.ndarray
    compound_grid: np.ndarray
    compound_names: list[str]
    compound_pop: np.ndarray
    compound_hh: np.ndarray
    building_geoms: np.ndarray
    building_compound: np.ndarray
    building_pop: np.ndarray
    building_hh: np.ndarray
    building_xy: np.ndarray
    building_region: np.ndarray
    building_edge_m: np.ndarray
    building_margin_m: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)

    # -- lookups used by the point placement of the town modules --

    def region_at(self, xy: np.ndarray) -> np.ndarray:
        """Index of the region covering each metric point (``-1`` when outside)."""
        pts = shapely.points(np.asarray(xy, dtype=float).reshape(-1, 2))
        qi, ri = shapely.STRtree(self.region_geoms).query(pts, predicate="covered_by")
        out = np.full(len(pts), -1, dtype=np.int64)
        # the lowest region index wins on shared boundaries
        order = np.lexsort((ri, qi))
        first = np.unique(qi[order], return_index=True)[1]
        out[qi[order][first]] = ri[order][first]
        return out

    def on_land(self, xy: np.ndarray) -> np.ndarray:
        """Whether each metric point is outside the rivers."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return ~shapely.intersects_xy(self.water_zone, xy[:, 0], xy[:, 1])

    def address(self, xy: Sequence[float], region: int, suffix: str = "") -> str:
        """A plausible Chinese street address of a metric point.

        ``"<town><village/community><road><number>号<suffix>"``; the road is the
        nearest named arterial and the house number grows along it from the
        town boundary (one number per 30 m, odd on the left-hand side, even on
        the right-hand side).
        """
        pt = shapely.Point(xy)
        ti = shapely.STRtree(self.arterial_lines).query_nearest(pt, all_matches=False)
        i = int(np.atleast_1d(ti)[0])
        line = self.arterial_lines[i]
        pos = float(shapely.line_locate_point(line, pt))
        a = np.array(shapely.line_interpolate_point(line, max(pos - 1.0, 0.0)).coords[0])
        b = np.array(shapely.line_interpolate_point(line, pos + 1.0).coords[0])
        side = (b[0] - a[0]) * (xy[1] - a[1]) - (b[1] - a[1]) * (xy[0] - a[0])
        number = 2 * int(pos // 60.0) + (1 if side > 0 else 2)
        region_name = short_name(self.region_names[region])
        return f"{self.spec.town_name}{region_name}{self.arterial_names[i]}{number}号{suffix}"

    def pick_buildings(
        self,
        rng: np.random.Generator,
        n: int,
        *,
        in_compound: bool | None = None,
        region: int | None = None,
        exclude: set[int] | None = None,
        distinct_compounds: bool = False,
        taken_xy: list[tuple[float, float]] | None = None,
        min_sep_m: float = 0.0,
        max_edge_m: float = 120.0,
    ) -> list[int]:
        """Up to ``n`` buildings drawn with probability proportional to population.

        Candidates lie within ``max_edge_m`` metres of a street edge and at
        least 3 m inside their region, optionally in a compound (or not), in a
        region, at least ``min_sep_m`` metres from every point of ``taken_xy``
        (which is extended with the picks); ``distinct_compounds`` allows one
        pick per compound.
        """
        mask = (self.building_edge_m <= max_edge_m) & (self.building_margin_m >= 3.0)
        if in_compound is True:
            mask &= self.building_compound >= 0
        elif in_compound is False:
            mask &= self.building_compound < 0
        if region is not None:
            mask &= self.building_region == region
        cand = np.flatnonzero(mask)
        order = cand[weighted_order(rng, self.building_pop[cand].astype(float) + 1.0)]
        excl = set() if exclude is None else exclude
        taken = [] if taken_xy is None else taken_xy
        used_compounds: set[int] = set()
        out: list[int] = []
        for b in order:
            if len(out) >= n:
                break
            b = int(b)
            if b in excl:
                continue
            comp = int(self.building_compound[b])
            if distinct_compounds and comp >= 0 and comp in used_compounds:
                continue
            xy = self.building_xy[b]
            if min_sep_m > 0 and taken:
                t = np.asarray(taken)
                if np.min(np.hypot(t[:, 0] - xy[0], t[:, 1] - xy[1])) < min_sep_m:
                    continue
            out.append(b)
            used_compounds.add(comp)
            taken.append((float(xy[0]), float(xy[1])))
        return out

    def nearest_building(
        self,
        xy: Sequence[float],
        *,
        region: int | None = None,
        in_compound: bool | None = None,
        compound: int | None = None,
        exclude: set[int] | None = None,
        max_edge_m: float = 120.0,
    ) -> int:
        """The building nearest to a metric point (``-1`` when none qualifies)."""
        mask = (self.building_edge_m <= max_edge_m) & (self.building_margin_m >= 3.0)
        if compound is not None:
            mask &= self.building_compound == compound
        if region is not None:
            mask &= self.building_region == region
        if in_compound is True:
            mask &= self.building_compound >= 0
        elif in_compound is False:
            mask &= self.building_compound < 0
        if exclude:
            mask[np.fromiter(exclude, dtype=np.int64)] = False
        cand = np.flatnonzero(mask)
        if len(cand) == 0:
            return -1
        d = np.hypot(self.building_xy[cand, 0] - xy[0], self.building_xy[cand, 1] - xy[1])
        return int(cand[np.argmin(d)])

    def street_site(self, xy: Sequence[float], region: int) -> tuple[float, float]:
        """A land point of ``region`` 8 m off the street edge nearest to ``xy`` (fallback)."""
        geom = self.region_geoms[region]
        pt = shapely.Point(xy)
        edges = self.network.geoms
        idx = shapely.STRtree(edges).query(geom, predicate="intersects")
        if len(idx):
            d = shapely.distance(edges[idx], pt)
            for j in idx[np.argsort(d, kind="stable")][:50]:
                on = shapely.line_interpolate_point(
                    edges[j], shapely.line_locate_point(edges[j], pt)
                )
                for dx, dy in ((8, 0), (0, 8), (-8, 0), (0, -8)):
                    cand = (on.x + dx, on.y + dy)
                    if geom.covers(shapely.Point(cand)) and bool(self.on_land(cand)[0]):
                        return float(cand[0]), float(cand[1])
        rep = shapely.point_on_surface(shapely.difference(geom, self.water_zone))
        return float(rep.x), float(rep.y)


@dataclass
class _Streets:
    """Stage-1 street network (before compound paths), metric CRS."""

    pieces: np.ndarray
    attrs: dict[str, np.ndarray]
    named_lines: np.ndarray  # arterials clipped to the town, one (Multi)LineString per name
    names: np.ndarray


@dataclass
class _Cells:
    """Faces of the stage-1 street network (street blocks), metric CRS."""

    geoms: np.ndarray
    area: np.ndarray
    rep: np.ndarray  # (n, 2) point on surface
    share: np.ndarray  # density share at rep
    dry: np.ndarray  # clear of the rivers (40 m beyond the bank margin)
    container: np.ndarray  # region or grid cell that contains the face, -1 if none
    region: np.ndarray  # region of rep, -1 if none


@dataclass
class _Compounds:
    """Chosen compound sites, metric CRS."""

    cells: np.ndarray  # indices into _Cells
    geoms: np.ndarray
    region: np.ndarray
    grid: np.ndarray
    names: list[str]


def _water(
    rng: np.random.Generator, spec: TownSpec, town: Polygon
) -> tuple[np.ndarray, shapely.Geometry, shapely.Geometry]:
    """Rivers: delivered polygons (clipped near the town), the exclusion zone
    (water plus the bank margin) and the raw water union."""
    polys = np.array([make_river(rng, town, r)[1] for r in spec.rivers], dtype=object)
    shown = shapely.intersection(polys, town.buffer(300.0))
    shown = np.array([_polygonal(g) for g in shown], dtype=object)
    zone = shapely.union_all(shapely.buffer(polys, spec.river_margin_m))
    raw = shapely.union_all(polys)
    shapely.prepare(zone)
    shapely.prepare(raw)
    return shown, zone, raw


def _grids(
    rng: np.random.Generator,
    region_geoms: np.ndarray,
    counts: Sequence[int],
    water_zone: shapely.Geometry,
) -> tuple[np.ndarray, np.ndarray]:
    """Split every region into ``counts[i]`` grid cells (Voronoi, 3 Lloyd steps)."""
    geoms: list[shapely.Geometry] = []
    owner: list[int] = []
    for ri, k in enumerate(counts):
        _, g = voronoi_partition(rng, region_geoms[ri], int(k), avoid=water_zone, iterations=3)
        geoms.extend(g)
        owner.extend([ri] * int(k))
    return np.array(geoms, dtype=object), np.array(owner, dtype=np.int64)


def _streets(
    rng: np.random.Generator,
    spec: TownSpec,
    town: Polygon,
    density: DensityField,
    water_zone: shapely.Geometry,
    water_raw: shapely.Geometry,
) -> _Streets:
    """Arterials, local streets and bridges, noded (stage 1)."""
    angle = rng.uniform(-0.25, 0.25)
    art_raw, art_cls = _arterials(rng, town, angle, spec.arterial_spacing_m)
    art_clip = shapely.intersection(art_raw, town)
    art_parts, art_idx = shapely.get_parts(art_clip, return_index=True)
    art_keep = shapely.get_type_id(art_parts) == 1
    art_parts, art_idx = art_parts[art_keep], art_idx[art_keep]
    # road names for the arterials that reach the town, in line order
    present = np.unique(art_idx)
    pool = list(spec.road_names)
    rng.shuffle(pool)
    names = []
    for i, cls in enumerate(art_cls[present]):
        base = pool[i % len(pool)]
        lap = i // len(pool)
        if lap == 0:
            names.append(base + ("大道" if cls == "primary" else "路"))
        else:
            names.append(base + ("东路", "西路", "南路", "北路", "中路")[(lap - 1) % 5])
    block_lines = shapely.get_parts(
        shapely.union_all(np.concatenate([art_parts, [town.exterior]]), grid_size=0.01)
    )
    blocks = shapely.get_parts(shapely.polygonize(block_lines))
    blocks = blocks[shapely.area(blocks) > 2000.0]
    loc_parts, loc_cls = _local_streets(
        rng, blocks, angle, density, spec.local_spacing_m, spec.path_below
    )

    # rivers cut the streets; arterials cross them on bridges
    street = np.concatenate([art_parts, loc_parts])
    street_cls = np.concatenate([art_cls[art_idx], loc_cls])
    # arterials carry their road name (the one addresses use), local streets none
    name_of = dict(zip(present.tolist(), names, strict=True))
    art_name = np.array([name_of.get(int(i)) for i in art_idx], dtype=object)
    street_name = np.concatenate([art_name, np.full(len(loc_parts), None, dtype=object)])
    cut_parts, cut_idx = shapely.get_parts(
        shapely.difference(street, water_zone), return_index=True
    )
    ok = (shapely.get_type_id(cut_parts) == 1) & (shapely.length(cut_parts) > 5.0)
    cut_parts, cut_idx = cut_parts[ok], cut_idx[ok]
    br_parts, br_idx = shapely.get_parts(
        shapely.intersection(art_parts, water_zone), return_index=True
    )
    is_line = shapely.get_type_id(br_parts) == 1
    br_parts, br_idx = br_parts[is_line], br_idx[is_line]
    zone_edge = water_zone.boundary
    shapely.prepare(zone_edge)
    both_banks = (
        (shapely.distance(shapely.get_point(br_parts, 0), zone_edge) < 0.5)
        & (shapely.distance(shapely.get_point(br_parts, -1), zone_edge) < 0.5)
        & (shapely.length(br_parts) <= spec.max_bridge_m)
    )
    # pieces in the bank margin that never reach the water stay ordinary streets
    wet = shapely.intersects(water_raw, br_parts)
    bank = ~wet & (shapely.length(br_parts) > 1.0)
    bridge = both_banks & wet
    br_cls = art_cls[art_idx][br_idx]
    lines = np.concatenate([cut_parts, br_parts[bank], br_parts[bridge]])
    highway = np.concatenate([street_cls[cut_idx], br_cls[bank], br_cls[bridge]])
    br_name = art_name[br_idx]
    road_name = np.concatenate([street_name[cut_idx], br_name[bank], br_name[bridge]])
    is_bridge = np.concatenate(
        [np.zeros(len(cut_parts) + int(bank.sum()), bool), np.ones(int(bridge.sum()), bool)]
    )
    pieces, attrs = node_lines(lines, {"highway": highway, "bridge": is_bridge,
                                       "name": road_name})
    return _Streets(pieces, attrs, art_clip[present], np.array(names, dtype=object))


def _cells(
    streets: _Streets,
    density: DensityField,
    water_zone: shapely.Geometry,
    region_geoms: np.ndarray,
    containers: np.ndarray,
) -> _Cells:
    """Faces of the stage-1 streets with what the later steps need to know."""
    geoms = shapely.get_parts(shapely.polygonize(streets.pieces[~streets.attrs["bridge"]]))
    geoms = geoms[shapely.area(geoms) > 500.0]
    near_water = shapely.buffer(water_zone, 40.0)
    shapely.prepare(near_water)
    rep = shapely.get_coordinates(shapely.point_on_surface(geoms))
    ci, ki = shapely.STRtree(containers).query(geoms, predicate="within")
    container = np.full(len(geoms), -1, dtype=np.int64)
    container[ci] = ki
    qi, ri = shapely.STRtree(region_geoms).query(shapely.points(rep), predicate="within")
    region = np.full(len(geoms), -1, dtype=np.int64)
    region[qi] = ri
    return _Cells(
        geoms=geoms,
        area=shapely.area(geoms),
        rep=rep,
        share=density(rep),
        dry=~shapely.intersects(near_water, geoms),
        container=container,
        region=region,
    )


def _choose_compounds(
    rng: np.random.Generator,
    spec: TownSpec,
    cells: _Cells,
    grid_region: np.ndarray | None,
    quota: Mapping[int, int],
    named: Mapping[int, str],
) -> _Compounds:
    """Pick compound sites: compact, wide, dry street cells inside one container,
    more likely where density is high; named compounds take their region's
    densest site, quota containers get exactly their number."""
    lo, hi = spec.compound_cell_m2
    _, _, hu, hv = _frames(cells.geoms)
    compact = cells.area / np.maximum(shapely.area(shapely.oriented_envelope(cells.geoms)), 1.0)
    cand = np.flatnonzero(
        cells.dry
        & (np.minimum(hu, hv) >= 35.0)
        & (cells.container >= 0)
        & (cells.area >= lo)
        & (cells.area <= hi)
        & (compact >= 0.7)
    )
    weight = cells.share**2 + 1e-4
    cont_region = (
        cells.container if grid_region is None else grid_region[np.maximum(cells.container, 0)]
    )
    chosen: list[int] = []
    named_cells: dict[int, str] = {}
    for reg in sorted(named):
        in_reg = cand[cont_region[cand] == reg]
        if len(in_reg) == 0:
            raise RuntimeError(f"no compound site in region {reg} for {named[reg]}")
        best = int(in_reg[np.lexsort((in_reg, -cells.share[in_reg]))[0]])
        chosen.append(best)
        named_cells[best] = named[reg]
    for cont in sorted(quota):
        have = int(np.isin(cells.container[chosen], [cont]).sum()) if chosen else 0
        pool = cand[(cells.container[cand] == cont) & ~np.isin(cand, chosen)]
        need = quota[cont] - have
        if need > len(pool):
            raise RuntimeError(f"container {cont}: {len(pool)} compound sites, need {need}")
        if need > 0:
            chosen.extend(int(c) for c in pool[weighted_order(rng, weight[pool])[:need]])
    rest = cand[~np.isin(cand, chosen) & ~np.isin(cells.container[cand], list(quota))]
    need = spec.n_compounds - len(chosen)
    if need > len(rest):
        raise RuntimeError(f"{len(rest)} compound sites left, need {need}")
    chosen.extend(int(c) for c in rest[weighted_order(rng, weight[rest])[:need]])
    idx = np.array(chosen, dtype=np.int64)

    setback = rng.uniform(8.0, 14.0, len(idx))
    geoms = shapely.buffer(cells.geoms[idx], -setback, join_style="mitre")
    geoms = np.array([_largest_polygon(g) for g in geoms], dtype=object)
    container = cells.container[idx]
    names = _compound_names(rng, spec, len(idx))
    for k, c in enumerate(chosen):
        if c in named_cells:
            names[k] = named_cells[c]
    return _Compounds(
        cells=idx,
        geoms=geoms,
        region=container if grid_region is None else grid_region[container],
        grid=np.full(len(idx), -1, dtype=np.int64) if grid_region is None else container,
        names=names,
    )


def _compound_paths(
    comps: _Compounds, cells: _Cells
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A service road and a footway crossing each compound at its centre and
    running out to the surrounding streets.

    Returns the path lines, their highway classes, each compound's centre
    ``(n, 2)`` and axis angle (radians), and each compound's paths buffered by
    6 m (None when it has none).
    """
    angle, _, hu, hv = _frames(comps.geoms)
    centre = shapely.centroid(comps.geoms)
    inside = shapely.contains(comps.geoms, centre)
    centre = np.where(inside, centre, shapely.point_on_surface(comps.geoms))
    cxy = shapely.get_coordinates(centre)
    reach = 2 * (hu + hv) + 60.0
    coords, classes, owners = [], [], []
    for axis, cls in ((0.0, "service"), (math.pi / 2, "footway")):
        dx, dy = np.cos(angle + axis) * reach, np.sin(angle + axis) * reach
        a = np.column_stack([cxy[:, 0] - dx, cxy[:, 1] - dy])
        b = np.column_stack([cxy[:, 0] + dx, cxy[:, 1] + dy])
        coords.append(np.stack([a, b], axis=1))
        classes.extend([cls] * len(cxy))
        owners.append(np.arange(len(cxy)))
    raw = shapely.linestrings(np.concatenate(coords))
    owner = np.concatenate(owners)
    parts, idx = shapely.get_parts(
        shapely.intersection(raw, cells.geoms[comps.cells][owner]), return_index=True
    )
    ok = (shapely.get_type_id(parts) == 1) & shapely.intersects(parts, comps.geoms[owner[idx]])
    parts, idx = parts[ok], idx[ok]
    srt = np.argsort(owner[idx], kind="stable")
    uniq, grp = np.unique(owner[idx][srt], return_inverse=True)
    buffered = shapely.buffer(
        shapely.multilinestrings(parts[srt], indices=grp.ravel()), 6.0, cap_style="flat"
    )
    by_owner = np.full(len(comps.geoms), None, dtype=object)
    by_owner[uniq] = buffered
    return parts, np.array(classes, dtype=object)[idx], cxy, angle, by_owner


def _compound_buildings(
    rng: np.random.Generator,
    spec: TownSpec,
    comps: _Compounds,
    cxy: np.ndarray,
    angle: np.ndarray,
    path_buf: np.ndarray,
    density: DensityField,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residential slabs in every compound, clear of its paths.

    Returns footprints, their compound index and each compound's floor count.
    """
    fl_lo, fl_hi = spec.compound_floors
    n = len(cxy)
    share = density(cxy)
    floors = np.round(fl_lo + (fl_hi - fl_lo) * np.clip(share + rng.normal(0, 0.2, n), 0, 1))
    # slabs shrink in small compounds so that each quadrant holds at least one
    u_lo, u_hi, v_lo, v_hi = _extents(comps.geoms, cxy, angle)
    room_u = np.minimum(-u_lo, u_hi) - 4.0 - 8.0
    room_v = np.minimum(-v_lo, v_hi) - 4.0 - 8.0
    slab_u = np.minimum(rng.uniform(24.0, 40.0, n), np.maximum(10.0, 0.9 * room_u))
    slab_v = np.minimum(rng.uniform(12.0, 17.0, n), np.maximum(8.0, 0.9 * room_v))
    pitch_u = slab_u + rng.uniform(10.0, 18.0, n)
    pitch_v = slab_v + np.clip(floors * 1.2, 16.0, 40.0)
    corridor = np.full(n, 16.0)
    boxes, owner = _grid_boxes(
        rng,
        comps.geoms,
        cxy,
        angle,
        (pitch_u, pitch_v),
        (slab_u, slab_v),
        (corridor, corridor),
        jitter=0.08,
    )
    inner = shapely.buffer(comps.geoms, -4.0, join_style="mitre")
    shapely.prepare(inner)
    ok = shapely.contains(inner[owner], boxes)
    has_path = np.array([g is not None for g in path_buf])[owner]
    ok[has_path] &= ~shapely.intersects(
        np.array(list(path_buf[owner[has_path]]), dtype=object), boxes[has_path]
    )
    geoms, owner = boxes[ok], owner[ok]
    # a compound without any slab gets one block where there is most room
    empty = np.setdiff1d(np.arange(n), owner)
    if len(empty):
        extra = []
        for i in empty:
            room = inner[i] if path_buf[i] is None else inner[i].difference(path_buf[i])
            circle = shapely.maximum_inscribed_circle(_largest_polygon(room))
            (px, py), (qx, qy) = circle.coords
            half = min(math.hypot(qx - px, qy - py) * 0.7, 9.0)
            u, v = _rot(
                np.array([-1.0, 1.0, 1.0, -1.0]) * half,
                np.array([-1.0, -1.0, 1.0, 1.0]) * half,
                angle[i],
            )
            extra.append(Polygon(np.column_stack([px + u, py + v])))
        geoms = np.concatenate([geoms, np.array(extra, dtype=object)])
        owner = np.concatenate([owner, empty])
        srt = np.argsort(owner, kind="stable")
        geoms, owner = geoms[srt], owner[srt]
    return geoms, owner, floors


def _village_buildings(
    rng: np.random.Generator,
    spec: TownSpec,
    cells: _Cells,
    comps: _Compounds,
    seeds: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """Small houses outside compounds: dense in each region's old core (the
    street cells nearest its seed), scattered in some other cells."""
    taken = np.zeros(len(cells.geoms), dtype=bool)
    taken[comps.cells] = True
    usable = cells.dry & ~taken & (cells.region >= 0) & (cells.area <= 120_000)
    core: list[int] = []
    for reg in range(len(seeds)):
        idx = np.flatnonzero(usable & (cells.region == reg))
        if len(idx) == 0:
            continue
        d = np.hypot(cells.rep[idx, 0] - seeds[reg, 0], cells.rep[idx, 1] - seeds[reg, 1])
        idx = idx[np.argsort(d, kind="stable")]
        target = rng.uniform(*spec.core_area_m2) * (0.6 + 0.8 * min(1.0, weights[reg]))
        k = int(np.searchsorted(np.cumsum(cells.area[idx]), target)) + 1
        core.extend(int(c) for c in idx[:k])
    in_core = np.zeros(len(cells.geoms), dtype=bool)
    in_core[core] = True
    rest = np.flatnonzero(usable & ~in_core)
    n_extra = int(round(spec.extra_cells_share * len(rest)))
    extra = rest[weighted_order(rng, cells.share[rest] + 0.02)[:n_extra]]
    chosen = np.concatenate([np.array(core, dtype=np.int64), np.sort(extra)])
    keep_p = np.concatenate([np.full(len(core), 0.8), np.full(len(extra), 0.3)])
    geoms = shapely.buffer(cells.geoms[chosen], -6.0, join_style="mitre")
    solid = ~shapely.is_empty(geoms) & (shapely.area(geoms) > 100.0)
    chosen, keep_p, geoms = chosen[solid], keep_p[solid], geoms[solid]
    angle, centre, _, _ = _frames(cells.geoms[chosen])
    n = len(chosen)
    boxes, owner = _grid_boxes(
        rng,
        geoms,
        centre,
        angle,
        (np.full(n, 15.0), np.full(n, 14.5)),
        (np.full(n, 13.0), np.full(n, 12.5)),
        (np.full(n, 2.0), np.full(n, 2.0)),
        jitter=0.3,
    )
    shapely.prepare(geoms)
    ok = shapely.contains(geoms[owner], boxes) & (rng.random(len(boxes)) < keep_p[owner])
    return boxes[ok]


def _population(
    rng: np.random.Generator,
    spec: TownSpec,
    comp_buildings: np.ndarray,
    comp_owner: np.ndarray,
    floors: np.ndarray,
    village_buildings: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Residents and households of every building (compound slabs first).

    The town total (``spec.population`` plus 0–2.5 %) is split exactly:
    ``spec.compound_share`` to the slabs in proportion to footprint × floors,
    the rest to the houses in proportion to footprint × storeys (3–7);
    households are residents / 2.35–2.85.
    """
    total = int(round(spec.population * rng.uniform(1.0, 1.025)))
    in_comp = int(round(total * spec.compound_share))
    n_c, n_v = len(comp_buildings), len(village_buildings)
    w_comp = shapely.area(comp_buildings) * floors[comp_owner] * rng.uniform(0.85, 1.15, n_c)
    storeys = rng.integers(3, 8, n_v)
    w_vill = shapely.area(village_buildings) * storeys * rng.uniform(0.7, 1.3, n_v)
    pop = np.concatenate([apportion(in_comp, w_comp), apportion(total - in_comp, w_vill)])
    hh_size = rng.uniform(2.35, 2.85, len(pop))
    hh = np.where(pop > 0, np.maximum(1, np.round(pop / hh_size)), 0).astype(np.int64)
    return pop, hh


def _final_network(
    spec: TownSpec,
    streets: _Streets,
    paths: np.ndarray,
    path_cls: np.ndarray,
    water_raw: shapely.Geometry,
) -> Network:
    """Streets plus compound paths: noded, cleaned, long edges split."""
    lines = np.concatenate([streets.pieces, paths])
    attrs = {
        "highway": np.concatenate([streets.attrs["highway"], path_cls]),
        "bridge": np.concatenate([streets.attrs["bridge"], np.zeros(len(paths), dtype=bool)]),
        "name": np.concatenate([streets.attrs["name"], np.full(len(paths), None, dtype=object)]),
    }
    lines, attrs = node_lines(lines, attrs)
    lines, attrs = drop_stubs(lines, attrs, spec.min_edge_m)
    lines, attrs = contract_short(lines, attrs, spec.min_edge_m)
    # moved ends may touch other edges: node once more, then drop new slivers
    lines, attrs = node_lines(lines, attrs)
    lines, attrs = drop_stubs(lines, attrs, 1.0)
    lines, attrs = split_long(lines, attrs, spec.max_edge_m)
    # a bridge is what spans water; its approach pieces on the bank are plain streets
    attrs["bridge"] = attrs["bridge"] & shapely.intersects(water_raw, lines)
    return build_network(
        lines, attrs["highway"], attrs["bridge"], min_component_nodes=spec.min_component_nodes,
        name=attrs["name"],
    )


def build_layout(
    rng: np.random.Generator,
    spec: TownSpec,
    regions: pd.DataFrame,
    *,
    assign_regions: Callable[..., np.ndarray],
    region_weights: np.ndarray,
    grids_per_region: Sequence[int] | None = None,
    compound_quota: Mapping[int, int] | None = None,
    named_compounds: Mapping[int, str] | None = None,
) -> Layout:
    """Generate the geometry and population of a town (metric CRS ``spec.epsg``).

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    spec : TownSpec
        Town parameters.
    regions : pandas.DataFrame
        Village-level rows (``code``, ``name``) of the divisions table.
    assign_regions : callable
        ``(rng, seeds, town, core_xy) -> order``: ``order[i]`` is the seed
        (Voronoi cell) of region row ``i``; coordinates are metric.
    region_weights : numpy.ndarray
        Relative residential density weight of every region row.
    grids_per_region : sequence of int, optional
        When given, each region is split into that many grid cells and
        compounds must lie inside one grid cell (otherwise inside one region).
    compound_quota : mapping, optional
        ``container index -> exact number of compounds`` for some containers
        (regions, or grid cells when grids are made).
    named_compounds : mapping, optional
        ``region index -> compound name``: the region's densest compound site
        gets this name (e.g. 时代·天境 in 金峰洲社区).

    Returns
    -------
    Layout
        Everything in metric coordinates; :func:`assemble` converts to EPSG:4326.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    fwd = Transformer.from_crs(WGS84, spec.epsg, always_xy=True)
    cx, cy = fwd.transform(spec.lon, spec.lat)
    town = town_outline(rng, (cx, cy), spec.area_km2 * 1e6, spec.elongation)
    shapely.prepare(town)
    radius = math.sqrt(town.area / math.pi)
    water_geoms, water_zone, water_raw = _water(rng, spec, town)

    # regions (村/社区) and the density field around their seeds and the urban core
    seeds, cells0 = voronoi_partition(
        rng, town, len(regions), avoid=water_zone, iterations=spec.lloyd_iterations
    )
    core_xy = np.array(town.centroid.coords[0]) + np.array([0.25 * radius, 0.05 * radius])
    order = np.asarray(assign_regions(rng, seeds, town, core_xy))
    seeds, region_geoms = seeds[order], cells0[order]
    weights = np.asarray(region_weights, dtype=float)
    density = DensityField(
        centers=np.vstack([core_xy[None, :], seeds]),
        weights=np.concatenate([[1.3], weights]),
        sigmas=np.concatenate([[0.35 * radius], 0.45 * np.sqrt(shapely.area(region_geoms))]),
    )
    density.normalise(random_points_in(rng, town, 2000))
    if grids_per_region is not None:
        grid_geoms, grid_region = _grids(rng, region_geoms, grids_per_region, water_zone)
    else:
        grid_geoms, grid_region = np.array([], dtype=object), np.array([], dtype=np.int64)
    timings["regions"] = time.perf_counter() - t0

    streets = _streets(rng, spec, town, density, water_zone, water_raw)
    timings["streets"] = time.perf_counter() - t0
    containers = grid_geoms if grids_per_region is not None else region_geoms
    cells = _cells(streets, density, water_zone, region_geoms, containers)
    comps = _choose_compounds(
        rng,
        spec,
        cells,
        grid_region if grids_per_region is not None else None,
        dict(compound_quota or {}),
        dict(named_compounds or {}),
    )
    paths, path_cls, cxy, c_angle, path_buf = _compound_paths(comps, cells)
    cb_geoms, cb_owner, floors = _compound_buildings(
        rng, spec, comps, cxy, c_angle, path_buf, density
    )
    vb_geoms = _village_buildings(rng, spec, cells, comps, seeds, weights)
    timings["buildings"] = time.perf_counter() - t0

    b_geoms = np.concatenate([cb_geoms, vb_geoms])
    b_comp = np.concatenate([cb_owner, np.full(len(vb_geoms), -1, dtype=np.int64)])
    b_pop, b_hh = _population(rng, spec, cb_geoms, cb_owner, floors, vb_geoms)
    in_c = b_comp >= 0
    n_comp = len(comps.geoms)
    comp_pop = np.bincount(b_comp[in_c], weights=b_pop[in_c], minlength=n_comp).astype(np.int64)
    comp_hh = np.bincount(b_comp[in_c], weights=b_hh[in_c], minlength=n_comp).astype(np.int64)

    network = _final_network(spec, streets, paths, path_cls, water_raw)
    timings["network"] = time.perf_counter() - t0

    b_xy = shapely.get_coordinates(shapely.centroid(b_geoms))
    _, dist = shapely.STRtree(network.geoms).query_nearest(
        shapely.points(b_xy), all_matches=False, return_distance=True
    )
    layout = Layout(
        spec=spec,
        town=town,
        region_codes=list(regions["code"]),
        region_names=list(regions["name"]),
        region_geoms=region_geoms,
        seeds=seeds,
        core_xy=core_xy,
        water_names=[r.name for r in spec.rivers],
        water_geoms=water_geoms,
        water_zone=water_zone,
        grid_geoms=grid_geoms,
        grid_region=grid_region,
        arterial_lines=streets.named_lines,
        arterial_names=streets.names,
        network=network,
        compound_geoms=comps.geoms,
        compound_region=comps.region,
        compound_grid=comps.grid,
        compound_names=comps.names,
        compound_pop=comp_pop,
        compound_hh=comp_hh,
        building_geoms=b_geoms,
        building_compound=b_comp,
        building_pop=b_pop,
        building_hh=b_hh,
        building_xy=b_xy,
        building_region=np.zeros(len(b_geoms), dtype=np.int64),
        building_edge_m=np.asarray(dist),
        building_margin_m=np.zeros(len(b_geoms)),
        timings=timings,
    )
    layout.building_region = layout.region_at(b_xy)
    # distance of each building centroid to its region's boundary (points sit well inside)
    layout.building_margin_m = np.where(
        layout.building_region >= 0,
        shapely.distance(
            shapely.points(b_xy),
            shapely.boundary(region_geoms[np.maximum(layout.building_region, 0)]),
        ),
        0.0,
    )
    timings["total"] = time.perf_counter() - t0
    return layout


def add_grids(rng: np.random.Generator, layout: Layout, counts: Sequence[int]) -> None:
    """Split every region of a layout built without grids into ``counts[i]`` grid cells.

    For dense towns whose short blocks leave too few compound sites inside
    small grid cells: the cells are drawn after the compounds, so a compound
    may straddle two cells and belongs to the one holding its point on surface
    (``layout.compound_grid``). Sets ``grid_geoms``, ``grid_region`` and
    ``compound_grid`` in place.
    """
    geoms, owner = _grids(rng, layout.region_geoms, counts, layout.water_zone)
    rep = shapely.point_on_surface(layout.compound_geoms)
    qi, gi = shapely.STRtree(geoms).query(rep, predicate="covered_by")
    same = owner[gi] == layout.compound_region[qi]
    qi, gi = qi[same], gi[same]
    grid = np.full(len(rep), -1, dtype=np.int64)
    order = np.lexsort((gi, qi))
    first = np.unique(qi[order], return_index=True)[1]
    grid[qi[order][first]] = gi[order][first]
    if (grid < 0).any():
        raise RuntimeError(f"{int((grid < 0).sum())} compounds outside every grid cell")
    layout.grid_geoms, layout.grid_region, layout.compound_grid = geoms, owner, grid


def _compound_names(rng: np.random.Generator, spec: TownSpec, n: int) -> list[str]:
    """``n`` distinct compound names from the spec's word and suffix pools."""
    combos = [w + s for w in spec.compound_words for s in spec.compound_suffixes]
    if n > len(combos):
        raise ValueError(f"{len(combos)} compound names available, {n} needed")
    idx = rng.choice(len(combos), size=n, replace=False)
    return [combos[i] for i in idx]


# -- points and assembly -----------------------------------------------------------------------


@dataclass
class PointDraft:
    """A service point before assembly (metric ``xy``; ``region`` index or None)."""

    name: str
    kind: PointKind
    xy: tuple[float, float]
    hours_text: str
    services: list[Service]
    rooms: int
    floor_area_m2: float
    stars: int | None
    region: int | None = None
    address_suffix: str = ""
    #: a published address used as is (otherwise one is made from the nearest arterial)
    address: str | None = None


_STATION_EXTRAS = (
    Service.VOLUNTEER,
    Service.ELDERLY_CARE,
    Service.CHILDREN,
    Service.CULTURE,
    Service.MIGRANTS,
    Service.LEGAL,
    Service.MEDICAL,
    Service.EMPLOYMENT,
)
_CENTER_EXTRAS = (
    Service.MIGRANTS,
    Service.VOLUNTEER,
    Service.CHILDREN,
    Service.LEGAL,
    Service.MEDICAL,
    Service.EMPLOYMENT,
)
_SERVICE_ORDER = {s: i for i, s in enumerate(Service)}


def _services(base: Sequence[Service], extra: Sequence[Service]) -> list[Service]:
    out = list(dict.fromkeys([*base, *extra]))
    return sorted(out, key=_SERVICE_ORDER.__getitem__)


def _draw(rng: np.random.Generator, pool: Sequence, k: int) -> list:
    idx = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
    return [pool[i] for i in sorted(idx)]


def point_profile(
    rng: np.random.Generator, kind: PointKind
) -> tuple[str, list[Service], int, float, int | None]:
    """Plausible hours text, services, rooms, floor area (m²) and stars for a kind.

    The town center is not covered: its attributes come from the facts.
    """
    if kind == PointKind.VILLAGE_CENTER:
        hours = str(rng.choice([HOURS_OFFICE, HOURS_SIX_DAYS, HOURS_DAILY], p=[0.45, 0.4, 0.15]))
        base = (
            Service.PARTY,
            Service.GOVERNMENT,
            Service.ELDERLY_CARE,
            Service.MASS_ORGS,
            Service.CULTURE,
        )
        services = _services(base, _draw(rng, _CENTER_EXTRAS, int(rng.integers(1, 4))))
        return (
            hours,
            services,
            int(rng.integers(5, 13)),
            float(round(rng.uniform(300, 1500), -1)),
            int(rng.integers(3, 6)),
        )
    if kind == PointKind.STATION:
        hours = str(
            rng.choice(
                [HOURS_DAILY, HOURS_SIX_DAYS, HOURS_OFFICE, HOURS_ALWAYS], p=[0.3, 0.3, 0.25, 0.15]
            )
        )
        services = _services([Service.PARTY], _draw(rng, _STATION_EXTRAS, int(rng.integers(2, 5))))
        stars = None if rng.random() < 0.4 else int(rng.integers(1, 6))
        return (
            hours,
            services,
            int(rng.integers(1, 5)),
            float(round(rng.uniform(30, 300), -1)),
            stars,
        )
    if kind == PointKind.ADMIN_SERVICE:
        services = [Service.GOVERNMENT, Service.MIGRANTS, Service.LEGAL, Service.EMPLOYMENT]
        return (
            HOURS_OFFICE,
            _services(services, []),
            int(rng.integers(8, 21)),
            float(round(rng.uniform(800, 3000), -1)),
            None,
        )
    if kind == PointKind.CIVILIZATION:
        hours = str(rng.choice([HOURS_SIX_DAYS, HOURS_DAILY]))
        extra = [Service.CHILDREN] if rng.random() < 0.5 else []
        stars = None if rng.random() < 0.5 else int(rng.integers(2, 6))
        return (
            hours,
            _services([Service.PARTY, Service.CULTURE, Service.VOLUNTEER], extra),
            int(rng.integers(2, 7)),
            float(round(rng.uniform(100, 600), -1)),
            stars,
        )
    if kind == PointKind.RED_EDUCATION:
        hours = str(rng.choice([HOURS_DAILY, HOURS_OFFICE]))
        return (
            hours,
            _services([Service.PARTY, Service.CULTURE], []),
            int(rng.integers(2, 6)),
            float(round(rng.uniform(150, 800), -1)),
            int(rng.integers(3, 6)),
        )
    hours = str(rng.choice([HOURS_ALWAYS, HOURS_DAILY]))
    return (
        hours,
        _services([Service.MIGRANTS, Service.VOLUNTEER, Service.EMPLOYMENT], []),
        int(rng.integers(1, 4)),
        float(round(rng.uniform(40, 200), -1)),
        None,
    )


def draft(
    rng: np.random.Generator,
    kind: PointKind,
    name: str,
    xy: Sequence[float],
    *,
    region: int | None = None,
    address_suffix: str = "",
) -> PointDraft:
    """A :class:`PointDraft` with the kind's plausible attributes."""
    hours, services, rooms, area, stars = point_profile(rng, kind)
    return PointDraft(
        name=name,
        kind=kind,
        xy=(float(xy[0]), float(xy[1])),
        hours_text=hours,
        services=services,
        rooms=rooms,
        floor_area_m2=area,
        stars=stars,
        region=region,
        address_suffix=address_suffix,
    )


@dataclass
class BranchDraft:
    """A party branch: compounds by index, the first being its seat."""

    name: str
    compounds: list[int]


def _to_wgs84(transformer: Transformer, geoms: np.ndarray) -> np.ndarray:
    def tf(c: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(np.asarray(geoms, dtype=object), tf)
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = [_polygonal(g) for g in shapely.make_valid(out[bad])]
    return out


def assemble(
    layout: Layout,
    rng: np.random.Generator,
    *,
    points: Sequence[PointDraft],
    grid_names: Sequence[str] = (),
    grid_workers: Sequence[int] = (),
    branches: Sequence[BranchDraft] = (),
) -> Sample:
    """Convert a layout and its points into a :class:`~data.sample.Sample` (EPSG:4326).

    Every frame carries ``synthetic = True``; edges also carry ``bridge``;
    branches carry ``seat_compound_code`` (also first in ``compound_codes``).
    """
    spec = layout.spec
    inv = Transformer.from_crs(spec.epsg, WGS84, always_xy=True)
    p = spec.prefix
    from data.divisions import town as town_row

    trow = town_row(spec.town_code)

    # regions: the town, then its villages/communities in table order
    reg_geoms = _to_wgs84(inv, np.concatenate([[layout.town], layout.region_geoms]))
    regions = gpd.GeoDataFrame(
        {
            "code": [spec.town_code, *layout.region_codes],
            "name": [trow["name"], *layout.region_names],
            "level": ["town"] + ["village"] * len(layout.region_codes),
            "parent_code": [trow["parent_code"]] + [spec.town_code] * len(layout.region_codes),
            "synthetic": True,
        },
        geometry=reg_geoms,
        crs=WGS84,
    )

    # points
    xy = np.array([d.xy for d in points], dtype=float)
    found = layout.region_at(xy)
    region_idx = np.array(
        [d.region if d.region is not None else int(found[i]) for i, d in enumerate(points)]
    )
    if (region_idx < 0).any():
        raise RuntimeError("a service point lies outside every region")
    phones: set[str] = set()
    names_seen: set[str] = set()
    for d in points:
        if d.name in names_seen:
            raise RuntimeError(f"duplicate point name {d.name}")
        names_seen.add(d.name)
    pts = gpd.GeoDataFrame(
        {
            "code": [f"{p}-{i + 1:04d}" for i in range(len(points))],
            "name": [d.name for d in points],
            "kind": [d.kind.value for d in points],
            "region_code": [layout.region_codes[r] for r in region_idx],
            "address": [
                d.address if d.address is not None
                else layout.address(d.xy, int(r), d.address_suffix)
                for d, r in zip(points, region_idx, strict=True)
            ],
            "hours": [hours_dict(d.hours_text) for d in points],
            "hours_text": [d.hours_text for d in points],
            "services": [[s.value for s in d.services] for d in points],
            "rooms": np.array([d.rooms for d in points], dtype=np.int64),
            "floor_area_m2": np.array([d.floor_area_m2 for d in points], dtype=float),
            "stars": pd.Series([d.stars for d in points], dtype=object),
            "phone": [fake_phone(rng, spec.phone_area_code, phones) for _ in points],
            "synthetic": True,
        },
        geometry=_to_wgs84(inv, shapely.points(xy)) if len(xy) else [],
        crs=WGS84,
    )

    # grids
    n_g = len(layout.grid_geoms)
    seat_grid = {int(layout.compound_grid[b.compounds[0]]) for b in branches}
    comp_codes = [f"{p}-C{i + 1:04d}" for i in range(len(layout.compound_geoms))]
    grids = gpd.GeoDataFrame(
        {
            "code": [f"{p}-G{i + 1:02d}" for i in range(n_g)],
            "name": list(grid_names),
            "region_code": [layout.region_codes[r] for r in layout.grid_region],
            "kind": [GridKind.GOVERNANCE.value] * n_g,
            "workers": np.array(list(grid_workers), dtype=np.int64),
            "has_branch": np.array([i in seat_grid for i in range(n_g)], dtype=bool),
            "synthetic": np.ones(n_g, dtype=bool),
        },
        geometry=_to_wgs84(inv, layout.grid_geoms) if n_g else [],
        crs=WGS84,
    )

    compounds = gpd.GeoDataFrame(
        {
            "code": comp_codes,
            "name": layout.compound_names,
            "region_code": [layout.region_codes[r] for r in layout.compound_region],
            "households": layout.compound_hh,
            "population": layout.compound_pop,
            "synthetic": True,
        },
        geometry=_to_wgs84(inv, layout.compound_geoms),
        crs=WGS84,
    )
    b_comp = layout.building_compound
    buildings = gpd.GeoDataFrame(
        {
            "code": [f"{p}-B{i + 1:06d}" for i in range(len(b_comp))],
            "compound_code": pd.Series(
                [comp_codes[c] if c >= 0 else None for c in b_comp], dtype=object
            ),
            "households": layout.building_hh,
            "population": layout.building_pop,
            "synthetic": True,
        },
        geometry=_to_wgs84(inv, layout.building_geoms),
        crs=WGS84,
    )
    branch_df = pd.DataFrame(
        {
            "code": [f"{p}-PB{i + 1}" for i in range(len(branches))],
            "name": [b.name for b in branches],
            "region_code": [
                layout.region_codes[int(layout.compound_region[b.compounds[0]])] for b in branches
            ],
            "compound_codes": [[comp_codes[c] for c in b.compounds] for b in branches],
            "seat_compound_code": [comp_codes[b.compounds[0]] for b in branches],
            "synthetic": np.ones(len(branches), dtype=bool),
        }
    )

    net = layout.network
    node_geoms = _to_wgs84(inv, shapely.points(net.node_xy))
    node_ll = shapely.get_coordinates(node_geoms)
    edge_geoms = _to_wgs84(inv, net.geoms)
    # pin edge ends to the node coordinates bit for bit
    coords, index = shapely.get_coordinates(edge_geoms, return_index=True)
    starts = np.searchsorted(index, np.arange(len(edge_geoms)), side="left")
    stops = np.searchsorted(index, np.arange(len(edge_geoms)), side="right") - 1
    coords[starts] = node_ll[net.source]
    coords[stops] = node_ll[net.target]
    edge_geoms = shapely.linestrings(coords, indices=index)
    nodes = gpd.GeoDataFrame(
        {"node_id": np.arange(1, len(node_ll) + 1, dtype=np.int64), "synthetic": True},
        geometry=node_geoms,
        crs=WGS84,
    )
    edges = gpd.GeoDataFrame(
        {
            "source": net.source.astype(np.int64) + 1,
            "target": net.target.astype(np.int64) + 1,
            "highway": net.highway.astype(object),
            "bridge": net.bridge.astype(bool),
            "name": (net.name if net.name is not None
                     else np.full(len(net.source), None)).astype(object),
            "synthetic": True,
        },
        geometry=edge_geoms,
        crs=WGS84,
    )
    water = gpd.GeoDataFrame(
        {"name": layout.water_names, "synthetic": True},
        geometry=_to_wgs84(inv, layout.water_geoms),
        crs=WGS84,
    )
    return Sample(
        name=spec.key,
        regions=regions,
        points=pts,
        grids=grids,
        compounds=compounds,
        buildings=buildings,
        branches=branch_df,
        nodes=nodes,
        edges=edges,
        water=water,
        synthetic=True,
    )
