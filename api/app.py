"""The FastAPI application, built by :func:`create_app` from settings."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from sqlalchemy.engine import Engine
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.caching import (
    FrontHandler,
    PublicCache,
    body_response,
    etag_matches,
    etag_of,
    public_response,
)
from api.deps import reject_unknown_query
from api.headers import SecurityHeaders
from api.limits import Budgets
from api.routes import all_routers, front_routes
from api.routes.access import walktime_provider
from api.routes.docs import BLOB_WORKER_PAGES
from api.routes.points import GEOJSON
from api.settings import Settings
from geo.cache import VersionedCache
from geo.circles import NetworkCache, QuerySnapshot
from geo.residents.otp import make_sender
from geo.store.engine import make_engine, resolve_read_url, resolve_url
from geo.store.versions import DataVersions
from maps.tiles import TileService

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

DESCRIPTION = """\
Service points (党群服务阵地), regions, service circles and coverage.

* **Public** routes need no token and never return personal data. Coordinates
  are WGS-84 unless `crs=gcj02|bd09` asks for a Chinese web-map system (Amap,
  Tencent, WeChat: `gcj02`; Baidu: `bd09`). Answers carry `ETag` and
  `Cache-Control`; send `If-None-Match` for a `304`.
* **Planner** routes need `Authorization: Bearer <token>` (`servicemap token create`).
  Roles: `viewer` < `planner` < `admin`; each token is scoped to division codes
  and everything below them.
* **Errors** are `application/problem+json` with a stable `type`, a Chinese
  `title` and, for validation, the fields in `errors`. Unknown query
  parameters are refused (422).
"""


class RequestHygiene:
    """Pure ASGI middleware: request body size limit (413), ``nosniff``,
    reading the data versions again after every successful write (so the
    app's caches never serve what the write changed), answers from the public
    response cache or from a route's front handler (``front_routes``: path →
    ``async (app.state, query string) -> body | None``), and
    ETag/Cache-Control/304 for public JSON GETs that do not set them."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int,
                 cache: PublicCache, max_age: int = 60, front: bool = True,
                 front_routes: dict[str, FrontHandler] | None = None,
                 body_timeout: float = 15.0, deadline: float = 60.0) -> None:
        self.app = app
        self.body_timeout = body_timeout
        self.deadline = deadline
        self.front = front
        self.front_routes = front_routes or {}
        self.max_age = max_age
        self.max_body = max_body
        self.max_upload = max_upload
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # a GET whose body is not sent (its headers, Content-Length included, are)
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        wait = scope["app"].state.budgets.request(scope)
        if wait is not None:
            response = problems.problem(429, "too-many-requests", problems.HTTP_TITLES[429],
                                        "请求过于频繁，请稍后再试",
                                        headers={"Retry-After": str(wait)})
            await response(scope, receive, self._nosniff(send))
            return
        try:
            async with asyncio.timeout(self.deadline):
                await self._handle(scope, receive, tracking)
        except TimeoutError:  # past the request's deadline
            problems.log.warning("%s %s passed its deadline of %g s", scope["method"],
                                 scope["path"], self.deadline)
            if not started:
                response = problems.problem(503, "timeout", problems.HTTP_TITLES[503],
                                            "请求处理超时，请稍后重试或缩小范围",
                                            headers={"Retry-After": "10"})
                await response(scope, receive, send)
        except Exception:  # the app's own failure: a 500 problem, the connection kept
            problems.log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                response = problems.problem(500, "internal", problems.HTTP_TITLES[500])
                await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        bad = _control_characters(scope)
        if bad is not None:
            response = problems.problem(
                422, "validation", problems.HTTP_TITLES[422], "请求中含有控制字符（如 %00）",
                errors=[{"field": bad, "message": "不能含有控制字符", "expected": "可打印的文本"}])
            await response(scope, receive, self._nosniff(send))
            return
        method = scope["method"]
        if method == "OPTIONS":  # (CORS preflights are answered before this)
            allowed = problems.allowed_methods(scope["app"], scope)
            if allowed:
                response = Response(status_code=204, headers={"Allow": ", ".join(allowed)})
            else:
                response = problems.problem(404, "not-found", problems.HTTP_TITLES[404],
                                            "Not Found")
            await response(scope, receive, self._nosniff(send))
            return
        if method not in WRITE_METHODS:
            if method == "GET" and self._public(scope) and self.front:
                # a fresh cached body for exactly this path and query string was
                # built (and its parameters validated) by a public route: answer
                # it here, as a caching proxy in front of the router would
                entry = self.cache.fresh(scope["path"], scope.get("query_string", b""))
                if entry is not None:
                    response = public_response(Headers(scope=scope), entry, self.max_age)
                    await response(scope, receive, self._nosniff(send))
                    return
                # a route's own front handler: the well-formed queries it can
                # answer without the router (None: the router answers)
                handler = self.front_routes.get(scope["path"])
                if handler is not None:
                    body = await handler(scope["app"].state, scope.get("query_string", b""))
                    if body is not None:
                        response = body_response(Headers(scope=scope), body, GEOJSON,
                                                 self.max_age)
                        await response(scope, receive, self._nosniff(send))
                        return
            if method == "GET" and self._public(scope):
                send = self._conditional(scope, send)
            await self.app(scope, receive, self._nosniff(send))
            return
        headers = Headers(scope=scope)
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        limit = self.max_upload if multipart else self.max_body
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await self._reject(scope, receive, send, 400, "Content-Length 无效")
                return
            if int(length) > limit:
                await self._reject(scope, receive, send, 413,
                                   f"请求体超过上限 {limit} 字节")
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except TimeoutError:
                raise StarletteHTTPException(
                    408, f"请求体在 {self.body_timeout:g} 秒内未传完",
                    headers={"Connection": "close"}) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, f"请求体超过上限 {limit} 字节")
            return message

        cache = self.cache
        inner_send = self._nosniff(send)

        async def send_and_invalidate(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                # the write is committed: read the data versions before the
                # answer goes out (in a thread; readers meanwhile keep theirs)
                await run_in_threadpool(cache.clear)
                # and the nearest-by-walk snapshot follows it before the
                # writer hears back, rather than in the next resident's search
                await run_in_threadpool(scope["app"].state.query_snapshot.refresh)
            await inner_send(message)

        await self.app(scope, limited_receive, send_and_invalidate)

    def _public(self, scope: Scope) -> bool:
        path = scope["path"]
        if not path.startswith("/api/") or path.startswith("/api/v1/planner"):
            return False
        return not any(k == b"authorization" for k, _ in scope["headers"])

    def _conditional(self, scope: Scope, send: Send) -> Send:
        """ETag, Cache-Control and 304 for public JSON GETs of routes that do not
        set them themselves (the cached routes do)."""
        inm = Headers(scope=scope).get("if-none-match")
        max_age = self.max_age
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                ctype = headers.get("content-type", "")
                if (message["status"] != 200 or "etag" in headers or "cache-control" in headers
                        or "json" not in ctype):
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            etag = etag_of(body)
            extra = [(b"etag", etag.encode()),
                     (b"cache-control", f"public, max-age={max_age}".encode())]
            if inm is not None and etag_matches(inm, etag):
                keep = [(k, v) for k, v in start.get("headers", [])
                        if k.lower() not in (b"content-length", b"content-type")]
                await send({"type": "http.response.start", "status": 304,
                            "headers": keep + extra})
                await send({"type": "http.response.body", "body": b""})
                return
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode())] + extra
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return wrapped

    @staticmethod
    def _nosniff(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-content-type-options", b"nosniff")]
            await send(message)
        return wrapped

    @staticmethod
    async def _reject(scope: Scope, receive: Receive, send: Send, status: int,
                      detail: str) -> None:
        response = problems.problem(status, problems.HTTP_TYPES[status],
                                    problems.HTTP_TITLES[status], detail,
                                    headers={"Connection": "close"})
        await response(scope, receive, send)


def _without_body(send: Send) -> Send:
    async def head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head


#: control characters (tab, CR and LF allowed); the OpenAPI says so (``PRINTABLE``)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _control_characters(scope: Scope) -> str | None:
    """Where a request's path or query string holds a control character (a NUL
    is refused by PostgreSQL in text), or None."""
    if _CONTROL.search(scope["path"]):
        return "path"
    query = scope.get("query_string", b"")
    if b"%" in query or _CONTROL.search(query.decode("latin-1")):
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if _CONTROL.search(key) or _CONTROL.search(value):
                return f"query.{key[:40]}"
    return None


class ProblemCORSMiddleware(CORSMiddleware):
    """CORS with an allowlist; a refused preflight is problem+json too."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode("utf-8", "replace")
        return problems.problem(response.status_code, "cors-refused", "跨域请求被拒绝",
                                f"{refused}（允许的来源见 SERVICEMAP_CORS_ORIGINS）")


def create_app(settings: Settings, *, engine: Engine | None = None,
               read_engine: Engine | None = None) -> FastAPI:
    """Build the app. ``engine`` (writes, and reads with a token) defaults to
    one on the configured database as its owner; ``read_engine`` (anonymous
    reads, :mod:`geo.store.roles`) to one as the reader role when the
    configuration has one, else ``engine``."""
    if engine is None:
        engine = make_engine(resolve_url(settings), settings, web=True)
        if read_engine is None:
            read_url = resolve_read_url(settings)
            if read_url is not None:
                read_engine = make_engine(read_url, settings, web=True)
    if read_engine is None:
        read_engine = engine
    app = FastAPI(title="ServiceMap 党群服务地图 API", version="0.1.0",
                  description=DESCRIPTION,
                  # the offline /docs and /redoc of api.routes.docs instead
                  docs_url=None, redoc_url=None,
                  dependencies=[Depends(reject_unknown_query)],
                  openapi_tags=[
                      {"name": "points", "description": "服务阵地（公开）"},
                      {"name": "regions", "description": "行政区划（公开）"},
                      {"name": "planner", "description": "规划编辑：需要令牌"},
                      {"name": "residents",
                       "description": "居民端：微心愿、微项目、阵地活动与评价（居民凭短信验证码，"
                                      "工作人员与党员凭令牌）"},
                      {"name": "health", "description": "存活与就绪检查"},
                  ])
    # the app's state, all made here: the data versions every cache follows,
    # and the caches (public responses, tiles, pages, networks, nearest snapshot)
    state = app.state
    state.settings = settings
    state.engine = engine
    state.read_engine = read_engine
    state.data_versions = versions = DataVersions(read_engine, ttl_s=settings.cache_ttl_s)
    state.public_cache = cache = PublicCache(versions, settings.cache_entries)
    state.network_cache = NetworkCache(versions)
    state.query_snapshot = QuerySnapshot(versions, state.network_cache,
                                         max_snap_m=settings.max_snap_m)
    state.map_tiles = TileService(read_engine, versions=versions,
                                  params={"minutes": float(settings.default_minutes),
                                          "profile": settings.default_profile})
    state.map_tiles.provide("walktime", walktime_provider(state))
    state.map_pages = VersionedCache(64)
    #: coverage analyses of public requests, one per parameters and data version
    state.analyses = VersionedCache(16)
    state.budgets = Budgets(settings)
    #: where residents' one-time codes go (geo.residents.otp; console by default)
    state.otp_sender = make_sender(settings.otp_sender, settings)
    app.add_middleware(RequestHygiene, max_body=settings.max_body_bytes,
                       max_upload=settings.max_upload_bytes, cache=cache,
                       max_age=settings.cache_max_age_s, front=settings.cache_front,
                       front_routes=front_routes(), body_timeout=settings.body_timeout_s,
                       deadline=settings.request_deadline_s)
    app.add_middleware(SecurityHeaders, embed_ancestors=settings.frame_ancestors,
                       blob_workers=BLOB_WORKER_PAGES)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match", "If-Match"],
            expose_headers=["ETag", "Location"], max_age=600)
    problems.install(app)
    for router in all_routers():
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


# --------------------------------------------------------------------------
# OpenAPI: problem+json for every error, 304 for public GETs
# --------------------------------------------------------------------------
#: Map pages that answer an unknown region or a bad parameter with an HTML page.
HTML_ERROR_PAGES = ("/maps/resident", "/embed/resident", "/maps/planner", "/maps/wishes")


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    from api.schemas import Problem

    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes, tags=app.openapi_tags)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem_schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components["Problem"] = problem_schema
    ref = {"$ref": "#/components/schemas/Problem"}
    optional = _optional_token_operations(app)
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if op.get("security") and (path, method.upper()) in optional:
                # a token adds detail; without one the answer is the public one
                op["security"] = [{}, *op["security"]]
            for param in op.get("parameters", []):
                _printable(param.get("schema", {}))
            responses = op.setdefault("responses", {})
            # 409: a valid request the stored data cannot answer (circles not computed,
            # a duplicate code); 429: the request budgets
            codes = {400, 404, 409, 422, 429, 500, 503}
            if op.get("security"):
                codes |= {401, 403}
            if method != "get":
                codes |= {408, 413}
            for code in codes:
                responses.setdefault(str(code), {"description": problems.HTTP_TITLES[code]})
            for code, resp in responses.items():
                if code[0] in "45":
                    resp["content"] = {problems.MEDIA_TYPE: {
                        "schema": ref, "example": problem_example(int(code))}}
                    resp.setdefault("description", problems.HTTP_TITLES.get(int(code), "错误"))
                    if path in HTML_ERROR_PAGES and code in ("404", "422"):
                        # a bad map link gets a Chinese page (api.routes.maps._error_html)
                        resp["content"]["text/html"] = {"schema": {"type": "string"}}
            public = not op.get("security") or {} in op["security"]
            if method == "get" and public and path.startswith("/api/"):
                responses.setdefault("304", {"description": "未修改（If-None-Match 命中）"})
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(schema, name):
            components.pop(name, None)
    _restore_examples(app, schema)
    app.openapi_schema = schema
    return schema


def _restore_examples(app: FastAPI, schema: dict[str, Any]) -> None:
    """Put back the ``null`` members of the examples, which FastAPI's encoding of the
    document drops (``exclude_none``): a branch's ``null`` geometry or a county's
    ``null`` parent is what the answer holds, and a required member left out breaks
    the example's schema. The examples are those on the media types of the routes'
    ``responses`` and the ``examples`` of the models of :mod:`api.schemas`."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.routing import iter_route_contexts
    from pydantic import BaseModel

    from api import schemas as models

    paths = schema.get("paths", {})
    for route in iter_route_contexts(app.routes):
        declared_responses = getattr(route, "responses", None)
        if not declared_responses or not route.path_format or not route.methods:
            continue
        for method in route.methods:
            op = paths.get(route.path_format, {}).get(method.lower())
            for status, declared in declared_responses.items() if op else ():
                answer = op.get("responses", {}).get(str(status), {})
                for media_type, media in (declared.get("content") or {}).items():
                    target = answer.get("content", {}).get(media_type)
                    if target is not None and "example" in media:
                        target["example"] = jsonable_encoder(media["example"])
    components = schema.get("components", {}).get("schemas", {})
    for name, model in vars(models).items():
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        extra = model.model_config.get("json_schema_extra")
        component = components.get(name)
        if isinstance(extra, dict) and "examples" in extra and component is not None \
                and "examples" in component:
            component["examples"] = jsonable_encoder(extra["examples"])


#: the ``detail`` of each error status's OpenAPI example (what the app says then)
PROBLEM_DETAILS = {
    400: "Content-Length 无效", 401: "令牌无效或已吊销",
    403: "令牌的区域范围（440507013）不包含 440605126", 404: "没有编码为“LS-9999”的服务阵地",
    408: "请求体在 15 秒内未传完", 409: "服务阵地编码 LS-0001 已存在",
    413: "请求体超过上限 1048576 字节", 429: "请求过于频繁，请稍后再试",
    503: "数据库暂时不可用，请稍后重试"}
#: the ``type`` of an error status's example where it is not the status's ``HTTP_TYPES``
PROBLEM_TYPES = {503: "database-unavailable"}


def problem_example(status: int) -> dict[str, Any]:
    """The example ``application/problem+json`` body of an error answer of ``status``
    in the OpenAPI (the 422 one is :class:`api.schemas.Problem`'s, naming a field)."""
    if status == 422:
        from api.schemas import Problem

        return Problem.model_config["json_schema_extra"]["examples"][0]
    kind = PROBLEM_TYPES.get(status) or problems.HTTP_TYPES.get(status, f"http-{status}")
    body: dict[str, Any] = {"type": problems.TYPE_BASE + kind,
                            "title": problems.HTTP_TITLES.get(status, "错误"), "status": status}
    if status in PROBLEM_DETAILS:  # 5xx answers carry no details, but for 503's advice
        body["detail"] = PROBLEM_DETAILS[status]
    return body


#: a string without what RequestHygiene refuses in a path or query (``_CONTROL``)
PRINTABLE = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$"


def _printable(schema: dict[str, Any]) -> None:
    """Declare on a string parameter what the app refuses in it: control
    characters (422), unless its own pattern, enum or format is stricter."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string" and not {"pattern", "enum", "format",
                                                   "const"} & set(branch):
            branch["pattern"] = PRINTABLE
        elif branch.get("type") == "array":
            _printable(branch.get("items", {}))


def _optional_token_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of the routes that take a token but do not require one:
    they depend on :func:`api.deps.current_token` and on no ``require_*``."""
    from fastapi.routing import iter_route_contexts

    def calls(dependant) -> list:
        out = []
        for d in dependant.dependencies:
            out.append(d.call)
            out += calls(d)
        return out

    found = set()
    for route in iter_route_contexts(app.routes):
        if getattr(route, "dependant", None) is None:
            continue
        names = {getattr(c, "__name__", "") for c in calls(route.dependant)}
        if "current_token" in names and not any(n.startswith("require_") for n in names):
            found |= {(route.path_format, m) for m in route.methods}
    return found


def _referenced(schema: dict[str, Any], name: str) -> bool:
    import json

    return f'"#/components/schemas/{name}"' in json.dumps(
        {k: v for k, v in schema.items() if k != "components"})
