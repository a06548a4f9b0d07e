"""Request dependencies: settings, database connections, authentication and
strict query strings (the HTTP caching of public responses is :mod:`api.caching`).

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

from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.engine import Connection, Engine

from api.auth import bearer, forbidden, principal_from_request, unauthorized
from api.settings import Settings
from geo.circles import Networks
from geo.tokens import ROLE_ZH, ROLES, Principal

__all__ = [
    "SettingsDep",
    "public_base",
    "app_networks",
    "current_token",
    "get_conn",
    "get_engine",
    "get_settings",
    "read_engine",
    "reject_unknown_query",
    "require_admin",
    "require_planner",
    "require_role",
    "require_viewer",
]


async def get_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in the thread pool, a hop
    # that costs milliseconds when the event loop is busy
    return request.app.state.settings


#: The app's settings as a route parameter.
SettingsDep = Annotated[Settings, Depends(get_settings)]


def public_base(request: Request) -> str:
    """The base of absolute URLs in answers (TileJSON, QR codes, icon links):
    ``SERVICEMAP_PUBLIC_URL`` when set; else the request's own address when its
    ``Host`` is the server's, ``localhost`` or in ``SERVICEMAP_ALLOWED_HOSTS``;
    else the server's configured address (a forged ``Host`` is never echoed)."""
    settings: Settings = request.app.state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = (request.headers.get("host") or "").strip().lower()
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:  # a malformed Host
        name = ""
    allowed = {h.lower() for h in settings.allowed_hosts} | {
        settings.host.lower(), "localhost", "127.0.0.1", "::1"}
    if host in allowed or name in allowed:
        return str(request.base_url).rstrip("/")
    return f"http://{settings.host}:{settings.port}"


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def read_engine(request: Request) -> Engine:
    """The engine of a request that only reads: the reader role's
    (:mod:`geo.store.roles`: no writing, no personal data) for an anonymous
    GET or HEAD, else the owner's."""
    if request.method in ("GET", "HEAD") and "authorization" not in request.headers:
        return request.app.state.read_engine
    return request.app.state.engine


def app_networks(request: Request, conn: Connection) -> Networks:
    """The walking networks, loaded once per network version and shared by
    every route of the app (``app.state.network_cache``)."""
    return request.app.state.network_cache.get(conn)


def get_conn(request: Request) -> Iterator[Connection]:
    """A connection for the request (:func:`read_engine`'s for anonymous reads)."""
    with read_engine(request).connect() as conn:
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

    async def dependency(principal: Principal | None = Depends(current_token)) -> Principal:
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
