"""The residents' side as the planner map shows it: wishes per grid cell with
the workflow's clocks (open, unclaimed, overdue, fulfilled), aggregates only.

Pure SQL on the columns the web's reader role may read (``grid_code``,
``region_code``, ``state``, ``kind`` and the timestamps of a wish; its claims)
— never a resident's words, home, phone or who typed the wish in. A cell with
fewer than :data:`geo.residents.wishes.SUPPRESS_BELOW` wishes in total keeps its
outline, but its counts are ``None`` and go into one ``suppressed`` row.

Overdue, from the timestamps and :class:`geo.settings.ResidentSettings` (the
staff list's SLA clock, :func:`geo.residents.wishes.staff_list`): a posted wish
not reviewed ``wish_review_days`` after ``posted_at``, a published wish not
claimed ``wish_claim_days`` after ``published_at``, a claimed wish not
fulfilled ``wish_fulfil_days`` after ``claimed_at``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.residents.wishes import SUPPRESS_BELOW
from geo.vocab import WishState

__all__ = ["COUNTS", "OPEN_STATES", "wish_grid_counts"]

#: the states of a wish still being worked on (点单、下单、接单)
OPEN_STATES = (WishState.POSTED.value, WishState.PUBLISHED.value, WishState.CLAIMED.value)
#: the counts of a cell, a total or the suppressed row (``total`` = ``open`` +
#: ``fulfilled`` + ``closed``; ``unclaimed`` and ``overdue`` are among ``open``)
COUNTS = ("total", "open", "unclaimed", "overdue", "fulfilled", "closed")

_SQL = """
WITH w AS (
    SELECT w.grid_code, w.state,
           (w.state = 'published' AND NOT EXISTS (
                SELECT 1 FROM wish_claims c
                WHERE c.wish_code = w.code AND c.withdrawn_at IS NULL)) AS unclaimed,
           COALESCE(CASE w.state
               WHEN 'posted' THEN w.posted_at < :now - make_interval(days => :review)
               WHEN 'published' THEN w.published_at < :now - make_interval(days => :claim)
               WHEN 'claimed' THEN w.claimed_at < :now - make_interval(days => :fulfil)
           END, false) AS overdue
    FROM wishes w
    WHERE starts_with(w.region_code, :region)
      AND (CAST(:kind AS text) IS NULL OR w.kind = :kind)
), counted AS (
    SELECT grid_code, GROUPING(grid_code) = 1 AS grand, count(*) AS total,
           count(*) FILTER (WHERE state = ANY(:open)) AS open,
           count(*) FILTER (WHERE unclaimed) AS unclaimed,
           count(*) FILTER (WHERE overdue) AS overdue,
           count(*) FILTER (WHERE state IN ('fulfilled', 'confirmed')) AS fulfilled,
           count(*) FILTER (WHERE state NOT IN ('fulfilled', 'confirmed')
                            AND NOT state = ANY(:open)) AS closed
    FROM w GROUP BY GROUPING SETS ((grid_code), ())
)
SELECT g.code, g.name, g.region_code AS village_code, r.name AS village,
       ST_X(ST_PointOnSurface(g.geom)) AS lng, ST_Y(ST_PointOnSurface(g.geom)) AS lat,
       ST_AsGeoJSON(g.geom, 6) AS geojson, false AS is_total,
       COALESCE(c.total, 0) AS total, COALESCE(c.open, 0) AS open,
       COALESCE(c.unclaimed, 0) AS unclaimed, COALESCE(c.overdue, 0) AS overdue,
       COALESCE(c.fulfilled, 0) AS fulfilled, COALESCE(c.closed, 0) AS closed
FROM grid_cells g
LEFT JOIN regions r ON r.code = g.region_code
LEFT JOIN counted c ON NOT c.grand AND c.grid_code = g.code
WHERE g.deleted_at IS NULL AND starts_with(g.region_code, :region)
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, true,
       total, open, unclaimed, overdue, fulfilled, closed
FROM counted WHERE grand AND total > 0
ORDER BY is_total, code
"""


def _zero() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


def wish_grid_counts(conn: Connection, region: str, settings: Any,
                     now: datetime | None = None, *, kind: str | None = None
                     ) -> dict[str, Any]:
    """Wishes of ``region`` per grid cell: open (posted, published, claimed),
    unclaimed (published, no claim), overdue (see the module), fulfilled
    (fulfilled or confirmed) and closed (rejected, withdrawn, expired).

    ``settings`` holds ``wish_review_days``, ``wish_claim_days`` and
    ``wish_fulfil_days`` (:class:`geo.settings.ResidentSettings`); ``now``
    (default: the current time) is when overdue is judged; ``kind`` limits
    the count to ``wish`` or ``project`` (default both).

    Returns ``cells`` (every live grid cell of the region, sorted by code:
    ``code``, ``name``, ``village_code``, ``village``, inside point ``lng``/
    ``lat``, ``geometry`` as GeoJSON, ``suppressed`` and the :data:`COUNTS`,
    ``None`` for a cell with fewer than ``suppress_below`` wishes),
    ``suppressed`` (those cells' number and summed counts), ``ungridded``
    (wishes without a live grid cell), ``totals`` (the region), ``rules``
    (the clocks in days), ``now`` and ``suppress_below``.
    """
    at = now or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rules = {"review_days": int(settings.wish_review_days),
             "claim_days": int(settings.wish_claim_days),
             "fulfil_days": int(settings.wish_fulfil_days)}
    rows = conn.execute(text(_SQL), {
        "region": region, "kind": kind, "now": at, "open": list(OPEN_STATES),
        "review": rules["review_days"], "claim": rules["claim_days"],
        "fulfil": rules["fulfil_days"]}).mappings().all()
    cells: list[dict[str, Any]] = []
    totals, suppressed = _zero(), {"cells": 0, **_zero()}
    gridded = _zero()
    for r in rows:
        counts = {k: int(r[k]) for k in COUNTS}
        if r["is_total"]:
            totals = counts
            continue
        for k in COUNTS:
            gridded[k] += counts[k]
        hide = counts["total"] < SUPPRESS_BELOW
        if hide:
            suppressed["cells"] += 1
            for k in COUNTS:
                suppressed[k] += counts[k]
        cells.append({
            "code": r["code"], "name": r["name"], "village_code": r["village_code"],
            "village": r["village"],
            "lng": None if r["lng"] is None else round(r["lng"], 6),
            "lat": None if r["lat"] is None else round(r["lat"], 6),
            "geometry": json.loads(r["geojson"]) if r["geojson"] else None,
            "suppressed": hide,
            **{k: None if hide else v for k, v in counts.items()}})
    return {"region": region, "now": at.isoformat(), "kind": kind, "rules": rules,
            "suppress_below": SUPPRESS_BELOW, "cells": cells, "suppressed": suppressed,
            "ungridded": {k: totals[k] - gridded[k] for k in COUNTS}, "totals": totals}
