"""Service circles in the database and the queries on them.

``params``    :class:`CircleParams`, walking budgets (:func:`budget_for`), query points
``networks``  the walking networks of a database (:class:`Networks`, :class:`NetworkCache`)
``stored``    compute and store circles (:func:`compute_circles`), read them
              (:func:`stored_circle`), ad-hoc circles (:func:`circles_at`)
``query``     nearest points by walking (:func:`nearest_in`) over an app's shared
              :class:`QuerySnapshot`

The network, path search and polygons are :mod:`geo.walk` and :mod:`geo.isochrones`.
"""

from geo.circles.networks import NetworkCache, Networks, load_network
from geo.circles.params import QUERY_CRS, CircleParams, budget_for, profile_key, query_point
from geo.circles.query import (
    NEAREST_TABLE_CELLS,
    PointSet,
    QuerySnapshot,
    load_point_set,
    nearest_in,
    nearest_points,
    network_for_query,
    point_targets,
    require_point,
)
from geo.circles.stored import (
    CircleRun,
    circle_feature,
    circles_at,
    compute_circles,
    feature_in_crs,
    stored_circle,
)

__all__ = [
    "NEAREST_TABLE_CELLS",
    "QUERY_CRS",
    "CircleParams",
    "CircleRun",
    "NetworkCache",
    "Networks",
    "PointSet",
    "QuerySnapshot",
    "budget_for",
    "circle_feature",
    "circles_at",
    "compute_circles",
    "feature_in_crs",
    "load_network",
    "load_point_set",
    "nearest_in",
    "nearest_points",
    "network_for_query",
    "point_targets",
    "profile_key",
    "query_point",
    "require_point",
    "stored_circle",
]
