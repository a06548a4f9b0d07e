"""Walking service circles (10分钟党群服务圈) on a street network.

``polygons``  :class:`Circle`, :func:`circles_for_sources` (the production
              method), :func:`circle_polygon`, :func:`exact_polygon` (the
              reference), :func:`straight_line_circle` (the fallback),
              :func:`warm_up`
``_kernels``  their numba kernels

The path search they are built on is :mod:`geo.walk` (re-exported here:
:func:`reach`, :class:`Reach`, :func:`nearest_by_walk`, ...).
"""

from geo.isochrones.polygons import (
    DEFAULT_GRID_M,
    DEFAULT_WALK_OFF_M,
    Circle,
    circle_polygon,
    circles_for_sources,
    exact_polygon,
    straight_line_circle,
    to_wgs84,
    warm_up,
)
from geo.walk import Reach, Targets, nearest_by_walk, prepare_targets, reach, reach_many

__all__ = [
    "DEFAULT_GRID_M",
    "DEFAULT_WALK_OFF_M",
    "Circle",
    "Reach",
    "Targets",
    "circle_polygon",
    "circles_for_sources",
    "exact_polygon",
    "nearest_by_walk",
    "prepare_targets",
    "reach",
    "reach_many",
    "straight_line_circle",
    "to_wgs84",
    "warm_up",
]
