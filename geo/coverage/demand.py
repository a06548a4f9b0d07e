"""Demand from the residents' side: unmet wishes in the coverage analytics.

* :func:`wish_shares` — each building's share of a town's unmet wishes
  (posted, published or claimed), for siting weighted by demand
  (:func:`geo.siting.site` ``wish_weight``) and the gap ranking. A wish is
  placed no closer than the public columns say: its compound (spread over the
  compound's buildings by population), else its grid cell, else its village —
  never the exact home, so the same answer can be public.
* :func:`wishes_outside` — the coverage report's list of unmet wishes that lie
  outside every stored service circle, by their exact location (the owner
  role reads it; the public answer is counts per village, small ones folded).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.circles import profile_key
from geo.coverage.arithmetic import CoverageParams
from geo.coverage.loading import Town, resolve_region
from geo.errors import Conflict
from geo.vocab import WISH_CATEGORY_ZH, WISH_STATE_ZH

__all__ = ["SUPPRESS_WISHES_BELOW", "UNMET_STATES", "wish_shares", "wishes_outside"]

#: the states of a wish nobody has fulfilled yet
UNMET_STATES = ("posted", "published", "claimed")
#: per-village counts of wishes outside the circles below this are folded together
SUPPRESS_WISHES_BELOW = 3


def _spread(weights: np.ndarray, members: np.ndarray, n: float, out: np.ndarray) -> None:
    if not len(members) or n == 0:
        return
    w = weights[members].astype(float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(members), 1.0 / len(members))
    np.add.at(out, members, n * w)


def wish_shares(conn: Connection, town: Town) -> np.ndarray:
    """Unmet wishes per building of ``town`` (floats summing to the number of
    unmet wishes placed in it): by compound, else grid cell, else village."""
    rows = conn.execute(text(
        "SELECT compound_code, grid_code, region_code, count(*) AS n FROM wishes "
        "WHERE starts_with(region_code, :r) AND state = ANY(:s) "
        "GROUP BY compound_code, grid_code, region_code"),
        {"r": town.region.code, "s": list(UNMET_STATES)}).all()
    out = np.zeros(len(town.b_id), dtype=float)
    if not rows or not len(town.b_id):
        return out
    c_index = {str(c): i for i, c in enumerate(town.c_code)}
    g_index = {str(g): i for i, g in enumerate(town.g_code)}
    leaf_index = {a.code: i for i, a in enumerate(town.leaves)}
    for r in rows:
        if r.compound_code in c_index:
            members = np.flatnonzero(town.b_compound == c_index[r.compound_code])
        elif r.grid_code in g_index:
            gi = g_index[r.grid_code]
            hit = np.zeros(len(town.b_id), dtype=bool)
            for arr in town.b_grid.values():
                hit |= arr == gi
            members = np.flatnonzero(hit)
        elif r.region_code in leaf_index:
            members = np.flatnonzero(town.b_leaf == leaf_index[r.region_code])
        else:
            members = np.arange(len(town.b_id))
        if not len(members):
            members = np.arange(len(town.b_id))
        _spread(town.b_pop, members, float(r.n), out)
    return out


def wishes_outside(conn: Connection, region: str | None, params: CoverageParams, *,
                   detail: bool = False) -> dict[str, Any]:
    """Unmet wishes of ``region`` against the stored circles of ``params``
    (minutes, profile, point kinds): how many have a location, how many of
    those lie inside at least one circle and how many outside every one, per
    village (fewer than :data:`SUPPRESS_WISHES_BELOW` folded into
    ``suppressed`` unless ``detail``); with ``detail`` (planners) the wishes
    outside, by code, title, category, state, village and grid cell.

    Raises
    ------
    NotFound
        Unknown region.
    Conflict
        No stored circle of these minutes and profile (compute them first).
    """
    scope = resolve_region(conn, region)
    budget = params.budget()
    prof = profile_key(budget)
    kinds = list(params.kinds) or None
    n_circles = conn.execute(text(
        "SELECT count(*) FROM service_circles c JOIN service_points p ON p.code = c.point_code "
        "WHERE c.minutes = :m AND c.profile = :pr AND p.deleted_at IS NULL "
        "AND (CAST(:k AS text[]) IS NULL OR p.kind = ANY(CAST(:k AS text[])))"),
        {"m": budget.minutes, "pr": prof, "k": kinds}).scalar_one()
    if not n_circles:
        raise Conflict(f"尚未计算 {budget.minutes:g} 分钟（{prof}）的服务圈；请先运行 "
                       f"servicemap isochrones --minutes {budget.minutes:g} --profile {prof}")
    rows = conn.execute(text("""
        SELECT w.code, w.title, w.category, w.state, w.region_code, r.name AS region_name,
               g.name AS grid_name, w.geom IS NOT NULL AS located,
               w.geom IS NOT NULL AND EXISTS (
                   SELECT 1 FROM service_circles c JOIN service_points p ON p.code = c.point_code
                   WHERE c.minutes = :m AND c.profile = :pr AND p.deleted_at IS NULL
                     AND (CAST(:k AS text[]) IS NULL OR p.kind = ANY(CAST(:k AS text[])))
                     AND c.geom && w.geom AND ST_Covers(c.geom, w.geom)) AS inside
        FROM wishes w JOIN regions r ON r.code = w.region_code
        LEFT JOIN grid_cells g ON g.code = w.grid_code
        WHERE starts_with(w.region_code, :r) AND w.state = ANY(:s)
        ORDER BY w.region_code, w.posted_at, w.code"""),
        {"m": budget.minutes, "pr": prof, "k": kinds, "r": scope.region.code,
         "s": list(UNMET_STATES)}).mappings().all()
    outside = [r for r in rows if r["located"] and not r["inside"]]
    per: dict[str, dict[str, Any]] = {}
    for r in rows:
        v = per.setdefault(r["region_code"], {"code": r["region_code"],
                                              "name": r["region_name"], "unmet": 0,
                                              "located": 0, "outside": 0})
        v["unmet"] += 1
        v["located"] += bool(r["located"])
        v["outside"] += bool(r["located"] and not r["inside"])
    villages = sorted(per.values(), key=lambda v: (-v["outside"], v["code"]))
    folded = {"villages": 0, "outside": 0, "below": SUPPRESS_WISHES_BELOW}
    if not detail:
        shown = []
        for v in villages:
            if v["unmet"] < SUPPRESS_WISHES_BELOW:
                folded["villages"] += 1
                folded["outside"] += v["outside"]
            else:
                shown.append(v)
        villages = shown
    out: dict[str, Any] = {
        "region": {"code": scope.region.code, "name": scope.region.name,
                   "level": scope.region.level},
        "minutes": budget.minutes, "profile": prof, "circles": int(n_circles),
        "states": list(UNMET_STATES),
        "totals": {"unmet": len(rows), "located": sum(bool(r["located"]) for r in rows),
                   "inside": sum(bool(r["inside"]) for r in rows), "outside": len(outside)},
        "by_region": villages,
    }
    if not detail:
        out["suppressed"] = folded
    else:
        out["wishes"] = [{"code": r["code"], "title": r["title"], "category": r["category"],
                          "category_zh": WISH_CATEGORY_ZH[r["category"]], "state": r["state"],
                          "state_zh": WISH_STATE_ZH[r["state"]],
                          "region_code": r["region_code"], "region_name": r["region_name"],
                          "grid_name": r["grid_name"]} for r in outside]
    return out
