"""Hand-worked networks and seeded Helsinki starts shared by the walking-engine tests.

The small network::

      D (0,100)
      |
      A (0,0) ---- B (100,0) -------- C (300,0)        E (1000,1000) --- F (1100,1000)
                                                       G (2000,2000): a node without edges

UTM 50N (southern China): frames built in it stay in it.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from geo.walk.network import Network

# A local metric CRS (UTM 50N, southern China); frames built in it stay in it.
UTM50 = "EPSG:32650"


#   D (0,100)
#   |
#   A (0,0) ---- B (100,0) -------- C (300,0)        E (1000,1000) --- F (1100,1000)
#                                                    G (2000,2000): a node without edges
POINTS = {1: (0, 0), 2: (100, 0), 3: (300, 0), 4: (0, 100), 5: (1000, 1000),
          6: (1100, 1000), 7: (2000, 2000)}


EDGES = [(1, 2), (2, 3), (1, 4), (5, 6)]


def small_frames(points=POINTS, edges=EDGES, crs=UTM50):
    nodes = gpd.GeoDataFrame({"node_id": list(points)},
                             geometry=[Point(p) for p in points.values()], crs=crs)
    lines = gpd.GeoDataFrame(
        {"source": [a for a, _ in edges], "target": [b for _, b in edges],
         "highway": "footway", "osm_id": np.arange(len(edges))},
        geometry=[LineString([points[a], points[b]]) for a, b in edges], crs=crs)
    return nodes, lines


def sym_diff_ratio(a, b) -> float:
    return shapely.symmetric_difference(a, b).area / b.area


def helsinki_sources(net: Network, n: int, seed: int):
    """Seeded points 0-20 m off random streets of the largest component."""
    rng = np.random.default_rng(seed)
    in_lcc = np.isin(net.src, net.largest_component())
    edges = rng.choice(np.flatnonzero(in_lcc), size=n, replace=False)
    pts = shapely.line_interpolate_point(net.edge_geoms[edges], rng.uniform(0.1, 0.9, n),
                                         normalized=True)
    xy = shapely.get_coordinates(pts) + rng.uniform(-14, 14, (n, 2))
    return net.snap_many(xy[:, 0], xy[:, 1])
