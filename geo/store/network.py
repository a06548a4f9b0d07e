"""Writing walking networks into the pgRouting-compatible edge table."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from sqlalchemy import text

from geo.store.copy import column_or, copy_rows, ewkb_hex
from geo.store.versions import bump_network_version


def write_network(conn, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, *,
                  dataset: str) -> int:
    """Write a walking network (nodes, edges in EPSG:4326) as ``dataset``.

    Node ids are given fresh database ids (existing ids are never reused), edge
    lengths are measured in metres in the UTM zone of the extent, and both
    directions cost the length (pedestrians ignore one-way streets).
    Returns the number of edges written. The caller owns the transaction.
    """
    conn.execute(text("DELETE FROM network_edges WHERE dataset = :d"), {"d": dataset})
    conn.execute(text("DELETE FROM network_nodes WHERE dataset = :d"), {"d": dataset})
    base = conn.execute(text("SELECT coalesce(max(id), 0) FROM network_nodes")).scalar_one()
    local = np.asarray(nodes["node_id"], dtype=np.int64)
    order = np.argsort(local)
    new_ids = np.empty(len(local), dtype=np.int64)
    new_ids[order] = base + 1 + np.arange(len(local))
    lookup = dict(zip(local.tolist(), new_ids.tolist(), strict=True))
    copy_rows(conn, "network_nodes", ["id", "dataset", "geom"],
              zip(new_ids.tolist(), [dataset] * len(nodes), ewkb_hex(nodes.geometry),
                  strict=True))
    if len(edges) == 0:
        bump_network_version(conn, dataset)
        return 0
    metric = edges.to_crs(edges.estimate_utm_crs())
    length = metric.length.to_numpy()
    src = [lookup[int(s)] for s in edges["source"]]
    tgt = [lookup[int(t)] for t in edges["target"]]
    n = copy_rows(conn, "network_edges", [
        "source", "target", "cost", "reverse_cost", "length_m", "highway", "osm_id", "name",
        "dataset", "geom"],
        zip(src, tgt, length, length, length, column_or(edges, "highway"),
            column_or(edges, "osm_id"), column_or(edges, "name"), [dataset] * len(edges),
            ewkb_hex(edges.geometry), strict=True))
    bump_network_version(conn, dataset)
    return n
