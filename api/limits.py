"""Request budgets: rate limits per client and per token, and a cap on the
expensive analytics running at once.

Three budgets (moving windows, the ``limits`` library, in the process's memory):

* **every request, per client address** (``SERVICEMAP_RATE_LIMIT``): generous —
  a map page fetches dozens of tiles — and not applied to a local client that
  is not a proxy's forward (benchmarks, health checks on the machine itself);
* **failed authentications, per client address**
  (``SERVICEMAP_RATE_LIMIT_AUTH_FAILURES``): once spent, every request that
  carries a token is answered 429 until the window moves on, so a token cannot
  be guessed at thousands of tries a second;
* **residents' submissions** (one-time codes, wishes, ratings), per client
  address (``SERVICEMAP_RATE_LIMIT_SUBMISSIONS``), also for a local client: a
  phone has limits of its own in :mod:`geo.residents`;
* **expensive analytics** (coverage reports, gaps, siting, what-if, snapshots,
  article images, proposed sites), per token, else per client address
  (``SERVICEMAP_RATE_LIMIT_EXPENSIVE``, ``..._TOKEN``).

A spent budget is 429 problem+json with ``Retry-After``. The client address is
the connection's peer, or — when the peer is a trusted proxy
(``SERVICEMAP_TRUSTED_PROXIES``, loopback by default) — the last address of
``X-Forwarded-For`` that is not itself a trusted proxy.

At most ``SERVICEMAP_EXPENSIVE_CONCURRENCY`` expensive computations run at
once; a request that finds them all busy waits up to ``pool_timeout_s``, then
gets 503 with ``Retry-After``: the thread pool and the database stay free for
everyone else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.settings import Settings

__all__ = ["Budgets", "client_address", "expensive", "expensive_work"]


def client_address(scope: dict, trusted: frozenset[str]) -> tuple[str, bool]:
    """``(address, local)`` of a request's client; ``local``: a trusted proxy's
    own request (no ``X-Forwarded-For``), i.e. a client on the machine itself."""
    peer = (scope.get("client") or ("", 0))[0] or ""
    if peer not in trusted:
        return peer, False
    forwarded = None
    for k, v in scope.get("headers", ()):
        if k == b"x-forwarded-for":
            forwarded = v.decode("latin-1")
    if not forwarded:
        return peer, True
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted:
            return hop, False
    return peer, True


def too_many(detail: str, retry_after: int) -> HTTPException:
    return HTTPException(429, detail, headers={"Retry-After": str(max(1, retry_after))})


class Budgets:
    """The app's budgets (one per app, ``app.state.budgets``)."""

    def __init__(self, settings: Settings) -> None:
        self.storage = MemoryStorage()
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.general = parse(settings.rate_limit)
        self.auth_failures = parse(settings.rate_limit_auth_failures)
        self.expensive_anonymous = parse(settings.rate_limit_expensive)
        self.expensive_token = parse(settings.rate_limit_expensive_token)
        self.submissions = parse(settings.rate_limit_submissions)
        self.trusted = frozenset(settings.trusted_proxies)
        self.busy = threading.BoundedSemaphore(settings.expensive_concurrency)
        self.wait_s = settings.pool_timeout_s

    def _retry_after(self, item, *keys: str) -> int:
        reset = self.limiter.get_window_stats(item, *keys).reset_time
        return int(reset - time.time()) + 1

    def request(self, scope: dict) -> int | None:
        """Spend one request of the client's general budget; the seconds to wait
        when it is spent, else None."""
        address, local = client_address(scope, self.trusted)
        if local:
            return None
        if self.limiter.hit(self.general, "req", address):
            return None
        return self._retry_after(self.general, "req", address)

    def check_auth(self, request: Request) -> None:
        """429 when the client has spent its budget of failed authentications."""
        address, _ = client_address(request.scope, self.trusted)
        if not self.limiter.test(self.auth_failures, "auth", address):
            raise too_many("认证失败次数过多，请稍后再试",
                           self._retry_after(self.auth_failures, "auth", address))

    def auth_failed(self, request: Request) -> None:
        address, _ = client_address(request.scope, self.trusted)
        self.limiter.hit(self.auth_failures, "auth", address)

    def spend_expensive(self, request: Request, token: str | None) -> None:
        """Spend one expensive computation of the token's (or the client's) budget."""
        if token is not None:
            item, keys = self.expensive_token, ("expensive-token", token)
        else:
            address, _ = client_address(request.scope, self.trusted)
            item, keys = self.expensive_anonymous, ("expensive", address)
        if not self.limiter.hit(item, *keys):
            raise too_many("分析类请求过于频繁，请稍后再试", self._retry_after(item, *keys))

    def spend_submission(self, request: Request) -> None:
        """Spend one resident submission of the client address's budget (429 when spent)."""
        address, _ = client_address(request.scope, self.trusted)
        if not self.limiter.hit(self.submissions, "submit", address):
            raise too_many("提交过于频繁，请稍后再试",
                           self._retry_after(self.submissions, "submit", address))

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Hold one of the expensive slots (503 when none frees up in time)."""
        if not self.busy.acquire(timeout=self.wait_s):
            raise HTTPException(503, "分析任务繁忙，请稍后重试", headers={"Retry-After": "5"})
        try:
            yield
        finally:
            self.busy.release()


@contextmanager
def expensive_work(request: Request) -> Iterator[None]:
    """Around an expensive computation: spend the caller's budget (its token's,
    else its address's) and hold an expensive slot while it runs."""
    budgets: Budgets = request.app.state.budgets
    principal = getattr(request.state, "principal", None)
    budgets.spend_expensive(request, principal.prefix if principal else None)
    with budgets.computing():
        yield


def expensive(request: Request) -> Iterator[None]:
    """Dependency of expensive routes (:func:`expensive_work` around the route)."""
    with expensive_work(request):
        yield
