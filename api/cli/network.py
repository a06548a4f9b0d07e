"""``servicemap isochrones``: compute and store service circles."""

from __future__ import annotations

from api.cli.common import open_engine, say
from api.settings import Settings
from geo.circles import CircleParams, compute_circles
from geo.errors import InvalidInput, Problem


def register(sub) -> None:
    p = sub.add_parser("isochrones", help="compute the service circles of every point")
    p.add_argument("--minutes", type=float, nargs="+", default=None,
                   help="walking minutes (default: the configured 10)")
    p.add_argument("--profile", choices=["standard", "adult", "elderly"], default=None,
                   help="walking profile (default: elderly, 3.6 km/h)")
    p.add_argument("--speed", type=float, default=None, help="explicit walking speed, km/h")
    p.add_argument("--all", action="store_true", help="recompute fresh circles too")
    p.set_defaults(func=cmd_isochrones)


def run_circles(engine, settings: Settings, log=say, *, minutes=None, profile=None,
                speed=None, only_stale=True):
    params = CircleParams(walk_off_m=settings.walk_off_m, max_snap_m=settings.max_snap_m)
    with engine.begin() as conn:
        return compute_circles(conn, minutes or [settings.default_minutes],
                               profile=profile or settings.default_profile, speed_kmh=speed,
                               params=params, only_stale=only_stale, log=log)


def cmd_isochrones(args, settings: Settings) -> int:
    engine = open_engine(settings, start=True)
    run_circles(engine, settings, minutes=args.minutes, profile=args.profile, speed=args.speed,
                only_stale=not args.all)
    return 0


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``--bbox``: two opposite corners in WGS-84 degrees
    (:func:`geo.crs.parse_bbox`), spanning an area."""
    from geo.crs import parse_bbox as parse

    if text is None:
        return None
    w, s, e, n = parse(text, column="--bbox")
    if not (w < e and s < n):
        raise InvalidInput("--bbox 不正确", [Problem(
            "范围框应有面积（不能是一条线或一个点）", column="--bbox", value=text,
            expected="W,S,E,N（WGS-84 度数），且 W < E、S < N")])
    return (w, s, e, n)


def cmd_import_osm(args, settings: Settings) -> int:
    """``servicemap import osm FILE [--region CODE | --bbox W,S,E,N] [--halo M]
    [--dataset NAME] [--no-buildings] [--no-facilities] [--json]``: load the streets,
    buildings and facilities, then recompute the circles the new streets affect."""
    import json

    from geo.io.osm import import_osm

    bbox = parse_bbox(args.bbox)
    if bbox is not None and args.region:
        raise InvalidInput("--bbox 与 --region 只能选一个", [Problem(
            "裁剪范围只能由区划边界或范围框之一给出", column="--region", value=args.region,
            expected="--region CODE 或 --bbox W,S,E,N")])
    engine = open_engine(settings, migrate=True)
    report = import_osm(engine, args.file, bbox=bbox, region=args.region, halo_m=args.halo,
                        dataset=args.dataset, buildings=not args.no_buildings,
                        facilities=not args.no_facilities,
                        log=(lambda _m: None) if args.json else say)
    run_circles(engine, settings, log=(lambda _m: None) if args.json else say)
    if args.json:
        say(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    return 0
