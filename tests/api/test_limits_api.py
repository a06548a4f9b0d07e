"""Request budgets (issue 11 #4): failed authentications, requests per client,
expensive analytics per client and per token, a cap on expensive work at once,
and a request deadline — each answered 429 or 503 problem+json with Retry-After."""

from __future__ import annotations

import threading

import httpx
import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.limits import Budgets, client_address
from api.settings import Settings
from geo.tokens import create_token
from tests.api.conftest import seed_circles
from tests.conftest import make_app, serve_in_thread

pytestmark = pytest.mark.reliability

LONGTENG = "440507013"
TRUSTED = frozenset({"127.0.0.1", "::1"})


@pytest.fixture(scope="module")
def planner_token(samples_engine):
    with samples_engine.begin() as c:
        secret, _ = create_token(c, name="limits-planner", role="planner", regions=[LONGTENG])
    yield secret
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM api_tokens WHERE name = 'limits-planner'"))


@pytest.fixture(scope="module")
def longteng_circles(samples_engine):
    """Stored circles (plain buffers) for every Longteng point; removed afterwards."""
    with samples_engine.begin() as c:
        codes = c.execute(text("SELECT code FROM service_points "
                               "WHERE region_code LIKE :r"), {"r": LONGTENG + "%"}).scalars()
        seed_circles(c, list(codes))
    yield
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))


def _problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_guessing_tokens_is_stopped_after_the_budget(samples_engine, planner_token):
    app = make_app(Settings(rate_limit_auth_failures="20/minute"), samples_engine)
    with TestClient(app) as c:
        codes = [c.get("/api/v1/auth/whoami",
                       headers={"Authorization": f"Bearer smt_wrong{i:04d}"}).status_code
                 for i in range(60)]
        assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
        r = c.get("/api/v1/auth/whoami", headers={"Authorization": "Bearer smt_wrong"})
        assert int(r.headers["retry-after"]) >= 1
        _problem(r, 429)
        # while spent, even a good token from this client waits; no token is fine
        assert c.get("/api/v1/auth/whoami",
                     headers={"Authorization": f"Bearer {planner_token}"}).status_code == 429
        assert c.get("/api/v1/regions").status_code == 200


def test_the_client_address_behind_a_trusted_proxy():
    def scope(peer, xff=None):
        headers = [(b"x-forwarded-for", xff.encode())] if xff else []
        return {"client": (peer, 1234), "headers": headers}

    assert client_address(scope("203.0.113.5"), TRUSTED) == ("203.0.113.5", False)
    assert client_address(scope("127.0.0.1"), TRUSTED) == ("127.0.0.1", True)
    assert client_address(scope("127.0.0.1", "198.51.100.7"), TRUSTED) == \
        ("198.51.100.7", False)
    # a client cannot hide behind a forged first hop: the last untrusted hop counts
    assert client_address(scope("127.0.0.1", "10.9.9.9, 198.51.100.7"), TRUSTED) == \
        ("198.51.100.7", False)
    # a forwarded header from an untrusted peer is ignored
    assert client_address(scope("203.0.113.5", "198.51.100.7"), TRUSTED) == \
        ("203.0.113.5", False)


def test_every_request_of_a_remote_client_counts_a_local_one_does_not(samples_engine):
    app = make_app(Settings(rate_limit="5/minute", cache_ttl_s=0), samples_engine)
    with TestClient(app) as c:  # peer "testclient": a remote address
        codes = [c.get("/healthz").status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
    with serve_in_thread(app) as url:
        # on the machine itself (no proxy forward): not limited
        assert {httpx.get(f"{url}/healthz").status_code for _ in range(8)} == {200}
        # through the proxy, each forwarded client has its own budget
        one = [httpx.get(f"{url}/healthz", headers={"X-Forwarded-For": "198.51.100.1"})
               .status_code for _ in range(6)]
        two = httpx.get(f"{url}/healthz", headers={"X-Forwarded-For": "198.51.100.2"})
        assert one == [200] * 5 + [429] and two.status_code == 200


def test_expensive_analytics_have_their_own_budget_and_one_run(samples_engine, planner_token,
                                                               longteng_circles):
    app = make_app(Settings(rate_limit_expensive="2/minute",
                            rate_limit_expensive_token="3/minute"), samples_engine)
    with TestClient(app) as c:
        ok = [c.get("/api/v1/coverage", params={"region": LONGTENG, "decimals": d})
              for d in (0, 1)]
        assert [r.status_code for r in ok] == [200, 200]
        # two roundings of one run: the analysis was computed once
        assert len(app.state.analyses) == 1
        assert ok[0].json()["totals"]["population_covered"] == \
            ok[1].json()["totals"]["population_covered"]
        _problem(c.get("/api/v1/coverage", params={"region": LONGTENG, "decimals": 3}), 429)
        # a planner's token has its own, larger budget
        h = {"Authorization": f"Bearer {planner_token}"}
        codes = [c.get("/api/v1/coverage", params={"region": LONGTENG, "decimals": d},
                       headers=h).status_code for d in (3, 4, 5, 6)]
        assert codes == [200, 200, 200, 429]


def test_expensive_work_waits_for_a_slot_then_gets_503(samples_engine):
    budgets = Budgets(Settings(expensive_concurrency=1, pool_timeout_s=0.2))
    held, release = threading.Event(), threading.Event()

    def hold():
        with budgets.computing():
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(10)
    with pytest.raises(HTTPException) as e:
        with budgets.computing():
            pass
    assert e.value.status_code == 503 and e.value.headers["Retry-After"]
    release.set()
    t.join()
    with budgets.computing():  # free again
        pass


def test_a_request_past_its_deadline_is_answered_503(samples_engine):
    app = make_app(Settings(request_deadline_s=0.05, cache_ttl_s=0), samples_engine)
    with TestClient(app) as c:
        body = _problem(c.get("/maps/planner", params={"region": LONGTENG, "sites": 3}), 503)
        assert "超时" in body["detail"]
        # the app still answers afterwards
        assert c.get("/healthz").status_code == 200


def test_cached_answers_are_built_at_most_pool_minus_two_at_once():
    """After a write many cached answers go stale at once: their builds wait
    for a slot (no thread, no connection) instead of filling the thread pool
    with threads waiting for the database."""
    import asyncio
    import threading
    import time
    from types import SimpleNamespace

    from api.caching import build_in_thread

    state = SimpleNamespace(settings=Settings(pool_size=3, pool_max_overflow=1))
    running = peak = 0
    lock = threading.Lock()

    def build(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return i * i

    async def main() -> list[int]:
        return await asyncio.gather(*(build_in_thread(state, build, i) for i in range(12)))

    assert asyncio.run(main()) == [i * i for i in range(12)]
    assert peak == 2  # 3 + 1 connections, two kept for the rest
