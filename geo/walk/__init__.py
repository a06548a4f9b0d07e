"""The walking engine: the network, path search and nearest by walk.

``network``   :class:`Network` (a walkable street network in a metric CRS, CSR
              adjacency, edge snapping) and :class:`Snap`
``reach``     budget-limited path search: :func:`reach`, :func:`reach_many`,
              :func:`node_distances` (multi-source Dijkstra)
``nearest``   :func:`nearest_by_walk` over :func:`prepare_targets`

The polygons of service circles built on it are :mod:`geo.isochrones`; circles
stored in PostGIS and the queries of the API are :mod:`geo.circles`.
"""

from geo.walk.nearest import Targets, nearest_by_walk, prepare_targets
from geo.walk.network import Network, Snap
from geo.walk.reach import Reach, node_distances, reach, reach_many

__all__ = ["Network", "Reach", "Snap", "Targets", "nearest_by_walk", "node_distances",
           "prepare_targets", "reach", "reach_many"]
