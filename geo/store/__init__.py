"""The storage layer: the bottom of ``geo``.

It owns the PostgreSQL/PostGIS/pgRouting store of record and nothing above it:

``cluster``   the embedded local cluster (initdb/pg_ctl, loopback only)
``engine``    database URLs, engines, one-line connection errors
``migrate``   Alembic migrations (``migrations/``), run programmatically
``models``    the SQLAlchemy/GeoAlchemy2 models of the schema
``copy``      the one COPY encoder (text format, hex EWKB geometries)
``audit``     audit-log writes
``versions``  data versions (``meta``, network datasets, point versions) and
              the invalidation of derived rows
``network``   writing walking networks into the pgRouting edge table

Nothing in it imports analytics, file readers or sample generators.
"""
