"""The explicit registry of map layers and the SQL that reads them.

Each layer has a packaged SQL source (``maps/sql/<name>.sql``): one SELECT of
an integer ``fid``, the public attribute columns and ``geom`` (EPSG:4326),
filtered by a WGS-84 envelope bound as ``:x0 :y0 :x1 :y1`` so the GiST index
is used. A *provided* layer (``walktime``) has no table: the application
computes its features (:class:`maps.tiles.TileService` asks the layer's
provider) and binds them as arrays that its SQL unnests, so encoding and
drawing are the same for every layer. Two wrappers read it: :func:`mvt_tile`
(``ST_AsMVT`` of one tile) and :func:`fetch` (WKB for raster drawing).
Identifiers come from the registry and are quoted; values are always bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.entities import entity, tile_type
from maps.render import metres_per_pixel

__all__ = [
    "LAYERS",
    "MVT_BUFFER",
    "MVT_EXTENT",
    "Features",
    "LayerSpec",
    "all_tables",
    "fetch",
    "get_layer",
    "mvt_tile",
    "source_sql",
]

#: MVT tile extent (integer coordinates per tile side) and buffer.
MVT_EXTENT = 4096
MVT_BUFFER = 64


@dataclass(frozen=True)
class LayerSpec:
    """One layer of the registry.

    Attributes
    ----------
    name
        URL name (``/tiles/{name}/...``) and MVT layer name.
    title, description
        Chinese title and English description (TileJSON).
    geometry
        ``point``, ``line`` or ``polygon``.
    fields
        Attribute columns and their TileJSON types (``String``, ``Number``,
        ``Boolean``); ``None`` for a raster-only composite layer.
    tables
        Tables whose changes change the layer's tiles (cache invalidation).
    minzoom, maxzoom
        Zooms the layer serves.
    formats
        ``mvt`` and/or ``png``.
    params
        Layer parameters (e.g. the circles' walking budget) and their defaults;
        the tile service fills them from the settings.
    provided
        The features are computed by the application, not read from a table:
        the tile service binds its provider's arrays (see the module docstring).
    """

    name: str
    title: str
    description: str
    geometry: str
    fields: dict[str, str] | None
    tables: tuple[str, ...]
    minzoom: int = 0
    maxzoom: int = 20
    formats: tuple[str, ...] = ("mvt", "png")
    params: dict[str, Any] = field(default_factory=dict)
    provided: bool = False


_BUDGET = {"minutes": 10.0, "profile": "elderly"}


def _fields(entity_name: str, *names: str, **derived: str) -> dict[str, str]:
    """TileJSON fields of a layer over an entity: the named public fields, typed
    from the entity registry (:func:`geo.entities.tile_type`), and derived ones."""
    e = entity(entity_name)
    out = {}
    for n in names:
        f = e.field(n)
        if not f.public:
            raise ValueError(f"{entity_name}.{n} is not public: it cannot be a tile field")
        out[n] = tile_type(f)
    return {**out, **derived}

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec("points", "党群服务阵地", "Service positions (public attributes).", "point",
                  _fields("point", "code", "name", "kind", "region_code", "services",
                          synthetic="Boolean"),
                  ("service_points",)),
        LayerSpec("circles", "党群服务圈", "Stored service circles of one walking budget.",
                  "polygon",
                  {"point_code": "String", "point_name": "String", "kind": "String",
                   "minutes": "Number", "profile": "String", "budget_m": "Number",
                   "method": "String"},
                  ("service_circles", "service_points"), params=dict(_BUDGET)),
        LayerSpec("grids", "网格", "Grid cells (counts only, no personal data).", "polygon",
                  _fields("grid_cell", "code", "name", "kind", "region_code", "workers",
                          "has_branch", synthetic="Boolean"),
                  ("grid_cells",)),
        LayerSpec("compounds", "住宅小区", "Residential compounds and branch coverage.",
                  "polygon",
                  _fields("compound", "code", "name", "region_code", "households",
                          "population", has_branch="Boolean", synthetic="Boolean"),
                  ("compounds", "branch_compounds", "party_branches"), minzoom=10),
        LayerSpec("regions", "行政区划", "Towns/streets and villages/communities.", "polygon",
                  _fields("region", "code", "name", "level", "parent_code",
                          synthetic="Boolean"),
                  ("regions",)),
        LayerSpec("coverage", "服务圈覆盖", "Compounds reached (or not) by a service circle.",
                  "polygon",
                  _fields("compound", "code", "name", "region_code", "population",
                          "households", covered="Boolean"),
                  # buildings: the planner map's figures (geo.coverage) count them
                  ("compounds", "service_circles", "service_points", "buildings"), minzoom=10,
                  params=dict(_BUDGET)),
        LayerSpec("walktime", "步行时间",
                  "Walking minutes from each H3 cell (resolution 10) to the nearest "
                  "position, at the server's walking profile (geo.coverage.access; "
                  "computed per data version, not stored).", "polygon",
                  {"minutes": "Number", "band": "String", "region_code": "String"},
                  ("buildings", "service_points", "network_edges", "regions"), minzoom=11,
                  params={"profile": "elderly"}, provided=True),
        LayerSpec("facilities", "公共设施（OSM）",
                  "Public facilities read from OpenStreetMap (community centres, elder "
                  "care, schools, clinics, libraries, markets): a reference layer.", "point",
                  {"name": "String", "kind": "String", "kind_zh": "String", "tag": "String"},
                  ("facilities",), minzoom=10, formats=("mvt",)),
        LayerSpec("roads", "道路", "Walkable ways of the walking network.", "line",
                  {"highway": "String"}, ("network_edges",), minzoom=10),
        LayerSpec("water", "水系", "Rivers and lakes.", "polygon", {"name": "String"},
                  ("water_areas",)),
        LayerSpec("basemap", "离线底图",
                  "The product's own raster basemap drawn from PostGIS: water, compounds, "
                  "roads, boundaries and labels.", "raster", None,
                  ("water_areas", "compounds", "network_edges", "regions"),
                  maxzoom=19, formats=("png",)),
    )
}


def get_layer(name: str) -> LayerSpec | None:
    """The registered layer ``name`` (None when unknown)."""
    return LAYERS.get(name)


def all_tables() -> tuple[str, ...]:
    """Every table some layer depends on, sorted."""
    return tuple(sorted({t for spec in LAYERS.values() for t in spec.tables}))


@lru_cache(maxsize=32)
def source_sql(name: str) -> str:
    """The packaged SQL source of a layer (``maps/sql/<name>.sql``)."""
    return resources.files("maps").joinpath("sql", f"{name}.sql").read_text("utf-8")


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _simplify(spec: LayerSpec, expr: str) -> str:
    if spec.geometry == "point":
        return expr
    return f"ST_Simplify({expr}, :tol, true)"


def _envelope_params(bbox: tuple[float, float, float, float]) -> dict[str, float]:
    return {"x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3]}


def _tolerance_deg(z: float, lat: float) -> float:
    # half an output pixel, in degrees of latitude (about 111 km each)
    return metres_per_pixel(z, lat) / 2 / 111_320.0


@lru_cache(maxsize=32)
def _mvt_sql(name: str) -> str:
    spec = LAYERS[name]
    cols = ", ".join(f"src.{_q(c)}" for c in spec.fields or {})
    geom = _simplify(spec, "src.geom")
    return (
        f"WITH src AS ({source_sql(name)})\n"
        f"SELECT ST_AsMVT(t, :layer, {MVT_EXTENT}, 'geom', 'fid') FROM (\n"
        f"  SELECT src.fid, {cols},\n"
        f"         ST_AsMVTGeom(ST_Transform({geom}, 3857), ST_TileEnvelope(:z, :x, :y),"
        f" {MVT_EXTENT}, {MVT_BUFFER}, true) AS geom\n"
        f"  FROM src) AS t\n"
        f"WHERE t.geom IS NOT NULL"
    )


def mvt_tile(conn: Connection, name: str, z: int, x: int, y: int,
             bbox: tuple[float, float, float, float], params: dict[str, Any]) -> bytes:
    """One Mapbox Vector Tile of layer ``name`` (an empty tile is ``b""``).

    ``bbox`` is the tile's WGS-84 envelope grown by the buffer, used to find
    the rows with the index; ``ST_AsMVTGeom`` clips to the tile plus
    :data:`MVT_BUFFER` and maps to :data:`MVT_EXTENT` integer coordinates.
    """
    lat = (bbox[1] + bbox[3]) / 2
    bound = {"layer": name, "z": z, "x": x, "y": y, "tol": _tolerance_deg(z, lat) / 4,
             **_envelope_params(bbox), **params}
    data = conn.execute(text(_mvt_sql(name)), bound).scalar()
    return bytes(data) if data is not None else b""


@dataclass
class Features:
    """Rows of a layer for drawing: attribute dicts and WGS-84 shapely geometries."""

    props: list[dict[str, Any]]
    geoms: list[shapely.Geometry]

    def __len__(self) -> int:
        return len(self.geoms)


@lru_cache(maxsize=32)
def _fetch_sql(name: str, clip: bool) -> str:
    spec = LAYERS[name]
    cols = ", ".join(f"src.{_q(c)}" for c in spec.fields or {})
    geom = _simplify(spec, "src.geom")
    if clip and spec.geometry == "polygon":
        geom = f"ST_ClipByBox2D({geom}, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
    return (f"WITH src AS ({source_sql(name)})\n"
            f"SELECT {cols}, ST_AsBinary({geom}) AS wkb FROM src ORDER BY src.fid")


def fetch(conn: Connection, name: str, bbox: tuple[float, float, float, float], *,
          zoom: float, params: dict[str, Any] | None = None, clip: bool = True) -> Features:
    """Features of layer ``name`` inside a WGS-84 ``bbox``, simplified to half a
    pixel at ``zoom`` and (for lines and polygons) clipped to the box."""
    spec = LAYERS[name]
    lat = (bbox[1] + bbox[3]) / 2
    bound = {"z": zoom, "tol": _tolerance_deg(zoom, lat), **_envelope_params(bbox),
             **(spec.params | (params or {}))}
    rows = conn.execute(text(_fetch_sql(name, clip)), bound).all()
    keys = list(spec.fields or {})
    geoms = shapely.from_wkb([bytes(r.wkb) for r in rows if r.wkb is not None])
    props = [{k: getattr(r, k) for k in keys} for r in rows if r.wkb is not None]
    keep = [i for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    return Features([props[i] for i in keep], [geoms[i] for i in keep])
