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


def _normalised(url_text: str) -> str:
    url = make_url(url_text)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def resolve_url(settings: StoreSettings, *, start: bool = False, log=print) -> str:
    """The database URL to use: ``SERVICEMAP_DATABASE_URL`` when set (nothing is
    started), else the embedded cluster's, as its owner role (started when
    ``start``)."""
    if settings.database_url:
        return _normalised(settings.database_url)
    cluster = local_cluster(settings, log=log)
    if start:
        cluster.start()
    elif not cluster.running():
        raise DatabaseUnavailable(
            "本地数据库未运行：请用 `servicemap db start` 启动")
    return cluster.url()


def resolve_read_url(settings: StoreSettings) -> str | None:
    """The URL of public read paths (:mod:`geo.store.roles`):
    ``SERVICEMAP_READ_DATABASE_URL`` when set, else the embedded cluster's
    reader role; None with an external database and no read URL (public
    reads then use :func:`resolve_url`'s)."""
    if settings.read_database_url:
        return _normalised(settings.read_database_url)
    if settings.database_url:
        return None
    return local_cluster(settings, log=lambda m: None).url(role="reader")


def masked(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, settings: StoreSettings | None = None, *, web: bool = False,
                **kw) -> Engine:
    """An engine on ``url`` with the pool of ``settings`` (size, overflow, timeout).

    ``web``: the engine serves web requests, whose statements PostgreSQL
    cancels after ``settings.statement_timeout_s``.
    """
    kw.setdefault("pool_pre_ping", True)
    # named in pg_stat_activity, so an operator sees which connections are whose
    connect_args: dict = {"connect_timeout": 5,
                          "application_name": "servicemap web" if web else "servicemap"}
    if settings is not None:
        kw.setdefault("pool_size", settings.pool_size)
        kw.setdefault("max_overflow", settings.pool_max_overflow)
        kw.setdefault("pool_timeout", settings.pool_timeout_s)
        if web and settings.statement_timeout_s > 0:
            ms = int(settings.statement_timeout_s * 1000)
            connect_args["options"] = f"-c statement_timeout={ms}"
    kw.setdefault("connect_args", connect_args)
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
            f"无法连接数据库 {u.host}:{u.port or 5432}"
            f"（{masked(u)}）：{reason}") from None
