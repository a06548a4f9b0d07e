"""The audit log: who changed what, when, with the row before and after.

Every write of the store of record records one ``audit_log`` row through
:func:`write_audit`: planner edits (one row each, full snapshots) and file
imports (one row per import, with the codes written).  The log holds personal
data and is never served publicly.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["write_audit"]


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    return str(o)


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def write_audit(conn: Connection, *, actor: str, action: str, entity: str,
                code: str | None = None, before: Any = None, after: Any = None) -> int:
    """Append one audit entry in the caller's transaction; returns its id.

    Parameters
    ----------
    actor
        Who: ``token:<prefix>:<name>`` for API tokens, an OS user for the CLI.
    action
        ``create``, ``update``, ``move``, ``delete``, ``restore`` or ``import``.
    entity
        What was changed (an entity name, or the table of an import).
    code
        The row's code (``None`` for an import).
    before, after
        JSON-ready snapshots (numpy scalars are converted).
    """
    return conn.execute(text(
        "INSERT INTO audit_log (actor, action, entity, entity_code, before, after) "
        "VALUES (:actor, :action, :entity, :code, CAST(:before AS jsonb), "
        "CAST(:after AS jsonb)) RETURNING id"),
        {"actor": actor, "action": action, "entity": entity, "code": code,
         "before": _dumps(before), "after": _dumps(after)}).scalar_one()
