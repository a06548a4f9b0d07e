"""``application/problem+json`` answers (RFC 9457) for every 4xx/5xx.

Domain errors are mapped to HTTP statuses in one table; clients never see a
stack trace. ``type`` is a stable URI per kind of problem, ``title`` is
Chinese, and validation problems list every field in ``errors``
(``field``, ``message``, ``value``, ``expected``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import (
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceMapError,
)

log = logging.getLogger("servicemap.api")
TYPE_BASE = "https://servicemap.example/problems/"
MEDIA_TYPE = "application/problem+json"

#: domain error → HTTP status (the first matching class wins)
STATUS: list[tuple[type[Exception], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (RateLimited, 429),
    (DatabaseUnavailable, 503),
    (ConfigurationError, 500),
]

#: HTTP status → its one Chinese title (problem ``title`` and OpenAPI description)
HTTP_TITLES = {400: "请求有误", 401: "未认证", 403: "无权访问", 404: "未找到",
               405: "不支持的请求方法", 406: "无法提供所需格式", 408: "请求超时",
               409: "与现有数据冲突",
               411: "缺少请求体长度", 412: "前提条件不满足", 413: "请求体过大",
               415: "不支持的请求体格式", 422: "请求参数不正确", 429: "请求过于频繁",
               500: "服务器内部错误", 503: "服务暂时不可用"}

#: HTTP status → stable problem type (suffix of :data:`TYPE_BASE`)
HTTP_TYPES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
              405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
              411: "length-required", 412: "precondition-failed", 413: "payload-too-large",
              415: "unsupported-media-type", 422: "validation", 429: "too-many-requests",
              500: "internal", 503: "unavailable"}


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, default=str,
                          separators=(",", ":")).encode("utf-8", errors="replace")


def problem(status: int, type_: str, title: str, detail: str | None = None,
            headers: dict[str, str] | None = None, **extra) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    out_headers = {"Cache-Control": "no-store"}
    out_headers.update(headers or {})
    return ProblemResponse(body, status_code=status, headers=out_headers)


def problem_errors(problems, request: Request | None = None) -> list[dict[str, Any]]:
    """``errors`` entries of domain problems: each names its ``field``, as
    ``path.<name>`` for a path parameter, ``query.<name>`` when the request
    has that query parameter (or has no body: GET, HEAD, DELETE), else
    ``body.<name>``."""
    bodyless = request is not None and request.method in ("GET", "HEAD", "DELETE")
    query = request.query_params if request is not None else {}
    path = request.path_params if request is not None else {}
    out = []
    for p in problems:
        d = {k: _safe(v) for k, v in p.as_dict().items()}
        if p.column is not None:
            scoped = p.column.startswith(("body.", "query.", "path.", "header."))
            where = ("path" if p.column in path else
                     "query" if bodyless or p.column in query else "body")
            d["field"] = p.column if scoped or p.file else f"{where}.{p.column}"
        out.append(d)
    return out


#: pydantic's error types → the Chinese message a client sees (``{…}`` from the
#: error's context); a type not listed falls back to "取值不符合要求"
VALIDATION_MESSAGES = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON 文本",
    "model_type": "应为对象（JSON object）",
    "model_attributes_type": "应为对象（JSON object）",
    "dict_type": "应为对象（JSON object）",
    "list_type": "应为数组（JSON array）",
    "tuple_type": "应为数组（JSON array）",
    "set_type": "应为数组（JSON array）",
    "iterable_type": "应为数组（JSON array）",
    "string_type": "应为字符串",
    "string_unicode": "应为有效的 Unicode 字符串",
    "string_too_short": "长度至少为 {min_length} 个字符",
    "string_too_long": "长度至多为 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确，应符合 {pattern}",
    "string_not_ascii": "只能包含 ASCII 字符",
    "too_short": "至少应有 {min_length} 项",
    "too_long": "至多允许 {max_length} 项",
    "bool_type": "应为布尔值 true 或 false",
    "bool_parsing": "应为布尔值 true 或 false",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_parsing_size": "整数超出范围",
    "int_from_float": "应为整数，不能带小数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "decimal_type": "应为数字",
    "decimal_parsing": "应为数字",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应小于或等于 {le}",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "literal_error": "取值应为 {expected} 之一",
    "enum": "取值应为 {expected} 之一",
    "none_required": "应为空（null）",
    "date_type": "应为日期，如 2026-12-01",
    "date_parsing": "应为日期，如 2026-12-01",
    "date_from_datetime_parsing": "应为日期，如 2026-12-01",
    "date_from_datetime_inexact": "应为日期（不带时刻），如 2026-12-01",
    "datetime_type": "应为 ISO 8601 时间，如 2026-12-01T09:30",
    "datetime_parsing": "应为 ISO 8601 时间，如 2026-12-01T09:30",
    "datetime_from_date_parsing": "应为 ISO 8601 时间，如 2026-12-01T09:30（日期须真实存在）",
    "datetime_object_invalid": "时间不存在",
    "time_type": "应为时刻，如 09:30",
    "time_parsing": "应为时刻，如 09:30",
    "timezone_naive": "时间不应带时区",
    "timezone_aware": "时间应带时区，如 +08:00",
    "uuid_type": "应为 UUID",
    "uuid_parsing": "应为 UUID",
    "url_type": "应为网址",
    "url_parsing": "应为网址，如 https://map.example",
    "url_scheme": "网址协议不正确",
    "union_tag_invalid": "类型 {tag} 不正确，应为 {expected_tags} 之一",
    "union_tag_not_found": "缺少类型字段 {discriminator}",
    "bytes_type": "应为字符串",
}


def validation_error(e: dict[str, Any]) -> dict[str, Any]:
    """One ``errors`` entry of a request that failed validation: the field
    (``query.lat``, ``body.name``), a Chinese ``message``, the value, and
    pydantic's error type as ``code`` (stable, for programs)."""
    kind = e.get("type") or ""
    ctx = e.get("ctx") or {}
    # the project's own validators and checks already speak Chinese (pydantic
    # prefixes a validator's message with "Value error, ")
    own = re.sub(r"^(Value error|Assertion failed), ", "", str(e.get("msg") or ""))
    if re.search(r"[\u4e00-\u9fff]", own):
        message = own
    elif kind in VALIDATION_MESSAGES:
        values = {k: _safe(v) for k, v in ctx.items()}
        if isinstance(values.get("expected"), str):  # "'a', 'b' or 'c'" → "'a'、'b'、'c'"
            values["expected"] = re.sub(r",? or |, ", "、", values["expected"])
        try:
            message = VALIDATION_MESSAGES[kind].format(**values)
        except (KeyError, IndexError, ValueError):
            message = VALIDATION_MESSAGES[kind].split("{")[0].rstrip("，, ") or "取值不符合要求"
    else:
        message = "取值不符合要求"
    return {"field": ".".join(str(x) for x in e.get("loc", ())), "message": message,
            "value": None if kind == "missing" else _safe(e.get("input")), "code": kind}


@functools.lru_cache(maxsize=512)
def _path_regex(template: str) -> re.Pattern:
    from starlette.routing import compile_path

    return compile_path(template)[0]


def allowed_methods(app: Any, scope: Any) -> list[str]:
    """The methods the app answers at the scope's path (every route matching
    it; HEAD with GET, and OPTIONS), sorted; empty when no route matches."""
    from fastapi.routing import iter_route_contexts

    path = scope["path"]
    found: set[str] = set()
    for route in iter_route_contexts(app.routes):
        methods, template = route.methods, route.path
        if not methods or not template:
            continue
        if _path_regex(template).match(path):
            found |= set(methods)
    if not found:
        return []
    if "GET" in found:
        found.add("HEAD")
    return sorted(found | {"OPTIONS"})


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceMapError)
    async def _domain(request: Request, exc: ServiceMapError):
        for cls, status in STATUS:
            if isinstance(exc, cls):
                title = HTTP_TITLES[status]
                extra = {}
                if isinstance(exc, InvalidInput) and exc.problems:
                    extra["errors"] = problem_errors(exc.problems, request)
                if isinstance(exc, IllegalTransition):
                    extra.update(state=exc.state, action=exc.action,
                                 allowed=list(exc.allowed))
                if isinstance(exc, RateLimited):
                    return problem(status, exc.code, title, str(exc),
                                   headers={"Retry-After": str(exc.retry_after)})
                if status >= 500:  # details (hosts, URLs) are for the log only
                    log.error("%s on %s %s: %s", type(exc).__name__, request.method,
                              request.url.path, exc)
                    if isinstance(exc, DatabaseUnavailable):
                        return problem(status, exc.code, title, "数据库暂时不可用，请稍后重试",
                                       headers={"Retry-After": "5"})
                    return problem(status, exc.code, title)
                detail = exc.message if isinstance(exc, InvalidInput) else str(exc)
                return problem(status, exc.code, title, detail, **extra)
        log.error("unmapped domain error on %s %s: %s", request.method, request.url.path, exc)
        return problem(500, "internal", HTTP_TITLES[500])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = HTTP_TITLES.get(exc.status_code, "请求有误")
        detail = exc.detail if isinstance(exc.detail, str) else None
        type_ = HTTP_TYPES.get(exc.status_code, f"http-{exc.status_code}")
        headers = exc.headers
        if exc.status_code == 405:
            # every method of the path, not only those of the first route matched
            allowed = allowed_methods(request.app, request.scope)
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
            detail = f"不支持 {request.method} 方法；可用：{', '.join(allowed)}"
        return problem(exc.status_code, type_, title, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [validation_error(e) for e in exc.errors()]
        return problem(422, "validation", HTTP_TITLES[422], "参数校验失败", errors=errors)

    @app.exception_handler(ResponseValidationError)
    async def _bad_response(request: Request, exc: ResponseValidationError):
        log.error("response of %s %s does not match its model: %s", request.method,
                  request.url.path, exc.errors()[:3])
        return problem(500, "internal", HTTP_TITLES[500])

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError):
        log.error("database error on %s %s: %s", request.method, request.url.path,
                  str(exc.orig or exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if type(exc.orig).__name__ == "QueryCanceled":  # statement_timeout of the request
            return problem(503, "timeout", HTTP_TITLES[503], "请求处理超时，请稍后重试或缩小范围",
                           headers={"Retry-After": "10"})
        return problem(503, DatabaseUnavailable.code, HTTP_TITLES[503],
                       "数据库暂时不可用，请稍后重试", headers={"Retry-After": "5"})

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, exc: PoolTimeout):
        log.warning("no free database connection for %s %s within the pool timeout",
                    request.method, request.url.path)
        return problem(503, "busy", HTTP_TITLES[503], "服务繁忙：数据库连接已全部占用，请稍后重试",
                       headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal", HTTP_TITLES[500])


def _safe(value):
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, str):
        return value[:200].encode("utf-8", errors="replace").decode("utf-8")
    if isinstance(value, (list, tuple)) and len(value) <= 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [_safe(v) for v in value]
    return str(value)[:200]
