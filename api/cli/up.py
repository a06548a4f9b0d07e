"""``servicemap up``: the main job — database, schema, sample, analyses, then serve."""

from __future__ import annotations

from pathlib import Path

from api.cli.common import open_engine, say, step, upgrade_schema
from api.settings import Settings


def register(sub) -> None:
    up = sub.add_parser("up", help="database, schema, sample, analysis, then serve the API")
    up.add_argument("--host")
    up.add_argument("--port", type=int)
    up.add_argument("--no-serve", action="store_true", help="stop before serving")
    up.set_defaults(func=cmd_up)


def cmd_up(args, settings: Settings) -> int:
    import data
    from data.loading import load_sample
    from geo.points import count_points

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
        upgrade_schema(engine)
    with engine.connect() as conn:
        empty = count_points(conn) == 0
    if empty and settings.town_osm and settings.town_region:
        from api.cli.network import parse_bbox
        from api.cli.town import create_town

        say(f"==> a real town: {settings.town_region} from {settings.town_osm}")
        create_town(engine, settings, region=settings.town_region, osm=settings.town_osm,
                    points=settings.town_points, villages=settings.town_villages,
                    population=settings.town_population, bbox=parse_bbox(settings.town_bbox))
    elif empty:
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
    from api.app import create_app

    engine.dispose()
    # the web engine: the pool of the settings, statements of requests time-limited
    app = create_app(settings)
    with step("preparing the nearest-by-walk search"):
        from api.routes.isochrones import prepare_queries

        networks, points = prepare_queries(app)
        say(f"    {len(points)} points on {len(networks.by_dataset)} walking network(s)")
    base = f"http://{settings.host}:{settings.port}"
    say(f"==> serving on {base}  (points: {base}/api/v1/points, docs: {base}/docs)")
    serve(app, settings, host=settings.host, port=settings.port)
    return 0


def serve(app, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn as ``servicemap up`` does: the settings'
    concurrency and keep-alive limits, and the heap of the loaded app frozen
    (``gc.freeze``: what is loaded at start lives as long as the process, so
    the collector stops walking it; full collections under load went from
    ≈ 200 ms to ≈ 10 ms, each a pause of every request)."""
    import gc

    import uvicorn

    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                limit_concurrency=settings.limit_concurrency,
                timeout_keep_alive=settings.keep_alive_s)


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
                f"无法在 {host}:{port} 上提供服务：该地址已被占用（ServiceMap 是否已在运行？）；"
                "请用 --port 或 SERVICEMAP_PORT 换一个端口") from None


def analysis_steps():
    """The analysis steps the main job runs after loading data, in order."""
    from api.cli.network import run_circles

    title = "computing the 10-minute service circles"
    if not any((Path(__file__).resolve().parents[2] / "geo" / "isochrones" / "__pycache__"
                ).glob("_kernels.*.nbi")):
        title += " (first run: compiling the walking kernels, about a minute)"
    return [(title, run_circles)]
