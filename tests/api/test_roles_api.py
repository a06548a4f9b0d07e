"""The web app reads for the public as the reader role (issue 11 #6): anonymous
GETs of every kind — API, tiles, pages, nearest, coverage — never take a
connection of the owner's pool; writes and token reads do."""

from __future__ import annotations

import mercantile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.settings import Settings
from tests.api.conftest import bearer
from tests.conftest import make_app, reader

pytestmark = pytest.mark.reliability

LISHUI = "440605126"


@pytest.fixture
def owner_engine(samples_url):
    eng = create_engine(samples_url)
    yield eng
    eng.dispose()


def test_anonymous_reads_use_the_reader_only(owner_engine, samples_engine, center):
    app = make_app(Settings(cache_ttl_s=0, allowed_hosts=["testserver"]), owner_engine)
    assert app.state.read_engine is reader(samples_engine)
    t = mercantile.tile(center.lng, center.lat, 15)
    with TestClient(app) as c:
        for path, params in (
                ("/api/v1/points", {"region": LISHUI}),
                (f"/api/v1/points/{center.code}", {}),
                ("/api/v1/nearest", {"lng": center.lng, "lat": center.lat}),
                ("/api/v1/regions", {}),
                ("/api/v1/coverage/snapshots", {}),
                ("/tiles/points.json", {}),
                (f"/tiles/points/{t.z}/{t.x}/{t.y}.mvt", {}),
                (f"/tiles/grids/{t.z}/{t.x}/{t.y}.mvt", {}),
                ("/maps/resident", {"region": LISHUI}),
                ("/maps/planner", {"region": LISHUI}),
                ("/maps/static.png", {"region": LISHUI, "width": 600}),
                ("/readyz", {})):
            r = c.get(path, params=params)
            assert r.status_code in (200, 204), (path, r.status_code, r.text[:200])
            if path != "/readyz":
                # no connection of the owner was ever opened
                assert owner_engine.pool.checkedin() == 0, path
    # /readyz checks both pools: it opened the owner's one connection
    assert owner_engine.pool.checkedin() == 1


def test_token_requests_use_the_owner(owner_engine, samples_engine):
    from geo.tokens import create_token, revoke_token

    with owner_engine.begin() as conn:
        secret, info = create_token(conn, name="roles-viewer", role="viewer", regions=[LISHUI])
    try:
        app = make_app(Settings(cache_ttl_s=0), owner_engine)
        with TestClient(app) as c:
            r = c.get("/api/v1/planner/points", params={"region": LISHUI},
                      headers=bearer(secret))
            assert r.status_code == 200, r.text
        assert owner_engine.pool.checkedin() >= 1
    finally:
        with owner_engine.begin() as conn:
            revoke_token(conn, info.prefix)
