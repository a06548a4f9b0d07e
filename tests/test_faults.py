"""Faults injected into a real PostgreSQL of its own (never the session's):
``kill -9`` of the postmaster and every backend under a write load, a kill
while an import is half written (through the API, and of the CLI process),
and more visitors to the map pages than the pool has connections.

What must hold: every write answered 2xx is in the database after the
restart, with its audit entry; a request while the database is down gets
503 problem+json with ``Retry-After`` (never a 500) and the app recovers by
itself; a killed import changes nothing; a crowd on the pages never freezes
the other routes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import text

from api.settings import Settings
from geo.store.cluster import LocalCluster
from geo.store.engine import make_engine
from geo.store.migrate import upgrade
from geo.tokens import create_token
from tests.conftest import ROOT, insert_regions, serve_in_thread
from tests.geo.io.test_tables_and_columns import point_rows, write_points_xlsx

pytestmark = pytest.mark.reliability

LISHUI = "440605126"
VILLAGE = "440605126004"


@pytest.fixture(scope="module")
def crashable(tmp_path_factory, samples):
    """A cluster of this module's own, holding Lishui's and Longteng's regions."""
    cluster = LocalCluster(tmp_path_factory.mktemp("faults"), db_name="sm_faults",
                           log=lambda m: None)
    cluster.start()
    url = cluster.url()
    upgrade(url)
    eng = make_engine(url)
    insert_regions(eng, samples)
    with eng.begin() as c:
        secret, _ = create_token(c, name="里水规划", role="planner", regions=[LISHUI])
    eng.dispose()
    yield cluster, url, secret
    cluster.destroy()


def _crash(cluster: LocalCluster) -> None:
    """``kill -9`` of the postmaster and all its backends at once: what a power
    cut leaves (nothing in PostgreSQL's shared memory survives)."""
    state = cluster.read_state()
    pid = int((Path(state.data_dir) / "data" / "postmaster.pid").read_text().split()[0])
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    for p in procs:
        with_gone(p.send_signal, signal.SIGKILL)
    psutil.wait_procs(procs, timeout=30)


def with_gone(fn, *a) -> None:
    try:
        fn(*a)
    except psutil.NoSuchProcess:
        pass


def _app(url: str, cluster: LocalCluster, **over):
    from api.app import create_app

    settings = Settings(cache_ttl_s=0, pool_timeout_s=1.0, **over)
    return create_app(settings, engine=make_engine(url, settings, web=True),
                      read_engine=make_engine(cluster.url(role="reader"), settings, web=True))


def _problem_503(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) >= 1
    assert "Traceback" not in r.text


def _spot(url: str) -> tuple[float, float]:
    eng = make_engine(url)
    with eng.connect() as c:
        p = c.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
                           "FROM regions WHERE code = :c) s"), {"c": VILLAGE}).one()
    eng.dispose()
    return tuple(p)


def test_acknowledged_writes_survive_a_crash_and_the_app_recovers(crashable):
    cluster, url, secret = crashable
    lng, lat = _spot(url)
    app = _app(url, cluster)
    acked: set[str] = set()
    statuses: list[int] = []
    crashed = threading.Event()
    after_crash: list[httpx.Response] = []
    stop = threading.Event()

    def writer(base: str, w: int) -> None:
        with httpx.Client(base_url=base, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            i = 0
            while not stop.is_set():
                i += 1
                code = f"CR-{w}-{i:05d}"
                r = client.post("/api/v1/points", json={
                    "code": code, "name": f"崩溃测试站{w}-{i}", "kind": "station",
                    "region_code": VILLAGE,
                    "geometry": {"type": "Point", "coordinates": [lng + i * 1e-6, lat]}})
                statuses.append(r.status_code)
                if r.status_code == 201:
                    acked.add(code)
                elif crashed.is_set():
                    after_crash.append(r)

    with serve_in_thread(app) as base:
        threads = [threading.Thread(target=writer, args=(base, w)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        _crash(cluster)
        crashed.set()
        acked_at_crash = len(acked)
        time.sleep(1.0)
        with httpx.Client(base_url=base, timeout=30) as probe:
            _problem_503(probe.get("/readyz"))
            assert probe.get("/healthz").status_code == 200
            _problem_503(probe.get("/api/v1/points", params={"region": LISHUI}))
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert after_crash, "no write reached the app while the database was down"
        for r in after_crash:
            _problem_503(r)
        assert set(statuses) <= {201, 503}, sorted(set(statuses))

        cluster.start()
        with httpx.Client(base_url=base, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            deadline = time.monotonic() + 30
            while (r := client.get("/readyz")).status_code != 200:
                assert time.monotonic() < deadline, r.text
                time.sleep(0.2)
            r = client.post("/api/v1/points", json={
                "code": "CR-AFTER", "name": "恢复后站", "kind": "station",
                "region_code": VILLAGE, "geometry": {"type": "Point", "coordinates": [lng, lat]}})
            assert r.status_code == 201, r.text
    app.state.engine.dispose()
    app.state.read_engine.dispose()

    assert acked_at_crash >= 150
    eng = make_engine(url)
    with eng.connect() as c:
        stored = set(c.execute(text(
            "SELECT code FROM service_points WHERE code LIKE 'CR-%' AND deleted_at IS NULL"))
            .scalars())
        audited = set(c.execute(text(
            "SELECT entity_code FROM audit_log WHERE entity_code LIKE 'CR-%' "
            "AND action = 'create'")).scalars())
        sync = c.execute(text("SHOW synchronous_commit")).scalar_one()
    eng.dispose()
    assert sync == "on"
    assert acked | {"CR-AFTER"} <= stored, sorted(acked - stored)[:10]
    assert acked | {"CR-AFTER"} <= audited, sorted(acked - audited)[:10]


def _held_audit_lock(url: str):
    """A connection holding ``audit_log`` locked: an import writes its rows,
    then waits there for its audit entry, half done."""
    eng = make_engine(url)
    conn = eng.connect()
    conn.begin()
    conn.execute(text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))
    return eng, conn


def _wait_for_lock_waiter(url: str, *, timeout_s: float = 60) -> None:
    eng = make_engine(url)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            with eng.connect() as c:
                waiting = c.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%audit_log%'")).scalar_one()
            if waiting:
                return
            assert time.monotonic() < deadline, "the import never reached its audit entry"
            time.sleep(0.1)
    finally:
        eng.dispose()


def _counts(url: str) -> tuple[int, int]:
    eng = make_engine(url)
    with eng.connect() as c:
        n = c.execute(text("SELECT count(*) FROM service_points")).scalar_one()
        a = c.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    eng.dispose()
    return n, a


def test_a_crash_during_an_api_import_changes_nothing(crashable, samples, tmp_path):
    cluster, url, secret = crashable
    path = write_points_xlsx(tmp_path / "阵地.xlsx", point_rows(samples, 40, prefix="KI"))
    before = _counts(url)
    app = _app(url, cluster)
    lock_eng, lock_conn = _held_audit_lock(url)
    with serve_in_thread(app) as base, ThreadPoolExecutor(1) as pool:
        fut = pool.submit(httpx.post, f"{base}/api/v1/imports",
                          files={"file": (path.name, path.read_bytes())},
                          data={"kind": "points", "crs": "gcj02"},
                          headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        _wait_for_lock_waiter(url)
        _crash(cluster)
        _problem_503(fut.result())
    lock_conn.invalidate()
    lock_eng.dispose()
    app.state.engine.dispose()
    app.state.read_engine.dispose()
    cluster.start()
    assert _counts(url) == before


def test_killing_the_cli_import_changes_nothing(crashable, samples, tmp_path):
    cluster, url, _ = crashable
    path = write_points_xlsx(tmp_path / "阵地.xlsx", point_rows(samples, 40, prefix="KC"))
    before = _counts(url)
    lock_eng, lock_conn = _held_audit_lock(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEMAP_")}
    env.update(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=url)
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "import", "points", str(path),
                             "--crs", "gcj02"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_lock_waiter(url)
        proc.kill()
        proc.wait(timeout=30)
    finally:
        lock_conn.rollback()
        lock_conn.close()
        lock_eng.dispose()
    # the server notices the dead client at once or at its next write: either
    # way its transaction is rolled back
    deadline = time.monotonic() + 30
    while _counts(url) != before:
        assert time.monotonic() < deadline, (_counts(url), before)
        time.sleep(0.2)
    assert _counts(url) == before


@pytest.mark.parametrize("path", ["/maps/resident", "/embed/resident", "/maps/static.png"])
def test_a_crowd_on_a_page_does_not_freeze_the_other_routes(samples_url, pg_cluster, path):
    from api.app import create_app

    settings = Settings(pool_size=3, pool_max_overflow=2, pool_timeout_s=2.0)
    name = samples_url.rsplit("/", 1)[1].split("?")[0]
    app = create_app(settings, engine=make_engine(samples_url, settings, web=True),
                     read_engine=make_engine(pg_cluster.url(database=name, role="reader"),
                                             settings, web=True))
    params = {"region": LISHUI}
    with serve_in_thread(app) as base:
        with httpx.Client(base_url=base, timeout=60) as warm:
            assert warm.get(path, params=params).status_code == 200
        others: list[int] = []

        def visitor(_: int) -> int:
            with httpx.Client(base_url=base, timeout=60) as c:
                return c.get(path, params=params).status_code

        with ThreadPoolExecutor(50) as pool:
            crowd = pool.map(visitor, range(150))
            with httpx.Client(base_url=base, timeout=60) as c:
                for _ in range(5):
                    others.append(c.get("/healthz").status_code)
                    others.append(c.get("/api/v1/points",
                                        params={"region": LISHUI, "limit": 5}).status_code)
            statuses = list(crowd)
    app.state.engine.dispose()
    app.state.read_engine.dispose()
    assert statuses.count(500) == 0
    assert set(statuses) <= {200, 503}
    # the pages take a connection only to build; built once, they are served
    # from memory, so the crowd is answered
    assert statuses.count(200) == len(statuses), {s: statuses.count(s) for s in set(statuses)}
    assert others == [200] * len(others)
