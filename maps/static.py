"""Static map images for WeChat articles (公众号文章配图).

A PNG (or JPG) 1080 px wide by default and under 1 MB (WeChat's limit for
in-article uploads): title and subtitle in Chinese, the offline basemap, the
service circles and positions, a legend, a scale bar, a north arrow, the data
date and attribution, the "示例数据" badge for synthetic data, and a QR code
to the live resident map. Text is drawn with Noto Sans CJK SC; a missing font
is a :class:`geo.errors.ConfigurationError`, a character it cannot draw an
:class:`geo.errors.InvalidInput` — never tofu boxes.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from io import BytesIO

import numpy as np
import qrcode
from PIL import Image, ImageDraw
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, Problem
from maps.draw import canvas_bbox, draw_basemap, draw_circles, draw_points
from maps.fonts import font, missing_glyphs, outside_text_ranges
from maps.layers import fetch
from maps.render import Canvas, lnglat_to_merc, zoom_for_resolution
from maps.scope import Scope, resolve_scope
from maps.style import BADGE_SYNTHETIC, BASEMAP, CIRCLE, KIND_STYLES, kind_style, rgb, rgba

__all__ = ["MAX_BYTES", "StaticImage", "qr_unreachable", "render_static"]

#: WeChat's limit for images uploaded into an article.
MAX_BYTES = 1_000_000
#: Drawn basemaps by (data version, bounds, size), most recent last.
_BASEMAPS: dict[tuple, Image.Image] = {}


@dataclass
class StaticImage:
    """A rendered image and where its map lies inside it.

    Attributes
    ----------
    data
        The encoded image (PNG or JPEG).
    media_type
        ``image/png`` or ``image/jpeg``.
    width, height
        Pixels.
    map_box
        ``(left, top, right, bottom)`` of the map area in the image, pixels.
    quantised
        Whether the PNG was reduced to 256 colours to stay under the size limit.
    warning
        Why the QR code will not open on a resident's phone (its target is this
        machine or a private network), drawn on the image too; None when fine.
    """

    data: bytes
    media_type: str
    width: int
    height: int
    map_box: tuple[int, int, int, int]
    quantised: bool = False
    warning: str | None = None
    _canvas: Canvas | None = field(default=None, repr=False)

    def pixel(self, lng: float, lat: float) -> tuple[float, float]:
        """Image pixel of a WGS-84 location (inside or outside the map area)."""
        assert self._canvas is not None
        x, y = self._canvas.pixel(lng, lat)
        return x + self.map_box[0], y + self.map_box[1]


def _fit_bounds(bbox: tuple[float, float, float, float], width: int, height: int,
                pad: float = 0.06) -> tuple[float, float, float, float]:
    x, y = lnglat_to_merc(np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]))
    x0, x1, y0, y1 = float(x[0]), float(x[1]), float(y[0]), float(y[1])
    w, h = max(x1 - x0, 50.0), max(y1 - y0, 50.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    res = max(w / width, h / height) * (1 + 2 * pad)
    return (cx - res * width / 2, cy - res * height / 2, cx + res * width / 2,
            cy + res * height / 2)


def _map_height(bbox: tuple[float, float, float, float] | None, width: int) -> int:
    if bbox is None:
        return width
    x, y = lnglat_to_merc(np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]))
    aspect = (y[1] - y[0]) / max(x[1] - x[0], 1.0)
    return int(width * min(1.25, max(0.75, float(aspect))))


def _nice_length(max_m: float) -> float:
    best = 10.0
    for base in (1, 2, 2.5, 5):
        for exp in range(0, 6):
            v = base * 10 ** exp
            if v <= max_m:
                best = max(best, v)
    return best


def _scale_bar(canvas: Canvas, lat: float, u: float) -> None:
    m_per_px = canvas.resolution * math.cos(math.radians(lat))
    length_m = _nice_length(canvas.width * 0.25 * m_per_px)
    px = length_m / m_per_px
    x0, y0 = 24 * u, canvas.height - 30 * u
    label = f"{length_m / 1000:g} 公里" if length_m >= 1000 else f"{length_m:g} 米"
    img = canvas.img
    s = canvas.scale
    d = ImageDraw.Draw(img)
    d.rectangle(((x0 - 8 * u) * s, (y0 - 30 * u) * s, (x0 + px + 12 * u + 60 * u) * s,
                 (y0 + 14 * u) * s), fill=(255, 255, 255, 215))
    half = px / 2
    d.rectangle((x0 * s, y0 * s, (x0 + half) * s, (y0 + 7 * u) * s), fill=rgba("#333333"))
    d.rectangle(((x0 + half) * s, y0 * s, (x0 + px) * s, (y0 + 7 * u) * s), fill=rgba("#ffffff"),
                outline=rgba("#333333"), width=max(1, round(1.5 * u * s)))
    canvas.text(x0, y0 - 14 * u, "0", size=15 * u, colour="#333333", halo=None)
    canvas.text(x0 + px, y0 - 14 * u, label, size=15 * u, colour="#333333", halo=None,
                anchor="lm" if False else "mm")


def _north_arrow(canvas: Canvas, u: float) -> None:
    s = canvas.scale
    cx, top = 44 * u, 26 * u
    d = ImageDraw.Draw(canvas.img)
    d.ellipse(((cx - 26 * u) * s, (top - 4 * u) * s, (cx + 26 * u) * s, (top + 62 * u) * s),
              fill=(255, 255, 255, 215))
    d.polygon([(cx * s, top * s), ((cx - 11 * u) * s, (top + 34 * u) * s),
               (cx * s, (top + 27 * u) * s)], fill=rgba("#333333"))
    d.polygon([(cx * s, top * s), ((cx + 11 * u) * s, (top + 34 * u) * s),
               (cx * s, (top + 27 * u) * s)], fill=rgba("#9e9e9e"))
    canvas.text(cx, top + 46 * u, "北", size=16 * u, colour="#333333", halo=None, weight="bold")


def _badge(canvas: Canvas, u: float) -> None:
    s = canvas.scale
    f = font(round(20 * u * s), "bold")
    d = ImageDraw.Draw(canvas.img)
    w = d.textlength(BADGE_SYNTHETIC, font=f) / s
    x1, y0 = canvas.width - 18 * u, 18 * u
    x0, y1 = x1 - w - 28 * u, y0 + 36 * u
    d.rounded_rectangle((x0 * s, y0 * s, x1 * s, y1 * s), radius=18 * u * s, fill=rgba("#ff9800"))
    canvas.text((x0 + x1) / 2, (y0 + y1) / 2, BADGE_SYNTHETIC, size=20 * u, colour="#ffffff",
                halo=None, weight="bold")


def qr_unreachable(url: str) -> str | None:
    """Why a phone that scans a QR code of ``url`` cannot open it, in Chinese:
    its host is this machine (``localhost``, 127.0.0.0/8, ::1), a private,
    link-local or reserved address, or a name without a dot (an intranet
    name); None for an address a phone on the internet can reach."""
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        host = ""
    if not host:
        return f"二维码地址 {url} 没有主机名"
    why = None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal",
                                                  ".lan", ".intranet")):
            why = "是本机或内网名称"
        elif "." not in host:
            why = "是内网主机名"
    else:
        if ip.is_loopback:
            why = "是本机地址"
        elif ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
            why = "是内网地址"
    if why is None:
        return None
    return (f"二维码指向 {host}，{why}，居民手机扫码打不开；"
            "请设置 SERVICEMAP_PUBLIC_URL 为居民访问的地址")


def _warning_strip(img: Image.Image, text: str, box: tuple[int, int, int, int],
                   u: float) -> None:
    """A red strip across the QR code and the footer: this image must not go out."""
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    d.rectangle(box, fill=rgb("#b71c1c"))
    f = font(max(12, round(20 * u)), "bold")
    # wrap the warning into the strip: between Chinese characters, never inside
    # an ASCII word (an address or a setting's name stays on one line)
    lines, line = [], ""
    for piece in re.findall(r"[\x21-\x7e]+|.", "⚠ " + text):
        if line and d.textlength(line + piece, font=f) > (x1 - x0) - round(24 * u):
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    lines.append(line)
    step = round(28 * u)
    y = (y0 + y1) // 2 - step * len(lines) // 2
    for ln in lines:
        d.text((x0 + round(12 * u), y), ln, font=f, fill=(255, 255, 255))
        y += step


def _qr(url: str, size: int) -> Image.Image:
    q = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    q.add_data(url)
    q.make(fit=True)
    img = q.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return img.resize((size, size), Image.Resampling.NEAREST)


def _check_text(*texts: str) -> None:
    problems = []
    for t in texts:
        outside = outside_text_ranges(t)
        if outside:
            problems.append(Problem("只能使用汉字、字母、数字和常用标点",
                                    value="".join(outside)[:20],
                                    expected="Chinese, Latin, digits or common punctuation"))
            continue
        bad = missing_glyphs(t)  # a font set by SERVICEMAP_CJK_FONT may lack some
        if bad:
            problems.append(Problem("the font has no glyph for these characters",
                                    value="".join(bad), expected="Chinese, Latin or digits"))
    if problems:
        raise InvalidInput("text the map's font cannot draw", problems)


def _encode(img: Image.Image, fmt: str, max_bytes: int) -> tuple[bytes, bool]:
    buf = BytesIO()
    if fmt == "jpg":
        for quality in (90, 85, 80, 72, 64, 55):
            buf = BytesIO()
            img.save(buf, "JPEG", quality=quality, progressive=True)
            if buf.tell() <= max_bytes:
                break
        return buf.getvalue(), False
    img.save(buf, "PNG", compress_level=3)
    if buf.tell() <= max_bytes:
        return buf.getvalue(), False
    for colours in (256, 128, 64):
        buf = BytesIO()
        img.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            buf, "PNG", compress_level=6)
        if buf.tell() <= max_bytes:
            break
    return buf.getvalue(), True


def render_static(conn: Connection, *, region: str | None = None, width: int = 1080,
                  fmt: str = "png", title: str | None = None, subtitle: str | None = None,
                  url: str | None = None, minutes: float = 10.0, profile: str = "elderly",
                  circles: bool = True, basemap: bool = True,
                  max_bytes: int = MAX_BYTES,
                  basemap_version: str | None = None) -> StaticImage:
    """Render the static map image of a region for an article.

    Parameters
    ----------
    region
        Division code (default: the town with the most points).
    width
        Image width in pixels (400–3000; 1080 suits WeChat articles).
    fmt
        ``png`` or ``jpg``.
    title, subtitle
        Chinese text above the map (defaults: "<region>党群服务地图" and the
        number of positions with the walking budget).
    url
        Target of the QR code (the live resident map); no QR code when None.
    minutes, profile
        Walking budget of the circles drawn (stored circles).
    circles, basemap
        Draw the service circles / the offline basemap.
    max_bytes
        Size limit of the encoded image (PNGs are quantised, JPEGs
        recompressed to meet it).
    basemap_version
        Data version of the basemap's tables: when given, the drawn basemap is
        kept in process and reused by the next image of the same area and size.

    Raises
    ------
    geo.errors.ConfigurationError
        The Noto Sans CJK font is not installed.
    geo.errors.InvalidInput
        Bad width or format, or text the font cannot draw.
    geo.errors.NotFound
        Unknown region.
    """
    problems = []
    if not 400 <= width <= 3000:
        problems.append(Problem("width out of range", column="width", value=width,
                                expected="400..3000"))
    if fmt not in ("png", "jpg"):
        problems.append(Problem("unknown format", column="format", value=fmt,
                                expected="png, jpg"))
    if problems:
        raise InvalidInput("invalid static map request", problems)
    scope: Scope = resolve_scope(conn, region)
    mm = int(minutes) if float(minutes).is_integer() else minutes
    title = title or f"{scope.name}党群服务地图"
    subtitle = subtitle if subtitle is not None else \
        f"{scope.points}个服务阵地 · 步行{mm}分钟党群服务圈"
    _check_text(title, subtitle)
    font(12)  # a missing font fails here, before any drawing

    u = width / 1080.0
    margin = round(40 * u)
    map_w = width - 2 * margin
    map_h = _map_height(scope.bbox, map_w)
    header_h = round(150 * u)
    top = header_h
    bbox = scope.bbox or (113.10, 23.15, 113.20, 23.23)
    bounds = _fit_bounds(bbox, map_w, map_h)
    canvas = Canvas(map_w, map_h, bounds, scale=2, background=rgba(BASEMAP["background"]))
    if basemap:
        key = (basemap_version, bounds, map_w, map_h) if basemap_version else None
        cached = _BASEMAPS.get(key) if key else None
        if cached is not None:
            canvas.img = cached.copy()
        else:
            draw_basemap(conn, canvas)
            if key:
                _BASEMAPS[key] = canvas.img.copy()
                while len(_BASEMAPS) > 8:
                    _BASEMAPS.pop(next(iter(_BASEMAPS)))
    z = zoom_for_resolution(canvas.resolution)
    box = canvas_bbox(canvas, margin=0.05)
    kinds_count: dict[str, int] = {}
    if circles:
        feats = fetch(conn, "circles", box, zoom=z, params={"minutes": float(minutes),
                                                           "profile": profile})
        draw_circles(canvas, feats)
    pts = fetch(conn, "points", box, zoom=z)
    draw_points(canvas, pts, scale=1.25 * u)
    for p in pts.props:
        kinds_count[p["kind"]] = kinds_count.get(p["kind"], 0) + 1
    # label the town/street centers
    for p, g in zip(pts.props, pts.geoms, strict=True):
        if p["kind"] == "town_center":
            x, y = canvas.pixel(g.x, g.y)
            canvas.dot(x, y, 9 * u, kind_style(p["kind"]).colour, outline="#ffffff",
                       outline_width=2.5 * u)
            canvas.text(x, y - 24 * u, p["name"], size=20 * u, colour="#b71c1c", weight="bold",
                        halo_width=3 * u)
    _north_arrow(canvas, u)
    _scale_bar(canvas, (bbox[1] + bbox[3]) / 2, u)
    if scope.synthetic:
        _badge(canvas, u)
    map_img = canvas.image().convert("RGB")

    # legend rows: kinds present (2 columns) + the circle
    present = [s for s in sorted(KIND_STYLES.values(), key=lambda s: -s.rank)
               if kinds_count.get(s.kind)]
    rows = math.ceil(len(present) / 2) + (1 if circles else 0)
    legend_h = round((56 + rows * 42) * u)
    qr_size = round(190 * u) if url else 0
    footer_h = max(round(150 * u), qr_size + round(60 * u))
    height = top + map_h + legend_h + footer_h
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    # header
    d.rectangle((0, 0, width, round(10 * u)), fill=rgb("#c62828"))
    d.text((margin, round(28 * u)), title, font=font(round(50 * u), "bold"), fill=rgb("#b71c1c"))
    if subtitle:
        d.text((margin, round(96 * u)), subtitle, font=font(round(28 * u)), fill=rgb("#444444"))
    img.paste(map_img, (margin, top))
    d.rectangle((margin - 1, top - 1, margin + map_w, top + map_h), outline=rgb("#999999"),
                width=max(1, round(u)))
    # legend
    y = top + map_h + round(22 * u)
    d.text((margin, y), "图例", font=font(round(24 * u), "bold"), fill=rgb("#333333"))
    y += round(40 * u)
    col_w = map_w // 2
    for i, s in enumerate(present):
        cx = margin + (i % 2) * col_w + round(14 * u)
        cy = y + (i // 2) * round(42 * u) + round(14 * u)
        r = round(12 * u)
        d.ellipse((cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2), fill=(255, 255, 255),
                  outline=rgb("#bbbbbb"))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rgb(s.colour))
        d.text((cx, cy), s.glyph, font=font(round(14 * u), "bold"), fill=(255, 255, 255),
               anchor="mm")
        d.text((cx + round(24 * u), cy), f"{s.label}（{kinds_count[s.kind]}）",
               font=font(round(22 * u)), fill=rgb("#333333"), anchor="lm")
    if circles:
        cy = y + math.ceil(len(present) / 2) * round(42 * u) + round(14 * u)
        cx = margin + round(14 * u)
        fill = tuple(round(a * CIRCLE["fill_opacity"] + b * (1 - CIRCLE["fill_opacity"]))
                     for a, b in zip(rgb(CIRCLE["fill"]), rgb(BASEMAP["background"]),
                                     strict=True))
        d.rectangle((cx - round(14 * u), cy - round(10 * u), cx + round(14 * u),
                     cy + round(10 * u)), fill=fill, outline=rgb(CIRCLE["stroke"]),
                    width=max(1, round(2 * u)))
        d.text((cx + round(24 * u), cy), f"步行{mm}分钟可达范围（{CIRCLE['label']}）",
               font=font(round(22 * u)), fill=rgb("#333333"), anchor="lm")
    # footer: data date, attribution, QR code
    fy = top + map_h + legend_h
    d.line((margin, fy, width - margin, fy), fill=rgb("#dddddd"), width=max(1, round(u)))
    when = scope.data_date.strftime("%Y年%m月%d日") if scope.data_date else "未知"
    lines = [f"数据日期：{when}",
             "底图：ServiceMap 离线底图（道路、水系、小区、行政区划取自本系统数据库）",
             "制图：ServiceMap 党群服务地图"]
    if scope.synthetic:
        lines.insert(1, "示例数据：位置与属性为合成数据，仅供演示，不代表真实情况")
    text_w = width - 2 * margin - qr_size - round(20 * u)
    ty = fy + round(22 * u)
    for line in lines:
        f = font(round(19 * u))
        while d.textlength(line, font=f) > text_w and len(line) > 4:
            line = line[:-2] + "…"
        d.text((margin, ty), line, font=f, fill=rgb("#555555"))
        ty += round(32 * u)
    if url:
        qx = width - margin - qr_size
        img.paste(_qr(url, qr_size), (qx, fy + round(16 * u)))
        d.text((qx + qr_size // 2, fy + round(20 * u) + qr_size), "扫码查看在线地图",
               font=font(round(18 * u)), fill=rgb("#333333"), anchor="mt")
    warning = qr_unreachable(url) if url else None
    if warning:
        # over the footer's text, beside the code: the code stays scannable
        # (the warning is about where it leads, and staff check with a phone)
        _warning_strip(img, warning, (margin, fy + round(8 * u),
                                      width - margin - qr_size - round(10 * u),
                                      height - round(8 * u)), u)
    data, quantised = _encode(img, fmt, max_bytes)
    return StaticImage(data=data, media_type="image/png" if fmt == "png" else "image/jpeg",
                       width=width, height=height, map_box=(margin, top, margin + map_w,
                                                            top + map_h),
                       quantised=quantised, warning=warning, _canvas=canvas)
