"""The one cache helper of the product, and its content tags.

Every in-process cache — public API responses (:mod:`api.caching`), map tiles
and pages (:mod:`maps.tiles`, :mod:`api.routes.maps`), the walking networks
(:class:`geo.circles.NetworkCache`) and the nearest-by-walk snapshot
(:class:`geo.circles.QuerySnapshot`) — is a :class:`VersionedCache`: entries
are kept under a key together with the data version they were built from
(a :meth:`geo.store.versions.DataVersions.tag`), bounded by count and bytes,
least recently used first out.  An entry of an older version is never
returned as current; :meth:`VersionedCache.lookup` hands it out marked stale
so a caller may serve it while one rebuild runs (stale-while-revalidate).
Builds of one key are shared: callers arriving during a build wait for it.

:func:`etag_of` is the one way ETags are made (a weak validator of the bytes,
the same for a body and its gzip encoding).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["CacheEntry", "VersionedCache", "etag_of"]

V = TypeVar("V")


def etag_of(data: bytes) -> str:
    """A weak ETag of ``data``: equal bytes, equal tags (BLAKE2b, 96 bits)."""
    return 'W/"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True)
class CacheEntry(Generic[V]):
    """A cached value, the data version it was built from, and its size in bytes."""

    value: V
    version: Hashable
    size: int = 0


class VersionedCache(Generic[V]):
    """A thread-safe LRU of values tagged with the data version they were built from.

    Parameters
    ----------
    max_entries
        Most entries kept.
    max_bytes
        Most bytes kept (the ``size`` given with each value); None: no bound.
    """

    def __init__(self, max_entries: int = 256, max_bytes: int | None = None) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._d: OrderedDict[Hashable, CacheEntry[V]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    # -- reading -------------------------------------------------------------
    def lookup(self, key: Hashable) -> CacheEntry[V] | None:
        """The entry of ``key`` whatever its version (the caller compares it)."""
        with self._lock:
            entry = self._d.get(key)
            if entry is not None:
                self._d.move_to_end(key)
            return entry

    def get(self, key: Hashable, version: Hashable) -> V | None:
        """The value of ``key`` built from ``version``, else None."""
        entry = self.lookup(key)
        if entry is None or entry.version != version:
            self.misses += 1
            return None
        self.hits += 1
        return entry.value

    # -- writing -------------------------------------------------------------
    def put(self, key: Hashable, version: Hashable, value: V, size: int = 0) -> None:
        """Keep ``value`` for ``key`` (replacing any other version of it)."""
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._d[key] = CacheEntry(value, version, size)
            self._bytes += size
            while self._d and (len(self._d) > self.max_entries or (
                    self.max_bytes is not None and self._bytes > self.max_bytes)):
                _, gone = self._d.popitem(last=False)
                self._bytes -= gone.size

    def get_or_build(self, key: Hashable, version: Hashable, build: Callable[[], V], *,
                     size: Callable[[V], int] | None = None) -> V:
        """The value of ``key`` at ``version``, built now when missing; threads
        asking for the same key meanwhile wait for this one build."""
        found = self.get(key, version)
        if found is not None:
            return found
        with self._lock:
            lock = self._building.setdefault(key, threading.Lock())
        with lock:
            found = self.get(key, version)
            if found is not None:
                return found
            value = build()
            self.put(key, version, value, size(value) if size else 0)
        with self._lock:
            if self._building.get(key) is lock and not lock.locked():
                self._building.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._d)

    @property
    def bytes(self) -> int:
        return self._bytes

    def stats(self) -> dict[str, Any]:
        return {"entries": len(self._d), "bytes": self._bytes, "hits": self.hits,
                "misses": self.misses}
