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
from collections import Counter
from dataclasses import dataclass, field
from io import BytesIO
from urllib.parse import urlsplit

import numpy as np
import qrcode
import shapely
from PIL import Image, ImageDraw
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, Problem
from maps.draw import canvas_bbox, draw_basemap, draw_circles, draw_points
from maps.fonts import font, missing_glyphs, outside_text_ranges
from maps.layers import Features, fetch
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
    labels
        The names drawn on the map (villages, the center, positions), with
        their sizes and boxes in map pixels (offset by ``map_box``).
    legend
        The legend's lines as drawn, e.g. ``党群服务站（6）``.
    """

    data: bytes
    media_type: str
    width: int
    height: int
    map_box: tuple[int, int, int, int]
    quantised: bool = False
    warning: str | None = None
    labels: tuple[Label, ...] = ()
    legend: tuple[str, ...] = ()
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


#: label sizes on a 1080 px image (scaled with the width): about 12–13 px on a
#: 390 px phone screen, the smallest a reader of an article can take in
VILLAGE_LABEL_PX = 36
POSITION_LABEL_PX = 28
CENTER_LABEL_PX = 34
#: a village label that finds no room at full size tries this size once more
VILLAGE_LABEL_MIN_PX = 30
#: the region's boundary on its image
BOUNDARY_COLOUR = "#c62828"

_VILLAGE_SUFFIXES = (("社区居民委员会", "社区"), ("村民委员会", "村"), ("居民委员会", "社区"),
                     ("社区居委会", "社区"), ("村委会", "村"), ("居委会", "社区"))


def _split_village(name: str) -> tuple[str, str]:
    """A village's name as its stem and the short form of its committee:
    "胜利社区居委会" → ("胜利", "社区"); ("name", "") when it has no such suffix."""
    for long, short in _VILLAGE_SUFFIXES:
        if name.endswith(long) and len(name) > len(long):
            return name[: -len(long)], short
    return name, ""


def short_name(name: str) -> str:
    """A village's name as a map labels it: "胜利社区居委会" → "胜利社区",
    "和顺村委会" → "和顺村", "妈屿居委会" → "妈屿社区" (a residents' committee
    governs a 社区; the committee is implied on a map of places)."""
    return "".join(_split_village(name))


def _position_label(name: str, village: str) -> str:
    """A station's name on its village's image, without the village's name
    it starts with ("妈屿社区长者服务党群服务站" → "长者服务党群服务站" on
    妈屿's image): the title already says where."""
    stem = _split_village(village)[0]
    if not stem or not name.startswith(stem):
        return name
    rest = re.sub(r"^(社区|村|居委会|居)", "", name[len(stem):])
    return rest if len(rest) >= 4 else name


@dataclass(frozen=True)
class Label:
    """A name drawn on the map: its text, size and box in image pixels."""

    text: str
    size: float
    box: tuple[float, float, float, float]
    what: str


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[2] <= b[0] or a[0] >= b[2] or a[3] <= b[1] or a[1] >= b[3])


class _Labeller:
    """Greedy label placement on the map canvas: each label takes the first of
    its candidate positions that stays inside the map, clear of the labels
    already placed and of the map's furniture, preferring the position that
    covers the fewest position dots; a label that fits nowhere is left out."""

    def __init__(self, canvas: Canvas, reserved: list[tuple[float, float, float, float]],
                 dots: list[tuple[float, float]], pad: float) -> None:
        self.canvas = canvas
        self.taken = list(reserved)
        self.dots = dots
        self.pad = pad
        self.placed: list[Label] = []

    def _box(self, x: float, y: float, s: str, size: float, anchor: str,
             weight: str, halo: float) -> tuple[float, float, float, float]:
        sc = self.canvas.scale
        f = font(max(1, round(size * sc)), weight)
        b = ImageDraw.Draw(self.canvas.img).textbbox(
            (x * sc, y * sc), s, font=f, anchor=anchor, stroke_width=max(1, round(halo * sc)))
        return b[0] / sc, b[1] / sc, b[2] / sc, b[3] / sc

    def place(self, s: str, candidates: list[tuple[float, float, str]], *, size: float,
              colour: str, what: str, weight: str = "bold", halo: float = 3.0,
              must: bool = False) -> Label | None:
        best = None
        for x, y, anchor in candidates:
            box = self._box(x, y, s, size, anchor, weight, halo)
            p = self.pad
            inside = (box[0] >= p and box[1] >= p and box[2] <= self.canvas.width - p
                      and box[3] <= self.canvas.height - p)
            if not inside or any(_overlaps(box, t) for t in self.taken):
                continue
            covered = sum(box[0] <= dx <= box[2] and box[1] <= dy <= box[3]
                          for dx, dy in self.dots)
            if best is None or covered < best[0]:
                best = (covered, x, y, anchor, box)
            if covered == 0:
                break
        if best is None and must and candidates:
            x, y, anchor = candidates[0]
            best = (0, x, y, anchor, self._box(x, y, s, size, anchor, weight, halo))
        if best is None:
            return None
        _, x, y, anchor, box = best
        self.canvas.text(x, y, s, size=size, colour=colour, weight=weight, halo_width=halo,
                         anchor=anchor)
        gap = self.pad / 2
        self.taken.append((box[0] - gap, box[1] - gap, box[2] + gap, box[3] + gap))
        label = Label(s, size, box, what)
        self.placed.append(label)
        return label


def _region_shapes(conn: Connection, code: str) -> tuple[
        shapely.Geometry | None, list[tuple[str, float, float]]]:
    """The region's boundary (WGS-84) and, for a town, its villages as
    ``(name, lng, lat)`` at a point inside each, largest first."""
    rows = conn.execute(text("""
        SELECT code, name, ST_AsBinary(geom) AS wkb, ST_X(inside) AS x, ST_Y(inside) AS y
        FROM regions CROSS JOIN LATERAL (SELECT ST_PointOnSurface(geom) AS inside) s
        WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)
          AND (code = :code OR (level = 'village' AND starts_with(code, :code)))
        ORDER BY ST_Area(geom::geography) DESC, code"""), {"code": code}).all()
    own = next((shapely.from_wkb(bytes(r.wkb)) for r in rows if r.code == code), None)
    villages = [(r.name, r.x, r.y) for r in rows if r.code != code and r.name]
    return own, villages


def _draw_labels(canvas: Canvas, scope: Scope, pts: Features, mine: list[int],
                 villages: list[tuple[str, float, float]], u: float) -> list[Label]:
    """Names on top of circles and dots, each with a white halo: on a town's
    image its center and every village that finds room; on a village's image
    (or a town with few positions) each of its positions."""
    dots = [canvas.pixel(g.x, g.y) for g in pts.geoms]
    w, h = canvas.width, canvas.height
    reserved = [(0.0, 0.0, 80 * u, 100 * u),                      # north arrow
                (0.0, h - 80 * u, w * 0.25 + 130 * u, h)]         # scale bar
    if scope.synthetic:
        reserved.append((w - 230 * u, 0.0, w, 64 * u))             # the 示例数据 badge
    lab = _Labeller(canvas, reserved, dots, pad=6 * u)
    for i in mine:
        p, g = pts.props[i], pts.geoms[i]
        if p["kind"] == "town_center":
            x, y = canvas.pixel(g.x, g.y)
            canvas.dot(x, y, 9 * u, kind_style(p["kind"]).colour, outline="#ffffff",
                       outline_width=2.5 * u)
            size = CENTER_LABEL_PX * u
            off = 14 * u
            lab.place(p["name"], [(x, y - off, "mb"), (x, y + off, "mt"), (x + off, y, "lm"),
                                  (x - off, y, "rm")], size=size, colour="#b71c1c",
                      what="center", halo=4 * u, must=True)
    name_positions = scope.level == "village" or len(mine) <= 12
    if name_positions:
        order = sorted((i for i in mine if pts.props[i]["kind"] != "town_center"),
                       key=lambda i: -kind_style(pts.props[i]["kind"]).rank)
        size = POSITION_LABEL_PX * u
        for i in order:
            g = pts.geoms[i]
            x, y = canvas.pixel(g.x, g.y)
            name = pts.props[i]["name"]
            if scope.level == "village" and not pts.props[i]["kind"].endswith("center"):
                name = _position_label(name, scope.name)
            lab.place(name, [
                c for off in (14 * u, 40 * u) for c in (
                    (x + off, y, "lm"), (x - off, y, "rm"), (x, y - off, "mb"),
                    (x, y + off, "mt"), (x + off, y - off, "lb"), (x + off, y + off, "lt"),
                    (x - off, y - off, "rb"), (x - off, y + off, "rt"))],
                size=size, colour="#263238", what="position", halo=3 * u)
    if scope.level != "village":
        left = villages
        for px in (VILLAGE_LABEL_PX, VILLAGE_LABEL_MIN_PX):
            size, missed = px * u, []
            for name, lng, lat in left:
                x, y = canvas.pixel(lng, lat)
                step = size * 1.15
                if lab.place(short_name(name), [(x, y, "mm")] + [
                        (x + dx * step, y + dy * step, "mm")
                        for dx, dy in ((0, -1), (0, 1), (-2, 0), (2, 0), (-2, -1), (2, -1),
                                       (-2, 1), (2, 1), (0, -2), (0, 2))], size=size,
                        colour=BASEMAP["region_label"], what="village", halo=4 * u) is None:
                    missed.append((name, lng, lat))
            left = missed
    return lab.placed


def qr_unreachable(url: str) -> str | None:
    """Why a phone that scans a QR code of ``url`` cannot open it, in Chinese:
    its host is this machine (``localhost``, 127.0.0.0/8, ::1), a private,
    link-local or reserved address, or a name without a dot (an intranet
    name); None for an address a phone on the internet can reach."""
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
    """A red strip over the footer's text, beside the QR code (which stays
    scannable): this image must not go out as it is."""
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
                                    expected="汉字、拉丁字母、数字或常用标点"))
            continue
        bad = missing_glyphs(t)  # a font set by SERVICEMAP_CJK_FONT may lack some
        if bad:
            problems.append(Problem("地图字体中没有这些字符",
                                    value="".join(bad), expected="汉字、拉丁字母或数字"))
    if problems:
        raise InvalidInput("文字中有地图字体无法显示的字符", problems)


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
        problems.append(Problem("宽度超出范围", column="width", value=width,
                                expected="400..3000"))
    if fmt not in ("png", "jpg"):
        problems.append(Problem("未知的图片格式", column="format", value=fmt,
                                expected="png, jpg"))
    if problems:
        raise InvalidInput("静态地图请求参数不正确", problems)
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
            draw_basemap(conn, canvas, skip_labels=("village",))
            if key:
                _BASEMAPS[key] = canvas.img.copy()
                while len(_BASEMAPS) > 8:
                    _BASEMAPS.pop(next(iter(_BASEMAPS)))
    z = zoom_for_resolution(canvas.resolution)
    box = canvas_bbox(canvas, margin=0.05)
    own, villages = _region_shapes(conn, scope.code)
    if circles:
        feats = fetch(conn, "circles", box, zoom=z, params={"minutes": float(minutes),
                                                           "profile": profile})
        draw_circles(canvas, feats)
    if own is not None:
        # the region stands out: everything outside it (neighbours' streets and
        # circles) under a white veil, its boundary in red
        outside_area = shapely.box(*canvas_bbox(canvas, margin=0.2)).difference(own)
        if not outside_area.is_empty:
            canvas.fill(canvas.project([outside_area]), "#ffffff", opacity=0.55)
        canvas.lines(canvas.project([own]), BOUNDARY_COLOUR, width=3.0 * u, opacity=0.9)
    pts = fetch(conn, "points", box, zoom=z)
    mine, others = [], []
    for i, p in enumerate(pts.props):
        (mine if (p["region_code"] or "").startswith(scope.code) else others).append(i)
    # neighbours' positions in the frame: small and grey, not counted
    for i in others:
        x, y = canvas.pixel(pts.geoms[i].x, pts.geoms[i].y)
        canvas.dot(x, y, 4.5 * u, "#9e9e9e", outline="#ffffff", outline_width=1.0 * u)
    draw_points(canvas, Features([pts.props[i] for i in mine], [pts.geoms[i] for i in mine]),
                scale=(1.8 if scope.level == "village" else 1.25) * u)
    kinds_count = Counter(pts.props[i]["kind"] for i in mine)
    labels = _draw_labels(canvas, scope, pts, mine, villages, u)
    _north_arrow(canvas, u)
    _scale_bar(canvas, (bbox[1] + bbox[3]) / 2, u)
    if scope.synthetic:
        _badge(canvas, u)
    map_img = canvas.image().convert("RGB")

    # legend rows: kinds present (2 columns), the neighbours' positions, the circle
    entries = [(s_.colour, s_.glyph, f"{s_.label}（{kinds_count[s_.kind]}）")
               for s_ in sorted(KIND_STYLES.values(), key=lambda s_: -s_.rank)
               if kinds_count.get(s_.kind)]
    if others:
        entries.append(("#9e9e9e", "", f"周边其他阵地（{len(others)}，不计入）"))
    legend_circle = (f"步行{mm}分钟可达范围（{CIRCLE['label']}）",) if circles else ()
    rows = math.ceil(len(entries) / 2) + len(legend_circle)
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
    for i, (colour, glyph, label) in enumerate(entries):
        cx = margin + (i % 2) * col_w + round(14 * u)
        cy = y + (i // 2) * round(42 * u) + round(14 * u)
        r = round(12 * u) if glyph else round(7 * u)
        d.ellipse((cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2), fill=(255, 255, 255),
                  outline=rgb("#bbbbbb"))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rgb(colour))
        if glyph:
            d.text((cx, cy), glyph, font=font(round(14 * u), "bold"), fill=(255, 255, 255),
                   anchor="mm")
        d.text((cx + round(24 * u), cy), label, font=font(round(22 * u)),
               fill=rgb("#333333"), anchor="lm")
    if circles:
        cy = y + math.ceil(len(entries) / 2) * round(42 * u) + round(14 * u)
        cx = margin + round(14 * u)
        fill = tuple(round(a * CIRCLE["fill_opacity"] + b * (1 - CIRCLE["fill_opacity"]))
                     for a, b in zip(rgb(CIRCLE["fill"]), rgb(BASEMAP["background"]),
                                     strict=True))
        d.rectangle((cx - round(14 * u), cy - round(10 * u), cx + round(14 * u),
                     cy + round(10 * u)), fill=fill, outline=rgb(CIRCLE["stroke"]),
                    width=max(1, round(2 * u)))
        d.text((cx + round(24 * u), cy), legend_circle[0],
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
                       quantised=quantised, warning=warning, labels=tuple(labels),
                       legend=tuple(e[2] for e in entries) + legend_circle,
                       _canvas=canvas)
