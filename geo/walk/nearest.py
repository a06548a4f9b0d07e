"""Nearest targets by walking: the ``k`` service points nearest to a start.

Targets are prepared once (:func:`prepare_targets`: indexed by the nodes of
their edges, and for a town a nodes × targets walk table from one multi-source
Dijkstra); each search then reads two rows of the table, or runs one
early-stopping Dijkstra (a numba kernel) when the table would be too large.
Distances are metres in the network's metric CRS, off-network walks included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geo.walk._kernels import _nearest_search
from geo.walk.network import Network, Snap
from geo.walk.reach import node_distances

__all__ = ["Targets", "nearest_by_walk", "prepare_targets"]


@dataclass(frozen=True, eq=False)
class Targets:
    """Snapped targets prepared once for many :func:`nearest_by_walk` searches.

    ``edge``, ``to_source``, ``to_target`` and ``off`` are per target; ``node_ptr``
    (CSR over the network's nodes), ``node_target`` and ``node_along`` list, for
    each node, the targets on its edges and the metres along the edge from it.
    ``table``, when built, holds the walk from every node to every target's
    snapped point (nodes × targets, metres; inf where unreachable).
    """

    edge: np.ndarray
    to_source: np.ndarray
    to_target: np.ndarray
    off: np.ndarray
    node_ptr: np.ndarray
    node_target: np.ndarray
    node_along: np.ndarray
    table: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.edge)


def prepare_targets(network: Network, targets: Sequence[Snap], *,
                    table_max_cells: int = 0,
                    reuse: tuple[np.ndarray, np.ndarray] | None = None) -> Targets:
    """Index snapped targets by the nodes of their edges (see :class:`Targets`).

    With ``nodes × targets ≤ table_max_cells``, also walk once from every
    target to every node (SciPy's multi-source ``dijkstra``; the network is
    undirected, so that is the walk from the node to the target): each search
    then reads two rows instead of walking. A town (15,000 nodes, 200 points:
    23 MB) takes about a third of a second.

    ``reuse`` = ``(table, columns)`` takes the walks of targets already walked
    from an earlier table of the same network: ``columns[i]`` is the column of
    target ``i`` in ``table``, or -1 to walk it now (an update after a few
    points moved walks only those).
    """
    n = len(targets)
    te = np.fromiter((t.edge for t in targets), dtype=np.int64, count=n)
    ts = np.fromiter((t.to_source_m for t in targets), dtype=np.float64, count=n)
    tt = np.fromiter((t.to_target_m for t in targets), dtype=np.float64, count=n)
    to = np.fromiter((t.off_network_m for t in targets), dtype=np.float64, count=n)
    nodes = np.concatenate([network.src[te], network.dst[te]])
    ids = np.concatenate([np.arange(n), np.arange(n)]).astype(np.int64)
    along = np.concatenate([ts, tt])
    order = np.argsort(nodes, kind="stable")
    ptr = np.zeros(network.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(nodes, minlength=network.n_nodes), out=ptr[1:])
    table = None
    if n and network.n_nodes * n <= table_max_cells:
        table = np.empty((network.n_nodes, n))
        todo = np.arange(n)
        if reuse is not None and reuse[0] is not None:
            old, columns = reuse
            columns = np.asarray(columns, dtype=np.int64)
            have = np.flatnonzero(columns >= 0)
            if len(have):
                table[:, have] = old[:, columns[have]]
            todo = np.flatnonzero(columns < 0)
        on_street = [dataclasses.replace(targets[i], off_network_m=0.0) for i in todo]
        for k0, dist in node_distances(network, on_street, np.inf):
            table[:, todo[k0 : k0 + dist.shape[0]]] = dist.T
    return Targets(te, ts, tt, to, ptr, ids[order], np.ascontiguousarray(along[order]),
                   table)


def nearest_by_walk(
    network: Network, snap: Snap, targets: Sequence[Snap] | Targets, k: int, *,
    max_m: float | None = None, allowed: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` targets nearest to ``snap`` by walking.

    Parameters
    ----------
    network
        The network.
    snap
        Snapped start.
    targets
        Snapped targets, or the same prepared once with :func:`prepare_targets`
        (cheaper when many starts search one set of targets).
    k
        How many to return.
    max_m
        Ignore targets farther than this walking distance, metres.
    allowed
        Boolean mask over the targets: only these are searched (a filter by
        kind, service or opening hours); the others are never returned.

    Returns
    -------
    list of (target index, metres)
        Sorted by distance, ties by index; distances include both off-network walks.
        Targets on the start's own edge are also reached directly along that edge.

    Notes
    -----
    One Dijkstra from the two ends of the start's edge that stops as soon as the
    next node is farther than the ``k``-th best target offered so far (walking
    never gets shorter, so nothing later can enter the top ``k``). Hand-written
    in numba because SciPy's ``dijkstra`` cannot stop at the ``k``-th target: it
    settles every node within its ``limit`` and needs a copy of the graph with
    a virtual start node per call. Targets prepared with a ``table`` need no
    search at all: two rows of the table give every walk.
    """
    if k <= 0 or len(targets) == 0:
        return []
    prepared = targets if isinstance(targets, Targets) else prepare_targets(network, targets)
    limit = np.inf if max_m is None else float(max_m)
    # a target left out by the filter is infinitely far off the street
    off = prepared.off if allowed is None else np.where(allowed, prepared.off, np.inf)
    # the start's own edge: the target is also reached directly along it
    best = np.full(len(prepared), np.inf)
    same = np.flatnonzero(prepared.edge == snap.edge)
    if len(same):
        best[same] = (snap.off_network_m + np.abs(prepared.to_source[same] - snap.to_source_m)
                      + off[same])
    e = snap.edge
    if prepared.table is not None:
        # read the walks from both ends of the start's edge
        walk = np.minimum((snap.off_network_m + snap.to_source_m)
                          + prepared.table[network.src[e]],
                          (snap.off_network_m + snap.to_target_m)
                          + prepared.table[network.dst[e]]) + off
        np.minimum(best, walk, out=best)
        idx = np.flatnonzero(np.isfinite(best) & (best <= limit))
        order = np.lexsort((idx, best[idx]))[:k]
        return [(int(idx[o]), float(best[idx[o]])) for o in order]
    adj = network.adjacency
    seeds = np.array([network.src[e], network.dst[e]], dtype=np.int64)
    seed_d = np.array([snap.off_network_m + snap.to_source_m,
                       snap.off_network_m + snap.to_target_m])
    _nearest_search(adj.indptr, adj.indices, adj.data, network.n_nodes, seeds, seed_d,
                    prepared.node_ptr, prepared.node_target, prepared.node_along,
                    off, best, k, limit)
    idx = np.flatnonzero(np.isfinite(best) & (best <= limit))
    order = np.lexsort((idx, best[idx]))[:k]
    return [(int(idx[o]), float(best[idx[o]])) for o in order]
