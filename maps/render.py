"""Raster drawing in Web Mercator (EPSG:3857) with Pillow.

A :class:`Canvas` covers a rectangle of Web Mercator metres with a pixel
grid; geometries come in WGS-84 longitude/latitude (or are converted to
GCJ-02 first for canvases that lie over a GCJ-02 basemap) and are drawn
supersampled (``scale`` × the output size, then box-reduced) so edges are
anti-aliased.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from PIL import Image, ImageDraw

from geo.crs import from_wgs84
from maps.fonts import font
from maps.style import rgba

__all__ = [
    "EARTH_RADIUS",
    "HALF_WORLD",
    "Canvas",
    "lnglat_to_merc",
    "merc_to_lnglat",
    "metres_per_pixel",
    "tile_bounds_lnglat",
    "tile_bounds_merc",
    "zoom_for_resolution",
]

#: Radius of the Web Mercator sphere, metres.
EARTH_RADIUS = 6378137.0
#: Half the width of the Web Mercator world, metres.
HALF_WORLD = math.pi * EARTH_RADIUS
_MAX_LAT = 85.0511287798066


def lnglat_to_merc(lng: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degrees → Web Mercator metres (latitudes clamped to ±85.0511°)."""
    lng = np.asarray(lng, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -_MAX_LAT, _MAX_LAT)
    x = np.radians(lng) * EARTH_RADIUS
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_RADIUS
    return x, y


def merc_to_lnglat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator metres → degrees."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lng = np.degrees(x / EARTH_RADIUS)
    lat = np.degrees(2 * np.arctan(np.exp(y / EARTH_RADIUS)) - np.pi / 2)
    return lng, lat


def tile_bounds_merc(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of XYZ tile ``z/x/y`` in Web Mercator metres."""
    size = 2 * HALF_WORLD / (1 << z)
    x0 = -HALF_WORLD + x * size
    y1 = HALF_WORLD - y * size
    return x0, y1 - size, x0 + size, y1


def tile_bounds_lnglat(z: int, x: int, y: int, *, margin: float = 0.0
                       ) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a tile in degrees, grown by ``margin``
    (a fraction of the tile's size on each side)."""
    x0, y0, x1, y1 = tile_bounds_merc(z, x, y)
    m = (x1 - x0) * margin
    lng, lat = merc_to_lnglat(np.array([x0 - m, x1 + m]), np.array([y0 - m, y1 + m]))
    return float(lng[0]), float(lat[0]), float(lng[1]), float(lat[1])


def metres_per_pixel(z: float, lat: float = 0.0, *, tile_size: int = 256) -> float:
    """Ground metres per pixel at zoom ``z`` and latitude ``lat`` (degrees)."""
    return 2 * HALF_WORLD / (tile_size * 2 ** z) * math.cos(math.radians(lat))


def zoom_for_resolution(res_m: float, *, tile_size: int = 256) -> float:
    """The (fractional) XYZ zoom at which one pixel is ``res_m`` Mercator metres."""
    return math.log2(2 * HALF_WORLD / (tile_size * res_m))


def _split(coords: np.ndarray, index: np.ndarray) -> list[list[float]]:
    if len(coords) == 0:
        return []
    cuts = (np.flatnonzero(np.diff(index)) + 1).tolist()
    flat = coords.ravel().tolist()
    offsets = [0, *(2 * c for c in cuts), len(flat)]
    return [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def _polygon_rings(geoms: np.ndarray) -> tuple[list[list[float]], list[bool]]:
    """Flat coordinate lists of every ring of the polygons in ``geoms`` and
    whether each is an exterior ring (vectorised)."""
    if len(geoms) == 0:
        return [], []
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    polys = parts[shapely.get_type_id(parts) == 3]
    if len(polys) == 0:
        return [], []
    rings, owner = shapely.get_rings(polys, return_index=True)
    exterior = np.ones(len(rings), dtype=bool)
    exterior[1:] = owner[1:] != owner[:-1]
    coords, index = shapely.get_coordinates(rings, return_index=True)
    return _split(coords, index), exterior.tolist()


def _line_coords(geoms: np.ndarray) -> list[list[float]]:
    """Flat coordinate lists of every line and polygon ring in ``geoms``."""
    if len(geoms) == 0:
        return []
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    types = shapely.get_type_id(parts)
    lines = parts[(types == 1) | (types == 2)]
    rings = shapely.get_rings(parts[types == 3])
    allg = np.concatenate([lines, rings]) if len(rings) else lines
    coords, index = shapely.get_coordinates(allg, return_index=True)
    return _split(coords, index)


def _blend(colour: str, background: str, opacity: float) -> str:
    from maps.style import rgb

    c, b = rgb(colour), rgb(background)
    return "#{:02x}{:02x}{:02x}".format(*(round(x * opacity + y * (1 - opacity))
                                          for x, y in zip(c, b, strict=True)))


class Canvas:
    """A pixel grid over a Web Mercator rectangle.

    Parameters
    ----------
    width, height
        Output size in pixels.
    bounds
        ``(xmin, ymin, xmax, ymax)`` in Web Mercator metres; it is stretched to
        the output size (callers keep the aspect ratio).
    scale
        Supersampling factor: drawing happens at ``scale`` × the size and
        :meth:`image` box-reduces it.
    background
        ``(r, g, b, a)`` of the empty canvas (default transparent).
    crs
        ``"wgs84"``, or ``"gcj02"`` for a canvas laid over a GCJ-02 basemap:
        incoming WGS-84 geometries are then shifted to GCJ-02 before
        projection (the canvas ``bounds`` are Mercator metres of GCJ-02
        coordinates).
    """

    def __init__(self, width: int, height: int, bounds: Sequence[float], *, scale: int = 2,
                 background: tuple[int, int, int, int] = (0, 0, 0, 0),
                 crs: str = "wgs84") -> None:
        self.width = int(width)
        self.height = int(height)
        self.bounds = tuple(float(v) for v in bounds)
        self.scale = int(scale)
        self.crs = crs
        self.img = Image.new("RGBA", (self.width * self.scale, self.height * self.scale),
                             background)
        #: ``#rrggbb`` of an opaque background (None: transparent canvas)
        self.background = ("#{:02x}{:02x}{:02x}".format(*background[:3])
                           if background[3] == 255 else None)
        x0, y0, x1, y1 = self.bounds
        self.sx = self.width * self.scale / (x1 - x0)
        self.sy = self.height * self.scale / (y1 - y0)
        #: Mercator metres per output pixel
        self.resolution = (x1 - x0) / self.width

    # -- projection ---------------------------------------------------------
    def _xy(self, lnglat: np.ndarray) -> np.ndarray:
        lng, lat = lnglat[:, 0], lnglat[:, 1]
        if self.crs == "gcj02":
            lng, lat = from_wgs84(lng, lat, "gcj02")
        mx, my = lnglat_to_merc(lng, lat)
        x0, _, _, y1 = self.bounds
        return np.column_stack([(mx - x0) * self.sx, (y1 - my) * self.sy])

    def project(self, geoms: Iterable[shapely.Geometry]) -> np.ndarray:
        """WGS-84 geometries → geometries in (supersampled) pixel coordinates."""
        arr = np.asarray(list(geoms), dtype=object)
        if arr.size == 0:
            return arr
        return shapely.transform(arr, self._xy)

    def pixel(self, lng: float, lat: float) -> tuple[float, float]:
        """Output-pixel position (not supersampled) of a WGS-84 location."""
        xy = self._xy(np.array([[lng, lat]], dtype=np.float64))[0]
        return float(xy[0] / self.scale), float(xy[1] / self.scale)

    # -- drawing --------------------------------------------------------------
    def _composite(self, mask: Image.Image, colour: str, opacity: float) -> None:
        box = mask.getbbox()
        if box is None:
            return
        mask = mask.crop(box)
        if opacity < 1.0:
            mask = mask.point(lambda v: round(v * opacity))
        layer = Image.new("RGBA", mask.size, rgba(colour, 1.0))
        layer.putalpha(mask)
        self.img.alpha_composite(layer, box[:2])

    def fill(self, geoms: np.ndarray, colour: str, *, opacity: float = 1.0,
             outline: str | None = None, outline_width: float = 1.0,
             outline_opacity: float = 1.0) -> None:
        """Fill polygons (pixel geometries from :meth:`project`); holes stay empty.

        The fill of overlapping polygons is not darkened twice: all polygons of
        one call share one mask, composited once at ``opacity``.
        """
        rings, exterior = _polygon_rings(geoms)
        if not rings:
            return
        mask = Image.new("L", self.img.size, 0)
        draw = ImageDraw.Draw(mask)
        for ring, ext in zip(rings, exterior, strict=True):
            if len(ring) >= 6:
                draw.polygon(ring, fill=255 if ext else 0)
        self._composite(mask, colour, opacity)
        if outline and outline_width > 0:
            self._stroke(rings, outline, outline_width, outline_opacity)

    def _stroke(self, coords: list[list[float]], colour: str, width: float,
                opacity: float) -> None:
        w = max(1, round(width * self.scale))
        joint = "curve" if w > 4 else None
        if opacity < 1.0 and self.background is not None:
            # over an opaque canvas a translucent stroke is approximated by the
            # colour blended with the background (no mask, no composite)
            colour = _blend(colour, self.background, opacity)
            opacity = 1.0
        if opacity >= 1.0:
            draw = ImageDraw.Draw(self.img)
            fill = rgba(colour)
            for c in coords:
                draw.line(c, fill=fill, width=w, joint=joint)
            return
        mask = Image.new("L", self.img.size, 0)
        draw = ImageDraw.Draw(mask)
        for c in coords:
            draw.line(c, fill=255, width=w, joint=joint)
        self._composite(mask, colour, opacity)

    def lines(self, geoms: np.ndarray, colour: str, *, width: float = 1.0,
              opacity: float = 1.0) -> None:
        """Stroke lines and polygon outlines (pixel geometries), ``width`` in output px."""
        coords = [c for c in _line_coords(geoms) if len(c) >= 4]
        if coords:
            self._stroke(coords, colour, width, opacity)

    def dot(self, x: float, y: float, radius: float, colour: str, *,
            outline: str | None = "#ffffff", outline_width: float = 1.5) -> None:
        """A filled disc at output pixel ``(x, y)`` of ``radius`` output px."""
        s = self.scale
        r = radius * s
        cx, cy = x * s, y * s
        draw = ImageDraw.Draw(self.img)
        ow = round(outline_width * s) if outline else 0
        if outline:
            draw.ellipse((cx - r - ow, cy - r - ow, cx + r + ow, cy + r + ow), fill=rgba(outline))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=rgba(colour))

    def text(self, x: float, y: float, s: str, *, size: float = 12, colour: str = "#333333",
             halo: str | None = "#ffffff", halo_width: float = 2.0, weight: str = "regular",
             anchor: str = "mm", angle: float = 0.0) -> tuple[float, float, float, float]:
        """Draw ``s`` at output pixel ``(x, y)``, turned ``angle`` degrees
        anticlockwise about that point (then centred on it); returns its box in
        output px."""
        sc = self.scale
        f = font(max(1, round(size * sc)), weight)
        kw = {}
        if halo:
            kw = {"stroke_width": max(1, round(halo_width * sc)), "stroke_fill": rgba(halo)}
        if angle:
            probe = ImageDraw.Draw(self.img)
            x0, t, x1, b = probe.textbbox((0, 0), s, font=f, anchor="mm",
                                        stroke_width=kw.get("stroke_width", 0))
            tile = Image.new("RGBA", (int(x1 - x0) + 4, int(b - t) + 4), (0, 0, 0, 0))
            ImageDraw.Draw(tile).text((tile.width / 2, tile.height / 2), s, font=f,
                                      fill=rgba(colour), anchor="mm", **kw)
            tile = tile.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
            left, top = round(x * sc - tile.width / 2), round(y * sc - tile.height / 2)
            # only the part inside the drawing (a label at a tile's edge)
            cx0, cy0 = max(0, -left), max(0, -top)
            cx1 = min(tile.width, self.img.width - left)
            cy1 = min(tile.height, self.img.height - top)
            if cx1 > cx0 and cy1 > cy0:
                self.img.alpha_composite(tile.crop((cx0, cy0, cx1, cy1)),
                                         (left + cx0, top + cy0))
            return (left / sc, top / sc, (left + tile.width) / sc, (top + tile.height) / sc)
        draw = ImageDraw.Draw(self.img)
        draw.text((x * sc, y * sc), s, font=f, fill=rgba(colour), anchor=anchor, **kw)
        box = draw.textbbox((x * sc, y * sc), s, font=f, anchor=anchor,
                            stroke_width=kw.get("stroke_width", 0))
        return box[0] / sc, box[1] / sc, box[2] / sc, box[3] / sc

    def paste(self, im: Image.Image, x: float, y: float) -> None:
        """Paste an output-resolution image with its top-left at output pixel ``(x, y)``."""
        s = self.scale
        big = im.convert("RGBA").resize((im.width * s, im.height * s), Image.Resampling.NEAREST)
        self.img.alpha_composite(big, (round(x * s), round(y * s)))

    def image(self) -> Image.Image:
        """The drawing at output size (RGBA)."""
        if self.scale == 1:
            return self.img.copy()
        # reduce premultiplied pixels: no dark fringes where colour meets transparency
        return self.img.convert("RGBa").reduce(self.scale).convert("RGBA")
