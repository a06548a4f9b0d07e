"""Authentication with API tokens (``Authorization: Bearer smt_...``).

Tokens are created with ``servicemap token create``; see :mod:`geo.tokens`.
A missing or unknown token is 401 (with ``WWW-Authenticate: Bearer``), a
token lacking the role or region is 403.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from geo.tokens import Principal, authenticate

#: The OpenAPI security scheme of every route that takes a token.
bearer = HTTPBearer(
    auto_error=False, scheme_name="token",
    description="API token from `servicemap token create --role planner --region 440507013`: "
                "`Authorization: Bearer smt_...`.")

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="servicemap"'}


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=CHALLENGE)


def forbidden(detail: str) -> HTTPException:
    return HTTPException(status_code=403, detail=detail)


def principal_from_request(request: Request,
                           credentials: HTTPAuthorizationCredentials | None) -> Principal | None:
    """The request's principal: None without an ``Authorization`` header; 401
    for a malformed header or an unknown or revoked token."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None:
        if request.headers.get("authorization") is not None:
            request.app.state.budgets.check_auth(request)
            request.app.state.budgets.auth_failed(request)
            raise unauthorized("Authorization 头格式应为 `Bearer <令牌>`")
        return None
    budgets = request.app.state.budgets
    budgets.check_auth(request)  # 429 once too many tries failed
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        principal = authenticate(conn, credentials.credentials.strip())
    if principal is None:
        budgets.auth_failed(request)
        raise unauthorized("令牌无效或已吊销")
    request.state.principal = principal
    return principal
