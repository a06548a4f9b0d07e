"""Data versions: a statement trigger bumps a table's version in the writing
transaction, whoever writes; DataVersions reads them; every tile layer follows
versioned tables."""

from __future__ import annotations

from sqlalchemy import text

from geo.store.versions import DataVersions, table_versions
from maps.layers import all_tables

BOX = "ST_Multi(ST_MakeEnvelope(113, 23, 113.001, 23.001, 4326))"


def _version(conn, table: str) -> int:
    return conn.execute(text("SELECT version FROM data_versions WHERE name = :t"),
                        {"t": table}).scalar_one()


def test_every_layer_and_network_table_is_versioned(conn):
    versioned = set(table_versions(conn))
    assert set(all_tables()) <= versioned
    assert {"network_nodes", "network_edges", "service_points", "buildings"} <= versioned
    triggers = set(conn.execute(text(
        "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE '%_data_version'"
    )).scalars())
    assert versioned == triggers


def test_each_writing_statement_bumps_once_and_a_rollback_bumps_nothing(engine):
    with engine.begin() as c:
        start = _version(c, "compounds")
    with engine.begin() as c:
        # one multi-row insert, one update, one delete: three statements
        c.execute(text(f"INSERT INTO compounds (code, name, geom) VALUES ('V1', 'a', {BOX}), "
                       f"('V2', 'b', {BOX})"))
        c.execute(text("UPDATE compounds SET name = 'c' WHERE code IN ('V1', 'V2')"))
        c.execute(text("DELETE FROM compounds WHERE code IN ('V1', 'V2')"))
    with engine.connect() as c:
        assert _version(c, "compounds") == start + 3
    with engine.connect() as c:
        t = c.begin()
        c.execute(text(f"INSERT INTO compounds (code, name, geom) VALUES ('V3', 'a', {BOX})"))
        assert _version(c, "compounds") == start + 4  # seen inside the transaction
        t.rollback()
    with engine.connect() as c:
        assert _version(c, "compounds") == start + 3
        before = _version(c, "regions")
        # a statement that changes no row still counts (the trigger is per statement)
        c.execute(text("UPDATE regions SET name = name WHERE false"))
        c.commit()
        assert _version(c, "regions") == before + 1


def test_data_versions_reuse_a_reading_until_invalidated(engine):
    versions = DataVersions(engine, ttl_s=3600)
    first = versions.get()
    with engine.begin() as c:
        c.execute(text(f"INSERT INTO water_areas (name, geom) VALUES ('x', {BOX})"))
    try:
        assert versions.get() is first  # within its time to live: no new reading
        versions.invalidate()
        assert versions.fresh() is None
        again = versions.get()
        assert again["water_areas"] == first["water_areas"] + 1
        assert DataVersions.tag(again, ["regions"]) == DataVersions.tag(first, ["regions"])
        assert DataVersions.tag(again) != DataVersions.tag(first)
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM water_areas WHERE name = 'x'"))
    assert DataVersions(engine, ttl_s=0).fresh() is None  # ttl 0: always read


def test_a_refresh_swaps_the_reading_readers_never_see_none(engine):
    """After a write the app reads the versions again itself (``refresh``):
    readers keep the last reading until the new one is in, so no reader is
    sent to the database by someone else's write."""
    versions = DataVersions(engine, ttl_s=3600)
    first = versions.get()
    tag = versions.fresh_tag(("water_areas",))
    with engine.begin() as c:
        c.execute(text(f"INSERT INTO water_areas (name, geom) VALUES ('y', {BOX})"))
    try:
        assert versions.fresh() is first and versions.fresh_tag(("water_areas",)) == tag
        new = versions.refresh()
        assert new["water_areas"] == first["water_areas"] + 1
        assert versions.fresh() is new
        assert versions.fresh_tag(("water_areas",)) != tag
        assert versions.fresh_tag(("regions",)) == DataVersions.tag(first, ["regions"])
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM water_areas WHERE name = 'y'"))


def test_an_expired_reading_is_answered_while_one_thread_reads_the_next(engine):
    """Past its time to live the reading is still answered (no reader of a
    busy server goes to the database) and one background thread reads the
    next; past STALE_TTLS it is not, and a reader reads itself."""
    import time

    versions = DataVersions(engine, ttl_s=0.2)
    first = versions.get()
    with engine.begin() as c:
        c.execute(text(f"INSERT INTO water_areas (name, geom) VALUES ('z', {BOX})"))
    try:
        time.sleep(0.25)  # expired, not yet STALE_TTLS × ttl
        assert versions.fresh() is first
        deadline = time.monotonic() + 10
        while versions.fresh() is first:  # the background reading lands
            assert time.monotonic() < deadline, "no background reading"
            time.sleep(0.02)
        assert versions.fresh()["water_areas"] == first["water_areas"] + 1
        versions.invalidate()
        assert versions.fresh() is None  # forgotten: not answered stale
        versions.get()
        versions._at -= 0.2 * DataVersions.STALE_TTLS  # long expired
        assert versions.fresh() is None
    finally:
        with engine.begin() as c:
            c.execute(text("DELETE FROM water_areas WHERE name = 'z'"))
