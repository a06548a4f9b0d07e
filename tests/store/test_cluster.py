"""The embedded cluster: free port, loopback only, data kept across stop/start,
port conflicts resolved, clear errors."""

from __future__ import annotations

import json
import socket

import psycopg
import pytest

from geo.errors import DatabaseUnavailable
from geo.settings import StoreSettings as Settings
from geo.store.cluster import LocalCluster, port_is_free
from geo.store.engine import check_connection, make_engine, resolve_url


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def test_session_cluster_has_postgis_and_pgrouting(pg_cluster):
    with psycopg.connect(_dsn(pg_cluster.url(role="superuser"))) as c:
        exts = {r[0] for r in c.execute("SELECT extname FROM pg_extension")}
        assert {"postgis", "pgrouting"} <= exts
        assert c.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert c.execute("SHOW unix_socket_directories").fetchone()[0] == ""
        # the port recorded in the state file is the one the server listens on
        assert int(c.execute("SHOW port").fetchone()[0]) == pg_cluster.read_state().port


def test_state_file_is_private(pg_cluster):
    mode = pg_cluster.state_file.stat().st_mode & 0o777
    assert mode == 0o600
    state = json.loads(pg_cluster.state_file.read_text())
    assert set(state) == {"data_dir", "port", "password", "os_user", "db_name",
                          "owner_password", "reader_password"}
    assert len({state["password"], state["owner_password"], state["reader_password"]}) == 3


def test_stop_start_keeps_data_and_moves_off_a_busy_port(tmp_path):
    messages: list[str] = []
    cluster = LocalCluster(tmp_path / "state", db_name="keep", log=messages.append)
    try:
        state = cluster.start()
        with psycopg.connect(_dsn(cluster.url()), autocommit=True) as c:
            c.execute("CREATE TABLE kept (x int)")
            c.execute("INSERT INTO kept VALUES (42)")
        assert cluster.stop() is True
        assert cluster.running() is False
        assert cluster.stop() is False
        # something else takes the recorded port while the cluster is down
        blocker = socket.socket()
        # the stopped server's connections may leave the port in TIME_WAIT
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", state.port))
        blocker.listen()
        try:
            assert not port_is_free(state.port)
            new_state = cluster.start()
            assert new_state.port != state.port
            assert any(f"port {state.port} is in use" in m for m in messages)
            with psycopg.connect(_dsn(cluster.url())) as c:
                assert c.execute("SELECT x FROM kept").fetchone()[0] == 42
        finally:
            blocker.close()
        # starting an already running cluster is a no-op
        assert cluster.start().port == new_state.port
    finally:
        cluster.destroy()


def test_unreachable_database_url_is_one_line_with_masked_password():
    port = 1  # nothing listens on port 1 on loopback
    settings = Settings(database_url=f"postgresql://bob:s3cret@127.0.0.1:{port}/nowhere")
    engine = make_engine(resolve_url(settings))
    with pytest.raises(DatabaseUnavailable) as info:
        check_connection(engine)
    msg = str(info.value)
    assert "127.0.0.1:1" in msg
    assert "s3cret" not in msg
    assert "\n" not in msg


def test_external_url_starts_nothing(tmp_path):
    settings = Settings(database_url="postgresql://u:p@127.0.0.1:5999/x", state_dir=tmp_path / "s")
    url = resolve_url(settings, start=True)
    assert url.startswith("postgresql+psycopg://u:p@127.0.0.1:5999/x")
    assert not (tmp_path / "s").exists()
