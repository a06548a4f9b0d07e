"""``application/problem+json`` answers (RFC 9457) for every 4xx/5xx.

Domain errors are mapped to HTTP statuses in one table; clients never see a
stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
    ServiceMapError,
)

log = logging.getLogger("servicemap.api")
TYPE_BASE = "https://servicemap.example/problems/"

#: domain error → (HTTP status, Chinese title)
STATUS: list[tuple[type[Exception], int, str]] = [
    (InvalidInput, 422, "请求参数不正确"),
    (NotFound, 404, "未找到"),
    (DatabaseUnavailable, 503, "数据库暂时不可用"),
    (ConfigurationError, 500, "服务器配置错误"),
]

HTTP_TITLES = {400: "请求有误", 401: "未认证", 403: "无权访问", 404: "未找到",
               405: "不支持的请求方法", 413: "请求体过大", 422: "请求参数不正确",
               429: "请求过于频繁", 500: "服务器内部错误", 503: "服务暂时不可用"}


def problem(status: int, type_: str, title: str, detail: str | None = None,
            **extra) -> JSONResponse:
    body = {"type": TYPE_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceMapError)
    async def _domain(request: Request, exc: ServiceMapError):
        for cls, status, title in STATUS:
            if isinstance(exc, cls):
                extra = {}
                if isinstance(exc, InvalidInput) and exc.problems:
                    extra["errors"] = [p.as_dict() for p in exc.problems]
                detail = exc.message if isinstance(exc, InvalidInput) else str(exc)
                return problem(status, exc.code, title, detail, **extra)
        return problem(500, "internal", HTTP_TITLES[500])

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = HTTP_TITLES.get(exc.status_code, "请求有误")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(exc.status_code, f"http-{exc.status_code}", title, detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(x) for x in e.get("loc", ())), "message": e.get("msg"),
                   "value": _safe(e.get("input"))} for e in exc.errors()]
        return problem(422, "validation", HTTP_TITLES[422], "参数校验失败", errors=errors)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal", HTTP_TITLES[500])


def _safe(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value if not isinstance(value, str) else value[:200]
    return str(value)[:200]
