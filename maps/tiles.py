"""Tiles: Mapbox Vector Tiles (``ST_AsMVT``) and raster PNG, with a cache that
knows when the data under a tile changed.

Cache and invalidation
----------------------
Rendered tiles live in an in-process LRU keyed by ``(layer, format, z, x, y,
parameters, data version)``. The data version of a layer is derived from the
tables under it (:attr:`maps.layers.LayerSpec.tables`): for each table
``count(*)`` and the sum of the row versions' ``xmin`` transaction ids, so any
insert, update or delete committed by any process — through the API, the
importers or plain SQL — gives the layer a new version and its old tiles are
never served again. The versions are read in one query and reused for
``ttl_s`` seconds (``Settings.cache_ttl_s``); with ``ttl_s=0`` every request
sees the newest data. :meth:`TileService.invalidate` forgets them at once.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.errors import InvalidInput, NotFound, Problem
from maps.draw import draw_basemap, draw_layer
from maps.layers import LAYERS, LayerSpec, all_tables, mvt_tile
from maps.render import Canvas, tile_bounds_lnglat, tile_bounds_merc
from maps.style import BASEMAP, rgba

__all__ = [
    "MAX_ZOOM",
    "MEDIA_TYPES",
    "DataVersions",
    "Tile",
    "TileCache",
    "TileService",
    "check_tile",
    "tilejson",
]

#: Highest zoom any layer serves.
MAX_ZOOM = 22
MEDIA_TYPES = {"mvt": "application/vnd.mapbox-vector-tile", "png": "image/png"}
TILE_SIZE = 256


def check_tile(spec: LayerSpec | None, layer: str, z: int, x: int, y: int, fmt: str) -> LayerSpec:
    """Validate a tile address; raises :class:`NotFound` (unknown layer or
    format) or :class:`InvalidInput` listing every bad coordinate."""
    if spec is None:
        raise NotFound(f"no tile layer {layer!r}; layers: {', '.join(LAYERS)}")
    if fmt not in spec.formats:
        raise NotFound(f"layer {layer!r} has no {fmt} tiles (formats: {', '.join(spec.formats)})")
    problems: list[Problem] = []
    if not 0 <= z <= MAX_ZOOM:
        problems.append(Problem("zoom out of range", column="z", value=z,
                                expected=f"0..{MAX_ZOOM}"))
    else:
        n = (1 << z) - 1
        if not 0 <= x <= n:
            problems.append(Problem("tile column out of range for the zoom", column="x",
                                    value=x, expected=f"0..{n}"))
        if not 0 <= y <= n:
            problems.append(Problem("tile row out of range for the zoom", column="y",
                                    value=y, expected=f"0..{n}"))
    if problems:
        raise InvalidInput(f"invalid tile address {z}/{x}/{y}", problems)
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


class TileCache:
    """A thread-safe LRU of tiles bounded by entry count and total bytes."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._d: OrderedDict[tuple, Tile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> Tile | None:
        with self._lock:
            t = self._d.get(key)
            if t is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return t

    def put(self, key: tuple, tile: Tile) -> None:
        size = len(tile.data) + len(tile.gzipped or b"")
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._bytes -= len(old.data) + len(old.gzipped or b"")
            self._d[key] = tile
            self._bytes += size
            while self._d and (len(self._d) > self.max_entries or self._bytes > self.max_bytes):
                _, t = self._d.popitem(last=False)
                self._bytes -= len(t.data) + len(t.gzipped or b"")

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._d)


class DataVersions:
    """Versions of the tables under the layers, read together and reused for
    ``ttl_s`` seconds."""

    def __init__(self, engine: Engine, *, ttl_s: float = 1.0,
                 tables: tuple[str, ...] | None = None) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self.tables = tables or all_tables()
        self._versions: dict[str, str] = {}
        self._at = -1e18
        self._lock = threading.Lock()
        parts = [f"SELECT '{t}' AS tbl, count(*) AS n, "
                 f"coalesce(sum(xmin::text::bigint), 0) AS s FROM \"{t}\""
                 for t in self.tables]
        self._sql = text(" UNION ALL ".join(parts))

    def fresh(self) -> dict[str, str] | None:
        """The versions when still within their time to live, else None."""
        if time.monotonic() - self._at < self.ttl_s:
            return self._versions
        return None

    def get(self) -> dict[str, str]:
        """Current versions (read from the database when older than ``ttl_s``)."""
        got = self.fresh()
        if got is not None:
            return got
        with self._lock:
            got = self.fresh()
            if got is not None:
                return got
            with self.engine.connect() as conn:
                rows = conn.execute(self._sql).all()
            self._versions = {r.tbl: f"{r.n}.{r.s}" for r in rows}
            self._at = time.monotonic()
            return self._versions

    def invalidate(self) -> None:
        self._at = -1e18

    def layer_version(self, spec: LayerSpec, versions: dict[str, str] | None = None) -> str:
        """Short hash of the versions of ``spec``'s tables."""
        v = versions if versions is not None else self.get()
        raw = ";".join(f"{t}={v.get(t, '?')}" for t in spec.tables)
        return hashlib.sha1(raw.encode()).hexdigest()[:12]


class TileService:
    """Renders, caches and validates tiles of the layer registry.

    Parameters
    ----------
    engine
        Database engine (tiles are read in their own short connections).
    ttl_s
        How long data versions are reused, seconds.
    params
        Layer parameters, e.g. ``{"minutes": 10, "profile": "elderly"}`` for
        the circles and coverage layers.
    max_entries, max_bytes
        Bounds of the tile LRU.
    """

    def __init__(self, engine: Engine, *, ttl_s: float = 1.0,
                 params: dict[str, Any] | None = None, max_entries: int = 4096,
                 max_bytes: int = 64 * 1024 * 1024) -> None:
        self.engine = engine
        self.versions = DataVersions(engine, ttl_s=ttl_s)
        self.cache = TileCache(max_entries, max_bytes)
        self.params = dict(params or {})

    def layer_params(self, spec: LayerSpec) -> dict[str, Any]:
        return {k: self.params.get(k, v) for k, v in spec.params.items()}

    def _key(self, spec: LayerSpec, fmt: str, z: int, x: int, y: int,
             version: str) -> tuple:
        p = tuple(sorted(self.layer_params(spec).items()))
        return (spec.name, fmt, z, x, y, p, version)

    def cached(self, layer: str, z: int, x: int, y: int, fmt: str) -> Tile | None:
        """The cached tile when the data versions are fresh and it is cached;
        never touches the database (for the fast path of the web server)."""
        spec = LAYERS.get(layer)
        versions = self.versions.fresh()
        if spec is None or versions is None:
            return None
        version = self.versions.layer_version(spec, versions)
        return self.cache.get(self._key(spec, fmt, z, x, y, version))

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
        version = self.versions.layer_version(spec)
        key = self._key(spec, fmt, z, x, y, version)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if z < spec.minzoom or z > spec.maxzoom:
            data = b"" if fmt == "mvt" else _empty_png()
        elif fmt == "mvt":
            with self.engine.connect() as conn:
                data = mvt_tile(conn, spec.name, z, x, y,
                                tile_bounds_lnglat(z, x, y, margin=64 / 4096),
                                self.layer_params(spec))
        else:
            with self.engine.connect() as conn:
                data = render_png(conn, spec, z, x, y, self.layer_params(spec))
        etag = '"' + hashlib.sha1(version.encode() + data).hexdigest()[:20] + '"'
        gz = gzip.compress(data, 6, mtime=0) if fmt == "mvt" and len(data) > 256 else None
        tile = Tile(data, etag, MEDIA_TYPES[fmt], version, gz)
        self.cache.put(key, tile)
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
    if bounds:
        doc["center"] = [round((bounds[0] + bounds[2]) / 2, 6),
                         round((bounds[1] + bounds[3]) / 2, 6),
                         max(spec.minzoom, min(spec.maxzoom, 13))]
    if fmt == "mvt":
        doc["vector_layers"] = [{
            "id": spec.name, "description": spec.title, "minzoom": spec.minzoom,
            "maxzoom": spec.maxzoom, "fields": dict(spec.fields or {}),
        }]
    return doc


def layer_bounds(engine: Engine, spec: LayerSpec) -> tuple[float, float, float, float] | None:
    """WGS-84 extent of a layer's main table (None when it is empty)."""
    table = "regions" if spec.name == "basemap" else spec.tables[0]
    with engine.connect() as conn:
        row = conn.execute(text(
            f'SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM '
            f'(SELECT ST_Extent(geom) AS e FROM "{table}") s')).first()
    if row is None or row[0] is None:
        return None
    return (round(row[0], 6), round(row[1], 6), round(row[2], 6), round(row[3], 6))
