"""numba kernels of the service-circle polygons.

The stamp table (precomputed distances of whole edges and tiles), the
capsule-limited distance field on the lattice, the marching-squares tracer
with exact crossings and corners, ring grouping, and the per-block driver that
goes from Dijkstra distances to polygon rings in one call. Hand-written because
no library does these per-circle steps fast enough: a marching-squares tracer
that joins segments into oriented rings in one pass, for one (skimage's
``find_contours`` assembles its contour segments in pure Python). Compiled once
(``cache=True``: on-disk, next to this module).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from geo.walk._kernels import _edge_pieces, _grow, _piece_coords

# Stamp radius beyond the walk-off, grid units (a compile-time constant for numba).
_STAMP_MARGIN = 0.25


@njit(cache=True, fastmath=True)
def _stamp(grid, ids, nr, nc, gx, gy, off, skip, rg):
    """Squared distance (grid units²) and nearest segment of lattice nodes near the pieces.

    ``grid``/``ids`` are flat (nr * nc) float32/int32 arrays, initialised to +inf/-1.
    For every segment ``k`` (``gx[k], gy[k]`` → ``gx[k+1], gy[k+1]``, grid units) the
    nodes of each row inside the segment's strip ``|n·(X - A)| ≤ rg`` (clipped to its
    bounding box grown by ``rg``) get ``min(current, exact point-segment distance²)``.
    Rows have one width per segment (a constant trip count keeps the short inner loop
    well predicted); the few extra nodes get their true distance, which is harmless.
    Segment ids are stored as ``-(k + 2)`` for the segment starting at ``gx[k]`` (ids
    >= 0 are network vertex ids from the stamp table, -1 is "none"; see
    :func:`_lid`). Pieces with ``skip[p]`` (whole edges, stamped from the precomputed
    table) are left out.
    """
    ncu = np.uint64(nc)
    f0 = np.float32(0.0)
    f1 = np.float32(1.0)
    for p in range(len(off) - 1):
        if skip[p]:
            continue
        for k in range(off[p], off[p + 1] - 1):
            ax = gx[k]
            ay = gy[k]
            dx = gx[k + 1] - ax
            dy = gy[k + 1] - ay
            l2 = dx * dx + dy * dy
            inv_l2 = 1.0 / l2 if l2 > 0.0 else 0.0
            i_lo = max(0, int(math.ceil(min(ay, ay + dy) - rg)))
            i_hi = min(nr - 1, int(math.floor(max(ay, ay + dy) + rg)))
            j_lo = max(0, int(math.ceil(min(ax, ax + dx) - rg)))
            j_hi = min(nc - 1, int(math.floor(max(ax, ax + dx) + rg)))
            ln = math.sqrt(l2)
            strip = ln > 0.0 and abs(dy) > 1e-9 * ln
            sx = dx / dy if strip else 0.0
            wx = abs(rg * ln / dy) if strip else 0.0
            w = j_hi - j_lo + 1
            if strip:
                w = min(w, int(math.ceil(2.0 * wx)) + 1)
            if w <= 0 or i_hi < i_lo:
                continue
            j_max = j_hi - w + 1
            ax32 = np.float32(ax)
            dx32 = np.float32(dx)
            dy32 = np.float32(dy)
            il32 = np.float32(inv_l2)
            sid = np.int32(-(k + 2))
            wu = np.uint64(w)
            for i in range(i_lo, i_hi + 1):
                yy = i - ay
                jl = j_lo
                if strip:
                    jl = min(max(int(math.ceil(ax + yy * sx - wx)), j_lo), j_max)
                yy32 = np.float32(yy)
                ydy = yy32 * dy32
                xx0 = np.float32(jl) - ax32
                base = np.uint64(i) * ncu + np.uint64(jl)
                # unsigned index: no negative-index wraparound check in the hot loop
                for q in range(wu):
                    xx = xx0 + np.float32(q)
                    t = (xx * dx32 + ydy) * il32
                    t = min(max(t, f0), f1)
                    ex = xx - t * dx32
                    ey = yy32 - t * dy32
                    d2 = ex * ex + ey * ey
                    old = grid[base + q]
                    better = d2 < old
                    grid[base + q] = d2 if better else old
                    ids[base + q] = sid if better else ids[base + q]


@njit(cache=True)
def _stamp_group(edges, voff, vx, vy, inv_h, rg, arrays, nrun, ncell):
    """Append the row runs of the lattice nodes within ``rg`` (grid units) of the
    polylines of ``edges`` to ``arrays`` (run_i, run_j, run_c, d2, gid)."""
    run_i, run_j, run_c, d2s, gids = arrays
    rg2 = rg * rg
    xmin = np.inf
    xmax = -np.inf
    ymin = np.inf
    ymax = -np.inf
    for e in edges:
        for k in range(voff[e], voff[e + 1]):
            xmin = min(xmin, vx[k] * inv_h)
            xmax = max(xmax, vx[k] * inv_h)
            ymin = min(ymin, vy[k] * inv_h)
            ymax = max(ymax, vy[k] * inv_h)
    i_lo = int(math.ceil(ymin - rg))
    j_lo = int(math.ceil(xmin - rg))
    wr = int(math.floor(ymax + rg)) - i_lo + 1
    wc = int(math.floor(xmax + rg)) - j_lo + 1
    win = np.full((wr, wc), np.inf)
    wid = np.zeros((wr, wc), np.int32)
    for e in edges:
        for k in range(voff[e], voff[e + 1] - 1):
            ax = vx[k] * inv_h - j_lo
            ay = vy[k] * inv_h - i_lo
            dx = vx[k + 1] * inv_h - j_lo - ax
            dy = vy[k + 1] * inv_h - i_lo - ay
            l2 = dx * dx + dy * dy
            for i in range(max(0, int(math.ceil(min(ay, ay + dy) - rg))),
                           min(wr, int(math.floor(max(ay, ay + dy) + rg)) + 1)):
                for j in range(max(0, int(math.ceil(min(ax, ax + dx) - rg))),
                               min(wc, int(math.floor(max(ax, ax + dx) + rg)) + 1)):
                    fx = j - ax
                    fy = i - ay
                    t = 0.0
                    if l2 > 0.0:
                        t = min(max((fx * dx + fy * dy) / l2, 0.0), 1.0)
                    ex = fx - t * dx
                    ey = fy - t * dy
                    d2 = ex * ex + ey * ey
                    if d2 < win[i, j]:
                        win[i, j] = d2
                        wid[i, j] = k
    for i in range(wr):
        j = 0
        while j < wc:
            if win[i, j] > rg2:
                j += 1
                continue
            j_start = j
            while j < wc and win[i, j] <= rg2:
                j += 1
            w = j - j_start
            if nrun + 2 >= len(run_i):
                run_i = _grow(run_i, 2 * len(run_i))
                run_j = _grow(run_j, 2 * len(run_j))
                run_c = _grow(run_c, 2 * len(run_c))
            if ncell + w >= len(d2s):
                d2s = _grow(d2s, 2 * (len(d2s) + w))
                gids = _grow(gids, 2 * (len(gids) + w))
            run_i[nrun] = i_lo + i
            run_j[nrun] = j_lo + j_start
            for q in range(w):
                d2s[ncell + q] = win[i, j_start + q]
                gids[ncell + q] = wid[i, j_start + q]
            ncell += w
            nrun += 1
            run_c[nrun] = ncell
    return (run_i, run_j, run_c, d2s, gids), nrun, ncell




@njit(cache=True)
def _build_table(voff, vx, vy, h, rg, tile_off, tile_edges):
    """Precomputed stamps of whole edges and whole tiles on the global lattice.

    The lattice is the multiples of ``h`` (metres) in the network CRS. A stamp is the
    set of lattice nodes within ``rg`` grid units of the polylines, stored as row
    runs: global row ``run_i``, first global column ``run_j``, cells
    ``run_c[r]:run_c[r+1]`` of ``d2`` (squared distance, grid units², float32) and
    ``gid`` (nearest segment, as the network index of its first vertex). Runs of edge
    ``e`` are ``erun[e]:erun[e+1]``; runs of tile ``t`` (the min over the edges
    ``tile_edges[tile_off[t]:tile_off[t+1]]``, overlaps removed) are
    ``trun[t]:trun[t+1]``.
    """
    n_e = len(voff) - 1
    n_t = len(tile_off) - 1
    inv_h = 1.0 / h
    arrays = (np.empty(8 * n_e + 16, np.int64), np.empty(8 * n_e + 16, np.int64),
              np.zeros(8 * n_e + 17, np.int64), np.empty(64 * n_e + 256, np.float32),
              np.empty(64 * n_e + 256, np.int32))
    nrun = 0
    ncell = 0
    erun = np.empty(n_e + 1, np.int64)
    one = np.empty(1, np.int64)
    for e in range(n_e):
        erun[e] = nrun
        one[0] = e
        arrays, nrun, ncell = _stamp_group(one, voff, vx, vy, inv_h, rg, arrays, nrun, ncell)
    erun[n_e] = nrun
    trun = np.empty(n_t + 1, np.int64)
    for t in range(n_t):
        trun[t] = nrun
        arrays, nrun, ncell = _stamp_group(tile_edges[tile_off[t]:tile_off[t + 1]], voff, vx,
                                           vy, inv_h, rg, arrays, nrun, ncell)
    trun[n_t] = nrun
    run_i, run_j, run_c, d2s, gids = arrays
    return (erun, trun, run_i[:nrun].copy(), run_j[:nrun].copy(), run_c[: nrun + 1].copy(),
            d2s[:ncell].copy(), gids[:ncell].copy())


@njit(cache=True)
def _apply_runs(grid, ids, nc, i0, j0, r0, r1, run_i, run_j, run_c, t_d2, t_gid):
    """Min-merge precomputed runs ``r0:r1`` into the local lattice whose node (0, 0)
    is global node (i0, j0)."""
    ncu = np.uint64(nc)
    for r in range(r0, r1):
        c0 = run_c[r]
        base = np.uint64(run_i[r] - i0) * ncu + np.uint64(run_j[r] - j0)
        for q in range(np.uint64(run_c[r + 1] - c0)):
            d = t_d2[c0 + q]
            old = grid[base + q]
            better = d < old
            grid[base + q] = d if better else old
            ids[base + q] = t_gid[c0 + q] if better else ids[base + q]


@njit(cache=True)
def _apply_table(grid, ids, nc, i0, j0, pe, full, erun, trun, tile_of_edge, tile_n,
                 run_i, run_j, run_c, t_d2, t_gid):
    """Stamp the whole-edge pieces from the table: a tile's merged stamp when every
    edge of the tile is whole in this circle, else each edge's own stamp."""
    done = np.zeros(len(tile_n), np.int64)
    for p in range(len(pe)):
        if full[p]:
            done[tile_of_edge[pe[p]]] += 1
    for p in range(len(pe)):
        if not full[p]:
            continue
        e = pe[p]
        t = tile_of_edge[e]
        if done[t] == tile_n[t]:
            done[t] = -1  # apply the tile once
            _apply_runs(grid, ids, nc, i0, j0, trun[t], trun[t + 1], run_i, run_j, run_c,
                        t_d2, t_gid)
        elif done[t] >= 0:
            _apply_runs(grid, ids, nc, i0, j0, erun[e], erun[e + 1], run_i, run_j, run_c,
                        t_d2, t_gid)


@njit(cache=True, inline="always")
def _lid(ids, idx, off, pofe, eofv, voff):
    """Local segment index (into the circle's piece coordinates) of lattice node
    ``idx``'s nearest segment; table ids are converted once and written back."""
    raw = ids[idx]
    if raw <= -2:
        return -raw - 2
    if raw >= 0:  # network vertex id from the table: its edge is a whole piece
        e = eofv[raw]
        local = off[pofe[e]] + raw - voff[e]
        ids[idx] = -(local + 2)
        return local
    return -1


@njit(cache=True)
def _seg_frames(gx, gy, off):
    """Per segment (indexed by its first vertex): start x, y, unit direction x, y and
    length, grid units, packed in one (n, 5) array so that a segment is one cache line."""
    n = len(gx)
    seg = np.zeros((n, 5))
    for p in range(len(off) - 1):
        for k in range(off[p], off[p + 1] - 1):
            dx = gx[k + 1] - gx[k]
            dy = gy[k + 1] - gy[k]
            d = math.sqrt(dx * dx + dy * dy)
            seg[k, 0] = gx[k]
            seg[k, 1] = gy[k]
            seg[k, 4] = d
            if d > 0.0:
                seg[k, 2] = dx / d
                seg[k, 3] = dy / d
    return seg


@njit(cache=True, inline="always")
def _seg_dist(seg, s, x, y):
    """Distance from (x, y) to segment ``s`` and the position along it (0..length)."""
    fx = x - seg[s, 0]
    fy = y - seg[s, 1]
    a = min(max(fx * seg[s, 2] + fy * seg[s, 3], 0.0), seg[s, 4])
    ex = fx - a * seg[s, 2]
    ey = fy - a * seg[s, 3]
    return math.sqrt(ex * ex + ey * ey), a


@njit(cache=True, inline="always")
def _exit(px, py, ux, uy, seg, s, rho):
    """Where the ray ``P + t·U`` (|U| = 1, t ≥ 0) from a point inside the capsule of
    radius ``rho`` around segment ``s`` leaves it: the t of the exit point.

    The capsule is convex, so the exit is unique: through a straight side when the
    ray meets that side's line between the segment's ends, else through the end cap
    on the side where it meets the line (one division and at most one square root).
    """
    ax = seg[s, 0]
    ay = seg[s, 1]
    dx = seg[s, 2]
    dy = seg[s, 3]
    ln = seg[s, 4]
    fx = px - ax
    fy = py - ay
    along = fx * dx + fy * dy
    perp = fx * dy - fy * dx
    d_along = ux * dx + uy * dy
    d_perp = ux * dy - uy * dx
    if ln > 0.0:
        if abs(d_perp) > 1e-12:
            t = ((rho if d_perp > 0.0 else -rho) - perp) / d_perp
            at = along + t * d_along
            if 0.0 <= at <= ln:
                return t
            end_b = at > ln
        else:
            end_b = d_along > 0.0
    else:
        end_b = False
    cx = ax + dx * ln if end_b else ax
    cy = ay + dy * ln if end_b else ay
    fx = px - cx
    fy = py - cy
    b = fx * ux + fy * uy
    disc = b * b - (fx * fx + fy * fy - rho * rho)
    return -b + math.sqrt(disc) if disc > 0.0 else 0.0


@njit(cache=True, inline="always")
def _crossing(grid, ids, nc, sh, nvp, seg, eid, level, idmap):
    """Where the iso-line ``level`` crosses lattice edge ``eid`` (grid units) and its owner.

    Lattice edge ids: horizontal ``(i << sh) | j`` from node (i, j) to (i, j+1),
    vertical ``nvp + ((i << sh) | j)`` from (i, j) to (i+1, j) (shifts instead of
    divisions: integer division is the slowest instruction on this path).
    The crossing comes exactly from the capsules of the nearest segments of the
    edge's two ends, not from linear interpolation of the sampled field: where the
    ray from the inside end leaves the inside end's capsule, continued through the
    outside end's capsule when that one holds the exit point. ``owner`` is the
    segment whose capsule boundary passes through the point (-1 if unknown).
    """
    hor = eid < nvp
    e = eid if hor else eid - nvp
    i = e >> sh
    j = e & ((1 << sh) - 1)
    i2 = i if hor else i + 1
    j2 = j + 1 if hor else j
    if grid[i * nc + j] < level * level:
        ia, ja, ib, jb = i, j, i2, j2
    else:
        ia, ja, ib, jb = i2, j2, i, j
    ux = float(jb - ja)
    uy = float(ib - ia)
    off, pofe, eofv, voff = idmap
    sa = _lid(ids, ia * nc + ja, off, pofe, eofv, voff)
    sb = _lid(ids, ib * nc + jb, off, pofe, eofv, voff)
    owner = -1
    t = -1.0
    if sa >= 0:
        t = _exit(float(ja), float(ia), ux, uy, seg, sa, level)
        owner = sa
        # sb can only push the crossing further if its capsule holds P + t·U; distances
        # are 1-Lipschitz, so B being farther than level + (1 - t) rules it out
        if sb >= 0 and sb != sa and math.sqrt(grid[ib * nc + jb]) < level + 1.0 - t + 1e-6:
            qx = ja + t * ux
            qy = ia + t * uy
            d, _a = _seg_dist(seg, sb, qx, qy)
            if d < level:
                t += _exit(qx, qy, ux, uy, seg, sb, level)
                owner = sb
    if owner < 0:  # fallback: linear interpolation of the sampled distances
        va = grid[ia * nc + ja]
        vb = grid[ib * nc + jb]
        t = 0.5
        if vb < np.inf:
            da = math.sqrt(va)
            t = (level - da) / (math.sqrt(vb) - da)
    # keep crossings strictly inside the lattice edge: no two rings share a point
    t = min(max(t, 1e-6), 1.0 - 1e-6)
    return ja + t * ux, ia + t * uy, owner


@njit(cache=True, inline="always")
def _feature(seg, s, x, y, level):
    """Boundary feature of capsule s near (x, y): a line (kind 0: point, direction) or
    an end circle (kind 1: centre)."""
    _d, a = _seg_dist(seg, s, x, y)
    ax = seg[s, 0]
    ay = seg[s, 1]
    ux = seg[s, 2]
    uy = seg[s, 3]
    if 0.0 < a < seg[s, 4]:
        side = 1.0 if (ux * (y - ay) - uy * (x - ax)) >= 0.0 else -1.0
        return 0, ax - side * level * uy, ay + side * level * ux, ux, uy
    return 1, ax + a * ux, ay + a * uy, 0.0, 0.0


@njit(cache=True, inline="always")
def _pick(x1, y1, x2, y2, mx, my):
    if (x1 - mx) ** 2 + (y1 - my) ** 2 <= (x2 - mx) ** 2 + (y2 - my) ** 2:
        return x1, y1
    return x2, y2


@njit(cache=True, inline="always")
def _corner(seg, s1, x1, y1, s2, x2, y2, level):
    """Meeting point of the boundaries of capsules s1 (near point 1) and s2 (near point
    2) closest to the chord midpoint, in closed form (line/line, line/circle,
    circle/circle). Returns (ok, x, y)."""
    mx = 0.5 * (x1 + x2)
    my = 0.5 * (y1 + y2)
    k1, p1x, p1y, u1x, u1y = _feature(seg, s1, x1, y1, level)
    k2, p2x, p2y, u2x, u2y = _feature(seg, s2, x2, y2, level)
    if k1 == 1 and k2 == 0:  # make the line come first
        k1, p1x, p1y, u1x, u1y, k2, p2x, p2y, u2x, u2y = (
            k2, p2x, p2y, u2x, u2y, k1, p1x, p1y, u1x, u1y
        )
    if k1 == 0 and k2 == 0:
        den = u1x * u2y - u1y * u2x
        if abs(den) < 1e-9:
            return False, mx, my
        lam = ((p2x - p1x) * u2y - (p2y - p1y) * u2x) / den
        return True, p1x + lam * u1x, p1y + lam * u1y
    if k1 == 0:  # line / circle
        fx = p1x - p2x
        fy = p1y - p2y
        b = fx * u1x + fy * u1y
        disc = b * b - (fx * fx + fy * fy - level * level)
        if disc < 0.0:
            return False, mx, my
        r = math.sqrt(disc)
        xa, ya = _pick(p1x + (-b - r) * u1x, p1y + (-b - r) * u1y,
                       p1x + (-b + r) * u1x, p1y + (-b + r) * u1y, mx, my)
        return True, xa, ya
    # circle / circle (equal radii): on the perpendicular bisector
    dx = p2x - p1x
    dy = p2y - p1y
    d2 = dx * dx + dy * dy
    if d2 <= 0.0 or d2 >= 4.0 * level * level:
        return False, mx, my
    hh = math.sqrt(level * level - 0.25 * d2) / math.sqrt(d2)
    cxm = 0.5 * (p1x + p2x)
    cym = 0.5 * (p1y + p2y)
    xa, ya = _pick(cxm - hh * dy, cym + hh * dx, cxm + hh * dy, cym - hh * dx, mx, my)
    return True, xa, ya


@njit(cache=True, inline="always")
def _extra_vertex(grid, ids, nc, sh, nvp, seg, level, ci, cj,
                  x1, y1, o1, x2, y2, o2, idmap):
    """A vertex to insert between two crossings of cell (ci, cj), if any.

    * different owners: the corner where the two capsule boundaries meet (the
      notch between two streets, which a straight chord would cut);
    * same owner, nearest point an end of the segment: the point of the end arc
      above the chord midpoint.

    The vertex is kept only strictly inside the cell, and the caller skips saddle
    cells (the only cells holding two ring pieces), so rings stay simple and
    disjoint.
    Returns (ok, x, y).
    """
    if o1 != o2:
        ok, xc, yc = _corner(seg, o1, x1, y1, o2, x2, y2, level)
        if not ok:
            return False, 0.0, 0.0
        d1, _a = _seg_dist(seg, o1, xc, yc)
        d2, _a = _seg_dist(seg, o2, xc, yc)
        if abs(d1 - level) > 1e-6 * level or abs(d2 - level) > 1e-6 * level:
            return False, 0.0, 0.0
        # no other nearby capsule may cover the corner
        for q in range(4):
            off, pofe, eofv, voff = idmap
            so = _lid(ids, (ci + (q >> 1)) * nc + cj + (q & 1), off, pofe, eofv, voff)
            if so >= 0 and so != o1 and so != o2:
                dd, _a = _seg_dist(seg, so, xc, yc)
                if dd < level * (1.0 - 1e-9):
                    return False, 0.0, 0.0
    else:
        mx = 0.5 * (x1 + x2)
        my = 0.5 * (y1 + y2)
        dd, a = _seg_dist(seg, o1, mx, my)
        if 0.0 < a < seg[o1, 4] or dd <= 0.0 or abs(dd - level) < 1e-4:
            return False, 0.0, 0.0
        cx = seg[o1, 0] + a * seg[o1, 2]
        cy = seg[o1, 1] + a * seg[o1, 3]
        xc = cx + (mx - cx) * level / dd
        yc = cy + (my - cy) * level / dd
    if cj + 1e-6 < xc < cj + 1.0 - 1e-6 and ci + 1e-6 < yc < ci + 1.0 - 1e-6:
        return True, xc, yc
    return False, 0.0, 0.0


@njit(cache=True)
def _march(grid, ids, nr, nc, seg, level, nxt, starts, idmap):
    """Marching squares on the distance field at ``level``; inside = below the level.

    Segments are oriented with the inside on their left, so shells come out
    counter-clockwise and holes clockwise. Saddles are resolved by the centre
    average. ``nxt`` (int32, all -1 on entry and on return) and ``starts`` (int32)
    are workspaces of at least ``2 * (nr << sh)`` entries, ``sh`` from
    :func:`_shift` (int32 keeps them cache-friendly). Returns ring x, y (grid units),
    ring offsets and signed areas.
    """
    sh = _shift(nc)
    nvp = nr << sh
    level2 = level * level
    ns = 0
    for i in range(nr - 1):
        r0 = i * nc
        r1 = r0 + nc
        for j in range(nc - 1):
            b0 = grid[r0 + j] < level2
            b1 = grid[r0 + j + 1] < level2
            b2 = grid[r1 + j + 1] < level2
            b3 = grid[r1 + j] < level2
            code = b0 | (b1 << 1) | (b2 << 2) | (b3 << 3)
            if code == 0 or code == 15:
                continue
            # lattice edges after each corner, counter-clockwise: bottom, right, top, left
            h0 = (i << sh) | j
            e0 = h0
            e1 = nvp + h0 + 1
            e2 = h0 + (1 << sh)
            e3 = nvp + h0
            if code == 5 or code == 10:
                centre = 0.25 * (
                    math.sqrt(grid[r0 + j]) + math.sqrt(grid[r0 + j + 1])
                    + math.sqrt(grid[r1 + j + 1]) + math.sqrt(grid[r1 + j])
                )
                joined = centre < level
                if code == 5:  # bottom-left and top-right inside
                    if joined:
                        nxt[e0] = e1
                        nxt[e2] = e3
                    else:
                        nxt[e0] = e3
                        nxt[e2] = e1
                    starts[ns] = e0
                    starts[ns + 1] = e2
                else:  # bottom-right and top-left inside
                    if joined:
                        nxt[e1] = e2
                        nxt[e3] = e0
                    else:
                        nxt[e1] = e0
                        nxt[e3] = e2
                    starts[ns] = e1
                    starts[ns + 1] = e3
                ns += 2
                continue
            # one run of inside corners: from the edge leaving it to the edge entering it
            st = -1
            en = -1
            if b0 and not b1:
                st = e0
            elif b1 and not b0:
                en = e0
            if b1 and not b2:
                st = e1
            elif b2 and not b1:
                en = e1
            if b2 and not b3:
                st = e2
            elif b3 and not b2:
                en = e2
            if b3 and not b0:
                st = e3
            elif b0 and not b3:
                en = e3
            nxt[st] = en
            starts[ns] = st
            ns += 1
    rx = np.empty(2 * ns + 1, np.float64)
    ry = np.empty(2 * ns + 1, np.float64)
    roff = np.empty(ns + 1, np.int64)
    area = np.empty(ns + 1, np.float64)
    mask = (1 << sh) - 1
    m = 0
    nrings = 0
    for q in range(ns):
        s0 = np.int64(starts[q])
        if nxt[s0] < 0:
            continue
        b = m
        p = s0
        x1, y1, o1 = _crossing(grid, ids, nc, sh, nvp, seg, p, level, idmap)
        fx, fy, fo = x1, y1, o1
        while True:
            rx[m] = x1
            ry[m] = y1
            m += 1
            nq = np.int64(nxt[p])
            nxt[p] = -1
            if nq < 0:
                break
            if nq == s0:
                x2, y2, o2 = fx, fy, fo
            else:
                x2, y2, o2 = _crossing(grid, ids, nc, sh, nvp, seg, nq, level,
                                       idmap)
            if o1 >= 0 and o2 >= 0:
                # the cell shared by lattice edges p and nq
                if p < nvp:  # p horizontal: the cell above or below it
                    ci = p >> sh
                    cj = p & mask
                    if nq >= nvp:
                        if ((nq - nvp) >> sh) != ci:
                            ci -= 1
                    elif (nq >> sh) < ci:
                        ci -= 1
                else:  # p vertical: the cell right or left of it
                    ci = (p - nvp) >> sh
                    cj = (p - nvp) & mask
                    if nq < nvp:
                        if (nq & mask) != cj:
                            cj -= 1
                    elif ((nq - nvp) & mask) < cj:
                        cj -= 1
                r0 = ci * nc + cj
                c00 = grid[r0] < level2
                c01 = grid[r0 + 1] < level2
                c11 = grid[r0 + nc + 1] < level2
                c10 = grid[r0 + nc] < level2
                if not (c00 == c11 and c01 == c10 and c00 != c01):  # saddles: none
                    ok, xc, yc = _extra_vertex(grid, ids, nc, sh, nvp, seg,
                                               level, ci, cj, x1, y1, o1, x2, y2, o2, idmap)
                    if ok:
                        rx[m] = xc
                        ry[m] = yc
                        m += 1
            if nq == s0:
                break
            p = nq
            x1, y1, o1 = x2, y2, o2
        a2 = 0.0
        for k in range(b, m):
            k2 = k + 1 if k + 1 < m else b
            a2 += rx[k] * ry[k2] - rx[k2] * ry[k]
        roff[nrings] = b
        area[nrings] = 0.5 * a2
        nrings += 1
    roff[nrings] = m
    for q in range(ns):  # leave the workspace clean even if a ring was cut short
        nxt[starts[q]] = -1
    return rx[:m], ry[:m], roff[: nrings + 1], area[:nrings]


@njit(cache=True)
def _shift(nc):
    """Bits needed to hold a column index (lattice edge ids use shifts, not division)."""
    sh = 1
    while (1 << sh) < nc:
        sh += 1
    return sh


@njit(cache=True)
def _point_in_ring(x, y, rx, ry, a, b):
    inside = False
    j = b - 1
    for i in range(a, b):
        if (ry[i] > y) != (ry[j] > y):
            xc = rx[i] + (y - ry[i]) * (rx[j] - rx[i]) / (ry[j] - ry[i])
            if x < xc:
                inside = not inside
        j = i
    return inside


@njit(cache=True)
def _group_rings(rx, ry, roff, area):
    """Order rings shell-first per polygon; assign each hole to its smallest enclosing shell.

    Returns (ring order, polygon index per ordered ring).
    """
    nr_ = len(area)
    shells = np.flatnonzero(area > 0.0)
    owner = np.full(nr_, -1, np.int64)
    for s in shells:
        owner[s] = s
    if len(shells) == 1:
        for r in range(nr_):
            owner[r] = shells[0]
    else:
        minx = np.empty(nr_)
        maxx = np.empty(nr_)
        miny = np.empty(nr_)
        maxy = np.empty(nr_)
        for r in range(nr_):
            minx[r] = rx[roff[r]:roff[r + 1]].min()
            maxx[r] = rx[roff[r]:roff[r + 1]].max()
            miny[r] = ry[roff[r]:roff[r + 1]].min()
            maxy[r] = ry[roff[r]:roff[r + 1]].max()
        for r in range(nr_):
            if area[r] > 0.0:
                continue
            x = rx[roff[r]]
            y = ry[roff[r]]
            best = -1
            best_area = np.inf
            for s in shells:
                if not (minx[s] <= x <= maxx[s] and miny[s] <= y <= maxy[s]):
                    continue
                if area[s] < best_area and _point_in_ring(x, y, rx, ry, roff[s], roff[s + 1]):
                    best = s
                    best_area = area[s]
            owner[r] = best
    # group by polygon (indices must increase for shapely.polygons), shell first;
    # orphan holes cannot happen on a closed lattice and are dropped
    n_sh = len(shells)
    slot = np.full(nr_, -1, np.int64)
    for k in range(n_sh):
        slot[shells[k]] = k
    count = np.zeros(n_sh + 1, np.int64)
    for r in range(nr_):
        if owner[r] >= 0:
            count[slot[owner[r]] + 1] += 1
    for k in range(n_sh):
        count[k + 1] += count[k]
    m = count[n_sh]
    order = np.empty(m, np.int64)
    poly = np.empty(m, np.int64)
    fill = count[:n_sh].copy()
    for k in range(n_sh):
        s = shells[k]
        order[fill[k]] = s
        poly[fill[k]] = k
        fill[k] += 1
    for r in range(nr_):
        if area[r] <= 0.0 and owner[r] >= 0:
            k = slot[owner[r]]
            order[fill[k]] = r
            poly[fill[k]] = k
            fill[k] += 1
    return order, poly


@njit(cache=True)
def _polygon_rings(cx, cy, off, pe, full, walk_off, h, nxt, starts, voff, eofv,
                   erun, trun, tile_of_edge, tile_n, run_i, run_j, run_c, t_d2, t_gid):
    """Fast-polygon rings of one circle from its piece polylines (metres).

    ``pe``/``full``: edge of each piece and whether it is the whole edge (stamped from
    the precomputed table; other pieces are stamped here). ``nxt``/``starts`` are
    workspaces (see :func:`_march`), grown when too small. Returns (xy metres (M, 2),
    ring index per coordinate, polygon index per ring, nxt, starts) — rings shell first
    within each polygon, polygons in increasing order.
    """
    npts = off[-1]
    pad = walk_off + 2.0 * h
    # lattice on multiples of h (the global lattice of the stamp table)
    j0 = int(math.floor((cx[:npts].min() - pad) / h))
    i0 = int(math.floor((cy[:npts].min() - pad) / h))
    x0 = j0 * h
    y0 = i0 * h
    nc = int(math.ceil((cx[:npts].max() + pad - x0) / h)) + 1
    nr = int(math.ceil((cy[:npts].max() + pad - y0) / h)) + 1
    sh = _shift(nc)
    if len(nxt) < 2 * (nr << sh):
        nxt = np.full(2 * (nr << sh), -1, np.int32)
        starts = np.empty(len(nxt), np.int32)
    grid = np.full(nr * nc, np.inf, np.float32)
    ids = np.full(nr * nc, -1, np.int32)
    gx = (cx[:npts] - x0) / h
    gy = (cy[:npts] - y0) / h
    level = walk_off / h
    _apply_table(grid, ids, nc, i0, j0, pe, full, erun, trun, tile_of_edge, tile_n,
                 run_i, run_j, run_c, t_d2, t_gid)
    _stamp(grid, ids, nr, nc, gx, gy, off, full, level + _STAMP_MARGIN)
    seg = _seg_frames(gx, gy, off)
    pofe = np.empty(len(tile_of_edge), np.int64)  # piece of each whole edge
    for p in range(len(pe)):
        if full[p]:
            pofe[pe[p]] = p
    idmap = (off, pofe, eofv, voff)
    rx, ry, roff, area = _march(grid, ids, nr, nc, seg, level, nxt, starts, idmap)
    order, poly = _group_rings(rx, ry, roff, area)
    total = 0
    for r in order:
        total += roff[r + 1] - roff[r]
    xy = np.empty((total, 2), np.float64)
    ring_of = np.empty(total, np.int64)
    m = 0
    for q in range(len(order)):
        r = order[q]
        for k in range(roff[r], roff[r + 1]):
            xy[m, 0] = x0 + rx[k] * h
            xy[m, 1] = y0 + ry[k] * h
            ring_of[m] = q
            m += 1
    return xy, ring_of, poly, nxt, starts


@njit(cache=True)
def _circles_block(dist, budget, e0, s0, rem0, src, dst, length, inc_off, inc_edge, voff,
                   vx, vy, vcum, walk_off, h, eofv, erun, trun, tile_of_edge, tile_n,
                   run_i, run_j, run_c, t_d2, t_gid):
    """Fast circles for a block of starts (one row of ``dist`` per start).

    Returns concatenated outputs: xy (M, 2) metres, global ring index per coordinate,
    global polygon index per ring, circle index per polygon, reached length per
    circle (metres).
    """
    k_all = dist.shape[0]
    nxt = np.full(1 << 16, -1, np.int32)
    starts = np.empty(1 << 16, np.int32)
    xy_parts = []
    ring_parts = []
    poly_parts = []
    owner_parts = []
    reached = np.zeros(k_all, np.float64)
    n_rings = 0
    n_polys = 0
    for k in range(k_all):
        pe, pa, pb, n = _edge_pieces(dist[k], budget, e0[k], s0[k], rem0[k], src, dst, length,
                                     inc_off, inc_edge)
        if n == 0:
            continue
        for q in range(n):
            reached[k] += pb[q] - pa[q]
        cx, cy, off = _piece_coords(pe, pa, pb, n, voff, vx, vy, vcum)
        full = np.empty(n, np.bool_)
        for q in range(n):
            full[q] = pa[q] <= 0.0 and pb[q] >= length[pe[q]]
        xy, ring_of, poly, nxt, starts = _polygon_rings(
            cx, cy, off, pe[:n], full, walk_off, h, nxt, starts, voff, eofv,
            erun, trun, tile_of_edge, tile_n, run_i, run_j, run_c, t_d2, t_gid,
        )
        if len(poly) == 0:
            continue
        xy_parts.append(xy)
        ring_parts.append(ring_of + n_rings)
        poly_parts.append(poly + n_polys)
        n_pk = poly[-1] + 1
        owner_parts.append(np.full(n_pk, k, np.int64))
        n_rings += len(poly)
        n_polys += n_pk
    total = 0
    for a in xy_parts:
        total += a.shape[0]
    xy_all = np.empty((total, 2), np.float64)
    ring_all = np.empty(total, np.int64)
    poly_all = np.empty(n_rings, np.int64)
    owner_all = np.empty(n_polys, np.int64)
    m = 0
    r = 0
    c = 0
    for q in range(len(xy_parts)):
        a = xy_parts[q]
        xy_all[m : m + a.shape[0]] = a
        ring_all[m : m + a.shape[0]] = ring_parts[q]
        m += a.shape[0]
        pp = poly_parts[q]
        poly_all[r : r + len(pp)] = pp
        r += len(pp)
        oo = owner_parts[q]
        owner_all[c : c + len(oo)] = oo
        c += len(oo)
    return xy_all, ring_all, poly_all, owner_all, reached
