"""Small key/value facts about the stored data (the ``meta`` table)."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text


def set_meta(conn, key: str, value: dict) -> None:
    conn.execute(text(
        "INSERT INTO meta (key, value) VALUES (:k, CAST(:v AS jsonb)) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"),
        {"k": key, "v": json.dumps(value, ensure_ascii=False)})


def get_meta(conn, key: str) -> dict | None:
    return conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()


def bump_network_version(conn, dataset: str) -> str:
    """Give the network ``dataset`` a new version; circles computed on the old
    version are then stale."""
    version = uuid.uuid4().hex[:12]
    set_meta(conn, f"network:{dataset}", {"version": version})
    return version
