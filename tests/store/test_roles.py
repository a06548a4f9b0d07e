"""Least privilege (issue 11 #6): the product connects as an owner role that is
no superuser and owns every table (migrations ran as it); public reads use a
reader role that cannot write and cannot read personal data, tokens or the
audit log; a cluster made before the roles existed is handed over at start."""

from __future__ import annotations

import json

import psycopg
import pytest

from geo.store.cluster import LocalCluster
from geo.store.roles import OWNER, READER, hidden_columns

pytestmark = pytest.mark.reliability


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg", "postgresql")


def test_the_product_is_no_superuser_and_owns_its_tables(pg_cluster, samples_url):
    with psycopg.connect(_dsn(samples_url), autocommit=True) as c:
        me, sup, createdb, createrole = c.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user").fetchone()
        assert (me, sup, createdb, createrole) == (OWNER, False, False, False)
        owners = dict(c.execute(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'spatial_ref_sys'").fetchall())
        assert len(owners) >= 15 and set(owners.values()) == {OWNER}, owners
        # the migrations ran as the owner: their bookkeeping table is the owner's
        assert owners["alembic_version"] == OWNER
        # and it cannot reach past its database
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("CREATE DATABASE sm_not_allowed")


def test_the_reader_reads_public_data_only_and_writes_nothing(pg_cluster, samples_url):
    name = samples_url.rsplit("/", 1)[1]
    with psycopg.connect(_dsn(pg_cluster.url(database=name, role="reader")),
                         autocommit=True) as c:
        assert c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") \
            .fetchone() == (False,)
        assert c.execute("SELECT count(*) FROM service_points").fetchone()[0] > 100
        assert c.execute("SELECT count(*) FROM grid_cells WHERE code IS NOT NULL") \
            .fetchone()[0] > 0
        # every transaction is read-only ...
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            c.execute("UPDATE service_points SET name = name")
        # ... and when the session asks for writing, it has no right to
        c.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        for sql in ("UPDATE service_points SET name = name",
                    "DELETE FROM buildings",
                    "INSERT INTO meta (key, value) VALUES ('x', '{}')",
                    "TRUNCATE data_versions",
                    "CREATE TABLE reader_was_here (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(sql)
        for sql in ("SELECT token_hash FROM api_tokens", "SELECT actor FROM audit_log",
                    "SELECT private FROM grid_cells", "SELECT private FROM party_branches",
                    "SELECT * FROM grid_cells", "SELECT actor FROM coverage_snapshots"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(sql)
        assert c.execute("SELECT count(actor_role) FROM coverage_snapshots").fetchone()[0] >= 0
    # what is hidden: the private column of every entity with personal data
    assert hidden_columns()["grid_cells"] == ("private",)
    assert hidden_columns()["party_branches"] == ("private",)


def test_a_cluster_from_before_the_roles_is_handed_over(tmp_path):
    cluster = LocalCluster(tmp_path / "state", db_name="old", log=lambda m: None)
    try:
        cluster.start()
        # as an older version left it: the superuser owns the database and
        # everything in it, and the state file knows no other role
        with psycopg.connect(_dsn(cluster.url(role="superuser")), autocommit=True) as c:
            c.execute("ALTER DATABASE old OWNER TO servicemap")
            c.execute("ALTER SCHEMA public OWNER TO servicemap")
            c.execute("CREATE TABLE kept (x serial PRIMARY KEY, y int)")
            c.execute("INSERT INTO kept (y) VALUES (42)")
            c.execute("CREATE VIEW kept_view AS SELECT y FROM kept")
            c.execute("CREATE FUNCTION kept_fn(a int) RETURNS int LANGUAGE sql AS "
                      "'SELECT a + 1'")
        old = json.loads(cluster.state_file.read_text())
        del old["owner_password"], old["reader_password"]
        cluster.state_file.write_text(json.dumps(old))
        cluster.stop()
        cluster.start()
        state = json.loads(cluster.state_file.read_text())
        assert state["owner_password"] and state["reader_password"]
        with psycopg.connect(_dsn(cluster.url()), autocommit=True) as c:
            owners = c.execute("""
                SELECT relname, pg_get_userbyid(relowner) FROM pg_class
                WHERE relname IN ('kept', 'kept_view', 'kept_x_seq') ORDER BY relname
                """).fetchall()
            assert owners == [("kept", OWNER), ("kept_view", OWNER), ("kept_x_seq", OWNER)]
            assert c.execute("SELECT pg_get_userbyid(proowner) FROM pg_proc "
                             "WHERE proname = 'kept_fn'").fetchone() == (OWNER,)
            assert c.execute("SELECT pg_get_userbyid(datdba) FROM pg_database "
                             "WHERE datname = 'old'").fetchone() == (OWNER,)
            # PostGIS stays the superuser's
            assert c.execute("SELECT pg_get_userbyid(relowner) FROM pg_class "
                             "WHERE relname = 'spatial_ref_sys'").fetchone() == ("servicemap",)
            c.execute("INSERT INTO kept (y) VALUES (43)")
            assert c.execute("SELECT sum(y) FROM kept").fetchone() == (85,)
        with psycopg.connect(_dsn(cluster.url(role="reader")), autocommit=True) as c:
            assert c.execute("SELECT current_user").fetchone() == (READER,)
    finally:
        cluster.destroy()
