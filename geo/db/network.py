"""Writing walking networks into the pgRouting-compatible edge table."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.db.bulk import column_or, copy_rows, ewkb_hex
from geo.db.meta import bump_network_version


def write_network(conn, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, *,
                  dataset: str) -> int:
    """Write a walking network (nodes, edges in EPSG:4326) as ``dataset``.

    Node ids are given fresh database ids (existing ids are never reused), edge
    lengths are measured in metres in the UTM zone of the extent, and both
    directions cost the length (pedestrians ignore one-way streets).
    Returns the number of edges written. The caller owns the transaction.
    """
    raw = conn.connection.driver_connection
    conn.execute(text("DELETE FROM network_edges WHERE dataset = :d"), {"d": dataset})
    conn.execute(text("DELETE FROM network_nodes WHERE dataset = :d"), {"d": dataset})
    base = conn.execute(text("SELECT coalesce(max(id), 0) FROM network_nodes")).scalar_one()
    local = np.asarray(nodes["node_id"], dtype=np.int64)
    order = np.argsort(local)
    new_ids = np.empty(len(local), dtype=np.int64)
    new_ids[order] = base + 1 + np.arange(len(local))
    lookup = dict(zip(local.tolist(), new_ids.tolist(), strict=True))
    copy_rows(raw, "network_nodes", ["id", "dataset", "geom"],
              zip(new_ids.tolist(), [dataset] * len(nodes), ewkb_hex(nodes.geometry),
                  strict=True))
    if len(edges) == 0:
        bump_network_version(conn, dataset)
        return 0
    metric = edges.to_crs(edges.estimate_utm_crs())
    length = metric.length.to_numpy()
    src = [lookup[int(s)] for s in edges["source"]]
    tgt = [lookup[int(t)] for t in edges["target"]]
    n = copy_rows(raw, "network_edges", [
        "source", "target", "cost", "reverse_cost", "length_m", "highway", "osm_id", "dataset",
        "geom"],
        zip(src, tgt, length, length, length, column_or(edges, "highway"),
            column_or(edges, "osm_id"), [dataset] * len(edges), ewkb_hex(edges.geometry),
            strict=True))
    bump_network_version(conn, dataset)
    return n


def import_osm(engine: Engine, path: str | Path, *, bbox=None, dataset: str | None = None,
               log: Callable[[str], None] = print) -> dict:
    """Import the walkable network of an OSM PBF extract as ``dataset`` (default:
    the file's stem), replacing a previous import of the same name in one
    transaction. Nothing is written when reading fails."""
    from geo.io.osm import network_from_pbf

    t0 = time.perf_counter()
    path = Path(path)
    nodes, edges = network_from_pbf(path, bbox=bbox)
    name = dataset or path.name.split(".")[0]
    with engine.begin() as conn:
        n = write_network(conn, nodes, edges, dataset=name)
    dt = time.perf_counter() - t0
    log(f"imported walking network '{name}' from {path.name}: {len(nodes)} nodes, {n} edges "
        f"({dt:.1f} s)")
    return {"dataset": name, "nodes": len(nodes), "edges": n}
