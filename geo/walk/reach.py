"""Path search on the walking network: where a walk of a budget gets to.

:func:`reach` runs a budget-limited Dijkstra (``scipy.sparse.csgraph.dijkstra``)
from a virtual start node joined to the snapped edge's two end nodes, then cuts
every edge into its reached pieces — including partial edges at the frontier
and the start edge walked directly from the snap point.  :func:`node_distances`
is the multi-source search both the service-circle polygons
(:mod:`geo.isochrones`) and the nearest-by-walk tables (:mod:`geo.walk.nearest`)
are built on.  All geometry is in the network's metric CRS (metres).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from geo.profiles import WalkBudget
from geo.walk._kernels import _edge_pieces, _piece_coords
from geo.walk.network import Network, Snap

__all__ = ["Reach", "node_distances", "reach", "reach_many", "split_budget"]

# Dijkstra answers are dense (sources x nodes) float64: cap one call at ~32 MB.
_DIJKSTRA_CELLS = 4_000_000


@dataclass(eq=False)
class Reach:
    """Where a walk of ``budget_m`` metres from ``start`` gets to.

    Attributes
    ----------
    network
        The network walked on.
    start
        The snapped start.
    budget_m
        Walking budget, metres (the off-network walk to the snap point included).
    node_dist
        (N,) walking distance to each node, metres; ``inf`` when beyond the budget.
    piece_edge, piece_from_m, piece_to_m
        (P,) reached pieces: edge index and the interval ``[from, to]`` along the
        edge, metres from the edge's source. Pieces have positive length; one edge
        may carry two pieces (reached from both ends, not meeting).
    """

    network: Network = field(repr=False)
    start: Snap
    budget_m: float
    node_dist: np.ndarray = field(repr=False)
    piece_edge: np.ndarray = field(repr=False)
    piece_from_m: np.ndarray = field(repr=False)
    piece_to_m: np.ndarray = field(repr=False)

    @property
    def reached_nodes(self) -> np.ndarray:
        """Indices of nodes reached within the budget (distance ≤ budget)."""
        return np.flatnonzero(self.node_dist <= self.budget_m)

    @property
    def reached_length_m(self) -> float:
        """Total length of street reached, metres."""
        return float(np.sum(self.piece_to_m - self.piece_from_m))

    @property
    def fully_reached_edges(self) -> np.ndarray:
        """Indices of edges covered over their whole length."""
        full = (self.piece_from_m <= 0.0) & (
            self.piece_to_m >= self.network.length[self.piece_edge]
        )
        return self.piece_edge[full]

    def pieces(self) -> np.ndarray:
        """Reached pieces as LineStrings (network CRS, metres), aligned with ``piece_edge``."""
        net = self.network
        cx, cy, off = _piece_coords(
            self.piece_edge, self.piece_from_m, self.piece_to_m, len(self.piece_edge),
            net.vertex_offsets, net.vx, net.vy, net.vcum,
        )
        return _linestrings(cx, cy, off)


def split_budget(budget: float | WalkBudget) -> tuple[float, dict]:
    if isinstance(budget, WalkBudget):
        meta = {"profile": budget.profile, "minutes": budget.minutes,
                "speed_kmh": budget.speed_kmh}
        value = budget.metres
    else:
        meta = {}
        value = float(budget)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(f"walking budget must be a positive number of metres, got {value!r}")
    return value, meta


def _virtual_graph(network: Network, snaps: Sequence[Snap]) -> sp.csr_matrix:
    """The adjacency plus one virtual source node per snap (directed, out-edges only).

    Virtual node ``N + k`` has an edge to the source node of ``snaps[k].edge`` weighted
    by ``off_network + to_source`` and one to the target node weighted by
    ``off_network + to_target``. Virtual nodes have no incoming edge, so no path passes
    through one: a single Dijkstra call serves every snap.
    """
    adj = network.adjacency
    n = adj.shape[0]
    k = len(snaps)
    edges = np.fromiter((s.edge for s in snaps), dtype=np.int64, count=k)
    off = np.fromiter((s.off_network_m for s in snaps), dtype=np.float64, count=k)
    to_s = np.fromiter((s.to_source_m for s in snaps), dtype=np.float64, count=k)
    to_t = np.fromiter((s.to_target_m for s in snaps), dtype=np.float64, count=k)
    v_idx = np.column_stack([network.src[edges], network.dst[edges]]).ravel()
    v_w = np.column_stack([off + to_s, off + to_t]).ravel()
    indptr = np.concatenate([adj.indptr, adj.indptr[-1] + 2 * np.arange(1, k + 1)])
    indices = np.concatenate([adj.indices, v_idx]).astype(adj.indices.dtype, copy=False)
    data = np.concatenate([adj.data, v_w])
    return sp.csr_matrix((data, indices, indptr), shape=(n + k, n + k))


def node_distances(network: Network, snaps: Sequence[Snap], limit: float):
    """Yield ``(k0, D)`` blocks: ``D[i]`` = node distances (metres) from ``snaps[k0 + i]``."""
    n = network.n_nodes
    chunk = max(1, _DIJKSTRA_CELLS // (n + 1))
    for k0 in range(0, len(snaps), chunk):
        block = snaps[k0 : k0 + chunk]
        graph = _virtual_graph(network, block)
        dist = dijkstra(
            graph, directed=True, indices=np.arange(n, n + len(block)), limit=limit
        )
        yield k0, np.ascontiguousarray(dist[:, :n])


def reach(network: Network, snap: Snap, budget_m: float | WalkBudget) -> Reach:
    """Walk ``budget_m`` metres from a snapped start.

    Parameters
    ----------
    network
        The network.
    snap
        Start point snapped with :meth:`Network.snap`.
    budget_m
        Walking budget in metres, or a :class:`geo.profiles.WalkBudget`. The
        off-network distance of the snap is spent first.

    Returns
    -------
    Reach
        Node distances and reached edge pieces (partial frontier edges included).
    """
    return reach_many(network, [snap], budget_m)[0]


def reach_many(
    network: Network, snaps: Sequence[Snap], budget_m: float | WalkBudget
) -> list[Reach]:
    """:func:`reach` for many starts with one multi-source Dijkstra per block."""
    budget, _ = split_budget(budget_m)
    out: list[Reach] = []
    for k0, dist in node_distances(network, snaps, budget):
        for i in range(dist.shape[0]):
            s = snaps[k0 + i]
            row = np.ascontiguousarray(dist[i])
            pe, pa, pb, n = _edge_pieces(
                row, budget, s.edge, s.to_source_m, budget - s.off_network_m,
                network.src, network.dst, network.length, network.inc_offsets,
                network.inc_edges,
            )
            order = np.lexsort((pa[:n], pe[:n]))
            out.append(Reach(network, s, budget, row, pe[order], pa[order], pb[order]))
    return out


def _linestrings(cx: np.ndarray, cy: np.ndarray, off: np.ndarray) -> np.ndarray:
    counts = np.diff(off)
    idx = np.repeat(np.arange(len(counts)), counts)
    return shapely.linestrings(np.column_stack([cx[: off[-1]], cy[: off[-1]]]), indices=idx)
