"""What every ``servicemap`` sub-command shares: printing, progress steps, and
opening the database (started and migrated when the command writes)."""

from __future__ import annotations

import contextlib
import getpass
import time
from collections.abc import Iterator

from sqlalchemy.engine import Engine

from api.settings import Settings

__all__ = ["cli_actor", "open_engine", "say", "step", "upgrade_schema"]


def cli_actor(args) -> str:
    """Who runs a writing command, for the audit log: ``--actor``, else
    ``cli:<OS user>``."""
    if getattr(args, "actor", None):
        return args.actor
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (containers)
        return "cli"


def say(msg: str) -> None:
    print(msg, flush=True)


@contextlib.contextmanager
def step(title: str) -> Iterator[None]:
    """Print a progress line for a step, and its duration when over a second."""
    say(f"==> {title} ...")
    t0 = time.perf_counter()
    yield
    dt = time.perf_counter() - t0
    say(f"    done in {dt:.1f} s" if dt >= 1 else "    done")


def open_engine(settings: Settings, *, start: bool = False, migrate: bool = False) -> Engine:
    """An engine on the configured database, checked with one query.

    Parameters
    ----------
    start
        Start the embedded cluster when it is not running (no effect with
        ``SERVICEMAP_DATABASE_URL``).
    migrate
        Bring the schema up to date first (commands that write; implies ``start``).
    """
    from geo.store.engine import check_connection, make_engine, resolve_url

    engine = make_engine(resolve_url(settings, start=start or migrate, log=say), settings)
    check_connection(engine)
    if migrate:
        upgrade_schema(engine)
    return engine


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema of ``engine``'s database up to date (Alembic)."""
    from geo.store.migrate import upgrade

    upgrade(engine.url.render_as_string(hide_password=False))
