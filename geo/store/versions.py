"""Data versions and invalidation: what changed, so derived results and caches
know when they are stale.

* ``meta``: small key/value facts about the stored data (:func:`set_meta`,
  :func:`get_meta`), among them the version of each walking-network dataset
  (:func:`bump_network_version`, :func:`dataset_versions`), which stored
  service circles record as an input.
* ``service_points.version``: bumped when a point moves; circles record it.
* Invalidation of derived rows: :func:`points_moved` and :func:`drop_circles`
  are the one place where a moved or removed point loses its stored circles,
  for planner edits and file imports alike.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = [
    "bump_network_version",
    "dataset_versions",
    "drop_circles",
    "get_meta",
    "network_version",
    "points_moved",
    "set_meta",
]


# ---------------------------------------------------------------------- meta
def set_meta(conn: Connection, key: str, value: dict) -> None:
    conn.execute(text(
        "INSERT INTO meta (key, value) VALUES (:k, CAST(:v AS jsonb)) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"),
        {"k": key, "v": json.dumps(value, ensure_ascii=False)})


def get_meta(conn: Connection, key: str) -> dict | None:
    return conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()


# ----------------------------------------------------------- walking networks
def bump_network_version(conn: Connection, dataset: str) -> str:
    """Give the network ``dataset`` a new version; circles computed on the old
    version are then stale."""
    version = uuid.uuid4().hex[:12]
    set_meta(conn, f"network:{dataset}", {"version": version})
    return version


def dataset_versions(conn: Connection) -> dict[str, str]:
    """Version of each walking-network dataset (bumped whenever it is rewritten)."""
    rows = conn.execute(text(
        "SELECT substr(key, 9), value->>'version' FROM meta WHERE key LIKE 'network:%'")).all()
    return dict(rows)


def network_version(conn: Connection) -> str:
    """Version of all walking networks together (changes when any is rewritten)."""
    rows = sorted(dataset_versions(conn).items())
    if not rows:
        return "none"
    return hashlib.sha1(";".join(f"{k}={v}" for k, v in rows).encode()).hexdigest()[:12]


# ------------------------------------------------------------- invalidation
def drop_circles(conn: Connection, point_codes: Sequence[str]) -> int:
    """Delete the stored service circles of these points (moved or removed);
    returns how many were deleted."""
    if not point_codes:
        return 0
    return conn.execute(text("DELETE FROM service_circles WHERE point_code = ANY(:c)"),
                        {"c": list(point_codes)}).rowcount


def points_moved(conn: Connection, point_codes: Sequence[str]) -> tuple[dict[str, int], int]:
    """Bump the ``version`` of points that moved and drop their circles; returns
    the new version of each point and the number of circles dropped."""
    if not point_codes:
        return {}, 0
    rows = conn.execute(text(
        "UPDATE service_points SET version = version + 1 WHERE code = ANY(:c) "
        "RETURNING code, version"), {"c": list(point_codes)}).all()
    return {str(r.code): int(r.version) for r in rows}, drop_circles(conn, point_codes)
