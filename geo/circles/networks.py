"""The walking networks of a database: one :class:`geo.walk.Network` per dataset
(a town's sample, an OSM import), loaded from PostGIS and cached per data version."""

from __future__ import annotations

import math
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.cache import VersionedCache
from geo.store.versions import NETWORK_TABLES, DataVersions, dataset_versions, table_versions
from geo.walk.network import Network

__all__ = ["NetworkCache", "Networks", "load_network"]


def load_network(conn: Connection, dataset: str,
                 bbox: tuple[float, float, float, float] | None = None) -> Network | None:
    """The walking network ``dataset`` as a :class:`Network` in the UTM zone of
    its extent (None when it has no edges).

    ``bbox`` (WGS-84 west, south, east, north): only the edges touching it
    (a town and its halo, :mod:`geo.batch`), in the UTM zone of the whole
    dataset, so a circle walked on the part is the circle walked on the whole
    wherever the walk stays inside the box.
    """
    crs = None
    if bbox is None:
        where, args = "dataset = :d", {"d": dataset}
    else:
        where = "dataset = :d AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
        args = {"d": dataset, "x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3]}
        ext = conn.execute(text(
            "SELECT ST_XMin(e) AS x0, ST_YMin(e) AS y0, ST_XMax(e) AS x1, ST_YMax(e) AS y1 "
            "FROM (SELECT ST_Extent(geom) AS e FROM network_edges WHERE dataset = :d) s"),
            {"d": dataset}).first()
        if ext is None or ext.x0 is None:
            return None
        crs = gpd.GeoSeries([shapely.box(ext.x0, ext.y0, ext.x1, ext.y1)],
                            crs=4326).estimate_utm_crs()
    edges = conn.execute(text(
        "SELECT id, source, target, highway, ST_AsBinary(geom) AS wkb FROM network_edges "
        f"WHERE {where} ORDER BY id"), args).all()
    if not edges:
        return None
    if bbox is None:
        nodes = conn.execute(text(
            "SELECT id, ST_AsBinary(geom) AS wkb FROM network_nodes WHERE dataset = :d "
            "ORDER BY id"), {"d": dataset}).all()
    else:
        ids = sorted({r.source for r in edges} | {r.target for r in edges})
        nodes = conn.execute(text(
            "SELECT id, ST_AsBinary(geom) AS wkb FROM network_nodes WHERE dataset = :d "
            "AND id = ANY(:ids) ORDER BY id"), {"d": dataset, "ids": ids}).all()
    node_frame = gpd.GeoDataFrame(
        {"node_id": np.fromiter((r.id for r in nodes), dtype=np.int64, count=len(nodes))},
        geometry=shapely.from_wkb([bytes(r.wkb) for r in nodes]), crs=4326)
    edge_frame = gpd.GeoDataFrame(
        {"edge_id": [r.id for r in edges], "source": [r.source for r in edges],
         "target": [r.target for r in edges], "highway": [r.highway for r in edges]},
        geometry=shapely.from_wkb([bytes(r.wkb) for r in edges]), crs=4326)
    network = Network.from_frames(node_frame, edge_frame, crs=crs)
    # database id of each kept edge (pgRouting's edge ids)
    network.cache["edge_ids"] = edge_frame["edge_id"].to_numpy()[network.edge_rows]
    return network


class Networks:
    """The walking networks of a database, one per dataset (a town's sample, an
    OSM import), each in its own UTM zone. A location uses the network whose
    extent, grown by the snapping distance, holds it."""

    def __init__(self, networks: dict[str, Network],
                 versions: dict[str, str] | None = None) -> None:
        self.by_dataset = networks
        self.versions = versions or {}
        self._bounds = {}
        #: metric extent (x min, x max, y min, y max) of each network
        self._extents = {name: (float(n.x.min()), float(n.x.max()), float(n.y.min()),
                                float(n.y.max())) for name, n in networks.items()}
        for name, n in networks.items():
            lng, lat = n.unproject(np.array([n.x.min(), n.x.max()]),
                                   np.array([n.y.min(), n.y.max()]))
            self._bounds[name] = (float(lng[0]), float(lat[0]), float(lng[1]), float(lat[1]))

    @classmethod
    def load(cls, conn: Connection) -> Networks:
        names = conn.execute(text(
            "SELECT DISTINCT dataset FROM network_edges ORDER BY dataset")).scalars().all()
        loaded = {n: load_network(conn, n) for n in names}
        return cls({k: v for k, v in loaded.items() if v is not None},
                   dataset_versions(conn))

    def __bool__(self) -> bool:
        return bool(self.by_dataset)

    def for_location(self, lng: float, lat: float, max_snap_m: float) -> Network | None:
        """The network covering a WGS-84 location (within ``max_snap_m`` of its
        extent), or None."""
        # the scalar twin of datasets_for (a request's location: no arrays)
        best, best_d = None, math.inf
        for name, (w, s, e, n) in self._bounds.items():
            if not (w - 0.05 <= lng <= e + 0.05 and s - 0.05 <= lat <= n + 0.05):
                continue
            network = self.by_dataset[name]
            x0, x1, y0, y1 = self._extents[name]
            x, y = network.project(lng, lat)
            d = math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1))
            if d <= max_snap_m and d < best_d:
                best, best_d = network, d
        return best

    def datasets_for(self, lng: Sequence[float], lat: Sequence[float],
                     max_snap_m: float) -> list[str | None]:
        """Name of the network dataset covering each WGS-84 location (the nearest
        extent within ``max_snap_m`` metres), or None."""
        lng = np.atleast_1d(np.asarray(lng, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        best = np.full(len(lng), -1)
        best_d = np.full(len(lng), np.inf)
        names = list(self._bounds)
        for k, name in enumerate(names):
            w, s, e, n = self._bounds[name]
            near = (lng >= w - 0.05) & (lng <= e + 0.05) & (lat >= s - 0.05) & (lat <= n + 0.05)
            if not near.any():
                continue
            network = self.by_dataset[name]
            x, y = network.project(lng[near], lat[near])
            x0, x1, y0, y1 = self._extents[name]
            dx = np.maximum.reduce([x0 - np.asarray(x), np.zeros_like(x), np.asarray(x) - x1])
            dy = np.maximum.reduce([y0 - np.asarray(y), np.zeros_like(y), np.asarray(y) - y1])
            d = np.full(len(lng), np.inf)
            d[near] = np.hypot(dx, dy)
            better = (d <= max_snap_m) & (d < best_d)
            best[better] = k
            best_d[better] = d[better]
        return [names[b] if b >= 0 else None for b in best]

    def input_tag(self, dataset: str | None) -> str:
        """The network part of a circle's ``input_version``."""
        if dataset is None:
            return "n-"
        return f"n{dataset}@{self.versions.get(dataset, '?')}"


class NetworkCache:
    """The networks of a database, reloaded only when the network tables' data
    version changes (one load at a time: threads asking together share it).

    Parameters
    ----------
    versions
        The data versions to follow (an app's, shared with its other caches);
        without them the versions are read at every :meth:`get`.
    """

    def __init__(self, versions: DataVersions | None = None) -> None:
        self.versions = versions
        self._cache: VersionedCache[Networks] = VersionedCache(1)

    def version(self, conn: Connection) -> str:
        if self.versions is not None:
            return self.versions.get_tag(NETWORK_TABLES, conn)
        return DataVersions.tag(table_versions(conn), NETWORK_TABLES)

    def get(self, conn: Connection) -> Networks:
        return self._cache.get_or_build("networks", self.version(conn),
                                        lambda: Networks.load(conn))
