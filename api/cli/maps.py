"""``servicemap render static``: a map image for a WeChat article."""

from __future__ import annotations

from pathlib import Path

from api.cli.common import open_engine, say
from api.settings import Settings
from geo.errors import InvalidInput, Problem


def register(sub) -> None:
    p = sub.add_parser("render", help="render map images")
    what = p.add_subparsers(dest="what", required=True)
    s = what.add_parser("static", help="a static map image (PNG/JPG, under 1 MB) for an "
                                       "article, with legend, scale bar and QR code")
    s.add_argument("--region", help="division code (default: the town with most points)")
    s.add_argument("--out", required=True, type=Path, help="output file (.png or .jpg)")
    s.add_argument("--width", type=int, default=1080, help="width in pixels (default 1080)")
    s.add_argument("--format", choices=["png", "jpg"], default=None,
                   help="default: from the file name")
    s.add_argument("--title", help="title (default: <region>党群服务地图)")
    s.add_argument("--subtitle", help="subtitle")
    s.add_argument("--url", help="base URL of the live map for the QR code "
                                 "(default: SERVICEMAP_PUBLIC_URL or http://HOST:PORT)")
    s.add_argument("--no-qr", action="store_true", help="leave the QR code out")
    s.add_argument("--allow-private-url", action="store_true",
                   help="draw a QR code to this machine or a private network anyway "
                        "(the image then carries a red warning)")
    s.set_defaults(func=cmd_render_static)


def cmd_render_static(args, settings: Settings) -> int:
    import time

    from maps.static import qr_unreachable, render_static

    fmt = args.format or ("jpg" if args.out.suffix.lower() in (".jpg", ".jpeg") else "png")
    if args.out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise InvalidInput("未知的图片类型", [Problem(
            "输出文件的扩展名应为 .png 或 .jpg", column="--out", value=str(args.out),
            expected=".png, .jpg")])
    base = args.url or settings.public_url \
        or f"http://{settings.host}:{settings.port}"
    url = None if args.no_qr else f"{base.rstrip('/')}/maps/resident" + (
        f"?region={args.region}" if args.region else "")
    if url and (why := qr_unreachable(url)) and not args.allow_private_url:
        raise InvalidInput("二维码地址手机打不开", [Problem(
            why, column="--url", value=url,
            expected="居民手机能打开的地址，如 https://map.lishui.example（或 --url、"
                     "--no-qr；确需内网地址时加 --allow-private-url）")])
    engine = open_engine(settings)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        img = render_static(conn, region=args.region, width=args.width, fmt=fmt,
                            title=args.title, subtitle=args.subtitle, url=url,
                            minutes=float(settings.default_minutes),
                            profile=settings.default_profile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(img.data)
    say(f"wrote {args.out} ({img.width}×{img.height} px, {len(img.data) / 1024:.0f} KiB, "
        f"{time.perf_counter() - t0:.2f} s)" + (f"; QR code → {url}" if url else ""))
    if img.warning:
        say(f"警告：{img.warning}")
    return 0
