"""Request dependencies: settings, database connections, authentication,
strict query strings, and the HTTP caching of public GET responses.

Usable by every route module::

    from api.deps import current_token, require_planner, require_role

    @router.post("/api/v1/imports")
    def run_import(principal: Principal = Depends(require_planner)):
        if not principal.can_edit(region_code): ...

``require_planner`` returns a :class:`geo.tokens.Principal` (``.name``,
``.role``, ``.regions``, ``.can_edit(region_code)``; a scope includes every
code below it).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.engine import Connection, Engine

from api.auth import bearer, forbidden, principal_from_request, unauthorized
from api.settings import Settings
from geo.circles import Networks
from geo.hours import CHINA_TZ
from geo.tokens import ROLE_ZH, ROLES, Principal

__all__ = [
    "FrontHandler",
    "PublicCache",
    "app_networks",
    "body_response",
    "cached_public",
    "current_token",
    "get_conn",
    "get_engine",
    "get_settings",
    "invalidate_public_cache",
    "reject_unknown_query",
    "require_admin",
    "require_planner",
    "require_role",
    "require_viewer",
]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def app_networks(request: Request, conn: Connection) -> Networks:
    """The walking networks, loaded once per network version and shared by
    every route of the app (``app.state.network_cache``)."""
    return request.app.state.network_cache.get(conn)


def get_conn(request: Request) -> Iterator[Connection]:
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


# --------------------------------------------------------------------------
# authentication
# --------------------------------------------------------------------------
def current_token(request: Request,
                  credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                  ) -> Principal | None:
    """The caller's principal, or None when no token was sent (401 for a bad one)."""
    return principal_from_request(request, credentials)


def require_role(role: str) -> Callable[..., Principal]:
    """Dependency: a valid token with at least ``role`` (401 without a token,
    403 with a weaker role). Region checks are the caller's (``can_edit``)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(principal: Principal | None = Depends(current_token)) -> Principal:
        if principal is None:
            raise unauthorized("需要 API 令牌：Authorization: Bearer <令牌>")
        if not principal.has_role(role):
            raise forbidden(f"需要{ROLE_ZH[role]}（{role}）及以上角色，当前令牌为 "
                            f"{ROLE_ZH.get(principal.role, principal.role)}（{principal.role}）")
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


require_viewer = require_role("viewer")
require_planner = require_role("planner")
require_admin = require_role("admin")


# --------------------------------------------------------------------------
# strict query strings
# --------------------------------------------------------------------------
_ALLOWED: dict[int, frozenset[str]] = {}


def _query_names(dependant: Any) -> set[str]:
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """422 for query parameters the route does not declare (FastAPI would
    silently ignore them, hiding typos such as ``?regoin=``)."""
    if not request.url.query:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = _ALLOWED.get(id(route))
    if allowed is None:
        allowed = _ALLOWED[id(route)] = frozenset(_query_names(dependant))
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in allowed]
    if unknown:
        raise RequestValidationError([
            {"loc": ("query", k), "msg": "未知的查询参数", "type": "extra_forbidden",
             "input": request.query_params.get(k)} for k in unknown])


# --------------------------------------------------------------------------
# public GET responses: ETag, Cache-Control, 304, pre-compressed bodies
# --------------------------------------------------------------------------
@dataclass
class CachedBody:
    body: bytes
    gz: bytes | None
    etag: str
    media_type: str
    expires: float


def etag_of(body: bytes) -> str:
    """A weak validator of a body (a hash: equal bodies, equal tags)."""
    return 'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def encode_json(content: Any) -> bytes:
    """Compact UTF-8 JSON of a public body (orjson: about 10x the standard
    library on these bodies, a tenth of a ``/nearest`` request). NaN and
    infinity become ``null``; numpy scalars and arrays are numbers and lists."""
    return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def make_body(content: Any, media_type: str, ttl: float) -> CachedBody:
    body = encode_json(content)
    gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= 1024 else None
    return CachedBody(body=body, gz=gz, etag=etag_of(body), media_type=media_type,
                      expires=time.monotonic() + ttl)


class PublicCache:
    """The process's cache of built public responses (LRU, short time to live).

    Keys are the path and the complete query string (and the minute, for
    bodies with ``open_now``); entries are fresh for
    ``settings.cache_ttl_s`` seconds. Then the next request gets the old body
    while one rebuild runs in the background (stale-while-revalidate), so a
    busy route never stalls; concurrent misses of one key wait for a single
    build. Successful writes through the API clear the cache (see
    :func:`invalidate_public_cache` and the app's middleware), so this process
    never serves a body older than its own last write.
    """

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: OrderedDict[Any, CachedBody] = OrderedDict()
        self._lock = threading.Lock()
        self.generation = 0
        #: builds in flight, by key (futures of the event loop that started them)
        self.pending: dict[Any, asyncio.Future] = {}

    def get(self, key: Any) -> tuple[CachedBody | None, bool]:
        """``(entry, fresh)``; ``entry`` is None on a miss."""
        if self.ttl_s <= 0:
            return None, False
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None, False
            self._data.move_to_end(key)
            return entry, entry.expires >= time.monotonic()

    def fresh(self, path: str, query: bytes) -> CachedBody | None:
        """A fresh entry for a GET of ``path?query`` (either kind of key), or None."""
        if self.ttl_s <= 0 or not self._data:
            return None
        now = time.monotonic()
        with self._lock:
            for key in ((path, query, china_minute()), (path, query, None)):
                entry = self._data.get(key)
                if entry is not None and entry.expires >= now:
                    return entry
        return None

    def put(self, key: Any, entry: CachedBody, generation: int) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if generation != self.generation:
                return  # a write happened while this body was built
            self._data[key] = entry
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._data.clear()


def invalidate_public_cache(request: Request) -> None:
    """Forget every cached public response (call after a write)."""
    cache: PublicCache | None = getattr(request.app.state, "public_cache", None)
    if cache is not None:
        cache.clear()


def etag_matches(header: str, etag: str) -> bool:
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


def public_response(headers_in: Any, entry: CachedBody, max_age: int) -> Response:
    """The response for a cached body: 304 when ``If-None-Match`` matches, the
    gzipped bytes when the client accepts gzip."""
    headers = {"ETag": entry.etag, "Cache-Control": f"public, max-age={max_age}",
               "Vary": "Accept-Encoding"}
    inm = headers_in.get("if-none-match")
    if inm is not None and etag_matches(inm, entry.etag):
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
    entry = CachedBody(body=body, gz=gz, etag=etag_of(body), media_type=media_type,
                       expires=0.0)
    return public_response(headers_in, entry, max_age)


def china_minute() -> str:
    return datetime.now(CHINA_TZ).strftime("%Y%m%d%H%M")


async def cached_public(request: Request, build: Callable[[Connection], Any], *,
                        media_type: str = "application/json",
                        per_minute: bool = False) -> Response:
    """Answer a public GET from the cache, or build it with ``build(conn)`` (in
    the thread pool) and cache it. ``per_minute``: the body depends on the
    current minute (``open_now``)."""
    settings: Settings = request.app.state.settings
    cache: PublicCache = request.app.state.public_cache
    key = (request.scope["path"], request.scope.get("query_string", b""),
           china_minute() if per_minute else None)
    entry, fresh = cache.get(key)
    if entry is None:
        entry = await _build_once(request, cache, key, build, media_type)
    elif not fresh and key not in cache.pending:
        task = asyncio.ensure_future(_build_once(request, cache, key, build, media_type))
        task.add_done_callback(_ignore_failure)
    return public_response(request.headers, entry, settings.cache_max_age_s)


def _ignore_failure(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # a failed background refresh: the next request retries


async def _build_once(request: Request, cache: PublicCache, key: Any,
                      build: Callable[[Connection], Any], media_type: str) -> CachedBody:
    """Build ``key``'s body; concurrent callers share one build."""
    pending = cache.pending.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    future.add_done_callback(_ignore_failure)
    cache.pending[key] = future
    generation = cache.generation
    engine: Engine = request.app.state.engine

    def run() -> CachedBody:
        with engine.connect() as conn:
            content = build(conn)
        return make_body(content, media_type, cache.ttl_s)

    try:
        entry = await run_in_threadpool(run)
    except asyncio.CancelledError:
        future.cancel()
        raise
    except Exception as exc:
        future.set_exception(exc)
        raise
    finally:
        cache.pending.pop(key, None)
    cache.put(key, entry, generation)
    future.set_result(entry)
    return entry
