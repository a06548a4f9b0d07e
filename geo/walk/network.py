"""A walkable street network in a metric CRS, laid out for fast path and polygon kernels.

:class:`Network` is built from the node/edge frames of :mod:`data.sample` or
:func:`geo.io.osm.network_from_pbf` (EPSG:4326) and projects them to a metric CRS
(by default the UTM zone of the extent). Every length and coordinate it holds is in
metres in that CRS.

Array layout (``N`` nodes, ``E`` edges, ``V`` edge vertices in total):

* ``x``, ``y`` (N,) float64 — node coordinates;
* ``src``, ``dst`` (E,) int64 — edge end node *indices* (positions in ``node_ids``);
  every edge is walkable in both directions;
* ``length`` (E,) float64 — edge length from the projected polyline;
* ``vertex_offsets`` (E+1,) int64, ``vx``, ``vy``, ``vcum`` (V,) float64 — the
  projected polyline of edge ``e`` is ``vx[o[e]:o[e+1]]``, ``vy[...]``, running from
  ``src[e]`` to ``dst[e]``; ``vcum`` is the distance along the edge at each vertex
  (0 at the first vertex, ``length[e]`` at the last);
* ``adjacency`` — ``scipy.sparse`` CSR (N, N), symmetric, the shortest edge length
  between each pair of adjacent nodes;
* ``inc_offsets`` (N+1,), ``inc_edges`` (2E,) int64 — the edges at each node (CSR);
* ``tree`` — ``shapely.STRtree`` over the projected edge polylines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

__all__ = ["Network", "Snap"]


@dataclass(frozen=True, slots=True)
class Snap:
    """A point snapped to the nearest point of the nearest edge.

    Attributes
    ----------
    edge
        Edge index (position in the network's edge arrays).
    fraction
        Position along the edge from its source, 0..1.
    to_source_m, to_target_m
        Walking distance along the edge from the snapped point to the edge's source /
        target node, metres (sum = edge length).
    off_network_m
        Straight-line distance from the query point to the snapped point, metres; it
        counts against a walking budget.
    x, y
        Snapped point on the edge, metres, network CRS.
    """

    edge: int
    fraction: float
    to_source_m: float
    to_target_m: float
    off_network_m: float
    x: float
    y: float


@dataclass(eq=False)
class Network:
    """Walkable network projected to a metric CRS (see the module docstring)."""

    crs: pyproj.CRS
    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    length: np.ndarray
    vertex_offsets: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vcum: np.ndarray
    adjacency: sp.csr_matrix
    inc_offsets: np.ndarray
    inc_edges: np.ndarray
    edge_geoms: np.ndarray
    tree: shapely.STRtree
    edge_rows: np.ndarray
    highway: np.ndarray
    _to_wgs84: pyproj.Transformer = field(repr=False)
    _from_wgs84: pyproj.Transformer = field(repr=False)
    _components: np.ndarray | None = field(default=None, repr=False)
    #: per-network caches of derived tables (e.g. geo.isochrones stamp tables)
    cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_frames(
        cls,
        nodes: gpd.GeoDataFrame,
        edges: gpd.GeoDataFrame,
        *,
        crs: pyproj.CRS | str | int | None = None,
    ) -> Network:
        """Build a network from node and edge frames.

        Parameters
        ----------
        nodes
            ``node_id`` (int) and Point ``geometry``; any CRS (EPSG:4326 assumed when
            unset).
        edges
            ``source``, ``target`` (node ids) and LineString ``geometry``; optional
            ``highway``. A geometry drawn from target to source is reversed.
        crs
            Metric CRS to work in. Default: ``edges`` CRS when it is projected, else
            the UTM zone of the extent (``GeoDataFrame.estimate_utm_crs``).

        Notes
        -----
        Self-loops and zero-length edges are dropped (they never shorten a walk);
        ``edge_rows`` maps each kept edge to its row position in ``edges``. Parallel
        edges are kept as edges (each is covered by a circle) while the adjacency
        matrix holds the shortest of them.

        Raises
        ------
        ValueError
            Empty frames, or an edge naming a node id absent from ``nodes``.
        """
        if len(nodes) == 0 or len(edges) == 0:
            raise ValueError("cannot build a network from empty node or edge frames")
        nodes = nodes if nodes.crs is not None else nodes.set_crs(4326)
        edges = edges if edges.crs is not None else edges.set_crs(4326)
        if crs is None:
            crs = edges.crs if edges.crs.is_projected else edges.estimate_utm_crs()
        crs = pyproj.CRS.from_user_input(crs)
        if not crs.is_projected:
            raise ValueError(f"network CRS must be metric (projected), got {crs.name}")
        nodes_p = nodes.to_crs(crs)
        edges_p = edges.to_crs(crs)

        node_ids = nodes_p["node_id"].to_numpy(dtype=np.int64)
        index = pd.Index(node_ids)
        if not index.is_unique:
            raise ValueError("node_id values are not unique")
        src = index.get_indexer(edges_p["source"].to_numpy(dtype=np.int64))
        dst = index.get_indexer(edges_p["target"].to_numpy(dtype=np.int64))
        missing = (src < 0) | (dst < 0)
        if missing.any():
            bad = edges_p.loc[missing, ["source", "target"]].head(5).to_numpy().tolist()
            raise ValueError(f"{int(missing.sum())} edges name unknown node ids, e.g. {bad}")
        nxy = shapely.get_coordinates(nodes_p.geometry.to_numpy())
        geoms = np.asarray(edges_p.geometry.to_numpy(), dtype=object)

        # orient each polyline from source to target
        first = shapely.get_coordinates(shapely.get_point(geoms, 0))
        last = shapely.get_coordinates(shapely.get_point(geoms, -1))
        d_fwd = np.hypot(*(first - nxy[src]).T) + np.hypot(*(last - nxy[dst]).T)
        d_rev = np.hypot(*(first - nxy[dst]).T) + np.hypot(*(last - nxy[src]).T)
        flip = d_rev < d_fwd
        if flip.any():
            geoms = geoms.copy()
            geoms[flip] = shapely.reverse(geoms[flip])

        # repeated consecutive vertices carry no length and would break the
        # vertex-per-segment layout the kernels rely on
        geoms = shapely.remove_repeated_points(geoms, tolerance=0.0)
        lengths = shapely.length(geoms)
        keep = (src != dst) & (lengths > 0)
        rows = np.flatnonzero(keep)
        geoms, src, dst = geoms[keep], src[keep].astype(np.int64), dst[keep].astype(np.int64)
        if len(geoms) == 0:
            raise ValueError("no edge of positive length between two distinct nodes")

        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        counts = np.bincount(owner, minlength=len(geoms))
        offsets = np.zeros(len(geoms) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        vx = np.ascontiguousarray(coords[:, 0])
        vy = np.ascontiguousarray(coords[:, 1])
        seg = np.hypot(np.diff(vx), np.diff(vy))
        seg[offsets[1:-1] - 1] = 0.0  # no segment across two edges
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        vcum = cum - np.repeat(cum[offsets[:-1]], counts)
        length = vcum[offsets[1:] - 1].copy()

        adjacency = _adjacency(src, dst, length, len(node_ids))
        ends = np.concatenate([src, dst])
        inc_edges = np.concatenate([np.arange(len(src)), np.arange(len(src))])[
            np.argsort(ends, kind="stable")]
        inc_offsets = np.zeros(len(node_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=len(node_ids)), out=inc_offsets[1:])
        highway = (
            edges_p["highway"].to_numpy(dtype=object)[rows]
            if "highway" in edges_p
            else np.full(len(rows), None, dtype=object)
        )
        return cls(
            crs=crs,
            node_ids=node_ids,
            x=np.ascontiguousarray(nxy[:, 0]),
            y=np.ascontiguousarray(nxy[:, 1]),
            src=src,
            dst=dst,
            length=length,
            vertex_offsets=offsets,
            vx=vx,
            vy=vy,
            vcum=vcum,
            adjacency=adjacency,
            inc_offsets=inc_offsets,
            inc_edges=inc_edges.astype(np.int64),
            edge_geoms=geoms,
            tree=shapely.STRtree(geoms),
            edge_rows=rows,
            highway=highway,
            _to_wgs84=pyproj.Transformer.from_crs(crs, 4326, always_xy=True),
            _from_wgs84=pyproj.Transformer.from_crs(4326, crs, always_xy=True),
        )

    # ------------------------------------------------------------- properties
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.src)

    # ------------------------------------------------------------------- CRS
    def project(self, lng: float | np.ndarray, lat: float | np.ndarray) -> tuple:
        """EPSG:4326 longitude/latitude (degrees) → network CRS x/y (metres)."""
        return self._from_wgs84.transform(lng, lat)

    def unproject(self, x: float | np.ndarray, y: float | np.ndarray) -> tuple:
        """Network CRS x/y (metres) → EPSG:4326 longitude/latitude (degrees)."""
        return self._to_wgs84.transform(x, y)

    def to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        """Transform a shapely geometry from the network CRS to EPSG:4326 (lng, lat)."""
        return shapely.transform(geom, lambda xy: np.column_stack(self.unproject(*xy.T)))

    # ------------------------------------------------------------------ snap
    def snap(self, x: float, y: float, *, max_snap_m: float = 300.0) -> Snap | None:
        """Snap a point to the nearest point on the nearest edge.

        Parameters
        ----------
        x, y
            Point in the network CRS, metres (see :meth:`project` for lng/lat).
        max_snap_m
            Largest accepted off-network distance, metres.

        Returns
        -------
        Snap or None
            ``None`` when no edge lies within ``max_snap_m``. Ties go to the lowest
            edge index, so equal points always give equal snaps.
        """
        # one point: the same steps as snap_many on scalars (a third of the cost)
        pt = shapely.Point(x, y)
        hits, dist = self.tree.query_nearest(pt, max_distance=max_snap_m,
                                             return_distance=True, all_matches=True)
        if len(hits) == 0:
            return None
        first = int(np.argmin(hits))  # all hits are equidistant: the lowest edge index
        e = int(hits[first])
        geom = self.edge_geoms[e]
        length = float(self.length[e])
        s = min(max(float(shapely.line_locate_point(geom, pt)), 0.0), length)
        on = shapely.line_interpolate_point(geom, s)
        return Snap(edge=e, fraction=s / length, to_source_m=s, to_target_m=length - s,
                    off_network_m=float(dist[first]), x=on.x, y=on.y)

    def _nearest_edges(self, x: np.ndarray, y: np.ndarray, max_snap_m: float) -> tuple:
        """For each point with an edge within ``max_snap_m``: its index, the
        nearest edge (ties to the lowest index), the distance, the metres along
        the edge, and the points (shapely)."""
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y, dtype=np.float64))
        pts = shapely.points(x, y)
        (qi, ei), dist = self.tree.query_nearest(
            pts, max_distance=max_snap_m, return_distance=True, all_matches=True
        )
        if len(qi):
            # lowest edge index per query point among equidistant matches
            order = np.lexsort((ei, qi))
            qi, ei, dist = qi[order], ei[order], dist[order]
            first = np.ones(len(qi), dtype=bool)
            first[1:] = qi[1:] != qi[:-1]
            qi, ei, dist = qi[first], ei[first], dist[first]
        along = np.clip(shapely.line_locate_point(self.edge_geoms[ei], pts[qi]), 0.0,
                        self.length[ei]) if len(qi) else np.zeros(0)
        return qi, ei, dist, along, pts

    def snap_arrays(self, x: np.ndarray, y: np.ndarray, *, max_snap_m: float = 300.0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`snap_many` as arrays, without a Python object per point: edge
        (-1 where none is within ``max_snap_m``), metres from the edge's source
        and to its target, off-network metres (inf where not snapped)."""
        n = len(np.atleast_1d(x))
        edge = np.full(n, -1, dtype=np.int64)
        to_s, to_t, off = np.zeros(n), np.zeros(n), np.full(n, np.inf)
        qi, ei, dist, along, _ = self._nearest_edges(x, y, max_snap_m)
        edge[qi], to_s[qi], to_t[qi], off[qi] = ei, along, self.length[ei] - along, dist
        return edge, to_s, to_t, off

    def snap_many(
        self, x: np.ndarray, y: np.ndarray, *, max_snap_m: float = 300.0
    ) -> list[Snap | None]:
        """Vectorised :meth:`snap` for arrays of points (metres, network CRS)."""
        qi, ei, dist, along, _ = self._nearest_edges(x, y, max_snap_m)
        out: list[Snap | None] = [None] * len(np.atleast_1d(x))
        if len(qi) == 0:
            return out
        geoms = self.edge_geoms[ei]
        lengths = self.length[ei]
        on = shapely.get_coordinates(shapely.line_interpolate_point(geoms, along))
        for k in range(len(qi)):
            length = float(lengths[k])
            s = float(along[k])
            out[int(qi[k])] = Snap(
                edge=int(ei[k]),
                fraction=s / length,
                to_source_m=s,
                to_target_m=length - s,
                off_network_m=float(dist[k]),
                x=float(on[k, 0]),
                y=float(on[k, 1]),
            )
        return out

    def node_snap(self, node: int) -> Snap:
        """A :class:`Snap` sitting exactly on node index ``node`` (off-network 0 m)."""
        hits = np.flatnonzero(self.src == node)
        if len(hits):
            e = int(hits[0])
            return Snap(e, 0.0, 0.0, float(self.length[e]), 0.0, float(self.x[node]),
                        float(self.y[node]))
        hits = np.flatnonzero(self.dst == node)
        if len(hits) == 0:
            raise ValueError(f"node index {node} has no edge")
        e = int(hits[0])
        return Snap(e, 1.0, float(self.length[e]), 0.0, 0.0, float(self.x[node]),
                    float(self.y[node]))

    # ------------------------------------------------------------ components
    def components(self) -> np.ndarray:
        """Connected-component label per node (int, 0..k-1; isolated nodes get their own)."""
        if self._components is None:
            _, labels = connected_components(self.adjacency, directed=False)
            self._components = labels
        return self._components

    def largest_component(self) -> np.ndarray:
        """Node indices of the largest connected component."""
        labels = self.components()
        return np.flatnonzero(labels == np.bincount(labels).argmax())

    def edge_components(self) -> np.ndarray:
        """Connected-component label per edge (that of its source node)."""
        return self.components()[self.src]


def _adjacency(src: np.ndarray, dst: np.ndarray, length: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric CSR adjacency keeping the shortest of parallel edges.

    Duplicates are removed before building the matrix because scipy *sums* duplicate
    entries.
    """
    rows = np.concatenate([src, dst])
    cols = np.concatenate([dst, src])
    w = np.concatenate([length, length])
    order = np.lexsort((w, cols, rows))
    rows, cols, w = rows[order], cols[order], w[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((w[first], (rows[first], cols[first])), shape=(n, n))
