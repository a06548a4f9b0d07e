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
            f"unknown walking profile {profile!r}; valid profiles: {', '.join(PROFILES)}"
        )
    try:
        minutes = float(minutes)
    except (TypeError, ValueError):
        raise ValueError(f"minutes must be a number, got {minutes!r}") from None
    if not (0.0 < minutes <= MAX_MINUTES):
        raise ValueError(f"minutes must be > 0 and ≤ {MAX_MINUTES:g}, got {minutes:g}")
    if name != "custom" and speed_kmh is not None:
        raise ValueError(
            f"speed_kmh is only accepted with the 'custom' profile, not {name!r}"
        )
    if name == "standard":
        if not minutes.is_integer() or int(minutes) not in STANDARD_DISTANCES_M:
            allowed = ", ".join(str(m) for m in STANDARD_DISTANCES_M)
            raise ValueError(
                f"the 'standard' (GB 50180-2018) profile defines distances only for "
                f"{allowed} minutes, got {minutes:g}"
            )
        metres = STANDARD_DISTANCES_M[int(minutes)]
        return WalkBudget(name, minutes, metres / minutes * 60.0 / 1000.0, metres)
    if name == "custom":
        if speed_kmh is None:
            raise ValueError("the 'custom' profile needs speed_kmh (km/h)")
        speed = float(speed_kmh)
        if not (0.0 < speed <= MAX_SPEED_KMH):
            raise ValueError(f"speed_kmh must be > 0 and ≤ {MAX_SPEED_KMH:g}, got {speed:g}")
    else:
        speed = SPEEDS_KMH[name]
    return WalkBudget(name, minutes, speed, speed * 1000.0 / 60.0 * minutes)


def budget_m(profile: str, minutes: float, speed_kmh: float | None = None) -> float:
    """Walking distance budget in metres (see :func:`walking_budget`)."""
    return walking_budget(profile, minutes, speed_kmh).metres
