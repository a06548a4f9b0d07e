"""Walking profiles: minutes of walking → a distance budget in metres.

Profiles
--------
``standard``
    GB 50180-2018 (城市居住区规划设计标准) life-circle walking distances:
    5 min → 300 m, 10 min → 500 m, 15 min → 1000 m. Only these minutes are allowed;
    the implied speed (3.6, 3.0, 4.0 km/h) is reported as the profile speed.
``adult``
    5.0 km/h (83.3 m per minute): 10 min → 833.3 m.
``elderly``
    3.6 km/h (60 m per minute): 10 min → 600 m.
``custom``
    A speed given in km/h (``speed_kmh``), 0 < speed ≤ 20.

Minutes must be in (0, 60].
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PROFILES",
    "STANDARD_DISTANCES_M",
    "WalkBudget",
    "budget_m",
    "walking_budget",
]

#: GB 50180-2018 walking distances by minutes.
STANDARD_DISTANCES_M: dict[int, float] = {5: 300.0, 10: 500.0, 15: 1000.0}

#: Fixed walking speeds (km/h) of the speed-based profiles.
SPEEDS_KMH: dict[str, float] = {"adult": 5.0, "elderly": 3.6}

#: Valid profile names.
PROFILES: tuple[str, ...] = ("standard", "adult", "elderly", "custom")

MAX_MINUTES = 60.0
MAX_SPEED_KMH = 20.0


@dataclass(frozen=True, slots=True)
class WalkBudget:
    """A walking budget and where it came from.

    Attributes
    ----------
    profile
        Profile name (one of :data:`PROFILES`).
    minutes
        Walking time, minutes.
    speed_kmh
        Walking speed, km/h (for ``standard``: the speed implied by the GB 50180
        distance).
    metres
        Distance budget, metres.
    """

    profile: str
    minutes: float
    speed_kmh: float
    metres: float


def walking_budget(profile: str, minutes: float, speed_kmh: float | None = None) -> WalkBudget:
    """Walking budget of ``minutes`` for a profile.

    Parameters
    ----------
    profile
        ``standard``, ``adult``, ``elderly`` or ``custom``.
    minutes
        Walking time in minutes, 0 < minutes ≤ 60 (``standard``: 5, 10 or 15).
    speed_kmh
        Walking speed in km/h; required for ``custom`` and rejected for the others.

    Returns
    -------
    WalkBudget
        Profile name, minutes, speed (km/h) and distance (metres).

    Raises
    ------
    ValueError
        Unknown profile (the message lists the valid names), minutes out of range,
        a ``standard`` minute count without a GB 50180 distance, or a bad speed.
    """
    name = str(profile).strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"未知的步行方式（profile）{profile!r}，可选：{', '.join(PROFILES)}"
        )
    try:
        minutes = float(minutes)
    except (TypeError, ValueError):
        raise ValueError(f"步行时间（minutes）应为数字，收到 {minutes!r}") from None
    if not (0.0 < minutes <= MAX_MINUTES):
        raise ValueError(f"步行时间（minutes）应大于 0 且不超过 {MAX_MINUTES:g}，收到 {minutes:g}")
    if name != "custom" and speed_kmh is not None:
        raise ValueError(
            f"只有 'custom' 步行方式（profile）才能指定 speed_kmh，当前为 {name!r}"
        )
    if name == "standard":
        if not minutes.is_integer() or int(minutes) not in STANDARD_DISTANCES_M:
            allowed = ", ".join(str(m) for m in STANDARD_DISTANCES_M)
            raise ValueError(
                f"'standard' 步行方式（profile，GB 50180-2018）只规定了 {allowed} 分钟的距离，"
                f"收到 {minutes:g}"
            )
        metres = STANDARD_DISTANCES_M[int(minutes)]
        return WalkBudget(name, minutes, metres / minutes * 60.0 / 1000.0, metres)
    if name == "custom":
        if speed_kmh is None:
            raise ValueError("'custom' 步行方式（profile）需要指定步速 speed_kmh（km/h）")
        speed = float(speed_kmh)
        if not (0.0 < speed <= MAX_SPEED_KMH):
            raise ValueError(f"步速 speed_kmh 应大于 0 且不超过 {MAX_SPEED_KMH:g}，收到 {speed:g}")
    else:
        speed = SPEEDS_KMH[name]
    return WalkBudget(name, minutes, speed, speed * 1000.0 / 60.0 * minutes)


def budget_m(profile: str, minutes: float, speed_kmh: float | None = None) -> float:
    """Walking distance budget in metres (see :func:`walking_budget`)."""
    return walking_budget(profile, minutes, speed_kmh).metres
