"""``servicemap db start|stop|status|url|migrate``, ``servicemap backup|restore``
and ``servicemap load-sample``."""

from __future__ import annotations

import json

from api.cli.common import open_engine, say, step
from api.settings import Settings


def register(sub) -> None:
    db = sub.add_parser("db", help="the embedded local database")
    db.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    db.add_argument("--show-password", action="store_true")
    db.set_defaults(func=cmd_db)
    bk = sub.add_parser("backup", help="write a backup of the database (pg_dump custom format)")
    bk.add_argument("file", help="backup file to write (replaced only once complete)")
    bk.set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="replace the database with a backup, in one transaction")
    rs.add_argument("file", help="backup file written by `servicemap backup`")
    rs.set_defaults(func=cmd_restore)
    ls = sub.add_parser("load-sample", help="generate and load a sample town")
    ls.add_argument("name", choices=["lishui", "longteng", "meihuacun"])
    ls.add_argument("--no-circles", action="store_true",
                    help="do not compute the service circles after loading (the planner map "
                         "and coverage then say which command to run)")
    ls.set_defaults(func=cmd_load_sample)


def cmd_db(args, settings: Settings) -> int:
    from geo.store.engine import local_cluster, masked, resolve_url

    if settings.database_url and args.action in ("start", "stop"):
        say(f"SERVICEMAP_DATABASE_URL is set ({masked(resolve_url(settings))}): "
            "nothing to start or stop")
        return 0
    cluster = local_cluster(settings, log=say)
    if args.action == "start":
        state = cluster.start()
        say(f"database running on 127.0.0.1:{state.port} (state in {cluster.state_dir})")
    elif args.action == "stop":
        say("database stopped" if cluster.stop() else "database was not running")
    elif args.action == "status":
        if settings.database_url:
            engine = open_engine(settings)
            say(json.dumps({"external": True, "url": masked(engine.url), "reachable": True}))
        else:
            say(json.dumps(cluster.status(), ensure_ascii=False))
    elif args.action == "url":
        url = resolve_url(settings)
        say(url if args.show_password else masked(url))
    elif args.action == "migrate":
        open_engine(settings, migrate=True)
        say("schema is up to date")
    return 0


def _started_url(settings: Settings) -> str:
    """The database URL, password included, once the database answers."""
    engine = open_engine(settings, start=True)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return url


def cmd_backup(args, settings: Settings) -> int:
    from pathlib import Path

    from geo.store.backup import backup

    backup(_started_url(settings), Path(args.file), log=say)
    return 0


def cmd_restore(args, settings: Settings) -> int:
    from pathlib import Path

    from geo.store.backup import restore

    restore(_started_url(settings), Path(args.file), log=say)
    return 0


def cmd_load_sample(args, settings: Settings) -> int:
    import data
    from data.loading import load_sample

    engine = open_engine(settings, migrate=True)
    with step(f"generating sample {args.name}"):
        sample = data.generate(args.name)
    with step(f"loading sample {args.name}"):
        load_sample(engine, sample, log=say)
    if getattr(args, "no_circles", False):
        say(f"==> service circles not computed: run `servicemap isochrones --minutes "
            f"{settings.default_minutes} --profile {settings.default_profile}` before coverage "
            "and the planner map")
        return 0
    # new points and a new network: the analyses must be current before anyone looks
    from api.cli.up import analysis_steps

    for title, fn in analysis_steps():
        with step(title):
            fn(engine, settings, say)
    return 0
