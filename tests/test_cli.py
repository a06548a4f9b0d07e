"""The ``servicemap`` command as a user runs it (subprocesses, real servers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "api.cli"]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICEMAP_")}
    env.update(extra)
    return env


def test_unreachable_url_exits_nonzero_without_traceback(tmp_path):
    r = subprocess.run(CLI + ["db", "status"], cwd=tmp_path, capture_output=True, text=True,
                       env=_env(SERVICEMAP_DATABASE_URL="postgresql://me:hunter2@127.0.0.1:1/x",
                                PYTHONPATH=str(ROOT)))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0] and "hunter2" not in lines[0]


def test_db_lifecycle_commands(tmp_path):
    env = _env(PYTHONPATH=str(ROOT), SERVICEMAP_STATE_DIR=str(tmp_path / "state"))

    def run(*a):
        return subprocess.run(CLI + list(a), cwd=tmp_path, capture_output=True, text=True,
                              env=env, timeout=120)
    try:
        assert '"created": false' in run("db", "status").stdout
        started = run("db", "start")
        assert started.returncode == 0, started.stderr
        assert "database running on 127.0.0.1:" in started.stdout
        status = run("db", "status").stdout
        assert '"running": true' in status
        url = run("db", "url").stdout.strip()
        assert url.startswith("postgresql+psycopg://servicemap_owner:***@127.0.0.1:")
        assert run("db", "stop").stdout.strip() == "database stopped"
        assert '"running": false' in run("db", "status").stdout
    finally:
        run("db", "stop")


def test_up_serves_points_from_an_external_database(pg_cluster, samples_url, tmp_path):
    """``servicemap up`` against SERVICEMAP_DATABASE_URL: migrates, keeps the data
    it finds, runs the analysis and serves the API."""
    port = free_port()
    reader = pg_cluster.url(database="sm_samples", role="reader")
    env = _env(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=samples_url,
               SERVICEMAP_READ_DATABASE_URL=reader,
               SERVICEMAP_PORT=str(port), SERVICEMAP_STATE_DIR=str(tmp_path / "unused"))
    proc = subprocess.Popen(CLI + ["up"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        body = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read())
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/points",
                              params={"region": "440605126"}, timeout=5)
                if r.status_code == 200:
                    body = r.json()
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        assert body is not None, "server did not come up"
        assert len(body["features"]) == 170
        assert not (tmp_path / "unused").exists()  # nothing local was started
        # the web app reads for the public as the reader role
        with psycopg.connect(pg_cluster.url(database="sm_samples", role="superuser")
                             .replace("postgresql+psycopg", "postgresql")) as c:
            users = {r[0] for r in c.execute(
                "SELECT usename FROM pg_stat_activity WHERE datname = 'sm_samples' "
                "AND application_name = 'servicemap web'")}
        assert users == {"servicemap_reader"}, users
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert "data present: sample not reloaded" in out


def test_up_refuses_a_busy_api_port_in_one_line(samples_url, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = _env(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=samples_url,
                   SERVICEMAP_PORT=str(port))
        r = subprocess.run(CLI + ["up"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f"servicemap: error: 无法在 127.0.0.1:{port} 上提供服务：该地址已被占用（ServiceMap "
        "是否已在运行？）；请用 --port 或 SERVICEMAP_PORT 换一个端口")


def test_load_sample_leaves_the_circles_current(pg_cluster, tmp_path):
    """After `servicemap load-sample longteng` every position has its 10-minute
    circle (the planner map and coverage work at once); `--no-circles` says
    which command to run instead."""
    url = pg_cluster.create_database("sm_cli_load_sample")
    env = _env(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=url)
    r = subprocess.run(CLI + ["load-sample", "longteng"], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as c:
        points, circles = c.execute(
            "SELECT (SELECT count(*) FROM service_points WHERE deleted_at IS NULL), "
            "(SELECT count(DISTINCT point_code) FROM service_circles "
            " WHERE minutes = 10 AND profile = 'elderly')").fetchone()
    assert points == circles == 33
    url2 = pg_cluster.create_database("sm_cli_load_sample_bare")
    r = subprocess.run(CLI + ["load-sample", "longteng", "--no-circles"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600,
                       env=_env(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=url2))
    assert r.returncode == 0, r.stderr
    assert "servicemap isochrones --minutes 10 --profile elderly" in r.stdout + r.stderr


def test_import_refuses_a_crs_the_streets_and_buildings_contradict(samples, samples_url,
                                                                   tmp_path):
    """``servicemap import points 里水阵地.csv --crs wgs84`` of positions taken in GCJ-02
    (Amap): exit 1, one line on stderr naming the file, the declared system, the
    distances and what to do; nothing written.  ``--trust-crs`` goes on (a dry run
    here: the samples' database is shared)."""
    from geo import crs as crsmod

    g = samples["lishui"].points.sort_values("code").geometry.head(12)
    x, y = crsmod.from_wgs84(g.x.to_numpy(), g.y.to_numpy(), "gcj02")
    src = tmp_path / "里水阵地.csv"
    src.write_text("编码,名称,类型,经度,纬度\n" + "".join(
        f"CLI-CRS-{i},阵地{i},党群服务站,{float(x[i])!r},{float(y[i])!r}\n" for i in range(len(x))),
        encoding="utf-8")
    env = _env(PYTHONPATH=str(ROOT), SERVICEMAP_DATABASE_URL=samples_url)
    dsn = samples_url.replace("postgresql+psycopg://", "postgresql://")

    def points() -> int:
        with psycopg.connect(dsn) as c:
            return c.execute("SELECT count(*) FROM service_points").fetchone()[0]

    before = points()
    r = subprocess.run(CLI + ["import", "points", str(src), "--crs", "wgs84"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    for part in ("里水阵地.csv", "--crs wgs84", "WGS-84", "楼栋", "米", "--crs gcj02",
                 "--trust-crs"):
        assert part in lines[0], part
    assert "坐标系依据：命令参数 --crs wgs84" in r.stdout and "未写入任何数据" in r.stdout
    assert points() == before
    r = subprocess.run(CLI + ["import", "points", str(src), "--crs", "wgs84", "--trust-crs",
                              "--dry-run", "--json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    import json

    report = json.loads(r.stdout)
    assert report["crs"] == "wgs84" and report["inserted"] == 12
    assert report["crs_evidence"]["winner"] == "gcj02"
    assert "crs_evidence_ignored" in [w["kind"] for w in report["warnings"]]
    assert points() == before
