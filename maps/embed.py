"""Mini-program and H5 embedding: GeoJSON in GCJ-02 for native markers and
polygons, ready-made ``markers`` for the ``<map>`` component, marker icons,
and a transparent PNG for ``MapContext.addGroundOverlay`` with its bounds.

WeChat mini-programs draw GCJ-02 coordinates natively and can lay a PNG over
a bounding box (stretched linearly in Web Mercator), but take no XYZ tile
layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from typing import Any

import numpy as np
import shapely
from PIL import Image, ImageDraw
from sqlalchemy.engine import Connection

from geo.crs import from_wgs84, parse_bbox, to_wgs84
from geo.errors import InvalidInput, Problem
from geo.points import convert_geojson
from maps.draw import OVERLAYS
from maps.layers import LAYERS, fetch
from maps.render import Canvas, lnglat_to_merc, zoom_for_resolution
from maps.scope import resolve_scope
from maps.style import KIND_STYLES, kind_style, rgb

__all__ = [
    "GEOJSON_LAYERS",
    "OVERLAY_LAYERS",
    "Overlay",
    "kind_icon_png",
    "layer_geojson",
    "miniprogram_markers",
    "overlay_bbox",
    "overlay_png",
]

#: Layers served as GeoJSON for native drawing.
GEOJSON_LAYERS = ("points", "circles", "regions", "compounds", "grids")
#: Layers an overlay image may draw, bottom to top.
OVERLAY_LAYERS = ("regions", "grids", "compounds", "coverage", "circles", "points")
#: Largest overlay side in pixels; largest and smallest box side in degrees
#: (0.6°: a town; 0.0005°: some 50 m); Web Mercator's latitude limit.
MAX_OVERLAY_PX = 2048
MAX_BBOX_DEG = 0.6
MIN_BBOX_DEG = 0.0005
MAX_MERCATOR_LAT = 85.0
#: the ``layers`` of an overlay request: comma-separated names of :data:`OVERLAY_LAYERS`
OVERLAY_LAYERS_PATTERN = ("^(" + "|".join(OVERLAY_LAYERS) + ")(,(" + "|".join(OVERLAY_LAYERS)
                          + "))*$")


def overlay_bbox(text: str) -> tuple[float, float, float, float]:
    """The box an overlay covers for a requested one (:data:`geo.crs.BBOX_PATTERN`:
    two opposite corners in either order).

    Latitudes are held within ±85° (Web Mercator), and each side is widened
    to at least :data:`MIN_BBOX_DEG` or narrowed to at most
    :data:`MAX_BBOX_DEG` about its centre (a zoomed-out map gets the overlay
    of its middle); the answer's bounds (``X-Overlay-Bounds``, ``overlay.json``)
    say where the image lies. Raises :class:`InvalidInput` for text that is
    not a box.
    """
    w, s, e, n = parse_bbox(text)
    w, e = _side(w, e, 180.0)
    s, n = _side(s, n, MAX_MERCATOR_LAT)
    return w, s, e, n


def _side(lo: float, hi: float, limit: float) -> tuple[float, float]:
    lo, hi = max(lo, -limit), min(hi, limit)
    if lo <= hi and MIN_BBOX_DEG <= hi - lo <= MAX_BBOX_DEG:
        return lo, hi  # as asked
    # (a band wholly beyond the limit is as thin as a line at it)
    half = min(max(hi - lo, MIN_BBOX_DEG), MAX_BBOX_DEG) / 2
    centre = min(max((lo + hi) / 2, -limit + half), limit - half)
    return centre - half, centre + half


@dataclass(frozen=True)
class Overlay:
    """A ground-overlay image and the box it covers.

    ``bounds`` is in the shape ``MapContext.addGroundOverlay`` takes:
    ``{"southwest": {"latitude", "longitude"}, "northeast": {...}}`` in the
    request's coordinate system.
    """

    data: bytes
    width: int
    height: int
    bbox: tuple[float, float, float, float]
    crs: str

    @property
    def bounds(self) -> dict[str, dict[str, float]]:
        w, s, e, n = self.bbox
        return {"southwest": {"latitude": s, "longitude": w},
                "northeast": {"latitude": n, "longitude": e}}


def overlay_canvas(bbox: tuple[float, float, float, float], *, crs: str,
                   width: int) -> Canvas:
    """A transparent canvas exactly covering ``bbox`` (degrees in ``crs``) in
    Web Mercator, ``width`` px wide and as high as the box's aspect needs."""
    x, y = lnglat_to_merc(np.array([bbox[0], bbox[2]]), np.array([bbox[1], bbox[3]]))
    bounds = (float(x[0]), float(y[0]), float(x[1]), float(y[1]))
    height = max(1, round(width * (bounds[3] - bounds[1]) / (bounds[2] - bounds[0])))
    if height > MAX_OVERLAY_PX:
        width = max(1, round(width * MAX_OVERLAY_PX / height))
        height = MAX_OVERLAY_PX
    return Canvas(width, height, bounds, crs="gcj02" if crs == "gcj02" else "wgs84")


def overlay_png(conn: Connection, bbox: tuple[float, float, float, float], *,
                crs: str = "gcj02", layers: tuple[str, ...] = ("circles", "points"),
                width: int = 1024, params: dict[str, Any] | None = None) -> Overlay:
    """A transparent PNG of ``layers`` over ``bbox`` for a GCJ-02 (or WGS-84) map.

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in degrees of ``crs``.
    crs
        ``gcj02`` for WeChat/Amap/Tencent maps (features are shifted to GCJ-02
        before drawing), or ``wgs84``.
    layers
        Names from :data:`OVERLAY_LAYERS`.
    width
        Image width in pixels (64–2048).
    """
    problems = []
    if crs not in ("gcj02", "wgs84"):
        problems.append(Problem("未知的坐标系", column="crs", value=crs, expected="gcj02, wgs84"))
    bad = [x for x in layers if x not in OVERLAY_LAYERS]
    if bad or not layers:
        problems.append(Problem("未知的叠加图层", column="layers", value=",".join(bad),
                                expected=", ".join(OVERLAY_LAYERS)))
    if not 64 <= width <= MAX_OVERLAY_PX:
        problems.append(Problem("宽度超出范围", column="width", value=width,
                                expected=f"64..{MAX_OVERLAY_PX}"))
    if problems:
        raise InvalidInput("叠加图请求参数不正确", problems)
    canvas = overlay_canvas(bbox, crs=crs, width=width)
    # the WGS-84 box holding every feature that may show (GCJ-02 is offset < 1 km)
    w, s, e, n = bbox
    if crs == "gcj02":
        lng, lat = to_wgs84(np.array([w, e, w, e]), np.array([s, s, n, n]), "gcj02")
        w, s, e, n = float(lng.min()), float(lat.min()), float(lng.max()), float(lat.max())
    dx, dy = (e - w) * 0.05, (n - s) * 0.05
    box = (w - dx, s - dy, e + dx, n + dy)
    z = zoom_for_resolution(canvas.resolution)
    for name in OVERLAY_LAYERS:
        if name in layers:
            feats = fetch(conn, name, box, zoom=z, params=params)
            OVERLAYS[name](canvas, feats)
    buf = BytesIO()
    canvas.image().save(buf, "PNG", compress_level=6)
    return Overlay(buf.getvalue(), canvas.width, canvas.height, bbox, crs)


def layer_geojson(conn: Connection, layer: str, *, region: str | None = None,
                  crs: str = "gcj02", params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A FeatureCollection of a layer's public attributes in ``crs``
    (``wgs84``, ``gcj02`` or ``bd09``) for a region (default: the main town)."""
    if layer not in GEOJSON_LAYERS:
        raise InvalidInput("未知的图层", [Problem("未知的图层", column="layer",
                                               value=layer,
                                               expected=", ".join(GEOJSON_LAYERS))])
    scope = resolve_scope(conn, region)
    if scope.bbox is None:
        return {"type": "FeatureCollection", "crs": crs, "features": []}
    feats = fetch(conn, layer, scope.bbox, zoom=18, params=params, clip=False)
    out = []
    for p, g in zip(feats.props, feats.geoms, strict=True):
        code = p.get("region_code") or p.get("code") or ""
        if layer != "circles" and code and not str(code).startswith(scope.code) \
                and layer != "regions":
            continue
        if layer == "regions" and not str(p["code"]).startswith(scope.code):
            continue
        geom = convert_geojson(shapely.geometry.mapping(g), "wgs84", crs)
        out.append({"type": "Feature", "id": p.get("code") or p.get("point_code"),
                    "geometry": geom, "properties": p})
    return {"type": "FeatureCollection", "crs": crs, "features": out,
            "region": scope.code, "synthetic": scope.synthetic,
            "layer": {"name": layer, "title": LAYERS[layer].title}}


def miniprogram_markers(conn: Connection, *, region: str | None = None,
                        icon_base: str = "", crs: str = "gcj02") -> list[dict[str, Any]]:
    """``markers`` for a mini-program ``<map>`` (``crs``: GCJ-02, as WeChat's
    map takes them; ``wgs84`` or ``bd09`` for other maps), one per point.

    ``icon_base`` is the absolute URL prefix of ``/maps/icons`` (mini-programs
    accept network image paths for ``iconPath``).
    """
    from maps.resident import resident_points

    scope = resolve_scope(conn, region)
    out = []
    for i, p in enumerate(resident_points(conn, scope.code), start=1):
        st = kind_style(p["kind"])
        size = round(st.size * 1.1)
        if crs == "gcj02":
            lng, lat = p["gcj02"]
        elif crs == "wgs84":
            lng, lat = p["lng"], p["lat"]
        else:
            x, y = from_wgs84(p["lng"], p["lat"], crs)
            lng, lat = round(float(x), 7), round(float(y), 7)
        out.append({
            "id": i, "latitude": lat, "longitude": lng,
            "title": p["name"], "iconPath": f"{icon_base}/maps/icons/{st.kind}.png",
            "width": size, "height": size, "anchor": {"x": 0.5, "y": 0.5},
            "callout": {"content": f"{p['name']}\n{p['hours_label']}", "display": "BYCLICK",
                        "padding": 8, "borderRadius": 6, "fontSize": 13},
            "customData": {"code": p["code"], "kind": p["kind"]},
        })
    return out


@lru_cache(maxsize=32)
def kind_icon_png(kind: str, size: int = 64) -> bytes:
    """A round marker icon of a point kind (transparent PNG, ``size`` px)."""
    from maps.fonts import font

    if kind not in KIND_STYLES:
        raise InvalidInput("未知的阵地类型", [Problem("未知的阵地类型", column="kind", value=kind,
                                                   expected=", ".join(KIND_STYLES))])
    st = KIND_STYLES[kind]
    s = 4
    img = Image.new("RGBA", (size * s, size * s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.ellipse((0, 0, size * s - 1, size * s - 1), fill=(255, 255, 255, 255))
    b = round(size * s * 0.08)
    d.ellipse((b, b, size * s - 1 - b, size * s - 1 - b), fill=(*rgb(st.colour), 255))
    d.text((size * s / 2, size * s / 2), st.glyph, font=font(round(size * s * 0.5), "bold"),
           fill=(255, 255, 255, 255), anchor="mm")
    out = img.convert("RGBa").reduce(s).convert("RGBA")
    buf = BytesIO()
    out.save(buf, "PNG")
    return buf.getvalue()


def gcj02_point(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 of a WGS-84 point (convenience for callers and tests)."""
    x, y = from_wgs84(lng, lat, "gcj02")
    return float(x), float(y)
