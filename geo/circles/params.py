"""How circles are computed and asked for: parameters, walking budgets, query points."""

from __future__ import annotations

from dataclasses import dataclass

from geo.crs import to_wgs84
from geo.errors import InvalidInput, Problem
from geo.isochrones import DEFAULT_GRID_M
from geo.profiles import WalkBudget, walking_budget

__all__ = ["QUERY_CRS", "CircleParams", "budget_for", "profile_key", "query_point"]

#: Valid coordinate systems of ad-hoc query points.
QUERY_CRS = ("wgs84", "gcj02", "bd09")


@dataclass(frozen=True)
class CircleParams:
    """How circles are computed (recorded with each stored circle)."""

    walk_off_m: float = 25.0
    max_snap_m: float = 300.0
    grid_m: float = DEFAULT_GRID_M

    def tag(self) -> str:
        return f"w{self.walk_off_m:g}:s{self.max_snap_m:g}:g{self.grid_m:g}"


def budget_for(profile: str, minutes: float, speed_kmh: float | None = None) -> WalkBudget:
    """:func:`geo.profiles.walking_budget` with its ``ValueError`` turned into
    :class:`InvalidInput` naming the parameter."""
    if speed_kmh is not None and profile in (None, "", "adult", "elderly", "standard"):
        # an explicit speed means the custom profile
        profile = "custom"
    try:
        return walking_budget(profile, minutes, speed_kmh)
    except ValueError as exc:
        column = "profile" if "profile" in str(exc) else (
            "speed_kmh" if "speed" in str(exc) else "minutes")
        raise InvalidInput(str(exc), [Problem(str(exc), column=column,
                                              value=locals().get(column, None))]) from None


def profile_key(budget: WalkBudget) -> str:
    """The stored ``profile`` value: the profile name, or ``custom:<km/h>``."""
    if budget.profile == "custom":
        return f"custom:{budget.speed_kmh:g}"
    return budget.profile


def query_point(lng: float, lat: float, crs: str) -> tuple[float, float]:
    """WGS-84 longitude/latitude of a query point given in ``crs``; validated."""
    problems = []
    if crs not in QUERY_CRS:
        problems.append(Problem(f"未知的坐标系 {crs!r}", column="crs", value=crs,
                                expected=", ".join(QUERY_CRS)))
    if not (-180 <= lng <= 180):
        problems.append(Problem("经度超出范围", column="lng", value=lng,
                                expected="-180..180"))
    if not (-90 <= lat <= 90):
        problems.append(Problem("纬度超出范围", column="lat", value=lat,
                                expected="-90..90"))
    if problems:
        raise InvalidInput("查询点坐标不正确", problems)
    if crs == "wgs84":
        return float(lng), float(lat)
    x, y = to_wgs84(lng, lat, crs)
    return float(x), float(y)
