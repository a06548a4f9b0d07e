"""``servicemap province``: a province of real division codes in one database.

::

    servicemap province batch --region 4406 [--workers 2 | --single | --scheduler tcp://…]
    servicemap province refresh --point CODE [--region 4406] # after one position changed

``batch`` computes every town's
circles, coverage and walking times (:mod:`geo.batch`) on Dask distributed — a
``LocalCluster`` by default, ``SERVICEMAP_DASK_SCHEDULER`` for a real cluster — or
in this one process with ``--single``; rerun after an interruption, it redoes only
what is missing or stale. Exit status 0, or 1 when a town failed.
"""

from __future__ import annotations

import json
import sys

from api.cli.common import open_engine, say
from api.settings import Settings


def register(sub) -> None:
    """Add the ``province`` sub-commands."""
    p = sub.add_parser("province", help="a province of real division codes: sample, batch")
    ps = p.add_subparsers(dest="province_command", required=True)

    b = ps.add_parser("batch", help="every town's circles, coverage and walking times")
    b.add_argument("--region", required=True, help="division code prefix (44, 4406, 440605, "
                                                   "or one town's 9 digits)")
    b.add_argument("--workers", type=int, default=None,
                   help="worker processes of the local Dask cluster "
                        "(default SERVICEMAP_DASK_WORKERS, 2)")
    b.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (default "
                        "SERVICEMAP_DASK_SCHEDULER; empty: a local cluster)")
    b.add_argument("--single", action="store_true", help="run in this one process, no Dask")
    b.add_argument("--minutes", type=float, default=None,
                   help="walking minutes of the circles (default SERVICEMAP_DEFAULT_MINUTES)")
    b.add_argument("--profile", default=None, help="adult or elderly (default "
                                                   "SERVICEMAP_DEFAULT_PROFILE)")
    b.add_argument("--no-walk", action="store_true",
                   help="skip the walking time from every home")
    b.add_argument("--json", action="store_true", help="print the run's summary as JSON")
    b.set_defaults(func=cmd_batch)

    r = ps.add_parser("refresh", help="after one position changed: its circle and the "
                                      "results of the towns it touches")
    r.add_argument("--point", required=True, help="the position's code")
    r.add_argument("--region", default=None,
                   help="division code prefix of the towns to consider (default: the "
                        "position's county)")
    r.add_argument("--minutes", type=float, default=None)
    r.add_argument("--profile", default=None)
    r.set_defaults(func=cmd_refresh)


def _params(args, settings: Settings):
    from geo.batch import BatchParams

    return BatchParams(minutes=args.minutes or settings.default_minutes,
                       profile=args.profile or settings.default_profile,
                       halo_m=settings.batch_halo_m,
                       walk=not getattr(args, "no_walk", False))


def cmd_batch(args, settings: Settings) -> int:
    """Run ``servicemap province batch``."""
    from geo.batch import run_batch

    engine = open_engine(settings, migrate=True)
    url = engine.url.render_as_string(hide_password=False)
    run = run_batch(url, args.region, _params(args, settings), single=args.single,
                    workers=args.workers or settings.dask_workers,
                    scheduler=settings.dask_scheduler if args.scheduler is None
                    else args.scheduler,
                    connect_timeout_s=settings.dask_connect_timeout_s,
                    memory_fraction=settings.batch_memory_fraction, log=say, engine=engine)
    if args.json:
        say(json.dumps({"prefix": run.prefix, "mode": run.mode, "workers": run.workers,
                        "towns": run.towns, "seconds": round(run.seconds, 2),
                        "estimate": run.estimate.as_dict(), "circles": run.circles,
                        "results": run.results, "failed": run.failed},
                       ensure_ascii=False, indent=2))
    for f in run.failed:
        print(f"servicemap: {f['town']} {f['step']}: {f['error']}", file=sys.stderr)
    return 0 if run.ok else 1


def cmd_refresh(args, settings: Settings) -> int:
    """Run ``servicemap province refresh --point CODE``."""
    from sqlalchemy import text

    from geo.batch import plan_towns, refresh_point
    from geo.errors import NotFound

    params = _params(args, settings)
    engine = open_engine(settings, migrate=True)
    with engine.begin() as conn:
        region = conn.execute(text("SELECT region_code FROM service_points WHERE code = :c"),
                              {"c": args.point}).scalar_one_or_none()
        if region is None:
            raise NotFound(f"未找到编码为 {args.point!r} 的服务阵地")
        tasks = {t.code: t for t in plan_towns(conn, args.region or region[:6], params)}
        out = refresh_point(conn, args.point, params, tasks)
    say(f"{args.point}: 服务圈 {out['circle_seconds'] * 1000:.0f} ms; 重算镇街 "
        f"{', '.join(out['towns']) or '无'}; 共 {out['seconds'] * 1000:.0f} ms")
    return 0
