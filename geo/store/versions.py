"""Data versions and invalidation: what changed, so derived results and caches
know when they are stale.

* ``data_versions``: one row per table, bumped in the writing transaction by a
  statement trigger on every insert, update, delete or truncate — whoever
  writes (the API, an import, a sample load, plain SQL in ``psql``), so a
  version changes exactly when committed data changed.  :class:`DataVersions`
  reads them all in one query of a few rows and reuses them for ``ttl_s``
  seconds; every cache of the product (public responses, tiles, pages, the
  walking networks, the nearest-by-walk snapshot) keys its entries with
  :meth:`DataVersions.tag` of the tables it depends on.  This is the one
  freshness scheme of the product.
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
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("servicemap.store")

__all__ = [
    "NETWORK_TABLES",
    "DataVersions",
    "bump_network_version",
    "dataset_versions",
    "drop_circles",
    "get_meta",
    "network_version",
    "points_moved",
    "set_meta",
    "table_versions",
]

#: Tables of the walking networks (what :class:`geo.circles.NetworkCache` follows).
NETWORK_TABLES: tuple[str, ...] = ("network_nodes", "network_edges")


# ------------------------------------------------------------ data versions
def table_versions(conn: Connection) -> dict[str, int]:
    """The current version of every versioned table (one small query)."""
    return {str(r.name): int(r.version)
            for r in conn.execute(text("SELECT name, version FROM data_versions"))}


class DataVersions:
    """The store's data versions, read together and reused for ``ttl_s`` seconds.

    Parameters
    ----------
    engine
        Where to read them (a short connection of its own, unless the caller
        passes the one it holds to :meth:`get`).
    ttl_s
        How long one reading is reused, seconds (0: read at every :meth:`get`).
        Writes through this process read them again (:meth:`refresh`), so they
        show at once; writes by other processes show within ``ttl_s`` and one
        reading: past ``ttl_s`` the reading is still answered while one
        background thread reads the next (stale-while-revalidate, for at most
        :data:`STALE_TTLS` times ``ttl_s``), so that no reader of a busy
        server is sent to the database when it expires.
    """

    #: how many ``ttl_s`` an expired reading may still be answered while the
    #: next is read (the database down: readers then read, and get 503)
    STALE_TTLS = 4

    def __init__(self, engine: Engine, *, ttl_s: float = 1.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._versions: dict[str, int] = {}
        self._at = -1e18
        self._lock = threading.RLock()  # refresh() inside get()
        self._renewing = threading.Lock()  # held by the one background reading
        #: tags of the current reading, by table set (hot paths ask for the same ones)
        self._tags: dict[tuple[str, ...] | None, str] = {}

    def fresh(self) -> dict[str, int] | None:
        """The versions when still within their time to live, or expired
        lately while the next reading is under way (no database access), else
        None."""
        age = time.monotonic() - self._at
        if age < self.ttl_s:
            return self._versions
        if self.ttl_s > 0 and age < self.ttl_s * self.STALE_TTLS:
            # the reading answered is the expired one, even when the background
            # reading started here lands before this returns
            stale = self._versions
            self._revalidate()
            return stale
        return None

    def _revalidate(self) -> None:
        """Read the versions in a daemon thread unless one is reading."""
        if not self._renewing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                if time.monotonic() - self._at >= self.ttl_s:
                    self.refresh()
            except Exception:  # noqa: BLE001 — readers read themselves past STALE_TTLS
                log.warning("data versions: background reading failed", exc_info=True)
            finally:
                self._renewing.release()

        threading.Thread(target=run, name="data-versions", daemon=True).start()

    def get(self, conn: Connection | None = None) -> dict[str, int]:
        """The current versions, read again when older than ``ttl_s`` (with
        ``conn`` when given: no second connection of the pool)."""
        got = self.fresh()
        if got is not None:
            return got
        with self._lock:
            got = self.fresh()
            if got is not None:
                return got
            return self.refresh(conn)

    def fresh_tag(self, tables: tuple[str, ...] | None = None) -> str | None:
        """:meth:`tag` of the fresh reading (no database access), else None."""
        if self.fresh() is None:
            return None
        found = self._tags.get(tables)
        if found is None:
            found = self._tags[tables] = self.tag(self._versions, tables)
        return found

    def get_tag(self, tables: tuple[str, ...] | None = None,
                conn: Connection | None = None) -> str:
        """:meth:`tag` of the current versions (read when older than ``ttl_s``)."""
        return self.fresh_tag(tables) or self.tag(self.get(conn), tables)

    def refresh(self, conn: Connection | None = None) -> dict[str, int]:
        """Read the versions now (after a write): until the new reading is in,
        readers keep the last one, so a write does not send every concurrent
        reader to the database at once."""
        with self._lock:
            if conn is not None:
                versions = table_versions(conn)
            else:
                with self.engine.connect() as c:
                    versions = table_versions(c)
            self._versions, self._tags, self._at = versions, {}, time.monotonic()
            return versions

    def invalidate(self) -> None:
        """Forget the reading: the next :meth:`get` reads the versions again."""
        self._at = -1e18

    @staticmethod
    def tag(versions: Mapping[str, int], tables: Iterable[str] | None = None) -> str:
        """A short tag of the versions of ``tables`` (default: all): it changes
        whenever one of them changes."""
        names = sorted(versions) if tables is None else sorted(set(tables))
        raw = ";".join(f"{t}={versions.get(t, 0)}" for t in names)
        return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


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
