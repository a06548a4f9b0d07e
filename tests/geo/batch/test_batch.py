"""The province batch (geo.batch) on a real database: Dask with 2 workers gives
exactly the single-process results, a killed worker still completes with them,
reruns skip what is fresh, a moved position redoes its town only, bad input is
refused with one line."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import create_engine, text

from geo.batch import BatchParams, MemoryEstimate, check_memory, plan_towns, run_batch
from geo.errors import ConfigurationError, InvalidInput, NotFound
from geo.store.migrate import upgrade

PARAMS = BatchParams(minutes=10, profile="elderly", halo_m=1500)


def _strip(value):
    """A result without the instants it was computed at (they differ run to run)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "computed_at"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _state(url: str) -> tuple[dict, dict]:
    eng = create_engine(url)
    with eng.connect() as c:
        circles = {r.point_code: (bytes(r.wkb), r.input_version) for r in c.execute(text(
            "SELECT point_code, ST_AsBinary(geom) AS wkb, input_version FROM service_circles"))}
        results = {(r.region_code, r.analysis): (r.input_version, _strip(r.result))
                   for r in c.execute(text("SELECT * FROM batch_results"))}
    eng.dispose()
    return circles, results


def _reset(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text("DELETE FROM batch_results"))
        c.execute(text("DELETE FROM service_circles"))
    eng.dispose()


@pytest.fixture(scope="module")
def towns_url(pg_cluster, samples):
    """Two sample towns in a database of this module's own (it is written)."""
    from data.loading import load_sample

    url = pg_cluster.create_database("sm_batch")
    upgrade(url)
    eng = create_engine(url)
    for s in samples.values():
        load_sample(eng, s, log=lambda m: None)
    eng.dispose()
    return url


def test_single_process_then_rerun_skips(towns_url):
    _reset(towns_url)
    run = run_batch(towns_url, "44", PARAMS, single=True, log=lambda m: None)
    assert run.ok and run.towns == 2
    assert {r["coverage"] for r in run.results} == {"stored"}
    eng = create_engine(towns_url)
    with eng.connect() as c:
        points = c.execute(text("SELECT count(*) FROM service_points WHERE deleted_at IS NULL"
                                )).scalar_one()
        assert sum(r["computed"] for r in run.circles) == points
        # the stored coverage is the coverage analyse gives for the town itself
        from geo.coverage import CoverageParams, analyse, reach_coverage

        direct = reach_coverage(analyse(c, "440507013", CoverageParams(minutes=10))).as_dict()
        stored = c.execute(text("SELECT result FROM batch_results WHERE region_code = "
                                "'440507013' AND analysis = 'coverage'")).scalar_one()
    eng.dispose()
    assert stored["totals"] == direct["totals"]
    again = run_batch(towns_url, "44", PARAMS, single=True, log=lambda m: None)
    assert sum(r["computed"] for r in again.circles) == 0
    assert {r["coverage"] for r in again.results} == {"unchanged"}
    assert {r["walk"] for r in again.results} == {"unchanged"}


def test_halo_circle_equals_whole_network_circle(towns_url):
    """A circle walked on the town's halo cut is the circle on the whole network."""
    from geo.batch import halo_networks
    from geo.batch.plan import grow_bbox
    from geo.circles import CircleParams
    from geo.circles.networks import Networks
    from geo.circles.stored import circles_at
    from geo.profiles import walking_budget

    eng = create_engine(towns_url)
    with eng.connect() as c:
        task = next(t for t in plan_towns(c, "440605126", PARAMS))
        rows = c.execute(text("SELECT ST_X(geom) AS x, ST_Y(geom) AS y FROM service_points "
                              "WHERE region_code LIKE '440605126%' ORDER BY code LIMIT 12")).all()
        whole = Networks.load(c)
        # a box just wider than the walk around the first point
        box = grow_bbox((rows[0].x, rows[0].y, rows[0].x, rows[0].y), 1500)
        cut = halo_networks(c, task.datasets, box)
    eng.dispose()
    rows = rows[:1]
    assert cut.by_dataset["lishui"].n_edges < whole.by_dataset["lishui"].n_edges
    b = walking_budget("elderly", 10)
    xs, ys = [r.x for r in rows], [r.y for r in rows]
    a = circles_at(whole, xs, ys, b, params=CircleParams())
    h = circles_at(cut, xs, ys, b, params=CircleParams())
    for ca, ch in zip(a, h, strict=True):
        assert ca.polygon.symmetric_difference(ch.polygon).area < 1e-12 * max(ca.polygon.area, 1)


def test_dask_two_workers_equal_single_and_survive_a_killed_worker(towns_url):
    from distributed import Client, LocalCluster

    _reset(towns_url)
    run_batch(towns_url, "44", PARAMS, single=True, log=lambda m: None)
    single = _state(towns_url)
    assert single[0] and single[1]

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        _reset(towns_url)
        run = run_batch(towns_url, "44", PARAMS, client=client, log=lambda m: None)
        assert run.ok and run.workers == 2
        assert len({r["worker"] for r in run.circles}) >= 1
        assert _state(towns_url) == single

        # kill a worker process as soon as the first task has finished
        _reset(towns_url)
        pids = client.run(os.getpid)
        killed = []

        def log(msg: str) -> None:
            if not killed and msg.startswith("[1/"):
                pid = next(iter(pids.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        run = run_batch(towns_url, "44", PARAMS, client=client, log=log)
        assert killed, "no worker was killed"
        assert run.ok, run.failed
        assert _state(towns_url) == single


def test_moved_position_redoes_its_town_only(towns_url):
    run_batch(towns_url, "44", PARAMS, single=True, log=lambda m: None)
    eng = create_engine(towns_url)
    with eng.begin() as c:
        code = c.execute(text("SELECT code FROM service_points WHERE region_code LIKE "
                              "'440507013%' ORDER BY code LIMIT 1")).scalar_one()
        before = c.execute(text("SELECT region_code, input_version FROM batch_results "
                                "WHERE analysis = 'coverage' ORDER BY 1")).all()
        c.execute(text("UPDATE service_points SET geom = ST_Translate(geom, 0.0015, 0), "
                       "version = version + 1 WHERE code = :c"), {"c": code})
        from geo.batch import refresh_point

        tasks = {t.code: t for t in plan_towns(c, "44", PARAMS)}
        out = refresh_point(c, code, PARAMS, tasks)
        after = dict(c.execute(text("SELECT region_code, input_version FROM batch_results "
                                    "WHERE analysis = 'coverage'")).all())
    eng.dispose()
    assert out["towns"] == ["440507013"]
    before = dict(before)
    assert after["440507013"] != before["440507013"]
    assert after["440605126"] == before["440605126"]


def test_bad_input_is_refused_in_one_line(towns_url):
    with pytest.raises(NotFound, match="4499"):
        run_batch(towns_url, "4499", PARAMS, single=True, log=lambda m: None)
    with pytest.raises(InvalidInput, match="前缀"):
        run_batch(towns_url, "44a", PARAMS, single=True, log=lambda m: None)
    # a scheduler nobody listens on: refused within the timeout, never a hang
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConfigurationError, match="无法连接 Dask 调度器"):
        run_batch(towns_url, "44", PARAMS, scheduler=f"tcp://127.0.0.1:{port}",
                  connect_timeout_s=2, log=lambda m: None)
    # an estimate over the available memory is refused with the size it needs
    est = MemoryEstimate(workers=2, largest_town="440605126 里水镇",
                         per_worker_bytes=3 * 2**30, total_bytes=6 * 2**30)
    with pytest.raises(InvalidInput, match="6.0 GB"):
        check_memory(est, fraction=0.8, available=4 * 2**30)
    check_memory(est, fraction=0.8, available=8 * 2**30)
