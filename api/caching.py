"""HTTP caching of public GET responses: ETag, Cache-Control, 304 and
pre-compressed bodies, and the process's cache of built public responses.

Built bodies live in a :class:`geo.cache.VersionedCache` keyed by the path and
the complete query string (and the minute, for bodies with ``open_now``),
tagged with the data version of the whole store
(:class:`geo.store.versions.DataVersions`, shared with the app's other
caches).  A body is reused while the data it was built from is unchanged;
the first request after a change builds it again (concurrent misses of one
key wait for a single build).  Successful writes through the API make the
app read the versions again at once (:meth:`PublicCache.clear`, called by
the app's middleware), so this process never serves a body older than its
own last write; writes by other processes show within ``cache_ttl_s``.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread
import orjson
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from geo.cache import VersionedCache, etag_of
from geo.hours import CHINA_TZ
from geo.store.versions import DataVersions

__all__ = [
    "CachedBody",
    "FrontHandler",
    "PublicCache",
    "body_response",
    "cached_public",
    "encode_json",
    "etag_matches",
    "etag_of",
    "not_modified",
    "public_response",
]


@dataclass(frozen=True)
class CachedBody:
    body: bytes
    gz: bytes | None
    etag: str
    media_type: str


def encode_json(content: Any) -> bytes:
    """Compact UTF-8 JSON of a public body (orjson: about 10x the standard
    library on these bodies, a tenth of a ``/nearest`` request). NaN and
    infinity become ``null``; numpy scalars and arrays are numbers and lists."""
    return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def make_body(content: Any, media_type: str) -> CachedBody:
    body = encode_json(content)
    gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= 1024 else None
    return CachedBody(body=body, gz=gz, etag=etag_of(body), media_type=media_type)


def china_minute() -> str:
    return datetime.now(CHINA_TZ).strftime("%Y%m%d%H%M")


class PublicCache:
    """The app's built public responses, tagged with the store's data version.

    Parameters
    ----------
    versions
        The app's data versions.
    max_entries
        Most responses kept.
    """

    def __init__(self, versions: DataVersions, max_entries: int) -> None:
        self.versions = versions
        self.entries: VersionedCache[CachedBody] = VersionedCache(max_entries)
        #: builds in flight, by key and version (futures of the event loop)
        self.pending: dict[Hashable, asyncio.Future] = {}

    @property
    def enabled(self) -> bool:
        return self.versions.ttl_s > 0

    def fresh(self, path: str, query: bytes) -> CachedBody | None:
        """A current body for a GET of ``path?query`` without touching the
        database (the versions must be fresh), or None."""
        tag = self.versions.fresh_tag()
        if tag is None or not len(self.entries):
            return None
        for key in ((path, query, china_minute()), (path, query, None)):
            body = self.entries.get(key, tag)
            if body is not None:
                return body
        return None

    def clear(self) -> None:
        """Read the versions again now (after a write), so that the writer's
        next request sees its write; until then readers keep the last reading.
        Without the database, forget the reading instead."""
        try:
            self.versions.refresh()
        except SQLAlchemyError:
            self.versions.invalidate()


async def build_in_thread(state: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in the thread pool, as one of at most ``pool_size +
    pool_max_overflow - 2`` such builds at once (``state``: ``app.state``).

    Cached answers (bodies, pages, tiles) are built this way. After a write
    many of them go stale at once; without the bound, every thread of the pool
    would wait for a database connection and nothing else could run in a
    thread until they had one (a write's next step, the nearest snapshot's
    refresh). Waiting here takes no thread and no connection."""
    loop = asyncio.get_running_loop()
    found = getattr(state, "build_limiter", None)
    if found is None or found[0] is not loop:  # one per event loop (tests run several)
        settings = state.settings
        found = state.build_limiter = (loop, anyio.CapacityLimiter(
            max(1, settings.pool_size + settings.pool_max_overflow - 2)))
    limiter = found[1]
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=limiter)


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    weak = etag[2:] if etag.startswith("W/") else etag
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == weak:
            return True
    return False


def not_modified(headers_in: Any, etag: str) -> bool:
    """Whether the request's ``If-None-Match`` matches ``etag``."""
    return etag_matches(headers_in.get("if-none-match"), etag)


def public_response(headers_in: Any, entry: CachedBody, max_age: int) -> Response:
    """The response for a cached body: 304 when ``If-None-Match`` matches, the
    gzipped bytes when the client accepts gzip."""
    headers = {"ETag": entry.etag, "Cache-Control": f"public, max-age={max_age}",
               "Vary": "Accept-Encoding"}
    if not_modified(headers_in, entry.etag):
        return Response(status_code=304, headers=headers)
    if entry.gz is not None and "gzip" in headers_in.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(entry.gz, media_type=entry.media_type, headers=headers)
    return Response(entry.body, media_type=entry.media_type, headers=headers)


#: A route's front handler: ``(app.state, raw query string) -> body or None``.
FrontHandler = Callable[[Any, bytes], Awaitable[bytes | None]]


def body_response(headers_in: Any, body: bytes, media_type: str, max_age: int) -> Response:
    """:func:`public_response` for a body built for this request only (the
    front handlers'): the same ETag, Cache-Control, 304 and gzip."""
    gz = None
    if len(body) >= 1024 and "gzip" in headers_in.get("accept-encoding", ""):
        gz = gzip.compress(body, compresslevel=6, mtime=0)
    entry = CachedBody(body=body, gz=gz, etag=etag_of(body), media_type=media_type)
    return public_response(headers_in, entry, max_age)


async def cached_public(request: Request, build: Callable[[Connection], Any], *,
                        media_type: str = "application/json",
                        per_minute: bool = False) -> Response:
    """Answer a public GET from the cache, or build it with ``build(conn)`` (in
    the thread pool) and cache it. ``per_minute``: the body depends on the
    current minute (``open_now``)."""
    state = request.app.state
    cache: PublicCache = state.public_cache
    key = (request.scope["path"], request.scope.get("query_string", b""),
           china_minute() if per_minute else None)
    tag = cache.versions.fresh_tag()
    if tag is None:
        tag = await run_in_threadpool(cache.versions.get_tag)
    entry = cache.entries.get(key, tag) if cache.enabled else None
    if entry is None:
        entry = await _build_once(state, cache, key, tag, build, media_type)
    return public_response(request.headers, entry, state.settings.cache_max_age_s)


def _ignore_failure(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # a failed build: the next request retries


async def _build_once(state: Any, cache: PublicCache, key: Hashable, tag: str,
                      build: Callable[[Connection], Any], media_type: str) -> CachedBody:
    """Build ``key``'s body at data version ``tag``; concurrent callers share one build."""
    flight = (key, tag)
    pending = cache.pending.get(flight)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    future.add_done_callback(_ignore_failure)
    cache.pending[flight] = future

    def run() -> CachedBody:
        with state.read_engine.connect() as conn:
            content = build(conn)
        return make_body(content, media_type)

    try:
        entry = await build_in_thread(state, run)
    except asyncio.CancelledError:
        future.cancel()
        raise
    except Exception as exc:
        future.set_exception(exc)
        raise
    finally:
        cache.pending.pop(flight, None)
    if cache.enabled:
        cache.entries.put(key, tag, entry, len(entry.body) + len(entry.gz or b""))
    future.set_result(entry)
    return entry
