"""``import_osm``: streets, buildings and facilities of a town from an extract.

The area comes from a region in the database (its boundary; the streets with a
halo around it, so a resident at the border walks to the neighbour's station), a
bounding box, or the whole file (a town-size extract only: a larger file without an
area is refused rather than read whole). With an area, the town is first cut out of
the extract by :func:`geo.io.osm.cut.cut_extract`, streaming, so a province or
country extract never has to fit in memory. Everything is written in one
transaction; nothing is written when reading fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.crs import metric_crs_for
from geo.errors import NetworkImportError, NotFound
from geo.io.osm.cut import check_pbf, cut_extract
from geo.io.osm.features import features_from_pbf
from geo.io.osm.network import network_from_pbf
from geo.store.network import write_network
from geo.store.osm import create_default_region, write_buildings, write_facilities

__all__ = ["WHOLE_FILE_LIMIT_BYTES", "import_osm", "region_area"]

#: A file read whole (no region, no box) may be at most this big: a town or a city
#: district. Larger extracts are cut by ``--region`` or ``--bbox`` first.
WHOLE_FILE_LIMIT_BYTES = 64 * 1024 * 1024


def region_area(conn: Connection, code: str) -> BaseGeometry:
    """The boundary of region ``code`` (or the union of its children's), EPSG:4326."""
    row = conn.execute(text("""
        WITH RECURSIVE tree AS (
            SELECT code, geom FROM regions WHERE code = :c
            UNION ALL SELECT r.code, r.geom FROM regions r JOIN tree t ON r.parent_code = t.code)
        SELECT (SELECT count(*) FROM tree) AS n,
               ST_AsBinary(coalesce((SELECT geom FROM regions WHERE code = :c),
                                    (SELECT ST_Union(geom) FROM tree))) AS wkb"""),
        {"c": code}).one()
    if not row.n:
        raise NotFound(f"未找到编码为 {code!r} 的区划：请先导入村居边界（servicemap import "
                       "regions FILE）或改用 --bbox")
    if row.wkb is None:
        raise NetworkImportError(f"区划 {code} 没有边界，无法从 OSM 文件中裁剪："
                                 "请导入其边界或改用 --bbox")
    return shapely.from_wkb(bytes(row.wkb))


def _grow(area: BaseGeometry, metres: float) -> BaseGeometry:
    if metres <= 0:
        return area
    import geopandas as gpd

    s = gpd.GeoSeries([area], crs="EPSG:4326")
    c = area.centroid
    return s.to_crs(metric_crs_for(c.x, c.y)).buffer(metres).to_crs("EPSG:4326").iloc[0]


def import_osm(engine: Engine, path: str | os.PathLike[str], *,
               bbox: tuple[float, float, float, float] | None = None,
               region: str | None = None, halo_m: float = 1000.0,
               dataset: str | None = None, buildings: bool = True,
               facilities: bool = True, default_region: bool = True,
               log: Callable[[str], None] = print) -> dict:
    """Import the walking network, buildings and facilities of an OSM PBF extract.

    Parameters
    ----------
    engine
        The owner's engine.
    path
        ``.osm.pbf`` extract, of any size when ``region`` or ``bbox`` is given.
    bbox, region
        The area: a box ``(W, S, E, N)`` in WGS-84 degrees, or a region's boundary.
        Buildings and facilities are kept inside it; streets inside it grown by
        ``halo_m``.
    dataset
        Name of the network dataset (default: the file's stem); a previous import
        of the same name is replaced.
    buildings, facilities
        Import them too (default yes).
    default_region
        When the database has no region at all, make a town from the extract
        (:func:`geo.store.osm.create_default_region`) so that the positions and the
        operating area have a home.

    Returns
    -------
    dict
        ``dataset``, ``nodes``, ``edges``, ``buildings`` (inserted/updated/deleted/
        in compounds), ``dropped`` and ``repaired`` (lists with OSM ids and reasons),
        ``folded``, ``facilities`` (count per kind), ``cut`` (or ``None``),
        ``region_created`` (the default town when the database had no region).

    Raises
    ------
    NetworkImportError
        Unreadable file, nothing in the area, a large file without an area.
    """
    t0 = time.perf_counter()
    path = check_pbf(path)
    name = dataset or path.name.split(".")[0]
    town_area: BaseGeometry | None = None
    if region is not None:
        with engine.connect() as conn:
            town_area = region_area(conn, region)
    elif bbox is not None:
        town_area = shapely.box(*bbox)
    elif path.stat().st_size > WHOLE_FILE_LIMIT_BYTES:
        raise NetworkImportError(
            f"{str(path)!r} 有 {path.stat().st_size / 1e6:.0f} MB，不能整体读入：请用 --region "
            "（已导入边界的镇街代码）或 --bbox W,S,E,N 指定要裁剪的范围")
    cut = None
    read = path
    try:
        if town_area is not None:
            cut = cut_extract(path, _grow(town_area, halo_m), log=log)
            read = cut.path
        nodes, edges = network_from_pbf(read)
        feats = features_from_pbf(read, area=town_area) if (buildings or facilities) else None
    except NetworkImportError as exc:
        # name the file the user gave, not the temporary cut
        if cut is not None:
            raise NetworkImportError(str(exc).replace(str(cut.path), str(path))) from exc
        raise
    finally:
        if cut is not None:
            Path(cut.path).unlink(missing_ok=True)

    report: dict = {"dataset": name, "nodes": len(nodes), "edges": 0, "buildings": None,
                    "dropped": [], "repaired": [], "folded": [], "facilities": {},
                    "cut": cut.as_dict() if cut else None, "region_created": None}
    with engine.begin() as conn:
        report["edges"] = write_network(conn, nodes, edges, dataset=name)
        if feats is not None and buildings:
            report["buildings"] = write_buildings(conn, feats.buildings, area=town_area)
            report["dropped"] = feats.dropped
            report["repaired"] = feats.repaired
            report["folded"] = feats.folded
        if feats is not None and facilities:
            write_facilities(conn, feats.facilities, dataset=name)
            report["facilities"] = {str(k): int(v) for k, v in
                                    feats.facilities["kind"].value_counts().sort_index().items()}
        if default_region:
            hull = shapely.convex_hull(shapely.multipoints(nodes.geometry.to_numpy()))
            report["region_created"] = create_default_region(conn, name, _grow(hull, 50.0))
    dt = time.perf_counter() - t0
    log(f"imported walking network '{name}' from {path.name}: {len(nodes)} nodes, "
        f"{report['edges']} edges ({dt:.1f} s)")
    if report["buildings"] is not None:
        b = report["buildings"]
        log(f"buildings: {b['inserted']} new, {b['updated']} already there, "
            f"{b['deleted']} gone from the extract (marked deleted), "
            f"{b['in_compounds']} placed in compounds; "
            f"{len(report['repaired'])} footprints repaired, {len(report['dropped'])} dropped, "
            f"{len(report['folded'])} ways folded into their multipolygon")
        for d in report["dropped"][:20]:
            log(f"  dropped building {d['osm_type']}{d['osm_id']}: {d['reason']}")
        if len(report["dropped"]) > 20:
            log(f"  … {len(report['dropped']) - 20} more dropped (see the JSON report)")
        for d in report["repaired"][:20]:
            log(f"  repaired building {d['osm_type']}{d['osm_id']}: {d['reason']}")
    if facilities and feats is not None:
        shown = ", ".join(f"{k} {v}" for k, v in report["facilities"].items()) or "none"
        log(f"facilities: {shown}")
    if report["region_created"]:
        r = report["region_created"]
        log(f"no region was loaded: made town {r['code']} '{r['name']}' from the extract "
            "(the convex hull of its streets grown by 50 m); the operating area follows it")
    return report
