"""Migrations upgrade and downgrade cleanly, and the models match the schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from geo.store.migrate import alembic_config, current, downgrade, upgrade
from geo.store.models import Base

OUR_TABLES = {t.name for t in Base.metadata.sorted_tables}


def _include(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and reflected and compare_to is None)


def test_upgrade_downgrade_upgrade(pg_cluster):
    url = pg_cluster.create_database("sm_migrations")
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    upgrade(url)
    assert current(url) == head
    eng = create_engine(url)
    try:
        with eng.connect() as c:
            tables = set(inspect(c).get_table_names())
            assert OUR_TABLES <= tables
            diff = compare_metadata(MigrationContext.configure(
                c, opts={"include_object": _include}), Base.metadata)
            assert diff == []
            # every geometry column is SRID 4326 with a GiST index
            geoms = c.execute(text(
                "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns "
                "WHERE f_table_schema = 'public'")).all()
            assert geoms and all(srid == 4326 for _, _, srid in geoms)
            for table, column, _ in geoms:
                idx = c.execute(text(
                    "SELECT count(*) FROM pg_indexes WHERE tablename = :t "
                    "AND indexdef ILIKE '%USING gist (' || :c || ')%'"),
                    {"t": table, "c": column}).scalar_one()
                assert idx == 1, f"{table}.{column} has no GiST index"
        downgrade(url, "base")
        assert current(url) is None
        with eng.connect() as c:
            assert not (OUR_TABLES & set(inspect(c).get_table_names()))
        upgrade(url)
        assert current(url) == head
    finally:
        eng.dispose()


def test_invalid_geometry_is_refused(conn):
    import pytest
    from sqlalchemy.exc import IntegrityError

    bowtie = "MULTIPOLYGON(((0 0, 1 1, 1 0, 0 1, 0 0)))"
    with pytest.raises(IntegrityError, match="compounds_geom_valid"):
        with conn.begin_nested():
            conn.execute(text(
                "INSERT INTO compounds (code, name, geom) "
                "VALUES ('X', 'x', ST_GeomFromText(:w, 4326))"), {"w": bowtie})
