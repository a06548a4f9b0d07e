"""Walkable street network from an OpenStreetMap PBF extract.

:func:`network_from_pbf` reads the ways with pyrosm, keeps the ones a pedestrian may
use, and returns a node frame and an edge frame split at intersections, in the column
contract of :mod:`data.sample` (``nodes``: node_id, geometry; ``edges``: source,
target, highway, osm_id, name, geometry), both in EPSG:4326.

Which ways are walkable
-----------------------
* ``highway`` in :data:`WALKABLE_HIGHWAYS` (footway, path, pedestrian, steps,
  living_street, residential, service, unclassified, tertiary(_link),
  secondary(_link), primary(_link), track, road, cycleway).
* ``cycleway`` is **included**: in Chinese towns a 非机动车道 / greenway is in practice
  walked, and in many extracts the cycleway is the only mapped way along a street
  (Helsinki tags most of them ``foot=designated`` anyway). A cycleway explicitly
  tagged ``foot=no`` is dropped like any other way.
* ``motorway``, ``trunk`` (and their links), ``bus_guideway``, ``raceway``,
  ``corridor``/``elevator`` (indoor) and non-standard values such as ``trail`` are
  left out. Pass ``highways=`` to change the list.
* ``foot=no``/``foot=private`` removes a way; ``access=no``/``access=private`` removes
  it unless ``foot`` is ``yes``, ``designated`` or ``permissive``. ``area=yes``
  (pedestrian squares mapped as areas) is not routable and is dropped by pyrosm.
* ``oneway`` is ignored: pedestrians walk both ways, so every edge is undirected.

Splitting
---------
pyrosm's ``get_network(nodes=True)`` returns one row per *segment* (two vertices,
``u``/``v`` = OSM node ids). Segments are merged back into chains between
intersections: a node is kept as a graph node when its degree in the walkable graph
is not 2, or when the two segments meeting there belong to different ways or
highway classes (so every edge has one ``osm_id`` and one ``highway``). Self-loops
and zero-length segments are dropped, duplicate segments (two ways sharing the same
pair of nodes) are kept once (the more pedestrian class wins), and a closed chain
(a ring, or a loop hanging from one intersection) is split at its middle vertex so
that no edge starts and ends at the same node.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import NetworkImportError

__all__ = ["WALKABLE_HIGHWAYS", "network_from_pbf"]

#: highway values kept, in order of preference when two ways share a segment.
WALKABLE_HIGHWAYS: tuple[str, ...] = (
    "pedestrian",
    "footway",
    "path",
    "steps",
    "living_street",
    "residential",
    "service",
    "unclassified",
    "track",
    "road",
    "cycleway",
    "tertiary",
    "tertiary_link",
    "secondary",
    "secondary_link",
    "primary",
    "primary_link",
)

_FOOT_CLOSED = frozenset({"no", "private"})
_FOOT_OPEN = frozenset({"yes", "designated", "permissive"})
_ACCESS_CLOSED = frozenset({"no", "private"})


def _tag_values(series: pd.Series | None, n: int) -> list[set[str]]:
    """Split multi-value tags (``private;delivery``) into sets of lower-case values."""
    if series is None:
        return [set() for _ in range(n)]
    out: list[set[str]] = []
    for value in series.tolist():
        if isinstance(value, str):
            out.append({part.strip().lower() for part in value.split(";")})
        else:
            out.append(set())
    return out


def _walkable_mask(edges: pd.DataFrame, highways: Sequence[str]) -> np.ndarray:
    n = len(edges)
    hw = edges["highway"].astype("string").str.lower().fillna("")
    keep = hw.isin(list(highways)).to_numpy(dtype=bool, copy=True)
    foot = _tag_values(edges.get("foot"), n)
    access = _tag_values(edges.get("access"), n)
    for i in range(n):
        if not keep[i]:
            continue
        if foot[i] & _FOOT_CLOSED:
            keep[i] = False
        elif access[i] & _ACCESS_CLOSED and not foot[i] & _FOOT_OPEN:
            keep[i] = False
    return keep


def _read_segments(
    path: Path, bbox: tuple[float, float, float, float] | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    import pyrosm  # local import: pyrosm is heavy and only needed for imports

    try:
        with warnings.catch_warnings():
            # "Could not find any edges": reported below as NetworkImportError
            warnings.simplefilter("ignore", UserWarning)
            osm = pyrosm.OSM(str(path), bounding_box=list(bbox) if bbox is not None else None)
            nodes, edges = osm.get_network(
                network_type="all", nodes=True, extra_attributes=["foot", "access"]
            )
    except Exception as exc:  # pyrosm / protobuf raise many unrelated types
        raise NetworkImportError(
            f"无法读取 OSM PBF 文件 {str(path)!r}：{type(exc).__name__}: {exc}"
        ) from exc
    where = f"在 bbox {tuple(bbox)} 范围内" if bbox is not None else ""
    if edges is None or nodes is None or len(edges) == 0:
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} {where}没有街道")
    return nodes, edges


def network_from_pbf(
    path: str | os.PathLike[str],
    *,
    bbox: tuple[float, float, float, float] | None = None,
    highways: Sequence[str] = WALKABLE_HIGHWAYS,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the walkable street network of an OSM PBF extract.

    Parameters
    ----------
    path
        Path of a ``.osm.pbf`` file.
    bbox
        Optional ``(min_lng, min_lat, max_lng, max_lat)`` in EPSG:4326 degrees; only ways
        pyrosm finds inside it are read (ways crossing the border keep their segments
        that touch the box).
    highways
        ``highway`` values considered walkable (see the module docstring).

    Returns
    -------
    nodes, edges
        ``nodes``: ``node_id`` (int64, OSM node id), ``geometry`` (Point, EPSG:4326).
        ``edges``: ``source``, ``target`` (node ids), ``highway`` (str), ``osm_id``
        (int64, OSM way id), ``name`` (the way's name or None), ``geometry``
        (LineString from source to target, EPSG:4326). Edges are undirected for
        walking; split at intersections.

    Raises
    ------
    NetworkImportError
        The file is missing, unreadable or truncated, or holds no walkable way (inside
        ``bbox``). The message names the file.
    """
    path = Path(path)
    where = f"在 bbox {tuple(bbox)} 范围内" if bbox is not None else ""
    if not path.is_file():
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} 不存在")
    if bbox is not None:
        if len(bbox) != 4 or not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
            raise NetworkImportError(
                f"{str(path)!r} 的 bbox {bbox!r} 不正确："
                "应为 (min_lng, min_lat, max_lng, max_lat)"
            )
    raw_nodes, raw = _read_segments(path, bbox)

    raw = raw[_walkable_mask(raw, highways)]
    if len(raw) == 0:
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} {where}没有可步行的道路")

    node_ids = raw_nodes["id"].to_numpy(dtype=np.int64)
    lon = raw_nodes["lon"].to_numpy(dtype=np.float64)
    lat = raw_nodes["lat"].to_numpy(dtype=np.float64)
    order = np.argsort(node_ids, kind="stable")
    node_ids, lon, lat = node_ids[order], lon[order], lat[order]

    u = raw["u"].to_numpy(dtype=np.int64)
    v = raw["v"].to_numpy(dtype=np.int64)
    ui = np.searchsorted(node_ids, u)
    vi = np.searchsorted(node_ids, v)
    ok = (ui < len(node_ids)) & (vi < len(node_ids))
    ok[ok] &= (node_ids[ui[ok]] == u[ok]) & (node_ids[vi[ok]] == v[ok])
    # self-loops and zero-length segments (two OSM nodes on the same spot)
    ok &= ui != vi
    ok[ok] &= (lon[ui[ok]] != lon[vi[ok]]) | (lat[ui[ok]] != lat[vi[ok]])
    hw = raw["highway"].astype(str).str.lower().to_numpy()[ok]
    way = raw["id"].to_numpy(dtype=np.int64)[ok]
    # the street's name (OSM ``name``), drawn along it on the offline basemap
    names = (raw["name"] if "name" in raw.columns else pd.Series([None] * len(raw)))
    name = names.astype(object).where(names.notna(), None).to_numpy(dtype=object)[ok]
    ui, vi = ui[ok], vi[ok]
    if len(ui) == 0:
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} {where}没有可步行的道路")

    # duplicate segments: keep one per unordered node pair, the most pedestrian class
    rank = {h: i for i, h in enumerate(highways)}
    hw_rank = np.array([rank.get(h, len(rank)) for h in hw])
    lo, hi = np.minimum(ui, vi), np.maximum(ui, vi)
    order = np.lexsort((way, hw_rank, hi, lo))
    lo_s, hi_s = lo[order], hi[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
    keep = order[first]
    ui, vi, hw, way, name = ui[keep], vi[keep], hw[keep], way[keep], name[keep]

    chains, chain_seg = _merge_chains(ui, vi, way, hw, len(node_ids))
    if not chains:
        raise NetworkImportError(f"OSM PBF 文件 {str(path)!r} {where}没有可步行的道路")

    flat = np.concatenate(chains)
    sizes = np.fromiter((len(c) for c in chains), dtype=np.int64, count=len(chains))
    line_idx = np.repeat(np.arange(len(chains)), sizes)
    geoms = shapely.linestrings(np.column_stack([lon[flat], lat[flat]]), indices=line_idx)
    src = np.fromiter((c[0] for c in chains), dtype=np.int64, count=len(chains))
    dst = np.fromiter((c[-1] for c in chains), dtype=np.int64, count=len(chains))
    edges = gpd.GeoDataFrame(
        {
            "source": node_ids[src],
            "target": node_ids[dst],
            "highway": pd.Series(hw[chain_seg], dtype=object),
            "osm_id": way[chain_seg],
            "name": pd.Series(name[chain_seg], dtype=object),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    used = np.unique(np.concatenate([src, dst]))
    nodes = gpd.GeoDataFrame(
        {"node_id": node_ids[used]},
        geometry=shapely.points(lon[used], lat[used]),
        crs="EPSG:4326",
    )
    return nodes, edges


def _merge_chains(
    ui: np.ndarray, vi: np.ndarray, way: np.ndarray, hw: np.ndarray, n_nodes: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Merge two-vertex segments into chains between intersections.

    Returns the chains as arrays of node indices (source first) and, per chain, the
    index of one of its segments (all segments of a chain share way id and class).
    """
    n_seg = len(ui)
    ends = np.concatenate([ui, vi])
    segs = np.concatenate([np.arange(n_seg), np.arange(n_seg)])
    order = np.argsort(ends, kind="stable")
    inc_seg = segs[order]
    offsets = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n_nodes), out=offsets[1:])
    deg = np.diff(offsets)

    kept = deg != 2
    two = np.flatnonzero(deg == 2)
    s1, s2 = inc_seg[offsets[two]], inc_seg[offsets[two] + 1]
    kept[two] = (way[s1] != way[s2]) | (hw[s1] != hw[s2])

    ui_l, vi_l = ui.tolist(), vi.tolist()
    inc_l, off_l, kept_l = inc_seg.tolist(), offsets.tolist(), kept.tolist()
    visited = [False] * n_seg
    chains: list[list[int]] = []
    chain_seg: list[int] = []

    def walk(start: int, seg: int) -> list[int]:
        seq = [start]
        cur = start
        while True:
            visited[seg] = True
            nxt = vi_l[seg] if ui_l[seg] == cur else ui_l[seg]
            seq.append(nxt)
            if kept_l[nxt] or nxt == start:
                return seq
            a, b = inc_l[off_l[nxt]], inc_l[off_l[nxt] + 1]
            seg = b if a == seg else a
            cur = nxt

    def emit(seq: list[int], seg: int) -> None:
        if seq[0] == seq[-1]:  # closed chain: split at the middle vertex
            mid = len(seq) // 2
            chains.extend([seq[: mid + 1], seq[mid:]])
            chain_seg.extend([seg, seg])
        else:
            chains.append(seq)
            chain_seg.append(seg)

    for node in np.flatnonzero(kept & (deg > 0)).tolist():
        for k in range(off_l[node], off_l[node + 1]):
            seg = inc_l[k]
            if not visited[seg]:
                emit(walk(node, seg), seg)
    # rings made only of degree-2 nodes of one way
    for seg in range(n_seg):
        if not visited[seg]:
            emit(walk(ui_l[seg], seg), seg)
    return [np.asarray(c, dtype=np.int64) for c in chains], np.asarray(chain_seg, dtype=np.int64)
