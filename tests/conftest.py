"""Shared fixtures: one throwaway local PostGIS cluster for the whole session,
started through the same code as ``servicemap db start``."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.store.cluster import LocalCluster
from geo.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


#: the session's cluster, and the reader role's engines on its databases
_SESSION: dict[str, object] = {}


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory) -> LocalCluster:
    state = tmp_path_factory.mktemp("pgstate")
    cluster = LocalCluster(state, db_name="servicemap_test", log=lambda m: None)
    cluster.start()
    _SESSION["cluster"] = cluster
    yield cluster
    for eng in _SESSION.pop("readers", {}).values():
        eng.dispose()
    cluster.destroy()


def reader(engine: Engine) -> Engine:
    """An engine of the reader role on ``engine``'s database: what the app uses
    for anonymous reads (:mod:`geo.store.roles`), so the API tests read as
    production does."""
    readers: dict = _SESSION.setdefault("readers", {})
    name = engine.url.database
    if name not in readers:
        cluster: LocalCluster = _SESSION["cluster"]
        readers[name] = create_engine(cluster.url(database=name, role="reader"),
                                      pool_size=5, max_overflow=10)
    return readers[name]


def make_app(settings, engine: Engine):
    """The app on ``engine`` for anonymous reads as the reader role (as ``servicemap
    up`` builds it), writes and token reads as ``engine``'s owner."""
    from api.app import create_app

    return create_app(settings, engine=engine, read_engine=reader(engine))


@pytest.fixture(scope="session")
def db_url(pg_cluster) -> str:
    """An empty, migrated database."""
    url = pg_cluster.create_database("sm_empty")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(db_url):
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(engine):
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


@pytest.fixture(scope="session")
def samples():
    import data

    return {name: data.generate(name) for name in ("lishui", "longteng")}


@pytest.fixture(scope="session")
def samples_url(pg_cluster, samples) -> str:
    """A migrated database with both sample towns loaded (read-only for tests)."""
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_samples")
    upgrade(url)
    eng = create_engine(url)
    for s in samples.values():
        load_sample(eng, s, log=lambda m: None)
    eng.dispose()
    return url


@pytest.fixture(scope="session")
def samples_engine(samples_url):
    eng = create_engine(samples_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def center(samples_engine):
    """Lishui's town center (里水镇党群服务中心): code, name, kind, lng, lat."""
    with samples_engine.connect() as c:
        return c.execute(text(
            "SELECT code, name, kind, ST_X(geom) AS lng, ST_Y(geom) AS lat FROM service_points "
            "WHERE name = '里水镇党群服务中心'")).one()


@pytest.fixture
def samples_conn(samples_engine):
    with samples_engine.connect() as c:
        trans = c.begin()
        yield c
        trans.rollback()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, *, timeout_s: float = 30) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port in a thread;
    yields its base URL and stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def insert_regions(engine: Engine, samples: dict) -> None:
    """The sample towns' regions only (towns first, then their villages)."""
    from geo.store.copy import ewkb_hex

    with engine.begin() as conn:
        for s in samples.values():
            r = s.regions.sort_values("level", key=lambda x: x.map({"town": 0, "village": 1}))
            for row, g in zip(r.itertuples(index=False), ewkb_hex(r.geometry, multi=True),
                              strict=True):
                conn.execute(text(
                    "INSERT INTO regions (code, name, level, parent_code, geom) VALUES "
                    "(:c, :n, :l, :p, ST_GeomFromEWKB(decode(:g, 'hex')))"),
                    {"c": row.code, "n": row.name, "l": row.level,
                     "p": row.parent_code if row.level == "village" else None, "g": g})


def scalar(conn, sql: str, **params):
    return conn.execute(text(sql), params).scalar_one()


def pytest_sessionfinish(session, exitstatus):
    # CI fails on any skipped test.
    if os.environ.get("CI") and exitstatus == 0:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None and tr.stats.get("skipped"):
            session.exitstatus = 1
