"""The ``servicemap`` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from api.settings import Settings
from geo.errors import ServiceMapError


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


def open_engine(settings: Settings, *, start: bool = False):
    from geo.store.engine import check_connection, make_engine, resolve_url

    engine = make_engine(resolve_url(settings, start=start, log=say))
    check_connection(engine)
    return engine


# -- db ---------------------------------------------------------------------
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
        from geo.store.migrate import upgrade

        engine = open_engine(settings, start=True)
        upgrade(engine.url.render_as_string(hide_password=False))
        say("schema is up to date")
    return 0


def cmd_load_sample(args, settings: Settings) -> int:
    import data
    from data.loading import load_sample
    from geo.store.migrate import upgrade

    engine = open_engine(settings, start=True)
    upgrade(engine.url.render_as_string(hide_password=False))
    with step(f"generating sample {args.name}"):
        sample = data.generate(args.name)
    with step(f"loading sample {args.name}"):
        load_sample(engine, sample, log=say)
    return 0


def cmd_up(args, settings: Settings) -> int:
    import data
    from data.loading import load_sample
    from geo.points import count_points
    from geo.store.migrate import upgrade

    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    if not args.no_serve:
        _check_listen(settings.host, settings.port)
    with step("starting the database" if not settings.database_url
              else "connecting to the database"):
        engine = open_engine(settings, start=True)
    with step("migrating the schema"):
        upgrade(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        empty = count_points(conn) == 0
    if empty:
        with step(f"generating sample {settings.sample}"):
            sample = data.generate(settings.sample)
        with step(f"loading sample {settings.sample}"):
            load_sample(engine, sample, log=say)
    else:
        say("==> data present: sample not reloaded")
    for title, fn in analysis_steps():
        with step(title):
            fn(engine, settings, say)
    if args.no_serve:
        return 0
    import uvicorn

    from api.app import create_app

    app = create_app(settings, engine=engine)
    with step("preparing the nearest-by-walk search"):
        from api.routes.isochrones import prepare_queries

        networks, points = prepare_queries(app)
        say(f"    {len(points)} points on {len(networks.by_dataset)} walking network(s)")
    base = f"http://{settings.host}:{settings.port}"
    say(f"==> serving on {base}  (points: {base}/api/v1/points, docs: {base}/docs)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def _check_listen(host: str, port: int) -> None:
    """Fail early, in one line, when the API address is taken."""
    import socket

    from geo.errors import ConfigurationError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            raise ConfigurationError(
                f"cannot serve on {host}:{port}: the address is in use (is ServiceMap already "
                f"running?); choose another with --port or SERVICEMAP_PORT") from None


def analysis_steps():
    """The analysis steps the main job runs after loading data, in order."""
    from api.cli_network import run_circles

    title = "computing the 10-minute service circles"
    if not any((Path(__file__).resolve().parents[1] / "geo" / "__pycache__").glob(
            "isochrones.*.nbi")):
        title += " (first run: compiling the walking kernels, about a minute)"
    return [(title, run_circles)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="servicemap", description="ServiceMap 党群服务地图")
    sub = p.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="the embedded local database")
    db.add_argument("action", choices=["start", "stop", "status", "url", "migrate"])
    db.add_argument("--show-password", action="store_true")
    db.set_defaults(func=cmd_db)
    ls = sub.add_parser("load-sample", help="generate and load a sample town")
    ls.add_argument("name", choices=["lishui", "longteng"])
    ls.set_defaults(func=cmd_load_sample)
    up = sub.add_parser("up", help="database, schema, sample, analysis, then serve the API")
    up.add_argument("--host")
    up.add_argument("--port", type=int)
    up.add_argument("--no-serve", action="store_true", help="stop before serving")
    up.set_defaults(func=cmd_up)
    for module in _command_modules():
        module.register(sub)
    return p


def _command_modules() -> list:
    """Modules adding sub-commands: each has ``register(subparsers)`` and sets
    ``func(args, settings) -> int`` on its parsers. Imported here (not at the top)
    because they import this module's helpers."""
    from api import cli_coverage, cli_io, cli_maps, cli_network, cli_tokens

    return [cli_io, cli_network, cli_tokens, cli_maps, cli_coverage]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        return args.func(args, settings) or 0
    except ServiceMapError as exc:
        print(f"servicemap: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
