"""Tiles: Mapbox Vector Tiles (``ST_AsMVT``) and raster PNG, with a cache that
knows when the data under a tile changed.

Cache and invalidation
----------------------
Rendered tiles live in a :class:`geo.cache.VersionedCache` keyed by ``(layer,
format, z, x, y, parameters)`` and tagged with the data version of the layer:
the :meth:`geo.store.versions.DataVersions.tag` of the tables under it
(:attr:`maps.layers.LayerSpec.tables`). Those versions are bumped by a trigger
in every transaction that writes the tables — through the API, the importers
or plain SQL — so a layer's old tiles are never served again once a change is
committed. The versions are read in one query and reused for ``ttl_s``
seconds (``Settings.cache_ttl_s``); with ``ttl_s=0`` every request sees the
newest data. :meth:`TileService.invalidate` forgets them at once.

Provided layers
---------------
A layer with ``provided=True`` (the walking-time heatmap) is computed by the
application, not read from a table: :meth:`TileService.provide` registers a
function ``(connection, WGS-84 bbox, zoom, layer parameters) -> arrays`` that
returns the features near the tile as the arrays its SQL source unnests. The
tiles of a provided layer without a provider are empty (e.g. a tile service
made outside the web app).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.cache import VersionedCache, etag_of
from geo.errors import InvalidInput, NotFound, Problem
from geo.store.versions import DataVersions
from maps.draw import draw_basemap, draw_layer
from maps.layers import LAYERS, LayerSpec, mvt_tile
from maps.render import Canvas, tile_bounds_lnglat, tile_bounds_merc
from maps.style import BASEMAP, rgba

__all__ = [
    "MAX_ZOOM",
    "MEDIA_TYPES",
    "Provider",
    "Tile",
    "TileService",
    "check_tile",
    "tilejson",
]

#: Highest zoom any layer serves.
MAX_ZOOM = 22
MEDIA_TYPES = {"mvt": "application/vnd.mapbox-vector-tile", "png": "image/png"}
TILE_SIZE = 256

#: A provided layer's features near a tile: ``(conn, bbox, zoom, params)`` →
#: the arrays its SQL source binds (see the module docstring).
Provider = Callable[[Any, tuple[float, float, float, float], int, dict[str, Any]],
                    dict[str, list[Any]]]


def check_tile(spec: LayerSpec | None, layer: str, z: int, x: int, y: int, fmt: str) -> LayerSpec:
    """Validate a tile address; raises :class:`NotFound` (unknown layer or
    format) or :class:`InvalidInput` listing every bad coordinate."""
    if spec is None:
        raise NotFound(f"没有名为 {layer!r} 的瓦片图层；可用图层：{', '.join(LAYERS)}")
    if fmt not in spec.formats:
        raise NotFound(f"图层 {layer!r} 没有 {fmt} 格式的瓦片"
                       f"（可用格式：{', '.join(spec.formats)}）")
    problems: list[Problem] = []
    if not 0 <= z <= MAX_ZOOM:
        problems.append(Problem("缩放级别超出范围", column="z", value=z,
                                expected=f"0..{MAX_ZOOM}"))
    else:
        n = (1 << z) - 1
        if not 0 <= x <= n:
            problems.append(Problem("瓦片列号超出该缩放级别的范围", column="x",
                                    value=x, expected=f"0..{n}"))
        if not 0 <= y <= n:
            problems.append(Problem("瓦片行号超出该缩放级别的范围", column="y",
                                    value=y, expected=f"0..{n}"))
    if problems:
        raise InvalidInput(f"瓦片地址 {z}/{x}/{y} 不正确", problems)
    return spec


@dataclass(frozen=True)
class Tile:
    """A rendered tile: its bytes, a strong ETag and the media type."""

    data: bytes
    etag: str
    media_type: str
    version: str
    gzipped: bytes | None = None

    @property
    def empty(self) -> bool:
        return not self.data


class TileService:
    """Renders, caches and validates tiles of the layer registry.

    Parameters
    ----------
    engine
        Database engine (tiles are read in their own short connections).
    ttl_s
        How long data versions are reused, seconds (when ``versions`` is not given).
    versions
        The data versions to follow (shared with the app's other caches).
    params
        Layer parameters, e.g. ``{"minutes": 10, "profile": "elderly"}`` for
        the circles and coverage layers.
    max_entries, max_bytes
        Bounds of the tile LRU.
    """

    def __init__(self, engine: Engine, *, ttl_s: float = 1.0,
                 versions: DataVersions | None = None,
                 params: dict[str, Any] | None = None, max_entries: int = 4096,
                 max_bytes: int = 64 * 1024 * 1024) -> None:
        self.engine = engine
        self.versions = versions or DataVersions(engine, ttl_s=ttl_s)
        self.cache: VersionedCache[Tile] = VersionedCache(max_entries, max_bytes)
        self.params = dict(params or {})
        self.providers: dict[str, Provider] = {}

    def provide(self, layer: str, provider: Provider) -> None:
        """Register the function that computes a provided layer's features."""
        spec = LAYERS.get(layer)
        if spec is None or not spec.provided:
            raise ValueError(f"{layer!r} is not a provided layer")
        self.providers[layer] = provider

    def _bound(self, conn: Any, spec: LayerSpec, z: int, x: int, y: int) -> dict[str, Any] | None:
        """The layer's parameters, with a provided layer's arrays (None: no
        provider, or nothing near the tile)."""
        params = self.layer_params(spec)
        if not spec.provided:
            return params
        provider = self.providers.get(spec.name)
        if provider is None:
            return None
        arrays = provider(conn, tile_bounds_lnglat(z, x, y, margin=64 / 4096), z, params)
        if not arrays or not next(iter(arrays.values())):
            return None
        return {**params, **arrays}

    def layer_params(self, spec: LayerSpec) -> dict[str, Any]:
        return {k: self.params.get(k, v) for k, v in spec.params.items()}

    def _key(self, spec: LayerSpec, fmt: str, z: int, x: int, y: int) -> tuple:
        p = tuple(sorted(self.layer_params(spec).items()))
        return (spec.name, fmt, z, x, y, p)

    def layer_version(self, spec: LayerSpec) -> str:
        """The data version of a layer: the tag of its tables' versions."""
        return self.versions.get_tag(spec.tables)

    def cached(self, layer: str, z: int, x: int, y: int, fmt: str) -> Tile | None:
        """The cached tile when the data versions are fresh and it is cached;
        never touches the database (for the fast path of the web server)."""
        spec = LAYERS.get(layer)
        tag = self.versions.fresh_tag(spec.tables) if spec is not None else None
        if tag is None:
            return None
        return self.cache.get(self._key(spec, fmt, z, x, y), tag)

    def tile(self, layer: str, z: int, x: int, y: int, fmt: str) -> Tile:
        """The tile ``layer/z/x/y.fmt``, from the cache or rendered now.

        Raises
        ------
        NotFound
            Unknown layer or a format it does not serve.
        InvalidInput
            Zoom, column or row out of range.
        """
        spec = check_tile(LAYERS.get(layer), layer, z, x, y, fmt)
        version = self.layer_version(spec)
        key = self._key(spec, fmt, z, x, y)
        hit = self.cache.get(key, version)
        if hit is not None:
            return hit
        if z < spec.minzoom or z > spec.maxzoom:
            data = b"" if fmt == "mvt" else _empty_png()
        else:
            with self.engine.connect() as conn:
                bound = self._bound(conn, spec, z, x, y)
                if bound is None:
                    data = b"" if fmt == "mvt" else _empty_png()
                elif fmt == "mvt":
                    data = mvt_tile(conn, spec.name, z, x, y,
                                    tile_bounds_lnglat(z, x, y, margin=64 / 4096), bound)
                else:
                    data = render_png(conn, spec, z, x, y, bound)
        gz = gzip.compress(data, 6, mtime=0) if fmt == "mvt" and len(data) > 256 else None
        tile = Tile(data, etag_of(version.encode() + data), MEDIA_TYPES[fmt], version, gz)
        self.cache.put(key, version, tile, len(data) + len(gz or b""))
        return tile

    def invalidate(self) -> None:
        """Forget the data versions (the next tile reads them again)."""
        self.versions.invalidate()


_EMPTY_PNG: bytes | None = None


def _empty_png() -> bytes:
    global _EMPTY_PNG
    if _EMPTY_PNG is None:
        from PIL import Image

        buf = BytesIO()
        Image.new("RGBA", (TILE_SIZE, TILE_SIZE), (0, 0, 0, 0)).save(buf, "PNG", optimize=True)
        _EMPTY_PNG = buf.getvalue()
    return _EMPTY_PNG


def encode_png(img: Any, *, palette: bool = False) -> bytes:
    """PNG bytes of a Pillow image (``palette``: quantised to 256 colours)."""
    buf = BytesIO()
    if palette:
        img = img.convert("RGB").quantize(256, method=2, dither=0) if img.mode == "RGB" \
            else img.quantize(256, method=2, dither=0)
    img.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def render_png(conn: Any, spec: LayerSpec, z: int, x: int, y: int,
               params: dict[str, Any]) -> bytes:
    """Draw one 256 px raster tile of a layer (transparent, except the basemap)."""
    bounds = tile_bounds_merc(z, x, y)
    if spec.name == "basemap":
        canvas = Canvas(TILE_SIZE, TILE_SIZE, bounds, background=rgba(BASEMAP["background"]))
        draw_basemap(conn, canvas)
        return encode_png(canvas.image().convert("RGB"))
    canvas = Canvas(TILE_SIZE, TILE_SIZE, bounds)
    if draw_layer(conn, canvas, spec.name, params=params) == 0:
        return _empty_png()
    return encode_png(canvas.image())


def tilejson(spec: LayerSpec, base_url: str, *, fmt: str | None = None,
             bounds: tuple[float, float, float, float] | None = None,
             center: tuple[float, float] | None = None,
             version: str | None = None) -> dict[str, Any]:
    """A TileJSON 3.0.0 document of one layer.

    Parameters
    ----------
    base_url
        Absolute (or root-relative) URL prefix of the app, without a trailing slash.
    fmt
        ``mvt`` or ``png`` (default: the layer's first format).
    bounds
        WGS-84 extent of the data (default: the whole world).
    center
        WGS-84 position on the data to open at (:func:`layer_extent`; default:
        the middle of ``bounds``).
    version
        The layer's data version (added to tile URLs so that caches miss
        after a change).
    """
    fmt = fmt or spec.formats[0]
    q = f"?v={version}" if version else ""
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": spec.name,
        "description": f"{spec.title} — {spec.description}",
        "version": "1.0.0",
        "attribution": "ServiceMap 党群服务地图",
        "scheme": "xyz",
        "tiles": [f"{base_url}/tiles/{spec.name}/{{z}}/{{x}}/{{y}}.{fmt}{q}"],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": list(bounds) if bounds else [-180.0, -85.0511, 180.0, 85.0511],
    }
    if center is None and bounds:
        center = (round((bounds[0] + bounds[2]) / 2, 6), round((bounds[1] + bounds[3]) / 2, 6))
    if center is not None:
        doc["center"] = [center[0], center[1], max(spec.minzoom, min(spec.maxzoom, 13))]
    if fmt == "mvt":
        doc["vector_layers"] = [{
            "id": spec.name, "description": spec.title, "minzoom": spec.minzoom,
            "maxzoom": spec.maxzoom, "fields": dict(spec.fields or {}),
        }]
    return doc


def layer_bounds(engine: Engine, spec: LayerSpec) -> tuple[float, float, float, float] | None:
    """WGS-84 extent of a layer's main table (None when it is empty)."""
    return layer_extent(engine, spec).bounds


@dataclass(frozen=True)
class LayerExtent:
    """Where a layer's data lies: its WGS-84 ``bounds`` and a ``center`` on
    the data (None when there is none)."""

    bounds: tuple[float, float, float, float] | None
    center: tuple[float, float] | None


def _table_of(spec: LayerSpec) -> str:
    return "regions" if spec.name == "basemap" else spec.tables[0]


def layer_extent(engine: Engine, spec: LayerSpec, *, region: str | None = None) -> LayerExtent:
    """The extent of a layer's main table and a center where its data is.

    The bounding box of two towns far apart (the samples: Lishui in Foshan,
    Longteng in Shantou, 350 km apart) has its middle in empty country, so
    the center is not the box's middle: it is the row nearest to the
    component-wise median of the rows of one town, the town ``region`` names
    (its rows: those intersecting its outline; bounds too are then the
    region's data) or else the town with the most rows. Without town
    outlines, the median of all rows. Soft-deleted rows do not count.
    Raises :class:`NotFound` for a ``region`` that does not exist.
    """
    table = _table_of(spec)
    with engine.connect() as conn:
        alive = "AND d.deleted_at IS NULL" if conn.execute(text(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = :t AND column_name = 'deleted_at'"), {"t": table}).first() \
            else ""
        if region is not None:
            scope = conn.execute(text("SELECT code, geom IS NOT NULL AS has_geom FROM regions "
                                      "WHERE code = :c"), {"c": region}).first()
            if scope is None:
                raise NotFound(f"没有编码为“{region}”的地区")
            town = region if scope.has_geom else None
            if town is None:
                return LayerExtent(None, None)
        else:
            town = conn.execute(text(f"""
                SELECT t.code FROM regions t JOIN "{table}" d
                  ON d.geom && t.geom AND ST_Intersects(d.geom, t.geom) {alive}
                WHERE t.level = 'town' AND t.geom IS NOT NULL
                GROUP BY t.code ORDER BY count(*) DESC, t.code LIMIT 1""")).scalar()
        if town is None:
            rows_sql = f'SELECT d.geom FROM "{table}" d WHERE d.geom IS NOT NULL {alive}'
        else:
            rows_sql = (f'SELECT d.geom FROM "{table}" d, regions t WHERE t.code = :town '
                        f"AND d.geom && t.geom AND ST_Intersects(d.geom, t.geom) {alive}")
        row = conn.execute(text(f"""
            WITH rows AS ({rows_sql}), pts AS (SELECT ST_PointOnSurface(geom) AS p FROM rows),
            med AS (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_X(p)) AS x,
                           percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_Y(p)) AS y
                    FROM pts),
            box AS (SELECT ST_Extent(geom) AS e FROM rows)
            SELECT ST_XMin(box.e) AS x0, ST_YMin(box.e) AS y0, ST_XMax(box.e) AS x1,
                   ST_YMax(box.e) AS y1,
                   (SELECT ST_X(p) FROM pts, med ORDER BY p <-> ST_SetSRID(
                        ST_MakePoint(med.x, med.y), 4326) LIMIT 1) AS cx,
                   (SELECT ST_Y(p) FROM pts, med ORDER BY p <-> ST_SetSRID(
                        ST_MakePoint(med.x, med.y), 4326) LIMIT 1) AS cy
            FROM box"""), {"town": town}).first()
        whole = row
        if region is None and town is not None:  # bounds: the whole layer
            whole = conn.execute(text(
                f'SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, '
                f'ST_YMax(e) AS y1 FROM (SELECT ST_Extent(d.geom) AS e FROM "{table}" d '
                f"WHERE true {alive}) s")).first()
    bounds = None if whole is None or whole.x0 is None else (
        round(whole.x0, 6), round(whole.y0, 6), round(whole.x1, 6), round(whole.y1, 6))
    center = None if row is None or row.cx is None else (round(row.cx, 6), round(row.cy, 6))
    return LayerExtent(bounds, center)
