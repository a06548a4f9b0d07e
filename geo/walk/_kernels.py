"""numba kernels of the walking engine: cutting edges into reached pieces at
the frontier of a budget, their coordinates, and the early-stopping nearest
search.

Hand-written because no library does these per-walk steps fast enough:
cutting thousands of edges at the frontier of a Dijkstra, and a Dijkstra
that stops at the ``k``-th target (SciPy's settles every node within its
limit). Compiled once (``cache=True``: on-disk, next to this module).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _grow(a, n):
    b = np.empty(n, a.dtype)
    b[: len(a)] = a
    return b


@njit(cache=True, inline="always")
def _edge_intervals(e, dist, budget, e0, s0, rem0, src, dst, length, ia, ib, pe, pa, pb, n):
    """Append the merged reached intervals of edge ``e`` to ``pe``/``pa``/``pb``."""
    du = dist[src[e]]
    dv = dist[dst[e]]
    length_e = length[e]
    m = 0
    if du <= budget:
        ia[m] = 0.0
        ib[m] = min(length_e, budget - du)
        m += 1
    if dv <= budget:
        ia[m] = max(0.0, length_e - (budget - dv))
        ib[m] = length_e
        m += 1
    if e == e0 and rem0 > 0.0:
        ia[m] = max(0.0, s0 - rem0)
        ib[m] = min(length_e, s0 + rem0)
        m += 1
    if m == 0:
        return n
    # insertion sort by start (m <= 3), then merge
    for i in range(1, m):
        a = ia[i]
        b = ib[i]
        j = i - 1
        while j >= 0 and ia[j] > a:
            ia[j + 1] = ia[j]
            ib[j + 1] = ib[j]
            j -= 1
        ia[j + 1] = a
        ib[j + 1] = b
    ca = ia[0]
    cb = ib[0]
    for i in range(1, m + 1):
        if i < m and ia[i] <= cb:
            cb = max(cb, ib[i])
            continue
        if cb > ca:
            pe[n] = e
            pa[n] = ca
            pb[n] = cb
            n += 1
        if i < m:
            ca = ia[i]
            cb = ib[i]
    return n


@njit(cache=True)
def _edge_pieces(dist, budget, e0, s0, rem0, src, dst, length, inc_off, inc_edge):
    """Reached intervals ``[a, b]`` (metres from source) of the edges.

    From source u: ``[0, budget - d(u)]``; from target v: ``[L - (budget - d(v)), L]``;
    on the start edge ``e0`` also ``[s0 - rem0, s0 + rem0]`` (``rem0`` = budget left
    after the off-network walk). Clipped to ``[0, L]``, merged, zero-length dropped.
    Only the start edge and the edges at reached nodes are visited (``inc_off`` /
    ``inc_edge``: node → incident edges), so the cost follows the circle, not the
    network. Pieces come start edge first, then by node.
    """
    cap = 2 * len(src) + 2
    pe = np.empty(cap, np.int64)
    pa = np.empty(cap, np.float64)
    pb = np.empty(cap, np.float64)
    ia = np.empty(3, np.float64)
    ib = np.empty(3, np.float64)
    n = _edge_intervals(e0, dist, budget, e0, s0, rem0, src, dst, length, ia, ib, pe, pa, pb, 0)
    for u in range(len(dist)):
        if not dist[u] <= budget:
            continue
        for k in range(inc_off[u], inc_off[u + 1]):
            e = inc_edge[k]
            if e == e0:
                continue
            w = dst[e] if src[e] == u else src[e]
            if dist[w] <= budget and w < u:
                continue  # both ends reached: handled at the lower node index
            n = _edge_intervals(e, dist, budget, e0, s0, rem0, src, dst, length, ia, ib,
                                pe, pa, pb, n)
    return pe, pa, pb, n


@njit(cache=True)
def _piece_coords(pe, pa, pb, n, voff, vx, vy, vcum):
    """Polylines of the pieces: flat x/y arrays and offsets (substrings of the edges)."""
    total = 0
    for p in range(n):
        e = pe[p]
        total += voff[e + 1] - voff[e] + 2
    cx = np.empty(total, np.float64)
    cy = np.empty(total, np.float64)
    off = np.empty(n + 1, np.int64)
    m = 0
    for p in range(n):
        off[p] = m
        e = pe[p]
        a = pa[p]
        b = pb[p]
        started = False
        for k in range(voff[e], voff[e + 1] - 1):
            c0 = vcum[k]
            c1 = vcum[k + 1]
            if c1 <= a or c1 == c0:
                continue
            if c0 >= b:
                break
            dx = vx[k + 1] - vx[k]
            dy = vy[k + 1] - vy[k]
            if not started:
                w = (a - c0) / (c1 - c0)
                w = min(max(w, 0.0), 1.0)
                cx[m] = vx[k] + w * dx
                cy[m] = vy[k] + w * dy
                m += 1
                started = True
            if c1 < b:
                cx[m] = vx[k + 1]
                cy[m] = vy[k + 1]
                m += 1
            else:
                w = (b - c0) / (c1 - c0)
                w = min(max(w, 0.0), 1.0)
                cx[m] = vx[k] + w * dx
                cy[m] = vy[k] + w * dy
                m += 1
                break
    off[n] = m
    return cx, cy, off


@njit(cache=True)
def _kth_bound(best, k, limit):
    """The ``k``-th smallest of ``best`` (or ``limit`` when smaller or fewer)."""
    if k > len(best):
        return limit
    v = np.sort(best)[k - 1]
    return v if v < limit else limit


@njit(cache=True, inline="always")
def _heap_push(hd, hn, size, d, v):
    """Push ``(d, v)`` on the binary min-heap ``hd``/``hn`` of ``size`` items
    (grown when full); returns the arrays and the new size."""
    if size == len(hd):
        hd = _grow(hd, 2 * size)
        hn = _grow(hn, 2 * size)
    j = size
    while j > 0:
        parent = (j - 1) >> 1
        if hd[parent] <= d:
            break
        hd[j] = hd[parent]
        hn[j] = hn[parent]
        j = parent
    hd[j] = d
    hn[j] = v
    return hd, hn, size + 1


@njit(cache=True)
def _nearest_search(indptr, indices, weights, n, seeds, seed_d, t_ptr, t_id, t_along, t_off,
                    best, k, limit):
    """Dijkstra (binary heap, lazy deletion) that lowers ``best[t]`` to the walk to
    each target ``t`` offered by the settled nodes and stops once the next node is
    farther than the ``k``-th best offer. Every target whose walk is at most that
    bound ends exact; the others keep an upper bound (or inf)."""
    dist = np.full(n, np.inf)
    done = np.zeros(n, np.bool_)
    cap = 256
    hd = np.empty(cap)
    hn = np.empty(cap, np.int64)
    size = 0
    bound = _kth_bound(best, k, limit)
    for i in range(len(seeds)):
        v = seeds[i]
        d = seed_d[i]
        if d < dist[v] and d <= bound:
            dist[v] = d
            hd, hn, size = _heap_push(hd, hn, size, d, v)
    while size > 0:
        d = hd[0]
        u = hn[0]
        # pop: move the last item down from the root
        size -= 1
        ld = hd[size]
        ln = hn[size]
        j = 0
        while True:
            c = 2 * j + 1
            if c >= size:
                break
            if c + 1 < size and hd[c + 1] < hd[c]:
                c += 1
            if hd[c] >= ld:
                break
            hd[j] = hd[c]
            hn[j] = hn[c]
            j = c
        hd[j] = ld
        hn[j] = ln
        if done[u] or d > dist[u]:
            continue
        if d > bound:
            break
        done[u] = True
        improved = False
        for q in range(t_ptr[u], t_ptr[u + 1]):
            t = t_id[q]
            offer = d + t_along[q] + t_off[t]
            if offer < best[t]:
                best[t] = offer
                improved = True
        if improved:
            bound = _kth_bound(best, k, limit)
        for q in range(indptr[u], indptr[u + 1]):
            v = indices[q]
            if done[v]:
                continue
            nd = d + weights[q]
            if nd < dist[v] and nd <= bound:
                dist[v] = nd
                hd, hn, size = _heap_push(hd, hn, size, nd, v)
