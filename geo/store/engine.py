"""Database URL resolution, engines and connection checks."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError

from geo.errors import DatabaseUnavailable
from geo.settings import StoreSettings
from geo.store.cluster import LocalCluster


def local_cluster(settings: StoreSettings, *, log=print) -> LocalCluster:
    return LocalCluster(settings.state_dir, db_name=settings.db_name, log=log)


def resolve_url(settings: StoreSettings, *, start: bool = False, log=print) -> str:
    """The database URL to use: ``SERVICEMAP_DATABASE_URL`` when set (nothing is
    started), else the embedded cluster's (started when ``start``)."""
    if settings.database_url:
        url = make_url(settings.database_url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    cluster = local_cluster(settings, log=log)
    if start:
        cluster.start()
    elif not cluster.running():
        raise DatabaseUnavailable(
            "the local database is not running: start it with `servicemap db start`")
    return cluster.url()


def masked(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, **kw) -> Engine:
    kw.setdefault("pool_pre_ping", True)
    kw.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kw)


def check_connection(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` with host and port (password masked)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        u = engine.url
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot reach the database at {u.host}:{u.port or 5432} "
            f"({masked(u)}): {reason}") from None
