"""Snapshots: stored coverage runs (``coverage_snapshots``,
``coverage_snapshot_areas``; migration 0003) — history that never changes —
listed, read back and compared.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage.arithmetic import _check_rounding, _float, percent
from geo.coverage.results import (
    AreaDelta,
    ReachCoverage,
    SnapshotComparison,
    SnapshotInfo,
    SnapshotMeta,
    StoredSnapshot,
)
from geo.errors import InvalidInput, NotFound, Problem

__all__ = ["compare_snapshots", "get_snapshot", "list_snapshots", "save_snapshot"]


def _role_of(actor: str | None) -> str | None:
    """The role recorded for an actor saved without one."""
    if actor is None:
        return None
    return "token" if actor.startswith("token:") else "cli"


def save_snapshot(conn: Connection, result: ReachCoverage, *, label: str | None = None,
                  actor: str | None = None, actor_role: str | None = None) -> int:
    """Store a :func:`geo.coverage.reach.reach_coverage` result (parameters,
    time, every area row).

    Snapshots are history: later changes to points or circles never alter
    them. The caller owns the transaction.

    Parameters
    ----------
    conn
        Connection (inside the caller's transaction).
    result
        The run to store.
    label
        A planner's name for it (at most 200 characters).
    actor
        Who stored it (``token:<prefix>:<name>``, ``cli``): kept for the record,
        never answered publicly.
    actor_role
        Their role (``planner``, ``admin``, ``cli``): what answers show (the
        public read role cannot read ``actor``; :mod:`geo.store.roles`).

    Returns
    -------
    int
        The snapshot id.
    """
    if label is not None and len(label) > 200:
        raise InvalidInput("标签过长", [Problem("最多 200 个字符",
                                            column="label", value=label[:50])])
    p = result.parameters
    sid = conn.execute(text("""
        INSERT INTO coverage_snapshots (label, region_code, region_name, minutes, profile,
            kinds, parameters, totals, result, circles, circles_version, actor, actor_role)
        VALUES (:label, :rc, :rn, :m, :pr, :kinds, CAST(:params AS jsonb),
                CAST(:totals AS jsonb), CAST(:result AS jsonb), :nc, :cv, :actor, :role)
        RETURNING id"""), {
        "label": label, "rc": result.region.code, "rn": result.region.name,
        "m": p.minutes, "pr": p.profile, "kinds": list(p.kinds),
        "params": json.dumps(p.as_dict(), ensure_ascii=False),
        "totals": json.dumps(result.totals.as_dict(), ensure_ascii=False),
        "result": json.dumps(result.as_dict(), ensure_ascii=False, default=str),
        "nc": result.circles.count, "cv": result.circles.version,
        "actor": actor, "role": actor_role or _role_of(actor)}).scalar_one()
    conn.execute(text("""
        INSERT INTO coverage_snapshot_areas (snapshot_id, level, code, name, kind, buildings,
            buildings_covered, households, households_covered, population,
            population_covered, compounds, compounds_covered)
        VALUES (:sid, :level, :code, :name, :kind, :b, :bc, :h, :hc, :p, :pc, :c, :cc)"""),
        [{"sid": sid, "level": r.level, "code": r.code, "name": r.name,
          "kind": getattr(r, "kind", None), "b": r.buildings, "bc": r.buildings_covered,
          "h": r.households, "hc": r.households_covered, "p": r.population,
          "pc": r.population_covered, "c": r.compounds, "cc": r.compounds_covered}
         for r in result.areas])
    return int(sid)


def list_snapshots(conn: Connection, region: str | None = None, *, limit: int = 50
                   ) -> list[SnapshotInfo]:
    """Stored snapshots, newest first (``region``: that code and everything below;
    at most ``limit``)."""
    rows = conn.execute(text("""
        SELECT id, label, region_code, region_name, minutes, profile, kinds, circles,
               circles_version, actor_role, created_at, totals
        FROM coverage_snapshots
        WHERE CAST(:r AS text) IS NULL OR region_code LIKE CAST(:r AS text) || '%'
        ORDER BY created_at DESC, id DESC LIMIT :n"""), {"r": region, "n": limit}).all()
    return [SnapshotInfo(id=r.id, label=r.label, region_code=r.region_code,
                         region_name=r.region_name, minutes=r.minutes, profile=r.profile,
                         kinds=tuple(r.kinds), circles=r.circles,
                         circles_version=r.circles_version,
                         actor=r.actor_role,
                         created_at=r.created_at.isoformat(),
                         population_covered=r.totals.get("population_covered"),
                         population_pct=r.totals.get("population_pct")) for r in rows]


def get_snapshot(conn: Connection, snapshot_id: int) -> StoredSnapshot:
    """A stored snapshot: its metadata and the full stored result.

    Raises
    ------
    NotFound
        No snapshot with this id.
    """
    r = conn.execute(text(
        "SELECT id, label, actor_role, created_at, result FROM coverage_snapshots "
        "WHERE id = :i"),
        {"i": snapshot_id}).first()
    if r is None:
        raise NotFound(f"未找到编号为 {snapshot_id} 的覆盖快照")
    return StoredSnapshot(id=r.id, label=r.label, actor=r.actor_role,
                          created_at=r.created_at.isoformat(), result=r.result)


_DELTA_FIELDS = ("buildings", "buildings_covered", "households", "households_covered",
                 "population", "population_covered", "compounds", "compounds_covered")


def compare_snapshots(conn: Connection, before: int, after: int, *, rounding: str = "half_up",
                      decimals: int = 2) -> SnapshotComparison:
    """Differences between two snapshots (e.g. before and after a new station).

    Parameters
    ----------
    conn
        Connection.
    before, after
        Snapshot ids.
    rounding, decimals
        Rounding of the recomputed percentages
        (:func:`geo.coverage.arithmetic.percent`).

    Returns
    -------
    SnapshotComparison
        ``before``/``after`` metadata, ``parameters_differ`` (names of the
        parameters that changed: figures are then not like for like),
        ``totals`` and ``areas``: per area, the figures of both runs and
        ``*_delta`` values; percentages recomputed exactly from the counts.

    Raises
    ------
    NotFound
        Either snapshot does not exist.
    """
    _check_rounding(rounding, decimals)
    meta = {}
    for sid in (before, after):
        r = conn.execute(text(
            "SELECT id, label, region_code, created_at, parameters, circles, circles_version "
            "FROM coverage_snapshots WHERE id = :i"), {"i": sid}).first()
        if r is None:
            raise NotFound(f"未找到编号为 {sid} 的覆盖快照")
        meta[sid] = r
    a, b = meta[before], meta[after]
    differ = sorted(k for k in set(a.parameters) | set(b.parameters)
                    if a.parameters.get(k) != b.parameters.get(k))
    rows = conn.execute(text(
        "SELECT snapshot_id, level, code, name, kind, " + ", ".join(_DELTA_FIELDS) +
        " FROM coverage_snapshot_areas WHERE snapshot_id IN (:a, :b) ORDER BY level, code"),
        {"a": before, "b": after}).mappings().all()
    by_key: dict[tuple[str, str], dict[int, Any]] = {}
    for r in rows:
        by_key.setdefault((r["level"], r["code"]), {})[r["snapshot_id"]] = r
    areas = []
    for (level, code), pair in by_key.items():
        x, y = pair.get(before), pair.get(after)
        ref = y or x
        row: dict[str, Any] = {"level": level, "code": code, "name": ref["name"],
                               "kind": ref["kind"]}
        for f in _DELTA_FIELDS:
            va = x[f] if x is not None else None
            vb = y[f] if y is not None else None
            row[f"{f}_before"] = va
            row[f"{f}_after"] = vb
            row[f"{f}_delta"] = (round(vb - va, 4) if isinstance(vb, float) else vb - va) \
                if va is not None and vb is not None else None
        for side, src in (("before", x), ("after", y)):
            row[f"population_pct_{side}"] = _float(percent(
                src["population_covered"], src["population"], rounding=rounding,
                decimals=decimals)) if src is not None else None
        areas.append(AreaDelta(**row))
    level_rank = {"county": 0, "town": 1, "village": 2, "grid": 3}
    areas.sort(key=lambda r: (level_rank.get(r.level, 9), r.code))
    totals = next((r for r in areas if r.code == a.region_code), None)

    def m(r: Any) -> SnapshotMeta:
        return SnapshotMeta(id=r.id, label=r.label, region_code=r.region_code,
                            created_at=r.created_at.isoformat(), circles=r.circles,
                            circles_version=r.circles_version)

    return SnapshotComparison(before=m(a), after=m(b), parameters_differ=tuple(differ),
                              same_region=a.region_code == b.region_code, totals=totals,
                              areas=tuple(areas))
