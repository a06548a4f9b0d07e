"""Transitional: the vocabulary moved to :mod:`geo.vocab` (this module goes once
every caller imports from there)."""

from geo.vocab import (  # noqa: F401
    INPUT_CRS,
    POINT_KIND_ZH,
    SERVICE_ZH,
    CircleMethod,
    GridKind,
    PointKind,
    RegionLevel,
    Service,
)
