"""Buildings and public facilities of an OpenStreetMap extract, in one pass.

:func:`features_from_pbf` reads a (town-size, see :mod:`geo.io.osm.cut`) PBF with
pyosmium's node locations and area assembler, and returns

* **buildings**: every closed way and multipolygon relation tagged ``building``
  (any value but ``no``) with its footprint (MultiPolygon, EPSG:4326), the
  ``building`` value, ``building:levels`` and ``height`` (metres) parsed from text
  (``"3"``, ``"3;4"`` → 3, ``"12 m"`` → 12), and its OSM type and id. A closed way
  that is an outer member of a building multipolygon is *folded* into the relation
  (one footprint, not two: the same rule as GDAL's OSM driver).
* **dropped**: the buildings that have no footprint, with the reason — a way that
  is not closed, a way whose nodes the extract does not hold (cut at its border),
  a multipolygon whose rings do not close — and their ids, for the report.
  A footprint that is not valid (self-intersecting) is repaired with
  ``shapely.make_valid`` (polygonal parts kept) and its reason recorded in
  ``repair``; one that is empty after repair is dropped.
* **facilities**: the public facilities of :data:`FACILITY_TAGS` (nodes, closed
  ways and multipolygons; a point on the surface of areas), with the tag that made
  each one a facility, its name (``name:zh-Hans``, else ``name:zh``, else
  ``name``) and a few tags.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import osmium
import shapely
from shapely.geometry.base import BaseGeometry

from geo.errors import NetworkImportError
from geo.io.osm.cut import check_pbf
from geo.vocab import FACILITY_KINDS_ZH

__all__ = ["FACILITY_KINDS_ZH", "FACILITY_TAGS", "Features", "facility_kind",
           "features_from_pbf", "parse_metres"]

#: Facility kinds and the OSM tags that make one (``key``, ``value``; ``None`` =
#: any value), first match wins. Chosen for a service-map planner: where people
#: already meet, are cared for, learn, are treated and shop every day.
FACILITY_TAGS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "community": (("amenity", "community_centre"), ("amenity", "social_centre"),
                  ("amenity", "townhall")),
    "elder_care": (("amenity", "nursing_home"), ("social_facility", "nursing_home"),
                   ("social_facility", "assisted_living"), ("social_facility:for", "senior")),
    "social": (("amenity", "social_facility"),),
    "school": (("amenity", "school"), ("amenity", "kindergarten"), ("amenity", "childcare")),
    "health": (("amenity", "clinic"), ("amenity", "doctors"), ("amenity", "hospital"),
               ("amenity", "pharmacy"), ("healthcare", None)),
    "library": (("amenity", "library"),),
    "market": (("amenity", "marketplace"), ("shop", "supermarket")),
}
#: Tags copied into ``facilities.tags`` (public facts about the place).
_KEPT_TAGS = ("name", "addr:street", "addr:housenumber", "opening_hours", "operator",
              "website", "wheelchair")

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def parse_metres(value: str | None) -> float | None:
    """The first number in an OSM value (``"12"``, ``"12 m"``, ``"3;4"``, ``"3,5"``),
    ``None`` when there is none or it is not positive."""
    if not value:
        return None
    m = _NUMBER.search(value)
    if not m:
        return None
    v = float(m.group(0).replace(",", "."))
    return v if v > 0 else None


def facility_kind(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """``(kind, "key=value")`` of the first :data:`FACILITY_TAGS` rule the tags
    match, or ``None``."""
    for kind, rules in FACILITY_TAGS.items():
        for key, value in rules:
            got = tags.get(key)
            if got is not None and (value is None or got == value):
                return kind, f"{key}={got}"
    return None


@dataclass
class Features:
    """What :func:`features_from_pbf` read."""

    buildings: gpd.GeoDataFrame
    dropped: list[dict] = field(default_factory=list)
    folded: list[int] = field(default_factory=list)
    facilities: gpd.GeoDataFrame | None = None

    @property
    def repaired(self) -> list[dict]:
        b = self.buildings
        hit = b["repair"].notna().to_numpy() if len(b) else np.array([], dtype=bool)
        return [{"osm_type": t, "osm_id": int(i), "reason": r}
                for t, i, r in zip(b["osm_type"][hit], b["osm_id"][hit], b["repair"][hit],
                                   strict=True)]


def _repair(geom: BaseGeometry) -> tuple[BaseGeometry | None, str | None]:
    """A valid polygonal footprint and the reason it needed repair (``None``)."""
    if geom.is_valid:
        return geom, None
    reason = shapely.is_valid_reason(geom)
    fixed = shapely.make_valid(geom)
    parts = [g for g in shapely.get_parts(fixed) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = [p for g in parts for p in shapely.get_parts(g) if not p.is_empty]
    if not polys:
        return None, reason
    return shapely.MultiPolygon(polys), reason


def _name(tags) -> str | None:
    """The name residents read: ``name:zh`` (or its simplified form) first."""
    return tags.get("name:zh-Hans") or tags.get("name:zh") or tags.get("name")


def _keep(tags) -> dict[str, str]:
    return {k: tags.get(k) for k in _KEPT_TAGS if k in tags}


def features_from_pbf(path: str | os.PathLike[str], *,
                      area: BaseGeometry | None = None) -> Features:
    """Read the buildings and facilities of a PBF (see the module docstring).

    Parameters
    ----------
    path
        A ``.osm.pbf`` file small enough to hold its node locations in memory (a
        town, or a cut from :func:`geo.io.osm.cut.cut_extract`).
    area
        Keep only buildings whose centroid, and facilities whose point, lies in it.

    Raises
    ------
    NetworkImportError
        The file is missing, not a PBF or truncated (the message names it).
    """
    path = check_pbf(path)
    wkb = osmium.geom.WKBFactory()
    b_rows: list[tuple] = []
    b_geoms: list[BaseGeometry] = []
    f_rows: list[tuple] = []
    f_geoms: list[BaseGeometry] = []
    ways: dict[int, str] = {}  # building ways without an area yet: id -> reason
    relations: set[int] = set()  # building multipolygons
    outer_of: dict[int, int] = {}  # way -> building multipolygon holding it as outer
    seen: set[tuple[str, int]] = set()
    emptied: list[dict] = []
    try:
        fp = osmium.FileProcessor(str(path)).with_locations().with_areas()
        for obj in fp:
            tags = obj.tags
            if obj.is_area():
                kind = "w" if obj.from_way() else "r"
                oid = obj.orig_id()
                is_building = tags.get("building", "no") != "no"
                fac = facility_kind(tags)
                if not (is_building or fac):
                    continue
                try:
                    geom = shapely.from_wkb(wkb.create_multipolygon(obj))
                except Exception:  # noqa: BLE001 - osmium: invalid area
                    continue
                if is_building:
                    seen.add((kind, oid))
                    fixed, reason = _repair(geom)
                    if fixed is None:
                        emptied.append({"osm_type": kind, "osm_id": oid,
                                        "reason": f"轮廓无效（{reason}），修复后为空"})
                        continue
                    b_rows.append((kind, oid, tags.get("building"),
                                   parse_metres(tags.get("building:levels")),
                                   parse_metres(tags.get("height")), reason))
                    b_geoms.append(fixed)
                    geom = fixed
                if fac and geom.is_valid:
                    f_rows.append((kind, oid, fac[0], fac[1], _name(tags), _keep(tags)))
                    f_geoms.append(shapely.point_on_surface(geom))
            elif obj.is_node():
                fac = facility_kind(tags) if len(tags) else None
                if fac and obj.location.valid():
                    f_rows.append(("n", obj.id, fac[0], fac[1], _name(tags), _keep(tags)))
                    f_geoms.append(shapely.Point(obj.location.lon, obj.location.lat))
            elif obj.is_way():
                if tags.get("building", "no") == "no":
                    continue
                if not obj.is_closed():
                    ways[obj.id] = "未闭合（不是封闭的轮廓）"
                else:
                    missing = sum(1 for n in obj.nodes if not n.location.valid())
                    ways[obj.id] = (f"缺少 {missing} 个节点（提取文件在此截断）" if missing
                                    else "轮廓无法组成多边形")
            elif obj.is_relation():
                if tags.get("type") == "multipolygon" and tags.get("building", "no") != "no":
                    relations.add(obj.id)
                    for m in obj.members:
                        if m.type == "w" and m.role in ("outer", ""):
                            outer_of[m.ref] = obj.id
    except NetworkImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - osmium raises RuntimeError and others
        raise NetworkImportError(
            f"无法读取 OSM 文件 {str(path)!r}（{type(exc).__name__}: {exc}）："
            "文件可能不完整或不是 .osm.pbf，请重新下载该提取文件") from exc

    buildings = gpd.GeoDataFrame(
        {"osm_type": [r[0] for r in b_rows], "osm_id": np.array([r[1] for r in b_rows],
                                                                  dtype=np.int64),
         "building_type": [r[2] for r in b_rows],
         "levels": np.array([r[3] for r in b_rows], dtype=float),
         "height_m": np.array([r[4] for r in b_rows], dtype=float),
         "repair": [r[5] for r in b_rows]},
        geometry=gpd.GeoSeries(b_geoms, crs="EPSG:4326"), crs="EPSG:4326")
    # a way that is the outer ring of an assembled building multipolygon: folded
    fold = np.array([t == "w" and outer_of.get(int(i)) is not None
                     and ("r", outer_of[int(i)]) in seen
                     for t, i in zip(buildings["osm_type"], buildings["osm_id"], strict=True)],
                    dtype=bool)
    folded = sorted(int(i) for i in buildings["osm_id"][fold])
    buildings = buildings[~fold]
    dropped = [{"osm_type": "w", "osm_id": w, "reason": reason} for w, reason in ways.items()
               if ("w", w) not in seen and not (w in outer_of and ("r", outer_of[w]) in seen)]
    dropped += [{"osm_type": "r", "osm_id": r, "reason": "多边形关系无法组装（成员缺失或环不闭合）"}
                for r in sorted(relations) if ("r", r) not in seen]
    dropped += emptied
    facilities = gpd.GeoDataFrame(
        {"osm_type": [r[0] for r in f_rows],
         "osm_id": np.array([r[1] for r in f_rows], dtype=np.int64),
         "kind": [r[2] for r in f_rows], "tag": [r[3] for r in f_rows],
         "name": [r[4] for r in f_rows], "tags": [r[5] for r in f_rows]},
        geometry=gpd.GeoSeries(f_geoms, crs="EPSG:4326"), crs="EPSG:4326")
    if area is not None:
        shapely.prepare(area)
        if len(buildings):
            c = shapely.centroid(buildings.geometry.to_numpy())
            buildings = buildings[shapely.contains_xy(area, shapely.get_x(c), shapely.get_y(c))]
        if len(facilities):
            g = facilities.geometry.to_numpy()
            facilities = facilities[shapely.contains_xy(area, shapely.get_x(g),
                                                        shapely.get_y(g))]
    dropped.sort(key=lambda d: (d["osm_type"], d["osm_id"]))
    return Features(buildings=buildings.reset_index(drop=True), dropped=dropped,
                    folded=folded, facilities=facilities.reset_index(drop=True))
