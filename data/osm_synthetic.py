"""Synthetic OpenStreetMap extracts of any size, written with pyosmium's writer.

A *tile* is a small town: a square grid of residential streets (``streets`` x
``streets`` intersections ``spacing_m`` apart) with ``per_block`` square
buildings (``building=yes``, ``building:levels``) in every block, and one
community centre node. An extract is ``tiles`` tiles in a row from west to east,
``gap_m`` apart; tile 0 is the town a test or benchmark cuts out, the others make
the file larger. Node and way ids are sequential, as in a real extract sorted by
id. Everything is deterministic and flagged synthetic in the file's header
(``generator``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import osmium
from osmium.osm.mutable import Node, Way

__all__ = ["SyntheticExtract", "write_synthetic_extract"]

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class SyntheticExtract:
    """What :func:`write_synthetic_extract` wrote."""

    path: Path
    tiles: int
    nodes: int
    ways: int
    #: the box of tile 0 (W, S, E, N), degrees
    town_bbox: tuple[float, float, float, float]
    #: per tile: street ways, buildings, nodes
    town_streets: int
    town_buildings: int
    town_nodes: int
    bytes: int


def write_synthetic_extract(path: str | os.PathLike[str], *, tiles: int = 1,
                            streets: int = 20, spacing_m: float = 100.0,
                            per_block: int = 4, gap_m: float = 500.0,
                            origin: tuple[float, float] = (113.0, 23.0)) -> SyntheticExtract:
    """Write ``tiles`` synthetic towns to ``path`` (``.osm.pbf``), see the module."""
    path = Path(path)
    lon0, lat0 = origin
    dlat = spacing_m / _M_PER_DEG_LAT
    dlon = spacing_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    side = (streets - 1) * dlon
    gap = gap_m / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    nid = 0
    wid = 0
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    header = osmium.io.Header()
    header.set("generator", "servicemap synthetic extract (not real data)")
    n_nodes = 0
    per_tile_nodes = per_tile_buildings = per_tile_streets = 0
    with osmium.SimpleWriter(str(path), overwrite=True, header=header) as w:
        for t in range(tiles):
            x0 = lon0 + t * (side + gap)
            grid = [[0] * streets for _ in range(streets)]
            start_nodes = n_nodes
            for i in range(streets):
                for j in range(streets):
                    nid += 1
                    grid[i][j] = nid
                    w.add_node(Node(id=nid, location=(x0 + j * dlon, lat0 + i * dlat)))
                    n_nodes += 1
            tile_ways = []
            for i in range(streets):
                wid += 1
                tile_ways.append((wid, grid[i][:], {"highway": "residential",
                                                    "name": f"Row {t}-{i}"}))
                wid += 1
                tile_ways.append((wid, [grid[k][i] for k in range(streets)],
                                  {"highway": "residential", "name": f"Column {t}-{i}"}))
            n_streets = len(tile_ways)
            # buildings: per_block squares of 20 m inside each block
            size_lat, size_lon = 20.0 / _M_PER_DEG_LAT, dlon * 20.0 / spacing_m
            n_build = 0
            for i in range(streets - 1):
                for j in range(streets - 1):
                    for b in range(per_block):
                        bx = x0 + j * dlon + dlon * (0.15 + 0.45 * (b % 2))
                        by = lat0 + i * dlat + dlat * (0.15 + 0.45 * (b // 2 % 2))
                        ring = []
                        for cx, cy in ((0, 0), (1, 0), (1, 1), (0, 1)):
                            nid += 1
                            w.add_node(Node(id=nid, location=(bx + cx * size_lon,
                                                              by + cy * size_lat)))
                            n_nodes += 1
                            ring.append(nid)
                        wid += 1
                        tile_ways.append((wid, [*ring, ring[0]],
                                          {"building": "yes",
                                           "building:levels": str(2 + (i + j + b) % 6)}))
                        n_build += 1
            nid += 1
            w.add_node(Node(id=nid, location=(x0 + dlon * 0.5, lat0 + dlat * 0.5),
                            tags={"amenity": "community_centre", "name": f"Centre {t}"}))
            n_nodes += 1
            ways.extend(tile_ways)
            if t == 0:
                per_tile_nodes = n_nodes - start_nodes
                per_tile_buildings, per_tile_streets = n_build, n_streets
        for way_id, refs, tags in ways:
            w.add_way(Way(id=way_id, nodes=refs, tags=tags))
    margin_lat, margin_lon = dlat * 0.25, dlon * 0.25
    bbox = (lon0 - margin_lon, lat0 - margin_lat, lon0 + side + margin_lon,
            lat0 + (streets - 1) * dlat + margin_lat)
    return SyntheticExtract(path=path, tiles=tiles, nodes=n_nodes, ways=len(ways),
                            town_bbox=bbox, town_streets=per_tile_streets,
                            town_buildings=per_tile_buildings, town_nodes=per_tile_nodes,
                            bytes=path.stat().st_size)
